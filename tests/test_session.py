"""The session use cases: the resumable options, the run-folder naming rule, RunDescription / InspectReport."""

import json

import pytest
from helpers import TINY, folder_bytes

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import (
    RESUMABLE_OPTIONS,
    InspectReport,
    inspect_data,
    new_run_dir,
    resume_training,
    start_training,
)
from osmis_core.cli import main
from osmis_core.config import FIELDS, OsmisConfig
from osmis_core.errors import ConfigError
from osmis_core.events import CheckpointSaved, TrainControl, TrainingStarted


def _config(**extra):
    return OsmisConfig().replace(**{**TINY, **extra})


def test_resumable_options_are_config_options_and_include_the_compute_switches():
    assert set(RESUMABLE_OPTIONS) <= set(FIELDS)
    assert {"precision", "compile", "compile_mode", "channels_last", "fast_upsample", "iters", "device"} <= set(
        RESUMABLE_OPTIONS
    )
    # what the model is stays fixed; the learning rates may change (the way out of a divergence, issue 12)
    assert not {"ch_g", "max_size", "seed", "batch_size", "masks", "beta1", "ada"} & set(RESUMABLE_OPTIONS)
    assert {"lr_g", "lr_d"} <= set(RESUMABLE_OPTIONS)


def test_run_folder_naming_rule(tmp_path):
    data = tmp_path / "data" / "beach.png"
    assert new_run_dir(data, tmp_path / "runs") == tmp_path / "runs" / "beach"
    (tmp_path / "runs" / "beach").mkdir(parents=True)
    assert new_run_dir(data, tmp_path / "runs") == tmp_path / "runs" / "beach-001"
    (tmp_path / "runs" / "beach-001").mkdir()
    assert new_run_dir(data, tmp_path / "runs") == tmp_path / "runs" / "beach-002"


def test_resume_takes_every_resumable_option_and_refuses_others(scene, tmp_path):
    trainer = start_training(_config(iters=2), scene, tmp_path / "run")
    list(trainer.run())
    changed = {
        "iters": 3,
        "log_every": 3,
        "preview_every": 5,
        "checkpoint_every": 7,
        "keep_checkpoints": 9,
        "device": "cpu",
        "channels_last": False,
        "fast_upsample": False,
        "precision": "bf16",
        "compile": False,
        "compile_mode": "max-autotune",
        "lr_g": 5e-5,
        "lr_d": 1e-4,
        "eval_every": 3,  # at most iters: a run with keep_best evaluates at least once
        "keep_best": "diversity",
        "on_collapse": "stop",
        "tensorboard": False,
    }
    assert set(changed) == set(RESUMABLE_OPTIONS)
    with resume_training(tmp_path / "run", changed) as again:  # closed: it holds the run until then
        assert {k: again.config.flat()[k] for k in changed} == changed
    saved = OsmisConfig.from_dict(json.loads((tmp_path / "run" / "run.json").read_text())["config"])
    assert {k: saved.flat()[k] for k in changed} == changed
    with pytest.raises(ConfigError, match="ch_g"):
        resume_training(tmp_path / "run", {"ch_g": 8})


def test_resume_refuses_iters_the_run_has_already_reached(scene, tmp_path):
    """A length at or below the checkpoint's step leaves nothing to train and would make run.json say the run is
    shorter than it is: refused before anything is written, typed (naming --iters) or not (a library caller, the
    app). The run's own iters asked again is no change: a finished run resumes with nothing to train."""
    run = tmp_path / "run"
    control = TrainControl()
    for event in start_training(_config(iters=6, checkpoint_every=2), scene, run).run(control):
        if isinstance(event, CheckpointSaved) and event.step == 2:
            control.request_stop()  # a run stopped at step 2 of 6
    assert RunFolder(run).latest_step() == 2
    before = folder_bytes(run)
    with pytest.raises(ConfigError, match=r"^--iters 2: .* already at step 2; give a larger --iters"):
        resume_training(run, {"iters": 2}, typed={"iters"})
    with pytest.raises(ConfigError, match=r"^iters 1: .* already at step 2"):
        resume_training(run, {"iters": 1}, typed=())
    assert folder_bytes(run) == before
    assert resume_training(run, {"iters": 3}, typed={"iters"}).config.run.iters == 3


def test_run_started_sentence_is_one_summary(scene, tmp_path, capsys):
    trainer = start_training(_config(iters=1), scene, tmp_path / "run")
    started = next(iter(trainer.run()))
    assert isinstance(started, TrainingStarted)
    d = started.description
    text = started.summary()
    assert text.startswith("started at iteration 0 of 1 in ")
    assert f"G {d.params_g:,} / D {d.params_d:,} parameters" in text and "classes=3" in text
    # the CLI prints that same sentence
    assert (
        main(
            [
                "train",
                str(scene),
                "--out",
                str(tmp_path / "cli"),
                "--iters",
                "1",
                "--quiet",
                *sum((["--" + k.replace("_", "-"), str(v)] for k, v in TINY.items()), []),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert f"started at iteration 0 of 1 in {tmp_path / 'cli'}: {d.summary()}" in err


def test_inspect_report_summary_and_json(scene, capsys):
    report = inspect_data(scene, None, _config())
    assert isinstance(report, InspectReport) and report.num_classes == 3
    assert (
        main(
            [
                "inspect",
                str(scene),
                "--max-size",
                str(TINY["max_size"]),
                "--ch-g",
                "4",
                "--ch-d",
                "4",
                "--noise-dim",
                "8",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == report.summary()
    assert (
        main(
            [
                "inspect",
                str(scene),
                "--max-size",
                str(TINY["max_size"]),
                "--ch-g",
                "4",
                "--ch-d",
                "4",
                "--noise-dim",
                "8",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report.to_dict()))
