"""Breaker session 17 (the run training lock, render default gallery names, the app's export question): one small
test per finding (tiny settings, CPU).

Found and fixed:
- a resume (or a start in place) held the run's training lock only from its first training step: two `osmis train
  RUN --resume` started together both passed check_not_training, and the slower one cut stats.jsonl back, removed
  temporaries and rewrote run.json while the faster one already trained. The lock is now held from the first file
  a resume or start changes (session.resume_training, start_training).
- `osmis batch` deleted a run folder without a checkpoint (left by a dead attempt, it assumed) while a terminal was
  training that run before its first checkpoint: the run is now refused in its summary row, naming the process
  (batch.worker._train checks RunFolder.check_not_training first).
- RUN/.training.lock made a folder (or anything that cannot be opened) said "RUN: the run folder cannot be written
  (Is a directory)" of a writable folder; the sentence now names the lock file (RunFolder.training).

Tried and right: two real `osmis train RUN --resume` processes (the second refused in one sentence naming the run
and the process, exit 2); `osmis train DATA --out RUN` and `osmis run DATA --out RUN --resume` of a run being
trained refused the same way; `osmis generate` and `osmis evaluate` of a run being trained work; SIGTERM of a
training then `--resume` (no stale lock).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import TINY, folder_bytes, save_palette_mask, scene_arrays, two_iteration_run
from PIL import Image

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import resume_training
from osmis_core.cli import main
from osmis_core.errors import OsmisError

HOLD = (
    "import sys, time\n"
    "from osmis_core.application.runfolder import RunFolder\n"
    "with RunFolder(sys.argv[1]).training():\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def test_a_second_resume_is_refused_while_the_first_changes_the_run_files(scene, tmp_path):
    """Found and fixed: while one resume sets up (here: inside its `check`, after it removed temporaries and before
    it cuts stats.jsonl back and rewrites run.json), a second resume of the run is refused, not set up beside it."""
    run = two_iteration_run(scene, tmp_path / "run")
    refused = []

    def second_resume(config, folder):
        with pytest.raises(OsmisError, match="being trained by another process") as err:
            resume_training(run, {"iters": 6})
        refused.append(str(err.value))

    resume_training(run, {"iters": 4}, check=second_resume)
    assert len(refused) == 1 and str(run) in refused[0]


def test_a_batch_does_not_delete_a_run_a_terminal_trains_before_its_first_checkpoint(tmp_path, capsys):
    """Found and fixed: BATCH/runs/s0 without a checkpoint whose training lock a terminal's training holds is kept
    as it is; the batch's row for s0 says the run is being trained, naming the process."""
    src = tmp_path / "src"
    (src / "image").mkdir(parents=True)
    (src / "mask").mkdir()
    img, ids = scene_arrays()
    Image.fromarray(img).save(src / "image" / "s0.png")
    save_palette_mask(ids, src / "mask" / "s0.png")
    out = tmp_path / "batch"
    run = out / "runs" / "s0"
    run.mkdir(parents=True)
    (run / "log.txt").write_text("a terminal's training, before its first checkpoint\n")
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        before = folder_bytes(run)
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, "iters": 2}.items()]
        main(
            [
                "batch",
                str(src),
                "--out",
                str(out),
                "--n-per-source",
                "1",
                "--num-cpus",
                "1",
                "--cpus-per-run",
                "1",
                "--quiet",
                *flags,
            ]
        )
        assert folder_bytes(run) == before
        summary = (out / "summary.csv").read_text()
        assert f"process {proc.pid}" in summary and "being trained" in summary
    finally:
        proc.kill()
        proc.wait()
    capsys.readouterr()


def test_a_training_lock_that_is_a_folder_is_named(scene, tmp_path, capsys):
    """Found and fixed: RUN/.training.lock made a folder is named in the refusal (exit 2, nothing trained), not
    'the run folder cannot be written' of a folder that can be."""
    run = two_iteration_run(scene, tmp_path / "run")
    lock = RunFolder(run).training_lock
    lock.unlink()
    lock.mkdir()
    before = folder_bytes(run)
    assert main(["train", str(run), "--resume", "--iters", "4", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {lock}: cannot be opened as the run's training lock (Is a directory)"), err
    assert folder_bytes(run) == before
