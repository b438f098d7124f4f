"""Pixel diversity (SinGAN paper): needs no pretrained network."""

from __future__ import annotations

import torch

from ._common import check_images


class PixelDiversity:
    """Per-pixel standard deviation over the generated images, averaged over pixels and channels, divided
    by the standard deviation of the training image's values (all pixels, channels and frames).

    Streams: only a per-pixel sum and sum of squares (float64) are kept. Both deviations use N - 1.
    """

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self._real_std: float | None = None
        self._sum: torch.Tensor | None = None  # 3 x H x W, float64
        self._sum_sq: torch.Tensor | None = None
        self._count = 0

    def set_real(self, real_images: torch.Tensor) -> None:
        """Set the training image (1 x 3 x H x W) or frames (T x 3 x H x W), values in [0, 1]."""
        std = float(check_images(real_images, "real images").to(torch.float64).std())
        if not std > 0:
            raise ValueError("pixel diversity: the training image is constant (its standard deviation is 0)")
        self._real_std = std

    def update(self, fake_images: torch.Tensor) -> None:
        """Add generated images (N x 3 x H x W in [0, 1]); all must share one size."""
        x = check_images(fake_images, "generated images").to(self.device, torch.float64)
        if self._sum is None:
            self._sum = torch.zeros_like(x[0])
            self._sum_sq = torch.zeros_like(x[0])
        elif x.shape[1:] != self._sum.shape:
            raise ValueError(
                f"pixel diversity: generated images of size {tuple(x.shape[1:])} after "
                f"{tuple(self._sum.shape)}; all must share one size"
            )
        self._sum += x.sum(0)
        self._sum_sq += (x * x).sum(0)
        self._count += x.shape[0]

    def compute(self) -> float:
        """Mean per-pixel std of the generated images over the std of the training image."""
        if self._real_std is None:
            raise RuntimeError("PixelDiversity: call set_real() before compute()")
        if self._count < 2:
            raise RuntimeError(f"pixel diversity needs at least 2 generated images, got {self._count}")
        n = self._count
        variance = (self._sum_sq - self._sum * self._sum / n) / (n - 1)  # 3 x H x W
        return float(variance.clamp(min=0).sqrt().mean()) / self._real_std

    def reset(self) -> None:
        """Forget the generated images added so far (the training std is kept)."""
        self._sum, self._sum_sq, self._count = None, None, 0
