"""The Gallery page's seed box spans the engine's seeds (0 to config.MAX_SEED) and takes digits only: a sign is not
taken (superqt's own box took '-', and Enter on it failed), a number past the largest seed becomes the largest."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def test_the_seed_box_spans_the_engine_s_seeds_and_takes_digits_only(window, qtbot):
    from osmis_core.config import MAX_SEED

    box = window.gallery.seed_spin
    assert (box.minimum(), box.maximum()) == (0, MAX_SEED)
    box.setValue(7)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "-")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == 7 and box.lineEdit().text() == "7"
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "9" * 30)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == MAX_SEED and type(box.value()) is int
