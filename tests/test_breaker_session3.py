"""Breaker session 3: defects found by using the renderer's layouts, its exact re-make, the config rules, evaluate,
stop signals and bench_recipes.py as a demanding new user. One small test per finding (tiny settings, CPU); a
finding still open is an xfail(strict=True) test that passes once it is fixed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import save_palette_mask, scene_arrays
from PIL import Image
from test_renderer_training import TINY_RENDERER

from osmis_core.cli import main
from osmis_core.config import build_config
from osmis_core.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def _train_renderer(root: Path, mask: Image.Image, image: np.ndarray | None = None) -> Path:
    """A tiny renderer trained 2 iterations on the synthetic scene with `mask` as its training mask file."""
    from osmis_core.application.session import start_training

    img = scene_arrays()[0] if image is None else image
    (root / "data" / "image").mkdir(parents=True)
    (root / "data" / "mask").mkdir()
    Image.fromarray(img).save(root / "data" / "image" / "00000.png")
    mask.save(root / "data" / "mask" / "00000.png")
    list(start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), root / "data", root / "run").run())
    return root / "run"


@pytest.fixture(scope="module")
def palette_run(tmp_path_factory) -> Path:
    """A tiny renderer trained on the scene's 3-class palette mask (128x64 file, rendered at 64x32)."""
    root = tmp_path_factory.mktemp("breaker3pal")
    ids = scene_arrays()[1]
    save_palette_mask(ids, root / "m.png")
    return _train_renderer(root, Image.open(root / "m.png"))


# -- 1. layouts read by the training masks' rules ------------------------------------------------------------------

COLOURS_WITH_WHITE = [[0, 0, 0], [255, 255, 255], [200, 30, 30]]
COLOURS_WITH_GREY = [[0, 0, 0], [128, 128, 128], [200, 30, 30]]


@pytest.mark.parametrize(
    "colours",
    [
        pytest.param(
            COLOURS_WITH_WHITE,
            id="black-and-white",
        ),
        pytest.param(
            COLOURS_WITH_GREY,
            id="grey-class-colour",
        ),
    ],
)
def test_a_colour_layout_with_grey_looking_colours_keeps_its_class_colours(tmp_path, colours):
    """A renderer trained on an RGB colour mask; the layout is that mask (an RGB file) with its red object painted
    black: what is left are two class colours, which must be read as those classes (or refused), never as grey
    levels."""
    from osmis_core.application.render import load_renderer, training_layouts

    ids = scene_arrays()[1]
    rgb = np.array(colours, np.uint8)[ids]
    run = _train_renderer(tmp_path, Image.fromarray(rgb, "RGB"))
    renderer = load_renderer(run)
    edited = rgb.copy()
    edited[ids == 2] = 0
    expected = training_layouts(run)[0].file_ids.copy()
    expected[ids == 2] = 0
    got = renderer.decode_layout_image(Image.fromarray(edited, "RGB"), "edited.png")
    assert np.array_equal(got, expected), (np.unique(got), np.unique(expected))


def _grey_antialiased():
    ids = scene_arrays(256, 128)[1]
    return Image.fromarray(np.array([0, 128, 255], np.uint8)[ids]).resize((128, 64), Image.BILINEAR)


def _colour_antialiased():
    ids = scene_arrays(256, 128)[1]
    return Image.fromarray(np.array(COLOURS_WITH_WHITE, np.uint8)[ids]).resize((128, 64), Image.BILINEAR)


def _soft():
    from PIL import ImageFilter

    ids = scene_arrays()[1]
    return Image.fromarray(((ids > 0) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(3))


@pytest.mark.parametrize("make_mask", [_grey_antialiased, _colour_antialiased, _soft], ids=["grey", "colour", "soft"])
def test_the_training_mask_itself_is_accepted_as_a_layout(tmp_path, capsys, make_mask):
    from osmis_core.application.render import load_renderer, training_layouts

    run = _train_renderer(tmp_path, make_mask())
    layout = tmp_path / "data" / "mask" / "00000.png"
    code = main(["render", str(run), "--layout", str(layout), "--n", "1", "--out", str(tmp_path / "g")])
    assert code == 0, capsys.readouterr().err
    rendered = np.asarray(Image.open(tmp_path / "g" / "masks" / "0000.png"))
    assert np.array_equal(rendered, training_layouts(run)[0].ids)
    assert load_renderer(run).read_layout(layout).shape == rendered.shape


def test_an_edited_sparse_palette_mask_is_read_as_in_training_or_refused(tmp_path):
    from osmis_core.application.render import load_renderer

    ids = scene_arrays()[1]
    values = np.array([0, 2, 40], np.uint8)[ids]
    mask = Image.fromarray(values, "P")
    mask.putpalette([0, 0, 0] * 256)
    run = _train_renderer(tmp_path, mask)
    renderer = load_renderer(run)
    assert renderer.class_values == [0, 2, 40]
    edited = values.copy()
    edited[ids == 2] = 0  # the class of index 40 erased: indices 0 and 2 remain (classes 0 and 1 in training)
    layout = Image.fromarray(edited, "P")
    layout.putpalette([0, 0, 0] * 256)
    try:
        got = renderer.decode_layout_image(layout, "edited.png")
    except DataError as exc:  # refusing the ambiguous layout with one sentence is a fix too
        assert "edited.png" in str(exc)
        return
    assert np.array_equal(got, np.where(ids == 1, 1, 0))


def test_a_16_bit_black_and_white_layout_is_read_as_the_8_bit_one(tmp_path):
    from osmis_core.application.render import load_renderer

    ids = scene_arrays()[1] > 0
    run = _train_renderer(tmp_path, Image.fromarray((ids * 255).astype(np.uint8)))
    renderer = load_renderer(run)
    got = renderer.decode_layout_image(Image.fromarray((ids * 65535).astype(np.uint16)), "deep.png")
    assert np.array_equal(got, ids.astype(np.int64))


def test_an_unknown_grey_level_is_refused_naming_the_accepted_levels(tmp_path):
    from osmis_core.application.render import load_renderer

    ids = scene_arrays()[1]
    run = _train_renderer(tmp_path, Image.fromarray(np.array([0, 128, 255], np.uint8)[ids]))
    Image.fromarray(np.array([0, 64, 255], np.uint8)[ids]).save(tmp_path / "layout.png")
    with pytest.raises(DataError) as caught:
        load_renderer(run).read_layout(tmp_path / "layout.png")
    message = str(caught.value)
    assert "layout.png" in message and "64" in message and "128" in message, message


# -- 1b. exact re-make from the recorded seeds ---------------------------------------------------------------------


def _remade_equals_saved(run: Path, gallery: Path) -> list[bool]:
    from osmis_core.application.render import item_recipe, load_renderer

    renderer = load_renderer(run)
    out = []
    for item in json.loads((gallery / "manifest.json").read_text())["items"]:
        ids, recipe = item_recipe(renderer, gallery, item)
        saved = np.asarray(Image.open(gallery / item["image"]).convert("RGB"))
        out.append(bool(np.array_equal(renderer.render_recipe(ids, recipe), saved)))
    return out


def test_resample_instance_on_a_resized_layout_is_re_made_exactly(palette_run, tmp_path):
    ids = scene_arrays()[1]  # 128x64: the renderer renders at 64x32
    save_palette_mask(ids, tmp_path / "layout.png")
    gallery = tmp_path / "g"
    argv = ["render", str(palette_run), "--layout", str(tmp_path / "layout.png"), "--n", "1"]
    # (20, 16) is background in the 128x64 file, but inside the disc in the 64x32 mask the gallery keeps
    assert main([*argv, "--resample-instance", "20,16", "--resample-seed", "4", "--out", str(gallery)]) == 0
    assert _remade_equals_saved(palette_run, gallery) == [True]


def test_a_one_class_mask_rendered_from_an_osmis_gallery_is_re_made(palette_run, tmp_path):
    osmis_gallery = tmp_path / "osmis"
    (osmis_gallery / "masks").mkdir(parents=True)
    save_palette_mask(np.zeros((32, 64), np.uint8), osmis_gallery / "masks" / "0000.png")
    (osmis_gallery / "manifest.json").write_text(
        json.dumps({"items": [{"index": 0, "image": "images/0000.png", "mask": "masks/0000.png"}]})
    )
    gallery = tmp_path / "g"
    assert main(["render", str(palette_run), "--from", str(osmis_gallery), "--n", "1", "--out", str(gallery)]) == 0
    assert _remade_equals_saved(palette_run, gallery) == [True]


def test_the_manifest_resolution_is_true_for_every_photo_of_mixed_layouts(palette_run, tmp_path):
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    save_palette_mask(scene_arrays()[1][::2, ::2], layouts / "a.png")  # 64x32: the training size
    square = np.zeros((64, 64), np.uint8)
    square[:, 32:] = 1
    save_palette_mask(square, layouts / "b.png")  # 64x64: sides are multiples of 2^(m-1), rendered as is
    assert main(["render", str(palette_run), "--layouts", str(layouts), "--n", "1", "--out", str(tmp_path / "g")]) == 0
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    for item in manifest["items"]:
        h, w = np.asarray(Image.open(tmp_path / "g" / item["image"])).shape[:2]
        assert item.get("resolution", manifest["resolution"]) == [h, w], (item, manifest["resolution"])


def test_every_recorded_render_is_re_made_exactly_from_another_folder(palette_run, tmp_path, monkeypatch):
    """What works: seeds, noise modes, --resample-class, --resample REGION (layout resized with its region) and a
    layout at the render size with --resample-instance are re-made to the pixel from another working folder."""
    ids = scene_arrays()[1]
    work = tmp_path / "work"
    work.mkdir()
    save_palette_mask(ids, work / "big.png")
    save_palette_mask(ids[::2, ::2], work / "small.png")
    region = np.zeros(ids.shape, np.uint8)
    region[8:40, 20:60] = 255
    Image.fromarray(region).save(work / "region.png")
    monkeypatch.chdir(work)
    cases = {
        "seed": ["--layout", "big.png", "--n", "2", "--seed", "7"],
        "instance": ["--layout", "big.png", "--n", "2", "--noise", "instance"],
        "class": ["--layout", "big.png", "--n", "2", "--resample-class", "1", "--resample-seed", "9"],
        "inst": ["--layout", "small.png", "--n", "2", "--resample-instance", "19,16", "--resample-seed", "9"],
        "region": ["--layout", "big.png", "--n", "2", "--resample", "region.png", "--resample-seed", "3"],
    }
    for name, args in cases.items():
        assert main(["render", str(palette_run), *args, "--out", str(tmp_path / name)]) == 0
    monkeypatch.chdir(tmp_path)
    (work / "region.png").unlink()
    for name in cases:
        assert _remade_equals_saved(palette_run, tmp_path / name) == [True, True], name


def test_resample_seed_without_a_region_is_refused(palette_run, tmp_path, capsys):
    save_palette_mask(scene_arrays()[1], tmp_path / "layout.png")
    argv = ["render", str(palette_run), "--layout", str(tmp_path / "layout.png"), "--n", "1"]
    assert main([*argv, "--resample-seed", "3", "--out", str(tmp_path / "g")]) == 2
    assert "--resample-seed" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()


# -- 2. config rules -----------------------------------------------------------------------------------------------


def test_a_hand_written_config_keeps_its_values_for_a_renderer_run(tmp_path):
    import warnings

    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"lr_d": 2e-4, "batch_size": 5}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = build_config(None, path, {"model": "renderer"})
    said = " ".join(str(w.message) for w in caught)
    kept = (config.optimisation.lr_d, config.optimisation.batch_size) == (2e-4, 5)
    assert kept or ("lr_d" in said and "batch_size" in said), (config.optimisation, said)


def test_keep_best_from_a_config_file_names_the_file(scene, tmp_path, capsys):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"keep_best": "class_coverage", "masks": False}))
    run = tmp_path / "run"
    assert main(["train", str(scene), "--config", str(path), "--out", str(run), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "keep_best" in err, err
    assert not run.exists()


# -- 3. osmis evaluate on a render gallery -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render_gallery_dir(palette_run, tmp_path_factory) -> Path:
    """A render gallery of the palette run's training layout (2 photos; not rendered from an OSMIS gallery)."""
    from osmis_core.application.render import render_gallery

    return render_gallery(palette_run, None, tmp_path_factory.mktemp("breaker3gallery") / "g", n=2)


def test_two_stage_alignment_of_a_plain_render_gallery_says_why(palette_run, render_gallery_dir, capsys):
    argv = ["evaluate", str(render_gallery_dir), "--real", str(palette_run.parent / "data"), "--random-weights"]
    assert main([*argv, "--metrics", "two_stage_alignment", "--miou-steps", "2"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((render_gallery_dir / "metrics.json").read_text())["summary"]
    for key in ("alignment_rendered", "alignment_osmis"):
        assert isinstance(summary[key], str) or isinstance(summary.get(key + "_note"), str), summary
    assert "not a number" not in out, out


def test_an_infinite_time_budget_is_no_limit_or_one_sentence(palette_run, render_gallery_dir, capsys):
    argv = ["evaluate", str(render_gallery_dir), "--real", str(palette_run.parent / "data"), "--random-weights"]
    assert main([*argv, "--metrics", "diversity", "--time-budget", "inf"]) in (0, 2)
    assert "Traceback" not in capsys.readouterr().err


def test_the_gallery_page_shows_the_reason_of_a_null_locality(render_gallery_dir, tmp_path):
    import shutil

    from osmis_core.application.gallery import write_index_html
    from osmis_core.metrics.renderer_measures import PERFECT_LOCALITY

    gallery = tmp_path / "g"
    shutil.copytree(render_gallery_dir, gallery)
    manifest = json.loads((gallery / "manifest.json").read_text())
    summary = {"num_images": 2, "locality_class": None, "locality_class_note": PERFECT_LOCALITY}
    page = write_index_html(gallery, manifest, {"summary": summary, "per_image": [], "warnings": []}).read_text()
    table = page[page.index("<h2>Summary</h2>") : page.index("</table>")]
    assert "None" not in table and PERFECT_LOCALITY in table, table


# -- 4. stop signals -----------------------------------------------------------------------------------------------


def test_the_restart_command_after_an_abort_keeps_the_runs_options(tmp_path, capsys):
    from osmis_core.application.session import start_training

    img, ids = scene_arrays()
    (tmp_path / "data" / "image").mkdir(parents=True)
    (tmp_path / "data" / "mask").mkdir()
    Image.fromarray(img).save(tmp_path / "data" / "image" / "00000.png")
    save_palette_mask(ids, tmp_path / "data" / "mask" / "00000.png")
    run = tmp_path / "run"
    # started and aborted before its first checkpoint: run.json is written, no checkpoint is
    start_training(build_config(overrides={**TINY_RENDERER, "iters": 50}), tmp_path / "data", run)
    assert (run / "run.json").is_file() and not list(run.glob("checkpoints/*.pt"))
    assert main(["train", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    command = err[err.index("osmis train") :]
    assert "--config" in command or ("--model renderer" in command and "--ch-r 4" in command), err


def test_two_stage_resume_finishes_a_job_whose_renderer_stage_was_aborted_early(scene, tmp_path, capsys):
    from helpers import tiny_flags

    from osmis_core.application.session import start_training

    run = tmp_path / "run"
    flags = [*tiny_flags(), "--iters", "2", "--quiet"]
    assert main(["train", str(scene), *flags, "--out", str(run)]) == 0  # the OSMIS stage, done
    # the renderer stage started (run.json written) and was aborted before its first checkpoint
    start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), scene, run / "renderer")
    capsys.readouterr()
    renderer_flags = ["--ch-r", "4", "--spade-hidden", "8", "--ch-rd", "4"]
    argv = ["run", str(scene), "--two-stage", *flags, *renderer_flags, "--n", "2", "--metrics", "diversity"]
    argv += ["--out", str(run)]
    assert main([*argv, "--resume"]) == 0, capsys.readouterr().err
    assert list((run / "galleries").glob("two-stage-*"))


# -- 5. benchmarks/bench_recipes.py --------------------------------------------------------------------------------


def _bench_recipes(*args):
    """`python benchmarks/bench_recipes.py --tiny --eval-cost= --seeds 0 ARGS` run in this process (its main() with
    that command line, from the repository folder, with the script's folder on the path as Python puts it there):
    its exit code and what it printed, as its process would report them. A fresh Python importing torch costs
    seconds; what is tested is what the script says, returns and writes."""
    import contextlib
    import io
    import os
    import subprocess
    import sys
    from unittest import mock

    script = ROOT / "benchmarks" / "bench_recipes.py"
    argv = [str(script), "--tiny", "--eval-cost=", "--seeds", "0", *map(str, args)]
    out, err, cwd = io.StringIO(), io.StringIO(), os.getcwd()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(sys, "argv", argv))
        stack.enter_context(mock.patch.object(sys, "path", [str(script.parent), *sys.path]))  # --jobs workers too
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.callback(os.chdir, cwd)
        os.chdir(ROOT)
        import bench_recipes

        try:
            code = bench_recipes.main()
        except SystemExit as exc:  # argparse's own exits, as the script's process ends them
            code = 0 if exc.code is None else exc.code
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _no_image_case(tmp_path: Path) -> Path:
    """A case folder that exists but holds no image: its run fails at once with a DataError."""
    (tmp_path / "empty_case").mkdir()
    return tmp_path / "empty_case"


@pytest.mark.parametrize(
    ("option", "value"),
    [("--jobs", "0"), ("--stop-after", "-5"), ("--eval-cost", "nope"), ("--seeds", "a")],
)
def test_bench_recipes_refuses_odd_arguments_in_one_sentence(tmp_path, option, value):
    argv = ["--cases", _no_image_case(tmp_path), "--recipes", "quick", "--out", tmp_path / "study"]
    result = _bench_recipes(*argv, option, value)
    assert result.returncode == 2, result.stderr
    assert option in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "usage:" not in result.stderr  # the check under test, not a missing argument


@pytest.mark.slow  # two tiny studies, one after the other (about 15 s)
def test_bench_recipes_run_again_keeps_the_earlier_results(tmp_path):
    out = tmp_path / "study"
    argv = ["--cases", "datasets/example_scene", "--recipes", "quick", "--out", out]
    first = _bench_recipes(*argv)
    assert first.returncode == 0, first.stderr
    assert len(json.loads((out / "bench_recipes.json").read_text())["runs"]) == 1
    again = _bench_recipes(*argv)
    assert "Traceback" not in again.stderr, again.stderr
    kept = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert any(len(d.get("runs", [])) >= 1 for d in kept), again.stderr


@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_bench_recipes_records_a_run_that_raises_and_goes_on(tmp_path, jobs):
    bad = _no_image_case(tmp_path)
    out = tmp_path / "study"
    result = _bench_recipes(
        "--cases", f"{bad},datasets/example_scene", "--recipes", "quick", "--jobs", jobs, "--out", out
    )
    assert "Traceback" not in result.stderr, result.stderr
    study = json.loads((out / "bench_recipes.json").read_text())
    assert [r["case"] for r in study["runs"] if not r.get("failed")] == ["datasets/example_scene"], study["runs"]
    assert str(bad) in json.dumps({k: v for k, v in study.items() if k != "command"}), study
