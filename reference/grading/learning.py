"""Grade-time learning checks: does a submitted generator learn? (a2, a4; the notebooks' try-outs)

A learning check trains the student's G (against the given DCGAN discriminator in a2, against the
student's own D in a4) for a number of seeded steps on small images and asks whether its samples
moved clearly towards the real images, and whether they are new images rather than copies. The
work is split across the proxy (see `reference.grading`), so that nothing the student's code does
in the worker can change the numbers the grade is decided on:

- in the worker, the probes `start_training(G, D, images, ...)` and `continue_training(run, step)`
  train G and D on the uint8 images the grader passes in and return G's samples (uint8, seeded
  noise, eval mode) before training and at each checkpoint the grader asks for (every `every`
  steps). They measure only: a G or D they cannot train is reported as a problem code with the
  facts (shapes, step), never as a verdict or a message. (`train_and_sample` makes the same run
  in one call.)
- here, in the trusted grader, `learning_check(...)` validates what came back (types, shapes,
  dtypes: a forged answer is at worst a wrong one), computes classifier-FID against the reference
  set's held-out features with the grader's own classifier cache (`reference.metrics.quick_fid`,
  never a file of the submission's scratch folder), runs the copy check, and gives the verdict.

The verdict does not hang on one seed or on the CPU's arithmetic. Each seeded run (G and D built
with seed s, steps seeded with s) scores its best checkpoint (the lowest FID among the
checkpoints), and a run has *learned* when that FID is at most `target` x the single-image floor
(the lowest FID a generator of one fixed image can reach, `ReferenceSet.single_image_fid`): a
generator that ignores its noise, outputs a constant, is frozen or detached can never go below
the floor, while sound a2 generators reached 0.1 to 0.6 of it in 300 steps in 36 of 37 seeded runs
measured (one without BatchNorm reached 0.82; `GAN_COURSE_LEARNING_SEEDS=3 pytest tests/test_learning.py`
runs that calibration again). A run stops at the
first checkpoint that reaches the target: it has learned, and later checkpoints could not change
that (sound a2 generators got there after 100 to 250 of the 300 steps, so a correct submission is
graded in about half the time); a run that does not learn trains all its steps. Runs go on over
`seeds` until the majority is decided:

- "pass": most runs learned;
- "partial": not most, but some run learned or came below `slow` x the floor (it learns, slowly or
  not on every seed);
- "fail": no run came below `slow` x the floor;
- "copies": the samples of some run are (near-)copies of the known real images (below);
- "pretrained": G's samples met the target before its first step, at the weights its constructor
  gave (weights trained elsewhere and loaded, or stored images blended in): the run taught it nothing
  the check could see, and sound generators start far above the target (their untrained FID is
  about the floor or more).

Copy check (after lesson 05's MiFID, `reference.metrics.mifid`: a nearest-neighbour distance to
the training set, judged against real images'): each sample's distance to its nearest known real
image (the training images *and* the held-out ones, since both are public) is compared with what
real digits that are not among them score, the held-out images' leave-one-out nearest-neighbour
distances. Images are compared as 4x4-block averages less their mean, scaled to length 1 (a
correlation: blind to pixel noise, blur, brightness and contrast), and known images moved by up to
2 pixels. When more than `COPY_SHARE` (30%) of a run's samples lie closer to a known image than
`COPY_QUANTILE` (10%) of the held-out images do, the run copies; so does a run where that many of
`TURNED` samples (drawn by the samples' own bytes) do, taken also mirrored or turned (the 8
orientations of a square, `turned`). That catches a G that returns stored digits, also one that
only does so when NBGRADER_EXECUTION is set (the worker sets it), or adds noise, blurs, dims,
moves, mirrors or turns them, or copies for half of its samples; new images are about 0% copies,
real unseen digits 10%. Copies rotated by other angles or rescaled pass it, and their FID is judged
like any other samples'.

API for a check (the same code runs in a student's kernel and across the proxy):

    from reference.grading import learning, probes

    def make(seed):                                   # (G, D) built in the worker, one pair per seed
        G = submission.run(probes.build, submission.get("DeeperGenerator"), seed, nz=100, ngf=16)
        D = submission.run(learning.dcgan_discriminator, 16, channels=1, size=28, seed=seed)
        return G, D

    try:
        result = learning.learning_check(submission, make, reference="digits", nz=100, steps=300)
    except learning.LearningProblem as err:           # G or D could not be trained; err.code, err.facts
        raise AssertionError(f"the grading run could not train the generator: {err}")
    result.outcome, result.message, result.runs       # "pass" | "partial" | "fail" | "copies" | "pretrained"

A StudentError raised by the student's code inside the probe (their forward raising) propagates
from `learning_check` unchanged; a lost worker (SubmissionLost) too.

In a notebook, `learning_run(G, D, "digits", nz=100, steps=300)` runs the same experiment in the
kernel and returns its `Run` (fid_before, best, fids per checkpoint).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "COPY_QUANTILE",
    "COPY_SHARE",
    "Known",
    "LearningProblem",
    "LearningResult",
    "Run",
    "copy_share",
    "twin_share",
    "group_spread",
    "turned",
    "turned_distances",
    "dcgan_discriminator",
    "learning_check",
    "learning_run",
    "nearest_distances",
    "problem_text",
    "reference_and_known",
    "score_samples",
    "start_training",
    "continue_training",
    "checkpoint_steps",
    "train_and_sample",
    "Training",
    "PAIR_EVERY",
    "PAIR_STEPS",
]

STEPS = 300  # default seeded training steps (batch 32)
EVERY = 50  # default checkpoint spacing (steps)
# a4's check, where G and D are both the student's: a sound pair's FID can swing between checkpoints
# for its first few hundred steps (tests/test_learning.py), so its runs are longer and scored twice as often
PAIR_STEPS, PAIR_EVERY = 400, 25
SEEDS = (0, 1, 2)
TARGET = 0.7  # a run learned when its best FID is at most this share of the single-image floor
SLOW = 0.9  # below this share of the floor (but above TARGET): learns, slowly
COPY_QUANTILE = 0.1  # a sample closer to a known image than this quantile of held-out images' distances...
COPY_SHARE = 0.3  # ...counts as a copy; a run whose samples are copies for more than this share copies
POOL = 4  # the copy check compares images averaged over 4x4 blocks...
SHIFT = 2  # ...and moved by up to 2 pixels...
TURNED = 48  # samples also compared mirrored and turned (7 orientations: costs about as much as all 360 as they are)
TWIN_NEAR = 0.1  # two samples of one group are twins when they lie within this share of the group's median distance...
TWIN_FLOOR = 0.25  # ...or within this distance (pixels in [0, 1], L2 over the image): the same drawing, give or take rounding
TWIN_SHARE = 0.5  # samples with a twin (`twin_share`) above this share: the generator draws a few images, not new ones


# ---------------------------------------------------------------------------------------------
# Worker side: probes (measure, never judge)
# ---------------------------------------------------------------------------------------------


def dcgan_discriminator(ndf: int, channels: int, size: int, seed: int = 0) -> nn.Module:
    """The given DCGAN discriminator `reference.models.dcgan.Discriminator(ndf, channels, size)`,
    with `weights_init`, built with torch's CPU generator seeded with `seed` (restored after)."""
    from reference.models.dcgan import Discriminator, weights_init

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        D = Discriminator(ndf, channels=channels, size=size)
        D.apply(weights_init)
    return D


class _Problem(Exception):
    """A G or D the probe cannot train: code and facts, reported as data."""

    def __init__(self, code: str, **facts: Any) -> None:
        super().__init__(code)
        self.code, self.facts = code, facts


def _describe(value: Any) -> dict:
    if isinstance(value, Tensor):
        return {"type": "Tensor", "shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch.")}
    return {"type": type(value).__name__, "shape": None, "dtype": None}


def _trainable(model: Any, role: str) -> list[nn.Parameter]:
    if not isinstance(model, nn.Module):
        raise _Problem(f"{role}_not_module", type=type(model).__name__)
    every = list(model.parameters())
    if not every:
        raise _Problem(f"{role}_no_parameters", modules=[type(m).__name__ for _, m in list(model.named_modules())[1:12]])
    params = [p for p in every if p.requires_grad]
    if not params:
        raise _Problem(f"{role}_frozen", parameters=len(every))
    other = sorted({str(p.dtype).removeprefix("torch.") for p in every if p.is_floating_point() and p.dtype != torch.float32})
    if other:  # the images (and the course's given networks) are float32: a .double() model cannot take them
        raise _Problem(f"{role}_dtype", dtype=other[0])
    return params


def _one_per_image(out: Any, n: int, what: str) -> Tensor:
    """D's output as (n,) from (n,), (n, 1) or (n, 1, 1, 1); a problem otherwise."""
    if not isinstance(out, Tensor) or out.shape[:1] != (n,) or out.numel() != n or not out.is_floating_point():
        raise _Problem("discriminator_output", output=_describe(out), batch=n, on=what)
    return out.reshape(n).float()


def _samples(G: nn.Module, noise: Tensor, shape: tuple[int, ...], step: int) -> Tensor:
    """G(noise) in eval mode as uint8 (n, C, H, W): [-1, 1] mapped to [0, 255]."""
    was_training = G.training
    G.eval()
    try:
        with torch.no_grad():
            out = G(noise)
    finally:
        G.train(was_training)
    if not isinstance(out, Tensor) or tuple(out.shape) != (noise.shape[0], *shape) or not out.is_floating_point():
        raise _Problem("generator_output", output=_describe(out), batch=noise.shape[0], step=step)
    out = out.detach().float()
    if not torch.isfinite(out).all():
        raise _Problem("samples_not_finite", step=step)
    return ((out + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


class Training:
    """One seeded run in progress, in the worker: G, D, their Adam optimizers and where the run is.

    Made by `start_training`, moved on by `continue_training`; across the proxy the grader holds
    it as a handle. Between calls it keeps torch's CPU generator state, so a run made in several
    calls is the same, bit for bit, as one made in a single call (`train_and_sample`).
    """

    def __init__(self, G: nn.Module, D: nn.Module, images: Tensor, noise: Tensor, *, nz: int, seed: int, batch_size: int,
                 lr: float, betas: tuple[float, float]) -> None:
        self.G, self.D, self.images, self.noise = G, D, images, noise
        self.nz, self.batch_size = nz, batch_size
        self.shape = tuple(images.shape[1:])
        params_g, params_d = _trainable(G, "generator"), _trainable(D, "discriminator")
        self.params_g = params_g
        self.step = 0
        self.first = _samples(G, noise, self.shape, 0)
        G.train()
        D.train()
        # foreach: on the CPU the same arithmetic as Adam's default loop over the parameters (the same
        # samples and losses, bit for bit, on a2's solution), with less Python per step: about 6% of a run
        self.opt_g = torch.optim.Adam(params_g, lr=lr, betas=betas, foreach=True)
        self.opt_d = torch.optim.Adam(params_d, lr=lr, betas=betas, foreach=True)
        torch.manual_seed(seed)
        self.rng = torch.get_rng_state()
        self.probabilities: bool | None = None  # D ends in a sigmoid (decided at the first step)

    def advance(self, to_step: int) -> tuple[list[list[float]], Tensor]:
        """Train up to step `to_step`; ([loss_D, loss_G] per step trained, G's samples at `to_step`).
        Runs inside the caller's fork_rng: the generator state is restored first and kept after."""
        from reference.data import to_model_range

        G, D, batch_size = self.G, self.D, self.batch_size
        torch.set_rng_state(self.rng)
        G.train()
        D.train()
        losses = []
        for step in range(self.step + 1, to_step + 1):
            self.step = step
            x = to_model_range(self.images[torch.randint(0, len(self.images), (batch_size,))], "tanh")
            fake = G(torch.randn(batch_size, self.nz))
            if not isinstance(fake, Tensor) or fake.shape != x.shape or not fake.is_floating_point():
                raise _Problem("generator_output", output=_describe(fake), batch=batch_size, step=step)
            if not fake.requires_grad:
                raise _Problem("generator_detached", step=step)
            d_real = _one_per_image(D(x), batch_size, "real")
            d_fake = _one_per_image(D(fake.detach()), batch_size, "fake")
            if self.probabilities is None:  # a D that ends in a sigmoid: its probabilities are turned back into logits
                self.probabilities = bool(((d_real >= 0) & (d_real <= 1)).all() and ((d_fake >= 0) & (d_fake <= 1)).all())
            if self.probabilities:
                d_real, d_fake = (torch.logit(p.clamp(1e-6, 1 - 1e-6)) for p in (d_real, d_fake))
            loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            d_g = _one_per_image(D(fake), batch_size, "fake")
            if self.probabilities:
                d_g = torch.logit(d_g.clamp(1e-6, 1 - 1e-6))
            loss_g = F.softplus(-d_g).mean()  # non-saturating: -log D(G(z))
            self.opt_g.zero_grad(set_to_none=True)
            # only G's gradients: D's would be computed for nothing (the next D step clears them first).
            # The same numbers as loss_g.backward() gives G, in about 5% less time per step.
            wanted = [p for p in self.params_g if p.requires_grad]  # a forward may have frozen some since the start
            if wanted:  # a loss without a graph raises here as loss_g.backward() does
                for p, grad in zip(wanted, torch.autograd.grad(loss_g, wanted, allow_unused=True)):
                    p.grad = grad
            else:
                loss_g.backward()
            self.opt_g.step()
            pair = [float(loss_d.item()), float(loss_g.item())]
            if not all(math.isfinite(v) for v in pair):
                raise _Problem("losses_not_finite", step=step, loss_d=pair[0], loss_g=pair[1])
            losses.append(pair)
        samples = _samples(G, self.noise, self.shape, to_step)
        self.rng = torch.get_rng_state()
        return losses, samples


def start_training(
    G: nn.Module,
    D: nn.Module,
    images: Tensor,
    *,
    nz: int,
    seed: int = 0,
    n: int = 360,
    batch_size: int = 32,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.5, 0.999),
) -> dict:
    """Set up a seeded run of G and D on uint8 `images` (N, C, H, W), to be moved on by `continue_training`.

    Returns {"run": the `Training` (a handle across the proxy), "samples": G's samples before
    training, uint8 (n, C, H, W), "problem": None}, or {"run": None, "samples": None, "problem":
    {"code", **facts}} when G or D cannot be trained (codes: see `train_and_sample`). The global
    RNG is left as it was.
    """
    from reference.cpu import cpu_training

    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 4 or len(images) == 0:
        return {"run": None, "samples": None, "problem": {"code": "images"}}
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    noise = torch.randn(n, nz, generator=torch.Generator().manual_seed(seed + 1))
    with cpu_training("cpu"), torch.random.fork_rng(devices=[]):
        try:
            run = Training(G, D, images, noise, nz=nz, seed=seed, batch_size=batch_size, lr=lr, betas=betas)
        except _Problem as problem:
            return {"run": None, "samples": None, "problem": {"code": problem.code, **problem.facts}}
    return {"run": run, "samples": run.first, "problem": None}


def continue_training(run: Training, to_step: int) -> dict:
    """Train a run from `start_training` on to step `to_step` (counted from its start).

    Returns {"step": to_step, "samples": G's samples there (uint8, eval mode, the run's fixed
    noise), "losses": [[loss_D, loss_G] per step trained in this call], "seconds": float,
    "problem": None}, or with "problem": {"code", **facts} (and "samples": None) when the run
    cannot go on. The global RNG is left as it was; exceptions of G's or D's code propagate.
    """
    from reference.cpu import cpu_training

    start = time.perf_counter()
    result: dict[str, Any] = {"step": to_step, "samples": None, "losses": [], "seconds": 0.0, "problem": None}
    if not isinstance(run, Training):
        result["problem"] = {"code": "run"}
        return result
    if not isinstance(to_step, int) or to_step <= run.step:
        raise ValueError(f"to_step must be after the run's step {run.step}, got {to_step!r}")
    with cpu_training("cpu"), torch.random.fork_rng(devices=[]):
        try:
            result["losses"], result["samples"] = run.advance(to_step)
        except _Problem as problem:
            result["problem"] = {"code": problem.code, **problem.facts}
    result["seconds"] = time.perf_counter() - start
    return result


def checkpoint_steps(steps: int, every: int) -> list[int]:
    """[every, 2 every, ..., steps]: where a run's samples are taken after step 0."""
    return [*range(every, steps, every), steps]


def train_and_sample(
    G: nn.Module,
    D: nn.Module,
    images: Tensor,
    *,
    nz: int,
    steps: int = STEPS,
    every: int = EVERY,
    seed: int = 0,
    n: int = 360,
    batch_size: int = 32,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.5, 0.999),
) -> dict:
    """Train G and D in place for `steps` seeded steps on uint8 `images` (N, C, H, W); G's samples on the way.

    Each step: a random batch x scaled to [-1, 1]; D's step on x and G(z).detach() (loss
    softplus(-D(x)) + softplus(D(G(z)))); then G's step through D on the same G(z), non-saturating
    (softplus(-D(G(z)))). Adam(lr, betas) for both, over their parameters that require grad; D may
    return logits or probabilities (a final sigmoid), (B,), (B, 1) or (B, 1, 1, 1).

    Samples: G(z) in eval mode for the same noise z (n, nz) drawn from seed + 1, as uint8
    (n, C, H, W) (G's [-1, 1] mapped to [0, 255]), before training (step 0), every `every` steps
    and after the last. Runs on torch's CPU generator seeded with `seed`, with denormals flushed
    and the thread count of `reference.cpu.cpu_training`; the global RNG is left as it was.
    The same run as `start_training` then `continue_training` to each checkpoint, in one call.

    Returns {"checkpoints": [0, every, ..., steps], "samples": [uint8 tensors], "losses":
    [[loss_D, loss_G] per step], "seconds": float, "problem": None}, or, when G or D cannot be
    trained, the same keys so far with "problem": {"code": str, **facts}. Codes: generator_not_module,
    discriminator_not_module (facts: type), generator_no_parameters, discriminator_no_parameters
    (modules: none registered), generator_frozen, discriminator_frozen (parameters: how many, none
    requiring grad), generator_dtype, discriminator_dtype (dtype: of its parameters, not float32), generator_output (output: describe(...), batch, step), generator_detached (step),
    discriminator_output (output, batch, on: "real" | "fake"), losses_not_finite (step, loss_d,
    loss_g), samples_not_finite (step), images (the grader passed no uint8 (N, C, H, W) tensor).
    Exceptions raised by G's or D's code propagate.
    """
    start = time.perf_counter()
    if steps < 1 or every < 1 or n < 1:
        raise ValueError(f"steps, every and n must be >= 1, got {steps}, {every}, {n}")
    result: dict[str, Any] = {"checkpoints": [], "samples": [], "losses": [], "seconds": 0.0, "problem": None}
    begun = start_training(G, D, images, nz=nz, seed=seed, n=n, batch_size=batch_size, lr=lr, betas=betas)
    if begun["problem"] is None:
        result["checkpoints"], result["samples"] = [0], [begun["samples"]]
        for step in checkpoint_steps(steps, every):
            part = continue_training(begun["run"], step)
            result["losses"] += part["losses"]
            if part["problem"] is not None:
                begun["problem"] = part["problem"]
                break
            result["checkpoints"].append(step)
            result["samples"].append(part["samples"])
    result["problem"] = begun["problem"]
    result["seconds"] = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------------------------
# Trusted side: scores and the verdict
# ---------------------------------------------------------------------------------------------


class LearningProblem(Exception):
    """The grading run could not train G or D. str(err): what happened, in a sentence;
    code: the probe's problem code (see `train_and_sample`); facts: its facts (untrusted)."""

    def __init__(self, code: str, message: str, facts: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.facts = code, message, dict(facts or {})


def _shape_text(shape: Any, batch: int | None) -> str:
    if not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) for d in shape):
        return "something else"
    dims = ["N" if (k == 0 and d == batch) else str(d) for k, d in enumerate(shape)]
    return "(" + ", ".join(dims) + ")"


def _output_text(output: Any, batch: Any) -> str:
    output = output if isinstance(output, dict) else {}
    batch = batch if isinstance(batch, int) else None
    if output.get("type") != "Tensor":
        kind = output.get("type") if isinstance(output.get("type"), str) else "value"
        return f"a {kind[:40]}, not a tensor"
    dtype = output.get("dtype") if isinstance(output.get("dtype"), str) else ""
    if dtype and not dtype.startswith(("float", "bfloat")):
        return f"a {dtype[:20]} tensor {_shape_text(output.get('shape'), batch)}, not floats"
    return _shape_text(output.get("shape"), batch)


def problem_text(problem: dict, image_shape: Sequence[int]) -> str:
    """The sentence for a probe's problem {"code", **facts}; image_shape (C, H, W) expected of G."""
    code = problem.get("code")
    expected = "(N, " + ", ".join(str(d) for d in image_shape) + ")"
    step = problem.get("step") if isinstance(problem.get("step"), int) else None
    if code == "generator_output":
        return f"the generator returns {_output_text(problem.get('output'), problem.get('batch'))}; expected {expected}"
    if code == "generator_detached":
        return "the generator's output does not depend on its parameters (detached, or made without them), so it cannot learn"
    if code in ("generator_no_parameters", "discriminator_no_parameters"):
        role = code.split("_")[0]
        return (
            f"the {role} has no trainable parameters: its layers are not registered (layers kept in a plain Python "
            f"list or dict are invisible to .parameters() and the optimizer): keep them in nn.Sequential or "
            f"nn.ModuleList, assigned in __init__"
        )
    if code in ("generator_frozen", "discriminator_frozen"):
        role = code.split("_")[0]
        count = problem.get("parameters") if isinstance(problem.get("parameters"), int) else None
        which = f"none of its {count} parameter tensors" if count else "none of its parameters"
        return (
            f"the {role} cannot learn: {which} requires grad (frozen, as with requires_grad_(False) for fine-tuning): "
            f"leave requires_grad on"
        )
    if code in ("generator_dtype", "discriminator_dtype"):
        role = code.split("_")[0]
        dtype = problem.get("dtype") if isinstance(problem.get("dtype"), str) else "not float32"
        dtype = "".join(ch for ch in dtype[:20] if ch.isalnum())
        return (
            f"the {role}'s weights are {dtype}, while the images and the training run are float32: keep the network "
            f"in float32 (no .double(), no dtype=torch.{dtype})"
        )
    if code in ("generator_not_module", "discriminator_not_module"):
        role = code.split("_")[0]
        kind = problem.get("type") if isinstance(problem.get("type"), str) else "value"
        return f"the {role} is a {kind[:40]}, not a torch nn.Module: subclass nn.Module and call super().__init__()"
    if code == "discriminator_output":
        on = "real images" if problem.get("on") == "real" else "generated images"
        got = _output_text(problem.get("output"), problem.get("batch"))
        return f"the discriminator returns {got} for a batch of {on}; expected one value per image, (N,) or (N, 1)"
    if code == "losses_not_finite":
        when = f" at step {step}" if step else ""
        return f"the losses became NaN or infinite{when}; they must stay finite"
    if code == "samples_not_finite":
        when = f" after {step} steps" if step else " before training"
        return f"the generator's samples contain NaN or infinite values{when}"
    return "the training run in the submission's worker did not report its samples"


@dataclass
class Run:
    """One seeded run: FID at each checkpoint and how its samples sit among the known real images.

    fids: [(step, classifier-FID)] from step 0 (untrained) to the last checkpoint trained (in a
    learning check, the first that reached the target, or the run's last step). best: the lowest
    FID after step 0 (and its step). copies: share of the best checkpoint's and of the last checkpoint's samples
    that are copies (the larger). spread: how much the last samples differ from each other (the
    pixels' standard deviation over the samples, averaged, in [0, 255] units; 0 for one image).
    """

    seed: int
    fids: list[tuple[int, float]]
    copies: float
    seconds: float
    spread: float = 0.0
    floor: float = 0.0  # the single-image FID of the reference set (ReferenceSet.single_image_fid)

    @property
    def fid_before(self) -> float:
        return self.fids[0][1]

    @property
    def best(self) -> float:
        return min(f for _, f in self.fids[1:]) if len(self.fids) > 1 else self.fid_before

    @property
    def best_step(self) -> int:
        trained = self.fids[1:] or self.fids
        return min(trained, key=lambda sf: sf[1])[0]

    @property
    def fid_after(self) -> float:
        return self.fids[-1][1]


@dataclass
class LearningResult:
    """The verdict of a learning check and what it rests on.

    outcome: "pass" | "partial" | "fail" | "copies" | "pretrained" (G met the target before its first training
    step: weights trained elsewhere, not by the run). message: "" for a pass, else what happened in
    one or two sentences (without the assignment's hint). runs: the seeded runs made (2 or 3).
    floor: the single-image FID floor; target: the FID a run must reach (target share x floor).
    """

    outcome: str
    message: str
    runs: list[Run]
    floor: float
    target: float
    steps: int
    data: str = ""
    learned: list[bool] = field(default_factory=list)


_REFERENCES: dict[str, Any] = {}  # "name@cache folder" -> (ReferenceSet, Known)


@dataclass
class Known:
    """The known real images (training, then held-out) for the copy check.

    images: float64 (S*K, D), `pooled` images of all K known images moved by each of the S shifts
    of `shifted` (shift-major); owner: (S*K,) which known image each row is. held_out_distances:
    (M,) each held-out image's `nearest_distances` to the known images other than itself.
    """

    images: Tensor
    owner: Tensor
    held_out_distances: Tensor

    @classmethod
    def of(cls, train: Tensor, held_out: Tensor) -> "Known":
        """From uint8 training (N, C, H, W) and held-out (M, C, H, W) images."""
        everything = torch.cat([train, held_out])
        moved = shifted(everything)  # (S, K, C, H, W)
        images = pooled(moved.flatten(0, 1))
        owner = torch.arange(len(everything)).repeat(len(moved))
        known = cls(images, owner, torch.empty(0))
        known.held_out_distances = nearest_distances(held_out, known, exclude=len(train) + torch.arange(len(held_out)))
        return known


def pooled(images: Tensor) -> Tensor:
    """uint8 (n, C, H, W) -> float64 (n, C*(H//POOL)*(W//POOL)): averages over POOL x POOL blocks,
    less their mean, scaled to length 1.

    The digits are 8x8 scans drawn at 28x28 (32x32): 4x4 blocks keep what they hold and average
    away pixel noise added to a copy; centring and scaling make brighter, dimmer or lower-contrast
    copies the same image (the distance is a correlation's: |a - b|^2 = 2 (1 - corr)).
    """
    x = F.avg_pool2d(images.double(), POOL).flatten(1)
    x = x - x.mean(dim=1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-6)


def shifted(images: Tensor, shift: int = SHIFT) -> Tensor:
    """uint8 (n, C, H, W) -> (S, n, C, H, W): each image moved by every (dy, dx) in [-shift, shift]^2
    (S = (2 shift + 1)^2), with black (0) coming in at the edges."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (shift, shift, shift, shift))
    crops = [padded[..., dy : dy + h, dx : dx + w] for dy in range(2 * shift + 1) for dx in range(2 * shift + 1)]
    return torch.stack(crops)


def turned(images: Tensor) -> list[Tensor]:
    """uint8 (n, C, H, W) with H == W -> the 7 other orientations of each image: turned by 90, 180
    and 270 degrees, and mirrored (left-right) after each of the four turns."""
    turns = [torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]
    return turns[1:] + [t.flip(-1) for t in turns]


def nearest_distances(images: Tensor, known: Known, exclude: Tensor | None = None, batch: int = 256) -> Tensor:
    """(n,) each uint8 image's smallest `pooled` distance to a known image moved by up to SHIFT
    pixels; exclude (n,): per image, a known image (by index) not to count."""
    out = []
    for start in range(0, len(images), batch):
        d = torch.cdist(pooled(images[start : start + batch]), known.images)
        if exclude is not None:
            d[known.owner.unsqueeze(0) == exclude[start : start + batch].unsqueeze(1)] = math.inf
        out.append(d.min(dim=1).values)
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)


def turned_distances(images: Tensor, known: Known, exclude: Tensor | None = None) -> Tensor:
    """(n,) `nearest_distances` of each uint8 image mirrored or turned (the smallest over the 7
    orientations of `turned`); images that are not square: infinity."""
    if images.shape[-1] != images.shape[-2]:
        return torch.full((len(images),), math.inf, dtype=torch.float64)
    others = turned(images)
    repeat = None if exclude is None else exclude.repeat(len(others))
    return nearest_distances(torch.cat(others), known, repeat).view(len(others), -1).amin(dim=0)


def copy_share(samples: Tensor, known: Known, quantile: float = COPY_QUANTILE) -> float:
    """Share of uint8 samples (n, C, H, W) that lie closer to a known image than the `quantile` of
    the held-out images do (`nearest_distances`): about `quantile` for new images like the real
    ones, near 1 for copies (also with noise, blurred, dimmed or moved by a pixel or two).

    Copies mirrored or turned: TURNED of the samples are also compared in their 7 other
    orientations (`turned_distances`, against the same bound), and the larger share counts. Which
    ones is drawn with a seed taken from the samples' own bytes: the same samples always give the
    same share, and a generator cannot know which of its samples will be looked at that way. New
    images score about as they do as they are (the held-out digits 11% in all, 4% to 19% in groups
    of TURNED: a mirrored 0, 1 or 8 is still one), mirrored or turned copies near 1.
    """
    radius = torch.quantile(known.held_out_distances, quantile)
    nearest = nearest_distances(samples, known)
    share = float((nearest < radius).double().mean())
    if len(samples):
        seed = int.from_bytes(hashlib.sha256(samples.contiguous().numpy().tobytes()).digest()[:8], "little")
        picks = torch.randperm(len(samples), generator=torch.Generator().manual_seed(seed))[:TURNED]
        few = torch.minimum(nearest[picks], turned_distances(samples[picks], known))
        share = max(share, float((few < radius).double().mean()))
    return share


def twin_share(samples: Tensor, groups: Tensor) -> float:
    """Share of uint8 samples (n, C, H, W) that have a twin: another sample of their group (n,) that
    lies within TWIN_NEAR of the group's median pairwise distance, or within TWIN_FLOOR (L2 over
    the pixels scaled to [0, 1]). A generator that draws one image per group, or a few that its
    noise picks between, scores 1: each drawing comes back for other noise (identical, or apart by
    rounding); one whose drawings vary with its noise scores about 0, faint or blurred ones too (the
    bound follows the group's own spread, down to TWIN_FLOOR: drawings closer than that look the
    same). Real digits grouped by label score 0. Groups of one sample count none.
    """
    if not len(samples):
        return 0.0
    flat = samples.double().flatten(1) / 255.0
    twins = 0
    for group in torch.unique(groups):
        members = flat[groups == group]
        if len(members) < 2:
            continue
        d = torch.cdist(members, members)
        median = d[~torch.eye(len(members), dtype=torch.bool)].median()
        d.fill_diagonal_(math.inf)
        twins += int((d.min(dim=1).values <= max(TWIN_NEAR * float(median), TWIN_FLOOR)).sum())
    return twins / len(samples)


def group_spread(features: Tensor, groups: Tensor, count: int) -> Tensor:
    """(count,) the mean pairwise distance of the features (n, d) within each group 0..count-1 of `groups` (n,):
    how much the classifier sees a group's samples differ (0 for one image, or for a group of fewer than two)."""
    out = torch.zeros(count, dtype=torch.float64)
    for group in range(count):
        members = features[groups == group].double()
        if len(members) > 1:
            d = torch.cdist(members, members)
            out[group] = d.sum() / (len(members) * (len(members) - 1))
    return out


def reference_and_known(name: str) -> tuple[Any, Known]:
    """The reference set `name` ("digits" or "coloured-digits", `reference.metrics.quick_fid.reference_set`)
    from the grader's classifier cache ($GAN_COURSE_GRADING_CACHE), and its `Known` images; kept
    for the process (the classifier is trained on the first call, about 10 s)."""
    from reference.metrics.quick_fid import grading_root, reference_set

    key = f"{name}@{grading_root()}"
    if key not in _REFERENCES:
        ref = reference_set(name)
        _REFERENCES[key] = (ref, Known.of(ref.train, ref.held_out))
    return _REFERENCES[key]


def score_samples(samples: Tensor, reference: str = "digits") -> tuple[float, float]:
    """(classifier-FID against the held-out features, `copy_share`) of uint8 samples (n, C, H, W)."""
    ref, known = reference_and_known(reference)
    return ref.fid(samples), copy_share(samples, known)


def _valid(samples: Any, shape: tuple[int, ...], n: int) -> Tensor | None:
    """The probe's samples when they are what was asked for (uint8 (n, *shape)), else None."""
    if not isinstance(samples, Tensor) or samples.dtype != torch.uint8 or tuple(samples.shape) != (n, *shape):
        return None
    return samples


def _problem(result: Any, shape: tuple[int, ...]) -> None:
    """Raise LearningProblem for a probe's answer that reports one (or is not a dict)."""
    if not isinstance(result, dict):
        raise LearningProblem("unknown", problem_text({}, shape))
    problem = result.get("problem")
    if isinstance(problem, dict):
        code = problem.get("code") if isinstance(problem.get("code"), str) else "unknown"
        raise LearningProblem(code, problem_text(problem, shape), problem)


def _run(submission: Any, make: Callable[[int], tuple[Any, Any]], seed: int, ref: Any, *, nz: int, steps: int, every: int,
         n: int, train_options: dict, enough: float | None = None) -> Run:
    """One seeded run, scored here checkpoint by checkpoint. With `enough`, the run stops at the
    first checkpoint whose FID is at most `enough` (it has learned; more steps cannot undo that)."""
    from reference.grading.proxy import finite

    G, D = make(seed)
    begun = submission.run(start_training, G, D, ref.train, nz=nz, seed=seed, n=n, **train_options)
    _problem(begun, ref.shape)
    first = _valid(begun.get("samples"), ref.shape, n)
    if first is None:
        raise LearningProblem("unknown", problem_text({}, ref.shape))
    fids, samples, seconds = [(0, ref.fid(first))], [first], 0.0
    for step in checkpoint_steps(steps, every):
        part = submission.run(continue_training, begun.get("run"), step)
        _problem(part, ref.shape)
        got = _valid(part.get("samples"), ref.shape, n)
        if got is None or part.get("step") != step:
            raise LearningProblem("unknown", problem_text({}, ref.shape))
        seconds += float(part["seconds"]) if finite(part.get("seconds")) else 0.0
        fids.append((step, ref.fid(got)))
        samples.append(got)
        if enough is not None and fids[-1][1] <= enough:
            break
    best = min(range(1, len(fids)), key=lambda k: fids[k][1])
    known = reference_and_known(ref.name)[1]
    copies = max(copy_share(samples[k], known) for k in {best, len(samples) - 1})
    spread = float(samples[-1].double().std(dim=0).mean())
    return Run(seed, fids, copies, seconds, spread, ref.single_image_fid)


def learning_check(
    submission: Any,
    make: Callable[[int], tuple[Any, Any]],
    *,
    reference: str = "digits",
    nz: int,
    steps: int = STEPS,
    every: int = EVERY,
    seeds: Sequence[int] = SEEDS,
    target: float = TARGET,
    slow: float = SLOW,
    copy_limit: float = COPY_SHARE,
    data: str | None = None,
    **train_options: Any,
) -> LearningResult:
    """Train the student's G for `steps` seeded steps in up to len(seeds) runs; the verdict (module docstring).

    make(seed) -> (G, D): handles (or, in a kernel, the objects) of a fresh generator and
    discriminator built with `seed`. reference: "digits" (1x28x28) or "coloured-digits"
    (3x32x32). nz: G's noise size. Runs stop as soon as the majority of `seeds` is decided.
    data: how the message names the images (default: "the digits" / "coloured digits").
    train_options: batch_size, lr, betas of `train_and_sample`.
    Raises LearningProblem when G or D cannot be trained (the first run says so); the student's
    exceptions (StudentError) and a lost worker propagate.
    """
    ref = reference_and_known(reference)[0]
    data = data or {"digits": "the digits", "coloured-digits": "coloured digits"}.get(reference, reference)
    n = ref.real_features.shape[0]
    floor = ref.single_image_fid
    goal = target * floor
    runs: list[Run] = []
    learned: list[bool] = []
    majority = len(seeds) // 2 + 1
    for seed in seeds:
        run = _run(submission, make, seed, ref, nz=nz, steps=steps, every=every, n=n, train_options=train_options, enough=goal)
        runs.append(run)
        if run.copies > copy_limit:
            return LearningResult("copies", _copies_text(run, data), runs, floor, goal, steps, data, learned)
        if run.fid_before <= goal:  # weights trained elsewhere (or stored images blended in): not what this run taught
            return LearningResult("pretrained", _pretrained_text(run, goal, data), runs, floor, goal, steps, data, learned)
        learned.append(run.best <= goal)
        left = len(seeds) - len(runs)
        if sum(learned) >= majority or (sum(learned) + left < majority and not _could_be_partial(runs, left, slow * floor)):
            break
    bests = [run.best for run in runs]
    if sum(learned) >= majority:
        return LearningResult("pass", "", runs, floor, goal, steps, data, learned)
    told = (
        f"classifier-FID went from {runs[0].fid_before:.0f} (untrained) to at best {_listing(bests)} in {len(runs)} seeded "
        f"runs of {steps} training steps on {data}; expected at most {goal:.0f} ({target:.0%} of the {floor:.0f} that one "
        f"fixed image scores) in {majority} of {len(seeds)}"
    )
    outcome = "partial" if min(bests) < slow * floor else "fail"
    return LearningResult(outcome, told, runs, floor, goal, steps, data, learned)


def _could_be_partial(runs: list[Run], left: int, slow_fid: float) -> bool:
    """Whether the runs still to come could change a fail into a partial (they could while none came below slow)."""
    return left > 0 and min(run.best for run in runs) >= slow_fid


def _listing(values: Sequence[float]) -> str:
    text = [f"{v:.0f}" for v in values]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def _pretrained_text(run: Run, goal: float, data: str) -> str:
    return (
        f"the generator draws {data} before any training step (classifier-FID {run.fid_before:.0f} at the weights its "
        f"constructor gives, where the target after training is at most {goal:.0f}): the check trains the generator from "
        f"those weights and scores what the training teaches; its constructor must build fresh layers (DCGAN's "
        f"weights_init), not load trained weights"
    )


def _copies_text(run: Run, data: str) -> str:
    return (
        f"{run.copies:.0%} of the generator's samples are (near-)copies of known real images: each lies closer to one of "
        f"{data} (allowing for noise, blur, brightness, shifts of up to {SHIFT} pixels, mirroring and turns) than {1 - COPY_QUANTILE:.0%} of "
        f"real images that are not among them do; a generator must make new images, not return stored ones"
    )


def learning_run(G: nn.Module, D: nn.Module, reference: str = "digits", *, nz: int, steps: int = STEPS, every: int = EVERY,
                 seed: int = 0, **train_options: Any) -> Run:
    """In a notebook: train G and D here as a learning check does (one seeded run) and score G's samples.

    Returns the `Run` (fid_before, best, best_step, fid_after, fids per checkpoint, copies).
    The classifier is trained on the first call (about 10 s) and cached.
    """
    from reference.grading.submission import LocalSubmission

    ref = reference_and_known(reference)[0]
    n = ref.real_features.shape[0]
    return _run(LocalSubmission({}), lambda _seed: (G, D), seed, ref, nz=nz, steps=steps, every=every, n=n, train_options=train_options)
