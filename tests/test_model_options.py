"""Options that the chosen model does not read are refused when given explicitly (flag, config file, library
overrides), never silently ignored; presets, saved configs and the two-stage job give each model its own options.
The `model` marker of each config field (osmis_core/config.py) is THE fact; the equivalence tests below check it
against what the trainers really read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import TINY, osmis_cli
from test_renderer_training import TINY_RENDERER

from osmis_core.application.session import resume_training, start_training
from osmis_core.cli import main
from osmis_core.config import (
    FIELDS,
    OsmisConfig,
    build_config,
    model_reads,
    option_type,
    preset_names,
    preset_options,
    save_config_file,
)
from osmis_core.errors import ConfigError
from osmis_core.training.trainer import model_parts


def test_cli_refuses_an_osmis_option_for_the_renderer_and_the_reverse(scene, tmp_path, capsys):
    p = osmis_cli(
        capsys, "train", scene, "--model", "renderer", "--ch-g", "16", "--iters", "1", "--out", tmp_path / "r"
    )
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == "error: --ch-g does not apply to --model renderer; its generator width is --ch-r."
    p = osmis_cli(capsys, "train", scene, "--ch-rd", "8", "--iters", "1", "--out", tmp_path / "o")
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == "error: --ch-rd does not apply to --model osmis; its discriminator width is --ch-d."
    p = osmis_cli(capsys, "train", scene, "--model", "renderer", "--no-masks", "--iters", "1", "--out", tmp_path / "m")
    assert p.returncode == 2 and "--no-masks does not apply to --model renderer" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists() and not (tmp_path / "m").exists()


def test_library_overrides_and_words_are_checked():
    with pytest.raises(ConfigError, match=r"^--spade-hidden does not apply to --model osmis \(only renderer runs"):
        build_config(overrides={"spade_hidden": 16})
    # a word counts as the options it stands for: p_aug 'adaptive' turns on ada, which only OSMIS reads
    with pytest.raises(ConfigError, match=r"^--p-aug adaptive does not apply to --model renderer.*--ada"):
        build_config(overrides={"model": "renderer", "p_aug": "adaptive"})
    # shared options are fine for both
    assert build_config(overrides={"model": "renderer", "p_aug": 0.3, "lr_g": 1e-3}).augmentation.p_aug == 0.3


@pytest.mark.parametrize("model", ["osmis", "renderer"])
@pytest.mark.parametrize("preset", preset_names())
def test_presets_give_each_model_only_its_options(preset, model):
    assert all(model_reads(k, model) for k in preset_options(preset, model))
    assert build_config(preset, None, {"model": model}).model == model


def test_config_files_saved_configs_and_run_json(tmp_path):
    # a saved config (the app's Save, a run.json) lists every option: values at their defaults say nothing
    save_config_file(OsmisConfig(), tmp_path / "all.json")
    assert build_config(config_file=tmp_path / "all.json", overrides={"model": "renderer"}).model == "renderer"
    run_json = {"config": OsmisConfig().replace(**{k: v for k, v in TINY_RENDERER.items()}).to_dict()}
    (tmp_path / "run.json").write_text(json.dumps(run_json))
    assert build_config(config_file=tmp_path / "run.json").renderer.ch_r == 4
    # a value set in the file is the user's
    (tmp_path / "c.json").write_text(json.dumps({"model": "renderer", "generator": {"ch_g": 8}}))
    with pytest.raises(ConfigError) as err:
        build_config(config_file=tmp_path / "c.json")
    assert str(err.value) == (
        f"{tmp_path / 'c.json'}: option 'ch_g' does not apply to model 'renderer'; its generator width is option "
        "'ch_r'."
    )


def test_two_stage_gives_each_model_its_options():
    flags = {"ch_g": 8, "ch_r": 4, "lr_g": 1e-3, "masks": True}
    osmis_config = build_config(None, None, flags, also_for="renderer")
    renderer_config = build_config(None, None, {**flags, "model": "renderer"}, also_for="osmis")
    assert (osmis_config.generator.ch_g, osmis_config.renderer.ch_r) == (8, OsmisConfig().renderer.ch_r)
    assert (renderer_config.renderer.ch_r, renderer_config.generator.ch_g) == (4, OsmisConfig().generator.ch_g)
    assert osmis_config.optimisation.lr_g == renderer_config.optimisation.lr_g == 1e-3


def test_resume_and_bench_refuse_options_the_run_does_not_read(scene, tmp_path, capsys):
    trainer = start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), scene, tmp_path / "run")
    list(trainer.run())
    with pytest.raises(ConfigError, match=r"^--compile/--no-compile does not apply to --model renderer"):
        resume_training(tmp_path / "run", {"compile": True, "iters": 3})
    assert main(["train", str(tmp_path / "run"), "--resume", "--eval-every", "5"]) == 2
    assert "--eval-every does not apply to --model renderer" in capsys.readouterr().err
    # bench's variants: 'fast' changes nothing the renderer does not read, 'eager' does
    assert main(["bench", str(scene), "--model", "renderer", "--variant", "eager", "--iters", "1"]) == 2
    assert "--variant eager: option 'channels_last' does not apply to model 'renderer'" in capsys.readouterr().err


def _other_value(name: str):
    """A valid value of option `name` other than its default."""
    f = FIELDS[name][1]
    meta, default, t = f.metadata, f.default, option_type(name)
    if t is bool:
        return not default
    if meta["choices"]:
        return next(c for c in meta["choices"] if c != default)
    if t is str:
        return "elsewhere"
    if default is None:
        return int(meta["min"])
    if t is int:
        return default + 1 if meta["max"] is None or default + 1 <= meta["max"] else default - 1
    return (default + meta["max"]) / 2 if meta["max"] is not None else default * 2 + 0.1


def _weights_after_two_steps(config: OsmisConfig, data_path: Path) -> list[torch.Tensor]:
    trainer_class, load_data = model_parts(config)
    device = torch.device("cpu")
    trainer = trainer_class(config, load_data(config, data_path, None, device), None, device)
    for _ in range(2):
        trainer.train_step()
    return [t.clone() for t in trainer.generator.state_dict().values()]


@pytest.mark.parametrize("model", ["osmis", "renderer"])
def test_options_marked_for_the_other_model_do_not_change_a_run(scene, model):
    """Every option marked as the other model's changed at once: the same weights after two steps (so the refusal
    above never refuses an option that matters)."""
    base = build_config(overrides=TINY_RENDERER if model == "renderer" else {**TINY, "eval_every": 1000})
    other = {name: _other_value(name) for name in FIELDS if not model_reads(name, model)}
    assert other and "model" not in other
    changed = base.replace(**other)
    a, b = _weights_after_two_steps(base, scene), _weights_after_two_steps(changed, scene)
    assert len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
