"""A new gallery replaces only an earlier gallery of its own kind (gallery.GALLERY_KINDS): an export holds samples
picked by hand, a generated or render gallery the samples not yet picked from, and neither command can make the
other's again. Until 2026-12-01 `osmis export G --out R` replaced a generated gallery R whole, though `--help` says
"an earlier export to replace" (breaker 15's open question), and `osmis generate RUN --out E` replaced an export E."""

from __future__ import annotations

import json

from helpers import folder_bytes

from osmis_core.application.gallery import gallery_kind
from osmis_core.cli import main


def _gallery(run, out, n=2):
    assert main(["generate", str(run), "--n", str(n), "--out", str(out)]) == 0
    return out


def test_export_does_not_replace_a_generated_gallery(two_iteration_copy, tmp_path, capsys):
    run = two_iteration_copy
    g = _gallery(run, tmp_path / "g")
    other = _gallery(run, tmp_path / "other", n=3)
    before = folder_bytes(other)
    capsys.readouterr()
    assert main(["export", str(g), "--select", "0", "--out", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"{other}: is a generated gallery, and an export of picked samples does not replace it" in err
    assert err.count("\n") == 1
    assert folder_bytes(other) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_generate_does_not_replace_an_export(two_iteration_copy, tmp_path, capsys):
    run = two_iteration_copy
    g = _gallery(run, tmp_path / "g")
    e = tmp_path / "picked"
    assert main(["export", str(g), "--select", "1", "--out", str(e)]) == 0
    before = folder_bytes(e)
    capsys.readouterr()
    assert main(["generate", str(run), "--n", "2", "--out", str(e)]) == 2
    err = capsys.readouterr().err
    assert f"{e}: is an export of picked samples, and a generated gallery does not replace it" in err
    assert folder_bytes(e) == before


def test_render_does_not_replace_a_generated_gallery(tiny_renderer_run, two_iteration_copy, tmp_path, capsys):
    renderer, _ = tiny_renderer_run
    run = two_iteration_copy
    g = _gallery(run, tmp_path / "g")
    layouts = _gallery(run, tmp_path / "layouts")
    before = folder_bytes(g)
    capsys.readouterr()
    assert main(["render", str(renderer), "--from", str(layouts), "--n", "1", "--out", str(g)]) == 2
    err = capsys.readouterr().err
    assert f"{g}: is a generated gallery, and a render gallery does not replace it" in err
    assert folder_bytes(g) == before


def test_a_gallery_of_its_own_kind_and_a_damaged_one_are_still_replaced(two_iteration_copy, tmp_path, capsys):
    """Regenerating over a generated gallery, exporting over an earlier export (breaker 15's tests cover both by
    the CLI), and a gallery whose manifest no longer reads (it cannot be told apart; it is replaced as before)."""
    run = two_iteration_copy
    g = _gallery(run, tmp_path / "g")
    damaged = _gallery(run, tmp_path / "damaged")
    (damaged / "manifest.json").write_text("{not json")
    assert main(["generate", str(run), "--n", "1", "--out", str(damaged)]) == 0
    assert len(json.loads((damaged / "manifest.json").read_text())["items"]) == 1
    e = tmp_path / "e"
    assert main(["export", str(g), "--select", "0", "--out", str(e)]) == 0
    assert main(["export", str(e), "--select", "0", "--out", str(tmp_path / "e2")]) == 0
    assert main(["export", str(g), "--select", "1", "--out", str(tmp_path / "e2")]) == 0
    capsys.readouterr()


def test_the_kind_is_read_from_the_manifest():
    assert gallery_kind({"items": []}) == "generated"
    assert gallery_kind({"kind": "render", "items": []}) == "render"
    # an export of a render gallery keeps the render's "kind" and is an export
    assert gallery_kind({"kind": "render", "exported_from": "/g", "items": []}) == "export"
    assert gallery_kind({"exported_from": "/g", "items": []}) == "export"
