"""Quality parity of bf16 autocast against fp32: same seed, same data, a few hundred iterations each.

Usage: python benchmarks/bf16_parity.py [--data datasets/example_scene] [--iters 300] [--max-size 128]
Compares the mean of every loss term over the last 100 iterations and statistics of 64 EMA samples (pixel mean,
pixel std, class shares). bf16 may become the default only if every difference is within the stated tolerance.
A third run, fp32 with another seed, shows the seed-to-seed spread the tolerance has to be read against.
"""

import argparse
import json

import torch

from osmis_core.config import OsmisConfig
from osmis_core.training.trainer import Trainer, load_data_for

TOLERANCE = {"loss": 0.1, "pixel_mean": 0.05, "pixel_std": 0.05, "class_share": 0.05}


def train(config, data_path, iters):
    data = load_data_for(config, data_path, None, torch.device("cpu"))
    trainer = Trainer(config, data)
    tail = {}
    for i in range(iters):
        losses = trainer.train_step()
        if i >= iters - 100:
            for k, v in losses.terms.items():
                tail[k] = tail.get(k, 0.0) + float(v) / 100
    z = torch.randn(64, config.generator.noise_dim, 1, 1, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        out = trainer.generator_ema(z, all_scales=False)
    stats = {"pixel_mean": float(out.images[-1].mean()), "pixel_std": float(out.images[-1].std())}
    if out.mask is not None:
        shares = torch.bincount(out.mask.argmax(1).flatten(), minlength=out.mask.shape[1]).float()
        stats["class_share"] = (shares / shares.sum()).tolist()
    return tail, stats


def differences(a, b) -> dict[str, float]:
    (loss_a, stats_a), (loss_b, stats_b) = a, b
    diffs = {f"loss {k}": abs(loss_a[k] - loss_b[k]) for k in loss_a}
    diffs["pixel_mean"] = abs(stats_a["pixel_mean"] - stats_b["pixel_mean"])
    diffs["pixel_std"] = abs(stats_a["pixel_std"] - stats_b["pixel_std"])
    if "class_share" in stats_a:
        diffs["class_share"] = max(abs(x - y) for x, y in zip(stats_a["class_share"], stats_b["class_share"]))
    return diffs


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="datasets/example_scene")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--max-size", type=int, default=128)
    p.add_argument("--ch", type=int, default=16, help="ch_g = ch_d (the paper uses 32)")
    args = p.parse_args()
    base = OsmisConfig().replace(max_size=args.max_size, ch_g=args.ch, ch_d=args.ch, bernoulli_warmup=100, device="cpu")
    runs = {
        "fp32": base.replace(precision="fp32"),
        "bf16": base.replace(precision="bf16"),
        "fp32_other_seed": base.replace(precision="fp32", seed=base.run.seed + 1),
    }
    results = {name: train(config, args.data, args.iters) for name, config in runs.items()}
    bf16_diff = differences(results["fp32"], results["bf16"])
    print(
        json.dumps(
            {
                **{name: {"losses": loss, **stats} for name, (loss, stats) in results.items()},
                "abs_diff_bf16_vs_fp32": bf16_diff,
                "abs_diff_fp32_seed_to_seed": differences(results["fp32"], results["fp32_other_seed"]),
                "tolerance": TOLERANCE,
                "parity": all(v <= TOLERANCE["loss" if k.startswith("loss") else k] for k, v in bf16_diff.items()),
            },
            indent=2,
        )
    )
