"""Compare recipes across one or more bench_recipes.json studies (issue 16: does a recipe at a third of the
iterations match a longer one?).

Reads the runs of every JSON given (studies made on different devices or days can be pooled: a run is keyed by case,
recipe and seed; a key seen twice is refused), groups them by case and recipe, and prints one Markdown table per
case: seeds, iterations, collapses and health events, and for each training metric the mean and sample standard
deviation over seeds of the final value and of the best value. The final per-class coverage (share of the 16 fixed-
noise samples showing each class) is read from each run's stats.jsonl where the run folder is still there.

With --reference R --candidate C it also gives a verdict per case and metric on the final values: the candidate
"matches" when its mean is no worse than the reference's mean by more than one reference standard deviation (better
is higher for diversity and class_coverage, lower for the others). With a single reference seed there is no spread
and the verdict is "n/a".

Usage:
    python benchmarks/compare_recipes.py runs/gpu-study-quick/bench_recipes.json \
        runs/cpu-paper3x/s0/bench_recipes.json --reference quick-paper-3x --candidate quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

METRICS = ("diversity", "mask_shares", "class_coverage", "sifid_proxy", "sifid")
HIGHER_IS_BETTER = {"diversity", "class_coverage"}


def run_folder(run: dict, study: Path) -> Path | None:
    """The run's folder: where the JSON says, else beside the JSON (the study may have been copied from a device)."""
    recorded = Path(run["run_dir"])
    for candidate in (recorded, study.parent / recorded.name, study.parent / "recipes" / recorded.name):
        if (candidate / "stats.jsonl").is_file():
            return candidate
    return None


def final_per_class(folder: Path | None) -> list | None:
    """class_coverage_per_class of the run's last evaluation (after any rollback), or None."""
    if folder is None:
        return None
    last = None
    for line in (folder / "stats.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row.get("event") == "eval" and "class_coverage_per_class" in row:
            last = row["class_coverage_per_class"]
    return last


def load_runs(paths: list[Path]) -> list[dict]:
    runs, seen = [], {}
    for path in paths:
        try:
            study = json.loads(path.read_text())
            study_runs = study["runs"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}: not a bench_recipes.json study (no list of runs).") from None
        for run in study_runs:
            key = (Path(run["case"]).name, run["recipe"], run["seed"])
            if key in seen:
                raise ValueError(f"{key} is in both {seen[key]} and {path}; give each run once.")
            seen[key] = path
            runs.append({**run, "case": key[0], "device": study.get("device"), "per_class": None, "study": path})
            runs[-1]["per_class"] = final_per_class(run_folder(run, path))
    return runs


def spread(values: list[float]) -> tuple[float, float | None]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(mean: float, sd: float | None) -> str:
    return f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f}"


def table(case: str, runs: list[dict]) -> list[str]:
    recipes = list(dict.fromkeys(r["recipe"] for r in runs))
    metrics = [m for m in METRICS if any(m in r["metrics"] for r in runs)]
    head = ["recipe", "device", "seeds", "iters", "collapsed", "health events"]
    head += [f"{m} final" for m in metrics] + [f"{m} best" for m in metrics] + ["final coverage per class (mean)"]
    lines = [f"### {case}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for recipe in recipes:
        group = [r for r in runs if r["recipe"] == recipe]
        events = sorted({h["kind"] for r in group for h in r["health"]})
        row = [
            recipe,
            ",".join(sorted({str(r["device"]) for r in group})),
            str(len(group)),
            str(group[0]["iters"]),
            str(sum(bool(r["collapsed"]) for r in group)),
            ", ".join(f"{k} ×{sum(h['kind'] == k for r in group for h in r['health'])}" for k in events) or "none",
        ]
        for what in ("final", "best"):
            for m in metrics:
                values = [r["metrics"][m][what] for r in group if m in r["metrics"]]
                row.append(fmt(*spread(values)) if values else "")
        classes = [r["per_class"] for r in group if r["per_class"]]
        if classes:
            per_class = [
                statistics.mean(c[k] for c in classes if c[k] is not None)
                if any(c[k] is not None for c in classes)
                else None
                for k in range(len(classes[0]))
            ]
            row.append("[" + ", ".join("–" if v is None else f"{v:.2f}" for v in per_class) + "]")
        else:
            row.append("")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def verdict(case: str, runs: list[dict], reference: str, candidate: str) -> list[str]:
    ref = [r for r in runs if r["recipe"] == reference]
    cand = [r for r in runs if r["recipe"] == candidate]
    if not ref or not cand:
        return [f"{case}: no runs of {reference if not ref else candidate}; no verdict."]
    out = []
    for m in METRICS:
        rv = [r["metrics"][m]["final"] for r in ref if m in r["metrics"]]
        cv = [r["metrics"][m]["final"] for r in cand if m in r["metrics"]]
        if not rv or not cv:
            continue
        (rm, rs), (cm, _) = spread(rv), spread(cv)
        if rs is None:
            word = "n/a (one reference seed)"
        else:
            gap = (rm - cm) if m in HIGHER_IS_BETTER else (cm - rm)
            word = "matches" if gap <= rs else "worse"
        out.append(
            f"{case} {m}: {candidate} {cm:.3f} ({len(cv)} seeds) vs {reference} {rm:.3f}"
            f"{f' ± {rs:.3f}' if rs is not None else ''} ({len(rv)} seeds): {word}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("studies", nargs="+", type=Path, help="bench_recipes.json files")
    p.add_argument("--reference", help="the longer recipe (e.g. quick-paper-3x)")
    p.add_argument("--candidate", help="the recipe at fewer iterations (e.g. quick)")
    args = p.parse_args(argv)
    missing = [str(s) for s in args.studies if not s.is_file()]
    if missing:
        what = "a folder, not a study file" if Path(missing[0]).is_dir() else "no such study file"
        print(f"error: {missing[0]}: {what} (give its bench_recipes.json).", file=sys.stderr)
        return 2
    if (args.reference is None) != (args.candidate is None):
        print("error: give --reference and --candidate together.", file=sys.stderr)
        return 2
    try:
        runs = load_runs(args.studies)
    except ValueError as exc:  # a run given twice, or a file that is not a study
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for case in dict.fromkeys(r["case"] for r in runs):
        group = [r for r in runs if r["case"] == case]
        print("\n".join(table(case, group)) + "\n")
        if args.reference:
            print("\n".join(verdict(case, group, args.reference, args.candidate)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
