"""Hand-written fast kernels against the plain PyTorch expressions they replace."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from osmis_core.models import Generator
from osmis_core.models.layers import add_upsampled_, avg_pool2x2, class_ids
from osmis_core.models.visual import overlay, palette
from osmis_core.training.losses import diversity_regularisation


def reference_diversity(features):
    total = 0.0
    for f in features:
        flat = f.flatten(1)
        for i, j in itertools.combinations(range(flat.shape[0]), 2):
            total = total - (flat[i] - flat[j]).abs().mean()
    s = len(features)
    return total * (2.0 / (s * (s - 1))) if s > 1 else total


@pytest.mark.parametrize("batch", [1, 2, 4, 5])
@pytest.mark.parametrize("channels_last", [False, True])
def test_diversity_regularisation_matches_pair_loop(batch, channels_last):
    gen = torch.Generator().manual_seed(batch)
    shapes = [(batch, 8, 3, 5), (batch, 4, 6, 10), (batch, 2, 12, 20)]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    feats = [torch.randn(s, generator=gen).contiguous(memory_format=fmt).requires_grad_() for s in shapes]
    ref_feats = [f.detach().clone().requires_grad_() for f in feats]
    value = diversity_regularisation(feats)
    expected = reference_diversity(ref_feats)
    if batch == 1:
        assert float(value) == 0.0
        return
    torch.testing.assert_close(value, expected)
    value.backward()
    expected.backward()
    for f, r in zip(feats, ref_feats):
        torch.testing.assert_close(f.grad, r.grad)


@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (1, 4, 7, 5)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_avg_pool2x2_matches_stock_forward_and_backward(shape, channels_last):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(shape).contiguous(memory_format=fmt).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = avg_pool2x2(x), F.avg_pool2d(x_ref, 2)
    torch.testing.assert_close(y, y_ref)
    g = torch.randn(y.shape)
    y.backward(g)
    y_ref.backward(g)
    torch.testing.assert_close(x.grad, x_ref.grad)


@pytest.mark.parametrize("channels_last", [False, True])
def test_add_upsampled_matches_interpolate_then_add(channels_last):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    h = torch.randn(2, 3, 8, 6).contiguous(memory_format=fmt)
    s = torch.randn(2, 3, 4, 3).contiguous(memory_format=fmt)
    expected = h + F.interpolate(s, scale_factor=2, mode="nearest")
    torch.testing.assert_close(add_upsampled_(h, s), expected)
    torch.testing.assert_close(h, expected)  # in place


def test_frozen_generator_matches_eval_generator():
    g = Generator((2, 4), 4, 3, ch=8).eval()
    z = torch.randn(3, 64, 1, 1)
    with torch.no_grad():
        before = g(z)
    g.train().freeze()  # as after loading a checkpoint: freeze() must not run spectral norm's training-mode update
    assert not any(p.requires_grad for p in g.parameters())
    with torch.no_grad():
        after = g(z)
    for a, b in zip(before.images, after.images):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(before.mask, after.mask, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("num_classes", [3, None])
def test_generator_from_trained_equals_loading_then_freezing(num_classes):
    trained = Generator((2, 4), 3, num_classes, ch=8, norm="batch")
    with torch.no_grad():
        trained(torch.randn(4, 64, 1, 1))  # training mode: moves spectral norm's vectors and the batch statistics
    state = trained.state_dict()
    reference = Generator((2, 4), 3, num_classes, ch=8, norm="batch")
    reference.load_state_dict(state)
    reference.freeze()
    built = Generator.from_trained(state, (2, 4), 3, num_classes, ch=8, norm="batch")
    assert not built.training and not any(p.requires_grad for p in built.parameters())
    assert not any(t.is_meta for t in itertools.chain(built.parameters(), built.buffers()))
    expected = dict(itertools.chain(reference.named_parameters(), reference.named_buffers()))
    got = dict(itertools.chain(built.named_parameters(), built.named_buffers()))
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        assert torch.equal(got[name], tensor), name  # bit for bit: the same arithmetic as the parametrization
    z = torch.randn(2, 64, 1, 1)
    with torch.inference_mode():
        a, b = reference(z, all_scales=False), built(z, all_scales=False)
    assert torch.equal(a.images[-1], b.images[-1])
    assert (a.mask is None) == (b.mask is None) and (a.mask is None or torch.equal(a.mask, b.mask))


def test_generator_without_autograd_computes_the_same_in_place():
    g = Generator((2, 4), 3, 3, ch=8).eval()
    z = torch.randn(2, 64, 1, 1)
    recorded = g(z)  # autograd records: block inputs are kept
    with torch.no_grad():
        in_place = g(z)  # block inputs are overwritten by their leaky ReLU once the shortcut has read them
    for a, b in zip(
        recorded.images + recorded.features + [recorded.mask], in_place.images + in_place.features + [in_place.mask]
    ):
        torch.testing.assert_close(a.detach(), b, rtol=0, atol=0)


@pytest.mark.parametrize("channels_last", [False, True])
def test_class_ids_is_argmax_with_first_index_on_ties(channels_last):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    scores = torch.randint(0, 3, (2, 5, 16, 24)).float().contiguous(memory_format=fmt)  # many ties
    assert torch.equal(class_ids(scores), scores.argmax(1))
    probs = torch.softmax(torch.randn(2, 4, 16, 24), 1).contiguous(memory_format=fmt)
    assert torch.equal(class_ids(probs), probs.argmax(1))


def test_batched_overlay_blends_foreground_only():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    ids = rng.integers(0, 4, (3, 8, 10)).astype(np.uint8)
    batch = overlay(images, ids)
    for i in range(3):
        single = overlay(images[i], ids[i])
        np.testing.assert_array_equal(batch[i], single)
        bg = ids[i] == 0
        np.testing.assert_array_equal(single[bg], images[i][bg])
        expected = np.round(0.55 * images[i][~bg].astype(np.float32) + 0.45 * palette()[ids[i][~bg]]).astype(np.uint8)
        assert np.abs(single[~bg].astype(int) - expected).max() <= 1
