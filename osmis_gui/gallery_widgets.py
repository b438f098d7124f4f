"""Widgets of the gallery page: the generate bar, the selection bar, the thumbnail list and the large view of one
image–mask pair (overlay / image / mask, opacity) with its description. They show what they are given."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from osmis_core.config import MAX_SAMPLES, last_first_seed

from .widgets import ImageView, OpacitySlider, WholeSpinBox, seed_box

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
        numbers = [f"{k} {v:.4g}" for k, v in (scores or {}).items() if k != "index" and isinstance(v, (int, float))]
        if numbers:  # a row of a gallery scored by set-level metrics only holds its index and name
            lines.append("Scores: " + ", ".join(numbers))
        self.info_label.setText("<br>".join(lines))

    def _opacity_changed(self, v: float) -> None:
        self.view.set_opacity(v)
        self.opacity_changed.emit(v)


def _tool_button(action: QAction, text_beside: bool = True) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    if text_beside:
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return button


class GenerateBar(QWidget):
    """What to generate (checkpoint, number of samples, seed; Generate, Latent walk) and which gallery to show
    (with 'Open folder')."""

    def __init__(self, n: int, seed: int, parent: QWidget | None = None):
        super().__init__(parent)
        SP = QStyle.StandardPixmap
        self.generate_action = QAction(self.style().standardIcon(SP.SP_MediaPlay), "Generate", self)
        self.generate_action.setShortcut(QKeySequence("Ctrl+G"))
        self.generate_action.setToolTip("Generate the samples from the chosen checkpoint (Ctrl+G)")
        self.animate_action = QAction("Latent walk", self)
        self.animate_action.setToolTip(
            "Write a looping video that walks smoothly through noise space (image and "
            "mask side by side) from the chosen checkpoint and seed, into RUN/walks"
        )
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setToolTip("Checkpoint to sample from (the EMA generator is used)")
        self.checkpoint_combo.setMinimumWidth(150)
        self.n_spin = WholeSpinBox()
        self.n_spin.setRange(1, MAX_SAMPLES)  # the engine's limit of a gallery, as the CLI's --n
        self.n_spin.setValue(n)
        self.n_spin.setToolTip("Number of image–mask pairs to generate")
        self.seed_spin = seed_box(last_first_seed())  # every seed the engine takes, as the CLI's --seed
        self.seed_spin.setValue(seed)
        self.renders = False
        self.n_spin.valueChanged.connect(self._bound_seed)
        self.seed_spin.setToolTip("Random seed of the noise: the same seed gives the same samples")
        self.generate_button = _tool_button(self.generate_action)
        self.n_label = QLabel("Samples:")
        self.gallery_combo = QComboBox()
        self.gallery_combo.setToolTip("Galleries generated for this run (newest first)")
        self.gallery_combo.setMinimumWidth(220)
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setToolTip("Show the gallery folder (with its index.html) in the file manager")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (
            QLabel("Checkpoint:"),
            self.checkpoint_combo,
            self.n_label,
            self.n_spin,
            QLabel("Seed:"),
            self.seed_spin,
            self.generate_button,
            _tool_button(self.animate_action, False),
        ):
            row.addWidget(w)
        row.addSpacing(20)
        row.addWidget(QLabel("Gallery:"))
        row.addWidget(self.gallery_combo, 1)
        row.addWidget(self.open_folder_button)

    def set_render_mode(self, render: bool) -> None:
        """Words for a renderer run (Render: photos of the run's training layouts; no latent walk) or an OSMIS run
        (Generate: image-mask pairs from noise)."""
        self.renders = render
        self._bound_seed()
        if render:
            self.generate_action.setText("Render")
            self.generate_action.setToolTip(
                "Render photos of the run's training layout(s) with different noises, from the chosen checkpoint "
                "(Ctrl+G); the seeds are recorded in the gallery"
            )
            self.n_label.setText("Photos per layout:")
            self.n_spin.setToolTip("Number of photos of each training layout, each with its own noise seed")
            self.seed_spin.setToolTip("Noise seed of the first photo (photo i: seed + i)")
            self.animate_action.setToolTip("A latent walk is made by OSMIS runs; this is a renderer run")
        else:
            self.generate_action.setText("Generate")
            self.generate_action.setToolTip("Generate the samples from the chosen checkpoint (Ctrl+G)")
            self.n_label.setText("Samples:")
            self.n_spin.setToolTip("Number of image–mask pairs to generate")
            self.seed_spin.setToolTip("Random seed of the noise: the same seed gives the same samples")
            self.animate_action.setToolTip(
                "Write a looping video that walks smoothly through noise space (image and "
                "mask side by side) from the chosen checkpoint and seed, into RUN/walks"
            )

    def _bound_seed(self) -> None:
        """A renderer's photo i uses seed + i, so its first seed stops short of the engine's largest by n - 1 (the
        engine's rule, as `osmis render --seed`); an OSMIS gallery takes every seed."""
        self.seed_spin.setMaximum(last_first_seed(self.n_spin.value() if self.renders else 1))

    def set_checkpoints(self, steps: list[int], best: int | None = None) -> None:
        """Offer 'latest', 'best' (the checkpoint --keep-best kept, at step `best`, when the run has one) and every
        checkpoint (newest first), keeping the choice when it still exists."""
        current = self.checkpoint_combo.currentData()
        self.checkpoint_combo.clear()
        if steps:
            self.checkpoint_combo.addItem(f"latest ({steps[-1]:,})", "latest")
            if best is not None:
                self.checkpoint_combo.addItem(f"best ({best:,})", "best")
            for s in reversed(steps):
                self.checkpoint_combo.addItem(f"iteration {s:,}", s)
            self.checkpoint_combo.setCurrentIndex(max(0, self.checkpoint_combo.findData(current)))
        else:
            self.checkpoint_combo.addItem("no checkpoint yet", None)

    def set_galleries(self, galleries: list[str], current: str | None) -> None:
        self.gallery_combo.blockSignals(True)
        self.gallery_combo.clear()
        for g in galleries:
            self.gallery_combo.addItem(Path(g).name, g)
        if not galleries:
            self.gallery_combo.addItem("none yet", None)
        self.gallery_combo.setCurrentIndex(max(0, self.gallery_combo.findData(current)))
        self.gallery_combo.blockSignals(False)


class SelectionBar(QWidget):
    """Scores, sorting, selection and export of the thumbnails."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        SP = QStyle.StandardPixmap
        self.score_action = QAction("Compute scores", self)
        self.score_action.setToolTip("Per-image SIFID against the training data (runs in the background)")
        self.export_action = QAction(self.style().standardIcon(SP.SP_DialogSaveButton), "Export selection…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setToolTip(
            "Copy the selected image–mask pairs with a manifest.json (and metrics) into a folder (Ctrl+E)"
        )
        self.score_button = _tool_button(self.score_action, False)
        self.sort_combo = QComboBox()
        self.sort_combo.setToolTip("Order of the thumbnails")
        self.select_all_button = QPushButton("Select all")
        self.select_none_button = QPushButton("Select none")
        self.export_button = _tool_button(self.export_action)
        self.edit_layout_action = QAction("Edit layout", self)
        self.edit_layout_action.setToolTip(
            "Open the current pair's mask as a layout on the Paint page (a renderer run must be open)"
        )
        self.render_masks_action = QAction("Render these masks with…", self)
        self.render_masks_action.setToolTip(
            "Render every mask of this gallery with a renderer run (choose its "
            "folder): the two-stage pipeline; writes a new gallery beside this one"
        )
        self.selection_label = QLabel()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.score_button)
        row.addWidget(QLabel("Sort by:"))
        row.addWidget(self.sort_combo)
        row.addSpacing(20)
        row.addWidget(self.select_all_button)
        row.addWidget(self.select_none_button)
        row.addWidget(self.selection_label)
        row.addStretch(1)
        row.addWidget(_tool_button(self.edit_layout_action, False))
        row.addWidget(_tool_button(self.render_masks_action, False))
        row.addWidget(self.export_button)


INDEX_ROLE = Qt.ItemDataRole.UserRole


class ThumbnailList(QListWidget):
    """The thumbnails of a gallery, one item per sample index (a static icon grid with extended selection)."""

    def __init__(self, thumb_width: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumb_width = thumb_width
        self.items: dict[int, QListWidgetItem] = {}
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setIconSize(QSize(thumb_width, thumb_width))
        self.setSpacing(6)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setToolTip("Click for a large view; Ctrl/Shift-click or Ctrl+A to select pairs for export")

    def clear_items(self) -> None:
        self.clear()
        self.items = {}

    def fill(self, indices: list[int]) -> None:
        """An item with a grey placeholder per sample index."""
        placeholder = QPixmap(self.thumb_width, self.thumb_width)
        placeholder.fill(Qt.GlobalColor.lightGray)
        for index in indices:
            item = QListWidgetItem(QIcon(placeholder), f"#{index}")
            item.setData(INDEX_ROLE, int(index))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)
            self.items[int(index)] = item

    def set_thumbnails(self, batch: list) -> None:
        """[(index, QImage)]: the thumbnails replace their placeholders (no selection tint over the masks)."""
        height = 0
        for index, image in batch:
            item = self.items.get(index)
            if item is not None:
                pm = QPixmap.fromImage(image)
                icon = QIcon(pm)
                icon.addPixmap(pm, QIcon.Mode.Selected)
                item.setIcon(icon)
                height = max(height, image.height())
        if height and height != self.iconSize().height():
            self.setIconSize(QSize(self.thumb_width, height))

    def set_labels(self, labels: dict[int, str]) -> None:
        for index, text in labels.items():
            if index in self.items:
                self.items[index].setText(text)
                self.items[index].setToolTip(text)

    def index_of(self, item: QListWidgetItem) -> int:
        return int(item.data(INDEX_ROLE))

    def selected_indices(self) -> list[int]:
        return sorted(self.index_of(i) for i in self.selectedItems())

    def select_indices(self, indices) -> None:
        wanted = set(indices)
        self.clearSelection()
        for index, item in self.items.items():
            if index in wanted:
                item.setSelected(True)

    def visible_order(self) -> list[int]:
        return [self.index_of(self.item(r)) for r in range(self.count())]

    def reorder(self, order: list[int]) -> None:
        """Show the items in `order` (sample indices), keeping the current item and the selection."""
        if order == self.visible_order():
            return
        current = self.currentItem()
        selected = set(self.selected_indices())
        self.blockSignals(True)
        while self.count():
            self.takeItem(0)
        for index in order:
            self.addItem(self.items[index])
        if current is not None:
            self.setCurrentItem(current, QItemSelectionModel.SelectionFlag.NoUpdate)
        for index in order:
            self.items[index].setSelected(index in selected)
        self.blockSignals(False)
