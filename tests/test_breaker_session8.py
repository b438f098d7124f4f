"""Breaker session 8 (today's changes: R1 --r1-gamma/--r1-every, the learning-rate schedule --lr-decay-from,
`osmis run --checkpoint`, Renderer.fit_layout of boolean maps): one small test per finding (tiny settings, CPU); a
finding still open is an xfail(strict=True) test that asserts the right behaviour, so it passes once fixed."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY, run_job, tiny_flags

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import resume_training, start_training
from osmis_core.cli import main
from osmis_core.config import OsmisConfig


def _trained(scene, run, **options):
    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none", **options})
    list(start_training(config, scene, run).run())
    return run


def test_run_resume_refuses_checkpoint_best_before_training_when_the_run_keeps_none(scene, tmp_path, capsys):
    run = _trained(scene, tmp_path / "run")
    code = main(run_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--resume", "--checkpoint", "best"))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert RunFolder(run).checkpoint_steps() == [2], "trained on before refusing"
    assert len(err.splitlines()) == 1 and "--checkpoint best" in err, err


def test_run_refuses_a_step_that_training_never_saves_before_training(scene, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(run_job(scene, run, "--eval-every", "0", "--keep-best", "none", "--checkpoint", "3")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint" in err and "3" in err, err
    assert not run.exists()


def test_run_refuses_checkpoint_best_when_no_evaluation_falls_in_the_run(scene, tmp_path, capsys):
    run = tmp_path / "run"
    # keep_best at its default: a typed --keep-best with no evaluation in the run is refused by its own rule
    assert main(run_job(scene, run, "--eval-every", "10", "--checkpoint", "best")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--checkpoint best" in err, err
    assert not run.exists()


@pytest.fixture(scope="module")
def r1_run(tmp_path_factory):
    """2 tiny iterations of SIV-GAN (no masks) with R1 at every step in bf16; returns the run folder."""
    from helpers import write_scene

    root = tmp_path_factory.mktemp("r1")
    options = dict(masks=False, r1_gamma=1.0, r1_every=1, precision="bf16", keep_best="none")
    return _trained(write_scene(root), root / "run", **options)


def test_r1_in_bf16_without_masks_logs_a_positive_penalty_every_step(r1_run):
    lines = [json.loads(t) for t in (r1_run / "stats.jsonl").read_text().splitlines()]
    r1 = [line["d_r1"] for line in lines if "d_r1" in line]
    assert len(r1) == 2 and all(np.isfinite(v) and v > 0 for v in r1), r1


def test_resume_with_compile_on_an_r1_run_names_the_flag(r1_run, capsys):
    before = (r1_run / "run.json").read_bytes()
    assert main(["train", str(r1_run), "--resume", "--iters", "4", "--compile", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--compile" in err and "Traceback" not in err, err
    assert (r1_run / "run.json").read_bytes() == before


def test_resume_that_moves_the_learning_rate_schedule_says_so(scene, tmp_path):
    run = _trained(scene, tmp_path / "run", iters=4, lr_decay_from=0.5)
    scales = [json.loads(t)["lr_scale"] for t in (run / "stats.jsonl").read_text().splitlines() if "lr_scale" in t]
    assert scales[-1] == pytest.approx(0.5)  # step 3 of 4, decaying from step 2
    trainer = resume_training(run, {"iters": 8})
    list(trainer.run())
    after = [json.loads(t)["lr_scale"] for t in (run / "stats.jsonl").read_text().splitlines() if "lr_scale" in t]
    assert after[4] == pytest.approx(1.0)  # the jump itself, today's behaviour
    log = (run / "log.txt").read_text()
    assert "lr_scale" in log or "learning-rate schedule" in log, log


def test_tensorboard_does_not_file_lr_scale_under_augmentation(scene, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = _trained(scene, tmp_path / "run", iters=4, lr_decay_from=0.5, tensorboard=True)
    tags = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0}).Reload().Tags()["scalars"]
    assert any(t.endswith("lr_scale") for t in tags), tags
    assert "augmentation/lr_scale" not in tags, tags


def test_a_schedule_that_decays_no_step_is_not_silently_accepted(scene, tmp_path, capsys):
    run = tmp_path / "run"
    flags = tiny_flags(iters=4, eval_every=0, keep_best="none")
    code = main(["train", str(scene), "--out", str(run), "--quiet", "--lr-decay-from", "0.9", *flags])
    err = capsys.readouterr().err
    if code == 0:  # accepted: then training must have decayed, or said it would not
        scales = [json.loads(t)["lr_scale"] for t in (run / "stats.jsonl").read_text().splitlines()]
        assert min(scales) < 1.0 or "--lr-decay-from" in err, (scales, err)
    else:
        assert code == 2 and "--lr-decay-from" in err, err


ROOT = Path(__file__).resolve().parents[1]


def test_readme_documents_r1_and_the_learning_rate_schedule():
    readme = (ROOT / "README.md").read_text()
    for word in ("--r1-gamma", "--r1-every", "--lr-decay-from", "lr_scale", "d_r1"):
        assert word in readme, word


def test_model_doc_describes_r1_on_one_score_per_image():
    doc = (ROOT / "docs" / "model.md").read_text()
    r1 = doc[doc.index("- **R1**") : doc.index("- **Learning-rate schedule**")]
    assert "per image" in r1 or "each image" in r1 or "one score" in r1, r1


def test_fit_layout_reads_a_boolean_map_as_classes_0_and_1_and_refuses_one_class(tiny_renderer_run):
    from osmis_core.application.render import load_renderer
    from osmis_core.errors import DataError

    renderer = load_renderer(tiny_renderer_run[0])
    h, w = renderer.size
    layout = np.zeros((h, w), bool)
    layout[:, : w // 3] = True
    ids = renderer.fit_layout(layout)
    assert ids.dtype == np.int64 and set(np.unique(ids)) == {0, 1}
    assert np.array_equal(ids == 1, layout)
    with pytest.raises(DataError, match="single class"):
        renderer.fit_layout(np.ones((h, w), bool))
