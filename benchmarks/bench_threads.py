"""Training speed on a shared CPU: quiet, next to one busy core, and two trainings at once; before and after the
thread plan of osmis_core/threads.py, side by side.

    python benchmarks/bench_threads.py                      # quick preset on datasets/example_scene, 2 rounds

Each measurement is a fresh process that trains `--warmup` + `--iters` iterations (the training step of `osmis
train`, no run folder) and reports the median seconds per timed iteration:
- before: the plain environment (no OMP_NUM_THREADS / OMP_WAIT_POLICY / GOMP_SPINCOUNT) and torch's defaults;
- after:  what the `osmis` entry points do: configure_threads() before torch is imported, and the governor
          checked after every iteration (osmis_core/threads.py).
Scenarios: quiet; hog (a busy-loop Python process, one core, started a second before); two (two trainings of the
same mode at once: each one's median is reported). Over the rounds the order of before/after alternates and the
medians of the round medians are reported. A measurement stops timing after --max-seconds (the slow 'before'
cases would otherwise take many minutes) and reports the median of the iterations it timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIN_ENV_DROP = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")


def _parse_set(items: list[str]) -> dict:
    """['max_size=64', 'compile=false'] -> {'max_size': 64, 'compile': False}, typed as the config options."""
    from osmis_core.config import option_type

    out = {}
    for item in items:
        key, _, text = item.partition("=")
        kind = option_type(key)
        out[key] = text.lower() in ("1", "true", "yes") if kind is bool else kind(text)
    return out


def worker(args) -> None:
    """One measurement (runs in its own process; torch is imported here, after the thread plan)."""
    governor = None
    if args.worker == "after":
        from osmis_core.threads import configure_threads

        plan = configure_threads(None)
    import torch

    from osmis_core.config import build_config
    from osmis_core.devices import resolve_device
    from osmis_core.training.trainer import Trainer, load_data_for

    config = build_config(args.preset, None, {**_parse_set(args.set), "device": "cpu"})
    device = resolve_device("cpu")
    data = load_data_for(config, args.data, None, device)
    trainer = Trainer(config, data, None, device)
    if args.worker == "after":
        governor = plan.governor()
        governor.check()
    times, threads = [], []
    t_loop = time.perf_counter()
    for i in range(args.warmup + args.iters):
        t = time.perf_counter()
        losses = trainer.train_step()
        float(losses.terms["d_total"])
        if governor is not None:
            governor.check()
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
            threads.append(torch.get_num_threads())
        if times and time.perf_counter() - t_loop > args.max_seconds:
            break
    Path(args.out).write_text(
        json.dumps({"times": times, "threads": threads, "median_s_per_iter": statistics.median(times)})
    )


def _spawn(mode: str, args, out: Path) -> subprocess.Popen:
    env = dict(os.environ)
    for k in PLAIN_ENV_DROP:
        env.pop(k, None)  # both modes start from the plain environment; 'after' adds its own
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        mode,
        "--out",
        str(out),
        "--data",
        args.data,
        "--iters",
        str(args.iters),
        "--warmup",
        str(args.warmup),
        "--max-seconds",
        str(args.max_seconds),
    ]
    if args.preset:
        cmd += ["--preset", args.preset]
    for s in args.set:
        cmd += ["--set", s]
    return subprocess.Popen(cmd, env=env, cwd=ROOT)


def _wait(procs: list[subprocess.Popen], outs: list[Path], timeout: float) -> list[dict]:
    results = []
    for p, out in zip(procs, outs):
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        results.append(json.loads(out.read_text()) if p.returncode == 0 and out.exists() else None)
    return results


def measure(scenario: str, mode: str, args, tmp: Path) -> list[dict | None]:
    n = 2 if scenario == "two" else 1
    outs = [tmp / f"{scenario}-{mode}-{i}-{time.monotonic_ns()}.json" for i in range(n)]
    hog = None
    if scenario == "hog":
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(1.0)
    try:
        procs = [_spawn(mode, args, out) for out in outs]
        return _wait(procs, outs, timeout=args.max_seconds + 300)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT / "datasets" / "example_scene"))
    ap.add_argument("--preset", default="quick")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="config override, e.g. --set max_size=64 (repeatable)",
    )
    ap.add_argument("--iters", type=int, default=6, help="timed iterations per measurement (default 6)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default 1)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds, before/after order alternating (default 2)")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="stop timing a measurement after this many seconds of training (default 60)",
    )
    ap.add_argument("--scenarios", default="quiet,hog,two")
    ap.add_argument("--json-out", default="bench_threads.json")
    ap.add_argument("--worker", choices=("before", "after"), help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0

    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    runs: dict[tuple[str, str], list[float]] = {}
    threads_seen: dict[tuple[str, str], set] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            modes = ("before", "after") if r % 2 == 0 else ("after", "before")
            for scenario in scenarios:
                for mode in modes:
                    results = measure(scenario, mode, args, Path(tmp))
                    for i, res in enumerate(results):
                        key = (scenario if scenario != "two" else f"two #{i + 1}", mode)
                        if res is None:
                            print(f"round {r + 1}: {key[0]} {mode}: FAILED or timed out", flush=True)
                            continue
                        runs.setdefault(key, []).append(res["median_s_per_iter"])
                        threads_seen.setdefault(key, set()).update(res["threads"])
                        print(
                            f"round {r + 1}: {key[0]:7s} {mode:6s} {res['median_s_per_iter']:.3f} s/it "
                            f"({len(res['times'])} timed, threads {sorted(set(res['threads']))})",
                            flush=True,
                        )
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(
        f"\nmedians of {args.rounds} round(s), {time.perf_counter() - t0:.0f} s in all "
        f"(preset {args.preset}, {' '.join(args.set)}):"
    )
    print(
        f"{'scenario':10s} {'before s/it':>12s} {'after s/it':>11s} {'before/after':>13s} "
        f"{'before vs quiet':>16s} {'after vs quiet':>15s}"
    )
    rows = []
    for name in sorted({k[0] for k in med}, key=lambda s: ["quiet", "hog", "two #1", "two #2"].index(s)):
        b, a = med.get((name, "before")), med.get((name, "after"))
        qb, qa = med.get(("quiet", "before")), med.get(("quiet", "after"))

        def f(x, fmt):
            return format(x, fmt) if x is not None else "-"

        ratio = b / a if a and b else None
        sb = b / qb if b and qb else None
        sa = a / qa if a and qa else None
        print(f"{name:10s} {f(b, '12.3f')} {f(a, '11.3f')} {f(ratio, '12.2f')}x {f(sb, '15.2f')}x {f(sa, '14.2f')}x")
        rows.append(
            {
                "scenario": name,
                "before_s_per_iter": b,
                "after_s_per_iter": a,
                "before_over_after": ratio,
                "before_vs_quiet": sb,
                "after_vs_quiet": sa,
                "after_threads": sorted(threads_seen.get((name, "after"), [])),
                "rounds": {m: runs.get((name, m), []) for m in ("before", "after")},
            }
        )
    Path(args.json_out).write_text(
        json.dumps(
            {
                "preset": args.preset,
                "set": args.set,
                "iters": args.iters,
                "warmup": args.warmup,
                "rounds": args.rounds,
                "cores": os.cpu_count(),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
