"""Data view: the training image (or a frame scrubber for videos) with its mask overlaid in palette colours, the
classes found and what training will use (resolution, architecture, parameter counts from inspect_data).

It follows the app state's data and settings, decodes and inspects in the background, and publishes whether
training can start from the data (`AppState.set_data_problem`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from osmis_core.config import FIELDS, INSPECTED_OPTIONS

from . import jobs
from .data_widgets import DataInfoPanel, FrameViewer
from .remembered import remembered_float
from .tasks import Jobs

IMAGE_FILTER = (
    "Images and videos (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.mp4 *.mov *.avi *.webm *.gif "
    "*.mkv *.m4v);;All files (*)"
)
MASK_FILTER = "Mask images (*.png *.bmp *.tif *.tiff *.webp *.jpg *.jpeg);;All files (*)"
PREVIEW_OPTIONS = ("masks", "max_classes", "background_color", "max_frames")


class DataPage(QWidget):
    """Shows the state's data; `changed` fires when data, preview or inspection results change."""

    changed = Signal()
    preview_ready = Signal(object)  # DataPreview
    inspected = Signal(object)  # the engine's InspectReport, or None after an error

    def __init__(self, app_state, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.app_state = app_state
        self.qsettings = settings
        self.jobs = Jobs(app_state, self)
        self.path: str | None = None
        self.mask_path: str | None = None
        self.preview: jobs.DataPreview | None = None
        self.report = None  # the engine's InspectReport
        self.data_error: str | None = None
        self.inspect_error: str | None = None
        self.config = app_state.config
        self.loading = False
        self.inspecting = False
        self._preview_options: dict = {}
        self._inspect_timer = QTimer(self, singleShot=True, interval=300)  # debounces edits of the settings
        # the warnings of the last inspection and of the one running (see _on_inspect_warning)
        self._warned: set[str] = set()
        self._warning_now: set[str] = set()
        self._inspect_timer.timeout.connect(self._start_inspect)

        self.frames = FrameViewer(remembered_float(settings, "data/opacity", 0.5, 0.0, 1.0))
        self.frames.opacity_changed.connect(lambda v: self.qsettings.setValue("data/opacity", v))
        self.info = DataInfoPanel()
        self.view, self.opacity = self.frames.view, self.frames.opacity
        self.class_table, self.error_label = self.info.class_table, self.info.error_label
        self.resolution_label, self.blocks_label = self.info.resolution_label, self.info.blocks_label
        self.info.open_button.clicked.connect(self.choose_data)
        self.info.mask_button.clicked.connect(self.choose_mask)
        self.info.clear_mask_button.clicked.connect(self.clear_mask)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.frames)
        self.splitter.addWidget(self.info)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(self.splitter)
        self._update_buttons()

        app_state.data_changed.connect(self._data_chosen)
        app_state.options_changed.connect(lambda names: self.set_config(self.app_state.config, names))

    # -- user actions --------------------------------------------------------------------------------------
    def choose_data(self) -> None:
        self._choose(lambda start: QFileDialog.getOpenFileName(self, "Open image or video", start, IMAGE_FILTER)[0])

    def choose_data_folder(self) -> None:
        self._choose(
            lambda start: QFileDialog.getExistingDirectory(self, "Open data folder (image/ + mask/, or frames)", start)
        )

    def _choose(self, ask) -> None:
        path = ask(str(self.qsettings.value("dirs/data", str(Path.home()))))
        if path:
            self.qsettings.setValue("dirs/data", str(Path(path).parent))
            self.app_state.set_data(path)

    def choose_mask(self) -> None:
        if not self.path:
            return
        start = str(self.qsettings.value("dirs/mask", str(Path(self.path).parent)))
        path, _ = QFileDialog.getOpenFileName(self, "Open mask", start, MASK_FILTER)
        if path:
            self.qsettings.setValue("dirs/mask", str(Path(path).parent))
            self.app_state.set_data(self.path, path)

    def clear_mask(self) -> None:
        if self.path and self.mask_path:
            self.app_state.set_data(self.path, None)

    # -- loading -------------------------------------------------------------------------------------------
    def _data_chosen(self, choice) -> None:
        if choice is None:
            self.reset()
        else:
            self.load(choice.path, choice.mask_path)

    def load(self, path: str | Path, mask_path: str | Path | None = None) -> None:
        """Show DATA (and MASK); decoding and inspection run in the background."""
        self.path = str(path)
        self.mask_path = str(mask_path) if mask_path else None
        self.preview = None
        self.report = None
        self.data_error = None
        self.inspect_error = None
        self.frames.show_placeholder("Loading…")
        self.info.clear()
        self._show_errors()
        self.info.source_label.setText(self.path)
        self.info.mask_label.setText(self.mask_path or "looking for one next to the data…")
        self._start_preview()
        self._start_inspect()

    def reset(self) -> None:
        """Forget the data (answers of jobs still running are ignored)."""
        self.path = self.mask_path = None
        self.preview = self.report = None
        self.data_error = self.inspect_error = None
        self.jobs.forget("preview")
        self.jobs.forget("inspect")
        self._inspect_timer.stop()
        self.loading = self.inspecting = False
        self.frames.show_preview(None)
        self.info.clear()
        self._show_errors()
        self._set_busy()
        self.changed.emit()

    def set_config(self, config, changed: set | None = None) -> None:
        """New settings: re-inspect (debounced) when an option the inspection reads changed (INSPECTED_OPTIONS: a
        learning rate set far above usual values is warned about now, not first when training starts)."""
        self.config = config
        if not self.path or config is None:
            self._publish()
            return
        changed = set(changed or ())
        opts = {k: getattr(getattr(config, FIELDS[k][0]), k) for k in PREVIEW_OPTIONS}
        if opts != self._preview_options and (changed & set(PREVIEW_OPTIONS)):
            self._start_preview()
        if changed & INSPECTED_OPTIONS:
            self._inspect_timer.start()
            self._set_busy()

    def busy(self) -> bool:
        """Decoding or inspecting (or about to, after an edit of the settings)."""
        return self.loading or self.inspecting or self._inspect_timer.isActive()

    def _start_preview(self) -> None:
        flat = self.config.flat() if self.config is not None else {}
        self._preview_options = {k: flat.get(k) for k in PREVIEW_OPTIONS}
        self.loading = True
        self._set_busy()
        self.jobs.start(
            jobs.load_preview,
            self.path,
            self.mask_path,
            self._preview_options,
            key="preview",
            returned=self._on_preview,
            failed=("The data cannot be loaded", self._on_preview_error),
        )

    def _start_inspect(self) -> None:
        if not self.path or self.config is None:
            return
        self._inspect_timer.stop()
        if self.inspecting:
            # one still running is overtaken (its answer will be dropped as stale): what it logged was said, so
            # this one does not log it again
            self._warned = self._warned | self._warning_now
        self.inspecting = True
        self._set_busy()
        self._warning_now = set()
        self.jobs.start(
            jobs.inspect,
            self.path,
            self.mask_path,
            self.config,
            key="inspect",
            returned=self._on_inspect,
            failed=("The data cannot be inspected", self._on_inspect_error),
            warned=self._on_inspect_warning,
        )

    def _on_inspect_warning(self, args: tuple) -> None:
        """A warning of an inspection (config_warnings: a learning rate far above usual values, say) goes to the
        state's warning sink when it appears, not again at each re-inspection (an edit of max_size) while the
        settings keep it: only one the last inspection did not raise (a new value, which the sentence names, or
        one set again after a usual value) is logged."""
        text = str(args[0]) if args else ""
        self._warning_now.add(text)
        if text not in self._warned:
            self.app_state.report_warning(args)

    def _on_preview(self, preview) -> None:
        self.loading = False
        self.preview = preview
        self.data_error = None
        self.frames.show_preview(preview)
        self.info.show_source(preview)
        self._show_errors()
        self._set_busy()
        self.preview_ready.emit(preview)
        self.changed.emit()

    def _on_preview_error(self, message: str) -> None:
        self.loading = False
        self.preview = None
        self.data_error = message
        self.frames.show_placeholder("This data cannot be used (see the message on the right).")
        if not self.mask_path:  # no data, so no search for its mask either (it said "looking for one…")
            self.info.mask_label.setText("–")
        self._show_errors()
        self._set_busy()
        self.changed.emit()

    def _on_inspect(self, report) -> None:
        self.inspecting = False
        self._warned = self._warning_now
        self.report = report
        self.inspect_error = None
        self.info.show_plan(report)
        self._show_errors()
        self._set_busy()
        self.inspected.emit(report)
        self.changed.emit()

    def _on_inspect_error(self, message: str) -> None:
        self.inspecting = False
        self._warned = self._warning_now
        self.report = None
        self.inspect_error = message
        self.info.show_plan(None)
        self._show_errors()
        self._set_busy()
        self.inspected.emit(None)
        self.changed.emit()

    # -- display -------------------------------------------------------------------------------------------
    def _show_errors(self) -> None:
        errors = [self.data_error, self.preview.mask_error if self.preview else None, self.inspect_error]
        notes = list(self.preview.mask_notes) if self.preview else []
        if self.report:
            notes += [n for n in self.report.notes if n not in notes]
        if self.config is not None and not self.config.data.masks and self.preview and self.preview.classes:
            notes.append("'Use masks' is off: training ignores the mask (SIV-GAN)")
        self.info.show_problems(errors, notes)

    def _set_busy(self) -> None:
        what = [w for w, on in (("decoding the data", self.loading), ("inspecting the model", self.inspecting)) if on]
        self.info.busy_label.setText(("Busy: " + ", ".join(what) + "…") if what else "")
        self._update_buttons()
        self._publish()

    def _publish(self) -> None:
        """Tell the state why training cannot start from this data (None: it can)."""
        if not self.path:
            problem = "no data loaded (File ▸ Open Data…)"
        else:
            problem = self.data_error or self.inspect_error
            if problem is None and self.preview is None:
                problem = "the data is still loading"
        if problem != self.app_state.data_problem:
            self.app_state.set_data_problem(problem)

    def _update_buttons(self) -> None:
        self.info.mask_button.setEnabled(bool(self.path))
        self.info.clear_mask_button.setEnabled(bool(self.path and self.mask_path))
