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


def test_a_warning_after_overlapping_jobs_ended_out_of_order_is_harmless(qtbot):
    """superqt installs a warning hook per job with `warnings.catch_warnings`, process-wide state: two jobs that
    end in the opposite order of their start leave the first job's hook installed. A warning after both have
    ended must still be only a warning, in any thread."""
    import warnings

    from osmis_gui import tasks

    first_in, first_go = threading.Event(), threading.Event()
    second_in, second_go = threading.Event(), threading.Event()
    done = []
    original = warnings.showwarning

    def first():
        first_in.set()
        first_go.wait(10)
        return "first"

    def second():
        second_in.set()
        second_go.wait(10)
        return "second"

    try:
        tasks.start(first, returned=done.append)
        assert first_in.wait(10)
        tasks.start(second, returned=done.append)
        assert second_in.wait(10)  # both hooks are in, the second saved the first's
        first_go.set()
        qtbot.waitUntil(lambda: done == ["first"], timeout=10_000)
        second_go.set()  # the second restores the first's hook
        qtbot.waitUntil(lambda: done == ["first", "second"], timeout=10_000)
        assert tasks.wait_for_all(10_000)
        assert warnings.showwarning is not original  # the first job's hook, left behind
        qtbot.wait(50)  # the finished jobs' objects go (deferred deletes)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a late warning", UserWarning, stacklevel=1)  # must not raise
    finally:
        warnings.showwarning = original
