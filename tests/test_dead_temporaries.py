"""A write killed mid-way (kill -9) leaves its temporary `.NAME.PID_XXXXXXXX.tmp` beside NAME: a gallery's
metrics.json, a walk's video. The next write of NAME removes it when its process has ended, and leaves a running
process's temporary alone (two writers of one file each finish)."""

from __future__ import annotations

import os
import subprocess
import sys

from osmis_core.files import atomic_write_text


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_a_dead_writers_temporary_goes_at_the_next_write_and_a_live_ones_stays(tmp_path):
    target = tmp_path / "metrics.json"
    dead = tmp_path / f".metrics.json.{_dead_pid()}_abcd1234.tmp"
    live = tmp_path / f".metrics.json.{os.getppid()}_efgh5678.tmp"
    other = tmp_path / f".index.html.{_dead_pid()}_abcd1234.tmp"  # another file's: its own next write clears it
    for p in (dead, live, other):
        p.write_bytes(b"x" * 1000)
    atomic_write_text(target, "{}")
    assert target.read_text() == "{}"
    assert not dead.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other.name])


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    """A real writer killed inside its write: its temporary is named by its process id."""
    target = tmp_path / "walk.mp4"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from osmis_core.files import atomic_write_bytes\n"
        "def write(f):\n"
        "    f.write(b'frames')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        f"atomic_write_bytes(Path({str(target)!r}), write)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        (left,) = tmp_path.iterdir()
        assert left.name.startswith(f".walk.mp4.{child.pid}_") and left.name.endswith(".tmp")
    finally:
        child.kill()
        child.wait()
    atomic_write_text(target, "done")
    assert [p.name for p in tmp_path.iterdir()] == ["walk.mp4"]
