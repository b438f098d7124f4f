"""Discriminator: multi-scale low-level part, content branch (masked attention), layout branch."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .feature_augment import content_feature_augment, layout_feature_augment
from .layers import avg_pool2x2, class_ids, init_weights, lrelu, make_norm, sn_conv

D_MULTIPLIERS = (1, 2, 4, 8, 8, 8, 8, 8, 8)


@dataclass
class DiscriminatorOutput:
    low_level: list[torch.Tensor]  # n_d0 patch logit maps B x 1 x h x w
    content: list[torch.Tensor]  # (K*B) x (K+1) x 1 x 1 (OSMIS, class-major rows) or B x 1 x 1 x 1
    layout: list[torch.Tensor]  # B x 1 x h x w
    mask: torch.Tensor | None = None  # B x K x h x w mask used by the masked attention (hard for fakes)


class DBlock(nn.Module):
    """Residual D block. spatial: 3x3 convs + 2x2 average pooling; content: 1x1 convs, no pooling."""

    def __init__(self, cin: int, cout: int, spatial: bool, norm: str, first: bool = False):
        super().__init__()
        mid = min(cin, cout)
        k = 3 if spatial else 1
        self.spatial = spatial
        self.pre_norm = None if first else make_norm(norm, cin)
        self.conv1 = sn_conv(cin, mid, k)
        self.norm2 = make_norm(norm, mid)
        self.conv2 = sn_conv(mid, cout, k)
        self.shortcut = sn_conv(cin, cout, 1, bias=False) if (spatial or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.pre_norm is None else lrelu(self.pre_norm(x))
        h = self.conv2(lrelu(self.norm2(self.conv1(h)), inplace=True))  # conv outputs are not saved for backward
        s = x
        if self.spatial:  # pooling commutes with the 1x1 shortcut: pool first, 4x fewer multiply-adds
            h = avg_pool2x2(h)
            s = avg_pool2x2(s)
        if self.shortcut is not None:
            s = self.shortcut(s)
        return h.add_(s)  # h is a fresh conv (or pooling) output


class Discriminator(nn.Module):
    def __init__(
        self, num_blocks: int, num_low_level: int, num_classes: int | None = None, ch: int = 32, norm: str = "none"
    ):
        super().__init__()
        if not 1 <= num_low_level < num_blocks:
            raise ValueError("need 1 <= n_d0 < n_d")
        self.num_classes = num_classes
        self.num_low_level = num_low_level
        d = [m * ch for m in D_MULTIPLIERS[: num_blocks + 1]]
        if num_classes:
            for i in range(num_low_level + 1, num_blocks):
                d[i] *= 2
        n0, n_high = num_low_level, num_blocks - num_low_level
        msg = [0] + [d[i] // 8 for i in range(1, n0)]
        self.from_rgb = nn.ModuleList([sn_conv(3, d[0], 3)] + [sn_conv(3, msg[i], 3) for i in range(1, n0)])
        self.low_blocks = nn.ModuleList(DBlock(d[i] + msg[i], d[i + 1], True, norm, first=(i == 0)) for i in range(n0))
        self.low_heads = nn.ModuleList(sn_conv(d[i + 1], 1, 1) for i in range(n0))
        n_out = num_classes + 1 if num_classes else 1
        self.content_blocks = nn.ModuleList(DBlock(d[n0 + k], d[n0 + k + 1], False, norm) for k in range(n_high))
        self.content_heads = nn.ModuleList(sn_conv(d[n0 + k + 1], n_out, 1) for k in range(n_high))
        self.layout_blocks = nn.ModuleList(DBlock(d[n0] if k == 0 else 1, 1, True, norm) for k in range(n_high))
        self.layout_heads = nn.ModuleList(sn_conv(1, 1, 1) for _ in range(n_high))
        init_weights(self)

    def low_level(self, pyramid: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The multi-scale low-level part (most of D's arithmetic; no random decisions, static shapes).

        Returns the features it hands to the content and layout branches (B x d[n0] x h x w) and its n_d0 patch
        logit maps."""
        x = self.from_rgb[0](pyramid[-1])
        low = []
        for i, (block, head) in enumerate(zip(self.low_blocks, self.low_heads)):
            if i > 0:
                x = torch.cat([x, self.from_rgb[i](pyramid[-1 - i])], 1)
            x = block(x)
            low.append(head(x))
        return x, low

    def forward(
        self,
        pyramid: list[torch.Tensor],
        mask: torch.Tensor | None = None,
        real: bool = False,
        harden: str = "argmax",
        p_con: float = 0.0,
        p_lay: float = 0.0,
        gen: torch.Generator | None = None,
    ) -> DiscriminatorOutput:
        """pyramid: n_d0 images B x 3 x h_i x w_i, largest last; mask: B x K x H x W (OSMIS).

        real=True applies feature augmentation (p_con, p_lay, random decisions from `gen`). For fakes the soft
        mask is hardened with a straight-through estimator: harden = 'bernoulli' or 'argmax'.
        """
        y, low = self.low_level(pyramid)  # B x d[n0] x h x w
        b, c, h, w = y.shape
        m = None
        if self.num_classes:
            m = F.interpolate(mask, size=(h, w), mode="nearest")  # B x K x h x w
            if not real:
                m = _straight_through(m, harden, gen)
            pooled = torch.einsum("bchw,bkhw->kbc", y, m).reshape(-1, c, 1, 1) / (h * w)  # (K*B) x C x 1 x 1
        else:
            pooled = y.mean((2, 3), keepdim=True)  # B x C x 1 x 1
        if real and p_con > 0:
            head_rows = content_feature_augment(pooled[:b], p_con, gen)  # with masks: background block only
            pooled = torch.cat([head_rows, pooled[b:]]) if self.num_classes else head_rows
        content = []
        v = pooled
        for block, head in zip(self.content_blocks, self.content_heads):
            v = block(v)
            content.append(head(v))
        lay = layout_feature_augment(y, p_lay, gen, m) if (real and p_lay > 0) else y
        layout = []
        for block, head in zip(self.layout_blocks, self.layout_heads):
            lay = block(lay)
            layout.append(head(lay))
        return DiscriminatorOutput(low, content, layout, m)


def _straight_through(soft: torch.Tensor, harden: str, gen: torch.Generator | None) -> torch.Tensor:
    """Hard mask in the forward pass, gradient of the soft mask in the backward pass."""
    with torch.no_grad():
        if harden == "bernoulli":
            probs = soft.detach().clamp(0.001, 0.999)
            noise = torch.rand(probs.shape, generator=gen).to(probs.device, non_blocking=True)
            hard = (noise < probs).to(soft.dtype)
        else:
            hard = F.one_hot(class_ids(soft), soft.shape[1]).permute(0, 3, 1, 2).to(soft.dtype)
    return hard - soft.detach() + soft
