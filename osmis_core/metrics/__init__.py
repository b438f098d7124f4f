"""Quality metrics of one-shot synthesis (spec/metrics.md): SIFID, LPIPS diversity, LPIPS to the
training data, pixel diversity and mIoU of generated masks; offline-safe pretrained weights."""

from ._common import PerImageScores
from .diversity import PixelDiversity
from .evaluate import (CPU_TIME_BUDGET_S, RANDOM_WEIGHTS_WARNING, Compat, EvaluationPlan, PlannedMetric,
                       default_time_budget, evaluate_images, format_table, write_metrics)
from .frechet import FrechetReference, distances_to_references, frechet_distance, frechet_distances, gaussian_stats
from .lpips_metrics import LPIPSDiversity, LPIPSToTrain
from .miou import AFFORDABLE, FULL, MIoUResult, MIoUSetting, SegmentationMIoU, UNetResNet18, miou_setting_for
from .registry import REGISTRY, Metric, MetricContext, MetricEntry, Scores, key_info, metric_names, register
from .sifid import SIFID, InceptionFeatures
from .weights import (ALEXNET, INCEPTION_V3, LPIPS_ALEX_HEADS, RESNET18, MissingWeightsError, WeightsFile,
                      build_inception, build_lpips, build_resnet18, find_weights, missing_weights,
                      require_weights)

__all__ = [
    "AFFORDABLE", "ALEXNET", "CPU_TIME_BUDGET_S", "FULL", "INCEPTION_V3", "LPIPS_ALEX_HEADS",
    "RANDOM_WEIGHTS_WARNING", "REGISTRY", "RESNET18", "Compat", "EvaluationPlan", "FrechetReference",
    "InceptionFeatures", "LPIPSDiversity", "LPIPSToTrain", "MIoUResult", "MIoUSetting", "Metric", "MetricContext",
    "MetricEntry", "PlannedMetric", "Scores", "default_time_budget", "key_info", "metric_names",
    "miou_setting_for", "register",
    "MissingWeightsError", "PerImageScores", "PixelDiversity", "SIFID", "SegmentationMIoU", "UNetResNet18",
    "WeightsFile", "build_inception", "build_lpips", "build_resnet18", "distances_to_references",
    "evaluate_images", "find_weights",
    "format_table", "frechet_distance", "frechet_distances", "gaussian_stats", "missing_weights",
    "require_weights", "write_metrics",
]
