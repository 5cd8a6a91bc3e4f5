"""Measurements that checks run next to the student's objects (`submission.run(probe, ...)`).

A probe is a public, module-level function of this package: it runs in the sandboxed worker when
a submission is graded and in the student's kernel for the visible checks. It measures and
returns plain data (numbers, strings, lists, dicts, tensors); it never judges. Thresholds, expected
values and messages stay in the check modules, on the trusted side. Anything a probe returns may
have been forged by the student's code, so checks treat it as the student's answer, not as fact.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from reference.grading.checks import error_info  # noqa: F401 - the probes return it for an exception of the student's code

__all__ = ["build", "describe", "error_info", "final_operation", "first_shape", "forward", "grads_reach", "module_summary", "noise_reach", "ran_modules", "scaled_forward", "set_items", "unzeroed_scaled_forward", "value_and_grad"]


def describe(value: Any) -> dict:
    """{"type": "Tensor"|class name, "shape": [...]|None, "dtype": str|None} of any value."""
    if isinstance(value, torch.Tensor):
        return {"type": "Tensor", "shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch.")}
    return {"type": type(value).__name__, "shape": None, "dtype": None}


def set_items(value: Any, most: int = 16) -> list | None:
    """The strings of a set or frozenset of at most `most` strings, sorted (a set crosses the proxy only as a
    handle); else None."""
    if isinstance(value, (set, frozenset)) and len(value) <= most and all(isinstance(v, str) for v in value):
        return sorted(value)
    return None


def value_and_grad(fn: Any, *inputs: torch.Tensor) -> dict:
    """Call fn(*inputs) with each input requiring grad, as the output of a computation (a copy of a
    leaf), the way a loss receives D's logits in training: an in-place operation on an input
    (logits.squeeze_()) then works as it does there instead of raising; the gradients are with
    respect to the leaves.

    Returns {"result": describe(value), "value": the value detached (float64) when it is a tensor,
    "requires_grad": bool, "grads": [d(value.sum())/d(input) (float64) or None per input]}.
    """
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    value = fn(*[leaf.clone() for leaf in leaves])
    out: dict[str, Any] = {"result": describe(value), "value": None, "requires_grad": False, "grads": [None] * len(leaves)}
    if not isinstance(value, torch.Tensor):
        return out
    out["value"] = value.detach().to(torch.float64)
    out["requires_grad"] = bool(value.requires_grad)
    if value.requires_grad and value.is_floating_point():
        grads = torch.autograd.grad(value.sum(), leaves, allow_unused=True)
        out["grads"] = [None if g is None else g.detach().to(torch.float64) for g in grads]
    return out


def build(factory: Any, seed: int, *args: Any, **kwargs: Any) -> Any:
    """factory(*args, **kwargs) with torch's CPU generator seeded with `seed` (restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(*args, **kwargs)


def module_summary(obj: Any) -> dict:
    """{"is_module", "type", "training", "parameters": [[name, shape, requires_grad]], "modules": [[name, class name]]}."""
    if not isinstance(obj, nn.Module):
        return {"is_module": False, "type": type(obj).__name__, "training": None, "parameters": [], "modules": []}
    return {
        "is_module": True,
        "type": type(obj).__name__,
        "training": bool(obj.training),
        "parameters": [[name, list(p.shape), bool(p.requires_grad)] for name, p in obj.named_parameters()],
        "modules": [[name, type(m).__name__] for name, m in obj.named_modules()],
    }


def forward(model: Any, x: torch.Tensor, *, grad: bool = False, train: bool | None = None) -> Any:
    """model(x) (under no_grad unless `grad`), after model.train(train) when `train` is given."""
    if train is not None and isinstance(model, nn.Module):
        model.train(train)
    with torch.set_grad_enabled(grad):
        return model(x)


def ran_modules(model: nn.Module, x: torch.Tensor) -> list[list[str]]:
    """[[name, class name]] of the submodules of `model` that ran in model(x), in the order they first ran."""
    names = {id(m): name for name, m in model.named_modules() if name}
    ran: list[list[str]] = []
    seen: set[int] = set()

    def hook(module: nn.Module, _inputs: Any, _output: Any) -> None:
        if id(module) not in seen:
            seen.add(id(module))
            ran.append([names[id(module)], type(module).__name__])

    handles = [m.register_forward_hook(hook) for name, m in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return ran


def grads_reach(model: nn.Module, x: torch.Tensor, seed: int = 2) -> dict:
    """Backpropagate a seeded random projection of model(x).

    Returns {"output": describe(out), "output_requires_grad": bool, "parameters": [[name,
    "ok"|"none"|"nonfinite"]]} for the trainable parameters.
    """
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    for _, p in params:
        p.grad = None
    out = model(x)
    result = {"output": describe(out), "output_requires_grad": bool(isinstance(out, torch.Tensor) and out.requires_grad), "parameters": []}
    if not result["output_requires_grad"]:
        result["parameters"] = [[name, "none"] for name, _ in params]
        return result
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    (out * weights).sum().backward()
    for name, p in params:
        state = "none" if p.grad is None else ("ok" if torch.isfinite(p.grad).all() else "nonfinite")
        result["parameters"].append([name, state])
    return result


RANK_PROJECTIONS = 8  # random projections of a generator's output whose gradients to z measure how many ways z acts


def noise_reach(model: nn.Module, z: torch.Tensor, *others: Any, seed: int = 3) -> dict:
    """How a generator's output depends on its noise: backpropagate a seeded random projection of model(z, *others)
    (a conditional G's labels in `others`) to z. All-zero parameters are set to seeded N(0, 0.02) values for the
    call and put back after it (a last layer initialised at zero passes no gradient until training moves it, as in
    `unzeroed_scaled_forward`); the parameters' .grad is untouched.

    Returns {"reaches": whether the output's graph reaches z (None when the output has no graph at all, a detached
    or no_grad forward, or the model raised: the other checks tell those), "dims": [the largest |d projection /
    d z[i, j]| over the batch, for each dimension j of z] when it does, else None, "rank": how many independent
    directions of z move one sample's output, at most RANK_PROJECTIONS (the rank of that many projections'
    gradients to z_i, the largest over the batch; a G of z.mean(1) has 1), or None}.
    """
    unknown = {"reaches": None, "dims": None, "rank": None}
    noise = torch.Generator().manual_seed(seed)
    zeroed = [p for p in model.parameters() if p.is_floating_point() and p.numel() and not bool(p.any())]
    with torch.no_grad():
        for p in zeroed:
            p.copy_(0.02 * torch.randn(p.shape, generator=noise).to(p.dtype))
    try:
        z = z.detach().clone().requires_grad_(True)
        out = model(z, *others)
        if not (isinstance(out, torch.Tensor) and out.is_floating_point() and out.requires_grad):
            return unknown
        projections = torch.Generator().manual_seed(seed)
        grads = []
        for k in range(RANK_PROJECTIONS):
            weights = torch.randn(out.shape, generator=projections).to(out.dtype)
            (g,) = torch.autograd.grad((out * weights).sum(), z, allow_unused=True, retain_graph=k < RANK_PROJECTIONS - 1)
            if g is None:
                break
            grads.append(g.detach().double().reshape(len(g), -1))
        grad = grads[0] if grads else None
    except Exception:  # noqa: BLE001 - measured, not judged: a model that raises is the shape checks' to tell
        return unknown
    finally:
        with torch.no_grad():
            for p in zeroed:
                p.zero_()
    if grad is None:
        return {"reaches": False, "dims": None, "rank": None}
    rank = None
    if len(grads) == RANK_PROJECTIONS:
        values = torch.linalg.svdvals(torch.stack(grads, dim=1))  # (N, K) singular values of each sample's (K, nz)
        rank = int((values > 1e-4 * values[:, :1].clamp_min(1e-30)).sum(dim=1).max())
    return {"reaches": True, "dims": [float(v) for v in grad.abs().amax(dim=0).flatten()], "rank": rank}


def scaled_forward(model: nn.Module, x: torch.Tensor, factor: float) -> Any:
    """A copy of `model` with every parameter multiplied by `factor`, applied to x under no_grad."""
    big = copy.deepcopy(model)
    with torch.no_grad():
        for p in big.parameters():
            p.mul_(factor)
        return big(x)


SHAPE_OPS = ("View", "Reshape", "UnsafeView", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Clone", "Permute",
             "Transpose", "T", "Select", "Slice", "Alias", "ToCopy")  # grad_fn names that only move values around


def final_operation(model: nn.Module, *inputs: Any) -> str | None:
    """The name of the last operation of model(*inputs) that computes values (its autograd node, without "Backward0"),
    skipping reshapes, views and copies: "Sigmoid" or "Tanh" for an output squashed at the end, "Addmm" or
    "Convolution" for a layer's raw output; None when the output is not a tensor with a graph."""
    try:
        copied, saved = copy.deepcopy(model), None
    except RuntimeError:  # the old spectral_norm's weights are no graph leaves: run the model, then put its state back
        copied, saved = model, {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        with torch.enable_grad():
            out = copied(*inputs)
    finally:
        if saved is not None:
            model.load_state_dict(saved)
    node = out.grad_fn if isinstance(out, torch.Tensor) else None
    for _ in range(64):
        if node is None:
            return None
        name = type(node).__name__.removesuffix("Backward0").removesuffix("Backward1")
        inputs = [n for n, _ in node.next_functions if n is not None]
        if name not in SHAPE_OPS or not inputs:
            return name
        node = inputs[0]
    return None


def unzeroed_scaled_forward(model: nn.Module, x: torch.Tensor, factor: float, seed: int = 0) -> Any:
    """`scaled_forward` of a copy of `model` whose all-zero parameters were first set to seeded
    N(0, 0.02) values: a layer initialised at zero (a last layer that starts every output at 0) gets a
    gradient and leaves zero at the first training step, so its weights are not fixed at zero."""
    opened = copy.deepcopy(model)
    noise = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in opened.parameters():
            if p.is_floating_point() and p.numel() and not bool(p.any()):
                p.copy_(0.02 * torch.randn(p.shape, generator=noise).to(p.dtype))
    return scaled_forward(opened, x, factor)


def first_shape(value: Any) -> list[int] | None:
    """The shape of a tensor, or of the first item of a tuple or list of them (a module's inputs); else None."""
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    return list(value.shape) if isinstance(value, torch.Tensor) else None


def record_calls(forward: Callable[[], Any], layer: Callable[[nn.Module], dict | None], namespace: dict | None = None) -> dict:
    """forward() under no_grad, with the module calls it makes recorded, registered in the model or not.

    layer(module) describes a module as it is called (a dict) or passes it over (None); each recorded call gets
    "in": its input's shape (first_shape) and "out": its output's shape, None while it did not finish.
    Returns {"calls": the records in the order the calls began, "out": forward's result (None when it raised),
    "error": error_info of what forward raised or None, "failed": the index in calls of the innermost call that
    did not finish, counting only records whose "leaf" is not False (the layer that raised), or None}.
    """
    from torch.nn.modules import module as torch_module

    calls: list[dict] = []
    running: dict[int, list[int]] = {}

    def before(mod: nn.Module, inputs: Any) -> None:
        record = layer(mod)
        if record is not None:
            calls.append({**record, "in": first_shape(inputs), "out": None})
            running.setdefault(id(mod), []).append(len(calls) - 1)

    def after(mod: nn.Module, _inputs: Any, output: Any) -> None:
        stack = running.get(id(mod))
        if stack:
            calls[stack.pop()]["out"] = first_shape(output) or []

    result: dict[str, Any] = {"calls": calls, "out": None, "error": None, "failed": None}
    hooks = [torch_module.register_module_forward_pre_hook(before), torch_module.register_module_forward_hook(after)]
    try:
        with torch.no_grad():
            result["out"] = forward()
    except Exception as err:  # noqa: BLE001 - the student's forward failed: measured, not judged
        result["error"] = error_info(err, namespace)
        unfinished = [k for k, call in enumerate(calls) if call.get("leaf") is not False and call["out"] is None]
        result["failed"] = unfinished[-1] if unfinished else None
    finally:
        for hook in hooks:
            hook.remove()
    return result
