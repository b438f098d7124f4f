"""Locate the project's `resources/` folder (presets, palette) in a checkout or an installed copy."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """Path under resources/: next to the package in a checkout, else under <prefix>/share/osmis."""
    for root in (Path(__file__).resolve().parents[1] / "resources", Path(sys.prefix) / "share" / "osmis" / "resources"):
        if root.is_dir():
            return root.joinpath(*parts)
    raise FileNotFoundError("the osmis resources folder is missing from this installation")
