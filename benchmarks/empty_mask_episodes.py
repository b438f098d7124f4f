"""How often a relative `empty_masks` rule would have fired on kept runs (issue 16: is the health check too lax?).

From each run's stats.jsonl evaluations: an evaluation "draws no class but the largest" when every class other
than class 0 has class_coverage 0 (no sample holds it at a tenth of its real share, monitor.class_coverage); the
rule fires at the second such evaluation in a row after an evaluation that drew some (a fall, as the detectors'
episodes count). Reads only; prints one line per run and the count.

Usage: python benchmarks/empty_mask_episodes.py runs/cpu-ablate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def episodes(stats: Path) -> tuple[list[int], list[int]] | None:
    """(steps where the rule fires, steps of every evaluation drawing no class but class 0), None without masks."""
    evals = []
    for line in stats.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("event") == "eval" and record.get("class_coverage_per_class"):
            evals.append(record)
    if not evals:
        return None
    drew, in_row, fired, empty = False, 0, [], []
    for record in evals:
        if all(c == 0 for c in record["class_coverage_per_class"][1:] if c is not None):
            empty.append(record["step"])
            if drew:
                in_row += 1
                if in_row == 2:
                    fired.append(record["step"])
        else:
            drew, in_row = True, 0
    return fired, empty


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/cpu-ablate")
    runs = fired_runs = 0
    for stats in sorted(root.glob("*/*/stats.jsonl")):
        found = episodes(stats)
        if found is None:
            continue
        runs += 1
        fired_runs += bool(found[0])
        print(f"{stats.parent.relative_to(root)}: fires at {found[0]}; no class but 0 at {found[1]}")
    print(f"{fired_runs} of {runs} runs with masks would fire")


if __name__ == "__main__":
    main()
