"""Real mouse gestures on the Paint page's canvas (layout pixel coordinates)."""

from __future__ import annotations

from PySide6.QtCore import Qt

LEFT = Qt.MouseButton.LeftButton


def stroke(qtbot, page, points: list[tuple[int, int]]) -> None:
    c = page.canvas
    qtbot.mousePress(c, LEFT, pos=c.widget_pos(*points[0]))
    for p in points[1:]:
        qtbot.mouseMove(c, pos=c.widget_pos(*p))
    qtbot.mouseRelease(c, LEFT, pos=c.widget_pos(*points[-1]))


def click(qtbot, page, x: int, y: int) -> None:
    qtbot.mouseClick(page.canvas, LEFT, pos=page.canvas.widget_pos(x, y))


def wait_render(qtbot, page) -> None:
    """Until the renders of the current layout are shown and nothing else runs."""
    qtbot.waitUntil(page.is_idle, timeout=60_000)
