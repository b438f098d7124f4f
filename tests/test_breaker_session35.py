"""Breaker session 35: `osmis batch` on the operational side (its own flags, stops, lost workers, its folder)."""

from __future__ import annotations

import json
import socket
import time

import pytest
from helpers import osmis_cli, tiny_flags, write_scene

pytest.importorskip("ray")


@pytest.mark.parametrize(
    ("flags", "sentence"),
    [
        # each ran a local Ray first (seconds), then Ray's own words; a huge --retries ended in Ray's OverflowError
        # traceback (exit 1); --n-per-source past generate's limit trained every source, then failed each one
        # naming "--n", a flag the batch does not have
        (["--num-cpus", "-1"], "--num-cpus must be at least 1, got -1."),
        (["--num-cpus", "0"], "--num-cpus must be at least 1, got 0."),
        (["--num-gpus", "-1"], "--num-gpus must be at least 0, got -1."),
        (["--retries", "99999999999999999999"], "--retries must be a whole number from 0 to 1,000, got "),
        (["--n-per-source", "100001"], "--n-per-source must be a whole number from 1 to 100,000, got 100,001."),
        (["--address", "auto", "--num-cpus", "2"], "--num-cpus sizes a local Ray only; with --address auto"),
    ],
)
def test_bad_batch_flags_are_one_sentence_before_ray_starts(tmp_path, capsys, flags, sentence):
    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    done = osmis_cli(capsys, "batch", sources, "--out", tmp_path / "b", *tiny_flags(iters=2), *flags)
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {sentence}"), err
    assert not (tmp_path / "b").exists()  # refused before the batch folder is made, so before a Ray starts


def test_an_address_where_nothing_listens_is_refused_in_seconds(tmp_path, capsys):
    """`--address 127.0.0.1:PORT` with no Ray there waited (over 2 minutes, no word) for Ray's own timeout."""
    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import osmis_core.batch  # noqa: F401 - its imports (torch, Ray) are not what is timed

    t0 = time.monotonic()
    done = osmis_cli(capsys, "batch", sources, "--out", tmp_path / "b", "--address", f"127.0.0.1:{port}")
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and f"--address 127.0.0.1:{port}: no Ray cluster answers there" in err, err
    assert time.monotonic() - t0 < 30  # Ray's own wait: minutes
    assert not (tmp_path / "b").exists()


def test_a_batch_out_that_is_a_run_a_gallery_or_holds_an_index_is_refused(tmp_path, capsys):
    """`osmis batch SRC --out GALLERY` (a gallery osmis generate wrote outside a run) replaced the gallery's
    index.html with the batch's summary page and added runs/ and dataset/ beside its pictures; `--out RUN` put a
    batch inside a run folder; `--out SITE` replaced a folder's own index.html. Each is refused in one sentence
    naming the folder, nothing written; an earlier batch's folder (runs/) is still taken."""
    from helpers import folder_bytes

    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    gallery, run, site = tmp_path / "gallery", tmp_path / "run", tmp_path / "site"
    for folder, name in ((gallery, "manifest.json"), (run, "run.json"), (site, "index.html")):
        folder.mkdir()
        (folder / name).write_text("{}")
        (folder / "index.html").write_text("<p>mine</p>")
    for folder, why in (
        (gallery, "is a gallery (manifest.json), not a batch's"),
        (run, "is a run folder (run.json), not a batch's"),
        (site, "holds index.html, which a batch would replace, but no batch (no runs/)"),
    ):
        before = folder_bytes(folder), sorted(p.name for p in folder.iterdir())
        done = osmis_cli(capsys, "batch", sources, "--out", folder, *tiny_flags(iters=2))
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == (
            f"error: {folder}: {why}; give a new or empty folder, or an earlier batch's, as --out."
        ), done.stderr
        assert (folder_bytes(folder), sorted(p.name for p in folder.iterdir())) == before


# run in a child: the batch starts and shuts down its own Ray, then the child sends itself SIGTERM
_SIGTERM_AFTER_BATCH = """
import os, signal, sys, time
from osmis_core.batch import run_batch
from osmis_core.config import OsmisConfig
sys.path.insert(0, {tests!r})
from helpers import TINY

signal.signal(signal.SIGTERM, lambda signum, frame: print("stop asked", flush=True))
config = OsmisConfig().replace(**{{**TINY, "iters": 2, "eval_every": 0}})
for event in run_batch({sources!r}, config, {out!r}, n_per_source=1, num_cpus=1):
    pass
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(0.5)
print("still running", flush=True)
"""


@pytest.mark.slow
def test_sigterm_after_the_batch_shut_its_ray_down_reaches_the_stop_handler(tmp_path):
    """A SIGTERM while `osmis batch` merged its dataset (after its Ray was shut down) ended the command at once,
    exit -15: no summary, a dataset of 111 of 4,000 pairs, no dataset.json. ray.shutdown leaves SIGTERM to the
    system's default beneath Python's handler; run_batch sets the handler again, so the stop reaches it."""
    import subprocess
    import sys
    from pathlib import Path

    sources = tmp_path / "sources"
    sources.mkdir()
    code = _SIGTERM_AFTER_BATCH.format(
        tests=str(Path(__file__).parent), sources=str(write_scene(sources)), out=str(tmp_path / "b")
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-2:] == ["stop asked", "still running"], done.stdout
    assert (tmp_path / "b" / "summary.json").is_file()


@pytest.mark.slow
def test_a_rerun_that_changes_an_option_fixed_on_resume_is_refused_with_nothing_changed(tmp_path, local_ray, capsys):
    """`osmis batch` run again with another --ch-g skipped every finished run as "finished" and wrote summary.json
    with ch_g 8 over models of ch_g 4 (an unfinished run failed on resume, its pairs dropped from the dataset).
    Refused in one sentence naming the source, its run and the option, exit 2, the batch as it was; another
    --iters (an option a resume may change) still goes on."""
    from helpers import folder_bytes

    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    out = tmp_path / "b"
    argv = ["batch", sources, "--out", out, "--n-per-source", "2", "--quiet", *tiny_flags(iters=2, eval_every=0)]
    assert osmis_cli(capsys, *argv).returncode == 0
    before = {p: b for p, b in folder_bytes(out).items() if p.name != ".lock"}
    done = osmis_cli(capsys, *argv, "--ch-g", "8")
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(
        f"error: source scene: {out / 'runs' / 'scene'} was made with another config (ch_g = 4, asked 8)"
    ), err
    assert {p: b for p, b in folder_bytes(out).items() if p.name != ".lock"} == before
    done = osmis_cli(capsys, *argv, "--iters", "4")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "summary.json").read_text())["sources"][0]["iterations"] == 4


def test_a_batch_refused_once_ray_is_up_leaves_no_folder(tmp_path, local_ray, capsys):
    """`--gpus-per-run 0.5` where Ray has no GPU is refused once Ray is there ("no Ray node has ... 0.5 GPU(s)"),
    in one sentence, exit 2, but left BATCH made, holding .lock and an empty runs/. A BATCH the command made goes
    again; one that was there stays, as it was."""
    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    out = tmp_path / "new" / "b"
    done = osmis_cli(capsys, "batch", sources, "--out", out, "--gpus-per-run", "0.5", *tiny_flags(iters=2))
    assert done.returncode == 2, done.stderr
    assert "0.5 GPU(s)" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources"]
    there = tmp_path / "there"
    there.mkdir()
    done = osmis_cli(capsys, "batch", sources, "--out", there, "--gpus-per-run", "0.5", *tiny_flags(iters=2))
    assert done.returncode == 2, done.stderr
    assert there.is_dir()


def _descendants_named(prefix: str) -> list[int]:
    """Processes under this one (the Ray it started) whose command line starts with `prefix`, from /proc."""
    import os
    from pathlib import Path

    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
            parents[int(pid)] = int(rest.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                todo.append(pid)
                try:
                    if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(prefix.encode()):
                        found.append(pid)
                except OSError:
                    pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not __import__("pathlib").Path("/proc").is_dir(), reason="finds Ray's worker through /proc")
def test_a_killed_worker_resumes_and_its_seconds_count_both_attempts(tmp_path, local_ray):
    """kill -9 of the Ray worker training a source: Ray retries it, it resumes from its checkpoint and the batch
    ends finished with attempts 2 and no leftover files. The row's seconds, "this source's own work over all its
    attempts" (summary.run_row), counted only the last attempt: the lost one's time is now counted up to its last
    progress line."""
    import os
    import signal

    from helpers import TINY

    from osmis_core.batch import RunProgress, RunStarted, run_batch
    from osmis_core.config import OsmisConfig

    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    out = tmp_path / "b"
    config = OsmisConfig().replace(**{**TINY, "iters": 200, "eval_every": 0})
    started = last = None
    killed = False
    for event in run_batch(sources, config, out, n_per_source=2, cpus_per_run=1):
        if isinstance(event, RunStarted) and started is None:
            started = time.perf_counter()
        if isinstance(event, RunProgress) and not killed:
            last = time.perf_counter()
            if event.step >= 4 and last - started >= 6:
                (worker,) = _descendants_named("ray::train_source")
                os.kill(worker, signal.SIGKILL)
                killed = True
    assert killed
    row = json.loads((out / "summary.json").read_text())["sources"][0]
    assert (row["status"], row["iterations"], row["attempts"]) == ("finished", 200, 2), row
    first = last - started
    assert row["seconds"] >= row["train_seconds"] + row["gallery_seconds"] + first - 1, (row, first)
    leftovers = [p.name for p in out.rglob("*") if p.name.startswith(".stop-") or p.name.endswith(".tmp")]
    assert leftovers == []
