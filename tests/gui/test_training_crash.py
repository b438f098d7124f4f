"""A crash in training (or before it starts) is a message; the window survives."""

from __future__ import annotations

import pytest
from app_steps import LONG, configure, load

pytestmark = pytest.mark.gui


def test_training_crash_shows_message_and_window_survives(window, qtbot, scene, monkeypatch):
    from osmis_core.application import session as session_mod
    from osmis_core.training import trainer as trainer_mod
    from osmis_gui.training_page import IDLE

    original = trainer_mod.Trainer.train_step

    def flaky(self):
        if self.step >= 1:
            raise RuntimeError("simulated crash in the training step")
        return original(self)

    monkeypatch.setattr(trainer_mod.Trainer, "train_step", flaky)
    image, _ = scene
    configure(window, qtbot, iters=10)
    load(window, qtbot, image)
    t = window.training
    with qtbot.waitSignal(t.failed, timeout=LONG):
        t.start_action.trigger()
    qtbot.waitUntil(lambda: t.state == IDLE, timeout=LONG)
    assert "simulated crash" in t.last_error
    assert not t.error_label.isHidden() and "simulated crash" in t.error_label.text()
    assert window.last_message[0] == "warning"
    assert window.isVisible()

    # an exception before training starts (building the trainer) is reported the same way
    def broken(*a, **k):
        raise ValueError("cannot build")

    monkeypatch.setattr(session_mod, "start_training", broken)
    with qtbot.waitSignal(t.failed, timeout=LONG):
        t.start_action.trigger()
    qtbot.waitUntil(lambda: t.state == IDLE, timeout=LONG)
    assert "cannot build" in t.last_error and window.isVisible()
    assert t.start_action.isEnabled()
