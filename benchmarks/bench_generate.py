"""Generation speed: `osmis generate --n 100` at case b (example_image, max_size 256) on the CPU.

Usage: python benchmarks/bench_generate.py [--data ../shared/data/example_image] [--n 100] [--repeats 3]
Trains one iteration to get a case-b checkpoint, then times the whole gallery export (sampling + PNG files +
manifest + index.html). Research code on the same 2-core CPU: 14.9 s for 100 samples.
"""
import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from osmis_core.config import OsmisConfig
from osmis_core.generate import generate_gallery
from osmis_core.trainer import start_training

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/example_image")
    p.add_argument("--max-size", type=int, default=256)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--precision", default="fp32,bf16", help="comma-separated precisions to time side by side")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        trainer = start_training(OsmisConfig().replace(max_size=args.max_size, iters=1, device="cpu"), args.data, run)
        list(trainer.run())
        precisions = args.precision.split(",")
        times = {p: [] for p in precisions}
        for i in range(args.repeats):
            for prec in precisions:  # interleaved, so that machine noise hits both alike
                t = time.perf_counter()
                generate_gallery(run, Path(tmp) / f"gallery-{prec}-{i}", n=args.n, device="cpu", precision=prec)
                times[prec].append(time.perf_counter() - t)
    print(json.dumps({"n": args.n, **{p: {"median_s": round(statistics.median(v), 3), "all_s": [round(t, 3) for t in v]}
                                       for p, v in times.items()}}, indent=2))
