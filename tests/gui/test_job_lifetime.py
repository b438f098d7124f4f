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


def test_overlapping_jobs_each_get_their_own_warnings(qtbot):
    """Jobs that overlap and end in another order than they started: each job's warning reaches that job's
    `warned`, one raised on the GUI thread meanwhile reaches the process's hook, and the process's hook is back once
    no job runs. (With a hook per job installed by `warnings.catch_warnings`, process-wide state, the job that ended
    first put back the hook of its start, and the next job's warning went to another job.)"""
    import warnings

    from PySide6.QtCore import QThreadPool

    from osmis_gui import tasks

    names = ("keeper", "first", "second")
    gates = {name: (threading.Event(), threading.Event()) for name in names}
    done, got, by_process = [], [], []

    def job(name):
        entered, go = gates[name]
        entered.set()
        go.wait(10)
        warnings.warn(f"from {name}", UserWarning, stacklevel=1)
        return name

    def process_hook(message, *_):
        by_process.append(str(message))

    pool = QThreadPool.globalInstance()
    threads = pool.maxThreadCount()
    pool.setMaxThreadCount(max(threads, 3))  # three jobs at once, on any machine
    before = warnings.showwarning
    warnings.showwarning = process_hook
    try:
        for name in names:  # each job runs before the next starts
            tasks.start(job, name, returned=done.append, warned=lambda args, n=name: got.append((n, str(args[0]))))
            assert gates[name][0].wait(10)
        for name, so_far in (("first", 1), ("second", 2)):
            gates[name][1].set()
            qtbot.waitUntil(lambda k=so_far: len(done) == k, timeout=10_000)
        warnings.warn("from the GUI thread", UserWarning, stacklevel=1)
        gates["keeper"][1].set()
        qtbot.waitUntil(lambda: len(done) == 3, timeout=10_000)
        assert tasks.wait_for_all(10_000)
        qtbot.waitUntil(lambda: len(got) == 3, timeout=10_000)
        assert got == [("first", "from first"), ("second", "from second"), ("keeper", "from keeper")]
        assert by_process == ["from the GUI thread"]
        qtbot.waitUntil(lambda: warnings.showwarning is process_hook, timeout=10_000)
    finally:
        warnings.showwarning = before
        pool.setMaxThreadCount(threads)


def test_a_generator_jobs_runtime_error_is_its_error(qtbot):
    """A RuntimeError raised in a generator job (torch's errors, out of memory among them, are RuntimeErrors) is
    the job's error, not a console warning (superqt's generator worker returns it as a result and only warns)."""
    from osmis_gui import tasks

    errors, ended = [], []

    def job():
        yield 1
        raise RuntimeError("out of memory")

    tasks.start(job, yielded=lambda _: None, errored=errors.append, finished=lambda: ended.append(True))
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert [str(e) for e in errors] == ["out of memory"]
