"""The settings form's LeCam options (--lecam-weight, --lecam-decay): the decay's open range in its tooltip and
validation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_lecam_decay_says_and_refuses_its_open_range(window, qtbot):
    page = window.settings_page
    assert "Range: 0.0 … 1.0 (ends excluded)" in page.editors["lecam_decay"].widget.toolTip()
    assert "(ends excluded)" not in page.editors["ema_decay"].widget.toolTip()
    page.editors["lecam_weight"].widget.setText("0.3")
    page.editors["lecam_decay"].widget.setText("1")
    assert page.config() is None and "LeCam decay" in page.error_text() and "below 1.0" in page.error_text()
    page.editors["lecam_decay"].widget.setText("0.95")
    reg = page.config().regularisation
    assert reg.lecam_weight == pytest.approx(0.3) and reg.lecam_decay == pytest.approx(0.95)
