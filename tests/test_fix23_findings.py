"""Findings left open by earlier testers, fixed on branch fix23: one small test each (tiny settings, CPU)."""

from __future__ import annotations

import re
import sys

from helpers import TerminalStderr, osmis_cli, tiny_flags

from osmis_core.cli import main


def _lines(err: str, pattern: str) -> list[str]:
    return [line for line in err.splitlines() if re.match(pattern, line)]


def test_training_into_a_log_draws_no_bar_and_writes_its_checkpoints_and_evaluations(scene, tmp_path, capsys):
    """`osmis train` with stderr not a terminal (a log, a pipe; here pytest's capture) and without --quiet: no
    progress bar redrawn with carriage returns, and the lines --quiet users read instead (one per checkpoint, one per
    evaluation), so the log is neither flooded nor silent."""
    run = tmp_path / "run"
    r = osmis_cli(capsys, "train", scene, "--out", run, *tiny_flags(iters=4, eval_every=2))
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "it/s" not in r.stderr, r.stderr
    assert len(_lines(r.stderr, r"checkpoint \S+step_0000004\.pt$")) == 1, r.stderr
    assert [line.split(":")[0] for line in _lines(r.stderr, r"step \d+: ")] == ["step 2", "step 4"], r.stderr


def test_training_on_a_terminal_draws_its_bar_instead_of_the_log_lines(scene, tmp_path, monkeypatch):
    """On a terminal the bar shows the progress and the latest evaluation; the log's checkpoint and evaluation
    lines are not written beside it."""
    monkeypatch.setattr(sys, "stderr", TerminalStderr())
    assert main(["train", str(scene), "--out", str(tmp_path / "run"), *tiny_flags(iters=4, eval_every=2)]) == 0
    err = sys.stderr.getvalue()
    assert "\r" in err and "4/4" in err, err
    assert not _lines(err, r"checkpoint ") and not _lines(err, r"step \d+: "), err


def test_a_batch_into_a_log_draws_no_bar_and_names_every_finished_source(scene, tmp_path, local_ray, capsys):
    """`osmis batch` with stderr not a terminal and without --quiet: no overall bar nor per-source bars, one line
    per finished source (a skipped one too, on the second run), as with --quiet."""
    argv = ["batch", scene, "--out", tmp_path / "batch", "--n-per-source", "2", *tiny_flags(iters=2)]
    r = osmis_cli(capsys, *argv, "--eval-every", "0", "--keep-best", "none")
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and len(_lines(r.stderr, r"\S+: finished at step 2/2$")) == 1, r.stderr
    r = osmis_cli(capsys, *argv, "--eval-every", "0", "--keep-best", "none")
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and len(_lines(r.stderr, r"\S+: skipped at step 2/2")) == 1, r.stderr
