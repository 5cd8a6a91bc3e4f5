"""Input checks shared by the metrics: one-line errors for tensors a user passed in wrong.

Every metric takes plain feature or logit tensors. `as_matrix` turns one into a float64 (N, D)
tensor, or raises `MetricError` naming the argument, the shape it had and the shape it needs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from reference.errors import UserError

__all__ = ["MetricError", "as_matrix"]


class MetricError(UserError, ValueError):
    """Features, logits or options given to a metric that it cannot use."""


def as_matrix(x: Tensor, name: str, min_rows: int = 1) -> Tensor:
    """Return `x` as a float64 (N, D) tensor on its own device, checking N >= min_rows.

    x: (N, D) features or logits, any real dtype (numpy arrays are accepted too).
    name: the argument's name, used in the error message.
    """
    x = torch.as_tensor(x)
    if x.dim() != 2:
        raise MetricError(f"{name} must be a 2-D (N, D) tensor of features, got shape {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise MetricError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.shape[0] < min_rows:
        raise MetricError(f"{name} has {x.shape[0]} rows; this metric needs at least {min_rows}")
    x = x.to(torch.float64)
    if not torch.isfinite(x).all():
        raise MetricError(f"{name} contains NaN or infinite values; check the features you extracted")
    return x
