"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a1_theory.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import math
import numpy as np
import torch
from reference.grading import Partial, check
from reference.losses import Minimax
from reference.metrics.fid import frechet_distance as reference_frechet
ASSIGNMENT = "a1_theory"
REFERENCE = Minimax()


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
