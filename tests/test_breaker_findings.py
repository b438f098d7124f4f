"""Regressions found by the breaker pass (tiny settings, CPU, a few seconds each)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import save_palette_mask, scene_arrays, tiny_flags

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def osmis(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "osmis_core", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def _scene(tmp_path: Path) -> Path:
    img, ids = scene_arrays()
    Image.fromarray(img).save(tmp_path / "scene.png")
    save_palette_mask(ids, tmp_path / "scene_mask.png")
    return tmp_path / "scene.png"


def test_renderer_trains_a_few_iterations(tmp_path):
    # Issue 13: `osmis train --model renderer` (and `run --two-stage`) died with
    # "AttributeError: 'RendererTrainer' object has no attribute 'health'" after the merge.
    data = _scene(tmp_path)
    p = osmis("train", data, *tiny_flags(), "--iters", "2", "--model", "renderer", "--out", tmp_path / "rend")
    assert p.returncode == 0, p.stdout + p.stderr
    assert list((tmp_path / "rend" / "checkpoints").glob("step_*.pt"))
