"""Recipes compared by their training metrics (issue 16): the paper's default recipe, the `short` preset (a third
of the iterations) with its ablations, and `quick`, per case and per seed; and the cost of --eval-every.

For every run: the best and the final value of each training metric (pixel diversity, mask class-share distance,
SIFID or its random-feature proxy, on the fixed-noise EMA samples), the iteration of the best, every health event
and rollback, the wall time. The summary gives, per case and recipe, the mean and spread over seeds and how many
runs collapsed. The eval cost is measured from its parts: median seconds per training iteration, median seconds
per evaluation (after the first, which builds the feature network and is reported on its own), and their ratio at
the recipe's --eval-every.

Usage (smoke check, a minute on a CPU):
    python benchmarks/bench_recipes.py --tiny --seeds 0 --cases datasets/example_scene --out /tmp/bench_recipes
Full study (needs a GPU; about runs x iterations x s/iteration from `osmis bench`):
    python benchmarks/bench_recipes.py --seeds 0,1,2,3,4 --device cuda --out runs/bench_recipes
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from osmis_core.application.runfolder import atomic_write_text  # noqa: E402
from osmis_core.application.session import start_training  # noqa: E402
from osmis_core.config import build_config  # noqa: E402
from osmis_core.events import HealthEvent, RolledBack, StepEval, TrainingFailed, TrainingFinished  # noqa: E402
from osmis_core.training.monitor import BEST_BY  # noqa: E402

# recipe name -> (preset, option overrides). "default" is the paper's exact recipe (no preset).
RECIPES: dict[str, tuple[str | None, dict]] = {
    "default": (None, {}),
    "short": ("short", {}),
    "quick": ("quick", {}),
    # ablations of `short`: each puts one of its changes back to the paper's choice
    "short-fixed-p": ("short", {"ada": False}),
    "short-paper-lr-d": ("short", {"lr_d": 2e-4}),
    "short-no-rollback": ("short", {"on_collapse": "warn"}),
    "short-no-ema-warmup": ("short", {"ema_warmup": False}),
    # the same question at the quick preset's model size, where a GPU affords 5 seeds: `quick` (1,200 iterations)
    # against the paper's recipe on that model at three times the length (paper lr_d, fixed p_aug, the hardening
    # switch at a tenth of the run as in the paper's 15,000 of 150,000, no rollback)
    "quick-paper-3x": (
        "quick",
        {"lr_d": 2e-4, "iters": 3600, "bernoulli_warmup": 360, "on_collapse": "warn", "checkpoint_every": 1200},
    ),
    # ablations of `quick`: each puts one of its changes back to the paper's choice, or adds one from `short`
    # the quick preset before 2026-11-30 (lr_d half the paper's); studies of that date call the present quick
    # "quick-paper-lr-d"
    "quick-half-lr-d": ("quick", {"lr_d": 1e-4}),
    "quick-no-rollback": ("quick", {"on_collapse": "warn"}),
    "quick-no-ema-warmup": ("quick", {"ema_warmup": False}),
    "quick-ada": ("quick", {"ada": True}),
    "quick-paper-warmup": ("quick", {"bernoulli_warmup": 120}),
    # a candidate for "the paper's quality at a third of the iterations": the paper's recipe at quick's length is
    # about where the paper's recipe is at that iteration, so the lever tried is a faster rate for both networks
    "quick-lr-2x": ("quick", {"lr_g": 4e-4, "lr_d": 4e-4}),
    # the other levers: a regulariser from the GAN literature (R1 on the reals, lazy every 16 steps: gamma
    # 1 is StyleGAN2-ADA's 0.0002 * pixels / batch for quick's 160 x 96 images and batch 4, gamma 10 a strong one),
    # and a learning-rate schedule (SPADE's constant rates, then a linear decay to 0 over the second half)
    "quick-r1": ("quick", {"r1_gamma": 1.0}),
    "quick-r1-strong": ("quick", {"r1_gamma": 10.0}),
    # LeCam (Tseng et al. 2021, made for limited data): 0.3 is the paper's weight for BigGAN's hinge/BCE losses
    "quick-lecam": ("quick", {"lecam_weight": 0.3}),
    # a thirtieth of that: here every pixel of every real/fake map is pulled, not one logit per image, and at 0.3
    # the scene's samples lost their diversity by iteration 600
    "quick-lecam-weak": ("quick", {"lecam_weight": 0.01}),
    "quick-lr-decay": ("quick", {"lr_decay_from": 0.5}),
    # the optimiser settings of the seed systems: SPADE's two time-scale update rule (Heusel et al. 2017: half
    # the rate for G, twice for D, Adam betas (0, 0.9)), and Adam without momentum alone (beta1 0, as BigGAN and
    # StyleGAN2)
    "quick-ttur": ("quick", {"lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9}),
    "quick-beta1-0": ("quick", {"beta1": 0.0}),
    # the hardening switch the other way: later than quick's 500 (the discriminator spikes seen after the switch
    # come later, with less time left to recover), and never (Bernoulli hardening for the whole run)
    "quick-late-hardening": ("quick", {"bernoulli_warmup": 900}),
    "quick-no-hardening-switch": ("quick", {"bernoulli_warmup": 1200}),
    # three times the batch at quick's length: as many real and generated images as quick-paper-3x sees, in a
    # third of its iterations (a GPU runs quick's small model far below its capacity, so a larger batch costs it
    # less than more iterations)
    "quick-batch-3x": ("quick", {"batch_size": 12}),
    # the same batch with the diversity regularisation as strong per pair as at quick's batch of 4: the paper's term
    # sums over every pair of the batch (B(B-1)/2: 6 at 4, 66 at 12), so quick-batch-3x pushed its samples apart 11
    # times as hard; lambda_DR 0.15 x 6/66 keeps the batch's effect alone
    "quick-batch-3x-dr": ("quick", {"batch_size": 12, "lambda_dr": 0.15 * 6 / 66}),
    # more progress per update early and less noise late: twice the rates (quick-lr-2x) decayed linearly over the
    # second half (quick-lr-decay), which alone matched quick on the scene with closer mask shares
    "quick-lr-2x-decay": ("quick", {"lr_g": 4e-4, "lr_d": 4e-4, "lr_decay_from": 0.5}),
    # augmentation strength, fixed: the paper's p 0.7 regularises D on one image, but every augmented real is a
    # view the generator need not learn to draw; a weaker p asks D for the plain image sooner
    "quick-low-p": ("quick", {"p_aug": 0.3}),
    # the two time-scale rule the other way round: the generator at twice the rate, the discriminator at the
    # paper's (quick-ttur slowed G and was worse; quick-lr-2x sped up both and lost diversity)
    "quick-lr-g-2x": ("quick", {"lr_g": 4e-4}),
    # the loss of the seed systems (SPADE, OASIS's discriminator aside): hinge on the patch and layout maps instead
    # of the paper's BCE (the content branch keeps its cross-entropy); bounded D targets, a standard stabiliser
    "quick-hinge": ("quick", {"loss": "hinge"}),
}
DEFAULT_RECIPES = "default,short,quick"
DEFAULT_CASES = (
    "datasets/example_scene",
    "datasets/example_texture",
    "datasets/example_video/clip.mp4",
    "../shared/data/example_image",
    "../shared/data/example_video",
)
COLLAPSES = {"diversity_collapse", "empty_masks", "nonfinite"}
SCHEDULE = ("iters", "bernoulli_warmup", "eval_every", "checkpoint_every", "preview_every", "ada_images")
# --tiny: a model that trains an iteration in well under a second on a CPU, to check the script end to end
TINY = {
    "max_size": 96,
    "ch_g": 4,
    "ch_d": 4,
    "noise_dim": 8,
    "batch_size": 2,
    "iters": 6,
    "eval_every": 2,
    "checkpoint_every": 2,
    "preview_every": 6,
    "bernoulli_warmup": 2,
    "log_every": 1,
}


def recipe_config(name: str, seed: int, device: str, tiny: bool, scale: float):
    preset, overrides = RECIPES[name]
    options = {**overrides, "seed": seed, "device": device}
    if tiny:
        options.update(TINY)
    config = build_config(preset, None, options)
    if scale != 1.0:
        flat = config.flat()
        # ada_images is a schedule only where adaptive augmentation is on (config validation refuses it otherwise)
        scaled = [k for k in SCHEDULE if flat.get(k) and (k != "ada_images" or flat["ada"])]
        config = config.replace(**{k: max(1, round(flat[k] * scale)) for k in scaled})
    return config


def summarise_metrics(evals: list[StepEval]) -> dict:
    """{metric: {best, best_step, final}} over a run's evaluations (best: lowest, or highest for diversity)."""
    out = {}
    keys = sorted({k for e in evals for k in e.metrics})
    for key in keys:
        points = [(e.step, e.metrics[key]) for e in evals if key in e.metrics]
        larger = any(key in keys_ and larger for keys_, larger in BEST_BY.values())
        step, value = (max if larger else min)(points, key=lambda p: p[1])
        out[key] = {"best": value, "best_step": step, "final": points[-1][1], "final_step": points[-1][0]}
    return out


def train_one(case: str, recipe: str, seed: int, args) -> dict:
    """Train one run to its end and summarise its events; a run whose turn comes after args.deadline (epoch
    seconds, or None) is not started and comes back as {case, recipe, seed, skipped: True}."""
    if args.deadline is not None and time.time() > args.deadline:
        return {"case": case, "recipe": recipe, "seed": seed, "skipped": True}
    config = recipe_config(recipe, seed, args.device, args.tiny, args.iters_scale)
    run_dir = Path(args.out) / f"{Path(case).stem}-{recipe}-seed{seed}"
    t0 = time.perf_counter()
    trainer = start_training(config, case, run_dir)
    evals, health, rollbacks, end = [], [], [], None
    for event in trainer.run():
        if isinstance(event, StepEval):
            evals.append(event)
        elif isinstance(event, HealthEvent):
            health.append({"step": event.step, "kind": event.kind, "action": event.action, "message": event.message})
        elif isinstance(event, RolledBack):
            rollbacks.append({"step": event.step, "to_step": event.to_step, "lr_d": event.lr_d})
            evals = [e for e in evals if e.step <= event.to_step]  # the curves went back too
        elif isinstance(event, (TrainingFinished, TrainingFailed)):
            end = event
    failed = isinstance(end, TrainingFailed)
    return {
        "case": case,
        "recipe": recipe,
        "seed": seed,
        "iters": config.run.iters,
        "final_step": end.step,
        "stopped": failed or bool(getattr(end, "stopped", False)),
        "failed": end.message if failed else None,
        "wall_s": round(time.perf_counter() - t0, 1),
        "metrics": summarise_metrics(evals),
        "health": health,
        "rollbacks": rollbacks,
        "collapsed": failed or any(h["kind"] in COLLAPSES for h in health),
        "run_dir": str(run_dir),
    }


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for case in dict.fromkeys(r["case"] for r in runs):
        for recipe in dict.fromkeys(r["recipe"] for r in runs):
            group = [r for r in runs if r["case"] == case and r["recipe"] == recipe]
            if not group:
                continue
            row = {
                "case": case,
                "recipe": recipe,
                "seeds": len(group),
                "iters": group[0]["iters"],
                "collapsed": sum(r["collapsed"] for r in group),
                "health_events": sum(len(r["health"]) for r in group),
                "wall_s_mean": round(statistics.mean(r["wall_s"] for r in group), 1),
            }
            for key in sorted({k for r in group for k in r["metrics"]}):
                for what in ("best", "final", "best_step"):
                    values = [r["metrics"][key][what] for r in group if key in r["metrics"]]
                    row[f"{key}_{what}_mean"] = round(statistics.mean(values), 5)
                    if len(values) > 1 and what != "best_step":
                        row[f"{key}_{what}_sd"] = round(statistics.stdev(values), 5)
            rows.append(row)
    return rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def eval_cost(case: str, recipe: str, args, steps: int = 10, evals: int = 3, warmup: int = 3) -> dict:
    """Seconds per training iteration, per evaluation, and the evaluations' share of the training time at the
    recipe's --eval-every (an evaluation every eval_every iterations: eval_s / (eval_every * step_s))."""
    config = recipe_config(recipe, 0, args.device, args.tiny, 1.0)
    eval_every = config.run.eval_every
    trainer = start_training(config.replace(eval_every=0), case, Path(args.out) / f"eval-cost-{recipe}")
    for _ in range(warmup):
        trainer.train_step()
    step_times = []
    for _ in range(steps):
        _sync(trainer.device)
        t = time.perf_counter()
        float(trainer.train_step().terms["d_total"])
        step_times.append(time.perf_counter() - t)
    t = time.perf_counter()
    list(trainer.monitor.evaluate())  # builds the feature network and the fixed samples' references
    first = time.perf_counter() - t
    eval_times = []
    for _ in range(evals):
        _sync(trainer.device)
        t = time.perf_counter()
        list(trainer.monitor.evaluate())
        _sync(trainer.device)
        eval_times.append(time.perf_counter() - t)
    step_s, eval_s = statistics.median(step_times), statistics.median(eval_times)
    return {
        "case": case,
        "recipe": recipe,
        "eval_every": eval_every,
        "device": str(trainer.device),
        "step_s_median": round(step_s, 4),
        "eval_s_median": round(eval_s, 4),
        "first_eval_s": round(first, 3),
        "overhead_percent": round(100 * eval_s / (eval_every * step_s), 2) if eval_every else 0.0,
    }


def check_arguments(args) -> str | None:
    """The first problem with the command's arguments, as one sentence naming the option, or None."""
    for option, names in (("--recipes", args.recipes), ("--eval-cost", args.eval_cost)):
        unknown = [r for r in names.split(",") if r and r not in RECIPES]
        if unknown:
            return f"{option}: unknown recipe '{unknown[0]}' (available: {', '.join(RECIPES)})."
    seeds = [s for s in args.seeds.split(",") if s]
    if not seeds or not all(s.isdigit() for s in seeds):
        return f"--seeds must be comma-separated whole numbers, got {args.seeds!r}."
    if len({int(s) for s in seeds}) < len(seeds):
        return f"--seeds names a seed twice ({args.seeds}): its runs would share one folder."
    if args.jobs < 1:
        return f"--jobs must be at least 1, got {args.jobs}."
    if not 0 <= args.stop_after < math.inf:
        return f"--stop-after must be 0 (no limit) or a finite number of seconds, got {args.stop_after}."
    if not 0 < args.iters_scale < math.inf:
        return f"--iters-scale must be a finite number above 0, got {args.iters_scale}."
    cases = [c for c in args.cases.split(",") if c]
    if not [c for c in cases if Path(c).exists()]:
        return f"--cases: none of {args.cases!r} exists."
    stems = [Path(c).stem for c in cases]
    if len(set(stems)) < len(stems):
        return f"--cases: two cases are named '{max(stems, key=stems.count)}': their runs would share one folder."
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return f"--out {args.out} is a file, not a folder."
    if (Path(args.out) / "bench_recipes.json").exists():
        return f"--out {args.out} already holds a study (bench_recipes.json); give another folder."
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=",".join(DEFAULT_CASES), help="comma-separated training data paths")
    p.add_argument("--recipes", default=DEFAULT_RECIPES, help=f"comma-separated, from: {', '.join(RECIPES)}")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--iters-scale",
        type=float,
        default=1.0,
        help="multiply every recipe's schedule (iters, warm-up, eval/checkpoint/preview intervals)",
    )
    p.add_argument("--tiny", action="store_true", help="tiny model and 6 iterations: checks the script runs")
    p.add_argument(
        "--eval-cost",
        default="quick,short",
        help="recipes whose --eval-every cost is measured (on the first case; empty: none)",
    )
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process (a GPU)")
    p.add_argument(
        "--stop-after",
        type=float,
        default=0,
        help="seconds after which no further run is started (the runs under way finish; 0: no limit)",
    )
    p.add_argument("--out", required=True, help="folder for the runs and bench_recipes.json")
    args = p.parse_args()
    error = check_arguments(args)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    cases = [c for c in args.cases.split(",") if c]
    missing = [c for c in cases if not Path(c).exists()]
    cases = [c for c in cases if Path(c).exists()]
    recipes = [r for r in args.recipes.split(",") if r]
    for c in missing:
        print(f"note: case {c} not found, skipped", file=sys.stderr)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    # the eval cost first, while nothing else runs (its timings are then the device's own)
    try:
        costs = [eval_cost(cases[0], r, args) for r in args.eval_cost.split(",") if r]
    except Exception as exc:
        print(f"error: --eval-cost on {cases[0]} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    for c in costs:
        print(
            f"eval cost {c['recipe']}: {c['eval_s_median']:.3f} s per evaluation, {c['step_s_median']:.3f} s per "
            f"iteration, every {c['eval_every']}: {c['overhead_percent']:.2f} % of the training time "
            f"(first evaluation {c['first_eval_s']:.2f} s)",
            flush=True,
        )
    # recipe-major order: with --jobs, the recipes listed first start first (list the longest first)
    plan = [(case, recipe, seed) for recipe in recipes for case in cases for seed in seeds]
    args.deadline = time.time() + args.stop_after if args.stop_after else None
    runs, skipped, failed = [], [], []

    def write() -> None:
        result = {
            "command": " ".join(sys.argv),
            "torch": torch.__version__,
            "device": args.device,
            "jobs": args.jobs,
            "tiny": args.tiny,
            "iters_scale": args.iters_scale,
            "summary": summarise(runs),
            "eval_cost": costs,
            "runs": runs,
            "skipped": skipped,
            "failed": failed,
            "missing_cases": missing,
        }
        # rewritten after every run: a study cut short keeps what finished
        atomic_write_text(Path(args.out) / "bench_recipes.json", json.dumps(result, indent=1) + "\n")

    def record_failure(case: str, recipe: str, seed: int, exc: Exception) -> None:
        # one broken run must not lose the study: it is reported, kept in the JSON, and the others go on
        failed.append({"case": case, "recipe": recipe, "seed": seed, "error": f"{type(exc).__name__}: {exc}"})
        print(
            f"{Path(case).name} {recipe} seed {seed} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True
        )
        write()

    def record(run: dict) -> None:
        if run.get("skipped"):
            skipped.append({k: run[k] for k in ("case", "recipe", "seed")})
        else:
            runs.append(run)
            m = run["metrics"]
            shown = " ".join(f"{k}={v['final']:.4f}(best {v['best']:.4f}@{v['best_step']})" for k, v in m.items())
            print(
                f"{Path(run['case']).name:16s} {run['recipe']:20s} seed {run['seed']}: {run['wall_s']:8.1f} s  "
                f"{shown}  health={[h['kind'] for h in run['health']]}",
                flush=True,
            )
        write()

    write()

    if args.jobs == 1:
        for case, recipe, seed in plan:
            try:
                record(train_one(case, recipe, seed, args))
            except Exception as exc:
                record_failure(case, recipe, seed, exc)
    else:
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        context = multiprocessing.get_context("spawn")  # no CUDA state may cross a fork
        with ProcessPoolExecutor(
            args.jobs, mp_context=context, initializer=torch.set_num_threads, initargs=(threads,)
        ) as pool:
            futures = {pool.submit(train_one, *item, args): item for item in plan}
            for future in as_completed(futures):
                try:
                    record(future.result())
                except Exception as exc:
                    record_failure(*futures[future], exc)
    if skipped:
        print(f"{len(skipped)} runs not started before --stop-after", flush=True)
    print(f"written {Path(args.out) / 'bench_recipes.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
