"""A video cut short that decodes to its end without an error (a Matroska file cut in half: its frames simply stop)
is told by its declared length: a warning naming the file and how much of it the frames cover, and with one mask
per frame of the whole clip, the video is named instead of its masks (breaker 16's open finding). A whole video, and
a GIF whose last frame is shown longer than the others, get no warning."""

from __future__ import annotations

import av
import numpy as np
from helpers import tiny_flags, video_read_warnings
from PIL import Image

from osmis_core.cli import main


def _mkv(path, n=40):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        for i in range(n):
            a = np.zeros((64, 128, 3), np.uint8)
            a[:, : 32 + i] = (200, 40, 40)
            a[32:] = (40, 160, 40)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")))
        container.mux(stream.encode())
    return path


def _cut(path):
    data = path.read_bytes()
    cut = path.with_name("cut" + path.suffix)
    cut.write_bytes(data[: len(data) // 2])
    return cut


def test_a_matroska_file_cut_in_half_is_said_to_be_truncated(tmp_path):
    whole = _mkv(tmp_path / "clip.mkv")
    assert video_read_warnings(whole) == (40, None, [])
    cut = _cut(whole)
    count, stopped, said = video_read_warnings(cut)
    assert 0 < count < 40
    assert said == [f"{cut}: {stopped}: it is probably truncated; using those"]
    assert stopped.startswith("its frames end at ") and "of the 4.00 s it declares" in stopped


def test_a_gif_with_a_long_last_frame_is_whole(tmp_path):
    frames = [Image.new("RGB", (128, 64), (i * 80, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=[100, 100, 2000], loop=0)
    assert video_read_warnings(tmp_path / "a.gif") == (3, None, [])


def test_masks_of_the_whole_clip_name_the_cut_video(tmp_path, capsys):
    cut = _cut(_mkv(tmp_path / "clip.mkv"))
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(40):
        ids = np.zeros((64, 128), np.uint8)
        ids[32:] = 1
        Image.fromarray(ids).save(masks / f"{i:05d}.png")
    run = tmp_path / "run"
    assert main(["train", str(cut), "--mask", str(masks), "--out", str(run), "--quiet", *tiny_flags(iters=2)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: {cut}: its frames end at ") and "the 40 masks of" in err
    assert "corrupt or truncated" in err
    assert not run.exists()
