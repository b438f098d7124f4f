"""Fixtures; ../shared/data tests skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import SHARED_DATA, write_scene

from osmis_core.threads import physical_cores

# Tests compare runs to float precision (N + resume + N == 2N): the CPU thread count must not change under them, as
# the adaptive plan of `osmis` (osmis_core/threads.py) does when other programs are busy. Pinned to torch's
# default count unless the caller chose one.
os.environ.setdefault("OMP_NUM_THREADS", str(physical_cores()))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "example_image").is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def scene(tmp_path) -> Path:
    """Research-layout folder with one image and its 3-class palette mask."""
    return write_scene(tmp_path)


@pytest.fixture(scope="module")
def tiny_renderer_run(tmp_path_factory):
    """A tiny renderer trained 2 iterations on the synthetic scene; returns (run folder, its layout file)."""
    from test_renderer_training import TINY_RENDERER

    from osmis_core.application.session import start_training
    from osmis_core.config import build_config

    root = tmp_path_factory.mktemp("tiny_renderer")
    list(start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), write_scene(root), root / "run").run())
    return root / "run", root / "scene" / "mask" / "00000.png"


@pytest.fixture(scope="session")
def _trained_base(tmp_path_factory) -> Path:
    """A finished 4-iteration tiny run on the synthetic scene, trained once for every test that asks for `trained`."""
    from helpers import tiny_flags

    from osmis_core.cli import main

    root = tmp_path_factory.mktemp("trained")
    run = root / "run"
    assert main(["train", str(write_scene(root)), "--out", str(run), "--iters", "4", "--quiet", *tiny_flags()]) == 0
    return run


@pytest.fixture
def trained(_trained_base, tmp_path, capsys) -> Path:
    """tmp_path/run: a copy of that run for one test, which may damage or continue it (its data stays the shared
    scene: a test that removes the training data trains its own run)."""
    import shutil

    run = Path(shutil.copytree(_trained_base, tmp_path / "run"))
    capsys.readouterr()
    return run


@pytest.fixture(scope="session")
def _two_iteration_base(tmp_path_factory) -> Path:
    """helpers.two_iteration_run on the synthetic scene, trained once for every test that asks for a copy."""
    from helpers import two_iteration_run

    root = tmp_path_factory.mktemp("two_iterations")
    return two_iteration_run(write_scene(root), root / "run")


@pytest.fixture
def two_iteration_copy(_two_iteration_base, tmp_path) -> Path:
    """tmp_path/run: a copy of that finished 2-iteration run for one test, which may change or continue it (its
    data stays the shared scene: a test about the run's own data trains its own run)."""
    import shutil

    return Path(shutil.copytree(_two_iteration_base, tmp_path / "run"))
