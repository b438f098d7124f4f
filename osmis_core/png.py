"""A small, fast PNG encoder for the gallery's 8-bit RGB pictures and palette masks.

PIL tries all five PNG row filters on every row and keeps the best; that search is most of its encoding time. Here
every RGB row uses the Sub filter (each byte minus the same channel of the pixel on its left), computed for the
whole image in one numpy pass, and palette rows use no filter; zlib then runs at level 1 with its run-length strategy
(Z_RLE), which turns flat regions (zero differences, repeated class ids) into short runs. On case-b pictures this
is ~2.2x faster than PIL at its fastest setting, for files of about the same size. numpy and zlib release the GIL,
so several files encode in parallel threads.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE_RGB, _COLOUR_TYPE_PALETTE = 2, 3
_FILTER_NONE, _FILTER_SUB = 0, 1


def encode_png(pixels: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """The bytes of a PNG file.

    pixels: H x W x 3 uint8 (RGB), or H x W uint8 palette indices with palette (N x 3 uint8, N <= 256).
    """
    shape_ok = pixels.ndim == 2 if palette is not None else (pixels.ndim == 3 and pixels.shape[2] == 3)
    if pixels.dtype != np.uint8 or not shape_ok or 0 in pixels.shape[:2]:
        raise ValueError(f"expected H x W x 3 uint8 or H x W uint8 with a palette, got {pixels.dtype} {pixels.shape}")
    h, w = pixels.shape[:2]
    rows = np.empty((h, 1 + pixels[0].size), np.uint8)  # each row: filter type byte, then the filtered bytes
    if palette is None:
        flat = pixels.reshape(h, w * 3)
        rows[:, 0] = _FILTER_SUB
        rows[:, 1:4] = flat[:, :3]
        np.subtract(flat[:, 3:], flat[:, :-3], out=rows[:, 4:])  # uint8 wrap-around: modulo 256, as PNG defines
        header = struct.pack(">IIBBBBB", w, h, 8, _COLOUR_TYPE_RGB, 0, 0, 0)
        chunks = [(b"IHDR", header)]
    else:
        if not 1 <= len(palette) <= 256:
            raise ValueError(f"a PNG palette holds 1 to 256 colours, got {len(palette)}")
        rows[:, 0] = _FILTER_NONE
        rows[:, 1:] = pixels
        header = struct.pack(">IIBBBBB", w, h, 8, _COLOUR_TYPE_PALETTE, 0, 0, 0)
        chunks = [(b"IHDR", header), (b"PLTE", np.ascontiguousarray(palette, dtype=np.uint8).tobytes())]
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    chunks += [(b"IDAT", deflate.compress(rows) + deflate.flush()), (b"IEND", b"")]
    return _SIGNATURE + b"".join(_chunk(tag, data) for tag, data in chunks)


def _chunk(tag: bytes, data: bytes) -> bytes:
    """length, type, data, CRC-32 of type + data."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))
