"""Gallery: generate N image–mask pairs from a checkpoint, browse them, score them (SIFID), sort, select and
export the selection with a manifest (and metrics)."""

from __future__ import annotations

import html
import math
import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from osmis_core.config import MAX_SAMPLES, MAX_SEED
from osmis_core.errors import OsmisError

from . import jobs, paint_jobs, scoring
from .gallery_widgets import GenerateBar, PairView, SelectionBar, ThumbnailList
from .remembered import remembered_float, remembered_int
from .tasks import Jobs
from .widgets import commit_typed_number, error_label, set_error


class GalleryPage(QWidget):
    generated = Signal(str)  # gallery folder
    loaded = Signal(str)  # gallery folder, all thumbnails shown
    scored = Signal(str)  # gallery folder
    exported = Signal(str, int)  # destination, number of pairs
    failed = Signal(str)  # message
    edit_layout = Signal(str)  # mask file of the current pair, to be edited on the Paint page
    writing_ended = Signal()  # a gallery, latent walk or scores being written has ended (written, failed or stopped)

    def __init__(self, app_state, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.app_state = app_state
        self.qsettings = settings
        self.jobs = Jobs(app_state, self)
        self.run_dir: str | None = None
        self.data_path: str | None = None
        self.mask_path: str | None = None
        self.checkpoints: list[int] = []
        self.gallery_dir: str | None = None
        self.manifest: dict | None = None
        self.metrics: dict | None = None
        self._score_stage: str | None = None  # the scoring stage shown, and when it started (for the ETA)
        self._score_stage_start = 0.0
        self.generating = self.scoring = self.exporting = self.loading = self.animating = False
        self.rendering = False
        self.closing = False  # the window waits for the jobs stopped by stop_writing: no new job starts
        self._stoppable: dict[str, object] = {}  # "generate" / "render" / "score" / "animate": its job (stops on quit)
        self._walk_seed = 0  # the seed of the latent walk being written
        self.renders = False  # the run is a renderer run: its gallery holds renders of its training layouts
        self.layouts_editable = False  # a renderer is open on the Paint page
        self.last_walk: str | None = None
        self.last_error: str | None = None
        self._expected_n = 0
        self._generating_for: tuple[str | None, bool] = (None, False)  # the run and its kind a gallery is made for

        self._build_bars(settings)
        self._build_views(settings)
        self._fill_sort()
        self.update_actions()
        app_state.run_changed.connect(self._run_changed)
        app_state.checkpoints_changed.connect(self.set_checkpoints)
        app_state.metrics_changed.connect(self._show_metrics_state)

    def _build_bars(self, settings) -> None:
        """The generate and selection bars (their actions also in the Gallery menu), scores line, progress,
        status and error lines."""
        self.bar = GenerateBar(
            remembered_int(settings, "gallery/n", 16, 1, MAX_SAMPLES),
            remembered_int(settings, "gallery/seed", 0, 0, MAX_SEED),
        )
        b = self.bar
        self.generate_action, self.animate_action, self.generate_button = (
            b.generate_action,
            b.animate_action,
            b.generate_button,
        )
        self.checkpoint_combo, self.n_spin, self.seed_spin = b.checkpoint_combo, b.n_spin, b.seed_spin
        self.gallery_combo, self.open_folder_button = b.gallery_combo, b.open_folder_button
        self.generate_action.triggered.connect(self.generate)
        self.animate_action.triggered.connect(self.animate)
        self.gallery_combo.activated.connect(self._gallery_chosen)
        self.open_folder_button.clicked.connect(self._open_folder)
        self.selection = SelectionBar()
        sb = self.selection
        self.score_action, self.export_action, self.sort_combo = sb.score_action, sb.export_action, sb.sort_combo
        self.select_all_button, self.select_none_button = sb.select_all_button, sb.select_none_button
        self.selection_label = sb.selection_label
        self.score_action.triggered.connect(self.compute_scores)
        self.export_action.triggered.connect(self.choose_export)
        self.edit_layout_action, self.render_masks_action = sb.edit_layout_action, sb.render_masks_action
        self.edit_layout_action.triggered.connect(self._edit_layout)
        self.render_masks_action.triggered.connect(self.choose_renderer_run)
        self.sort_combo.currentIndexChanged.connect(self._apply_sort)
        self.select_all_button.clicked.connect(lambda: self.list.selectAll())
        self.select_none_button.clicked.connect(lambda: self.list.clearSelection())
        self.scores_label = QLabel()
        self.scores_label.setWordWrap(True)

        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.status_label = QLabel()
        self.status_label.setOpenExternalLinks(True)
        self.error_label = error_label()

    def _build_views(self, settings) -> None:
        """Thumbnails beside the large view of the current pair, under the bars."""
        self.list = ThumbnailList(jobs.THUMB_WIDTH)
        self.list.currentItemChanged.connect(self._show_current)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.pair_view = PairView(remembered_float(settings, "gallery/opacity", 0.5, 0.0, 1.0))
        self.pair_view.opacity_changed.connect(lambda v: self.qsettings.setValue("gallery/opacity", v))
        self.pair_view.mode_changed.connect(lambda: self._show_current(self.list.currentItem()))
        self.view, self.mode_combo, self.info_label = (
            self.pair_view.view,
            self.pair_view.mode_combo,
            self.pair_view.info_label,
        )
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.list)
        self.splitter.addWidget(self.pair_view)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(self.bar)
        layout.addWidget(self.selection)
        layout.addWidget(self.scores_label)
        sr = QHBoxLayout()
        sr.addWidget(self.progress, 1)
        sr.addWidget(self.status_label, 2)
        layout.addLayout(sr)
        layout.addWidget(self.error_label)
        layout.addWidget(self.splitter, 1)

    @property
    def items(self) -> dict:
        """Thumbnail items by sample index."""
        return self.list.items

    @property
    def metrics_checked(self) -> bool:
        return self.app_state.metrics_checked

    @property
    def metrics_available(self) -> bool:
        return self.app_state.metrics_available

    @property
    def metrics_reason(self) -> str:
        return self.app_state.metrics_reason

    def _run_changed(self, run) -> None:
        self.set_render_mode(run is not None and jobs.run_model(run.info) == "renderer")
        if run is None:
            self.set_run(None)
        elif run.run_dir != self.run_dir or run.galleries:
            self.set_run(run.run_dir, run.data_path, run.mask_path, run.checkpoints, run.galleries)

    # -- run -----------------------------------------------------------------------------------------------
    def set_render_mode(self, renders: bool) -> None:
        """A renderer run's page renders its training layouts (the engine's run_gallery_events) where an OSMIS
        run's generates samples."""
        self.renders = renders
        self.bar.set_render_mode(renders)
        self.update_actions()

    def set_run(
        self,
        run_dir: str | None,
        data_path: str | None = None,
        mask_path: str | None = None,
        checkpoints: list[int] | None = None,
        galleries: list[str] | None = None,
    ) -> None:
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
        self.bar.set_checkpoints(self.checkpoints, jobs.best_step(self.run_dir) if self.run_dir else None)
        self.update_actions()

    def _show_metrics_state(self) -> None:
        self._show_scores_state()
        self.update_actions()

    def update_actions(self) -> None:
        busy = self.generating or self.exporting
        self.generate_action.setEnabled(bool(self.run_dir and self.checkpoints) and not self.generating)
        self.animate_action.setEnabled(
            bool(self.run_dir and self.checkpoints) and not self.animating and not self.renders
        )
        can_score = (
            self.metrics_available
            and self.manifest is not None
            and not self.scoring
            and not self.generating
            and bool(self.data_path)
        )
        self.score_action.setEnabled(can_score)
        if not self.metrics_available:
            self.score_action.setToolTip(f"Scores unavailable: {self.metrics_reason}")
        elif not self.data_path:
            self.score_action.setToolTip("Scores need the run's training data, which is not known")
        else:
            self.score_action.setToolTip(
                "Per-image SIFID against the training data (runs in the background)"
                + (f"; {self.metrics_reason}" if self.metrics_reason else "")
            )
        n_sel = len(self.list.selectedItems())
        self.export_action.setEnabled(n_sel > 0 and not busy)
        self.open_folder_button.setEnabled(self.gallery_dir is not None)
        self.select_all_button.setEnabled(self.list.count() > 0)
        self.select_none_button.setEnabled(n_sel > 0)
        current = self.list.currentItem()
        info = self._item_info(self.list.index_of(current)) if current is not None else None
        self.edit_layout_action.setEnabled(self.layouts_editable and bool(info and info.get("mask")))
        self.render_masks_action.setEnabled(
            self.manifest is not None
            and self.manifest.get("kind") != "render"
            and not self.rendering
            and any(it.get("mask") for it in self.manifest.get("items", []))
        )
        if self.closing:  # a job started now would be waited for too, or run on behind the closed window
            for action in (
                self.generate_action,
                self.animate_action,
                self.score_action,
                self.export_action,
                self.render_masks_action,
            ):
                action.setEnabled(False)

    # -- generate ------------------------------------------------------------------------------------------
    def generate(self) -> None:
        if not self.run_dir or not self.checkpoints or self.generating:
            return
        commit_typed_number()
        checkpoint = self.checkpoint_combo.currentData() or "latest"
        n, seed = self.n_spin.value(), self.seed_spin.value()
        self.qsettings.setValue("gallery/n", n)
        self._remember_seed(seed)
        self._expected_n = n
        self._generating_for = (self.run_dir, self.renders)
        self.generating = True
        self.last_error = None
        set_error(self.error_label, None)
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self.progress.show()
        source = f"the {checkpoint} checkpoint" if isinstance(checkpoint, str) else f"iteration {checkpoint:,}"
        if self.renders:
            self.status_label.setText(f"Rendering {n} photos of each training layout from {source} (seed {seed})…")
        else:
            self.status_label.setText(f"Generating {n} samples from {source} (seed {seed})…")
        self.update_actions()
        self._stoppable["generate"] = self.jobs.start(
            jobs.generate,
            self.run_dir,
            n,
            seed,
            checkpoint,
            self.app_state.device(),
            yielded=self._progress,
            returned=self._on_generated,
            failed=self._failed("Rendering failed" if self.renders else "Generation failed"),
            finished=self._on_generate_finished,
        )

    def animate(self) -> None:
        if not self.run_dir or not self.checkpoints or self.animating:
            return
        checkpoint = self.checkpoint_combo.currentData() or "latest"
        self.animating = True
        set_error(self.error_label, None)
        self._walk_seed = self.seed_spin.value()
        self._remember_seed(self._walk_seed)
        self.status_label.setText(f"Writing a latent walk (seed {self._walk_seed})…")
        self.update_actions()
        self._stoppable["animate"] = self.jobs.start(
            jobs.animate,
            self.run_dir,
            self._walk_seed,
            checkpoint,
            self.app_state.device(),
            yielded=self._walk_progress,
            returned=self._on_animated,
            failed=self._failed("Latent walk failed"),
            finished=self._on_animate_finished,
        )

    def _remember_seed(self, seed: int) -> None:
        """The seed box's seed, offered again at the next start (read back by remembered_int): Generate and Latent
        walk share the box, so the seed either last used is remembered (the walk's had been forgotten). Written
        as text: QSettings takes no int past 2**63 - 1."""
        self.qsettings.setValue("gallery/seed", str(seed))

    def _walk_progress(self, p: jobs.Progress) -> None:
        """The frames of the walk written so far, on the status line (the progress bar is the gallery's)."""
        if not self.closing:
            self.status_label.setText(f"Writing a latent walk (seed {self._walk_seed}): {p.done}/{p.total} frames…")

    def _on_animated(self, path: str) -> None:
        self.last_walk = path
        url = QUrl.fromLocalFile(path).toString()
        self.status_label.setText(f'Latent walk written: <a href="{url}">{html.escape(path)}</a>')

    def _on_animate_finished(self) -> None:
        self.animating = False
        self._stoppable.pop("animate", None)
        self.update_actions()
        self.writing_ended.emit()

    def _progress(self, p: jobs.Progress) -> None:
        """A job's progress report: generation ('generating'), or a scoring stage (with the time left)."""
        if p.total <= 0:
            return
        if p.stage == "generating":
            self._expected_n = p.total  # a renderer run's photos: n for each of its training layouts
        if p.stage != self._score_stage:
            self._score_stage, self._score_stage_start = p.stage, time.monotonic()
        self.progress.setRange(0, p.total)
        self.progress.setValue(p.done)
        if self.scoring:
            elapsed = time.monotonic() - self._score_stage_start
            eta = f", about {elapsed / p.done * (p.total - p.done):.0f} s left" if 0 < p.done < p.total else ""
            self.status_label.setText(f"Computing scores: {p.stage} {p.done}/{p.total}{eta}…")

    def _on_generated(self, out_dir: str) -> None:
        """Show the new gallery, unless another run was opened meanwhile: it is said where it was written (it had
        been shown as the gallery of the run opened since, and called rendered when that run was a renderer's)."""
        run_dir, renders = self._generating_for
        what = "Rendered" if renders else "Generated"
        kind = "photos" if renders else "samples"
        if run_dir != self.run_dir:
            self.status_label.setText(f"{what} {self._expected_n} {kind} in {out_dir} (run {run_dir}).")
            self.generated.emit(out_dir)
            return
        self.status_label.setText(f"{what} {self._expected_n} {kind} in {out_dir}")
        self._fill_galleries(jobs.list_galleries(self.run_dir) if self.run_dir else [])
        self.load_gallery(out_dir)
        self.generated.emit(out_dir)

    def _on_generate_finished(self) -> None:
        self.generating = False
        self._stoppable.pop("generate", None)
        if not self.loading:
            self.progress.hide()
        self.update_actions()
        self.writing_ended.emit()

    def writing(self) -> bool:
        """A gallery (generate, render the masks) or a latent walk is being written, or a gallery's scores."""
        return self.generating or self.rendering or self.animating or self.scoring

    def stop_writing(self) -> str:
        """Ask the galleries being written to stop after their current batch or photo (their staging folders are
        removed: nothing half-written is left), the scores at their next step (metrics.json stays as it was) and a
        latent walk at its next batch of frames (no file written). No new job can be started meanwhile (the
        window closes once these have ended). Returns the line that says what is waited for (writing_ended follows
        each end)."""
        self.closing = True
        self.update_actions()
        for job in self._stoppable.values():
            job.quit()
        if self.generating or self.rendering:
            self.status_label.setText("Stopping: the gallery being written is not kept.")
            return "Stopping the gallery being written (nothing of it is kept) before closing…"
        if self.scoring:
            self.status_label.setText("Stopping: the scores being computed are not kept.")
            return "Stopping the scores being computed (metrics.json stays as it was) before closing…"
        self.status_label.setText("Stopping: the latent walk being written is not kept.")
        return "Stopping the latent walk being written (nothing of it is kept) before closing…"

    # -- browse --------------------------------------------------------------------------------------------
    def _fill_galleries(self, galleries: list[str]) -> None:
        self.bar.set_galleries(galleries, self.gallery_dir)

    def _gallery_chosen(self, index: int) -> None:
        path = self.gallery_combo.itemData(index)
        if path and path != self.gallery_dir:
            self.load_gallery(path)

    def load_gallery(self, gallery_dir: str) -> None:
        self._clear_gallery()
        set_error(self.error_label, None)  # what failed on the gallery shown before is not about this one
        self.gallery_dir = str(gallery_dir)
        i = self.gallery_combo.findData(self.gallery_dir)
        if i >= 0:
            self.gallery_combo.setCurrentIndex(i)
        self.loading = True
        self.progress.setRange(0, 0)
        self.progress.show()
        self.app_state.set_gallery(self.gallery_dir)
        self.jobs.start(
            jobs.load_gallery,
            self.gallery_dir,
            key="gallery",
            yielded=self._on_gallery_part,
            failed=self._failed("The gallery cannot be shown"),
            finished=self._on_load_finished,
        )
        self.update_actions()

    def _clear_gallery(self) -> None:
        self.list.clear_items()
        self.manifest = None
        self.metrics = None
        self.gallery_dir = None
        self.view.set_image(None)
        self.info_label.setText("")
        self._fill_sort()
        self._show_scores_state()

    def _on_gallery_part(self, part) -> None:
        kind = part[0]
        if kind == "manifest":
            self.manifest, self.metrics = part[1], part[2]
            items = self.manifest.get("items", [])
            self.progress.setRange(0, len(items))
            self.progress.setValue(0)
            self.list.fill([int(it["index"]) for it in items])
            self._apply_metrics()
            m = self.manifest
            self.status_label.setText(
                f"{len(items)} {'photos' if m.get('kind') == 'render' else 'samples'} from iteration "
                f"{m.get('checkpoint_step', '?'):,} "
                f"(seed {m.get('seed')}, {m.get('resolution', ['?', '?'])[1]}×"
                f"{m.get('resolution', ['?', '?'])[0]}) — {self.gallery_dir}"
            )
            if self.list.count():
                self.list.setCurrentRow(0)
        elif kind == "thumbs":
            self.list.set_thumbnails(part[1])
            self.progress.setValue(self.progress.value() + len(part[1]))
        self.update_actions()

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
            self.pair_view.clear()
            return
        index = self.list.index_of(item)
        info = self._item_info(index)
        if info is None:
            return
        try:
            pair = jobs.load_pair(self.gallery_dir, info)
        except OSError as exc:
            self.info_label.setText(f"#{index}: cannot be read ({exc}).")
            return
        self.pair_view.show_pair(index, info, pair, self._score_row(index))
        self.update_actions()

    def _selection_changed(self) -> None:
        n = len(self.list.selectedItems())
        self.selection_label.setText(f"{n} selected" if n else "")
        self.update_actions()

    def selected_indices(self) -> list[int]:
        return self.list.selected_indices()

    def select_indices(self, indices) -> None:
        self.list.select_indices(indices)

    def visible_order(self) -> list[int]:
        return self.list.visible_order()

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
        self.scoring = True
        self._score_stage = None
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status_label.setText("Computing per-image SIFID…")
        self.update_actions()
        self._stoppable["score"] = self.jobs.start(
            jobs.compute_scores,
            self.gallery_dir,
            self.data_path,
            self.mask_path,
            self.app_state.device(),
            self.app_state.config,
            yielded=self._progress,
            returned=self._on_scored,
            failed=self._failed("Scores could not be computed"),
            finished=self._on_score_finished,
        )

    def _on_scored(self, metrics: dict) -> None:
        self.metrics = metrics
        self._apply_metrics()
        self.status_label.setText("Scores computed; metrics.json and index.html updated.")
        if self.gallery_dir:
            self.scored.emit(self.gallery_dir)

    def _on_score_finished(self) -> None:
        self.scoring = False
        self._stoppable.pop("score", None)
        if not (self.generating or self.loading):
            self.progress.hide()
        self.update_actions()
        self.writing_ended.emit()

    def _apply_metrics(self) -> None:
        keys = scoring.score_keys(self.metrics)
        labels = {}
        for index in self.items:
            row = self._score_row(index) or {}
            parts = [f"#{index}"] + [f"{k} {row[k]:.3g}" for k in keys if isinstance(row.get(k), (int, float))]
            labels[index] = "\n".join(parts)
        self.list.set_labels(labels)
        self._fill_sort()
        self._show_scores_state()
        self._show_current(self.list.currentItem())

    def _show_scores_state(self) -> None:
        keys = scoring.score_keys(self.metrics)
        if keys and self.metrics:
            s = self.metrics.get("summary") or {}
            summary = scoring.summary_text(s)
            # what qualifies the scores is shown with them (the engine's warnings: random weights are NOT comparable
            # with published numbers), as the gallery's index.html and the CLI's table show it
            warnings = "".join(f"\nwarning: {w}" for w in self.metrics.get("warnings") or [])
            self.scores_label.setText(
                f"Scores: {', '.join(keys)} per image" + (f" · {summary}" if summary else "") + warnings
            )
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
            label = scoring.key_label(k)
            self.sort_combo.addItem(f"{label} (low → high)", f"{k}:asc")
            self.sort_combo.addItem(f"{label} (high → low)", f"{k}:desc")
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
                return (1, index)  # unscored last
            return (0, -v if descending else v)

        self.list.reorder(sorted(self.items, key=sort_key))

    # -- export --------------------------------------------------------------------------------------------
    def choose_export(self) -> None:
        if not self.selected_indices():
            return
        start = str(self.qsettings.value("dirs/export", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Export the selected pairs into…", start)
        if not path:
            return
        self.qsettings.setValue("dirs/export", path)
        try:
            replaces = jobs.export_replaces(self.gallery_dir, path)
        except OsmisError as exc:  # a folder the engine would refuse: said before the question, not after it
            self._report_error("Export failed", self.app_state.report_error("Export failed", exc))
            return
        if replaces and not self.app_state.confirm(
            "Replace the export?", f"{path} already holds an earlier export. Replace it with the selected pairs?"
        ):
            return
        self.export_to(path)

    def export_to(self, dest: str) -> None:
        indices = self.selected_indices()
        if not indices or not self.gallery_dir or self.exporting:
            return
        self.exporting = True
        self.status_label.setText(f"Exporting {len(indices)} pairs to {dest}…")
        self.update_actions()
        self.jobs.start(
            jobs.export_selection,
            self.gallery_dir,
            indices,
            dest,
            returned=self._on_exported,
            failed=self._failed("Export failed"),
            finished=self._on_export_finished,
        )

    def _on_exported(self, result: dict) -> None:
        self.status_label.setText(f"Exported {result['count']} pairs ({result['files']} files) to {result['dest']}")
        self.exported.emit(result["dest"], result["count"])

    def _on_export_finished(self) -> None:
        self.exporting = False
        self.update_actions()

    # -- layouts: the Paint page and the two-stage pipeline -------------------------------------------------
    def set_layout_editing(self, available: bool) -> None:
        self.layouts_editable = available
        self.update_actions()

    def _edit_layout(self) -> None:
        current = self.list.currentItem()
        info = self._item_info(self.list.index_of(current)) if current is not None else None
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
        self.rendering = True
        set_error(self.error_label, None)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status_label.setText(f"Rendering the masks of {Path(self.gallery_dir).name} with {renderer_run}…")
        self.update_actions()
        self._stoppable["render"] = self.jobs.start(
            paint_jobs.render_gallery_masks,
            renderer_run,
            self.gallery_dir,
            self.app_state.device(),
            yielded=self._render_progress,
            returned=self.refresh_galleries,
            failed=self._failed("Rendering failed"),
            finished=self._on_render_finished,
        )

    def _render_progress(self, p: jobs.Progress) -> None:
        self.progress.setRange(0, p.total)
        self.progress.setValue(p.done)

    def _on_render_finished(self) -> None:
        self.rendering = False
        self._stoppable.pop("render", None)
        if not self.loading:
            self.progress.hide()
        self.update_actions()
        self.writing_ended.emit()

    def refresh_galleries(self, show: str | None = None) -> None:
        """Re-list the run's galleries (one was written) and show `show` when given."""
        self._fill_galleries(jobs.list_galleries(self.run_dir) if self.run_dir else [])
        if show:
            self.load_gallery(show)

    # -- errors --------------------------------------------------------------------------------------------
    def _failed(self, title: str) -> tuple:
        """What Jobs.start calls when a job fails: the state's error sink has logged the details; the page shows
        '<title>: <sentence>'."""
        return title, lambda message: self._report_error(title, message)

    def _report_error(self, title: str, message: str) -> None:
        self.last_error = message
        set_error(self.error_label, f"{title}: {message}")
        self.status_label.setText("")
        self.failed.emit(message)
