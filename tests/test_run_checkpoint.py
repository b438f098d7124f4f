"""`osmis run --checkpoint`: the main job's gallery from the best checkpoint kept during training, a step, or latest."""

from __future__ import annotations

import json

from helpers import tiny_flags

from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main


def _job(scene, run, *extra):
    return [
        "run",
        str(scene),
        "--out",
        str(run),
        "--n",
        "2",
        "--quiet",
        "--random-weights",
        "--metrics",
        "diversity",
        "--iters",
        "4",
        *tiny_flags(),
        *extra,
    ]


def test_run_generates_from_the_best_checkpoint(scene, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run = tmp_path / "run"
    assert main(_job(scene, run, "--eval-every", "2", "--keep-best", "diversity", "--checkpoint", "best")) == 0, (
        capsys.readouterr().err
    )
    best = RunFolder(run).read_best()
    (gallery,) = RunFolder(run).gallery_dirs()
    assert json.loads((gallery / "manifest.json").read_text())["checkpoint_step"] == best["step"]
    assert gallery.name.startswith(f"step_{best['step']:07d}-")


def test_run_generates_from_a_step(scene, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run = tmp_path / "run"
    assert main(_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--checkpoint", "2")) == 0
    (gallery,) = RunFolder(run).gallery_dirs()
    assert json.loads((gallery / "manifest.json").read_text())["checkpoint_step"] == 2


def test_run_refuses_best_when_training_keeps_none_before_training(scene, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--checkpoint", "best")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint best" in err and "keeps none" in err, err
    assert not run.exists()


def test_run_refuses_an_odd_checkpoint_name_before_training(scene, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_job(scene, run, "--checkpoint", "newest")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint" in err and "'newest'" in err, err
    assert not run.exists()
