"""Input-level augmentation of image-layout pairs for the renderer (docs/renderer.md section 4.3).

One labelled photo is enough only because every iteration sees new layouts with matching photos: each pair gets
the same geometry on image and layout (thin-plate-spline warp, flip, mild affine crop) and, sometimes, an object
edit (duplicate / move / remove an object into an object-free area, paste a background rectangle). Decisions are
drawn from one torch.Generator; warps are kornia's (warp_image_tps, warp_affine) on the image and on the one-hot
layout, whose warped maps are turned back into class ids by taking the largest share at each pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kornia.geometry.transform import get_tps_transform, warp_image_tps

from .augment import apply_transform

BACKGROUND = 0  # the class of object-free areas (class 0 is background throughout the project)


@dataclass(frozen=True)
class PairAugmentation:
    """Probabilities and strengths of one pair's augmentation (from the config's renderer options)."""

    p_tps: float = 0.9
    tps_strength: float = 0.1  # largest control-point move, share of the width
    p_flip: float = 0.5
    p_affine: float = 0.5
    p_edit: float = 0.3


def _u(gen: torch.Generator) -> float:
    return float(torch.rand((), generator=gen))


def _randint(gen: torch.Generator, low: int, high: int) -> int:
    """Integer in [low, high)."""
    return int(torch.randint(low, high, (), generator=gen))


def tps_warp(
    image: torch.Tensor | None, onehot: torch.Tensor, strength: float, gen: torch.Generator
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """A thin-plate-spline warp (DeepSIM's: a 3x3 grid of control points, each moved by up to +-strength of the
    side along each axis) of image (1 x 3 x H x W) and one-hot layout (1 x K x H x W) together.

    The reference design moves points by +-10 % of the width; on a wide image that much vertical movement folds
    the grid (objects break into pieces), so the vertical move is a share of the height (docs/renderer.md
    section 8)."""
    g = torch.linspace(-1.0, 1.0, 3)
    src = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(1, 9, 2)  # (x, y), normalised
    dst = src + (torch.rand(1, 9, 2, generator=gen) * 2 - 1) * 2 * strength  # a side is 2 normalised units
    # warp_image_tps maps output coordinates to input ones: weights of the dst -> src spline, centred at dst
    kernel, affine = get_tps_transform(dst, src)
    dst, kernel, affine = (t.to(onehot.device) for t in (dst, kernel, affine))

    def warp(x):
        return warp_image_tps(
            x, dst.to(x.dtype), kernel.to(x.dtype), affine.to(x.dtype), align_corners=False, padding_mode="reflection"
        )

    return (warp(image) if image is not None else None), warp(onehot)


def _affine_matrix(flip: bool, affine: bool, gen: torch.Generator) -> torch.Tensor | None:
    """Normalised output -> source map: a horizontal flip and/or a zoom of 1-1.25x with a random crop position."""
    if not flip and not affine:
        return None
    m = torch.eye(3)
    if affine:
        s = 1.0 / (1.0 + 0.25 * _u(gen))
        m = torch.tensor([[s, 0.0, (1 - s) * (2 * _u(gen) - 1)], [0.0, s, (1 - s) * (2 * _u(gen) - 1)], [0, 0, 1.0]])
    if flip:
        m = m @ torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    return m


def _object_free_box(
    ids: np.ndarray, bh: int, bw: int, gen: torch.Generator, shape: np.ndarray | None = None, tries: int = 24
) -> tuple[int, int] | None:
    """Top-left corner of a bh x bw box holding only background (under `shape`, a bh x bw bool mask, if given),
    or None."""
    h, w = ids.shape
    if bh >= h or bw >= w:
        return None
    for _ in range(tries):
        y, x = _randint(gen, 0, h - bh + 1), _randint(gen, 0, w - bw + 1)
        box = ids[y : y + bh, x : x + bw]
        if ((box if shape is None else box[shape]) == BACKGROUND).all():
            return y, x
    return None


EDITS = ("duplicate", "move", "remove", "paste")


def edit_layout(
    image: torch.Tensor | None, ids: torch.Tensor, gen: torch.Generator, op: str | None = None
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """One OSMIS-style object edit of a pair: duplicate an object into an object-free area, move it there (its old
    place covered by background), remove it (covered by background), or paste a background rectangle (op: one of
    EDITS, default drawn at random). image: 3 x H x W, ids: H x W int64. Returns new tensors; the pair is returned
    unchanged when the edit finds no room."""
    from ..models.renderer import instance_labels

    ids_np = ids.cpu().numpy()
    if op is None:
        op = EDITS[_randint(gen, 0, len(EDITS))]
    image = image.clone() if image is not None else None
    ids = ids.clone()
    h, w = ids_np.shape
    if op == "paste":
        bh, bw = max(1, h // 4), max(1, w // 4)
        src = _object_free_box(ids_np, bh, bw, gen)
        if src is None:
            return image, ids
        y, x = _randint(gen, 0, h - bh + 1), _randint(gen, 0, w - bw + 1)
        sy, sx = src
        ids[y : y + bh, x : x + bw] = BACKGROUND
        if image is not None:
            image[:, y : y + bh, x : x + bw] = image[:, sy : sy + bh, sx : sx + bw].clone()
        return image, ids
    inst, n = instance_labels(ids_np)
    objects = [i for i in range(n) if ids_np[inst == i][0] != BACKGROUND]
    if not objects:
        return image, ids
    k = objects[_randint(gen, 0, len(objects))]
    where = inst == k
    ys, xs = np.nonzero(where)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    bh, bw = y1 - y0, x1 - x0
    shape_np = where[y0:y1, x0:x1]
    shape = torch.from_numpy(shape_np).to(ids.device)
    if op in ("duplicate", "move"):
        dst = _object_free_box(ids_np, bh, bw, gen, shape_np)
        if dst is None:
            return image, ids
        dy, dx = dst
        cls = int(ids_np[ys[0], xs[0]])
        patch_ids = ids[dy : dy + bh, dx : dx + bw]
        patch_ids[shape] = cls
        if image is not None:
            patch = image[:, dy : dy + bh, dx : dx + bw]
            patch[:, shape] = image[:, y0:y1, x0:x1][:, shape]
    if op in ("move", "remove"):
        fill = _object_free_box(ids.cpu().numpy(), bh, bw, gen, shape_np)  # not the copy just made
        if fill is None:
            return image, ids
        fy, fx = fill
        ids[y0:y1, x0:x1][shape] = BACKGROUND
        if image is not None:
            image[:, y0:y1, x0:x1][:, shape] = image[:, fy : fy + bh, fx : fx + bw][:, shape].clone()
    return image, ids


def augment_pairs(
    images: torch.Tensor | None, ids: torch.Tensor, num_classes: int, aug: PairAugmentation, gen: torch.Generator
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Augment each pair of a batch with its own draws. images: B x 3 x H x W in [-1, 1] (or None for layouts
    alone), ids: B x H x W int64 -> the same shapes."""
    out_img, out_ids = [], []
    for b in range(ids.shape[0]):
        img = images[b] if images is not None else None
        lab = ids[b]
        if _u(gen) < aug.p_edit:
            img, lab = edit_layout(img, lab, gen)
        onehot = F.one_hot(lab, num_classes).permute(2, 0, 1)[None].float()
        img = img[None] if img is not None else None
        if _u(gen) < aug.p_tps:
            img, onehot = tps_warp(img, onehot, aug.tps_strength, gen)
        m = _affine_matrix(_u(gen) < aug.p_flip, _u(gen) < aug.p_affine, gen)
        if m is not None:
            img = apply_transform(img, m) if img is not None else None
            onehot = apply_transform(onehot, m)
        out_ids.append(onehot.argmax(1)[0])
        if img is not None:
            out_img.append(img[0].clamp(-1, 1))
    return (torch.stack(out_img) if images is not None else None), torch.stack(out_ids)
