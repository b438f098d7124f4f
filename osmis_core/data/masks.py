"""Decode segmentation masks of every supported on-disk format into class-id maps (docs/model.md section 8)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..config import parse_colour
from ..errors import DataError
from ..models.visual import palette

COLOUR_TOLERANCE = 12  # colours within this many levels (per channel) are one class
MIN_CLASS_SHARE = 0.001  # a colour must cover at least this share of pixels to start a class
_BLEND_MAX_SHARE = 0.05  # a smaller colour lying between two classes is an anti-aliased edge, not a class
_CORE_SHARE = 0.05  # a class has interior pixels: at least this share of its pixels have 8 same-class neighbours
_REGION_COVER = 0.5  # grey levels with interior pixels covering this share of the mask make it a label map
# a layout's thin colour this many levels off every mix of the class colours is drawn, not an anti-aliased edge
# (Lanczos and bicubic resizing overshoot the mixes by up to about 35 levels)
_MIX_TOLERANCE = 48


@dataclass
class MaskClass:
    id: int
    share: float  # fraction of all mask pixels
    colour: tuple[int, int, int] | None = None
    value: int | None = None  # grey level or palette index on disk


KIND_PHRASES = {
    "ids": "a class-id mask",
    "binary": "a black/white mask",
    "soft": "a soft-edged grey mask",
    "levels": "a grey-level mask",
    "colour": "an RGB colour-coded mask",
}


@dataclass
class MaskReport:
    """What was found in the mask files: the user is told this."""

    kind: str  # ids | binary | soft | levels | colour
    num_classes: int
    classes: list[MaskClass] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def kind_phrase(self) -> str:
        """The kind in words, with its article: 'a class-id mask', 'an RGB colour-coded mask', ..."""
        return KIND_PHRASES.get(self.kind, f"a '{self.kind}' mask")

    def describe(self) -> str:
        parts = []
        for c in self.classes:
            what = (
                f"#{c.colour[0]:02x}{c.colour[1]:02x}{c.colour[2]:02x}" if c.colour is not None else f"value {c.value}"
            )
            parts.append(f"class {c.id} ({what}): {100 * c.share:.1f}%")
        return f"{self.num_classes} classes from {self.kind_phrase}: " + ", ".join(parts)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "notes": list(self.notes),
            "classes": [
                {
                    "id": c.id,
                    "share": round(c.share, 6),
                    "colour": list(c.colour) if c.colour is not None else None,
                    "value": c.value,
                }
                for c in self.classes
            ],
        }


def _raw_array(img: Image.Image) -> tuple[str, np.ndarray]:
    """('index' | 'grey' | 'rgb', array) for one mask image."""
    if img.mode == "P":
        return "index", np.asarray(img)
    if img.mode == "1":
        return "grey", np.asarray(img).astype(np.uint8) * 255
    if img.mode in ("L", "LA"):
        return "grey", np.asarray(img.getchannel(0))
    if img.mode.startswith("I") or img.mode == "F":
        a = np.asarray(img).astype(np.int64)
        if a.ndim == 3:
            a = a[..., 0]
        return "grey16" if a.max(initial=0) > 255 else "grey", a
    rgb = np.asarray(img.convert("RGB"))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return "grey", rgb[..., 0]
    return "rgb", rgb


def class_values(report: dict | None) -> list[int] | None:
    """The on-disk value (grey level or palette index) of each class of the training masks, in id order, from a
    MaskReport.to_dict() (run.json's data.mask); None for colour masks or an unknown report. Layouts drawn like the
    training masks are read with it (data.masks.layout_ids)."""
    if not report or report.get("kind") == "colour" or not report.get("classes"):
        return None
    classes = sorted(report["classes"], key=lambda c: c["id"])
    values = [c.get("value") for c in classes]
    return [int(v) for v in values] if all(isinstance(v, int) for v in values) else None


def layout_ids(
    img: Image.Image | np.ndarray,
    class_values: list[int] | None,
    num_classes: int,
    colour_trained: bool = False,
    mask_kind: str | None = None,
    name: str = "the layout",
    class_colours: list | np.ndarray | None = None,
) -> np.ndarray | None:
    """Class ids (H x W int64) of ONE layout, read by the rules of the training masks, or None for an image the
    caller matches to class colours (layout_colour_ids). Ids are not range-checked here.

    img: a layout image, or an H x W integer array (the library's layouts), read as a grey image of those values
    (above 255: 16-bit) whose values 0..num_classes-1 are class ids; an array with a value below 0 or above 65535 is
    returned as it is (the caller names the bad id). Pixels of an image are read as decode_masks reads them (a
    1-bit image as 0/255). In order:
    - values that can all be class ids (0..num_classes-1: the masks of a gallery, layouts drawn as ids) are the ids;
      when they are all training values too that stand for other classes (index 2 of the sparse palette 0/2/40 is
      class 1), an image is refused as ambiguous (DataError naming `name`) unless its palette is the project's
      (a gallery mask or a layout the paint page saved: class ids); an array is class ids (as documented);
    - colour images, and grey ones when the training masks were colour masks (colour_trained: black and white, or
      a grey class colour, are colours then), are left to the caller;
    - a 16-bit image of a renderer trained on 8-bit values is scaled to 8 bits (65535 -> 255); an 8-bit image of
      one trained on 16-bit values is compared with the training values brought to 8 bits (32768 -> 128), unless
      two of them become one;
    - a value that is a training class's on-disk value (class_values: grey level or palette index of each class,
      in id order, as MaskReport records them) is that class: a 0/255 black/white training mask used as a layout
      gives the classes 0 and 1 again, as in training;
    - other values, as training read them: a soft mask (mask_kind "soft", or two classes at 0 and full scale of
      an unknown kind) by the threshold at half scale; a black/white mask (mask_kind "binary") and grey levels as
      classes ("levels"), the nearest class level for a level without interior pixels (an anti-aliased edge): a
      level that fills a region of its own would have been a class of its own in training: DataError naming it;
      without class_values, a 0/full-scale image as 0 and 1;
    - anything else keeps its values (the caller names a bad id).
    mask_kind: the MaskReport kind of the training masks (ids, binary, soft, levels, colour), None if unknown;
    class_colours: their class colours (K x 3) when they had colours, for the accepted values a refusal names."""
    is_array = isinstance(img, np.ndarray)
    if is_array:
        a = np.asarray(img, np.int64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            return a
        kind = "grey16" if a.max(initial=0) > 255 else "grey"
    else:
        kind, a = _raw_array(img)
    if kind == "rgb":
        return None
    a = np.asarray(a, np.int64)
    values = [int(v) for v in np.unique(a)]
    if all(v < num_classes for v in values):
        if (
            not is_array
            and class_values
            and all(v in class_values for v in values)
            and any(class_values.index(v) != v for v in values)
            and not _in_project_palette(img, values)
        ):
            raise DataError(
                f"{name}: its values {', '.join(map(str, values))} are class ids and values of the training masks "
                f"({', '.join(map(str, class_values))}) alike, which stand for other classes, so its classes are "
                f"ambiguous; save the layout as class ids in the project's palette (as the paint page does)."
            )
        return a
    if colour_trained and kind != "index":
        return None
    full = 65535 if kind == "grey16" else 255
    in_file = a  # the values as the file holds them, which a refusal names (not those brought to another bit depth)
    if class_values and kind != "index" and (kind == "grey16") != (max(class_values) > 255):
        # the layout's bit depth is not the training masks': compare them at 8 bits (0/65535 and 0/255 are both
        # black and white; 32768 and 128 both half grey)
        if kind == "grey16":
            a, full = (a + 128) // 257, 255
        elif len({(v + 128) // 257 for v in class_values}) == len(class_values):
            class_values = [(v + 128) // 257 for v in class_values]
        else:  # training levels that are one 8-bit level apart: the 8-bit values are scaled up to theirs
            a, full = a * 257, 65535
        values = [int(v) for v in np.unique(a)]
    if not class_values:
        return (a > 0).astype(np.int64) if set(values) == {0, full} else a
    if all(v in class_values for v in values):
        lut = np.zeros(max(values) + 1, np.int64)
        for v in values:
            lut[v] = class_values.index(v)
        return lut[a]
    if kind == "index":
        return a  # palette indices that are not the training ones: the caller names the first bad id
    if class_values == [0, full] and mask_kind in (None, "soft"):
        return (a >= (full + 1) // 2).astype(np.int64)
    # grey levels as classes: a level of no training class is an anti-aliased edge (nearest class) only when it has
    # no interior pixels, as in training; one that fills a region of its own would have been a class of its own
    uniq, inverse = np.unique(a, return_inverse=True)
    known = np.isin(uniq, class_values) | (_core_counts([inverse.reshape(a.shape)], len(uniq)) == 0)
    if known.all():
        levels = np.asarray(class_values, np.int64)
        return np.abs(a[..., None] - levels).argmin(-1)
    foreign = [int(v) for v in uniq[~known]]
    named = [v for v in foreign if v >= num_classes] or foreign  # a class id among them is not the news
    if in_file is not a:  # a level brought to the training masks' bit depth: name one of the file's own for it
        named = [int(in_file[a == v].min()) for v in named]
    what = (
        f"grey level {named[0]} fills a region of its own but is"
        if len(named) == 1
        else f"grey levels {', '.join(map(str, named))} fill regions of their own but are"
    )
    raise DataError(
        f"{name}: {what} no class of this renderer "
        f"({accepted_values(class_values, num_classes, mask_kind, class_colours)})."
    )


def layout_colours(
    num_classes: int,
    class_values: list[int] | None = None,
    mask_kind: str | None = None,
    class_colours: list | np.ndarray | None = None,
) -> np.ndarray:
    """The colour of each class (K x 3 int64, 0..255) in a colour layout of a renderer run, by its training masks:
    their class colours when they had colours (class_colours: colour masks, palette masks); the grey of each class's
    level when they were grey with values other than the ids (class_values: black and white for a 0/255 black/white
    or soft mask, 0/65535 alike; the levels of a grey-level mask); otherwise (class-id masks) the project's palette,
    the colours of gallery masks and of the paint page. mask_kind: the MaskReport kind (names the kind only)."""
    if class_colours is not None:
        return np.asarray(class_colours, np.int64).reshape(-1, 3)
    if class_values and class_values != list(range(num_classes)):
        full = 65535 if max(class_values) > 255 else 255
        grey = (np.asarray(class_values, np.int64) * 255 + full // 2) // full
        return np.repeat(grey[:, None], 3, 1)
    return palette()[:num_classes].astype(np.int64)


def _hex(colours: np.ndarray) -> str:
    return ", ".join(f"#{int(c[0]):02x}{int(c[1]):02x}{int(c[2]):02x}" for c in colours)


def accepted_values(
    class_values: list[int] | None,
    num_classes: int,
    mask_kind: str | None = None,
    class_colours: list | np.ndarray | None = None,
) -> str:
    """What a layout of a renderer run may hold, in words, for every message that names it (a bad class id, a
    grey level of no class, a colour of no class): class ids 0..K-1; the training masks' values when they are
    others; the class colours of a colour layout (layout_colours) and, when those are not the project's palette,
    that palette too (gallery masks read so). E.g. for a 0/255 black/white run: 'class ids 0..1, the training
    masks' values 0, 255 of a black/white mask, or the colours #000000, #ffffff of its classes 0..1, as in its
    training masks; gallery masks in the project's palette #000000, #e6194b are read too'."""
    k = num_classes
    text = f"class ids 0..{k - 1}"
    if class_values and class_values != list(range(k)):
        text += f", the training masks' values {', '.join(map(str, class_values))}"
        if mask_kind in KIND_PHRASES:
            text += f" of {KIND_PHRASES[mask_kind]}"
    colours = layout_colours(k, class_values, mask_kind, class_colours)
    project = palette()[:k].astype(np.int64)
    text += f", or the colours {_hex(colours)} of its classes 0..{k - 1}"
    if colours.shape == project.shape and (colours == project).all():
        return text + ", the project's palette"
    return text + f", as in its training masks; gallery masks in the project's palette {_hex(project)} are read too"


def _in_project_palette(img: Image.Image, values: list[int]) -> bool:
    """Whether a palette image gives each of its used indices the project's colour of that class id (the masks of a
    gallery and the layouts of the paint page are saved so)."""
    pal = np.asarray((img.getpalette() or [])[: 3 * 256], np.int64).reshape(-1, 3) if img.mode == "P" else None
    project = palette().astype(np.int64)
    return pal is not None and all(v < len(pal) and (pal[v] == project[v]).all() for v in values)


def layout_colour_ids(
    rgb: np.ndarray, colours: np.ndarray, edges: bool = True, tolerance: int = COLOUR_TOLERANCE
) -> np.ndarray:
    """Class ids (H x W int64) of an RGB layout (H x W x 3) by the class colours (K x 3), the way training reads a
    colour mask: a colour within `tolerance` of a class colour is that class, and (edges) a colour with no interior
    pixels that is a mix of class colours (within _MIX_TOLERANCE: an anti-aliased edge between classes) goes to the
    nearest class. Any other colour, one that fills a region of its own or a thin line of a colour that no
    mix of the classes gives (a road of pure green drawn across), is -1 (the caller names it)."""
    rgb = rgb.astype(np.int64)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    unique, inverse = np.unique(codes.ravel(), return_inverse=True)
    u = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], 1)
    colours = colours.astype(np.int64)
    near = np.abs(u[:, None, :] - colours[None]).max(-1).min(1) <= tolerance
    edge = _core_counts([inverse.reshape(codes.shape)], len(u)) == 0 if edges else np.zeros(len(u), bool)
    thin = np.flatnonzero(edge & ~near)
    edge[thin] = _mixes_within(u[thin], colours, _MIX_TOLERANCE)
    nearest = ((u[:, None, :] - colours[None]) ** 2).sum(-1).argmin(1)
    return np.where(near | edge, nearest, -1)[inverse].reshape(codes.shape)


def _mixes_within(colours: np.ndarray, classes: np.ndarray, tolerance: float) -> np.ndarray:
    """Per colour (N x 3), whether _distance_to_mixes(colours, classes) <= tolerance, with nnls asked only about the
    colours that no blend of two classes lies close to (_on_segments: an anti-aliased edge between two classes, the
    bulk of a layout's edge colours, is decided without it)."""
    out = _on_segments(colours, classes, tolerance)
    rest = np.flatnonzero(~out)
    if rest.size:
        out[rest] = _distance_to_mixes(colours[rest], classes) <= tolerance
    return out


def _on_segments(colours: np.ndarray, classes: np.ndarray, tolerance: float) -> np.ndarray:
    """Per colour (N x 3), True when a point of a segment between two class colours (or a class colour) lies within
    `tolerance` (Euclidean, levels, less a 0.01 margin) of it. Such a point is a mix of the classes, so the nearest
    mix nnls finds is at most as far (in the Euclidean norm, and so in every channel): True implies
    _distance_to_mixes <= tolerance. False decides nothing."""
    c = colours.astype(np.float64)
    k = classes.astype(np.float64)
    i, j = np.triu_indices(len(k), 1)
    a, d = np.concatenate([k, k[i]]), np.concatenate([np.zeros_like(k), k[j] - k[i]])  # S starts a, directions d
    # |c - a - t d|^2 = |c - a|^2 - 2 t (c - a).d + t^2 |d|^2 with t, the nearest point's position, clipped to [0, 1]
    dd = (d * d).sum(1)
    cad = c @ d.T - (a * d).sum(1)  # N x S: (c - a).d
    t = np.clip(cad / np.maximum(dd, 1e-9), 0.0, 1.0)
    gap2 = (c * c).sum(1)[:, None] - 2 * c @ a.T + (a * a).sum(1) - 2 * t * cad + t * t * dd
    return gap2.min(1) <= (tolerance - 0.01) ** 2


def _distance_to_mixes(colours: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Per colour (N x 3), the largest channel difference (levels) to the nearest mix of the class colours (K x 3:
    weights >= 0 summing to 1, the convex hull of the classes); 0 for a blend of classes such as an anti-aliased
    edge or corner gives. Non-negative least squares with the sum held to 1 by a heavily weighted row. scipy.optimize
    is imported here, for the few layouts that need it: at module level it cost every osmis command's start about a
    second (this module is imported by each command that reads data)."""
    from scipy.optimize import nnls

    heavy = 1e4
    a = np.vstack([classes.T.astype(np.float64), np.full((1, len(classes)), heavy)])
    out = np.zeros(len(colours))
    for i, c in enumerate(colours.astype(np.float64)):
        w, _ = nnls(a, np.append(c, heavy))
        out[i] = np.abs(classes.T @ w - c).max()
    return out


def decode_masks(
    images: list[Image.Image], names: list[str], max_classes: int, background_colour: str | None = None
) -> tuple[list[np.ndarray], MaskReport]:
    """Class-id maps (H x W int64, 0 = background) for all frames' masks, decoded jointly so ids agree."""
    raws = [_raw_array(im) for im in images]
    kinds = {k for k, _ in raws}
    if "rgb" in kinds:
        rgb = [r if k == "rgb" else np.repeat(np.asarray(r, np.uint8)[..., None], 3, -1) for k, r in raws]
        ids, report = _decode_colour(rgb, background_colour)
    elif kinds == {"index"}:
        ids, report = _decode_ids([r for _, r in raws], "ids", max_classes)
        palette = images[0].getpalette() or []
        for c in report.classes:
            if c.value is not None and 3 * c.value + 2 < len(palette):
                c.colour = tuple(palette[3 * c.value : 3 * c.value + 3])  # type: ignore[assignment]
    else:
        ids, report = _decode_grey(
            [np.asarray(r, np.int64) for _, r in raws], 65535 if "grey16" in kinds else 255, max_classes
        )
    if report.num_classes > max_classes:
        raise DataError(
            f"{names[0]}: the mask has {report.num_classes} classes but the model takes at most "
            f"{max_classes} (background included); merge classes or raise --max-classes."
        )
    if report.num_classes < 2:
        report.notes.append("the mask holds a single class: it carries no layout information")
    return ids, report


def _shares(ids: list[np.ndarray], k: int) -> np.ndarray:
    counts = sum(np.bincount(a.ravel(), minlength=k)[:k] for a in ids)
    return counts / max(1, counts.sum())


def _decode_ids(arrays: list[np.ndarray], kind: str, max_classes: int) -> tuple[list[np.ndarray], MaskReport]:
    values = np.unique(np.concatenate([np.unique(a) for a in arrays]))
    if values.max(initial=0) < max_classes:
        k = int(values.max(initial=0)) + 1
        ids = [a.astype(np.int64) for a in arrays]
        lookup = {int(v): int(v) for v in range(k)}
    else:  # sparse ids (e.g. palette index 200): compact them in sorted order
        k = len(values)
        lookup = {int(v): i for i, v in enumerate(values)}
        table = np.zeros(int(values.max()) + 1, np.int64)
        table[values] = np.arange(k)
        ids = [table[a] for a in arrays]
        kind = "levels"
    share = _shares(ids, k)
    classes = [MaskClass(i, float(share[i]), value=v) for v, i in lookup.items()]
    return ids, MaskReport(kind, k, classes)


def _decode_grey(arrays: list[np.ndarray], full: int, max_classes: int) -> tuple[list[np.ndarray], MaskReport]:
    values = np.unique(np.concatenate([np.unique(a) for a in arrays]))
    if set(values.tolist()) <= {0, full} and values.max(initial=0) == full:
        ids = [(a > 0).astype(np.int64) for a in arrays]
        share = _shares(ids, 2)
        return ids, MaskReport(
            "binary", 2, [MaskClass(0, float(share[0]), value=0), MaskClass(1, float(share[1]), value=full)]
        )
    if values.max(initial=0) < max_classes:
        return _decode_ids(arrays, "ids", max_classes)  # class ids 0..K-1
    # A label map whose ids are spread over the grey range (0, 25, ..., 225) has an interior at every level it uses;
    # anti-aliased edges add levels that only occur along the borders between them.
    lookup = np.zeros(int(values.max()) + 1, np.int64)
    lookup[values] = np.arange(len(values))
    level_maps = [lookup[a] for a in arrays]
    cores = _core_counts(level_maps, len(values))
    regions = np.flatnonzero(cores > 0)
    counts = sum(np.bincount(m.ravel(), minlength=len(values)) for m in level_maps)
    if (
        len(regions) >= 2
        and counts[regions].sum() >= _REGION_COVER * counts.sum()
        and len(regions) < len(values)
        or len(regions) == len(values)
        and len(values) >= 2
    ):
        centres = values[regions].astype(np.int64)
        nearest = np.abs(values[:, None].astype(np.int64) - centres[None]).argmin(1)  # level -> class (sorted)
        ids = [nearest[m] for m in level_maps]
        share = _shares(ids, len(centres))
        report = MaskReport(
            "levels", len(centres), [MaskClass(i, float(share[i]), value=int(v)) for i, v in enumerate(centres)]
        )
        report.notes.append(
            f"grey label map: {len(centres)} grey levels with regions of their own, one class each "
            f"in order of brightness (class 0 = the darkest)"
        )
        edge_levels = len(values) - len(regions)
        if edge_levels:
            report.notes.append(_edge_note(edge_levels, 1 - counts[regions].sum() / counts.sum(), "grey levels"))
        return ids, report
    half = (full + 1) // 2
    ids = [(a >= half).astype(np.int64) for a in arrays]
    share = _shares(ids, 2)
    report = MaskReport("soft", 2, [MaskClass(0, float(share[0]), value=0), MaskClass(1, float(share[1]), value=full)])
    report.notes.append(
        f"{len(values)} grey levels with no clear regions: read as a soft mask of one object + "
        f"background, thresholded at {half}; if the levels are classes, save the mask as class ids "
        f"0..K-1 (grey or indexed PNG)"
    )
    return ids, report


def _core_counts(maps: list[np.ndarray], k: int) -> np.ndarray:
    """Per class id, the number of pixels whose 8 neighbours all have the same id (interior pixels)."""
    total = np.zeros(k, np.int64)
    for m in maps:
        if m.shape[0] < 3 or m.shape[1] < 3:
            continue
        centre = m[1:-1, 1:-1]
        same = np.ones(centre.shape, bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    same &= m[1 + dy : m.shape[0] - 1 + dy, 1 + dx : m.shape[1] - 1 + dx] == centre
        total += np.bincount(centre[same].ravel(), minlength=k)[:k]
    return total


def _edge_note(count: int, share: float, what: str) -> str:
    return (
        f"{count} {what} ({100 * share:.1f}% of the pixels) are too small or lie only along the borders between "
        f"classes: taken as anti-aliasing and given to the nearest class; if one of them is a class, save the mask "
        f"without anti-aliasing (nearest-neighbour resizing) or as an indexed PNG"
    )


def _decode_colour(arrays: list[np.ndarray], background: str | None) -> tuple[list[np.ndarray], MaskReport]:
    packed = [(a[..., 0].astype(np.int64) << 16) | (a[..., 1].astype(np.int64) << 8) | a[..., 2] for a in arrays]
    colours, inverse_all = np.unique(np.concatenate([p.ravel() for p in packed]), return_inverse=True)
    counts = np.bincount(inverse_all)
    rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], 1)  # U x 3
    total = counts.sum()
    # Seed a class at the most common unassigned colour, absorb every colour within the tolerance, repeat;
    # then drop classes too small to be real (anti-aliased edge colours) and send their pixels to the nearest.
    # A class also has interior pixels; colours of anti-aliased edges (box, bilinear, Lanczos resizing) do not.
    unassigned = np.ones(len(rgb), bool)
    cluster = np.zeros(len(rgb), np.int64)
    centres, weights = [], []
    while unassigned.any():
        seed = np.flatnonzero(unassigned)[np.argmax(counts[unassigned])]
        near = unassigned & (np.abs(rgb - rgb[seed]).max(1) <= COLOUR_TOLERANCE)
        cluster[near] = len(centres)
        centres.append(rgb[seed].astype(np.int64))
        weights.append(int(counts[near].sum()))
        unassigned &= ~near
    start, cluster_maps = 0, []
    for p in packed:
        cluster_maps.append(cluster[inverse_all[start : start + p.size]].reshape(p.shape))
        start += p.size
    cores = _core_counts(cluster_maps, len(centres))
    kept: list[np.ndarray] = []
    dropped_share, dropped = 0.0, 0
    for i in np.argsort(weights)[::-1]:
        c, share = centres[i], weights[i] / total
        interior = cores[i] / max(weights[i], 1)
        if kept and (
            share < MIN_CLASS_SHARE
            or interior < _CORE_SHARE
            or (share < _BLEND_MAX_SHARE and interior < 0.5 and _is_blend(c, kept))
        ):
            dropped_share += share
            dropped += 1
            continue
        kept.append(c)
    centres = kept
    cen = np.stack(centres)  # K x 3
    nearest = np.argmin(((rgb[:, None, :] - cen[None]) ** 2).sum(-1), 1)  # U: stray edge colours -> nearest class
    notes = [_edge_note(dropped, dropped_share, "colours")] if dropped_share >= 0.001 else []
    if background is not None:
        target = np.array(parse_colour(background))
        bg = int(np.argmin(((cen - target) ** 2).sum(-1)))
        if np.abs(cen[bg] - target).max() > COLOUR_TOLERANCE:
            notes.append(f"no class has colour {background}; the nearest colour is used as background")
    elif (np.abs(cen).max(1) <= COLOUR_TOLERANCE).any():
        bg = int(np.argmax(np.abs(cen).max(1) <= COLOUR_TOLERANCE))
    else:
        border = np.concatenate([np.concatenate([p[0], p[-1], p[:, 0], p[:, -1]]) for p in packed])
        border_cls = nearest[np.searchsorted(colours, border)]
        bg = int(np.bincount(border_cls, minlength=len(cen)).argmax())
        notes.append("no black class: the most common border colour is the background")
    share = np.bincount(nearest, weights=counts, minlength=len(cen)) / total
    order = [bg] + [int(i) for i in np.argsort(-share, kind="stable") if i != bg]
    rank = np.empty(len(cen), np.int64)
    rank[order] = np.arange(len(cen))
    lut = rank[nearest]  # unique colour -> class id
    ids, start = [], 0
    for p in packed:
        ids.append(lut[inverse_all[start : start + p.size]].reshape(p.shape))
        start += p.size
    classes = [MaskClass(i, float(share[c]), colour=tuple(int(v) for v in cen[c])) for i, c in enumerate(order)]
    return ids, MaskReport("colour", len(cen), classes, notes)


def _is_blend(colour: np.ndarray, classes: list[np.ndarray]) -> bool:
    """True when colour lies (within the tolerance) on a segment between two class colours, away from both."""
    c = colour.astype(np.float64)
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            a, b = classes[i].astype(np.float64), classes[j].astype(np.float64)
            d = b - a
            t = float(np.dot(c - a, d) / max(np.dot(d, d), 1e-9))
            if 0.1 <= t <= 0.9 and np.abs(a + t * d - c).max() <= COLOUR_TOLERANCE:
                return True
    return False
