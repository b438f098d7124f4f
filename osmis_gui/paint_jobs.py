"""Work of the Paint page that runs off the GUI thread: loading a renderer, rendering layouts, writing galleries.
Plain data in and out (QImages may be built in any thread); no widgets. The engine is imported inside the
functions, so the GUI thread never pays for importing torch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .widgets import qimage_from_array


@dataclass
class LoadedRenderer:
    renderer: object  # osmis_core.application.render.Renderer
    run_dir: str
    colours: np.ndarray  # num_classes x 3 uint8: the project's palette (resources/palette.json)
    classes: list[dict]  # the run's data description of each class (run.json data.mask.classes)
    training_layout: np.ndarray | None
    training_layout_error: str | None


def load_renderer(run_dir: str, device: str) -> LoadedRenderer:
    """The run's renderer, its class palette and the training mask as a layout (None, with the reason, when the
    training mask cannot be read any more). Raises OsmisError for an unusable run."""
    from osmis_core.application.render import Renderer, training_layout
    from osmis_core.application.runfolder import RunFolder
    from osmis_core.errors import OsmisError
    from osmis_core.models.visual import palette

    renderer = Renderer.load(run_dir, device=device)
    info = RunFolder(run_dir).read_run_json()
    classes = list((((info.get("data") or {}).get("mask") or {}).get("classes")) or [])
    layout, why = None, None
    try:
        layout = training_layout(run_dir).astype(np.uint8)
    except OsmisError as exc:
        why = str(exc)
    return LoadedRenderer(renderer, str(run_dir), palette()[: renderer.num_classes].copy(), classes, layout, why)


def read_layout(renderer, path: str) -> np.ndarray:
    """A layout file (indexed, grey or colour; any class count) at a size the renderer accepts, as uint8 ids."""
    return renderer.read_editable_layout(path).astype(np.uint8)


def save_layout(ids: np.ndarray, path: str, run_dir: str | None = None) -> str:
    """The layout written to `path`; the engine refuses the files of the run `run_dir` and its training data."""
    from osmis_core.application.render import save_layout as save

    return str(save(ids, path, run_dir))


def tagged(tag: int, func, *args):
    """(tag, func(*args)); an exception carries the tag in `gui_tag`: the page ignores late answers by tag."""
    try:
        return tag, func(*args)
    except Exception as exc:
        exc.gui_tag = tag
        raise


class Ticket:
    """A render request; the page sets `cancelled` when a newer one supersedes it (the worker then stops early)."""

    def __init__(self, tag: int):
        self.tag = tag
        self.cancelled = False


def render_layout(renderer, ids: np.ndarray, recipes: list, ticket: Ticket) -> Iterator[tuple]:
    """Yield (tag, i, QImage, seconds) for recipe i (0: the current photo, then the strip) of one layout, or
    (tag, i, None, error sentence) when the layout cannot be rendered; stops early once the ticket is cancelled."""
    import time

    from osmis_core.errors import OsmisError

    for i, recipe in enumerate(recipes):
        if ticket.cancelled:
            return
        t0 = time.perf_counter()
        try:
            image = renderer.render_recipe(ids, recipe)
        except OsmisError as exc:
            yield (ticket.tag, i, None, str(exc))
            return
        yield (ticket.tag, i, qimage_from_array(image), time.perf_counter() - t0)


def add_to_gallery(renderer, ids: np.ndarray, recipes: list, run_dir: str, name: str) -> tuple[str, int]:
    """Add to the run's gallery `name` (RUN/galleries/NAME); (gallery folder, number of items now in it)."""
    from osmis_core.application.render import add_to_gallery as add
    from osmis_core.application.runfolder import RunFolder

    folder = RunFolder(run_dir).galleries / name
    manifest = add(renderer, ids, recipes, folder)
    return str(folder), len(manifest["items"])


def render_gallery_masks(renderer_run: str, gallery: str, device: str) -> Iterator:
    """The two-stage pipeline from the Gallery page: every mask of an OSMIS gallery rendered, yielding Progress per
    photo; returns the new gallery. Stops between photos when closed (tasks: quit), leaving nothing half-written."""
    from osmis_core.application.render import render_gallery_masks_events

    from .jobs import gallery_progress

    return (yield from gallery_progress(render_gallery_masks_events(renderer_run, gallery, device=device)))
