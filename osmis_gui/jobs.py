"""Work that runs off the GUI thread.

Every function here calls `osmis_core` and returns plain Python data (and QImages, which may be built in any
thread); none touches widgets. The engine (and with it torch) is imported inside the functions, so the GUI
thread never pays for that import.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PySide6.QtGui import QImage

from .widgets import mask_overlay_image, qimage_from_array

GALLERIES = "galleries"          # sub-folder of a run folder that holds the galleries made from the app
WALKS = "walks"                  # sub-folder of a run folder that holds the latent-walk videos made from the app
PREVIEW_MAX_FRAMES = 120         # frames of a video shown in the data view (evenly spaced)
PREVIEW_MAX_SIDE = 960           # larger side of a frame in the data view
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
    import osmis_core.application.generate  # noqa: F401  (imports torch once, off the GUI thread)
    import osmis_core.training.trainer  # noqa: F401
    import torch._dynamo  # noqa: F401  (torch.optim imports it, ~900 modules, at the first optimiser: not mid-run)
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
    classes: list[dict] = field(default_factory=list)   # id, share, colour (palette), disk (colour/value text)
    mask_kind: str | None = None
    mask_notes: list[str] = field(default_factory=list)
    mask_error: str | None = None


def _evenly_indices(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return [int(i) for i in np.linspace(0, n - 1, k).round().astype(int)]


def load_preview(path: str, mask_path: str | None, options: dict) -> DataPreview:
    """Decode the data (and its masks) for display. Raises OsmisError for unusable input."""
    from PIL import Image

    from osmis_core.data.sources import find_source, load_frames, open_mask
    from osmis_core.errors import OsmisError
    from osmis_core.data.masks import decode_masks
    from osmis_core.models.visual import palette

    source = find_source(path, mask_path)
    k = min(int(options.get("max_frames") or PREVIEW_MAX_FRAMES), PREVIEW_MAX_FRAMES)
    frames = load_frames(source, k)
    if source.kind == "video":
        names = [f"{source.video.name} · frame {i + 1} of {len(frames)} shown" for i in range(len(frames))]
    else:
        names = [source.frames[i].name for i in _evenly_indices(len(source.frames), k)]
    original = frames[0].size

    # Masks: one per shown frame (same selection as the frames; video masks spread evenly over the frames).
    ids_list: list[np.ndarray] | None = None
    preview = DataPreview(str(path), str(mask_path) if mask_path else None, source.to_dict(), [], [], names,
                          original)
    if source.masks:
        if source.kind == "video":
            m = len(source.masks)
            pick = [round(i * (m - 1) / max(1, len(frames) - 1)) for i in range(len(frames))]
        elif source.kind == "folder" and len(source.masks) == len(source.frames):
            pick = _evenly_indices(len(source.frames), k)
        else:
            pick = [0] * len(frames)
        paths = [source.masks[i] for i in pick]
        try:
            unique = sorted(set(paths), key=paths.index)
            images = [open_mask(p) for p in unique]
            ids, report = decode_masks(images, [str(p) for p in unique], int(options.get("max_classes", 32)),
                                       options.get("background_color"))
            by_path = dict(zip(unique, ids))
            ids_list = [by_path[p] for p in paths]
            pal = palette()
            preview.mask_kind = report.kind
            preview.mask_notes = list(report.notes)
            for c in report.classes:
                if c.colour is not None:
                    disk = "#%02x%02x%02x" % tuple(int(v) for v in c.colour)
                elif c.value is not None:
                    disk = f"value {c.value}"
                else:
                    disk = ""
                preview.classes.append({"id": c.id, "share": c.share, "colour": [int(v) for v in pal[c.id]],
                                        "disk": disk})
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


def inspect(path: str, mask_path: str | None, config) -> dict:
    from osmis_core.application.generate import inspect_data
    return inspect_data(path, mask_path, config)


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
        full = white.all(axis=0)                       # columns that are white from top to bottom
        for n in range(min(max_columns, width), 1, -1):
            w, rest = divmod(width - (n + 1) * pad, n)
            if w < 1 or rest:
                continue
            if all(full[k * (w + pad):k * (w + pad) + pad].all() for k in range(n + 1)):
                return n, pad
    return 1, 0


def read_preview(path: str) -> PreviewGrid | None:
    """A preview grid PNG of the run (None when unreadable), with its columns found for re-arranging."""
    image = read_image(path)
    if image is None:
        return None
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(rgb.constBits(), np.uint8, rgb.bytesPerLine() * rgb.height())
    pixels = pixels.reshape(rgb.height(), rgb.bytesPerLine())[:, :3 * rgb.width()].reshape(rgb.height(), -1, 3)
    columns, pad = grid_columns(pixels)
    return PreviewGrid(image, columns, pad)


# -- training -----------------------------------------------------------------------------------------------------

# -- engine adapter ---------------------------------------------------------------------------------------------
# The run-folder rule and the options that may change on resume belong to the engine's session module
# (osmis_core.application.session: new_run_dir, RESUMABLE_OPTIONS). Until it exists these two functions hold the
# call sites; then each body becomes one call to it.

def new_run_dir(data_path: str, root: str | Path) -> Path:
    """A new run folder for DATA under `root` (not created): `<root>/<data stem>-<date>-<time>`."""
    root = Path(root)
    base = root / f"{Path(data_path).stem or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        path = Path(f"{base}-{i}")
        i += 1
    return path


def resumable_changes(config) -> dict:
    """The options of `config` (flat names) that a continued run takes over: every option the engine lets
    change on resume."""
    from osmis_core.training.trainer import _RESUMABLE_CHANGES
    return {k: v for k, v in config.flat().items() if k in _RESUMABLE_CHANGES}


def train(mode: str, config, data_path: str | None, mask_path: str | None, run_dir: str, control) -> Iterator[Any]:
    """Build the trainer (1-2 s: data, models) and yield its events. mode: 'new', or 'resume' (the run continues
    with the options of `config` that may change on resume)."""
    from osmis_core.events import IterationDone
    from osmis_core.threads import configured_plan
    from osmis_core.training.trainer import resume_training, start_training
    if mode == "new":
        trainer = start_training(config, data_path, run_dir, mask_path)
    else:
        trainer = resume_training(run_dir, resumable_changes(config))
    plan = configured_plan()                # set by the app's entry point; None when the app is embedded
    governor = plan.governor() if plan is not None else None
    for event in trainer.run(control, resumed=(mode == "resume")):
        if governor is not None:
            governor.check()                # this worker thread runs the steps: its thread count is the one
        if not isinstance(event, IterationDone):
            yield event                     # the page shows progress at logging ticks


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
    out = []
    folder = RunFolder(run_dir).samples
    if folder.is_dir():
        for p in sorted(folder.glob("step_*.png")):
            try:
                out.append((int(p.stem.split("_")[1]), str(p)))
            except (IndexError, ValueError):
                continue
    return out


def list_galleries(run_dir: str | Path) -> list[str]:
    """Gallery folders of a run (those with a manifest.json), newest first."""
    root = Path(run_dir) / GALLERIES
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "manifest.json").is_file()]
    found.sort(key=lambda p: (p / "manifest.json").stat().st_mtime, reverse=True)
    return [str(p) for p in found]


def checkpoint_steps(run_dir: str | Path) -> list[int]:
    from osmis_core.application.runfolder import RunFolder
    return RunFolder(run_dir).checkpoint_steps()


def read_run(run_dir: str) -> RunSnapshot:
    from osmis_core.application.runfolder import RunFolder
    folder = RunFolder(run_dir)
    info = folder.read_run_json()
    log_text = ""
    if folder.log_file.is_file():
        log_text = folder.log_file.read_text(encoding="utf-8", errors="replace")[-200_000:]
    return RunSnapshot(str(folder.root), info, folder.read_stats(), folder.checkpoint_steps(), folder.latest_step(),
                       list_samples(run_dir), list_galleries(run_dir), log_text)


# -- gallery ------------------------------------------------------------------------------------------------------
# The engine's gallery module (osmis_core.application.gallery: gallery_events, list_galleries, read_manifest,
# read_metrics, export_selection) owns these facts; until it exists here, these functions hold the app's call
# sites under the same names, so that each body becomes one call to it.


def generate(run_dir: str, n: int, seed: int, checkpoint: str | int, device: str) -> Iterator[Progress]:
    """Write a gallery of n samples into the run's galleries folder (RUN/galleries/step_NNNNNNN-seedS-nN),
    yielding Progress; returns the gallery folder.

    Today's engine reports no progress while it generates (only the start and the end are yielded); with the
    engine's `gallery_events` (GenerationStarted / SamplesWritten / GenerationFinished) each SamplesWritten
    becomes a Progress here, and nothing else changes in the app."""
    from osmis_core.application.generate import generate_gallery
    from osmis_core.application.runfolder import RunFolder
    from osmis_core.errors import OsmisError
    step = RunFolder(run_dir).latest_step() if checkpoint == "latest" else int(checkpoint)
    if step is None:
        raise OsmisError(f"{run_dir}: the run has no checkpoint yet; train first.")
    out = Path(run_dir) / GALLERIES / f"step_{step:07d}-seed{seed}-n{n}"
    yield Progress("generating", 0, n)
    (out / "metrics.json").unlink(missing_ok=True)   # scores of an earlier gallery in this folder are stale
    generate_gallery(run_dir, out, n=n, seed=seed, checkpoint=checkpoint, ema=True, device=device)
    yield Progress("generating", n, n)
    return str(out)


def animate(run_dir: str, seed: int, checkpoint: str | int, device: str) -> str:
    """Write a looping latent walk (osmis animate) into <run>/walks/step_NNNNNNN-seedS.mp4 and return its path."""
    from osmis_core.application.animate import latent_walk
    from osmis_core.application.runfolder import RunFolder
    from osmis_core.errors import OsmisError
    step = RunFolder(run_dir).latest_step() if checkpoint == "latest" else int(checkpoint)
    if step is None:
        raise OsmisError(f"{run_dir}: the run has no checkpoint yet; train first.")
    out = Path(run_dir) / WALKS / f"step_{step:07d}-seed{seed}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    return str(latent_walk(run_dir, out, loop=True, seed=seed, checkpoint=checkpoint, device=device))


def read_manifest(gallery_dir: str | Path) -> dict:
    from osmis_core.errors import OsmisError
    path = Path(gallery_dir) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OsmisError(f"{path}: the gallery manifest cannot be read ({exc}).") from None


def read_metrics(gallery_dir: str | Path) -> dict | None:
    """metrics.json of a gallery (written by the app or `osmis evaluate`), normalised; None when absent."""
    from .scoring import normalise_metrics
    path = Path(gallery_dir) / "metrics.json"
    if not path.is_file():
        return None
    try:
        return normalise_metrics(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
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
                    parts.append(m.convert("RGB"))   # indexed PNG: its palette holds the class colours
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
    pal[:len(colours)] = colours
    overlay = mask_overlay_image(ids, pal)
    colour = qimage_from_array(pal[ids])
    return image, overlay, colour


def export_selection(gallery_dir: str, indices: list[int], dest: str) -> dict:
    """Copy the chosen pairs (image, mask, overlay) into dest with a manifest.json, metrics.json (when scores
    exist) and an index.html. Returns {'dest', 'count', 'files'}."""
    from osmis_core.errors import OsmisError
    from osmis_core.application.generate import write_index_html
    from osmis_core.application.runfolder import atomic_write_text
    src = Path(gallery_dir)
    out = Path(dest)
    manifest = read_manifest(src)
    wanted = set(int(i) for i in indices)
    items = [it for it in manifest.get("items", []) if int(it["index"]) in wanted]
    if not items:
        raise OsmisError("nothing to export: select at least one image.")
    files = 0
    try:
        for item in items:
            for key in ("image", "mask", "overlay"):
                if item.get(key):
                    target = out / item[key]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src / item[key], target)
                    files += 1
    except OSError as exc:
        raise OsmisError(f"{out}: the export folder cannot be written ({exc.strerror or exc}).") from None
    exported = dict(manifest)
    exported.update({"items": items, "n": len(items), "exported_from": str(src.resolve()),
                     "exported": time.strftime("%Y-%m-%dT%H:%M:%S")})
    metrics = read_metrics(src)
    sel_metrics = None
    if metrics:
        rows = [r for r in metrics.get("per_image", []) if int(r.get("index", -1)) in wanted]
        from .scoring import score_keys
        keys = score_keys({"per_image": rows})
        summary = {f"{k}_mean": float(np.mean([r[k] for r in rows if isinstance(r.get(k), (int, float))]))
                   for k in keys}
        sel_metrics = {"per_image": rows, "summary": summary,
                       "gallery_summary": metrics.get("summary", {}), "n": len(rows)}
        atomic_write_text(out / "metrics.json", json.dumps(sel_metrics, indent=1) + "\n")
        files += 1
    atomic_write_text(out / "manifest.json", json.dumps(exported, indent=1) + "\n")
    write_index_html(out, exported, sel_metrics)
    return {"dest": str(out), "count": len(items), "files": files + 2}


def compute_scores(gallery_dir: str, data_path: str, mask_path: str | None, device: str,
                   config=None) -> Iterator[Progress]:
    """Per-image scores of a gallery (the engine writes metrics.json); yields Progress per scoring stage and
    returns the normalised metrics."""
    from .scoring import compute
    from .tasks import progress_yields
    reports = progress_yields(compute, gallery_dir, data_path, mask_path, device, config=config)
    while True:
        try:
            stage, done, total = next(reports)
        except StopIteration as end:
            return end.value
        yield Progress(str(stage), int(done), int(total))
