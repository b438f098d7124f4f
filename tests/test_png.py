"""The gallery's PNG encoder, decoded by PIL."""
import io
import zlib

import numpy as np
import pytest
from PIL import Image

from osmis_core.png import encode_png
from osmis_core.models.visual import palette


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (37, 53), (128, 256)])
def test_rgb_round_trip(shape):
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    pixels[: shape[0] // 2] = pixels[0, 0]  # a flat half: runs of zero differences
    image = decode(encode_png(pixels))
    assert image.mode == "RGB" and image.size == (shape[1], shape[0])
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_palette_round_trip_keeps_class_ids_and_colours():
    ids = np.zeros((40, 60), np.uint8)
    ids[10:30, 5:50] = 1
    ids[20:, 40:] = 2
    image = decode(encode_png(ids, palette()))
    assert image.mode == "P"
    np.testing.assert_array_equal(np.asarray(image), ids)  # the pixels are the class ids
    np.testing.assert_array_equal(np.array(image.getpalette()).reshape(-1, 3)[:3], palette()[:3])


def test_every_chunk_crc_is_valid_and_flat_pictures_are_small():
    data = encode_png(np.full((128, 256, 3), 77, np.uint8))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, tags = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert int.from_bytes(data[pos + 8 + length:pos + 12 + length], "big") == zlib.crc32(tag + body)
        tags.append(tag)
        pos += 12 + length
    assert tags == [b"IHDR", b"IDAT", b"IEND"]
    assert len(data) < 2000  # 96 kB of one colour: runs, not bytes


@pytest.mark.parametrize("pixels, colours", [
    (np.zeros((4, 4, 3), np.float32), None),  # not uint8
    (np.zeros((4, 4, 4), np.uint8), None),  # RGBA
    (np.zeros((0, 4, 3), np.uint8), None),  # empty
    (np.zeros((4, 4), np.uint8), None),  # ids without a palette
    (np.zeros((4, 4), np.uint8), np.zeros((300, 3), np.uint8)),  # too many colours
])
def test_bad_pictures_are_refused(pixels, colours):
    with pytest.raises(ValueError):
        encode_png(pixels, colours)
