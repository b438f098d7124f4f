"""Feature augmentation of REAL inputs inside the discriminator (docs/model.md section 5).

Random decisions come from a CPU torch.Generator so that they never wait for the accelerator and are restored
exactly on resume.
"""

from __future__ import annotations

import numpy as np
import torch


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def _randint(gen: torch.Generator, low: int, high: int) -> int:
    """Integer in [low, high] inclusive."""
    return int(torch.randint(low, high + 1, (), generator=gen))


def content_feature_augment(v: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Mix and drop channels of pooled content vectors v: N x C x 1 x 1 (each with probability p)."""
    n, c = v.shape[:2]
    if n >= 2 and float(torch.rand((), generator=gen)) < p:  # mix: swap 10-30 % of channels within pairs
        perm = torch.arange(n)
        swap = torch.zeros(n, c, dtype=torch.bool)
        for k in range(0, n - 1, 2):
            chosen = torch.randperm(c, generator=gen)[: max(1, int(c * _uniform(gen, 0.1, 0.3)))]
            swap[k, chosen] = swap[k + 1, chosen] = True
            perm[k], perm[k + 1] = k + 1, k
        swap = swap.to(v.device, non_blocking=True).view(n, c, 1, 1)
        v = torch.where(swap, v[perm.to(v.device)], v)
    if float(torch.rand((), generator=gen)) < p:  # drop: zero 10-30 % of channels, same for all samples
        keep = torch.ones(c)
        keep[torch.randperm(c, generator=gen)[: max(1, int(c * _uniform(gen, 0.1, 0.3)))]] = 0
        v = v * keep.to(v.device, v.dtype, non_blocking=True).view(1, c, 1, 1)
    return v


def _random_rect(gen, h: int, w: int) -> tuple[int, int]:
    """Rectangle size with each side 10-50 % of the map (at least 1)."""
    return max(1, round(h * _uniform(gen, 0.1, 0.5))), max(1, round(w * _uniform(gen, 0.1, 0.5)))


def layout_feature_augment(
    y: torch.Tensor, p: float, gen: torch.Generator, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Recompose spatial features y: B x C x h x w of real samples (probability p per call).

    Without a mask: swap one random rectangle between the members of each pair. With a mask (B x K x h x w,
    class 0 = background), objects are never cut: background rectangles are pasted onto other background areas,
    object-free rectangles are swapped within pairs, an object is transplanted to the next sample where it lands
    on background only, or moved, duplicated or removed within its sample.
    """
    if float(torch.rand((), generator=gen)) >= p:
        return y
    b, _, h, w = y.shape
    out = y.clone()
    if mask is None:
        for k in range(0, b - 1, 2):
            rh, rw = _random_rect(gen, h, w)
            top, left = _randint(gen, 0, h - rh), _randint(gen, 0, w - rw)
            out[k, :, top : top + rh, left : left + rw] = y[k + 1, :, top : top + rh, left : left + rw]
            out[k + 1, :, top : top + rh, left : left + rw] = y[k, :, top : top + rh, left : left + rw]
        return out
    objects = (mask[:, 1:].sum(1) > 0.5).cpu().numpy()  # B x h x w, True where an object is
    for k in range(b):
        op = _randint(gen, 0, 4)
        if op == 0:
            _paste_background(out, y, objects, k, gen)
        elif op == 1 and k + 1 < b:
            _swap_background(out, y, objects, k, k + 1, gen)
        elif op == 2 and k + 1 < b:
            _transplant_object(out, y, objects, k, k + 1, gen)
        elif op == 3:
            _move_object(out, y, objects, k, gen, keep_source=_randint(gen, 0, 1) == 1)
        elif op == 4:
            _remove_object(out, y, objects, k, gen)
    return out


_TRIES = 10


def _free_rect(free: np.ndarray, rh: int, rw: int, gen) -> tuple[int, int] | None:
    """Top-left of a random rh x rw rectangle inside which `free` is all True, or None."""
    h, w = free.shape
    if rh > h or rw > w:
        return None
    for _ in range(_TRIES):
        top, left = _randint(gen, 0, h - rh), _randint(gen, 0, w - rw)
        if free[top : top + rh, left : left + rw].all():
            return top, left
    return None


def _paste_background(out, y, objects, k, gen):
    rh, rw = _random_rect(gen, *objects.shape[1:])
    src, dst = _free_rect(~objects[k], rh, rw, gen), _free_rect(~objects[k], rh, rw, gen)
    if src and dst:
        out[k, :, dst[0] : dst[0] + rh, dst[1] : dst[1] + rw] = y[k, :, src[0] : src[0] + rh, src[1] : src[1] + rw]


def _swap_background(out, y, objects, k, m, gen):
    rh, rw = _random_rect(gen, *objects.shape[1:])
    at = _free_rect(~objects[k] & ~objects[m], rh, rw, gen)
    if at:
        top, left = at
        out[k, :, top : top + rh, left : left + rw] = y[m, :, top : top + rh, left : left + rw]
        out[m, :, top : top + rh, left : left + rw] = y[k, :, top : top + rh, left : left + rw]


def _pick_object(objects_k: np.ndarray, gen) -> tuple[slice, slice] | None:
    """Bounding box of one random connected object region."""
    from scipy import ndimage  # here, not at the top: importing it costs ~0.14 s that generating does not need

    labels, count = ndimage.label(objects_k)
    if count == 0:
        return None
    return ndimage.find_objects(labels)[_randint(gen, 0, count - 1)]


def _transplant_object(out, y, objects, k, m, gen):
    box = _pick_object(objects[k], gen)
    if box is not None and not objects[m][box].any():
        out[m, :, box[0], box[1]] = y[k, :, box[0], box[1]]


def _move_object(out, y, objects, k, gen, keep_source: bool):
    box = _pick_object(objects[k], gen)
    if box is None:
        return
    rh, rw = box[0].stop - box[0].start, box[1].stop - box[1].start
    dst = _free_rect(~objects[k], rh, rw, gen)
    if dst is None:
        return
    if not keep_source:
        _fill_with_background(out, y, objects, k, box, gen)
    out[k, :, dst[0] : dst[0] + rh, dst[1] : dst[1] + rw] = y[k, :, box[0], box[1]]


def _remove_object(out, y, objects, k, gen):
    box = _pick_object(objects[k], gen)
    if box is not None:
        _fill_with_background(out, y, objects, k, box, gen)


def _fill_with_background(out, y, objects, k, box, gen):
    rh, rw = box[0].stop - box[0].start, box[1].stop - box[1].start
    src = _free_rect(~objects[k], rh, rw, gen)
    if src:
        out[k, :, box[0], box[1]] = y[k, :, src[0] : src[0] + rh, src[1] : src[1] + rw]
