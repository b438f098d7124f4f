"""Issue 12's kinds of fault, each example case with its right outcome: one sentence and exit 2 for what the user
must fix, a warning for what was assumed, nothing garbage, nothing lost."""

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import save_palette_mask, scene_arrays, tiny_flags
from PIL import Image

from osmis_core.application.runfolder import RunFolder
from osmis_core.cli import main
from osmis_core.config import OsmisConfig, build_config, config_warnings, load_config_file
from osmis_core.data.masks import decode_masks
from osmis_core.data.sources import to_rgb
from osmis_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _err(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [s for s in err.strip().splitlines() if s.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def png_declaring(path: Path, width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> Path:
    """A small PNG file whose header declares width x height pixels (its pixel data is a few bytes only)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )
    return path


# 1. non-finite numbers, wherever they come from -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ema_decay", "lr_g", "lr_d", "p_aug", "beta1", "lambda_dr"])
@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_option_in_a_config_file(tmp_path, name, text):
    path = tmp_path / "c.json"
    path.write_text(f'{{"{name}": {text}}}')  # the JSON module reads NaN / Infinity
    with pytest.raises(ConfigError, match=f"'{name}' must be a finite number"):
        build_config(config_file=path)
    with pytest.raises(ConfigError, match="finite"):  # the GUI form and the library go through replace()
        OsmisConfig().replace(**{name: float(text.replace("Infinity", "inf"))})


def test_non_finite_flags_exit_2(capsys, scene, tmp_path):
    for flag in ("--lr-g", "--ema-decay", "--p-aug"):
        for value in ("nan", "inf"):
            line = _err(capsys, ["train", str(scene), "--out", str(tmp_path / "r"), flag, value])
            assert "finite" in line
    assert not (tmp_path / "r").exists()


# 2. divergence: never a non-finite checkpoint; the advice works; absurd learning rates warned -------------------
def test_divergence_keeps_the_last_finite_checkpoint_and_the_advice_works(capsys, trained):
    folder = RunFolder(trained)
    code = main(
        [
            "train",
            str(trained),
            "--resume",
            "--iters",
            "12",
            "--lr-g",
            "1e30",
            "--lr-d",
            "1e30",
            "--checkpoint-every",
            "5",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "diverged" in err and "step_0000004.pt is kept as latest" in err and "--resume --lr-g" in err
    assert folder.checkpoint_steps()[-1] == 4 and folder.latest_step() == 4
    for step in folder.checkpoint_steps():  # every saved weight is finite
        state = torch.load(folder.checkpoint_path(step), weights_only=True)
        assert all(torch.isfinite(t).all() for t in state["generator_ema"].values() if t.is_floating_point())
    # the advice, as given, is accepted, and the change is recorded
    assert main(["train", str(trained), "--resume", "--iters", "6", "--lr-g", "1e-4", "--lr-d", "1e-4", "--quiet"]) == 0
    info = json.loads(folder.run_json.read_text())
    assert info["config"]["optimisation"]["lr_g"] == 1e-4
    assert {"step": 4, "option": "lr_g", "from": 2e-4, "to": 1e-4} in info["resume_changes"]
    assert "lr_g changed from 0.0002 to 0.0001" in folder.log_file.read_text()
    state = folder.load_checkpoint("latest")
    assert state["opt_g"]["param_groups"][0]["lr"] == 1e-4  # the optimiser runs with the new rate


def test_divergence_before_any_checkpoint_says_so(capsys, scene, tmp_path):
    run = tmp_path / "run"
    code = main(
        [
            "train",
            str(scene),
            "--out",
            str(run),
            "--iters",
            "12",
            "--quiet",
            *tiny_flags(lr_g="1e30", lr_d="1e30", checkpoint_every=5, preview_every=100),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "no checkpoint had been saved yet" in err and "is kept" not in err
    assert RunFolder(run).checkpoint_steps() == []
    assert "--out" in err  # how to start again in place


def test_absurd_learning_rates_warn():
    assert config_warnings(OsmisConfig()) == []
    warnings = config_warnings(OsmisConfig().replace(lr_g=1e10, lr_d=1e6))
    assert len(warnings) == 2 and "lr_g" in warnings[0] and "far above" in warnings[0]


# 3. 16-bit images: one mapping; a note for a small part of the range ----------------------------------------------
def test_sixteen_bit_mapping_is_one_for_all_files():
    a255 = np.full((8, 8), 255, np.uint16)
    a256 = np.full((8, 8), 256, np.uint16)
    with pytest.warns(UserWarning, match="brightest value is 255 of 65535"):
        v255 = np.asarray(to_rgb(Image.fromarray(a255)))[0, 0, 0]
    with pytest.warns(UserWarning):
        v256 = np.asarray(to_rgb(Image.fromarray(a256)))[0, 0, 0]
    assert v255 == v256 == 1  # same brightness, not opposite ends of the scale


def test_twelve_bit_grey_png_gets_a_note(tmp_path, capsys):
    img, _ = scene_arrays()
    twelve = img[..., 0].astype(np.uint16) * 16  # values use 12 bits
    Image.fromarray(twelve).save(tmp_path / "x.png")
    assert main(["inspect", str(tmp_path / "x.png")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "about 12 bits" in err
    full = img[..., 0].astype(np.uint16) * 257
    Image.fromarray(full).save(tmp_path / "y.png")
    assert main(["inspect", str(tmp_path / "y.png")]) == 0
    assert "16-bit" not in capsys.readouterr().err


# 4. masks come out with the classes a person sees ----------------------------------------------------------------
def test_grey_label_map_with_ids_times_25():
    yy, xx = np.mgrid[0:60, 0:200]
    label = (xx // 20).astype(np.uint8) * 25  # 0, 25, ..., 225
    ids, report = decode_masks([Image.fromarray(label)], ["m.png"], 32)
    assert report.num_classes == 10 and (ids[0] == xx // 20).all()
    assert any("grey label map" in n for n in report.notes)


@pytest.mark.parametrize("resample", [Image.BOX, Image.BILINEAR, Image.LANCZOS, Image.BICUBIC])
@pytest.mark.parametrize("size", [(100, 50), (77, 41), (400, 200)])
def test_antialiased_colour_mask_gives_three_classes(resample, size):
    _, true_ids = scene_arrays(256, 128)
    colours = np.array([[30, 30, 30], [220, 40, 40], [40, 200, 90]], np.uint8)
    im = Image.fromarray(colours[true_ids]).resize(size, resample)
    ids, report = decode_masks([im], ["m.png"], 32)
    assert report.num_classes == 3
    ref = np.asarray(Image.fromarray(true_ids).resize(size, Image.NEAREST))
    mapping = {k: np.bincount(ids[0][ref == k]).argmax() for k in range(3)}
    assert (np.vectorize(mapping.get)(ref) == ids[0]).mean() > 0.98
    if resample != Image.BOX:  # (box upsampling makes next to no edge colours) what was assumed, how to override
        assert any("anti-aliasing" in n and "indexed PNG" in n for n in report.notes)


def test_antialiased_grey_masks_keep_their_classes():
    _, true_ids = scene_arrays(256, 128)
    for source, classes in (((true_ids > 0) * 255, 2), (true_ids * 100, 3)):
        im = Image.fromarray(source.astype(np.uint8)).resize((150, 75), Image.LANCZOS)
        assert decode_masks([im], ["m.png"], 32)[1].num_classes == classes


# 5. video masks: exactly one per frame, in every command ----------------------------------------------------------
def _gif_with_masks(tmp_path, frames: int, masks: int) -> tuple[Path, Path]:
    img, ids = scene_arrays()
    pics = [Image.fromarray(np.roll(img, 3 * i, axis=1)).convert("P", palette=Image.ADAPTIVE) for i in range(frames)]
    clip = tmp_path / "clip.gif"
    pics[0].save(clip, save_all=True, append_images=pics[1:], duration=40, optimize=False)
    mask_dir = tmp_path / "mask"
    mask_dir.mkdir()
    for i in range(masks):
        save_palette_mask(ids, mask_dir / f"{i:05d}.png")
    return clip, mask_dir


@pytest.mark.parametrize("masks", [13, 7])
def test_video_mask_count_mismatch_is_one_error_everywhere(capsys, tmp_path, masks):
    clip, mask_dir = _gif_with_masks(tmp_path, 10, masks)
    want = f"{masks} masks for 10 video frames"
    assert want in _err(capsys, ["inspect", str(clip), "--mask", str(mask_dir)])
    assert want in _err(
        capsys,
        ["train", str(clip), "--mask", str(mask_dir), "--out", str(tmp_path / "r"), "--iters", "1", *tiny_flags()],
    )
    gallery = tmp_path / "g"
    gallery.mkdir()
    img, _ = scene_arrays()
    for i in range(2):
        Image.fromarray(img).save(gallery / f"{i}.png")
    assert want in _err(
        capsys,
        [
            "evaluate",
            str(gallery),
            "--real",
            str(clip),
            "--mask",
            str(mask_dir),
            "--metrics",
            "diversity",
            "--device",
            "cpu",
        ],
    )


def test_video_with_one_mask_per_frame_is_used(capsys, tmp_path):
    clip, mask_dir = _gif_with_masks(tmp_path, 10, 10)
    assert main(["inspect", str(clip), "--mask", str(mask_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_frames"] == 10 and report["num_classes"] == 3


# 6. count options ------------------------------------------------------------------------------------------------
def test_count_options_are_validated(capsys, trained, scene, tmp_path):
    g = str(tmp_path / "g")
    assert "--batch-size must be at least 1" in _err(
        capsys, ["generate", str(trained), "--out", g, "--batch-size", "-1", "--n", "4"]
    )
    assert "--batch-size must be at least 1" in _err(
        capsys, ["generate", str(trained), "--out", g, "--batch-size", "0", "--n", "4"]
    )
    assert "--n must be at least 1" in _err(capsys, ["generate", str(trained), "--out", g, "--n", "0"])
    assert not Path(g).exists()
    assert "iters" in _err(capsys, ["train", str(scene), "--out", str(tmp_path / "r"), "--iters", "0"])
    assert "--rounds" in _err(capsys, ["bench", str(scene), "--rounds", "0"])
    assert "--miou-steps" in _err(capsys, ["evaluate", g, "--real", str(scene), "--miou-steps", "-5"])


# 8. tracebacks that become one sentence --------------------------------------------------------------------------
def test_seed_beyond_64_bits(capsys, scene, trained, tmp_path):
    assert "seed" in _err(capsys, ["train", str(scene), "--out", str(tmp_path / "r"), "--seed", str(2**64)])
    assert "--seed" in _err(capsys, ["generate", str(trained), "--out", str(tmp_path / "g"), "--seed", str(2**70)])


def test_generate_on_meta_device(capsys, trained, tmp_path):
    assert "device 'meta'" in _err(capsys, ["generate", str(trained), "--out", str(tmp_path / "g"), "--device", "meta"])


def test_deeply_nested_json_config(capsys, scene, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ConfigError, match="deep.json"):
        load_config_file(path)
    assert "deep.json" in _err(capsys, ["train", str(scene), "--config", str(path), "--out", str(tmp_path / "r")])


def test_checkpoint_lacking_fields_falls_back_then_fails_clearly(capsys, trained, tmp_path):
    folder = RunFolder(trained)
    torch.save({"format": 1}, folder.checkpoint_path(4))
    assert main(["generate", str(trained), "--out", str(tmp_path / "g"), "--n", "2", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "lacks 'step'" in err and "previous good checkpoint step_0000002.pt" in err
    torch.save({"format": 1, "step": "x"}, folder.checkpoint_path(2))
    line = _err(capsys, ["generate", str(trained), "--out", str(tmp_path / "g2"), "--n", "2"])
    assert "damaged checkpoint" in line


def test_evaluate_on_a_flat_real_image(capsys, trained, tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (128, 64), (90, 90, 90)).save(flat)
    gallery = tmp_path / "g"
    assert main(["generate", str(trained), "--out", str(gallery), "--n", "3", "--device", "cpu"]) == 0
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            str(gallery),
            "--real",
            str(flat),
            "--metrics",
            "diversity,lpips",
            "--random-weights",
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err and "one flat colour" in err
    summary = json.loads((gallery / "metrics.json").read_text())["summary"]
    assert summary["pixel_diversity"] == "skipped: the training image is one flat colour"  # a reason, not None
    assert summary["lpips_diversity"] is not None


def test_huge_declared_png(capsys, tmp_path):
    p = png_declaring(tmp_path / "huge.png", 30000, 30000)
    line = _err(capsys, ["inspect", str(p)])
    assert "huge.png" in line and "30000x30000" in line and "OSMIS_MAX_IMAGE_PIXELS" in line


# 9. output never depends on the console encoding ------------------------------------------------------------------
def test_cp1252_console_and_a_path_it_cannot_encode(trained, tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONPATH": str(REPO)}
    gallery = tmp_path / "gallery ✓ 日本"
    data = tmp_path / "données ✓"
    data.mkdir()
    img, _ = scene_arrays()
    Image.fromarray(img).save(data / "ph✓to.png")
    # the two commands run side by side: each spends seconds starting (torch's import), mostly on one core
    generating, inspecting = (
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for argv in (
            [sys.executable, "-m", "osmis_core", "generate", str(trained), "--out", str(gallery), "--n", "2"]
            + ["--device", "cpu"],
            [sys.executable, "-m", "osmis_core", "inspect", str(data / "ph✓to.png")],
        )
    )
    out, err = generating.communicate(timeout=300)
    assert generating.returncode == 0, err.decode("cp1252", "replace")
    assert b"UnicodeEncodeError" not in err and b"wrote 2 samples" in err
    assert b"index.html" in out
    _, err = inspecting.communicate(timeout=300)
    assert inspecting.returncode == 0 and b"Traceback" not in err


# 10. decompression bombs: declared sizes checked before decoding --------------------------------------------------
def test_one_bit_mask_bomb_and_raising_the_limit(capsys, tmp_path, monkeypatch):
    img, _ = scene_arrays()
    Image.fromarray(img).save(tmp_path / "a.png")
    bomb = png_declaring(tmp_path / "m.png", 28000, 16000, bit_depth=1, colour_type=0)
    assert bomb.stat().st_size < 1000
    line = _err(capsys, ["inspect", str(tmp_path / "a.png"), "--mask", str(bomb)])
    assert "m.png" in line and "28000x16000" in line and "limit of 100 megapixels" in line
    assert "OSMIS_MAX_IMAGE_PIXELS=448000000" in line
    monkeypatch.setenv("OSMIS_MAX_IMAGE_PIXELS", "448000000")  # raised: the file is then read (and is truncated)
    line = _err(capsys, ["inspect", str(tmp_path / "a.png"), "--mask", str(bomb)])
    assert "corrupt or truncated" in line
    monkeypatch.setenv("OSMIS_MAX_IMAGE_PIXELS", "lots")
    assert "OSMIS_MAX_IMAGE_PIXELS" in _err(capsys, ["inspect", str(tmp_path / "a.png")])


# 11. interrupted writes ------------------------------------------------------------------------------------------
def test_resume_cleans_temporaries_and_uses_the_newest_checkpoint(capsys, trained):
    folder = RunFolder(trained)
    stale = [
        folder.checkpoints / ".step_0000006.pt.abc123.tmp",
        folder.samples / ".step_0000006.png.x.tmp",
        folder.root / ".run.json.y.tmp",
    ]
    for p in stale:
        p.write_bytes(b"\0" * 1000)
    (folder.checkpoints / "latest").write_text("step_0000002.pt\n")  # killed before the pointer moved on
    assert main(["train", str(trained), "--resume", "--iters", "5", "--quiet"]) == 0
    assert not any(p.exists() for p in stale)
    assert [r["step"] for r in folder.read_stats()] == [1, 2, 3, 4, 5]  # resumed from step 4, not 2
    assert "removed 3 temporary file(s)" in folder.log_file.read_text()


# 12. a run killed before its first checkpoint ---------------------------------------------------------------------
def test_run_killed_before_its_first_checkpoint(capsys, scene, tmp_path):
    from osmis_core.application.session import start_training

    run = tmp_path / "run"
    start_training(OsmisConfig().replace(**{k: v for k, v in _tiny().items()}), scene, run)  # then "killed"
    (RunFolder(run).samples / ".step_0000002.png.q.tmp").write_bytes(b"x")
    line = _err(capsys, ["train", str(run), "--resume"])
    assert "before its first checkpoint" in line
    assert f"osmis train {scene.resolve()} --config {run / 'run.json'} --out {run}" in line  # with its options
    assert main(["train", str(scene), "--out", str(run), "--iters", "2", "--quiet", *tiny_flags()]) == 0
    err = capsys.readouterr().err
    assert "starts again in place" in err
    assert RunFolder(run).latest_step() == 2 and not list(RunFolder(run).samples.glob(".*.tmp"))
    line = _err(capsys, ["train", str(scene), "--out", str(run), "--iters", "2", *tiny_flags()])
    assert "already holds a run" in line  # one with a checkpoint is never started over


def _tiny():
    from helpers import TINY

    return dict(TINY)


# 13. full disk while writing a preview ---------------------------------------------------------------------------
def test_full_disk_while_writing_a_preview(capsys, scene, tmp_path, monkeypatch):
    import errno

    import osmis_core.training.trainer as trainer_module

    real = trainer_module.atomic_write_bytes

    def full_disk(path, write, durable=True):
        def fill(f):
            f.write(b"\x89PNG")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return real(path, fill, durable)

    monkeypatch.setattr(trainer_module, "atomic_write_bytes", full_disk)
    run = tmp_path / "run"
    code = main(
        [
            "train",
            str(scene),
            "--out",
            str(run),
            "--iters",
            "6",
            "--quiet",
            *tiny_flags(preview_every=2, checkpoint_every=100),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    line = next(s for s in err.splitlines() if s.startswith("error: "))
    assert "step_0000002.png: cannot be written" in line and "No space left on device" in line
    assert "no checkpoint had been saved yet" in line and "is kept" not in line
    folder = RunFolder(run)
    assert not list(folder.samples.iterdir())  # no 0-byte PNG, no temporary file


# 15. paths and sizes ---------------------------------------------------------------------------------------------
def test_out_with_dot_dot_leaves_no_empty_folders(capsys, scene, tmp_path):
    out = f"{tmp_path}/a/b/../../x"
    assert main(["train", str(scene), "--out", out, "--iters", "1", "--quiet", *tiny_flags()]) == 0
    assert (tmp_path / "x" / "run.json").is_file() and not (tmp_path / "a").exists()


def test_too_small_image_states_the_real_minimum(capsys, tmp_path):
    Image.new("RGB", (32, 32), (10, 200, 30)).save(tmp_path / "small.png")
    line = _err(capsys, ["inspect", str(tmp_path / "small.png")])
    assert "32x32" in line and "at least 48 pixels" in line and "max-size" not in line
    img, _ = scene_arrays()
    Image.fromarray(img).save(tmp_path / "ok.png")
    line = _err(capsys, ["inspect", str(tmp_path / "ok.png"), "--max-size", "20"])
    assert "use at least 96 (--max-size 96)" in line  # its shorter side (64 px) reaches 48 at --max-size 96


def test_long_video_is_thinned_while_decoding_and_masks_follow_their_frames(tmp_path):
    from osmis_core.data.sources import find_source, load_frame_set

    img, ids = scene_arrays()
    clip, mask_dir = _gif_with_masks(tmp_path, 25, 0)
    pics = []
    for i in range(25):  # frame i is a flat grey of level 10 * i; its mask holds class i % 3 everywhere
        pics.append(Image.fromarray(np.full((64, 128, 3), 10 * i, np.uint8)).convert("P", palette=Image.ADAPTIVE))
        save_palette_mask(np.full((64, 128), i % 3, np.uint8), mask_dir / f"{i:05d}.png")
    pics[0].save(clip, save_all=True, append_images=pics[1:], duration=40, optimize=False)
    frame_set = load_frame_set(find_source(clip, mask_dir), 4)
    frames, masks = frame_set.frames, frame_set.masks
    assert len(frames) == len(masks) == 4
    for frame, mask in zip(frames, masks):
        i = int(round(np.asarray(frame)[0, 0, 0] / 10))
        assert mask.name == f"{i:05d}.png"  # the mask of that very frame
