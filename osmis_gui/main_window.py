"""The OSMIS Studio main window: Data, Settings, Training, Gallery and Paint tabs, menus, drag and drop, remembered
folders and geometry, and a confirmation before a running training is discarded."""
from __future__ import annotations

import gc
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget

from osmis_core import __version__
from osmis_core.config import OsmisConfig
from osmis_core.errors import OsmisError

from . import jobs, tasks
from .data_page import DataPage
from .gallery_page import GalleryPage
from .paint_page import PaintPage
from .settings_page import SettingsPage
from .training_page import IDLE, TrainingPage

CONFIG_FILTER = "Settings files (*.json *.toml);;All files (*)"
DATA_TAB, SETTINGS_TAB, TRAINING_TAB, GALLERY_TAB, PAINT_TAB = range(5)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        # Training runs in a thread of this process. A short GIL switch interval lets the GUI thread get the
        # interpreter back quickly after each Qt call while the trainer runs Python code (repaints of the loss
        # plots otherwise wait up to 5 ms per call), at a negligible cost in training speed.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        self.qsettings = settings if settings is not None else QSettings("OSMIS", "OSMIS Studio")
        self.last_message: tuple[str, str, str] | None = None
        self._close_pending = False
        self._after_training = None          # what to open once a training the user stopped has ended
        self._run_tag = 0
        self.setWindowTitle("OSMIS Studio")
        self.setAcceptDrops(True)

        self.settings_page = SettingsPage(self.qsettings)
        self.data = DataPage(self.qsettings)
        self.training = TrainingPage(self, self.qsettings)
        self.gallery = GalleryPage(self, self.qsettings)
        self.paint = PaintPage(self.qsettings)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.data, "Data")
        self.tabs.addTab(self.settings_page, "Settings")
        self.tabs.addTab(self.training, "Training")
        self.tabs.addTab(self.gallery, "Gallery")
        self.tabs.addTab(self.paint, "Paint")
        self.tabs.setTabEnabled(PAINT_TAB, False)
        for i, tip in enumerate(["The training data and what the model will be (Ctrl+1)",
                                 "Every training option, presets, save/load (Ctrl+2)",
                                 "Run training and watch samples and losses (Ctrl+3)",
                                 "Generate, browse, score and export image–mask pairs (Ctrl+4)",
                                 "Paint a layout and watch a renderer run turn it into photos (Ctrl+5; open a "
                                 "renderer run first)"]):
            self.tabs.setTabToolTip(i, tip)
        self.setCentralWidget(self.tabs)

        self.state_label = QLabel("Idle")
        self.statusBar().addPermanentWidget(self.state_label)

        self.settings_page.config_changed.connect(self._config_changed)
        self.settings_page.options_changed.connect(self._options_changed)
        self.settings_page.load_button.clicked.connect(self.load_settings_dialog)
        self.settings_page.save_button.clicked.connect(self.save_settings_dialog)
        self.data.changed.connect(self._data_changed)
        self.training.state_changed.connect(self._training_state)
        self.training.run_started.connect(self._run_started)
        self.training.checkpoint_saved.connect(self._checkpoint_saved)
        self.training.finished.connect(self._training_finished)
        self.gallery.exported.connect(lambda dest, n: self.statusBar().showMessage(f"Exported {n} pairs to {dest}",
                                                                                   8000))
        self.paint.available_changed.connect(self._paint_available)
        self.paint.gallery_added.connect(self._paint_gallery_added)
        self.gallery.edit_layout.connect(self._edit_layout)
        self._build_menus()
        self.data.set_config(self.settings_page.config())
        self._restore_geometry()
        self._update_title()
        self.training.update_actions()
        tasks.start(jobs.warm_up, returned=self._warmed_up, errored=self._warm_up_failed)

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
        self.open_data_action = self._action("Open &Data…", "Ctrl+O", self.data.choose_data,
                                             "Open an image or a video")
        self.open_folder_action = self._action("Open Data &Folder…", "Ctrl+Shift+D", self.data.choose_data_folder,
                                               "Open a folder: image/ (+ mask/), or frames")
        self.open_mask_action = self._action("Open &Mask…", "Ctrl+M", self.data.choose_mask,
                                             "Use another mask for the loaded data")
        self.open_run_action = self._action("Open &Run Folder…", "Ctrl+Shift+O", self.open_run_dialog,
                                            "Reopen a training run: settings, curves, previews and galleries")
        self.load_settings_action = self._action("&Load Settings…", "Ctrl+L", self.load_settings_dialog,
                                                 "Load options from a JSON/TOML file or a run.json")
        self.save_settings_action = self._action("&Save Settings…", "Ctrl+S", self.save_settings_dialog,
                                                 "Save all options to a JSON file")
        quit_action = self._action("&Quit", "Ctrl+Q", self.close)
        for a in (self.open_data_action, self.open_folder_action, self.open_mask_action, self.open_run_action):
            file.addAction(a)
        file.addSeparator()
        file.addAction(self.load_settings_action)
        file.addAction(self.save_settings_action)
        file.addSeparator()
        file.addAction(quit_action)

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
        for i, name in enumerate(["&Data", "&Settings", "&Training", "&Gallery", "&Paint"]):
            view.addAction(self._action(name, f"Ctrl+{i + 1}", lambda _=False, i=i: self.tabs.setCurrentIndex(i)))

        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self._action("&About OSMIS Studio", None, self._about))

    def _about(self) -> None:
        self.show_message("info", "About OSMIS Studio",
                          f"OSMIS Studio {__version__}\n\nOne-shot synthesis of images and segmentation masks "
                          f"(OSMIS / SIV-GAN): load one image (with its mask) or one video, train, watch it learn, "
                          f"then generate, score and export image–mask pairs.\n\nDrop an image, video, folder, "
                          f"run folder or settings file on the window to open it.")

    # -- services for the pages ----------------------------------------------------------------------------
    def settings_config(self) -> OsmisConfig | None:
        return self.settings_page.config()

    def can_start_training(self) -> tuple[bool, str]:
        if not self.data.path:
            return False, "no data loaded (File ▸ Open Data…)"
        if self.data.data_error:
            return False, self.data.data_error
        if self.settings_page.config() is None:
            return False, self.settings_page.error_text() or "the settings are not valid"
        if self.data.inspect_error:
            return False, self.data.inspect_error
        return True, ""

    def training_inputs(self) -> tuple[OsmisConfig, str, str | None]:
        ok, why = self.can_start_training()
        if not ok:
            raise OsmisError(why)
        return self.settings_page.config(), self.data.path, self.data.mask_path

    def show_message(self, kind: str, title: str, text: str) -> None:
        """A non-blocking message box (the window stays usable; tests are never stuck on it)."""
        self.last_message = (kind, title, text)
        icon = {"warning": QMessageBox.Icon.Warning, "error": QMessageBox.Icon.Critical}.get(
            kind, QMessageBox.Icon.Information)
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.statusBar().showMessage(f"{title}: {text}", 10000)

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def log(self, text: str) -> None:
        self.training.log(text)

    def training_ended(self) -> None:
        if self._close_pending:
            self.close()
            return
        pending, self._after_training = self._after_training, None
        if pending is not None:
            pending()

    # -- opening things ------------------------------------------------------------------------------------
    def _ok_to_switch(self, then) -> bool:
        """True when nothing runs. Otherwise ask to stop the training; `then` runs once it has stopped."""
        if not self.training.is_busy():
            return True
        if self.confirm("Stop the training?", "A training is running. Stop it (a checkpoint is saved) to open "
                                              "something else?"):
            self._after_training = then
            self.training.stop()
        return False

    def open_path(self, path: str | Path) -> None:
        """A run folder (with run.json) opens as a run; anything else as DATA."""
        p = Path(path)
        if p.is_dir() and (p / "run.json").is_file():
            self.open_run(p)
        elif p.name == "run.json" and p.is_file():
            self.open_run(p.parent)
        else:
            self.open_data(p)

    def open_data(self, path: str | Path, mask: str | Path | None = None) -> None:
        if not self._ok_to_switch(lambda: self.open_data(path, mask)):
            return
        self.qsettings.setValue("dirs/data", str(Path(path).parent))
        self.data.load(path, mask)
        self.tabs.setCurrentIndex(DATA_TAB)
        self._update_title()

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
        self._run_tag += 1
        self.statusBar().showMessage(f"Opening run {run_dir}…")
        tasks.start(tasks.tagged, self._run_tag, jobs.read_run, str(run_dir), returned=self._run_loaded,
                    errored=self._run_failed)

    def _run_loaded(self, result) -> None:
        tag, snap = result
        if tag != self._run_tag:
            return
        info = snap.info
        data = info.get("data", {}) or {}
        try:
            config = OsmisConfig.from_dict(info.get("config", {}), f"{snap.run_dir}/run.json")
        except OsmisError as exc:
            self.show_message("warning", "Run settings not restored", str(exc))
            config = None
        self.data.reset()
        if config is not None:
            self.settings_page.set_config(config)
        if data.get("path"):
            self.data.load(data["path"], data.get("mask_path"))
        self.training.load_run(snap)
        self.gallery.set_run(snap.run_dir, data.get("path"), data.get("mask_path"), snap.checkpoints,
                             snap.galleries)
        self.paint.set_run(snap.run_dir, config is not None and config.model == "renderer" and bool(snap.checkpoints),
                           config.run.device if config is not None else "cpu")
        self.tabs.setCurrentIndex(TRAINING_TAB)
        self.statusBar().showMessage(f"Opened run {snap.run_dir}", 5000)
        self._update_title()

    def _run_failed(self, exc) -> None:
        if getattr(exc, "gui_tag", None) != self._run_tag:
            return
        message, details = tasks.describe_error(exc)
        if details:
            self.log(details)
        self.show_message("warning", "The run folder cannot be opened", message)

    def load_settings_dialog(self) -> None:
        if self.training.is_busy():
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
        self.tabs.setCurrentIndex(SETTINGS_TAB)
        return True

    def save_settings_dialog(self) -> None:
        start = str(self.qsettings.value("dirs/settings", str(Path.home())))
        path, _ = QFileDialog.getSaveFileName(self, "Save settings", str(Path(start) / "osmis-settings.json"),
                                              "JSON (*.json)")
        if path:
            self.qsettings.setValue("dirs/settings", str(Path(path).parent))
            try:
                self.settings_page.save_file(path)
                self.statusBar().showMessage(f"Settings saved to {path}", 5000)
            except OsmisError as exc:
                self.show_message("warning", "Settings not saved", str(exc))

    # -- reactions -----------------------------------------------------------------------------------------
    def _config_changed(self, config) -> None:
        self.training.update_actions()

    def _options_changed(self, names) -> None:
        self.data.set_config(self.settings_page.config(), names)

    def _data_changed(self) -> None:
        self.training.update_actions()
        self._update_title()

    def _training_state(self, state: str) -> None:
        self.settings_page.set_locked(state != IDLE)
        text = {"idle": "Idle", "loading": "Preparing training…", "running": "Training", "paused": "Paused",
                "stopping": "Stopping…"}.get(state, state)
        self.state_label.setText(text)
        for a in (self.open_data_action, self.open_folder_action, self.open_mask_action, self.load_settings_action):
            a.setEnabled(state == IDLE)
        self._update_title()

    def _run_started(self, run_dir: str) -> None:
        info = self.training.run_info or {}
        data = info.get("data", {}) or {}
        if self.gallery.run_dir != run_dir:
            self.gallery.set_run(run_dir, data.get("path"), data.get("mask_path"), [], [])
        self._update_title()

    def _checkpoint_saved(self, run_dir: str, step: int) -> None:
        if self.gallery.run_dir == run_dir:
            self.gallery.set_checkpoints(jobs.checkpoint_steps(run_dir))

    def _training_finished(self, run_dir: str, step: int, stopped: bool) -> None:
        if self.gallery.run_dir == run_dir:
            self.gallery.set_checkpoints(jobs.checkpoint_steps(run_dir))
        self.statusBar().showMessage(f"Training {'stopped' if stopped else 'finished'} at iteration {step:,}", 8000)
        config = self.settings_page.config()
        if config is not None and config.model == "renderer":
            self.paint.set_run(run_dir, True, config.run.device)

    def _paint_available(self, available: bool) -> None:
        self.tabs.setTabEnabled(PAINT_TAB, available)
        self.gallery.set_layout_editing(available)

    def _paint_gallery_added(self, folder: str, n: int) -> None:
        if self.gallery.run_dir == self.paint.run_dir:
            self.gallery.refresh_galleries()
        self.statusBar().showMessage(f"Added to the gallery {folder} ({n} items)", 8000)

    def _edit_layout(self, mask_path: str) -> None:
        if self.paint.open_layout_file(mask_path):
            self.tabs.setCurrentIndex(PAINT_TAB)

    def _warmed_up(self, found: dict) -> None:
        # torch and its friends are imported now: ~400,000 long-lived objects that every full garbage collection
        # would walk while holding the GIL (~200 ms, a visible freeze at a random moment). Exempt them.
        gc.freeze()
        self.gallery.set_metrics_available(bool(found.get("metrics")), found.get("metrics_reason", ""))

    def _warm_up_failed(self, exc) -> None:
        message, _ = tasks.describe_error(exc)
        self.gallery.set_metrics_available(False, message)

    def _update_title(self) -> None:
        parts = ["OSMIS Studio"]
        if self.data.path:
            parts.append(Path(self.data.path).name)
        if self.training.run_dir:
            parts.append(f"run {Path(self.training.run_dir).name}")
        if self.training.state != IDLE:
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
        """Route dropped files: run folder -> run; settings file -> settings; '*mask*' -> mask; else data."""
        items = [Path(p) for p in paths]
        masks = [p for p in items if "mask" in p.stem.lower() and p.is_file()]
        others = [p for p in items if p not in masks]
        if len(items) >= 2 and masks and others:
            self.open_data(others[0], masks[0])
            return
        p = items[0]
        if p.is_dir() and (p / "run.json").is_file() or p.name == "run.json":
            self.open_path(p)
        elif p.suffix.lower() in (".json", ".toml"):
            self.load_settings(p)
        elif masks and self.data.path and p == masks[0]:
            self.open_data(self.data.path, p)
        else:
            self.open_data(p)

    # -- window state --------------------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self.qsettings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        state = self.qsettings.value("window/state")
        if state is not None:
            self.restoreState(state)
        for name, splitter in self._splitters().items():
            value = self.qsettings.value(f"splitters/{name}")
            if value is not None:
                splitter.restoreState(value)
        tab = self.qsettings.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))

    def _splitters(self) -> dict:
        return {"data": self.data.splitter, "training": self.training.splitter, "gallery": self.gallery.splitter,
                "paint": self.paint.splitter}

    def save_window_state(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        self.qsettings.setValue("window/tab", self.tabs.currentIndex())
        for name, splitter in self._splitters().items():
            self.qsettings.setValue(f"splitters/{name}", splitter.saveState())
        self.qsettings.setValue("training/runs_root", self.training.runs_root_edit.text())
        self.qsettings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.training.is_busy():
            if not self._close_pending:
                if not self.confirm("Stop the training and quit?",
                                    "A training is running. Stop it (a checkpoint is saved first) and close "
                                    "OSMIS Studio?"):
                    event.ignore()
                    return
                self._close_pending = True
                self.training.stop()
                self.statusBar().showMessage("Stopping the training and saving a checkpoint before closing…")
            event.ignore()      # closes for real once the training worker has ended
            return
        self.save_window_state()
        gc.unfreeze()       # the objects exempted in _warmed_up are collected normally again on the way out
        event.accept()
