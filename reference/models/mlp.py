"""The classic fully connected GAN of the first MNIST GAN notebooks (one hidden layer each).

G: z (N, nz) -> Linear(nz, 256) -> LeakyReLU(0.2) -> Linear(256, C*H*W) -> Tanh -> x (N, C, H, W).
D: x (N, C, H, W) -> flatten -> Linear(C*H*W, 256) -> LeakyReLU(0.2) -> Linear(256, 1)
   -> logits (N,).

On MNIST (1, 28, 28) with nz=100: G has 227,344 and D 201,217 trainable parameters. The hidden
width is fixed at 256 (``ngf``/``ndf`` do not apply). PyTorch's default init is kept.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

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
    """Images (N, *shape) -> logits (N,), no sigmoid."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(shape), HIDDEN),
            nn.LeakyReLU(0.2),
            nn.Linear(HIDDEN, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) -> logits (N,)."""
        return self.main(x).view(-1)


def build(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for images of `shape` (C, H, W); `ngf` and `ndf` are ignored (fixed width 256)."""
    return Generator(shape, nz), Discriminator(shape)
