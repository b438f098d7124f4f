"""Differentiable augmentation of an image pyramid and its mask together (docs/model.md section 6).

The five stages (zoom x2 + crop; crop-resize or rotate + centre crop; horizontal flip; vertical and horizontal
mirrored shifts) are all affine maps of the sampling coordinates, so one transform per call is composed from the
stages drawn and applied with ONE kornia warp per scale (reflection padding gives the mirrored edge strips). The
composed matrix lives in normalised coordinates, so every scale and the mask receive exactly the same geometry,
and gradients flow to the generator through the bilinear sampling.
"""

from __future__ import annotations

import math

import torch
from kornia.geometry.conversions import denormalize_homography
from kornia.geometry.transform import warp_affine


def _u(gen: torch.Generator) -> float:
    return float(torch.rand((), generator=gen))


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * _u(gen)


def random_transform(p: float, aspect: float, gen: torch.Generator) -> torch.Tensor | None:
    """3x3 map from output to source coordinates (normalised, corners at -1/1), or None for identity.

    aspect = W / H of the images (rotations are done in pixel space).
    """
    stages = []
    if _u(gen) < p / 2:  # upsample x2, random crop back to size
        stages.append(_affine(0.5, 0.5, _uniform(gen, -0.5, 0.5), _uniform(gen, -0.5, 0.5)))
    if _u(gen) < p:
        if _u(gen) < 0.5:  # random crop of 75-100 % of the side, resized back
            f = _uniform(gen, 0.75, 1.0)
            stages.append(_affine(f, f, _uniform(gen, f - 1, 1 - f), _uniform(gen, f - 1, 1 - f)))
        else:  # rotation within +-8 degrees, centre crop 80 %, resized back
            a = math.radians(_uniform(gen, -8.0, 8.0))
            c, s = math.cos(a), math.sin(a)
            m = torch.tensor([[c * 0.8, -s * 0.8 / aspect, 0.0], [s * 0.8 * aspect, c * 0.8, 0.0], [0, 0, 1.0]])
            stages.append(m)
    if _u(gen) < p:  # horizontal flip
        stages.append(_affine(-1.0, 1.0, 0.0, 0.0))
    if _u(gen) < p:  # vertical shift by 5-30 % of the height, mirrored fill
        stages.append(_affine(1.0, 1.0, 0.0, _sign(gen) * 2 * _uniform(gen, 0.05, 0.3)))
    if _u(gen) < p:  # horizontal shift
        stages.append(_affine(1.0, 1.0, _sign(gen) * 2 * _uniform(gen, 0.05, 0.3), 0.0))
    if not stages:
        return None
    out = stages[0]
    for m in stages[1:]:
        out = out @ m  # the first stage acts on the source image: source = T1(T2(...(output)))
    return out


def _sign(gen: torch.Generator) -> float:
    return 1.0 if _u(gen) < 0.5 else -1.0


def _affine(sx: float, sy: float, tx: float, ty: float) -> torch.Tensor:
    return torch.tensor([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])


def apply_transform(x: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
    """Warp x: B x C x H x W by the normalised output->source transform (same for the whole batch)."""
    b, _, h, w = x.shape
    src_from_dst = transform.to(device=x.device, dtype=torch.float32).unsqueeze(0)
    # kornia's warp_affine takes the pixel-space map source -> destination
    dst_from_src_pix = denormalize_homography(torch.linalg.inv(src_from_dst), (h, w), (h, w))
    m = dst_from_src_pix[:, :2].to(x.dtype).expand(b, 2, 3)
    return warp_affine(x, m, (h, w), mode="bilinear", padding_mode="reflection", align_corners=True)


def augment_pair(
    pyramid: list[torch.Tensor], mask: torch.Tensor | None, p: float, gen: torch.Generator
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """Apply one random transform to every scale of the pyramid and to the mask (probability p per stage)."""
    h, w = pyramid[-1].shape[-2:]
    t = random_transform(p, w / h, gen)
    if t is None:
        return pyramid, mask
    return [apply_transform(x, t) for x in pyramid], (apply_transform(mask, t) if mask is not None else None)
