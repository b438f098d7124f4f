"""Generator: transposed-conv stem, n_g residual up-blocks, an RGB head per scale, a mask head (OSMIS)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from .layers import (
    add_upsampled_,
    bake_spectral_norm,
    init_weights,
    lrelu,
    make_norm,
    sn_conv,
    upsample_conv3x3,
    upsample_kernel,
)

G_MULTIPLIERS = (8, 8, 8, 8, 8, 8, 8, 4, 2, 1)


@dataclass
class GeneratorOutput:
    images: list[torch.Tensor]  # n_g tensors B x 3 x h_i x w_i in [-1, 1], smallest first
    features: list[torch.Tensor]  # n_g tensors tanh(block output), for the diversity regulariser
    mask: torch.Tensor | None  # B x K x H x W softmax probabilities (OSMIS) or None


class GeneratorBlock(nn.Module):
    """Residual block c_in -> c_out, upsampling x2 unless it is the first block.

    fast_upsample: the x2 upsample and 3x3 conv as one transposed conv, and the residual sums in place (the same
    numbers up to float rounding); False keeps the plain upsample-then-conv reference path.
    """

    def __init__(
        self, cin: int, cout: int, upsample: bool, norm: str, fast_upsample: bool = True, spectral: bool = True
    ):
        super().__init__()
        mid = min(cin, cout)
        self.upsample = upsample
        self.fast_upsample = fast_upsample
        self.norm1 = make_norm(norm, cin)
        self.conv1 = sn_conv(cin, mid, 3, spectral=spectral)
        self.norm2 = make_norm(norm, mid)
        self.conv2 = sn_conv(mid, cout, 3, spectral=spectral)
        self.shortcut = sn_conv(cin, cout, 1, bias=False, spectral=spectral)
        self.register_buffer("frozen_kernel", None, persistent=False)  # set by Generator.freeze()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.shortcut(x)  # a 1x1 conv commutes with nearest upsampling: run it at low resolution
        # when autograd records, x is saved for backward and must stay; otherwise nothing reads it after the shortcut
        h = lrelu(self.norm1(x), inplace=self.fast_upsample and not torch.is_grad_enabled())
        if not self.upsample:
            h = self.conv1(h)
        elif self.fast_upsample:
            h = upsample_conv3x3(h, self.conv1.weight, self.conv1.bias, self.frozen_kernel)
        else:
            h = self.conv1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv2(lrelu(self.norm2(h), inplace=self.fast_upsample))
        if not self.fast_upsample:  # the plain reference path
            return h + (F.interpolate(s, scale_factor=2, mode="nearest") if self.upsample else s)
        # conv outputs are not saved for backward, so h can take the sum in place
        return add_upsampled_(h, s) if self.upsample else h.add_(s)


class Generator(nn.Module):
    def __init__(
        self,
        noise_shape: tuple[int, int],
        num_blocks: int,
        num_classes: int | None = None,
        ch: int = 32,
        noise_dim: int = 64,
        norm: str = "none",
        fast_upsample: bool = True,
        spectral: bool = True,
        init: bool = True,
    ):
        """spectral=False builds plain convs and init=False skips the random initialisation: both for
        from_trained(), which loads baked weights over them."""
        super().__init__()
        self.noise_dim = noise_dim
        self.num_classes = num_classes
        c = [m * ch for m in G_MULTIPLIERS[-(num_blocks + 1) :]]
        self.stem = nn.ConvTranspose2d(noise_dim, c[0], tuple(noise_shape))
        self.blocks = nn.ModuleList(
            GeneratorBlock(c[i], c[i + 1], i > 0, norm, fast_upsample, spectral) for i in range(num_blocks)
        )
        self.to_rgb = nn.ModuleList(sn_conv(c[i + 1], 3, 3, spectral=spectral) for i in range(num_blocks))
        self.mask_head = nn.Conv2d(c[-1], num_classes, 3, padding=1) if num_classes else None
        # set by freeze(): the last RGB head and the mask head as one conv with 3 + K outputs
        self.register_buffer("frozen_head_weight", None, persistent=False)
        self.register_buffer("frozen_head_bias", None, persistent=False)
        if init:
            init_weights(self)

    @classmethod
    def from_trained(
        cls,
        state: dict[str, torch.Tensor],
        noise_shape: tuple[int, int],
        num_blocks: int,
        num_classes: int | None = None,
        **options,
    ) -> Generator:
        """A frozen generator (see freeze) from a trained generator's state dict: the same numbers as
        load_state_dict(state) then freeze(). Built on the meta device, without spectral-norm parametrizations or
        random initialisation, which the trained weights replace anyway (on a CPU they cost more than loading)."""
        with torch.device("meta"):
            g = cls(noise_shape, num_blocks, num_classes, spectral=False, init=False, **options)
        g.load_state_dict(bake_spectral_norm(state), assign=True)  # new tensors: the checkpoint file stays free
        return g.freeze()

    def freeze(self) -> Generator:
        """For inference only: bake the spectrally normalised weights in, precompute the upsample kernels and
        merge the last RGB head with the mask head (one pass over the full-resolution map instead of two, each
        with too few outputs to keep the CPU's vector units busy), so that a forward pass does no per-call
        weight arithmetic. Gradients are switched off."""
        self.eval().requires_grad_(False)  # first: in training mode spectral norm would run one more power iteration
        for m in self.modules():
            if parametrize.is_parametrized(m, "weight"):
                parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        for block in self.blocks:
            if block.upsample and block.fast_upsample:
                block.frozen_kernel = upsample_kernel(block.conv1.weight)
        if self.mask_head is not None:
            rgb = self.to_rgb[-1]
            self.frozen_head_weight = torch.cat([rgb.weight, self.mask_head.weight])  # (3 + K) x C x 3 x 3
            self.frozen_head_bias = torch.cat([rgb.bias, self.mask_head.bias])  # 3 + K
        return self

    def sample_noise(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return torch.randn(n, self.noise_dim, 1, 1, generator=generator, device=device)

    def forward(self, z: torch.Tensor, all_scales: bool = True) -> GeneratorOutput:
        """z: B x noise_dim x 1 x 1. all_scales=False computes only the final image (sampling)."""
        x = self.stem(z)  # B x c0 x h0 x w0
        images, features = [], []
        last = len(self.blocks) - 1
        fused_head = self.frozen_head_weight is not None
        for i, (block, to_rgb) in enumerate(zip(self.blocks, self.to_rgb)):
            x = block(x)  # B x c[i+1] x (h0 * 2^i) x (w0 * 2^i)
            if (all_scales or i == last) and not (fused_head and i == last):
                images.append(torch.tanh(to_rgb(x)))
            if all_scales:
                features.append(torch.tanh(x))
        if fused_head:
            heads = F.conv2d(x, self.frozen_head_weight, self.frozen_head_bias, padding=1)  # B x (3 + K) x H x W
            # a dense copy first: tanh over the strided 3-of-(3 + K) channel view is several times slower
            images.append(heads[:, :3].contiguous(memory_format=torch.channels_last).tanh_())
            return GeneratorOutput(images, features, torch.softmax(heads[:, 3:], dim=1))
        mask = torch.softmax(self.mask_head(x), dim=1) if self.mask_head is not None else None
        return GeneratorOutput(images, features, mask)
