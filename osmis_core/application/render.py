"""Rendering layouts with a trained renderer (docs/renderer.md sections 1, 3, 5): the library entry point for
interactive use (`Renderer.load(run).render(layout, seed=...)`) and the `osmis render` gallery.

A photo is fully described by (layout, seed, noise mode[, region, resample seed]); the gallery's manifest records
exactly these, so any photo can be re-made bit for bit with `Renderer.render`.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..config import MAX_SAMPLES, OsmisConfig, last_first_seed
from ..data.masks import (
    COLOUR_TOLERANCE,
    accepted_values,
    class_values,
    decode_masks,
    layout_colour_ids,
    layout_colours,
    layout_ids,
)
from ..data.sources import data_files, open_mask, pick_evenly, same_aspect
from ..devices import is_out_of_memory, resolve_device
from ..errors import DataError, OsmisError
from ..events import GenerationEvent, GenerationFinished, GenerationStarted, SamplesWritten, run_gallery_stream
from ..files import (
    atomic_write_bytes,
    atomic_write_text,
    discard_staging,
    folder_problem,
    output_file_problem,
    resolved_path,
    swap_dir_in,
)
from ..models.renderer import (
    NOISE_MODES,
    RendererArchitecture,
    RendererGenerator,
    instance_labels,
    noise_map,
    resample_noise,
)
from ..models.visual import overlay, palette, to_uint8_images
from .gallery import (
    GALLERY_KINDS,
    gallery_events,
    gallery_kind,
    gallery_name,
    read_manifest,
    save_png,
    staging_folder,
    write_index_html,
)
from .runfolder import (
    RunFolder,
    checkpoint_name,
    normalise_path,
    output_place_problem,
    recorded_source,
    run_reads,
)


@dataclass(frozen=True)
class Region:
    """Where the noise is re-drawn: a mask file (nonzero = inside), a class id, or the instance under a pixel
    (x, y in the layout file's pixels). Exactly one is set."""

    mask: np.ndarray | None = None
    mask_name: str | None = None
    class_id: int | None = None
    instance_at: tuple[int, int] | None = None

    def describe(self) -> dict:
        """The region as a manifest records it: {"mask": absolute path of the file}, {"class": C} or
        {"instance": [x, y]}."""
        if self.mask is not None:
            return {"mask": str(resolved_path(Path(self.mask_name))) if self.mask_name else None}
        if self.class_id is not None:
            return {"class": self.class_id}
        return {"instance": list(self.instance_at)}


@dataclass(frozen=True, eq=False)
class NoiseRecipe:
    """The noise of one photo as seeds (spec section 3): `seed` in noise `mode`, then the noise re-drawn inside each
    region of `rerolls` in turn, Z' = R * Z_new + (1 - R) * Z with Z_new of that reroll's seed. Regions are H x W
    bool maps of the layout's size. A gallery records exactly these, so the photo can be re-made bit for bit."""

    seed: int
    mode: str = "global"
    rerolls: tuple[tuple[np.ndarray, int], ...] = ()

    def rerolled(self, region: np.ndarray, seed: int) -> NoiseRecipe:
        """This recipe with one more region re-drawn from `seed`."""
        return NoiseRecipe(self.seed, self.mode, self.rerolls + ((np.asarray(region, bool).copy(), int(seed)),))


class Renderer:
    """A trained renderer, loaded once for many renders.

    Accepted layouts (arrays): H x W integer arrays (any integer dtype) of class ids 0..num_classes-1 with at least
    two classes, or of the training masks' own values, read by the rules of layout files (data.masks.layout_ids:
    a 0/255 array of a black/white run is classes 0 and 1, as the file is), of the training size, of the training
    aspect ratio (resized to the training size with nearest neighbour), or of another aspect ratio with both sides
    multiples of `multiple` (rendered at that size). Raises DataError otherwise.
    Layout files are read as training read its masks: by their class values (grey level or palette index of each
    class, `class_values`), class colours (`class_colours`; data.masks.layout_colours for the colours of a run
    trained on grey masks) and the kind of the training masks (`mask_kind`, the MaskReport kind: a grey level of its
    own is a soft mask's edge but no class of a black/white one).
    """

    def __init__(
        self,
        generator: RendererGenerator,
        architecture: RendererArchitecture,
        num_classes: int,
        run: Path,
        step: int,
        class_colours: list | None,
        device: torch.device,
        class_values: list[int] | None = None,
        mask_kind: str | None = None,
    ):
        self.generator = generator
        self.architecture = architecture
        self.num_classes = num_classes
        self.run = run
        self.step = step
        self.class_colours = class_colours
        self.device = device
        self.class_values = class_values
        self.mask_kind = mask_kind

    @classmethod
    def load(
        cls, run_dir: str | Path, checkpoint: str | int = "latest", device: str | torch.device = "cpu"
    ) -> Renderer:
        """The batch-norm-refreshed EMA generator of a renderer run's checkpoint. Raises OsmisError for a missing
        run, an OSMIS run, or a damaged checkpoint."""
        # a renderer run never evaluates, so keeps no best (the CLI's --checkpoint of osmis render says the same)
        checkpoint = checkpoint_name(checkpoint, ("latest",))
        folder = RunFolder(run_dir)
        folder.require()
        state = folder.load_checkpoint(checkpoint, fallback=(checkpoint == "latest"))
        # a count stored above today's limit (iters, say) plays no part in rendering
        config = OsmisConfig.from_dict(state["config"], f"{folder.root} checkpoint", {})
        if config.model != "renderer" or state.get("model") != "renderer":
            raise OsmisError(
                f"{folder.root}: is an OSMIS run (it invents image-mask pairs); `osmis render` needs a "
                f"run trained with --model renderer."
            )
        arch = RendererArchitecture.from_dict(state["architecture"])
        if arch.data_size is None:  # a checkpoint made before the architecture recorded what its size came from
            try:
                size = folder.original_size()
            except OsmisError:
                size = None
            if size:
                arch = replace(arch, data_size=size, max_size=config.data.max_size)
        r = config.renderer
        g = RendererGenerator(
            state["num_classes"],
            arch.num_blocks,
            ch=r.ch_r,
            hidden=r.spade_hidden,
            z_dim=config.generator.noise_dim,
            norm=r.spade_norm,
            z_spatial=r.noise_spatial,
        )
        g.load_state_dict(state["generator_render"])
        # a torch.device is checked as its name is (a device=3 or a cuda device without a GPU is a ConfigError, not
        # torch's RuntimeError at the first tensor moved there)
        dev = resolve_device(str(device) if isinstance(device, torch.device) else device)
        g = g.to(dev).eval().requires_grad_(False)
        values, mask_kind = state.get("class_values"), state.get("mask_kind")
        if "class_values" not in state or "mask_kind" not in state:  # a checkpoint made before they were recorded
            try:
                report = (folder.read_run_json().get("data") or {}).get("mask") or {}
            except OsmisError:
                report = {}
            if "class_values" not in state:
                values = class_values(report)
            if "mask_kind" not in state:
                mask_kind = report.get("kind")
        return cls(
            g,
            arch,
            int(state["num_classes"]),
            folder.root,
            int(state["step"]),
            state.get("class_colours"),
            dev,
            values,
            mask_kind,
        )

    # -- layouts -------------------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """Training size (H, W)."""
        return self.architecture.height, self.architecture.width

    @property
    def multiple(self) -> int:
        """Sides of any accepted render size are multiples of this (2^(m-1))."""
        return self.generator.multiple

    @property
    def accepted(self) -> str:
        """What this run's layouts may hold, in words (data.masks.accepted_values), for every message naming it."""
        return accepted_values(self.class_values, self.num_classes, self.mask_kind, self.class_colours)

    def fit_layout(self, ids: np.ndarray, name: str = "the layout") -> np.ndarray:
        """Check a layout and bring it to a size the model accepts (see the class docstring): ids, H x W integer
        array of class ids 0..K-1 (a boolean array: classes 0 and 1) or of the training masks' values (0/255 of a
        black/white run, its grey levels), read as layout files are (data.masks.layout_ids) -> H x W int64 class
        ids at an accepted size. Raises DataError for a value of no class, a size the model does not accept or a
        single class."""
        ids = self.fit_size(ids, name)
        present = np.unique(ids)
        if present.size < 2:
            raise DataError(f"{name}: a single class ({int(present[0])}) is drawn; draw at least two classes.")
        return ids

    @property
    def _colour_trained(self) -> bool:
        """Whether the training masks were colour masks (grey values of a layout are colours then)."""
        return self.class_values is None and self.class_colours is not None

    def _check_ids(self, ids: np.ndarray, name: str, hint: str = "") -> None:
        """Refuse (DataError) a class id outside 0..num_classes-1, naming it and what the run accepts."""
        bad = ids[(ids < 0) | (ids >= self.num_classes)]
        if bad.size:
            raise DataError(
                f"{name}: class id {int(bad[0])} is not one the renderer was trained on ({self.accepted}){hint}."
            )

    def fit_size(self, ids: np.ndarray, name: str = "the layout") -> np.ndarray:
        """fit_layout without the two-class rule: a layout being drawn (a blank canvas) may hold one class."""
        ids = np.asarray(ids)
        if ids.ndim != 2 or 0 in ids.shape:
            raise DataError(f"{name}: a layout must be a non-empty 2-D map of class ids, got shape {ids.shape}.")
        if ids.dtype == np.bool_:
            ids = ids.astype(np.uint8)  # a two-class map (mask > 0, say): False is class 0, True class 1
        if not np.issubdtype(ids.dtype, np.integer):
            raise DataError(
                f"{name}: a layout must hold integer class ids (or booleans for classes 0/1), got {ids.dtype}."
            )
        if ((ids < 0) | (ids >= self.num_classes)).any():
            # values that are no class id: read as a layout file of those values is (0/255 black/white: classes)
            read = layout_ids(
                ids, self.class_values, self.num_classes, self._colour_trained, self.mask_kind, name, self.class_colours
            )
            ids = ids if read is None else read
        self._check_ids(
            ids,
            name,
            f"; pass an H x W array of class ids 0..{self.num_classes - 1}, or read a layout file with read_layout",
        )
        h, w = ids.shape
        th, tw = self.size
        f = self.multiple
        if (h, w) == (th, tw):
            return ids.astype(np.int64)
        if same_aspect((w, h), (tw, th)):
            return np.asarray(Image.fromarray(ids.astype(np.int32), "I").resize((tw, th), Image.NEAREST)).astype(
                np.int64
            )
        if h % f == 0 and w % f == 0:
            return ids.astype(np.int64)
        origin = self.architecture.origin()
        g = math.gcd(tw, th)
        raise DataError(
            f"{name}: the layout is {w}x{h}; the renderer accepts {tw}x{th}, the size it was trained at"
            f"{f' ({origin})' if origin else ''}, a layout of that {tw // g}:{th // g} aspect ratio (resized to "
            f"{tw}x{th}), or sides that are multiples of {f} (rendered at that size, e.g. "
            f"{_round_to(w, f)}x{_round_to(h, f)})."
        )

    def read_layout(self, path: str | Path) -> np.ndarray:
        """A layout file (indexed, grey or colour PNG/...) -> class ids at an accepted size (fit_layout)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: layout file not found.")
        return self.fit_layout(self.decode_layout_image(open_mask(path), str(path)), str(path))

    def read_editable_layout(self, path: str | Path) -> np.ndarray:
        """read_layout for editing: a layout of one class (a blank start) is accepted."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: layout file not found.")
        return self.fit_size(self.decode_layout_image(open_mask(path), str(path)), str(path))

    def decode_layout_image(self, img: Image.Image, name: str) -> np.ndarray:
        """Pixels -> class ids (H x W int64), as training read its masks. A palette image whose colours are all
        class colours of the training masks, each index another class, is read by its colours (a re-saved or
        re-ordered palette keeps its classes); otherwise palette indices and grey levels go by
        data.masks.layout_ids (ids, or the training masks' own values such as 0/255 black/white). Colours are
        matched to the colours of the training masks' classes (data.masks.layout_colours: their class colours, or
        black/white and the grey levels of grey masks; anti-aliased edges to the nearest), else to the project's
        palette (gallery masks and paint-page layouts saved as RGB). Raises DataError for a colour of neither,
        naming what the run accepts, and for a value that is no class (an id beyond the classes, a grey level
        filling a region that no training class has), naming it."""
        rgb = np.asarray(img.convert("RGB")) if img.mode in ("P", "PA", "RGB", "RGBA") else None
        class_colours = np.array(self.class_colours, np.int64) if self.class_colours else None
        if img.mode in ("P", "PA") and class_colours is not None and _distinct_palette_colours(img):
            by_colour = layout_colour_ids(rgb, class_colours, edges=False)
            used = np.unique(np.asarray(img if img.mode == "P" else img.convert("P")))
            # every index a class colour, and no two indices one class (a grey ramp palette's 0/1/2, all near
            # black, are ids, not three blacks)
            if (by_colour >= 0).all() and np.unique(by_colour).size == used.size:
                return by_colour
        ids = layout_ids(
            img, self.class_values, self.num_classes, self._colour_trained, self.mask_kind, name, self.class_colours
        )
        if ids is not None:
            self._check_ids(ids, name)
            return ids
        rgb = rgb if rgb is not None else np.asarray(img.convert("RGB"))
        colours = layout_colours(self.num_classes, self.class_values, self.mask_kind, self.class_colours)
        project = np.array(palette()[: self.num_classes], np.int64)
        ids = layout_colour_ids(rgb, colours)
        if (ids < 0).any() and not np.array_equal(colours, project):
            # a gallery mask saved as RGB: exactly the project's palette where the training masks had colours of
            # their own; with its anti-aliased edges where they were grey (no colour to confuse it with)
            derived = class_colours is None
            gallery = layout_colour_ids(rgb, project, edges=derived, tolerance=COLOUR_TOLERANCE if derived else 0)
            ids = gallery if (gallery >= 0).all() else ids
        if (ids < 0).any():
            y, x = np.argwhere(ids < 0)[0]
            c = rgb[y, x]
            raise DataError(
                f"{name}: colour #{c[0]:02x}{c[1]:02x}{c[2]:02x} at ({x}, {y}) is not a class colour of this "
                f"renderer ({self.accepted})."
            )
        return ids

    def region_map(self, region: Region, file_shape: tuple[int, int], ids: np.ndarray, name: str) -> np.ndarray:
        """The binary region (H x W bool at the render size) of a Region for a layout: file_shape (H, W) of the
        layout file, whose coordinates the region file and the instance point use; ids, the fitted layout."""
        if region.mask is not None:
            if region.mask.shape != tuple(file_shape):
                rh, rw = region.mask.shape
                lh, lw = file_shape
                raise DataError(f"{region.mask_name}: the region mask is {rw}x{rh} but the layout {name} is {lw}x{lh}.")
            r = _resize_nearest(region.mask != 0, ids.shape)
        elif region.class_id is not None:
            r = ids == region.class_id
            if not r.any():
                raise DataError(f"{name}: class {region.class_id} (--resample-class) does not occur in the layout.")
        else:
            x, y = region.instance_at
            lh, lw = file_shape
            if not (0 <= x < lw and 0 <= y < lh):
                raise DataError(f"{name}: --resample-instance {x},{y} lies outside the {lw}x{lh} layout.")
            fy, fx = int(y * ids.shape[0] / lh), int(x * ids.shape[1] / lw)
            inst, _ = instance_labels(ids)
            r = inst == inst[fy, fx]
        if not r.any():
            raise DataError(f"{region.mask_name or name}: the region to resample is empty.")
        return r

    # -- rendering -----------------------------------------------------------------------------------------
    def noise(
        self,
        ids: np.ndarray,
        seed: int,
        mode: str = "global",
        region: np.ndarray | None = None,
        resample_seed: int | None = None,
    ) -> torch.Tensor:
        """z_dim x H x W noise of (seed, mode), re-drawn inside `region` from resample_seed (docs/renderer.md
        section 3.2)."""
        if region is None and resample_seed is not None:  # as `osmis render --resample-seed` alone is refused
            raise OsmisError("a resample seed re-draws the noise of a region: give the region too.")
        z = noise_map(ids, self.generator.z_dim, seed, mode, self.generator.z_spatial)
        if region is not None:
            if resample_seed is None:
                raise OsmisError("a region to resample needs a resample seed.")
            z = resample_noise(
                z,
                noise_map(ids, self.generator.z_dim, resample_seed, mode, self.generator.z_spatial),
                torch.from_numpy(np.asarray(region, bool)),
            )
        return z

    def recipe_noise(self, ids: np.ndarray, recipe: NoiseRecipe) -> torch.Tensor:
        """z_dim x H x W noise of a NoiseRecipe for fitted ids (its regions resized to ids' size if needed)."""
        z = noise_map(ids, self.generator.z_dim, recipe.seed, recipe.mode, self.generator.z_spatial)
        for region, s in recipe.rerolls:
            r = _resize_nearest(np.asarray(region, bool), ids.shape)
            z = resample_noise(
                z, noise_map(ids, self.generator.z_dim, s, recipe.mode, self.generator.z_spatial), torch.from_numpy(r)
            )
        return z

    def render_recipe(self, layout: np.ndarray, recipe: NoiseRecipe) -> np.ndarray:
        """One photo (H x W x 3 uint8) of a layout with the noise of a NoiseRecipe; deterministic."""
        if recipe.mode not in NOISE_MODES:
            raise OsmisError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {recipe.mode!r}.")
        ids = self.fit_size(layout)
        for region, _ in recipe.rerolls:
            _check_region_shape(region, layout, ids)
        return self.render(ids, recipe.seed, recipe.mode, z=self.recipe_noise(ids, recipe))

    @torch.inference_mode()
    def render(
        self,
        layout: np.ndarray,
        seed: int = 0,
        noise: str = "global",
        region: np.ndarray | None = None,
        resample_seed: int | None = None,
        z: torch.Tensor | None = None,
        name: str = "the layout",
    ) -> np.ndarray:
        """One photo (H x W x 3 uint8) for a layout (H x W int class ids, fitted with fit_size; region, H x W bool
        of the layout's size, resized alike), with the noise of (seed, noise mode[, region, resample_seed]) or a
        given z (z_dim x H x W at the fitted size). Deterministic: the same arguments give the same pixels. A layout
        of one class renders (an OSMIS mask may be all background); the two-class rule of a layout the user gives
        is checked where it is read (read_layout, `osmis render --layout/--layouts`). name: what a refusal calls the
        layout (its file); a render that runs out of memory is one (DataError)."""
        if noise not in NOISE_MODES:
            raise OsmisError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {noise!r}.")
        ids = self.fit_size(layout, name)
        if region is not None and np.shape(region) != ids.shape:
            _check_region_shape(region, layout, ids)
            region = _resize_nearest(np.asarray(region, bool), ids.shape)  # the layout was resized
        try:
            if z is None:
                z = self.noise(ids, seed, noise, region, resample_seed)
            onehot = F.one_hot(torch.from_numpy(ids), self.num_classes).permute(2, 0, 1)[None].float()
            image = self.generator(onehot.to(self.device), z[None].to(self.device))
        except RuntimeError as exc:  # a layout of another aspect renders at its own size, however large
            if not is_out_of_memory(exc):
                raise
            (h, w), (th, tw) = ids.shape, self.size
            raise DataError(
                f"{name}: rendering it at its {w}x{h} size needs more memory than is free ({self.device}); give a "
                f"smaller layout, or one of the training aspect ratio (resized to {tw}x{th})."
            ) from None
        return to_uint8_images(image)[0]


def _check_region_shape(region: np.ndarray, layout: np.ndarray, ids: np.ndarray) -> None:
    """Refuse (DataError) a region to re-draw that has neither the size of the layout as given nor that of its
    fitted ids: resized to the render size it would cover other pixels than the ones drawn."""
    if np.shape(region) not in (np.shape(layout), ids.shape):
        raise DataError(
            f"the region is {np.shape(region)[1]}x{np.shape(region)[0]} but the layout is "
            f"{np.shape(layout)[1]}x{np.shape(layout)[0]}."
        )


def load_renderer(run_dir: str | Path, checkpoint: str | int = "latest", device: str = "cpu") -> Renderer:
    """Library entry point of docs/renderer.md section 1: `load_renderer(run).render(layout, seed=...)`."""
    return Renderer.load(run_dir, checkpoint, device)


def _round_to(side: int, multiple: int) -> int:
    """The multiple of `multiple` nearest to side (at least `multiple`)."""
    return max(multiple, int(round(side / multiple)) * multiple)


def _resize_nearest(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == tuple(shape):
        return mask
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(shape[::-1], Image.NEAREST)) > 0


# -- galleries ------------------------------------------------------------------------------------------------------


def layouts_in(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if folder.is_file():
        raise DataError(f"{folder}: is a file, not a folder of layouts; give one layout file with --layout.")
    problem = folder_problem(folder, "folder of layouts")
    if problem is not None:
        raise DataError(problem)
    files = data_files(folder)
    if not files:
        raise DataError(f"{folder}: the folder holds no layout images.")
    return files


def layouts_of_gallery(gallery: str | Path, renderer_run: str | Path | None = None) -> list[Path]:
    """The masks of an OSMIS gallery (its manifest's items, read as every gallery is: gallery.read_manifest), for
    the two-stage pipeline. With the renderer run that is to render them: a warning when the gallery's model had
    another number of classes than the renderer (a model of other data, whose class ids mean other things)."""
    gallery = Path(gallery)
    manifest = read_manifest(gallery)
    masks = [gallery / item["mask"] for item in manifest["items"] if item.get("mask")]
    if not masks:
        raise DataError(f"{gallery}: the gallery holds no masks (made without masks?).")
    if renderer_run is not None and isinstance(manifest.get("num_classes"), int):
        try:
            theirs = (RunFolder(renderer_run).read_run_json().get("data") or {}).get("num_classes")
        except OsmisError:
            theirs = None  # the renderer's own load names what is wrong with the run
        if isinstance(theirs, int) and theirs != manifest["num_classes"]:
            warnings.warn(
                f"{gallery}: its masks have {manifest['num_classes']} classes, the renderer run {renderer_run} was "
                f"trained on {theirs}: they come from other data, and their class ids may stand for other things.",
                stacklevel=2,
            )
    return masks


def read_region(path: str | Path) -> Region:
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a region mask file (an image, nonzero inside the region).")
    if not path.is_file():
        raise DataError(f"{path}: region mask file not found.")
    img = open_mask(path)
    a = np.asarray(img.convert("L") if img.mode not in ("P", "L", "1") else img)
    inside = a != 0
    if "A" in img.getbands():  # a region painted on a transparent layer: a transparent pixel is outside, whatever
        inside &= np.asarray(img.getchannel("A")) != 0  # colour it keeps (editors often keep white there)
    return Region(mask=inside, mask_name=str(path))


def render_gallery(
    run_dir: str | Path,
    layouts: list[Path] | None = None,
    out_dir: str | Path | None = None,
    n: int = 4,
    seed: int = 0,
    noise: str = "global",
    region: Region | None = None,
    resample_seed: int | None = None,
    device: str = "cpu",
    checkpoint: str | int = "latest",
    one_class_ok: bool = False,
) -> Path:
    """n photos per layout as a gallery (images/, masks/ = the layout, overlays/, manifest.json, index.html);
    returns the gallery folder.

    layouts: layout files; None: the run's training layouts (`training_layouts`). out_dir: default
    `RUN/galleries/<gallery_name(step, seed, number of photos, of=render_source_label(...))>`. Photo i of a layout
    uses seed + i (and resample_seed + i inside the region), recorded per item. Every input is checked before
    anything is written; the files are written into a hidden staging folder and moved into out_dir when all are
    done, so a failure leaves out_dir as it was. one_class_ok: accept layouts of a single class (the masks of an
    OSMIS gallery, which may be all background); a layout the user drew or chose must hold two classes.
    """
    return run_gallery_stream(
        render_gallery_events(
            run_dir, layouts, out_dir, n, seed, noise, region, resample_seed, device, checkpoint, one_class_ok
        )
    )


def _whole(value) -> bool:
    """A whole number: an int or a numpy integer, not a bool (True would count as 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def render_source_label(
    layouts: Sequence[Path] | None,
    region: Region | None = None,
    resample_seed: int | None = None,
    noise: str = "global",
) -> str | None:
    """What a render was drawn from, for its default gallery name (gallery.gallery_name's `of`), so that renders of
    other pictures do not replace each other: None for the run's training layouts; the file name without extension
    of one layout, or the folder of several (the gallery's name for the masks of an OSMIS gallery, GALLERY/masks/*),
    with `-HHHHHH`, a hash of the layout's (or folder's) full path, so that layouts of one name in two folders differ;
    `-instance_noise` added for one z per instance; `-classC`, `-instanceX_Y` or the region file's name, then
    `-resampleS`, added when that region is re-drawn with resample seed S (two classes re-drawn with one seed are
    other pictures)."""
    if layouts is None or not layouts:
        label = None
    else:
        # several layouts are named by their folder as given (resolved itself, not through its first file, which
        # may be a link into another folder)
        where = resolved_path(Path(layouts[0])) if len(layouts) == 1 else resolved_path(Path(layouts[0]).parent)
        name = where.stem if len(layouts) == 1 else where.parent.name if where.name == "masks" else where.name
        # the name says which layout; a hash of where it is keeps layouts of one name in two folders apart
        label = f"{name}-{hashlib.sha256(str(where).encode('utf-8', 'surrogateescape')).hexdigest()[:6]}"
    if noise != "global":
        label = f"{label or 'training'}-{noise}_noise"
    if region is not None:
        if region.class_id is not None:
            where = f"class{region.class_id}"
        elif region.instance_at is not None:
            where = "instance{}_{}".format(*region.instance_at)
        else:
            where = Path(region.mask_name).stem if region.mask_name else "region"
        label = f"{label or 'training'}-{where}-resample{resample_seed}"
    return label


def render_gallery_events(
    run_dir: str | Path,
    layouts: list[Path] | None = None,
    out_dir: str | Path | None = None,
    n: int = 4,
    seed: int = 0,
    noise: str = "global",
    region: Region | None = None,
    resample_seed: int | None = None,
    device: str = "cpu",
    checkpoint: str | int = "latest",
    one_class_ok: bool = False,
) -> Iterator[GenerationEvent]:
    """`render_gallery` as a stream of events: GenerationStarted (number of photos, gallery folder),
    SamplesWritten after each photo's files, GenerationFinished. Raises OsmisError (DataError for a layout) before
    anything is written when an input is unusable. The stream is stopped by closing it (generator.close()) between
    events, that is between photos: the staging folder is removed, and out_dir stays as it was."""
    if not (_whole(n) and 1 <= n <= MAX_SAMPLES):
        raise OsmisError(f"--n must be a whole number from 1 to {MAX_SAMPLES:,}, got {n!r}.")
    n = int(n)  # numpy integers overflow near MAX_SEED, and JSON (the manifest) takes Python ints only
    # photo i of a layout uses seed + i (resample_seed + i): each must be a seed torch's generators take
    last = last_first_seed(n)
    for flag, value in (("seed", seed), ("resample-seed", resample_seed)):
        if value is not None and not (_whole(value) and 0 <= value <= last):
            raise OsmisError(f"--{flag} must be a whole number between 0 and {last}, got {value!r}.")
    seed = int(seed)
    resample_seed = int(resample_seed) if resample_seed is not None else None
    if region is not None and not isinstance(region, Region):  # a class id or a file name, say
        raise OsmisError(
            f"region must be a Region (Region(class_id=C), Region(instance_at=(X, Y)) or read_region(FILE)), got "
            f"{region!r}."
        )
    if layouts is not None:
        # a str or a single path (not a list of them), as a library caller may pass, is one layout
        layouts = [Path(layouts)] if isinstance(layouts, (str, os.PathLike)) else [Path(p) for p in layouts]
        if not layouts:
            raise OsmisError("no layout given: give at least one layout file, or None for the run's training layouts.")
    if noise not in NOISE_MODES:
        raise OsmisError(f"--noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}.")
    if region is not None and resample_seed is None:
        raise OsmisError("--resample, --resample-class and --resample-instance need --resample-seed.")
    if region is None and resample_seed is not None:  # it would be ignored, and the gallery not the one asked for
        raise OsmisError(
            "--resample-seed needs a region to re-draw: give --resample REGION.png, --resample-class C or "
            "--resample-instance X,Y."
        )
    renderer = Renderer.load(run_dir, checkpoint, device)
    # 1. check every input first: (layout file, its ids as in the file, ids at the render size)
    if layouts is None:
        sources = [(t.path, t.file_ids, renderer.fit_layout(t.ids, str(t.path))) for t in training_layouts(run_dir)]
    else:
        sources = []
        for path in layouts:
            if path.is_dir():
                raise DataError(f"{path}: is a folder, not a layout file; give a folder of layouts with --layouts.")
            if not path.is_file():
                raise DataError(f"{path}: layout file not found.")
            raw = renderer.decode_layout_image(open_mask(path), str(path))
            fit = renderer.fit_size if one_class_ok else renderer.fit_layout
            sources.append((path, raw, fit(raw, str(path))))
    prepared = [
        (path, ids, renderer.region_map(region, raw.shape, ids, str(path)) if region is not None else None, raw.shape)
        for path, raw, ids in sources
    ]
    total = len(prepared) * n
    out = (
        normalise_path(out_dir)
        if out_dir is not None
        else RunFolder(run_dir).galleries
        / gallery_name(renderer.step, seed, total, of=render_source_label(layouts, region, resample_seed, noise))
    )
    # 2. render into a hidden sibling folder, then swap it in: the folder is a whole gallery at every moment
    regions = [region.mask_name] if region is not None and region.mask_name else []
    staging = staging_folder(out, reads=[run_dir, *(path for path, *_ in prepared), *regions], makes="render")
    t0 = time.perf_counter()
    try:
        yield GenerationStarted(total, out)
        manifest = yield from _write_render_files(renderer, prepared, staging, n, seed, noise, region, resample_seed)
        if layouts is None:
            manifest["source"] = "training"
        manifest["seconds_per_render"] = round(manifest.pop("_render_seconds") / max(1, len(manifest["items"])), 4)
        atomic_write_text(staging / "manifest.json", json.dumps(manifest, indent=1) + "\n", durable=False)
        write_index_html(staging, manifest)
        swap_dir_in(staging, out)
    except OSError as exc:
        raise OsmisError(f"{out}: the gallery cannot be written ({exc.strerror or exc}).") from None
    finally:
        discard_staging(staging)
    yield GenerationFinished(out, total, round(time.perf_counter() - t0, 3))


def run_gallery_events(
    run_dir: str | Path, n: int, seed: int = 0, checkpoint: str | int = "latest", device: str = "cpu"
) -> Iterator[GenerationEvent]:
    """The gallery a run makes on its own, into `RUN/galleries/<gallery_name(...)>`, as a stream of events: n
    samples (image-mask pairs from noise) of an OSMIS run; n photos of each training layout (`training_layouts`,
    seeds seed..seed+n-1) of a renderer run. The run's kind is read from its run.json. Raises OsmisError for a
    folder that is not a run."""
    folder = RunFolder(run_dir)
    folder.require()
    info = folder.read_run_json()
    if OsmisConfig.from_dict(info.get("config", {}), str(folder.run_json), {}).model == "renderer":
        yield from render_gallery_events(run_dir, None, None, n, seed, device=device, checkpoint=checkpoint)
    else:
        yield from gallery_events(run_dir, None, n=n, seed=seed, checkpoint=checkpoint, ema=True, device=device)


def _write_render_files(
    renderer: Renderer,
    prepared: list,
    folder: Path,
    n: int,
    seed: int,
    noise: str,
    region: Region | None,
    resample_seed: int | None,
) -> Iterator[SamplesWritten]:
    """Write the photos of `prepared` into `folder`, yielding SamplesWritten after each; returns the manifest."""
    colours = palette()
    for sub in (
        "images",
        "masks",
        "overlays",
        *(("regions",) if region is not None else ()),
    ):
        (folder / sub).mkdir()
    total = len(prepared) * n
    width = max(4, len(str(total - 1)))
    items, seconds = [], 0.0
    for j, (path, ids, r, file_shape) in enumerate(prepared):
        for i in range(n):
            idx = j * n + i
            t0 = time.perf_counter()
            s, rs = seed + i, (resample_seed + i if region is not None else None)
            image = renderer.render(ids, s, noise, r, rs, name=str(path))
            seconds += time.perf_counter() - t0
            name = f"{idx:0{width}d}.png"
            ids8 = ids.astype(np.uint8)
            save_png(image, folder / "images" / name)
            save_png(ids8, folder / "masks" / name, colours)
            save_png(overlay(image, ids8), folder / "overlays" / name)
            item = {
                "index": idx,
                "image": f"images/{name}",
                "mask": f"masks/{name}",
                "overlay": f"overlays/{name}",
                "layout": str(resolved_path(Path(path))),
                "resolution": [int(v) for v in ids.shape],  # layouts of several accepted sizes differ
                "seed": s,
                "noise": noise,
            }
            if tuple(file_shape) != ids.shape:
                # the layout file was resized to the render size: what was rendered is the item's mask file
                item["layout_resized"] = {
                    "from": [int(v) for v in file_shape],
                    "to": [int(v) for v in ids.shape],
                    "rule": "nearest neighbour",
                    "rendered": f"masks/{name}",
                }
            if region is not None:
                item.update(resample_seed=rs, region=region.describe())
            if r is not None:
                # the region as rendered (at the render size: a region file, class or instance point of a resized
                # layout is re-made exactly only so) goes into the gallery, as add_to_gallery's do: the item is
                # re-made (item_recipe) and exported with it, whatever the working folder
                rname = f"regions/{idx:0{width}d}-1.png"
                save_png(r.astype(np.uint8), folder / rname, _REGION_COLOURS)
                item["resamples"] = [{"region": {"mask": rname}, "resample_seed": rs}]
            items.append(item)
            yield SamplesWritten(idx + 1, total)
    h, w = prepared[0][1].shape
    return {
        "kind": "render",
        "run": str(resolved_path(renderer.run)),
        "checkpoint_step": renderer.step,
        "ema": True,
        "seed": seed,
        "n": total,
        "per_layout": n,
        "noise": noise,
        "resample_seed": resample_seed,
        "region": region.describe() if region is not None else None,
        "resolution": [h, w],
        "num_classes": renderer.num_classes,
        "palette": colours[: renderer.num_classes].tolist(),
        "items": items,
        "_render_seconds": seconds,
    }


# -- painting: layouts and renders made in the app -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TrainingLayout:
    """One training mask of a run as its renderer was trained on it: the file, its class ids as decoded for training
    (H x W int64 at the file's size) and those ids at the training size (resized with nearest neighbour)."""

    path: Path
    file_ids: np.ndarray
    ids: np.ndarray


def training_layouts(run_dir: str | Path) -> list[TrainingLayout]:
    """The run's training layouts: each distinct mask of the frames training used (the run's data as run.json
    records it, at most max_frames frames chosen evenly spaced, as data.sources.load_frame_set chooses them), in
    order. The masks are decoded together with the run's class options, as data.sources.load_training_data does,
    and resized to the training size whatever their aspect ratio. Raises DataError when the run records no mask or
    a mask file cannot be read any more."""
    folder = RunFolder(run_dir)
    info = folder.read_run_json()
    config = OsmisConfig.from_dict(info.get("config", {}), f"{folder.root}/run.json", {})
    data = info.get("data") or {}
    listed = [Path(p) for p in (recorded_source(data).get("masks") or [])]
    if not listed:
        raise DataError(f"{folder.root}: the run records no training mask.")
    chosen = [listed[i] for i in pick_evenly(len(listed), config.data.max_frames)]
    paths = sorted(set(chosen), key=chosen.index)
    for p in paths:
        if not p.is_file():
            raise DataError(f"{p}: the run's training mask is not there any more.")
    decoded, _ = decode_masks(
        [open_mask(p) for p in paths], [str(p) for p in paths], config.data.max_classes, config.data.background_color
    )
    arch = info.get("architecture") or {}
    h, w = int(arch["height"]), int(arch["width"])
    out = []
    for p, ids in zip(paths, decoded):
        ids = np.asarray(ids).astype(np.int64)
        resized = np.asarray(Image.fromarray(ids.astype(np.int32), "I").resize((w, h), Image.NEAREST))
        out.append(TrainingLayout(p, ids, resized.astype(np.int64)))
    return out


def training_layout(run_dir: str | Path) -> np.ndarray:
    """The first training layout of a run (`training_layouts`) at the training size: H x W int64 class ids."""
    return training_layouts(run_dir)[0].ids


_REGION_COLOURS = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)  # region files: outside black, inside white


def save_layout(ids: np.ndarray, path: str | Path, run_dir: str | Path | None = None) -> Path:
    """Write a layout (H x W class ids, 0..255) as an indexed PNG with the project's palette (resources/
    palette.json), atomically. Raises OsmisError when the file cannot be written (files.output_file_problem) or
    may not go where it is named (runfolder.output_place_problem), DataError for a name that does
    not end in .png (PNG bytes under another image's name would be misread) and, with `run_dir`, for a path among
    the files that run owns or was trained on (a layout saved over the training mask or run.json would quietly
    change or break the run)."""
    path = Path(path)
    ids = np.asarray(ids)
    if ids.dtype != np.bool_ and not np.issubdtype(ids.dtype, np.integer):  # 1.7 would be saved as class 1, NaN as 0
        raise DataError(f"{path}: a layout must hold integer class ids (or booleans for classes 0/1), got {ids.dtype}.")
    if ids.ndim != 2 or ids.size == 0 or ids.min() < 0 or ids.max() > 255:
        raise DataError(f"{path}: a layout must be a non-empty 2-D map of class ids 0..255.")
    owner = run_reads(run_dir, path) if run_dir is not None else None
    if owner is not None:
        raise DataError(
            f"{path}: is among {owner} of {Path(run_dir)}; save the layout to another file, so the run stays as "
            "it was trained."
        )
    if path.suffix.lower() != ".png":
        raise DataError(f"{path}: a layout is saved as a PNG file; give a name ending in .png.")
    problem = output_file_problem(path)
    if problem is not None:
        raise OsmisError(f"{path}: the layout cannot be written ({problem}).")
    place = output_place_problem(path, "file")
    if place is not None:
        raise OsmisError(f"{path}: {place}.")
    image = Image.fromarray(ids.astype(np.uint8), "P")
    image.putpalette(palette().reshape(-1).tolist())
    try:
        atomic_write_bytes(path, lambda f: image.save(f, format="PNG"), durable=False)
    except OSError as exc:
        raise OsmisError(f"{path}: the layout cannot be written ({exc.strerror or exc}).") from None
    return path


def add_to_gallery(
    renderer: Renderer, layout: np.ndarray, recipes: list[NoiseRecipe], gallery_dir: str | Path, source: str = "paint"
) -> dict:
    """Render `layout` with each recipe and add the photos, with the layout as their mask, to a render gallery
    (created when absent; galleries of a run live in RUN/galleries/<name>/). Items record the renderer run (`run`,
    its resolved folder), its checkpoint step, seed, noise mode and each re-drawn region (regions/NNNN-K.png) with
    its seed, so `item_recipe` gives the same pixels; a gallery holds the renders of one renderer run (its
    manifest's `run`; a gallery in the run's own galleries folder whose recorded run folder is gone moved with the
    run, and its manifest is brought to the run's new place).

    The gallery, old items and new, is rebuilt in a hidden sibling folder and swapped in whole, so a failure leaves
    it as it was (its scores, now incomplete, are dropped). Returns the new manifest. Raises DataError for a layout the
    renderer does not accept, a folder holding another kind of gallery (an OSMIS gallery, an export of picked samples:
    gallery.GALLERY_KINDS) or the renders of another renderer run, OsmisError when it cannot be written.
    """
    if not recipes:
        raise OsmisError("nothing to add: no render chosen.")
    gallery = Path(gallery_dir)
    run = resolved_path(renderer.run)
    ids = renderer.fit_layout(layout)
    try:  # a name the file system refuses (too long; a NUL pasted, a ValueError) is said here, before a check trips
        gallery.stat()
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise OsmisError(f"{gallery}: not a usable gallery folder name ({reason}).") from None
    manifest_path = gallery / "manifest.json"
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            items = list(manifest["items"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{manifest_path}: cannot be read as a gallery manifest ({exc}).") from None
        if gallery_kind(manifest) != "render":  # an export holds picked samples: it is picked into, not added to
            raise DataError(
                f"{gallery}: is {GALLERY_KINDS[gallery_kind(manifest)]}; add renders to a render gallery or a new one."
            )
        recorded = manifest.get("run")
        if recorded is not None and resolved_path(Path(str(recorded))) != run:
            # a gallery of this run whose recorded run folder is gone: the run was moved or renamed with it
            if resolved_path(gallery).parent != RunFolder(run).galleries or (Path(str(recorded)) / "run.json").exists():
                raise DataError(
                    f"{gallery}: holds renders of the renderer run {manifest['run']}, not of {run}; add these "
                    "renders to another gallery."
                )
            manifest["run"] = str(run)  # where the renderer measures find the renderer now
    elif gallery.exists() and not gallery.is_dir():
        raise DataError(f"{gallery}: is a file, not a gallery folder; choose another name.")
    elif gallery.exists() and any(gallery.iterdir()):
        raise DataError(f"{gallery}: the folder holds other files and no gallery manifest; choose another name.")
    else:
        manifest, items = None, []
    start = max((int(it["index"]) for it in items), default=-1) + 1
    colours = palette()
    # the whole gallery, old items and new, is built in a hidden sibling and swapped in (files.swap_dir_in): the
    # folder holds exactly the files its manifest lists at every moment
    staging = staging_folder(gallery, keeps_all=True)
    try:
        if gallery.is_dir():
            shutil.copytree(gallery, staging, dirs_exist_ok=True)
            for stale in ("metrics.json", "metrics.csv"):  # scores of the gallery before the new items
                (staging / stale).unlink(missing_ok=True)
        subs = ("images", "masks", "overlays", "regions")
        for sub in subs:
            (staging / sub).mkdir(exist_ok=True)
        ids8 = ids.astype(np.uint8)
        new_items = []
        for k, recipe in enumerate(recipes):
            idx = start + k
            name = f"{idx:04d}.png"
            image = renderer.render_recipe(layout, recipe)
            save_png(image, staging / "images" / name)
            save_png(ids8, staging / "masks" / name, colours)
            save_png(overlay(image, ids8), staging / "overlays" / name)
            resamples = []
            for j, (region, s) in enumerate(recipe.rerolls, 1):
                rname = f"regions/{idx:04d}-{j}.png"
                save_png(
                    _resize_nearest(np.asarray(region, bool), ids.shape).astype(np.uint8),
                    staging / rname,
                    _REGION_COLOURS,
                )
                resamples.append({"region": {"mask": rname}, "resample_seed": int(s)})
            item = {
                "index": idx,
                "image": f"images/{name}",
                "mask": f"masks/{name}",
                "overlay": f"overlays/{name}",
                "layout": f"masks/{name}",
                "resolution": [int(v) for v in ids.shape],  # layouts of several accepted sizes differ
                "seed": int(recipe.seed),
                "noise": recipe.mode,
                "run": str(run),
                "checkpoint_step": renderer.step,
                "source": source,
            }
            if resamples:
                item["resamples"] = resamples
            new_items.append(item)
        if manifest is None:
            h, w = ids.shape
            manifest = {
                "kind": "render",
                "run": str(run),
                "checkpoint_step": renderer.step,
                "ema": True,
                "seed": int(recipes[0].seed),
                "noise": recipes[0].mode,
                "resolution": [h, w],
                "num_classes": renderer.num_classes,
                "palette": colours[: renderer.num_classes].tolist(),
                "source": source,
            }
        manifest["items"] = items + new_items
        manifest["n"] = len(manifest["items"])
        atomic_write_text(staging / "manifest.json", json.dumps(manifest, indent=1) + "\n", durable=False)
        write_index_html(staging, manifest)
        swap_dir_in(staging, gallery)
    except OSError as exc:
        raise OsmisError(f"{gallery}: the gallery cannot be written ({exc.strerror or exc}).") from None
    finally:
        discard_staging(staging)
    return manifest


def _distinct_palette_colours(img: Image.Image) -> bool:
    """Whether the palette indices a palette image uses have distinct colours (so its colours can stand for its
    classes: two indices of one colour, such as unset palette entries, are read by index instead)."""
    used = np.unique(np.asarray(img if img.mode == "P" else img.convert("P")))
    pal = img.getpalette() or []
    colours = {tuple(pal[3 * int(i) : 3 * int(i) + 3]) for i in used}
    return len(colours) == len(used)


def item_recipe(renderer: Renderer, gallery_dir: str | Path, item: dict) -> tuple[np.ndarray, NoiseRecipe]:
    """(layout ids, NoiseRecipe) of a render gallery's item: its mask file (the layout as rendered, at the render
    size), seed, noise mode and re-drawn regions (the region files the gallery holds, `resamples`: those of
    add_to_gallery and of `osmis render --resample`; or the class / instance of `--resample-class/-instance`)."""
    gallery = Path(gallery_dir)
    mask_path = gallery / item["mask"]
    raw = renderer.decode_layout_image(open_mask(mask_path), str(mask_path))
    ids = renderer.fit_size(raw, str(mask_path))  # what was rendered, one-class masks of `--from` included
    rerolls = []
    for r in item.get("resamples", []):
        region = np.asarray(open_mask(gallery / r["region"]["mask"]).convert("L")) != 0
        rerolls.append((region, int(r["resample_seed"])))
    # the region of `osmis render --resample*` is in the gallery as rendered (item["resamples"]); an item of an
    # older gallery names only the file, class or point, re-made from the layout as before
    if item.get("region") is not None and not item.get("resamples"):
        d = item["region"]
        region = Region(
            class_id=d.get("class"),
            instance_at=tuple(d["instance"]) if "instance" in d else None,
            mask=(read_region(d["mask"]).mask if "mask" in d else None),
            mask_name=d.get("mask"),
        )
        # the file, class or point refers to the layout file, of the size it had before any resize
        file_shape = tuple((item.get("layout_resized") or {}).get("from") or raw.shape)
        rerolls.append((renderer.region_map(region, file_shape, ids, str(mask_path)), int(item["resample_seed"])))
    return ids, NoiseRecipe(int(item["seed"]), item.get("noise", "global"), tuple(rerolls))


def rendered_gallery_path(gallery: str | Path, renderer_run: str | Path) -> Path:
    """Where the renders of an OSMIS gallery's masks go (the two-stage pipeline from the app): beside that gallery,
    `<gallery>-rendered-<renderer run name>`."""
    gallery = Path(gallery)
    return gallery.parent / f"{gallery.name}-rendered-{resolved_path(Path(renderer_run)).name}"


def render_gallery_masks(
    renderer_run: str | Path,
    gallery: str | Path,
    n: int = 1,
    seed: int = 0,
    device: str = "cpu",
    out_dir: str | Path | None = None,
) -> Path:
    """Render every mask of an OSMIS gallery with a renderer run (spec section 5, the two-stage pipeline) into
    out_dir (default rendered_gallery_path). OSMIS's all-background masks are rendered too."""
    return run_gallery_stream(render_gallery_masks_events(renderer_run, gallery, n, seed, device, out_dir))


def render_gallery_masks_events(
    renderer_run: str | Path,
    gallery: str | Path,
    n: int = 1,
    seed: int = 0,
    device: str = "cpu",
    out_dir: str | Path | None = None,
) -> Iterator[GenerationEvent]:
    """`render_gallery_masks` as a stream of events (render_gallery_events'), which a caller may close between
    events to stop it."""
    yield from render_gallery_events(
        renderer_run,
        layouts_of_gallery(gallery, renderer_run),
        out_dir if out_dir is not None else rendered_gallery_path(gallery, renderer_run),
        n=n,
        seed=seed,
        device=device,
        one_class_ok=True,
    )
