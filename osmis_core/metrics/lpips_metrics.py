"""LPIPS diversity among generated images and LPIPS distance of each generated image to the training data.

Both run the `lpips` network (AlexNet, v0.1 heads) once per image and get every pairwise distance from the
cached unit-normalised features. For one layer with head weights w_c and h x w positions,
    d(i, j) = 1/(h w) sum_{c,p} w_c (f_i - f_j)^2 = s_i + s_j - 2 <w f_i, f_j> / (h w),
with s_i = <w f_i, f_i> / (h w): a whole distance matrix is one matrix product per layer. Features are
centred on a common mean first (d is shift-invariant) so that near-identical images lose no precision.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import lpips
import torch

from ._common import PerImageScores, check_images, resize_images
from .weights import build_lpips


class _Prepared(NamedTuple):
    """Centred, flattened LPIPS features of N images, per layer, with their weighted squared norms."""

    flat: list[torch.Tensor]  # per layer: N x (C*h*w)
    sq_norms: list[torch.Tensor]  # per layer: N
    shapes: list[torch.Size]  # per layer: C x h x w


class _LPIPSSpace:
    """The pieces of an lpips.LPIPS model used here: input scaling, trunk and linear-head weights."""

    def __init__(
        self,
        model: lpips.LPIPS | None,
        weights_dir,
        random_weights: bool,
        device: str | torch.device,
        batch_size: int,
        unit_range_inputs: bool,
    ):
        if model is None:
            model = build_lpips(weights_dir, random_weights)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.head_weights = [lin.model[-1].weight.detach().flatten() for lin in self.model.lins]  # C_l each
        self.batch_size = batch_size
        self.unit_range_inputs = unit_range_inputs

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised trunk features of images in [0, 1], batched: per layer N x C_l x h_l x w_l."""
        batches = []
        for batch in images.split(self.batch_size):
            x = batch.to(self.device)
            if not self.unit_range_inputs:  # the published code skipped this and fed [0, 1] as [-1, 1]
                x = x * 2 - 1
            if self.model.version == "0.1":
                x = self.model.scaling_layer(x)
            batches.append([lpips.normalize_tensor(f) for f in self.model.net(x)])
        return [torch.cat(layer) for layer in zip(*batches)]

    def _spatial_weights(self, layer: int, shape: torch.Size) -> torch.Tensor:
        """Head weights spread over the positions of a C x h x w layer, divided by their count -> (C*h*w)."""
        c, h, w = shape
        return (self.head_weights[layer] / (h * w))[:, None].expand(c, h * w).flatten()

    @torch.inference_mode()
    def prepare(self, feats: list[torch.Tensor], centres: list[torch.Tensor]) -> _Prepared:
        """Centre per-layer features on `centres` (1 x C x h x w each) and precompute their norms."""
        flat, sq_norms = [], []
        for layer, (f, centre) in enumerate(zip(feats, centres)):
            x = (f - centre).flatten(1)  # N x (C*h*w)
            flat.append(x)
            sq_norms.append((x * x) @ self._spatial_weights(layer, f.shape[1:]))  # N
        return _Prepared(flat, sq_norms, [f.shape[1:] for f in feats])

    @torch.inference_mode()
    def distances(self, a: _Prepared, b: _Prepared) -> torch.Tensor:
        """LPIPS between every image of `a` and of `b` (same centres) -> Na x Nb, float64."""
        total = torch.zeros(a.flat[0].shape[0], b.flat[0].shape[0], dtype=torch.float64, device=self.device)
        for layer, shape in enumerate(a.shapes):
            cross = (a.flat[layer] * self._spatial_weights(layer, shape)) @ b.flat[layer].T  # Na x Nb
            total += (a.sq_norms[layer][:, None] + b.sq_norms[layer][None, :] - 2 * cross).double()
        return total


class LPIPSDiversity:
    """Mean LPIPS over all unordered pairs of (at most the first `max_images`) generated images.

    `model` (optional) is an lpips.LPIPS to use instead of the default AlexNet v0.1 from weights.py;
    `unit_range_inputs` reproduces the published code, which fed [0, 1] images as if they were [-1, 1].
    """

    def __init__(
        self,
        *,
        model: lpips.LPIPS | None = None,
        weights_dir: str | Path | None = None,
        random_weights: bool = False,
        device: str | torch.device = "cpu",
        batch_size: int = 8,
        max_images: int = 100,
        unit_range_inputs: bool = False,
    ):
        self._space = _LPIPSSpace(model, weights_dir, random_weights, device, batch_size, unit_range_inputs)
        self.max_images = max_images
        self._feats: list[list[torch.Tensor]] = []  # per update call, per layer
        self._count = 0

    def update(self, fake_images: torch.Tensor) -> None:
        """Add generated images (N x 3 x H x W in [0, 1]); images beyond `max_images` are ignored."""
        check_images(fake_images, "generated images")
        kept = fake_images[: max(self.max_images - self._count, 0)]
        if len(kept):
            self._feats.append(self._space.features(kept))
            self._count += len(kept)

    @torch.inference_mode()
    def pairwise(self) -> torch.Tensor:
        """LPIPS between every pair of kept images -> N x N (float64, zero diagonal)."""
        if self._count < 2:
            raise RuntimeError(f"LPIPS diversity needs at least 2 generated images, got {self._count}")
        feats = [torch.cat(layer) for layer in zip(*self._feats)]  # per layer: N x C x h x w
        prepared = self._space.prepare(feats, [f.mean(0, keepdim=True) for f in feats])
        matrix = self._space.distances(prepared, prepared)
        return matrix.fill_diagonal_(0).cpu()

    def compute(self) -> float:
        """Mean LPIPS over the N (N - 1) / 2 unordered pairs."""
        matrix = self.pairwise()
        n = matrix.shape[0]
        return float(matrix.triu(1).sum() / (n * (n - 1) / 2))

    def reset(self) -> None:
        """Forget the generated images added so far."""
        self._feats, self._count = [], 0


class LPIPSToTrain:
    """Per generated image, the minimum LPIPS to any training image/frame (resized to its size).

    Near 0 means the generator copies the training data. Options as for LPIPSDiversity.
    """

    def __init__(
        self,
        *,
        model: lpips.LPIPS | None = None,
        weights_dir: str | Path | None = None,
        random_weights: bool = False,
        device: str | torch.device = "cpu",
        batch_size: int = 8,
        unit_range_inputs: bool = False,
    ):
        self._space = _LPIPSSpace(model, weights_dir, random_weights, device, batch_size, unit_range_inputs)
        self._real: torch.Tensor | None = None
        self._references: dict[tuple[int, int], tuple[_Prepared, list[torch.Tensor]]] = {}
        self._scores: list[torch.Tensor] = []
        self._nearest: list[torch.Tensor] = []

    def set_real(self, real_images: torch.Tensor) -> None:
        """Set the training image (1 x 3 x H x W) or frames (T x 3 x H x W), values in [0, 1]."""
        self._real = check_images(real_images, "real images")
        self._references = {}

    def _references_for(self, size: tuple[int, int]) -> tuple[_Prepared, list[torch.Tensor]]:
        """Prepared training features at `size` and their centres, computed once per size."""
        if self._real is None:
            raise RuntimeError("LPIPSToTrain: call set_real() before update()")
        if size not in self._references:
            feats = self._space.features(resize_images(self._real, size))  # per layer: T x C x h x w
            centres = [f.mean(0, keepdim=True) for f in feats]
            self._references[size] = (self._space.prepare(feats, centres), centres)
        return self._references[size]

    def update(self, fake_images: torch.Tensor) -> None:
        """Score generated images (N x 3 x H x W in [0, 1]) against every training frame."""
        check_images(fake_images, "generated images")
        real, centres = self._references_for(tuple(fake_images.shape[-2:]))
        for batch in fake_images.split(self._space.batch_size):
            fake = self._space.prepare(self._space.features(batch), centres)
            best, nearest = self._space.distances(fake, real).min(1)  # B, B
            self._scores.append(best.cpu())
            self._nearest.append(nearest.cpu())

    def compute(self) -> PerImageScores:
        """Per-image minimum LPIPS to the training data, the mean and the nearest frame of each image."""
        if not self._scores:
            raise RuntimeError("LPIPSToTrain: no generated images; call update() first")
        per_image = torch.cat(self._scores)
        return PerImageScores(per_image, float(per_image.mean()), torch.cat(self._nearest))

    def reset(self) -> None:
        """Forget the generated images scored so far (the training features are kept)."""
        self._scores, self._nearest = [], []
