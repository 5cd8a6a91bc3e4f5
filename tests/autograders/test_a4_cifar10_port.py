"""Checks of a4_cifar10_port: port the MNIST DCGAN to CIFAR-10 (3x32x32 colour images).

The student writes `make_cifar10_loader(root, batch_size)` (torchvision's CIFAR10 with transforms),
`make_generator(nz, ngf)`, `make_discriminator(ndf)`, `save_colour_grid(images, path)` and
`train_step(G, D, opt_g, opt_d, real, z)`. The
checks reach them through `submission` only, with the probes of `reference.grading.probes_a4`
(each call's exception comes back as data, so a check can name the layer or call that failed):

- loader (2, visible): the check writes tiny files in CIFAR-10's real pickle layout
  (`reference.metrics.quick_fid.write_cifar10`) into a fresh folder of `submission.scratch`; the
  probe calls the student's loader on it with torchvision's md5 comparison turned into an
  existence check and returns the first batch. Every image must be one of the files' training
  images (or its mirror image: a horizontal flip is a fine augmentation, and so is the training set doubled with its
  mirror images, a dataset of a multiple of its size) scaled to [-1, 1],
  however the normalisation is written (`Normalize((0.5,), (0.5,))` broadcasts and is right). A
  second pass must start in another order (shuffled every epoch; 1 point when it does not, or when the loader is an
  iterator, a generator or itertools.cycle, whose second pass is no new epoch), each batch must be an (images, labels)
  pair, as the training loop unpacks it (1 point when not), and float32 (1 point for float64, float16 or bfloat16).
  Images in a wrong layout (channels last, .data reshaped instead of permuted, height and width
  swapped, colour channels reversed), scaled to [-1, 1] twice, or normalised with a dataset's channel means and
  stds (read back from the batch), and a dataset holding fewer images than a batch, are named as such.
- generator (2, visible): G(z) is (N, 3, 32, 32) for N = 2, 5 and nz = 100, 32 (a G that works at
  nz = 100 only gets 1 point: "use the `nz` argument"); every layer with weights is registered in
  G; the output stays in [-1, 1] with every weight scaled up 25 times, and z too when that leaves it
  small (spectral norm divides each weight by its scale; only a final tanh does that, 1 point); the output depends on
  every dimension of the z it is given (1 point when not: noise drawn inside forward, part of z dropped), and is the same
  for the same z (1 point when two calls in eval mode differ: random labels or noise drawn in forward besides z); its
  last conv draws 32x32 (1 point when convolutions stop short of it, or draw 64x64, and a resize, pool, pad or crop
  makes 32x32). A wrong shape or an exception is traced layer by layer against the DCGAN
  ladder 4x4 -> 8x8 -> 16x16 -> 32x32, and the layer that leaves it, or raises, is named.
- discriminator (1, visible): D takes (N, 3, 32, 32) and returns one value per image, (N,) or
  (N, 1) (traced against 32 -> 16 -> 8 -> 4 -> 1 when not), its layers are registered, and it
  returns logits: with its weights (and its input) scaled up its outputs leave [0, 1] (a final nn.Sigmoid(), the
  PyTorch DCGAN tutorial's habit, keeps them in; the course's losses take logits); its widths follow `ndf` (half a
  point when make_discriminator(ndf=16) and (ndf=32) have as many parameters: a global in its place; half a point when
  its first convolution reads a resized input smaller than 32x32, the MNIST ladder kept behind an nn.Upsample, or larger,
  the tutorial's 64x64 ladder behind one).
- training step (2, visible): `probes_a4.step_run` calls the student's `train_step(G, D, opt_g, opt_d, real, z)` once on
  lesson 02's scene (`reference.checks.lesson_02`: a tiny seeded MLP GAN, plain SGD, a leftover `.grad` in every
  parameter, as after an earlier step; made here and sent to the worker, where reference.checks is not) and returns the losses it returned and both networks' parameters after it;
  the oracle is the course trainer's own step on the same scene (`Run.train_epoch`, as lesson 02's d_step and g_step
  checks use it). The losses must be the trainer's and the networks where its step leaves them. Lesson 02's
  diagnoses name the fault: labels swapped, the D terms averaged (exactly half: "sum them"), the saturating G loss,
  a missing zero_grad (gradients of the earlier step used again); and this check's own: D's loss reaching G (no
  detach: the KNOWN_FIXES error, or a second backward pass into G), an optimiser stepped other than once (G's step
  also stepping D), G run in eval mode, z ignored, losses not returned as two numbers. The learning check trains
  G and D with the grader's own loop, so a wrong step costs these 2 points only.
- colour grid (2, hidden): `save_colour_grid(images, path)` with 16 plain colours in [-1, 1] and
  a path in a fresh folder of the scratch; the check reads the PNG with PIL: colour, each image's
  colour mapped from [-1, 1] to [0, 255], 32x32 per image, then the same colours at half strength,
  which must stay dim: the mapping is the fixed (x + 1) / 2, then images whose top and bottom halves
  differ in colour, which must stay upright (1 point for colours saved without the mapping, clipped or
  wrapped around by a uint8 cast, with the channels in BGR order, or mapped twice; then 1 point for each of these, 0 for two or more: each batch stretched by its own
  minimum and maximum, images transposed or turned by 90 degrees (lying on their side) or upside down,
  an upscaled grid, a grid that does not lay out `nrow` images per row: 8 when called without it, 4
  with nrow=4, found by where each coloured image lands, a grid that leaves out some of a batch of 40 plain colours
  (images[:16])).
- learning (3, hidden): `reference.grading.learning.learning_check` with the student's G and D at
  ngf = ndf = 16, built with each run's seed: the worker trains them for up to 400 seeded steps on
  the coloured digits at 32x32 and returns G's samples every 25 steps (`learning.PAIR_STEPS`,
  `PAIR_EVERY`: a sound pair's FID can swing between checkpoints early on); here their classifier-FID
  (the grader's own classifier) must reach 70% of what one fixed image scores
  (`learning.TARGET`; a run stops there) in most of three seeded runs, with new images rather than copies of known ones (1 point when it learns only
  slowly or on some seeds). The DCGAN rules of the requirements are graded through these runs: a design that breaks one
  and learns keeps its points (the notebook says so); one that does not learn is told the rules its layer traces show
  broken (`rule_breaks`), else what else may slow it (`slow_design`).

Points: 2 + 2 + 1 + 2 + 2 + 3 = 12.
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import torch

from reference.grading import NAMESPACE, Partial, StudentError, check
from reference.grading.checks import BATCH_FIXED, CHANGED_AFTER_TANH, END_WITH_TANH, REACH, SQUASHING, batch_hint, clean_text, ignores_width
from reference.grading.checks import SIGNATURE_FIX, built_network, raise_call_error, ignored_noise, one_sided_logit, parameter_count, short_of_one
from reference.grading.learning import PAIR_EVERY, PAIR_STEPS
from reference.grading import probes, probes_a2, probes_a4
from reference.checks import lesson_02 as step_scene
from reference.grading.submission import make_scratch_folder, remove_scratch_folder, scratch_listing, write_scratch_files

ASSIGNMENT = "a4_cifar10_port"
NZ, WIDTH = 100, 16  # the checks build G and D at ngf = ndf = 16: fast, and the same code as 64
BATCH = 8
G_LADDER = (1, 4, 8, 16, 32)  # z as (N, nz, 1, 1), then each stage doubles
D_LADDER = (32, 16, 8, 4, 1)  # each stage halves, the last conv turns 4x4 into one logit
NORMALISE = "transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"
NORMALISE_HINT = f"add {NORMALISE} after transforms.ToTensor()"
AFTER_TANH = (
    "nn.Tanh() follows its last conv, but the Tanh's output is changed afterwards (such as (x + 1) / 2 or a clamp to "
    "[0, 1]): return the Tanh's output as it is; the images are scaled to [-1, 1], and the plots map them back themselves"
)
REGISTER_HINT = (
    "layers kept in a plain Python list or dict (or made in forward) are not registered, so .parameters(), the "
    "optimizer and weights_init never see them: keep them in nn.Sequential or nn.ModuleList, assigned in __init__"
)
Z_FLAT = "a conv takes (N, C, H, W): reshape z (N, nz) to (N, nz, 1, 1) before the first conv"
Z_SCALE = 1000.0  # z scaled up in the range check when scaled weights alone leave the output small (spectral norm)
LEARN_STEPS, LEARN_EVERY = PAIR_STEPS, PAIR_EVERY  # seeded steps of each learning run (batch 32), checkpoint spacing


# ---------------------------------------------------------------------------------------------
# What comes back from the submission: untrusted, so every value is checked before it is used
# ---------------------------------------------------------------------------------------------


def text(value, limit: int = 300) -> str:
    """Untrusted text as one printable line of at most `limit` characters."""
    return clean_text(value, limit)


def dims(value) -> list[int] | None:
    """A shape sent back by a probe, or None."""
    if isinstance(value, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        return list(value)
    return None


def shape_text(shape, batch: int | None = None) -> str:
    """"(N, 1, 32, 32)" for a batch of `batch`, the exact shape otherwise."""
    items = list(shape)
    if items and batch is not None and items[0] == batch:
        items[0] = "N"
    return "(" + ", ".join(str(d) for d in items) + ("," if len(items) == 1 else "") + ")"


# ---------------------------------------------------------------------------------------------
# Building and tracing the networks
# ---------------------------------------------------------------------------------------------


def built(submission, name: str, seed: int = 0, **kwargs):
    """The student's `name(**kwargs)`, built with `seed` in training mode (in the worker when graded); the faults
    `built_network` names raised."""
    return built_network(submission, probes_a4.make, name, seed, NAMESPACE, kwargs,
                         "return the network (an nn.Sequential, or your nn.Module)")


def clean_call(call) -> dict | None:
    """One module call of a trace, with every field checked; None when it is malformed."""
    if not isinstance(call, dict):
        return None
    ints = {k: call.get(k) if isinstance(call.get(k), int) and not isinstance(call.get(k), bool) else None
            for k in ("in_channels", "out_channels", "in_features", "weights")}
    name = call.get("name")
    return {
        "name": text(name, 80) if isinstance(name, str) else None,
        "type": text(call.get("type"), 60) or "a module",
        "repr": text(call.get("repr"), 160),
        "leaf": call.get("leaf") is True,
        "in": dims(call.get("in")),
        "out": dims(call.get("out")),
        "scale": call.get("scale") if isinstance(call.get("scale"), float) and math.isfinite(call.get("scale")) else None,
        **ints,
    }


def traced(submission, model, x: torch.Tensor) -> dict:
    """`probes_a4.trace` of model(x), checked: {"output", "calls", "failed" (a call or None), "error"}."""
    result = submission.run(probes_a4.trace, model, x, NAMESPACE)
    result = result if isinstance(result, dict) else {}
    calls = [clean_call(call) for call in result.get("calls")] if isinstance(result.get("calls"), list) else []
    calls = calls if all(c is not None for c in calls) else []
    failed = result.get("failed")
    failed = calls[failed] if isinstance(failed, int) and not isinstance(failed, bool) and 0 <= failed < len(calls) else None
    output = result.get("output") if isinstance(result.get("output"), torch.Tensor) else None
    kind = result.get("output_type") if isinstance(result.get("output_type"), dict) else {}
    error = result.get("error") if isinstance(result.get("error"), dict) else None
    if output is None and error is None and not kind:
        error = {"type": "an exception", "message": "the network could not be traced"}
    return {"output": output, "output_kind": text(kind.get("type"), 60) or "nothing", "calls": calls, "failed": failed, "error": error}


def layer(call: dict) -> str:
    """"layer `3` (ConvTranspose2d(64, 32, kernel_size=(4, 4), ...))"."""
    module = f"{call['type']}({call['repr']})"
    return f"layer `{call['name']}` ({module})" if call["name"] else module


def leaves(run: dict) -> list[dict]:
    """The leaf layers that finished, in the order they ran."""
    return [c for c in run["calls"] if c["leaf"] and c["out"] is not None]


def unregistered(run: dict) -> list[dict]:
    """Layers with weights that ran in the forward pass but are not submodules of the network."""
    return [c for c in run["calls"] if c["name"] is None and (c["weights"] or 0) > 0]


def ladder_text(ladder: tuple[int, ...]) -> str:
    return " -> ".join(f"{s}x{s}" for s in ladder if s > 1)


def ladder_break(run: dict, ladder: tuple[int, ...]) -> tuple[dict, list[int]] | None:
    """(the first leaf layer whose output size leaves `ladder`, the sizes it could have had).

    Sizes are those of 4-D outputs (N, C, H, W), H = W; each layer keeps the size or takes the
    next one of the ladder, starting from ladder[0] (G: z as 1x1; D: the 32x32 image).
    """
    at = 0
    for call in leaves(run):
        out = call["out"]
        if len(out) != 4:
            continue
        allowed = list(ladder[at : at + 2])
        if out[2] != out[3] or out[2] not in allowed:
            return call, allowed
        at = ladder.index(out[2])
    return None


def size_text(shape: list[int] | None, batch: int) -> str:
    if shape and len(shape) == 4:
        return f"{shape[2]}x{shape[3]}"
    return shape_text(shape, batch) if shape else "its input"


def break_text(found: tuple[dict, list[int]], ladder: tuple[int, ...], batch: int, network: str) -> str:
    """"layer `4` (...) turns 4x4 into 7x7, off the ladder ...: <the fix>"."""
    call, allowed = found
    out = call["out"]
    want = " or ".join(f"{s}x{s}" for s in allowed if s > 1) or "1x1"
    told = (
        f"{layer(call)} turns {size_text(call['in'], batch)} into {out[2]}x{out[3]}, off the ladder "
        f"{ladder_text(ladder)} (expected {want})"
    )
    if network == "generator":
        if allowed == [ladder[0], ladder[1]]:
            return f"{told}: the first layer makes 4x4 from z as (N, nz, 1, 1): nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0)"
        if not allowed[1:]:
            return f"{told}: the images are 32x32, remove the extra stage"
        return f"{told}: a stride-2 nn.ConvTranspose2d with kernel 4 and padding 1 doubles the size (kernel 3 makes 2h - 1)"
    if allowed == [4, 1]:
        return f"{told}: the last conv turns 4x4 into one logit, nn.Conv2d(ndf * 4, 1, 4, 1, 0)"
    if not allowed[1:]:
        return f"{told}: stop at one value per image"
    return f"{told}: a stride-2 nn.Conv2d with kernel 4 and padding 1 halves the size"


def error_text(run: dict, batch: int) -> str:
    """What raised in a traced run: the layer, and the fix when it is a channel mismatch."""
    err = StudentError.from_info(run["error"])
    call = run["failed"]
    if call is None:
        return err.describe() + batch_hint(err.message, batch)
    got = call["in"]
    if call["in_channels"] is not None and "Conv" in call["type"] and got and len(got) == 2:
        return f"{layer(call)} gets {shape_text(got, batch)}, 2-D: {Z_FLAT}, with nn.Unflatten(1, (nz, 1, 1)) or z.view(-1, nz, 1, 1)"
    if call["in_channels"] is not None and got and len(got) >= 2 and got[1] != call["in_channels"]:
        return (
            f"{layer(call)} takes {call['in_channels']} channels but gets {shape_text(got, batch)}: its in_channels "
            f"must be the channels of its input (the out_channels of the layer before it; nz for G's first layer)"
        )
    if call["in_features"] is not None and got and got[-1] != call["in_features"]:
        if len(got) >= 2 and got[0] != batch:
            fix = f"flattening lost the batch dimension ({batch} images): flatten with x.flatten(1)"
        else:
            fix = "its in_features must be the number of values of one flattened input"
        return f"{layer(call)} takes {call['in_features']} features but gets {shape_text(got, batch)}: {fix}"
    return (f"{layer(call)} raised {err.type}" + (f" on its input {shape_text(got, batch)}" if got else "") + f": {err.message}"
            + batch_hint(err.message, batch))


def channels_layer(run: dict) -> dict | None:
    """The last layer that set the number of channels (a conv's out_channels), if any ran."""
    convs = [c for c in leaves(run) if c["out_channels"] is not None]
    return convs[-1] if convs else None


def noise(n: int, nz: int, seed: int = 1) -> torch.Tensor:
    """Seeded z (n, nz)."""
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))


def generator_fault(run: dict, batch: int) -> str | None:
    """Why G's output is not (N, 3, 32, 32) for z (N, nz), in words; None when it is."""
    found = ladder_break(run, G_LADDER)
    if run["error"] is not None:
        if found is not None and run["failed"] is not None and found[0] is not run["failed"]:
            return f"fails: {break_text(found, G_LADDER, batch, 'generator')}"
        return f"fails: {error_text(run, batch)}"
    out = run["output"]
    if out is None:
        return f"returns a {run['output_kind']}, not a tensor"
    if tuple(out.shape) == (batch, 3, 32, 32):
        return None
    told = f"returns {shape_text(out.shape, batch)}"
    if out.dim() == 4 and out.shape[0] == batch and tuple(out.shape[1:]) == (32, 32, 3):
        return (f"{told}, channels last: PyTorch's images are (N, C, H, W), with the colour channels in dim 1, "
                f"as the last ConvTranspose2d makes them; return its output without permuting it")
    if out.dim() >= 2 and out.shape[0] == batch and math.prod(out.shape[1:]) == 3 * 32 * 32:
        return (f"{told}: it holds each image's 3 x 32 x 32 values in another shape; the training loop and D take images "
                f"(N, 3, 32, 32), as the last ConvTranspose2d makes them: return its output as it is (no flatten, view "
                f"or squeeze after it)")
    if found is not None:
        return f"{told}: {break_text(found, G_LADDER, batch, 'generator')}"
    if out.dim() == 4 and out.shape[0] == batch and tuple(out.shape[2:]) == (32, 32):
        conv = channels_layer(run)
        where = f"its last conv, {layer(conv)}, makes" if conv else "it makes"
        plural = "s" if out.shape[1] != 1 else ""
        return f"{told}: {where} {out.shape[1]} channel{plural}; CIFAR-10 images have 3: nn.ConvTranspose2d(ngf, 3, 4, 2, 1)"
    if out.dim() == 4 and out.shape[0] == batch and out.shape[2] == out.shape[3] and out.shape[2] in G_LADDER:
        return f"{told}: its layers stop at {out.shape[2]}x{out.shape[3]}; add stride-2 stages up to 32x32 ({ladder_text(G_LADDER)})"
    if out.dim() >= 1 and out.shape[0] != batch:
        return f"{told} for N = {batch}: keep the batch dimension (reshape z with z.view(-1, nz, 1, 1) or nn.Unflatten(1, (nz, 1, 1)))"
    return told


def discriminator_fault(run: dict, batch: int) -> str | None:
    """Why D does not give one value per image of (N, 3, 32, 32), in words; None when it does."""
    found = ladder_break(run, D_LADDER)
    err, call = run["error"], run["failed"]
    if err is not None:
        first = next((c for c in run["calls"] if c["leaf"] and c["in_channels"] is not None), None)
        if call is not None and first is call and call["in_channels"] != 3:
            n = call["in_channels"]
            return (
                f"the discriminator's first conv takes {n} input channel{'s' if n != 1 else ''}; CIFAR-10 images "
                f"(N, 3, 32, 32) have 3: nn.Conv2d(3, ndf, 4, 2, 1)"
            )
        if found is not None and call is not None and found[0] is not call:
            return f"the discriminator cannot take (N, 3, 32, 32) images: {break_text(found, D_LADDER, batch, 'discriminator')}"
        return f"the discriminator cannot take (N, 3, 32, 32) images: {error_text(run, batch)}"
    out = run["output"]
    if out is not None and out.shape[:1] == (batch,) and out.numel() == batch:
        return None
    got = shape_text(out.shape, batch) if out is not None else f"a {run['output_kind']}"
    told = f"the discriminator returns {got} for (N, 3, 32, 32) images; expected one logit per image, (N,) or (N, 1)"
    if found is not None:
        return f"{told}: {break_text(found, D_LADDER, batch, 'discriminator')}"
    many = many_outputs(run, out, batch)
    if many is not None:
        return f"{told}: {many}"
    maps = [c["out"] for c in leaves(run) if len(c["out"]) == 4]
    if maps and maps[-1][2] == maps[-1][3] > 1:
        size = maps[-1][2]
        last = "nn.Conv2d(ndf * 4, 1, 4, 1, 0)" if size == 4 else f"one output channel, kernel {size}, stride 1, padding 0"
        return (f"{told}: its layers stop at {size}x{size} feature maps ({maps[-1][1]} channels) and flatten them; "
                f"end with a conv that turns them into one logit: {last}")
    if out is not None and out.numel() < batch and maps and maps[-1][0] == batch and math.prod(maps[-1][1:]) == 1:
        return (f"{told}: its last conv gives one value per image, (N, 1, 1, 1), which forward then reduces over the batch "
                f"(a mean or sum over dim 0, as the original WGAN code does): D scores each image, so return them all, "
                f".view(-1)")
    return f"{told}: its last conv must reduce 4x4 to 1x1"


def many_outputs(run: dict, out: torch.Tensor | None, batch: int) -> str | None:
    """When D's output is (N, k) or (N, k, 1, 1), k > 1, and its last layer with weights is a conv with k
    out_channels or a Linear: that layer, and that it must give one value; None otherwise."""
    if out is None or out.dim() < 2 or out.shape[0] != batch or out.shape[1] < 2 or any(d != 1 for d in out.shape[2:]):
        return None
    last = next((c for c in reversed(leaves(run)) if (c["weights"] or 0) > 0), None)
    k = int(out.shape[1])
    if last is not None and last["out_channels"] == k:
        return f"its last conv, {layer(last)}, makes {k} channels; one logit per image needs 1: nn.Conv2d(ndf * 4, 1, 4, 1, 0)"
    if last is not None and last["in_features"] is not None and last["out"] and last["out"][-1] == k:
        return f"its last layer, {layer(last)}, gives {k} values per image; one logit per image needs out_features=1"
    return None


# ---------------------------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------------------------


def seen_as(submission, path: Path) -> str:
    """`path` (inside `submission.scratch`) as the student's code sees it: relative to the working
    directory in the worker (the scratch folder is /grading/work there), absolute in a kernel."""
    if getattr(submission, "remote", False):
        return str(path.relative_to(submission.scratch))
    return str(path)


def tiny_cifar(root: Path):
    """Write 40 training and 10 test images in CIFAR-10's pickle layout; return their uint8 arrays.

    Pixel (c, y, x) of image i is (37 i + 85 c + 3 y + 7 x) % 256 (test images: offset 128): every
    image holds 0 and 255, its three channels differ, and no image is another's mirror image.
    """
    from reference.data import Dataset
    from reference.metrics.quick_fid import CIFAR10_CLASSES, write_cifar10

    def pattern(n: int, offset: int) -> Dataset:
        i, c, y, x = np.ogrid[:n, :3, :32, :32]
        data = torch.from_numpy(((37 * i + 85 * c + 3 * y + 7 * x + offset) % 256).astype(np.uint8))
        return Dataset("tiny", data, torch.arange(n) % 10, list(CIFAR10_CLASSES))

    train, test = pattern(40, 0), pattern(10, 128)
    write_cifar10(root, train, test)
    return train.data, test.data


def nearest(batch: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image of `batch` (B, C, H, W): (its RMS distance to the closest of `images` (M, C, H, W)
    or their mirror images, that image's index in `images`), each (B,)."""
    both = torch.cat([images, images.flip(-1)])
    flat, ref = batch.reshape(len(batch), -1).double(), both.reshape(len(both), -1).double()
    distance, index = torch.cdist(flat, ref).min(dim=1)
    return distance / flat.shape[1] ** 0.5, index % len(images)


def matches(batch: torch.Tensor, images: torch.Tensor, tol: float = 1e-4) -> bool:
    """Is every image of `batch` (B, C, H, W) equal (`tol`, RMS) to one of `images` or its mirror image?"""
    return bool((nearest(batch, images)[0] < tol).all())


HALF_TOL = 1e-2  # float16 and bfloat16 keep 3 and 2 decimal digits: the files' pixels scaled to [-1, 1] agree to this


def reshuffled(first: torch.Tensor, again, images: torch.Tensor) -> bool | None:
    """Did a second pass over the loader start with other images than the first (`first`, `again`:
    each pass's first batch, matched to `images` up to a mirror)? None when `again` cannot tell.

    A shuffled loader draws a new order every epoch: two first batches of 8 from 40 images agree in
    order by chance with probability 1 / (40 * 39 * ... * 33), about 1e-12.
    """
    if not isinstance(again, torch.Tensor) or again.shape != first.shape or not matches(again, images):
        return None
    return not torch.equal(nearest(first, images)[1], nearest(again, images)[1])


def pairs_text(result: dict) -> str:
    """What each of the loader's batches is, in words, when it is not a pair: "bare image tensors", "lists of 1 item"."""
    length = result.get("length")
    if isinstance(length, int) and not isinstance(length, bool):
        return f"batches of {length} item{'s' if length != 1 else ''}"
    return "bare image tensors"


def layout_fault(x: torch.Tensor, train: torch.Tensor) -> str | None:
    """The fault when the loader's batch `x` (B, 3, 32, 32) holds the files' pixels (`train` (M, 3, 32, 32)
    uint8) in a wrong layout: CIFAR10's .data (M, 32, 32, 3) reshaped (not permuted) to (M, 3, 32, 32), or
    permuted with height and width swapped; scaled to [-1, 1] or left in [0, 1]. None otherwise."""
    hwc = train.permute(0, 2, 3, 1)  # as CIFAR10's .data holds them
    layouts = {
        "reshaped": (hwc.reshape(len(train), 3, 32, 32),
                     "CIFAR10's .data is (N, 32, 32, 3), height, width, channels, and .view or .reshape to (N, 3, 32, 32) "
                     "scrambles its pixels; move the channels with .permute(0, 3, 1, 2) (or use transforms.ToTensor())"),
        "transposed": (train.transpose(-1, -2),
                       "their height and width are swapped (each image is transposed): from CIFAR10's .data (N, H, W, C) "
                       "take .permute(0, 3, 1, 2), not .permute(0, 3, 2, 1)"),
        "reversed": (train.flip(1),
                     "their colour channels are in reverse order (BGR, as OpenCV keeps them): keep CIFAR-10's RGB order "
                     "(no .flip or [::-1] over the channels, no cv2.cvtColor)"),
    }
    for images, fault in layouts.values():
        for scaled, rescale in ((images.float() / 127.5 - 1.0, ""), (images.float() / 255.0, f"; and scale them to [-1, 1]: (x / 255 - 0.5) / 0.5")):
            if matches(x, scaled):
                return f"the loader's images hold the CIFAR-10 files' pixels in the wrong places: {fault}{rescale}"
    return None


def channel_normalisation(x: torch.Tensor, train: torch.Tensor) -> tuple[list[float], list[float]] | None:
    """The (mean, std) per channel of the Normalize that maps the files' pixels to the loader's batch `x`
    (B, 3, 32, 32), when each channel of `x` is (p / 255 - mean) / std of one of `train` (M, 3, 32, 32)
    uint8 (or its mirror image), with one positive std per channel for the whole batch; None otherwise."""
    both = torch.cat([train, train.flip(-1)]).double() / 255.0

    def standardised(images: torch.Tensor) -> torch.Tensor:
        flat = images.double().flatten(2)
        return ((flat - flat.mean(-1, keepdim=True)) / flat.std(-1, keepdim=True).clamp_min(1e-8)).flatten(1)

    distance, index = torch.cdist(standardised(x), standardised(both)).min(dim=1)
    if not bool((distance / x[0].numel() ** 0.5 < 1e-3).all()):
        return None
    pixels, values = both[index].transpose(0, 1).flatten(1), x.double().transpose(0, 1).flatten(1)  # (3, B * H * W)
    means, stds = [], []
    for p, v in zip(pixels, values):
        slope, intercept = torch.linalg.lstsq(torch.stack([p, torch.ones_like(p)], 1), v.unsqueeze(1)).solution.flatten().tolist()
        if not slope > 0 or float((slope * p + intercept - v).abs().max()) > 1e-3:
            return None
        means.append(-intercept / slope)
        stds.append(1.0 / slope)
    return means, stds


def loader_error(result: dict, images: int | None = None) -> Exception:
    """The failure of making or iterating the loader, as the student's fault with the fix (`images`: how many training
    images the grader's files hold)."""
    err = StudentError.from_info(result["error"])
    if err.not_implemented:
        return err
    size = result.get("dataset_size")
    if (result.get("stage") == "iterate" and err.type == "IndexError" and isinstance(images, int)
            and isinstance(size, int) and not isinstance(size, bool) and size > images):
        return AssertionError(f"taking a batch from the loader raised IndexError ({err.message}): its dataset claims {size:,} "
                              f"images, but the grader's CIFAR-10 files hold {images} training images (a Subset of fixed "
                              f"indices, range({size})?); train on all of CIFAR-10's training images, "
                              f"torchvision.datasets.CIFAR10(root, train=True, ...) as it is")
    if result.get("stage") == "make":
        if "not found" in err.message or "download" in err.message.lower() or "URL" in err.type:
            fix = ("read the files under the `root` it is given: torchvision.datasets.CIFAR10(root, train=True, ...) "
                   "(the grader writes CIFAR-10's files there and nothing can be downloaded)")
        else:
            fix = ("make_cifar10_loader(root, batch_size) must return a DataLoader over CIFAR-10's training images under `root` "
                   "(CIFAR-10's own files in root/cifar-10-batches-py/, which torchvision.datasets.CIFAR10(root, train=True, ...) reads)")
        return AssertionError(f"{err.describe()}; {fix}")
    if (found := re.search(r"size of tensor a \(3\) must match the size of tensor b \((\d+)\) at non-singleton dimension 0",
                           err.message)) is not None:  # Normalize((0.5, 0.5), (0.5, 0.5)): a value per channel missing
        return AssertionError(f"the loader's batches cannot be made ({err.type}: {err.message}): a per-channel mean or std "
                              f"(transforms.Normalize's) has {found.group(1)} values for the images' 3 colour channels; "
                              f"give one per channel: {NORMALISE}")
    if "default_collate" in err.message:
        return AssertionError(f"the loader's batches cannot be made ({err.type}: {err.message}): the images are PIL "
                              f"images; add transforms.ToTensor() to the dataset's transform")
    if "should be PIL Image or ndarray" in err.message and "Tensor" in err.message:  # ToTensor given a tensor
        return AssertionError(f"the loader's batches cannot be made ({err.type}: {err.message}): a transform of PIL images "
                              f"(transforms.ToTensor, ToPILImage's inverse) got a tensor: the images are tensors already "
                              f"there (ToTensor twice, or after v2.ToImage / PILToTensor); convert them to a tensor once")
    if "PIL" in err.message:  # a tensor transform (Normalize) before ToTensor, or ToTensor missing
        return AssertionError(f"the loader's batches cannot be made ({err.type}: {err.message}): a transform that works "
                              f"on tensors, such as transforms.Normalize, gets PIL images; put transforms.ToTensor() "
                              f"first in the Compose, before it")
    if "should be a float tensor" in err.message:  # Normalize given the 0..255 uint8 tensors of v2.ToImage / PILToTensor
        return AssertionError(f"the loader's batches cannot be made ({err.type}: {err.message}): Normalize gets the images "
                              f"as 0..255 integers (v2.ToImage() and PILToTensor() keep them so); put "
                              f"v2.ToDtype(torch.float32, scale=True) before it, or use transforms.ToTensor()")
    return AssertionError(f"taking a batch from the loader raised {err.type}: {err.message}")


@check(points=2, visible=True)
def test_loader_yields_colour_batches_in_minus_one_one(submission):
    """The CIFAR-10 loader yields (B, 3, 32, 32) float images in [-1, 1]."""
    make_loader = submission.get("make_cifar10_loader")
    scratch = Path(submission.scratch)
    folder = make_scratch_folder(scratch, "a4-check-cifar-")
    try:
        with tempfile.TemporaryDirectory(prefix="a4-check-cifar-") as private:  # the grader's own, outside scratch
            train, test = tiny_cifar(Path(private))
            files = {str(p.relative_to(private)): p.read_bytes() for p in sorted(Path(private).rglob("*")) if p.is_file()}
        write_scratch_files(scratch, folder.name, files)  # never through a link the student's code plants meanwhile
        result = submission.run(probes_a4.first_batch, make_loader, seen_as(submission, folder), BATCH, NAMESPACE)
    finally:
        remove_scratch_folder(scratch, folder.name)
    result = result if isinstance(result, dict) else {}
    if isinstance(result.get("error"), dict):
        raise loader_error(result, len(train))
    size = result.get("dataset_size")
    few = isinstance(size, int) and not isinstance(size, bool) and 0 <= size < BATCH  # fewer images than one batch
    subset = (f"the loader's dataset holds {size} of the {len(train)} training images in the grader's CIFAR-10 files, "
              f"fewer than one batch of {BATCH} (a Subset, a class filter or a slice?): train on all of CIFAR-10's "
              f"training images, torchvision.datasets.CIFAR10(root, train=True, ...) as it is")
    if few and (result.get("empty") is True or (isinstance(result.get("images"), torch.Tensor) and len(result["images"]) == size)):
        raise AssertionError(subset)
    if result.get("empty") is True:
        raise AssertionError(
            f"the loader yields no batch from {len(train)} training images with batch_size={BATCH}: pass batch_size "
            f"to the DataLoader"
        )
    x = result.get("images")
    if not isinstance(x, torch.Tensor):
        kind = text((result.get("images_type") or {}).get("type") if isinstance(result.get("images_type"), dict) else "", 60)
        if kind == "dict":
            raise AssertionError(
                "the loader yields dicts, not (images, labels) pairs: the training loop unpacks `for real, _ in loader`; "
                "have the dataset's __getitem__ return a tuple (image, label), which the DataLoader collates into (images, labels)"
            )
        raise AssertionError(f"the loader's batches hold {kind or 'no'} images, not tensors: use transforms.ToTensor()")
    kind = str(x.dtype).removeprefix("torch.")
    second = result.get("second_type") if isinstance(result.get("second_type"), dict) else {}
    if not x.is_floating_point() and x.dim() == 1 and isinstance(second.get("shape"), list) and len(second["shape"]) == 4:
        raise AssertionError(
            f"the loader yields (labels, images), the pair in the other order: its batches' first item is {kind} "
            f"{tuple(x.shape)} and its second {tuple(second['shape'])}; have the dataset's __getitem__ return (image, label), "
            f"as the training loop unpacks `for real, _ in loader`"
        )
    assert x.is_floating_point(), f"the loader yields {kind} images; expected floats: use transforms.ToTensor()"
    if tuple(x.shape) != (BATCH, 3, 32, 32):
        hint = ""
        if x.dim() == 4 and tuple(x.shape[1:]) == (32, 32, 3):
            hint = (": the images are channels last (B, 32, 32, 3), as CIFAR10's .data stores them; PyTorch's images are "
                    "(B, C, H, W): transforms.ToTensor() makes them so, or .permute(0, 3, 1, 2) a tensor made from .data")
        elif x.dim() == 4 and x.shape[1] == 1:
            hint = ": keep CIFAR-10's three colour channels (no Grayscale)"
        elif x.dim() == 4 and x.shape[0] != BATCH:
            hint = ": pass batch_size to the DataLoader"
        elif x.dim() == 4 and tuple(x.shape[2:]) != (32, 32):
            hint = ": keep CIFAR-10's 32x32 (no Resize, no crop to another size)"
        elif x.dim() == 3:
            hint = ": return a DataLoader (it stacks images into batches), not the dataset"
        raise AssertionError(
            f"the loader yields images of shape {tuple(x.shape)} for batch_size={BATCH}; expected ({BATCH}, 3, 32, 32){hint}"
        )
    if not bool(torch.isfinite(x).all()):
        raise AssertionError("the loader yields images with NaN or infinite values: use transforms.ToTensor() then transforms.Normalize")
    low, high = float(x.min()), float(x.max())
    scaled = train.float() / 127.5 - 1.0  # (x / 255 - 0.5) / 0.5
    if matches(x, scaled, HALF_TOL if x.dtype in (torch.float16, torch.bfloat16) else 1e-4):
        faults = []  # each costs 1 point
        if result.get("iterator") is True:  # its second "pass" is its next batch: whether it reshuffles cannot be told
            faults.append("the loader is an iterator (a generator, itertools.cycle or iter(DataLoader)), not a DataLoader: "
                          "iterating it again does not start a new epoch but goes on with the one it is in (or, cycled, "
                          "replays its first epoch in the same order for ever), so the training loop's next `for real, _ "
                          "in loader` gets no new epoch; return the DataLoader itself, which starts a reshuffled pass "
                          "each time it is iterated")
        elif reshuffled(x, result.get("images_again"), scaled) is False:
            faults.append("every pass over the loader starts with the same images in the same order: G and D would "
                          "see the batches in one fixed order every epoch; pass shuffle=True to the DataLoader")
        if result.get("length") != 2:
            faults.append(f"the loader yields {pairs_text(result)}, not (images, labels) pairs: the training loop "
                          f"unpacks `for real, _ in loader`; keep CIFAR10's (image, label) pairs, which the DataLoader "
                          f"collates into (images, labels)")
        if x.dtype == torch.float64:
            faults.append(f"the loader yields {kind} images, but the networks' weights are float32, so D(real) raises "
                          f"(\"expected ... Double but found Float\"): make them float32 (a NumPy array divided by 127.5 is "
                          f"float64: .astype('float32'), or .float() on the tensor)")
        elif x.dtype != torch.float32:
            faults.append(f"the loader yields {kind} images, but the networks' weights are float32, so D(real) raises (its "
                          f"input and weights must have one type): keep the images float32, as transforms.ToTensor() makes "
                          f"them (no .half() or .to(torch.bfloat16) in the loader)")
        repeated = isinstance(size, int) and size > len(train) and size % len(train) == 0  # every image a training one:
        # the training set repeated, or with its mirror images added (StyleGAN's --mirror), a fixed flip augmentation
        if isinstance(size, int) and not isinstance(size, bool) and size != len(train) and not repeated:
            faults.append(f"the loader's dataset holds {size} images where the grader's CIFAR-10 files hold {len(train)} "
                          f"training images: " + (f"the test split is mixed in (a GAN needs no test images, but a course "
                          f"compares runs on the training set): CIFAR10(root, train=True, ...) alone" if size > len(train) else
                          f"train on all of them (a Subset or a slice trains on a part): CIFAR10(root, train=True, ...) as it is"))
        if faults:
            raise Partial(2 - len(faults), "; ".join(faults)) if len(faults) < 2 else AssertionError("; ".join(faults))
        return
    layout = layout_fault(x, train)
    if layout is not None:
        raise AssertionError(layout)
    if matches(x, train.float() / 255.0):
        raise AssertionError(
            f"the loader yields images in [{low:.2f}, {high:.2f}]; expected [-1, 1], the range of the generator's "
            f"tanh output, or D tells real from fake by the range alone: {NORMALISE_HINT}"
        )
    if matches(x, scaled * 2 - 1):
        raise AssertionError(
            f"the loader's images are in [{low:.2f}, {high:.2f}]: they were scaled to [-1, 1] twice (x * 2 - 1 after "
            f"Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), which already maps ToTensor's [0, 1] to [-1, 1]); scale them once"
        )
    if matches(x, test.float() / 127.5 - 1.0):
        raise AssertionError("the loader reads the test split; train on the training batches: CIFAR10(root, train=True, ...)")
    if matches(x, torch.cat([train, test]).float() / 127.5 - 1.0):
        raise Partial(1, "the loader mixes the test split into the training images (ConcatDataset, or train=False "
                         "added); train on the training batches alone: CIFAR10(root, train=True, ...)")
    if matches(x, train.float()) or matches(x, train.float() * 2 - 1):
        raise AssertionError(
            f"the loader's images are in [{low:.2f}, {high:.2f}]: the pixels 0..255 were never divided by 255 (a cast to float, "
            f"such as v2.ToDtype(torch.float32) without scale=True, keeps them); use transforms.ToTensor() (or "
            f"v2.ToDtype(torch.float32, scale=True)) before transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"
        )
    if (stats := channel_normalisation(x, train)) is not None:
        mean, std = (", ".join(f"{v:.3f}" for v in values) for values in stats)
        raise AssertionError(
            f"the loader's images are in [{low:.2f}, {high:.2f}], normalised with mean ({mean}) and std ({std}) per "
            f"channel: dataset statistics standardise images for a classifier, but a GAN's real images must span "
            f"[-1, 1], the range of the generator's tanh output, or D tells real from fake by the range alone; only "
            f"mean 0.5 and std 0.5 map ToTensor's [0, 1] there: transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"
        )
    scaled = train.float() / 127.5 - 1.0
    turned = [scaled.flip(-2), *(scaled.rot90(k, (-2, -1)) for k in (1, 2, 3))]  # upside down, a quarter turn, ...
    if matches(x, torch.cat([scaled, *turned])):
        raise AssertionError(
            "some of the loader's images are upside down or turned (a vertical flip or a rotation, such as "
            "RandomVerticalFlip or RandomRotation): a turned photo is not one the camera took, so G would learn to draw "
            "scenes upside down too; only a horizontal flip keeps an image one of the data's own: drop the others"
        )
    raise AssertionError(
        f"the loader's images (in [{low:.2f}, {high:.2f}]) are not the CIFAR-10 files' pixels scaled to [-1, 1] "
        f"((x / 255 - 0.5) / 0.5): use transforms.ToTensor() then transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)); "
        f"a horizontal flip is fine, but crops, resizes and colour changes alter the pixels"
    )


# ---------------------------------------------------------------------------------------------
# The networks
# ---------------------------------------------------------------------------------------------


@check(points=2, visible=True)
def test_generator_makes_colour_images(submission):
    """The generator outputs (N, 3, 32, 32) in [-1, 1] for any batch size and nz."""
    faults, runs = {}, {}
    for nz, n in ((100, 2), (100, 5), (32, 3)):
        G = built(submission, "make_generator", nz=nz, ngf=WIDTH)
        runs[(nz, n)] = run = traced(submission, G, noise(n, nz))
        fault = generator_fault(run, n)
        if fault is not None:
            faults[(nz, n)] = fault
    if faults:
        if len(faults) == len(runs) and len(set(faults.values())) == 1:
            raise AssertionError(f"the generator {next(iter(faults.values()))}")
        if len(faults) == len(runs) and any(all(cause in f for f in faults.values()) for cause in (BATCH_FIXED, Z_FLAT)):  # one cause: told once
            (nz, n), fault = next(iter(faults.items()))
            wanted = "for every batch size N" if BATCH_FIXED in fault else "from z (N, nz)"
            raise AssertionError(f"with nz={nz}, N={n} the generator {fault}; expected (N, 3, 32, 32) {wanted}")
        told = "; ".join(f"with nz={nz}, N={n} the generator {fault}" for (nz, n), fault in faults.items())
        if all(nz != NZ for nz, _ in faults):
            raise Partial(1, f"{told}; expected (N, 3, 32, 32) for every nz (use the `nz` argument, do not fix it at {NZ})")
        raise AssertionError(f"{told}; expected (N, 3, 32, 32) for every batch size N and nz")
    hidden = unregistered(runs[(100, 5)])
    if hidden:
        kinds = ", ".join(dict.fromkeys(c["type"] for c in hidden))
        raise Partial(1, f"the generator runs {len(hidden)} layer{'s' if len(hidden) != 1 else ''} with weights that "
                         f"{'are' if len(hidden) != 1 else 'is'} not registered in it ({kinds}): {REGISTER_HINT}")
    if fault := resized_output(runs[(100, 5)]):
        raise Partial(1, fault)
    fault = output_range_fault(submission, runs[(100, 5)])
    if fault is not None:
        raise Partial(1, fault)
    G = built(submission, "make_generator", nz=NZ, ngf=WIDTH)
    out = submission.run(probes.unzeroed_scaled_forward, G, noise(5, NZ), 1.0)  # a last conv at zero: moved, as training moves it
    out = out if isinstance(out, torch.Tensor) and out.is_floating_point() else None
    if out is not None and out.shape[1:] == (3, 32, 32) and float(out.std()) > GREY_TOL:
        if float((out - out[:, :1]).abs().max()) <= GREY_TOL:
            raise Partial(1, "the generator's three channels are equal in every image: it draws one grey channel and copies "
                             "it into three (repeat, expand or cat), so it can never draw a colour; let its last conv make "
                             "the 3 channels, nn.ConvTranspose2d(ngf, 3, 4, 2, 1)")
        if one_curve(out.double().permute(1, 0, 2, 3).reshape(3, -1)):
            raise Partial(1, "every pixel the generator draws has its colour on one curve through colour space, fixed by one "
                             "number: it draws one grey channel and turns it into three by fixed weights or functions (a "
                             "1x1 conv, a tint or a bias per channel), so it cannot draw a red digit and a green one; let "
                             "its last conv make the 3 channels, nn.ConvTranspose2d(ngf, 3, 4, 2, 1)")
    if fault := ignored_noise(submission.run(probes.noise_reach, built(submission, "make_generator", nz=NZ, ngf=WIDTH), noise(8, NZ)), NZ):
        raise Partial(1, fault)
    if fault := own_randomness(submission):
        raise Partial(1, fault)
    wider = generator_parameters(submission, 2 * WIDTH)
    if fault := ignores_width((generator_parameters(submission, WIDTH), wider), "make_generator", "ngf", WIDTH):
        raise Partial(1, f"{fault}: the checks build it at ngf = {WIDTH}, and the learning check trains it there")
    if fault := other_width_fault(submission, "make_generator", "ngf", noise(2, NZ)):
        raise Partial(1, fault)


def own_randomness(submission) -> str | None:
    """Why G does not draw one fixed image for a fixed z, else None: called twice on the same z in eval mode (dropout
    off, BatchNorm on its running statistics), it draws two different batches, so forward draws random numbers of its
    own besides z (random class labels for a conditional G, torch.randn added to z). A fixed-noise sample grid rests on
    G(z) being a function of z."""
    G, z = built(submission, "make_generator", nz=NZ, ngf=WIDTH), noise(8, NZ)
    once, again = (submission.run(probes.forward, G, z, train=False) for _ in range(2))
    if not all(isinstance(o, torch.Tensor) and o.is_floating_point() for o in (once, again)) or once.shape != again.shape:
        return None
    gap = float((once.double() - again.double()).abs().max())
    if not math.isfinite(gap) or gap <= 1e-6 * (1 + float(once.abs().max())):
        return None
    return ("the generator draws different images for the same z (called twice on one z, in eval mode): its forward draws "
            "random numbers of its own besides z (torch.randint for random class labels, torch.randn added to z, or dropout "
            "kept on in eval mode); forward(z) must map z itself, so that a fixed z draws a fixed image and each z its own")


def other_width_fault(submission, name: str, arg: str, x: torch.Tensor) -> str | None:
    """Why `name` built at `arg` = 2 * WIDTH fails on `x` where it works at WIDTH, in words with the fix: a width
    written as a number (nn.BatchNorm2d(64) for ngf * 4) that fits the checks' width only; None when it works there
    too, or cannot be built there (the widths are then not this check's)."""
    try:
        network = built(submission, name, **({"nz": NZ} if name == "make_generator" else {}), **{arg: 2 * WIDTH})
    except (StudentError, AssertionError):
        return None
    run = traced(submission, network, x)
    if name == "make_generator":
        fault = generator_fault(run, len(x))
        fault = None if fault is None else f"the generator {fault}"
    else:
        fault = discriminator_fault(run, len(x))
    if fault is None:
        return None
    return (f"with {arg}={2 * WIDTH} {fault}; it works at {arg} = {WIDTH} only, where the checks build it: a width is "
            f"written as a number that fits that {arg} (the notebook builds it at {arg} = 64); build every width from "
            f"`{arg}` ({arg} * 4, {arg} * 2, {arg})")


OVERSIZE = 36  # a side past 32 by more than a pad of 2 on each side: a network of a larger size (the tutorial's 64x64)


def resized_output(run: dict) -> str | None:
    """Why G's 32x32 output is not drawn by its convolutions, else None: they stop at a smaller size (the MNIST
    ladder's 28x28) and a resize or pad after them makes 32x32, or its last conv draws a larger image (the PyTorch
    DCGAN tutorial's 64x64) that a resize, pool or crop after it cuts down to 32x32, so G never draws at the data's
    own size."""
    ran = leaves(run)
    convs = [k for k, c in enumerate(ran) if "Conv" in c["type"] and c["out"] is not None and len(c["out"]) == 4]
    if not convs:
        return None
    side = max(max(ran[k]["out"][2], ran[k]["out"][3]) for k in convs)
    drawn = max(ran[convs[-1]]["out"][2], ran[convs[-1]]["out"][3])
    if drawn > OVERSIZE:
        after = [c["type"] for c in ran[convs[-1] + 1:]]
        how = ("a pool after it" if any("Pool" in kind for kind in after) else
               "a resize, pool or crop after it (an F.interpolate, F.avg_pool2d, or a slice such as x[:, :, 16:48, 16:48])")
        return (f"the generator's last convolution draws {drawn}x{drawn} images, and {how} cuts them down to the 32x32 "
                f"output: it never draws at the data's own size (a 64x64 generator, as in the PyTorch DCGAN tutorial, "
                f"kept?); port the ladder itself, stride-2 transposed convolutions from 4x4 to 32x32 "
                f"({ladder_text(G_LADDER)}) and no stage after 32x32, as the DCGAN rules ask")
    if side >= 32:
        return None
    after = [c["type"] for c in ran[convs[-1] + 1:]]
    how = "an nn.Upsample after them" if any("Upsampl" in kind for kind in after) else "a resize or pad after them (an interpolate, F.pad)"
    return (f"the generator's convolutions stop at {side}x{side}, and {how} makes the 32x32 output: it never draws at "
            f"the data's own size; port the ladder itself, stride-2 transposed convolutions from 4x4 to 32x32 "
            f"({ladder_text(G_LADDER)}), as the DCGAN rules ask (strided convolutions instead of upsampling)")


def resized_input(run: dict) -> str | None:
    """Why D's convolutions do not read the 32x32 images at their own size, else None: a resize before them (an
    nn.Upsample or interpolate to 28x28, for the MNIST ladder) makes their input smaller, or larger (to 64x64, for the
    PyTorch DCGAN tutorial's D), as resized_output's resize after G's does. A pad of a pixel or two (a ReflectionPad2d
    before a conv without padding) is no resize."""
    convs = [c for c in leaves(run) if "Conv" in c["type"] and c["in"] is not None and len(c["in"]) == 4]
    if not convs:
        return None
    side = max(convs[0]["in"][2], convs[0]["in"][3])
    if side > OVERSIZE:
        return (f"the discriminator's first convolution reads a {side}x{side} input: the 32x32 images are upsampled before "
                f"its convolutions, so it judges an interpolation of them at another size (a 64x64 discriminator, as in the "
                f"PyTorch DCGAN tutorial, kept behind an nn.Upsample?); port the ladder itself, stride-2 convolutions from "
                f"32x32 down to 4x4 ({ladder_text(D_LADDER)}), as the DCGAN rules ask")
    if side >= 32:
        return None
    return (f"the discriminator's first convolution reads a {side}x{side} input: the 32x32 images are resized before its "
            f"convolutions, so it never judges them at their own size; port the ladder itself, stride-2 convolutions from "
            f"32x32 down to 4x4 ({ladder_text(D_LADDER)}), as the DCGAN rules ask")


def output_range_fault(submission, run: dict) -> str | None:
    """Why G's output is not in [-1, 1] with a final tanh (a bound other than [-1, 1] once its weights are scaled
    up, or values that never go below -0.5: a sigmoid, a ReLU, a [0, 1] map), in words with the fix; None when
    it is. `run`: a trace of G(z) for 5 samples (`traced`), for where its last conv and tanh ran."""
    G = built(submission, "make_generator", nz=NZ, ngf=WIDTH)
    z = noise(16, NZ)
    plain = submission.run(probes.forward, G, z)
    scaled = probes.scaled_forward
    big = submission.run(scaled, G, z, 25.0)  # only a squashing last layer keeps it bounded now
    outs = [o for o in (plain, big) if isinstance(o, torch.Tensor) and o.is_floating_point() and o.numel()]
    assert len(outs) == 2, "the generator's output changed between calls: build it from the layers, with no state kept outside"
    if constant(outs):  # a last layer initialised at zero: measured with its zero weights moved, as the first step moves them
        scaled = probes.unzeroed_scaled_forward
        outs = [o for o in (submission.run(scaled, G, z, 1.0), submission.run(scaled, G, z, 25.0))
                if isinstance(o, torch.Tensor) and o.is_floating_point() and o.numel()]
        assert len(outs) == 2, "the generator's output changed between calls: build it from the layers, with no state kept outside"
    low, high = min(float(o.min()) for o in outs), max(float(o.max()) for o in outs)
    if math.isfinite(low) and math.isfinite(high) and (low > -REACH or high < REACH):  # spectral norm divides the weights by their own scale:
        pushed = submission.run(scaled, G, z * Z_SCALE, 25.0)  # a larger z still grows the pre-activations
        if isinstance(pushed, torch.Tensor) and pushed.is_floating_point() and pushed.numel():
            low, high = min(low, float(pushed.min())), max(high, float(pushed.max()))
    if not (math.isfinite(low) and math.isfinite(high)) or low < -1 - 1e-5 or high > 1 + 1e-5:
        ran = leaves(run)
        fix = CHANGED_AFTER_TANH if ran and ran[-1]["type"] == "Tanh" else "end it with nn.Tanh()"
        return f"generator output reaches [{low:.3g}, {high:.3g}] once its weights are scaled up; expected [-1, 1]: {fix}"
    if low > -0.5:
        ran = leaves(run)
        convs = [k for k, c in enumerate(ran) if "Conv" in c["type"]]
        after = ran[convs[-1] + 1 :] if convs else []  # a Tanh right after the last conv: its output changed after it
        fix = AFTER_TANH if after and after[0]["type"] == "Tanh" else END_WITH_TANH
        return f"generator output stays in [{low:.3g}, {high:.3g}]; expected [-1, 1]: {fix}"
    if fault := short_of_one(low, high):
        return f"generator output {fault}"
    return None


def constant(outs: list[torch.Tensor]) -> bool:
    """Whether every value of every output is one and the same number (a last layer initialised at zero)."""
    first = outs[0].flatten()[0]
    return all(bool((o == first).all()) for o in outs)


def generator_parameters(submission, ngf: int) -> int | None:
    """The parameter count of make_generator(NZ, ngf); None when it cannot be built at that width."""
    try:
        return parameter_count(submission.run(probes.module_summary, built(submission, "make_generator", nz=NZ, ngf=ngf)))
    except (StudentError, AssertionError):  # a generator that cannot be built wider: the widths are not this check's
        return None


@check(points=1, visible=True)
def test_discriminator_takes_colour_images(submission):
    """The discriminator takes (N, 3, 32, 32) images and returns one logit per image."""
    D = built(submission, "make_discriminator", ndf=WIDTH)
    for n in (2, 5):
        x = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(n)) * 2 - 1
        run = traced(submission, D, x)
        fault = discriminator_fault(run, n)
        if fault is not None:
            raise AssertionError(fault)
    hidden = unregistered(run)
    if hidden:
        kinds = ", ".join(dict.fromkeys(c["type"] for c in hidden))
        raise AssertionError(f"the discriminator runs {len(hidden)} layer{'s' if len(hidden) != 1 else ''} with weights "
                             f"that {'are' if len(hidden) != 1 else 'is'} not registered in it ({kinds}): {REGISTER_HINT}")
    # Logits grow with the weights, or (spectral norm divides the weights by their own scale) with the
    # weights and the input together; an output squashed by a last sigmoid or tanh can do neither.
    big = submission.run(probes.scaled_forward, D, x, 25.0)
    bigger = submission.run(probes.scaled_forward, D, x * 25, 25.0)
    outs = [o for o in (run["output"], big, bigger) if isinstance(o, torch.Tensor) and o.is_floating_point() and o.numel()]
    assert len(outs) == 3, "the discriminator's output changed between calls: build it from the layers, with no state kept outside"
    if constant(outs):  # a last layer initialised at zero (every logit 0 at first): measured with its zero weights moved
        scaled = probes.unzeroed_scaled_forward
        outs = [o for o in (submission.run(scaled, D, x, 1.0), submission.run(scaled, D, x, 25.0), submission.run(scaled, D, x * 25, 25.0))
                if isinstance(o, torch.Tensor) and o.is_floating_point() and o.numel()]
        assert len(outs) == 3, "the discriminator's output changed between calls: build it from the layers, with no state kept outside"
    low, high = min(float(o.min()) for o in outs), max(float(o.max()) for o in outs)
    last = submission.run(probes.final_operation, D, x) if (low >= -1 and high <= 1) else None
    if isinstance(last, str) and last not in SQUASHING:  # bounded only because spectral norm and a norm layer cancel the scaling
        low, high = -math.inf, math.inf
    if low >= 0 and high <= 1:
        raise AssertionError(
            f"the discriminator's outputs stay in [{low:.3g}, {high:.3g}] even with its weights scaled up 25 times: it "
            f"returns probabilities (a final sigmoid); return logits, the last layer's output without nn.Sigmoid(): the "
            f"course's losses (reference.losses) take logits and apply the sigmoid themselves"
        )
    if low >= -1 and high <= 1:
        raise AssertionError(
            f"the discriminator's outputs stay in [{low:.3g}, {high:.3g}] even with its weights scaled up 25 times: its "
            f"last layer squashes them; return logits, the last layer's output with no activation after it"
        )
    if (low >= -1 or high <= 0) and (fault := one_sided_logit(submission.run(probes.final_operation, D, x), low, high)):
        raise AssertionError(fault)
    if blind := frame_blind(submission, D, x) or colour_blind(submission, D, x):  # colour_blind's gradient probe last: it runs D in place
        raise AssertionError(blind)
    if fault := resized_input(run):
        raise Partial(0.5, fault)
    wider = discriminator_parameters(submission, 2 * WIDTH)
    if fault := ignores_width((discriminator_parameters(submission, WIDTH), wider), "make_discriminator", "ndf", WIDTH):
        raise Partial(0.5, f"{fault}: the checks build it at ndf = {WIDTH}, and the learning check trains it there")
    if fault := other_width_fault(submission, "make_discriminator", "ndf", torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1):
        raise Partial(0.5, fault)


GREY_TOL = 1e-6
MIX_TOL = 1e-4  # channels of one image that differ by no more than this are one grey channel copied


def d_logits(submission, D, images: torch.Tensor) -> torch.Tensor | None:
    """D's logits (N, -1) in float64, a last conv at zero moved first, as training moves it; None if not floats."""
    out = submission.run(probes.unzeroed_scaled_forward, D, images, 1.0)
    return out.double().reshape(len(images), -1) if isinstance(out, torch.Tensor) and out.is_floating_point() else None


FRAME = 2  # the images' outer pixels D must read: a 28x28 network on the centre crop of 32x32 reads none of them


def frame_blind(submission, D, x: torch.Tensor) -> str | None:
    """Why D does not see the whole image, else None: its logits do not change when the outer FRAME pixels of
    every image change (a crop to 28x28 for the MNIST ladder, or layers that never reach the border)."""
    base = d_logits(submission, D, x)
    if base is None or not torch.isfinite(base).all() or float(base.std()) == 0:
        return None
    border = torch.ones(x.shape[-2:], dtype=torch.bool)
    border[FRAME:-FRAME, FRAME:-FRAME] = False
    moved = torch.where(border, torch.rand(x.shape, generator=torch.Generator().manual_seed(12)) * 2 - 1, x)
    other = d_logits(submission, D, moved)
    if other is None or other.shape != base.shape or float((other - base).abs().max()) > 1e-6 * (1 + float(base.abs().max())):
        return None
    return (f"the discriminator's logits do not change when the outer {FRAME} pixels of its images change "
            f"({float(border.double().mean()):.0%} of each image): it crops or never reads the border (a 28x28 network on "
            f"a crop?); let its convolutions read the whole 32x32 image: 4x4 kernels, stride 2, padding 1 take 32 -> 16 -> 8 -> 4")


def colour_blind(submission, D, x: torch.Tensor) -> str | None:
    """Why D cannot see colour, else None: its logits do not change when one colour channel changes
    (it reads only some channels), or when the channels are permuted (it reads their mean, or another symmetric
    function of them: a grey image)."""
    def logits(images: torch.Tensor) -> torch.Tensor | None:
        return d_logits(submission, D, images)

    base = logits(x)
    if base is None or not torch.isfinite(base).all() or float(base.std()) == 0:
        return None
    tol = 1e-6 * (1 + float(base.abs().max()))
    moved = torch.rand(x.shape, generator=torch.Generator().manual_seed(11)) * 2 - 1
    ignored = []
    for c in range(3):
        changed = x.clone()
        changed[:, c] = moved[:, c]
        other = logits(changed)
        if other is not None and other.shape == base.shape and float((other - base).abs().max()) <= tol:
            ignored.append(("red", "green", "blue")[c])
    if ignored:
        return (f"the discriminator's logits do not change when the {' and '.join(ignored)} channel{'s' if len(ignored) > 1 else ''} "
                f"of its images change{'s' if len(ignored) == 1 else ''}: it reads only some of the 3 colour channels; let its "
                f"first conv take all 3, nn.Conv2d(3, ndf, 4, 2, 1)")
    swapped = logits(x[:, [1, 2, 0]])
    if swapped is not None and swapped.shape == base.shape and float((swapped - base).abs().max()) <= tol:
        return ("the discriminator's logits stay the same when the colour channels of its images are swapped: it sees "
                "their average (a grey image: x.mean(1) or a grey conversion), so it cannot tell a red digit from a green "
                "one; let its first conv take the 3 channels as they are, nn.Conv2d(3, ndf, 4, 2, 1)")
    found = submission.run(probes.value_and_grad, D, x)
    grads = found.get("grads") if isinstance(found, dict) else None
    grad = grads[0] if isinstance(grads, list) and grads and isinstance(grads[0], torch.Tensor) else None
    if grad is not None and grad.shape == x.shape and one_mix(grad.double().permute(1, 0, 2, 3).reshape(3, -1)):
        return ("the discriminator sees one fixed mix of the colour channels (its logits change with the images only "
                "through w_R R + w_G G + w_B B, a grey conversion such as Grayscale's 0.299 R + 0.587 G + 0.114 B), so it "
                "cannot tell a red digit from a green one of the same brightness; let its first conv take the 3 channels "
                "as they are, nn.Conv2d(3, ndf, 4, 2, 1)")
    return None


CURVE_TOL = 0.05  # neighbours along one channel differ in the others by this share of their spread, or less: one curve


def one_curve(channels: torch.Tensor) -> bool:
    """Whether the colours (3, P), one per pixel, lie on one curve: each fixed by one number. Sorted along the channel
    that varies most, neighbouring pixels' other channels differ by little against their spread (independent
    channels: about 1.1 times it; one grey channel through fixed functions: about 1/P of it)."""
    if not bool(torch.isfinite(channels).all()):
        return False
    k = int(channels.var(dim=1).argmax())
    order = channels[k].argsort()
    others = channels[[c for c in range(3) if c != k]][:, order]
    spread = float(others.std(dim=1).mean())
    return spread > 0 and float(others.diff(dim=1).abs().mean()) <= CURVE_TOL * spread


def one_mix(channels: torch.Tensor, centred: bool = False) -> bool:
    """Whether the columns of `channels` (3, P), one per pixel (centred first when `centred`), all lie on one line:
    its second singular value is below MIX_TOL of its first (float32's rounding leaves about 1e-7; three channels of
    their own, 0.1 or more)."""
    m = channels - channels.mean(dim=1, keepdim=True) if centred else channels
    if not bool(torch.isfinite(m).all()):
        return False
    s = torch.linalg.svdvals(m)
    return float(s[0]) > 0 and float(s[1]) <= MIX_TOL * float(s[0])


def discriminator_parameters(submission, ndf: int) -> int | None:
    """The parameter count of make_discriminator(ndf); None when it cannot be built at that width."""
    try:
        return parameter_count(submission.run(probes.module_summary, built(submission, "make_discriminator", ndf=ndf)))
    except (StudentError, AssertionError):  # a discriminator that cannot be built wider: the widths are not this check's
        return None


# ---------------------------------------------------------------------------------------------
# The training step
# ---------------------------------------------------------------------------------------------

STEP_CALL = "train_step(G, D, opt_g, opt_d, real, z)"
STEP_RETURN = "return (loss_d, loss_g), the losses this step descended, as floats (loss_d.item(), loss_g.item())"


def returned_losses(result: dict) -> tuple[float, float]:
    """The (loss_d, loss_g) a `probes_a4.step_run` reply says the step returned, or a failure that says why not."""
    losses = result.get("losses")
    if not (isinstance(losses, list) and len(losses) == 2):
        returned = result.get("returned") if isinstance(result.get("returned"), dict) else {}
        kind = text(returned.get("type"), 60) or "something else"
        raise AssertionError(f"{STEP_CALL} returned {'None: is its `return` missing?' if kind == 'NoneType' else f'a {kind}'}; "
                             f"{STEP_RETURN}")
    for name, value in zip(("loss_d", "loss_g"), losses):
        if not isinstance(value, float):
            kind = text(value.get("type"), 60) if isinstance(value, dict) else "something else"
            shape = dims(value.get("shape")) if isinstance(value, dict) else None
            what = f"a tensor of shape {shape_text(shape)}" if kind == "Tensor" and shape is not None else f"a {kind}"
            raise AssertionError(f"{STEP_CALL} returned {what} as {name}; {STEP_RETURN}")
    return losses[0], losses[1]


def step_params(result: dict, key: str, want: torch.Tensor) -> torch.Tensor:
    """A network's flat parameters from the probe's reply, checked against the shape of `want`."""
    value = result.get(key)
    if not isinstance(value, torch.Tensor) or value.shape != want.shape or value.dtype != want.dtype:
        raise AssertionError(f"the grader could not read {key}'s parameters after {STEP_CALL}")
    return value


def step_count_fault(result: dict) -> str | None:
    """A failure for a step that stepped an optimiser other than those passed in, or opt_d or opt_g other than once."""
    counts = {k: result.get(k) if isinstance(result.get(k), int) and not isinstance(result.get(k), bool) else -1
              for k in ("steps_d", "steps_g", "steps_other")}
    if counts["steps_other"] != 0:
        return (f"{STEP_CALL} steps an optimiser other than the opt_d and opt_g it is given (a global one of the notebook, "
                f"or one made inside the function?): call opt_d.step() and opt_g.step() on those passed in; a new optimiser "
                f"on each call starts from scratch (Adam's running averages are lost)")
    for key, opt, net, where in (("steps_d", "opt_d", "D", "D's step, after loss_d.backward()"),
                                 ("steps_g", "opt_g", "G", "G's step, after loss_g.backward()")):
        if counts[key] != 1:
            also = (" (G's step steps D too? D's .grad then holds G's loss's gradients, and D moves a second time)"
                    if key == "steps_d" and counts[key] > 1 else "")
            return (f"{opt}.step() ran {max(counts[key], 0)} times in one call of {STEP_CALL}{also}: a training step updates "
                    f"{net} exactly once, with {opt}.step() in {where}")
    return None


G_EVAL = ("train_step ran G in eval mode (G.eval()): while training, G makes its fakes in training mode, so that its "
          "BatchNorm layers normalise each batch by its own statistics, as D's real batch is; in eval mode they use "
          "running averages that are still near where they started, and G learns to please D with images it never "
          "draws in training: leave G in training mode (call G.eval() only to draw samples to look at, and G.train() after)")


@check(points=2, visible=True)
def test_train_step(submission):
    """train_step does the DCGAN recipe's step like the trainer's: D on a real and a detached fake batch, then G"""
    sc = step_scene.scene()
    G, D = step_scene.networks(sc.G0, sc.D0)
    scene = {"shape": list(step_scene.SHAPE), "nz": step_scene.NZ, "lr": step_scene.LR, "G0": sc.G0, "D0": sc.D0,
             "real": sc.real, "z": sc.z, "leftover_g": sc.leftover_g, "leftover_d": sc.leftover_d}
    result = submission.run(probes_a4.step_run, submission.get("train_step"), scene, NAMESPACE)
    result = result if isinstance(result, dict) else {}
    raise_call_error(result, STEP_CALL, "must run one D step, then one G step")
    loss_d, loss_g = returned_losses(result)
    if result.get("other_z") is True:
        raise AssertionError(
            f"{STEP_CALL} runs G on noise other than the z it is given (a new torch.randn?): make the fakes from the `z` "
            f"argument, G(z); the training loop draws z and passes it in")
    if result.get("g_eval") is True:
        raise AssertionError(G_EVAL)
    if not step_scene.same(loss_d, sc.loss_d) and step_scene.same(loss_d, sc.loss_g) and step_scene.same(loss_g, sc.loss_d):
        raise AssertionError(f"{STEP_CALL} returned (loss_g, loss_d), in the other order: {STEP_RETURN}")
    real, fake = step_scene.logits(sc.D0, sc.G0, sc)
    if not step_scene.same(loss_d, sc.loss_d):
        assert math.isfinite(loss_d), step_scene.not_finite("loss_d")
        raise AssertionError(step_scene.diagnose(loss_d, step_scene.d_loss_faults(real, fake, sc.loss_d)) or (
            f"loss_d = {step_scene.num(loss_d)}; the trainer's D step gives {step_scene.num(sc.loss_d)} on the same G, D, "
            f"real batch and z: D's loss is -log D(x) on the real batch plus -log(1 - D(G(z))) on the fakes, each "
            f"averaged over its batch"))
    passes = result.get("g_backwards")
    if isinstance(passes, int) and passes > 1:
        raise AssertionError(
            f"gradients reached G's parameters in {passes} backward passes, so loss_d's reached G too: in D's step score "
            f"fake.detach() (or make the fakes under torch.no_grad()), so that D's loss trains D only; its gradients "
            f"left in G's .grad spoil G's step unless opt_g.zero_grad() happens to come after them")
    fault = step_count_fault(result)
    assert fault is None, fault
    assert result.get("frozen") is False, (
        f"{STEP_CALL} left some parameters with requires_grad=False, so that network cannot learn in the next step: "
        f"switch them back on before returning (or keep G out of D's loss with fake.detach() instead)")
    assert result.get("g_left_eval") is False, G_EVAL
    leftover_d, leftover_g = (torch.cat([g.reshape(-1) for g in grads]) for grads in (sc.leftover_d, sc.leftover_g))
    want = step_scene.flat_state(D, sc.D1)
    fault = step_scene.update_fault("D", "opt_d", "loss_d", step_params(result, "D", want), step_scene.flat_state(D, sc.D0),
                                    want, leftover_d, result.get("fresh_d") is True)
    assert fault is None, fault
    if not step_scene.same(loss_g, sc.loss_g):
        assert math.isfinite(loss_g), step_scene.not_finite("loss_g")
        real1, fake1 = step_scene.logits(sc.D1, sc.G0, sc)
        raise AssertionError(step_scene.diagnose(loss_g, step_scene.g_loss_faults(fake1, real1, sc.loss_g)) or (
            f"loss_g = {step_scene.num(loss_g)}; the trainer's G step gives {step_scene.num(sc.loss_g)} on the same G and "
            f"z through the D its D step updated: G's loss is the non-saturating -log D(G(z)), averaged over the batch"))
    want = step_scene.flat_state(G, sc.G1)
    fault = step_scene.update_fault("G", "opt_g", "loss_g", step_params(result, "G", want), step_scene.flat_state(G, sc.G0),
                                    want, leftover_g, result.get("fresh_g") is True)
    assert fault is None, fault


# ---------------------------------------------------------------------------------------------
# The colour grid
# ---------------------------------------------------------------------------------------------

# 16 colours in [-1, 1], one per image; their [0, 1] mapping (x + 1) / 2 differs from clamping x to [0, 1]
PALETTE = [
    (-1.0, -1.0, -1.0), (1.0, 1.0, 1.0), (1.0, -1.0, -1.0), (-1.0, 1.0, -1.0),
    (-1.0, -1.0, 1.0), (0.0, 0.5, -0.5), (-0.5, 0.0, 0.5), (0.5, -0.5, 0.0),
    (0.8, 0.2, -0.6), (-0.6, 0.8, 0.2), (0.2, -0.6, 0.8), (0.4, 0.4, -1.0),
    (-1.0, 0.4, 0.4), (0.4, -1.0, 0.4), (-0.2, -0.7, -0.9), (0.9, 0.6, 0.3),
]  # fmt: skip
MAX_GRID_PIXELS = 4096 * 4096  # a grid file larger than this is not opened
MAX_GRID_BYTES = 16 * 2**20  # ... nor one of more bytes (PIL reads a PNG's chunks one at a time)
DIM = 0.5  # the second batch: the palette at this strength
# The third batch: image k has colour TOP[k] in its upper 16 rows and BOTTOM[k] in its lower 16, so the
# grid shows whether each image kept its rows as rows. 32 colours, none grey (no padding matches them).
TWO_TONES = [c for c in ((r, g, b) for r in (-0.75, -0.25, 0.25, 0.75) for g in (-0.75, -0.25, 0.25, 0.75)
                         for b in (-0.75, -0.25, 0.25, 0.75)) if len(set(c)) > 1][:32]
TOP, BOTTOM = TWO_TONES[:16], TWO_TONES[16:]
# The fourth batch: 40 plain colours, none grey, every channel from -1 to 1 (so a batch stretched by its own minimum
# and maximum shows them as the fixed mapping does): every image of a batch larger than the first one must be in the grid
MANY = [c for c in ((r, g, b) for r in (-1.0, -0.5, 0.0, 0.5, 1.0) for g in (-1.0, -0.5, 0.0, 0.5, 1.0)
                    for b in (-1.0, -0.5, 0.0, 0.5, 1.0)) if len(set(c)) > 1][::3][:40]
TRANSPOSED = (
    "each image in the grid lies on its side (its rows saved as columns: transposed, or turned by 90 degrees): an "
    "image (3, H, W) becomes an array (H, W, 3) by .permute(1, 2, 0) (numpy: .transpose(1, 2, 0)), not .permute(2, 1, 0), "
    ".transpose(2, 3), .T or a rot90; torchvision.utils.save_image(images, path) needs no reordering"
)
UPSIDE_DOWN = (
    "each image in the grid is upside down (its top row saved at the bottom): save the rows in their order, with no "
    "flip of the height axis ([::-1] on the rows, torch.flip(x, [2]) or np.flipud)"
)


def colour_pixels(pixels: np.ndarray, rgb: np.ndarray) -> int:
    """Pixels of `pixels` (H, W, 3) within 2 levels of `rgb` in every channel."""
    return int((np.abs(pixels.astype(int) - rgb.astype(int)) <= 2).all(axis=-1).sum())


def read_png(path: Path, scratch: Path):
    """(format, mode, (width, height), RGB pixels (H, W, 3) uint8) of the image file the student wrote.

    Read with PIL from a plain file inside `scratch` only (never through a link); AssertionError otherwise.
    """
    from PIL import Image

    from reference.grading.submission import read_scratch_file

    inside = path.absolute().is_relative_to(scratch.absolute()) or path.resolve().is_relative_to(scratch.resolve())
    assert inside and not path.is_symlink(), "save_colour_grid(images, path) wrote a link, not an image file, at `path`"
    data = read_scratch_file(scratch, path.absolute().relative_to(scratch.absolute()) if path.is_absolute() else path, MAX_GRID_BYTES)
    with io.BytesIO(data) as f:
        try:
            with Image.open(f) as im:  # the header only: a JPEG of a thousand scans takes minutes to decode
                fmt, mode, size = im.format, im.mode, im.size
                assert fmt == "PNG", f"the grid file is {fmt}, not PNG: save it with torchvision.utils.save_image or reference.plots.save_image_grid"
                assert size[0] * size[1] <= MAX_GRID_PIXELS, f"the grid is {size[0]}x{size[1]} pixels; 16 images of 32x32 need about 274x70"
                pixels = np.asarray(im.convert("RGB"))
        except AssertionError:
            raise
        except Exception as err:  # noqa: BLE001 - any file PIL cannot read is the student's
            raise AssertionError(f"the file save_colour_grid wrote at `path` is not an image PIL can read ({type(err).__name__}): "
                                 f"save a PNG with torchvision.utils.save_image or reference.plots.save_image_grid") from None
    return fmt, mode, size, pixels


def written_files(folder: Path) -> dict[str, int]:
    """{name: modification time (ns)} of the files directly in `folder`."""
    return {p.name: p.lstat().st_mtime_ns for p in folder.iterdir() if not p.is_dir()}


def saved_grid(submission, save, images: torch.Tensor, **kwargs):
    """save(images, path, **kwargs) run by the student's code into a fresh folder of the scratch; returns
    what `read_png` reads from `path`. AssertionError (or the student's error) when no image is there."""
    scratch = Path(submission.scratch)
    before = written_files(scratch)
    folder = make_scratch_folder(scratch, "a4-check-grid-")
    try:
        # a copy: a save that maps in place (images.add_(1).div_(2)) must not change the check's own batch in one process
        result = submission.run(probes_a4.attempt, save, NAMESPACE, images.clone(), seen_as(submission, folder / "grid.png"), **kwargs)
        result = result if isinstance(result, dict) else {}
        if isinstance(result.get("error"), dict):
            err = StudentError.from_info(result["error"])
            if err.not_implemented:
                raise err
            raise AssertionError(
                f"{err.describe()}; "
                + (pil_array_hint(err.message) or "save_colour_grid(images, path) saves images (N, 3, H, W) in [-1, 1] as one PNG at `path`")
            )
        path = folder / "grid.png"
        listed = scratch_listing(scratch, folder.name)  # never through a link put in the folder's place
        if listed is None:
            raise AssertionError("save_colour_grid(images, path) removed or replaced the folder `path` is in; save the grid at `path` itself")
        if "grid.png" not in listed:
            now = written_files(scratch)
            changed = {name for name, when in now.items() if before.get(name) != when}
            written = sorted(set(listed) | changed - {folder.name})
            raise AssertionError(
                "save_colour_grid(images, path) wrote no file at `path`"
                + (f" (it wrote {', '.join(written[:5])})" if written else "")
                + ": save the grid to exactly the path it is given"
            )
        return read_png(path, scratch)
    finally:
        remove_scratch_folder(scratch, folder.name)


def pil_array_hint(message: str) -> str | None:
    """The fix for PIL's "Cannot handle this data type: (1, 1, C), typestr" from Image.fromarray; None for other errors."""
    found = re.search(r"Cannot handle this data type: \(1, 1, (\d+)\), (\S+)", message)
    if not found:
        return None
    channels, kind = int(found.group(1)), found.group(2)
    if kind.endswith("u1") and channels not in (1, 3, 4):
        return (f"PIL's Image.fromarray reads an array (H, W, 3), but was given one with {channels} values along its last "
                f"axis: the grid is still (3, H, W); reorder it with .permute(1, 2, 0) (numpy: .transpose(1, 2, 0)) first")
    if "f" in kind:
        return ("PIL's Image.fromarray reads 0-255 levels as uint8, but was given floats: make levels of the grid in [0, 1] "
                "with (grid * 255).round().astype('uint8') first, or save it with torchvision.utils.save_image")
    return None


def shown_colours(pixels: np.ndarray, rgb: np.ndarray) -> list[bool]:
    """For each colour of `rgb` (K, 3) uint8: does one 32x32 image's worth (90%) of pixels show it?"""
    return [colour_pixels(pixels, colour) >= 0.9 * 32 * 32 for colour in rgb]


def to_bytes(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as the 0-255 levels an image file holds."""
    return np.round(values * 255).astype(np.uint8)


def two_tone_images() -> torch.Tensor:
    """(16, 3, 32, 32) in [-1, 1]: image k is TOP[k] in rows 0-15 and BOTTOM[k] in rows 16-31."""
    top = torch.tensor(TOP).view(16, 3, 1, 1).expand(16, 3, 16, 32)
    bottom = torch.tensor(BOTTOM).view(16, 3, 1, 1).expand(16, 3, 16, 32)
    return torch.cat([top, bottom], dim=2).contiguous()


def centre(pixels: np.ndarray, rgb: np.ndarray) -> np.ndarray | None:
    """(row, column) mean of the pixels showing `rgb`; None when fewer than 90% of a half image's show it."""
    rows, cols = np.nonzero((np.abs(pixels.astype(int) - rgb.astype(int)) <= 2).all(axis=-1))
    return np.array([rows.mean(), cols.mean()]) if len(rows) >= 0.9 * 16 * 32 else None


def orientations(pixels: np.ndarray) -> dict[str, int]:
    """How the grid `pixels` (H, W, 3) shows the two-tone images: how many with their top half above
    ("upright"), below ("upside down"), or beside ("transposed") their bottom half."""
    found = {"upright": 0, "upside down": 0, "transposed": 0}
    tops, bottoms = to_bytes((np.array(TOP) + 1) / 2), to_bytes((np.array(BOTTOM) + 1) / 2)
    for top, bottom in zip(tops, bottoms):
        a, b = centre(pixels, top), centre(pixels, bottom)
        if a is None or b is None:
            continue
        down, across = b - a
        if abs(across) > 2 * abs(down):
            found["transposed"] += 1
        elif abs(down) > 2 * abs(across):
            found["upright" if down > 0 else "upside down"] += 1
    return found


def images_per_row(pixels: np.ndarray, rgb: np.ndarray, first: int) -> int | None:
    """How many images a row of the grid `pixels` (H, W, 3) holds, for plain-coloured images k = first,
    first + 1, ... of one batch, image k of colour rgb[k - first] ((K, 3) uint8): told by the images
    that start a new row (below the image before them), whatever the padding, scale or margins; None
    when some colour is not found."""
    centres = [centre(pixels, colour) for colour in rgb]
    if any(c is None for c in centres):
        return None
    starts = [first + k for k in range(1, len(centres)) if centres[k][0] - centres[k - 1][0] > 10]  # a third of an image
    if not starts:
        return first + len(centres)  # one row holds them all
    return starts[0] if len(starts) == 1 else starts[1] - starts[0]


LAYOUT_FIRST = 2  # the palette from its third colour: black and white may be a grid's padding


def nrow_fault(submission, save, images: torch.Tensor, pixels: np.ndarray, want: np.ndarray) -> str | None:
    """Whether the grid ignores `nrow`: 16 images are laid out 8 per row without it (`pixels`, already
    saved) and 4 per row with nrow=4; the fault in words, or None."""
    colours = want[LAYOUT_FIRST:]
    default = images_per_row(pixels, colours, LAYOUT_FIRST)
    try:
        _, _, _, four_pixels = saved_grid(submission, save, images, nrow=4)
    except AssertionError as err:
        told = str(err).split("; save_colour_grid(images, path) saves")[0].replace(f": {SIGNATURE_FIX}", "")  # said below
        return (f"called as save_colour_grid(images, path, nrow=4), {told.replace('calling `save_colour_grid` ', 'it ')}: keep "
                f"the given signature save_colour_grid(images, path, nrow=8) and lay out nrow images per row")
    four = images_per_row(four_pixels, colours, LAYOUT_FIRST)
    if default is None or four is None or (default, four) == (8, 4):
        return None
    if (default, four) == (2, 4):  # 16 images in 8 rows of 2, and in 4 rows of 4
        return ("the grid puts 8 rows of 2 images when save_colour_grid is called without nrow, 4 rows of 4 with nrow=4: "
                "nrow is the number of images in each row (as in torchvision's make_grid and save_image), not the number of rows")
    return (f"the grid lays out {default} images per row when save_colour_grid is called without nrow and {four} "
            f"with nrow=4; expected 8 and 4: pass the `nrow` argument on, e.g. torchvision.utils.save_image(..., nrow=nrow)")


def part_saved(submission, save) -> str | None:
    """Whether the grid leaves out some of the images it is given: a batch of len(MANY) plain colours, more than the
    16 of the other batches, must show each of them (a save of images[:16], or of two rows of nrow, keeps a part of G's
    samples); the fault in words, or None."""
    colours = torch.tensor(MANY)
    many = colours.view(-1, 3, 1, 1).expand(len(MANY), 3, 32, 32).contiguous()
    try:
        _, _, _, many_pixels = saved_grid(submission, save, many)
    except AssertionError as err:
        told = str(err).split("; save_colour_grid(images, path) saves")[0]
        return f"given {len(MANY)} images, {told.replace('calling `save_colour_grid` ', 'it ')}: save_colour_grid saves a batch of any size N"
    shown = [k for k, seen in enumerate(shown_colours(many_pixels, to_bytes((colours.numpy() + 1) / 2))) if seen]
    if len(shown) == len(MANY) or not shown:  # none shown: how its colours are drawn is told above, not here
        return None
    n = len(shown)
    which, part = ((f"only the first {n}", f"a slice such as images[:{n}]") if shown == list(range(n)) else
                   (f"only the last {n}", f"a slice such as images[-{n}:]") if shown == list(range(len(MANY) - n, len(MANY))) else
                   (f"{n}", "a selection"))
    return (f"given {len(MANY)} images, the grid shows {which} of them: it saves a part of the batch ({part}?); save "
            f"every image it is given in one grid, e.g. torchvision.utils.save_image((images + 1) / 2, path, nrow=nrow) (the "
            f"notebook saves 64)")


@check(points=2)
def test_colour_grid_png(submission):
    """save_colour_grid writes a colour PNG grid of the images at 32x32, mapped from [-1, 1] by (x + 1) / 2."""
    save = submission.get("save_colour_grid")
    colours = torch.tensor(PALETTE)
    images = colours.view(16, 3, 1, 1).expand(16, 3, 32, 32).contiguous()
    want = to_bytes((colours.numpy() + 1) / 2)
    fmt, mode, size, pixels = saved_grid(submission, save, images)
    assert fmt == "PNG", f"the grid file is {fmt}, not PNG: save it with torchvision.utils.save_image or reference.plots.save_image_grid"
    width, height = size
    assert width * height >= 16 * 32 * 32, (
        f"the grid is {width}x{height} pixels, too small for the 16 images of 32x32 it was given: save the whole "
        f"batch in one grid, e.g. torchvision.utils.save_image((images + 1) / 2, path, nrow=nrow)"
    )
    if mode in ("L", "LA", "1", "I", "F") or (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all():
        raise AssertionError(
            "the grid is grey: every pixel has R = G = B; keep the images' three channels (no .mean(1), "
            "Grayscale or single-channel indexing)"
        )
    shown = shown_colours(pixels, want)
    if not all(shown):
        k = shown.index(False)
        raw = sum(shown_colours(pixels, to_bytes(colours.clamp(0, 1).numpy())))
        wrapped = sum(shown_colours(pixels, np.remainder(np.trunc(colours.numpy() * 255), 256).astype(np.uint8)))
        reversed_ = sum(shown_colours(pixels, want[:, ::-1]))
        twice = sum(shown_colours(pixels, to_bytes(((colours.numpy() + 1) / 2 + 1) / 2)))
        low, high = colours.min(dim=1, keepdim=True).values.numpy(), colours.max(dim=1, keepdim=True).values.numpy()
        each = sum(shown_colours(pixels, to_bytes((colours.numpy() - low) / np.where(high > low, high - low, 1))))
        told = f"an image of colour {PALETTE[k]} in [-1, 1] should appear as RGB {tuple(int(v) for v in want[k])}"
        if raw >= 12:
            raise Partial(1, f"the grid's colours are off: {told}, but the images were saved without mapping [-1, 1] "
                             f"to [0, 1]: save (images + 1) / 2, or reference.data.from_model_range(images, 'tanh')")
        if wrapped >= 12:
            raise Partial(1, f"the grid's colours are off: {told}, but the images were scaled by 255 without mapping "
                             f"[-1, 1] to [0, 1] first, so astype('uint8') wrapped every negative value around to a bright "
                             f"one: scale (images + 1) / 2 by 255, or save it with torchvision.utils.save_image")
        if twice >= 12:
            raise Partial(1, f"the grid's colours are off: {told}, but the images were mapped from [-1, 1] to [0, 1] twice "
                             f"((images + 1) / 2, then save_image's normalize=True with value_range=(-1, 1) again), so every "
                             f"colour is washed out into [0.5, 1]: map once")
        if each >= 12:
            raise Partial(1, f"the grid's colours are off: {told}, but each image was stretched by its own minimum and "
                             f"maximum (save_image's normalize=True with scale_each=True), which changes its colours and "
                             f"hides how G's images compare; map the fixed range for every image: save (images + 1) / 2")
        if reversed_ >= 12:
            raise Partial(1, f"the grid's colours are off: {told}, but its colour channels are in reverse order (BGR, as "
                             f"OpenCV writes them): save the channels in RGB order (no [..., ::-1] or cv2.cvtColor); "
                             f"torchvision.utils.save_image keeps them")
        raise AssertionError(f"the grid does not show the images' colours at 32x32: {told}; save the tensors "
                             f"themselves, mapped with (images + 1) / 2, without resizing or plotting them")
    # The same colours at half strength, as G draws them early in training: the fixed mapping keeps them
    # dim; stretching the batch's own minimum and maximum to [0, 1] shows them at full contrast. This and the
    # faults after it (orientation, size, layout) each cost 1 point.
    faults = []
    dim = colours * DIM
    _, _, _, dim_pixels = saved_grid(submission, save, images * DIM)
    if not all(shown_colours(dim_pixels, to_bytes((dim.numpy() + 1) / 2))):
        low, high = float(dim.min()), float(dim.max())
        stretched = sum(shown_colours(dim_pixels, to_bytes((dim.numpy() - low) / (high - low))))
        batch = f"a batch in [{low:g}, {high:g}] (G early in training)"
        if stretched >= 12:
            faults.append(f"{batch} is saved at full contrast: the grid stretches each batch's own minimum and maximum "
                          f"to [0, 1] (save_image's normalize=True without value_range), so samples look better than G "
                          f"makes them; map the fixed range: save_image(images, path, normalize=True, value_range=(-1, 1)) "
                          f"or save (images + 1) / 2")
        else:
            faults.append(f"{batch} is not saved as (x + 1) / 2: map [-1, 1] to [0, 1] by the same fixed (images + 1) / 2 "
                          f"for every batch")
    # Images whose top and bottom halves differ: each must keep its rows as rows (not transposed or flipped)
    _, _, _, tone_pixels = saved_grid(submission, save, two_tone_images())
    found = orientations(tone_pixels)
    if found["transposed"] >= 12:
        faults.append(TRANSPOSED)
    elif found["upside down"] >= 12:
        faults.append(UPSIDE_DOWN)
    if width * height > 16 * 48 * 48:
        faults.append(f"the grid is {width}x{height} pixels, more than 16 images of 32x32 need (torchvision's save_image "
                      f"with 8 per row makes 274x70): save the tensors directly, without upscaling")
    turned = found["transposed"] >= 12 or found["upside down"] >= 12  # a whole grid turned or flipped moves its images too:
    fault = None if turned else nrow_fault(submission, save, images, pixels, want)  # one fault, charged once
    if fault is not None:
        faults.append(fault)
    if fault := part_saved(submission, save):
        faults.append(fault)
    if len(faults) == 1:
        raise Partial(1, faults[0])
    if faults:
        raise AssertionError("; ".join(faults))


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


def diagnosis(submission, batch: int = 32) -> str | None:
    """What the layer traces say when the learning run's G or D raised: the fault in G(z) or D(x)
    for a training batch, in words; None when both run."""
    G = built(submission, "make_generator", nz=NZ, ngf=WIDTH)
    fault = generator_fault(traced(submission, G, noise(batch, NZ)), batch)
    if fault is not None:
        return f"the generator {fault}"
    D = built(submission, "make_discriminator", ndf=WIDTH)
    x = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch)) * 2 - 1
    return discriminator_fault(traced(submission, D, x), batch)


NEAR_ZERO_SCALE = 0.2  # BatchNorm weights whose means all lie below this start near 0 (DCGAN's init: N(1, 0.02))
BATCH_STATISTICS = ("BatchNorm1d", "BatchNorm2d", "InstanceNorm2d", "GroupNorm", "LayerNorm")  # not spectral or weight norm


def rule_breaks(submission, batch: int = 32) -> list[str]:
    """The DCGAN rules of the requirements that G's and D's layer traces show broken, each in words
    with its fix; [] when none shows. Only layers that are modules are seen (F.relu, F.batch_norm are
    not): an activation rule is reported broken only on positive evidence (a ReLU module and no
    LeakyReLU module in D), while "no BatchNorm" means no normalisation module ran."""
    G = built(submission, "make_generator", nz=NZ, ngf=WIDTH)
    D = built(submission, "make_discriminator", ndf=WIDTH)
    x = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch)) * 2 - 1
    g, d = traced(submission, G, noise(batch, NZ)), traced(submission, D, x)
    if g["error"] is not None or d["error"] is not None:
        return []

    def kinds(run: dict) -> list[str]:
        return [c["type"] for c in run["calls"] if c["leaf"] and c["type"] not in ("Flatten", "Unflatten", "Identity")]

    def norm(kind: str) -> bool:
        return "Norm" in kind

    def no_batchnorm(net: str, found_kinds: list[str], where: str) -> str | None:
        """The rule "BatchNorm in both networks" broken: no norm at all, or another norm in BatchNorm's place."""
        if any("BatchNorm" in k for k in found_kinds):
            return None
        others = list(dict.fromkeys(k for k in found_kinds if norm(k)))
        if others:
            return (f"{net} normalises with {' and '.join(others)}, not BatchNorm: the DCGAN rules put nn.BatchNorm2d "
                    f"after {where}")
        return f"{net} has no BatchNorm: put nn.BatchNorm2d after {where}"

    gk, dk = kinds(g), kinds(d)
    found = []
    if fault := no_batchnorm("G", gk, "each of its hidden ConvTranspose2d (not the last)"):
        found.append(fault)
    if len(gk) >= 2 and gk[-1] == "Tanh" and norm(gk[-2]):
        found.append("G normalises its output layer: no BatchNorm between the last ConvTranspose2d and the Tanh")
    if any("Upsampl" in k for k in gk):  # nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d
        found.append("G upsamples: let stride-2 nn.ConvTranspose2d(c_in, c_out, 4, 2, 1) double the size instead")
    if any("Pool" in k for k in dk):
        found.append("D pools: let stride-2 nn.Conv2d(c_in, c_out, 4, 2, 1) halve the size instead")
    if "ReLU" in dk and "LeakyReLU" not in dk:
        found.append("D uses ReLU: use nn.LeakyReLU(0.2), which passes a gradient for negative inputs too")
    if fault := no_batchnorm("D", dk, "its hidden convs (not the first)"):
        found.append(fault)
    if len(dk) >= 2 and dk[0] == "Conv2d" and norm(dk[1]):
        found.append("D normalises its input layer: no BatchNorm right after its first conv")
    for net, run in (("G", g), ("D", d)):
        scales = [c["scale"] for c in run["calls"] if c["leaf"] and "BatchNorm" in c["type"] and c["scale"] is not None]
        if scales and max(scales) < NEAR_ZERO_SCALE:
            found.append(f"{net}'s BatchNorm layers start with their scales near 0: their weights' sizes average "
                         f"{sum(scales) / len(scales):.2g} (an init that draws them from N(0, 0.02), as it does the convs'), "
                         f"so each starts by scaling its layer's output to almost nothing; DCGAN's weights_init draws them "
                         f"from N(1, 0.02), nn.init.normal_(m.weight, 1.0, 0.02)")
    if dk and dk[-1] in BATCH_STATISTICS:  # an all-real and an all-fake batch, each normalised by its own statistics
        found.append("D normalises its output: no BatchNorm after its last conv (D's step shows it an all-real and an "
                     "all-fake batch, and normalising each by its own statistics right before the logit hides what "
                     "tells them apart)")
    return found


def slow_design(submission) -> str:
    """What may slow a GAN that learns too slowly although the traces show no DCGAN rule broken: weights_init not
    applied (conv weights not N(0, 0.02)) or widths that ignore ngf or ndf, measured; else that the design itself
    learns more slowly than the one the learning target was set with."""
    unset = []
    for name, network in (("G", built(submission, "make_generator", nz=NZ, ngf=WIDTH)), ("D", built(submission, "make_discriminator", ndf=WIDTH))):
        stds = submission.run(probes_a2.conv_weight_stds, network)
        if isinstance(stds, list) and stds and all(isinstance(v, float) for v in stds) and max(abs(v - 0.02) for v in stds) > 0.01:
            unset.append(name)
    if unset:
        return (f"its layers follow the DCGAN rules as far as the grader sees, but {' and '.join(unset)}'s conv weights are not "
                f"N(0, 0.02): apply weights_init to {'both networks' if len(unset) == 2 else unset[0]} (network.apply(weights_init))")
    widths = [fault for fault in (ignores_width((generator_parameters(submission, WIDTH), generator_parameters(submission, 2 * WIDTH)), "make_generator", "ngf", WIDTH),
                                  ignores_width((discriminator_parameters(submission, WIDTH), discriminator_parameters(submission, 2 * WIDTH)), "make_discriminator", "ndf", WIDTH)) if fault]
    if widths:
        return f"its layers follow the DCGAN rules as far as the grader sees, but {'; '.join(widths)}"
    return ("its layers, weights_init (N(0, 0.02)) and widths follow the requirements as far as the grader sees, so its "
            "design itself learns more slowly than the grading run asks: kernels other than 4 at stride 2 (3 with "
            "output_padding, 5), other widths or extra layers slow a DCGAN down")


def prepare() -> None:
    """Before a class is graded in parallel: the grader's coloured-digits classifier, trained once."""
    from reference.grading import learning

    learning.reference_and_known("coloured-digits")


@check(points=3)
def test_learns(submission):
    """Short seeded runs on colour digits bring G's classifier-FID well below one fixed image's, with new images."""
    from reference.grading import learning

    def make(seed: int):
        G = built(submission, "make_generator", seed=seed, nz=NZ, ngf=WIDTH)
        return G, built(submission, "make_discriminator", seed=seed, ndf=WIDTH)

    try:
        result = learning.learning_check(submission, make, reference="coloured-digits", nz=NZ, steps=LEARN_STEPS,
                                         every=LEARN_EVERY)
    except learning.LearningProblem as err:
        raise AssertionError(f"the grading run could not train the GAN: {err}") from None
    except StudentError as err:
        if err.not_implemented:
            raise
        raise AssertionError(f"the grading run could not train the GAN: {diagnosis(submission) or err.describe()}") from None
    if result.outcome == "pass":
        return
    if result.outcome in ("copies", "pretrained"):
        raise AssertionError(result.message)
    try:
        ranged = output_range_fault(submission, traced(submission, built(submission, "make_generator", nz=NZ, ngf=WIDTH), noise(5, NZ)))
    except (AssertionError, StudentError):
        ranged = None
    if ranged is not None:  # G cannot draw what the real images are: D tells them apart by their range alone
        told = f"{result.message}: {ranged}; the real images span [-1, 1], and D tells G's images from them by their range alone"
        if result.outcome == "partial":
            raise Partial(1, told)
        raise AssertionError(told)
    breaks = rule_breaks(submission)
    if result.outcome == "partial":
        told = f"{result.message}: it learns, but slowly or not on every seed"
        if breaks:
            raise Partial(1, f"{told}; the DCGAN rules make it learn fast: {'; '.join(breaks)}")
        raise Partial(1, f"{told}; {slow_design(submission)}")
    if breaks:
        raise AssertionError(f"{result.message}; {'; '.join(breaks)}")
    raise AssertionError(f"{result.message}: check that G and D use every layer and that nothing is detached")
