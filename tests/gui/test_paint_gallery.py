"""In the real window: a renderer run enables the Paint tab; 'Add to gallery' writes the current photo and a
locked variant with their seeds into RUN/galleries/<name>, which the Gallery page lists and shows; 'Edit layout'
on the Gallery page brings a gallery mask back to the Paint page."""

import json
from pathlib import Path

import numpy as np
import pytest
from paint_helpers import stroke, wait_render
from PIL import Image
from PySide6.QtCore import Qt

from osmis_core.application.render import Renderer, item_recipe

pytestmark = pytest.mark.gui
LONG = 60_000


def test_add_to_gallery_then_edit_layout(window, qtbot, renderer_run):
    assert not window.tabs.isTabEnabled(window.tabs.indexOf(window.paint))
    page = window.paint
    with qtbot.waitSignal(page.available_changed, timeout=LONG):
        window.open_run(renderer_run)
    assert window.tabs.isTabEnabled(window.tabs.indexOf(window.paint))
    window.tabs.setCurrentWidget(window.paint)
    qtbot.waitUntil(lambda: page.is_idle() and 0 in page.render_images, timeout=LONG)
    page.canvas.set_view(4, (10, 10))
    page.set_class(2)
    stroke(qtbot, page, [(20, 20), (30, 22)])
    wait_render(qtbot, page)
    page.lock_variant(0)
    name = f"paint-{id(page)}"
    page.gallery_edit.setText(name)
    with qtbot.waitSignal(page.gallery_added, timeout=LONG) as added:
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    folder = Path(added.args[0])
    assert folder == Path(renderer_run) / "galleries" / name and added.args[1] == 2

    g = window.gallery
    qtbot.waitUntil(lambda: g.gallery_combo.findData(str(folder)) >= 0, timeout=LONG)
    with qtbot.waitSignal(g.loaded, timeout=LONG):
        g.load_gallery(str(folder))
    assert g.list.count() == 2
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [it["seed"] for it in manifest["items"]] == [page.noise.seed, page.noise.slots[0].seed]
    renderer = Renderer.load(renderer_run)
    for item in manifest["items"]:
        ids, recipe = item_recipe(renderer, folder, item)
        assert np.array_equal(ids, page.layout_model.ids)
        assert np.array_equal(
            renderer.render_recipe(ids, recipe), np.asarray(Image.open(folder / item["image"]).convert("RGB"))
        )

    # Edit layout: the gallery's mask back on the canvas
    page.start_blank()
    g.list.setCurrentRow(0)
    assert g.edit_layout_action.isEnabled()
    g.edit_layout_action.trigger()
    assert window.tabs.currentWidget() is window.paint
    assert np.array_equal(page.layout_model.ids, np.asarray(Image.open(folder / manifest["items"][0]["mask"])))
    wait_render(qtbot, page)
