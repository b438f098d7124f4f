"""The fast path computes the same thing as the plain eager implementation."""

import shutil

import pytest
import torch
from helpers import TINY

from osmis_core.config import OsmisConfig
from osmis_core.devices import autocast_dtype
from osmis_core.training.bench import VARIANTS
from osmis_core.training.trainer import Trainer, load_data_for


def _run(scene, variant, steps=3):
    config = OsmisConfig().replace(**{**TINY, **VARIANTS[variant]})
    data = load_data_for(config, scene, None, torch.device("cpu"))
    trainer = Trainer(config, data)
    losses = [trainer.train_step() for _ in range(steps)]
    z = torch.randn(4, TINY["noise_dim"], 1, 1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        sample = trainer.generator_ema(z)
    return losses, sample


def _assert_same_run(scene, reference: str, variant: str, rtol: float, atol: float) -> None:
    """Losses of every iteration and the EMA generator's samples agree between two variants."""
    ref_losses, ref_sample = _run(scene, reference)
    losses, sample = _run(scene, variant)
    for a, b in zip(ref_losses, losses):
        for key in a.terms:
            assert torch.allclose(a.terms[key], b.terms[key], rtol=rtol, atol=atol), key
    for x, y in zip(ref_sample.images, sample.images):
        assert torch.allclose(x, y, atol=10 * atol)
    assert torch.allclose(ref_sample.mask, sample.mask, atol=10 * atol)


def test_fast_and_eager_agree(scene):
    _assert_same_run(scene, "eager", "fast", rtol=1e-4, atol=1e-5)


def test_bf16_autocast_runs_and_stays_close(scene):
    fp32_losses, _ = _run(scene, "fast", steps=2)
    bf16_losses, _ = _run(scene, "bf16", steps=2)
    for a, b in zip(fp32_losses, bf16_losses):
        assert torch.isfinite(b.terms["g_total"]) and torch.isfinite(b.terms["d_total"])
        assert abs(float(a.terms["d_total"]) - float(b.terms["d_total"])) < 0.05


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cpu) in (None, torch.bfloat16)


@pytest.mark.parametrize(
    "variant,flags", [("eager", ["--same-process"]), pytest.param("fast", ["--rounds", "2"], marks=pytest.mark.slow)]
)
def test_bench_command(scene, tmp_path, variant, flags, capsys):
    from osmis_core.cli import main

    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                str(scene),
                "--variant",
                variant,
                "--iters",
                "1",
                "--warmup",
                "0",
                "--json-out",
                str(out),
                "--max-size",
                "96",
                "--ch-g",
                "4",
                "--ch-d",
                "4",
                "--batch-size",
                "2",
                "--device",
                "cpu",
                *flags,
            ]
        )
        == 0
    )
    import json

    result = json.loads(out.read_text())[0]
    assert result["variant"] == variant and result["median_s_per_iter"] > 0 and result["peak_rss_mb"] > 0
    assert result["isolated"] == ("--same-process" not in flags)
    assert result["rounds"] == (2 if "--rounds" in flags else 1)
    assert "150k-iteration run" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(
    not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile on the CPU needs a C++ compiler"
)
def test_compiled_path_agrees_with_fast(scene):
    """torch.compile of G and of D's low-level part: the same losses and samples (one compile, ~20 s on 2 cores)."""
    _assert_same_run(scene, "fast", "compile", rtol=1e-3, atol=1e-4)
