"""`osmis evaluate` and `osmis run` end to end (random weights: offline, not comparable with papers)."""
import json

from helpers import tiny_flags

from osmis_core.cli import main


def test_run_then_evaluate(scene, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run = tmp_path / "run"
    code = main(["run", str(scene), "--out", str(run), "--iters", "2", "--n", "4", "--quiet", "--random-weights",
                 "--miou-steps", "2", "--metrics", "sifid,lpips,lpips_train,diversity,miou", *tiny_flags()])
    out = capsys.readouterr()
    assert code == 0, out.err
    gallery = run / "galleries" / "step_0000002-seed0-n4"   # the one gallery location, which the app lists
    assert f"gallery: {(gallery / 'index.html').resolve()}" in out.out and "NOT comparable" in out.err
    from osmis_gui.jobs import list_galleries
    assert list_galleries(run) == [str(gallery)]
    metrics = json.loads((gallery / "metrics.json").read_text())
    assert metrics["random_weights"] is True and len(metrics["per_image"]) == 4
    assert metrics["summary"]["sifid_64"] is not None and metrics["summary"]["pixel_diversity"] > 0
    assert (gallery / "metrics.csv").read_text().startswith("index,")
    html = (gallery / "index.html").read_text()
    assert "sifid_64" in html and "Summary" in html

    # offline without weights: one message naming each missing file, exit 2, weight-free metrics still written
    code = main(["evaluate", str(gallery), "--real", str(scene), "--metrics", "sifid,diversity", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "inception_v3_google-0cc3c7bd.pth" in err and "download" in err
    metrics = json.loads((gallery / "metrics.json").read_text())
    assert metrics["summary"]["sifid_64"] is None and metrics["summary"]["pixel_diversity"] > 0
