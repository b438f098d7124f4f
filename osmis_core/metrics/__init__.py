"""Quality metrics of one-shot synthesis (docs/metrics.md): SIFID, LPIPS diversity, LPIPS to the
training data, pixel diversity and mIoU of generated masks; offline-safe pretrained weights.

Importing this package imports no torch: the registry and the facts it holds (weights files, mIoU settings) load
at once, and every name below that needs torch is imported from its module on first use (PEP 562), so that
`osmis --help` and the CLI's parser stay cheap.
"""

import importlib

from .miou_settings import AFFORDABLE, FULL, MIoUSetting
from .registry import (
    REGISTRY,
    RENDERER_METRICS,
    LazyFactory,
    Metric,
    MetricContext,
    MetricEntry,
    Probe,
    Scores,
    key_info,
    metric_names,
    register,
)
from .weight_files import ALEXNET, INCEPTION_V3, LPIPS_ALEX_HEADS, RESNET18, WeightsFile

# The names that need torch, by the module (of this package) that defines them.
_LAZY_MODULES = {
    "_common": ("PerImageScores",),
    "diversity": ("PixelDiversity",),
    "evaluate": (
        "CPU_TIME_BUDGET_S",
        "RANDOM_WEIGHTS_WARNING",
        "Compat",
        "EvaluationPlan",
        "PlannedMetric",
        "default_time_budget",
        "evaluate_images",
        "format_table",
        "metrics_files",
        "write_metrics",
    ),
    "frechet": (
        "FrechetReference",
        "distances_to_references",
        "frechet_distance",
        "frechet_distances",
        "gaussian_stats",
    ),
    "lpips_metrics": ("LPIPSDiversity", "LPIPSToTrain"),
    "miou": ("MIoUCost", "MIoUResult", "SegmentationMIoU", "UNetResNet18", "miou_setting_for"),
    "sifid": ("SIFID", "InceptionFeatures"),
    "weights": (
        "MissingWeightsError",
        "build_inception",
        "build_lpips",
        "build_resnet18",
        "find_weights",
        "missing_weights",
        "require_weights",
    ),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str):
    """A torch-using name of this package, imported from its module on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AFFORDABLE",
    "ALEXNET",
    "CPU_TIME_BUDGET_S",
    "FULL",
    "INCEPTION_V3",
    "LPIPS_ALEX_HEADS",
    "RANDOM_WEIGHTS_WARNING",
    "REGISTRY",
    "RENDERER_METRICS",
    "RESNET18",
    "Compat",
    "EvaluationPlan",
    "FrechetReference",
    "InceptionFeatures",
    "LPIPSDiversity",
    "LPIPSToTrain",
    "LazyFactory",
    "MIoUCost",
    "MIoUResult",
    "MIoUSetting",
    "Metric",
    "MetricContext",
    "MetricEntry",
    "PlannedMetric",
    "Probe",
    "Scores",
    "default_time_budget",
    "key_info",
    "metric_names",
    "miou_setting_for",
    "register",
    "MissingWeightsError",
    "PerImageScores",
    "PixelDiversity",
    "SIFID",
    "SegmentationMIoU",
    "UNetResNet18",
    "WeightsFile",
    "build_inception",
    "build_lpips",
    "build_resnet18",
    "distances_to_references",
    "evaluate_images",
    "find_weights",
    "format_table",
    "frechet_distance",
    "frechet_distances",
    "gaussian_stats",
    "metrics_files",
    "missing_weights",
    "require_weights",
    "write_metrics",
]
