"""Speed of SIFID and LPIPS diversity: a research-style baseline against osmis_core.metrics, side by side.

SIFID (dims 64) of N generated 192x320 images against the training image:
  baseline - per image, recompute the training image's statistics, one image at a time, numpy covariances
             and scipy's sqrtm (what the published research code does);
  ours     - training statistics once, generated images batched, sqrtm-free exact Frechet distance.
LPIPS diversity over the N images (N (N - 1) / 2 pairs):
  baseline - lpips.LPIPS forward pair by pair (timed on a sample of pairs);
  ours     - one network pass per image, every pair from cached features.
  research - with --research-python PY: the baseline loop run by benchmarks/research_sifid.py inside the
             research code's own pinned environment (Python 3.8, torch 1.7.0, numpy 1.18.5, scipy 1.5.2; see
             that file for its set-up), on the same weights and images.
Random-init networks (timing only; no weights needed). Images are quantised to uint8 (what a gallery holds).
Repetitions are interleaved so that load from other processes hits every side alike; medians are reported.

    .venv/bin/python benchmarks/bench_metrics.py [--n 100] [--reps 3] [--research-python /tmp/research-env/bin/python]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from osmis_core.metrics import SIFID, InceptionFeatures, LPIPSDiversity, build_inception, build_lpips


def make_images(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth random images with some fine noise, quantised to 8 bits: N x 3 x H x W in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(n, 3, h // 16, w // 16, generator=g), size=(h, w), mode="bicubic")
    return ((coarse + 0.05 * torch.randn(n, 3, h, w, generator=g)).clamp(0, 1) * 255).round() / 255


def as_uint8(images: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W in [0, 1] -> N x H x W x 3 uint8."""
    return (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def write_research_input(path: Path, inception: torch.nn.Module, real: torch.Tensor, fakes: torch.Tensor) -> None:
    """The three conv blocks' weights and the images, for research_sifid.py in the old environment."""
    state = {
        k: v.numpy()
        for k, v in inception.state_dict().items()
        if k.split(".")[0] in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3") and v.dtype.is_floating_point
    }
    np.savez(path, real=as_uint8(real[None])[0], fakes=as_uint8(fakes), threads=torch.get_num_threads(), **state)


def run_research(python: str, input_path: Path) -> dict:
    script = Path(__file__).with_name("research_sifid.py")
    done = subprocess.run([python, str(script), str(input_path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


class ResearchSIFID:
    """The research code's way: for every generated image, both images' statistics, then sqrtm."""

    def __init__(self, inception: torch.nn.Module):
        self.layers = torch.nn.Sequential(
            inception.Conv2d_1a_3x3, inception.Conv2d_2a_3x3, inception.Conv2d_2b_3x3
        ).eval()

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
    parser.add_argument("--sifid-batch-sizes", default="", help="also time ours at these SIFID batch sizes, e.g. 2,4,8")
    parser.add_argument(
        "--research-python",
        help="interpreter of the research code's pinned environment "
        "(see research_sifid.py): also time its SIFID loop there",
    )
    args = parser.parse_args()
    h, w = args.size
    n_pairs = args.n * (args.n - 1) // 2
    print(
        f"torch {torch.__version__}, scipy {scipy.__version__}, {torch.get_num_threads()} threads; "
        f"{args.n} generated images {h}x{w}, "
        f"{n_pairs} pairs; medians of {args.reps} interleaved repetitions"
    )

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
    extra_sizes = [int(b) for b in args.sifid_batch_sizes.split(",") if b]
    times = {
        key: []
        for key in (
            "sifid_base",
            "sifid_ours",
            "sifid_forward",
            "lpips_base",
            "lpips_ours",
            *(f"sifid_ours_batch{b}" for b in extra_sizes),
        )
    }
    if args.research_python:
        research_input = Path(tempfile.mkdtemp()) / "research_input.npz"
        write_research_input(research_input, inception, real, fakes[: args.sifid_sample])
        times["sifid_research"] = []
    for _ in range(args.reps):
        dt, base_scores = timed(lambda: [research.score(real, f) for f in fakes[: args.sifid_sample]])
        times["sifid_base"].append(dt / args.sifid_sample)
        if args.research_python:
            research_run = run_research(args.research_python, research_input)
            times["sifid_research"].append(research_run["ms_per_image"] / 1e3)

        def ours_sifid_run(batch_size=None):
            sifid = SIFID(64, feature_extractor=ours_sifid.net, batch_size=batch_size)  # fresh: real stats included
            sifid.set_real(real[None])
            sifid.update(fakes)
            return sifid.compute()

        dt, ours_scores = timed(ours_sifid_run)
        times["sifid_ours"].append(dt / args.n)
        for b in extra_sizes:
            times[f"sifid_ours_batch{b}"].append(timed(lambda b=b: ours_sifid_run(b))[0] / args.n)
        with torch.inference_mode():
            dt, _ = timed(lambda: [ours_sifid.features(b) for b in fakes.split(ours_sifid.batch_size)])
        times["sifid_forward"].append(dt / args.n)

        with torch.no_grad():
            dt, base_pairs = timed(
                lambda: [
                    float(lpips_model(fakes[i : i + 1], fakes[j : j + 1], normalize=True)) for i, j in sample_pairs
                ]
            )
        times["lpips_base"].append(dt / len(sample_pairs))

        def ours_lpips_run():
            diversity = LPIPSDiversity(model=lpips_model)
            diversity.update(fakes)
            return diversity.compute(), diversity.pairwise()

        dt, (ours_mean, ours_matrix) = timed(ours_lpips_run)
        times["lpips_ours"].append(dt / n_pairs)

    sifid_diff = np.max(np.abs(ours_scores.per_image[: args.sifid_sample].numpy() - base_scores) / np.abs(base_scores))
    lpips_diff = max(abs(float(ours_matrix[i, j]) - v) / v for (i, j), v in zip(sample_pairs, base_pairs))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    sifid_speedup = med["sifid_base"] / med["sifid_ours"]
    lpips_speedup = med["lpips_base"] / med["lpips_ours"]
    print(
        f"SIFID dims 64   baseline {med['sifid_base']:8.2f} ms/image   ours {med['sifid_ours']:7.3f} ms/image   "
        f"speed-up {sifid_speedup:5.1f}x (target >= 4x: {'PASS' if sifid_speedup >= 4 else 'FAIL'})   "
        f"max rel. diff {sifid_diff:.1e}"
    )
    print(
        f"                of which the network forward pass: ours {med['sifid_forward']:.3f} ms/image "
        f"(the baseline runs two per image)"
    )
    if args.research_python:
        env = ", ".join(f"{k} {v}" for k, v in research_run["versions"].items())
        research_diff = np.max(
            np.abs(ours_scores.per_image[: args.sifid_sample].numpy() - research_run["scores"])
            / np.abs(research_run["scores"])
        )
        research_speedup = med["sifid_research"] / med["sifid_ours"]
        print(
            f"SIFID dims 64   research env {med['sifid_research']:8.2f} ms/image ({env})   "
            f"speed-up {research_speedup:5.1f}x (target >= 4x: {'PASS' if research_speedup >= 4 else 'FAIL'})   "
            f"max rel. diff {research_diff:.1e}"
        )
    for b in extra_sizes:
        print(f"                ours at batch size {b}: {med[f'sifid_ours_batch{b}']:.3f} ms/image")
    print(
        f"LPIPS diversity baseline {med['lpips_base']:8.2f} ms/pair    ours {med['lpips_ours']:7.3f} ms/pair    "
        f"speed-up {lpips_speedup:5.1f}x (target >= 10x: {'PASS' if lpips_speedup >= 10 else 'FAIL'})   "
        f"max rel. diff {lpips_diff:.1e}"
    )
    print(
        f"totals for {args.n} images: SIFID baseline {med['sifid_base'] * args.n / 1e3:.2f} s, "
        f"ours {med['sifid_ours'] * args.n / 1e3:.2f} s; LPIPS diversity baseline "
        f"{med['lpips_base'] * n_pairs / 1e3:.1f} s, ours {med['lpips_ours'] * n_pairs / 1e3:.2f} s "
        f"(mean LPIPS {ours_mean:.4f})"
    )


if __name__ == "__main__":
    main()
