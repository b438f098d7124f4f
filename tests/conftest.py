"""Fixtures; ../shared/data tests skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import SHARED_DATA, init_ray, write_scene

from osmis_core.threads import physical_cores


def pytest_configure(config) -> None:
    """In each process that runs tests (not an xdist controller): pins the CPU thread count, before torch is
    imported (the OpenMP runtime reads OMP_NUM_THREADS once, when it loads), unless the caller chose one; and gives
    Ray a temp folder of the process's own.

    Why the thread count: tests compare runs to float precision (N + resume + N == 2N), so the count must not
    change under them, as the adaptive plan of `osmis` (osmis_core/threads.py) does when other programs are busy.
    A serial run takes torch's default, one thread per physical core. Under pytest-xdist the workers share the
    cores: each takes its share (one thread per worker on a 2-core CPU with `-n 2`), as more threads than cores
    only take turns and spin at every barrier. The controller runs no test and sets nothing, so its workers
    inherit only the caller's choice."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")  # set by xdist in a worker before its configuration
    if workers:
        threads = max(1, physical_cores() // int(workers))
    elif config.getoption("dist", "no") != "no":
        _own_ray_temp_dir()  # the workers' folders go inside it (below), so the controller can remove them
        os.environ[_RAY_PARENT_ENV] = _RAY_TMPDIR[0]  # the workers it starts inherit its environment
        return
    else:
        threads = physical_cores()
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _own_ray_temp_dir()


def pytest_xdist_auto_num_workers(config) -> int | None:
    """`-n auto` (setup.cfg) when only named tests are asked for (`pytest tests/test_x.py::test_name`): none, the
    tests run in this process. Why: starting the workers (each imports torch and the project) costs more than a few
    tests gain from them (one test took 8.4 s with two workers against 2.9 s in one process, 2-core CPU). A file, a
    folder or no argument keeps one worker per CPU (None: xdist's own count)."""
    if config.args and all("::" in arg for arg in config.args):
        return 0
    return None


def _own_ray_temp_dir() -> None:
    """Gives this test process a Ray temp folder of its own (RAY_TMPDIR), removed at its end.

    Why: ray.init() without an address (`local_ray`, run_batch starting its own Ray) joins the cluster whose
    address the last head node on this machine wrote to <Ray temp>/ray_current_cluster, and the two-node test's
    ray.cluster_utils.Cluster writes it there. With one shared /tmp/ray, a Ray started meanwhile by another
    pytest-xdist worker (or another test run on the machine) would join that test's cluster and lose its work when
    the test removes a node. A short folder under the system's temp (not pytest's deeper basetemp): Ray's socket
    paths inside it must stay under the 107-character limit of Unix sockets.

    An xdist worker's folder is inside the controller's: a worker ended before its session finishes (Ctrl-C,
    which makes the controller end its workers; a crash) cannot remove its own, and the controller, which ends last,
    removes them all with its own."""
    import tempfile

    parent = os.environ.get(_RAY_PARENT_ENV) if os.environ.get("PYTEST_XDIST_WORKER") else None
    folder = tempfile.mkdtemp(dir=parent) if parent and os.path.isdir(parent) else tempfile.mkdtemp(prefix="osmis-ray-")
    _RAY_TMPDIR[:] = [folder]
    os.environ["RAY_TMPDIR"] = folder


# Names an xdist controller's Ray temp folder to its workers (_own_ray_temp_dir).
_RAY_PARENT_ENV = "OSMIS_TEST_RAY_PARENT"


# The Ray temp folder this process made (_own_ray_temp_dir); an xdist controller's holds its workers' folders.
_RAY_TMPDIR: list[str] = []


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown (`_ray_at_the_end` shuts Ray down)
def pytest_sessionfinish(session) -> None:
    """Removes this process's Ray temp folder (Ray's logs), here rather than at unconfigure: an xdist worker is
    ended as soon as it reports its session finished."""
    _remove_ray_temp_dir()


def pytest_unconfigure(config) -> None:
    """Removes it also where pytest configures and ends without a session (`pytest -n 0 --markers`, `--help`)."""
    _remove_ray_temp_dir()


def _remove_ray_temp_dir() -> None:
    import shutil

    for folder in _RAY_TMPDIR:
        shutil.rmtree(folder, ignore_errors=True)


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
# running idle under the tests that follow. Under pytest-xdist a worker that does not run that test keeps its Ray
# until its session ends (`_ray_at_the_end`).
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
