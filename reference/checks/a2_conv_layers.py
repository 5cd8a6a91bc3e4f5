"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a2_conv_layers.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import math
import re
import torch
from reference.grading import NAMESPACE, Partial, StudentError, check
from reference.grading.checks import BATCH_FIXED, CHANGED_AFTER_TANH, END_WITH_TANH, REACH, batch_hint, clean_text, ignored_noise, ignores_width, short_of_one
from reference.grading.checks import parameter_count as count_parameters
from reference.grading import learning, probes, probes_a2
from reference.grading.proxy import finite
ASSIGNMENT = "a2_conv_layers"
NGF = 16  # the width the checks build the generator at: fast, and the same code as ngf = 64
NOTEBOOK_NGF = (
    "; the layers before it make 4 times as many, as a Generator(NZ, NGF, ...) built from the notebook's NGF = 64 does: "
    "the checks build DeeperGenerator(ngf=16), so build every part from the `nz` and `ngf` arguments, not the globals"
)
NZ = 100
LADDER = (1, 4, 7, 14, 28)  # z as (N, nz, 1, 1), then each stage of the given generator
STAGES = {1: (4, 1, 0), 4: (3, 2, 1), 7: (4, 2, 1), 14: (4, 2, 1)}  # size -> (kernel, stride, padding) of the given stage
KEEP = "a layer between two stages must keep height and width: kernel 3, stride 1, padding 1"
BATCH_TENSOR = "is made for a fixed batch of"  # a tensor of forward's own with the batch size written in (see batch_hint)
Z_FLAT = "a conv takes (N, C, H, W): reshape z (N, nz) to (N, nz, 1, 1) before the first conv"
AFTER_TANH = (
    "nn.Tanh() follows its last conv, but the Tanh's output is changed afterwards (such as (x + 1) / 2 or a clamp to "
    "[0, 1]): return the Tanh's output as it is; the images are scaled to [-1, 1], and the plots map them back themselves"
)
REGISTER = (
    "layers kept in a plain Python list or dict (or made in forward) are not registered, so .parameters(), the "
    "optimizer and weights_init never see them and they never learn: keep them in nn.Sequential or nn.ModuleList, "
    "assigned in __init__"
)
Z_SCALE = 1000.0  # z scaled up in the range check when scaled weights alone leave the output small (spectral norm)


def build_generator(submission, nz: int = NZ, ngf: int = NGF, seed: int = 0):
    """The student's `DeeperGenerator(nz=nz, ngf=ngf)` built in the worker with `seed`, in training mode (a handle)."""
    cls = submission.get("DeeperGenerator")
    G = submission.run(probes.build, cls, seed, nz=nz, ngf=ngf)
    summary = submission.run(probes.module_summary, G)
    if not (isinstance(summary, dict) and summary.get("is_module") is True):
        kind = summary.get("type") if isinstance(summary, dict) and isinstance(summary.get("type"), str) else "value"
        raise AssertionError(
            f"`DeeperGenerator(nz={nz}, ngf={ngf})` made a {kind[:40]}, not a torch nn.Module: subclass nn.Module and "
            f"call super().__init__()"
        )
    return G


def noise(n: int, nz: int = NZ, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))


def text(value, limit: int = 160) -> str:
    """Untrusted text, printable and at most `limit` characters."""
    return clean_text(value, limit)


def ints(value) -> list[int] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return None


def shape_text(shape, batch: int | None = None) -> str:
    """"(N, 1, 32, 32)" for a batch of `batch` images, the exact shape otherwise."""
    dims = ints(shape)
    if dims is None:
        return "something that is not a tensor"
    return "(" + ", ".join("N" if (k == 0 and d == batch) else str(d) for k, d in enumerate(dims)) + ")"


def layer_text(call: dict) -> str:
    """"`main.10` (ConvTranspose2d(16, 16, kernel_size=(3, 3), stride=(1, 1)))" for a traced call."""
    kind = text(call.get("type"), 40) or "layer"
    described = f"{kind}({text(call.get('repr'))})"
    name = call.get("name")
    return f"`{text(name, 80)}` ({described})" if isinstance(name, str) and name else f"an unregistered {described}"


def calls_of(run: dict) -> list[dict]:
    calls = run.get("calls") if isinstance(run, dict) else None
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def size(shape) -> tuple[int, int] | None:
    """(H, W) of an activation (N, C, H, W); (1, 1) for z (N, nz); None otherwise."""
    dims = ints(shape)
    if dims is None:
        return None
    if len(dims) == 2:
        return (1, 1)
    return (dims[2], dims[3]) if len(dims) == 4 else None


def ladder_break(calls: list[dict]) -> dict | None:
    """The first finished call whose output size is neither its input's nor the next size of the ladder."""
    for call in calls:
        before, after = size(call.get("in")), size(call.get("out"))
        if before is None or after is None or after == before:
            continue
        h = before[0]
        expected = LADDER[LADDER.index(h) + 1] if h in LADDER[:-1] and before[0] == before[1] else None
        if after != (expected, expected):
            return call
    return None


def fixed_tensor_text(fixed: int, batch: int) -> str:
    """batch_hint's words for a parameter or tensor of forward's own made for a fixed batch (as (64, 1, 28, 28))."""
    return (f": a tensor in forward {BATCH_TENSOR} {fixed} (its first dimension), but batches have any size N (here {batch}): "
            f"give a parameter or tensor of your own no batch dimension, such as shape (1, C, H, W), which broadcasts over "
            f"the batch, or size it from the input, x.shape[0]")


def dilation_fix(call: dict) -> str:
    """For a dilated stride-1 conv, the padding that keeps its size: dilation * (kernel - 1) / 2; "" otherwise."""
    dilation, kernel = ints(call.get("dilation")), ints(call.get("kernel"))
    if not dilation or not kernel or max(dilation) == 1 or len(set(dilation)) != 1 or len(set(kernel)) != 1:
        return ""
    d, k = dilation[0], kernel[0]
    if d * (k - 1) % 2:
        return f" (its dilation {d} spreads the {k}x{k} kernel over {d * (k - 1) + 1} pixels, which no padding centres: drop dilation={d})"
    return f" without dilation; with dilation={d} a {k}x{k} kernel spans {d * (k - 1) + 1} pixels and needs padding {d * (k - 1) // 2}"


def kernel_fix(call: dict) -> str:
    """For a stride-1 conv with a square kernel other than 3 (dilation 1): the padding that keeps its size with that
    kernel, (kernel - 1) / 2, or why an even kernel cannot; "" otherwise."""
    dilation, kernel = ints(call.get("dilation")) or [1], ints(call.get("kernel"))
    if not kernel or max(dilation) != 1 or len(set(kernel)) != 1 or kernel[0] in (1, 3):
        return ""
    k = kernel[0]
    if k % 2:
        return f" (or keep its kernel {k} with padding {(k - 1) // 2}: a kernel k keeps the size with padding (k - 1) / 2)"
    return f" (its kernel {k} is even: no padding p on both sides keeps the size with stride 1, since p = (k - 1) / 2 is not a whole number; use an odd kernel)"


def extra_step_text(call: dict, calls: list[dict], batch: int) -> str | None:
    """For a layer that grows an image already at the ladder's last size (an added stride-2 layer whose output
    was still a size of the ladder made the image 28x28 a stage early, so the given last stage is the one that
    leaves the ladder): every size change named, and the fix; else None."""
    before, after = size(call.get("in")), size(call.get("out"))
    if not before or not after or before != (LADDER[-1], LADDER[-1]) or after[0] <= before[0]:
        return None
    steps = [c for c in calls[: calls.index(call) + 1] if size(c.get("in")) and size(c.get("out")) and size(c.get("in")) != size(c.get("out"))]
    shown = ", ".join(f"{size(c.get('in'))[0]} -> {size(c.get('out'))[0]} by " + (f"`{c['name']}`" if c.get("name") else str(c.get("type")))
                      for c in steps[-6:])
    return (
        f"{layer_text(call)} turns {shape_text(call.get('in'), batch)} into {shape_text(call.get('out'), batch)}: the image is "
        f"already {LADDER[-1]}x{LADDER[-1]} there, so an earlier layer changed its size once too often ({shown}; the ladder "
        f"is {' -> '.join(map(str, LADDER[1:]))}): {KEEP}"
    )


def break_text(call: dict, batch: int, calls: list[dict] | None = None) -> str:
    """Why `call` leaves the ladder, and the fix for its kind of layer."""
    if calls is not None and (extra := extra_step_text(call, calls, batch)):
        return extra
    got = f"{layer_text(call)} turns {shape_text(call.get('in'), batch)} into {shape_text(call.get('out'), batch)}"
    stride = ints(call.get("stride"))
    before = size(call.get("in"))
    if call.get("kind") in ("conv", "conv_transpose") and stride and max(stride) == 1:
        return f"{got}: {KEEP}{dilation_fix(call) or kernel_fix(call)}"
    if call.get("kind") == "conv_transpose" and before and before[0] in STAGES:
        k, s, p = STAGES[before[0]]
        nxt = LADDER[LADDER.index(before[0]) + 1]
        extra = ints(call.get("output_padding")) or [0]
        if ints(call.get("kernel")) == [k, k] and ints(call.get("stride")) == [s, s] and ints(call.get("padding")) == [p, p] and max(extra) > 0:
            return (f"{got}: its output_padding={max(extra)} adds {max(extra)} to the size; kernel {k}, stride {s}, padding {p} "
                    f"make {nxt}x{nxt} on their own, as in the given generator: drop output_padding")
        default = (before[0] == 4 and ints(call.get("kernel")) == [4, 4] and ints(call.get("stride")) == [2, 2]
                   and ints(call.get("padding")) == [1, 1])  # Generator(nz, ngf)'s own ladder: 64x64 colour images
        return (f"{got}; the stage from {before[0]}x{before[0]} to {nxt}x{nxt} takes kernel {k}, stride {s}, padding {p}, as in "
                f"the given generator" + ("; Generator(nz, ngf) alone builds the 64x64 colour ladder (kernel 4 at every stage): "
                                          "pass channels=1, size=28 as the given cell does" if default else ""))
    if before and before[0] in LADDER[:-1]:
        nxt = LADDER[LADDER.index(before[0]) + 1]
        if "Upsampl" in str(call.get("type")):  # nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d
            return (f"{got}; after {before[0]}x{before[0]} the next size is {nxt}x{nxt} (4 -> 7 -> 14 -> 28): give the "
                    f"upsampling that size, nn.Upsample(size={nxt}), instead of a scale factor")
        return f"{got}; after {before[0]}x{before[0]} the next size is {nxt}x{nxt} (4 -> 7 -> 14 -> 28)"
    return f"{got}, off the generator's sizes 4 -> 7 -> 14 -> 28"


def error_text(run: dict, batch: int, nz: int) -> str:
    """What raised in a traced forward: the layer, and the fix for a channel mismatch."""
    err = StudentError.from_info(run.get("error"))
    calls = calls_of(run)
    failed = run.get("failed")
    call = calls[failed] if isinstance(failed, int) and not isinstance(failed, bool) and 0 <= failed < len(calls) else None
    if call is None:
        return err.describe() + batch_hint(err.message, batch, fixed_tensor_text)
    got = ints(call.get("in"))
    wants = call.get("in_channels")
    if call.get("kind") in ("conv", "conv_transpose") and got and len(got) == 2:
        return f"{layer_text(call)} gets {shape_text(got, batch)}, 2-D: {Z_FLAT}, with nn.Unflatten(1, (nz, 1, 1)) or z.view(-1, nz, 1, 1)"
    if isinstance(wants, int) and got and len(got) >= 2 and got[1] != wants:
        if wants == NZ and got[1] == nz != NZ:
            return f"{layer_text(call)} takes {wants} input channels but gets z as {shape_text(got, batch)}: use the `nz` argument, do not fix it at {NZ}"
        notebook = NOTEBOOK_NGF if got[1] * NGF == wants * 64 else ""  # 4 times the channels: the notebook's NGF = 64
        return (
            f"{layer_text(call)} takes {wants} channels but gets {shape_text(got, batch)}: its in_channels must be the "
            f"channels at that point (the out_channels of the layer before it: ngf*4 at 4x4, ngf*2 at 7x7, ngf at 14x14){notebook}"
        )
    if call.get("type") in ("BatchNorm2d", "BatchNorm1d") and got and len(got) >= 2:
        return f"{layer_text(call)} gets {shape_text(got, batch)}: its num_features must be the channels of its input ({got[1]})"
    on = f" on its input {shape_text(got, batch)}" if got else ""
    return f"{layer_text(call)} raised {err.type}{on}: {err.message}{batch_hint(err.message, batch, fixed_tensor_text)}"


def reshaped_fault(shape: list[int]) -> str:
    """For an output (N, ...) that holds each image's 28 x 28 pixels in another shape: what it is and the fix."""
    if shape[1:] == [28, 28, 1]:
        return (", channels last: PyTorch's images are (N, C, H, W), with the channel in dim 1, as the last "
                "ConvTranspose2d makes them: return its output without permuting it")
    return (": it holds each image's 28 x 28 pixels in another shape; the training loop and D take images (N, 1, 28, 28), as the "
            "last ConvTranspose2d makes them: return its output as it is (no flatten, view or squeeze after it)")


def generator_fault(run: dict, batch: int, nz: int) -> str | None:
    """Why G's output is not (N, 1, 28, 28) for z (N, nz), in words; None when it is."""
    calls = calls_of(run)
    found = ladder_break(calls)
    if run.get("error") is not None:
        failed = run.get("failed")
        if found is not None and (not isinstance(failed, int) or calls.index(found) < failed):
            return f"fails: {break_text(found, batch, calls)}"
        return f"fails: {error_text(run, batch, nz)}"
    out = run.get("output") if isinstance(run.get("output"), dict) else {}
    if out.get("type") != "Tensor":
        return f"is a {text(out.get('type'), 40) or 'value'}, not a tensor"
    shape = ints(out.get("shape"))
    if shape == [batch, 1, 28, 28]:
        return None
    told = f"is {shape_text(shape, batch)}"
    if shape and len(shape) >= 2 and shape[0] == batch and math.prod(shape[1:]) == 28 * 28:
        return f"{told}{reshaped_fault(shape)}"
    if found is not None:
        return f"{told}: {break_text(found, batch, calls)}"
    if shape and len(shape) == 4 and shape[0] == batch and shape[2:] == [28, 28]:
        convs = [c for c in calls if c.get("kind") and c.get("out") is not None]
        made = ints(convs[-1].get("out")) if convs else None
        if made and len(made) == 4 and made[1] == 1 and made[2:] == [28, 28]:  # the last conv is right: forward adds channels
            return (f"{told}: its last conv, {layer_text(convs[-1])}, makes the 1 channel the digits have, and forward turns "
                    f"it into {shape[1]} after it (torch.cat, repeat or expand of the image): return the last stage's output as it is")
        where = f"its last conv, {layer_text(convs[-1])}, makes" if convs else "it makes"
        return f"{told}: {where} {shape[1]} channels; the digits have 1: the last stage is nn.ConvTranspose2d(ngf, 1, 4, 2, 1)"
    if shape and len(shape) == 4 and shape[0] == batch and shape[2] == shape[3] and shape[2] in LADDER:
        return f"{told}: its layers stop at {shape[2]}x{shape[3]}; keep every stage of the given generator (4 -> 7 -> 14 -> 28)"
    if shape and shape[0] != batch:
        return f"{told} for N = {batch}: keep the batch dimension"
    return told


def diagnosed(submission, G, err: StudentError, batch: int = 4) -> AssertionError:
    """The failure to report when G's forward raised `err` in a check: the layer that raised, from a trace."""
    if err.not_implemented:
        raise err
    fault = generator_fault(submission.run(probes_a2.trace, G, noise(batch), NAMESPACE), batch, NZ)
    return AssertionError(f"generator output {fault}; expected (N, 1, 28, 28)" if fault else err.describe())


def never_negative_fix(submission, G) -> str:
    """The fix for an output that is never negative: when a Tanh ran right after the last conv, the
    Tanh's output was changed after it; else END_WITH_TANH (a Sigmoid for the Tanh, a ReLU before it)."""
    run = submission.run(probes_a2.trace, G, noise(4), NAMESPACE)
    calls = [c for c in calls_of(run) if c.get("out") is not None]
    convs = [k for k, c in enumerate(calls) if c.get("kind") is not None]
    after = calls[convs[-1] + 1 :] if convs else []
    return AFTER_TANH if run.get("error") is None and after and after[0].get("type") == "Tanh" else END_WITH_TANH


def unbounded_fix(submission, G) -> str:
    """The fix for an output that leaves [-1, 1]: when layers with weights run after G's last nn.Tanh (a block
    added after the output), those layers named; else "end the generator with nn.Tanh()"."""
    run = submission.run(probes_a2.trace, G, noise(4), NAMESPACE)
    calls = [c for c in calls_of(run) if c.get("out") is not None]
    tanhs = [k for k, c in enumerate(calls) if c.get("type") == "Tanh"]
    after = [c for c in calls[tanhs[-1] + 1 :] if finite(c.get("parameters")) and c.get("parameters") > 0] if tanhs else []
    if run.get("error") is None and after:
        names = ", ".join(layer_text(c) for c in after[:2]) + (", ..." if len(after) > 2 else "")
        return (f"{names} run{'s' if len(after) == 1 else ''} after the nn.Tanh(), which no longer bounds the output: "
                f"put the added layers before the last stage, and keep nn.Tanh() the generator's last layer")
    if run.get("error") is None and tanhs and tanhs[-1] == len(calls) - 1:
        return CHANGED_AFTER_TANH
    return "end the generator with nn.Tanh(), after the last conv"


def registered_parameters(submission, G) -> int:
    """How many parameter tensors G has registered (trainable or not)."""
    summary = submission.run(probes.module_summary, G)
    params = summary.get("parameters") if isinstance(summary, dict) else None
    return sum(1 for p in params if isinstance(p, list) and len(p) == 3) if isinstance(params, list) else 0


def parameter_count(submission, G) -> int | None:
    """How many parameter elements G holds (trainable or not); None when the summary is malformed."""
    return count_parameters(submission.run(probes.module_summary, G))


OVERSIZE = 32  # a side past 28 by more than a pad of 2 on each side: a ladder of a larger size (the tutorial's 64x64)


def resized_output(run: dict) -> str | None:
    """Why G's 28x28 output is not drawn by its convolutions, else None: its last conv draws a larger image (the
    PyTorch DCGAN tutorial's 64x64 generator, kept) that a resize, pool or crop after it cuts down to 28x28."""
    convs = [c for c in calls_of(run) if c.get("kind") is not None and size(c.get("out")) is not None]
    if not convs or max(size(convs[-1]["out"])) <= OVERSIZE:
        return None
    drawn = max(size(convs[-1]["out"]))
    calls = calls_of(run)
    after = [text(c.get("type"), 40) for c in calls[calls.index(convs[-1]) + 1:]]
    how = ("a pool after it" if any("Pool" in kind for kind in after) else
           "a resize, pool or crop after it (an F.interpolate, F.avg_pool2d, or a slice such as x[:, :, 18:46, 18:46])")
    return (f"the generator's last convolution draws {drawn}x{drawn} images, and {how} cuts them down to the 28x28 "
            f"output: it never draws the digits at their own size (a 64x64 generator, as in the PyTorch DCGAN tutorial, "
            f"kept?); keep the given ladder (4 -> 7 -> 14 -> 28, its last stage nn.ConvTranspose2d(ngf, 1, 4, 2, 1)) "
            f"with no stage after 28x28, and add layers that keep the size between its stages")


@check(points=2, visible=True)
def test_output_shape(submission):
    """Output is (N, 1, 28, 28) for any batch size and nz."""
    cases = [(NZ, 2), (NZ, 5), (32, 3)]
    wrong = []
    for nz, batch in cases:
        try:
            G = build_generator(submission, nz=nz)
        except StudentError as err:
            if err.not_implemented or nz == NZ:
                raise
            wrong.append((nz, batch, f"fails: building it raised {err.type}: {err.message}"))
            continue
        fault = generator_fault(submission.run(probes_a2.trace, G, noise(batch, nz), NAMESPACE), batch, nz)
        if fault is not None:
            wrong.append((nz, batch, fault))
    if not wrong:
        if fault := resized_output(submission.run(probes_a2.trace, build_generator(submission), noise(5), NAMESPACE)):
            raise Partial(1, fault)
        return
    if all(nz != NZ for nz, _, _ in wrong):
        (nz, batch, fault), = wrong
        fix = "" if "use the `nz` argument" in fault else ": use the `nz` argument wherever the noise size matters, do not fix it at 100"
        raise Partial(1, f"with nz={nz} the generator output {fault}{fix}; expected (N, 1, 28, 28) for every nz")
    if len(wrong) == len(cases) and len({w[2] for w in wrong}) == 1:
        raise AssertionError(f"generator output {wrong[0][2]}; expected (N, 1, 28, 28)")
    if len(wrong) == len(cases) and any(all(cause in w[2] for w in wrong) for cause in (BATCH_FIXED, BATCH_TENSOR, Z_FLAT)):  # one cause: told once
        nz, batch, fault = wrong[0]
        wanted = "for every batch size N" if BATCH_FIXED in fault or BATCH_TENSOR in fault else "from z (N, nz)"
        raise AssertionError(f"with nz={nz}, N={batch} the generator output {fault}; expected (N, 1, 28, 28) {wanted}")
    failed = "; ".join(f"with nz={nz}, N={batch} its output {what}" for nz, batch, what in wrong)
    raise AssertionError(f"{failed}; expected (N, 1, 28, 28) for every batch size N")


def output_values(submission, G) -> torch.Tensor | None:
    """G's outputs for seeded z, as they are and with every weight scaled up 25 times (pre-activations
    grow; only a squashing last layer keeps the output bounded), flattened to float64; None when
    either is not a tensor of floats. When they do not reach near both -1 and 1, also with z scaled up
    `Z_SCALE` times: spectral norm divides each weight by its own scale, so in a generator whose
    every conv is spectral-normalised (and no BatchNorm gain grows) only a larger input grows the
    pre-activations. An output that is one constant (a last layer initialised at zero) is measured
    again with the all-zero parameters set to small values first: training moves them at once.
    The student's exceptions propagate."""
    z = noise(16)
    scaled = probes.scaled_forward
    outs = [submission.run(probes.forward, G, z), submission.run(scaled, G, z, 25.0)]
    if not all(isinstance(out, torch.Tensor) and out.is_floating_point() and out.numel() for out in outs):
        return None
    values = torch.cat([out.flatten().double() for out in outs])
    if bool((values == values[0]).all()):  # one constant: zero-initialised weights, not the network's range
        scaled = probes.unzeroed_scaled_forward
        outs = [submission.run(scaled, G, z, 1.0), submission.run(scaled, G, z, 25.0)]
        if not all(isinstance(out, torch.Tensor) and out.is_floating_point() and out.numel() for out in outs):
            return None
        values = torch.cat([out.flatten().double() for out in outs])
    if not torch.isfinite(values).all() or (float(values.min()) <= -REACH and float(values.max()) >= REACH):
        return values
    pushed = submission.run(scaled, G, z * Z_SCALE, 25.0)
    if not (isinstance(pushed, torch.Tensor) and pushed.is_floating_point() and pushed.numel()):
        return None
    return torch.cat([values, pushed.flatten().double()])


def moved_from_zero(submission, G) -> tuple[float, float] | None:
    """(low, high) of G's outputs for seeded z with its all-zero parameters set to small values and every weight scaled
    up 25 times, when that leaves [-1, 1], else None: a parameter initialised at zero (a learned offset added after the
    Tanh) leaves zero at the first training step, so the range it allows is the trained generator's."""
    try:
        out = submission.run(probes.unzeroed_scaled_forward, G, noise(16), 25.0)
    except StudentError:
        return None  # the other measurements say what is wrong with its forward
    if not (isinstance(out, torch.Tensor) and out.is_floating_point() and out.numel()):
        return None
    values = out.detach().double().flatten()
    if not torch.isfinite(values).all():
        return (-math.inf, math.inf)
    low, high = float(values.min()), float(values.max())
    return (low, high) if low < -1 - 1e-5 or high > 1 + 1e-5 else None


@check(points=1, visible=True)
def test_output_range(submission):
    """Output lies in [-1, 1] (a final tanh), even with large weights."""
    G = build_generator(submission)
    try:
        values = output_values(submission, G)
    except StudentError as err:
        raise diagnosed(submission, G, err) from None
    if not registered_parameters(submission, G):
        raise AssertionError(f"generator has no registered parameters, so its weights cannot be scaled up: {REGISTER}")
    if values is None:
        raise AssertionError("generator output is not a tensor of floats; expected images (N, 1, 28, 28) in [-1, 1]")
    if not torch.isfinite(values).all():
        raise AssertionError("generator output has NaN or infinite values once its weights are scaled up; expected [-1, 1]: end the generator with nn.Tanh()")
    low, high = float(values.min()), float(values.max())
    if low < -1 - 1e-5 or high > 1 + 1e-5:
        raise AssertionError(
            f"generator output reaches [{low:.3g}, {high:.3g}] once its weights are scaled up; expected [-1, 1]: "
            f"{unbounded_fix(submission, G)}"
        )
    moved = moved_from_zero(submission, G)
    if moved is not None:
        raise AssertionError(
            f"generator output reaches [{moved[0]:.3g}, {moved[1]:.3g}] once its parameters that start at 0 leave 0, as its "
            f"first training step moves them (a learned offset or gain applied after the Tanh starts at 0, so the output "
            f"stays in [-1, 1] only until training begins), and its weights are scaled up; expected [-1, 1]: "
            f"{unbounded_fix(submission, G)}"
        )
    if low > -0.5:
        raise AssertionError(
            f"generator output stays in [{low:.3g}, {high:.3g}], never negative even with large weights; expected "
            f"[-1, 1] (the data are scaled to [-1, 1]): {never_negative_fix(submission, G)}"
        )
    if fault := short_of_one(low, high):
        if resized := resized_output(submission.run(probes_a2.trace, G, noise(5), NAMESPACE)):
            fault = (f"stays in [{low:.3g}, {high:.3g}] even with its weights scaled up, short of the data's -1 and 1: "
                     f"{resized}")
        raise AssertionError(f"generator output {fault}")


def given_paths() -> dict:
    """conv_paths of the given generator at ngf = NGF (trusted code, run here)."""
    from reference.models.dcgan import Generator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return probes_a2.conv_paths(Generator(NZ, NGF, channels=1, size=28), noise(4))


def paths_of(submission, G) -> dict:
    """The student's conv_paths, validated: {"convs": [[name, type, ran, reaches]], "unregistered", "parameters",
    "one_pixel": {names of convs whose every output was 1x1}, "from_pixel": {names of convs that took a 1x1 input},
    "projections": [names of nn.Linear layers on a 2-D input that reach the output]}."""
    try:
        found = submission.run(probes_a2.conv_paths, G, noise(4))
    except StudentError as err:
        raise diagnosed(submission, G, err) from None
    found = found if isinstance(found, dict) else {}
    convs = [c for c in found.get("convs", []) if isinstance(c, list) and len(c) == 4] if isinstance(found.get("convs"), list) else []
    detached = {text(n, 80) for n in found.get("detached", []) if isinstance(n, str)} if isinstance(found.get("detached"), list) else set()
    # a conv whose weights change the output shapes it, even behind a .detach(): the gradient check charges the detach
    convs = [[text(n, 80), text(t, 40), c is True, r is True or (c is True and text(n, 80) in detached)] for n, t, c, r in convs]
    strays = [s for s in found.get("unregistered", []) if isinstance(s, list) and len(s) == 2] if isinstance(found.get("unregistered"), list) else []
    count = found.get("parameters") if finite(found.get("parameters")) else 0
    kind = text(found.get("output_type"), 40)
    if kind and kind != "Tensor":
        raise AssertionError(f"DeeperGenerator's forward returns {kind}, not the images: return the output tensor "
                             f"(is the `return` missing?)")
    if found.get("output_requires_grad") is not True:  # a detached output, or one autograd cannot backpropagate (an in-place
        convs = [[n, t, ran, ran] for n, t, ran, _ in convs]  # change): every conv that ran counts (the gradient check says why)
    def names(key: str) -> list[str]:
        return [text(n, 80) for n in found[key] if isinstance(n, str)] if isinstance(found.get(key), list) else []

    used = found.get("used_parameters") if finite(found.get("used_parameters")) else count
    return {"convs": convs, "unregistered": [[text(t, 40), int(n) if finite(n) else 0] for t, n in strays], "parameters": count,
            "used": used, "unused": names("unused"),
            "one_pixel": set(names("one_pixel")), "from_pixel": set(names("from_pixel")), "projections": names("projections")}


def listing(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


@check(points=2, visible=True)
def test_adds_conv_layers(submission):
    """Runs more conv layers than the given generator, on the path to its output, with more parameters."""
    G = build_generator(submission)
    mine, base = paths_of(submission, G), given_paths()
    n_base = sum(1 for name, _, _, reaches in base["convs"] if reaches and name not in base["one_pixel"])
    # a conv whose every output is 1x1 maps z's numbers as nn.Linear does: it adds no convolution over an image
    reaching = [name for name, _, _, reaches in mine["convs"] if reaches and name not in mine["one_pixel"]]
    dense = [name for name, _, _, reaches in mine["convs"] if reaches and name in mine["one_pixel"]]
    # the given first stage maps z (a 1x1 "image") to 4x4, as an nn.Linear on z reshaped to (N, C, 4, 4) does: a generator
    # without such a conv whose Linear on z reaches the output has the given stage written as a Linear, which counts for it
    stem = mine["projections"][:1] if not any(name in mine["from_pixel"] for name in reaching) else []
    reaching += stem
    counted = (f" (counting its nn.Linear on z, `{stem[0]}`, for the given generator's first ConvTranspose2d, which it "
               f"replaces)") if stem else ""
    if dense and len(reaching) <= n_base < len(reaching) + len(dense):
        raise AssertionError(
            f"{listing(dense)} {'works' if len(dense) == 1 else 'work'} on a 1x1 input and {'gives' if len(dense) == 1 else 'give'} "
            f"a 1x1 output (z's numbers mixed, as nn.Linear mixes them): no convolution over an image, so the generator runs "
            f"{len(reaching)} conv layers that shape the image, {'as many as' if len(reaching) == n_base else 'fewer than'} the "
            f"given generator's {n_base}; add a conv that works on a feature map, e.g. nn.Conv2d(c, c, 3, 1, 1) + "
            f"nn.BatchNorm2d(c) + nn.ReLU() between two stages"
        )
    dropped = [name for name, _, ran, reaches in mine["convs"] if ran and not reaches]
    unused = [name for name, _, ran, _ in mine["convs"] if not ran]
    strays = [kind for kind, _ in mine["unregistered"] if "Conv" in kind]
    if strays:
        kinds = ", ".join(strays[:3]) + (", ..." if len(strays) > 3 else "")
        told = f"{len(strays)} conv layer{'s' if len(strays) > 1 else ''} ({kinds}) run{'' if len(strays) > 1 else 's'} in forward but {'are' if len(strays) > 1 else 'is'} not registered: {REGISTER}"
        if len(reaching) > n_base:
            raise Partial(1, told)
        raise AssertionError(told)
    if len(reaching) <= n_base:
        if dropped:
            than = "as many as" if len(reaching) == n_base else "fewer than"
            raise AssertionError(
                f"{listing(dropped)} run{'s' if len(dropped) == 1 else ''} in forward, but {'its' if len(dropped) == 1 else 'their'} "
                f"output never reaches the image (no gradient gets back to {'its' if len(dropped) == 1 else 'their'} weights), "
                f"so only {len(reaching)} conv layers shape the output, {than} the given generator's {n_base}: pass each "
                f"block's result on, x = block(x), to the next stage"
            )
        than = "as many as" if len(reaching) == n_base else "fewer than"
        if unused:
            raise AssertionError(
                f"generator defines {len(mine['convs'])} conv layers but its forward runs only {len(reaching)}, {than} the "
                f"given generator{'' if len(reaching) == n_base else f's {n_base}'}: {listing(unused)} never run; call them in forward"
            )
        raise AssertionError(
            f"generator runs {len(reaching)} conv layers{counted}, {than} the given DCGAN generator ({n_base}); "
            + ("add at least one, e.g. nn.Conv2d(c, c, 3, 1, 1) + nn.BatchNorm2d(c) + nn.ReLU() between two stages"
               if len(reaching) == n_base else "keep the given generator's layers and add to them, e.g. nn.Conv2d(c, c, "
               "3, 1, 1) + nn.BatchNorm2d(c) + nn.ReLU() between two stages")
        )
    wider = NGF * 2
    try:
        count = parameter_count(submission, build_generator(submission, ngf=wider))
    except (StudentError, AssertionError):  # a generator that cannot be built wider: the widths are not this check's
        count = None
    if count and (fault := ignores_width((mine["parameters"], count), "DeeperGenerator", "ngf", NGF)):
        raise Partial(1, f"{fault}, as the given generator does, so that it is compared with the given generator at the same ngf")
    if mine["parameters"] <= base["parameters"]:
        raise Partial(
            1,
            f"generator runs {len(reaching)} conv layers{counted} (the given one {n_base}) but has {mine['parameters']:,} "
            f"parameters, not more than the given generator's {base['parameters']:,} at ngf={NGF}: keep its layers and add to them",
        )
    if mine["used"] <= base["parameters"] and mine["unused"]:  # the count is made up by parameters the output never uses
        raise Partial(
            1,
            f"generator runs {len(reaching)} conv layers{counted} (the given one {n_base}) and holds {mine['parameters']:,} "
            f"parameters, but only {mine['used']:,} of them make its images, not more than the given generator's "
            f"{base['parameters']:,} at ngf={NGF}: the other {mine['parameters'] - mine['used']:,} ({listing(mine['unused'])}) "
            f"never take part in forward (a layer kept as an attribute but never called, or a parameter nothing uses), "
            f"so they add nothing to the network that draws: keep the given generator's layers on the path to the output "
            f"and add to them",
        )


SIZE_CASES = [[h, k, s, p] for h in (1, 4, 5, 7, 14, 28) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3) for p in (0, 1, 2)]
SIZE_FORMULA = {
    False: "H_out = floor((H + 2p - k) / s) + 1",
    True: "H_out = (H - 1) s - 2p + k",
}


def true_sizes(transposed: bool) -> tuple[list[list[int]], list[int]]:
    """The cases of SIZE_CASES that nn.Conv2d (nn.ConvTranspose2d when `transposed`) accepts, and the height it
    outputs for each: measured on PyTorch's own layers, on this side."""
    layer = torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d
    cases, sizes = [], []
    with torch.no_grad():
        for h, k, s, p in SIZE_CASES:
            try:
                out = layer(1, 1, k, s, p, bias=False)(torch.zeros(1, 1, h, h))
            except RuntimeError:  # the output would be smaller than 1 pixel, or the kernel larger than the padded input
                continue
            cases.append([h, k, s, p])
            sizes.append(out.shape[-1])
    return cases, sizes


def number(value) -> bool:
    """An int or a float (not a bool): what an answered size may be compared as."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def size_fault(cases: list[list[int]], want: list[int], got, transposed: bool) -> str | None:
    """Why the student's output sizes are not PyTorch's, with the fix; None when they all match."""
    kind = "nn.ConvTranspose2d" if transposed else "nn.Conv2d"
    flag = f", transposed={transposed}"
    answers = [a for a in got if isinstance(a, list) and len(a) == 2] if isinstance(got, list) else []
    if len(answers) != len(cases):
        return f"conv_output_size(...{flag}) did not answer every case; expected one whole number per call"
    wrong = [(case, answer, expected) for case, answer, expected in zip(cases, answers, want)
             if not (answer[0] in ("int", "float") and number(answer[1]) and answer[1] == expected)]
    if not wrong:
        return None
    (h, k, s, p), (kind_of, value), expected = wrong[0]
    call = f"conv_output_size({h}, {k}, {s}, {p}{flag})"
    told = f"{call} returned {text(repr(value), 40) if kind_of in ('int', 'float') else f'a {text(kind_of, 40)}'}; {kind}(kernel_size={k}, stride={s}, padding={p}) turns {h}x{h} into {expected}x{expected}"
    if kind_of not in ("int", "float") or not number(value):
        return f"{told}: return the size as a whole number (an int)"

    def every(formula) -> bool:
        return all(answer[0] in ("int", "float") and number(answer[1]) and answer[1] == formula(*case) for case, answer, _ in wrong)

    if not transposed:
        if every(lambda h, k, s, p: (h + 2 * p - k) / s + 1):
            return f"{told}: the division is floored (a stride skips the positions where the kernel no longer fits): {SIZE_FORMULA[False]}, with // or math.floor"
        if every(lambda h, k, s, p: math.floor((h + 2 * p - k) / s + 0.5) + 1) or every(lambda h, k, s, p: round((h + 2 * p - k) / s) + 1):
            return f"{told}: it rounds (h + 2p - k) / s to the nearest whole number; PyTorch floors it (the kernel must fit inside the padded input): {SIZE_FORMULA[False]}"
        if every(lambda h, k, s, p: math.ceil((h + 2 * p - k) / s) + 1):
            return f"{told}: it rounds (h + 2p - k) / s up; PyTorch floors it: {SIZE_FORMULA[False]}"
        if every(lambda h, k, s, p: (h + p - k) // s + 1):
            return f"{told}: the padding is added on both sides, 2p in all: {SIZE_FORMULA[False]}"
        if every(lambda h, k, s, p: (h + 2 * p - k) // s):
            return f"{told}: it leaves out the + 1 (the kernel's first position): {SIZE_FORMULA[False]}"
        return f"{told}: {SIZE_FORMULA[False]}"
    if every(lambda h, k, s, p: (h - 1) * s + 2 * p + k):
        return f"{told}: in a transposed conv the padding removes 2p from the output, it does not add it: {SIZE_FORMULA[True]}"
    if every(lambda h, k, s, p: (h + 2 * p - k) // s + 1):
        return f"{told}: it gives nn.Conv2d's size for transposed=True; a transposed conv grows the input: {SIZE_FORMULA[True]}"
    if every(lambda h, k, s, p: h * s - 2 * p + k):
        return f"{told}: the input's last pixel adds the kernel, not a stride: (H - 1) s, not H s: {SIZE_FORMULA[True]}"
    return f"{told}: {SIZE_FORMULA[True]}"


@check(points=2, visible=True)
def test_conv_output_size(submission):
    """conv_output_size gives the height nn.Conv2d (1 point) and nn.ConvTranspose2d (1 point) output, over a grid of
    input sizes, kernels, strides and paddings."""
    fn = submission.get("conv_output_size")
    faults = []
    for transposed in (False, True):
        cases, want = true_sizes(transposed)
        try:
            got = submission.run(probes_a2.output_sizes, fn, cases, transposed)
        except StudentError as err:
            if err.not_implemented:
                raise
            faults.append(f"conv_output_size(..., transposed={transposed}) raised {err.type}: {err.message}")
            continue
        if (fault := size_fault(cases, want, got, transposed)) is not None:
            faults.append(fault)
    if len(faults) == 1:
        raise Partial(1, faults[0])
    assert not faults, "; ".join(faults)


def expected_shapes(name: str) -> list[tuple[str, list[str], list[int], list[int]]]:
    """(name, class names (its own and PyTorch's classes it extends), input shape, output shape) of every leaf call
    of probes_a2.shape_net(name), in the order they ran: measured here, on the course's own network."""
    model, x = probes_a2.shape_net(name)
    kinds = {id(m): [c.__name__ for c in type(m).__mro__ if issubclass(c, torch.nn.Module) and c not in (torch.nn.Module,)]
             for m in model.modules()}
    names = dict(model.named_modules())
    run = probes_a2.trace(model, x)
    return [(c["name"], kinds[id(names[c["name"]])], c["in"], c["out"]) for c in run["calls"]]


def container_outputs(name: str) -> list[list[int]]:
    """Output shapes of the modules with children (the model included) when shape_net(name) runs."""
    model, x = probes_a2.shape_net(name)
    shapes = []
    handles = [m.register_forward_hook(lambda m, i, o: shapes.append(list(o.shape)))
               for m in model.modules() if next(m.children(), None) is not None]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def label_ok(label, expected: tuple) -> bool:
    """The answer's label names the layer: its name in the model, its class, or its repr (the class, then "(")."""
    name, kinds = expected[0], expected[1]
    return isinstance(label, str) and (label == name or label in kinds or any(label.startswith(f"{k}(") for k in kinds))


def shapes_fault(name: str, answer) -> str | None:
    """Why the answer for SHAPE_NETS[name] is not its leaf layers' (label, output shape) in running order; None when it is."""
    where = f"(model, x), for {probes_a2.SHAPE_NETS[name]},"
    want = expected_shapes(name)
    answer = answer if isinstance(answer, dict) else {}
    entries = answer.get("entries")
    if not isinstance(entries, list):
        return f"{where} returns a {text(answer.get('type'), 40) or 'value'}, not a list of (layer, shape) pairs: return the list"
    pairs = [e for e in entries if isinstance(e, list) and len(e) == 2]
    if len(pairs) != len(entries) or any(e[1] is None for e in pairs):
        return f"{where} returns items that are not (layer, shape) pairs with the shape as a tuple of ints, such as ('main.1', (3, 16, 4, 4)): give tuple(output.shape)"
    if any(e[1] == "Tensor" for e in pairs):
        return f"{where} lists tensors where the shapes belong: give tuple(output.shape), not the output itself"
    shapes = [e[1] for e in pairs]
    outs, ins = [w[3] for w in want], [w[2] for w in want]
    listing_ = ", ".join(f"{w[0]} {tuple(w[3])}" for w in want)
    if shapes == outs:
        bad = [(k, e[0]) for k, e in enumerate(pairs) if not label_ok(e[0], want[k])]
        if not bad:
            return None
        k, label = bad[0]
        shown = f"`{text(label, 60)}`" if isinstance(label, str) else "something that is not a string"
        return (f"{where} lists the right shapes, but item {k} is labelled {shown} for the layer `{want[k][0]}`: label each "
                f"layer with its name in the model (`{want[k][0]}`, from named_modules) or its class (`{want[k][1][0]}`)")
    if shapes == ins:
        return f"{where} lists each layer's input shape; expected the shape of each layer's output ({listing_})"
    containers = container_outputs(name)
    if len(shapes) > len(outs) and all(s in outs or s in containers for s in shapes):
        return (f"{where} lists {len(shapes)} entries, {len(outs)} expected: it counts container modules too (nn.Sequential "
                f"blocks or the model itself, whose outputs repeat their last layer's); hook only the leaf layers, the modules "
                f"with no children (next(m.children(), None) is None)")
    if name == "shared" and len(shapes) < len(outs):
        return (f"{where} lists {len(shapes)} entries, {len(outs)} expected: a layer that runs twice appears twice, once "
                f"per call, in the order of the calls ({listing_}); append each call's shape to a list, not a dict keyed by layer")
    if name == "idle" and len(shapes) > len(outs):
        return (f"{where} lists {len(shapes)} entries, {len(outs)} expected: `spare` is registered but never runs, so it "
                f"has no output; list the layers as forward runs them, from forward hooks ({listing_})")
    return f"{where} lists {len(shapes)} entries ({', '.join(str(tuple(s)) for s in shapes[:6])}{', ...' if len(shapes) > 6 else ''}); expected {len(outs)}, each leaf layer's output in the order they ran: {listing_}"


@check(points=2, visible=True)
def test_activation_shapes(submission):
    """activation_shapes lists (layer, output shape) of every leaf layer as it runs, on four networks the check builds
    (the given generator, nested blocks, a layer called twice, a layer never called), and leaves no hook behind
    (1 of the 2 points)."""
    fn = submission.get("activation_shapes")
    left = []
    for name in probes_a2.SHAPE_NETS:
        found = submission.run(probes_a2.activation_shapes_of, fn, name)
        found = found if isinstance(found, dict) else {}
        if (fault := shapes_fault(name, found.get("first"))) is not None:
            raise AssertionError(f"activation_shapes{fault}")
        hooks = found.get("hooks")
        second = found.get("second") if isinstance(found.get("second"), dict) else {}
        again = shapes_fault(name, second) is None
        if (isinstance(hooks, int) and not isinstance(hooks, bool) and hooks > 0) or not again:
            left.append((name, hooks if isinstance(hooks, int) else 0, second.get("length"), len(expected_shapes(name))))
    if left:
        name, hooks, length, want = left[0]
        twice = f", and its second call listed {length} entries, not {want}" if length != want else ""
        raise Partial(
            1,
            f"activation_shapes(model, x) leaves its hooks on the model ({hooks} after two calls, for "
            f"{probes_a2.SHAPE_NETS[name]}){twice}: remove each hook after the forward pass (handle.remove() on what register_forward_hook returned, "
            f"in a finally block), so the model runs as before",
        )
