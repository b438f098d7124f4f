"""The renderer's networks, noise maps and config (docs/renderer.md sections 2-3)."""

import numpy as np
import pytest
import torch

from osmis_core.config import RENDERER_DEFAULTS, build_config
from osmis_core.errors import ConfigError
from osmis_core.models.renderer import (
    RendererDiscriminator,
    RendererGenerator,
    count_parameters,
    instance_labels,
    noise_map,
    recommend_renderer,
    refresh_batch_norm,
    resample_noise,
)


def test_reference_parameter_counts():
    """docs/renderer.md section 7 at 256x512, K = 3: ch 32 / hidden 64 = 18.0 M, ch 16 / hidden 32 = 4.7 M;
    half-width D 5.6 M."""
    a = recommend_renderer(512, 256, 512)
    assert (a.height, a.width, a.num_blocks) == (256, 512, 6)
    assert round(count_parameters(RendererGenerator(3, a.num_blocks, 32, 64)) / 1e6, 1) == 18.0
    assert round(count_parameters(RendererGenerator(3, a.num_blocks, 16, 32)) / 1e6, 1) == 4.7
    assert round(count_parameters(RendererDiscriminator(3, a.num_down, 64)) / 1e6, 1) == 5.6


@pytest.mark.parametrize(
    "size,expect", [((512, 256), (256, 512, 6)), ((100, 75), (64, 96, 5)), ((48, 32), (32, 48, 3))]
)
def test_training_size_rule(size, expect):
    a = recommend_renderer(*size, max_size=512)
    assert (a.height, a.width, a.num_blocks) == expect
    assert 4 <= min(a.height, a.width) / 2 ** (a.num_blocks - 1) <= 8
    assert a.height % a.multiple == 0 and a.width % a.multiple == 0


def test_too_small_is_refused():
    with pytest.raises(ConfigError, match="too small"):
        recommend_renderer(20, 10, 512, num_blocks=5)


def test_shapes():
    g = RendererGenerator(4, 3, ch=4, hidden=8, z_dim=8)
    d = RendererDiscriminator(4, 3, ch=4)
    layout = torch.nn.functional.one_hot(torch.randint(4, (2, 32, 48)), 4).permute(0, 3, 1, 2).float()
    img, feats = g(layout, torch.randn(2, 8, 32, 48), features=True)
    assert img.shape == (2, 3, 32, 48) and img.abs().max() <= 1
    assert len(feats) == 3 and feats[-1].shape == (2, 4, 32, 48)
    # the diversity regulariser's features are tanh of the block outputs, as in OSMIS: bounded, so the
    # regulariser cannot outgrow the adversarial loss
    assert all(f.abs().max() < 1 for f in feats)
    assert d(img).shape == (2, 5, 32, 48)
    with pytest.raises(ValueError):
        g(layout[..., :30], torch.randn(2, 8, 32, 30))


def test_instance_labels_8_connected_and_raster_ordered():
    ids = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [2, 0, 0, 1], [2, 0, 1, 1]])
    inst, n = instance_labels(ids)
    # class 0 is one component (8-connected around the diagonal of 1s? no: the 1s cut it), the 1s form one diagonal
    # chain, the 2s one; numbering follows the first pixel in raster order
    assert inst[0, 0] == 0 and inst[0, 1] == 1
    assert len({inst[0, 1], inst[1, 2], inst[2, 3], inst[3, 2]}) == 1  # diagonal neighbours join (8-connectivity)
    assert inst[2, 0] == inst[3, 0] != inst[0, 0]
    assert n == inst.max() + 1


def test_noise_modes_and_resampling():
    ids = np.zeros((8, 8), np.int64)
    ids[2:5, 2:5] = 1
    zg = noise_map(ids, 4, 7, "global")
    assert torch.equal(zg, noise_map(ids, 4, 7, "global")) and not torch.equal(zg, noise_map(ids, 4, 8, "global"))
    assert torch.equal(zg[:, 0, 0], zg[:, 7, 7])
    zi = noise_map(ids, 4, 7, "instance")
    assert torch.equal(zi[:, 3, 3], zi[:, 2, 4]) and not torch.equal(zi[:, 3, 3], zi[:, 0, 0])
    region = torch.from_numpy(ids == 1)
    z2 = resample_noise(zg, noise_map(ids, 4, 9, "global"), region)
    assert torch.equal(z2[:, 0, 0], zg[:, 0, 0]) and not torch.equal(z2[:, 3, 3], zg[:, 3, 3])
    with pytest.raises(ConfigError):
        noise_map(ids, 4, 7, "pixel")


def test_batch_norm_refresh_changes_only_statistics():
    g = RendererGenerator(2, 2, ch=2, hidden=4, z_dim=2)
    layout = torch.zeros(2, 2, 8, 8)
    layout[:, 0] = 1
    before = {k: v.clone() for k, v in g.state_dict().items()}
    refresh_batch_norm(g, [(layout, torch.randn(2, 2, 8, 8)) for _ in range(3)])
    after = g.state_dict()
    assert not g.training
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("running" in k or "num_batches" in k for k in changed)


def test_config_renderer_defaults_and_presets():
    c = build_config(overrides={"model": "renderer"})
    assert c.model == "renderer"
    assert all(c.flat()[k] == v for k, v in RENDERER_DEFAULTS.items())
    assert c.renderer.lambda_labelmix == 10 and c.regularisation.lambda_dr == 0.15
    quick_r, quick_o = build_config("quick", overrides={"model": "renderer"}), build_config("quick")
    assert quick_o.model == "osmis" and quick_o.data.max_size == 160 and quick_o.optimisation.lr_d == 2e-4
    assert quick_r.optimisation.lr_d == 4e-4  # renderer runs keep their own lr_d
    assert quick_r.data.max_size < quick_o.data.max_size
    assert build_config("quick", overrides={"model": "renderer", "lr_d": 1e-3}).optimisation.lr_d == 1e-3


def test_spatial_noise_channels_vary_per_pixel_and_keep_the_rest():
    ids = np.zeros((6, 8), np.int64)
    ids[2:4, 2:5] = 1
    plain = noise_map(ids, 6, 3, "global")
    mixed = noise_map(ids, 6, 3, "global", spatial=2)
    # the first z_dim - spatial channels are the spec's map, drawn first from the same seed
    assert torch.equal(mixed[:4], plain[:4])
    # the spatial channels differ from pixel to pixel, and are re-made exactly from the seed
    assert mixed[4:].flatten(1).std(1).min() > 0.5
    assert torch.equal(mixed, noise_map(ids, 6, 3, "global", spatial=2))
    inst = noise_map(ids, 6, 3, "instance", spatial=2)
    assert torch.equal(inst[:4, 0, 0], inst[:4, 5, 7]) and not torch.equal(inst[4:, 0, 0], inst[4:, 5, 7])
    with pytest.raises(ConfigError):
        noise_map(ids, 6, 3, "global", spatial=7)


def test_noise_spatial_is_at_most_noise_dim():
    with pytest.raises(ConfigError, match="--noise-spatial .* --noise-dim"):
        build_config(overrides={"model": "renderer", "noise_dim": 8, "noise_spatial": 9})
