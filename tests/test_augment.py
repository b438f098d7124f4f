"""Differentiable augmentation, feature augmentation and the fast upsample-conv."""

import torch
import torch.nn.functional as F

from osmis_core.data.augment import apply_transform, augment_pair, random_transform
from osmis_core.models.feature_augment import content_feature_augment, layout_feature_augment
from osmis_core.models.layers import upsample_conv3x3


def test_upsample_conv_matches_reference():
    torch.manual_seed(0)
    x, w, b = torch.randn(2, 5, 6, 7), torch.randn(4, 5, 3, 3), torch.randn(4)
    ref = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, b, padding=1)
    assert torch.allclose(upsample_conv3x3(x, w, b), ref, atol=1e-5)


def test_same_geometry_on_all_scales_and_mask():
    gen = torch.Generator().manual_seed(3)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 64), indexing="ij")
    big = torch.stack([xx, yy, torch.sin(6 * xx) * torch.cos(4 * yy) * 0.5 + 0.5]).unsqueeze(0)  # smooth
    small = F.interpolate(big, scale_factor=0.5, mode="bilinear", align_corners=False)
    mask = torch.zeros(1, 2, 32, 64)
    mask[:, 1, :, :32] = 1  # left half is class 1
    mask[:, 0, :, 32:] = 1
    for _ in range(20):
        t = random_transform(1.0, 2.0, gen)
        a_big, a_small, a_mask = apply_transform(big, t), apply_transform(small, t), apply_transform(mask, t)
        down = F.interpolate(a_big, scale_factor=0.5, mode="bilinear", align_corners=False)
        assert (down - a_small).abs().mean() < 0.03  # the same warp at both scales
        assert a_mask.shape == mask.shape


def test_gradients_flow_through_augmentation():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 16, 32, requires_grad=True)
    m = torch.rand(2, 3, 16, 32, requires_grad=True)
    for _ in range(5):
        pyr, mask = augment_pair([x], m, 1.0, gen)
        (pyr[0].sum() + mask.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and m.grad.abs().sum() > 0


def test_content_feature_augment_mixes_and_drops():
    gen = torch.Generator().manual_seed(0)
    v = torch.arange(4 * 20, dtype=torch.float32).view(4, 20, 1, 1) + 1
    out = content_feature_augment(v, 1.0, gen)
    zeroed = (out == 0).all(0).flatten()
    assert 2 <= int(zeroed.sum()) <= 6  # 10-30 % of 20 channels dropped, same for all samples
    swapped = (out[0] == v[1]).flatten() & ~zeroed
    assert swapped.any()  # pair (0, 1) exchanged channels
    assert torch.equal(content_feature_augment(v, 0.0, gen), v)


def test_layout_feature_augment_never_cuts_objects():
    gen = torch.Generator().manual_seed(1)
    y = torch.randn(4, 6, 12, 24)
    mask = torch.zeros(4, 2, 12, 24)
    mask[:, 0] = 1
    mask[:, 0, 3:7, 5:9] = 0
    mask[:, 1, 3:7, 5:9] = 1
    changed = False
    for _ in range(20):
        out = layout_feature_augment(y, 1.0, gen, mask)
        changed |= not torch.equal(out, y)
        obj = out[:, :, 3:7, 5:9]
        # the object region is either untouched or replaced as a whole (removed), never partly overwritten
        for k in range(4):
            same = (obj[k] == y[k, :, 3:7, 5:9]).all(0)
            assert same.all() or not same.any()
    assert changed
    out = layout_feature_augment(y, 1.0, gen, None)
    assert out.shape == y.shape and not torch.equal(out, y)
