"""What the refusals of a renderer's layouts say, and the library's reading of layout arrays: the accepted colours
and values come from one function that knows the run's mask kind (data.masks.accepted_values), the size refusal
says where the training size comes from, and an array of the training masks' values (0/255 of a black/white run)
is read as its file is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import save_palette_mask, scene_arrays
from PIL import Image
from test_breaker_session3 import _train_renderer

from osmis_core.cli import main
from osmis_core.errors import DataError


@pytest.fixture(scope="module")
def bw_run(tmp_path_factory) -> Path:
    """A tiny renderer trained on the scene's mask saved as a 0/255 black/white grey PNG (classes 0 and 1)."""
    root = tmp_path_factory.mktemp("bw")
    return _train_renderer(root, Image.fromarray(((scene_arrays()[1] > 0) * 255).astype(np.uint8)))


def _refusal(call) -> str:
    with pytest.raises(DataError) as caught:
        call()
    return str(caught.value)


# -- 1. the accepted colours are the run's ---------------------------------------------------------------------------


def test_a_black_and_white_renderer_names_black_and_white_as_its_class_colours(bw_run):
    from osmis_core.application.render import load_renderer

    renderer = load_renderer(bw_run)
    ids = scene_arrays()[1]
    rgb = np.repeat(((ids > 0) * 255).astype(np.uint8)[..., None], 3, -1)
    rgb[ids == 2] = [0, 255, 0]  # the box painted green: no class of a black/white run
    message = _refusal(lambda: renderer.decode_layout_image(Image.fromarray(rgb), "green.png"))
    assert "green.png: colour #00ff00" in message, message  # the foreign colour, not the white around it
    assert "#000000, #ffffff of its classes 0..1" in message, message
    assert "#e6194b of" not in message and "0..1: #000000, #e6194b" not in message, message
    # the project's palette is read too (a gallery mask saved as RGB) and is named as that
    gallery = np.array([[0, 0, 0], [0xE6, 0x19, 0x4B]], np.uint8)[(ids > 0).astype(int)]
    assert np.array_equal(renderer.decode_layout_image(Image.fromarray(gallery), "gallery.png"), ids > 0)
    assert "project's palette #000000, #e6194b" in message, message


def test_every_message_naming_what_a_layout_may_hold_says_the_same(bw_run, tmp_path):
    """The colour, grey-level and class-id refusals of one run name the accepted values by one function."""
    from osmis_core.application.render import load_renderer
    from osmis_core.data.masks import accepted_values

    renderer = load_renderer(bw_run)
    accepted = accepted_values(renderer.class_values, 2, renderer.mask_kind, renderer.class_colours)
    ids = scene_arrays()[1]
    bw = ((ids > 0) * 255).astype(np.uint8)
    grey = bw.copy()
    grey[ids == 2] = 128
    rgb = np.repeat(bw[..., None], 3, -1)
    rgb[ids == 2] = [0, 255, 0]
    Image.fromarray(ids).save(tmp_path / "ids.png")  # grey class ids 0, 1, 2: 2 is no class
    messages = [
        _refusal(lambda: renderer.decode_layout_image(Image.fromarray(grey), "grey.png")),
        _refusal(lambda: renderer.decode_layout_image(Image.fromarray(rgb), "rgb.png")),
        _refusal(lambda: renderer.read_layout(tmp_path / "ids.png")),
        _refusal(lambda: renderer.fit_layout(np.where(ids == 2, 7, ids))),
    ]
    for message in messages:
        assert f"({accepted}" in message, message
    assert "values 0, 255 of a black/white mask" in accepted and "#000000, #ffffff" in accepted, accepted


@pytest.mark.parametrize(
    ("values", "kind", "colours"),
    [
        ([0, 255], "binary", "#000000, #ffffff"),
        ([0, 65535], "binary", "#000000, #ffffff"),
        ([0, 255], "soft", "#000000, #ffffff"),
        ([0, 128, 255], "levels", "#000000, #808080, #ffffff"),
        ([0, 1, 2], "ids", "#000000, #e6194b, #3cb44b"),
    ],
)
def test_the_colours_a_layout_may_hold_follow_the_kind_of_the_training_masks(values, kind, colours):
    from osmis_core.data.masks import accepted_values
    from osmis_core.models.visual import palette

    text = accepted_values(values, len(values), kind)
    assert f"the colours {colours} of its classes 0..{len(values) - 1}" in text, text
    assert palette()[2].tolist() == [0x3C, 0xB4, 0x4B]  # the palette the last case names
    palette_run = accepted_values([0, 1, 2], 3, "ids", [[0, 0, 0], [255, 0, 0], [0, 0, 255]])
    assert "#000000, #ff0000, #0000ff of its classes 0..2" in palette_run, palette_run


# -- 2. the size refusal says where the training size comes from ----------------------------------------------------


def test_the_training_size_is_explained_by_the_data_and_max_size():
    from osmis_core.models.renderer import RendererArchitecture, recommend_renderer

    arch = recommend_renderer(320, 192, 64)
    assert (arch.width, arch.height, arch.multiple) == (64, 32, 16)
    assert (
        arch.origin() == "its 320x192 training data fitted into --max-size 64 is 64x38, rounded down to multiples of 16"
    )
    assert RendererArchitecture.from_dict(arch.to_dict()) == arch
    assert recommend_renderer(128, 64, 64).origin() == "its 128x64 training data fitted into --max-size 64 is 64x32"
    old = {k: v for k, v in arch.to_dict().items() if k not in ("data_size", "max_size")}
    assert RendererArchitecture.from_dict(old).origin() == ""  # a run recorded before: nothing made up


def test_the_size_refusal_of_a_5_to_3_run_states_the_sizes_it_accepts(tmp_path, capsys):
    """Data 320x192 (5:3) at --max-size 64 trains at 64x32 (64x38 rounded down to multiples of 16): the refusal of
    a 100x60 layout says so, with the other sizes it accepts."""
    img, ids = scene_arrays(320, 192)
    run = _train_renderer(tmp_path, Image.fromarray(((ids > 0) * 255).astype(np.uint8)), img)
    small = (np.asarray(Image.fromarray(ids).resize((100, 60), Image.NEAREST)) > 0).astype(np.uint8) * 255
    Image.fromarray(small).save(tmp_path / "small.png")
    code = main(["render", str(run), "--layout", str(tmp_path / "small.png"), "--n", "1", "--out", str(tmp_path / "g")])
    message = capsys.readouterr().err
    assert code == 2, message
    assert "the layout is 100x60; the renderer accepts 64x32, the size it was trained at" in message, message
    assert "320x192 training data fitted into --max-size 64 is 64x38, rounded down to multiples of 16" in message
    assert "its training size" not in message and "2:1 aspect ratio" in message and "multiples of 8" in message
    from osmis_core.application.render import load_renderer

    # a layout of the accepted kinds is read: the 2:1 aspect ratio (resized) and multiples of 8 (as it is)
    renderer = load_renderer(run)
    two = (ids > 0).astype(np.uint8)
    assert renderer.fit_layout(np.asarray(Image.fromarray(two).resize((128, 64), Image.NEAREST))).shape == (32, 64)
    assert renderer.fit_layout(np.asarray(Image.fromarray(two).resize((96, 64), Image.NEAREST))).shape == (64, 96)


# -- 3. the library reads an array as the CLI reads its file ---------------------------------------------------------


def test_a_0_255_array_of_a_black_and_white_run_is_read_as_its_file(bw_run, tmp_path, capsys):
    from osmis_core.application.render import load_renderer

    renderer = load_renderer(bw_run)
    bw = ((scene_arrays()[1] > 0) * 255).astype(np.uint8)
    Image.fromarray(bw).save(tmp_path / "bw.png")
    from_file = renderer.read_layout(tmp_path / "bw.png")
    for array in (bw, bw.astype(np.int64), bw.astype(np.int32)):
        assert np.array_equal(renderer.fit_layout(array), from_file)
    assert np.array_equal(renderer.render(bw, seed=3), renderer.render(from_file, seed=3))
    code = main(["render", str(bw_run), "--layout", str(tmp_path / "bw.png"), "--n", "1", "--out", str(tmp_path / "g")])
    assert code == 0, capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "g" / "masks" / "0000.png")), from_file)
    # a grey level that fills a region is refused as its file is; an id array stays ids
    grey = bw.copy()
    grey[scene_arrays()[1] == 2] = 128
    assert "grey level 128" in _refusal(lambda: renderer.fit_layout(grey))
    assert np.array_equal(renderer.fit_layout((bw > 0).astype(np.int64)), from_file)
    # a boolean map is classes 0 (False) and 1 (True), as the two-class id array it stands for
    assert np.array_equal(renderer.fit_layout(bw > 0), from_file)
    assert "float64" in _refusal(lambda: renderer.fit_layout((bw > 0).astype(float)))


def test_an_array_no_rule_reads_is_refused_saying_what_to_pass(tmp_path):
    from osmis_core.application.render import load_renderer

    colours = np.array([[0, 0, 0], [200, 30, 30], [30, 30, 200]], np.uint8)
    ids = scene_arrays()[1]
    run = _train_renderer(tmp_path, Image.fromarray(colours[ids], "RGB"))
    renderer = load_renderer(run)
    message = _refusal(lambda: renderer.fit_layout(((ids > 0) * 255).astype(np.uint8)))
    assert "class id 255" in message and "pass an H x W array of class ids 0..2" in message, message
    assert "read_layout" in message and "#c81e1e" in message, message
    assert "class id -1" in _refusal(lambda: renderer.fit_layout(ids.astype(np.int64) - 1))
    pal = tmp_path / "pal.png"
    save_palette_mask(ids, pal)
    assert renderer.read_layout(pal).shape == renderer.size
