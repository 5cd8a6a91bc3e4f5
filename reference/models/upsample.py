"""Upsample-and-convolve GAN of the Keras/TensorFlow "FashionGAN" tutorial, for 28x28 images.

G replaces transposed convs with nearest-neighbour upsampling followed by a 'same' conv, which
avoids checkerboard artefacts (Odena, Dumoulin & Olah 2016, "Deconvolution and Checkerboard
Artifacts"). Samples come from a sigmoid, so they lie in [0, 1] (data must be scaled to match).

G: z (N, nz) -> Linear(nz, 128*7*7) LReLU(0.2) -> reshape (128, 7, 7)
   -> Upsample x2 -> Conv(128, 128, 5, 'same') LReLU -> (128, 14, 14)
   -> Upsample x2 -> Conv(128, 128, 5, 'same') LReLU -> (128, 28, 28)
   -> Conv(128, 128, 4, 'same') LReLU -> Conv(128, 128, 4, 'same') LReLU
   -> Conv(128, C, 4, 'same') Sigmoid -> x (N, C, 28, 28)
D: x (N, C, 28, 28) -> 4 x [Conv(., 32/64/128/256, 5, 'valid') LReLU(0.2) Dropout(0.4)]
   -> (256, 12, 12)
   -> Flatten -> Dropout(0.4) -> Linear(36864, 1) -> logits (N,)

All layers have biases. nz defaults to 128. On 1x28x28: G has 2,155,137 and D 1,113,345 trainable
parameters. PyTorch's default init is kept (Keras would use Glorot-uniform); ``ngf``/``ndf`` do not
apply. Keras's 'same' padding for the even kernel 4 pads one pixel before and two after; an explicit
ZeroPad2d((1, 2, 1, 2)) does exactly that (PyTorch's padding='same' agrees but warns on every
even kernel).
"""

from __future__ import annotations

from torch import Tensor, nn

SIZE = 28
WIDTH = 128  # G's channels
D_WIDTHS = (32, 64, 128, 256)


def _same4(c_in: int, c_out: int) -> list[nn.Module]:
    """A 4x4 stride-1 conv with Keras 'same' padding (1 before, 2 after): size unchanged."""
    return [nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(c_in, c_out, 4)]


class Generator(nn.Module):
    """z (N, nz) -> images (N, C, 28, 28) in [0, 1]."""

    def __init__(self, nz: int = 128, channels: int = 1) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(nz, WIDTH * 7 * 7),
            nn.LeakyReLU(0.2),
            nn.Unflatten(1, (WIDTH, 7, 7)),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(WIDTH, WIDTH, 5, padding="same"),
            nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(WIDTH, WIDTH, 5, padding="same"),
            nn.LeakyReLU(0.2),
            *_same4(WIDTH, WIDTH),
            nn.LeakyReLU(0.2),
            *_same4(WIDTH, WIDTH),
            nn.LeakyReLU(0.2),
            *_same4(WIDTH, channels),
            nn.Sigmoid(),
        )

    def forward(self, z: Tensor) -> Tensor:
        """z (N, nz) -> x (N, C, 28, 28)."""
        return self.main(z)


class Discriminator(nn.Module):
    """Images (N, C, 28, 28) -> logits (N,), no sigmoid."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, size = channels, SIZE
        for c_out in D_WIDTHS:
            layers += [nn.Conv2d(c_in, c_out, 5), nn.LeakyReLU(0.2), nn.Dropout(0.4)]
            c_in, size = c_out, size - 4
        layers += [nn.Flatten(), nn.Dropout(0.4), nn.Linear(c_in * size * size, 1)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, 28, 28) -> logits (N,)."""
        return self.main(x).view(-1)


def build(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for images of `shape` (C, 28, 28); `ngf`/`ndf` are ignored."""
    channels, height, width = shape
    if (height, width) != (SIZE, SIZE):
        raise ValueError(f"upsample builds 28x28 images only, got {shape}")
    return Generator(nz, channels), Discriminator(channels)
