"""Findings of breaker session 22: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

import pytest
from gui_helpers import marked_invalid

pytestmark = pytest.mark.gui


def test_the_form_names_the_noise_channels_rule_by_labels_and_marks_its_field(window):
    """Per-pixel noise channels above Noise dim: the form says so with the fields' labels, as every other rule
    between options, and marks the field (it said "option 'noise_spatial'" and marked none: the copy's own check ran
    before the form's names were used)."""
    page = window.settings_page
    page.editors["noise_dim"].widget.setValue(4)
    page.editors["noise_spatial"].widget.setValue(6)
    text = page.error_text()
    assert page.config() is None and text.startswith("Per-pixel noise channels (6)") and "Noise dim (4)" in text, text
    assert "option '" not in text, text
    assert marked_invalid(page.editors["noise_spatial"])


def test_a_message_that_starts_with_a_lowercase_label_keeps_it_as_the_form_shows_it(window):
    """The sentence is capitalised, a field's label is not: "p_aug sets ...", not "P_aug sets ..."."""
    page = window.settings_page
    page.editors["augment"].widget.setChecked(False)
    page.editors["p_aug"].widget.setText("0.3")
    text = page.error_text()
    assert text.startswith("p_aug sets the differentiable augmentation"), text
    assert marked_invalid(page.editors["p_aug"])


def test_closing_during_scoring_stops_it_and_waits_leaving_metrics_unwritten(window, qtbot, trained_run, monkeypatch):
    """Closing the window while a gallery's scores are computed stops them at their next step and closes once the
    scoring has ended (it ran on behind the closed window, the process alive until it finished: minutes of SIFID on
    a CPU). Per-image scores through a stand-in for evaluate_gallery (no pretrained weights offline), reporting
    progress as the engine does and writing metrics.json at its end."""
    import json
    import threading
    import time
    from pathlib import Path

    from app_steps import LONG

    import osmis_core.application.evaluation as evaluation
    from osmis_gui import tasks

    ended = threading.Event()

    def slow_evaluate_gallery(gallery, real, mask=None, *, progress=None, **kw):
        try:
            for i in range(600):
                time.sleep(0.05)
                progress("SIFID 64", i + 1, 600)
            (Path(gallery) / "metrics.json").write_text(json.dumps({"per_image": []}))
            return {"per_image": []}
        finally:
            ended.set()

    monkeypatch.setattr(evaluation, "evaluate_gallery", slow_evaluate_gallery)
    g = window.gallery
    qtbot.waitUntil(lambda: g.metrics_checked, timeout=LONG)
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    g.score_action.trigger()
    qtbot.waitUntil(lambda: g.progress.value() > 0, timeout=LONG)  # scoring
    window.close()
    assert window.isVisible() and g.writing()  # not gone while the scoring runs on
    assert "Stopping the scores" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=LONG)
    assert ended.is_set()  # the engine's scoring had ended when the window went
    assert tasks.wait_for_all(2000)
    assert g.progress.value() < 600
    assert not (Path(g.gallery_dir) / "metrics.json").exists()


def test_while_the_window_waits_for_a_stopped_gallery_no_new_job_can_be_started(window, qtbot, trained_run):
    """Closing during a generation waits for it to stop; meanwhile Latent walk, Compute scores, Render these masks
    and Export were still enabled, and a walk started then kept the window open until written (or a job ran on
    behind it). They are off until the window has closed."""
    from app_steps import LONG

    window.open_path(str(trained_run))
    g = window.gallery
    window.tabs.setCurrentWidget(g)
    qtbot.waitUntil(lambda: g.generate_action.isEnabled() and not g.loading, timeout=LONG)
    g.select_all_button.click()
    g.n_spin.setValue(2000)
    g.generate_action.trigger()
    qtbot.waitUntil(lambda: g.progress.value() > 0, timeout=LONG)
    window.close()
    assert window.isVisible()
    actions = (g.generate_action, g.animate_action, g.score_action, g.export_action, g.render_masks_action)
    assert not any(a.isEnabled() for a in actions)
    g.animate_action.trigger()
    assert not g.animating
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=LONG)
