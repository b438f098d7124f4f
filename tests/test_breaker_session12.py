"""Breaker session 12 (training metrics, the kept best checkpoint, latent walks, damaged run files): one small test
per finding (tiny settings, CPU); a finding still open is an xfail(strict=True) test that asserts the right
behaviour, so it passes once fixed; a few pinned behaviours were tried and found right ("Tried and right")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import pytest
from helpers import tiny_flags, write_scene

from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main

EXAMPLE_SCENE = Path(__file__).resolve().parents[1] / "datasets" / "example_scene"


@pytest.fixture(scope="module")
def _evaluated_run(tmp_path_factory):
    """A 6-iteration tiny run of the example scene evaluated every 2 steps, keeping its best by diversity (best.pt,
    best.json). On this data the evaluations up to step 10 find no collapse (only a missing class, which warns), so
    each one that improves is kept (a collapse present never becomes best)."""
    run = tmp_path_factory.mktemp("b12") / "run"
    argv = ["train", str(EXAMPLE_SCENE), "--out", str(run), "--iters", "6", "--eval-every", "2", "--keep-best"]
    assert main([*argv, "diversity", "--quiet", *tiny_flags()]) == 0
    assert (run / "checkpoints" / "best.pt").is_file()
    return run


@pytest.fixture
def run(_evaluated_run, tmp_path):
    """A copy of the evaluated run for one test, which may damage or resume it."""
    return shutil.copytree(_evaluated_run, tmp_path / "run")


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _frames(path):
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("text", ["[]", "null", "5"])
def test_a_run_json_that_is_not_an_object_is_one_sentence_naming_it(run, tmp_path, capsys, text):
    """Fixed here: run.json holding JSON that is not an object (a hand edit) made `train --resume` end in an
    AttributeError traceback (exit 1), and `generate` blame the checkpoint ("damaged checkpoint ('int' object has no
    attribute 'get')") or go on as if the run had no run.json."""
    (run / "run.json").write_text(text + "\n")
    before = _files(run)
    for argv in (
        ["train", str(run), "--resume", "--iters", "8", "--quiet"],
        ["generate", str(run), "--out", str(tmp_path / "g")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "run.json: cannot be read (not a JSON object)" in err and "Traceback" not in err
    assert _files(run) == before and not (tmp_path / "g").exists()


def test_resume_reads_past_damaged_lines_of_stats_jsonl(run, capsys):
    """Fixed here: stats.jsonl with bytes that are not UTF-8, or a line that is JSON but no record (`5`, a step
    that is not a number), made `train --resume` end in a traceback (UnicodeDecodeError, AttributeError,
    TypeError; exit 1), and the app's curves with it. Such lines are skipped as a line cut by a crash is."""
    good = RunFolder(run).read_stats()
    with open(run / "stats.jsonl", "ab") as f:
        f.write(b'\xff\xfe{"step": 7}\n5\n[1]\n{"step": "x", "g_total": 1}\n{"step": null}\n')
    assert RunFolder(run).read_stats() == good
    assert main(["train", str(run), "--resume", "--iters", "8", "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    rows = RunFolder(run).read_stats()
    assert rows[: len(good)] == good and max(r["step"] for r in rows) == 8


def test_resume_of_a_run_with_a_cut_stats_jsonl_trains_on(run, capsys):
    """Tried and right: stats.jsonl cut in the middle of a line (a kill during the append) resumes; the cut line is
    dropped and the resumed steps follow."""
    text = (run / "stats.jsonl").read_bytes()
    (run / "stats.jsonl").write_bytes(text[: len(text) // 2])
    assert main(["train", str(run), "--resume", "--iters", "8", "--quiet"]) == 0
    rows = RunFolder(run).read_stats()
    assert [r["step"] for r in rows if "event" not in r][-2:] == [7, 8]


@pytest.mark.parametrize(
    "record",
    ["5", '"x"', '{"step": 6, "metric": "diversity", "key": "diversity", "value": "abc"}'],
)
def test_a_damaged_best_json_does_not_fail_the_resumed_training(run, capsys, record):
    """Fixed here: a best.json that is not the record osmis writes (not an object, a value that is not a number) let
    the resume start and then fail at its first evaluation ("training failed: AttributeError at step 8", exit 1).
    The damaged record counts as none: the next evaluation keeps a new best."""
    (run / "checkpoints" / "best.json").write_text(record + "\n")
    assert main(["train", str(run), "--resume", "--iters", "8", "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    best = RunFolder(run).read_best()
    assert best is not None and best["step"] == 8 and best["metric"] == "diversity"


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--lr-d", "-1"], "--lr-d must be at least 0.0, got -1.0."),
        (["--lr-g", "nan"], "--lr-g must be a finite number, got nan."),
        (["--eval-every", "-3"], "--eval-every must be at least 0, got -3."),
        (["--checkpoint-every", "0"], "--checkpoint-every must be at least 1, got 0."),
    ],
)
def test_resume_names_a_bad_number_by_the_flag_typed(run, capsys, flags, said):
    """Fixed here: on resume a number out of range was named by the config key ("option 'lr_d' must be at least
    0.0"), where a new run names the flag typed (--lr-d)."""
    before = _files(run)
    assert main(["train", str(run), "--resume", "--iters", "8", *flags, "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {said}"
    assert _files(run) == before


def test_an_output_under_a_file_says_the_file_is_in_the_way(run, tmp_path, capsys):
    """Fixed here: an output path under a file (RUN/run.json/walk.mp4) was refused "(File exists)", which reads as if
    the output were already there; the message now says which file stands where a folder should be."""
    data = write_scene(tmp_path / "data")
    file = run / "run.json"
    for argv in (
        ["animate", str(run), "--out", str(file / "walk.mp4"), "--frames", "2"],
        ["generate", str(run), "--out", str(file / "g"), "--n", "1"],
        ["train", str(data), "--out", str(file), "--iters", "2", "--quiet", *tiny_flags()],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{file} is a file, not a folder" in err and "File exists" not in err, err


def test_sifid_dims_of_no_inception_layer_names_the_option(run, tmp_path, capsys):
    """Fixed here: `--sifid-dims 0` said "SIFID dims [0] not supported; choose from [64, ...]" without naming the
    option."""
    gallery = tmp_path / "g"
    assert main(["generate", str(run), "--out", str(gallery), "--n", "2"]) == 0
    data = json.loads((run / "run.json").read_text())["data"]["path"]
    argv = ["evaluate", str(gallery), "--real", data, "--metrics", "sifid", "--sifid-dims", "0", "--random-weights"]
    assert main(argv) == 2
    assert "--sifid-dims 0 is not an Inception layer" in capsys.readouterr().err


@pytest.mark.parametrize("loop", [False, True])
def test_a_two_frame_walk_from_the_best_checkpoint(run, tmp_path, loop):
    """Tried and right: the shortest walk (--frames 2), open or looping, from the best checkpoint, written as .MKV
    (any case of the suffix), has its two frames; a file already there is replaced."""
    out = tmp_path / "walk.MKV"
    out.write_bytes(b"old")
    argv = ["animate", str(run), "--out", str(out), "--frames", "2", "--fps", "240", "--checkpoint", " best "]
    assert main(argv + (["--loop"] if loop else [])) == 0
    assert _frames(out) == 2


def test_checkpoint_best_on_a_run_without_one_writes_nothing(run, tmp_path, capsys):
    """Tried and right: `animate` and `generate --checkpoint best` on a run that kept no best say so naming best.pt
    (exit 2) and write nothing."""
    (run / "checkpoints" / "best.pt").unlink()
    for argv in (
        ["animate", str(run), "--out", str(tmp_path / "w.mp4"), "--frames", "2", "--checkpoint", "best"],
        ["generate", str(run), "--out", str(tmp_path / "g"), "--n", "1", "--checkpoint", "best"],
    ):
        assert main(argv) == 2
        assert "best.pt: the run kept no best checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "w.mp4").exists() and not (tmp_path / "g").exists()


def test_resume_with_another_keep_best_records_the_change_and_keeps_by_the_new_metric(run):
    """Tried and right: --keep-best changed on resume is recorded in run.json's resume_changes, and the next
    evaluation keeps best.pt by the new metric."""
    assert main(["train", str(run), "--resume", "--iters", "8", "--keep-best", "sifid", "--quiet"]) == 0
    changes = json.loads((run / "run.json").read_text())["resume_changes"]
    assert {"step": 6, "option": "keep_best", "from": "diversity", "to": "sifid"} in changes
    best = RunFolder(run).read_best()
    assert best["metric"] == "sifid" and best["step"] == 8


def test_a_start_restarted_in_place_does_not_keep_the_killed_starts_best(run, tmp_path, capsys):
    """Fixed here: a start killed after an evaluation kept best.pt but before its first step checkpoint (quick
    evaluates every 100 steps and checkpoints every 500) is started again in place, and its best.pt and best.json
    stayed: the new start's evaluations were measured against the killed start's best (none was kept here), and
    `--checkpoint best` loaded the killed start's weights, refused as "made by another run" when the restart had
    other options. The killed start's best goes with its stats, and the warning and log.txt say so."""
    for p in (run / "checkpoints").glob("step_*.pt"):
        p.unlink()  # what a kill between the evaluation at step 6 and a first checkpoint leaves
    (run / "checkpoints" / "latest").unlink()
    argv = ["train", str(EXAMPLE_SCENE), "--out", str(run), "--iters", "4", "--eval-every", "2", "--keep-best"]
    assert main([*argv, "diversity", "--quiet", *tiny_flags(max_size=128, checkpoint_every=4)]) == 0
    assert "the best checkpoint it kept at step 6 is removed" in capsys.readouterr().err
    assert "the best checkpoint it kept at step 6 is removed" in (run / "log.txt").read_text()
    assert RunFolder(run).read_best()["step"] in (2, 4)
    assert main(["generate", str(run), "--out", str(tmp_path / "g"), "--n", "1", "--checkpoint", "best"]) == 0


def test_keep_best_by_masks_with_masks_off_says_masks_are_off(tmp_path, capsys):
    """Fixed here: `--keep-best mask_shares --no-masks` said "but --no-masks is off (images only)", the reverse of
    what was typed; it now says masks are off, naming where (the flag, or the config file's option)."""
    data = write_scene(tmp_path)
    argv = ["train", str(data), "--out", str(tmp_path / "r"), "--no-masks", "--keep-best", "mask_shares"]
    assert main([*argv, "--eval-every", "2", *tiny_flags(iters=2)]) == 2
    err = capsys.readouterr().err
    assert "but masks are off (--no-masks: images only)" in err and "is off" not in err
    assert not (tmp_path / "r").exists()


def test_resume_with_tensorboard_onto_a_file_is_refused_before_anything_is_written(run, capsys):
    """Fixed here: `--resume --tensorboard` where RUN/tensorboard is a file ended in "RUN/tensorboard: File exists"
    only after run.json and log.txt had recorded the resume's changes (iters, tensorboard) that never trained; it is
    now refused first, in one sentence naming the file."""
    (run / "tensorboard").write_text("not a folder\n")
    before = _files(run)
    assert main(["train", str(run), "--resume", "--iters", "8", "--tensorboard", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {run / 'tensorboard'}: is a file, not a folder; --tensorboard writes its logs into a folder there."
    )
    assert _files(run) == before


def test_keep_best_with_no_evaluation_in_the_run_is_refused(tmp_path, capsys):
    """Fixed by the integrator: `train --keep-best diversity --eval-every 5 --iters 2` trained without a word and kept
    no best, although --keep-best with --eval-every 0 was refused (config._check_together now refuses both)."""
    data = write_scene(tmp_path)
    argv = ["train", str(data), "--out", str(tmp_path / "r"), "--keep-best", "diversity", "--eval-every", "5"]
    assert main([*argv, "--quiet", *tiny_flags(iters=2)]) == 2
    err = capsys.readouterr().err
    assert "--keep-best" in err and "--eval-every" in err
    assert not (tmp_path / "r").exists()


def test_run_refuses_a_sifid_layer_that_does_not_exist_before_training(tmp_path, capsys):
    """Fixed here: `osmis run --metrics sifid --sifid-dims 0` trained the whole run and wrote its gallery before the
    evaluation refused the layer (for the quick preset, 10-15 minutes of a 2-core CPU spent on a typo)."""
    data = write_scene(tmp_path)
    argv = ["run", str(data), "--out", str(tmp_path / "r"), "--metrics", "sifid", "--sifid-dims", "0", "--n", "2"]
    assert main([*argv, "--random-weights", "--quiet", *tiny_flags(iters=2)]) == 2
    assert "--sifid-dims 0 is not an Inception layer" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_run_refuses_a_sifid_layer_too_deep_for_its_images_before_training(tmp_path, capsys):
    """Fixed by the integrator: `osmis run --metrics sifid --sifid-dims 2048` on a run whose images are 48 pixels
    high trained and generated, then said "SIFID at dims 2048 needs images of at least 107 pixels per side"."""
    data = write_scene(tmp_path)
    argv = ["run", str(data), "--out", str(tmp_path / "r"), "--metrics", "sifid", "--sifid-dims", "2048", "--n", "2"]
    assert main([*argv, "--random-weights", "--quiet", *tiny_flags(iters=2)]) == 2
    assert "2048" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_run_resume_refuses_a_sifid_layer_too_deep_for_its_images_before_training(tmp_path, capsys):
    """The same check on `osmis run --resume`: the run's size comes from its run.json, and nothing trains on."""
    data = write_scene(tmp_path)
    run = tmp_path / "r"
    argv = ["run", str(data), "--out", str(run), "--metrics", "diversity", "--n", "2", "--random-weights", "--quiet"]
    assert main([*argv, *tiny_flags(iters=2)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    again = [*argv[:4], "--metrics", "sifid", "--sifid-dims", "2048", *argv[6:], "--resume", *tiny_flags(iters=4)]
    assert main(again) == 2
    err = capsys.readouterr().err
    assert "--sifid-dims 2048" in err and len(err.strip().splitlines()) == 1, err
    assert RunFolder(run).checkpoint_steps()[-1] == 2


def test_resume_of_a_run_json_without_its_data_path_does_not_train_on_the_working_folder(
    run, tmp_path, monkeypatch, capsys
):
    """Fixed here: a run.json without `data` (a hand edit) resumed on the data path "", which is the working folder:
    the run went on training on whatever images the folder held, or failed naming a file there. It is refused,
    naming run.json."""
    info = json.loads((run / "run.json").read_text())
    del info["data"]
    (run / "run.json").write_text(json.dumps(info))
    monkeypatch.chdir(write_scene(tmp_path / "elsewhere"))  # a folder of other training data
    before = _files(run)
    assert main(["train", str(run), "--resume", "--iters", "8", "--quiet"]) == 2
    assert "run.json: holds no data path (data.path) to train on." in capsys.readouterr().err
    assert _files(run) == before


@pytest.mark.parametrize("part", ["data", "architecture", "config"])
def test_a_run_json_part_that_is_not_an_object_names_run_json(run, tmp_path, capsys, part):
    """Fixed here: run.json with `"data": 5` (a hand edit) made `train --resume` blame the checkpoint ("damaged
    checkpoint ('int' object has no attribute 'get')") and `osmis run --resume` end in an AttributeError traceback."""
    info = json.loads((run / "run.json").read_text())
    data = info["data"]["path"]
    info[part] = 5
    (run / "run.json").write_text(json.dumps(info))
    before = _files(run)
    for argv in (
        ["train", str(run), "--resume", "--iters", "8", "--quiet"],
        ["run", data, "--out", str(run), "--resume", "--iters", "8", "--n", "1", "--quiet"],
        ["generate", str(run), "--out", str(tmp_path / "g"), "--n", "1"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"run.json: cannot be read ('{part}' is not a JSON object)" in err and "Traceback" not in err
    assert _files(run) == before


@pytest.mark.slow  # a fresh process that encodes until signalled
def test_sigterm_during_animate_keeps_the_walk_that_was_there(run, tmp_path):
    """Tried and right: SIGTERM while a long walk is encoded ends with one line and exit 143; the walk already at
    --out is untouched and no temporary file is left."""
    import signal

    from helpers import start_osmis, wait_for

    out = tmp_path / "walk.mp4"
    out.write_bytes(b"an earlier walk")
    proc = start_osmis("animate", run, "--out", out, "--frames", "100000", "--device", "cpu", cwd=tmp_path)
    wait_for(lambda: any(tmp_path.glob(".walk.mp4.*.tmp")), proc, "the first frames", timeout=120)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("terminated (SIGTERM): osmis animate stopped")
    assert out.read_bytes() == b"an earlier walk" and not list(tmp_path.glob(".walk.mp4.*"))


def test_run_resume_checkpoint_best_follows_best_pt_not_a_damaged_best_json(run, capsys):
    """Fixed here: `osmis run --resume --checkpoint best` with no evaluation left to train was refused ("none falls in
    steps ...") when best.json was cut short (a kill between best.pt and best.json, a damaged disk), though best.pt
    is whole and `osmis generate --checkpoint best` uses it: the check now asks for the file generation loads."""
    best = run / "checkpoints" / "best.json"
    best.write_text(best.read_text()[:20])
    data = json.loads((run / "run.json").read_text())["data"]["path"]
    argv = ["run", data, "--out", str(run), "--resume", "--iters", "7", "--checkpoint", "best", "--n", "2"]
    assert main([*argv, "--metrics", "diversity", "--random-weights", "--quiet"]) == 0
    assert (
        json.loads((run / "galleries" / "step_0000006-seed0-n2" / "manifest.json").read_text())["checkpoint_step"] == 6
    )
