"""Entry point of the desktop app: `run_app(path)` (used by `osmis gui [PATH]` and `python main.py`)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from .main_window import MainWindow


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("OSMIS")
    app.setApplicationName("OSMIS Studio")
    app.setApplicationDisplayName("OSMIS Studio")
    return app


def run_app(path: str | None = None, threads: int | None = None) -> int:
    """Open the main window (with a run folder or DATA loaded when `path` is given) and run the event loop.

    An entry point: sets the CPU thread plan (osmis_core.threads; `threads` fixes the count) unless the `osmis`
    command did already and the app's process-wide settings (osmis_gui.startup), and raises OsmisError naming
    the system packages to install when Qt's platform plugin cannot load (instead of letting Qt abort)."""
    from osmis_core.threads import configure_threads

    from . import startup, tasks
    from .platform_check import check_platform

    configure_threads(threads)
    if QApplication.instance() is None:
        check_platform()
    app = create_app()
    startup.tune_process()
    window = MainWindow()
    startup.warm_up(window.state)
    window.show()
    if path:
        QTimer.singleShot(0, lambda: window.open_path(path))
    code = app.exec()
    tasks.wait_for_all(30_000)  # background jobs finish before the interpreter goes
    startup.release()
    return code
