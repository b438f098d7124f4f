"""The LeCam regulariser (--lecam-weight, --lecam-decay; Tseng et al. 2021), an issue 16 ablation beyond the paper's
recipe: its value, its anchors, its place in training and in checkpoints (tiny models on CPU)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from helpers import TINY, tiny_flags

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import start_training
from osmis_core.cli import main
from osmis_core.config import OsmisConfig, build_config
from osmis_core.errors import ConfigError
from osmis_core.training.bench import VARIANTS
from osmis_core.training.trainer import LeCamAnchors, Trainer, lecam_penalty, load_data_for


def _trainer(scene, **options) -> Trainer:
    config = OsmisConfig().replace(**{**TINY, **options})
    return Trainer(config, load_data_for(config, scene, None, torch.device("cpu")))


def test_lecam_penalty_of_two_maps_by_hand():
    # map 1: logits 1, 3 (two images, one patch) against anchor 2 -> (1 + 1) / 2 = 1
    # map 2: a 2 x 2 patch map of one image, logits 0, 0, 0, 4 against anchor -1 -> (1 + 1 + 1 + 25) / 4 = 7
    maps = [torch.tensor([1.0, 3.0]).view(2, 1, 1, 1), torch.tensor([0.0, 0.0, 0.0, 4.0]).view(1, 1, 2, 2)]
    assert lecam_penalty(maps, torch.tensor([2.0, -1.0])).item() == pytest.approx((1 + 7) / 2)


def test_lecam_anchors_move_towards_each_passs_mean_output():
    anchors = LeCamAnchors(decay=0.5)
    maps = [torch.full((2, 1, 3, 3), 2.0), torch.full((2, 1, 1, 1), -4.0)]
    anchors.update(maps, real=True)
    assert anchors.real.tolist() == [1.0, -2.0] and anchors.fake.tolist() == [0.0, 0.0]  # from 0, half-way
    anchors.update(maps, real=True)
    anchors.update([torch.full((2, 1, 3, 3), 8.0), torch.zeros(2, 1, 1, 1)], real=False)
    assert anchors.real.tolist() == [1.5, -3.0] and anchors.fake.tolist() == [4.0, 0.0]


def test_lecam_weight_0_trains_exactly_as_without_it(scene):
    plain, off = _trainer(scene), _trainer(scene, lecam_weight=0.0)
    for _ in range(3):
        a, b = plain.train_step(), off.train_step()
        assert a.terms.keys() == b.terms.keys() and "d_lecam" not in b.terms
        assert all(torch.equal(a.terms[k], b.terms[k]) for k in a.terms)
    assert off.lecam is None and off.state_dict()["lecam"] is None


def test_lecam_changes_only_ds_loss_and_draws_no_randomness(scene):
    """The first generator step (before any D update) is the same with and without LeCam, and the random stream
    is where it would be: the regulariser only adds to D's loss."""
    plain, lecam = _trainer(scene), _trainer(scene, lecam_weight=0.3)
    a, b = plain.train_step(), lecam.train_step()
    assert all(torch.equal(a.terms[k], b.terms[k]) for k in a.terms if k.startswith("g_"))
    assert torch.equal(plain.rng.get_state(), lecam.rng.get_state())
    assert b.terms["d_lecam"] > 0 and b.terms["d_total"] != a.terms["d_total"]
    # two anchors per real/fake map (low-level and layout: the scene has masks), moved from 0 by 1 - decay
    assert lecam.lecam.real.shape == lecam.lecam.fake.shape and lecam.lecam.real.abs().min() > 0


def test_lecam_is_logged_per_step_and_resume_continues_its_anchors(scene, tmp_path):
    """4 iterations straight == 2 + resume + 2: the same losses (d_lecam included) and anchors."""
    flags = [*tiny_flags(checkpoint_every=100, preview_every=100), "--lecam-weight", "0.3", "--quiet"]
    assert main(["train", str(scene), "--out", str(tmp_path / "a"), "--iters", "4", *flags]) == 0
    assert main(["train", str(scene), "--out", str(tmp_path / "b"), "--iters", "2", *flags]) == 0
    assert main(["train", str(tmp_path / "b"), "--resume", "--iters", "4", "--quiet"]) == 0
    sa, sb = RunFolder(tmp_path / "a").read_stats(), RunFolder(tmp_path / "b").read_stats()
    assert [r["step"] for r in sb] == [1, 2, 3, 4] and all(r["d_lecam"] > 0 for r in sa), sa
    for key in ("d_lecam", "d_total", "g_total"):
        assert np.allclose([r[key] for r in sa], [r[key] for r in sb], atol=1e-5), key
    la = RunFolder(tmp_path / "a").load_checkpoint(4)["lecam"]
    lb = RunFolder(tmp_path / "b").load_checkpoint(4)["lecam"]
    assert all(torch.allclose(la[k], lb[k], atol=1e-6) for k in ("real", "fake"))


def test_a_checkpoint_without_anchors_loads_them_at_0(scene, tmp_path):
    trainer = start_training(build_config(overrides={**TINY, "iters": 2, "lecam_weight": 0.3}), scene, tmp_path / "r")
    list(trainer.run())
    state = RunFolder(tmp_path / "r").load_checkpoint(2)
    del state["lecam"]  # as an earlier version saved it
    again = _trainer(scene, iters=2, lecam_weight=0.3)
    again.train_step()  # anchors of its own, which the load replaces (as a rollback's does)
    again.load_state_dict(state)
    assert again.step == 2 and again.lecam.real is None and again.lecam.fake is None
    assert again.train_step().terms["d_lecam"] > 0


def test_loading_a_checkpoint_restores_its_anchors(scene):
    """What a rollback to an earlier checkpoint relies on: the anchors go back with the weights."""
    trainer = _trainer(scene, lecam_weight=0.3)
    trainer.train_step()
    state = trainer.state_dict()
    saved = {k: v.clone() for k, v in state["lecam"].items()}
    trainer.train_step()
    assert not torch.equal(trainer.lecam.real, saved["real"])
    trainer.load_state_dict(state)
    assert torch.equal(trainer.lecam.real, saved["real"]) and torch.equal(trainer.lecam.fake, saved["fake"])


def test_without_masks_the_content_logit_is_regularised_too(scene):
    """SIV-GAN (masks off): D's content outputs (one per block after the low-level part) are real/fake logits, so
    they have their own anchors."""
    with_masks, images_only = _trainer(scene, lecam_weight=0.3), _trainer(scene, lecam_weight=0.3, masks=False)
    with_masks.train_step(), images_only.train_step()
    a = images_only.data.architecture
    assert images_only.lecam.real.numel() == with_masks.lecam.real.numel() + a.num_blocks_d - a.num_blocks_d0


def test_lecam_on_the_fast_path_agrees_with_eager(scene):
    eager = _trainer(scene, lecam_weight=0.3, **VARIANTS["eager"])
    fast = _trainer(scene, lecam_weight=0.3, **VARIANTS["fast"])
    for _ in range(3):
        a, b = eager.train_step(), fast.train_step()
        assert all(torch.allclose(a.terms[k], b.terms[k], rtol=1e-4, atol=1e-5) for k in a.terms)
    assert torch.allclose(eager.lecam.fake, fast.lecam.fake, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--lecam-decay", "0.9"], ["--lecam-decay", "--lecam-weight", "0"]),
        (["--lecam-weight", "-1"], ["--lecam-weight", "at least 0"]),
        (["--lecam-weight", "0.3", "--lecam-decay", "1"], ["--lecam-decay", "below 1"]),
        (["--lecam-weight", "0.3", "--lecam-decay", "0"], ["--lecam-decay", "above 0"]),
        (["--lecam-weight", "nan"], ["--lecam-weight", "finite"]),
    ],
)
def test_bad_lecam_options_are_refused(scene, tmp_path, capsys, flags, words):
    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--iters", "2", "--quiet", *tiny_flags(), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert not run.exists()


def test_lecam_is_refused_for_the_renderer():
    with pytest.raises(ConfigError, match="^--lecam-weight does not apply to --model renderer"):
        build_config(overrides={"model": "renderer", "lecam_weight": 0.3})


def test_lecam_weight_cannot_change_on_resume(scene, tmp_path, capsys):
    """Like R1's weight, LeCam's is part of what the run trains: a resume keeps it (RESUMABLE_OPTIONS)."""
    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--iters", "2", "--quiet", *tiny_flags()]) == 0
    capsys.readouterr()
    before = (run / "run.json").read_bytes()
    assert main(["train", str(run), "--resume", "--iters", "4", "--lecam-weight", "0.3", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--lecam-weight" in err, err
    assert (run / "run.json").read_bytes() == before


def test_lecam_takes_compile():
    """Unlike R1 (a double backward), LeCam is a few tensor ops on D's outputs: --compile is accepted with it (the
    compiled run itself: test_lecam_compiled_agrees_with_eager, slow)."""
    config = build_config(overrides={**TINY, "lecam_weight": 0.3, "compile": True})
    assert config.run.compile and config.regularisation.lecam_weight == 0.3


@pytest.mark.slow
@pytest.mark.skipif(
    not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile on the CPU needs a C++ compiler"
)
def test_lecam_compiled_agrees_with_eager(scene):
    eager, compiled = _trainer(scene, lecam_weight=0.3), _trainer(scene, lecam_weight=0.3, compile=True)
    for _ in range(3):
        a, b = eager.train_step(), compiled.train_step()
        assert torch.allclose(a.terms["d_lecam"], b.terms["d_lecam"], rtol=1e-3, atol=1e-4)
    assert torch.allclose(eager.lecam.real, compiled.lecam.real, rtol=1e-3, atol=1e-4)


def test_the_quick_lecam_recipe_is_quick_with_the_papers_weight(monkeypatch):
    from pathlib import Path

    from osmis_core.config import preset_options

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_recipes

    config = bench_recipes.recipe_config("quick-lecam", 0, "cpu", tiny=False, scale=1.0)
    assert config.regularisation.lecam_weight == 0.3 and config.regularisation.lecam_decay == 0.99
    assert config.run.iters == preset_options("quick")["iters"]


def test_readme_and_model_doc_describe_lecam():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme, model = (root / "README.md").read_text(), (root / "docs" / "model.md").read_text()
    for word in ("--lecam-weight", "--lecam-decay", "d_lecam", "Tseng", "quick-lecam"):
        assert word in readme, word
    section = model[model.index("- **LeCam**") : model.index("- **Learning-rate schedule**")]
    assert "Tseng" in section and "--lecam-weight" in section and "checkpoints" in section
