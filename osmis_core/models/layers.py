"""Building blocks shared by the generator and the discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LRELU_SLOPE = 0.2


def sn_conv(cin: int, cout: int, kernel: int, bias: bool = True, spectral: bool = True) -> nn.Module:
    """Spectrally normalised convolution with 'same' padding (spectral=False: a plain one, for baked weights)."""
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
    return spectral_norm(conv) if spectral else conv


_SN_WEIGHT = ".parametrizations.weight.original"
_SN_VECTORS = ".parametrizations.weight.0."


def bake_spectral_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with spectrally normalised convs -> the same with plain weights W / sigma, sigma = u . (W v) from
    the stored power-iteration vectors: exactly what the parametrization computes in eval mode. Every tensor is a
    new one, none shares memory with `state` (which may be memory-mapped from a checkpoint file)."""
    baked = {}
    for key, value in state.items():
        if key.endswith(_SN_WEIGHT):
            prefix = key[: -len(_SN_WEIGHT)]
            u, v = state[prefix + _SN_VECTORS + "_u"], state[prefix + _SN_VECTORS + "_v"]
            baked[prefix + ".weight"] = value / torch.vdot(u, torch.mv(value.flatten(1), v))  # O x I x k x k
        elif _SN_VECTORS not in key:
            baked[key] = value.clone()
    return baked


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {kind!r}")


def lrelu(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Leaky ReLU; inplace=True for maps nothing else reads (autograd recomputes the gradient from the output)."""
    return F.leaky_relu(x, LRELU_SLOPE, inplace=inplace)


def add_upsampled_(h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """h += nearest_x2(s), in place, without materialising the upsampled map.

    h: B x C x 2h x 2w, s: B x C x h x w. Works on any memory layout (the 2x2 split is a strided view).
    """
    hh, ww = s.shape[-2:]
    h.unflatten(3, (ww, 2)).unflatten(2, (hh, 2)).add_(s[:, :, :, None, :, None])  # B x C x h x 2 x w x 2
    return h


class _AvgPool2x2(torch.autograd.Function):
    """2x2 average pooling of a map with even height and width. Every input pixel feeds exactly one output pixel,
    so the gradient is the nearest-neighbour upsampled output gradient over 4: one pass, where the stock backward
    first zero-fills a full-size buffer (a third of a D backward's memory traffic on CPU)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2)  # B x C x h x w -> B x C x h/2 x w/2

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return F.interpolate(grad * 0.25, scale_factor=2, mode="nearest")


def avg_pool2x2(x: torch.Tensor) -> torch.Tensor:
    """F.avg_pool2d(x, 2) with a cheaper backward when the spatial size is even."""
    if x.shape[-2] % 2 or x.shape[-1] % 2:
        return F.avg_pool2d(x, 2)
    return _AvgPool2x2.apply(x)


def class_ids(scores: torch.Tensor) -> torch.Tensor:
    """Index of the largest class score at each pixel: B x K x H x W -> B x H x W (int64), first one on ties.

    The same as scores.argmax(1), whose CPU kernel takes a slow path (about 10x) on NCHW-contiguous maps such as
    softmax outputs; max(1) does not.
    """
    return scores.max(1).indices


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
def _upsample_taps(weight: torch.Tensor, dim: int) -> torch.Tensor:
    """3 taps along dim -> the 4 taps (w2, w1 + w2, w0 + w1, w0)."""
    w0, w1, w2 = weight.unbind(dim)
    return torch.stack([w2, w1 + w2, w0 + w1, w0], dim)


def upsample_kernel(weight: torch.Tensor) -> torch.Tensor:
    """O x I x 3 x 3 conv weight -> I x O x 4 x 4 transposed-conv kernel of conv3x3(upsample_nearest_x2(.)).

    Plain sums per axis: the same numbers as an einsum with 0/1 tap matrices, ~4x faster (it runs in every training
    forward pass)."""
    return _upsample_taps(_upsample_taps(weight, 2), 3).transpose(0, 1).contiguous()


def upsample_conv3x3(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, kernel: torch.Tensor | None = None
) -> torch.Tensor:
    """conv3x3(upsample_nearest_x2(x)) computed as a transposed convolution; same result up to float rounding.

    x: B x I x h x w, weight: O x I x 3 x 3 -> B x O x 2h x 2w. kernel: upsample_kernel(weight), if precomputed.
    """
    kernel = upsample_kernel(weight) if kernel is None else kernel
    return F.conv_transpose2d(x, kernel, bias, stride=2, padding=1)
