"""Work that runs off the GUI thread.

Every function here calls `osmis_core` and returns plain Python data (and QImages, which may be built in any
thread); none touches widgets. The engine (and with it torch) is imported inside the functions, so the GUI
thread never pays for that import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QImage

from .widgets import mask_overlay_image, qimage_from_array

PREVIEW_MAX_FRAMES = 120  # frames of a video shown in the data view (evenly spaced)
PREVIEW_MAX_SIDE = 960  # larger side of a frame in the data view
THUMB_WIDTH = 176


@dataclass(frozen=True)
class Progress:
    """What a job yields to report progress: `done` of `total` units of `stage` (a few words)."""

    stage: str
    done: int
    total: int


def warm_up() -> dict:
    """Import the engine (torch) in the background and look for the metrics module; returns what was found.
    Also lets Qt load its image-format plugins here, not on the GUI thread at the first preview."""
    from PySide6.QtGui import QImageReader

    from . import scoring

    QImageReader.supportedImageFormats()
    import torch._dynamo  # noqa: F401  (torch.optim imports it, ~900 modules, at the first optimiser: not mid-run)

    import osmis_core.application.generate  # noqa: F401  (imports torch once, off the GUI thread)
    import osmis_core.training.trainer  # noqa: F401

    available, reason = scoring.probe()
    return {"metrics": available, "metrics_reason": reason}


# -- data view ----------------------------------------------------------------------------------------------------


@dataclass
class DataPreview:
    """What the data view shows: frames, class-colour overlays and the mask classes found."""

    path: str
    mask_path: str | None
    source: dict
    frames: list[QImage]
    overlays: list[QImage | None]
    frame_names: list[str]
    original_size: tuple[int, int]
    classes: list[dict] = field(default_factory=list)  # id, share, colour (palette), disk (colour/value text)
    mask_kind: str | None = None
    mask_notes: list[str] = field(default_factory=list)
    mask_error: str | None = None


def load_preview(path: str, mask_path: str | None, options: dict) -> DataPreview:
    """Decode the data (and its masks) for display. Raises OsmisError for unusable input."""
    from PIL import Image

    from osmis_core.application.runfolder import find_data
    from osmis_core.data.masks import decode_masks
    from osmis_core.data.sources import load_frame_set, open_mask, pair_masks
    from osmis_core.errors import OsmisError
    from osmis_core.models.visual import palette

    source = find_data(path, mask_path)  # a run folder is named as one, as the CLI's train names it
    k = min(int(options.get("max_frames") or PREVIEW_MAX_FRAMES), PREVIEW_MAX_FRAMES)
    frame_set = load_frame_set(source, k, use_masks=False)  # masks below: their error is shown, not raised
    frames = frame_set.frames
    if source.kind == "video":
        names = [f"{source.video.name} · frame {i + 1} of {frame_set.total}" for i in frame_set.indices]
    else:
        names = [source.frames[i].name for i in frame_set.indices]
    original = frames[0].size

    # Masks: the engine's frame-mask rule, so the view shows the pairs that training uses.
    ids_list: list[np.ndarray] | None = None
    preview = DataPreview(str(path), str(mask_path) if mask_path else None, source.to_dict(), [], [], names, original)
    if source.masks:
        try:
            paths = pair_masks(source, frame_set.total, frame_set.indices)
            unique = sorted(set(paths), key=paths.index)
            images = [open_mask(p) for p in unique]
            ids, report = decode_masks(
                images, [str(p) for p in unique], int(options.get("max_classes", 32)), options.get("background_color")
            )
            by_path = dict(zip(unique, ids))
            ids_list = [by_path[p] for p in paths]
            pal = palette()
            preview.mask_kind = report.kind
            preview.mask_notes = list(report.notes)
            for c in report.classes:
                if c.colour is not None:
                    disk = "#{:02x}{:02x}{:02x}".format(*tuple(int(v) for v in c.colour))
                elif c.value is not None:
                    disk = f"value {c.value}"
                else:
                    disk = ""
                preview.classes.append(
                    {"id": c.id, "share": c.share, "colour": [int(v) for v in pal[c.id]], "disk": disk}
                )
        except OsmisError as exc:
            preview.mask_error = str(exc)

    pal = palette()
    for i, frame in enumerate(frames):
        w, h = frame.size
        scale = min(1.0, PREVIEW_MAX_SIDE / max(w, h))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        shown = frame if scale >= 1.0 else frame.resize(size, Image.BILINEAR, reducing_gap=2.0)
        preview.frames.append(qimage_from_array(np.asarray(shown)))
        if ids_list is not None:
            ids = Image.fromarray(ids_list[i].astype(np.int32), "I").resize(size, Image.NEAREST)
            preview.overlays.append(mask_overlay_image(np.asarray(ids), pal))
        else:
            preview.overlays.append(None)
    return preview


def inspect(path: str, mask_path: str | None, config):
    """The engine's InspectReport of the data with these settings; its warnings name the options by the form's
    labels, as the form's own messages do."""
    from osmis_core.application.session import inspect_data
    from osmis_core.config import option_label

    return inspect_data(path, mask_path, config, name_as=option_label)


def read_image(path: str) -> QImage | None:
    image = QImage(path)
    return None if image.isNull() else image


@dataclass(frozen=True)
class PreviewGrid:
    """A training preview grid (osmis_core.models.visual.preview_grid: samples side by side, each over its mask,
    separated by white lines `pad` px wide) and its number of sample columns (1 when not recognised)."""

    image: QImage
    columns: int
    pad: int


def grid_columns(pixels: np.ndarray, max_columns: int = 64) -> tuple[int, int]:
    """(columns, pad) of a preview grid (H x W x 3 uint8): the largest column count whose separators (and the
    top border) are white lines of one width; (1, 0) when none fits."""
    height, width = pixels.shape[:2]
    white = np.all(pixels == 255, axis=2)
    for pad in (2, 1, 3, 4):
        if height <= 2 * pad or not white[:pad].all():
            continue
        full = white.all(axis=0)  # columns that are white from top to bottom
        for n in range(min(max_columns, width), 1, -1):
            w, rest = divmod(width - (n + 1) * pad, n)
            if w < 1 or rest:
                continue
            if all(full[k * (w + pad) : k * (w + pad) + pad].all() for k in range(n + 1)):
                return n, pad
    return 1, 0


def read_preview(path: str) -> PreviewGrid | None:
    """A preview grid PNG of the run (None when unreadable), with its columns found for re-arranging."""
    image = read_image(path)
    if image is None:
        return None
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(rgb.constBits(), np.uint8, rgb.bytesPerLine() * rgb.height())
    pixels = pixels.reshape(rgb.height(), rgb.bytesPerLine())[:, : 3 * rgb.width()].reshape(rgb.height(), -1, 3)
    columns, pad = grid_columns(pixels)
    return PreviewGrid(image, columns, pad)


# -- training -----------------------------------------------------------------------------------------------------


def new_run_dir(data_path: str, root: str | Path) -> Path:
    """A new run folder for DATA under `root` (not created), by the engine's rule (application.session)."""
    from osmis_core.application.session import new_run_dir as engine_new_run_dir

    return engine_new_run_dir(data_path, root)


def resumable_changes(config) -> dict:
    """The options of `config` (flat names) that a continued run takes over: every option the engine lets
    change on resume (osmis_core.config.RESUMABLE_OPTIONS)."""
    from osmis_core.config import RESUMABLE_OPTIONS

    return {k: v for k, v in config.flat().items() if k in RESUMABLE_OPTIONS}


def train(mode: str, config, data_path: str | None, mask_path: str | None, run_dir: str, control) -> Iterator[Any]:
    """Build the trainer (1-2 s: data, models) and yield its events. mode: 'new', or 'resume' (the run continues
    with the options of `config` that may change on resume)."""
    from osmis_core.application.session import resume_training, start_training
    from osmis_core.config import option_label
    from osmis_core.events import IterationDone
    from osmis_core.threads import configured_plan

    if mode == "new":
        trainer = start_training(config, data_path, run_dir, mask_path, name_as=option_label)
    else:
        # the form's options change the run where they differ from its config (a rollback's halved lr_d is kept
        # unless the learning rate is edited)
        trainer = resume_training(run_dir, resumable_changes(config), typed=(), name_as=option_label)
    # the run's training lock, which the trainer holds from its start, is let go however the job ends: a job
    # closed or failed before its training starts (Trainer.close) or at a yield (the events closed)
    with trainer, contextlib.closing(trainer.run(control, resumed=(mode == "resume"))) as events:
        plan = configured_plan()  # set by the app's entry point; None when the app is embedded
        governor = plan.governor() if plan is not None else None
        for event in events:
            if governor is not None:
                governor.check()  # this worker thread runs the steps: its thread count is the one
            if not isinstance(event, IterationDone):
                yield event  # the page shows progress at logging ticks


# -- run folders --------------------------------------------------------------------------------------------------


@dataclass
class RunSnapshot:
    """Everything the app restores when a run folder is (re)opened."""

    run_dir: str
    info: dict
    stats: list[dict]
    checkpoints: list[int]
    latest: int | None
    samples: list[tuple[int, str]]
    galleries: list[str]
    log_text: str


def list_samples(run_dir: str | Path) -> list[tuple[int, str]]:
    from osmis_core.application.runfolder import RunFolder

    return [(step, str(p)) for step, p in RunFolder(run_dir).sample_files()]


def list_galleries(run_dir: str | Path) -> list[str]:
    """Gallery folders of a run, newest first (the engine's RUN/galleries, whoever wrote them)."""
    from osmis_core.application.runfolder import RunFolder

    return [str(p) for p in RunFolder(run_dir).gallery_dirs()]


def checkpoint_steps(run_dir: str | Path) -> list[int]:
    from osmis_core.application.runfolder import RunFolder

    return RunFolder(run_dir).checkpoint_steps()


def best_step(run_dir: str | Path) -> int | None:
    """The step of the run's best checkpoint (--keep-best), or None when it keeps none (yet)."""
    from osmis_core.application.runfolder import RunFolder

    folder = RunFolder(run_dir)
    best = folder.read_best() if folder.best_checkpoint.is_file() else None
    return int(best["step"]) if best and isinstance(best.get("step"), int) else None


def read_run(run_dir: str) -> RunSnapshot:
    from osmis_core.application.runfolder import RunFolder

    folder = RunFolder(run_dir)
    info = folder.read_run_json()
    log_text = ""
    if folder.log_file.is_file():
        log_text = folder.log_file.read_text(encoding="utf-8", errors="replace")[-200_000:]
    return RunSnapshot(
        str(folder.root),
        info,
        folder.read_stats(),
        folder.checkpoint_steps(),
        folder.latest_step(),
        list_samples(run_dir),
        list_galleries(run_dir),
        log_text,
    )


# -- gallery ------------------------------------------------------------------------------------------------------
def generate(run_dir: str, n: int, seed: int, checkpoint: str | int, device: str) -> Iterator[Progress]:
    """Write the run's own gallery into its galleries folder (the engine's run_gallery_events: n samples of an
    OSMIS run, n renders of each training layout of a renderer run), yielding Progress as the engine writes its
    pictures; returns the gallery folder. The job stops when closed at a yield (tasks: quit), closing the engine's
    stream with it: nothing half-written is left."""
    from osmis_core.application.render import run_gallery_events

    return (yield from gallery_progress(run_gallery_events(run_dir, n, seed, checkpoint, device)))


def gallery_progress(events) -> Iterator[Progress]:
    """Progress for each SamplesWritten of an engine gallery stream; returns the gallery folder. Closing this
    generator closes the stream at once (its staging folder removed), not when it is collected."""
    from osmis_core.events import GenerationFinished, SamplesWritten

    out = None
    with contextlib.closing(events):
        for event in events:
            if isinstance(event, SamplesWritten):
                yield Progress("generating", event.done, event.total)
            elif isinstance(event, GenerationFinished):
                out = str(event.out_dir)
    return out


def run_model(info: dict) -> str | None:
    """The model a run trains ('osmis' or 'renderer') from its run.json, by the engine's config; None when its
    settings cannot be read."""
    from osmis_core.config import OsmisConfig
    from osmis_core.errors import OsmisError

    try:
        return OsmisConfig.from_dict((info or {}).get("config", {}), "run.json", {}).model
    except OsmisError:
        return None


def animate(run_dir: str, seed: int, checkpoint: str | int, device: str) -> Iterator[Progress]:
    """Write a looping latent walk (osmis animate) into <run>/walks/step_NNNNNNN-seedS.mp4 (the step of the
    checkpoint used: "latest", "best" or a step, as the engine reads it), yielding Progress per batch of frames,
    and return its path. Closed with its job (tasks: quit, the window closing) it stops at the next batch and
    nothing is written (the engine's atomic write): a walk takes minutes on a CPU, and the window had stayed open
    until it was whole."""
    from osmis_core.application.animate import latent_walk

    from .tasks import progress_yields

    reports = progress_yields(latent_walk, run_dir, None, loop=True, seed=seed, checkpoint=checkpoint, device=device)
    with contextlib.closing(reports):
        while True:
            try:
                done, total = next(reports)
            except StopIteration as end:
                return str(end.value)
            yield Progress("walk", int(done), int(total))


def read_manifest(gallery_dir: str | Path) -> dict:
    from osmis_core.application.gallery import read_manifest as engine_read_manifest

    return engine_read_manifest(gallery_dir)


def read_metrics(gallery_dir: str | Path) -> dict | None:
    """metrics.json of a gallery (written by the app or `osmis evaluate`), normalised for the score columns;
    None when absent or unreadable."""
    from osmis_core.application.gallery import read_metrics as engine_read_metrics
    from osmis_core.errors import OsmisError

    from .scoring import normalise_metrics

    try:
        return normalise_metrics(engine_read_metrics(gallery_dir))
    except OsmisError:
        return None


def load_gallery(gallery_dir: str) -> Iterator[tuple]:
    """Yield ('manifest', manifest, metrics) then ('thumbs', [(index, QImage), ...]) in batches."""
    from PIL import Image

    root = Path(gallery_dir)
    manifest = read_manifest(root)
    yield ("manifest", manifest, read_metrics(root))
    batch = []
    for item in manifest.get("items", []):
        try:
            with Image.open(root / item["image"]) as im:
                image = im.convert("RGB")
            parts = [image]
            if item.get("mask"):
                with Image.open(root / item["mask"]) as m:
                    parts.append(m.convert("RGB"))  # indexed PNG: its palette holds the class colours
        except (OSError, KeyError):
            continue
        w = THUMB_WIDTH
        scaled = [p.resize((w, max(1, round(p.height * w / p.width))), Image.BILINEAR) for p in parts]
        canvas = Image.new("RGB", (w, sum(p.height for p in scaled) + 2 * (len(scaled) - 1)), (255, 255, 255))
        y = 0
        for p in scaled:
            canvas.paste(p, (0, y))
            y += p.height + 2
        batch.append((int(item["index"]), qimage_from_array(np.asarray(canvas))))
        if len(batch) >= 8:
            yield ("thumbs", batch)
            batch = []
    if batch:
        yield ("thumbs", batch)


def load_pair(gallery_dir: str, item: dict) -> tuple[QImage, QImage | None, QImage | None]:
    """(image, RGBA overlay with transparent background, opaque colour mask) of one gallery item."""
    from PIL import Image

    root = Path(gallery_dir)
    with Image.open(root / item["image"]) as im:
        image = qimage_from_array(np.asarray(im.convert("RGB")))
    if not item.get("mask"):
        return image, None, None
    with Image.open(root / item["mask"]) as m:
        m.load()
        ids = np.asarray(m) if m.mode == "P" else np.asarray(m.convert("L"))
        pal_flat = m.getpalette() or []
    pal = np.zeros((256, 3), np.uint8)
    colours = np.asarray(pal_flat[:768], np.uint8).reshape(-1, 3)
    pal[: len(colours)] = colours
    overlay = mask_overlay_image(ids, pal)
    colour = qimage_from_array(pal[ids])
    return image, overlay, colour


def export_replaces(gallery_dir: str, dest: str) -> bool:
    """The engine's answer: True when exporting into dest replaces an earlier export there; raises OsmisError
    where the export would be refused."""
    from osmis_core.application.gallery import export_replaces as engine_replaces

    return engine_replaces(gallery_dir, dest)


def export_selection(gallery_dir: str, indices: list[int], dest: str) -> dict:
    """The engine's export of the chosen pairs; returns {'dest', 'count', 'files'}."""
    from osmis_core.application.gallery import export_selection as engine_export

    result = engine_export(gallery_dir, indices, dest)
    return {"dest": str(result.dest), "count": result.count, "files": result.files}


def compute_scores(
    gallery_dir: str, data_path: str, mask_path: str | None, device: str, config=None
) -> Iterator[Progress]:
    """Per-image scores of a gallery (the engine writes metrics.json); yields Progress per scoring stage and
    returns the normalised metrics."""
    from .scoring import compute
    from .tasks import progress_yields

    reports = progress_yields(compute, gallery_dir, data_path, mask_path, device, config=config)
    with contextlib.closing(reports):  # closed with this job (tasks: quit): the scoring stops, nothing written
        while True:
            try:
                stage, done, total = next(reports)
            except StopIteration as end:
                return end.value
            yield Progress(str(stage), int(done), int(total))
