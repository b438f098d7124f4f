"""`osmis batch` on this machine: Ray's scheduling overhead per run, and throughput against a sequential loop.

1. overhead: --sources (50) copies of datasets/example_scene at 1 iteration of the smallest model (max_size 96,
   4 channels), local Ray on --num-cpus (2) CPUs, one CPU per run. Overhead per run = (scheduling window x
   concurrent runs - sum of the runs' own work) / runs, where the window runs from BatchStarted (Ray up, storage
   and resources checked) to the last run's result, and a run's own work is what its worker measured: data,
   training, checkpoint, gallery (2 pairs), diversity. Ray's start-up, the dataset merge and the driver's peak
   RSS are reported apart.
2. throughput: 4 copies of example_scene at the quick preset (--iters overrides its 1,200 to shorten the
   measure), (a) a sequential shell loop (`osmis train` then `osmis generate`, one process each, torch on all
   cores), (b) `osmis batch --cpus-per-run 1` (one run per core) and (c) `osmis batch --cpus-per-run 2` (one run
   on both cores). Reports wall time and the ratio to the loop. The batch also scores each gallery's pixel
   diversity (under a second per run), which the loop does not.

Usage: python benchmarks/bench_batch.py [--part overhead|throughput|all] [--sources 50] [--iters 1200]
Results are printed and written to bench_batch.json. Run it on a quiet machine.
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "datasets" / "example_scene"
SMALLEST = dict(
    max_size=96,
    ch_g=4,
    ch_d=4,
    noise_dim=8,
    batch_size=2,
    iters=1,
    log_every=1,
    preview_every=1,
    checkpoint_every=1,
    device="cpu",
)


def make_sources(root: Path, n: int) -> Path:
    """A research-layout SOURCES folder: n copies of example_scene's image + mask (s000, s001, ...)."""
    image, mask = next((EXAMPLE / "image").iterdir()), next((EXAMPLE / "mask").iterdir())
    (root / "image").mkdir(parents=True)
    (root / "mask").mkdir()
    for i in range(n):
        shutil.copyfile(image, root / "image" / f"s{i:03d}{image.suffix}")
        shutil.copyfile(mask, root / "mask" / f"s{i:03d}{mask.suffix}")
    return root


def timed_batch(sources: Path, config, out: Path, **kwargs) -> dict:
    from osmis_core.batch import BatchFinished, BatchStarted, DatasetWritten, RunFinished, run_batch

    t0 = time.perf_counter()
    marks, rows = {}, []
    for event in run_batch(sources, config, out, **kwargs):
        now = time.perf_counter() - t0
        if isinstance(event, BatchStarted):
            marks["started"] = now
        elif isinstance(event, RunFinished):
            marks["last_run"] = now
            rows.append(event.record)
            if event.status != "finished":
                raise SystemExit(f"{event.name}: {event.status}: {event.message}")
        elif isinstance(event, DatasetWritten):
            marks["dataset"] = now
        elif isinstance(event, BatchFinished):
            marks["finished"] = now
    return {"marks": marks, "rows": rows}


def overhead(args, tmp: Path) -> dict:
    from osmis_core.config import build_config

    sources = make_sources(tmp / "overhead-src", args.sources)
    config = build_config(None, None, SMALLEST)
    slots = int(args.num_cpus // 1)
    r = timed_batch(sources, config, tmp / "overhead-batch", n_per_source=2, num_cpus=args.num_cpus, cpus_per_run=1)
    m, rows = r["marks"], r["rows"]
    own = sum(row["seconds"] for row in rows)
    window = m["last_run"] - m["started"]
    per_run = (window * slots - own) / len(rows)
    result = {
        "runs": len(rows),
        "concurrent": slots,
        "ray_start_and_checks_s": round(m["started"], 2),
        "window_s": round(window, 2),
        "sum_own_work_s": round(own, 2),
        "mean_own_work_s": round(own / len(rows), 3),
        "mean_train_s": round(sum(row["train_seconds"] for row in rows) / len(rows), 3),
        "overhead_per_run_s": round(per_run, 3),
        "merge_and_summary_s": round(m["finished"] - m["last_run"], 2),
        "total_s": round(m["finished"], 2),
        # the driver process: osmis_core, torch and the Ray client; Ray's own head processes are apart
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(
        f"overhead: {result['runs']} runs, {slots} at a time: window {window:.1f} s, own work {own:.1f} s "
        f"(mean {own / len(rows):.2f} s), overhead {per_run:.3f} s per run; Ray start-up {m['started']:.1f} s, "
        f"merge + summary {result['merge_and_summary_s']} s",
        flush=True,
    )
    return result


def throughput(args, tmp: Path) -> dict:
    from osmis_core.config import build_config

    sources = make_sources(tmp / "tp-src", 4)
    extra = ["--iters", str(args.iters)] if args.iters else []
    result = {"sources": 4, "iters": args.iters or build_config("quick").run.iters}

    t0 = time.perf_counter()
    for image in sorted((sources / "image").iterdir()):
        run = tmp / "loop" / image.stem
        subprocess.run(
            [
                sys.executable,
                "-m",
                "osmis_core",
                "train",
                str(image),
                "--mask",
                str(sources / "mask" / image.name),
                "--out",
                str(run),
                "--preset",
                "quick",
                "--device",
                "cpu",
                "--quiet",
                *extra,
            ],
            check=True,
            cwd=REPO,
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "osmis_core",
                "generate",
                str(run),
                "--out",
                str(run / "gallery"),
                "--n",
                str(args.n_per_source),
                "--device",
                "cpu",
            ],
            check=True,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
    result["sequential_loop_s"] = round(time.perf_counter() - t0, 2)
    print(f"throughput: sequential loop {result['sequential_loop_s']} s", flush=True)

    for cpus in (1, 2):
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "osmis_core",
                "batch",
                str(sources),
                "--out",
                str(tmp / f"batch-{cpus}"),
                "--preset",
                "quick",
                "--device",
                "cpu",
                "--quiet",
                "--num-cpus",
                str(args.num_cpus),
                "--cpus-per-run",
                str(cpus),
                "--n-per-source",
                str(args.n_per_source),
                *extra,
            ],
            check=True,
            cwd=REPO,
        )
        wall = time.perf_counter() - t0
        result[f"batch_cpus_per_run_{cpus}_s"] = round(wall, 2)
        result[f"batch_cpus_per_run_{cpus}_speedup"] = round(result["sequential_loop_s"] / wall, 3)
        print(
            f"throughput: osmis batch --cpus-per-run {cpus}: {wall:.1f} s, "
            f"{result['sequential_loop_s'] / wall:.2f}x the loop",
            flush=True,
        )
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--part", choices=("overhead", "throughput", "all"), default="all")
    p.add_argument("--sources", type=int, default=50, help="sources of the overhead part (default 50)")
    p.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    p.add_argument(
        "--iters",
        type=int,
        default=None,
        help="throughput part: iterations per run (default: the quick preset's 1,200)",
    )
    p.add_argument("--n-per-source", type=int, default=100, help="throughput part: gallery size (default 100)")
    p.add_argument("--json-out", default="bench_batch.json")
    args = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="osmis-bench-batch-") as tmp:
        if args.part in ("overhead", "all"):
            results["overhead"] = overhead(args, Path(tmp))
        if args.part in ("throughput", "all"):
            results["throughput"] = throughput(args, Path(tmp))
    Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
