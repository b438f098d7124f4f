"""Quality parity of bf16 autocast against fp32: same seed, same data, a few hundred iterations each.

Usage: python benchmarks/bf16_parity.py [--data datasets/example_scene] [--iters 300] [--max-size 128]
Compares the mean of every loss term over the last 100 iterations and statistics of 64 EMA samples (pixel mean,
pixel std, class shares). bf16 may become the default only if every difference is within the stated tolerance.
"""
import argparse
import json

import torch

from osmis_core.config import OsmisConfig
from osmis_core.trainer import Trainer, load_data_for

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


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="datasets/example_scene")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--max-size", type=int, default=128)
    args = p.parse_args()
    base = OsmisConfig().replace(max_size=args.max_size, ch_g=16, ch_d=16, bernoulli_warmup=100, device="cpu")
    fp32_loss, fp32_stats = train(base.replace(precision="fp32"), args.data, args.iters)
    bf16_loss, bf16_stats = train(base.replace(precision="bf16"), args.data, args.iters)
    diffs = {f"loss {k}": abs(fp32_loss[k] - bf16_loss[k]) for k in fp32_loss}
    diffs["pixel_mean"] = abs(fp32_stats["pixel_mean"] - bf16_stats["pixel_mean"])
    diffs["pixel_std"] = abs(fp32_stats["pixel_std"] - bf16_stats["pixel_std"])
    if "class_share" in fp32_stats:
        diffs["class_share"] = max(abs(a - b) for a, b in zip(fp32_stats["class_share"], bf16_stats["class_share"]))
    ok = all(v <= TOLERANCE["loss" if k.startswith("loss") else k] for k, v in diffs.items())
    print(json.dumps({"fp32": {"losses": fp32_loss, **fp32_stats}, "bf16": {"losses": bf16_loss, **bf16_stats},
                      "abs_diff": diffs, "tolerance": TOLERANCE, "parity": ok}, indent=2))
