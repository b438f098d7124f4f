"""Zoom (mouse wheel, around the pointer) and pan (middle-button drag) move the view; a click still hits the layout
pixel under the pointer."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui


def test_wheel_zoom_and_middle_drag_pan_keep_clicks_on_their_pixel(paint, qtbot):
    c = paint.canvas
    under = c.widget_pos(20, 10)
    wheel = QWheelEvent(
        QPointF(under),
        QPointF(c.mapToGlobal(under)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(c, wheel)
    assert c.scale == pytest.approx(4 * 1.25**2)
    assert (c.widget_pos(20, 10) - under).manhattanLength() <= 2  # zoomed around the pointer
    start = c.widget_pos(30, 15)
    qtbot.mousePress(c, Qt.MouseButton.MiddleButton, pos=start)
    qtbot.mouseMove(c, pos=start + QPoint(-40, -25))
    qtbot.mouseRelease(c, Qt.MouseButton.MiddleButton, pos=start + QPoint(-40, -25))
    assert c.widget_pos(30, 15) == start + QPoint(-40, -25)
    before = paint.layout_model.ids.copy()
    paint.set_tool("rect")  # a one-pixel rectangle: exactly the pixel under the pointer
    paint.set_class(3)
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=c.widget_pos(30, 15))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=c.widget_pos(30, 15))
    expected = before.copy()
    expected[15, 30] = 3
    assert np.array_equal(paint.layout_model.ids, expected)
