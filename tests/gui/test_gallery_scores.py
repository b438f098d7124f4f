"""Per-image scores of a gallery: computed in the background, sorted, exported with the selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_scores_sort_and_export_with_metrics(window, qtbot, trained_run, tmp_path, monkeypatch):
    """Per-image scores through osmis_core.evaluation.evaluate_gallery (a stand-in here: no pretrained weights
    offline) that, like the engine, writes metrics.json into the gallery."""
    import osmis_core.application.evaluation as evaluation

    calls = []

    def fake_evaluate_gallery(gallery, real, mask=None, *, metrics=None, device="cpu", progress=None, **kw):
        calls.append((str(gallery), str(real), metrics, device))
        items = json.loads((Path(gallery) / "manifest.json").read_text())["items"]
        rows = [
            {"index": it["index"], "name": Path(it["image"]).name, "sifid_64": 1.0 + ((it["index"] * 7) % 5)}
            for it in items
        ]
        for i in range(len(items)):
            if progress:
                progress("SIFID 64", i + 1, len(items))
        result = {
            "summary": {"num_images": len(rows), "sifid_64": sum(r["sifid_64"] for r in rows) / len(rows)},
            "per_image": rows,
            "warnings": [],
            "random_weights": False,
            "unavailable": [],
        }
        (Path(gallery) / "metrics.json").write_text(json.dumps(result))
        return result

    monkeypatch.setattr(evaluation, "evaluate_gallery", fake_evaluate_gallery)
    g = window.gallery
    qtbot.waitUntil(lambda: g.metrics_checked, timeout=LONG)
    assert g.metrics_available
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    assert g.score_action.isEnabled()
    with qtbot.waitSignal(g.scored, timeout=LONG):
        g.score_action.trigger()
    assert calls and calls[0][2] == ["sifid"] and calls[0][3] == "cpu"
    assert "sifid_64" in g.list.item(0).text()

    g.sort_by("sifid_64", descending=False)
    order = g.visible_order()
    scores = {r["index"]: r["sifid_64"] for r in g.metrics["per_image"]}
    assert [scores[i] for i in order] == sorted(scores.values())
    g.sort_by("sifid_64", descending=True)
    assert [scores[i] for i in g.visible_order()] == sorted(scores.values(), reverse=True)

    # reopening the gallery shows the stored scores
    g.load_gallery(g.gallery_dir)
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    assert "sifid_64" in g.list.item(0).text()

    g.sort_by("sifid_64", descending=False)
    best = g.visible_order()[:2]
    g.select_indices(best)
    dest = tmp_path / "best"
    with qtbot.waitSignal(g.exported, timeout=LONG):
        g.export_to(str(dest))
    exported = json.loads((dest / "metrics.json").read_text())
    assert sorted(r["index"] for r in exported["per_image"]) == sorted(best)
    assert "sifid_64_mean" in exported["summary"]
    assert "sifid_64" in (dest / "index.html").read_text()
