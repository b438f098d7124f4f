"""The Gallery page of a renderer run: Render (the Generate button) writes renders of the run's training layout with
N noises into a gallery in the project's format (the engine's run_gallery_events); the page lists and shows it,
scores it and exports a selection of it as any gallery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from osmis_core.application.render import Renderer, training_layout, training_layouts
from osmis_core.application.runfolder import RunFolder

pytestmark = pytest.mark.gui
LONG = 120_000


def test_render_button_renders_the_training_layout_into_a_gallery(window, qtbot, tmp_path, renderer_run, monkeypatch):
    run = Path(shutil.copytree(renderer_run, tmp_path / "run"))  # the shared run stays without galleries
    g = window.gallery
    window.open_run(run)
    qtbot.waitUntil(lambda: g.run_dir == str(run) and g.generate_action.isEnabled(), timeout=LONG)
    assert g.renders and g.generate_action.text() == "Render"
    assert g.bar.n_label.text() == "Photos per layout:"
    assert not g.animate_action.isEnabled()  # a latent walk is an OSMIS run's

    g.n_spin.setValue(3)
    g.seed_spin.setValue(5)
    with qtbot.waitSignal(g.generated, timeout=LONG) as generated:
        g.generate_action.trigger()
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading and not g.generating, timeout=LONG)
    out = Path(generated.args[0])
    assert not g.last_error and g.error_label.isHidden()
    assert out.parent == RunFolder(run).galleries and g.gallery_dir == str(out)
    assert g.gallery_combo.findData(str(out)) >= 0 and g.list.count() == 3
    assert g.status_label.text().startswith("3 photos from iteration 2")

    # the gallery: the training layout as every mask, seeds 5, 6, 7 recorded, each photo re-made exactly
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "render" and manifest["source"] == "training"
    (layout_file,) = [t.path for t in training_layouts(run)]
    assert [it["seed"] for it in manifest["items"]] == [5, 6, 7]
    assert all(it["layout"] == str(layout_file.resolve()) for it in manifest["items"])
    renderer = Renderer.load(run)
    layout = training_layout(run)
    for it in manifest["items"]:
        assert np.array_equal(np.asarray(Image.open(out / it["mask"])), layout)
        assert np.array_equal(np.asarray(Image.open(out / it["image"])), renderer.render(layout, it["seed"]))
    first, second = (np.asarray(Image.open(out / it["image"])) for it in manifest["items"][:2])
    assert not np.array_equal(first, second)  # different noises, different photos

    # Compute scores: the real SIFID pipeline, with a randomly initialised Inception in the place of the
    # pretrained file (no download offline)
    from osmis_core.metrics.weights import build_inception

    hub = tmp_path / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(build_inception(random_weights=True).state_dict(), hub / "inception_v3_google-0cc3c7bd.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    qtbot.waitUntil(lambda: g.metrics_checked, timeout=LONG)
    assert g.score_action.isEnabled()
    with qtbot.waitSignal(g.scored, timeout=LONG):
        g.score_action.trigger()
    assert not g.last_error
    scores = json.loads((out / "metrics.json").read_text())
    assert sorted(r["index"] for r in scores["per_image"]) == [0, 1, 2]
    assert all(np.isfinite(r["sifid_64"]) for r in scores["per_image"])
    assert "sifid_64" in g.list.item(0).text()

    # Export a selection: a gallery of the chosen renders with their seeds and scores
    g.select_indices([0, 2])
    dest = tmp_path / "export"
    with qtbot.waitSignal(g.exported, timeout=LONG):
        g.export_to(str(dest))
    exported = json.loads((dest / "manifest.json").read_text())
    assert exported["kind"] == "render" and [it["seed"] for it in exported["items"]] == [5, 7]
    for it in exported["items"]:
        for key in ("image", "mask", "overlay"):
            assert (dest / it[key]).read_bytes() == (out / it[key]).read_bytes()
    assert sorted(r["index"] for r in json.loads((dest / "metrics.json").read_text())["per_image"]) == [0, 2]
