"""Section 7 of docs/model.md: the six reference cases must match exactly."""

import json

import pytest
import torch

from osmis_core.application.session import inspect_data
from osmis_core.cli import main
from osmis_core.config import OsmisConfig
from osmis_core.models import Discriminator, Generator

CASES = {
    # case: (data, masks, max_size, (H, W), noise, (n_g, n_d, n_d0), K, G params, D params)
    "a": ("example_image", True, 330, (192, 320), (3, 5), (7, 7, 3), 3, 5_887_448, 2_443_581),
    "b": ("example_image", True, 256, (128, 256), (2, 4), (7, 7, 3), 3, 5_772_760, 2_443_581),
    "c": ("example_image", True, 512, (256, 512), (2, 4), (8, 7, 4), 3, 7_025_371, 3_244_963),
    "d": ("example_image", False, 330, (192, 320), (3, 5), (7, 7, 3), None, 5_886_581, 1_256_497),
    "e": ("example_video", True, 330, (192, 320), (3, 5), (7, 7, 3), 2, 5_887_159, 2_441_785),
    "f": ("example_video", False, 330, (192, 320), (3, 5), (7, 7, 3), None, 5_886_581, 1_256_497),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_case(case, shared_data):
    data, masks, max_size, res, noise, blocks, k, params_g, params_d = CASES[case]
    report = inspect_data(shared_data / data, None, OsmisConfig().replace(max_size=max_size, masks=masks))
    assert tuple(report.resolution) == res
    assert tuple(report.noise_shape) == noise
    assert (report.num_blocks_g, report.num_blocks_d, report.num_blocks_d0) == blocks
    assert report.num_classes == k
    assert report.params_g == params_g
    assert report.params_d == params_d


def test_inspect_json_fields(shared_data, capsys):
    assert main(["inspect", str(shared_data / "example_image"), "--max-size", "256", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resolution"] == [128, 256] and report["noise_shape"] == [2, 4]
    blocks = (report["num_blocks_g"], report["num_blocks_d"], report["num_blocks_d0"], report["num_classes"])
    assert blocks == (7, 7, 3, 3)
    assert (report["params_g"], report["params_d"]) == (5_772_760, 2_443_581)


def _shapes(tensors):
    return [tuple(t.shape) for t in tensors]


@torch.no_grad()
def test_output_shapes_case_b():
    g = Generator((2, 4), 7, 3)
    out = g(torch.randn(5, 64, 1, 1))
    assert _shapes(out.images) == [(5, 3, 2 * 2**i, 4 * 2**i) for i in range(7)]
    assert [f.shape[1] for f in out.features] == [256, 256, 256, 256, 128, 64, 32]
    assert tuple(out.mask.shape) == (5, 3, 128, 256)
    d = Discriminator(7, 3, 3)
    o = d(out.images[-3:], out.mask, real=False, gen=torch.Generator().manual_seed(0))
    assert _shapes(o.low_level) == [(5, 1, 64, 128), (5, 1, 32, 64), (5, 1, 16, 32)]
    assert _shapes(o.content) == [(15, 4, 1, 1)] * 4
    assert _shapes(o.layout) == [(5, 1, 8, 16), (5, 1, 4, 8), (5, 1, 2, 4), (5, 1, 1, 2)]


@torch.no_grad()
@pytest.mark.slow
def test_output_shapes_case_c_and_d():
    g = Generator((2, 4), 8, 3)
    out = g(torch.randn(5, 64, 1, 1))
    o = Discriminator(7, 4, 3)(
        out.images[-4:], out.mask, real=True, p_con=1, p_lay=1, gen=torch.Generator().manual_seed(0)
    )
    assert _shapes(o.low_level) == [(5, 1, 128, 256), (5, 1, 64, 128), (5, 1, 32, 64), (5, 1, 16, 32)]
    assert _shapes(o.content) == [(15, 4, 1, 1)] * 3
    assert _shapes(o.layout) == [(5, 1, 8, 16), (5, 1, 4, 8), (5, 1, 2, 4)]
    g = Generator((3, 5), 7, None)
    out = g(torch.randn(5, 64, 1, 1))
    o = Discriminator(7, 3, None)(out.images[-3:], real=True, p_con=1, p_lay=1, gen=torch.Generator())
    assert _shapes(o.content) == [(5, 1, 1, 1)] * 4
    assert out.mask is None
