"""Spec conformance (audit 34): promises of spec/product.md, spec/metrics.md and README checked with values computed
by hand. CPU, no network, seconds each."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from helpers import save_palette_mask, scene_arrays, write_scene
from PIL import Image
from torch import nn

from osmis_core.application.evaluation import evaluate_gallery
from osmis_core.data.sources import find_source, load_training_data
from osmis_core.errors import ConfigError
from osmis_core.metrics import (
    INCEPTION_V3,
    RESNET18,
    MissingWeightsError,
    build_inception,
    build_resnet18,
    find_weights,
)
from osmis_core.metrics.miou import _confusion, _scores
from osmis_core.models.generator import GeneratorOutput
from osmis_core.training.monitor import EVAL_SAMPLES, TrainingEvaluator

# ---------------------------------------------------------------- DATA: a mask found next to an image file


def _photo_and_mask(folder, mask_path):
    img, ids = scene_arrays()
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(folder / "photo.png")
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    return folder / "photo.png", save_palette_mask(ids, mask_path)


def test_an_image_finds_its_mask_in_a_mask_folder_beside_it(tmp_path):
    """product.md, Inputs: an image file's mask is found "next to it: same stem in a mask/ sibling folder". A
    mask/ folder beside the image was missed (the image trained silently without masks, SIV-GAN), while the same
    folder given as DATA found it."""
    photo, mask = _photo_and_mask(tmp_path / "shots", tmp_path / "shots" / "mask" / "photo.png")
    assert find_source(photo).masks == [mask]
    assert find_source(tmp_path / "shots").masks == [mask]  # the folder as DATA: the same mask


def test_the_other_places_of_an_images_mask_still_hold(tmp_path):
    """The research layout (image/x.png with mask/x.png) and `<stem>_mask.png` beside the image."""
    research = write_scene(tmp_path / "research")
    assert find_source(research / "image" / "00000.png").masks == [research / "mask" / "00000.png"]
    photo, mask = _photo_and_mask(tmp_path / "flat", tmp_path / "flat" / "photo_mask.png")
    assert find_source(photo).masks == [mask]
    photo, _ = _photo_and_mask(tmp_path / "alone", tmp_path / "elsewhere" / "photo.png")
    assert find_source(photo).masks is None  # a mask in no place the rule names is not taken


def test_a_folder_where_an_images_mask_should_be_is_named_as_a_folder(tmp_path, capsys):
    """A folder named as the image's mask (mask/photo.png/) is said to be a folder, not a corrupt mask."""
    from osmis_core.cli import main

    img, _ = scene_arrays()
    (tmp_path / "mask" / "photo.png").mkdir(parents=True)
    Image.fromarray(img).save(tmp_path / "photo.png")
    assert main(["inspect", str(tmp_path / "photo.png")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'mask' / 'photo.png'}: a folder, where the mask file should be." in err
    assert "corrupt" not in err


# ---------------------------------------------------------------- metrics.md: pixel diversity and SIFID, by hand


def test_evaluate_pixel_diversity_and_sifid_by_hand(tmp_path):
    """Pixel diversity of a black and a white image against a half-black, half-white training image: each pixel's
    std over the two (N - 1) is 1/sqrt(2); the training image's std over its M values (N - 1) is
    sqrt(0.25 M / (M - 1)). SIFID of a copy of the training image is 0 (metrics.md)."""
    h, w = 32, 48
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(gallery / "a.png")
    Image.fromarray(np.full((h, w, 3), 255, np.uint8)).save(gallery / "b.png")
    real = np.zeros((h, w, 3), np.uint8)
    real[:, w // 2 :] = 255
    Image.fromarray(real).save(tmp_path / "real.png")
    shutil.copy(tmp_path / "real.png", gallery / "c.png")

    result = evaluate_gallery(gallery, tmp_path / "real.png", metrics=["diversity", "sifid"], random_weights=True)

    values = h * w * 3
    real_std = math.sqrt(0.25 * values / (values - 1))
    # three images: per pixel the values (0, 1, v) with v the copy's 0 or 1; std (N - 1) is 1/sqrt(3) either way
    assert result["summary"]["pixel_diversity"] == pytest.approx((1 / math.sqrt(3)) / real_std, rel=1e-9)
    sifid = [row["sifid_64"] for row in result["per_image"]]
    assert abs(sifid[2]) < 1e-6  # the copy of the training image
    assert sifid[0] > 1e-3 and sifid[1] > 1e-3
    assert result["summary"]["sifid_64"] == pytest.approx(np.mean(sifid), rel=1e-12)


def test_evaluate_copies_of_the_training_image_score_zero_diversity_and_distance(tmp_path):
    """Two copies of the training image: LPIPS diversity (mean over pairs), LPIPS to the training data (per image
    and mean) and pixel diversity are all 0 (metrics.md: near 0 = copying)."""
    real = np.zeros((32, 48, 3), np.uint8)
    real[8:24, 12:36] = (200, 40, 40)
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for name in ("real.png", "gallery/a.png", "gallery/b.png"):
        Image.fromarray(real).save(tmp_path / name)

    result = evaluate_gallery(
        gallery, tmp_path / "real.png", metrics=["lpips", "lpips_train", "diversity"], random_weights=True
    )

    assert result["summary"]["lpips_diversity"] == pytest.approx(0.0, abs=1e-9)
    assert result["summary"]["lpips_to_train"] == pytest.approx(0.0, abs=1e-9)
    assert [row["lpips_to_train"] for row in result["per_image"]] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert result["summary"]["pixel_diversity"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- metrics.md: mIoU and pixel accuracy, by hand


def test_miou_and_accuracy_by_hand():
    """IoU of a class = TP / (TP + FP + FN), averaged over the classes present in the target or the prediction;
    accuracy = correct / all pixels. The summary pools the images' confusion matrices (docs/metrics.md 5)."""
    target = torch.tensor([[[0, 0, 1, 1]], [[2, 2, 2, 2]]])  # 2 images of 1 x 4 pixels, K = 3
    pred = torch.tensor([[[0, 1, 1, 1]], [[2, 2, 2, 2]]])
    per_image = _confusion(pred, target, 3)
    accuracy, miou = _scores(per_image)
    # image 0: class 0 IoU 1/2 (TP 1, FN 1), class 1 IoU 2/3 (TP 2, FP 1); class 2 in neither: not averaged
    assert accuracy.tolist() == pytest.approx([3 / 4, 1.0])
    assert miou.tolist() == pytest.approx([(1 / 2 + 2 / 3) / 2, 1.0])
    pooled_accuracy, pooled_miou = _scores(per_image.sum(0))
    assert float(pooled_accuracy) == pytest.approx(7 / 8)
    assert float(pooled_miou) == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)


# ---------------------------------------------------------------- README: the training metrics, by hand


class _FixedGenerator(nn.Module):
    """A generator that draws the same image and mask for every noise vector (for the training metrics)."""

    def __init__(self, image: torch.Tensor, mask: torch.Tensor):
        super().__init__()
        self.image, self.mask = image, mask  # 1 x 3 x H x W in [-1, 1], 1 x K x H x W

    def forward(self, z, all_scales=False):
        b = z.shape[0]
        return GeneratorOutput([self.image.expand(b, -1, -1, -1)], [], self.mask.expand(b, -1, -1, -1))


def test_training_metrics_by_hand(tmp_path):
    """README, Training health and metrics: mask_shares is the total-variation distance between the generated and
    the real masks' class shares, class_coverage the lowest share of samples in which a class of the real masks
    appears; a generator that draws the training pair exactly scores 0 / 1, diversity 0 and SIFID 0; one that
    draws only background scores mask_shares = 1 - the real background share and coverage 0."""
    data = load_training_data(write_scene(tmp_path), max_size=96)
    real_shares = data.masks.float().mean(dim=(0, 2, 3))
    evaluator = TrainingEvaluator(data, torch.randn(EVAL_SAMPLES, 8, 1, 1), "cpu")

    copy = evaluator.evaluate(_FixedGenerator(data.images[:1], data.masks[:1].float()))
    assert copy.metrics["mask_shares"] == pytest.approx(0.0, abs=1e-6)
    assert copy.metrics["class_coverage"] == 1.0 and copy.per_class["class_coverage"] == [1.0, 1.0, 1.0]
    assert copy.metrics["diversity"] == pytest.approx(0.0, abs=1e-6)
    assert abs(copy.metrics[evaluator.sifid_key]) < 1e-4

    background = torch.zeros_like(data.masks[:1], dtype=torch.float32)
    background[:, 0] = 1
    empty = evaluator.evaluate(_FixedGenerator(data.images[:1], background))
    assert empty.metrics["mask_shares"] == pytest.approx(1 - float(real_shares[0]), abs=1e-6)
    assert empty.metrics["class_coverage"] == 0.0 and empty.per_class["class_coverage"] == [1.0, 0.0, 0.0]
    assert empty.largest_shares == [1.0] * EVAL_SAMPLES


# ---------------------------------------------------------------- README: a render gallery's default name


def test_a_render_gallerys_name_says_which_layouts(tmp_path):
    """README, Layout renderer: a render of given layouts is named by the layout file (without extension), by the
    folder of several (`--layouts DIR`), by the gallery of several of its masks (`--from G`), and the one layout of
    a folder is named as a file is; each with a hash of where it is."""
    from osmis_core.application.render import render_source_label

    folder = tmp_path / "edits"
    folder.mkdir()
    one, two = folder / "forest.png", folder / "lake.png"
    for p in (one, two):
        p.touch()
    assert render_source_label([one]).startswith("forest-")
    assert render_source_label([one, two]).startswith("edits-")
    gallery_masks = tmp_path / "step_0000004-seed0-n2" / "masks"
    gallery_masks.mkdir(parents=True)
    assert render_source_label([gallery_masks / "0000.png", gallery_masks / "0001.png"]).startswith(
        "step_0000004-seed0-n2-"
    )
    elsewhere = tmp_path / "other" / "forest.png"
    elsewhere.parent.mkdir()
    elsewhere.touch()
    assert render_source_label([elsewhere]) != render_source_label([one])  # one name, two folders
    assert render_source_label(None) is None  # the run's own training layouts


# ---------------------------------------------------------------- spec/renderer.md section 4: the OASIS loss, by hand


def test_renderer_losses_by_hand():
    """Class-balanced OASIS loss: the weight of class c is pixels / (classes present x pixels of c) over the batch,
    the real target is class + 1 and the fake target 0 (unweighted); LabelMix's map is each pixel's class coin."""
    from osmis_core.training.renderer_trainer import class_balanced_weights, labelmix_map, oasis_loss

    ids = torch.tensor([[[0, 0, 0, 2]]])  # 1 x 1 x 4, K = 3: class 1 absent
    weights = class_balanced_weights(ids, 3)
    assert weights.flatten().tolist() == pytest.approx([4 / 6, 4 / 6, 4 / 6, 2.0])  # 4 / (2 x 3), 4 / (2 x 1)

    # logits that put all mass on one of the K + 1 = 4 outputs: -log softmax is 0 there and `big` elsewhere
    big = 30.0

    def logits_for(targets):
        out = torch.zeros(1, 4, 1, 4)
        for x, t in enumerate(targets):
            out[0, t, 0, x] = big
        return out

    assert float(oasis_loss(logits_for([1, 1, 1, 3]), ids, 3)) == pytest.approx(0.0, abs=1e-9)  # class + 1
    # one real pixel of class 2 judged "fake": its loss `big` weighted 2, over the 4 pixels
    assert float(oasis_loss(logits_for([1, 1, 1, 0]), ids, 3)) == pytest.approx(big * 2.0 / 4, rel=1e-6)
    # the fake target is 0, unweighted: one pixel judged class 0 (output 1) costs `big` over 4 pixels
    assert float(oasis_loss(logits_for([0, 0, 0, 1]), None, 3)) == pytest.approx(big / 4, rel=1e-6)

    coins = torch.tensor([[1.0, 0.0, 1.0]])
    assert labelmix_map(coins, ids).tolist() == [[[[1.0, 1.0, 1.0, 1.0]]]]
    assert labelmix_map(torch.tensor([[0.0, 1.0, 1.0]]), ids).tolist() == [[[[0.0, 0.0, 0.0, 1.0]]]]


# ---------------------------------------------------------------- metrics.md: an explicit weights file


def test_a_weights_file_given_by_itself_is_used(tmp_path, monkeypatch):
    """metrics.md, Pretrained weights: "Also accept an explicit file or directory from the user." --weights-dir
    refused a file ("is a file, not a folder"); a weights file given by itself is now used, and the other files are
    looked for beside it. A file of another name is refused in one sentence naming it (which network it is for
    would be a guess)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # an empty hub cache
    state = build_resnet18(random_weights=True).state_dict()
    state = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    folder = tmp_path / "downloads"
    folder.mkdir()
    given = folder / RESNET18.filename
    torch.save(state, given)

    assert find_weights(RESNET18, given) == given
    assert torch.equal(build_resnet18(weights_dir=given).conv1.weight, state["conv1.weight"])
    assert find_weights(INCEPTION_V3, given) is None  # looked for beside it: not there
    with pytest.raises(MissingWeightsError) as missing:
        build_inception(weights_dir=given)
    assert f"put the file(s) in {folder} or " in str(missing.value)  # the file's folder, not the file

    other = folder / "my_resnet.pth"
    given.rename(other)
    with pytest.raises(ConfigError, match=f"^{other}: is a file, not a folder, and not one of the weights files"):
        find_weights(RESNET18, other)


def test_scores_computed_with_a_compat_switch_say_so(tmp_path):
    """metrics.md's compat switches reproduce the published code's numbers, which are not the default definition's
    (LPIPS about 10x lower): metrics.json's `settings` marks the metrics computed with one on, and nothing when off
    (a score must say how it was computed, as `settings.miou` does for the mIoU setting)."""
    from osmis_core.metrics import Compat

    real = np.zeros((32, 48, 3), np.uint8)
    real[8:24, 12:36] = (200, 40, 40)
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    Image.fromarray(real).save(tmp_path / "real.png")
    for i, shift in enumerate((0, 60)):
        Image.fromarray(np.clip(real.astype(int) + shift, 0, 255).astype(np.uint8)).save(gallery / f"{i}.png")
    metrics = ["sifid", "lpips", "lpips_train", "diversity"]

    on = evaluate_gallery(
        gallery, tmp_path / "real.png", metrics=metrics, random_weights=True, compat=Compat(True, True)
    )
    assert on["settings"] == {
        "sifid": {"compat_video_frame0": True},
        "lpips": {"compat_lpips_unit_range": True},
        "lpips_train": {"compat_lpips_unit_range": True},
    }
    assert json.loads((gallery / "metrics.json").read_text())["settings"] == on["settings"]

    off = evaluate_gallery(gallery, tmp_path / "real.png", metrics=metrics, random_weights=True)
    assert off["settings"] == {}
    assert off["summary"]["lpips_diversity"] != on["summary"]["lpips_diversity"]  # the switch changes the number
    # scores kept from metrics.json when a metric cannot run now (here: over a time budget) keep their settings
    evaluate_gallery(gallery, tmp_path / "real.png", metrics=["lpips"], random_weights=True, compat=Compat(True, True))
    kept = evaluate_gallery(gallery, tmp_path / "real.png", metrics=["lpips"], random_weights=True, time_budget=1e-9)
    assert kept["not_computed"] == {} and kept["settings"] == {"lpips": {"compat_lpips_unit_range": True}}


# ---------------------------------------------------------------- README: random-weight scores stay marked


def test_an_export_of_random_weight_scores_stays_marked(trained, scene, tmp_path):
    """README, Metrics: --random-weights scores are "loudly marked NOT comparable with published numbers". An
    export of a scored gallery dropped the mark (its metrics.json kept no `random_weights`, so its index.html showed
    the scores unqualified); it keeps it now, with the warnings and settings of the scores it copies."""
    from osmis_core.application.gallery import export_selection, generate_gallery
    from osmis_core.metrics import RANDOM_WEIGHTS_WARNING, Compat

    gallery = generate_gallery(trained, tmp_path / "gallery", n=3)
    evaluate_gallery(gallery, scene, metrics=["lpips_train", "diversity"], random_weights=True, compat=Compat(True))
    out = export_selection(gallery, "0,2", tmp_path / "export").dest

    exported = json.loads((out / "metrics.json").read_text())
    assert exported["random_weights"] is True and RANDOM_WEIGHTS_WARNING in exported["warnings"]
    assert exported["settings"] == {"lpips_train": {"compat_lpips_unit_range": True}}
    assert exported["summary"]["lpips_to_train_mean"] >= 0  # a per-image score, shown on the page
    assert f"warning: {RANDOM_WEIGHTS_WARNING}" in (out / "index.html").read_text()
