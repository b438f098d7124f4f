"""Widgets of the training page: loss and metric curves, the log, the preview grid with its history slider, and the
run controls (start / pause / resume / stop / continue, runs folder). They show what they are given and emit what
the user does; no engine calls, no pages."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from osmis_core.config import expand_user
from osmis_core.events import EVAL_METRICS, SIFID_METRICS

from .widgets import ImageView

_NOT_CURVES = {"step", "it_per_s", "elapsed", "eta", "total", "event", "best"}
# training metrics (stats.jsonl eval rows), the adapted augmentation probability and the learning-rate schedule's
# factor: plot 3; SIFID: plot 4
_METRICS = {*EVAL_METRICS, "p_aug", "lr_scale"}
_SIFID = set(SIFID_METRICS)
_COLOURS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
]


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
        titles = [
            "Generator losses",
            "Discriminator losses",
            "Mean D logits (real / fake)",
            "Training metrics (fixed-noise EMA samples), p_aug and lr_scale",
            "SIFID of fixed-noise samples (sifid_proxy: random features, not comparable with papers)",
        ]
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
            p.setVisible(False)  # shown with their first curve
        self.steps: list[float] = []  # steps of the loss rows (StepStats)
        self.values: dict[str, tuple[list[float], list[float]]] = {}  # key -> (steps, values)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False
        self._turn = 0
        self._timer = QTimer(self, interval=250)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        if not self.isVisible():
            return  # hidden tab: draw when shown
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
                self._dirty = True  # other plots on the next ticks
                continue
            curve = self.curves.get(key)
            if curve is None:
                if max_new is not None and created >= max_new:
                    self._dirty = True  # the rest on the next tick
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
        widths = [
            p.plotItem.legend.boundingRect().width()
            for p in self.plots
            if p.plotItem.legend is not None and p.plotItem.legend.items
        ]
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


def grid_layout(columns: int, tile: QSize, pad: int, area: QSize) -> tuple[int, float]:
    """(columns per row, scale) that shows `columns` tiles of size `tile` (pad px apart) largest in `area`."""
    best = (columns, 0.0)
    for per_row in range(1, columns + 1):
        rows = math.ceil(columns / per_row)
        width = per_row * tile.width() + (per_row + 1) * pad
        height = rows * tile.height() + (rows + 1) * pad
        scale = min(area.width() / width, area.height() / height)
        if scale > best[1] + 1e-9:
            best = (per_row, scale)
    return best


class PreviewGridView(ImageView):
    """The training preview grid, filling its pane: the grid's sample columns (each image over its mask) are
    re-arranged into the rows and columns that show them largest at the widget's current size (recomputed on
    every resize), keeping their aspect ratio."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(placeholder, parent)
        self._columns, self._pad = 1, 0

    def set_grid(self, image, columns: int = 1, pad: int = 0) -> None:
        self._columns, self._pad = max(1, columns), max(0, pad)
        self.set_image(image)

    def tiles(self) -> list[tuple[QRectF, QRectF]]:
        """(source rect in the grid, target rect in the widget) of each sample column, as painted now."""
        base = self._base
        if base is None:
            return []
        n, pad = self._columns, self._pad
        tile = QSize((base.width() - (n + 1) * pad) // n, base.height() - 2 * pad) if n > 1 else base.size()
        if n == 1:
            pad = 0
        area = self.size() - QSize(8, 8)
        per_row, scale = grid_layout(n, tile, pad, area)
        rows = math.ceil(n / per_row)
        width = (per_row * tile.width() + (per_row + 1) * pad) * scale
        height = (rows * tile.height() + (rows + 1) * pad) * scale
        x0, y0 = (self.width() - width) / 2, (self.height() - height) / 2
        out = []
        for i in range(n):
            r, c = divmod(i, per_row)
            source = QRectF(pad + i * (tile.width() + pad), pad, tile.width(), tile.height())
            target = QRectF(
                x0 + (pad + c * (tile.width() + pad)) * scale,
                y0 + (pad + r * (tile.height() + pad)) * scale,
                tile.width() * scale,
                tile.height() * scale,
            )
            out.append((source, target))
        return out

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._base is None:
            super().paintEvent(event)
            return
        p = QPainter(self)
        tiles = self.tiles()
        smooth = tiles[0][1].width() < tiles[0][0].width() * 1.5
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        for source, target in tiles:
            p.drawPixmap(target, self._base, source)


class PreviewPane(QWidget):
    """The preview grid with a slider through the grids saved so far and 'Follow latest'. `samples` are
    (iteration, PNG path); `show_requested(index)` asks for sample `index` to be loaded and shown."""

    show_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.samples: list[tuple[int, str]] = []
        self.view = PreviewGridView(
            "The preview grid (generated images over their colour masks, fixed noise) appears here while training."
        )
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Look back at earlier preview grids")
        self.slider.valueChanged.connect(self._slid)
        self.label = QLabel("–")
        self.follow_check = QCheckBox("Follow latest")
        self.follow_check.setChecked(True)
        self.follow_check.setToolTip("Show each new preview as it arrives")
        row = QHBoxLayout()
        row.addWidget(QLabel("Preview:"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(self.follow_check)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        lay.addLayout(row)

    def set_samples(self, samples: list[tuple[int, str]], follow: bool) -> None:
        self.samples = list(samples)
        n = len(self.samples)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        if follow or self.slider.value() >= n:
            self.slider.setValue(max(0, n - 1))
        self.slider.blockSignals(False)
        self.slider.setEnabled(n > 1)
        if n:
            self._show(self.slider.value())
        else:
            self.label.setText("–")
            self.view.set_image(None)

    def add_sample(self, step: int, path: str) -> None:
        self.set_samples(self.samples + [(step, path)], follow=self.follow_check.isChecked())

    def _slid(self, i: int) -> None:
        if i < len(self.samples) - 1 and self.follow_check.isChecked():
            self.follow_check.setChecked(False)  # the user looks back: stop following
        self._show(i)

    def _show(self, i: int) -> None:
        if self.samples:
            i = max(0, min(i, len(self.samples) - 1))
            self.label.setText(f"iteration {self.samples[i][0]:,}")
            self.show_requested.emit(i)


def new_log_view() -> LogView:
    view = LogView()
    view.setReadOnly(True)
    view.setMaximumBlockCount(5000)
    view.setPlaceholderText("Training log")
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    f = view.font()
    f.setFamily("monospace")
    f.setStyleHint(f.StyleHint.Monospace)
    view.setFont(f)
    return view


class RunControls(QWidget):
    """Start / Pause / Resume / Stop / Continue (actions, also in the Training menu) and the runs folder."""

    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.qsettings = settings
        SP = QStyle.StandardPixmap
        self.start_action = self._action(
            "Start new run", SP.SP_MediaPlay, "Ctrl+R", "Train a new run on the loaded data with the current settings"
        )
        self.pause_action = self._action("Pause", SP.SP_MediaPause, "Ctrl+P", "Pause after the current iteration")
        self.resume_action = self._action(
            "Resume", SP.SP_MediaSeekForward, "Ctrl+Shift+P", "Continue the paused training"
        )
        self.stop_action = self._action(
            "Stop", SP.SP_MediaStop, "Ctrl+.", "Stop after the current iteration and save a checkpoint"
        )
        self.continue_action = self._action(
            "Continue run",
            SP.SP_BrowserReload,
            "Ctrl+Shift+R",
            "Resume the open run from its latest checkpoint up to 'Iterations' (Settings)",
        )
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        self.start_button, self.pause_button, self.resume_button, self.stop_button, self.continue_button = (
            self._button(a, bar)
            for a in (self.start_action, self.pause_action, self.resume_action, self.stop_action, self.continue_action)
        )
        bar.addSpacing(16)
        bar.addWidget(QLabel("Runs folder:"))
        self.runs_root_edit = QLineEdit(str(settings.value("training/runs_root", str(Path.cwd() / "runs"))))
        self.runs_root_edit.setToolTip("New runs are created in a sub-folder named after the data and the time")
        self.runs_root_edit.editingFinished.connect(
            lambda: self.qsettings.setValue("training/runs_root", self.runs_root_edit.text())
        )
        bar.addWidget(self.runs_root_edit, 1)
        browse = QPushButton("…")
        browse.setMaximumWidth(32)
        browse.setToolTip("Choose the folder in which new runs are created")
        browse.clicked.connect(self._choose_runs_root)
        bar.addWidget(browse)

    def _action(self, text: str, icon, shortcut: str, tip: str) -> QAction:
        a = QAction(self.style().standardIcon(icon), text, self)
        a.setShortcut(QKeySequence(shortcut))
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
        a.setStatusTip(tip)
        return a

    @staticmethod
    def _button(action: QAction, bar: QHBoxLayout) -> QToolButton:
        b = QToolButton()
        b.setDefaultAction(action)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addWidget(b)
        return b

    def runs_root(self) -> str:
        """The folder for new runs as typed ('~' expanded); blank when cleared, which the engine refuses. Raises
        ConfigError for a '~name' of no user (it had escaped the Start slot: a traceback, no word on screen)."""
        text = self.runs_root_edit.text().strip()
        return str(expand_user(text)) if text else text

    def _choose_runs_root(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for new runs", self.runs_root_edit.text())
        if path:
            self.runs_root_edit.setText(path)
            self.qsettings.setValue("training/runs_root", path)
