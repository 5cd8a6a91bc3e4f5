"""Lesson 05's checks (reference/checks/lesson_05.py): the model answers pass, the untouched stubs and
realistic wrong answers fail with the message that names their fault.

Each answer is defined by exec in a fresh namespace, as a notebook cell defines it, so that an
exception from it is the student's (its frames' globals are the namespace) and `run_check`
reports it the way a student reads it.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from pathlib import Path

import pytest
import scipy.linalg

from reference.checks import lesson_05
from reference.grading.checks import run_check
from reference.grading.submission import LocalSubmission

HEADER = """
import math
import warnings
import numpy as np
import scipy.linalg
import torch
"""

# ---------------------------------------------------------------------------------------------
# The model answers (the notebook's solution regions hold the same code)
# ---------------------------------------------------------------------------------------------

FRECHET_EIG = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    mean_term = np.sum((mu1 - mu2) ** 2)
    eigenvalues = np.linalg.eigvals(sigma1 @ sigma2).real.clip(min=0)
    return float(mean_term + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(eigenvalues).sum())
"""

FRECHET_SQRTM = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
"""

FRECHET_TORCH = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    s1, s2 = torch.from_numpy(sigma1), torch.from_numpy(sigma2)
    cross = torch.linalg.eigvals(s1 @ s2).sqrt().real.sum()
    return (torch.from_numpy(mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * cross).item()
"""

FRECHET_SYMMETRIC = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    root = scipy.linalg.sqrtm(sigma1).real
    eigenvalues = np.linalg.eigvalsh(root @ sigma2 @ root).clip(min=0)
    return np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(eigenvalues).sum()
"""

# pytorch-fid's route as the check tells a student on SciPy 1.18 to write it: sqrtm without disp, and its retry
# with 1e-6 added to the diagonals when the root is not finite (SciPy 1.18 on singular covariances)
FRECHET_PYTORCH_FID_TODAY = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2, eps=1e-6):
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean).real)
"""

FRECHET_PYTORCH_FID = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2, eps=1e-6):
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
"""

# tr((S1 S2)^(1/2)) as the sum of the singular values of S1^(1/2) S2^(1/2), the roots by eigh (no sqrtm)
FRECHET_NUCLEAR = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    def root(s):
        w, v = np.linalg.eigh(s)
        return v @ np.diag(np.sqrt(w.clip(min=0))) @ v.T
    cross = np.linalg.svd(root(sigma1) @ root(sigma2), compute_uv=False).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * cross)
"""

IS_MODEL = """
def inception_score_from_probs(p_yx):
    p_y = p_yx.mean(dim=0)
    kl = torch.xlogy(p_yx, p_yx) - torch.xlogy(p_yx, p_y)
    return kl.sum(dim=1).mean().exp().item()
"""

IS_CLAMP = """
def inception_score_from_probs(p_yx):
    p = p_yx.clamp_min(1e-30)
    kl = (p_yx * (p.log() - p.mean(0).log())).sum(1)
    return math.exp(kl.mean())
"""

IS_SCIPY = """
import scipy.stats
def inception_score_from_probs(p_yx):
    p = p_yx.numpy()
    return float(np.exp(scipy.stats.entropy(p.T, p.mean(axis=0)[:, None]).mean()))
"""

IS_ENTROPIES = """
def inception_score_from_probs(p_yx):
    h_y = torch.special.entr(p_yx.mean(0)).sum()
    return math.exp(h_y - torch.special.entr(p_yx).sum(1).mean())
"""

MMD_MODEL = """
def unbiased_mmd2(x, y):
    m, d = x.shape
    k_xx, k_yy, k_xy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.mean()
"""

MMD_NUMPY = """
def unbiased_mmd2(x, y):
    x, y = x.numpy(), y.numpy()
    m, d = x.shape
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    kxx, kyy = k(x, x), k(y, y)
    np.fill_diagonal(kxx, 0)
    np.fill_diagonal(kyy, 0)
    return (kxx.sum() + kyy.sum()) / (m * (m - 1)) - 2 * k(x, y).mean()
"""

MMD_MASK = """
def unbiased_mmd2(x, y):
    m, d = x.shape
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    off = ~torch.eye(m, dtype=torch.bool)
    return k(x, x)[off].mean() + k(y, y)[off].mean() - 2 * k(x, y).mean()
"""

MMD_TRIANGLE = """
def unbiased_mmd2(x, y):
    m, d = x.shape
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    pairs = m * (m - 1) / 2
    return (torch.triu(k(x, x), 1).sum() / pairs + torch.triu(k(y, y), 1).sum() / pairs - 2 * k(x, y).mean()).item()
"""

STUBS = {
    "frechet_distance_gaussians": "def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):\n    raise NotImplementedError()\n",
    "inception_score_from_probs": "def inception_score_from_probs(p_yx):\n    raise NotImplementedError()\n",
    "unbiased_mmd2": "def unbiased_mmd2(x, y):\n    raise NotImplementedError()\n",
}


def submission(source: str) -> LocalSubmission:
    """A notebook namespace in which `source` (one cell) has run."""
    namespace: dict = {"__name__": "lesson_05_answer"}
    exec(compile(HEADER + textwrap.dedent(source), "<cell>", "exec"), namespace)
    return LocalSubmission(namespace)


def outcome(check_name: str, source: str) -> tuple[float, str]:
    return run_check(getattr(lesson_05, check_name), submission(source))


FRECHET_CHECKS = ["test_frechet_distance", "test_frechet_distance_singular"]
IS_CHECKS = ["test_inception_score", "test_inception_score_confident"]
MMD_CHECKS = ["test_unbiased_mmd2"]


def test_every_check_is_visible_and_named_for_the_lesson():
    checks = [n for n in vars(lesson_05) if n.startswith("test_")]
    assert sorted(checks) == sorted(FRECHET_CHECKS + IS_CHECKS + MMD_CHECKS)
    assert lesson_05.ASSIGNMENT == "lesson_05"
    assert all(getattr(lesson_05, n).visible and getattr(lesson_05, n).points == 1 for n in checks)


# SciPy 1.18 and later: scipy.linalg.sqrtm returns nan for the singular check's covariances (a feature always 0, rank 5
# of 12), where older versions returned a usable root with a warning. Which inputs do it is SciPy's business (a
# covariance with one dead feature of four does not), so this asks SciPy about the check's own case.
SQRTM_NAN = lesson_05.sqrtm_gives_nan(lesson_05.singular_case())
SQRTM_DISP = "disp" in inspect.signature(scipy.linalg.sqrtm).parameters  # gone in SciPy 1.18


@pytest.mark.parametrize("name", FRECHET_CHECKS)
@pytest.mark.parametrize("source", [FRECHET_EIG, FRECHET_SQRTM, FRECHET_TORCH, FRECHET_SYMMETRIC, FRECHET_PYTORCH_FID,
                                    FRECHET_PYTORCH_FID_TODAY, FRECHET_NUCLEAR],
                         ids=["eigvals", "sqrtm", "torch", "symmetric-root", "pytorch-fid", "pytorch-fid-without-disp",
                              "nuclear-norm"])
def test_frechet_model_answers_pass(name, source):
    """Every route passes where this kernel's SciPy can take it; where it cannot, the check says why (a student's
    kernel has whatever SciPy pip gave it, and sqrtm changed in SciPy 1.18)."""
    earned, message = outcome(name, source)
    if source == FRECHET_PYTORCH_FID and not SQRTM_DISP:
        assert earned == 0 and "sqrtm() got an unexpected keyword argument 'disp'" in message, message
        assert "(`covmean = linalg.sqrtm(...)`, not `covmean, _ = ...`)" in message, message
    elif source in (FRECHET_SQRTM, FRECHET_SYMMETRIC) and name.endswith("_singular") and SQRTM_NAN:
        assert earned == 0, message
        assert "scipy.linalg.sqrtm returns nan for singular covariances like these since SciPy 1.18" in message, message
        assert "np.linalg.eigvals" in message and "add 1e-6 to both diagonals" in message, message
    else:
        assert (earned, message) == (1.0, "")


def test_each_way_the_singular_check_tells_of_sqrtm_s_nan_is_right():
    """The two remedies the message names pass on this SciPy, whatever it does with singular matrices."""
    assert outcome("test_frechet_distance_singular", FRECHET_EIG) == (1.0, "")
    assert outcome("test_frechet_distance_singular", FRECHET_PYTORCH_FID_TODAY) == (1.0, "")


IS_REL_ENTR = """
import scipy.special
def inception_score_from_probs(p_yx):
    p = p_yx.numpy()
    return float(np.exp(scipy.special.rel_entr(p, p.mean(axis=0)).sum(axis=1).mean()))
"""


@pytest.mark.parametrize("name", IS_CHECKS)
@pytest.mark.parametrize("source", [IS_MODEL, IS_CLAMP, IS_SCIPY, IS_ENTROPIES, IS_REL_ENTR],
                         ids=["xlogy", "clamp", "scipy", "entropies", "rel_entr"])
def test_inception_score_model_answers_pass(name, source):
    assert outcome(name, source) == (1.0, "")


# the right formula in float32: off by ~3e-8 of the terms' size, which the tolerance allows (also on the case whose
# estimate is near 0, where a tolerance relative to the estimate itself would refuse it)
MMD_FLOAT32 = """
def unbiased_mmd2(x, y):
    x, y = x.float(), y.float()
    m, d = x.shape
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    kxx, kyy = k(x, x), k(y, y)
    return ((kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * k(x, y).mean()).item()
"""


@pytest.mark.parametrize("source", [MMD_MODEL, MMD_NUMPY, MMD_MASK, MMD_TRIANGLE, MMD_FLOAT32],
                         ids=["torch", "numpy", "mask", "triangle", "float32"])
def test_mmd_model_answers_pass(source):
    assert outcome("test_unbiased_mmd2", source) == (1.0, "")


@pytest.mark.parametrize("name", FRECHET_CHECKS + IS_CHECKS + MMD_CHECKS)
def test_untouched_stub_says_not_written_yet(name):
    function = {"frechet": "frechet_distance_gaussians", "inception": "inception_score_from_probs", "unbiased": "unbiased_mmd2"}
    fn = next(v for k, v in function.items() if k in name)
    earned, message = outcome(name, STUBS[fn])
    assert earned == 0
    assert f"`{fn}` is not implemented yet" in message and "NotImplementedError" in message


@pytest.mark.parametrize("name", FRECHET_CHECKS + IS_CHECKS + MMD_CHECKS)
def test_missing_function_is_named(name):
    earned, message = outcome(name, "x = 1\n")
    assert earned == 0 and "is not defined" in message


# ---------------------------------------------------------------------------------------------
# Wrong answers: each fails with its fault's message
# ---------------------------------------------------------------------------------------------


def frechet(cross: str, mean: str = "np.sum((mu1 - mu2) ** 2)", factor: str = "2") -> str:
    return f"""
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    cross = {cross}
    return float({mean} + np.trace(sigma1) + np.trace(sigma2) - {factor} * cross)
"""


EIG = "np.sqrt(np.linalg.eigvals(sigma1 @ sigma2).real.clip(min=0)).sum()"

FRECHET_WRONG = [
    # (check, answer, words of the message)
    ("test_frechet_distance", frechet(EIG, factor="1"), "lacks its factor 2"),
    # found by session 35's red team: numpy's * for @ (told only the formula), and the diagonals alone (told "close, but
    # off by more than the round-off", which sent the student after precision)
    ("test_frechet_distance", frechet("np.trace(scipy.linalg.sqrtm(sigma1 * sigma2).real)"), "entry by entry (numpy's * is not"),
    ("test_frechet_distance", frechet("np.sqrt(np.diag(sigma1) * np.diag(sigma2)).sum()"), "only the covariances' diagonals"),
    ("test_frechet_distance", frechet("np.trace(np.sqrt(sigma1 @ sigma2))"), "not the square root of each entry"),
    ("test_frechet_distance", frechet("np.trace(np.sqrt(sigma1) @ np.sqrt(sigma2))"), "not the square root of each entry"),
    ("test_frechet_distance", frechet("np.trace(scipy.linalg.sqrtm(sigma1) @ scipy.linalg.sqrtm(sigma2)).real"),
     "do not commute"),
    ("test_frechet_distance", frechet("np.sqrt(np.trace(sigma1 @ sigma2))"), "sqrt(tr(S1 S2)) is not"),
    ("test_frechet_distance", frechet(EIG, mean="np.linalg.norm(mu1 - mu2)"), "the mean term is not squared"),
    ("test_frechet_distance", frechet(EIG, mean="0"), "the mean term is missing"),
    ("test_frechet_distance", frechet(EIG, factor="-2"), "wrong sign"),
    # eigvalsh on the product, which is not symmetric (it reads one triangle), and singular values for eigenvalues
    ("test_frechet_distance", frechet("np.sqrt(np.linalg.eigvalsh(sigma1 @ sigma2).clip(min=0)).sum()"),
     "eigvalsh is for symmetric matrices"),
    ("test_frechet_distance", frechet("np.sqrt(np.linalg.eigvalsh(sigma1 @ sigma2, UPLO='U').clip(min=0)).sum()"),
     "S1 @ S2 is not symmetric"),
    ("test_frechet_distance_singular", frechet("np.sqrt(np.linalg.eigvalsh(sigma1 @ sigma2).clip(min=0)).sum()"),
     "eigvalsh is for symmetric matrices"),
    ("test_frechet_distance", frechet("np.sqrt(np.linalg.svd(sigma1 @ sigma2, compute_uv=False)).sum()"),
     "the singular values of S1 @ S2 are not its eigenvalues"),
    ("test_frechet_distance_singular", frechet("np.sqrt(np.linalg.eigvals(sigma1 @ sigma2).real).sum()"),
     "clip them at 0"),
    ("test_frechet_distance_singular", frechet("np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2))").replace("float(", "("),
     "take its .real"),
    ("test_frechet_distance_singular", frechet("np.trace(np.sqrt(sigma1 @ sigma2))"), "nan"),
    # the trace terms mixed up, the mean term averaged, and sqrtm's complex result made real by np.abs
    ("test_frechet_distance", frechet(EIG).replace("+ np.trace(sigma1) + np.trace(sigma2) - 2", "- np.trace(sigma1) - "
                                                   "np.trace(sigma2) + 2"), "signs swapped"),
    ("test_frechet_distance", frechet(EIG).replace("np.trace(sigma1) + np.trace(sigma2)", "np.trace(sigma1 @ sigma2)"),
     "not the trace of the product"),
    ("test_frechet_distance", frechet(EIG).replace("np.trace(sigma2)", "np.trace(sigma1)"), "counted twice"),
    ("test_frechet_distance", frechet(EIG, mean="np.mean((mu1 - mu2) ** 2)"), "mean of the squared differences"),
    ("test_frechet_distance", frechet("np.sqrt(np.trace(sigma1) * np.trace(sigma2))"), "sqrt(tr(S1) tr(S2)) is not"),
    ("test_frechet_distance_singular", frechet("np.trace(np.abs(scipy.linalg.sqrtm(sigma1 @ sigma2)))"),
     "since SciPy 1.18" if SQRTM_NAN else "np.abs of sqrtm's complex result"),  # 1.18: the nan comes first
    # an epsilon added to the caller's covariance in place (found by session 37's red team: it passed)
    ("test_frechet_distance", frechet(EIG).replace("    cross =", "    sigma1 += 1e-6 * np.eye(len(mu1))\n    cross ="),
     "changed its argument sigma1 in place"),
    # pytorch-fid's call without its unpacking: SciPy before 1.18 returns (root, error estimate), 1.18 refuses disp
    ("test_frechet_distance", frechet("np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2, disp=False)).real"),
     "returns the square root only"),
    # found by the lessons 05/08 red team: each told only the formula (the epsilon, on the singular case)
    ("test_frechet_distance", frechet("0"), "the cross term is missing"),
    ("test_frechet_distance_singular", frechet("0"), "the cross term is missing"),
    ("test_frechet_distance", frechet("np.sqrt(np.linalg.eigvalsh(sigma1) * np.linalg.eigvalsh(sigma2)).sum()"),
     "the eigenvalues of S1 and of S2 are paired one by one"),
    ("test_frechet_distance_singular", frechet("np.trace(scipy.linalg.sqrtm((sigma1 + 1e-3 * np.eye(len(mu1))) @ "
                                               "(sigma2 + 1e-3 * np.eye(len(mu1)))).real)"),
     "with 0.001 added to the covariances' diagonals"),  # positive definite then: sqrtm gives a root on any SciPy
    ("test_frechet_distance_singular", frechet("np.sqrt(np.linalg.eigvals((sigma1 + 1e-3 * np.eye(len(mu1))) @ "
                                               "(sigma2 + 1e-3 * np.eye(len(mu1)))).real.clip(min=0)).sum()"),
     "with 0.001 added to the covariances' diagonals"),
]


@pytest.mark.parametrize("name, source, words", FRECHET_WRONG)
def test_frechet_wrong_answers_name_their_fault(name, source, words):
    earned, message = outcome(name, source)
    assert earned == 0
    assert words in message, message


def test_a_route_that_needs_positive_definite_covariances_is_told_they_are_singular():
    """Cholesky factors give tr((S1 S2)^(1/2)) as the nuclear norm of L1^T L2, right for full-rank covariances; on the
    singular case np.linalg.cholesky raises, and the message says why instead of leaving the bare LinAlgError."""
    source = frechet("np.linalg.svd(np.linalg.cholesky(sigma1).T @ np.linalg.cholesky(sigma2), compute_uv=False).sum()")
    assert outcome("test_frechet_distance", source) == (1.0, "")
    earned, message = outcome("test_frechet_distance_singular", source)
    assert earned == 0 and "not positive definite" in message, message
    assert "a covariance here is singular (rank 5 of 12)" in message and "np.linalg.cholesky" in message, message
    assert "sqrtm returns nan" not in message, message


def test_frechet_in_float32_is_told_to_keep_float64():
    """The right formula computed in float32 misses the singular case by ~2e-4 of its scale: the message says why."""
    source = """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    s1, s2 = torch.tensor(sigma1, dtype=torch.float32), torch.tensor(sigma2, dtype=torch.float32)
    roots = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum()
    return float(((torch.tensor(mu1) - torch.tensor(mu2)) ** 2).sum() + s1.trace() + s2.trace() - 2 * roots)
"""
    earned, message = outcome("test_frechet_distance_singular", source)
    assert earned == 0 and "keep every step in float64" in message and "d^2 = ||mu1" not in message, message


def test_frechet_wrong_answer_fails_both_checks_without_a_known_fault():
    earned, message = outcome("test_frechet_distance", frechet(EIG, factor="3"))
    assert earned == 0 and "expected 27" in message and "d^2 = ||mu1 - mu2||^2" in message


def inception(body: str) -> str:
    return "def inception_score_from_probs(p_yx):\n    p_y = p_yx.mean(dim=0)\n" + textwrap.indent(textwrap.dedent(body), "    ")


KL = "(p_yx * (p_yx.log() - p_y.log())).sum(dim=1)"

IS_WRONG = [
    ("test_inception_score", inception(f"return {KL}.mean().item()"), "the exp is missing"),
    ("test_inception_score", inception("return (p_y * (p_y.log() - p_yx.log())).sum(dim=1).mean().exp().item()"),
     "the KL is reversed"),
    ("test_inception_score", inception("log_p_y = p_yx.log().mean(dim=0)\n"
                                       "return (p_yx * (p_yx.log() - log_p_y)).sum(dim=1).mean().exp().item()"),
     "instead of the log of the mean"),
    ("test_inception_score", inception("return (p_y * (p_y.log() - p_yx.mean(0).log())).sum().exp().item()"),
     "exactly 1"),
    ("test_inception_score", inception("p_y = p_yx.mean(dim=1, keepdim=True)\n"
                                       f"return {KL}.mean().exp().item()"), "not the uniform"),
    # found by session 35's red team: told only of averaging before the log
    ("test_inception_score", inception("p_y = p_yx\n" f"return {KL}.mean().exp().item()"), "p(y) is each image's own p(y|x)"),
    ("test_inception_score", inception(f"return {KL}.exp().mean().item()"), "mean of exp(KL)"),
    ("test_inception_score", inception(f"return {KL}.sum().exp().item()"), "summed over the images"),
    ("test_inception_score", inception("return (p_yx * (p_yx.log() - p_y.log())).mean().exp().item()"),
     "averaged over the classes too"),
    ("test_inception_score", inception("return (p_yx * (p_yx.log2() - p_y.log2())).sum(dim=1).mean().exp().item()"),
     "in bits"),
    # the KL's sign flipped (here as entropies, exp(mean H(y|x) - H(y))): the score is 1 / IS
    ("test_inception_score", inception("h_y = torch.special.entr(p_y).sum()\n"
                                       "h_yx = torch.special.entr(p_yx).sum(dim=1).mean()\n"
                                       "return (h_yx - h_y).exp().item()"), "that is 1 / IS"),
    # the probabilities taken for logits (the library's inception_score takes logits), and 10 splits' mean score
    ("test_inception_score", inception("p = p_yx.softmax(dim=1)\np_y = p.mean(dim=0)\n"
                                       "return (torch.xlogy(p, p) - torch.xlogy(p, p_y)).sum(dim=1).mean().exp().item()"),
     "probabilities already"),
    ("test_inception_score", inception("scores = [(torch.xlogy(q, q) - torch.xlogy(q, q.mean(0))).sum(1).mean().exp().item()\n"
                                       "          for q in p_yx.chunk(10)]\n"
                                       "return sum(scores) / len(scores)"), "mean score of 10 splits"),
    # p(y) taken per batch of images (any batch size): the score then depends on the images' order
    ("test_inception_score", inception("kls = [(torch.xlogy(q, q) - torch.xlogy(q, q.mean(0))).sum(1) for q in p_yx.split(10)]\n"
                                       "return torch.cat(kls).mean().exp().item()"), "must not depend on their order"),
    ("test_inception_score", inception("kls = [(torch.xlogy(q, q) - torch.xlogy(q, q.mean(0))).sum(1) for q in p_yx.split(32)]\n"
                                       "return torch.cat(kls).mean().exp().item()"), "per batch (or chunk) of images"),
    ("test_inception_score", inception("p_y = p_yx.sum(dim=0)\n"
                                       "return (torch.xlogy(p_yx, p_yx) - torch.xlogy(p_yx, p_y)).sum(1).mean().exp().item()"),
     "not their sum"),
    ("test_inception_score", inception("h_y = torch.special.entr(p_y).sum()\n"
                                       "return (h_y + torch.special.entr(p_yx).sum(dim=1).mean()).exp().item()"),
     "the conditional entropy is added"),
    ("test_inception_score", inception("return torch.special.entr(p_y).sum().exp().item()"), "the marginal's entropy alone"),
    ("test_inception_score_confident", inception(f"return {KL}.mean().exp().item()"), "0 * log(0)"),
    ("test_inception_score_confident", inception("p = p_yx.clamp_min(1e-12)\n"
                                                 "return (p_yx * (p.log() - p_y.log())).sum(dim=1).mean().exp().item()"),
     "also in log p(y)"),
    # an epsilon inside the logs: right where nothing is 0, a little off everywhere when some p are 0
    ("test_inception_score_confident", inception("eps = 1e-6\n"
                                                 "kl = (p_yx * ((p_yx + eps).log() - (p_y + eps).log())).sum(dim=1)\n"
                                                 "return kl.mean().exp().item()"), "log(p + 1e-06) in place of log p"),
    # found by the lessons 05/08 red team: p(y) over the classes' count (told only the formula); the number of images
    # written in and the argument clamped in place passed
    ("test_inception_score", inception("p_y = p_yx.sum(dim=0) / p_yx.shape[1]\n"
                                       "return (torch.xlogy(p_yx, p_yx) - torch.xlogy(p_yx, p_y)).sum(1).mean().exp().item()"),
     "divides the sum over the images by K = p_yx.shape[1]"),
    ("test_inception_score", inception("p_y = p_yx.sum(dim=0) / 40\n"
                                       "return (torch.xlogy(p_yx, p_yx) - torch.xlogy(p_yx, p_y)).sum(1).mean().exp().item()"),
     "right for 40 images and 10 classes but not for these sizes: is a size written into the code?"),
    ("test_inception_score_confident", inception("p_yx.clamp_(min=1e-12)\n"
                                                 f"return {KL}.mean().exp().item()"), "changed its argument p_yx in place"),
    # wrong without zeros too: the confident check says the zeros are not the cause (it said to look at them)
    ("test_inception_score_confident", inception("p_y = p_yx.sum(dim=0) / 40\n"
                                                 "return (torch.xlogy(p_yx, p_yx) - torch.xlogy(p_yx, p_y)).sum(1).mean().exp().item()"),
     "without zeros (every p(y|x) > 0) your score is 4.22172, expected 3.16629, so the zeros are not the cause"),
]


@pytest.mark.parametrize("name, source, words", IS_WRONG)
def test_inception_score_wrong_answers_name_their_fault(name, source, words):
    earned, message = outcome(name, source)
    assert earned == 0
    assert words in message, message


def mmd(kernel: str = "(a @ b.T / d + 1) ** 3", within: str = "(kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1))",
        cross: str = "2 * kxy.mean()") -> str:
    return f"""
def unbiased_mmd2(x, y):
    m, d = x.shape
    k = lambda a, b: {kernel}
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return {within} - {cross}
"""


MMD_WRONG = [
    (mmd(within="kxx.mean() + kyy.mean()"), "the biased estimate"),
    (mmd(within="(kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / m**2"), "divided by m^2"),
    (mmd(within="(kxx.sum() + kyy.sum()) / (m * (m - 1))"), "keep the diagonal"),
    (mmd(cross="kxy.mean()"), "lacks its factor 2"),
    # Gretton et al.'s MMD^2_u, also unbiased: named as such, not as a biased or wrong estimate
    (mmd(cross="2 * (kxy.sum() - kxy.trace()) / (m * (m - 1))"), "leaves out i = j: that is Gretton et al.'s MMD^2_u, unbiased too"),
    (mmd(kernel="(a @ b.T + 1) ** 3"), "lacks the 1/D"),
    (mmd(kernel="(a @ b.T / d) ** 3"), "lacks the + 1"),
    (mmd(kernel="(a @ b.T / d + 1) ** 2"), "quadratic"),
    (mmd(kernel="(a @ b.T / m + 1) ** 3"), "feature dimension D"),
    # operator precedence: `/ m * (m - 1)` divides by m and then multiplies by m - 1
    (mmd(within="(kxx.sum() - kxx.trace()) / m * (m - 1) + (kyy.sum() - kyy.trace()) / m * (m - 1)"),
     "put the product in parentheses"),
    (mmd(cross="2 / m * m * kxy.sum()"), "the cross term is summed, not averaged"),
    (mmd(kernel="a @ b.T / d + 1 ** 3"), "the kernel is not cubed"),
    # a triangle (i < j) of the within-set sums without its factor 2, and the cross term over m (m - 1)
    (mmd(within="(torch.triu(kxx, 1).sum() + torch.triu(kyy, 1).sum()) / (m * (m - 1))"), "count each pair once"),
    (mmd(cross="2 * kxy.sum() / (m * (m - 1))"), "divide it by m^2"),
    (mmd(kernel="(a @ b.T / d ** 0.5 + 1) ** 3"), "divides by sqrt(D)"),
    (mmd(kernel="(a @ b.T / x.numel() + 1) ** 3"), "x.numel() = m D"),
    (mmd(within="kxx.mean() - kxx.diagonal().mean() + kyy.mean() - kyy.diagonal().mean()"), "minus the mean of the diagonal"),
    # found by the lessons 05/08 red team: the first two told only the formula, the rest passed
    (mmd(within="(kxx.sum() - m + kyy.sum() - m) / (m * (m - 1))"), "as if k(x_i, x_i) = 1"),
    (mmd(cross="2 * (kxy.sum() - kxy.trace()) / m**2"), "leaves out i = j but still divides by m^2"),
    (mmd().replace("return ", "return max(0.0, float(") + "))\n", "max(0, ...) or a clamp at 0 biases the estimate"),
    (mmd().replace("return ", "return abs(float(") + "))\n", "abs(...) biases the estimate upwards"),
    (mmd().replace("m, d = x.shape", "m, d = 30, x.shape[1]"), "right for x, y of shape (30, 8) but not for these sizes"),
    (mmd().replace("m, d = x.shape", "m, d = x.shape\n    x /= d ** 0.5\n    y /= d ** 0.5").replace("/ d + 1", "+ 1"),
     "changed its arguments x and y in place"),
    # found by the lessons' false-positive red team: one within-set term biased, the other not, was told only the formula
    (mmd(within="(kxx.sum() - kxx.trace()) / (m * (m - 1)) + kyy.mean()"), "the y within-set term keeps its diagonal"),
    (mmd(within="kxx.mean() + (kyy.sum() - kyy.trace()) / (m * (m - 1))"), "the x within-set term keeps its diagonal"),
]


@pytest.mark.parametrize("source, words", MMD_WRONG)
def test_mmd_wrong_answers_name_their_fault(source, words):
    earned, message = outcome("test_unbiased_mmd2", source)
    assert earned == 0
    assert words in message, message


def test_a_returned_vector_is_refused_with_its_shape():
    earned, message = outcome("test_unbiased_mmd2", mmd(within="kxx.sum(0)"))
    assert earned == 0 and "returned a tensor of shape (30,)" in message


# ---------------------------------------------------------------------------------------------
# The lesson's source notebook: its answers pass, its student version fails with "not implemented"
# ---------------------------------------------------------------------------------------------

SOURCE = Path(__file__).resolve().parents[1] / "solutions" / "lessons" / "05_fid_and_inception_score.ipynb"
BEGIN, END = "### " + "BEGIN SOLUTION", "### " + "END SOLUTION"
PLACES = {"frechet_distance_gaussians": FRECHET_CHECKS, "inception_score_from_probs": IS_CHECKS, "unbiased_mmd2": MMD_CHECKS}


def source_cells() -> list[dict]:
    return json.loads(SOURCE.read_text())["cells"]


def place_sources() -> dict[str, str]:
    """{function: the source of the code-along cell that defines it}."""
    found = {}
    for cell in source_cells():
        text = "".join(cell["source"])
        for name in PLACES:
            if cell["cell_type"] == "code" and f"def {name}(" in text:
                found[name] = text
    return found


def as_student(text: str) -> str:
    """The cell as the student gets it: the solution region replaced by nbgrader's stub."""
    lines, out, inside = text.splitlines(), [], False
    for line in lines:
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) + "\n"


def test_the_source_notebooks_answers_pass_every_check():
    sources = place_sources()
    assert set(sources) == set(PLACES)
    for name, checks in PLACES.items():
        assert BEGIN in sources[name] and END in sources[name]
        for check_name in checks:
            assert outcome(check_name, sources[name]) == (1.0, ""), (name, check_name)


def test_the_student_versions_stubs_say_not_implemented():
    for name, source in place_sources().items():
        for check_name in PLACES[name]:
            earned, message = outcome(check_name, as_student(source))
            assert earned == 0 and f"`{name}` is not implemented yet" in message, message


def test_every_check_has_its_cell_right_after_its_place():
    """Each code-along cell is followed by one check cell per check, in the contract's form."""
    cells = [("".join(c["source"]), c["cell_type"]) for c in source_cells()]
    for name, checks in PLACES.items():
        at = next(i for i, (text, kind) in enumerate(cells) if kind == "code" and f"def {name}(" in text)
        following = [text for text, _ in cells[at + 1 : at + 1 + len(checks)]]
        assert following == [f'from reference.grading import grade\ngrade("lesson_05", "{c}", globals())' for c in checks]
    called = {c for text, kind in cells if kind == "code" for c in re.findall(r'grade\("lesson_05", "(\w+)"', text)}
    assert called == set(FRECHET_CHECKS + IS_CHECKS + MMD_CHECKS)


def test_the_source_is_committed_without_outputs():
    for cell in source_cells():
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        assert "execution" not in cell.get("metadata", {})


# ---------------------------------------------------------------------------------------------
# The lesson's figure functions draw from small inputs (the notebook and `lesson_05(out)` call them)
# ---------------------------------------------------------------------------------------------


def test_figure_functions_return_figures():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np
    import torch
    from matplotlib.figure import Figure

    from reference.figures import lesson_05 as figures

    gen = torch.Generator().manual_seed(0)
    features, labels = torch.rand(40, 8, generator=gen), torch.arange(40) % 10
    image = (torch.rand(1, 1, 28, 28, generator=gen) * 255).to(torch.uint8)
    drawn = [
        figures.feature_space(features, labels, "toy"),
        figures.corruption_examples(image),
        figures.what_moves_fid([1.0, 2, 3, 4, 5, 6], [1.0, 2, 3, 4, 5, 6], [1.0, 2, 3, 4, 5, 6], 1.0, 40, "toy"),
        figures.sample_size_bias([10, 20, 40], np.ones((3, 2)), np.zeros((3, 2)), 8, "toy"),
        figures.is_blind_spots({"a": (9.5, 1.0), "b": (10.0, 50.0)}, 40),
        figures.memorization({"held": (1.0, 0.01, 100.0, 1.0), "copies of training images": (1.0, 0.0, 1e14, 1e14)},
                             {"held": torch.rand(40, generator=gen) * 0.1, "copies of training images": torch.zeros(40)},
                             0.005, 40, 100),
    ]
    try:
        assert all(isinstance(fig, Figure) for fig in drawn)
        assert [len(fig.axes) for fig in drawn] == [2, 12, 3, 2, 2, 2]  # the scatter has its colorbar
    finally:
        for fig in drawn:
            plt.close(fig)


def test_frechet_eigvalsh_of_the_symmetrized_product_is_named():
    """Found by the lessons 05-08 red team: told that eigvalsh needs a symmetric matrix, a student symmetrizes S1 S2
    as (S1 S2 + (S1 S2)^T) / 2, whose eigenvalues are others; that was told only the formula."""
    source = HEADER + """
def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2):
    a = sigma1 @ sigma2
    eigenvalues = np.linalg.eigvalsh((a + a.T) / 2).clip(min=0)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(eigenvalues).sum())
"""
    ns = {"__name__": "__main__"}
    exec(compile(source, "<cell>", "exec"), ns)
    earned, message = run_check(lesson_05.test_frechet_distance, LocalSubmission(ns))
    assert earned == 0 and "(S1 S2 + S2 S1) / 2" in message and "S1^(1/2) S2 S1^(1/2)" in message, message
