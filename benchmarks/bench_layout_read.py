"""Time the reading of colour layouts (data.masks.layout_colour_ids, what Renderer.decode_layout_image runs for an
RGB layout file) and the share of it that the foreign-colour check takes (the thin colours that are no class
colour: the mix test, _mixes_within, with its scipy.optimize.nnls fallback), median over repeats.

Usage: python benchmarks/bench_layout_read.py [--repeats 50] [--json OUT.json]

Layouts (all read as RGB by their class colours, edges on, as a layout file of a colour-trained run is):
- scene: datasets/example_scene's mask (320x192, 3 classes), as it is (hard edges);
- scene-bilinear: the same mask drawn at 4x and resized down bilinearly (anti-aliased edges);
- synthetic-512: a 512x256 layout of 3 classes (disc, box, stripe) drawn at 4x and resized with Lanczos
  (anti-aliased edges with overshoot);
- painted-512: a 512x256 layout of 8 classes painted with 60 random brush strokes at 4x and resized with Lanczos
  (many edge colours, corners where three classes meet).
Each row: pixels, distinct colours, thin colours the mix test sees, how many of those reach nnls, the median read
time, the median time of the mix test inside it and its share, and (nnls-all) the median time nnls alone took on
the same thin colours (the check before _on_segments; at most 5 repeats). Nothing is written but --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from osmis_core.data import masks  # noqa: E402
from osmis_core.models.visual import palette  # noqa: E402


def scene_layouts() -> list[tuple[str, np.ndarray, np.ndarray]]:
    mask = Image.open(ROOT / "datasets" / "example_scene" / "mask" / "00000.png")
    ids = np.asarray(mask)
    pal = np.asarray(mask.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)
    used = np.unique(ids)
    colours = pal[used].astype(np.int64)
    rgb = pal[ids]
    big = Image.fromarray(rgb).resize((rgb.shape[1] * 4, rgb.shape[0] * 4), Image.NEAREST)
    soft = np.asarray(big.resize((rgb.shape[1], rgb.shape[0]), Image.BILINEAR))
    return [("scene", rgb, colours), ("scene-bilinear", soft, colours)]


def synthetic_layout(w: int = 512, h: int = 256) -> tuple[str, np.ndarray, np.ndarray]:
    colours = np.array([[0, 0, 0], [200, 30, 30], [30, 30, 200]], np.int64)
    big = Image.new("P", (4 * w, 4 * h), 0)
    big.putpalette(colours.astype(np.uint8).ravel().tolist())
    d = ImageDraw.Draw(big)
    d.ellipse([0.15 * 4 * w, 0.2 * 4 * h, 0.45 * 4 * w, 0.8 * 4 * h], fill=1)
    d.rectangle([0.55 * 4 * w, 0.3 * 4 * h, 0.8 * 4 * w, 0.75 * 4 * h], fill=2)
    d.line([(0, 4 * h * 0.9), (4 * w, 4 * h * 0.6)], fill=1, width=24)
    rgb = np.asarray(big.convert("RGB").resize((w, h), Image.LANCZOS))
    return "synthetic-512", rgb, colours


def painted_layout(
    w: int = 512, h: int = 256, classes: int = 8, strokes: int = 60
) -> tuple[str, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    colours = palette()[:classes].astype(np.int64)
    big = Image.new("P", (4 * w, 4 * h), 0)
    big.putpalette(colours.astype(np.uint8).ravel().tolist())
    d = ImageDraw.Draw(big)
    for _ in range(strokes):
        points = [(float(x), float(y)) for x, y in rng.random((4, 2)) * (4 * w, 4 * h)]
        d.line(points, fill=int(rng.integers(1, classes)), width=int(rng.integers(8, 80)), joint="curve")
    rgb = np.asarray(big.convert("RGB").resize((w, h), Image.LANCZOS))
    return "painted-512", rgb, colours


def measure(name: str, rgb: np.ndarray, colours: np.ndarray, repeats: int) -> dict:
    """Median read time and median time in the mix test (the module's function wrapped with a timer)."""
    plain = masks._mixes_within
    spent: list[float] = []
    seen: list[int] = []

    def timed(cs, classes, tolerance):
        t0 = time.perf_counter()
        out = plain(cs, classes, tolerance)
        spent.append(time.perf_counter() - t0)
        seen.append(len(cs))
        return out

    thin, _ = _thin_colours(rgb, colours)
    to_nnls = int((~masks._on_segments(thin, colours, masks._MIX_TOLERANCE)).sum())
    plain_runs = []
    for _ in range(min(repeats, 5)):  # the check as it was: nnls on every thin colour
        t0 = time.perf_counter()
        masks._distance_to_mixes(thin, colours)
        plain_runs.append(time.perf_counter() - t0)
    totals, checks = [], []
    masks._mixes_within = timed
    try:
        for _ in range(repeats):
            spent.clear()
            t0 = time.perf_counter()
            ids = masks.layout_colour_ids(rgb, colours)
            totals.append(time.perf_counter() - t0)
            checks.append(sum(spent))
    finally:
        masks._mixes_within = plain
    total, check = statistics.median(totals), statistics.median(checks)
    return {
        "layout": name,
        "pixels": int(rgb.shape[0] * rgb.shape[1]),
        "colours": int(len(np.unique(rgb.reshape(-1, 3), axis=0))),
        "thin_colours": seen[-1] if seen else 0,
        "to_nnls": to_nnls,
        "refused_pixels": int((ids < 0).sum()),
        "read_ms": round(1000 * total, 3),
        "mix_check_ms": round(1000 * check, 3),
        "mix_check_share": round(check / total, 3) if total else 0.0,
        "nnls_on_every_thin_colour_ms": round(1000 * statistics.median(plain_runs), 3),
    }


def _thin_colours(rgb: np.ndarray, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The colours the mix test is asked about (thin, no class colour), as layout_colour_ids picks them."""
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    unique, inverse = np.unique(codes.ravel(), return_inverse=True)
    u = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], 1)
    near = np.abs(u[:, None, :] - colours[None]).max(-1).min(1) <= masks.COLOUR_TOLERANCE
    edge = masks._core_counts([inverse.reshape(codes.shape)], len(u)) == 0
    return u[edge & ~near], colours


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=50, help="reads per layout (default 50; the median is given)")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    rows = [measure(n, rgb, c, args.repeats) for n, rgb, c in [*scene_layouts(), synthetic_layout(), painted_layout()]]
    head = (
        f"{'layout':16s} {'pixels':>7s} {'colours':>7s} {'thin':>5s} {'nnls':>5s} {'read ms':>8s} {'mix ms':>7s} share"
    )
    head += "  nnls-all ms"
    print(head)
    for r in rows:
        print(
            f"{r['layout']:16s} {r['pixels']:7d} {r['colours']:7d} {r['thin_colours']:5d} {r['to_nnls']:5d} "
            f"{r['read_ms']:8.2f} {r['mix_check_ms']:7.2f} {100 * r['mix_check_share']:4.0f}%"
            f"  {r['nnls_on_every_thin_colour_ms']:10.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
