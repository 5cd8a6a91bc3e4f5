"""The DCGAN of the TensorFlow tutorial (tensorflow.org/tutorials/generative/dcgan), any size 4*s.

G starts at s x s with s = H // 4 (MNIST 28 -> 7, CIFAR-10 32 -> 8) and doubles twice:

G: z (N, nz) -> Linear(nz, 256*s*s, bias=False) BatchNorm1d LReLU(0.3) -> reshape (256, s, s)
   -> ConvT(256, 128, 5, 1, 2) BN LReLU(0.3)                    -> (128, s, s)
   -> ConvT(128, 64, 5, 2, 2, output_padding=1) BN LReLU(0.3)   -> (64, 2s, 2s)
   -> ConvT(64, C, 5, 2, 2, output_padding=1) Tanh              -> x (N, C, 4s, 4s)
D: x (N, C, 4s, 4s) -> Conv(C, 64, 5, 2, 2) LReLU(0.3) Dropout(0.3)  -> (64, 2s, 2s)
   -> Conv(64, 128, 5, 2, 2) LReLU(0.3) Dropout(0.3)                 -> (128, s, s)
   -> Flatten -> Linear(128*s*s, 1) -> logits (N,)

G has no biases (BatchNorm follows each layer); D has. LeakyReLU slope is 0.3, Keras's default that
the tutorial uses. PyTorch's default init and BatchNorm settings are kept (Keras: Glorot-uniform
init, BatchNorm momentum 0.99 / eps 1e-3); ``ngf``/``ndf`` do not apply.
MNIST (1, 28, 28): G 2,305,472, D 212,865 trainable parameters; CIFAR-10 (3, 32, 32): G 2,700,352,
D 217,985.
"""

from __future__ import annotations

from torch import Tensor, nn

SLOPE = 0.3


class Generator(nn.Module):
    """z (N, nz) -> images (N, C, 4s, 4s) in [-1, 1]."""

    def __init__(self, nz: int = 100, channels: int = 1, size: int = 28) -> None:
        super().__init__()
        s = size // 4
        self.main = nn.Sequential(
            nn.Linear(nz, 256 * s * s, bias=False),
            nn.BatchNorm1d(256 * s * s),
            nn.LeakyReLU(SLOPE),
            nn.Unflatten(1, (256, s, s)),
            nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(SLOPE),
            nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.LeakyReLU(SLOPE),
            nn.ConvTranspose2d(64, channels, 5, stride=2, padding=2, output_padding=1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        """z (N, nz) -> x (N, C, 4s, 4s)."""
        return self.main(z)


class Discriminator(nn.Module):
    """Images (N, C, 4s, 4s) -> logits (N,), no sigmoid."""

    def __init__(self, channels: int = 1, size: int = 28) -> None:
        super().__init__()
        s = size // 4
        self.main = nn.Sequential(
            nn.Conv2d(channels, 64, 5, stride=2, padding=2),
            nn.LeakyReLU(SLOPE),
            nn.Dropout(0.3),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),
            nn.LeakyReLU(SLOPE),
            nn.Dropout(0.3),
            nn.Flatten(),
            nn.Linear(128 * s * s, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, 4s, 4s) -> logits (N,)."""
        return self.main(x).view(-1)


def build(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for square images of `shape` (C, 4s, 4s); `ngf`/`ndf` are ignored."""
    channels, height, width = shape
    if height != width or height % 4:
        raise ValueError(f"tf-dcgan needs square images with a side divisible by 4, got {shape}")
    return Generator(nz, channels, height), Discriminator(channels, height)
