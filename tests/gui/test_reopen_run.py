"""Reopening a run folder restores settings, curves, previews and gallery; Continue run trains it further."""

from __future__ import annotations

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_reopen_run_restores_settings_curves_previews_gallery(window, qtbot, trained_run):
    from osmis_core.application.runfolder import RunFolder
    from osmis_core.config import OsmisConfig

    window.open_path(str(trained_run))
    t, g = window.training, window.gallery
    qtbot.waitUntil(lambda: t.run_dir == str(trained_run) and g.manifest is not None, timeout=LONG)
    qtbot.waitUntil(lambda: not g.loading, timeout=LONG)
    folder = RunFolder(trained_run)
    info = folder.read_run_json()
    assert window.settings_page.config() == OsmisConfig.from_dict(info["config"])
    assert len(t.plots.steps) == len(folder.read_stats()) == 4
    assert [s for s, _ in t.samples] == [2, 4]
    qtbot.waitUntil(t.preview.has_image, timeout=LONG)
    assert "started" in t.log_view.toPlainText()
    assert g.list.count() == 6 and g.checkpoints == folder.checkpoint_steps()
    qtbot.waitUntil(lambda: window.data.preview is not None, timeout=LONG)
    assert window.data.path == info["data"]["path"]

    # continue the run for two more iterations
    window.settings_page.set_options(iters=6)
    with qtbot.waitSignal(t.finished, timeout=LONG) as finished:
        t.continue_action.trigger()
    assert finished.args[1:] == [6, False]
    qtbot.waitUntil(lambda: not t.is_busy(), timeout=LONG)
    assert t.plots.steps[-1] == 6 and 6 in g.checkpoints
