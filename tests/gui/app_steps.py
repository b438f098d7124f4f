"""Steps shared by the GUI tests: open data and change settings as a user would, then wait until the data view
has decoded and inspected it."""

from __future__ import annotations

from gui_helpers import TINY_GUI

LONG = 60_000  # ms; generous upper bounds, the waits end as soon as the condition holds


def load(window, qtbot, image, mask=None):
    window.open_data(str(image), str(mask) if mask else None)
    qtbot.waitUntil(lambda: window.data.preview is not None or bool(window.data.data_error), timeout=LONG)
    qtbot.waitUntil(lambda: not window.data.busy(), timeout=LONG)


def configure(window, qtbot, **extra):
    window.settings_page.set_options(**{**TINY_GUI, **extra})
    qtbot.waitUntil(lambda: not window.data.busy(), timeout=LONG)
