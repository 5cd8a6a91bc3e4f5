"""The classic fully connected GAN of the first MNIST GAN notebooks (one hidden layer each).

G: z (N, nz) -> Linear(nz, 256) -> LeakyReLU(0.2) -> Linear(256, C*H*W) -> Tanh -> x (N, C, H, W).
D: x (N, C, H, W) -> flatten -> Linear(C*H*W, 256) -> LeakyReLU(0.2) -> Linear(256, 1)
   -> logits (N,).

On MNIST (1, 28, 28) with nz=100: G has 227,344 and D 201,217 trainable parameters. The hidden
width is fixed at 256 (``ngf``/``ndf`` do not apply). PyTorch's default init is kept.

Against mode collapse (reference/models/mitigations.py): with `pack` = m, D takes m images
concatenated along the channels, (N/m, m*C, H, W), and its first layer becomes
Linear(m*C*H*W, 256); `minibatch_std` appends the batch statistic before Linear(257, 1).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from reference.models.mitigations import MinibatchStdDev

HIDDEN = 256


class Generator(nn.Module):
    """z (N, nz) -> images (N, *shape) in [-1, 1]."""

    def __init__(self, shape: tuple[int, int, int], nz: int = 100) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(nz, HIDDEN),
            nn.LeakyReLU(0.2),
            nn.Linear(HIDDEN, math.prod(shape)),
            nn.Tanh(),
            nn.Unflatten(1, tuple(shape)),
        )

    def forward(self, z: Tensor) -> Tensor:
        """z (N, nz) -> x (N, C, H, W)."""
        return self.main(z)


class Discriminator(nn.Module):
    """Images (N, *shape) -> logits (N,), no sigmoid; packs (N, pack*C, H, W) -> logits (N,)."""

    def __init__(self, shape: tuple[int, int, int], pack: int = 1, minibatch_std: bool = False) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(shape) * pack, HIDDEN),
            nn.LeakyReLU(0.2),
            *([MinibatchStdDev()] if minibatch_std else []),
            nn.Linear(HIDDEN + int(minibatch_std), 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (N, pack*C, H, W) -> logits (N,)."""
        return self.main(x).view(-1)


def build(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64, pack: int = 1, minibatch_std: bool = False
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for images of `shape` (C, H, W); `ngf` and `ndf` are ignored (fixed width 256)."""
    return Generator(shape, nz), Discriminator(shape, pack, minibatch_std)
