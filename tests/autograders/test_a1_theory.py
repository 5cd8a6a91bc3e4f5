"""Checks of a1_theory's code: the minimax losses from logits and the Fréchet distance.

The written answers of a1 are graded by hand against the rubric in the source notebook; these
checks grade the three functions. Numbers are compared with the course library
(`reference.losses.Minimax`, `reference.metrics.fid.frechet_distance`) on seeded inputs within a
tolerance, so any correct formula scores full marks (softplus, logsigmoid,
binary_cross_entropy_with_logits, scipy's sqrtm or eigenvalues...).

Points: d_loss 2 + 1, g_loss 2 + 1, frechet_distance 2 + 2 = 10.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from reference.grading import Partial, check
from reference.losses import Minimax
from reference.metrics.fid import frechet_distance as reference_frechet

ASSIGNMENT = "a1_theory"
REFERENCE = Minimax()
EXTREMES = [(100.0, -100.0), (-100.0, 100.0), (100.0, 100.0), (-100.0, -100.0)]
STABLE_HINT = "log(sigmoid(x)) and log(1 - sigmoid(x)) round to log(0) for large |x|; use F.softplus or F.logsigmoid on the logits"


def logits(n: int = 16, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    """Seeded float32 logits (n,) in a moderate range."""
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * scale


def scalar(value, name: str) -> torch.Tensor:
    """The loss as a 0-dim float tensor that carries gradients; a failure that says what is wrong otherwise."""
    assert isinstance(value, torch.Tensor), (
        f"{name} returned {type(value).__name__}; return a torch tensor (no .item()), so that loss.backward() works"
    )
    assert value.numel() == 1, f"{name} returned shape {tuple(value.shape)}; expected a scalar: take the mean over the batch"
    return value.reshape(())


def close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-4) -> bool:
    return math.isfinite(a) and abs(a - b) <= abs_ + rel * abs(b)


def val(t: torch.Tensor) -> float:
    """A scalar tensor's value, detached from the graph."""
    return float(t.detach())


def num(x: float) -> str:
    return f"{x:.6g}"


@check(points=2, visible=True)
def test_d_loss_matches_minimax(submission):
    """d_loss equals the discriminator's minimax loss"""
    d_loss = submission.get("d_loss")
    real, fake = logits(16, 1).requires_grad_(), logits(16, 2).requires_grad_()
    got = scalar(d_loss(real, fake), "d_loss")
    want = REFERENCE.d_loss(real, fake)
    assert close(val(got), val(want)), (
        f"d_loss(real, fake) = {num(val(got))} on seeded logits; expected {num(val(want))} = "
        f"mean(-log D(x)) + mean(-log(1 - D(G(z)))) with D = sigmoid(logit)"
    )
    assert got.requires_grad, "d_loss carries no gradient (was it detached?); D could not learn from it"
    g_got = torch.autograd.grad(got, (real, fake))
    g_want = torch.autograd.grad(want, (real, fake))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g_got, g_want)), (
        "d_loss has the right value but the wrong gradient with respect to the logits"
    )


@check(points=1)
def test_d_loss_finite_at_logits_of_100(submission):
    """d_loss is finite and right at logits of +-100"""
    d_loss = submission.get("d_loss")
    for r, f in EXTREMES:
        real, fake = torch.full((4,), r, requires_grad=True), torch.full((4,), f, requires_grad=True)
        got = scalar(d_loss(real, fake), "d_loss")
        want = val(REFERENCE.d_loss(real, fake))
        hint = STABLE_HINT if not math.isfinite(val(got)) else "mean(-log D(x)) + mean(-log(1 - D(G(z))))"
        assert close(val(got), want, rel=1e-3), (
            f"d_loss at real logits {r:+g}, fake logits {f:+g} is {num(val(got))}; expected {num(want)}: {hint}"
        )
        grads = torch.autograd.grad(got, (real, fake))
        assert all(torch.isfinite(g).all() for g in grads), (
            f"d_loss's gradient at real logits {r:+g}, fake logits {f:+g} is not finite: {STABLE_HINT}"
        )


@check(points=2, visible=True)
def test_g_loss_matches_minimax(submission):
    """g_loss equals the generator's minimax loss log(1 - D(G(z)))"""
    g_loss = submission.get("g_loss")
    fake = logits(16, 3).requires_grad_()
    got = scalar(g_loss(fake), "g_loss")
    want = REFERENCE.g_loss(fake)
    non_saturating = val(torch.nn.functional.softplus(-fake).mean())
    hint = (
        "that is the non-saturating loss -log D(G(z)); this task asks for the minimax one"
        if close(val(got), non_saturating)
        else "G minimises mean(log(1 - D(G(z)))) with D = sigmoid(logit)"
    )
    assert close(val(got), val(want)), f"g_loss(fake) = {num(val(got))} on seeded logits; expected {num(val(want))}: {hint}"
    assert got.requires_grad, "g_loss carries no gradient (was it detached?); G could not learn from it"
    (g_got,), (g_want,) = torch.autograd.grad(got, fake), torch.autograd.grad(want, fake)
    assert torch.allclose(g_got, g_want, atol=1e-6), "g_loss has the right value but the wrong gradient"


@check(points=1)
def test_g_loss_finite_at_logits_of_100(submission):
    """g_loss is finite and right at logits of +-100"""
    g_loss = submission.get("g_loss")
    for f in (100.0, -100.0):
        # float64: log D(G(z)) at a logit of +100 is about -4e-44, a float32 denormal that reads as 0
        # wherever denormals are flushed (training turns that on), so its message would vary
        fake = torch.full((4,), f, dtype=torch.float64, requires_grad=True)
        got = scalar(g_loss(fake), "g_loss")
        want = val(REFERENCE.g_loss(fake))
        hint = STABLE_HINT if not math.isfinite(val(got)) else "the minimax loss mean(log(1 - D(G(z))))"
        assert close(val(got), want, rel=1e-3), (
            f"g_loss at fake logits {f:+g} is {num(val(got))}; expected {num(want)}: {hint}"
        )
        (grad,) = torch.autograd.grad(got, fake)
        assert torch.isfinite(grad).all(), f"g_loss's gradient at fake logits {f:+g} is not finite: {STABLE_HINT}"


def gaussian(d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded mean (d,) and a full-rank covariance (d, d), float64."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=gen, dtype=torch.float64)
    return torch.randn(d, generator=gen, dtype=torch.float64), a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def call_fd(fd, mu1, s1, mu2, s2) -> float:
    value = fd(mu1.clone(), s1.clone(), mu2.clone(), s2.clone())
    try:
        return float(np.asarray(value.detach() if isinstance(value, torch.Tensor) else value, dtype=np.float64))
    except (TypeError, ValueError):
        raise AssertionError(f"frechet_distance returned {type(value).__name__}; return a number (a float or a 0-dim tensor)") from None


@check(points=2, visible=True)
def test_frechet_distance_matches_reference(submission):
    """frechet_distance matches the FID formula on full covariances"""
    fd = submission.get("frechet_distance")
    for d, seed in ((2, 0), (6, 1)):
        (mu1, s1), (mu2, s2) = gaussian(d, seed), gaussian(d, seed + 10)
        got, want = call_fd(fd, mu1, s1, mu2, s2), reference_frechet(mu1, s1, mu2, s2)
        assert close(got, want, rel=1e-6, abs_=1e-6), (
            f"frechet_distance of two {d}-D Gaussians is {num(got)}; expected {num(want)} = "
            f"||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), with the matrix square root "
            f"(e.g. from the eigenvalues of S1 S2), not an elementwise sqrt"
        )


@check(points=2)
def test_frechet_distance_properties(submission):
    """frechet_distance is 0 for equal Gaussians, symmetric, and the squared mean gap for equal covariances"""
    fd = submission.get("frechet_distance")
    (mu1, s1), (mu2, s2) = gaussian(5, 3), gaussian(5, 4)
    failures = []
    same = call_fd(fd, mu1, s1, mu1, s1)
    if not abs(same) <= 1e-6:
        failures.append(f"frechet_distance(N, N) = {num(same)}; expected 0")
    ab, ba = call_fd(fd, mu1, s1, mu2, s2), call_fd(fd, mu2, s2, mu1, s1)
    if not close(ab, ba, rel=1e-6, abs_=1e-6):
        failures.append(f"frechet_distance is not symmetric: {num(ab)} one way, {num(ba)} the other")
    shift = call_fd(fd, mu1, s1, mu2, s1)
    want = float((mu1 - mu2).square().sum())
    if not close(shift, want, rel=1e-6, abs_=1e-6):
        failures.append(f"with equal covariances frechet_distance = {num(shift)}; expected ||mu1 - mu2||^2 = {num(want)}")
    if len(failures) == 1:
        raise Partial(1, failures[0])
    assert not failures, "; ".join(failures)
