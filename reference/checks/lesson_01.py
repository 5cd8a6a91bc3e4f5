"""Checks of lesson 01's code-along places: the optimal discriminator, the generator's cost at it,
and the gradients of the two generator losses.

Each check calls the student's function on inputs it chooses (seeded, float64) and compares the
answer, within a tolerance, with an oracle that does not share the student's formula: D* with the
sigmoid of the log density ratio, C(G) with -log 4 + 2 JSD from SciPy's Jensen-Shannon distance,
the gradients with autograd through `reference.losses`. A wrong answer that matches a common
mistake (p_data and p_g swapped, a missing log, the integral without the grid spacing, a flipped
sign...) gets that mistake's message.

Points: optimal_discriminator 1 + 1, generator_cost 1, generator_loss_grads 1 + 1 = 5.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import expit

from reference.grading.checks import StudentError, check
from reference.losses import get_loss

ASSIGNMENT = "lesson_01"

LESSON_DX = 0.001  # the spacing of the lesson's grid, np.linspace(-8, 14, 22_001)


# ---------------------------------------------------------------------------------------------
# Answers as numbers
# ---------------------------------------------------------------------------------------------


def as_array(value, call: str, n: int) -> np.ndarray:
    """`value` (an array, a tensor, a list) as a float64 array of shape (n,), or a failure that says why not."""
    assert value is not None, f"{call} returned None: is its `return` missing?"
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{call} returned {type(value).__name__}; return an array of numbers") from None
    assert array.shape == (n,), f"{call} returned shape {array.shape}; expected ({n},), one value per input point"
    return array


def as_number(value, call: str) -> float:
    """`value` (a float, a 0-dim array or tensor) as a float, or a failure that says why not."""
    assert value is not None, f"{call} returned None: is its `return` missing?"
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{call} returned {type(value).__name__}; return one number (a float)") from None
    assert array.size == 1, (
        f"{call} returned shape {array.shape}, not one number: integrate the integrand over the grid to a single value"
    )
    return float(array.reshape(()))


RENAMED = {  # integration functions that NumPy 2 and SciPy 1.14 removed, and their names now
    "trapz": "np.trapezoid(y, x) or integrate.trapezoid(y, x)", "simps": "integrate.simpson(y, x=x)",
    "cumtrapz": "integrate.cumulative_trapezoid(y, x)",
}


def renamed(err: AttributeError) -> str | None:
    """The fix when `err` is a removed integration function (np.trapz, integrate.simps...); else None."""
    for old, new in RENAMED.items():
        if f"has no attribute '{old}'" in str(err):
            return (f"{old} no longer exists in this NumPy / SciPy ({err}): NumPy 2 renamed np.trapz to np.trapezoid "
                    f"and SciPy 1.14 removed integrate.trapz, simps and cumtrapz; use {new}")
    return None


def call(fn, name: str, *args):
    """fn(*args); when it stops at the NotImplementedError of another unfinished function of the
    notebook that it calls, a failure that names that one (the runtime would name `name`); when it
    calls an integration function that NumPy or SciPy removed, a failure that names the new one."""
    try:
        return fn(*args)
    except AttributeError as err:
        fix = renamed(err)
        if fix is None:
            raise
        raise AssertionError(f"{name} raised AttributeError: {fix}") from None
    except NotImplementedError as err:
        tb, inner = err.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_globals is getattr(fn, "__globals__", None):
                inner = tb.tb_frame.f_code.co_name
            tb = tb.tb_next
        if inner is None or inner == name:
            raise
        raise AssertionError(f"{name} calls `{inner}`, which is not implemented yet: write {inner} first") from None


def matches(got: np.ndarray, want: np.ndarray, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    return bool(np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=False))


def num(x: float) -> str:
    return f"{x + 0.0:.6g}"  # + 0.0: no "-0"


def differ(got: float, want: float) -> str:
    """"0.2; expected 0.8", with as many digits as it takes to tell the two apart, and the relative
    error when they agree to 6 digits."""
    for digits in (6, 9, 12, 17):
        a, b = f"{got + 0.0:.{digits}g}", f"{want + 0.0:.{digits}g}"
        if a != b:
            break
    close = digits > 6 and want != 0
    return f"{a}; expected {b}" + (f" (relative error {abs(got - want) / abs(want):.1e})" if close else "")


def first_difference(x: np.ndarray, got: np.ndarray, want: np.ndarray) -> str:
    """"at x = 1.5 you return 0.2; expected 0.8" for the first point where got and want differ."""
    bad = ~np.isclose(got, want, rtol=1e-6, atol=1e-9)
    i = int(np.argmax(bad))
    return f"at x = {num(x[i])} it returns {differ(got[i], want[i])}"


# ---------------------------------------------------------------------------------------------
# The optimal discriminator
# ---------------------------------------------------------------------------------------------

D_STAR = "D*(x) = p_data(x) / (p_data(x) + p_g(x)), with p = exp(log p)"


def log_densities(x: np.ndarray, data, gen) -> tuple[np.ndarray, np.ndarray]:
    return data.logpdf(x), gen.logpdf(x)


def d_star(log_p_data: np.ndarray, log_p_g: np.ndarray) -> np.ndarray:
    """The oracle: the sigmoid of the log density ratio, exact where both densities underflow."""
    return expit(log_p_data - log_p_g)


def d_star_faults(log_p_data: np.ndarray, log_p_g: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """Common wrong optimal discriminators on these log densities: [(their values, the message)]."""
    p, q = np.exp(log_p_data), np.exp(log_p_g)
    with np.errstate(all="ignore"):
        return [
            (q / (p + q), "it returns p_g / (p_data + p_g): the roles of p_data and p_g are swapped; D*(x) is the "
             "probability that x is real, so the data density goes on top"),
            (log_p_data - log_p_g, "it returns the logit log p_data - log p_g, not a probability: D* = sigmoid(logit)"),
            (log_p_data / (log_p_data + log_p_g), "it uses the log densities as if they were densities: "
             "exponentiate them first (or work with their difference, the logit)"),
            (p / q, "it returns the density ratio p_data / p_g; D* divides p_data by the sum p_data + p_g"),
            (np.log(p / (p + q)), "it returns log D*; return D* itself, a probability in [0, 1]"),
            (np.full_like(p, 0.5), "it returns 1/2 everywhere, which is D* only where p_g = p_data"),
            (p, "it returns p_data itself; D* divides it by p_data + p_g"),
        ]


def diagnose_array(got: np.ndarray, want: np.ndarray, faults: list[tuple[np.ndarray, str]]) -> str | None:
    """The message of the first common mistake whose values `got` matches."""
    for values, message in faults:
        if values.shape == got.shape and matches(got, values) and not matches(values, want):
            return message
    return None


def changed_in_place(given: dict[str, np.ndarray], originals: dict[str, np.ndarray]) -> list[str]:
    """The names of the arguments (arrays or tensors) that a call changed in place: `given` were passed, `originals`
    are untouched copies of them."""
    def as_numbers(value) -> np.ndarray:
        return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return [name for name, value in given.items()
            if not np.array_equal(as_numbers(value), as_numbers(originals[name]), equal_nan=True)]


def in_place_message(fn_name: str, names: list[str], fix: str) -> str:
    listed = " and ".join(f"`{n}`" for n in names)
    return (f"{fn_name} changed its argument{'s' if len(names) > 1 else ''} {listed} in place (-=, /=, an out= argument, "
            f"a method ending in _): the caller's {'arrays change' if len(names) > 1 else 'array changes'} too, so code "
            f"that goes on using {'them' if len(names) > 1 else 'it'} after the call (a generator_cost that calls this "
            f"function, then reads log_p_data) computes with the wrong numbers; {fix}")


D_STAR_IN_PLACE = "leave the arguments as they are and compute new arrays (log_p_data - log_sum, not log_p_data -= log_sum)"


def d_star_changes_inputs(fn, log_p_data: np.ndarray, log_p_g: np.ndarray) -> list[str]:
    """The arguments of optimal_discriminator that it changes in place on these log densities ([] if none, or if it raises)."""
    given = {"log_p_data": log_p_data.copy(), "log_p_g": log_p_g.copy()}
    try:
        with np.errstate(all="ignore"):
            fn(*given.values())
    except Exception:  # noqa: BLE001 - only a diagnosis: the checks report an error of the function themselves
        return []
    return changed_in_place(given, {"log_p_data": log_p_data, "log_p_g": log_p_g})


def optimal_discriminator_answer(submission, log_p_data: np.ndarray, log_p_g: np.ndarray) -> np.ndarray:
    fn = submission.get("optimal_discriminator")
    given = {"log_p_data": log_p_data.copy(), "log_p_g": log_p_g.copy()}
    out = fn(*given.values())
    changed = changed_in_place(given, {"log_p_data": log_p_data, "log_p_g": log_p_g})
    assert not changed, in_place_message("optimal_discriminator", changed, D_STAR_IN_PLACE)
    array = as_array(out, "optimal_discriminator(log_p_data, log_p_g)", len(log_p_data))
    if isinstance(out, (list, tuple)):  # right numbers, but the lesson's next cells call array methods on it (.round)
        raise AssertionError(f"optimal_discriminator returned a {type(out).__name__}; return a NumPy array of shape (N,), as "
                             f"its docstring says (np.exp, np.logaddexp and arithmetic on arrays give one): the cells below "
                             f"use it as an array")
    return array


SINGLE = {"rtol": 2e-5, "atol": 1e-7}  # a D* computed in float32 (torch.Tensor, .float()): 1e-6 of rounding in log p - log q


def in_single_precision(submission, log_p_data: np.ndarray, log_p_g: np.ndarray) -> bool:
    """Whether optimal_discriminator returns float32 (or half) numbers for these inputs."""
    out = submission.get("optimal_discriminator")(log_p_data.copy(), log_p_g.copy())
    if isinstance(out, torch.Tensor):
        return out.dtype in (torch.float32, torch.float16, torch.bfloat16)
    try:
        return np.asarray(out).dtype in (np.float32, np.float16)
    except (TypeError, ValueError):
        return False


def d_star_cases() -> list[tuple[str, np.ndarray, object, object]]:
    """(what, grid, p_data, p_g): the lesson's pair, and a seeded pair on a grid of another spacing."""
    rng = np.random.default_rng(1)
    mu, sigma = rng.uniform(-1.0, 2.0), rng.uniform(0.6, 1.5)
    return [
        ("p_data = N(3, 0.5^2), p_g = N(1, 1)", np.linspace(-3.0, 7.0, 401), stats.norm(3.0, 0.5), stats.norm(1.0, 1.0)),
        (f"p_data = N(0.5, 0.8^2), p_g = N({mu:.2f}, {sigma:.2f}^2)", np.linspace(-4.0, 5.0, 181),
         stats.norm(0.5, 0.8), stats.norm(mu, sigma)),
    ]


@check(points=1, visible=True)
def test_optimal_discriminator(submission):
    """optimal_discriminator gives D* = p_data / (p_data + p_g) on a grid"""
    for what, x, data, gen in d_star_cases():
        lp, lq = log_densities(x, data, gen)
        got, want = optimal_discriminator_answer(submission, lp, lq), d_star(lp, lq)
        if not matches(got, want) and not (in_single_precision(submission, lp, lq) and matches(got, want, **SINGLE)):
            hint = (diagnose_array(got, want, d_star_faults(lp, lq)) or drift_where_small(x, got, want, lp, lq)
                    or f"{first_difference(x, got, want)}; {D_STAR}")
            raise AssertionError(f"optimal_discriminator is wrong for {what}: {hint}")


def drift_where_small(x: np.ndarray, got: np.ndarray, want: np.ndarray, lp: np.ndarray, lq: np.ndarray) -> str | None:
    """The message for a D* that is right where the densities are large and off only where both are
    small: what an epsilon added to a denominator (p / (p + q + 1e-8)) or a clip of the densities does."""
    log_sum = np.logaddexp(lp, lq)  # log(p_data + p_g)
    large = log_sum > np.log(1e-3)
    if not large.any() or not matches(got[large], want[large], rtol=1e-4):
        return None
    i = int(np.argmax(~np.isclose(got, want, rtol=1e-6, atol=1e-9)))
    return (f"it is right where the densities are large but drifts where both are small: at x = {num(x[i])}, where "
            f"p_data + p_g = {np.exp(log_sum[i]):.2g}, it returns {differ(got[i], want[i])}. A small constant added "
            f"to avoid dividing by 0 (an epsilon), or a clip, changes D* wherever the densities are that small; "
            f"D* = sigmoid(log p_data - log p_g) needs neither")


TAILS = [
    # (what, x, p_data, p_g): far out, both densities underflow to exactly 0 in float64
    ("p_data = N(3, 0.5^2), p_g = N(1, 1)", np.array([-60.0, -40.0, 0.0, 3.0, 40.0, 60.0]),
     stats.norm(3.0, 0.5), stats.norm(1.0, 1.0)),
    ("p_data = N(0, 2^2), p_g = N(0, 0.5^2)", np.array([-80.0, -50.0, 0.0, 50.0, 80.0]),
     stats.norm(0.0, 2.0), stats.norm(0.0, 0.5)),
]


def overflows(submission) -> bool:
    """Whether optimal_discriminator is right where both densities underflow but their log ratio is moderate,
    and wrong where one density is 1 and the other underflows: then the fault is an exp of the log ratio that
    overflows (r = exp(log p_data - log p_g), r / (1 + r)), not densities that underflow."""
    fn = submission.get("optimal_discriminator")
    both_tiny = (np.array([-2000.0, -2001.0]), np.array([-2001.0, -2000.0]))
    far_apart = (np.array([0.0, -1000.0]), np.array([-1000.0, 0.0]))
    try:
        with np.errstate(all="ignore"):
            ok = [np.asarray(fn(lp.copy(), lq.copy()), dtype=np.float64).reshape(-1) for lp, lq in (both_tiny, far_apart)]
    except Exception:  # noqa: BLE001 - only a diagnosis: an answer that fails here is not this mistake
        return False
    right = [a.shape == (2,) and matches(a, d_star(*pair)) for a, pair in zip(ok, (both_tiny, far_apart))]
    return right[0] and not right[1]


@check(points=1, visible=True)
def test_optimal_discriminator_in_the_tails(submission):
    """optimal_discriminator stays right where both densities underflow to 0"""
    for what, x, data, gen in TAILS:
        lp, lq = log_densities(x, data, gen)
        try:
            got = optimal_discriminator_answer(submission, lp, lq)
        except (StudentError, OverflowError) as err:  # across the proxy, or in the student's kernel
            if getattr(err, "type", "OverflowError") != "OverflowError":
                raise
            message = getattr(err, "message", str(err))
            raise AssertionError(
                f"optimal_discriminator raised OverflowError ({message}) for {what} far in the tails: there the log "
                f"density ratio log p_data - log p_g runs into the thousands, positive in one case and negative in "
                f"another, so whichever way round it goes into exp, exp overflows somewhere, and math.exp raises where "
                f"np.exp gives inf. Compute on the whole arrays with NumPy: 1 / (1 + exp(log p_g - log p_data)) with "
                f"np.exp is right there (an exp that overflows to inf gives 1 / inf = 0, the right limit), and so is the "
                f"sigmoid of the difference (scipy.special.expit, torch.sigmoid); in a loop with math.exp, branch on the "
                f"sign so that exp only ever sees -|log p_data - log p_g|"
            ) from None
        want = d_star(lp, lq)
        if matches(got, want):
            continue
        at = f"for {what}, {first_difference(x, got, want)}"
        moderate = np.abs(x) < 10
        if not matches(got[moderate], want[moderate]):
            raise AssertionError(f"optimal_discriminator is wrong {at}: fix what the check of D* on a grid reports first")
        if overflows(submission):
            where = "" if np.all(np.isfinite(got)) else " (nan or inf)"
            raise AssertionError(
                f"optimal_discriminator is wrong far in the tails: {at}{where}. There the log density ratio "
                f"log p_data - log p_g is in the hundreds or more, exp of it overflows to inf, and inf / (1 + inf) is nan: "
                f"use a form in which an overflow gives the right limit, 1 / (1 + exp(log p_g - log p_data)) "
                f"(1 / inf = 0), or the sigmoid of the difference (scipy.special.expit, torch.sigmoid)"
            )
        where = "" if np.all(np.isfinite(got)) else " (nan or inf: 0/0 after exp)"
        raise AssertionError(
            f"optimal_discriminator is wrong far in the tails: {at}{where}. There exp(log p) underflows to 0 for both "
            f"densities, but their ratio is still well defined: compute D* from the difference of the log densities, "
            f"which stays finite"
        )


# ---------------------------------------------------------------------------------------------
# The generator's cost at D*
# ---------------------------------------------------------------------------------------------

C_OF_G = "C(G) = integral of p_data log D* + p_g log(1 - D*) dx, each term a density times a natural log, times dx"


def trapezoid(values: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((values[1:] + values[:-1]) * np.diff(x)) / 2)


def cost_oracle(lp: np.ndarray, lq: np.ndarray) -> float:
    """-log 4 + 2 JSD, the JSD from SciPy (its distance is sqrt(JSD), natural log) on the sampled densities."""
    return -math.log(4) + 2 * float(jensenshannon(np.exp(lp), np.exp(lq))) ** 2


def cost_faults(x: np.ndarray, lp: np.ndarray, lq: np.ndarray, want: float) -> list[tuple[float, str]]:
    """Common wrong generator costs on this grid: [(their value, the message)]."""
    p, q = np.exp(lp), np.exp(lq)
    log_mix = np.logaddexp(lp, lq)
    log_d, log_1md = lp - log_mix, lq - log_mix  # log D*, log(1 - D*)
    d = np.exp(log_d)
    dx = float(x[1] - x[0])
    jsd = (want + math.log(4)) / 2
    return [
        (-want, "the sign is flipped: C(G) = V(D*, G) is an expectation of logs of probabilities, so it is at most 0 "
         "(-log 4 at p_g = p_data)"),
        (want / dx, f"the integral misses the grid spacing: a sum of integrand values must be multiplied by dx "
         f"(here {num(dx)}), or use a trapezoidal rule that takes x"),
        (want * LESSON_DX / dx, f"it is scaled by {num(LESSON_DX)} / {num(dx)}: the spacing is hardcoded from the lesson's "
         f"grid; take it from x, whose spacing here is {num(dx)}"),
        (trapezoid(p * d + q * (1 - d), x), "the log is missing: integrate p_data log D* + p_g log(1 - D*), "
         "not p_data D* + p_g (1 - D*)"),
        (trapezoid(p * log_1md + q * log_d, x), "D* and 1 - D* are swapped: the data term is p_data log D*, "
         "the generator term p_g log(1 - D*)"),
        (trapezoid(p * log_d, x), "only the data term is there: add the generator's term, the integral of p_g log(1 - D*)"),
        (trapezoid(q * log_1md, x), "only the generator's term is there: add the data term, the integral of p_data log D*"),
        (want / math.log(2), "it is in bits (log base 2): use the natural log, np.log"),
        (want / math.log(10), "it uses log base 10 (np.log10): use the natural log, np.log"),
        (want / (dx * len(x)), f"it averages the integrand over the grid's {len(x)} points (np.mean) instead of "
         f"integrating it: an integral is the sum times dx, or the mean times the grid's length x[-1] - x[0]"),
        (jsd, "it returns the JSD itself; C(G) = V(D*, G) = -log 4 + 2 JSD: integrate V at D*"),
        (2 * jsd, "it returns 2 JSD; C(G) = V(D*, G) = -log 4 + 2 JSD: integrate V at D*"),
        (-math.log(4) + jsd, "it returns -log 4 + JSD: the JSD's factor 2 is missing, C(G) = -log 4 + 2 JSD "
         "(the JSD averages the two KL divergences to the mixture, and V(D*, G) sums them)"),
        (want / 2, "it is half of C(G): integrate p_data log D* + p_g log(1 - D*) with no factor 1/2"),
        (-math.log(4) + 2 * math.sqrt(max(jsd, 0.0)), "it is -log 4 + 2 sqrt(JSD): scipy.spatial.distance.jensenshannon "
         "returns the Jensen-Shannon distance, the square root of the divergence, so square it (or integrate V at D*, as "
         "the docstring asks)"),
        (-math.log(4) + 2 * jsd / math.log(2), "it is -log 4 + 2 JSD with the JSD in bits (base=2): C(G) takes natural "
         "logs throughout, JSD in nats"),
        (math.log(4) + 2 * jsd, "it is +log 4 + 2 JSD: the constant is -log 4, C(G) = -log 4 + 2 JSD, at most 0"),
    ]


SWAPPED_ARGUMENTS = ("the arguments of the integral are swapped: trapezoid(y, x) takes the integrand first, then "
                     "the grid, so trapezoid(x, integrand) integrates x d(integrand), which here is -C(G)")


def swapped_arguments(fn) -> bool:
    """Whether generator_cost integrates x over the integrand (trapezoid(x, f)) rather than flipping the
    sign: on a grid that cuts both densities off, the two no longer agree."""
    x = np.linspace(2.0, 4.0, 401)
    lp, lq = COST_DATA.logpdf(x), stats.norm(2.5, 0.5).logpdf(x)
    log_mix = np.logaddexp(lp, lq)
    f = np.exp(lp) * (lp - log_mix) + np.exp(lq) * (lq - log_mix)
    try:
        got = float(np.asarray(fn(lp.copy(), lq.copy(), x.copy()), dtype=np.float64).reshape(()))
    except Exception:  # noqa: BLE001 - only a diagnosis: an answer that fails here is not this mistake
        return False
    return abs(got - trapezoid(x, f)) <= 1e-6 and abs(got + trapezoid(f, x)) > 1e-3


def cost_cases() -> list[tuple[str, object]]:
    """(what, p_g) against p_data = N(3, 0.5^2): equal, near, the lesson's, and a seeded one."""
    rng = np.random.default_rng(2)
    mu, sigma = rng.uniform(0.0, 6.0), rng.uniform(0.5, 1.5)
    return [
        ("p_g = p_data = N(3, 0.5^2)", stats.norm(3.0, 0.5)),
        ("p_g = N(2.5, 0.5^2)", stats.norm(2.5, 0.5)),
        ("p_g = N(1, 1)", stats.norm(1.0, 1.0)),
        (f"p_g = N({mu:.2f}, {sigma:.2f}^2)", stats.norm(mu, sigma)),
    ]


COST_GRID = np.linspace(-10.0, 16.0, 5_201)  # spacing 0.005, not the lesson's 0.001; no density underflows here
COST_DATA = stats.norm(3.0, 0.5)


def cost_tolerance(want: float) -> float:
    """How far an answer may be from -log 4 + 2 JSD: 1e-5, or 0.1% (4 significant digits, what the lesson
    prints), so that a first-order rule such as mean(integrand) * (x[-1] - x[0]), off by 1 / N = 0.02%,
    passes; the common mistakes are off by far more."""
    return max(1e-5, 1e-3 * abs(want))


def own_d_star_hint(submission, lp: np.ndarray, lq: np.ndarray) -> str:
    """A hint when the student's optimal_discriminator, which generator_cost may call, is wrong."""
    if "optimal_discriminator" not in submission:
        return ""
    changed = d_star_changes_inputs(submission.get("optimal_discriminator"), lp, lq)
    if changed:
        listed = " and ".join(f"`{n}`" for n in changed)
        return (f" (your optimal_discriminator changes {listed} in place: if generator_cost calls it, it then reads "
                f"changed log densities; make optimal_discriminator {D_STAR_IN_PLACE})")
    try:
        got = np.asarray(submission.get("optimal_discriminator")(lp.copy(), lq.copy()), dtype=np.float64)
        right = got.shape == lp.shape and matches(got, d_star(lp, lq))
    except Exception:  # noqa: BLE001 - any failure of it means it is not right yet
        right = False
    return "" if right else " (your optimal_discriminator is not right yet: fix it first if generator_cost calls it)"


def cost_in_place_message(names: list[str]) -> str:
    """The fault of a generator_cost that changed its arguments `names` in place (found by the lessons' false-positive
    red team: its value was right, so it passed)."""
    listed = " and ".join(f"`{n}`" for n in names)
    return (f"generator_cost changed its argument{'s' if len(names) > 1 else ''} {listed} in place (-=, /=, an out= "
            f"argument, a method ending in _): its value is right, but the caller's arrays change too, so a cell that "
            f"goes on using them (the same log densities passed again, or one array passed as both densities, "
            f"generator_cost(lp, lp, x) for p_g = p_data, which then subtracts twice from it) computes with the wrong "
            f"numbers; {D_STAR_IN_PLACE}")


LESSON_GLOBALS = ("x", "p_data", "p_g", "value", "logit_star", "d_star")  # the notebook's grid, densities, V and D*


def lesson_globals(fn) -> list[str]:
    """The names of the lesson's own grid, densities, `value` and D* that `fn` reads as globals of the notebook
    (a parameter or local variable of the same name is not one)."""
    code, namespace = getattr(fn, "__code__", None), getattr(fn, "__globals__", None)
    if code is None or not isinstance(namespace, dict):
        return []
    return [name for name in LESSON_GLOBALS if name in code.co_names and name in namespace]


def uses_globals(names: list[str]) -> str:
    listed = ", ".join(f"`{n}`" for n in names)
    return (f"it reads the notebook's {listed} (the lesson's own grid, densities or value function), but the check "
            f"calls it with other densities on another grid: compute everything from the arguments log_p_data, "
            f"log_p_g and x (np.exp(log_p_data) is p_data on the grid)")


@check(points=1, visible=True)
def test_generator_cost(submission):
    """generator_cost integrates V(D*, G) on the grid and equals -log 4 + 2 JSD"""
    fn = submission.get("generator_cost")
    x = COST_GRID
    lp = COST_DATA.logpdf(x)
    answers = []  # (what, log p_g, got, want, the common mistakes' values) for every p_g
    lesson_names = lesson_globals(fn)
    for what, gen in cost_cases():
        lq = gen.logpdf(x)
        given = {"log_p_data": lp.copy(), "log_p_g": lq.copy(), "x": x.copy()}
        try:
            out = call(fn, "generator_cost", *given.values())
        except (ValueError, IndexError, TypeError) as err:
            if not lesson_names:
                raise
            raised = f"{type(err).__name__} ({str(err).strip()})"
            raise AssertionError(f"generator_cost raised {raised}: {uses_globals(lesson_names)}") from None
        changed = changed_in_place(given, {"log_p_data": lp, "log_p_g": lq, "x": x})
        own = submission.get("optimal_discriminator") if "optimal_discriminator" in submission else None
        if changed and not (callable(own) and d_star_changes_inputs(own, lp, lq)):  # else the hint below names D*
            raise AssertionError(cost_in_place_message(changed))
        got = as_number(out, "generator_cost(log_p_data, log_p_g, x)")
        want = cost_oracle(lp, lq)
        answers.append((what, lq, got, want, cost_faults(x, lp, lq, want)))
    wrong = [a for a in answers if not (math.isfinite(a[2]) and abs(a[2] - a[3]) <= cost_tolerance(a[3]))]
    if not wrong:
        return
    what, lq, got, want, _ = wrong[0]
    if lesson_names:
        raise AssertionError(f"generator_cost for p_data = N(3, 0.5^2), {what}, on a grid of spacing {num(x[1] - x[0])} is "
                             f"{num(got)}; expected -log 4 + 2 JSD = {num(want)}: {uses_globals(lesson_names)}")
    if not math.isfinite(got):
        hint = "it is not finite: a log of 0, or 0/0, somewhere on the grid; build log D* and log(1 - D*) from the log densities"
    else:
        # the first common mistake that explains every finite answer (one p_g can make two mistakes look alike)
        finite = [a for a in answers if math.isfinite(a[2])]
        hint = C_OF_G
        for i, (_, message) in enumerate(answers[0][4]):
            pairs = [(a[2], a[3], a[4][i][0]) for a in finite]
            if all(abs(g - v) <= 1e-5 for g, _, v in pairs) and any(abs(v - w) > cost_tolerance(w) for _, w, v in pairs):
                hint = message
                break
        if hint.startswith("the sign is flipped") and swapped_arguments(fn):
            hint = SWAPPED_ARGUMENTS
    raise AssertionError(
        f"generator_cost for p_data = N(3, 0.5^2), {what}, on a grid of spacing {num(x[1] - x[0])} is {num(got)}; "
        f"expected -log 4 + 2 JSD = {num(want)}: {hint}{own_d_star_hint(submission, lp, lq)}"
    )


# ---------------------------------------------------------------------------------------------
# The gradients of the generator losses
# ---------------------------------------------------------------------------------------------

LOSSES = {"saturating": "minimax", "non_saturating": "non-saturating"}  # reference.losses' names


def grad_logits() -> torch.Tensor:
    """Seeded float64 logits (20,): moderate ones, and D(G(z)) near 0 and near 1."""
    moderate = 3.0 * torch.randn(16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return torch.cat([moderate, torch.tensor([-12.0, -6.0, 6.0, 12.0], dtype=torch.float64)])


def grad_oracle(logits: torch.Tensor, which: str) -> np.ndarray:
    """d loss_i / d logit_i for each sample, by autograd through reference.losses (whose losses are batch means)."""
    leaf = logits.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(get_loss(LOSSES[which]).g_loss(leaf) * len(leaf), leaf)
    return grad.numpy()


def grad_faults(logits: torch.Tensor, which: str) -> list[tuple[np.ndarray, str]]:
    """Common wrong derivatives of the `which` loss: [(their values, the message)]."""
    l = logits.numpy()
    d = expit(l)
    n = len(l)
    other = "non_saturating" if which == "saturating" else "saturating"
    want = grad_oracle(logits, which)
    falls = "falls as the logit grows (D(G(z)) moves towards 1)"
    by_d = -1 / (1 - d) if which == "saturating" else -1 / d
    loss_values = -np.logaddexp(0.0, l) if which == "saturating" else np.logaddexp(0.0, -l)
    return [
        (-want, f"the sign is flipped: this loss {falls}, so its derivative is negative"),
        (grad_oracle(logits, other), f"that is the derivative of the {other.replace('_', '-')} loss: the two answers "
         f"are swapped"),
        (by_d, "that is the derivative with respect to D(G(z)), not the logit: the chain rule multiplies it by "
         "dD/dlogit = D (1 - D)"),
        (-d * (1 - d), "the chain rule is incomplete: dD/dlogit = D (1 - D) is there, but not the derivative of the "
         "log with respect to D"),
        (want / n, f"it is 1/{n} of the expected value: that is the derivative of the batch mean; return each "
         f"sample's own derivative"),
        (-l if which == "saturating" else -(1 - l), "it uses the logit as if it were D(G(z)): D(G(z)) = sigmoid(logit)"),
        (loss_values, "it returns the losses themselves, not their derivatives with respect to the logit"),
    ]


def share_memory(a, b) -> bool:
    """Whether two results are views of one buffer (tensors or arrays)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.numel() > 0 and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return bool(np.shares_memory(a, b))
    return False


ALIASED = ("the two results are one tensor: an in-place operation (neg_, add_, mul_...) changed the first result "
           "after it was computed, so both hold the last value; compute each with out-of-place operations "
           "(-d, d - 1)")

# Rounding of a float32 answer: the derivatives lie in [-1, 0], where float32 rounds to about 6e-8, and
# 1 - sigmoid(l) cancels to that absolute error as sigmoid(l) -> 1 (the right formula, in float32).
FLOAT32_ATOL = 2.5e-7


def grads_answer(submission, logits: torch.Tensor) -> tuple[dict[str, np.ndarray], float, bool]:
    """The student's two derivatives on `logits`, by name ("saturating", "non_saturating"), as arrays (N,);
    the absolute tolerance their dtype allows; whether the two are one tensor."""
    fn = submission.get("generator_loss_grads")
    what = "generator_loss_grads(fake_logits)"
    given = {"fake_logits": logits.clone()}
    out = fn(given["fake_logits"])
    assert out is not None, f"{what} returned None: is its `return` missing?"
    assert not changed_in_place(given, {"fake_logits": logits}), (
        "generator_loss_grads changed its argument `fake_logits` in place (sigmoid_, neg_, an out= argument, -=): the "
        "caller's logits change too, so code that goes on using them after the call (to plot the derivatives against "
        "them, or to compute a loss) sees D(G(z)) or a derivative instead of the logits; compute new tensors, "
        "d = torch.sigmoid(fake_logits)")
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"{what} returned {type(out).__name__}; return a pair (saturating, non_saturating) of tensors"
    )
    single = any(getattr(value, "dtype", None) in (torch.float32, np.float32) for value in out)
    arrays = {
        name: as_array(value, f"{what}[{i}] ({name.replace('_', '-')})", len(logits))
        for i, (name, value) in enumerate(zip(LOSSES, out))
    }
    kinds = [type(value).__name__ for value in out if not isinstance(value, torch.Tensor)]
    if kinds:  # right numbers maybe, but the lesson's next cell calls .numpy() on them
        raise AssertionError(f"{what} returned values of type {kinds[0]}, not tensors: return two torch tensors of shape "
                             f"(N,), as its docstring says (torch.sigmoid(fake_logits) gives one; torch.from_numpy turns an "
                             f"array into one): the cell below calls .numpy() on them")
    return arrays, FLOAT32_ATOL if single else 1e-12, share_memory(*out)


SATURATED = (-120.0, -20.0, 20.0, 120.0)  # float32 logits where D(G(z)) or 1 - D(G(z)) rounds to 0 or to 1
FLOAT32_EXP_MAX = 88.7  # exp(t) is inf in float32 for t above this


def saturation_fault(submission, which: str) -> str | None:
    """Why the `which` derivative is wrong on float32 logits where D(G(z)) rounds to 0 or 1 (the regime the
    section is about), or why it cannot be computed without autograd; None when it is right there."""
    logits = torch.tensor(SATURATED, dtype=torch.float32)
    fn = submission.get("generator_loss_grads")
    try:
        with torch.no_grad():
            out = fn(logits.clone())
    except RuntimeError as err:
        if "grad" in str(err):
            return ("it fails under torch.no_grad() (RuntimeError: " + str(err).splitlines()[0][:100] + "): it asks autograd "
                    "for the derivative; derive it by hand from sigmoid'(l) = D(G(z)) (1 - D(G(z))) and return that formula")
        raise
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return None  # the main check names the form
    got = as_array(out[list(LOSSES).index(which)], "generator_loss_grads(fake_logits)", len(logits))
    want = grad_oracle(logits.double(), which)
    if matches(got, want, rtol=1e-6, atol=FLOAT32_ATOL):
        return None
    bad = int(np.argmax(~np.isclose(got, want, rtol=1e-6, atol=FLOAT32_ATOL) | ~np.isfinite(got)))
    d = float(torch.sigmoid(logits[bad]))
    where = f"at the float32 logit {num(SATURATED[bad])} (D(G(z)) = {num(d)}, 1 - D(G(z)) = {num(float(1 - torch.sigmoid(logits[bad])))})"
    if not np.isfinite(got[bad]):
        causes = "a fraction such as d (1 - d) / (1 - d) divides 0 by 0 there"
        if abs(SATURATED[bad]) > FLOAT32_EXP_MAX:  # exp(|l|) is inf in float32 here
            causes = (f"a fraction divides 0 by 0 there (d (1 - d) / d once d rounds to 0, or / (1 - d) once it rounds "
                      f"to 1), or inf by inf (exp(l) / (1 + exp(l)) once exp of the logit overflows float32, past "
                      f"{FLOAT32_EXP_MAX:g})")
        return (f"{where} it is {differ(got[bad], want[bad])}: {causes}; simplify it by hand first, so that the "
                f"derivative is a plain expression in d = sigmoid(l), and let torch.sigmoid compute d (it never overflows)")
    return (f"{where} it is {differ(got[bad], want[bad])}: a clamp or an epsilon on D(G(z)) (or on 1 - D(G(z))) moves "
            f"it there; the derivatives need neither, return the plain expressions in d = sigmoid(l)")


def check_grad(submission, which: str) -> None:
    logits = grad_logits()
    answers, atol, aliased = grads_answer(submission, logits)
    got, want = answers[which], grad_oracle(logits, which)
    loss = "log(1 - D(G(z)))" if which == "saturating" else "-log D(G(z))"
    if matches(got, want, rtol=1e-6, atol=atol):
        fault = saturation_fault(submission, which)
        if fault is not None:
            raise AssertionError(f"the {which.replace('_', '-')} derivative d/dlogit of {loss} is right for moderate "
                                 f"logits, but {fault}")
        return
    hint = ALIASED if aliased else diagnose_array(got, want, grad_faults(logits, which))
    if hint is None:
        bad = int(np.argmax(~np.isclose(got, want, rtol=1e-6, atol=atol)))
        hint = (f"at logit {num(float(logits[bad]))} (D(G(z)) = {num(float(expit(logits[bad])))}) it is "
                f"{differ(got[bad], want[bad])}. Write D(G(z)) = sigmoid(logit) and apply the chain rule")
    raise AssertionError(f"the {which.replace('_', '-')} derivative d/dlogit of {loss} is wrong: {hint}")


@check(points=1, visible=True)
def test_saturating_gradient(submission):
    """generator_loss_grads: the saturating loss's derivative with respect to the logit"""
    check_grad(submission, "saturating")


@check(points=1, visible=True)
def test_non_saturating_gradient(submission):
    """generator_loss_grads: the non-saturating loss's derivative with respect to the logit"""
    check_grad(submission, "non_saturating")
