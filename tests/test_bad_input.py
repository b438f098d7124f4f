"""Every bad input ends in one clear sentence naming the file and the problem, exit code 2, nothing damaged."""

import errno
import io
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from helpers import save_palette_mask, scene_arrays, tiny_flags
from PIL import Image

from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main


def _err(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    return err


def _inspect(capsys, path, *extra):
    return _err(capsys, ["inspect", str(path), *extra])


def test_missing_path(capsys, tmp_path):
    assert "no such file" in _inspect(capsys, tmp_path / "nope.png")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", "{scene}", "--out", "", "--iters", "1"], "--out"),
        (["train", "{scene}", "--out", " ", "--iters", "1"], "--out"),
        (["run", "", "--iters", "1"], "DATA"),
        (["animate", "{tmp}", "--out", ""], "--out"),
        (["generate", "{tmp}", "--out", ""], "--out"),
        (["train", "{scene}", "--config", "", "--iters", "1"], "--config"),
        (["export", "", "--select", "0", "--out", "{tmp}/e"], "GALLERY"),
    ],
)
def test_an_empty_path_is_refused_naming_the_argument(capsys, scene, tmp_path, monkeypatch, argv, named):
    """An empty file or folder argument names none: `osmis run DATA --out ""` trained into runs/<data name>, and
    `animate --out ""` spoke of a file named ''. Refused before anything is read or written."""
    monkeypatch.chdir(tmp_path)
    argv = [a.format(scene=scene, tmp=tmp_path) for a in argv]
    before = sorted(tmp_path.rglob("*"))
    assert _err(capsys, argv) == f"error: {named} is empty: give a file or folder.\n"
    assert sorted(tmp_path.rglob("*")) == before


def test_not_an_image(capsys, tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello")
    err = _inspect(capsys, p)
    assert "notes.png" in err and "not an image" in err
    p = tmp_path / "data.txt"
    p.write_text("x")
    assert "not a supported image or video" in _inspect(capsys, p)


def test_truncated_image(capsys, tmp_path):
    img, _ = scene_arrays()
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG")
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    err = _inspect(capsys, p)
    assert "cut.jpg" in err and "corrupt or truncated" in err


def test_mask_of_other_aspect(capsys, tmp_path):
    img, ids = scene_arrays()
    Image.fromarray(img).save(tmp_path / "a.png")
    save_palette_mask(ids[:, :40], tmp_path / "m.png")
    err = _inspect(capsys, tmp_path / "a.png", "--mask", str(tmp_path / "m.png"))
    assert "m.png" in err and "aspect" in err


def test_mask_too_many_classes_and_unreadable(capsys, tmp_path):
    img, _ = scene_arrays()
    Image.fromarray(img).save(tmp_path / "a.png")
    many = (np.arange(64 * 128) % 50).reshape(64, 128).astype(np.uint8)
    im = Image.fromarray(many, "P")
    im.putpalette([(i * 37) % 256 for i in range(768)])
    im.save(tmp_path / "many.png")
    err = _inspect(capsys, tmp_path / "a.png", "--mask", str(tmp_path / "many.png"))
    assert "many.png" in err and "at most 32" in err
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    err = _inspect(capsys, tmp_path / "a.png", "--mask", str(tmp_path / "bad.png"))
    assert "bad.png" in err and "mask" in err


@pytest.mark.parametrize("kind", ["RGBA", "I;16", "L", "CMYK", "EXIF"])
def test_unusual_images_are_handled(capsys, tmp_path, kind):
    img, _ = scene_arrays()
    p = tmp_path / ("x.jpg" if kind in ("CMYK", "EXIF") else "x.png")
    if kind == "RGBA":
        Image.fromarray(np.dstack([img, np.full(img.shape[:2], 128, np.uint8)])).save(p)
    elif kind == "I;16":
        Image.fromarray(img[..., 0].astype(np.uint16) * 257).save(p)
    elif kind == "L":
        Image.fromarray(img[..., 0]).save(p)
    elif kind == "CMYK":
        Image.fromarray(img).convert("CMYK").save(p)
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotated 90 degrees: displayed portrait
        Image.fromarray(img).save(p, exif=exif)
    assert main(["inspect", str(p), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["original_size"] == ([64, 128] if kind == "EXIF" else [128, 64])


def test_empty_frame_folder(capsys, tmp_path):
    (tmp_path / "frames").mkdir()
    assert "holds no images" in _inspect(capsys, tmp_path / "frames")


def test_corrupt_video(capsys, tmp_path):
    p = tmp_path / "clip.mp4"
    p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    err = _inspect(capsys, p)
    assert "clip.mp4" in err and ("corrupt" in err or "no decodable" in err or "no video" in err)


def test_frames_of_different_sizes_use_mean_square(capsys, tmp_path):
    d = tmp_path / "frames"
    d.mkdir()
    img, _ = scene_arrays()
    Image.fromarray(img).save(d / "0.png")
    Image.fromarray(img).resize((96, 64)).save(d / "1.png")
    assert main(["inspect", str(d), "--json", "--max-size", "96"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["original_size"] == [88, 88] and report["resolution"][0] == report["resolution"][1]


def test_too_small_resolution(capsys, scene):
    err = _inspect(capsys, scene, "--max-size", "20")
    assert "too small" in err and "max-size" in err


def test_output_not_writable(capsys, scene, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    err = _err(capsys, ["train", str(scene), "--out", str(blocker / "run"), "--iters", "1", *tiny_flags()])
    assert "cannot be written" in err and "file" in err


def test_unknown_config_key(capsys, scene, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"lr_gg": 1}))
    err = _err(capsys, ["train", str(scene), "--config", str(cfg), "--iters", "1"])
    assert "c.json" in err and "lr_gg" in err and "lr_g" in err


def test_resume_with_another_config(capsys, trained):
    err = _err(capsys, ["train", str(trained), "--resume", "--iters", "6", "--ch-g", "8"])
    assert "another config" in err and "ch_g" in err
    assert RunFolder(trained).latest_step() == 4  # nothing touched


def test_damaged_checkpoint_falls_back_then_fails_clearly(capsys, trained):
    folder = RunFolder(trained)
    latest = folder.checkpoint_path(4)
    latest.write_bytes(latest.read_bytes()[:1000])  # damaged
    assert main(["train", str(trained), "--resume", "--iters", "5", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "previous good checkpoint step_0000002.pt" in err
    assert folder.latest_step() == 5
    for step in folder.checkpoint_steps():
        folder.checkpoint_path(step).write_bytes(b"junk")
    err = _err(capsys, ["train", str(trained), "--resume", "--iters", "6"])
    assert "damaged checkpoint" in err


def test_generate_from_missing_run(capsys, tmp_path):
    assert "no such run folder" in _err(capsys, ["generate", str(tmp_path / "x"), "--out", str(tmp_path / "g")])


def test_missing_training_data_on_resume(capsys, scene, tmp_path):
    run = tmp_path / "run"  # trained on this test's own data, which then goes
    assert main(["train", str(scene), "--out", str(run), "--iters", "4", "--quiet", *tiny_flags()]) == 0
    capsys.readouterr()
    shutil.rmtree(scene)
    assert "no such file" in _err(capsys, ["train", str(run), "--resume", "--iters", "6"])


class _FillingFile:
    """A real file on a disk that is full after `room` bytes: a write beyond that fails with ENOSPC."""

    def __init__(self, f, room: int):
        self._f, self._room = f, room

    def write(self, data) -> int:
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def test_full_disk_during_training_keeps_the_last_checkpoint(capsys, trained, monkeypatch):
    import osmis_core.files as files

    real_fdopen = os.fdopen
    # run.json and the `latest` pointer still fit; a checkpoint does not
    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: _FillingFile(real_fdopen(fd, mode), 8192))
    code = main(["train", str(trained), "--resume", "--iters", "6", "--checkpoint-every", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2  # a full disk is the user's to fix, like every other bad input
    line = next(s for s in err.splitlines() if s.startswith("error: "))
    assert "step_0000005.pt: cannot be written" in line and "No space left on device" in line
    assert "the last checkpoint step_0000004.pt is kept as latest" in line and "Traceback" not in err
    monkeypatch.undo()
    folder = RunFolder(trained)
    assert folder.latest_step() == 4
    assert folder.load_checkpoint("latest")["step"] == 4
    assert not list(folder.checkpoints.glob("*.tmp"))  # no half-written temp file left


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A real 1 MiB file system (tmpfs), where the machine allows mounting one."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if (
        shutil.which("mount") is None
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True
        ).returncode
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_full_disk_during_generation(capsys, trained, tiny_filesystem):
    out = tiny_filesystem / "gallery"
    err = _err(capsys, ["generate", str(trained), "--out", str(out), "--n", "400"])
    assert str(out) in err and "cannot be written (No space left on device)" in err
    for png in out.rglob("*.png"):  # every picture left behind is whole
        Image.open(png).load()
