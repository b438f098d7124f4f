"""A number typed on the Settings page with '_' between digits (p_aug as 1_0) is refused in one sentence naming the
field and the text, as the CLI's flags refuse it (config.read_number): Python's float() had read it as 10."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_p_aug_typed_as_1_0_is_refused_naming_the_field(window):
    page = window.settings_page
    page.editors["p_aug"].widget.setText("1_0")
    assert page.config() is None
    assert page.error_text() == "p_aug must be a number written without '_', got '1_0'."
    page.editors["p_aug"].widget.setText("0.5")
    assert page.error_text() is None and page.config().augmentation.p_aug == 0.5
