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
from ..errors import DataError
from ..metrics.registry import RENDERER_METRICS
from ..metrics.renderer_measures import (
    LOCALITY_BAND,
    LayoutSegmenter,
    locality_ratio,
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
) -> tuple[dict, list[str]]:
    """Summary values and warnings of the requested renderer measures (names from RENDERER_METRICS) for a render
    gallery. real_images: T x 3 x H x W in [0, 1]; real_masks: T x H x W int64 class ids (required)."""
    from ..metrics import LPIPSDiversity, LPIPSToTrain

    gallery = Path(gallery)
    manifest = _read_manifest(gallery)
    if manifest.get("kind") != "render":
        raise DataError(f"{gallery}: {', '.join(metrics)} need a gallery made by osmis render (this one was not).")
    if real_masks is None:
        raise DataError("the renderer measures need the training masks (give --mask).")
    # the model that made the gallery, not whatever the run's latest checkpoint is by now
    renderer = Renderer.load(manifest["run"], manifest.get("checkpoint_step", "latest"), device=device)
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

    segmenter = None
    if {"layout_fidelity", "two_stage_alignment"} & set(metrics):
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

    if "layout_fidelity" in metrics:
        edited, warped_real = held_out_layouts(layout, k, real[0] * 2 - 1)
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

    if "layout_diversity" in metrics:
        renders = _as_float([renderer.render(layout, s) for s in range(NOISES)])
        summary["layout_pixel_diversity"] = pixel_diversity(renders, real)
        lpips = LPIPSDiversity(**lpips_options)
        lpips.update(renders)
        summary["layout_lpips_diversity"] = lpips.compute()

    if "locality" in metrics:
        regions = _locality_regions(layout)
        for name in ("class", "instance"):
            if name not in regions:
                warnings.append(f"locality ({name}): the training layout has no suitable {name} region")
                summary[f"locality_{name}"] = None
                continue
            ratios = []
            for s in range(FIDELITY_SEEDS):
                base = _as_float([renderer.render(layout, s)])
                edited_img = _as_float([renderer.render(layout, s, "global", regions[name], 1000 + s)])
                ratios.append(locality_ratio(base, edited_img, regions[name], LOCALITY_BAND))
            summary[f"locality_{name}"] = float(np.mean(ratios))

    if "memorisation" in metrics:
        to_train = LPIPSToTrain(**lpips_options)
        to_train.set_real(real)
        to_train.update(_as_float([renderer.render(layout, s) for s in range(FIDELITY_SEEDS)]))
        summary["memorisation_lpips"] = to_train.compute().mean

    if "two_stage_alignment" in metrics:
        pairs = _osmis_pairs(manifest)
        if pairs is None:
            warnings.append("two_stage_alignment: the gallery was not rendered from an OSMIS gallery (--from)")
            summary.update(alignment_rendered=None, alignment_osmis=None)
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
