"""Flood fill (a real click) fills exactly one 4-connected region; rectangle and lasso fill their shapes."""

import numpy as np
import pytest
from paint_helpers import click, stroke
from scipy import ndimage

pytestmark = pytest.mark.gui


def test_fill_fills_one_region(paint, qtbot):
    before = paint.layout_model.ids.copy()
    ys, xs = np.nonzero(before == 1)  # the disc of the scene
    x, y = int(xs[len(xs) // 2]), int(ys[len(ys) // 2])
    labels, _ = ndimage.label(before == 1)
    region = labels == labels[y, x]
    paint.set_tool("fill")
    paint.set_class(3)
    click(qtbot, paint, x, y)
    after = paint.layout_model.ids
    assert np.array_equal(after != before, region)
    assert (after[region] == 3).all()


def test_rectangle_and_lasso(paint, qtbot):
    paint.start_blank()
    paint.set_class(2)
    paint.set_tool("rect")
    stroke(qtbot, paint, [(3, 4), (8, 6), (10, 9)])
    expected = np.zeros_like(paint.layout_model.ids)
    expected[4:10, 3:11] = 2
    assert np.array_equal(paint.layout_model.ids, expected)
    paint.set_tool("lasso")
    paint.set_class(1)
    stroke(qtbot, paint, [(30, 5), (50, 5), (50, 20), (30, 20)])
    inside = paint.layout_model.ids == 1
    assert inside[6:20, 31:50].all() and inside.sum() <= 21 * 16 and not inside[:, :29].any()
