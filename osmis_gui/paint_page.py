"""Paint: draw a layout with class brushes and watch a renderer run turn it into photos (issue 14).

The page depends on no window: it is given a run folder (set_run) and reports through signals. Its state lives in
plain models (paint_model: layout + undo, re-roll region, noises); renders run in worker threads (paint_jobs) and a
render that a newer edit has superseded is cancelled or ignored, so the event loop never waits for the network.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import paint_jobs, tasks
from .paint_canvas import PaintCanvas
from .paint_model import LayoutModel, NoiseModel, RegionModel
from .remembered import remembered_int
from .widgets import ImageView, WholeSpinBox, colour_swatch, error_label, set_error

DEBOUNCE_MS = 300  # a render starts this long after the last edit
TOOLS = [
    ("brush", "Brush", "B", "Paint with the chosen class"),
    ("eraser", "Eraser", "E", "Paint class 0 (background)"),
    ("fill", "Fill", "F", "Flood fill the clicked region with the chosen class"),
    ("rect", "Rectangle", "R", "Drag a rectangle filled with the chosen class"),
    ("lasso", "Lasso", "L", "Draw a closed outline filled with the chosen class"),
    ("region", "Re-roll brush", "G", "Brush the region to re-roll (then 'Re-roll region')"),
    ("pick_class", "Re-roll class", "C", "Click a class: its noise is re-drawn everywhere"),
    ("pick_instance", "Re-roll instance", "I", "Click an object: its noise alone is re-drawn"),
]


class PaintPage(QWidget):
    available_changed = Signal(bool)  # a renderer run is open (the page can be used)
    rendered = Signal(int)  # recipe index (0: the current photo) whose render is shown
    gallery_added = Signal(str, int)  # gallery folder, items in it
    layout_saved = Signal(str)
    failed = Signal(str)
    load_failed = Signal(str)  # the run's renderer cannot be loaded: why (the page stays unavailable)

    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.qsettings = settings
        self.run_dir: str | None = None
        self.device = "cpu"
        self.loaded: paint_jobs.LoadedRenderer | None = None
        self.layout_model: LayoutModel | None = None
        self.region = RegionModel((1, 1))
        self.noise = NoiseModel()
        self.tool = "brush"
        self.current_class = 1
        self.render_images: dict[int, object] = {}  # recipe index -> QImage of the shown layout
        self.render_seconds: deque[float] = deque(maxlen=1000)  # of the latest renders
        self._load_tag = 0
        self._load_warning: tuple | None = None  # the running load's warning (showwarning's arguments)
        self._render_tag = 0
        self._ticket: paint_jobs.Ticket | None = None
        self._rendering = False
        self._pending = False
        self._pending_strip = False
        self._job_strip = False
        self._last_region_point = (0.0, 0.0)
        self._seeded_revision = -1  # layout revision the strip seeds were drawn for
        self._shape_start: tuple[float, float] | None = None
        self._keep_layout = False  # the load under way is the shown run's newer checkpoint
        self.adding = False

        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.render_now)

        # tools
        self.tool_group = QActionGroup(self)
        self.tool_buttons: dict[str, QToolButton] = {}
        tool_row = QHBoxLayout()
        for key, text, shortcut, tip in TOOLS:
            a = QAction(text, self, checkable=True)
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.setToolTip(f"{tip} ({shortcut})")
            a.triggered.connect(lambda _=False, k=key: self.set_tool(k))
            self.tool_group.addAction(a)
            self.addAction(a)
            b = QToolButton()
            b.setDefaultAction(a)
            self.tool_buttons[key] = b
            tool_row.addWidget(b)
        self.tool_buttons["brush"].defaultAction().setChecked(True)
        self.size_spin = WholeSpinBox()
        self.size_spin.setRange(1, 128)
        self.size_spin.setValue(remembered_int(settings, "paint/brush", 4, 1, self.size_spin.maximum()))
        self.size_spin.setToolTip("Brush radius in layout pixels")
        self.size_spin.valueChanged.connect(self._brush_changed)
        tool_row.addWidget(QLabel("Size:"))
        tool_row.addWidget(self.size_spin)
        tool_row.addStretch(1)

        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = QAction("Redo", self)
        self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        for a, slot in ((self.undo_action, self.undo), (self.redo_action, self.redo)):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.addAction(a)
            b = QToolButton()
            b.setDefaultAction(a)
            tool_row.addWidget(b)

        # where the layout comes from / goes
        self.training_button = QPushButton("Training mask")
        self.training_button.setToolTip("Start from the mask the renderer was trained on")
        self.training_button.clicked.connect(self.start_from_training_mask)
        self.blank_button = QPushButton("Blank")
        self.blank_button.setToolTip("Start from an empty canvas (class 0) of the training size")
        self.blank_button.clicked.connect(self.start_blank)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Start from a layout file (indexed, grey or colour mask), e.g. a gallery mask")
        self.open_button.clicked.connect(self.choose_layout_file)
        self.save_button = QPushButton("Save layout…")
        self.save_button.setToolTip("Save the layout as an indexed PNG (the project's palette)")
        self.save_button.clicked.connect(self.choose_save_path)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole layout (zoom: mouse wheel; pan: middle button or Alt+drag)")
        start_row = QHBoxLayout()
        for w in (QLabel("Start from:"), self.training_button, self.blank_button, self.open_button, self.save_button):
            start_row.addWidget(w)
        start_row.addStretch(1)
        start_row.addWidget(self.fit_button)

        # classes
        self.class_list = QListWidget()
        self.class_list.setMaximumWidth(220)
        self.class_list.setToolTip("Class to paint with (eraser = class 0)")
        self.class_list.currentRowChanged.connect(self._class_chosen)

        # canvas | render
        self.canvas = PaintCanvas()
        self.canvas.pressed.connect(self._pressed)
        self.canvas.moved.connect(self._moved)
        self.canvas.released.connect(self._released)
        self.fit_button.clicked.connect(self.canvas.fit)
        self.blend = QSlider(Qt.Orientation.Horizontal)
        self.blend.setRange(0, 100)
        self.blend.setValue(100)
        self.blend.setToolTip("Layout over its render: 100 % shows the layout only, 0 % the render only")
        self.blend.valueChanged.connect(lambda v: self.canvas.set_layout_opacity(v / 100))
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.canvas, 1)
        br = QHBoxLayout()
        br.addWidget(QLabel("Render"))
        br.addWidget(self.blend, 1)
        br.addWidget(QLabel("Layout"))
        ll.addLayout(br)
        self.view = ImageView("The render of the layout appears here.")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.class_list)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.view)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([200, 600, 600])

        # noises: strip of variants, re-roll, gallery
        self.strip = QListWidget()
        self.strip.setViewMode(QListWidget.ViewMode.IconMode)
        self.strip.setFlow(QListWidget.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(128, 96))
        self.strip.setFixedHeight(140)
        self.strip.setToolTip(
            "The layout with other noises: click one to make it the current photo; tick it to "
            "lock its noise while you edit the layout"
        )
        self.strip.itemClicked.connect(self._strip_clicked)
        self.strip.itemChanged.connect(self._strip_lock_changed)
        self.k_spin = WholeSpinBox()
        self.k_spin.setRange(0, 12)
        self.k_spin.setValue(remembered_int(settings, "paint/variants", 4, 0, self.k_spin.maximum()))
        self.k_spin.setToolTip("Number of variants (other noises) rendered for the layout")
        self.k_spin.valueChanged.connect(self._k_changed)
        self.variants_button = QPushButton("New variants")
        self.variants_button.setToolTip("New noises for the unlocked variants")
        self.variants_button.clicked.connect(self.new_variants)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("global noise", "global")
        self.mode_combo.addItem("per-instance noise", "instance")
        self.mode_combo.setToolTip("global: one noise vector for the whole photo; per-instance: one per object")
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self.reroll_button = QPushButton("Re-roll region")
        self.reroll_button.setToolTip("Re-draw the noise inside the marked region; the rest of the photo stays")
        self.reroll_button.clicked.connect(self.reroll_region)
        self.clear_region_button = QPushButton("Clear region")
        self.clear_region_button.clicked.connect(self.clear_region)
        self.gallery_edit = QLineEdit(str(settings.value("paint/gallery", "paint")))
        self.gallery_edit.setToolTip("Gallery (RUN/galleries/<name>) that 'Add to gallery' adds to")
        self.gallery_edit.setMaximumWidth(160)
        self.add_button = QPushButton("Add to gallery")
        self.add_button.setToolTip(
            "Add the current photo and the locked variants, with the layout and their seeds, "
            "to the gallery (browse, score and export it on the Gallery page)"
        )
        self.add_button.clicked.connect(self.add_to_gallery)
        noise_row = QHBoxLayout()
        for w in (
            QLabel("Variants:"),
            self.k_spin,
            self.variants_button,
            self.mode_combo,
            self.reroll_button,
            self.clear_region_button,
        ):
            noise_row.addWidget(w)
        noise_row.addStretch(1)
        for w in (QLabel("Gallery:"), self.gallery_edit, self.add_button):
            noise_row.addWidget(w)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.error_label = error_label()
        lay = QVBoxLayout(self)
        lay.addLayout(start_row)
        lay.addLayout(tool_row)
        lay.addWidget(self.error_label)
        lay.addWidget(self.splitter, 1)
        lay.addLayout(noise_row)
        lay.addWidget(self.strip)
        lay.addWidget(self.status_label)
        self._brush_changed(self.size_spin.value())
        self.update_actions()

    # -- run -----------------------------------------------------------------------------------------------
    @property
    def renderer(self):
        return self.loaded.renderer if self.loaded is not None else None

    def set_run(self, run_dir: str | None, is_renderer: bool, device: str = "cpu", step: int | None = None) -> None:
        """Use a run: a renderer run with a checkpoint makes the page available (the renderer loads in the
        background); anything else makes it unavailable. `step`: the run's newest checkpoint; the run shown with a
        renderer of another step (a training went on) is loaded again, keeping the layout being drawn."""
        self.device = device
        if not is_renderer or run_dir is None:
            self._load_tag += 1
            self.run_dir, self.loaded = None, None
            self.available_changed.emit(False)
            self.update_actions()
            return
        if run_dir == self.run_dir and self.loaded is not None and step in (None, self.loaded.renderer.step):
            return
        self._keep_layout = run_dir == self.run_dir and self.layout_model is not None
        self.run_dir = run_dir
        self._load_tag += 1
        self.status_label.setText(f"Loading the renderer of {run_dir}…")
        self._load_warning = None
        tasks.start(
            paint_jobs.tagged,
            self._load_tag,
            paint_jobs.load_renderer,
            run_dir,
            device,
            returned=self._on_loaded,
            errored=self._on_load_error,
            warned=self._on_load_warning,
        )

    def _on_loaded(self, result) -> None:
        tag, loaded = result
        if tag != self._load_tag:
            return
        self.loaded = loaded
        self._fill_classes()
        r = loaded.renderer
        # the same run at a newer checkpoint: the layout, its undo history and the noises stay
        keep = self._keep_layout and self.layout_model is not None and self.layout_model.num_classes == r.num_classes
        if not keep:
            self.noise = NoiseModel(mode=self.mode_combo.currentData())
            self.noise.set_strip_size(self.k_spin.value())
        about = (
            f"Renderer of {Path(loaded.run_dir).name} (iteration {r.step:,}, "
            f"{r.num_classes} classes, {r.size[1]}×{r.size[0]}) on {r.device}"
        )
        self.status_label.setText(about)
        if keep:
            self._layout_changed(immediately=True)
            self.status_label.setText(f"{about}: its newest checkpoint renders the layout from now on.")
        elif loaded.training_layout is not None:
            self._start_with(loaded.training_layout, "the training mask")
        else:
            self._start_with(np.zeros(r.size, np.uint8), "a blank canvas")
            why = loaded.training_layout_error.rstrip(".")  # the engine's sentence ends with its own full stop
            set_error(self.error_label, f"The training mask cannot be used: {why}.")
        if self._load_warning is not None:
            # said again last: the load's own status lines above would hide it
            self._on_warning(self._load_warning)
        self.available_changed.emit(True)

    def _on_load_warning(self, args: tuple) -> None:
        """A warning of the renderer's load (a damaged latest checkpoint, an older one loaded): shown now and again
        once the load's answer has written its status lines."""
        self._load_warning = args
        self._on_warning(args)

    def _on_warning(self, args: tuple) -> None:
        """A warning raised in one of the page's jobs (e.g. a damaged latest checkpoint, an older one loaded)."""
        self.status_label.setText(f"Warning: {args[0]}" if args else "Warning")

    def _on_load_error(self, exc) -> None:
        if getattr(exc, "gui_tag", None) != self._load_tag:
            return
        self.loaded = None
        self.status_label.setText("")  # no longer "Loading…"
        self._report("The renderer cannot be loaded", exc)
        self.available_changed.emit(False)
        self.update_actions()
        self.load_failed.emit(tasks.describe_error(exc)[0])

    def _fill_classes(self) -> None:
        self.class_list.blockSignals(True)
        self.class_list.clear()
        described = {int(c.get("id", -1)): c for c in self.loaded.classes}
        for i, colour in enumerate(self.loaded.colours):
            c = described.get(i, {})
            parts = [f"class {i}" + (" (background)" if i == 0 else "")]
            if c.get("colour") is not None:
                parts.append("#" + "".join(f"{int(v):02x}" for v in c["colour"]))
            elif c.get("value") is not None:
                parts.append(f"value {c['value']}")
            if c.get("share") is not None:
                parts.append(f"{100 * float(c['share']):.1f} %")
            item = QListWidgetItem(QIcon(colour_swatch(colour, 16)), " · ".join(parts))
            item.setToolTip("On disk in the training mask: " + " · ".join(parts[1:]) if len(parts) > 1 else "")
            self.class_list.addItem(item)
        self.class_list.blockSignals(False)
        self.current_class = min(self.current_class, len(self.loaded.colours) - 1)
        self.class_list.setCurrentRow(self.current_class)

    # -- layouts -------------------------------------------------------------------------------------------
    def _start_with(self, ids: np.ndarray, what: str) -> None:
        """A new layout with its own undo history (the size may differ from the last one's)."""
        self.layout_model = LayoutModel(ids, self.renderer.num_classes)
        self._seeded_revision = -1
        self.region = RegionModel(self.layout_model.shape)
        self.noise.clear_rerolls()
        self.canvas.set_region(None)
        self.render_images.clear()
        self.canvas.set_backdrop(None)
        set_error(self.error_label, None)  # a new layout, the latest outcome: an earlier refusal no longer holds
        self.status_label.setText(f"Editing {what}.")
        self._layout_changed(immediately=True)

    def start_from_training_mask(self) -> None:
        if self.loaded is not None and self.loaded.training_layout is not None:
            self._start_with(self.loaded.training_layout, "the training mask")

    def start_blank(self) -> None:
        if self.renderer is not None:
            self._start_with(np.zeros(self.renderer.size, np.uint8), "a blank canvas")

    def choose_layout_file(self) -> None:
        start = str(self.qsettings.value("dirs/layout", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a layout", start, "Images (*.png *.bmp *.tif *.tiff *.gif *.jpg);;All files (*)"
        )
        if path:
            self.qsettings.setValue("dirs/layout", str(Path(path).parent))
            self.open_layout_file(path)

    def open_layout_file(self, path: str) -> bool:
        """Start from a layout file (a gallery mask, a saved layout). False (with the reason shown) when the
        renderer cannot use it."""
        from osmis_core.errors import OsmisError

        if self.renderer is None:
            return False
        try:
            ids = paint_jobs.read_layout(self.renderer, path)
        except OsmisError as exc:
            self._report("The layout cannot be opened", exc)
            return False
        self._start_with(ids, Path(path).name)
        return True

    def choose_save_path(self) -> None:
        if self.layout_model is None:
            return
        start = str(self.qsettings.value("dirs/layout", str(Path.home())))
        path, _ = QFileDialog.getSaveFileName(self, "Save the layout", str(Path(start) / "layout.png"), "PNG (*.png)")
        if path:
            self.qsettings.setValue("dirs/layout", str(Path(path).parent))
            self.save_layout(path)

    def save_layout(self, path: str) -> bool:
        from osmis_core.errors import OsmisError

        try:
            saved = paint_jobs.save_layout(self.layout_model.ids, path, self.run_dir)
        except OsmisError as exc:
            self._report("The layout was not saved", exc)
            return False
        set_error(self.error_label, None)  # an earlier refusal no longer holds
        self.status_label.setText(f"Layout saved to {saved}")
        self.layout_saved.emit(saved)
        return True

    # -- tools ---------------------------------------------------------------------------------------------
    def set_tool(self, key: str) -> None:
        self.tool = key
        self.tool_buttons[key].defaultAction().setChecked(True)
        self._brush_changed(self.size_spin.value())

    def set_class(self, c: int) -> None:
        self.class_list.setCurrentRow(int(c))

    def _class_chosen(self, row: int) -> None:
        if row >= 0:
            self.current_class = row

    def _brush_changed(self, v: int) -> None:
        self.qsettings.setValue("paint/brush", v)
        self.canvas.brush_radius = v if self.tool in ("brush", "eraser", "region") else 0
        self.canvas.update()

    def _paint_class(self) -> int:
        return 0 if self.tool == "eraser" else self.current_class

    def _pixel(self, x: float, y: float) -> tuple[int, int] | None:
        px, py = round(x), round(y)
        return (px, py) if self.layout_model is not None and self.layout_model.inside(px, py) else None

    def _pressed(self, x: float, y: float) -> None:
        m = self.layout_model
        if m is None:
            return
        r = self.size_spin.value()
        if self.tool in ("brush", "eraser"):
            m.begin_stroke(x, y, self._paint_class(), r)
            self._show_layout()
        elif self.tool == "region":
            self.region.brush((x, y), (x, y), r)
            self._last_region_point = (x, y)
            self.canvas.set_region(self.region.mask)
        elif self.tool in ("rect", "lasso"):
            self._shape_start = (x, y)
            self.canvas.shape_kind = self.tool
            self.canvas.shape_points = [(x, y), (x, y)] if self.tool == "rect" else [(x, y)]
        elif self.tool == "fill":
            p = self._pixel(x, y)
            if p is not None and m.fill(p[0], p[1], self.current_class):
                self._layout_changed()
        elif self.tool in ("pick_class", "pick_instance"):
            p = self._pixel(x, y)
            if p is not None:
                (self.region.pick_class if self.tool == "pick_class" else self.region.pick_instance)(m.ids, *p)
                self.canvas.set_region(self.region.mask)
                self.reroll_region()

    def _moved(self, x: float, y: float) -> None:
        m = self.layout_model
        if m is None:
            return
        if self.tool in ("brush", "eraser") and m.stroking:
            m.stroke_to(x, y)
            self._show_layout()
        elif self.tool == "region":
            self.region.brush(self._last_region_point, (x, y), self.size_spin.value())
            self._last_region_point = (x, y)
            self.canvas.set_region(self.region.mask)
        elif self.tool == "rect" and self._shape_start is not None:
            self.canvas.shape_points = [self._shape_start, (x, y)]
            self.canvas.update()
        elif self.tool == "lasso" and self._shape_start is not None:
            self.canvas.shape_points.append((x, y))
            self.canvas.update()

    def _released(self, x: float, y: float) -> None:
        m = self.layout_model
        if m is None:
            return
        changed = False
        if self.tool in ("brush", "eraser") and m.stroking:
            m.stroke_to(x, y)
            changed = m.end_stroke()
        elif self.tool == "rect" and self._shape_start is not None:
            changed = m.fill_rect(*self._shape_start, x, y, self.current_class)
        elif self.tool == "lasso" and self._shape_start is not None:
            changed = m.fill_polygon(self.canvas.shape_points + [(x, y)], self.current_class)
        self._shape_start = None
        self.canvas.shape_kind, self.canvas.shape_points = None, []
        self.canvas.update()
        if changed:
            self._layout_changed()

    def undo(self) -> None:
        if self.layout_model is not None and self.layout_model.undo():
            self._layout_changed()

    def redo(self) -> None:
        if self.layout_model is not None and self.layout_model.redo():
            self._layout_changed()

    # -- region re-roll and noises -------------------------------------------------------------------------
    def reroll_region(self) -> None:
        """Re-draw the noise of the current photo inside the marked region (spec/renderer.md section 3)."""
        if self.layout_model is None or self.region.empty():
            return
        self.noise.reroll(self.region.mask)
        self.render_now(strip=False)

    def clear_region(self) -> None:
        self.region.clear()
        self.canvas.set_region(None)

    def new_variants(self) -> None:
        self.noise.new_variants()
        self.render_now()

    def _k_changed(self, k: int) -> None:
        self.qsettings.setValue("paint/variants", k)
        self.noise.set_strip_size(k)
        self._fill_strip()
        self.render_now()

    def _mode_changed(self, _index: int) -> None:
        self.noise.mode = self.mode_combo.currentData()
        self.render_now()

    def recipes(self) -> list:
        """The NoiseRecipes rendered: 0 = the current photo, then the strip's variants."""
        from osmis_core.application.render import NoiseRecipe

        n = self.noise
        return [NoiseRecipe(n.seed, n.mode, tuple(n.rerolls))] + [NoiseRecipe(s.seed, n.mode) for s in n.slots]

    def _fill_strip(self) -> None:
        self.strip.blockSignals(True)
        self.strip.clear()
        blank = QPixmap(self.strip.iconSize())
        blank.fill(Qt.GlobalColor.lightGray)
        for i, slot in enumerate(self.noise.slots):
            image = self.render_images.get(i + 1)
            item = QListWidgetItem(QIcon(QPixmap.fromImage(image) if image is not None else blank), f"seed {slot.seed}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if slot.locked else Qt.CheckState.Unchecked)
            item.setToolTip("Click: make this the current photo. Tick: lock its noise while editing.")
            self.strip.addItem(item)
        self.strip.blockSignals(False)

    def _strip_clicked(self, item: QListWidgetItem) -> None:
        i = self.strip.row(item)
        if 0 <= i < len(self.noise.slots):
            # after the click's own handling: choosing may rebuild the strip, and with it the clicked item
            QTimer.singleShot(0, lambda: self.choose_variant(i))

    def choose_variant(self, i: int) -> None:
        """Variant i becomes the current photo."""
        self.noise.choose(i)
        image = self.render_images.get(i + 1)
        if image is not None:  # the same layout and noise: its render is the current photo's
            self._show_render(0, image)
        self.status_label.setText(f"Current photo: seed {self.noise.seed}.")
        self.render_now(strip=False)

    def _strip_lock_changed(self, item: QListWidgetItem) -> None:
        i = self.strip.row(item)
        if 0 <= i < len(self.noise.slots):
            self.noise.slots[i].locked = item.checkState() == Qt.CheckState.Checked

    def lock_variant(self, i: int, locked: bool = True) -> None:
        self.strip.item(i).setCheckState(Qt.CheckState.Checked if locked else Qt.CheckState.Unchecked)

    # -- rendering -----------------------------------------------------------------------------------------
    def _show_layout(self) -> None:
        if self.layout_model is not None and self.loaded is not None:
            self.canvas.set_layout(self.layout_model.ids, self.loaded.colours)

    def _layout_changed(self, immediately: bool = False) -> None:
        self._show_layout()
        self.update_actions()
        if self._ticket is not None:
            self._ticket.cancelled = True  # its answer would be stale
        if immediately:
            self.render_now()
        else:
            self._debounce.start()

    def render_now(self, strip: bool = True) -> None:
        """Render the layout (the current photo, then the variants unless strip=False) in a worker; while one runs,
        the newest request waits for it (the older one stops early)."""
        self._debounce.stop()
        m = self.layout_model
        if self.renderer is None or m is None:
            return
        if self._rendering:
            self._ticket.cancelled = True
            self._pending = True
            self._pending_strip = self._pending_strip or strip or self._job_strip
            return
        if m.revision != self._seeded_revision:
            if self._seeded_revision >= 0:
                self.noise.new_variants()  # a new layout: new noises for the unlocked variants
            self._seeded_revision = m.revision
            strip = True
        if strip:
            self._fill_strip()  # the seeds shown are those rendered
        recipes = self.recipes() if strip else self.recipes()[:1]
        self._job_strip = strip
        self._render_tag += 1
        self._ticket = paint_jobs.Ticket(self._render_tag)
        self._rendering = True
        self._pending = False
        self._pending_strip = False
        tasks.start(
            paint_jobs.render_layout,
            self.renderer,
            m.ids.copy(),
            recipes,
            self._ticket,
            yielded=self._on_render,
            errored=self._on_render_error,
            finished=self._on_render_finished,
            warned=self._on_warning,
        )

    def _on_render(self, part) -> None:
        tag, i, image, extra = part
        if tag != self._render_tag or self._ticket.cancelled:
            return  # a newer edit superseded it
        if image is None:
            self.view.set_image(None)
            self.view.set_placeholder(extra)
            self.canvas.set_backdrop(None)
            return
        self.render_seconds.append(extra)
        self._show_render(i, image)

    def _show_render(self, i: int, image) -> None:
        self.render_images[i] = image
        if i == 0:
            self.view.set_image(image)
            self.canvas.set_backdrop(image)
        else:
            item = self.strip.item(i - 1)
            if item is not None:
                item.setIcon(QIcon(QPixmap.fromImage(image)))
        self.rendered.emit(i)

    def _on_render_error(self, exc) -> None:
        self._report("Rendering failed", exc)

    def _on_render_finished(self) -> None:
        self._rendering = False
        if self._pending:
            self.render_now(strip=self._pending_strip)
        self.update_actions()

    def is_idle(self) -> bool:
        """No render running or waiting (for tests and scripts)."""
        return not (self._rendering or self._pending or self._debounce.isActive() or self.adding)

    # -- gallery -------------------------------------------------------------------------------------------
    def gallery_name(self) -> str | None:
        """The gallery to add to, a plain folder name of RUN/galleries (None when it is not one)."""
        name = self.gallery_edit.text().strip()
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        return name

    def add_to_gallery(self) -> None:
        """The current photo and the locked variants, with the layout and their seeds, into RUN/galleries/<name>."""
        name = self.gallery_name()
        if self.renderer is None or self.layout_model is None or self.adding:
            return
        if name is None:
            self._refuse("Add to gallery: give the gallery a plain folder name (no slashes).")
            return
        self.qsettings.setValue("paint/gallery", name)
        recipes = self.recipes()
        chosen = [recipes[0]] + [recipes[i + 1] for i, s in enumerate(self.noise.slots) if s.locked]
        self.adding = True
        self.update_actions()
        self.status_label.setText(f"Adding {len(chosen)} render(s) to the gallery {name}…")
        tasks.start(
            paint_jobs.add_to_gallery,
            self.renderer,
            self.layout_model.ids.copy(),
            chosen,
            self.run_dir,
            name,
            returned=self._on_added,
            errored=self._on_add_error,
            finished=self._on_add_finished,
            warned=self._on_warning,
        )

    def _on_add_error(self, exc) -> None:
        self._report("Not added to the gallery", exc)

    def _on_added(self, result) -> None:
        folder, n = result
        set_error(self.error_label, None)
        self.status_label.setText(f"Added to {folder} ({n} items).")
        self.gallery_added.emit(folder, n)

    def _on_add_finished(self) -> None:
        self.adding = False
        self.update_actions()

    # -- state ---------------------------------------------------------------------------------------------
    def update_actions(self) -> None:
        ready = self.renderer is not None and self.layout_model is not None
        for w in (
            self.training_button,
            self.blank_button,
            self.open_button,
            self.save_button,
            self.reroll_button,
            self.add_button,
            self.variants_button,
        ):
            w.setEnabled(ready)
        self.training_button.setEnabled(ready and self.loaded.training_layout is not None)
        self.add_button.setEnabled(ready and not self.adding)
        self.undo_action.setEnabled(ready and self.layout_model.can_undo())
        self.redo_action.setEnabled(ready and self.layout_model.can_redo())

    def _report(self, title: str, exc) -> None:
        message, details = tasks.describe_error(exc)
        self._refuse(f"{title}: {message}", details)
        self.failed.emit(message)

    def _refuse(self, sentence: str, details: str | None = None) -> None:
        """A refusal, the latest outcome: its sentence above the canvas, and the status line below no longer says
        an earlier one ("Layout saved to …" had stayed beside "The layout was not saved: …"); an unexpected
        error's last line of details goes there instead."""
        set_error(self.error_label, sentence)
        self.status_label.setText(details.strip().splitlines()[-1] if details else "")
