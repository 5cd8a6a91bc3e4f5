"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a6_conditional_gan.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import math
import re
import torch
from reference.grading import NAMESPACE, Partial, StudentError, check
from reference.grading.checks import CHANGED_AFTER_TANH, END_WITH_TANH, REACH, SQUASHING, batch_hint, clean_text, ignored_noise, ignores_width
from reference.grading.checks import built_network, call_text, one_sided_logit, parameter_count, short_of_one
from reference.grading import probes, probes_a6
from reference.grading.proxy import finite
ASSIGNMENT = "a6_conditional_gan"
NZ, NGF, NDF, NUM_CLASSES = 100, 16, 16, 10  # the checks build G and D at width 16: fast, the same code as 64
GENERATOR, DISCRIMINATOR, STEP = "ConditionalGenerator", "ConditionalDiscriminator", "train_step"
ANSWERS = ("reference.models.conditional",)  # the library's conditional G and D: networks built from them score nothing
LABEL_CASES = {  # every label batch G and D must take: name -> labels
    "every digit": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    "0s": [0, 0, 0],
    "9s": [9, 9, 9],
    "mixed": [7, 2, 9, 0, 4],
    "one image": [4],
}
CHANGES = 1e-5  # an output changes when it moves by more than this share of its mean size (ignoring y moves it by 0)
ADDITIVE = 1e-4  # the change with y differs between inputs by at most this share: the label only adds a constant
COUPLING = 1e-4  # image i of a batch may differ from its own G(z[i], y[i]) by this share of the largest value (rounding)
Z_SCALE = 1000.0  # z (or D's images) scaled up in the range checks when scaled weights alone leave the output short of -1 and 1 (or D's in [0, 1]): spectral norm
REPEATED = 1e-5  # the same inputs twice (eval mode) may give outputs this share of the largest value apart (rounding)
SAME_PIXELS = 1e-4  # an image D judged is one of the real (or G's) images when no pixel differs by more
NOISY = 0.25  # ... or that image with noise added (instance noise, as in Sonderby et al. 2016): RMS distance at most this,
WHITE = 0.3  # ... and the difference white noise: neighbouring pixels' differences correlate less (two digits' differ in strokes)
PER_LABEL = 15  # real images of each class in the recorded step: G must be asked for every label among 150 draws
ONE_HOT = "F.one_hot(y, num_classes)"


def text(value, limit: int = 300) -> str:
    """Untrusted text as one printable line of at most `limit` characters."""
    return clean_text(value, limit)


def dims(value) -> list[int] | None:
    """A shape sent back by a probe, or None."""
    if isinstance(value, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        return list(value)
    return None


def shape_text(shape, batch: int | None = None) -> str:
    """"(N, 1, 28, 28)" for a batch of `batch`, the exact shape otherwise."""
    items = list(shape)
    if items and batch is not None and items[0] == batch:
        items[0] = "N"
    return "(" + ", ".join(str(d) for d in items) + ("," if len(items) == 1 else "") + ")"


def noise(n: int, nz: int = NZ, seed: int = 1) -> torch.Tensor:
    """Seeded z (n, nz)."""
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))


def images(n: int, seed: int = 1) -> torch.Tensor:
    """Seeded images (n, 1, 28, 28) with values in [-1, 1]."""
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def built(submission, name: str, seed: int = 0, **kwargs):
    """The student's `name(**kwargs)`, built with `seed` in training mode (in the worker when graded); the faults
    `built_network` names raised, and a network made from the course library's own conditional DCGAN."""
    call = call_text(name, kwargs)
    model = built_network(submission, probes_a6.make, name, seed, NAMESPACE, kwargs, "subclass nn.Module and call super().__init__()")
    origins = submission.run(probes_a6.module_origins, model)
    for origin in origins if isinstance(origins, list) else []:
        where, qualname = (text(v, 80) for v in origin[1:3]) if isinstance(origin, list) and len(origin) == 3 else ("", "")
        if any(where == m or where.startswith(m + ".") for m in ANSWERS):
            raise AssertionError(
                f"{call} is built from {where}.{qualname}, the course library's conditional DCGAN (lesson 7), which holds "
                f"what this assignment asks you to write: write it yourself in the notebook, from the given DCGAN "
                f"(reference.models.dcgan)"
            )
    return model


def generator(submission, nz: int = NZ, seed: int = 0):
    return built(submission, GENERATOR, seed, nz=nz, ngf=NGF, num_classes=NUM_CLASSES)


def discriminator(submission, seed: int = 0):
    return built(submission, DISCRIMINATOR, seed, ndf=NDF, num_classes=NUM_CLASSES)


def parameter_total(submission, name: str, **kwargs) -> int | None:
    """The parameter count of the student's `name(**kwargs)`; None when it cannot be built so."""
    try:
        model = built(submission, name, **kwargs)
    except (StudentError, AssertionError):  # a network that cannot be built at that width: not this measure's fault
        return None
    return parameter_count(submission.run(probes.module_summary, model))


def width_fault(submission, role: str) -> str | None:
    """`ignores_width`'s message when G ("G", ngf) or D ("D", ndf) has the same parameter count at width 16 and
    32: its layers take their widths from elsewhere (a global, or a tutorial's fixed 128 channels); else None."""
    name, arg, width = (GENERATOR, "ngf", NGF) if role == "G" else (DISCRIMINATOR, "ndf", NDF)
    extra = {"nz": NZ} if role == "G" else {}
    counts = tuple(parameter_total(submission, name, **extra, **{arg: w}, num_classes=NUM_CLASSES) for w in (width, 2 * width))
    return ignores_width(counts, name, arg, width)


def width_partial(fault: str, arg: str, width: int) -> Partial:
    """The visible checks' deduction for a network whose widths ignore `arg`, saying what it costs in the learning check."""
    return Partial(1, f"{fault}: the checks build it at {arg} = {width}, and the learning check trains G and D only "
                      f"there: it does not train a network whose widths ignore {arg}")


def clean_call(call) -> dict | None:
    """One leaf call of a trace, every field checked; None when it is malformed."""
    if not isinstance(call, dict):
        return None
    ints = {k: call.get(k) if isinstance(call.get(k), int) and not isinstance(call.get(k), bool) else None
            for k in ("in_channels", "in_features", "num_embeddings", "weights")}
    name = call.get("name")
    return {"name": text(name, 80) if isinstance(name, str) else None, "type": text(call.get("type"), 60) or "a layer",
            "repr": text(call.get("repr"), 160), "in": dims(call.get("in")), "out": dims(call.get("out")), **ints}


def traced(submission, model, inputs: list) -> dict:
    """`probes_a6.trace` of model(*inputs), checked: {"output", "kind", "calls", "failed" (a call or None), "error"}."""
    result = submission.run(probes_a6.trace, model, inputs, NAMESPACE)
    result = result if isinstance(result, dict) else {}
    calls = [clean_call(c) for c in result.get("calls")] if isinstance(result.get("calls"), list) else []
    calls = calls if all(c is not None for c in calls) else []
    failed = result.get("failed")
    failed = calls[failed] if isinstance(failed, int) and not isinstance(failed, bool) and 0 <= failed < len(calls) else None
    output = result.get("output") if isinstance(result.get("output"), torch.Tensor) else None
    kind = result.get("output_type") if isinstance(result.get("output_type"), dict) else {}
    error = result.get("error") if isinstance(result.get("error"), dict) else None
    if output is None and error is None and not kind:
        error = {"type": "an exception", "message": "the call could not be traced"}
    return {"output": output, "kind": text(kind.get("type"), 60) or "nothing", "calls": calls, "failed": failed, "error": error}


def layer(call: dict) -> str:
    """"`main.1` (Linear(in_features=110, ...))", or the layer's class for an unregistered one."""
    module = f"{call['type']}({call['repr']})"
    return f"`{call['name']}` ({module})" if call["name"] else f"an unregistered {module}"


CAT_DIM_0 = re.compile(r"Sizes of tensors must match except in dimension 0")  # torch.cat([z, one_hot]) with no dim
CAT_DIM_HINT = (
    ": torch.cat joins along dim 0 by default, the batch; join the label along the features or channels, "
    "torch.cat([z, one_hot], dim=1) in G, torch.cat([x, label_maps], dim=1) in D"
)


def fixed_tensor_text(fixed: int, batch: int) -> str:
    """batch_hint's words for a tensor of forward's own made for a fixed batch (a one-hot made as
    torch.zeros(64, num_classes), a tensor with the training batch written in)."""
    return (f": a tensor in forward is made for a fixed batch of {fixed} (as torch.zeros({fixed}, num_classes) makes a "
            f"one-hot), but batches have any size N (here {batch}): make it from the labels, {ONE_HOT}, or size it from "
            f"the input, y.shape[0]")


def raised_text(run: dict, batch: int) -> str:
    """What raised in a traced call: the layer, and the fix for a size mismatch."""
    err = StudentError.from_info(run["error"])
    if err.not_implemented:
        raise err
    call = run["failed"]
    if call is None:
        return (f"raises {err.type}: {err.message}" + (f" (in `{err.where.split('.<locals>.')[-1]}`)" if err.where else "")
                + (CAT_DIM_HINT if CAT_DIM_0.search(err.message) else batch_hint(err.message, batch, fixed_tensor_text)))
    got = call["in"]
    joined = (
        "where the label joins, that is the size of z or of the image's channels or features plus the label's "
        f"(num_classes = {NUM_CLASSES} for a one-hot)"
    )
    if call["num_embeddings"] is not None and call["num_embeddings"] < NUM_CLASSES:
        return (f"raises in {layer(call)}: it has {call['num_embeddings']} rows, but the labels run 0..{NUM_CLASSES - 1}: "
                f"nn.Embedding(num_classes, d)")
    if call["in_channels"] is not None and got and len(got) >= 2 and got[1] != call["in_channels"]:
        return (f"raises in {layer(call)}: it takes {call['in_channels']} channels but gets {shape_text(got, batch)}; its "
                f"in_channels must be the channels that reach it ({got[1]}): {joined}")
    if call["in_features"] is not None and got and got[-1] != call["in_features"]:
        return (f"raises in {layer(call)}: it takes {call['in_features']} features but gets {shape_text(got, batch)}; its "
                f"in_features must be the size that reaches it ({got[-1]}): {joined}")
    if call["type"] == "Unflatten" and got and "unflatten" in err.message.lower():  # the given Generator's first layer
        return (f"raises RuntimeError in {layer(call)} on its input {shape_text(got, batch)}: {err.message}; the given "
                f"Generator(nz_in, ...) unflattens exactly nz_in numbers per sample: nz_in must be the size that reaches it, "
                f"z's (the `nz` argument) plus the label's (num_classes = {NUM_CLASSES} for a one-hot)")
    return (f"raises {err.type} in {layer(call)}" + (f" on its input {shape_text(got, batch)}" if got else "") + f": {err.message}"
            + batch_hint(err.message, batch, fixed_tensor_text))


def generator_fault(run: dict, batch: int) -> str | None:
    """Why G(z, y) is not (N, 1, 28, 28) for a batch of `batch`, in words; None when it is."""
    if run["error"] is not None:
        return raised_text(run, batch)
    out = run["output"]
    if out is None:
        return f"returns a {run['kind']}, not a tensor of floats"
    shape = list(out.shape)
    if shape == [batch, 1, 28, 28]:
        return None
    told = f"returns {shape_text(shape, batch)}"
    if not shape or shape[0] != batch:
        return f"{told} for a batch of {batch}: keep one image per (z, y) pair; join the label to z along dim 1, not dim 0"
    if len(shape) == 4 and shape[2:] == [28, 28]:
        return f"{told}: {shape[1]} channels; the digits have 1: the last stage makes 1 channel"
    return f"{told}: keep the given generator's ladder 4 -> 7 -> 14 -> 28 and its last stage nn.ConvTranspose2d(ngf, 1, 4, 2, 1)"


def discriminator_fault(run: dict, batch: int) -> str | None:
    """Why D(x, y) is not one value per image for a batch of `batch`, in words; None when it is."""
    if run["error"] is not None:
        return raised_text(run, batch)
    out = run["output"]
    if out is None:
        return f"returns a {run['kind']}, not a tensor of floats"
    if out.numel() == batch and (out.shape[:1] == (batch,) or (batch == 1 and out.dim() == 0)):  # .squeeze(): () for one
        return None
    told = f"returns {shape_text(out.shape, batch)}"
    if out.dim() == 0 or out.shape[0] != batch:
        return f"{told} for a batch of {batch}: one logit per image; join the label to each image, not to the batch (dim 1, not dim 0)"
    return f"{told}: one logit per image, (N,) or (N, 1): reduce the last features to one value per image and view it as (N,)"


def label_fault(faults: dict[str, str | None], role: str) -> str | None:
    """The one sentence for what fails on which label batches (faults: case -> fault or None)."""
    bad = [case for case, fault in faults.items() if fault is not None]
    if not bad:
        return None
    if "9s" in bad and "0s" not in bad:
        return (
            f"{role} takes labels 0 but not labels 9 (for 9s it {faults['9s']}): its one-hot or embedding has fewer than "
            f"num_classes = {NUM_CLASSES} entries, while the labels run 0..{NUM_CLASSES - 1}: size it with num_classes, "
            f"{ONE_HOT} or nn.Embedding(num_classes, d)"
        )
    if "0s" in bad and "every digit" not in bad:
        return (
            f"{role} takes a batch that holds a 9 but not a batch of 0s (for 0s it {faults['0s']}): F.one_hot(y) without "
            f"num_classes makes the one-hot as long as the batch's largest label plus one, so its size changes from batch "
            f"to batch; pass num_classes: {ONE_HOT}"
        )
    if bad == ["one image"]:
        return (
            f"{role} works for batches of 3 to 10 but not for a batch of one image (for y = {LABEL_CASES['one image']} it "
            f"{faults['one image']}): something in its forward drops the batch dimension when N = 1, as .squeeze() without "
            f"a dim does (y.squeeze() of a (1,) or (1, 1) tensor is a scalar); squeeze only the dimension you mean, "
            f"y.view(-1) or .squeeze(1)"
        )
    first = bad[0]
    if len(bad) < len(faults):
        worked = ", ".join(f"y = {LABEL_CASES[c]}" for c in faults if faults[c] is None)
        return f"{role} for y = {LABEL_CASES[first]} {faults[first]} (it works for {worked})"
    return f"{role} {faults[first]}"


def labels_taken(submission, model, first, fault_of) -> list[int]:
    """The labels k of -NUM_CLASSES..2 * NUM_CLASSES - 1 with which model(first(3), [k, k, k]) runs (eval mode) and
    fault_of finds nothing wrong with its output."""
    ks = list(range(-NUM_CLASSES, 2 * NUM_CLASSES))
    results = submission.run(probes_a6.outputs, model, [[first(3), torch.full((3,), k)] for k in ks], NAMESPACE)
    results = results if isinstance(results, list) and len(results) == len(ks) else []
    taken = []
    for k, result in zip(ks, results):
        result = result if isinstance(result, dict) else {}
        output = result.get("output") if isinstance(result.get("output"), torch.Tensor) else None
        if result.get("error") is None and output is not None and fault_of({"error": None, "output": output}, 3) is None:
            taken.append(k)
    return taken


def label_shape_fault(submission, model, first, fault_of, role: str) -> str | None:
    """label_fault of model(first(n), y) over LABEL_CASES, told by which labels the model takes: labels used
    with an offset (it takes num_classes labels, but not 0..num_classes-1), or a model that takes one-hot rows
    but not the integer labels it is given."""
    faults = {case: fault_of(traced(submission, model, [first(len(y)), torch.tensor(y)]), len(y)) for case, y in LABEL_CASES.items()}
    bad = [case for case, fault in faults.items() if fault is not None]
    if not bad:
        return None
    name = role[0]
    if len(bad) == len(faults):
        rows = torch.nn.functional.one_hot(torch.arange(NUM_CLASSES), NUM_CLASSES).float()
        if fault_of(traced(submission, model, [first(NUM_CLASSES), rows]), NUM_CLASSES) is None:
            return (
                f"{role} {faults[bad[0]]} when y holds integer labels (N,), and runs when y holds one-hot rows (N, "
                f"{NUM_CLASSES}): it expects y one-hot, but {name} is given the labels as integers, y int64 (N,) in "
                f"0..{NUM_CLASSES - 1} (the grader calls it so, as the task says): make the one-hot inside forward, "
                f"{ONE_HOT}.float() (or embed y with nn.Embedding(num_classes, d)), and pass train_step's integer labels "
                f"to {name} as they are"
            )
        y = torch.tensor(LABEL_CASES["every digit"])
        if fault_of(traced(submission, model, [y, first(len(y))]), len(y)) is None:
            given = "z" if name == "G" else "x"
            return (
                f"{role} {faults[bad[0]]}, and runs when called with the labels first, {name}(y, {given}): its forward "
                f"takes its arguments in the other order; the grader (and the task) calls {role}, so define "
                f"forward(self, {given}, y), and call {name}({given}, y) in train_step"
            )
        return label_fault(faults, role)
    taken = labels_taken(submission, model, first, fault_of)
    low = taken[0] if taken else 0
    if low != 0 and taken == list(range(low, low + NUM_CLASSES)):
        shift = -low
        missing = ", ".join(str(k) for k in range(NUM_CLASSES) if k not in taken)
        case = next(c for c in ("9s", "0s", *bad) if c in bad)
        return (
            f"{role} takes the labels {low}..{low + NUM_CLASSES - 1} but not {missing} (for {case} it {faults[case]}): it "
            f"shifts y by {shift:+d} before its one-hot or embedding, as F.one_hot(y {'+' if shift > 0 else '-'} {abs(shift)}, "
            f"num_classes) does; the labels run 0..{NUM_CLASSES - 1} and are used as given: {ONE_HOT}"
        )
    return label_fault(faults, role)


def generator_shape_fault(submission, G) -> str | None:
    """label_shape_fault of G(z, y) at nz = NZ."""
    return label_shape_fault(submission, G, noise, generator_fault, "G(z, y)")


def discriminator_shape_fault(submission, D) -> str | None:
    """label_shape_fault of D(x, y)."""
    return label_shape_fault(submission, D, images, discriminator_fault, "D(x, y)")


def outputs_of(submission, model, cases: list, **options) -> list[torch.Tensor] | str:
    """Each case's floating output (probes_a6.outputs, eval mode), or the first failure in words."""
    results = submission.run(probes_a6.outputs, model, cases, NAMESPACE, **options)
    results = results if isinstance(results, list) and len(results) == len(cases) else [{}] * len(cases)
    outs = []
    for case, result in zip(cases, results):
        result = result if isinstance(result, dict) else {}
        if isinstance(result.get("error"), dict):
            err = StudentError.from_info(result["error"])
            if err.not_implemented:
                raise err
            return f"raises {err.type}: {err.message}" + batch_hint(err.message, len(case[0]), fixed_tensor_text)
        out = result.get("output")
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            kind = result.get("output_type") if isinstance(result.get("output_type"), dict) else {}
            return f"returns a {text(kind.get('type'), 60) or 'value'}, not a tensor of floats"
        outs.append(out.double())
    return outs


def range_outputs(submission, model, case: list) -> tuple:
    """outputs_of the model as built and with its weights scaled up 25 times (only a squashing last layer keeps
    the outputs bounded then). Outputs that are all one constant (a last layer initialised at zero: every pixel
    or logit 0) are measured again with every weight jittered, as the first training step moves it."""
    plain, scaled = outputs_of(submission, model, case), outputs_of(submission, model, case, scale=25.0)
    if isinstance(plain, str) or isinstance(scaled, str):
        return plain, scaled
    values = torch.cat([plain[0].flatten(), scaled[0].flatten()])
    if values.numel() and bool((values == values[0]).all()):
        plain, scaled = outputs_of(submission, model, case, jitter=0.02), outputs_of(submission, model, case, scale=25.0, jitter=0.5)
    return plain, scaled


def d_range(submission, D, case: list, plain: list, scaled: list) -> tuple[float, float]:
    """The lowest and highest of D's outputs as built and with its weights scaled up (`range_outputs`), and, where
    they stay in [0, 1], with the images scaled up Z_SCALE times too: a D whose weights are spectrally normalised
    (SNGAN's D, without BatchNorm) gives the same logits with its weights scaled up, small ones at init, all in
    [0, 1] for some designs (it scored 1 of 2, told it ends in a sigmoid), while larger images still move them
    anywhere; only a last layer that squashes them (a sigmoid) keeps them in [0, 1] then."""
    values = torch.cat([plain[0].flatten(), scaled[0].flatten()])
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        pushed = outputs_of(submission, D, [[case[0][0] * Z_SCALE, case[0][1]]], scale=25.0)
        if isinstance(pushed, list) and pushed[0].numel() and bool(torch.isfinite(pushed[0]).all()):
            low, high = min(low, float(pushed[0].min())), max(high, float(pushed[0].max()))
    return low, high


def dependence(submission, model, first, second, y, **seeded) -> dict | str:
    """How model(first, y) moves with y and with `first`, as built and jittered (eval mode).

    y' = (y + 5) mod 10 changes every label; `second` holds other z (or images). Returns, each the
    larger of the model as built and with its weights jittered: {"y": mean|f(a, y) - f(a, y')| /
    mean|f(a, y)|, "other": the same for a -> a', "interaction": how much the change with y differs
    between a and a', mean|(f(a, y) - f(a, y')) - (f(a', y) - f(a', y'))| / mean|f(a, y) - f(a, y')|
    (0 when the label only adds a constant per class), "coupled": max |f(a, y)[i] - f(a[i], y[i])| /
    max |f(a, y)|, as built, or None when the model raises for a batch of one (the shape checks tell that)},
    or the first failure in words. `seeded` ({"rng_seed": n}) runs each call from one RNG state: a D with
    randomness in forward (`stable_label_effect`) is measured as a fixed function.
    """
    other_y = (y + 5) % NUM_CLASSES
    rows = (0, 3, len(y) - 1)
    cases = [[first, y], [first, other_y], [second, y], [second, other_y]]
    found: dict = {"y": 0.0, "other": 0.0, "interaction": 0.0, "coupled": 0.0}
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        outs = outputs_of(submission, model, cases, **options, **seeded)
        if isinstance(outs, str):
            return outs
        base, by_y, by_other, by_both = outs[:4]
        if not (base.shape == by_y.shape == by_other.shape == by_both.shape and base.shape[:1] == y.shape):
            return "gives outputs of another shape when only the labels or the inputs change"
        if not all(torch.isfinite(o).all() for o in outs):
            return "gives NaN or infinite values"
        size, moved = float(base.abs().mean()), float((base - by_y).abs().mean())
        if size > 0:
            found["y"] = max(found["y"], moved / size)
            found["other"] = max(found["other"], float((base - by_other).abs().mean()) / size)
        if moved > 0:
            found["interaction"] = max(found["interaction"], float(((base - by_y) - (by_other - by_both)).abs().mean()) / moved)
        singles = outputs_of(submission, model, [[first[i : i + 1], y[i : i + 1]] for i in rows]) if not options and not seeded else []
        if isinstance(singles, str):  # a batch of one raises: not a use of the labels (the shape checks tell it)
            found["coupled"] = None
            continue
        if not options:
            top = float(base.abs().max()) or 1.0
            for row, single in zip(rows, singles):  # compared by value: a D ending in .squeeze() gives () for one image
                if single.numel() != base[row].numel():
                    return (f"gives {single.numel()} values for a batch of one, but {base[row].numel()} per item for a batch "
                            f"of {len(y)}: its output's size per item must not depend on the batch size")
                found["coupled"] = max(found["coupled"], float((single.reshape(-1) - base[row].reshape(-1)).abs().max()) / top)
    return found


RANDOM_IN_FORWARD = "is random at every call"
STABLE_EFFECT = 0.5  # the cosine two seeded calls' label effects must reach for D's randomness to leave its label path alone


def stable_label_effect(submission, D, x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether D's randomness in forward leaves what the label does to its logits in place: with torch's RNG seeded
    alike for both calls, D(x, y) - D(x, y') under two seeds point the same way (cosine above STABLE_EFFECT). Dropout
    (F.dropout without training=self.training) or instance noise in forward keep the label path, which training
    sees (D only ever runs in training mode); a label embedding drawn in forward (F.embedding(y, torch.randn(...)))
    turns it at every call."""
    other = (y + 5) % NUM_CLASSES
    effects = []
    for rng_seed in (11, 12):
        outs = outputs_of(submission, D, [[x, y], [x, other]], rng_seed=rng_seed)
        if isinstance(outs, str) or outs[0].shape != outs[1].shape:
            return False
        effects.append((outs[0] - outs[1]).reshape(-1))
    a, b = effects
    size = float(a.norm() * b.norm())
    return size > 0 and float((a * b).sum()) / size > STABLE_EFFECT


def made_in_forward_fault(submission, model, inputs: list, role: str) -> str | None:
    """Whether `model` is a fixed function of its inputs: it runs no layer with weights that is not registered
    in it (`probes_a6.trace`), and the same inputs twice in eval mode give the same output. None when both
    hold, or when the model raises (the other checks word that)."""
    outs = outputs_of(submission, model, [inputs, inputs])
    if isinstance(outs, str) or outs[0].shape != outs[1].shape:
        return None
    gap = (outs[0] - outs[1]).abs()
    apart = float(gap.max()) / (float(outs[0].abs().max()) or 1.0) if bool(torch.isfinite(gap).all()) else 1.0
    layers = list(dict.fromkeys(f"{c['type']}({c['repr']})" for c in traced(submission, model, inputs)["calls"]
                                if c["name"] is None and c["weights"]))
    name, opt = role[0], f"opt_{role[0].lower()}"
    given = "z and y" if name == "G" else "images and labels"
    spelled = [("nn." if hasattr(torch.nn, layer.split("(")[0]) else "") + layer for layer in layers[:2]]
    named = " and ".join(f"`{layer}`" for layer in spelled)
    example = f"self.{layers[0].split('(')[0].lower()} = {spelled[0]}" if layers else ""
    if layers and apart > REPEATED:
        return (
            f"{role} makes {named} in forward: a layer made there is not registered in {name}, so it is new and random at "
            f"every call (the same {given} twice in eval mode give outputs {apart:.0%} of the largest value apart) and "
            f"never trained ({opt} never sees its weights); make it once in __init__ ({example}) and only "
            f"call it in forward"
        )
    if layers:
        return (
            f"{role} calls {named}, which is not registered in {name} (kept in a plain Python list or dict, or made "
            f"outside the class), so {opt} never sees its weights and it is never trained; assign it in __init__ as an "
            f"attribute ({example}), or keep such layers in nn.ModuleList"
        )
    if apart > REPEATED:
        return (
            f"{role} gives other outputs for the same {given} twice in eval mode ({apart:.0%} of the largest value "
            f"apart): something in its forward {RANDOM_IN_FORWARD} (weights made there, as in F.embedding(y, "
            f"torch.randn(...)), torch.rand, or F.dropout without training=self.training), so {name} cannot learn what "
            f"a label means; make its weights once in __init__, as layers or nn.Parameter"
        )
    return None


def generator_label_fault(submission, G) -> tuple[float, str] | None:
    """(points lost of 2, what is wrong) about G's use of y and z; None when each image follows its own z and y."""
    y = torch.arange(8) % NUM_CLASSES
    fault = made_in_forward_fault(submission, G, [noise(8), y], "G(z, y)")
    unused = ignored_noise(submission.run(probes.noise_reach, G, noise(8), y), NZ, "G(z, y)")
    if fault is not None and unused is not None and RANDOM_IN_FORWARD in fault:
        return 1.0, unused  # noise drawn inside forward for the z it is given: z ignored, told as such
    if fault is not None:
        return 2.0, fault
    found = dependence(submission, G, noise(8), noise(8, seed=2), y)
    if isinstance(found, str):
        shape = generator_shape_fault(submission, G)
        return 2.0, f"G(z, y) {found}" if shape is None else shape
    if found["y"] <= CHANGES:
        return 2.0, (
            "G(z, y) draws the same images whatever the labels (the same z with y = 0..7 and with y = 5..12 mod 10 give "
            "the same output): G ignores y, so it cannot draw the digit it is asked for; join the label to z, e.g. "
            f"torch.cat([z, {ONE_HOT}.float()], dim=1), into a first layer that takes nz + num_classes"
        )
    if found["other"] <= CHANGES:
        return 1.0, (
            "G(z, y) draws the same image for every z of a label (other z with the same labels give the same output): "
            "it ignores z, so it has one drawing per digit; pass z through G together with the label"
        )
    if unused is not None:
        return 1.0, unused
    if found["coupled"] is not None and found["coupled"] > COUPLING:
        return 1.0, (
            f"in eval mode, image i of G(z, y) differs from G(z[i:i+1], y[i:i+1]) (by {found['coupled']:.1%} of the largest "
            f"value): each image must depend on its own z[i] and y[i] only; join z and the label along dim 1 and do not "
            f"mix labels across the batch (no mean, sum or reshape over dim 0)"
        )
    merged = merged_labels(submission, G, noise(8))
    if merged:
        return 1.0, f"G(z, y) draws the same images for {merged_text(merged, 'G')}"
    return None


def merged_labels(submission, model, inputs: torch.Tensor, **seeded) -> list[tuple[int, int]]:
    """The pairs of labels k < k' that `model` cannot tell apart: model(inputs, k) and model(inputs, k') the same (eval
    mode, each label for the whole batch) as built and with its weights jittered (a label path that starts at zero
    gives every label the same output as built). A one-hot or embedding with fewer entries than labels, reached through
    a clamp or a modulo (F.one_hot(y.clamp(max=8), 9), y % 9), folds two labels into one; sound designs give every label
    its own output. [] when every label has its own, or when it cannot be measured (the other checks word that)."""
    n = len(inputs)
    same = None
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        outs = outputs_of(submission, model, [[inputs, torch.full((n,), k)] for k in range(NUM_CLASSES)], **options, **seeded)
        if isinstance(outs, str) or any(o.shape != outs[0].shape or not bool(torch.isfinite(o).all()) for o in outs):
            return []
        size = float(torch.stack(outs).double().abs().mean()) or 1.0
        pairs = {(k, j) for k in range(NUM_CLASSES) for j in range(k + 1, NUM_CLASSES)
                 if float((outs[k].double() - outs[j].double()).abs().mean()) / size <= CHANGES}
        same = pairs if same is None else same & pairs
    return sorted(same or ())


def merged_text(pairs: list[tuple[int, int]], role: str) -> str:
    """The words of `merged_labels`' fault for G ("G") or D ("D"), after "G(z, y) draws the same images for" or
    "D(x, y) gives the same logits for"."""
    shown = ", ".join(f"{k} and {j}" for k, j in pairs[:3]) + (", ..." if len(pairs) > 3 else "")
    given, cannot = (("the same z with either label gives the same images", "one of them can never be drawn") if role == "G"
                     else ("the same images with either label get the same logits", "it cannot tell them apart"))
    return (
        f"labels {shown} ({given}): it folds two labels into one, so {cannot} (a one-hot or embedding with fewer than "
        f"num_classes = {NUM_CLASSES} entries, reached through a clamp or a modulo, as F.one_hot(y.clamp(max=8), 9) or "
        f"y % 9 make it); give every label 0..9 its own entry: {ONE_HOT}, or nn.Embedding(num_classes, d)"
    )


def discriminator_label_fault(submission, D) -> str | None:
    """What is wrong with D's use of y; None when its logits move with the labels."""
    y = torch.arange(8) % NUM_CLASSES
    fault = made_in_forward_fault(submission, D, [images(8), y], "D(x, y)")
    seeded = {}
    if fault is not None and RANDOM_IN_FORWARD in fault:
        if stable_label_effect(submission, D, images(8), y):
            fault, seeded = None, {"rng_seed": 5}  # F.dropout or instance noise in forward: D only ever runs in training
        else:
            fault = (
                "D(x, y)'s label path is random at every call: with torch's random numbers drawn alike, what changing the "
                "labels does to its logits turns from one call to the next (weights drawn in forward, as in F.embedding(y, "
                "torch.randn(...))), so D cannot learn what a label means; make its weights once in __init__, as layers or "
                "nn.Parameter (dropout or noise in forward are fine: they leave the label's effect in place)"
            )
    if fault is not None:
        return fault
    found = dependence(submission, D, images(8), images(8, seed=2), y, **seeded)
    if isinstance(found, str):
        shape = discriminator_shape_fault(submission, D)
        return f"D(x, y) {found}" if shape is None else shape
    if found["y"] <= CHANGES:
        return (
            "D(x, y) gives the same logits whatever the labels (the same images with y = 0..7 and with y = 5..12 mod 10): "
            "D ignores y, so a real 3 labelled 7 looks as real to it as a real 7, and G has no reason to draw the digit it "
            "is asked for; join the label to D's input (one-hot maps as extra channels) or to its features before a "
            "nonlinear layer, or add a projection term"
        )
    if found["interaction"] <= ADDITIVE:
        return (
            "D(x, y) changes with y by the same amount whatever the image: the label only adds a constant per class (as "
            "when its vector joins the features right before a single linear layer), so D cannot tell whether an image "
            "matches its label; let the label meet the image in a nonlinear layer (extra input channels, or an MLP head "
            "after the convs), or use a projection <embed(y), phi(x)>"
        )
    if label_effect_rank_one(submission, D, **seeded):
        return (
            "D(x, y) changes with y only by rescaling one score of the image: for every label, the logits of a batch of "
            "images are one image score times a number (plus a number) of that label, as when the label multiplies D's "
            "final logit or a projection takes D's one-number output for phi(x); D then ranks the images alike whatever "
            "the label, so it cannot tell whether an image matches its label; let the label meet the image's features in "
            "a nonlinear layer (extra input channels, or an MLP head after the convs), or project onto the features "
            "the convs make, <embed(y), phi(x)> with phi(x) (N, F)"
        )
    x, order = images(8), torch.arange(7, -1, -1)  # the batch reversed: pairs (x[i], y[i]) kept, their places changed
    outs = outputs_of(submission, D, [[x, y], [x[order], y[order]]]) if not seeded else "random"  # dropout masks follow places
    if not isinstance(outs, str) and outs[0].shape == outs[1].shape and outs[0].shape[:1] == y.shape:
        top = float(outs[0].abs().max()) or 1.0
        moved = float((outs[1] - outs[0][order]).abs().max()) / top
        if moved > COUPLING:
            return (
                f"{MIXED_D} (by {moved:.1%} of the largest value): each image must be judged with its own label, whatever "
                f"its place in the batch, or D judges images with other images' labels; build the label's vector or maps "
                f"from y row by row (F.one_hot(y, num_classes)[:, :, None, None].expand(-1, -1, 28, 28)), with no transpose "
                f"or reshape across the batch"
            )
    others = other_labels_share(submission, D, **seeded)
    if others > OTHER_LABELS:
        return (
            f"{OTHER_LABELS_D} (by {others:.0%} of what changing its own label does): D judges each image with a sum or "
            f"mean over the batch's labels, as a projection summed with .sum() and no dim, or an embedding averaged over "
            f"the batch (embed(y).mean(0)), does; each image must be judged with its own label only: sum over the "
            f"features alone, (embed(y) * phi(x)).sum(1), and keep every operation on the labels row by row"
        )
    merged = merged_labels(submission, D, images(8), **seeded)
    if merged:
        return f"{MERGED_D}{merged_text(merged, 'D')}"
    return None


MIXED_D = "in eval mode, D's logits for a batch in reverse order are not its logits reversed"
OTHER_LABELS_D = "in eval mode, D's logit for an image changes when only the other images' labels change"
MERGED_D = "D(x, y) gives the same logits for "
OTHER_LABELS = 0.1  # ... by more than this share of what changing its own label does (sound designs: exactly 0)
RANK_ONE = 1e-4  # the label's effect on a batch's logits, centred, has rank one: its second singular value below this share of the first


def other_labels_share(submission, D, **seeded) -> float:
    """How much D's logit for an image moves when only the other images' labels change, as a share of how much it moves
    when its own label changes (eval mode; rows 0, 5 and 11 of 16 images; the larger of D as built and jittered, so that
    a projection that starts at zero counts). 0 when each image is judged with its own label only (BatchNorm in eval mode
    makes D a function of each image alone); about 1 or more for a label term summed or averaged over the batch. 0 when
    it cannot be measured (the other checks word that)."""
    x, y = images(16), torch.arange(16) % NUM_CLASSES
    share = 0.0
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        cases = [[x, y]]
        for row in (0, 5, 11):
            own, others = y.clone(), (y + 5) % NUM_CLASSES
            own[row], others[row] = (y[row] + 5) % NUM_CLASSES, y[row]
            cases += [[x, own], [x, others]]
        outs = outputs_of(submission, D, cases, **options, **seeded)
        if isinstance(outs, str) or any(o.numel() != 16 or not bool(torch.isfinite(o).all()) for o in outs):
            return 0.0
        base = outs[0].reshape(-1).double()
        moved_own = sum(float((base[r] - outs[1 + 2 * k].reshape(-1)[r].double()).abs()) for k, r in enumerate((0, 5, 11)))
        moved_others = sum(float((base[r] - outs[2 + 2 * k].reshape(-1)[r].double()).abs()) for k, r in enumerate((0, 5, 11)))
        if moved_others > 0:
            share = max(share, moved_others / moved_own if moved_own > 0 else math.inf)
    return share


def label_effect_rank_one(submission, D, **seeded) -> bool:
    """Whether the labels only rescale (and shift) one score of each image: D(x, k) for 16 images and every label k
    (eval mode) as a matrix (images x labels), its change from label 0 centred over the images has rank one (second
    singular value below RANK_ONE of the first, as built and jittered): D(x, y) = a_y * h(x) + b_y, as when a learned
    number per class multiplies D's final logit. Sound designs measure 0.3-0.6 at init; an additive label (rank 0) is
    told before this. False when it cannot be measured."""
    x = images(16)
    ratios = []
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        outs = outputs_of(submission, D, [[x, torch.full((16,), k)] for k in range(NUM_CLASSES)], **options, **seeded)
        if isinstance(outs, str) or any(o.numel() != 16 or not bool(torch.isfinite(o).all()) for o in outs):
            return False
        logits = torch.stack([o.reshape(-1).double() for o in outs], dim=1)  # (16 images, labels)
        effect = logits - logits[:, :1]
        effect = effect - effect.mean(0, keepdim=True)
        values = torch.linalg.svdvals(effect)
        if float(values[0]) > 1e-12 * max(1.0, float(logits.abs().max())):
            ratios.append(float(values[1] / values[0]))
    return bool(ratios) and max(ratios) < RANK_ONE


_DIGITS: dict = {}


def digits():
    """scikit-learn's digits training split (uint8 images, int64 labels), loaded once (trusted code, here)."""
    if "train" not in _DIGITS:
        from reference.data import load_dataset

        _DIGITS["train"] = load_dataset("digits", split="train")
    return _DIGITS["train"]


def real_batch(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (B, 1, 28, 28) in [-1, 1], labels (B,)) of real digits: "mixed", PER_LABEL of each class in
    a seeded order (B = 150); "sevens", twelve 7s (B = 12)."""
    data = digits()
    if kind == "mixed":
        picks = torch.cat([torch.nonzero(data.labels == k)[:PER_LABEL, 0] for k in range(NUM_CLASSES)])
        picks = picks[torch.randperm(len(picks), generator=torch.Generator().manual_seed(5))]
    else:
        picks = torch.nonzero(data.labels == 7)[:12, 0]
    return data.data[picks].float() / 127.5 - 1.0, data.labels[picks].clone()


def as_labels(value, n: int) -> torch.Tensor | None:
    """Labels (n,) int64 from what D or G was given as y: integers (n,) or (n, 1), or one-hot rows (n, K); else None."""
    if not isinstance(value, torch.Tensor) or value.shape[:1] != (n,) or not torch.isfinite(value.double()).all():
        return None
    if value.dim() == 1 or value.shape[1:] == (1,):
        return value.double().round().long().reshape(n)
    if value.dim() == 2 and value.shape[1] > 1:
        return value.double().argmax(1)
    return None


def neighbour_correlation(diff: torch.Tensor) -> torch.Tensor:
    """For each image of diff (n, ..., W), the correlation of horizontally neighbouring pixels' values (about 0 for
    white noise, near 1 for the difference of two images of strokes); 1 for a constant image."""
    d = diff.double().reshape(len(diff), -1, diff.shape[-1])
    d = d - d.mean(dim=(1, 2), keepdim=True)
    left, right = d[..., :-1].reshape(len(d), -1), d[..., 1:].reshape(len(d), -1)
    size = (left.pow(2).sum(1) * right.pow(2).sum(1)).sqrt()
    return torch.where(size > 0, (left * right).sum(1) / size.clamp_min(1e-300), torch.ones_like(size))


def same_rows(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """For each image of x (n, ...), the index of the image of ref (m, ...) it is, else -1: the image it equals (no
    pixel off by more than SAME_PIXELS), or the one it is with noise added (a step that adds instance noise to D's
    inputs, real + sigma * torch.randn_like(real), still judges those images).

    With noise: x lies within NOISY (RMS per pixel) of its nearest ref image j, well inside j's side of the midway
    between j and every other ref image k (|x - r_k|^2 - |x - r_j|^2 >= |r_j - r_k|^2 / 2: noise adds about the same
    to every distance, so the image noised is the nearest by a margin), and x - r_j is white noise (the correlation of
    horizontally neighbouring pixels' differences at most WHITE: another digit that looks much like r_j, as the
    8x8 digits drawn at 28x28 often do, differs from it in strokes, whose neighbouring pixels move together).
    """
    if len(ref) == 0 or x.shape[1:] != ref.shape[1:]:
        return torch.full((len(x),), -1, dtype=torch.long)
    a, b = x.reshape(len(x), -1).double(), ref.reshape(len(ref), -1).double()
    squared = torch.cdist(a, b) ** 2  # (n, m)
    # the largest pixel difference, for the pairs that can be within SAME_PIXELS of each other (within
    # sqrt(pixels) x SAME_PIXELS in the Euclidean distance): torch.cdist's max norm over all pairs costs 10x more
    largest = torch.full_like(squared, torch.inf)
    i, j = torch.nonzero(squared <= 2 * a.shape[1] * SAME_PIXELS**2, as_tuple=True)
    largest[i, j] = (a[i] - b[j]).abs().amax(dim=1)
    best, where = largest.min(dim=1)
    nearest_sq, nearest = squared.min(dim=1)
    margin = squared - nearest_sq[:, None] - torch.cdist(b, b)[nearest] ** 2 / 2  # (n, m): >= 0 inside j's side
    margin[torch.arange(len(a)), nearest] = 0.0
    white = neighbour_correlation(x - ref[nearest]) <= WHITE
    noisy = ((nearest_sq / a.shape[1]).sqrt() <= NOISY) & (margin >= 0).all(dim=1) & white
    return torch.where(best <= SAME_PIXELS, where, torch.where(noisy, nearest, torch.full_like(where, -1)))


def tensor_inputs(call) -> list[torch.Tensor]:
    """The tensors a recorded call of G or D was given, in forward's order; [] when malformed."""
    inputs = call.get("inputs") if isinstance(call, dict) else None
    return [t for t in inputs if isinstance(t, torch.Tensor)] if isinstance(inputs, list) else []


def is_noise(t: torch.Tensor) -> bool:
    return t.is_floating_point() and t.dim() == 2 and t.shape[1] == NZ


class StepCallFault(AssertionError):
    """train_step raised because of what it gave G or D (`failed_call_fault`): the message names that."""


def failed_call_fault(g_calls: list, d_calls: list) -> str | None:
    """What the call of G or D that raised in train_step (with the grader's stand-ins) was given, when that is
    the fault: the labels first (G(y, z), D(y, x)) or no labels; else None."""
    for role, calls in (("G", g_calls), ("D", d_calls)):
        failed = [tensor_inputs(c) for c in calls if isinstance(c, dict) and c.get("finished") is False]
        if not failed:
            continue
        inputs = failed[-1]
        if role == "G":
            call, first, second, own = "G(z, y)", "z", "y", "G(z, y_fake)"
            wanted = is_noise
        else:
            call, first, second, own = "D(x, y)", "x", "y", "D(real, labels) and D(fake, y_fake)"

            def wanted(t: torch.Tensor) -> bool:
                return t.is_floating_point() and t.dim() == 4
        if len(inputs) >= 2 and not wanted(inputs[0]) and wanted(inputs[1]):
            kind = "an integer" if not inputs[0].is_floating_point() else "a float"
            return (
                f"train_step calls {role} with its arguments in the other order, {role}({second}, {first}) (its first "
                f"argument {kind} tensor {shape_text(inputs[0].shape)}, its second {shape_text(inputs[1].shape)}): "
                f"{role} is called {call}, {'the noise' if role == 'G' else 'the images'} first and the labels second, as the "
                f"task says: call {own} (with forward(self, {first}, {second}) in your {role})"
            )
        if len(inputs) == 1 and wanted(inputs[0]):
            return (
                f"train_step calls {role} without the labels, {role}({first}) as in dcgan_step: the conditional {role} "
                f"takes them too, {call}: call {own}"
            )
    return None


D_FORMS = [{"column": column, "probabilities": probabilities} for probabilities in (False, True) for column in (False, True)]


def d_form(submission) -> dict[str, bool]:
    """How the student's D returns its scores, for the stand-in D a step is graded with: {"column": as (N, 1)
    rather than (N,), "probabilities": within [0, 1] even with its weights scaled up (a final sigmoid, charged
    by the discriminator's own check)}; logits (N,) when D does not run. A step written for the student's own D
    (targets of shape (N, 1), nn.BCELoss on a sigmoid's output) then runs with the stand-in. A step that raises
    with that form is tried with the others (`step_record`): its labels are judged whenever it runs with some D,
    and a step that fits no D of the student's form is charged by the learning check, once."""
    try:
        D = discriminator(submission)
        plain, scaled = range_outputs(submission, D, [[images(16), torch.arange(16) % NUM_CLASSES]])
    except (AssertionError, StudentError):
        return D_FORMS[0]
    if isinstance(plain, str) or isinstance(scaled, str) or not plain or not scaled:
        return D_FORMS[0]
    low, high = d_range(submission, D, [[images(16), torch.arange(16) % NUM_CLASSES]], plain, scaled)
    return {"column": tuple(plain[0].shape) == (16, 1), "probabilities": bool(low >= 0 and high <= 1)}


def forward_names(submission, role: str) -> list[str] | None:
    """The names of the first two parameters of the student's G's ("G") or D's forward (`probes_a6.forward_names`),
    for the stand-in of that role: a step that calls the student's networks by keyword with their own names,
    G(noise=z, labels=y_fake) for a forward(self, noise, labels), calls the stand-ins alike. None when the network
    cannot be built or its forward does not name two such parameters (the stand-in's own names then: z, y and x, y)."""
    try:
        model = generator(submission) if role == "G" else discriminator(submission)
        names = submission.run(probes_a6.forward_names, model)
    except (AssertionError, StudentError):
        return None
    if isinstance(names, list) and len(names) == 2 and all(isinstance(n, str) and n.isidentifier() for n in names):
        return names
    return None


def stand_ins(submission, form: dict | None = None) -> tuple:
    """The grader's stand-in G(z, y) and D(x, y) for grading the step alone, D in `form` (the student's D's, `d_form`,
    when None), their arguments named as the student's G's and D's forward name them (`forward_names`)."""
    form = d_form(submission) if form is None else form
    G = submission.run(probes_a6.stand_in_generator, NZ, NGF, names=forward_names(submission, "G"))
    D = submission.run(probes_a6.stand_in_discriminator, NDF, **form, names=forward_names(submission, "D"))
    return G, D


STAND_IN_ATTRIBUTE = re.compile(r"'_StandIn(Generator|Discriminator)' object has no attribute '(\w+)'")


def step_record(submission, real: torch.Tensor, labels: torch.Tensor, seed: int = 0, steps: int = 1) -> dict:
    """`steps` calls of `train_step` on (real, labels) with the grader's stand-in G(z, y) and D(x, y) (so that this
    grades the step alone): {"g": [(labels given, images made)], "g_noise": [the z of each of them], "d": [(images
    judged, labels given or None, whether the images require grad)]} of the first call, "later_g": [[(labels given,
    noise given) of each call of G] for each later call], every value checked. A step that raises is told by what the failing call was given when that
    is the fault (`failed_call_fault`), else by its error."""
    step = submission.get(STEP)
    first = d_form(submission)
    found = {}
    for form in [first, *(f for f in D_FORMS if f != first)]:  # the student's D's form first, then any other that runs
        G, D = stand_ins(submission, form)
        tried = submission.run(probes_a6.step_calls, step, G, D, real, labels, nz=NZ, num_classes=NUM_CLASSES, seed=seed,
                               steps=steps, namespace=NAMESPACE)
        tried = tried if isinstance(tried, dict) else {}
        failed = isinstance(tried.get("error"), dict)
        found = tried if not found or not failed else found  # the first form's error, when every form raises
        if not failed or StudentError.from_info(tried["error"]).not_implemented:
            break
    raw_g = found.get("g_calls") if isinstance(found.get("g_calls"), list) else []
    raw_d = found.get("d_calls") if isinstance(found.get("d_calls"), list) else []
    if isinstance(found.get("error"), dict):
        err = StudentError.from_info(found["error"])
        if err.not_implemented:
            raise err
        later = found.get("later_g_calls") if isinstance(found.get("later_g_calls"), list) else []
        failing_g = later[-1] if later and isinstance(later[-1], list) else raw_g  # G's calls of the call that raised
        fault = failed_call_fault(failing_g, raw_d)
        if fault is not None:
            raise StepCallFault(fault)
        read = STAND_IN_ATTRIBUTE.search(err.message)
        if read:
            role = "G" if read[1] == "Generator" else "D"
            raise AssertionError(
                f"{err.describe()}: train_step reads {role}.{read[2]}, which the grader's stand-in {role} (like any "
                f"G(z, y) and D(x, y) the step is given) need not have; use train_step's own arguments nz and "
                f"num_classes, and the shapes of real and labels"
            )
        raise AssertionError(
            f"{err.describe()}; train_step(G, D, opt_g, opt_d, real, labels, nz, num_classes) must make one step with any "
            f"G(z, y) and D(x, y) (the grader's stand-ins here), Adam optimizers and a real batch of {len(real)} digits"
        )
    g_calls, g_noise, d_calls, g_lengths, d_lengths = [], [], [], [], []
    label_dtypes = [(role, str(inputs[1].dtype).removeprefix("torch.")) for role, calls in (("G", raw_g), ("D", raw_d))
                    for inputs in map(tensor_inputs, calls) if len(inputs) >= 2 and is_not_int64_labels(inputs[1], inputs[0])]
    narrow_rows = [(role, tuple(inputs[1].shape), role == "D" and bool((same_rows(inputs[0].double(), real) >= 0).any()))
                   for role, calls in (("G", raw_g), ("D", raw_d)) for inputs in map(tensor_inputs, calls)
                   if len(inputs) >= 2 and is_narrow_one_hot(inputs[1], inputs[0])]
    for call in raw_g:
        inputs = tensor_inputs(call)
        out = call.get("output") if isinstance(call, dict) else None
        if len(inputs) >= 2 and isinstance(out, torch.Tensor) and out.is_floating_point() and out.shape[:1] == inputs[0].shape[:1]:
            y = as_labels(inputs[1], len(out))
            if y is not None:
                g_calls.append((y, out.double()))
                g_noise.append(inputs[0].double())
            elif inputs[1].dim() >= 1 and inputs[1].shape[0] != len(out):
                g_lengths.append((len(out), inputs[1].shape[0]))
    d_used = []
    for call in raw_d:
        inputs = tensor_inputs(call)
        if inputs and inputs[0].is_floating_point() and inputs[0].dim() == 4:
            x = inputs[0].double()
            tracked = call.get("tracked") if isinstance(call.get("tracked"), list) else []
            d_calls.append((x, as_labels(inputs[1], len(x)) if len(inputs) >= 2 else None, bool(tracked[:1] == [True])))
            given = inputs[1] if len(inputs) >= 2 and inputs[1].dim() >= 1 and inputs[1].shape[0] != len(x) else None
            d_lengths.append(None if given is None else given.shape[0])
            d_used.append(call.get("used") is True)
    later_g = []
    for calls in found.get("later_g_calls") if isinstance(found.get("later_g_calls"), list) else []:
        pairs = []
        for call in calls if isinstance(calls, list) else []:
            inputs = tensor_inputs(call)
            y = as_labels(inputs[1], len(inputs[0])) if len(inputs) >= 2 and inputs[0].dim() >= 1 else None
            if y is not None:
                pairs.append((y, inputs[0].double()))
        later_g.append(pairs)
    # g_noise: the z of each call in g; g_lengths: (images, labels) of G's calls with another number of labels than
    # images; d_lengths: per call of d, the number of labels given when it is not one per image, else None;
    # label_dtypes: (G or D, the dtype) of each call given labels as floating-point numbers or as integers other than int64;
    # narrow_rows: (G or D, the shape, whether they came with real images) of each call given one-hot rows of another
    # width than num_classes; d_rows: whether some call of D was given its labels as rows (N, K); d_used: per call of d,
    # whether a backward() reached its logits (a term of a loss, not a call for a log)
    return {"g": g_calls, "g_noise": g_noise, "d": d_calls, "g_lengths": g_lengths, "d_lengths": d_lengths, "later_g": later_g,
            "d_used": d_used,
            "label_dtypes": label_dtypes, "narrow_rows": narrow_rows,
            "d_rows": any(len(inputs) >= 2 and inputs[1].dim() == 2 and inputs[1].shape[1] > 1 for inputs in map(tensor_inputs, raw_d))}


def is_narrow_one_hot(y: torch.Tensor, first: torch.Tensor) -> bool:
    """Whether y, given to G or D beside `first` (z or the images), is one-hot rows (N, K), one 1 in each row, of
    another width K than num_classes (F.one_hot(labels) without num_classes: K follows the batch's largest label)."""
    if not (first.dim() >= 1 and y.dim() == 2 and y.shape[0] == first.shape[0] and 1 < y.shape[1] != NUM_CLASSES):
        return False
    values = y.double()
    return bool(((values == 0) | (values == 1)).all() and (values.sum(1) == 1).all())


def narrow_rows_fault(submission, real_only: bool = False) -> str | None:
    """What is wrong when train_step, on a batch of 12 real 7s, gives G or D one-hot rows narrower or wider than
    num_classes (F.one_hot(labels) without num_classes makes labels.max() + 1 columns, 8 here, so D or G built for
    num_classes columns fails on every batch without a 9); real_only: only D's rows for the real images. Else None."""
    real, labels = real_batch("sevens")
    try:
        record = step_record(submission, real, labels, seed=2)
    except (AssertionError, StudentError):
        return None
    for role, shape, with_real in record["narrow_rows"]:
        if real_only and not with_real:
            continue
        which = "the real images' labels" if with_real else "the fake batch's labels"
        return (
            f"train_step gives {role} {which} as one-hot rows whose width follows the batch: for {len(real)} real 7s they are "
            f"{shape_text(list(shape))}, not ({shape[0]}, {NUM_CLASSES}): F.one_hot(labels) without num_classes makes as many "
            f"columns as the batch's largest label plus one, so {role} gets another label size whenever a batch holds no 9; "
            f"pass num_classes, F.one_hot(labels, num_classes), or give {role} the integer labels as they are"
        )
    return None


def is_not_int64_labels(y: torch.Tensor, first: torch.Tensor) -> bool:
    """Whether y, given to G or D beside `first` (z or the images), is one label per sample, (N,) or (N, 1), held as
    floating-point numbers (torch.randint(...).float()) or as integers other than int64 (dtype=torch.int32, .int(),
    torch.IntTensor); one-hot rows are another design."""
    return (y.dtype not in (torch.int64, torch.bool) and first.dim() >= 1 and y.shape in ((first.shape[0],), (first.shape[0], 1)))


def label_count_text(images: int, given: int) -> str:
    """The fix for labels that are not one per image (a label vector of another batch, e.g. the notebook's global y)."""
    return (f"{given} labels for {images} images: labels come one per image, (B,) with B = real.shape[0]; the step's own "
            f"labels, `labels` for the real batch and y_fake = torch.randint(0, num_classes, (B,)) for the fake one, not a "
            f"label vector of another batch (such as a variable of the notebook)")


def label_rule_text(true: list[int], given: list[int], verb: str) -> str | None:
    """"each label k <verb> (k + 1) mod 10" when each label in `true` goes with one label in `given` (the labels
    changed by a rule, not drawn or reordered); None otherwise."""
    rule: dict[int, set[int]] = {}
    for g, t in zip(given, true):
        rule.setdefault(t, set()).add(g)
    if not rule or any(len(shown) != 1 for shown in rule.values()):
        return None
    shown = {t: next(iter(g)) for t, g in sorted(rule.items())}
    plain, modular = {shown[t] - t for t in shown}, {(shown[t] - t) % NUM_CLASSES for t in shown}
    if len(plain) == 1 and next(iter(plain)) != 0:
        shift = next(iter(plain))
        return f"each label k {verb} k {'+' if shift > 0 else '-'} {abs(shift)}"
    if len(modular) == 1 and all(0 <= g < NUM_CLASSES for g in shown.values()):
        return f"each label k {verb} (k + {next(iter(modular))}) mod {NUM_CLASSES}"
    return ", ".join(f"{t} {verb} {g}" for t, g in shown.items() if g != t)


def affine_fit(x: torch.Tensor, real: torch.Tensor) -> tuple[float, float] | None:
    """(a, b) when the images x are the real batch rescaled, x = a * real + b image for image and pixel for pixel
    (normalised again, (real - 0.5) / 0.5, or mapped to [0, 1]) with (a, b) not (1, 0); else None."""
    if x.shape != real.shape:
        return None
    r, v = real.double().flatten(), x.double().flatten()
    spread = float(r.var())
    if spread == 0:
        return None
    a = float(((r - r.mean()) * (v - v.mean())).mean()) / spread
    b = float(v.mean()) - a * float(r.mean())
    if float((v - (a * r + b)).abs().max()) > 1e-4 * max(1.0, float(v.abs().max())) or (abs(a - 1) < 1e-6 and abs(b) < 1e-6):
        return None
    return a, b


def turned_real_count(d_calls: list, real: torch.Tensor) -> int:
    """How many images D was given (in `step_record`'s d calls) are one of the real images mirrored or turned (flipped
    left-right or upside down, or rotated by right angles), and not one of them as they are (a symmetric digit)."""
    turned = torch.cat([real.flip(-1), real.flip(-2), *(real.rot90(k, (-2, -1)) for k in (1, 2, 3))])
    count = 0
    for x, _, _ in d_calls:
        if isinstance(x, torch.Tensor) and x.dim() == 4 and x.shape[1:] == real.shape[1:]:
            count += int(((same_rows(x, real) < 0) & (same_rows(x, turned) >= 0)).sum())
    return count


def real_pairs_fault(submission) -> str | None:
    """What is wrong with the labels D sees with the real images in train_step; None when each real image has its own."""
    real, labels = real_batch("mixed")
    record = step_record(submission, real, labels)
    if not record["d"]:
        return "train_step never calls D(x, y) (with images (B, 1, 28, 28)): D's step judges D(real, labels) and D(fake, y_fake)"
    given, true = [], []
    unlabelled = False
    own = torch.zeros(len(real), dtype=torch.bool)  # real images judged in a call that gives every real image its own label
    found = [same_rows(x, real) for x, _, _ in record["d"]]
    judging = [bool((rows >= 0).any()) for rows in found]
    # the calls that judge real images in a loss (a backward() reached their logits), when some do: a call made for a
    # log, under torch.no_grad() or with its logits detached, teaches D nothing, so its labels do not count (a step
    # that logs D(real, labels) and trains on D(real, y_fake) was taken for a matching-aware D); a step whose calls on
    # the real batch all go without a backward() (D's update skipped in this call by a schedule) is read by all its calls
    in_loss = [j and used for j, used in zip(judging, record["d_used"])]
    counted = in_loss if any(in_loss) else [True] * len(record["d"])
    for (x, y, _), count, rows, kept in zip(record["d"], record["d_lengths"], found, counted):
        if not kept:
            continue
        judged = torch.nonzero(rows >= 0)[:, 0]
        if y is None and count is not None and len(judged):
            return f"train_step shows D the real images with {label_count_text(len(x), count)}"
        for i in judged.tolist():
            if y is None:
                unlabelled = True
                continue
            given.append(int(y[i]))
            true.append(int(labels[rows[i]]))
        if y is not None and len(judged) and torch.equal(y[judged], labels[rows[judged]]):
            own[rows[judged]] = True
    turned = turned_real_count(record["d"], real)
    if turned:  # a digit mirrored or turned is no longer the digit its label names (a mirrored 7 is no 7)
        return (
            f"train_step shows D real digits mirrored or turned ({turned} of the images D judged are one of the {len(real)} "
            f"real images flipped or rotated): a mirrored or turned digit is not the digit its label names, so D learns "
            f"that such digits are real; pass `real` to D as it is, D(real, labels)"
        )
    if unlabelled:
        return "train_step calls D on the real images without their labels; D judges pairs: D(real, labels)"
    if not given:
        rescaled = next((fit for x, _, _ in record["d"] if (fit := affine_fit(x, real)) is not None), None)
        if rescaled is not None:
            a, b = rescaled
            return (
                f"D judges the real images rescaled (real * {a:.3g} {'+' if b >= 0 else '-'} {abs(b):.3g}), not as train_step "
                f"gets them: `real` comes already in [-1, 1], the range of G's tanh; pass it to D as it is, D(real, labels)"
            )
        return (
            f"D never judges the real batch in train_step (none of the images D got is one of the {len(real)} real images "
            f"passed as `real`): D's step needs D(real, labels)"
        )
    wrong = sum(g != t for g, t in zip(given, true))
    if not wrong or bool(own.all()):  # every real image also judged with its own label: the others are an extra
        # mismatch term (D(real, wrong labels) as fake: Reed et al. 2016's matching-aware D), not a fault; labels given
        # as one-hot rows must keep num_classes columns for a batch without a 9 too
        rows = record["d_rows"] and narrow_rows_fault(submission, real_only=True)
        return rows or None
    drawn = {tuple(y.tolist()) for y, _ in record["g"]}
    if tuple(given[: len(real)]) in drawn or tuple(given) in drawn:
        return (
            "D judges the real images with the labels drawn for the fake batch, not with their own: D(real, labels) "
            "for the real images, D(fake, y_fake) for G's"
        )
    how = label_rule_text(true, given, "comes as")
    if how is not None:  # every real k comes with one label: relabelled, not reordered
        return (
            f"D judges the real images with their labels changed, not reordered ({wrong} of {len(given)} images with a "
            f"label that is not theirs: {how}): pass each image's own label as it is, D(real, labels), with no "
            f"arithmetic on the labels"
        )
    if sorted(given) == sorted(true):
        return (
            f"D judges the real images with their batch's labels in another order ({wrong} of {len(given)} images with a "
            f"label that is not theirs): image i must come with labels[i]; shuffle or index images and labels together, "
            f"or not at all"
        )
    return f"D judges the real images with labels that are not theirs ({wrong} of {len(given)}): D(real, labels), image i with labels[i]"


@check(points=2, visible=True)
def test_generator_output_shape(submission):
    """G(z, y) is (N, 1, 28, 28) for any batch, any labels 0-9 and any nz; its widths follow ngf."""
    G = generator(submission)
    fault = generator_shape_fault(submission, G)
    if fault is not None:
        raise AssertionError(f"{fault}; expected (N, 1, 28, 28)")
    y = torch.tensor([1, 5, 9, 0])
    try:
        G32 = generator(submission, nz=32)
    except AssertionError as err:
        raise Partial(1, f"with nz=32: {err}; use the `nz` argument") from None
    fault = generator_fault(traced(submission, G32, [noise(4, 32), y]), 4)
    if fault is not None:
        raise Partial(1, f"with nz=32, G(z, y) {fault}; expected (N, 1, 28, 28) for every nz: use the `nz` argument, do not fix it at {NZ}")
    fault = width_fault(submission, "G")
    if fault is not None:
        raise width_partial(fault, "ngf", NGF)


@check(points=1, visible=True)
def test_generator_output_range(submission):
    """G's output lies in [-1, 1] (a final tanh), even with large weights."""
    G = generator(submission)
    case = [[noise(16), torch.arange(16) % NUM_CLASSES]]
    plain, scaled = range_outputs(submission, G, case)
    if isinstance(plain, str) or isinstance(scaled, str):
        fault = generator_shape_fault(submission, G)
        raise AssertionError(fault or f"G(z, y) {plain if isinstance(plain, str) else scaled}")
    values = torch.cat([plain[0].flatten(), scaled[0].flatten()])
    if not values.numel() or not torch.isfinite(values).all():
        raise AssertionError("G's output has NaN or infinite values once its weights are scaled up; expected [-1, 1]: end G with nn.Tanh()")
    low, high = float(values.min()), float(values.max())
    if low < -1 - 1e-5 or high > 1 + 1e-5:
        ran = [c for c in traced(submission, G, case[0])["calls"] if c["out"] is not None]
        fix = CHANGED_AFTER_TANH if ran and ran[-1]["type"] == "Tanh" else "end G with nn.Tanh()"
        raise AssertionError(f"G's output reaches [{low:.3g}, {high:.3g}] once its weights are scaled up; expected [-1, 1]: {fix}")
    if low > -0.5:
        raise AssertionError(
            f"G's output stays in [{low:.3g}, {high:.3g}], never negative even with large weights; expected [-1, 1] (the "
            f"digits are scaled to [-1, 1]): {END_WITH_TANH}"
        )
    if (low > -REACH or high < REACH) and isinstance(pushed := outputs_of(submission, G, [[noise(16) * Z_SCALE, case[0][1]]], scale=25.0), list):
        low, high = min(low, float(pushed[0].min())), max(high, float(pushed[0].max()))  # spectral norm: a larger z still grows it
    if fault := short_of_one(low, high):
        raise AssertionError(f"G's output {fault}")


@check(points=2, visible=True)
def test_generator_uses_labels_and_noise(submission):
    """G's images change with y and with z, each image with its own label and noise only."""
    found = generator_label_fault(submission, generator(submission))
    if found is None:
        return
    lost, message = found
    if lost >= 2:
        raise AssertionError(message)
    raise Partial(2 - lost, message)


@check(points=2, visible=True)
def test_discriminator_output(submission):
    """D(x, y) returns one logit per image for any batch and any labels 0-9; its widths follow ndf."""
    D = discriminator(submission)
    fault = discriminator_shape_fault(submission, D)
    if fault is not None:
        raise AssertionError(f"{fault}; expected one logit per image, (N,) or (N, 1)")
    case = [[images(16), torch.arange(16) % NUM_CLASSES]]
    plain, scaled = range_outputs(submission, D, case)
    if isinstance(plain, str) or isinstance(scaled, str):
        raise AssertionError(f"D(x, y) {plain if isinstance(plain, str) else scaled}")
    low, high = d_range(submission, D, case, plain, scaled)
    if low >= 0 and high <= 1:
        raise Partial(1, (
            f"D's outputs stay in [{low:.3g}, {high:.3g}] even with its weights scaled up 25 times: it returns "
            f"probabilities (a final sigmoid); return logits, without nn.Sigmoid(): LOSS (reference.losses) takes logits"
        ))
    last = submission.run(probes.final_operation, D, *case[0]) if (low >= -1 or high <= 0) else None  # one-sided or squashed
    if low >= -1 and high <= 1 and last in SQUASHING:
        raise Partial(1, (
            f"D's outputs stay in [{low:.3g}, {high:.3g}] even with its weights scaled up 25 times: its last layer squashes "
            f"them; return logits, the last layer's output with no activation after it: LOSS (reference.losses) takes logits"
        ))
    if fault := one_sided_logit(last, low, high, what="D"):
        raise Partial(1, fault)
    fault = width_fault(submission, "D")
    if fault is not None:
        raise width_partial(fault, "ndf", NDF)


@check(points=2, visible=True)
def test_discriminator_uses_labels(submission):
    """D's logits change with the labels it is given, differently for different images."""
    fault = discriminator_label_fault(submission, discriminator(submission))
    if fault is not None and fault.startswith((MIXED_D, OTHER_LABELS_D, MERGED_D)):  # it uses the labels, but mixes or merges them
        raise Partial(1, fault)
    if fault is not None:
        raise AssertionError(fault)


@check(points=2, visible=True)
def test_step_shows_real_images_with_their_labels(submission):
    """train_step shows D each real image with its own label."""
    fault = real_pairs_fault(submission)
    if fault is not None:
        raise AssertionError(fault)
