"""Layouts painted in the app as galleries (osmis_core.application.render): add_to_gallery appends renders with
their seeds and re-drawn regions, every photo re-made exactly from the manifest; save_layout writes an indexed
PNG that reads back; the two-stage renders of an OSMIS gallery go beside it."""

import json

import numpy as np
import pytest
from helpers import save_palette_mask, scene_arrays
from PIL import Image
from test_renderer_training import TINY_RENDERER

from osmis_core.application.gallery import export_selection
from osmis_core.application.render import (
    NoiseRecipe,
    Renderer,
    add_to_gallery,
    item_recipe,
    rendered_gallery_path,
    save_layout,
)
from osmis_core.application.session import start_training
from osmis_core.config import build_config
from osmis_core.errors import DataError
from osmis_core.models.visual import palette


@pytest.fixture(scope="module")
def renderer(tiny_renderer_run):
    return Renderer.load(tiny_renderer_run[0])


def test_add_to_gallery_appends_and_remakes_exactly(renderer, tmp_path):
    ids = np.zeros(renderer.size, np.int64)
    ids[8:20, 10:30] = 1
    ids[5:12, 40:60] = 2
    region = np.zeros(renderer.size, bool)
    region[:, :32] = True
    recipes = [NoiseRecipe(3), NoiseRecipe(4, "instance", ((region, 9), (ids == 2, 10)))]
    gallery = tmp_path / "run" / "galleries" / "paint"
    add_to_gallery(renderer, ids, recipes, gallery)
    manifest = add_to_gallery(renderer, ids, [NoiseRecipe(5)], gallery)
    assert [it["index"] for it in manifest["items"]] == [0, 1, 2] and manifest["kind"] == "render"
    assert json.loads((gallery / "manifest.json").read_text()) == manifest and (gallery / "index.html").is_file()
    assert not [p for p in gallery.parent.iterdir() if p.name.startswith(".")]  # no staging left
    assert len(manifest["items"][1]["resamples"]) == 2
    assert {it["run"] for it in manifest["items"]} == {manifest["run"]} == {str(renderer.run.resolve())}
    for item in manifest["items"]:
        layout, recipe = item_recipe(renderer, gallery, item)
        assert np.array_equal(layout, ids)
        again = renderer.render_recipe(layout, recipe)
        assert np.array_equal(again, np.asarray(Image.open(gallery / item["image"]).convert("RGB")))
    # the re-drawn regions changed the photo only where the noise changed
    plain = renderer.render_recipe(ids, NoiseRecipe(4, "instance"))
    assert not np.array_equal(plain, renderer.render_recipe(ids, recipes[1]))


def test_an_export_of_painted_renders_remakes_them_exactly(renderer, tmp_path):
    """Exporting a selection copies the region masks of its re-drawn regions too: the export is a gallery whose
    every file is there, and its photos are re-made from it alone."""
    ids = np.zeros(renderer.size, np.int64)
    ids[8:20, 10:30] = 1
    region = np.zeros(renderer.size, bool)
    region[:, :32] = True
    gallery = tmp_path / "paint"
    add_to_gallery(renderer, ids, [NoiseRecipe(1), NoiseRecipe(2, "global", ((region, 9),))], gallery)
    dest = tmp_path / "export"
    export_selection(gallery, [1], dest)
    (item,) = json.loads((dest / "manifest.json").read_text())["items"]
    assert (dest / item["resamples"][0]["region"]["mask"]).is_file()
    layout, recipe = item_recipe(renderer, dest, item)
    again = renderer.render_recipe(layout, recipe)
    assert np.array_equal(again, np.asarray(Image.open(dest / item["image"]).convert("RGB")))


def test_bad_targets_and_layouts(renderer, tmp_path):
    ids = np.zeros(renderer.size, np.int64)
    with pytest.raises(DataError, match="single class"):
        add_to_gallery(renderer, ids, [NoiseRecipe(0)], tmp_path / "g")
    assert not (tmp_path / "g").exists()
    ids[:4, :4] = 1
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="other files"):
        add_to_gallery(renderer, ids, [NoiseRecipe(0)], tmp_path / "busy")
    osmis = tmp_path / "osmis"
    osmis.mkdir()
    (osmis / "manifest.json").write_text(json.dumps({"items": []}))
    with pytest.raises(DataError, match="osmis: is a generated gallery; add renders to a render gallery"):
        add_to_gallery(renderer, ids, [NoiseRecipe(0)], osmis)


def test_save_layout_is_an_indexed_png_that_reads_back(renderer, tmp_path):
    ids = np.zeros(renderer.size, np.uint8)
    ids[3:9, 3:9] = 2
    path = save_layout(ids, tmp_path / "sub" / "layout.png")
    with Image.open(path) as im:
        assert im.mode == "P"
        assert np.array_equal(np.asarray(im.getpalette()[:9]).reshape(3, 3), palette()[:3])
    assert np.array_equal(renderer.read_editable_layout(path), ids)
    blank = save_layout(np.zeros(renderer.size, np.uint8), tmp_path / "blank.png")
    assert not renderer.read_editable_layout(blank).any()  # one class: fine for editing


def test_two_stage_gallery_goes_beside_the_osmis_gallery(tmp_path):
    assert (
        rendered_gallery_path(tmp_path / "runA" / "galleries" / "g1", tmp_path / "runR")
        == tmp_path / "runA" / "galleries" / "g1-rendered-runR"
    )


def test_training_layout_is_the_mask_as_training_saw_it(tmp_path):
    """A 120 x 70 mask trains at a rounded size of another aspect ratio: the layout to edit is that mask resized to
    the training size (which Renderer.read_layout would refuse), with the classes training decoded."""
    from osmis_core.application.render import training_layout

    img, ids = scene_arrays(w=120, h=70)
    (tmp_path / "s" / "image").mkdir(parents=True)
    (tmp_path / "s" / "mask").mkdir()
    Image.fromarray(img).save(tmp_path / "s" / "image" / "00000.png")
    save_palette_mask(ids, tmp_path / "s" / "mask" / "00000.png")
    list(
        start_training(
            build_config(overrides={**TINY_RENDERER, "iters": 1, "checkpoint_every": 1}),
            tmp_path / "s",
            tmp_path / "run",
        ).run()
    )
    r = Renderer.load(tmp_path / "run")
    layout = training_layout(tmp_path / "run")
    h, w = r.size
    assert layout.shape == (h, w) and abs(w / h - 120 / 70) > 0.05
    expected = np.asarray(Image.fromarray(ids.astype(np.int32), "I").resize((w, h), Image.NEAREST))
    assert np.array_equal(layout, expected)
