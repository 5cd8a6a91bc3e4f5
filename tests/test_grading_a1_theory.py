"""The a1 autograder gives the right score and message to right and wrong code.

Each submission is the solution notebook with the losses cell or the Fréchet distance cell
replaced, executed like a student's notebook and graded by every check of
tests/autograders/test_a1_theory.py. (The written answers are graded by hand.)
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import notebook_with_cells
from reference.grading.runner import grade_notebook

A = "a1_theory"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
FULL = {
    "test_d_loss_matches_minimax": 2.0,
    "test_d_loss_finite_at_logits_of_100": 1.0,
    "test_g_loss_matches_minimax": 2.0,
    "test_g_loss_finite_at_logits_of_100": 1.0,
    "test_frechet_distance_matches_reference": 2.0,
    "test_frechet_distance_properties": 2.0,
}
OK = {name: (points, "") for name, points in FULL.items()}

SOFTPLUS_LOSSES = """
def d_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

def g_loss(fake_logits):
    return -F.softplus(fake_logits).mean()
"""


def submission(tmp_path: Path, **cells: str) -> Path:
    """The solution notebook with the cells of these grade ids ("losses", "frechet") replaced."""
    return notebook_with_cells(SOLUTION, tmp_path, {k: textwrap.dedent(v).strip("\n") for k, v in cells.items()})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    return grade_notebook(path, A, ROOT)


def test_solution_scores_full_marks():
    assert scores(SOLUTION) == OK


def test_unmodified_student_version_scores_zero_on_every_check():
    result = scores(STUDENT)
    assert {name: points for name, (points, _) in result.items()} == {name: 0.0 for name in FULL}
    assert result["test_d_loss_matches_minimax"][1] == (
        "`d_loss` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    )
    assert result["test_frechet_distance_properties"][1] == (
        "`frechet_distance` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    )


CORRECT = {
    "bce_with_logits_and_scipy_sqrtm": {
        "losses": """
            def d_loss(real_logits, fake_logits):
                real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
                return real + fake

            def g_loss(fake_logits):
                return F.logsigmoid(-fake_logits).mean()
        """,
        "frechet": """
            import numpy as np
            from scipy import linalg

            def frechet_distance(mu1, sigma1, mu2, sigma2):
                diff = (mu1 - mu2).numpy()
                covmean = linalg.sqrtm(sigma1.numpy() @ sigma2.numpy()).real
                return diff @ diff + np.trace(sigma1.numpy()) + np.trace(sigma2.numpy()) - 2 * np.trace(covmean)
        """,
    },
    "sum_over_two_means_and_tensor_result": {
        "losses": """
            def d_loss(real_logits, fake_logits):
                return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())

            def g_loss(fake_logits):
                return torch.mean(-F.softplus(fake_logits))
        """,
        "frechet": """
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                # symmetric form: tr((S1^1/2 S2 S1^1/2)^1/2) via eigh
                w, v = torch.linalg.eigh(sigma1)
                root1 = v @ torch.diag(w.clamp(min=0).sqrt()) @ v.T
                inner = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
                return ((mu1 - mu2) ** 2).sum() + torch.trace(sigma1) + torch.trace(sigma2) - 2 * inner
        """,
    },
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, **CORRECT[name])) == OK


HINT = "log(sigmoid(x)) and log(1 - sigmoid(x)) round to log(0) for large |x|; use F.softplus or F.logsigmoid on the logits"
WRONG = {
    "naive_log_of_sigmoid_in_g_loss": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

                def g_loss(fake_logits):
                    return torch.log(1 - torch.sigmoid(fake_logits)).mean()
            """
        },
        {
            **OK,
            "test_g_loss_finite_at_logits_of_100": (0.0, f"g_loss at fake logits +100 is -inf; expected -100: {HINT}"),
        },
    ),
    "naive_logs_in_d_loss": (
        {
            "losses": """
                def d_loss(real_logits, fake_logits):
                    return -(torch.log(torch.sigmoid(real_logits)) + torch.log(1 - torch.sigmoid(fake_logits))).mean()

                def g_loss(fake_logits):
                    return -F.softplus(fake_logits).mean()
            """
        },
        {
            **OK,
            "test_d_loss_finite_at_logits_of_100": (0.0, f"d_loss at real logits -100, fake logits +100 is inf; expected 200: {HINT}"),
        },
    ),
    "non_saturating_instead_of_minimax": (
        {"losses": SOFTPLUS_LOSSES.replace("return -F.softplus(fake_logits).mean()", "return F.softplus(-fake_logits).mean()")},
        {
            **OK,
            "test_g_loss_matches_minimax": (0.0, "g_loss(fake) = 0.918298 on seeded logits; expected -1.24656: that is the non-saturating loss -log D(G(z)); this task asks for the minimax one"),
            "test_g_loss_finite_at_logits_of_100": (0.0, "g_loss at fake logits +100 is 3.72008e-44; expected -100: the minimax loss mean(log(1 - D(G(z))))"),
        },
    ),
    "elementwise_sqrt_in_frechet": (
        {
            "frechet": """
                def frechet_distance(mu1, sigma1, mu2, sigma2):
                    covmean = torch.sqrt(sigma1 @ sigma2)
                    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * covmean.trace())
            """
        },
        {
            **OK,
            "test_frechet_distance_matches_reference": (0.0, "frechet_distance of two 2-D Gaussians is nan; expected 8.3374 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), with the matrix square root (e.g. from the eigenvalues of S1 S2), not an elementwise sqrt"),
            "test_frechet_distance_properties": (0.0, "frechet_distance(N, N) = -1.73692; expected 0; with equal covariances frechet_distance = 5.47627; expected ||mu1 - mu2||^2 = 7.21318"),
        },
    ),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_scores_and_messages(tmp_path, name):
    cells, expected = WRONG[name]
    assert scores(submission(tmp_path, **cells)) == expected


def test_a_cell_that_raises_costs_only_the_checks_that_need_it(tmp_path):
    path = submission(tmp_path, frechet="import not_a_module\ndef frechet_distance(mu1, sigma1, mu2, sigma2):\n    return 0.0")
    result = scores(path)
    missing = "`frechet_distance` is not defined: the cell starting `import not_a_module` raised ModuleNotFoundError: No module named 'not_a_module'"
    assert result == {
        **OK,
        "test_frechet_distance_matches_reference": (0.0, missing),
        "test_frechet_distance_properties": (0.0, missing),
    }
