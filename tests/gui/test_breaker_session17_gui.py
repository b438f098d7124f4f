"""Breaker session 17, the app: "Continue run" of a run that a terminal's `osmis train RUN --resume` is training.

Tried and right: the app says the run is being trained by another process (naming it), goes back to idle, and the
run folder is left as it was (RunFolder.check_not_training, before resume_training changes a file).
"""

from __future__ import annotations

import pytest
from app_steps import LONG
from helpers import folder_bytes, training_elsewhere

pytestmark = pytest.mark.gui


def test_continue_run_while_a_terminal_trains_it_is_refused(window, qtbot, trained_run):
    from osmis_gui.state import IDLE

    window.open_path(str(trained_run))
    page = window.training
    qtbot.waitUntil(lambda: page.run_dir == str(trained_run) and page.latest_checkpoint is not None, timeout=LONG)
    window.settings_page.set_options(iters=page.latest_checkpoint + 4)
    with training_elsewhere(trained_run) as proc:
        before = folder_bytes(trained_run)
        page.continue_run()
        qtbot.waitUntil(lambda: page.state == IDLE and page.last_error is not None, timeout=LONG)
        assert f"being trained by another process (process {proc.pid})" in page.last_error
        assert folder_bytes(trained_run) == before
