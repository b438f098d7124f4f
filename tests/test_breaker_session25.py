"""Breaker session 25: the parallel test setup (tests/conftest.py) leaves no Ray temp folder behind when a run ends
early or without a session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE_ENV = "OSMIS_BREAKER25_PROBE"


def _env(probe: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OMP_", "RAY_", "OSMIS_TEST_"))}
    env.update({PROBE_ENV: str(probe), "QT_QPA_PLATFORM": "offscreen"})
    return env


def test_probe_dies():
    """Run only by the test below (skipped otherwise): notes this worker's Ray folder, then ends the worker the way
    Ctrl-C's teardown or a crash does, before its session finishes."""
    out = os.environ.get(PROBE_ENV)
    if not out:
        pytest.skip("a probe for the test below")
    with open(out, "a") as f:
        f.write(os.environ["RAY_TMPDIR"] + "\n")
    os._exit(1)


def test_a_worker_ended_before_its_session_finishes_leaves_no_ray_folder(tmp_path):
    """A worker ended mid-run (Ctrl-C: the controller ends its workers, which then never reach their session finish)
    used to leave its /tmp/osmis-ray-* folder behind on every interrupted run; the controller removes it now."""
    probe, temp = tmp_path / "probe.txt", tmp_path / "temp"
    temp.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--max-worker-restart", "0",
         "tests/test_breaker_session25.py::test_probe_dies"],
        cwd=ROOT, env={**_env(probe), "TMPDIR": str(temp)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    folders = probe.read_text().split()
    assert folders, "the probe did not run"
    assert not [f for f in folders if Path(f).exists()], "a worker's Ray folder outlived the run"
    assert not list(temp.glob("osmis-ray-*")), "the run's Ray folder outlived it"


@pytest.mark.parametrize("flag", ["--markers", "--help"])
def test_pytest_without_a_session_leaves_no_ray_folder(flag, tmp_path):
    """`pytest -n 0 --markers` configures pytest (making this process's Ray folder) and ends without a session; the
    folder used to be left in the system's temp folder (here a folder of the test's own, named by TMPDIR)."""
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", flag],
        cwd=ROOT, env={**_env(tmp_path / "unused"), "TMPDIR": str(temp)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list(temp.glob("osmis-ray-*"))


def test_named_tests_run_in_one_process(tmp_path):
    """`pytest tests/test_x.py::test_name` under setup.cfg's `-n auto` runs in this process (no worker), with the
    serial thread count, rather than starting two workers that each import torch for one test (8.4 s against 2.9 s)."""
    import json

    from test_parallel_setup import PROBE_ENV as SETUP_PROBE_ENV

    from osmis_core.threads import physical_cores

    probe = tmp_path / "probe.jsonl"
    env = {**_env(tmp_path / "unused"), SETUP_PROBE_ENV: str(probe)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_parallel_setup.py::test_probe"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [json.loads(line) for line in probe.read_text().splitlines()]
    assert [(r["worker"], r["threads"]) for r in rows] == [(None, physical_cores())] * 2, rows
