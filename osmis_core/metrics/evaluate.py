"""All metrics of a set of generated images in one call (a loop over the registry), its plan with a time
estimate per metric, and the metrics.json / metrics.csv / table it produces."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from osmis_core.errors import ConfigError

from ..files import atomic_write_texts
from ._common import check_images, check_masks
from .miou import miou_setting_for
from .miou_settings import MIoUSetting, Progress
from .registry import (
    REGISTRY,
    Metric,
    MetricContext,
    MetricEntry,
    Probe,
    check_sifid_dims,
    format_seconds,
    key_info,
    metric_names,
)
from .weights import MissingWeightsError, WeightsFile, missing_weights


def missing_weights_for(metrics: Sequence[str], weights_dir: str | Path | None = None) -> dict[str, list[WeightsFile]]:
    """The pretrained weights files that each named metric needs (its registry entry) and that are not found: the
    one check used by the CLI, the app and evaluate_images; metrics that need no weights, or that the registry does
    not hold (the renderer measures check their own), map to []."""
    return {m: missing_weights(REGISTRY[m].weights, weights_dir) if m in REGISTRY else [] for m in metrics}


RANDOM_WEIGHTS_WARNING = "random weights: scores are NOT comparable with published numbers"

# What `osmis run` may spend on scoring on a CPU (README: the quick preset's main job is about 8 minutes of
# training plus at most 3 minutes of scores). Metrics estimated past it are skipped with the command to run later.
CPU_TIME_BUDGET_S = 180.0
# Batches after a metric's first are timed for at least this long (seconds) before its plan, when there are enough.
PROBE_MIN_S = 0.5


def default_time_budget(device: str | torch.device) -> float | None:
    """The scoring budget of the main job: CPU_TIME_BUDGET_S on a CPU, none on an accelerator."""
    return CPU_TIME_BUDGET_S if torch.device(device).type == "cpu" else None


@dataclass(frozen=True)
class Compat:
    """Switches reproducing quirks of the published research code; all off by default.

    lpips_unit_range_inputs: feed [0, 1] images to LPIPS as if they were [-1, 1] (gives much lower values).
    video_frame0_only: score videos against frame 0 only instead of the nearest frame (SIFID).
    """

    lpips_unit_range_inputs: bool = False
    video_frame0_only: bool = False


@dataclass(frozen=True)
class PlannedMetric:
    """One metric of an evaluation: its estimated wall time on this device (measured on its first batch) and,
    when it will not run after all, why (`skipped`)."""

    name: str
    label: str
    seconds: float
    detail: str = ""
    skipped: str | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (Metric.estimate); sum = seconds


@dataclass(frozen=True)
class EvaluationPlan:
    """What an evaluation will compute, how long each part should take, and what it will not compute."""

    planned: tuple[PlannedMetric, ...]
    not_computed: dict[str, str]  # metric name -> reason, for metrics that will not run
    num_images: int
    device: str
    budget: float | None = None
    title: str | None = None  # what is scored, when not the registry's metrics (e.g. "renderer measures")

    @property
    def total_seconds(self) -> float:
        return sum(m.seconds for m in self.planned if m.skipped is None)

    def over_budget(self) -> list[str]:
        """Names of the metrics skipped because their estimate went past the budget."""
        return [m.name for m in self.planned if m.skipped is not None]

    def summary(self) -> str:
        """Lines both faces show before the work starts."""
        lines = [
            (f"{self.title} of {self.num_images} images" if self.title else f"scoring {self.num_images} images")
            + f" on {self.device}"
            + (f" (budget {format_seconds(self.budget)})" if self.budget is not None else "")
            + ":"
        ]
        for m in self.planned:
            detail = f" ({m.detail})" if m.detail else ""
            state = f"  NOT computed: {m.skipped}" if m.skipped else ""
            lines.append(f"  {m.label}: {_about(m.seconds)}{detail}{state}")
        for name, reason in self.not_computed.items():
            if name not in {m.name for m in self.planned} and name in REGISTRY:
                lines.append(f"  {REGISTRY[name].label}: not computed, {reason}")
        lines.append(f"  total: {_about(self.total_seconds)}")
        return "\n".join(lines)


def _about(seconds: float) -> str:
    """An estimate as the plan says it: 'about 4 s', but 'under 1 s' (not 'about under 1 s')."""
    text = format_seconds(seconds)
    return text if text.startswith("under") else f"about {text}"


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_evaluation_options(
    metrics: Sequence[str] | None,
    sifid_dims: Sequence[int],
    time_budget: float | None = None,
    miou_steps: int | None = None,
    empty_ok: bool = False,
) -> None:
    """Refuse (ConfigError naming the option) what a library caller can pass that the CLI's parser never would: a
    string for the list of metrics (read letter by letter), an empty list (taken for the default metrics by
    evaluate_gallery; empty_ok: a caller, as evaluate_images for a render gallery's own measures, for which none of
    the registry's metrics is a valid choice), a bare
    number for sifid_dims, a negative or NaN time budget (ignored), a fractional mIoU step count. Metric names are
    checked where they are split by kind (render galleries' measures are named there too)."""
    if metrics is not None:
        if not isinstance(metrics, (list, tuple)) or not all(isinstance(m, str) for m in metrics):
            raise ConfigError(
                f"metrics must be a list of metric names such as ['sifid', 'diversity'] (None: the default ones), "
                f"got {metrics!r}."
            )
        if not metrics and not empty_ok:
            raise ConfigError(f"metrics: no metric given; choose from {', '.join(metric_names())}.")
    if not isinstance(sifid_dims, (list, tuple)) or not sifid_dims or not all(_whole(d) for d in sifid_dims):
        raise ConfigError(f"--sifid-dims must be a list of Inception layers such as (64, 192), got {sifid_dims!r}.")
    check_sifid_dims(sifid_dims)
    if time_budget is not None and not (
        isinstance(time_budget, (int, float)) and not isinstance(time_budget, bool) and 0 <= time_budget < math.inf
    ):
        raise ConfigError(
            f"--time-budget must be a finite number of seconds >= 0 (None: no budget), got {time_budget!r}."
        )
    if miou_steps is not None and not (_whole(miou_steps) and miou_steps >= 1):
        raise ConfigError(f"--miou-steps must be a whole number of at least 1, got {miou_steps!r}.")


def _unknown(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in REGISTRY]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(metric_names())}")


# Below this standard deviation (images in [-1, 1]) the real images count as one flat colour.
FLAT_STD = 1e-5


def _precondition(
    entry: MetricEntry, n: int, size: tuple[int, int], fake_masks, real_masks, real_images: torch.Tensor
) -> str | None:
    """Why the metric cannot run on this input, or None."""
    if entry.needs_spread and not float(real_images.double().std()) > FLAT_STD:
        return "skipped: the training image is one flat colour"
    if entry.needs_masks:
        if fake_masks is None or real_masks is None:
            return "skipped: needs masks of the generated and the real images"
        if int(real_masks.max()) == int(real_masks.min()):  # a segmenter trained on it learns a constant
            return "skipped: one class in the real mask"
    if n < entry.min_images:
        return f"skipped: needs at least {entry.min_images} generated images"
    if min(size) < entry.min_size:
        return f"skipped: needs images of at least {entry.min_size} pixels per side"
    return None


def _warning(entry: MetricEntry, reason: str) -> str:
    return f"{entry.label} {reason}" if reason.startswith("skipped:") else f"{entry.label} not computed: {reason}"


class _Report:
    """Summary values, per-image columns, reasons and warnings as they are computed."""

    def __init__(self, n: int, names: Sequence[str] | None):
        self.summary: dict[str, Any] = {"num_images": n}
        self.per_image: list[dict[str, Any]] = [
            {"index": i} if names is None else {"index": i, "name": names[i]} for i in range(n)
        ]
        self.warnings: list[str] = []
        self.not_computed: dict[str, str] = {}
        self.settings: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}

    def computed(self, name: str, scores, seconds: float) -> None:
        self.summary.update(scores.summary)
        for key, values in scores.per_image.items():
            for row, value in zip(self.per_image, values):
                row[key] = value
        if scores.settings:
            self.settings[name] = dict(scores.settings)
        self.seconds[name] = round(seconds, 3)

    def not_run(self, entry: MetricEntry, reason: str, sifid_dims: Sequence[int]) -> None:
        """Every summary key of the metric carries the reason instead of a number."""
        self.not_computed[entry.name] = reason
        self.summary.update(dict.fromkeys(entry.keys(sifid_dims)[0], reason))
        self.warnings.append(_warning(entry, reason))


def _feed(
    metric: Metric,
    fake: torch.Tensor,
    masks: torch.Tensor | None,
    start: int,
    batch_size: int,
    stage: str,
    progress: Progress | None,
) -> None:
    """metric.update() batch by batch from image `start` on, reporting progress after each batch."""
    total = fake.shape[0]
    for first in range(start, total, batch_size):
        metric.update(fake[first : first + batch_size], None if masks is None else masks[first : first + batch_size])
        if progress is not None:
            progress(stage, min(first + batch_size, total), total)


def evaluate_images(
    fake_images: torch.Tensor,
    real_images: torch.Tensor,
    fake_masks: torch.Tensor | None = None,
    real_masks: torch.Tensor | None = None,
    *,
    metrics: Sequence[str] | None = None,
    sifid_dims: Sequence[int] = (64,),
    weights_dir: str | Path | None = None,
    random_weights: bool = False,
    compat: Compat = Compat(),
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    skip_missing: bool = False,
    names: Sequence[str] | None = None,
    batch_size: int = 8,
    miou_setting: str | MIoUSetting = "auto",
    miou_steps: int | None = None,
    miou_batch_size: int = 5,
    time_budget: float | None = None,
    on_plan: Callable[[EvaluationPlan], None] | None = None,
) -> dict[str, Any]:
    """Score generated images (N x 3 x H x W in [0, 1]) against the training image or frames (T x 3 x H x W):
    every metric of `metrics` (registry names; default: the registry's default metrics), in registry order.

    Masks are N x H x W / T x H x W int64 class ids. A metric that cannot run (no masks, too few images,
    missing weights with `skip_missing`, over `time_budget`) is "not computed": its summary keys hold the reason
    as a string ("needs inception_v3_google-0cc3c7bd.pth", "skipped: one class in the real mask", ...) and
    `not_computed` maps its name to that reason. Missing weights without `skip_missing` raise one
    MissingWeightsError naming every missing file. `miou_setting` is "auto" (affordable on a CPU, full
    elsewhere), "full", "affordable" or a MIoUSetting; `miou_steps` overrides its steps.

    Before the work, each metric's first batches are fed and timed (those after the first), and the metric
    estimates each phase of its whole job from them (Metric.estimate: seconds, on this device);
    metrics whose estimate would take the running total past `time_budget` (seconds) are skipped, and
    `on_plan(EvaluationPlan)` is called. `progress(stage, done, total)` is called as the work advances.
    Returns {"summary", "per_image", "warnings", "random_weights", "unavailable" (metrics lacking weights),
    "not_computed", "settings" (per metric, e.g. the mIoU steps), "seconds" (measured per metric), "estimates"
    (per metric), "estimate_phases" and "phase_seconds" (per metric, seconds per phase, estimated and measured,
    under the same phase names)}.
    Raises ConfigError for unknown metrics, a bad option (check_evaluation_options) or one a metric cannot
    honour, ValueError for malformed tensors.
    """
    check_evaluation_options(metrics, sifid_dims, time_budget, miou_steps, empty_ok=True)
    requested = list(dict.fromkeys(metric_names(default_only=True) if metrics is None else metrics))
    _unknown(requested)
    n = check_images(fake_images, "generated images").shape[0]
    check_images(real_images, "real images")
    if fake_masks is not None:
        check_masks(fake_masks, fake_images, "generated masks")
    if real_masks is not None:
        check_masks(real_masks, real_images, "real masks")
    if names is not None and len(names) != n:
        raise ValueError(f"{len(names)} names for {n} generated images")
    size = tuple(fake_images.shape[-2:])
    if not isinstance(miou_setting, MIoUSetting):
        try:
            miou_setting = miou_setting_for(device, miou_setting)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    try:
        miou_setting = miou_setting.with_steps(miou_steps)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    num_classes = 0 if fake_masks is None or real_masks is None else int(max(fake_masks.max(), real_masks.max())) + 1
    ctx = MetricContext(
        size,
        n,
        tuple(sifid_dims),
        weights_dir,
        random_weights,
        compat.lpips_unit_range_inputs,
        compat.video_frame0_only,
        device,
        batch_size,
        num_classes,
        miou_setting,
        miou_batch_size,
        progress,
    )
    entries = [entry for name, entry in REGISTRY.items() if name in requested]
    for entry in entries:
        if entry.validate is not None:
            entry.validate(ctx)

    report = _Report(n, names)
    if random_weights:
        report.warnings.append(RANDOM_WEIGHTS_WARNING)
    reasons = {e.name: r for e in entries if (r := _precondition(e, n, size, fake_masks, real_masks, real_images))}
    unavailable: list[str] = []
    if not random_weights:
        missing = missing_weights_for([e.name for e in entries if e.name not in reasons], weights_dir)
        all_missing = list(dict.fromkeys(f for files in missing.values() for f in files))
        if all_missing and not skip_missing:
            raise MissingWeightsError(all_missing, weights_dir)
        unavailable = [name for name, files in missing.items() if files]
        reasons.update({name: "needs " + ", ".join(f.filename for f in missing[name]) for name in unavailable})

    # Build each metric and feed it its first batches, timing those after the first (which also pays one-time
    # work): the estimate comes from this device, this input and this load, and those batches are real work kept
    # for the result. Cheap batches are timed over a longer window (PROBE_MIN_S), so that one batch's jitter does
    # not become the whole estimate; at most half of the batches are fed before the plan.
    running: dict[str, Metric] = {}
    planned: list[PlannedMetric] = []
    fed: dict[str, int] = {}
    update_s: dict[str, float] = {}
    spent: dict[str, float] = {}
    total = 0.0
    batches = math.ceil(n / batch_size)
    most = min(batches, max(2, batches // 2))
    for entry in entries:
        if entry.name in reasons:
            continue
        start = time.perf_counter()
        metric = entry.factory(ctx)
        metric.set_real(real_images, real_masks)
        done, timed_s = 0, 0.0
        while done < most and (done < 2 or timed_s < PROBE_MIN_S):
            batch_start = time.perf_counter()
            metric.update(
                fake_images[done * batch_size : (done + 1) * batch_size],
                None if fake_masks is None else fake_masks[done * batch_size : (done + 1) * batch_size],
            )
            if done:
                timed_s += time.perf_counter() - batch_start
            done += 1
        first = time.perf_counter() - start
        batch_s = timed_s / (done - 1) if done > 1 else first
        estimate_start = time.perf_counter()
        phases = metric.estimate(Probe(first, batch_s, batches - done, done))
        seconds = sum(phases.values())
        skipped = None
        if time_budget is not None and total + seconds > time_budget:
            skipped = (
                f"skipped: estimated {format_seconds(seconds)}, over the time budget of {format_seconds(time_budget)}"
            )
            reasons[entry.name] = skipped
        else:
            total += seconds
            running[entry.name] = metric
            fed[entry.name] = done
            update_s[entry.name] = first
            spent[entry.name] = time.perf_counter() - estimate_start  # work done by estimate is counted in phases
        planned.append(PlannedMetric(entry.name, entry.label, seconds, metric.describe(), skipped, phases))
    plan = EvaluationPlan(
        tuple(planned), {e.name: reasons[e.name] for e in entries if e.name in reasons}, n, str(device), time_budget
    )
    if on_plan is not None:
        on_plan(plan)

    phase_seconds: dict[str, dict[str, float]] = {}
    for entry in entries:
        if entry.name in reasons:
            report.not_run(entry, reasons[entry.name], sifid_dims)
            continue
        metric = running[entry.name]
        start = time.perf_counter()
        _feed(metric, fake_images, fake_masks, fed[entry.name] * batch_size, batch_size, entry.label, progress)
        fed_s = time.perf_counter() - start
        scores = metric.compute()
        compute_s = time.perf_counter() - start - fed_s
        seconds = update_s[entry.name] + spent[entry.name] + fed_s + compute_s
        report.computed(entry.name, scores, seconds)
        phase_seconds[entry.name] = {
            "update": round(update_s[entry.name] + fed_s, 3),
            **{k: round(v, 3) for k, v in (metric.phase_seconds() or {"compute": compute_s}).items()},
        }

    return {
        "summary": report.summary,
        "per_image": report.per_image,
        "warnings": report.warnings,
        "random_weights": random_weights,
        "unavailable": unavailable,
        "not_computed": report.not_computed,
        "settings": report.settings,
        "seconds": report.seconds,
        "estimates": {m.name: round(m.seconds, 3) for m in planned},
        "estimate_phases": {m.name: {k: round(v, 3) for k, v in m.phases.items()} for m in planned},
        "phase_seconds": phase_seconds,
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: such values become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json_text(result: dict[str, Any]) -> str:
    clean = {
        "summary": {k: _finite(v) for k, v in result["summary"].items()},
        "per_image": [{k: _finite(v) for k, v in row.items()} for row in result["per_image"]],
        "warnings": list(result["warnings"]),
        "random_weights": bool(result["random_weights"]),
        "unavailable": list(result.get("unavailable", [])),
        "not_computed": dict(result.get("not_computed", {})),
        "settings": dict(result.get("settings", {})),
        "seconds": dict(result.get("seconds", {})),
        "estimates": dict(result.get("estimates", {})),
    }
    return json.dumps(clean, indent=2) + "\n"


def _csv_text(result: dict[str, Any]) -> str:
    """One row per image, then one "summary" row; columns = per-image keys, then summary-only keys."""
    columns = list(dict.fromkeys(k for row in result["per_image"] for k in row))
    columns += [k for k in result["summary"] if k not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in result["per_image"]:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    summary = {k: "" if v is None else v for k, v in result["summary"].items()}
    writer.writerow({**summary, "index": "summary"})
    return out.getvalue()


def write_metrics(out_dir: str | Path, result: dict[str, Any]) -> tuple[Path, Path]:
    """Write metrics.json and metrics.csv into `out_dir`, together through the atomic writer: a reader sees either
    the previous pair or the whole new one. Raises OSError naming the file that could not be written."""
    files = metrics_files(out_dir, result)
    atomic_write_texts(files)
    json_path, csv_path = files
    return json_path, csv_path


def metrics_files(out_dir: str | Path, result: dict[str, Any]) -> dict[Path, str]:
    """metrics.json and metrics.csv of `result` in `out_dir`: path -> text, for a writer that puts them in place
    with other files at once (files.atomic_write_texts)."""
    out_dir = Path(out_dir)
    return {out_dir / "metrics.json": _json_text(result), out_dir / "metrics.csv": _csv_text(result)}


def _label(key: str) -> str:
    if key == "num_images":
        return "generated images"
    info = key_info(key)
    return key if info is None else info[0]


NOTE_SUFFIX = "_note"  # summary key K + NOTE_SUFFIX: text saying why K is null, or how it was computed


# THE word for a score with no value (null in metrics.json, NaN or infinity before it is stored), wherever it is shown
MISSING_SCORE = "missing"


def summary_rows(summary: dict[str, Any], digits: int = 4) -> list[tuple[str, str]]:
    """(key, text) per summary value, as every face shows it: a value with a note (KEY_note) shows the note beside
    it, or instead of it when the value is null, which reads "missing" without one (metrics.json stores a NaN or
    infinite score as null, as it stores a score taken out by hand: no number is there, whichever); the note keys are
    not rows of their own; floats to `digits` significant digits."""
    rows = []
    for k, v in summary.items():
        if k.endswith(NOTE_SUFFIX) and k[: -len(NOTE_SUFFIX)] in summary:
            continue  # shown with its value
        note = summary.get(k + NOTE_SUFFIX)
        if v is None:
            text = note or MISSING_SCORE
        else:
            text = f"{v:.{digits}g}" if isinstance(v, float) else str(v)
            text += f" ({note})" if note else ""
        rows.append((k, text))
    return rows


def format_table(result: dict[str, Any]) -> str:
    """A short text table of the summary (summary_rows), followed by the warnings."""
    rows = [(_label(k), text) for k, text in summary_rows(result["summary"])]
    width = max(len(label) for label, _ in rows)
    lines = [f"{'metric'.ljust(width)}  value", *(f"{label.ljust(width)}  {value}" for label, value in rows)]
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(lines)
