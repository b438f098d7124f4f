"""Would a relative diversity-collapse check help? For each run's stats.jsonl, the evaluations' pixel diversity and
the first step at which a rule "below SHARE x the run's highest diversity so far for 2 evaluations in a row" would
fire, for each SHARE (the health check in use is absolute: below 0.02).

    python benchmarks/diversity_dips.py runs/cpu-ablate runs/cpu-paper3x --shares 0.1,0.15,0.2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def diversities(stats: Path) -> list[tuple[int, float]]:
    """(step, diversity) of each evaluation row of a stats.jsonl (rolled-back rows are already gone from it)."""
    out = []
    for line in stats.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row.get("diversity"), (int, float)):
            out.append((int(row["step"]), float(row["diversity"])))
    return out


def first_alarm(values: list[tuple[int, float]], share: float, patience: int = 2) -> int | None:
    peak, run = 0.0, 0
    for step, value in values:
        run = run + 1 if peak > 0 and value < share * peak else 0
        if run >= patience:
            return step
        peak = max(peak, value)
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="folders searched for stats.jsonl")
    p.add_argument("--shares", default="0.1,0.15,0.2")
    args = p.parse_args(argv)
    shares = [float(s) for s in args.shares.split(",")]
    runs = sorted({f for folder in args.folders for f in Path(folder).rglob("stats.jsonl")})
    fired = {share: 0 for share in shares}
    examined = 0
    for stats in runs:
        values = diversities(stats)
        if len(values) < 5:  # cost measurements of a few iterations
            continue
        examined += 1
        alarms = {share: first_alarm(values, share) for share in shares}
        for share, step in alarms.items():
            fired[share] += step is not None
        line = " ".join(f"{share:g}:{'-' if step is None else step}" for share, step in alarms.items())
        print(f"{stats.parent.name:45s} last {values[-1][1]:.3f} min {min(v for _, v in values):.3f}  fires at {line}")
    counts = ", ".join(f"share {share:g} fires in {n}" for share, n in fired.items())
    print(f"{examined} runs with 5 evaluations or more; {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
