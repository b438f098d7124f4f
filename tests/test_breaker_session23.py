"""Breaker session 23: benchmarks/loss_shares.py on odd folders. It reads every stats.jsonl under the folders it is
given; a run folder that is broken or from elsewhere must be left out of the table, not end the script with a
traceback, and a folder that does not exist is named in one sentence (exit 2) rather than giving an empty table."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"config": {"regularisation": {"lambda_dr": 0.15}, "optimisation": {"batch_size": 2}}}
ROW = {"step": 1, "g_low_level": 0.25, "g_content": 0.25, "g_layout": 0.25, "g_diversity": -0.01}


def _script():
    spec = importlib.util.spec_from_file_location("loss_shares_under_test", ROOT / "benchmarks" / "loss_shares.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, run_json: dict, stats: str | bytes | None) -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(run_json), encoding="utf-8")
    if isinstance(stats, bytes):
        (folder / "stats.jsonl").write_bytes(stats)
    elif stats is None:
        (folder / "stats.jsonl").mkdir()
    else:
        (folder / "stats.jsonl").write_text(stats, encoding="utf-8")
    return folder


def test_loss_shares_skips_junk_lines_that_are_json_but_no_object(tmp_path):
    run = _run(tmp_path / "r", CONFIG, 'junk\n[1, 2]\nnull\n"s"\n' + json.dumps(ROW) + "\n")
    shares = _script().loss_shares(run)
    assert shares["steps"] == 1 and shares["lambda_dr"] == 0.15 and shares["batch_size"] == 2


def test_loss_shares_leaves_out_odd_run_folders(tmp_path, capsys):
    good = json.dumps(ROW) + "\n"
    _run(tmp_path / "runs" / "good", CONFIG, good)
    _run(tmp_path / "runs" / "no_weight", {"config": {"optimisation": {"batch_size": 2}}}, good)
    _run(tmp_path / "runs" / "config_not_object", {"config": 5}, good)
    _run(tmp_path / "runs" / "stats_folder", CONFIG, None)
    _run(tmp_path / "runs" / "stats_not_text", CONFIG, b"\xff\xfe\n")
    assert _script().main([str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "good" in out and all(n not in out for n in ("no_weight", "config_not_object", "stats_"))


def test_loss_shares_names_a_missing_folder(tmp_path, capsys):
    assert _script().main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'nope'}: no such folder."
