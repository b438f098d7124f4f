"""Training data: find the inputs, decode once, resize once, keep as tensors on the training device."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError
from ..models.architecture import Architecture, recommend
from .masks import MaskReport, decode_masks

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".mov", ".avi", ".webm", ".gif", ".mkv", ".m4v"}
MIN_SIDE = 16

# Decompression bombs are refused by PIL; truncated files must fail, not load half.
Image.MAX_IMAGE_PIXELS = 20000 * 20000


@dataclass
class DataSource:
    """Where the frames and masks of one training set are."""
    kind: str                               # image | folder | video
    path: Path
    frames: list[Path] = field(default_factory=list)   # image files (kind image/folder)
    masks: list[Path] | None = None                     # one per frame, same order
    video: Path | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "path": str(self.path), "num_frames": len(self.frames) or None,
                "masks": [str(p) for p in self.masks] if self.masks else None,
                "video": str(self.video) if self.video else None}


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def _masks_for(frames: list[Path], mask_dir: Path) -> list[Path]:
    by_stem = {p.stem: p for p in _list_images(mask_dir)}
    missing = [f.name for f in frames if f.stem not in by_stem]
    if missing:
        if len(by_stem) == len(frames) and not set(by_stem) & {f.stem for f in frames}:
            return [by_stem[s] for s in sorted(by_stem)]  # different names, same count: match by order
        raise DataError(f"{mask_dir}: no mask for frame {missing[0]} (masks must have the same file stems as the "
                        f"frames).")
    return [by_stem[f.stem] for f in frames]


def find_source(path: str | Path, mask: str | Path | None = None) -> DataSource:
    """Resolve DATA (image file, research-layout folder, frames folder or video file) and its masks."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder.")
    mask = Path(mask) if mask is not None else None
    if mask is not None and not mask.exists():
        raise DataError(f"{mask}: mask file or folder not found.")
    if path.is_dir():
        image_dir = path / "image" if (path / "image").is_dir() else path
        frames = _list_images(image_dir)
        videos = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in VIDEO_EXTS) if not frames else []
        if not frames and videos:
            return find_source(videos[0], mask if mask is not None else (path / "mask" if (path / "mask").is_dir()
                                                                         else None))
        if not frames:
            raise DataError(f"{image_dir}: the folder holds no images (expected .png/.jpg files or an image/ "
                            f"subfolder).")
        mask_dir = mask if mask is not None else (path / "mask" if (path / "mask").is_dir() else None)
        masks = None
        if mask_dir is not None:
            masks = [mask_dir] if mask_dir.is_file() and len(frames) == 1 else _masks_for(frames, mask_dir)
        return DataSource("folder", path, frames, masks)
    ext = path.suffix.lower()
    if ext in VIDEO_EXTS:
        masks = None
        if mask is None and (path.parent / "mask").is_dir():
            mask = path.parent / "mask"
        if mask is not None:
            if not mask.is_dir():
                raise DataError(f"{mask}: the mask of a video must be a folder of per-frame mask images.")
            masks = _list_images(mask)
            if not masks:
                raise DataError(f"{mask}: the mask folder holds no images.")
        return DataSource("video", path, [], masks, video=path)
    if ext not in IMAGE_EXTS:
        raise DataError(f"{path}: not a supported image or video file (image: {', '.join(sorted(IMAGE_EXTS))}; "
                        f"video: {', '.join(sorted(VIDEO_EXTS))}).")
    if mask is None:
        for candidate in [*(path.parent.parent / "mask").glob(path.stem + ".*"),
                          *path.parent.glob(path.stem + "_mask.*")]:
            if candidate.suffix.lower() in IMAGE_EXTS and candidate != path:
                mask = candidate
                break
    elif mask.is_dir():
        found = [p for p in _list_images(mask) if p.stem == path.stem]
        if not found:
            raise DataError(f"{mask}: no mask named {path.stem}.* for {path.name}.")
        mask = found[0]
    return DataSource("image", path, [path], [mask] if mask is not None else None)


def open_image(path: Path) -> Image.Image:
    """Fully decoded RGB image, EXIF orientation applied; RGBA/grey/16-bit/CMYK converted."""
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file (or a format that cannot be read).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: the image is corrupt or truncated ({exc}).") from None
    return to_rgb(im)


def to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im).astype(np.float64)
        scale = 65535.0 if a.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(a / scale * 255 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    return im.convert("RGB")


def open_mask(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im)
    except UnidentifiedImageError:
        raise DataError(f"{path}: the mask is not an image file that can be read.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: the mask is corrupt or truncated ({exc}).") from None


def _read_video(path: Path) -> list[Image.Image]:
    """Every decodable frame of the video, in order (a decoding error after the first frames keeps those)."""
    import av
    frames: list[Image.Image] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: the file holds no video stream.")
            for frame in container.decode(video=0):
                frames.append(frame.to_image().convert("RGB"))
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        if not frames:
            raise DataError(f"{path}: the video is corrupt or cannot be decoded ({exc}).") from None
        warnings.warn(f"{path}: decoding stopped after {len(frames)} frames ({exc}); using those", stacklevel=2)
    if not frames:
        raise DataError(f"{path}: the video holds no decodable frames.")
    return frames


def pick_evenly(count: int, k: int) -> list[int]:
    """Indices of at most k of `count` items, evenly spaced, first and last included (all when count <= k)."""
    if count <= k:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, k).round().astype(int)]


def pair_masks(source: DataSource, total: int, indices: list[int]) -> list[Path] | None:
    """THE frame-mask rule, used by training, evaluation and the app: mask i belongs to frame i of the source
    (a folder's masks are matched to its frames by file stem in `find_source`, a video's are in file-name order),
    and the frames chosen by `max_frames` take the masks at the same indices.

    total: number of frames in the source; indices: the chosen frames. Returns one mask path per chosen frame, or
    None when the data has no mask. Raises DataError when the masks do not number one per frame.
    """
    if not source.masks:
        return None
    if len(source.masks) != total:
        where = source.masks[0].parent if source.kind == "video" else source.path
        raise DataError(f"{where}: {len(source.masks)} masks for {total} frames; give exactly one mask per frame.")
    return [source.masks[i] for i in indices]


@dataclass
class FrameSet:
    """The frames chosen from a source (decoded RGB, in order) and the mask file that belongs to each."""
    frames: list[Image.Image]
    masks: list[Path] | None        # one per frame, or None without masks
    indices: list[int]              # index of each chosen frame among the source's `total` frames
    total: int


def load_frame_set(source: DataSource, max_frames: int, use_masks: bool = True) -> FrameSet:
    """Decode at most `max_frames` frames of the source, evenly spaced, with their masks (see `pair_masks`;
    use_masks=False: masks are neither checked nor returned)."""
    if source.kind == "video":
        decoded = _read_video(source.video)
        total = len(decoded)
        indices = pick_evenly(total, max_frames)
        frames = [decoded[i] for i in indices]
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
    original_size: tuple[int, int]          # (W, H) of the input, before fitting
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
        return {"source": self.source.to_dict(), "original_size": list(self.original_size),
                "num_frames": self.num_frames, "resolution": [a.height, a.width],
                "num_classes": self.num_classes,
                "mask": self.mask_report.to_dict() if self.mask_report else None}


def _frame_size(frames: list[Image.Image]) -> tuple[int, int]:
    """(W, H) used for the resolution: the frames' size, or a square of the mean side if sizes differ."""
    sizes = {im.size for im in frames}
    if len(sizes) == 1:
        return frames[0].size
    side = int(round(np.mean([(w + h) / 2 for w, h in (im.size for im in frames)])))
    return side, side


def load_training_data(path: str | Path, mask: str | Path | None = None, *, max_size: int = 330,
                       use_masks: bool = True, max_classes: int = 32, background_colour: str | None = None,
                       max_frames: int = 1000, num_blocks_g: int | None = None, num_blocks_d: int | None = None,
                       num_blocks_d0: int | None = None, device: torch.device | str = "cpu",
                       channels_last: bool = False) -> TrainingData:
    """Decode, check and resize the training data once; return tensors on `device`."""
    source = find_source(path, mask)
    frame_set = load_frame_set(source, max_frames, use_masks)
    frames = frame_set.frames
    width, height = _frame_size(frames)
    if min(width, height) < MIN_SIDE:
        raise DataError(f"{source.path}: the image is {width}x{height}; at least {MIN_SIDE} pixels per side are "
                        f"needed.")
    arch = recommend(width, height, max_size, num_blocks_g, num_blocks_d, num_blocks_d0)
    H, W = arch.height, arch.width
    images = np.stack([np.asarray(im.resize((W, H), Image.BICUBIC, reducing_gap=None)) for im in frames])
    img_t = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).clamp_(-1, 1)

    masks_t, report = None, None
    if frame_set.masks:
        mask_paths = frame_set.masks
        mask_images = [open_mask(p) for p in mask_paths]
        for mp, mi, fr in zip(mask_paths, mask_images, frames):
            _check_aspect(mp, mi.size, fr.size)
        ids, report = decode_masks(mask_images, [str(p) for p in mask_paths], max_classes, background_colour)
        k = report.num_classes
        resized = np.stack([np.asarray(Image.fromarray(a.astype(np.int32), "I").resize((W, H), Image.NEAREST))
                            for a in ids]).astype(np.int64)
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


def _check_aspect(mask_path: Path, mask_size: tuple[int, int], image_size: tuple[int, int]) -> None:
    (mw, mh), (iw, ih) = mask_size, image_size
    if abs(mw / mh - iw / ih) > 0.02 * (iw / ih) + 1.0 / min(mh, ih):
        raise DataError(f"{mask_path}: the mask is {mw}x{mh} but its image is {iw}x{ih} (different aspect ratio).")
