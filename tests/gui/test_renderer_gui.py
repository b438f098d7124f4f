"""The app's training page trains a layout renderer unchanged: the renderer's run streams the same events (curves,
preview, progress, checkpoint) as an OSMIS run (docs/renderer.md section 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gui_helpers import TINY_GUI

pytestmark = pytest.mark.gui
LONG = 120_000


def test_training_page_trains_a_renderer(window, qtbot, scene):
    image, _ = scene
    window.settings_page.set_options(
        **{**TINY_GUI, "model": "renderer", "ch_r": 4, "spade_hidden": 8, "ch_rd": 4, "iters": 4}
    )
    window.open_data(str(image), None)
    qtbot.waitUntil(lambda: window.data.preview is not None or bool(window.data.data_error), timeout=LONG)
    qtbot.waitUntil(lambda: not window.data.inspecting and not window.data._inspect_timer.isActive(), timeout=LONG)
    t = window.training
    window.tabs.setCurrentWidget(t)
    with qtbot.waitSignal(t.finished, timeout=LONG) as finished:
        t.start_action.trigger()
    run_dir, step, stopped = finished.args
    assert step == 4 and not stopped
    assert t.preview.has_image() and t.progress.value() == 4
    run = Path(run_dir)
    assert json.loads((run / "run.json").read_text())["config"]["renderer"]["model"] == "renderer"
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert {k for k in stats[-1] if k not in ("step", "it_per_s", "elapsed")} <= set(t.plots.keys())
