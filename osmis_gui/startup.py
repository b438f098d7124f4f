"""Process-wide settings of the desktop app, in one place, applied by its entry point (`run_app`) only.

Importing osmis_gui changes nothing in the process; an application that embeds the window decides for itself.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

from PySide6.QtCore import QObject

from . import jobs, tasks

# Training runs in a thread of this process. A short GIL switch interval lets the GUI thread get the interpreter
# back soon after each Qt call while the trainer runs Python code (repaints of the loss plots otherwise wait for
# the default 5 ms interval per call), at a negligible cost in training speed.
SWITCH_INTERVAL_S = 0.0005
WORKER_NICE = 10


def lower_thread_priority(nice: int = WORKER_NICE) -> None:
    """Run the calling (worker) thread, and the compute threads it starts, at a lower CPU priority than the GUI
    thread, so that on a busy machine the window stays responsive. Linux only (nice is per thread there); a
    no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (AttributeError, OSError):
        pass


def tune_process() -> None:
    """The GIL switch interval, and a lower CPU priority for every background job's thread."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
    tasks.set_worker_setup(lower_thread_priority)


class _WarmUp(QObject):
    """Receives the warm-up job's answer (a child of the state: dropped when the window has gone)."""

    def __init__(self, state):
        super().__init__(state)
        self.state = state

    def done(self, found: dict) -> None:
        # torch and its friends are imported now: ~400,000 long-lived objects that every full garbage collection
        # would walk while holding the GIL (a visible freeze at a random moment). Exempt them.
        gc.freeze()
        self.state.set_metrics_available(bool(found.get("metrics")), found.get("metrics_reason", ""))

    def failed(self, exc: BaseException) -> None:
        self.state.set_metrics_available(False, tasks.describe_error(exc)[0])


def warm_up(state) -> None:
    """Import the engine (torch) and Qt's image plugins in the background, then exempt the long-lived objects
    they made from full garbage collections and tell the state whether per-image scores are available."""
    receiver = _WarmUp(state)
    tasks.start(jobs.warm_up, returned=receiver.done, errored=receiver.failed)


def release() -> None:
    """Undo `warm_up`'s exemption on the way out: the frozen objects are collected normally again."""
    gc.unfreeze()
