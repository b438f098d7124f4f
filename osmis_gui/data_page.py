"""Data view: the training image (or a frame scrubber for videos) with its mask overlaid in palette colours, the
classes found and what training will use (resolution, architecture, parameter counts from inspect_data)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSlider, QSplitter, QStyle, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from osmis_core.config import FIELDS
from osmis_core.data.masks import KIND_PHRASES

from . import jobs, tasks
from .widgets import ImageView, OpacitySlider, colour_swatch, error_label, set_error

IMAGE_FILTER = ("Images and videos (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.mp4 *.mov *.avi *.webm *.gif "
                "*.mkv *.m4v);;All files (*)")
MASK_FILTER = "Mask images (*.png *.bmp *.tif *.tiff *.webp *.jpg *.jpeg);;All files (*)"
PREVIEW_OPTIONS = ("masks", "max_classes", "background_color", "max_frames")
INSPECT_OPTIONS = {n for n, (g, _) in FIELDS.items() if g in ("data", "generator", "discriminator")}


class DataPage(QWidget):
    """Shows the loaded data; `changed` fires when data, preview or inspection results change."""

    changed = Signal()
    preview_ready = Signal(object)      # DataPreview
    inspected = Signal(object)          # inspect_data report, or None after an error

    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.qsettings = settings
        self.path: str | None = None
        self.mask_path: str | None = None
        self.preview: jobs.DataPreview | None = None
        self.report = None                  # the engine's InspectReport
        self.data_error: str | None = None
        self.inspect_error: str | None = None
        self.config = None
        self.loading = False
        self.inspecting = False
        self._preview_tag = 0
        self._inspect_tag = 0
        self._preview_options: dict = {}
        self._inspect_timer = QTimer(self, singleShot=True, interval=300)
        self._inspect_timer.timeout.connect(self._start_inspect)

        # left: picture, frame scrubber, opacity
        self.view = ImageView("Open an image, a research-layout folder (image/ + mask/) or a video\n"
                              "(File ▸ Open Data…, Ctrl+O) or drop it on the window.")
        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.setToolTip("Scrub through the frames of the video (Left/Right keys step one frame)")
        self.frame_slider.valueChanged.connect(self._show_frame)
        self.frame_label = QLabel()
        self.frame_row = QWidget()
        fr = QHBoxLayout(self.frame_row)
        fr.setContentsMargins(0, 0, 0, 0)
        fr.addWidget(QLabel("Frame"))
        fr.addWidget(self.frame_slider, 1)
        fr.addWidget(self.frame_label)
        self.frame_row.hide()
        self.opacity = OpacitySlider(float(settings.value("data/opacity", 0.5)))
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.view.set_opacity(self.opacity.value())
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.view, 1)
        ll.addWidget(self.frame_row)
        ll.addWidget(self.opacity)

        # right: buttons, source, classes, training plan, notes, errors
        style = self.style()
        self.open_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Open data…")
        self.open_button.setToolTip("Open an image, a folder (image/ + mask/) or a video (Ctrl+O)")
        self.open_button.clicked.connect(self.choose_data)
        self.mask_button = QPushButton("Open mask…")
        self.mask_button.setToolTip("Use another mask file (or folder of per-frame masks) for this data (Ctrl+M)")
        self.mask_button.clicked.connect(self.choose_mask)
        self.clear_mask_button = QPushButton("No mask")
        self.clear_mask_button.setToolTip("Forget the explicitly chosen mask (a mask found next to the image is "
                                          "still used)")
        self.clear_mask_button.clicked.connect(self.clear_mask)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.mask_button)
        buttons.addWidget(self.clear_mask_button)

        src_box = QGroupBox("Source")
        src = QFormLayout(src_box)
        self.source_label = QLabel("–")
        self.source_label.setWordWrap(True)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind_label = QLabel("–")
        self.size_label = QLabel("–")
        self.mask_label = QLabel("–")
        self.mask_label.setWordWrap(True)
        self.mask_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        src.addRow("Data:", self.source_label)
        src.addRow("Kind:", self.kind_label)
        src.addRow("Size:", self.size_label)
        src.addRow("Mask:", self.mask_label)

        cls_box = QGroupBox("Mask classes")
        cl = QVBoxLayout(cls_box)
        self.class_table = QTableWidget(0, 3)
        self.class_table.setHorizontalHeaderLabels(["Class", "Share", "On disk"])
        self.class_table.verticalHeader().hide()
        self.class_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.class_table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.class_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.class_table.setMinimumHeight(110)
        self.class_summary = QLabel("No mask: training would be SIV-GAN on the image alone.")
        self.class_summary.setWordWrap(True)
        cl.addWidget(self.class_summary)
        cl.addWidget(self.class_table)

        plan_box = QGroupBox("Training will use")
        plan = QFormLayout(plan_box)
        self.resolution_label = QLabel("–")
        self.noise_label = QLabel("–")
        self.blocks_label = QLabel("–")
        self.params_label = QLabel("–")
        self.classes_label = QLabel("–")
        for lab in (self.resolution_label, self.noise_label, self.blocks_label, self.params_label,
                    self.classes_label):
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        plan.addRow("Resolution:", self.resolution_label)
        plan.addRow("Noise map:", self.noise_label)
        plan.addRow("Blocks:", self.blocks_label)
        plan.addRow("Parameters:", self.params_label)
        plan.addRow("Classes:", self.classes_label)
        self.busy_label = QLabel()
        self.busy_label.setStyleSheet("color: #555;")
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet("color: #8a6d3b;")
        self.notes_label.hide()
        self.error_label = error_label()

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(buttons)
        rl.addWidget(src_box)
        rl.addWidget(cls_box, 1)
        rl.addWidget(plan_box)
        rl.addWidget(self.busy_label)
        rl.addWidget(self.notes_label)
        rl.addWidget(self.error_label)
        right.setMinimumWidth(330)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)
        self._update_buttons()

    # -- user actions --------------------------------------------------------------------------------------
    def choose_data(self) -> None:
        start = str(self.qsettings.value("dirs/data", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open image or video", start, IMAGE_FILTER)
        if path:
            self.qsettings.setValue("dirs/data", str(Path(path).parent))
            self.load(path)

    def choose_data_folder(self) -> None:
        start = str(self.qsettings.value("dirs/data", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Open data folder (image/ + mask/, or frames)", start)
        if path:
            self.qsettings.setValue("dirs/data", str(Path(path).parent))
            self.load(path)

    def choose_mask(self) -> None:
        if not self.path:
            return
        start = str(self.qsettings.value("dirs/mask", str(Path(self.path).parent)))
        path, _ = QFileDialog.getOpenFileName(self, "Open mask", start, MASK_FILTER)
        if path:
            self.qsettings.setValue("dirs/mask", str(Path(path).parent))
            self.load(self.path, path)

    def clear_mask(self) -> None:
        if self.path and self.mask_path:
            self.load(self.path, None)

    # -- loading -------------------------------------------------------------------------------------------
    def load(self, path: str | Path, mask_path: str | Path | None = None) -> None:
        """Show DATA (and MASK); decoding and inspection run in the background."""
        self.path = str(path)
        self.mask_path = str(mask_path) if mask_path else None
        self.preview = None
        self.report = None
        self.data_error = None
        self.inspect_error = None
        self.view.set_image(None)
        self.view.set_placeholder("Loading…")
        self._clear_info()
        self.source_label.setText(self.path)
        self.mask_label.setText(self.mask_path or "looking for one next to the data…")
        self._start_preview()
        self._start_inspect()

    def reset(self) -> None:
        """Forget the data (answers of jobs still running are ignored)."""
        self.path = self.mask_path = None
        self.preview = self.report = None
        self.data_error = self.inspect_error = None
        self._preview_tag += 1
        self._inspect_tag += 1
        self._inspect_timer.stop()
        self.loading = self.inspecting = False
        self.view.set_image(None)
        self._clear_info()
        self._set_busy()
        self.changed.emit()

    def set_config(self, config, changed: set | None = None) -> None:
        """New settings: re-inspect (debounced) when an option that shapes the model changed."""
        self.config = config
        if not self.path or config is None:
            return
        changed = set(changed or ())
        opts = {k: getattr(getattr(config, FIELDS[k][0]), k) for k in PREVIEW_OPTIONS}
        if opts != self._preview_options and (changed & set(PREVIEW_OPTIONS)):
            self._start_preview()
        if changed & INSPECT_OPTIONS:
            self._inspect_timer.start()

    def is_ready(self) -> bool:
        """Data loaded without errors (training can start from it)."""
        return bool(self.path) and self.preview is not None and not self.data_error and not self.inspect_error

    def _start_preview(self) -> None:
        self._preview_tag += 1
        flat = self.config.flat() if self.config is not None else {}
        self._preview_options = {k: flat.get(k) for k in PREVIEW_OPTIONS}
        self.loading = True
        self._set_busy()
        tasks.start(tasks.tagged, self._preview_tag, jobs.load_preview, self.path, self.mask_path,
                    self._preview_options, returned=self._on_preview, errored=self._on_preview_error)

    def _start_inspect(self) -> None:
        if not self.path or self.config is None:
            return
        self._inspect_timer.stop()
        self._inspect_tag += 1
        self.inspecting = True
        self._set_busy()
        tasks.start(tasks.tagged, self._inspect_tag, jobs.inspect, self.path, self.mask_path, self.config,
                    returned=self._on_inspect, errored=self._on_inspect_error)

    def _on_preview(self, result) -> None:
        tag, preview = result
        if tag != self._preview_tag:
            return
        self.loading = False
        self.preview = preview
        self.data_error = None
        n = len(preview.frames)
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, max(0, n - 1))
        self.frame_slider.setValue(0)
        self.frame_slider.blockSignals(False)
        self.frame_row.setVisible(n > 1)
        self._show_frame(0)
        src = preview.source
        kind = {"image": "single image", "folder": "folder", "video": "video"}.get(src.get("kind"), src.get("kind"))
        frames = f"{n} frame{'s' if n != 1 else ''} shown" if n > 1 else "1 frame"
        self.kind_label.setText(f"{kind}, {frames}")
        w, h = preview.original_size
        self.size_label.setText(f"{w} × {h} px")
        masks = src.get("masks")
        if masks:
            self.mask_label.setText(masks[0] if len(masks) == 1 else f"{len(masks)} masks in {Path(masks[0]).parent}")
        else:
            self.mask_label.setText("none found (image only)")
        self._fill_classes(preview)
        self._show_errors()
        self._set_busy()
        self.preview_ready.emit(preview)
        self.changed.emit()

    def _on_preview_error(self, exc) -> None:
        if getattr(exc, "gui_tag", None) != self._preview_tag:
            return
        self.loading = False
        self.preview = None
        self.data_error, _ = tasks.describe_error(exc)
        self.view.set_image(None)
        self.view.set_placeholder("This data cannot be used (see the message on the right).")
        self._show_errors()
        self._set_busy()
        self.changed.emit()

    def _on_inspect(self, result) -> None:
        tag, report = result
        if tag != self._inspect_tag:
            return
        self.inspecting = False
        self.report = report
        self.inspect_error = None
        h, w = report.resolution
        self.resolution_label.setText(f"{w} × {h} px (W × H)")
        nh, nw = report.noise_shape
        self.noise_label.setText(f"{nw} × {nh} (W × H)")
        self.blocks_label.setText(f"G n_g={report.num_blocks_g} · D n_d={report.num_blocks_d} "
                                  f"(low-level n_d0={report.num_blocks_d0})")
        self.blocks_label.setToolTip("Generator blocks n_g; discriminator blocks n_d, of which n_d0 form the "
                                     "low-level (multi-scale) branch and the rest the layout branch")
        self.params_label.setText(f"G {report.params_g:,} · D {report.params_d:,}")
        self.params_label.setToolTip(report.summary())   # the same text `osmis inspect` prints
        k = report.num_classes
        self.classes_label.setText(f"{k} (OSMIS: image + mask)" if k else "none (SIV-GAN: image only)")
        self._show_errors()
        self._set_busy()
        self.inspected.emit(report)
        self.changed.emit()

    def _on_inspect_error(self, exc) -> None:
        if getattr(exc, "gui_tag", None) != self._inspect_tag:
            return
        self.inspecting = False
        self.report = None
        self.inspect_error, _ = tasks.describe_error(exc)
        for lab in (self.resolution_label, self.noise_label, self.blocks_label, self.params_label,
                    self.classes_label):
            lab.setText("–")
        self._show_errors()
        self._set_busy()
        self.inspected.emit(None)
        self.changed.emit()

    # -- display -------------------------------------------------------------------------------------------
    def _show_frame(self, i: int) -> None:
        p = self.preview
        if p is None or not p.frames:
            return
        i = max(0, min(i, len(p.frames) - 1))
        self.view.set_image(p.frames[i], p.overlays[i])
        self.frame_label.setText(f"{i + 1} / {len(p.frames)}  {p.frame_names[i] if i < len(p.frame_names) else ''}")

    def _opacity_changed(self, v: float) -> None:
        self.view.set_opacity(v)
        self.qsettings.setValue("data/opacity", v)

    def _fill_classes(self, p: jobs.DataPreview) -> None:
        self.class_table.setRowCount(len(p.classes))
        for r, c in enumerate(p.classes):
            name = "background" if c["id"] == 0 else f"class {c['id']}"
            item = QTableWidgetItem(colour_swatch(c["colour"]), f"{c['id']} {name}")
            item.setToolTip(f"shown in palette colour rgb{tuple(c['colour'])}")
            self.class_table.setItem(r, 0, item)
            share = QTableWidgetItem(f"{100 * c['share']:.1f} %")
            share.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.class_table.setItem(r, 1, share)
            self.class_table.setItem(r, 2, QTableWidgetItem(c["disk"]))
        if p.classes:
            self.class_summary.setText(f"{len(p.classes)} classes found in {KIND_PHRASES.get(p.mask_kind, 'a mask')}.")
        elif p.mask_error:
            self.class_summary.setText("The mask cannot be used.")
        else:
            self.class_summary.setText("No mask: training would be SIV-GAN on the image alone.")

    def _clear_info(self) -> None:
        for lab in (self.kind_label, self.size_label, self.resolution_label, self.noise_label, self.blocks_label,
                    self.params_label, self.classes_label):
            lab.setText("–")
        self.class_table.setRowCount(0)
        self.class_summary.setText("")
        self.frame_row.hide()
        self._show_errors()

    def _show_errors(self) -> None:
        errors = [e for e in (self.data_error, self.preview.mask_error if self.preview else None,
                              self.inspect_error) if e]
        unique = list(dict.fromkeys(errors))
        set_error(self.error_label, "\n".join(unique) if unique else None)
        notes = list(self.preview.mask_notes) if self.preview else []
        if self.report:
            notes += [n for n in self.report.notes if n not in notes]
        if self.config is not None and not self.config.data.masks and self.preview and self.preview.classes:
            notes.append("'Use masks' is off: training ignores the mask (SIV-GAN)")
        self.notes_label.setText("\n".join(f"Note: {n}." if not n.endswith(".") else f"Note: {n}" for n in notes))
        self.notes_label.setVisible(bool(notes))

    def _set_busy(self) -> None:
        what = [w for w, on in (("decoding the data", self.loading), ("inspecting the model", self.inspecting)) if on]
        self.busy_label.setText(("Busy: " + ", ".join(what) + "…") if what else "")
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.mask_button.setEnabled(bool(self.path))
        self.clear_mask_button.setEnabled(bool(self.path and self.mask_path))

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.frame_row.isVisible() and event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            step = -1 if event.key() == Qt.Key.Key_Left else 1
            self.frame_slider.setValue(self.frame_slider.value() + step)
            return
        super().keyPressEvent(event)
