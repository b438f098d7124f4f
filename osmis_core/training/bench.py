"""Training speed and memory measurement (used by `osmis bench` and benchmarks/)."""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from ..config import OsmisConfig
from ..devices import resolve_device
from ..errors import ConfigError
from .trainer import model_parts

PAPER_ITERS = 150_000

# Named speed variants: flat option overrides. 'eager' is the plain implementation (NCHW, fp32, upsample then
# conv); 'fast' is the default fast path; the others switch single parts for comparison.
VARIANTS: dict[str, dict] = {
    "eager": {"channels_last": False, "fast_upsample": False, "precision": "fp32", "compile": False},
    "fast": {"channels_last": True, "fast_upsample": True, "precision": "fp32", "compile": False},
    "bf16": {"channels_last": True, "fast_upsample": True, "precision": "bf16", "compile": False},
    "auto": {"channels_last": True, "fast_upsample": True, "precision": "auto", "compile": False},
    "compile": {"channels_last": True, "fast_upsample": True, "precision": "fp32", "compile": True},
}


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def benchmark_training(
    config: OsmisConfig, data_path: str | Path, mask_path: str | Path | None = None, iters: int = 10, warmup: int = 2
) -> dict:
    """Median seconds per iteration (after `warmup` iterations), start-up time and peak memory."""
    device = resolve_device(config.run.device)
    t0 = time.perf_counter()
    trainer_class, load_data = model_parts(config)  # OSMIS or the renderer (--model)
    data = load_data(config, data_path, mask_path, device)
    trainer = trainer_class(config, data, None, device)
    startup = time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for i in range(warmup + iters):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        losses = trainer.train_step()
        float(losses.terms["d_total"])  # wait for the step to finish
        if i >= warmup:
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    a = data.architecture
    result = {
        "device": str(device),
        "resolution": [a.height, a.width],
        "batch_size": config.optimisation.batch_size,
        "iters_timed": iters,
        "median_s_per_iter": round(med, 4),
        "iters_per_s": round(1 / med, 4),
        "min_s_per_iter": round(min(times), 4),
        "startup_s": round(startup, 3),
        "peak_rss_mb": round(peak_rss_bytes() / 2**20, 1),
        "projected_paper_run_h": round(med * PAPER_ITERS / 3600, 2),
        "threads": torch.get_num_threads(),
        "precision": str(trainer.amp_dtype or torch.float32).replace("torch.", ""),
        "channels_last": config.run.channels_last,
        "fast_upsample": config.run.fast_upsample,
        "compile": config.run.compile,
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        result["max_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def benchmark_variants(
    configs: dict[str, OsmisConfig],
    data_path: str | Path,
    mask_path: str | Path | None = None,
    iters: int = 10,
    warmup: int = 2,
    rounds: int = 1,
    isolate: bool = True,
) -> list[dict]:
    """Time several variants side by side. With isolate, each measurement runs in a fresh process, so that one
    variant's heap and peak memory do not colour the next. Over several rounds the order alternates (A B C,
    C B A, ...) and each variant reports the median of its round medians and its largest peak memory.
    Raises ConfigError for fewer than 1 timed iteration or round, or a negative warm-up (nothing to take a median
    of; named by the `osmis bench` flags)."""
    for flag, value, minimum in (("--iters", iters, 1), ("--warmup", warmup, 0), ("--rounds", rounds, 1)):
        if value < minimum:
            raise ConfigError(f"{flag} must be at least {minimum}, got {value}.")
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    args = (str(data_path), None if mask_path is None else str(mask_path), iters, warmup)
    for r in range(rounds):
        for name in list(configs) if r % 2 == 0 else list(configs)[::-1]:
            if isolate:
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                    runs[name].append(pool.submit(benchmark_training, configs[name], *args).result())
            else:
                runs[name].append(benchmark_training(configs[name], *args))
    results = []
    for name, rs in runs.items():
        med = statistics.median(r["median_s_per_iter"] for r in rs)
        merged = {
            "variant": name,
            **rs[0],
            "rounds": rounds,
            "isolated": isolate,
            "median_s_per_iter": round(med, 4),
            "iters_per_s": round(1 / med, 4),
            "min_s_per_iter": min(r["min_s_per_iter"] for r in rs),
            "startup_s": round(statistics.median(r["startup_s"] for r in rs), 3),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "projected_paper_run_h": round(med * PAPER_ITERS / 3600, 2),
        }
        if "max_allocated_mb" in rs[0]:
            merged["max_allocated_mb"] = max(r["max_allocated_mb"] for r in rs)
        results.append(merged)
    return results
