"""A background job's signal object is destroyed on the GUI thread, even when the pool thread that ran the job
drops the last reference to the job (CI crashed with a segmentation fault in the GUI thread's event loop while a
pool thread was tearing a finished job down)."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.gui


def test_a_job_whose_pool_thread_lets_go_last_is_destroyed_on_the_gui_thread(qtbot):
    from PySide6.QtCore import Qt

    from osmis_gui import tasks

    go = threading.Event()
    answers = []
    destroyed_on = []

    def job():
        go.wait(10)
        return 7

    def linger():  # runs in the pool thread as the job's last signal goes out: the GUI thread lets go first
        time.sleep(0.3)

    worker = tasks.start(job, returned=answers.append)
    worker.signals.destroyed.connect(
        lambda *_: destroyed_on.append(threading.current_thread() is threading.main_thread()),
        Qt.ConnectionType.DirectConnection,
    )
    worker.signals._finished.connect(linger, Qt.ConnectionType.DirectConnection)
    del worker  # from here on only the job's own machinery holds it
    go.set()
    qtbot.waitUntil(lambda: answers == [7], timeout=10_000)
    assert tasks.wait_for_all(10_000)
    qtbot.waitUntil(lambda: bool(destroyed_on), timeout=10_000)
    assert destroyed_on == [True], "the job's signal object was destroyed in the pool thread"


def test_a_warning_while_a_finished_jobs_hook_is_installed_is_harmless(qtbot):
    """superqt installs a warning hook per job with `warnings.catch_warnings`, process-wide state: two jobs that
    end in the opposite order of their start leave the first job's hook installed while a third still runs (the
    process's own is put back once none runs). A warning meanwhile must still be only a warning, and the process's
    hook is back at the end."""
    import warnings

    from osmis_gui import tasks

    gates = {name: (threading.Event(), threading.Event()) for name in ("keeper", "first", "second")}
    done = []
    original = warnings.showwarning

    def job(name):
        entered, go = gates[name]
        entered.set()
        go.wait(10)
        return name

    def run(name):
        tasks.start(job, name, returned=done.append)
        assert gates[name][0].wait(10)

    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    threads = pool.maxThreadCount()
    pool.setMaxThreadCount(max(threads, 3))  # three jobs at once, on any machine
    try:
        for name in ("keeper", "first", "second"):  # each hook is in before the next job starts
            run(name)
        gates["first"][1].set()
        qtbot.waitUntil(lambda: done == ["first"], timeout=10_000)
        gates["second"][1].set()  # the second restores the first's hook
        qtbot.waitUntil(lambda: done == ["first", "second"], timeout=10_000)
        qtbot.wait(50)  # the finished jobs' objects go (deferred deletes)
        assert warnings.showwarning is not original  # the first job's hook, left behind
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a late warning", UserWarning, stacklevel=1)  # must not raise
        gates["keeper"][1].set()
        qtbot.waitUntil(lambda: done == ["first", "second", "keeper"], timeout=10_000)
        assert tasks.wait_for_all(10_000)
        qtbot.waitUntil(lambda: warnings.showwarning is original, timeout=10_000)
    finally:
        warnings.showwarning = original
        pool.setMaxThreadCount(threads)
