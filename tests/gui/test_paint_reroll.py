"""Re-rolling an instance picked with a click re-draws the photo there and leaves it unchanged outside the
instance dilated by the renderer's receptive radius (spec/renderer.md section 3)."""

import numpy as np
import pytest
from gui_helpers import qimage_array
from paint_helpers import click, wait_render
from scipy import ndimage

from osmis_core.application.render import Renderer, save_layout
from osmis_core.models.renderer import receptive_radius

pytestmark = pytest.mark.gui


def test_reroll_instance_changes_only_its_neighbourhood(paint, qtbot, renderer_run, tmp_path):
    renderer = Renderer.load(renderer_run)
    tiled = np.tile(paint.layout_model.ids, (4, 3))  # 128 x 192: room outside the receptive band
    path = save_layout(tiled, tmp_path / "tiled.png")
    assert paint.open_layout_file(str(path))  # start from a file
    paint.canvas.set_view(2, (10, 10))
    wait_render(qtbot, paint)
    before = qimage_array(paint.render_images[0])
    ids = paint.layout_model.ids
    ys, xs = np.nonzero(ids[:32, :64] == 1)  # the disc of the top-left tile
    x, y = int(xs[len(xs) // 2]), int(ys[len(ys) // 2])
    paint.set_tool("pick_instance")
    click(qtbot, paint, x, y)
    wait_render(qtbot, paint)
    after = qimage_array(paint.render_images[0])
    labels, _ = ndimage.label(ids == 1, np.ones((3, 3)))
    region = labels == labels[y, x]
    assert np.array_equal(paint.region.mask, region)
    radius = receptive_radius(renderer.architecture.num_blocks)
    band = ndimage.distance_transform_edt(~region) <= radius
    assert (~band).sum() > 0.2 * band.size  # the test compares a real area
    assert np.array_equal(after[~band], before[~band])
    assert np.abs(after[region].astype(int) - before[region].astype(int)).mean() > 0
