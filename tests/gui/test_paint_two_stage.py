"""On the Gallery page of an OSMIS run, 'Render these masks with…' a renderer run writes a new gallery (the
two-stage pipeline) beside the shown one: one render per OSMIS mask, listed and shown by the page."""

import json
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import TINY_GUI, make_scene
from PIL import Image

from osmis_core.application.render import Renderer

pytestmark = pytest.mark.gui
LONG = 60_000


def test_render_these_masks_with_a_renderer_run(window, qtbot, tmp_path, renderer_run):
    from osmis_core.application.gallery import generate_gallery
    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    image, _ = make_scene(tmp_path / "data")
    osmis_run = tmp_path / "osmis"
    list(start_training(OsmisConfig().replace(**{**TINY_GUI, "iters": 2}), image, osmis_run).run())
    source = osmis_run / "galleries" / "g1"
    generate_gallery(osmis_run, source, n=3, seed=1, device="cpu")

    g = window.gallery
    with qtbot.waitSignal(g.loaded, timeout=LONG):
        window.open_run(osmis_run)
    assert g.gallery_dir == str(source) and g.render_masks_action.isEnabled()
    assert not window.tabs.isTabEnabled(window.tabs.indexOf(window.paint))
    with qtbot.waitSignal(g.loaded, timeout=LONG):
        g.render_masks_with(str(renderer_run))
    out = Path(g.gallery_dir)
    assert out == source.parent / f"g1-rendered-{Path(renderer_run).name}"
    assert g.list.count() == 3 and g.gallery_combo.findData(str(out)) >= 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "render" and manifest["run"] == str(Path(renderer_run).resolve())
    renderer = Renderer.load(renderer_run)
    for src, item in zip(json.loads((source / "manifest.json").read_text())["items"], manifest["items"]):
        assert np.array_equal(np.asarray(Image.open(out / item["mask"])), renderer.read_layout(source / src["mask"]))
    assert not g.render_masks_action.isEnabled()  # a render gallery's masks are the renderer's layouts
