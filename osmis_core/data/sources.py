"""Training data: find the inputs, decode once, resize once, keep as tensors on the training device."""

from __future__ import annotations

import errno
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from ..config import read_number
from ..errors import ConfigError, DataError, OsmisError
from ..files import resolved_path
from ..models.architecture import Architecture, recommend
from .masks import MaskReport, decode_masks

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".mov", ".avi", ".webm", ".gif", ".mkv", ".m4v"}
MIN_SIDE = 16

# Decompression bombs: a 75 KB PNG can declare 28k x 16k pixels. Sizes are checked from the file's header before
# any pixel is decoded; the limit is raised with this environment variable.
MAX_PIXELS_ENV = "OSMIS_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 100_000_000  # 10000 x 10000: 300 MB as RGB bytes, ~1.2 GB as floats
# A 16-bit image whose brightest value is below this share of 65535 uses a small part of its range.
_LOW_RANGE_SHARE = 1 / 8


def max_image_pixels() -> int:
    """The largest width x height accepted for an image, mask or video frame ($OSMIS_MAX_IMAGE_PIXELS or 10^8)."""
    text = os.environ.get(MAX_PIXELS_ENV)
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = read_number(text, int)  # as every number a user types: '1_0' is refused, not 10
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_PIXELS_ENV}={text!r} must be a positive whole number of pixels.")
    return value


def check_pixel_count(path: Path | str, width: int, height: int, what: str = "image") -> None:
    """Refuse a declared size above max_image_pixels() before it is decoded."""
    limit = max_image_pixels()
    if width * height > limit:
        raise DataError(
            f"{path}: the {what} declares {width}x{height} pixels ({width * height / 1e6:.0f} "
            f"megapixels), above the limit of {limit / 1e6:g} megapixels; shrink it, or raise the limit "
            f"with the environment variable {MAX_PIXELS_ENV}={width * height}."
        )


def open_checked(path: Path, what: str = "image") -> Image.Image:
    """Open and fully decode an image file whose declared size is within max_image_pixels(); EXIF orientation
    applied. Raises DataError naming the file for a missing, unreadable, corrupt or too large file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies, not Pillow's
            with Image.open(path) as im:
                check_pixel_count(path, *im.size, what=what)
                im.load()
                if im.format in ("PNG", "WEBP") and getattr(im, "n_frames", 1) > 1:  # not a JPEG's MPO preview
                    warnings.warn(
                        f"{path}: an animated {im.format} of {im.n_frames} frames; only its first frame is used "
                        f"(save its frames as a folder of images to train on them all)",
                        stacklevel=2,
                    )
                return ImageOps.exif_transpose(im)
    except FileNotFoundError:
        raise DataError(_not_found(path)) from None
    except Image.DecompressionBombError as exc:  # Pillow's own limit, where the caller left it in place
        raise DataError(
            f"{path}: the {what} is too large for Pillow's limit ({exc}); the osmis command uses "
            f"{MAX_PIXELS_ENV} instead."
        ) from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file (or a format that cannot be read).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
            raise DataError(_not_found(path)) from None
        if isinstance(exc, OSError) and exc.errno == errno.EISDIR:
            raise DataError(f"{path}: a folder, where the {what} file should be.") from None
        raise DataError(f"{path}: the {what} is corrupt or truncated ({exc}).") from None


def _not_found(path: Path) -> str:
    """The sentence for a file that is not there: a symbolic link is named as one, with where it points."""
    if Path(path).is_symlink():
        return f"{path}: a symbolic link to {os.readlink(path)}, which does not exist (or is a loop of links)."
    return f"{path}: file not found."


@dataclass
class DataSource:
    """Where the frames and masks of one training set are."""

    kind: str  # image | folder | video
    path: Path
    frames: list[Path] = field(default_factory=list)  # image files (kind image/folder)
    masks: list[Path] | None = None  # one per frame, same order
    video: Path | None = None

    def to_dict(self) -> dict:
        """The paths absolute (as run.json's data path is): run.json is read from other working folders (the app,
        a resume, the Paint page's training layouts), where a path relative to the training's names nothing."""
        return {
            "kind": self.kind,
            "path": str(resolved_path(self.path)),
            "num_frames": len(self.frames) or None,
            "masks": [str(resolved_path(p)) for p in self.masks] if self.masks else None,
            "video": str(resolved_path(self.video)) if self.video else None,
        }


def data_files(folder: Path, exts=IMAGE_EXTS) -> list[Path]:
    """THE rule for the data files of a folder (frames, masks, layouts, a batch's images and videos): its files with
    one of `exts`, in name order, hidden ones left out: `._NAME.png` (the resource forks a Mac writes beside every
    file on a USB stick or network share) or `.NAME.png` are no frames or masks, and counting them would pair
    masks and frames wrongly or fail on a file that is no image. A symbolic link to nothing (a share not mounted, a
    loop of links) is listed, so that opening it names it: left out, a batch lost that source and a frames folder
    that frame, without a word."""
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_file() or (p.is_symlink() and not p.exists()))
        and p.suffix.lower() in exts
        and not p.name.startswith(".")
    )


def _masks_for(frames: list[Path], mask_dir: Path) -> list[Path]:
    """The mask of each frame: the file of the same stem in mask_dir. A frame without its mask, or a mask that
    belongs to no frame, is a DataError (pairing files of other names by their order could pair the wrong ones)."""
    by_stem = {p.stem: p for p in data_files(mask_dir)}
    missing = [f.name for f in frames if f.stem not in by_stem]
    if missing:
        raise DataError(
            f"{mask_dir}: no mask for frame {missing[0]} (masks must have the same file stems as the frames)."
        )
    extra = sorted(set(by_stem) - {f.stem for f in frames})
    if extra:
        raise DataError(
            f"{by_stem[extra[0]]}: a mask without a frame of the same stem ({len(by_stem)} masks for "
            f"{len(frames)} frames); give exactly one mask per frame."
        )
    return [by_stem[f.stem] for f in frames]


def find_source(path: str | Path, mask: str | Path | None = None) -> DataSource:
    """Resolve DATA (image file, research-layout folder, frames folder or video file) and its masks."""
    path = Path(path)
    if not path.exists():
        raise DataError(_not_found(path) if path.is_symlink() else f"{path}: no such file or folder.")
    mask = Path(mask) if mask is not None else None
    if mask is not None and not mask.exists():
        raise DataError(f"{mask}: mask file or folder not found.")
    if path.is_dir():
        image_dir = path / "image" if (path / "image").is_dir() else path
        frames = data_files(image_dir)
        videos = data_files(image_dir, VIDEO_EXTS) if not frames else []
        if len(videos) > 1:  # one model learns one video: which one is not ours to guess
            named = ", ".join(v.name for v in videos[:2]) + (", ..." if len(videos) > 2 else "")
            raise DataError(
                f"{image_dir}: holds {len(videos)} videos ({named}) and no images; give one video file (osmis batch "
                f"trains one model per video)."
            )
        if not frames and videos:
            return find_source(
                videos[0], mask if mask is not None else (path / "mask" if (path / "mask").is_dir() else None)
            )
        if not frames:
            raise DataError(
                f"{image_dir}: the folder holds no images (expected .png/.jpg files or an image/ subfolder)."
            )
        mask_dir = mask if mask is not None else (path / "mask" if (path / "mask").is_dir() else None)
        masks = None
        if mask_dir is not None:
            masks = [mask_dir] if mask_dir.is_file() and len(frames) == 1 else _masks_for(frames, mask_dir)
        return DataSource("folder", path, frames, _not_the_frames(frames, masks))
    ext = path.suffix.lower()
    if ext in VIDEO_EXTS:
        masks = None
        if mask is None:  # a `mask/` beside it that holds no masks is refused below, not trained without them
            mask = video_mask_folder(path) or (path.parent / "mask" if (path.parent / "mask").is_dir() else None)
        if mask is not None:
            if not mask.is_dir():
                raise DataError(f"{mask}: the mask of a video must be a folder of per-frame mask images.")
            masks = sorted(data_files(mask), key=_frame_order)
            if not masks:
                raise DataError(f"{mask}: the mask folder holds no images.")
        return DataSource("video", path, [], masks, video=path)
    if ext not in IMAGE_EXTS:
        raise DataError(
            f"{path}: not a supported image or video file (image: {', '.join(sorted(IMAGE_EXTS))}; "
            f"video: {', '.join(sorted(VIDEO_EXTS))})."
        )
    if mask is None:
        # a `mask/` folder beside the image's folder (the research layout image/ + mask/) or beside the image
        # itself, as the image's folder given as DATA finds it (product spec: "same stem in a mask/ sibling folder")
        for candidate in [
            *(path.parent.parent / "mask").glob(path.stem + ".*"),
            *(path.parent / "mask").glob(path.stem + ".*"),
            *path.parent.glob(path.stem + "_mask.*"),
        ]:
            if candidate.suffix.lower() in IMAGE_EXTS and candidate != path:
                mask = candidate
                break
    elif mask.is_dir():
        found = [p for p in data_files(mask) if p.stem == path.stem]
        if not found:
            raise DataError(f"{mask}: no mask named {path.stem}.* for {path.name}.")
        mask = found[0]
    return DataSource("image", path, [path], _not_the_frames([path], [mask] if mask is not None else None))


def video_mask_folder(video: Path, alone: bool = True) -> Path | None:
    """THE rule for the mask folder beside a video, for `osmis train VIDEO` and a batch's folder of videos alike:
    the first of `<stem>_mask/`, `mask/<stem>/` and (for a video `alone`: not one of a batch's several) `mask/`
    that holds mask images, else None. One rule: a video whose batch trained it with `clip_mask/` was trained
    without masks by `osmis train clip.mp4`, silently, and one with `mask/clip/` refused."""
    candidates = [video.parent / f"{video.stem}_mask", video.parent / "mask" / video.stem]
    if alone:
        candidates.append(video.parent / "mask")
    return next((c for c in candidates if c.is_dir() and data_files(c)), None)


def _frame_order(path: Path) -> list:
    """Sort key of a video's mask files: numbers in the name compare as numbers, so masks numbered without
    leading zeros (0.png ... 10.png, frame_2.png) are in frame order, where plain name order would pair frame 2
    with 10.png. re.split puts the numbers at the odd places (int() reads every digit \\d matches; a character
    such as '²', a digit to str.isdigit but not to \\d, stays text)."""
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", path.name))]


def _not_the_frames(frames: list[Path], masks: list[Path] | None) -> list[Path] | None:
    """masks, refused (DataError) where one is the file of its frame: a mask given as the image itself (`--mask
    photo.png` for photo.png, the frames folder as its own mask folder) would train on the photo's colours as
    classes."""
    for frame, mask in zip(frames, masks or ()):
        if mask.exists() and mask.samefile(frame):  # a link to nothing is named when it is opened
            raise DataError(f"{mask}: the mask is the image {frame.name} itself; give its mask (or no mask).")
    return masks


def open_image(path: Path) -> Image.Image:
    """Fully decoded RGB image, EXIF orientation applied; RGBA/grey/16-bit/CMYK converted (see to_rgb)."""
    return to_rgb(open_checked(path, "image"), str(path))


def to_rgb(im: Image.Image, name: str = "the image") -> Image.Image:
    """RGB version of any image. 16-bit and 32-bit integer images all map 0..65535 to 0..255 (one mapping, whatever
    values a file happens to use), with a warning when the brightest value uses under 1/8 of that range."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode.startswith("I"):
        a = np.asarray(im).astype(np.float64)
        top = float(a.max(initial=0))
        if top < 65535 * _LOW_RANGE_SHARE:
            bits = max(1, math.ceil(math.log2(top + 1)))
            warnings.warn(
                f"{name}: a 16-bit image whose brightest value is {top:.0f} of 65535 (about {bits} bits): "
                f"read on the 16-bit scale it is dark; if it was meant as {bits}-bit data, scale it to "
                f"16 bits (or save it as 8-bit) first",
                stacklevel=2,
            )
        return Image.fromarray(np.clip(a / 65535.0 * 255 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    return im.convert("RGB")


def open_mask(path: Path) -> Image.Image:
    return open_checked(path, "mask")


def _read_video(path: Path, max_frames: int) -> tuple[list[tuple[int, Image.Image]], int, str | None, int]:
    """(index, RGB frame) pairs of at most 2 * max_frames evenly spaced frames, the number of frames decoded, why
    decoding stopped before the end (None when it reached it), and the number of frames the file declares (0 where
    it does not: only a file's index, an MP4's say, counts them; an edit list may hide some of them).

    Memory stays bounded whatever the video's length: once 2 * max_frames frames are held, every other one is
    dropped and only every 2nd (then 4th, ...) later frame is kept. Frames are widened to the shape of their pixels
    and turned upright as the video's rotation (its display matrix, as phones record portrait video) says they are
    shown, as EXIF orientation is applied to images: masks drawn over the shown frames then fit them.
    """
    import av

    kept: list[tuple[int, Image.Image]] = []
    count, stride, stopped, shown_until, declared_frames = 0, 1, None, 0.0, 0
    first_shown: float | None = None  # the first frame's time: a clip may start at 100 s (cut from a recording)
    try:
        with av.open(str(path)) as container:
            # a cover picture (an album's art in a music file) is a video stream of one frame to FFmpeg, not a video
            streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
            if not streams:
                cover = " (only a cover picture)" if container.streams.video else ""
                raise DataError(f"{path}: the file holds no video stream{cover}.")
            stream = streams[0]
            declared_frames = stream.frames or 0
            check_pixel_count(path, *_declared_frame_size(path, stream), "video frame")
            interval = 1 / float(stream.average_rate) if stream.average_rate else 0.0
            pixel_aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
            for frame in _decoded(container, stream):  # checked at its shown size, which a pixel shape may widen
                check_pixel_count(path, round(frame.width * (pixel_aspect or 1)), frame.height, "video frame")
                index, count = count, count + 1
                if frame.time is not None:  # a frame is shown for its own duration (a GIF's vary), else 1 / rate
                    shown = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else interval
                    shown_until = max(shown_until, frame.time + shown)
                    first_shown = frame.time if first_shown is None else min(first_shown, frame.time)
                if index % stride:
                    continue
                kept.append((index, _upright(_widened(_frame_rgb(frame, path), pixel_aspect), frame.rotation)))
                if len(kept) >= 2 * max_frames:
                    kept, stride = kept[::2], stride * 2
            declared = _declared_duration(container, stream)
            start = first_shown or 0.0
            if kept and declared and declared > start and shown_until - start < _TRUNCATED_SHARE * (declared - start):
                # a cut Matroska file decodes to its end without an error: only its declared length tells. Measured
                # from the first frame: a Matroska length is where its frames end, 104 s for 4 s starting at 100 s
                stopped = f"its frames end at {shown_until:.2f} s of the {declared:.2f} s it declares ({count} frames)"
                warnings.warn(f"{path}: {stopped}: it is probably truncated; using those", stacklevel=2)
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, MemoryError) as exc:
        if not kept:
            raise DataError(f"{path}: the video is corrupt or cannot be decoded ({exc}).") from None
        stopped = f"decoding stopped after {count} frames ({exc})"
        warnings.warn(f"{path}: {stopped}; using those", stacklevel=2)
    if not kept:
        raise DataError(f"{path}: the video holds no decodable frames.")
    return kept, count, stopped, declared_frames


# FFmpeg's own VP8/VP9 decoders drop the alpha a WebM carries beside the picture (its "alpha_mode" tag); libvpx reads it
_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}


def _decoded(container, stream):
    """The frames of a video `stream`, decoded: a VP8/VP9 WebM with an alpha channel (what a browser or an editor
    exports for a clip over transparency) by libvpx, so that _frame_rgb composites it on white as it does every
    video with alpha, where FFmpeg's own decoder gave the black hidden under the transparent pixels."""
    import av

    decoder = _ALPHA_DECODERS.get(stream.codec_context.name)
    if decoder is None or (stream.metadata or {}).get("alpha_mode") != "1" or decoder not in av.codecs_available:
        yield from container.decode(stream)
        return
    context = av.CodecContext.create(decoder, "r")
    for packet in container.demux(stream):  # its last packet is empty: the decoder gives the frames it still holds
        yield from context.decode(packet)


def _frame_rgb(frame, path: Path) -> Image.Image:
    """A decoded video frame as RGB, a frame with an alpha channel (PNG or QuickTime Animation in a .mov, FFV1's
    bgra: a motion-graphics export) composited on white as an RGBA image is (to_rgb): VideoFrame.to_image() drops
    the alpha, and the colour hidden under transparent pixels (black, mostly) would be trained as the background."""
    if len(frame.format.components) in (2, 4):  # grey + alpha, or colour + alpha
        return to_rgb(Image.fromarray(frame.to_ndarray(format="rgba"), "RGBA"), str(path))
    return frame.to_image().convert("RGB")


# decoded frames that cover less than this share of a video's declared length: the file was cut short
_TRUNCATED_SHARE = 0.9


def _declared_duration(container, stream) -> float | None:
    """The length in seconds a video declares for its frames: the video stream's own (a Matroska file gives it as
    the stream's DURATION tag, HH:MM:SS.nnnnnnnnn), else the container's when the file holds no other stream (an
    audio track may run longer than the picture), else None."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", (stream.metadata or {}).get("DURATION", "").strip())
    if tag:
        return int(tag[1]) * 3600 + int(tag[2]) * 60 + float(tag[3])
    if container.duration and len(container.streams) == 1:
        return container.duration / 1_000_000  # in av.time_base units
    return None


def _widened(im: Image.Image, pixel_aspect) -> Image.Image:
    """A decoded frame at the shape it is shown: a video of pixels that are not square (its sample aspect ratio:
    anamorphic HDV's 1440x1080 is shown 1920x1080, a DVD's 720x576 at 16:9) is scaled to its shown width, as a
    player does, so that it trains undistorted and masks drawn over the shown frames fit them."""
    if not pixel_aspect or pixel_aspect == 1:
        return im
    return im.resize((max(1, round(im.width * pixel_aspect)), im.height), Image.BICUBIC)


_UPRIGHT = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def _upright(im: Image.Image, rotation: float) -> Image.Image:
    """A decoded frame as it is shown: `rotation` is the counterclockwise turn of the video's display matrix in
    degrees (PyAV's VideoFrame.rotation), rounded to a quarter turn."""
    turn = round((rotation or 0) / 90) * 90 % 360
    return im.transpose(_UPRIGHT[turn]) if turn else im


def _declared_frame_size(path: Path, stream) -> tuple[int, int]:
    """(W, H) a video's frames declare before any is decoded: the stream's, or a GIF's logical screen (which the
    GIF demuxer leaves at 0 x 0 until a frame is decoded at that size)."""
    w, h = stream.codec_context.width or 0, stream.codec_context.height or 0
    if not (w and h):
        with open(path, "rb") as f:
            head = f.read(10)
        if head[:4] == b"GIF8" and len(head) == 10:
            w, h = int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    return w, h


def pick_evenly(count: int, k: int) -> list[int]:
    """Indices of at most k of `count` items, evenly spaced, first and last included (all when count <= k)."""
    if count <= k:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, k).round().astype(int)]


def pair_masks(source: DataSource, total: int, indices: list[int]) -> list[Path] | None:
    """THE frame-mask rule, used by training, evaluation and the app: mask i belongs to frame i of the source
    (a folder's masks are matched to its frames by file stem in `find_source`, a video's are in file-name order,
    numbers compared as numbers), and the frames chosen by `max_frames` take the masks at the same indices.

    total: number of frames in the source; indices: the chosen frames. Returns one mask path per chosen frame, or
    None when the data has no mask. Raises DataError when the masks do not number one per frame.
    """
    if not source.masks:
        return None
    if len(source.masks) != total:
        where = source.masks[0].parent if source.kind == "video" else source.path
        frames = "video frames" if source.kind == "video" else "frames"
        raise DataError(f"{where}: {len(source.masks)} masks for {total} {frames}; give exactly one mask per frame.")
    return [source.masks[i] for i in indices]


@dataclass
class FrameSet:
    """The frames chosen from a source (decoded RGB, in order) and the mask file that belongs to each."""

    frames: list[Image.Image]
    masks: list[Path] | None  # one per frame, or None without masks
    indices: list[int]  # index of each chosen frame among the source's `total` frames
    total: int


def load_frame_set(source: DataSource, max_frames: int, use_masks: bool = True) -> FrameSet:
    """Decode at most `max_frames` frames of the source, evenly spaced, with their masks (see `pair_masks`;
    use_masks=False: masks are neither checked nor returned)."""
    if source.kind == "video":
        kept, total, stopped, declared = _read_video(source.video, max_frames)  # at most 2 * max_frames held
        if use_masks and source.masks and len(source.masks) != total and (stopped or len(source.masks) == declared):
            # masks numbering the frames the file declares, more than it decodes: the video is short, not the masks
            # (a cut within the last tenth of its length decodes without a word)
            stopped = stopped or f"it decodes {total} of the {declared} frames it declares"
            raise DataError(
                f"{source.video}: {stopped}, so the {len(source.masks)} masks of {source.masks[0].parent} do not "
                f"pair with its frames; the video is corrupt or truncated: repair or re-export it."
            )
        chosen = [kept[i] for i in pick_evenly(len(kept), max_frames)]
        indices = [index for index, _ in chosen]
        frames = [frame for _, frame in chosen]
    else:
        total = len(source.frames)
        indices = pick_evenly(total, max_frames)
        frames = [open_image(source.frames[i]) for i in indices]
    return FrameSet(frames, pair_masks(source, total, indices) if use_masks else None, indices, total)


@dataclass
class TrainingData:
    """Frames and masks at the training resolution, on the training device.

    images: F x 3 x H x W in [-1, 1]; masks: F x K x H x W one-hot (or None); pyramid: n_d0 tensors, the real
    image at each scale seen by the discriminator (largest last), precomputed once.
    """

    images: torch.Tensor
    masks: torch.Tensor | None
    pyramid: list[torch.Tensor]
    architecture: Architecture
    source: DataSource
    original_size: tuple[int, int]  # (W, H) of the input, before fitting
    mask_report: MaskReport | None = None

    @property
    def num_frames(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int | None:
        return self.masks.shape[1] if self.masks is not None else None

    def batch(self, batch_size: int, gen: torch.Generator) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """A real batch: the image repeated B times, or B frames drawn at random from a video."""
        if self.num_frames == 1:
            pyr = [p.expand(batch_size, -1, -1, -1) for p in self.pyramid]
            return pyr, (self.masks.expand(batch_size, -1, -1, -1) if self.masks is not None else None)
        idx = torch.randint(self.num_frames, (batch_size,), generator=gen).to(self.images.device)
        return [p[idx] for p in self.pyramid], (self.masks[idx] if self.masks is not None else None)

    def describe(self) -> dict:
        a = self.architecture
        return {
            "source": self.source.to_dict(),
            "original_size": list(self.original_size),
            "num_frames": self.num_frames,
            "resolution": [a.height, a.width],
            "num_classes": self.num_classes,
            "mask": self.mask_report.to_dict() if self.mask_report else None,
        }


def frame_size(frames: list[Image.Image]) -> tuple[int, int]:
    """(W, H) used for the resolution: the frames' size, or a square of the mean side if sizes differ."""
    sizes = {im.size for im in frames}
    if len(sizes) == 1:
        return frames[0].size
    side = int(round(np.mean([(w + h) / 2 for w, h in (im.size for im in frames)])))
    return side, side


def load_training_data(
    path: str | Path,
    mask: str | Path | None = None,
    *,
    max_size: int = 330,
    use_masks: bool = True,
    max_classes: int = 32,
    background_colour: str | None = None,
    max_frames: int = 1000,
    num_blocks_g: int | None = None,
    num_blocks_d: int | None = None,
    num_blocks_d0: int | None = None,
    device: torch.device | str = "cpu",
    channels_last: bool = False,
    architecture_for=None,
) -> TrainingData:
    """Decode, check and resize the training data once; return tensors on `device`.

    architecture_for: (W, H) of the frames -> the model's architecture (its height and width are the training
    size, num_blocks_d0 the number of pyramid scales); default: OSMIS's recommend().
    """
    source = find_source(path, mask)
    frame_set = load_frame_set(source, max_frames, use_masks)
    frames = frame_set.frames
    width, height = frame_size(frames)
    subject = (
        "the video's frames are" if source.kind == "video" else "the frames are" if len(frames) > 1 else "the image is"
    )
    if min(width, height) < MIN_SIDE:
        raise DataError(f"{source.path}: {subject} {width}x{height}; at least {MIN_SIDE} pixels per side are needed.")
    try:
        arch = (
            architecture_for(width, height)
            if architecture_for is not None
            else recommend(width, height, max_size, num_blocks_g, num_blocks_d, num_blocks_d0)
        )
    except ConfigError as exc:
        if architecture_for is not None:  # the renderer's own sizes say what is wrong (_too_small searches OSMIS's)
            raise ConfigError(f"{source.path}: {exc}") from None
        raise _too_small(
            source.path, subject, width, height, max_size, (num_blocks_g, num_blocks_d, num_blocks_d0), exc
        ) from None
    H, W = arch.height, arch.width
    images = np.stack([np.asarray(im.resize((W, H), Image.BICUBIC, reducing_gap=None)) for im in frames])
    img_t = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).clamp_(-1, 1)

    masks_t, report = None, None
    if frame_set.masks:
        mask_paths = frame_set.masks
        mask_images = open_frame_masks(frame_set)
        ids, report = decode_masks(mask_images, [str(p) for p in mask_paths], max_classes, background_colour)
        k = report.num_classes
        resized = np.stack(
            [np.asarray(Image.fromarray(a.astype(np.int32), "I").resize((W, H), Image.NEAREST)) for a in ids]
        ).astype(np.int64)
        masks_t = F.one_hot(torch.from_numpy(resized), max(k, 1)).permute(0, 3, 1, 2).float()

    device = torch.device(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    img_t = img_t.to(device).contiguous(memory_format=fmt)
    pyramid = [img_t]
    for _ in range(arch.num_blocks_d0 - 1):
        pyramid.insert(0, F.interpolate(pyramid[0], scale_factor=0.5, mode="bilinear", align_corners=False))
    if masks_t is not None:
        masks_t = masks_t.to(device).contiguous(memory_format=fmt)
    return TrainingData(img_t, masks_t, pyramid, arch, source, (width, height), report)


def _too_small(
    path: Path, subject: str, width: int, height: int, max_size: int, blocks: tuple, error: ConfigError
) -> OsmisError:
    """The error for data too small for the model: the real minimum image side (images are never enlarged), or
    the smallest --max-size that works when the image was scaled down. subject: what the size is of, as the
    sentence names it ("the image is", "the video's frames are"): a video's user gave no image."""
    shorter, longer = min(width, height), max(width, height)
    for side in range(MIN_SIDE, 4097):  # the smallest shorter side, at this aspect ratio, that gives a model
        w, h = (side, math.ceil(side * height / width)) if width <= height else (math.ceil(side * width / height), side)
        try:
            recommend(w, h, max(w, h), *blocks)
        except ConfigError:
            continue
        if shorter < side:
            return DataError(
                f"{path}: {subject} {width}x{height}, too small for this model: the shorter side "
                f"must be at least {side} pixels (images are never enlarged)."
            )
        needed = max(w, h)
        if needed <= longer:
            what = subject.removesuffix(" is").removesuffix(" are")  # the image, the frames, the video's frames
            return ConfigError(
                f"{path}: max_size {max_size} is too small for {what} ({width}x{height}); use at "
                f"least {needed} (--max-size {needed})."
            )
        break
    return error


def open_frame_masks(frame_set: FrameSet) -> list[Image.Image]:
    """The masks of `frame_set`, opened, each checked against its frame: one of another aspect ratio is refused
    (DataError naming it), for training and for the evaluation that scores against the same pairs (`osmis evaluate
    --mask` took one and stretched it over its image)."""
    mask_images = [open_mask(p) for p in frame_set.masks]
    for mp, mi, fr in zip(frame_set.masks, mask_images, frame_set.frames):
        _check_aspect(mp, mi.size, fr.size)
    return mask_images


def same_aspect(size: tuple[int, int], other: tuple[int, int]) -> bool:
    """THE rule for a picture of (W, H) `size` having the aspect ratio of one of `other`: within 2 % and a pixel's
    rounding. A mask of another is refused for its image (training, evaluation), a layout of another is rendered
    at its own size, real data of another is refused for a gallery's scores."""
    (w, h), (ow, oh) = size, other
    return abs(w / h - ow / oh) <= 0.02 * (ow / oh) + 1.0 / min(h, oh)


def _check_aspect(mask_path: Path, mask_size: tuple[int, int], image_size: tuple[int, int]) -> None:
    (mw, mh), (iw, ih) = mask_size, image_size
    if not same_aspect(mask_size, image_size):
        raise DataError(f"{mask_path}: the mask is {mw}x{mh} but its image is {iw}x{ih} (different aspect ratio).")
