"""GUI tests run offscreen with isolated QSettings and a tiny synthetic image + mask."""

from __future__ import annotations

import faulthandler
import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported anywhere

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from gui_helpers import make_scene  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "gui: drives the real desktop window (offscreen)")


@pytest.fixture(autouse=True)
def _no_endless_hang():
    """A GUI test that hangs (a dead-locked worker, a modal dialog) dumps every thread's stack and ends the run
    instead of blocking CI forever."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def scene(tmp_path) -> tuple[Path, Path]:
    return make_scene(tmp_path / "data")


@pytest.fixture
def window(qtbot, tmp_path):
    """The real main window with settings in a temporary ini file; no thread outlives the test."""
    from PySide6.QtCore import QSettings

    from osmis_gui import startup, tasks
    from osmis_gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("training/runs_root", str(tmp_path / "runs"))
    startup.tune_process()  # as run_app does
    win = MainWindow(settings)
    startup.warm_up(win.state)
    win.confirm = lambda title, text: True  # no blocking dialogs in tests
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    if win.training.control is not None:
        win.training.control.request_stop()
    assert tasks.wait_for_all(60_000), "background jobs still running after the test"
    qtbot.wait(10)  # deliver the last queued signals before the window goes


@pytest.fixture(scope="session")
def _trained_run_base(tmp_path_factory):
    """A finished 4-iteration run made headlessly through the engine, with one 6-sample gallery."""
    from gui_helpers import TINY_GUI

    from osmis_core.application.gallery import generate_gallery
    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    root = tmp_path_factory.mktemp("trained")
    image, _ = make_scene(root / "data")
    config = OsmisConfig().replace(**{**TINY_GUI, "iters": 4})
    trainer = start_training(config, image, root / "run")
    events = list(trainer.run())
    assert type(events[-1]).__name__ == "TrainingFinished"
    generate_gallery(root / "run", root / "run" / "galleries" / "g1", n=6, seed=1, device="cpu")
    return root / "run"


@pytest.fixture
def trained_run(_trained_run_base, tmp_path) -> Path:
    """A copy of the finished run for one test (a test may continue it or add galleries)."""
    import shutil

    return Path(shutil.copytree(_trained_run_base, tmp_path / "run"))


@pytest.fixture(scope="session")
def renderer_run(tmp_path_factory) -> Path:
    """A tiny layout renderer trained for 2 iterations on the synthetic scene (shared by the Paint page tests)."""
    from gui_helpers import TINY_RENDERER_GUI

    from osmis_core.application.session import start_training
    from osmis_core.config import build_config

    root = tmp_path_factory.mktemp("renderer")
    image, mask = make_scene(root / "data")
    trainer = start_training(build_config(overrides={**TINY_RENDERER_GUI, "iters": 2}), image, root / "run", mask)
    assert type(list(trainer.run())[-1]).__name__ == "TrainingFinished"
    return root / "run"


@pytest.fixture
def paint(qtbot, tmp_path, renderer_run):
    """The Paint page on its own (no window) with the tiny renderer loaded and its first render shown; the canvas
    shows the layout at 4 widget pixels per layout pixel, corner at (10, 10)."""
    from PySide6.QtCore import QSettings

    from osmis_gui import tasks
    from osmis_gui.paint_page import PaintPage

    page = PaintPage(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    with qtbot.waitSignal(page.available_changed, timeout=60_000):
        page.set_run(str(renderer_run), True, "cpu")
    qtbot.waitUntil(lambda: page.is_idle() and 0 in page.render_images, timeout=60_000)
    page.canvas.set_view(4, (10, 10))
    yield page
    assert tasks.wait_for_all(60_000)
    qtbot.wait(10)
