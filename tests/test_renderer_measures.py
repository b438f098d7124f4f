"""Renderer measures of docs/renderer.md section 6 through `osmis evaluate` (offline, random weights)."""

import json
import math

import numpy as np
import torch
from test_render import renderer_run  # noqa: F401  (module fixture)
from test_renderer_training import TINY

from osmis_core.application.render_evaluation import held_out_layouts
from osmis_core.cli import main
from osmis_core.metrics.renderer_measures import locality_ratio

ALL = "layout_fidelity,layout_diversity,locality,memorisation,two_stage_alignment"


def test_locality_ratio():
    base = torch.zeros(1, 3, 64, 64)
    region = np.zeros((64, 64), bool)
    region[:10, :10] = True
    edited = base.clone()
    edited[..., :10, :10] = 1.0
    edited[..., 15:25, :10] = 0.5  # inside the 16 px band: not counted
    assert locality_ratio(base, edited, region) == math.inf
    edited[..., 60:, 60:] = 0.1
    outside = 64 * 64 - 26 * 26
    assert math.isclose(locality_ratio(base, edited, region), 1.0 / (0.1 * 16 / outside), rel_tol=1e-6)


def test_held_out_layouts_are_fixed_and_edited():
    from helpers import scene_arrays

    _, ids = scene_arrays()
    a, _ = held_out_layouts(ids.astype(np.int64), 3)
    b, _ = held_out_layouts(ids.astype(np.int64), 3)
    assert len(a) == 5 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(not np.array_equal(x, ids) for x in a)


def test_evaluate_two_stage_gallery_offline(renderer_run, scene, tmp_path, capsys):  # noqa: F811
    osmis = tmp_path / "osmis"
    assert main(["train", str(scene), "--out", str(osmis), "--iters", "1", "--quiet", *TINY]) == 0
    assert main(["generate", str(osmis), "--out", str(tmp_path / "og"), "--n", "2"]) == 0
    assert (
        main(
            [
                "render",
                str(renderer_run / "run"),
                "--from",
                str(tmp_path / "og"),
                "--n",
                "1",
                "--out",
                str(tmp_path / "rg"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "rg"),
                "--real",
                str(scene),
                "--metrics",
                ALL,
                "--random-weights",
                "--miou-steps",
                "3",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "rg" / "metrics.json").read_text())["summary"]
    for key in (
        "layout_fidelity_train",
        "layout_fidelity_edited",
        "layout_fidelity_ceiling",
        "layout_pixel_diversity",
        "layout_lpips_diversity",
        "locality_class",
        "locality_instance",
        "memorisation_lpips",
        "alignment_rendered",
        "alignment_osmis",
    ):
        assert isinstance(summary[key], float), key
    assert summary["layout_pixel_diversity"] > 0
    # an OSMIS gallery has no renderer to measure
    capsys.readouterr()
    assert (
        main(["evaluate", str(tmp_path / "og"), "--real", str(scene), "--metrics", "locality", "--random-weights"]) == 2
    )
    assert "osmis render" in capsys.readouterr().err
