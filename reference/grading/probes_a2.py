"""Probes of a2_conv_layers: what the student's `DeeperGenerator` does, measured next to it.

`tests/autograders/test_a2_conv_layers.py` runs these with `submission.run(...)`: in the sandboxed
worker when a submission is graded, in the student's kernel for the visible checks. Like every
probe (see `reference.grading.probes`) they measure and return plain data and never judge. An
exception of the student's forward is caught and returned as `error_info`, with the layer that was
running, so that the check can name the layer; the check words the fault and the fix.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reference.grading.probes import error_info, first_shape

__all__ = ["conv_paths", "error_info", "trace"]

REPR_LIMIT = 160  # characters of a layer's extra_repr kept


def _pair(value: Any) -> list[int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value, value]
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value):
        return list(value)
    return None


def _layer(mod: nn.Module, name: str | None) -> dict:
    """A leaf module as data: name (None: not registered in the model), class, extra_repr, and for
    convolutions their geometry (kind "conv" or "conv_transpose", channels, kernel, stride, padding,
    output_padding, dilation), for upsampling its scale factor."""
    conv = isinstance(mod, nn.modules.conv._ConvNd)
    return {
        "name": name,
        "type": type(mod).__name__,
        "repr": mod.extra_repr()[:REPR_LIMIT],
        "kind": ("conv_transpose" if mod.transposed else "conv") if conv else None,
        "in_channels": mod.in_channels if conv else None,
        "out_channels": mod.out_channels if conv else None,
        "kernel": _pair(mod.kernel_size) if conv else None,
        "stride": _pair(mod.stride) if conv else None,
        "padding": _pair(mod.padding) if conv and not isinstance(mod.padding, str) else None,
        "output_padding": _pair(mod.output_padding) if conv else None,
        "dilation": _pair(mod.dilation) if conv else None,
        "parameters": sum(p.numel() for p in mod.parameters(recurse=False)),
    }


def trace(model: Any, z: torch.Tensor, namespace: dict | None = None) -> dict:
    """model(z) under no_grad with every leaf module's call recorded, registered in `model` or not.

    Returns {"calls": [_layer(...) + {"in": input shape, "out": output shape, None while it did not
    finish}] in the order the leaves ran, "output": describe-like {"type", "shape"} of the result,
    "value": the result detached (float32) when it is a floating tensor, else None, "error":
    error_info or None, "failed": index in calls of the leaf that raised, or None}.
    """
    from torch.nn.modules import module as torch_module

    names = {id(m): name for name, m in model.named_modules()} if isinstance(model, nn.Module) else {}
    calls: list[dict] = []
    running: dict[int, list[int]] = {}

    def before(mod: nn.Module, inputs: Any) -> None:
        if next(iter(mod.children()), None) is not None:
            return
        calls.append({**_layer(mod, names.get(id(mod))), "in": first_shape(inputs), "out": None})
        running.setdefault(id(mod), []).append(len(calls) - 1)

    def after(mod: nn.Module, _inputs: Any, output: Any) -> None:
        stack = running.get(id(mod))
        if stack:
            calls[stack.pop()]["out"] = first_shape(output) or []

    result: dict[str, Any] = {"calls": calls, "output": None, "value": None, "error": None, "failed": None}
    hooks = [torch_module.register_module_forward_pre_hook(before), torch_module.register_module_forward_hook(after)]
    try:
        with torch.no_grad():
            out = model(z)
    except Exception as err:  # noqa: BLE001 - the student's forward failed: measured, not judged
        result["error"] = error_info(err, namespace)
        unfinished = [k for k, call in enumerate(calls) if call["out"] is None]
        result["failed"] = unfinished[-1] if unfinished else None
        return result
    finally:
        for hook in hooks:
            hook.remove()
    result["output"] = {"type": "Tensor" if isinstance(out, torch.Tensor) else type(out).__name__, "shape": first_shape(out)}
    if isinstance(out, torch.Tensor) and out.is_floating_point():
        result["value"] = out.detach().float()
    return result


def conv_paths(model: nn.Module, z: torch.Tensor, seed: int = 2) -> dict:
    """Which convolutions of `model` run in model(z), and which reach its output.

    Backpropagates a seeded random projection of the output, with every parameter requiring grad
    for the measurement (frozen ones too; their flags and gradients are restored after). Returns {"convs": [[name, class name,
    ran, reaches]] for every registered convolution (reaches: its weight got a non-zero gradient),
    "unregistered": [[class name, parameter count]] of layers with parameters that ran but are not
    registered in `model` (kept in a plain list or dict, or made in forward), "parameters": the number
    of parameter elements (frozen ones too), "output_requires_grad": bool}.
    """
    from torch.nn.modules import module as torch_module

    registered = {id(m) for m in model.modules()}
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    ran: set[int] = set()
    strays: dict[int, list] = {}

    def seen(mod: nn.Module, _inputs: Any, _output: Any) -> None:
        ran.add(id(mod))
        if id(mod) not in registered and next(iter(mod.children()), None) is None:
            count = sum(p.numel() for p in mod.parameters(recurse=False))
            if count:
                strays[id(mod)] = [type(mod).__name__, count]

    params = list(model.parameters())
    saved = [(p, p.requires_grad, p.grad) for p in params]
    count = sum(p.numel() for p in params)
    watched = [m.weight for _, m in convs if isinstance(m.weight, torch.Tensor)]
    grads: dict[int, torch.Tensor | None] = {}
    hook = torch_module.register_module_forward_hook(seen)
    try:
        for p in params:
            p.requires_grad_(True)
            p.grad = None
        out = model(z)
        needs_grad = isinstance(out, torch.Tensor) and out.requires_grad
        if needs_grad:
            weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
            (out * weights).sum().backward()
        grads = {id(w): w.grad for w in watched}
    finally:
        hook.remove()
        for p, flag, grad in saved:
            p.requires_grad_(flag)
            p.grad = grad

    def reaches(m: nn.Module) -> bool:
        grad = grads.get(id(m.weight))
        return bool(grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0)

    return {
        "convs": [[name, type(m).__name__, id(m) in ran, reaches(m)] for name, m in convs],
        "unregistered": list(strays.values()),
        "parameters": count,
        "output_requires_grad": bool(needs_grad),
    }
