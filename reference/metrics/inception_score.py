"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

From a classifier's logits on generated images, IS = exp( E_x KL( p(y|x) || p(y) ) ), where
p(y) is the mean of p(y|x) over the images. It is high when each image is confidently one class
(p(y|x) peaked) and the classes are spread evenly (p(y) flat); it lies between 1 and K.

As in the authors' code, the N images are cut into `splits` consecutive, near-equal parts, IS is
computed on each part, and the mean and the population standard deviation (ddof = 0) over parts
are returned. Everything is done in float64 from log_softmax, so confident logits (p(y|x) that
underflow to 0) stay finite: p log p is taken as 0 where p = 0.

torchmetrics' `InceptionScore` differs in two ways: it shuffles the images before splitting and
reports the sample standard deviation (ddof = 1). With splits=1 both give the same score.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from reference.metrics.checks import MetricError, as_matrix

__all__ = ["inception_score"]


def _score(log_p: Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) for one split: log_p is log p(y|x), (n, K) float64."""
    log_marginal = torch.logsumexp(log_p, dim=0) - math.log(log_p.shape[0])  # log p(y), (K,)
    p = log_p.exp()
    kl = torch.where(p > 0, p * (log_p - log_marginal), torch.zeros_like(p)).sum(dim=1)
    return math.exp(float(kl.mean()))


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """IS of logits (N, K) (before softmax): (mean, std) over `splits` consecutive parts."""
    x = as_matrix(logits, "logits")
    n = x.shape[0]
    if not 1 <= splits <= n:
        raise MetricError(f"splits must be between 1 and the number of images ({n}), got {splits}")
    log_p = torch.log_softmax(x, dim=1)
    scores = torch.tensor(
        [_score(log_p[i * n // splits : (i + 1) * n // splits]) for i in range(splits)], dtype=torch.float64
    )
    return float(scores.mean()), float(scores.std(correction=0))
