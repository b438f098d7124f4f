"""Health checks (training/health.py) on synthetic sequences, adaptive augmentation (training/ada.py), and the
trainer's reaction to a health alarm (--on-collapse stop / rollback) on a tiny real run."""

import json
import math
import random

import pytest
import torch
from helpers import TINY

from osmis_core.application.session import start_training
from osmis_core.config import OsmisConfig, build_config
from osmis_core.events import CheckpointSaved, HealthEvent, RolledBack, StepEval, TrainingFinished
from osmis_core.training.ada import ADJUST_EVERY, AdaptiveP, real_sign_mean
from osmis_core.training.health import DiscriminatorSpike, DiversityCollapse, EmptyMasks, NonFinite
from osmis_core.training.monitor import MAX_ROLLBACKS


def _noisy(level, spread, n, seed=0):
    rng = random.Random(seed)
    return [level + rng.uniform(-spread, spread) for _ in range(n)]


def _alarms(detector, values, *extra):
    return [(i, a) for i, v in enumerate(values) if (a := detector.update(i, v, *extra)) is not None]


def test_spike_fires_once_on_a_jump_and_stays_silent_when_healthy():
    healthy = _noisy(1.0, 0.4, 300)
    assert _alarms(DiscriminatorSpike(), healthy) == []
    slow_drift = [0.5 + 3.0 * i / 300 + v - 1.0 for i, v in enumerate(healthy)]  # D slowly gaining confidence
    assert _alarms(DiscriminatorSpike(), slow_drift) == []
    spiked = healthy[:150] + [9.0, 11.0, 10.0] + healthy[150:]
    alarms = _alarms(DiscriminatorSpike(), spiked)
    assert [i for i, _ in alarms] == [150]  # once per episode
    assert alarms[0][1].kind == "d_spike" and "step 150" in alarms[0][1].message
    again = spiked + [12.0]  # a new episode after healthy ticks
    assert [i for i, _ in _alarms(DiscriminatorSpike(), again)] == [150, len(spiked)]


def test_diversity_collapse():
    healthy = _noisy(0.3, 0.1, 50)
    assert _alarms(DiversityCollapse(), healthy) == []
    assert _alarms(DiversityCollapse(), [0.005, 0.01, 0.01] + healthy) == []  # blurred start: not a collapse
    collapsed = healthy[:10] + [0.004, 0.003, 0.002, 0.002]
    alarms = _alarms(DiversityCollapse(), collapsed)
    assert [i for i, _ in alarms] == [11]  # patience 2: the second low evaluation
    assert alarms[0][1].kind == "diversity_collapse"
    d = DiversityCollapse()
    _alarms(d, collapsed)
    assert d.active
    d.reset()
    assert not d.active and d.update(0, 0.001) is None


def test_empty_masks():
    real_largest = 0.55  # the real masks have several classes
    healthy = [[0.6, 0.7, 0.8, 0.65]] * 20
    assert _alarms(EmptyMasks(), healthy, real_largest) == []
    empty = healthy[:5] + [[0.99, 0.995, 1.0, 0.985]] * 3
    assert [i for i, _ in _alarms(EmptyMasks(), empty, real_largest)] == [6]
    one_sample_with_classes = healthy[:5] + [[0.99, 0.7, 1.0, 0.99]] * 3
    assert _alarms(EmptyMasks(), one_sample_with_classes, real_largest) == []
    assert _alarms(EmptyMasks(), empty, 0.97) == []  # the real mask is nearly one class itself


def test_nonfinite():
    check = NonFinite()
    assert check.update(3, {"g_total": 1.0, "d_total": 2.0}) is None
    alarm = check.update(7, {"g_total": math.nan, "d_total": 2.0, "d_real": math.inf})
    assert alarm.kind == "nonfinite" and "d_real, g_total" in alarm.message and "step 7" in alarm.message


def test_ada_raises_p_when_d_is_sure_of_the_reals_and_lowers_it_otherwise():
    positive = [torch.full((2, 1, 4, 4), 3.0), torch.full((2, 1, 2, 2), 0.5)]
    negative = [-m for m in positive]
    assert float(real_sign_mean(positive)) == 1.0 and float(real_sign_mean(negative)) == -1.0
    ada = AdaptiveP(0.5, target=0.6, images=800, batch_size=4)  # step: 4 * 4 / 800 = 0.02
    for _ in range(ADJUST_EVERY * 5):
        ada.observe(real_sign_mean(positive))
    assert ada.p == pytest.approx(0.6) and ada.r_t == 1.0
    for _ in range(ADJUST_EVERY * 10):
        ada.observe(real_sign_mean(negative))
    assert ada.p == pytest.approx(0.4) and ada.r_t == -1.0
    for _ in range(ADJUST_EVERY * 100):
        ada.observe(real_sign_mean(negative))
    assert ada.p == 0.0  # clamped to [0, 1]
    restored = AdaptiveP(0.7, 0.6, 800, 4)
    restored.load_state_dict(ada.state_dict())
    assert restored.p == 0.0


def test_p_aug_adaptive_is_the_ada_switch():
    c = build_config(overrides={"p_aug": "adaptive", "ada_target": 0.5})
    assert c.augmentation.ada and c.augmentation.p_aug == OsmisConfig().augmentation.p_aug
    assert not OsmisConfig().augmentation.ada  # the paper's fixed p stays the default


def _tiny_trainer(scene, tmp_path, **options):
    config = OsmisConfig().replace(**{**TINY, **options})
    return start_training(config, scene, tmp_path / "run")


def test_adaptive_p_is_logged_and_checkpointed(scene, tmp_path):
    trainer = _tiny_trainer(scene, tmp_path, iters=8, ada=True, ada_images=16, eval_every=0)
    list(trainer.run())
    rows = [r for r in trainer.folder.read_stats() if "event" not in r]
    assert all(0.0 <= r["p_aug"] <= 1.0 for r in rows)
    assert rows[-1]["p_aug"] != TINY.get("p_aug", 0.7)  # moved by 0.5 every 4 iterations
    state = trainer.folder.load_checkpoint("latest")
    assert state["ada"]["p"] == trainer.ada.p


def test_on_collapse_stop_keeps_the_faulty_state_out_of_the_checkpoints(scene, tmp_path):
    trainer = _tiny_trainer(scene, tmp_path, iters=8, eval_every=4, on_collapse="stop")
    trainer.monitor.health.collapse = DiversityCollapse(floor=1e9, patience=1, after_healthy=False)  # always faulty
    events = list(trainer.run())
    health = [e for e in events if isinstance(e, HealthEvent)]
    assert [(e.step, e.kind, e.action) for e in health] == [(4, "diversity_collapse", "stop")]
    assert isinstance(events[-1], TrainingFinished) and events[-1].stopped and events[-1].step == 4
    assert trainer.folder.checkpoint_steps() == [2]  # step 4 was not saved
    assert "health: diversity collapse at step 4" in trainer.folder.log_file.read_text()


def test_on_collapse_rollback(scene, tmp_path):
    trainer = _tiny_trainer(scene, tmp_path, iters=8, eval_every=6, on_collapse="rollback", lr_d=2e-4)
    trainer.monitor.health.collapse = DiversityCollapse(floor=1e9, patience=1, after_healthy=False)
    events = list(trainer.run())
    rolled = [e for e in events if isinstance(e, RolledBack)]
    assert [(e.step, e.to_step) for e in rolled] == [(6, 4)] * MAX_ROLLBACKS
    assert [e.lr_d for e in rolled] == pytest.approx([1e-4, 5e-5, 2.5e-5])
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(2.5e-5)
    assert events[-1].stopped and events[-1].step == 6  # a fourth fault: no more rollbacks, stop
    assert f"{MAX_ROLLBACKS} rollbacks made already; stopping at step 6" in trainer.folder.log_file.read_text()
    info = json.loads(trainer.folder.run_json.read_text())
    assert [r["to_step"] for r in info["rollbacks"]] == [4] * MAX_ROLLBACKS
    assert trainer.folder.log_file.read_text().count("rollback at step 6 to checkpoint step 4") == MAX_ROLLBACKS
    assert max(r["step"] for r in trainer.folder.read_stats()) == 6
    assert sum(isinstance(e, CheckpointSaved) and e.step == 4 for e in events) == 1


def test_eval_rows_best_checkpoint_and_generate_best(scene, tmp_path):
    from osmis_core.cli import main

    trainer = _tiny_trainer(scene, tmp_path, iters=6, eval_every=3, keep_checkpoints=1)
    events = list(trainer.run())
    evals = [e for e in events if isinstance(e, StepEval)]
    assert [e.step for e in evals] == [3, 6]
    assert {"diversity", "mask_shares", "sifid_proxy"} <= set(evals[0].metrics)
    assert 0.0 <= evals[0].metrics["mask_shares"] <= 1.0 and evals[0].metrics["diversity"] >= 0
    assert evals[0].best  # the first evaluation is the best so far
    rows = [r for r in trainer.folder.read_stats() if r.get("event") == "eval"]
    assert [r["step"] for r in rows] == [3, 6]
    best = trainer.folder.read_best()
    best_step = max(e.step for e in evals if e.best)
    assert best["step"] == best_step and best["key"] == "sifid_proxy"
    assert best["value"] == min(e.metrics["sifid_proxy"] for e in evals)
    assert trainer.folder.checkpoint_steps() == [6]  # pruned; best.pt is not
    assert trainer.folder.load_checkpoint("best")["step"] == best_step
    gallery = tmp_path / "gallery"
    assert (
        main(
            [
                "generate",
                str(trainer.folder.root),
                "--checkpoint",
                "best",
                "--n",
                "2",
                "--out",
                str(gallery),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert json.loads((gallery / "manifest.json").read_text())["checkpoint_step"] == best_step


def test_short_preset_is_the_paper_model_in_a_third_of_the_iterations():
    paper, short = build_config("paper"), build_config("short")
    assert short.run.iters * 3 == paper.run.iters
    assert (short.data.max_size, short.generator.ch_g, short.discriminator.ch_d) == (
        paper.data.max_size,
        paper.generator.ch_g,
        paper.discriminator.ch_d,
    )
    assert short.augmentation.ada and short.run.on_collapse == "rollback" and short.run.eval_every > 0
    assert short.regularisation.bernoulli_warmup * 3 == paper.regularisation.bernoulli_warmup


def test_nonfinite_stops_naming_the_step_and_keeps_the_last_good_checkpoint(scene, tmp_path):
    from osmis_core.events import TrainingFailed

    trainer = _tiny_trainer(scene, tmp_path, iters=8, eval_every=0)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, CheckpointSaved) and event.step == 2:
            for opt in (trainer.opt_g, trainer.opt_d):  # the run diverges from here on
                for group in opt.param_groups:
                    group["lr"] = 1e30
    health = [e for e in events if isinstance(e, HealthEvent)]
    assert [(e.kind, e.action, e.step) for e in health] == [("nonfinite", "stop", 3)]
    assert "d_total" in health[0].message and "step 3" in health[0].message
    assert isinstance(events[-1], TrainingFailed) and "step 3" in events[-1].message
    assert trainer.folder.checkpoint_steps() == [2]
    assert all(torch.isfinite(v).all() for v in trainer.folder.load_checkpoint("latest")["generator"].values())


def test_evaluations_do_not_change_training(scene, tmp_path):
    """The metrics read the EMA generator with their own noise: weights after training are identical with and
    without evaluations."""
    with_eval = _tiny_trainer(scene, tmp_path / "a", iters=4, eval_every=1)
    without = _tiny_trainer(scene, tmp_path / "b", iters=4, eval_every=0)
    list(with_eval.run())
    list(without.run())
    assert len([r for r in with_eval.folder.read_stats() if r.get("event") == "eval"]) == 4
    for key in ("generator", "generator_ema", "discriminator"):
        a, b = with_eval.state_dict()[key], without.state_dict()[key]
        assert all(torch.equal(a[k], b[k]) for k in a), key


def test_p_aug_flag_takes_a_number_or_adaptive():
    from osmis_core.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "x", "--p-aug", "adaptive"]).p_aug == "adaptive"
    assert parser.parse_args(["train", "x", "--p-aug", "0.5"]).p_aug == 0.5
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "x", "--p-aug", "often"])


def test_generate_best_without_a_best_checkpoint_is_one_sentence(scene, tmp_path, capsys):
    from osmis_core.cli import main

    trainer = _tiny_trainer(scene, tmp_path, iters=2, eval_every=0)
    list(trainer.run())
    assert (
        main(
            [
                "generate",
                str(trainer.folder.root),
                "--checkpoint",
                "best",
                "--out",
                str(tmp_path / "g"),
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "best.pt: the run kept no best checkpoint" in err and err.count("\n") == 1


def test_rollback_without_a_healthy_checkpoint_trains_on(scene, tmp_path):
    trainer = _tiny_trainer(scene, tmp_path, iters=4, eval_every=2, checkpoint_every=100, on_collapse="rollback")
    trainer.monitor.health.collapse = DiversityCollapse(floor=1e9, patience=1, after_healthy=False)
    events = list(trainer.run())
    assert [(e.step, e.action) for e in events if isinstance(e, HealthEvent)] == [(2, "rollback")]
    assert not any(isinstance(e, RolledBack) for e in events)
    assert isinstance(events[-1], TrainingFinished) and not events[-1].stopped and events[-1].step == 4
    assert "no healthy checkpoint to roll back to at step 2; training on" in trainer.folder.log_file.read_text()


def test_evaluation_checks_start_after_the_mask_hardening_warm_up(scene, tmp_path):
    trainer = _tiny_trainer(scene, tmp_path, iters=40, eval_every=2, bernoulli_warmup=6)
    assert trainer.monitor.health.eval_checks_from == 6
    assert _tiny_trainer(scene, tmp_path / "b", iters=8, bernoulli_warmup=15000).monitor.health.eval_checks_from == 2


def test_renderer_runs_have_health_checks_but_no_training_metrics(scene, tmp_path):
    config = build_config(
        overrides=dict(
            model="renderer",
            max_size=64,
            ch_r=4,
            spade_hidden=8,
            ch_rd=4,
            noise_dim=8,
            batch_size=2,
            log_every=1,
            preview_every=2,
            checkpoint_every=2,
            device="cpu",
            iters=2,
        )
    ).replace(eval_every=1)  # build_config refuses --eval-every for the renderer; the trainer must not use it either
    trainer = start_training(config, scene, tmp_path / "run")
    events = list(trainer.run())
    assert isinstance(events[-1], TrainingFinished) and events[-1].step == 2
    assert not any(isinstance(e, StepEval) for e in events)


def test_divergence_advice_lowers_the_rate_training_used_not_the_configs(tmp_path):
    """After a rollback halved lr_d (config 2e-4, training at 1e-4), the advice halves what training used."""
    from osmis_core.application.runfolder import RunFolder
    from osmis_core.training.trainer import _failure_message

    folder = RunFolder(tmp_path / "run")
    folder.create()
    message, user_error = _failure_message(FloatingPointError("x"), 5, folder, {"lr_g": 2e-4, "lr_d": 1e-4})
    assert user_error and "--lr-g 0.0001 --lr-d 5e-05" in message


def test_health_history_survives_a_checkpoint_round_trip():
    """A fault seen once (not yet an alarm) is still counted after state_dict/load_state_dict (a resume)."""
    from osmis_core.training.monitor import HealthChecks

    before, after = HealthChecks(), HealthChecks()
    for step, diversity in ((2, 0.5), (4, 0.0)):
        assert before.collapse.update(step, diversity) is None
    for d_real in [0.1, 0.2] * 10:
        before.spike.update(0, d_real)
    after.load_state_dict(json.loads(json.dumps(before.state_dict())))  # plain values only
    assert after.collapse.update(6, 0.0) is not None  # the second faulty evaluation in a row
    assert after.spike.update(0, 50.0) is not None  # the running level came along
    after.load_state_dict(None)  # a checkpoint saved before the checks kept state: a fresh start
    assert after.collapse.update(8, 0.0) is None and after.healthy_step is None


def test_a_rollback_goes_on_from_the_checks_history_of_its_checkpoint(tmp_path):
    """After a rollback the D(real) spike check keeps the running level saved with the checkpoint rolled back to.
    Found on quick-ada (example_scene, seed 0, CPU): the checks were reset at the rollback, so the spike that came
    back within the reset check's warm-up (mean D(real) logit 2.4, 6.9, then 14.4) became its new running level
    and the run ended collapsed (pixel diversity 0.06) with no further alarm."""
    from helpers import CollapseOnceAt, write_scene

    config = OsmisConfig().replace(**{**TINY, "iters": 8, "eval_every": 4, "on_collapse": "rollback"})
    trainer = start_training(config, write_scene(tmp_path), tmp_path / "run")
    trainer.monitor.health.collapse = CollapseOnceAt(4)
    after_rollback = saved = None
    for event in trainer.run():
        if isinstance(event, RolledBack):
            after_rollback = trainer.monitor.health.spike.state_dict()
            saved = torch.load(trainer.folder.checkpoint_path(event.to_step), weights_only=True)["health"]["d_spike"]
    assert after_rollback is not None and after_rollback == saved
    assert len(saved["history"]) == 2  # the logging ticks of steps 1 and 2
