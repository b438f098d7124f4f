"""Sampling from a trained run: its (EMA) generator loaded for inference, and batches of samples."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import OsmisConfig
from ..devices import autocast_dtype
from ..errors import CheckpointError, OsmisError
from ..models import Generator
from .runfolder import RunFolder, mismatch_reason


def load_generator(
    run_dir: str | Path, checkpoint: str | int = "latest", ema: bool = True, device: torch.device | str = "cpu"
) -> tuple[Generator, dict]:
    """The (EMA) generator of a run's checkpoint, ready for inference, and the checkpoint's metadata."""
    folder = RunFolder(run_dir)
    folder.require()
    # memory-mapped: only the generator's tensors are read, not D's or the optimisers'
    state = folder.load_checkpoint(checkpoint, fallback=(checkpoint == "latest"), mmap=True)
    # a count stored above today's limit (iters, say) plays no part in sampling
    config = OsmisConfig.from_dict(state["config"], f"{folder.root} checkpoint", {})
    if config.model != "osmis":
        raise OsmisError(
            f"{folder.root}: is a {config.model} run, which draws photos for given layouts; use "
            f"`osmis render {folder.root} --layout L.png` instead."
        )
    a = state["architecture"]
    try:
        g = Generator.from_trained(
            state["generator_ema" if ema else "generator"],
            tuple(a["noise_shape"]),
            a["num_blocks_g"],
            state["num_classes"],
            ch=config.generator.ch_g,
            noise_dim=config.generator.noise_dim,
            norm=config.generator.norm_g,
        )
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"{folder.root}: the checkpoint's generator does not match its own settings ({mismatch_reason(exc)})."
        ) from None
    g = g.to(device, memory_format=torch.channels_last)
    meta = {
        "step": int(state["step"]),
        "config": state["config"],
        "architecture": a,
        "num_classes": state["num_classes"],
    }
    return g, meta


@torch.inference_mode()
def sample(generator: Generator, n: int, seed: int, batch_size: int = 10, device="cpu", precision: str = "fp32"):
    """Yield (start index, images B x 3 x H x W, masks B x K x H x W or None) batches for n samples."""
    device = torch.device(device)
    dtype = autocast_dtype(precision, device)
    rng = torch.Generator().manual_seed(seed)
    z = generator.sample_noise(n, rng)
    for start in range(0, n, batch_size):
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = generator(z[start : start + batch_size].to(device), all_scales=False)
        yield start, out.images[-1].float(), (out.mask.float() if out.mask is not None else None)
