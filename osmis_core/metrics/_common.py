"""Input checks, resizing and the result type shared by the metrics."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class PerImageScores(NamedTuple):
    """A metric scored per generated image."""

    per_image: torch.Tensor  # N, float64
    mean: float
    nearest: torch.Tensor  # N, int64: index of the training frame that gave each score


def check_images(images: torch.Tensor, name: str) -> torch.Tensor:
    """Validate an N x 3 x H x W float image batch in [0, 1] and return it unchanged."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape N x 3 x H x W, got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be a float tensor with values in [0, 1], got dtype {images.dtype}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return images


def check_masks(masks: torch.Tensor, images: torch.Tensor, name: str) -> torch.Tensor:
    """Validate an N x H x W int64 class-id mask batch matching `images` and return it unchanged."""
    if not isinstance(masks, torch.Tensor) or masks.dtype != torch.int64:
        raise ValueError(f"{name} must be an int64 tensor of class ids")
    expected = (images.shape[0], *images.shape[2:])
    if tuple(masks.shape) != expected:
        raise ValueError(f"{name} must have shape {expected} to match its images, got {tuple(masks.shape)}")
    if int(masks.min()) < 0:
        raise ValueError(f"{name} contains negative class ids")
    return masks


def resize_images(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of N x C x H x W images to `size` (h, w); a no-op at that size already."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of N x H x W class-id masks to `size` (h, w)."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    # N x H x W -> N x 1 x H x W for interpolate, then back.
    resized = F.interpolate(masks[:, None].float(), size=size, mode="nearest")
    return resized[:, 0].long()
