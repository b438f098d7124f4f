"""Breaker session 2, further findings (#7 export, the resized layout, #11, #12, #14, #15, #16, #17): one small
test each, tiny settings, CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import save_palette_mask
from PIL import Image

from osmis_core.cli import main
from osmis_core.config import build_config


def test_an_exported_resample_item_is_re_made_from_the_export_alone(tiny_renderer_run, tmp_path, monkeypatch):
    """#7: the region file of --resample travels with the gallery and its export (regions/), so the recipe needs
    neither the working folder nor the original region file."""
    from osmis_core.application.gallery import export_selection
    from osmis_core.application.render import item_recipe, load_renderer

    run, layout = tiny_renderer_run
    ids = np.asarray(Image.open(layout))
    region = np.zeros(ids.shape, np.uint8)
    region[8:24, 16:48] = 255
    Image.fromarray(region).save(tmp_path / "region.png")
    monkeypatch.chdir(tmp_path)
    gallery = tmp_path / "g"
    argv = ["render", str(run), "--layout", str(layout), "--n", "2", "--resample", "region.png"]
    assert main([*argv, "--resample-seed", "5", "--out", str(gallery)]) == 0
    item = json.loads((gallery / "manifest.json").read_text())["items"][1]
    assert item["region"]["mask"] == str((tmp_path / "region.png").resolve())  # as a path from any folder
    export_selection(gallery, [1], tmp_path / "export")
    (tmp_path / "region.png").unlink()  # the original region file is not needed any more
    exported = json.loads((tmp_path / "export" / "manifest.json").read_text())["items"][0]
    renderer = load_renderer(run)
    layout_ids, recipe = item_recipe(renderer, tmp_path / "export", exported)
    saved = np.asarray(Image.open(tmp_path / "export" / exported["image"]).convert("RGB"))
    assert np.array_equal(renderer.render_recipe(layout_ids, recipe), saved)


def test_a_region_of_another_size_than_the_layout_is_refused(tiny_renderer_run, tmp_path, capsys):
    """#7: the documented rule: the region has the layout file's size; another size is one sentence, exit 2."""
    run, layout = tiny_renderer_run
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(tmp_path / "small.png")
    argv = ["render", str(run), "--layout", str(layout), "--resample", str(tmp_path / "small.png")]
    assert main([*argv, "--resample-seed", "1", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "small.png" in err and "10x10" in err
    assert not (tmp_path / "g").exists()


def test_a_resized_layout_is_recorded_as_rendered(tiny_renderer_run, tmp_path):
    """The manifest says when the layout file was resized to the render size, by which rule, and which file of the
    gallery holds what was rendered; the recipe re-makes the photo from it exactly."""
    from osmis_core.application.render import item_recipe, load_renderer, render_gallery

    run, layout = tiny_renderer_run
    ids = np.asarray(Image.open(layout))
    big = tmp_path / "big.png"
    save_palette_mask(np.kron(ids, np.ones((2, 2), np.uint8)), big)  # same aspect ratio, twice the size
    gallery = render_gallery(run, [big], tmp_path / "g", n=1, seed=3)
    item = json.loads((gallery / "manifest.json").read_text())["items"][0]
    renderer = load_renderer(run)
    h, w = renderer.size
    assert item["layout_resized"] == {
        "from": [2 * ids.shape[0], 2 * ids.shape[1]],
        "to": [h, w],
        "rule": "nearest neighbour",
        "rendered": item["mask"],
    }
    rendered = np.asarray(Image.open(gallery / item["layout_resized"]["rendered"]))
    assert np.array_equal(rendered, renderer.read_layout(big))
    layout_ids, recipe = item_recipe(renderer, gallery, item)
    saved = np.asarray(Image.open(gallery / item["image"]).convert("RGB"))
    assert np.array_equal(renderer.render_recipe(layout_ids, recipe), saved)


def test_two_sigterms_during_training_name_sigterm_not_ctrl_c(scene, tmp_path):
    """#15: the sentences that answer a stop signal name the signal received; a second SIGTERM aborts as SIGTERM."""
    import os
    import signal
    import time

    from helpers import start_osmis, tiny_flags, wait_for

    run = tmp_path / "run"
    flags = tiny_flags(iters=100000, checkpoint_every=100000, preview_every=100000)
    proc = start_osmis("train", scene, "--out", run, "--quiet", *flags, cwd=Path(__file__).resolve().parents[1])
    stats = run / "stats.jsonl"
    wait_for(lambda: stats.is_file() and stats.stat().st_size > 0, proc, "the first iterations", 300)
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(0.2)  # two signals sent at once would be delivered as one
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert "SIGTERM received" in err and "Ctrl-C (SIGINT) received" not in err, err
    assert "Traceback" not in err
    if proc.returncode == 128 + signal.SIGTERM:  # the second signal came before the stop was done: aborted
        assert "terminated (SIGTERM)" in err, err
    else:  # the stop was done first (the command may have been ending, its handler gone, when the second came)
        assert proc.returncode in (0, -signal.SIGTERM) and "stopped at step" in err, err


def test_two_stage_with_model_renderer_is_one_clear_sentence(scene, tmp_path, capsys):
    """#14: --two-stage trains both models; --model does not apply, and the message says so (not 'use
    --two-stage')."""
    code = main(["run", str(scene), "--two-stage", "--model", "renderer", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--two-stage trains OSMIS, then the renderer" in err and "--model renderer does not apply" in err, err
    assert "use --two-stage" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("argv", "file_text", "expected"),
    [
        # #17: the alternative named for --masks given to the renderer
        (
            ["--model", "renderer", "--no-masks"],
            None,
            "always train on image + mask pairs (give the masks with --mask)",
        ),
        # a type error of a config file names the file and the option
        ([], '{"lr_d": "abc"}', "CONFIG: option 'lr_d' must be of type float"),
        # a rule between options names the flag when it came from a flag, the file and option when from a file
        (["--model", "renderer", "--noise-spatial", "100"], None, "--noise-spatial (100) must be at most"),
        ([], '{"model": "renderer", "noise_spatial": 100}', "CONFIG: option 'noise_spatial' (100) must be at most"),
        (["--lr-d", "-1"], None, "--lr-d must be at least 0.0"),
    ],
)
def test_config_errors_name_the_flag_or_the_file(tmp_path, capsys, argv, file_text, expected):
    config = tmp_path / "settings.json"
    if file_text is not None:
        config.write_text(file_text)
        argv = [*argv, "--config", str(config)]
    assert main(["train", str(tmp_path / "x.png"), *argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert expected.replace("CONFIG", str(config)) in err, err
    assert len(err.strip().splitlines()) == 1


def test_every_preset_serves_renderer_runs_and_one_without_them_is_refused(tmp_path, monkeypatch):
    """#16: a renderer run with a preset gets that preset's renderer values (every shipped preset has them); a preset
    file without `renderer_runs` is refused for renderer runs, not silently applied as nothing."""
    from osmis_core import config as config_module
    from osmis_core import resources
    from osmis_core.config import ConfigError, preset_config, preset_names, preset_options

    for name in preset_names():
        assert preset_options(name, "renderer"), name
        assert preset_config(name, "renderer").model == "renderer"
    assert preset_config("short", "renderer").run.iters == 50000
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "osmis-only.json").write_text('{"iters": 10}')
    monkeypatch.setattr(resources, "resource_path", lambda *parts: tmp_path.joinpath(*parts))
    assert config_module.preset_options("osmis-only") == {"iters": 10}
    with pytest.raises(ConfigError, match="preset 'osmis-only' has no values for renderer runs"):
        config_module.preset_options("osmis-only", "renderer")


def test_perfect_locality_is_null_with_its_reason_in_metrics_json_and_the_table(tmp_path):
    """#11: no change outside the region gives no ratio: metrics.json holds null and the reason beside it
    (locality_class_note), and the CLI's table prints the reason, not 'not a number'."""
    import torch

    from osmis_core.metrics import format_table, write_metrics
    from osmis_core.metrics.renderer_measures import (
        NO_CHANGE,
        PERFECT_LOCALITY,
        locality_changes,
        locality_summary,
    )

    base = torch.zeros(1, 3, 64, 64)
    region = np.zeros((64, 64), bool)
    region[:8, :8] = True
    edited = base.clone()
    edited[..., :8, :8] = 0.5  # inside only
    assert locality_changes(base, edited, region) == (0.5, 0.0)
    assert locality_summary([(0.5, 0.0)] * 4) == (None, PERFECT_LOCALITY)
    assert locality_summary([(0.0, 0.0)] * 4) == (None, NO_CHANGE)
    value, note = locality_summary([(0.5, 0.0), (0.5, 0.1)])
    assert value == pytest.approx(5.0) and "1 of 2 renders had no change outside the region" in note
    assert locality_summary([(0.5, 0.1)]) == (pytest.approx(5.0), None)

    ratio, note = locality_summary([(0.5, 0.0)] * 4)
    result = {
        "summary": {"locality_class": ratio, "locality_class_note": note},
        "per_image": [{"index": 0}],
        "warnings": [],
        "random_weights": True,
    }
    write_metrics(tmp_path, result)
    summary = json.loads((tmp_path / "metrics.json").read_text())["summary"]
    assert summary["locality_class"] is None
    assert summary["locality_class_note"] == "no change outside the region (perfect locality)"
    table = format_table(result)
    assert "no change outside the region (perfect locality)" in table and "not a number" not in table
    assert "locality_class_note" not in table  # shown with its value, not as a row of its own


def test_the_time_budget_bounds_the_renderer_measures(tiny_renderer_run, scene, tmp_path, capsys):
    """#12: `osmis evaluate --time-budget` covers the renderer measures with the same plan: each is estimated
    before the work, and one estimated past the budget is not computed (its keys hold the reason)."""
    run, layout = tiny_renderer_run
    gallery = tmp_path / "rg"
    assert main(["render", str(run), "--layout", str(layout), "--n", "1", "--out", str(gallery)]) == 0
    capsys.readouterr()
    argv = ["evaluate", str(gallery), "--real", str(scene), "--metrics", "layout_fidelity,locality"]
    assert main([*argv, "--random-weights", "--miou-steps", "3", "--time-budget", "0"]) == 0
    err = capsys.readouterr().err
    assert "renderer measures of 1 images" in err and "layout fidelity: about" in err, err
    assert "note: layout_fidelity, locality not computed: estimated past the time budget" in err, err
    data = json.loads((gallery / "metrics.json").read_text())
    assert data["summary"]["layout_fidelity_train"].startswith("skipped: estimated")
    assert data["summary"]["locality_class"].startswith("skipped: estimated")
    assert set(data["not_computed"]) == {"layout_fidelity", "locality"}
    assert {"layout_fidelity", "locality"} <= set(data["estimates"])
    # with room for them they are computed
    assert main([*argv, "--random-weights", "--miou-steps", "3", "--time-budget", "100000"]) == 0
    summary = json.loads((gallery / "metrics.json").read_text())["summary"]
    assert isinstance(summary["layout_fidelity_train"], float)


def test_a_config_file_of_either_model_gives_its_defaults_no_weight_but_keeps_other_values(tmp_path):
    """#1, the general rule: a config file saved for one model and used for the other gives the other model's own
    defaults where it held its model's defaults, and keeps every other value as given."""
    from osmis_core.config import RENDERER_DEFAULTS, OsmisConfig, save_config_file

    saved = tmp_path / "renderer.json"
    save_config_file(OsmisConfig().replace(model="renderer", **RENDERER_DEFAULTS), saved)
    osmis = build_config(None, saved, {"model": "osmis"}).flat()
    assert {k: osmis[k] for k in RENDERER_DEFAULTS} == {k: OsmisConfig().flat()[k] for k in RENDERER_DEFAULTS}
    tuned = tmp_path / "tuned.json"
    save_config_file(OsmisConfig().replace(lr_d=3e-4, batch_size=5), tuned)  # lr_d tuned, batch_size OSMIS's
    renderer = build_config(None, tuned, {"model": "renderer"})
    assert renderer.optimisation.lr_d == 3e-4 and renderer.optimisation.batch_size == RENDERER_DEFAULTS["batch_size"]
