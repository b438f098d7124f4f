"""Closing the window while training asks first, then stops with a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_steps import LONG, configure, load

pytestmark = pytest.mark.gui


def test_closing_while_training_asks_then_stops_with_a_checkpoint(window, qtbot, scene):
    image, _ = scene
    configure(window, qtbot, iters=200)
    load(window, qtbot, image)
    t = window.training
    with qtbot.waitSignal(t.stats_received, timeout=LONG):
        t.start_action.trigger()
    window.confirm = lambda title, text: False
    window.close()
    assert window.isVisible() and t.is_busy()  # the user said no: nothing happens
    window.confirm = lambda title, text: True
    with qtbot.waitSignal(t.finished, timeout=LONG) as finished:
        window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=LONG)
    run_dir, step, stopped = finished.args
    assert stopped and (Path(run_dir) / "checkpoints" / f"step_{step:07d}.pt").is_file()
