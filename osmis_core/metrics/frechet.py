"""Frechet distance between Gaussians: d = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), as float64.

`frechet_distance` is the textbook computation with scipy's matrix square root (no deprecated arguments).
`FrechetReference` scores many Gaussians against one fixed reference without any sqrtm: for any factors
with F1^T F1 = S1 and F2^T F2 = S2, the non-zero eigenvalues of S1 S2 are the squared singular values of
F1 F2^T, so Tr((S1 S2)^(1/2)) = sum of sqrt(eig(M M^T)) with M = F1 F2^T, a small symmetric eigenproblem
of size min(rank factors). This is exact for singular covariances too, so it needs no diagonal offset.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import scipy.linalg
import torch


def _as_float64(x) -> torch.Tensor:
    return torch.as_tensor(x).to(torch.float64)


def gaussian_stats(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance (N-1 normalisation) of B sets of n samples: B x n x d -> B x d, B x d x d (float64).

    Computed in the samples' own precision, centred first (float32 features: ~1e-7 relative error of the
    covariance, at a third of the cost of float64), then returned in float64.
    """
    x = torch.as_tensor(samples)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    n = x.shape[1]
    if n < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {n}")
    rough_mean = x.mean(1, keepdim=True)  # B x 1 x d
    centred = x - rough_mean  # B x n x d
    residual = centred.mean(1)  # B x d: rounding error of rough_mean
    mu = rough_mean[:, 0].double() + residual.double()
    gram = (centred.transpose(1, 2) @ centred).double()  # B x d x d
    sigma = (gram - n * residual.double()[:, :, None] * residual.double()[:, None, :]) / (n - 1)
    return mu, sigma


def _sqrtm_or_none(matrix: np.ndarray) -> np.ndarray | None:
    """scipy's principal matrix square root, or None when the matrix is singular or the root not finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            root = scipy.linalg.sqrtm(matrix)
        except scipy.linalg.LinAlgWarning:
            return None
    return root if np.isfinite(root).all() else None


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet distance of two Gaussians with scipy.linalg.sqrtm (float64).

    A negligible imaginary part of the square root is discarded; if the product of the covariances is
    singular, `eps` is added to both diagonals and the root retried.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"inconsistent Gaussian shapes: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}"
        )
    covmean = _sqrtm_or_none(sigma1 @ sigma2)
    if covmean is None:
        offset = eps * np.eye(mu1.size)
        covmean = _sqrtm_or_none((sigma1 + offset) @ (sigma2 + offset))
        if covmean is None:
            raise ValueError("the covariance product has no usable square root even with a diagonal offset")
    if np.iscomplexobj(covmean):
        imaginary = np.abs(np.diagonal(covmean).imag).max()
        if imaginary > 1e-3:
            raise ValueError(f"the matrix square root has a non-negligible imaginary part ({imaginary:.3g})")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def _trace_sqrt(m: torch.Tensor) -> torch.Tensor:
    """Sum of square roots of the eigenvalues of symmetric PSD matrices: B x k x k -> B."""
    return torch.linalg.eigvalsh(m).clamp(min=0).sqrt().sum(-1)


class FrechetReference:
    """One reference Gaussian, kept as its mean and a factor F with F^T F = sigma, to score many exactly."""

    def __init__(self, mu: torch.Tensor, factor: torch.Tensor):
        self.mu = _as_float64(mu)  # d
        self.factor = _as_float64(factor)  # k x d, k <= d
        self.trace = (self.factor**2).sum()  # Tr(sigma) = ||F||_F^2

    @classmethod
    def from_stats(cls, mu, sigma) -> FrechetReference:
        """Reference from a mean (d) and covariance (d x d); the factor is the symmetric square root."""
        evals, evecs = torch.linalg.eigh(_as_float64(sigma))
        root = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T  # d x d
        return cls(mu, root)

    @classmethod
    def from_samples(cls, samples: torch.Tensor) -> FrechetReference:
        """Reference fitted to n x d samples; with n < d the centred samples themselves are the factor."""
        x = _as_float64(samples)
        n, d = x.shape
        if n < d:
            mu = x.mean(0)  # d
            return cls(mu, (x - mu) / math.sqrt(n - 1))
        mu, sigma = gaussian_stats(x[None])
        return cls.from_stats(mu[0], sigma[0])

    def distances(self, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Frechet distances of B Gaussians (B x d, B x d x d) to the reference -> B (float64)."""
        mu, sigma = _as_float64(mu), _as_float64(sigma)
        m = self.factor @ sigma @ self.factor.T  # B x k x k
        return (
            ((mu - self.mu) ** 2).sum(-1)
            + self.trace
            + torch.diagonal(sigma, dim1=-2, dim2=-1).sum(-1)
            - 2 * _trace_sqrt(m)
        )

    def distances_from_factors(self, mu: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
        """Distances of B Gaussians given as means (B x d) and factors (B x k2 x d, F^T F = sigma) -> B."""
        m = factors @ self.factor.T  # B x k2 x k
        gram = m.transpose(1, 2) @ m if m.shape[2] <= m.shape[1] else m @ m.transpose(1, 2)
        return ((mu - self.mu) ** 2).sum(-1) + self.trace + (factors**2).sum((1, 2)) - 2 * _trace_sqrt(gram)


def distances_to_references(references: Sequence[FrechetReference], samples: torch.Tensor) -> torch.Tensor:
    """Frechet distances of B sample sets (B x n x d) to each reference -> T x B (float64).

    The statistics of the samples are computed once and shared by all references.
    """
    n, d = samples.shape[1:]
    if n < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {n}")
    if n < d:  # low rank: the centred samples are a cheaper factor than the d x d covariance
        x = _as_float64(samples)
        mu = x.mean(1)  # B x d
        factors = (x - mu[:, None]) / math.sqrt(n - 1)  # B x n x d
        return torch.stack([ref.distances_from_factors(mu, factors) for ref in references])
    mu, sigma = gaussian_stats(samples)
    return torch.stack([ref.distances(mu, sigma) for ref in references])


def frechet_distances(mu1, sigma1, mu2, sigma2) -> torch.Tensor:
    """Batched Frechet distance of B Gaussians (B x d, B x d x d) to one Gaussian (d, d x d) -> B."""
    return FrechetReference.from_stats(mu1, sigma1).distances(mu2, sigma2)
