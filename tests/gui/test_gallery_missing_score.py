"""The Gallery page words a summary score as the engine does: a null score (a NaN stored as null, or one taken out
by hand) reads "missing", as in the CLI's table and the gallery's index.html; it was left out."""

from __future__ import annotations

import json

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_a_null_summary_score_reads_missing_on_the_gallery_page(window, qtbot, trained_run, scene):
    from osmis_core.application.evaluation import evaluate_gallery

    gallery = trained_run / "galleries" / "g1"
    evaluate_gallery(gallery, scene[0], metrics=["lpips_train"], random_weights=True)
    metrics = json.loads((gallery / "metrics.json").read_text())
    key = next(k for k in metrics["summary"] if k.startswith("lpips_to_train"))
    metrics["summary"][key] = None
    (gallery / "metrics.json").write_text(json.dumps(metrics))
    g = window.gallery
    g.load_gallery(gallery)
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    assert f"{key} missing" in g.scores_label.text()
