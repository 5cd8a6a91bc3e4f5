"""Tests for reference/metrics/: closed forms, hand-computed cases and torchmetrics cross-checks.

torchmetrics' image metrics accept any nn.Module as `feature`; `Passthrough` returns its input, so
they see exactly the features we pass to our functions (no Inception weights are needed).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from reference.data.mixtures import MIXTURES, sample_mixture
from reference.metrics import (
    MIFID_EPSILON,
    FrechetStats,
    MetricError,
    SmallSampleWarning,
    class_coverage,
    fid,
    frechet_distance,
    inception_score,
    kid,
    knn_radii,
    memorization_distance,
    mifid,
    mmd2_unbiased,
    mode_coverage,
    precision_recall,
)

# Imported from their modules: torchmetrics.image exports FID, KID and IS only when torch-fidelity
# (needed for the default Inception network, not for a custom `feature` module) is installed.
import torchmetrics.image.fid as tm_fid  # noqa: E402
import torchmetrics.image.kid as tm_kid  # noqa: E402
import torchmetrics.image.inception as tm_inception  # noqa: E402
import torchmetrics.image.mifid as tm_mifid  # noqa: E402


class Passthrough(nn.Module):
    """A torchmetrics `feature` network whose features are its input (N, D)."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """(n, d) float64 correlated Gaussian features: a fixed random mixing of standard normals."""
    gen = torch.Generator().manual_seed(seed)
    mixing = torch.randn(d, d, generator=torch.Generator().manual_seed(1000 + d), dtype=torch.float64) / math.sqrt(d)
    return torch.randn(n, d, generator=gen, dtype=torch.float64) @ (mixing + torch.eye(d)) + shift


def _rel(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / max(abs(theirs), 1e-12)


def _torchmetrics(metric_cls, real: torch.Tensor, fake: torch.Tensor, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features in buffer"
        metric = metric_cls(feature=Passthrough(real.shape[1]), **kwargs)
    for chunk in real.split(64):
        metric.update(chunk, real=True)
    for chunk in fake.split(64):
        metric.update(chunk, real=False)
    return metric.compute()


# ---------------------------------------------------------------------------------------------
# FID
# ---------------------------------------------------------------------------------------------


def test_fid_matches_torchmetrics():
    real, fake = _features(400, 16, seed=0), _features(300, 16, seed=1, shift=0.3) * 1.2
    theirs = float(_torchmetrics(tm_fid.FrechetInceptionDistance, real, fake))
    ours = fid(fake, real)
    assert _rel(ours, theirs) < 1e-4, f"fid={ours} but torchmetrics FrechetInceptionDistance={theirs}"
    assert _rel(fid(real, fake), ours) < 1e-10, "FID must be symmetric in its two sets"


def test_frechet_diagonal_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([0.5, -1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum()  # 8.25 + 4 + 1 + 0
    ours = frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b))
    assert abs(ours - float(expected)) < 1e-8, f"diagonal Gaussians: got {ours}, closed form {float(expected)}"


def test_frechet_non_commuting_2x2_closed_form():
    # For 2x2 SPD S1, S2: tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)), since S1 S2 is
    # similar to an SPD matrix M with tr M = tr(S1 S2) and det M = det S1 det S2.
    s1 = torch.tensor([[2.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    s2 = torch.tensor([[1.0, -0.3], [-0.3, 3.0]], dtype=torch.float64)
    assert not torch.allclose(s1 @ s2, s2 @ s1), "the test needs a non-commuting pair"
    mu1, mu2 = torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5])
    tr_sqrt = math.sqrt(float((s1 @ s2).trace()) + 2 * math.sqrt(float(s1.det() * s2.det())))
    expected = 4 + 2.25 + float(s1.trace() + s2.trace()) - 2 * tr_sqrt
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert abs(ours - expected) < 1e-8, f"non-commuting 2x2 pair: got {ours}, closed form {expected}"


def test_frechet_matches_scipy_sqrtm():
    gen = np.random.default_rng(0)
    d = 12
    a, b = gen.normal(size=(d, d)), gen.normal(size=(d, d))
    s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T / d + 0.5 * np.eye(d)
    mu1, mu2 = gen.normal(size=d), gen.normal(size=d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real  # test only: the library avoids sqrtm
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    ours = frechet_distance(*(torch.from_numpy(t) for t in (mu1, s1, mu2, s2)))
    assert abs(ours - expected) < 1e-8 * max(1.0, expected), f"got {ours}, scipy sqrtm gives {expected}"


def test_fid_of_a_set_with_itself_is_zero():
    x = _features(200, 16, seed=3)
    assert abs(fid(x, x)) < 1e-6
    assert fid(x, x) >= 0.0, "the result is clamped at 0"
    assert fid(x, x + 1.0) == pytest.approx(16.0, rel=1e-9), "a shift by 1 in 16 dims adds ||mu diff||^2 = 16"


def test_streaming_stats_equal_one_shot():
    x = _features(250, 8, seed=4).float()
    one_shot = FrechetStats.from_features(x)
    streamed = FrechetStats()
    for chunk in x.split(37):
        streamed.update(chunk)
    assert streamed.n == 250
    torch.testing.assert_close(streamed.mean, x.double().mean(dim=0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(streamed.covariance, torch.cov(x.double().T), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(streamed.covariance, one_shot.covariance, rtol=1e-10, atol=1e-12)
    merged = FrechetStats.from_features(x[:100]) + FrechetStats.from_features(x[100:])
    assert merged.n == 250
    torch.testing.assert_close(merged.covariance, one_shot.covariance, rtol=1e-10, atol=1e-12)
    y = _features(120, 8, seed=5)
    assert fid(streamed, y) == pytest.approx(fid(x, y), rel=1e-10), "fid accepts FrechetStats"


def test_small_sample_warning_only_when_n_at_most_d():
    d = 16
    with pytest.warns(SmallSampleWarning, match=r"10 samples of 16-dim.*KID"):
        fid(_features(10, d, seed=6), _features(100, d, seed=7))
    with pytest.warns(SmallSampleWarning):  # n == D: covariance rank n - 1 < D
        fid(_features(100, d, seed=6), _features(16, d, seed=7))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fid(_features(17, d, seed=6), _features(100, d, seed=7))


def test_fid_rejects_mismatched_dims():
    with pytest.raises(MetricError, match="dimensions"):
        fid(_features(50, 4, seed=0), _features(50, 5, seed=1))


# ---------------------------------------------------------------------------------------------
# KID
# ---------------------------------------------------------------------------------------------


def test_kid_matches_torchmetrics_on_full_sets():
    # With one subset of all samples the estimate no longer depends on the random draw.
    real, fake = _features(150, 32, seed=8), _features(150, 32, seed=9, shift=0.2)
    theirs_mean, theirs_std = _torchmetrics(tm_kid.KernelInceptionDistance, real, fake, subsets=1, subset_size=150)
    ours_mean, ours_std = kid(fake, real, subsets=1, subset_size=150)
    assert _rel(ours_mean, float(theirs_mean)) < 1e-4, f"kid={ours_mean} but torchmetrics={float(theirs_mean)}"
    assert ours_std == 0.0


def test_mmd_matches_the_definition():
    x, y = _features(6, 3, seed=10), _features(6, 3, seed=11, shift=0.5)
    k = lambda a, b: (float(a @ b) / 3 + 1) ** 3  # noqa: E731
    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert float(mmd2_unbiased(x, y)) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_subsets_seed_and_clipping():
    a, b = _features(120, 8, seed=12), _features(90, 8, seed=13)
    first = kid(a, b, subsets=5, subset_size=40, seed=1)
    assert kid(a, b, subsets=5, subset_size=40, seed=1) == first, "the same seed must give the same KID"
    assert kid(a, b, subsets=5, subset_size=40, seed=2) != first
    assert first[1] > 0, "different subsets must give different estimates"
    assert kid(a, b, subsets=3, subset_size=1000) == kid(a, b, subsets=3, subset_size=90), "subset_size clips to 90"
    with pytest.raises(ValueError, match="at least 2"):
        kid(a, b[:1])


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
    a, b = _features(300, 8, seed=14), _features(300, 8, seed=15)
    same_mean, same_std = kid(a, b, subsets=10, subset_size=100)
    shifted_mean, _ = kid(a, b + 1.0, subsets=10, subset_size=100)
    assert abs(same_mean) < 3 * same_std + 1e-3, f"same distribution: KID {same_mean} +- {same_std}"
    assert shifted_mean > 10 * abs(same_mean) and shifted_mean > 0.1


# ---------------------------------------------------------------------------------------------
# Inception Score
# ---------------------------------------------------------------------------------------------


def _confident(labels: list[int], k: int, scale: float = 60.0) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(labels), k).double() * scale


def test_inception_score_limits():
    k = 10
    assert inception_score(torch.zeros(100, k), splits=10) == pytest.approx((1.0, 0.0), abs=1e-12)
    spread = _confident([i % k for i in range(100)], k)  # each split of 10 holds every class once
    mean, std = inception_score(spread, splits=10)
    assert mean == pytest.approx(k, rel=1e-9) and std < 1e-9, f"confident and spread over {k} classes: IS={mean}"
    one_class = _confident([3] * 100, k)
    assert inception_score(one_class, splits=10)[0] == pytest.approx(1.0, abs=1e-9)
    huge = _confident([i % k for i in range(100)], k, scale=1e4)  # p(y|x) underflows to exact 0s
    assert inception_score(huge, splits=10)[0] == pytest.approx(k, rel=1e-12)


def test_inception_score_splits_are_consecutive_with_population_std():
    k = 4
    logits = torch.cat([torch.zeros(8, k), _confident([i % k for i in range(8)], k)])
    mean, std = inception_score(logits, splits=2)  # IS 1 on the first half, 4 on the second
    assert (mean, std) == pytest.approx((2.5, 1.5), rel=1e-9)


def test_inception_score_matches_torchmetrics_with_one_split():
    logits = _features(200, 10, seed=16) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # buffer size; std of one split (ddof=1) is nan
        metric = tm_inception.InceptionScore(feature=Passthrough(10), splits=1)
        metric.update(logits)
        theirs = float(metric.compute()[0])
    ours = inception_score(logits, splits=1)[0]
    assert _rel(ours, theirs) < 1e-6, f"inception_score={ours} but torchmetrics InceptionScore={theirs}"


# ---------------------------------------------------------------------------------------------
# Precision and recall
# ---------------------------------------------------------------------------------------------


def test_knn_radius_is_kth_other_neighbour_and_balls_are_closed():
    real = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert knn_radii(real, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(real, k=2).tolist() == [3.0, 2.0, 3.0, 5.0]
    fake = torch.tensor([[10.0], [-1.5], [4.5], [9.0]])  # 9.0 is on the k=1 sphere of 6.0
    assert precision_recall(real, fake, k=1)[0] == pytest.approx(2 / 4)
    assert precision_recall(real, fake, k=2)[0] == pytest.approx(4 / 4)


def test_precision_recall_identical_and_disjoint():
    real = _features(200, 8, seed=17)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    assert precision_recall(real, real + 1000.0) == (0.0, 0.0)


def test_precision_recall_one_of_two_clusters():
    cluster_a, cluster_b = _features(150, 4, seed=18), _features(150, 4, seed=19) + 50.0
    real = torch.cat([cluster_a, cluster_b])
    precision, recall = precision_recall(real, cluster_a.clone(), batch=64)
    assert (precision, recall) == (1.0, 0.5), f"copies of one cluster: got {(precision, recall)}"
    fresh = _features(150, 4, seed=20)  # new samples from cluster A's distribution
    precision, recall = precision_recall(real, fresh, batch=64)
    assert precision > 0.85 and 0.35 < recall <= 0.5, f"fresh samples of one cluster: got {(precision, recall)}"
    assert precision_recall(real, fresh, batch=7) == (precision, recall), "chunking must not change results"


# ---------------------------------------------------------------------------------------------
# MiFID
# ---------------------------------------------------------------------------------------------


def _positive(n: int, d: int, seed: int) -> torch.Tensor:
    """Non-negative features like Inception pool3 (post-ReLU), with cosines close to 1."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=gen, dtype=torch.float64) + 0.5


def test_mifid_matches_torchmetrics():
    a, b = _positive(120, 8, seed=21), _positive(100, 8, seed=22) * 1.1
    theirs = float(_torchmetrics(tm_mifid.MemorizationInformedFrechetInceptionDistance, a, b))
    # torchmetrics averages the minimum distance over its *real* set, Kaggle over the generated one.
    ours = mifid(fake=a, real_ref=b, train=b)
    assert ours["distance"] < MIFID_EPSILON, "the test needs a distance below epsilon"
    assert _rel(ours["mifid"], theirs) < 1e-4, f"mifid={ours['mifid']} but torchmetrics={theirs}"


def test_memorization_distance_hand_computed():
    train = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])  # the zero row is ignored
    assert memorization_distance(torch.tensor([[1.0, 0.0]]), train) == pytest.approx(1 - 1 / math.sqrt(2))
    assert memorization_distance(torch.tensor([[0.0, -2.0]]), train) == pytest.approx(0.0, abs=1e-12)  # |cos|
    fake = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    assert memorization_distance(fake, train) == pytest.approx((1 - 1 / math.sqrt(2)) / 2)


def test_mifid_penalises_copies_and_not_distant_samples():
    train = _positive(200, 8, seed=23)
    reference = _positive(200, 8, seed=24)
    copies = mifid(fake=train[:150].clone(), real_ref=reference, train=train)
    assert copies["distance"] == pytest.approx(0.0, abs=1e-12)
    assert copies["mifid"] > 1e6 * copies["fid"], f"copies of training features: {copies}"
    # Features in other dimensions have cosine 0 to every training feature: d = 1, no penalty.
    far = torch.cat([torch.zeros(150, 8, dtype=torch.float64), _positive(150, 8, seed=25)], dim=1)
    wide = lambda x: torch.cat([x, torch.zeros_like(x)], dim=1)  # noqa: E731
    result = mifid(fake=far, real_ref=wide(reference), train=wide(train))
    assert result["distance"] == pytest.approx(1.0) and result["thresholded_distance"] == 1.0
    assert result["mifid"] == pytest.approx(result["fid"], rel=1e-12), f"distant samples: {result}"


# ---------------------------------------------------------------------------------------------
# Mode and class coverage
# ---------------------------------------------------------------------------------------------


def test_mode_coverage_extremes():
    ring = MIXTURES["ring"]
    at_one = ring.means[:1].repeat(40, 1)
    result = mode_coverage(at_one, ring.means, ring.std)
    assert result["modes_covered"] == 1 and result["high_quality_fraction"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(8)), "all mass on 1 of 8 modes: KL = log 8"
    grid = MIXTURES["grid"]
    everywhere = grid.means.repeat(4, 1)
    result = mode_coverage(everywhere, grid.means, grid.std)
    assert (result["modes_covered"], result["high_quality_fraction"]) == (25, 1.0)
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert result["histogram"].tolist() == [4] * 25
    far = torch.full((30, 2), 10.0)
    result = mode_coverage(far, grid.means, grid.std)
    assert (result["modes_covered"], result["high_quality_fraction"]) == (0, 0.0)
    assert result["reverse_kl"] == math.inf


def test_mode_coverage_hand_computed():
    ring = MIXTURES["ring"]
    means, std = ring.means.double(), ring.std
    points = torch.cat(
        [
            means[0].repeat(4, 1),
            means[1].repeat(2, 1),
            means[2:3] + torch.tensor([[2.99 * std, 0.0]]),  # inside 3 std: high quality
            means[3:4] + torch.tensor([[0.0, 3.01 * std]]),  # outside 3 std: not high quality
            torch.zeros(2, 2),  # the centre of the ring: 1 from every mode
        ]
    )
    result = mode_coverage(points, means, std)
    assert result["histogram"].tolist() == [4, 2, 1, 0, 0, 0, 0, 0]
    assert result["high_quality_fraction"] == pytest.approx(7 / 10)
    assert result["modes_covered"] == 3
    p = [4 / 7, 2 / 7, 1 / 7]
    assert result["reverse_kl"] == pytest.approx(sum(pi * math.log(pi * 8) for pi in p), rel=1e-12)
    assert mode_coverage(points, means, std, min_samples=2)["modes_covered"] == 2


def test_mode_coverage_of_true_samples():
    # For a 2-D isotropic Gaussian, P(distance < 3 std) = 1 - exp(-9/2) = 0.9889.
    for name in ("ring", "grid"):
        mixture = MIXTURES[name]
        points, _ = sample_mixture(name, 2500, seed=0)
        result = mode_coverage(points, mixture.means, mixture.std)
        assert result["modes_covered"] == mixture.n_modes, f"{name}: true samples must cover every mode"
        assert 0.98 < result["high_quality_fraction"] < 0.996, f"{name}: {result['high_quality_fraction']}"
        assert result["reverse_kl"] < 0.02


def test_class_coverage_hand_computed():
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
    result = class_coverage(labels, num_classes=4)
    assert result["histogram"].tolist() == [6, 3, 1, 0]
    assert result["classes_covered"] == 3, "class 2 gets 10% >= 10% of its expected 25%"
    expected_kl = 0.6 * math.log(0.6 / 0.25) + 0.3 * math.log(0.3 / 0.25) + 0.1 * math.log(0.1 / 0.25)
    assert result["kl"] == pytest.approx(expected_kl, rel=1e-12)
    assert class_coverage(labels, 4, min_share=0.5)["classes_covered"] == 2
    skewed = class_coverage(labels, 4, data_distribution=torch.tensor([5.0, 3.0, 1.0, 1.0]))
    assert skewed["kl"] == pytest.approx(0.6 * math.log(0.6 / 0.5), rel=1e-12)
    logits = _confident(labels.tolist(), 4) + 0.1 * _features(10, 4, seed=26)
    assert class_coverage(logits, 4)["histogram"].tolist() == [6, 3, 1, 0], "logits are reduced by argmax"
    assert class_coverage(labels, 4, data_distribution=[1.0, 1.0, 0.0, 1.0])["kl"] == math.inf
    with pytest.raises(MetricError, match="0..3"):
        class_coverage(torch.tensor([0, 4]), 4)
