"""The Settings page's Seed typed (pasted) as thousands of zeros is the seed 0, as the CLI's --seed takes it: it had
said "Seed must be at most …, got 5000 digits" (a rule about the count of digits, not the value)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication

pytestmark = pytest.mark.gui


def test_a_seed_of_5000_zeros_is_the_seed_0(window):
    page = window.settings_page
    edit = page.editors["seed"].widget
    QGuiApplication.clipboard().setText("0" * 5000)
    edit.selectAll()
    edit.paste()
    assert page.error_text() is None, page.error_text()
    assert page.config() is not None and page.config().run.seed == 0
