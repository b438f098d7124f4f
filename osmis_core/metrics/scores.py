"""The registered metrics' `Metric` adapters: each wraps one metric module (sifid, lpips_metrics, diversity, miou)
behind the registry's streaming interface. The registry names them by "module:attribute" and imports this module
(and torch with it) only when a metric is built."""

from __future__ import annotations

import math

from .diversity import PixelDiversity
from .lpips_metrics import LPIPSDiversity, LPIPSToTrain
from .miou import SegmentationMIoU
from .miou_settings import train_size
from .registry import Metric, MetricContext, Probe, Scores
from .sifid import SIFID, InceptionFeatures
from .weights import build_inception, build_lpips


class SIFIDScore(Metric):
    def __init__(self, ctx: MetricContext):
        inception = ctx.network("inception", lambda: build_inception(ctx.weights_dir, ctx.random_weights))
        self._sifids = {
            d: SIFID(
                d,
                feature_extractor=InceptionFeatures(inception, d),
                device=ctx.device,
                video_frame0_only=ctx.video_frame0_only,
            )
            for d in ctx.sifid_dims
        }
        self._video = False
        self._settings = _compat_settings("compat_video_frame0", ctx.video_frame0_only)

    def set_real(self, real_images, real_masks=None):
        self._video = real_images.shape[0] > 1
        for sifid in self._sifids.values():
            sifid.set_real(real_images)

    def update(self, fake_images, fake_masks=None):
        for sifid in self._sifids.values():
            sifid.update(fake_images)

    def compute(self) -> Scores:
        summary, per_image = {}, {}
        for dims, sifid in self._sifids.items():
            scores = sifid.compute()
            summary[f"sifid_{dims}"] = scores.mean
            per_image[f"sifid_{dims}"] = scores.per_image.tolist()
            if self._video:
                per_image[f"sifid_{dims}_frame"] = scores.nearest.tolist()
        return Scores(summary, per_image, self._settings)

    def reset(self):
        for sifid in self._sifids.values():
            sifid.reset()


def _compat_settings(switch: str, on: bool) -> dict:
    """metrics.json's `settings` of a metric scored with a compatibility switch of the published code on (its
    numbers are then not the default definition's, so the file says so); nothing when off."""
    return {switch: True} if on else {}


def _lpips(ctx: MetricContext):
    return ctx.network("lpips", lambda: build_lpips(ctx.weights_dir, ctx.random_weights))


class LPIPSDiversityScore(Metric):
    def __init__(self, ctx: MetricContext):
        self._metric = LPIPSDiversity(
            model=_lpips(ctx),
            device=ctx.device,
            batch_size=ctx.batch_size,
            unit_range_inputs=ctx.lpips_unit_range_inputs,
        )
        self._batch_size = ctx.batch_size
        self._seen = 0
        self._settings = _compat_settings("compat_lpips_unit_range", ctx.lpips_unit_range_inputs)

    def update(self, fake_images, fake_masks=None):
        self._metric.update(fake_images)
        self._seen += fake_images.shape[0]

    def compute(self) -> Scores:
        return Scores({"lpips_diversity": self._metric.compute()}, {}, self._settings)

    def reset(self):
        self._metric.reset()
        self._seen = 0

    def estimate(self, probe: Probe) -> dict[str, float]:
        # images past max_images are not scored, so they cost nothing; the pairwise distances of `compute` are
        # a few matrix products on features already computed, free next to the network passes
        kept = math.ceil(max(self._metric.max_images - self._seen, 0) / self._batch_size)
        return {"update": probe.spent_s + probe.batch_s * min(probe.remaining, kept), "compute": 0.0}


class LPIPSToTrainScore(Metric):
    def __init__(self, ctx: MetricContext):
        self._metric = LPIPSToTrain(
            model=_lpips(ctx),
            device=ctx.device,
            batch_size=ctx.batch_size,
            unit_range_inputs=ctx.lpips_unit_range_inputs,
        )
        self._video = False
        self._settings = _compat_settings("compat_lpips_unit_range", ctx.lpips_unit_range_inputs)

    def set_real(self, real_images, real_masks=None):
        self._video = real_images.shape[0] > 1
        self._metric.set_real(real_images)

    def update(self, fake_images, fake_masks=None):
        self._metric.update(fake_images)

    def compute(self) -> Scores:
        scores = self._metric.compute()
        per_image = {"lpips_to_train": scores.per_image.tolist()}
        if self._video:
            per_image["lpips_to_train_frame"] = scores.nearest.tolist()
        return Scores({"lpips_to_train": scores.mean}, per_image, self._settings)

    def reset(self):
        self._metric.reset()


class PixelDiversityScore(Metric):
    def __init__(self, ctx: MetricContext):
        self._metric = PixelDiversity(ctx.device)

    def set_real(self, real_images, real_masks=None):
        self._metric.set_real(real_images)

    def update(self, fake_images, fake_masks=None):
        self._metric.update(fake_images)

    def compute(self) -> Scores:
        return Scores({"pixel_diversity": self._metric.compute()}, {})

    def reset(self):
        self._metric.reset()


class MIoUScore(Metric):
    def __init__(self, ctx: MetricContext):
        self.setting = ctx.miou
        self._size = ctx.size
        self._metric = SegmentationMIoU(
            ctx.num_classes,
            steps=ctx.miou.steps,
            batch_size=ctx.miou_batch_size,
            max_side=ctx.miou.max_side,
            weights_dir=ctx.weights_dir,
            random_weights=ctx.random_weights,
            device=ctx.device,
            progress=ctx.progress,
        )
        self._num_images = ctx.num_images
        self._num_real = 1

    def set_real(self, real_images, real_masks=None):
        self._metric.set_real(real_images, real_masks)
        self._num_real = real_images.shape[0]

    def update(self, fake_images, fake_masks=None):
        self._metric.update(fake_images, fake_masks)

    def estimate(self, probe: Probe) -> dict[str, float]:
        """Every phase of `compute`, from the segmenter's own probe (SegmentationMIoU.probe: the first steps of
        the real-direction training, kept, and a test batch): two trainings of `steps` steps (the generated
        direction builds its U-Net afresh), a test pass over the real pair(s) and one over every generated image.
        Feeding the images is only storing them ("update")."""
        cost = self._metric.probe()

        def tests(count: int) -> float:
            return math.ceil(count / self._metric.eval_batch_size) * cost.test_s

        return {
            "update": probe.spent_s + probe.batch_s * probe.remaining,
            "train on generated": cost.build_s + self._metric.steps * cost.step_s,
            "test on real": tests(self._num_real),
            "train on real": cost.spent_s + (self._metric.steps - cost.done) * cost.step_s,
            "test on generated": tests(self._num_images),
        }

    def phase_seconds(self) -> dict[str, float]:
        return self._metric.phase_seconds()

    def describe(self) -> str:
        h, w = train_size(self._size, self.setting.max_side)
        return f"{self.setting.name} setting: {self.setting.steps} steps per direction at {w}x{h}"

    def compute(self) -> Scores:
        r = self._metric.compute()
        summary = {
            "accuracy_gen_to_real": r.accuracy_gen_to_real,
            "miou_gen_to_real": r.miou_gen_to_real,
            "accuracy_real_to_gen": r.accuracy_real_to_gen,
            "miou_real_to_gen": r.miou_real_to_gen,
        }
        per_image = {
            "accuracy_real_to_gen": r.per_image_accuracy.tolist(),
            "miou_real_to_gen": r.per_image_miou.tolist(),
        }
        settings = {
            "setting": self.setting.name,
            "steps": r.steps,
            "train_size": list(r.train_size),
            "batch_size": self._metric.batch_size,
            "lr": self._metric.lr,
        }
        return Scores(summary, per_image, settings)

    def reset(self):
        self._metric.reset()
