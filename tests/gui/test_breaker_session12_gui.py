"""Breaker session 12, the desktop app (offscreen): reopening runs whose stats.jsonl or run.json a crash or a hand
edit damaged. A finding still open is an xfail(strict=True) test that asserts the right behaviour."""

from __future__ import annotations

import pytest
from app_steps import LONG

pytestmark = pytest.mark.gui


def test_reopening_a_run_with_damaged_stats_lines_shows_the_good_curves(window, qtbot, trained_run):
    """Fixed here: stats.jsonl with bytes that are not UTF-8 or lines that are JSON but no record (`5`, a step that
    is not a number) made the run unopenable (a UnicodeDecodeError) or raised in the curves (`"step" in 5`); the
    damaged lines are skipped, as a line cut by a crash is."""
    good = sum(1 for line in (trained_run / "stats.jsonl").read_text().splitlines() if '"event"' not in line)
    with open(trained_run / "stats.jsonl", "ab") as f:
        f.write(b'5\n[1]\n{"step": "x", "g_total": 1.0}\n\xff\xfe{"step": 9}\n')
    window.open_path(str(trained_run))
    t = window.training
    qtbot.waitUntil(lambda: t.run_dir == str(trained_run), timeout=LONG)
    qtbot.wait(100)
    assert window.last_message is None, window.last_message
    assert len(t.plots.steps) == good


def test_reopening_a_run_json_that_is_not_an_object_is_one_sentence(window, qtbot, trained_run):
    """Fixed here: run.json holding `[]` (JSON, but not an object) was read as the run's record and the window's
    handler raised on it (`list` has no `get`); it is now the message box naming run.json, as for run.json that is
    not JSON at all."""
    (trained_run / "run.json").write_text("[]\n")
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LONG)
    kind, title, text = window.last_message
    assert kind == "warning" and title == "The run folder cannot be opened"
    assert "run.json: cannot be read (not a JSON object)" in text and "Traceback" not in text
    assert window.state.run is None


def test_the_latent_walk_button_with_a_file_in_place_of_the_walks_folder(window, qtbot, trained_run):
    """Fixed here: with a file named `walks` in the run folder the button's walk failed with "... cannot be written
    (File exists)", which reads as if the walk were already there; the page now names the file in the way."""
    (trained_run / "walks").write_text("not a folder\n")
    window.open_path(str(trained_run))
    g = window.gallery
    qtbot.waitUntil(lambda: g.animate_action.isEnabled(), timeout=LONG)
    g.animate_action.trigger()
    qtbot.waitUntil(lambda: g.last_walk is not None or g.last_error is not None, timeout=LONG)
    assert g.last_walk is None
    assert f"{trained_run / 'walks'} is a file, not a folder" in g.error_label.text()
    assert "File exists" not in g.error_label.text()
    assert (trained_run / "walks").read_text() == "not a folder\n"
    qtbot.waitUntil(lambda: g.animate_action.isEnabled(), timeout=LONG)
