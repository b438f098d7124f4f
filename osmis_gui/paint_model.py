"""The Paint page's model, free of Qt: the layout being drawn (class ids), its drawing operations, undo / redo, the
region marked for re-rolling, and the noises of the current photo and of the strip of variants.

Coordinates are layout pixels: x to the right (column), y down (row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

UNDO_LIMIT = 100  # actions kept for undo; a 512 x 256 layout is 128 KiB per step


def disc_segment(
    shape: tuple[int, int], p0: tuple[float, float], p1: tuple[float, float], radius: float
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The pixels whose centres lie within `radius` of the segment p0-p1: (bounding slices, bool mask in them), or
    None when none lies inside `shape` (H, W)."""
    h, w = shape
    (x0, y0), (x1, y1) = p0, p1
    r = max(0.5, float(radius))
    top, bottom = max(0, int(np.floor(min(y0, y1) - r))), min(h, int(np.ceil(max(y0, y1) + r)) + 1)
    left, right = max(0, int(np.floor(min(x0, x1) - r))), min(w, int(np.ceil(max(x0, x1) + r)) + 1)
    if top >= bottom or left >= right:
        return None
    yy, xx = np.mgrid[top:bottom, left:right].astype(np.float64)
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.zeros_like(xx) if length2 == 0 else np.clip(((xx - x0) * dx + (yy - y0) * dy) / length2, 0.0, 1.0)
    inside = (xx - (x0 + t * dx)) ** 2 + (yy - (y0 + t * dy)) ** 2 <= r * r
    return (slice(top, bottom), slice(left, right)), inside


def polygon_mask(shape: tuple[int, int], points: list[tuple[float, float]]) -> np.ndarray:
    """H x W bool: the pixels inside (or on) the polygon through `points` (a lasso); fewer than 3 points: empty."""
    h, w = shape
    img = Image.new("1", (w, h), 0)
    if len(points) >= 3:
        ImageDraw.Draw(img).polygon([(float(x), float(y)) for x, y in points], fill=1, outline=1)
    return np.asarray(img, bool)


def connected_region(ids: np.ndarray, x: int, y: int, connectivity: int = 1) -> np.ndarray:
    """H x W bool: the connected component of ids[y, x]'s class that holds (x, y); connectivity 1 = 4 neighbours
    (flood fill), 2 = 8 neighbours (an instance, spec/renderer.md section 3)."""
    same = ids == ids[y, x]
    labels, _ = ndimage.label(same, ndimage.generate_binary_structure(2, connectivity))
    return labels == labels[y, x]


class LayoutModel:
    """The layout (H x W uint8 class ids below num_classes) with drawing tools and an undo history.

    Every operation that changes pixels is one undo step; a brush stroke (begin_stroke, stroke_to..., end_stroke)
    is one step however many segments it has. `revision` grows with every change (the view re-renders on it).
    """

    def __init__(self, ids: np.ndarray, num_classes: int):
        self.num_classes = int(num_classes)
        self.ids = self._checked(ids)
        self.revision = 0
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._stroke: tuple[np.ndarray, int, float, tuple[float, float]] | None = None

    def _checked(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.size == 0:
            raise ValueError(f"a layout is a 2-D map of class ids, got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= self.num_classes:
            raise ValueError(f"class ids must lie in 0..{self.num_classes - 1}")
        return ids.astype(np.uint8).copy()

    @property
    def shape(self) -> tuple[int, int]:
        return self.ids.shape

    def inside(self, x: float, y: float) -> bool:
        return 0 <= x < self.ids.shape[1] and 0 <= y < self.ids.shape[0]

    # -- history -------------------------------------------------------------------------------------------
    def _push(self, before: np.ndarray) -> None:
        self._undo.append(before)
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()
        self.revision += 1

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo or self._stroke is not None:
            return False
        self._redo.append(self.ids)
        self.ids = self._undo.pop()
        self.revision += 1
        return True

    def redo(self) -> bool:
        if not self._redo or self._stroke is not None:
            return False
        self._undo.append(self.ids)
        self.ids = self._redo.pop()
        self.revision += 1
        return True

    # -- tools ---------------------------------------------------------------------------------------------
    def _class(self, c: int) -> int:
        if not 0 <= c < self.num_classes:
            raise ValueError(f"class {c} is not one of 0..{self.num_classes - 1}")
        return int(c)

    def begin_stroke(self, x: float, y: float, c: int, radius: float) -> None:
        """Start a brush stroke of class c (0 = the eraser) and paint a disc of `radius` pixels at (x, y)."""
        self._stroke = (self.ids.copy(), self._class(c), float(radius), (x, y))
        self._paint_segment((x, y), (x, y))

    def stroke_to(self, x: float, y: float) -> None:
        if self._stroke is not None:
            self._paint_segment(self._stroke[3], (x, y))
            self._stroke = self._stroke[:3] + ((x, y),)

    def end_stroke(self) -> bool:
        """End the stroke; True (and one undo step) when it changed pixels."""
        if self._stroke is None:
            return False
        before = self._stroke[0]
        self._stroke = None
        if np.array_equal(before, self.ids):
            return False
        self._undo.append(before)
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()
        return True

    @property
    def stroking(self) -> bool:
        return self._stroke is not None

    def _paint_segment(self, p0, p1) -> None:
        _, c, r, _ = self._stroke
        hit = disc_segment(self.ids.shape, p0, p1, r)
        if hit is not None:
            box, inside = hit
            self.ids[box][inside] = c
            self.revision += 1

    def _apply(self, mask: np.ndarray, c: int) -> bool:
        c = self._class(c)
        if not mask.any() or (self.ids[mask] == c).all():
            return False
        before = self.ids.copy()
        self.ids[mask] = c
        self._push(before)
        return True

    def fill(self, x: int, y: int, c: int) -> bool:
        """Flood fill: the 4-connected region of (x, y)'s class takes class c."""
        if not self.inside(x, y):
            return False
        return self._apply(connected_region(self.ids, int(x), int(y)), c)

    def fill_rect(self, x0: float, y0: float, x1: float, y1: float, c: int) -> bool:
        """Every pixel of the rectangle between the pixels nearest (x0, y0) and (x1, y1) (both included) takes
        class c."""
        h, w = self.ids.shape
        left, right = sorted((round(x0), round(x1)))  # the pixels whose centres are nearest the corners
        top, bottom = sorted((round(y0), round(y1)))
        mask = np.zeros((h, w), bool)
        mask[max(0, top) : min(h, bottom + 1), max(0, left) : min(w, right + 1)] = True
        return self._apply(mask, c)

    def fill_polygon(self, points: list[tuple[float, float]], c: int) -> bool:
        """Lasso fill: the pixels inside the polygon take class c."""
        return self._apply(polygon_mask(self.ids.shape, points), c)


class RegionModel:
    """The region marked for re-rolling (H x W bool): brushed, or picked as a class or an instance."""

    def __init__(self, shape: tuple[int, int]):
        self.mask = np.zeros(shape, bool)

    def clear(self) -> None:
        self.mask[:] = False

    def brush(self, p0, p1, radius: float, erase: bool = False) -> None:
        hit = disc_segment(self.mask.shape, p0, p1, radius)
        if hit is not None:
            box, inside = hit
            self.mask[box][inside] = not erase

    def pick_class(self, ids: np.ndarray, x: int, y: int) -> None:
        self.mask = ids == ids[y, x]

    def pick_instance(self, ids: np.ndarray, x: int, y: int) -> None:
        self.mask = connected_region(ids, x, y, connectivity=2)

    def empty(self) -> bool:
        return not self.mask.any()


@dataclass
class StripSlot:
    """One variant of the strip: its noise seed, whether it is locked (keeps its seed when the layout changes)."""

    seed: int
    locked: bool = False


@dataclass
class NoiseModel:
    """Seeds of the current photo and of the strip. Seeds come from one counter, so every seed used is new.

    rerolls: (region, seed) pairs re-drawn on top of the current seed, in order (NoiseRecipe's)."""

    seed: int = 0
    mode: str = "global"
    rerolls: list = field(default_factory=list)
    slots: list[StripSlot] = field(default_factory=list)
    next_seed: int = 1

    def fresh_seed(self) -> int:
        s = self.next_seed
        self.next_seed += 1
        return s

    def set_strip_size(self, k: int) -> None:
        while len(self.slots) < k:
            self.slots.append(StripSlot(self.fresh_seed()))
        del self.slots[k:]

    def new_variants(self) -> None:
        """New seeds for the unlocked variants (after a layout edit, or on request)."""
        for slot in self.slots:
            if not slot.locked:
                slot.seed = self.fresh_seed()

    def choose(self, i: int) -> None:
        """Variant i becomes the current photo (its seed, no re-drawn regions)."""
        self.seed = self.slots[i].seed
        self.rerolls = []

    def reroll(self, region: np.ndarray) -> int:
        s = self.fresh_seed()
        self.rerolls.append((np.asarray(region, bool).copy(), s))
        return s

    def clear_rerolls(self) -> None:
        self.rerolls = []
