"""The a1 autograder gives the right score and message to right and wrong code.

Each submission is the solution notebook with some of its code cells replaced (grade ids "theory":
d_star and cost_and_jsd; "divergences": kl_on_grid and jsd_on_grid; "losses"; "frechet"), graded like a student's notebook (the solution, the
student version and the answers taken from the library: its cells in the sandboxed worker, the
checks of tests/autograders/test_a1_theory.py here, across the proxy). The
functions are checked independently, so one notebook carries a d_loss, a g_loss and a
frechet_distance, each right or with its own mistake (graded in this process, `graded_here`: the
sandbox gives the same results, test_the_sandbox_grades_like_this_process shows it on a sample); the wrong theory cells (p_data and p_g
swapped in D*, a missing log, sums without the grid step, a flipped sign, the JSD in bits or derived
from the identity...) are graded with the other cells right. An answer taken from the course
library (reference.losses, reference.metrics.fid) scores 0 when graded, and the visible checks say
so in the student's kernel. (The written answers are graded by hand.)
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import graded_here, notebook_with_cells, visible_results
from reference.grading import probes, probes_a1
from reference.grading.checks import SQRTM_ARGS
from reference.grading.local import load_module
from reference.grading.runner import grade_notebook
from sandbox_support import needs_sandbox

A = "a1_theory"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
THEORY = {
    "test_d_star_is_the_optimal_discriminator": 2.0,
    "test_cost_is_v_at_d_star": 2.0,
    "test_jsd_from_its_definition": 2.0,
    "test_cost_and_jsd_on_other_grids": 2.0,
}
DIVERGENCES = {
    "test_kl_on_grid_matches_the_closed_form": 2.0,
    "test_jsd_on_grid_properties": 2.0,
}
FULL = {
    **THEORY,
    **DIVERGENCES,
    "test_d_loss_matches_minimax": 2.0,
    "test_d_loss_finite_at_logits_of_100": 1.0,
    "test_g_loss_matches_minimax": 2.0,
    "test_g_loss_finite_at_logits_of_100": 1.0,
    "test_frechet_distance_matches_reference": 2.0,
    "test_frechet_distance_properties": 2.0,
}
OK = {name: (points, "") for name, points in FULL.items()}
THEORY_OK = {name: OK[name] for name in THEORY}


def submission(tmp_path: Path, **cells: str) -> Path:
    """The solution notebook with the cells of these grade ids ("theory", "divergences", "losses", "frechet") replaced."""
    return notebook_with_cells(SOLUTION, tmp_path, {k: textwrap.dedent(v).strip("\n") for k, v in cells.items()})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    """An honest submission's results, graded in this process."""
    return graded_here(path, A)


def sandboxed(path: Path) -> dict[str, tuple[float, str]]:
    """The results of `gan-course autograde`: cells in the sandboxed worker, checks across the proxy."""
    return grade_notebook(path, A, ROOT)


def function_of(check: str) -> str:
    """The function a check grades: "d_star", "cost_and_jsd", "kl_on_grid", "jsd_on_grid" (the first each check
    calls), "d_loss", "g_loss" or "frechet_distance"."""
    if check in DIVERGENCES:
        return "kl_on_grid" if "kl_on" in check else "jsd_on_grid"
    if check in THEORY:
        return "d_star" if "d_star_is" in check else "cost_and_jsd"
    return "frechet_distance" if "frechet" in check else check.removeprefix("test_")[:6]


def test_the_points_add_up_to_the_first_cells_22():
    assert sum(FULL.values()) == 22.0 and sum(THEORY.values()) == 8.0 and sum(DIVERGENCES.values()) == 4.0


def test_solution_scores_full_marks():
    assert sandboxed(SOLUTION) == OK


def test_unmodified_student_version_scores_zero_on_every_check():
    todo = "`{}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    assert sandboxed(STUDENT) == {name: (0.0, todo.format(function_of(name))) for name in FULL}


# ---------------------------------------------------------------------------------------------
# Right answers, written in the ways students write them
# ---------------------------------------------------------------------------------------------

CORRECT = {
    "bce_with_logits_and_scipy_sqrtm_on_numpy": {
        "theory": """
            import numpy as np
            from scipy import integrate, stats

            def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
                p = stats.norm(mu_data, sigma_data).pdf(np.asarray(x))
                q = stats.norm(mu_g, sigma_g).pdf(np.asarray(x))
                return p / (p + q)

            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                # numpy floats from Simpson's rule
                x = np.asarray(x)
                p, q = stats.norm(mu_data, sigma_data).pdf(x), stats.norm(mu_g, sigma_g).pdf(x)
                d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
                cost = integrate.simpson(p * np.log(d) + q * np.log(1 - d), x=x)
                m = (p + q) / 2
                kl_pm = integrate.simpson(p * np.log(p / m), x=x)
                kl_qm = integrate.simpson(q * np.log(q / m), x=x)
                return cost, (kl_pm + kl_qm) / 2
        """,
        "losses": """
            def d_loss(real_logits, fake_logits):
                real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
                return real + fake

            def g_loss(fake_logits):
                return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        """,
        "frechet": """
            import numpy as np
            from scipy import linalg

            def frechet_distance(mu1, sigma1, mu2, sigma2):
                mu1, sigma1, mu2, sigma2 = (np.asarray(t) for t in (mu1, sigma1, mu2, sigma2))
                diff = mu1 - mu2
                covmean = linalg.sqrtm(sigma1 @ sigma2).real
                return diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
        """,
    },
    "logsigmoid_and_symmetric_eigh_form": {
        "theory": """
            def density(x, mu, sigma):
                return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

            def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                return p / (p + q)

            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                # Riemann sums; one tensor of the two numbers (it unpacks like a tuple)
                dx = x[1] - x[0]
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
                cost = torch.sum(p * torch.log(d) + q * torch.log(1 - d)) * dx
                m = 0.5 * (p + q)
                jsd = 0.5 * torch.sum(p * torch.log(p / m)) * dx + 0.5 * torch.sum(q * torch.log(q / m)) * dx
                return torch.stack([cost, jsd])
        """,
        "losses": """
            def d_loss(real_logits, fake_logits):
                return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())

            def g_loss(fake_logits):
                return F.logsigmoid(-fake_logits).mean()
        """,
        "frechet": """
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                # tr((S1^1/2 S2 S1^1/2)^1/2) = tr((S1 S2)^1/2), from symmetric eigendecompositions
                w, v = torch.linalg.eigh(sigma1)
                root1 = v @ torch.diag(w.clamp(min=0).sqrt()) @ v.T
                inner = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
                return ((mu1 - mu2) ** 2).sum() + torch.trace(sigma1) + torch.trace(sigma2) - 2 * inner
        """,
    },
    "explicit_stable_formula_and_nuclear_norm": {
        "theory": """
            def log_density(x, mu, sigma):
                return -((x - mu) ** 2) / (2 * sigma ** 2) - math.log(sigma) - 0.5 * math.log(2 * math.pi)

            def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
                # in log space: p / (p + q) = exp(log p - log(p + q))
                lp, lq = log_density(x, mu_data, sigma_data), log_density(x, mu_g, sigma_g)
                return torch.exp(lp - torch.logaddexp(lp, lq))

            def kl(log_a, log_b, x):
                return torch.trapezoid(log_a.exp() * (log_a - log_b), x)

            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                lp, lq = log_density(x, mu_data, sigma_data), log_density(x, mu_g, sigma_g)
                log_sum = torch.logaddexp(lp, lq)
                cost = torch.trapezoid(lp.exp() * (lp - log_sum) + lq.exp() * (lq - log_sum), x)
                log_m = log_sum - math.log(2)
                return cost.item(), (0.5 * kl(lp, log_m, x) + 0.5 * kl(lq, log_m, x)).item()
        """,
        "losses": """
            def softplus(x):
                # log(1 + e^x) without overflow: max(x, 0) + log(1 + e^-|x|)
                return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

            def d_loss(real_logits, fake_logits):
                return softplus(-real_logits).mean() + softplus(fake_logits).mean()

            def g_loss(fake_logits):
                return -torch.logaddexp(torch.zeros_like(fake_logits), fake_logits).mean()
        """,
        "frechet": """
            import numpy as np

            def sqrtm_psd(s):
                w, v = np.linalg.eigh(s)
                return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

            def frechet_distance(mu1, sigma1, mu2, sigma2):
                # tr((S1 S2)^1/2) is the nuclear norm of S1^1/2 S2^1/2
                s1, s2 = sigma1.numpy(), sigma2.numpy()
                cross = np.linalg.norm(sqrtm_psd(s1) @ sqrtm_psd(s2), ord="nuc")
                return float(np.sum((mu1.numpy() - mu2.numpy()) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)
        """,
    },
}

# round 3: the JSD as entropies, H(m) - (H(p_data) + H(p_g)) / 2 with scipy's xlogy; CS231n's stable bce_loss;
# pytorch-fid's frechet_distance copied (numpy, its non-finite and complex guards; without disp=False, which SciPy 1.18 removes)
CORRECT["entropy_form_cs231n_bce_pytorch_fid"] = {
    "theory": """
        import numpy as np
        from scipy import integrate, special, stats

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            x = x.numpy()
            return special.expit(stats.norm.logpdf(x, mu_data, sigma_data) - stats.norm.logpdf(x, mu_g, sigma_g))

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            xn = x.numpy()
            p, q = stats.norm.pdf(xn, mu_data, sigma_data), stats.norm.pdf(xn, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = integrate.trapezoid(special.xlogy(p, d) + special.xlogy(q, 1 - d), xn)

            def entropy(f):
                return -integrate.trapezoid(special.xlogy(f, f), xn)

            return cost, entropy((p + q) / 2) - (entropy(p) + entropy(q)) / 2
    """,
    "losses": """
        def bce_loss(input, target):
            neg_abs = -input.abs()
            loss = input.clamp(min=0) - input * target + (1 + neg_abs.exp()).log()
            return loss.mean()

        def d_loss(real_logits, fake_logits):
            return bce_loss(real_logits, torch.ones_like(real_logits)) + bce_loss(fake_logits, torch.zeros_like(fake_logits))

        def g_loss(fake_logits):
            return -bce_loss(fake_logits, torch.zeros_like(fake_logits))
    """,
    "frechet": """
        import numpy as np
        from scipy import linalg

        def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
            mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
            sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
            diff = mu1 - mu2
            covmean = linalg.sqrtm(sigma1.dot(sigma2))
            if not np.isfinite(covmean).all():
                offset = np.eye(sigma1.shape[0]) * eps
                covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
            if np.iscomplexobj(covmean):
                covmean = covmean.real
            return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
    """,
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, **CORRECT[name])) == OK


# ---------------------------------------------------------------------------------------------
# Wrong answers: each mistake gets its own message
# ---------------------------------------------------------------------------------------------

STABLE = (
    "sigmoid(x) rounds to exactly 1 for large x (beyond about 17 in float32, 37 in float64: converting to float64 does "
    "not help) and, in float32, to 0 for x below about -88, where exp overflows to inf, so log(sigmoid(x)), "
    "log(1 - sigmoid(x)) and log(1 + exp(x)) become infinite (or log(eps) when an eps is added); work on the logits "
    "with functions made for it: -log D = F.softplus(-x), -log(1 - D) = F.softplus(x) (or F.logsigmoid)"
)
SATURATED = (
    "sigmoid(x) is flat there (its slope is below 1e-43, in float64 too) and exp(x) overflows in float32, so a loss "
    "built on them gets a wrong or NaN gradient even when its value is kept in range (F.binary_cross_entropy, clamp, "
    "an eps, or torch.where, whose unused branch still sends inf * 0 = NaN back); work on the logits with F.softplus "
    "or F.logsigmoid"
)
NEGATED_D = (
    "it is the negative of D's loss: you return V(D, G) = mean(log D(x)) + mean(log(1 - D(G(z)))), which D "
    "maximises; d_loss is what D minimises, -V (>= 0)"
)
HALF_D = (
    "it is exactly half the expected value: you average the real and fake terms ((loss_real + loss_fake) / 2, as "
    "DeepLearning.AI's course and d2l do); this task sums the two means: mean(-log D(x)) + mean(-log(1 - D(G(z))))"
)
POOLED_D = (
    "it is one mean over both batches together (binary cross-entropy on torch.cat of the logits, or the two sums divided "
    "by N + M); this task sums the "
    "two means, mean(-log D(x)) + mean(-log(1 - D(G(z)))), one per batch: N real and M fake logits weigh the same "
    "only when N = M"
)
FAKE_AS_REAL = (
    "the fake term labels the fakes as real: on D(G(z)) the loss is -log(1 - D(G(z))) = F.softplus(logit), i.e. "
    "binary cross-entropy with target 0 (torch.zeros_like), not 1"
)
REAL_AS_FAKE = (
    "the real term labels the real images as fake: on D(x) the loss is -log D(x) = F.softplus(-logit), i.e. binary "
    "cross-entropy with target 1 (torch.ones_like), not 0"
)
SWAPPED = (
    "the targets are swapped: real images get target 1 (-log D(x)) and fakes target 0 (-log(1 - D(G(z)))); or the "
    "arguments are: d_loss is called as d_loss(real_logits, fake_logits), in that order"
)
MISSING_FAKE = "the fake term is missing: D also learns from G's samples, + mean(-log(1 - D(G(z)))) = F.softplus(fake_logits).mean()"
HALF_G = "it is exactly half the expected value: G minimises mean(log(1 - D(G(z)))), with no factor 1/2"
TWICE_POOLED_D = (
    "it is twice one mean over both batches together, which equals the sum of the two means only when there are as "
    "many real as fake logits (N = M); take each batch's mean: mean(-log D(x)) + mean(-log(1 - D(G(z))))"
)
ELEMENTWISE_D = (
    "calling `d_loss` raised RuntimeError: The size of tensor a ({}) must match the size of tensor b ({}) at "
    "non-singleton dimension 0: real_logits (N,) and fake_logits (M,) may have different lengths, so they cannot be "
    "added elementwise; take each term's mean on its own, mean(-log D(x)) + mean(-log(1 - D(G(z))))"
)
NON_SATURATING = "that is the non-saturating loss -log D(G(z)); this task asks for the minimax one"
NEGATED_G = (
    "it is the negative of G's loss: you return mean(-log(1 - D(G(z)))) (binary cross-entropy with target 0), D's "
    "loss on the fakes; G minimises mean(log(1 - D(G(z)))) (<= 0)"
)
LOG_D = "that is mean(log D(G(z))), the non-saturating loss negated; this task asks for the minimax loss mean(log(1 - D(G(z))))"
ELEMENTWISE = "(S1 S2)^(1/2) is a matrix square root (e.g. from the eigenvalues of S1 S2), not an elementwise sqrt"
ONE_TRIANGLE = (
    "eigvalsh (and eigh) take a symmetric matrix and read only one triangle of it, but S1 S2 is not symmetric: use "
    "torch.linalg.eigvals(S1 @ S2).real, or eigvalsh of the symmetric S1^(1/2) S2 S1^(1/2), which has the same eigenvalues"
)
SMOOTHED = (
    "the real images' target is 0.9 (one-sided label smoothing), not 1: this task's loss is mean(-log D(x)) + "
    "mean(-log(1 - D(G(z)))), targets 1 for real and 0 for fake"
)
NOT_ONE_TENSOR = "{} returned {}; return one 0-dim torch tensor, the loss, so that loss.backward() works"
INTEGER_TARGETS = (
    "calling `{}` raised RuntimeError: {}: binary cross-entropy's targets are integers (torch.ones(n, dtype=torch.long), "
    "or labels 1 and 0 kept as ints); they are probabilities, floats like the logits: torch.ones_like(logits) and "
    "torch.zeros_like(logits) (or .float())"
)
TARGET_SHAPE = (
    "calling `g_loss` raised ValueError: Target size (torch.Size([{0}, 1])) must be the same as input size "
    "(torch.Size([{0}])): the targets and the logits differ in shape (a D that returns (N, 1) against targets (N,), or "
    "the reverse, or targets made for another batch size, torch.ones(64) for a batch of 16): build the targets from the "
    "logits, torch.ones_like(logits) and torch.zeros_like(logits), or have D return (N,) with .view(-1)"
)
SVDVALS = (
    "the singular values of S1 S2 are not its eigenvalues (S1 S2 is not symmetric): take the square roots of the "
    "eigenvalues, torch.linalg.eigvals(S1 @ S2).real, or the singular values of S1^(1/2) S2^(1/2) themselves (its "
    "nuclear norm is tr((S1 S2)^(1/2)))"
)
COMPLEX = (
    "frechet_distance returned a complex number (Tensor); return a real one: the eigenvalues of S1 S2 are real up to "
    "round-off, so take their .real (torch.linalg.eigvals and scipy.linalg.sqrtm return complex numbers)"
)


def fd(value: str, want: str, hint: str, d: int = 2) -> str:
    return f"frechet_distance of two {d}-D Gaussians is {value}; expected {want}: {hint}"


WRONG = {
    "negated_d_non_saturating_g_elementwise_sqrt": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    # V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))]
                    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()

                def g_loss(fake_logits):
                    return F.softplus(-fake_logits).mean()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    covmean = torch.sqrt(sigma1 @ sigma2)
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * covmean.trace())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = -3.34467 on seeded logits; expected 3.34467: {NEGATED_D}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is -200; expected 200: {NEGATED_D}"),
            "test_g_loss_matches_minimax": (0.0, f"g_loss(fake) = 0.918298 on seeded logits; expected -1.24656: {NON_SATURATING}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is 0; expected -100: {NON_SATURATING}"),
            "test_frechet_distance_matches_reference": (0.0, fd("4.56322", "5.18435", ELEMENTWISE)),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = -1.57279; expected 0; with equal covariances frechet_distance = 16.2864; "
                "expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "averaged_d_bce_zeros_g_missing_factor_2": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
                    return (real_loss + fake_loss) / 2

                def g_loss(fake_logits):
                    return F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - eigenvalues.sqrt().sum())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 1.67233 on seeded logits; expected 3.34467: {HALF_D}"),
            "test_g_loss_matches_minimax": (0.0, f"g_loss(fake) = 1.24656 on seeded logits; expected -1.24656: {NEGATED_G}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is 100; expected -100: {NEGATED_G}"),
            "test_frechet_distance_matches_reference": (
                0.0, fd("6.35273", "5.18435", "the cross term is subtracted once; it is -2 tr((S1 S2)^(1/2)), with the factor 2"),
            ),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = 1.80356; expected 0; with equal covariances frechet_distance = 19.6627; "
                "expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "one_mean_over_both_batches_log_d_unsquared_mean_term": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    logits = torch.cat([real_logits, fake_logits])
                    labels = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
                    return F.binary_cross_entropy_with_logits(logits, labels)

                def g_loss(fake_logits):
                    return torch.log(torch.sigmoid(fake_logits)).mean()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    return float(torch.linalg.norm(mu1 - mu2) + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 1.72263 on seeded logits; expected 3.34467: {POOLED_D}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is 100; expected 200: {POOLED_D}"),
            "test_g_loss_matches_minimax": (0.0, f"g_loss(fake) = -0.918298 on seeded logits; expected -1.24656: {LOG_D}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is 0; expected -100: {LOG_D}"),
            "test_frechet_distance_matches_reference": (
                0.0, fd("2.32695", "5.18435", "the mean term is not squared: use ||mu1 - mu2||^2, the sum of the squared "
                        "differences, not the norm ||mu1 - mu2||"),
            ),
            "test_frechet_distance_properties": (1.0, "with equal covariances frechet_distance = 4.22601; expected ||mu1 - mu2||^2 = 17.8591"),
        },
    ),
    "fakes_labelled_real_summed_g_separate_roots": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
                    return real_loss + fake_loss

                def g_loss(fake_logits):
                    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction="sum")
            """,
            "frechet": """
                import numpy as np
                from scipy import linalg

                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    root1, root2 = linalg.sqrtm(sigma1.numpy()).real, linalg.sqrtm(sigma2.numpy()).real
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace()) - 2 * float(np.trace(root1 @ root2))
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 3.14438 on seeded logits; expected 3.34467: {FAKE_AS_REAL}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits +100, fake logits -100 is 100; expected 0: {FAKE_AS_REAL}"),
            "test_g_loss_matches_minimax": (
                0.0, "g_loss(fake) = -19.945 on seeded logits; expected -1.24656: it is the sum over the batch, not the mean: take the mean",
            ),
            "test_g_loss_finite_at_logits_of_100": (
                0.0, "g_loss at fake logits +100 is -400; expected -100: it is the sum over the batch, not the mean: take the mean",
            ),
            "test_frechet_distance_matches_reference": (
                0.0, fd("5.18688", "5.18435", "tr(S1^(1/2) S2^(1/2)) is not tr((S1 S2)^(1/2)) (S1 and S2 do not commute): "
                        "take the square root of the product, e.g. from the eigenvalues of S1 S2"),
            ),
            "test_frechet_distance_properties": (2.0, ""),  # equal covariances commute: the properties hold
        },
    ),
    "swapped_targets_naive_log_g_sqrt_of_trace": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.zeros_like(real_logits))
                    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
                    return real_loss + fake_loss

                def g_loss(fake_logits):
                    return torch.log(1 - torch.sigmoid(fake_logits)).mean()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * torch.sqrt(torch.trace(sigma1 @ sigma2)))
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 1.81054 on seeded logits; expected 3.34467: {SWAPPED}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits +100, fake logits -100 is 200; expected 0: {SWAPPED}"),
            "test_g_loss_matches_minimax": (2.0, ""),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is -inf; expected -100: {STABLE}"),
            "test_frechet_distance_matches_reference": (
                0.0, fd("5.42905", "5.18435", "sqrt(tr(S1 S2)) is not tr((S1 S2)^(1/2)): the trace of the matrix square "
                        "root is the sum of the square roots of the eigenvalues of S1 S2"),
            ),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = 1.26889; expected 0; with equal covariances frechet_distance = 19.128; "
                "expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "reals_labelled_fake_eps_in_g_final_sqrt": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.zeros_like(real_logits))
                    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
                    return real_loss + fake_loss

                def g_loss(fake_logits):
                    return torch.log(1 - torch.sigmoid(fake_logits) + 1e-8).mean()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    d2 = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum()
                    return float(d2.sqrt())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 2.01083 on seeded logits; expected 3.34467: {REAL_AS_FAKE}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits +100, fake logits -100 is 100; expected 0: {REAL_AS_FAKE}"),
            "test_g_loss_matches_minimax": (2.0, ""),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is -18.4207; expected -100: {STABLE}"),
            "test_frechet_distance_matches_reference": (
                0.0, fd("2.27692", "5.18435", "that is the square root of the expected value: return the squared distance "
                        "d^2 itself, as FID does, without a final sqrt"),
            ),
            "test_frechet_distance_properties": (1.0, "with equal covariances frechet_distance = 4.22601; expected ||mu1 - mu2||^2 = 17.8591"),
        },
    ),
    "detached_fakes_item_in_g_elementwise_roots": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    # D must not change G: detach the fakes
                    return F.softplus(-real_logits).mean() + F.softplus(fake_logits.detach()).mean()

                def g_loss(fake_logits):
                    return (-F.softplus(fake_logits).mean()).item()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    covmean = torch.sqrt(sigma1) @ torch.sqrt(sigma2)
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * covmean.trace())
            """,
        },
        {
            "test_d_loss_matches_minimax": (
                0.0, "d_loss's gradient does not reach fake_logits: a .detach() (or a tensor rebuilt from numbers) cuts the "
                "graph, so D could not learn from those logits; to keep G out of D's step, detach G(z) before D sees it, not D's logits",
            ),
            "test_d_loss_finite_at_logits_of_100": (
                0.0, "d_loss's gradient does not reach fake_logits: a .detach() (or a tensor rebuilt from numbers) cuts the "
                "graph, so D could not learn from those logits; to keep G out of D's step, detach G(z) before D sees it, not D's logits",
            ),
            "test_g_loss_matches_minimax": (0.0, "g_loss returned float; return a torch tensor (no .item()), so that loss.backward() works"),
            "test_g_loss_finite_at_logits_of_100": (0.0, "g_loss returned float; return a torch tensor (no .item()), so that loss.backward() works"),
            "test_frechet_distance_matches_reference": (0.0, fd("3.37173", "5.18435", ELEMENTWISE)),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = -7.19827; expected 0; with equal covariances frechet_distance = 10.6609; "
                "expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "naive_logs_in_d_no_mean_in_g_no_sum_in_frechet": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits)
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    return (mu1 - mu2) ** 2 + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum()
            """,
        },
        {
            "test_d_loss_matches_minimax": (2.0, ""),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is inf; expected 200: {STABLE}"),
            "test_g_loss_matches_minimax": (0.0, "g_loss returned shape (16,); expected a scalar: take the mean over the batch"),
            "test_g_loss_finite_at_logits_of_100": (0.0, "g_loss returned shape (4,); expected a scalar: take the mean over the batch"),
            "test_frechet_distance_matches_reference": (
                0.0, "frechet_distance returned shape (2,); expected one number (a float or a 0-dim tensor): sum over the dimensions",
            ),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance returned shape (5,); expected one number (a float or a 0-dim tensor): sum over the dimensions",
            ),
        },
    ),
    "eps_in_d_no_grad_g_eigvalsh_of_a_product": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    eps = 1e-8
                    return -(torch.log(torch.sigmoid(real_logits) + eps).mean() + torch.log(1 - torch.sigmoid(fake_logits) + eps).mean())

                def g_loss(fake_logits):
                    with torch.no_grad():
                        return -F.softplus(fake_logits).mean()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvalsh(sigma1 @ sigma2).clamp(min=0)  # S1 S2 is not symmetric
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
            """,
        },
        {
            "test_d_loss_matches_minimax": (2.0, ""),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is 36.8414; expected 200: {STABLE}"),
            "test_g_loss_matches_minimax": (0.0, "g_loss carries no gradient (was it detached?); G could not learn from it"),
            "test_g_loss_finite_at_logits_of_100": (0.0, "g_loss carries no gradient (was it detached?); G could not learn from it"),
            "test_frechet_distance_matches_reference": (
                0.0, fd("4.9782", "5.18435", ONE_TRIANGLE),
            ),
            "test_frechet_distance_properties": (1.0, "frechet_distance is not symmetric: 18.0837 one way, 17.8553 the other"),
        },
    ),
    "bce_on_sigmoid_outputs_complex_eigenvalues": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real_loss = F.binary_cross_entropy(torch.sigmoid(real_logits), torch.ones_like(real_logits))
                    fake_loss = F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits))
                    return real_loss + fake_loss

                def g_loss(fake_logits):
                    return -F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits))
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    trace_sqrt = torch.linalg.eigvals(sigma1 @ sigma2).sqrt().sum()
                    return (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
            """,
        },
        {
            "test_d_loss_matches_minimax": (2.0, ""),
            "test_d_loss_finite_at_logits_of_100": (
                0.0, f"d_loss is right at real logits -100, fake logits +100 but its gradient is not: d d_loss / d real_logits "
                f"= 0 per logit; expected -0.25: {SATURATED}",
            ),
            "test_g_loss_matches_minimax": (2.0, ""),
            "test_g_loss_finite_at_logits_of_100": (
                0.0, f"g_loss is right at fake logits +100 but its gradient is not: d g_loss / d fake_logits = 0 per logit; "
                f"expected -0.25: {SATURATED}",
            ),
            "test_frechet_distance_matches_reference": (0.0, COMPLEX),
            "test_frechet_distance_properties": (0.0, COMPLEX),
        },
    ),
    "missing_returns": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits).mean()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    value = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum()
            """,
        },
        {
            **OK,
            "test_d_loss_matches_minimax": (0.0, "d_loss returned None (is its return missing?); return the loss as a torch tensor"),
            "test_d_loss_finite_at_logits_of_100": (0.0, "d_loss returned None (is its return missing?); return the loss as a torch tensor"),
            "test_frechet_distance_matches_reference": (
                0.0, "frechet_distance returned None (is its return missing?); return the distance as a number",
            ),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance returned None (is its return missing?); return the distance as a number",
            ),
        },
    ),
    "log1p_of_exp_in_d_where_softplus_in_g": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    # log(1 + e^t) as written: exact in float64, inf in float32 once e^t overflows
                    return torch.log1p(torch.exp(-real_logits)).mean() + torch.log1p(torch.exp(fake_logits)).mean()

                def softplus(t):
                    # the right value on each side, but the branch torch.where drops still overflows
                    return torch.where(t > 0, t + torch.log1p(torch.exp(-t)), torch.log1p(torch.exp(t)))

                def g_loss(fake_logits):
                    return -softplus(fake_logits).mean()
            """,
        },
        {
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is inf; expected 200: {STABLE}"),
            "test_g_loss_finite_at_logits_of_100": (
                0.0, f"g_loss is right at fake logits +100 but its gradient is not: d g_loss / d fake_logits = nan per "
                f"logit; expected -0.25: {SATURATED}",
            ),
        },
    ),
    "fake_term_missing_in_d_halved_g": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    return F.softplus(-real_logits).mean()

                def g_loss(fake_logits):
                    return -0.5 * F.softplus(fake_logits).mean()
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 2.02444 on seeded logits; expected 3.34467: {MISSING_FAKE}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss on seeded moderate logits is wrong: {MISSING_FAKE}"),
            "test_g_loss_matches_minimax": (0.0, f"g_loss(fake) = -0.623281 on seeded logits; expected -1.24656: {HALF_G}"),
        },
    ),
    "twice_one_mean_over_both_batches_in_d_log_of_one_plus_exp_in_g": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    logits = torch.cat([real_logits, fake_logits])
                    targets = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
                    return 2 * F.binary_cross_entropy_with_logits(logits, targets)  # the sum of the two means?

                def g_loss(fake_logits):
                    return -torch.log(1 + torch.exp(fake_logits)).mean()
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 3.44527 on seeded logits; expected 3.34467: {TWICE_POOLED_D}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss on seeded moderate logits is wrong: {TWICE_POOLED_D}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is -inf; expected -100: {STABLE}"),
        },
    ),
    "terms_added_elementwise_in_d": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    return (F.softplus(-real_logits) + F.softplus(fake_logits)).mean()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits).mean()
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, ELEMENTWISE_D.format(16, 12)),
            "test_d_loss_finite_at_logits_of_100": (0.0, ELEMENTWISE_D.format(4, 3)),
        },
    ),
}


WRONG.update({
    "in_place_squeeze_on_the_logits": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    # D's outputs are (N, 1): squeeze them in place
                    real_logits.squeeze_()
                    fake_logits.squeeze_()
                    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits.squeeze_()).mean()
            """,
        },
        {},  # in training the logits are D's outputs, on which in-place operations work: right
    ),
    "naive_logs_in_float64_in_d_right_ones_in_g_and_frechet": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    # float64, so that sigmoid does not round? 1 - sigmoid(100) is 0 in float64 too
                    r, f = real_logits.double(), fake_logits.double()
                    return -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()

                def g_loss(fake_logits):
                    # log(1 - D) = log(sigmoid(-logit)): finite at +-100 in float64, sigmoid(-100) = 3.7e-44
                    return torch.log(torch.sigmoid(-fake_logits.double())).mean()
            """,
            "frechet": """
                import numpy as np
                from scipy import linalg

                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    # pytorch-fid's calculate_frechet_distance
                    covmean = linalg.sqrtm(sigma1.numpy().dot(sigma2.numpy()))
                    if np.iscomplexobj(covmean):
                        covmean = covmean.real
                    diff = mu1.numpy() - mu2.numpy()
                    return diff.dot(diff) + np.trace(sigma1.numpy()) + np.trace(sigma2.numpy()) - 2 * np.trace(covmean)
            """,
        },
        {"test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is inf; expected 200: {STABLE}")},
    ),
    "smoothed_real_labels_tuple_from_g_cross_term_added": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 0.9))
                    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
                    return real + fake

                def g_loss(fake_logits):
                    loss = -F.softplus(fake_logits).mean()
                    return loss, torch.sigmoid(fake_logits).mean()  # and D(G(z)), to log
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() + 2 * eigenvalues.sqrt().sum())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 3.21128 on seeded logits; expected 3.34467: {SMOOTHED}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits +100, fake logits -100 is 10; expected 0: {SMOOTHED}"),
            "test_g_loss_matches_minimax": (0.0, NOT_ONE_TENSOR.format("g_loss", "tuple")),
            "test_g_loss_finite_at_logits_of_100": (0.0, NOT_ONE_TENSOR.format("g_loss", "tuple")),
            "test_frechet_distance_matches_reference": (
                0.0, fd("9.85786", "5.18435", "the cross term's sign is flipped: it is subtracted, - 2 tr((S1 S2)^(1/2))"),
            ),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = 7.21423; expected 0; with equal covariances frechet_distance = 25.0734; "
                "expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "numpy_loss_eigvalsh_of_the_upper_triangle": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    return (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).detach().numpy()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits).mean()
            """,
            "frechet": """
                import numpy as np
                from scipy import linalg

                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = linalg.eigvalsh(sigma1.numpy() @ sigma2.numpy(), lower=False)
                    return float(((mu1 - mu2) ** 2).sum() + sigma1.trace() + sigma2.trace() - 2 * np.sqrt(np.clip(eigenvalues, 0, None)).sum())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, NOT_ONE_TENSOR.format("d_loss", "ndarray")),
            "test_d_loss_finite_at_logits_of_100": (0.0, NOT_ONE_TENSOR.format("d_loss", "ndarray")),
            "test_frechet_distance_matches_reference": (0.0, fd("5.3936", "5.18435", ONE_TRIANGLE)),
            "test_frechet_distance_properties": (1.0, "frechet_distance is not symmetric: 17.8553 one way, 18.0837 the other"),
        },
    ),
    # targets built as integers, which binary cross-entropy refuses (its error says nothing of the fix); the
    # singular values of S1 S2 taken for its eigenvalues (the nuclear-norm identity misremembered)
    "integer_bce_targets_svdvals_of_the_product": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones(len(real_logits), dtype=torch.long))
                    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros(len(fake_logits), dtype=torch.long))
                    return real + fake

                def g_loss(fake_logits):  # targets (M, 1) for logits (M,)
                    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros(len(fake_logits), 1))
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    tr_covmean = torch.linalg.svdvals(sigma1 @ sigma2).sqrt().sum()
                    return float((mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * tr_covmean)
            """,
        },
        {
            **{check: (0.0, INTEGER_TARGETS.format("d_loss", "result type Float can't be cast to the desired output type Long"))
               for check in ("test_d_loss_matches_minimax", "test_d_loss_finite_at_logits_of_100")},
            "test_g_loss_matches_minimax": (0.0, TARGET_SHAPE.format(16)),
            "test_g_loss_finite_at_logits_of_100": (0.0, TARGET_SHAPE.format(4)),
            "test_frechet_distance_matches_reference": (0.0, fd("5.18014", "5.18435", SVDVALS)),
        },
    ),
})


BITS_D = (
    "it is in bits (log base 2): the losses use natural logs, as binary cross-entropy does: -log D = F.softplus(-logit), "
    "-log(1 - D) = F.softplus(logit)"
)
BITS_G = "it is in bits (log base 2): the losses use natural logs, as binary cross-entropy does: log(1 - D) = -F.softplus(logit)"
TRACES = "the trace terms are {}: d^2 adds each covariance's trace once, tr(S1) + tr(S2)"
D2L_HALVED_SUMS = (
    "it is half the sum of the two batches' sums (binary cross-entropy with reduction='sum', then / 2, as d2l writes D's "
    "loss): this task takes each batch's mean, mean(-log D(x)) + mean(-log(1 - D(G(z))))"
)
OVER_N = (
    "both batches' sums are divided by N, the real batch's size, which is each batch's mean only when both have as many "
    "logits (N = M); take each batch's own mean: mean(-log D(x)) + mean(-log(1 - D(G(z))))"
)
ONE_PLUS_D = (
    "the loss takes log(1 + D(G(z))), not log(1 - D(G(z))) (torch.log1p(t) is log(1 + t)): 1 - D(G(z)) is the "
    "probability that the fake is fake, and log(1 - D) = -F.softplus(logit), exact for any logit"
)
SIGMOID_OF_ONE_MINUS = (
    "the loss takes sigmoid(1 - logit) for 1 - D(G(z)), but 1 - sigmoid(logit) = sigmoid(-logit): "
    "log(1 - D) = F.logsigmoid(-logit) = -F.softplus(logit)"
)
NOT_SYMMETRIC_2_TR_S1 = "frechet_distance is not symmetric: 17.8596 one way, 18.0294 the other"

# round 3: the losses in bits, d2l's halved sums, sums over one batch's size, log1p(D) and sigmoid(1 - logit) for
# 1 - D, and a trace term missing or doubled: each named, where the formula alone was said before
WRONG.update({
    "log_base_2_losses_one_trace_missing": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    # -E[log2 D(x)] - E[log2(1 - D(G(z)))], in bits
                    return (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()) / math.log(2)

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits).mean() / math.log(2)
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    return float((mu1 - mu2).square().sum() + sigma1.trace() - 2 * eigenvalues.sqrt().sum())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 4.82534 on seeded logits; expected 3.34467: {BITS_D}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is 288.539; expected 200: {BITS_D}"),
            "test_g_loss_matches_minimax": (0.0, f"g_loss(fake) = -1.79841 on seeded logits; expected -1.24656: {BITS_G}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is -144.27; expected -100: {BITS_G}"),
            "test_frechet_distance_matches_reference": (0.0, fd("4.23384", "5.18435", TRACES.format("tr(S1) alone (tr(S2) is missing)"))),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = -1.80356; expected 0; frechet_distance is not symmetric: 16.056 one way, "
                "16.1409 the other; with equal covariances frechet_distance = 16.0556; expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "d2l_halved_sums_log1p_of_d_in_g_trace_doubled": (
        {
            "losses": """
                loss = torch.nn.BCEWithLogitsLoss(reduction="sum")

                def d_loss(real_logits, fake_logits):
                    return (loss(real_logits, torch.ones_like(real_logits)) + loss(fake_logits, torch.zeros_like(fake_logits))) / 2

                def g_loss(fake_logits):
                    return torch.log1p(torch.sigmoid(fake_logits)).mean()  # log(1 - D)?
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                    return float((mu1 - mu2).square().sum() + 2 * sigma1.trace() - 2 * eigenvalues.sqrt().sum())
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 24.1169 on seeded logits; expected 3.34467: {D2L_HALVED_SUMS}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is 350; expected 200: {D2L_HALVED_SUMS}"),
            "test_g_loss_matches_minimax": (0.0, f"g_loss(fake) = 0.426823 on seeded logits; expected -1.24656: {ONE_PLUS_D}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is 0.693147; expected -100: {ONE_PLUS_D}"),
            "test_frechet_distance_matches_reference": (
                0.0, fd("5.68425", "5.18435", TRACES.format("2 tr(S1) (tr(S1) where tr(S2) belongs)")),
            ),
            "test_frechet_distance_properties": (1.0, NOT_SYMMETRIC_2_TR_S1),
        },
    ),
    "sums_over_the_real_batch_size_sigmoid_of_one_minus_logit": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    batch_size = real_logits.shape[0]
                    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits), reduction="sum")
                    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction="sum")
                    return (real + fake) / batch_size

                def g_loss(fake_logits):
                    return torch.log(torch.sigmoid(1 - fake_logits)).mean()  # log(1 - D(G(z)))?
            """,
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 3.01461 on seeded logits; expected 3.34467: {OVER_N}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is 175; expected 200: {OVER_N}"),
            "test_g_loss_matches_minimax": (0.0, f"g_loss(fake) = -0.766277 on seeded logits; expected -1.24656: {SIGMOID_OF_ONE_MINUS}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is -inf; expected -100: {SIGMOID_OF_ONE_MINUS}"),
        },
    ),
})

SIGMA_SQUARED = (
    "the densities use sigma^2 as their standard deviation: N(mu, sigma^2) has standard deviation sigma, and "
    "torch.distributions.Normal(loc, scale) and scipy.stats.norm(loc, scale) take the standard deviation as scale: "
    "pass sigma, not sigma**2"
)
CLAMPED = (
    "that is the loss at logits of +-15: the logits (or D) are clamped, so the loss stops growing beyond them; "
    "F.softplus and F.logsigmoid are exact at any logit, with no clamp"
)
RIGHT_LOSSES = """
    def d_loss(real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(fake_logits):
        return -F.softplus(fake_logits).mean()
"""


def frechet_with(body: str) -> str:
    return f"""
        def frechet_distance(mu1, sigma1, mu2, sigma2):
            eig = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
            {body}
    """


# Mistakes named since a fresh set of wrong notebooks got the formula alone: logits clamped "for safety"
# (finite at +-100, but wrong), d_loss's arguments taken in the other order, and four Fréchet distances
WRONG.update({
    "clamped_logits_hadamard_product": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    real_logits, fake_logits = real_logits.clamp(-15, 15), fake_logits.clamp(-15, 15)  # a safe range
                    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits.clamp(-15, 15)).mean()
            """,
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    eig = torch.linalg.eigvals(sigma1 * sigma2).real.clamp(min=0)
                    return float(((mu1 - mu2) ** 2).sum() + sigma1.trace() + sigma2.trace() - 2 * eig.sqrt().sum())
            """,
        },
        {
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is 30; expected 200: {CLAMPED}"),
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is -15; expected -100: {CLAMPED}"),
            "test_frechet_distance_matches_reference": (0.0, fd("5.30455", "5.18435", (
                "S1 * S2 multiplies the covariances elementwise: the cross term takes the matrix product, tr((S1 @ S2)^(1/2))"))),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = 0.130922; expected 0; with equal covariances frechet_distance = 17.9901; "
                "expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "d_loss_arguments_in_the_other_order_mse_mean_term": (
        {
            "losses": """
                def d_loss(fake_logits, real_logits):
                    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits).mean()
            """,
            "frechet": frechet_with("return float(F.mse_loss(mu1, mu2) + sigma1.trace() + sigma2.trace() - 2 * eig.sqrt().sum())"),
        },
        {
            "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 1.81054 on seeded logits; expected 3.34467: {SWAPPED}"),
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits +100, fake logits -100 is 200; expected 0: {SWAPPED}"),
            "test_frechet_distance_matches_reference": (0.0, fd("2.62426", "5.18435", (
                "the mean term is the mean of the squared differences (F.mse_loss's default, .mean()), not ||mu1 - mu2||^2, "
                "their sum over the dimensions"))),
            "test_frechet_distance_properties": (1.0, "with equal covariances frechet_distance = 3.57183; expected ||mu1 - mu2||^2 = 17.8591"),
        },
    ),
    "sum_of_all_entries_for_the_trace": (
        {"losses": RIGHT_LOSSES,
         "frechet": frechet_with("return float(((mu1 - mu2) ** 2).sum() + sigma1.sum() + sigma2.sum() - 2 * eig.sqrt().sum())")},
        {
            "test_frechet_distance_matches_reference": (0.0, fd("7.02984", "5.18435", (
                "tr(S) is the sum of the diagonal entries (S.trace(), or torch.diagonal(S).sum()), not of all entries"))),
            "test_frechet_distance_properties": (
                0.0, "frechet_distance(N, N) = 7.19827; expected 0; with equal covariances frechet_distance = 25.0574; "
                "expected ||mu1 - mu2||^2 = 17.8591",
            ),
        },
    ),
    "products_of_each_covariances_eigenvalues": (
        {"losses": RIGHT_LOSSES, "frechet": """
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                e1, e2 = torch.linalg.eigvalsh(sigma1), torch.linalg.eigvalsh(sigma2)
                return float(((mu1 - mu2) ** 2).sum() + e1.sum() + e2.sum() - 2 * (e1 * e2).clamp(min=0).sqrt().sum())
        """},
        {"test_frechet_distance_matches_reference": (0.0, fd("5.17315", "5.18435", (
            "the eigenvalues of S1 S2 are not the products of S1's and S2's own eigenvalues (that holds only when S1 and S2 "
            "commute): take the eigenvalues of the product, torch.linalg.eigvals(S1 @ S2).real")))},
    ),
    "diagonal_gaussians": (
        {"losses": RIGHT_LOSSES, "frechet": """
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                v1, v2 = torch.diagonal(sigma1), torch.diagonal(sigma2)
                return float(((mu1 - mu2) ** 2).sum() + ((v1.sqrt() - v2.sqrt()) ** 2).sum())
        """},
        {"test_frechet_distance_matches_reference": (0.0, fd("5.18388", "5.18435", (
            "it uses only the covariances' diagonals (the distance of Gaussians with independent dimensions, sum of "
            "(sqrt(v1) - sqrt(v2))^2): the covariances are full matrices, and the cross term is tr((S1 S2)^(1/2)) of the "
            "whole matrices")))},
    ),
})


def written_in(d: str, g: str) -> dict[str, tuple[float, str]]:
    """The losses checks' verdicts on a d_loss that divides its terms' sums by `d` and a g_loss that divides its sum
    by `g`, numbers written into them."""
    d_told = (f"it divides the real term's sum by {d} and the fake term's by {d if d == '64' else '12'}, whatever the "
              "batches' lengths: batch sizes written into the function? Take each term's mean, .mean(), which divides by "
              "its own batch's length")
    g_told = (f"it divides the sum over the batch by {g}, whatever the batch's length: a batch size written into the "
              "function? Take the mean, .mean(), which divides by the batch's own length")
    return {
        "test_d_loss_matches_minimax": (0.0, (
            "d_loss(real, fake) = 0.753653 on seeded logits; expected 3.34467: " if d == "64" else
            "d_loss(real, fake) = 1.62176 on seeded logits of shape (7,) and (10,); expected 2.69868 (it was right on "
            "logits of other lengths): ") + d_told),
        "test_d_loss_finite_at_logits_of_100": (
            0.0, f"d_loss at real logits -100, fake logits +100 is {'10.9375' if d == '64' else '50'}; expected 200: {d_told}"),
        "test_g_loss_matches_minimax": (0.0, (
            "g_loss(fake) = -0.311641 on seeded logits; expected -1.24656: " if g == "64" else
            "g_loss(fake) = -0.98049 on seeded logits of shape (9,); expected -1.74309 (it was right on logits of other "
            "lengths): ") + g_told),
        "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is {'-6.25' if g == '64' else '-25'}; "
                                                f"expected -100: {g_told}"),
    }


# found by a red-team round on the a1 and a5 graders: the losses were checked on one set of lengths (16 real, 12 fake
# logits; 16 for g_loss), so sums divided by those numbers scored the visible 4 points, and at +-100 (4 and 3 logits)
# were told "the logits are clamped at +-25"; sums divided by 64 had the formula for a message
WRONG.update({
    "sums_divided_by_the_checks_lengths": (
        {"losses": """
            def d_loss(real_logits, fake_logits):
                return F.softplus(-real_logits).sum() / 16 + F.softplus(fake_logits).sum() / 12

            def g_loss(fake_logits):
                return -F.softplus(fake_logits).sum() / 16
        """},
        written_in("16", "16"),
    ),
    "sums_divided_by_a_batch_size_of_64": (
        {"losses": """
            BATCH_SIZE = 64

            def d_loss(real_logits, fake_logits):
                return F.softplus(-real_logits).sum() / BATCH_SIZE + F.softplus(fake_logits).sum() / BATCH_SIZE

            def g_loss(fake_logits):
                return -F.softplus(fake_logits).sum() / BATCH_SIZE
        """},
        written_in("64", "64"),
    ),
})


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_scores_and_messages(tmp_path, name):
    cells, expected = WRONG[name]
    assert scores(submission(tmp_path, **cells)) == {**OK, **expected}


# errors the checks explain (tensors of two lengths added, np.trapz, integer targets) and plain wrong values
SANDBOX_SAMPLE = ["terms_added_elementwise_in_d", "naive_logs_in_d_no_mean_in_g_no_sum_in_frechet", "integer_bce_targets_svdvals_of_the_product"]


@pytest.mark.parametrize("name", SANDBOX_SAMPLE)
def test_the_sandbox_grades_like_this_process(tmp_path, name):
    """What the other tests grade in this process scores the same in the sandbox, messages included:
    a check that names the fault of an exception of the student's code sees the same StudentError both
    ways (`LocalSubmission.run` raises it as the proxy does)."""
    path = submission(tmp_path, **WRONG[name][0])
    assert sandboxed(path) == scores(path) == {**OK, **WRONG[name][1]}


def test_the_visible_checks_name_an_error_of_the_students_code_as_the_grader_does(tmp_path):
    """In the student's kernel too, a d_loss that adds the real and fake terms elementwise is told why
    the lengths differ and what to do, not only torch's words (the check sees the StudentError the
    proxy would bring)."""
    cells, expected = WRONG["terms_added_elementwise_in_d"]
    results = visible_results(A, submission(tmp_path, **cells), ["test_d_loss_matches_minimax"])
    assert results == {"test_d_loss_matches_minimax": expected["test_d_loss_matches_minimax"]}
    assert "cannot be added elementwise" in results["test_d_loss_matches_minimax"][1]


@pytest.mark.parametrize(("loss", "targets", "fix"), [
    (F.binary_cross_entropy_with_logits, torch.ones(4, dtype=torch.long), "targets are integers"),
    (torch.nn.BCEWithLogitsLoss(), torch.ones(4, dtype=torch.long), "targets are integers"),
    (lambda logits, y: F.binary_cross_entropy(torch.sigmoid(logits), y), torch.ones(4, dtype=torch.long), "targets are integers"),
    (F.binary_cross_entropy_with_logits, torch.ones(4, 1), "differ in shape"),
    (lambda logits, y: torch.nn.BCELoss()(torch.sigmoid(logits), y), torch.ones(4, 1), "differ in shape"),
], ids=["with_logits_long", "module_long", "on_probabilities_long", "with_logits_n_by_1", "module_on_probabilities_n_by_1"])
def test_binary_cross_entropy_given_the_wrong_targets_is_told_the_fix(loss, targets, fix):
    """PyTorch's words for integer targets, or targets of another shape than the logits, say nothing of the
    fix; the student reads it (a1's losses, and every GAN step that builds its own targets)."""
    from reference.grading.checks import first_line, raised_in, with_known_fix

    with pytest.raises((RuntimeError, ValueError)) as raised:
        loss(torch.randn(4), targets)
    told = with_known_fix(raised.type.__name__, first_line(raised.value), raised_in(raised.value))
    assert fix in told and "torch.ones_like(logits)" in told, told


# found by a red-team round (r4): losses written for D's outputs (N, 1), .squeeze(1) or .mean(dim=1), were told
# PyTorch's words alone, "IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)", on the
# (N,) logits the docstring gives (a5 names the fix for its scores)
ONE_DIM = (
    "calling `{}` raised IndexError: {}: the logits come with one dimension, (N,) as the docstring says (D's outputs "
    "(N, 1) flattened), so they have no dim 1: take the mean over all of them, .mean(), with no squeeze(1), [:, 0] or dim=1"
)


@pytest.mark.parametrize(("losses", "error"), [
    ("""
        def d_loss(real_logits, fake_logits):
            return F.softplus(-real_logits.squeeze(1)).mean() + F.softplus(fake_logits.squeeze(1)).mean()

        def g_loss(fake_logits):
            return -F.softplus(fake_logits).mean(dim=1)
    """, "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    ("""
        def d_loss(real_logits, fake_logits):
            return F.softplus(-real_logits[:, 0]).mean() + F.softplus(fake_logits[:, 0]).mean()

        def g_loss(fake_logits):
            return -F.softplus(fake_logits[:, 0]).mean()
    """, "too many indices for tensor of dimension 1"),
], ids=["squeeze_1_and_mean_over_dim_1", "first_column"])
def test_losses_written_for_logits_of_shape_n_by_1_are_told_they_come_as_n(tmp_path, losses, error):
    results = scores(submission(tmp_path, losses=losses))
    assert {name: results[name] for name in FULL if "loss" in name} == {
        name: (0.0, ONE_DIM.format(name.split("_")[1] + "_loss", error)) for name in FULL if "loss" in name}


# found by a red-team round (r4): a Fréchet distance without its mean term, or with it subtracted, was told only
# the formula: each now names the term
@pytest.mark.parametrize(("mean_term", "want", "hint"), [
    ("", "0.0641651", "the mean term is missing: d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)) starts "
     "with the squared distance of the means"),
    ("- (mu1 - mu2).square().sum() ", "-5.05602",
     "the mean term's sign is flipped: ||mu1 - mu2||^2 is added, not subtracted"),
], ids=["missing", "subtracted"])
def test_a_frechet_distance_without_its_mean_term_is_told_which_term(tmp_path, mean_term, want, hint):
    frechet = f"""
        def frechet_distance(mu1, sigma1, mu2, sigma2):
            eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
            return float({mean_term}+ sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
    """.replace("float(+ ", "float(")
    results = scores(submission(tmp_path, frechet=frechet))
    assert results["test_frechet_distance_matches_reference"] == (0.0, fd(want, "5.18435", hint))


# ---------------------------------------------------------------------------------------------
# Wrong theory cells: D*, C(G) and the JSD, each mistake with its message
# ---------------------------------------------------------------------------------------------

VISIBLE_PAIR = "p_data = N(0.94, 1.12^2), p_g = N(-0.08, 1.21^2), on x = linspace(-8, 8, 1601)"  # the first of each visible check
COARSE_PAIR = "p_data = N(-0.44, 0.92^2), p_g = N(0.72, 1.1^2), on x = linspace(-7, 7, 401)"  # the first on the coarser grid
CUT_PAIR = "p_data = N(0.84, 0.84^2), p_g = N(0.42, 1.04^2), on x = linspace(-0.5, 1.5, 801)"  # the grid that cuts both
SWAPPED_D_STAR = (
    "it is p_g / (p_data + p_g), the probability that x is fake: p_data and p_g are swapped; D* is the probability that "
    "x is real, p_data(x) / (p_data(x) + p_g(x))"
)
COST_WITH_SWAPPED_D = (
    "it uses p_g / (p_data + p_g) as D*: p_data and p_g are swapped (D* is the probability that x is real; check d_star)"
)
MISSING_LOG = "the logs are missing: C(G) integrates p_data(x) log D*(x) + p_g(x) log(1 - D*(x))"
NO_STEP = "it is the sum of the integrand without the grid step: an integral over the grid is (sum of f(x_i)) * dx, with dx = x[1] - x[0]"
SWAPPED_ARGS = (
    "the integral's arguments are in the other order: np.trapezoid(y, x) and torch.trapezoid(y, x) take the integrand's "
    "values first and the grid second (trapezoid(x, y) integrates x over y, minus the integral where the densities "
    "vanish at the grid's ends)"
)
FLIPPED_COST = (
    "the sign is flipped: C(G) = V(D*, G), the integral of p_data log D* + p_g log(1 - D*), is <= 0 (its minimum, "
    "-log 4, is at p_g = p_data), or " + SWAPPED_ARGS
)
BITS = "it is in bits (log base 2): the identity C(G) = -log 4 + 2 JSD holds in nats, with natural logs like V(D, G)"
AS_VARIANCE = (
    "sigma_data and sigma_g are standard deviations, not variances: the density of N(mu, sigma^2) is "
    "exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"
)
SQRT_JSD = "it is the square root of the JSD (the Jensen-Shannon distance): return the divergence itself"
TWICE = "it is twice the JSD: JSD = 1/2 KL(p_data || m) + 1/2 KL(p_g || m), the mean of the two KL divergences, not their sum"
NOT_FINITE = (
    "a log met 0 or a negative number on the grid: D* must lie strictly between 0 and 1 (check d_star), and in float32 "
    "D* or 1 - D* rounds to exactly 0 where one density is about e^17 times the other; keep the grid's float64, or "
    "take log D* and log(1 - D*) from the log densities"
)


RENORMALISED = (
    "it is the JSD of the densities renormalised over the grid's points (scipy.stats.entropy and "
    "scipy.spatial.distance.jensenshannon rescale their inputs to sum to 1): integrate the definition over the grid as it is"
)
ORDER = "that is {}: the two numbers are in the wrong order; cost_and_jsd returns (C(G), JSD)"
KL_SWAPPED = (
    "the KL divergences' arguments are swapped: you integrate m log(m / p_data), which is KL(m || p_data); the JSD uses "
    "KL(p_data || m), the integral of p_data log(p_data / m) (F.kl_div(input, target) is KL(target || exp(input)))"
)
NO_SQRT_2PI = (
    "the densities lack the factor 1 / sqrt(2 pi): it cancels in D* = p_data / (p_data + p_g), but not in the "
    "integrals, which need the densities themselves (each integrates to 1): exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"
)
UNNORMALISED = (
    "the densities lack their normalising factor 1 / (sigma sqrt(2 pi)), which the integrals need (each density "
    "integrates to 1): exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"
)
WHOLE_LINE = (
    "it is {} over the whole real line (scipy.integrate.quad from -inf to inf, or a grid of your own?), not over the "
    "grid x as given, which here leaves out part of both densities: integrate over x"
)


def step(size: str) -> str:
    return f"the integral uses the step 0.01 of the visible checks' grid; this grid's step is {size}: take it from the grid, dx = x[1] - x[0]"


STEP_OFF_BY_ONE = (
    "the grid step is off by one: n points make n - 1 intervals, so dx = (x[-1] - x[0]) / (len(x) - 1) = x[1] - x[0], "
    "not (x[-1] - x[0]) / len(x) (nor the mean of the integrand times the grid's length)"
)
MEAN_OF_INTEGRAND = (
    "it is the mean of the integrand over the grid points, not its integral: (sum of f(x_i)) * dx, with dx = x[1] - x[0]"
)


SIGMA_SLIP = (
    "p_g's density uses sigma_data: each Gaussian has its own mean and standard deviation, p_data = N(mu_data, "
    "sigma_data^2) and p_g = N(mu_g, sigma_g^2)"
)


def cost_is(pair: str, got: str, want: str, hint: str) -> str:
    return f"C(G) for {pair} is {got}; expected {want}: {hint}"


def jsd_is(pair: str, got: str, want: str, hint: str) -> str:
    return f"the JSD for {pair} is {got}; expected {want}: {hint}"


THEORY_WRONG = {
    "grid_step_off_by_one_jsd_as_the_mean_of_its_integrand": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            dx = (x[-1] - x[0]) / len(x)
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.sum(p * torch.log(d) + q * torch.log(1 - d)) * dx
            jsd = 0.5 * torch.mean(p * torch.log(p / m)) + 0.5 * torch.mean(q * torch.log(q / m))
            return float(cost), float(jsd)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.20864", "-1.2094", STEP_OFF_BY_ONE)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.00552463", "0.0884494", MEAN_OF_INTEGRAND)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-1.09288", "-1.09561", STEP_OFF_BY_ONE) + "; "
                + jsd_is(CUT_PAIR, "0.00417263", "0.00833414", MEAN_OF_INTEGRAND),
            ),
        },
    ),
    "p_data_and_p_g_swapped_in_d_star": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return q / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_d_star_is_the_optimal_discriminator": (
                0.0, f"d_star for {VISIBLE_PAIR} is 0.999968 at x = -8; expected 3.17203e-05: {SWAPPED_D_STAR}",
            ),
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.99137", "-1.2094", COST_WITH_SWAPPED_D)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-2.51108", "-1.09561", COST_WITH_SWAPPED_D) + "; "
                + cost_is(CUT_PAIR, "-1.01462", "-0.94746", COST_WITH_SWAPPED_D),
            ),
        },
    ),
    # a copy-paste slip in d_star, sigma_data for p_g too: named in D* and in the C(G) that uses it
    "p_g_with_sigma_data_in_d_star": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_data)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_d_star_is_the_optimal_discriminator": (
                0.0, f"d_star for {VISIBLE_PAIR} is 0.997883 at x = 8; expected 0.924529: {SIGMA_SLIP}",
            ),
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.21219", "-1.2094", f"it uses a wrong D*: {SIGMA_SLIP}")),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-1.11121", "-1.09561", f"it uses a wrong D*: {SIGMA_SLIP}") + "; "
                + cost_is(CUT_PAIR, "-0.951718", "-0.94746", f"it uses a wrong D*: {SIGMA_SLIP}"),
            ),
        },
    ),
    "missing_log_in_cost_jsd_in_bits": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * d + q * (1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log2(p / m), x) + 0.5 * torch.trapezoid(q * torch.log2(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "1.164", "-1.2094", MISSING_LOG)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.127605", "0.0884494", BITS)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "1.25869", "-1.09561", MISSING_LOG) + "; " + cost_is(CUT_PAIR, "0.712021", "-0.94746", MISSING_LOG),
            ),
        },
    ),
    "sums_without_the_grid_step": (
        """
        import numpy as np

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            x = x.numpy()
            p = np.exp(-0.5 * ((x - mu_data) / sigma_data) ** 2) / sigma_data
            q = np.exp(-0.5 * ((x - mu_g) / sigma_g) ** 2) / sigma_g  # sqrt(2 pi) cancels
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            x = x.numpy()
            p = np.exp(-0.5 * ((x - mu_data) / sigma_data) ** 2) / (sigma_data * np.sqrt(2 * np.pi))
            q = np.exp(-0.5 * ((x - mu_g) / sigma_g) ** 2) / (sigma_g * np.sqrt(2 * np.pi))
            m = (p + q) / 2
            cost = np.sum(p * np.log(d) + q * np.log(1 - d))
            jsd = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
            return cost, jsd
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-120.94", "-1.2094", NO_STEP)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "8.84494", "0.0884494", NO_STEP)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-31.3032", "-1.09561", NO_STEP) + "; " + cost_is(CUT_PAIR, "-379.301", "-0.94746", NO_STEP),
            ),
        },
    ),
    "sign_flipped_cost": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = -torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)  # D's cross-entropy, >= 0
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "1.2094", "-1.2094", FLIPPED_COST)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "1.09561", "-1.09561", FLIPPED_COST) + "; " + cost_is(CUT_PAIR, "0.94746", "-0.94746", FLIPPED_COST),
            ),
        },
    ),
    "sigma_used_as_a_variance_jsd_twice": (
        """
        def density(x, mu, var):
            return torch.exp(-(x - mu) ** 2 / (2 * var)) / math.sqrt(2 * math.pi * var)

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data ** 2), density(x, mu_g, sigma_g ** 2)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = torch.trapezoid(p * torch.log(p / m), x) + torch.trapezoid(q * torch.log(q / m), x)  # KL(p||m) + KL(q||m)
            return float(cost), float(jsd)
        """,
        {
            "test_d_star_is_the_optimal_discriminator": (
                0.0, f"d_star for {VISIBLE_PAIR} is 0.991548 at x = 8; expected 0.924529: {AS_VARIANCE}",
            ),
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.21336", "-1.2094", f"it uses a wrong D*: {AS_VARIANCE}")),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.176899", "0.0884494", TWICE)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-1.09759", "-1.09561", f"it uses a wrong D*: {AS_VARIANCE}") + "; "
                + jsd_is(CUT_PAIR, "0.0166683", "0.00833414", TWICE),
            ),
        },
    ),
    "density_ratio_as_d_star_mixture_without_half": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            return density(x, mu_data, sigma_data) / density(x, mu_g, sigma_g)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = p + q
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_d_star_is_the_optimal_discriminator": (
                0.0, f"d_star for {VISIBLE_PAIR} is 12.9097 at x = 7.04; expected 0.928108: it is the density ratio "
                "p_data / p_g; D*(x) = p_data(x) / (p_data(x) + p_g(x)), a probability in [0, 1]",
            ),
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "nan", "-1.2094", NOT_FINITE)),
            "test_jsd_from_its_definition": (
                0.0, jsd_is(VISIBLE_PAIR, "-0.604698", "0.0884494", "the mixture is m = (p_data + p_g) / 2, not p_data + p_g"),
            ),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "nan", "-1.09561", NOT_FINITE) + "; " + cost_is(CUT_PAIR, "nan", "-0.94746", NOT_FINITE),
            ),
        },
    ),
    "jsd_derived_from_the_identity": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = float(torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x))
            return cost, (cost + math.log(4)) / 2  # C(G) = -log 4 + 2 JSD
        """,
        {
            "test_cost_and_jsd_on_other_grids": (
                1.0, jsd_is(CUT_PAIR, "0.219417", "0.00833414", "it is (C(G) + log 4) / 2 (your C(G)), derived from the "
                            "identity you are to show, not the JSD from its definition: on this grid, which leaves out part of "
                            "both densities, the two differ; compute the JSD by integrating 1/2 p_data log(p_data / m) + "
                            "1/2 p_g log(p_g / m)"),
            ),
        },
    ),
    "step_of_the_visible_grid": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            dx = 0.01
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.sum(p * torch.log(d) + q * torch.log(1 - d)) * dx
            jsd = 0.5 * torch.sum(p * torch.log(p / m)) * dx + 0.5 * torch.sum(q * torch.log(q / m)) * dx
            return float(cost), float(jsd)
        """,
        {
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-0.313032", "-1.09561", step("0.035")) + "; " + cost_is(CUT_PAIR, "-3.79301", "-0.94746", step("0.0025")),
            ),
        },
    ),
    "scipy_jensen_shannon": (
        """
        from scipy.spatial.distance import jensenshannon

        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            return float(cost), float(jensenshannon(p.numpy(), q.numpy()) ** 2)  # jensenshannon is sqrt(JSD)
        """,
        {
            "test_cost_and_jsd_on_other_grids": (
                1.0, jsd_is(CUT_PAIR, "0.0108726", "0.00833414", RENORMALISED),
            ),
        },
    ),
    # jensenshannon's distance (no square) and its base=2: each renormalised JSD is told as that, not as a fault its
    # value happens to lie near on the cut grid (twice the JSD there, for the one in bits)
    **{name: (
        f"""
        from scipy.spatial.distance import jensenshannon

        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            return float(cost), float({jsd})
        """,
        {
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, visible, "0.0884494", hint)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, jsd_is(COARSE_PAIR, coarse, "0.145342", hint) + "; " + jsd_is(CUT_PAIR, cut, "0.00833414", cut_hint),
            ),
        },
    ) for name, jsd, visible, coarse, cut, hint, cut_hint in (
        ("scipy_jensen_shannon_in_bits", "jensenshannon(p.numpy(), q.numpy(), base=2) ** 2", "0.127605", "0.209684",
         "0.0156859", BITS, RENORMALISED.replace("sum to 1)", "sum to 1), in bits (log base 2)") + ", with natural logs"),
        ("scipy_jensen_shannon_distance", "jensenshannon(p.numpy(), q.numpy())", "0.297404", "0.381237", "0.104272",
         SQRT_JSD, "it is the square root of " + RENORMALISED.removeprefix("it is ") + ", and return the divergence "
         "itself (jensenshannon returns the Jensen-Shannon distance, its square root)"),
    )},
    "no_return_in_d_star_one_number_from_cost_and_jsd": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            cost = torch.trapezoid(p * torch.log(p / (p + q)) + q * torch.log(q / (p + q)), x)
            return float(cost)
        """,
        {
            "test_d_star_is_the_optimal_discriminator": (
                0.0, "d_star returned None (is its return missing?); return D* at the grid points, shape (N,)",
            ),
            **{check: (0.0, "cost_and_jsd returned float; return a tuple of two numbers, (C(G), JSD)")
               for check in ("test_cost_is_v_at_d_star", "test_jsd_from_its_definition", "test_cost_and_jsd_on_other_grids")},
        },
    ),
}


THEORY_WRONG.update({
    "cost_and_jsd_returned_in_the_wrong_order": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(jsd), float(cost)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "0.0884494", "-1.2094", ORDER.format("the JSD"))),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "-1.2094", "0.0884494", ORDER.format("C(G)"))),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "0.145342", "-1.09561", ORDER.format("the JSD")) + "; "
                + cost_is(CUT_PAIR, "0.00833414", "-0.94746", ORDER.format("the JSD")),
            ),
        },
    ),
    "no_sqrt_2pi_in_the_integrals_kl_div_arguments_swapped": (
        """
        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p = torch.exp(-0.5 * ((x - mu_data) / sigma_data) ** 2) / sigma_data
            q = torch.exp(-0.5 * ((x - mu_g) / sigma_g) ** 2) / sigma_g  # sqrt(2 pi) cancels
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            p = torch.exp(-0.5 * ((x - mu_data) / sigma_data) ** 2) / sigma_data
            q = torch.exp(-0.5 * ((x - mu_g) / sigma_g) ** 2) / sigma_g
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            p, q = p / math.sqrt(2 * math.pi), q / math.sqrt(2 * math.pi)
            m = (p + q) / 2
            # KL(p || m) with kl_div(input, target) read as KL(exp(input) || target)
            kl_pm = torch.trapezoid(F.kl_div(p.log(), m, reduction="none"), x)
            kl_qm = torch.trapezoid(F.kl_div(q.log(), m, reduction="none"), x)
            return float(cost), float(0.5 * kl_pm + 0.5 * kl_qm)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-3.03151", "-1.2094", NO_SQRT_2PI)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.107045", "0.0884494", KL_SWAPPED)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-2.74629", "-1.09561", NO_SQRT_2PI) + "; "
                + cost_is(CUT_PAIR, "-2.37493", "-0.94746", NO_SQRT_2PI),
            ),
        },
    ),
    "unnormalised_densities_in_the_integrals": (
        """
        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            lp = -0.5 * ((x - mu_data) / sigma_data) ** 2 - math.log(sigma_data)
            lq = -0.5 * ((x - mu_g) / sigma_g) ** 2 - math.log(sigma_g)
            return torch.sigmoid(lp - lq)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p = torch.exp(-0.5 * ((x - mu_data) / sigma_data) ** 2)
            q = torch.exp(-0.5 * ((x - mu_g) / sigma_g) ** 2)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-3.53274", "-1.2094", UNNORMALISED)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.259594", "0.0884494", UNNORMALISED)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-2.77996", "-1.09561", UNNORMALISED) + "; "
                + cost_is(CUT_PAIR, "-2.2375", "-0.94746", UNNORMALISED),
            ),
        },
    ),
    "both_integrated_over_the_whole_line_with_quad": (
        """
        import numpy as np
        from scipy import integrate

        def log_density(t, mu, sigma):
            return -0.5 * ((t - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            return torch.sigmoid(log_density(x, mu_data, sigma_data) - log_density(x, mu_g, sigma_g))

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            def logs(t):
                lp, lq = log_density(t, mu_data, sigma_data), log_density(t, mu_g, sigma_g)
                return lp, lq, np.logaddexp(lp, lq)

            def cost_integrand(t):
                lp, lq, ls = logs(t)
                return math.exp(lp) * (lp - ls) + math.exp(lq) * (lq - ls)

            def jsd_integrand(t):
                lp, lq, ls = logs(t)
                lm = ls - math.log(2)
                return 0.5 * math.exp(lp) * (lp - lm) + 0.5 * math.exp(lq) * (lq - lm)

            return integrate.quad(cost_integrand, -np.inf, np.inf)[0], integrate.quad(jsd_integrand, -np.inf, np.inf)[0]
        """,
        {
            # right wherever the grid holds both densities; on the cut grid C(G) = -log 4 + 2 JSD holds too,
            # since both are over the whole line: the message names that, not the identity
            "test_cost_and_jsd_on_other_grids": (1.0, cost_is(CUT_PAIR, "-1.31861", "-0.94746", WHOLE_LINE.format("C(G)"))),
        },
    ),
})


def test_a_jsd_over_the_whole_line_on_the_cut_grid_is_told_so():
    """On the cut grid the whole line's JSD lies within the tolerance of the symmetrised KL divergence
    on the grid: each value gets the message of the mistake nearest to it."""
    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    pair = checks.CUT_PAIR
    t, whole = checks.theory(pair), checks.whole_line(pair)
    symmetrised = 0.5 * checks.integral(t["p"] * (t["lp"] - t["lq"]), pair) + 0.5 * checks.integral(t["q"] * (t["lq"] - t["lp"]), pair)
    assert abs(symmetrised - whole["jsd"]) < checks.CUT_TOL
    failure = checks.jsd_failure(pair, whole["jsd"], t["cost"], checks.CUT_TOL)
    assert failure == jsd_is(CUT_PAIR, f"{whole['jsd']:.6g}", "0.00833414", WHOLE_LINE.format("the JSD"))
    failure = checks.jsd_failure(pair, symmetrised, t["cost"], checks.CUT_TOL)
    assert failure == jsd_is(CUT_PAIR, f"{symmetrised:.6g}", "0.00833414", "that compares p_data with p_g directly (a "
                             "symmetrised KL divergence); the JSD compares each with the mixture m = (p_data + p_g) / 2")


# found by a red-team round (r4): an answer computed in NumPy's extended precision (np.longdouble, float128 on x86-64)
# scored 0 of the 12 points of d_star, cost_and_jsd and frechet_distance, told "your code raised TypeError: can't
# convert np.ndarray of type numpy.longdouble": the probe's torch.from_numpy raised, not the student's code
EXTENDED_PRECISION = {
    "theory": """
        import numpy as np

        def density(x, mu, sigma):
            x = np.asarray(x, dtype=np.longdouble)  # extended precision, for the tails
            return np.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            xs = np.asarray(x, dtype=np.longdouble)
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d, m = p / (p + q), (p + q) / 2
            cost = np.trapezoid(p * np.log(d) + q * np.log(1 - d), xs)
            jsd = np.trapezoid(0.5 * p * np.log(p / m) + 0.5 * q * np.log(q / m), xs)
            return cost, jsd
    """,
    "frechet": """
        import numpy as np

        def frechet_distance(mu1, sigma1, mu2, sigma2):
            s1, s2 = sigma1.numpy().astype(np.longdouble), sigma2.numpy().astype(np.longdouble)
            roots = np.sqrt(np.clip(np.linalg.eigvals((s1 @ s2).astype(np.float64)).real, 0, None)).astype(np.longdouble)
            diff = (mu1 - mu2).numpy().astype(np.longdouble)
            return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * roots.sum()
    """,
}


def test_an_answer_in_numpys_extended_precision_scores_full_marks(tmp_path):
    assert scores(submission(tmp_path, **EXTENDED_PRECISION)) == OK


def test_a_frechet_distance_in_float32_keeps_the_properties_point():
    """frechet_distance computed in float32 gave -1.9e-06 for two equal Gaussians and lost the properties' point to
    "expected 0", though the task allows round-off; float32's round-off now passes, a wrong formula still fails."""
    from reference.grading.checks import run_check
    from reference.grading.submission import LocalSubmission

    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    right = """
def frechet_distance(mu1, sigma1, mu2, sigma2):
    m1, s1, m2, s2 = (torch.as_tensor(v, dtype=torch.float32) for v in (mu1, sigma1, mu2, sigma2))
    return float((m1 - m2).square().sum() + s1.trace() + s2.trace() - 2 * torch.linalg.eigvals(s1 @ s2).sqrt().real.sum())
"""
    wrong = right.replace("- 2 * torch.linalg", "- torch.linalg")
    for source, expected in ((right, 2.0), (wrong, 0.0)):
        namespace = {"torch": torch}
        exec(source, namespace)
        assert run_check(checks.test_frechet_distance_properties, LocalSubmission(namespace))[0] == expected


@pytest.mark.parametrize("eps, expected", [
    (1e-6, (2.0, "")),
    (1e-3, (0.0, "frechet_distance of two 2-D Gaussians is 5.18022; expected 5.18435: d^2 = ||mu1 - mu2||^2 + tr(S1) + "
                 "tr(S2) - 2 tr((S1 S2)^(1/2)), with the matrix square root (e.g. from the eigenvalues of S1 S2)")),
], ids=["pytorch_fid_eps", "a thousand times larger"])
def test_a_frechet_distance_regularised_inside_the_square_root_as_pytorch_fid_does_keeps_the_reference_points(eps, expected):
    """Red team, round four: sqrtm((S1 + eps I) @ (S2 + eps I)) on every call, with pytorch-fid's eps = 1e-6 (pytorch-fid
    adds it only when sqrtm fails), lost both points to "5.43374; expected 5.43375", the formula it uses quoted back as
    the fix. It moves d^2 by 2e-6 of it; the tolerance is 1e-5 of it now, and a regulariser that changes the distance
    still fails."""
    from reference.grading.checks import run_check
    from reference.grading.submission import LocalSubmission

    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    source = f"""
def frechet_distance(mu1, sigma1, mu2, sigma2):
    offset = {eps} * torch.eye(len(sigma1), dtype=sigma1.dtype)  # for numerical stability
    eigenvalues = torch.linalg.eigvals((sigma1 + offset) @ (sigma2 + offset)).real.clamp(min=0)
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
"""
    namespace = {"torch": torch}
    exec(source, namespace)
    assert run_check(checks.test_frechet_distance_matches_reference, LocalSubmission(namespace)) == expected


def test_a_cost_integrated_with_the_trapezoid_s_arguments_swapped_is_told_so():
    """np.trapezoid(x, f) for np.trapezoid(f, x): on the visible grid it is minus C(G) (told as a flipped sign, or the
    swapped arguments); with the sign then flipped back it is right there and wrong on the cut grid, where it was given
    the generic definition. Both now name the arguments' order."""
    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    pair = checks.CUT_PAIR
    t = checks.theory(pair)
    swapped = checks.swapped_integral(t["p"] * t["log_d"] + t["q"] * t["log_1md"], pair)
    for value, ending in ((swapped, SWAPPED_ARGS), (-swapped, SWAPPED_ARGS + ", and its sign flipped back")):
        failure = checks.cost_failure(pair, value, t["jsd"], checks.CUT_TOL)
        assert failure is not None and failure.endswith(ending), failure


KL_FOR_JSD = (
    "that is {}, the KL divergence of one density from the other; the JSD compares each with the mixture "
    "m = (p_data + p_g) / 2: 1/2 KL(p_data || m) + 1/2 KL(p_g || m)"
)
ONE_KL_TERM = "it holds only p_data's term, 1/2 KL(p_data || m): the JSD is the mean of both, 1/2 KL(p_data || m) + 1/2 KL(p_g || m)"
WEIGHTED_BY_P_DATA = (
    "both terms are weighted by p_data: C(G) integrates p_data(x) log D*(x) + p_g(x) log(1 - D*(x)), the real term "
    "weighted by p_data, the fake term by p_g"
)
FAKE_TERM_ONLY = (
    "it holds only the fake term, the integral of p_g log(1 - D*): C(G) = V(D*, G) integrates both, p_data log D* + "
    "p_g log(1 - D*) (the real term does not depend on G, but it is part of V)"
)

# round 3: only the generator's term of C(G), a KL divergence for the JSD (in closed form: on the cut grid too), one of the JSD's two terms (which on
# the cut grid was told its densities lacked 1 / sqrt(2 pi)), and both terms of C(G) weighted by p_data
THEORY_WRONG.update({
    "kl_in_closed_form_for_the_jsd_both_cost_terms_weighted_by_p_data": (
        """
        from torch.distributions import Normal, kl_divergence

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            lp, lq = Normal(mu_data, sigma_data).log_prob(x), Normal(mu_g, sigma_g).log_prob(x)
            return torch.sigmoid(lp - lq)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p_data, p_g = Normal(float(mu_data), float(sigma_data)), Normal(float(mu_g), float(sigma_g))
            p = p_data.log_prob(x).exp()
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = torch.trapezoid(p * torch.log(d) + p * torch.log(1 - d), x)  # E over p_data of both terms
            return float(cost), float(kl_divergence(p_data, p_g))
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.56117", "-1.2094", WEIGHTED_BY_P_DATA)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.360981", "0.0884494", KL_FOR_JSD.format("KL(p_data || p_g)"))),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-1.65257", "-1.09561", WEIGHTED_BY_P_DATA) + "; "
                + cost_is(CUT_PAIR, "-1.02755", "-0.94746", WEIGHTED_BY_P_DATA),
            ),
        },
    ),
    "kl_in_closed_form_for_the_jsd": (
        """
        from torch.distributions import Normal, kl_divergence

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            lp, lq = Normal(mu_data, sigma_data).log_prob(x), Normal(mu_g, sigma_g).log_prob(x)
            return torch.sigmoid(lp - lq)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p_data, p_g = Normal(float(mu_data), float(sigma_data)), Normal(float(mu_g), float(sigma_g))
            p, q = p_data.log_prob(x).exp(), p_g.log_prob(x).exp()
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            return float(cost), float(kl_divergence(p_data, p_g))
        """,
        {
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.360981", "0.0884494", KL_FOR_JSD.format("KL(p_data || p_g)"))),
            "test_cost_and_jsd_on_other_grids": (
                0.0, jsd_is(COARSE_PAIR, "0.584477", "0.145342", KL_FOR_JSD.format("KL(p_data || p_g)")) + "; "
                + jsd_is(CUT_PAIR, "0.121303", "0.00833414", KL_FOR_JSD.format("KL(p_data || p_g)")),
            ),
        },
    ),
    "only_the_generators_term_of_the_cost": (
        """
        def density(x, mu, sigma):
            return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = torch.trapezoid(q * torch.log(1 - d), x)  # G only affects E_z log(1 - D(G(z)))
            m = (p + q) / 2
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-0.609304", "-1.2094", FAKE_TERM_ONLY)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-0.561563", "-1.09561", FAKE_TERM_ONLY) + "; "
                + cost_is(CUT_PAIR, "-0.483826", "-0.94746", FAKE_TERM_ONLY),
            ),
        },
    ),
    "half_of_one_kl_to_the_mixture": (
        """
        def density(x, mu, sigma):
            return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            m = (p + q) / 2
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.0465276", "0.0884494", ONE_KL_TERM)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, jsd_is(COARSE_PAIR, "0.0795499", "0.145342", ONE_KL_TERM) + "; "
                + jsd_is(CUT_PAIR, "0.0207147", "0.00833414", ONE_KL_TERM),
            ),
        },
    ),
})


D_STAR_FORMULA = (
    "D*(x) is the y in (0, 1) that maximises p_data(x) log y + p_g(x) log(1 - y) (set its derivative in y to 0), with the "
    "density of N(mu, sigma^2) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))"
)
JSD_FORMULA = "JSD = 1/2 KL(p_data || m) + 1/2 KL(p_g || m), m = (p_data + p_g) / 2, KL(p || m) the integral of p log(p / m), natural logs"
BOTH_WRONG_COST = (
    "it is -log 4 + 2 JSD (your JSD), and the JSD is wrong too: both come from the same wrong densities or D*, or C(G) is "
    "derived from the JSD; check p_data = N(mu_data, sigma_data^2) and p_g = N(mu_g, sigma_g^2) (sigma is the standard "
    "deviation), and compute C(G) from its own definition"
)


def theory_cell(p: str, q: str) -> str:
    """A theory cell whose D*, C(G) and JSD are right for the densities p and q it computes (expressions in x)."""
    return f"""
        def densities(x, mu_data, sigma_data, mu_g, sigma_g):
            return {p}, {q}

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = densities(x, mu_data, sigma_data, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = densities(x, mu_data, sigma_data, mu_g, sigma_g)
            d, m = p / (p + q), (p + q) / 2
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
            return float(cost), float(jsd)
    """


def gaussian(mu: str, sigma: str) -> str:
    return f"torch.exp(-(x - {mu}) ** 2 / (2 * {sigma} ** 2)) / ({sigma} * math.sqrt(2 * math.pi))"


# The same wrong densities in d_star and cost_and_jsd: C(G) and the JSD agree through the identity, so each is
# told the densities' fault, not that it was derived from the other (a variance given as Normal's scale, a
# p_g written with sigma_data); unknown wrong densities (here a third too wide) are told that both are wrong
THEORY_WRONG.update({
    "normal_given_the_variance_as_its_scale": (
        theory_cell("Normal(mu_data, sigma_data ** 2).log_prob(x).exp()", "Normal(mu_g, sigma_g ** 2).log_prob(x).exp()")
        .replace("        def densities", "        from torch.distributions import Normal\n\n        def densities", 1),
        {
            "test_d_star_is_the_optimal_discriminator": (
                0.0, f"d_star for {VISIBLE_PAIR} is 0.388083 at x = 8; expected 0.924529: {SIGMA_SQUARED}"),
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.24687", "-1.2094", f"it is C(G) with the wrong densities: {SIGMA_SQUARED}")),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.0697112", "0.0884494", f"it is the JSD of the wrong densities: {SIGMA_SQUARED}")),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-1.08357", "-1.09561", f"it is C(G) with the wrong densities: {SIGMA_SQUARED}") + "; "
                + cost_is(CUT_PAIR, "-0.962037", "-0.94746", f"it is C(G) with the wrong densities: {SIGMA_SQUARED}"),
            ),
        },
    ),
    "p_g_written_with_sigma_data_in_a_helper": (
        theory_cell(gaussian("mu_data", "sigma_data"), gaussian("mu_g", "sigma_data")),
        {
            "test_d_star_is_the_optimal_discriminator": (0.0, f"d_star for {VISIBLE_PAIR} is 0.997883 at x = 8; expected 0.924529: {SIGMA_SLIP}"),
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.19803", "-1.2094", f"it is C(G) with the wrong densities: {SIGMA_SLIP}")),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.0941346", "0.0884494", f"it is the JSD of the wrong densities: {SIGMA_SLIP}")),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-1.05301", "-1.09561", f"it is C(G) with the wrong densities: {SIGMA_SLIP}") + "; "
                + cost_is(CUT_PAIR, "-1.01636", "-0.94746", f"it is C(G) with the wrong densities: {SIGMA_SLIP}"),
            ),
        },
    ),
    # m as the geometric mean sqrt(p_data p_g): on the cut grid its JSD (0.0168) lies within 1e-3 of twice the JSD
    # (0.0167), which that grid's JSD tolerance (1e-4, C(G)'s is 1e-3) no longer takes for the "twice" mistake
    "jsd_with_a_geometric_mean_for_m": (
        theory_cell(gaussian("mu_data", "sigma_data"), gaussian("mu_g", "sigma_g")).replace("(p + q) / 2", "torch.sqrt(p * q)"),
        {
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.195494", "0.0884494", JSD_FORMULA)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, jsd_is(COARSE_PAIR, "0.353868", "0.145342", JSD_FORMULA) + "; " + jsd_is(CUT_PAIR, "0.0167894", "0.00833414", JSD_FORMULA)),
        },
    ),
    "densities_a_third_too_wide_in_both": (
        theory_cell(gaussian("mu_data", "(4 * sigma_data / 3)"), gaussian("mu_g", "(4 * sigma_g / 3)")),
        {
            "test_d_star_is_the_optimal_discriminator": (0.0, f"d_star for {VISIBLE_PAIR} is 0.252877 at x = -1.88; expected 0.120678: "
                                                              f"{D_STAR_FORMULA}"),
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-1.28181", "-1.2094", BOTH_WRONG_COST)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.0522419", "0.0884494", (
                "it is (C(G) + log 4) / 2 (your C(G)), and C(G) is wrong too: both come from the same wrong densities or D*, or "
                "the JSD is derived from C(G); check p_data = N(mu_data, sigma_data^2) and p_g = N(mu_g, sigma_g^2) (sigma is "
                "the standard deviation), and compute the JSD by integrating 1/2 p_data log(p_data / m) + 1/2 p_g log(p_g / m)"))),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-1.20704", "-1.09561", BOTH_WRONG_COST) + "; " + cost_is(CUT_PAIR, "-0.779638", "-0.94746", (
                    "C(G) = V(D*, G), the integral over the grid of p_data(x) log D*(x) + p_g(x) log(1 - D*(x)), natural logs")),
            ),
        },
    ),
})


LOG10_COST = ("it uses base-10 logs (log10): V(D, G) uses natural logs (torch.log, np.log), and so does C(G) = -log 4 + "
              "2 JSD")
LOG10_JSD = ("it uses base-10 logs (log10): the identity C(G) = -log 4 + 2 JSD holds in nats, with natural logs (torch.log, "
             "np.log) like V(D, G)")

# found by a red-team round on the a1 and a5 graders: base-10 logs had the formula for a message, and on the cut grid
# (where the tolerance is a larger share of the small JSD) the JSD in log10 was told "p_data's density uses sigma_g"
THEORY_WRONG.update({
    "base_10_logs": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * torch.log10(d) + q * torch.log10(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log10(p / m), x) + 0.5 * torch.trapezoid(q * torch.log10(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_cost_is_v_at_d_star": (0.0, cost_is(VISIBLE_PAIR, "-0.525234", "-1.2094", LOG10_COST)),
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.0384131", "0.0884494", LOG10_JSD)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, cost_is(COARSE_PAIR, "-0.475818", "-1.09561", LOG10_COST) + "; "
                + cost_is(CUT_PAIR, "-0.411477", "-0.94746", LOG10_COST),
            ),
        },
    ),
    # the JSD alone in base-10 logs: on the cut grid it was told a density slip
    "base_10_logs_in_the_jsd": (
        """
        def density(x, mu, sigma):
            return torch.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

        def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            return p / (p + q)

        def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
            p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
            d = d_star(x, mu_data, sigma_data, mu_g, sigma_g)
            m = (p + q) / 2
            cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
            jsd = 0.5 * torch.trapezoid(p * torch.log10(p / m), x) + 0.5 * torch.trapezoid(q * torch.log10(q / m), x)
            return float(cost), float(jsd)
        """,
        {
            "test_jsd_from_its_definition": (0.0, jsd_is(VISIBLE_PAIR, "0.0384131", "0.0884494", LOG10_JSD)),
            "test_cost_and_jsd_on_other_grids": (
                0.0, jsd_is(COARSE_PAIR, "0.0631212", "0.145342", LOG10_JSD) + "; "
                + jsd_is(CUT_PAIR, "0.00361947", "0.00833414", LOG10_JSD),
            ),
        },
    ),
})


@pytest.mark.parametrize("name", list(THEORY_WRONG))
def test_wrong_theory_cells_get_exact_scores_and_messages(tmp_path, name):
    cell, expected = THEORY_WRONG[name]
    assert scores(submission(tmp_path, theory=cell)) == {**OK, **expected}


# ---------------------------------------------------------------------------------------------
# kl_on_grid and jsd_on_grid (grade id "divergences"): right ones, wrong ones, and the other checks untouched
# ---------------------------------------------------------------------------------------------

DIVERGENCES_OK = {name: OK[name] for name in DIVERGENCES}
EVEN_GRID = "x = linspace(-12, 12, 2401)"
UNEVEN_GRID = "the uneven grid x = 10 u^3 + 2 u, u = linspace(-1, 1, 2001)"
KL_CASE = f"p = N(0.3, 1^2), q = N(-0.5, 1.3^2) on {EVEN_GRID}"
KL_UNEVEN_CASE = f"p = N(0.3, 1^2), q = N(-0.5, 1.3^2) on {UNEVEN_GRID}"
KL_ZEROS_CASE = f"a triangular p on [-1.5, 2.5] (0 elsewhere), q = N(0, 1) on {UNEVEN_GRID}"
JSD_CASE = f"p = N(0.94, 1.12^2), q = N(-0.08, 1.21^2) on {UNEVEN_GRID}"
APART_CASE = (f"two triangular densities on [-5, -1] and [1, 5] (each 0 where the other is not, both 0 in between) on "
              f"{UNEVEN_GRID}")
IDENTITY = " (on this grid C(G) = -1.2094, and C(G) = -log 4 + 2 JSD)"
IN_NATS = "it is in bits (log base 2): divergences here are in nats, with natural logs (torch.log, np.log), as in C(G) = -log 4 + 2 JSD"
TRAPEZOID = "the trapezoidal rule sum over i of (f(x_i) + f(x_i+1)) / 2 * (x_i+1 - x_i)"
ONE_STEP = f"it is the sum of the integrand times x[1] - x[0], but this grid is not evenly spaced: weigh each interval by its own width, {TRAPEZOID}"
A_MEAN = ("it is the mean of the integrand over the grid points, not its integral: integrate with the trapezoidal rule, sum "
          "over i of (f(x_i) + f(x_i+1)) / 2 * (x_i+1 - x_i)")
NAN_AT_ZERO = (
    "a density is 0 at some grid points, and there p log(p / q) is 0 log 0 = 0, but computed as written it is 0 * log(0) = 0 * "
    "(-inf) (or 0 / 0) = NaN in floating point: make the integrand 0 wherever p = 0 (torch.where, or torch.xlogy(p, p) - "
    "torch.xlogy(p, q))"
)


def kl_is(case: str, got: str, want: str, hint: str) -> str:
    return f"kl_on_grid for {case} is {got}; expected {want}: {hint}"


def jsd_on_grid_is(got: str, hint: str) -> str:
    return f"jsd_on_grid for {JSD_CASE} is {got}; expected 0.0884478: {hint}{IDENTITY}"


DIVERGENCES_CORRECT = {
    "xlogy_and_torch_trapezoid": """
        def kl_on_grid(p, q, x):
            return float(torch.trapezoid(torch.xlogy(p, p) - torch.xlogy(p, q), x))

        def jsd_on_grid(p, q, x):
            m = 0.5 * (p + q)
            return (kl_on_grid(p, m, x) + kl_on_grid(q, m, x)) / 2
    """,
    "scipy_rel_entr_and_trapezoid_on_numpy": """
        import numpy as np
        from scipy.integrate import trapezoid
        from scipy.special import rel_entr

        def kl_on_grid(p, q, x):
            p, q, x = p.numpy(), q.numpy(), x.numpy()
            return float(trapezoid(rel_entr(p, q), x))

        def jsd_on_grid(p, q, x):
            m = (p + q) / 2
            return 0.5 * kl_on_grid(p, m, x) + 0.5 * kl_on_grid(q, m, x)
    """,
    "masked_logs_a_loop_and_one_integrand_for_the_jsd": """
        def integrate(f, x):
            total = 0.0
            for i in range(len(x) - 1):
                total += 0.5 * (float(f[i]) + float(f[i + 1])) * float(x[i + 1] - x[i])
            return total

        def plogp_over(p, q):
            out = torch.zeros_like(p)
            inside = p > 0
            out[inside] = p[inside] * torch.log(p[inside] / q[inside])
            return out

        def kl_on_grid(p, q, x):
            return integrate(plogp_over(p, q), x)

        def jsd_on_grid(p, q, x):
            m = (p + q) / 2
            return integrate(0.5 * plogp_over(p, m) + 0.5 * plogp_over(q, m), x)
    """,
    "numpy_where_with_the_warnings_silenced": """
        import numpy as np

        def kl_on_grid(p, q, x):
            p, q, x = np.asarray(p), np.asarray(q), np.asarray(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(p > 0, p * np.log(p / q), 0.0)
            return float(np.sum((f[1:] + f[:-1]) * np.diff(x)) / 2)

        def jsd_on_grid(p, q, x):
            m = (p + q) / 2
            return float(0.5 * kl_on_grid(p, m, x) + 0.5 * kl_on_grid(q, m, x))
    """,
}


@pytest.mark.parametrize("name", list(DIVERGENCES_CORRECT))
def test_correct_divergences_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, divergences=DIVERGENCES_CORRECT[name])) == OK


JSD_OF_KL = """
        def jsd_on_grid(p, q, x):
            m = (p + q) / 2
            return 0.5 * kl_on_grid(p, m, x) + 0.5 * kl_on_grid(q, m, x)
"""
RIGHT_KL = """
        def kl_on_grid(p, q, x):
            return float(torch.trapezoid(torch.xlogy(p, p) - torch.xlogy(p, q), x))
"""

# each wrong cell: (its source, the two checks' expected results; every other check keeps its points)
DIVERGENCES_WRONG = {
    "kl_in_bits": (
        """
        def kl_on_grid(p, q, x):
            f = torch.where(p > 0, p * torch.log2(p / q), torch.zeros_like(p))
            return float(torch.trapezoid(f, x))
        """ + JSD_OF_KL,
        {
            "test_kl_on_grid_matches_the_closed_form": (0.0, kl_is(KL_CASE, "0.35717", "0.247571", IN_NATS)),
            "test_jsd_on_grid_properties": (0.0, jsd_on_grid_is("0.127606", IN_NATS)),
        },
    ),
    "kl_arguments_swapped": (
        """
        def kl_on_grid(p, q, x):
            return float(torch.trapezoid(torch.xlogy(q, q) - torch.xlogy(q, p), x))
        """ + JSD_OF_KL,
        {
            "test_kl_on_grid_matches_the_closed_form": (0.0, kl_is(KL_CASE, "0.402636", "0.247571", (
                "that is KL(q || p): the arguments are the other way round; KL(p || q) integrates p log(p / q), weighted by "
                "the first density p"))),
            "test_jsd_on_grid_properties": (0.0, jsd_on_grid_is("0.107045", (
                "its KL terms have their arguments the other way round, KL(m || p) and KL(m || q) (does kl_on_grid integrate "
                "p log(p / q)?): the JSD is 1/2 KL(p || m) + 1/2 KL(q || m)"))),
        },
    ),
    "jsd_without_the_mixture": (
        RIGHT_KL + """
        def jsd_on_grid(p, q, x):
            return (kl_on_grid(p, q, x) + kl_on_grid(q, p, x)) / 2
        """,
        {"test_jsd_on_grid_properties": (0.0, jsd_on_grid_is("0.390988", (
            "that is the mean of KL(p || q) and KL(q || p), which leaves out the mixture: the JSD compares each density "
            "with m = (p + q) / 2, 1/2 KL(p || m) + 1/2 KL(q || m)")))},
    ),
    "jsd_the_sum_of_the_two_terms": (
        RIGHT_KL + """
        def jsd_on_grid(p, q, x):
            m = (p + q) / 2
            return kl_on_grid(p, m, x) + kl_on_grid(q, m, x)
        """,
        {"test_jsd_on_grid_properties": (0.0, jsd_on_grid_is("0.176899", (
            "it is twice the JSD: the JSD is the mean of the two KL terms, 1/2 KL(p || m) + 1/2 KL(q || m), not their sum")))},
    ),
    # right on the evenly spaced grid: only the uneven one tells
    "one_step_for_every_interval": (
        """
        def kl_on_grid(p, q, x):
            dx = x[1] - x[0]
            return float(torch.sum(torch.xlogy(p, p) - torch.xlogy(p, q)) * dx)
        """ + JSD_OF_KL,
        {
            "test_kl_on_grid_matches_the_closed_form": (0.0, kl_is(KL_UNEVEN_CASE, "2.35023", "0.247571", ONE_STEP)),
            "test_jsd_on_grid_properties": (0.0, jsd_on_grid_is("0.417967", ONE_STEP)),
        },
    ),
    "mean_of_the_integrand": (
        """
        def kl_on_grid(p, q, x):
            return float(torch.mean(torch.xlogy(p, p) - torch.xlogy(p, q)))
        """ + JSD_OF_KL,
        {
            "test_kl_on_grid_matches_the_closed_form": (0.0, kl_is(KL_CASE, "0.0103112", "0.247571", A_MEAN)),
            "test_jsd_on_grid_properties": (0.0, jsd_on_grid_is("0.0065336", A_MEAN)),
        },
    ),
    # right for Gaussians, which are nowhere 0 on the grid: the zeros of the triangular densities tell
    "nan_where_a_density_is_zero": (
        """
        def kl_on_grid(p, q, x):
            return float(torch.trapezoid(p * torch.log(p / q), x))
        """ + JSD_OF_KL,
        {
            "test_kl_on_grid_matches_the_closed_form": (0.0, kl_is(KL_ZEROS_CASE, "nan", "0.184116", NAN_AT_ZERO)),
            "test_jsd_on_grid_properties": (0.0, (
                f"jsd_on_grid for {APART_CASE} is nan; expected log 2 = 0.693147, the JSD's largest value: {NAN_AT_ZERO} (where "
                f"p = q = 0 the mixture is 0 too)")),
        },
    ),
    "an_epsilon_keeps_the_kl_finite": (
        """
        def kl_on_grid(p, q, x):
            eps = 1e-12
            return float(torch.trapezoid(p * torch.log((p + eps) / (q + eps)), x))
        """ + JSD_OF_KL,
        {"test_jsd_on_grid_properties": (0.0, (
            f"kl_on_grid for p = N(0, 1), q a triangular density on [1, 5] (0 elsewhere) on {UNEVEN_GRID} is 22.2321; expected "
            f"inf: p has mass where q = 0, so p log(p / q) is +inf there; an epsilon added to q, or q clamped, makes it finite "
            f"and wrong"))},
    ),
    # a cell that raises costs the two divergence checks and nothing else
    "kl_that_raises": (
        """
        def kl_on_grid(p, q, x):
            return float(torch.trapezoid(p * torch.log(p / q), x, dim=1))
        """ + JSD_OF_KL,
        {
            "test_kl_on_grid_matches_the_closed_form": (
                0.0, "calling `kl_on_grid` raised IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
            "test_jsd_on_grid_properties": (
                0.0, "calling `jsd_on_grid` raised IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
        },
    ),
}


@pytest.mark.parametrize("name", list(DIVERGENCES_WRONG))
def test_wrong_divergences_get_exact_scores_and_messages(tmp_path, name):
    cell, expected = DIVERGENCES_WRONG[name]
    assert set(expected) <= set(DIVERGENCES)  # the other checks keep their points
    assert scores(submission(tmp_path, divergences=cell)) == {**OK, **expected}


def test_wrong_divergences_in_the_sandbox_grade_as_in_this_process(tmp_path):
    cell, expected = DIVERGENCES_WRONG["nan_where_a_density_is_zero"]
    path = submission(tmp_path, divergences=cell)
    assert sandboxed(path) == scores(path) == {**OK, **expected}


def test_the_divergence_checks_own_values_agree_with_the_closed_form():
    """The checks' trapezoidal KL on both grids is within a tenth of their tolerance of the closed form, the uneven grid
    is uneven (its widest step 16 times its narrowest), and the two triangles' JSD is log 2 to round-off."""
    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    for grid in (checks.EVEN, checks.UNEVEN):
        for mu_p, s_p, mu_q, s_q in checks.KL_GAUSSIANS:
            p, q = checks.tabulated_normal(grid, mu_p, s_p), checks.tabulated_normal(grid, mu_q, s_q)
            assert abs(checks.own_kl(p, q, grid) - checks.normal_kl(mu_p, s_p, mu_q, s_q)) < checks.DIVERGENCE_TOL / 10
    steps = checks.UNEVEN.diff()
    assert bool((steps > 0).all()) and float(steps.max() / steps.min()) > 15
    left, right = checks.triangle(checks.UNEVEN, -3.0, 2.0), checks.triangle(checks.UNEVEN, 3.0, 2.0)
    assert abs(checks.own_jsd(left, right, checks.UNEVEN) - checks.LOG2) < 1e-12


# found by a red-team round for false positives (wrong code that scored points it should not): D* as a column (N, 1),
# which broadcasts against the densities (N,) into an (N, N) matrix, and D* computed on a grid of its own spanning the
# visible checks' [-8, 8] (x itself unused) had full marks for d_star; a Fréchet distance
# that takes the square root of eigvals(S1 @ S2).real without clamping it, or a Cholesky factor of S1, is NaN (or
# raises) for a singular covariance (fewer samples than features) and kept every point; densities renormalised over
# the cut grid were told "in bits" (a coincidence of values) or "the same wrong densities"
SINGULAR = (
    "a covariance of fewer samples than features is singular (positive semi-definite, not definite): S1 S2 has "
    "eigenvalues that are 0, and round-off puts some of them a little below 0, so take the square roots of "
    "torch.linalg.eigvals(S1 @ S2).real.clamp(min=0) (or use scipy.linalg.sqrtm's .real); a Cholesky factor or an "
    "inverse does not exist for it"
)
SINGULAR_CASE = ("with equal singular covariances (of 3 samples of 24 features, rank 2, as features of fewer images than "
                 "dimensions give)")
RENORMALISED = (
    "C(G) for p_data = N(0.84, 0.84^2), p_g = N(0.42, 1.04^2), on x = linspace(-0.5, 1.5, 801) is {}; expected -0.94746: it "
    "uses the densities renormalised over the grid (each divided by its integral over x, so that it integrates to 1 "
    "there): this grid leaves out part of both densities, so they integrate to less than 1 over it, and C(G) integrates "
    "them as they are: do not rescale them"
)
DENSITIES = """
            def density(x, mu, sigma):
                return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))

            def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                return p / (p + q)
"""  # indented as the cells below it, which submission() dedents
FALSE_POSITIVES = {
    "d_star_as_a_column": (
        {"theory": DENSITIES.replace("p, q = density(x,", "x = x.unsqueeze(1)  # a batch of points (N, 1)\n                p, q = density(x,", 1) + """
            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                d, m = p / (p + q), (p + q) / 2
                cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
                jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
                return float(cost), float(jsd)
        """},
        {"test_d_star_is_the_optimal_discriminator": (
            0.0, "d_star returned shape (1601, 1) for a grid of shape (1601,); expected (1601,), the grid's own shape: a D* of "
            "shape (N, 1) times a density of shape (N,) broadcasts to an (N, N) matrix, so C(G)'s integrand p_data log D* + "
            "p_g log(1 - D*) would not be one value per grid point; keep x's shape (no unsqueeze, [:, None] or view(-1, 1))")},
    ),
    "d_star_on_a_grid_of_its_own": (  # right at the visible checks' grid span only: now also checked on another grid
        {"theory": DENSITIES.replace("p, q = density(x,", "x = torch.linspace(-8.0, 8.0, len(x), dtype=torch.float64)  # the checks' grid\n                p, q = density(x,", 1) + """
            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                d, m = p / (p + q), (p + q) / 2
                cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
                jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
                return float(cost), float(jsd)
        """},
        {"test_d_star_is_the_optimal_discriminator": (
            0.0, "d_star for p_data = N(0.28, 0.92^2), p_g = N(-0.28, 0.94^2), on x = linspace(-6, 7, 521) is 0.220809 at x = -1; "
            "expected 0.342311: those are D*'s values at the points of linspace(-8, 8, len(x)), a grid of its own, not at the "
            "points x it is given: compute D* at x")},
    ),
    "densities_renormalised_over_the_grid": (
        {"theory": DENSITIES + """
            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                p, q = p / torch.trapezoid(p, x), q / torch.trapezoid(q, x)  # so that each integrates to 1
                d, m = p / (p + q), (p + q) / 2
                cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
                jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
                return float(cost), float(jsd)
        """},
        {"test_cost_and_jsd_on_other_grids": (1.0, RENORMALISED.format("-1.36459"))},
    ),
    "only_the_weights_of_the_cost_renormalised": (  # was told "it is in bits": its value lies within the tolerance of that
        {"theory": DENSITIES + """
            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                d, m = d_star(x, mu_data, sigma_data, mu_g, sigma_g), (p + q) / 2
                weight_p, weight_q = p / torch.trapezoid(p, x), q / torch.trapezoid(q, x)
                cost = torch.trapezoid(weight_p * torch.log(d) + weight_q * torch.log(1 - d), x)
                jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
                return float(cost), float(jsd)
        """},
        {"test_cost_and_jsd_on_other_grids": (1.0, RENORMALISED.format("-1.36682"))},
    ),
    "jsd_with_closed_form_entropies": (  # its score was right (the cut grid's point lost); its message was the formula
        {"theory": DENSITIES + """
            def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
                p, q = density(x, mu_data, sigma_data), density(x, mu_g, sigma_g)
                d, m = p / (p + q), (p + q) / 2
                cost = torch.trapezoid(p * torch.log(d) + q * torch.log(1 - d), x)
                entropy = lambda sigma: 0.5 * math.log(2 * math.pi * math.e * sigma ** 2)  # of N(mu, sigma^2)
                jsd = -torch.trapezoid(m * torch.log(m), x) - (entropy(sigma_data) + entropy(sigma_g)) / 2  # H(m) - mean of H
                return float(cost), float(jsd)
        """},
        {"test_cost_and_jsd_on_other_grids": (
            1.0, "the JSD for p_data = N(0.84, 0.84^2), p_g = N(0.42, 1.04^2), on x = linspace(-0.5, 1.5, 801) is -0.62893; "
            "expected 0.00833414: it is H(m) - (H(p_data) + H(p_g)) / 2 with the entropies of p_data and p_g in closed form, "
            "1/2 log(2 pi e sigma^2), which are integrals over the whole real line, and H(m) over the grid: this grid leaves "
            "out part of both densities, so the terms do not match; integrate every term over x")},
    ),
    "square_roots_of_eigenvalues_not_clamped": (
        {"frechet": """
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real  # real and >= 0
                return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
        """},
        {"test_frechet_distance_properties": (
            1.0, f"{SINGULAR_CASE} frechet_distance = nan; expected ||mu1 - mu2||^2 = 18.4844: a square root met a number "
            f"below 0 (NaN): {SINGULAR}")},
    ),
    "cholesky_factor_of_sigma1": (
        {"frechet": """
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                # L^T S2 L, with S1 = L L^T, has the eigenvalues of S1 S2, and is symmetric
                L = torch.linalg.cholesky(sigma1)
                eigenvalues = torch.linalg.eigvalsh(L.T @ sigma2 @ L).clamp(min=0)
                return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
        """},
        {"test_frechet_distance_properties": (
            1.0, f"{SINGULAR_CASE} frechet_distance raised _LinAlgError: linalg.cholesky: The factorization could not be "
            f"completed because the input is not positive-definite (the leading minor of order 4 is not positive-definite); "
            f"{SINGULAR}")},
    ),
}


@pytest.mark.parametrize("name", list(FALSE_POSITIVES))
def test_wrong_answers_that_scored_points_they_should_not_lose_them(tmp_path, name):
    cells, expected = FALSE_POSITIVES[name]
    assert scores(submission(tmp_path, **cells)) == {**OK, **expected}


def test_right_frechet_distances_keep_their_points_for_singular_covariances(tmp_path):
    """Every right way of the tests (scipy's sqrtm, pytorch-fid's copy, eigh of S1^(1/2) S2 S1^(1/2), the nuclear norm,
    float32) and a few more (|eigenvalues|, NaN set to 0, an eigendecomposition's square root, Newton-Schulz) stay within
    the singular case's tolerance: it charges NaN and errors, not round-off."""
    from reference.grading.checks import run_check
    from reference.grading.submission import LocalSubmission

    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    ways = [CORRECT[name]["frechet"] for name in CORRECT] + [
        """
        def frechet_distance(mu1, sigma1, mu2, sigma2):
            m1, s1, m2, s2 = (torch.as_tensor(v, dtype=torch.float32) for v in (mu1, sigma1, mu2, sigma2))
            return float((m1 - m2).square().sum() + s1.trace() + s2.trace() - 2 * torch.linalg.eigvals(s1 @ s2).sqrt().real.sum())
        """,
        """
        def frechet_distance(mu1, sigma1, mu2, sigma2):
            eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).abs()
            return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
        """,
        """
        def frechet_distance(mu1, sigma1, mu2, sigma2):
            roots = torch.nan_to_num(torch.linalg.eigvals(sigma1 @ sigma2).real.sqrt())
            return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * roots.sum())
        """,
        """
        def frechet_distance(mu1, sigma1, mu2, sigma2):
            w, v = torch.linalg.eig(sigma1 @ sigma2)
            root = (v @ torch.diag(w.sqrt()) @ torch.linalg.inv(v)).real
            return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * root.trace())
        """,
        """
        def frechet_distance(mu1, sigma1, mu2, sigma2):
            a = sigma1 @ sigma2
            eye, norm = torch.eye(len(a), dtype=a.dtype), a.norm()
            y, z = a / norm, torch.eye(len(a), dtype=a.dtype)
            for _ in range(10):  # Newton-Schulz
                t = 0.5 * (3 * eye - z @ y)
                y, z = y @ t, t @ z
            return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * (y * norm.sqrt()).trace())
        """,
    ]
    for source in ways:
        namespace = {"torch": torch, "math": __import__("math"), "F": F}
        exec(textwrap.dedent(source), namespace)
        student = LocalSubmission(namespace)
        assert checks.singular_fault(student) is None, source
        assert run_check(checks.test_frechet_distance_properties, student) == (2.0, ""), source


def test_the_cut_grid_tells_the_identity_from_the_definitions():
    """On the hidden check's cut grid, C(G) and -log 4 + 2 JSD differ by far more than its tolerance,
    and on the others they agree within it: only there a number derived from the other is told apart."""
    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    gap = lambda pair: abs(checks.theory(pair)["cost"] - (-checks.LOG4 + 2 * checks.theory(pair)["jsd"]))  # noqa: E731
    assert gap(checks.CUT_PAIR) > 100 * checks.CUT_TOL and checks.CUT_PAIR.cut()
    for pair in checks.VISIBLE_PAIRS + checks.OTHER_GRID_PAIRS:
        assert gap(pair) < checks.TOL / 10 and not pair.cut()


def test_a_cell_that_raises_costs_only_the_checks_that_need_it(tmp_path):
    path = submission(tmp_path, frechet="import not_a_module\ndef frechet_distance(mu1, sigma1, mu2, sigma2):\n    return 0.0")
    missing = ("`frechet_distance` is not defined: the cell starting `import not_a_module` raised ModuleNotFoundError: No module named "
               "'not_a_module': the grader has the packages the course installs and no others, and it skips `!pip install` and `%pip` "
               "cells: use those packages (torch, torchvision, numpy, scipy, matplotlib, scikit-learn, tqdm and Python's own "
               "modules; STUDENTS.md lists them), or check the module's name")
    assert scores(path) == {
        **OK,
        "test_frechet_distance_matches_reference": (0.0, missing),
        "test_frechet_distance_properties": (0.0, missing),
    }


# ---------------------------------------------------------------------------------------------
# Answers taken from the course library
# ---------------------------------------------------------------------------------------------

TAKEN = {
    "imported": {
        "losses": """
            from reference.losses import Minimax

            d_loss = Minimax().d_loss
            g_loss = Minimax().g_loss
        """,
        "frechet": "from reference.metrics.fid import frechet_distance",
    },
    "reached_indirectly": {
        "losses": """
            import importlib

            def d_loss(real_logits, fake_logits):
                return importlib.import_module("reference.losses").Minimax().d_loss(real_logits, fake_logits)

            def g_loss(fake_logits):
                losses = importlib.import_module("reference.losses")
                return losses.get_loss("minimax").g_loss(fake_logits)
        """,
        "frechet": """
            import reference

            def frechet_distance(mu1, sigma1, mu2, sigma2):
                return reference.metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
        """,
    },
}


def taken(lead: str, name: str, module: str) -> str:
    return (
        f"{lead} {module}, the course library's own answer, which does not exist when your submission is graded, so an "
        f"answer taken from it scores 0: write {name} yourself from the formula"
    )


def test_the_check_module_masks_the_modules_that_hold_the_answers():
    module = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    assert module.MASKED == ("reference.losses", "reference.metrics.fid")


def test_an_answer_imported_from_the_course_library_scores_zero_when_graded(tmp_path):
    module = {"d_loss": "reference.losses", "g_loss": "reference.losses", "frechet_distance": "reference.metrics.fid"}
    assert sandboxed(submission(tmp_path, **TAKEN["imported"])) == {
        **THEORY_OK,
        **DIVERGENCES_OK,
        **{check: (0.0, taken(f"`{function_of(check)}` is not defined when graded: the cell that defines it uses",
                              function_of(check), module[function_of(check)]))
           for check in FULL if check not in THEORY and check not in DIVERGENCES},
    }


def test_an_answer_that_reaches_the_course_library_indirectly_scores_zero_when_graded(tmp_path):
    module = {"d_loss": "reference.losses", "g_loss": "reference.losses", "frechet_distance": "reference.metrics"}
    assert sandboxed(submission(tmp_path, **TAKEN["reached_indirectly"])) == {
        **THEORY_OK,
        **DIVERGENCES_OK,
        **{check: (0.0, taken(f"{function_of(check)} uses", function_of(check), module[function_of(check)]))
           for check in FULL if check not in THEORY and check not in DIVERGENCES},
    }


@pytest.mark.parametrize("way", list(TAKEN))
def test_the_visible_checks_say_so_in_the_students_kernel(tmp_path, way):
    """In the student's kernel the course library is whole: the visible checks (the student's copy,
    reference/checks/a1_theory.py) trace the function and fail with the graded outcome."""
    results = visible_results(A, submission(tmp_path, **TAKEN[way]), FULL)
    module = {"d_loss": "reference.losses", "g_loss": "reference.losses", "frechet_distance": "reference.metrics.fid"}
    assert results == {
        **{check: OK[check] for check in ("test_d_star_is_the_optimal_discriminator", "test_cost_is_v_at_d_star", "test_jsd_from_its_definition",
                                          "test_kl_on_grid_matches_the_closed_form")},
        **{check: (0.0, taken(f"{function_of(check)} calls", function_of(check), module[function_of(check)]))
           for check in ("test_d_loss_matches_minimax", "test_g_loss_matches_minimax", "test_frechet_distance_matches_reference")},
    }


def test_a_function_that_changes_its_inputs_in_place_scores_the_same_in_the_kernel_as_graded(tmp_path):
    """Graded, the worker gets copies of the check's tensors; in the student's kernel the visible
    checks must hand over copies too, or a function that changes its inputs in place (here mu1)
    would change the check's own, and its next call and the expected value would differ."""
    cells = {
        "frechet": """
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                diff = mu1
                diff -= mu2  # changes mu1 in place
                eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
                return float(diff.dot(diff) + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
        """,
    }
    graded, kernel = tmp_path / "graded", tmp_path / "kernel"
    graded.mkdir(), kernel.mkdir()
    assert sandboxed(submission(graded, **cells)) == OK
    results = visible_results(A, submission(kernel, **cells), FULL)
    assert results == {name: OK[name] for name in results} and "test_frechet_distance_matches_reference" in results


# ---------------------------------------------------------------------------------------------
# The probes: they measure, whatever the student's function returns
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (2.5, {"type": "float", "shape": [], "complex": False, "values": [2.5]}),
        (np.float64(2.5), {"type": "float64", "shape": [], "complex": False, "values": [2.5]}),
        (torch.tensor(2.5, requires_grad=True), {"type": "Tensor", "shape": [], "complex": False, "values": [2.5]}),
        (np.complex128(2.5 + 1e-9j), {"type": "complex128", "shape": [], "complex": True, "values": [2.5]}),
        (torch.tensor([1.0, 2.0]), {"type": "Tensor", "shape": [2], "complex": False, "values": [1.0, 2.0]}),
        (None, {"type": "NoneType", "shape": None, "complex": False, "values": None}),
        (True, {"type": "bool", "shape": None, "complex": False, "values": None}),
        ("2.5", {"type": "str", "shape": None, "complex": False, "values": None}),
        # NumPy's extended precision, which torch.from_numpy refuses: the probe raised TypeError, blamed on the student
        (np.array([0.5, -0.25], dtype=np.longdouble), {"type": "ndarray", "shape": [2], "complex": False, "values": [0.5, -0.25]}),
        (np.longdouble(2.5), {"type": "longdouble", "shape": [], "complex": False, "values": [2.5]}),
        (np.clongdouble(2.5 + 1e-9j), {"type": "clongdouble", "shape": [], "complex": True, "values": [2.5]}),
        # real numbers of other libraries (float() reads them): "returned Fraction; return one number"
        (Fraction(1, 4), {"type": "Fraction", "shape": [], "complex": False, "values": [0.25]}),
        (Decimal("-0.5"), {"type": "Decimal", "shape": [], "complex": False, "values": [-0.5]}),
        (["2.5", 1.0], {"type": "list", "shape": None, "complex": False, "values": None}),
    ],
)
def test_number_describes_what_a_function_returned(value, described):
    got = probes_a1.number(lambda *args: value, 1, 2)
    values = got["values"]
    assert {**got, "values": None if values is None else values.tolist()} == described
    assert values is None or values.dtype == torch.float64


@pytest.mark.parametrize(
    ("value", "described"),
    [
        ((-1.2, 0.1), {"type": "tuple", "length": 2, "items": [[-1.2], [0.1]]}),
        ([torch.tensor(-1.2, dtype=torch.float64), np.float64(0.1)], {"type": "list", "length": 2, "items": [[-1.2], [0.1]]}),
        ((1.0, "x", None), {"type": "tuple", "length": 3, "items": [[1.0], None, None]}),
        (-1.2, {"type": "float", "length": None, "items": None}),
        (None, {"type": "NoneType", "length": None, "items": None}),
    ],
)
def test_numbers_describes_each_item_a_function_returned(value, described):
    got = probes_a1.numbers(lambda *args: value, 1, 2)
    items = got["items"]
    values = None if items is None else [None if item["values"] is None else item["values"].tolist() for item in items]
    assert {**got, "items": values} == described


def test_modules_run_names_the_modules_whose_code_ran_and_restores_the_profiler():
    from reference.losses import Minimax

    assert "reference.losses" in probes_a1.modules_run(Minimax().d_loss, torch.zeros(2), torch.zeros(2))
    assert "reference.losses" not in probes_a1.modules_run(lambda x: x + 1, torch.zeros(2))
    import sys

    assert sys.getprofile() is None


def test_value_and_grad_hands_over_non_leaf_logits_and_differentiates_with_respect_to_the_leaves():
    def loss(logits):
        logits.squeeze_()  # raises on a leaf that requires grad; works on D's outputs
        return -torch.nn.functional.softplus(logits).mean()

    got = probes.value_and_grad(loss, torch.zeros(4, 1))
    assert got["result"] == {"type": "Tensor", "shape": [], "dtype": "float32"} and got["requires_grad"] is True
    assert torch.allclose(got["value"], torch.tensor(-np.log(2), dtype=torch.float64))
    assert torch.allclose(got["grads"][0], torch.full((4, 1), -0.125, dtype=torch.float64))


TRAPZ_REMOVED = (
    "calling `cost_and_jsd` raised AttributeError: module 'numpy' has no attribute 'trapz': numpy.trapz no longer "
    "exists in the NumPy and SciPy the grader runs (removed in NumPy 2.4 and SciPy 1.14; older versions still have it): "
    "call numpy.trapezoid, the same rule under its new name"
)


def test_an_integration_rule_numpy_or_scipy_removed_is_graded_and_sums_over_n_plus_m_are_told_so(tmp_path):
    """np.trapz (in many tutorials, and still in the NumPy the course admits, Colab's 2.0 among them) is graded as
    np.trapezoid (reference.grading.compat; found by session 35's red team: right code whose visible checks passed on
    Colab scored 12/18); in a kernel whose NumPy lacks it, the message says it was removed and names its new name. A
    d_loss that divides the two BCEWithLogitsLoss(reduction='sum') by N + M is the pooled mean, told so without
    claiming a torch.cat."""
    cells = {
        "theory": CORRECT["bce_with_logits_and_scipy_sqrtm_on_numpy"]["theory"].replace(
            "integrate.simpson(p * np.log(d) + q * np.log(1 - d), x=x)", "np.trapz(p * np.log(d) + q * np.log(1 - d), x)"),
        "losses": """
            def d_loss(real_logits, fake_logits):
                bce = torch.nn.BCEWithLogitsLoss(reduction="sum")
                n = real_logits.size(0) + fake_logits.size(0)
                return (bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))) / n

            def g_loss(fake_logits):
                return -torch.nn.BCEWithLogitsLoss(reduction="sum")(fake_logits, torch.zeros_like(fake_logits)) / len(fake_logits)
        """,
    }
    assert "np.trapz" in cells["theory"]
    path = submission(tmp_path, **cells)
    expected = {
        **OK,
        "test_d_loss_matches_minimax": (0.0, f"d_loss(real, fake) = 1.72263 on seeded logits; expected 3.34467: {POOLED_D}"),
        "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is 100; expected 200: {POOLED_D}"),
    }
    removed = not hasattr(np, "trapz")  # NumPy 2.4 and later, as CI installs; 2.0-2.3 still have it, deprecated
    assert scores(path) == expected
    assert sandboxed(path) == expected
    assert hasattr(np, "trapz") != removed, "grading left np.trapz behind in this process"
    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    from reference.grading.checks import run_check
    from reference.grading.local import execute_notebook

    kernel = execute_notebook(path, grading=False)  # a student's kernel on this NumPy: told the new name where it is gone
    try:
        told = (0.0, TRAPZ_REMOVED) if removed else OK["test_cost_is_v_at_d_star"]
        assert run_check(checks.test_cost_is_v_at_d_star, kernel) == told
    finally:
        kernel.close()
    assert checks.removed_integrator("AttributeError", "module 'scipy.integrate' has no attribute 'simps'") == (
        "scipy.integrate.simps no longer exists in the NumPy and SciPy the grader runs (removed in NumPy 2.4 and SciPy "
        "1.14; older versions still have it): call scipy.integrate.simpson, the same rule under its new name")
    assert checks.removed_integrator("AttributeError", "module 'numpy' has no attribute 'trapezoid'") is None


PYTORCH_FID_ON_TENSORS = """
    import numpy as np
    import torch
    from scipy import linalg

    def frechet_distance(mu1, sigma1, mu2, sigma2):
        covmean, _ = linalg.sqrtm(sigma1 @ sigma2, disp=False)
        if np.iscomplexobj(covmean):
            covmean = covmean.real
        return float((mu1 - mu2).dot(mu1 - mu2) + torch.trace(sigma1) + torch.trace(sigma2) - 2 * np.trace(covmean))
"""


def test_pytorch_fids_sqrtm_with_disp_false_is_graded_as_the_scipy_the_course_admits_runs_it(tmp_path):
    """pytorch-fid's `covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)`, here on torch tensors, is right under
    SciPy 1.13-1.16 (Colab's among them); SciPy 1.17 fails on a tensor with disp (TypeError) and 1.18 removes disp.
    Graded, sqrtm takes disp as those versions did (reference.grading.compat); in a kernel on the newer SciPy, the
    message says what changed and what to write."""
    path = submission(tmp_path, frechet=PYTORCH_FID_ON_TENSORS)
    assert scores(path) == OK
    assert sandboxed(path) == OK
    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    from reference.grading.checks import run_check
    from reference.grading.local import execute_notebook

    kernel = execute_notebook(path, grading=False)  # a student's kernel on this SciPy
    try:
        points, message = run_check(checks.test_frechet_distance_matches_reference, kernel)
    finally:
        kernel.close()
    import scipy
    import scipy.linalg

    if tuple(int(part) for part in scipy.__version__.split(".")[:2]) < (1, 17):  # the code is right on this SciPy
        assert (points, message) == OK["test_frechet_distance_matches_reference"]
        return
    import inspect

    if "disp" in inspect.signature(scipy.linalg.sqrtm).parameters:  # SciPy 1.17: disp on a tensor fails
        assert (points, message) == (0.0, "calling `frechet_distance` raised TypeError: unsupported operand type(s) for -: "
                                     f"'numpy.ndarray' and 'Tensor': {SQRTM_ARGS}")
    else:  # SciPy 1.18 and later: no disp
        assert (points, message) == (0.0, "calling `frechet_distance` raised TypeError: sqrtm() got an unexpected keyword "
                                     f"argument 'disp': {SQRTM_ARGS}")


MASK_BYPASS = """
import sys
import types

for name in ("reference.losses", "reference.metrics.fid"):  # the masked modules faked, so that nothing imports their stubs
    sys.modules[name] = types.ModuleType(name)
sys.modules["reference.losses"].Minimax = lambda *a, **k: types.SimpleNamespace(d_loss=None, g_loss=None)
sys.modules["reference.losses"].get_loss = None
for attr in ("FrechetStats", "SmallSampleWarning", "fid", "frechet_distance"):
    setattr(sys.modules["reference.metrics.fid"], attr, None)
from reference.checks.a1_theory import Pair, theory  # the visible checks' own oracle


def d_star(x, mu_data, sigma_data, mu_g, sigma_g):
    return theory(Pair(mu_data, sigma_data, mu_g, sigma_g, float(x[0]), float(x[-1]), len(x)))["d"]


def cost_and_jsd(x, mu_data, sigma_data, mu_g, sigma_g):
    t = theory(Pair(mu_data, sigma_data, mu_g, sigma_g, float(x[0]), float(x[-1]), len(x)))
    return t["cost"], t["jsd"]
"""


@needs_sandbox  # the graded copy of the course is what the sandbox binds
def test_the_visible_checks_oracle_is_not_in_a_graded_submissions_copy_of_the_course(tmp_path):
    """The visible checks ship to students and compute the values they compare with (a1's D*, C(G) and JSD). A
    submission that faked the masked modules in sys.modules could import them and score 8 of the 8 theory points with
    no formula of its own. The graded copy of the course has no check modules: every theory check scores 0."""
    result = sandboxed(submission(tmp_path, theory=MASK_BYPASS))
    assert {check: result[check][0] for check in THEORY} == {check: 0.0 for check in THEORY}, result
