"""benchmarks/compare_recipes.py pools bench_recipes.json studies, summarises per case and recipe, and gives the
reference/candidate verdict by the documented rule (within one reference standard deviation, direction per metric)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare_recipes", ROOT / "benchmarks" / "compare_recipes.py")
    module = sys.modules["compare_recipes"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tmp_path, recipe, seed, sifid, diversity, per_class=None):
    folder = tmp_path / f"scene-{recipe}-seed{seed}"
    if per_class is not None:
        folder.mkdir()
        rows = [{"step": 1, "event": "eval", "class_coverage_per_class": [1.0, 1.0, 1.0]}]
        rows.append({"step": 2, "event": "eval", "class_coverage_per_class": per_class})
        (folder / "stats.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    metric = lambda v: {"best": v, "best_step": 2, "final": v, "final_step": 2}  # noqa: E731
    return {
        "case": "datasets/example_scene",
        "recipe": recipe,
        "seed": seed,
        "iters": 3600 if recipe == "long" else 1200,
        "collapsed": False,
        "health": [{"step": 2, "kind": "missing_class", "action": "warn", "message": ""}],
        "metrics": {"sifid_proxy": metric(sifid), "diversity": metric(diversity)},
        "run_dir": f"/elsewhere/{folder.name}",
    }


def _study(path, runs, device="cpu"):
    path.write_text(json.dumps({"device": device, "runs": runs}))
    return path


def test_pooled_table_and_verdict(tmp_path, compare, capsys):
    a = _study(
        tmp_path / "a.json",
        [_run(tmp_path, "long", 0, 0.40, 0.60, [1.0, 1.0, 0.5]), _run(tmp_path, "long", 1, 0.60, 0.80, None)],
    )
    b = _study(tmp_path / "b.json", [_run(tmp_path, "short", 0, 0.55, 0.40), _run(tmp_path, "short", 1, 0.75, 0.50)])
    assert compare.main([str(a), str(b), "--reference", "long", "--candidate", "short"]) == 0
    out = capsys.readouterr().out
    # long: sifid 0.5 ± 0.141, diversity 0.7 ± 0.141; short: sifid 0.65 (0.15 worse: within), diversity 0.45 (worse)
    assert "| long | cpu | 2 | 3600 | 0 | missing_class ×2 |" in out
    assert "0.500 ± 0.141" in out and "[1.00, 1.00, 0.50]" in out  # per class from the one folder left beside a.json
    assert "example_scene sifid_proxy: short 0.650 (2 seeds) vs long 0.500 ± 0.141 (2 seeds): worse" in out
    assert "example_scene diversity: short 0.450 (2 seeds) vs long 0.700 ± 0.141 (2 seeds): worse" in out


def test_a_candidate_within_one_sd_matches(tmp_path, compare, capsys):
    a = _study(tmp_path / "a.json", [_run(tmp_path, "long", 0, 0.4, 0.6), _run(tmp_path, "long", 1, 0.6, 0.8)])
    b = _study(tmp_path / "b.json", [_run(tmp_path, "short", 0, 0.6, 0.6)])
    assert compare.main([str(a), str(b), "--reference", "long", "--candidate", "short"]) == 0
    out = capsys.readouterr().out
    assert "sifid_proxy: short 0.600 (1 seeds) vs long 0.500 ± 0.141 (2 seeds): matches" in out
    assert "diversity: short 0.600 (1 seeds) vs long 0.700 ± 0.141 (2 seeds): matches" in out


def test_a_run_given_twice_is_refused(tmp_path, compare, capsys):
    a = _study(tmp_path / "a.json", [_run(tmp_path, "long", 0, 0.4, 0.6)])
    assert compare.main([str(a), str(a)]) == 2
    assert "is in both" in capsys.readouterr().err


def test_a_missing_study_file_exits_2(tmp_path, compare, capsys):
    assert compare.main([str(tmp_path / "none.json")]) == 2
    assert "none.json: no such study file" in capsys.readouterr().err


def test_a_file_that_is_not_a_study_exits_2(tmp_path, compare, capsys):
    (tmp_path / "x.json").write_text("[1, 2]")
    assert compare.main([str(tmp_path / "x.json")]) == 2
    assert "x.json: not a bench_recipes.json study" in capsys.readouterr().err


def test_a_folder_is_named_as_a_folder(tmp_path, compare, capsys):
    assert compare.main([str(tmp_path)]) == 2
    assert "a folder, not a study file" in capsys.readouterr().err
