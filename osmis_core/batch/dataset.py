"""The merged dataset of a batch: every finished run's gallery in one image/mask folder pair."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from ..files import atomic_write_text, temporary_file
from ..models.visual import palette
from .layout import BatchFolder


def merge_dataset(batch: BatchFolder, names: list[str]) -> int | None:
    """Write BATCH/dataset/images/<source>_<index>.png and masks/<source>_<index>.png (same stems; indexed PNGs,
    pixel = the run's class id, one palette, resources/palette.json, for the whole dataset) from the galleries
    of the runs `names`, and dataset.json describing each pair (source, run, checkpoint step, gallery seed,
    index in that seed's samples). Sources trained without masks contribute images only (their "mask" is null).

    Files are hard links to the gallery files where the file system allows (no second copy of 100,000
    pictures), copies otherwise; a file already in place is left as it is, and files of runs no longer listed
    are removed, so merging again after a re-run is cheap and gives the same folder.
    Returns the number of images in the dataset; None when no run is listed (none finished: a batch stopped or
    failed before any run's end): then there is no dataset, not an empty one, and the pairs an earlier batch merged
    here from runs no longer listed are removed as they would be from a dataset.
    """
    root = batch.dataset
    if not names:
        _remove_dataset(root)
        return None
    images_dir, masks_dir = root / "images", root / "masks"
    images_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    files, wanted = [], set()
    max_classes = 0
    for name in names:
        manifest = batch.gallery_manifest(name)
        if manifest is None:
            continue
        gallery = batch.gallery_dir(name)
        width = max(4, len(str(manifest["n"] - 1)))
        for item in manifest["items"]:
            stem = f"{name}_{item['index']:0{width}d}"
            entry = {
                "image": f"images/{stem}.png",
                "mask": None,
                "source": name,
                "run": f"{batch.runs.name}/{name}",
                "checkpoint_step": manifest["checkpoint_step"],
                "seed": manifest["seed"],
                "index": item["index"],
            }
            _place(gallery / item["image"], images_dir / f"{stem}.png")
            wanted.add(images_dir / f"{stem}.png")
            if "mask" in item:
                _place(gallery / item["mask"], masks_dir / f"{stem}.png")
                wanted.add(masks_dir / f"{stem}.png")
                entry["mask"] = f"masks/{stem}.png"
                entry["num_classes"] = manifest["num_classes"]
            files.append(entry)
        max_classes = max(max_classes, manifest.get("num_classes") or 0)
    for folder in (images_dir, masks_dir):
        for p in folder.glob("*.png"):
            if p not in wanted:
                p.unlink()
    info = {
        "format": 1,
        "layout": "images/<stem>.png + masks/<stem>.png (indexed PNG, pixel = class id of the "
        "source's own mask; ids are per source)",
        "palette": palette()[: max(max_classes, 1)].tolist(),
        "files": files,
    }
    atomic_write_text(root / "dataset.json", json.dumps(info, indent=1) + "\n")
    return len(files)


def _remove_dataset(root: Path) -> None:
    """Remove the dataset's own files (its pairs, dataset.json) and then its folders where they are left empty: a
    file the user put there stays, with the folders that hold it."""
    for sub in ("images", "masks"):
        for p in (root / sub).glob("*.png"):
            p.unlink()
    (root / "dataset.json").unlink(missing_ok=True)
    for folder in (root / "images", root / "masks", root):
        with contextlib.suppress(OSError):  # not there, or not empty
            folder.rmdir()


def _place(src: Path, dest: Path) -> None:
    """dest becomes src's content: a hard link, else a copy; through a temporary name, so it is never half a file."""
    try:
        if os.path.samefile(src, dest) or (
            dest.stat().st_size == src.stat().st_size and dest.stat().st_mtime >= src.stat().st_mtime
        ):
            return
    except FileNotFoundError:
        pass
    fd, tmp = temporary_file(dest)
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(src, tmp)
        except OSError:  # another file system, or links not supported: copy
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
