"""Gallery: generate N image–mask pairs from a checkpoint, browse them, score them (SIFID), sort, select and
export the selection with a manifest (and metrics)."""
from __future__ import annotations

import html
import math
import time
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QSpinBox, QSplitter, QStyle,
                               QToolButton, QVBoxLayout, QWidget)

from . import jobs, paint_jobs, scoring, tasks
from .widgets import ImageView, OpacitySlider, error_label, set_error

INDEX_ROLE = Qt.ItemDataRole.UserRole
_VIEW_MODES = [("Image + mask overlay", "overlay"), ("Image", "image"), ("Mask", "mask")]


class GalleryPage(QWidget):
    generated = Signal(str)          # gallery folder
    loaded = Signal(str)             # gallery folder, all thumbnails shown
    scored = Signal(str)             # gallery folder
    exported = Signal(str, int)      # destination, number of pairs
    failed = Signal(str)             # message
    edit_layout = Signal(str)        # mask file of the current pair, to be edited on the Paint page

    def __init__(self, window, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.window_ = window
        self.qsettings = settings
        self.run_dir: str | None = None
        self.data_path: str | None = None
        self.mask_path: str | None = None
        self.checkpoints: list[int] = []
        self.gallery_dir: str | None = None
        self.manifest: dict | None = None
        self.metrics: dict | None = None
        self.items: dict[int, QListWidgetItem] = {}
        self.metrics_available = False
        self.metrics_checked = False
        self.metrics_reason = "checking for the metrics package"
        self._score_stage: str | None = None     # the scoring stage shown, and when it started (for the ETA)
        self._score_stage_start = 0.0
        self.generating = self.scoring = self.exporting = self.loading = self.animating = False
        self.rendering = False
        self.layouts_editable = False    # a renderer is open on the Paint page
        self.last_walk: str | None = None
        self.last_error: str | None = None
        self._load_tag = 0
        self._expected_dir: Path | None = None
        self._expected_n = 0
        self.relay = tasks.ProgressRelay(self)
        self.relay.progress.connect(self._score_progress)
        self._poll = QTimer(self, interval=250)
        self._poll.timeout.connect(self._generation_progress)

        style = self.style()
        SP = QStyle.StandardPixmap
        self.generate_action = QAction(style.standardIcon(SP.SP_MediaPlay), "Generate", self)
        self.generate_action.setShortcut(QKeySequence("Ctrl+G"))
        self.generate_action.setToolTip("Generate the samples from the chosen checkpoint (Ctrl+G)")
        self.generate_action.triggered.connect(self.generate)
        self.animate_action = QAction("Latent walk", self)
        self.animate_action.setToolTip("Write a looping video that walks smoothly through noise space (image and "
                                       "mask side by side) from the chosen checkpoint and seed, into RUN/walks")
        self.animate_action.triggered.connect(self.animate)
        self.score_action = QAction("Compute scores", self)
        self.score_action.setToolTip("Per-image SIFID against the training data (runs in the background)")
        self.score_action.triggered.connect(self.compute_scores)
        self.export_action = QAction(style.standardIcon(SP.SP_DialogSaveButton), "Export selection…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setToolTip("Copy the selected image–mask pairs with a manifest.json (and metrics) "
                                      "into a folder (Ctrl+E)")
        self.export_action.triggered.connect(self.choose_export)
        self.edit_layout_action = QAction("Edit layout", self)
        self.edit_layout_action.setToolTip("Open the current pair's mask as a layout on the Paint page (needs a "
                                           "renderer run open there)")
        self.edit_layout_action.triggered.connect(self._edit_layout)
        self.render_masks_action = QAction("Render these masks with…", self)
        self.render_masks_action.setToolTip("Render every mask of this gallery with a renderer run (choose its "
                                            "folder): the two-stage pipeline; writes a new gallery beside this one")
        self.render_masks_action.triggered.connect(self.choose_renderer_run)

        # row 1: what to generate
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setToolTip("Checkpoint to sample from (the EMA generator is used)")
        self.checkpoint_combo.setMinimumWidth(150)
        self.n_spin = QSpinBox()
        self.n_spin.setRange(1, 10000)
        self.n_spin.setValue(int(settings.value("gallery/n", 16)))
        self.n_spin.setToolTip("Number of image–mask pairs to generate")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2 ** 31 - 1)
        self.seed_spin.setValue(int(settings.value("gallery/seed", 0)))
        self.seed_spin.setToolTip("Random seed of the noise: the same seed gives the same samples")
        self.generate_button = QToolButton()
        self.generate_button.setDefaultAction(self.generate_action)
        self.generate_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.gallery_combo = QComboBox()
        self.gallery_combo.setToolTip("Galleries generated for this run (newest first)")
        self.gallery_combo.setMinimumWidth(220)
        self.gallery_combo.activated.connect(self._gallery_chosen)
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setToolTip("Show the gallery folder (with its index.html) in the file manager")
        self.open_folder_button.clicked.connect(self._open_folder)
        row1 = QHBoxLayout()
        for w in (QLabel("Checkpoint:"), self.checkpoint_combo, QLabel("Samples:"), self.n_spin, QLabel("Seed:"),
                  self.seed_spin, self.generate_button, self._tool_button(self.animate_action)):
            row1.addWidget(w)
        row1.addSpacing(20)
        row1.addWidget(QLabel("Gallery:"))
        row1.addWidget(self.gallery_combo, 1)
        row1.addWidget(self.open_folder_button)

        # row 2: scores, sorting, selection, export
        self.score_button = QToolButton()
        self.score_button.setDefaultAction(self.score_action)
        self.sort_combo = QComboBox()
        self.sort_combo.setToolTip("Order of the thumbnails")
        self.sort_combo.currentIndexChanged.connect(self._apply_sort)
        self.select_all_button = QPushButton("Select all")
        self.select_all_button.clicked.connect(lambda: self.list.selectAll())
        self.select_none_button = QPushButton("Select none")
        self.select_none_button.clicked.connect(lambda: self.list.clearSelection())
        self.export_button = QToolButton()
        self.export_button.setDefaultAction(self.export_action)
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.selection_label = QLabel()
        self.scores_label = QLabel()
        self.scores_label.setWordWrap(True)
        row2 = QHBoxLayout()
        row2.addWidget(self.score_button)
        row2.addWidget(QLabel("Sort by:"))
        row2.addWidget(self.sort_combo)
        row2.addSpacing(20)
        row2.addWidget(self.select_all_button)
        row2.addWidget(self.select_none_button)
        row2.addWidget(self.selection_label)
        row2.addStretch(1)
        row2.addWidget(self._tool_button(self.edit_layout_action))
        row2.addWidget(self._tool_button(self.render_masks_action))
        row2.addWidget(self.export_button)

        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.status_label = QLabel()
        self.status_label.setOpenExternalLinks(True)
        self.error_label = error_label()

        # thumbnails | large view
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setIconSize(QSize(jobs.THUMB_WIDTH, jobs.THUMB_WIDTH))
        self.list.setSpacing(6)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(True)
        self.list.setToolTip("Click for a large view; Ctrl/Shift-click or Ctrl+A to select pairs for export")
        self.list.currentItemChanged.connect(self._show_current)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.view = ImageView("Generate samples, then click a thumbnail to see it large.")
        self.mode_combo = QComboBox()
        for text, key in _VIEW_MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.currentIndexChanged.connect(lambda _: self._show_current(self.list.currentItem()))
        self.opacity = OpacitySlider(float(settings.value("gallery/opacity", 0.5)))
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.view.set_opacity(self.opacity.value())
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.view, 1)
        vr = QHBoxLayout()
        vr.addWidget(self.mode_combo)
        vr.addWidget(self.opacity, 1)
        rl.addLayout(vr)
        rl.addWidget(self.info_label)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.list)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.scores_label)
        sr = QHBoxLayout()
        sr.addWidget(self.progress, 1)
        sr.addWidget(self.status_label, 2)
        layout.addLayout(sr)
        layout.addWidget(self.error_label)
        layout.addWidget(self.splitter, 1)
        self._fill_sort()
        self.update_actions()

    # -- run -----------------------------------------------------------------------------------------------
    def set_run(self, run_dir: str | None, data_path: str | None = None, mask_path: str | None = None,
                checkpoints: list[int] | None = None, galleries: list[str] | None = None) -> None:
        """Show a run: its checkpoints and, when it has galleries, the newest one."""
        changed = run_dir != self.run_dir
        self.run_dir = run_dir
        self.data_path, self.mask_path = data_path, mask_path
        self.set_checkpoints(checkpoints or [])
        if changed:
            self._clear_gallery()
        galleries = galleries if galleries is not None else (jobs.list_galleries(run_dir) if run_dir else [])
        self._fill_galleries(galleries)
        if changed and galleries:
            self.load_gallery(galleries[0])
        self.update_actions()

    def set_checkpoints(self, steps: list[int]) -> None:
        self.checkpoints = sorted(steps)
        current = self.checkpoint_combo.currentData()
        self.checkpoint_combo.clear()
        if self.checkpoints:
            self.checkpoint_combo.addItem(f"latest ({self.checkpoints[-1]:,})", "latest")
            for s in reversed(self.checkpoints):
                self.checkpoint_combo.addItem(f"iteration {s:,}", s)
            i = self.checkpoint_combo.findData(current)
            self.checkpoint_combo.setCurrentIndex(max(0, i))
        else:
            self.checkpoint_combo.addItem("no checkpoint yet", None)
        self.update_actions()

    def set_metrics_available(self, available: bool, reason: str) -> None:
        self.metrics_available = available
        self.metrics_checked = True
        self.metrics_reason = reason
        self._show_scores_state()
        self.update_actions()

    def update_actions(self) -> None:
        busy = self.generating or self.exporting
        self.generate_action.setEnabled(bool(self.run_dir and self.checkpoints) and not self.generating)
        self.animate_action.setEnabled(bool(self.run_dir and self.checkpoints) and not self.animating)
        can_score = (self.metrics_available and self.manifest is not None and not self.scoring
                     and not self.generating and bool(self.data_path))
        self.score_action.setEnabled(can_score)
        if not self.metrics_available:
            self.score_action.setToolTip(f"Scores unavailable: {self.metrics_reason}")
        elif not self.data_path:
            self.score_action.setToolTip("Scores need the run's training data, which is not known")
        else:
            self.score_action.setToolTip("Per-image SIFID against the training data (runs in the background)"
                                         + (f"; {self.metrics_reason}" if self.metrics_reason else ""))
        n_sel = len(self.list.selectedItems())
        self.export_action.setEnabled(n_sel > 0 and not busy)
        self.open_folder_button.setEnabled(self.gallery_dir is not None)
        self.select_all_button.setEnabled(self.list.count() > 0)
        self.select_none_button.setEnabled(n_sel > 0)
        current = self._item_info(self.list.currentItem().data(INDEX_ROLE)) if self.list.currentItem() else None
        self.edit_layout_action.setEnabled(self.layouts_editable and bool(current and current.get("mask")))
        self.render_masks_action.setEnabled(
            self.manifest is not None and self.manifest.get("kind") != "render" and not self.rendering
            and any(it.get("mask") for it in self.manifest.get("items", [])))

    # -- generate ------------------------------------------------------------------------------------------
    def generate(self) -> None:
        if not self.run_dir or not self.checkpoints or self.generating:
            return
        checkpoint = self.checkpoint_combo.currentData() or "latest"
        n, seed = self.n_spin.value(), self.seed_spin.value()
        self.qsettings.setValue("gallery/n", n)
        self.qsettings.setValue("gallery/seed", seed)
        config = self.window_.settings_config()
        device = config.run.device if config is not None else "auto"
        step = self.checkpoints[-1] if checkpoint == "latest" else int(checkpoint)
        self._expected_dir = Path(self.run_dir) / jobs.GALLERIES / f"step_{step:07d}-seed{seed}-n{n}" / "images"
        self._expected_n = n
        self.generating = True
        self.last_error = None
        set_error(self.error_label, None)
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self.progress.show()
        self.status_label.setText(f"Generating {n} samples from {'the latest checkpoint' if checkpoint == 'latest' else f'iteration {step:,}'} "
                                  f"(seed {seed})…")
        self._poll.start()
        self.update_actions()
        tasks.start(jobs.generate, self.run_dir, n, seed, checkpoint, device, returned=self._on_generated,
                    errored=self._on_generate_error, finished=self._on_generate_finished)

    @staticmethod
    def _tool_button(action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        return button

    def animate(self) -> None:
        if not self.run_dir or not self.checkpoints or self.animating:
            return
        checkpoint = self.checkpoint_combo.currentData() or "latest"
        config = self.window_.settings_config()
        device = config.run.device if config is not None else "auto"
        self.animating = True
        set_error(self.error_label, None)
        self.status_label.setText(f"Writing a latent walk (seed {self.seed_spin.value()})…")
        self.update_actions()
        tasks.start(jobs.animate, self.run_dir, self.seed_spin.value(), checkpoint, device,
                    returned=self._on_animated, errored=self._on_animate_error, finished=self._on_animate_finished)

    def _on_animated(self, path: str) -> None:
        self.last_walk = path
        url = QUrl.fromLocalFile(path).toString()
        self.status_label.setText(f'Latent walk written: <a href="{url}">{html.escape(path)}</a>')

    def _on_animate_error(self, exc) -> None:
        self._report_error("Latent walk failed", exc)

    def _on_animate_finished(self) -> None:
        self.animating = False
        self.update_actions()

    def _generation_progress(self) -> None:
        if self._expected_dir is not None:
            self.progress.setValue(min(self._expected_n, jobs.count_files(self._expected_dir)))

    def _on_generated(self, out_dir: str) -> None:
        self.status_label.setText(f"Generated {self._expected_n} samples in {out_dir}")
        self._fill_galleries(jobs.list_galleries(self.run_dir) if self.run_dir else [])
        self.load_gallery(out_dir)
        self.generated.emit(out_dir)

    def _on_generate_error(self, exc) -> None:
        self._report_error("Generation failed", exc)

    def _on_generate_finished(self) -> None:
        self.generating = False
        self._poll.stop()
        if not self.loading:
            self.progress.hide()
        self.update_actions()

    # -- browse --------------------------------------------------------------------------------------------
    def _fill_galleries(self, galleries: list[str]) -> None:
        self.gallery_combo.blockSignals(True)
        self.gallery_combo.clear()
        for g in galleries:
            self.gallery_combo.addItem(Path(g).name, g)
        if not galleries:
            self.gallery_combo.addItem("none yet", None)
        i = self.gallery_combo.findData(self.gallery_dir)
        self.gallery_combo.setCurrentIndex(max(0, i))
        self.gallery_combo.blockSignals(False)

    def _gallery_chosen(self, index: int) -> None:
        path = self.gallery_combo.itemData(index)
        if path and path != self.gallery_dir:
            self.load_gallery(path)

    def load_gallery(self, gallery_dir: str) -> None:
        self._clear_gallery()
        self.gallery_dir = str(gallery_dir)
        i = self.gallery_combo.findData(self.gallery_dir)
        if i >= 0:
            self.gallery_combo.setCurrentIndex(i)
        self._load_tag += 1
        self.loading = True
        self.progress.setRange(0, 0)
        self.progress.show()
        tasks.start(jobs.load_gallery, self.gallery_dir, self._load_tag, yielded=self._on_gallery_part,
                    errored=self._on_load_error, finished=self._on_load_finished)
        self.update_actions()

    def _clear_gallery(self) -> None:
        self.list.clear()
        self.items = {}
        self.manifest = None
        self.metrics = None
        self.gallery_dir = None
        self.view.set_image(None)
        self.info_label.setText("")
        self._fill_sort()
        self._show_scores_state()

    def _on_gallery_part(self, part) -> None:
        tag, kind = part[0], part[1]
        if tag != self._load_tag:
            return
        if kind == "manifest":
            self.manifest, self.metrics = part[2], part[3]
            items = self.manifest.get("items", [])
            self.progress.setRange(0, len(items))
            self.progress.setValue(0)
            placeholder = QPixmap(jobs.THUMB_WIDTH, jobs.THUMB_WIDTH)
            placeholder.fill(Qt.GlobalColor.lightGray)
            for it in items:
                item = QListWidgetItem(QIcon(placeholder), f"#{it['index']}")
                item.setData(INDEX_ROLE, int(it["index"]))
                item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
                self.list.addItem(item)
                self.items[int(it["index"])] = item
            self._apply_metrics()
            m = self.manifest
            self.status_label.setText(f"{len(items)} samples from iteration {m.get('checkpoint_step', '?'):,} "
                                      f"(seed {m.get('seed')}, {m.get('resolution', ['?', '?'])[1]}×"
                                      f"{m.get('resolution', ['?', '?'])[0]}) — {self.gallery_dir}")
            if self.list.count():
                self.list.setCurrentRow(0)
        elif kind == "thumbs":
            height = 0
            for index, image in part[2]:
                item = self.items.get(index)
                if item is not None:
                    pm = QPixmap.fromImage(image)
                    icon = QIcon(pm)
                    icon.addPixmap(pm, QIcon.Mode.Selected)     # no selection tint over the masks
                    item.setIcon(icon)
                    height = max(height, image.height())
            self.progress.setValue(self.progress.value() + len(part[2]))
            if height and height != self.list.iconSize().height():
                self.list.setIconSize(QSize(jobs.THUMB_WIDTH, height))
        self.update_actions()

    def _on_load_error(self, exc) -> None:
        self._report_error("The gallery cannot be shown", exc)

    def _on_load_finished(self) -> None:
        self.loading = False
        if not self.generating:
            self.progress.hide()
        self.update_actions()
        if self.gallery_dir and self.manifest is not None:
            self.loaded.emit(self.gallery_dir)

    def _item_info(self, index: int) -> dict | None:
        if not self.manifest:
            return None
        for it in self.manifest.get("items", []):
            if int(it["index"]) == index:
                return it
        return None

    def _show_current(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None or self.gallery_dir is None:
            self.view.set_image(None)
            self.info_label.setText("")
            return
        index = item.data(INDEX_ROLE)
        info = self._item_info(index)
        if info is None:
            return
        try:
            image, overlay, colour = jobs.load_pair(self.gallery_dir, info)
        except OSError as exc:
            self.info_label.setText(f"#{index}: cannot be read ({exc}).")
            return
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
        row = self._score_row(index)
        if row:
            lines.append("Scores: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "index"))
        self.info_label.setText("<br>".join(lines))
        self.update_actions()

    # -- layouts: the Paint page and the two-stage pipeline -------------------------------------------------
    def set_layout_editing(self, available: bool) -> None:
        self.layouts_editable = available
        self.update_actions()

    def _edit_layout(self) -> None:
        item = self.list.currentItem()
        info = self._item_info(item.data(INDEX_ROLE)) if item is not None else None
        if info and info.get("mask") and self.gallery_dir:
            self.edit_layout.emit(str(Path(self.gallery_dir) / info["mask"]))

    def choose_renderer_run(self) -> None:
        start = str(self.qsettings.value("dirs/run", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Render these masks with the renderer run…", start)
        if path:
            self.render_masks_with(path)

    def render_masks_with(self, renderer_run: str) -> None:
        """Render every mask of the shown gallery with a renderer run into a new gallery beside it."""
        if not self.gallery_dir or self.rendering:
            return
        config = self.window_.settings_config()
        device = config.run.device if config is not None else "auto"
        self.rendering = True
        set_error(self.error_label, None)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status_label.setText(f"Rendering the masks of {Path(self.gallery_dir).name} with {renderer_run}…")
        self.update_actions()
        tasks.start(paint_jobs.render_gallery_masks, renderer_run, self.gallery_dir, device,
                    returned=self.refresh_galleries, errored=lambda exc: self._report_error("Rendering failed", exc),
                    finished=self._on_render_finished)

    def _on_render_finished(self) -> None:
        self.rendering = False
        if not self.loading:
            self.progress.hide()
        self.update_actions()

    def refresh_galleries(self, show: str | None = None) -> None:
        """Re-list the run's galleries (one was written) and show `show` when given."""
        self._fill_galleries(jobs.list_galleries(self.run_dir) if self.run_dir else [])
        if show:
            self.load_gallery(show)

    def _opacity_changed(self, v: float) -> None:
        self.view.set_opacity(v)
        self.qsettings.setValue("gallery/opacity", v)

    def _selection_changed(self) -> None:
        n = len(self.list.selectedItems())
        self.selection_label.setText(f"{n} selected" if n else "")
        self.update_actions()

    def selected_indices(self) -> list[int]:
        return sorted(int(i.data(INDEX_ROLE)) for i in self.list.selectedItems())

    def select_indices(self, indices) -> None:
        wanted = set(indices)
        self.list.clearSelection()
        for index, item in self.items.items():
            if index in wanted:
                item.setSelected(True)

    def visible_order(self) -> list[int]:
        return [int(self.list.item(r).data(INDEX_ROLE)) for r in range(self.list.count())]

    def _open_folder(self) -> None:
        if self.gallery_dir:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.gallery_dir))

    # -- scores --------------------------------------------------------------------------------------------
    def _score_row(self, index: int) -> dict | None:
        if not self.metrics:
            return None
        for r in self.metrics.get("per_image", []):
            if int(r.get("index", -1)) == index:
                return r
        return None

    def compute_scores(self) -> None:
        if not (self.metrics_available and self.gallery_dir and self.data_path) or self.scoring:
            return
        config = self.window_.settings_config()
        device = config.run.device if config is not None else "auto"
        self.scoring = True
        self._score_stage = None
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status_label.setText("Computing per-image SIFID…")
        self.update_actions()
        tasks.start(jobs.compute_scores, self.gallery_dir, self.data_path, self.mask_path, device,
                    self.relay.report, config, returned=self._on_scored, errored=self._on_score_error,
                    finished=self._on_score_finished)

    def _score_progress(self, stage: str, done: int, total: int) -> None:
        if self.scoring and total > 0:
            if stage != self._score_stage:
                self._score_stage, self._score_stage_start = stage, time.monotonic()
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            elapsed = time.monotonic() - self._score_stage_start
            eta = f", about {elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
            self.status_label.setText(f"Computing scores: {stage} {done}/{total}{eta}…")

    def _on_scored(self, metrics: dict) -> None:
        self.metrics = metrics
        self._apply_metrics()
        self.status_label.setText("Scores computed; metrics.json and index.html updated.")
        if self.gallery_dir:
            self.scored.emit(self.gallery_dir)

    def _on_score_error(self, exc) -> None:
        self._report_error("Scores could not be computed", exc)

    def _on_score_finished(self) -> None:
        self.scoring = False
        if not (self.generating or self.loading):
            self.progress.hide()
        self.update_actions()

    def _apply_metrics(self) -> None:
        keys = scoring.score_keys(self.metrics)
        for index, item in self.items.items():
            row = self._score_row(index) or {}
            parts = [f"#{index}"] + [f"{k} {row[k]:.3g}" for k in keys if isinstance(row.get(k), (int, float))]
            item.setText("\n".join(parts))
            item.setToolTip("\n".join(parts))
        self._fill_sort()
        self._show_scores_state()
        self._show_current(self.list.currentItem())

    def _show_scores_state(self) -> None:
        keys = scoring.score_keys(self.metrics)
        if keys and self.metrics:
            s = self.metrics.get("summary") or {}
            summary = ", ".join(f"{k} {v:.4g}" for k, v in s.items() if isinstance(v, (int, float)))
            self.scores_label.setText(f"Scores: {', '.join(keys)} per image" + (f" · {summary}" if summary else ""))
        elif self.manifest is None:
            self.scores_label.setText("")
        elif scoring.not_computed_text(self.metrics):
            self.scores_label.setText(f"Scores: not computed — {scoring.not_computed_text(self.metrics)}.")
        elif self.metrics_available:
            note = f" — SIFID {self.metrics_reason}" if self.metrics_reason else ""
            self.scores_label.setText(f"Scores: not computed yet (Compute scores){note}.")
        else:
            self.scores_label.setText(f"Scores: unavailable — {self.metrics_reason}.")

    def _fill_sort(self) -> None:
        current = self.sort_combo.currentData()
        self.sort_combo.blockSignals(True)
        self.sort_combo.clear()
        self.sort_combo.addItem("index", "index:asc")
        for k in scoring.score_keys(self.metrics):
            self.sort_combo.addItem(f"{k} (low → high)", f"{k}:asc")
            self.sort_combo.addItem(f"{k} (high → low)", f"{k}:desc")
        i = self.sort_combo.findData(current) if current is not None else -1
        self.sort_combo.setCurrentIndex(max(0, i))
        self.sort_combo.blockSignals(False)
        self.sort_combo.setEnabled(self.sort_combo.count() > 1)
        self._apply_sort()

    def sort_by(self, key: str, descending: bool = False) -> None:
        i = self.sort_combo.findData(f"{key}:{'desc' if descending else 'asc'}")
        if i >= 0:
            self.sort_combo.setCurrentIndex(i)

    def _apply_sort(self, *_):
        data = self.sort_combo.currentData()
        if not data or not self.items:
            return
        key, _, direction = data.rpartition(":")
        descending = direction == "desc"

        def sort_key(index: int):
            if key == "index":
                return (0, index)
            v = (self._score_row(index) or {}).get(key)
            if not isinstance(v, (int, float)) or math.isnan(v):
                return (1, index)          # unscored last
            return (0, -v if descending else v)

        current = self.list.currentItem()
        selected = set(self.selected_indices())
        order = sorted(self.items, key=sort_key)
        if order == self.visible_order():
            return
        self.list.blockSignals(True)
        while self.list.count():
            self.list.takeItem(0)
        for index in order:
            self.list.addItem(self.items[index])
        if current is not None:
            self.list.setCurrentItem(current, QItemSelectionModel.SelectionFlag.NoUpdate)
        for index in order:
            self.items[index].setSelected(index in selected)
        self.list.blockSignals(False)

    # -- export --------------------------------------------------------------------------------------------
    def choose_export(self) -> None:
        if not self.selected_indices():
            return
        start = str(self.qsettings.value("dirs/export", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Export the selected pairs into…", start)
        if not path:
            return
        self.qsettings.setValue("dirs/export", path)
        if (Path(path) / "manifest.json").exists() and not self.window_.confirm(
                "Replace the export?", f"{path} already holds an export (manifest.json). Overwrite its files?"):
            return
        self.export_to(path)

    def export_to(self, dest: str) -> None:
        indices = self.selected_indices()
        if not indices or not self.gallery_dir or self.exporting:
            return
        self.exporting = True
        self.status_label.setText(f"Exporting {len(indices)} pairs to {dest}…")
        self.update_actions()
        tasks.start(jobs.export_selection, self.gallery_dir, indices, dest, returned=self._on_exported,
                    errored=self._on_export_error, finished=self._on_export_finished)

    def _on_exported(self, result: dict) -> None:
        self.status_label.setText(f"Exported {result['count']} pairs ({result['files']} files) to {result['dest']}")
        self.exported.emit(result["dest"], result["count"])

    def _on_export_error(self, exc) -> None:
        self._report_error("Export failed", exc)

    def _on_export_finished(self) -> None:
        self.exporting = False
        self.update_actions()

    # -- errors --------------------------------------------------------------------------------------------
    def _report_error(self, title: str, exc) -> None:
        message, details = tasks.describe_error(exc)
        self.last_error = message
        text = f"{title}: {message}"
        set_error(self.error_label, text)
        self.status_label.setText("")
        if details:
            self.window_.log(details)
        self.failed.emit(message)
