"""The renderer measures of docs/renderer.md section 6 for a gallery made by `osmis render`: the renders they need
are made here with the gallery's renderer (fixed seeds, so the scores are reproducible); the arithmetic is in
osmis_core.metrics.renderer_measures."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.renderer_augment import edit_layout, tps_warp
from ..errors import DataError, OsmisError
from ..metrics.registry import RENDERER_METRICS
from ..metrics.renderer_measures import (
    LOCALITY_BAND,
    LayoutSegmenter,
    locality_changes,
    locality_summary,
    pixel_diversity,
)
from ..models.renderer import instance_labels
from .render import Renderer

EVAL_SEED = 1234  # the held-out layouts' draws
NOISES = 8  # renders per layout for diversity (docs/renderer.md section 6)
FIDELITY_SEEDS = 4  # renders per layout for fidelity and locality
HELD_OUT_WARPS = 3
TPS_STRENGTH = 0.1


def _as_float(images: np.ndarray) -> torch.Tensor:
    """N x H x W x 3 uint8 -> N x 3 x H x W in [0, 1]."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def held_out_layouts(
    ids: np.ndarray, num_classes: int, image: torch.Tensor | None = None
) -> tuple[list[np.ndarray], list[torch.Tensor]]:
    """Fixed-seed edited versions of a layout: HELD_OUT_WARPS TPS warps, a moved object, a removed object
    (docs/renderer.md section 6). With the real image (3 x H x W in [-1, 1]) the warped real images come back too
    (the ceiling)."""
    gen = torch.Generator().manual_seed(EVAL_SEED)
    t = torch.from_numpy(ids)
    onehot = F.one_hot(t, num_classes).permute(2, 0, 1)[None].float()
    layouts, images = [], []
    for _ in range(HELD_OUT_WARPS):
        warped_image, warped = tps_warp(image[None] if image is not None else None, onehot, TPS_STRENGTH, gen)
        layouts.append(warped.argmax(1)[0].numpy())
        if warped_image is not None:
            images.append(warped_image[0].clamp(-1, 1))
    for op in ("move", "remove"):
        for _ in range(8):  # another object, another place: an edit may find no room
            _, edited = edit_layout(None, t, gen, op)
            if not torch.equal(edited, t):
                layouts.append(edited.numpy())
                break
    return layouts, images


def _locality_regions(ids: np.ndarray) -> dict[str, np.ndarray]:
    """A class region (the smallest non-background class covering >= 1 % of the layout) and an instance region (the
    largest non-background instance)."""
    regions = {}
    counts = np.bincount(ids.ravel())
    classes = [c for c in range(1, counts.size) if counts[c] >= 0.01 * ids.size]
    if classes:
        regions["class"] = ids == min(classes, key=lambda c: counts[c])
    inst, n = instance_labels(ids)
    sizes = np.bincount(inst.ravel(), minlength=n)
    objects = [i for i in range(n) if ids[inst == i][0] != 0]
    if objects:
        regions["instance"] = inst == max(objects, key=lambda i: sizes[i])
    return regions


def gallery_renderer(
    gallery: Path, metrics: Sequence[str], real_masks: torch.Tensor | None, device: str | torch.device = "cpu"
) -> tuple[dict, Renderer]:
    """The manifest of a render gallery and the renderer that made it (the checkpoint it records, not whatever the
    run's latest is by now), for the renderer measures `metrics`. Raises DataError naming the gallery for a gallery
    osmis render did not make, real masks missing, or a renderer run moved or deleted since; evaluate_gallery asks
    before the other metrics are computed, so that they are not computed for nothing."""
    manifest = _read_manifest(gallery)
    verb = "needs" if len(metrics) == 1 else "need"
    if manifest.get("kind") != "render":
        raise DataError(f"{gallery}: {', '.join(metrics)} {verb} a gallery made by osmis render (this one was not).")
    if real_masks is None:
        raise DataError("the renderer measures need the training masks (give --mask).")
    try:
        renderer = Renderer.load(manifest["run"], manifest.get("checkpoint_step", "latest"), device=device)
    except OsmisError as exc:  # the path came from the manifest: say so, and what needs it
        raise DataError(
            f"{gallery}: {', '.join(metrics)} {verb} the renderer run that made the gallery; {exc}"
        ) from None
    return manifest, renderer


def _read_manifest(gallery: Path) -> dict:
    try:
        return json.loads((gallery / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{gallery}: the renderer measures need a gallery made by osmis render (no manifest.json)."
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{gallery / 'manifest.json'}: cannot be read ({exc}).") from None


def _osmis_pairs(manifest: dict) -> list[tuple[Path, Path]] | None:
    """(OSMIS photo, OSMIS mask) of each item when the gallery rendered an OSMIS gallery's masks (--from)."""
    pairs = []
    for item in manifest["items"]:
        mask = Path(item["layout"])
        source = mask.parent.parent
        try:
            osmis = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        match = [it for it in osmis.get("items", []) if it.get("mask") and source / it["mask"] == mask]
        if not match or "image" not in match[0]:
            return None
        pairs.append((source / match[0]["image"], mask))
    return pairs


# The summary keys of each renderer measure (a measure not computed holds its reason in each of them).
RENDERER_KEYS = {
    "layout_fidelity": (
        "layout_fidelity_train",
        "layout_fidelity_edited",
        "layout_fidelity_ceiling",
        "layout_fidelity_ratio",
    ),
    "layout_diversity": ("layout_pixel_diversity", "layout_lpips_diversity"),
    "locality": ("locality_class", "locality_instance"),
    "memorisation": ("memorisation_lpips",),
    "two_stage_alignment": ("alignment_rendered", "alignment_osmis"),
}
_LABELS = {
    "layout_fidelity": "layout fidelity",
    "layout_diversity": "diversity per layout",
    "locality": "locality",
    "memorisation": "memorisation",
    "two_stage_alignment": "two-stage alignment",
}
_NEEDS_SEGMENTER = ("layout_fidelity", "two_stage_alignment")


def evaluate_renderer(
    gallery: str | Path,
    real_images: torch.Tensor,
    real_masks: torch.Tensor | None,
    metrics: Sequence[str],
    *,
    weights_dir=None,
    random_weights: bool = False,
    device: str | torch.device = "cpu",
    miou_steps: int = 500,
    progress: Callable[[str, int, int], None] | None = None,
    time_budget: float | None = None,
    on_plan: Callable | None = None,
    made_by: tuple[dict, Renderer] | None = None,
) -> tuple[dict, list[str]]:
    """Summary values and warnings of the requested renderer measures (names from RENDERER_METRICS) for a render
    gallery. real_images: T x 3 x H x W in [0, 1]; real_masks: T x H x W int64 class ids (required).

    Before the work each measure's time is estimated on this device (metrics.evaluate's plan): one render timed,
    the segmenter's first training steps timed (they count towards its training), LPIPS timed on two renders;
    a measure whose estimate would take the running total past `time_budget` (seconds) is not computed: its
    summary keys (RENDERER_KEYS) hold the reason, "skipped: estimated ..., over the time budget of ...", as the
    other metrics' do. on_plan(EvaluationPlan) is called with the plan before the work. made_by: the gallery's
    manifest and renderer as gallery_renderer returned them, when the caller has loaded them already.

    locality_class / locality_instance: the mean locality ratio (metrics.renderer_measures.locality_summary);
    null when undefined, with the reason as text in locality_class_note / locality_instance_note (also set when
    some renders were left out of the mean)."""
    import time

    from ..metrics import LPIPSDiversity, LPIPSToTrain
    from ..metrics.evaluate import EvaluationPlan, PlannedMetric
    from ..metrics.registry import format_seconds

    gallery = Path(gallery)
    manifest, renderer = made_by or gallery_renderer(gallery, metrics, real_masks, device)
    size = renderer.size
    real = F.interpolate(real_images, size=size, mode="bilinear", align_corners=False)
    masks = F.interpolate(real_masks[:, None].float(), size=size, mode="nearest")[:, 0].long()
    layout = masks[0].numpy()
    k = renderer.num_classes
    summary: dict = {}
    warnings: list[str] = []
    if random_weights:
        warnings.append(
            "renderer measures: random-weight networks (segmenter, LPIPS): NOT comparable with pretrained scores"
        )
    lpips_options = {"weights_dir": weights_dir, "random_weights": random_weights, "device": device}
    requested = [m for m in _LABELS if m in metrics]

    # -- the plan: what each measure costs here, and which fit the budget ------------------------------------
    renderer.render(layout, 0)  # untimed: the first render pays one-time work
    start = time.perf_counter()
    renderer.render(layout, 0)
    render_s = time.perf_counter() - start
    edited, warped_real = held_out_layouts(layout, k, real[0] * 2 - 1) if "layout_fidelity" in requested else ([], [])
    regions = _locality_regions(layout) if "locality" in requested else {}
    lpips_s = 0.0  # LPIPS seconds per image, timed on two renders (the network is built once, for both measures)
    if {"layout_diversity", "memorisation"} & set(requested):
        from ..metrics.weights import build_lpips

        lpips_options["model"] = build_lpips(weights_dir, random_weights)
        two = _as_float([renderer.render(layout, s) for s in range(2)])
        start = time.perf_counter()
        probe = LPIPSDiversity(**lpips_options)
        probe.update(two)
        probe.compute()
        lpips_s = (time.perf_counter() - start) / 2
    segmenter, segmenter_s = None, 0.0
    if set(_NEEDS_SEGMENTER) & set(requested):
        start = time.perf_counter()
        segmenter = LayoutSegmenter(
            real,
            masks,
            k,
            size=size,
            steps=miou_steps,
            weights_dir=weights_dir,
            random_weights=random_weights,
            device=device,
            progress=progress,
        )
        segmenter_s = segmenter.probe() + time.perf_counter() - start
    renders = {
        "layout_fidelity": FIDELITY_SEEDS * (1 + len(edited)),
        "layout_diversity": NOISES,
        "locality": 2 * FIDELITY_SEEDS * len(regions),
        "memorisation": FIDELITY_SEEDS,
        "two_stage_alignment": 0,
    }
    lpips_images = {"layout_diversity": NOISES, "memorisation": FIDELITY_SEEDS}
    planned, not_computed, total, segmenter_counted = [], {}, 0.0, False
    for name in requested:
        seconds = renders[name] * render_s + lpips_images.get(name, 0) * lpips_s
        if name in _NEEDS_SEGMENTER and not segmenter_counted:
            seconds += segmenter_s  # trained once, for both measures that use it
        skipped = None
        if time_budget is not None and total + seconds > time_budget:
            skipped = (
                f"skipped: estimated {format_seconds(seconds)}, over the time budget of {format_seconds(time_budget)}"
            )
            not_computed[name] = skipped
            summary.update(dict.fromkeys(RENDERER_KEYS[name], skipped))
            warnings.append(f"{_LABELS[name]} {skipped}")
        else:
            total += seconds
            segmenter_counted |= name in _NEEDS_SEGMENTER
        detail = f"{renders[name]} renders" if renders[name] else ""
        if name in _NEEDS_SEGMENTER:
            detail += (", " if detail else "") + f"segmenter {miou_steps} steps"
        planned.append(PlannedMetric(name, _LABELS[name], seconds, detail, skipped))
    if on_plan is not None:
        on_plan(
            EvaluationPlan(
                tuple(planned),
                not_computed,
                len(manifest.get("items", [])),
                str(device),
                time_budget,
                title="renderer measures",
            )
        )
    run = [m for m in requested if m not in not_computed]

    if "layout_fidelity" in run:
        train_renders = _as_float([renderer.render(layout, s) for s in range(FIDELITY_SEEDS)])
        train_miou, _ = segmenter.score(train_renders, torch.from_numpy(layout)[None].expand(FIDELITY_SEEDS, -1, -1))
        edited_renders = _as_float([renderer.render(e, s) for e in edited for s in range(FIDELITY_SEEDS)])
        edited_masks = torch.from_numpy(np.stack([e for e in edited for _ in range(FIDELITY_SEEDS)]))
        edited_miou, _ = segmenter.score(edited_renders, edited_masks)
        ceiling_images = torch.stack([(w + 1) / 2 for w in warped_real])
        ceiling_masks = torch.from_numpy(np.stack(edited[: len(warped_real)]))
        ceiling, _ = segmenter.score(ceiling_images, ceiling_masks)
        summary.update(
            layout_fidelity_train=train_miou,
            layout_fidelity_edited=edited_miou,
            layout_fidelity_ceiling=ceiling,
            layout_fidelity_ratio=min(train_miou, edited_miou) / ceiling if ceiling > 0 else None,
        )

    if "layout_diversity" in run:
        renders_d = _as_float([renderer.render(layout, s) for s in range(NOISES)])
        summary["layout_pixel_diversity"] = pixel_diversity(renders_d, real)
        lpips = LPIPSDiversity(**lpips_options)
        lpips.update(renders_d)
        summary["layout_lpips_diversity"] = lpips.compute()

    if "locality" in run:
        for name in ("class", "instance"):
            if name not in regions:
                warnings.append(f"locality ({name}): the training layout has no suitable {name} region")
                summary[f"locality_{name}"] = None
                continue
            changes = []
            for s in range(FIDELITY_SEEDS):
                base = _as_float([renderer.render(layout, s)])
                edited_img = _as_float([renderer.render(layout, s, "global", regions[name], 1000 + s)])
                changes.append(locality_changes(base, edited_img, regions[name], LOCALITY_BAND))
            # a perfectly local renderer has no ratio (nothing changed outside): null with the reason beside it
            summary[f"locality_{name}"], note = locality_summary(changes)
            if note is not None:
                summary[f"locality_{name}_note"] = note

    if "memorisation" in run:
        to_train = LPIPSToTrain(**lpips_options)
        to_train.set_real(real)
        to_train.update(_as_float([renderer.render(layout, s) for s in range(FIDELITY_SEEDS)]))
        summary["memorisation_lpips"] = to_train.compute().mean

    if "two_stage_alignment" in run:
        pairs = _osmis_pairs(manifest)
        if pairs is None:
            why = "not a two-stage gallery (made with osmis render RUN --from GALLERY)"
            warnings.append(f"two_stage_alignment: {why}")
            summary.update(alignment_rendered=None, alignment_osmis=None)
            summary.update(alignment_rendered_note=why, alignment_osmis_note=why)
        else:
            from ..data.sources import open_image, open_mask

            rendered = _as_float([np.asarray(open_image(gallery / it["image"])) for it in manifest["items"]])
            fitted = torch.from_numpy(
                np.stack([np.asarray(open_mask(gallery / it["mask"])).astype(np.int64) for it in manifest["items"]])
            )
            osmis_images = torch.cat(
                [
                    F.interpolate(
                        _as_float([np.asarray(open_image(p))]),
                        size=fitted.shape[-2:],
                        mode="bilinear",
                        align_corners=False,
                    )
                    for p, _ in pairs
                ]
            )
            summary["alignment_rendered"], _ = segmenter.score(rendered, fitted)
            summary["alignment_osmis"], _ = segmenter.score(osmis_images, fitted)
    return summary, warnings


def split_metrics(metrics: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the renderer measures, the other metrics) of a request."""
    mine = [m for m in metrics if m in RENDERER_METRICS]
    return mine, [m for m in metrics if m not in RENDERER_METRICS]
