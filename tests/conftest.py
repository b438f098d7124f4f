"""Fixtures; ../shared/data tests skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import SHARED_DATA, init_ray, write_scene

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


@pytest.fixture(scope="session")
def _tiny_renderer_base(tmp_path_factory):
    """A tiny renderer trained 2 iterations on the synthetic scene, once for every module that asks for
    `tiny_renderer_run`; returns (run folder, its layout file)."""
    from test_renderer_training import TINY_RENDERER

    from osmis_core.application.session import start_training
    from osmis_core.config import build_config

    root = tmp_path_factory.mktemp("tiny_renderer")
    list(start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), write_scene(root), root / "run").run())
    return root / "run", root / "scene" / "mask" / "00000.png"


@pytest.fixture(scope="module")
def tiny_renderer_run(_tiny_renderer_base, tmp_path_factory):
    """(run folder, its layout file): a copy of that renderer run for one module, whose tests share it (they add
    galleries to it); the layout is the shared scene's, which no test changes."""
    import shutil

    run, layout = _tiny_renderer_base
    return Path(shutil.copytree(run, tmp_path_factory.mktemp("tiny_renderer_copy") / "run")), layout


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


# The test after which no test asks for `local_ray` (pytest_collection_finish): Ray is shut down there, not left
# running idle under the tests that follow.
_LAST_RAY_TEST: list[str] = []


def pytest_collection_finish(session) -> None:
    users = [item.nodeid for item in session.items if "local_ray" in getattr(item, "fixturenames", ())]
    _LAST_RAY_TEST[:] = users[-1:]


@pytest.fixture(scope="session")
def _ray_at_the_end():
    """Shuts down at the session's end a Ray that a test left initialised (a failed or interrupted run)."""
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def local_ray(request, _ray_at_the_end):
    """A real local Ray of 2 CPUs initialised in this process, shared by the batch tests of the session: run_batch
    uses an initialised Ray as it is, so each test does not pay Ray's start and its workers' torch import again
    (seconds each). Tests about run_batch (or osmis batch) starting and shutting down its own Ray, or joining a
    cluster, ask for `no_ray` instead."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if _LAST_RAY_TEST == [request.node.nodeid]:
        ray.shutdown()


@pytest.fixture
def no_ray():
    """No Ray initialised in this process (the shared one of `local_ray` is shut down; the next test that asks for
    it starts it again): for a test of run_batch starting its own Ray, as `osmis batch` does."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
