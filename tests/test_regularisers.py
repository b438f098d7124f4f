"""R1 (--r1-gamma, --r1-every) and the constant-then-linear-decay learning-rate schedule (--lr-decay-from), the
issue 16 ablations beyond the paper's recipe (tiny models on CPU)."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY, tiny_flags

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import start_training
from osmis_core.cli import main
from osmis_core.config import build_config
from osmis_core.errors import ConfigError
from osmis_core.models import DiscriminatorOutput
from osmis_core.training.trainer import lr_decay_factor, r1_penalty


def _train(scene, tmp_path, name, **options):
    trainer = start_training(build_config(overrides={**TINY, **options}), scene, tmp_path / name)
    list(trainer.run())
    return trainer


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.generator.parameters(), b.generator.parameters()))


@pytest.mark.parametrize(
    "step, iters, decay_from, factor",
    [
        (0, 100, 1.0, 1.0),  # the paper's constant rates
        (99, 100, 1.0, 1.0),
        (49, 100, 0.5, 1.0),  # constant for the first half
        (50, 100, 0.5, 1.0),
        (75, 100, 0.5, 0.5),
        (99, 100, 0.5, 0.02),
        (100, 100, 0.5, 0.0),
        (0, 100, 0.0, 1.0),  # decaying from the first step
        (25, 100, 0.0, 0.75),
    ],
)
def test_lr_decay_factor(step, iters, decay_from, factor):
    assert lr_decay_factor(step, iters, decay_from) == pytest.approx(factor)


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    # two maps of one logit per sample, a_s . x_s: the score is their mean, its input gradient a_s / 2 per scale
    a1, a2 = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 4, 4)
    x1, x2 = torch.randn(2, 3, 8, 8, requires_grad=True), torch.randn(2, 3, 4, 4, requires_grad=True)
    out = DiscriminatorOutput(
        low_level=[(x1 * a1).sum((1, 2, 3)).view(2, 1, 1, 1)],
        content=[torch.zeros(6, 4, 1, 1)],  # OSMIS's (K+1)-way class scores: not a real/fake logit, not penalised
        layout=[(x2 * a2).sum((1, 2, 3)).view(2, 1, 1, 1)],
        mask=torch.zeros(2, 3, 4, 4),
    )
    expected = (a1.pow(2).sum() + a2.pow(2).sum()) / 4
    assert r1_penalty(out, [x1, x2]).item() == pytest.approx(expected.item(), rel=1e-5)
    # without masks the content output is a real/fake logit (SIV-GAN) and is penalised too
    x3 = torch.randn(2, 3, 8, 8, requires_grad=True)
    out = DiscriminatorOutput(
        low_level=[x3.sum((1, 2, 3)).view(2, 1, 1, 1)], content=[2 * x3.sum((1, 2, 3)).view(2, 1, 1, 1)], layout=[]
    )
    assert r1_penalty(out, [x3]).item() == pytest.approx(1.5**2 * 3 * 8 * 8, rel=1e-5)
    # a patch map's score is its mean over the patches: a 2 x 2 map of x's four quarters gives a gradient of 1/4
    x4 = torch.randn(2, 3, 8, 8, requires_grad=True)
    quarters = x4.unfold(2, 4, 4).unfold(3, 4, 4).sum((1, 4, 5)).unsqueeze(1)  # B x 1 x 2 x 2
    out = DiscriminatorOutput(low_level=[quarters], content=[], layout=[], mask=torch.zeros(2, 3, 2, 2))
    assert r1_penalty(out, [x4]).item() == pytest.approx(0.25**2 * 3 * 8 * 8, rel=1e-5)


def test_r1_is_logged_per_step_and_changes_training(scene, tmp_path):
    plain = _train(scene, tmp_path, "plain", iters=4)
    r1 = _train(scene, tmp_path, "r1", iters=4, r1_gamma=10.0, r1_every=2)
    assert not _same_weights(plain, r1)
    stats = RunFolder(tmp_path / "r1").read_stats()
    # the penalty is taken at steps 0 and 2 (logged as steps 1 and 3), weighted r1_every times; 0 in between
    assert [row["d_r1"] > 0 for row in stats] == [True, False, True, False]
    assert "d_r1" not in RunFolder(tmp_path / "plain").read_stats()[0]


def test_the_learning_rate_schedule_starts_where_it_says(scene, tmp_path):
    lr_d = TINY.get("lr_d", 2e-4)
    constant = _train(scene, tmp_path, "constant", iters=4, checkpoint_every=4, preview_every=4)
    decayed = _train(scene, tmp_path, "decayed", iters=4, checkpoint_every=4, preview_every=4, lr_decay_from=0.5)
    assert not _same_weights(constant, decayed)
    # the first half trains at the constant rates: the same weights as the constant run at step 2
    constant2 = _train(scene, tmp_path, "constant2", iters=2, checkpoint_every=2, preview_every=2)
    half = start_training(build_config(overrides={**TINY, "iters": 4, "lr_decay_from": 0.5}), scene, tmp_path / "half")
    for _ in range(2):
        half.train_step()
    assert _same_weights(constant2, half)
    # the optimiser keeps the unscaled rate (what a rollback halves and a resume replaces)
    assert decayed.learning_rates()["lr_d"] == pytest.approx(lr_d)
    stats = RunFolder(tmp_path / "decayed").read_stats()
    assert [row["lr_scale"] for row in stats] == pytest.approx([1.0, 1.0, 1.0, 0.5])


def test_the_renderer_follows_the_schedule_too(scene, tmp_path):
    from test_renderer_training import TINY_RENDERER

    config = build_config(overrides={**TINY_RENDERER, "iters": 2, "lr_decay_from": 0.0})
    trainer = start_training(config, scene, tmp_path / "renderer")
    list(trainer.run())
    assert [row["lr_scale"] for row in RunFolder(tmp_path / "renderer").read_stats()] == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--r1-every", "4"], ["--r1-every", "--r1-gamma", "0"]),
        (["--r1-gamma", "1", "--compile"], ["--r1-gamma", "--compile"]),
        (["--lr-decay-from", "1.5"], ["--lr-decay-from", "at most 1"]),
        (["--r1-gamma", "-1"], ["--r1-gamma", "at least 0"]),
    ],
)
def test_r1_and_schedule_options_without_effect_or_out_of_range_are_refused(scene, tmp_path, capsys, flags, words):
    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--iters", "2", "--quiet", *tiny_flags(), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert not run.exists()


def test_r1_is_refused_for_the_renderer(scene, tmp_path, capsys):
    with pytest.raises(ConfigError, match="^--r1-gamma does not apply to --model renderer"):
        build_config(overrides={"model": "renderer", "r1_gamma": 1.0})
