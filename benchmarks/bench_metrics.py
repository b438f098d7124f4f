"""Speed of SIFID and LPIPS diversity: a research-style baseline against osmis_core.metrics, side by side.

SIFID (dims 64) of N generated 192x320 images against the training image:
  baseline - per image, recompute the training image's statistics, one image at a time, numpy covariances
             and scipy's sqrtm (what the published research code does);
  ours     - training statistics once, generated images batched, sqrtm-free exact Frechet distance.
LPIPS diversity over the N images (N (N - 1) / 2 pairs):
  baseline - lpips.LPIPS forward pair by pair (timed on a sample of pairs);
  ours     - one network pass per image, every pair from cached features.
Random-init networks (timing only; no weights needed). Repetitions are interleaved so that load from
other processes hits both sides alike; medians are reported.

    .venv/bin/python benchmarks/bench_metrics.py [--n 100] [--reps 3]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import warnings

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from osmis_core.metrics import SIFID, InceptionFeatures, LPIPSDiversity, build_inception, build_lpips


def make_images(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth random images with some fine noise: N x 3 x H x W in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(n, 3, h // 16, w // 16, generator=g), size=(h, w), mode="bicubic")
    return (coarse + 0.05 * torch.randn(n, 3, h, w, generator=g)).clamp(0, 1)


class ResearchSIFID:
    """The research code's way: for every generated image, both images' statistics, then sqrtm."""

    def __init__(self, inception: torch.nn.Module):
        self.layers = torch.nn.Sequential(inception.Conv2d_1a_3x3, inception.Conv2d_2a_3x3,
                                          inception.Conv2d_2b_3x3).eval()

    def stats(self, image: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            pred = self.layers(image[None] * 2 - 1)
        act = pred.cpu().numpy().transpose(0, 2, 3, 1).reshape(-1, pred.shape[1])
        return np.mean(act, axis=0), np.cov(act, rowvar=False)

    def score(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        mu1, s1 = self.stats(real)
        mu2, s2 = self.stats(fake)
        covmean = scipy.linalg.sqrtm(s1.dot(s2))
        if np.iscomplexobj(covmean):
            covmean = covmean.real
        diff = mu1 - mu2
        return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="generated images (default 100)")
    parser.add_argument("--size", type=int, nargs=2, default=(192, 320), metavar=("H", "W"))
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    parser.add_argument("--sifid-sample", type=int, default=20, help="images timed for the SIFID baseline")
    parser.add_argument("--lpips-pairs", type=int, default=200, help="pairs timed for the LPIPS baseline")
    args = parser.parse_args()
    h, w = args.size
    n_pairs = args.n * (args.n - 1) // 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.n} generated images {h}x{w}, "
          f"{n_pairs} pairs; medians of {args.reps} interleaved repetitions")

    real = make_images(1, h, w, seed=0)[0]
    fakes = make_images(args.n, h, w, seed=1)
    inception = build_inception(random_weights=True)
    lpips_model = build_lpips(random_weights=True)
    research = ResearchSIFID(inception)
    ours_sifid = SIFID(64, feature_extractor=InceptionFeatures(inception, 64))
    pairs = list(itertools.combinations(range(args.n), 2))
    sample_pairs = [pairs[i] for i in np.random.default_rng(0).choice(len(pairs), args.lpips_pairs, replace=False)]

    # Warm-up (first calls build oneDNN kernels).
    research.score(real, fakes[0])
    ours_sifid.set_real(real[None])
    ours_sifid.update(fakes[:8])
    with torch.no_grad():
        lpips_model(fakes[:1], fakes[1:2], normalize=True)

    # Dead ReLU channels of the random network make covariances singular; sqrtm copes, but warns.
    warnings.filterwarnings("ignore", category=scipy.linalg.LinAlgWarning)
    times = {key: [] for key in ("sifid_base", "sifid_ours", "sifid_forward", "lpips_base", "lpips_ours")}
    for _ in range(args.reps):
        dt, base_scores = timed(lambda: [research.score(real, f) for f in fakes[:args.sifid_sample]])
        times["sifid_base"].append(dt / args.sifid_sample)

        def ours_sifid_run():
            sifid = SIFID(64, feature_extractor=ours_sifid.net)  # fresh: real statistics included in the time
            sifid.set_real(real[None])
            sifid.update(fakes)
            return sifid.compute()
        dt, ours_scores = timed(ours_sifid_run)
        times["sifid_ours"].append(dt / args.n)
        with torch.inference_mode():
            dt, _ = timed(lambda: [ours_sifid.features(b) for b in fakes.split(ours_sifid.batch_size)])
        times["sifid_forward"].append(dt / args.n)

        with torch.no_grad():
            dt, base_pairs = timed(lambda: [float(lpips_model(fakes[i:i + 1], fakes[j:j + 1], normalize=True))
                                            for i, j in sample_pairs])
        times["lpips_base"].append(dt / len(sample_pairs))

        def ours_lpips_run():
            diversity = LPIPSDiversity(model=lpips_model)
            diversity.update(fakes)
            return diversity.compute(), diversity.pairwise()
        dt, (ours_mean, ours_matrix) = timed(ours_lpips_run)
        times["lpips_ours"].append(dt / n_pairs)

    sifid_diff = np.max(np.abs(ours_scores.per_image[:args.sifid_sample].numpy() - base_scores) / np.abs(base_scores))
    lpips_diff = max(abs(float(ours_matrix[i, j]) - v) / v for (i, j), v in zip(sample_pairs, base_pairs))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    sifid_speedup = med["sifid_base"] / med["sifid_ours"]
    lpips_speedup = med["lpips_base"] / med["lpips_ours"]
    print(f"SIFID dims 64   baseline {med['sifid_base']:8.2f} ms/image   ours {med['sifid_ours']:7.3f} ms/image   "
          f"speed-up {sifid_speedup:5.1f}x (target >= 4x: {'PASS' if sifid_speedup >= 4 else 'FAIL'})   "
          f"max rel. diff {sifid_diff:.1e}")
    print(f"                of which the network forward pass: ours {med['sifid_forward']:.3f} ms/image "
          f"(the baseline runs two per image)")
    print(f"LPIPS diversity baseline {med['lpips_base']:8.2f} ms/pair    ours {med['lpips_ours']:7.3f} ms/pair    "
          f"speed-up {lpips_speedup:5.1f}x (target >= 10x: {'PASS' if lpips_speedup >= 10 else 'FAIL'})   "
          f"max rel. diff {lpips_diff:.1e}")
    print(f"totals for {args.n} images: SIFID baseline {med['sifid_base'] * args.n / 1e3:.2f} s, "
          f"ours {med['sifid_ours'] * args.n / 1e3:.2f} s; LPIPS diversity baseline "
          f"{med['lpips_base'] * n_pairs / 1e3:.1f} s, ours {med['lpips_ours'] * n_pairs / 1e3:.2f} s "
          f"(mean LPIPS {ours_mean:.4f})")


if __name__ == "__main__":
    main()
