"""One state, one error sink, one stale-answer rule: driven through the window."""

from __future__ import annotations

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_only_the_last_opened_run_is_shown(window, qtbot, trained_run, tmp_path):
    """Two runs opened one after the other: the answer about the first arrives late and is ignored."""
    import shutil

    other = shutil.copytree(trained_run, tmp_path / "other-run")
    window.open_path(str(trained_run))
    window.open_path(str(other))
    qtbot.waitUntil(lambda: window.state.run is not None, timeout=LONG)
    qtbot.wait(500)
    assert window.state.run.run_dir == str(other) == window.training.run_dir == window.gallery.run_dir
    assert "other-run" in window.windowTitle()


def test_a_failing_job_is_one_sentence_in_a_message_box(window, qtbot, tmp_path):
    bad = tmp_path / "bad-run"
    bad.mkdir()
    (bad / "run.json").write_text("{ not json")
    window.open_path(str(bad))
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LONG)
    kind, title, text = window.last_message
    assert kind == "warning" and title == "The run folder cannot be opened"
    assert "run.json" in text and "Traceback" not in text
    assert window.state.run is None


def test_pages_follow_the_state(window, qtbot, scene):
    """Data chosen anywhere reaches the data view, the title and the training button; settings edits reach the
    state and lock while a training would run."""
    image, _ = scene
    window.state.set_data(str(image))
    qtbot.waitUntil(lambda: window.data.preview is not None and not window.data.busy(), timeout=LONG)
    assert window.data.path == str(image) and image.name in window.windowTitle()
    assert window.training.start_action.isEnabled()
    window.settings_page.editors["lr_g"].widget.setText("x")
    assert window.state.config is None and not window.training.start_action.isEnabled()
    assert "LR G" in window.training.start_action.statusTip()
    window.settings_page.editors["lr_g"].widget.setText("2e-4")
    assert window.state.config is not None and window.training.start_action.isEnabled()
