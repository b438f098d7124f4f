"""Breaker session 21 (the library as a Python user, `osmis evaluate` and its outputs, the gallery page, odd
inputs): one small test per finding (tiny settings, CPU).

Found and fixed:
- two trainers started at once in two threads of one process interleaved their draws from torch's global RNG while
  building their networks: neither got its seed's model; a metric's random-weight networks built in another thread
  (a trainer's first evaluation) reset the global RNG under a trainer's build. Every seeded section of the global
  RNG now runs one at a time (osmis_core.rng).
- generate_gallery took seed -1, a float seed, a seed above torch's range (a RuntimeError/ValueError from torch),
  precision "fp16" (silently fp32), ema "no" (recorded in the manifest) and n above the CLI's limit.
- a run held by this process's own unfinished `trainer.run()` iterator (a loop left with break) was refused as
  "being trained by another process (process N)", N this very process.
- resume_training(run, {"iterz": 8}) ended in KeyError, {"iters": "8"} in a TypeError; start_training with a dict
  for its config in an AttributeError.
- latent_walk took frames 2.5, "10", fps 2.5 or True, seed None: a TypeError/AttributeError from torch or PyAV.
- `osmis evaluate` of a gallery with a mask deleted by hand dropped all masks silently (mIoU: "needs masks of the
  generated and the real images"); one resized mask or all masks resized ended in a ValueError traceback (exit 1);
  an image of another size was refused without naming it.
- evaluate_gallery(metrics="diversity") read the string letter by letter, metrics=[] computed every default metric,
  sifid_dims=64 / max_frames=0 / device "gpu" ended in Python or torch errors, time_budget -1 or NaN and
  miou_steps 1.5 were taken.
- render_gallery took layouts as str only in a list of Paths (AttributeError), [] (IndexError), seed -1 or 1.5 and
  a seed whose later photos pass torch's range; export_selection took [1.7] as item 1 and ended in ValueError for
  ["a"] or the --select text "0,2".
- `osmis evaluate` of an export (items 0, 2, 3) numbered its per-image rows 0, 1, 2: the page showed item 2 with
  item 3's score and item 3 with none (the app's columns pair rows by index too).
- `--out .` (generate, export, render, or a library call) from an empty folder or from inside the gallery drew
  everything, then failed with ".: the gallery cannot be written (Device or resource busy)".
- `osmis evaluate G --real RUN` (or --real a gallery) said "the folder holds no images".
- the evaluation plan said "pixel diversity: about under 1 s".
- the gallery page said "image, class mask, overlay" for a run without masks (images only) and "EMA generator"
  for a render gallery; a picture whose name holds '#', '%' or '?' was linked unquoted (a broken image).

Tried and right: the README's library loop (typed events, losses["g_total"]), pause/resume/stop from another
thread (TrainingPaused/Resumed, a checkpoint at the stop), trainers run one after another in one process (equal
weights), Path and str arguments, a relative run folder with os.chdir before trainer.run() (files land in the
run), generate_gallery n 0/-1/2.0/"2", batch_size 0, a bad checkpoint word or step, device "gpu"/"cuda" without a
GPU, a gallery or a plain folder given as the run; latent_walk frames 0, a .avi name, checkpoint "best" without
one; build_config's bad preset, key, type, NaN; `osmis evaluate` of a 1-sample gallery (reasons in JSON, CSV and
page), a deleted/corrupt/truncated/empty image (named, exit 2), an extra file (ignored), --time-budget 0 (reasons
with commas quoted in metrics.csv), --json; the page in headless Chromium: images, masks, overlays, scores and
skipped reasons shown, a run or gallery path with spaces, '#', '%', '?' and accents; an EXIF-rotated JPEG with a
mask drawn over the shown picture, 16-bit grey, RGBA, CMYK, an RGB mask with bilinear anti-aliased edges, a 16-bit
mask with ids 0/300/600 or 256..258: classes found and aligned with the image in training and in evaluation.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
import torch
from helpers import TINY, folder_bytes, osmis_cli
from PIL import Image

from osmis_core.application.animate import latent_walk
from osmis_core.application.gallery import export_selection, generate_gallery, read_manifest, write_index_html
from osmis_core.application.session import start_training
from osmis_core.config import MAX_SAMPLES, MAX_SEED, build_config
from osmis_core.errors import ConfigError, OsmisError


def _generator_weights(run, step: int) -> dict:
    return torch.load(run / "checkpoints" / f"step_{step:07d}.pt", weights_only=True)["generator"]


def test_two_trainers_in_two_threads_each_train_their_seeds_model(scene, tmp_path):
    """Two runs of the same config trained at the same time in two threads end with the same weights as one run
    trained alone: each trainer builds its networks from its own seed, whatever the other thread draws."""
    config = build_config(overrides={**TINY, "iters": 2, "seed": 1})
    alone = tmp_path / "alone"
    list(start_training(config, scene, alone).run())
    barrier = threading.Barrier(2)  # the builds are what raced: both start at once

    def build_and_train(i: int) -> None:
        barrier.wait()
        list(start_training(config, scene, tmp_path / f"both{i}").run())

    threads = [threading.Thread(target=build_and_train, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = _generator_weights(alone, 2)
    for i in range(2):
        got = _generator_weights(tmp_path / f"both{i}", 2)
        assert all(torch.equal(got[k], want[k]) for k in want), f"run {i} trained another model"


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"n": MAX_SAMPLES + 1}, "--n"),
        ({"seed": -1}, "--seed"),
        ({"seed": 1.5}, "--seed"),
        ({"seed": 2**70}, "--seed"),
        ({"seed": "3"}, "--seed"),
        ({"precision": "fp16"}, "--precision"),
        ({"ema": "no"}, "ema"),
    ],
)
def test_generate_gallery_refuses_a_bad_argument_by_name(trained, tmp_path, kwargs, names):
    """The library's generate_gallery checks its numbers and words itself (the CLI's argparse is not there to):
    one ConfigError naming the argument, before anything is written."""
    out = tmp_path / "gallery"
    with pytest.raises(ConfigError, match=names):
        generate_gallery(trained, out, **{"n": 1, **kwargs})
    assert not out.exists()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"frames": 2.5}, "--frames"),
        ({"frames": "10"}, "--frames"),
        ({"fps": 2.5}, "--fps"),
        ({"fps": True}, "--fps"),
        ({"seed": None}, "--seed"),
    ],
)
def test_latent_walk_refuses_a_number_that_is_not_whole(trained, tmp_path, kwargs, name):
    """latent_walk with a float, a string, a bool or None for a number: one OsmisError naming it, not a TypeError
    from torch or PyAV after the model was loaded."""
    out = tmp_path / "walk.mp4"
    with pytest.raises(OsmisError, match=f"{name} must be between .* \\(a whole number\\)"):
        latent_walk(trained, out, **{"frames": 4, **kwargs})
    assert not out.exists()


@pytest.fixture
def gallery3(trained, tmp_path) -> Path:
    """A 3-pair gallery of the tiny trained run."""
    return generate_gallery(trained, tmp_path / "g", n=3)


def _evaluate_err(capsys, gallery: Path) -> tuple[int, str]:
    real = Path(json.loads((gallery.parent / "run" / "run.json").read_text())["data"]["path"])
    done = osmis_cli(capsys, "evaluate", gallery, "--real", real, "--random-weights", "--metrics", "diversity")
    return done.returncode, done.stderr


def test_evaluate_names_a_mask_deleted_from_a_gallery(gallery3, capsys):
    """A gallery whose manifest lists a mask that was deleted by hand is refused naming that mask (exit 2), as a
    deleted image is; before, the masks were silently dropped and mIoU said the gallery had none."""
    (gallery3 / "masks" / "0001.png").unlink()
    code, err = _evaluate_err(capsys, gallery3)
    assert code == 2
    assert f"{gallery3 / 'masks' / '0001.png'}: listed in the manifest but missing" in err
    assert not (gallery3 / "metrics.json").exists()
    (gallery3 / "manifest.json").unlink()  # a plain folder of images/ and masks/
    code, err = _evaluate_err(capsys, gallery3)
    assert code == 2 and "masks/0001.png: missing from the gallery's masks/" in err


def test_evaluate_names_a_resized_mask_or_image(gallery3, capsys):
    """A picture of another size than the gallery's (a mask resized by hand, one image replaced) is refused naming
    the file and both sizes, exit 2, not a ValueError traceback from numpy or the mIoU code."""
    mask = gallery3 / "masks" / "0002.png"
    Image.open(mask).resize((48, 32), Image.NEAREST).save(mask)
    code, err = _evaluate_err(capsys, gallery3)
    assert code == 2 and f"{mask}: the generated mask is 48x32, not 96x48 as 0000.png" in err
    for name in ("0000.png", "0001.png"):
        m = gallery3 / "masks" / name
        Image.open(m).resize((48, 32), Image.NEAREST).save(m)
    code, err = _evaluate_err(capsys, gallery3)
    assert code == 2 and "masks/0000.png: the mask's size differs from its image's (0000.png)" in err
    Image.new("RGB", (50, 50)).save(gallery3 / "images" / "0001.png")
    code, err = _evaluate_err(capsys, gallery3)
    assert code == 2 and "images/0001.png: the generated image is 50x50, not 96x48 as 0000.png" in err


def _page_text(folder: Path) -> str:
    return (folder / "index.html").read_text(encoding="utf-8")


def test_gallery_page_names_the_pictures_it_shows(tmp_path):
    """The page's line under the title lists the pictures its items hold: a run without masks shows images only
    (it said "image, class mask, overlay"), and a render gallery's are photos rendered from layouts, not samples of
    an EMA generator."""
    texture = {"run": "/r", "checkpoint_step": 2, "seed": 0, "items": [{"index": 0, "image": "images/0.png"}]}
    write_index_html(tmp_path, texture)
    assert "1 sample from <bdi>/r</bdi> at step 2\n(EMA generator, seed 0); image.</p>" in _page_text(tmp_path)
    pairs = [{"index": 0, "image": "images/0.png", "mask": "masks/0.png", "overlay": "overlays/0.png"}]
    write_index_html(tmp_path, {**texture, "items": pairs, "ema": False})
    assert "(raw generator, seed 0); image, class mask, overlay.</p>" in _page_text(tmp_path)
    write_index_html(tmp_path, {**texture, "items": pairs, "kind": "render", "seed": 3})
    page = _page_text(tmp_path)
    assert "1 photo rendered from a layout by the layout renderer of <bdi>/r</bdi> at step 2\n(seed 3);" in page
    assert "generator" not in page


def test_gallery_page_links_a_file_name_with_a_hash_or_percent(tmp_path):
    """A picture whose name holds '#', '%', '?' or a space (a gallery put together by hand) is linked URL-quoted:
    unquoted, the browser read '#1.png' as a fragment and '%41' as 'A', and showed a broken image."""
    item = {"index": 0, "image": "images/a #1 %41?.png"}
    write_index_html(tmp_path, {"run": "/r", "checkpoint_step": 2, "seed": 0, "items": [item]})
    assert 'src="images/a%20%231%20%2541%3F.png"' in _page_text(tmp_path)


def test_a_run_held_by_an_unfinished_run_iterator_of_this_process_says_so(scene, tmp_path):
    """A library caller who keeps `trainer.run()`'s iterator and breaks out of the loop still holds the run's
    training lock (the iterator could go on); a resume was refused as trained "by another process (process N)",
    N being this very process. It now says it is this process and how to let the run go."""
    from osmis_core.application.session import resume_training
    from osmis_core.events import CheckpointSaved

    trainer = start_training(build_config(overrides={**TINY, "iters": 4}), scene, tmp_path / "run")
    events = trainer.run()
    assert any(isinstance(e, CheckpointSaved) for e in events)  # stops at the first checkpoint
    with pytest.raises(OsmisError, match="is being trained in this process .*close its iterator") as refused:
        resume_training(tmp_path / "run")
    assert "another process" not in str(refused.value)
    events.close()
    assert resume_training(tmp_path / "run").step == 2


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"iterz": 8}, "unknown option 'iterz' (did you mean 'iters'?)"),
        ({"iters": "8"}, "--iters must be of type int, got '8'"),
        ({"iters": 8.5}, "--iters must be of type int, got 8.5"),
        ({"lr_g": float("nan")}, "--lr-g must be a finite number"),
    ],
)
def test_resume_training_refuses_a_bad_override_in_a_sentence(trained, overrides, says):
    """resume_training(run, {"iterz": 8}) ended in KeyError 'iterz' and {"iters": "8"} in a TypeError comparing
    it with the step: one ConfigError naming the option, as build_config gives."""
    from osmis_core.application.session import resume_training

    with pytest.raises(ConfigError) as refused:
        resume_training(trained, overrides)
    assert says in str(refused.value)


def test_start_training_refuses_a_config_that_is_not_one(scene, tmp_path):
    """start_training({"iters": 2}, ...) (options where build_config's result belongs) ended in AttributeError
    'dict' object has no attribute 'run'; it is one ConfigError saying what to pass, before anything is written."""
    with pytest.raises(ConfigError, match="config must be an OsmisConfig .*got dict"):
        start_training({"iters": 2}, scene, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_evaluation_plan_says_under_1_s_without_about(gallery3, capsys):
    """A metric estimated under half a second was planned as "pixel diversity: about under 1 s"."""
    real = Path(json.loads((gallery3.parent / "run" / "run.json").read_text())["data"]["path"])
    done = osmis_cli(capsys, "evaluate", gallery3, "--real", real, "--random-weights", "--metrics", "diversity")
    assert done.returncode == 0
    plan = done.stdout + done.stderr
    assert "pixel diversity: " in plan and "about under" not in plan


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"metrics": "diversity"}, "metrics must be a list of metric names"),
        ({"metrics": []}, "metrics: no metric given"),
        ({"sifid_dims": 64}, "--sifid-dims must be a list of Inception layers"),
        ({"time_budget": -1}, "--time-budget must be a finite number of seconds >= 0"),
        ({"time_budget": float("nan")}, "--time-budget must be a finite number of seconds >= 0"),
        ({"miou_steps": 1.5}, "--miou-steps must be a whole number of at least 1"),
        ({"device": "gpu"}, "device 'gpu' is not valid"),
        ({"max_frames": 0}, "option 'max_frames' must be at least 1"),
    ],
)
def test_evaluate_gallery_refuses_a_bad_option_by_name(gallery3, kwargs, says):
    """evaluate_gallery as a library call: a string for metrics was read letter by letter ("unknown metric(s) d,
    i, v, ..."), [] computed every default metric (mIoU's minutes), sifid_dims=64 and max_frames=0 ended in a
    TypeError/ValueError, device "gpu" in torch's RuntimeError, a negative or NaN time budget and 1.5 mIoU steps
    were taken. Each is one ConfigError naming the option, before the gallery or the data is read; nothing is
    written."""
    from osmis_core.application.evaluation import evaluate_gallery

    real = json.loads((gallery3.parent / "run" / "run.json").read_text())["data"]["path"]
    with pytest.raises(ConfigError, match=re.escape(says)):
        evaluate_gallery(gallery3, real, random_weights=True, **{"metrics": ["diversity"], **kwargs})
    assert not (gallery3 / "metrics.json").exists()


def test_render_gallery_takes_layouts_as_str_or_one_path(tiny_renderer_run, tmp_path):
    """render_gallery(run, ["a.png"]) ended in AttributeError ('str' object has no attribute 'is_dir') and a single
    path in a TypeError or an AttributeError: the layouts are paths however written, one path is one layout."""
    from osmis_core.application.render import render_gallery

    run, layout = tiny_renderer_run
    for i, layouts in enumerate(([str(layout)], str(layout), layout)):
        out = render_gallery(run, layouts, tmp_path / f"r{i}", n=1)
        assert len(read_manifest(out)["items"]) == 1


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"layouts": []}, "no layout given"),
        ({"seed": -1}, "--seed must be a whole number between 0 and"),
        ({"seed": 1.5}, "--seed must be a whole number between 0 and"),
        ({"seed": MAX_SEED, "n": 2}, f"--seed must be a whole number between 0 and {MAX_SEED - 1}"),
        ({"resample_seed": 2.5, "region": "class"}, "--resample-seed must be a whole number"),
        ({"n": MAX_SAMPLES + 1}, "--n must be a whole number from 1 to"),
    ],
)
def test_render_gallery_refuses_bad_numbers_and_no_layouts(tiny_renderer_run, tmp_path, kwargs, says):
    """render_gallery took seed -1 or 1.5 (recorded in the manifest), a seed whose photo 2 is past torch's range,
    and [] for layouts ended in IndexError: one OsmisError naming the argument, nothing written."""
    from osmis_core.application.render import Region, render_gallery

    run, _ = tiny_renderer_run
    if kwargs.get("region") == "class":
        kwargs = {**kwargs, "region": Region(class_id=1)}
    with pytest.raises(OsmisError, match=re.escape(says)):
        render_gallery(run, **{"layouts": None, "out_dir": tmp_path / "r", "n": 1, **kwargs})
    assert not (tmp_path / "r").exists()


def test_export_selection_takes_the_select_text_and_refuses_non_whole_indices(gallery3, tmp_path):
    """export_selection(g, ["a"]) ended in ValueError from int(), [1.7] exported item 1 without a word, and the
    --select text "0,2" was read character by character (ValueError). The text is parsed as --select is; a
    non-whole index is one OsmisError naming it."""
    done = export_selection(gallery3, "0,2", tmp_path / "picked")
    assert [it["index"] for it in read_manifest(done.dest)["items"]] == [0, 2]
    for bad in (["a"], [1.7]):
        with pytest.raises(OsmisError, match="must be whole numbers .*got"):
            export_selection(gallery3, bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_scores_of_an_export_stay_with_their_pictures(gallery3, tmp_path, capsys):
    """An export of items 0 and 2, scored with `osmis evaluate`: its per-image rows were numbered 0, 1, so the page
    gave item 2 no score (and in a longer export the next picture's), as would the app's columns. Each row keeps
    its item's index, beside its file name."""
    picked = export_selection(gallery3, [0, 2], tmp_path / "picked").dest
    real = json.loads((gallery3.parent / "run" / "run.json").read_text())["data"]["path"]
    done = osmis_cli(capsys, "evaluate", picked, "--real", real, "--random-weights", "--metrics", "sifid")
    assert done.returncode == 0, done.stderr
    rows = json.loads((picked / "metrics.json").read_text())["per_image"]
    assert [(r["index"], r["name"]) for r in rows] == [(0, "0000.png"), (2, "0002.png")]
    page = _page_text(picked)
    score = rows[1]["sifid_64"]
    assert f'<figure data-index="2" data-sifid-64="{score:.6g}">' in page


def test_a_trainer_built_while_another_thread_builds_random_weight_metrics_gets_its_seed(scene, tmp_path):
    """A metric's random-weight networks (the SIFID proxy of another trainer's first evaluation) are built under a
    seeded section of torch's global RNG that restores the caller's state when it ends; run in another thread
    while a trainer built its networks, it reset the RNG under it. Both go one at a time (osmis_core.rng)."""
    from osmis_core.metrics.weights import seeded

    config = build_config(overrides={**TINY, "iters": 2, "seed": 3})
    want = start_training(config, scene, tmp_path / "alone").generator.state_dict()
    done = threading.Event()

    def metrics_elsewhere() -> None:
        while not done.is_set():
            with seeded():
                torch.randn(4096)

    other = threading.Thread(target=metrics_elsewhere)
    other.start()
    try:
        got = [start_training(config, scene, tmp_path / f"busy{i}").generator.state_dict() for i in range(3)]
    finally:
        done.set()
        other.join()
    for state in got:
        assert all(torch.equal(state[k], want[k]) for k in want)


def test_a_gallery_into_the_current_folder_is_refused_up_front(trained, gallery3, tmp_path, monkeypatch, capsys):
    """`osmis generate RUN --out .` (or export, or a library call) from an empty folder, or from inside the gallery
    it regenerates, drew every sample and then failed with ".: the gallery cannot be written (Device or resource
    busy)": a folder in use cannot be renamed over. It is refused before anything is drawn, saying why."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with pytest.raises(OsmisError, match="is the current folder .*give a new folder"):
        generate_gallery(trained, ".", n=1)
    done = osmis_cli(capsys, "export", gallery3, "--select", "0", "--out", ".")
    assert done.returncode == 2 and "is the current folder" in done.stderr
    assert list(here.iterdir()) == []
    monkeypatch.chdir(gallery3)
    before = folder_bytes(gallery3)
    done = osmis_cli(capsys, "generate", trained, "--n", "3", "--out", ".")
    assert done.returncode == 2 and "is the current folder" in done.stderr
    assert folder_bytes(gallery3) == before


def test_evaluate_says_when_real_is_a_run_or_a_gallery(trained, gallery3, capsys):
    """`osmis evaluate G --real RUN` (the run where its data belongs) said "the folder holds no images"; it says
    the folder is a run and names the data run.json records. A gallery given as --real is named as one."""
    real = json.loads((trained / "run.json").read_text())["data"]["path"]
    for given, says in (
        (trained, f"is a run folder, not training data; give the data it was trained on ({real})"),
        (gallery3, "is a gallery, not training data"),
    ):
        done = osmis_cli(capsys, "evaluate", gallery3, "--real", given, "--random-weights", "--metrics", "diversity")
        assert done.returncode == 2 and f"{given}: {says}" in done.stderr
