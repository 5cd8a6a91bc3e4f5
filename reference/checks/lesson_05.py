"""Checks of lesson 05's code-along places: the Fréchet distance, the Inception Score, unbiased MMD².

Each check calls the student's function on seeded inputs it builds itself and compares the answer
with the course library, the oracle (`reference.metrics.frechet_distance`, `inception_score`,
`mmd2_unbiased`), within a tolerance, so any correct formula passes (scipy's sqrtm or eigenvalues,
torch or NumPy, xlogy or a mask; sqrtm of a singular covariance only where the kernel's SciPy gives a root: SciPy
1.18 returns nan, and a function that uses it is told so). A wrong value that matches a common mistake (the trace term
without its factor 2, an elementwise square root, the KL reversed, the diagonal kept in MMD²...)
gets that mistake's message (on the closed-form Fréchet case, whose round numbers fit several mistakes,
only a mistake that also fits the full-rank case); an Inception Score that changes when the images are
reordered is told that p(y) is taken over all of them; any other wrong value gets the numbers and the
formula.

The student's functions:

- `frechet_distance_gaussians(mu1, sigma1, mu2, sigma2)`: NumPy float64 means (D,) and covariances
  (D, D) -> a float;
- `inception_score_from_probs(p_yx)`: a float64 tensor (N, K) of p(y|x), rows summing to 1 -> a float;
- `unbiased_mmd2(x, y)`: float64 tensors (m, D) and (m, D) -> a float (or a 0-dim tensor).

Each check also asks what a function must do beyond one example: the same value for other sizes (a size written
into the code is told so), the arguments left as they were (a change in place is named), and for MMD² a negative
estimate returned as it is (two samples of one distribution; a clamp at 0 or an abs is named).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch

from reference.grading.checks import check, first_line
from reference.metrics import frechet_distance as reference_frechet
from reference.metrics import inception_score as reference_inception_score
from reference.metrics import mmd2_unbiased as reference_mmd2

ASSIGNMENT = "lesson_05"

FRECHET = "frechet_distance_gaussians"
IS = "inception_score_from_probs"
MMD = "unbiased_mmd2"

FRECHET_FORMULA = (
    "d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), where tr((S1 S2)^(1/2)) is the sum of the "
    "square roots of the eigenvalues of S1 S2 (real parts, clipped at 0), or the trace of scipy.linalg.sqrtm(S1 @ S2)"
)
IS_FORMULA = (
    "IS = exp(mean over images x of KL(p(y|x) || p(y))), with p(y) = p_yx.mean(dim=0) and "
    "KL(p || q) = sum over classes y of p(y) (log p(y) - log q(y))"
)
MMD_FORMULA = (
    "MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1)) "
    "- 2 sum_{i, j} k(x_i, y_j) / m^2, with k(a, b) = (a . b / D + 1)^3"
)


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


def as_number(result: object, call: str) -> float:
    """The student's return value as a float; an AssertionError that says what came back instead."""
    if result is None:
        raise AssertionError(f"{call} returned None: is the `return` line missing? Return the value as a number")
    if isinstance(result, torch.Tensor):
        if result.numel() != 1:
            raise AssertionError(f"{call} returned a tensor of shape {tuple(result.shape)}; return one number")
        if result.is_complex():
            raise AssertionError(complex_message(call))
        return float(result.detach().reshape(()))
    if isinstance(result, complex) or np.iscomplexobj(result):
        raise AssertionError(complex_message(call))
    if isinstance(result, np.ndarray):
        if result.size != 1:
            raise AssertionError(f"{call} returned an array of shape {result.shape}; return one number")
        return float(result.reshape(()))
    try:
        return float(result)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AssertionError(f"{call} returned {type(result).__name__}; return one number (a float)") from None


def complex_message(call: str) -> str:
    return (
        f"{call} returned a complex number: scipy.linalg.sqrtm and np.linalg.eigvals return complex values when "
        f"round-off leaves tiny imaginary parts (singular covariances do that); the trace is real, so take its .real"
    )


def close(got: float, want: float, tol: float) -> bool:
    return math.isfinite(got) and abs(got - want) <= tol


def diagnose(got: float, want: float, faults: list[tuple[float, str]], tol: float) -> str | None:
    """The message of the first common mistake (its value, its message) that `got` matches."""
    for value, message in faults:
        if math.isfinite(value) and close(got, value, tol) and not close(value, want, tol):
            return message
    return None


def num(x: float) -> str:
    return f"{x:.6g}"


# ---------------------------------------------------------------------------------------------
# The Fréchet distance of two Gaussians
# ---------------------------------------------------------------------------------------------


def rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (d, d)."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return q


def full_rank_case(d: int = 6, seed: int = 1) -> tuple[np.ndarray, ...]:
    """Two Gaussians whose covariances do not commute, with positive entries (like covariances of
    ReLU features), so that an elementwise square root is finite and recognisable."""
    rng = np.random.default_rng(seed)
    a, b = rng.random((d, d)), rng.random((d, d))
    return rng.standard_normal(d), a @ a.T / d + 0.1 * np.eye(d), rng.standard_normal(d), b @ b.T / d + 0.1 * np.eye(d)


def singular_case(d: int = 12, n: int = 6, seed: int = 2) -> tuple[np.ndarray, ...]:
    """Means and covariances of n = 6 ReLU-like feature vectors of dimension 12, three of them 0 for
    every vector ("dead units"): both covariances have rank 5 < 12, as for real features when n <= D."""
    rng = np.random.default_rng(seed)
    x, y = np.maximum(rng.standard_normal((n, d)), 0), np.maximum(rng.standard_normal((n, d)) + 0.3, 0)
    x[:, :3] = y[:, :3] = 0
    return x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)


def ill_conditioned_case(d: int = 10, seed: int = 3) -> tuple[np.ndarray, ...]:
    """Covariances with eigenvalues from 1e-10 to 100 (condition number 1e12), in random directions."""
    rng = np.random.default_rng(seed)
    q1, q2 = rotation(d, rng), rotation(d, rng)
    eig = np.logspace(-10, 2, d)
    return rng.standard_normal(d), q1 @ np.diag(eig) @ q1.T, rng.standard_normal(d), q2 @ np.diag(eig[::-1]) @ q2.T


KNOWN_CASE = (np.zeros(2), np.eye(2), np.array([3.0, 4.0]), 4 * np.eye(2))  # FID 25 + 10 - 2 * 4 = 27


def symmetric_sqrt(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    w, v = np.linalg.eigh(s)
    return v @ np.diag(np.sqrt(w.clip(min=0))) @ v.T


ELEMENTWISE = (
    "(S1 S2)^(1/2) is a matrix square root, not the square root of each entry: use the eigenvalues of S1 @ S2 "
    "(sum of their square roots) or scipy.linalg.sqrtm(S1 @ S2), not np.sqrt"
)


SYMMETRIC_ONLY = (
    "eigvalsh is for symmetric matrices and reads only one triangle of its input, but S1 @ S2 is not symmetric "
    "(the product of two covariances that do not commute): use np.linalg.eigvals (real parts, clipped at 0), or "
    "eigvalsh of the symmetric S1^(1/2) S2 S1^(1/2), which has the same eigenvalues"
)


TRACE_TWICE = "one covariance's trace is counted twice: the distance adds tr(S1) + tr(S2), one trace of each"


def modulus_trace(product: np.ndarray) -> float:
    """tr(|sqrtm(product)|): the trace after np.abs of scipy's complex square root, entry by entry."""
    from scipy.linalg import sqrtm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.trace(np.abs(sqrtm(product))))


def real_sqrtm_trace(matrix: np.ndarray) -> float:
    """tr(sqrtm(matrix).real), the way a student takes it."""
    from scipy.linalg import sqrtm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.trace(np.real(sqrtm(matrix))))


def roots_of(values: np.ndarray) -> float:
    """The sum of the square roots of `values`, clipped at 0."""
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def frechet_faults(mu1, s1, mu2, s2) -> list[tuple[float, str]]:
    """Common wrong Fréchet distances of these Gaussians: [(their value, the message)]."""
    m2, t = float(((mu1 - mu2) ** 2).sum()), float(np.trace(s1) + np.trace(s2))
    cross = float(np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(min=0)).sum())
    want = m2 + t - 2 * cross
    with np.errstate(invalid="ignore"):
        elementwise_product = float(np.trace(np.sqrt(s1 @ s2)))
        elementwise_each = float(np.trace(np.sqrt(s1) @ np.sqrt(s2)))
    return [
        (m2 + t - cross, "the trace term lacks its factor 2: subtract 2 tr((S1 S2)^(1/2)), not tr((S1 S2)^(1/2))"),
        (m2 + t + 2 * cross, "the trace term has the wrong sign: the distance subtracts 2 tr((S1 S2)^(1/2))"),
        (m2 + t - 2 * elementwise_product, ELEMENTWISE),
        (m2 + t - 2 * elementwise_each, ELEMENTWISE),
        (m2 + t - 2 * float(np.trace(symmetric_sqrt(s1) @ symmetric_sqrt(s2))), "tr(S1^(1/2) S2^(1/2)) is not "
         "tr((S1 S2)^(1/2)) when S1 and S2 do not commute: take the square root of the product S1 @ S2"),
        (m2 + t - 2 * roots_of(np.linalg.eigvalsh(s1 @ s2, UPLO="L")), SYMMETRIC_ONLY),
        (m2 + t - 2 * roots_of(np.linalg.eigvalsh(s1 @ s2, UPLO="U")), SYMMETRIC_ONLY),
        (m2 + t - 2 * roots_of(np.linalg.eigvalsh((s1 @ s2 + s2 @ s1) / 2)), "symmetrizing S1 S2 as "
         "(S1 S2 + S2 S1) / 2 changes its eigenvalues (the two covariances do not commute): use np.linalg.eigvals of "
         "S1 @ S2 (real parts, clipped at 0), or eigvalsh of the symmetric S1^(1/2) S2 S1^(1/2), which has the same "
         "eigenvalues as S1 S2"),
        (m2 + t - 2 * roots_of(np.linalg.svd(s1 @ s2, compute_uv=False)), "the singular values of S1 @ S2 are not its "
         "eigenvalues (S1 S2 is not symmetric): sum the square roots of its eigenvalues (np.linalg.eigvals, real parts "
         "clipped at 0), or take the trace of scipy.linalg.sqrtm(S1 @ S2)"),
        (m2 + t - 2 * math.sqrt(max(float(np.trace(s1 @ s2)), 0.0)), "sqrt(tr(S1 S2)) is not tr((S1 S2)^(1/2)): "
         "the trace of the matrix square root is the sum of the square roots of the eigenvalues of S1 @ S2"),
        (m2 + t - 2 * float(np.trace(s1 @ s2)), "the square root is missing: the cross term is 2 tr((S1 S2)^(1/2)), "
         "not 2 tr(S1 S2)"),
        (math.sqrt(m2) + t - 2 * cross, "the mean term is not squared: use ||mu1 - mu2||^2 (the sum of the squared "
         "differences), not the norm ||mu1 - mu2||"),
        (t - 2 * cross, "the mean term is missing: add ||mu1 - mu2||^2"),
        (float(((mu1 - mu2) ** 2).mean()) + t - 2 * cross, "the mean term is the mean of the squared differences; "
         "||mu1 - mu2||^2 is their sum over the D features"),
        (m2 - t + 2 * cross, "the trace terms have their signs swapped: + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))"),
        (m2 + float(np.trace(s1 @ s2)) - 2 * cross, "tr(S1) + tr(S2) is the sum of the two traces, not the trace of "
         "the product tr(S1 S2)"),
        (m2 + 2 * float(np.trace(s1)) - 2 * cross, TRACE_TWICE),
        (m2 + 2 * float(np.trace(s2)) - 2 * cross, TRACE_TWICE),
        (m2 + t - 2 * math.sqrt(float(np.trace(s1)) * float(np.trace(s2))), "sqrt(tr(S1) tr(S2)) is not "
         "tr((S1 S2)^(1/2)): the trace of the matrix square root is the sum of the square roots of the eigenvalues "
         "of S1 @ S2"),
        (m2 + t - 2 * real_sqrtm_trace(s1 * s2), "S1 * S2 multiplies the covariances entry by entry (numpy's * is not "
         "the matrix product): the cross term is 2 tr((S1 S2)^(1/2)) of the matrix product S1 @ S2"),
        (m2 + t - 2 * float(np.sqrt(np.clip(np.diag(s1) * np.diag(s2), 0, None)).sum()), "the cross term uses only the "
         "covariances' diagonals (the variances), as if the features were independent: FID compares full covariances, "
         "2 tr((S1 S2)^(1/2)) of the matrix product S1 @ S2"),
        (m2 + t - 2 * modulus_trace(s1 @ s2), "np.abs of sqrtm's complex result takes each entry's modulus, which "
         "turns negative entries positive and adds the imaginary parts' size: take the real part, sqrtm(...).real"),
        (math.sqrt(max(want, 0.0)), "that is the square root of the expected value: FID is the squared distance "
         "d^2, return it without a final sqrt"),
        (m2 + t, "the cross term is missing: tr(S1) + tr(S2) alone is the distance of two Gaussians whose features are "
         "uncorrelated with each other; subtract 2 tr((S1 S2)^(1/2)), the sum of the square roots of the eigenvalues "
         "of S1 @ S2"),
        (m2 + t - 2 * roots_of(np.linalg.eigvalsh(s1) * np.linalg.eigvalsh(s2)), "the eigenvalues of S1 and of S2 are "
         "paired one by one, as if the two covariances shared their eigenvectors (commuted); they do not: take the "
         "eigenvalues of the product S1 @ S2 (np.linalg.eigvals, real parts clipped at 0) and sum their square roots"),
        *epsilon_faults(mu1, s1, mu2, s2),
    ]


def epsilon_faults(mu1, s1, mu2, s2) -> list[tuple[float, str]]:
    """The distance with eps I added to both covariances, in the cross term only (pytorch-fid's retry, taken every
    time) or everywhere, for eps = 1e-1 ... 1e-5: [(its value, the message)]."""
    m2, t, eye = float(((mu1 - mu2) ** 2).sum()), float(np.trace(s1) + np.trace(s2)), np.eye(len(mu1))
    faults = []
    for power in range(1, 6):
        eps = 10.0 ** -power
        a, b = s1 + eps * eye, s2 + eps * eye
        cross = roots_of(np.linalg.eigvals(a @ b).real)
        message = (f"that is the distance with {eps:g} added to the covariances' diagonals (S + {eps:g} I): an epsilon "
                   f"this large moves the result; add none (pytorch-fid adds 1e-6, and only when sqrtm's result is not "
                   f"finite), and take the trace term from the eigenvalues of S1 @ S2, which need no epsilon")
        faults += [(m2 + t - 2 * cross, message), (m2 + t + 2 * len(mu1) * eps - 2 * cross, message)]
    return faults


def frechet_answer(fn: Callable, case: tuple[np.ndarray, ...]) -> float:
    """fn(mu1, sigma1, mu2, sigma2) on copies of the case's arrays, as a float."""
    given = [a.copy() for a in case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm's "Matrix is singular" is expected on singular inputs
        result = fn(*given)
    changed = [name for name, a, b in zip(("mu1", "sigma1", "mu2", "sigma2"), given, case)
               if not (isinstance(a, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True))]
    if changed:
        raise AssertionError(
            f"{FRECHET}(mu1, sigma1, mu2, sigma2) changed its argument{'s' if len(changed) > 1 else ''} "
            f"{' and '.join(changed)} in place (+=, a slice assignment, np.fill_diagonal...): the caller's statistics "
            f"must stay as they were (FID reuses the real images' for every model it scores); compute on new arrays, "
            f"e.g. sigma1 = sigma1 + eps * np.eye(len(sigma1)), not sigma1 += ..."
        )
    return as_number(result, f"{FRECHET}(mu1, sigma1, mu2, sigma2)")


def frechet_scale(case: tuple[np.ndarray, ...]) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2): the size of the terms, which sets the tolerance."""
    return float(((case[0] - case[2]) ** 2).sum() + np.trace(case[1]) + np.trace(case[3]))


def matching_faults(got: float, case: tuple[np.ndarray, ...]) -> list[int]:
    """The indices in frechet_faults(*case) of the mistakes whose value `got` is, on `case`."""
    want = reference_frechet(*(torch.from_numpy(a) for a in case))
    tol = 1e-4 * frechet_scale(case)
    return [i for i, (value, _) in enumerate(frechet_faults(*case))
            if math.isfinite(value) and close(got, value, tol) and not close(value, want, tol)]


def frechet_hint(fn: Callable, case: tuple[np.ndarray, ...], got: float,
                 confirm: tuple[np.ndarray, ...] | None) -> str | None:
    """The message of the mistake that gives `got` on `case`; with `confirm`, only a mistake that also gives fn's
    answer there (a case of round numbers, like the closed-form one, fits several mistakes by coincidence)."""
    found = matching_faults(got, case)
    if found and confirm is not None:
        try:
            there = matching_faults(frechet_answer(fn, confirm), confirm)
        except Exception:  # noqa: BLE001 - only a diagnosis: the check of `confirm` itself reports the error
            there = []
        found = [i for i in found if i in there]
    return frechet_faults(*case)[found[0]][1] if found else None


def sqrtm_gives_nan(case: tuple[np.ndarray, ...]) -> bool:
    """Whether this kernel's scipy.linalg.sqrtm returns numbers that are not finite for the case's S1 @ S2 or
    either covariance: SciPy 1.18 and later do on a singular matrix whose features include one that is 0 for every
    sample (a row and column of zeros), where earlier versions returned a usable root with a warning."""
    from scipy.linalg import sqrtm

    _, s1, _, s2 = case
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return not all(np.isfinite(sqrtm(m)).all() for m in (s1 @ s2, s1, s2))
        except (ValueError, ArithmeticError):  # numpy's LinAlgError is a ValueError
            return True


def sqrtm_nan(case: tuple[np.ndarray, ...]) -> str:
    """What to do where this kernel's sqrtm gives nan on `case` ("" where it does not)."""
    if not sqrtm_gives_nan(case):
        return ""
    import scipy

    return (f"scipy.linalg.sqrtm returns nan for singular covariances like these since SciPy 1.18 (this kernel has "
            f"{scipy.__version__}; older versions returned a usable root with a warning): if your function uses sqrtm "
            f"(also as the root of S1 inside S1^(1/2) S2 S1^(1/2)), take the trace term from the eigenvalues of S1 @ S2 "
            f"instead (np.linalg.eigvals, real parts clipped at 0, their square roots summed), or do as pytorch-fid does "
            f"when sqrtm's result is not finite: add 1e-6 to both diagonals and take sqrtm again")


def singular_hint(case: tuple[np.ndarray, ...]) -> str:
    """What to do where a covariance of `case` is singular ("" where both have full rank)."""
    d = len(case[0])
    rank = min(int(np.linalg.matrix_rank(case[1])), int(np.linalg.matrix_rank(case[3])))
    if rank == d:
        return ""
    return (f"a covariance here is singular (rank {rank} of {d}), as real features' are when there are no more images "
            f"than features: a step that needs it positive definite (np.linalg.cholesky, np.linalg.inv or solve, a "
            f"log-determinant) fails on it; take the trace term from the eigenvalues of S1 @ S2 (np.linalg.eigvals, "
            f"real parts clipped at 0, their square roots summed), which exist for any covariances")


def check_frechet(fn: Callable, case: tuple[np.ndarray, ...], what: str, nan_hint: str,
                  confirm: tuple[np.ndarray, ...] | None = None) -> None:
    """Compare fn on `case` with the oracle; fail with the matching fault's message (confirmed on `confirm`)."""
    try:
        got = frechet_answer(fn, case)
    except ValueError as err:  # LinAlgError "Eigenvalues did not converge", "array must not contain infs or NaNs"
        # np.linalg.cholesky, inv or solve on a singular covariance, else sqrtm's nan taken further (eigvalsh of the
        # root, a check_finite), else any error on a singular covariance
        refused = any(words in str(err).lower() for words in ("positive definite", "singular matrix"))
        if hint := (singular_hint(case) if refused else "") or sqrtm_nan(case) or singular_hint(case):
            raise AssertionError(f"for {what} calling `{FRECHET}` raised {type(err).__name__}: {first_line(err)}; "
                                 f"{hint}") from None
        raise
    want = reference_frechet(*(torch.from_numpy(a) for a in case))
    scale = frechet_scale(case)
    tol = 1e-4 * scale  # the routes (sqrtm, eigenvalues, symmetric roots) agree to ~1e-5 of it on singular inputs
    if close(got, want, tol):
        return
    if math.isnan(got):
        if hint := sqrtm_nan(case):
            nan_hint = f"{hint}; otherwise, {nan_hint}"
        raise AssertionError(f"for {what} your distance is nan, expected {num(want)}: {nan_hint}")
    hint = frechet_hint(fn, case, got, confirm)
    if hint is None and close(got, want, 1e-3 * scale):  # float32 is off by about 1e-4 of it; a formula by more
        hint = ("close, but off by more than the round-off of float64 (1e-4 of ||mu1 - mu2||^2 + tr(S1) + tr(S2)): "
                "keep every step in float64, the inputs' dtype (float32 loses digits here), and add no epsilon to the "
                "covariances")
    hint = hint or FRECHET_FORMULA
    raise AssertionError(f"for {what} your distance is {num(got)}, expected {num(want)}: {hint}")


@check(points=1, visible=True)
def test_frechet_distance(submission):
    """The Fréchet distance of two Gaussians (known and random full-rank covariances)."""
    fn = submission.get(FRECHET)
    check_frechet(fn, KNOWN_CASE, "N(0, I) and N((3, 4), 4 I) (the closed form gives 27)",
                  "a square root of a negative number; the formula's terms here are all >= 0", confirm=full_rank_case())
    d = len(full_rank_case()[0])
    check_frechet(fn, full_rank_case(), f"two {d}-D Gaussians with full-rank covariances that do not commute",
                  f"a square root of a negative number: {ELEMENTWISE}")


@check(points=1, visible=True)
def test_frechet_distance_singular(submission):
    """The Fréchet distance with singular and ill-conditioned covariances."""
    fn = submission.get(FRECHET)
    clip = ("round-off leaves some eigenvalues of S1 @ S2 slightly below 0 (they are 0 in exact arithmetic when "
            "the covariances are singular), and their square root is nan: take the real part and clip them at 0 "
            "(np.clip(..., 0, None)) before the square root; an elementwise np.sqrt of S1 @ S2, whose entries can be "
            "negative, gives nan too: the square root is the matrix's")
    check_frechet(fn, singular_case(), "covariances of 6 ReLU feature vectors of dimension 12 (rank 5, with "
                  "3 features that are always 0, as in real features when n <= D)", clip)
    check_frechet(fn, ill_conditioned_case(), "covariances with eigenvalues from 1e-10 to 100", clip)


# ---------------------------------------------------------------------------------------------
# The Inception Score from class probabilities
# ---------------------------------------------------------------------------------------------


def soft_probs(n: int = 40, k: int = 10, seed: int = 4) -> torch.Tensor:
    """p(y|x) (n, k) from seeded moderate logits: every entry > 0, classes unevenly used."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2.5 * torch.randn(n, k, generator=gen, dtype=torch.float64)
    logits[:, 0] += 1.0  # class 0 more frequent, so p(y) is not uniform
    return logits.softmax(dim=1)


def confident_probs(seed: int = 5) -> torch.Tensor:
    """p(y|x) (30, 10) with exact zeros: 20 one-hot rows (perfectly confident images of classes 0-7)
    and 10 soft rows spread over classes 0-7; classes 8 and 9 are never predicted (p(y) = 0)."""
    gen = torch.Generator().manual_seed(seed)
    hard = torch.nn.functional.one_hot(torch.arange(20) % 8, 10).double()
    soft = torch.zeros(10, 10, dtype=torch.float64)
    soft[:, :8] = torch.randn(10, 8, generator=gen, dtype=torch.float64).softmax(dim=1)
    return torch.cat([hard, soft])


def reference_is(p: torch.Tensor) -> float:
    """The oracle's score of probabilities p (n, K): log p as logits (zeros as -690, e^-690 ~ 0)."""
    return reference_inception_score(p.clamp_min(1e-300).log(), splits=1)[0]


def is_faults(p: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong Inception Scores of probabilities p (n, K) > 0: [(their value, the message)]."""
    log_p = p.log()
    p_y = p.mean(dim=0)
    kl = (p * (log_p - p_y.log())).sum(dim=1)  # (n,)
    k = p.shape[1]
    reverse = (p_y * (p_y.log() - log_p)).sum(dim=1)
    geometric = log_p.mean(dim=0)  # mean of the logs
    kl_geometric = (p * (log_p - geometric)).sum(dim=1)
    kl_uniform = (p * (log_p + math.log(k))).sum(dim=1)
    squashed = p.softmax(dim=1)  # the probabilities taken for logits
    splits = [part for part in p.chunk(10)]
    return [
        (reference_is(squashed), "p_yx holds probabilities already (rows summing to 1), not logits: use them as they "
         "are, without a softmax"),
        (sum(reference_is(part) for part in splits) / len(splits), "that is the mean score of 10 splits of the images; "
         "this function scores them all in one split: p(y) is the mean of p(y|x) over all N images"),
        (float(kl.mean()), "the exp is missing: IS is exp of the mean KL, not the mean KL itself"),
        (float((-kl.mean()).exp()), "that is 1 / IS: the KL's sign is flipped; it is sum_y p(y|x) (log p(y|x) - "
         "log p(y)) >= 0, or with entropies IS = exp(H(p(y)) - mean_x H(p(y|x)))"),
        (float(reverse.mean().exp()), "the KL is reversed: it is KL(p(y|x) || p(y)) = sum_y p(y|x) (log p(y|x) - "
         "log p(y)), weighted by each image's p(y|x), not KL(p(y) || p(y|x))"),
        (float(kl_geometric.mean().exp()), "p(y) is the mean of the probabilities over the images, log p(y) = "
         "log(p_yx.mean(0)); you took the mean of the logs, p_yx.log().mean(0), instead of the log of the mean"),
        (1.0, "the score is exactly 1, so every image's KL is 0: its two distributions are the same one. Either you "
         "averaged p(y|x) over the images before taking the log (the log of the mean, which is log p(y) itself), or "
         "p(y) is each image's own p(y|x); p(y) is the mean over the images, p_yx.mean(0), compared with each image's "
         "own log p(y|x), and the mean over the images of their KLs comes last"),
        (float(kl_uniform.mean().exp()), "p(y) is the mean of p(y|x) over the images (dim 0), not the uniform "
         "distribution 1/K nor a mean over the classes (dim 1)"),
        (float(kl.exp().mean()), "that is the mean of exp(KL) over the images; IS is exp of the mean of the KLs"),
        (float(kl.sum().exp()), "the KLs are summed over the images; take their mean"),
        (float((kl.mean() / k).exp()), "the KL is averaged over the classes too: sum p(y|x) (log p(y|x) - log p(y)) "
         "over the classes y, then take the mean over the images"),
        (float((kl.mean() / math.log(2)).exp()), "the KL is in bits (log2) but the score takes exp: use natural "
         "logs with exp"),
        (float(kl.mean().exp()) / p.shape[0], "p(y) is the mean of p(y|x) over the images, p_yx.mean(dim=0), not "
         "their sum (a sum is N times too large, which divides the score by N)"),
        (float(kl.mean().exp()) * k / p.shape[0], "p(y) divides the sum over the images by K = p_yx.shape[1], the "
         "number of classes; divide it by N = p_yx.shape[0], the number of images: p(y) = p_yx.mean(dim=0)"),
        (math.exp(entropy(p_y) + float(entropy(p).mean())), "the conditional entropy is added: IS = exp(H(p(y)) - "
         "mean_x H(p(y|x))), the entropy of the marginal minus the mean entropy of each image's p(y|x)"),
        (math.exp(entropy(p_y)), "that is exp(H(p(y))), the marginal's entropy alone: subtract the mean entropy of "
         "each image's p(y|x), IS = exp(H(p(y)) - mean_x H(p(y|x)))"),
    ]


def entropy(p: torch.Tensor) -> torch.Tensor | float:
    """The entropy in nats of each row of p (n, K) -> (n,), or of one distribution p (K,) -> a float."""
    h = torch.special.entr(p).sum(dim=-1)
    return float(h) if p.dim() == 1 else h


ORDER_SEED = 9  # seeds the reordering of the images that order_fault scores again


def order_fault(fn: Callable, p: torch.Tensor, got: float, tol: float) -> str | None:
    """The message for a score that changes when the same images come in another order (p(y) taken per batch
    or chunk of images), or None when it does not change."""
    order = torch.randperm(p.shape[0], generator=torch.Generator().manual_seed(ORDER_SEED))
    try:
        again = is_answer(fn, p[order])
    except Exception:  # noqa: BLE001 - only a diagnosis: an answer that fails here is not this mistake
        return None
    if not math.isfinite(again) or close(again, got, tol):
        return None
    return (f"the same images in another order score {num(again)}: the score must not depend on their order. p(y) is "
            f"the mean of p(y|x) over all N images, p_yx.mean(dim=0); a p(y) taken per batch (or chunk) of images "
            f"gives each batch its own marginal")


def changed_in_place(call: str, names: tuple[str, ...], given: tuple[torch.Tensor, ...],
                     originals: tuple[torch.Tensor, ...], example: str) -> None:
    """An AssertionError naming the arguments that the call changed in place (given: what it received)."""
    changed = [name for name, a, b in zip(names, given, originals) if not torch.equal(a, b)]
    if changed:
        raise AssertionError(
            f"{call} changed its argument{'s' if len(changed) > 1 else ''} {' and '.join(changed)} in place (clamp_, "
            f"+=, /=, a slice assignment...): the caller's tensors must stay as they were (the notebook scores the "
            f"same features or probabilities again); compute on new tensors, {example}")


def is_answer(fn: Callable, p: torch.Tensor) -> float:
    given = p.clone()
    result = fn(given)
    changed_in_place(f"{IS}(p_yx)", ("p_yx",), (given,), (p,), "e.g. p = p_yx.clamp_min(1e-12), not p_yx.clamp_(1e-12)")
    return as_number(result, f"{IS}(p_yx)")


IS_CASES = ((40, 10, 4), (25, 7, 10))  # (images N, classes K, seed) of soft_probs


def size_hint(right: str | None) -> str | None:
    """The message for an answer right on an earlier case of other sizes (`right` names them) and wrong on this one."""
    if right is None:
        return None
    return (f"your function is right for {right} but not for these sizes: is a size written into the code? take the "
            f"sizes from the argument's shape")


@check(points=1, visible=True)
def test_inception_score(submission):
    """The Inception Score of class probabilities (two sizes)."""
    fn = submission.get(IS)
    right = None
    for n, k, seed in IS_CASES:
        p = soft_probs(n, k, seed)
        got, want = is_answer(fn, p), reference_is(p)
        tol = 1e-6 * want
        if close(got, want, tol):
            right = right or f"{n} images and {k} classes"
            continue
        hint = diagnose(got, want, is_faults(p), tol) or order_fault(fn, p, got, tol) or size_hint(right) or IS_FORMULA
        raise AssertionError(f"for {n} images and {k} classes your score is {num(got)}, expected {num(want)}: {hint}")


def without_zeros_fault(fn: Callable, n: int, k: int) -> str | None:
    """The message for an answer that is wrong on n images and k classes without zeros too (so the zeros are not
    the cause), else None."""
    p = soft_probs(n, k, seed=11)
    try:
        got = is_answer(fn, p)
    except Exception:  # noqa: BLE001 - only a diagnosis
        return None
    want = reference_is(p)
    tol = 1e-6 * want
    if close(got, want, tol):
        return None
    hint = diagnose(got, want, is_faults(p), tol) or order_fault(fn, p, got, tol) or IS_FORMULA
    return (f"on {n} images and {k} classes without zeros (every p(y|x) > 0) your score is {num(got)}, expected "
            f"{num(want)}, so the zeros are not the cause: {hint}")


@check(points=1, visible=True)
def test_inception_score_confident(submission):
    """The Inception Score when some probabilities are exactly 0."""
    fn = submission.get(IS)
    p = confident_probs()
    got, want = is_answer(fn, p), reference_is(p)
    if close(got, want, 1e-6 * want):
        return
    what = (f"for {p.shape[0]} images of which 20 are perfectly confident (one-hot p(y|x)), and two classes that "
            f"no image uses")
    if math.isnan(got):
        raise AssertionError(
            f"{what}, your score is nan, expected {num(want)}: 0 * log(0) = 0 * -inf is nan in floating point; "
            f"a term p log p with p = 0 counts as 0 (use torch.xlogy, torch.where, or clamp p before the log, "
            f"also in log p(y), since p(y) = 0 for a class that no image uses)"
        )
    hint = epsilon_fault(p, got, 1e-6 * want) or without_zeros_fault(fn, *p.shape) or (
        "check it first on the previous check's probabilities, then with zeros: terms with p(y|x) = 0 count as 0")
    raise AssertionError(f"{what}, your score is {num(got)}, expected {num(want)}: {hint}")


def is_with_epsilon(p: torch.Tensor, eps: float, clamped: bool) -> float:
    """The Inception Score with log(p + eps) (or log(clamp_min(p, eps))) in place of log p, in p(y|x) and p(y) alike."""
    log = (lambda q: q.clamp_min(eps).log()) if clamped else (lambda q: (q + eps).log())
    p_y = p.mean(dim=0)
    return float((p * (log(p) - log(p_y))).sum(dim=1).mean().exp())


def epsilon_fault(p: torch.Tensor, got: float, tol: float) -> str | None:
    """The message for a score that an epsilon in the logs, log(p + eps) or a clamp to eps, gives; else None."""
    for power in range(1, 16):
        eps = 10.0 ** -power
        for clamped, form in ((False, f"log(p + {eps:g})"), (True, f"log(p.clamp_min({eps:g}))")):
            if close(got, is_with_epsilon(p, eps, clamped), tol):
                return (f"that is the score with {form} in place of log p: an epsilon this large moves every term p log p, "
                        f"not only those with p = 0; let those count as 0 exactly with torch.xlogy(p, p) and "
                        f"torch.xlogy(p, p_y), or clamp to a far smaller epsilon (1e-12) or use torch.where(p > 0, ...)")
    return None


# ---------------------------------------------------------------------------------------------
# Unbiased MMD² with the cubic polynomial kernel (KID)
# ---------------------------------------------------------------------------------------------


def mmd_case(m: int, d: int, shift: float, seed: int, scale: float = 1.5) -> tuple[torch.Tensor, torch.Tensor]:
    """x (m, d) ~ N(0, I) and y (m, d) ~ N(shift, scale^2 I), float64, seeded."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, d, generator=gen, dtype=torch.float64)
    y = shift + scale * torch.randn(m, d, generator=gen, dtype=torch.float64)
    return x, y


# (m, D, shift, seed, scale): two sets apart, then two samples of one distribution, whose unbiased estimate is < 0
MMD_CASES = [(30, 8, 0.5, 6, 1.5), (50, 16, 0.2, 7, 1.5), (40, 8, 0.0, 23, 1.0)]
NEGATIVE = ("the expected value is negative: x and y here are two samples of one distribution, whose MMD^2 is 0, and "
            "an unbiased estimate of 0 falls below it about half the time. ")


def mmd_faults(x: torch.Tensor, y: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong MMD² estimates of x and y (m, D): [(their value, the message)]."""
    m, d = x.shape

    def parts(kernel: Callable) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return kernel(x, x), kernel(y, y), kernel(x, y)

    def unbiased(kxx, kyy, kxy) -> float:
        return float((kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * kxy.mean())

    kxx, kyy, kxy = parts(lambda a, b: (a @ b.T / d + 1) ** 3)
    off = kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()
    want = unbiased(kxx, kyy, kxy)
    below_zero = [
        (0.0, NEGATIVE + "Return it as it is: max(0, ...) or a clamp at 0 biases the estimate upwards (KID averages "
         "such estimates over subsets, and the negative ones must count)"),
        (-want, NEGATIVE + "Return it with its sign: abs(...) biases the estimate upwards"),
    ] if want < 0 else []
    return below_zero + [
        (float((kxx.sum() - m + kyy.sum() - m) / (m * (m - 1)) - 2 * kxy.mean()), "the within-set sums subtract m "
         "for their diagonals, as if k(x_i, x_i) = 1: that holds for a Gaussian (RBF) kernel, not for this polynomial "
         "one, where k(x_i, x_i) = (|x_i|^2 / D + 1)^3; subtract each diagonal's own sum, k_xx.trace()"),
        (float(off / (m * (m - 1)) - 2 * (kxy.sum() - kxy.trace()) / (m * m)), "the cross term leaves out i = j but "
         "still divides by m^2; KID's cross term keeps every pair (x_i and y_j are independent for every i and j): "
         "subtract 2 * k_xy.mean()"),
        (float(kxx.mean() + kyy.mean() - 2 * kxy.mean()), "that is the biased estimate: it keeps the diagonal terms "
         "k(x_i, x_i) and k(y_i, y_i); leave them out of the two within-set sums and divide those by m (m - 1)"),
        (float(off / (m * m) - 2 * kxy.mean()), "the within-set sums leave out the diagonal (good) but are divided "
         "by m^2; with the m (m - 1) pairs i != j divide by m (m - 1)"),
        (float((kxx.sum() + kyy.sum()) / (m * (m - 1)) - 2 * kxy.mean()), "the within-set sums keep the diagonal "
         "terms k(x_i, x_i), k(y_i, y_i); sum over i != j only (subtract the trace)"),
        *[(float((kaa.sum() - kaa.trace()) / (m * (m - 1)) + kbb.mean() - 2 * kxy.mean()), f"the {kept} within-set term "
           f"keeps its diagonal (k_{kept}{kept}.mean(), the biased form) while the {left} one leaves it out: leave the "
           f"diagonal out of both, each sum over i != j divided by m (m - 1)") for kaa, kbb, left, kept in ((kxx, kyy, "x", "y"),
                                                                                                       (kyy, kxx, "y", "x"))],
        (float((kxx.sum() - kxx.trace()) / m * (m - 1) + (kyy.sum() - kyy.trace()) / m * (m - 1) - 2 * kxy.mean()),
         "the within-set sums are multiplied by m - 1: `/ m * (m - 1)` divides by m, then multiplies by m - 1 "
         "(left to right); put the product in parentheses, / (m * (m - 1))"),
        (float(off / (m * (m - 1)) - 2 * kxy.sum()), "the cross term is summed, not averaged: `2 / m * m * k.sum()` "
         "or `2 * k.sum()` leaves out the division by m^2; subtract 2 * k_xy.sum() / (m * m), i.e. 2 * k_xy.mean()"),
        (float(off / (m * (m - 1)) - kxy.mean()), "the cross term lacks its factor 2: subtract 2 * mean k(x_i, y_j)"),
        (float(off / (m * (m - 1)) - 2 * (kxy.sum() - kxy.trace()) / (m * (m - 1))), "the cross term leaves out "
         "i = j: that is Gretton et al.'s MMD^2_u, unbiased too but not KID's estimate; KID's formula above keeps "
         "every pair of the cross term (x_i and y_j are independent for every i and j, i = j included) and divides "
         "it by m^2"),
        (unbiased(*parts(lambda a, b: (a @ b.T + 1) ** 3)), "the kernel lacks the 1/D: k(a, b) = (a . b / D + 1)^3 "
         "with D the feature dimension"),
        (unbiased(*parts(lambda a, b: (a @ b.T / d) ** 3)), "the kernel lacks the + 1: k(a, b) = (a . b / D + 1)^3"),
        (unbiased(*parts(lambda a, b: a @ b.T / d + 1)), "the kernel is not cubed: in `a @ b.T / d + 1 ** 3` the "
         "power binds first and cubes only the 1; put the sum in parentheses, (a @ b.T / d + 1) ** 3"),
        (unbiased(*parts(lambda a, b: (a @ b.T / d + 1) ** 2)), "the kernel is quadratic; KID's is cubic, "
         "k(a, b) = (a . b / D + 1)^3"),
        (unbiased(*parts(lambda a, b: (a @ b.T / m + 1) ** 3)), "the kernel divides by the number of samples m; "
         "it divides by the feature dimension D (x.shape[1])"),
        (unbiased(*parts(lambda a, b: (a @ b.T / (m * d) + 1) ** 3)), "the kernel divides by x.numel() = m D; it "
         "divides by the feature dimension D alone (x.shape[1])"),
        (unbiased(*parts(lambda a, b: (a @ b.T / math.sqrt(d) + 1) ** 3)), "the kernel divides by sqrt(D); KID's "
         "divides the dot product by D itself, k(a, b) = (a . b / D + 1)^3"),
        (float(off / 2 / (m * (m - 1)) - 2 * kxy.mean()), "the within-set sums count each pair once (i < j, a "
         "triangle such as torch.triu(k, 1)), but the sum over i != j counts every pair twice, k(x_i, x_j) and "
         "k(x_j, x_i): double the triangle's sum, or divide it by m (m - 1) / 2"),
        (float((off - 2 * kxy.sum()) / (m * (m - 1))), "the cross term is divided by m (m - 1), but it keeps all m^2 "
         "pairs (i = j included): divide it by m^2, 2 * k_xy.mean()"),
        (float(kxx.mean() - kxx.diagonal().mean() + kyy.mean() - kyy.diagonal().mean() - 2 * kxy.mean()),
         "the mean of all the entries minus the mean of the diagonal is not the mean over i != j: subtract the "
         "diagonal's sum from the sum, then divide by m (m - 1)"),
        (math.sqrt(want) if want > 0 else math.nan, "that is MMD, the square root of the expected value: return "
         "MMD^2 itself, without a final sqrt"),
        (-want, "the sign is flipped: the within-set terms add and the cross term subtracts"),
    ]


def mmd_scale(x: torch.Tensor, y: torch.Tensor) -> float:
    """The size of the terms of MMD² of x and y (m, D): mean |k(x, x')| + mean |k(y, y')| + 2 mean |k(x, y)|."""
    d = x.shape[1]
    return sum(w * float(((a @ b.T / d + 1) ** 3).abs().mean()) for a, b, w in ((x, x, 1), (y, y, 1), (x, y, 2)))


@check(points=1, visible=True)
def test_unbiased_mmd2(submission):
    """Unbiased MMD² with the cubic polynomial kernel (KID's estimate)."""
    fn = submission.get(MMD)
    right = None
    for m, d, shift, seed, scale in MMD_CASES:
        x, y = mmd_case(m, d, shift, seed, scale)
        given = x.clone(), y.clone()
        result = fn(*given)
        changed_in_place(f"{MMD}(x, y)", ("x", "y"), given, (x, y), "e.g. x = x / d, not x /= d")
        got = as_number(result, f"{MMD}(x, y)")
        want = float(reference_mmd2(x, y))
        tol = 1e-6 * mmd_scale(x, y)  # the estimate is a difference of terms this size: float32 is off by ~1e-7 of it
        if close(got, want, tol):
            right = right or f"x, y of shape ({m}, {d})"
            continue
        hint = diagnose(got, want, mmd_faults(x, y), tol) or (
            NEGATIVE + "Your function is right on the cases before, whose estimates are positive: does it treat a "
            "negative value differently? return the estimate as it is" if want < 0 and right else
            size_hint(right) or MMD_FORMULA)
        raise AssertionError(f"for x, y of shape ({m}, {d}) your MMD^2 is {num(got)}, expected {num(want)}: {hint}")
