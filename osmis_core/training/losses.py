"""Adversarial losses, the (K+1)-way content loss and the diversity regulariser (docs/model.md section 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models import DiscriminatorOutput


def adversarial(logits: torch.Tensor, real: bool, kind: str, for_generator: bool = False) -> torch.Tensor:
    """Loss of one output map with target real (1) or fake (0)."""
    logits = logits.float()
    if kind == "bce":
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "hinge":
        if for_generator:
            return -logits.mean()
        return F.relu(1 - logits).mean() if real else F.relu(1 + logits).mean()
    if kind == "wgan":
        return -logits.mean() if real else logits.mean()
    raise ValueError(f"unknown loss {kind!r}")


def class_weights(mask: torch.Tensor) -> torch.Tensor:
    """w_k = 1 / (sum of mask channel k over batch and space), infinite -> 0; then w_fake = 1. Shape K+1."""
    sums = mask.detach().float().sum((0, 2, 3))
    w = torch.where(sums > 0, 1.0 / sums.clamp_min(1e-12), torch.zeros_like(sums))
    return torch.cat([w, w.new_ones(1)])


def content_loss(logits: torch.Tensor, mask: torch.Tensor, real: bool) -> torch.Tensor:
    """(K+1)-way cross-entropy: row block k has target k when real, target K (fake class) otherwise.

    logits: (K*B) x (K+1) x 1 x 1 with class-major rows; mask: B x K x H x W.
    """
    b, k = mask.shape[:2]
    target = (
        torch.arange(k, device=logits.device).repeat_interleave(b)
        if real
        else torch.full((k * b,), k, device=logits.device)
    )
    return F.cross_entropy(logits.flatten(1).float(), target, weight=class_weights(mask))


def discriminator_terms(
    out: DiscriminatorOutput, real: bool, kind: str, num_blocks_d: int, for_generator: bool = False
) -> dict[str, torch.Tensor]:
    """Weighted loss terms per D part: low-level 1/n_d, content 0.5/n_d, layout 0.5/n_d."""
    adv = lambda t: adversarial(t, real, kind, for_generator)  # noqa: E731
    low = sum(adv(t) for t in out.low_level) / num_blocks_d
    if out.mask is not None:
        content = sum(content_loss(t, out.mask, real) for t in out.content)
    else:
        content = sum(adv(t) for t in out.content)
    layout = sum(adv(t) for t in out.layout)
    return {"low_level": low, "content": 0.5 * content / num_blocks_d, "layout": 0.5 * layout / num_blocks_d}


def diversity_regularisation(features: list[torch.Tensor]) -> torch.Tensor:
    """Minus the mean absolute difference between every pair of samples, summed over scales, times 2/(S(S-1))."""
    total = features[0].new_zeros(())
    for f in features:
        b = f.shape[0]
        # the mean over a sample's values ignores their order: flatten in memory order (a view, no copy)
        if f.dim() == 4 and f.is_contiguous(memory_format=torch.channels_last):
            f = f.permute(0, 2, 3, 1)
        flat = f.reshape(b, -1).float()  # B x D
        # every unordered pair once: (i, i+s mod B) for s = 1 .. B//2, where s = B/2 (B even) meets each pair twice.
        # roll's backward is a roll; slicing's would zero-fill a B x D buffer per pair.
        for s in range(1, b // 2 + 1):
            pair_sum = (flat - flat.roll(s, 0)).abs().mean(1).sum()
            total = total - (0.5 * pair_sum if 2 * s == b else pair_sum)
    s = len(features)
    return total * (2.0 / (s * (s - 1))) if s > 1 else total
