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


def test_layouts_are_read_by_the_kind_of_the_training_masks():
    """data.masks.layout_ids: a grey level filling a region of its own is no class of a black/white mask (refused,
    naming it) but a soft mask's level (thresholded); the grey class ids 0/1/2 are refused naming 2 for a
    black/white renderer; an anti-aliased black/white layout goes to the nearest class."""
    from osmis_core.data.masks import layout_ids

    _, ids = scene_arrays()
    bw = (ids > 0).astype(np.uint8) * 255
    grey_box = bw.copy()
    grey_box[ids == 2] = 128
    with pytest.raises(DataError, match=r"box.png: grey level 128 .*values 0, 255 of a black/white mask"):
        layout_ids(Image.fromarray(grey_box), [0, 255], 2, mask_kind="binary", name="box.png")
    soft = layout_ids(Image.fromarray(grey_box), [0, 255], 2, mask_kind="soft")
    assert np.array_equal(soft, ids > 0)
    assert np.array_equal(layout_ids(Image.fromarray(grey_box), [0, 255], 2), soft)  # kind unknown: as before
    with pytest.raises(DataError, match=r"ids.png: grey level 2 fills"):
        layout_ids(Image.fromarray(ids), [0, 255], 2, mask_kind="binary", name="ids.png")
    big = (scene_arrays(256, 128)[1] > 0).astype(np.uint8) * 255
    edges = Image.fromarray(big).resize((128, 64), Image.BILINEAR)
    assert len(np.unique(np.asarray(edges))) > 2
    out = layout_ids(edges, [0, 255], 2, mask_kind="binary")
    assert np.array_equal(out, np.asarray(edges) >= 128)


def test_an_8_bit_layout_is_read_by_16_bit_training_levels():
    from osmis_core.data.masks import layout_ids

    _, ids = scene_arrays()
    eight = Image.fromarray(np.array([0, 128, 255], np.uint8)[ids])
    assert np.array_equal(layout_ids(eight, [0, 32768, 65535], 3, mask_kind="levels"), ids)
    sixteen = Image.fromarray(np.array([0, 32768, 65535], np.uint16)[ids])
    assert np.array_equal(layout_ids(sixteen, [0, 128, 255], 3, mask_kind="levels"), ids)
    # training levels one 8-bit level apart stay apart: the 8-bit layout is scaled up to them
    white = Image.fromarray(np.full(ids.shape, 255, np.uint8))
    assert np.array_equal(layout_ids(white, [0, 100, 65535], 3, mask_kind="levels"), np.full(ids.shape, 2))


def test_a_layout_whose_values_are_ids_and_other_training_values_is_refused_unless_in_the_project_palette():
    from osmis_core.data.masks import layout_ids
    from osmis_core.models.visual import palette

    _, ids = scene_arrays()
    layout = np.where(ids == 1, 2, 0).astype(np.uint8)  # index 2: class 1 of the training values 0/2/40, or id 2
    edited = Image.fromarray(layout, "P")
    edited.putpalette([0, 0, 0] * 256)
    with pytest.raises(DataError, match="edited.png"):
        layout_ids(edited, [0, 2, 40], 3, name="edited.png")
    saved = Image.fromarray(layout, "P")  # as a gallery or the paint page saves it: class ids
    saved.putpalette(palette().ravel().tolist())
    assert np.array_equal(layout_ids(saved, [0, 2, 40], 3), layout)
    assert np.array_equal(layout_ids(edited, [0, 1, 40], 3), layout)  # no other class: ids


def test_a_thin_line_of_a_colour_no_mix_of_the_classes_gives_is_not_an_edge():
    """data.masks.layout_colour_ids: a 2-pixel line of pure green across a colour layout has no interior pixels but
    is no blend of the class colours (-1, for the caller to name); the anti-aliased edges of every PIL resizing
    filter, Lanczos overshoot included, go to the nearest class."""
    from osmis_core.data.masks import layout_colour_ids

    colours = np.array([[0, 0, 0], [200, 30, 30], [30, 30, 200]])
    ids = scene_arrays()[1]
    road = colours[ids].astype(np.uint8)
    road[10:12, :] = [0, 255, 0]
    got = layout_colour_ids(road, colours)
    assert (got[10:12] == -1).all() and np.array_equal(np.delete(got, [10, 11], 0), np.delete(ids, [10, 11], 0))
    big = colours[scene_arrays(256, 128)[1]].astype(np.uint8)
    for how in (Image.BILINEAR, Image.BICUBIC, Image.LANCZOS, Image.HAMMING, Image.BOX):
        resized = np.asarray(Image.fromarray(big).resize((128, 64), how))
        assert (layout_colour_ids(resized, colours) >= 0).all(), how


def _anti_aliased_layouts() -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB layout, class colours) pairs: the layouts of the tests above, datasets/example_scene's mask resized
    bilinearly, and random ones (2..6 random class colours, ellipses and lines drawn at 4x, resized down with every
    PIL filter; a painted foreign line on some)."""
    from pathlib import Path

    from PIL import ImageDraw

    colours = np.array([[0, 0, 0], [200, 30, 30], [30, 30, 200]])
    ids = scene_arrays()[1]
    road = colours[ids].astype(np.uint8)
    road[10:12, :] = [0, 255, 0]
    out = [(colours[ids].astype(np.uint8), colours), (road, colours)]
    big = colours[scene_arrays(256, 128)[1]].astype(np.uint8)
    filters = (Image.BILINEAR, Image.BICUBIC, Image.LANCZOS, Image.HAMMING, Image.BOX)
    out += [(np.asarray(Image.fromarray(big).resize((128, 64), f)), colours) for f in filters]
    scene = Image.open(Path(__file__).resolve().parents[1] / "datasets" / "example_scene" / "mask" / "00000.png")
    pal = np.asarray(scene.getpalette()[:768]).reshape(-1, 3)
    scene_rgb = scene.convert("RGB")
    out.append((np.asarray(scene_rgb.resize((160, 96), Image.BILINEAR)), pal[np.unique(np.asarray(scene))]))
    rng = np.random.default_rng(7)
    for n in range(12):
        k = 2 + n % 5
        cs = rng.integers(0, 256, (k, 3))
        canvas = Image.new("P", (384, 192), 0)
        canvas.putpalette(cs.astype(np.uint8).ravel().tolist() + [0] * 3 * (256 - k))
        d = ImageDraw.Draw(canvas)
        for _ in range(6):
            x, y = rng.random(2) * (384, 192)
            r = rng.random(2) * (80, 60) + 8
            d.ellipse([x - r[0], y - r[1], x + r[0], y + r[1]], fill=int(rng.integers(1, k)))
            d.line(
                [tuple(rng.random(2) * (384, 192)), tuple(rng.random(2) * (384, 192))],
                fill=int(rng.integers(k)),
                width=12,
            )
        rgb = np.asarray(canvas.convert("RGB").resize((96, 48), filters[n % len(filters)])).copy()
        if n % 3 == 0:
            rgb[20, :] = rng.integers(0, 256, 3)  # a 1-pixel line of a random colour
        out.append((rgb, cs))
    return out


def test_the_mix_check_decides_as_nnls_alone_does(monkeypatch):
    """data.masks._mixes_within (nnls only for colours no blend of two classes is near) gives the decision of
    nnls on every colour, and layout_colour_ids the same ids and refusals, on the layouts of these tests and random
    anti-aliased ones."""
    from osmis_core.data import masks

    asked, reached = 0, 0
    layouts = _anti_aliased_layouts()
    fast_ids = [masks.layout_colour_ids(rgb, cs) for rgb, cs in layouts]
    for rgb, cs in layouts:
        u = np.unique(rgb.reshape(-1, 3), axis=0).astype(np.int64)
        fast = masks._mixes_within(u, cs, masks._MIX_TOLERANCE)
        plain = masks._distance_to_mixes(u, cs) <= masks._MIX_TOLERANCE
        assert np.array_equal(fast, plain), u[fast != plain]
        asked += len(u)
        reached += int((~masks._on_segments(u, cs, masks._MIX_TOLERANCE)).sum())
    assert 0 < reached < asked  # both ways of deciding were taken
    monkeypatch.setattr(masks, "_mixes_within", lambda c, k, tol: masks._distance_to_mixes(c, k) <= tol)
    refused = 0
    for (rgb, cs), fast in zip(layouts, fast_ids):
        plain = masks.layout_colour_ids(rgb, cs)
        assert np.array_equal(fast, plain)
        refused += bool((plain < 0).any())
    assert 0 < refused < len(layouts)


def test_a_mix_of_three_classes_far_from_every_pair_is_left_to_nnls():
    from osmis_core.data import masks

    classes = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255], [0, 255, 0]])
    centre = np.array([[85, 85, 85]])  # the mean of red, green and blue: a mix of three, far from each pair's
    assert not masks._on_segments(centre, classes, masks._MIX_TOLERANCE).any()
    assert masks._mixes_within(centre, classes, masks._MIX_TOLERANCE).all()
    assert not masks._mixes_within(np.array([[255, 255, 0]]), classes, masks._MIX_TOLERANCE).any()  # yellow
