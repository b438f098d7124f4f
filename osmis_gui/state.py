"""The app's one state: what data, settings, run and gallery are current, and whether a training runs.

Pages observe it (Qt signals) and change it through its methods; no page holds the window or another page. The
window turns its `message` and `status` signals into message boxes and status-bar lines. Nothing here touches a
widget or the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

IDLE, LOADING, RUNNING, PAUSED, STOPPING = "idle", "loading", "running", "paused", "stopping"


@dataclass(frozen=True)
class DataChoice:
    """The training data the user chose: DATA (image, folder or video) and an explicit MASK (None: the one found
    next to the data, if any)."""

    path: str
    mask_path: str | None = None


@dataclass
class RunView:
    """The run shown: its folder, run.json (config and data), checkpoint steps (ascending) and gallery folders
    (newest first)."""

    run_dir: str
    info: dict = field(default_factory=dict)
    checkpoints: list[int] = field(default_factory=list)
    galleries: list[str] = field(default_factory=list)

    @property
    def data_path(self) -> str | None:
        return (self.info.get("data") or {}).get("path")

    @property
    def mask_path(self) -> str | None:
        return (self.info.get("data") or {}).get("mask_path")


class AppState(QObject):
    """Current data, settings, run, gallery and training state, with a signal per change.

    Services for every page: `report_error` (the one place where a worker's exception becomes a log line and,
    when asked, a message box), `show_message`, `show_status`, `log`, `confirm`.
    """

    data_changed = Signal(object)  # DataChoice or None
    data_status_changed = Signal()  # data decoded / inspected, or an error about it
    config_changed = Signal(object)  # OsmisConfig or None (invalid settings)
    options_changed = Signal(object)  # set of option names just edited
    run_opened = Signal(object)  # a reopened run: jobs.RunSnapshot
    run_changed = Signal(object)  # RunView or None
    checkpoints_changed = Signal(object)  # list[int]
    gallery_changed = Signal(object)  # gallery folder shown (str) or None
    training_state_changed = Signal(str)  # IDLE, LOADING, RUNNING, PAUSED, STOPPING
    metrics_changed = Signal()  # availability of per-image scores is known
    message = Signal(str, str, str)  # kind ('info', 'warning', 'error'), title, text: a message box
    status = Signal(str, int)  # status-bar text, milliseconds
    log_line = Signal(str)  # a line (or block) for the log

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.data: DataChoice | None = None
        self.data_problem: str | None = "no data loaded (File ▸ Open Data…)"
        self.config = None
        self.config_problem: str | None = None
        self.run: RunView | None = None
        self.gallery_dir: str | None = None
        self.training_state = IDLE
        self.metrics_checked = False
        self.metrics_available = False
        self.metrics_reason = "checking for the metrics package"
        self.confirmer: Callable[[str, str], bool] = lambda title, text: False

    # -- data ----------------------------------------------------------------------------------------------
    def set_data(self, path, mask_path=None) -> None:
        """Choose DATA (and MASK); None forgets the data."""
        self.data = DataChoice(str(path), str(mask_path) if mask_path else None) if path else None
        self.data_problem = "the data is still loading" if path else "no data loaded (File ▸ Open Data…)"
        self.data_changed.emit(self.data)
        self.data_status_changed.emit()

    def set_data_problem(self, problem: str | None) -> None:
        """Why training cannot start from the data (None: it can), published by the data view."""
        self.data_problem = problem
        self.data_status_changed.emit()

    # -- settings ------------------------------------------------------------------------------------------
    def set_config(self, config, problem: str | None = None, changed: set | None = None) -> None:
        """The validated settings (None with `problem` when an option is invalid); `changed`: edited names."""
        self.config = config
        self.config_problem = None if config is not None else (problem or "the settings are not valid")
        self.config_changed.emit(config)
        self.options_changed.emit(set(changed or ()))

    def device(self) -> str:
        return self.config.run.device if self.config is not None else "auto"

    def training_blocker(self) -> str | None:
        """Why a new training cannot start now (None: it can)."""
        if self.training_state != IDLE:
            return "a training is running"
        return self.data_problem if self.data is None or self.data_problem else self.config_problem

    # -- run and gallery -----------------------------------------------------------------------------------
    def open_run(self, snapshot) -> None:
        """Show a reopened run (a jobs.RunSnapshot): pages restore its curves, previews, log and galleries."""
        self.run = RunView(snapshot.run_dir, snapshot.info, list(snapshot.checkpoints), list(snapshot.galleries))
        self.run_opened.emit(snapshot)
        self.run_changed.emit(self.run)

    def set_run(self, run_dir: str, info: dict | None = None) -> None:
        """A run that training has just begun (new or continued); unchanged when it is already the current one."""
        if self.run is not None and self.run.run_dir == run_dir:
            return
        self.run = RunView(run_dir, dict(info or {}))
        self.run_changed.emit(self.run)

    def set_checkpoints(self, run_dir: str, steps: list[int]) -> None:
        if self.run is not None and self.run.run_dir == run_dir:
            self.run.checkpoints = sorted(steps)
            self.checkpoints_changed.emit(self.run.checkpoints)

    def set_gallery(self, gallery_dir: str | None) -> None:
        self.gallery_dir = gallery_dir
        self.gallery_changed.emit(gallery_dir)

    # -- training ------------------------------------------------------------------------------------------
    def set_training_state(self, state: str) -> None:
        self.training_state = state
        self.training_state_changed.emit(state)
        self.data_status_changed.emit()  # whether a new run may start has changed

    def training_busy(self) -> bool:
        return self.training_state != IDLE

    # -- scores --------------------------------------------------------------------------------------------
    def set_metrics_available(self, available: bool, reason: str) -> None:
        self.metrics_checked, self.metrics_available, self.metrics_reason = True, available, reason
        self.metrics_changed.emit()

    # -- services ------------------------------------------------------------------------------------------
    def report_error(self, title: str, exc: BaseException, popup: bool = False) -> str:
        """THE error sink of the workers: the user-readable sentence for `exc` (returned), its traceback (for an
        unexpected error) in the log, and a message box when `popup`."""
        from .tasks import describe_error

        message, details = describe_error(exc)
        if details:
            self.log(details.rstrip())
        if popup:
            self.show_message("warning", title, message[:1].upper() + message[1:])
        return message

    def report_warning(self, args: tuple) -> None:
        """THE warning sink of the workers: a warning raised in a job (the arguments of warnings.showwarning:
        message, category, filename, line number, ...) in the log and, for a while, in the status bar."""
        text = str(args[0]) if args else ""
        self.log(f"warning: {text}")
        self.show_status(f"Warning: {text}", 10000)

    def show_message(self, kind: str, title: str, text: str) -> None:
        self.message.emit(kind, title, text)

    def show_status(self, text: str, msecs: int = 5000) -> None:
        self.status.emit(text, msecs)

    def log(self, text: str) -> None:
        self.log_line.emit(text)

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (the window answers; False when there is no window)."""
        return bool(self.confirmer(title, text))
