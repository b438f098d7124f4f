"""The fast part of the fault suite (benchmarks/faults.py): the same checks with small settings.

Full suite and its table: `python benchmarks/faults.py` (docs/reliability.md).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import faults  # noqa: E402


def _assert_passed(rows):
    failed = [r for r in rows if not r.passed]
    assert not failed, "\n".join(f"{r.fault}: {r.figure}" for r in failed)


def test_hostile_checkpoints(tmp_path):
    _assert_passed(faults.hostile_checkpoints(tmp_path))


def test_hostile_configs_and_manifests(tmp_path):
    _assert_passed(faults.hostile_configs(tmp_path) + faults.hostile_manifests(tmp_path))


def test_bad_numbers(tmp_path):
    _assert_passed(faults.bad_numbers(tmp_path))


def test_nan_injection(tmp_path):
    _assert_passed(faults.nan_injection(tmp_path))


def test_full_disk(tmp_path):
    rows = faults.full_disk(tmp_path)
    if rows[0].figure.startswith("SKIPPED"):
        pytest.skip(rows[0].figure)
    _assert_passed(rows)


def test_property_based_readers(tmp_path):
    _assert_passed(faults.property_tests(tmp_path, examples=25))


def test_kill_mid_write_then_resume(tmp_path):
    """One SIGKILL the moment a write is in progress, then a resume to the end (no reference run: resuming is
    compared with an unkilled run in tests/test_training.py)."""
    _assert_passed(faults.kill_resume(tmp_path, cycles=1, iters=8, compare=False, modes=("write",)))
