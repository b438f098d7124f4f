"""Running jobs in background threads (superqt workers on the global QThreadPool).

`Jobs` is what a page uses: its errors go through the state's one error sink, a generator job reports progress
by its yields (superqt turns them into `yielded` signals), and a job started under a `key` has its answers
dropped once a newer job under the same key has started (the stale-answer rule, here and nowhere else).
"""

from __future__ import annotations

import inspect
import queue
import threading
import traceback
import warnings
import weakref
from collections.abc import Callable, Iterator

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool
from superqt.utils import FunctionWorker, GeneratorWorker, WorkerBase, create_worker

from osmis_core.errors import OsmisError

_worker_setup: Callable[[], None] | None = None


def set_worker_setup(setup: Callable[[], None] | None) -> None:
    """Run `setup()` at the start of every later job, in its worker thread (the app's entry point sets the
    workers' CPU priority this way)."""
    global _worker_setup
    _worker_setup = setup


def _with_setup(func: Callable) -> Callable:
    setup = _worker_setup
    if setup is None:
        return func
    if inspect.isgeneratorfunction(func):

        def generator(*args, **kwargs):
            setup()
            return (yield from func(*args, **kwargs))

        return generator

    def function(*args, **kwargs):
        setup()
        return func(*args, **kwargs)

    return function


class _RoutedRun:
    """superqt's `WorkerBase.run` with one change: the job's warnings reach its `warned` signal through the
    process's one warning router (`_WarningRouter`), looked up by the thread the warning is raised in, instead of
    a hook that each job installs with `warnings.catch_warnings()`.

    Why: `catch_warnings` saves and restores process-wide state, so jobs that overlap swapped each other's hooks: a
    job that ended put back the hook of the time it started while another still ran, and that one's warnings (a
    damaged checkpoint replaced by an older one) went to the console instead of the user. An exception that the
    job returns (superqt's generator worker returns a RuntimeError instead of raising it) is its error too, not a
    console warning."""

    def run(self) -> None:
        self.started.emit()
        self._running = True
        _router.attach(self.warned.emit)
        try:
            result = self.work()
            if isinstance(result, Exception):
                raise result
            if not self.abort_requested:
                self.returned.emit(result)
        except Exception as exc:  # noqa: BLE001 - a job's error is its `errored` signal
            self.errored.emit(exc)
        finally:
            _router.detach()
        self._running = False
        self.finished.emit()
        self._finished.emit(self)


class _FunctionJob(_RoutedRun, FunctionWorker):
    pass


class _GeneratorJob(_RoutedRun, GeneratorWorker):
    """A generator job: `quit()` stops it at its next yield, and its generator is then closed in its own thread
    (GeneratorExit at that yield), so that the engine's event stream it iterates cleans up before the job ends (a
    gallery's staging folder removed) instead of whenever the generator is collected. superqt leaves it open."""

    def work(self):
        try:
            return super().work()
        finally:
            if self.abort_requested:
                self._gen.close()


def start(
    func: Callable,
    *args,
    returned: Callable | None = None,
    errored: Callable | None = None,
    yielded: Callable | None = None,
    finished: Callable | None = None,
    warned: Callable | None = None,
    **kwargs,
) -> WorkerBase:
    """Run func(*args, **kwargs) (a function or a generator function) in a worker thread. The callbacks run on
    the GUI thread (queued signals); a warning raised in the job's thread goes to `warned` (the arguments of
    warnings.showwarning)."""
    kind = _GeneratorJob if inspect.isgeneratorfunction(func) else _FunctionJob
    worker = create_worker(
        _with_setup(func), *args, _start_thread=False, _ignore_errors=True, _worker_class=kind, **kwargs
    )
    _track_on_this_thread(worker)
    for signal, slot in (
        ("returned", returned),
        ("errored", errored),
        ("yielded", yielded),
        ("finished", finished),
        ("warned", warned),
    ):
        if slot is not None:
            getattr(worker, signal).connect(slot)
    worker.start()
    return worker


class _WarningRouter:
    """While jobs run, the process's warning hook: a warning raised in a job's thread goes to that job (every time,
    as superqt's "always"), any other to the hook that was in place before (the console's, a test's).

    Installed on this (the GUI) thread when the first of the jobs now running starts, and the process's warning
    state put back as it was when the last of them has ended (its last signal reaches this thread after the job
    has left `_RoutedRun.run`). A job's thread is attached only while its job runs in it.
    """

    def __init__(self):
        self._running = 0
        self._saved: warnings.catch_warnings | None = None
        self._before: Callable = warnings.showwarning
        self._sinks: dict[int, Callable[[tuple], None]] = {}

    def started(self) -> None:
        if self._running == 0:
            self._saved = warnings.catch_warnings()
            self._saved.__enter__()
            self._before = warnings.showwarning
            warnings.filterwarnings("always")
            warnings.showwarning = self._show
        self._running += 1

    def ended(self, *_) -> None:
        self._running -= 1
        if self._running == 0 and self._saved is not None:
            self._saved.__exit__(None, None, None)
            self._saved = None

    def attach(self, sink: Callable[[tuple], None]) -> None:
        self._sinks[threading.get_ident()] = sink

    def detach(self, thread: int | None = None) -> None:
        """Detach `thread` (an ident; default: this thread)."""
        self._sinks.pop(threading.get_ident() if thread is None else thread, None)

    def sink_here(self) -> Callable[[tuple], None] | None:
        """The sink of the job running in this thread (None: none), for a helper thread the job starts to attach."""
        return self._sinks.get(threading.get_ident())

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:
        sink = self._sinks.get(threading.get_ident())
        if sink is None:
            self._before(message, category, filename, lineno, file, line)
        else:
            sink((message, category, filename, lineno, file, line))


_router = _WarningRouter()


def _track_on_this_thread(worker: WorkerBase) -> None:
    """This (the GUI) thread's hold on a job: it owns the worker's signal object and destroys it here when the
    worker goes, and it counts the job in the warning router (`_WarningRouter`) until the job's last signal.

    Why the ownership: the signal object lives in this thread, but the worker may go in the pool thread that ran it
    (that thread can hold the last reference once the worker's last signal has reached this thread). Destroyed
    there, the object raced this thread's delivery of its queued signals: a segmentation fault in this thread's
    event loop. With a parent here, the worker's end only drops the Python wrapper, and `deleteLater` (safe from any
    thread) has the object destroyed by this thread's event loop.
    """
    app = QCoreApplication.instance()
    if app is None:  # no event loop delivers the signals: nothing races
        return
    worker.signals.setParent(app)
    _router.started()
    worker.signals._finished.connect(_router.ended)
    # not at exit: the application, and with it the object, may be gone by then
    weakref.finalize(worker, worker.signals.deleteLater).atexit = False


class Jobs(QObject):
    """A page's background jobs.

    start(func, *args, key=..., returned=..., yielded=..., failed=(title, handler), popup=..., finished=...):
    `failed` receives the user-readable sentence after the state's error sink has logged the details (and shown a
    message box when `popup`). A warning raised in a job goes to `warned` (the arguments of warnings.showwarning),
    by default to the state's warning sink (`report_warning`). With a `key`, answers (returned, yielded, failed,
    warned) of an older job under that key are ignored; `finished` of such a job is ignored too. `forget(key)`
    makes the running job's answers stale.
    """

    def __init__(self, state, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self._tickets: dict[str, int] = {}

    def forget(self, key: str) -> None:
        self._tickets[key] = self._tickets.get(key, 0) + 1

    def start(
        self,
        func: Callable,
        *args,
        key: str | None = None,
        returned: Callable | None = None,
        yielded: Callable | None = None,
        failed: tuple[str, Callable | None] | None = None,
        popup: bool = False,
        finished: Callable | None = None,
        warned: Callable | None = None,
        **kwargs,
    ) -> WorkerBase:
        ticket = None
        if key is not None:
            self.forget(key)
            ticket = self._tickets[key]
        relay = _Relay(self, key, ticket, returned, yielded, failed, popup, finished, warned)
        worker = start(
            func,
            *args,
            returned=relay.returned,
            errored=relay.errored,
            finished=relay.finished,
            yielded=relay.yielded if yielded is not None else None,
            warned=relay.warned,
            **kwargs,
        )
        worker.finished.connect(relay.deleteLater)
        return worker

    def current(self, key: str | None, ticket: int | None) -> bool:
        return key is None or self._tickets.get(key) == ticket


class _Relay(QObject):
    """One job's answers on their way to the page: dropped when stale, and with the page (a child of its Jobs,
    so Qt disconnects it when the page goes)."""

    def __init__(self, jobs: Jobs, key, ticket, returned, yielded, failed, popup, finished, warned):
        super().__init__(jobs)
        self.jobs, self.key, self.ticket = jobs, key, ticket
        self._returned, self._yielded, self._failed, self._popup, self._finished, self._warned = (
            returned,
            yielded,
            failed,
            popup,
            finished,
            warned,
        )

    def _current(self) -> bool:
        return self.jobs.current(self.key, self.ticket)

    def returned(self, value) -> None:
        if self._returned is not None and self._current():
            self._returned(value)

    def yielded(self, value) -> None:
        if self._current():
            self._yielded(value)

    def errored(self, exc) -> None:
        if not self._current():
            return
        title, handler = self._failed if self._failed is not None else ("Background job failed", None)
        message = self.jobs.state.report_error(title, exc, popup=self._popup)
        if handler is not None:
            handler(message)

    def finished(self) -> None:
        if self._finished is not None and self._current():
            self._finished()

    def warned(self, args: tuple) -> None:
        if self._current():
            (self._warned or self.jobs.state.report_warning)(args)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(one user-readable sentence, details for the log) for an exception raised in a job."""
    if isinstance(exc, OsmisError):
        return str(exc), ""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"Unexpected error ({type(exc).__name__}): {exc}", details


def wait_for_all(msecs: int = -1) -> bool:
    """Block until every background job has ended (used at exit and by tests)."""
    return QThreadPool.globalInstance().waitForDone(msecs)


_DONE = object()


class _Stopped(BaseException):
    """Raised in an engine function's progress report when its job was stopped: a BaseException, so that no
    `except Exception` of the engine (a metric reported unavailable) takes it for the function's own failure and
    goes on to write a partial result."""


def progress_yields(func: Callable, *args, **kwargs) -> Iterator[tuple]:
    """Run func(*args, progress=report, **kwargs) for an engine function that reports progress through a
    callback, yielding each report's arguments as a tuple while it runs; returns func's result (a generator job:
    its yields reach the page as `yielded` signals). func runs in a helper thread of this worker; its warnings are
    the job's (the helper is attached to the job's warning sink while func runs), not the console's. Closed at a
    yield (the job stopped, tasks: quit), it stops func at func's next report (_Stopped raised there) and returns
    once func has ended: no engine work runs on behind a job that has ended (a closed window's scoring)."""
    reports: queue.SimpleQueue = queue.SimpleQueue()
    outcome: dict = {}
    stop = threading.Event()

    def report(*a) -> None:
        if stop.is_set():
            raise _Stopped
        reports.put(a)

    setup = _worker_setup
    sink = _router.sink_here()

    def run() -> None:
        if sink is not None:
            _router.attach(sink)
        try:
            if setup is not None:
                setup()
            outcome["value"] = func(*args, progress=report, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the worker below
            outcome["error"] = exc
        finally:
            _router.detach()
            reports.put(_DONE)

    helper = threading.Thread(target=run, name="osmis-progress", daemon=True)
    helper.start()
    try:
        while (item := reports.get()) is not _DONE:
            yield item
    except GeneratorExit:
        stop.set()
        helper.join()
        raise
    finally:
        _router.detach(helper.ident)
    helper.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
