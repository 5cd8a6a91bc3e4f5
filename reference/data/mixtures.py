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


def sample_mixture(name: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw n points from mixture `name`: returns points float32 (n, 2) and mode indices int64 (n,)."""
    mixture = MIXTURES[name]
    gen = torch.Generator().manual_seed(seed)
    modes = torch.randint(mixture.n_modes, (n,), generator=gen)
    noise = torch.randn(n, 2, generator=gen) * mixture.std
    return mixture.means[modes] + noise, modes
