"""The settings form offers only the options the chosen model reads (the engine's model_reads): the others are
greyed out, a preset's values for the other model raise nothing, and loading a file that sets an option its model
does not read is refused with the CLI's sentence."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.gui


def test_form_greys_out_what_the_model_does_not_read(window, qtbot, tmp_path):
    from osmis_core.config import FIELDS, model_reads
    from osmis_core.errors import ConfigError

    page = window.settings_page
    page.apply_preset("quick")  # sets ch_g and ch_d, which only OSMIS reads
    assert page.editors["ch_g"].widget.isEnabled() and not page.editors["ch_r"].widget.isEnabled()
    page.set_options(model="renderer")
    assert page.config() is not None and page.config().model == "renderer" and page.error_text() is None
    for name, ed in page.editors.items():
        assert ed.widget.isEnabled() == model_reads(name, "renderer"), name
    assert not page.editors["ch_g"].widget.isEnabled() and page.editors["ch_r"].widget.isEnabled()
    assert page.editors["lr_g"].widget.isEnabled()  # shared
    assert "Read only by osmis runs" in page.editors["ch_g"].widget.toolTip()
    page.set_locked(True)
    assert not any(ed.widget.isEnabled() for ed in page.editors.values())
    page.set_locked(False)
    assert page.editors["ch_r"].widget.isEnabled() and not page.editors["ch_g"].widget.isEnabled()
    page.set_options(model="osmis")
    assert all(ed.widget.isEnabled() == model_reads(n, "osmis") for n, ed in page.editors.items())
    assert set(page.editors) == set(FIELDS)

    # a file that sets an option its model does not read: the CLI's refusal, and the form is unchanged
    before = page.config()
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": "renderer", "ch_d": 8}))
    with pytest.raises(ConfigError, match="option 'ch_d' does not apply to model 'renderer'.*'ch_rd'"):
        page.load_file(path)
    assert page.config() == before
