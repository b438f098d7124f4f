"""A brush stroke made with real mouse events changes exactly the pixels within the brush of its path; Ctrl+Z and
Ctrl+Shift+Z undo and redo it."""

import itertools

import numpy as np
import pytest
from paint_helpers import stroke
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def _near_path(shape, points, r):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    near = np.zeros(shape, bool)
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        near |= (xx - x0 - t * dx) ** 2 + (yy - y0 - t * dy) ** 2 <= r * r
    return near


def test_stroke_paints_exactly_its_pixels_and_undo_restores_them(paint, qtbot):
    before = paint.layout_model.ids.copy()
    paint.set_tool("brush")
    paint.set_class(2)
    paint.size_spin.setValue(2)
    path = [(6, 6), (14, 8), (24, 8), (30, 20)]
    stroke(qtbot, paint, path)
    after = paint.layout_model.ids
    expected = np.where(_near_path(before.shape, path, 2), 2, before)
    assert np.array_equal(after, expected)
    assert (after != before).any()

    paint.canvas.setFocus()
    qtbot.keyClick(paint.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(paint.layout_model.ids, before)
    qtbot.keyClick(paint.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(paint.layout_model.ids, expected)

    # the eraser paints class 0
    paint.set_tool("eraser")
    stroke(qtbot, paint, [(40, 20), (41, 20)])
    assert (paint.layout_model.ids[18:23, 39:43][_near_path((5, 4), [(1, 2), (2, 2)], 2)] == 0).all()
