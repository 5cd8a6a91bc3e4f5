"""The a5 autograder gives the right score and message to right and wrong code.

Each submission is the solution notebook with its "losses" cell (critic_loss, generator_loss) and
its "penalty" cell (gradient_penalty) replaced, graded by the checks of
tests/autograders/test_a5_wgan_gp.py: the solution, the student version and the answer taken from
the library like a student's notebook (its cells in the sandboxed worker, the checks here, across
the proxy), the honest ones in this process (`graded_here`; test_the_sandbox_grades_like_this_process
shows that the sandbox gives a sample of them the same results). The checks of the three functions are independent, so each wrong notebook
carries one mistake per function; the grading run (hidden, 4 points) trains with all three. Full
training runs cost time, so most wrong notebooks also carry a loss that stops the grading run at
its first step (a number, a batch of losses, a detached loss, no return); the others show the run's
own verdicts (no create_graph: the critic is not Lipschitz; the critic's loss negated: its estimate
stays negative). More wrong penalties are graded in this process, through the visible checks'
path (the student's kernel), on the four penalty checks alone; the verdict of the grading run is
tested on runs made up here.

An answer taken from the course library (reference.losses.WGANGP) scores 0 when graded, and the
visible checks say so in the student's kernel.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from conftest import graded_here, notebook_with_cells, visible_results
from reference.grading import probes_a5
from reference.grading.checks import run_check
from reference.grading.local import load_module
from reference.grading.notebook import answered
from reference.grading.runner import grade_notebook
from reference.grading.submission import LocalSubmission
from reference.losses import WGANGP

A = "a5_wgan_gp"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = ROOT / "tests" / "autograders" / f"test_{A}.py"
FULL = {
    "test_critic_loss_matches_reference": 2.0,
    "test_generator_loss_matches_reference": 1.0,
    "test_penalty_at_random_interpolates": 3.0,
    "test_penalty_value_matches_reference": 3.0,
    "test_penalty_trains_the_critic": 2.0,
    "test_penalty_on_other_inputs": 2.0,
    "test_training_lowers_the_critics_estimate": 4.0,
}
OK = {name: (points, "") for name, points in FULL.items()}
PENALTY_CHECKS = ("test_penalty_at_random_interpolates", "test_penalty_value_matches_reference",
                  "test_penalty_trains_the_critic", "test_penalty_on_other_inputs")


def checks():
    return load_module(CHECKS)


def submission(tmp_path: Path, **cells: str) -> Path:
    """The solution notebook with the cells of these grade ids ("losses", "penalty") replaced."""
    return notebook_with_cells(SOLUTION, tmp_path, {k: textwrap.dedent(v).strip("\n") for k, v in cells.items()})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    """An honest submission's results, graded in this process."""
    return graded_here(path, A)


def sandboxed(path: Path) -> dict[str, tuple[float, str]]:
    """The results of `gan-course autograde`: cells in the sandboxed worker, checks across the proxy."""
    return grade_notebook(path, A, ROOT)


def test_the_points_add_up_to_17_of_which_9_visible():
    module = checks()
    found = {name: fn.points for name, fn in vars(module).items() if callable(fn) and hasattr(fn, "visible")}
    assert found == FULL and sum(FULL.values()) == 17.0
    assert sum(fn.points for fn in vars(module).values() if callable(fn) and getattr(fn, "visible", False)) == 9.0


def test_the_check_module_masks_the_course_librarys_losses():
    assert checks().MASKED == ("reference.losses",)


def test_solution_scores_full_marks():
    assert sandboxed(SOLUTION) == OK


def test_unmodified_student_version_scores_zero_on_every_check():
    todo = "`{}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    function = {"test_critic_loss_matches_reference": "critic_loss", "test_generator_loss_matches_reference": "generator_loss",
                "test_training_lowers_the_critics_estimate": "critic_loss"}
    assert sandboxed(STUDENT) == {name: (0.0, todo.format(function.get(name, "gradient_penalty"))) for name in FULL}


# ---------------------------------------------------------------------------------------------
# Right answers, written in the ways students write them
# ---------------------------------------------------------------------------------------------

CORRECT = {
    "eps_n_by_1_expanded_and_linalg_vector_norm": {
        "losses": """
            def critic_loss(critic_real, critic_fake):
                return torch.mean(critic_fake) - torch.mean(critic_real)

            def generator_loss(critic_fake):
                return -torch.mean(critic_fake)
        """,
        "penalty": """
            def gradient_penalty(critic, real, fake, lambda_gp=10.0):
                batch = real.size(0)
                eps = torch.rand(batch, 1)  # (N, 1), then spread over every element of each sample
                eps = eps.expand(batch, real[0].numel()).reshape(real.shape)
                interpolates = eps * real + (1 - eps) * fake
                interpolates.requires_grad_(True)
                out = critic(interpolates)
                grads = torch.autograd.grad(out.sum(), interpolates, create_graph=True)[0]
                norms = torch.linalg.vector_norm(grads.flatten(start_dim=1), ord=2, dim=1)
                return lambda_gp * torch.mean((norms - 1) ** 2)
        """,
    },
    "epsilon_requiring_grad_and_sqrt_of_sum": {
        "losses": """
            def critic_loss(critic_real, critic_fake):
                # one mean of the differences: the two batches have the same size
                return (critic_fake - critic_real).mean()

            def generator_loss(critic_fake):
                return critic_fake.mean().neg()
        """,
        "penalty": """
            def gradient_penalty(critic, real, fake, lambda_gp=10.0):
                # as in DeepLearning.AI's C1W3: epsilon requires grad, so the mix is part of the graph
                shape = (len(real), 1, 1, 1) if real.dim() == 4 else (len(real), 1)
                epsilon = torch.rand(shape, requires_grad=True)
                mixed = real * epsilon + fake * (1 - epsilon)
                mixed_scores = critic(mixed)
                gradient = torch.autograd.grad(
                    inputs=mixed, outputs=mixed_scores, grad_outputs=torch.ones_like(mixed_scores),
                    create_graph=True, retain_graph=True,
                )[0]
                gradient = gradient.view(len(gradient), -1)
                gradient_norm = torch.sqrt(torch.sum(gradient ** 2, dim=1) + 1e-12)
                return lambda_gp * torch.mean((gradient_norm - 1) ** 2)
        """,
    },
    # found by session 35's red team (15/17: the trains check compared single gradient entries to 1e-3 of themselves,
    # and this eps moves a small one by 2e-3 of it, the whole gradient by 2e-5 of its size)
    "eps_of_1e_6_inside_the_square_root": {
        "losses": """
            def critic_loss(critic_real, critic_fake):
                return torch.mean(critic_fake) - torch.mean(critic_real)

            def generator_loss(critic_fake):
                return -torch.mean(critic_fake)
        """,
        "penalty": """
            def gradient_penalty(critic, real, fake, lambda_gp=10.0):
                eps = torch.rand(len(real), *([1] * (real.dim() - 1)))
                x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
                scores = critic(x_hat)
                grad = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)[0]
                grad_norm = torch.sqrt(torch.sum(grad.view(grad.size(0), -1) ** 2, dim=1) + 1e-6)
                return lambda_gp * torch.mean((grad_norm - 1) ** 2)
        """,
    },
    "numpy_eps_from_fake_towards_real_and_extra_critic_calls": {
        "losses": """
            def critic_loss(critic_real, critic_fake):
                wasserstein_estimate = critic_real.mean() - critic_fake.mean()
                return -wasserstein_estimate

            def generator_loss(critic_fake):
                return -critic_fake.sum() / critic_fake.numel()
        """,
        "penalty": """
            import numpy as np

            def gradient_penalty(critic, real, fake, lambda_gp=10.0):
                n = real.shape[0]
                critic(real), critic(fake)  # looked at, then not used
                eps = torch.from_numpy(np.random.uniform(size=(n,) + (1,) * (real.dim() - 1))).to(real.dtype)
                x_hat = (fake + eps * (real - fake)).detach()
                x_hat.requires_grad = True
                scores = critic(x_hat).view(-1)
                (grad,) = torch.autograd.grad(scores, x_hat, grad_outputs=torch.ones(n), create_graph=True)
                norm = grad.pow(2).sum(dim=tuple(range(1, grad.dim()))).sqrt()
                return (lambda_gp * (norm - 1).pow(2)).mean()
        """,
    },
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, **CORRECT[name])) == OK


def test_a_notebook_in_double_precision_is_graded_as_in_the_students_kernel(tmp_path):
    """torch.set_default_dtype(torch.float64) in the notebook passes every check in the student's kernel; the
    worker kept it while answering the grader, whose probes then built float64 critics for its float32 tensors
    (3 of 17, "mat1 and mat2 must have the same dtype"). Checks run with float32 as the default, both ways."""
    import torch

    source = nbformat.read(SOLUTION, as_version=4)
    losses = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "losses")
    path = submission(tmp_path, losses="torch.set_default_dtype(torch.float64)  # exact W1 in double precision\n\n" + losses)
    assert sandboxed(path) == OK
    assert scores(path) == OK
    assert torch.get_default_dtype() == torch.float32


# ---------------------------------------------------------------------------------------------
# Wrong answers, graded: each mistake gets its own message
# ---------------------------------------------------------------------------------------------

CRITIC_OK = """
    def critic_loss(critic_real, critic_fake):
        return critic_fake.mean() - critic_real.mean()
"""
GENERATOR_OK = """
    def generator_loss(critic_fake):
        return -critic_fake.mean()
"""


def cell(*parts: str) -> str:
    """The parts of a cell's source, each dedented, one after the other."""
    return "\n".join(textwrap.dedent(part).strip("\n") for part in parts) + "\n"


def penalty(*parts: str) -> str:
    """A gradient_penalty whose body is the parts, one after the other."""
    return "def gradient_penalty(critic, real, fake, lambda_gp=10.0):\n" + textwrap.indent(cell(*parts), "    ")


INTERPOLATES = """
    eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
"""
GRAD = """
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)
"""
PENALTY = "return lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()"

WHERE = "WGAN-GP penalises the gradient at random interpolates x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per sample"
POINTS = "64 points (64, 2) and a small tanh critic"
NO_GRAPH = (
    "so adding it to the critic's loss does not train the critic: take the gradient with torch.autograd.grad(..., "
    "create_graph=True), which records how the gradient itself depends on the critic's weights so that the penalty "
    "can be backpropagated into them (a second derivative); and keep the penalty a tensor (no .detach(), .item() "
    "or torch.no_grad())"
)
SHAPES = (
    "it must work for any sample shape: eps of shape (N,) + (1,) * (real.dim() - 1) (N, 1 for points, N, 1, 1, 1 for "
    "images), and one norm over each sample's whole gradient, grad.reshape(N, -1).norm(2, dim=1)"
)
NO_SQUARE = "(||grad|| - 1) is not squared: lambda_gp * mean((||grad||_2 - 1)^2)"
NOT_LOGITS = "WGAN's critic returns an unbounded score, not a logit: no sigmoid, no log"

SUMMED_CRITIC = (
    "critic_loss(critic_real, critic_fake) = 4.72891 on seeded critic scores of shape (16, 1); expected 0.295557: it is the "
    "sum over the batch, not the mean: take the mean of each term"
)
IMAGE_DIMS = (
    "Dimension out of range (expected to be in range of [-2, 1], but got 2); it must work for any sample shape: eps of shape "
    "(N,) + (1,) * (real.dim() - 1) (N, 1 for points, N, 1, 1, 1 for images), and one norm over each sample's whole "
    "gradient, grad.reshape(N, -1).norm(2, dim=1)"
)
NO_GRAD_OUTPUTS = (
    "RuntimeError: grad can be implicitly created only for scalar outputs: torch.autograd.grad (or backward()) was given "
    "one value per sample, not one number: pass grad_outputs=torch.ones_like(scores) (each sample's score differentiated "
    "on its own), or differentiate scores.sum()"
)
IMAGE_DIMS_LINEAR = (
    f"gradient_penalty(critic, real, fake) raised IndexError for a linear critic on points, D(x) = w.x + b with ||w|| = 2.5: "
    f"{IMAGE_DIMS}"
)

RETAIN_GRAPH = (
    "backpropagating gradient_penalty(critic, real, fake)'s value into the critic raised RuntimeError: Trying to backward "
    "through the graph a second time: the graph of critic(x_hat) was freed inside the function (retain_graph=False in "
    "torch.autograd.grad, or a backward() there), and backpropagating the penalty needs it: leave retain_graph out "
    "(create_graph=True keeps the graph)"
)

EPS_N1111 = (
    "calls the critic on x_hat of shape ({0}, 1, {0}, 2), not real's ({0}, 2) ({1}): an eps of shape ({0}, 1, 1, 1) "
    "broadcast against real ({0}, 2) multiplies every sample by every eps; " + SHAPES
)
EPS_N1111_ON_LINEAR_POINTS = (
    "gradient_penalty(critic, real, fake) raised RuntimeError for a linear critic on points, D(x) = w.x + b with ||w|| = 2.5: "
    f"mat1 and mat2 shapes cannot be multiplied (64x128 and 2x1); {SHAPES}"
)
PENALTY_VERDICTS_EPS_N1111 = {
    "test_penalty_at_random_interpolates": (1.0, "gradient_penalty(critic, real, fake) " + EPS_N1111.format(64, POINTS)),
    "test_penalty_value_matches_reference": (1.0, EPS_N1111_ON_LINEAR_POINTS),
    "test_penalty_trains_the_critic": (0.0, "gradient_penalty(critic, real, fake) " + EPS_N1111.format(64, POINTS)),
    "test_penalty_on_other_inputs": (
        0.0, "gradient_penalty(critic, real, fake, 2) " + EPS_N1111.format(32, "points with lambda_gp = 2") + "; "
        "gradient_penalty(critic, real, fake) raised RuntimeError for a linear critic on points with ||w|| = 0.5: mat1 and "
        "mat2 shapes cannot be multiplied (16x32 and 2x1); it must work for any sample shape: the same mistake",
    ),
}

REAL_FIRST = (", and it takes the real scores first, critic_loss(critic_real, critic_fake) (DeepLearning.AI's get_crit_loss "
              "takes the fake ones first)")
FLIPPED_CRITIC = ("critic_loss(critic_real, critic_fake) = -0.295557 on seeded critic scores of shape (16, 1); expected 0.295557: "
                  "the sign is flipped: that is mean(D(x)) - mean(D(G(z))), the estimate of W that the critic maximises; critic_loss "
                  f"is what it minimises, mean(D(G(z))) - mean(D(x)){REAL_FIRST}")


def test_a_critic_loss_with_its_arguments_in_deeplearning_ais_order_is_told_the_order(tmp_path):
    """DeepLearning.AI's C1W3 get_crit_loss(crit_fake_pred, crit_real_pred) body under this task's name: called as
    critic_loss(critic_real, critic_fake), its value is the flipped sign, and the message names the order too (a
    student reading `mean(crit_fake_pred) - mean(crit_real_pred)` in their own code sees no flipped sign)."""
    dlai = cell("""
        def critic_loss(crit_fake_pred, crit_real_pred):
            return torch.mean(crit_fake_pred) - torch.mean(crit_real_pred)
    """, GENERATOR_OK)
    result = graded_here(submission(tmp_path, losses=dlai), A, only=["test_critic_loss_matches_reference"])
    assert result == {"test_critic_loss_matches_reference": (0.0, FLIPPED_CRITIC)}


@pytest.mark.parametrize("check, losses, expected", [
    # found by session 35's red team: right on the two cases of scores of a negative mean, so 1/1 before
    ("test_generator_loss_matches_reference", cell(CRITIC_OK, """
        def generator_loss(critic_fake):
            return torch.abs(critic_fake.mean())
    """), "generator_loss(critic_fake) = 2.67758 on seeded critic scores of shape (16,); expected -2.67758: it was right on "
          "scores where it is positive and is flipped on these, where it is negative: an abs() or relu() of the loss? "),
    # caught before, told "the sign is flipped"
    ("test_critic_loss_matches_reference", cell("""
        def critic_loss(critic_real, critic_fake):
            return (critic_fake.mean() - critic_real.mean()).abs()
    """, GENERATOR_OK), "expected -"),
], ids=["generator_loss", "critic_loss"])
def test_a_loss_that_loses_its_sign_is_told_so(tmp_path, check, losses, expected):
    result = graded_here(submission(tmp_path, losses=losses), A, only=[check])
    points, message = result[check]
    assert points == 0.0 and expected in message and "abs() or relu() of the loss" in message, message


WRONG = {
    "no_create_graph_generator_loss_negated": (
        {
            "losses": cell(CRITIC_OK, """
                def generator_loss(critic_fake):
                    return critic_fake.mean()
            """),
            "penalty": penalty(INTERPOLATES, """
                scores = critic(x_hat)
                (grad,) = torch.autograd.grad(scores, x_hat, torch.ones_like(scores))  # create_graph=False
            """, PENALTY),
        },
        {
            "test_generator_loss_matches_reference": (
                0.0, "generator_loss(critic_fake) = -0.633718 on seeded critic scores of shape (16, 1); expected 0.633718: the "
                "sign is flipped: G wants the critic to score its samples high, so it minimises -mean(D(G(z)))",
            ),
            "test_penalty_trains_the_critic": (
                0.0, f"gradient_penalty(critic, real, fake) returns a value that carries no gradient back to the critic's weights, {NO_GRAPH}",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "in the grading run (300 generator steps, seed 0) the critic's estimate of W, mean D(x) - mean D(G(z)), reached "
                "27.5 after the critic's warm-up while the exact W1 between the samples and the data was 0.884: the critic is not "
                "kept 1-Lipschitz (its gradient norm between real and generated points averaged 30.6, where the penalty should hold "
                "it near 1); gradient_penalty is not right yet: gradient_penalty(critic, real, fake) returns a value that carries "
                f"no gradient back to the critic's weights, {NO_GRAPH}",
            ),
        },
    ),
    "critic_loss_negated_eps_per_element": (
        {
            "losses": cell("""
                def critic_loss(critic_real, critic_fake):
                    return critic_real.mean() - critic_fake.mean()
            """, GENERATOR_OK),
            "penalty": penalty("""
                eps = torch.rand_like(real)
                x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            """, GRAD, PENALTY),
        },
        {
            "test_critic_loss_matches_reference": (
                0.0, "critic_loss(critic_real, critic_fake) = -0.295557 on seeded critic scores of shape (16, 1); expected "
                "0.295557: the sign is flipped: that is mean(D(x)) - mean(D(G(z))), the estimate of W that the critic maximises; "
                f"critic_loss is what it minimises, mean(D(G(z))) - mean(D(x)){REAL_FIRST}",
            ),
            "test_penalty_at_random_interpolates": (
                0.0, f"gradient_penalty(critic, real, fake) on {POINTS}: x_hat_i is not on the segment from fake_i to real_i, "
                "though each of its elements lies between real's and fake's: eps was drawn per element (torch.rand_like(real)); "
                f"{WHERE}, one eps for all of a sample's elements, shape (N,) + (1,) * (real.dim() - 1); gradient_penalty(critic, "
                "real, fake) on images (6, 1, 8, 8) and a small conv critic: the same mistake",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "in the grading run (300 generator steps, seed 0) the critic's estimate of W, mean D(x) - mean D(G(z)), stayed "
                "negative (at most -0.756): the critic scores generated points above real ones; it minimises mean(D(G(z))) - "
                "mean(D(x)) (critic_loss)",
            ),
        },
    ),
    "backward_inside_critic_loss_without_return": (
        {
            "losses": cell("""
                def critic_loss(critic_real, critic_fake):
                    loss = critic_fake.mean() - critic_real.mean()
            """, GENERATOR_OK),
            "penalty": penalty(INTERPOLATES, """
                critic(x_hat).sum().backward(create_graph=True)
                grad = x_hat.grad
            """, PENALTY),
        },
        {
            "test_critic_loss_matches_reference": (
                0.0, "critic_loss returned None (is its return missing?); return the loss as a torch tensor",
            ),
            "test_penalty_trains_the_critic": (
                0.0, "gradient_penalty(critic, real, fake) leaves gradients in the critic's parameters (net.0.weight, net.0.bias): "
                "a .backward() inside it adds d D(x_hat) / d weights to the critic's .grad as a side effect. The notebook's loop "
                "clears them (zero_grad after the penalty), but a loop that zeroes the gradients first and then computes the "
                "losses (the usual order, DeepLearning.AI's) would step on them too; take the gradient at x_hat with "
                "torch.autograd.grad(scores, x_hat, ..., create_graph=True), which returns it and touches no .grad",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run (seed 0) stopped: critic_loss returned NoneType in warm-up critic step 1; return a torch "
                "tensor so that backward works",
            ),
        },
    ),
    "real_points_only_critic_loss_item": (
        {
            "losses": cell("""
                def critic_loss(critic_real, critic_fake):
                    return (critic_fake.mean() - critic_real.mean()).item()
            """, GENERATOR_OK),
            "penalty": penalty("""
                x_hat = real.clone().requires_grad_(True)
            """, GRAD, PENALTY),
        },
        {
            "test_critic_loss_matches_reference": (
                0.0, "critic_loss returned float; return a torch tensor (no .item()), so that loss.backward() works",
            ),
            "test_penalty_at_random_interpolates": (
                0.0, f"gradient_penalty(critic, real, fake) on {POINTS} takes the critic's gradient at the real points only "
                f"(x_hat = real): {WHERE}; gradient_penalty(critic, real, fake) on images (6, 1, 8, 8) and a small conv critic "
                "takes the critic's gradient at the real points only (x_hat = real): the same mistake",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run (seed 0) stopped: critic_loss returned float in warm-up critic step 1; return a torch tensor "
                "so that backward works",
            ),
        },
    ),
    "fake_points_only_critic_loss_not_reduced_generator_sum": (
        {
            "losses": """
                def critic_loss(critic_real, critic_fake):
                    return critic_fake - critic_real

                def generator_loss(critic_fake):
                    return -critic_fake.sum()
            """,
            "penalty": penalty("""
                x_hat = fake.detach().requires_grad_(True)
            """, GRAD, PENALTY),
        },
        {
            "test_critic_loss_matches_reference": (
                0.0, "critic_loss returned shape (16, 1); expected one number: take the mean over the batch",
            ),
            "test_generator_loss_matches_reference": (
                0.0, "generator_loss(critic_fake) = 10.1395 on seeded critic scores of shape (16, 1); expected 0.633718: it is the "
                "sum over the batch, not the mean: take the mean",
            ),
            "test_penalty_at_random_interpolates": (
                0.0, f"gradient_penalty(critic, real, fake) on {POINTS} takes the critic's gradient at the generated points only "
                f"(x_hat = fake): {WHERE}; gradient_penalty(critic, real, fake) on images (6, 1, 8, 8) and a small conv critic "
                "takes the critic's gradient at the generated points only (x_hat = fake): the same mistake",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run (seed 0) stopped: critic_loss returned shape (64, 1) in warm-up critic step 1; expected one "
                "number: take the mean over the batch",
            ),
        },
    ),
    "one_eps_per_batch_critic_bce_generator_item": (
        {
            "losses": """
                def critic_loss(critic_real, critic_fake):
                    return F.softplus(-critic_real).mean() + F.softplus(critic_fake).mean()

                def generator_loss(critic_fake):
                    return -critic_fake.mean().item()
            """,
            "penalty": penalty("""
                eps = torch.rand(1).item()
                x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            """, GRAD, PENALTY),
        },
        {
            "test_critic_loss_matches_reference": (
                0.0, "critic_loss(critic_real, critic_fake) = 2.82646 on seeded critic scores of shape (16, 1); expected 0.295557: "
                f"that is the standard GAN's discriminator loss (binary cross-entropy on logits); {NOT_LOGITS}: mean(D(G(z))) - "
                "mean(D(x))",
            ),
            "test_generator_loss_matches_reference": (
                0.0, "generator_loss returned float; return a torch tensor (no .item()), so that loss.backward() works",
            ),
            "test_penalty_at_random_interpolates": (
                0.0, f"gradient_penalty(critic, real, fake) on {POINTS}: every sample uses the same eps (0.496257): draw one eps "
                "per sample, torch.rand of shape (N,) + (1,) * (real.dim() - 1), not one number for the whole batch; "
                "gradient_penalty(critic, real, fake) on images (6, 1, 8, 8) and a small conv critic: every sample uses the same "
                "eps (0.757632): the same mistake",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run (seed 0) stopped: generator_loss returned float at step 1; return a torch tensor so that "
                "backward works",
            ),
        },
    ),
    "no_square_generator_loss_detached": (
        {
            "losses": cell(CRITIC_OK, """
                def generator_loss(critic_fake):
                    return -critic_fake.detach().mean()
            """),
            "penalty": penalty(INTERPOLATES, GRAD, """
                return lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).mean()
            """),
        },
        {
            "test_generator_loss_matches_reference": (
                0.0, "generator_loss carries no gradient (was it detached, or made with .item()?); G could not learn from it",
            ),
            "test_penalty_value_matches_reference": (
                0.0, "gradient_penalty(critic, real, fake) = 15 for a linear critic on points, D(x) = w.x + b with ||w|| = 2.5; "
                f"expected 22.5: {NO_SQUARE}; gradient_penalty(critic, real, fake) = 20 for a linear critic on images (6, 1, 8, 8) "
                "with ||w|| = 3; expected 40: the same mistake",
            ),
            "test_penalty_on_other_inputs": (
                0.0, "gradient_penalty(critic, real, fake, 2) = 0.463114 for points with lambda_gp = 2; expected 0.383369 on the "
                f"x_hat it scored: {NO_SQUARE}; gradient_penalty(critic, real, fake) = 2.36607 for 3-channel images (5, 3, 8, 8); "
                "expected 0.565413 on the x_hat it scored: the same mistake; gradient_penalty(critic, real, fake) = -5 for a "
                "linear critic on points with ||w|| = 0.5; expected 2.5: the same mistake",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run (seed 0) stopped: generator_loss carries no gradient at step 1 (detached, .item() or "
                "torch.no_grad()?), so nothing learns from it",
            ),
        },
    ),
    "eps_for_points_only_critic_sigmoid_generator_not_reduced": (
        {
            "losses": """
                def critic_loss(critic_real, critic_fake):
                    return torch.sigmoid(critic_fake).mean() - torch.sigmoid(critic_real).mean()

                def generator_loss(critic_fake):
                    return -critic_fake
            """,
            "penalty": penalty("""
                eps = torch.rand(real.size(0), 1)  # right for points (N, 2); images need (N, 1, 1, 1)
                x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            """, GRAD, PENALTY),
        },
        {
            "test_critic_loss_matches_reference": (
                0.0, "critic_loss(critic_real, critic_fake) = 0.0300436 on seeded critic scores of shape (16, 1); expected "
                f"0.295557: the scores go through a sigmoid; {NOT_LOGITS}",
            ),
            "test_generator_loss_matches_reference": (
                0.0, "generator_loss returned shape (16, 1); expected one number: take the mean over the batch",
            ),
            "test_penalty_at_random_interpolates": (
                2.0, "gradient_penalty(critic, real, fake) raised RuntimeError for images (6, 1, 8, 8) and a small conv critic: "
                f"The size of tensor a (6) must match the size of tensor b (8) at non-singleton dimension 2; {SHAPES}",
            ),
            "test_penalty_value_matches_reference": (
                2.0, "gradient_penalty(critic, real, fake) raised RuntimeError for a linear critic on images (6, 1, 8, 8) with "
                f"||w|| = 3: The size of tensor a (6) must match the size of tensor b (8) at non-singleton dimension 2; {SHAPES}",
            ),
            "test_penalty_on_other_inputs": (
                1.0, "gradient_penalty(critic, real, fake) raised RuntimeError for 3-channel images (5, 3, 8, 8): The size of "
                f"tensor a (5) must match the size of tensor b (8) at non-singleton dimension 2; {SHAPES}",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run (seed 0) stopped: generator_loss returned shape (64, 1) at step 1; expected one number: take "
                "the mean over the batch",
            ),
        },
    ),
    # both losses summed over the batch: N times too strong for the penalty, a mean, to keep the critic 1-Lipschitz;
    # the run's message names critic_loss (not the penalty, which is right)
    "losses_summed_over_the_batch": (
        {
            "losses": """
                def critic_loss(critic_real, critic_fake):
                    return critic_fake.sum() - critic_real.sum()

                def generator_loss(critic_fake):
                    return -critic_fake.sum()
            """,
        },
        {
            "test_critic_loss_matches_reference": (0.0, SUMMED_CRITIC),
            "test_generator_loss_matches_reference": (
                0.0, "generator_loss(critic_fake) = 10.1395 on seeded critic scores of shape (16, 1); expected 0.633718: it is the "
                "sum over the batch, not the mean: take the mean",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, "in the grading run (300 generator steps, seed 0) the critic's estimate of W, mean D(x) - mean D(G(z)), reached "
                "3.53 after the critic's warm-up while the exact W1 between the samples and the data was 0.884: the critic is not "
                "kept 1-Lipschitz (its gradient norm between real and generated points averaged 3.87, where the penalty should hold "
                f"it near 1); critic_loss is not right yet: {SUMMED_CRITIC}",
            ),
        },
    ),
    # the norm summed over dims 1, 2, 3 (images only): points raise in the checks and in the training run, whose
    # message names the penalty's fix as the value check does
    # autograd.grad of the (N, 1) scores without grad_outputs: PyTorch's words name no fix
    "no_grad_outputs": (
        {"penalty": penalty(INTERPOLATES, GRAD.replace(", torch.ones_like(scores)", ""), PENALTY)},
        {
            **{name: (0.0, f"calling `gradient_penalty` raised {NO_GRAD_OUTPUTS}") for name in (
                "test_penalty_at_random_interpolates", "test_penalty_value_matches_reference", "test_penalty_trains_the_critic",
                "test_penalty_on_other_inputs")},
            "test_training_lowers_the_critics_estimate": (
                0.0, f"the grading run stopped: gradient_penalty is not right yet: calling `gradient_penalty` raised {NO_GRAD_OUTPUTS}",
            ),
        },
    ),
    "norm_over_image_dims_only": (
        {"penalty": penalty(INTERPOLATES, GRAD, "return lambda_gp * ((grad.pow(2).sum(dim=[1, 2, 3]) + 1e-12).sqrt() - 1).pow(2).mean()")},
        {
            "test_penalty_at_random_interpolates": (1.0, f"gradient_penalty(critic, real, fake) raised IndexError for {POINTS}: {IMAGE_DIMS}"),
            "test_penalty_value_matches_reference": (1.0, IMAGE_DIMS_LINEAR),
            "test_penalty_trains_the_critic": (0.0, f"gradient_penalty(critic, real, fake) raised IndexError for {POINTS}: {IMAGE_DIMS}"),
            "test_penalty_on_other_inputs": (
                0.0, f"gradient_penalty(critic, real, fake, 2) raised IndexError for points with lambda_gp = 2: {IMAGE_DIMS}; "
                "gradient_penalty(critic, real, fake) raised IndexError for a linear critic on points with ||w|| = 0.5: the same "
                "mistake",
            ),
            "test_training_lowers_the_critics_estimate": (
                0.0, f"the grading run stopped: gradient_penalty is not right yet: {IMAGE_DIMS_LINEAR}",
            ),
        },
    ),
    # found in round 17: a penalty that builds x_hat in real's own memory is right on the checks' copies, but the
    # training step has scored real already: its backward fails, and the run names the penalty (was: a generic
    # in-place message about optimizer steps)
    "x_hat_built_in_place_in_real": (
        {"penalty": penalty("""
            eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
            x_hat = real.mul_(eps).add_((1 - eps) * fake).requires_grad_(True)
        """, GRAD, PENALTY)},
        {
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run stopped: gradient_penalty(critic, real, fake) changes real in place (mul_, add_, *=, += "
                "on its inputs): the training step has already scored that batch with the critic, and backpropagating the "
                "critic's loss needs it as it was (one of the variables needed for gradient computation has been modified by "
                "an inplace operation); build x_hat as a new tensor, eps * real + (1 - eps) * fake",
            ),
        },
    ),
    # found in round 3 (r3a5): the images' eps (N, 1, 1, 1) on points (N, 2) makes x_hat (N, 1, N, 2), which the
    # run's critic scores without an error; the checks name the broadcast, the run the penalty's fix
    "eps_of_the_images_shape_on_points": (
        {"penalty": penalty(INTERPOLATES.replace("*[1] * (real.dim() - 1)", "1, 1, 1"), GRAD, PENALTY)},
        {
            **PENALTY_VERDICTS_EPS_N1111,
            # the run stops at the first critic call of the penalty (it ran all its steps on 64 x 64 interpolates,
            # over 20 times as long as a right penalty's run, and scored the same 0)
            "test_training_lowers_the_critics_estimate": (
                0.0, "the grading run (seed 0) stopped: gradient_penalty called the critic on a tensor of shape (64, 1, 64, 2) "
                "in warm-up critic step 1, 64 times the 64 points of the batch: x_hat = eps * real + (1 - eps) * fake must "
                "have the shape of real, (64, 2), one interpolate per pair; an eps with more dimensions than the points, such "
                "as an image's (N, 1, 1, 1), broadcasts into every pair of the batch (eps needs shape (N, 1) here: "
                "torch.rand(len(real), *[1] * (real.dim() - 1)) fits points and images)",
            ),
        },
    ),
    # found in round 17: retain_graph=False frees the graph the penalty's backward needs; the run names the
    # penalty's fix (was: the generic "give D fake.detach()")
    "retain_graph_false": (
        {"penalty": penalty(INTERPOLATES, GRAD.replace("create_graph=True", "create_graph=True, retain_graph=False"), PENALTY)},
        {
            "test_penalty_trains_the_critic": (0.0, RETAIN_GRAPH),
            "test_training_lowers_the_critics_estimate": (
                0.0, f"the grading run stopped: gradient_penalty is not right yet: {RETAIN_GRAPH}",
            ),
        },
    ),
}


# found by a red-team round for false positives (wrong code that scored points it should not): a penalty taken at the
# real points only lost the interpolates check's 3 points and kept the grading run's 4, though its critic overestimates
# W1 by 43-65% (not 1-Lipschitz between real and generated points) where right penalties stay within 6%: the run's
# bound was 2 x W1, now 1.25 x, and the run names the interpolates check's finding as the cause
REAL_ONLY = (f"gradient_penalty(critic, real, fake) on {POINTS} takes the critic's gradient at the real points only (x_hat = "
             f"real): {WHERE}; gradient_penalty(critic, real, fake) on images (6, 1, 8, 8) and a small conv critic takes the "
             "critic's gradient at the real points only (x_hat = real): the same mistake")
WRONG["penalty_at_the_real_points_only"] = (
    {"penalty": penalty("x_hat = real.clone().requires_grad_(True)  # the critic must be 1-Lipschitz where the data is", GRAD, PENALTY)},
    {
        "test_penalty_at_random_interpolates": (0.0, REAL_ONLY),
        "test_training_lowers_the_critics_estimate": (
            0.0, "in the grading run (300 generator steps, seed 0) the critic's estimate of W, mean D(x) - mean D(G(z)), reached "
            "1.27 after the critic's warm-up while the exact W1 between the samples and the data was 0.884: the critic is not "
            "kept 1-Lipschitz (its gradient norm between real and generated points averaged 1.45, where the penalty should hold "
            f"it near 1); gradient_penalty is not right yet: {REAL_ONLY}",
        ),
    },
)


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_scores_and_messages(tmp_path, name):
    cells, expected = WRONG[name]
    assert scores(submission(tmp_path, **cells)) == {**OK, **expected}


@pytest.mark.parametrize("name", ["x_hat_built_in_place_in_real", "retain_graph_false", "no_square_generator_loss_detached"])
def test_the_sandbox_grades_like_this_process(tmp_path, name):
    """What the other tests grade in this process scores the same in the sandbox, messages included:
    an error of the student's penalty inside the grading run is named the same way both ways."""
    cells, expected = WRONG[name]
    path = submission(tmp_path, **cells)
    assert sandboxed(path) == scores(path) == {**OK, **expected}


def test_every_check_fails_on_some_wrong_submission():
    failing = {check for _, expected in WRONG.values() for check, (points, _) in expected.items() if points < FULL[check]}
    failing |= {check for expected in PENALTIES.values() for check, (points, _) in expected[1].items() if points < FULL[check]}
    assert failing == set(FULL)


# ---------------------------------------------------------------------------------------------
# More wrong penalties, through the visible checks' path: the checks run in this process on the
# student's functions (as `grade(...)` does in their kernel), the four penalty checks only
# ---------------------------------------------------------------------------------------------

MEAN_SCORE = (
    "the gradient is that of the mean of the critic's scores, which divides each sample's gradient by N: differentiate "
    "their sum (grad_outputs=torch.ones_like(scores))"
)
DIM_1 = "for images the norm runs over dim 1 (the channels) only: flatten each sample's gradient first, grad.reshape(N, -1).norm(2, dim=1)"
FLATTEN = "flatten each sample's gradient first, grad.reshape(N, -1).norm(2, dim=1)"
LAST_DIM = f"for images the norm runs over the last dim (dim -1 = 3, the columns) only: {FLATTEN}"
PAIRS = (f"it takes the norm of each pair of numbers (grad.view(-1, 2), the shape of the points' gradient), not of each "
         f"sample's whole gradient: {FLATTEN}")
ONE_SIDED = "that is the one-sided penalty max(0, ||grad|| - 1)^2 (WGAN-LP); WGAN-GP penalises norms below 1 too: (||grad||_2 - 1)^2"
BATCH_NORM = "it takes one norm over the whole batch's gradient: take one norm per sample, grad.reshape(N, -1).norm(2, dim=1)"
SQUARED_NORM = "it uses the squared norm (the sum of squares without the square root): ||grad||_2 = grad.reshape(N, -1).norm(2, dim=1)"
NUMBER = "gradient_penalty returned float; return a torch tensor (no .item()), so that the critic's loss can backpropagate through it"
NOT_CALLED = "never calls the critic it is given ({}): score the interpolates with critic(x_hat), the `critic` argument, not a model of the notebook"


IMAGES = "images (6, 1, 8, 8) and a small conv critic"
LINEAR_POINTS = "a linear critic on points, D(x) = w.x + b with ||w|| = 2.5"
LINEAR_IMAGES = "a linear critic on images (6, 1, 8, 8) with ||w|| = 3"
SAME = "the same mistake"
MISMATCH = "Mismatch in shape: grad_output[0] has a shape of torch.Size([{0}]) and output[0] has a shape of torch.Size([{0}, 1])."
GRAD_OUTPUTS = (
    "grad_outputs must have the shape of the scores it weights: torch.autograd.grad(scores, x_hat, "
    "grad_outputs=torch.ones_like(scores), create_graph=True), or differentiate scores.sum()"
)
GRAD_OUTPUTS_AGAIN = "grad_outputs must have the shape of the scores it weights: the same mistake"
NONE_RESHAPE = "'NoneType' object has no attribute 'reshape'"
NONE_GRADIENT = (
    "the gradient is None: torch.autograd.grad found no path from the scores back to x_hat (a critic that scores a detached "
    "copy, x_hat.detach() or x_hat.data; allow_unused=True hides this): score x_hat itself, made with requires_grad_(True)"
)
NEGATED = "the sign is flipped: the penalty is >= 0, lambda_gp * mean((||grad||_2 - 1)^2), and it is added to the critic's loss"


def raised(args: str, label: str, message: str, hint: str, kind: str = "RuntimeError") -> str:
    return f"gradient_penalty({args}) raised {kind} for {label}: {message}; {hint}"


def value(call: str, got: str, label: str, want: str, hint: str, scored: bool = True) -> str:
    return f"{call} = {got} for {label}; expected {want}{' on the x_hat it scored' if scored else ''}: {hint}"


TUPLE = ("'tuple' object has no attribute 'view'; torch.autograd.grad returns a tuple, one gradient per input it was given: take "
         "its first element, grad = torch.autograd.grad(scores, x_hat, ...)[0]")
TUPLE_TOLD = {
    "test_penalty_at_random_interpolates": f"gradient_penalty(critic, real, fake) raised AttributeError for {POINTS}: {TUPLE}; "
                                           "gradient_penalty(critic, real, fake) raised AttributeError for images (6, 1, 8, 8) "
                                           "and a small conv critic: the same mistake",
    "test_penalty_value_matches_reference": "gradient_penalty(critic, real, fake) raised AttributeError for a linear critic on "
                                            f"points, D(x) = w.x + b with ||w|| = 2.5: {TUPLE}; gradient_penalty(critic, real, "
                                            "fake) raised AttributeError for a linear critic on images (6, 1, 8, 8) with ||w|| = "
                                            "3: the same mistake",
    "test_penalty_trains_the_critic": f"gradient_penalty(critic, real, fake) raised AttributeError for {POINTS}: {TUPLE}",
    "test_penalty_on_other_inputs": "gradient_penalty(critic, real, fake, 2) raised AttributeError for points with lambda_gp = "
                                    f"2: {TUPLE}; gradient_penalty(critic, real, fake) raised AttributeError for 3-channel "
                                    "images (5, 3, 8, 8): the same mistake; gradient_penalty(critic, real, fake) raised "
                                    "AttributeError for a linear critic on points with ||w|| = 0.5: the same mistake",
}

PENALTIES = {
    # one eps per sample and channel: on the segment for one channel, off it for three (x_hat mixes each channel otherwise)
    "eps_per_channel": (
        ("""
            eps = torch.rand(real.shape[0], 1) if real.dim() == 2 else torch.rand(real.shape[0], real.shape[1], 1, 1)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        """, GRAD, PENALTY),
        {
            "test_penalty_at_random_interpolates": (2.0, (
                "gradient_penalty(critic, real, fake) on 3-channel images (5, 3, 8, 8): x_hat_i is not on the segment from "
                "fake_i to real_i: each colour channel has an eps of its own (eps of shape (N, C, 1, 1)), so x_hat_i mixes "
                f"real_i and fake_i in other proportions in each channel; {WHERE}, one eps for all of a sample's channels and "
                "pixels, shape (N, 1, 1, 1)")),
        },
    ),
    # every x_hat_i between some real and some generated sample, but one real point serves the whole batch (or real
    # points are drawn with replacement): not a pairing of the two batches, named (shuffling a batch is right)
    **{name: (
        (f"""
            eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
            x_hat = (eps * {pick} + (1 - eps) * fake).requires_grad_(True)
        """, GRAD, PENALTY),
        {
            "test_penalty_at_random_interpolates": (0.0, (
                f"gradient_penalty(critic, real, fake) on {POINTS}: each x_hat_i lies between a real and a generated "
                "sample, but the same real sample serves several of them (one real point for the whole batch, or indices "
                f"drawn with replacement): use each real and each generated sample once, real_i with fake_i; {WHERE}; "
                f"gradient_penalty(critic, real, fake) on {IMAGES}: the same mistake")),
        },
    ) for name, pick in {
        "one_real_point_for_the_whole_batch": "real[:1]",
        "real_points_drawn_with_replacement": "real[torch.randint(0, len(real), (len(real),))]",
    }.items()},
    # grad_outputs of shape (N,) for scores (N, 1): named, not told about eps's shape
    "grad_outputs_of_another_shape": (
        (INTERPOLATES, GRAD.replace("torch.ones_like(scores)", "torch.ones(len(scores))"), PENALTY),
        {
            "test_penalty_at_random_interpolates": (0.0, raised("critic, real, fake", POINTS, MISMATCH.format(64), GRAD_OUTPUTS)
                                                    + "; " + raised("critic, real, fake", IMAGES, MISMATCH.format(6), GRAD_OUTPUTS_AGAIN)),
            "test_penalty_value_matches_reference": (0.0, raised("critic, real, fake", LINEAR_POINTS, MISMATCH.format(64), GRAD_OUTPUTS)
                                                     + "; " + raised("critic, real, fake", LINEAR_IMAGES, MISMATCH.format(6), GRAD_OUTPUTS_AGAIN)),
            "test_penalty_trains_the_critic": (0.0, raised("critic, real, fake", POINTS, MISMATCH.format(64), GRAD_OUTPUTS)),
            "test_penalty_on_other_inputs": (0.0, raised("critic, real, fake, 2", "points with lambda_gp = 2", MISMATCH.format(32), GRAD_OUTPUTS)
                                             + "; " + raised("critic, real, fake", "3-channel images (5, 3, 8, 8)", MISMATCH.format(5), GRAD_OUTPUTS_AGAIN)
                                             + "; " + raised("critic, real, fake", "a linear critic on points with ||w|| = 0.5", MISMATCH.format(16), GRAD_OUTPUTS_AGAIN)),
        },
    ),
    # the critic scores x_hat.detach(), and allow_unused=True turns the error into a None gradient
    "critic_scores_a_detached_copy": (
        (INTERPOLATES, GRAD.replace("critic(x_hat)", "critic(x_hat.detach())").replace("create_graph=True", "create_graph=True, allow_unused=True"), PENALTY),
        {
            "test_penalty_at_random_interpolates": (0.0, raised("critic, real, fake", POINTS, NONE_RESHAPE, NONE_GRADIENT, "AttributeError")
                                                    + "; " + f"gradient_penalty(critic, real, fake) raised AttributeError for {IMAGES}: the same mistake"),
            "test_penalty_value_matches_reference": (0.0, raised("critic, real, fake", LINEAR_POINTS, NONE_RESHAPE, NONE_GRADIENT, "AttributeError")
                                                     + "; " + f"gradient_penalty(critic, real, fake) raised AttributeError for {LINEAR_IMAGES}: the same mistake"),
            "test_penalty_trains_the_critic": (0.0, raised("critic, real, fake", POINTS, NONE_RESHAPE, NONE_GRADIENT, "AttributeError")),
            "test_penalty_on_other_inputs": (0.0, raised("critic, real, fake, 2", "points with lambda_gp = 2", NONE_RESHAPE, NONE_GRADIENT, "AttributeError")
                                             + "; gradient_penalty(critic, real, fake) raised AttributeError for 3-channel images (5, 3, 8, 8): the same mistake"
                                             + "; gradient_penalty(critic, real, fake) raised AttributeError for a linear critic on points with ||w|| = 0.5: the same mistake"),
        },
    ),
    # a penalty that rewards large gradients: its sign named
    "negated": (
        (INTERPOLATES, GRAD, "return -" + PENALTY.removeprefix("return ")),
        {
            "test_penalty_value_matches_reference": (0.0, value("gradient_penalty(critic, real, fake)", "-22.5", LINEAR_POINTS, "22.5", NEGATED, scored=False)
                                                     + "; " + value("gradient_penalty(critic, real, fake)", "-40", LINEAR_IMAGES, "40", "the same mistake", scored=False)),
            "test_penalty_on_other_inputs": (0.0, value("gradient_penalty(critic, real, fake, 2)", "-0.383369", "points with lambda_gp = 2", "0.383369", NEGATED)
                                             + "; " + value("gradient_penalty(critic, real, fake)", "-0.565413", "3-channel images (5, 3, 8, 8)", "0.565413", "the same mistake")
                                             + "; " + value("gradient_penalty(critic, real, fake)", "-2.5", "a linear critic on points with ||w|| = 0.5", "2.5", "the same mistake", scored=False)),
        },
    ),
    "norm_over_dim_1_of_images": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.norm(2, dim=1) - 1).pow(2).mean()"),
        {
            "test_penalty_value_matches_reference": (
                2.0, value("gradient_penalty(critic, real, fake)", "5.17497", "a linear critic on images (6, 1, 8, 8) with ||w|| = 3",
                           "40", DIM_1, scored=False),
            ),
            "test_penalty_on_other_inputs": (
                1.0, value("gradient_penalty(critic, real, fake)", "7.46821", "3-channel images (5, 3, 8, 8)", "0.565413", DIM_1),
            ),
        },
    ),
    # grad.norm(2, dim=-1), right for points (N, 2): on images the norm of each row of pixels
    "norm_over_the_last_dim_of_images": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.norm(2, dim=-1) - 1).pow(2).mean()"),
        {
            "test_penalty_value_matches_reference": (
                2.0, value("gradient_penalty(critic, real, fake)", "0.312618", LINEAR_IMAGES, "40", LAST_DIM, scored=False),
            ),
            "test_penalty_on_other_inputs": (
                1.0, value("gradient_penalty(critic, real, fake)", "5.80231", "3-channel images (5, 3, 8, 8)", "0.565413", LAST_DIM),
            ),
        },
    ),
    # grad.view(-1, 2), the points' shape written into the penalty: on images the norm of each pair of pixels
    "norm_of_pairs_of_numbers": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.view(-1, 2).norm(2, dim=1) - 1).pow(2).mean()"),
        {
            "test_penalty_value_matches_reference": (
                2.0, value("gradient_penalty(critic, real, fake)", "3.01344", LINEAR_IMAGES, "40", PAIRS, scored=False),
            ),
            "test_penalty_on_other_inputs": (
                1.0, value("gradient_penalty(critic, real, fake)", "7.96628", "3-channel images (5, 3, 8, 8)", "0.565413", PAIRS),
            ),
        },
    ),
    "gradient_of_the_mean_score": (
        (INTERPOLATES, "(grad,) = torch.autograd.grad(critic(x_hat).mean(), x_hat, create_graph=True)", PENALTY),
        {
            "test_penalty_value_matches_reference": (
                0.0, value("gradient_penalty(critic, real, fake)", "9.23401", "a linear critic on points, D(x) = w.x + b with "
                           "||w|| = 2.5", "22.5", MEAN_SCORE, scored=False) + "; gradient_penalty(critic, real, fake) = 2.5 for a "
                "linear critic on images (6, 1, 8, 8) with ||w|| = 3; expected 40: the same mistake",
            ),
            "test_penalty_on_other_inputs": (
                0.0, value("gradient_penalty(critic, real, fake, 2)", "1.84929", "points with lambda_gp = 2", "0.383369", MEAN_SCORE)
                + "; gradient_penalty(critic, real, fake) = 5.66547 for 3-channel images (5, 3, 8, 8); expected 0.565413 on the "
                "x_hat it scored: the same mistake; gradient_penalty(critic, real, fake) = 9.38477 for a linear critic on points "
                "with ||w|| = 0.5; expected 2.5: the same mistake",
            ),
        },
    ),
    "lambda_fixed_at_10": (
        (INTERPOLATES, GRAD, "return 10 * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()"),
        {
            "test_penalty_on_other_inputs": (
                1.0, value("gradient_penalty(critic, real, fake, 2)", "1.91684", "points with lambda_gp = 2", "0.383369",
                           "it uses lambda_gp = 10 where it is given 2: use the argument"),
            ),
        },
    ),
    "one_sided": (
        (INTERPOLATES, GRAD, "return lambda_gp * torch.relu(grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()"),
        {
            "test_penalty_value_matches_reference": (
                1.0, value("gradient_penalty(critic, real, fake)", "2.96022", POINTS, "5.0375", ONE_SIDED),
            ),
            "test_penalty_on_other_inputs": (
                0.0, value("gradient_penalty(critic, real, fake, 2)", "0.329537", "points with lambda_gp = 2", "0.383369", ONE_SIDED)
                + "; gradient_penalty(critic, real, fake) = 0 for a linear critic on points with ||w|| = 0.5; expected 2.5: the "
                "same mistake",
            ),
        },
    ),
    "eps_from_randn": (
        ("""
            eps = torch.randn(real.shape[0], *[1] * (real.dim() - 1))
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        """, GRAD, PENALTY),
        {
            "test_penalty_at_random_interpolates": (
                0.0, f"gradient_penalty(critic, real, fake) on {POINTS}: x_hat lies on the line through fake_i and real_i but not "
                "always between them (eps from -2.11522 to 3.4105): eps must lie in [0, 1], torch.rand, not torch.randn; "
                "gradient_penalty(critic, real, fake) on images (6, 1, 8, 8) and a small conv critic: x_hat lies on the line "
                "through fake_i and real_i but not always between them (eps from -0.451906 to 0.661352): the same mistake",
            ),
        },
    ),
    "one_norm_for_the_batch": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.norm(2) - 1).pow(2)"),
        {
            "test_penalty_value_matches_reference": (
                0.0, value("gradient_penalty(critic, real, fake)", "3610", "a linear critic on points, D(x) = w.x + b with "
                           "||w|| = 2.5", "22.5", BATCH_NORM, scored=False) + "; gradient_penalty(critic, real, fake) = 403.031 "
                "for a linear critic on images (6, 1, 8, 8) with ||w|| = 3; expected 40: the same mistake",
            ),
            "test_penalty_on_other_inputs": (
                0.0, value("gradient_penalty(critic, real, fake, 2)", "78.7994", "points with lambda_gp = 2", "0.383369", BATCH_NORM)
                + "; gradient_penalty(critic, real, fake) = 31.1749 for 3-channel images (5, 3, 8, 8); expected 0.565413 on the "
                "x_hat it scored: the same mistake; gradient_penalty(critic, real, fake) = 10 for a linear critic on points with "
                "||w|| = 0.5; expected 2.5: the same mistake",
            ),
        },
    ),
    "squared_norm": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.reshape(len(grad), -1).pow(2).sum(1) - 1).pow(2).mean()"),
        {
            "test_penalty_value_matches_reference": (
                0.0, value("gradient_penalty(critic, real, fake)", "275.625", "a linear critic on points, D(x) = w.x + b with "
                           "||w|| = 2.5", "22.5", SQUARED_NORM, scored=False) + "; gradient_penalty(critic, real, fake) = 640 for "
                "a linear critic on images (6, 1, 8, 8) with ||w|| = 3; expected 40: the same mistake",
            ),
            "test_penalty_on_other_inputs": (
                0.0, value("gradient_penalty(critic, real, fake, 2)", "2.33572", "points with lambda_gp = 2", "0.383369",
                           SQUARED_NORM) + "; gradient_penalty(critic, real, fake) = 2.84009 for 3-channel images (5, 3, 8, 8); "
                "expected 0.565413 on the x_hat it scored: the same mistake; gradient_penalty(critic, real, fake) = 5.625 for a "
                "linear critic on points with ||w|| = 0.5; expected 2.5: the same mistake",
            ),
        },
    ),
    "a_number": (
        (INTERPOLATES, GRAD, PENALTY + ".item()"),
        {check: (0.0, NUMBER) for check in PENALTY_CHECKS if check != "test_penalty_at_random_interpolates"},
    ),
    "the_notebooks_critic": (
        ("D = torch.nn.Linear(2, 1)  # a critic of its own, not the argument", INTERPOLATES,
         GRAD.replace("critic(x_hat)", "D(x_hat)"), PENALTY),
        {
            "test_penalty_at_random_interpolates": (
                0.0, f"gradient_penalty(critic, real, fake) {NOT_CALLED.format(POINTS)}; gradient_penalty(critic, real, fake) "
                "raised RuntimeError for images (6, 1, 8, 8) and a small conv critic: mat1 and mat2 shapes cannot be multiplied "
                f"(48x8 and 2x1); {SHAPES}",
            ),
            "test_penalty_value_matches_reference": (
                0.0, "gradient_penalty(critic, real, fake) " + NOT_CALLED.format("a linear critic on points, D(x) = w.x + b with "
                "||w|| = 2.5") + "; gradient_penalty(critic, real, fake) raised RuntimeError for a linear critic on images "
                f"(6, 1, 8, 8) with ||w|| = 3: mat1 and mat2 shapes cannot be multiplied (48x8 and 2x1); {SHAPES}",
            ),
            "test_penalty_trains_the_critic": (
                0.0, f"gradient_penalty(critic, real, fake) {NOT_CALLED.format(POINTS)}",
            ),
            "test_penalty_on_other_inputs": (
                0.0, "gradient_penalty(critic, real, fake, 2) " + NOT_CALLED.format("points with lambda_gp = 2")
                + "; gradient_penalty(critic, real, fake) raised RuntimeError for 3-channel images (5, 3, 8, 8): mat1 and mat2 "
                f"shapes cannot be multiplied (120x8 and 2x1); {SHAPES}; gradient_penalty(critic, real, fake) never calls the "
                "critic it is given (a linear critic on points with ||w|| = 0.5): the same mistake",
            ),
        },
    ),
}


OTHER_POINTS = "points with lambda_gp = 2"
RGB = "3-channel images (5, 3, 8, 8)"
FLAT = "a linear critic on points with ||w|| = 0.5"
L2_NORM = "the penalty takes the L2 norm, grad.reshape(N, -1).norm(2, dim=1)"
NOT_REQUIRING_GRAD = (
    "One of the differentiated Tensors does not require grad; x_hat must require grad before the critic scores it, or "
    "autograd cannot differentiate with respect to it (real and fake come without gradients, and .detach() or "
    "torch.no_grad() makes a tensor that does not): x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)"
)
DTYPE = "x_hat must keep real's dtype (float32, the critic's weights' dtype)"
DTYPE_FIX = (
    f"{DTYPE}: draw eps with dtype=real.dtype, torch.rand(..., dtype=real.dtype, device=real.device); NumPy's random "
    "numbers are float64, so convert them with .to(real.dtype)"
)
MAT_DTYPE = "mat1 and mat2 must have the same dtype, but got Double and Float"
CONV_DTYPE = "Input type (double) and bias type (float) should be the same"


def wrong_values(hint: str, got: tuple[str, str, str, str, str]) -> dict[str, tuple[float, str]]:
    """The value checks' verdicts on a penalty whose formula is wrong everywhere: got = its values on the linear
    critics (points, images), then on the other inputs (lambda_gp = 2, 3-channel images, ||w|| = 0.5)."""
    return {
        "test_penalty_value_matches_reference": (0.0, value(CALL, got[0], LINEAR_POINTS, "22.5", hint, scored=False) + "; "
                                                 + value(CALL, got[1], LINEAR_IMAGES, "40", SAME, scored=False)),
        "test_penalty_on_other_inputs": (0.0, value(f"{CALL[:-1]}, 2)", got[2], OTHER_POINTS, "0.383369", hint) + "; "
                                         + value(CALL, got[3], RGB, "0.565413", SAME) + "; "
                                         + value(CALL, got[4], FLAT, "2.5", SAME, scored=False)),
    }


CALL = "gradient_penalty(critic, real, fake)"
ZERO_CENTRED = ("it penalises the squared gradient norm itself, which pulls the gradient to 0 (a zero-centred penalty, as R1 "
                "or 0-GP): WGAN-GP pulls the norm to 1, lambda_gp * mean((||grad||_2 - 1)^2)")
TWICE = ("lambda_gp is applied twice (lambda_gp^2 times the mean: multiplied in twice, or inside the square): multiply the "
         "mean by it once, lambda_gp * mean((||grad||_2 - 1)^2)")

SAME_EPS = (
    f"{CALL} on {POINTS} draws the same eps at every call, whatever the state of the random number generators: a seed "
    "fixed inside the function (torch.manual_seed, a generator seeded there, or a new torch.Generator() made there, which "
    "starts from the same default seed at every call), eps drawn once outside the function (a tensor made when the "
    "notebook runs, EPS = torch.rand(...), sliced at each call), or eps that are not drawn at random (torch.linspace, "
    "torch.arange), give every training step the same eps (and torch.manual_seed resets the random numbers of the whole "
    "run, so that each step then draws the same batch and noise too); draw a new eps at each call, torch.rand(...) "
    "without a seed"
)

# found in round 17: formulas that had only the general formula for a message, errors told without their fix, a
# graph freed inside the function and a seed fixed inside it (full marks before)
PENALTIES.update({
    # the zero-centred penalty (R1 / 0-GP at interpolates) pulls the norm to 0; at ||w|| = 0.5 it equals the two-sided one
    "zero_centred": (
        (INTERPOLATES, GRAD, "return lambda_gp * grad.flatten(1).pow(2).sum(1).mean()"),
        {
            "test_penalty_value_matches_reference": (0.0, value(CALL, "62.5", LINEAR_POINTS, "22.5", ZERO_CENTRED, scored=False)
                                                     + "; " + value(CALL, "90", LINEAR_IMAGES, "40", SAME, scored=False)),
            "test_penalty_on_other_inputs": (0.0, value(f"{CALL[:-1]}, 2)", "3.3096", OTHER_POINTS, "0.383369", ZERO_CENTRED)
                                             + "; " + value(CALL, "15.2975", RGB, "0.565413", SAME)),
        },
    ),
    "lambda_applied_twice": (
        (INTERPOLATES, GRAD, "return lambda_gp * lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()"),
        wrong_values(TWICE, ("225", "400", "0.766737", "5.65413", "25")),
    ),
    "norm_over_dim_0": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=0) - 1).pow(2).mean()"),
        wrong_values("it takes the norm over the batch (dim 0), one per element of a sample, not one per sample: "
                     "grad.reshape(N, -1).norm(2, dim=1)", ("1743.89", "3.17404", "37.2428", "7.24032", "9.36677")),
    ),
    "l1_norm": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.flatten(1).abs().sum(1) - 1).pow(2).mean()"),
        wrong_values(f"it uses the L1 norm (the sum of absolute values); {L2_NORM}",
                     ("54.1177", "3587.28", "0.66901", "1559.11", "2.3442")),
    ),
    "max_norm": (
        (INTERPOLATES, GRAD, "return lambda_gp * (torch.linalg.vector_norm(grad.flatten(1), ord=float('inf'), dim=1) - 1).pow(2).mean()"),
        wrong_values(f"it uses the max norm (the largest absolute value); {L2_NORM}",
                     ("15.9325", "0.607484", "0.383288", "4.72724", "2.50259")),
    ),
    "x_hat_detached_without_requires_grad": (
        ("""
            eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
            x_hat = (eps * real + (1 - eps) * fake).detach()
        """, GRAD, PENALTY),
        {
            "test_penalty_at_random_interpolates": (0.0, f"{CALL} raised RuntimeError for {POINTS}: {NOT_REQUIRING_GRAD}; "
                                                    f"{CALL} raised RuntimeError for {IMAGES}: {SAME}"),
            "test_penalty_value_matches_reference": (0.0, f"{CALL} raised RuntimeError for {LINEAR_POINTS}: {NOT_REQUIRING_GRAD}; "
                                                     f"{CALL} raised RuntimeError for {LINEAR_IMAGES}: {SAME}"),
            "test_penalty_trains_the_critic": (0.0, f"{CALL} raised RuntimeError for {POINTS}: {NOT_REQUIRING_GRAD}"),
            "test_penalty_on_other_inputs": (0.0, f"gradient_penalty(critic, real, fake, 2) raised RuntimeError for {OTHER_POINTS}: "
                                             f"{NOT_REQUIRING_GRAD}; {CALL} raised RuntimeError for {RGB}: {SAME}; {CALL} raised "
                                             f"RuntimeError for {FLAT}: {SAME}"),
        },
    ),
    "eps_from_numpy_left_float64": (
        ("""
            import numpy as np
            eps = torch.from_numpy(np.random.rand(real.shape[0], *[1] * (real.dim() - 1)))
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        """, GRAD, PENALTY),
        {
            "test_penalty_at_random_interpolates": (0.0, f"{CALL} raised RuntimeError for {POINTS}: {MAT_DTYPE}; {DTYPE_FIX}; "
                                                    f"{CALL} raised RuntimeError for {IMAGES}: {CONV_DTYPE}; {DTYPE}: {SAME}"),
            "test_penalty_value_matches_reference": (0.0, f"{CALL} raised RuntimeError for {LINEAR_POINTS}: {MAT_DTYPE}; {DTYPE_FIX}; "
                                                     f"{CALL} raised RuntimeError for {LINEAR_IMAGES}: {SAME}"),
            "test_penalty_trains_the_critic": (0.0, f"{CALL} raised RuntimeError for {POINTS}: {MAT_DTYPE}; {DTYPE_FIX}"),
            "test_penalty_on_other_inputs": (0.0, f"gradient_penalty(critic, real, fake, 2) raised RuntimeError for {OTHER_POINTS}: "
                                             f"{MAT_DTYPE}; {DTYPE_FIX}; {CALL} raised RuntimeError for {RGB}: {CONV_DTYPE}; "
                                             f"{DTYPE}: {SAME}; {CALL} raised RuntimeError for {FLAT}: {SAME}"),
        },
    ),
    # right value, but the graph that backpropagating it needs is gone
    "retain_graph_false": (
        (INTERPOLATES, GRAD.replace("create_graph=True", "create_graph=True, retain_graph=False"), PENALTY),
        {"test_penalty_trains_the_critic": (0.0, RETAIN_GRAPH)},
    ),
    # every call draws the same eps (and resets torch's random numbers for the whole training run)
    "seed_fixed_inside": (
        ("torch.manual_seed(0)  # for reproducible eps", INTERPOLATES, GRAD, PENALTY),
        {
            "test_penalty_at_random_interpolates": (1.0, SAME_EPS),
        },
    ),
    # the tuple torch.autograd.grad returns used as the gradient (no [0]): the fix, not Python's words alone
    "autograd_grads_tuple_used_as_the_gradient": (
        (INTERPOLATES, "scores = critic(x_hat)\ngrad = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)\n",
         "return lambda_gp * (grad.view(len(real), -1).norm(2, dim=1) - 1).pow(2).mean()"),
        {check: (0.0, TUPLE_TOLD[check]) for check in TUPLE_TOLD},
    ),
})


# found by the red team's round four: the gradient of sigmoid(D(x_hat)), the critic's score read as a discriminator's
# logit (the habit of the course's other GANs), had only the general formula for a message
SIGMOID_SCORES = ("it differentiates sigmoid(D(x_hat)), as if the critic's score were a logit: " + NOT_LOGITS
                  + "; differentiate the scores themselves, torch.autograd.grad(critic(x_hat), x_hat, ...)")
PENALTIES["gradient_of_the_sigmoid_of_the_scores"] = (
    (INTERPOLATES, GRAD.replace("scores = critic(x_hat)", "scores = torch.sigmoid(critic(x_hat))"), PENALTY),
    wrong_values(SIGMOID_SCORES, ("3.4827", "2.69294", "1.05475", "5.21139", "7.6961")),
)


def eps_drawn(line: str) -> str:
    """The interpolates x_hat = eps * real + (1 - eps) * fake, requiring grad, with the eps that `line` draws."""
    return f"{line}\nx_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)\n"


EPS_SHAPE = "(real.shape[0], *[1] * (real.dim() - 1))"


def not_uniform(mean: str, middle: str, distance: str) -> str:
    """The pooled uniformity test's verdict on the 64 points (2 of the interpolates check's 3 points)."""
    return (
        f"{CALL} on {POINTS}, called 64 times in a row: its 4,096 eps do not look uniform on [0, 1]: mean {mean}, {middle} "
        f"of them between 0.25 and 0.75, where U(0, 1) has mean 0.5 and puts 50% (Kolmogorov-Smirnov distance {distance} "
        f"from U(0, 1); 4,096 U(0, 1) draws exceed 0.051 less than once in a billion); {WHERE}: draw eps with torch.rand"
    )


BFLOAT16 = ("it is computed in bfloat16 (under torch.autocast, or with .half() or .bfloat16()), which rounds it off: compute "
            "the penalty in float32, the critic's dtype")
FLOAT16 = BFLOAT16.replace("in bfloat16", "in float16")
NO_GRAD_SCORES = (
    "element 0 of tensors does not require grad and does not have a grad_fn; the critic's scores carry no graph back to "
    "x_hat (critic(x_hat) ran under torch.no_grad() or torch.inference_mode()), so autograd cannot differentiate them: "
    "score x_hat with gradients on, the penalty differentiates the scores with respect to x_hat"
)

# found in round 3 (r3a5): eps that are not U(0, 1) but pass a test on 64 of them (full marks before), eps in {0, 1}
# (told as "not uniform"), eps of the images' shape on points, lambda inside the square or times the norm, the mean
# divided by N again, a penalty in half precision, scores taken under no_grad (generic messages before)
PENALTIES.update({
    "eps_sigmoid_of_normal": (
        (eps_drawn(f"eps = torch.sigmoid(torch.randn{EPS_SHAPE})"), GRAD, PENALTY),
        {"test_penalty_at_random_interpolates": (1.0, not_uniform("0.501", "73%", "0.118"))},
    ),
    "eps_beta_2_2": (
        (eps_drawn(f"eps = torch.distributions.Beta(2.0, 2.0).sample({EPS_SHAPE})"), GRAD, PENALTY),
        {"test_penalty_at_random_interpolates": (1.0, not_uniform("0.498", "69%", "0.104"))},
    ),
    "eps_zero_or_one": (
        (eps_drawn(f"eps = torch.randint(0, 2, {EPS_SHAPE}).float()"), GRAD, PENALTY),
        {"test_penalty_at_random_interpolates": (0.0, (
            f"{CALL} on {POINTS}: each x_hat_i is real_i or fake_i, never between them: eps takes only the values 0 and 1 "
            f"(torch.randint, torch.bernoulli, a rounded torch.rand); {WHERE}: draw eps with torch.rand; {CALL} on {IMAGES}: "
            f"{SAME}"))},
    ),
    # right for images, on points (N, 2) it makes x_hat (N, 1, N, 2) (graded whole in WRONG)
    "eps_of_the_images_shape_on_points": (
        (eps_drawn("eps = torch.rand(real.size(0), 1, 1, 1)"), GRAD, PENALTY),
        PENALTY_VERDICTS_EPS_N1111,
    ),
    "lambda_inside_the_square": (
        (INTERPOLATES, GRAD, "return ((lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1)) ** 2).mean()"),
        wrong_values(TWICE, ("225", "400", "0.766737", "5.65413", "25")),
    ),
    "lambda_times_the_norm_inside_the_square": (
        (INTERPOLATES, GRAD, "return ((lambda_gp * grad.reshape(len(grad), -1).norm(2, dim=1) - 1) ** 2).mean()"),
        wrong_values("lambda_gp multiplies the norm inside the square, (lambda_gp * ||grad|| - 1)^2: it weights the whole "
                     "term, lambda_gp * mean((||grad||_2 - 1)^2)", ("576", "841", "2.69296", "129.243", "16")),
    ),
    "mean_divided_by_n_again": (
        (INTERPOLATES, GRAD, PENALTY + " / len(real)"),
        wrong_values("it divides the mean by N once more (the mean already divides by the batch size): lambda_gp * "
                     "mean((||grad||_2 - 1)^2)", ("0.351562", "6.66667", "0.0119803", "0.113083", "0.15625")),
    ),
    "autocast_bfloat16": (
        (INTERPOLATES, """
            with torch.autocast(device_type=real.device.type, dtype=torch.bfloat16):
                scores = critic(x_hat)
            (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
        """, PENALTY),
        wrong_values(BFLOAT16, ("22.5718", "39.9839", "0.380358", "0.565026", "2.49741")),
    ),
    "half_precision_value": (
        (INTERPOLATES, GRAD, "return lambda_gp * (grad.half().reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()"),
        {
            "test_penalty_value_matches_reference": (0.0, value(CALL, "5.03906", POINTS, "5.0375", FLOAT16) + "; "
                                                     + value(CALL, "1.0957", IMAGES, "1.09538", SAME)),
            "test_penalty_on_other_inputs": (1.0, value(f"{CALL[:-1]}, 2)", "0.383545", OTHER_POINTS, "0.383369", FLOAT16)),
        },
    ),
    "scores_under_no_grad": (
        (INTERPOLATES, GRAD.replace("scores = critic(x_hat)", "with torch.no_grad():\n        scores = critic(x_hat)"), PENALTY),
        {
            "test_penalty_at_random_interpolates": (0.0, f"{CALL} raised RuntimeError for {POINTS}: {NO_GRAD_SCORES}; "
                                                    f"{CALL} raised RuntimeError for {IMAGES}: {SAME}"),
            "test_penalty_value_matches_reference": (0.0, f"{CALL} raised RuntimeError for {LINEAR_POINTS}: {NO_GRAD_SCORES}; "
                                                     f"{CALL} raised RuntimeError for {LINEAR_IMAGES}: {SAME}"),
            "test_penalty_trains_the_critic": (0.0, f"{CALL} raised RuntimeError for {POINTS}: {NO_GRAD_SCORES}"),
            "test_penalty_on_other_inputs": (0.0, f"gradient_penalty(critic, real, fake, 2) raised RuntimeError for {OTHER_POINTS}: "
                                             f"{NO_GRAD_SCORES}; {CALL} raised RuntimeError for {RGB}: {SAME}; {CALL} raised "
                                             f"RuntimeError for {FLAT}: {SAME}"),
        },
    ),
})


WITH_RESPECT_TO = (
    "it takes the gradient with respect to {0}, not x_hat: as x_hat = eps * real + (1 - eps) * fake, that is {1} times the "
    "critic's gradient at x_hat, so each sample's norm is scaled by its {1}; take the gradient of D(x_hat) with respect to "
    "x_hat, torch.autograd.grad(scores, x_hat, ..., create_graph=True), x_hat made with requires_grad_(True)"
)
ONE_DIM = "Dimension out of range (expected to be in range of [-1, 0], but got 1)"
PER_SAMPLE_TERMS = (
    "x_hat is right (the critic scored it on the segments between fake and real, one eps per sample), so the fault comes "
    "after: dim 1 of a tensor with one dimension, as the per-sample norms grad.reshape(N, -1).norm(2, dim=1) and their "
    "squared terms are, shape (N,) (.mean(dim=1), .sum(1) or .norm(dim=1) of them): average the terms over the batch "
    "with .mean(), no dim, lambda_gp * ((norm - 1) ** 2).mean()"
)


def wrt(name: str) -> str:
    """The interpolates made from a copy of `name` (real or fake) that requires grad, differentiated with respect to it."""
    return f"""
        eps = torch.rand{EPS_SHAPE}
        {name} = {name}.clone().requires_grad_(True)
        x_hat = eps * real + (1 - eps) * fake
        scores = critic(x_hat)
        (grad,) = torch.autograd.grad(scores, {name}, torch.ones_like(scores), create_graph=True)
    """


# found by the red team's round 4: the gradient taken with respect to real (or fake) instead of x_hat had only the
# general formula for a message; a mean over dim 1 of the (N,) terms was told to fix eps's shape and the norm, both right
PENALTIES.update({
    "gradient_with_respect_to_real": (
        (wrt("real"), PENALTY),
        wrong_values(WITH_RESPECT_TO.format("real", "eps"), ("7.82347", "18.7129", "0.615254", "1.53636", "5.99262")),
    ),
    "gradient_with_respect_to_fake": (
        (wrt("fake"), PENALTY),
        wrong_values(WITH_RESPECT_TO.format("fake", "(1 - eps)"), ("6.25397", "11.5078", "0.503108", "3.28593", "5.49056")),
    ),
    "mean_over_dim_1_of_the_per_sample_terms": (
        (INTERPOLATES, GRAD, PENALTY.replace(".mean()", ".mean(dim=1)")),
        {
            "test_penalty_at_random_interpolates": (0.0, raised("critic, real, fake", POINTS, ONE_DIM, PER_SAMPLE_TERMS, "IndexError")
                                                    + f"; {CALL} raised IndexError for {IMAGES}: {SAME}"),
            "test_penalty_value_matches_reference": (0.0, raised("critic, real, fake", LINEAR_POINTS, ONE_DIM, PER_SAMPLE_TERMS,
                                                                 "IndexError") + f"; {CALL} raised IndexError for {LINEAR_IMAGES}: {SAME}"),
            "test_penalty_trains_the_critic": (0.0, raised("critic, real, fake", POINTS, ONE_DIM, PER_SAMPLE_TERMS, "IndexError")),
            "test_penalty_on_other_inputs": (0.0, raised("critic, real, fake, 2", OTHER_POINTS, ONE_DIM, PER_SAMPLE_TERMS, "IndexError")
                                             + f"; {CALL} raised IndexError for {RGB}: {SAME}; {CALL} raised IndexError for {FLAT}: {SAME}"),
        },
    ),
})


def at_the_ends(name: str, got: tuple[str, str, str, str]) -> dict[str, tuple[float, str]]:
    """The value checks' verdicts on a penalty that scored good interpolates but took its gradient at the `name` points
    ("real" or "generated"): got = its values on the tanh critic's points, the conv critic's images, then lambda_gp = 2 and
    3-channel images (on a linear critic every point gives the same penalty)."""
    told = (f", the penalty at the {name} points; expected {{}} at the x_hat it scored: the critic scored x_hat, but the "
            f"gradient is taken where it scored the {name} points (their block of a joined batch such as torch.cat([real, "
            f"fake, x_hat]), or their own scores differentiated): take the gradient of critic(x_hat) with respect to x_hat, "
            f"and penalise that")
    return {
        "test_penalty_value_matches_reference": (0.0, f"{CALL} = {got[0]} for {POINTS}" + told.format("5.0375") + f"; {CALL} = "
                                                 f"{got[1]} for {IMAGES}, the penalty at the {name} points; expected 1.09538 "
                                                 f"at the x_hat it scored: {SAME}"),
        "test_penalty_on_other_inputs": (0.0, f"{CALL[:-1]}, 2) = {got[2]} for {OTHER_POINTS}" + told.format("0.383369") + f"; "
                                         f"{CALL} = {got[3]} for {RGB}, the penalty at the {name} points; expected 0.565413 at "
                                         f"the x_hat it scored: {SAME}"),
    }


JOINED = """
    n = real.shape[0]
    eps = torch.rand(n, *[1] * (real.dim() - 1))
    x_hat = eps * real + (1 - eps) * fake
    batch = torch.cat([real, fake, x_hat]).requires_grad_(True)
    scores = critic(batch)
    (grad,) = torch.autograd.grad(scores, batch, torch.ones_like(scores), create_graph=True)
"""

# found by the red team's round of session 32: good interpolates scored, but the gradient kept at the real (or the
# generated) points, scored 10/10 on the penalty checks (the value was compared with the penalty at every batch scored)
PENALTIES.update({
    "joined_batch_gradient_kept_at_the_real_block": (
        (JOINED, "grad = grad[:n]  # meant grad[2 * n:]", PENALTY), at_the_ends("real", ("5.56647", "0.88609", "0.375951", "0.474065")),
    ),
    "joined_batch_gradient_kept_at_the_generated_block": (
        (JOINED, "grad = grad[n:2 * n]  # meant grad[2 * n:]", PENALTY),
        at_the_ends("generated", ("4.60441", "0.818668", "0.395272", "0.415936")),
    ),
    "x_hat_scored_then_the_real_scores_differentiated": (
        (INTERPOLATES, """
            real = real.clone().requires_grad_(True)
            scores_hat = critic(x_hat)
            scores_real = critic(real)
            (grad,) = torch.autograd.grad(scores_real, real, torch.ones_like(scores_real), create_graph=True)
        """, PENALTY),
        at_the_ends("real", ("5.56647", "0.88609", "0.375951", "0.474065")),
    ),
})

# also from session 32's red team: an unseeded generator made inside the function (told "a seed fixed inside", which
# this student never wrote), and one eps per element shared by the batch (told "drawn per element, torch.rand_like")
PENALTIES.update({
    "new_generator_made_inside": (
        ("""
            gen = torch.Generator()
            eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1), generator=gen)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        """, GRAD, PENALTY),
        {"test_penalty_at_random_interpolates": (1.0, SAME_EPS)},
    ),
    # the gradient taken with respect to the critic's weights, one norm for the batch (the general formula was its message)
    "gradient_with_respect_to_the_critic_s_weights": (
        ("""
            eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
            x_hat = eps * real + (1 - eps) * fake
            scores = critic(x_hat)
            grads = torch.autograd.grad(scores, list(critic.parameters()), torch.ones_like(scores), create_graph=True)
            norm = torch.cat([g.reshape(-1) for g in grads]).norm(2)
        """, "return lambda_gp * (norm - 1) ** 2"),
        wrong_values("it takes the gradient with respect to the critic's weights (critic.parameters()), not its input x_hat: "
                     "the penalty keeps the critic 1-Lipschitz in its input, one gradient per sample, torch.autograd.grad("
                     "scores, x_hat, ..., create_graph=True), x_hat made with requires_grad_(True)",
                     ("39759.2", "1369.91", "13815", "3458.16", "2304.41")),
    ),
    "one_eps_per_element_shared_by_the_batch": (
        ("""
            eps = torch.rand(1, *real.shape[1:])
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        """, GRAD, PENALTY),
        {"test_penalty_at_random_interpolates": (
            0.0, f"{CALL} on {POINTS}: x_hat_i is not on the segment from fake_i to real_i, though each of its elements lies "
            "between real's and fake's: one eps per element, shared by every sample (eps of shape (1,) + real.shape[1:]); "
            f"{WHERE}, one eps for all of a sample's elements, shape (N,) + (1,) * (real.dim() - 1); {CALL} on {IMAGES}: {SAME}",
        )},
    ),
})

UNUSED = ("The differentiated Tensor at index 0 appears to not have been used in the graph. Set allow_unused=True if this is "
          "the desired behavior.")
SCORED_A_DETACHED_COPY = (
    "the critic's scores do not depend on x_hat: the critic scored a copy cut from it (x_hat.detach(), x_hat.data, or a "
    "tensor rebuilt from its values), so autograd finds no path from the scores back to x_hat; allow_unused=True would only "
    "make the gradient None: score x_hat itself, made with requires_grad_(True), critic(x_hat)"
)

FROZEN = (
    f"backpropagating {CALL}'s value gives none of the critic's parameters a gradient, though the value carries a graph "
    "(back to x_hat): were the critic's parameters frozen inside the function (requires_grad_(False), as when G is "
    "trained)? Then the critic stays frozen after the call and learns nothing; leave requires_grad as it is: the penalty "
    "trains the critic through torch.autograd.grad(scores, x_hat, ..., create_graph=True)"
)

# found by a red-team round on the a1 and a5 graders: the critic scores x_hat.detach() (without allow_unused=True, the
# usual case) and PyTorch's own words, all the message said, suggest allow_unused=True, which only makes the gradient
# None; a critic frozen inside the penalty was told to use create_graph=True, which it did
PENALTIES.update({
    "critic_frozen_inside": (
        ("critic.requires_grad_(False)  # only the gradient at x_hat is wanted here", INTERPOLATES, GRAD, PENALTY),
        {"test_penalty_trains_the_critic": (0.0, FROZEN)},
    ),
    "critic_scores_a_detached_copy_without_allow_unused": (
        (INTERPOLATES, GRAD.replace("critic(x_hat)", "critic(x_hat.detach())"), PENALTY),
        {
            "test_penalty_at_random_interpolates": (0.0, raised("critic, real, fake", POINTS, UNUSED, SCORED_A_DETACHED_COPY)
                                                    + f"; {CALL} raised RuntimeError for {IMAGES}: {SAME}"),
            "test_penalty_value_matches_reference": (0.0, raised("critic, real, fake", LINEAR_POINTS, UNUSED,
                                                                 SCORED_A_DETACHED_COPY)
                                                     + f"; {CALL} raised RuntimeError for {LINEAR_IMAGES}: {SAME}"),
            "test_penalty_trains_the_critic": (0.0, raised("critic, real, fake", POINTS, UNUSED, SCORED_A_DETACHED_COPY)),
            "test_penalty_on_other_inputs": (0.0, raised("critic, real, fake, 2", OTHER_POINTS, UNUSED, SCORED_A_DETACHED_COPY)
                                             + f"; {CALL} raised RuntimeError for {RGB}: {SAME}; {CALL} raised RuntimeError for "
                                             f"{FLAT}: {SAME}"),
        },
    ),
})

# right penalties that do not score the whole batch in one call: the checks find x_hat all the same
OTHER_RIGHT_PENALTIES = {
    # one critic call on real, fake and x_hat joined (the scores of x_hat taken back from the end)
    "one_call_on_real_fake_and_x_hat_joined": (
        INTERPOLATES,
        """
        n = real.shape[0]
        scores = critic(torch.cat([real, fake, x_hat]))[2 * n:]
        (grad,) = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)
        """,
        PENALTY,
    ),
    # the critic also scores real and fake after x_hat, to log its estimate of W
    "the_estimate_logged_after_the_penalty": (
        INTERPOLATES, GRAD,
        """
        with torch.no_grad():
            estimate = critic(real).mean() - critic(fake).mean()  # logged: the critic's estimate of W
        """,
        PENALTY,
    ),
    "one_sample_at_a_time": (
        INTERPOLATES,
        """
        terms = []
        for i in range(len(x_hat)):
            score = critic(x_hat[i:i + 1])
            (g,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
            terms.append((g[i].norm(2) - 1) ** 2)
        """,
        "return lambda_gp * torch.stack(terms).mean()",
    ),
    "torch_func_vmap_of_grad": (
        """
        from torch.func import grad as func_grad, vmap

        n = real.shape[0]
        eps = torch.rand(n, *[1] * (real.dim() - 1))
        x_hat = eps * real + (1 - eps) * fake
        per_sample = vmap(func_grad(lambda x: critic(x.unsqueeze(0)).squeeze()))(x_hat)
        """,
        "return lambda_gp * ((per_sample.reshape(n, -1).norm(2, dim=1) - 1) ** 2).mean()",
    ),
}


@pytest.mark.parametrize("name", list(OTHER_RIGHT_PENALTIES))
def test_right_penalties_that_call_the_critic_otherwise_pass_the_penalty_checks(name):
    student = in_kernel(penalty(*OTHER_RIGHT_PENALTIES[name]))
    module = checks()
    assert {check: run_check(getattr(module, check), student) for check in PENALTY_CHECKS} == {
        check: OK[check] for check in PENALTY_CHECKS}


# right penalties written as students write them (found in round 3, r3a5): helpers as in DeepLearning.AI's C1W3,
# torch.func, the original WGAN-GP port's code, a Keras port, torch.lerp, and eps drawn by other right means
RIGHT_PENALTY_CELLS = {
    "dlai_get_gradient_and_penalty_helpers": """
        def get_gradient(crit, real, fake, epsilon):
            mixed_images = real * epsilon + fake * (1 - epsilon)
            mixed_scores = crit(mixed_images)
            return torch.autograd.grad(inputs=mixed_images, outputs=mixed_scores, grad_outputs=torch.ones_like(mixed_scores),
                                       create_graph=True, retain_graph=True)[0]

        def penalty_of(gradient):
            gradient_norm = gradient.view(len(gradient), -1).norm(2, dim=1)
            return torch.mean((gradient_norm - 1) ** 2)

        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            epsilon = torch.rand(len(real), *[1] * (real.dim() - 1), requires_grad=True)
            return lambda_gp * penalty_of(get_gradient(critic, real, fake, epsilon))
    """,
    "torch_func_grad_of_the_sum": """
        from torch.func import grad as func_grad

        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
            x_hat = eps * real + (1 - eps) * fake
            g = func_grad(lambda x: critic(x).sum())(x_hat)
            return lambda_gp * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    """,
    "torch_func_vmap_with_a_batch_of_one": """
        from torch.func import grad as func_grad, vmap

        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
            x_hat = eps * real + (1 - eps) * fake
            g = vmap(func_grad(lambda x: critic(x[None]).sum()))(x_hat)
            return lambda_gp * ((torch.linalg.norm(g.reshape(g.shape[0], -1), dim=1) - 1) ** 2).mean()
    """,
    "original_port_expand_variable_only_inputs": """
        from torch import autograd

        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            b = real.size(0)
            alpha = torch.rand(b, 1).expand(b, real.nelement() // b).contiguous().view(real.size())
            interpolates = autograd.Variable(alpha * real + ((1 - alpha) * fake), requires_grad=True)
            disc_interpolates = critic(interpolates)
            gradients = autograd.grad(outputs=disc_interpolates, inputs=interpolates,
                                      grad_outputs=torch.ones(disc_interpolates.size()),
                                      create_graph=True, retain_graph=True, only_inputs=True)[0]
            return ((gradients.view(b, -1).norm(2, dim=1) - 1) ** 2).mean() * lambda_gp
    """,
    "keras_port_sqrt_of_the_sum_of_squares": """
        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            alpha = torch.rand([real.shape[0]] + [1] * (real.ndim - 1))
            interpolated = (real + alpha * (fake - real)).requires_grad_()
            pred = critic(interpolated)
            grads = torch.autograd.grad(pred, interpolated, grad_outputs=torch.ones_like(pred), create_graph=True)[0]
            norm = torch.sqrt(torch.sum(torch.square(grads), dim=list(range(1, grads.ndim))) + 1e-10)
            return lambda_gp * torch.mean((norm - 1.0) ** 2)
    """,
    "lerp_and_view": """
        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            n = real.size(0)
            eps = torch.rand(n, 1, 1, 1) if real.dim() == 4 else torch.rand(n, 1)
            x_hat = torch.lerp(fake, real, eps).requires_grad_(True)
            scores = critic(x_hat)
            grad, = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)
            return lambda_gp * grad.view(n, -1).norm(2, dim=1).sub(1).pow(2).mean()
    """,
    "eps_of_shape_n_against_transposed_samples": """
        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            eps = torch.rand(real.size(0))  # (N,) broadcasts over the last dim: move the samples there
            x_hat = (eps * real.movedim(0, -1) + (1 - eps) * fake.movedim(0, -1)).movedim(-1, 0).requires_grad_(True)
            grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)[0]
            return lambda_gp * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    """,
    # real and generated samples are independent draws: pairing real_i with a shuffled batch's fake_j is WGAN-GP's x_hat
    # too (the fakes shuffled lost the 3 points of the interpolates check)
    "fakes_shuffled_before_mixing": """
        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            fake = fake[torch.randperm(fake.size(0))]
            eps = torch.rand(real.size(0), *[1] * (real.dim() - 1))
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)[0]
            return lambda_gp * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    """,
    "both_batches_shuffled": """
        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            n = real.size(0)
            eps = torch.rand(n, *[1] * (real.dim() - 1))
            x_hat = eps * real[torch.randperm(n)] + (1 - eps) * fake[torch.randperm(n)]
            x_hat.requires_grad_(True)
            scores = critic(x_hat)
            (grad,) = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)
            return lambda_gp * (grad.reshape(n, -1).norm(2, dim=1) - 1).pow(2).mean()
    """,
    **{f"eps_from_{name}": f"""
        import random
        import numpy as np

        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            shape = (real.shape[0],) + (1,) * (real.dim() - 1)
            {line}
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            scores = critic(x_hat)
            (grad,) = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)
            return lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()
    """ for name, line in {
        "numpy_uniform": "eps = torch.from_numpy(np.random.uniform(0, 1, size=shape)).float()",
        "python_random": "eps = torch.tensor([random.random() for _ in range(shape[0])]).view(shape)",
        "a_uniform_distribution": "eps = torch.distributions.Uniform(0.0, 1.0).sample(shape)",
        "uniform_in_place": "eps = torch.empty(shape).uniform_(0, 1)",
        "a_legacy_float_tensor": "eps = torch.FloatTensor(*shape).uniform_()",
    }.items()},
}


@pytest.mark.parametrize("name", list(RIGHT_PENALTY_CELLS))
def test_right_penalties_written_otherwise_pass_the_penalty_checks(name):
    student = in_kernel(RIGHT_PENALTY_CELLS[name])
    module = checks()
    assert {check: run_check(getattr(module, check), student) for check in PENALTY_CHECKS} == {
        check: OK[check] for check in PENALTY_CHECKS}


def written_in(k: int, n: int) -> str:
    return (f"it divides the sum over the batch by {k}, whatever the number of scores ({n} here): a batch size written "
            f"into the function? Take the mean, .mean(), which divides by the batch's own size")


# found by a red-team round on the a1 and a5 graders: every score the loss checks used came in batches of 16, so sums
# divided by 16 scored 3/3 (17/17 with the grading run, whose batches are 64); sums divided by 64 had the formula for a
# message
@pytest.mark.parametrize("k, expected", [
    (16, {"test_critic_loss_matches_reference": (0.0, "critic_loss(critic_real, critic_fake) = 1.65046 on seeded critic scores "
                                                 f"of shape (10, 1); expected 2.64074: {written_in(16, 10)}"),
          "test_generator_loss_matches_reference": (0.0, "generator_loss(critic_fake) = 0.691238 on seeded critic scores of "
                                                    f"shape (10, 1); expected 1.10598: {written_in(16, 10)}")}),
    (64, {"test_critic_loss_matches_reference": (0.0, "critic_loss(critic_real, critic_fake) = 0.0738892 on seeded critic scores "
                                                 f"of shape (16, 1); expected 0.295557: {written_in(64, 16)}"),
          "test_generator_loss_matches_reference": (0.0, "generator_loss(critic_fake) = 0.15843 on seeded critic scores of "
                                                    f"shape (16, 1); expected 0.633718: {written_in(64, 16)}")}),
], ids=["16_the_checks_batch_size", "64_the_training_batch_size"])
def test_losses_that_divide_by_a_batch_size_written_in_are_told_so(k, expected):
    student = in_kernel(f"""
        def critic_loss(critic_real, critic_fake):
            return (critic_fake.sum() - critic_real.sum()) / {k}

        def generator_loss(critic_fake):
            return -critic_fake.sum() / {k}
    """)
    assert {name: run_check(getattr(checks(), name), student) for name in expected} == expected


def test_losses_halved_are_not_told_a_batch_size_written_in():
    """On one batch size, half the mean is the sum divided by 2 N: the second batch size tells them apart."""
    student = in_kernel("""
        def critic_loss(critic_real, critic_fake):
            return (critic_fake.mean() - critic_real.mean()) / 2

        def generator_loss(critic_fake):
            return -critic_fake.mean() / 2
    """)
    for name in ("test_critic_loss_matches_reference", "test_generator_loss_matches_reference"):
        points, message = run_check(getattr(checks(), name), student)
        assert points == 0.0 and "written into" not in message and "minimises" in message, message


def test_losses_that_clamp_or_squash_the_scores_are_told_so():
    """Found by a red-team round for false positives: scores clamped to [-10, 10] "for stability" scored 3/3 on the
    checks' scores of a few units; a critic without a constraint makes scores of hundreds, where such a loss is wrong and
    passes no gradient. The last case of each check has scores of hundreds."""
    student = in_kernel("""
        def critic_loss(critic_real, critic_fake):
            return critic_fake.clamp(-10, 10).mean() - critic_real.clamp(-10, 10).mean()

        def generator_loss(critic_fake):
            return -critic_fake.clamp(-10, 10).mean()
    """)
    squashed = "are the scores clamped or squashed (clamp, tanh, a sigmoid)?"
    assert {name: run_check(getattr(checks(), name), student) for name in ("test_critic_loss_matches_reference",
                                                                          "test_generator_loss_matches_reference")} == {
        "test_critic_loss_matches_reference": (0.0, (
            "critic_loss(critic_real, critic_fake) = -3.06506 on seeded critic scores of shape (16, 1); expected -40.5278: it was "
            f"right on scores of a few units and is wrong on these, which reach 347.066 (an unconstrained critic's scores grow "
            f"that large): {squashed} the critic minimises mean(D(G(z))) - mean(D(x)): critic_loss(critic_real, critic_fake) "
            "= critic_fake.mean() - critic_real.mean(), the scores as they are")),
        "test_generator_loss_matches_reference": (0.0, (
            "generator_loss(critic_fake) = -1.55 on seeded critic scores of shape (16, 1); expected -30.1247: it was right on "
            f"scores of a few units and is wrong on these, which reach 237.605 (an unconstrained critic's scores grow that "
            f"large): {squashed} G minimises -mean(D(G(z))): generator_loss(critic_fake) = -critic_fake.mean(), the scores as "
            "they are")),
    }


@pytest.mark.parametrize("source", [
    """
    def critic_loss(critic_real, critic_fake):
        return -(critic_real - critic_fake).mean()

    def generator_loss(critic_fake):
        return -critic_fake.mean(0)
    """,
    """
    def critic_loss(critic_real, critic_fake):
        return -(torch.mean(critic_real) - torch.mean(critic_fake))

    def generator_loss(critic_fake):
        return torch.mean(-critic_fake)
    """,
], ids=["negated_estimate_and_mean_over_dim_0", "negated_means"])
def test_right_losses_written_otherwise_score_full_marks(source):
    student = in_kernel(source)
    for name in ("test_critic_loss_matches_reference", "test_generator_loss_matches_reference"):
        assert run_check(getattr(checks(), name), student) == OK[name]


def test_a_penalty_that_calls_the_critic_once_per_sample_is_told_before_the_grading_run_starts():
    """Its value is right, but the grading run's 1,700 critic steps would take 64 times as long and
    run past the check's time limit: the check says why without starting the run."""
    solution = in_kernel(penalty(INTERPOLATES, GRAD, PENALTY))
    looped = in_kernel(penalty(*OTHER_RIGHT_PENALTIES["one_sample_at_a_time"]))
    assert checks().many_calls(solution) is None
    points, message = run_check(checks().test_training_lowers_the_critics_estimate, looped)
    assert (points, message) == (0.0, (
        "the grading run was not started: gradient_penalty(critic, real, fake) calls the critic 64 times for 64 points (once "
        "per sample or small chunk): its value may be right, but the grading run (1,700 critic steps) would take about 64 "
        "times as long as it should; score the whole batch in one call, scores = critic(x_hat), and differentiate "
        "scores.sum() (each score depends on its own sample only, so the sum's gradient is each sample's own)"))


def test_a_penalty_that_changes_its_inputs_in_place_changes_copies_of_the_checks_ones():
    """In the student's kernel the checks and the functions share tensors: a penalty that writes into real
    changed the checks' own inputs (and then raised on them, or judged later calls against the changed points).
    It gets copies; its value is right there, and the grading run's message names the in-place write."""
    module = checks()
    before = module.POINTS.real.clone(), module.IMAGES.real.clone()
    student = in_kernel(penalty("""
        eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
        x_hat = real.mul_(eps).add_((1 - eps) * fake).requires_grad_(True)
    """, GRAD, PENALTY))
    assert {check: run_check(getattr(module, check), student) for check in PENALTY_CHECKS} == {
        check: OK[check] for check in PENALTY_CHECKS}
    assert torch.equal(module.POINTS.real, before[0]) and torch.equal(module.IMAGES.real, before[1])
    assert not module.POINTS.real.requires_grad
    assert module.changes_inputs(student).startswith("gradient_penalty(critic, real, fake) changes real in place")
    assert module.changes_inputs(in_kernel(penalty(INTERPOLATES, GRAD, PENALTY))) is None


def test_losses_that_work_in_place_on_the_scores_score_full_marks():
    """In training the scores are the critic's outputs, where sub_ and mul_ work; the checks handed the losses
    leaf tensors that require grad, on which they raise ("a leaf Variable that requires grad is being used in an
    in-place operation"): 0 points for right losses."""
    student = in_kernel(cell("""
        def critic_loss(critic_real, critic_fake):
            return critic_fake.sub_(critic_real).mean()

        def generator_loss(critic_fake):
            return critic_fake.mul_(-1).mean()
    """))
    for name in ("test_critic_loss_matches_reference", "test_generator_loss_matches_reference"):
        assert run_check(getattr(checks(), name), student) == OK[name]


CRITIC_LOSS_IS = "critic_loss(critic_real, critic_fake) = {} on seeded critic scores of shape (16, 1); expected 0.295557: {}"


@pytest.mark.parametrize(("body", "expected"), [
    ("return F.relu(1.0 - critic_real).mean() + F.relu(1.0 + critic_fake).mean()", CRITIC_LOSS_IS.format("3.58624", (
        "that is the hinge loss mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))) (SAGAN, BigGAN): WGAN's critic minimises "
        "mean(D(G(z))) - mean(D(x)), with no margin"))),
    ("return critic_fake.mean() - critic_real.mean() + 0.001 * (critic_real ** 2).mean()", CRITIC_LOSS_IS.format("0.303585", (
        "it adds ProGAN's drift term 0.001 mean(D(x)^2), which is not part of this loss: mean(D(G(z))) - mean(D(x)) (the "
        "training step adds only the gradient penalty)"))),
    ("return 0.5 * ((critic_real - 1) ** 2).mean() + 0.5 * (critic_fake ** 2).mean()", CRITIC_LOSS_IS.format("9.21772", (
        "that is LSGAN's least-squares loss (D(x) pulled to 1 and D(G(z)) to 0 by squares): WGAN's critic minimises "
        "mean(D(G(z))) - mean(D(x)), with no squares and no targets"))),
], ids=["hinge", "progan_drift_term", "lsgan"])
def test_critic_losses_of_other_gans_are_named(body, expected):
    student = in_kernel(cell(f"def critic_loss(critic_real, critic_fake):\n    {body}\n", GENERATOR_OK))
    assert run_check(checks().test_critic_loss_matches_reference, student) == (0.0, expected)


@pytest.mark.parametrize(("body", "got"), [
    ("return 0.5 * ((critic_fake - 1) ** 2).mean()", "6.85581"),
    ("return F.mse_loss(critic_fake, torch.ones_like(critic_fake))", "13.7116"),
], ids=["half_squares", "mse_loss"])
def test_an_lsgan_generator_loss_is_named(body, got):
    student = in_kernel(cell(CRITIC_OK, f"def generator_loss(critic_fake):\n    {body}\n"))
    assert run_check(checks().test_generator_loss_matches_reference, student) == (0.0, (
        f"generator_loss(critic_fake) = {got} on seeded critic scores of shape (16, 1); expected 0.633718: that is LSGAN's "
        "least-squares loss (D(G(z)) pulled to 1 by a square): WGAN's generator minimises -mean(D(G(z))), with no squares "
        "and no target"))


def test_a_loss_that_assumes_scores_of_shape_n_by_1_is_told_they_may_be_n():
    student = in_kernel(cell(CRITIC_OK, """
        def generator_loss(critic_fake):
            return -critic_fake.squeeze(1).mean()
    """))
    assert run_check(checks().test_generator_loss_matches_reference, student) == (0.0, (
        "generator_loss raised IndexError on seeded critic scores of shape (16,): Dimension out of range (expected to be "
        "in range of [-1, 0], but got 1); the scores come as (N, 1) or (N,): take the mean over all of them, .mean() (no "
        "squeeze(1), view(N, 1) or dim=1)"))

def in_kernel(source: str) -> LocalSubmission:
    """The student's functions defined in a namespace like the notebook's (its imports cell run first)."""
    namespace: dict = {"__name__": "__main__"}
    exec(compile("import math\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n", "<imports>", "exec"), namespace)
    exec(compile(textwrap.dedent(source), "<cell>", "exec"), namespace)
    return LocalSubmission(namespace)


def test_a_halved_or_rooted_penalty_is_named_where_another_mistake_gives_the_same_value():
    """0.5 * lambda_gp * mean(...) gives, on the linear critic (||grad|| = 3), the value of a penalty without the square,
    and at lambda_gp = 2 that of a penalty without lambda_gp; lambda_gp * sqrt(mean(...)) gives the unsquared one's on
    the linear critic. Each was told the other mistake; the nonlinear critic tells them apart."""
    module = checks()
    halved = in_kernel(penalty(INTERPOLATES, GRAD, "return 0.5 * lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()"))
    for check in ("test_penalty_value_matches_reference", "test_penalty_on_other_inputs"):
        points, message = run_check(getattr(module, check), halved)
        assert points == 0.0 and "it is half the penalty" in message and "not squared" not in message \
            and "lambda_gp is missing" not in message, (check, message)
    rooted = in_kernel(penalty(INTERPOLATES, GRAD, "return lambda_gp * (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean().sqrt()"))
    points, message = run_check(module.test_penalty_value_matches_reference, rooted)
    assert points == 0.0 and "square root of the mean" in message and "not squared" not in message, message


def test_a_penalty_that_clips_the_critic_s_weights_is_told_so():
    """Weight clipping written into the penalty (WGAN's clamp_ on every parameter) was told the penalty formula,
    which it had right; the probe now sees the critic's weights change during the call, and the value check says so."""
    clipping = penalty(INTERPOLATES, GRAD, """
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-0.01, 0.01)
    """, PENALTY)
    points, message = run_check(checks().test_penalty_value_matches_reference, in_kernel(clipping))
    assert points == 0.0 and message.startswith(
        "gradient_penalty(critic, real, fake) changes the critic's weights (") and "a clamp_ of weight clipping" in message, message
    assert run_check(checks().test_penalty_value_matches_reference, in_kernel(penalty(INTERPOLATES, GRAD, PENALTY))) == (3.0, "")


@pytest.mark.parametrize("name", list(PENALTIES))
def test_more_wrong_penalties_get_exact_scores_and_messages(name):
    body, expected = PENALTIES[name]
    student = in_kernel(penalty(*body))
    module = checks()
    got = {check: run_check(getattr(module, check), student) for check in PENALTY_CHECKS}
    assert got == {**{check: OK[check] for check in PENALTY_CHECKS}, **expected}


def test_a_mean_over_dim_1_of_the_per_sample_terms_is_told_alike_in_the_sandbox(tmp_path):
    """The fix is told after the function is called again with a recording critic, which lives in the worker when
    graded (read through its handle): the sandbox says what this process says."""
    body, expected = PENALTIES["mean_over_dim_1_of_the_per_sample_terms"]
    path = submission(tmp_path, penalty=penalty(*body))
    assert grade_notebook(path, A, ROOT, only=list(PENALTY_CHECKS)) == expected


# ---------------------------------------------------------------------------------------------
# Answers taken from the course library
# ---------------------------------------------------------------------------------------------

TAKEN = {
    "losses": """
        from reference.losses import WGANGP

        critic_loss = WGANGP().d_loss
        generator_loss = WGANGP().g_loss
    """,
    "penalty": """
        import importlib

        def gradient_penalty(critic, real, fake, lambda_gp=10.0):
            losses = importlib.import_module("reference.losses")
            return losses.WGANGP(lambda_gp=lambda_gp).penalty(critic, real, fake)
    """,
}


def taken(lead: str, name: str) -> str:
    return (
        f"{lead} reference.losses, the course library's own answer, which does not exist when your submission is graded, "
        f"so an answer taken from it scores 0: write {name} yourself from the formula"
    )


def test_an_answer_taken_from_the_course_library_scores_zero_when_graded(tmp_path):
    defined = "`{0}` is not defined when graded: the cell that defines it uses"
    assert sandboxed(submission(tmp_path, **TAKEN)) == {
        "test_critic_loss_matches_reference": (0.0, taken(defined.format("critic_loss"), "critic_loss")),
        "test_generator_loss_matches_reference": (0.0, taken(defined.format("generator_loss"), "generator_loss")),
        **{check: (0.0, taken("gradient_penalty uses", "gradient_penalty")) for check in PENALTY_CHECKS},
        "test_training_lowers_the_critics_estimate": (0.0, taken(defined.format("critic_loss"), "critic_loss")),
    }


def test_the_visible_checks_say_so_in_the_students_kernel(tmp_path):
    """In the student's kernel the course library is whole: the visible checks (the student's copy,
    reference/checks/a5_wgan_gp.py) trace the functions and fail with the graded outcome."""
    results = visible_results(A, submission(tmp_path, **TAKEN), FULL)
    assert results == {
        "test_critic_loss_matches_reference": (0.0, taken("critic_loss calls", "critic_loss")),
        "test_generator_loss_matches_reference": (0.0, taken("generator_loss calls", "generator_loss")),
        "test_penalty_at_random_interpolates": (0.0, taken("gradient_penalty calls", "gradient_penalty")),
        "test_penalty_value_matches_reference": (0.0, taken("gradient_penalty calls", "gradient_penalty")),
    }


# ---------------------------------------------------------------------------------------------
# The grading run's verdict, on runs made up here
# ---------------------------------------------------------------------------------------------

STEPS = [0, 50, 100, 150, 200, 250, 300]
LEARNS = ([0.9, 0.8, 0.7, 0.6, 0.5, 0.55, 0.6], [0.9, 0.8, 0.6, 0.5, 0.3, 0.1, 0.05])  # (exact W1, estimate)


def made_up(seed: int, w1: list[float], estimate: list[float], grad_norm: float = 1.0):
    return checks().Run(seed, STEPS, list(w1), list(estimate), [grad_norm] * len(STEPS))


@pytest.mark.parametrize(
    ("w1", "estimate", "fault"),
    [
        (LEARNS[0], LEARNS[1], None),
        (LEARNS[0], [0.9, 2.1, 0.6, 0.5, 0.3, 0.1, 0.05], "the critic's estimate of W, mean D(x) - mean D(G(z)), reached 2.1 "
         "after 50 generator steps while the exact W1 between the samples and the data was 0.8: the critic is not kept "
         "1-Lipschitz (its gradient norm between real and generated points averaged 1, where the penalty should hold it near "
         "1); does the penalty train the critic (create_graph=True), at interpolates, squared?"),
        (LEARNS[0], [-0.5, -0.6, -0.7, -0.8, -0.8, -0.9, -0.9], "the critic's estimate of W, mean D(x) - mean D(G(z)), stayed "
         "negative (at most -0.5): the critic scores generated points above real ones; it minimises mean(D(G(z))) - mean(D(x)) "
         "(critic_loss)"),
        ([0.9] * 7, [0.2, 0.1, 0, 0, 0, 0, 0], "the critic's estimate of W, mean D(x) - mean D(G(z)), never rose above 0.2 while "
         "the exact W1 was 0.9: the critic does not tell real from generated points; check critic_loss, and that the penalty is "
         "lambda_gp * mean((||grad|| - 1)^2) (one that rewards a flat critic wins over its loss)"),
        ([0.9, 0.95, 1.0, 1.0, 1.0, 1.0, 1.03], LEARNS[1], "the generator's samples moved away from the data: the exact W1 went "
         "from 0.9 to 1.03; G minimises -mean(D(G(z))) (generator_loss)"),
        ([0.9, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65], LEARNS[1], "the generator's samples hardly moved towards the data: the exact W1 "
         "went from 0.9 to at best 0.65, not 0.7 of its start or less; does generator_loss carry the critic's gradient to G "
         "(-mean(D(G(z))), no .detach() or .item())?"),
        (LEARNS[0], [0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.46], "the critic's estimate of W did not fall: 0.9 at its highest, 0.46 at "
         "the end (expected at most 0.5 of its peak) while the exact W1 fell from 0.9 to 0.6"),
    ],
)
def test_a_run_learns_when_w1_and_the_critics_estimate_fall_and_the_critic_stays_lipschitz(w1, estimate, fault):
    assert made_up(0, w1, estimate).fault() == fault


LAMBDA_TWICE = ("gradient_penalty is not right yet: gradient_penalty(critic, real, fake) = 225 for a linear critic on points, "
                "D(x) = w.x + b with ||w|| = 2.5; expected 22.5: lambda_gp is applied twice")


@pytest.mark.parametrize(
    ("w1", "estimate", "fault"),
    [
        ([0.9, 0.95, 1.0, 1.0, 1.0, 1.0, 1.03], LEARNS[1], "the generator's samples moved away from the data: the exact W1 went "
         f"from 0.9 to 1.03; {LAMBDA_TWICE}"),
        ([0.9, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65], LEARNS[1], "the generator's samples hardly moved towards the data: the exact W1 "
         f"went from 0.9 to at best 0.65, not 0.7 of its start or less; {LAMBDA_TWICE}"),
        (LEARNS[0], [0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.46], "the critic's estimate of W did not fall: 0.9 at its highest, 0.46 at "
         f"the end (expected at most 0.5 of its peak) while the exact W1 fell from 0.9 to 0.6; {LAMBDA_TWICE}"),
    ],
)
def test_a_generator_that_does_not_learn_is_blamed_on_the_function_found_wrong(w1, estimate, fault):
    """A penalty applied with lambda_gp twice (100 x the mean) kept G from moving in the grading run (W1 0.884 to
    1.43, seed 0): the run names the penalty's fault, not generator_loss, which is right."""
    assert made_up(0, w1, estimate).fault(LAMBDA_TWICE) == fault


def test_the_grading_run_names_a_wrong_penalty_when_g_does_not_learn(monkeypatch):
    module = checks()
    away = [0.9, 0.95, 1.0, 1.0, 1.0, 1.0, 1.03]
    monkeypatch.setattr(module, "training_runs", lambda submission: [made_up(0, away, LEARNS[1]), made_up(1, away, LEARNS[1])])
    monkeypatch.setattr(module, "cause_in_the_functions", lambda submission: LAMBDA_TWICE)
    monkeypatch.setattr(module, "many_calls", lambda submission: None)
    assert run_check(module.test_training_lowers_the_critics_estimate, None) == (
        0.0, "in the grading run (300 generator steps, seed 0) the generator's samples moved away from the data: the exact W1 "
        f"went from 0.9 to 1.03; {LAMBDA_TWICE}")


@pytest.mark.parametrize(
    ("learned", "outcome"),
    [
        ((True, True), (4.0, "")),
        ((True, False, True), (4.0, "")),
        ((False, True, False), (2.0, "the critic and the generator learned in 1 of 3 grading runs; in the grading run (300 "
                                     "generator steps, seed 0) the generator's samples moved away from the data: the exact W1 "
                                     "went from 0.9 to 1.03; G minimises -mean(D(G(z))) (generator_loss)")),
        ((False, False), (0.0, "in the grading run (300 generator steps, seed 0) the generator's samples moved away from the "
                               "data: the exact W1 went from 0.9 to 1.03; G minimises -mean(D(G(z))) (generator_loss)")),
    ],
)
def test_most_runs_must_learn_for_full_marks_and_some_for_part(monkeypatch, learned, outcome):
    module = checks()
    away = [0.9, 0.95, 1.0, 1.0, 1.0, 1.0, 1.03]
    runs = [made_up(seed, LEARNS[0] if ok else away, LEARNS[1]) for seed, ok in enumerate(learned)]
    monkeypatch.setattr(module, "training_runs", lambda submission: runs)
    monkeypatch.setattr(module, "cause_in_the_functions", lambda submission: None)  # the functions' checks all pass
    monkeypatch.setattr(module, "many_calls", lambda submission: None)  # its penalty calls the critic once
    assert run_check(module.test_training_lowers_the_critics_estimate, None) == outcome


@pytest.mark.parametrize(("learned", "seeds_run"), [((True, True), 2), ((False, False), 2), ((True, False, True), 3), ((False, True, False), 3)])
def test_runs_go_on_until_most_seeds_agree(monkeypatch, learned, seeds_run):
    module = checks()
    away = [0.9, 0.95, 1.0, 1.0, 1.0, 1.0, 1.03]
    started = []
    monkeypatch.setattr(module, "student", lambda submission, name: name)
    monkeypatch.setattr(module, "run", lambda submission, name, probe, *args, seed, **kw: started.append(seed) or seed)
    monkeypatch.setattr(module, "measure", lambda result, seed: made_up(seed, LEARNS[0] if learned[seed] else away, LEARNS[1]))
    assert [r.seed for r in module.training_runs(None)] == started == list(range(seeds_run))


def test_a_run_is_measured_from_the_weights_it_returns():
    """measure() rebuilds both networks from the returned weights: an untrained generator's W1 is the same
    at every checkpoint, and weights that do not fit the networks are a problem, not a verdict."""
    module = checks()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G, C = probes_a5.mlp(2, 2), probes_a5.mlp(2, 1)
    same = {"checkpoints": STEPS, "generator": [G.state_dict()] * 7, "critic": [C.state_dict()] * 7, "problem": None}
    run = module.measure(same, 0)
    assert run.problem is None and len(set(run.w1)) == 1 and len(set(run.estimate)) == 1
    assert run.fault().startswith("the critic's estimate of W, mean D(x) - mean D(G(z)), never rose above")
    wrong = {**same, "critic": [{"0.weight": torch.zeros(3, 3)}] * 7}
    assert module.measure(wrong, 0).problem == "it did not return the networks' weights at every checkpoint"
    assert module.measure({"problem": {"code": "no_graph", "function": "generator_loss", "step": 3}}, 0).problem == (
        "generator_loss carries no gradient at step 3 (detached, .item() or torch.no_grad()?), so nothing learns from it"
    )


def _penalty(eps_shape, together: bool):
    """A right gradient penalty but for eps's shape (a function of real) and whether real and fake are scored with
    the interpolates in one critic call."""

    def gradient_penalty(critic, real, fake, lambda_gp=10.0):
        eps = torch.rand(*eps_shape(real))
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        scores = critic(torch.cat([real, fake, x_hat]))[-len(x_hat):] if together else critic(x_hat)
        grad, = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
        return lambda_gp * ((grad.reshape(len(grad), -1).norm(2, dim=1) - 1) ** 2).mean()

    return gradient_penalty


def test_a_penalty_that_scores_every_pair_of_the_batch_stops_the_run_at_its_first_critic_call():
    """eps of an image's shape on points (N, 2) broadcasts x_hat to (N, 1, N, 2): the run stops at once (it took over
    20 times as long as a right one's before, for the same 0), while a penalty that scores real, fake and the
    interpolates in one call (3 N points) trains on."""
    critic_loss = lambda real, fake: fake.mean() - real.mean()  # noqa: E731
    generator_loss = lambda fake: -fake.mean()  # noqa: E731
    points = torch.randn(256, 2)
    grid = probes_a5.train_wgan_gp(_penalty(lambda real: (len(real), 1, 1, 1), False), critic_loss, generator_loss, points,
                                   seed=0, steps=2, warmup=2, every=1)
    assert grid["problem"] == {"code": "critic_input", "shape": [64, 1, 64, 2], "batch": 64, "step": -1}
    assert grid["checkpoints"] == []
    told = checks().measure(grid, 0).problem
    assert told.startswith("gradient_penalty called the critic on a tensor of shape (64, 1, 64, 2) in warm-up critic step 1, "
                           "64 times the 64 points of the batch")
    together = probes_a5.train_wgan_gp(_penalty(lambda real: (len(real), 1), True), critic_loss, generator_loss, points,
                                       seed=0, steps=2, warmup=2, every=1)
    assert together["problem"] is None and together["checkpoints"] == [0, 1, 2]


def test_exact_w1_is_the_best_one_to_one_pairing():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 2, generator=gen, dtype=torch.float64), torch.randn(6, 2, generator=gen, dtype=torch.float64)
    brute = min(sum(float((a[i] - b[p]).norm()) for i, p in enumerate(perm)) / 6 for perm in itertools.permutations(range(6)))
    assert checks().exact_w1(a, b) == pytest.approx(brute, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# The reference on the grader's side, and the probes
# ---------------------------------------------------------------------------------------------


def test_the_checks_penalty_is_the_course_librarys_on_the_same_points():
    """With real == fake every interpolate is that point, whatever eps WGANGP draws: the checks' own
    penalty and its gradients with respect to the critic's weights are reference.losses.WGANGP's."""
    module = checks()
    for case in (module.POINTS, module.IMAGES, module.OTHER_LAMBDA, module.LINEAR_IMAGES):
        net = probes_a5.probe_critic(case.kind, tuple(case.real.shape[1:]), case.critic_seed, case.norm)
        library = WGANGP(lambda_gp=case.lam).penalty(net, case.real, case.real)  # float32, as the library computes it
        assert library.item() == pytest.approx(module.reference_penalty(case, case.real), rel=1e-5)
        want = module.reference_parameter_grads(case, case.real)
        got = torch.autograd.grad(library, list(net.parameters()), allow_unused=True)
        for (name, p), g in zip(net.named_parameters(), got):
            assert torch.allclose((torch.zeros_like(p) if g is None else g).double(), want[f"net.{name}"], rtol=1e-4, atol=1e-6)


def test_fit_finds_where_each_point_lies_between_fake_and_real():
    module = checks()
    gen = torch.Generator().manual_seed(0)
    real, fake, t = torch.randn(5, 1, 4, 4, generator=gen), torch.randn(5, 1, 4, 4, generator=gen), torch.rand(5, generator=gen)
    on = module.fit(t.view(5, 1, 1, 1) * real + (1 - t.view(5, 1, 1, 1)) * fake, real, fake)
    assert on.on_segment and on.box and torch.allclose(on.t, t.double(), atol=1e-6)
    per_element = torch.rand(real.shape, generator=gen)
    off = module.fit(per_element * real + (1 - per_element) * fake, real, fake)
    assert not off.on_segment and off.box
    assert module.ks_uniform(torch.linspace(0.005, 0.995, 100, dtype=torch.float64)) == pytest.approx(0.005)
    assert module.ks_uniform(torch.full((64,), 0.5, dtype=torch.float64)) == pytest.approx(0.5)


def test_fit_finds_the_pairing_of_shuffled_batches_even_where_a_point_lies_on_two_segments():
    """Interpolates between real_i and a shuffled batch's fake_j are WGAN-GP's x_hat too. Among 64 x 64 segments in
    two dimensions some x_hat_i also lies, to float32 precision, on a segment not its own (draw 64 of this seed's
    sequence did): taking each row's closest segment then used one real point twice, and the search backtracks."""
    module = checks()
    real, fake = module.POINTS.real, module.POINTS.fake
    gen = torch.Generator().manual_seed(5)
    for _ in range(66):
        perm, eps = torch.randperm(64, generator=gen), torch.rand(64, 1, generator=gen)
        x = eps * real + (1 - eps) * fake[perm]
        found = module.fit(x, real, fake)
        assert found.on_segment and found.box and torch.allclose(found.t, eps.double().squeeze(1), atol=1e-5)
    one_real = eps * real[:1] + (1 - eps) * fake
    assert not module.fit(one_real, real, fake).on_segment
    assert "the same real sample serves several" in module.reused_fault(one_real, real, fake)
    assert module.reused_fault(x, real, fake) is None


def test_the_uniformity_test_almost_never_fails_uniform_eps_and_almost_always_fails_eps_bunched_in_the_middle():
    """The 4,096 eps of 64 calls fail when their Kolmogorov-Smirnov distance from U(0, 1) passes ks_limit: U(0, 1) draws
    do that at most once in a billion submissions (DKW's bound; the exact law of the distance agrees). sigmoid(N(0, 1))
    and Beta(2, 2) draws, which 64 eps cannot tell from U(0, 1), lie so far away that they pass with a probability under
    one in a million: their empirical CDF would have to miss the true one by more than the gap at a single point
    (Hoeffding)."""
    from scipy.stats import kstwo, norm

    module = checks()
    n = 64 * module.DRAW_CALLS
    limit = module.ks_limit(n)
    assert n == 4096 and limit == pytest.approx(0.0511, abs=1e-4)
    assert 2 * math.exp(-2 * n * limit**2) == pytest.approx(1e-9) and kstwo.sf(limit, n) <= 1e-9
    t = torch.linspace(1e-6, 1 - 1e-6, 200_001, dtype=torch.float64)
    cdfs = {"sigmoid(N(0, 1))": torch.from_numpy(norm.cdf(torch.logit(t).numpy())), "Beta(2, 2)": 3 * t**2 - 2 * t**3}
    for name, cdf in cdfs.items():
        gap = float((cdf - t).abs().max()) - limit
        assert 2 * math.exp(-2 * n * gap**2) < 1e-6, name


def test_64_eps_far_from_uniform_by_chance_are_left_to_the_test_of_4096():
    """U(0, 1) draws put 64 eps 0.3 or more from U(0, 1) once in 75,000 (scipy's kstwo.sf(0.3, 64) = 1.3e-5): the
    64 eps of one call are judged on where they lie, not on how they spread, which uniformity_fault judges on 4,096."""
    from scipy.stats import kstwo

    module = checks()
    case = module.POINTS
    t = torch.linspace(0.32, 1.0, 64, dtype=torch.float64)[torch.randperm(64, generator=torch.Generator().manual_seed(0))]
    x_hat = t[:, None] * case.real.double() + (1 - t[:, None]) * case.fake.double()
    assert module.ks_uniform(t) > 0.3 and kstwo.sf(0.3, 64) == pytest.approx(1.3e-5, rel=0.05)
    answer = module.Penalty(case, "Tensor", [], 1.0, True, 1, [tuple(x_hat.shape)], [x_hat], [], None, None)
    assert module.interpolates_fault(answer) is None


def test_penalty_draws_calls_the_penalty_again_and_again_on_copies_of_its_inputs():
    """Each call draws new eps (the RNGs are seeded once, before the first), the whole run repeats with the seed, and a
    penalty that writes into real changes no later call's input."""
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    module = checks()
    case = module.Case("8 points", "points", 1, real, fake, seed=0)
    namespace = in_kernel(SOLUTION_PENALTY).namespace
    first, again = (probes_a5.penalty_draws(namespace["gradient_penalty"], "points", 1, real, fake, seed=0, calls=3) for _ in range(2))
    assert [len(inputs) for inputs in first] == [1, 1, 1] and all(torch.equal(a[0], b[0]) for a, b in zip(first, again))
    ts = [module.drawn_t(inputs, case) for inputs in first]
    assert all(t is not None and 0 <= float(t.min()) and float(t.max()) <= 1 for t in ts)
    assert not torch.allclose(ts[0], ts[1]) and not torch.allclose(ts[1], ts[2])
    in_place = in_kernel(penalty("""
        eps = torch.rand(real.shape[0], 1)
        x_hat = real.mul_(eps).add_((1 - eps) * fake).requires_grad_(True)
    """, GRAD, PENALTY)).namespace["gradient_penalty"]
    before = real.clone()
    drawn = probes_a5.penalty_draws(in_place, "points", 1, real, fake, seed=0, calls=3)
    assert all(module.drawn_t(inputs, case) is not None for inputs in drawn) and torch.equal(real, before)


SOLUTION_PENALTY = penalty(INTERPOLATES, GRAD, PENALTY)


def test_penalty_run_records_the_critics_inputs_and_backpropagates_the_penalty():
    namespace = in_kernel(SOLUTION_PENALTY).namespace
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    out = probes_a5.penalty_run(namespace["gradient_penalty"], "points", 1, real, fake, seed=0)
    assert out["calls"] == 1 and out["inputs"][0].shape == (4, 2) and out["requires_grad"]
    assert out["result"]["type"] == "Tensor" and out["value"].shape == (1,) and out["backward_error"] is None
    assert [name for name, _ in out["grads"]] == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    assert out["grads"][3][1] is None, "the last bias does not change the critic's gradient, so the penalty gives it none"
    assert not any(left for _, left in out["leftover"])
    again = probes_a5.penalty_run(namespace["gradient_penalty"], "points", 1, real, fake, seed=0)
    assert torch.equal(again["inputs"][0], out["inputs"][0]), "seeded: the same eps every time"


def test_train_wgan_gp_reports_a_loss_it_cannot_use_and_repeats_bit_for_bit():
    namespace = in_kernel(cell(SOLUTION_PENALTY, CRITIC_OK, GENERATOR_OK)).namespace
    points = torch.randn(256, 2)
    fns = [namespace[name] for name in ("gradient_penalty", "critic_loss", "generator_loss")]
    short = {"seed": 3, "steps": 4, "warmup": 3, "every": 2}
    first, second = (probes_a5.train_wgan_gp(*fns, points, **short) for _ in range(2))
    assert first["problem"] is None and first["checkpoints"] == [0, 2, 4]
    for a, b in zip(first["generator"] + first["critic"], second["generator"] + second["critic"]):
        assert all(torch.equal(a[k], b[k]) for k in a)
    as_number = probes_a5.train_wgan_gp(fns[0], lambda r, f: (f.mean() - r.mean()).item(), fns[2], points, **short)
    assert as_number["problem"] == {"code": "not_tensor", "function": "critic_loss", "type": "float", "step": -1}
    detached = probes_a5.train_wgan_gp(*fns[:2], lambda f: -f.detach().mean(), points, **short)
    assert detached["problem"] == {"code": "no_graph", "function": "generator_loss", "step": 1}
    assert len(detached["generator"]) == 1, "the checkpoint after the warm-up, then it stopped"


# ---------------------------------------------------------------------------------------------
# The notebook in a student's kernel: the training cell, the visible checks, "Run All" untouched
# ---------------------------------------------------------------------------------------------


def run_in_kernel(nb: nbformat.NotebookNode, workdir: Path) -> list:
    """Execute every cell of `nb` in a fresh kernel in smoke mode (this environment, without pytest's or
    nbgrader's variables, and with the kernel's own inline plots); raises at the first cell that raises,
    as "Run All" stops there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k not in ("NBGRADER_EXECUTION", "MPLBACKEND")}
    env.update(GAN_COURSE_SMOKE="1")
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False, resources={"metadata": {"path": str(workdir)}}).execute(env=env)
    return nb.cells


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.get("name") == "stdout")


def by_id(cells: list, grade_id: str):
    return next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_the_answered_notebook_trains_with_its_functions_and_passes_its_visible_checks(tmp_path):
    """The student version with the model answers filled in, run in a kernel (smoke mode: 5 warm-up and
    10 generator steps): the try cells print the expected values, the training cell its two measurements
    and a figure, and each visible check its full points."""
    cells = run_in_kernel(answered(STUDENT, SOLUTION), tmp_path)
    assert printed(by_id(cells, "try_losses")) == "critic_loss: -2.0 (expected -2.0)\ngenerator_loss: 1.0 (expected 1.0)\n"
    tried = printed(by_id(cells, "try_penalty")).splitlines()
    assert tried[:3] == [f"||w|| = {w}: gradient_penalty = {p} (expected {p})" for w, p in (("5", "160.0000"), ("1", "0.0000"), ("0.5", "2.5000"))]
    train = by_id(cells, "train")
    lines = printed(train).splitlines()
    assert [line.split(":")[0] for line in lines] == ["step     0", "step    10"], lines
    assert all(re.fullmatch(r"step +\d+: critic's estimate +-?\d+\.\d{3}, exact W1 \d\.\d{3}", line) for line in lines), lines
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in train.outputs), "the figure"
    scores_printed = [line for c in cells if c.cell_type == "code" for line in printed(c).splitlines() if line.startswith("a5 ")]
    assert len(scores_printed) == 4 and all(line.endswith(f"{p}/{p} points") for line, p in zip(scores_printed, (2, 1, 3, 3))), scores_printed


def test_run_all_on_the_untouched_student_version_reaches_every_visible_check(tmp_path):
    """'Run All' goes past the unfinished functions: each try cell says so in one line, the training cell
    stops at its first call, and every visible check scores 0 with the not-implemented message."""
    cells = run_in_kernel(nbformat.read(STUDENT, as_version=4), tmp_path)
    for grade_id, function in (("try_losses", "critic_loss"), ("try_penalty", "gradient_penalty"), ("train", "critic_loss")):
        told = printed(by_id(cells, grade_id)).strip()
        assert told.startswith(f"`{function}` is not implemented yet") and len(told.splitlines()) == 1, (grade_id, told)
    scores_printed = [line for c in cells if c.cell_type == "code" for line in printed(c).splitlines() if line.startswith("a5 ")]
    assert len(scores_printed) == 4 and all(": 0/" in line and "is not implemented yet" in line for line in scores_printed), scores_printed


def test_interpolates_clamped_to_the_data_range_are_told_the_clamp():
    """Red team, round four: x_hat clamped to [-1, 1] after the mix ("keep it in the data's range") moves the ring's
    interpolates beyond 1 off their segments, each element still between real's and fake's; it lost the points on
    points (rightly: the images' interpolates lie inside [-1, 1]) but was told "eps was drawn per element
    (torch.rand_like(real))", which it was not. The message names the clamp, at the bounds it finds (the seeded points
    reach beyond 1, not below -1)."""
    clamped = in_kernel(penalty(INTERPOLATES.replace("(eps * real + (1 - eps) * fake)", "(eps * real + (1 - eps) * fake).clamp(-1, 1)"),
                                GRAD, PENALTY))
    assert run_check(checks().test_penalty_at_random_interpolates, clamped) == (1.0, (
        f"{CALL} on {POINTS}: x_hat_i is not on the segment from fake_i to real_i: x_hat is clamped after the mix (at 1 "
        f"here: torch.clamp or .clip), which moves every interpolate with an element beyond that range off its segment; "
        f"{WHERE}: use the mix as it is, no clamp"))
    per_element = in_kernel(penalty("eps = torch.rand_like(real)\nx_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)",
                                    GRAD, PENALTY))
    assert "eps was drawn per element" in run_check(checks().test_penalty_at_random_interpolates, per_element)[1]
