"""Galleries: generated image-mask pairs with their manifest, scores and index.html; the one place that knows where
they live, how they are written, read and exported.

Layout of a gallery folder (`RUN/galleries/<name>/` for the galleries of a run, whoever made them):

    manifest.json   what was generated (run, checkpoint_step, seed, n, resolution, palette, items)
    images/NNNN.png, masks/NNNN.png (palette PNG: pixel = class id), overlays/NNNN.png
    metrics.json, metrics.csv   scores, once evaluated
    index.html      a self-contained page of the pairs (and scores)

A gallery is written into a hidden sibling folder and moved into place when complete (`files.swap_dir_in`), so a
folder that holds a manifest.json always holds exactly the files it lists.
"""

from __future__ import annotations

import errno
import hashlib
import html
import json
import math
import numbers
import re
import shutil
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import numpy as np
from PIL import Image

from ..config import MAX_SAMPLES, MAX_SEED, PRECISIONS
from ..devices import resolve_device
from ..errors import ConfigError, DataError, OsmisError
from ..events import GenerationEvent, GenerationFinished, GenerationStarted, SamplesWritten, run_gallery_stream
from ..files import (
    atomic_write_text,
    clear_leftover_siblings,
    discard_staging,
    new_sibling_dir,
    refused_name,
    resolved_path,
    swap_dir_in,
)
from ..models.visual import mask_ids, overlay, palette, to_uint8_images
from .generate import load_generator, sample
from .runfolder import RunFolder, normalise_path, output_place_problem

MANIFEST = "manifest.json"
METRICS_JSON = "metrics.json"
INDEX_HTML = "index.html"
# what a gallery folder may hold (the layout above; regions/: the re-drawn regions of renders): a gallery that holds
# anything else (an export kept inside it, a run trained into it, a user's notes) is not replaced
GALLERY_ENTRIES = frozenset(
    {MANIFEST, METRICS_JSON, "metrics.csv", INDEX_HTML, "images", "masks", "overlays", "regions"}
)
# the kinds of gallery, by the command that made it, as a sentence names them: a new gallery replaces only an earlier
# one of its own kind, because an export holds samples picked by hand and a generated or render gallery the samples
# not yet picked from, and neither can be drawn again by the other's command
GALLERY_KINDS = {
    "generated": "a generated gallery",
    "render": "a render gallery",
    "export": "an export of picked samples",
}
ENCODE_THREADS = 2
# The most samples one forward pass of `generate` draws: a batch's activations grow with it, and beyond a few dozen
# samples a larger batch is no faster (on a 2-core CPU batches of 10 to 50 ran within 5 %), so more only risks
# running out of memory in the middle of a gallery.
MAX_BATCH_SIZE = 1024
# zlib level 1: files ~10 % larger than level 6 and several times faster to write; any PNG reader decodes them
PNG_COMPRESS_LEVEL = 1
_PICTURE_KEYS = ("image", "mask", "overlay")


def gallery_name(step: int, seed: int, n: int, ema: bool = True, of: str | None = None) -> str:
    """THE name of a run's gallery: `step_NNNNNNN-seedS-nN` (checkpoint step, seed, number of samples), with `-raw`
    when drawn by the raw generator instead of the EMA one, and `-OF` for what a render was drawn from (`of`: see
    render.render_source_label): other pictures, so not the folder of a gallery that the same step, seed and n would
    otherwise replace (`generate --raw` beside the EMA gallery, a render of another layout). Characters other than
    letters and digits (of any script: 森林.png is not 海.png), '.', '_' and '-' in `of` become '_'; a longer `of`
    than 48 characters is cut to 40 and a short hash of the whole added, so that names alike at the start (a
    numbered series of layouts) stay apart."""
    name = f"step_{step:07d}-seed{seed}-n{n}" + ("" if ema else "-raw")
    if of:
        plain = re.sub(r"[^\w.-]+", "_", of)
        if len(plain) > 48:
            plain = plain[:40] + "-" + hashlib.sha256(of.encode("utf-8")).hexdigest()[:7]
        name += "-" + plain.lstrip(".")
    return name


# -- generating ------------------------------------------------------------------------------------------------


def generate_gallery(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    n: int = 100,
    seed: int = 0,
    checkpoint: str | int = "latest",
    ema: bool = True,
    device: str = "auto",
    batch_size: int | None = None,
    precision: str = "fp32",
    on_event: Callable[[GenerationEvent], None] | None = None,
) -> Path:
    """Write n generated image-mask pairs with a manifest and an index.html; returns the gallery folder.

    out_dir: default `RUN/galleries/<gallery_name(step, seed, n, ema)>`. An existing gallery there is replaced whole
    (when the new one is complete); a folder holding other files is refused. on_event receives GenerationStarted,
    SamplesWritten after each batch's files, GenerationFinished. Raises ConfigError for a bad n (1..MAX_SAMPLES), seed
    (0..MAX_SEED), batch_size, precision (PRECISIONS) or device, OsmisError for
    an unusable run or an output folder that cannot be written (the previous gallery is then untouched).
    """
    return run_gallery_stream(
        gallery_events(run_dir, out_dir, n, seed, checkpoint, ema, device, batch_size, precision), on_event
    )


def gallery_events(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    n: int = 100,
    seed: int = 0,
    checkpoint: str | int = "latest",
    ema: bool = True,
    device: str = "auto",
    batch_size: int | None = None,
    precision: str = "fp32",
) -> Iterator[GenerationEvent]:
    """`generate_gallery` as a stream of events (for callers that iterate, like training's `Trainer.run`). The
    stream is stopped by closing it (generator.close()) between events, that is between batches of samples (a batch
    being sampled is finished first): the staging folder is removed, and the gallery folder stays as it was."""
    if not (_is_count(n) and n <= MAX_SAMPLES):
        raise ConfigError(f"--n must be a whole number from 1 to {MAX_SAMPLES:,}, got {n!r}.")
    if not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED):
        raise ConfigError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}.")
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    if not isinstance(ema, bool):  # recorded in the manifest and in the gallery's name
        raise ConfigError(f"ema must be True (the EMA generator) or False (--raw), got {ema!r}.")
    if batch_size is not None and not (_is_count(batch_size) and batch_size <= MAX_BATCH_SIZE):
        raise ConfigError(
            f"--batch-size must be a whole number from 1 to {MAX_BATCH_SIZE} (larger batches are no faster and only "
            f"need more memory), got {batch_size!r}."
        )
    dev = resolve_device(device)
    # on a 2-core CPU batches of 10 to 50 ran within 5 % of each other at reference case b
    batch_size = batch_size or (20 if dev.type == "cpu" else 50)
    generator, meta = load_generator(run_dir, checkpoint, ema, dev)
    out = (
        normalise_path(out_dir)
        if out_dir is not None
        else (RunFolder(run_dir).galleries / gallery_name(meta["step"], seed, n, ema))
    )
    staging = staging_folder(out, reads=[run_dir], makes="generated")  # first: it names a refused `out` itself
    existed = (out / MANIFEST).is_file()
    t0 = time.perf_counter()
    try:
        yield GenerationStarted(n, out)
        has_masks = meta["num_classes"] is not None
        for sub in ("images", "masks", "overlays") if has_masks else ("images",):
            (staging / sub).mkdir()
        width = max(4, len(str(n - 1)))
        colours = palette()
        items: list[dict] = []
        # The files of a batch are written by two threads while the next batch is sampled on a GPU; on a CPU the
        # encoders would compete with the forward pass's threads, so there the batch's files are written first.
        overlap = dev.type != "cpu"
        with ThreadPoolExecutor(max_workers=ENCODE_THREADS) as pool:
            in_flight: tuple[list[Future], int] | None = None
            for start, images, masks in sample(generator, n, seed, batch_size, dev, precision):
                imgs = to_uint8_images(images)  # B x H x W x 3
                ids = mask_ids(masks) if masks is not None else None  # B x H x W
                overlays = overlay(imgs, ids) if ids is not None else None
                jobs = []
                for i in range(imgs.shape[0]):
                    idx = start + i
                    name = f"{idx:0{width}d}.png"
                    item = {"index": idx, "image": f"images/{name}"}
                    jobs.append((imgs[i], None, staging / "images" / name))
                    if ids is not None:
                        counts = np.bincount(ids[i].ravel(), minlength=meta["num_classes"])[: meta["num_classes"]]
                        item.update(
                            {
                                "mask": f"masks/{name}",
                                "overlay": f"overlays/{name}",
                                "class_shares": (counts / ids[i].size).round(5).tolist(),
                            }
                        )
                        jobs.append((ids[i], colours, staging / "masks" / name))
                        jobs.append((overlays[i], None, staging / "overlays" / name))
                    items.append(item)
                futures = [pool.submit(_save_all, jobs[k::ENCODE_THREADS]) for k in range(ENCODE_THREADS)]
                if in_flight is not None:
                    yield _finish(*in_flight, n)
                in_flight = (futures, start + imgs.shape[0])
                if not overlap:
                    yield _finish(*in_flight, n)
                    in_flight = None
            if in_flight is not None:
                yield _finish(*in_flight, n)
        a = meta["architecture"]
        manifest = {
            "run": str(resolved_path(Path(run_dir))),
            "checkpoint_step": meta["step"],
            "ema": ema,
            "seed": seed,
            "n": n,
            "resolution": [a["height"], a["width"]],
            "num_classes": meta["num_classes"],
            "precision": precision,
            "palette": colours[: meta["num_classes"]].tolist() if has_masks else None,
            "seconds": round(time.perf_counter() - t0, 3),
            "items": items,
        }
        atomic_write_text(staging / MANIFEST, json.dumps(manifest, indent=1) + "\n", durable=False)
        write_index_html(staging, manifest)
        swap_dir_in(staging, out)
    except OSError as exc:
        discard_staging(staging)
        kept = "the gallery that was there is unchanged" if existed else "nothing was left behind"
        raise OsmisError(f"{out}: the gallery cannot be written ({exc.strerror or exc}); {kept}.") from None
    except BaseException:
        discard_staging(staging)
        raise
    yield GenerationFinished(out, n, round(time.perf_counter() - t0, 3))


def _is_count(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1


def _finish(futures: list[Future], done: int, total: int) -> SamplesWritten:
    for f in futures:
        f.result()  # the first failure (a full disk, say) is raised here
    return SamplesWritten(done, total)


def _save_all(jobs: list) -> None:
    for pixels, colours, path in jobs:
        save_png(pixels, path, colours)


def save_png(pixels: np.ndarray, path: Path, colours: np.ndarray | None = None) -> None:
    """Write H x W x 3 uint8 RGB pixels, or H x W class ids (uint8) as a palette PNG whose palette is `colours`
    (N x 3 uint8, id -> colour). Raises OSError naming the file when it cannot be written."""
    if colours is None:
        im = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    else:
        im = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "P")
        im.putpalette(np.asarray(colours, np.uint8)[:256].ravel().tolist())
    try:
        im.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


# -- building a folder beside its place, then swapping it in -------------------------------------------------------


def gallery_kind(manifest: dict) -> str:
    """The kind of gallery a manifest describes (a key of GALLERY_KINDS): `export` when it was exported from another
    gallery, `render` for a layout renderer's gallery, else `generated` (an OSMIS run's)."""
    if "exported_from" in manifest:
        return "export"
    return "render" if manifest.get("kind") == "render" else "generated"


def check_gallery_out(
    out: Path, reads: Collection[str | Path] = (), keeps_all: bool = False, makes: str | None = None
) -> bool:
    """Whether a new gallery may be built into `out`, checked before anything is written (the app asks before its
    "replace?" question): True when `out` holds an earlier gallery that it would replace, False when it is new or
    empty. Raises OsmisError, naming `out`, for an `out` that holds something other than a gallery (it would be
    replaced): files without a manifest, a gallery with other entries than GALLERY_ENTRIES (unless `keeps_all`: the
    caller copies every file of `out` into the new folder), a gallery of another kind than the one the command
    `makes` (a key of GALLERY_KINDS; a manifest that cannot be read is a damaged gallery and is replaced), or a file
    or folder the command reads (`reads`: the run, the source gallery, the layouts), a place no gallery may go
    (runfolder.output_place_problem: among a run's own files but its galleries, inside a gallery), a symbolic link
    (the swap would replace the link and leave what it points to as it was), the current folder or one that holds
    it, and a name the system refuses to look up (past 255 bytes, a folder on its way that cannot be read)."""
    # an OSError out of the checks below had reached the app as "Unexpected"; a file on the way of a new `out` is
    # said when the folder is made
    reason = refused_name(out, follow_links=False)
    if reason is not None:
        raise OsmisError(f"{out}: cannot be an output folder ({reason}); choose another.")
    if out.is_symlink():  # swapping a folder in would replace the link, not what it points to
        raise OsmisError(f"{out}: is a symbolic link; give the folder it points to, or a new folder.")
    target = resolved_path(out)
    try:
        here = resolved_path(Path.cwd())
    except OSError:  # the current folder was deleted: no gallery can be it
        here = None
    if here is not None and (target == here or target in here.parents):
        # a folder in use as the current one cannot be renamed over ("Device or resource busy"), and the gallery is
        # moved into place whole, never written into the folder file by file
        raise OsmisError(
            f"{out}: is the current folder (or holds it), which a gallery cannot replace; give a new folder, such as "
            f"{out / 'gallery'}."
        )
    for source in reads:
        if target == resolved_path(Path(source)) or target in resolved_path(Path(source)).parents:
            raise OsmisError(
                f"{out}: the new gallery would replace {source}, which this command reads; choose another output "
                f"folder."
            )
    place = output_place_problem(out, "gallery")
    if place is not None:
        raise OsmisError(f"{out}: {place}.")
    if not out.exists():
        return False
    if not out.is_dir():
        raise OsmisError(f"{out}: exists and is not a folder; choose another output folder.")
    if not (out / MANIFEST).is_file():
        held = sorted(p.name for p in out.iterdir())
        if held:  # named: a hidden one (.DS_Store) makes a folder that looks empty in a file dialog
            raise OsmisError(
                f"{out}: the folder holds {held[0]}{' and more' if len(held) > 1 else ''} but no {MANIFEST}; a "
                f"gallery only replaces a gallery, so choose a new or empty folder."
            )
        return False
    if not keeps_all:
        _check_only_gallery(out)
    if makes is not None:
        _check_same_kind(out, makes)
    return True


def staging_folder(
    out: Path, reads: Collection[str | Path] = (), keeps_all: bool = False, makes: str | None = None
) -> Path:
    """A new hidden sibling of `out` to build the gallery into, once `check_gallery_out` (same arguments) accepts
    `out`. Clears what an earlier killed build left beside it."""
    check_gallery_out(out, reads, keeps_all, makes)
    try:
        clear_leftover_siblings(out)
        return new_sibling_dir(out)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # out's own name, a few bytes short of the limit: not its parent's fault
            raise OsmisError(
                f"{out}: cannot be an output folder (its name is too long for the building folder .NAME.building-* "
                "made beside it); choose a shorter name."
            ) from None
        raise OsmisError(f"{out.parent}: the output folder cannot be written ({exc.strerror or exc}).") from None


def _check_only_gallery(out: Path) -> None:
    """Refuse (OsmisError) a gallery folder that holds more than a gallery: an entry that is none of
    GALLERY_ENTRIES (hidden temporaries aside), or a folder among its pictures (an export kept there, say)."""
    other = sorted(p.name for p in out.iterdir() if p.name not in GALLERY_ENTRIES and not p.name.startswith("."))
    other += sorted(
        f"{sub.name}/{p.name}"
        for sub in out.iterdir()
        if sub.name in GALLERY_ENTRIES and sub.is_dir()
        for p in sub.iterdir()
        if p.is_dir()
    )
    if other:
        raise OsmisError(
            f"{out}: the gallery folder also holds {other[0]}, which is not the gallery's; a gallery only replaces "
            f"a gallery, so move it out or choose another output folder."
        )


def kind_at(folder: str | Path) -> str | None:
    """The kind of the gallery in `folder` (a key of GALLERY_KINDS), or None when it holds none whose manifest reads
    (no folder, no manifest, a damaged one: a new gallery there replaces it whatever it makes)."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return gallery_kind(manifest) if isinstance(manifest, dict) else None


def _check_same_kind(out: Path, makes: str) -> None:
    """Refuse (OsmisError) replacing a gallery of another kind than `makes` (see GALLERY_KINDS)."""
    kind = kind_at(out)
    if kind is not None and kind != makes:
        raise OsmisError(
            f"{out}: is {GALLERY_KINDS[kind]}, and {GALLERY_KINDS[makes]} does not replace it; choose another output "
            f"folder."
        )


# -- reading ---------------------------------------------------------------------------------------------------


def _fail(path: Path, problem: str) -> DataError:
    return DataError(f"{path}: not a usable gallery manifest ({problem}).")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _safe_relative(value, path: Path, where: str) -> str:
    """A picture path inside the gallery: relative, forward slashes, no '..'."""
    if not isinstance(value, str) or not value:
        raise _fail(path, f"{where} must be a file name inside the gallery")
    p = PurePosixPath(value)
    if p.is_absolute() or ".." in p.parts or "\\" in value or ":" in value:
        raise _fail(path, f"{where} = {value!r} points outside the gallery")
    return value


def _item_files(item: dict, manifest_path: Path) -> list[str]:
    """The files of the gallery an item lists: its pictures and, for a render, the region masks of its re-drawn
    regions that the gallery holds (application.render.add_to_gallery's regions/NNNN-K.png), which re-make it."""
    names = [item[k] for k in _PICTURE_KEYS if item.get(k)]
    for r in item.get("resamples") or []:
        region = r.get("region") if isinstance(r, dict) else None
        if isinstance(region, dict) and region.get("mask"):
            names.append(_safe_relative(region["mask"], manifest_path, f"item {item['index']} region mask"))
    return names


_FIELD_TYPES = {
    "checkpoint_step": _is_int,
    "seed": _is_int,
    "n": _is_int,
    "ema": lambda v: isinstance(v, bool),
    "num_classes": lambda v: v is None or _is_int(v),
    "run": lambda v: isinstance(v, str),
    "precision": lambda v: isinstance(v, str),
    "seconds": lambda v: v is None or _is_number(v),
    "resolution": lambda v: isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v),
}


def gallery_run(gallery: str | Path, manifest: dict) -> str | None:
    """The run folder a gallery came from: the one its manifest records, or, where that is not there any more and
    the gallery sits in the galleries/ of a run folder, that run (moved or renamed with its galleries, as
    add_to_gallery finds a render gallery's). None when the manifest names no run."""
    recorded = manifest.get("run")
    if not isinstance(recorded, str) or not recorded:
        return None
    holder = resolved_path(Path(gallery)).parent
    if (
        not RunFolder(recorded).exists()
        and holder == RunFolder(holder.parent).galleries
        and RunFolder(holder.parent).exists()
    ):
        return str(holder.parent)
    return recorded


def read_manifest(gallery: str | Path) -> dict:
    """The validated manifest.json of a gallery folder.

    Returns the manifest dict; its `items` is a list of dicts each with an int `index`, an `image` path and
    optional `mask` / `overlay` paths (relative, inside the gallery): a mask for every item or for none. Raises
    DataError naming the file for a missing or unreadable file, invalid JSON, no `items` list, a field of the wrong
    type, or items of which only some list a mask.
    """
    path = Path(gallery) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not Path(gallery).exists():  # e.g. a gallery the app shows, renamed or deleted since
            raise DataError(f"{Path(gallery)}: the gallery folder is not there (renamed or deleted?).") from None
        raise DataError(f"{Path(gallery)}: not a gallery (no {MANIFEST}).") from None
    except NotADirectoryError:  # not "GALLERY/manifest.json: cannot be read ([Errno 20] Not a directory ...)"
        raise DataError(f"{Path(gallery)}: is a file, not a gallery folder.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}).") from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path}: not valid JSON ({str(exc)[:120]}).") from None
    if not isinstance(data, dict):
        raise _fail(path, "not a JSON object")
    items = data.get("items")
    if not isinstance(items, list):
        raise _fail(path, 'no "items" list')
    for key, ok in _FIELD_TYPES.items():
        if key in data and not ok(data[key]):
            raise _fail(path, f'"{key}" has the wrong type ({type(data[key]).__name__})')
    seen = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _fail(path, f"item {i} is not an object")
        if not _is_int(item.get("index")):
            raise _fail(path, f'item {i} has no whole-number "index"')
        if item["index"] in seen:
            raise _fail(path, f"index {item['index']} appears twice")
        seen.add(item["index"])
        _safe_relative(item.get("image"), path, f"item {i} image")
        for key in ("mask", "overlay"):
            if item.get(key) is not None:
                _safe_relative(item[key], path, f"item {i} {key}")
        shares = item.get("class_shares")
        if shares is not None and not (isinstance(shares, list) and all(_is_number(x) for x in shares)):
            raise _fail(path, f'item {i} "class_shares" is not a list of numbers')
    # each image has its mask, or the gallery none: some items without one is an incomplete gallery (refused as a
    # mask file deleted from it is when the gallery is scored), not one without masks that drops all of them
    with_mask = [bool(item.get("mask")) for item in items]
    if any(with_mask) and not all(with_mask):
        i = with_mask.index(False)
        raise _fail(
            path,
            f"item {i} ({items[i].get('image')}) lists no mask but others do (each image needs its "
            "mask, or the gallery none)",
        )
    return data


def read_metrics(gallery: str | Path) -> dict | None:
    """The metrics.json of a gallery ({"summary": {...}, "per_image": [{"index": i, ...}], "warnings": [...]}),
    or None when the gallery has not been scored. Raises DataError for an unreadable or malformed file."""
    path = Path(gallery) / METRICS_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}).") from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path}: not valid JSON ({str(exc)[:120]}).") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("summary", {}), dict)
        or not isinstance(data.get("per_image", []), list)
        or not all(isinstance(r, dict) for r in data.get("per_image", []))
    ):
        raise DataError(f"{path}: not a metrics file (expected a summary object and a per_image list).")
    return data


def list_galleries(run_dir: str | Path) -> list[Path]:
    """The galleries of a run (folders of RUN/galleries holding a manifest.json), newest first."""
    return RunFolder(run_dir).gallery_dirs()


# -- index.html ------------------------------------------------------------------------------------------------


# a score name safe as a data-attribute name and inside a JavaScript string literal (every metric's key is one)
_SORTABLE_KEY = re.compile(r"[a-z][a-z0-9_]*")


def _is_score(value) -> bool:
    """A score the page shows as a number: NaN and infinity are shown as metrics.json stores them (null, read as
    evaluate.MISSING_SCORE), so that the page `osmis evaluate` writes and the page of an export of those scores say
    the same."""
    return _is_number(value) and math.isfinite(value)


def _e(value) -> str:
    """Every value copied from a manifest or a metrics file goes through here into the page."""
    return html.escape(str(value), quote=True)


def write_index_html(out: str | Path, manifest: dict, metrics: dict | None = None) -> Path:
    """Write a self-contained gallery page (no network) into `out` (index_html_text); returns its path."""
    path = Path(out) / INDEX_HTML
    atomic_write_text(path, index_html_text(manifest, metrics), durable=False)
    return path


def index_html_text(manifest: dict, metrics: dict | None = None) -> str:
    """A gallery's self-contained page (no network): each pair with its scores when `metrics` is given. Every value
    taken from the manifest or the metrics is HTML-escaped."""
    per_image = {r["index"]: r for r in (metrics or {}).get("per_image", []) if _is_int(r.get("index"))}
    score_keys = sorted({k for r in per_image.values() for k in r if k != "index" and _is_score(r[k])})
    # a score's name becomes an attribute name and a JavaScript string (the sort buttons), where escaping does not
    # help (an entity in onclick is decoded before the script runs): only plain names are sortable, the others
    # (a hand-edited metrics.json) are shown, escaped, in the captions only
    sortable = [k for k in score_keys if _SORTABLE_KEY.fullmatch(k)]
    from ..metrics.evaluate import MISSING_SCORE, RANDOM_WEIGHTS_WARNING, summary_rows

    cards = []
    for item in manifest["items"]:
        scores = per_image.get(item["index"], {})
        shown = [k for k in score_keys if _is_score(scores.get(k))]
        data_attrs = " ".join(f'data-{k.replace("_", "-")}="{scores[k]:.6g}"' for k in shown if k in sortable)
        # every score of the page, under any name, in every caption: one an item lacks says so, as the summary does
        score_txt = " · ".join(
            f"{_e(k)} {scores[k]:.4g}" if k in shown else f"{_e(k)} {MISSING_SCORE}" for k in score_keys
        )
        pics = "".join(
            f'<img src="{_e(quote(item[k]))}" alt="{_e(k)} {_e(item["index"])}" loading="lazy">'
            for k in _PICTURE_KEYS
            if item.get(k)
        )
        cards.append(
            f'<figure data-index="{_e(item["index"])}" {data_attrs}>{pics}'
            f"<figcaption>#{_e(item['index'])} {score_txt}</figcaption></figure>"
        )
    summary = ""
    if metrics and metrics.get("summary"):
        rows = "".join(
            f"<tr><th>{_e(k)}</th><td>{_e(text)}</td></tr>"
            for k, text in summary_rows(
                {k: v if _is_score(v) or not _is_number(v) else None for k, v in metrics["summary"].items()}, digits=5
            )
        )
        # what qualifies the scores goes with them: a page shared on its own must not pass random-weight proxies off
        # as published SIFID/LPIPS (the CLI prints the same warning under its table; a score not computed says why
        # in its own row)
        note = f"<p>warning: {_e(RANDOM_WEIGHTS_WARNING)}</p>" if metrics.get("random_weights") is True else ""
        summary = f"<h2>Summary</h2><table>{rows}</table>{note}"
    # each score both ways, as the app's Gallery page sorts: low to high (1) and high to low (-1)
    buttons = "".join(
        f"<button onclick=\"sortBy('{_e(k.replace('_', '-'))}', {way})\">{_e(k)} ({words})</button>"
        for k in sortable
        for way, words in ((1, "low → high"), (-1, "high → low"))
    )
    sort_bar = f"<p>Sort by: <button onclick=\"sortBy('index', 1)\">index</button>{buttons}</p>" if sortable else ""
    # what the page says it shows is what its items hold: a run without masks has images only, and a render
    # gallery's pictures are the renderer's photos of layouts, not a generator's samples
    shown_pictures = ", ".join(
        label
        for key, label in zip(_PICTURE_KEYS, ("image", "class mask", "overlay"))
        if any(item.get(key) for item in manifest["items"])
    )
    if manifest.get("kind") == "render":
        made = "photo rendered from a layout" if len(manifest["items"]) == 1 else "photos rendered from layouts"
        made += " by the layout renderer of"
        how = f"seed {_e(manifest.get('seed'))}"
    else:
        made = "sample from" if len(manifest["items"]) == 1 else "samples from"
        how = f"{'EMA' if manifest.get('ema', True) else 'raw'} generator, seed {_e(manifest.get('seed'))}"
    # the run's folder name sits inside a sentence: <bdi> keeps a right-to-left mark in it from reversing the rest
    run = f"<bdi>{_e(manifest.get('run', ''))}</bdi>"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OSMIS gallery</title>
<style>
body {{ font-family: sans-serif; margin: 1em; background: #fafafa; }}
#grid {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure {{ margin: 0; background: #fff; padding: 6px; border: 1px solid #ddd; }}
figure img {{ display: block; max-width: 256px; margin-bottom: 2px; }}
figcaption {{ font-size: 12px; color: #333; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
</style></head><body>
<h1>OSMIS gallery</h1>
<p>{len(manifest["items"])} {made} {run} at step {_e(manifest.get("checkpoint_step"))}
({how}){"; " + shown_pictures if shown_pictures else ""}.</p>
{summary}{sort_bar}
<div id="grid">{"".join(cards)}</div>
<script>
// way 1: low to high, -1: high to low. Items without the score come last either way, and items that tie (or have
// no score) keep item order, as on the app's Gallery page.
function sortBy(key, way) {{
  const grid = document.getElementById('grid');
  const figs = Array.from(grid.children);
  const camel = k => k.replace(/-([a-z])/g, (m, c) => c.toUpperCase());
  const item = f => parseFloat(f.dataset.index);
  const val = f => key === 'index' ? item(f) : parseFloat(f.dataset[camel(key)]);
  figs.sort((a, b) => {{
    const x = val(a), y = val(b);
    if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y) || item(a) - item(b);
    return (way || 1) * (x - y) || item(a) - item(b);
  }});
  figs.forEach(f => grid.appendChild(f));
}}
</script>
</body></html>
"""
    return page


# -- exporting a selection -------------------------------------------------------------------------------------


def parse_selection(text: str) -> list[int]:
    """'0,3,7-9' -> [0, 3, 7, 8, 9] (sorted, without repeats). Raises ConfigError naming --select."""
    chosen: set[int] = set()
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise ConfigError(f"--select: '{part}' is not an index or a range such as 7-9.")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi - lo > 1_000_000:
            raise ConfigError(f"--select: the range '{part}' is too long.")
        chosen.update(range(lo, hi + 1))
    if not chosen:
        raise ConfigError("--select: give at least one index, e.g. 0,3,7-9.")
    return sorted(chosen)


@dataclass(frozen=True)
class ExportResult:
    dest: Path
    count: int  # pairs exported
    files: int  # files written


def export_replaces(gallery: str | Path, dest: str | Path) -> bool:
    """Whether `export_selection(gallery, ..., dest)` would replace an earlier export in `dest` (the app asks before
    it does). Raises OsmisError, naming dest, where the export would be refused (see `check_gallery_out`)."""
    return check_gallery_out(normalise_path(dest), reads=[Path(gallery)], makes="export")


def export_selection(gallery: str | Path, indices: Sequence[int], dest: str | Path) -> ExportResult:
    """Copy the chosen pairs (image, mask, overlay) of a gallery into `dest`, with a manifest.json, a
    metrics.json (the chosen rows and their means, when the gallery is scored) and an index.html.

    dest becomes a gallery itself; it is built beside its place and swapped in, so an earlier export there is
    replaced whole (a generated or render gallery there is refused, see `staging_folder`). indices: item indices,
    or the --select text ("0,3,7-9", parse_selection). Raises DataError for an unusable gallery, OsmisError when
    nothing is chosen, an index is not a whole number or not in the gallery, or dest cannot be written.
    """
    src = Path(gallery)
    out = normalise_path(dest)
    manifest = read_manifest(src)
    if isinstance(indices, str):  # the --select text ("0,3,7-9"), as the CLI takes it
        indices = parse_selection(indices)
    odd = next((i for i in indices if not _is_int(i) and not isinstance(i, np.integer)), None)
    if odd is not None:  # int("a") would be a ValueError, and int(1.7) item 1 picked without a word
        raise OsmisError(f"the indices to export must be whole numbers (the gallery's item indices), got {odd!r}.")
    wanted = {int(i) for i in indices}
    if not wanted:
        raise OsmisError("nothing to export: select at least one image.")
    items = [it for it in manifest["items"] if it["index"] in wanted]
    unknown = sorted(wanted - {it["index"] for it in items})
    if unknown:
        raise OsmisError(f"{src}: the gallery has no item {unknown[0]} (it holds {len(manifest['items'])} items).")
    metrics = read_metrics(src)
    names = [name for item in items for name in _item_files(item, src / MANIFEST)]
    # every file is looked for before anything is staged: one deleted or replaced by a folder is the gallery's
    # fault, not the export folder's
    missing = next((name for name in names if not (src / name).is_file()), None)
    if missing is not None:
        raise DataError(f"{src / missing}: listed in the manifest but missing.")
    staging = staging_folder(out, reads=[src], makes="export")
    try:
        files = 0
        for name in names:
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(src / name, target)
            except FileNotFoundError:  # deleted since it was looked for
                raise DataError(f"{src / name}: listed in the manifest but missing.") from None
            files += 1
        exported = dict(manifest)
        exported.update(
            {
                "items": items,
                "n": len(items),
                "exported_from": str(resolved_path(src)),
                "exported": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
        )
        sel_metrics = None
        if metrics:
            rows = [r for r in metrics.get("per_image", []) if r.get("index") in wanted]
            keys = sorted({k for r in rows for k in r if k != "index" and _is_number(r[k])})
            summary = {f"{k}_mean": float(np.mean([r[k] for r in rows if _is_number(r.get(k))])) for k in keys}
            warnings, settings = metrics.get("warnings"), metrics.get("settings")  # as a hand-edited file holds them
            sel_metrics = {
                "per_image": rows,
                "summary": summary,
                "gallery_summary": metrics.get("summary", {}),
                "n": len(rows),
                # what qualifies the scores goes with them (random weights: NOT comparable; a compat switch)
                "random_weights": metrics.get("random_weights") is True,
                "warnings": [w for w in warnings if isinstance(w, str)] if isinstance(warnings, list) else [],
                "settings": settings if isinstance(settings, dict) else {},
            }
            atomic_write_text(staging / METRICS_JSON, json.dumps(sel_metrics, indent=1) + "\n")
            files += 1
        atomic_write_text(staging / MANIFEST, json.dumps(exported, indent=1) + "\n")
        write_index_html(staging, exported, sel_metrics)
        swap_dir_in(staging, out)
    except OSError as exc:
        discard_staging(staging)
        where = exc.filename or out
        raise OsmisError(f"{where}: the export cannot be written ({exc.strerror or exc}).") from None
    except BaseException:
        discard_staging(staging)
        raise
    return ExportResult(out, len(items), files + 2)
