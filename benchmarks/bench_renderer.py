"""Cost and quality figures of the layout renderer (issue 13, docs/renderer.md sections 6-7).

Cost (no trained run needed): FLOPs of one training iteration (torch.utils.flop_counter: G forward+backward and the
D passes), median s/iteration, and the time of one render at training resolution (median of warm calls).
Quality (with --run, a trained renderer run): layout fidelity with its ceiling, per-layout diversity over 8 noises,
class and instance locality, memorisation; optionally --two-stage-gallery for the alignment of an OSMIS gallery
rendered with `osmis render RUN --from GALLERY`.

Usage (quiet machine):
  python benchmarks/bench_renderer.py --data ../shared/data/example_image --preset quick --iters 10 \
      [--run runs/renderer-quick [--two-stage-gallery OSMIS_GALLERY]] [--random-weights] [--no-cost] \
      [--json-out bench_renderer.json]
Tiny check: add --set max_size=64 --set ch_r=4 --set spade_hidden=8 --set ch_rd=4 --set batch_size=2 --iters 2
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from osmis_core.application.render import Renderer
from osmis_core.application.runfolder import atomic_write_text
from osmis_core.config import build_config, option_type
from osmis_core.devices import resolve_device
from osmis_core.models.renderer import count_parameters
from osmis_core.training.renderer_trainer import RendererTrainer, load_renderer_data


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        t = option_type(key)
        out[key] = (value.lower() in ("1", "true", "yes")) if t is bool else t(value)
    return out


def cost(config, data_path: str, iters: int, warmup: int) -> dict:
    device = resolve_device(config.run.device)
    data = load_renderer_data(config, data_path, None, device)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = RendererTrainer(config, data, tmp, device)
        trainer.train_step()  # first call: allocations, lazy init
        with FlopCounterMode(display=False) as counter:
            trainer.train_step()
        flops = counter.get_total_flops()
        times = []
        for i in range(warmup + iters):
            t = time.perf_counter()
            float(trainer.train_step().terms["d_total"])
            if i >= warmup:
                times.append(time.perf_counter() - t)
        trainer.folder.create()
        trainer.save_checkpoint()
        renderer = Renderer.load(tmp, device=device)
        layout = trainer.ids[0].cpu().numpy()
        renderer.render(layout, 0)
        render_times = []
        for s in range(10):
            t = time.perf_counter()
            renderer.render(layout, s)
            render_times.append(time.perf_counter() - t)
    a = data.architecture
    return {
        "resolution": [a.height, a.width],
        "num_blocks": a.num_blocks,
        "batch_size": config.optimisation.batch_size,
        "params_g": count_parameters(trainer.generator),
        "params_d": count_parameters(trainer.discriminator),
        "gflop_per_iter": round(flops / 1e9, 2),
        "median_s_per_iter": round(statistics.median(times), 3),
        "iters_timed": iters,
        "render_s_median": round(statistics.median(render_times), 4),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "torch": torch.__version__,
    }


def quality(run: str, data_path: str, random_weights: bool, miou_steps: int, two_stage: str | None) -> dict:
    from osmis_core.application.evaluation import read_real
    from osmis_core.application.render import render_gallery
    from osmis_core.application.render_evaluation import evaluate_renderer

    renderer = Renderer.load(run)
    real, masks = read_real(data_path, None, renderer.size)
    metrics = ["layout_fidelity", "layout_diversity", "locality", "memorisation"]
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "layout.png"
        from PIL import Image

        Image.fromarray(masks[0].numpy().astype(np.uint8), "L").save(layout)
        gallery = render_gallery(run, [layout], Path(tmp) / "g", n=1)
        summary, warnings = evaluate_renderer(
            gallery, real, masks, metrics, random_weights=random_weights, miou_steps=miou_steps
        )
        if two_stage:
            from osmis_core.application.render import render_gallery_masks

            gallery = render_gallery_masks(run, two_stage, out_dir=Path(tmp) / "two-stage")
            aligned, more = evaluate_renderer(
                gallery, real, masks, ["two_stage_alignment"], random_weights=random_weights, miou_steps=miou_steps
            )
            summary.update(aligned)
            warnings += [w for w in more if w not in warnings]
    return {**summary, "warnings": warnings}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/example_image")
    p.add_argument("--preset", default="quick")
    p.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE", help="config override")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:i or auto")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--run", help="a trained renderer run: also measure its quality")
    p.add_argument("--two-stage-gallery", help="an OSMIS gallery of the same data, for the two-stage alignment")
    p.add_argument("--random-weights", action="store_true")
    p.add_argument("--miou-steps", type=int, default=500)
    p.add_argument("--json-out", default="bench_renderer.json")
    p.add_argument("--no-cost", action="store_true", help="only the quality of --run (no timing: a loaded machine)")
    args = p.parse_args()
    config = build_config(args.preset, None, {"model": "renderer", "device": args.device, **_overrides(args.set)})
    result = {
        "preset": args.preset,
        "overrides": _overrides(args.set),
    }
    if not args.no_cost:
        result["cost"] = cost(config, args.data, args.iters, args.warmup)
    if args.run:
        result["quality"] = quality(args.run, args.data, args.random_weights, args.miou_steps, args.two_stage_gallery)
    text = json.dumps(result, indent=2)
    print(text)
    atomic_write_text(Path(args.json_out), text + "\n")
