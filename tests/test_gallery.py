"""Galleries: one location, build-and-swap writes (issue 12 item 7), validated manifests and escaped pages
(item 14), export of a selection, generation events, and the Pillow-written files."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_flags
from PIL import Image

from osmis_core.application import gallery as gallery_mod
from osmis_core.application.evaluation import read_gallery
from osmis_core.application.gallery import (
    export_selection,
    gallery_events,
    gallery_name,
    generate_gallery,
    parse_selection,
    read_manifest,
    write_index_html,
)
from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main
from osmis_core.errors import ConfigError, DataError
from osmis_core.events import GenerationFinished, GenerationStarted, SamplesWritten
from osmis_core.models.visual import palette


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from helpers import save_palette_mask, scene_arrays

    root = tmp_path_factory.mktemp("gallery")
    img, ids = scene_arrays()
    Image.fromarray(img).save(root / "scene.png")
    save_palette_mask(ids, root / "scene_mask.png")
    assert (
        main(["train", str(root / "scene.png"), "--out", str(root / "run"), "--iters", "2", "--quiet", *tiny_flags()])
        == 0
    )
    return root / "run"


def _listed(gallery: Path) -> set[str]:
    manifest = read_manifest(gallery)
    return {it[k] for it in manifest["items"] for k in ("image", "mask", "overlay") if it.get(k)}


def _pictures(gallery: Path) -> set[str]:
    return {p.relative_to(gallery).as_posix() for p in gallery.rglob("*.png")}


def test_default_location_is_run_galleries_and_events_report_progress(run):
    events = []
    out = generate_gallery(run, n=5, seed=3, device="cpu", batch_size=2, on_event=events.append)
    assert out == RunFolder(run).galleries / gallery_name(2, 3, 5) == run / "galleries" / "step_0000002-seed3-n5"
    assert isinstance(events[0], GenerationStarted) and events[0].total == 5
    assert [e.done for e in events if isinstance(e, SamplesWritten)] == [2, 4, 5]
    assert isinstance(events[-1], GenerationFinished) and events[-1].out_dir == out
    assert out in RunFolder(run).gallery_dirs()
    assert _pictures(out) == _listed(out)


def test_pictures_are_pngs_that_pillow_reads_back_exactly(run, tmp_path):
    out = generate_gallery(run, tmp_path / "g", n=2, seed=0, device="cpu")
    manifest = read_manifest(out)
    mask = Image.open(out / manifest["items"][0]["mask"])
    assert mask.mode == "P" and mask.format == "PNG"
    colours = np.asarray(mask.getpalette()[:9], np.uint8).reshape(3, 3)
    assert np.array_equal(colours, palette()[:3])
    pixels = np.random.default_rng(0).integers(0, 256, (7, 5, 3), np.uint8)
    gallery_mod.save_png(pixels, tmp_path / "x.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), pixels)
    ids = np.random.default_rng(1).integers(0, 3, (6, 4), np.uint8)
    gallery_mod.save_png(ids, tmp_path / "m.png", palette()[:3])
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m.png")), ids)


def test_rerun_with_smaller_n_leaves_no_stale_files(run, tmp_path):
    out = tmp_path / "g"
    assert main(["generate", str(run), "--out", str(out), "--n", "6", "--device", "cpu"]) == 0
    (out / "metrics.json").write_text("{}")  # scores of the old gallery
    assert main(["generate", str(run), "--out", str(out), "--n", "3", "--device", "cpu"]) == 0
    assert _pictures(out) == _listed(out) and len(read_manifest(out)["items"]) == 3
    assert not (out / "metrics.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["g"]  # no staging folder left beside it
    (tmp_path / "plain").mkdir()
    assert out.stat().st_mode == (tmp_path / "plain").stat().st_mode  # an ordinary folder, not a 0700 temp one


def test_generate_killed_midway_leaves_the_old_gallery_intact(run, tmp_path, monkeypatch):
    out = tmp_path / "g"
    generate_gallery(run, out, n=4, seed=0, device="cpu")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []
    real_save = gallery_mod.save_png

    def dying_save(pixels, path, colours=None):
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt  # the process is stopped while writing the new gallery's files
        real_save(pixels, path, colours)

    monkeypatch.setattr(gallery_mod, "save_png", dying_save)
    with pytest.raises(KeyboardInterrupt):
        generate_gallery(run, out, n=8, seed=5, device="cpu", batch_size=2)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert read_manifest(out)["seed"] == 0 and _pictures(out) == _listed(out)


def test_an_abandoned_event_stream_leaves_nothing_behind(run, tmp_path):
    events = gallery_events(run, tmp_path / "g", n=6, device="cpu", batch_size=2)
    assert isinstance(next(events), GenerationStarted) and isinstance(next(events), SamplesWritten)
    events.close()  # the caller stops listening half-way
    assert list(tmp_path.iterdir()) == []


def test_a_build_killed_hard_is_cleared_and_an_interrupted_swap_is_undone(run, tmp_path):
    out = tmp_path / "g"
    generate_gallery(run, out, n=2, seed=0, device="cpu")
    (tmp_path / ".g.building-dead").mkdir()  # what SIGKILL during a build leaves
    (tmp_path / ".g.building-dead" / "junk.png").write_bytes(b"x")
    out.rename(tmp_path / ".g.old-deadbeef")  # what SIGKILL between the two renames leaves
    generate_gallery(run, out, n=3, seed=1, device="cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]
    assert read_manifest(out)["n"] == 3


def test_a_folder_of_other_files_is_not_replaced(run, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"precious")
    assert main(["generate", str(run), "--out", str(out), "--n", "2", "--device", "cpu"]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert (out / "holiday.jpg").read_bytes() == b"precious"


@pytest.mark.parametrize("flag,value", [("--n", "0"), ("--n", "-3"), ("--batch-size", "-1"), ("--batch-size", "0")])
def test_counts_are_validated(run, tmp_path, capsys, flag, value):
    args = ["generate", str(run), "--out", str(tmp_path / "g"), "--device", "cpu", "--n", "2", flag, value]
    assert main(args) == 2
    assert flag in capsys.readouterr().err and not (tmp_path / "g").exists()


# -- manifests and the page ----------------------------------------------------------------------------------


def _hostile_gallery(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "images" / "0.png")
    manifest = {
        "run": "<script>alert('run')</script>",
        "checkpoint_step": "<script>alert(1)</script>",
        "seed": "<img src=x onerror=alert(2)>",
        "ema": True,
        "n": 1,
        "items": [{"index": 0, "image": "images/0.png"}],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_markup_in_a_manifest_is_escaped_or_refused(tmp_path):
    root = _hostile_gallery(tmp_path / "g")
    with pytest.raises(DataError, match="checkpoint_step"):
        read_manifest(root)  # a step must be a whole number
    # written even from an unvalidated manifest, every value is escaped
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["items"][0]["index"] = "<script>alert(3)</script>"
    page = write_index_html(
        root, manifest, {"summary": {"<b>k</b>": "<i>v</i>"}, "per_image": [{"index": "<script>", "x": 1.0}]}
    ).read_text()
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>k" not in page and "<i>v" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page


@pytest.mark.parametrize(
    "manifest,problem",
    [
        ({"n": 2}, 'no "items" list'),
        ({"items": {"0": "images/0.png"}}, 'no "items" list'),
        ({"items": [{"index": "<script>", "image": "images/0.png"}]}, '"index"'),
        ({"items": [{"index": 0, "image": "../../etc/passwd"}]}, "outside the gallery"),
        ({"items": [{"index": 0, "image": "/etc/passwd"}]}, "outside the gallery"),
        ({"items": [], "seed": "1"}, '"seed"'),
        ([1, 2], "not a JSON object"),
    ],
)
def test_bad_manifests_give_one_clear_error(tmp_path, manifest, problem):
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="manifest") as info:
        read_manifest(tmp_path)
    assert problem in str(info.value) and str(tmp_path / "manifest.json") in str(info.value)


def test_manifest_without_items_is_exit_2_in_evaluate_and_export(tmp_path, capsys):
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "manifest.json").write_text('{"n": 3}')
    for args in (
        ["evaluate", str(tmp_path / "g"), "--real", str(tmp_path / "g"), "--random-weights"],
        ["export", str(tmp_path / "g"), "--select", "0", "--out", str(tmp_path / "e")],
    ):
        assert main(args) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and 'no "items" list' in errors[0] and "Traceback" not in errors[0]


def test_read_gallery_uses_the_validated_manifest(run, tmp_path):
    out = generate_gallery(run, tmp_path / "g", n=3, seed=0, device="cpu")
    images, masks, names, manifest = read_gallery(out)
    assert images.shape[0] == 3 and masks.shape[0] == 3 and manifest["n"] == 3


# -- export ---------------------------------------------------------------------------------------------------


def test_parse_selection():
    assert parse_selection("0,3,7-9") == [0, 3, 7, 8, 9]
    assert parse_selection(" 2 , 2,1-2") == [1, 2]
    for bad in ("", "a", "3-1", "1,-2", "1.5"):
        with pytest.raises(ConfigError, match="--select"):
            parse_selection(bad)


def test_export_cli_copies_the_selection_with_scores_and_page(run, tmp_path, capsys):
    src = generate_gallery(run, tmp_path / "g", n=10, seed=0, device="cpu")
    rows = [{"index": i, "sifid_64": float(i)} for i in range(10)]
    (src / "metrics.json").write_text(json.dumps({"summary": {"sifid_64_mean": 4.5}, "per_image": rows}))
    dest = tmp_path / "chosen"
    assert main(["export", str(src), "--select", "0,3,7-9", "--out", str(dest)]) == 0
    assert "exported 5 pairs" in capsys.readouterr().out
    manifest = read_manifest(dest)
    assert [it["index"] for it in manifest["items"]] == [0, 3, 7, 8, 9] and manifest["n"] == 5
    assert _pictures(dest) == _listed(dest) and len(_pictures(dest)) == 15
    metrics = json.loads((dest / "metrics.json").read_text())
    assert metrics["summary"]["sifid_64_mean"] == pytest.approx((0 + 3 + 7 + 8 + 9) / 5)
    assert 'data-index="7"' in (dest / "index.html").read_text()
    # an unknown index is one clear error and leaves the export as it was
    assert main(["export", str(src), "--select", "12", "--out", str(dest)]) == 2
    assert "no item 12" in capsys.readouterr().err and len(read_manifest(dest)["items"]) == 5
    # a second export replaces the first whole
    assert export_selection(src, [1], dest).count == 1
    assert _pictures(dest) == _listed(dest) == {"images/0001.png", "masks/0001.png", "overlays/0001.png"}


def test_export_of_one_pair_says_pair(run, tmp_path, capsys):
    """Newuser 33: `osmis export G --select 0` said "exported 1 pairs"."""
    src = generate_gallery(run, tmp_path / "g", n=2, seed=0, device="cpu")
    assert main(["export", str(src), "--select", "0", "--out", str(tmp_path / "one")]) == 0
    assert "exported 1 pair (" in capsys.readouterr().out
