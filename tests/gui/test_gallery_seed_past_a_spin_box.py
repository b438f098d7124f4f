"""The Gallery page's seed box takes every seed the engine takes (up to config.MAX_SEED, past the 2**31 - 1 of a
QSpinBox), and a seed typed there reaches the engine unchanged: the gallery is the one `osmis generate --seed`
writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app_steps import LONG
from helpers import osmis_cli
from PIL import Image
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui
SEED = 2**40 + 3


def test_a_seed_past_2_31_typed_in_the_gallery_makes_the_cli_s_gallery(window, qtbot, trained_run, tmp_path, capsys):
    g = window.gallery
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: g.run_dir == str(trained_run) and g.generate_action.isEnabled(), timeout=LONG)
    g.n_spin.setValue(2)
    g.seed_spin.lineEdit().selectAll()
    qtbot.keyClicks(g.seed_spin, str(SEED))
    qtbot.keyClick(g.seed_spin, Qt.Key.Key_Return)
    assert g.seed_spin.value() == SEED
    with qtbot.waitSignal(g.generated, timeout=LONG) as generated:
        g.generate_action.trigger()
    qtbot.waitUntil(lambda: not g.generating, timeout=LONG)
    assert g.last_error is None
    app = Path(generated.args[0])

    cli = tmp_path / "cli"
    r = osmis_cli(capsys, "generate", trained_run, "--n", "2", "--seed", SEED, "--out", cli, "--device", "cpu")
    assert r.returncode == 0, r.stderr
    shown, written = (json.loads((d / "manifest.json").read_text()) for d in (app, cli))
    assert shown["seed"] == written["seed"] == SEED, shown
    for a, b in zip(shown["items"], written["items"], strict=True):
        assert np.array_equal(np.asarray(Image.open(app / a["image"])), np.asarray(Image.open(cli / b["image"])))
