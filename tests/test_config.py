import json
import subprocess
import sys
from pathlib import Path

import pytest

from osmis_core.config import (
    RENDERER_DEFAULTS,
    OsmisConfig,
    build_config,
    load_config_file,
    preset_config,
    preset_names,
)
from osmis_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_are_the_papers():
    c = OsmisConfig()
    assert (c.data.max_size, c.optimisation.batch_size, c.generator.ch_g, c.discriminator.ch_d) == (330, 5, 32, 32)
    assert (c.generator.noise_dim, c.optimisation.lr_g, c.optimisation.beta1, c.optimisation.ema_decay) == (
        64,
        2e-4,
        0.5,
        0.9999,
    )
    assert (c.regularisation.lambda_dr, c.regularisation.bernoulli_warmup, c.augmentation.p_con) == (0.15, 15000, 0.4)


def test_presets():
    assert {"quick", "paper"} <= set(preset_names())
    paper = build_config("paper")
    assert paper.run.iters == 150000 and paper.data.max_size == 330
    quick = build_config("quick")
    assert quick.run.iters < 10000


def test_preset_config_resolves_a_preset_per_model():
    """What the app's form shows for a preset: the preset file's values for the model (its renderer_runs mapping for
    renderer runs) over that model's defaults, as build_config resolves them."""
    for name in preset_names():
        data = json.loads((REPO / "resources" / "presets" / f"{name}.json").read_text())
        osmis, renderer = preset_config(name), preset_config(name, "renderer")
        assert osmis == build_config(name) and renderer == build_config(name, overrides={"model": "renderer"})
        assert renderer.model == "renderer" and osmis.model == "osmis"
        for key, value in data.get("renderer_runs", {}).items():
            if not key.startswith("_"):
                assert renderer.flat()[key] == value
        expected_lr_d = data.get("renderer_runs", {}).get("lr_d", RENDERER_DEFAULTS["lr_d"])
        assert renderer.optimisation.lr_d == expected_lr_d  # OSMIS's tuned lr_d never leaks into a renderer run
    assert preset_config(None, "renderer") == build_config(overrides={"model": "renderer"})
    assert preset_config(None) == OsmisConfig()
    with pytest.raises(ConfigError, match="model"):
        preset_config("quick", "gauGAN")


def test_precedence_and_file_formats(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"optimisation": {"lr_g": 1e-3}, "seed": 7}))
    (tmp_path / "c.toml").write_text("[run]\nseed = 9\n")
    c = build_config("quick", tmp_path / "c.json", {"seed": 8})
    assert c.optimisation.lr_g == 1e-3 and c.run.seed == 8 and c.generator.ch_g == 16
    assert load_config_file(tmp_path / "c.toml") == {"seed": 9}


def test_a_rule_between_options_of_one_config_file_names_the_file_once(tmp_path):
    """A rule broken by several options of one config file is one sentence that names the file once (each option
    after the first is named by its own name), and a typed flag is still named by its flag."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"keep_best": "diversity", "eval_every": 100, "iters": 5}))
    with pytest.raises(ConfigError) as refused:
        build_config(None, config)
    message = str(refused.value)
    assert message.count(str(config)) == 1, message
    assert "option 'keep_best'" in message and "option 'eval_every' = 100" in message and "option 'iters'" in message
    with pytest.raises(ConfigError) as refused:
        build_config(None, config, {"iters": 5})
    message = str(refused.value)
    assert message.count(str(config)) == 1 and "--iters = 5" in message, message


def test_validation_messages():
    with pytest.raises(ConfigError, match="loss.*one of"):
        OsmisConfig().replace(loss="l2")
    with pytest.raises(ConfigError, match="batch_size.*at least 1"):
        OsmisConfig().replace(batch_size=0)
    with pytest.raises(ConfigError, match="unknown option 'optimisation.lr_gg'"):
        OsmisConfig.from_dict({"optimisation": {"lr_gg": 1}})


def test_run_json_round_trip():
    c = OsmisConfig().replace(ch_g=8, masks=False)
    assert OsmisConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_engine_never_imports_qt():
    code = (
        "import sys, osmis_core.cli, osmis_core.training.trainer, osmis_core.application.gallery; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'superqt', 'pyqtgraph')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
