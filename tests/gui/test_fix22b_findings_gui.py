"""Findings left open by earlier testers, fixed on branch fix22b: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

import pytest
from app_steps import LONG, configure, load

pytestmark = pytest.mark.gui


def test_a_value_far_above_usual_is_warned_about_by_the_fields_label(window, qtbot, scene):
    """The Data page's inspection warns about a learning rate far above usual values naming the Settings field's
    label (LR D), as the form's own messages do, not the engine's option name."""
    image, _ = scene
    configure(window, qtbot)
    load(window, qtbot, image)
    seen = []
    window.state.log_line.connect(lambda text: seen.append(text) if "far above usual values" in text else None)
    window.settings_page.set_options(lr_d=10.0)
    qtbot.waitUntil(lambda: bool(seen), timeout=LONG)
    qtbot.waitUntil(lambda: not window.data.busy(), timeout=LONG)
    assert len(seen) == 1 and "LR D = 10 is far above usual values" in seen[0], seen
    assert "lr_d" not in seen[0] and "--lr-d" not in seen[0], seen
