"""Every mask format of docs/model.md section 8 decodes to the right class ids."""

import numpy as np
import pytest
from helpers import scene_arrays
from PIL import Image

from osmis_core.data.masks import decode_masks
from osmis_core.errors import DataError


def _decode(img, **kw):
    ids, report = decode_masks([img], ["mask.png"], kw.pop("max_classes", 32), **kw)
    return ids[0], report


def test_palette_ids():
    _, ids = scene_arrays()
    im = Image.fromarray(ids, "P")
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    out, report = _decode(im)
    assert (out == ids).all() and report.num_classes == 3
    assert report.classes[1].colour == (255, 0, 0)


def test_grey_ids_and_binary_and_soft():
    _, ids = scene_arrays()
    out, report = _decode(Image.fromarray(ids, "L"))
    assert (out == ids).all() and report.kind == "ids"
    binary = (ids > 0).astype(np.uint8) * 255
    out, report = _decode(Image.fromarray(binary, "L"))
    assert report.kind == "binary" and (out == (ids > 0)).all()
    ramp = np.tile(np.linspace(0, 255, 128).astype(np.uint8), (8, 1))  # many grey levels
    out, report = _decode(Image.fromarray(ramp, "L"))
    assert report.kind == "soft" and report.num_classes == 2
    assert (out == (ramp >= 128)).all()


def test_sixteen_bit_binary():
    _, ids = scene_arrays()
    a = ((ids > 0) * 65535).astype(np.uint16)
    out, report = _decode(Image.fromarray(a))
    assert report.num_classes == 2 and (out == (ids > 0)).all()


def _noisy_colour_mask(black_bg=True):
    _, ids = scene_arrays()
    colours = np.array([[0, 0, 0] if black_bg else [30, 160, 240], [250, 10, 10], [10, 10, 250]])
    rgb = colours[ids].astype(int)
    rng = np.random.default_rng(0)
    rgb = np.clip(rgb + rng.integers(-3, 4, rgb.shape), 0, 255)  # colour noise
    edge = np.zeros_like(ids, bool)
    edge[:, 1:] = ids[:, 1:] != ids[:, :-1]
    rgb[edge] = (rgb[edge] + colours[0]) // 2  # anti-aliased edge pixels
    return ids, Image.fromarray(rgb.astype(np.uint8), "RGB")


def test_rgb_colour_mask_with_noise_and_antialiasing():
    ids, im = _noisy_colour_mask()
    out, report = _decode(im)
    assert report.kind == "colour" and report.num_classes == 3
    assert report.classes[0].colour[0] <= 12  # black is the background
    # classes after the background are ordered by pixel share: map each true class to its decoded id
    mapping = {k: np.bincount(out[ids == k]).argmax() for k in range(3)}
    assert mapping[0] == 0 and sorted(mapping.values()) == [0, 1, 2]
    agree = (np.vectorize(mapping.get)(ids) == out).mean()
    assert agree > 0.99  # colour noise merged; stray edge pixels go to a neighbouring class


def test_background_from_border_and_override():
    ids, im = _noisy_colour_mask(black_bg=False)
    out, report = _decode(im)
    assert (out[ids == 0] == 0).mean() > 0.97  # border colour chosen as background
    out, report = _decode(im, background_colour="#fa0a0a")
    assert (out[ids == 1] == 0).mean() > 0.97


def test_too_many_classes_names_the_limit():
    a = (np.arange(64 * 64) % 40).reshape(64, 64).astype(np.uint8)
    with pytest.raises(DataError, match="at most 32"):
        _decode(Image.fromarray(a, "P"), max_classes=32)


def test_joint_decoding_over_frames():
    m1 = np.zeros((8, 8), np.uint8)
    m2 = m1.copy()
    m2[2:4, 2:4] = 2
    ids, report = decode_masks([Image.fromarray(m1, "L"), Image.fromarray(m2, "L")], ["a", "b"], 32)
    assert report.num_classes == 3 and ids[1].max() == 2


def test_mask_kind_reads_as_english():
    from osmis_core.data.masks import KIND_PHRASES, MaskReport

    assert MaskReport("ids", 3).describe().startswith("3 classes from a class-id mask")
    assert MaskReport("colour", 2).describe().startswith("2 classes from an RGB colour-coded mask")
    assert set(KIND_PHRASES) == {"ids", "binary", "soft", "levels", "colour"}
