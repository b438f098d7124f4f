"""'Continue run' passes every option that may change on resume (not only the iteration count): the run goes on
with the settings shown, and run.json records each change."""
from __future__ import annotations

import json

import pytest
from app_steps import LONG
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def test_continue_run_takes_every_resumable_option(window, qtbot, trained_run):
    window.open_path(str(trained_run))
    t = window.training
    qtbot.waitUntil(lambda: t.continue_action.isEnabled(), timeout=LONG)
    changed = {"iters": 5, "channels_last": False, "fast_upsample": False, "lr_d": 1e-4, "keep_checkpoints": 2,
               "log_every": 2}
    window.settings_page.set_options(**changed)
    with qtbot.waitSignal(t.finished, timeout=LONG):
        qtbot.mouseClick(t.continue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not t.is_busy(), timeout=LONG)
    info = json.loads((trained_run / "run.json").read_text())
    recorded = {r["option"]: r["to"] for r in info["resume_changes"]}
    assert recorded == changed
    flat = {k: v for group in info["config"].values() for k, v in group.items()}
    assert all(flat[k] == v for k, v in changed.items())
