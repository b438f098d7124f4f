"""Widgets of the gallery page: the large view of one image–mask pair (overlay / image / mask, opacity) with its
description. They show what they are given."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .widgets import ImageView, OpacitySlider

VIEW_MODES = [("Image + mask overlay", "overlay"), ("Image", "image"), ("Mask", "mask")]


class PairView(QWidget):
    """One pair, large: the view mode, the mask opacity and a line on the pair (files, class shares, scores)."""

    opacity_changed = Signal(float)
    mode_changed = Signal()

    def __init__(self, opacity: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = ImageView("Generate samples, then click a thumbnail to see it large.")
        self.mode_combo = QComboBox()
        for text, key in VIEW_MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.currentIndexChanged.connect(lambda _: self.mode_changed.emit())
        self.opacity = OpacitySlider(opacity)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.view.set_opacity(self.opacity.value())
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        row = QHBoxLayout()
        row.addWidget(self.mode_combo)
        row.addWidget(self.opacity, 1)
        lay.addLayout(row)
        lay.addWidget(self.info_label)

    def clear(self) -> None:
        self.view.set_image(None)
        self.info_label.setText("")

    def show_pair(self, index: int, info: dict, pair: tuple, scores: dict | None) -> None:
        """pair: (image, overlay or None, colour mask or None) QImages (jobs.load_pair); info: its manifest item;
        scores: its per-image scores (None: not scored)."""
        image, overlay, colour = pair
        mode = self.mode_combo.currentData()
        if mode == "image" or overlay is None:
            self.view.set_image(image)
        elif mode == "mask":
            self.view.set_image(colour)
        else:
            self.view.set_image(image, overlay)
        lines = [f"<b>#{index}</b> · {info['image']}" + (f" · {info['mask']}" if info.get("mask") else "")]
        shares = info.get("class_shares")
        if shares:
            lines.append("Class shares: " + ", ".join(f"{i}: {100 * s:.1f}%" for i, s in enumerate(shares)))
        if scores:
            lines.append("Scores: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items() if k != "index"))
        self.info_label.setText("<br>".join(lines))

    def _opacity_changed(self, v: float) -> None:
        self.view.set_opacity(v)
        self.opacity_changed.emit(v)
