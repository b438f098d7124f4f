"""Training: start / pause / resume / stop / continue a run, with progress, live preview grid, loss curves and log.

The trainer's event generator runs in a worker thread (superqt); its events arrive here as queued signals.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QSlider, QSplitter, QStyle, QToolButton, QVBoxLayout,
                               QWidget)

from osmis_core.config import OsmisConfig
from osmis_core.application.session import RESUMABLE_OPTIONS, new_run_dir
from osmis_core.errors import OsmisError
from osmis_core.events import (CheckpointSaved, HealthEvent, PreviewReady, RolledBack, StepEval, StepStats,
                               TrainControl, TrainingFailed,
                               TrainingFinished, TrainingPaused, TrainingResumed, TrainingStarted)

from . import jobs, tasks
from .widgets import ImageView, error_label, format_duration, set_error

IDLE, LOADING, RUNNING, PAUSED, STOPPING = "idle", "loading", "running", "paused", "stopping"
_NOT_CURVES = {"step", "it_per_s", "elapsed", "eta", "total", "event", "best"}
# training metrics (stats.jsonl eval rows) and the adapted augmentation probability: plot 3; SIFID: plot 4
_METRICS = {"diversity", "mask_shares", "p_aug"}
_SIFID = {"sifid", "sifid_proxy"}
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
            "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"]


def _plot_of(key: str) -> int:
    """0: generator losses, 1: discriminator losses, 2: mean D logits, 3: training metrics, 4: SIFID."""
    if key in ("d_real", "d_fake"):
        return 2
    if key in _METRICS:
        return 3
    if key in _SIFID:
        return 4
    return 0 if key.startswith("g_") else 1


class LossPlots(QWidget):
    """pyqtgraph plots (G losses, D losses, D logits; training metrics and SIFID once a run has them) with a
    curve per term; redrawn at most 4x/s. Each curve has its own steps (metrics come every --eval-every)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        titles = ["Generator losses", "Discriminator losses", "Mean D logits (real / fake)",
                  "Training metrics (fixed-noise EMA samples) and p_aug",
                  "SIFID of fixed-noise samples (sifid_proxy: random features, not comparable with papers)"]
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plots: list[pg.PlotWidget] = []
        for t in titles:
            p = pg.PlotWidget(background="w")
            p.setTitle(t, color="#333", size="10pt")
            grid = pg.GridItem(pen=pg.mkPen(225, 225, 225), textPen=None)  # 1.5 ms to paint; showGrid's: 10+ ms
            p.addItem(grid, ignoreBounds=True)
            p.setLabel("bottom", "iteration")
            legend = p.addLegend(labelTextColor="#333", brush=pg.mkBrush(255, 255, 255, 200))
            # The legend sits right of the curves, in the room of a blank right axis sized to it (_fit_legends):
            # inside the view it covered the newest points.
            legend.setParentItem(p.plotItem)
            legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-2, 4))
            p.showAxis("right")
            right = p.getAxis("right")
            right.setStyle(showValues=False, tickLength=0)
            right.setPen(pg.mkPen(None))
            right.setWidth(0)
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            p.setMinimumHeight(110)
            lay.addWidget(p, 1)
            self.plots.append(p)
        for p in self.plots[3:]:
            p.setVisible(False)                 # shown with their first curve
        self.steps: list[float] = []            # steps of the loss rows (StepStats)
        self.values: dict[str, tuple[list[float], list[float]]] = {}  # key -> (steps, values)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False
        self._turn = 0
        self._timer = QTimer(self, interval=250)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        if not self.isVisible():
            return                              # hidden tab: draw when shown
        self._turn = (self._turn + 1) % len(self.plots)
        self.redraw(only_plot=self._turn)

    def clear(self) -> None:
        self.steps = []
        self.values = {}
        for p in self.plots:
            for item in list(p.listDataItems()):
                p.removeItem(item)
            if p.plotItem.legend is not None:
                p.plotItem.legend.clear()
        self.curves = {}
        self._fit_legends()
        self._dirty = True

    def add(self, step: int, values: dict[str, float], losses: bool = True) -> None:
        """Points of one stats.jsonl row (losses: a StepStats row, not an evaluation or health row)."""
        if losses:
            self.steps.append(float(step))
        for key, v in values.items():
            if key in _NOT_CURVES or not isinstance(v, (int, float)) or isinstance(v, bool):
                continue
            steps, vals = self.values.setdefault(key, ([], []))
            steps.append(float(step))
            vals.append(float(v))
        self._dirty = True

    def set_rows(self, rows: list[dict]) -> None:
        self.clear()
        for r in rows:
            if "step" in r:
                self.add(int(r["step"]), r, losses="event" not in r)
        self.redraw(max_new=None)

    def truncate(self, step: int) -> None:
        """Forget points after `step` (a resumed run restarts from its checkpoint)."""
        self.steps = [s for s in self.steps if s <= step]
        for key, (steps, vals) in self.values.items():
            keep = sum(1 for s in steps if s <= step)
            self.values[key] = (steps[:keep], vals[:keep])
        self._dirty = True

    def keys(self) -> list[str]:
        return list(self.values)

    def redraw(self, max_new: int | None = 1, only_plot: int | None = None) -> None:
        """Push the data to the curves. To keep each repaint short while training competes for the GIL,
        the timer refreshes one plot per tick (round robin) and creates at most `max_new` new curves (legend
        entries are costly in pyqtgraph)."""
        if not self._dirty:
            return
        self._dirty = False
        created = 0
        for key, (steps, vals) in self.values.items():
            if only_plot is not None and _plot_of(key) != only_plot:
                self._dirty = True              # other plots on the next ticks
                continue
            curve = self.curves.get(key)
            if curve is None:
                if max_new is not None and created >= max_new:
                    self._dirty = True          # the rest on the next tick
                    continue
                colour = _COLOURS[len(self.curves) % len(_COLOURS)]
                width = 2.5 if key.endswith("total") else 1.5
                plot = self.plots[_plot_of(key)]
                plot.setVisible(True)
                curve = plot.plot(name=key, pen=pg.mkPen(colour, width=width))
                self.curves[key] = curve
                created += 1
            curve.setData(np.asarray(steps, dtype=float), np.asarray(vals, dtype=float), connect="finite")
        if created:
            self._fit_legends()

    def _fit_legends(self) -> None:
        """Give the legends room right of the curves: one width for all three plots, so their axes line up."""
        widths = [p.plotItem.legend.boundingRect().width() for p in self.plots
                  if p.plotItem.legend is not None and p.plotItem.legend.items]
        width = int(max(widths)) + 4 if widths else 0
        for p in self.plots:
            p.getAxis("right").setWidth(width)


class LogView(QPlainTextEdit):
    """A read-only log that stays at its last line while the reader has not scrolled up: also when its text is
    set while hidden (a reopened run in another tab) and after a resize, where QPlainTextEdit alone stopped a few
    lines above the end."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._follow = True
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)

    def _scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum()

    def _range_changed(self, minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def scroll_to_end(self) -> None:
        self._follow = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def setPlainText(self, text: str) -> None:
        super().setPlainText(text)
        self.scroll_to_end()

    def showEvent(self, event) -> None:
        follow = self._follow
        super().showEvent(event)
        if follow:
            self.scroll_to_end()

    def resizeEvent(self, event) -> None:
        follow = self._follow
        super().resizeEvent(event)
        if follow:
            self.scroll_to_end()


class TrainingPage(QWidget):
    state_changed = Signal(str)
    run_started = Signal(str)                 # run folder, when training (new or continued) has begun
    stats_received = Signal(int)              # step
    preview_received = Signal(int, str)       # step, PNG path
    preview_shown = Signal(int)               # step of the grid now on screen
    checkpoint_saved = Signal(str, int)       # run folder, step
    finished = Signal(str, int, bool)         # run folder, step, stopped by request
    failed = Signal(str)                      # message

    def __init__(self, window, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.window_ = window
        self.qsettings = settings
        self.state = IDLE
        self.run_dir: str | None = None
        self.run_info: dict | None = None
        self.latest_checkpoint: int | None = None
        self.last_stats: StepStats | None = None
        self.last_step = 0
        self.total = 0
        self.samples: list[tuple[int, str]] = []
        self.control: TrainControl | None = None
        self.worker = None
        self.last_error: str | None = None
        self._stop_requested_at: int | None = None
        self._sample_tag = 0

        style = self.style()

        def action(text, icon, shortcut, tip, slot):
            a = QAction(style.standardIcon(icon), text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
                         if shortcut else tip)
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        SP = QStyle.StandardPixmap
        self.start_action = action("Start new run", SP.SP_MediaPlay, "Ctrl+R",
                                   "Train a new run on the loaded data with the current settings", self.start_new)
        self.pause_action = action("Pause", SP.SP_MediaPause, "Ctrl+P", "Pause after the current iteration",
                                   self.pause)
        self.resume_action = action("Resume", SP.SP_MediaSeekForward, "Ctrl+Shift+P", "Continue the paused training",
                                    self.resume)
        self.stop_action = action("Stop", SP.SP_MediaStop, "Ctrl+.",
                                  "Stop after the current iteration and save a checkpoint", self.stop)
        self.continue_action = action("Continue run", SP.SP_BrowserReload, "Ctrl+Shift+R",
                                      "Resume the open run from its latest checkpoint up to 'Iterations' "
                                      "(Settings)", self.continue_run)

        bar = QHBoxLayout()

        def button(a: QAction) -> QToolButton:
            b = QToolButton()
            b.setDefaultAction(a)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            bar.addWidget(b)
            return b

        self.start_button = button(self.start_action)
        self.pause_button = button(self.pause_action)
        self.resume_button = button(self.resume_action)
        self.stop_button = button(self.stop_action)
        self.continue_button = button(self.continue_action)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Runs folder:"))
        self.runs_root_edit = QLineEdit(str(settings.value("training/runs_root", str(Path.cwd() / "runs"))))
        self.runs_root_edit.setToolTip("New runs are created in a sub-folder named after the data and the time")
        self.runs_root_edit.editingFinished.connect(
            lambda: self.qsettings.setValue("training/runs_root", self.runs_root_edit.text()))
        bar.addWidget(self.runs_root_edit, 1)
        browse = QPushButton("…")
        browse.setMaximumWidth(32)
        browse.setToolTip("Choose the folder in which new runs are created")
        browse.clicked.connect(self._choose_runs_root)
        bar.addWidget(browse)

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
        self.health_label = QLabel()             # the last health check that fired (training/health.py)
        self.health_label.setWordWrap(True)
        self.health_label.setStyleSheet("QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0c46c;"
                                        " border-radius: 3px; padding: 4px; }")
        self.health_label.setVisible(False)

        # preview grid with a history slider
        self.preview = ImageView("The preview grid (generated images over their colour masks, fixed noise) "
                                 "appears here while training.")
        self.preview_slider = QSlider(Qt.Orientation.Horizontal)
        self.preview_slider.setToolTip("Look back at earlier preview grids")
        self.preview_slider.valueChanged.connect(self._show_sample)
        self.preview_label = QLabel("–")
        self.follow_check = QCheckBox("Follow latest")
        self.follow_check.setChecked(True)
        self.follow_check.setToolTip("Show each new preview as it arrives")
        prow = QHBoxLayout()
        prow.addWidget(QLabel("Preview:"))
        prow.addWidget(self.preview_slider, 1)
        prow.addWidget(self.preview_label)
        prow.addWidget(self.follow_check)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.preview, 1)
        ll.addLayout(prow)

        self.plots = LossPlots()
        top_split = QSplitter(Qt.Orientation.Horizontal)
        top_split.addWidget(left)
        top_split.addWidget(self.plots)
        top_split.setStretchFactor(0, 3)
        top_split.setStretchFactor(1, 2)

        self.log_view = LogView()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setPlaceholderText("Training log")
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        f = self.log_view.font()
        f.setFamily("monospace")
        f.setStyleHint(f.StyleHint.Monospace)
        self.log_view.setFont(f)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top_split)
        self.splitter.addWidget(self.log_view)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.run_label)
        layout.addLayout(prog)
        layout.addWidget(self.error_label)
        layout.addWidget(self.health_label)
        layout.addWidget(self.splitter, 1)
        self.update_actions()

    # -- state ---------------------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self.state != IDLE

    def _set_state(self, state: str) -> None:
        self.state = state
        self.update_actions()
        self.state_changed.emit(state)

    def update_actions(self) -> None:
        ok, why = self.window_.can_start_training() if self.state == IDLE else (False, "a training is running")
        self.start_action.setEnabled(ok)
        self.start_action.setStatusTip("Train a new run on the loaded data" if ok else f"Cannot start: {why}")
        self.start_button.setToolTip("Train a new run on the loaded data with the current settings (Ctrl+R)"
                                     if ok else f"Cannot start: {why}")
        self.pause_action.setEnabled(self.state in (RUNNING, LOADING) and not (self.control and self.control.paused))
        self.resume_action.setEnabled(self.state == PAUSED or bool(self.control and self.control.paused
                                                                  and self.state == LOADING))
        self.stop_action.setEnabled(self.state in (LOADING, RUNNING, PAUSED))
        self.continue_action.setEnabled(self.state == IDLE and self.run_dir is not None
                                        and self.latest_checkpoint is not None)

    def _choose_runs_root(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for new runs", self.runs_root_edit.text())
        if path:
            self.runs_root_edit.setText(path)
            self.qsettings.setValue("training/runs_root", path)

    def new_run_dir(self, data_path: str) -> Path:
        return new_run_dir(data_path, Path(self.runs_root_edit.text()).expanduser())

    # -- commands ------------------------------------------------------------------------------------------
    def start_new(self) -> None:
        if self.state != IDLE:
            return
        try:
            config, data_path, mask_path = self.window_.training_inputs()
        except OsmisError as exc:
            self._fail_to_start(str(exc))
            return
        run_dir = self.new_run_dir(data_path)
        self.plots.clear()
        self.health_label.setVisible(False)
        self.samples = []
        self._refresh_samples(follow=True)
        self.preview.set_image(None)
        self.log_view.clear()
        self.run_dir = str(run_dir)
        self.run_info = {"config": config.to_dict(), "data": {"path": data_path, "mask_path": mask_path}}
        self.latest_checkpoint = None
        self.total = config.run.iters
        self._launch("new", config, data_path, mask_path, str(run_dir), None)

    def continue_run(self) -> None:
        if self.state != IDLE or not self.run_dir:
            return
        config = self.window_.settings_config()
        if config is None:
            self._fail_to_start("the settings are not valid; fix them in the Settings tab first.")
            return
        overrides = {k: v for k, v in config.flat().items() if k in RESUMABLE_OPTIONS}
        if self.latest_checkpoint is not None and overrides["iters"] <= self.latest_checkpoint:
            self._fail_to_start(f"the run is already at iteration {self.latest_checkpoint:,} of "
                                f"{overrides['iters']:,}; raise 'Iterations' in Settings to train it longer.")
            return
        self.total = overrides["iters"]
        self._launch("resume", None, None, None, self.run_dir, overrides)

    def _fail_to_start(self, message: str) -> None:
        self.last_error = message
        set_error(self.error_label, message[0].upper() + message[1:])
        self.log(f"cannot start: {message}")
        self.failed.emit(message)

    def _launch(self, mode, config, data_path, mask_path, run_dir, overrides) -> None:
        self.control = TrainControl()
        self.last_error = None
        self._stop_requested_at = None
        set_error(self.error_label, None)
        self.run_label.setText(f"Run folder: {run_dir}")
        self.progress.setRange(0, max(1, self.total))
        self.speed_label.setText("Loading the data and building the models…")
        self.log(("starting a new run in " if mode == "new" else "continuing the run in ") + run_dir)
        self._set_state(LOADING)
        self.worker = tasks.start(jobs.train, mode, config, data_path, mask_path, run_dir, overrides, self.control,
                                  yielded=self._on_event, errored=self._on_error, finished=self._on_worker_finished,
                                  warned=self._on_warning)

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
            self._stop_requested_at = self.last_step
            self.log("stop requested: finishing the current iteration and saving a checkpoint")
            self.speed_label.setText("Stopping: saving a checkpoint…")
            self._set_state(STOPPING)

    # -- events from the worker ----------------------------------------------------------------------------
    def _on_event(self, ev) -> None:
        if isinstance(ev, StepStats):
            self._on_stats(ev)
        elif isinstance(ev, StepEval):
            self.plots.add(ev.step, ev.metrics, losses=False)
            self.log(f"evaluation at iteration {ev.step:,}: " + " ".join(
                f"{k}={v:.4f}" for k, v in ev.metrics.items()) + (" (new best checkpoint)" if ev.best else ""))
        elif isinstance(ev, HealthEvent):
            action = {"warn": "training continues", "stop": "training stops",
                      "rollback": "rolling back to the last healthy checkpoint"}.get(ev.action, ev.action)
            self.log(f"warning: {ev.message}; {action}")
            self.health_label.setText(f"Health check at iteration {ev.step:,}: {ev.message} ({action}).")
            self.health_label.setVisible(True)
            self.window_.statusBar().showMessage(f"Training health: {ev.message}", 10000)
        elif isinstance(ev, RolledBack):
            self.plots.truncate(ev.to_step)
            self.log(f"rolled back from iteration {ev.step:,} to the checkpoint of iteration {ev.to_step:,}; "
                     f"discriminator learning rate now {ev.lr_d:g}")
        elif isinstance(ev, PreviewReady):
            self.samples.append((ev.step, str(ev.path)))
            self._refresh_samples(follow=self.follow_check.isChecked())
            self.preview_received.emit(ev.step, str(ev.path))
        elif isinstance(ev, TrainingStarted):
            self.run_dir = str(ev.run_dir)
            self.total = ev.total
            self.last_step = ev.step
            self.progress.setRange(0, max(1, ev.total))
            self.progress.setValue(ev.step)
            if ev.resumed:
                self.plots.truncate(ev.step)
                self.samples = [s for s in self.samples if s[0] <= ev.step]
                self._refresh_samples(follow=True)
            for line in ev.summary().splitlines():
                self.log(line)
            if self.state == LOADING:
                self._set_state(PAUSED if self.control and self.control.paused else RUNNING)
            self.speed_label.setText("Training…")
            self.run_started.emit(self.run_dir)
        elif isinstance(ev, CheckpointSaved):
            self.latest_checkpoint = ev.step
            self.log(f"checkpoint saved at iteration {ev.step:,}: {Path(ev.path).name}")
            self.checkpoint_saved.emit(self.run_dir, ev.step)
        elif isinstance(ev, TrainingPaused):
            self.log(f"paused at iteration {ev.step:,}")
            if self.state != STOPPING:
                self._set_state(PAUSED)
            self.speed_label.setText(f"Paused at iteration {ev.step:,}")
        elif isinstance(ev, TrainingResumed):
            self.log(f"resumed at iteration {ev.step:,}")
            if self.state != STOPPING:
                self._set_state(RUNNING)
        elif isinstance(ev, TrainingFinished):
            self.last_step = ev.step
            self.progress.setValue(ev.step)
            word = "stopped" if ev.stopped else "finished"
            self.log(f"{word} at iteration {ev.step:,}; run folder {ev.run_dir}")
            self.speed_label.setText(f"{word.capitalize()} at iteration {ev.step:,}.")
            self.finished.emit(str(ev.run_dir), ev.step, ev.stopped)
        elif isinstance(ev, TrainingFailed):
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
            self.window_.show_message("warning", "Training failed", msg)

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
            self.speed_label.setText(f"iteration {ev.step:,} / {ev.total:,} · {ev.it_per_s:.2f} it/s · elapsed "
                                     f"{format_duration(ev.elapsed)} · ETA {format_duration(ev.eta)} · {losses}")
        self.log(f"it {ev.step:>7} | {ev.it_per_s:6.2f} it/s | " + " ".join(
            f"{k}={v:.4f}" for k, v in ev.losses.items()) + f" | D(real)={ev.d_real:.3f} D(fake)={ev.d_fake:.3f}",
            stamp=False)
        self.stats_received.emit(ev.step)

    def _on_error(self, exc) -> None:
        message, details = tasks.describe_error(exc)
        self.last_error = message
        self.log(f"error: {message}")
        if details:
            self.log(details.rstrip())
        msg = message[0].upper() + message[1:]
        set_error(self.error_label, msg)
        self.speed_label.setText("Training could not run.")
        self.failed.emit(message)
        self.window_.show_message("warning", "Training could not run", msg)

    def _on_warning(self, w) -> None:
        try:
            self.log(f"warning: {w[0]}")
        except (IndexError, TypeError):
            pass

    def _on_worker_finished(self) -> None:
        self.worker = None
        self.control = None
        self._set_state(IDLE)
        if self.run_dir and Path(self.run_dir, "run.json").is_file():
            steps = jobs.checkpoint_steps(self.run_dir)
            self.latest_checkpoint = steps[-1] if steps else None
        self.update_actions()
        self.window_.training_ended()

    # -- history -------------------------------------------------------------------------------------------
    def load_run(self, snap: jobs.RunSnapshot) -> None:
        """Show a reopened run: its curves (stats.jsonl), previews (samples/) and log."""
        self.run_dir = snap.run_dir
        self.run_info = snap.info
        self.latest_checkpoint = snap.latest
        try:
            self.total = OsmisConfig.from_dict(snap.info.get("config", {})).run.iters
        except OsmisError:
            self.total = 0
        self.plots.set_rows(snap.stats)
        self.health_label.setVisible(False)
        self.last_step = int(snap.stats[-1]["step"]) if snap.stats else (snap.latest or 0)
        self.progress.setRange(0, max(1, self.total))
        self.progress.setValue(min(self.last_step, max(1, self.total)))
        self.samples = list(snap.samples)
        self._refresh_samples(follow=True)
        self.log_view.setPlainText(snap.log_text)
        self.run_label.setText(f"Run folder: {snap.run_dir}")
        if snap.stats:
            last = next((r for r in reversed(snap.stats) if "event" not in r), snap.stats[-1])  # a loss row
            self.speed_label.setText(f"iteration {self.last_step:,} / {self.total:,} · last speed "
                                     f"{last.get('it_per_s', 0):.2f} it/s · latest checkpoint "
                                     f"{snap.latest if snap.latest is not None else 'none'}")
        else:
            self.speed_label.setText("No statistics recorded yet.")
        set_error(self.error_label, None)
        self.update_actions()

    def _refresh_samples(self, follow: bool) -> None:
        n = len(self.samples)
        self.preview_slider.blockSignals(True)
        self.preview_slider.setRange(0, max(0, n - 1))
        if follow or self.preview_slider.value() >= n:
            self.preview_slider.setValue(max(0, n - 1))
        self.preview_slider.blockSignals(False)
        self.preview_slider.setEnabled(n > 1)
        if n:
            self._show_sample(self.preview_slider.value())
        else:
            self.preview_label.setText("–")

    def _show_sample(self, i: int) -> None:
        if not self.samples:
            return
        step, path = self.samples[max(0, min(i, len(self.samples) - 1))]
        self._sample_tag += 1
        tasks.start(tasks.tagged, self._sample_tag, jobs.read_image, path, returned=self._sample_loaded)
        self.preview_label.setText(f"iteration {step:,}")
        if i < len(self.samples) - 1 and self.follow_check.isChecked() and self.sender() is self.preview_slider:
            self.follow_check.setChecked(False)

    def _sample_loaded(self, result) -> None:
        tag, image = result
        if tag == self._sample_tag and image is not None and not image.isNull():
            self.preview.set_image(image)
            self.preview_shown.emit(self.shown_sample_step() or 0)

    def shown_sample_step(self) -> int | None:
        if not self.samples:
            return None
        return self.samples[self.preview_slider.value()][0]

    def log(self, message: str, stamp: bool = True) -> None:
        text = f"{time.strftime('%H:%M:%S')} {message}" if stamp else message
        self.log_view.appendPlainText(text)
