"""osmis animate: a latent walk through noise space written as a video with PyAV."""

import json

import av
import numpy as np
import pytest
import torch
from helpers import tiny_flags

from osmis_core.application.animate import slerp, walk_noise
from osmis_core.cli import main


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from helpers import save_palette_mask, scene_arrays
    from PIL import Image

    root = tmp_path_factory.mktemp("anim")
    img, ids = scene_arrays()
    (root / "scene" / "image").mkdir(parents=True)
    (root / "scene" / "mask").mkdir()
    Image.fromarray(img).save(root / "scene" / "image" / "00000.png")
    save_palette_mask(ids, root / "scene" / "mask" / "00000.png")
    run = root / "run"
    assert main(["train", str(root / "scene"), "--out", str(run), "--iters", "2", "--quiet", *tiny_flags()]) == 0
    return run


def _decode(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_animate_writes_a_video_with_every_frame(tiny_run, tmp_path):
    out = tmp_path / "walk.mp4"
    assert main(["animate", str(tiny_run), "--out", str(out), "--frames", "13", "--fps", "12", "--device", "cpu"]) == 0
    frames = _decode(out)
    assert len(frames) == 13
    a = json.loads((tiny_run / "run.json").read_text())["architecture"]
    assert frames[0].shape == (a["height"], 2 * a["width"], 3)  # image | mask overlay at the run's resolution
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == 12


def test_loop_ends_next_to_its_start_and_the_path_is_smooth():
    open_path = walk_noise(8, 60, seed=3, loop=False)
    loop = walk_noise(8, 60, seed=3, loop=True)
    step = (loop[1:] - loop[:-1]).norm(dim=1)
    assert float((loop[-1] - loop[0]).norm()) < 2 * float(step.max())  # one step away from the start
    assert float((open_path[-1] - open_path[0]).norm()) > 5 * float(step.max())  # an open walk ends elsewhere
    assert float(step.max()) < 3 * float(step.median())  # no jumps between frames
    a, b = torch.randn(8), torch.randn(8)
    mid = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(mid[0], a, atol=1e-5) and torch.allclose(mid[2], b, atol=1e-5)


def test_loop_video(tiny_run, tmp_path):
    out = tmp_path / "loop.mp4"
    assert (
        main(
            ["animate", str(tiny_run), "--out", str(out), "--frames", "10", "--loop", "--seed", "1", "--device", "cpu"]
        )
        == 0
    )
    frames = np.stack(_decode(out)).astype(float)
    assert len(frames) == 10
    assert np.abs(frames[-1] - frames[0]).mean() <= np.abs(frames[len(frames) // 2] - frames[0]).mean()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frames", "1"], "--frames must be between 2 and"),
        (["--fps", "0"], "--fps must be between"),
        (["--fps", "241"], "--fps must be between 1 and 240"),
        (["--seed", "-1"], "--seed must be between 0 and"),
        (["--out-suffix"], "written as .mp4"),
    ],
)
def test_bad_numbers_are_one_sentence(tiny_run, tmp_path, capsys, args, message):
    out = tmp_path / ("walk.gif" if args == ["--out-suffix"] else "walk.mp4")
    args = [] if args == ["--out-suffix"] else args
    assert main(["animate", str(tiny_run), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err and not out.exists()
