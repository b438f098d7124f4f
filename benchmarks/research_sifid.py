"""The research code's SIFID loop, run inside the research code's own pinned environment (its environment.yml:
Python 3.8, torch 1.7.0, numpy 1.18.5, scipy 1.5.2), for a side-by-side baseline. Started by
`bench_metrics.py --research-python PY`; not part of the package and written for that old stack (no
torch.inference_mode, no newer syntax).

For every generated image, as the published loop does: the training image's and the generated image's uint8
arrays converted to float tensors, each through Inception's first three conv blocks (conv, batch norm, ReLU;
NCHW), per-position features to numpy, mean and np.cov of each, then scipy.linalg.sqrtm(S1 S2, disp=False).

Set-up of that environment (about 800 MB, from the package registry):
    python3.8 -m venv /tmp/research-env
    /tmp/research-env/bin/pip install torch==1.7.0 numpy==1.18.5 scipy==1.5.2

Usage (the parent writes INPUT.npz with the layer weights and the images): python research_sifid.py INPUT.npz
Prints one JSON line: {"ms_per_image": ..., "scores": [...], "versions": {...}}.
"""

import json
import sys
import time
import warnings

import numpy as np
import scipy
import scipy.linalg
import torch
from torch import nn

LAYERS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3")
STRIDES = (2, 1, 1)
PADDINGS = (0, 0, 1)


def conv_block(data, name, stride, padding):
    weight = torch.from_numpy(data[name + ".conv.weight"])
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, stride=stride, padding=padding, bias=False)
    bn = nn.BatchNorm2d(weight.shape[0], eps=0.001)
    with torch.no_grad():
        conv.weight.copy_(weight)
        for key in ("weight", "bias", "running_mean", "running_var"):
            getattr(bn, key).copy_(torch.from_numpy(data[name + ".bn." + key]))
    return nn.Sequential(conv, bn, nn.ReLU(inplace=True))


def statistics_of(model, image_uint8):
    """mean and covariance of the per-position features of one H x W x 3 uint8 image."""
    x = image_uint8.astype(np.float32)[None].transpose((0, 3, 1, 2)) / 255
    with torch.no_grad():
        pred = model(torch.from_numpy(x) * 2 - 1)
    act = pred.cpu().numpy().transpose(0, 2, 3, 1).reshape(-1, pred.shape[1])
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


def frechet(mu1, s1, mu2, s2):
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def main():
    data = np.load(sys.argv[1])
    torch.set_num_threads(int(data["threads"]))
    model = nn.Sequential(*(conv_block(data, n, s, p) for n, s, p in zip(LAYERS, STRIDES, PADDINGS))).eval()
    real, fakes = data["real"], data["fakes"]  # H x W x 3, N x H x W x 3 uint8
    warnings.simplefilter("ignore")  # dead ReLU channels of a random network make covariances singular

    def score(fake):
        return frechet(*statistics_of(model, real), *statistics_of(model, fake))

    score(fakes[0])  # warm-up
    start = time.perf_counter()
    scores = [score(f) for f in fakes]
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "ms_per_image": elapsed / len(fakes) * 1e3,
                "scores": scores,
                "versions": {
                    "python": sys.version.split()[0],
                    "torch": torch.__version__,
                    "numpy": np.__version__,
                    "scipy": scipy.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
