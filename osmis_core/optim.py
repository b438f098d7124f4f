"""Optimiser construction shared by the trainer and the metrics (the mIoU segmenter): below both layers."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def fused_adam_supported(device: torch.device) -> bool:
    """Adam's fused kernel (one kernel for all parameters) exists on CUDA, and on the CPU since torch 2.4."""
    return device.type == "cuda" or (
        device.type == "cpu" and torch.torch_version.TorchVersion(torch.__version__) >= "2.4"
    )


def adam(
    params: Iterable[torch.nn.Parameter], device: torch.device, lr: float, betas: tuple[float, float] = (0.9, 0.999)
) -> torch.optim.Adam:
    """Adam with the fused kernel where available (the same update up to float rounding), else foreach."""
    fused = fused_adam_supported(device)
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused or None, foreach=None if fused else True)
