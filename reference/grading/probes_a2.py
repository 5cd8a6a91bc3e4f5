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

from reference.grading.probes import error_info, first_shape, record_calls

__all__ = ["SHAPE_NETS", "activation_shapes_of", "conv_paths", "conv_weight_stds", "error_info", "output_sizes", "shape_net", "trace"]

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
    names = {id(m): name for name, m in model.named_modules()} if isinstance(model, nn.Module) else {}

    def layer(mod: nn.Module) -> dict | None:
        return None if next(iter(mod.children()), None) is not None else _layer(mod, names.get(id(mod)))

    run = record_calls(lambda: model(z), layer, namespace)
    result: dict[str, Any] = {"calls": run["calls"], "output": None, "value": None, "error": run["error"], "failed": run["failed"]}
    if run["error"] is not None:
        return result
    out = run["out"]
    result["output"] = {"type": "Tensor" if isinstance(out, torch.Tensor) else type(out).__name__, "shape": first_shape(out)}
    if isinstance(out, torch.Tensor) and out.is_floating_point():
        result["value"] = out.detach().float()
    return result


CONV_FUNCTIONS = {f"conv{d}d" for d in (1, 2, 3)} | {f"conv_transpose{d}d" for d in (1, 2, 3)}  # torch's conv functions


def conv_weight_stds(model: nn.Module) -> list[float]:
    """The standard deviation of each registered convolution's weight, in module order: DCGAN's weights_init
    draws them from N(0, 0.02); PyTorch's default init gives 1 / sqrt(fan_in)-scale uniform values (about 0.03-0.2)."""
    return [float(m.weight.detach().float().std()) for m in model.modules()
            if isinstance(m, nn.modules.conv._ConvNd) and isinstance(getattr(m, "weight", None), torch.Tensor) and m.weight.numel() > 1]


def conv_paths(model: nn.Module, z: torch.Tensor, seed: int = 2) -> dict:
    """Which convolutions of `model` run in model(z), and which reach its output (`_paths_once`).

    A conv behind a gate that starts at zero (ReZero's x + alpha * block(x) with alpha = 0, a residual
    block whose last BatchNorm scale or conv weight starts at zero) gets no gradient at initialisation
    but is trained from the first step on: when a conv that ran does not reach the output and some
    parameters are all zero, those parameters are set to small seeded values and the paths measured
    again; a conv reaches when either measurement says so. A conv whose output is multiplied by a
    constant 0, detached or dropped reaches in neither. The parameters are restored after. "detached": the
    convs that ran without a gradient reaching them but whose weights change the output (`_shape_the_output`).
    """
    found = _paths_once(model, z, seed)
    stuck = [entry[0] for entry in found["convs"] if entry[2] and not entry[3]]
    found["detached"] = _shape_the_output(model, z, stuck, seed) if stuck else []
    zeros = [p for p in model.parameters() if p.is_floating_point() and p.numel() and not bool(p.detach().any())]
    if not stuck or not zeros:
        return found
    noise = torch.Generator().manual_seed(seed)
    try:
        with torch.no_grad():
            for p in zeros:
                p.copy_(0.1 * torch.randn(p.shape, generator=noise).to(p.dtype))
        again = {entry[0]: entry[3] for entry in _paths_once(model, z, seed)["convs"]}
    except Exception:  # noqa: BLE001 - the student's forward fails with the gates opened: the first measurement stands
        again = {}
    finally:
        with torch.no_grad():
            for p in zeros:
                p.zero_()
    found["convs"] = [[name, kind, ran, reaches or (ran and again.get(name, False))] for name, kind, ran, reaches in found["convs"]]
    return found


def _shape_the_output(model: nn.Module, z: torch.Tensor, names: list[str], seed: int) -> list[str]:
    """Of the registered convolutions `names` (ran, but no gradient reached them), those whose weights change
    model(z) when they are moved: on the output's path, behind a .detach() or torch.no_grad(), not dropped or
    multiplied by 0. Each forward runs under the same seed (dropout draws alike); weights and buffers are restored."""
    modules = dict(model.named_modules())
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    noise = torch.Generator().manual_seed(seed)

    def forward() -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return model(z)

    found = []
    try:
        with torch.no_grad():
            base = forward()
            if not isinstance(base, torch.Tensor):
                return []
            for name in names:
                weight = getattr(modules.get(name), "weight", None)
                if not isinstance(weight, torch.Tensor) or not weight.is_floating_point() or not weight.numel():
                    continue
                saved = weight.detach().clone()
                scale = 0.5 * float(saved.abs().mean()) + 1e-2
                weight.add_(scale * torch.randn(weight.shape, generator=noise).to(weight.dtype))
                moved = forward()
                weight.copy_(saved)
                if isinstance(moved, torch.Tensor) and moved.shape == base.shape and not torch.allclose(moved, base, rtol=1e-5, atol=1e-7):
                    found.append(name)
    except Exception:  # noqa: BLE001 - the student's forward fails with a weight moved: what was found stands
        pass
    finally:
        model.load_state_dict(state)
    return found


def _paths_once(model: nn.Module, z: torch.Tensor, seed: int) -> dict:
    """Which convolutions of `model` run in model(z), and which reach its output, at its present weights.

    Backpropagates a seeded random projection of the output, with every parameter requiring grad
    for the measurement (frozen ones too; their flags and gradients are restored after). A conv
    module reaches the output when one of its own parameters gets a non-zero gradient (for a
    spectral- or weight-normalised conv the weight is recomputed from `weight_orig`, or from
    `parametrizations.weight.original`, at every call: those are the ones trained). Convolutions
    called as functions (F.conv2d(x, self.weight)) with weights made from the model's parameters
    count too, named after their parameter. Returns {"convs": [[name, class name, ran, reaches]]
    for every registered convolution, then every functional one that ran, "one_pixel": the names of
    registered convolutions whose every output was 1x1 (a dense layer on z's 1x1 "image"), "from_pixel": those
    that took a 1x1 input (the first stage, on z as (N, nz, 1, 1)), "projections": registered nn.Linear layers that took a
    2-D input and reach the output (a projection of z that does the first stage's work), "unregistered": [[class
    name, parameter count]] of layers with parameters that ran but are not registered in `model`
    (kept in a plain list or dict, or made in forward), "parameters": the number of parameter
    elements (frozen ones too), "output_requires_grad": bool (False too when backpropagating raised),
    "output_type": the class name of what model(z) returned, "backward_error": "Type: message" of an
    error backpropagating the output raised (an in-place change autograd refuses), else None, "used_parameters": the
    number of parameter elements that take part in the output (in its graph, or held by a layer that ran), "unused":
    the names of the others (a layer kept as an attribute but never called, a parameter nothing uses)}.
    """
    from torch.nn.modules import module as torch_module
    from torch.overrides import TorchFunctionMode

    registered = {id(m) for m in model.modules()}
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    param_names = {id(p): name for name, p in model.named_parameters()}
    ran: set[int] = set()
    pointwise: dict[int, bool] = {}  # a conv module whose every output was 1x1 (a dense layer on z's 1x1 "image")
    from_pixel: set[int] = set()  # a conv module that took a 1x1 input (z as (N, nz, 1, 1)): the generator's first stage
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    flat_in: set[int] = set()  # a Linear module that took a 2-D input (N, features), as a projection of z does
    strays: dict[int, list] = {}
    inside_conv = [0]  # depth of conv modules running: their own conv call is not a functional one
    functional: list[list] = []  # [name, function name, weight tensor]

    def entered(mod: nn.Module, inputs: Any) -> None:
        first = inputs[0] if isinstance(inputs, tuple) and inputs else None
        if isinstance(mod, nn.modules.conv._ConvNd):
            inside_conv[0] += 1
            if isinstance(first, torch.Tensor) and first.dim() >= 3 and all(size == 1 for size in first.shape[2:]):
                from_pixel.add(id(mod))
        if isinstance(mod, nn.Linear) and isinstance(first, torch.Tensor) and first.dim() == 2:
            flat_in.add(id(mod))

    def seen(mod: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(mod, nn.modules.conv._ConvNd):
            inside_conv[0] = max(0, inside_conv[0] - 1)
            spatial = tuple(output.shape[2:]) if isinstance(output, torch.Tensor) and output.dim() >= 3 else ()
            single = bool(spatial) and all(size == 1 for size in spatial)
            pointwise[id(mod)] = pointwise.get(id(mod), True) and single
        ran.add(id(mod))
        if id(mod) not in registered and next(iter(mod.children()), None) is None:
            count = sum(p.numel() for p in mod.parameters(recurse=False))
            if count:
                strays[id(mod)] = [type(mod).__name__, count]

    class FunctionalConvs(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if name in CONV_FUNCTIONS and not inside_conv[0]:
                weight = args[1] if len(args) > 1 else kwargs.get("weight")
                if isinstance(weight, torch.Tensor) and weight.requires_grad and (id(weight) in param_names or not weight.is_leaf):
                    if not weight.is_leaf:
                        weight.retain_grad()
                    functional.append([param_names.get(id(weight), f"F.{name}"), f"F.{name}", weight])
            return func(*args, **kwargs)

    params = list(model.parameters())
    saved = [(p, p.requires_grad, p.grad) for p in params]
    count = sum(p.numel() for p in params)
    own = {id(m): list(m.parameters()) for _, m in convs + linears}  # a layer's parameters, parametrizations' originals included
    grads: dict[int, torch.Tensor | None] = {}
    hooks = [torch_module.register_module_forward_pre_hook(entered), torch_module.register_module_forward_hook(seen)]
    needs_grad, backward_error, out, in_graph = False, None, None, None
    try:
        for p in params:
            p.requires_grad_(True)
            p.grad = None
        with FunctionalConvs():
            out = model(z)
        for hook in hooks:
            hook.remove()
        hooks = []
        needs_grad = isinstance(out, torch.Tensor) and out.requires_grad
        if needs_grad:
            weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
            try:
                (out * weights).sum().backward()
            except RuntimeError as err:  # an in-place change autograd refuses (x += block(x)): the gradient check tells it
                backward_error = f"{type(err).__name__}: {err}"[:REPR_LIMIT * 2]
                needs_grad = False
        grads = {id(p): p.grad for ps in own.values() for p in ps}
        grads.update({id(w): w.grad for _, _, w in functional})
        in_graph = {id(p) for p in params if p.grad is not None} if needs_grad else None
    finally:
        for hook in hooks:
            hook.remove()
        for p, flag, grad in saved:
            p.requires_grad_(flag)
            p.grad = grad

    def reached(tensors: list[torch.Tensor]) -> bool:
        found = [grads.get(id(t)) for t in tensors]
        return any(g is not None and bool(torch.isfinite(g).all()) and bool(g.abs().sum() > 0) for g in found)

    # the parameters that take part in the output: in its graph, or held by a layer (not the model itself) that ran;
    # the others (a layer kept as an attribute but never called, a parameter nothing uses) are unused. Without a graph
    # to read (a detached output) the model's own parameters count as used: nothing tells
    ran_layers = {id(p) for m in model.modules() if m is not model and id(m) in ran for p in m.parameters(recurse=False)}
    used = ran_layers | (in_graph if in_graph is not None else {id(p) for p in model.parameters(recurse=False)})
    unused = [name for name, p in model.named_parameters() if id(p) not in used]

    calls: dict[str, list] = {}
    for name, kind, weight in functional:  # one entry per weight, however often it is called
        entry = calls.setdefault(name if not name.startswith("F.") else f"{name}#{len(calls)}", [name, kind, True, False])
        entry[3] = entry[3] or reached([weight])
    return {
        "convs": [[name, type(m).__name__, id(m) in ran, reached(own[id(m)])] for name, m in convs] + list(calls.values()),
        "unregistered": list(strays.values()),
        "one_pixel": [name for name, m in convs if pointwise.get(id(m)) is True],
        "from_pixel": [name for name, m in convs if id(m) in from_pixel],
        "projections": [name for name, m in linears if id(m) in flat_in and reached(own[id(m)])],
        "parameters": count,
        "used_parameters": sum(p.numel() for p in params if id(p) in used),
        "unused": unused,
        "output_requires_grad": bool(needs_grad),
        "output_type": type(out).__name__,
        "backward_error": backward_error,
    }



# ---------------------------------------------------------------------------------------------
# The student's tools: conv_output_size and activation_shapes
# ---------------------------------------------------------------------------------------------


def output_sizes(fn: Any, cases: list[list[int]], transposed: bool) -> list[list]:
    """fn(size, kernel, stride, padding, transposed=transposed) for each case [size, kernel, stride, padding],
    each answer as [kind, value]: ["int", n], ["float", x] (a NumPy or 0-d tensor number counts as its
    Python kind), or [class name, None] for anything else."""
    found = []
    for size, kernel, stride, padding in cases:
        value = fn(size, kernel, stride, padding, transposed=transposed)
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype.is_complex:
            value = value.item()
        elif hasattr(value, "item") and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
            value = value.item()
        if isinstance(value, bool):
            found.append(["bool", None])
        elif isinstance(value, int):
            found.append(["int", value])
        elif isinstance(value, float):
            found.append(["float", value])
        else:
            found.append([type(value).__name__, None])
    return found


class _Nested(nn.Module):
    """Leaves inside nn.Sequential blocks inside nn.Sequential: x (N, 1, 9, 9) -> (N, 2, 5, 5)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.ReLU())
        self.block = nn.Sequential(nn.Sequential(nn.Conv2d(4, 6, 3, 2, 1), nn.BatchNorm2d(6)), nn.LeakyReLU(0.2))
        self.head = nn.Conv2d(6, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.stem(x)))


class _Shared(nn.Module):
    """One conv and one activation called twice, a pooling between: x (N, 3, 8, 8) -> (N, 3, 4, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, 1, 1)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(self.pool(self.act(self.conv(x)))))


class _Idle(nn.Module):
    """A registered layer (`spare`, before the others) that forward never calls: z (N, 6) -> (N, 2, 7, 7)."""

    def __init__(self) -> None:
        super().__init__()
        self.spare = nn.Conv2d(4, 4, 3, 1, 1)
        self.project = nn.Linear(6, 4 * 4 * 4)
        self.up = nn.ConvTranspose2d(4, 2, 3, 2, 1)
        self.out = nn.Tanh()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.up(self.project(z).view(-1, 4, 4, 4)))


SHAPE_NETS = {  # name: what the check calls it
    "generator": "the given Generator(nz=8, ngf=4, channels=1, size=28) with z (3, 8)",
    "nested": "a model of nn.Sequential blocks inside nn.Sequential blocks with x (2, 1, 9, 9)",
    "shared": "a model that calls its conv and its ReLU twice each, with x (2, 3, 8, 8)",
    "idle": "a model with a registered conv its forward never calls, with z (5, 6)",
}


def shape_net(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """The network SHAPE_NETS[name] and its input, built with `seed` (torch's generator restored after)."""
    from reference.models.dcgan import Generator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "generator":
            return Generator(8, 4, channels=1, size=28), torch.randn(3, 8)
        if name == "nested":
            return _Nested(), torch.randn(2, 1, 9, 9)
        if name == "shared":
            return _Shared(), torch.randn(2, 3, 8, 8)
        if name == "idle":
            return _Idle(), torch.randn(5, 6)
    raise ValueError(f"no network {name!r}: one of {', '.join(SHAPE_NETS)}")


def _entry(item: Any) -> list:
    """One answered (layer, shape) pair as [label, shape]: label a string (a module given itself: its class name;
    anything else: None), shape a list of ints (None when it is not a shape: a tensor gives "Tensor")."""
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        return [None, None]
    label, shape = item
    if isinstance(label, nn.Module):
        label = type(label).__name__
    label = label[:REPR_LIMIT] if isinstance(label, str) else None
    if isinstance(shape, torch.Tensor):
        shape = "Tensor"
    elif isinstance(shape, (tuple, list, torch.Size)) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        shape = list(shape)
    else:
        shape = None
    return [label, shape]


def _answered(value: Any, most: int = 200) -> dict:
    """{"type": class name of the answer, "entries": [[label, shape]] of its first `most` items when it is a list or
    tuple (else None), "length": its length (None when not a list or tuple)}."""
    if not isinstance(value, (list, tuple)):
        return {"type": type(value).__name__, "entries": None, "length": None}
    return {"type": type(value).__name__, "entries": [_entry(item) for item in value[:most]], "length": len(value)}


def activation_shapes_of(fn: Any, name: str, seed: int = 0) -> dict:
    """fn(model, x) twice on a fresh SHAPE_NETS[name] network and its input.

    Returns {"first": _answered(first answer), "second": _answered(second answer), "hooks": the number of
    forward and forward-pre hooks left on the network's modules after the calls}.
    """
    model, x = shape_net(name, seed)
    first = _answered(fn(model, x.clone()))
    second = _answered(fn(model, x.clone()))
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return {"first": first, "second": second, "hooks": hooks}
