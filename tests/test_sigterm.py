"""SIGTERM stops an `osmis` command as Ctrl-C does (osmis_core/cli.py main): a gallery being written leaves no
hidden staging folder and the gallery it was to replace is untouched; a training stops after its step with a
checkpoint. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from helpers import TINY, start_osmis, tiny_flags, wait_for

from osmis_core.application.gallery import generate_gallery
from osmis_core.application.session import start_training
from osmis_core.config import build_config

ROOT = Path(__file__).resolve().parents[1]


def _start(*args) -> subprocess.Popen:
    return start_osmis(*args, cwd=ROOT)


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    wait_for(condition, proc, what, timeout)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sigterm_during_generate_leaves_no_staging_folder_and_keeps_the_old_gallery(scene, tmp_path):
    run = tmp_path / "run"
    list(start_training(build_config(overrides={**TINY, "iters": 2}), scene, run).run())
    gallery = tmp_path / "g"
    generate_gallery(run, gallery, n=2, device="cpu")
    before = _tree(gallery)

    proc = _start("generate", run, "--out", gallery, "--n", "20000", "--device", "cpu")
    # SIGTERM once the new gallery's files are being written into its hidden staging folder
    _wait_for(lambda: any(any(s.rglob("*.png")) for s in tmp_path.glob(".g.building-*")), proc, "the first files")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "terminated (SIGTERM): osmis generate stopped; nothing half-written was left behind"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g", "run", "scene"]  # no .g.building-*, no .g.old-*
    assert _tree(gallery) == before


def test_sigterm_during_train_stops_with_a_checkpoint_like_ctrl_c(scene, tmp_path):
    run = tmp_path / "run"
    flags = tiny_flags(iters=100000, checkpoint_every=100000, preview_every=100000)
    proc = _start("train", scene, "--out", run, "--quiet", *flags)
    stats = run / "stats.jsonl"
    _wait_for(lambda: stats.is_file() and stats.stat().st_size > 0, proc, "the first iterations")
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopping after this iteration and saving a checkpoint" in err and "Traceback" not in err
    assert "stopped at step" in err
    (checkpoint,) = (run / "checkpoints").glob("step_*.pt")
    assert 0 < int(checkpoint.stem.split("_")[1]) < 100000
