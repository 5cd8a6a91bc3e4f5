"""Tests for reference/losses.py: closed forms, stability, saturation, WGAN-GP penalty."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reference.losses import LOSSES, GANLoss, LossError, get_loss

NAMES = ["minimax", "non-saturating", "least-squares", "wgan", "wgan-gp", "hinge", "log-sigmoid"]
REAL = [2.0, -0.5, 0.3, 4.0]
FAKE = [-1.5, 0.7, -3.0, 0.1]


def _mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs)


def _log_sigmoid(x: float) -> float:
    return math.log(1.0 / (1.0 + math.exp(-x)))


def _log_one_minus_sigmoid(x: float) -> float:
    return math.log(1.0 - 1.0 / (1.0 + math.exp(-x)))


def _expected(name: str, real: list[float], fake: list[float]) -> tuple[float, float]:
    """(d_loss, g_loss) from the papers' formulas, in float64 Python math."""
    logistic_d = _mean([-_log_sigmoid(r) for r in real]) + _mean(
        [-_log_one_minus_sigmoid(f) for f in fake]
    )
    if name == "minimax":
        return logistic_d, _mean([_log_one_minus_sigmoid(f) for f in fake])
    if name in ("non-saturating", "log-sigmoid"):  # log-sigmoid: the same game, computed naively
        return logistic_d, _mean([-_log_sigmoid(f) for f in fake])
    if name == "least-squares":
        d = 0.5 * _mean([(r - 1) ** 2 for r in real]) + 0.5 * _mean([f**2 for f in fake])
        return d, 0.5 * _mean([(f - 1) ** 2 for f in fake])
    if name in ("wgan", "wgan-gp"):
        return _mean(fake) - _mean(real), -_mean(fake)
    if name == "hinge":
        d = _mean([max(0.0, 1 - r) for r in real]) + _mean([max(0.0, 1 + f) for f in fake])
        return d, -_mean(fake)
    raise AssertionError(name)


def _g_grad(name: str, logit: float) -> float:
    """d g_loss / d logit for a single fake logit."""
    fake = torch.tensor([logit], requires_grad=True)
    get_loss(name).g_loss(fake).backward()
    return fake.grad.item()


class Linear(nn.Module):
    """Critic D(x) = w . flatten(x), whose input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.flatten().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


# ---- registry -------------------------------------------------------------------------


def test_registry_names() -> None:
    assert list(LOSSES) == NAMES, f"LOSSES keys are {list(LOSSES)}, expected {NAMES}"
    for name in NAMES:
        loss = get_loss(name)
        assert isinstance(loss, GANLoss) and loss.name == name


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(LossError) as err:
        get_loss("wasserstein")
    msg = str(err.value)
    assert msg == (
        "unknown loss 'wasserstein'; choose one of: "
        "minimax, non-saturating, least-squares, wgan, wgan-gp, hinge, log-sigmoid"
    ), f"unexpected message: {msg}"
    assert isinstance(err.value, ValueError), "LossError must subclass ValueError"


def test_unknown_option_is_a_loss_error() -> None:
    with pytest.raises(LossError, match="lambda_gp"):
        get_loss("hinge", lambda_gp=10.0)


def test_n_critic_defaults_and_options() -> None:
    for name in NAMES:
        expected = 5 if name in ("wgan", "wgan-gp") else 1
        got = get_loss(name).n_critic
        assert got == expected, f"{name}: n_critic default {got}, expected {expected}"
    wgan = get_loss("wgan_gp", lambda_gp=2.5, n_critic=3)
    assert (wgan.lambda_gp, wgan.n_critic) == (2.5, 3)
    assert get_loss("wgan-gp").lambda_gp == 10.0


# ---- closed forms ---------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_closed_form(name: str) -> None:
    loss = get_loss(name)
    real = torch.tensor(REAL, dtype=torch.float64)
    fake = torch.tensor(FAKE, dtype=torch.float64)
    d_want, g_want = _expected(name, REAL, FAKE)
    d_got, g_got = loss.d_loss(real, fake), loss.g_loss(fake)
    assert d_got.dim() == 0 and g_got.dim() == 0, f"{name}: losses must be scalars"
    assert d_got.item() == pytest.approx(d_want, rel=1e-10), f"{name}: d_loss"
    assert g_got.item() == pytest.approx(g_want, rel=1e-10), f"{name}: g_loss"


@pytest.mark.parametrize("name", NAMES)
def test_d_prob(name: str) -> None:
    logits = torch.tensor([-2.0, 0.0, 3.0])
    want = torch.sigmoid(logits) if name in ("minimax", "non-saturating", "log-sigmoid") else logits
    torch.testing.assert_close(get_loss(name).d_prob(logits), want)


def test_minimax_optimum_is_2_log_2() -> None:
    zero = torch.zeros(8, dtype=torch.float64)  # D(x) = D(G(z)) = sigmoid(0) = 0.5
    got = get_loss("minimax").d_loss(zero, zero).item()
    assert got == pytest.approx(2 * math.log(2), rel=1e-12)


# ---- numerical stability --------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in NAMES if n != "log-sigmoid"])
def test_finite_at_extreme_logits(name: str) -> None:
    loss = get_loss(name)
    real = torch.tensor([100.0, -100.0, 100.0, -100.0], requires_grad=True)
    fake = torch.tensor([100.0, -100.0, -100.0, 100.0], requires_grad=True)
    d, g = loss.d_loss(real, fake), loss.g_loss(fake)
    assert torch.isfinite(d) and torch.isfinite(g), f"{name}: d={d.item()}, g={g.item()}"
    (d + g).backward()
    for t in (real, fake):
        assert torch.isfinite(t.grad).all(), f"{name}: non-finite grad {t.grad}"
    assert torch.isfinite(loss.d_prob(fake.detach())).all()


def test_logistic_losses_are_exact_at_extreme_logits() -> None:
    # A naive log(sigmoid(x)) gives -inf at x = -100 in float32; softplus gives 100.
    d = get_loss("minimax").d_loss(torch.tensor([-100.0]), torch.tensor([100.0]))
    assert d.item() == pytest.approx(200.0, rel=1e-6)
    g = get_loss("non-saturating").g_loss(torch.tensor([-100.0]))
    assert g.item() == pytest.approx(100.0, rel=1e-6)


def test_log_sigmoid_breaks_where_softplus_does_not() -> None:
    """Lesson 08's NaN: log(sigmoid(x)) in float32 is -inf once sigmoid rounds to 0 or 1."""
    loss = get_loss("log-sigmoid")
    fake = torch.tensor([-120.0], requires_grad=True)
    g = loss.g_loss(fake)
    assert g.item() == math.inf, f"log-sigmoid's g_loss at logit -120 is {g.item()}, expected inf"
    g.backward()
    assert torch.isnan(fake.grad).all(), f"its gradient should be NaN (inf * 0), got {fake.grad}"
    d = loss.d_loss(torch.tensor([0.0]), torch.tensor([20.0]))  # sigmoid(20) == 1.0 in float32
    assert d.item() == math.inf, f"log(1 - sigmoid(20)) should overflow to inf, got {d.item()}"
    # a confident D on a real image: the label term (1 - y) log(1 - sigmoid(20)) is 0 * -inf
    d = loss.d_loss(torch.tensor([20.0]), torch.tensor([0.0]))
    assert math.isnan(d.item()), f"0 * log(1 - sigmoid(20)) should be NaN, got {d.item()}"
    assert torch.isfinite(get_loss("non-saturating").d_loss(torch.tensor([20.0]), torch.tensor([0.0])))
    # in range, the same numbers as the stable loss
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    torch.testing.assert_close(loss.d_loss(real, fake), get_loss("non-saturating").d_loss(real, fake))


# ---- tips: label smoothing and weight clipping -------------------------------------------


@pytest.mark.parametrize("name", ["minimax", "non-saturating", "log-sigmoid"])
def test_one_sided_label_smoothing_is_cross_entropy_with_target_1_minus_s(name: str) -> None:
    s = 0.1
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    want = _mean([-(1 - s) * _log_sigmoid(r) - s * _log_one_minus_sigmoid(r) for r in REAL]) + _mean(
        [-_log_one_minus_sigmoid(f) for f in FAKE]
    )
    got = get_loss(name, smoothing=s).d_loss(real, fake).item()
    assert got == pytest.approx(want, rel=1e-10), f"{name} with smoothing 0.1: d_loss {got}, expected {want}"
    # G's loss is untouched: smoothing is one-sided, on D's real targets only
    assert get_loss(name, smoothing=s).g_loss(fake).item() == pytest.approx(get_loss(name).g_loss(fake).item())
    with pytest.raises(LossError, match="smoothing"):
        get_loss(name, smoothing=1.0)


def test_wgan_clips_every_critic_weight_after_its_step() -> None:
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    loss = get_loss("wgan", clip=0.05)
    assert loss.n_critic == 5 and get_loss("wgan").clip == 0.01, "the WGAN paper's defaults: clip 0.01, 5 critic steps"
    assert max(p.abs().max().item() for p in critic.parameters()) > 0.05  # some weight needs clipping
    loss.after_d_step(critic)
    for name, p in critic.named_parameters():
        assert (p.abs() <= torch.tensor(0.05)).all(), f"{name} not clipped to [-0.05, 0.05]"
    assert any((p.abs() == torch.tensor(0.05)).any() for p in critic.parameters()), "weights were scaled, not clamped"
    for name in NAMES:
        if name != "wgan":
            before = [p.clone() for p in critic.parameters()]
            get_loss(name).after_d_step(critic)
            assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters())), f"{name} changed D's weights"


# ---- the vanishing gradient of the minimax game ----------------------------------------


def test_minimax_generator_gradient_vanishes() -> None:
    # Fake logit -10: D(G(z)) = sigmoid(-10) ~ 4.5e-5, D confidently rejects the fake.
    mm, ns = _g_grad("minimax", -10.0), _g_grad("non-saturating", -10.0)
    assert abs(mm) < 1e-4, f"minimax grad {mm} should vanish when D(G(z)) -> 0"
    assert ns < 0 and abs(ns) > 0.99, f"non-saturating grad {ns} should be about -1"
    assert mm == pytest.approx(-1 / (1 + math.exp(10)), rel=1e-5)


def test_minimax_gradient_grows_with_d_of_g_z() -> None:
    logits = [-10.0, -5.0, -2.0, 0.0, 2.0]  # D(G(z)) increasing
    mags = [abs(_g_grad("minimax", x)) for x in logits]
    assert all(a < b for a, b in zip(mags, mags[1:])), f"|grad| not increasing: {mags}"
    ns = [abs(_g_grad("non-saturating", x)) for x in logits]
    assert all(a > b for a, b in zip(ns, ns[1:])), f"non-sat |grad| not decreasing: {ns}"


# ---- WGAN-GP gradient penalty -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 2), (8, 1, 4, 4)])
@pytest.mark.parametrize("norm", [1.0, 3.0])
def test_penalty_of_linear_critic(shape: tuple[int, ...], norm: float) -> None:
    torch.manual_seed(0)
    w = torch.randn(shape[1:])
    D = Linear(norm * w / w.norm())
    real, fake = torch.randn(shape), torch.randn(shape)
    loss = get_loss("wgan-gp")
    gp = loss.penalty(D, real, fake)
    want = loss.lambda_gp * (norm - 1) ** 2  # 0 for ||w|| = 1, 40 for ||w|| = 3
    assert gp.dim() == 0, "penalty must be a scalar"
    assert gp.item() == pytest.approx(want, abs=1e-6 if want == 0 else 1e-4), (
        f"penalty {gp.item()} for ||w||={norm}, expected {want}"
    )


def test_penalty_scales_with_lambda() -> None:
    torch.manual_seed(0)
    D = Linear(torch.tensor([0.0, 2.0]))
    x = torch.randn(4, 2)
    gp = get_loss("wgan-gp", lambda_gp=1.0).penalty(D, x, x.flip(0))
    assert gp.item() == pytest.approx(1.0, rel=1e-5)


def test_penalty_gradient_reaches_critic() -> None:
    torch.manual_seed(0)
    D = Linear(torch.tensor([3.0, 0.0]))
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    get_loss("wgan-gp").penalty(D, real, fake).backward()
    # d/dw lambda * (||w|| - 1)^2 = 2 * lambda * (||w|| - 1) * w / ||w|| = (40, 0)
    assert D.w.grad is not None, "penalty must carry gradients to D's parameters"
    torch.testing.assert_close(D.w.grad, torch.tensor([40.0, 0.0]))


def test_penalty_does_not_reach_generator() -> None:
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    fake = torch.randn(16, 2, requires_grad=True)  # stands in for G(z)
    get_loss("wgan-gp").penalty(D, torch.randn(16, 2), fake).backward()
    assert fake.grad is None, "penalty is a D term and must not backpropagate into G"


def test_penalty_is_float32_under_autocast() -> None:
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    real, fake = torch.randn(16, 2).bfloat16(), torch.randn(16, 2).bfloat16()  # low precision
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        assert D(real).dtype == torch.bfloat16  # autocast is really on
        gp = get_loss("wgan-gp").penalty(D, real, fake)
    assert gp.dtype == torch.float32, f"penalty dtype {gp.dtype}, expected float32"
    gp.backward()
    for p in (D[0].weight, D[2].weight):  # D's last bias does not affect grad_x D
        assert p.grad is not None and torch.isfinite(p.grad).all()


@pytest.mark.parametrize("name", [n for n in NAMES if n != "wgan-gp"])
def test_other_losses_have_no_penalty(name: str) -> None:
    D = Linear(torch.ones(2))
    assert get_loss(name).penalty(D, torch.randn(4, 2), torch.randn(4, 2)) is None
