"""Latent walk: a video of a run's generator moving smoothly through noise space (spherical interpolation between
random noise vectors), each frame the generated image beside its mask overlay, encoded with PyAV (H.264)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch

from ..config import MAX_SEED
from ..devices import resolve_device
from ..errors import OsmisError
from ..files import output_file_problem
from ..models.visual import mask_ids, overlay, to_uint8_images
from .generate import load_generator
from .runfolder import RunFolder, atomic_write_bytes, normalise_path, output_place_problem, run_reads

FRAMES_PER_KEYFRAME = 30  # frames between two random noise vectors: about a second per change at 24-30 fps
BATCH = 8
# The accepted range of each number of a latent walk (`osmis animate --frames/--fps/--seed`, the app's gallery):
# (lowest, highest) inclusive. 100,000 frames is over an hour at 24 fps; 240 fps is the fastest common display
# rate; the seed is any seed of torch's random generator (config.MAX_SEED, as training's --seed).
WALK_LIMITS = {"frames": (2, 100_000), "fps": (1, 240), "seed": (0, MAX_SEED)}


def check_walk_numbers(frames: int, fps: int, seed: int) -> None:
    """Raise OsmisError, naming the option, for a number of a latent walk that is not a whole number within
    WALK_LIMITS (a float or a string would otherwise fail deep in torch or the encoder)."""
    for name, value in (("frames", frames), ("fps", fps), ("seed", seed)):
        low, high = WALK_LIMITS[name]
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not (whole and low <= value <= high):
            raise OsmisError(f"--{name} must be between {low} and {high:,} (a whole number), got {value!r}.")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between noise vectors a and b (D,) at fractions t (T,) -> T x D.

    Keeps the norm of Gaussian noise typical along the path (a straight line passes through low-norm points the
    generator never saw); falls back to a straight line when a and b are (anti)parallel.
    """
    a_unit, b_unit = a / a.norm(), b / b.norm()
    omega = torch.arccos((a_unit * b_unit).sum().clamp(-1.0, 1.0))
    t = t[:, None]
    if float(torch.sin(omega)) < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def walk_noise(noise_dim: int, frames: int, seed: int, loop: bool) -> torch.Tensor:
    """frames x noise_dim noise vectors along a slerp path through random keyframes (Gaussian, seeded).

    loop: the path returns to its first keyframe, and the frame after the last would be the first one, so the
    video repeats without a jump.
    """
    segments = max(1, math.ceil(frames / FRAMES_PER_KEYFRAME))
    if loop:
        segments = max(segments, 2)  # a loop through a single other point would retrace its own path
    keys = torch.randn(segments + (0 if loop else 1), noise_dim, generator=torch.Generator().manual_seed(seed))
    if loop:
        keys = torch.cat([keys, keys[:1]])
    # position of each frame along the path, in keyframe segments: [0, segments] (open) or [0, segments) (loop)
    pos = torch.arange(frames, dtype=torch.float64) * (segments / (frames if loop else max(frames - 1, 1)))
    out = torch.empty(frames, noise_dim)
    for i in range(segments):
        idx = (pos >= i) & ((pos < i + 1) if i < segments - 1 else (pos <= segments))
        if idx.any():
            out[idx] = slerp(keys[i], keys[i + 1], (pos[idx] - i).float())
    return out


def latent_walk(
    run_dir: str | Path,
    out: str | Path | None,
    frames: int = 120,
    fps: int = 24,
    loop: bool = False,
    seed: int = 0,
    checkpoint: str | int = "latest",
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write an H.264 video (yuv420p) of `frames` frames at `fps`: generated image | mask overlay per frame (the
    image alone for a run without masks). out=None: the run's own walk file, RunFolder.walk_path of the loaded
    checkpoint's step and the seed. checkpoint: "latest", "best" or a step (runfolder.checkpoint_name). Raises
    OsmisError for a bad number (WALK_LIMITS), a missing or damaged checkpoint, an unwritable output (a folder, a
    symbolic link, a loop of links: files.output_file_problem), one where no walk may go (among a run's own files
    but its walks, inside a gallery: runfolder.output_place_problem) or one among the run's own files or training
    data (runfolder.run_reads)."""
    check_walk_numbers(frames, fps, seed)
    if not isinstance(loop, bool):  # loop="no" would be truthy: a looping walk that was not asked for
        raise OsmisError(f"loop must be True (--loop: the walk returns to its start) or False, got {loop!r}.")
    if out is not None and Path(out).suffix.lower() not in (".mp4", ".mkv", ".mov"):
        raise OsmisError(f"{out}: the latent walk is written as .mp4, .mkv or .mov.")
    given = normalise_path(out) if out is not None else None
    problem = output_file_problem(given) if given is not None else None
    if problem:  # found before the frames are drawn, not after
        raise OsmisError(f"{out}: cannot be written ({problem}).")
    place = output_place_problem(given, "walk") if given is not None else None
    if place is not None:
        raise OsmisError(f"{out}: {place}.")
    owner = run_reads(run_dir, given) if given is not None else None
    if owner is not None:  # a walk written over the training video (or run.json) would change or break the run
        raise OsmisError(f"{out}: is among {owner} of {Path(run_dir)}; write the latent walk to another file.")
    dev = resolve_device(device)
    generator, meta = load_generator(run_dir, checkpoint, ema=True, device=dev)
    out = RunFolder(run_dir).walk_path(meta["step"], seed) if given is None else given
    z = walk_noise(generator.noise_dim, frames, seed, loop)[:, :, None, None]
    a = meta["architecture"]
    h, w = a["height"], a["width"]
    panels = 2 if meta["num_classes"] is not None else 1
    # yuv420p needs even sides: pad by one pixel of the edge when odd
    height, width = h + h % 2, panels * w + (panels * w) % 2

    def write(f) -> None:
        with av.open(f, mode="w", format=out.suffix.lower().lstrip(".").replace("mkv", "matroska")) as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": "18"}
            done = 0
            with torch.inference_mode():
                for batch in z.split(BATCH):
                    result = generator(batch.to(dev), all_scales=False)
                    images = to_uint8_images(result.images[-1])
                    if result.mask is not None:
                        images = np.concatenate([images, overlay(images, mask_ids(result.mask))], axis=2)
                    images = np.pad(
                        images, ((0, 0), (0, height - h), (0, width - images.shape[2]), (0, 0)), mode="edge"
                    )
                    for rgb in images:
                        container.mux(
                            stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"))
                        )
                    done += len(images)
                    if progress is not None:
                        progress(done, frames)
            container.mux(stream.encode(None))

    try:
        atomic_write_bytes(out, write, durable=False)
    except OSError as exc:
        raise OsmisError(f"{out}: cannot be written ({exc.strerror or exc}).") from None
    return out
