"""Running jobs in background threads (superqt workers on the global QThreadPool) and reporting their errors."""
from __future__ import annotations

import traceback
from typing import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import WorkerBase, create_worker

from osmis_core.errors import OsmisError


def start(func: Callable, *args, returned: Callable | None = None, errored: Callable | None = None,
          yielded: Callable | None = None, finished: Callable | None = None, warned: Callable | None = None,
          **kwargs) -> WorkerBase:
    """Run func(*args, **kwargs) (a function or a generator function) in a worker thread. The callbacks are
    bound methods of GUI objects and run on the GUI thread (queued signals)."""
    worker = create_worker(func, *args, _start_thread=False, _ignore_errors=True, **kwargs)
    if returned is not None:
        worker.returned.connect(returned)
    if errored is not None:
        worker.errored.connect(errored)
    if yielded is not None:
        worker.yielded.connect(yielded)
    if finished is not None:
        worker.finished.connect(finished)
    if warned is not None:
        worker.warned.connect(warned)
    worker.start()
    return worker


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(one user-readable sentence, details for the log) for an exception raised in a job."""
    if isinstance(exc, OsmisError):
        return str(exc), ""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"Unexpected error ({type(exc).__name__}): {exc}", details


def wait_for_all(msecs: int = -1) -> bool:
    """Block until every background job has ended (used at exit and by tests)."""
    return QThreadPool.globalInstance().waitForDone(msecs)


class ProgressRelay(QObject):
    """Thread-safe progress reports: call report(stage, done, total) from a worker; `progress` fires on the GUI
    thread."""

    progress = Signal(str, int, int)

    def report(self, stage: str, done: int, total: int) -> None:
        self.progress.emit(str(stage), int(done), int(total))


def tagged(tag, func: Callable, *args, **kwargs):
    """Run func and return (tag, result); an exception carries the tag in `gui_tag`. Lets a page ignore the
    late answer of a job that a newer request has superseded."""
    try:
        return tag, func(*args, **kwargs)
    except Exception as exc:
        exc.gui_tag = tag
        raise
