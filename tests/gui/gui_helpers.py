"""Shared by the GUI tests and scripts/screenshots.py: a tiny model and a synthetic image with its mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# A model that trains an iteration in well under a second on 2 CPU cores (checked with `osmis inspect`).
TINY_GUI = dict(
    max_size=128,
    ch_g=4,
    ch_d=4,
    noise_dim=8,
    batch_size=2,
    log_every=1,
    preview_every=2,
    checkpoint_every=3,
    bernoulli_warmup=2,
    device="cpu",
)


def make_scene(folder: Path, w: int = 128, h: int = 64) -> tuple[Path, Path]:
    """A w x h image with a red disc, a green box and a yellow triangle, and its indexed 4-class mask
    (<stem>_mask.png next to it, which the engine finds by itself)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w]
    img = (rng.random((h, w, 3)) * 30 + np.array([70, 110, 170])).astype(np.uint8)
    ids = np.zeros((h, w), np.uint8)
    disc = (xx - 0.22 * w) ** 2 + (yy - 0.5 * h) ** 2 <= (0.25 * h) ** 2
    box = (abs(xx - 0.55 * w) < 0.1 * w) & (abs(yy - 0.55 * h) < 0.25 * h)
    tri = (yy > 0.2 * h) & (yy < 0.8 * h) & (abs(xx - 0.84 * w) < (yy - 0.2 * h) * 0.3)
    for mask, colour, k in ((disc, (210, 50, 40), 1), (box, (40, 170, 60), 2), (tri, (230, 210, 40), 3)):
        img[mask] = colour
        ids[mask] = k
    image = folder / "scene.png"
    Image.fromarray(img).save(image)
    m = Image.fromarray(ids, "P")
    m.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 0] + [0] * (252 * 3))
    mask = folder / "scene_mask.png"
    m.save(mask)
    return image, mask


# A layout renderer that trains an iteration in about a second on 2 CPU cores (renders at 64 x 32).
TINY_RENDERER_GUI = dict(
    model="renderer",
    max_size=64,
    ch_r=4,
    spade_hidden=8,
    ch_rd=4,
    noise_dim=8,
    batch_size=2,
    log_every=1,
    preview_every=2,
    checkpoint_every=2,
    device="cpu",
)


def qimage_array(image) -> np.ndarray:
    """QImage -> H x W x 3 uint8 (RGB)."""
    from PySide6.QtGui import QImage

    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = rgb.height(), rgb.width()
    return (
        np.frombuffer(rgb.constBits(), np.uint8, count=rgb.bytesPerLine() * h)
        .reshape(h, rgb.bytesPerLine())[:, : 3 * w]
        .reshape(h, w, 3)
        .copy()
    )


def marked_invalid(editor) -> bool:
    """Whether a settings-form field is marked invalid (its line edit, or its widget, carries a style sheet)."""
    return (editor._line if hasattr(editor, "_line") else editor.widget).styleSheet() != ""


def log_lines(window, keep) -> list[str]:
    """The app's log lines (window.state.log_line) from now on for which keep(text) is true, as they come."""
    seen: list[str] = []
    window.state.log_line.connect(lambda text: seen.append(text) if keep(text) else None)
    return seen


def gallery_page_of_next_start(window, qtbot):
    """A new Gallery page reading the window's settings, as the app's next start makes it: what it remembered."""
    from osmis_gui.gallery_page import GalleryPage

    page = GalleryPage(window.state, window.qsettings)
    qtbot.addWidget(page)
    return page
