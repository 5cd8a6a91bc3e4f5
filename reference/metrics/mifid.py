"""Memorization-informed FID (MiFID), from Kaggle's "Generative Dog Images" competition (2019).

A generator that copies its training images gets an excellent FID. MiFID divides FID by a
memorization distance, so copying is punished:

    d     = mean over generated features f of  min over training features t of  1 - |cos(f, t)|
    d_thr = d if d < epsilon else 1
    MiFID = FID(generated, reference) / (d_thr + 1e-14)

Constants and details follow the competition's published metric code (its demo kernel, which
torchmetrics' `MemorizationInformedFrechetInceptionDistance` also follows):
- epsilon = 0.1 (`cosine_distance_eps` there): only a mean distance below 0.1 is a penalty;
- the cosine distance uses |cos|, which is the plain 1 - cos for non-negative features such as
  Inception pool3 (post-ReLU) features;
- all-zero feature rows are dropped (their cosine is undefined); the competition dropped rows
  whose features sum to 0, which is the same for non-negative features;
- 1e-14 (written `10e-15` there) is added to d_thr so that exact copies do not divide by 0.
In the competition both FID and d were measured against the training dogs; here the FID
reference set and the training set are separate arguments, and may be the same tensor.

torchmetrics averages the minimum over the *real* features instead of the generated ones, so it
agrees with `mifid(fake=its real, real_ref=its fake, train=its fake)`; this module follows Kaggle.
We also clamp each 1 - |cos| at 0, against round-off making it about -1e-16 for exact copies.
"""

from __future__ import annotations

import torch
from torch import Tensor

from reference.metrics.checks import MetricError, as_matrix
from reference.metrics.fid import fid

__all__ = ["MIFID_EPSILON", "memorization_distance", "mifid"]

MIFID_EPSILON = 0.1
"""The competition's threshold on the memorization distance (`cosine_distance_eps`)."""

_DIVISION_GUARD = 1e-14  # the competition's `fid_epsilon = 10e-15`


def _unit_rows(x: Tensor) -> Tensor:
    norms = x.norm(dim=1, keepdim=True)
    keep = norms.squeeze(1) > 0
    return x[keep] / norms[keep]


def memorization_distance(fake: Tensor, train: Tensor, batch: int = 1024) -> float:
    """Mean over fake (M, D) of the minimum cosine distance 1 - |cos| to any of train (N, D).

    All-zero rows are ignored. Returns a float in [0, 1].
    """
    f, t = _unit_rows(as_matrix(fake, "fake")), _unit_rows(as_matrix(train, "train"))
    if f.shape[0] == 0 or t.shape[0] == 0:
        raise MetricError("memorization_distance needs at least one non-zero feature row in fake and in train")
    if f.shape[1] != t.shape[1]:
        raise MetricError(f"fake has {f.shape[1]}-dim and train {t.shape[1]}-dim features; use one network")
    t = t.to(f.device)
    nearest = torch.cat([(1 - (rows @ t.T).abs()).min(dim=1).values for rows in f.split(batch)])
    return float(nearest.clamp(min=0).mean())


def mifid(fake: Tensor, real_ref: Tensor, train: Tensor, epsilon: float = MIFID_EPSILON) -> dict[str, float]:
    """MiFID of generated features fake (M, D).

    real_ref (N, D): the reference set for FID. train (T, D): the generator's training features,
    the set it must not copy. Returns {"fid", "distance" (d), "thresholded_distance" (d_thr), "mifid"}.
    """
    if not 0 < epsilon <= 1:
        raise MetricError(f"epsilon must be in (0, 1], got {epsilon} (the competition used {MIFID_EPSILON})")
    fid_value = fid(fake, real_ref)
    distance = memorization_distance(fake, train)
    thresholded = distance if distance < epsilon else 1.0
    return {
        "fid": fid_value,
        "distance": distance,
        "thresholded_distance": thresholded,
        "mifid": fid_value / (thresholded + _DIVISION_GUARD),
    }
