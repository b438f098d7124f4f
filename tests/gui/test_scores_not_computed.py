"""The gallery page says why a score was not computed (the reason the engine wrote into metrics.json)."""

import json

import pytest
from app_steps import LONG

from osmis_core.application.evaluation import evaluate_gallery

pytestmark = pytest.mark.gui


def test_gallery_page_shows_why_scores_were_not_computed(window, qtbot, trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))  # offline, no pretrained weights
    gallery = trained_run / "galleries" / "g1"
    real = json.loads((trained_run / "run.json").read_text())["data"]["path"]  # the run's training image
    evaluate_gallery(gallery, real, metrics=["sifid", "diversity"], skip_missing=True)
    g = window.gallery
    g.load_gallery(str(gallery))
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    assert "SIFID: needs inception_v3_google-0cc3c7bd.pth" in g.scores_label.text()
    assert "None" not in g.scores_label.text()
    # the large view's line names no scores when the gallery has set-level scores only (rows hold index and name)
    qtbot.waitUntil(lambda: "Class shares" in g.pair_view.info_label.text(), timeout=LONG)
    assert "Scores:" not in g.pair_view.info_label.text()
