"""The settings form applies a preset with its values for the model the selector names (the engine's
preset_config: a preset's `renderer_runs` mapping for renderer runs), and switching the model re-applies the
preset for the new model, keeping the user's own edits."""

from __future__ import annotations

import json

import pytest

from osmis_core.config import build_config
from osmis_core.resources import resource_path

pytestmark = pytest.mark.gui


def _choose(combo, data) -> None:
    """Pick an entry of a combo box as a user does (the change and the activation signals)."""
    i = combo.findData(data)
    assert i >= 0
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def test_a_preset_applied_to_a_renderer_run_gives_its_renderer_values(window):
    page = window.settings_page
    quick = json.loads((resource_path("presets") / "quick.json").read_text())
    for_renderer, for_osmis = quick["renderer_runs"], {k: v for k, v in quick.items() if not k.startswith("_")}
    assert for_renderer["max_size"] != for_osmis["max_size"]  # the test tells the two apart

    _choose(page.editors["model"].widget, "renderer")
    assert page.config() == build_config(overrides={"model": "renderer"})  # the renderer's own defaults
    _choose(page.preset_combo, "quick")
    assert page.editors["max_size"].widget.value() == for_renderer["max_size"]
    assert page.editors["ch_r"].widget.value() == for_renderer["ch_r"]
    assert page.config() == build_config("quick", overrides={"model": "renderer"})
    assert window.state.config == page.config() and page.preset_combo.currentText() == "quick"

    # the model selector re-applies the preset for the new model, and back
    _choose(page.editors["model"].widget, "osmis")
    assert page.editors["max_size"].widget.value() == for_osmis["max_size"]
    assert page.config() == build_config("quick") and page.preset_combo.currentText() == "quick"
    _choose(page.editors["model"].widget, "renderer")
    assert page.config() == build_config("quick", overrides={"model": "renderer"})

    # an option the user changed stays as the user set it when the model changes
    page.editors["iters"].widget.setValue(77)
    assert page.preset_combo.currentText() == "custom"
    _choose(page.editors["model"].widget, "osmis")
    assert page.config() == build_config("quick", overrides={"iters": 77})

    # Defaults: the chosen model's
    _choose(page.editors["model"].widget, "renderer")
    page.reset_button.click()
    assert page.config() == build_config(overrides={"model": "renderer"})
