"""The layout renderer of docs/renderer.md section 2: a small OASIS-style SPADE generator, conditioned on a one-hot
layout and a 3D noise map, and an OASIS-style per-pixel (K + 1)-class U-Net discriminator.

Noise (docs/renderer.md section 3): a z_dim-channel map at the layout's resolution, either one z per image (global) or
one z per instance (a connected component of one class, 8-connectivity). Every noise map is made from integer seeds, so
a gallery can record seeds instead of tensors and re-make any photo exactly.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .layers import avg_pool2x2, init_weights, lrelu, sn_conv

NOISE_MODES = ("global", "instance")


# -- geometry -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RendererArchitecture:
    """Training resolution and depth of one renderer run.

    num_blocks: SPADE blocks m of G (m - 1 nearest x2 upsamplings); the coarsest map is H / 2^(m-1), 4..8 px on the
    short side. D has m down blocks (OASIS: 6 and 6 at 256 px), so both sides are multiples of 2^m = `multiple`.
    data_size (W, H of the training data) and max_size (--max-size) are what the size was made from
    (recommend_renderer); None for a run recorded before they were.
    """

    height: int
    width: int
    num_blocks: int
    notes: tuple[str, ...] = ()
    data_size: tuple[int, int] | None = None
    max_size: int | None = None

    @property
    def multiple(self) -> int:
        return 2**self.num_blocks

    @property
    def num_down(self) -> int:
        return self.num_blocks

    @property
    def num_blocks_d0(self) -> int:
        """Scales of the real image D sees: the image alone (OSMIS's D sees a pyramid)."""
        return 1

    def origin(self) -> str:
        """Where the training size comes from, in words, e.g. 'its 320x192 training data fitted into --max-size 64
        is 64x38, rounded down to multiples of 16'; '' when the data size is not recorded."""
        if self.data_size is None:
            return ""
        w, h = self.data_size
        text = f"its {w}x{h} training data"
        sw, sh = w, h
        if self.max_size is not None:
            sw, sh = (int(v) for v in _fit(w, h, self.max_size))
            if (sw, sh) != (w, h):
                text += f" fitted into --max-size {self.max_size} is {sw}x{sh}"
        if (sw, sh) != (self.width, self.height):
            text += f", rounded down to multiples of {self.multiple}"
        return text

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        d["data_size"] = list(self.data_size) if self.data_size is not None else None
        # the keys the progress line and the app print for every run
        d.update(
            num_blocks_g=self.num_blocks,
            num_blocks_d=self.num_down,
            num_blocks_d0=1,
            noise_shape=[self.height, self.width],
        )
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RendererArchitecture:
        size, max_size = d.get("data_size"), d.get("max_size")
        return cls(
            int(d["height"]),
            int(d["width"]),
            int(d["num_blocks"]),
            tuple(d.get("notes", ())),
            (int(size[0]), int(size[1])) if size else None,
            int(max_size) if max_size is not None else None,
        )


def _fit(width: int, height: int, max_size: int) -> tuple[float, float]:
    """(W, H) scaled down, aspect kept, so that the larger side is at most max_size (never enlarged)."""
    scale = min(1.0, max_size / max(width, height))
    return width * scale, height * scale


def recommend_renderer(width: int, height: int, max_size: int, num_blocks: int | None = None) -> RendererArchitecture:
    """(W, H) of the input -> the training size (larger side <= max_size, sides multiples of 2^m) and m.

    m is the smallest depth whose coarsest map is at most 8 px on the short side (4..8 px, docs/renderer.md
    section 2.1). Raises ConfigError when the image is too small for the requested depth.
    """
    w, h = _fit(width, height, max_size)
    short = min(w, h)
    asked = num_blocks is not None
    if num_blocks is None:
        num_blocks = 2
        while short / 2 ** (num_blocks - 1) > 8:
            num_blocks += 1
    f = 2**num_blocks
    H, W = int(h // f) * f, int(w // f) * f
    if min(H, W) < f or num_blocks < 2:
        # what helps: fewer blocks when they were asked, a larger --max-size only when the image was scaled down
        ways = (["fewer --num-blocks-r"] if asked else []) + (["a larger --max-size"] if w < width else [])
        raise ConfigError(
            f"the training size {int(w)}x{int(h)} is too small for a renderer with {num_blocks} "
            f"blocks (sides must be multiples of {f}); "
            + (f"use {' or '.join(ways)}." if ways else "a larger image is needed (images are never enlarged).")
        )
    notes = ()
    if (H, W) != (int(h), int(w)):
        notes = (f"training size rounded from {int(w)}x{int(h)} to {W}x{H} (multiples of {f})",)
    return RendererArchitecture(H, W, num_blocks, notes, (int(width), int(height)), int(max_size))


# -- noise ----------------------------------------------------------------------------------------------------------


def instance_labels(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """H x W class ids -> (H x W int32 instance index 0..n-1, n). An instance is a connected component of one class
    (8-connectivity), numbered in raster order of its first pixel."""
    from scipy import ndimage

    out = np.full(ids.shape, -1, np.int64)
    structure = np.ones((3, 3), bool)
    firsts, labels = [], []
    for c in np.unique(ids):
        lab, n = ndimage.label(ids == c, structure=structure)
        if n:
            # raster index of each component's first pixel, to number instances independently of class order
            flat = lab.ravel()
            first = np.full(n + 1, flat.size, np.int64)
            np.minimum.at(first, flat, np.arange(flat.size))
            firsts.append(first[1:])
            labels.append((lab, c, n))
    order = np.argsort(np.concatenate(firsts), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    offset = 0
    for lab, _c, n in labels:
        sel = lab > 0
        out[sel] = rank[offset + lab[sel] - 1]
        offset += n
    return out.astype(np.int32), int(order.size)


def noise_map(ids: np.ndarray, z_dim: int, seed: int, mode: str, spatial: int = 0) -> torch.Tensor:
    """The z_dim x H x W noise map (float32) of one layout, from an integer seed.

    global: one z ~ N(0, I) at every pixel. instance: one z per instance (instance_labels), drawn in instance order.
    spatial > 0: the last `spatial` of the z_dim channels are instead drawn per pixel (i.i.d. N(0, 1), after the
    other draws, so spatial=0 gives the spec's maps unchanged). The same (layout, seed, mode, spatial) always gives
    the same map, on any device.
    """
    if mode not in NOISE_MODES:
        raise ConfigError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {mode!r}.")
    # torch takes 0..2**64-1; int() would quietly truncate 3.5 and read "3", and a larger seed overflows in torch
    if not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= seed < 2**64):
        raise ConfigError(f"a noise seed must be a whole number from 0 to {2**64 - 1}, got {seed!r}.")
    gen = torch.Generator().manual_seed(int(seed))
    h, w = ids.shape
    if not 0 <= spatial <= z_dim:
        raise ConfigError(f"spatial noise channels must be between 0 and z_dim ({z_dim}), got {spatial}.")
    if mode == "global":
        z = torch.randn(z_dim, generator=gen)[:, None, None].expand(z_dim, h, w).contiguous()
    else:
        inst, n = instance_labels(ids)
        zs = torch.randn(n, z_dim, generator=gen)
        z = zs[torch.from_numpy(inst).long()].permute(2, 0, 1).contiguous()
    if spatial:
        z[z_dim - spatial :] = torch.randn(spatial, h, w, generator=gen)
    return z


def resample_noise(z: torch.Tensor, z_new: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Z' = R * Z_new + (1 - R) * Z for a binary region R (H x W, broadcast over channels)."""
    r = region.to(z.dtype)
    return r * z_new + (1 - r) * z


# -- generator ------------------------------------------------------------------------------------------------------


def _param_free_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    raise ValueError(f"unknown SPADE norm {kind!r}")


class Spade(nn.Module):
    """out = norm(x) * (1 + gamma(seg)) + beta(seg), seg resized (nearest) to x's size (SPADE, Park et al. 2019)."""

    def __init__(self, channels: int, seg_channels: int, hidden: int, norm: str):
        super().__init__()
        self.norm = _param_free_norm(norm, channels)
        self.shared = nn.Conv2d(seg_channels, hidden, 3, padding=1)
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="nearest")
        a = F.relu(self.shared(seg))
        return self.norm(x) * (1 + self.gamma(a)) + self.beta(a)


class SpadeBlock(nn.Module):
    """SPADE -> LReLU -> SN conv3x3 -> SPADE -> LReLU -> SN conv3x3, plus a (SPADE -> SN conv1x1) shortcut when the
    widths differ."""

    def __init__(self, cin: int, cout: int, seg_channels: int, hidden: int, norm: str):
        super().__init__()
        mid = min(cin, cout)
        self.spade1 = Spade(cin, seg_channels, hidden, norm)
        self.conv1 = sn_conv(cin, mid, 3)
        self.spade2 = Spade(mid, seg_channels, hidden, norm)
        self.conv2 = sn_conv(mid, cout, 3)
        self.learned_shortcut = cin != cout
        if self.learned_shortcut:
            self.spade_s = Spade(cin, seg_channels, hidden, norm)
            self.conv_s = sn_conv(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        s = self.conv_s(self.spade_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv1(lrelu(self.spade1(x, seg)))
        dx = self.conv2(lrelu(self.spade2(dx, seg)))
        return s + dx


def generator_widths(num_blocks: int, ch: int) -> list[int]:
    """c[0] = 16 ch at the coarsest scale, then each block's output width: halving as resolution doubles, down to
    ch at the last block (OASIS's [16, 16, 16, 8, 4, 2, 1] x ch for 6 blocks)."""
    return [16 * ch] + [ch * min(16, 2 ** (num_blocks - 1 - i)) for i in range(num_blocks)]


class RendererGenerator(nn.Module):
    """G(layout, Z): B x K x H x W one-hot layout and B x z_dim x H x W noise -> B x 3 x H x W image in [-1, 1].

    H and W must be multiples of 2^(num_blocks - 1). `forward(..., features=True)` also returns tanh of each block's
    output, in (-1, 1): the features of the OSMIS diversity regulariser (spec/osmis-model.md, generator). Bounded
    features keep the regulariser bounded; on raw block outputs G can grow it without limit by inflating SPADE's
    gamma, and it then outweighs the adversarial loss.
    """

    def __init__(
        self,
        num_classes: int,
        num_blocks: int,
        ch: int = 32,
        hidden: int = 64,
        z_dim: int = 64,
        norm: str = "batch",
        z_spatial: int = 0,
    ):
        super().__init__()
        self.num_classes, self.num_blocks, self.z_dim = num_classes, num_blocks, z_dim
        self.z_spatial = z_spatial  # of the z_dim noise channels, how many vary per pixel (noise_map's `spatial`)
        seg = num_classes + z_dim
        widths = generator_widths(num_blocks, ch)
        self.head = nn.Conv2d(seg, widths[0], 3, padding=1)
        self.blocks = nn.ModuleList(SpadeBlock(widths[i], widths[i + 1], seg, hidden, norm) for i in range(num_blocks))
        self.out = nn.Conv2d(widths[-1], 3, 3, padding=1)
        init_weights(self)

    @property
    def multiple(self) -> int:
        return 2 ** (self.num_blocks - 1)

    def forward(self, layout: torch.Tensor, z: torch.Tensor, features: bool = False):
        seg = torch.cat([layout.to(z.dtype), z], 1)
        h, w = seg.shape[-2:]
        f = self.multiple
        if h % f or w % f:
            raise ValueError(f"layout size {w}x{h} is not a multiple of {f}")
        x = self.head(F.interpolate(seg, size=(h // f, w // f), mode="nearest"))
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x, seg)
            if features:
                feats.append(torch.tanh(x))
            if i < self.num_blocks - 1:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        img = torch.tanh(self.out(lrelu(x)))
        return (img, feats) if features else img


def receptive_radius(num_blocks: int) -> int:
    """An upper bound, in pixels, on how far a change of Z reaches in G's output (batch norm in eval mode is per
    pixel; instance norm is not, and has no such bound). Per block at scale s (px per cell): two 3x3 convs on x and a
    3x3 shared + 3x3 gamma/beta conv on the nearest-resized map, 6 cells, plus one cell for the nearest sampling;
    the head's 3x3 conv and sampling at the coarsest scale; the output 3x3 conv."""
    scales = [2 ** (num_blocks - 1 - i) for i in range(num_blocks)]
    return 1 + sum(7 * s for s in scales) + 3 * scales[0]


# -- discriminator --------------------------------------------------------------------------------------------------


class _ResBlockD(nn.Module):
    """SN residual block that halves (down), doubles (up) or keeps the resolution; 1x1 SN shortcut on width change.
    The first block of the encoder starts with its conv (no activation on the image)."""

    def __init__(self, cin: int, cout: int, scale: str, first: bool = False):
        super().__init__()
        self.scale, self.first = scale, first
        self.conv1 = sn_conv(cin, cout, 3)
        self.conv2 = sn_conv(cout, cout, 3)
        self.shortcut = sn_conv(cin, cout, 1) if cin != cout else None

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == "down":
            return avg_pool2x2(x)
        return F.interpolate(x, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x
        if self.scale == "up":
            x = self._resize(x)
            s = x
        dx = self.conv1(x if self.first else lrelu(x))
        dx = self.conv2(lrelu(dx))
        if self.shortcut is not None:
            s = self.shortcut(s)
        if self.scale == "down":
            dx, s = self._resize(dx), self._resize(s)
        return s + dx


def discriminator_widths(num_down: int, ch: int) -> list[int]:
    """Encoder widths: ch, ch, 2ch, 2ch, 4ch, 4ch, (4ch ...): OASIS's 128-512 at ch = 128; half of it at ch = 64."""
    return [ch * 2 ** min(i // 2, 2) for i in range(num_down)]


class RendererDiscriminator(nn.Module):
    """OASIS-style U-Net on the image alone: B x 3 x H x W -> B x (K + 1) x H x W logits (0 = fake, c + 1 = class c).

    H and W must be multiples of 2^num_down.
    """

    def __init__(self, num_classes: int, num_down: int, ch: int = 64):
        super().__init__()
        if num_down < 1:
            raise ValueError("the discriminator needs at least one down block")
        self.num_down = num_down
        e = discriminator_widths(num_down, ch)
        self.down = nn.ModuleList(
            _ResBlockD(3 if i == 0 else e[i - 1], e[i], "down", first=(i == 0)) for i in range(num_down)
        )
        up = [_ResBlockD(e[-1], e[-2] if num_down > 1 else ch, "up")]
        for i in range(1, num_down):
            cout = e[-2 - i] if i < num_down - 1 else ch
            up.append(_ResBlockD(2 * e[-1 - i], cout, "up"))
        self.up = nn.ModuleList(up)
        self.last = nn.Conv2d(ch, num_classes + 1, 1)
        init_weights(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skips = []
        x = image
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.up[0](x)
        for i in range(1, self.num_down):
            x = self.up[i](torch.cat([skips[-1 - i], x], 1))
        return self.last(x)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def refresh_batch_norm(generator: RendererGenerator, batches) -> RendererGenerator:
    """Re-estimate the batch-norm running statistics of `generator` in place: reset, then a cumulative average over
    no-grad forward passes with the norms in training mode on `batches` ((layout, z) pairs), as OASIS does before
    sampling. Only the statistics change (spectral norm's vectors stay: the rest is in eval mode). Returns the
    generator in eval mode."""
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return generator.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    generator.eval()
    for m in norms:
        m.train()
    for layout, z in batches:
        generator(layout, z)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return generator.eval()
