"""Breaker session 16, the app: exporting into a folder that holds a gallery asks to replace only an earlier export
(the engine's rule of gallery kinds, gallery.kind_at); before, any manifest.json made it ask "already holds an
export ... Overwrite its files?", also over a generated gallery, which the export then refused anyway."""

from __future__ import annotations

import pytest
from app_steps import LONG
from helpers import folder_bytes

pytestmark = pytest.mark.gui


def test_export_asks_to_replace_an_earlier_export_only(window, qtbot, trained_run, tmp_path, monkeypatch):
    from osmis_core.application.gallery import generate_gallery
    from osmis_gui import gallery_page

    g = window.gallery
    window.open_path(str(trained_run))
    qtbot.waitUntil(lambda: g.manifest is not None and not g.loading, timeout=LONG)
    generated = generate_gallery(trained_run, tmp_path / "generated", n=2, device="cpu")
    before = folder_bytes(generated)
    asked = []
    window.confirm = lambda title, text: asked.append(text) or True
    chosen = []
    monkeypatch.setattr(gallery_page.QFileDialog, "getExistingDirectory", lambda *a: chosen[-1])
    g.select_indices([0, 1])

    chosen.append(str(generated))  # a generated gallery: nothing to confirm, the export says why it refuses
    with qtbot.waitSignal(g.failed, timeout=LONG):
        g.choose_export()
    assert asked == []
    assert f"{generated}: is a generated gallery, and an export of picked samples does not replace it" in g.last_error
    assert folder_bytes(generated) == before

    chosen.append(str(tmp_path / "picked"))  # a new folder, then the export made there: asked once, replaced
    with qtbot.waitSignal(g.exported, timeout=LONG):
        g.choose_export()
    assert asked == []
    g.select_indices([1])
    with qtbot.waitSignal(g.exported, timeout=LONG):
        g.choose_export()
    assert asked == [f"{tmp_path / 'picked'} already holds an export; replace it with the selected pairs?"]
    assert len(list((tmp_path / "picked" / "images").iterdir())) == 1
