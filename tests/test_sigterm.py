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


def _swallowing(monkeypatch, module, name, signals):
    """Replace module.name by a wrapper that sends this process `signals` (real ones) inside code that swallows
    whatever their handlers raise, as C code that clears errors does (torch.save's pickler swallowed the
    KeyboardInterrupt of a second SIGTERM: a flaky CI failure), then calls the real function once."""
    real = getattr(module, name)
    sent = []

    def wrapper(*args, **kwargs):
        if not sent:
            for signum in signals:
                sent.append(signum)
                try:
                    os.kill(os.getpid(), signum)
                    (lambda: None)()  # a Python call: its handler has run by the call's return
                except BaseException:  # noqa: BLE001 - the swallowing this test is about
                    pass
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return sent


def test_a_second_sigterm_whose_interrupt_is_swallowed_still_aborts_the_training(scene, tmp_path, capsys, monkeypatch):
    """First SIGTERM: stop after the step. The second's Terminated lands in code that swallows it (during the
    checkpoint write): the training still aborts at its next event, exit 143 with the SIGTERM sentence, not
    "stopped at step" with exit 0."""
    import torch
    from helpers import osmis_cli

    sent = _swallowing(monkeypatch, torch, "save", [signal.SIGTERM, signal.SIGTERM])
    run = tmp_path / "run"
    done = osmis_cli(capsys, "train", scene, "--out", run, "--quiet", *tiny_flags(iters=6, checkpoint_every=1))
    assert sent == [signal.SIGTERM, signal.SIGTERM]
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "terminated (SIGTERM)" in done.stderr and "stopped at step" not in done.stderr, done.stderr
    assert not list((run / "checkpoints").glob("*.tmp"))


def test_a_sigterm_whose_interrupt_is_swallowed_still_ends_a_command_as_terminated(
    trained, tmp_path, capsys, monkeypatch
):
    """A command without its own stop handler (generate): SIGTERM's Terminated swallowed where it landed, the work
    goes on to its end, and the command still exits 143 saying it was terminated, as a job scheduler expects."""
    from helpers import osmis_cli

    import osmis_core.application.gallery as gallery_module

    sent = _swallowing(monkeypatch, gallery_module, "atomic_write_text", [signal.SIGTERM])
    done = osmis_cli(capsys, "generate", trained, "--out", tmp_path / "g", "--n", "2", "--device", "cpu")
    assert sent == [signal.SIGTERM]
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "terminated (SIGTERM)" in done.stderr, done.stderr
