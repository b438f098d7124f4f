"""The class_coverage training metric and the missing_class health check (training/monitor.py, training/health.py):
on hand-made masks and synthetic sequences, then on tiny real training runs."""

import pytest
import torch
from helpers import TINY

from osmis_core.application.session import start_training
from osmis_core.config import FIELDS, OsmisConfig
from osmis_core.events import EVAL_METRICS, SIFID_METRICS, HealthEvent, RolledBack, StepEval, TrainingFinished
from osmis_core.training import monitor
from osmis_core.training.health import DiversityCollapse, EmptyMasks, MissingClass
from osmis_core.training.monitor import BEST_BY, BestTracker, Evaluation, HealthChecks, class_counts, class_coverage
from osmis_core.training.trainer import format_eval


def _ids(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.int64)


def _real_shares(ids: torch.Tensor, k: int) -> torch.Tensor:
    """The evaluator's real shares: one-hot real masks F x K x H x W averaged over frames and pixels."""
    masks = torch.nn.functional.one_hot(ids, k).permute(0, 3, 1, 2).float()
    return masks.mean(dim=(0, 2, 3))


# a 10 x 10 real mask: class 0 sky (60 px), class 1 hills (30 px), class 2 rocks (10 px)
REAL = _ids([[0] * 10] * 6 + [[1] * 10] * 3 + [[2] * 10])[None]
SKY_AND_HILLS = _ids([[0] * 10] * 7 + [[1] * 10] * 3)  # no rocks


def test_a_class_in_no_sample_gives_coverage_zero():
    real = _real_shares(REAL, 3)
    assert real.tolist() == pytest.approx([0.6, 0.3, 0.1])
    samples = torch.stack([SKY_AND_HILLS] * 4)
    counts = class_counts(samples, 3)
    assert counts.tolist() == [[70, 30, 0]] * 4
    assert class_coverage(counts, real) == [1.0, 1.0, 0.0]


def test_coverage_counts_samples_and_ignores_stray_pixels():
    real = _real_shares(REAL, 3)  # rocks need 0.1 x 0.1 x 100 = 1 pixel; hills 0.1 x 0.3 x 100 = 3 pixels
    with_rocks = SKY_AND_HILLS.clone()
    with_rocks[0, :2] = 2  # 2 rock pixels: enough
    few_hills = _ids([[0] * 10] * 9 + [[1, 1] + [0] * 8])  # 2 hill pixels: fewer than 3, stray
    samples = torch.stack([with_rocks, SKY_AND_HILLS, few_hills, SKY_AND_HILLS])
    assert class_coverage(class_counts(samples, 3), real) == [1.0, 0.75, 0.25]


def test_a_class_absent_from_the_real_masks_is_not_counted():
    real = torch.tensor([0.7, 0.3, 0.0])
    samples = torch.stack([SKY_AND_HILLS] * 2)
    assert class_coverage(class_counts(samples, 3), real) == [1.0, 1.0, None]


def test_missing_class_fires_on_a_class_that_never_appears():
    real = [0.6, 0.3, 0.1]
    missing = [[1.0, 1.0, 0.0]] * 5
    detector = MissingClass()
    alarms = [(i, a) for i, cov in enumerate(missing) if (a := detector.update(i, cov, real, 16)) is not None]
    assert [i for i, _ in alarms] == [1]  # patience 2, once per episode
    alarm = alarms[0][1]
    assert alarm.kind == "missing_class" and not alarm.collapse
    assert "class 2 (10.0% of the real masks' pixels) appears in none of the 16" in alarm.message
    assert detector.active


def test_missing_class_is_silent_on_healthy_and_small_classes():
    healthy = [[1.0, 0.9, 0.25], [1.0, 1.0, 0.0625], [1.0, 0.8, 0.0], [1.0, 1.0, 0.125]]  # never 0 twice in a row
    detector = MissingClass()
    assert [detector.update(i, cov, [0.6, 0.3, 0.1], 16) for i, cov in enumerate(healthy)] == [None] * 4
    tiny_class = MissingClass()  # 0.5 % of the real pixels: not a meaningful share
    assert [tiny_class.update(i, [1.0, 1.0, 0.0], [0.7, 0.295, 0.005], 16) for i in range(4)] == [None] * 4
    absent = MissingClass()
    assert [absent.update(i, [1.0, 1.0, None], [0.7, 0.3, 0.0], 16) for i in range(4)] == [None] * 4


def test_missing_class_rearms_and_names_every_class_that_fired():
    detector = MissingClass()
    real = [0.5, 0.3, 0.2]
    seq = [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.5, 0.5], [1.0, 0.0, 0.5], [1.0, 0.0, 0.5]]
    alarms = [(i, a.message) for i, cov in enumerate(seq) if (a := detector.update(i, cov, real, 8)) is not None]
    assert [i for i, _ in alarms] == [1, 4]
    assert "class 1 (30.0%" in alarms[0][1] and "class 2 (20.0%" in alarms[0][1] and "appear in none" in alarms[0][1]
    assert "class 2" not in alarms[1][1]
    detector.reset()
    assert not detector.active


def test_health_checks_raise_missing_class_from_evaluations_but_do_not_count_it_as_failing():
    checks = HealthChecks(eval_checks_from=4)
    evaluation = Evaluation({"diversity": 0.3, "class_coverage": 0.0}, [0.7] * 16, {"class_coverage": [1.0, 1.0, 0.0]})
    real = [0.6, 0.3, 0.1]
    assert checks.on_eval(2, evaluation, real) == [] and checks.on_eval(3, evaluation, real) == []  # warm-up
    assert checks.on_eval(4, evaluation, real) == []
    alarms = checks.on_eval(5, evaluation, real)
    assert [a.kind for a in alarms] == ["missing_class"]
    assert not checks.failing  # a rollback target may still miss the class: not a collapse
    checks.checkpoint_saved(5)
    assert checks.healthy_step == 5


def test_keep_best_by_class_coverage_keeps_the_later_of_equal_values():
    assert set(FIELDS["keep_best"][1].metadata["choices"]) == set(BEST_BY) | {"none"}
    best = BestTracker("class_coverage")
    results = [best.improves({"class_coverage": v}) for v in (0.0, 0.5, 0.25, 0.5, 1.0, 0.75)]
    assert results == [True, True, False, True, True, False]
    assert best.value == 1.0


def test_progress_line_shows_coverage():
    line = format_eval(StepEval(100, {"diversity": 0.5, "mask_shares": 0.02, "class_coverage": 0.0}, best=False))
    assert line == "div=0.500 masks=0.020 coverage=0.000"


def _tiny_trainer(scene, tmp_path, **options):
    return start_training(OsmisConfig().replace(**{**TINY, **options}), scene, tmp_path / "run")


def test_a_tiny_run_writes_class_coverage_to_stats_and_events(scene, tmp_path):
    trainer = _tiny_trainer(scene, tmp_path, iters=4, eval_every=2, keep_best="class_coverage")
    events = list(trainer.run())
    evals = [e for e in events if isinstance(e, StepEval)]
    assert [e.step for e in evals] == [2, 4]
    rows = [r for r in trainer.folder.read_stats() if r.get("event") == "eval"]
    assert [r["step"] for r in rows] == [2, 4]
    for ev, row in zip(evals, rows, strict=True):
        assert set(ev.metrics) <= set(EVAL_METRICS) | set(SIFID_METRICS)
        per_class = row["class_coverage_per_class"]
        assert per_class == ev.per_class["class_coverage"] and len(per_class) == 3  # the scene's 3 classes
        assert all(0.0 <= c <= 1.0 and c * monitor.EVAL_SAMPLES == round(c * monitor.EVAL_SAMPLES) for c in per_class)
        assert row["class_coverage"] == ev.metrics["class_coverage"] == min(per_class)
    best = trainer.folder.read_best()
    assert best["key"] == "class_coverage" and best["value"] == max(e.metrics["class_coverage"] for e in evals)


def test_missing_class_only_warns_even_with_rollback(scene, tmp_path, monkeypatch):
    monkeypatch.setattr(monitor, "COVERAGE_FRACTION", 1e9)  # no class ever reaches the threshold: coverage 0
    trainer = _tiny_trainer(scene, tmp_path, iters=6, eval_every=2, on_collapse="rollback")
    assert trainer.monitor.health.eval_checks_from == 1
    # the collapse checks never fire here: any rollback would be missing_class's
    trainer.monitor.health.collapse = DiversityCollapse(floor=-1.0)
    trainer.monitor.health.empty = EmptyMasks(share=2.0)
    events = list(trainer.run())
    health = [e for e in events if isinstance(e, HealthEvent) and e.kind == "missing_class"]
    assert [(e.step, e.action) for e in health] == [(4, "warn")]
    assert not any(isinstance(e, RolledBack) for e in events)
    assert isinstance(events[-1], TrainingFinished) and not events[-1].stopped and events[-1].step == 6
    rows = [r for r in trainer.folder.read_stats() if r.get("event") == "health" and r["kind"] == "missing_class"]
    assert [(r["step"], r["action"]) for r in rows] == [(4, "warn")]
    assert "health: missing class at step 4" in trainer.folder.log_file.read_text()
