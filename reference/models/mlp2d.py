"""MLP GAN for the 2-D Gaussian mixtures (ring of 8, grid of 25), in the PacGAN setup.

Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative adversarial
networks", following the 2-D experiments of VEEGAN (Srivastava et al. 2017):

G: z (N, nz) -> 4 x [Linear(., 400), BatchNorm1d(400), ReLU] -> Linear(400, 2) -> x (N, 2).
D: x (N, 2) -> 3 x [Linear(., 200), LeakyReLU(0.2)] -> Linear(200, 1) -> logits (N,).

Samples are unbounded points (no output activation); nz defaults to 2. With nz=2, G has 486,402
and D 81,201 trainable parameters. PyTorch's default init is kept; `ngf`/`ndf` do not apply.

Against mode collapse (reference/models/mitigations.py), D can take `pack` = m points at once,
(N/m, 2m), which widens its first layer to Linear(2m, 200) (400 (m - 1) more parameters), and
`minibatch_std`, which appends the batch's standard deviation statistic before the last layer,
Linear(201, 1) (1 more parameter).
"""

from __future__ import annotations

from torch import Tensor, nn

from reference.models.mitigations import MinibatchStdDev

G_HIDDEN, G_LAYERS = 400, 4
D_HIDDEN, D_LAYERS = 200, 3


class Generator(nn.Module):
    """z (N, nz) -> points (N, 2)."""

    def __init__(self, nz: int = 2, dim: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = nz
        for _ in range(G_LAYERS):
            layers += [nn.Linear(width, G_HIDDEN), nn.BatchNorm1d(G_HIDDEN), nn.ReLU()]
            width = G_HIDDEN
        layers.append(nn.Linear(width, dim))
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """z (N, nz) -> x (N, 2)."""
        return self.main(z)


class Discriminator(nn.Module):
    """Points (N, 2) -> logits (N,), no sigmoid; packed points (N, 2 pack) -> logits (N,)."""

    def __init__(self, dim: int = 2, pack: int = 1, minibatch_std: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim * pack
        for _ in range(D_LAYERS):
            layers += [nn.Linear(width, D_HIDDEN), nn.LeakyReLU(0.2)]
            width = D_HIDDEN
        if minibatch_std:
            layers.append(MinibatchStdDev())
            width += 1
        layers.append(nn.Linear(width, 1))
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, 2 * pack) -> logits (N,)."""
        return self.main(x).view(-1)


def build(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64, pack: int = 1, minibatch_std: bool = False
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for points of `shape` (2,); D takes packs of `pack` points; `ngf`, `ndf` are ignored."""
    (dim,) = shape
    return Generator(nz, dim), Discriminator(dim, pack, minibatch_std)
