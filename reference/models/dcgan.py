"""DCGAN of pytorch/examples `dcgan/main.py` (Radford, Metz & Chintala 2016), 28/32/64/128 px.

For 64x64 (the example's size), with ``C`` image channels:

G: z (N, nz) as (N, nz, 1, 1) -> ConvT(nz, ngf*8, 4, 1, 0) BN ReLU        -> (ngf*8, 4, 4)
   -> ConvT(ngf*8, ngf*4, 4, 2, 1) BN ReLU -> ngf*2 -> ngf (each doubles)  -> (ngf, 32, 32)
   -> ConvT(ngf, C, 4, 2, 1) Tanh                                          -> x (N, C, 64, 64)
D: x (N, C, 64, 64) -> Conv(C, ndf, 4, 2, 1) LeakyReLU(0.2)               -> (ndf, 32, 32)
   -> Conv(ndf, ndf*2, 4, 2, 1) BN LeakyReLU(0.2) -> ndf*4 -> ndf*8       -> (ndf*8, 4, 4)
   -> Conv(ndf*8, 1, 4, 1, 0)                                              -> logits (N,)

Every conv has ``bias=False``. Other sizes change the number of stages, not their kind: the spatial
sizes halve from the image size down to 4 (64: 4-8-16-32-64; 32: 4-8-16-32; 28: 4-7-14-28; 128 adds
a stage with ngf*16). A step 4 <-> 7 uses kernel 3 instead of 4 (still stride 2, padding 1).
`weights_init` draws conv weights from N(0, 0.02) and BatchNorm weights from N(1, 0.02), biases 0.

With ``resize_conv`` (the registry's `dcgan-resize`), each stride-2 ConvTranspose2d of G becomes
Upsample(nearest, to the next size) then Conv(3, 1, 1): resize-convolution, which cannot draw the
checkerboard of uneven transposed-conv overlaps (Odena, Dumoulin & Olah 2016, "Deconvolution and
Checkerboard Artifacts"). Same channels and D; G's upsampling layers cost ~2.25x the multiply-adds.

With nz=100, ngf=ndf=64 on 3x64x64: G has 3,576,704 and D 2,765,568 trainable parameters.

Against mode collapse (reference/models/mitigations.py): with `pack` = m, D's first conv takes
m*C channels (m images concatenated along the channels); with `minibatch_std`, D appends the
batch's standard deviation as one constant feature map before its last conv, which then takes
ndf*8 + 1 channels (at 64 px).

Speed on a CPU, with the same function, parameters and state_dict as pytorch/examples:

- G's first layer, a ConvTranspose2d on a 1x1 input, is a fully connected layer, and so is D's
  last, whose kernel covers its whole 4x4 input. `DenseConvTranspose2d` and `DenseConv2d`
  (subclasses of the stock layers) compute them as one matmul; oneDNN ran them as
  convolutions at 1-20 GFLOP/s, a tenth of matmul speed or less.
- `build` stores the conv weights channels-last (NHWC), so every conv computes and returns
  NHWC activations, which oneDNN's kernels read directly. NCHW ones it copies into its own
  blocked layout and back around every conv: 22 ms of a 140 ms MNIST step on 2 cores; the
  weights alone now cost 4.5 ms.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference.models.mitigations import MinibatchStdDev

SIZES = (28, 32, 64, 128)


def size_ladder(size: int) -> list[int]:
    """Spatial sizes from 4 up to `size`, halving (rounding up).

    64 -> [4, 8, 16, 32, 64]; 28 -> [4, 7, 14, 28].
    """
    ladder = [size]
    while ladder[-1] > 4:
        ladder.append((ladder[-1] + 1) // 2)
    if ladder[-1] != 4 or len(ladder) < 3:
        raise ValueError(f"DCGAN cannot build a {size}x{size} image; sizes: {SIZES}")
    return ladder[::-1]


def _kernel(small: int, big: int) -> int:
    """Kernel of the stride-2, padding-1 (transposed) conv between sizes `small` and `big`."""
    return 4 if big == 2 * small else 3


class DenseConvTranspose2d(nn.ConvTranspose2d):
    """A ConvTranspose2d that runs as a fully connected layer on a 1x1 input (stride 1, no padding).

    Each output pixel is then a linear map of the input vector: out[n, o, i, j] = sum_c z[n, c]
    W[c, o, i, j], that is z (N, C_in) @ W (C_in, C_out*kh*kw): one matmul instead of a
    deconvolution on 1x1 images (oneDNN runs those at a tenth of matmul speed). The output
    (N, C_out, kh, kw) is channels-last. Any other input takes the stock path.
    """

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if (output_size is not None or x.shape[-2:] != (1, 1) or self.stride != (1, 1)
                or self.padding != (0, 0) or self.output_padding != (0, 0) or self.groups != 1):
            return super().forward(x, output_size)  # fmt: skip
        kh, kw = self.kernel_size
        w = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, -1)  # (C_in, kh*kw*C_out)
        out = (x.flatten(1) @ w).view(-1, kh, kw, self.out_channels).permute(0, 3, 1, 2)
        return out if self.bias is None else out + self.bias.view(1, -1, 1, 1)


class DenseConv2d(nn.Conv2d):
    """A Conv2d that runs as a fully connected layer when its kernel covers its unpadded input.

    x (N, C, kh, kw) -> out (N, C_out, 1, 1), out[n, o] = sum_{c,i,j} x[n, c, i, j] W[o, c, i, j]:
    x.flatten(1) @ W.flatten(1).T, one matmul instead of a convolution with a single output
    pixel (1 GFLOP/s in oneDNN). Any other input takes the stock path.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != self.kernel_size or self.padding != (0, 0) or self.groups != 1:
            return super().forward(x)
        # Flatten both in (kh, kw, C) order: free for channels-last x and W.
        xs = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        w = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)
        out = xs @ w.T if self.bias is None else torch.addmm(self.bias, xs, w.T)
        return out.view(-1, self.out_channels, 1, 1)


def weights_init(m: nn.Module) -> None:
    """DCGAN init for `net.apply`: conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0.

    A BatchNorm without affine parameters (`affine=False`, as in conditional BatchNorm, whose scale
    and shift come from the label) has none to set and is left as it is.
    """
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def upsampling(c_in: int, c_out: int, small: int, big: int, resize_conv: bool = False) -> list[nn.Module]:
    """G's step from (c_in, small, small) to (c_out, big, big): a stride-2 ConvTranspose2d, or with
    `resize_conv` nearest-neighbour upsampling to big x big followed by a 3x3 stride-1 conv."""
    if resize_conv:
        return [nn.Upsample(size=(big, big), mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]
    return [nn.ConvTranspose2d(c_in, c_out, _kernel(small, big), 2, 1, bias=False)]


class Generator(nn.Module):
    """z (N, nz) -> images (N, C, size, size) in [-1, 1]."""

    def __init__(
        self, nz: int = 100, ngf: int = 64, channels: int = 3, size: int = 64, resize_conv: bool = False
    ) -> None:
        super().__init__()
        ladder = size_ladder(size)
        mult = 2 ** (len(ladder) - 2)  # ngf*8 at 4x4 for 64 px
        layers: list[nn.Module] = [
            nn.Unflatten(1, (nz, 1, 1)),
            DenseConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * mult),
            nn.ReLU(True),
        ]
        for small, big in zip(ladder[:-2], ladder[1:-1]):
            layers += [
                *upsampling(ngf * mult, ngf * mult // 2, small, big, resize_conv),
                nn.BatchNorm2d(ngf * mult // 2),
                nn.ReLU(True),
            ]
            mult //= 2
        layers += [
            *upsampling(ngf, channels, ladder[-2], ladder[-1], resize_conv),
            nn.Tanh(),
        ]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """z (N, nz) -> x (N, C, size, size), contiguous (the convs run channels-last)."""
        return self.main(z).contiguous()


class Discriminator(nn.Module):
    """Images (N, C, size, size) -> logits (N,), no sigmoid; packs (N, pack*C, size, size) too."""

    def __init__(
        self, ndf: int = 64, channels: int = 3, size: int = 64, pack: int = 1, minibatch_std: bool = False
    ) -> None:
        super().__init__()
        ladder = size_ladder(size)[::-1]  # big to small: 64, 32, 16, 8, 4
        layers: list[nn.Module] = [
            nn.Conv2d(channels * pack, ndf, _kernel(ladder[1], ladder[0]), 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        mult = 1
        for big, small in zip(ladder[1:-1], ladder[2:]):
            layers += [
                nn.Conv2d(ndf * mult, ndf * mult * 2, _kernel(small, big), 2, 1, bias=False),
                nn.BatchNorm2d(ndf * mult * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            mult *= 2
        if minibatch_std:
            layers.append(MinibatchStdDev())
        layers.append(DenseConv2d(ndf * mult + int(minibatch_std), 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, size, size) -> logits (N,)."""
        return self.main(x).view(-1)


def build(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64, pack: int = 1, minibatch_std: bool = False,
    resize_conv: bool = False,
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for images of `shape` (C, size, size), size in SIZES, with `weights_init` applied.

    G upsamples by resize-convolution with `resize_conv` (`dcgan-resize`). D takes packs of `pack` images (N/pack, pack*C, size, size) and, with `minibatch_std`, the
    batch statistic of reference.models.mitigations before its last conv.
    """
    channels, height, width = shape
    if height != width:
        raise ValueError(f"DCGAN needs square images, got {shape}")
    netG = Generator(nz, ngf, channels, height, resize_conv)
    netD = Discriminator(ndf, channels, height, pack, minibatch_std)
    netG.apply(weights_init)
    netD.apply(weights_init)
    # NHWC weights make every conv compute and return NHWC, oneDNN's fastest layout; same values.
    netG.to(memory_format=torch.channels_last)
    netD.to(memory_format=torch.channels_last)
    return netG, netD


def build_resize(
    shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64, pack: int = 1, minibatch_std: bool = False
) -> tuple[nn.Module, nn.Module]:
    """`build` with resize-convolution in G: the registry's `dcgan-resize`."""
    return build(shape, nz, ngf, ndf, pack, minibatch_std, resize_conv=True)
