"""Training: start / pause / resume / stop / continue a run, with progress, live preview grid, loss curves and log.

The trainer's event generator runs in a worker thread (superqt); its events arrive here as queued signals. The
page reads the data and settings from the app state and publishes the run, its checkpoints and the training
state there.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QSplitter, QVBoxLayout, QWidget

from osmis_core.config import OsmisConfig
from osmis_core.errors import OsmisError
from osmis_core.events import (
    CheckpointSaved,
    HealthEvent,
    PreviewReady,
    RolledBack,
    StepEval,
    StepStats,
    TrainControl,
    TrainingFailed,
    TrainingFinished,
    TrainingPaused,
    TrainingResumed,
    TrainingStarted,
)

from . import jobs
from .state import IDLE, LOADING, PAUSED, RUNNING, STOPPING
from .tasks import Jobs
from .training_widgets import LossPlots, PreviewPane, RunControls, new_log_view
from .widgets import commit_typed_number, error_label, format_duration, set_error

__all__ = ["IDLE", "LOADING", "PAUSED", "RUNNING", "STOPPING", "TrainingPage"]


class TrainingPage(QWidget):
    """`state` is the training's phase (IDLE, LOADING, RUNNING, PAUSED, STOPPING), mirrored in the app state."""

    state_changed = Signal(str)
    run_started = Signal(str)  # run folder, when training (new or continued) has begun
    stats_received = Signal(int)  # step
    preview_received = Signal(int, str)  # step, PNG path
    preview_shown = Signal(int)  # step of the grid now on screen
    checkpoint_saved = Signal(str, int)  # run folder, step
    finished = Signal(str, int, bool)  # run folder, step, stopped by request
    failed = Signal(str)  # message

    def __init__(self, app_state, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.app_state = app_state
        self.qsettings = settings
        self.jobs = Jobs(app_state, self)
        self.state = IDLE
        self.run_dir: str | None = None
        self.run_info: dict | None = None
        self.latest_checkpoint: int | None = None
        self.last_stats: StepStats | None = None
        self.last_step = 0
        self.total = 0
        self.control: TrainControl | None = None
        self.worker = None
        self.last_error: str | None = None
        self._halt: HealthEvent | None = None  # the HealthEvent that stopped this training, if one did

        self.controls = RunControls(settings)
        c = self.controls
        self.start_action, self.pause_action, self.resume_action, self.stop_action, self.continue_action = (
            c.start_action,
            c.pause_action,
            c.resume_action,
            c.stop_action,
            c.continue_action,
        )
        self.start_button, self.pause_button, self.resume_button, self.stop_button, self.continue_button = (
            c.start_button,
            c.pause_button,
            c.resume_button,
            c.stop_button,
            c.continue_button,
        )
        self.runs_root_edit = c.runs_root_edit
        for action, slot in (
            (self.start_action, self.start_new),
            (self.pause_action, self.pause),
            (self.resume_action, self.resume),
            (self.stop_action, self.stop),
            (self.continue_action, self.continue_run),
        ):
            action.triggered.connect(slot)
        self.preview_pane = PreviewPane()
        self.preview = self.preview_pane.view
        self.preview_pane.show_requested.connect(self._load_sample)
        self.plots = LossPlots()
        self.log_view = new_log_view()
        self._build_layout()

        app_state.data_status_changed.connect(self.update_actions)
        app_state.config_changed.connect(self.update_actions)
        app_state.run_opened.connect(self.load_run)
        app_state.log_line.connect(self.log)
        self.update_actions()

    def _build_layout(self) -> None:
        self.run_label = QLabel("No run yet.")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m iterations (%p%)")
        self.progress.setMinimumWidth(260)
        self.speed_label = QLabel("–")
        self.speed_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        prog = QHBoxLayout()
        prog.addWidget(self.progress, 2)
        prog.addWidget(self.speed_label, 3)
        self.error_label = error_label()
        self.health_label = QLabel()  # the last health check that fired (training/health.py)
        self.health_label.setWordWrap(True)
        self.health_label.setStyleSheet(
            "QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0c46c;"
            " border-radius: 3px; padding: 4px; }"
        )
        self.health_label.setVisible(False)
        top_split = QSplitter(Qt.Orientation.Horizontal)
        top_split.addWidget(self.preview_pane)
        top_split.addWidget(self.plots)
        top_split.setStretchFactor(0, 3)
        top_split.setStretchFactor(1, 2)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top_split)
        self.splitter.addWidget(self.log_view)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.controls)
        layout.addWidget(self.run_label)
        layout.addLayout(prog)
        layout.addWidget(self.error_label)
        layout.addWidget(self.health_label)
        layout.addWidget(self.splitter, 1)

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def samples(self) -> list[tuple[int, str]]:
        """Preview grids of the run so far: (iteration, PNG path)."""
        return self.preview_pane.samples

    def is_busy(self) -> bool:
        return self.state != IDLE

    def _set_state(self, state: str) -> None:
        self.state = state
        self.update_actions()
        self.app_state.set_training_state(state)
        self.state_changed.emit(state)

    def update_actions(self, *_) -> None:
        why = self.app_state.training_blocker() if self.state == IDLE else "a training is running"
        ok = why is None
        self.start_action.setEnabled(ok)
        self.start_action.setStatusTip("Train a new run on the loaded data" if ok else f"Cannot start: {why}")
        self.start_button.setToolTip(
            "Train a new run on the loaded data with the current settings (Ctrl+R)" if ok else f"Cannot start: {why}"
        )
        paused = bool(self.control and self.control.paused)
        self.pause_action.setEnabled(self.state in (RUNNING, LOADING) and not paused)
        self.resume_action.setEnabled(self.state == PAUSED or (paused and self.state == LOADING))
        self.stop_action.setEnabled(self.state in (LOADING, RUNNING, PAUSED))
        self.continue_action.setEnabled(
            self.state == IDLE and self.run_dir is not None and self.latest_checkpoint is not None
        )

    # -- commands ------------------------------------------------------------------------------------------
    def start_new(self) -> None:
        if self.state != IDLE:
            return
        commit_typed_number()  # the Settings page's Iterations typed, Ctrl+R pressed there
        why = self.app_state.training_blocker()
        if why is not None:
            self._fail_to_start(why)
            return
        config, data = self.app_state.config, self.app_state.data
        try:
            run_dir = jobs.new_run_dir(data.path, self.controls.runs_root())
        except OsmisError as exc:
            self._fail_to_start(str(exc))
            return
        self.plots.clear()
        self.health_label.setVisible(False)
        self.preview_pane.set_samples([], follow=True)
        self.log_view.clear()
        self.run_dir = str(run_dir)
        self.run_info = {"config": config.to_dict(), "data": {"path": data.path, "mask_path": data.mask_path}}
        self.latest_checkpoint = None
        self.total = config.run.iters
        self._launch("new", config, data.path, data.mask_path, str(run_dir))

    def continue_run(self) -> None:
        if self.state != IDLE or not self.run_dir:
            return
        commit_typed_number()
        config = self.app_state.config
        if config is None:
            self._fail_to_start("the settings are not valid; fix them in the Settings tab first.")
            return
        iters = config.run.iters
        if self.latest_checkpoint is not None and iters <= self.latest_checkpoint:
            self._fail_to_start(
                f"the run is already at iteration {self.latest_checkpoint:,} of "
                f"{iters:,}; raise 'Iterations' in Settings to train it longer."
            )
            return
        self.total = iters
        self._launch("resume", config, None, None, self.run_dir)

    def _fail_to_start(self, message: str) -> None:
        self.last_error = message
        set_error(self.error_label, message[0].upper() + message[1:])
        self.log(f"cannot start: {message}")
        self.failed.emit(message)

    def _launch(self, mode, config, data_path, mask_path, run_dir) -> None:
        self.control = TrainControl()
        self.last_error = None
        self._halt = None  # the HealthEvent that stopped this training, if one does
        set_error(self.error_label, None)
        self.run_label.setText(f"Run folder: {run_dir}")
        self.progress.setRange(0, max(1, self.total))
        self.speed_label.setText("Loading the data and building the models…")
        self.log(("starting a new run in " if mode == "new" else "continuing the run in ") + run_dir)
        self._set_state(LOADING)
        self.worker = self.jobs.start(
            jobs.train,
            mode,
            config,
            data_path,
            mask_path,
            run_dir,
            self.control,
            yielded=self.handle_event,
            failed=("Training could not run", self._on_error),
            popup=True,
            finished=self._on_worker_finished,
            warned=self._on_warning,
        )

    def pause(self) -> None:
        if self.control is not None and self.state in (RUNNING, LOADING):
            self.control.pause()
            self.log("pause requested")
            self.update_actions()

    def resume(self) -> None:
        if self.control is not None and self.control.paused:
            self.control.resume()
            self.log("resume requested")
            self.update_actions()

    def stop(self) -> None:
        if self.control is not None and self.state in (LOADING, RUNNING, PAUSED):
            self.control.request_stop()
            self.log("stop requested: finishing the current iteration and saving a checkpoint")
            self.speed_label.setText("Stopping: saving a checkpoint…")
            self._set_state(STOPPING)

    # -- events from the worker ----------------------------------------------------------------------------
    def handle_event(self, ev) -> None:
        """Show one event of the trainer's stream (osmis_core.events)."""
        handler = self._handlers.get(type(ev))
        if handler is not None:
            handler(self, ev)

    def _on_eval(self, ev: StepEval) -> None:
        self.plots.add(ev.step, ev.metrics, losses=False)
        self.log(
            f"evaluation at iteration {ev.step:,}: "
            + " ".join(f"{k}={v:.4f}" for k, v in ev.metrics.items())
            + (" (new best checkpoint)" if ev.best else "")
        )

    def _on_health(self, ev: HealthEvent) -> None:
        action = {
            "warn": "training continues",
            "stop": "training stops",
            "rollback": "rolling back to the last healthy checkpoint",
        }.get(ev.action, ev.action)
        self.log(f"warning: {ev.message}; {action}")
        if ev.action == "stop":
            self._halt = ev
        self.health_label.setText(f"Health check at iteration {ev.step:,}: {ev.message} ({action}).")
        self.health_label.setVisible(True)
        self.app_state.show_status(f"Training health: {ev.message}", 10000)

    def _on_rollback(self, ev: RolledBack) -> None:
        self.plots.truncate(ev.to_step)
        self.log(
            f"rolled back from iteration {ev.step:,} to the checkpoint of iteration {ev.to_step:,}; "
            f"discriminator learning rate now {ev.lr_d:g}"
        )

    def _on_preview(self, ev: PreviewReady) -> None:
        self.preview_pane.add_sample(ev.step, str(ev.path))
        self.preview_received.emit(ev.step, str(ev.path))

    def _on_started(self, ev: TrainingStarted) -> None:
        self.run_dir = str(ev.run_dir)
        self.app_state.set_run(self.run_dir, self.run_info)
        self.total = ev.total
        self.last_step = ev.step
        self.progress.setRange(0, max(1, ev.total))
        self.progress.setValue(ev.step)
        if ev.resumed:
            self.plots.truncate(ev.step)
            self.preview_pane.set_samples([s for s in self.samples if s[0] <= ev.step], follow=True)
        for line in ev.summary().splitlines():
            self.log(line)
        if self.state == LOADING:
            self._set_state(PAUSED if self.control and self.control.paused else RUNNING)
        self.speed_label.setText("Training…")
        self.run_started.emit(self.run_dir)

    def _on_checkpoint(self, ev: CheckpointSaved) -> None:
        self.latest_checkpoint = ev.step
        self.log(f"checkpoint saved at iteration {ev.step:,}: {Path(ev.path).name}")
        self.checkpoint_saved.emit(self.run_dir, ev.step)
        self.app_state.set_checkpoints(self.run_dir, jobs.checkpoint_steps(self.run_dir))

    def _on_paused(self, ev: TrainingPaused) -> None:
        self.log(f"paused at iteration {ev.step:,}")
        if self.state != STOPPING:
            self._set_state(PAUSED)
        self.speed_label.setText(f"Paused at iteration {ev.step:,}")

    def _on_resumed(self, ev: TrainingResumed) -> None:
        self.log(f"resumed at iteration {ev.step:,}")
        if self.state != STOPPING:
            self._set_state(RUNNING)

    def _on_finished(self, ev: TrainingFinished) -> None:
        self.last_step = ev.step
        self.progress.setValue(ev.step)
        # a health check's stop is a failure of the run (the CLI exits 2), not a stop on request
        word = "stopped by a health check" if self._halt is not None else "stopped" if ev.stopped else "finished"
        self.log(f"{word} at iteration {ev.step:,}; run folder {ev.run_dir}")
        self.speed_label.setText(f"{word.capitalize()} at iteration {ev.step:,}.")
        if self._halt is not None:
            set_error(self.error_label, f"Training stopped by a health check: {self._halt.message}.")
        self.finished.emit(str(ev.run_dir), ev.step, ev.stopped)

    def _on_failed(self, ev: TrainingFailed) -> None:
        self.last_error = ev.message
        self.log(f"FAILED at iteration {ev.step:,}: {ev.message}")
        if ev.details:
            self.log(ev.details.rstrip())
        msg = f"Training failed: {ev.message}"
        if self.latest_checkpoint is not None:
            msg += f" The checkpoint of iteration {self.latest_checkpoint:,} stays usable."
        set_error(self.error_label, msg)
        self.speed_label.setText(f"Failed at iteration {ev.step:,}.")
        self.failed.emit(ev.message)
        self.app_state.show_message("warning", "Training failed", msg)

    def _on_stats(self, ev: StepStats) -> None:
        self.last_stats = ev
        self.last_step = ev.step
        self.total = ev.total
        self.progress.setRange(0, max(1, ev.total))
        self.progress.setValue(ev.step)
        row = dict(ev.losses)
        row["d_real"], row["d_fake"] = ev.d_real, ev.d_fake
        row.update(ev.extra)
        self.plots.add(ev.step, row)
        g, d = ev.losses.get("g_total"), ev.losses.get("d_total")
        losses = " · ".join(f"{k} {v:.3f}" for k, v in (("G", g), ("D", d)) if v is not None)
        if self.state != STOPPING:
            self.speed_label.setText(
                f"iteration {ev.step:,} / {ev.total:,} · {ev.it_per_s:.2f} it/s · elapsed "
                f"{format_duration(ev.elapsed)} · ETA {format_duration(ev.eta)} · {losses}"
            )
        self.log(
            f"it {ev.step:>7} | {ev.it_per_s:6.2f} it/s | "
            + " ".join(f"{k}={v:.4f}" for k, v in ev.losses.items())
            + f" | D(real)={ev.d_real:.3f} D(fake)={ev.d_fake:.3f}",
            stamp=False,
        )
        self.stats_received.emit(ev.step)

    def _on_error(self, message: str) -> None:
        self.last_error = message
        self.log(f"error: {message}")
        set_error(self.error_label, message[0].upper() + message[1:])
        self.speed_label.setText("Training could not run.")
        self.failed.emit(message)

    def _on_warning(self, w) -> None:
        try:
            self.log(f"warning: {w[0]}")
        except (IndexError, TypeError):
            pass

    def _on_worker_finished(self) -> None:
        self.worker = None
        self.control = None
        if self.run_dir and Path(self.run_dir, "run.json").is_file():
            steps = jobs.checkpoint_steps(self.run_dir)
            self.latest_checkpoint = steps[-1] if steps else None
            self.app_state.set_checkpoints(self.run_dir, steps)
        self._set_state(IDLE)

    # -- history -------------------------------------------------------------------------------------------
    def load_run(self, snap: jobs.RunSnapshot) -> None:
        """Show a reopened run: its curves (stats.jsonl), previews (samples/) and log."""
        self.run_dir = snap.run_dir
        self.run_info = snap.info
        self.latest_checkpoint = snap.latest
        try:
            self.total = OsmisConfig.from_dict(snap.info.get("config", {}), "run.json", {}).run.iters
        except OsmisError:
            self.total = 0
        self.plots.set_rows(snap.stats)
        self.health_label.setVisible(False)
        self.last_step = int(snap.stats[-1]["step"]) if snap.stats else (snap.latest or 0)
        self.progress.setRange(0, max(1, self.total))
        self.progress.setValue(min(self.last_step, max(1, self.total)))
        self.preview_pane.set_samples(list(snap.samples), follow=True)
        self.log_view.setPlainText(snap.log_text)
        self.run_label.setText(f"Run folder: {snap.run_dir}")
        if snap.stats:
            last = next((r for r in reversed(snap.stats) if "event" not in r), snap.stats[-1])  # a loss row
            self.speed_label.setText(
                f"iteration {self.last_step:,} / {self.total:,} · last speed "
                f"{last.get('it_per_s', 0):.2f} it/s · latest checkpoint "
                f"{snap.latest if snap.latest is not None else 'none'}"
            )
        else:
            self.speed_label.setText("No statistics recorded yet.")
        set_error(self.error_label, None)
        self.update_actions()

    def _load_sample(self, i: int) -> None:
        step, path = self.samples[i]
        self.jobs.start(jobs.read_preview, path, key="sample", returned=lambda grid: self._sample_loaded(step, grid))

    def _sample_loaded(self, step: int, grid) -> None:
        if grid is not None:
            self.preview.set_grid(grid.image, grid.columns, grid.pad)
            self.preview_shown.emit(step)

    def log(self, message: str, stamp: bool = True) -> None:
        text = f"{time.strftime('%H:%M:%S')} {message}" if stamp else message
        self.log_view.appendPlainText(text)

    _handlers = {
        StepStats: _on_stats,
        StepEval: _on_eval,
        HealthEvent: _on_health,
        RolledBack: _on_rollback,
        PreviewReady: _on_preview,
        TrainingStarted: _on_started,
        CheckpointSaved: _on_checkpoint,
        TrainingPaused: _on_paused,
        TrainingResumed: _on_resumed,
        TrainingFinished: _on_finished,
        TrainingFailed: _on_failed,
    }
