"""Findings left open by earlier testers, fixed on branch fix21: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui

MISSING = "looks like a run folder whose run.json is missing"


@pytest.mark.parametrize("how", ["open", "drop"])
def test_a_run_folder_without_run_json_opened_or_dropped_says_so(window, qtbot, trained_run, how):
    """The app reads DATA through the engine's find_data, as the CLI's train does: the same sentence naming the
    folder, not "the folder holds no images"."""
    (trained_run / "run.json").unlink()
    (window.open_path if how == "open" else lambda p: window.open_dropped([p]))(str(trained_run))
    qtbot.waitUntil(lambda: MISSING in window.data.error_label.text(), timeout=LONG)
    assert str(trained_run) in window.data.error_label.text()
