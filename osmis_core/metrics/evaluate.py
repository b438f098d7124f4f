"""All metrics of a set of generated images in one call, and their metrics.json / metrics.csv / table."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from osmis_core.errors import ConfigError

from ._common import PerImageScores, check_images, check_masks
from .diversity import PixelDiversity
from .lpips_metrics import LPIPSDiversity, LPIPSToTrain
from .miou import Progress, SegmentationMIoU
from .sifid import INCEPTION_LAYERS, INCEPTION_MIN_SIZE, SIFID, InceptionFeatures
from ..files import atomic_write_text
from .weights import (ALEXNET, INCEPTION_V3, LPIPS_ALEX_HEADS, RESNET18, MissingWeightsError, WeightsFile,
                      build_inception, build_lpips, missing_weights)

METRICS = ("sifid", "lpips", "lpips_train", "diversity", "miou")
REQUIRED_WEIGHTS: dict[str, tuple[WeightsFile, ...]] = {
    "sifid": (INCEPTION_V3,),
    "lpips": (ALEXNET, LPIPS_ALEX_HEADS),
    "lpips_train": (ALEXNET, LPIPS_ALEX_HEADS),
    "diversity": (),
    "miou": (RESNET18,),
}


def missing_weights_for(metrics: Sequence[str], weights_dir: str | Path | None = None
                        ) -> dict[str, list[WeightsFile]]:
    """The pretrained weights files that each named metric needs and that are not found (the one check used by
    the CLI, the app and evaluate_images); metrics that need no weights map to []."""
    return {m: missing_weights(REQUIRED_WEIGHTS.get(m, ()), weights_dir) for m in metrics}


RANDOM_WEIGHTS_WARNING = "random weights: scores are NOT comparable with published numbers"

_LABELS = {
    "num_images": "generated images",
    "lpips_diversity": "LPIPS diversity (higher = more diverse)",
    "lpips_to_train": "LPIPS to training data (near 0 = copying)",
    "pixel_diversity": "pixel diversity",
    "accuracy_gen_to_real": "pixel accuracy, train generated / test real",
    "miou_gen_to_real": "mIoU, train generated / test real",
    "accuracy_real_to_gen": "pixel accuracy, train real / test generated",
    "miou_real_to_gen": "mIoU, train real / test generated",
}


@dataclass(frozen=True)
class Compat:
    """Switches reproducing quirks of the published research code; all off by default.

    lpips_unit_range_inputs: feed [0, 1] images to LPIPS as if they were [-1, 1] (gives much lower values).
    video_frame0_only: score videos against frame 0 only instead of the nearest frame (SIFID).
    """

    lpips_unit_range_inputs: bool = False
    video_frame0_only: bool = False


def _check_request(metrics: Sequence[str], sifid_dims: Sequence[int], size: tuple[int, int]) -> None:
    """Reject unknown metrics, unsupported SIFID dims and images too small for the requested dims."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    if "sifid" not in metrics:
        return
    bad_dims = [d for d in sifid_dims if d not in INCEPTION_LAYERS]
    if bad_dims:
        raise ConfigError(f"SIFID dims {bad_dims} not supported; choose from {sorted(INCEPTION_LAYERS)}")
    too_big = [d for d in sifid_dims if min(size) < INCEPTION_MIN_SIZE[d]]
    if too_big:
        raise ConfigError(f"SIFID at dims {too_big[0]} needs images of at least {INCEPTION_MIN_SIZE[too_big[0]]} "
                          f"pixels per side, the generated images are {size[0]}x{size[1]}")


def _feed(metric, images: torch.Tensor, batch_size: int, stage: str, progress: Optional[Progress]) -> None:
    """metric.update() batch by batch, reporting progress after each batch."""
    total = images.shape[0]
    for start in range(0, total, batch_size):
        metric.update(images[start:start + batch_size])
        if progress is not None:
            progress(stage, min(start + batch_size, total), total)


def _output_keys(metric: str, sifid_dims: Sequence[int]) -> tuple[list[str], list[str]]:
    """The summary keys and per-image keys a metric fills."""
    if metric == "sifid":
        keys = [f"sifid_{d}" for d in sifid_dims]
        return keys, keys
    return {
        "lpips": (["lpips_diversity"], []),
        "lpips_train": (["lpips_to_train"], ["lpips_to_train"]),
        "diversity": (["pixel_diversity"], []),
        "miou": (["accuracy_gen_to_real", "miou_gen_to_real", "accuracy_real_to_gen", "miou_real_to_gen"],
                 ["accuracy_real_to_gen", "miou_real_to_gen"]),
    }[metric]


class _Report:
    """Summary values, per-image columns and warnings as they are computed."""

    def __init__(self, n: int, names: Optional[Sequence[str]]):
        self.summary: dict[str, Any] = {"num_images": n}
        self.per_image: list[dict[str, Any]] = [{"index": i} if names is None else {"index": i, "name": names[i]}
                                                for i in range(n)]
        self.warnings: list[str] = []

    def column(self, key: str, values: Sequence) -> None:
        for row, value in zip(self.per_image, values):
            row[key] = value

    def scores(self, key: str, scores: PerImageScores, video: bool) -> None:
        """Mean, per-image values and, for a video, each image's nearest frame."""
        self.summary[key] = scores.mean
        self.column(key, scores.per_image.tolist())
        if video:
            self.column(f"{key}_frame", scores.nearest.tolist())

    def unavailable(self, summary_keys: Sequence[str], per_image_keys: Sequence[str]) -> None:
        self.summary.update(dict.fromkeys(summary_keys))
        for key in per_image_keys:
            self.column(key, [None] * len(self.per_image))


def evaluate_images(fake_images: torch.Tensor, real_images: torch.Tensor,
                    fake_masks: Optional[torch.Tensor] = None, real_masks: Optional[torch.Tensor] = None, *,
                    metrics: Sequence[str] = METRICS, sifid_dims: Sequence[int] = (64,),
                    weights_dir: Optional[str | Path] = None, random_weights: bool = False,
                    compat: Compat = Compat(), device: str | torch.device = "cpu",
                    progress: Optional[Progress] = None, skip_missing: bool = False,
                    names: Optional[Sequence[str]] = None, batch_size: int = 8,
                    miou_steps: int = 500, miou_batch_size: int = 5) -> dict[str, Any]:
    """Score generated images (N x 3 x H x W in [0, 1]) against the training image or frames (T x 3 x H x W).

    Masks are N x H x W / T x H x W int64 class ids; without both, mIoU is skipped with a warning.
    Missing pretrained weights raise one MissingWeightsError naming every missing file, unless
    `skip_missing`: then the metrics that need them are reported as unavailable (None) and the rest run.
    `progress(stage, done, total)` is called as the work advances.
    Returns {"summary": {...}, "per_image": [{...}, ...], "warnings": [...], "random_weights": bool,
    "unavailable": [metric, ...]}.
    """
    metrics = list(dict.fromkeys(metrics))
    n = check_images(fake_images, "generated images").shape[0]
    video = check_images(real_images, "real images").shape[0] > 1
    _check_request(metrics, sifid_dims, tuple(fake_images.shape[-2:]))
    if names is not None and len(names) != n:
        raise ValueError(f"{len(names)} names for {n} generated images")
    report = _Report(n, names)
    if random_weights:
        report.warnings.append(RANDOM_WEIGHTS_WARNING)
    if "miou" in metrics:
        if fake_masks is None or real_masks is None:
            report.warnings.append("mIoU skipped: it needs masks for both the generated and the real images")
            metrics.remove("miou")
        elif int(max(check_masks(fake_masks, fake_images, "generated masks").max(),
                     check_masks(real_masks, real_images, "real masks").max())) < 1:
            report.warnings.append("mIoU skipped: the masks have a single class")
            metrics.remove("miou")
    for metric in ("lpips", "diversity"):
        if metric in metrics and n < 2:
            report.warnings.append(f"{metric} skipped: it needs at least 2 generated images")
            metrics.remove(metric)

    unavailable: list[str] = []
    if not random_weights:
        missing = missing_weights_for(metrics, weights_dir)
        all_missing = list(dict.fromkeys(f for files in missing.values() for f in files))
        if all_missing and not skip_missing:
            raise MissingWeightsError(all_missing, weights_dir)
        unavailable = [m for m, files in missing.items() if files]
        for metric in unavailable:
            report.unavailable(*_output_keys(metric, sifid_dims))
            report.warnings.append(f"{metric} unavailable: missing "
                                   f"{', '.join(f.filename for f in missing[metric])}")
    run = [m for m in metrics if m not in unavailable]

    if "sifid" in run:
        inception = build_inception(weights_dir, random_weights)
        for dims in sifid_dims:
            sifid = SIFID(dims, feature_extractor=InceptionFeatures(inception, dims), device=device,
                          video_frame0_only=compat.video_frame0_only)
            sifid.set_real(real_images)
            _feed(sifid, fake_images, batch_size, f"SIFID {dims}", progress)
            report.scores(f"sifid_{dims}", sifid.compute(), video)

    if {"lpips", "lpips_train"} & set(run):
        lpips_options = dict(model=build_lpips(weights_dir, random_weights), device=device,
                             batch_size=batch_size, unit_range_inputs=compat.lpips_unit_range_inputs)
        if "lpips" in run:
            diversity = LPIPSDiversity(**lpips_options)
            _feed(diversity, fake_images[:diversity.max_images], batch_size, "LPIPS diversity", progress)
            report.summary["lpips_diversity"] = diversity.compute()
        if "lpips_train" in run:
            to_train = LPIPSToTrain(**lpips_options)
            to_train.set_real(real_images)
            _feed(to_train, fake_images, batch_size, "LPIPS to training data", progress)
            report.scores("lpips_to_train", to_train.compute(), video)

    if "diversity" in run:
        pixel = PixelDiversity(device)
        pixel.set_real(real_images)
        _feed(pixel, fake_images, batch_size, "pixel diversity", progress)
        report.summary["pixel_diversity"] = pixel.compute()

    if "miou" in run:
        num_classes = int(max(fake_masks.max(), real_masks.max())) + 1
        miou = SegmentationMIoU(num_classes, steps=miou_steps, batch_size=miou_batch_size,
                                weights_dir=weights_dir, random_weights=random_weights, device=device,
                                progress=progress)
        miou.set_real(real_images, real_masks)
        miou.update(fake_images, fake_masks)
        result = miou.compute()
        report.summary.update(accuracy_gen_to_real=result.accuracy_gen_to_real,
                              miou_gen_to_real=result.miou_gen_to_real,
                              accuracy_real_to_gen=result.accuracy_real_to_gen,
                              miou_real_to_gen=result.miou_real_to_gen)
        report.column("accuracy_real_to_gen", result.per_image_accuracy.tolist())
        report.column("miou_real_to_gen", result.per_image_miou.tolist())

    return {"summary": report.summary, "per_image": report.per_image, "warnings": report.warnings,
            "random_weights": random_weights, "unavailable": unavailable}


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/inf: such values become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json_text(result: dict[str, Any]) -> str:
    clean = {
        "summary": {k: _finite_or_none(v) for k, v in result["summary"].items()},
        "per_image": [{k: _finite_or_none(v) for k, v in row.items()} for row in result["per_image"]],
        "warnings": list(result["warnings"]),
        "random_weights": bool(result["random_weights"]),
        "unavailable": list(result.get("unavailable", [])),
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
    """Write metrics.json and metrics.csv into `out_dir`, each through the atomic writer: a reader sees either the
    previous file or the whole new one. Raises OSError naming the file that could not be written."""
    out_dir = Path(out_dir)
    json_path, csv_path = out_dir / "metrics.json", out_dir / "metrics.csv"
    atomic_write_text(json_path, _json_text(result))
    atomic_write_text(csv_path, _csv_text(result))
    return json_path, csv_path


def _label(key: str) -> str:
    if key.startswith("sifid_"):
        return f"SIFID, dims {key[len('sifid_'):]} (lower = better)"
    return _LABELS.get(key, key)


def format_table(result: dict[str, Any]) -> str:
    """A short text table of the summary, followed by the warnings."""
    rows = [(_label(k), "unavailable" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v))
            for k, v in result["summary"].items()]
    width = max(len(label) for label, _ in rows)
    lines = [f"{'metric'.ljust(width)}  value", *(f"{label.ljust(width)}  {value}" for label, value in rows)]
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(lines)
