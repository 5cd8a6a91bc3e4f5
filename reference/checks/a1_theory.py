"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a1_theory.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
import torch
import torch.nn.functional as F
from reference.grading import Partial, StudentError, check
from reference.grading.masking import Masked, not_own
from reference.grading import probes, probes_a1
from reference.losses import Minimax
from reference.metrics.fid import frechet_distance as reference_frechet
ASSIGNMENT = "a1_theory"
MASKED = ("reference.losses", "reference.metrics.fid")  # they hold the answers; absent when graded
MINIMAX = Minimax()
FRECHET_FORMULA = (
    "d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), with the matrix square root "
    "(e.g. from the eigenvalues of S1 S2)"
)
MASK = Masked(*MASKED)
is_masked, masked_module, student = MASK.covers, MASK.named_in, MASK.student


def run(submission, name: str, probe: Callable, *args):
    """submission.run(probe, *args), where the student's function `name` is among the args. Its
    tensors go as copies: graded, the worker gets copies anyway; in the student's kernel a function
    that changes its inputs in place would change the check's own, so the next call and the expected
    value would be computed on other inputs there than when graded."""
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        return submission.run(probe, *args)
    except StudentError as err:
        if name == "d_loss" and re.search(r"size of tensor a \(\d+\) must match the size of tensor b", err.message):
            raise AssertionError(
                f"{err.describe()}: real_logits (N,) and fake_logits (M,) may have different lengths, so they cannot be "
                f"added elementwise; take each term's mean on its own, mean(-log D(x)) + mean(-log(1 - D(G(z))))"
            ) from None
        if name in ("d_loss", "g_loss") and err.type == "IndexError" and re.search(
                r"Dimension out of range \(expected to be in range of \[-1, 0\]|too many indices for tensor of dimension 1", err.message):
            raise AssertionError(
                f"{err.describe()}: the logits come with one dimension, (N,) as the docstring says (D's outputs (N, 1) "
                f"flattened), so they have no dim 1: take the mean over all of them, .mean(), with no squeeze(1), [:, 0] or dim=1"
            ) from None
        if (fix := removed_integrator(err.type, err.message)) is not None:
            raise AssertionError(f"{err.describe()}: {fix}") from None
        module = masked_module(err.message) if err.type in ("ImportError", "ModuleNotFoundError", "AttributeError") else None
        if module is None:
            raise
        raise AssertionError(not_own(name, module, f"{name} uses")) from None


REMOVED_INTEGRATORS = {"trapz": "trapezoid", "simps": "simpson", "cumtrapz": "cumulative_trapezoid"}  # old name: new


def removed_integrator(kind: str, message: str) -> str | None:
    """The fix for a call of an integration rule NumPy 2.4 or SciPy 1.14 removed (np.trapz, scipy.integrate.simps...),
    else None: older versions, a student's own kernel's perhaps, still have it, so the failure needs saying why.
    Graded, the removed names are there (reference.grading.compat): this speaks in a kernel on the newer versions."""
    found = re.search(r"module '(numpy|scipy\.integrate)' has no attribute '(trapz|simps|cumtrapz)'", message)
    if kind != "AttributeError" or found is None:
        return None
    module, old = found.groups()
    return (f"{module}.{old} no longer exists in the NumPy and SciPy the grader runs (removed in NumPy 2.4 and SciPy 1.14; "
            f"older versions still have it): call {module}.{REMOVED_INTEGRATORS[old]}, the same rule under its new name")


def own_work(submission, name: str, fn, *args) -> None:
    """Fail when fn(*args) runs code of a masked module: possible only in the student's kernel,
    where the course library is whole; graded, the same answer would score 0."""
    ran = run(submission, name, probes_a1.modules_run, fn, *args)
    used = [m for m in ran if isinstance(m, str) and is_masked(m)] if isinstance(ran, list) else []
    assert not used, not_own(name, used[0], f"{name} calls")


def close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-4) -> bool:
    return math.isfinite(a) and abs(a - b) <= abs_ + rel * abs(b)


def num(x: float) -> str:
    return f"{0.0 if abs(x) < 1e-30 else x:.6g}"  # a denormal reads as 0 where denormals are flushed: show 0 everywhere


def diagnose(got: float, want: float, faults: list[tuple[float, str]], rel: float = 1e-4, abs_: float = 1e-4) -> str | None:
    """The message of the common mistake (its value, its message) that `got` matches. Where two
    mistakes' values lie within the tolerance of each other, the one nearer `got` (and, when both
    are about as near, the first listed)."""
    matches = [(abs(got - value), message) for value, message in faults
               if close(got, value, rel, abs_) and not close(value, want, rel, abs_)]
    if not matches:
        return None
    nearest = min(distance for distance, _ in matches)
    return next(message for distance, message in matches if distance <= nearest + (abs_ + rel * abs(want)) / 100)


LOG2, LOG4, LOG10 = math.log(2), math.log(4), math.log(10)
VISIBLE_DX = 0.01  # the step of the visible checks' grid


@dataclass(frozen=True)
class Pair:
    """p_data = N(mu_data, sigma_data^2) and p_g = N(mu_g, sigma_g^2) on the grid linspace(lo, hi, n)."""

    mu_data: float
    sigma_data: float
    mu_g: float
    sigma_g: float
    lo: float = -8.0
    hi: float = 8.0
    n: int = 1601

    @property
    def dx(self) -> float:
        return (self.hi - self.lo) / (self.n - 1)

    def grid(self) -> torch.Tensor:
        return torch.linspace(self.lo, self.hi, self.n, dtype=torch.float64)

    def args(self) -> tuple:
        """What the student's functions are called with: (x, mu_data, sigma_data, mu_g, sigma_g)."""
        return (self.grid(), self.mu_data, self.sigma_data, self.mu_g, self.sigma_g)

    def cut(self) -> bool:
        """The grid leaves out more than 0.1% of either density's mass."""
        x = self.grid()
        return any(float(torch.trapezoid(log_normal(x, mu, s).exp(), x)) < 0.999 for mu, s in ((self.mu_data, self.sigma_data), (self.mu_g, self.sigma_g)))

    def equal(self) -> bool:
        return (self.mu_data, self.sigma_data) == (self.mu_g, self.sigma_g)

    def __str__(self) -> str:
        g = "p_g = p_data" if self.equal() else f"p_g = N({self.mu_g:g}, {self.sigma_g:g}^2)"
        return f"p_data = N({self.mu_data:g}, {self.sigma_data:g}^2), {g}, on x = linspace({self.lo:g}, {self.hi:g}, {self.n})"


def seeded_pair(seed: int, lo: float = -8.0, hi: float = 8.0, n: int = 1601) -> Pair:
    """Two seeded Gaussians, means in [-1, 1], standard deviations in [0.8, 1.25] (2 decimals), so
    that on the checks' grids neither density is more than e^25 times the other: D* stays strictly
    inside (0, 1) in float64, and computing the densities directly is fine."""
    u = torch.rand(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).tolist()
    return Pair(round(2 * u[0] - 1, 2), round(0.8 + 0.45 * u[1], 2), round(2 * u[2] - 1, 2), round(0.8 + 0.45 * u[3], 2), lo, hi, n)


def same_pair(pair: Pair) -> Pair:
    """p_g = p_data = the pair's p_data, on its grid."""
    return Pair(pair.mu_data, pair.sigma_data, pair.mu_data, pair.sigma_data, pair.lo, pair.hi, pair.n)


VISIBLE_PAIRS = (seeded_pair(0), seeded_pair(3), same_pair(seeded_pair(2)))


def log_normal(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    """log N(x; mu, sigma^2), float64."""
    return -0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)


def integral(f: torch.Tensor, pair: Pair) -> float:
    """The trapezoidal rule over the pair's grid."""
    return float(torch.trapezoid(f, dx=pair.dx))


def swapped_integral(f: torch.Tensor, pair: Pair) -> float:
    """np.trapezoid(x, f), the trapezoidal rule with its arguments in the other order: x integrated over f. Where f
    vanishes at both ends of the grid it is minus the integral of f (integration by parts)."""
    return float(torch.trapezoid(pair.grid(), f))


SWAPPED = ("the integral's arguments are in the other order: np.trapezoid(y, x) and torch.trapezoid(y, x) take the "
           "integrand's values first and the grid second (trapezoid(x, y) integrates x over y, minus the integral where the "
           "densities vanish at the grid's ends)")


def log1pexp(t: torch.Tensor) -> torch.Tensor:
    """log(1 + e^t), exact for any t."""
    return torch.logaddexp(torch.zeros_like(t), t)


def theory(pair: Pair) -> dict[str, torch.Tensor | float]:
    """The check's own values on the pair's grid, from log densities (float64): D*, C(G), the JSD,
    and the pieces that common mistakes are made of."""
    x = pair.grid()
    lp, lq = log_normal(x, pair.mu_data, pair.sigma_data), log_normal(x, pair.mu_g, pair.sigma_g)
    p, q = lp.exp(), lq.exp()
    log_d, log_1md = -log1pexp(lq - lp), -log1pexp(lp - lq)  # log D*, log(1 - D*)
    lm = torch.logaddexp(lp, lq) - LOG2  # log m, m = (p_data + p_g) / 2
    return {
        "p": p, "q": q, "d": torch.sigmoid(lp - lq), "log_d": log_d, "log_1md": log_1md,
        "cost": integral(p * log_d + q * log_1md, pair),
        "jsd": 0.5 * integral(p * (lp - lm), pair) + 0.5 * integral(q * (lq - lm), pair),
        "lp": lp, "lq": lq, "lm": lm,
    }


D_STAR_FORMULA = (
    "D*(x) is the y in (0, 1) that maximises p_data(x) log y + p_g(x) log(1 - y) (set its derivative in y to 0), with "
    "the density of N(mu, sigma^2) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"
)
SIGMA_SQUARED = (
    "the densities use sigma^2 as their standard deviation: N(mu, sigma^2) has standard deviation sigma, and "
    "torch.distributions.Normal(loc, scale) and scipy.stats.norm(loc, scale) take the standard deviation as scale: "
    "pass sigma, not sigma**2"
)


def density_slips(pair: Pair) -> list[tuple[Pair, str]]:
    """The pair as a density written wrongly in both functions reads it: [(the Gaussians it then
    computes with, on the same grid; the message)]."""
    d, g = (pair.mu_data, pair.sigma_data), (pair.mu_g, pair.sigma_g)
    on_grid = lambda data, gen: Pair(*data, *gen, pair.lo, pair.hi, pair.n)  # noqa: E731
    same = "each Gaussian has its own mean and standard deviation, p_data = N(mu_data, sigma_data^2) and p_g = N(mu_g, sigma_g^2)"
    return [
        (on_grid((d[0], d[1] ** 2), (g[0], g[1] ** 2)), SIGMA_SQUARED),
        (on_grid((d[0], math.sqrt(d[1])), (g[0], math.sqrt(g[1]))), "sigma_data and sigma_g are standard deviations, "
         "not variances: the density of N(mu, sigma^2) is exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"),
        (on_grid(d, (g[0], d[1])), f"p_g's density uses sigma_data: {same}"),
        (on_grid((d[0], g[1]), g), f"p_data's density uses sigma_g: {same}"),
        (on_grid(d, (d[0], g[1])), f"p_g's density uses mu_data: {same}"),
        (on_grid((g[0], d[1]), g), f"p_data's density uses mu_g: {same}"),
    ]


def d_star_faults(pair: Pair) -> list[tuple[torch.Tensor, str]]:
    """Common wrong D* on the pair's grid: [(their values, the message)]."""
    t, x = theory(pair), pair.grid()
    unnormalised = (t["lp"] + math.log(pair.sigma_data)) - (t["lq"] + math.log(pair.sigma_g))
    as_variance = log_normal(x, pair.mu_data, math.sqrt(pair.sigma_data)) - log_normal(x, pair.mu_g, math.sqrt(pair.sigma_g))
    as_scale_squared = log_normal(x, pair.mu_data, pair.sigma_data ** 2) - log_normal(x, pair.mu_g, pair.sigma_g ** 2)
    return [
        (1 - t["d"], "it is p_g / (p_data + p_g), the probability that x is fake: p_data and p_g are swapped; D* is the "
         "probability that x is real, p_data(x) / (p_data(x) + p_g(x))"),
        ((t["lp"] - t["lq"]).exp(), "it is the density ratio p_data / p_g; D*(x) = p_data(x) / (p_data(x) + p_g(x)), "
         "a probability in [0, 1]"),
        (torch.sigmoid(unnormalised), "the densities lack their normalising factor 1 / (sigma sqrt(2 pi)), which does "
         "not cancel in D* when sigma_data != sigma_g"),
        (torch.sigmoid(as_variance), "sigma_data and sigma_g are standard deviations, not variances: the density of "
         "N(mu, sigma^2) is exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"),
        (torch.sigmoid(as_scale_squared), SIGMA_SQUARED),
        *[(torch.sigmoid(log_normal(x, *data) - log_normal(x, *g)), f"{slip}: each Gaussian has its own mean and standard "
           f"deviation, p_data = N(mu_data, sigma_data^2) and p_g = N(mu_g, sigma_g^2)") for data, g, slip in (
            ((pair.mu_data, pair.sigma_data), (pair.mu_g, pair.sigma_data), "p_g's density uses sigma_data"),
            ((pair.mu_data, pair.sigma_g), (pair.mu_g, pair.sigma_g), "p_data's density uses sigma_g"),
            ((pair.mu_data, pair.sigma_data), (pair.mu_data, pair.sigma_g), "p_g's density uses mu_data"),
            ((pair.mu_g, pair.sigma_data), (pair.mu_g, pair.sigma_g), "p_data's density uses mu_g"))],
    ]


UNNORMALISED = (
    (lambda sigma: math.sqrt(2 * math.pi), "the densities lack the factor 1 / sqrt(2 pi): it cancels in D* = p_data / "
     "(p_data + p_g), but not in the integrals, which need the densities themselves (each integrates to 1): "
     "exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"),
    (lambda sigma: sigma * math.sqrt(2 * math.pi), "the densities lack their normalising factor 1 / (sigma sqrt(2 pi)), "
     "which the integrals need (each density integrates to 1): exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"),
    (lambda sigma: sigma, "the densities lack the factor 1 / sigma of their normalisation, which the integrals need "
     "(each density integrates to 1): exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"),
)


def unnormalised(pair: Pair) -> list[tuple[float, float, str]]:
    """(C(G), JSD, the message) computed with densities that lack part of their normalising factor
    (D* itself right: it does not depend on a common factor)."""
    t, out = theory(pair), []
    for factor, message in UNNORMALISED:
        p, q = t["p"] * factor(pair.sigma_data), t["q"] * factor(pair.sigma_g)
        lm = torch.logaddexp(p.log(), q.log()) - LOG2
        cost = integral(p * t["log_d"] + q * t["log_1md"], pair)
        jsd = 0.5 * integral(p * (p.log() - lm), pair) + 0.5 * integral(q * (q.log() - lm), pair)
        out.append((cost, jsd, message))
    return out


def whole_line_pair(pair: Pair) -> Pair:
    """The pair's Gaussians on a grid that holds (about) the whole real line."""
    return Pair(pair.mu_data, pair.sigma_data, pair.mu_g, pair.sigma_g, -30.0, 30.0, 60001)


def whole_line(pair: Pair) -> dict[str, torch.Tensor | float]:
    """theory() for the pair's Gaussians integrated over (about) the whole real line, not its grid."""
    return theory(whole_line_pair(pair))


def gaussian_entropy(sigma: float) -> float:
    """The differential entropy of N(mu, sigma^2), 1/2 log(2 pi e sigma^2), over the whole real line."""
    return 0.5 * math.log(2 * math.pi * math.e * sigma ** 2)


def rescaled_to_the_grid(pair: Pair) -> dict[str, float]:
    """C(G) and the JSD of the pair's densities each divided by its integral over the grid (so that it integrates to
    1 there), with D* from the rescaled densities ("cost") or the right D* ("cost_weights"; only the weights rescaled)."""
    t, x = theory(pair), pair.grid()
    p, q = t["p"] / float(torch.trapezoid(t["p"], x)), t["q"] / float(torch.trapezoid(t["q"], x))
    lp, lq = p.log(), q.log()
    log_d, log_1md = -log1pexp(lq - lp), -log1pexp(lp - lq)
    lm = torch.logaddexp(lp, lq) - LOG2
    return {"cost": integral(p * log_d + q * log_1md, pair), "cost_weights": integral(p * t["log_d"] + q * t["log_1md"], pair),
            "jsd": 0.5 * integral(p * (lp - lm), pair) + 0.5 * integral(q * (lq - lm), pair)}


RENORMALISED = (
    "it uses the densities renormalised over the grid (each divided by its integral over x, so that it integrates to 1 "
    "there): this grid leaves out part of both densities, so they integrate to less than 1 over it, and {what} "
    "integrates them as they are: do not rescale them"
)
WHOLE_LINE = (
    "it is {what} over the whole real line (scipy.integrate.quad from -inf to inf, or a grid of your own?), not over "
    "the grid x as given, which here leaves out part of both densities: integrate over x"
)
ORDER = "that is {other}: the two numbers are in the wrong order; cost_and_jsd returns (C(G), JSD)"
STEP_OFF_BY_ONE = (
    "the grid step is off by one: n points make n - 1 intervals, so dx = (x[-1] - x[0]) / (len(x) - 1) = x[1] - x[0], "
    "not (x[-1] - x[0]) / len(x) (nor the mean of the integrand times the grid's length)"
)


def identity_text(name: str, derived: str, other_right: bool, pair: Pair, definition: str, fix: str) -> str:
    """The message for a C(G) or JSD that equals what the identity C(G) = -log 4 + 2 JSD makes of the
    student's other number (`derived`, in words). With that number right, this one was derived from it
    (on a grid that cuts the densities, where the identity fails); with it wrong too, both agree through
    the identity, as two numbers computed from the same wrong densities do (the check cannot tell
    which)."""
    if other_right:
        return (f"it is {derived}, derived from the identity you are to show, not {definition}"
                + (": on this grid, which leaves out part of both densities, the two differ" if pair.cut() else "") + f"; {fix}")
    other = "the JSD" if name == "C(G)" else "C(G)"
    return (f"it is {derived}, and {other} is wrong too: both come from the same wrong densities or D*, or {name} is "
            f"derived from {other}; check p_data = N(mu_data, sigma_data^2) and p_g = N(mu_g, sigma_g^2) (sigma is the "
            f"standard deviation), and {fix}")


def cost_faults(pair: Pair, got_jsd: float) -> list[tuple[float, str]]:
    """Common wrong C(G) on the pair's grid: [(their value, the message)]; got_jsd is the
    student's own JSD (a C(G) derived from it is the identity, not the integral)."""
    t = theory(pair)
    p, q, d, cost = t["p"], t["q"], t["d"], t["cost"]
    integrand = p * t["log_d"] + q * t["log_1md"]
    swapped = swapped_integral(integrand, pair)
    faults = [
        *([(swapped, SWAPPED), (-swapped, f"{SWAPPED}, and its sign flipped back")] if abs(swapped + cost) > 1e-9 * (1 + abs(cost)) else []),
        (-cost, "the sign is flipped: C(G) = V(D*, G), the integral of p_data log D* + p_g log(1 - D*), is <= 0 "
         "(its minimum, -log 4, is at p_g = p_data), or " + SWAPPED),
        (integral(p * d + q * (1 - d), pair), "the logs are missing: C(G) integrates p_data(x) log D*(x) + p_g(x) log(1 - D*(x))"),
        *[(integral(weight * (t["log_d"] + t["log_1md"]), pair), f"both terms are weighted by {name}: C(G) integrates "
           f"p_data(x) log D*(x) + p_g(x) log(1 - D*(x)), the real term weighted by p_data, the fake term by p_g")
          for weight, name in ((p, "p_data"), (q, "p_g"))],
        *[(integral(term, pair), f"it holds only the {which} term, the integral of {written}: C(G) = V(D*, G) integrates "
           f"both, p_data log D* + p_g log(1 - D*) (the real term does not depend on G, but it is part of V)")
          for term, which, written in ((p * t["log_d"], "real", "p_data log D*"), (q * t["log_1md"], "fake", "p_g log(1 - D*)"))],
        (cost / pair.dx, "it is the sum of the integrand without the grid step: an integral over the grid is "
         "(sum of f(x_i)) * dx, with dx = x[1] - x[0]"),
        (cost / pair.dx / pair.n, "it is the mean of the integrand over the grid points, not its integral: "
         "(sum of f(x_i)) * dx, with dx = x[1] - x[0]"),
        (cost * (pair.n - 1) / pair.n, STEP_OFF_BY_ONE),
        (integral(p * t["log_1md"] + q * t["log_d"], pair), "it uses p_g / (p_data + p_g) as D*: p_data and p_g are "
         "swapped (D* is the probability that x is real; check d_star)"),
        *[(integral(p * wrong.log() + q * (1 - wrong).log(), pair), f"it uses a wrong D*: {message}")
          for wrong, message in d_star_faults(pair)[2:]],  # D* without normalising factors, sigma as a variance
        (cost / LOG2, "it is in bits (log base 2): V(D, G) uses natural logs, and so does C(G) = -log 4 + 2 JSD"),
        (cost / LOG10, "it uses base-10 logs (log10): V(D, G) uses natural logs (torch.log, np.log), and so does "
         "C(G) = -log 4 + 2 JSD"),
        (t["jsd"], ORDER.format(other="the JSD")),
        *[(wrong_cost, message) for wrong_cost, _, message in unnormalised(pair)],
        *([(whole_line(pair)["cost"], WHOLE_LINE.format(what="C(G)"))] if pair.cut() else []),  # before the identity, which holds there
        *([(rescaled_to_the_grid(pair)[key], RENORMALISED.format(what="C(G)")) for key in ("cost", "cost_weights")] if pair.cut() else []),
        *[(theory(slip)["cost"], f"it is C(G) with the wrong densities: {message}") for slip, message in density_slips(pair)],
        (-LOG4 + 2 * got_jsd, identity_text("C(G)", "-log 4 + 2 JSD (your JSD)", close(got_jsd, t["jsd"], JSD_CUT_TOL, JSD_CUT_TOL),
                                             pair, "V(D*, G) integrated", "compute C(G) from its own definition")),
    ]
    if abs(pair.dx - VISIBLE_DX) > 1e-12:
        faults.append((cost * VISIBLE_DX / pair.dx, f"the integral uses the step {VISIBLE_DX:g} of the visible checks' "
                       f"grid; this grid's step is {pair.dx:g}: take it from the grid, dx = x[1] - x[0]"))
    return faults


def kl_faults(pair: Pair) -> list[tuple[float, str]]:
    """KL(p_data || p_g) and KL(p_g || p_data), whole and halved, on the pair's grid: a KL divergence
    given for the JSD ([(its value, the message)])."""
    t = theory(pair)
    p, q, lp, lq = t["p"], t["q"], t["lp"], t["lq"]
    return [
        (share * integral(a * (la - lb), pair), f"that is {'1/2 ' if share < 1 else ''}KL({name_a} || {name_b}), the KL "
         f"divergence of one density from the other; the JSD compares each with the mixture m = (p_data + p_g) / 2: "
         f"1/2 KL(p_data || m) + 1/2 KL(p_g || m)")
        for a, la, name_a, lb, name_b in ((p, lp, "p_data", lq, "p_g"), (q, lq, "p_g", lp, "p_data")) for share in (1.0, 0.5)
    ]


def jsd_faults(pair: Pair, got_cost: float) -> list[tuple[float, str]]:
    """Common wrong JSD on the pair's grid: [(their value, the message)]; got_cost is the
    student's own C(G) (a JSD derived from it is the identity, not the definition)."""
    t = theory(pair)
    p, q, lp, lq, jsd = t["p"], t["q"], t["lp"], t["lq"], t["jsd"]
    sum_mixture = torch.logaddexp(lp, lq)
    mass_p, mass_q = p / p.sum(), q / q.sum()
    mixture = (mass_p + mass_q) / 2
    renormalised = float(0.5 * (mass_p * (mass_p / mixture).log()).sum() + 0.5 * (mass_q * (mass_q / mixture).log()).sum())
    lm = t["lm"]
    swapped = 0.5 * swapped_integral(p * (lp - lm), pair) + 0.5 * swapped_integral(q * (lq - lm), pair)
    faults = [
        *([(swapped, SWAPPED), (-swapped, f"{SWAPPED}, and its sign flipped back")] if abs(swapped + jsd) > 1e-9 * (1 + abs(jsd)) else []),
        (jsd / LOG2, "it is in bits (log base 2): the identity C(G) = -log 4 + 2 JSD holds in nats, with natural logs "
         "like V(D, G)"),
        (jsd / LOG10, "it uses base-10 logs (log10): the identity C(G) = -log 4 + 2 JSD holds in nats, with natural logs "
         "(torch.log, np.log) like V(D, G)"),
        (jsd / pair.dx, "it is the sum of the integrand without the grid step: an integral over the grid is "
         "(sum of f(x_i)) * dx, with dx = x[1] - x[0]"),
        (jsd / pair.dx / pair.n, "it is the mean of the integrand over the grid points, not its integral: "
         "(sum of f(x_i)) * dx, with dx = x[1] - x[0]"),
        (jsd * (pair.n - 1) / pair.n, STEP_OFF_BY_ONE),
        (-jsd, "the sign is flipped: JSD = 1/2 KL(p_data || m) + 1/2 KL(p_g || m) >= 0, with KL(p || m) the integral of p log(p / m), "
         "or " + SWAPPED),
        (2 * jsd, "it is twice the JSD: JSD = 1/2 KL(p_data || m) + 1/2 KL(p_g || m), the mean of the two KL divergences, not their sum"),
        (0.5 * integral(p * (lp - sum_mixture), pair) + 0.5 * integral(q * (lq - sum_mixture), pair),
         "the mixture is m = (p_data + p_g) / 2, not p_data + p_g"),
        (0.5 * integral(p * (lp - lq), pair) + 0.5 * integral(q * (lq - lp), pair), "that compares p_data with p_g "
         "directly (a symmetrised KL divergence); the JSD compares each with the mixture m = (p_data + p_g) / 2"),
        (0.5 * integral(t["lm"].exp() * (t["lm"] - lp), pair) + 0.5 * integral(t["lm"].exp() * (t["lm"] - lq), pair),
         "the KL divergences' arguments are swapped: you integrate m log(m / p_data), which is KL(m || p_data); the "
         "JSD uses KL(p_data || m), the integral of p_data log(p_data / m) (F.kl_div(input, target) is KL(target || "
         "exp(input)))"),
        (t["cost"], ORDER.format(other="C(G)")),
        *kl_faults(pair),
        *(kl_faults(whole_line_pair(pair)) if pair.cut() else []),  # in closed form, over the whole line
        *[(share * integral(a * (la - t["lm"]), pair), f"it holds only {name}'s term, {'1/2 ' if share < 1 else ''}KL({name} "
           f"|| m): the JSD is the mean of both, 1/2 KL(p_data || m) + 1/2 KL(p_g || m)")
          for a, la, name in ((p, lp, "p_data"), (q, lq, "p_g")) for share in (1.0, 0.5)],
        *[(wrong_jsd, message) for _, wrong_jsd, message in unnormalised(pair)],
        *([(whole_line(pair)["jsd"], WHOLE_LINE.format(what="the JSD"))] if pair.cut() else []),  # before the identity
        *([(rescaled_to_the_grid(pair)["jsd"], RENORMALISED.format(what="the JSD"))] if pair.cut() else []),
        *([(-integral(t["lm"].exp() * t["lm"], pair) - (gaussian_entropy(pair.sigma_data) + gaussian_entropy(pair.sigma_g)) / 2,
            "it is H(m) - (H(p_data) + H(p_g)) / 2 with the entropies of p_data and p_g in closed form, 1/2 log(2 pi e "
            "sigma^2), which are integrals over the whole real line, and H(m) over the grid: this grid leaves out part of "
            "both densities, so the terms do not match; integrate every term over x")] if pair.cut() else []),
        (math.sqrt(max(jsd, 0.0)), "it is the square root of the JSD (the Jensen-Shannon distance): return the divergence itself"),
        *[(theory(slip)["jsd"], f"it is the JSD of the wrong densities: {message}") for slip, message in density_slips(pair)],
        ((got_cost + LOG4) / 2, identity_text("the JSD", "(C(G) + log 4) / 2 (your C(G))", close(got_cost, t["cost"], CUT_TOL, CUT_TOL),
                                               pair, "the JSD from its definition", "compute the JSD by integrating 1/2 p_data "
                                               "log(p_data / m) + 1/2 p_g log(p_g / m)")),
        *[(value, f"it is {what}the JSD of the densities renormalised over the grid's points (scipy.stats.entropy and "
           f"scipy.spatial.distance.jensenshannon rescale their inputs to sum to 1){also}: integrate the definition over "
           f"the grid as it is{fix}")
          for value, what, also, fix in (
              (renormalised, "", "", ""),
              (renormalised / LOG2, "", ", in bits (log base 2)", ", with natural logs"),
              (math.sqrt(max(renormalised, 0.0)), "the square root of ", "", ", and return the divergence itself "
               "(jensenshannon returns the Jensen-Shannon distance, its square root)"),
              (math.sqrt(max(renormalised, 0.0) / LOG2), "the square root of ", ", in bits (log base 2)", ", with "
               "natural logs, and return the divergence itself (jensenshannon returns the Jensen-Shannon distance, "
               "its square root)"))],
    ]
    if abs(pair.dx - VISIBLE_DX) > 1e-12:
        faults.append((jsd * VISIBLE_DX / pair.dx, f"the integral uses the step {VISIBLE_DX:g} of the visible checks' "
                       f"grid; this grid's step is {pair.dx:g}: take it from the grid, dx = x[1] - x[0]"))
    return faults


def d_star_answer(submission, pair: Pair) -> torch.Tensor:
    """d_star(x, ...) on the pair's grid as float64 values (n,); a failure that names the fault when
    it is not one number per grid point."""
    answer = run(submission, "d_star", probes_a1.number, submission.get("d_star"), *pair.args())
    kind = answer.get("type") if isinstance(answer, dict) else None
    kind = kind if isinstance(kind, str) else "something else"
    values, shape = answer.get("values") if isinstance(answer, dict) else None, answer.get("shape") if isinstance(answer, dict) else None
    assert kind != "NoneType", "d_star returned None (is its return missing?); return D* at the grid points, shape (N,)"
    assert isinstance(values, torch.Tensor) and values.dtype == torch.float64 and values.dim() == 1, (
        f"d_star returned {kind}; return a tensor (or an array) of D* at the grid points, shape (N,)"
    )
    assert values.numel() == pair.n, (
        f"d_star returned shape {tuple(shape) if isinstance(shape, list) else '?'} for a grid of {pair.n} points; "
        f"expected ({pair.n},), one value of D* per grid point"
    )
    assert shape == [pair.n], (  # D* as a column (N, 1) broadcasts against the densities (N,) into an (N, N) matrix
        f"d_star returned shape {tuple(shape) if isinstance(shape, list) else '?'} for a grid of shape ({pair.n},); expected "
        f"({pair.n},), the grid's own shape: a D* of shape (N, 1) times a density of shape (N,) broadcasts to an (N, N) "
        f"matrix, so C(G)'s integrand p_data log D* + p_g log(1 - D*) would not be one value per grid point; keep x's "
        f"shape (no unsqueeze, [:, None] or view(-1, 1))"
    )
    return values


def cost_and_jsd_answer(submission, pair: Pair) -> tuple[float, float]:
    """cost_and_jsd(x, ...) on the pair's grid as (C(G), JSD); a failure that names the fault when
    it is not two numbers."""
    answer = run(submission, "cost_and_jsd", probes_a1.numbers, submission.get("cost_and_jsd"), *pair.args())
    kind = answer.get("type") if isinstance(answer, dict) else None
    kind = kind if isinstance(kind, str) else "something else"
    items = answer.get("items") if isinstance(answer, dict) else None
    assert kind != "NoneType", "cost_and_jsd returned None (is its return missing?); return the two numbers (C(G), JSD)"
    assert isinstance(items, list) and answer.get("length") == 2, (
        f"cost_and_jsd returned {kind}"
        + (f" of {answer.get('length')} items" if isinstance(items, list) else "")
        + "; return a tuple of two numbers, (C(G), JSD)"
    )
    out = []
    for name, item in zip(("C(G)", "the JSD"), items):
        values = item.get("values") if isinstance(item, dict) else None
        item_kind = item.get("type") if isinstance(item, dict) else "something else"
        assert isinstance(values, torch.Tensor) and values.dtype == torch.float64 and values.numel() == 1, (
            f"cost_and_jsd returned {item_kind if isinstance(item_kind, str) else 'something else'} as {name}; "
            f"return one number (a float or a 0-dim tensor): integrate over the grid"
        )
        out.append(float(values[0]))
    return out[0], out[1]


def grid_faults(pair: Pair) -> list[tuple[torch.Tensor, str]]:
    """D* at the points of the visible checks' grid span instead of the pair's own grid x: [(its values, the message)]
    ([] on a grid of that span)."""
    lo, hi = VISIBLE_PAIRS[0].lo, VISIBLE_PAIRS[0].hi
    if (pair.lo, pair.hi) == (lo, hi):
        return []
    own = Pair(pair.mu_data, pair.sigma_data, pair.mu_g, pair.sigma_g, lo, hi, pair.n)
    return [(theory(own)["d"], f"those are D*'s values at the points of linspace({lo:g}, {hi:g}, len(x)), a grid of its "
             f"own, not at the points x it is given: compute D* at x")]


D_STAR_GRIDS = (*VISIBLE_PAIRS, seeded_pair(5, -6.0, 7.0, 521))  # and one grid of another span and step: D* at x itself


def d_star_failure(submission, pair: Pair) -> str | None:
    """Why d_star is wrong on the pair's grid, else None."""
    got, t = d_star_answer(submission, pair), theory(pair)
    want = t["d"]
    wrong = ~torch.isclose(got, want, rtol=0, atol=1e-6)
    if not wrong.any():
        return None
    i = int((got - want).abs().nan_to_num(nan=math.inf).argmax())
    hint = next((message for values, message in d_star_faults(pair) + grid_faults(pair)
                 if torch.allclose(got, values, rtol=0, atol=1e-6) and not torch.allclose(values, want, rtol=0, atol=1e-6)), None)
    x = float(pair.grid()[i])
    return f"d_star for {pair} is {num(float(got[i]))} at x = {x:.3g}; expected {num(float(want[i]))}: {hint or D_STAR_FORMULA}"


NOT_FINITE = (
    "a log met 0 or a negative number on the grid: D* must lie strictly between 0 and 1 (check d_star), and in float32 "
    "D* or 1 - D* rounds to exactly 0 where one density is about e^17 times the other; keep the grid's float64, or "
    "take log D* and log(1 - D*) from the log densities"
)
TOL = 1e-5  # C(G) and the JSD: any quadrature rule agrees (the grids reach where the densities vanish)
CUT_TOL = 1e-3  # on the cut grid the densities do not vanish at its ends, where quadrature rules differ by ~dx f
JSD_CUT_TOL = 1e-4  # ... C(G)'s by up to 8e-4 there, the JSD's (about 0.008) by 2e-5: a looser band would match unrelated mistakes


def cost_failure(pair: Pair, got: float, got_jsd: float, tol: float = TOL) -> str | None:
    """Why the student's C(G) is wrong on the pair's grid, else None."""
    want = theory(pair)["cost"]
    if close(got, want, tol, tol):
        return None
    hint = NOT_FINITE if not math.isfinite(got) else diagnose(got, want, cost_faults(pair, got_jsd), tol, tol) or (
        "C(G) = V(D*, G), the integral over the grid of p_data(x) log D*(x) + p_g(x) log(1 - D*(x)), natural logs"
    )
    expected = f"{num(want)}" + (" (-log 4: D* = 1/2 everywhere)" if pair.equal() else "")
    return f"C(G) for {pair} is {num(got)}; expected {expected}: {hint}"


def jsd_failure(pair: Pair, got: float, got_cost: float, tol: float = TOL) -> str | None:
    """Why the student's JSD is wrong on the pair's grid, else None."""
    want = theory(pair)["jsd"]
    if close(got, want, tol, tol):
        return None
    hint = NOT_FINITE if not math.isfinite(got) else diagnose(got, want, jsd_faults(pair, got_cost), tol, tol) or (
        "JSD = 1/2 KL(p_data || m) + 1/2 KL(p_g || m), m = (p_data + p_g) / 2, KL(p || m) the integral of p log(p / m), natural logs"
    )
    expected = f"{num(want)}" + (" (the JSD of a density with itself)" if pair.equal() else "")
    return f"the JSD for {pair} is {num(got)}; expected {expected}: {hint}"


@check(points=2, visible=True)
def test_d_star_is_the_optimal_discriminator(submission):
    """d_star is the optimal discriminator on a grid, 1/2 where p_g = p_data"""
    for pair in D_STAR_GRIDS:
        failure = d_star_failure(submission, pair)
        assert failure is None, failure


@check(points=2, visible=True)
def test_cost_is_v_at_d_star(submission):
    """cost_and_jsd's C(G) is V(D*, G) integrated over the grid, -log 4 where p_g = p_data"""
    for pair in VISIBLE_PAIRS:
        cost, jsd = cost_and_jsd_answer(submission, pair)
        failure = cost_failure(pair, cost, jsd)
        assert failure is None, failure


@check(points=2, visible=True)
def test_jsd_from_its_definition(submission):
    """cost_and_jsd's JSD is 1/2 KL(p_data || m) + 1/2 KL(p_g || m) integrated over the grid, 0 where p_g = p_data"""
    for pair in VISIBLE_PAIRS:
        cost, jsd = cost_and_jsd_answer(submission, pair)
        failure = jsd_failure(pair, jsd, cost)
        assert failure is None, failure


def uneven_grid(n: int = 2001) -> torch.Tensor:
    """An increasing grid x = 10 u^3 + 2 u for u = linspace(-1, 1, n), float64 (n,): from -12 to 12, its step 0.002 near
    0 and 0.032 at the ends (n odd: 0 is a grid point). An integral over it weighs each point by the widths beside it."""
    u = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
    return 10 * u**3 + 2 * u


def tabulated_normal(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    """N(mu, sigma^2)'s density at the grid points (n,)."""
    return log_normal(x, mu, sigma).exp()


def triangle(x: torch.Tensor, centre: float, half_width: float) -> torch.Tensor:
    """A triangular density (n,) on [centre - half_width, centre + half_width], exactly 0 outside it, scaled so that
    its trapezoidal integral over x is 1."""
    t = (1 - (x - centre).abs() / half_width).clamp(min=0)
    return t / torch.trapezoid(t, x)


def kl_integrand(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """p log(p / q) at the grid points (n,), 0 where p = 0 (0 log 0 = 0); requires q > 0 wherever p > 0."""
    return torch.xlogy(p, p) - torch.xlogy(p, q)


def own_kl(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> float:
    return float(torch.trapezoid(kl_integrand(p, q), x))


def normal_kl(mu_p: float, sigma_p: float, mu_q: float, sigma_q: float) -> float:
    """KL(N(mu_p, sigma_p^2) || N(mu_q, sigma_q^2)) in nats, in closed form."""
    return math.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5


DIVERGENCE_TOL = 1e-5  # the trapezoidal rule on these grids is within 1e-7 of the closed form; other rules within 1e-6
ZERO_LOG_ZERO = (
    "a density is 0 at some grid points, and there p log(p / q) is 0 log 0 = 0, but computed as written it is 0 * "
    "log(0) = 0 * (-inf) (or 0 / 0) = NaN in floating point: make the integrand 0 wherever p = 0 (torch.where, or "
    "torch.xlogy(p, p) - torch.xlogy(p, q))"
)
IN_BITS = "it is in bits (log base 2): divergences here are in nats, with natural logs (torch.log, np.log), as in C(G) = -log 4 + 2 JSD"
IN_LOG10 = "it uses base-10 logs (log10): divergences here are in nats, with natural logs (torch.log, np.log)"
EVEN_STEP = (
    "it is the sum of the integrand times x[1] - x[0], but this grid is not evenly spaced: weigh each interval by its "
    "own width, the trapezoidal rule sum over i of (f(x_i) + f(x_i+1)) / 2 * (x_i+1 - x_i)"
)
MEAN_INTEGRAND = (
    "it is the mean of the integrand over the grid points, not its integral: integrate with the trapezoidal rule, sum "
    "over i of (f(x_i) + f(x_i+1)) / 2 * (x_i+1 - x_i)"
)
PLAIN_SUM = "it is the sum of the integrand without the widths of the grid's intervals: integrate with the trapezoidal rule, sum over i of (f(x_i) + f(x_i+1)) / 2 * (x_i+1 - x_i)"
KL_FORMULA = "KL(p || q) is the integral over the grid of p(x) log(p(x) / q(x)), natural logs, by the trapezoidal rule"


def integration_faults(f: torch.Tensor, x: torch.Tensor, scale: float = 1.0) -> list[tuple[float, str]]:
    """The integral of f over x as the common mistakes compute it (times `scale`: 1/2 per JSD term)."""
    return [(scale * float(f.sum() * (x[1] - x[0])), EVEN_STEP), (scale * float(f.mean()), MEAN_INTEGRAND),
            (scale * float(f.sum()), PLAIN_SUM)]


def grid_kl_faults(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> list[tuple[float, str]]:
    kl = own_kl(p, q, x)
    return [
        (kl / LOG2, IN_BITS), (kl / LOG10, IN_LOG10),
        (own_kl(q, p, x), "that is KL(q || p): the arguments are the other way round; KL(p || q) integrates p log(p / q), "
         "weighted by the first density p"),
        (-kl, "its sign is flipped: KL(p || q) integrates p log(p / q), not p log(q / p), and it is >= 0"),
        *integration_faults(kl_integrand(p, q), x),
    ]


def divergence_answer(submission, name: str, p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> float:
    """name(p, q, x) as a float; a failure that names the fault when it is not one real number."""
    answer = run(submission, name, probes_a1.number, submission.get(name), p, q, x)
    kind = answer.get("type") if isinstance(answer, dict) else None
    kind = kind if isinstance(kind, str) else "something else"
    values = answer.get("values") if isinstance(answer, dict) else None
    assert kind != "NoneType", f"{name} returned None (is its return missing?); return the divergence as one number"
    assert isinstance(values, torch.Tensor) and values.dtype == torch.float64 and values.numel() == 1, (
        f"{name} returned {kind}" + (f" of {values.numel()} numbers" if isinstance(values, torch.Tensor) else "")
        + "; return one number (a float or a 0-dim tensor): the integral of the integrand over the grid"
    )
    return float(values[0])


def divergence_failure(name: str, case: str, got: float, want: float, faults: list[tuple[float, str]], definition: str) -> str | None:
    """Why `got` is not `want` for the case, else None."""
    if close(got, want, DIVERGENCE_TOL, DIVERGENCE_TOL):
        return None
    hint = ZERO_LOG_ZERO if math.isnan(got) else diagnose(got, want, faults, DIVERGENCE_TOL, DIVERGENCE_TOL) or definition
    return f"{name} for {case} is {num(got)}; expected {num(want)}: {hint}"


EVEN = torch.linspace(-12.0, 12.0, 2401, dtype=torch.float64)  # step 0.01
UNEVEN = uneven_grid()
KL_GAUSSIANS = ((0.3, 1.0, -0.5, 1.3), (-0.2, 1.1, 0.6, 0.9))  # (mu_p, sigma_p, mu_q, sigma_q)


def gaussians_case(mu_p: float, sigma_p: float, mu_q: float, sigma_q: float, grid: str) -> str:
    return f"p = N({mu_p:g}, {sigma_p:g}^2), q = N({mu_q:g}, {sigma_q:g}^2) on {grid}"


EVEN_NAME = "x = linspace(-12, 12, 2401)"
UNEVEN_NAME = "the uneven grid x = 10 u^3 + 2 u, u = linspace(-1, 1, 2001)"


@check(points=2, visible=True)
def test_kl_on_grid_matches_the_closed_form(submission):
    """kl_on_grid is KL(N1 || N2)'s closed form on an even and an uneven grid, 0 for p = q, and finite where p is 0"""
    for grid, grid_name in ((EVEN, EVEN_NAME), (UNEVEN, UNEVEN_NAME)):
        for mu_p, sigma_p, mu_q, sigma_q in KL_GAUSSIANS:
            p, q = tabulated_normal(grid, mu_p, sigma_p), tabulated_normal(grid, mu_q, sigma_q)
            got = divergence_answer(submission, "kl_on_grid", p, q, grid)
            failure = divergence_failure("kl_on_grid", gaussians_case(mu_p, sigma_p, mu_q, sigma_q, grid_name), got,
                                         normal_kl(mu_p, sigma_p, mu_q, sigma_q), grid_kl_faults(p, q, grid), KL_FORMULA)
            assert failure is None, failure
    p = tabulated_normal(UNEVEN, 0.3, 1.0)
    same = divergence_answer(submission, "kl_on_grid", p, p.clone(), UNEVEN)
    assert close(same, 0.0, 0.0, DIVERGENCE_TOL), (
        f"kl_on_grid(p, p, x) for p = N(0.3, 1^2) on {UNEVEN_NAME} is {num(same)}; expected 0: "
        + (ZERO_LOG_ZERO if math.isnan(same) else "log(p / p) = 0 at every point")
    )
    p, q = triangle(UNEVEN, 0.5, 2.0), tabulated_normal(UNEVEN, 0.0, 1.0)
    got = divergence_answer(submission, "kl_on_grid", p, q, UNEVEN)
    failure = divergence_failure("kl_on_grid", f"a triangular p on [-1.5, 2.5] (0 elsewhere), q = N(0, 1) on {UNEVEN_NAME}",
                                 got, own_kl(p, q, UNEVEN), grid_kl_faults(p, q, UNEVEN), KL_FORMULA)
    assert failure is None, failure


def logits(n: int = 16, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    """Seeded float32 logits (n,) in a moderate range."""
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * scale


BITS = "it is in bits (log base 2): the losses use natural logs, as binary cross-entropy does: {terms}"
ONE_PLUS_D = (
    "{term} takes log(1 + D(G(z))), not log(1 - D(G(z))) (torch.log1p(t) is log(1 + t)): 1 - D(G(z)) is the "
    "probability that the fake is fake, and log(1 - D) = -F.softplus(logit), exact for any logit"
)
SIGMOID_OF_ONE_MINUS = (
    "{term} takes sigmoid(1 - logit) for 1 - D(G(z)), but 1 - sigmoid(logit) = sigmoid(-logit): "
    "log(1 - D) = F.logsigmoid(-logit) = -F.softplus(logit)"
)


def d_loss_faults(real: torch.Tensor, fake: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong discriminator losses on these logits: [(their value, the message)]."""
    r, f = real.double(), fake.double()
    want = F.softplus(-r).mean() + F.softplus(f).mean()
    pooled = (F.softplus(-r).sum() + F.softplus(f).sum()) / (len(r) + len(f))  # one mean over both batches
    return [
        (float(-want), "it is the negative of D's loss: you return V(D, G) = mean(log D(x)) + mean(log(1 - D(G(z)))), "
         "which D maximises; d_loss is what D minimises, -V (>= 0)"),
        (float(want / 2), "it is exactly half the expected value: you average the real and fake terms ((loss_real + "
         "loss_fake) / 2, as DeepLearning.AI's course and d2l do); this task sums the two means: mean(-log D(x)) + "
         "mean(-log(1 - D(G(z))))"),
        (float(pooled), "it is one mean over both batches together (binary cross-entropy on torch.cat of the logits, or the two sums "
         "divided by N + M); "
         "this task sums the two means, mean(-log D(x)) + mean(-log(1 - D(G(z)))), one per batch: N real and M fake "
         "logits weigh the same only when N = M"),
        (float(2 * pooled), "it is twice one mean over both batches together, which equals the sum of the two means "
         "only when there are as many real as fake logits (N = M); take each batch's mean: mean(-log D(x)) + "
         "mean(-log(1 - D(G(z))))"),
        (float(F.softplus(-r).mean()), "the fake term is missing: D also learns from G's samples, + mean(-log(1 - "
         "D(G(z)))) = F.softplus(fake_logits).mean()"),
        (float(F.softplus(f).mean()), "the real term is missing: D also learns from real images, mean(-log D(x)) = "
         "F.softplus(-real_logits).mean()"),
        (float(F.softplus(-r).mean() + F.softplus(-f).mean()), "the fake term labels the fakes as real: on D(G(z)) the "
         "loss is -log(1 - D(G(z))) = F.softplus(logit), i.e. binary cross-entropy with target 0 (torch.zeros_like), not 1"),
        (float(F.softplus(r).mean() + F.softplus(f).mean()), "the real term labels the real images as fake: on D(x) the "
         "loss is -log D(x) = F.softplus(-logit), i.e. binary cross-entropy with target 1 (torch.ones_like), not 0"),
        (float(F.softplus(r).mean() + F.softplus(-f).mean()), "the targets are swapped: real images get target 1 "
         "(-log D(x)) and fakes target 0 (-log(1 - D(G(z)))); or the arguments are: d_loss is called as "
         "d_loss(real_logits, fake_logits), in that order"),
        (float(F.softplus(-r).sum() + F.softplus(f).sum()), "it is the sum over the batch, not the mean: take the mean "
         "of each term (binary cross-entropy's default reduction='mean')"),
        (float((0.9 * F.softplus(-r) + 0.1 * F.softplus(r)).mean() + F.softplus(f).mean()), "the real images' target is "
         "0.9 (one-sided label smoothing), not 1: this task's loss is mean(-log D(x)) + mean(-log(1 - D(G(z)))), "
         "targets 1 for real and 0 for fake"),
        *[(float((F.softplus(-r).sum() + F.softplus(f).sum()) / size), f"both batches' sums are divided by {size_name}, the "
           f"{batch} batch's size, which is each batch's mean only when both have as many logits (N = M); take each "
           f"batch's own mean: mean(-log D(x)) + mean(-log(1 - D(G(z))))")
          for size, size_name, batch in ((len(r), "N", "real"), (len(f), "M", "fake"))],
        (float((F.softplus(-r).sum() + F.softplus(f).sum()) / 2), "it is half the sum of the two batches' sums "
         "(binary cross-entropy with reduction='sum', then / 2, as d2l writes D's loss): this task takes each batch's "
         "mean, mean(-log D(x)) + mean(-log(1 - D(G(z))))"),
        (float(want / LOG2), BITS.format(terms="-log D = F.softplus(-logit), -log(1 - D) = F.softplus(logit)")),
        (float(F.softplus(-r).mean() - torch.log1p(torch.sigmoid(f)).mean()), ONE_PLUS_D.format(term="the fake term")),
        (float(F.softplus(-r).mean() - F.logsigmoid(1 - f).mean()), SIGMOID_OF_ONE_MINUS.format(term="the fake term")),
    ]


def g_loss_faults(fake: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong minimax generator losses on these logits: [(their value, the message)]."""
    f = fake.double()
    return [
        (float(F.softplus(-f).mean()), "that is the non-saturating loss -log D(G(z)); this task asks for the minimax one"),
        (float(F.softplus(f).mean()), "it is the negative of G's loss: you return mean(-log(1 - D(G(z)))) (binary "
         "cross-entropy with target 0), D's loss on the fakes; G minimises mean(log(1 - D(G(z)))) (<= 0)"),
        (float(-F.softplus(-f).mean()), "that is mean(log D(G(z))), the non-saturating loss negated; this task asks "
         "for the minimax loss mean(log(1 - D(G(z))))"),
        (float(-F.softplus(f).sum()), "it is the sum over the batch, not the mean: take the mean"),
        (float(-F.softplus(f).mean() / 2), "it is exactly half the expected value: G minimises mean(log(1 - D(G(z)))), "
         "with no factor 1/2"),
        (float(-F.softplus(f).mean() / LOG2), BITS.format(terms="log(1 - D) = -F.softplus(logit)")),
        (float(torch.log1p(torch.sigmoid(f)).mean()), ONE_PLUS_D.format(term="the loss")),
        (float(F.logsigmoid(1 - f).mean()), SIGMOID_OF_ONE_MINUS.format(term="the loss")),
    ]


@dataclass(frozen=True)
class LossTask:
    """One loss the student writes: its name, its arguments, who learns from it, the formula, the
    oracle, its common mistakes, the seeded moderate logits it is checked on (and the same again with
    batches of other lengths: a loss that divides by a batch size written into it is right on one set of
    lengths at most) and its per-sample terms, whose means over each batch make the loss."""

    name: str
    args: tuple[str, ...]
    learner: str
    formula: str
    reference: Callable[..., torch.Tensor]
    faults: Callable[..., list[tuple[float, str]]]
    seeded: Callable[[], tuple[torch.Tensor, ...]]
    resized: Callable[[], tuple[torch.Tensor, ...]]
    terms: Callable[..., list[torch.Tensor]]
    cut_hint: str = ""

    def cases(self) -> list[tuple[torch.Tensor, ...]]:
        return [self.seeded(), self.resized()]


D_LOSS = LossTask(
    "d_loss", ("real_logits", "fake_logits"), "D", "mean(-log D(x)) + mean(-log(1 - D(G(z)))) with D = sigmoid(logit)",
    MINIMAX.d_loss, d_loss_faults, lambda: (logits(16, 1), logits(12, 2)),  # N != M: the docstring's (N,) and (M,)
    lambda: (logits(7, 4), logits(10, 5)), lambda r, f: [F.softplus(-r), F.softplus(f)],
    cut_hint="; to keep G out of D's step, detach G(z) before D sees it, not D's logits",
)
G_LOSS = LossTask(
    "g_loss", ("fake_logits",), "G", "G minimises mean(log(1 - D(G(z)))) with D = sigmoid(logit)",
    MINIMAX.g_loss, g_loss_faults, lambda: (logits(16, 3),), lambda: (logits(9, 6),), lambda f: [-F.softplus(f)],
)


@dataclass
class Loss:
    """What a student's loss returned on some logits: value, whether it carries a graph, and
    d(value)/d(each input) (float64, the input's shape; None where the graph does not reach)."""

    value: float
    requires_grad: bool
    grads: list[torch.Tensor | None]


def loss_answer(submission, task: LossTask, *inputs: torch.Tensor) -> Loss:
    """The student's loss on `inputs`; a failure that names the fault when it is not a 0-dim
    tensor, or when it is the course library's."""
    name = task.name
    fn = student(submission, name)
    own_work(submission, name, fn, *inputs)
    answer = run(submission, name, probes.value_and_grad, fn, *inputs)
    result = answer.get("result") if isinstance(answer, dict) else None
    kind = result.get("type") if isinstance(result, dict) else None
    assert kind != "NoneType", f"{name} returned None (is its return missing?); return the loss as a torch tensor"
    assert kind == "Tensor", (
        f"{name} returned {kind if isinstance(kind, str) else 'something else'}; return "
        + ("a torch tensor (no .item()), " if kind in ("float", "int") else "one 0-dim torch tensor, the loss, ")
        + "so that loss.backward() works"
    )
    shape = result.get("shape")
    value = answer.get("value")
    if not isinstance(shape, list) or not all(isinstance(s, int) for s in shape):
        shape = list(value.shape) if isinstance(value, torch.Tensor) else [-1]
    assert math.prod(shape) == 1 and isinstance(value, torch.Tensor) and value.numel() == 1, (
        f"{name} returned shape {tuple(shape)}; expected a scalar: take the mean over the batch"
    )
    grads = answer.get("grads")
    grads = list(grads) if isinstance(grads, (list, tuple)) and len(grads) == len(inputs) else [None] * len(inputs)
    grads = [g if isinstance(g, torch.Tensor) and g.shape == x.shape else None for g, x in zip(grads, inputs)]
    return Loss(float(value.reshape(())), answer.get("requires_grad") is True, grads)


def oracle(task: LossTask, *inputs: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
    """The course library's value and gradients on `inputs`, in float64."""
    leaves = [x.detach().double().requires_grad_(True) for x in inputs]
    value = task.reference(*leaves)
    return float(value.detach()), [g.detach() for g in torch.autograd.grad(value, leaves)]


def graph_failure(task: LossTask, loss: Loss) -> str | None:
    """Why no gradient flows from the loss back to its logits, else None."""
    if not loss.requires_grad:
        return f"{task.name} carries no gradient (was it detached?); {task.learner} could not learn from it"
    for arg, got in zip(task.args, loss.grads):
        if got is None:
            return (f"{task.name}'s gradient does not reach {arg}: a .detach() (or a tensor rebuilt from numbers) cuts "
                    f"the graph, so {task.learner} could not learn from those logits{task.cut_hint}")
    return None


def wrong_gradient(task: LossTask, loss: Loss, want: list[torch.Tensor]) -> tuple[str, float, float] | None:
    """(the first argument whose gradient is wrong, its first element, the expected one), else None."""
    for arg, got, expected in zip(task.args, loss.grads, want):
        if got is not None and not torch.allclose(got, expected, rtol=1e-4, atol=1e-6):
            return arg, float(got.flatten()[0]) + 0.0, float(expected.flatten()[0]) + 0.0  # + 0.0: no "-0"
    return None


def written_in_sizes(submission, task: LossTask) -> str | None:
    """Why the loss divides its terms' sums by fixed numbers (batch sizes written into the function, `/ 64`)
    rather than by each batch's own length, else None. Each term's divisor is solved for from the loss's
    values on the two sets of lengths (task.cases()); they must be whole numbers, the same on both, and not
    every batch's own length."""
    cases, rows, values = task.cases(), [], []
    for inputs in cases:
        try:
            got = loss_answer(submission, task, *inputs).value
        except (AssertionError, StudentError):
            return None
        if not math.isfinite(got):
            return None
        rows.append([float(t.double().sum()) for t in task.terms(*(x.double() for x in inputs))])
        values.append(got)
    a, b = torch.tensor(rows, dtype=torch.float64), torch.tensor(values, dtype=torch.float64)
    inverse = torch.linalg.lstsq(a, b[:, None]).solution[:, 0]  # 1 / each term's divisor
    if not bool(torch.allclose(a @ inverse, b, rtol=1e-5, atol=1e-6)) or bool((inverse <= 0).any()):
        return None
    divisors = [1 / float(w) for w in inverse]
    if any(abs(k - round(k)) > 1e-3 * k for k in divisors):
        return None
    divisors = [round(k) for k in divisors]
    if len(divisors) == 1:
        return (f"it divides the sum over the batch by {divisors[0]}, whatever the batch's length: a batch size written "
                f"into the function? Take the mean, .mean(), which divides by the batch's own length")
    return (f"it divides the real term's sum by {divisors[0]} and the fake term's by {divisors[1]}, whatever the batches' "
            f"lengths: batch sizes written into the function? Take each term's mean, .mean(), which divides by its own "
            f"batch's length")


def formula_hint(submission, task: LossTask, inputs: tuple[torch.Tensor, ...], got: float, want: float) -> str:
    """The message for a loss whose value on `inputs` is wrong: a common mistake's, else the formula."""
    return diagnose(got, want, task.faults(*inputs)) or written_in_sizes(submission, task) or task.formula


def check_loss(submission, task: LossTask) -> None:
    """The loss's value on seeded moderate logits, its graph and its gradient; then its value on logits of
    other lengths."""
    inputs = task.seeded()
    loss = loss_answer(submission, task, *inputs)
    want, grads = oracle(task, *inputs)
    call = f"{task.name}({', '.join(a.removesuffix('_logits') for a in task.args)})"
    if not close(loss.value, want):
        hint = formula_hint(submission, task, inputs, loss.value, want)
        raise AssertionError(f"{call} = {num(loss.value)} on seeded logits; expected {num(want)}: {hint}")
    failure = graph_failure(task, loss)
    assert failure is None, failure
    wrong = wrong_gradient(task, loss, grads)
    assert wrong is None, f"{task.name} has the right value but the wrong gradient with respect to {wrong[0]}"
    inputs = task.resized()
    loss = loss_answer(submission, task, *inputs)
    want, _ = oracle(task, *inputs)
    if not close(loss.value, want):
        lengths = " and ".join(shape_of(x) for x in inputs)
        hint = formula_hint(submission, task, inputs, loss.value, want)
        raise AssertionError(f"{call} = {num(loss.value)} on seeded logits of shape {lengths}; expected {num(want)} (it "
                             f"was right on logits of other lengths): {hint}")


def shape_of(x: torch.Tensor) -> str:
    return "(" + ", ".join(str(d) for d in x.shape) + ("," if x.dim() == 1 else "") + ")"


@check(points=2, visible=True)
def test_d_loss_matches_minimax(submission):
    """d_loss equals the discriminator's minimax loss"""
    check_loss(submission, D_LOSS)


@check(points=2, visible=True)
def test_g_loss_matches_minimax(submission):
    """g_loss equals the generator's minimax loss log(1 - D(G(z)))"""
    check_loss(submission, G_LOSS)


def gaussian(d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded mean (d,) and a full-rank covariance (d, d) with positive entries (like those of
    features after a ReLU, so that an elementwise sqrt is finite and recognisable), float64."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(d, d, generator=gen, dtype=torch.float64)
    return torch.randn(d, generator=gen, dtype=torch.float64), a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def matrix_sqrt(s: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix (d, d)."""
    w, v = torch.linalg.eigh(s)
    return v @ torch.diag(w.clamp(min=0).sqrt()) @ v.T


ELEMENTWISE = "(S1 S2)^(1/2) is a matrix square root (e.g. from the eigenvalues of S1 S2), not an elementwise sqrt"


def frechet_faults(mu1, s1, mu2, s2) -> list[tuple[float, str]]:
    """Common wrong Fréchet distances of these Gaussians: [(their value, the message)]."""
    m2, t = float((mu1 - mu2).square().sum()), float(s1.trace() + s2.trace())
    cross = float(torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum())
    want = m2 + t - 2 * cross
    one_triangle = [float(torch.linalg.eigvalsh(m).clamp(min=0).sqrt().sum()) for m in (s1 @ s2, (s1 @ s2).T)]  # lower, upper
    return [
        (m2 + t - cross, "the cross term is subtracted once; it is -2 tr((S1 S2)^(1/2)), with the factor 2"),
        (m2 + t + 2 * cross, "the cross term's sign is flipped: it is subtracted, - 2 tr((S1 S2)^(1/2))"),
        *[(m2 + t - 2 * root, "eigvalsh (and eigh) take a symmetric matrix and read only one triangle of it, but "
           "S1 S2 is not symmetric: use torch.linalg.eigvals(S1 @ S2).real, or eigvalsh of the symmetric "
           "S1^(1/2) S2 S1^(1/2), which has the same eigenvalues") for root in one_triangle],
        *[(m2 + traces - 2 * cross, f"the trace terms are {wrote}: d^2 adds each covariance's trace once, "
           f"tr(S1) + tr(S2)") for traces, wrote in (
            (float(s1.trace()), "tr(S1) alone (tr(S2) is missing)"), (float(s2.trace()), "tr(S2) alone (tr(S1) is missing)"),
            (2 * float(s1.trace()), "2 tr(S1) (tr(S1) where tr(S2) belongs)"),
            (2 * float(s2.trace()), "2 tr(S2) (tr(S2) where tr(S1) belongs)"))],
        (t - 2 * cross, "the mean term is missing: d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)) starts "
         "with the squared distance of the means"),
        (-m2 + t - 2 * cross, "the mean term's sign is flipped: ||mu1 - mu2||^2 is added, not subtracted"),
        (math.sqrt(m2) + t - 2 * cross, "the mean term is not squared: use ||mu1 - mu2||^2, the sum of the squared "
         "differences, not the norm ||mu1 - mu2||"),
        (m2 + t - 2 * float((s1 @ s2).diagonal().sqrt().sum()), ELEMENTWISE),
        (m2 + t - 2 * float((s1.sqrt() @ s2.sqrt()).trace()), ELEMENTWISE),
        (m2 + t - 2 * float((matrix_sqrt(s1) @ matrix_sqrt(s2)).trace()), "tr(S1^(1/2) S2^(1/2)) is not "
         "tr((S1 S2)^(1/2)) (S1 and S2 do not commute): take the square root of the product, e.g. from the eigenvalues of S1 S2"),
        (m2 + t - 2 * math.sqrt(float((s1 @ s2).trace())), "sqrt(tr(S1 S2)) is not tr((S1 S2)^(1/2)): the trace of "
         "the matrix square root is the sum of the square roots of the eigenvalues of S1 S2"),
        (m2 + t - 2 * float(torch.linalg.svdvals(s1 @ s2).sqrt().sum()), "the singular values of S1 S2 are not its "
         "eigenvalues (S1 S2 is not symmetric): take the square roots of the eigenvalues, torch.linalg.eigvals(S1 @ S2)"
         ".real, or the singular values of S1^(1/2) S2^(1/2) themselves (its nuclear norm is tr((S1 S2)^(1/2)))"),
        (math.sqrt(max(want, 0.0)), "that is the square root of the expected value: return the squared distance d^2 "
         "itself, as FID does, without a final sqrt"),
        (m2 + t - 2 * float(torch.linalg.eigvals(s1 * s2).real.clamp(min=0).sqrt().sum()), "S1 * S2 multiplies the "
         "covariances elementwise: the cross term takes the matrix product, tr((S1 @ S2)^(1/2))"),
        (m2 / len(mu1) + t - 2 * cross, "the mean term is the mean of the squared differences (F.mse_loss's default, "
         ".mean()), not ||mu1 - mu2||^2, their sum over the dimensions"),
        (m2 + float(s1.sum() + s2.sum()) - 2 * cross, "tr(S) is the sum of the diagonal entries (S.trace(), or "
         "torch.diagonal(S).sum()), not of all entries"),
        (m2 + t - 2 * float((torch.linalg.eigvalsh(s1) * torch.linalg.eigvalsh(s2)).clamp(min=0).sqrt().sum()), "the "
         "eigenvalues of S1 S2 are not the products of S1's and S2's own eigenvalues (that holds only when S1 and S2 "
         "commute): take the eigenvalues of the product, torch.linalg.eigvals(S1 @ S2).real"),
        (m2 + t - 2 * float((s1.diagonal() * s2.diagonal()).sqrt().sum()), "it uses only the covariances' diagonals "
         "(the distance of Gaussians with independent dimensions, sum of (sqrt(v1) - sqrt(v2))^2): the covariances are "
         "full matrices, and the cross term is tr((S1 S2)^(1/2)) of the whole matrices"),
    ]


def frechet_answer(submission, mu1, s1, mu2, s2) -> float:
    """frechet_distance(mu1, s1, mu2, s2) as a float; a failure that names the fault when it is
    not one real number, or when it is the course library's."""
    fd = student(submission, "frechet_distance")
    own_work(submission, "frechet_distance", fd, mu1, s1, mu2, s2)
    answer = run(submission, "frechet_distance", probes_a1.number, fd, mu1, s1, mu2, s2)
    kind = answer.get("type") if isinstance(answer, dict) else None
    kind = kind if isinstance(kind, str) else "something else"
    values = answer.get("values") if isinstance(answer, dict) else None
    assert kind != "NoneType", "frechet_distance returned None (is its return missing?); return the distance as a number"
    assert isinstance(values, torch.Tensor) and values.dtype == torch.float64 and values.dim() == 1, (
        f"frechet_distance returned {kind}; return a number (a float or a 0-dim tensor)"
    )
    assert answer.get("complex") is not True, (
        f"frechet_distance returned a complex number ({kind}); return a real one: the eigenvalues of S1 S2 are real "
        f"up to round-off, so take their .real (torch.linalg.eigvals and scipy.linalg.sqrtm return complex numbers)"
    )
    shape = answer.get("shape")
    assert values.numel() == 1, (
        f"frechet_distance returned shape {tuple(shape) if isinstance(shape, list) else '?'}; "
        f"expected one number (a float or a 0-dim tensor): sum over the dimensions"
    )
    return float(values[0])


REFERENCE_REL = 1e-5


@check(points=2, visible=True)
def test_frechet_distance_matches_reference(submission):
    """frechet_distance matches the FID formula on full covariances"""
    for d, seed in ((2, 0), (6, 1)):
        (mu1, s1), (mu2, s2) = gaussian(d, seed), gaussian(d, seed + 10)
        got, want = frechet_answer(submission, mu1, s1, mu2, s2), reference_frechet(mu1, s1, mu2, s2)
        hint = diagnose(got, want, frechet_faults(mu1, s1, mu2, s2), rel=REFERENCE_REL, abs_=1e-6) or FRECHET_FORMULA
        assert close(got, want, rel=REFERENCE_REL, abs_=1e-6), f"frechet_distance of two {d}-D Gaussians is {num(got)}; expected {num(want)}: {hint}"
