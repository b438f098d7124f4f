"""Training the layout renderer: a tiny renderer trains on CPU, resume equals uninterrupted training, masks are
required, augmentation keeps image and layout aligned (docs/renderer.md section 4)."""

import json

import numpy as np
import pytest
import torch
from helpers import scene_arrays, tiny_flags
from PIL import Image

from osmis_core.application.session import resume_training, start_training
from osmis_core.cli import main
from osmis_core.config import build_config
from osmis_core.data.renderer_augment import (
    PairAugmentation,
    augment_pairs,
    edit_layout,
)
from osmis_core.events import CheckpointSaved, PreviewReady, StepStats, TrainingFinished

TINY_RENDERER = {
    "model": "renderer",
    "max_size": 64,
    "ch_r": 4,
    "spade_hidden": 8,
    "ch_rd": 4,
    "noise_dim": 8,
    "batch_size": 2,
    "log_every": 1,
    "preview_every": 2,
    "checkpoint_every": 2,
    "device": "cpu",
}


TINY = tiny_flags()  # OSMIS's tiny model, as flags


def tiny_renderer_flags(**extra) -> list[str]:
    flags = []
    for k, v in {**TINY_RENDERER, **extra}.items():
        flags += ["--" + k.replace("_", "-"), str(v)]
    return flags


def _train(scene, out, iters):
    trainer = start_training(build_config(overrides={**TINY_RENDERER, "iters": iters}), scene, out)
    return trainer, list(trainer.run())


def test_tiny_renderer_trains_and_emits_the_usual_events(scene, tmp_path):
    _, events = _train(scene, tmp_path / "run", 3)
    kinds = {type(e) for e in events}
    assert {StepStats, PreviewReady, CheckpointSaved, TrainingFinished} <= kinds
    stats = [e for e in events if isinstance(e, StepStats)]
    assert {"g_total", "d_total", "g_adversarial", "d_real_loss", "d_fake_loss", "d_labelmix", "g_diversity"} <= set(
        stats[-1].losses
    )
    previews = [e.path for e in events if isinstance(e, PreviewReady)]
    assert previews and Image.open(previews[-1]).size[0] > 5 * 64  # 5 fixed layouts side by side
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["config"]["renderer"]["model"] == "renderer"
    state = torch.load(tmp_path / "run" / "checkpoints" / "step_0000003.pt", weights_only=True)
    assert state["model"] == "renderer" and {"opt_g", "opt_d", "generator_render"} <= set(state)


def test_resume_equals_uninterrupted(scene, tmp_path):
    full, _ = _train(scene, tmp_path / "full", 4)
    _train(scene, tmp_path / "part", 2)
    resumed = resume_training(tmp_path / "part", {"iters": 4})
    assert resumed.step == 2
    list(resumed.run(resumed=True))
    for name in ("generator", "generator_ema", "discriminator", "opt_g", "opt_d"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        flat_a = torch.utils._pytree.tree_leaves(a)
        flat_b = torch.utils._pytree.tree_leaves(b)
        assert len(flat_a) == len(flat_b)
        for x, y in zip(flat_a, flat_b):
            if isinstance(x, torch.Tensor):
                assert torch.equal(x, y), name
            else:
                assert x == y, name


def test_cli_train_renderer_and_missing_masks(scene, tmp_path, capsys):
    assert (
        main(["train", str(scene), "--out", str(tmp_path / "run"), "--iters", "2", "--quiet", *tiny_renderer_flags()])
        == 0
    )
    img, _ = scene_arrays()
    Image.fromarray(img).save(tmp_path / "alone.png")
    code = main(
        [
            "train",
            str(tmp_path / "alone.png"),
            "--out",
            str(tmp_path / "r2"),
            "--iters",
            "1",
            "--quiet",
            *tiny_renderer_flags(),
        ]
    )
    assert code == 2
    assert "needs a mask" in capsys.readouterr().err and not (tmp_path / "r2").exists()


def test_video_with_masks_trains(tmp_path):
    import av

    frames_ids = [scene_arrays(seed=i) for i in range(3)]
    (tmp_path / "v" / "mask").mkdir(parents=True)
    with av.open(str(tmp_path / "v" / "clip.mp4"), "w") as c:
        s = c.add_stream("libx264", rate=5)
        s.width, s.height, s.pix_fmt = 128, 64, "yuv420p"
        for i, (img, ids) in enumerate(frames_ids):
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
            Image.fromarray(ids, "L").save(tmp_path / "v" / "mask" / f"{i:05d}.png")
        for p in s.encode():
            c.mux(p)
    trainer, events = _train(tmp_path / "v" / "clip.mp4", tmp_path / "run", 2)
    assert trainer.data.num_frames == 3 and isinstance(events[-1], TrainingFinished)


def test_augmentation_keeps_image_and_layout_aligned():
    """A warped pair stays a pair: each class's pixels keep (about) the colour that class has in the image."""
    img, ids = scene_arrays()
    images = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    ids_t = torch.from_numpy(ids).long()[None]
    aug = PairAugmentation(p_tps=1.0, tps_strength=0.1, p_flip=1.0, p_affine=1.0, p_edit=1.0)
    gen = torch.Generator().manual_seed(3)
    changed = 0
    for _ in range(6):
        out_img, out_ids = augment_pairs(images, ids_t, 3, aug, gen)
        changed += int(not torch.equal(out_ids, ids_t))
        for c, colour in ((1, [200, 40, 40]), (2, [40, 40, 200])):
            sel = out_ids[0] == c
            if sel.sum() > 20:
                mean = ((out_img[0][:, sel] + 1) * 127.5).median(1).values
                assert torch.allclose(mean, torch.tensor(colour, dtype=torch.float), atol=25)
    assert changed == 6


def test_object_edit_duplicates_into_free_area():
    _, ids = scene_arrays()
    ids_t = torch.from_numpy(ids).long()
    gen = torch.Generator().manual_seed(0)
    outcomes = set()
    for _ in range(20):
        _, out = edit_layout(None, ids_t, gen)
        counts = np.bincount(out.numpy().ravel(), minlength=3)
        base = np.bincount(ids.ravel(), minlength=3)
        outcomes.add(tuple(np.sign(counts - base)))
    assert len(outcomes) >= 2  # different edits happen (more object pixels, fewer, ...)


@pytest.mark.parametrize("kind", ["renderer"])
def test_generate_refuses_a_renderer_run(scene, tmp_path, capsys, kind):
    _train(scene, tmp_path / "run", 1)
    assert main(["generate", str(tmp_path / "run"), "--out", str(tmp_path / "g"), "--n", "1"]) == 2
    err = capsys.readouterr().err
    assert "renderer run" in err and str(tmp_path / "run") in err and not (tmp_path / "g").exists()


def test_layouts_from_an_osmis_run(scene, tmp_path):
    """--layouts-from RUN: unpaired layouts partly sampled from an OSMIS run of the same data."""
    assert main(["train", str(scene), "--out", str(tmp_path / "osmis"), "--iters", "1", "--quiet", *TINY]) == 0
    config = build_config(
        overrides={**TINY_RENDERER, "iters": 1, "layouts_from": str(tmp_path / "osmis"), "unpaired": 1.0}
    )
    trainer = start_training(config, scene, tmp_path / "run")
    assert trainer.osmis_layouts.shape[1:] == trainer.ids.shape[1:]
    assert trainer.osmis_layouts.max() < trainer.num_classes
    assert isinstance(list(trainer.run())[-1], TrainingFinished)


def test_inspect_a_renderer(scene, capsys):
    assert main(["inspect", str(scene), "--model", "renderer", "--max-size", "64", "--ch-r", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "renderer" and report["resolution"] == [32, 64]
    assert (report["num_blocks_g"], report["num_blocks_d"], report["num_blocks_d0"]) == (3, 3, 1)
