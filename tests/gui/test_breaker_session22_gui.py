"""Findings of breaker session 22: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def _marked(editor) -> bool:
    return (editor._line if hasattr(editor, "_line") else editor.widget).styleSheet() != ""


def test_the_form_names_the_noise_channels_rule_by_labels_and_marks_its_field(window):
    """Per-pixel noise channels above Noise dim: the form says so with the fields' labels, as every other rule
    between options, and marks the field (it said "option 'noise_spatial'" and marked none: the copy's own check ran
    before the form's names were used)."""
    page = window.settings_page
    page.editors["noise_dim"].widget.setValue(4)
    page.editors["noise_spatial"].widget.setValue(6)
    text = page.error_text()
    assert page.config() is None and text.startswith("Per-pixel noise channels (6)") and "Noise dim (4)" in text, text
    assert "option '" not in text, text
    assert _marked(page.editors["noise_spatial"])


def test_a_message_that_starts_with_a_lowercase_label_keeps_it_as_the_form_shows_it(window):
    """The sentence is capitalised, a field's label is not: "p_aug sets ...", not "P_aug sets ..."."""
    page = window.settings_page
    page.editors["augment"].widget.setChecked(False)
    page.editors["p_aug"].widget.setText("0.3")
    text = page.error_text()
    assert text.startswith("p_aug sets the differentiable augmentation"), text
    assert _marked(page.editors["p_aug"])
