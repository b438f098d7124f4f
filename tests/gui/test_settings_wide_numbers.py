"""Whole-number options beyond what a spin box holds: a seed up to 2**64 - 2 is typed as text and kept, and a run
trained with such a seed opens with it in the form (an OverflowError in the event loop had left it unopened)."""

from __future__ import annotations

import pytest
from app_steps import LONG
from gui_helpers import TINY_GUI, make_scene

pytestmark = pytest.mark.gui


def test_a_seed_beyond_a_spin_box_is_typed_and_kept(window):
    from osmis_core.config import MAX_SEED

    page = window.settings_page
    page.set_options(seed=3_000_000_000)
    assert page.editors["seed"].widget.text() == "3000000000"
    assert page.config().run.seed == 3_000_000_000
    page.editors["seed"].widget.setText(str(MAX_SEED))
    assert page.config().run.seed == MAX_SEED
    page.editors["seed"].widget.setText("")
    assert page.config() is None and "Seed" in page.error_text()


def test_a_run_with_a_seed_beyond_a_spin_box_opens_with_it(window, qtbot, tmp_path):
    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    image, _ = make_scene(tmp_path / "data")
    run = tmp_path / "run"
    config = OsmisConfig().replace(**{**TINY_GUI, "iters": 2, "seed": 2**40})
    list(start_training(config, image, run).run())
    window.open_path(str(run))
    qtbot.waitUntil(lambda: window.training.run_dir == str(run), timeout=LONG)
    qtbot.waitUntil(lambda: window.settings_page.editors["seed"].widget.text() == str(2**40), timeout=LONG)
    assert window.settings_page.config().run.seed == 2**40
