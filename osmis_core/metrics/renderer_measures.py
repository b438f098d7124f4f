"""Quality measures of a layout renderer (docs/renderer.md section 6), on tensors; the renders themselves are made
by osmis_core.application.render_evaluation. Their `--metrics` names are registry.RENDERER_METRICS.

- Layout fidelity: a segmenter trained on the real pair(s) (the mIoU segmenter of metrics.miou, direction 2 style)
  applied to renders; its mIoU on augmented real pairs is the ceiling.
- Locality: mean |change| inside the resampled region / mean |change| outside the region dilated by a band.
- Diversity per layout: pixel diversity (and LPIPS diversity) over several noises for one layout.
- Two-stage alignment: the segmenter's mIoU of (rendered photo vs OSMIS mask) and (OSMIS photo vs OSMIS mask).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ._common import check_images, check_masks, resize_images, resize_masks
from .diversity import PixelDiversity
from .miou import SegmentationMIoU, _scores
from .miou_settings import Progress

LOCALITY_BAND = 16  # px: the region is dilated by this before "outside" is measured (docs/renderer.md section 6)


class LayoutSegmenter:
    """The mIoU segmenter (U-Net on ResNet-18) trained on the real pair(s) at one size; scores images against
    layouts. random_weights: a fixed-seed random encoder instead of ImageNet weights (offline; marked so).

    It is trained when first used (`score`); `probe` times its first steps (which the training goes on from, so
    the result is the same) and estimates the rest."""

    def __init__(
        self,
        real_images: torch.Tensor,
        real_masks: torch.Tensor,
        num_classes: int,
        *,
        size: tuple[int, int],
        steps: int = 500,
        weights_dir: str | Path | None = None,
        random_weights: bool = False,
        device: str | torch.device = "cpu",
        progress: Progress | None = None,
    ):
        self._miou = SegmentationMIoU(
            num_classes,
            steps=steps,
            weights_dir=weights_dir,
            random_weights=random_weights,
            device=device,
            progress=progress,
        )
        self._miou.set_real(real_images, real_masks)
        self.size = size
        self.device = self._miou.device
        images = resize_images(real_images.to(self.device), size)
        masks = resize_masks(real_masks.to(self.device), size)
        self._training = self._miou._training(images, masks)
        self._model = None

    def probe(self) -> float:
        """Seconds the rest of the training should take on this device: one untimed step, then steps timed for at
        least SegmentationMIoU.PROBE_STEPS steps and PROBE_MIN_S seconds (all of them count towards the training)."""
        training, steps = self._training, self._miou.steps
        if training.done < steps:
            training.step()  # untimed: it also pays one-time work
        timed, timed_s = 0, 0.0
        while training.done < steps and (timed < self._miou.PROBE_STEPS or timed_s < self._miou.PROBE_MIN_S):
            start = time.perf_counter()
            training.step()
            self._miou._sync()
            timed_s += time.perf_counter() - start
            timed += 1
        return (steps - training.done) * (timed_s / timed) if timed else 0.0

    @property
    def model(self):
        """The trained segmenter (trained now if it is not yet)."""
        if self._model is None:
            self._model = self._miou._train(self._training, "layout fidelity: train the segmenter on the real pair")
        return self._model

    def score(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[float, torch.Tensor]:
        """(mIoU over all pixels, per-image mIoU) of the segmenter's prediction on images (N x 3 x H x W in
        [0, 1]) against masks (N x H x W int64); images are resized to the segmenter's size first."""
        check_masks(masks, check_images(images, "rendered images"), "layouts")
        images = resize_images(images.to(self.device), self.size)
        masks = resize_masks(masks.to(self.device), self.size)
        confusion = self._miou._test(self.model, images, masks)  # N x K x K
        return float(_scores(confusion.sum(0))[1]), _scores(confusion)[1].cpu()


def locality_changes(
    base: torch.Tensor, edited: torch.Tensor, region: np.ndarray, band: int = LOCALITY_BAND
) -> tuple[float, float]:
    """(mean |edited - base| inside the region, mean outside the region dilated by `band` pixels (a square
    neighbourhood)), in the images' units. base, edited: ... x 3 x H x W; region: H x W bool. Raises ValueError
    when the region, or the area outside its band, is empty."""
    from scipy import ndimage

    region = np.asarray(region, bool)
    outside = ~ndimage.binary_dilation(region, np.ones((3, 3), bool), iterations=band)
    if not region.any() or not outside.any():
        raise ValueError("locality: the region, or the area outside its band, is empty")
    change = (edited.double() - base.double()).abs().mean(-3)  # ... x H x W
    return float(change[..., torch.from_numpy(region)].mean()), float(change[..., torch.from_numpy(outside)].mean())


def locality_ratio(base: torch.Tensor, edited: torch.Tensor, region: np.ndarray, band: int = LOCALITY_BAND) -> float:
    """Mean |edited - base| inside the region over the mean outside the region dilated by `band` pixels
    (locality_changes). inf when nothing outside changed (see locality_summary for how a report says so)."""
    inside_mean, outside_mean = locality_changes(base, edited, region, band)
    return inside_mean / outside_mean if outside_mean > 0 else float("inf")


PERFECT_LOCALITY = "no change outside the region (perfect locality)"
NO_CHANGE = "no change at all, inside or outside the region (re-drawing its noise changed nothing)"


def locality_summary(changes: list[tuple[float, float]]) -> tuple[float | None, str | None]:
    """(locality ratio, note) over several renders, from their locality_changes: the mean ratio over the renders
    with a change outside the region. When none has one the ratio is undefined (None) and the note says why:
    PERFECT_LOCALITY (a change inside only), or NO_CHANGE (nothing changed). When only some have none, the note
    says how many were left out of the mean (as perfectly local). No note otherwise."""
    ratios = [inside / outside for inside, outside in changes if outside > 0]
    perfect = sum(1 for inside, outside in changes if outside == 0 and inside > 0)
    if not ratios:
        return None, PERFECT_LOCALITY if perfect else NO_CHANGE
    note = None
    if len(ratios) < len(changes):
        note = (
            f"{len(changes) - len(ratios)} of {len(changes)} renders had no change outside the region (perfect "
            f"locality){'' if perfect == len(changes) - len(ratios) else ' or none at all'}; the value is the mean "
            f"ratio of the other {len(ratios)}"
        )
    return float(np.mean(ratios)), note


def pixel_diversity(images: torch.Tensor, real_images: torch.Tensor) -> float:
    """Pixel diversity (metrics.diversity) of several renders of one layout; 0 for a deterministic renderer."""
    metric = PixelDiversity()
    metric.set_real(real_images)
    metric.update(images)
    return metric.compute()
