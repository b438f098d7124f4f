"""SIFID (single-image FID): Frechet distance between per-position Inception features of a generated
image and of the training image, per generated image. Lower is better. See docs/metrics.md section 1.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn
from torchvision.models.inception import BasicConv2d

from ._common import PerImageScores, check_images, resize_images
from .frechet import FrechetReference, distances_to_references
from .inception_layers import INCEPTION_LAYERS, INCEPTION_MIN_SIZE
from .weights import build_inception


def _check_dims(dims: int) -> None:
    if dims not in INCEPTION_LAYERS:
        raise ValueError(f"SIFID dims must be one of {sorted(INCEPTION_LAYERS)}, got {dims}")


def _fold_batchnorm(block: BasicConv2d) -> nn.Sequential:
    """conv -> BN (eval) -> ReLU as one biased conv -> ReLU: the same function, fewer passes over memory."""
    conv, bn = block.conv, block.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # C_out
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale[:, None, None, None])
        folded.bias.copy_(bn.bias - bn.running_mean * scale)
    return nn.Sequential(folded, nn.ReLU(inplace=True))


def _fold_all(module: nn.Module) -> None:
    """Replace every BasicConv2d below `module` by its folded equivalent, in place."""
    for name, child in module.named_children():
        if isinstance(child, BasicConv2d):
            setattr(module, name, _fold_batchnorm(child))
        else:
            _fold_all(child)


class InceptionFeatures(nn.Module):
    """Inception v3 layers up to the SIFID feature size `dims`: B x 3 x H x W in [-1, 1] -> B x dims x h x w.

    Uses the layers directly (no `transform_input`, no resizing); batch norms are folded into the convs.
    """

    def __init__(self, inception: nn.Module, dims: int = 64):
        super().__init__()
        _check_dims(dims)
        layers = nn.Sequential(*(copy.deepcopy(getattr(inception, name)) for name in INCEPTION_LAYERS[dims]))
        _fold_all(layers)
        self.layers = layers.eval().to(memory_format=torch.channels_last)
        self.dims = dims

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if min(images.shape[-2:]) < INCEPTION_MIN_SIZE[self.dims]:
            raise ValueError(
                f"SIFID at dims {self.dims} needs images of at least {INCEPTION_MIN_SIZE[self.dims]} "
                f"pixels per side, got {images.shape[-2]}x{images.shape[-1]}"
            )
        return self.layers(images.contiguous(memory_format=torch.channels_last))


class SIFID:
    """Single-image FID of generated images against the training image (or each video frame).

    `feature_extractor` (optional) maps B x 3 x H x W images in [-1, 1] to B x C x h x w feature maps
    (then `dims` is ignored); by default the Inception layers for `dims` (64, 192, 768 or 2048), loaded
    through weights.py. `batch_size`: images per forward pass (default 4 on a CPU, 32 on a GPU).
    `video_frame0_only` reproduces the published code, which scored videos against frame 0 only.
    """

    def __init__(
        self,
        dims: int = 64,
        *,
        feature_extractor: nn.Module | None = None,
        weights_dir: str | Path | None = None,
        random_weights: bool = False,
        device: str | torch.device = "cpu",
        batch_size: int | None = None,
        video_frame0_only: bool = False,
    ):
        if feature_extractor is None:
            _check_dims(dims)  # before loading the weights
            feature_extractor = InceptionFeatures(build_inception(weights_dir, random_weights), dims)
        self.dims = dims
        self.device = torch.device(device)
        self.net = feature_extractor.to(self.device).eval()
        # On a CPU, 4 images' feature maps (dims 64 at 192x320: 15 MB) stay in cache between the forward pass and
        # the statistics; 8 took ~3% longer per image (6.64 vs 6.43 ms: bench_metrics.py --sifid-batch-sizes 8).
        self.batch_size = batch_size or (4 if self.device.type == "cpu" else 32)
        self.video_frame0_only = video_frame0_only
        self._real: torch.Tensor | None = None
        self._references: dict[tuple[int, int], list[FrechetReference]] = {}
        self._scores: list[torch.Tensor] = []
        self._nearest: list[torch.Tensor] = []

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Per-position features of images in [0, 1]: B x 3 x H x W -> B x (h*w) x C."""
        maps = self.net(images.to(self.device) * 2 - 1)  # B x C x h x w
        if maps.shape[2] * maps.shape[3] < 2:
            raise ValueError(
                f"SIFID: {images.shape[-2]}x{images.shape[-1]} images give a feature map with "
                f"one position; at least 2 are needed (use larger images or smaller dims)"
            )
        return maps.permute(0, 2, 3, 1).flatten(1, 2)  # B x (h*w) x C

    def set_real(self, real_images: torch.Tensor) -> None:
        """Set the training image (1 x 3 x H x W) or video frames (T x 3 x H x W), values in [0, 1]."""
        check_images(real_images, "real images")
        self._real = real_images[:1] if self.video_frame0_only else real_images
        self._references = {}

    @torch.inference_mode()
    def _references_for(self, size: tuple[int, int]) -> list[FrechetReference]:
        """Statistics of every training frame resized to `size`, computed once per size."""
        if self._real is None:
            raise RuntimeError("SIFID: call set_real() before update()")
        if size not in self._references:
            references = []
            for frames in self._real.split(self.batch_size):
                feats = self.features(resize_images(frames.to(self.device), size))  # b x n x C
                references += [FrechetReference.from_samples(f) for f in feats]
            self._references[size] = references
        return self._references[size]

    @torch.inference_mode()
    def update(self, fake_images: torch.Tensor) -> None:
        """Score generated images (N x 3 x H x W in [0, 1]) in batches against the nearest training frame."""
        check_images(fake_images, "generated images")
        references = self._references_for(tuple(fake_images.shape[-2:]))
        for batch in fake_images.split(self.batch_size):
            distances = distances_to_references(references, self.features(batch))  # T x B
            best, nearest = distances.min(0)  # B, B
            self._scores.append(best.cpu())
            self._nearest.append(nearest.cpu())

    def compute(self) -> PerImageScores:
        """Per-image SIFID (float64), their mean and the nearest frame of each image."""
        if not self._scores:
            raise RuntimeError("SIFID: no generated images; call update() first")
        per_image = torch.cat(self._scores)
        return PerImageScores(per_image, float(per_image.mean()), torch.cat(self._nearest))

    def reset(self) -> None:
        """Forget the generated images scored so far (the training statistics are kept)."""
        self._scores, self._nearest = [], []
