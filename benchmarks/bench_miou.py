"""mIoU's affordable setting against the full setting on the same galleries, and what all default metrics cost.

For each DATA (default: ../shared/data/example_image and datasets/example_scene) the script trains a run with the
quick preset (or takes one with --runs), generates one gallery of --n samples per seed (default seeds 0, 1, 2),
and scores every gallery with all default metrics twice on --device: once with the mIoU "affordable" setting
(AFFORDABLE in osmis_core/metrics/miou.py: fewer steps, segmenter input bounded in size) and once with the "full"
setting (docs/metrics.md section 5: 500 steps per direction at the gallery's size). SIFID, LPIPS and pixel diversity do
the same work in both. It reports, per gallery, both mIoUs (both directions) and their difference, and side by side the
wall time of all default metrics per setting (the figure for README: target < 3 minutes with the affordable setting on
the 2-core CPU for 100 samples at the quick preset's size, i.e. datasets/example_scene).

The galleries' seeds are the "3 seeds": each seed gives another gallery from the same run; the segmenter's own
initialisation is fixed (osmis_core.metrics.weights.RANDOM_SEED) so that both settings start alike.

    .venv/bin/python benchmarks/bench_miou.py [--random-weights] [--runs RUN ...] [--train-iters N] [--n 100]
        [--seeds 0,1,2] [--settings affordable,full] [--device cpu] [--out bench_miou] [--json-out bench_miou.json]

With --estimate-check GALLERY, it instead checks the plan's estimate against what really happens, as a user sees
it: `osmis evaluate GALLERY --real DATA` is run --repeats times per setting (a fresh process each, on a copy of the
gallery: affordable with all default metrics, full with mIoU alone, as in README), and it reports per metric the
estimate against the measured seconds (per phase for mIoU), the plan's total against the metrics' time, and the
command's whole wall time (start-up, reading and writing included, which the plan does not count):

    .venv/bin/python benchmarks/bench_miou.py --estimate-check GALLERY --data datasets/example_scene \
        --random-weights [--repeats 3] [--settings affordable,full] [--json-out bench_estimate.json]

Quick check that it runs (not a measurement):
    .venv/bin/python benchmarks/bench_miou.py --random-weights --train-iters 2 --n 4 --seeds 0 \
        --miou-steps 2 --out /tmp/bench_miou_check --json-out /tmp/bench_miou_check.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from osmis_core.application.evaluation import read_gallery, read_real
from osmis_core.application.gallery import generate_gallery
from osmis_core.application.runfolder import atomic_write_text
from osmis_core.application.session import start_training
from osmis_core.config import build_config
from osmis_core.events import TrainControl, TrainingFailed
from osmis_core.metrics import MIoUSetting, evaluate_images, metric_names, miou_setting_for

MIOU_KEYS = ("miou_gen_to_real", "miou_real_to_gen")


def train_run(data: str, run_dir: Path, iters: int | None, device: str) -> Path:
    """A quick-preset run on DATA (kept when run_dir already holds a run of this bench)."""
    if (run_dir / "run.json").is_file():
        return run_dir
    overrides = {"device": device, **({"iters": iters} if iters else {})}
    trainer = start_training(build_config("quick", None, overrides), data, run_dir)
    for event in trainer.run(TrainControl()):
        if isinstance(event, TrainingFailed):
            raise SystemExit(f"training on {data} failed: {event.message}")
    return run_dir


def score(gallery: Path, data: str, setting: MIoUSetting, device: str, random_weights: bool) -> dict:
    """All default metrics of the gallery with this mIoU setting; wall time of the whole call."""
    fake, fake_masks, names, _ = read_gallery(gallery)
    real, real_masks = read_real(data, None, tuple(fake.shape[-2:]))
    start = time.perf_counter()
    result = evaluate_images(
        fake,
        real,
        fake_masks,
        real_masks,
        metrics=metric_names(default_only=True),
        random_weights=random_weights,
        device=device,
        miou_setting=setting,
        names=names,
    )
    total = time.perf_counter() - start
    return {
        "total_s": total,
        "seconds": result["seconds"],
        "estimates": result["estimates"],
        "miou": {k: result["summary"].get(k) for k in MIOU_KEYS},
        "settings": result["settings"].get("miou"),
        "not_computed": result["not_computed"],
        "size": list(fake.shape[-2:]),
        "n": fake.shape[0],
    }


def estimate_check(
    gallery: Path, data: str, setting: str, device: str, random_weights: bool, miou_steps: int | None
) -> dict:
    """One `osmis evaluate` of a copy of the gallery in a fresh process: the plan's estimates, the measured seconds
    (per metric and per phase) and the command's wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / gallery.name
        shutil.copytree(gallery, copy)
        command = [sys.executable, "-m", "osmis_core", "evaluate", str(copy), "--real", data, "--device", device]
        command += ["--miou-setting", setting, "--json"] + (["--metrics", "miou"] if setting == "full" else [])
        command += (["--random-weights"] if random_weights else []) + (
            ["--miou-steps", str(miou_steps)] if miou_steps else []
        )
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
    result = json.loads(done.stdout)
    return {
        "setting": setting,
        "wall_s": wall,
        "estimates": result["estimates"],
        "seconds": result["seconds"],
        "estimate_phases": result["estimate_phases"],
        "phase_seconds": result["phase_seconds"],
    }


def report_estimates(runs: list[dict]) -> None:
    """Per setting, medians over the repeats: estimate against measured seconds, per metric and mIoU phase."""
    for setting in dict.fromkeys(r["setting"] for r in runs):
        mine = [r for r in runs if r["setting"] == setting]
        print(f"\n{setting} ({len(mine)} runs, medians): | metric / phase | estimate (s) | measured (s) | ratio |")
        for metric in mine[0]["estimates"]:
            rows = [(metric, [r["estimates"][metric] for r in mine], [r["seconds"][metric] for r in mine])]
            if len(mine[0]["estimate_phases"][metric]) > 2:  # mIoU: each phase of its own
                rows += [
                    (
                        f"  {metric}: {phase}",
                        [r["estimate_phases"][metric][phase] for r in mine],
                        [r["phase_seconds"][metric][phase] for r in mine],
                    )
                    for phase in mine[0]["estimate_phases"][metric]
                ]
            for name, est, real in rows:
                ratios = [e / m for e, m in zip(est, real) if m > 0]
                print(
                    f"| {name} | {statistics.median(est):.1f} | {statistics.median(real):.1f} | "
                    f"{statistics.median(ratios) if ratios else float('nan'):.2f} (runs: "
                    + ", ".join(f"{x:.2f}" for x in ratios)
                    + ") |"
                )
        plan = [sum(r["estimates"].values()) for r in mine]
        metrics = [sum(r["seconds"].values()) for r in mine]
        walls = [r["wall_s"] for r in mine]
        print(
            f"| plan total vs metrics' time | {statistics.median(plan):.1f} | {statistics.median(metrics):.1f} | "
            + ", ".join(f"{p / m:.2f}" for p, m in zip(plan, metrics))
            + " |"
        )
        print(
            f"| plan total vs whole command (wall) | {statistics.median(plan):.1f} | {statistics.median(walls):.1f} | "
            + ", ".join(f"{p / w:.2f}" for p, w in zip(plan, walls))
            + " |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", default=["../shared/data/example_image", "datasets/example_scene"])
    p.add_argument("--runs", nargs="+", help="run folders to use instead of training (one per --data, same order)")
    p.add_argument("--train-iters", type=int, default=None, help="training iterations (default: the quick preset's)")
    p.add_argument("--n", type=int, default=100, help="samples per gallery")
    p.add_argument("--seeds", default="0,1,2", help="gallery seeds")
    p.add_argument("--settings", default="affordable,full", help="mIoU settings to compare")
    p.add_argument("--miou-steps", type=int, default=None, help="override both settings' steps (checks only)")
    p.add_argument(
        "--affordable-steps",
        type=int,
        default=None,
        help="try another step count for the affordable setting (default: AFFORDABLE's)",
    )
    p.add_argument(
        "--affordable-side",
        type=int,
        default=None,
        help="try another bound on the segmenter's longer side (default: AFFORDABLE's)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--random-weights", action="store_true", help="random-init networks (offline; not papers')")
    p.add_argument("--out", default="bench_miou", help="folder for the runs and galleries")
    p.add_argument("--json-out", default="bench_miou.json")
    p.add_argument("--estimate-check", metavar="GALLERY", help="check the plan's estimates on this gallery instead")
    p.add_argument("--repeats", type=int, default=3, help="runs per setting with --estimate-check")
    args = p.parse_args()
    if args.estimate_check:
        data = args.data[-1]  # one DATA: the gallery's training data
        runs = []
        for _ in range(args.repeats):  # settings interleaved, so that a change of load hits both alike
            for setting in args.settings.split(","):
                runs.append(
                    estimate_check(
                        Path(args.estimate_check), data, setting, args.device, args.random_weights, args.miou_steps
                    )
                )
                print(f"{setting}: {runs[-1]['wall_s']:.1f} s wall", flush=True)
        report_estimates(runs)
        atomic_write_text(Path(args.json_out), json.dumps({"device": args.device, "runs": runs}, indent=2) + "\n")
        print(f"\nwrote {args.json_out}")
        return
    if args.runs and len(args.runs) != len(args.data):
        p.error("--runs needs one run folder per --data")
    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = []
    for name in args.settings.split(","):
        setting = miou_setting_for(args.device, name)
        if name == "affordable" and (args.affordable_steps or args.affordable_side):
            setting = MIoUSetting(
                f"affordable {args.affordable_steps or setting.steps} steps at "
                f"{args.affordable_side or setting.max_side} px",
                args.affordable_steps or setting.steps,
                args.affordable_side or setting.max_side,
            )
        settings.append(setting.with_steps(args.miou_steps))

    rows = []
    for i, data in enumerate(args.data):
        run = (
            Path(args.runs[i])
            if args.runs
            else train_run(data, out / f"run-{Path(data).name}", args.train_iters, args.device)
        )
        for seed in seeds:
            gallery = out / f"gallery-{Path(data).name}-seed{seed}"
            if not (gallery / "manifest.json").is_file():
                generate_gallery(run, gallery, n=args.n, seed=seed, device=args.device)
            row = {"data": data, "seed": seed, "gallery": str(gallery)}
            for setting in settings:
                row[setting.name] = score(gallery, data, setting, args.device, args.random_weights)
                print(
                    f"{Path(data).name} seed {seed} {setting.name}: {row[setting.name]['total_s']:.1f} s, "
                    f"mIoU {row[setting.name]['miou']}",
                    flush=True,
                )
            rows.append(row)

    names = [s.name for s in settings]
    print(
        "\n| data | seed | "
        + " | ".join(f"{k} {n}" for k in MIOU_KEYS for n in names)
        + (" | " + " | ".join(f"{k} difference" for k in MIOU_KEYS) if len(names) == 2 else "")
        + " |"
    )
    for row in rows:
        values = [row[n]["miou"][k] for k in MIOU_KEYS for n in names]
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in values]
        if len(names) == 2:
            for k in MIOU_KEYS:
                a, b = row[names[0]]["miou"][k], row[names[1]]["miou"][k]
                cells.append(f"{a - b:+.3f}" if isinstance(a, float) and isinstance(b, float) else "-")
        print(f"| {Path(row['data']).name} | {row['seed']} | " + " | ".join(cells) + " |")
    if len(names) == 2:
        for k in MIOU_KEYS:
            diffs = [
                r[names[0]]["miou"][k] - r[names[1]]["miou"][k]
                for r in rows
                if isinstance(r[names[0]]["miou"][k], float) and isinstance(r[names[1]]["miou"][k], float)
            ]
            if diffs:
                print(
                    f"{k}: mean difference {statistics.mean(diffs):+.3f}, largest |difference| "
                    f"{max(abs(d) for d in diffs):.3f} over {len(diffs)} galleries"
                )

    print(
        "\n| setting | all default metrics, median over galleries per data (s) | per metric (s) "
        "| the plan's estimate (s) |"
    )
    for n in names:
        for data in args.data:
            runs = [r[n] for r in rows if r["data"] == data]
            per_metric = {
                m: round(statistics.median(r["seconds"].get(m, 0.0) for r in runs), 1) for m in runs[0]["seconds"]
            }
            estimate = statistics.median(sum(r["estimates"].values()) for r in runs)
            h, w = runs[0]["size"]
            print(
                f"| {n} | {Path(data).name}, {runs[0]['n']} images {w}x{h}: "
                f"{statistics.median(r['total_s'] for r in runs):.1f} | {per_metric} | {estimate:.1f} |"
            )
    atomic_write_text(
        Path(args.json_out),
        json.dumps({"device": args.device, "random_weights": args.random_weights, "rows": rows}, indent=2) + "\n",
    )
    print(f"\nwrote {args.json_out}")


if __name__ == "__main__":
    main()
