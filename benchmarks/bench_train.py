"""Training speed of case b (example_image, max_size 256, masks): median s/iteration, start-up, peak RSS.

Usage: python benchmarks/bench_train.py [--data ../shared/data/example_image] [--iters 13] [--device cpu]
Research code on the same 2-core CPU: 4.73 s/iteration, 15.6 s start-up, 7.4 GB peak RSS.
"""

import argparse
import json
import time

T_IMPORT = time.perf_counter()
from osmis_core.config import OsmisConfig  # noqa: E402
from osmis_core.training.bench import benchmark_training  # noqa: E402

IMPORT_S = time.perf_counter() - T_IMPORT

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/example_image")
    p.add_argument("--max-size", type=int, default=256)
    p.add_argument("--iters", type=int, default=13)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-channels-last", action="store_true")
    args = p.parse_args()
    config = OsmisConfig().replace(max_size=args.max_size, device=args.device, channels_last=not args.no_channels_last)
    result = benchmark_training(config, args.data, iters=args.iters)
    result["import_s"] = round(IMPORT_S, 2)
    print(json.dumps(result, indent=2))
