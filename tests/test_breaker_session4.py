"""Breaker session 4: defects found by reading layouts of every mask kind, re-making old and new render galleries,
restarting runs stopped before their first checkpoint and driving bench_recipes.py as a demanding new user. One
small test per finding (tiny settings, CPU); a finding still open is an xfail(strict=True) test that passes once it
is fixed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import save_palette_mask, scene_arrays
from PIL import Image
from test_breaker_session3 import _train_renderer

from osmis_core.cli import main
from osmis_core.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
COLOURS = np.array([[0, 0, 0], [200, 30, 30], [30, 30, 200]], np.uint8)  # background, disc, box


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory) -> Path:
    """A tiny renderer trained on the scene's mask saved as an RGB colour mask (black, red disc, blue box)."""
    root = tmp_path_factory.mktemp("breaker4colour")
    return _train_renderer(root, Image.fromarray(COLOURS[scene_arrays()[1]], "RGB"))


@pytest.fixture(scope="module")
def palette_run(tmp_path_factory) -> Path:
    """A tiny renderer trained on the scene's 3-class palette mask (128x64 file, rendered at 64x32)."""
    root = tmp_path_factory.mktemp("breaker4pal")
    save_palette_mask(scene_arrays()[1], root / "m.png")
    return _train_renderer(root, Image.open(root / "m.png"))


def _decode(run: Path, img: Image.Image, name: str = "layout.png"):
    """The renderer's class ids of a layout image, or the DataError it raises."""
    from osmis_core.application.render import load_renderer

    try:
        return load_renderer(run).decode_layout_image(img, name)
    except DataError as exc:
        return exc


# -- 1. layouts read by the training masks' rules ------------------------------------------------------------------


def test_an_indexed_png_of_the_colour_training_mask_is_read_by_its_colours(colour_run):
    rgb = Image.fromarray(COLOURS[scene_arrays()[1]], "RGB")
    indexed = rgb.quantize(colors=3, method=Image.Quantize.MEDIANCUT)  # same picture, palette order of its own
    assert np.array_equal(np.asarray(indexed.convert("RGB")), np.asarray(rgb))
    got = _decode(colour_run, indexed, "indexed.png")
    if isinstance(got, DataError):  # a refusal naming the file is acceptable too
        assert "indexed.png" in str(got)
        return
    as_rgb = _decode(colour_run, rgb, "rgb.png")
    assert np.array_equal(as_rgb, np.array([0, 2, 1])[scene_arrays()[1]])  # class ids by colour (black first)
    assert np.array_equal(got, as_rgb)


def test_a_palette_layout_with_the_training_colours_in_another_order_keeps_its_classes(palette_run):
    ids = scene_arrays()[1]
    swapped = np.array([0, 2, 1], np.uint8)[ids]
    layout = Image.fromarray(swapped, "P")
    layout.putpalette([0, 0, 0, 0, 0, 255, 255, 0, 0] + [0] * 759)  # index 1 blue, index 2 red
    got = _decode(palette_run, layout, "swapped.png")
    if isinstance(got, DataError):
        assert "swapped.png" in str(got)
        return
    assert np.array_equal(got, ids)  # red is class 1 (the disc) and blue class 2 (the box), as in training


def test_a_grey_region_on_a_black_and_white_renderer_is_refused(tmp_path):
    ids = scene_arrays()[1]
    bw = ((ids > 0) * 255).astype(np.uint8)
    run = _train_renderer(tmp_path, Image.fromarray(bw))
    layout = bw.copy()
    layout[ids == 2] = 128  # the box painted mid-grey: a region of its own
    got = _decode(run, Image.fromarray(layout), "grey-box.png")
    assert isinstance(got, DataError), np.unique(got[ids == 2])
    assert "grey-box.png" in str(got) and "128" in str(got) and "255" in str(got), str(got)


def test_a_thin_line_of_a_foreign_colour_is_refused_or_reported(colour_run, tmp_path, capsys):
    rgb = COLOURS[scene_arrays()[1]].copy()
    rgb[10:12, :] = [0, 255, 0]
    Image.fromarray(rgb, "RGB").save(tmp_path / "road.png")
    code = main(
        ["render", str(colour_run), "--layout", str(tmp_path / "road.png"), "--n", "1"] + ["--out", str(tmp_path / "g")]
    )
    out = capsys.readouterr()
    said = (out.out + out.err).lower()
    assert code == 2 or "#00ff00" in said or "green" in said, said


def test_layouts_drawn_like_the_training_masks_are_read_as_classes(tmp_path):
    """What works: a 0/128/255 grey-level renderer reads ids, 16-bit, RGB, RGBA, LA and palette-of-grey copies of
    its mask, and a thin anti-aliasing line of grey 200 goes to the nearest class."""
    ids = scene_arrays()[1]
    levels = np.array([0, 128, 255], np.uint8)[ids]
    run = _train_renderer(tmp_path, Image.fromarray(levels))
    copies = {
        "ids": Image.fromarray(ids),
        "16-bit": Image.fromarray(levels.astype(np.uint16) * 257),
        "rgb": Image.fromarray(levels).convert("RGB"),
        "rgba": Image.fromarray(levels).convert("RGBA"),
        "la": Image.fromarray(levels).convert("LA"),
    }
    for name, img in copies.items():
        got = _decode(run, img, name)
        assert isinstance(got, np.ndarray) and np.array_equal(got, ids), name
    line = levels.copy()
    line[10, :] = 200
    expected = ids.copy()
    expected[10, :] = 2
    assert np.array_equal(_decode(run, Image.fromarray(line)), expected)


def test_a_class_id_beyond_a_black_and_white_renderer_is_named(tmp_path):
    from osmis_core.application.render import load_renderer

    ids = scene_arrays()[1]
    run = _train_renderer(tmp_path, Image.fromarray(((ids > 0) * 255).astype(np.uint8)))
    Image.fromarray(ids).save(tmp_path / "ids.png")  # grey class ids 0, 1, 2
    with pytest.raises(DataError) as caught:
        load_renderer(run).read_layout(tmp_path / "ids.png")
    message = str(caught.value)
    assert "single class" not in message and " 2 " in message, message


def test_an_8_bit_layout_of_a_16_bit_grey_level_renderer(tmp_path):
    ids = scene_arrays()[1]
    run = _train_renderer(tmp_path, Image.fromarray(np.array([0, 32768, 65535], np.uint16)[ids]))
    got = _decode(run, Image.fromarray(np.array([0, 128, 255], np.uint8)[ids]), "eight.png")
    if isinstance(got, DataError):
        assert "32896" not in str(got) and "128" in str(got), str(got)
        return
    assert np.array_equal(got, ids)


# -- 2. exact re-make of galleries made before the regions were kept -------------------------------------------------


def _old_gallery_remade(run: Path, gallery: Path) -> list:
    """Re-make every item of a render gallery with its `resamples` removed (as galleries made before regions were
    kept record them): True/False per item, or the DataError."""
    from osmis_core.application.render import item_recipe, load_renderer

    renderer = load_renderer(run)
    out = []
    for item in json.loads((gallery / "manifest.json").read_text())["items"]:
        assert item.pop("resamples", None), item  # the new gallery keeps the region
        try:
            ids, recipe = item_recipe(renderer, gallery, item)
        except DataError as exc:
            out.append(exc)
            continue
        saved = np.asarray(Image.open(gallery / item["image"]).convert("RGB"))
        out.append(bool(np.array_equal(renderer.render_recipe(ids, recipe), saved)))
    return out


def test_an_old_instance_item_of_a_resized_layout_is_not_re_made_silently_wrong(palette_run, tmp_path):
    save_palette_mask(scene_arrays()[1], tmp_path / "big.png")  # 128x64: rendered at 64x32
    gallery = tmp_path / "g"
    # (20, 16) is background in the 128x64 file, but inside the disc in the 64x32 mask the gallery keeps
    argv = ["render", str(palette_run), "--layout", str(tmp_path / "big.png"), "--n", "1"]
    assert main([*argv, "--resample-instance", "20,16", "--resample-seed", "5", "--out", str(gallery)]) == 0
    got = _old_gallery_remade(palette_run, gallery)
    assert got == [True] or isinstance(got[0], DataError), got


@pytest.mark.parametrize("region", ["file", "instance"])
def test_an_old_region_item_of_a_resized_layout_is_re_made(palette_run, tmp_path, region):
    ids = scene_arrays()[1]
    save_palette_mask(ids, tmp_path / "big.png")
    mask = np.zeros(ids.shape, np.uint8)
    mask[8:40, 20:60] = 255
    Image.fromarray(mask).save(tmp_path / "region.png")
    how = ["--resample", str(tmp_path / "region.png")] if region == "file" else ["--resample-instance", "40,32"]
    argv = ["render", str(palette_run), "--layout", str(tmp_path / "big.png"), "--n", "1", *how]
    assert main([*argv, "--resample-seed", "5", "--out", str(tmp_path / "g")]) == 0
    assert _old_gallery_remade(palette_run, tmp_path / "g") == [True]


def test_renders_of_another_run_are_not_added_to_a_gallery_silently(palette_run, tmp_path):
    from osmis_core.application.render import NoiseRecipe, add_to_gallery, load_renderer

    ids = scene_arrays()[1]
    save_palette_mask(ids, tmp_path / "layout.png")
    gallery = tmp_path / "g"
    assert (
        main(["render", str(palette_run), "--layout", str(tmp_path / "layout.png"), "--n", "1", "--out", str(gallery)])
        == 0
    )
    other = _train_renderer(tmp_path / "other", Image.open(tmp_path / "layout.png"))
    try:
        manifest = add_to_gallery(load_renderer(other), ids, [NoiseRecipe(3, "global", ())], gallery)
    except DataError as exc:
        assert str(gallery) in str(exc)
        return
    added = manifest["items"][-1]
    assert added.get("run") == str(other.resolve()), (manifest["run"], added)


def test_two_stage_resume_after_an_osmis_stage_stopped_before_its_first_checkpoint(scene, tmp_path, capsys):
    from helpers import TINY, tiny_flags

    from osmis_core.application.session import start_training
    from osmis_core.config import build_config

    run = tmp_path / "run"
    start_training(build_config(overrides={**TINY, "iters": 2}), scene, run)  # stopped before its first checkpoint
    flags = [*tiny_flags(), "--iters", "2", "--quiet", "--ch-r", "4", "--spade-hidden", "8", "--ch-rd", "4"]
    argv = ["run", str(scene), "--two-stage", *flags, "--n", "2", "--metrics", "diversity", "--out", str(run)]
    code = main([*argv, "--resume"])
    err = capsys.readouterr().err
    if code == 2:  # a refusal must then give the command that finishes the two-stage job
        assert "osmis run" in err and "--two-stage" in err, err
        return
    assert code == 0, err
    assert list((run / "galleries").glob("two-stage-*"))


# -- 4. benchmarks/bench_recipes.py --------------------------------------------------------------------------------


def _bench(tmp_path: Path, *args):
    from test_breaker_session3 import _bench_recipes, _no_image_case

    return _bench_recipes("--cases", _no_image_case(tmp_path), "--recipes", "quick", *args)


@pytest.mark.parametrize(
    ("option", "value"), [("--iters-scale", "nan"), ("--iters-scale", "-1"), ("--stop-after", "nan")]
)
def test_bench_recipes_refuses_a_meaningless_number(tmp_path, option, value):
    result = _bench(tmp_path, option, value, "--out", tmp_path / "study")
    assert result.returncode == 2 and option in result.stderr, result.stderr
    assert not (tmp_path / "study").exists()


def test_bench_recipes_out_that_is_a_file_is_one_sentence(tmp_path):
    (tmp_path / "study.txt").write_text("mine\n")
    result = _bench(tmp_path, "--out", tmp_path / "study.txt")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "study.txt" in result.stderr, result.stderr
    assert (tmp_path / "study.txt").read_text() == "mine\n"


def test_bench_recipes_refuses_a_repeated_seed(tmp_path):
    from test_breaker_session3 import _bench_recipes

    out = tmp_path / "study"
    result = _bench_recipes("--cases", "datasets/example_scene", "--recipes", "quick", "--seeds", "0,0", "--out", out)
    assert result.returncode == 2 and "--seeds" in result.stderr, result.stderr


def test_a_second_gpu_recipe_study_does_not_hand_back_the_first_ones_results(tmp_path):
    import os
    import subprocess
    import sys

    for name in ("benchmarks", "datasets"):
        (tmp_path / name).symlink_to(ROOT / name)
    earlier = tmp_path / "runs" / "gpu-study" / "recipes"
    earlier.mkdir(parents=True)
    (earlier / "bench_recipes.json").write_text(json.dumps({"command": "the earlier study", "runs": []}))
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        ["bash", "benchmarks/gpu_recipe_study.sh", str(tmp_path / "second"), "quick-ada", "60", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    handed_back = tmp_path / "second" / "bench_recipes.json"
    assert result.returncode != 0 or not handed_back.exists() or "earlier" not in handed_back.read_text(), (
        result.stdout + result.stderr
    )


def test_a_paint_page_layout_flattened_to_rgb_is_read_by_a_colour_renderer(colour_run, tmp_path):
    from osmis_core.application.render import save_layout

    ids = scene_arrays()[1]
    save_layout(ids, tmp_path / "painted.png")
    assert np.array_equal(_decode(colour_run, Image.open(tmp_path / "painted.png")), ids)  # as saved: read
    flat = Image.open(tmp_path / "painted.png").convert("RGB")
    got = _decode(colour_run, flat, "painted-rgb.png")
    assert isinstance(got, np.ndarray) and np.array_equal(got, ids), got


def test_a_foreign_colour_region_is_refused_naming_the_class_colours(colour_run):
    ids = scene_arrays()[1]
    rgb = COLOURS[ids].copy()
    rgb[ids == 2] = [0, 255, 0]
    got = _decode(colour_run, Image.fromarray(rgb, "RGB"), "green-box.png")
    assert isinstance(got, DataError)
    message = str(got).lower()
    assert "green-box.png" in message and "#c81e1e" in message and "#1e1ec8" in message, message


# -- 3. the restart command after a stop before the first checkpoint ------------------------------------------------


@pytest.mark.parametrize("model", ["osmis", "renderer"])
def test_the_suggested_restart_command_runs_with_spaces_and_a_mask_file(tmp_path, capsys, model):
    """What works: the command `osmis train RUN --resume` suggests for a run stopped before its first checkpoint,
    with --mask and spaces in every path, runs as printed (shlex) and keeps the run's kind."""
    import shlex

    from helpers import TINY
    from test_renderer_training import TINY_RENDERER

    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig, build_config

    img, ids = scene_arrays()
    data, masks, run = tmp_path / "my data", tmp_path / "my masks", tmp_path / "my run"
    (data / "image").mkdir(parents=True)
    masks.mkdir()
    Image.fromarray(img).save(data / "image" / "00000.png")
    save_palette_mask(ids, masks / "m 0.png")
    overrides = {**(TINY_RENDERER if model == "renderer" else TINY), "iters": 2}
    start_training(build_config(overrides=overrides), data, run, mask_path=masks / "m 0.png")
    assert main(["train", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    argv = shlex.split(err[err.index("osmis train") :].strip())
    assert argv[:2] == ["osmis", "train"] and "--mask" in argv
    assert main(argv[1:]) == 0, capsys.readouterr().err
    config = OsmisConfig.from_dict(json.loads((run / "run.json").read_text())["config"])
    assert config.flat()["model"] == model and config.run.iters == 2
    assert list((run / "checkpoints").glob("step_*.pt"))


def test_bench_recipes_records_a_missing_case_in_the_json(tmp_path):
    from test_breaker_session3 import _bench_recipes, _no_image_case

    missing = tmp_path / "no_such_case"
    cases = f"{missing},{_no_image_case(tmp_path)}"
    result = _bench_recipes("--cases", cases, "--recipes", "quick", "--out", tmp_path / "study")
    assert result.returncode == 0, result.stderr
    study = json.loads((tmp_path / "study" / "bench_recipes.json").read_text())
    assert str(missing) in json.dumps({k: v for k, v in study.items() if k != "command"}), study
