"""Score a gallery folder against the training data and put the scores into the gallery."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.sources import IMAGE_EXTS, find_source, load_frames_and_masks, open_checked, open_mask
from ..errors import DataError, OsmisError
from .generate import write_index_html
from ..data.masks import decode_masks


# Below this standard deviation (in [0, 1] units, far under one grey level) the real image is one flat colour; the
# resize to the gallery's size leaves rounding noise of ~1e-8 on a flat image.
FLAT_STD = 1e-5


def read_gallery(gallery: str | Path) -> tuple[torch.Tensor, torch.Tensor | None, list[str], dict | None]:
    """Generated images (N x 3 x H x W in [0, 1]), masks (N x H x W ids or None), names, manifest."""
    gallery = Path(gallery)
    manifest_path = gallery / "manifest.json"
    manifest = None
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:
            raise DataError(f"{manifest_path}: not valid JSON ({str(exc)[:100]}).") from None
        except OSError as exc:
            raise DataError(f"{manifest_path}: cannot be read ({exc.strerror or exc}).") from None
        _check_manifest(manifest, manifest_path)
        image_paths = [gallery / it["image"] for it in manifest["items"]]
        mask_paths = [gallery / it["mask"] for it in manifest["items"]] if all(
            "mask" in it for it in manifest["items"]) else None
    else:
        folder = gallery / "images" if (gallery / "images").is_dir() else gallery
        if not folder.is_dir():
            raise DataError(f"{gallery}: no such gallery folder.")
        image_paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        mask_dir = gallery / "masks"
        mask_paths = [mask_dir / p.name for p in image_paths] if mask_dir.is_dir() else None
    if not image_paths:
        raise DataError(f"{gallery}: the gallery holds no images.")
    arrays = [_read(p, "RGB") for p in image_paths]
    if len({a.shape for a in arrays}) > 1:
        raise DataError(f"{gallery}: the generated images do not all have the same size.")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
    masks = None
    if mask_paths is not None and all(p.is_file() for p in mask_paths):
        masks = torch.from_numpy(np.stack([_read(p, None) for p in mask_paths]).astype(np.int64))
    return images, masks, [p.name for p in image_paths], manifest


def _check_manifest(manifest, path: Path) -> None:
    """DataError naming the manifest unless it has a list of items, each with an integer index and file names
    inside the gallery folder."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), list):
        raise DataError(f"{path}: not a gallery manifest (no list of items).")
    for i, item in enumerate(manifest["items"]):
        if not isinstance(item, dict) or not isinstance(item.get("index"), int) or isinstance(item["index"], bool):
            raise DataError(f"{path}: item {i} is not an object with an integer index.")
        for key in ("image", "mask", "overlay"):
            if key == "image" or key in item:
                name = item.get(key)
                if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
                    raise DataError(f"{path}: item {i} has no valid '{key}' file name inside the gallery.")


def _read(path: Path, mode: str | None) -> np.ndarray:
    im = open_checked(path, "generated image" if mode else "generated mask")
    try:
        return np.asarray(im.convert(mode) if mode else im).copy()
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}).") from None


def read_real(data: str | Path, mask: str | Path | None, size: tuple[int, int], max_frames: int = 1000,
              max_classes: int = 32, background_colour: str | None = None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Training frames resized (bilinear) to size (H, W) in [0, 1], and their class-id masks (nearest) or None."""
    source = find_source(data, mask)
    frames, paths = load_frames_and_masks(source, max_frames)
    h, w = size
    images = torch.cat([F.interpolate(torch.from_numpy(np.array(f)).permute(2, 0, 1)[None].float() / 255.0,
                                      size=(h, w), mode="bilinear", align_corners=False) for f in frames])
    masks = None
    if paths:
        ids, _ = decode_masks([open_mask(p) for p in paths], [str(p) for p in paths], max_classes, background_colour)
        masks = torch.from_numpy(np.stack([np.asarray(Image.fromarray(a.astype(np.int32), "I").resize(
            (w, h), Image.NEAREST)) for a in ids]).astype(np.int64))
    return images.clamp(0, 1), masks


def evaluate_gallery(gallery: str | Path, real: str | Path, mask: str | Path | None = None, *,
                     metrics: Sequence[str] | None = None, sifid_dims: Sequence[int] = (64,),
                     weights_dir: str | Path | None = None, random_weights: bool = False, compat=None,
                     device: str | torch.device = "cpu", miou_steps: int = 500, max_classes: int = 32,
                     background_colour: str | None = None, skip_missing: bool = False,
                     progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Score the gallery, write metrics.json and metrics.csv into it and refresh its index.html with the scores."""
    from ..metrics import METRICS, Compat, evaluate_images, write_metrics
    gallery = Path(gallery)
    fake, fake_masks, names, manifest = read_gallery(gallery)
    real_images, real_masks = read_real(real, mask, tuple(fake.shape[-2:]), max_classes=max_classes,
                                        background_colour=background_colour)
    metrics = list(metrics or METRICS)
    if "diversity" in metrics and not float(real_images.double().std()) > FLAT_STD:
        # pixel diversity is relative to the training image's spread, which a flat image does not have
        warnings.warn(f"{real}: the training image is one flat colour, so pixel diversity cannot be computed; "
                      f"the other metrics are written")
        metrics.remove("diversity")
    result = evaluate_images(fake, real_images, fake_masks, real_masks, metrics=tuple(metrics),
                             sifid_dims=tuple(sifid_dims), weights_dir=weights_dir, random_weights=random_weights,
                             compat=compat or Compat(), device=device, progress=progress, names=names,
                             miou_steps=miou_steps, skip_missing=skip_missing)
    try:
        write_metrics(gallery, result)
    except OSError as exc:
        raise OsmisError(f"{gallery}: the metrics cannot be written ({exc.strerror or exc}).") from None
    if manifest is not None:
        write_index_html(gallery, manifest, result)
    return result
