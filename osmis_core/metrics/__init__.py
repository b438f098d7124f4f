"""Quality metrics of one-shot synthesis (spec/metrics.md): SIFID, LPIPS diversity, LPIPS to the
training data, pixel diversity and mIoU of generated masks; offline-safe pretrained weights."""

from ._common import PerImageScores
from .diversity import PixelDiversity
from .evaluate import METRICS, RANDOM_WEIGHTS_WARNING, Compat, evaluate_images, format_table, write_metrics
from .frechet import FrechetReference, distances_to_references, frechet_distance, frechet_distances, gaussian_stats
from .lpips_metrics import LPIPSDiversity, LPIPSToTrain
from .miou import MIoUResult, SegmentationMIoU, UNetResNet18
from .sifid import SIFID, InceptionFeatures
from .weights import (ALEXNET, INCEPTION_V3, LPIPS_ALEX_HEADS, RESNET18, MissingWeightsError, WeightsFile,
                      build_inception, build_lpips, build_resnet18, find_weights, missing_weights,
                      require_weights)

__all__ = [
    "ALEXNET", "INCEPTION_V3", "LPIPS_ALEX_HEADS", "METRICS", "RANDOM_WEIGHTS_WARNING", "RESNET18",
    "Compat", "FrechetReference", "InceptionFeatures", "LPIPSDiversity", "LPIPSToTrain", "MIoUResult",
    "MissingWeightsError", "PerImageScores", "PixelDiversity", "SIFID", "SegmentationMIoU", "UNetResNet18",
    "WeightsFile", "build_inception", "build_lpips", "build_resnet18", "distances_to_references",
    "evaluate_images", "find_weights",
    "format_table", "frechet_distance", "frechet_distances", "gaussian_stats", "missing_weights",
    "require_weights", "write_metrics",
]
