"""How strong is the diversity regularisation against the adversarial loss in finished runs? For each run under the
given folders: batch size, lambda_DR, and over the run's logged steps the median of |g_diversity| (the unweighted
term, as stats.jsonl logs it), of lambda_DR x |g_diversity| (what it adds to G's loss) and of the generator's
adversarial terms (g_low_level + g_content + g_layout).

The term sums over every pair of the batch (docs/model.md section 4), B(B-1)/2 pairs: 6 at quick's batch of 4, 10 at
the paper's 5, 66 at 12, so the same lambda_DR weighs more at a larger batch.

    python benchmarks/loss_shares.py runs/cpu-ablate
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def _option(config: dict, name: str):
    """An option of run.json's config, whichever group holds it."""
    for group in config.values():
        if isinstance(group, dict) and name in group:
            return group[name]
    return config.get(name)


def loss_shares(run: Path) -> dict | None:
    """The medians of one run (see the module's text); None for a folder without logged generator losses."""
    try:
        config = json.loads((run / "run.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    weight = _option(config, "lambda_dr") if isinstance(config, dict) else None
    if not isinstance(weight, (int, float)):  # an old or hand-edited run.json: no weight to scale by
        return None
    try:  # a stats.jsonl that is a folder or not text holds no logged losses
        lines = (run / "stats.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return None
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and all(
            isinstance(row.get(k), (int, float)) for k in ("g_diversity", "g_low_level", "g_content", "g_layout")
        ):
            rows.append(row)
    if not rows:
        return None
    weight = float(weight)
    diversity = statistics.median(abs(r["g_diversity"]) for r in rows)
    return {
        "batch_size": _option(config, "batch_size"),
        "lambda_dr": weight,
        "dr": diversity,
        "weighted_dr": weight * diversity,
        "adversarial": statistics.median(r["g_low_level"] + r["g_content"] + r["g_layout"] for r in rows),
        "steps": len(rows),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="folders searched for run folders (with run.json and stats.jsonl)")
    args = p.parse_args(argv)
    missing = [f for f in args.folders if not Path(f).is_dir()]
    if missing:  # one sentence, not a table that silently lacks the folder the user meant
        print(f"error: {missing[0]}: no such folder.", file=sys.stderr)
        return 2
    print("run | batch | lambda_DR | median |g_diversity| | lambda_DR x it | median adversarial G | logged steps")
    for folder in args.folders:
        for stats in sorted(Path(folder).rglob("stats.jsonl")):
            shares = loss_shares(stats.parent)
            if shares is None:
                continue
            print(
                f"{stats.parent} | {shares['batch_size']} | {shares['lambda_dr']:.4f} | {shares['dr']:.3f} | "
                f"{shares['weighted_dr']:.3f} | {shares['adversarial']:.3f} | {shares['steps']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
