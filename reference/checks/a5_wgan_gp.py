"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a5_wgan_gp.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
import torch
import torch.nn.functional as F
from reference.data.mixtures import sample_mixture
from reference.grading import Partial, StudentError, check
from reference.grading.masking import Masked, not_own
from reference.grading.checks import as_student_error, clean_text
from reference.grading import probes, probes_a1, probes_a5
from reference.losses import WGANGP
ASSIGNMENT = "a5_wgan_gp"
MASKED = ("reference.losses",)  # it holds the answers (WGANGP); absent when a5 is graded
WGAN = WGANGP()
TOL_REL, TOL_ABS = 1e-4, 1e-5
MASK = Masked(*MASKED)
is_masked, masked_module, student = MASK.covers, MASK.named_in, MASK.student


def run(submission, name: str, probe: Callable, *args, **kwargs):
    """submission.run(probe, *args, **kwargs), where the student's function `name` is among the args.

    An exception of the student's code is a StudentError on both sides (in the student's kernel it
    is recognised by its traceback through the notebook's functions), so the checks word it alike."""
    try:
        return submission.run(probe, *args, **kwargs)
    except Exception as raw:  # noqa: BLE001 - sorted below: the student's, or the check's own
        err = raw if isinstance(raw, StudentError) else as_student_error(raw, getattr(submission, "namespace", None))
        if err is None:
            raise
    module = masked_module(err.message) if err.type in ("ImportError", "ModuleNotFoundError", "AttributeError") else None
    if module is None:
        raise err from None
    culprit = err.where.split(".<locals>.")[-1] or name  # the function that reached it, when known
    raise AssertionError(not_own(culprit, module, f"{culprit} uses")) from None


def own_work(submission, name: str, fn, *args) -> None:
    """Fail when fn(*args) runs code of a masked module: possible only in the student's kernel,
    where the course library is whole; graded, the same answer would score 0."""
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)  # a function that changes its inputs in place
    ran = run(submission, name, probes_a1.modules_run, fn, *args)               # changes copies, not the checks' own
    used = [m for m in ran if isinstance(m, str) and is_masked(m)] if isinstance(ran, list) else []
    assert not used, not_own(name, used[0], f"{name} calls")


def close(a: float, b: float, rel: float = TOL_REL, abs_: float = TOL_ABS) -> bool:
    return math.isfinite(a) and abs(a - b) <= abs_ + rel * abs(b)


def num(x: float) -> str:
    return f"{x + 0.0:.6g}"  # + 0.0: no "-0"


def diagnose(got: float, want: float, faults: list[tuple[float, str]]) -> str | None:
    """The message of the first common mistake (its value, its message) that `got` matches."""
    for value, message in faults:
        if close(got, value) and not close(value, want):
            return message
    return None


def joined(messages: list[str]) -> str:
    """Distinct messages joined with "; ", a hint that ends the first one too said once:
    "... expected 2.5: the same mistake"."""
    messages = list(dict.fromkeys(messages))
    out = messages[:1]
    for message in messages[1:]:
        shared = len(os.path.commonprefix([messages[0][::-1], message[::-1]]))
        cut = message.find(": ", len(message) - shared - 2)
        if cut >= 0 and len(message) - cut > 40:
            message = message[:cut] + ": the same mistake"
        out.append(message)
    return "; ".join(out)


def shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


CRITIC_FORMULA = (
    "the critic minimises mean(D(G(z))) - mean(D(x)): critic_loss(critic_real, critic_fake) = "
    "critic_fake.mean() - critic_real.mean()"
)
GENERATOR_FORMULA = "G minimises -mean(D(G(z))): generator_loss(critic_fake) = -critic_fake.mean()"
NO_LOGS = "WGAN's critic returns an unbounded score, not a logit: no sigmoid, no log"


def scores(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Seeded float32 critic scores of `shape`, of a few units either way."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 3.0


LSGAN = " (D(x) pulled to 1 and D(G(z)) to 0 by squares)"


def critic_loss_faults(real: torch.Tensor, fake: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong critic losses on these scores: [(their value, the message)]."""
    r, f = real.double(), fake.double()
    return [
        (float(r.mean() - f.mean()), "the sign is flipped: that is mean(D(x)) - mean(D(G(z))), the estimate of W "
         "that the critic maximises; critic_loss is what it minimises, mean(D(G(z))) - mean(D(x)), and it takes the real "
         "scores first, critic_loss(critic_real, critic_fake) (DeepLearning.AI's get_crit_loss takes the fake ones first)"),
        (float(F.softplus(-r).mean() + F.softplus(f).mean()), "that is the standard GAN's discriminator loss (binary "
         f"cross-entropy on logits); {NO_LOGS}: mean(D(G(z))) - mean(D(x))"),
        (float(torch.sigmoid(f).mean() - torch.sigmoid(r).mean()), f"the scores go through a sigmoid; {NO_LOGS}"),
        (float(f.sum() - r.sum()), "it is the sum over the batch, not the mean: take the mean of each term"),
        (float(f.mean()), "the real term is missing: mean(D(G(z))) - mean(D(x))"),
        (float(-r.mean()), "the fake term is missing: mean(D(G(z))) - mean(D(x))"),
        (float(F.relu(1 - r).mean() + F.relu(1 + f).mean()), "that is the hinge loss mean(relu(1 - D(x))) + "
         "mean(relu(1 + D(G(z)))) (SAGAN, BigGAN): WGAN's critic minimises mean(D(G(z))) - mean(D(x)), with no margin"),
        (float(f.mean() - r.mean() + 0.001 * r.square().mean()), "it adds ProGAN's drift term 0.001 mean(D(x)^2), which "
         "is not part of this loss: mean(D(G(z))) - mean(D(x)) (the training step adds only the gradient penalty)"),
        *[(float(scale * ((r - 1).square().mean() + f.square().mean())), f"that is LSGAN's least-squares loss{LSGAN}: WGAN's "
           "critic minimises mean(D(G(z))) - mean(D(x)), with no squares and no targets") for scale in (0.5, 1.0)],
    ]


def generator_loss_faults(fake: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong generator losses on these scores: [(their value, the message)]."""
    f = fake.double()
    return [
        (float(f.mean()), "the sign is flipped: G wants the critic to score its samples high, so it minimises "
         "-mean(D(G(z)))"),
        (float(F.softplus(-f).mean()), f"that is the standard GAN's non-saturating loss -log sigmoid(D(G(z))); {NO_LOGS}"),
        (float(-torch.sigmoid(f).mean()), f"the scores go through a sigmoid; {NO_LOGS}"),
        (float(-f.sum()), "it is the sum over the batch, not the mean: take the mean"),
        *[(float(scale * (f - 1).square().mean()), "that is LSGAN's least-squares loss (D(G(z)) pulled to 1 by a square): WGAN's "
           "generator minimises -mean(D(G(z))), with no squares and no target") for scale in (0.5, 1.0)],
    ]


@dataclass(frozen=True)
class LossTask:
    """One loss the student writes: its name and arguments, who learns from it, the formula, the
    oracle and its common mistakes."""

    name: str
    args: tuple[str, ...]
    learner: str
    formula: str
    reference: Callable[..., torch.Tensor]
    faults: Callable[..., list[tuple[float, str]]]


CRITIC_LOSS = LossTask("critic_loss", ("critic_real", "critic_fake"), "the critic", CRITIC_FORMULA, WGAN.d_loss,
                       critic_loss_faults)
GENERATOR_LOSS = LossTask("generator_loss", ("critic_fake",), "G", GENERATOR_FORMULA, WGAN.g_loss, generator_loss_faults)


@dataclass
class Loss:
    """What a student's loss returned: its value, whether it carries a graph, and d(value)/d(each
    input) (float64, the input's shape; None where the graph does not reach)."""

    value: float
    requires_grad: bool
    grads: list[torch.Tensor | None]


def loss_answer(submission, task: LossTask, *inputs: torch.Tensor) -> Loss:
    """The student's loss on `inputs`; a failure that names the fault when it is not one number in
    a tensor, or when it is the course library's."""
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
    value = answer.get("value")
    assert isinstance(value, torch.Tensor) and value.numel() == 1, (
        f"{name} returned shape {shape_text(value.shape) if isinstance(value, torch.Tensor) else '?'}; "
        f"expected one number: take the mean over the batch"
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


def written_in_size(submission, task: LossTask, cases: list[tuple[torch.Tensor, ...]], n: int) -> str | None:
    """Why the loss is its sum over the batch divided by a fixed number k (a batch size written into the function,
    `/ 64`) rather than by the batch's own size n, else None. On one batch size a sum divided by k is n / k times the
    mean, which a factor (a half) gives too: k is measured on each batch size of `cases` and must be the same whole
    number on all of them (a factor's k grows with n)."""
    ks, sizes = [], set()
    for inputs in cases:
        size = inputs[0].shape[0]
        if size in sizes:
            continue
        sizes.add(size)
        try:
            got = loss_answer(submission, task, *inputs).value
        except (AssertionError, StudentError):
            return None
        want, _ = oracle(task, *inputs)
        if not (math.isfinite(got) and abs(got) > 1e-12 and abs(want) > 1e-12):
            return None
        ks.append(want * size / got)
    k = round(ks[0]) if ks else 0
    if len(ks) < 2 or k < 2 or k == n or any(abs(x - k) > 1e-4 * k for x in ks):
        return None
    return (f"it divides the sum over the batch by {k}, whatever the number of scores ({n} here): a batch size written "
            f"into the function? Take the mean, .mean(), which divides by the batch's own size")


def check_loss(submission, task: LossTask, cases: list[tuple[torch.Tensor, ...]]) -> None:
    """The loss's value, graph and gradients on each case of seeded scores (of two batch sizes: a loss that divides
    by a batch size written into it is right on one of them at most)."""
    right_before = False  # an earlier case was right
    for inputs in cases:
        try:
            loss = loss_answer(submission, task, *inputs)
        except StudentError as err:
            if not err.not_implemented and err.type in ("IndexError", "RuntimeError") and re.search(
                    r"[Dd]imension out of range|size|shape", err.message):
                raise AssertionError(
                    f"{task.name} raised {err.type} on seeded critic scores of shape {shape_text(inputs[0].shape)}: "
                    f"{err.message}; the scores come as (N, 1) or (N,): take the mean over all of them, .mean() (no "
                    f"squeeze(1), view(N, 1) or dim=1)"
                ) from None
            raise
        want, grads = oracle(task, *inputs)
        where = f"on seeded critic scores of shape {shape_text(inputs[0].shape)}"
        if not close(loss.value, want):
            hint = (diagnose(loss.value, want, task.faults(*inputs))
                    or written_in_size(submission, task, cases, inputs[0].shape[0]) or task.formula)
            if right_before and close(loss.value, -want):  # right on other scores, flipped on these: the sign is lost
                hint = (f"it was right on scores where it is positive and is flipped on these, where it is negative: an "
                        f"abs() or relu() of the loss? {task.formula}, signed")
            elif right_before and float(inputs[0].abs().max()) > LARGE_SCORES:  # right on scores of a few units only
                hint = (f"it was right on scores of a few units and is wrong on these, which reach {num(float(max(x.abs().max() for x in inputs)))} "
                        f"(an unconstrained critic's scores grow that large): are the scores clamped or squashed (clamp, "
                        f"tanh, a sigmoid)? {task.formula}, the scores as they are")
            call = f"{task.name}({', '.join(task.args)})"
            raise AssertionError(f"{call} = {num(loss.value)} {where}; expected {num(want)}: {hint}")
        assert loss.requires_grad, f"{task.name} carries no gradient (was it detached, or made with .item()?); {task.learner} could not learn from it"
        for arg, got, expected in zip(task.args, loss.grads, grads):
            assert got is not None, (
                f"{task.name}'s gradient does not reach {arg}: a .detach() (or a tensor rebuilt from numbers) cuts the "
                f"graph, so {task.learner} could not learn from those scores"
            )
            assert torch.allclose(got, expected, rtol=1e-4, atol=1e-6), (
                f"{task.name} has the right value {where} but the wrong gradient with respect to {arg}: "
                f"{num(float(got.flatten()[0]))} per score, expected {num(float(expected.flatten()[0]))}"
            )
        right_before = True


LARGE_SCORES = 50.0  # scores beyond this: the last case of each loss check, as a critic without a constraint makes them
LARGE = 40.0  # the factor of that case's scores: up to about 300


@check(points=2, visible=True)
def test_critic_loss_matches_reference(submission):
    """critic_loss is mean(D(G(z))) - mean(D(x)), with its gradients"""
    check_loss(submission, CRITIC_LOSS, [(scores((16, 1), 1), scores((16, 1), 2)), (scores((16,), 3), scores((16,), 4)),
                                         (scores((10, 1), 8), scores((10, 1), 9)),  # another batch size
                                         (LARGE * scores((16, 1), 11), LARGE * scores((16, 1), 12))])  # large scores


@check(points=1, visible=True)
def test_generator_loss_matches_reference(submission):
    """generator_loss is -mean(D(G(z))), with its gradient"""
    check_loss(submission, GENERATOR_LOSS, [(scores((16, 1), 5),), (scores((16,), 6),),
                                            (scores((16,), 7).abs() + 0.5,),  # scores of a positive mean: the loss is negative
                                            (scores((10, 1), 10),),  # another batch size
                                            (LARGE * scores((16, 1), 13),)])  # large scores


def ring_and_gaussian(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Real points (n, 2) of the 8-Gaussian ring and fake ones from N(0, 0.5^2 I), seeded."""
    real, _ = sample_mixture("ring", n, seed=seed)
    return real, 0.5 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed + 100))


def two_image_batches(shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and fake images of `shape` (N, C, H, W), uniform in [-1, 1], seeded."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen) * 2 - 1, torch.rand(shape, generator=gen) * 2 - 1


@dataclass(frozen=True)
class Case:
    """One call gradient_penalty(critic, real, fake[, lambda_gp]): the probe's critic
    (`probes_a5.probe_critic(kind, real.shape[1:], critic_seed, norm)`) and the seed of its RNGs."""

    label: str
    kind: str
    critic_seed: int
    real: torch.Tensor
    fake: torch.Tensor
    seed: int
    lambda_gp: float | None = None
    norm: float | None = None

    @property
    def lam(self) -> float:
        return 10.0 if self.lambda_gp is None else self.lambda_gp

    def call(self) -> str:
        extra = "" if self.lambda_gp is None else f", {self.lambda_gp:g}"
        return f"gradient_penalty(critic, real, fake{extra})"


POINTS = Case("64 points (64, 2) and a small tanh critic", "points", 1, *ring_and_gaussian(64, 0), seed=0)
IMAGES = Case("images (6, 1, 8, 8) and a small conv critic", "images", 3, *two_image_batches((6, 1, 8, 8), 1), seed=1)
LINEAR_POINTS = Case("a linear critic on points, D(x) = w.x + b with ||w|| = 2.5", "linear", 4, *ring_and_gaussian(64, 4),
                     seed=4, norm=2.5)
LINEAR_IMAGES = Case("a linear critic on images (6, 1, 8, 8) with ||w|| = 3", "linear", 5,
                     *two_image_batches((6, 1, 8, 8), 5), seed=5, norm=3.0)
RGB = Case("3-channel images (5, 3, 8, 8)", "images", 0, *two_image_batches((5, 3, 8, 8), 6), seed=6)
PENALTY_FORMULA = (
    "the penalty is lambda_gp * mean over the batch of (||grad D(x_hat)||_2 - 1)^2, with one L2 norm per sample of "
    "the gradient of the critic's scores with respect to x_hat"
)
SHAPES_HINT = (
    "it must work for any sample shape: eps of shape (N,) + (1,) * (real.dim() - 1) (N, 1 for points, N, 1, 1, 1 for "
    "images), and one norm over each sample's whole gradient, grad.reshape(N, -1).norm(2, dim=1)"
)


@dataclass
class Penalty:
    """What one call of the student's gradient_penalty did (untrusted data, validated): its value
    (None when it is not a tensor; the first item when it is not one number), the critic's inputs
    of real's shape, how often it ran, what backpropagating the value gave, and which of real and fake
    it changed in place."""

    case: Case
    result_type: str
    shape: list[int] | None
    value: float | None
    requires_grad: bool
    calls: int
    shapes: list[tuple[int, ...]]
    points: list[torch.Tensor]
    leftover: list[str]
    grads: dict[str, torch.Tensor | None] | None
    backward_error: str | None
    names: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    weights_changed: list[str] = field(default_factory=list)  # the critic's parameters the call changed
    dtypes: list[str] = field(default_factory=list)  # of the critic's scores and of the value


def text(value, limit: int = 200) -> str:
    """Untrusted text, printable and at most `limit` characters."""
    return clean_text(value, limit)


def penalty_error_hint(err: StudentError) -> str | None:
    """The fix for an error gradient_penalty raised, where its words tell it: None otherwise."""
    if "grad_output" in err.message:  # "Mismatch in shape: grad_output[0] has a shape of ..."
        return ("grad_outputs must have the shape of the scores it weights: torch.autograd.grad(scores, x_hat, "
                "grad_outputs=torch.ones_like(scores), create_graph=True), or differentiate scores.sum()")
    if "differentiated Tensors does not require grad" in err.message:  # autograd.grad(scores, x_hat) with an x_hat that does not require grad
        return ("x_hat must require grad before the critic scores it, or autograd cannot differentiate with respect to "
                "it (real and fake come without gradients, and .detach() or torch.no_grad() makes a tensor that does "
                "not): x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)")
    if "appears to not have been used in the graph" in err.message:  # autograd.grad(critic(x_hat.detach()), x_hat)
        return ("the critic's scores do not depend on x_hat: the critic scored a copy cut from it (x_hat.detach(), "
                "x_hat.data, or a tensor rebuilt from its values), so autograd finds no path from the scores back to x_hat; "
                "allow_unused=True would only make the gradient None: score x_hat itself, made with requires_grad_(True), "
                "critic(x_hat)")
    if "does not require grad and does not have a grad_fn" in err.message:  # critic(x_hat) under torch.no_grad()
        return ("the critic's scores carry no graph back to x_hat (critic(x_hat) ran under torch.no_grad() or "
                "torch.inference_mode()), so autograd cannot differentiate them: score x_hat with gradients on, the "
                "penalty differentiates the scores with respect to x_hat")
    if re.search(r"\bdtype\b|Double and Float|Float and Double|type \((double|float)\)|found (Double|Float)", err.message):
        return ("x_hat must keep real's dtype (float32, the critic's weights' dtype): draw eps with dtype=real.dtype, "
                "torch.rand(..., dtype=real.dtype, device=real.device); NumPy's random numbers are float64, so convert "
                "them with .to(real.dtype)")
    if err.type in ("AttributeError", "TypeError") and "NoneType" in err.message:
        return ("the gradient is None: torch.autograd.grad found no path from the scores back to x_hat (a critic that "
                "scores a detached copy, x_hat.detach() or x_hat.data; allow_unused=True hides this): score x_hat itself, "
                "made with requires_grad_(True)")
    if err.type == "AttributeError" and re.search(r"'tuple' object has no attribute", err.message):
        return ("torch.autograd.grad returns a tuple, one gradient per input it was given: take its first element, "
                "grad = torch.autograd.grad(scores, x_hat, ...)[0]")
    if err.type in ("RuntimeError", "ValueError", "IndexError") and re.search(
            r"size|shape|dimension|broadcast|view|values to unpack", err.message, re.IGNORECASE):
        return SHAPES_HINT
    return None


ONE_DIM = re.compile(r"Dimension out of range \(expected to be in range of \[-1, 0\], but got (-?\d+)\)")


def reduction_hint(submission, case: Case, err: StudentError) -> str | None:
    """The fix for a dim that a tensor of one dimension does not have (IndexError: Dimension out of range, [-1, 0]),
    raised after the critic scored good interpolates (the function called again with a recording critic): eps and
    x_hat are right, and past the gradient the tensors of one dimension are the per-sample norms and terms (N,),
    reduced over a dim they do not have (.mean(dim=1)); None when the error says otherwise or the critic did not."""
    found = ONE_DIM.search(err.message) if err.type == "IndexError" else None
    if found is None:
        return None
    fn = student(submission, "gradient_penalty")
    critic = submission.run(probes_a5.probe_critic, case.kind, list(case.real.shape[1:]), case.critic_seed, case.norm)
    recorder = submission.run(probes_a5.Recorder, critic)
    args = (recorder, case.real.clone(), case.fake.clone(), *([] if case.lambda_gp is None else [case.lambda_gp]))
    try:
        run(submission, "gradient_penalty", probes_a1.modules_run, fn, *args)
    except StudentError as again:
        if again.message != err.message:
            return None
    else:
        return None  # it raised once only: nothing to tell by
    if drawn_t(recorder.inputs, case) is None:
        return None
    dim = found[1]
    return (
        f"x_hat is right (the critic scored it on the segments between fake and real, one eps per sample), so the fault "
        f"comes after: dim {dim} of a tensor with one dimension, as the per-sample norms grad.reshape(N, -1).norm(2, "
        f"dim=1) and their squared terms are, shape (N,) (.mean(dim={dim}), .sum({dim}) or .norm(dim={dim}) of them): "
        f"average the terms over the batch with .mean(), no dim, lambda_gp * ((norm - 1) ** 2).mean()"
    )


def penalty_answer(submission, case: Case, trace: bool = False) -> Penalty:
    """The student's gradient_penalty called on `case` in the probe (first traced for the course
    library's code when `trace`); its answer validated."""
    fn = student(submission, "gradient_penalty")
    try:
        if trace:
            critic = submission.run(probes_a5.probe_critic, case.kind, list(case.real.shape[1:]), case.critic_seed, case.norm)
            own_work(submission, "gradient_penalty", fn, critic, case.real, case.fake)
        answer = run(submission, "gradient_penalty", probes_a5.penalty_run, fn, case.kind, case.critic_seed, case.real.clone(),
                     case.fake.clone(), seed=case.seed, lambda_gp=case.lambda_gp, norm=case.norm)  # copies: see own_work
    except StudentError as err:
        if err.not_implemented:
            raise
        if hint := reduction_hint(submission, case, err) or penalty_error_hint(err):
            raise AssertionError(f"{case.call()} raised {err.type} for {case.label}: {err.message}; {hint}") from None
        raise
    answer = answer if isinstance(answer, dict) else {}
    result = answer.get("result") if isinstance(answer.get("result"), dict) else {}
    value = answer.get("value")
    value = value if isinstance(value, torch.Tensor) and value.dim() == 1 and value.numel() and value.dtype == torch.float64 else None
    inputs = answer.get("inputs") if isinstance(answer.get("inputs"), list) else []
    inputs = [x for x in inputs if isinstance(x, torch.Tensor)]
    leftover = answer.get("leftover") if isinstance(answer.get("leftover"), list) else []
    grads = answer.get("grads")
    net = probes_a5.probe_critic(case.kind, tuple(case.real.shape[1:]), case.critic_seed, case.norm)
    names = [f"net.{name}" for name, _ in net.named_parameters()]
    if isinstance(grads, list):
        pairs = {p[0]: p[1] for p in grads if isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)}
        params = dict(net.named_parameters())
        grads = {n: (g if isinstance(g, torch.Tensor) and g.shape == params[n[4:]].shape and g.dtype == torch.float64 else None)
                 for n, g in pairs.items() if n in names}
    else:
        grads = None
    shape = result.get("shape")
    calls = answer.get("calls")
    return Penalty(
        case=case,
        result_type=text(result.get("type"), 40) or "something else",
        shape=shape if isinstance(shape, list) and all(isinstance(d, int) for d in shape) else None,
        value=float(value[0]) if value is not None else None,
        requires_grad=answer.get("requires_grad") is True,
        calls=calls if isinstance(calls, int) and not isinstance(calls, bool) else 0,
        shapes=[tuple(x.shape) for x in inputs],
        points=scored_batches(inputs, case.real),
        leftover=[text(p[0], 60) for p in leftover if isinstance(p, (list, tuple)) and len(p) == 2 and p[1] is True],
        grads=grads,
        backward_error=text(answer.get("backward_error")) or None,
        names=names,
        changed=[name for name in ("real", "fake") if name in (answer.get("changed") or [])],
        weights_changed=[text(n, 60) for n in (answer.get("weights_changed") or [])[:8] if isinstance(n, str)]
        if isinstance(answer.get("weights_changed"), list) else [],
        dtypes=[text(d, 20) for d in [*(answer.get("score_dtypes") or [])[:4], result.get("dtype")] if isinstance(d, str)],
    )


STACKED = 4  # batches of N samples one critic call may hold (real, fake and x_hat joined by torch.cat: 3)


def scored_batches(inputs: list[torch.Tensor], real: torch.Tensor) -> list[torch.Tensor]:
    """The batches x_hat (real's shape, float64) the critic scored: an input of real's shape (or of
    its N samples in another shape: vmap's (N, 1, ...)), each block of N samples of an input that joins
    up to STACKED batches (one call on torch.cat([real, fake, x_hat])), and consecutive inputs that
    together hold N samples (a loop over the samples, or over chunks of them)."""
    n, size = real.shape[0], real[0].numel()
    found, run, held = [], [], 0
    for x in inputs:
        if not (x.is_floating_point() and x.dim() >= 1 and x.numel() == x.shape[0] * size):
            run, held = [], 0
            continue
        if x.shape[0] == n:
            found.append(x.reshape(real.shape).double())
            run, held = [], 0
            continue
        if n > 1 and x.shape[0] % n == 0 and x.shape[0] // n <= STACKED:  # torch.cat([real, fake, x_hat]) scored in one call
            found += [part.reshape(real.shape).double() for part in x.split(n)]
            run, held = [], 0
            continue
        run.append(x.reshape(x.shape[0], *real.shape[1:]))
        held += x.shape[0]
        if held == n:
            found.append(torch.cat(run).double())
            run, held = [], 0
        elif held > n:
            run, held = [], 0
    return found


def one_number(answer: Penalty) -> float:
    """The penalty's value; a failure that names the fault when it is not one number in a tensor."""
    kind = answer.result_type
    assert kind != "NoneType", "gradient_penalty returned None (is its return missing?); return the penalty as a torch tensor"
    assert kind == "Tensor" and answer.value is not None, (
        f"gradient_penalty returned {kind}; return a torch tensor (no .item()), so that the critic's loss can "
        f"backpropagate through it"
    )
    shape = answer.shape or []
    assert math.prod(shape) == 1, (
        f"gradient_penalty returned shape {shape_text(shape)}; expected one number: the mean over the batch of "
        f"lambda_gp * (||grad||_2 - 1)^2"
    )
    return answer.value


def no_critic_call(answer: Penalty) -> str | None:
    """Why the critic was never called on points of real's shape, else None."""
    case = answer.case
    if answer.calls == 0:
        return (
            f"{case.call()} never calls the critic it is given ({case.label}): score the interpolates with "
            f"critic(x_hat), the `critic` argument, not a model of the notebook"
        )
    if not answer.points:
        n, dims = case.real.shape[0], case.real.dim()
        paired = next((s for s in answer.shapes if len(s) > dims and s[-dims:] == tuple(case.real.shape)
                       and math.prod(s[:-dims]) == n), None)
        if paired is not None:  # (N, 1, 1, 1) * (N, 2) -> (N, 1, N, 2): every eps times every sample
            eps = shape_text(paired[:-dims] + (1,) * dims)
            return (
                f"{case.call()} calls the critic on x_hat of shape {shape_text(paired)}, not real's {shape_text(case.real.shape)} "
                f"({case.label}): an eps of shape {eps} broadcast against real {shape_text(case.real.shape)} multiplies "
                f"every sample by every eps; {SHAPES_HINT}"
            )
        shapes = ", ".join(shape_text(s) for s in answer.shapes[:3]) or "something that is not a tensor"
        return (
            f"{case.call()} calls the critic on {shapes}, not on x_hat of real's shape {shape_text(case.real.shape)} "
            f"({case.label}): {SHAPES_HINT}"
        )
    return None


SEGMENT_TOL = 1e-4  # distance of x_hat_i from the line through fake_i and real_i, relative to ||real_i - fake_i||
DRAW_CALLS = 64  # calls in a row on the 64 points whose eps (4,096 of them) are tested for uniformity together
FALSE_ALARM = 1e-9  # the most often that U(0, 1) draws may fail that test
SHARED_TOL = 1e-4  # t_i this close to each other: one eps for the whole batch
WHERE = "WGAN-GP penalises the gradient at random interpolates x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per sample"


def ks_limit(n: int, false_alarm: float = FALSE_ALARM) -> float:
    """The Kolmogorov-Smirnov distance that n U(0, 1) draws exceed with probability at most `false_alarm`:
    the Dvoretzky-Kiefer-Wolfowitz inequality (Massart's constant), P(sup |F_n - F| > d) <= 2 exp(-2 n d^2),
    true for every n. For 4,096 draws and 1e-9: 0.0511; sigmoid(N(0, 1)) draws are 0.117 away, Beta(2, 2) ones 0.096."""
    return math.sqrt(math.log(2 / false_alarm) / (2 * n))


@dataclass
class Fit:
    """x_hat against the segments: t_i = <x_hat_i - fake_i, real_i - fake_i> / ||real_i - fake_i||^2,
    off: the largest distance from the line relative to ||real_i - fake_i||, box: every element lies
    between real's and fake's."""

    t: torch.Tensor
    off: float
    box: bool

    @property
    def on_segment(self) -> bool:
        return self.off <= SEGMENT_TOL


def fit(x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> Fit:
    """x against the segments from fake_i to real_i; when x is off them, against the segments of some other one-to-one
    pairing of the two batches (`paired`): real and generated samples are independent draws, so interpolating between
    real_i and a shuffled batch's fake_j is WGAN-GP's x_hat too."""
    x, r, f = (v.double().reshape(v.shape[0], -1) for v in (x, real, fake))
    found = _segments(x, r, f)
    if not found.on_segment:
        shuffled = paired(x, r, f)
        if shuffled is not None:
            found = _segments(x, r[shuffled[0]], f[shuffled[1]])
    return found


def _segments(x: torch.Tensor, r: torch.Tensor, f: torch.Tensor) -> Fit:
    """Fit of flat x (N, D) against the segments from f_i to r_i."""
    d = r - f
    t = ((x - f) * d).sum(1) / d.square().sum(1)
    off = float(((x - f - t[:, None] * d).norm(dim=1) / d.norm(dim=1)).max())
    low, high = torch.minimum(r, f), torch.maximum(r, f)
    box = bool(((x >= low - 1e-6) & (x <= high + 1e-6)).all())
    return Fit(t, off, box)


PAIRING_LIMIT = 2 ** 24  # N * N * D elements at most for the search of a shuffled pairing (64 points: 8,192)
PAIRING_STEPS = 20_000  # steps of the search for a one-to-one pairing before it gives up
Candidate = tuple[float, "int | None", "int | None", int, int]  # off, the real and the generated sample it needs, its best ends


def paired(x: torch.Tensor, r: torch.Tensor, f: torch.Tensor, rows: list | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Indices (a, b), each a permutation of range(N), with every flat x_i (N, D) on the segment from f[b_i] to r[a_i],
    else None. Two rows that need the same real (or generated) sample are no pairing: x_hat made from one real point
    for the whole batch, or from real points drawn with replacement, is not WGAN-GP's. In a few dimensions some x_i
    also lies, to float precision, on another segment than its own: the search backtracks over every segment each
    row lies on."""
    rows = segment_candidates(x, r, f) if rows is None else rows  # `rows`: segment_candidates' answer, made already
    if rows is None:
        return None
    n = len(x)
    order = sorted(range(n), key=lambda i: len(rows[i]))
    chosen: dict[int, Candidate] = {}
    steps = 0

    def place(k: int, used_a: set, used_b: set) -> bool:
        nonlocal steps
        if k == n:
            return True
        i = order[k]
        for candidate in rows[i]:
            steps += 1
            if steps > PAIRING_STEPS:
                return False
            _, a, b, _, _ = candidate
            if (a is not None and a in used_a) or (b is not None and b in used_b):
                continue
            chosen[i] = candidate
            if place(k + 1, used_a | {a} - {None}, used_b | {b} - {None}):
                return True
        return False

    if not place(0, set(), set()):
        return None
    needed = ({i: c[1] for i, c in chosen.items() if c[1] is not None}, {i: c[2] for i, c in chosen.items() if c[2] is not None})
    best = ({i: c[3] for i, c in chosen.items()}, {i: c[4] for i, c in chosen.items()})
    return _completed(needed[0], best[0], n), _completed(needed[1], best[1], n)


def segment_candidates(x: torch.Tensor, r: torch.Tensor, f: torch.Tensor, most: int = 8) -> list[list[Candidate]] | None:
    """For flat x (N, D): per row, the segments from an f_b to an r_a that x_i lies on (up to `most`, the closest
    first), each as (off, the real sample it needs, the generated sample it needs, a, b); None when some row lies on
    none. A row strictly inside its segment needs both ends; a row at one end (x_i = r_a or f_b) needs that end only."""
    n = len(x)
    if x.shape != r.shape or x.shape != f.shape or n < 2 or n * n * x.shape[1] > PAIRING_LIMIT:
        return None
    d = r[:, None, :] - f[None, :, :]  # (N, N, D): d[a, b] = r_a - f_b
    length = d.norm(dim=-1).clamp_min(1e-12)
    rows = []
    for i in range(n):
        e = x[i] - f  # (N, D): x_i - f_b
        t = (e[None, :, :] * d).sum(-1) / length.square()  # (N, N)
        off = ((e[None, :, :] - t[..., None] * d).norm(dim=-1) / length).flatten()
        near = off.argsort()[:most]
        found, seen = [], set()
        for k in near.tolist():
            if not float(off[k]) <= SEGMENT_TOL:  # NaN too
                break
            a, b = divmod(k, n)
            at = float(t[a, b])
            need = (a if at > 1e-4 else None, b if at < 1 - 1e-4 else None)  # at fake_b: any real will do, and back
            if need not in seen:
                seen.add(need)
                found.append((float(off[k]), *need, a, b))
        if not found:
            return None
        rows.append(found)
    return rows


def reused_fault(x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> str | None:
    """Which batch x_hat draws a sample of more than once, when each x_hat_i lies between some real and some generated
    sample but no one-to-one pairing of the two batches puts them there, else None."""
    x, r, f = (v.double().reshape(v.shape[0], -1) for v in (x, real, fake))
    rows = segment_candidates(x, r, f)
    if rows is None or paired(x, r, f, rows) is not None:
        return None
    needed_a = [c[0][1] for c in rows if c[0][1] is not None]
    name = "real" if len(set(needed_a)) < len(needed_a) else "generated"
    return (
        f"each x_hat_i lies between a real and a generated sample, but the same {name} sample serves several of "
        f"them (one {name} point for the whole batch, or indices drawn with replacement): use each real and each "
        f"generated sample once, real_i with fake_i"
    )


def _completed(needed: dict[int, int], best: dict[int, int], n: int) -> torch.Tensor:
    """A permutation of range(n) with needed[i] at each row i given, then best[i] where that index is still free (an
    eps of 1e-5 puts x_hat_i at fake_i to within 1e-4, yet its segment's other end is still the best fit), and the
    indices left over at the others."""
    rows = dict(needed)
    for i, k in best.items():
        if i not in rows and k not in rows.values():
            rows[i] = k
    left = iter(sorted(set(range(n)) - set(rows.values())))
    return torch.tensor([rows[i] if i in rows else next(left) for i in range(n)])


def ks_uniform(t: torch.Tensor) -> float:
    """Kolmogorov-Smirnov distance between the t_i and U(0, 1)."""
    t, _ = t.clamp(0, 1).sort()
    n = len(t)
    ranks = torch.arange(1, n + 1, dtype=torch.float64)
    return float(torch.maximum(ranks / n - t, t - (ranks - 1) / n).max())


def good_interpolates(f: Fit) -> bool:
    """Whether a scored batch is x_hat as WGAN-GP draws it: on the segments, inside them, t varying from sample to
    sample, and not every x_hat_i at real_i or fake_i (whether the eps are U(0, 1) is uniformity_fault's question)."""
    t = f.t
    inside = bool(((t >= -1e-5) & (t <= 1 + 1e-5)).all())
    varied = len(t) < 2 or float(t.max() - t.min()) > SHARED_TOL
    ends = bool(((t.abs() < 1e-4) | ((t - 1).abs() < 1e-4)).all())  # x_hat_i is real_i or fake_i, every one
    return f.on_segment and inside and varied and not ends


def penalty_points(answer: Penalty) -> list[torch.Tensor]:
    """The scored batches the penalty's value is measured against: the good interpolates when the critic scored some
    (a gradient then taken at the real or the generated block of torch.cat([real, fake, x_hat]), or at a real batch
    scored beside x_hat, is not WGAN-GP's penalty), else every batch it scored (the other checks name where it went wrong)."""
    case = answer.case
    good = [x for x in answer.points if good_interpolates(fit(x, case.real, case.fake))]
    return good or answer.points


def interpolates_fault(answer: Penalty) -> str | None:
    """What is wrong with where the penalty was taken, else None (some call was at good interpolates)."""
    missing = no_critic_call(answer)
    if missing:
        return missing
    case = answer.case
    fits = [fit(x, case.real, case.fake) for x in answer.points]
    n = len(case.real)
    if any(good_interpolates(f) for f in fits):
        return None
    lead = f"{case.call()} on {case.label}"
    on = [f for f in fits if f.on_segment]
    if on:
        ones = any(bool(((f.t - 1).abs() < 1e-4).all()) for f in on)
        zeros = any(bool((f.t.abs() < 1e-4).all()) for f in on)
        if ones and zeros:
            return f"{lead} takes the critic's gradient at the real and at the generated points, never between them: {WHERE}"
        if ones:
            return f"{lead} takes the critic's gradient at the real points only (x_hat = real): {WHERE}"
        if zeros:
            return f"{lead} takes the critic's gradient at the generated points only (x_hat = fake): {WHERE}"
        t = on[-1].t
        if not bool(((t >= -1e-5) & (t <= 1 + 1e-5)).all()):
            return (
                f"{lead}: x_hat lies on the line through fake_i and real_i but not always between them (eps from "
                f"{num(float(t.min()))} to {num(float(t.max()))}): eps must lie in [0, 1], torch.rand, not torch.randn"
            )
        if n >= 2 and float(t.max() - t.min()) <= SHARED_TOL:
            return (
                f"{lead}: every sample uses the same eps ({num(float(t.mean()))}): draw one eps per sample, "
                f"torch.rand of shape (N,) + (1,) * (real.dim() - 1), not one number for the whole batch"
            )
        return (  # on the segments, inside them, varied, yet not good: some x_hat_i at real_i, the others at fake_i
            f"{lead}: each x_hat_i is real_i or fake_i, never between them: eps takes only the values 0 and 1 "
            f"(torch.randint, torch.bernoulli, a rounded torch.rand); {WHERE}: draw eps with torch.rand"
        )
    if case.real.dim() == 4 and case.real.shape[1] > 1 and any(per_channel(x, case.real, case.fake) for x in answer.points):
        return (
            f"{lead}: x_hat_i is not on the segment from fake_i to real_i: each colour channel has an eps of its own (eps of "
            f"shape (N, C, 1, 1)), so x_hat_i mixes real_i and fake_i in other proportions in each channel; {WHERE}, one eps "
            f"for all of a sample's channels and pixels, shape (N, 1, 1, 1)"
        )
    cut = next((bounds for f, x in zip(fits, answer.points) if f.box and (bounds := clamp_bounds(x, case.real, case.fake))), None)
    if cut:
        return (
            f"{lead}: x_hat_i is not on the segment from fake_i to real_i: x_hat is clamped after the mix (at "
            f"{' and '.join(num(b) for b in cut)} here: torch.clamp or .clip), which moves every interpolate with an element "
            f"beyond that range off its segment; {WHERE}: use the mix as it is, no clamp"
        )
    if any(f.box for f in fits):
        drawn = ("one eps per element, shared by every sample (eps of shape (1,) + real.shape[1:])"
                 if any(f.box and per_element_shared(x, case.real, case.fake) for f, x in zip(fits, answer.points))
                 else "eps was drawn per element (torch.rand_like(real))")
        return (
            f"{lead}: x_hat_i is not on the segment from fake_i to real_i, though each of its elements lies between "
            f"real's and fake's: {drawn}; {WHERE}, one eps for all of a sample's elements, shape (N,) + (1,) * "
            f"(real.dim() - 1)"
        )
    reused = next((why for why in (reused_fault(x, case.real, case.fake) for x in answer.points) if why), None)
    if reused:
        return f"{lead}: {reused}; {WHERE}"
    return f"{lead}: x_hat is not on the segments between real_i and fake_i: {WHERE}"


def clamp_bounds(x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> list[float]:
    """The values x was clamped at, smallest first: its least or its greatest element held by two elements or more
    where neither real nor fake holds it (torch.clamp after the mix; equal floats do not arise by chance); else []."""
    if x.shape != real.shape:
        return []
    x, r, f = (v.detach().double().flatten() for v in (x, real, fake))
    bounds = []
    for bound in (x.min(), x.max()):
        at = x == bound
        if int(at.sum()) >= 2 and not bool((at & ((r == bound) | (f == bound))).any()):
            bounds.append(float(bound))
    return bounds


def per_element_shared(x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> bool:
    """Whether x = eps * real + (1 - eps) * fake with one eps per element shared by every sample (eps of shape
    (1,) + real.shape[1:]): each element's t_ij = (x_ij - fake_ij) / (real_ij - fake_ij) the same down the batch."""
    if x.shape != real.shape or len(x) < 2:
        return False
    x, r, f = (v.double().reshape(v.shape[0], -1) for v in (x, real, fake))
    d = r - f
    seen = d.abs() > 1e-6
    t = torch.where(seen, (x - f) / torch.where(seen, d, torch.ones_like(d)), torch.nan)
    spread = torch.nan_to_num(t.nanquantile(1.0, dim=0) - t.nanquantile(0.0, dim=0), nan=0.0)
    return bool(seen.any()) and float(spread.max()) <= 1e-4


def per_channel(x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> bool:
    """Whether images x (N, C, H, W) are, channel by channel, on the segments from fake to real: one eps per
    sample and channel."""
    if x.shape != real.shape:
        return False
    x, r, f = (v.double().reshape(v.shape[0], v.shape[1], -1) for v in (x, real, fake))
    d = r - f
    t = ((x - f) * d).sum(-1) / d.square().sum(-1).clamp_min(1e-12)
    return bool(((x - f - t[..., None] * d).norm(dim=-1) <= 1e-4 * d.norm(dim=-1).clamp_min(1e-12)).all())


def judge_parts(submission, total: float, parts: list[tuple[float, tuple[Case, ...]]], judge: Callable[[Penalty], str | None]) -> None:
    """Judge the student's penalty on each part's cases (worth its points, the first fault in a part
    loses them); each part's first call is traced for the course library's code. Points and images
    are separate parts, so that a penalty written for one shape only keeps the other part's points."""
    failures: list[tuple[float, str]] = []
    for worth, cases in parts:
        for case in cases:
            try:
                fault = judge(penalty_answer(submission, case, trace=case is cases[0]))
            except AssertionError as err:  # a value that is not a number, a shape that raised: this part's fault
                fault = str(err)
            except StudentError as err:  # raised on this part's inputs only, or on all (then every part loses)
                if err.not_implemented:
                    raise
                fault = err.describe()
            if fault is not None:
                failures.append((worth, fault))
                break
    if not failures:
        return
    message = joined([message for _, message in failures])
    earned = total - sum(worth for worth, _ in failures)
    if earned > 0:
        raise Partial(earned, message)
    raise AssertionError(message)


@check(points=3, visible=True)
def test_penalty_at_random_interpolates(submission):
    """gradient_penalty takes the critic's gradient at x_hat = eps real + (1 - eps) fake, one new eps ~ U(0, 1) per sample"""
    judge_parts(submission, 3.0, [(2.0, (POINTS,)), (1.0, (IMAGES, RGB))],
                lambda answer: interpolates_fault(answer) or same_eps_fault(submission, answer)
                or uniformity_fault(submission, answer))


def interpolates_index(points: list[torch.Tensor], case: Case) -> int:
    """Which batch the critic scored is x_hat: the last on the segments, inside them and varying from sample
    to sample, else the last on the segments, else the last (a critic that also scored real or fake after
    x_hat, to log its estimate, scored them at t = 1 or 0 for every sample)."""
    fits = [fit(x, case.real, case.fake) for x in points]
    varied = [i for i, f in enumerate(fits) if f.on_segment and bool(((f.t >= -1e-5) & (f.t <= 1 + 1e-5)).all())
              and float(f.t.max() - f.t.min()) > SHARED_TOL]
    on = [i for i, f in enumerate(fits) if f.on_segment]
    return (varied or on or [len(points) - 1])[-1]


def same_eps_fault(submission, answer: Penalty) -> str | None:
    """On the points: why the function draws the same eps whatever the random state (a seed fixed inside it), else None.
    Called on good interpolates only: it calls the function again, the RNGs seeded otherwise."""
    case = answer.case
    if case is not POINTS or not answer.points:
        return None
    again = penalty_answer(submission, replace(case, seed=case.seed + 1000))
    first = fit(answer.points[interpolates_index(answer.points, case)], case.real, case.fake).t
    if not any(torch.allclose(fit(x, case.real, case.fake).t, first, rtol=0, atol=1e-6) for x in again.points):
        return None
    return (
        f"{case.call()} on {case.label} draws the same eps at every call, whatever the state of the random number "
        f"generators: a seed fixed inside the function (torch.manual_seed, a generator seeded there, or a new "
        f"torch.Generator() made there, which starts from the same default seed at every call), eps drawn once outside "
        f"the function (a tensor made when the notebook runs, EPS = torch.rand(...), sliced at each call), or eps that are "
        f"not drawn at random (torch.linspace, torch.arange), give every training step the same eps (and torch.manual_seed resets the random numbers of the whole run, so that each "
        f"step then draws the same batch and noise too); draw a new eps at each call, torch.rand(...) without a seed"
    )


def drawn_t(inputs: list, case: Case) -> torch.Tensor | None:
    """The t_i of one call's interpolates: of the last batch the critic scored that lies on the segments, inside
    them and varies from sample to sample; None when no batch does."""
    inputs = [x for x in inputs if isinstance(x, torch.Tensor)] if isinstance(inputs, list) else []
    for x in reversed(scored_batches(inputs, case.real)):
        f = fit(x, case.real, case.fake)
        if f.on_segment and bool(((f.t >= -1e-5) & (f.t <= 1 + 1e-5)).all()) and float(f.t.max() - f.t.min()) > SHARED_TOL:
            return f.t
    return None


def uniformity_fault(submission, answer: Penalty) -> str | None:
    """On the points: why the eps of DRAW_CALLS calls in a row (4,096 of them) are not U(0, 1) draws, else None.
    64 eps cannot tell U(0, 1) from sigmoid(N(0, 1)) or Beta(2, 2); 4,096 can, and U(0, 1) draws fail this test
    at most once in 1 / FALSE_ALARM submissions (`ks_limit`). Called on good interpolates drawn anew at each call."""
    case = answer.case
    if case is not POINTS:
        return None
    fn = student(submission, "gradient_penalty")
    kept = run(submission, "gradient_penalty", probes_a5.penalty_draws, fn, case.kind, case.critic_seed, case.real.clone(),
               case.fake.clone(), seed=case.seed + 2000, calls=DRAW_CALLS)
    kept = kept if isinstance(kept, list) and len(kept) == DRAW_CALLS else []
    draws = [drawn_t(inputs, case) for inputs in kept]
    found = [t for t in draws if t is not None]
    lead = f"{case.call()} on {case.label}, called {DRAW_CALLS} times in a row"
    if len(found) < DRAW_CALLS:
        return (
            f"{lead}, scored interpolates on the segments between real_i and fake_i in {len(found)} of the calls only: "
            f"{WHERE}, at every call"
        )
    t = torch.cat(found).clamp(0, 1)
    distance, limit = ks_uniform(t), ks_limit(len(t))
    if distance <= limit:
        return None
    middle = float(((t >= 0.25) & (t <= 0.75)).double().mean())
    return (
        f"{lead}: its {len(t):,} eps do not look uniform on [0, 1]: mean {float(t.mean()):.3f}, {middle:.0%} of them "
        f"between 0.25 and 0.75, where U(0, 1) has mean 0.5 and puts 50% (Kolmogorov-Smirnov distance {distance:.3f} "
        f"from U(0, 1); {len(t):,} U(0, 1) draws exceed {limit:.3f} less than once in a billion); {WHERE}: draw eps "
        f"with torch.rand"
    )


def critic_gradient(case: Case, x: torch.Tensor) -> torch.Tensor:
    """The gradient of the case's critic's scores at x (float64, x's shape), from the grader's copy."""
    net = probes_a5.probe_critic(case.kind, tuple(case.real.shape[1:]), case.critic_seed, case.norm).double()
    x = x.detach().double().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    return grad


def critic_scores(case: Case, x: torch.Tensor) -> torch.Tensor:
    """The case's critic's scores at x, (N,) (float64, from the grader's copy)."""
    net = probes_a5.probe_critic(case.kind, tuple(case.real.shape[1:]), case.critic_seed, case.norm).double()
    with torch.no_grad():
        return net(x.detach().double()).reshape(len(x))


def reference_penalty(case: Case, x: torch.Tensor) -> float:
    """lambda * mean((||grad D(x)||_2 - 1)^2) at exactly these points (float64)."""
    norm = critic_gradient(case, x).reshape(len(x), -1).norm(dim=1)
    return float(case.lam * (norm - 1).square().mean())


def weights_gradient_norm(case: Case, x: torch.Tensor) -> float:
    """The norm of the gradient of the case's critic's summed scores at x with respect to all its weights (float64)."""
    net = probes_a5.probe_critic(case.kind, tuple(case.real.shape[1:]), case.critic_seed, case.norm).double()
    params = [q for q in net.parameters() if q.requires_grad]
    found = torch.autograd.grad(net(x.detach().double()).sum(), params, allow_unused=True)
    return float(torch.cat([g.reshape(-1) for g in found if g is not None]).norm()) if params else 0.0


def penalty_faults(case: Case, x: torch.Tensor) -> list[tuple[float, str]]:
    """Common wrong penalties at these points: [(their value, the message)]."""
    grad = critic_gradient(case, x)
    n, lam = len(x), case.lam
    flat = grad.reshape(n, -1)
    norm = flat.norm(dim=1)
    faults = [
        (float(lam * (norm - 1).mean()), "(||grad|| - 1) is not squared: lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float(lam * (norm - 1).abs().mean()), "it takes |(||grad|| - 1)| instead of its square: "
         "lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float((norm - 1).square().mean()), "lambda_gp is missing: lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float(lam * (norm.square() - 1).square().mean()), "it uses the squared norm (the sum of squares without the "
         "square root): ||grad||_2 = grad.reshape(N, -1).norm(2, dim=1)"),
        (float(lam * (norm - 1).square().sum()), "it is the sum over the batch, not the mean"),
        (float(lam * (norm - 1).clamp(min=0).square().mean()), "that is the one-sided penalty max(0, ||grad|| - 1)^2 "
         "(WGAN-LP); WGAN-GP penalises norms below 1 too: (||grad||_2 - 1)^2"),
        (float(lam * (flat.norm() - 1).square()), "it takes one norm over the whole batch's gradient: take one norm per "
         "sample, grad.reshape(N, -1).norm(2, dim=1)"),
        (float(lam * (norm / n - 1).square().mean()), "the gradient is that of the mean of the critic's scores, which "
         "divides each sample's gradient by N: differentiate their sum (grad_outputs=torch.ones_like(scores))"),
        (float(lam * (norm.mean() - 1).square()), "it averages the norms before subtracting 1 and squaring: the square "
         "goes inside the mean, lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float(-lam * (norm - 1).square().mean()), "the sign is flipped: the penalty is >= 0, lambda_gp * mean((||grad||_2 "
         "- 1)^2), and it is added to the critic's loss"),
        (float(lam * lam * (norm - 1).square().mean()), "lambda_gp is applied twice (lambda_gp^2 times the mean: multiplied "
         "in twice, or inside the square): multiply the mean by it once, lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float((lam * norm - 1).square().mean()), "lambda_gp multiplies the norm inside the square, (lambda_gp * ||grad|| - "
         "1)^2: it weights the whole term, lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float(lam * (norm - 1).square().mean() / n), "it divides the mean by N once more (the mean already divides by the "
         "batch size): lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float(lam * (flat.norm(dim=0) - 1).square().mean()), "it takes the norm over the batch (dim 0), one per element "
         "of a sample, not one per sample: grad.reshape(N, -1).norm(2, dim=1)"),
        (float(lam * (flat.abs().sum(1) - 1).square().mean()), "it uses the L1 norm (the sum of absolute values); the "
         "penalty takes the L2 norm, grad.reshape(N, -1).norm(2, dim=1)"),
        (float(lam * (flat.abs().amax(1) - 1).square().mean()), "it uses the max norm (the largest absolute value); the "
         "penalty takes the L2 norm, grad.reshape(N, -1).norm(2, dim=1)"),
        (float(lam * norm.square().mean()), "it penalises the squared gradient norm itself, which pulls the gradient to 0 "
         "(a zero-centred penalty, as R1 or 0-GP): WGAN-GP pulls the norm to 1, lambda_gp * mean((||grad||_2 - 1)^2)"),
    ]
    t = fit(x, case.real, case.fake).t  # x_hat = t real + (1 - t) fake: d D(x_hat) / d real = t grad, / d fake = (1 - t) grad
    faults += [(float(lam * (share * norm - 1).square().mean()), f"it takes the gradient with respect to {name}, not x_hat: "
                f"as x_hat = eps * real + (1 - eps) * fake, that is {factor} times the critic's gradient at x_hat, so each "
                f"sample's norm is scaled by its {factor}; take the gradient of D(x_hat) with respect to x_hat, "
                f"torch.autograd.grad(scores, x_hat, ..., create_graph=True), x_hat made with requires_grad_(True)")
               for share, name, factor in ((t, "real", "eps"), (1 - t, "fake", "(1 - eps)"))]
    s = torch.sigmoid(critic_scores(case, x))  # d sigmoid(D(x_hat)) / d x_hat = s (1 - s) grad D(x_hat)
    faults.append((float(lam * (s * (1 - s) * norm - 1).square().mean()), "it differentiates sigmoid(D(x_hat)), as if "
                   f"the critic's score were a logit: {NO_LOGS}; differentiate the scores themselves, "
                   "torch.autograd.grad(critic(x_hat), x_hat, ...)"))
    weights = weights_gradient_norm(case, x)  # d (sum of D(x_hat)) / d the critic's weights, all in one norm
    faults.append((float(lam * (weights - 1) ** 2), "it takes the gradient with respect to the critic's weights "
                   "(critic.parameters()), not its input x_hat: the penalty keeps the critic 1-Lipschitz in its input, one "
                   "gradient per sample, torch.autograd.grad(scores, x_hat, ..., create_graph=True), x_hat made with "
                   "requires_grad_(True)"))
    if grad.dim() > 2:  # a norm over part of each image's gradient: what works for points (N, 2) misses the rest
        flatten = "flatten each sample's gradient first, grad.reshape(N, -1).norm(2, dim=1)"
        parts = {1: "dim 1 (the channels)", **{d: f"dim {d} (the rows)" for d in range(2, grad.dim() - 1)},
                 grad.dim() - 1: f"the last dim (dim -1 = {grad.dim() - 1}, the columns)"}
        faults += [(float(lam * (grad.norm(dim=d) - 1).square().mean()), f"for images the norm runs over {part} only: {flatten}")
                   for d, part in parts.items()]
        faults += [
            (float(lam * (grad.flatten(2).norm(dim=2) - 1).square().mean()), "it takes one norm per channel of each "
             f"image (over height and width), not one per sample: {flatten}"),
            (float(lam * (grad.reshape(-1, 2).norm(dim=1) - 1).square().mean()), "it takes the "
             "norm of each pair of numbers (grad.view(-1, 2), the shape of the points' gradient), not of each sample's "
             f"whole gradient: {flatten}"),
        ]
    if case.lam != 10.0:
        faults.append((float(10.0 * (norm - 1).square().mean()), f"it uses lambda_gp = 10 where it is given "
                       f"{case.lam:g}: use the argument"))
    faults += [  # on the linear critic (||grad|| = 3) these give another mistake's value: told apart by `confirmed`
        (float(0.5 * lam * (norm - 1).square().mean()), "it is half the penalty (a factor 1/2 in front, as in a "
         "squared norm's derivative): lambda_gp * mean((||grad||_2 - 1)^2)"),
        (float(lam * (norm - 1).square().mean().sqrt()), "it takes the square root of the mean (a root mean square): "
         "lambda_gp * mean((||grad||_2 - 1)^2), with no square root"),
    ]
    return faults


def confirmed(submission, messages: list[str]) -> str | None:
    """Of several mistakes that give the student's value on one input (a linear critic's gradient norm is the same
    everywhere, so (3 - 1) = 4 / 2 makes "not squared" and "halved" agree; at lambda_gp = 2 "halved" and "no lambda"
    do), the one that also gives the student's value on the nonlinear critic's points at lambda_gp = 10; None when
    none does, or that cannot be measured."""
    try:
        other = penalty_answer(submission, POINTS)
    except (AssertionError, StudentError):
        return None
    if other.value is None or not other.points:
        return None
    x = other.points[interpolates_index(other.points, POINTS)]
    for value, message in penalty_faults(POINTS, x):
        if message in messages and close(other.value, value):
            return message
    return None


def weights_fault(answer: Penalty) -> str | None:
    """Why the penalty is wrong when the call changed the critic's weights (weight clipping, a step), else None."""
    if not answer.weights_changed:
        return None
    return (
        f"{answer.case.call()} changes the critic's weights ({', '.join(answer.weights_changed[:3])}: a clamp_ of weight "
        f"clipping, or an optimizer step, inside it): the penalty only measures the gradient at x_hat and returns "
        f"lambda_gp * mean((||grad||_2 - 1)^2); WGAN-GP replaces weight clipping with this penalty, so leave the weights as they are"
    )


def value_fault(answer: Penalty, submission=None) -> str | None:
    """What is wrong with the penalty's value, recomputed on the points the critic was called on (with the
    `submission`, a mistake that several explain on the linear critic is told by the nonlinear one)."""
    got = one_number(answer)
    missing = no_critic_call(answer) or weights_fault(answer)
    if missing:
        return missing
    case = answer.case
    if any(close(got, reference_penalty(case, x)) for x in penalty_points(answer)):
        return None
    k = interpolates_index(answer.points, case)
    x = answer.points[k]
    want = reference_penalty(case, x)
    ends = end_points_fault(answer, got, want)
    if ends:
        return ends
    matches = [message for value, message in penalty_faults(case, x) if close(got, value) and not close(value, want)]
    found = confirmed(submission, matches) if len(matches) > 1 and submission is not None and case is not POINTS else None
    hint = found or (matches[0] if matches else None) or precision_hint(answer, got, want) or PENALTY_FORMULA
    where = "" if case.kind == "linear" else " on the x_hat it scored"
    return f"{case.call()} = {num(got)} for {case.label}; expected {num(want)}{where}: {hint}"


def end_points_fault(answer: Penalty, got: float, want: float) -> str | None:
    """Why the value is the penalty at the real (or the generated) points, though the critic scored good interpolates
    too (the real block of torch.cat([real, fake, x_hat]) kept, or the real batch's scores differentiated), else None."""
    case = answer.case
    if penalty_points(answer) is answer.points:  # no good interpolates scored: interpolates_fault names where it went
        return None
    for x in answer.points:
        f = fit(x, case.real, case.fake)
        for end, name in ((1.0, "real"), (0.0, "generated")):
            if f.on_segment and bool(((f.t - end).abs() < 1e-4).all()) and close(got, reference_penalty(case, x)):
                return (
                    f"{case.call()} = {num(got)} for {case.label}, the penalty at the {name} points; expected {num(want)} "
                    f"at the x_hat it scored: the critic scored x_hat, but the gradient is taken where it scored the {name} "
                    f"points (their block of a joined batch such as torch.cat([real, fake, x_hat]), or their own scores "
                    f"differentiated): take the gradient of critic(x_hat) with respect to x_hat, and penalise that"
                )
    return None


REDUCED = ("float16", "bfloat16")
PRECISION_REL = 2e-2  # how far half precision takes the penalty: bfloat16 keeps 8 bits of the mantissa


def precision_hint(answer: Penalty, got: float, want: float) -> str | None:
    """Why a value near the right one is not it: the critic scored x_hat, or the value was computed, in half precision."""
    low = [d for d in answer.dtypes if d in REDUCED]
    if not low or not close(got, want, rel=PRECISION_REL):
        return None
    return (
        f"it is computed in {low[0]} (under torch.autocast, or with .half() or .bfloat16()), which rounds it off: compute "
        f"the penalty in float32, the critic's dtype"
    )


@check(points=3, visible=True)
def test_penalty_value_matches_reference(submission):
    """gradient_penalty is lambda_gp * mean((||grad D(x_hat)|| - 1)^2), on points and on images"""
    judge_parts(submission, 3.0, [(2.0, (LINEAR_POINTS, POINTS)), (1.0, (LINEAR_IMAGES, IMAGES))],
                lambda answer: value_fault(answer, submission))
