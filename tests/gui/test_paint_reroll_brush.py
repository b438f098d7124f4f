"""A region brushed with the re-roll brush (real mouse events) and re-rolled with the button: the current photo
changes inside and stays the same beyond the renderer's receptive band around the region."""

import numpy as np
import pytest
from gui_helpers import qimage_array
from paint_helpers import stroke, wait_render
from PySide6.QtCore import Qt
from scipy import ndimage

from osmis_core.application.render import Renderer, save_layout
from osmis_core.models.renderer import receptive_radius

pytestmark = pytest.mark.gui


def test_brushed_region_reroll(paint, qtbot, renderer_run, tmp_path):
    renderer = Renderer.load(renderer_run)
    assert paint.open_layout_file(str(save_layout(np.tile(paint.layout_model.ids, (4, 3)), tmp_path / "t.png")))
    paint.canvas.set_view(2, (10, 10))
    wait_render(qtbot, paint)
    before = qimage_array(paint.render_images[0])
    paint.set_tool("region")
    paint.size_spin.setValue(3)
    stroke(qtbot, paint, [(10, 10), (20, 12)])
    region = paint.region.mask.copy()
    assert 20 < region.sum() < 200
    assert not paint.layout_model.can_undo()  # the re-roll brush leaves the layout alone
    qtbot.mouseClick(paint.reroll_button, Qt.MouseButton.LeftButton)
    wait_render(qtbot, paint)
    after = qimage_array(paint.render_images[0])
    band = ndimage.distance_transform_edt(~region) <= receptive_radius(renderer.architecture.num_blocks)
    assert (~band).sum() > 0.2 * band.size
    assert np.array_equal(after[~band], before[~band])
    assert (after[region] != before[region]).any()
    assert len(paint.noise.rerolls) == 1
