"""The fast path computes the same thing as the plain eager implementation."""
import shutil

import pytest
import torch

from helpers import TINY
from osmis_core.bench import VARIANTS
from osmis_core.config import OsmisConfig
from osmis_core.trainer import Trainer, autocast_dtype, load_data_for


def _run(scene, variant, steps=3):
    config = OsmisConfig().replace(**{**TINY, **VARIANTS[variant]})
    data = load_data_for(config, scene, None, torch.device("cpu"))
    trainer = Trainer(config, data)
    losses = [trainer.train_step() for _ in range(steps)]
    z = torch.randn(4, TINY["noise_dim"], 1, 1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        sample = trainer.generator_ema(z)
    return losses, sample


def test_fast_and_eager_agree(scene):
    eager_losses, eager_sample = _run(scene, "eager")
    fast_losses, fast_sample = _run(scene, "fast")
    for a, b in zip(eager_losses, fast_losses):
        for key in a.terms:
            assert torch.allclose(a.terms[key], b.terms[key], rtol=1e-4, atol=1e-5), key
    for x, y in zip(eager_sample.images, fast_sample.images):
        assert torch.allclose(x, y, atol=1e-4)
    assert torch.allclose(eager_sample.mask, fast_sample.mask, atol=1e-4)


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


@pytest.mark.parametrize("variant,flags", [("eager", ["--same-process"]), ("fast", ["--rounds", "2"])])
def test_bench_command(scene, tmp_path, variant, flags, capsys):
    from osmis_core.cli import main
    out = tmp_path / "bench.json"
    assert main(["bench", str(scene), "--variant", variant, "--iters", "1", "--warmup", "0", "--json-out", str(out),
                 "--max-size", "96", "--ch-g", "4", "--ch-d", "4", "--batch-size", "2", "--device", "cpu",
                 *flags]) == 0
    import json
    result = json.loads(out.read_text())[0]
    assert result["variant"] == variant and result["median_s_per_iter"] > 0 and result["peak_rss_mb"] > 0
    assert result["isolated"] == ("--same-process" not in flags)
    assert result["rounds"] == (2 if "--rounds" in flags else 1)
    assert "150k-iteration run" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile on the CPU needs a C++ "
                    "compiler")
def test_compiled_path_agrees_with_fast(scene):
    """torch.compile of G and of D's low-level part: the same losses and samples (one compile, ~20 s on 2 cores)."""
    fast_losses, fast_sample = _run(scene, "fast")
    compiled_losses, compiled_sample = _run(scene, "compile")
    for a, b in zip(fast_losses, compiled_losses):
        for key in a.terms:
            assert torch.allclose(a.terms[key], b.terms[key], rtol=1e-3, atol=1e-4), key
    for x, y in zip(fast_sample.images, compiled_sample.images):
        assert torch.allclose(x, y, atol=1e-3)
