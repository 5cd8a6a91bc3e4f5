"""Fréchet distance between feature Gaussians: the mathematics of FID (Heusel et al. 2017).

FID fits a Gaussian to each set of features (in practice Inception pool3 features, D = 2048) and
returns the squared Fréchet (2-Wasserstein) distance between the two Gaussians:

    d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr( (S1 S2)^(1/2) ).

The trace of the matrix square root is computed from eigenvalues, as torchmetrics does:
S1 S2 is similar to the symmetric positive semi-definite S1^(1/2) S2 S1^(1/2), so its eigenvalues
are real and >= 0, and tr((S1 S2)^(1/2)) is the sum of their square roots. Round-off makes them
slightly complex or negative; we keep the real parts and clamp them at 0. We do not use
`scipy.linalg.sqrtm` (pytorch-fid's route): its `disp` argument is gone in SciPy 1.18.

`FrechetStats` accumulates the statistics in float64 over batches (a count, the sum of features
and the sum of their outer products), so features never have to sit in memory all at once, and
statistics from several workers can be merged.

FID is biased upward when there are few samples, and badly so when a set has no more samples than
feature dimensions (the covariance is then rank-deficient). `fid` warns with `SmallSampleWarning`
in that case; KID (`reference.metrics.kid`) is unbiased and is the better choice for small sets.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from reference.metrics.checks import MetricError, as_matrix

__all__ = ["FrechetStats", "SmallSampleWarning", "frechet_distance", "fid"]


class SmallSampleWarning(UserWarning):
    """A feature set has no more samples than dimensions, so its covariance is rank-deficient."""


class FrechetStats:
    """Streaming float64 statistics of a feature set: count n, sum (D,), sum of x x^T (D, D).

    Use `update(features)` once per batch, then read `mean` (D,) and `covariance` (D, D).
    `a.merge(b)` (or `a + b`) returns the statistics of both sets together.
    """

    def __init__(self, num_features: int | None = None) -> None:
        """num_features: D, or None to take it from the first batch."""
        self.n = 0
        self.total: Tensor | None = None
        self.outer: Tensor | None = None
        if num_features is not None:
            self._allocate(num_features, torch.device("cpu"))

    def _allocate(self, num_features: int, device: torch.device) -> None:
        self.total = torch.zeros(num_features, dtype=torch.float64, device=device)
        self.outer = torch.zeros(num_features, num_features, dtype=torch.float64, device=device)

    @classmethod
    def from_features(cls, features: Tensor) -> FrechetStats:
        """Statistics of one (N, D) tensor of features."""
        return cls().update(features)

    @property
    def num_features(self) -> int | None:
        """D, or None before the first update."""
        return None if self.total is None else self.total.shape[0]

    def update(self, features: Tensor) -> FrechetStats:
        """Add a batch of features (N, D) to the sums; returns self so calls can be chained."""
        x = as_matrix(features, "features")
        if self.total is None:
            self._allocate(x.shape[1], x.device)
        if x.shape[1] != self.num_features:
            raise MetricError(
                f"features have {x.shape[1]} dimensions but earlier batches had {self.num_features}; "
                "use one feature extractor for the whole set"
            )
        x = x.to(self.total.device)
        self.n += x.shape[0]
        self.total += x.sum(dim=0)
        self.outer += x.T @ x
        return self

    def _require(self, at_least: int) -> None:
        if self.n < at_least:
            raise MetricError(f"these statistics hold {self.n} samples; at least {at_least} are needed")

    @property
    def mean(self) -> Tensor:
        """Mean feature, float64 (D,)."""
        self._require(1)
        return self.total / self.n

    @property
    def covariance(self) -> Tensor:
        """Unbiased sample covariance (divided by n - 1), float64 (D, D)."""
        self._require(2)
        mean = self.mean
        return (self.outer - self.n * torch.outer(mean, mean)) / (self.n - 1)

    def merge(self, other: FrechetStats) -> FrechetStats:
        """New statistics of the union of both sets (neither input is changed)."""
        if self.total is None:
            return other._copy()
        if other.total is None:
            return self._copy()
        if other.num_features != self.num_features:
            raise MetricError(
                f"cannot merge statistics of {self.num_features}-dim and {other.num_features}-dim features"
            )
        merged = self._copy()
        merged.n += other.n
        merged.total += other.total.to(merged.total.device)
        merged.outer += other.outer.to(merged.outer.device)
        return merged

    __add__ = merge

    def _copy(self) -> FrechetStats:
        copy = FrechetStats()
        copy.n = self.n
        if self.total is not None:
            copy.total, copy.outer = self.total.clone(), self.outer.clone()
        return copy

    def __repr__(self) -> str:
        return f"FrechetStats(n={self.n}, num_features={self.num_features})"


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as a Python float.

    mu1, mu2: means (D,). sigma1, sigma2: covariances (D, D), symmetric positive semi-definite.
    Computed in float64; tr((S1 S2)^(1/2)) is the sum of square roots of the eigenvalues of
    S1 S2 (real parts, clamped at 0). The result is clamped at 0 against round-off.
    """
    mu1, mu2 = (torch.as_tensor(m, dtype=torch.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (torch.as_tensor(s, dtype=torch.float64).to(mu1.device) for s in (sigma1, sigma2))
    mu2 = mu2.to(mu1.device)
    d = mu1.shape[-1]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise MetricError(
            f"frechet_distance needs means (D,) and covariances (D, D) of one D, got "
            f"{tuple(mu1.shape)}, {tuple(sigma1.shape)}, {tuple(mu2.shape)}, {tuple(sigma2.shape)}"
        )
    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
    trace_sqrt = eigenvalues.sqrt().sum()
    value = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return max(float(value), 0.0)


def _stats(features: Tensor | FrechetStats, name: str) -> FrechetStats:
    if isinstance(features, FrechetStats):
        return features
    return FrechetStats.from_features(as_matrix(features, name))


def warn_if_small(stats: FrechetStats, name: str) -> None:
    """Warn with `SmallSampleWarning` when `stats` has no more samples than dimensions."""
    n, d = stats.n, stats.num_features
    if d is not None and n <= d:
        warnings.warn(
            f"{name} has {n} samples of {d}-dim features: its covariance has rank at most {n - 1} < {d}, "
            f"so FID is biased upward and not comparable with FID on other sample sizes; use more than "
            f"{d} samples (FID is usually reported on 50000) or use KID, which is unbiased",
            SmallSampleWarning,
            stacklevel=3,
        )


def fid(features_a: Tensor | FrechetStats, features_b: Tensor | FrechetStats) -> float:
    """FID between two feature sets: (N, D) and (M, D) tensors, or their `FrechetStats`.

    Warns with `SmallSampleWarning` when a set has N <= D samples. Returns a float >= 0.
    """
    a, b = _stats(features_a, "features_a"), _stats(features_b, "features_b")
    if a.num_features != b.num_features:
        raise MetricError(
            f"feature sets have {a.num_features} and {b.num_features} dimensions; extract both with one network"
        )
    warn_if_small(a, "features_a")
    warn_if_small(b, "features_b")
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)
