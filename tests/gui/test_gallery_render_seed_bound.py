"""On a renderer run the Gallery page's seed box stops where `osmis render --seed` does: photo i of a layout uses
seed + i, so the first seed is at most config.last_first_seed(n); the largest it offers renders without a refusal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_the_render_seed_box_stops_at_the_engine_s_last_first_seed(window, qtbot, tmp_path, renderer_run):
    from osmis_core.config import MAX_SEED, last_first_seed

    run = Path(shutil.copytree(renderer_run, tmp_path / "run"))
    g = window.gallery
    window.open_run(run)
    qtbot.waitUntil(lambda: g.run_dir == str(run) and g.generate_action.isEnabled(), timeout=LONG)
    assert g.renders
    g.n_spin.setValue(3)
    assert g.seed_spin.maximum() == last_first_seed(3) == MAX_SEED - 2
    g.seed_spin.setValue(MAX_SEED)
    assert g.seed_spin.value() == MAX_SEED - 2
    with qtbot.waitSignal(g.generated, timeout=LONG) as generated:
        g.generate_action.trigger()
    qtbot.waitUntil(lambda: not g.generating, timeout=LONG)
    assert g.last_error is None
    manifest = json.loads((Path(generated.args[0]) / "manifest.json").read_text())
    assert [it["seed"] for it in manifest["items"]] == [MAX_SEED - 2, MAX_SEED - 1, MAX_SEED]
    g.n_spin.setValue(1)
    assert g.seed_spin.maximum() == MAX_SEED
