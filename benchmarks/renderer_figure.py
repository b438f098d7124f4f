"""README figure of the layout renderer: the training layout and an edited layout (a moved object, fixed seed), each
rendered with 4 noises, plus one re-rolled region.

Usage: python benchmarks/renderer_figure.py RUN [--data ../shared/data/example_image] [--out docs/renderer.png]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from osmis_core.application.evaluation import read_real
from osmis_core.application.render import Renderer
from osmis_core.application.render_evaluation import held_out_layouts
from osmis_core.models.visual import colour_mask

PAD = 4


def row(tiles: list[np.ndarray]) -> np.ndarray:
    h = tiles[0].shape[0]
    gap = np.full((h, PAD, 3), 255, np.uint8)
    parts = []
    for t in tiles:
        parts += [t, gap]
    return np.concatenate(parts[:-1], 1)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--data", default="../shared/data/example_image")
    p.add_argument("--out", default="docs/renderer.png")
    args = p.parse_args()
    renderer = Renderer.load(args.run)
    _, masks = read_real(args.data, None, renderer.size)
    layout = masks[0].numpy()
    from osmis_core.application.render_evaluation import HELD_OUT_WARPS

    held_out = held_out_layouts(layout, renderer.num_classes)[0]
    edited = held_out[min(HELD_OUT_WARPS, len(held_out) - 1)]  # the moved object (a warp if it found no room)
    rows = []
    for ids in (layout, edited):
        rows.append(row([colour_mask(ids.astype(np.uint8))] + [renderer.render(ids, s) for s in range(4)]))
    cls = int(np.bincount(layout.ravel())[1:].argmin()) + 1
    region = layout == cls
    rerolled = [renderer.render(layout, 0, "global", region, 100 + s) for s in range(3)]
    rows.append(row([colour_mask((region * cls).astype(np.uint8)), renderer.render(layout, 0)] + rerolled))
    gap = np.full((PAD, rows[0].shape[1], 3), 255, np.uint8)  # every row holds 5 tiles of one size
    canvas = np.concatenate([rows[0], gap, rows[1], gap, rows[2]], 0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(args.out)
    print(f"{args.out}: rows = training layout, edited layout (moved object), class {cls} re-rolled")
