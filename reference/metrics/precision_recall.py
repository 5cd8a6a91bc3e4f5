"""Improved precision and recall (Kynkäänniemi et al. 2019).

Each set of features stands for a manifold: the union of balls centred on its points, the ball of
a point reaching its k-th nearest neighbour in the same set (the point itself not counted).

- precision: the fraction of generated features inside the real manifold (are samples realistic?);
- recall: the fraction of real features inside the generated manifold (is the data covered?).

A point is inside when its distance to some centre is <= that centre's radius, as in the authors'
code (which also uses k = 3). Distances are Euclidean, computed in float64 with `torch.cdist`
in blocks of `batch` rows, so 10k x 10k sets need only `batch` x 10k distances at a time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from reference.metrics.checks import MetricError, as_matrix

__all__ = ["knn_radii", "inside_manifold", "precision_recall"]


def knn_radii(points: Tensor, k: int = 3, batch: int = 1024) -> Tensor:
    """Distance from each of points (N, D) to its k-th nearest other point: (N,) float64."""
    x = as_matrix(points, "points")
    if not 1 <= k < x.shape[0]:
        raise MetricError(f"k must be between 1 and N - 1 = {x.shape[0] - 1} (N points), got k={k}")
    # The (k+1)-th smallest distance in a row skips the point's zero distance to itself.
    return torch.cat([torch.cdist(rows, x).kthvalue(k + 1, dim=1).values for rows in x.split(batch)])


def inside_manifold(queries: Tensor, centres: Tensor, radii: Tensor, batch: int = 1024) -> Tensor:
    """For each of queries (M, D): is it within radii[j] of some centres[j]? Bool (M,)."""
    q, c = as_matrix(queries, "queries"), as_matrix(centres, "centres")
    radii = radii.to(device=c.device, dtype=torch.float64)
    return torch.cat([(torch.cdist(rows, c) <= radii).any(dim=1) for rows in q.to(c.device).split(batch)])


def precision_recall(real: Tensor, fake: Tensor, k: int = 3, batch: int = 1024) -> tuple[float, float]:
    """(precision, recall) of fake features (M, D) against real features (N, D)."""
    real, fake = as_matrix(real, "real"), as_matrix(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise MetricError(f"real has {real.shape[1]}-dim and fake {fake.shape[1]}-dim features; use one network")
    fake = fake.to(real.device)
    precision = inside_manifold(fake, real, knn_radii(real, k, batch), batch).double().mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k, batch), batch).double().mean()
    return float(precision), float(recall)
