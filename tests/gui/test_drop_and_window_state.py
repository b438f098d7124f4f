"""Dropped files are routed (data + mask, settings, run folder); the window remembers its state."""

from __future__ import annotations

import json

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_drop_routes_files_and_window_state_is_remembered(window, qtbot, scene, trained_run, tmp_path):
    image, mask = scene
    window.open_dropped([str(mask), str(image)])
    qtbot.waitUntil(lambda: window.data.preview is not None, timeout=LONG)
    assert window.data.path == str(image) and window.data.mask_path == str(mask)
    cfg = tmp_path / "opts.json"
    cfg.write_text(json.dumps({"ch_g": 8}))
    window.open_dropped([str(cfg)])
    assert window.settings_page.config().generator.ch_g == 8
    window.open_dropped([str(trained_run)])
    qtbot.waitUntil(lambda: window.training.run_dir == str(trained_run), timeout=LONG)
    qtbot.waitUntil(lambda: not window.gallery.loading and not window.data.loading, timeout=LONG)

    window.resize(1000, 700)
    window.tabs.setCurrentIndex(3)
    window.save_window_state()
    s = window.qsettings
    assert s.value("window/geometry") is not None and int(s.value("window/tab")) == 3
    assert s.value("dirs/data") == str(image.parent)
