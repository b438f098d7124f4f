"""Regressions found by the breaker pass (tiny settings, CPU, a few seconds each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import folder_bytes, osmis_cli, save_palette_mask, scene_arrays, tiny_flags
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _scene(tmp_path: Path) -> Path:
    img, ids = scene_arrays()
    Image.fromarray(img).save(tmp_path / "scene.png")
    save_palette_mask(ids, tmp_path / "scene_mask.png")
    return tmp_path / "scene.png"


def test_renderer_trains_a_few_iterations(tmp_path, capsys):
    # Issue 13: `osmis train --model renderer` (and `run --two-stage`) died with
    # "AttributeError: 'RendererTrainer' object has no attribute 'health'" after the merge.
    data = _scene(tmp_path)
    renderer_flags = ["--max-size", "64", "--ch-r", "4", "--spade-hidden", "8", "--ch-rd", "4", "--noise-dim", "8"]
    flags = [*renderer_flags, "--batch-size", "2", "--checkpoint-every", "2", "--device", "cpu"]
    p = osmis_cli(capsys, "train", data, *flags, "--iters", "2", "--model", "renderer", "--out", tmp_path / "rend")
    assert p.returncode == 0, p.stdout + p.stderr
    assert list((tmp_path / "rend" / "checkpoints").glob("step_*.pt"))


def _frames_with_masks(root: Path, n_frames: int, mask_stems: list[str]) -> Path:
    img, ids = scene_arrays()
    (root / "image").mkdir(parents=True)
    (root / "mask").mkdir()
    for i in range(n_frames):
        Image.fromarray(img).save(root / "image" / f"{i:05d}.png")
    for stem in mask_stems:
        save_palette_mask(ids, root / "mask" / f"{stem}.png")
    return root


def test_more_masks_than_frames_in_a_folder_is_an_error(tmp_path, capsys):
    # Issue 12 item 5: "a count mismatch in either direction is one clear error". 3 frames + 4 masks in the
    # research layout are accepted silently (the extra mask is ignored); fewer masks are refused.
    data = _frames_with_masks(tmp_path / "d", 3, [f"{i:05d}" for i in range(4)])
    p = osmis_cli(capsys, "inspect", data)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr


def test_mask_stems_that_match_no_frame_are_an_error(tmp_path, capsys):
    # Issue 12 item 5 / README "mask/ with the same stems": frames f0..f2 with masks m0..m2 are paired by order
    # silently, while a missing stem elsewhere is refused with "masks must have the same file stems".
    img, ids = scene_arrays()
    root = tmp_path / "d"
    (root / "image").mkdir(parents=True)
    (root / "mask").mkdir()
    for i in range(3):
        Image.fromarray(img).save(root / "image" / f"f{i}.png")
        save_palette_mask(ids, root / "mask" / f"m{i}.png")
    p = osmis_cli(capsys, "inspect", root)
    assert p.returncode == 2, p.stdout + p.stderr


def test_ctrl_c_during_generate_is_not_a_traceback(tmp_path, capsys):
    # Issue 12 (no traceback) / README Ctrl-C: SIGINT during `osmis generate` ends in a KeyboardInterrupt traceback
    # from concurrent.futures (application/gallery.py _finish), exit -2.
    import os
    import signal
    import time

    data = _scene(tmp_path)
    run = tmp_path / "run"
    assert osmis_cli(capsys, "train", data, *tiny_flags(), "--iters", "2", "--out", run).returncode == 0
    p = subprocess.Popen(
        [sys.executable, "-m", "osmis_core", "generate", str(run), "--n", "100000", "--out", str(tmp_path / "gal")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60
    while time.time() < deadline and not any(tmp_path.glob(".gal*")):
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err[-2000:]
    assert not (tmp_path / "gal").exists() or (tmp_path / "gal" / "manifest.json").exists()
    assert not any(tmp_path.glob(".gal*"))


def test_generate_refuses_a_checkpoint_of_another_run(tmp_path, capsys):
    # Issue 12 (bad checkpoint, never exit 0 with garbage): a `latest` checkpoint copied from another run (other
    # resolution and classes) is used silently by `osmis generate` (exit 0, a gallery that claims to come from this
    # run but has the other run's size and classes), while `train --resume` refuses it.
    import shutil

    data = _scene(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    assert osmis_cli(capsys, "train", data, *tiny_flags(), "--iters", "2", "--out", a).returncode == 0
    assert (
        osmis_cli(capsys, "train", data, *tiny_flags(max_size=128), "--no-masks", "--iters", "2", "--out", b).returncode
        == 0
    )
    shutil.copy(b / "checkpoints" / "step_0000002.pt", a / "checkpoints" / "step_0000009.pt")
    (a / "checkpoints" / "latest").write_text("step_0000009.pt\n")
    p = osmis_cli(capsys, "generate", a, "--n", "2", "--out", tmp_path / "gal")
    # the foreign file counts as damaged: the latest good checkpoint of this run is used, with a warning naming it
    assert p.returncode == 0, p.stdout + p.stderr
    assert "step_0000009.pt" in p.stderr and "another run" in p.stderr
    assert json.loads((tmp_path / "gal" / "manifest.json").read_text())["checkpoint_step"] == 2
    # asked for by its step, it is refused: one sentence naming it, exit 2, no gallery
    p = osmis_cli(capsys, "generate", a, "--n", "2", "--checkpoint", "9", "--out", tmp_path / "gal9")
    assert p.returncode == 2 and "step_0000009.pt" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "gal9").exists()


def test_evaluate_that_cannot_score_keeps_the_scores_already_written(tmp_path, capsys):
    # Issue 12 / COMMON rule "nothing already written is damaged": a later `osmis evaluate` that cannot compute a
    # metric (here: past its time budget) replaced the gallery's computed SIFID by the reason. Scores of the same
    # kind (random weights here) are kept; a run without weights still says "needs ..." rather than show a
    # random-weight score as a pretrained one (tests/test_evaluate_cli.py).
    data = _scene(tmp_path)
    run = tmp_path / "run"
    assert osmis_cli(capsys, "train", data, *tiny_flags(), "--iters", "2", "--out", run).returncode == 0
    gal = tmp_path / "gal"
    assert osmis_cli(capsys, "generate", run, "--n", "2", "--out", gal).returncode == 0
    args = ("evaluate", gal, "--real", data, "--metrics", "sifid,diversity", "--sifid-dims", "64", "--random-weights")
    assert osmis_cli(capsys, *args).returncode == 0
    before = json.loads((gal / "metrics.json").read_text())["summary"]["sifid_64"]
    assert isinstance(before, float)
    p = osmis_cli(capsys, *args, "--time-budget", "0")
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    after = json.loads((gal / "metrics.json").read_text())
    assert after["summary"]["sifid_64"] == before and "kept the scores already in metrics.json" in p.stdout + p.stderr


def test_resume_to_fewer_iterations_is_refused_naming_iters(tmp_path, capsys):
    # Breaker finding 9: `train RUN --resume --iters 2` on a run at step 4 finished silently; it then said "already
    # at step 4 of --iters 2" with exit 0, but still rewrote run.json's iters to 2 (and moved the learning-rate
    # schedule to a run shorter than its step: breaker session 9). Now it is refused before anything is written,
    # as the app's "Continue run" refuses Iterations at or below the run's step.
    from osmis_core.cli import main

    data = _scene(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(data), *tiny_flags(), "--iters", "4", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    before = folder_bytes(run)
    assert main(["train", str(run), "--resume", "--iters", "2", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--iters 2" in err and "step 4" in err, err
    assert folder_bytes(run) == before


def test_resume_of_a_finished_run_with_its_own_iters_says_there_is_nothing_to_train(tmp_path, capsys):
    # The run's own --iters typed again (a finished job's command repeated with --resume) changes nothing: it is
    # not refused, and says there is nothing to train.
    from osmis_core.cli import main

    data = _scene(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(data), *tiny_flags(), "--iters", "4", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", str(run), "--resume", "--iters", "4", "--quiet"]) == 0
    assert "already at step 4 of --iters 4" in capsys.readouterr().err


def test_generate_on_a_folder_inside_a_run_names_it_not_a_run(tmp_path, capsys):
    # Breaker finding 10: `generate RUN/checkpoints` said "RUN/checkpoints/checkpoints: the run has no checkpoint".
    from osmis_core.cli import main

    data = _scene(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(data), *tiny_flags(), "--iters", "2", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["generate", str(run / "checkpoints"), "--n", "2", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "not a run folder (no run.json)" in err and "checkpoints/checkpoints" not in err
