"""Breaker session 11 (the whole-number limit on options, two-stage resume, runs stored before the limit): one small
test per finding (tiny settings, CPU); a finding still open is an xfail(strict=True) test that asserts the right
behaviour, so it passes once fixed."""

from __future__ import annotations

import pytest
from helpers import store_run_options, tiny_flags

from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main
from osmis_core.config import COUNT_LIMIT

HUGE = 10**20  # what an earlier version stored for --iters 1e20 (no limit then)


@pytest.fixture
def tiny_run(two_iteration_copy):
    assert RunFolder(two_iteration_copy).checkpoint_steps() == [2]
    return two_iteration_copy


@pytest.mark.parametrize(("value", "code"), [(COUNT_LIMIT, 0), (COUNT_LIMIT + 1, 2)])
def test_iters_at_the_limit_is_taken_and_one_above_refused(scene, capsys, value, code):
    """Tried and right: 2**31 - 1 is accepted, 2**31 refused in one sentence naming --iters."""
    assert main(["inspect", str(scene), "--preset", "quick", "--iters", str(value)]) == code
    err = capsys.readouterr().err.strip()
    if code:
        assert err.splitlines() == [f"error: --iters must be at most {COUNT_LIMIT}, got {value}."], err


@pytest.mark.parametrize("checkpoints", [False, True])
def test_resume_of_a_run_json_above_the_limit_names_the_file(tiny_run, capsys, checkpoints):
    """Fixed here: a run.json holding iters 1e20 made `--resume` say only "option 'iters' must be at most ...":
    the message did not say the value came from the run's run.json. Without --iters (which would replace it, see
    test_a_run_stored_before_the_limit_resumes_with_a_valid_iters) one sentence names run.json, 'iters' and the
    flag to give, and nothing is trained."""
    store_run_options(tiny_run, checkpoints=checkpoints, iters=HUGE)
    assert main(["train", str(tiny_run), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tiny_run / "run.json") in err and "'iters'" in err, err
    assert "--iters" in err and "damaged" not in err, err
    assert RunFolder(tiny_run).checkpoint_steps() == [2]


def test_a_run_stored_before_the_limit_still_generates(tiny_run, tmp_path, capsys):
    """Fixed here: iters 1e20 stored by a version before the limit (in run.json and the checkpoints) made the
    checkpoints 'damaged' and the run unable to generate, although iters plays no part in generating."""
    store_run_options(tiny_run, iters=HUGE)
    code = main(["generate", str(tiny_run), "--n", "1", "--out", str(tmp_path / "gallery")])
    assert code == 0, capsys.readouterr().err


def test_a_run_stored_before_the_limit_resumes_with_a_valid_iters(tiny_run, capsys):
    """Fixed here: such a run could not resume even with a valid --iters, which replaces the stored value (the
    change is applied before the stored config is checked, and recorded from the stored value)."""
    store_run_options(tiny_run, iters=HUGE)
    assert main(["train", str(tiny_run), "--resume", "--iters", "4", "--quiet"]) == 0, capsys.readouterr().err
    assert RunFolder(tiny_run).checkpoint_steps()[-1] == 4
    info = RunFolder(tiny_run).read_run_json()
    assert info["config"]["run"]["iters"] == 4
    assert {"option": "iters", "from": HUGE, "to": 4} in [
        {k: r[k] for k in ("option", "from", "to")} for r in info["resume_changes"]
    ]


@pytest.mark.parametrize("threads", [COUNT_LIMIT + 1, 100_000])
def test_threads_beyond_the_cpus_is_refused_in_one_sentence(tiny_run, capsys, threads):
    """Fixed here: `--threads 2147483648` (without OMP_NUM_THREADS) ended in a ValueError traceback from
    torch.set_num_threads ("Overflow when unpacking long"), exit code 1; and `--threads 100000` was taken, an
    OpenMP team 100,000 threads strong taking turns on the machine's few CPUs. Any count above the logical CPUs
    osmis may run on (threads.most_threads) is refused in one sentence naming --threads and the largest count."""
    from osmis_core.threads import most_threads

    with pytest.raises(SystemExit) as exit_:
        main(["generate", str(tiny_run), "--n", "1", "--threads", str(threads)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"--threads: must be at most {most_threads()}, the logical CPUs" in err and "Traceback" not in err, err
    assert not (tiny_run / "galleries").exists() or not any((tiny_run / "galleries").iterdir())


def test_generate_batch_size_above_the_largest_is_refused(tiny_run, tmp_path, capsys):
    """Fixed here: `osmis generate --batch-size 1000000000000` was taken (a batch that size only runs out of memory);
    the largest batch (gallery.MAX_BATCH_SIZE) is taken, one above it refused in one sentence, nothing written."""
    from osmis_core.application.gallery import MAX_BATCH_SIZE

    out = tmp_path / "gallery"
    for size, code in ((10**12, 2), (MAX_BATCH_SIZE + 1, 2), (MAX_BATCH_SIZE, 0)):
        argv = ["generate", str(tiny_run), "--n", "1", "--batch-size", str(size), "--out", str(out)]
        assert main(argv) == code
        err = capsys.readouterr().err.strip()
        if code:
            assert err.splitlines() == [err] and "--batch-size" in err and str(MAX_BATCH_SIZE) in err, err
            assert not out.exists()


def _two_stage(scene, iters, *extra):
    argv = ["run", str(scene), "--two-stage", *tiny_flags(iters=iters), "--ch-r", "4", "--spade-hidden", "8"]
    return [*argv, "--ch-rd", "4", "--n", "2", "--metrics", "diversity", "--random-weights", "--quiet", *extra]


def test_two_stage_resume_refuses_a_renderer_change_before_training_anything(scene, tmp_path, capsys):
    """Fixed here: osmis run --two-stage --resume with a renderer option the renderer run cannot change (--ch-r)
    trained the OSMIS stage on and made its gallery before the renderer stage refused the option; both stages'
    resumes are now checked (session.plan_resume) before anything trains."""
    run = tmp_path / "run"
    assert main([*_two_stage(scene, 2), "--out", str(run)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main([*_two_stage(scene, 4, "--ch-r", "8"), "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "ch_r" in err or "--ch-r" in err, err
    assert RunFolder(run).checkpoint_steps()[-1] == 2, "the OSMIS stage trained on before the refusal"
