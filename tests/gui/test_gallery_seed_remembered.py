"""The Gallery page remembers the last seed it generated with, the largest too: QSettings takes no int past
2**63 - 1 (an OverflowError in the Generate slot had left the gallery unmade)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_steps import LONG
from gui_helpers import gallery_page_of_next_start

pytestmark = pytest.mark.gui


def test_the_largest_seed_generates_and_is_offered_again(window, qtbot, trained_run):
    from osmis_core.config import MAX_SEED

    g = window.gallery
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: g.run_dir == str(trained_run) and g.generate_action.isEnabled(), timeout=LONG)
    g.n_spin.setValue(1)
    g.seed_spin.setValue(MAX_SEED)
    with qtbot.waitSignal(g.generated, timeout=LONG) as generated:
        g.generate_action.trigger()
    qtbot.waitUntil(lambda: not g.generating, timeout=LONG)
    assert g.last_error is None
    assert json.loads((Path(generated.args[0]) / "manifest.json").read_text())["seed"] == MAX_SEED
    again = gallery_page_of_next_start(window, qtbot)
    assert again.seed_spin.value() == MAX_SEED
