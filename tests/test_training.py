"""Training, events, stop/pause, resume equivalence, generation (tiny models on CPU)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, TerminalStderr, tiny_flags
from PIL import Image

from osmis_core.application.generate import load_generator
from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import resume_training, start_training
from osmis_core.cli import main
from osmis_core.config import OsmisConfig
from osmis_core.events import (
    CheckpointSaved,
    PreviewReady,
    StepStats,
    TrainControl,
    TrainingFinished,
    TrainingPaused,
    TrainingResumed,
    TrainingStarted,
)

REPO = Path(__file__).resolve().parents[1]


def test_train_then_generate_cli(scene, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--iters", "4", "--quiet", *tiny_flags()]) == 0
    folder = RunFolder(run)
    info = json.loads(folder.run_json.read_text())
    assert info["config"]["optimisation"]["batch_size"] == TINY["batch_size"]
    assert info["data"]["num_classes"] == 3 and info["params_g"] > 0
    assert folder.checkpoint_steps() == [2, 4] and folder.latest_step() == 4
    assert sorted(p.name for p in folder.samples.iterdir()) == ["step_0000002.png", "step_0000004.png"]
    stats = folder.read_stats()
    assert [r["step"] for r in stats] == [1, 2, 3, 4]
    assert {"g_total", "d_total", "g_diversity", "d_real_content", "it_per_s", "d_real"} <= set(stats[0])
    assert "finished at step 4" in folder.log_file.read_text()
    state = torch.load(folder.checkpoint_path(4), weights_only=True)
    assert {"generator", "generator_ema", "discriminator", "opt_g", "opt_d", "rng", "step", "config"} <= set(state)

    gallery = tmp_path / "gallery"
    assert main(["generate", str(run), "--n", "5", "--out", str(gallery), "--device", "cpu"]) == 0
    for sub in ("images", "masks", "overlays"):
        assert len(list((gallery / sub).glob("*.png"))) == 5
    mask = Image.open(gallery / "masks" / "0000.png")
    assert mask.mode == "P" and np.asarray(mask).max() < 3
    manifest = json.loads((gallery / "manifest.json").read_text())
    assert manifest["n"] == 5 and manifest["num_classes"] == 3 and len(manifest["items"]) == 5
    assert "masks/0000.png" in (gallery / "index.html").read_text()


def test_loaded_generator_matches_the_trained_one(scene, tmp_path):
    """The sampling generator (frozen: spectral norm baked in, merged heads) == the trained module, per checkpoint."""
    from osmis_core.models import Generator

    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--iters", "3", "--quiet", *tiny_flags()]) == 0
    state = torch.load(RunFolder(run).checkpoint_path(3), weights_only=True)
    a = state["architecture"]
    z = torch.randn(4, TINY["noise_dim"], 1, 1, generator=torch.Generator().manual_seed(1))
    for key, ema in (("generator_ema", True), ("generator", False)):
        reference = Generator(
            tuple(a["noise_shape"]),
            a["num_blocks_g"],
            state["num_classes"],
            ch=TINY["ch_g"],
            noise_dim=TINY["noise_dim"],
        )
        reference.load_state_dict(state[key])
        loaded, _ = load_generator(run, 3, ema=ema)
        assert loaded.frozen_head_weight is not None
        with torch.no_grad():
            expected, got = reference.eval()(z, all_scales=False), loaded(z, all_scales=False)
        torch.testing.assert_close(got.images[-1], expected.images[-1], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(got.mask, expected.mask, rtol=1e-4, atol=1e-5)


def _outputs(run, step, ema):
    g, _ = load_generator(run, step, ema=ema)
    with torch.no_grad():
        z = torch.randn(3, TINY["noise_dim"], 1, 1, generator=torch.Generator().manual_seed(5))
        out = g(z, all_scales=False)
    return out.images[-1], out.mask


def test_resume_continues_exactly(scene, tmp_path):
    """2N iterations in one go == N + resume + N, to 1e-5, for the raw and the EMA generator."""
    flags = tiny_flags(checkpoint_every=100, preview_every=100)
    assert main(["train", str(scene), "--out", str(tmp_path / "a"), "--iters", "6", "--quiet", *flags]) == 0
    assert main(["train", str(scene), "--out", str(tmp_path / "b"), "--iters", "3", "--quiet", *flags]) == 0
    assert main(["train", str(tmp_path / "b"), "--resume", "--iters", "6", "--quiet"]) == 0
    for ema in (False, True):
        img_a, mask_a = _outputs(tmp_path / "a", 6, ema)
        img_b, mask_b = _outputs(tmp_path / "b", 6, ema)
        assert torch.allclose(img_a, img_b, atol=1e-5) and torch.allclose(mask_a, mask_b, atol=1e-5)
    sa, sb = RunFolder(tmp_path / "a").read_stats(), RunFolder(tmp_path / "b").read_stats()
    assert [r["step"] for r in sb] == list(range(1, 7))
    assert np.allclose([r["g_total"] for r in sa], [r["g_total"] for r in sb], atol=1e-5)


def test_resume_iters_is_total_length_and_keeps_config(scene, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--iters", "3", "--quiet", *tiny_flags()]) == 0
    assert main(["train", str(run), "--resume", "--iters", "5", "--quiet"]) == 0
    folder = RunFolder(run)
    assert folder.latest_step() == 5
    assert [r["step"] for r in folder.read_stats()] == [1, 2, 3, 4, 5]
    info = json.loads(folder.run_json.read_text())
    assert info["config"]["run"]["iters"] == 5 and info["config"]["generator"]["ch_g"] == TINY["ch_g"]


def _config(**extra):
    return OsmisConfig().replace(**{**TINY, **extra})


def test_events_stop_and_pause(scene, tmp_path):
    trainer = start_training(_config(iters=50, preview_every=1, checkpoint_every=100), scene, tmp_path / "run")
    control = TrainControl()
    seen = []
    for event in trainer.run(control):
        seen.append(type(event))
        if isinstance(event, StepStats) and event.step == 2:
            control.pause()
        if isinstance(event, TrainingPaused):
            threading.Timer(0.2, control.resume).start()
        if isinstance(event, StepStats) and event.step == 4:
            control.request_stop()
    assert seen[0] is TrainingStarted and seen[-1] is TrainingFinished
    assert TrainingPaused in seen and TrainingResumed in seen and PreviewReady in seen
    assert CheckpointSaved in seen  # stopping saves
    assert trainer.step == 4 and RunFolder(tmp_path / "run").latest_step() == 4


@pytest.mark.slow
def test_ctrl_c_saves_and_exits_zero(scene, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "osmis_core",
            "train",
            str(scene),
            "--out",
            str(run),
            "--iters",
            "100000",
            "--quiet",
            *tiny_flags(checkpoint_every=100000),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stats = run / "stats.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (stats.exists() and len(stats.read_text().splitlines()) >= 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped at step" in err
    step = RunFolder(run).latest_step()
    assert step is not None and 2 <= step < 100000


def test_video_and_image_only_paths(tmp_path):
    datasets = REPO / "datasets"
    assert (
        main(
            [
                "train",
                str(datasets / "example_video"),
                "--out",
                str(tmp_path / "v"),
                "--iters",
                "2",
                "--quiet",
                *tiny_flags(),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "v" / "run.json").read_text())["data"]["num_frames"] == 24
    assert (
        main(
            [
                "train",
                str(datasets / "example_texture"),
                "--out",
                str(tmp_path / "t"),
                "--iters",
                "2",
                "--quiet",
                *tiny_flags(),
            ]
        )
        == 0
    )
    gallery = tmp_path / "g"
    assert main(["generate", str(tmp_path / "t"), "--n", "3", "--out", str(gallery), "--device", "cpu"]) == 0
    assert len(list((gallery / "images").glob("*.png"))) == 3 and not (gallery / "masks").exists()


def test_resume_api_restores_step(scene, tmp_path):
    trainer = start_training(_config(iters=2), scene, tmp_path / "run")
    list(trainer.run())
    again = resume_training(tmp_path / "run", {"iters": 3})
    assert again.step == 2 and again.config.run.iters == 3


def test_progress_line_shows_the_current_losses(scene, tmp_path, monkeypatch):
    """Every frame of the progress bar (on a terminal) shows the losses logged at (not before) the latest logging
    tick it has passed; the bar moves between ticks (log every 3 iterations)."""
    import re

    run = tmp_path / "run"
    monkeypatch.setattr(sys, "stderr", TerminalStderr())
    assert main(["train", str(scene), "--out", str(run), "--iters", "7", *tiny_flags(log_every=3)]) == 0
    frames = [f for f in re.split(r"[\r\n]", sys.stderr.getvalue()) if re.search(r"\d+/7", f)]
    logged = {r["step"]: r for r in RunFolder(run).read_stats()}
    assert sorted(logged) == [3, 6, 7]
    for frame in frames:
        step = int(re.search(r"(\d+)/7", frame).group(1))
        ticks = [s for s in logged if s <= step]
        shown = re.search(r"g_total=(-?[\d.]+)", frame)
        if not ticks:
            assert shown is None, frame
        else:
            assert shown is not None and float(shown.group(1)) == pytest.approx(
                logged[max(ticks)]["g_total"], abs=1e-3
            ), frame
    assert frames and re.search(r"7/7", frames[-1])
