"""Breaker session 19, the app: the Paint page of a renderer run (real window under Xvfb, then these offscreen
tests).

Found and fixed:
- Save layout… over the run's training mask wrote it (the engine now refuses the run's files and training data);
  the refusal stayed on the page after a later save had succeeded: a save now clears it.
- a renderer run whose checkpoints are all damaged opened without a word: the Paint tab was greyed out and the
  reason sat on that disabled page, under a status line that went on saying "Loading the renderer…". The window
  now says it in a warning, and the page's status line no longer says it is loading.
- "The training mask cannot be used: …any more.." ended in two full stops.
- a gallery renamed on disk while shown: Export said "not a gallery (no manifest.json)" (the engine now says the
  folder is not there, renamed or deleted?), and that sentence stayed on the page under the gallery shown next,
  which had loaded fine: showing a gallery now clears it.
- a renderer trained on in the app kept being painted with at the checkpoint the Paint page had first loaded; the
  page now loads the run's newest checkpoint once the training has ended (or the run is opened again), keeping the
  layout being drawn, its undo history and its noises.
- `osmis gui RUN/galleries/G` (File ▸ Open, or a gallery dropped on the window) opened the gallery as training data
  ("the folder holds no images"); a folder or checkpoint inside a run (runfolder.enclosing_run) now opens that run,
  a gallery shown.
- Gallery ▸ Edit layout of a pair whose mask file is gone stayed on the Gallery page, silent (the reason sat on the
  Paint page); the Paint page is now shown, with it.
- Add to gallery of a blank canvas said "the layout: the layout holds a single class (0); …"; now "the layout: a single
  class (0) is drawn; draw at least two classes."
- data that cannot be read (a path that does not exist): the Data page went on saying "Mask: looking for one next
  to the data…".

Tried and right (real window, Xvfb, screenshots looked at): undo past the start; brush radius 1 and 128; strokes
beyond the canvas; 311 random Paint actions (tools, undo/redo, variants, locks, modes, re-rolls, blank/training
starts) without an exception; a damaged run.json (warning), deleted checkpoints, garbage in stats.jsonl, a renderer
whose training data moved (blank canvas, reason said); Render these masks with an OSMIS run, a missing folder or a
gallery: one sentence each; closing the window mid-training asks, checkpoints, and `osmis gui RUN` reopens it; a
gallery with pictures deleted: a sentence per pair, Export and Render name the file; Save layout under a file or
onto a folder, Add to gallery named "." or "..": refused in a sentence.
"""

from __future__ import annotations

import shutil

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_saving_over_the_training_mask_is_refused_and_a_later_save_clears_it(paint, renderer_run, tmp_path):
    mask = renderer_run.parent / "data" / "scene_mask.png"
    before = mask.read_bytes()
    assert not paint.save_layout(str(mask))
    assert mask.read_bytes() == before
    assert "is among the run's training data" in paint.error_label.text()
    assert paint.save_layout(str(tmp_path / "mine.png"))
    assert paint.error_label.text() == ""


def test_a_renderer_that_cannot_be_loaded_is_said_in_the_window(window, qtbot, renderer_run, tmp_path):
    run = shutil.copytree(renderer_run, tmp_path / "damaged")
    for ckpt in (run / "checkpoints").glob("*.pt"):
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    window.open_path(str(run))
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LONG)
    kind, title, text = window.last_message
    assert kind == "warning" and "renderer cannot be loaded" in title
    assert "damaged checkpoint" in text
    assert not window.tabs.isTabEnabled(window.tabs.indexOf(window.paint))
    assert "Loading" not in window.paint.status_label.text()


def test_a_missing_training_mask_is_said_with_one_full_stop(paint, renderer_run, qtbot, tmp_path):
    run = shutil.copytree(renderer_run, tmp_path / "run")
    data = shutil.copytree(renderer_run.parent / "data", tmp_path / "data")
    text = (run / "run.json").read_text().replace(str(renderer_run.parent / "data"), str(data))
    (run / "run.json").write_text(text)
    (data / "scene_mask.png").unlink()
    with qtbot.waitSignal(paint.available_changed, timeout=LONG):
        paint.set_run(str(run), True, "cpu")
    message = paint.error_label.text()
    assert "is not there any more." in message and not message.endswith("..")


def test_a_renamed_gallery_is_said_so_and_the_next_gallery_shown_clears_it(window, qtbot, trained_run):
    """A gallery renamed on disk while shown: its export names the folder as gone; showing it under its new name
    clears that sentence (it stayed under the new gallery's pictures)."""
    page = window.gallery
    window.open_path(str(trained_run))
    old = trained_run / "galleries" / "g1"
    qtbot.waitUntil(lambda: page.gallery_dir == str(old) and not page.loading, timeout=LONG)
    new = old.rename(old.parent / "renamed ü")
    page.list.selectAll()
    page.export_to(str(trained_run.parent / "export"))
    qtbot.waitUntil(lambda: not page.exporting and page.last_error is not None, timeout=LONG)
    assert "the gallery folder is not there (renamed or deleted?)" in page.last_error
    assert not (trained_run.parent / "export").exists()
    page.refresh_galleries(str(new))
    qtbot.waitUntil(lambda: page.gallery_dir == str(new) and not page.loading, timeout=LONG)
    assert page.manifest is not None and page.error_label.text() == ""


def test_the_paint_page_takes_the_newest_checkpoint_and_keeps_the_layout(qtbot, renderer_run, tmp_path):
    """A renderer trained on in the app (or opened again after a terminal trained it on) kept painting with the
    checkpoint the page had first loaded (a run trained to 12 iterations in the app: iteration 2, so Add to gallery
    wrote renders of iteration 2). The page now loads the newest checkpoint it is told of, keeping the layout."""
    import numpy as np
    from paint_helpers import stroke, wait_render
    from PySide6.QtCore import QSettings

    from osmis_core.application.session import resume_training
    from osmis_gui import tasks
    from osmis_gui.paint_page import PaintPage

    run = shutil.copytree(renderer_run, tmp_path / "run")
    page = PaintPage(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    with qtbot.waitSignal(page.available_changed, timeout=LONG):
        page.set_run(str(run), True, "cpu", 2)
    wait_render(qtbot, page)
    page.canvas.set_view(4, (10, 10))
    page.set_class(1)
    stroke(qtbot, page, [(2, 2), (12, 2)])
    wait_render(qtbot, page)
    painted = page.layout_model.ids.copy()
    list(resume_training(run, {"iters": 4}).run())
    page.set_run(str(run), True, "cpu", 4)
    qtbot.waitUntil(lambda: page.renderer is not None and page.renderer.step == 4, timeout=LONG)
    wait_render(qtbot, page)
    assert np.array_equal(page.layout_model.ids, painted) and page.layout_model.can_undo()
    assert "iteration 4" in page.status_label.text()
    assert tasks.wait_for_all(60_000)


def test_a_gallery_folder_opened_opens_its_run_with_that_gallery(window, qtbot, trained_run):
    """`osmis gui RUN/galleries/G` (or File ▸ Open of a gallery, or a gallery dropped on the window) opened the
    gallery as training data: "the folder holds no images". It now opens the run the gallery is in, showing that
    gallery; a checkpoints folder opens its run too."""
    from osmis_core.application.gallery import generate_gallery

    second = trained_run / "galleries" / "g2"
    generate_gallery(trained_run, second, n=2, seed=2, device="cpu")
    window.open_path(str(trained_run / "galleries" / "g1"))
    page = window.gallery
    qtbot.waitUntil(lambda: page.run_dir == str(trained_run) and page.manifest is not None, timeout=LONG)
    qtbot.waitUntil(
        lambda: page.gallery_dir == str(trained_run / "galleries" / "g1") and not page.loading, timeout=LONG
    )
    assert window.tabs.currentWidget() is page
    assert window.state.data is None or not window.data.data_error
    assert page.gallery_combo.currentText() == "g1"
    window.open_path(str(trained_run / "checkpoints"))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Opened run {trained_run}", timeout=LONG)


def test_edit_layout_of_a_missing_mask_says_so_where_the_user_looks(window, qtbot, renderer_run, tmp_path):
    """Gallery ▸ Edit layout of a pair whose mask file is gone put the reason on the Paint page and stayed on the
    Gallery page, which said nothing. The Paint page is now shown with the sentence naming the file."""
    from osmis_core.application.render import NoiseRecipe, add_to_gallery, load_renderer, training_layout

    run = shutil.copytree(renderer_run, tmp_path / "run")
    folder = run / "galleries" / "paint"
    add_to_gallery(load_renderer(run), training_layout(run), [NoiseRecipe(1, "global", ())], folder)
    page, g = window.paint, window.gallery
    with qtbot.waitSignal(page.available_changed, timeout=LONG):
        window.open_run(run)
    qtbot.waitUntil(lambda: g.gallery_dir == str(folder) and g.manifest is not None and not g.loading, timeout=LONG)
    qtbot.waitUntil(page.is_idle, timeout=LONG)
    (folder / "masks" / "0000.png").unlink()
    window.tabs.setCurrentWidget(g)
    g.list.setCurrentRow(0)
    g.edit_layout_action.trigger()
    assert window.tabs.currentWidget() is page
    assert f"{folder / 'masks' / '0000.png'}: layout file not found." in page.error_label.text()


def test_adding_a_blank_canvas_says_why_in_one_plain_sentence(paint, qtbot):
    """Add to gallery of a blank canvas said "Not added to the gallery: the layout: the layout holds a single class
    (0); …"; the engine's sentence no longer repeats its subject."""
    paint.start_blank()
    qtbot.waitUntil(paint.is_idle, timeout=LONG)
    paint.gallery_edit.setText("blank")
    paint.add_to_gallery()
    qtbot.waitUntil(lambda: not paint.adding, timeout=LONG)
    assert paint.error_label.text() == (
        "Not added to the gallery: the layout: a single class (0) is drawn; draw at least two classes."
    )


def test_data_that_cannot_be_read_no_longer_looks_for_its_mask(window, qtbot, tmp_path):
    """`osmis gui /no/such/path`: the Data page said the path does not exist, and beside it "Mask: looking for one
    next to the data…" for ever."""
    from app_steps import load

    load(window, qtbot, tmp_path / "nothing here")
    assert window.data.data_error
    assert window.data.info.mask_label.text() == "–"
