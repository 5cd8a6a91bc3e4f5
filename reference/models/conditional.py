"""Conditional DCGANs: G(z, y) and D(x, y) for labelled images (lesson 07).

Both take the DCGAN of `reference.models.dcgan` and feed it the class label y (int64 (N,), 0..K-1):

- ``cdcgan`` (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets", in DCGAN form):
  G reads z concatenated with one_hot(y), (N, nz + K); D reads the image with K extra channels,
  channel y all ones and the others zero, (N, C + K, H, W). Both networks are the plain DCGAN's
  with wider inputs.
- ``cdcgan-proj`` (Miyato & Koyama 2018, "cGANs with Projection Discriminator"): the same G; D
  computes the DCGAN features phi(x) (N, F) (its last conv's input, flattened) and scores
  psi(phi(x)) + <embed(y), phi(x)>, where psi is the DCGAN's last layer and embed an
  nn.Embedding(K, F). The label enters only through an inner product with the features, not
  at the input.

With nz=100, ngf=ndf=64, K=10 on 1x28x28 (MNIST): G has 878,464 parameters (the plain DCGAN's
837,504 plus 10 x 256 x 16 first-layer weights for the one-hot inputs); D has 442,112 (cdcgan:
431,872 plus 10 x 64 x 16 for the label planes) or 472,832 (cdcgan-proj: plus the 10 x 4,096
embedding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference.models import dcgan


class ConditionalGenerator(nn.Module):
    """z (N, nz), y (N,) int64 in [0, K) -> images (N, C, size, size) in [-1, 1]."""

    def __init__(self, nz: int, ngf: int, channels: int, size: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.net = dcgan.Generator(nz + num_classes, ngf, channels, size)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        """z (N, nz), y (N,) -> x (N, C, size, size)."""
        return self.net(torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1))


class ConcatDiscriminator(nn.Module):
    """Images (N, C, size, size) and labels (N,) -> logits (N,): one-hot label planes as extra channels."""

    def __init__(self, ndf: int, channels: int, size: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.net = dcgan.Discriminator(ndf, channels + num_classes, size)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """x (N, C, H, W), y (N,) -> logits (N,)."""
        n, _, h, w = x.shape
        planes = F.one_hot(y, self.num_classes).to(x.dtype).view(n, self.num_classes, 1, 1).expand(n, self.num_classes, h, w)
        return self.net(torch.cat([x, planes], dim=1))


class ProjectionDiscriminator(nn.Module):
    """Images (N, C, size, size) and labels (N,) -> logits (N,) = psi(phi(x)) + <embed(y), phi(x)>."""

    def __init__(self, ndf: int, channels: int, size: int, num_classes: int) -> None:
        super().__init__()
        plain = dcgan.Discriminator(ndf, channels, size)
        self.phi = plain.main[:-1]  # the DCGAN's features: (N, F_c, 4, 4)
        self.psi = plain.main[-1]  # its last layer: (N, F_c, 4, 4) -> (N, 1, 1, 1)
        features = self.psi.in_channels * 4 * 4
        self.embed = nn.Embedding(num_classes, features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """x (N, C, H, W), y (N,) -> logits (N,)."""
        h = self.phi(x)  # (N, F_c, 4, 4)
        # flatten in (4, 4, F_c) order, as DenseConv2d does: free for channels-last activations
        flat = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)
        return self.psi(h).view(-1) + (self.embed(y) * flat).sum(dim=1)


def _build(shape: tuple[int, ...], nz: int, ngf: int, ndf: int, num_classes: int, projection: bool) -> tuple[nn.Module, nn.Module]:
    channels, height, width = shape
    if height != width:
        raise ValueError(f"conditional DCGAN needs square images, got {shape}")
    netG = ConditionalGenerator(nz, ngf, channels, height, num_classes)
    netD = (ProjectionDiscriminator if projection else ConcatDiscriminator)(ndf, channels, height, num_classes)
    netG.apply(dcgan.weights_init)
    netD.apply(dcgan.weights_init)
    netG.to(memory_format=torch.channels_last)
    netD.to(memory_format=torch.channels_last)
    return netG, netD


def build_concat(shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64, *, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """(G, D) of ``cdcgan``: G (N, nz) + (N,) -> (N, *shape); D (N, *shape) + (N,) -> logits (N,)."""
    return _build(shape, nz, ngf, ndf, num_classes, projection=False)


def build_projection(shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64, *, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """(G, D) of ``cdcgan-proj``: the same G; D with a projection of embed(y) on its features."""
    return _build(shape, nz, ngf, ndf, num_classes, projection=True)
