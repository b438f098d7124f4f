"""The Latent walk's seed is offered again at the next start, as Generate's is (they share the Gallery page's seed
box): it had been forgotten, the box coming back with the seed of the last Generate. A corrupt remembered seed
still falls back to 0 (remembered_int)."""

from __future__ import annotations

import pytest
from app_steps import LONG
from gui_helpers import gallery_page_of_next_start

pytestmark = pytest.mark.gui


def test_the_latent_walks_seed_is_offered_at_the_next_start(window, qtbot, trained_run):
    g = window.gallery
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: g.run_dir == str(trained_run) and g.animate_action.isEnabled(), timeout=LONG)
    g.seed_spin.setValue(4321)
    g.animate_action.trigger()
    qtbot.waitUntil(lambda: g.last_walk is not None or g.last_error is not None, timeout=LONG)
    assert g.last_error is None and g.last_walk.endswith("-seed4321.mp4")
    qtbot.waitUntil(lambda: not g.animating, timeout=LONG)
    again = gallery_page_of_next_start(window, qtbot)
    assert again.seed_spin.value() == 4321
    window.qsettings.setValue("gallery/seed", "4321x")
    corrupt = gallery_page_of_next_start(window, qtbot)
    assert corrupt.seed_spin.value() == 0
