"""Findings of the new-user tester of session 33 in the app (branch fix34): the settings form's learning rate of 0 and
its saved options file follow the engine's rules."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.gui


def test_the_form_refuses_a_learning_rate_of_zero_naming_it(window):
    """A learning rate of 0 (or -0) trains nothing: the form refuses it with the engine's sentence, naming the
    option by its label, training cannot start, and the tooltip says the minimum is excluded."""
    page = window.settings_page
    for text in ("0", "-0", "0.0"):
        page.editors["lr_d"].widget.setText(text)
        assert page.config() is None, text
        assert "LR D" in page.error_text() and "above 0" in page.error_text(), page.error_text()
        assert not window.training.start_action.isEnabled()
    page.editors["lr_d"].widget.setText("1e-4")
    assert page.config().optimisation.lr_d == pytest.approx(1e-4)
    assert "(minimum excluded)" in page.editors["lr_g"].widget.toolTip()


def test_saving_the_options_among_a_runs_checkpoints_or_over_a_loop_of_links_is_refused(window, tmp_path):
    """The form's Save goes by the engine's rules for an output file: not among a run's own files
    (runfolder.output_place_problem), not over a loop of links (files.output_file_problem); both in one sentence,
    nothing written. A plain place saves."""
    from osmis_core.errors import OsmisError

    page = window.settings_page
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(OsmisError, match=f"is inside {run / 'checkpoints'}, a folder of the run's own files"):
        page.save_file(run / "checkpoints" / "opts.json")
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    with pytest.raises(OsmisError, match="a link to nothing or a loop of links"):
        page.save_file(tmp_path / "a.json")
    assert list((run / "checkpoints").iterdir()) == [] and (tmp_path / "a.json").is_symlink()
    page.save_file(run / "opts.json")
    assert json.loads((run / "opts.json").read_text())["optimisation"]["lr_g"] == page.config().optimisation.lr_g
