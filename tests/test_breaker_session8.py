"""Breaker session 8 (today's changes: R1 --r1-gamma/--r1-every, the learning-rate schedule --lr-decay-from,
`osmis run --checkpoint`, Renderer.fit_layout of boolean maps): one small test per finding (tiny settings, CPU); a
finding still open is an xfail(strict=True) test that asserts the right behaviour, so it passes once fixed."""


import pytest
from helpers import TINY, tiny_flags

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import start_training
from osmis_core.cli import main
from osmis_core.config import OsmisConfig


def _run_job(scene, run, *extra):
    """`osmis run` with a tiny model, 4 iterations, a 2-image gallery and the cheapest metric."""
    flags = tiny_flags(iters=4)
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
    ] + [
        *flags,
        *extra,
    ]


def _trained(scene, run, **options):
    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none", **options})
    list(start_training(config, scene, run).run())
    return run


@pytest.mark.xfail(
    strict=True,
    reason="breaker8 #1: osmis run --resume --checkpoint best on a run that keeps no best checkpoint trains on "
    "first, then fails at the gallery (the 'refused before training' check is skipped on --resume)",
)
def test_run_resume_refuses_checkpoint_best_before_training_when_the_run_keeps_none(scene, tmp_path, capsys):
    run = _trained(scene, tmp_path / "run")
    code = main(_run_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--resume", "--checkpoint", "best"))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert RunFolder(run).checkpoint_steps() == [2], "trained on before refusing"
    assert len(err.splitlines()) == 1 and "--checkpoint best" in err, err


@pytest.mark.xfail(
    strict=True,
    reason="breaker8 #2: osmis run --checkpoint 3 (checkpoints every 2 iterations: step 3 is never saved) trains "
    "the whole run, then fails at the gallery and leaves a run folder behind",
)
def test_run_refuses_a_step_that_training_never_saves_before_training(scene, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_run_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--checkpoint", "3")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint" in err and "3" in err, err
    assert not run.exists()


@pytest.mark.xfail(
    strict=True,
    reason="breaker8 #3: osmis run --checkpoint best --eval-every 10 --iters 4 passes the 'refused before "
    "training' check (keeps_best is true), but no evaluation falls in the run, so no best.pt: it trains, then fails",
)
def test_run_refuses_checkpoint_best_when_no_evaluation_falls_in_the_run(scene, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_run_job(scene, run, "--eval-every", "10", "--keep-best", "diversity", "--checkpoint", "best")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint best" in err, err
    assert not run.exists()
