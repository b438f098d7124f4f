"""The OSMIS Studio main window: a tab per page (Data, Settings, Training, Gallery, Paint), menus, drag and drop,
remembered folders and geometry, and a confirmation before a running training is discarded.

The window owns the app state (osmis_gui.state) and the pages; pages observe the state and never call the
window. The window turns the state's messages into message boxes and status-bar lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from osmis_core import __version__
from osmis_core.config import OsmisConfig
from osmis_core.errors import OsmisError

from . import jobs
from .data_page import DataPage
from .gallery_page import GalleryPage
from .paint_page import PaintPage
from .remembered import remembered_bytes, remembered_int
from .settings_page import SettingsPage
from .state import IDLE, AppState
from .tasks import Jobs
from .training_page import TrainingPage

CONFIG_FILTER = "Settings files (*.json *.toml);;All files (*)"
STATE_TEXT = {
    "idle": "Idle",
    "loading": "Preparing training…",
    "running": "Training",
    "paused": "Paused",
    "stopping": "Stopping…",
}


@dataclass(frozen=True)
class Tab:
    """A page of the window: its tab title (with the View menu's accelerator), widget, tool tip, and the name
    under which its splitter's position is remembered (None: it has none)."""

    title: str
    page: QWidget
    tip: str
    splitter: str | None = None


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.qsettings = settings if settings is not None else QSettings("OSMIS", "OSMIS Studio")
        self.state = AppState(self)
        self.state.confirmer = lambda title, text: self.confirm(title, text)
        self.jobs = Jobs(self.state, self)
        self.last_message: tuple[str, str, str] | None = None
        self._close_pending = False
        self._after_training = None  # what to open once a training the user stopped has ended
        self._gallery_to_show: str | None = None  # the gallery that the run being opened was opened by
        self.setWindowTitle("OSMIS Studio")
        self.setAcceptDrops(True)

        self.settings_page = SettingsPage(self.qsettings, self.state)
        self.data = DataPage(self.state, self.qsettings)
        self.training = TrainingPage(self.state, self.qsettings)
        self.gallery = GalleryPage(self.state, self.qsettings)
        self.paint = PaintPage(self.qsettings)
        self.tab_list = [
            Tab("&Data", self.data, "The training data and what the model will be", "data"),
            Tab("&Settings", self.settings_page, "Every training option, presets, save/load"),
            Tab("&Training", self.training, "Run training and watch samples and losses", "training"),
            Tab("&Gallery", self.gallery, "Generate, browse, score and export image–mask pairs", "gallery"),
            Tab(
                "&Paint",
                self.paint,
                "Paint a layout and watch a renderer run turn it into photos (open a renderer run first)",
                "paint",
            ),
        ]
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for i, tab in enumerate(self.tab_list):
            self.tabs.addTab(tab.page, tab.title.replace("&", ""))
            self.tabs.setTabToolTip(i, f"{tab.tip} (Ctrl+{i + 1})")
        self.tabs.setTabEnabled(self.tabs.indexOf(self.paint), False)
        self.setCentralWidget(self.tabs)
        self.state_label = QLabel("Idle")
        self.statusBar().addPermanentWidget(self.state_label)

        self.settings_page.load_button.clicked.connect(self.load_settings_dialog)
        self.settings_page.save_button.clicked.connect(self.save_settings_dialog)
        self.gallery.exported.connect(
            lambda dest, n: self.statusBar().showMessage(f"Exported {n} pairs to {dest}", 8000)
        )
        self.training.finished.connect(
            lambda run_dir, step, stopped: self.statusBar().showMessage(
                f"Training {'stopped' if stopped else 'finished'} at iteration {step:,}", 8000
            )
        )
        s = self.state
        s.message.connect(self.show_message)
        s.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        s.training_state_changed.connect(self._training_state)
        for signal in (s.data_changed, s.run_changed):
            signal.connect(self._update_title)
        s.run_changed.connect(self._paint_run)
        s.checkpoints_changed.connect(lambda _steps: self._paint_run(self.state.run))
        self.paint.available_changed.connect(self._paint_available)
        self.paint.load_failed.connect(self._paint_load_failed)
        self.paint.gallery_added.connect(self._paint_gallery_added)
        self.gallery.edit_layout.connect(self._edit_layout)
        self.gallery.writing_ended.connect(self._writing_ended)
        self._build_menus()
        self._restore_geometry()
        self._update_title()

    # -- menus ---------------------------------------------------------------------------------------------
    def _action(self, text: str, shortcut: str | None, slot, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file = mb.addMenu("&File")
        self.open_data_action = self._action("Open &Data…", "Ctrl+O", self.data.choose_data, "Open an image or a video")
        self.open_folder_action = self._action(
            "Open Data &Folder…",
            "Ctrl+Shift+D",
            self.data.choose_data_folder,
            "Open a folder: image/ (+ mask/), or frames",
        )
        self.open_mask_action = self._action(
            "Open &Mask…", "Ctrl+M", self.data.choose_mask, "Use another mask for the loaded data"
        )
        self.open_run_action = self._action(
            "Open &Run Folder…",
            "Ctrl+Shift+O",
            self.open_run_dialog,
            "Reopen a training run: settings, curves, previews and galleries",
        )
        self.load_settings_action = self._action(
            "&Load Settings…", "Ctrl+L", self.load_settings_dialog, "Load options from a JSON/TOML file or a run.json"
        )
        self.save_settings_action = self._action(
            "&Save Settings…", "Ctrl+S", self.save_settings_dialog, "Save all options to a JSON file"
        )
        for a in (self.open_data_action, self.open_folder_action, self.open_mask_action, self.open_run_action):
            file.addAction(a)
        file.addSeparator()
        file.addAction(self.load_settings_action)
        file.addAction(self.save_settings_action)
        file.addSeparator()
        file.addAction(self._action("&Quit", "Ctrl+Q", self.close))

        train = mb.addMenu("&Training")
        t = self.training
        for a in (t.start_action, t.pause_action, t.resume_action, t.stop_action):
            train.addAction(a)
        train.addSeparator()
        train.addAction(t.continue_action)

        gal = mb.addMenu("&Gallery")
        for a in (self.gallery.generate_action, self.gallery.score_action, self.gallery.export_action):
            gal.addAction(a)

        view = mb.addMenu("&View")
        for i, tab in enumerate(self.tab_list):
            view.addAction(
                self._action(
                    tab.title, f"Ctrl+{i + 1}", lambda _=False, page=tab.page: self.tabs.setCurrentWidget(page)
                )
            )

        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self._action("&About OSMIS Studio", None, self._about))

    def _about(self) -> None:
        self.show_message(
            "info",
            "About OSMIS Studio",
            f"OSMIS Studio {__version__}\n\nOne-shot synthesis of images and segmentation masks "
            f"(OSMIS / SIV-GAN): load one image (with its mask) or one video, train, watch it learn, "
            f"then generate, score and export image–mask pairs.\n\nDrop an image, video, folder, "
            f"run folder or settings file on the window to open it.",
        )

    # -- dialogs -------------------------------------------------------------------------------------------
    def show_message(self, kind: str, title: str, text: str) -> None:
        """A non-blocking message box (the window stays usable; tests are never stuck on it)."""
        self.last_message = (kind, title, text)
        icon = {"warning": QMessageBox.Icon.Warning, "error": QMessageBox.Icon.Critical}.get(
            kind, QMessageBox.Icon.Information
        )
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.statusBar().showMessage(f"{title}: {text}", 10000)

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- opening things ------------------------------------------------------------------------------------
    def _ok_to_switch(self, then) -> bool:
        """True when nothing runs. Otherwise ask to stop the training; `then` runs once it has stopped."""
        if not self.state.training_busy():
            return True
        if self.confirm(
            "Stop the training?", "A training is running. Stop it (a checkpoint is saved) to open something else?"
        ):
            self._after_training = then
            self.training.stop()
        return False

    def open_path(self, path: str | Path) -> None:
        """A run folder (with run.json) opens as a run; a folder or a checkpoint inside one (a gallery, checkpoints/)
        opens that run, with the gallery shown; anything else as DATA (a picture inside a run may be trained on)."""
        from osmis_core.application.runfolder import enclosing_run

        p = Path(path)
        inside = p.is_dir() or p.suffix == ".pt"
        run = enclosing_run(p) if inside and not (p.is_dir() and (p / "run.json").is_file()) else None
        if p.is_dir() and (p / "run.json").is_file():
            self.open_run(p)
        elif p.name == "run.json" and p.is_file():
            self.open_run(p.parent)
        elif run is not None:
            self._gallery_to_show = str(p) if (p / "manifest.json").is_file() else None
            self.open_run(run)
        else:
            self.open_data(p)

    def open_data(self, path: str | Path, mask: str | Path | None = None) -> None:
        if not self._ok_to_switch(lambda: self.open_data(path, mask)):
            return
        self.qsettings.setValue("dirs/data", str(Path(path).parent))
        self.state.set_data(path, mask)
        self.tabs.setCurrentWidget(self.data)

    def open_run_dialog(self) -> None:
        start = str(self.qsettings.value("dirs/run", self.training.runs_root_edit.text()))
        path = QFileDialog.getExistingDirectory(self, "Open run folder", start)
        if path:
            self.qsettings.setValue("dirs/run", str(Path(path).parent))
            self.open_run(path)

    def open_run(self, run_dir: str | Path) -> None:
        """Reopen a run: settings from run.json, data view, curves, previews, log and galleries."""
        if not self._ok_to_switch(lambda: self.open_run(run_dir)):
            return
        self.statusBar().showMessage(f"Opening run {run_dir}…")
        self.jobs.start(
            jobs.read_run,
            str(run_dir),
            key="run",
            returned=self._run_loaded,
            failed=("The run folder cannot be opened", None),
            popup=True,
        )

    # -- the Paint page follows the run shown ---------------------------------------------------------------
    def _paint_run(self, run) -> None:
        """A renderer run with a checkpoint makes the Paint page usable."""
        try:
            renderer = (
                run is not None
                and OsmisConfig.from_dict((run.info or {}).get("config", {}), f"{run.run_dir}/run.json", {}).model
                == "renderer"
            )
        except OsmisError:
            renderer = False
        # the newest checkpoint is loaded once a training has ended, not at each checkpoint it saves
        step = max(run.checkpoints) if run is not None and run.checkpoints and not self.state.training_busy() else None
        self.paint.set_run(
            run.run_dir if run is not None else None, renderer and bool(run.checkpoints), self.state.device(), step
        )

    def _paint_available(self, available: bool) -> None:
        self.tabs.setTabEnabled(self.tabs.indexOf(self.paint), available)
        self.gallery.set_layout_editing(available)

    def _paint_load_failed(self, message: str) -> None:
        """Said where it is seen: the Paint page that would show it is disabled, and the run itself opened."""
        self.show_message("warning", "Paint is unavailable: the renderer cannot be loaded", message)

    def _paint_gallery_added(self, folder: str, n: int) -> None:
        if self.gallery.run_dir == self.paint.run_dir:
            self.gallery.refresh_galleries()
        self.statusBar().showMessage(f"Added to the gallery {folder} ({n} items)", 8000)

    def _edit_layout(self, mask_path: str) -> None:
        """The mask on the Paint page; when it cannot be opened the page says why there, so it is shown either way
        (the Gallery page, where the user asked, would say nothing)."""
        self.paint.open_layout_file(mask_path)
        self.tabs.setCurrentWidget(self.paint)

    def _run_loaded(self, snap: jobs.RunSnapshot) -> None:
        data = snap.info.get("data", {}) or {}
        outdated: dict[str, str] = {}  # counts stored above today's limit, read as the limit (config.from_dict)
        try:
            config = OsmisConfig.from_dict(snap.info.get("config", {}), f"{snap.run_dir}/run.json", outdated)
        except OsmisError as exc:
            self.show_message("warning", "Run settings not restored", str(exc))
            config = None
        self.state.set_data(None)
        if config is not None:
            self.settings_page.set_config(config)
        if data.get("path"):
            self.state.set_data(data["path"], data.get("mask_path"))
        self.state.open_run(snap)
        self.tabs.setCurrentWidget(self.training)
        gallery, self._gallery_to_show = self._gallery_to_show, None
        if gallery is not None:  # the run was opened by one of its galleries: that gallery is shown
            listed = {str(Path(g).resolve()): g for g in snap.galleries}
            self.gallery.load_gallery(listed.get(str(Path(gallery).resolve()), gallery))
            self.tabs.setCurrentWidget(self.gallery)
        self.statusBar().showMessage(f"Opened run {snap.run_dir}", 5000)
        if outdated:
            # said now, not first on Continue: the form holds today's limit where the run stored more
            for sentence in outdated.values():
                self.state.log(f"warning: {sentence}")
            self.state.show_message("warning", "Run stored by an earlier version", " ".join(outdated.values()))

    def load_settings_dialog(self) -> None:
        if self.state.training_busy():
            return
        start = str(self.qsettings.value("dirs/settings", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Load settings", start, CONFIG_FILTER)
        if path:
            self.qsettings.setValue("dirs/settings", str(Path(path).parent))
            self.load_settings(path)

    def load_settings(self, path: str | Path) -> bool:
        try:
            self.settings_page.load_file(path)
        except OsmisError as exc:
            self.show_message("warning", "Settings not loaded", str(exc))
            return False
        self.statusBar().showMessage(f"Settings loaded from {path}", 5000)
        self.tabs.setCurrentWidget(self.settings_page)
        return True

    def save_settings_dialog(self) -> None:
        start = str(self.qsettings.value("dirs/settings", str(Path.home())))
        path, _ = QFileDialog.getSaveFileName(
            self, "Save settings", str(Path(start) / "osmis-settings.json"), "JSON (*.json)"
        )
        if path:
            self.qsettings.setValue("dirs/settings", str(Path(path).parent))
            try:
                self.settings_page.save_file(path)
                self.statusBar().showMessage(f"Settings saved to {path}", 5000)
            except OsmisError as exc:
                self.show_message("warning", "Settings not saved", str(exc))

    # -- reactions -----------------------------------------------------------------------------------------
    def _training_state(self, state: str) -> None:
        self.state_label.setText(STATE_TEXT.get(state, state))
        for a in (self.open_data_action, self.open_folder_action, self.open_mask_action, self.load_settings_action):
            a.setEnabled(state == IDLE)
        self._update_title()
        if state == IDLE:
            self._training_ended()

    def _training_ended(self) -> None:
        if self._close_pending:
            self.close()
            return
        self._paint_run(self.state.run)  # a renderer trained on: the Paint page takes its newest checkpoint
        pending, self._after_training = self._after_training, None
        if pending is not None:
            pending()

    def _writing_ended(self) -> None:
        if self._close_pending:
            self.close()

    def _update_title(self, *_) -> None:
        parts = ["OSMIS Studio"]
        if self.state.data is not None:
            parts.append(Path(self.state.data.path).name)
        if self.state.run is not None:
            parts.append(f"run {Path(self.state.run.run_dir).name}")
        if self.state.training_busy():
            parts.append(self.state_label.text().rstrip("…").lower())
        self.setWindowTitle(" — ".join(parts))

    # -- drag and drop -------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        md = event.mimeData()
        if md.hasUrls() and all(u.isLocalFile() for u in md.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_dropped(paths)

    def open_dropped(self, paths: list[str]) -> None:
        """Route dropped files: run folder (or a folder in one) -> run; settings file -> settings; '*mask*' -> mask;
        else data."""
        from osmis_core.application.runfolder import enclosing_run

        items = [Path(p) for p in paths]
        masks = [p for p in items if "mask" in p.stem.lower() and p.is_file()]
        others = [p for p in items if p not in masks]
        if len(items) >= 2 and masks and others:
            self.open_data(others[0], masks[0])
            return
        p = items[0]
        if p.is_dir() and ((p / "run.json").is_file() or enclosing_run(p)) or p.name == "run.json":
            self.open_path(p)  # a run, or a gallery or other folder of one
        elif p.suffix.lower() in (".json", ".toml"):
            self.load_settings(p)
        elif masks and self.state.data is not None and p == masks[0]:
            self.open_data(self.state.data.path, p)
        else:
            self.open_data(p)

    # -- window state --------------------------------------------------------------------------------------
    def _splitters(self) -> dict:
        return {tab.splitter: tab.page.splitter for tab in self.tab_list if tab.splitter}

    def _restore_geometry(self) -> None:
        geometry = remembered_bytes(self.qsettings, "window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 820)
        state = remembered_bytes(self.qsettings, "window/state")
        if state is not None:
            self.restoreState(state)
        for name, splitter in self._splitters().items():
            value = remembered_bytes(self.qsettings, f"splitters/{name}")
            if value is not None:
                splitter.restoreState(value)
        self.tabs.setCurrentIndex(remembered_int(self.qsettings, "window/tab", 0, 0, self.tabs.count() - 1))

    def save_window_state(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        self.qsettings.setValue("window/tab", self.tabs.currentIndex())
        for name, splitter in self._splitters().items():
            self.qsettings.setValue(f"splitters/{name}", splitter.saveState())
        self.qsettings.setValue("training/runs_root", self.training.runs_root_edit.text())
        self.qsettings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.state.training_busy():
            if not self._close_pending:
                if not self.confirm(
                    "Stop the training and quit?",
                    "A training is running. Stop it (a checkpoint is saved first) and close OSMIS Studio?",
                ):
                    event.ignore()
                    return
                self._close_pending = True
                self.training.stop()
                self.statusBar().showMessage("Stopping the training and saving a checkpoint before closing…")
            event.ignore()  # closes for real once the training worker has ended
            return
        if self.gallery.writing():
            # stopped, not left to run on after the window is gone; closes for real once it has ended
            self._close_pending = True
            self.statusBar().showMessage(self.gallery.stop_writing())
            event.ignore()
            return
        self.save_window_state()
        event.accept()
