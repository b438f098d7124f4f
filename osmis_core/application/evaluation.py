"""Score a gallery folder against the training data and put the scores into the gallery."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..config import DataOptions, OsmisConfig, check_given_values
from ..data.masks import decode_masks
from ..data.sources import (
    data_files,
    find_source,
    frame_size,
    load_frame_set,
    open_checked,
    open_frame_masks,
    same_aspect,
)
from ..devices import resolve_device
from ..errors import DataError, OsmisError
from ..files import atomic_write_texts, folder_problem
from .gallery import INDEX_HTML, MANIFEST, gallery_run, index_html_text, read_manifest
from .runfolder import RunFolder, run_json_missing


def read_gallery(gallery: str | Path) -> tuple[torch.Tensor, torch.Tensor | None, list[str], dict | None]:
    """Generated images (N x 3 x H x W in [0, 1]), masks (N x H x W ids or None), names, manifest.

    A folder with a manifest.json is read through `read_manifest` (its items, in order); a plain folder of images
    (or its images/ sub-folder, with masks/ of the same names) is read sorted by name, without manifest. Raises
    DataError for pictures of several sizes (evaluate_gallery scores such a gallery size by size).
    """
    arrays, mask_arrays, image_paths, mask_paths, manifest = _read_pictures(gallery)
    images, masks = _stacked(arrays, mask_arrays, image_paths, mask_paths)
    return images, masks, [p.name for p in image_paths], manifest


def _read_pictures(
    gallery: str | Path,
) -> tuple[list[np.ndarray], list[np.ndarray] | None, list[Path], list[Path] | None, dict | None]:
    """The gallery's pictures as arrays, whatever their sizes: (images H x W x 3, masks H x W or None, image paths,
    mask paths or None, manifest); read_gallery's reading."""
    gallery = Path(gallery)
    manifest = None
    if (gallery / MANIFEST).is_file():
        manifest = read_manifest(gallery)
        items = manifest["items"]
        image_paths = [gallery / it["image"] for it in items]
        mask_paths = [gallery / it["mask"] for it in items] if items and items[0].get("mask") else None  # all or none
    else:
        problem = folder_problem(gallery, "gallery folder")
        if problem is not None:
            raise DataError(problem)
        folder = gallery / "images" if (gallery / "images").is_dir() else gallery
        image_paths = data_files(folder)
        mask_dir = gallery / "masks"
        mask_paths = [mask_dir / p.name for p in image_paths] if mask_dir.is_dir() else None
    if not image_paths and RunFolder(gallery).exists():  # a run folder given for one of its galleries
        raise _run_folder_given(gallery)
    lost = run_json_missing(gallery, ", or give one of its galleries") if not image_paths else None
    if lost is not None:  # a run folder that lost its run.json, as every other command names it
        raise DataError(lost)
    if not image_paths:
        raise DataError(f"{gallery}: the gallery holds no images.")
    arrays = [_read(p, "RGB") for p in image_paths]
    mask_arrays = None
    if mask_paths is not None:
        # a mask deleted by hand is named as a deleted image is, not taken for a gallery without masks (mIoU would
        # then say the masks are missing, and the scores of the others would not say which pair is incomplete)
        missing = next((p for p in mask_paths if not p.is_file()), None)
        if missing is not None:
            why = "listed in the manifest but missing" if manifest is not None else "missing from the gallery's masks/"
            raise DataError(f"{missing}: {why} (each image needs its mask, or the gallery none).")
        mask_arrays = [_read(p, None) for p in mask_paths]
    return arrays, mask_arrays, image_paths, mask_paths, manifest


def _stacked(
    arrays: list[np.ndarray],
    mask_arrays: list[np.ndarray] | None,
    image_paths: list[Path],
    mask_paths: list[Path] | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pictures of one size as tensors (N x 3 x H x W in [0, 1], N x H x W int64 or None); DataError naming the
    first picture of another size."""
    _check_same_size(arrays, image_paths, "image")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
    masks = None
    if mask_arrays is not None:
        _check_same_size(mask_arrays, mask_paths, "mask")
        if mask_arrays[0].shape[:2] != arrays[0].shape[:2]:
            raise DataError(f"{mask_paths[0]}: the mask's size differs from its image's ({image_paths[0].name}).")
        masks = torch.from_numpy(np.stack(mask_arrays).astype(np.int64))
    return images, masks


class _SizeGroup(NamedTuple):
    """The pictures of a gallery that have one size: (h, w), their places in the gallery, images, masks or None."""

    size: tuple[int, int]
    indices: list[int]
    images: torch.Tensor
    masks: torch.Tensor | None


def _size_groups(
    arrays: list[np.ndarray],
    mask_arrays: list[np.ndarray] | None,
    image_paths: list[Path],
    mask_paths: list[Path] | None,
    manifest: dict | None,
) -> list[_SizeGroup]:
    """The gallery's pictures by size, in the order their sizes first come. A gallery whose manifest records each
    item's size (`resolution`: osmis render's, which renders layouts of several sizes at their own sizes) may hold
    several, each picture (and mask) of its item's size; any other is of one size, as read_gallery checks it
    (DataError naming the first picture of another size)."""
    items = manifest["items"] if manifest is not None else []
    recorded = [item.get("resolution") for item in items]
    if not recorded or not all(isinstance(r, list) and len(r) == 2 for r in recorded):
        return [
            _SizeGroup(
                arrays[0].shape[:2], list(range(len(arrays))), *_stacked(arrays, mask_arrays, image_paths, mask_paths)
            )
        ]
    pictures = [(arrays, image_paths, "image")] + (
        [(mask_arrays, mask_paths, "mask")] if mask_arrays is not None else []
    )
    for kind_arrays, paths, what in pictures:
        for a, path, (h, w) in zip(kind_arrays, paths, recorded):
            if a.shape[:2] != (h, w):
                raise DataError(
                    f"{path}: the generated {what} is {a.shape[1]}x{a.shape[0]}, not {w}x{h} as its item in the "
                    "gallery's manifest records."
                )
    groups = []
    for size in dict.fromkeys(a.shape[:2] for a in arrays):
        at = [i for i, a in enumerate(arrays) if a.shape[:2] == size]
        masks = [mask_arrays[i] for i in at] if mask_arrays is not None else None
        images, mask_tensor = _stacked(
            [arrays[i] for i in at], masks, [image_paths[i] for i in at], [mask_paths[i] for i in at] if masks else None
        )
        groups.append(_SizeGroup(tuple(size), at, images, mask_tensor))
    return groups


def _evaluate_by_size(
    groups: list[_SizeGroup],
    names: list[str],
    first_real: tuple[torch.Tensor, torch.Tensor | None],
    real_at: Callable[[tuple[int, int]], tuple[torch.Tensor, torch.Tensor | None]],
    options: dict,
) -> dict:
    """evaluate_images' result for a gallery of pictures of several sizes (`groups`; `first_real`: the real data at
    the first group's size, `real_at(size)` at another). A metric that scores each image on its own against the real
    data resized to its size (MetricEntry.each_image: SIFID, LPIPS to the training data, docs/metrics.md) is computed
    size by size, its summary the mean over every image; a metric of the set (pairs of generated images, a segmenter
    trained on them) is not computed, its reason naming the sizes. The time budget is shared by the sizes in turn;
    a metric one size could not compute (weights, budget) is not computed, with that size's reason."""
    from ..metrics import REGISTRY, evaluate_images

    metrics, sifid_dims, budget, on_plan = (options[k] for k in ("metrics", "sifid_dims", "time_budget", "on_plan"))
    each = tuple(m for m in metrics if m not in REGISTRY or REGISTRY[m].each_image)  # an unknown one is refused
    rows: list[dict] = [{} for _ in names]
    results = []
    spent = 0.0
    for group in groups:
        real_images, real_masks = first_real if group is groups[0] else real_at(group.size)
        h, w = group.size

        def titled(plan, what=f"the {w}x{h} pictures"):
            on_plan(replace(plan, title=f"{plan.title or 'scores'} of {what}"))

        r = evaluate_images(
            group.images,
            real_images,
            group.masks,
            real_masks,
            **{
                **options,
                "metrics": each,
                "time_budget": None if budget is None else max(0.0, budget - spent),
                "on_plan": titled if on_plan is not None else None,
            },
            names=[names[i] for i in group.indices],
        )
        spent += sum(r["seconds"].values())
        for i, row in zip(group.indices, r["per_image"]):
            rows[i] = {**row, "index": i}
        results.append(r)
    not_computed: dict[str, str] = {}
    warnings: list[str] = []
    for r in results:
        for name, reason in r["not_computed"].items():
            not_computed.setdefault(name, reason)
        warnings += [w for w in r["warnings"] if w not in warnings]
    sizes = ", ".join(f"{g.size[1]}x{g.size[0]}" for g in groups)
    summary: dict = {"num_images": len(names)}
    for name, entry in REGISTRY.items():
        if name not in metrics:
            continue
        keys = entry.keys(sifid_dims)[0]
        if name not in each and name not in not_computed:
            reason = (
                f"skipped: the gallery's pictures have {len(groups)} sizes ({sizes}); it compares pictures of one size"
            )
            not_computed[name] = reason
            warnings.append(f"{entry.label} {reason}")
        if name in not_computed:
            summary.update(dict.fromkeys(keys, not_computed[name]))
        else:
            summary.update({k: float(np.mean([row[k] for row in rows])) for k in keys})

    def added(key: str) -> dict:
        """The sizes' seconds (per metric, or per metric and phase) added up."""
        total: dict = {}
        for r in results:
            for name, value in r[key].items():
                if isinstance(value, dict):
                    inner = total.setdefault(name, {})
                    for phase, seconds in value.items():
                        inner[phase] = round(inner.get(phase, 0.0) + seconds, 3)
                else:
                    total[name] = round(total.get(name, 0.0) + value, 3)
        return total

    first = results[0]
    return {
        "summary": summary,
        "per_image": rows,
        "warnings": warnings,
        "random_weights": first["random_weights"],
        "unavailable": list(dict.fromkeys(m for r in results for m in r["unavailable"])),
        "not_computed": not_computed,
        "settings": {k: v for r in results for k, v in r["settings"].items()},
        "seconds": added("seconds"),
        "estimates": added("estimates"),
        "estimate_phases": added("estimate_phases"),
        "phase_seconds": added("phase_seconds"),
    }


def _check_same_size(arrays: list[np.ndarray], paths: list[Path], what: str) -> None:
    """DataError naming the first generated picture whose size is not the first one's."""
    for a, p in zip(arrays, paths):
        if a.shape != arrays[0].shape:
            h, w = arrays[0].shape[:2]
            raise DataError(
                f"{p}: the generated {what} is {a.shape[1]}x{a.shape[0]}, not {w}x{h} as {paths[0].name}; "
                "a gallery's pictures all have one size."
            )


def _read(path: Path, mode: str | None) -> np.ndarray:
    im = open_checked(path, "generated image" if mode else "generated mask")
    try:
        return np.asarray(im.convert(mode) if mode else im).copy()
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}).") from None


def read_real(
    data: str | Path,
    mask: str | Path | None,
    size: tuple[int, int],
    max_frames: int = 1000,
    max_classes: int = 32,
    background_colour: str | None = None,
    check: Callable[[tuple[int, int]], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Training frames resized (bilinear) to size (H, W) in [0, 1], and their class-id masks (nearest) or None.

    Frames and masks are chosen and paired by the same rule as training (`load_frame_set`), so with the run's
    max_frames the evaluation sees the frames and masks the model was trained on. check: called with the frames'
    (W, H) as training sizes them (`frame_size`) before they are resized; it raises to refuse them."""
    try:
        source = find_source(data, mask)
    except DataError:
        # a run folder (or a gallery) given for the data: say what it is and, where run.json says, what to give
        if RunFolder(data).exists():
            trained_on = (RunFolder(data).read_run_json().get("data") or {}).get("path")
            hint = f" ({trained_on})" if trained_on else ""
            raise DataError(
                f"{data}: is a run folder, not training data; give the data it was trained on{hint}."
            ) from None
        if (Path(data) / MANIFEST).is_file():
            raise DataError(f"{data}: is a gallery, not training data; give the data its run was trained on.") from None
        raise
    frame_set = load_frame_set(source, max_frames)
    frames = frame_set.frames
    if check is not None:
        check(frame_size(frames))
    h, w = size
    images = torch.cat(
        [
            F.interpolate(
                torch.from_numpy(np.array(f)).permute(2, 0, 1)[None].float() / 255.0,
                size=(h, w),
                mode="bilinear",
                align_corners=False,
            )
            for f in frames
        ]
    )
    masks = None
    if frame_set.masks:
        paths = frame_set.masks
        ids, _ = decode_masks(open_frame_masks(frame_set), [str(p) for p in paths], max_classes, background_colour)
        masks = torch.from_numpy(
            np.stack(
                [np.asarray(Image.fromarray(a.astype(np.int32), "I").resize((w, h), Image.NEAREST)) for a in ids]
            ).astype(np.int64)
        )
    return images.clamp(0, 1), masks


def evaluate_gallery(
    gallery: str | Path,
    real: str | Path,
    mask: str | Path | None = None,
    *,
    metrics: Sequence[str] | None = None,
    sifid_dims: Sequence[int] = (64,),
    weights_dir: str | Path | None = None,
    random_weights: bool = False,
    compat=None,
    device: str | torch.device = "cpu",
    miou_setting: str = "auto",
    miou_steps: int | None = None,
    max_classes: int | None = None,
    background_colour: str | None = None,
    max_frames: int | None = None,
    skip_missing: bool = False,
    time_budget: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_plan: Callable | None = None,
) -> dict:
    """Score the gallery, write metrics.json and metrics.csv into it and refresh its index.html with the scores.
    Options as for `osmis_core.metrics.evaluate_images` (metrics None: the registry's default metrics).

    max_frames, max_classes, background_colour: default those of the run named by the gallery's manifest (else
    the config defaults), so that the real frames and their masks are the ones it was trained on (the frame-mask
    rule of `load_frame_set`)."""
    from ..metrics import Compat, evaluate_images, metric_names, metrics_files
    from ..metrics.evaluate import check_evaluation_options
    from .render_evaluation import evaluate_renderer, gallery_renderer, split_metrics

    # the options first, before the gallery and the training data are read (seconds for a video)
    check_evaluation_options(metrics, sifid_dims, time_budget, miou_steps)
    # (the background colour is not: a run stored by an earlier version may hold a blank one, which its app and
    # batch pass on, and the mask decoder names a bad one)
    check_given_values(
        {k: v for k, v in {"max_frames": max_frames, "max_classes": max_classes}.items() if v is not None}
    )
    device = str(resolve_device(device)) if isinstance(device, str) else device  # "gpu": a sentence, not torch's
    gallery = Path(gallery)
    scored = _folder_identity(gallery)
    arrays, mask_arrays, image_paths, mask_paths, manifest = _read_pictures(gallery)
    names = [p.name for p in image_paths]
    groups = _size_groups(arrays, mask_arrays, image_paths, mask_paths, manifest)
    run = gallery_run(gallery, manifest) if manifest else None
    data_options = _run_data_options(run)
    max_frames = max_frames if max_frames is not None else data_options.max_frames
    max_classes = max_classes if max_classes is not None else data_options.max_classes
    background_colour = background_colour if background_colour is not None else data_options.background_color

    def real_at(size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The training frames (and masks) resized to (h, w) `size`, as the metrics compare them."""
        return read_real(
            real,
            mask,
            size,
            max_frames=max_frames,
            max_classes=max_classes,
            background_colour=background_colour,
            check=lambda data_size: check_real_size(real, data_size, (size[1], size[0]), run),
        )

    real_images, real_masks = real_at(groups[0].size)
    renderer_metrics, metrics = split_metrics(list(metrics or metric_names(default_only=True)))
    # the renderer that made a render gallery is loaded before the other metrics are computed, so that a moved run
    # is named before them, and handed to the renderer measures
    made_by = gallery_renderer(gallery, renderer_metrics, real_masks, device) if renderer_metrics else None
    options = {
        "metrics": tuple(metrics),
        "sifid_dims": tuple(sifid_dims),
        "weights_dir": weights_dir,
        "random_weights": random_weights,
        "compat": compat or Compat(),
        "device": device,
        "progress": progress,
        "miou_setting": miou_setting,
        "miou_steps": miou_steps,
        "skip_missing": skip_missing,
        "time_budget": time_budget,
        "on_plan": on_plan,
    }
    if len(groups) == 1:
        result = evaluate_images(groups[0].images, real_images, groups[0].masks, real_masks, names=names, **options)
    else:
        result = _evaluate_by_size(groups, names, (real_images, real_masks), real_at, options)
        if made_by is not None:  # the renderer measures compare renders at the renderer's own size with the data
            real_images, real_masks = real_at(made_by[1].size)
    if manifest is not None:
        # evaluate_images numbers its rows 0..N-1; a gallery's items keep their own indices (an export of items
        # 0, 2, 3), by which the page, the app and the earlier scores pair each row with its picture
        for row, item in zip(result["per_image"], manifest["items"]):
            row["index"] = item["index"]
    if renderer_metrics:  # docs/renderer.md section 6, for galleries of osmis render
        plans = []

        def renderer_plan(plan) -> None:
            plans.append(plan)
            if on_plan is not None:
                on_plan(plan)

        # the budget left after the other metrics (what they took), for the renderer measures' own plan
        left = None if time_budget is None else max(0.0, time_budget - sum(result.get("seconds", {}).values()))
        summary, warnings = evaluate_renderer(
            gallery,
            real_images,
            real_masks,
            renderer_metrics,
            weights_dir=weights_dir,
            random_weights=random_weights,
            device=device,
            miou_steps=miou_steps or 500,
            progress=progress,
            time_budget=left,
            on_plan=renderer_plan,
            made_by=made_by,
        )
        result["summary"].update(summary)
        result["warnings"].extend(warnings)
        for plan in plans:
            result["not_computed"].update(plan.not_computed)
            result["estimates"].update({m.name: round(m.seconds, 3) for m in plan.planned})
    if _folder_identity(gallery) != scored:
        # another command (osmis generate, render, export, the app) swapped a new gallery in meanwhile: these scores
        # are the old pictures', and written into the new gallery they would stand beside pictures they never saw
        raise OsmisError(
            f"{gallery}: the gallery was replaced by another command while it was scored, so its scores were not "
            "written; score it again."
        )
    _keep_earlier_scores(gallery, result)
    files = metrics_files(gallery, result)
    if manifest is not None:
        files[gallery / INDEX_HTML] = index_html_text(manifest, result)
    try:
        atomic_write_texts(files)  # all three or none: the page never shows other scores than metrics.json
    except OSError as exc:
        where = exc.filename or gallery
        raise OsmisError(f"{where}: the metrics cannot be written ({exc.strerror or exc}).") from None
    return result


def _folder_identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of `folder`: a gallery rebuilt beside its place and swapped in (files.swap_dir_in) is another
    folder under the same name. None where it cannot be looked at (read_gallery says why)."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_real_size(real: str | Path, size: tuple[int, int], gallery_size: tuple[int, int], run: str | None) -> None:
    """Refuse (DataError naming the data and both sizes) real data of (W, H) `size` of another aspect ratio than the
    gallery's pictures of (W, H) `gallery_size`: it would be stretched over them and scored (as a mask of another
    aspect ratio is refused for its image). The data is compared (data.sources.same_aspect) with the data the
    gallery's `run` was trained on (its run.json's original size), whose pictures the model sized to whole noise
    cells (320x192 trains at 96x64); without that record, with the gallery's size, or with the size the model gives
    the data at the gallery's larger side (the same rounding)."""
    from ..models.architecture import recommend

    trained_on = _run_original_size(run)
    if trained_on is not None:
        if same_aspect(size, trained_on):
            return
        raise DataError(
            f"{real}: the data is {size[0]}x{size[1]}, another aspect ratio than the {trained_on[0]}x{trained_on[1]} "
            f"data the gallery's run {run} was trained on (its pictures are {gallery_size[0]}x{gallery_size[1]}); "
            "give data of that aspect ratio, such as the run's own."
        )
    if same_aspect(size, gallery_size):
        return
    try:
        arch = recommend(*size, max(gallery_size))
        if (arch.width, arch.height) == tuple(gallery_size):
            return
    except OsmisError:  # too small for a model at that size: not what the gallery's model made of it
        pass
    raise DataError(
        f"{real}: the data is {size[0]}x{size[1]}, another aspect ratio than the gallery's {gallery_size[0]}x"
        f"{gallery_size[1]} pictures; give data of their aspect ratio, such as the data they were generated from."
    )


def _run_original_size(run: str | None) -> tuple[int, int] | None:
    """RunFolder.original_size of the gallery's run; None when the gallery names none or its run.json is gone."""
    try:
        return RunFolder(run).original_size() if run else None
    except OsmisError:
        return None


def _run_folder_given(gallery: Path) -> DataError:
    """The refusal of a run folder given where one of its galleries is asked for."""
    listed = RunFolder(gallery).gallery_dirs()
    hint = f", such as {listed[0]}" if listed else " (it has none yet)"
    return DataError(f"{gallery}: is a run folder, not a gallery; give one of its galleries{hint}.")


def recorded_real_data(gallery: str | Path, mask: str | Path | None = None) -> tuple[Path, Path | None, Path]:
    """(training data, its --mask or None, the run) of the run a gallery was generated from, as the run's run.json
    records them: what a gallery is scored against when no other data is given. Raises DataError, in one sentence
    that asks for the data (--real), when the gallery names no run, the run or its run.json is not there, or the
    recorded data (or mask, or one of the mask files it was trained with: scored without them, the masks' scores
    would be skipped as if the run had none) is gone (renamed, moved, deleted). mask: the mask given now (--mask),
    returned in place of the recorded one, whose files then need not be there."""
    gallery = Path(gallery)
    ask = "give the training data with --real"
    problem = folder_problem(gallery, "gallery folder")
    if problem is not None:  # said as when --real is given (read_gallery), not as a gallery without manifest
        raise DataError(problem)
    if not (gallery / MANIFEST).is_file():
        if RunFolder(gallery).exists():
            raise _run_folder_given(gallery)
        raise DataError(f"{gallery}: has no {MANIFEST} naming the run it came from; {ask}.")
    run = gallery_run(gallery, read_manifest(gallery))
    if run is None:
        raise DataError(f"{gallery / MANIFEST}: names no run to take the training data from; {ask}.")
    try:
        data = RunFolder(run).read_run_json().get("data") or {}
    except OsmisError:
        raise DataError(f"{gallery}: its run {run} (or its run.json) is not there any more; {ask}.") from None
    path = data.get("path")
    if not isinstance(path, str) or not path:
        raise DataError(f"{RunFolder(run).run_json}: records no training data (data.path); {ask}.")
    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    # the mask files a run trained with masks read (a --no-masks run lists them unread: they need not be there)
    trained_with = data.get("num_classes") is not None and isinstance(source.get("masks"), list)
    masks = source["masks"] if trained_with else []
    recorded_mask = data.get("mask_path")
    for recorded in (path, *((recorded_mask, *masks) if mask is None else ())):
        if isinstance(recorded, str) and recorded and not Path(recorded).exists():
            raise DataError(f"{gallery}: its run {run} was trained on {recorded}, which is not there any more; {ask}.")
    given = mask if mask is not None else (recorded_mask if isinstance(recorded_mask, str) else None)
    return Path(path), Path(given) if given else None, Path(run)


def _run_data_options(run: str | None) -> DataOptions:
    """The data options of the run a gallery was generated from (gallery_run; its run.json), or the defaults when
    the gallery names no run or the run is not there any more."""
    if run:
        try:
            info = RunFolder(run).read_run_json()
            return OsmisConfig.from_dict(info["config"], str(RunFolder(run).run_json), {}).data
        except (OsmisError, KeyError, TypeError):
            pass
    return DataOptions()


def _keep_earlier_scores(gallery: Path, result: dict) -> None:
    """Scores already in the gallery's metrics.json are not replaced by a reason (nothing already written is
    damaged): a metric that could not run now, for lack of its weights or of time (the budget), keeps its earlier
    values, per image too, with a warning saying so; only scores of the same kind (random or pretrained weights)
    are kept, so a random-weight score is never shown as a pretrained one."""
    from ..metrics import REGISTRY
    from ..metrics.inception_layers import INCEPTION_LAYERS
    from .gallery import read_metrics

    try:
        earlier = read_metrics(gallery)
    except OsmisError:
        return
    if not earlier or earlier.get("random_weights") != result.get("random_weights"):
        return
    old_rows = {r.get("index"): r for r in earlier.get("per_image", [])}
    for name, reason in list(result.get("not_computed", {}).items()):
        entry = REGISTRY.get(name)
        if entry is None or not str(reason).startswith(("needs ", "skipped: estimated")):
            continue
        summary_keys, row_keys = entry.keys(sorted(INCEPTION_LAYERS))  # those of this result are kept below
        summary_keys = [k for k in summary_keys if k in result["summary"]]
        if not summary_keys or not all(isinstance(earlier["summary"].get(k), (int, float)) for k in summary_keys):
            continue
        for k in summary_keys:
            result["summary"][k] = earlier["summary"][k]
        for row in result["per_image"]:
            old = old_rows.get(row.get("index"), {})
            row.update({k: old[k] for k in row_keys if k in old})
        if name in earlier.get("settings", {}):  # how the kept scores were computed (mIoU setting, compat switch)
            result.setdefault("settings", {})[name] = earlier["settings"][name]
        del result["not_computed"][name]
        result["warnings"].append(
            f"{entry.label}: kept the scores already in metrics.json (not computed now: {reason})"
        )
