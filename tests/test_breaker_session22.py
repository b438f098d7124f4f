"""Findings of breaker session 22: the engine's side (CPU, tiny settings)."""

from __future__ import annotations

import pytest

from osmis_core.batch.sources import source_config
from osmis_core.config import OsmisConfig, option_label
from osmis_core.errors import ConfigError


def test_with_options_names_the_noise_channels_rule_as_its_caller_does():
    """noise_spatial above noise_dim is refused naming the options as the caller names them (a form's labels, a
    batch's flag), as every other rule between options: the copy's own check named them "option 'NAME'"."""
    base = OsmisConfig().replace(model="renderer", noise_dim=4)
    with pytest.raises(ConfigError) as form:
        base.with_options({"noise_spatial": 6}, name_as=option_label)
    assert str(form.value).startswith("Per-pixel noise channels (6)") and "Noise dim (4)" in str(form.value)
    with pytest.raises(ConfigError, match="the batch's --noise-dim"):
        source_config(base, {"noise_spatial": 6}, typed={"noise_dim"})


def test_a_repeat_differing_only_in_tensorboard_is_told_to_put_it_on_the_source_listed_first(tmp_path):
    """An entry that differs from another only in tensorboard is a repeat, and it is not trained: the user who
    asked for TensorBoard's logs there is told to ask for them on the source that trains ("give other options"
    read as if tensorboard were none)."""
    import json

    from helpers import write_scene

    from osmis_core.batch.sources import list_sources

    scene = write_scene(tmp_path)
    entry = {"data": str(scene / "image" / "00000.png"), "mask": str(scene / "mask" / "00000.png"), "name": "a"}
    listed = [entry, {**entry, "name": "b", "options": {"tensorboard": True}}]
    (tmp_path / "list.json").write_text(json.dumps(listed), encoding="utf-8")
    problem = list_sources(tmp_path / "list.json", lambda o: source_config(OsmisConfig(), o).flat())[1].problem
    assert problem.endswith(
        "it would train the same model twice: list it once, with the tensorboard you want on the source 'a'."
    )
    assert "give other options" not in problem


def test_a_renderer_run_json_whose_model_was_taken_out_is_not_said_to_name_one(tiny_renderer_run, tmp_path, capsys):
    """run.json with "model" removed is read as the default (osmis): the refusal says run.json names no model, not
    that it says "model": "osmis", which the user would look for there in vain."""
    import json
    import shutil
    from pathlib import Path

    from helpers import osmis_cli

    run = Path(shutil.copytree(tiny_renderer_run[0], tmp_path / "run"))
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    del info["config"]["renderer"]["model"]
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")
    r = osmis_cli(capsys, "generate", run, "--n", "1", "--device", "cpu")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert 'names no "model" (read as "osmis")' in r.stderr and '"model": "renderer"' in r.stderr, r.stderr
    assert "says" not in r.stderr and not (run / "galleries").exists()


def test_a_batch_flag_typed_at_its_default_counts_against_a_row_that_turns_it_off():
    """`osmis batch ... --lecam-weight 0.1 --lecam-decay 0.99` with a row lecam_weight 0: the batch's typed
    --lecam-decay has no effect on that row and is refused naming it, as `osmis train --lecam-weight 0 --lecam-decay
    0.99` is; a typed flag counted only where it differed from its default (0.9 refused, 0.99 accepted)."""
    base = OsmisConfig().replace(lecam_weight=0.1)
    with pytest.raises(ConfigError, match=r"the batch's --lecam-decay .* option 'lecam_weight' = 0"):
        source_config(base, {"lecam_weight": 0.0}, typed={"lecam_weight", "lecam_decay"})
    source_config(base, {"lecam_weight": 0.0}, typed={"lecam_weight"})  # lecam_decay not typed: nothing to refuse


def test_a_run_folder_given_as_a_batch_s_sources_is_named_as_one(trained, tmp_path, capsys):
    """`osmis batch RUN` (a run folder, with or without its run.json) says what the folder is, as `osmis train RUN`
    does, instead of "holds no sources"; nothing is written."""
    from helpers import osmis_cli

    r = osmis_cli(capsys, "batch", trained, "--out", tmp_path / "batch")
    assert r.returncode == 2 and "is a run folder (it holds run.json)" in r.stderr, r.stderr
    (trained / "run.json").unlink()
    r = osmis_cli(capsys, "batch", trained, "--out", tmp_path / "batch")
    assert r.returncode == 2 and "looks like a run folder whose run.json is missing" in r.stderr, r.stderr
    assert not (tmp_path / "batch").exists()


def test_a_value_far_above_usual_is_warned_about_by_the_flag_that_gave_it(scene, capsys):
    """Fixed (fix22b): `osmis inspect DATA --lr-d 1e20` warns naming --lr-d, as every refusal of a typed flag names
    the flag (the app's form names its label)."""
    from helpers import osmis_cli

    r = osmis_cli(capsys, "inspect", scene, "--lr-d", "1e20")
    assert "far above usual values" in r.stderr and "--lr-d" in r.stderr, r.stderr


def test_training_data_that_holds_a_stats_jsonl_is_not_called_a_run_folder_that_lost_its_run_json(scene, capsys):
    """A folder of training data with a file named stats.jsonl beside it trains as data, and `osmis generate` on it
    says it is no run folder, not that it "looks like a run folder whose run.json is missing" (a run folder never
    holds its pictures as data does)."""
    from helpers import osmis_cli

    (scene / "stats.jsonl").write_text("{}\n", encoding="utf-8")
    r = osmis_cli(capsys, "generate", scene, "--n", "1")
    assert r.returncode == 2 and "not a run folder (no run.json)" in r.stderr, r.stderr
    assert "looks like a run folder" not in r.stderr
    r = osmis_cli(capsys, "inspect", scene)
    assert r.returncode == 0, r.stderr


def test_a_new_run_is_not_started_over_a_run_folder_that_lost_its_run_json(trained, scene, tmp_path, capsys):
    """`osmis train DATA --out RUN` (and `osmis run`) where RUN lost its run.json started a new run in it, writing
    its checkpoints over the lost run's (step 2 replaced, step 4 kept: two runs mixed); and `--resume` said "not a
    run folder ... leave out --resume to start it", which led there. Both now name the folder as a run whose
    run.json is missing (exit 2) and leave it as it was."""
    from helpers import osmis_cli, tiny_flags

    (trained / "run.json").unlink()
    before = {p: p.read_bytes() for p in trained.rglob("*") if p.is_file()}
    for argv in (
        ["train", scene, "--out", trained, "--quiet", *tiny_flags(iters=2)],
        ["run", scene, "--out", trained, "--n", "1", "--random-weights", "--metrics", "diversity", "--quiet"],
        ["train", trained, "--resume"],
        ["run", scene, "--out", trained, "--resume", "--n", "1"],
    ):
        r = osmis_cli(capsys, *argv)
        assert r.returncode == 2 and "looks like a run folder whose run.json is missing" in r.stderr, (argv, r.stderr)
        assert "leave out --resume" not in r.stderr
    assert {p: p.read_bytes() for p in trained.rglob("*") if p.is_file()} == before


def test_a_start_killed_before_its_run_json_is_started_again_not_called_a_lost_run(scene, tmp_path, capsys):
    """A start killed while it wrote run.json (RunFolder.create made checkpoints/ and samples/ first) leaves a
    folder with empty checkpoints/ and a temporary of run.json: no run to lose there. `osmis train DATA --out RUN`
    starts in it and removes the temporary, as before the run.json-missing rule (tests/test_faults.py's
    kill-mid-write case found this: the rule refused that folder)."""
    from helpers import osmis_cli, tiny_flags

    run = tmp_path / "run"
    for d in ("checkpoints", "samples"):
        (run / d).mkdir(parents=True)
    (run / ".run.json.k1ll3d_x.tmp").write_text("{")
    r = osmis_cli(capsys, "train", scene, "--out", run, "--quiet", *tiny_flags(iters=2))
    assert r.returncode == 0, r.stderr
    assert (run / "run.json").is_file() and not list(run.glob(".*.tmp"))
    # a checkpoints/ that holds a checkpoint is a run's, whatever else is missing
    (run / "run.json").unlink()
    r = osmis_cli(capsys, "train", scene, "--out", run, "--quiet", *tiny_flags(iters=2))
    assert r.returncode == 2 and "looks like a run folder whose run.json is missing" in r.stderr, r.stderr


def test_evaluate_names_a_run_folder_that_lost_its_run_json(trained, scene, capsys):
    """`osmis evaluate RUN` where RUN lost its run.json: named as such a run folder, as generate and train name it,
    not "the gallery holds no images"."""
    from helpers import osmis_cli

    (trained / "run.json").unlink()
    r = osmis_cli(capsys, "evaluate", trained, "--real", scene, "--random-weights", "--metrics", "diversity")
    assert r.returncode == 2 and "looks like a run folder whose run.json is missing" in r.stderr, r.stderr
    assert "or give one of its galleries" in r.stderr
