"""Tests for reference/metrics/corruptions.py: the image sets lesson 5 and metric_sanity.py score."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF

from reference.metrics.checks import MetricError
from reference.metrics.corruptions import add_gaussian_noise, gaussian_blur, keep_classes, uniform_noise


def _images(n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 12, 12), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_noise_std_zero_is_an_unchanged_copy():
    x = _images()
    y = add_gaussian_noise(x, 0.0)
    assert y.dtype == torch.uint8 and torch.equal(x, y) and y.data_ptr() != x.data_ptr()


def test_noise_has_the_asked_std_in_pixel_units():
    grey = torch.full((200, 1, 16, 16), 128, dtype=torch.uint8)  # far from 0 and 255: no clipping at std 0.1
    diff = add_gaussian_noise(grey, 0.1, rng=3).float() - 128
    assert abs(diff.mean().item()) < 0.3
    assert diff.std().item() == pytest.approx(25.5, rel=0.02)


def test_noise_is_seeded_clipped_and_leaves_input_alone():
    x = _images()
    before = x.clone()
    a, b, c = add_gaussian_noise(x, 0.5, rng=1), add_gaussian_noise(x, 0.5, rng=1), add_gaussian_noise(x, 0.5, rng=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, before)
    black = add_gaussian_noise(torch.zeros(100, 1, 8, 8, dtype=torch.uint8), 0.2, rng=0)
    assert black.min() == 0 and 0.4 < (black == 0).float().mean() < 0.6  # negative noise clipped to 0


def test_noise_draws_from_a_given_generator():
    gen = torch.Generator().manual_seed(5)
    first, second = add_gaussian_noise(_images(), 0.3, gen), add_gaussian_noise(_images(), 0.3, gen)
    assert not torch.equal(first, second)  # the generator advanced
    assert torch.equal(first, add_gaussian_noise(_images(), 0.3, torch.Generator().manual_seed(5)))


def test_blur_spreads_a_point_and_keeps_flat_images():
    point = torch.zeros(1, 1, 15, 15, dtype=torch.uint8)
    point[0, 0, 7, 7] = 255
    blurred = gaussian_blur(point, 1.0)
    assert blurred.shape == point.shape and blurred.dtype == torch.uint8
    assert blurred[0, 0, 7, 7] < 255 / 4 and blurred[0, 0, 7, 8] > blurred[0, 0, 7, 9] > 0
    assert torch.equal(blurred, blurred.transpose(-1, -2)) and torch.equal(blurred, blurred.flip(-1))
    assert abs(blurred.float().sum().item() - 255) < 15  # mass kept, up to rounding
    flat = torch.full((2, 3, 9, 9), 77, dtype=torch.uint8)
    assert torch.equal(gaussian_blur(flat, 2.0), flat)
    assert torch.equal(gaussian_blur(point, 0.0), point)


def test_blur_is_torchvisions_with_a_three_sigma_kernel():
    x = _images()
    expected = TF.gaussian_blur(x.float(), kernel_size=7, sigma=1.0).round().to(torch.uint8)
    assert torch.equal(gaussian_blur(x, 1.0), expected)
    wide = TF.gaussian_blur(x.float(), kernel_size=11, sigma=1.5).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(gaussian_blur(x, 1.5), wide)


def test_blur_lowers_total_variation_more_as_sigma_grows():
    x = _images(16)

    def variation(images):
        return (images.float().diff(dim=-1).abs().sum() + images.float().diff(dim=-2).abs().sum()).item()

    tv = [variation(gaussian_blur(x, s)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert tv == sorted(tv, reverse=True) and tv[-1] < tv[0] / 3


def test_keep_classes_keeps_order_and_only_those_labels():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    kept = keep_classes(images, labels, classes=[1, 5])
    assert kept[:, 0, 0, 0].tolist() == [1, 3, 4, 8]
    assert keep_classes(images, labels, range(5), n=2)[:, 0, 0, 0].tolist() == [0, 1]
    with pytest.raises(MetricError, match="only 4 images have a label in"):
        keep_classes(images, labels, classes=[1, 5], n=5)
    with pytest.raises(MetricError, match="one label per image"):
        keep_classes(images, labels[:3], classes=[1])


def test_uniform_noise_covers_every_value_and_is_seeded():
    noise = uniform_noise(50, (1, 28, 28), rng=0)
    assert noise.shape == (50, 1, 28, 28) and noise.dtype == torch.uint8
    assert noise.min() == 0 and noise.max() == 255 and abs(noise.float().mean().item() - 127.5) < 1.5
    assert torch.equal(noise, uniform_noise(50, (1, 28, 28), rng=0))
    assert not torch.equal(noise, uniform_noise(50, (1, 28, 28), rng=1))


@pytest.mark.parametrize("bad", [torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4, dtype=torch.uint8)])
def test_float_or_3d_images_are_one_line_errors(bad):
    with pytest.raises(MetricError, match="uint8 images") as err:
        gaussian_blur(bad, 1.0)
    assert "\n" not in str(err.value)
    with pytest.raises(MetricError, match="uint8 images"):
        add_gaussian_noise(bad, 0.1)


def test_negative_strengths_are_errors():
    with pytest.raises(MetricError, match="std must be >= 0"):
        add_gaussian_noise(_images(), -0.1)
    with pytest.raises(MetricError, match="sigma must be >= 0"):
        gaussian_blur(_images(), float("nan"))
