"""Breaker session 2 (options per model, SIGTERM, osmis render, class_coverage): each test shows one defect found
by the pass (they were strict xfails until fixed; all are fixed now). Tiny settings, CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import scene_arrays, start_osmis, tiny_flags, wait_for
from PIL import Image
from test_renderer_training import TINY_RENDERER

from osmis_core.cli import main
from osmis_core.config import RENDERER_DEFAULTS, OsmisConfig, build_config, save_config_file

ROOT = Path(__file__).resolve().parents[1]
RENDERER_FLAGS = ["--ch-r", "4", "--spade-hidden", "8", "--ch-rd", "4"]  # the renderer's tiny widths


def test_config_file_at_the_defaults_keeps_the_renderers_own_defaults(tmp_path):
    """#1: a config file at OSMIS's defaults (the app's Save, a run.json) given with --model renderer keeps the
    renderer's own defaults (config._without_other_models_defaults)."""
    saved = tmp_path / "settings.json"
    save_config_file(OsmisConfig(), saved)  # what the app's Save writes for untouched settings
    from_file = build_config(None, saved, {"model": "renderer"})
    plain = build_config(None, None, {"model": "renderer"})
    assert {k: from_file.flat()[k] for k in RENDERER_DEFAULTS} == {k: plain.flat()[k] for k in RENDERER_DEFAULTS}


def test_help_names_the_renderers_default_of_a_shared_option(capsys):
    """#2: --help names the renderer's default of a shared option whose default differs (cli._default_text)."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    lr_d = text[text.index("\n  --lr-d LR_D") + 1 :].split("\n  --")[0]  # its paragraph, not the usage line
    assert any(v in lr_d for v in ("0.0004", "4e-4", "4e-04")), lr_d


def test_two_stage_job_is_finished_by_the_same_command_with_resume(scene, tmp_path, capsys):
    run = tmp_path / "run"
    flags = [*tiny_flags(), "--iters", "2", "--quiet"]
    # the OSMIS stage of `osmis run --two-stage` with these flags, stopped after its training
    assert main(["train", str(scene), *flags, "--out", str(run)]) == 0
    capsys.readouterr()
    code = main(
        ["run", str(scene), "--two-stage", *flags, *RENDERER_FLAGS, "--n", "2", "--metrics", "diversity"]
        + ["--out", str(run), "--resume"]
    )
    assert code == 0, capsys.readouterr().err


def _start(*args) -> subprocess.Popen:
    return start_osmis(*args, cwd=ROOT)


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 300) -> None:
    wait_for(condition, proc, what, timeout)


def test_sigterm_during_the_renderer_stage_of_two_stage_does_not_render(scene, tmp_path):
    run = tmp_path / "run"
    flags = [*tiny_flags(), *RENDERER_FLAGS, "--iters", "40", "--checkpoint-every", "2", "--quiet"]
    proc = _start("run", scene, "--two-stage", *flags, "--n", "2", "--metrics", "diversity", "--out", run)
    checkpoints = run / "renderer" / "checkpoints"
    _wait_for(lambda: checkpoints.is_dir() and any(checkpoints.glob("step_*.pt")), proc, "the renderer's training")
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert "Traceback" not in err
    assert not list((run / "galleries").glob("two-stage-*")), err
    # the printed command finishes the same job: the typed command (with --two-stage) plus --resume (tester 3, #1)
    assert "--two-stage" in err and err.rstrip().endswith("--resume"), err


def test_sigterm_during_run_training_exits_143(scene, tmp_path):
    run = tmp_path / "run"
    flags = tiny_flags(iters=100000, checkpoint_every=100000, preview_every=100000)
    proc = _start("run", scene, *flags, "--quiet", "--n", "2", "--metrics", "diversity", "--out", run)
    stats = run / "stats.jsonl"
    _wait_for(lambda: stats.is_file() and stats.stat().st_size > 0, proc, "the first iterations")
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert "Traceback" not in err
    assert proc.returncode == 128 + signal.SIGTERM, err


def test_render_seed_out_of_range_is_one_sentence(tiny_renderer_run, tmp_path, capsys):
    run, layout = tiny_renderer_run
    out = tmp_path / "g"
    argv = ["render", str(run), "--layout", str(layout), "--n", "1", "--seed", str(2**70), "--out", str(out)]
    assert main(argv) == 2
    assert "--seed" in capsys.readouterr().err
    assert not out.exists()


def test_resample_region_of_a_render_gallery_does_not_depend_on_the_working_folder(
    tiny_renderer_run, tmp_path, monkeypatch
):
    """#7: the region of --resample is kept in the gallery as rendered, so item_recipe needs no working folder."""
    from osmis_core.application.render import item_recipe, load_renderer

    run, layout = tiny_renderer_run
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    ids = np.asarray(Image.open(layout))
    region = np.zeros(ids.shape, np.uint8)
    region[8:24, 16:48] = 255
    Image.fromarray(region).save(here / "region.png")
    monkeypatch.chdir(here)
    gallery = tmp_path / "g"
    argv = ["render", str(run), "--layout", str(layout), "--n", "1", "--resample", "region.png"]
    assert main([*argv, "--resample-seed", "5", "--out", str(gallery)]) == 0
    item = json.loads((gallery / "manifest.json").read_text())["items"][0]
    monkeypatch.chdir(elsewhere)
    renderer = load_renderer(run)
    layout_ids, recipe = item_recipe(renderer, gallery, item)
    saved = np.asarray(Image.open(gallery / item["image"]).convert("RGB"))
    assert np.array_equal(renderer.render_recipe(layout_ids, recipe), saved)


def test_keep_best_class_coverage_without_masks_is_refused_or_keeps_a_best(tmp_path, capsys):
    """#8: --keep-best class_coverage on data without masks is refused before anything is written."""
    img, _ = scene_arrays()
    Image.fromarray(img).save(tmp_path / "texture.png")  # no mask beside it
    run = tmp_path / "run"
    flags = tiny_flags(iters=4, eval_every=2, keep_best="class_coverage")
    code = main(["train", str(tmp_path / "texture.png"), *flags, "--quiet", "--out", str(run)])
    err = capsys.readouterr().err
    assert code == 2 or (run / "checkpoints" / "best.pt").is_file(), err


def test_the_black_white_training_mask_is_accepted_as_a_layout(tmp_path):
    """#9: a 0/255 black/white training mask read as a layout is the classes 0 and 1, as in training."""
    from osmis_core.application.render import load_renderer
    from osmis_core.application.session import start_training

    img, ids = scene_arrays()
    Image.fromarray(img).save(tmp_path / "bw.png")
    Image.fromarray(((ids > 0) * 255).astype(np.uint8), "L").save(tmp_path / "bw_mask.png")
    run = tmp_path / "run"
    list(start_training(build_config(overrides={**TINY_RENDERER, "iters": 2}), tmp_path / "bw.png", run).run())
    renderer = load_renderer(run)
    assert renderer.num_classes == 2
    assert set(np.unique(renderer.read_layout(tmp_path / "bw_mask.png")).tolist()) == {0, 1}


def test_render_checkpoint_best_message_does_not_contradict_itself(tmp_path, capsys):
    assert main(["render", str(tmp_path / "run"), "--checkpoint", "best", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "'best' or a step number, got 'best'" not in err, err
