"""How many ATen operator calls one training iteration makes (all nesting levels, torch.profiler), and the most
frequent ones. On a GPU each top-level call costs a kernel launch and host work whatever the tensor sizes, so this
count, not the arithmetic, sets the step time of the small presets there (README, Performance, GPU figures).

Usage: python benchmarks/count_ops.py [--data datasets/example_scene] [--preset quick] [--model osmis|renderer]
"""

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from osmis_core.config import build_config
from osmis_core.training.trainer import model_parts

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="datasets/example_scene")
    p.add_argument("--preset", default="quick")
    p.add_argument("--model", default="osmis", choices=("osmis", "renderer"))
    p.add_argument("--top", type=int, default=10)
    args = p.parse_args()
    config = build_config(args.preset, None, {"device": "cpu", "model": args.model})
    trainer_class, load_data = model_parts(config)
    device = torch.device("cpu")
    trainer = trainer_class(config, load_data(config, args.data, None, device), None, device)
    for _ in range(2):  # the first steps allocate and initialise lazily
        trainer.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.train_step()
    calls = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    print(f"{args.model}, preset {args.preset}, {args.data}: {sum(e.count for e in calls)} ATen calls per iteration")
    for e in sorted(calls, key=lambda e: -e.count)[: args.top]:
        print(f"  {e.key:28s} {e.count}")
