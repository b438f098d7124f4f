"""`osmis run` failing after its training (here: the run's galleries/ place is a file, as an unwritable gallery or
a full disk would fail it) says that the training is kept and gives the command that finishes the job from it."""

from __future__ import annotations

import json
import shlex
import shutil

from helpers import osmis_cli


def test_a_failed_stage_after_training_names_the_kept_training_and_the_finishing_command(trained, capsys):
    data = json.loads((trained / "run.json").read_text())["data"]["path"]
    shutil.rmtree(trained / "galleries", ignore_errors=True)
    (trained / "galleries").write_text("in the way")
    argv = ["run", data, "--out", str(trained), "--resume", "--n", "2", "--metrics", "diversity", "--random-weights"]
    failed = osmis_cli(capsys, *argv)
    assert failed.returncode == 2, failed
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {trained / 'galleries'}"), last
    kept = f"; the training in {trained} is kept: after fixing this, finish the job with osmis "
    assert kept in last, last
    assert last.count("\n") == 0 and not (trained / "galleries").is_dir()
    # the command it gives finishes the job once the cause is gone
    again = shlex.split(last.split(kept)[1])
    assert again[0] == "run" and "--resume" in again
    (trained / "galleries").unlink()
    done = osmis_cli(capsys, *again)
    assert done.returncode == 0, done
    (gallery,) = (trained / "galleries").iterdir()
    assert (gallery / "metrics.json").is_file()
