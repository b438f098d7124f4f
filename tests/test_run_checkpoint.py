"""`osmis run --checkpoint`: the main job's gallery from the best checkpoint kept during training, a step, or latest."""

from __future__ import annotations

import json

import pytest
from helpers import run_job

from osmis_core.application.runfolder import RunFolder, check_checkpoint_will_exist
from osmis_core.cli import main
from osmis_core.config import OsmisConfig
from osmis_core.errors import OsmisError


def test_run_generates_from_the_best_checkpoint(scene, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run = tmp_path / "run"
    assert main(run_job(scene, run, "--eval-every", "2", "--keep-best", "diversity", "--checkpoint", "best")) == 0, (
        capsys.readouterr().err
    )
    best = RunFolder(run).read_best()
    (gallery,) = RunFolder(run).gallery_dirs()
    assert json.loads((gallery / "manifest.json").read_text())["checkpoint_step"] == best["step"]
    assert gallery.name.startswith(f"step_{best['step']:07d}-")


def test_run_generates_from_a_step(scene, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run = tmp_path / "run"
    assert main(run_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--checkpoint", "2")) == 0
    (gallery,) = RunFolder(run).gallery_dirs()
    assert json.loads((gallery / "manifest.json").read_text())["checkpoint_step"] == 2


def test_run_refuses_best_when_training_keeps_none_before_training(scene, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(run_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--checkpoint", "best")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint best" in err and "keeps none" in err, err
    assert not run.exists()


def test_run_refuses_an_odd_checkpoint_name_before_training(scene, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(run_job(scene, run, "--checkpoint", "newest")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint" in err and "'newest'" in err, err
    assert not run.exists()


@pytest.mark.parametrize(
    "options, which, kept",
    [
        (dict(iters=10, checkpoint_every=3, keep_checkpoints=2), 9, True),
        (dict(iters=10, checkpoint_every=3, keep_checkpoints=2), 10, True),  # the last step is always saved
        (dict(iters=10, checkpoint_every=3, keep_checkpoints=2), 6, False),  # saved, then pruned
        (dict(iters=10, checkpoint_every=3, keep_checkpoints=0), 3, True),  # 0 keeps all
        (dict(iters=10, checkpoint_every=3, keep_checkpoints=0), 4, False),  # never saved
        (dict(iters=10, eval_every=5), "best", True),
        (dict(iters=4, eval_every=5), "best", False),  # no evaluation within the run
        (dict(iters=10, eval_every=0, keep_best="none"), "best", False),
        (dict(iters=10, eval_every=0, keep_best="none"), "latest", True),
    ],
)
def test_which_checkpoints_a_new_run_will_leave(options, which, kept):
    config = OsmisConfig().replace(**options)
    if kept:
        check_checkpoint_will_exist(which, config)
    else:
        with pytest.raises(OsmisError, match=f"^--checkpoint {which}"):
            check_checkpoint_will_exist(which, config)
