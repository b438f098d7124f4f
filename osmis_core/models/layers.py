"""Building blocks shared by the generator and the discriminator."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LRELU_SLOPE = 0.2


def sn_conv(cin: int, cout: int, kernel: int, bias: bool = True) -> nn.Module:
    """Spectrally normalised convolution with 'same' padding."""
    return spectral_norm(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias))


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {kind!r}")


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LRELU_SLOPE)


def init_weights(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02), norm weights ~ N(1, 0.02), biases 0 (before spectral norm is attached)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# A 3x3 convolution of a nearest-x2-upsampled map equals ONE stride-2 transposed convolution of the low-resolution
# map with a 4x4 kernel whose taps are sums of the 3x3 taps (per axis: k0 = w2, k1 = w1 + w2, k2 = w0 + w1, k3 = w0):
# 16 instead of 36 multiply-adds per low-resolution pixel and channel pair, and no upsampled copy of the input.
_UPSAMPLE_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # 4 x 3


def upsample_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """conv3x3(upsample_nearest_x2(x)) computed as a transposed convolution; same result up to float rounding.

    x: B x I x h x w, weight: O x I x 3 x 3 -> B x O x 2h x 2w.
    """
    taps = _UPSAMPLE_TAPS.to(dtype=weight.dtype, device=weight.device)
    kernel = torch.einsum("kp,oipq,lq->iokl", taps, weight, taps)  # I x O x 4 x 4
    return F.conv_transpose2d(x, kernel, bias, stride=2, padding=1)
