"""Checks of lesson 02's code-along places: images into [-1, 1], one D step and one G step.

The answer key is the course library: `scale_images` is compared with
`reference.data.to_model_range(x, "tanh")` on all 256 pixel values; `d_step` and `g_step` with the
trainer's own step, `reference.trainer.Run.train_epoch` run for one batch, on a tiny seeded MLP GAN
(`reference.models.mlp` at 8x8 images, nz 8, a batch of 16). The student's step and the trainer's
start from identical copies of G, D and their optimisers and see the same real batch and the same z;
a check compares the returned loss and the updated parameters. A wrong answer that matches a common
mistake (labels swapped or smoothed, G's targets smoothed below 1, the D loss averaged instead of
summed, the saturating G loss, a missing `.detach()` or `zero_grad`, the wrong optimiser stepped...)
gets that mistake's message.

The optimisers here are plain SGD (the lesson trains with Adam): an SGD update is -lr * gradient, so
a gradient that is off by any factor, or carries leftovers from an earlier backward, shows in the
parameters, where Adam's first update, about -lr * sign(gradient), would hide most of that. Before
the student's step each parameter of the network that steps holds a leftover `.grad`, as it would
after the previous iteration, so a step without `zero_grad` differs from the trainer's.

Points: scale_images 1, d_step 1, g_step 1 = 3.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference.data import to_model_range
from reference.distributed import DistInfo
from reference.grading.checks import check
from reference.losses import get_loss
from reference.models import mlp
from reference.trainer import Run

ASSIGNMENT = "lesson_02"

SHAPE = (1, 8, 8)  # tiny images: the steps do not care about the size
NZ = 8
BATCH = 16
LR = 0.1  # SGD
SEED = 2


# ---------------------------------------------------------------------------------------------
# The scene: G, D, a batch and z, and what the trainer's step makes of them
# ---------------------------------------------------------------------------------------------


@dataclass
class Scene:
    """Start and end states of the trainer's step on one batch.

    G0, D0: the networks before the step (state dicts); D1: D after the D step; G1: G after the G
    step; real (BATCH, *SHAPE) in [-1, 1]; z (BATCH, NZ); loss_d, loss_g: what the trainer's step
    computed; leftover_d, leftover_g: the `.grad` each parameter holds before the student's step.
    """

    G0: dict
    D0: dict
    D1: dict
    G1: dict
    real: Tensor
    z: Tensor
    loss_d: float
    loss_g: float
    leftover_d: list[Tensor]
    leftover_g: list[Tensor]


class _OneBatch:
    """Stands for `reference.data.Batches`: one epoch of one uint8 batch."""

    def __init__(self, batch: Tensor) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return 1

    def epoch(self, epoch: int):
        return iter([self.batch])


def trainer_step(G: nn.Module, D: nn.Module, opt_g, opt_d, real_u8: Tensor, seed: int) -> dict:
    """One step of `Run.train_epoch` (non-saturating loss, n_critic 1, no AMP, no packing) on one
    uint8 batch, with torch's RNG seeded to `seed` before the step draws z; its metrics row."""
    run = SimpleNamespace(
        G_train=G, D_train=D, G=G, D=D, opt_g=opt_g, opt_d=opt_d,
        loss=get_loss("non-saturating"), cfg=SimpleNamespace(pack=1, batch_size=real_u8.shape[0], fault=None),
        device=torch.device("cpu"), amp_dtype=None, batches=_OneBatch(real_u8),
        spec=SimpleNamespace(output_range="tanh"), data_range="tanh", num_classes=None, G_ema=None, nz=NZ, dist=DistInfo(),
        scaler_d=torch.amp.GradScaler("cpu", enabled=False), scaler_g=torch.amp.GradScaler("cpu", enabled=False),
    )
    torch.manual_seed(seed)
    return Run.train_epoch(run, 0, None)


def build() -> tuple[nn.Module, nn.Module]:
    return mlp.build(SHAPE, NZ)


def scene() -> Scene:
    """The trainer's step on a seeded G and D that have trained for a few steps already (D tells
    the real batch from G's samples a little, so that labels matter)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        G, D = build()
        # real images: bright strokes on a dark background, like digits
        real_u8 = (torch.rand(BATCH, *SHAPE) < 0.3).to(torch.uint8) * 255
        opt = lambda m: torch.optim.SGD(m.parameters(), lr=LR)  # noqa: E731
        opt_g, opt_d = opt(G), opt(D)
        for k in range(5):
            trainer_step(G, D, opt_g, opt_d, real_u8, SEED + 100 + k)
        G0, D0 = _state(G), _state(D)
        row = trainer_step(G, D, opt(G), opt(D), real_u8, SEED)
        torch.manual_seed(SEED)
        z = torch.randn(BATCH, NZ)  # the z the step drew
        leftover_d = [0.1 * torch.randn_like(p) for p in D.parameters()]
        leftover_g = [0.1 * torch.randn_like(p) for p in G.parameters()]
    return Scene(G0, D0, _state(D), _state(G), to_model_range(real_u8, "tanh"), z,
                 row["loss_d"], row["loss_g"], leftover_d, leftover_g)


def _state(m: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def networks(G_state: dict, D_state: dict) -> tuple[nn.Module, nn.Module]:
    G, D = build()
    G.load_state_dict(G_state)
    D.load_state_dict(D_state)
    return G, D


def flat(params) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def flat_state(m: nn.Module, state: dict) -> Tensor:
    """The parameters of `state` in the order of `m.parameters()`."""
    names = [n for n, _ in m.named_parameters()]
    return torch.cat([state[n].reshape(-1) for n in names])


def logits(D_state: dict, G_state: dict, sc: Scene) -> tuple[Tensor, Tensor]:
    """D's logits on the real batch and on G(z), for the given states (no gradients)."""
    G, D = networks(G_state, D_state)
    with torch.no_grad():
        return D(sc.real), D(G(sc.z))


class StepsTaken:
    """Every optimiser whose step() runs inside the `with` block (a global optimiser-step hook)."""

    def __enter__(self) -> list:
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        self.stepped: list = []
        self.handle = register_optimizer_step_pre_hook(lambda opt, args, kwargs: self.stepped.append(opt))
        return self.stepped

    def __exit__(self, *exc) -> None:
        self.handle.remove()


def other_optimiser(stepped: list, opt, name: str, call: str) -> str | None:
    """A failure when the step also stepped an optimiser other than the one passed in as `name`."""
    if all(o is opt for o in stepped):
        return None
    return (f"{call} also steps an optimiser other than the `{name}` it is given (a global one of the notebook?): "
            f"only {name}.step() belongs in this step; another optimiser would update its own network with whatever "
            f"gradients this step left in it")


def record_inputs(net: nn.Module) -> list[Tensor]:
    """The inputs `net` receives from now on (a forward pre-hook keeps a copy of each)."""
    seen: list[Tensor] = []
    net.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()) if args else None)
    return seen


def other_z(seen: list[Tensor], z: Tensor, call: str) -> str | None:
    """A failure when G ran, but never on the z the step was given (it drew noise of its own)."""
    if not seen or any(x.shape == z.shape and torch.equal(x, z) for x in seen):
        return None
    return (f"{call} runs G on noise other than the z it is given (a new torch.randn?): make the fakes from the `z` "
            f"argument, G(z); the training loop draws z and passes it in, and the G step must see the same z")


def own_optimiser(stepped: list, opt, net: nn.Module, label: str, name: str, call: str) -> str | None:
    """A failure when the step stepped an optimiser of `net`'s parameters (`label`: "G" or "D") other than the one
    passed in as `name` (one it made itself)."""
    mine = {id(p) for p in net.parameters()}
    for o in stepped:
        if o is not opt and any(id(p) in mine for group in o.param_groups for p in group["params"]):
            return (f"{call} steps an optimiser of {label}'s parameters other than the `{name}` it is given (one made "
                    f"inside the function, such as torch.optim.Adam({label}.parameters(), ...)?): call {name}.step() on "
                    f"the `{name}` passed in; a new optimiser on each call starts from scratch (Adam's running averages are "
                    f"lost) with settings of its own, while the training loop's {name} carries them from step to step")
    return None


TARGET_SIZE = re.compile(r"[Tt]arget size \(torch\.Size\(\[(\d+)[^\]]*\]\)\).*?input size \(torch\.Size\(\[(\d+)")


def fixed_size_targets(err: BaseException, call: str) -> str | None:
    """A failure for a loss that raised because its targets have a fixed number of labels (torch.ones(64)) and the
    batch another; None for any other error."""
    found = TARGET_SIZE.search(str(err))
    if not isinstance(err, ValueError) or found is None or int(found.group(1)) == int(found.group(2)):
        return None
    labels, batch = int(found.group(1)), int(found.group(2))
    return (f"{call} raised ValueError ({str(err).splitlines()[0][:120]}): its targets hold {labels} labels but the batch "
            f"has {batch} images, so their number is fixed in the code (a batch size such as 64) while a batch can have "
            f"any size N (the check's have {BATCH}; the last batch of an epoch may be smaller): build the targets from "
            f"the logits, torch.ones_like(logits) and torch.zeros_like(logits), or from the batch, torch.ones(z.shape[0])")


def backward_twice(err: BaseException, call: str, loss: str) -> str | None:
    """A failure for a step that ran backward() twice through one graph within a single call (the check calls the
    step once, on fresh networks, so no graph of an earlier step is involved); None for any other error."""
    if not isinstance(err, RuntimeError) or "backward through the graph a second time" not in str(err):
        return None
    terms = ", or backward on each term and then on their sum" if loss == "loss_d" else ""
    return (f"{call} raised RuntimeError (Trying to backward through the graph a second time): within this one call, "
            f"backward() ran a second time through a graph that the first backward() had already freed ({loss}.backward() "
            f"called twice"
            f"{terms}); backward() adds into .grad, so even with retain_graph=True the gradient would count twice: call "
            f"backward() once on {loss}" + (" (or once on each of its two terms)" if terms else ""))


def call_step(step, call: str, loss: str, *args):
    """step(*args), or a failure that names the cause when it raised because its targets have a fixed number of
    labels or because it ran backward() twice through one graph."""
    try:
        return step(*args)
    except (ValueError, RuntimeError) as err:
        fault = fixed_size_targets(err, call) or backward_twice(err, call, loss)
        if fault is None:
            raise
        raise AssertionError(fault) from None


# ---------------------------------------------------------------------------------------------
# Answers as numbers
# ---------------------------------------------------------------------------------------------


def num(x: float) -> str:
    return f"{x + 0.0:.5g}"


def same(a: float, b: float, rel: float = 1e-5, abs_: float = 1e-6) -> bool:
    return math.isfinite(a) and abs(a - b) <= abs_ + rel * abs(b)


def as_loss(value, call: str, name: str) -> float:
    """A step's returned loss (a one-element tensor or a number) as a float, or a failure that says why not."""
    assert value is not None, f"{call} returned None: is its `return` missing? Return {name}, the loss of this step"
    if isinstance(value, (tuple, list)):
        raise AssertionError(
            f"{call} returned a {type(value).__name__} of {len(value)}; return only {name}, the loss of this step")
    if isinstance(value, Tensor):
        assert value.numel() == 1, (
            f"{call} returned a tensor of shape {tuple(value.shape)}; return {name}, one number: the batch's mean loss")
        return float(value.detach().reshape(()))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AssertionError(f"{call} returned {type(value).__name__}; return {name}, the loss as a tensor or a float") from None


def diagnose(got: float, faults: list[tuple[float, str]]) -> str | None:
    """The message of the first fault whose value `got` matches."""
    for value, message in faults:
        if same(got, value):
            return message
    return None


def moved(now: Tensor, before: Tensor) -> bool:
    return not torch.allclose(now, before, rtol=0.0, atol=1e-7)


def close(a: Tensor, b: Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def received_grad(params) -> bool:
    return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params)


def fresh_grads(params, leftover: list[Tensor]) -> bool:
    """Some parameter holds a gradient other than the one left in it before the step."""
    return any(p.grad is not None and not torch.equal(p.grad, g) and bool(p.grad.abs().sum() > 0)
               for p, g in zip(params, leftover))


def one_term_fault(sc: Scene, after: Tensor, backwards: int = 1) -> str | None:
    """Whether D's parameters `after` the step are where one of its loss's two terms alone takes them: D's
    logits on the other batch detached (D(G(z)).detach(), or scored under torch.no_grad()), so that term's
    value counts but gives D no gradient; or, when gradients reached D in more than one backward pass
    (`backwards`), a zero_grad between the two terms' backward() calls, which cleared the first; None otherwise."""
    G, D = networks(sc.G0, sc.D0)
    with torch.no_grad():
        fake = G(sc.z)
    params, before = list(D.parameters()), flat(D.parameters())
    terms = {"real": lambda: F.softplus(-D(sc.real)).mean(), "fake": lambda: F.softplus(D(fake)).mean()}
    for name, term in terms.items():
        step = torch.cat([g.reshape(-1) for g in torch.autograd.grad(term(), params)])
        if close(after, before - LR * step):
            other = "fake" if name == "real" else "real"
            if backwards > 1:
                return (f"D moved as its {name} term alone moves it, although both terms' gradients reached D: a zero_grad "
                        f"between the two backward() calls cleared the {other} term's; call opt_d.zero_grad() once, before "
                        f"the first backward(), or call backward() once on the sum of the two terms")
            return (f"D moved as its {name} term alone moves it: D's logits on the {other} batch carry no gradient (detached, "
                    f"or scored under torch.no_grad()), so that term counts in loss_d but D never learns from it; detach "
                    f"G's output, D(G(z).detach()), never D's logits")
    return None


def update_fault(net: str, opt: str, loss: str, after: Tensor, before: Tensor, want: Tensor, leftover: Tensor,
                 grads_now: bool, steps: int = 1) -> str | None:
    """What is wrong with `net`'s parameters `after` the student's step, or None when they are the
    trainer's (`want`). before: at the start; leftover: the flat `.grad` left in them beforehand; steps: how
    many times the optimiser `opt` stepped."""
    if close(after, want):
        return None
    if not moved(after, before):
        if grads_now:
            return (f"{net}'s parameters did not change although gradients reached them: call {opt}.step() after "
                    f"{loss}.backward(), on the optimiser passed in as `{opt}` (stepping another optimiser, such as a "
                    f"global one of the notebook, leaves this {net} as it was; so does zero_grad between backward and step)")
        return (f"{net}'s parameters did not change and hold no gradient: call {loss}.backward() and then {opt}.step() "
                f"(the optimiser passed in as `{opt}`), with no zero_grad between them")
    if close(after, want - LR * leftover):
        return (f"{net}'s update used the gradients left in .grad from before this step plus this step's: call "
                f"{opt}.zero_grad() before {loss}.backward() (backward adds to .grad, so gradients accumulate across calls)")
    if close(after, before - LR * leftover):
        return (f"{net} moved by the gradients left in .grad from before this step, not by this step's loss: "
                f"zero them with {opt}.zero_grad(), then call {loss}.backward() before {opt}.step()")
    if close(after, before + 2 * (want - before)):
        if steps == 1:
            terms = (("; or backward on each term and then on their sum", " (or once on each of its two terms)")
                     if net == "D" else ("", ""))
            return (f"{net} moved twice as far as the trainer's step although {opt} stepped once, so the gradient it used "
                    f"is twice this step's: backward() adds into .grad, and it ran twice ({loss}.backward() called again, "
                    f"which retain_graph=True allows{terms[0]}), or on twice the loss you return: call backward() once on "
                    f"{loss}{terms[1]}")
        return f"{net} moved twice as far as the trainer's step: step {opt} once per call"
    step, moved_by = want - before, after - before
    factor = float(moved_by @ step / (step @ step)) if float(step @ step) > 0 else 0.0
    if factor > 0 and close(after, before + factor * step):  # the trainer's direction, another length
        if abs(factor - BATCH) < 0.01 * BATCH:
            return (f"{net} moved {BATCH} times as far as the trainer's step, the batch size: {loss}.backward() ran on "
                    f"the sum over the batch; call backward() on the mean you return")
        return (f"{net} moved {factor:.3g} times as far as the trainer's step, in its direction: call backward() on "
                f"the loss you return, {loss}, itself (not a multiple of it), and step {opt} once")
    if close(after, before - (want - before)):
        return (f"{net} moved the opposite way from the trainer's step, so the update raised {loss} instead of lowering "
                f"it: the optimiser descends whatever you call backward() on, so call {loss}.backward() on the loss you "
                f"return and minimise, not on its negative (such as V)")
    gap = float((after - want).abs().max())
    return (f"{net}'s parameters after the step differ from the trainer's step by up to {num(gap)} although the "
            f"returned loss is right: compute the loss once, then zero_grad, backward and one step of `{opt}`")


# ---------------------------------------------------------------------------------------------
# 1. scale_images
# ---------------------------------------------------------------------------------------------


def _rgb_recipe(channels: int, what: str) -> str:
    return (f"scale_images {what}: it uses {channels} values per channel (an RGB recipe, such as "
            f"Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))), but MNIST has 1 channel: give one mean and one std, "
            f"Normalize((0.5,), (0.5,)), or compute x / 127.5 - 1")


def scaled(scale_images, x: Tensor) -> Tensor:
    """scale_images(x) on a copy, or a failure that says what is wrong with its type, shape or dtype."""
    given = x.clone()
    try:
        out = scale_images(given)
    except RuntimeError as err:  # Normalize with 3 means (an RGB recipe) on a 1-channel batch
        found = re.search(r"doesn't match the broadcast shape \[\d+, (\d+),", str(err))
        if found and int(found.group(1)) != x.shape[1]:
            raise AssertionError(_rgb_recipe(int(found.group(1)), f"raised RuntimeError ({str(err)[:90]})")) from None
        raise
    assert out is not None, "scale_images returned None: is its `return` missing?"
    assert isinstance(out, Tensor), f"scale_images returned {type(out).__name__}; return a torch tensor"
    assert torch.equal(given, x), (
        "scale_images changed its input in place: the same uint8 batch is used again elsewhere; compute a new tensor")
    if out.dim() == 4 and x.dim() == 4 and out.shape[1] != x.shape[1] and tuple(out.shape[2:]) == tuple(x.shape[2:]):
        raise AssertionError(_rgb_recipe(out.shape[1], f"returned shape {tuple(out.shape)} for a batch of shape {tuple(x.shape)}"))
    assert tuple(out.shape) == tuple(x.shape), (
        f"scale_images returned shape {tuple(out.shape)} for a batch of shape {tuple(x.shape)}; keep the shape (N, C, H, W)")
    assert out.is_floating_point(), (
        f"scale_images returned dtype {out.dtype}: G and D compute in float32, and integers cannot hold -1..1 "
        f"in between; convert the pixels to float32 first")
    assert out.dtype == torch.float32, (
        f"scale_images returned dtype {out.dtype}; the networks' weights are float32 and refuse {out.dtype} "
        f"input: return float32 (x.float())")
    return out.detach()


def batch_dependence(x: Tensor, out: Tensor, part: Tensor, out_part: Tensor) -> str | None:
    """What is wrong when a pixel value maps to different numbers in two batches (`part`, whose values
    run from 20 to 200 only, is a batch of some of `x`'s values); None when the map is the same."""
    table = torch.empty(256)
    table[x.reshape(-1).long()] = out.reshape(-1).float()  # what each pixel value becomes in x
    differs = ~torch.isclose(out_part.reshape(-1), table[part.reshape(-1).long()], rtol=0.0, atol=1e-5)
    if not differs.any():
        return None
    v = int(part.reshape(-1)[int(differs.nonzero()[0])])
    in_x, in_part = float(table[v]), float(out_part.reshape(-1)[int(differs.nonzero()[0])])
    p = part.float()
    lo, hi = int(part.min()), int(part.max())
    if torch.allclose(out_part, (p - p.min()) / (p.max() - p.min()) * 2 - 1, atol=1e-4):
        how = f"it stretches each batch's own range onto [-1, 1] (here {lo} -> -1, {hi} -> 1)"
    elif torch.allclose(out_part, p / p.max() * 2 - 1, atol=1e-4):
        how = f"it divides by the batch's largest pixel ({hi} here), not by 255"
    elif torch.allclose(out_part, (p - p.mean()) / p.std(), atol=1e-3) or torch.allclose(
            out_part, (p - p.mean()) / p.std(unbiased=False), atol=1e-3):
        how = "it standardises by the batch's mean and std"
    else:
        how = "it uses statistics of the batch (its min, max, mean...)"
    return (f"scale_images depends on the batch: pixel {v} becomes {num(in_x)} in a batch of all values 0..255 but "
            f"{num(in_part)} in a batch of values {lo}..{hi}; {how}. Pixels must map the same way in every batch: "
            f"scale by the fixed range 0..255 (x / 255 * 2 - 1), not by the batch's values")


def wrap_point(got: dict[int, float]) -> int | None:
    """The pixel value v after which a map that rises by one even step per value drops back (v -> v + 1), as uint8
    arithmetic that wraps around does (x - 128 on uint8); None for any other map."""
    steps = [got[v + 1] - got[v] for v in range(255)]
    typical = sorted(steps)[len(steps) // 2]
    odd = [v for v, step in enumerate(steps) if abs(step - typical) > 1e-4]
    if typical <= 0 or not 1 <= len(odd) <= 2 or any(steps[v] >= 0 for v in odd):
        return None
    return odd[0]


@check(points=1, visible=True)
def test_scale_images(submission):
    """scale_images maps uint8 pixels 0..255 onto [-1, 1] like the trainer, the same way in every batch"""
    scale_images = submission.get("scale_images")
    x = torch.randperm(256, generator=torch.Generator().manual_seed(SEED)).to(torch.uint8).view(4, 1, 8, 8)
    want = to_model_range(x, "tanh")
    out = scaled(scale_images, x)
    # a batch without 0 and 255: a map that uses the batch's own range is right on x alone
    part = (20 + torch.randperm(181, generator=torch.Generator().manual_seed(SEED + 1))[:128]).to(torch.uint8)
    part = part.view(2, 1, 8, 8)
    out_part = scaled(scale_images, part)
    fault = batch_dependence(x, out, part, out_part)
    assert fault is None, fault
    if torch.allclose(out, want, rtol=0.0, atol=1e-6):
        assert torch.allclose(out_part, to_model_range(part, "tanh"), rtol=0.0, atol=1e-6), (
            "scale_images is right on a batch of all values 0..255 but not on a batch of values 20..200: map each "
            "pixel the same way in every batch, x / 255 * 2 - 1")
        return
    got = {int(v): float(out[x == v].reshape(-1)[0]) for v in range(256)}
    g0, g255, g128 = got[0], got[255], got[128]
    means = f"it maps 0 -> {num(g0)}, 128 -> {num(g128)}, 255 -> {num(g255)}; expected -1, {num(2 * 128 / 255 - 1)}, 1"
    near = lambda a, b: abs(a - b) < 1e-4  # noqa: E731
    right = [near(got[v], 2 * v / 255 - 1) for v in range(256)]
    wrapped = max(abs(got[v] - (2 * v / 255 - 1)) for v in range(256)) > 0.5  # uint8 wrap-around is off by about 1 or more
    if (all(right[:128]) or all(right[128:])) and wrapped:
        bad = right.index(False)
        hint = (f"the values of half the pixels are right, but not {bad} -> {num(got[bad])}: the arithmetic ran on "
                f"uint8 and wrapped around (uint8 holds only 0..255); convert to float before multiplying or subtracting")
    elif (v := wrap_point(got)) is not None:
        hint = (f"pixel {v} becomes {num(got[v])} but {v + 1} becomes {num(got[v + 1])}: the map drops back there, so "
                f"the arithmetic ran on uint8 and wrapped around (uint8 holds only 0..255: 0 - 128 gives 128, 255 + 1 "
                f"gives 0); convert to float before adding, subtracting or multiplying (x.float())")
    elif near(g0, 0) and near(g255, 1):
        hint = "that is [0, 1] (x / 255), the range of a sigmoid output; G ends in tanh, so real images must span [-1, 1]"
    elif near(g0, -0.5) and near(g255, 0.5):
        hint = "that is [-0.5, 0.5]: the width of [-1, 1] is 2, so scale by 2/255 before shifting"
    elif near(g0, 0) and near(g255, 2):
        hint = "that is [0, 2]: shift it down by 1"
    elif near(g0, 1) and near(g255, -1):
        hint = "the direction is flipped: black (0) must become -1 and white ink (255) +1"
    elif near(g0, -1) and near(g255, 1):
        bad = right.index(False)
        hint = f"the ends are right but not all values in between (e.g. {bad} -> {num(got[bad])}): keep the map linear"
    elif near(g0, -1):
        hint = f"255 must become exactly 1 ({num(g255)} here): pixel values run from 0 to 255, so scale by 2/255"
    else:
        hint = "use the straight line through (0, -1) and (255, 1)"
    raise AssertionError(f"{means}: {hint}")


# ---------------------------------------------------------------------------------------------
# 2. d_step
# ---------------------------------------------------------------------------------------------


def d_loss_faults(real: Tensor, fake: Tensor, want: float) -> list[tuple[float, str]]:
    """Values of D's loss that common mistakes give, with their messages (real, fake: D's logits)."""
    r_term, f_term = float(F.softplus(-real).mean()), float(F.softplus(fake).mean())
    swapped = float(F.softplus(real).mean() + F.softplus(-fake).mean())
    terms = "-log D(x) on the real batch plus -log(1 - D(G(z))) on the fakes, each averaged over its batch"
    return [
        (want / 2, f"loss_d is exactly half the trainer's ({num(want)}): sum the real term and the fake term, do not "
                   f"average them (one BCE over the real and fake batches together averages them)"),
        (swapped, "the real/fake labels are swapped: D must output 1 (real) on the real batch and 0 (fake) on G(z)"),
        (swapped / 2, "the real/fake labels are swapped (D must output 1 on the real batch, 0 on G(z)), and the two "
                      "terms are averaged: sum them"),
        (r_term, f"loss_d holds only the real term: add the fake term; D's loss is {terms}"),
        (f_term, f"loss_d holds only the fake term: add the real term; D's loss is {terms}"),
        (-want, f"loss_d has the wrong sign: the optimiser minimises, so return {terms} (binary cross-entropy), not V"),
        (want * BATCH, f"loss_d is {BATCH} times the trainer's, the batch size: average each term over the batch, do not sum"),
        (float(F.softplus(-real).mean() + F.softplus(-fake).mean()),
         "the fakes are scored with label 1 (real), like the real batch: D must output 0 on G(z), so the fake term is "
         "-log(1 - D(G(z))), binary cross-entropy against zeros"),
        (float(F.softplus(real).mean() + F.softplus(fake).mean()),
         "the real batch is scored with label 0 (fake), like the fakes: D must output 1 on real images, so the real term "
         "is -log D(x), binary cross-entropy against ones"),
        (float(F.softplus(-torch.sigmoid(real)).mean() + F.softplus(torch.sigmoid(fake)).mean()), TWICE),
        (float(-(torch.log(real).mean() + torch.log(1 - fake).mean())), AS_PROBABILITIES.format(loss="loss_d")),
        *[(float(smoothed(real, a).mean() + smoothed(fake, b).mean()), smoothing("loss_d", a, b))
          for a, b in ((0.9, 0.0), (0.9, 0.1), (1.0, 0.1), (0.95, 0.0), (0.8, 0.0), (0.8, 0.2))],
    ]


TWICE = ("D's logits went through a sigmoid before a loss that applies its own (binary_cross_entropy_with_logits, "
         "BCEWithLogitsLoss or softplus): D already returns logits, so pass them to the loss as they are")
AS_PROBABILITIES = ("{loss} takes the log of D's raw output as if it were a probability: D returns a logit (any real "
                    "number) and D(x) = sigmoid(logit); use softplus or binary_cross_entropy_with_logits on the logits")


def smoothed(logits: Tensor, label: float) -> Tensor:
    """Binary cross-entropy with logits against a soft label, per sample."""
    return F.softplus(logits) - label * logits


def smoothing(loss: str, real: float, fake: float) -> str:
    return (f"{loss} uses smoothed labels ({real:g} for real and {fake:g} for fake): this step scores with the hard "
            f"labels 1 (real) and 0 (fake), as the trainer does")


def not_finite(loss: str) -> str:
    return (f"{loss} is not a finite number: a log of a number <= 0? D returns a logit (any real number), not a "
            f"probability, and D(x) = sigmoid(logit); use softplus or binary_cross_entropy_with_logits on the logits")


RESCALED = {  # the real batch mapped again inside the step, as if it were still uint8 pixels or in [0, 1]
    "real / 127.5 - 1": lambda x: x / 127.5 - 1,
    "real / 255 * 2 - 1": lambda x: x / 255 * 2 - 1,
    "real / 255": lambda x: x / 255,
    "(real + 1) / 2": lambda x: (x + 1) / 2,
    "real * 2 - 1": lambda x: x * 2 - 1,
}


def after_update_fault(loss: float, after: float, name: str, net: str, opt: str) -> str | None:
    """The message for a step that returns its loss recomputed after the update (`after`: that loss)."""
    if not same(loss, after):
        return None
    return (f"{name} = {num(loss)} is the loss after {net}'s update ({net} or its inputs scored again after {opt}.step()): "
            f"return the loss you called backward() on, computed before the step; the trainer reports the loss that "
            f"the step descended")


def rescaled_real_fault(sc: Scene, loss: float, fake: Tensor) -> str | None:
    """The message for a D step whose loss is the trainer's with the real batch mapped once more (RESCALED)."""
    G, D = networks(sc.G0, sc.D0)
    for written, remap in RESCALED.items():
        with torch.no_grad():
            real = D(remap(sc.real))
        if same(loss, float(F.softplus(-real).mean() + F.softplus(fake).mean())):
            return (f"loss_d is the trainer's with D shown {written} instead of the real batch: `real` comes already "
                    f"scaled to [-1, 1] (scale_images ran on it, as the training loop does), so pass it to D as it is")
    return None


@check(points=1, visible=True)
def test_d_step(submission):
    """d_step trains D on a real and a fake batch like the trainer's D step"""
    d_step = submission.get("d_step")
    with torch.random.fork_rng(devices=[]):
        sc = scene()
        G, D = networks(sc.G0, sc.D0)
        for p, g in zip(D.parameters(), sc.leftover_d):
            p.grad = g.clone()
        opt_d = torch.optim.SGD(D.parameters(), lr=LR)
        before_g = flat(G.parameters())
        seen = record_inputs(G)
        first = next(D.parameters())
        backwards: list[bool] = []  # a gradient accumulated into D's first parameter: one per backward pass through D
        hook = first.register_post_accumulate_grad_hook(lambda _p: backwards.append(True))
        try:
            with StepsTaken() as stepped:
                out = call_step(d_step, "d_step", "loss_d", G, D, opt_d, sc.real.clone(), sc.z.clone())
        finally:
            hook.remove()
    loss = as_loss(out, "d_step(G, D, opt_d, real, z)", "loss_d")
    if not same(loss, sc.loss_d):
        fault = other_z(seen, sc.z, "d_step")
        assert fault is None, fault
        assert math.isfinite(loss), not_finite("loss_d")
        real, fake = logits(sc.D0, sc.G0, sc)
        real1, fake1 = logits(sc.D1, sc.G0, sc)
        fault = (diagnose(loss, d_loss_faults(real, fake, sc.loss_d)) or rescaled_real_fault(sc, loss, fake)
                 or after_update_fault(loss, float(F.softplus(-real1).mean() + F.softplus(fake1).mean()), "loss_d", "D",
                                       "opt_d"))
        raise AssertionError(fault or (
            f"loss_d = {num(loss)}; the trainer's D step gives {num(sc.loss_d)} on the same G, D, real batch and z: D's "
            f"loss is -log D(x) on the real batch plus -log(1 - D(G(z))) on the fakes, each averaged over its batch"))
    assert not received_grad(G.parameters()), (
        "G's parameters received gradients in the D step: D's loss must train D only, so score G(z).detach() "
        "(or make the fakes under torch.no_grad()); left in G's .grad, they would also spoil the next G step")
    assert not moved(flat(G.parameters()), before_g), "G's parameters changed in the D step: only D is updated here (opt_d)"
    assert all(p.requires_grad for p in G.parameters()), (
        "d_step left G's parameters with requires_grad=False, so G cannot learn in its next step: switch them back "
        "on, or keep G out of D's loss by scoring G(z).detach() instead")
    fault = update_fault("D", "opt_d", "loss_d", flat(D.parameters()), flat_state(D, sc.D0), flat_state(D, sc.D1),
                         torch.cat([g.reshape(-1) for g in sc.leftover_d]), fresh_grads(D.parameters(), sc.leftover_d),
                         steps=sum(o is opt_d for o in stepped))
    assert fault is None, (own_optimiser(stepped, opt_d, D, "D", "opt_d", "d_step")
                           or one_term_fault(sc, flat(D.parameters()), len(backwards)) or fault)
    fault = own_optimiser(stepped, opt_d, D, "D", "opt_d", "d_step") or other_optimiser(stepped, opt_d, "opt_d", "d_step")
    assert fault is None, fault


# ---------------------------------------------------------------------------------------------
# 3. g_step
# ---------------------------------------------------------------------------------------------


def g_loss_faults(fake: Tensor, real: Tensor, want: float) -> list[tuple[float, str]]:
    """Values of G's loss that common mistakes give, with their messages (fake, real: the updated D's logits)."""
    saturating = float(-F.softplus(fake).mean())
    return [
        (saturating, "this is the saturating loss log(1 - D(G(z))) of the minimax game: its gradient vanishes when D "
                     "rejects the fakes; minimise the non-saturating -log D(G(z)) instead (lesson 1)"),
        (-saturating, "G's fakes are scored with label 0 (fake), which trains G to look fake: G wants D to call its "
                      "samples real, label 1, i.e. minimise -log D(G(z))"),
        (float(F.softplus(-real).mean() + F.softplus(fake).mean()),
         "loss_g is D's loss: G's loss scores only the fakes, -log D(G(z)), averaged over the batch"),
        (-want, "loss_g has the wrong sign: minimise -log D(G(z)), which is positive"),
        (want * BATCH, f"loss_g is {BATCH} times the trainer's, the batch size: average over the batch, do not sum"),
        (float(F.softplus(-torch.sigmoid(fake)).mean()), TWICE),
    ]


def g_label(fake: Tensor, loss: float) -> float | None:
    """The soft label `a` for which binary cross-entropy against `a` on the fakes' logits gives `loss`
    (loss = mean(softplus(fake)) - a * mean(fake)); None when D's logits average to about 0."""
    mean = float(fake.mean())
    return None if abs(mean) < 1e-3 else (float(F.softplus(fake).mean()) - loss) / mean


def g_smoothing(fake: Tensor, loss: float) -> str | None:
    """A failure when loss_g is G's loss against a soft label between 0.5 and 1 (a round one, such as 0.9)."""
    a = g_label(fake, loss)
    if a is None or not 0.5 <= a < 0.995 or abs(a - round(a, 2)) > 2e-4:
        return None
    return (f"loss_g scores G's fakes against the label {round(a, 2):g}, not 1: G's targets must be 1 (real), since G "
            f"wants D to call its samples real; label smoothing is one-sided, for D's real labels in d_step only, "
            f"never for G's targets")


@check(points=1, visible=True)
def test_g_step(submission):
    """g_step trains G through D with the non-saturating loss like the trainer's G step"""
    g_step = submission.get("g_step")
    with torch.random.fork_rng(devices=[]):
        sc = scene()
        G, D = networks(sc.G0, sc.D1)  # the G step comes after D's update
        for p, g in zip(G.parameters(), sc.leftover_g):
            p.grad = g.clone()
        opt_g = torch.optim.SGD(G.parameters(), lr=LR)
        before_d = flat(D.parameters())
        seen = record_inputs(G)
        reached: list[bool] = []  # a gradient accumulated into G's parameters during the step
        hooks = [p.register_post_accumulate_grad_hook(lambda _p: reached.append(True)) for p in G.parameters()]
        try:
            with StepsTaken() as stepped:
                out = call_step(g_step, "g_step", "loss_g", G, D, opt_g, sc.z.clone())
        finally:
            for hook in hooks:
                hook.remove()
    loss = as_loss(out, "g_step(G, D, opt_g, z)", "loss_g")
    if not same(loss, sc.loss_g):
        fault = other_z(seen, sc.z, "g_step")
        assert fault is None, fault
        assert math.isfinite(loss), not_finite("loss_g")
        real, fake = logits(sc.D1, sc.G0, sc)
        _, fake1 = logits(sc.D1, sc.G1, sc)
        fault = (diagnose(loss, g_loss_faults(fake, real, sc.loss_g)) or g_smoothing(fake, loss)
                 or after_update_fault(loss, float(F.softplus(-fake1).mean()), "loss_g", "G", "opt_g"))
        raise AssertionError(fault or (
            f"loss_g = {num(loss)}; the trainer's G step gives {num(sc.loss_g)} on the same G, D and z: G's loss is the "
            f"non-saturating -log D(G(z)), averaged over the batch"))
    assert not moved(flat(D.parameters()), before_d), (
        "D's parameters changed in the G step: only G is updated here (opt_g); D learns in d_step")
    assert all(p.requires_grad for p in D.parameters()), (
        "g_step left D's parameters with requires_grad=False, so D cannot learn in its next step: if you freeze D "
        "during the G step, switch its parameters back on before returning")
    leftover = torch.cat([g.reshape(-1) for g in sc.leftover_g])
    after, before = flat(G.parameters()), flat_state(G, sc.G0)
    fresh = fresh_grads(G.parameters(), sc.leftover_g)
    only_leftover = not moved(after, before) or close(after, before - LR * leftover)
    if not fresh and not close(after, flat_state(G, sc.G1)) and only_leftover and reached:
        raise AssertionError(
            "loss_g's gradients reached G, but were cleared before opt_g.step() could use them: call opt_g.zero_grad() "
            "before loss_g.backward(), not between backward() and step()")
    if not fresh and not close(after, flat_state(G, sc.G1)) and only_leftover:
        raise AssertionError(
            "no gradient of loss_g reached G: in the G step the gradient must flow from D's output back through D into "
            "G, so do not detach G(z) or make it under torch.no_grad() here")
    fault = update_fault("G", "opt_g", "loss_g", after, before, flat_state(G, sc.G1), leftover, fresh,
                         steps=sum(o is opt_g for o in stepped))
    assert fault is None, own_optimiser(stepped, opt_g, G, "G", "opt_g", "g_step") or fault
    fault = own_optimiser(stepped, opt_g, G, "G", "opt_g", "g_step") or other_optimiser(stepped, opt_g, "opt_g", "g_step")
    assert fault is None, fault
