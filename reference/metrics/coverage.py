"""Mode and class coverage: how much of the data's variety a generator reproduces.

(a) `mode_coverage`, for the 2-D Gaussian mixtures of `reference.data.mixtures` (8-mode ring,
25-mode grid), follows VEEGAN (Srivastava et al. 2017, Table 1) and PacGAN (Lin et al. 2018,
Table 1), which use the same three columns:
- a generated point is *high quality* when it lies within `threshold` = 3 standard deviations
  of its nearest mode (strictly: distance < 3 std, as in PacGAN's released metric code);
- each high-quality point is registered to its nearest mode, giving a histogram over modes;
- a mode is *covered* when it receives at least `min_samples` high-quality points. The default 1
  is the rule of both papers (PacGAN's code counts the modes with a non-zero histogram entry; the
  papers evaluate 2500 samples). Pass e.g. min_samples=20 for a stricter rule that ignores a few
  stray points;
- *reverse KL* is KL(p_gen || p_true), where p_gen is the normalised histogram of high-quality
  points and p_true is the uniform distribution over the K modes (the mixtures are equal-weight).
  No epsilon is needed: empty bins have p_gen = 0 and contribute 0 (0 log 0 = 0), and p_true is
  never 0. With no high-quality point at all p_gen is undefined and reverse KL is reported as inf.

(b) `class_coverage`, for class-labelled data (MNIST digits, CIFAR-10 classes) judged by a
classifier's predictions on generated images:
- histogram: how many generated images are predicted as each class;
- classes_covered: classes that receive at least `min_share` = 10% of the share the data gives
  them (and at least one image). With 10 balanced classes and 10000 images a class counts when
  it gets at least 100 images; a handful of misclassified images do not make a class "covered".
  min_share -> 0 gives the Stacked-MNIST rule "at least one sample";
- kl: KL(p_gen || p_data) over class frequencies (the same reverse direction as above; empty
  generated classes contribute 0, and it is inf if images land on a class the data never has).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from reference.metrics.checks import MetricError, as_matrix

__all__ = ["reverse_kl", "mode_coverage", "class_coverage", "class_agreement"]


def reverse_kl(counts: Tensor, reference: Tensor) -> float:
    """KL(p || q) for p = counts / counts.sum() and a probability vector q, both (K,).

    Terms with p = 0 are 0; a term with p > 0 and q = 0 makes it inf, as does an all-zero `counts`.
    """
    counts = counts.to(torch.float64)
    total = float(counts.sum())
    if total == 0:
        return math.inf
    p, q = counts / total, reference.to(torch.float64)
    if bool(((p > 0) & (q == 0)).any()):
        return math.inf
    present = p > 0
    return float((p[present] * (p[present] / q[present]).log()).sum())


def mode_coverage(
    points: Tensor, means: Tensor, std: float, threshold: float = 3.0, min_samples: int = 1
) -> dict[str, object]:
    """Mode coverage of generated points (N, 2) on a mixture of K isotropic Gaussians.

    means: the mode centres (K, 2); std: their common standard deviation.
    Returns {"modes_covered": int, "high_quality_fraction": float in [0, 1],
    "reverse_kl": float (inf without high-quality points), "histogram": int64 (K,)}.
    """
    x, centres = as_matrix(points, "points"), as_matrix(means, "means")
    if x.shape[1] != centres.shape[1]:
        raise MetricError(f"points are {x.shape[1]}-dim but means are {centres.shape[1]}-dim")
    if std <= 0 or threshold <= 0 or min_samples < 1:
        raise MetricError(f"need std > 0, threshold > 0 and min_samples >= 1, got {std}, {threshold}, {min_samples}")
    distance, nearest = torch.cdist(x, centres.to(x.device)).min(dim=1)
    high_quality = distance < threshold * std
    k = centres.shape[0]
    histogram = torch.bincount(nearest[high_quality].cpu(), minlength=k)
    return {
        "modes_covered": int((histogram >= min_samples).sum()),
        "high_quality_fraction": float(high_quality.double().mean()),
        "reverse_kl": reverse_kl(histogram, torch.full((k,), 1.0 / k, dtype=torch.float64)),
        "histogram": histogram,
    }


def _labels(logits_or_labels: Tensor, num_classes: int) -> Tensor:
    x = torch.as_tensor(logits_or_labels)
    if x.is_floating_point():
        if x.dim() != 2 or x.shape[1] != num_classes:
            raise MetricError(
                f"logits must have shape (N, {num_classes}), got {tuple(x.shape)}; or pass integer labels (N,)"
            )
        return as_matrix(x, "logits").argmax(dim=1).cpu()
    if x.dim() != 1 or x.dtype == torch.bool:
        raise MetricError(f"labels must be a 1-D integer tensor (N,), got shape {tuple(x.shape)} and {x.dtype}")
    x = x.long().cpu()
    if x.numel() and (x.min() < 0 or x.max() >= num_classes):
        raise MetricError(f"labels must lie in 0..{num_classes - 1}, got values {int(x.min())}..{int(x.max())}")
    return x


def class_coverage(
    logits_or_labels: Tensor,
    num_classes: int,
    data_distribution: Tensor | None = None,
    min_share: float = 0.1,
) -> dict[str, object]:
    """Class coverage of generated images from classifier logits (N, K) or predicted labels (N,).

    data_distribution: the data's class probabilities (K,) (normalised here); None for uniform.
    Returns {"histogram": int64 (K,), "classes_covered": int, "kl": KL(p_gen || p_data)}.
    """
    labels = _labels(logits_or_labels, num_classes)
    n = labels.numel()
    if n == 0:
        raise MetricError("class_coverage needs at least one generated image")
    if data_distribution is None:
        q = torch.full((num_classes,), 1.0 / num_classes, dtype=torch.float64)
    else:
        q = torch.as_tensor(data_distribution, dtype=torch.float64).cpu()
        if q.shape != (num_classes,) or (q < 0).any() or q.sum() <= 0:
            raise MetricError(
                f"data_distribution must be {num_classes} non-negative numbers with a positive sum, got {q.tolist()}"
            )
        q = q / q.sum()
    histogram = torch.bincount(labels, minlength=num_classes)
    share = histogram.double() / n
    covered = (q > 0) & (histogram >= 1) & (share >= min_share * q)
    return {"histogram": histogram, "classes_covered": int(covered.sum()), "kl": reverse_kl(histogram, q)}


def class_agreement(logits_or_labels: Tensor, y: Tensor, num_classes: int) -> float:
    """How often a classifier labels conditional samples G(z, y) as their y (lesson 07, a6).

    logits_or_labels: the classifier's logits (N, K) or predicted labels (N,) for the samples;
    y: the labels G was given, (N,). Returns the fraction in [0, 1]; chance is about 1/K.
    """
    predicted = _labels(logits_or_labels, num_classes)
    wanted = _labels(y, num_classes)
    if predicted.shape != wanted.shape or predicted.numel() == 0:
        raise MetricError(f"class_agreement needs one label per sample, got {predicted.numel()} predictions and {wanted.numel()} labels")
    return float((predicted == wanted).double().mean())
