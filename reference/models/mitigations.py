"""Two discriminator changes against mode collapse: minibatch standard deviation and packing.

Both let D look at several samples at once, so a generator that puts all its samples in a few
modes becomes easy to reject: a batch of near-copies has a small spread, a pack of near-copies
looks unlike a pack of independent real samples.

- `MinibatchStdDev` (Karras, Aila, Laine & Lehtinen 2018, "Progressive growing of GANs",
  Section 3): D computes the standard deviation of every feature (every channel at every pixel)
  across the minibatch, averages them into one number, and appends it to each sample as one more
  feature (points, MLPs) or one more constant feature map (images) before its last layer.
  Here the statistic is taken over the whole batch that D is called on (the paper's Section 3;
  its code uses groups of 4); real and fake batches are separate calls, so each gets its own.
- `pack` (Lin, Khetan, Fanti & Oh 2018, "PacGAN"): D judges m samples at once, concatenated:
  points (N, 2) -> (N/m, 2m), images (N, C, H, W) -> (N/m, m*C, H, W). Only D's first layer
  widens. The trainer packs real with real and fake with fake, never mixing them.

`reference.trainer` applies both from `TrainConfig(pack=m, minibatch_std=True)`, or
`gan-course train --pack m --minibatch-std`; `mlp2d`, `mlp` and `dcgan` support them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MinibatchStdDev", "minibatch_std", "pack"]

EPS = 1e-8  # inside the square root: keeps its gradient finite when every sample is the same


def minibatch_std(x: Tensor) -> Tensor:
    """The mean over features of the per-feature standard deviation across the batch: a scalar.

    x: (N, F) or (N, C, H, W). For each feature f (each (c, h, w)), std_f = sqrt(mean_n (x_nf -
    mean_n x_nf)^2 + 1e-8), the biased (population) estimate; the result is mean_f std_f, shape ().
    """
    variance = x.float().var(dim=0, unbiased=False)
    return torch.sqrt(variance + EPS).mean().to(x.dtype)


class MinibatchStdDev(nn.Module):
    """Append the minibatch standard deviation as one more feature.

    x (N, F) -> (N, F + 1); x (N, C, H, W) -> (N, C + 1, H, W), the new channel constant.
    Every sample gets the same value, `minibatch_std(x)`. No parameters.
    """

    def forward(self, x: Tensor) -> Tensor:
        stat = minibatch_std(x)
        extra = stat.expand(x.shape[0], 1, *x.shape[2:])
        out = torch.cat([x, extra], dim=1)
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)  # keep DCGAN's NHWC layout
        return out

    def extra_repr(self) -> str:
        return "appends 1 feature: mean over features of the std across the batch"


def pack(x: Tensor, m: int) -> Tensor:
    """Concatenate each run of m consecutive samples into one: (N, C, ...) -> (N/m, m*C, ...).

    Pack k holds samples k*m, ..., k*m + m - 1 in that order: points (N, 2) -> (N/m, 2m) with
    row k = [x_km, x_km+1, ...]; images (N, C, H, W) -> (N/m, m*C, H, W), the channels of
    sample km first. m = 1 returns x itself. N must be divisible by m (a ValueError otherwise;
    `TrainConfig.validate` makes --batch-size a multiple of --pack).
    """
    if m == 1:
        return x
    n = x.shape[0]
    if m < 1 or n % m:
        raise ValueError(f"cannot pack {n} samples into groups of {m}")
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])
