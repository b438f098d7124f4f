"""Exporting into a folder the engine refuses is said before the "replace?" question: a generated gallery is not an
earlier export (gallery.export_replaces); an earlier export is replaced after the question."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from app_steps import LONG
from helpers import folder_bytes

pytestmark = pytest.mark.gui


def _open(window, qtbot, run, monkeypatch, chosen):
    from osmis_gui import gallery_page

    monkeypatch.setattr(gallery_page.QFileDialog, "getExistingDirectory", lambda *a, **k: str(chosen))
    g = window.gallery
    window.open_path(str(run))
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    g.select_indices([0, 2])
    return g


def test_a_generated_gallery_is_refused_without_a_question(window, qtbot, trained_run, monkeypatch, tmp_path):
    other = Path(shutil.copytree(trained_run / "galleries" / "g1", tmp_path / "other"))  # a generated gallery
    g = _open(window, qtbot, trained_run, monkeypatch, other)
    before = folder_bytes(other)
    asked = []
    window.confirm = lambda title, text: asked.append(title) or True
    g.choose_export()
    assert asked == []
    assert "is a generated gallery, and an export of picked samples does not replace it" in g.error_label.text()
    assert folder_bytes(other) == before
    assert not g.exporting


def test_an_earlier_export_is_replaced_after_the_question(window, qtbot, trained_run, monkeypatch, tmp_path):
    dest = tmp_path / "picked"
    g = _open(window, qtbot, trained_run, monkeypatch, dest)
    with qtbot.waitSignal(g.exported, timeout=LONG):
        g.choose_export()  # a new folder: no question
    qtbot.waitUntil(lambda: not g.exporting, timeout=LONG)  # the job's finished signal comes after `exported`
    asked = []
    window.confirm = lambda title, text: asked.append(text) or True
    g.select_indices([1])
    with qtbot.waitSignal(g.exported, timeout=LONG):
        g.choose_export()
    assert asked == [f"{dest} already holds an earlier export. Replace it with the selected pairs?"]
    assert [it["index"] for it in json.loads((dest / "manifest.json").read_text())["items"]] == [1]
