"""The 2-D Gaussian mixtures that mode-collapse papers test on.

Both follow PacGAN (Lin et al. 2018, Section 5.1), which reuses VEEGAN's benchmarks:
- ``ring``: 8 Gaussians with means (cos(2 pi i / 8), sin(2 pi i / 8)), standard deviation 0.01.
- ``grid``: 25 Gaussians with means (-4 + 2i, -4 + 2j), i, j in 0..4, standard deviation 0.05.
Modes are equally likely. A generated point counts as high quality when it lies within three
standard deviations of its nearest mean (the metric lives with the other metrics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic 2-D Gaussians: means (K, 2), one std."""

    means: torch.Tensor
    std: float

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]


def _ring() -> Mixture:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return Mixture(torch.stack([angles.cos(), angles.sin()], dim=1).float(), 0.01)


def _grid() -> Mixture:
    axis = torch.arange(5, dtype=torch.float32) * 2 - 4
    return Mixture(torch.cartesian_prod(axis, axis), 0.05)


MIXTURES: dict[str, Mixture] = {"ring": _ring(), "grid": _grid()}
TRAIN_POINTS, TEST_POINTS = 100_000, 10_000  # the points of a mixture's train and test splits, as loaded


def step_budget(batches: int, batch_size: int, n_points: int = TRAIN_POINTS) -> tuple[int, int]:
    """(points, epochs): `epochs` whole epochs over the first `points` of `n_points` make `batches` batches.

    A budget in steps (as papers state it) becomes the trainer's whole epochs: points is the largest
    multiple of batch_size, at most n_points and at most batches * batch_size, that divides
    batches * batch_size. 500 batches of 100 -> (50,000, 1); 8,000 of 100 -> (100,000, 8);
    2,500 of 100 (WGAN-GP's 500 steps) -> (62,500, 4).
    """
    if batches < 1 or not 1 <= batch_size <= n_points:
        raise ValueError(f"need batches >= 1 and 1 <= batch_size <= {n_points}, got {batches} and {batch_size}")
    total = batches * batch_size
    points = min(n_points // batch_size, batches) * batch_size
    while total % points:
        points -= batch_size
    return points, total // points


def sample_mixture(name: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw n points from mixture `name`: returns points float32 (n, 2) and mode indices int64 (n,)."""
    mixture = MIXTURES[name]
    gen = torch.Generator().manual_seed(seed)
    modes = torch.randint(mixture.n_modes, (n,), generator=gen)
    noise = torch.randn(n, 2, generator=gen) * mixture.std
    return mixture.means[modes] + noise, modes
