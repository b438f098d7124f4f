"""Findings of breaker session 31: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def _type_in(qtbot, box, text: str) -> None:
    """Focus a spin box, select its text and type `text` over it, without pressing Enter or leaving the box."""
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)


def _gallery_open(window, qtbot, run):
    from app_steps import LONG

    g = window.gallery
    window.open_path(str(run))
    window.tabs.setCurrentWidget(g)
    qtbot.waitUntil(lambda: g.run_dir == str(run) and g.generate_action.isEnabled() and not g.loading, timeout=LONG)
    return g


def test_samples_typed_then_generate_clicked_are_the_samples_made(window, qtbot, trained_run):
    """'3' typed in Samples, then Generate clicked (or Ctrl+G) with the focus still in the box: 3 samples are made
    (the tool button takes no focus, so the box, which takes its number when typing ends, kept 6 and made 6)."""
    from app_steps import LONG

    g = _gallery_open(window, qtbot, trained_run)
    g.n_spin.setValue(6)
    _type_in(qtbot, g.n_spin, "3")
    qtbot.mouseClick(g.generate_button, Qt.MouseButton.LeftButton)
    assert g.status_label.text().startswith("Generating 3 samples"), g.status_label.text()
    qtbot.waitUntil(lambda: not g.generating, timeout=LONG)
    made = [p.name for p in (trained_run / "galleries").iterdir() if (p / "manifest.json").is_file()]
    assert any(name.endswith("-n3") for name in made) and not any(name.endswith("-n6") for name in made), made
    _type_in(qtbot, g.n_spin, "2")
    qtbot.keyClick(g.n_spin.lineEdit(), Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert g.status_label.text().startswith("Generating 2 samples"), g.status_label.text()
    qtbot.waitUntil(lambda: not g.generating, timeout=LONG)


def test_iterations_typed_then_ctrl_r_is_the_run_started(window, qtbot, scene):
    """'3' typed in the Settings page's Iterations, then Ctrl+R with the focus still in the box: the run trains 3
    iterations (it started with the form's old 2); a text not taken ('1,0') shows the number the run takes."""
    from app_steps import LONG, configure, load

    load(window, qtbot, *scene)
    configure(window, qtbot, iters=2)
    window.tabs.setCurrentWidget(window.settings_page)
    box = window.settings_page.editors["iters"].widget
    _type_in(qtbot, box, "3")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.state.training_busy() and window.training.total == 3, window.training.total
    qtbot.waitUntil(lambda: not window.state.training_busy(), timeout=LONG)
    sep = box.locale().groupSeparator()
    _type_in(qtbot, box, f"1{sep}0")
    window.training.start_new()
    assert box.lineEdit().text() == "3" and window.training.total == 3
    qtbot.waitUntil(lambda: not window.state.training_busy(), timeout=LONG)


@pytest.mark.parametrize("inside", ["checkpoints", "galleries/g1"])
def test_a_runs_folder_inside_a_runs_own_files_is_refused_before_loading(window, qtbot, scene, trained_run, inside):
    """Runs folder set to a run's checkpoints/ (or a gallery of it): Start is refused at once under the buttons in
    the app's words, no training starts and the page names no run folder; it had started loading, then said "give
    an --out outside it" (the app has no --out) and kept showing the refused RUN/checkpoints/scene as the run."""
    from app_steps import configure, load

    load(window, qtbot, *scene)
    configure(window, qtbot, iters=2)
    root = trained_run / inside
    before = sorted(root.iterdir())
    shown = window.training.run_label.text()
    window.training.runs_root_edit.setText(str(root))
    window.training.start_new()
    assert not window.state.training_busy()
    text = window.training.error_label.text()
    own = trained_run / inside.split("/")[0]
    assert text == f"{root}: cannot hold a new run ({own} holds another run's own files); give another folder.", text
    assert window.training.run_label.text() == shown and sorted(root.iterdir()) == before


def test_an_optional_whole_number_takes_auto_typed_not_the_number_below_its_range(window, qtbot):
    """Generator blocks (5 to 9, or auto): '4' typed had silently become 'auto' (the box's slot for auto is the
    number below the range), while 'auto' itself could not be typed (QSpinBox refuses its special text). Now the
    word, begun or whole, or an emptied box is auto, as in the optional text fields; '4' is not taken."""
    page = window.settings_page
    editor = page.editors["num_blocks_g"]
    box = editor.widget
    box.setValue(6)
    for text, shown, value in (("4", "6", 6), ("auto", "auto", None), ("7", "7", 7), ("au", "auto", None)):
        _type_in(qtbot, box, text)
        qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
        assert (box.lineEdit().text(), editor.value()) == (shown, value), text
    box.setValue(7)
    _type_in(qtbot, box, "")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Delete)  # emptied
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert (box.lineEdit().text(), editor.value(), page.config().generator.num_blocks_g) == ("auto", None, None)


def _wheel(widget, steps: int = -1) -> None:
    """One notch of the mouse wheel over the middle of `widget` (down for a negative `steps`)."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    pos = QPointF(widget.rect().center())
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QWheelEvent(
        pos,
        global_pos,
        QPoint(),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_scrolling_the_settings_page_over_a_field_changes_nothing(window, qtbot):
    """The wheel over Iterations, Model or Preset while scrolling the form: nothing changes (Iterations went from
    150,000 to 149,999 and Model switched, unseen); a field clicked into still takes the wheel."""
    page = window.settings_page
    window.tabs.setCurrentWidget(page)
    iters, model = page.editors["iters"].widget, page.editors["model"].widget
    qtbot.waitUntil(iters.isVisible)
    before = page.config()
    for widget in (iters, model, page.preset_combo):
        _wheel(widget)
        assert not widget.hasFocus()
    assert page.config() == before and page.preset_combo.currentIndex() == 0
    iters.setFocus()
    qtbot.waitUntil(iters.hasFocus)
    _wheel(iters)
    assert page.config().run.iters == before.run.iters - 1


def test_a_seed_pasted_with_spaces_around_it_is_the_settings_seed(window):
    """A seed copied with the spaces or line end around it (a terminal, a manifest), pasted into the Settings
    page's Seed: it is the seed, as in the Gallery's seed box; the paste had been refused whole, the old seed kept.
    Anything else than digits is still refused."""
    from PySide6.QtGui import QGuiApplication

    page = window.settings_page
    edit = page.editors["seed"].widget
    for text, seed in (("  42\n", 42), ("-7", 42), ("4 2", 42), ("１２", 42), ("\t9 ", 9)):
        QGuiApplication.clipboard().setText(text)
        edit.selectAll()
        edit.paste()
        assert (edit.text(), page.config().run.seed) == (str(seed), seed), text


@pytest.mark.parametrize("start", ["start_blank", "start_from_training_mask"])
def test_a_new_layout_after_a_refused_save_leaves_no_refusal_shown(paint, renderer_run, start):
    """A save refused, then Blank (or Training mask): the page says only "Editing a blank canvas."; the refusal
    "The layout was not saved: …" had stayed above the canvas beside it (Open… cleared it, these did not)."""
    assert not paint.save_layout(str(renderer_run / "run.json"))
    assert paint.error_label.text().startswith("The layout was not saved: ")
    getattr(paint, start)()
    assert paint.error_label.text() == "" and paint.status_label.text().startswith("Editing "), paint.error_label.text()


def test_a_runs_folder_in_a_file_is_refused_before_loading(window, qtbot, scene, trained_run):
    """Runs folder set to a file (the data image, a run's stats.jsonl/x): refused at Start in one sentence naming
    the file; training had started loading, then said ".../scene.png/scene: the output folder cannot be written (Not
    a directory)" and showed that as the run folder."""
    from app_steps import configure, load

    load(window, qtbot, *scene)
    configure(window, qtbot, iters=2)
    shown = window.training.run_label.text()
    for root, file in ((scene[0], scene[0]), (trained_run / "stats.jsonl" / "x", trained_run / "stats.jsonl")):
        window.training.runs_root_edit.setText(str(root))
        window.training.start_new()
        assert not window.state.training_busy()
        text = window.training.error_label.text()
        assert text == f"{root}: cannot hold a new run ({file} is a file); give another folder.", text
        assert window.training.run_label.text() == shown


def test_a_runs_folder_of_an_unknown_users_home_is_refused_in_a_sentence(window, qtbot, scene):
    """Runs folder '~nosuchuser/runs' (a '~' typed for a home folder): one sentence under the buttons, no training;
    Path.expanduser's RuntimeError had escaped the Start slot (a traceback, and no word on screen)."""
    from app_steps import configure, load

    load(window, qtbot, *scene)
    configure(window, qtbot, iters=2)
    window.training.runs_root_edit.setText("~nosuchuser31/runs")
    window.training.start_new()
    assert not window.state.training_busy()
    text = window.training.error_label.text()
    assert text == "~nosuchuser31/runs: ~nosuchuser31 is no user's home folder.", text


def test_a_renderer_run_from_layouts_of_no_run_names_the_field_not_a_flag(window, qtbot, scene, tmp_path):
    """Model renderer with 'layouts from' naming a folder that is no run: the refusal names the form's field, as the
    app's other messages do; it said "--layouts-from: … no such run folder." (the app has no flags)."""
    from app_steps import LONG, load
    from gui_helpers import TINY_RENDERER_GUI

    from osmis_core.config import option_label

    load(window, qtbot, *scene)
    nowhere = tmp_path / "nope"
    window.settings_page.set_options(**{**TINY_RENDERER_GUI, "iters": 2, "layouts_from": str(nowhere)})
    qtbot.waitUntil(lambda: not window.data.busy(), timeout=LONG)
    window.training.start_new()
    qtbot.waitUntil(lambda: not window.state.training_busy(), timeout=LONG)
    text = window.training.error_label.text()
    said = option_label("layouts_from")
    assert text.startswith(f"{said}: {nowhere}: no such run folder") and "--" not in text, text


def test_keep_best_by_a_mask_metric_without_masks_names_the_field_not_a_flag(window, qtbot, tmp_path):
    """Data without a mask and 'Keep best by' class_coverage: the refusal names the form's field and offers its
    other choices; it said "--keep-best class_coverage (option keep_best) … choose --keep-best sifid or diversity"."""
    import shutil

    from app_steps import LONG, configure, load
    from gui_helpers import make_scene

    from osmis_core.config import option_label

    image, _ = make_scene(tmp_path / "scene")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(image, alone / "texture.png")  # no mask beside it
    load(window, qtbot, alone / "texture.png")
    configure(window, qtbot, iters=2, eval_every=1, keep_best="class_coverage")
    window.training.start_new()
    qtbot.waitUntil(lambda: not window.state.training_busy(), timeout=LONG)
    text = window.training.error_label.text()
    assert text.startswith(f"{option_label('keep_best')} class_coverage compares") and "--" not in text, text
    assert text.endswith("choose sifid or diversity, or give the masks."), text


def test_iterations_typed_then_continue_run_is_the_length_continued_to(window, qtbot, trained_run):
    """'6' typed in Iterations of a reopened 4-iteration run, then Ctrl+Shift+R with the focus still in the box: the
    run continues to 6 (without the typed number taken it said "already at iteration 4 of 4")."""
    from app_steps import LONG

    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: window.training.continue_action.isEnabled(), timeout=LONG)
    window.tabs.setCurrentWidget(window.settings_page)
    box = window.settings_page.editors["iters"].widget
    _type_in(qtbot, box, "6")
    qtbot.keyClick(
        box.lineEdit(), Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert window.state.training_busy() and window.training.total == 6, window.training.error_label.text()
    qtbot.waitUntil(lambda: not window.state.training_busy(), timeout=LONG)
