"""Rendering layouts: library entry point, `osmis render` galleries, exact re-make from recorded seeds, locality of
resampling, bad inputs (docs/renderer.md sections 1, 3)."""

import json

import numpy as np
import pytest
import torch
from helpers import save_palette_mask, scene_arrays
from PIL import Image
from scipy import ndimage
from test_renderer_training import TINY, TINY_RENDERER

from osmis_core.application.render import Renderer, load_renderer
from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import start_training
from osmis_core.cli import main
from osmis_core.config import build_config
from osmis_core.errors import DataError
from osmis_core.models.renderer import (
    RendererGenerator,
    noise_map,
    receptive_radius,
    resample_noise,
)


@pytest.fixture(scope="module")
def renderer_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    img, ids = scene_arrays()
    (root / "scene" / "image").mkdir(parents=True)
    (root / "scene" / "mask").mkdir()
    Image.fromarray(img).save(root / "scene" / "image" / "00000.png")
    save_palette_mask(ids, root / "scene" / "mask" / "00000.png")
    trainer = start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), root / "scene", root / "run")
    list(trainer.run())
    return root


def _layout(renderer_run):
    return renderer_run / "scene" / "mask" / "00000.png"


def test_library_render_each_noise_mode(renderer_run):
    r = load_renderer(renderer_run / "run")
    ids = r.read_layout(_layout(renderer_run))
    assert ids.shape == r.size == (32, 64)
    a = r.render(ids, seed=1)
    assert a.shape == (32, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, r.render(ids, seed=1))
    assert not np.array_equal(a, r.render(ids, seed=2))
    inst = r.render(ids, seed=1, noise="instance")
    assert inst.shape == a.shape and not np.array_equal(inst, a)
    big = r.render(np.kron(ids, np.ones((2, 2), np.int64))[:, :96], seed=1)  # another size, multiple of 4
    assert big.shape == (64, 96, 3)


def test_cli_gallery_and_exact_remake(renderer_run, tmp_path):
    out = tmp_path / "g"
    assert (
        main(
            [
                "render",
                str(renderer_run / "run"),
                "--layout",
                str(_layout(renderer_run)),
                "--out",
                str(out),
                "--n",
                "3",
                "--seed",
                "7",
                "--noise",
                "instance",
                "--resample-class",
                "1",
                "--resample-seed",
                "11",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["items"]) == 3 and (out / "index.html").is_file()
    r = Renderer.load(renderer_run / "run")
    for item in manifest["items"]:
        assert (item["seed"], item["resample_seed"]) == (7 + item["index"], 11 + item["index"])
        ids = r.read_layout(item["layout"])
        region = ids == item["region"]["class"]
        again = r.render(ids, item["seed"], item["noise"], region, item["resample_seed"])
        assert np.array_equal(again, np.asarray(Image.open(out / item["image"]).convert("RGB")))
        assert np.array_equal(np.asarray(Image.open(out / item["mask"])), ids)


def test_resampling_changes_only_the_region_and_its_band(renderer_run, tmp_path):
    """The trained tiny renderer on a 4 x 3 tiling of its layout (another accepted size): re-rolling one instance
    changes nothing beyond the receptive radius (62 px here, wider than the training layout itself)."""
    r = Renderer.load(renderer_run / "run")
    ids = np.tile(r.read_layout(_layout(renderer_run)), (4, 3))  # 128 x 192
    from osmis_core.models.renderer import instance_labels

    inst, _ = instance_labels(ids)
    region = inst == inst[16, 45]  # the box of the top-left tile
    assert ids[16, 45] == 2 and region.sum() < (ids == 2).sum()
    radius = receptive_radius(r.generator.num_blocks)
    far = ~ndimage.binary_dilation(region, np.ones((3, 3), bool), iterations=radius)
    assert far.sum() > 0.25 * far.size
    for mode in ("global", "instance"):
        base = r.render(ids, 3, mode).astype(int)
        edited = r.render(ids, 3, mode, region, 4).astype(int)
        assert base.shape[:2] == ids.shape
        assert (edited[region] != base[region]).any()
        assert (edited[far] == base[far]).all()


def test_locality_bound_is_exact_on_a_tiny_generator():
    """Outside the region dilated by the receptive radius, the output does not change at all."""
    torch.manual_seed(0)
    g = RendererGenerator(3, 2, ch=4, hidden=8, z_dim=4).eval()
    ids = np.zeros((96, 96), np.int64)
    ids[40:60, 30:70] = 1
    ids[70:90, 5:25] = 2
    onehot = torch.nn.functional.one_hot(torch.from_numpy(ids), 3).permute(2, 0, 1)[None].float()
    z = noise_map(ids, 4, 0, "instance")
    region = np.zeros_like(ids, bool)
    region[:16, :16] = True
    z2 = resample_noise(z, noise_map(ids, 4, 1, "instance"), torch.from_numpy(region))
    with torch.no_grad():
        diff = (g(onehot, z[None]) - g(onehot, z2[None])).abs()[0].amax(0).numpy()
    radius = receptive_radius(2)
    assert radius < 40
    far = ~ndimage.binary_dilation(region, np.ones((3, 3), bool), iterations=radius)
    assert diff[region].max() > 0 and far.sum() > 5000
    assert diff[far].max() == 0


def _fails(capsys, args, *needles):
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_bad_inputs(renderer_run, tmp_path, capsys, scene):
    run = str(renderer_run / "run")
    out = tmp_path / "out"
    _, ids = scene_arrays()
    # a class id the renderer was not trained on
    bad = ids.copy()
    bad[0, 0] = 7
    save_palette_mask(bad, tmp_path / "unknown.png")
    _fails(
        capsys,
        ["render", run, "--layout", str(tmp_path / "unknown.png"), "--out", str(out)],
        "unknown.png",
        "class id 7",
    )
    # another aspect ratio, not a multiple of the accepted side
    save_palette_mask(ids[:, :90], tmp_path / "aspect.png")
    _fails(
        capsys,
        ["render", run, "--layout", str(tmp_path / "aspect.png"), "--out", str(out)],
        "aspect.png",
        "accepts 64x32",
    )
    # one class only
    save_palette_mask(np.ones_like(ids), tmp_path / "one.png")
    _fails(capsys, ["render", run, "--layout", str(tmp_path / "one.png"), "--out", str(out)], "one.png", "single class")
    # a region mask of another size
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(tmp_path / "region.png")
    _fails(
        capsys,
        [
            "render",
            run,
            "--layout",
            str(_layout(renderer_run)),
            "--resample",
            str(tmp_path / "region.png"),
            "--resample-seed",
            "1",
            "--out",
            str(out),
        ],
        "region.png",
        "10x10",
    )
    # a resample region without its seed
    _fails(
        capsys,
        ["render", run, "--layout", str(_layout(renderer_run)), "--resample-class", "2", "--out", str(out)],
        "--resample-seed",
    )
    # an OSMIS run given to osmis render
    osmis = tmp_path / "osmis"
    assert main(["train", str(scene), "--out", str(osmis), "--iters", "1", "--quiet", *TINY]) == 0
    capsys.readouterr()
    _fails(
        capsys,
        ["render", str(osmis), "--layout", str(_layout(renderer_run)), "--out", str(out)],
        str(osmis),
        "OSMIS run",
    )
    # a layouts folder where one file is bad: nothing is written
    (tmp_path / "many").mkdir()
    save_palette_mask(ids, tmp_path / "many" / "a.png")
    save_palette_mask(bad, tmp_path / "many" / "b.png")
    _fails(capsys, ["render", run, "--layouts", str(tmp_path / "many"), "--out", str(out)], "b.png")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_layouts_folder_and_colour_layouts(renderer_run, tmp_path):
    _, ids = scene_arrays()
    (tmp_path / "many").mkdir()
    save_palette_mask(ids, tmp_path / "many" / "a.png")
    colours = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], np.uint8)
    Image.fromarray(colours[ids]).save(tmp_path / "many" / "b.png")
    assert (
        main(
            [
                "render",
                str(renderer_run / "run"),
                "--layouts",
                str(tmp_path / "many"),
                "--out",
                str(tmp_path / "g"),
                "--n",
                "2",
            ]
        )
        == 0
    )
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert len(manifest["items"]) == 4
    a, b = (np.asarray(Image.open(tmp_path / "g" / manifest["items"][i]["mask"])) for i in (0, 2))
    assert np.array_equal(a, b)  # the colour layout decodes to the same class ids


def test_a_one_class_array_is_refused(renderer_run):
    r = Renderer.load(renderer_run / "run")
    with pytest.raises(DataError, match="single class"):
        r.fit_layout(np.zeros((32, 64), np.int64))


def test_two_stage_run(scene, tmp_path, capsys):
    """osmis run --two-stage: OSMIS and a renderer (RUN/renderer) on the same data; OSMIS's masks rendered into a
    second gallery of the run, RUN/galleries/two-stage-<name of the OSMIS gallery>."""
    run = tmp_path / "run"
    flags = [*TINY, "--ch-r", "4", "--spade-hidden", "8", "--ch-rd", "4"]
    assert (
        main(
            [
                "run",
                str(scene),
                "--two-stage",
                "--out",
                str(run),
                "--iters",
                "1",
                "--n",
                "2",
                "--quiet",
                "--metrics",
                "diversity",
                *flags,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "two-stage" in out
    galleries = {p.name: p for p in RunFolder(run).gallery_dirs()}
    (name,) = [n for n in galleries if not n.startswith("two-stage-")]
    gallery, two_stage = galleries[name], galleries[f"two-stage-{name}"]
    osmis = json.loads((gallery / "manifest.json").read_text())
    rendered = json.loads((two_stage / "manifest.json").read_text())
    assert rendered["kind"] == "render" and len(rendered["items"]) == 2
    assert (run / "renderer" / "run.json").is_file() and (two_stage / "metrics.json").is_file()
    for a, b in zip(osmis["items"], rendered["items"]):
        assert np.array_equal(
            np.asarray(Image.open(gallery / a["mask"])), np.asarray(Image.open(two_stage / b["mask"]))
        )


def test_two_stage_without_masks_fails_before_training(tmp_path, capsys):
    img, _ = scene_arrays()
    Image.fromarray(img).save(tmp_path / "alone.png")
    _fails(
        capsys,
        ["run", str(tmp_path / "alone.png"), "--two-stage", "--out", str(tmp_path / "run"), "--iters", "1", *TINY],
        "alone.png",
        "needs masks",
    )
    assert not (tmp_path / "run").exists()


def test_render_without_layouts_renders_the_training_layouts(tmp_path, capsys):
    """`osmis render RUN` (no --layout/--layouts/--from, no --out): n photos of each training layout of a run
    trained on a few labelled frames, into RUN/galleries/step_NNNNNNN-seedS-nN, each re-made exactly."""
    from osmis_core.application.render import training_layouts

    (tmp_path / "s" / "image").mkdir(parents=True)
    (tmp_path / "s" / "mask").mkdir()
    for i, seed in enumerate((0, 1)):
        img, ids = scene_arrays(seed=seed)
        img, ids = (img, ids) if i == 0 else (img[:, ::-1].copy(), ids[:, ::-1].copy())
        Image.fromarray(img).save(tmp_path / "s" / "image" / f"0000{i}.png")
        save_palette_mask(ids, tmp_path / "s" / "mask" / f"0000{i}.png")
    run = tmp_path / "run"
    list(start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), tmp_path / "s", run).run())
    layouts = training_layouts(run)
    assert [t.path for t in layouts] == [tmp_path / "s" / "mask" / "00000.png", tmp_path / "s" / "mask" / "00001.png"]
    assert not np.array_equal(layouts[0].ids, layouts[1].ids)

    assert main(["render", str(run), "--n", "2", "--seed", "3"]) == 0
    out = RunFolder(run).galleries / "step_0000002-seed3-n4"
    assert "rendered 4 photos of 2 layouts" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "training" and manifest["per_layout"] == 2
    assert [(it["layout"], it["seed"]) for it in manifest["items"]] == [
        (str(t.path.resolve()), s) for t in layouts for s in (3, 4)
    ]
    r = Renderer.load(run)
    for it, t in zip(manifest["items"], [t for t in layouts for _ in (0, 1)]):
        assert np.array_equal(np.asarray(Image.open(out / it["mask"])), t.ids)
        assert np.array_equal(np.asarray(Image.open(out / it["image"])), r.render(t.ids, it["seed"]))


def test_from_gallery_renders_all_background_masks_that_a_drawn_layout_may_not_be(renderer_run, tmp_path, capsys):
    """OSMIS can invent an all-background mask; the two-stage pipeline renders it (a layout the user gives must
    hold two classes). The quick preset's gallery of the example image holds such masks."""
    _, ids = scene_arrays()
    gallery = tmp_path / "osmis"
    (gallery / "masks").mkdir(parents=True)
    save_palette_mask(ids, gallery / "masks" / "0000.png")
    save_palette_mask(np.zeros_like(ids), gallery / "masks" / "0001.png")
    items = [{"index": i, "image": f"images/000{i}.png", "mask": f"masks/000{i}.png"} for i in (0, 1)]
    (gallery / "manifest.json").write_text(json.dumps({"items": items}))
    out = tmp_path / "rendered"
    assert main(["render", str(renderer_run / "run"), "--from", str(gallery), "--out", str(out), "--n", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["items"]) == 2
    assert np.unique(np.asarray(Image.open(out / manifest["items"][1]["mask"]))).tolist() == [0]
    capsys.readouterr()
    _fails(
        capsys,
        [
            "render",
            str(renderer_run / "run"),
            "--layout",
            str(gallery / "masks" / "0001.png"),
            "--out",
            str(tmp_path / "x"),
        ],
        "single class",
    )
    assert not (tmp_path / "x").exists()
