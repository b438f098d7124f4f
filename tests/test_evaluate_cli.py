"""`osmis evaluate` and `osmis run` end to end (random weights: offline, not comparable with papers)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import tiny_flags

from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main


def test_run_then_evaluate(scene, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run = tmp_path / "run"
    code = main(
        [
            "run",
            str(scene),
            "--out",
            str(run),
            "--iters",
            "2",
            "--n",
            "4",
            "--quiet",
            "--random-weights",
            "--miou-steps",
            "2",
            "--metrics",
            "sifid,lpips,lpips_train,diversity,miou",
            *tiny_flags(),
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    gallery = run / "galleries" / "step_0000002-seed0-n4"  # the one gallery location, which the app lists
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
    reason = "needs inception_v3_google-0cc3c7bd.pth"
    assert metrics["summary"]["sifid_64"] == reason and metrics["summary"]["pixel_diversity"] > 0
    assert metrics["not_computed"] == {"sifid": reason}
    # the reason, never None, in metrics.csv's summary row and on the gallery page
    summary_row = list(csv.DictReader((gallery / "metrics.csv").open()))[-1]
    assert summary_row["index"] == "summary" and summary_row["sifid_64"] == reason
    html = (gallery / "index.html").read_text()
    assert reason in html and "None" not in html


def test_run_resume_finishes_a_stopped_main_job(scene, tmp_path, capsys, monkeypatch):
    """A main job stopped after 2 iterations (only trained) is finished by `osmis run ... --resume`: training
    from its checkpoint to --iters, then the gallery and its metrics. Running into it without --resume says so."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--iters", "2", "--quiet", *tiny_flags()]) == 0
    capsys.readouterr()
    job = ["run", str(scene), "--out", str(run), "--n", "3", "--quiet", "--random-weights", "--metrics", "diversity"]
    assert main([*job, "--iters", "4", *tiny_flags()]) == 2
    assert "add --resume" in capsys.readouterr().err
    assert not RunFolder(run).gallery_dirs()
    code = main([*job, "--iters", "4", "--resume"])
    out = capsys.readouterr()
    assert code == 0, out.err
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4]
    assert (run / "checkpoints" / "step_0000004.pt").is_file()
    (gallery,) = RunFolder(run).gallery_dirs()
    metrics = json.loads((gallery / "metrics.json").read_text())
    assert len(metrics["per_image"]) == 3 and metrics["summary"]["pixel_diversity"] > 0
    assert (gallery / "index.html").is_file()
    # another config than the run's is refused, naming the option
    assert main([*job, "--resume", "--ch-g", "8"]) == 2
    assert "ch_g" in capsys.readouterr().err


def test_inspect_honours_preset(capsys):
    scene = __import__("pathlib").Path(__file__).resolve().parents[1] / "datasets" / "example_scene"
    assert main(["inspect", str(scene), "--json"]) == 0
    paper = json.loads(capsys.readouterr().out)
    assert main(["inspect", str(scene), "--preset", "quick", "--json"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert max(quick["resolution"]) == 160 and quick["params_g"] < paper["params_g"]


def test_inspect_shows_the_training_recipe_a_preset_sets(capsys):
    scene = Path(__file__).resolve().parents[1] / "datasets" / "example_scene"
    assert main(["inspect", str(scene), "--preset", "quick"]) == 0
    out = capsys.readouterr().out
    assert "iters 1200" in out and "lr_d 0.0002" in out and "eval_every 100" in out
    assert main(["inspect", str(scene), "--preset", "quick", "--model", "renderer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["training"] == {
        "iters": 3000,
        "lr_g": 1e-4,
        "lr_d": 4e-4,
    }  # the renderer evaluates no training metrics: no eval_every


def test_train_resume_accepts_the_same_preset(scene, tmp_path, capsys):
    """`osmis train ... --resume` with the run's own preset continues; with another preset (`short` trains with
    adaptive augmentation, which cannot change on resume) it says so."""
    run = tmp_path / "run"
    flags = tiny_flags()
    assert main(["train", str(scene), "--out", str(run), "--preset", "quick", "--iters", "2", "--quiet", *flags]) == 0
    assert main(["train", str(run), "--resume", "--preset", "quick", "--iters", "3", "--quiet", *flags]) == 0
    assert main(["train", str(run), "--resume", "--preset", "short", "--iters", "4", "--quiet", *flags]) == 2
    assert "another config" in capsys.readouterr().err


@pytest.mark.slow
def test_main_job_stopped_by_ctrl_c_then_finished_with_resume(scene, tmp_path):
    """`osmis run` stopped by Ctrl-C saves its checkpoint and says how to finish; `--resume` then trains on to
    --iters, generates and evaluates."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "TORCH_HOME": str(tmp_path / "empty-torch-home")}
    run = tmp_path / "run"
    job = [
        sys.executable,
        "-m",
        "osmis_core",
        "run",
        str(scene),
        "--out",
        str(run),
        "--n",
        "3",
        "--quiet",
        "--random-weights",
        "--metrics",
        "diversity",
    ]
    proc = subprocess.Popen(
        [*job, "--iters", "100000", *tiny_flags(checkpoint_every=100000)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stats = run / "stats.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (stats.exists() and len(stats.read_text().splitlines()) >= 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    # the job is unfinished: exit 130 (a scheduler must not read success), with the command that finishes it
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "--resume" in err and not RunFolder(run).gallery_dirs()
    stopped_at = RunFolder(run).latest_step()
    assert stopped_at is not None and stopped_at >= 2
    done = subprocess.run(
        [*job, "--iters", str(stopped_at + 2), "--resume"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert RunFolder(run).latest_step() == stopped_at + 2
    (gallery,) = RunFolder(run).gallery_dirs()
    assert json.loads((gallery / "metrics.json").read_text())["summary"]["pixel_diversity"] > 0
