"""Metrics during training, the kept `best` checkpoint, and the health checks' bookkeeping (issue 16).

The trainer calls this module through a few hooks; everything here reads the trainer's models, never changes
how a training step computes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..config import MASK_METRICS
from ..data.sources import TrainingData
from ..errors import ConfigError
from ..events import Event, HealthEvent, RolledBack, StepEval
from ..models.layers import class_ids
from ..rng import offset_seed
from .health import Alarm, DiscriminatorSpike, DiversityCollapse, EmptyMasks, MissingClass, NonFinite

if TYPE_CHECKING:
    from .trainer import Trainer

EVAL_SAMPLES = 16  # fixed-noise samples per evaluation: enough for a stable pixel diversity, cheap to make
EVAL_BATCH = 8
SIFID_DIMS = 64  # the first Inception block: the cheapest SIFID layer, and the one the paper reports
EVAL_NOISE_SEED_OFFSET = 2  # run seed + 1 is the preview noise
MAX_ROLLBACKS = 3  # --on-collapse rollback: after this many in one run (lr_d / 8), a further fault stops the run
# class_coverage: a class appears in a sample when it covers at least this fraction of its share of the real masks'
# pixels (and at least one pixel). A tenth: a class drawn smaller than usual still counts, a few stray pixels of a
# class the generator has not learnt do not (datasets/example_scene's class 2, 1.76 % of the real pixels, needs
# 0.18 % of a sample's, 28 of the quick preset's 96 x 160 pixels).
COVERAGE_FRACTION = 0.1


def class_counts(ids: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Pixels of each class per mask: class ids B x H x W (int64, 0..num_classes-1) -> B x K (int64)."""
    return torch.nn.functional.one_hot(ids.flatten(1), num_classes).sum(1)


def class_coverage(counts: torch.Tensor, real_shares: torch.Tensor) -> list[float | None]:
    """Per class, the share (0..1) of samples in which it appears; None for a class absent from the real masks.

    counts: N x K pixels of each class per generated mask (class_counts); real_shares: K, each class's share (0..1)
    of the real masks' pixels. A class appears in a sample when its pixels reach max(1, COVERAGE_FRACTION x its
    real share x the sample's pixels). The training metric `class_coverage` is the minimum over the real classes:
    0 when some class of the real masks is in none of the samples, 1 when every class is in every sample.
    """
    counts = counts.float()
    pixels = counts.sum(1, keepdim=True)  # N x 1
    needed = (COVERAGE_FRACTION * real_shares.float().unsqueeze(0) * pixels).clamp(min=1)  # N x K
    covered = (counts >= needed).float().mean(0)  # K
    return [round(float(c), 6) if r > 0 else None for c, r in zip(covered, real_shares, strict=True)]


@dataclass(frozen=True)
class Evaluation:
    """metrics: see events.StepEval; largest_shares: per sample, the share of its most frequent mask class;
    per_class: see events.StepEval (class_coverage per class id; empty without masks)."""

    metrics: dict[str, float]
    largest_shares: list[float]
    per_class: dict[str, list[float | None]]


class TrainingEvaluator:
    """Scores a generator on EVAL_SAMPLES fixed noise vectors against the training data.

    diversity: pixel diversity (metrics.PixelDiversity). mask_shares: total-variation distance (0..1) between the
    generated masks' mean class shares and the real masks'. class_coverage: the lowest, over the classes of the
    real masks, share of samples in which the class appears (class_coverage()); a small class the generator never
    draws barely moves mask_shares but sets this to 0. sifid: SIFID at dims 64 with Inception v3 weights
    when the weights file is present offline; otherwise `sifid_proxy`, the same statistic on the same layers
    randomly initialised (fixed seed): it follows how close the samples' patch statistics are to the training
    image's, but it is not comparable with published SIFID numbers.
    """

    def __init__(self, data: TrainingData, noise: torch.Tensor, device: torch.device | str):
        # imported here: the metrics package loads torchvision and lpips (seconds), which a run without
        # evaluations, and every `osmis` command that imports the trainer, should not pay for
        from ..metrics import INCEPTION_V3, SIFID, PixelDiversity, find_weights

        self.device = torch.device(device)
        self.noise = noise
        real = (data.images.detach().float().to(self.device) + 1) / 2  # F x 3 x H x W in [0, 1]
        self._diversity = PixelDiversity(self.device)
        self._diversity.set_real(real)
        inception = find_weights(INCEPTION_V3) is not None
        self.sifid_key = "sifid" if inception else "sifid_proxy"
        self._sifid = SIFID(SIFID_DIMS, random_weights=not inception, device=self.device)
        self._sifid.set_real(real)
        self.real_shares = None
        if data.masks is not None:
            self.real_shares = data.masks.detach().float().mean(dim=(0, 2, 3)).cpu()  # K
        self.real_share_list = self.real_shares.tolist() if self.real_shares is not None else None

    @torch.no_grad()
    def evaluate(self, generator: torch.nn.Module) -> Evaluation:
        self._diversity.reset()
        self._sifid.reset()
        counts = []
        for z in self.noise.split(EVAL_BATCH):
            out = generator(z.to(self.device), all_scales=False)
            images = (out.images[-1].detach().float().clamp(-1, 1) + 1) / 2
            self._diversity.update(images)
            self._sifid.update(images)
            if out.mask is not None and self.real_shares is not None:
                counts.append(class_counts(class_ids(out.mask.detach()), self.real_shares.numel()).cpu())
        metrics = {"diversity": self._diversity.compute(), self.sifid_key: self._sifid.compute().mean}
        largest: list[float] = []
        per_class: dict[str, list[float | None]] = {}
        if counts:
            per_sample_counts = torch.cat(counts)  # N x K
            per_sample = per_sample_counts.float() / per_sample_counts.sum(1, keepdim=True)
            metrics["mask_shares"] = 0.5 * float((per_sample.mean(0) - self.real_shares).abs().sum())
            coverage = class_coverage(per_sample_counts, self.real_shares)
            metrics["class_coverage"] = min(c for c in coverage if c is not None)
            per_class["class_coverage"] = coverage
            largest = per_sample.max(1).values.tolist()
        return Evaluation({k: round(float(v), 6) for k, v in metrics.items()}, largest, per_class)


# --keep-best: which metric keys it reads (first one present) and whether larger is better
BEST_BY = {
    "sifid": (("sifid", "sifid_proxy"), False),
    "diversity": (("diversity",), True),
    "mask_shares": (("mask_shares",), False),
    "class_coverage": (("class_coverage",), True),
}


def check_keep_best(keep_best: str, has_masks: bool, data_name: str, said: str = "--keep-best") -> None:
    """Refuse a --keep-best metric that the data cannot give: mask_shares and class_coverage need masks, and a run
    without them would keep no best checkpoint at all. Raises ConfigError naming the option as `said` (the app's
    label: it has no flags) and the data."""
    if keep_best in MASK_METRICS and not has_masks:
        raise ConfigError(
            f"{said} {keep_best} compares the generated masks with the real ones, but {data_name} is trained "
            "without masks; choose sifid or diversity, or give the masks."
        )


# metrics that move in coarse steps (class_coverage: 1/EVAL_SAMPLES), where equal values are common: the later of
# two equal evaluations becomes best (a generator trained longer with the same coverage)
BEST_TIES_LATER = {"class_coverage"}


class BestTracker:
    """Remembers the best value of the chosen metric (carried over a resume through checkpoints/best.json).

    Values are compared only within one series: the same metric measured as the same statistic (best.json's
    `key`). keep_best sifid reads real SIFID where the Inception weights are found and its random-feature proxy
    otherwise; the two are different numbers, so when a resumed run measures the other one (the weights were
    added or removed), its first evaluation starts a new series and becomes best, replacing the best of the
    other statistic."""

    def __init__(self, metric: str, previous: dict | None = None):
        self.metric = metric
        self.value: float | None = None
        self.series: str | None = None  # the metric key the kept value was measured as
        if previous and previous.get("metric") == metric and metric in BEST_BY:
            keys = BEST_BY[metric][0]
            # a best.json written before `key` was recorded: only a metric with one statistic is known
            self.series = previous.get("key") or (keys[0] if len(keys) == 1 else None)
            self.value = previous.get("value") if self.series is not None else None

    def key(self, metrics: dict[str, float]) -> str | None:
        if self.metric not in BEST_BY:
            return None
        return next((k for k in BEST_BY[self.metric][0] if k in metrics), None)

    def improves(self, metrics: dict[str, float]) -> bool:
        key = self.key(metrics)
        if key is None:
            return False
        value = metrics[key]
        if not math.isfinite(value):
            return False
        if key != self.series:  # another statistic than the kept best's: never compared with it
            self.series, self.value = key, None
        larger = BEST_BY[self.metric][1]
        if self.value is not None and self.metric in BEST_TIES_LATER and value == self.value:
            return True
        if self.value is None or (value > self.value if larger else value < self.value):
            self.value = value
            return True
        return False

    def record(self, step: int, metrics: dict[str, float]) -> dict:
        return {"step": step, "metric": self.metric, "key": self.key(metrics), "value": self.value, "metrics": metrics}


class HealthChecks:
    """The five detectors of health.py, fed from the trainer's logging ticks and evaluations."""

    def __init__(self, eval_checks_from: int = 0):
        self.eval_checks_from = eval_checks_from  # the step from which evaluations are checked
        self.nonfinite = NonFinite()
        self.spike = DiscriminatorSpike()
        self.collapse = DiversityCollapse()
        self.empty = EmptyMasks()
        self.missing = MissingClass()
        self.healthy_step: int | None = None  # the last checkpoint saved while no check was failing

    def on_stats(self, step: int, d_real: float) -> list[Alarm]:
        return [a for a in (self.spike.update(step, d_real),) if a]

    def on_eval(self, step: int, evaluation: Evaluation, real_shares: list[float] | None) -> list[Alarm]:
        """real_shares: per class id, its share (0..1) of the real masks' pixels (None without masks)."""
        if step < self.eval_checks_from:
            return []
        alarms = [self.collapse.update(step, evaluation.metrics["diversity"])]
        if evaluation.largest_shares and real_shares is not None:
            alarms.append(self.empty.update(step, evaluation.largest_shares, max(real_shares)))
            coverage = evaluation.per_class["class_coverage"]
            alarms.append(self.missing.update(step, coverage, real_shares, len(evaluation.largest_shares)))
        return [a for a in alarms if a]

    @property
    def failing(self) -> bool:
        """A collapse is present now (missing_class is not one: a rollback target may still miss a class)."""
        return self.spike.active or self.collapse.active or self.empty.active

    def checkpoint_saved(self, step: int) -> None:
        if not self.failing:
            self.healthy_step = step

    def reset(self) -> None:
        for d in (self.spike, self.collapse, self.empty, self.missing):
            d.reset()

    def _detectors(self) -> dict:
        return {
            "d_spike": self.spike,
            "diversity_collapse": self.collapse,
            "empty_masks": self.empty,
            "missing_class": self.missing,
        }

    def state_dict(self) -> dict:
        """The detectors' history and the last healthy checkpoint (plain Python values, saved in checkpoints)."""
        return {"healthy_step": self.healthy_step, **{k: d.state_dict() for k, d in self._detectors().items()}}

    def load_state_dict(self, state: dict | None) -> None:
        """Restore state_dict(); None (a checkpoint saved before the health checks kept state) starts afresh."""
        self.reset()
        self.healthy_step = None
        if state is None:
            return
        try:
            for k, d in self._detectors().items():
                d.load_state_dict(state[k])
            self.healthy_step = state["healthy_step"]
        except (KeyError, TypeError, ValueError):
            self.reset()  # a state of another version: the checks start afresh, as a new run's do


class TrainingMonitor:
    """What the trainer's hooks call: evaluations (--eval-every), the best checkpoint (--keep-best), the health
    checks and what --on-collapse does about them. The generator methods yield events and return the action of
    the checks that fired: None, "stop" or "rollback"."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        r = trainer.config.run
        # samples are still forming early on (blurred, one-coloured masks): the checks on evaluations start after
        # the Bernoulli mask hardening, or after a quarter of the run when that is shorter
        self.health = HealthChecks(min(trainer.config.regularisation.bernoulli_warmup, r.iters // 4))
        self._evaluator: TrainingEvaluator | None = None  # built at the first evaluation, with _best
        self._best: BestTracker | None = None

    def check_finite(self, values: Mapping[str, float]) -> Iterator[Event]:
        """Raise FloatingPointError (after its event) when a logged value is NaN or infinite."""
        alarm = self.health.nonfinite.update(self.trainer.step, values)
        if alarm is not None:
            yield HealthEvent(self.trainer.step, alarm.kind, alarm.message, "stop")
            raise FloatingPointError(alarm.message)

    def on_stats(self, d_real: float) -> Iterator[Event]:
        action = None
        for alarm in self.health.on_stats(self.trainer.step, d_real):
            action = (yield from self._alarm(alarm)) or action
        return action

    def evaluate(self) -> Iterator[Event]:
        """Training metrics of the EMA generator on fixed noise (stats.jsonl, StepEval); keeps best.pt."""
        t = self.trainer
        if not t.evaluates:
            return None
        if self._evaluator is None:
            noise = t.generator.sample_noise(
                EVAL_SAMPLES, torch.Generator().manual_seed(offset_seed(t.config.run.seed, EVAL_NOISE_SEED_OFFSET))
            )
            self._evaluator = TrainingEvaluator(t.data, noise, t.device)
            self._best = BestTracker(t.config.run.keep_best, t.folder.read_best())
        evaluation = self._evaluator.evaluate(t.generator_ema)
        alarms = self.health.on_eval(t.step, evaluation, self._evaluator.real_share_list)
        # a state with a collapse present (the one a health check stops or rolls back on, or warns about) never
        # becomes best.pt, nor do weights that are not finite (never saved, as in Trainer.save_checkpoint)
        healthy = not self.health.failing and t.non_finite_weights() is None
        best = healthy and self._best.improves(evaluation.metrics)
        if best:
            t.folder.save_best(t.state_dict(), self._best.record(t.step, evaluation.metrics))
        per_class = {f"{k}_per_class": v for k, v in evaluation.per_class.items()}
        t.folder.append_stats({"step": t.step, "event": "eval", **evaluation.metrics, **per_class, "best": best})
        yield StepEval(t.step, evaluation.metrics, best, evaluation.per_class)
        action = None
        for alarm in alarms:
            action = (yield from self._alarm(alarm)) or action
        return action

    def _alarm(self, alarm: Alarm) -> Iterator[Event]:
        """Report a health alarm (stats.jsonl, log.txt, event); returns the --on-collapse action (always "warn"
        for an alarm that is not a collapse), None to warn."""
        t = self.trainer
        action = t.config.run.on_collapse if alarm.collapse else "warn"
        message = alarm.message
        if action == "rollback" and len(t.folder.read_run_json().get("rollbacks", [])) >= MAX_ROLLBACKS:
            # decided here, before the event goes out, so that every face sees a stop (a failure of the run)
            action = "stop"
            message = f"{message} ({MAX_ROLLBACKS} rollbacks made already; stopping at step {t.step})"
        t.folder.append_stats(
            {"step": t.step, "event": "health", "kind": alarm.kind, "message": message, "action": action}
        )
        t.folder.log(f"health: {message} ({action})")
        yield HealthEvent(t.step, alarm.kind, message, action)
        return None if action == "warn" else action

    def checkpoint_saved(self, step: int) -> None:
        self.health.checkpoint_saved(step)

    def act(self, action: str) -> Iterator[Event]:
        """Carry out a health check's action; returns "stop", "rolled_back", or None to train on.

        rollback (asked for only while fewer than MAX_ROLLBACKS were made; _alarm turns a further one into a stop):
        with no healthy checkpoint yet it trains on (stopping would
        lose the whole run, and the fault is in the log)."""
        t = self.trainer
        if action != "rollback":
            return action
        info = t.folder.read_run_json()
        to_step = self.health.healthy_step
        if to_step is None or to_step not in t.folder.checkpoint_steps():
            t.folder.log(f"no healthy checkpoint to roll back to at step {t.step}; training on")
            return None
        yield self.rollback(to_step, info, f"health check at step {t.step}")
        return "rolled_back"

    def rollback(self, to_step: int, info: dict, reason: str) -> RolledBack:
        """Back to the checkpoint of `to_step` with the discriminator's learning rate halved, recorded in log.txt
        and in run.json (`info`: its content)."""
        t, folder = self.trainer, self.trainer.folder
        at_step = t.step
        rates = t.learning_rates()
        lr_d = rates["lr_d"] / 2
        t.load_state_dict(folder.load_checkpoint(to_step, fallback=False))
        t.set_learning_rates(
            rates["lr_g"], lr_d
        )  # after the load, which restores the rates the checkpoint was saved with
        # the checks go on from the history saved with that checkpoint (t.load_state_dict restored it): the faults
        # seen after to_step belong to the abandoned steps, and the running D(real) level stays that of the healthy
        # steps, so a spike that comes back after the rollback is found again rather than taken into a new level
        self.health.checkpoint_saved(to_step)  # the checkpoint rolled back to is the healthy one (as on a resume)
        folder.discard_after(to_step)
        folder.truncate_stats(to_step)
        info.setdefault("rollbacks", []).append(
            {"at_step": at_step, "to_step": to_step, "lr_d": lr_d, "reason": reason}
        )
        folder.write_run_json(info)
        folder.log(f"rollback at step {at_step} to checkpoint step {to_step}, lr_d halved to {lr_d:g}: {reason}")
        return RolledBack(at_step, to_step, lr_d, reason)
