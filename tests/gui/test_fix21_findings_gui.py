"""Findings left open by earlier testers, fixed on branch fix21: the app's side (offscreen, tiny settings)."""

from __future__ import annotations

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui

MISSING = "looks like a run folder whose run.json is missing"


@pytest.mark.parametrize("how", ["open", "drop"])
def test_a_run_folder_without_run_json_opened_or_dropped_says_so(window, qtbot, trained_run, how):
    """The app reads DATA through the engine's find_data, as the CLI's train does: the same sentence naming the
    folder, not "the folder holds no images"."""
    (trained_run / "run.json").unlink()
    (window.open_path if how == "open" else lambda p: window.open_dropped([p]))(str(trained_run))
    qtbot.waitUntil(lambda: MISSING in window.data.error_label.text(), timeout=LONG)
    assert str(trained_run) in window.data.error_label.text()


def test_the_settings_form_names_options_by_their_labels(window, qtbot):
    """A rule the engine checks between options is said in the form with the fields' labels, as the editors' own
    messages are ("LeCam decay: ..."), and the field it names first is marked; the CLI still names the flags."""
    from osmis_core.config import OsmisConfig
    from osmis_core.errors import ConfigError

    page = window.settings_page
    page.editors["lecam_weight"].widget.setText("0")
    page.editors["lecam_decay"].widget.setText("0.5")
    text = page.error_text()
    assert page.config() is None and text.startswith("LeCam decay ") and "LeCam weight = 0" in text, text
    assert "option '" not in text and "lecam_" not in text, text
    from gui_helpers import marked_invalid

    assert marked_invalid(page.editors["lecam_decay"])
    with pytest.raises(ConfigError, match="--lecam-decay"):
        OsmisConfig().with_options({"lecam_decay": 0.5}, flags={"lecam_decay"})


def test_closing_during_a_gallery_stops_it_and_waits_leaving_nothing_half_written(window, qtbot, trained_run):
    """Closing the window while a gallery is generated asks the job to stop (it stops between batches: the engine's
    stream is closed, its staging folder removed) and closes once it has ended: no job runs on behind a closed
    window, and the galleries folder holds only what it held."""
    from osmis_gui import tasks

    window.open_path(str(trained_run))
    g = window.gallery
    window.tabs.setCurrentWidget(g)
    qtbot.waitUntil(lambda: g.generate_action.isEnabled() and not g.loading, timeout=LONG)
    before = sorted(p.name for p in (trained_run / "galleries").iterdir())
    g.n_spin.setValue(2000)
    g.generate_action.trigger()
    qtbot.waitUntil(lambda: g.progress.value() > 0, timeout=LONG)  # samples are being written
    window.close()
    assert window.isVisible() and g.writing()  # not gone while the job runs on
    assert "Stopping the gallery" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=LONG)
    # the job had ended when the window went; its worker thread returns from run() just after the finished signal
    # the window acted on, so the pool is given a moment (under load, as with two test workers, it was still busy)
    assert not g.writing() and tasks.wait_for_all(2000)
    assert g.progress.value() < 2000
    assert sorted(p.name for p in (trained_run / "galleries").iterdir()) == before


def test_a_run_json_edited_to_another_model_is_refused_in_the_app(window, qtbot, trained_run):
    """An OSMIS run whose run.json says "model": "renderer": the app's gallery job refuses in the engine's one
    sentence naming run.json and both models (the check where checkpoints are read), not "Unexpected error"."""
    import json

    info = json.loads((trained_run / "run.json").read_text(encoding="utf-8"))
    info["config"]["renderer"]["model"] = "renderer"
    (trained_run / "run.json").write_text(json.dumps(info), encoding="utf-8")
    window.open_path(str(trained_run))
    g = window.gallery
    window.tabs.setCurrentWidget(g)
    qtbot.waitUntil(lambda: g.generate_action.isEnabled() and not g.loading, timeout=LONG)
    with qtbot.waitSignal(g.failed, timeout=LONG) as failed:
        g.generate_action.trigger()
    message = failed.args[0]
    assert "run.json" in message and '"model": "renderer"' in message and '"model": "osmis"' in message, message
    assert "Unexpected error" not in message
