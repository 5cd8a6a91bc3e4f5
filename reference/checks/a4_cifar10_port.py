"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a4_cifar10_port.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

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
