"""Findings left open by earlier testers, fixed on branch fix22b: one small test each (tiny settings, CPU)."""

from __future__ import annotations

import json

from helpers import osmis_cli

from osmis_core.config import OsmisConfig, config_warnings, flag_naming, option_label


def test_a_value_far_above_usual_is_named_by_whoever_gave_it():
    """config_warnings names an option as the caller says: the CLI by the flag typed (flag_naming), the app's form by
    the field's label (option_label); a library caller without a naming gets "option 'NAME'"."""
    config = OsmisConfig().replace(lr_g=1.0, lr_d=1e20)
    assert [w.split(" = ")[0] for w in config_warnings(config)] == ["option 'lr_g'", "option 'lr_d'"]
    assert [w.split(" = ")[0] for w in config_warnings(config, option_label)] == ["LR G", "LR D"]
    typed = flag_naming({"lr_d": 1e20})
    assert [w.split(" = ")[0] for w in config_warnings(config, typed)] == ["option 'lr_g'", "--lr-d"]


def test_inspect_names_a_typed_flag_by_the_flag_and_a_config_files_option_by_the_option(scene, tmp_path, capsys):
    """`osmis inspect DATA --config C --lr-g 1` with C setting lr_d far above usual: the flag typed is named as
    typed (--lr-g), the file's option as the file's (option 'lr_d'), each in its own warning."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"lr_d": 5.0}), encoding="utf-8")
    r = osmis_cli(capsys, "inspect", scene, "--config", config, "--lr-g", "1")
    assert r.returncode == 0, r.stderr
    assert "--lr-g = 1 is far above usual values" in r.stderr, r.stderr
    assert "option 'lr_d' = 5 is far above usual values" in r.stderr, r.stderr
    assert "option 'lr_g'" not in r.stderr, r.stderr
