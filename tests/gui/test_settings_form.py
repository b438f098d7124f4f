"""The settings form: every engine option with its default, presets, validation, save and load."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_settings_form_covers_every_option_with_engine_defaults(window, qtbot, tmp_path):
    from osmis_core.config import FIELDS, OsmisConfig, preset_options

    page = window.settings_page
    assert set(page.editors) == set(FIELDS)
    assert page.config() == OsmisConfig()
    for name, (_, f) in FIELDS.items():
        assert f.metadata["help"] in page.editors[name].widget.toolTip()

    page.apply_preset("quick")
    assert page.config() == OsmisConfig().replace(**preset_options("quick"))
    assert page.preset_combo.currentText() == "quick"

    # validation: a bad number disables training and names the option
    page.editors["lr_g"].widget.setText("0.0x")
    assert page.config() is None and "LR G" in page.error_text()
    assert not page.error_label.isHidden()
    assert not window.training.start_action.isEnabled()
    page.editors["lr_g"].widget.setText("3e-4")
    assert page.config().optimisation.lr_g == pytest.approx(3e-4)
    assert page.preset_combo.currentText() == "custom"

    # save / load round trip through a file
    path = tmp_path / "opts.json"
    page.save_file(path)
    page.reset_defaults()
    assert page.config() == OsmisConfig()
    assert window.load_settings(path)
    assert page.config().optimisation.lr_g == pytest.approx(3e-4)
    assert page.config().run.iters == preset_options("quick")["iters"]

    # optional options ("auto") and choices
    page.set_options(num_blocks_g=6, norm_g="instance", background_color="#00FF00")
    cfg = page.config()
    assert (cfg.generator.num_blocks_g, cfg.generator.norm_g, cfg.data.background_color) == (6, "instance", "#00ff00")
    page.set_options(num_blocks_g=None)
    assert page.config().generator.num_blocks_g is None


def test_the_form_refuses_options_without_effect_with_the_engines_sentence(window):
    """The form validates through the engine's config (OsmisConfig.with_options): an option that has no effect with
    the others is refused with the library's sentence, naming the options by the form's labels, and training
    cannot start."""
    from osmis_core.config import OsmisConfig, option_label
    from osmis_core.errors import ConfigError

    page = window.settings_page
    for edits in ({"keep_best": "diversity", "eval_every": 0}, {"ada_target": 0.9}, {"ada": True, "augment": False}):
        page.apply_preset("quick")
        for name, value in edits.items():
            page.editors[name].set_value(value)
            page.editors[name].changed.emit(name)  # as the user's edit does
        with pytest.raises(ConfigError) as refused:
            OsmisConfig().with_options(edits, name_as=option_label)
        sentence = str(refused.value)
        assert page.config() is None
        assert page.error_text() == sentence[0].upper() + sentence[1:]
        assert not window.training.start_action.isEnabled()


def test_a_run_saved_before_todays_rules_is_shown_valid_and_edits_are_checked(window):
    """A run saved with --no-augment --p-aug 0.5 (accepted before the no-effect rules, breaker7 #3) is shown as a
    valid configuration to continue; an edit that leaves p_aug without effect now is refused."""
    from osmis_core.config import OsmisConfig

    page = window.settings_page
    saved = OsmisConfig.from_dict({"augmentation": {"augment": False, "p_aug": 0.5}})
    page.set_config(saved)
    assert page.config() == saved and page.error_text() is None
    page.set_options(p_aug=0.6)
    assert page.config() is None and "p_aug" in page.error_text()
