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


def run_app(path: str | None = None) -> int:
    """Open the main window (with a run folder or DATA loaded when `path` is given) and run the event loop."""
    from . import tasks
    app = create_app()
    window = MainWindow()
    window.show()
    if path:
        QTimer.singleShot(0, lambda: window.open_path(path))
    code = app.exec()
    tasks.wait_for_all(30_000)     # background jobs finish before the interpreter goes
    return code
