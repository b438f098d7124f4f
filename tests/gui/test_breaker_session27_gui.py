"""Findings of breaker session 27: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFocusEvent, QGuiApplication

pytestmark = pytest.mark.gui


def _paste(box, text: str) -> None:
    """Paste `text` over the whole of a spin box's or line edit's text, as Ctrl+A, Ctrl+V do."""
    QGuiApplication.clipboard().setText(text)
    edit = box.lineEdit() if hasattr(box, "lineEdit") else box
    edit.selectAll()
    edit.paste()


def test_a_corrupt_settings_file_opens_the_window_with_the_defaults(qtbot, tmp_path):
    """Values remembered between starts that are not numbers (a settings file edited by hand or cut short), NaN or
    past a spin box's int: the window opens with the defaults or the nearest value the box takes (every start had
    ended in a ValueError, OverflowError or TypeError traceback before any window showed)."""
    from PySide6.QtCore import QSettings

    from osmis_core.config import MAX_SAMPLES, MAX_SEED
    from osmis_gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    for key, value in {
        "gallery/seed": "abc",
        "gallery/n": "99999999999",
        "gallery/opacity": "nan",
        "data/opacity": "x",
        "paint/brush": "1e3",
        "paint/variants": "",
        "window/tab": "x",
        "window/geometry": "x",
        "window/state": "x",
        "splitters/gallery": "x",
        "training/runs_root": str(tmp_path / "runs"),
    }.items():
        settings.setValue(key, value)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    g, p = win.gallery, win.paint
    assert (g.seed_spin.value(), g.n_spin.value(), g.pair_view.opacity.value()) == (0, MAX_SAMPLES, 0.5)
    assert (p.size_spin.value(), p.k_spin.value(), win.tabs.currentIndex()) == (4, 4, 0)
    settings.setValue("gallery/seed", str(10**30))  # a seed past the largest becomes the largest
    again = MainWindow(settings)
    qtbot.addWidget(again)
    assert again.gallery.seed_spin.value() == MAX_SEED


def test_a_pasted_seed_of_thousands_of_digits_becomes_the_largest_seed(window, qtbot):
    """More digits than Python's int() reads (4300) pasted into the seed box: it had stayed shown while value(),
    the seed a gallery is made with, kept the old seed, and Enter printed a ValueError traceback."""
    from osmis_core.config import MAX_SEED

    box = window.gallery.seed_spin
    box.setValue(5)
    _paste(box, "9" * 5000)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == MAX_SEED and box.lineEdit().text() == str(MAX_SEED)
    _paste(box, "0" * 5000 + "12")  # leading zeros are no digits too many
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == 12 and box.lineEdit().text() == "12"


def test_spaces_around_a_pasted_seed_are_dropped(window, qtbot):
    """A seed copied with the spaces or line end around it (from a terminal, a manifest) is the seed; the paste was
    refused and the box silently kept its old seed. Anything else than digits is still refused."""
    box = window.gallery.seed_spin
    box.setValue(5)
    _paste(box, "  42\n")
    assert box.value() == 42 and box.lineEdit().text() == "42"
    for text in ("-7", "1e5", "１２３", "4 2"):
        _paste(box, text)
        assert box.value() == 42 and box.lineEdit().text() == "42", text


def test_an_emptied_seed_box_shows_its_seed_again_when_left(window, qtbot):
    """Emptied and left (clicking Generate, another field): the box shows the seed the gallery will be made with,
    as a QSpinBox does; it had stayed blank."""
    box = window.gallery.seed_spin
    box.setValue(77)
    _paste(box, "   ")
    assert box.lineEdit().text() == "" and box.value() == 77
    QGuiApplication.sendEvent(box, QFocusEvent(QEvent.Type.FocusOut, Qt.FocusReason.MouseFocusReason))
    assert box.lineEdit().text() == "77" and box.value() == 77


def test_the_settings_seed_of_thousands_of_digits_is_refused_with_its_label(window):
    """More digits than Python's int() reads, pasted into the Settings page's Seed: one sentence naming the field
    and its largest value (it showed Python's "Exceeds the limit (4300 digits) for integer string conversion ...
    use sys.set_int_max_str_digits()"); the engine's reading of a typed number (config.read_number) says it."""
    from osmis_core.config import MAX_SEED

    page = window.settings_page
    _paste(page.editors["seed"].widget, "9" * 5000)
    text = page.error_text()
    assert page.config() is None and text == f"Seed must be at most {MAX_SEED}, got '{'9' * 24}…'.", text


def _paint_ready(window, qtbot, run):
    from app_steps import LONG

    page = window.paint
    with qtbot.waitSignal(page.available_changed, timeout=LONG):
        window.open_run(run)
    window.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.is_idle() and 0 in page.render_images, timeout=LONG)
    return page


def test_saving_a_layout_under_a_name_too_long_says_so(window, qtbot, renderer_run, tmp_path):
    """Save layout… with a file name past the file system's 255 bytes: one sentence under the canvas, nothing
    written (the run's-own-files check raised OSError out of the Save slot: a traceback, and no word on screen)."""
    page = _paint_ready(window, qtbot, renderer_run)
    folder = tmp_path / "layouts"
    folder.mkdir()
    assert not page.save_layout(str(folder / ("x" * 300 + ".png")))
    text = page.error_label.text()
    assert text.startswith("The layout was not saved: ") and text.endswith("cannot be written (File name too long)."), (
        text
    )
    assert list(folder.iterdir()) == []


def test_a_gallery_name_with_a_pasted_nul_is_refused_in_a_sentence(window, qtbot, renderer_run):
    """A gallery name holding a NUL (pasted): refused with a sentence naming the folder (it said "Unexpected error
    (ValueError): embedded null byte"), and no gallery is made."""
    from app_steps import LONG

    page = _paint_ready(window, qtbot, renderer_run)
    before = sorted((renderer_run / "galleries").iterdir()) if (renderer_run / "galleries").is_dir() else []
    page.gallery_edit.setText("a\x00b")
    with qtbot.waitSignal(page.failed, timeout=LONG):
        page.add_to_gallery()
    qtbot.waitUntil(page.is_idle, timeout=LONG)
    text = page.error_label.text()
    assert "Unexpected" not in text and text.endswith("not a usable gallery folder name (embedded null byte)."), text
    after = sorted((renderer_run / "galleries").iterdir()) if (renderer_run / "galleries").is_dir() else []
    assert after == before


def test_closing_during_a_latent_walk_stops_it_and_writes_no_walk(window, qtbot, trained_run):
    """Closing while a latent walk is written stops it at its next batch of frames, as a gallery being written
    stops, and no video (nor temporary file, nor walks/ folder) is left; the window had stayed open until the whole
    walk was written (minutes on a CPU: 93 s for a 4-iteration model on a busy 2-core machine)."""
    from app_steps import LONG

    g = window.gallery
    window.open_path(str(trained_run))
    qtbot.waitUntil(
        lambda: g.run_dir == str(trained_run) and g.animate_action.isEnabled() and not g.loading, timeout=LONG
    )
    g.animate_action.trigger()
    assert g.animating
    window.close()
    assert window.isVisible() and "latent walk" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=LONG)
    assert g.last_walk is None and g.last_error is None
    assert not (trained_run / "walks").exists(), list((trained_run / "walks").iterdir())


def test_exporting_into_a_folder_name_too_long_says_so(window, qtbot, trained_run, tmp_path):
    """Export into a folder whose name is past the file system's 255 bytes: one sentence naming the folder (it said
    "Unexpected error (OSError): [Errno 36] File name too long"), nothing written; the check before the "replace?"
    question says the same."""
    from app_steps import LONG

    from osmis_core.errors import OsmisError
    from osmis_gui import jobs

    g = window.gallery
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: g.gallery_dir is not None and g.list.count() > 0 and not g.loading, timeout=LONG)
    g.select_all_button.click()
    dest = tmp_path / ("y" * 300)
    before = sorted(tmp_path.iterdir())
    with qtbot.waitSignal(g.failed, timeout=LONG) as failed:
        g.export_to(str(dest))
    qtbot.waitUntil(lambda: not g.exporting, timeout=LONG)
    message = failed.args[0]
    assert message == f"{dest}: cannot be an output folder (File name too long); choose another.", message
    assert sorted(tmp_path.iterdir()) == before
    with pytest.raises(OsmisError, match="cannot be an output folder"):
        jobs.export_replaces(g.gallery_dir, str(dest))


def test_a_runs_folder_name_too_long_refuses_the_start_in_a_sentence(window, qtbot, scene, tmp_path):
    """Start new run with a folder for new runs past the file system's 255 bytes: one sentence under the buttons,
    no training, nothing made (an OSError escaped the Start slot: a traceback, and no word on screen)."""
    from app_steps import configure, load

    load(window, qtbot, *scene)
    configure(window, qtbot, iters=2)
    root = tmp_path / ("r" * 300)
    window.training.runs_root_edit.setText(str(root))
    window.training.start_new()
    assert not window.state.training_busy()
    text = window.training.error_label.text()
    assert text == f"{root}: cannot hold a new run (File name too long); give another folder.", text


def test_the_seed_box_is_wide_enough_for_the_largest_seed(window, qtbot):
    """The Gallery page's seed box shows every digit of the largest seed (it was 58 px wide, sized by superqt for
    the seed it started with, and showed '51614' of 18446744073709551614)."""
    from osmis_core.config import MAX_SEED

    window.tabs.setCurrentWidget(window.gallery)
    box = window.gallery.seed_spin
    box.setValue(MAX_SEED)
    qtbot.waitUntil(lambda: box.isVisible())
    edit = box.lineEdit()
    assert edit.width() >= edit.fontMetrics().horizontalAdvance(str(MAX_SEED)), (edit.width(), box.width())


def test_a_gallery_finished_after_another_run_was_opened_is_not_shown_as_its(window, qtbot, trained_run, renderer_run):
    """Generate on an OSMIS run, then open a renderer run before it ends: the new gallery is said to be written in
    the first run (with the first run's verb), and the page keeps showing the run now open (it loaded the OSMIS
    gallery as the renderer run's and said "Rendered 2000 photos")."""
    from app_steps import LONG

    g = window.gallery
    window.open_path(str(trained_run))
    qtbot.waitUntil(
        lambda: g.run_dir == str(trained_run) and g.generate_action.isEnabled() and not g.loading, timeout=LONG
    )
    g.n_spin.setValue(2000)
    g.generate_action.trigger()
    qtbot.waitUntil(lambda: g.progress.value() > 0, timeout=LONG)
    window.open_run(renderer_run)
    qtbot.waitUntil(lambda: g.run_dir == str(renderer_run), timeout=LONG)
    assert g.generating, "the generation ended before the switch: the test needs a larger n"
    with qtbot.waitSignal(g.generated, timeout=LONG) as generated:
        pass
    qtbot.waitUntil(lambda: not g.generating, timeout=LONG)
    assert Path(generated.args[0]).parent == trained_run / "galleries"
    assert g.status_label.text() == f"Generated 2000 samples in {generated.args[0]} (run {trained_run}).", (
        g.status_label.text()
    )
    assert g.gallery_dir is None or Path(g.gallery_dir).is_relative_to(renderer_run)
