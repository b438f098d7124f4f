"""Metrics: exactness against straightforward implementations, offline behaviour, outputs. CPU, no network."""

import csv
import itertools
import json
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from osmis_core.errors import OsmisError
from osmis_core.metrics import (
    INCEPTION_V3,
    RANDOM_WEIGHTS_WARNING,
    SIFID,
    Compat,
    FrechetReference,
    InceptionFeatures,
    LPIPSDiversity,
    LPIPSToTrain,
    MissingWeightsError,
    PixelDiversity,
    SegmentationMIoU,
    build_inception,
    build_lpips,
    build_resnet18,
    distances_to_references,
    evaluate_images,
    format_table,
    frechet_distance,
    frechet_distances,
    write_metrics,
)


def smooth_images(n, h, w, seed):
    """Low-frequency random RGB images in [0, 1]: N x 3 x H x W."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, max(h // 8, 2), max(w // 8, 2), generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def add_noise(images, sigma, seed):
    g = torch.Generator().manual_seed(seed)
    return (images + sigma * torch.randn(images.shape, generator=g)).clamp(0, 1)


def reference_frechet(mu1, s1, mu2, s2):
    """Textbook Frechet distance with scipy's sqrtm, real part."""
    with warnings.catch_warnings():  # dead ReLU channels of random networks make covariances singular
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.fixture(autouse=True)
def one_thread():
    """These tiny inputs gain nothing from threads, and lose a lot (10x or more) when other processes
    share the cores; run single-threaded and restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def inception():
    return build_inception(random_weights=True)


@pytest.fixture(scope="module")
def lpips_model():
    return build_lpips(random_weights=True)


# ---------------------------------------------------------------- Frechet distance


@pytest.mark.parametrize("n1,n2,d", [(400, 300, 2), (500, 200, 16), (300, 900, 64), (20, 30, 64)])
def test_frechet_matches_scipy(n1, n2, d):
    rng = np.random.default_rng(d + n1)
    a = rng.standard_normal((n1, d)) * rng.uniform(0.3, 3.0, d)
    b = rng.standard_normal((3, n2, d)) @ rng.standard_normal((d, d)) * 0.3 + 0.5
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    expected = [reference_frechet(mu1, s1, x.mean(0), np.cov(x, rowvar=False)) for x in b]

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # e.g. sqrtm's deprecated `disp`
        single = [frechet_distance(mu1, s1, x.mean(0), np.cov(x, rowvar=False)) for x in b]
    batched = frechet_distances(
        mu1, s1, np.stack([x.mean(0) for x in b]), np.stack([np.cov(x, rowvar=False) for x in b])
    ).numpy()
    from_samples = distances_to_references([FrechetReference.from_samples(torch.tensor(a))], torch.tensor(b))[0]
    np.testing.assert_allclose(single, expected, rtol=1e-6)
    np.testing.assert_allclose(batched, expected, rtol=1e-6)
    np.testing.assert_allclose(from_samples.numpy(), expected, rtol=1e-6)


def test_frechet_singular_and_identical():
    rng = np.random.default_rng(0)
    # Rank-deficient covariances (5 samples in 32 dimensions): the product S1 S2 is singular.
    a, b = rng.standard_normal((5, 32)), rng.standard_normal((5, 32)) + 1
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    expected = reference_frechet(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-5)
    assert float(frechet_distances(mu1, s1, mu2[None], s2[None])[0]) == pytest.approx(expected, rel=1e-5)
    low_rank = distances_to_references([FrechetReference.from_samples(torch.tensor(a))], torch.tensor(b)[None])
    assert float(low_rank[0, 0]) == pytest.approx(expected, rel=1e-5)
    # A zero covariance is singular for sqrtm; the diagonal offset retry still gives the right value.
    zero = np.zeros((4, 4))
    assert frechet_distance(np.zeros(4), zero, np.ones(4), zero) == pytest.approx(4.0, abs=1e-5)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6 * np.trace(s1))


# ---------------------------------------------------------------- SIFID


def test_sifid_self_is_zero_and_grows_with_noise(inception):
    real = smooth_images(1, 64, 80, seed=1)
    sifid = SIFID(feature_extractor=InceptionFeatures(inception, 64))
    sifid.set_real(real)
    fakes = torch.cat([real] + [add_noise(real, s, seed=2) for s in (0.02, 0.05, 0.1, 0.2, 0.4)])
    sifid.update(fakes[:3])
    sifid.update(fakes[3:])  # statistics accumulate over update() calls
    scores = sifid.compute()
    assert scores.per_image.shape == (6,)
    assert abs(float(scores.per_image[0])) < 1e-6
    assert torch.all(scores.per_image[1:] > 1e-5)
    assert torch.all(scores.per_image.diff() > 0), scores.per_image
    assert scores.mean == pytest.approx(float(scores.per_image.mean()))
    sifid.reset()
    with pytest.raises(RuntimeError):
        sifid.compute()


@pytest.mark.parametrize("dims,positions", [(64, 29 * 29), (192, 12 * 12)])
def test_sifid_feature_shapes(inception, dims, positions):
    sifid = SIFID(dims, feature_extractor=InceptionFeatures(inception, dims))
    assert sifid.features(torch.rand(2, 3, 64, 64)).shape == (2, positions, dims)


def straightforward_sifid(layers, real, fake):
    """Independent SIFID: plain layer calls, per-position features, np.cov, scipy sqrtm."""

    def stats(image):
        with torch.no_grad():
            x = image[None] * 2 - 1
            for layer in layers:
                x = layer(x)
        feats = x[0].permute(1, 2, 0).reshape(-1, x.shape[1]).double().numpy()
        return feats.mean(0), np.cov(feats, rowvar=False)

    real = F.interpolate(real[None], size=fake.shape[-2:], mode="bilinear", align_corners=False)[0]
    return reference_frechet(*stats(real), *stats(fake))


@pytest.mark.parametrize("dims", [64, 192])
def test_sifid_equals_straightforward_implementation(inception, dims):
    layers = [getattr(inception, name) for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3")]
    if dims == 192:
        layers += [inception.maxpool1, inception.Conv2d_3b_1x1, inception.Conv2d_4a_3x3]
    real = smooth_images(1, 100, 120, seed=3)  # resized to the generated 72 x 96 inside SIFID
    fakes = torch.cat(
        [
            add_noise(smooth_images(2, 72, 96, seed=4), 0.05, seed=5),
            add_noise(F.interpolate(real, size=(72, 96), mode="bilinear"), 0.1, seed=6),
        ]
    )
    sifid = SIFID(dims, feature_extractor=InceptionFeatures(inception, dims), batch_size=2)
    sifid.set_real(real)
    sifid.update(fakes)
    expected = [straightforward_sifid(layers, real[0], f) for f in fakes]
    np.testing.assert_allclose(sifid.compute().per_image.numpy(), expected, rtol=1e-4)


def test_sifid_video_nearest_frame_and_frame0_compat():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 6, 3, stride=2))  # injected extractor
    frames = smooth_images(3, 40, 48, seed=7)
    fakes = torch.cat([add_noise(frames[2:3], 0.05, seed=8), add_noise(frames[1:2], 0.05, seed=9)])
    layers = list(net)
    expected = np.array([[straightforward_sifid(layers, frame, fake) for frame in frames] for fake in fakes])

    nearest = SIFID(feature_extractor=net)
    nearest.set_real(frames)
    nearest.update(fakes)
    scores = nearest.compute()
    assert scores.nearest.tolist() == [2, 1]
    np.testing.assert_allclose(scores.per_image.numpy(), expected.min(1), rtol=1e-4)

    frame0 = SIFID(feature_extractor=net, video_frame0_only=True)
    frame0.set_real(frames)
    frame0.update(fakes)
    np.testing.assert_allclose(frame0.compute().per_image.numpy(), expected[:, 0], rtol=1e-4)


# ---------------------------------------------------------------- LPIPS


def test_lpips_diversity_batched_equals_pairwise_loop(lpips_model):
    images = torch.cat([smooth_images(4, 64, 72, seed=10), torch.rand(2, 3, 64, 72)])
    diversity = LPIPSDiversity(model=lpips_model, batch_size=4)
    diversity.update(images[:3])
    diversity.update(images[3:])
    with torch.no_grad():
        loop = {
            (i, j): float(lpips_model(images[i : i + 1], images[j : j + 1], normalize=True))
            for i, j in itertools.combinations(range(6), 2)
        }
    matrix = diversity.pairwise()
    for (i, j), value in loop.items():
        assert float(matrix[i, j]) == pytest.approx(value, rel=1e-4, abs=1e-7)
    assert diversity.compute() == pytest.approx(np.mean(list(loop.values())), rel=1e-4)

    # Compat: the published code fed [0, 1] images as if they were [-1, 1].
    compat = LPIPSDiversity(model=lpips_model, unit_range_inputs=True, max_images=3)
    compat.update(images)  # only the first 3 images count
    with torch.no_grad():
        raw = [float(lpips_model(images[i : i + 1], images[j : j + 1])) for i, j in itertools.combinations(range(3), 2)]
    assert compat.compute() == pytest.approx(np.mean(raw), rel=1e-4)


def test_lpips_to_train_is_min_over_frames(lpips_model):
    frames = smooth_images(3, 80, 90, seed=11)
    resized = F.interpolate(frames, size=(64, 72), mode="bilinear", align_corners=False)
    fakes = torch.cat([resized[1:2], add_noise(resized[2:3], 0.1, seed=12), torch.rand(1, 3, 64, 72)])
    to_train = LPIPSToTrain(model=lpips_model)
    to_train.set_real(frames)
    to_train.update(fakes)
    scores = to_train.compute()
    with torch.no_grad():
        loop = torch.tensor([[float(lpips_model(f[None], r[None], normalize=True)) for r in resized] for f in fakes])
    np.testing.assert_allclose(scores.per_image.numpy(), loop.min(1).values.numpy(), rtol=1e-4, atol=1e-6)
    assert scores.nearest[:2].tolist() == [1, 2]
    assert float(scores.per_image[0]) < 1e-5  # a copy of a training frame


# ---------------------------------------------------------------- pixel diversity


def test_pixel_diversity():
    real = smooth_images(1, 32, 40, seed=13)
    a, b = smooth_images(2, 32, 40, seed=14)
    pixel = PixelDiversity()
    pixel.set_real(real)
    pixel.update(a[None])
    pixel.update(b[None])
    expected = ((a.double() - b.double()).abs() / np.sqrt(2)).mean() / real.double().std()
    assert pixel.compute() == pytest.approx(float(expected), rel=1e-9)
    pixel.reset()
    pixel.update(torch.cat([a[None]] * 4))
    assert pixel.compute() == pytest.approx(0.0, abs=1e-7)


# ---------------------------------------------------------------- mIoU


def shapes_pair(size=32):
    """A synthetic image with two coloured shapes on a background, and its 3-class mask."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    mask = torch.zeros(size, size, dtype=torch.long)
    mask[(xx > size // 8) & (xx < size * 7 // 16) & (yy > size // 6) & (yy < size * 5 // 8)] = 1
    mask[(xx - size * 11 // 16) ** 2 + (yy - size * 5 // 8) ** 2 < (size // 5) ** 2] = 2
    colours = torch.tensor([[0.2, 0.3, 0.2], [0.9, 0.1, 0.1], [0.1, 0.2, 0.9]])
    image = colours[mask].permute(2, 0, 1)  # 3 x H x W
    image = image + 0.03 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    return image.clamp(0, 1)[None], mask[None]


@pytest.mark.slow
def test_miou_perfect_generator_scores_about_one():
    image, mask = shapes_pair()
    steps = []
    miou = SegmentationMIoU(3, steps=40, lr=5e-3, random_weights=True, progress=lambda *a: steps.append(a))
    miou.set_real(image, mask)
    miou.update(image.repeat(4, 1, 1, 1), mask.repeat(4, 1, 1))  # the gallery = copies of the real pair
    result = miou.compute()
    assert result.miou_real_to_gen > 0.95
    assert result.accuracy_real_to_gen > 0.98
    assert result.per_image_miou.shape == (4,) and torch.all(result.per_image_miou > 0.95)
    assert result.miou_gen_to_real > 0.95
    assert len(steps) == 80 and steps[-1][1:] == (40, 40)


# ---------------------------------------------------------------- weights offline


def test_missing_weights_names_file_place_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(MissingWeightsError) as info:
        build_inception()
    message = str(info.value)
    assert INCEPTION_V3.filename in message and INCEPTION_V3.url in message
    assert str(tmp_path / "torch_home" / "hub" / "checkpoints") in message
    assert isinstance(info.value, OsmisError) and info.value.files == [INCEPTION_V3]

    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    images = smooth_images(3, 64, 64, seed=15)
    masks = torch.zeros(3, 64, 64, dtype=torch.long)
    masks[:, :, 32:] = 1
    with pytest.raises(MissingWeightsError) as info:
        evaluate_images(images, images[:1], masks, masks[:1], weights_dir=weights_dir)
    message = str(info.value)
    for name in ("inception_v3_google-0cc3c7bd.pth", "alexnet-owt-7be5be79.pth", "resnet18-f37072fd.pth"):
        assert name in message
    assert str(weights_dir) in message

    result = evaluate_images(images, images[:1], weights_dir=weights_dir, skip_missing=True)
    assert result["summary"]["pixel_diversity"] > 0
    assert result["summary"]["sifid_64"] == "needs inception_v3_google-0cc3c7bd.pth"
    assert result["summary"]["lpips_diversity"] == "needs alexnet-owt-7be5be79.pth"
    assert set(result["unavailable"]) == {"sifid", "lpips", "lpips_train"}
    assert result["not_computed"]["miou"] == "skipped: needs masks of the generated and the real images"


def test_weights_found_in_weights_dir_and_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    state = build_resnet18(random_weights=True).state_dict()
    state = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    torch.save(state, weights_dir / "resnet18-f37072fd.pth")
    loaded = build_resnet18(weights_dir=weights_dir)
    assert torch.equal(loaded.conv1.weight, state["conv1.weight"])

    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (weights_dir / "resnet18-f37072fd.pth").rename(hub / "resnet18-f37072fd.pth")
    assert torch.equal(build_resnet18().fc.weight, state["fc.weight"])


def test_pretrained_files_load_into_the_networks(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    alexnet = torchvision.models.alexnet(weights=None).state_dict()
    torch.save(alexnet, tmp_path / "alexnet-owt-7be5be79.pth")
    inception = build_inception(random_weights=True).state_dict()
    torch.save(inception, tmp_path / "inception_v3_google-0cc3c7bd.pth")

    model = build_lpips(weights_dir=tmp_path)
    convs = [m for m in model.net.modules() if isinstance(m, nn.Conv2d)]
    expected = [alexnet[f"features.{i}.weight"] for i in (0, 3, 6, 8, 10)]
    assert len(convs) == 5 and all(torch.equal(c.weight, w) for c, w in zip(convs, expected))
    assert torch.equal(
        build_inception(weights_dir=tmp_path).Mixed_7c.branch_pool.conv.weight,
        inception["Mixed_7c.branch_pool.conv.weight"],
    )


def test_unusable_weights_file_is_named(tmp_path):
    torch.save({"not": torch.zeros(1)}, tmp_path / "resnet18-f37072fd.pth")
    with pytest.raises(OsmisError, match="resnet18-f37072fd.pth does not fit"):
        build_resnet18(weights_dir=tmp_path)
    (tmp_path / "resnet18-f37072fd.pth").write_bytes(b"truncated")
    with pytest.raises(OsmisError, match="cannot read weights file"):
        build_resnet18(weights_dir=tmp_path)


def test_random_weights_are_fixed_and_leave_the_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    first = build_resnet18(random_weights=True)
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(first.conv1.weight, build_resnet18(random_weights=True).conv1.weight)


# ---------------------------------------------------------------- evaluate / outputs


def test_evaluate_write_and_table(tmp_path):
    fakes = torch.cat([smooth_images(3, 64, 64, seed=16), torch.rand(1, 3, 64, 64)])
    frames = smooth_images(2, 72, 80, seed=17)
    result = evaluate_images(
        fakes,
        frames,
        metrics=("sifid", "lpips", "lpips_train", "diversity", "miou"),
        sifid_dims=(64,),
        random_weights=True,
        names=[f"{i}.png" for i in range(4)],
        compat=Compat(video_frame0_only=True),
    )
    assert RANDOM_WEIGHTS_WARNING in result["warnings"] and result["random_weights"] is True
    assert any("mIoU skipped" in w for w in result["warnings"])
    summary = result["summary"]
    assert summary["num_images"] == 4 and summary["lpips_diversity"] > 0 and summary["pixel_diversity"] > 0
    assert len(result["per_image"]) == 4
    row = result["per_image"][0]
    assert row["name"] == "0.png" and row["sifid_64_frame"] == 0 and row["lpips_to_train_frame"] in (0, 1)
    assert summary["sifid_64"] == pytest.approx(np.mean([r["sifid_64"] for r in result["per_image"]]))

    json_path, csv_path = write_metrics(tmp_path / "out", result)
    assert json.loads(json_path.read_text())["summary"]["sifid_64"] == pytest.approx(summary["sifid_64"])
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 5 and rows[-1]["index"] == "summary" and rows[1]["name"] == "1.png"
    assert float(rows[-1]["lpips_diversity"]) == pytest.approx(summary["lpips_diversity"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.csv", "metrics.json"]

    table = format_table(result)
    assert "SIFID" in table and "NOT comparable" in table

    image, mask = shapes_pair(64)
    with_masks = evaluate_images(
        image.repeat(2, 1, 1, 1),
        image,
        mask.repeat(2, 1, 1),
        mask,
        metrics=("miou", "diversity"),
        random_weights=True,
        miou_steps=2,
    )
    assert set(with_masks["summary"]) == {
        "num_images",
        "pixel_diversity",
        "accuracy_gen_to_real",
        "miou_gen_to_real",
        "accuracy_real_to_gen",
        "miou_real_to_gen",
    }
    assert 0 <= with_masks["per_image"][1]["miou_real_to_gen"] <= 1

    with pytest.raises(OsmisError):
        evaluate_images(fakes, frames, metrics=("fid",), random_weights=True)
    with pytest.raises(OsmisError):
        evaluate_images(fakes, frames, sifid_dims=(2048,), random_weights=True)
