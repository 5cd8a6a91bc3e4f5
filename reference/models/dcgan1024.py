"""The 64x64 DC-GAN with a 1024-channel bottleneck, as drawn in the DCGAN paper's Figure 1.

Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks". G projects z with a dense layer; D ends with a dense layer.

G: z (N, nz) -> Linear(nz, 1024*4*4) -> reshape (1024, 4, 4) -> ReLU
   -> ConvT(1024, 512, 4, 2, 1) BN ReLU -> (512, 8, 8) -> 256 (16x16) -> 128 (32x32)
   -> ConvT(128, C, 4, 2, 1) Tanh -> x (N, C, 64, 64)
D: x (N, C, 64, 64) -> Conv(C, 128, 4, 2, 1) LeakyReLU(0.2) -> (128, 32, 32)
   -> Conv(128, 256) BN LReLU -> Conv(256, 512) BN LReLU -> Conv(512, 1024) BN LReLU -> (1024, 4, 4)
   -> flatten -> Linear(16384, 1) -> logits (N,)

Convs have ``bias=False``; the two Linear layers keep their bias. There is no BatchNorm right after
the projection. DCGAN `weights_init` is applied (convs and BatchNorm; Linear keeps PyTorch's init).
With nz=100 on 1x64x64: G has 12,668,672 and D 11,032,065 trainable parameters.
Widths are fixed (``ngf``/``ndf`` do not apply).
"""

from __future__ import annotations

from torch import Tensor, nn

from reference.models.dcgan import weights_init

SIZE = 64
WIDTHS = (1024, 512, 256, 128)  # G's channels at 4, 8, 16, 32 px; D's in reverse


class Generator(nn.Module):
    """z (N, nz) -> images (N, C, 64, 64) in [-1, 1]."""

    def __init__(self, nz: int = 100, channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Linear(nz, WIDTHS[0] * 4 * 4),
            nn.Unflatten(1, (WIDTHS[0], 4, 4)),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(WIDTHS[:-1], WIDTHS[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(WIDTHS[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """z (N, nz) -> x (N, C, 64, 64)."""
        return self.main(z)


class Discriminator(nn.Module):
    """Images (N, C, 64, 64) -> logits (N,), no sigmoid."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        widths = WIDTHS[::-1]  # 128, 256, 512, 1024
        layers: list[nn.Module] = [
            nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Flatten(), nn.Linear(widths[-1] * 4 * 4, 1)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, 64, 64) -> logits (N,)."""
        return self.main(x).view(-1)


def build(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for images of `shape` (C, 64, 64), `weights_init` applied; `ngf`/`ndf` are ignored."""
    channels, height, width = shape
    if (height, width) != (SIZE, SIZE):
        raise ValueError(f"dcgan-1024 builds 64x64 images only, got {shape}")
    netG, netD = Generator(nz, channels), Discriminator(channels)
    netG.apply(weights_init)
    netD.apply(weights_init)
    return netG, netD
