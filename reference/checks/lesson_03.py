"""Checks of lesson 03's code-along places: the DCGAN generator and discriminator for 28x28 digits.

The student writes two functions in solutions/lessons/03_dcgan_fashion_mnist.ipynb:

- `dcgan_generator(nz=100, ngf=64)`: an nn.Module G, z (N, nz) -> images (N, 1, 28, 28) in [-1, 1];
- `dcgan_discriminator(ndf=64)`: an nn.Module D, images (N, 1, 28, 28) -> logits (N,).

Each check builds the student's model at width 16 with a fixed seed (`probes.build`), runs it on
seeded inputs and lays what it measures next to the answer key, reference.models' `dcgan` built at
the same width. Five checks per network, 1 point each, all visible:

- shape: the output shape, and where the sizes leave the ladder 1 -> 4 -> 7 -> 14 -> 28 (G) or
  28 -> 14 -> 7 -> 4 -> 1 (D); the layer that raises, with the fix for its kind of mistake (a channel
  count that is a multiple of the width is named as ngf * k); the same network built at twice the width
  (WIDER) must work too, so a channel count written as a number that fits width 16 only is named;
- range (G): outputs in [-1, 1] and reaching below 0, also with every weight scaled up 25 times,
  and equal to the tanh of the last layer's output (not a clamp); logits (D): no final sigmoid, the
  values are not all in [0, 1], and the output is the last conv's own output (no tanh or activation);
- parameters: the exact count of the reference model, at width 16 and at WIDER; a difference is traced
  to conv biases (the reason told apart for a conv no BatchNorm follows), an activation with parameters
  (PReLU), a layer with other channels or kernel than the reference's at its place, or BatchNorm added or
  missing (an added one placed by the order in which the layers ran, not the order they were declared in);
- layers: no pooling or fixed upsampling, no hidden fully connected layer, BatchNorm in the hidden
  layers (with PyTorch's eps, not BatchNorm2d(c, 0.8)) but not on z, on G's output, on D's images or
  input layer or on its logits, ReLU in G and LeakyReLU(0.2) in D, no spectral or weight normalisation
  around a layer (SN-GAN's, not DCGAN's; any check that fails on such a network names it). Activations
  are judged by what they do (`stage_tensors` records each conv's and BatchNorm's output and the next
  conv's input), so nn.ReLU() and F.relu in forward are judged alike, and so are a LeakyReLU's slope,
  an ELU, a Dropout, or a BatchNorm placed after the activation;
- init: conv weights, and those of a Linear at G's input or D's output, drawn from N(0, 0.02) (std 1 named as
  normal_(w, 0.02), 0.02 passed as the mean; PyTorch's own init named by its bound 1/sqrt(fan_in) too, since its std
  is 0.018 for the layers of fan_in 1024 at width 16; a Linear left to `weights_init`, which skips Linear layers, named
  so), BatchNorm scales around 1.

The checks reach the student's objects only through `submission` and the probes of
`reference.grading.probes` and `probes_a2` (the same API as the assignments' checks), and this
module's own probe `stage_tensors`.
"""

from __future__ import annotations

import copy
import functools
import importlib
import math
import re

import torch

from reference.grading import NAMESPACE, StudentError, check
from reference.grading import probes, probes_a2
from reference.grading.checks import ignores_width

ASSIGNMENT = "lesson_03"
NZ = 100
WIDTH = 16  # ngf = ndf at which the checks build both networks: fast, and the same code as 64
WIDER = 2 * WIDTH  # the second width the shape and parameter checks build at: a channel count written as a number fits one
N = 8  # images per batch the checks run
SCALE = 25.0  # the range checks scale every weight by this: only a bounded last layer stays bounded

G_FN, D_FN = "dcgan_generator", "dcgan_discriminator"
G_LADDER = (1, 4, 7, 14, 28)
D_LADDER = (28, 14, 7, 4, 1)
# (kernel, stride, padding) of each stage, keyed by (input side, output side)
G_STAGES = {(1, 4): (4, 1, 0), (4, 7): (3, 2, 1), (7, 14): (4, 2, 1), (14, 28): (4, 2, 1)}
D_STAGES = {(28, 14): (4, 2, 1), (14, 7): (4, 2, 1), (7, 4): (3, 2, 1), (4, 1): (4, 1, 0)}
G_RULE = "a transposed conv's output side is (in - 1) * stride - 2 * padding + kernel"
D_RULE = "a conv's output side is (in + 2 * padding - kernel) // stride + 1"

POOLING = {
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "LPPool2d", "FractionalMaxPool2d", "MaxUnpool2d",
}  # fmt: skip
UPSAMPLING = {"Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle"}
BATCHNORM = {"BatchNorm1d", "BatchNorm2d"}
LINEAR = {"Linear", "LazyLinear", "Bilinear"}
ACTIVATIONS = {"ReLU", "LeakyReLU", "Tanh", "Sigmoid", "ELU", "SELU", "GELU", "SiLU", "Hardtanh", "PReLU", "ReLU6"}


# ---------------------------------------------------------------------------------------------
# Reading what comes back (treated as the student's answer: every value is checked before use)
# ---------------------------------------------------------------------------------------------


def _text(value, limit: int = 160) -> str:
    value = value if isinstance(value, str) else ""
    value = "".join(ch if ch.isprintable() else " " for ch in value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _ints(value) -> list[int] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return None


def _shape_text(shape) -> str:
    """"(N, 1, 28, 28)": the batch dimension of the checks' batches written N."""
    dims = _ints(shape)
    if dims is None:
        return "something that is not a tensor"
    text = ", ".join("N" if (k == 0 and d == N) else str(d) for k, d in enumerate(dims))
    return f"({text},)" if len(dims) == 1 else f"({text})"


def _side(shape) -> int | None:
    """The side of a square activation (N, C, s, s); 1 for a vector (N, C) (z before it is viewed as 1x1)."""
    dims = _ints(shape)
    if dims is None:
        return None
    if len(dims) == 2:
        return 1
    if len(dims) == 4 and dims[2] == dims[3]:
        return dims[2]
    return None


def _layer(call: dict) -> str:
    """"`main.4` (ConvTranspose2d(64, 32, kernel_size=(3, 3), ...))" for a traced call."""
    described = f"{_text(call.get('type'), 40) or 'layer'}({_text(call.get('repr'))})"
    name = call.get("name")
    return f"`{_text(name, 80)}` ({described})" if isinstance(name, str) and name else f"an unregistered {described}"


def _calls(run) -> list[dict]:
    calls = run.get("calls") if isinstance(run, dict) else None
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


# ---------------------------------------------------------------------------------------------
# Building and running the student's networks
# ---------------------------------------------------------------------------------------------


def _call_text(which: str, kwargs: dict) -> str:
    return f"`{G_FN if which == 'G' else D_FN}({', '.join(f'{k}={v}' for k, v in kwargs.items())})`"


def _default_kwargs(which: str, nz: int = NZ, width: int = WIDTH) -> dict:
    return {"nz": nz, "ngf": width} if which == "G" else {"ndf": width}


def build(submission, which: str, nz: int = NZ, seed: int = 0, width: int = WIDTH):
    """The student's G or D built with `seed` at width `width` (ngf or ndf): (handle, module_summary)."""
    kwargs = _default_kwargs(which, nz, width)
    fn = submission.get(G_FN if which == "G" else D_FN)
    model = submission.run(probes.build, fn, seed, **kwargs)
    summary = submission.run(probes.module_summary, model)
    if not (isinstance(summary, dict) and summary.get("is_module") is True):
        kind = _text(summary.get("type"), 40) if isinstance(summary, dict) else "value"
        call = _call_text(which, kwargs)
        if kind == "NoneType":
            raise AssertionError(f"{call} returned None: end the function by returning the network you built")
        if kind in ("list", "tuple"):
            raise AssertionError(f"{call} returned a {kind} of layers, not a network: wrap them in nn.Sequential(*layers) "
                                 f"and return that")
        raise AssertionError(f"{call} returned a {kind or 'value'}, not an nn.Module: return the network (an nn.Sequential "
                             f"or your nn.Module)")
    return model, summary


def inputs(which: str, nz: int = NZ, seed: int = 1) -> torch.Tensor:
    """z (N, nz) for G; images (N, 1, 28, 28) in [-1, 1] for D. Seeded."""
    gen = torch.Generator().manual_seed(seed)
    if which == "G":
        return torch.randn(N, nz, generator=gen)
    return torch.rand(N, 1, 28, 28, generator=gen) * 2 - 1


def reference_summaries(width: int = WIDTH) -> dict[str, dict]:
    """module_summary of the answer key's G and D (reference.models' dcgan at width `width`)."""
    from reference.models import get_model

    with torch.random.fork_rng(devices=[]):  # their default init draws from torch's RNG: leave the student's as it was
        G, D = get_model("dcgan").build((1, 28, 28), NZ, ngf=width, ndf=width)
    return {"G": probes.module_summary(G), "D": probes.module_summary(D)}


# ---------------------------------------------------------------------------------------------
# Shapes: the ladder of sizes, and what a failing layer did wrong
# ---------------------------------------------------------------------------------------------


def _ladder_break(calls: list[dict], ladder: tuple[int, ...]) -> dict | None:
    """The first finished call that changes the side to something other than the ladder's next size."""
    for call in calls:
        before, after = _side(call.get("in")), _side(call.get("out"))
        if before is None or after is None or before == after:
            continue
        if before not in ladder[:-1] or after != ladder[ladder.index(before) + 1]:
            return call
    return None


def _break_text(call: dict, which: str) -> str:
    ladder, stages, rule = (G_LADDER, G_STAGES, G_RULE) if which == "G" else (D_LADDER, D_STAGES, D_RULE)
    before = _side(call.get("in"))
    got = f"{_layer(call)} turns {_shape_text(call.get('in'))} into {_shape_text(call.get('out'))}"
    sizes = " -> ".join(f"{s}x{s}" for s in ladder)
    if before not in ladder[:-1]:
        return f"{got}, off the sizes {sizes}"
    nxt = ladder[ladder.index(before) + 1]
    k, s, p = stages[before, nxt]
    if call.get("kind") in ("conv", "conv_transpose"):
        return f"{got}: after {before}x{before} comes {nxt}x{nxt}; {rule}, so this stage takes kernel {k}, stride {s}, padding {p}"
    return f"{got}: after {before}x{before} comes {nxt}x{nxt} ({sizes}), made by a strided {'transposed ' if which == 'G' else ''}conv"


def _width_hint(channels: int, which: str, width: int) -> str:
    """"; G is built here with ngf = 16, so that is ngf * 4: ..." when `channels` is a multiple of the width the
    network was built at: the student may have written the number for another width; "" otherwise."""
    arg = "ngf" if which == "G" else "ndf"
    times = {width: "", 2 * width: " * 2", 4 * width: " * 4", 8 * width: " * 8"}.get(channels)
    if times is None:
        return ""
    return (f"; {'G' if which == 'G' else 'D'} is built here with {arg} = {width}, so that is {arg}{times}: write it "
            f"from {arg}, not as a number, so that it fits every width")


def _error_text(run: dict, which: str, nz: int, width: int = WIDTH) -> str:
    """What raised in the traced forward, and the fix for the usual mistakes."""
    err = StudentError.from_info(run.get("error"))
    if err.not_implemented:
        raise err  # reported as "... is not implemented yet" by the grader
    calls = _calls(run)
    failed = run.get("failed")
    call = calls[failed] if isinstance(failed, int) and not isinstance(failed, bool) and 0 <= failed < len(calls) else None
    if call is None:
        return err.describe()
    got = _ints(call.get("in"))
    wants = call.get("in_channels")
    if call.get("kind") in ("conv", "conv_transpose") and got is not None and len(got) == 2:
        return (f"{_layer(call)} gets z as {_shape_text(got)}, but a (transposed) convolution takes (N, C, H, W): "
                f"view z as (N, nz, 1, 1) first (nn.Unflatten(1, (nz, 1, 1)) as the first layer, or z.view(-1, nz, 1, 1))")
    if isinstance(wants, int) and got is not None and len(got) >= 2 and got[1] != wants:
        if which == "G" and got[1] == nz != NZ and wants == NZ:
            return f"{_layer(call)} takes {wants} channels but gets z with nz = {nz}: use the `nz` argument, do not write {NZ}"
        if which == "D" and got[1] == 1 and call is calls[0]:
            return f"{_layer(call)} takes {wants} input channels, but the images have 1 (greyscale): the first conv's in_channels is 1"
        return (f"{_layer(call)} takes {wants} channels but gets {_shape_text(got)}: a layer's in_channels must be the "
                f"out_channels of the layer before it{_width_hint(got[1], which, width)}")
    if call.get("type") in BATCHNORM and got is not None and len(got) >= 2:
        return (f"{_layer(call)} gets {_shape_text(got)}: its num_features must be the channels of its input "
                f"({got[1]}){_width_hint(got[1], which, width)}")
    on = f" on {_shape_text(got)}" if got else ""
    return f"{_layer(call)} raised {err.type}{on}: {err.message}"


def run_forward(submission, which: str, nz: int = NZ, width: int = WIDTH) -> tuple[dict, list[dict]]:
    """The traced forward of the student's network (built at `width`) on the checks' inputs; AssertionError
    naming the layer when it raises or leaves the ladder of sizes before raising."""
    model, _ = build(submission, which, nz, width=width)
    run = submission.run(probes_a2.trace, model, inputs(which, nz), NAMESPACE)
    run = run if isinstance(run, dict) else {}
    calls = _calls(run)
    if run.get("error") is not None:
        found = _ladder_break(calls, G_LADDER if which == "G" else D_LADDER)
        failed = run.get("failed")
        name = "G" if which == "G" else "D"
        if found is not None and (not isinstance(failed, int) or calls.index(found) < failed):
            raise AssertionError(f"{name} fails: {_break_text(found, which)}")
        raise AssertionError(f"{name} fails: {_error_text(run, which, nz, width)}")
    return run, calls


def wider_fault(submission, which: str) -> str | None:
    """The message for a network that works at width WIDTH but fails, or returns another shape, at WIDER: a
    channel count written as a number (BatchNorm2d(64) for ngf * 4 at ngf = 16) fits one width only; None if it
    works at both."""
    arg, name = ("ngf", "G") if which == "G" else ("ndf", "D")
    widths = "ngf * 4, ngf * 2, ngf" if which == "G" else "ndf, ndf * 2, ndf * 4"
    fix = (f"a channel count written as a number fits one width only: write every width from `{arg}` ({widths}), "
           f"and every in_channels and num_features as the channels of the layer before")
    try:
        run, _ = run_forward(submission, which, width=WIDER)
    except AssertionError as err:
        text = str(err).removeprefix(f"{name} fails: ")
        if "not as a number" in text:  # the error names the layer and says what to write already
            return f"{name} works for {arg} = {WIDTH} but not for {arg} = {WIDER}: {text}"
        return f"{name} works for {arg} = {WIDTH} but not for {arg} = {WIDER}: {fix} ({text})"
    shape = _output_shape(run)
    expected = [N, 1, 28, 28] if which == "G" else [N]
    if shape != expected:
        return f"{name} works for {arg} = {WIDTH} but returns {_shape_text(shape)} for {arg} = {WIDER}: {fix}"
    return None


def _output_shape(run: dict) -> list[int] | None:
    out = run.get("output") if isinstance(run.get("output"), dict) else {}
    return _ints(out.get("shape")) if out.get("type") == "Tensor" else None


def _values(run: dict) -> torch.Tensor | None:
    value = run.get("value")
    return value.detach().double() if isinstance(value, torch.Tensor) and value.is_floating_point() else None


def working(submission, which: str) -> tuple[dict, list[dict]]:
    """run_forward for the checks after the shape check: a wrong shape is named, then the check stops."""
    run, calls = run_forward(submission, which)
    shape = _output_shape(run)
    expected = [N, 1, 28, 28] if which == "G" else [N]
    if shape != expected:
        raise AssertionError(f"{'G' if which == 'G' else 'D'} returns {_shape_text(shape)}, not "
                             f"{_shape_text(expected)}: make the shape check pass first")
    return run, calls


# ---------------------------------------------------------------------------------------------
# What each stage does to its values: activations judged by behaviour, module or function alike
# ---------------------------------------------------------------------------------------------


def stage_tensors(model, x: torch.Tensor, seed: int = 0, scale: float = 1.0) -> dict:
    """Probe: model(x) under no_grad (torch seeded with `seed`), with every leaf module that ran, and the
    input and output of each convolution, Linear and BatchNorm as they were when it ran (cloned, before
    any in-place change). With `scale`, a copy of the model with every parameter multiplied by it runs
    instead (large values, where tanh, a clamp and no activation differ).

    Returns {"calls": [[name or "", class name, extra_repr]] in the order the leaves ran, "tensors":
    [[index in calls, "weighted" | "norm", input, output]] (float32), "output": model(x) detached
    (float32) or None, "error": error_info or None}.
    """
    from torch import nn
    from torch.nn.modules import module as torch_module

    if scale != 1.0 and isinstance(model, nn.Module):
        model = copy.deepcopy(model)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(scale)
    names = {id(m): name for name, m in model.named_modules()} if isinstance(model, nn.Module) else {}
    kinds = ((nn.modules.conv._ConvNd, nn.Linear), nn.modules.batchnorm._BatchNorm)
    calls: list[list] = []
    tensors: list[list] = []
    pending: dict[int, list[list]] = {}

    def before(mod, inputs) -> None:
        if next(iter(mod.children()), None) is not None:
            return
        calls.append([names.get(id(mod), ""), type(mod).__name__, mod.extra_repr()[:160]])
        kind = "weighted" if isinstance(mod, kinds[0]) else "norm" if isinstance(mod, kinds[1]) else None
        first = inputs[0] if isinstance(inputs, tuple) and inputs else None
        if kind and isinstance(first, torch.Tensor) and first.is_floating_point():
            row = [len(calls) - 1, kind, first.detach().float().clone(), None]
            tensors.append(row)
            pending.setdefault(id(mod), []).append(row)

    def after(mod, _inputs, output) -> None:
        rows = pending.get(id(mod))
        if rows:
            row = rows.pop()
            if isinstance(output, torch.Tensor) and output.is_floating_point():
                row[3] = output.detach().float().clone()

    result = {"calls": calls, "tensors": tensors, "output": None, "error": None}
    hooks = [torch_module.register_module_forward_pre_hook(before), torch_module.register_module_forward_hook(after)]
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            out = model(x)
    except Exception as err:  # noqa: BLE001 - measured, not judged
        result["error"] = probes.error_info(err)
        return result
    finally:
        for hook in hooks:
            hook.remove()
    result["tensors"] = [row for row in tensors if isinstance(row[3], torch.Tensor)]
    if isinstance(out, torch.Tensor) and out.is_floating_point():
        result["output"] = out.detach().float()
    return result


def _stage_probe():
    """stage_tensors as the package names it: the grader loads this file under another module name, and
    submission.run takes only functions of the `reference` package."""
    return importlib.import_module("reference.checks.lesson_03").stage_tensors


def _stages(data) -> tuple[list[tuple[dict, list[dict], torch.Tensor, torch.Tensor]], tuple | None]:
    """From stage_tensors' data: the hidden stages [(the layer whose output the stage's activation takes,
    the leaf modules that ran between it and the next weighted layer, that output, the next weighted
    layer's input)], and the output stage (layer, modules after it, its output, the network's output) or None."""
    data = data if isinstance(data, dict) else {}
    raw_calls = data.get("calls") if isinstance(data.get("calls"), list) else []
    calls = [{"name": c[0], "type": c[1], "repr": c[2]} if isinstance(c, list) and len(c) == 3 else {} for c in raw_calls]
    rows = []
    for row in data.get("tensors") if isinstance(data.get("tensors"), list) else []:
        if (isinstance(row, list) and len(row) == 4 and isinstance(row[0], int) and 0 <= row[0] < len(calls)
                and row[1] in ("weighted", "norm") and all(isinstance(t, torch.Tensor) for t in row[2:])):
            rows.append(row)
    stages = []
    for k, row in enumerate(rows):
        if row[1] != "weighted" or k == 0:
            continue
        prev = rows[k - 1]  # the last convolution, Linear or BatchNorm before this weighted layer
        stages.append((calls[prev[0]], calls[prev[0] + 1 : row[0]], prev[3], row[2]))
    output = data.get("output")
    last = None
    if rows and isinstance(output, torch.Tensor):
        last = (calls[rows[-1][0]], calls[rows[-1][0] + 1 :], rows[-1][3], output)
    return stages, last


ELEMENTWISE = {
    "identity": lambda t: t, "relu": torch.relu, "leaky": lambda t: torch.nn.functional.leaky_relu(t, 0.2),
    "tanh": torch.tanh, "sigmoid": torch.sigmoid, "clamp": lambda t: t.clamp(-1, 1),
}


def _behaviour(p: torch.Tensor, b: torch.Tensor, expected: str) -> tuple | None:
    """What maps p to b elementwise: (expected,) when b = ELEMENTWISE[expected](p); else ("relu",),
    ("leaky", slope), ("identity",), ("tanh",), ("sigmoid",), ("clamp",), ("dropout", rate), ("curve", x, y)
    (negatives bent, positives kept), ("changed", x, y) (positive values changed); None when the two do
    not line up (other sizes)."""
    if p.numel() != b.numel() or p.numel() == 0:
        return None
    p, b = p.double().reshape(-1), b.double().reshape(-1)
    if not torch.isfinite(b).all():
        return ("changed", float(p[~torch.isfinite(b)][0]), float(b[~torch.isfinite(b)][0]))

    def near(a: torch.Tensor, c: torch.Tensor) -> bool:
        return bool(torch.allclose(a, c, rtol=1e-4, atol=1e-5))

    if near(b, ELEMENTWISE[expected](p)):
        return (expected,)
    for name in ("identity", "relu", "tanh", "sigmoid", "clamp"):
        if near(b, ELEMENTWISE[name](p)):
            return (name,)
    pos, neg = p > 1e-3, p < -1e-3
    kept = near(b[pos], p[pos])
    if kept and neg.any():
        ratio = b[neg] / p[neg]
        slope = float(ratio.median())
        if near(b[neg], slope * p[neg]):
            return ("leaky", slope)
        k = int(neg.nonzero()[0])
        return ("curve", float(p[k]), float(b[k]))
    if pos.any() and not kept:
        ratio = b[pos] / p[pos]
        dropped = ratio.abs() < 1e-6
        if dropped.any() and (~dropped).any():
            scale = float(ratio[~dropped].median())
            if scale > 1 and torch.allclose(ratio[~dropped], torch.full_like(ratio[~dropped], scale), rtol=1e-4):
                return ("dropout", 1 - 1 / scale)
        k = int((~torch.isclose(b[pos], p[pos], rtol=1e-4, atol=1e-5)).nonzero()[0])
        return ("changed", float(p[pos][k]), float(b[pos][k]))
    return ("identity",)


def _effect(kind: tuple) -> str:
    """What a stage does to its values, in words, from _behaviour."""
    name = kind[0]
    if name == "relu":
        return "sets negative values to 0 (ReLU)"
    if name == "leaky":
        slope = kind[1]
        if slope < 0:
            return f"multiplies negative values by {slope:.3g}, which turns them positive (a negative slope)"
        return f"lets negative values through with slope {slope:.3g} (LeakyReLU({slope:.3g}))"
    if name == "identity":
        return "passes its values on unchanged, with no activation"
    if name == "tanh":
        return "squashes its values into [-1, 1] (tanh)"
    if name == "sigmoid":
        return "squashes its values into [0, 1] (sigmoid)"
    if name == "clamp":
        return "clips its values to [-1, 1] (a clamp or hardtanh)"
    if name == "dropout":
        return f"sets random values to 0 and scales the rest up (Dropout, p = {kind[1]:.2g})"
    if name == "curve":
        return f"bends negative values along a curve ({kind[1]:.3g} -> {kind[2]:.3g}; ELU, SELU, GELU or SiLU?)"
    return f"changes positive values too ({kind[1]:.3g} -> {kind[2]:.3g})"


def _where(layer: dict, between: list[dict], which: str) -> str:
    """"After `2` (BatchNorm2d), G's hidden stage, with `3` (LeakyReLU(...))," for a stage's message."""
    name = "G" if which == "G" else "D"
    shown = [c for c in between if c.get("type") not in ("Flatten", "Unflatten", "Identity")]
    where = f"After `{_text(layer.get('name'), 80)}` ({_text(layer.get('type'), 40)}), {name}'s hidden stage"
    return where + (f", with {' and '.join(_layer(c) for c in shown[:2])}," if shown else "")


def activation_fault(data, which: str) -> str | None:
    """The first hidden stage whose activation is not DCGAN's (ReLU in G, LeakyReLU(0.2) in D), judged by
    what it does to the values of the layer before it; None when every stage is right."""
    stages, _ = _stages(data)
    for layer, between, p, b in stages:
        kind = _behaviour(p, b, "relu" if which == "G" else "leaky")
        if kind is None:
            continue
        where = _where(layer, between, which)
        if which == "G":
            capped = next((c for c in between if c.get("type") == "ReLU6"), None)
            if kind == ("relu",) and capped is not None:  # ReLU on a fresh G's activations (all below 6), not in training
                return (f"{where} sets negative values to 0 and also clips values above 6 (ReLU6; the small activations "
                        f"of a freshly initialised G never reach 6, so only its name tells it from ReLU here): DCGAN's G "
                        f"uses plain nn.ReLU after each hidden BatchNorm")
            if kind == ("relu",):
                continue
            fix = ("each hidden stage of DCGAN's G is transposed conv -> BatchNorm -> ReLU, in that order (ReLU sets "
                   "negative values to 0 and keeps positive ones)")
            if kind[0] == "leaky" and kind[1] > 0:
                fix += "; LeakyReLU is D's activation"
            if kind[0] == "dropout":
                fix += "; DCGAN has no dropout"
            return f"{where} {_effect(kind)}: {fix}"
        if kind == ("leaky",) or (kind[0] == "leaky" and abs(kind[1] - 0.2) < 1e-3):
            continue
        fix = ("each hidden stage of DCGAN's D ends in LeakyReLU(0.2), which keeps positive values and scales negative "
               "ones by 0.2, so that they still pass a gradient back to G")
        if kind == ("relu",):
            fix += " (ReLU is G's activation)"
        elif kind[0] == "leaky" and abs(kind[1] - 0.01) < 1e-4:
            fix += ": 0.01 is nn.LeakyReLU()'s default slope, so pass negative_slope=0.2"
        elif kind[0] == "leaky" and kind[1] < 0:
            fix += ": the slope is +0.2"
        elif kind[0] == "dropout":
            fix += "; DCGAN has no dropout"
        elif kind == ("identity",) and any(c.get("type") == "LeakyReLU" and "negative_slope=True" in _text(c.get("repr"))
                                           for c in between):
            fix += (": nn.LeakyReLU(True) takes True as its slope (1: no activation), not as inplace, as nn.ReLU(True) "
                    "does; write nn.LeakyReLU(0.2, inplace=True)")
        elif kind == ("identity",) and layer.get("type") in BATCHNORM:
            fix += ("; the order is conv -> BatchNorm -> LeakyReLU(0.2): a LeakyReLU placed before this BatchNorm "
                    "leaves its output, which the next conv takes, with no activation")
        return f"{where} {_effect(kind)}: {fix}"
    return None


# ---------------------------------------------------------------------------------------------
# Parameters and layers
# ---------------------------------------------------------------------------------------------


def _modules(summary: dict) -> dict[str, str]:
    rows = summary.get("modules") if isinstance(summary, dict) else None
    if not isinstance(rows, list):
        return {}
    return {r[0]: r[1] for r in rows if isinstance(r, list) and len(r) == 2 and all(isinstance(v, str) for v in r)}


def _parameters(summary: dict) -> list[tuple[str, list[int]]]:
    rows = summary.get("parameters") if isinstance(summary, dict) else None
    out = []
    for r in rows if isinstance(rows, list) else []:
        if isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and _ints(r[1]) is not None:
            out.append((r[0], _ints(r[1])))
    return out


def _count(summary: dict) -> int:
    return sum(math.prod(shape) for _, shape in _parameters(summary))


def _weights(summary: dict, kinds: set[str]) -> list[tuple[str, str, list[int]]]:
    """[(module name, class name, weight shape)] of the modules of `kinds` (by class name), in order."""
    modules = _modules(summary)
    found = []
    for name, shape in _parameters(summary):
        owner, _, leaf = name.rpartition(".")
        if leaf == "weight" and modules.get(owner) in kinds:
            found.append((owner, modules[owner], shape))
    return found


def _is_conv(kind: str) -> bool:
    return "Conv" in kind


def _conv_key(kind: str, shape: list[int]) -> tuple[int, ...]:
    """(in channels, out channels, kernel height, kernel width) of a (transposed) conv's weight, which
    PyTorch stores as (in, out, kh, kw) for transposed and (out, in, kh, kw) for plain convolutions."""
    if len(shape) != 4:
        return tuple(shape)
    return (shape[0], shape[1], *shape[2:]) if "Transpose" in kind else (shape[1], shape[0], *shape[2:])


def _conv_text(kind: str, shape: list[int]) -> str:
    """"64 -> 32 channels with a 3x3 kernel" from a (transposed) conv's weight shape; "100 -> 1024 features" for a Linear."""
    if _is_conv(kind) and len(shape) == 4:
        c_in, c_out, kh, kw = _conv_key(kind, shape)
        return f"{c_in} -> {c_out} channel{'s' if c_out != 1 else ''} with a {kh}x{kw} kernel"
    if len(shape) == 2:
        return f"{shape[1]} -> {shape[0]} features"
    return f"weight {tuple(shape)}"


def extra_norm_fault(head: str, modules: dict[str, str], order: list[str] | None, have: int, want: int,
                     which: str) -> str:
    """Where the BatchNorm layers that the reference lacks sit, judged by the order in which the layers ran in a
    forward pass (`order`, module names), not the order in which they were registered; without a run (the
    forward raised), the registration order stands in. Every misplaced one is named."""
    order = order if order else list(modules)
    weighted = [k for k, n in enumerate(order) if _is_conv(modules.get(n, "")) or modules.get(n) in LINEAR]
    norms = [k for k, n in enumerate(order) if modules.get(n) in BATCHNORM]
    counts = f"{head}: it has {have} BatchNorm layers, the reference {want}"
    places = []
    if weighted and any(k < weighted[0] for k in norms):
        places.append("one normalises z before G's first layer (z is drawn from N(0, I) already; DCGAN normalises "
                      "only the outputs of G's hidden convs)" if which == "G" else
                      f"one normalises the images before D's first conv, where it {D_INPUT_NORM}")
    if which == "D" and len(weighted) > 1 and any(weighted[0] < k < weighted[1] for k in norms):
        places.append(f"one follows D's first conv: DCGAN puts no BatchNorm on D's input layer, where it {D_INPUT_NORM}")
    if weighted and any(k > weighted[-1] for k in norms):
        places.append(f"one comes after D's output conv, where it {D_OUTPUT_NORM}" if which == "D" else
                      "DCGAN puts no BatchNorm on G's output layer (it would fix the samples' mean and spread per batch, "
                      "and the paper found that it made training oscillate)")
    if places:
        return f"{counts}: {'; '.join(places)}"
    convs = "every hidden conv" if which == "G" else "every conv but the first and the last"
    return f"{counts}: DCGAN puts one BatchNorm2d after {convs} and no other"


def run_order(submission, model, which: str) -> list[str] | None:
    """The names of the student's layers in the order they ran on the checks' inputs; None if the forward raised."""
    try:
        ran = submission.run(probes.ran_modules, model, inputs(which))
    except Exception:  # noqa: BLE001 - the shape check names a forward that raises
        return None
    rows = ran if isinstance(ran, list) else []
    names = [r[0] for r in rows if isinstance(r, list) and len(r) == 2 and isinstance(r[0], str)]
    return names or None


def wider_summary(submission, which: str) -> dict | None:
    """module_summary of the student's network built at width WIDER; None if it cannot be built (its other
    checks say why)."""
    try:
        wider = submission.run(probes.build, submission.get(G_FN if which == "G" else D_FN), 0,
                               **_default_kwargs(which, width=WIDER))
        summary = submission.run(probes.module_summary, wider)
    except (StudentError, AssertionError):
        return None
    return summary if isinstance(summary, dict) and summary.get("is_module") is True else None


def width_fault(which: str, mine: dict, wider: dict | None) -> str | None:
    """The message for a network whose parameter count does not change with its width argument (ngf for G, ndf
    for D; `wider`: its summary at WIDER): its widths are fixed numbers or a notebook global, so it passed at the
    checks' width by chance, or failed naming every layer; None otherwise."""
    if wider is None:
        return None
    arg = "ngf" if which == "G" else "ndf"
    return ignores_width((_count(mine), _count(wider)), G_FN if which == "G" else D_FN, arg, WIDTH)


def wider_parameter_fault(which: str, wider: dict | None, order: list[str] | None) -> str | None:
    """The message for a network with the reference's parameters at WIDTH but not at WIDER (`wider`: its summary
    there): a channel count written as a number that equals the reference's at WIDTH only; None otherwise."""
    fault = None if wider is None else parameter_fault(wider, reference_summaries(WIDER)[which], which, order, WIDER)
    if fault is None:
        return None
    arg, name = ("ngf", "G") if which == "G" else ("ndf", "D")
    return (f"{name} matches the reference at {arg} = {WIDTH} but not at {arg} = {WIDER}, so a channel count in it is "
            f"written as a number that fits {arg} = {WIDTH} only; build every width from `{arg}`. At {arg} = {WIDER}: "
            f"{fault}")


def _followed_by_norm(owner: str, modules: dict[str, str], order: list[str] | None) -> bool:
    """Whether the next conv, Linear or BatchNorm to run after layer `owner` (in `order`, the run order, else
    the registration order) is a BatchNorm."""
    order = order if order else list(modules)
    if owner not in order:
        return False
    for name in order[order.index(owner) + 1 :]:
        kind = modules.get(name, "")
        if kind in BATCHNORM:
            return True
        if _is_conv(kind) or kind in LINEAR:
            return False
    return False


def parameter_fault(mine: dict, ref: dict, which: str, order: list[str] | None = None, width: int = WIDTH) -> str | None:
    """Why the student's network has another number of parameters than the reference (both built at `width`);
    None if equal. order: the names of its layers in the order they ran (where an extra BatchNorm sits, and
    which conv a BatchNorm follows)."""
    have, want = _count(mine), _count(ref)
    if have == want:
        return None
    name = "G" if which == "G" else "D"
    head = f"{name} has {have:,} parameters at width {width}; the reference DCGAN has {want:,}"
    modules = _modules(mine)
    owners = [(n.rpartition(".")[0], n.rpartition(".")[2], shape) for n, shape in _parameters(mine)]
    biased = [(owner, shape) for owner, leaf, shape in owners
              if leaf == "bias" and (_is_conv(modules.get(owner, "")) or modules.get(owner) in LINEAR)]
    if biased:
        extra = sum(math.prod(s) for _, s in biased)
        linear = any(modules.get(owner) in LINEAR for owner, _ in biased)
        layers, layer = ("conv and Linear layer", "layer") if linear else ("conv", "conv")
        rest = "" if have - extra == want else " (and more differs once they are gone: run this check again)"
        names = f"{', '.join(f'`{n}`' for n, _ in biased[:4])}{' ...' if len(biased) > 4 else ''}"
        if any(_followed_by_norm(owner, modules, order) for owner, _ in biased):
            why = (f"the BatchNorm after a hidden {layer} adds its own shift, so a bias there is redundant, and the "
                   f"DCGAN reference has none")
        else:  # only layers with no BatchNorm after them: the redundancy argument does not apply
            why = (f"no BatchNorm follows {'it' if len(biased) == 1 else 'them'}, so a bias there is not redundant, "
                   f"but the task's stages are {layers}s without bias, as in the DCGAN reference code, which has "
                   f"none anywhere")
        return f"{head}: {extra:,} of them are the biases of {names}{rest}. Pass bias=False to every {layers}: {why}"
    learned = [(owner, modules.get(owner, "")) for owner, _, _ in owners
               if modules.get(owner, "") in ACTIVATIONS or "LU" in modules.get(owner, "")]
    if learned:
        owner, kind = learned[0]
        act = "ReLU" if which == "G" else "LeakyReLU(0.2)"
        return (f"{head}: `{owner}` ({kind}) is an activation with learnable parameters, which the reference does not "
                f"have: DCGAN's {name} uses {act}, a fixed function; replace every {kind} with nn.{act}")
    layers_mine = _weights(mine, {m for m in modules.values() if _is_conv(m)} | LINEAR)
    layers_ref = _weights(ref, {m for m in _modules(ref).values() if _is_conv(m)})
    if len(layers_mine) != len(layers_ref):
        return (f"{head}: it has {len(layers_mine)} conv/linear layers with weights, the reference {len(layers_ref)} "
                f"(one per stage of the sizes {' -> '.join(map(str, G_LADDER if which == 'G' else D_LADDER))})")
    widths = "ngf*4, ngf*2, ngf" if which == "G" else "ndf, ndf*2, ndf*4"
    for k, ((n, kind, shape), (_, ref_kind, ref_shape)) in enumerate(zip(layers_mine, layers_ref)):
        if _is_conv(kind) and _is_conv(ref_kind):
            same = _conv_key(kind, shape) == _conv_key(ref_kind, ref_shape)
        else:  # a Linear where the reference has a conv on a 1x1 input or a 4x4 map: the same map if as many weights
            same = math.prod(shape) == math.prod(ref_shape)
        if not same:
            return (f"{head}: its layer {k + 1} with weights, `{n}` ({kind}), maps {_conv_text(kind, shape)}; the reference's "
                    f"layer there maps {_conv_text(ref_kind, ref_shape)} (widths {widths}, "
                    f"with {'ngf' if which == 'G' else 'ndf'} = {width} here)")
    norms_mine = [s[0] for _, _, s in _weights(mine, BATCHNORM)]
    norms_ref = [s[0] for _, _, s in _weights(ref, BATCHNORM)]
    if len(norms_mine) < len(norms_ref):
        without = [n for n, kind in modules.items() if kind in BATCHNORM and not any(
            owner == n for owner, _, _ in owners)]
        if without and len(norms_mine) + len(without) == len(norms_ref):
            names = ", ".join(f"`{n}`" for n in without[:3]) + (" ..." if len(without) > 3 else "")
            subject = f"its BatchNorm layers {names} have" if len(without) > 1 else f"its BatchNorm {names} has"
            return (f"{head}: {subject} no learnable scale and shift (affine=False): DCGAN's BatchNorm2d learns both, "
                    f"2 numbers per channel; keep the default affine=True")
        which_convs = "every hidden conv" if which == "G" else "every conv but the first and the last"
        return (f"{head}: it has {len(norms_mine)} BatchNorm layers, the reference {len(norms_ref)}: "
                f"DCGAN puts a BatchNorm2d after {which_convs}")
    if len(norms_mine) > len(norms_ref):
        return extra_norm_fault(head, modules, order, len(norms_mine), len(norms_ref), which)
    if norms_mine != norms_ref:
        flat_norms = [(n, kind, shape[0]) for n, kind, shape in _weights(mine, BATCHNORM)]
        for (n, kind, got), want in zip(flat_norms, norms_ref):
            side = math.isqrt(got // want) if got % want == 0 else 0
            if got != want and kind == "BatchNorm1d" and side > 1 and side * side * want == got:
                return (f"{head}: `{n}` is a BatchNorm1d over {got:,} flat features, so it normalises every (channel, "
                        f"position) of the {want}-channel map on its own, with {2 * got:,} parameters; DCGAN normalises "
                        f"per channel: view the features as (N, {want}, {side}, {side}) first and use BatchNorm2d({want})")
        return f"{head}: its BatchNorm layers normalise {norms_mine} channels, the reference's {norms_ref}"
    return head


D_INPUT_NORM = ("would normalise away the images' brightness and contrast (and the paper found that it made "
                "training oscillate)")
D_OUTPUT_NORM = ("normalises the logits over the batch, so that a batch's logits always average to the BatchNorm's "
                 "shift and D cannot call a whole batch real or fake; DCGAN's output stage is the conv alone")


EPS = re.compile(r"\beps=([0-9.eE+-]+)")


def norm_eps_fault(calls: list[dict], name: str) -> str | None:
    """A BatchNorm whose eps is far from PyTorch's 1e-5: nn.BatchNorm2d(c, 0.8), Keras' momentum=0.8 passed
    as the second positional argument, which is eps (the slip of a widely copied PyTorch GAN collection)."""
    for call in calls:
        if _text(call.get("type"), 40) not in BATCHNORM:
            continue
        found = EPS.search(_text(call.get("repr")))
        try:
            eps = float(found.group(1)) if found else None
        except ValueError:
            eps = None
        if eps is not None and eps >= 1e-2:
            return (f"{name}'s {_layer(call)} has eps = {eps:g}: eps is added to the batch's variance before the square "
                    f"root, so with the small activations of the DCGAN init this BatchNorm hardly normalises at all; "
                    f"BatchNorm2d's second positional argument is eps, not momentum (Keras' BatchNormalization(momentum=0.8) "
                    f"ported as BatchNorm2d(c, 0.8)); keep the default, nn.BatchNorm2d(c)")
    return None


def layer_faults(calls: list[dict], which: str) -> str | None:
    """The first DCGAN rule the traced layers break, in words; None when they keep them all."""
    name = "G" if which == "G" else "D"
    types = [_text(c.get("type"), 40) for c in calls]
    for call, kind in zip(calls, types):
        if kind in POOLING:
            return (f"{name} uses {_layer(call)}: DCGAN has no pooling; a strided convolution halves the size and learns "
                    f"how (stride 2 instead of a fixed max or average)")
        if kind in UPSAMPLING and which == "G":
            return (f"G uses {_layer(call)}: DCGAN's G upsamples with strided transposed convolutions, which learn how to "
                    f"fill in the larger image, not with a fixed rule (nearest or bilinear)")
    weighted = [k for k, c in enumerate(calls) if isinstance(c.get("parameters"), int) and c["parameters"] > 0]
    linear = [k for k in weighted if types[k] in LINEAR]
    allowed = weighted[:1] if which == "G" else weighted[-1:]  # G's projection of z, D's output layer
    hidden = [k for k in linear if k not in allowed]
    if hidden:
        return (f"{name} uses {_layer(calls[hidden[0]])} as a hidden fully connected layer: DCGAN has none (every hidden "
                f"layer is a convolution, which keeps the image's 2-D layout and shares weights across positions)")
    norms = [k for k, kind in enumerate(types) if kind in BATCHNORM]
    convs = [k for k, c in enumerate(calls) if c.get("kind") in ("conv", "conv_transpose") or types[k] in LINEAR]
    if not norms:
        return (f"{name} has no BatchNorm: DCGAN puts BatchNorm2d after every hidden conv{' but the first' if which == 'D' else ''}; "
                f"it keeps each layer's activations at a steady scale and makes deep GANs train at all")
    if which == "G" and convs and any(k > convs[-1] for k in norms):
        return ("G has a BatchNorm after its output conv: DCGAN leaves it out of G's output layer (it would fix the samples' "
                "mean and spread per batch, and the paper found it made training oscillate); end with the conv and tanh")
    if which == "D" and convs and any(k > convs[-1] for k in norms):
        return f"D has a BatchNorm after its output conv: it {D_OUTPUT_NORM}"
    fault = norm_eps_fault(calls, name)
    if fault:
        return fault
    before = [k for k in norms if convs and k < convs[0]]
    if before and which == "G":
        return (f"G normalises z with {_layer(calls[before[0]])} before its first layer: z is drawn from N(0, I) already, "
                f"and DCGAN puts BatchNorm only after G's hidden transposed convs; remove it")
    if before:
        return (f"D normalises the images with {_layer(calls[before[0]])} before its first conv: DCGAN puts no BatchNorm "
                f"on D's input layer; it {D_INPUT_NORM}")
    if which == "D" and convs and len(convs) > 1 and any(convs[0] < k < convs[1] for k in norms):
        return ("D has a BatchNorm right after its first conv: DCGAN leaves it out of D's input layer (it would normalise "
                "away the images' brightness and contrast, and the paper found it made training oscillate)")
    return None


NORMALISATIONS = {  # kind: (the parameter of the hook API, the module of the parametrizations API, what it does)
    "spectral": ("weight_orig", "_SpectralNorm", "spectral-normalised (nn.utils.spectral_norm): each call divides the "
                 "weight by its largest singular value, SN-GAN's way of bounding D (Miyato et al. 2018)"),
    "weight": ("weight_g", "_WeightNorm", "weight-normalised (nn.utils.weight_norm): each weight is a direction times a "
               "learned scale (Salimans and Kingma 2016)"),
}


def normalised_layers(summary: dict) -> dict[str, list[str]]:
    """{kind: names of the layers whose weight that normalisation wraps} for "spectral" and "weight", through the hook
    API (the weight recomputed from `weight_orig` or `weight_g` at every call) or the parametrizations API."""
    found: dict[str, list[str]] = {kind: [] for kind in NORMALISATIONS}
    modules = _modules(summary)
    for kind, (parameter, module, _) in NORMALISATIONS.items():
        owners = [name.rpartition(".")[0] for name, _ in _parameters(summary) if name.rpartition(".")[2] == parameter]
        owners += [name.partition("parametrizations.")[0].rstrip(".") for name, cls in modules.items()
                   if cls == module and ".parametrizations." in f".{name}"]
        found[kind] = list(dict.fromkeys(owners))
    return found


def normalisation_fault(submission, which: str) -> str | None:
    """The fault of a G or D with spectral or weight normalisation around its layers (found by round four of the
    lessons' red team: SN-GAN's spectral norm around every conv passed all five checks, and through the
    parametrizations API the wrapped output conv was told of a BatchNorm after it); None when its layers are plain."""
    try:
        _, summary = build(submission, which)
    except Exception:  # noqa: BLE001 - a network that cannot be built is the other checks' to name
        return None
    name, conv = ("G", "nn.ConvTranspose2d") if which == "G" else ("D", "nn.Conv2d")
    for kind, layers in normalised_layers(summary).items():
        if layers:
            named = [f"`{n or name}`" for n in layers]
            listed = ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1]
            return (f"{name}'s layer{'s' if len(layers) > 1 else ''} {listed} {'are' if len(layers) > 1 else 'is'} "
                    f"{NORMALISATIONS[kind][2]}: not part of DCGAN, which keeps its convs plain (weights drawn from "
                    f"N(0, 0.02), BatchNorm after the hidden ones); build them as plain {conv}(...), without the "
                    f"wrapper")
    return None


def names_normalisation(which: str):
    """A check of G or D (`which`) whose failure, on a network with spectral or weight normalisation, names that
    instead: the traces of a wrapped layer mislead the other diagnoses (a conv not seen as one)."""
    def wrap(fn):
        @functools.wraps(fn)
        def checked(submission):
            try:
                fn(submission)
            except AssertionError:
                fault = normalisation_fault(submission, which)
                if fault:
                    raise AssertionError(fault) from None
                raise
        return checked
    return wrap


def _default_init(name: str, key: str, std: float, kind: str) -> str:
    """The fault of a conv weight that kept PyTorch's own init (std `std`): no DCGAN init reached it."""
    transposed = ("; a ConvTranspose2d is not an nn.Conv2d, so an init that tests isinstance(m, nn.Conv2d) "
                  "skips it (the course's weights_init tests for both)") if "Transpose" in kind else ""
    return (f"{name}'s `{key}` has standard deviation {std:.3f}, PyTorch's default for its size, not 0.02: no "
            f"DCGAN init reached it; DCGAN draws every conv weight from N(0, 0.02): apply that init to the "
            f"whole network before returning it ({name}.apply(weights_init), not a part of it){transposed}")


def init_fault(state: dict, summary: dict, which: str) -> str | None:
    """Conv weights not drawn from N(0, 0.02), or BatchNorm scales not around 1; None if fine."""
    name = "G" if which == "G" else "D"
    modules = _modules(summary)
    for key, value in state.items() if isinstance(state, dict) else []:
        if not (isinstance(key, str) and isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() >= 16):
            continue
        owner, _, leaf = key.rpartition(".")
        kind = modules.get(owner, "")
        w = value.detach().double()
        linear = kind in LINEAR  # G's projection of z or D's output layer (a hidden one is a fault of the layers check)
        if leaf == "weight" and (_is_conv(kind) or linear) and w.dim() > 1:
            std, mean = float(w.std()), float(w.mean())
            fan_in = math.prod(w.shape[1:])
            # PyTorch's own init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)): its std is 1/sqrt(3 fan_in), which is 0.018, inside
            # the range of 0.02 below, for the layers of fan_in 1024 at width 16 (G's first, D's last); its bound tells it
            # apart there (N(0, 0.02) passes 1.6 std with hundreds of weights)
            default = abs(std * math.sqrt(3 * fan_in) - 1) < 0.15
            bounded = default and float(w.abs().max()) <= (1 + 1e-6) / math.sqrt(fan_in)
            if linear and (bounded or not 0.017 <= std <= 0.023):
                what = f"standard deviation {std:.3f}" + (", PyTorch's default for its size" if default else "")
                return (f"{name}'s `{key}` (an nn.Linear) has {what}, not 0.02: `weights_init` (the course's, like the "
                        f"DCGAN code's) reaches only conv and BatchNorm layers, so a Linear keeps PyTorch's init unless "
                        f"you draw it yourself; DCGAN draws every weight from N(0, 0.02): add nn.init.normal_(m.weight, "
                        f"0.0, 0.02) for the Linear (or make that stage the conv the docstring gives)")
            if bounded:
                return _default_init(name, key, std, kind)
            if not 0.017 <= std <= 0.023:
                if abs(std - 1) < 0.1:  # N(0.02, 1): the std left at normal_'s default 1
                    return (f"{name}'s `{key}` has standard deviation {std:.3f}, not 0.02: nn.init.normal_(w, 0.02) (or "
                            f"w.data.normal_(0.02)) passes 0.02 as the mean and keeps the default std, 1; the std is "
                            f"the third argument: nn.init.normal_(m.weight, 0.0, 0.02), or std=0.02 by name")
                if not default:
                    return (f"{name}'s `{key}` has standard deviation {std:.3f}, not 0.02: DCGAN draws every conv weight "
                            f"from N(0, 0.02); draw them with std 0.02 (nn.init.normal_(m.weight, 0.0, 0.02), as "
                            f"`weights_init` does)")
                return _default_init(name, key, std, kind)
            if abs(mean) > 0.005:
                return f"{name}'s `{key}` has mean {mean:.3f}: DCGAN's init draws the conv weights from N(0, 0.02), mean 0"
        if leaf == "weight" and kind in BATCHNORM and abs(float(w.mean()) - 1) > 0.05:
            return (f"{name}'s `{key}` (BatchNorm's scale) has mean {float(w.mean()):.3f}: start it around 1 (N(1, 0.02) in "
                    f"the DCGAN code, or PyTorch's 1); near 0 it multiplies every activation by almost nothing")
    return None


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


@check(points=1, visible=True)
@names_normalisation("G")
def test_generator_shape(submission):
    """The generator turns z (N, nz) into images (N, 1, 28, 28)."""
    for nz in (NZ, 32):
        try:
            run, calls = run_forward(submission, "G", nz)
        except AssertionError as err:
            if nz == NZ:
                raise
            raise AssertionError(f"G works for nz = {NZ} but not for nz = {nz}: use the `nz` argument wherever the size of z "
                                 f"enters, do not write {NZ} ({err})") from None
        shape = _output_shape(run)
        if shape == [N, 1, 28, 28]:
            continue
        if nz != NZ:
            raise AssertionError(f"G works for nz = {NZ} but returns {_shape_text(shape)} for nz = {nz}: use the `nz` argument")
        found = _ladder_break(calls, G_LADDER)
        if found is not None:
            raise AssertionError(f"G returns {_shape_text(shape)}, not (N, 1, 28, 28): {_break_text(found, 'G')}")
        if shape is not None and len(shape) == 4 and shape[0] == N and shape[2:] == [28, 28]:
            raise AssertionError(f"G returns {_shape_text(shape)}: {shape[1]} channels; MNIST is greyscale, so the output "
                                 f"conv makes 1 channel")
        if shape == [N, 784]:
            raise AssertionError("G returns flat vectors (N, 784): return images (N, 1, 28, 28), the output of the last "
                                 "transposed conv")
        raise AssertionError(f"G returns {_shape_text(shape)} for z of shape (N, {nz}), not (N, 1, 28, 28)")
    fault = wider_fault(submission, "G")
    if fault:
        raise AssertionError(fault)


@check(points=1, visible=True)
@names_normalisation("G")
def test_generator_range(submission):
    """The generator's images lie in [-1, 1], the range of the real images (a final tanh)."""
    run, _ = working(submission, "G")
    model, _ = build(submission, "G")
    big = submission.run(probes.scaled_forward, model, inputs("G"), SCALE)
    values = [v for v in (_values(run), big.detach().double() if isinstance(big, torch.Tensor) else None) if v is not None]
    if not values or not all(torch.isfinite(v).all() for v in values):
        raise AssertionError("G's output is not a finite float tensor")
    low, high = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
    if high > 1 + 1e-6 or low < -1 - 1e-6:
        raise AssertionError(f"G's pixels reach [{low:.2f}, {high:.2f}] (with its weights scaled up {SCALE:g} times): nothing bounds "
                             f"them to [-1, 1], the range the real images are scaled to; end G with nn.Tanh")
    _, last = _stages(submission.run(_stage_probe(), model, inputs("G"), scale=SCALE))
    kind = None if last is None else _behaviour(last[2], last[3], "tanh")
    if low >= 0 and kind == ("tanh",):
        raise AssertionError(
            f"G ends with tanh, but the output of {_layer(last[0])} is never negative, even with its weights scaled up, "
            f"so the pixels never reach -1 (black): its inputs come from ReLU (>= 0), so its weights are all positive; "
            f"draw them with mean 0, N(0, 0.02), the DCGAN init")
    after = [m.get("type") for m in last[1] if isinstance(m, dict)] if last is not None else []
    before_tanh = after[:after.index("Tanh")] if "Tanh" in after else []
    if low >= 0 and (cut := next((t for t in before_tanh if t in ("ReLU", "ReLU6", "Sigmoid", "Softplus", "ELU")), None)):
        raise AssertionError(
            f"G's pixels all lie in [0, 1], even with its weights scaled up: G ends with tanh, but a {cut} runs before it, "
            f"and the tanh of a value that is never negative is never negative either, so the pixels never reach -1 "
            f"(black); remove the {cut}: the last conv's output goes straight into the tanh")
    if low >= 0:
        raise AssertionError("G's pixels all lie in [0, 1], even with its weights scaled up: a Sigmoid at the end? The real "
                             "images are scaled to [-1, 1] (black is -1), so G must reach -1 too: end with nn.Tanh")
    if kind == ("clamp",):
        raise AssertionError(
            f"G clips the output of {_layer(last[0])} to [-1, 1] (torch.clamp or nn.Hardtanh) instead of a tanh: the "
            f"pixels stay in range, but wherever the conv's output passes -1 or 1 the gradient is 0 and those pixels "
            f"stop learning; end G with tanh, which is smooth and never flat")
    if kind is not None and kind != ("tanh",):
        raise AssertionError(f"G's output is not the tanh of the output of {_layer(last[0])}: after it, G {_effect(kind)}; "
                             f"DCGAN's output stage is the last transposed conv followed by tanh")


@check(points=1, visible=True)
@names_normalisation("G")
def test_generator_parameters(submission):
    """The generator has exactly the reference DCGAN's number of parameters."""
    model, mine = build(submission, "G")
    wider, order = wider_summary(submission, "G"), run_order(submission, model, "G")
    fault = (width_fault("G", mine, wider) or parameter_fault(mine, reference_summaries()["G"], "G", order)
             or wider_parameter_fault("G", wider, order))
    if fault:
        raise AssertionError(fault)


@check(points=1, visible=True)
@names_normalisation("G")
def test_generator_layers(submission):
    """The generator follows the DCGAN rules: transposed convs, BatchNorm, ReLU, no pooling or hidden Linear."""
    _, calls = working(submission, "G")
    fault = normalisation_fault(submission, "G") or layer_faults(calls, "G")
    if fault is None:
        model, _ = build(submission, "G")
        fault = activation_fault(submission.run(_stage_probe(), model, inputs("G")), "G")
    if fault:
        raise AssertionError(fault)


@check(points=1, visible=True)
@names_normalisation("G")
def test_generator_init(submission):
    """The generator's weights start from the DCGAN init, N(0, 0.02)."""
    model, summary = build(submission, "G")
    fault = init_fault(model.state_dict(), summary, "G")
    if fault:
        raise AssertionError(fault)


# ---------------------------------------------------------------------------------------------
# The discriminator
# ---------------------------------------------------------------------------------------------


@check(points=1, visible=True)
@names_normalisation("D")
def test_discriminator_shape(submission):
    """The discriminator turns images (N, 1, 28, 28) into one logit each, shape (N,)."""
    run, calls = run_forward(submission, "D")
    shape = _output_shape(run)
    if shape == [N] and (fault := wider_fault(submission, "D")):
        raise AssertionError(fault)
    if shape == [N]:
        model, _ = build(submission, "D")
        try:  # the last batch of an epoch can hold a single image
            one = submission.run(probes.scaled_forward, model, inputs("D")[:1], 1.0)
        except Exception:  # noqa: BLE001 - a layer that refuses one sample (BatchNorm1d in training) is PyTorch's rule
            return
        if isinstance(one, torch.Tensor) and tuple(one.shape) != (1,):
            raise AssertionError(
                f"D returns shape {tuple(one.shape)} for a batch of one image, not (1,): .squeeze() removes every "
                f"dimension of size 1, the batch's too when N = 1 (the last batch of an epoch can hold one image); "
                f"flatten with nn.Flatten(0) or .view(-1), which keep one logit per image")
        return
    if shape is not None and shape[:1] == [N] and math.prod(shape[1:]) == 1:
        raise AssertionError(f"D returns {_shape_text(shape)}: one logit per image, but not flattened; return shape (N,) "
                             f"(e.g. nn.Flatten(0) as the last layer, or .view(-1) on the output)")
    found = _ladder_break(calls, D_LADDER)
    if found is not None:
        raise AssertionError(f"D returns {_shape_text(shape)}, not (N,): {_break_text(found, 'D')}")
    raise AssertionError(f"D returns {_shape_text(shape)} for images (N, 1, 28, 28), not one logit per image (N,)")


@check(points=1, visible=True)
@names_normalisation("D")
def test_discriminator_logits(submission):
    """The discriminator returns logits (any real number), not probabilities: no final Sigmoid."""
    run, calls = working(submission, "D")
    model, _ = build(submission, "D")
    big = submission.run(probes.scaled_forward, model, inputs("D"), SCALE)
    values = [v for v in (_values(run), big.detach().double() if isinstance(big, torch.Tensor) else None) if v is not None]
    last = _text(calls[-1].get("type"), 40) if calls else ""
    low = min((float(v.min()) for v in values), default=0.0)
    high = max((float(v.max()) for v in values), default=0.0)
    if last == "Sigmoid" or (values and low >= 0 and high <= 1):
        raise AssertionError(
            "D's outputs all lie in [0, 1], even with its weights scaled up: it ends in a Sigmoid. Return the raw logit "
            "(end with the last conv): the course's losses take logits and apply the sigmoid inside (softplus, "
            "BCE-with-logits), which stays accurate where a separate sigmoid rounds to 0 or 1 and log(0) is -inf"
        )
    if values and low >= 0:
        raise AssertionError(f"D's outputs are all >= 0 ({last or 'an activation'} after the last conv?): a logit can be any real "
                             f"number, negative for 'fake'; end D with the last conv")
    _, end = _stages(submission.run(_stage_probe(), model, inputs("D"), scale=SCALE))
    kind = None if end is None else _behaviour(end[2], end[3], "identity")
    if kind is not None and kind != ("identity",):
        raise AssertionError(
            f"D's output is not the raw output of {_layer(end[0])}: after it, D {_effect(kind)}. A logit can be any real "
            f"number (D(x) is its sigmoid, which the losses apply), so the output stage is the conv alone: return its output")


@check(points=1, visible=True)
@names_normalisation("D")
def test_discriminator_parameters(submission):
    """The discriminator has exactly the reference DCGAN's number of parameters."""
    model, mine = build(submission, "D")
    wider, order = wider_summary(submission, "D"), run_order(submission, model, "D")
    fault = (width_fault("D", mine, wider) or parameter_fault(mine, reference_summaries()["D"], "D", order)
             or wider_parameter_fault("D", wider, order))
    if fault:
        raise AssertionError(fault)


@check(points=1, visible=True)
@names_normalisation("D")
def test_discriminator_layers(submission):
    """The discriminator follows the DCGAN rules: strided convs, BatchNorm, LeakyReLU, no pooling or hidden Linear."""
    _, calls = working(submission, "D")
    fault = normalisation_fault(submission, "D") or layer_faults(calls, "D")
    if fault is None:
        model, _ = build(submission, "D")
        fault = activation_fault(submission.run(_stage_probe(), model, inputs("D")), "D")
    if fault:
        raise AssertionError(fault)


@check(points=1, visible=True)
@names_normalisation("D")
def test_discriminator_init(submission):
    """The discriminator's weights start from the DCGAN init, N(0, 0.02)."""
    model, summary = build(submission, "D")
    fault = init_fault(model.state_dict(), summary, "D")
    if fault:
        raise AssertionError(fault)
