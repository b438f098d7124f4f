"""Breaker session 6 (issue 16: training metrics, the best checkpoint, health checks, adaptive augmentation,
TensorBoard, the latent walk): one small test per finding (tiny settings, CPU); a finding still open is an
xfail(strict=True) test that asserts the right behaviour, so it passes once the finding is fixed."""

import json
import os

import pytest
from helpers import TINY, CollapseOnceAt, tiny_flags, write_scene

from osmis_core.application.session import resume_training, start_training
from osmis_core.cli import main
from osmis_core.config import OsmisConfig
from osmis_core.events import HealthEvent, RolledBack
from osmis_core.training.health import DiversityCollapse


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def rolled_back_run(tmp_path_factory):
    """8 iterations with a collapse at the evaluation of step 4: rolled back to step 2 (lr_d halved to 1e-4), then
    trained to the end. Returns (run folder, events)."""
    root = tmp_path_factory.mktemp("rollback")
    config = OsmisConfig().replace(
        **{**TINY, "iters": 8, "eval_every": 4, "on_collapse": "rollback", "tensorboard": _has_tensorboard()}
    )
    trainer = start_training(config, write_scene(root), root / "run")
    trainer.monitor.health.collapse = CollapseOnceAt(4)
    events = list(trainer.run())
    assert [(e.step, e.to_step) for e in events if isinstance(e, RolledBack)] == [(4, 2)]
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(1e-4)
    return root / "run", events


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """2 tiny iterations with an evaluation at step 2: a run with checkpoints/best.pt."""
    root = tmp_path_factory.mktemp("tiny")
    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 2})
    list(start_training(config, write_scene(root), root / "run").run())
    assert (root / "run" / "checkpoints" / "best.pt").is_file()
    return root / "run"


def test_resume_after_a_rollback_keeps_the_halved_discriminator_rate(rolled_back_run):
    run, _ = rolled_back_run
    assert json.loads((run / "run.json").read_text())["rollbacks"][0]["lr_d"] == pytest.approx(1e-4)
    trainer = resume_training(run, {"iters": 10})
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(1e-4)  # not back to 2e-4, the rate that collapsed


def test_stats_keep_the_health_line_of_the_collapse_that_was_rolled_back(rolled_back_run):
    run, events = rolled_back_run
    assert any(isinstance(e, HealthEvent) and e.kind == "diversity_collapse" for e in events)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    health = [(r["step"], r["kind"], r["action"]) for r in rows if r.get("event") == "health"]
    assert (4, "diversity_collapse", "rollback") in health


def test_tensorboard_has_each_step_once_after_a_rollback(rolled_back_run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = rolled_back_run
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    assert [e.step for e in acc.Scalars("loss/g_total")] == list(range(1, 9))


def test_the_progress_line_shows_the_final_evaluation(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", str(write_scene(tmp_path)), "--out", str(run), "--iters", "4", *tiny_flags(eval_every=4)]) == 0
    )
    err = capsys.readouterr().err
    (last,) = [json.loads(r) for r in (run / "stats.jsonl").read_text().splitlines() if '"event": "eval"' in r]
    assert f"div={last['diversity']:.3f}" in err, err[-600:]


def test_animate_a_huge_frame_count_is_one_sentence(tiny_run, tmp_path, capsys):
    out = tmp_path / "walk.mp4"
    assert main(["animate", str(tiny_run), "--out", str(out), "--frames", str(10**12), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "--frames" in err and err.count("\n") == 1 and not out.exists()


def test_animate_a_seed_beyond_64_bits_is_one_sentence_or_works(tiny_run, tmp_path, capsys):
    out = tmp_path / "walk.mp4"
    code = main(["animate", str(tiny_run), "--out", str(out), "--frames", "2", "--seed", str(2**64), "--device", "cpu"])
    assert code == 0 or (code == 2 and "--seed" in capsys.readouterr().err and not out.exists())


def test_adaptive_augmentation_without_augmentation_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", str(write_scene(tmp_path)), "--out", str(run), "--iters", "1", "--quiet", *tiny_flags()]
    assert main([*args, "--no-augment", "--p-aug", "adaptive"]) == 2
    err = capsys.readouterr().err
    assert "augment" in err and "adaptive" in err and err.count("\n") == 1
    assert not run.exists()


def test_a_real_sifid_is_not_compared_with_a_kept_proxy_value():
    from osmis_core.training.monitor import BestTracker

    # best.json of a run trained without the Inception weights; resumed once they are in the torch hub cache
    kept = {"step": 100, "metric": "sifid", "key": "sifid_proxy", "value": 0.2}
    assert BestTracker("sifid", kept).improves({"sifid": 1.5, "diversity": 0.5})  # another statistic: a new series
    # and the other way round (weights removed): the first proxy value starts a new series too
    kept = {"step": 100, "metric": "sifid", "key": "sifid", "value": 0.2}
    assert BestTracker("sifid", kept).improves({"sifid_proxy": 1.5, "diversity": 0.5})


def test_the_apps_latent_walk_from_the_best_checkpoint(tiny_run):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from osmis_gui import jobs

    walk = jobs.animate(str(tiny_run), 0, "best", "cpu")  # the app's job: Progress per batch of frames, then the path
    while True:
        try:
            next(walk)
        except StopIteration as end:
            path = end.value
            break
    assert "step_" in os.path.basename(path) and os.path.getsize(path) > 0


def test_a_damaged_best_checkpoint_is_one_plain_sentence(tiny_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "checkpoints" / "best.pt").write_bytes(os.urandom(4000))
    out = tmp_path / "g"
    assert main(["generate", str(run), "--checkpoint", "best", "--n", "1", "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "best.pt" in err and err.count("\n") == 1 and not out.exists()
    assert "torch.save" not in err  # torch's advice to whoever saved the file, cut at 120 characters


def _always_collapsing(monkeypatch):
    import osmis_core.training.monitor as monitor

    monkeypatch.setattr(monitor, "DiversityCollapse", lambda: DiversityCollapse(1e9, patience=1, after_healthy=False))


def test_run_stopped_by_a_health_check_says_so(tmp_path, capsys, monkeypatch):
    _always_collapsing(monkeypatch)
    run = tmp_path / "run"
    flags = tiny_flags(eval_every=4, bernoulli_warmup=0)
    args = ["run", str(write_scene(tmp_path)), "--out", str(run), "--iters", "6", "--n", "2", "--quiet", *flags]
    code = main([*args, "--on-collapse", "stop"])
    err = capsys.readouterr().err
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.pt")) == ["step_0000002.pt"]  # 4 not saved
    assert code not in (0, 130)  # not a success, and not the code of a Ctrl-C
    assert "(checkpoint saved)" not in err and "diversity collapse" in err


def test_train_stopped_by_a_health_check_is_not_a_success(tmp_path, capsys, monkeypatch):
    _always_collapsing(monkeypatch)
    run = tmp_path / "run"
    flags = tiny_flags(eval_every=4, bernoulli_warmup=0)
    code = main(
        [
            "train",
            str(write_scene(tmp_path)),
            "--out",
            str(run),
            "--iters",
            "6",
            "--quiet",
            *flags,
            "--on-collapse",
            "stop",
        ]
    )
    err = capsys.readouterr().err
    # as a NaN stops a run (exit 2, README): the step, and the checkpoint that stays latest
    assert code == 2 and "step 4" in err and "step_0000002.pt" in err


def test_keep_best_with_evaluations_off_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", str(write_scene(tmp_path)), "--out", str(run), "--iters", "2", "--quiet"]
    assert main([*args, *tiny_flags(eval_every=0, keep_best="diversity")]) == 2
    err = capsys.readouterr().err
    assert "--keep-best" in err and "--eval-every" in err and err.count("\n") == 1
    assert not run.exists()


def test_an_ada_option_without_adaptive_augmentation_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", str(write_scene(tmp_path)), "--out", str(run), "--iters", "2", "--quiet"]
    assert main([*args, *tiny_flags(ada_target=0.9)]) == 2  # as --eval-every with --model renderer is
    err = capsys.readouterr().err
    assert "--ada-target" in err and "adaptive" in err and err.count("\n") == 1
    assert not run.exists()


def test_the_faulty_state_of_a_health_stop_is_not_kept_as_best(tmp_path):
    config = OsmisConfig().replace(**{**TINY, "iters": 6, "eval_every": 4, "on_collapse": "stop"})
    trainer = start_training(config, write_scene(tmp_path), tmp_path / "run")
    trainer.monitor.health.collapse = DiversityCollapse(1e9, patience=1, after_healthy=False)
    events = list(trainer.run())
    assert [(e.step, e.action) for e in events if isinstance(e, HealthEvent)] == [(4, "stop")]
    assert trainer.folder.checkpoint_steps() == [2]  # README: stop ends the run without saving the faulty state
    best = trainer.folder.read_best()
    assert best is None or best["step"] != 4  # ... nor as the best checkpoint that `--checkpoint best` uses


class _ScriptedDiversity(DiversityCollapse):
    """The default collapse detector fed a scripted pixel diversity: healthy at step 2, collapsed from step 4 on."""

    def update(self, step, diversity):
        return super().update(step, 1.0 if step <= 2 else 0.0)


def test_a_collapse_that_began_before_a_resume_is_still_found(tmp_path, monkeypatch):
    import osmis_core.training.monitor as monitor

    monkeypatch.setattr(monitor, "DiversityCollapse", _ScriptedDiversity)
    options = {**TINY, "eval_every": 2, "bernoulli_warmup": 0, "checkpoint_every": 4}
    trainer = start_training(OsmisConfig().replace(**options, iters=4), write_scene(tmp_path), tmp_path / "run")
    first = [e for e in trainer.run() if isinstance(e, HealthEvent) and e.kind == "diversity_collapse"]
    assert first == []  # step 4 is the first faulty evaluation: not yet two in a row
    resumed = resume_training(tmp_path / "run", {"iters": 8})
    later = [e.step for e in resumed.run(resumed=True) if isinstance(e, HealthEvent) and e.kind == "diversity_collapse"]
    assert later and later[0] <= 8  # uninterrupted, the run reports it at step 6 (steps 4 and 6 in a row)


def test_p_aug_adaptive_with_no_ada_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", str(write_scene(tmp_path)), "--out", str(run), "--iters", "1", "--quiet", *tiny_flags()]
    assert main([*args, "--p-aug", "adaptive", "--no-ada"]) == 2
    err = capsys.readouterr().err
    assert "--p-aug adaptive" in err and "--no-ada" in err and err.count("\n") == 1
    assert not run.exists()
