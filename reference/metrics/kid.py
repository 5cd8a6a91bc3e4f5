"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy (MMD^2) between two feature sets under the cubic
polynomial kernel k(x, y) = (x . y / D + 1)^3, estimated without bias:

    MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
            - 2 sum_{i, j} k(x_i, y_j) / m^2

on m samples from each set. Being unbiased, it can be compared across sample sizes and can come
out slightly negative when both sets come from one distribution. To bound the O(m^2) cost, KID
averages the estimate over `subsets` random subsets of `subset_size` samples from each set (each
subset drawn without replacement) and reports the mean and the standard deviation over subsets.

This is the estimator of the authors' code and of torchmetrics' `KernelInceptionDistance`
(population standard deviation, ddof = 0, like both of them). Unlike torchmetrics, a subset size
larger than a set is clipped to that set's size instead of raising, and a seed makes it repeatable.
"""

from __future__ import annotations

import torch
from torch import Tensor

from reference.metrics.checks import MetricError, as_matrix

__all__ = ["polynomial_kernel", "mmd2_unbiased", "kid"]


def polynomial_kernel(x: Tensor, y: Tensor) -> Tensor:
    """k(x, y) = (x . y / D + 1)^3 for every pair: x (N, D), y (M, D) -> (N, M)."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 estimate between x (m, D) and y (m, D), m >= 2, as a 0-dim tensor."""
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.sum() / (m * m)


def kid(
    features_a: Tensor,
    features_b: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID between features_a (N, D) and features_b (M, D): (mean, std) over subsets, in float64.

    subset_size is clipped to min(N, M); each subset draws that many rows of each set without
    replacement, from a generator seeded with `seed`. Scores are often reported times 1000.
    """
    a, b = as_matrix(features_a, "features_a"), as_matrix(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"feature sets have {a.shape[1]} and {b.shape[1]} dimensions; extract both with one network")
    if subsets < 1:
        raise MetricError(f"subsets must be at least 1, got {subsets}")
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < 2:
        raise MetricError(
            f"KID needs subsets of at least 2 samples, got subset_size={subset_size} with "
            f"{a.shape[0]} and {b.shape[0]} samples; give each set at least 2 samples"
        )
    b = b.to(a.device)
    generator = torch.Generator().manual_seed(seed)
    scores = torch.empty(subsets, dtype=torch.float64)
    for s in range(subsets):
        rows_a = torch.randperm(a.shape[0], generator=generator)[:m].to(a.device)
        rows_b = torch.randperm(b.shape[0], generator=generator)[:m].to(a.device)
        scores[s] = mmd2_unbiased(a[rows_a], b[rows_b])
    return float(scores.mean()), float(scores.std(correction=0))
