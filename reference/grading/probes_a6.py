"""Probes of a6_conditional_gan: what the student's G(z, y), D(x, y) and training step do, measured next to them.

`tests/autograders/test_a6_conditional_gan.py` runs these with `submission.run(...)`: in the
sandboxed worker when a submission is graded, in the student's kernel for the visible checks.
Like every probe (see `reference.grading.probes`) they measure and return plain data and never
judge: the classes' outputs, a trace of the layers that ran, what G and D were called with during
one training step, and G's samples during a short seeded training run. Thresholds, the classifier
that reads the samples, and every message stay in the check module, on the trusted side.

An exception of the student's forward is caught and returned as `error_info` with the layer that
was running (`trace`, `outputs`), and one of the student's step with the calls of G and D recorded
until it raised (`step_calls`), so that the check can name it; the training probes
(`gradient_sources`, `train_and_sample`) let the student's exceptions propagate, and the check words them.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from reference.grading.probes import describe, error_info, record_calls
from reference.grading.probes_a4 import make

__all__ = ["Training", "confident_step_losses", "continue_training", "crossed_gradients", "error_info", "forward_names", "gradient_sources",
           "initial_logits", "make", "module_origins", "outputs", "stale_gradients", "stand_in_discriminator", "stand_in_generator", "start_training", "step_calls", "step_directions", "trace",
           "train_and_sample"]

REPR_LIMIT = 160  # characters of a layer's extra_repr kept
MAX_INPUTS = 4  # tensors of one call of G or D kept by `step_calls`


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _extra_repr(mod: nn.Module) -> str:
    try:
        return str(mod.extra_repr())[:REPR_LIMIT]
    except Exception:  # noqa: BLE001 - a custom module's own repr failing is no fault of its forward
        return ""


from torch.nn.utils import parametrize as _parametrize

_PARAMETRIZATION_TYPES = (_parametrize.ParametrizationList,)


def trace(model: Any, inputs: list, namespace: dict | None = None) -> dict:
    """model(*inputs) in eval mode under no_grad, every leaf module's call recorded (registered in `model` or not).

    inputs: e.g. [z (N, nz), y (N,)] for G, [x (N, 1, 28, 28), y (N,)] for D.
    Returns {"output": the output (float32) if a floating tensor else None, "output_type":
    describe(output) or None, "calls": [{"name": registered name in model or None, "type": class
    name, "repr": extra_repr, "in": input shape, "out": output shape or None (did not finish),
    "in_channels", "out_channels", "in_features", "num_embeddings" (None where the layer has none),
    "weights": parameter elements}] in the order the leaves ran, "failed": index in calls of the
    leaf that raised or None, "error": error_info or None}. The model's mode is restored after.
    """
    names = {id(m): name for name, m in model.named_modules()} if isinstance(model, nn.Module) else {}

    def layer(mod: nn.Module) -> dict | None:
        # a layer whose only child is its `parametrizations` (torch.nn.utils.parametrizations.spectral_norm) is a
        # leaf; the parametrizations themselves, called on the weight, are no layer of the network
        if any(name != "parametrizations" for name, _ in mod.named_children()) or isinstance(mod, _PARAMETRIZATION_TYPES):
            return None
        if ".parametrizations." in f".{names.get(id(mod), '')}.":
            return None
        kind = type(mod).__bases__[0] if _parametrize.is_parametrized(mod) else type(mod)  # ParametrizedConv2d: a Conv2d
        return {
            "name": names.get(id(mod)),
            "type": kind.__name__,
            "repr": _extra_repr(mod),
            "in_channels": _int(getattr(mod, "in_channels", None)),
            "out_channels": _int(getattr(mod, "out_channels", None)),
            "in_features": _int(getattr(mod, "in_features", None)),
            "num_embeddings": _int(getattr(mod, "num_embeddings", None)),
            "weights": sum(p.numel() for p in mod.parameters(recurse=False)),
        }

    def evaluated() -> Any:
        if isinstance(model, nn.Module):
            model.eval()
        return model(*inputs)

    was_training = model.training if isinstance(model, nn.Module) else None
    try:
        run = record_calls(evaluated, layer, namespace)
    finally:
        if was_training is not None:
            model.train(was_training)
    out = run["out"]
    return {
        "output": out.detach().float() if isinstance(out, Tensor) and out.is_floating_point() else None,
        "output_type": None if run["error"] is not None else describe(out),
        "calls": run["calls"],
        "failed": run["failed"],
        "error": run["error"],
    }


def outputs(model: Any, cases: list, namespace: dict | None = None, *, train: bool = False, scale: float = 1.0,
            jitter: float = 0.0, seed: int = 0, rng_seed: int | None = None) -> list[dict]:
    """model(*case) for each case (a list of tensors) under no_grad, in eval mode unless `train`; with `rng_seed`,
    each call starts from torch's CPU RNG seeded with it (in a fork: the notebook's RNG goes on as it was), so
    that randomness in forward (F.dropout, instance noise) draws the same numbers in every call.

    scale: every parameter of a copy of the model multiplied by it first; jitter: N(0, jitter^2)
    added to every parameter of a copy (seeded with `seed`), so that a path that starts at zero
    (an embedding initialised to 0) is measured too. The model itself is left as it was.
    Returns one {"output": floating output (float32) or None, "output_type": describe(output) or
    None, "error": error_info or None} per case.
    """
    if isinstance(model, nn.Module) and (scale != 1.0 or jitter):
        model = copy.deepcopy(model)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(scale)
                if jitter:
                    p.add_(torch.randn(p.shape, generator=gen).to(p.dtype) * jitter)
    was_training = model.training if isinstance(model, nn.Module) else None
    results = []
    try:
        if isinstance(model, nn.Module):
            model.train(train)
        for case in cases:
            try:
                with torch.no_grad(), torch.random.fork_rng(devices=[], enabled=rng_seed is not None):
                    if rng_seed is not None:
                        torch.manual_seed(rng_seed)
                    out = model(*case)
            except Exception as err:  # noqa: BLE001 - measured, not judged
                results.append({"output": None, "output_type": None, "error": error_info(err, namespace)})
                continue
            floating = isinstance(out, Tensor) and out.is_floating_point()
            results.append({"output": out.detach().float() if floating else None, "output_type": describe(out), "error": None})
    finally:
        if was_training is not None:
            model.train(was_training)
    return results


def _arguments(names: Any, default: tuple[str, str]) -> inspect.Signature:
    """The signature (first, second) of a stand-in's forward, its two parameters named as the student's G's or D's
    forward names them (`names`, from `forward_names`), so that a step that calls the student's networks by keyword,
    G(noise=z, labels=y) for a forward(self, noise, labels), calls the stand-ins alike; `default` where `names` is not
    two different identifiers."""
    ok = (isinstance(names, (list, tuple)) and len(names) == 2 and all(isinstance(n, str) and n.isidentifier() for n in names)
          and names[0] != names[1])
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([inspect.Parameter(n, kind) for n in (names if ok else default)])


def forward_names(model: Any) -> list[str] | None:
    """The names of the first two parameters of model.forward that a call can pass by position or keyword
    (forward(self, noise, labels) -> ["noise", "labels"]); None when it has fewer (or takes *args first)."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError, AttributeError):
        return None
    named = []
    for param in params:
        if param.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            break
        named.append(param.name)
    return named[:2] if len(named) >= 2 else None


LABEL_MARK = 1e-3  # the stand-in G adds (label + 1) times this to one corner pixel of each image


def _label_code(y: Any, n: int) -> Tensor | None:
    """The labels y stands for, as floats (n,): integers (n,) or (n, 1), or one-hot rows (n, K) (their argmax); None
    for anything else."""
    if not isinstance(y, Tensor) or y.dim() < 1 or y.shape[0] != n or y.numel() == 0:
        return None
    values = y.detach().double()
    if not bool(torch.isfinite(values).all()):
        return None
    if values.dim() == 1 or values.shape[1:] == (1,):
        return values.reshape(n).round()
    if values.dim() == 2 and values.shape[1] > 1:
        return values.argmax(1).double()
    return None


class _StandInGenerator(nn.Module):
    """G(z, y) for grading a training step alone: the given DCGAN generator on z; y only marks one corner pixel of
    each image (LABEL_MARK), so that G(z, y1) and G(z, y2) for one z are other images where the labels differ (a step
    that reuses z for G's step with new labels is then judged by the labels of each call). Its two arguments take the
    names of the student's G's forward (`signature`), by position or keyword."""

    def __init__(self, nz: int, ngf: int, names: Any = None) -> None:
        from reference.models.dcgan import Generator, weights_init

        super().__init__()
        self.main = Generator(nz, ngf, channels=1, size=28).main
        self.apply(weights_init)
        self.signature = _arguments(names, ("z", "y"))

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """z (N, nz), y (N,) (its labels mark one corner pixel) -> images (N, 1, 28, 28) in [-1, 1]."""
        z, y = self.signature.bind(*args, **kwargs).arguments.values()
        out = self.main(z)
        code = _label_code(y, out.shape[0]) if isinstance(out, Tensor) and out.dim() == 4 else None
        if code is None:
            return out
        mark = torch.zeros_like(out)
        mark[:, :, 0, 0] = LABEL_MARK * (code.to(device=out.device, dtype=out.dtype)[:, None] + 1)
        return out + mark


class _StandInDiscriminator(nn.Module):
    """D(x, y) for grading a training step alone: the given DCGAN discriminator on x; y is taken and not used.
    It returns what the student's D returns, so that a step written for that D runs: logits (N,), or (N, 1)
    with `column`, or probabilities (a final sigmoid) with `probabilities`."""

    def __init__(self, ndf: int, column: bool = False, probabilities: bool = False, scale: float = 1.0, names: Any = None) -> None:
        from reference.models.dcgan import Discriminator, weights_init

        super().__init__()
        self.main = Discriminator(ndf, channels=1, size=28).main
        self.apply(weights_init)
        self.column, self.probabilities, self.scale = column, probabilities, scale
        self.signature = _arguments(names, ("x", "y"))  # the student's D's names, as for the stand-in G

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """x (N, 1, 28, 28), y (N,) (not used) -> logits (N,) times `scale` (or (N, 1), or probabilities)."""
        x, _ = self.signature.bind(*args, **kwargs).arguments.values()
        out = self.main(x).view(-1) * self.scale
        out = torch.sigmoid(out) if self.probabilities else out
        return out.unsqueeze(1) if self.column else out


def stand_in_generator(nz: int, ngf: int, seed: int = 0, names: Any = None) -> nn.Module:
    """A G(z, y) of the grader's own, built with `seed`, for checks of a training step that must not depend
    on the student's networks: the given DCGAN generator, which takes y and only marks a pixel with it (what a step passes
    to G is recorded by `step_calls`; what G makes of it does not matter there); names: its arguments' names,
    the student's G's (`forward_names`)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _StandInGenerator(nz, ngf, names=names)


def stand_in_discriminator(ndf: int, seed: int = 0, column: bool = False, probabilities: bool = False,
                           names: Any = None) -> nn.Module:
    """A D(x, y) of the grader's own, built with `seed`: the given DCGAN discriminator, taking y and ignoring it,
    returning its scores in the student's D's form (see `_StandInDiscriminator`), its arguments named as the student's
    D's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _StandInDiscriminator(ndf, column=column, probabilities=probabilities, names=names)


CONFIDENT = 1000.0  # the stand-in D's logits times this: hundreds, as a D that wins makes them


def confident_step_losses(step: Any, real: Tensor, labels: Tensor, *, nz: int, ngf: int, ndf: int, num_classes: int = 10,
                          column: bool = False, probabilities: bool = False, seed: int = 0, g_names: Any = None,
                          d_names: Any = None) -> dict:
    """What one call of the student's step returns when D is confident: the stand-in G and D (D's logits times
    CONFIDENT, in the student's D's form), fresh Adam optimizers, torch's generator seeded. Losses computed on the
    logits (softplus, BCE with logits) stay finite there; log(sigmoid(x)) written by hand is log(0) = -inf in
    float32 once a logit is below about -88 (log(1 - sigmoid(x)) above about 17).

    Returns {"losses": the step's returned numbers as floats (each None if not a number; a tensor or array of a few
    numbers gives each), or None when it returned none; "finite": whether every weight of G and D is still finite
    after the step (a loss that is inf or nan makes them nan, however the step returns it); "error": error_info of
    what it raised, else None}."""
    G = stand_in_generator(nz, ngf, seed, names=g_names)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        D = _StandInDiscriminator(ndf, column=column, probabilities=probabilities, scale=CONFIDENT, names=d_names)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999)), torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            returned = step(G, D, opt_g, opt_d, real.clone(), labels.clone(), nz, num_classes)
    except Exception as err:  # noqa: BLE001 - reported, not raised: the other checks tell a step that raises
        return {"losses": None, "finite": True, "error": error_info(err)}
    finite = all(bool(torch.isfinite(q.detach()).all()) for net in (G, D) for q in net.parameters())

    import numpy as np

    def number(value: Any) -> float | None:
        """A loss as a float: a Python or numpy number, or a tensor or array of one floating-point element."""
        if isinstance(value, Tensor):
            return float(value.detach()) if value.numel() == 1 and value.is_floating_point() else None
        if isinstance(value, np.ndarray):
            return float(value.reshape(-1)[0]) if value.size == 1 and np.issubdtype(value.dtype, np.floating) else None
        return float(value) if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) else None

    if isinstance(returned, dict):  # {"loss_d": ..., "loss_g": ...}
        returned = list(returned.values())
    several = returned.numel() if isinstance(returned, Tensor) else returned.size if isinstance(returned, np.ndarray) else 1
    if several > 1:  # torch.stack([loss_d, loss_g]): each number
        returned = list(returned.reshape(-1)[:4])
    values = returned if isinstance(returned, (tuple, list)) else [returned] if returned is not None else None
    return {"losses": None if values is None else [number(v) for v in values[:4]], "finite": finite, "error": None}


def module_origins(model: Any) -> list[list[str]]:
    """[[registered name ("" for the model itself), class module, class qualname]] for the class of
    `model` and of every submodule, and for each class they derive from, so that a check can tell which
    library's classes a network is built from (also by subclassing)."""
    if not isinstance(model, nn.Module):
        return []
    return [[name, cls.__module__, cls.__qualname__] for name, m in model.named_modules() for cls in type(m).__mro__]


def _in_order(forward: Any, args: tuple, kwargs: dict, signature: inspect.Signature | None = None) -> list:
    """A call's arguments in the order of `forward`'s parameters (or of `signature`, a stand-in's): G(y=y, z=z) as
    G(z, y); as given when they do not bind to its signature."""
    if not kwargs:
        return list(args)
    try:
        bound = (signature or inspect.signature(forward)).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return [*args, *kwargs.values()]
    values = []
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        values.extend(value if kind is inspect.Parameter.VAR_POSITIONAL else
                      value.values() if kind is inspect.Parameter.VAR_KEYWORD else [value])
    return values


class _Recording:
    """`model.forward` replaced on the instance by one that records each call (see `_recorder`); remove() puts it back."""

    def __init__(self, model: nn.Module, calls: list[dict], keep_output: bool) -> None:
        self.model, original = model, model.forward
        signature = model.signature if isinstance(model, (_StandInGenerator, _StandInDiscriminator)) else None

        def forward(*args: Any, **kwargs: Any) -> Any:
            tensors = [a for a in _in_order(original, args, kwargs, signature) if isinstance(a, Tensor)][:MAX_INPUTS]
            call = {"inputs": [t.detach().clone() for t in tensors], "tracked": [bool(t.requires_grad) for t in tensors],
                    "output": None, "finished": False, "used": False}
            calls.append(call)
            output = original(*args, **kwargs)
            call["finished"] = True
            if isinstance(output, Tensor) and output.requires_grad:  # a backward() through it marks it used (a loss's term)
                output.register_hook(functools.partial(_mark_used, call))
            if keep_output and isinstance(output, Tensor):
                call["output"] = output.detach().float().clone()
            return output

        model.forward = forward

    def remove(self) -> None:
        self.model.__dict__.pop("forward", None)


def _mark_used(call: dict, grad: Tensor) -> None:
    """A recorded call's output hook: a gradient other than zero reached the output, so it is a term of a loss that
    went backward (not one multiplied by 0 to look used)."""
    if not call["used"] and isinstance(grad, Tensor) and bool(grad.ne(0).any()):
        call["used"] = True


def _recorder(model: nn.Module, calls: list[dict], keep_output: bool) -> list:
    """Record every call of `model` (G(z, y), and G.forward(z, y) called directly, which skips a module's
    hooks) by appending {"inputs", "tracked", "output", "finished"}: inputs in the order of forward's
    parameters (keyword arguments too); tracked: for each input, whether it requires grad (G's images not
    detached); finished: the call returned (False: it raised); used: a backward() (or torch.autograd.grad) brought
    its output a gradient other than zero, so it is a term of a loss that trains a network (False for a call made for
    a log, under torch.no_grad() or detached, or multiplied by 0). Returns [a handle whose remove() stops it]."""
    return [_Recording(model, calls, keep_output)]


def step_calls(step: Any, G: nn.Module, D: nn.Module, real: Tensor, labels: Tensor, *, nz: int, num_classes: int = 10,
               seed: int = 0, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), steps: int = 1,
               namespace: dict | None = None) -> dict:
    """`steps` calls of the student's step(G, D, opt_g, opt_d, real, labels, nz, num_classes) on the same batch,
    recording G's and D's calls.

    real: float (B, 1, 28, 28) in [-1, 1]; labels: int64 (B,). opt_g, opt_d: fresh Adam(lr, betas)
    over G's and D's parameters, kept from call to call. Runs on torch's CPU generator seeded with
    `seed` once, before the first call (restored after), so that each call draws anew.
    Returns {"g_calls": [{"inputs": [tensors passed to G, in order], "tracked": [whether each
    requires grad], "output": G's output (float32) or None, "finished": the call returned, "used": a backward()
    reached its output}], "d_calls": [{"inputs": [...], "tracked": [...], "output": None, "finished": ...,
    "used": ...}] of the first
    call, in the order the calls happened; "later_g_calls": [G's calls of each later call of the
    step]; "returned": describe(the first call's value) or None; "error": error_info of the student's
    exception (named in `namespace`) or None}: a step that raises stops there, and the calls recorded
    so far come back with the error, so that the check can say what the failing call was given.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    rounds: list[tuple[list[dict], list[dict]]] = []
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    result: dict[str, Any] = {"g_calls": [], "d_calls": [], "later_g_calls": [], "returned": None, "error": None}
    G.train()
    D.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k in range(steps):
            g_calls: list[dict] = []
            d_calls: list[dict] = []
            rounds.append((g_calls, d_calls))
            hooks = _recorder(G, g_calls, keep_output=True) + _recorder(D, d_calls, keep_output=False)
            try:
                value = step(G, D, opt_g, opt_d, real.clone(), labels.clone(), nz, num_classes)
            except Exception as err:  # noqa: BLE001 - the student's step failed: measured (with its calls so far), not judged
                result["error"] = error_info(err, namespace)
                break
            finally:
                for hook in hooks:
                    hook.remove()
            if k == 0:
                result["returned"] = describe(value)
    result["g_calls"], result["d_calls"] = rounds[0]
    result["later_g_calls"] = [g for g, _ in rounds[1:]]
    return result


def step_directions(step: Any, G: nn.Module, D: nn.Module, real: Tensor, labels: Tensor, *, nz: int, num_classes: int = 10,
                    seed: int = 0, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)) -> dict:
    """Which way one call of the student's step moves D and G (fresh Adam(lr, betas), torch's generator seeded).

    Returns {"d_gain": the change of D's margin mean D(real, labels) - mean D(fake, y_fake) over the step, fake =
    the G before the step on the noise and labels of G's first call; "g_gain": the change of the D after the step's
    mean score of G(z, y) over the step, z and y those of G's last call (the fakes G's loss was taken on)}, each
    None when it cannot be measured (no G call, an error: the other checks say why). Training mode throughout,
    on copies: the networks passed in are left as the step leaves them."""
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    calls: list[tuple[Tensor, Tensor]] = []

    def record(module: nn.Module, args: tuple, kwargs: dict) -> None:
        signature = module.signature if isinstance(module, _StandInGenerator) else None
        args = tuple(_in_order(module.forward, args, kwargs, signature))  # G(noise=z, labels=y) too
        if len(args) >= 2 and isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
            calls.append((args[0].detach().clone(), args[1].detach().clone()))

    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    G.train()
    D.train()
    hook = G.register_forward_pre_hook(record, with_kwargs=True)
    result: dict[str, Any] = {"d_gain": None, "g_gain": None}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            step(G, D, opt_g, opt_d, real.clone(), labels.clone(), nz, num_classes)
    except Exception:  # noqa: BLE001 - the other checks tell a step that raises
        return result
    finally:
        hook.remove()
    if not calls:
        return result

    def score(net: nn.Module, images: Tensor, y: Tensor) -> float:
        return float(copy.deepcopy(net).train()(images, y).double().mean())

    try:
        with torch.no_grad():
            z, y_fake = calls[0]
            fake = copy.deepcopy(G0).train()(z, y_fake)
            result["d_gain"] = ((score(D, real, labels) - score(D, fake, y_fake))
                                - (score(D0, real, labels) - score(D0, fake, y_fake)))
            z, y_fake = calls[-1]
            result["g_gain"] = score(D, copy.deepcopy(G).train()(z, y_fake), y_fake) - score(D, copy.deepcopy(G0).train()(z, y_fake), y_fake)
    except Exception:  # noqa: BLE001 - networks the step left unusable: the other checks tell it
        return {"d_gain": None, "g_gain": None}
    return result


def initial_logits(D: Any, images: Tensor, labels: Tensor) -> dict:
    """D(images, labels) as built, in training mode (as in the first training step), under no_grad, on a
    copy (its BatchNorm statistics stay as they were); the same with the weights of every nn.Embedding in D
    set to zero; and D's registered nn.Embedding layers.

    Returns {"logits": the output (float32) or None, "without_embeddings": the output with the
    embeddings zeroed or None, "error": error_info or None, "embeddings": [[registered name, rows,
    dimension, weight std]]}.
    """
    result: dict[str, Any] = {"logits": None, "without_embeddings": None, "error": None, "embeddings": []}
    if not isinstance(D, nn.Module):
        return result
    result["embeddings"] = [[name, m.num_embeddings, m.embedding_dim, float(m.weight.detach().double().std())]
                            for name, m in D.named_modules() if isinstance(m, nn.Embedding) and m.weight.numel() > 1]
    for key, zeroed in (("logits", False), ("without_embeddings", True)):
        model = copy.deepcopy(D)
        model.train()
        try:
            with torch.no_grad():
                if zeroed:
                    for m in model.modules():
                        if isinstance(m, nn.Embedding):
                            m.weight.zero_()
                out = model(images, labels)
        except Exception as err:  # noqa: BLE001 - measured, not judged
            result["error"] = error_info(err)
            return result
        if isinstance(out, Tensor) and out.is_floating_point():
            result[key] = out.detach().float()
    return result


def gradient_sources(step: Any, G: nn.Module, D: nn.Module, real: Tensor, labels: Tensor, *, nz: int, num_classes: int = 10,
                     seed: int = 0, calls: int = 2) -> dict | None:
    """Which backward() passes each optimizer step of the student's train_step applies: `calls` calls of the step with
    fresh SGD optimizers (lr 1e-3), torch's generator seeded.

    A hook on every weight of G and D records what each backward pass (autograd's graph task) adds to it, and a
    weight's ledger starts anew whenever its .grad is found cleared (None or zeros) as a pass arrives. After each
    step of an optimizer that holds G's or D's weights (opt_g, opt_d, or one the step builds itself), the passes a weight's .grad holds are the shortest run of its latest entries whose
    sum .grad is, up to a positive factor (clip_grad_norm_, a GradScaler's unscaling; clip_grad_value_ judged on the
    elements it left alone); .grad assigned from torch.autograd.grad is the latest entry alone. Decided by the gradients, not by how they were cleared, and with finite numbers only,
    so a step that checks for nan (anomaly mode, clip_grad_norm_(error_if_nonfinite=True), a GradScaler) is measured
    like any other, and whatever convention the losses follow (labels flipped, least squares with any targets).

    Returns {"stale": {"G", "D"}: a step of that network applied a pass of an earlier call (no zero_grad(), or D's
    cleared right after its step, so that G's backward() through D refills them), "crossed": {"G", "D"}: a step of
    that network applied, besides a pass of its own, a pass that the other network's step applied too in the same call
    ("one_pass": a pass both steps applied with no other pass of either: one backward() of both losses); (D's loss reaching
    G through a fake batch not detached, with G's gradients not cleared before G's backward(); G's step first, and D's
    not cleared before D's backward(); one backward() of both losses through a D that reached both networks' weights
    with either loss)}; None where autograd does not tell its passes apart. One backward() of both losses with D frozen
    for G's loss and the fake detached for D's is not crossed: the pass went back through D only where it reached one
    network's weights (an output of a layer of D called with its weights requiring grad on a batch carrying G's graph
    reaches both). The student's exceptions propagate."""
    task_id = getattr(torch._C, "_current_graph_task_id", None)
    if task_id is None:
        return None
    nets = {"G": G, "D": D}
    ledger: dict[int, list] = {}  # id(weight) -> [({(call, pass)}, what they added to .grad)], oldest first
    call = [0]
    steps: list[tuple[str, int, set]] = []  # (network, call, the passes its step applied)

    def holds(q: Tensor) -> frozenset:
        """The passes q.grad holds: the shortest run of the latest entries it is a positive multiple of the sum of,
        judged on every element, else on the elements below its largest magnitude (clip_grad_value_ and clamp_ set
        the others to exactly +-c)."""
        got = q.grad.detach().double().flatten()
        size = got.abs()
        below = size < size.max() * (1 - 1e-6)
        kept = ledger.get(id(q), [])
        for where in (slice(None), below if int(below.sum()) >= max(2, got.numel() // 10) else None):
            if where is None:
                break
            total = torch.zeros_like(got)
            for k in range(len(kept) - 1, -1, -1):
                total = total + kept[k][1].double().flatten()
                a, b = got[where], total[where]
                scale = float(a @ b) / max(float(b @ b), 1e-300)
                if scale > 0 and float((a - scale * b).norm()) <= 1e-4 * float(a.norm()):
                    return frozenset().union(*(sources for sources, _ in kept[k:]))
        return frozenset()  # .grad changed otherwise: nothing to tell

    def arrived(q: Tensor) -> Any:
        def hook(grad: Tensor) -> None:
            kept = ledger.setdefault(id(q), [])
            if q.grad is None or not bool(q.grad.any()):
                kept.clear()  # cleared since the last pass arrived
            else:  # what .grad holds now, as one entry: clipping or a GradScaler may have scaled it since
                kept[:] = [(holds(q), q.grad.detach().clone())]
            if bool(grad.any()):
                kept.append((frozenset({(call[0], int(task_id()))}), grad.detach().clone()))
        return hook

    def stepped(name: str) -> Any:
        def hook(_optimizer: Any, _args: Any, _kwargs: Any) -> None:
            applied: set = set()
            for q in nets[name].parameters():
                if q.grad is not None and bool(q.grad.any()):
                    applied |= holds(q)
            steps.append((name, call[0], applied))
        return hook

    # Which passes went back through an output of a layer of D, and which through one that was live both ways: the
    # layer's weights requiring grad while its input carried G's graph, so that the loss behind it reached both
    # networks' weights.
    # A pass that both steps apply is a correct simultaneous step when it went back through D only where one
    # network's weights were reached (D frozen for G's loss, the fake detached for D's): (loss_d + loss_g).backward().
    through_d: set = set()
    both_ways: set = set()
    g_weights = {id(q) for q in G.parameters()}

    def reaches_g(t: Tensor) -> bool:
        todo, seen = [t.grad_fn], set()
        while todo:
            fn = todo.pop()
            if fn is None or fn in seen:
                continue
            seen.add(fn)
            if id(getattr(fn, "variable", None)) in g_weights:
                return True
            todo.extend(next_fn for next_fn, _ in fn.next_functions)
        return False

    def went_back(both: bool) -> Any:
        def hook(grad: Tensor) -> None:
            if bool(grad.any()):
                source = (call[0], int(task_id()))
                through_d.add(source)
                if both:
                    both_ways.add(source)
        return hook

    d_layers = {id(layer) for layer in D.modules()}

    def layer_called(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        """A layer of D that holds weights (a convolution, BatchNorm, ...): hooked layer by layer rather than D as a
        whole, so that D.forward(x, y) called directly, which runs no hook of D's own, is seen too. A copy of D
        (copy.deepcopy copies the hooks too) is not D: its gradients reach no step."""
        if not torch.is_grad_enabled() or id(module) not in d_layers:
            return
        live = any(q.requires_grad for q in module.parameters(recurse=False))
        both = live and any(isinstance(a, Tensor) and a.requires_grad and reaches_g(a) for a in (*args, *kwargs.values()))
        for out in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(out, Tensor) and out.requires_grad:
                out.register_hook(went_back(both))

    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=1e-3), torch.optim.SGD(D.parameters(), lr=1e-3)
    G.train()
    D.train()
    handles = [q.register_hook(arrived(q)) for net in nets.values() for q in net.parameters() if q.requires_grad]
    # every optimizer's steps, the student's own too (built inside train_step, or one over both networks), each
    # counted as a step of the networks whose weights it holds
    weights_of = {name: {id(q) for q in net.parameters()} for name, net in nets.items()}
    on_step = {name: stepped(name) for name in nets}

    def any_step(optimizer: Any, args: Any, kwargs: Any) -> None:
        held = {id(q) for group in getattr(optimizer, "param_groups", []) for q in group.get("params", [])}
        for name in nets:
            if held & weights_of[name]:
                on_step[name](optimizer, args, kwargs)

    handles.append(register_optimizer_step_post_hook(any_step))
    handles += [layer.register_forward_hook(layer_called, with_kwargs=True)
                for layer in D.modules() if next(layer.parameters(recurse=False), None) is not None]
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for k in range(calls):
                call[0] = k
                step(G, D, opt_g, opt_d, real.clone(), labels.clone(), nz, num_classes)
    finally:
        for handle in handles:
            handle.remove()
    found = {"stale": {"G": False, "D": False}, "crossed": {"G": False, "D": False}, "one_pass": False}
    first: dict[tuple[int, int], tuple[str, set]] = {}  # a pass -> the network whose step applied it first, and all that step applied
    for name, k, applied in steps:
        found["stale"][name] |= any(source[0] < k for source in applied)
        for source in sorted(applied):
            if source[0] != k:
                continue
            other, before = first.setdefault(source, (name, applied))
            if other == name:
                continue
            if source in through_d and source not in both_ways:
                continue  # one pass of both losses, each reaching its own network's weights only
            # the network whose step applied a pass of its own beside the shared one took the other's loss; where
            # neither did, one backward() fed both steps and either may have (one_pass)
            blamed = [net for net, done in ((other, before), (name, applied)) if any(p[0] == k and p != source for p in done)]
            for net in blamed:
                found["crossed"][net] = True
            found["one_pass"] |= not blamed
    return found


def stale_gradients(step: Any, G: nn.Module, D: nn.Module, real: Tensor, labels: Tensor, *, nz: int, num_classes: int = 10,
                    seed: int = 0) -> dict:
    """Two calls of the student's step (`gradient_sources`): does an optimizer's step apply gradients left over from
    the call before? Returns {"G": bool, "D": bool} (both False where autograd does not tell its passes apart)."""
    found = gradient_sources(step, G, D, real, labels, nz=nz, num_classes=num_classes, seed=seed)
    return found["stale"] if found else {"G": False, "D": False}


def crossed_gradients(step: Any, real: Tensor, labels: Tensor, *, nz: int, ngf: int, ndf: int, num_classes: int = 10,
                      column: bool = False, probabilities: bool = False, seed: int = 0, g_names: Any = None,
                      d_names: Any = None) -> dict:
    """One call of the student's step on the stand-in G and D, D in the student's D's form (`gradient_sources`): does one
    player's step apply a backward() pass that the other player's step applied (G's step adding D's loss: lesson 08's
    forgotten .detach() with G's gradients not cleared in between; D's step adding G's loss)? Returns {"G": bool, "D":
    bool}: the network whose step applied the other's pass besides a pass of its own (both False where autograd does not
    tell passes apart), and "one_pass": True where one backward() fed both steps and carried one loss into the other
    network's weights (which network's loss cannot be told apart there)."""
    G = stand_in_generator(nz, ngf, seed, names=g_names)
    D = stand_in_discriminator(ndf, seed, column=column, probabilities=probabilities, names=d_names)
    found = gradient_sources(step, G, D, real, labels, nz=nz, num_classes=num_classes, seed=seed, calls=1)
    if not found:
        return {"G": False, "D": False}
    return {**found["crossed"], **({"one_pass": True} if found["one_pass"] else {})}

class _Problem(Exception):
    def __init__(self, code: str, **facts: Any) -> None:
        super().__init__(code)
        self.code, self.facts = code, facts


def _samples(G: nn.Module, z: Tensor, y: Tensor, step: int) -> Tensor:
    """G(z, y) in eval mode as uint8 (n, 1, 28, 28): [-1, 1] mapped to [0, 255]."""
    was_training = G.training
    G.eval()
    try:
        with torch.no_grad():
            out = G(z, y)
    finally:
        G.train(was_training)
    if not isinstance(out, Tensor) or tuple(out.shape) != (len(z), 1, 28, 28) or not out.is_floating_point():
        raise _Problem("generator_output", output=describe(out), batch=len(z), step=step)
    out = out.detach().float()
    if not torch.isfinite(out).all():
        raise _Problem("samples_not_finite", step=step)
    return ((out + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def _changed(params: list[Tensor], before: list[Tensor]) -> bool:
    return any(not torch.equal(p.detach(), b) for p, b in zip(params, before))


class Training:
    """One seeded run of the student's training step in progress, in the worker (see `start_training`).

    Between calls it keeps torch's CPU generator state, so a run made in several calls is the same,
    bit for bit, as one made in a single call (`train_and_sample`).
    """

    def __init__(self, step: Any, G: nn.Module, D: nn.Module, images: Tensor, labels: Tensor, z: Tensor, y: Tensor, *,
                 nz: int, num_classes: int, steps: int, seed: int, batch_size: int, lr: float, betas: tuple[float, float]) -> None:
        self.step_fn, self.G, self.D, self.images, self.labels, self.z, self.y = step, G, D, images, labels, z, y
        self.nz, self.num_classes, self.steps, self.batch_size = nz, num_classes, steps, batch_size
        self.step = 0
        self.first = _samples(G, z, y, 0)
        for role, model in (("generator", G), ("discriminator", D)):
            if not isinstance(model, nn.Module):
                raise _Problem(f"{role}_not_module", type=type(model).__name__)
            if not any(p.requires_grad for p in model.parameters()):
                raise _Problem(f"{role}_frozen", parameters=len(list(model.parameters())))
        self.params_g = [p for p in G.parameters() if p.requires_grad]
        self.params_d = [p for p in D.parameters() if p.requires_grad]
        self.first_g = [p.detach().clone() for p in self.params_g]
        self.first_d = [p.detach().clone() for p in self.params_d]
        # foreach: on the CPU the same arithmetic as Adam's default loop over the parameters, bit for bit,
        # with less Python per step (see reference/grading/learning.py)
        self.opt_g = torch.optim.Adam(self.params_g, lr=lr, betas=betas, foreach=True)
        self.opt_d = torch.optim.Adam(self.params_d, lr=lr, betas=betas, foreach=True)
        G.train()
        D.train()
        torch.manual_seed(seed)
        self.rng = torch.get_rng_state()

    def advance(self, to_step: int) -> Tensor:
        """Call the student's step up to step `to_step`; G(z, y)'s samples there. Runs inside the
        caller's fork_rng: the generator state is restored first and kept after."""
        from reference.data import to_model_range

        torch.set_rng_state(self.rng)
        for k in range(self.step + 1, to_step + 1):
            self.step = k
            idx = torch.randint(0, len(self.images), (self.batch_size,))
            self.step_fn(self.G, self.D, self.opt_g, self.opt_d, to_model_range(self.images[idx], "tanh"), self.labels[idx].clone(),
                         self.nz, self.num_classes)
            if k == min(self.steps, 5):  # a step that never updates a network cannot train it
                for role, params, first in (("generator", self.params_g, self.first_g), ("discriminator", self.params_d, self.first_d)):
                    if not _changed(params, first):
                        raise _Problem(f"{role}_unchanged", step=k)
        samples = _samples(self.G, self.z, self.y, to_step)
        self.rng = torch.get_rng_state()
        return samples


def start_training(
    step: Any,
    G: nn.Module,
    D: nn.Module,
    images: Tensor,
    labels: Tensor,
    z: Tensor,
    y: Tensor,
    *,
    nz: int,
    num_classes: int = 10,
    steps: int = 300,
    seed: int = 0,
    batch_size: int = 32,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.5, 0.999),
) -> dict:
    """Set up a seeded run of the student's step (see `train_and_sample`), moved on by `continue_training`.

    steps: the run's length (the step that never updates a network is found at step min(steps, 5)).
    Returns {"run": the `Training` (a handle across the proxy), "samples": G(z, y) before training,
    "problem": None}, or {"run": None, "samples": None, "problem": {"code", **facts}}.
    """
    from reference.cpu import cpu_training

    good = (isinstance(images, Tensor) and images.dtype == torch.uint8 and images.dim() == 4 and len(images) > 0
            and isinstance(labels, Tensor) and labels.shape == images.shape[:1])
    if not good:
        return {"run": None, "samples": None, "problem": {"code": "images"}}
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    with cpu_training("cpu"), torch.random.fork_rng(devices=[]):
        try:
            run = Training(step, G, D, images, labels, z, y, nz=nz, num_classes=num_classes, steps=steps, seed=seed,
                           batch_size=batch_size, lr=lr, betas=betas)
        except _Problem as problem:
            return {"run": None, "samples": None, "problem": {"code": problem.code, **problem.facts}}
    return {"run": run, "samples": run.first, "problem": None}


def continue_training(run: Training, to_step: int) -> dict:
    """Go on with a run from `start_training` to step `to_step`: {"step": to_step, "samples": G(z, y)
    there (uint8), "seconds": float, "problem": None}, or with "problem" (and "samples": None)."""
    from reference.cpu import cpu_training

    start = time.perf_counter()
    result: dict[str, Any] = {"step": to_step, "samples": None, "seconds": 0.0, "problem": None}
    if not isinstance(run, Training):
        result["problem"] = {"code": "run"}
        return result
    if not isinstance(to_step, int) or not run.step < to_step <= run.steps:
        raise ValueError(f"to_step must be after the run's step {run.step} and at most {run.steps}, got {to_step!r}")
    with cpu_training("cpu"), torch.random.fork_rng(devices=[]):
        try:
            result["samples"] = run.advance(to_step)
        except _Problem as problem:
            result["problem"] = {"code": problem.code, **problem.facts}
    seconds = time.perf_counter() - start
    result["seconds"] = seconds if math.isfinite(seconds) else 0.0
    return result


def train_and_sample(
    step: Any,
    G: nn.Module,
    D: nn.Module,
    images: Tensor,
    labels: Tensor,
    z: Tensor,
    y: Tensor,
    *,
    nz: int,
    num_classes: int = 10,
    steps: int = 300,
    every: int = 50,
    seed: int = 0,
    batch_size: int = 32,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.5, 0.999),
) -> dict:
    """Train G and D with the student's step for `steps` seeded steps; G(z, y) before and every `every` steps.

    images: uint8 (N, 1, 28, 28), labels: int64 (N,). Each step draws a batch of `batch_size`
    indices, scales those images to [-1, 1] and calls step(G, D, opt_g, opt_d, real, labels[idx],
    nz, num_classes), with opt_g, opt_d Adam(lr, betas) over each network's parameters that require
    grad. z (n, nz), y (n,): the noise and labels G draws its samples from (eval mode, uint8 as
    (x + 1) * 127.5) at step 0, every `every` steps and after the last. Runs on torch's CPU
    generator seeded with `seed`, with denormals flushed and the thread count of
    `reference.cpu.cpu_training`; the global RNG is left as it was. The same run as
    `start_training` then `continue_training` to each checkpoint, in one call.

    Returns {"checkpoints": [0, every, ..., steps], "samples": [uint8 tensors], "seconds": float,
    "problem": None}, or the keys so far with "problem": {"code", **facts}: generator_not_module,
    discriminator_not_module (type), generator_frozen, discriminator_frozen (parameters: none
    requiring grad), generator_output (output: describe(...), batch, step), samples_not_finite (step),
    generator_unchanged, discriminator_unchanged (step: after that many steps the parameters are
    still the initial ones: the step never updates that network), images (no uint8 (N, 1, 28, 28)
    images with as many int64 labels). The student's exceptions propagate.
    """
    from reference.grading.learning import checkpoint_steps

    start = time.perf_counter()
    if steps < 1 or every < 1:
        raise ValueError(f"steps and every must be >= 1, got {steps}, {every}")
    result: dict[str, Any] = {"checkpoints": [], "samples": [], "seconds": 0.0, "problem": None}
    begun = start_training(step, G, D, images, labels, z, y, nz=nz, num_classes=num_classes, steps=steps, seed=seed,
                           batch_size=batch_size, lr=lr, betas=betas)
    problem = begun["problem"]
    if problem is None:
        checkpoints, samples = [0], [begun["samples"]]
        for k in checkpoint_steps(steps, every):
            part = continue_training(begun["run"], k)
            if part["problem"] is not None:
                problem = part["problem"]
                break
            checkpoints.append(k)
            samples.append(part["samples"])
        if problem is None:
            result.update(checkpoints=checkpoints, samples=samples)
    result["problem"] = problem
    seconds = time.perf_counter() - start
    result["seconds"] = seconds if math.isfinite(seconds) else 0.0
    return result
