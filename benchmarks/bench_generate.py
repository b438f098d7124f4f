"""Generation speed: `osmis generate --n 100` at case b (example_image, max_size 256) on the CPU.

Usage: python benchmarks/bench_generate.py [--data ../shared/data/example_image] [--n 100] [--repeats 3]
       [--precision fp32,bf16] [--cold 3]
Trains one iteration to get a case-b checkpoint, then times the whole gallery export (loading the generator,
sampling, PNG files written by Pillow, manifest, index.html, the swap into place) three ways:
- warm: repeated calls in one fresh process after a discarded first call, precisions interleaved so that machine
  noise hits them alike (not in this process: its heap holds the training step's leftovers);
- cold: the first call in a fresh process, after its imports (what `osmis generate` pays past start-up);
- command: the whole `osmis generate` command in a fresh process, interpreter start and imports included.
Research code on the same 2-core CPU: 14.9 s for 100 samples.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from osmis_core.application.session import start_training
from osmis_core.config import OsmisConfig

WARM_CALLS = """
import json, sys, time
from osmis_core.application.gallery import generate_gallery
run, out, n, repeats, precisions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split(",")
times = {p: [] for p in precisions}
for i in range(-1, repeats):  # round -1 warms up
    for p in precisions:
        t = time.perf_counter()
        generate_gallery(run, f"{out}-{p}-{i}", n=n, device="cpu", precision=p)
        if i >= 0:
            times[p].append(time.perf_counter() - t)
print(json.dumps(times))
"""

COLD_CALL = """
import sys, time
from osmis_core.application.gallery import generate_gallery
t = time.perf_counter()
generate_gallery(sys.argv[1], sys.argv[2], n=int(sys.argv[3]), device="cpu", precision=sys.argv[4])
print(time.perf_counter() - t)
"""


def summary(times: list[float]) -> dict:
    return {"median_s": round(statistics.median(times), 3), "all_s": [round(t, 3) for t in times]}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/example_image")
    p.add_argument("--max-size", type=int, default=256)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3, help="warm calls per precision")
    p.add_argument("--cold", type=int, default=3, help="fresh processes per precision, for the cold and command times")
    p.add_argument("--precision", default="fp32,bf16", help="comma-separated precisions to time side by side")
    args = p.parse_args()
    precisions = args.precision.split(",")
    results = {prec: {} for prec in precisions}
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        trainer = start_training(OsmisConfig().replace(max_size=args.max_size, iters=1, device="cpu"), args.data, run)
        list(trainer.run())
        del trainer  # every timing below runs in a fresh process
        cold = {prec: [] for prec in precisions}
        command = {prec: [] for prec in precisions}
        for i in range(args.cold):
            for prec in precisions:
                out = subprocess.run(
                    [sys.executable, "-c", COLD_CALL, str(run), f"{tmp}/cold-{prec}-{i}", str(args.n), prec],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                cold[prec].append(float(out.stdout.split()[-1]))
                t = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "osmis_core",
                        "generate",
                        str(run),
                        "--out",
                        f"{tmp}/command-{prec}-{i}",
                        "--n",
                        str(args.n),
                        "--device",
                        "cpu",
                        "--precision",
                        prec,
                    ],
                    capture_output=True,
                    check=True,
                )
                command[prec].append(time.perf_counter() - t)
        out = subprocess.run(
            [sys.executable, "-c", WARM_CALLS, str(run), f"{tmp}/warm", str(args.n), str(args.repeats), args.precision],
            capture_output=True,
            text=True,
            check=True,
        )
        warm = json.loads(out.stdout.splitlines()[-1])
    for prec in precisions:
        results[prec] = {"warm": summary(warm[prec])}
        if args.cold:
            results[prec].update(cold=summary(cold[prec]), command=summary(command[prec]))
    print(json.dumps({"n": args.n, **results}, indent=2))
