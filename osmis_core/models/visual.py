"""Turning tensors into pictures: colour masks, overlays, preview grids."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from ..resources import resource_path
from .layers import class_ids


@lru_cache(maxsize=1)
def palette() -> np.ndarray:
    """256 x 3 uint8 colours, class id -> colour (resources/palette.json)."""
    colours = json.loads(resource_path("palette.json").read_text(encoding="utf-8"))["colors"]
    return np.array(colours[:256], dtype=np.uint8)


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """B x 3 x H x W in [-1, 1] -> B x H x W x 3 uint8."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def mask_ids(mask: torch.Tensor) -> np.ndarray:
    """B x K x H x W probabilities -> B x H x W uint8 class ids."""
    return class_ids(mask.detach()).to(torch.uint8).cpu().numpy()


def colour_mask(ids: np.ndarray) -> np.ndarray:
    """H x W ids -> H x W x 3 colours."""
    return palette()[ids]


def overlay(image: np.ndarray, ids: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend class colours over the image (background, class 0, left untouched).

    image: ... x H x W x 3 uint8, ids: ... x H x W (one image or a whole batch at once; torch's kernels use
    every core, so a batch costs little more than a single numpy pass).
    """
    img = torch.from_numpy(np.ascontiguousarray(image))
    cls = torch.from_numpy(np.ascontiguousarray(ids)).long()
    colours = torch.from_numpy(palette())[cls]  # ... x H x W x 3
    blend = (1 - alpha) * img.float() + alpha * colours.float()
    return torch.where((cls > 0)[..., None], blend.round_().to(torch.uint8), img).numpy()


def preview_grid(images: np.ndarray, ids: np.ndarray | None, pad: int = 2) -> Image.Image:
    """Images in a row, their colour masks in the row below. images: N x H x W x 3, ids: N x H x W."""
    n, h, w, _ = images.shape
    rows = 2 if ids is not None else 1
    canvas = np.full((rows * h + (rows + 1) * pad, n * w + (n + 1) * pad, 3), 255, np.uint8)
    for i in range(n):
        x = pad + i * (w + pad)
        canvas[pad : pad + h, x : x + w] = images[i]
        if ids is not None:
            canvas[2 * pad + h : 2 * pad + 2 * h, x : x + w] = colour_mask(ids[i])
    return Image.fromarray(canvas)
