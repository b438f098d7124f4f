"""The app's "Continue run" passes every option that the engine lets change on resume (issue 11)."""

from __future__ import annotations

import pytest
from gui_helpers import TINY_GUI, make_scene

pytestmark = pytest.mark.gui
LONG = 60_000


def test_continue_run_passes_every_resumable_option(window, qtbot, tmp_path, monkeypatch):
    from osmis_core.application import session
    from osmis_core.application.runfolder import RunFolder
    from osmis_core.application.session import RESUMABLE_OPTIONS, start_training
    from osmis_core.config import OsmisConfig

    image, _ = make_scene(tmp_path / "data")
    run = tmp_path / "run"
    list(start_training(OsmisConfig().replace(**{**TINY_GUI, "iters": 3}), image, run).run())

    sent = []
    real_resume = session.resume_training

    def recording_resume(run_dir, overrides=None, **how):  # what the app asks the engine for
        sent.append(dict(overrides or {}))
        return real_resume(run_dir, overrides, **how)

    monkeypatch.setattr(session, "resume_training", recording_resume)
    window.open_path(str(run))
    t = window.training
    qtbot.waitUntil(lambda: t.run_dir == str(run) and t.latest_checkpoint == 3, timeout=LONG)
    changed = {
        "iters": 4,
        "log_every": 2,
        "preview_every": 4,
        "checkpoint_every": 4,
        "keep_checkpoints": 5,
        "channels_last": False,
        "fast_upsample": False,
        "precision": "bf16",
        "compile_mode": "max-autotune",
    }
    window.settings_page.set_options(**changed)
    with qtbot.waitSignal(t.finished, timeout=LONG) as finished:
        t.continue_action.trigger()
    assert finished.args[1:] == [4, False]
    qtbot.waitUntil(lambda: not t.is_busy(), timeout=LONG)

    assert len(sent) == 1 and set(sent[0]) == set(RESUMABLE_OPTIONS)
    assert sent[0]["compile"] is False and sent[0]["device"] == "cpu"
    saved = OsmisConfig.from_dict(RunFolder(run).read_run_json()["config"]).flat()
    assert {k: saved[k] for k in changed} == changed
