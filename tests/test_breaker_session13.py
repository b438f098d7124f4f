"""Breaker session 13 (runs stored before the count limit, two-stage resume, keep_best against eval_every and iters):
one small test per finding (tiny settings, CPU); a finding still open is an xfail(strict=True) test that asserts the
right behaviour, so it passes once fixed.

Tried and right: every count option stored above the limit (eval_every, checkpoint_every, preview_every, log_every,
keep_checkpoints; max_frames, r1_every, bernoulli_warmup, ada_images, which cannot change on resume) in run.json and
the checkpoints, run.json only or checkpoints only: the run generates; a resume without the option is refused in one
sentence naming the file and the flag, with it (a resumable one) it trains on; one that cannot change is refused
(run.json and checkpoint disagreeing: "another config than run.json"). Stored negative, float (1e+20), string or
bool counts are named as bad values, not read (no earlier version stored them). Two-stage resume: a renderer option
its run cannot change (--spade-hidden), a damaged renderer checkpoint or run.json are refused before the OSMIS stage
trains; a missing renderer stage trains from scratch; a valid --iters trains both; --sifid-dims too deep for the
images is refused before training (new and resumed two-stage jobs). --threads above the CPUs and 0, --batch-size
1025 and 0 are refused in one sentence. A config file with keep_best and an eval_every above its iters is refused
naming the file; --preset short --iters 500 (keep_best at its default) is taken; a longer --iters on a run stored
with keep_best and eval_every above its iters resumes. `osmis run --resume` of a run stored with iters 1e20: refused
without --iters, with it trains, and run.json's resume_changes and log.txt say "from 1e20 to N". Every float option
refuses nan and inf; animate --fps/--frames, generate --n and --seed are bounded in one sentence.
"""

from __future__ import annotations

import pytest
from helpers import store_run_options

from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main
from osmis_core.config import COUNT_LIMIT


@pytest.fixture
def tiny_run(two_iteration_copy):
    return two_iteration_copy


def test_a_resume_refused_by_the_runs_own_keep_best_says_they_are_the_runs(tiny_run, capsys):
    """Fixed here: a run stored by an earlier version with keep_best diversity and eval_every 10 (legal then),
    resumed with `--iters 4`, was refused with "option 'keep_best' = 'diversity' ..., but option 'eval_every' = 10
    computes none in a run of --iters = 4": the user typed neither, and the sentence did not say they were the
    run's own settings. A longer --iters (an evaluation within it) resumes."""
    store_run_options(tiny_run, keep_best="diversity", eval_every=10)
    assert main(["train", str(tiny_run), "--resume", "--quiet", "--iters", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "the run's option 'keep_best'" in err and "the run's option 'eval_every'" in err and "--iters" in err
    assert RunFolder(tiny_run).checkpoint_steps() == [2]
    assert main(["train", str(tiny_run), "--resume", "--quiet", "--iters", "10"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", ["eval_every", "checkpoint_every", "keep_checkpoints"])
def test_a_count_stored_above_the_limit_resumes_with_its_flag_and_generates(tiny_run, tmp_path, capsys, name):
    """Tried and right: a resumable count other than iters stored above the limit: refused without its flag (one
    sentence naming run.json and the flag), resumed with it, and the change recorded from the stored value."""
    store_run_options(tiny_run, **{name: COUNT_LIMIT * 10})
    flag = "--" + name.replace("_", "-")
    assert main(["train", str(tiny_run), "--resume", "--quiet", "--iters", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tiny_run / "run.json") in err and flag in err, err
    assert main(["train", str(tiny_run), "--resume", "--quiet", "--iters", "4", flag, "2"]) == 0
    changes = RunFolder(tiny_run).read_run_json()["resume_changes"]
    assert {"option": name, "from": COUNT_LIMIT * 10, "to": 2} in [
        {k: c[k] for k in ("option", "from", "to")} for c in changes
    ]
    assert main(["generate", str(tiny_run), "--n", "1", "--out", str(tmp_path / "g")]) == 0


@pytest.mark.parametrize(
    ("flag", "value"), [("--cpus-per-run", "nan"), ("--cpus-per-run", "inf"), ("--gpus-per-run", "nan")]
)
def test_batch_resources_of_nan_or_inf_are_refused_before_anything_starts(scene, tmp_path, capsys, flag, value):
    """Fixed here: `osmis batch --cpus-per-run nan` passed the "above 0" check (nan <= 0 is false): the batch folder
    was made and a local Ray started before "no Ray node has nan CPU(s)" refused it. Refused at once, in one
    sentence naming the flag, nothing written."""
    out = tmp_path / "batch"
    assert main(["batch", str(scene), "--out", str(out), flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err, err
    assert not out.exists()


def test_a_run_json_stored_before_the_limit_starts_a_new_run_with_a_given_iters(tiny_run, scene, capsys):
    """Fixed here: `--config RUN/run.json` (how osmis says to start a run killed before its first checkpoint again)
    with iters 1e20 stored by an earlier version was refused even with `--iters 5`, which replaces the file's value;
    the flag now takes its place, as on resume. Without it the file is refused naming run.json and 'iters'."""
    store_run_options(tiny_run, iters=10**20)
    config = str(tiny_run / "run.json")
    assert main(["inspect", str(scene), "--config", config, "--iters", "5"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["inspect", str(scene), "--config", config]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and config in err and "'iters'" in err, err
