"""Importing the app changes nothing in the process; its entry point applies the process-wide settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_changes_nothing_and_startup_applies_the_settings():
    code = (
        "import gc, sys\n"
        "interval = sys.getswitchinterval()\n"
        "import osmis_gui, osmis_gui.main_window, osmis_gui.app, osmis_gui.startup\n"
        "assert sys.getswitchinterval() == interval, 'switch interval changed on import'\n"
        "assert gc.get_freeze_count() == 0, 'gc.freeze on import'\n"
        "assert sys.getrefcount(None) < 2 ** 40, 'reference counts inflated on import'\n"
        "from osmis_gui import startup, tasks\n"
        "assert tasks._worker_setup is None\n"
        "startup.tune_process()\n"
        "assert sys.getswitchinterval() <= startup.SWITCH_INTERVAL_S\n"
        "assert tasks._worker_setup is startup.lower_thread_priority\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
