"""The metrics registry drives evaluation, the CLI and the written files; plans, budgets, progress and the
reasons for scores not computed. CPU, random weights, tiny images."""

import csv
import importlib
import json
import re
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from osmis_core.cli import main
from osmis_core.metrics import (
    AFFORDABLE,
    REGISTRY,
    EvaluationPlan,
    LazyFactory,
    Metric,
    MetricEntry,
    MIoUSetting,
    Scores,
    SegmentationMIoU,
    evaluate_images,
    format_table,
    key_info,
    metric_names,
    write_metrics,
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def smooth_images(n, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, max(h // 8, 2), max(w // 8, 2), generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def shapes_pair(h, w):
    """An image with a red box on green, and its 2-class mask: 1 x 3 x H x W, 1 x H x W."""
    mask = torch.zeros(h, w, dtype=torch.long)
    mask[h // 4 : h * 3 // 4, w // 5 : w // 2] = 1
    colours = torch.tensor([[0.2, 0.6, 0.2], [0.9, 0.1, 0.1]])
    return colours[mask].permute(2, 0, 1)[None], mask[None]


class _Brightness(Metric):
    """Mean brightness per image: a metric written for the registry test."""

    def __init__(self, ctx):
        self.values = []

    def update(self, fake_images, fake_masks=None):
        self.values += fake_images.mean((1, 2, 3)).tolist()

    def compute(self):
        return Scores({"brightness": float(np.mean(self.values))}, {"brightness": list(self.values)}, {"channels": 3})

    def reset(self):
        self.values = []


BRIGHTNESS = MetricEntry(
    "brightness",
    "mean brightness",
    _Brightness,
    ("brightness",),
    ("brightness",),
    {"brightness": "mean brightness (0-1)"},
    default=False,
)


def test_adding_a_registry_entry_adds_a_metric(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(REGISTRY, "brightness", BRIGHTNESS)
    assert "brightness" in metric_names() and "brightness" not in metric_names(default_only=True)
    fakes = smooth_images(5, 40, 48, seed=1)
    result = evaluate_images(fakes, fakes[:1], metrics=("diversity", "brightness"), batch_size=2)
    assert result["summary"]["brightness"] == pytest.approx(float(fakes.mean()))
    assert [r["brightness"] for r in result["per_image"]] == pytest.approx(fakes.mean((1, 2, 3)).tolist())
    assert result["settings"] == {"brightness": {"channels": 3}}
    assert key_info("brightness") == ("mean brightness (0-1)", True)
    assert "mean brightness (0-1)" in format_table(result)
    _, csv_path = write_metrics(tmp_path, result)
    assert "brightness" in csv_path.read_text().splitlines()[0]

    # the CLI's --metrics takes it and its help lists it; a name not in the registry is refused
    gallery, real = tmp_path / "gallery", tmp_path / "real.png"
    gallery.mkdir()
    for i, image in enumerate(fakes):
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(gallery / f"{i}.png")
    Image.fromarray((fakes[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(real)
    assert main(["evaluate", str(gallery), "--real", str(real), "--metrics", "brightness", "--device", "cpu"]) == 0
    assert "brightness" in json.loads((gallery / "metrics.json").read_text())["summary"]
    capsys.readouterr()
    assert main(["evaluate", str(gallery), "--real", str(real), "--metrics", "fid"]) == 2
    assert "unknown metric 'fid'" in capsys.readouterr().err and "brightness" not in metric_names(True)
    # `osmis run` says so before it trains
    assert main(["run", str(real), "--out", str(tmp_path / "run"), "--metrics", "sifid,fid"]) == 2
    assert "unknown metric 'fid'" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_reasons_for_scores_not_computed():
    fake = smooth_images(1, 48, 48, seed=2)
    image, mask = shapes_pair(48, 48)
    one_class = torch.zeros_like(mask)
    result = evaluate_images(fake, image, mask, one_class, metrics=("lpips", "diversity", "miou"), random_weights=True)
    assert result["not_computed"] == {
        "lpips": "skipped: needs at least 2 generated images",
        "diversity": "skipped: needs at least 2 generated images",
        "miou": "skipped: one class in the real mask",
    }
    assert result["summary"]["miou_real_to_gen"] == "skipped: one class in the real mask"
    assert "mIoU skipped: one class in the real mask" in result["warnings"]
    assert "None" not in format_table(result)


def test_plan_estimates_and_budget():
    fakes = smooth_images(6, 48, 48, seed=3)
    image, mask = shapes_pair(48, 48)
    masks = mask.repeat(6, 1, 1)
    plans = []
    result = evaluate_images(
        fakes,
        image,
        masks,
        mask,
        metrics=("sifid", "diversity", "miou"),
        random_weights=True,
        miou_steps=2,
        batch_size=2,
        on_plan=plans.append,
    )
    (plan,) = plans
    assert isinstance(plan, EvaluationPlan) and [m.name for m in plan.planned] == ["sifid", "diversity", "miou"]
    assert all(m.seconds > 0 and m.skipped is None for m in plan.planned)
    text = plan.summary()
    # an estimate is "about N s", or "under 1 s" on a machine fast enough (the plan's wording, _said_seconds)
    for label in ("SIFID", "mIoU", "total"):
        assert re.search(rf"{label}: (about [\d.,]+ (s|min)|under 1 s)", text), text
    assert set(result["estimates"]) == {"sifid", "diversity", "miou"} and result["seconds"]["miou"] > 0

    # a zero budget keeps nothing; each metric says why, with its estimate
    result = evaluate_images(
        fakes,
        image,
        masks,
        mask,
        metrics=("diversity", "miou"),
        random_weights=True,
        miou_steps=2,
        batch_size=2,
        time_budget=0,
        on_plan=plans.append,
    )
    assert plans[-1].over_budget() == ["diversity", "miou"]
    reason = result["not_computed"]["miou"]
    assert reason.startswith("skipped: estimated ") and "over the time budget of 0 s" in reason
    assert result["summary"]["miou_gen_to_real"] == reason


def test_progress_callback_reports_every_stage():
    fakes = smooth_images(7, 40, 40, seed=4)
    image, mask = shapes_pair(40, 40)
    calls = []
    evaluate_images(
        fakes,
        image,
        mask.repeat(7, 1, 1),
        mask,
        metrics=("lpips_train", "miou"),
        random_weights=True,
        miou_steps=3,
        batch_size=2,
        progress=lambda *a: calls.append(a),
    )
    # the first two batches are fed before the plan (they time the metric); progress goes on from there
    assert [c[1:] for c in calls if c[0] == "LPIPS to training data"] == [(6, 7), (7, 7)]
    assert calls[-1] == ("mIoU: train on real", 3, 3)
    assert [c[1] for c in calls if c[0] == "mIoU: train on generated"] == [1, 2, 3]


def test_miou_affordable_setting_is_recorded_and_measures_at_full_size():
    fakes = smooth_images(3, 32, 64, seed=5)
    image, mask = shapes_pair(32, 64)
    plans = []
    result = evaluate_images(
        fakes,
        image,
        mask.repeat(3, 1, 1),
        mask,
        metrics=("miou",),
        random_weights=True,
        miou_setting=MIoUSetting("affordable", 3, 48),
        miou_steps=2,
        on_plan=plans.append,
    )
    assert result["settings"]["miou"] == {
        "setting": "affordable",
        "steps": 2,
        "train_size": [32, 48],
        "batch_size": 5,
        "lr": 1e-4,
    }
    assert plans[0].planned[0].detail == "affordable setting: 2 steps per direction at 48x32"
    assert len(result["per_image"]) == 3 and 0 <= result["per_image"][0]["miou_real_to_gen"] <= 1
    assert AFFORDABLE.max_side is not None and AFFORDABLE.steps < 500


def test_bounded_size_is_the_plain_path_when_images_are_small_enough():
    """At or below max_side, the affordable segmenter is the full one: same steps give the same scores."""
    image, mask = shapes_pair(48, 64)
    fakes, masks = image.repeat(2, 1, 1, 1), mask.repeat(2, 1, 1)
    results = []
    for max_side in (None, 64):
        miou = SegmentationMIoU(2, steps=2, max_side=max_side, random_weights=True)
        miou.set_real(image, mask)
        miou.update(fakes, masks)
        results.append(miou.compute())
    assert results[0].miou_real_to_gen == results[1].miou_real_to_gen
    assert torch.equal(results[0].per_image_miou, results[1].per_image_miou)


def test_cli_prints_the_estimate_and_how_to_run_later(tmp_path, capsys):
    fakes = smooth_images(4, 40, 40, seed=6)
    gallery, real = tmp_path / "gallery", tmp_path / "real.png"
    gallery.mkdir()
    for i, image in enumerate(fakes):
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(gallery / f"{i}.png")
    Image.fromarray((fakes[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(real)
    code = main(
        [
            "evaluate",
            str(gallery),
            "--real",
            str(real),
            "--metrics",
            "diversity,lpips",
            "--device",
            "cpu",
            "--random-weights",
        ]
    )
    err = capsys.readouterr().err
    # an estimate under half a second reads "under 1 s", the others "about N s"
    assert code == 0 and "pixel diversity: " in err and "total: " in err and "about under" not in err
    assert err.index("total: ") < err.index("metrics written")

    code = main(
        [
            "evaluate",
            str(gallery),
            "--real",
            str(real),
            "--metrics",
            "diversity,lpips",
            "--device",
            "cpu",
            "--random-weights",
            "--time-budget",
            "0",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0 and "NOT computed" in err
    assert f"run later with: osmis evaluate {gallery} --real {real} --metrics diversity,lpips --random-weights" in err
    with open(gallery / "metrics.csv") as handle:
        summary = list(csv.DictReader(handle))[-1]
    # the gallery was scored just before: the score already there is kept, not replaced by the reason
    assert float(summary["pixel_diversity"]) > 0


def test_registered_factories_name_metric_adapters():
    """Each registered entry's lazy factory names a Metric subclass of metrics.scores (a wrong name would only
    show when that metric is first asked for)."""
    for entry in REGISTRY.values():
        assert isinstance(entry.factory, LazyFactory), entry.name
        module, _, attribute = entry.factory.target.partition(":")
        assert issubclass(getattr(importlib.import_module(module), attribute), Metric), entry.name


def test_probe_steps_are_kept_training_in_one_go_or_after_a_probe_gives_the_same_scores():
    """The segmenter's cost probe does the first steps of the real-direction training, and compute goes on from
    there: the scores equal those of a compute without a probe (the probe's work is kept, not redone)."""
    image, mask = shapes_pair(40, 48)
    fakes = smooth_images(4, 40, 48, seed=7)
    masks = torch.stack([mask[0], mask[0].flip(-1), mask[0], mask[0].flip(-2)])
    results, costs = [], []
    for probed in (False, True):
        miou = SegmentationMIoU(2, steps=5, random_weights=True, eval_batch_size=2)
        miou.set_real(image, mask)
        miou.update(fakes, masks)
        if probed:
            costs.append(miou.probe())
        results.append(miou.compute())
    (cost,) = costs
    assert 2 <= cost.done <= 5 and cost.step_s > 0 and cost.test_s > 0 and cost.spent_s >= cost.build_s
    assert results[0].miou_real_to_gen == results[1].miou_real_to_gen
    assert results[0].miou_gen_to_real == results[1].miou_gen_to_real
    assert torch.equal(results[0].per_image_miou, results[1].per_image_miou)


def test_every_phase_that_runs_is_in_the_estimate():
    """Each registered metric names, in its plan, every phase its run reports (the mIoU segmenter's trainings and
    test passes as well as feeding the images), each estimated from a measurement (above 0 s)."""
    fakes = smooth_images(6, 40, 40, seed=8)
    image, mask = shapes_pair(40, 40)
    result = evaluate_images(
        fakes,
        image,
        mask.repeat(6, 1, 1),
        mask,
        metrics=metric_names(),
        random_weights=True,
        miou_steps=4,
        batch_size=2,
    )
    assert not result["not_computed"]
    for name in metric_names():
        assert set(result["estimate_phases"][name]) == set(result["phase_seconds"][name]), name
        assert result["estimates"][name] == pytest.approx(sum(result["estimate_phases"][name].values()), abs=0.01)
    assert set(result["phase_seconds"]["miou"]) == {
        "update",
        "train on generated",
        "test on real",
        "train on real",
        "test on generated",
    }
    assert all(seconds > 0 for seconds in result["estimate_phases"]["miou"].values())


class _SlowCompute(Metric):
    """A metric whose cost is mostly in compute: 0.01 s per image fed, then 0.02 s per image in compute. Its
    estimate names the compute phase and measures it on one image, as a real metric would."""

    def __init__(self, ctx):
        self.count, self.total = 0, ctx.num_images

    def update(self, fake_images, fake_masks=None):
        time.sleep(0.01 * len(fake_images))
        self.count += len(fake_images)

    def _work(self, images):
        time.sleep(0.02 * images)

    def estimate(self, probe):
        start = time.perf_counter()
        self._work(1)
        return {
            "update": probe.spent_s + probe.batch_s * probe.remaining,
            "compute": (time.perf_counter() - start) * self.total,
        }

    def compute(self):
        self._work(self.count)
        return Scores({"slow": float(self.count)}, {})

    def reset(self):
        self.count = 0


def test_a_metric_with_a_slow_later_phase_is_not_underestimated(monkeypatch):
    """The plan is the sum of the phases a metric estimates, the later (compute) phase included; sleeping makes
    the work's length independent of the machine's load, and the bound is loose (half)."""
    monkeypatch.setitem(REGISTRY, "slow", MetricEntry("slow", "slow", _SlowCompute, ("slow",), default=False))
    plans = []
    result = evaluate_images(
        smooth_images(8, 8, 8, seed=9),
        smooth_images(1, 8, 8, seed=10),
        metrics=("slow",),
        batch_size=2,
        on_plan=plans.append,
    )
    (planned,) = plans[0].planned
    assert set(planned.phases) == {"update", "compute"} and planned.seconds == pytest.approx(
        sum(planned.phases.values())
    )
    # compute sleeps 0.16 s of the whole ~0.26 s: an estimate without that phase would be under half the run
    assert planned.seconds >= 0.5 * result["seconds"]["slow"]
    assert result["phase_seconds"]["slow"]["compute"] >= 0.16
