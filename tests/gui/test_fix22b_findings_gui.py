"""Findings left open by earlier testers, fixed on branch fix22b: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

import pytest
from app_steps import LONG, configure, load
from gui_helpers import log_lines, marked_invalid

pytestmark = pytest.mark.gui


def test_a_value_far_above_usual_is_warned_about_by_the_fields_label(window, qtbot, scene):
    """The Data page's inspection warns about a learning rate far above usual values naming the Settings field's
    label (LR D), as the form's own messages do, not the engine's option name."""
    image, _ = scene
    configure(window, qtbot)
    load(window, qtbot, image)
    seen = log_lines(window, lambda text: "far above usual values" in text)
    window.settings_page.set_options(lr_d=10.0)
    qtbot.waitUntil(lambda: bool(seen), timeout=LONG)
    qtbot.waitUntil(lambda: not window.data.busy(), timeout=LONG)
    assert len(seen) == 1 and "LR D = 10 is far above usual values" in seen[0], seen
    assert "lr_d" not in seen[0] and "--lr-d" not in seen[0], seen


@pytest.mark.parametrize("device", ["cuda", "gpu", "cuda:x"])
def test_the_settings_form_refuses_a_device_this_machine_cannot_train_on(window, qtbot, device):
    """The Device field is checked as the form's other fields are, by the engine's check a start would refuse it by
    (devices.resolve_device): one sentence, the field marked, no configuration; "cpu" is taken again. This machine
    has no CUDA GPU, so "cuda" is refused here."""
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: 'cuda' is a device it can train on")
    page = window.settings_page
    editor = page.editors["device"]
    editor.widget.setCurrentText(device)
    text = page.error_text()
    assert page.config() is None and marked_invalid(editor), text
    assert text.startswith(f"Device '{device}' ") and len(text.splitlines()) == 1 and text.endswith("."), text
    editor.widget.setCurrentText("cpu")
    assert page.config() is not None and page.config().run.device == "cpu" and not marked_invalid(editor)
    assert page.error_text() in ("", None)


def test_the_sample_count_goes_to_the_engines_limit(window):
    """The Gallery page's sample count takes its maximum from the engine's MAX_SAMPLES (the CLI's --n limit), not
    a smaller number of its own."""
    from osmis_core.config import MAX_SAMPLES

    assert window.gallery.n_spin.maximum() == MAX_SAMPLES
