"""Widgets of the data page: the frame viewer (picture, mask overlay, frame scrubber, opacity) and the information
panel (source, mask classes, what training will use, notes and errors). They show what they are given."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from osmis_core.data.masks import KIND_PHRASES

from .widgets import ImageView, OpacitySlider, colour_swatch, error_label, set_error


def _selectable(text: str = "–", wrap: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class FrameViewer(QWidget):
    """The data's frames with their mask overlays; a scrubber for videos (Left/Right step one frame)."""

    opacity_changed = Signal(float)

    def __init__(self, opacity: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.preview = None
        self.view = ImageView(
            "Open an image, a research-layout folder (image/ + mask/) or a video\n"
            "(File ▸ Open Data…, Ctrl+O) or drop it on the window."
        )
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
        self.opacity = OpacitySlider(opacity)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.view.set_opacity(self.opacity.value())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.frame_row)
        lay.addWidget(self.opacity)

    def show_preview(self, preview) -> None:
        """Show a jobs.DataPreview from its first frame (None: nothing)."""
        self.preview = preview
        n = len(preview.frames) if preview is not None else 0
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, max(0, n - 1))
        self.frame_slider.setValue(0)
        self.frame_slider.blockSignals(False)
        self.frame_row.setVisible(n > 1)
        if n:
            self._show_frame(0)
        else:
            self.view.set_image(None)

    def show_placeholder(self, text: str) -> None:
        self.show_preview(None)
        self.view.set_placeholder(text)

    def _show_frame(self, i: int) -> None:
        p = self.preview
        if p is None or not p.frames:
            return
        i = max(0, min(i, len(p.frames) - 1))
        self.view.set_image(p.frames[i], p.overlays[i])
        self.frame_label.setText(f"{i + 1} / {len(p.frames)}  {p.frame_names[i] if i < len(p.frame_names) else ''}")

    def _opacity_changed(self, v: float) -> None:
        self.view.set_opacity(v)
        self.opacity_changed.emit(v)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.frame_row.isVisible() and event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            step = -1 if event.key() == Qt.Key.Key_Left else 1
            self.frame_slider.setValue(self.frame_slider.value() + step)
            return
        super().keyPressEvent(event)


class DataInfoPanel(QWidget):
    """Open buttons, the source (data, kind, size, mask), the mask classes, what training will use (from the
    engine's inspection), a busy line, notes and errors."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        style = self.style()
        self.open_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Open data…")
        self.open_button.setToolTip("Open an image, a folder (image/ + mask/) or a video (Ctrl+O)")
        self.mask_button = QPushButton("Open mask…")
        self.mask_button.setToolTip("Use another mask file (or folder of per-frame masks) for this data (Ctrl+M)")
        self.clear_mask_button = QPushButton("No mask")
        self.clear_mask_button.setToolTip(
            "Forget the explicitly chosen mask (a mask found next to the image is still used)"
        )
        buttons = QHBoxLayout()
        for b in (self.open_button, self.mask_button, self.clear_mask_button):
            buttons.addWidget(b)
        self.busy_label = QLabel()
        self.busy_label.setStyleSheet("color: #555;")
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet("color: #8a6d3b;")
        self.notes_label.hide()
        self.error_label = error_label()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(buttons)
        lay.addWidget(self._source_box())
        lay.addWidget(self._classes_box(), 1)
        lay.addWidget(self._plan_box())
        lay.addWidget(self.busy_label)
        lay.addWidget(self.notes_label)
        lay.addWidget(self.error_label)
        self.setMinimumWidth(330)

    def _source_box(self) -> QGroupBox:
        box = QGroupBox("Source")
        form = QFormLayout(box)
        self.source_label = _selectable(wrap=True)
        self.kind_label = QLabel("–")
        self.size_label = QLabel("–")
        self.mask_label = _selectable(wrap=True)
        for name, label in (
            ("Data:", self.source_label),
            ("Kind:", self.kind_label),
            ("Size:", self.size_label),
            ("Mask:", self.mask_label),
        ):
            form.addRow(name, label)
        return box

    def _classes_box(self) -> QGroupBox:
        box = QGroupBox("Mask classes")
        lay = QVBoxLayout(box)
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
        lay.addWidget(self.class_summary)
        lay.addWidget(self.class_table)
        return box

    def _plan_box(self) -> QGroupBox:
        box = QGroupBox("Training will use")
        form = QFormLayout(box)
        self.resolution_label, self.noise_label, self.blocks_label, self.params_label, self.classes_label = (
            _selectable() for _ in range(5)
        )
        self.blocks_label.setToolTip(
            "Generator blocks n_g; discriminator blocks n_d, of which n_d0 form the "
            "low-level (multi-scale) branch and the rest the layout branch"
        )
        for name, label in (
            ("Resolution:", self.resolution_label),
            ("Noise map:", self.noise_label),
            ("Blocks:", self.blocks_label),
            ("Parameters:", self.params_label),
            ("Classes:", self.classes_label),
        ):
            form.addRow(name, label)
        return box

    def plan_labels(self) -> tuple[QLabel, ...]:
        return (self.resolution_label, self.noise_label, self.blocks_label, self.params_label, self.classes_label)

    def show_plan(self, report) -> None:
        """What training will use, from the engine's InspectReport ('–' everywhere for None)."""
        if report is None:
            for lab in self.plan_labels():
                lab.setText("–")
            self.params_label.setToolTip("")
            return
        h, w = report.resolution
        self.resolution_label.setText(f"{w} × {h} px (W × H)")
        nh, nw = report.noise_shape
        self.noise_label.setText(f"{nw} × {nh} (W × H)")
        self.blocks_label.setText(
            f"G n_g={report.num_blocks_g} · D n_d={report.num_blocks_d} (low-level n_d0={report.num_blocks_d0})"
        )
        self.params_label.setText(f"G {report.params_g:,} · D {report.params_d:,}")
        self.params_label.setToolTip(report.summary())  # the same text `osmis inspect` prints
        k = report.num_classes
        self.classes_label.setText(f"{k} (OSMIS: image + mask)" if k else "none (SIV-GAN: image only)")

    def show_source(self, preview) -> None:
        src = preview.source
        n = len(preview.frames)
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

    def _fill_classes(self, p) -> None:
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

    def clear(self) -> None:
        for lab in (self.kind_label, self.size_label) + self.plan_labels():
            lab.setText("–")
        self.class_table.setRowCount(0)
        self.class_summary.setText("")

    def show_problems(self, errors: list[str], notes: list[str]) -> None:
        unique = list(dict.fromkeys(e for e in errors if e))
        set_error(self.error_label, "\n".join(unique) if unique else None)
        self.notes_label.setText("\n".join(f"Note: {n}." if not n.endswith(".") else f"Note: {n}" for n in notes))
        self.notes_label.setVisible(bool(notes))
