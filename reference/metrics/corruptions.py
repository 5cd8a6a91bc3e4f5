"""Image sets that a metric should score worse than real data: corrupted and narrowed real images.

Lesson 5 and `benchmarks/metric_sanity.py` feed these to FID, KID, precision/recall and the
Inception Score to see what each metric notices:

    noisy = add_gaussian_noise(images, std=0.1, rng=0)       # pixel noise, std in [0, 1] units
    blurred = gaussian_blur(images, sigma=1.0)               # lost detail
    some = keep_classes(images, labels, classes=range(5))    # dropped modes: digits 0-4 only
    noise = uniform_noise(5000, (1, 28, 28), rng=0)          # no digits at all

Images are uint8 (N, C, H, W) in [0, 255], the form `reference.data` keeps datasets in and the
feature extractors take; every function returns a new uint8 tensor and leaves its input as it was.
Random functions take `rng`: an int seed (a fresh generator) or a `torch.Generator` to draw from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torchvision.transforms.functional as TF
from torch import Tensor

from reference.metrics.checks import MetricError

__all__ = ["add_gaussian_noise", "gaussian_blur", "keep_classes", "uniform_noise"]


def _generator(rng: int | torch.Generator) -> torch.Generator:
    return rng if isinstance(rng, torch.Generator) else torch.Generator().manual_seed(int(rng))


def _check_uint8(images: Tensor) -> Tensor:
    images = torch.as_tensor(images)
    if images.dim() != 4 or images.dtype != torch.uint8:
        raise MetricError(
            f"corruptions take uint8 images (N, C, H, W) in [0, 255], got {images.dtype} of shape "
            f"{tuple(images.shape)}; convert [0, 1] floats with (x * 255).round().to(torch.uint8)"
        )
    return images


def _to_uint8(x: Tensor) -> Tensor:
    return x.round_().clamp_(0, 255).to(torch.uint8)


def add_gaussian_noise(images: Tensor, std: float, rng: int | torch.Generator = 0) -> Tensor:
    """images (N, C, H, W) uint8 plus N(0, std^2) noise per pixel, std in [0, 1] pixel units.

    Computed as x / 255 + std * eps, clipped to [0, 1] and rounded back to uint8 (N, C, H, W).
    std = 0 returns an unchanged copy.
    """
    images = _check_uint8(images)
    if not std >= 0:
        raise MetricError(f"noise std must be >= 0 (in [0, 1] pixel units), got {std}")
    noise = torch.randn(images.shape, generator=_generator(rng))
    return _to_uint8(images.float() + noise.mul_(255.0 * std))


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """images (N, C, H, W) uint8 blurred by a Gaussian of std `sigma` pixels, as uint8 (N, C, H, W).

    The kernel spans 2 * ceil(3 sigma) + 1 pixels (7 for sigma = 1), edges reflected
    (torchvision's `gaussian_blur`); sigma = 0 returns an unchanged copy.
    """
    images = _check_uint8(images)
    if not sigma >= 0:
        raise MetricError(f"blur sigma must be >= 0 pixels, got {sigma}")
    if sigma == 0:
        return images.clone()
    size = 2 * math.ceil(3 * sigma) + 1
    return _to_uint8(TF.gaussian_blur(images.float(), kernel_size=size, sigma=float(sigma)))


def keep_classes(images: Tensor, labels: Tensor, classes: Iterable[int], n: int | None = None) -> Tensor:
    """The images (N, C, H, W) whose label (N,) is in `classes`, in their order: the first n of them.

    A generator that has dropped the other modes. n None: all of them; asking for more than there
    are is an error (shuffle the images first for a random choice).
    """
    labels = torch.as_tensor(labels)
    if labels.shape != images.shape[:1]:
        raise MetricError(f"need one label per image: {images.shape[0]} images but labels of shape {tuple(labels.shape)}")
    wanted = torch.as_tensor(list(classes), dtype=labels.dtype)
    chosen = images[torch.isin(labels, wanted)]
    if n is not None and n > chosen.shape[0]:
        raise MetricError(
            f"only {chosen.shape[0]} images have a label in {wanted.tolist()}, {n} were asked for; ask for at most that many"
        )
    return chosen if n is None else chosen[:n]


def uniform_noise(n: int, shape: tuple[int, ...], rng: int | torch.Generator = 0) -> Tensor:
    """n images of uniform noise: uint8 (n, *shape), each pixel uniform on {0, ..., 255}."""
    return torch.randint(0, 256, (n, *shape), generator=_generator(rng), dtype=torch.uint8)
