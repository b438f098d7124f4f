"""Breaker session 14, the desktop app (offscreen): the app's own empty path. One small test per finding.

Found and fixed: a cleared "folder for new runs" field (the Training page's runs root) put a new run into the
working folder (Path("") is "."), where `osmis train --out ""` is refused since today; the engine's new_run_dir
refuses a blank root and the page shows the sentence instead of starting."""

from __future__ import annotations

import pytest
from app_steps import LONG, configure, load

pytestmark = pytest.mark.gui


def test_a_cleared_runs_folder_is_refused_not_the_working_folder(window, qtbot, scene, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image, _ = scene
    configure(window, qtbot, iters=2)
    load(window, qtbot, image)
    t = window.training
    t.controls.runs_root_edit.setText("  ")
    with qtbot.waitSignal(t.failed, timeout=LONG) as failed:
        t.start_action.trigger()
    assert failed.args == ["the folder for new runs is empty: give a folder (such as runs)."]
    assert not t.is_busy() and not (tmp_path / image.stem).exists()
    assert "folder for new runs is empty" in t.error_label.text()
