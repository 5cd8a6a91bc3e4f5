"""Probes of a5_wgan_gp: the student's gradient penalty next to critics that record their inputs,
and a short seeded WGAN-GP run on 2-D points with the student's three functions.

`tests/autograders/test_a5_wgan_gp.py` runs these with `submission.run(...)`: in the sandboxed
worker when a submission is graded, in the student's kernel for the visible checks. Like every
probe (see `reference.grading.probes`) they measure and return plain data and never judge. The
test critics and the networks of the run are built by the functions here, so that the grader can
build the very same ones on its side (`probe_critic`, `mlp`) and recompute from what comes back:
the penalty on the points the student's function chose, the critic's estimate of W and the exact
W1 from the weights the run returns. Nothing here imports `reference.losses`, which is masked
while a5 is graded.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from reference.grading.probes import describe

__all__ = ["Recorder", "mlp", "penalty_draws", "penalty_run", "probe_critic", "train_wgan_gp"]

MAX_RECORDED = 256  # critic calls whose inputs a penalty run keeps (a loop over the samples calls it once per sample)
MAX_RECORDED_ELEMENTS = 2**20  # elements of those inputs together
# In the run, one critic call of the student's penalty scores at most this many points per point of the batch
# (real, fake and the interpolates in one call are 3): an eps of an image's shape, (N, 1, 1, 1), on points (N, 2)
# broadcasts into every (real, fake) pair, N points per point, and made the run over 20 times as long
CRITIC_POINTS_PER_SAMPLE = 4


# ---------------------------------------------------------------------------------------------
# Critics the checks hand to the student's gradient_penalty
# ---------------------------------------------------------------------------------------------


def probe_critic(kind: str, shape: list[int] | tuple[int, ...], seed: int, norm: float | None = None) -> nn.Module:
    """A seeded critic for inputs of `shape` (the shape of one sample), scores (N, 1).

    kind "points": (N, 2) -> Linear(2, 16), Tanh, Linear(16, 1); its gradient norms at the checks'
    points lie on both sides of 1. kind "images": (N, C, H, W) -> Conv2d(C, 4, 3, padding 1), Tanh,
    Flatten, Linear(4 H W, 1). kind "linear": Flatten, Linear(prod(shape), 1) with a seeded weight
    direction scaled to `norm`: its gradient is that weight at every input, so the penalty is
    lambda (norm - 1)^2 whatever points it is taken at. Built with torch's CPU generator seeded
    with `seed` (restored after); float32.
    """
    shape = tuple(int(d) for d in shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "points":
            net = nn.Sequential(nn.Linear(shape[0], 16), nn.Tanh(), nn.Linear(16, 1))
            with torch.no_grad():
                net[0].weight.mul_(2.0)  # gradient norms from about 0.1 to 2.3 at the checks' points
                net[2].weight.mul_(5.0)
        elif kind == "images":
            channels, height, width = shape
            net = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * height * width, 1))
            with torch.no_grad():
                net[3].weight.mul_(4.0)  # gradient norms of about 1.2
        elif kind == "linear":
            if norm is None:
                raise ValueError("a linear test critic needs the norm of its weight")
            net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 1))
            with torch.no_grad():
                w = torch.randn(1, math.prod(shape))
                net[1].weight.copy_(w / w.norm() * norm)
        else:
            raise ValueError(f"unknown test critic {kind!r}; choose points, images or linear")
    return net


def _unwrapped(x: Tensor) -> Tensor:
    """The tensor inside torch.func's wrappers: under vmap the critic sees one sample, wrapped
    around the whole batch (batch dimension first here). Private API, so any surprise leaves x as it is."""
    try:
        functorch = torch._C._functorch
        while functorch.is_functorch_wrapped_tensor(x):
            level_dim = functorch.maybe_get_bdim(x) if functorch.is_batchedtensor(x) else -1
            inner = functorch.get_unwrapped(x)
            x = inner.movedim(level_dim, 0) if level_dim is not None and level_dim > 0 else inner
    except (AttributeError, RuntimeError):
        pass
    return x


class Recorder(nn.Module):
    """A critic that keeps a detached copy of every input it is called with (`inputs`: at most
    MAX_RECORDED of them, `max_elements` elements in all; under torch.func.vmap the batch it maps
    over), the dtypes of its scores (`score_dtypes`: bfloat16 under CPU autocast) and counts its
    calls; otherwise it is `net`."""

    def __init__(self, net: nn.Module, max_elements: int = MAX_RECORDED_ELEMENTS) -> None:
        super().__init__()
        self.net = net
        self.inputs: list[Tensor] = []
        self.calls = 0
        self._kept = 0
        self._max_elements = max_elements
        self.score_dtypes: set[str] = set()

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        if len(self.inputs) < MAX_RECORDED and isinstance(x, Tensor):
            seen = _unwrapped(x)
            if self._kept + seen.numel() <= self._max_elements:
                self._kept += seen.numel()
                self.inputs.append(seen.detach().to("cpu").clone())
        scores = self.net(x)
        if isinstance(scores, Tensor):
            self.score_dtypes.add(str(scores.dtype).removeprefix("torch."))
        return scores


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's CPU generator, numpy's and Python's seeded with `seed` inside the block, restored after."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def penalty_run(penalty_fn: Any, kind: str, critic_seed: int, real: Tensor, fake: Tensor, *, seed: int,
                lambda_gp: float | None = None, norm: float | None = None) -> dict:
    """Call penalty_fn(critic, real, fake[, lambda_gp]) with the RNGs seeded with `seed`, where critic
    is `Recorder(probe_critic(kind, real.shape[1:], critic_seed, norm))`; then backpropagate its value.

    Returns {"result": describe(value), "value": the value detached as float64, flattened, or None
    when not a tensor, "requires_grad": bool, "calls": how many times the critic ran, "changed": the
    names of the inputs ("real", "fake") whose values the call changed in place, "weights_changed": the names of
    the critic's parameters it changed (a clamp_ of weight clipping, an optimizer step), "inputs":
    [the first inputs it got, see Recorder], "score_dtypes": [the dtypes of the critic's scores],
    "leftover": [[parameter name, whether it already held a gradient after the call (a .backward()
    inside the function)]], "grads": [[name, d value /
    d parameter or None]] after value.backward() (None when the value carries no graph or is not
    one number), "backward_error": the first line of what backward raised, or None}. Exceptions of
    the student's function propagate.
    """
    critic = Recorder(probe_critic(kind, tuple(real.shape[1:]), critic_seed, norm))
    names = [name for name, _ in critic.named_parameters()]
    args = (critic, real, fake) if lambda_gp is None else (critic, real, fake, lambda_gp)
    before = {"real": real.detach().clone(), "fake": fake.detach().clone()}
    weights = {name: p.detach().clone() for name, p in critic.named_parameters()}
    with seeded(seed):
        value = penalty_fn(*args)
    after = {"real": real, "fake": fake}
    moved = [name for name, p in critic.named_parameters() if not torch.equal(p.detach(), weights[name])]
    out: dict[str, Any] = {
        "result": describe(value), "value": None, "requires_grad": False, "calls": critic.calls,
        "changed": [name for name, x in before.items() if not torch.equal(after[name].detach(), x)],
        "weights_changed": moved,
        "inputs": list(critic.inputs), "score_dtypes": sorted(critic.score_dtypes),
        "leftover": [[name, p.grad is not None and bool(p.grad.abs().sum() > 0)] for name, p in critic.named_parameters()],
        "grads": None, "backward_error": None,
    }
    if not isinstance(value, Tensor):
        return out
    out["value"] = value.detach().to("cpu", torch.float64).reshape(-1).clone()
    out["requires_grad"] = bool(value.requires_grad)
    if value.requires_grad and value.numel() == 1:
        for p in critic.parameters():
            p.grad = None
        try:
            value.reshape(()).backward()
        except Exception as err:  # noqa: BLE001 - measured, not judged
            out["backward_error"] = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}"
        else:
            grads = dict(critic.named_parameters())
            out["grads"] = [[name, None if grads[name].grad is None else grads[name].grad.detach().double().clone()] for name in names]
    return out


def penalty_draws(penalty_fn: Any, kind: str, critic_seed: int, real: Tensor, fake: Tensor, *, seed: int,
                  calls: int) -> list[list[Tensor]]:
    """Call penalty_fn(critic, real, fake) `calls` times in a row, as training steps do, the RNGs
    seeded with `seed` once before the first call: each call's critic is a new Recorder around the
    same `probe_critic(kind, real.shape[1:], critic_seed)`, all of them together keeping at most
    MAX_RECORDED_ELEMENTS elements. Returns the inputs each call's critic kept, one list per call
    (what the grader reads the eps of many draws from). Exceptions of the student's function propagate.
    """
    net = probe_critic(kind, tuple(real.shape[1:]), critic_seed)
    kept: list[list[Tensor]] = []
    budget = MAX_RECORDED_ELEMENTS
    with seeded(seed):
        for _ in range(calls):
            critic = Recorder(net, max_elements=budget)
            penalty_fn(critic, real.clone(), fake.clone())  # copies: one that changes them changes no later call's
            kept.append(list(critic.inputs))
            budget -= sum(x.numel() for x in critic.inputs)
    return kept


# ---------------------------------------------------------------------------------------------
# The grading run: WGAN-GP on 2-D points with the student's functions
# ---------------------------------------------------------------------------------------------


def mlp(n_in: int, n_out: int, width: int = 64) -> nn.Sequential:
    """Linear(n_in, width), ReLU, Linear(width, width), ReLU, Linear(width, n_out): the grading run's
    generator (2 -> 2) and critic (2 -> 1). No BatchNorm: the penalty is taken per sample."""
    return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, n_out))


class _Problem(Exception):
    def __init__(self, code: str, **facts: Any) -> None:
        super().__init__(code)
        self.code, self.facts = code, facts


def _loss(value: Any, name: str, step: int) -> Tensor:
    """A student's loss as a 0-dim tensor that carries a graph; a problem otherwise."""
    if not isinstance(value, Tensor):
        raise _Problem("not_tensor", function=name, type=type(value).__name__, step=step)
    if value.numel() != 1:
        raise _Problem("not_scalar", function=name, shape=list(value.shape), step=step)
    if not torch.isfinite(value).all():
        raise _Problem("not_finite", function=name, value=float(value.detach().reshape(())), step=step)
    return value.reshape(())


def train_wgan_gp(gradient_penalty: Any, critic_loss: Any, generator_loss: Any, points: Tensor, *, seed: int,
                  steps: int = 300, n_critic: int = 5, warmup: int = 200, every: int = 50, batch_size: int = 64,
                  lr_g: float = 1e-4, lr_c: float = 1e-3, betas: tuple[float, float] = (0.0, 0.9),
                  lambda_gp: float = 10.0, z_dim: int = 2) -> dict:
    """Train a WGAN-GP on `points` (M, 2) with the student's functions for `steps` generator steps.

    G = mlp(z_dim, 2) and the critic C = mlp(2, 1), built with torch's CPU generator seeded with
    `seed`; Adam(lr_g, betas) and Adam(lr_c, betas). First `warmup` critic steps on the untrained
    G, then per generator step `n_critic` critic steps and one generator step. A critic step: a
    batch x of `points`, fake = G(z).detach(), loss critic_loss(C(x), C(fake)) +
    gradient_penalty(C, x, fake, lambda_gp). A generator step: generator_loss(C(G(z))). Batches
    and noise come from torch's generator seeded with `seed` (the student's functions draw from it
    too); one CPU thread, so a run repeats bit for bit. The global RNG is left as it was.

    Returns {"checkpoints": [0, every, ..., steps] (0: after the warm-up), "generator" and
    "critic": [state_dict per checkpoint], "seconds": float, "problem": None or {"code", **facts}
    (codes: not_tensor (function, type, step), not_scalar (function, shape, step), not_finite
    (function, value, step), no_graph (function, step): a loss that backward cannot use,
    critic_input (shape, batch, step): the penalty called the critic on more than
    CRITIC_POINTS_PER_SAMPLE points per point of the batch, which stops the run at once). Step
    -k: the k-th warm-up critic step. Exceptions of the student's functions propagate.
    """
    from reference.cpu import threads_for_run

    start = time.perf_counter()
    result: dict[str, Any] = {"checkpoints": [], "generator": [], "critic": [], "seconds": 0.0, "problem": None}
    with seeded(seed), threads_for_run(1):
        G, C = mlp(z_dim, 2), mlp(2, 1)
        opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas, foreach=True)
        opt_c = torch.optim.Adam(C.parameters(), lr=lr_c, betas=betas, foreach=True)
        points = points.detach().float()

        def snapshot(step: int) -> None:
            result["checkpoints"].append(step)
            result["generator"].append({k: v.detach().clone() for k, v in G.state_dict().items()})
            result["critic"].append({k: v.detach().clone() for k, v in C.state_dict().items()})

        def critic_step(step: int) -> None:
            x = points[torch.randint(0, len(points), (batch_size,))]
            with torch.no_grad():
                fake = G(torch.randn(batch_size, z_dim))
            loss = _loss(critic_loss(C(x), C(fake)), "critic_loss", step)
            limit = CRITIC_POINTS_PER_SAMPLE * x.numel()

            def scored(module: nn.Module, args: tuple) -> None:  # a forward pre-hook on C, while the penalty runs
                if args and isinstance(args[0], Tensor) and args[0].numel() > limit:
                    raise _Problem("critic_input", shape=list(args[0].shape), batch=batch_size, step=step)

            hook = C.register_forward_pre_hook(scored)
            try:
                value = gradient_penalty(C, x, fake, lambda_gp)
            finally:
                hook.remove()
            penalty = _loss(value, "gradient_penalty", step)
            total = loss + penalty
            if not total.requires_grad:
                raise _Problem("no_graph", function="critic_loss", step=step)
            opt_c.zero_grad(set_to_none=True)
            total.backward()
            opt_c.step()

        try:
            for k in range(1, warmup + 1):
                critic_step(-k)
            snapshot(0)
            for step in range(1, steps + 1):
                for _ in range(n_critic):
                    critic_step(step)
                loss = _loss(generator_loss(C(G(torch.randn(batch_size, z_dim)))), "generator_loss", step)
                if not loss.requires_grad:
                    raise _Problem("no_graph", function="generator_loss", step=step)
                opt_g.zero_grad(set_to_none=True)
                loss.backward()
                opt_g.step()
                if step % every == 0 or step == steps:
                    snapshot(step)
        except _Problem as problem:
            result["problem"] = {"code": problem.code, **problem.facts}
    result["seconds"] = time.perf_counter() - start
    return result
