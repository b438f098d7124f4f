"""The pretrained weights files the metrics need: names, official download addresses and what uses them.

Facts only, importable without torch (the CLI's help and the registry read them); loading is in weights.py.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WeightsFile:
    """One pretrained weights file: its name, official download address and what needs it."""

    filename: str
    url: str
    used_by: str
    package_dir: Path | None = None  # a folder inside an installed package that may ship the file


def _package_dir(package: str, *parts: str) -> Path | None:
    """A folder inside an installed package, located without importing the package; None when not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *parts)


INCEPTION_V3 = WeightsFile(
    "inception_v3_google-0cc3c7bd.pth",
    "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    "SIFID (Inception v3)",
)
ALEXNET = WeightsFile(
    "alexnet-owt-7be5be79.pth",
    "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "LPIPS (AlexNet backbone)",
)
LPIPS_ALEX_HEADS = WeightsFile(
    "alex.pth",
    "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
    "LPIPS (v0.1 linear heads)",
    _package_dir("lpips", "weights", "v0.1"),
)
RESNET18 = WeightsFile(
    "resnet18-f37072fd.pth",
    "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "mIoU (ResNet-18 encoder)",
)

# Every file above: the names a weights file given by itself (--weights-dir FILE) may have.
WEIGHTS_FILES = (INCEPTION_V3, ALEXNET, LPIPS_ALEX_HEADS, RESNET18)
