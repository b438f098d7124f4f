"""Audit 34: the Gallery page shows what qualifies a gallery's scores (README, Metrics: random-weight scores are
"loudly marked NOT comparable with published numbers")."""

from __future__ import annotations

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_random_weight_scores_are_marked_on_the_gallery_page(window, qtbot, trained_run, scene):
    """A gallery scored by `osmis evaluate --random-weights` showed its scores in the app with no mark, where its
    index.html and the CLI's table say they are NOT comparable with published numbers."""
    from osmis_core.application.evaluation import evaluate_gallery
    from osmis_core.metrics import RANDOM_WEIGHTS_WARNING

    gallery = trained_run / "galleries" / "g1"
    evaluate_gallery(gallery, scene[0], metrics=["lpips_train"], random_weights=True)  # the run's data, made again
    g = window.gallery
    g.load_gallery(gallery)
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    assert "lpips_to_train" in g.scores_label.text()
    assert f"warning: {RANDOM_WEIGHTS_WARNING}" in g.scores_label.text()
