"""The test processes' own setup (tests/conftest.py pytest_configure) when pytest-xdist runs the tests in parallel:
each worker's torch threads and Ray temp folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from osmis_core.threads import physical_cores

ROOT = Path(__file__).resolve().parents[1]
PROBE_ENV = "OSMIS_PARALLEL_SETUP_PROBE"


@pytest.mark.parametrize("n", [0, 1])
def test_probe(n):
    """Run only by test_two_workers_have_their_share_of_the_cores_and_their_own_ray_folder (skipped otherwise):
    writes what this process's setup gave it to the file named by OSMIS_PARALLEL_SETUP_PROBE."""
    out = os.environ.get(PROBE_ENV)
    if not out:
        pytest.skip("a probe for the test below")
    import torch

    with open(out, "a") as f:
        f.write(
            json.dumps(
                {
                    "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                    "threads": torch.get_num_threads(),
                    "ray_tmpdir": os.environ["RAY_TMPDIR"],
                }
            )
            + "\n"
        )


def test_two_workers_have_their_share_of_the_cores_and_their_own_ray_folder(tmp_path):
    """`pytest -n 2` (no OMP_NUM_THREADS given): each worker's torch uses its share of the physical cores (one
    thread on a 2-core CPU), not all of them (two teams taking turns on the same cores spin at every barrier), and
    each worker has a Ray temp folder of its own (a Ray started by one never joins a cluster another one starts)."""
    probe = tmp_path / "probe.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OMP_", "RAY_"))}
    env.update({PROBE_ENV: str(probe), "QT_QPA_PLATFORM": "offscreen"})
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "worksteal"]
    proc = subprocess.run(
        [*argv, "tests/test_parallel_setup.py::test_probe"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [json.loads(line) for line in probe.read_text().splitlines()]
    assert sorted(r["worker"] for r in rows) == ["gw0", "gw1"], rows
    assert {r["threads"] for r in rows} == {max(1, physical_cores() // 2)}, rows
    folders = {r["ray_tmpdir"] for r in rows}
    assert len(folders) == 2 and all(Path(f).parent.name.startswith("osmis-ray-") for f in folders), rows
    assert not any(Path(f).exists() for f in folders), "a worker's Ray folder outlived it"
