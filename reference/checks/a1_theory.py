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
from reference.grading import CheckFailure, Partial, StudentError, check
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


def is_masked(module: str) -> bool:
    """`module` is one of MASKED or inside one."""
    return any(module == m or module.startswith(m + ".") for m in MASKED)


def masked_module(text: str) -> str | None:
    """The masked module (or its package) that an error's text says is missing, else None."""
    names = re.findall(r"(reference(?:\.\w+)+) is not available while this assignment is graded", text)
    names += [f"{m}.{a}" for m, a in re.findall(r"module '(reference(?:\.\w+)*)' has no attribute '(\w+)'", text)]
    for name in names:
        if any(m == name or m.startswith(name + ".") for m in MASKED):
            return name
    return None


def not_own(name: str, module: str, lead: str) -> str:
    """What a student reads when `name` is the course library's answer, not theirs."""
    return (
        f"{lead} {module}, the course library's own answer, which does not exist when your submission is graded, "
        f"so an answer taken from it scores 0: write {name} yourself from the formula"
    )


def student(submission, name: str):
    """The student's function `name` (a handle when graded)."""
    try:
        return submission.get(name)
    except CheckFailure as err:
        module = masked_module(str(err))
        if module is None:
            raise
        raise AssertionError(not_own(name, module, f"`{name}` is not defined when graded: the cell that defines it uses")) from None


def run(submission, name: str, probe: Callable, *args):
    """submission.run(probe, *args), where the student's function `name` is among the args."""
    try:
        return submission.run(probe, *args)
    except StudentError as err:
        module = masked_module(err.message) if err.type in ("ImportError", "ModuleNotFoundError", "AttributeError") else None
        if module is None:
            raise
        raise AssertionError(not_own(name, module, f"{name} uses")) from None


def own_work(submission, name: str, fn, *args) -> None:
    """Fail when fn(*args) runs code of a masked module: possible only in the student's kernel,
    where the course library is whole; graded, the same answer would score 0."""
    ran = run(submission, name, probes_a1.modules_run, fn, *args)
    used = [m for m in ran if isinstance(m, str) and is_masked(m)] if isinstance(ran, list) else []
    assert not used, not_own(name, used[0], f"{name} calls")


def close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-4) -> bool:
    return math.isfinite(a) and abs(a - b) <= abs_ + rel * abs(b)


def num(x: float) -> str:
    return f"{x:.6g}"


def diagnose(got: float, want: float, faults: list[tuple[float, str]], rel: float = 1e-4, abs_: float = 1e-4) -> str | None:
    """The message of the first common mistake (its value, its message) that `got` matches."""
    for value, message in faults:
        if close(got, value, rel, abs_) and not close(value, want, rel, abs_):
            return message
    return None


def logits(n: int = 16, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    """Seeded float32 logits (n,) in a moderate range."""
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * scale


def d_loss_faults(real: torch.Tensor, fake: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong discriminator losses on these logits: [(their value, the message)]."""
    r, f = real.double(), fake.double()
    want = F.softplus(-r).mean() + F.softplus(f).mean()
    return [
        (float(-want), "it is the negative of D's loss: you return V(D, G) = mean(log D(x)) + mean(log(1 - D(G(z)))), "
         "which D maximises; d_loss is what D minimises, -V (>= 0)"),
        (float(want / 2), "it is exactly half the expected value: you average the real and fake terms ((loss_real + "
         "loss_fake) / 2, or one mean over both batches, as DeepLearning.AI's course and d2l do); this task sums the "
         "two means: mean(-log D(x)) + mean(-log(1 - D(G(z))))"),
        (float(F.softplus(-r).mean() + F.softplus(-f).mean()), "the fake term labels the fakes as real: on D(G(z)) the "
         "loss is -log(1 - D(G(z))) = F.softplus(logit), i.e. binary cross-entropy with target 0 (torch.zeros_like), not 1"),
        (float(F.softplus(r).mean() + F.softplus(f).mean()), "the real term labels the real images as fake: on D(x) the "
         "loss is -log D(x) = F.softplus(-logit), i.e. binary cross-entropy with target 1 (torch.ones_like), not 0"),
        (float(F.softplus(r).mean() + F.softplus(-f).mean()), "the targets are swapped: real images get target 1 "
         "(-log D(x)) and fakes target 0 (-log(1 - D(G(z))))"),
        (float(F.softplus(-r).sum() + F.softplus(f).sum()), "it is the sum over the batch, not the mean: take the mean "
         "of each term (binary cross-entropy's default reduction='mean')"),
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
    ]


@dataclass(frozen=True)
class LossTask:
    """One loss the student writes: its name, its arguments, who learns from it, the formula, the
    oracle, its common mistakes and the seeded moderate logits it is checked on."""

    name: str
    args: tuple[str, ...]
    learner: str
    formula: str
    reference: Callable[..., torch.Tensor]
    faults: Callable[..., list[tuple[float, str]]]
    seeded: Callable[[], tuple[torch.Tensor, ...]]
    cut_hint: str = ""


D_LOSS = LossTask(
    "d_loss", ("real_logits", "fake_logits"), "D", "mean(-log D(x)) + mean(-log(1 - D(G(z)))) with D = sigmoid(logit)",
    MINIMAX.d_loss, d_loss_faults, lambda: (logits(16, 1), logits(16, 2)),
    cut_hint="; to keep G out of D's step, detach G(z) before D sees it, not D's logits",
)
G_LOSS = LossTask(
    "g_loss", ("fake_logits",), "G", "G minimises mean(log(1 - D(G(z)))) with D = sigmoid(logit)",
    MINIMAX.g_loss, g_loss_faults, lambda: (logits(16, 3),),
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
        f"{name} returned {kind if isinstance(kind, str) else 'something else'}; "
        f"return a torch tensor (no .item()), so that loss.backward() works"
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


def check_loss(submission, task: LossTask) -> None:
    """The loss's value on seeded moderate logits, its graph and its gradient."""
    inputs = task.seeded()
    loss = loss_answer(submission, task, *inputs)
    want, grads = oracle(task, *inputs)
    if not close(loss.value, want):
        hint = diagnose(loss.value, want, task.faults(*inputs)) or task.formula
        call = f"{task.name}({', '.join(a.removesuffix('_logits') for a in task.args)})"
        raise AssertionError(f"{call} = {num(loss.value)} on seeded logits; expected {num(want)}: {hint}")
    failure = graph_failure(task, loss)
    assert failure is None, failure
    wrong = wrong_gradient(task, loss, grads)
    assert wrong is None, f"{task.name} has the right value but the wrong gradient with respect to {wrong[0]}"


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
    return [
        (m2 + t - cross, "the cross term is subtracted once; it is -2 tr((S1 S2)^(1/2)), with the factor 2"),
        (math.sqrt(m2) + t - 2 * cross, "the mean term is not squared: use ||mu1 - mu2||^2, the sum of the squared "
         "differences, not the norm ||mu1 - mu2||"),
        (m2 + t - 2 * float((s1 @ s2).diagonal().sqrt().sum()), ELEMENTWISE),
        (m2 + t - 2 * float((s1.sqrt() @ s2.sqrt()).trace()), ELEMENTWISE),
        (m2 + t - 2 * float((matrix_sqrt(s1) @ matrix_sqrt(s2)).trace()), "tr(S1^(1/2) S2^(1/2)) is not "
         "tr((S1 S2)^(1/2)) (S1 and S2 do not commute): take the square root of the product, e.g. from the eigenvalues of S1 S2"),
        (m2 + t - 2 * math.sqrt(float((s1 @ s2).trace())), "sqrt(tr(S1 S2)) is not tr((S1 S2)^(1/2)): the trace of "
         "the matrix square root is the sum of the square roots of the eigenvalues of S1 S2"),
        (math.sqrt(max(want, 0.0)), "that is the square root of the expected value: return the squared distance d^2 "
         "itself, as FID does, without a final sqrt"),
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


@check(points=2, visible=True)
def test_frechet_distance_matches_reference(submission):
    """frechet_distance matches the FID formula on full covariances"""
    for d, seed in ((2, 0), (6, 1)):
        (mu1, s1), (mu2, s2) = gaussian(d, seed), gaussian(d, seed + 10)
        got, want = frechet_answer(submission, mu1, s1, mu2, s2), reference_frechet(mu1, s1, mu2, s2)
        hint = diagnose(got, want, frechet_faults(mu1, s1, mu2, s2), rel=1e-6, abs_=1e-6) or FRECHET_FORMULA
        assert close(got, want, rel=1e-6, abs_=1e-6), f"frechet_distance of two {d}-D Gaussians is {num(got)}; expected {num(want)}: {hint}"
