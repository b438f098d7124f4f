"""A render of the painted layout arrives (debounced, in a worker) and is exactly the renderer's photo of that
layout and noise; clicking a variant of the strip makes it the current photo; a locked variant keeps its noise."""

import numpy as np
import pytest
from gui_helpers import qimage_array
from paint_helpers import stroke, wait_render
from PySide6.QtCore import Qt

from osmis_core.application.render import NoiseRecipe, Renderer

pytestmark = pytest.mark.gui


def test_render_arrives_and_matches_the_engine(paint, qtbot, renderer_run):
    renderer = Renderer.load(renderer_run)
    paint.set_tool("brush")
    paint.set_class(3)
    paint.size_spin.setValue(3)
    with qtbot.waitSignal(paint.rendered, timeout=60_000, check_params_cb=lambda i: i == 0):
        stroke(qtbot, paint, [(40, 10), (55, 12)])
    wait_render(qtbot, paint)
    ids = paint.layout_model.ids
    shown = qimage_array(paint.render_images[0])
    assert np.array_equal(shown, renderer.render_recipe(ids, NoiseRecipe(paint.noise.seed, "global")))
    assert paint.view.has_image()

    # strip: K variants with other noises; click one -> current; a locked one keeps its seed through an edit
    assert paint.strip.count() == paint.k_spin.value() == 4
    seeds = [s.seed for s in paint.noise.slots]
    assert len(set(seeds + [paint.noise.seed])) == 5
    item = paint.strip.item(1)
    qtbot.mouseClick(paint.strip.viewport(), Qt.MouseButton.LeftButton, pos=paint.strip.visualItemRect(item).center())
    qtbot.waitUntil(lambda: paint.noise.seed == seeds[1], timeout=5000)
    wait_render(qtbot, paint)
    assert np.array_equal(qimage_array(paint.render_images[0]), qimage_array(paint.render_images[2]))
    paint.lock_variant(2)
    stroke(qtbot, paint, [(5, 25), (12, 25)])
    wait_render(qtbot, paint)
    after = [s.seed for s in paint.noise.slots]
    assert after[2] == seeds[2] and after[0] != seeds[0]
    assert np.array_equal(
        qimage_array(paint.render_images[3]),
        renderer.render_recipe(paint.layout_model.ids, NoiseRecipe(seeds[2], "global")),
    )
