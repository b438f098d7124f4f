"""The training preview grid fills its pane: its sample columns are re-arranged to the pane's shape, on resize
too, keeping their aspect ratio (a single wide strip left most of the pane grey)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.gui


def _grid(path, n=8, h=48, w=80):
    from osmis_core.models.visual import preview_grid

    rng = np.random.default_rng(0)
    images = rng.integers(0, 250, (n, h, w, 3), dtype=np.uint8)
    ids = rng.integers(0, 4, (n, h, w)).astype(np.uint8)
    preview_grid(images, ids).save(path)
    return n, h, w


def _covered(view) -> float:
    """Share of the view's area that the painted sample tiles cover."""
    return sum(t.width() * t.height() for _, t in view.tiles()) / (view.width() * view.height())


def test_engine_grid_columns_are_recognised(tmp_path):
    from osmis_gui.jobs import grid_columns

    _grid(tmp_path / "g.png", n=8)
    assert grid_columns(np.asarray(Image.open(tmp_path / "g.png").convert("RGB"))) == (8, 2)
    flat = np.random.default_rng(1).integers(0, 250, (40, 90, 3), dtype=np.uint8)
    assert grid_columns(flat) == (1, 0)  # not a grid: shown whole


def test_preview_fills_its_pane_and_follows_resizes(window, qtbot, tmp_path):
    from osmis_gui.jobs import RunSnapshot

    n, h, w = _grid(tmp_path / "step_0000010.png")
    t = window.training
    window.tabs.setCurrentWidget(t)
    with qtbot.waitSignal(t.preview_shown, timeout=30_000):
        t.load_run(RunSnapshot(str(tmp_path), {}, [], [], None, [(10, str(tmp_path / "step_0000010.png"))], [], ""))
    view = t.preview
    qtbot.waitUntil(view.has_image, timeout=10_000)
    tiles = view.tiles()
    assert len(tiles) == n
    for source, target in tiles:  # every sample column whole, its aspect ratio kept
        assert (source.width(), source.height()) == (w, 2 * h + 2)
        assert target.width() / target.height() == pytest.approx(source.width() / source.height(), rel=1e-6)
        assert view.rect().toRectF().contains(target)
    strip = min(view.width() / (n * (w + 2) + 2), view.height() / (2 * h + 6)) ** 2 * (n * w * (2 * h + 2))
    assert _covered(view) > 1.5 * strip / (view.width() * view.height())  # larger than the one-row strip
    rows_before = len({round(tg.top()) for _, tg in tiles})

    print(f"\n{view.width()}x{view.height()}: {rows_before} rows, {_covered(view):.0%} covered")
    size = view.size()
    view.resize(size.width() // 3, size.height())  # a narrow pane: more rows
    qtbot.waitUntil(lambda: len({round(tg.top()) for _, tg in view.tiles()}) > rows_before, timeout=10_000)
    print(
        f"{view.width()}x{view.height()}: {len({round(tg.top()) for _, tg in view.tiles()})} rows, "
        f"{_covered(view):.0%} covered"
    )
