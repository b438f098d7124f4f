"""Sampling from a trained run and writing the gallery (images, indexed masks, overlays, manifest, index.html)."""
from __future__ import annotations

import html
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..models.architecture import Architecture
from ..config import OsmisConfig
from ..devices import autocast_dtype, resolve_device
from ..errors import OsmisError
from ..heap import keep_freed_memory
from ..models import Generator
from ..png import encode_png
from .runfolder import RunFolder, atomic_write_text
from ..models.visual import mask_ids, overlay, palette, to_uint8_images


ENCODE_CHUNK_BYTES = 64 * 2 ** 20  # on a CPU, decoded samples held back before their PNG files are written
ENCODE_THREADS = 2


def load_generator(run_dir: str | Path, checkpoint: str | int = "latest", ema: bool = True,
                   device: torch.device | str = "cpu") -> tuple[Generator, dict]:
    """The (EMA) generator of a run's checkpoint, ready for inference, and the checkpoint's metadata."""
    folder = RunFolder(run_dir)
    if not folder.root.is_dir():
        raise OsmisError(f"{folder.root}: no such run folder.")
    # memory-mapped: only the generator's tensors are read, not D's or the optimisers'
    state = folder.load_checkpoint(checkpoint, fallback=(checkpoint == "latest"), mmap=True)
    config = OsmisConfig.from_dict(state["config"], f"{folder.root} checkpoint")
    if config.model != "osmis":
        raise OsmisError(f"{folder.root}: is a {config.model} run, which draws photos for given layouts; use "
                         f"`osmis render {folder.root} --layout L.png` instead.")
    a = state["architecture"]
    g = Generator.from_trained(state["generator_ema" if ema else "generator"], tuple(a["noise_shape"]),
                               a["num_blocks_g"], state["num_classes"], ch=config.generator.ch_g,
                               noise_dim=config.generator.noise_dim, norm=config.generator.norm_g)
    g = g.to(device, memory_format=torch.channels_last)
    meta = {"step": int(state["step"]), "config": state["config"], "architecture": a,
            "num_classes": state["num_classes"]}
    return g, meta


@torch.inference_mode()
def sample(generator: Generator, n: int, seed: int, batch_size: int = 10, device="cpu", precision: str = "fp32"):
    """Yield (start index, images B x 3 x H x W, masks B x K x H x W or None) batches for n samples."""
    device = torch.device(device)
    dtype = autocast_dtype(precision, device)
    rng = torch.Generator().manual_seed(seed)
    z = generator.sample_noise(n, rng)
    for start in range(0, n, batch_size):
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = generator(z[start:start + batch_size].to(device), all_scales=False)
        yield start, out.images[-1].float(), (out.mask.float() if out.mask is not None else None)


def generate_gallery(run_dir: str | Path, out_dir: str | Path, n: int = 100, seed: int = 0,
                     checkpoint: str | int = "latest", ema: bool = True, device: str = "auto",
                     batch_size: int | None = None, precision: str = "fp32") -> Path:
    """Write n generated image-mask pairs with a manifest and an index.html into out_dir."""
    if n < 1:
        raise OsmisError("--n must be at least 1.")
    dev = resolve_device(device)
    # on a 2-core CPU batches of 10 to 50 run within 5 % of each other at case b; 20 was ~3 % faster than 10
    batch_size = batch_size or (20 if dev.type == "cpu" else 50)
    if dev.type == "cpu":
        keep_freed_memory()  # the batch's large maps then reuse heap memory instead of faulting in new pages
    generator, meta = load_generator(run_dir, checkpoint, ema, dev)
    out = Path(out_dir)
    has_masks = meta["num_classes"] is not None
    try:
        for sub in ("images", "masks", "overlays") if has_masks else ("images",):
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OsmisError(f"{out}: the output folder cannot be written ({exc.strerror or exc}).") from None
    width = max(4, len(str(n - 1)))
    colours = palette()
    items: list[dict] = []
    t0 = time.perf_counter()
    # On a CPU the PNG encoders would compete with the forward pass's threads (a stalled OpenMP thread holds up
    # the whole parallel region), so the files of up to ENCODE_CHUNK_BYTES of samples are written between forward
    # passes, on both cores. On a GPU they are written while the device computes the next batch.
    chunk_bytes = ENCODE_CHUNK_BYTES if dev.type == "cpu" else 0
    with ThreadPoolExecutor(max_workers=ENCODE_THREADS) as pool:
        futures, pending, pending_bytes = [], [], 0
        for start, images, masks in sample(generator, n, seed, batch_size, dev, precision):
            imgs = to_uint8_images(images)  # B x H x W x 3
            ids = mask_ids(masks) if masks is not None else None  # B x H x W
            overlays = overlay(imgs, ids) if ids is not None else None  # whole batch: one multi-threaded pass
            for i in range(imgs.shape[0]):
                idx = start + i
                name = f"{idx:0{width}d}.png"
                item = {"index": idx, "image": f"images/{name}"}
                pending.append((imgs[i], None, out / "images" / name))
                if ids is not None:
                    counts = np.bincount(ids[i].ravel(), minlength=meta["num_classes"])[:meta["num_classes"]]
                    item.update({"mask": f"masks/{name}", "overlay": f"overlays/{name}",
                                 "class_shares": (counts / ids[i].size).round(5).tolist()})
                    pending.append((ids[i], colours, out / "masks" / name))  # indexed PNG: pixels are class ids
                    pending.append((overlays[i], None, out / "overlays" / name))
                items.append(item)
            pending_bytes += imgs.nbytes + (ids.nbytes + overlays.nbytes if ids is not None else 0)
            if pending_bytes >= chunk_bytes:
                futures += _submit_saves(pool, pending)
                pending, pending_bytes = [], 0
                if chunk_bytes:
                    _wait(futures)
        futures += _submit_saves(pool, pending)
        _wait(futures)
    a = meta["architecture"]
    manifest = {
        "run": str(Path(run_dir).resolve()), "checkpoint_step": meta["step"], "ema": ema, "seed": seed, "n": n,
        "resolution": [a["height"], a["width"]], "num_classes": meta["num_classes"], "precision": precision,
        "palette": colours[:meta["num_classes"]].tolist() if has_masks else None,
        "seconds": round(time.perf_counter() - t0, 3), "items": items,
    }
    # not synced to disk (an fsync took ~50 ms here), like the PNG files it lists; the rename still keeps readers
    # from half a file
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1) + "\n", durable=False)
    write_index_html(out, manifest)
    return out


def _submit_saves(pool: ThreadPoolExecutor, jobs: list) -> list:
    """One task per worker thread, each with every other file: one submit per file would have the submitting
    thread wait for the GIL behind the encoders once per file (~0.1 s for 300 files)."""
    parts = (jobs[i::ENCODE_THREADS] for i in range(ENCODE_THREADS))
    return [pool.submit(_save_all, part) for part in parts if part]


def _save_all(jobs: list) -> None:
    for job in jobs:
        _save(*job)


def _save(pixels: np.ndarray, colours: np.ndarray | None, path: Path) -> None:
    """Write an RGB picture, or class ids as a palette PNG with colours."""
    try:
        path.write_bytes(encode_png(pixels, colours))
    except OSError as exc:
        path.unlink(missing_ok=True)  # no half-written picture left behind
        raise OsmisError(f"{path}: cannot be written ({exc.strerror or exc}).") from None


def _wait(futures: list) -> None:
    """Wait for every file write; the first failure (a full disk, say) is raised here."""
    for f in futures:
        f.result()
    futures.clear()


def write_index_html(out: Path, manifest: dict, metrics: dict | None = None) -> Path:
    """A self-contained gallery page (no network): each pair with its scores when `metrics` is given."""
    per_image = {int(r["index"]): r for r in (metrics or {}).get("per_image", []) if "index" in r}
    score_keys = sorted({k for r in per_image.values() for k in r if k != "index" and _is_number(r[k])})
    e = html.escape
    cards = []
    for item in manifest["items"]:
        scores = per_image.get(item["index"], {})
        shown = [k for k in score_keys if _is_number(scores.get(k))]
        data_attrs = " ".join(f'data-{e(k.replace("_", "-"))}="{scores[k]:.6g}"' for k in shown)
        score_txt = " · ".join(f"{e(k)} {scores[k]:.4g}" for k in shown)
        pics = "".join(f'<img src="{e(item[k], quote=True)}" alt="{e(k)} {item["index"]}" loading="lazy">'
                       for k in ("image", "mask", "overlay") if k in item)
        cards.append(f'<figure data-index="{item["index"]}" {data_attrs}>{pics}'
                     f'<figcaption>#{item["index"]} {score_txt}</figcaption></figure>')
    summary = ""
    if metrics and metrics.get("summary"):
        rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(_fmt(v))}</td></tr>" for k, v in metrics["summary"].items())
        summary = f"<h2>Summary</h2><table>{rows}</table>"
    buttons = "".join(f'<button onclick="sortBy(\'{e(k.replace("_", "-"))}\')">{e(k)}</button>' for k in score_keys)
    sort_bar = f'<p>Sort by: <button onclick="sortBy(\'index\')">index</button>{buttons}</p>' if score_keys else ""
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
<p>{len(manifest["items"])} samples from {e(str(manifest.get("run", "")))} at step {manifest.get("checkpoint_step")}
({"EMA" if manifest.get("ema") else "raw"} generator, seed {manifest.get("seed")}); image, class mask, overlay.</p>
{summary}{sort_bar}
<div id="grid">{"".join(cards)}</div>
<script>
function sortBy(key) {{
  const grid = document.getElementById('grid');
  const figs = Array.from(grid.children);
  const val = f => parseFloat(key === 'index' ? f.dataset.index : f.dataset[key.replace(/-([a-z])/g, (m, c) => c.toUpperCase())]);
  figs.sort((a, b) => (isNaN(val(a)) ? Infinity : val(a)) - (isNaN(val(b)) ? Infinity : val(b)));
  figs.forEach(f => grid.appendChild(f));
}}
</script>
</body></html>
"""
    path = out / "index.html"
    atomic_write_text(path, page, durable=False)
    return path


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fmt(v) -> str:
    return f"{v:.5g}" if isinstance(v, float) else str(v)


def inspect_data(data_path: str | Path, mask_path: str | Path | None, config: OsmisConfig) -> dict:
    """What training on this data with this config would use: resolution, classes, architecture, counts."""
    from ..training.trainer import build_models, count_parameters, load_data_for
    if config.model == "renderer":
        from ..training.renderer_trainer import build_renderer, load_renderer_data
        data = load_renderer_data(config, data_path, mask_path, torch.device("cpu"))
        g, d = build_renderer(config, data.num_classes, data.architecture)
    else:
        data = load_data_for(config, data_path, mask_path, torch.device("cpu"))
        g, d = build_models(config, data)
    a: Architecture = data.architecture
    arch = a.to_dict()  # the renderer's architecture names its G/D depths with the same keys
    return {
        "model": config.model,
        "resolution": [a.height, a.width],
        "noise_shape": list(arch["noise_shape"]),
        "num_blocks_g": arch["num_blocks_g"],
        "num_blocks_d": arch["num_blocks_d"],
        "num_blocks_d0": arch["num_blocks_d0"],
        "num_classes": data.num_classes,
        "params_g": count_parameters(g),
        "params_d": count_parameters(d),
        "num_frames": data.num_frames,
        "original_size": list(data.original_size),
        "source": data.source.to_dict(),
        "mask": data.mask_report.to_dict() if data.mask_report else None,
        "mask_summary": data.mask_report.describe() if data.mask_report else None,
        "notes": list(a.notes) + (list(data.mask_report.notes) if data.mask_report else []),
    }
