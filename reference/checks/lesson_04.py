"""Checks of lesson 04's code-along places: the minibatch standard deviation and packing (PacGAN).

The student writes `minibatch_std`, `append_minibatch_std`, `pack` and `packed_d_loss` in
solutions/lessons/04_mode_collapse.ipynb; each check calls them on seeded inputs it chooses and
compares with the course library, the oracle (`reference.models.mitigations`, `reference.losses`),
within a tolerance. A wrong value that matches a common mistake (the std across the wrong
dimension, N - 1 instead of N, packs that gather samples from across the batch, a fake batch that
reaches D unpacked, packs or appended features cut from the graph...) gets that mistake's message.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference.grading.checks import check
from reference.losses import NonSaturating
from reference.models.mitigations import minibatch_std as reference_std
from reference.models.mitigations import pack as reference_pack
from reference.models.mlp2d import Discriminator

ASSIGNMENT = "lesson_04"
EPS = 1e-8
TOL = dict(rtol=1e-4, atol=1e-6)


def _as_tensor(value: object, name: str, call: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise AssertionError(f"{call} returned {type(value).__name__}, not a tensor: return a torch.Tensor from {name}")
    return value.detach().float()


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, **TOL))


def _inputs() -> tuple[Tensor, Tensor]:
    """A seeded (N, F) batch and a seeded (N, C, H, W) batch whose features have different spreads."""
    gen = torch.Generator().manual_seed(4)
    points = torch.randn(16, 5, generator=gen) * torch.tensor([0.5, 1.0, 2.0, 3.0, 0.1]) + 1.0
    images = torch.randn(6, 3, 4, 4, generator=gen) * 0.7
    return points, images


# ---------------------------------------------------------------------------------------------
# Minibatch standard deviation
# ---------------------------------------------------------------------------------------------


def _std_mistake(x: Tensor, got: Tensor) -> str | None:
    """The message of the mistake that gives `got` on x, if it is a known one."""
    n = x.shape[0]
    flat = x.reshape(n, -1)
    if got.dim() == 1 and got.shape[0] == flat.shape[1]:
        return (f"returns one value per feature, shape {tuple(got.shape)}: average the per-feature standard "
                f"deviations into one number (shape ())")
    if got.shape == x.shape[1:] and got.dim() > 1:
        return (f"returns one value per feature, shape {tuple(got.shape)}: average the per-feature standard "
                f"deviations over all features into one number (shape ())")
    if got.dim() == 1 and got.shape[0] == n:
        return (f"returns one value per sample, shape ({n},): that is a spread across each sample's features; take "
                f"each feature's std across the batch (dim 0), then their mean, one number (shape ())")
    if got.dim() != 0:
        return f"returns shape {tuple(got.shape)}; it must be one number, a 0-dim tensor (shape ())"
    biased = flat.var(dim=0, unbiased=False)
    unbiased = ("uses the unbiased estimate (divides by N - 1): use the population std of the batch: divide by N "
                "(torch: unbiased=False or correction=0)")
    candidates = [
        (unbiased, torch.sqrt(flat.var(dim=0, unbiased=True) + EPS).mean()),
        (f"{unbiased}, and it takes the square root after averaging the variances: take each feature's std first, "
         f"then the mean", torch.sqrt(flat.var(dim=0, unbiased=True).mean() + EPS)),
        ("takes the std across each sample's features (dim 1) instead of across the batch (dim 0)",
         torch.sqrt(flat.var(dim=1, unbiased=False) + EPS).mean()),
        ("takes the std across each sample's features (dim 1) instead of across the batch (dim 0)",
         flat.std(dim=1).mean()),
        ("is the std of all the batch's values pooled together: take each feature's std across the batch, then "
         "the mean of those", torch.sqrt(flat.var(unbiased=False) + EPS)),
        ("is the std of all the batch's values pooled together: take each feature's std across the batch, then "
         "the mean of those", flat.std()),
        ("returns the mean variance, without the square root: average the standard deviations", (biased + EPS).mean()),
        ("takes the square root after averaging the variances: take each feature's std first, then the mean",
         torch.sqrt(biased.mean() + EPS)),
    ]
    if x.dim() == 4:
        candidates.append(
            ("pools each channel's pixels: every (channel, row, column) is a feature of its own; take each one's std "
             "across the batch (dim 0), then the mean", torch.sqrt(x.var(dim=(0, 2, 3), unbiased=False) + EPS).mean()))
        candidates.append(
            ("averages each channel over its pixels first (x.mean(dim=(2, 3))) and takes the std of those channel "
             "means: that misses how each pixel varies across the batch; every (channel, row, column) is a feature of "
             "its own, so take each one's std across the batch (dim 0), then the mean",
             torch.sqrt(x.mean(dim=(2, 3)).var(dim=0, unbiased=False) + EPS).mean()))
    for message, value in candidates:
        if torch.allclose(got, value.float(), **TOL):
            return message
    return None


CHANGES_INPUT = ("minibatch_std changes its input x in place (x -= ..., x.sub_(...)): x is D's activations, which D "
                 "uses again after the statistic (append_minibatch_std concatenates them), and autograd refuses in-place "
                 "changes of a tensor that requires grad; compute on a new tensor, such as x - x.mean(0)")


def changes_its_input(fn, x: Tensor) -> bool:
    """Whether fn(copy of x) leaves the copy changed (a function that raises is not judged here)."""
    given = x.clone()
    try:
        fn(given)
    except Exception:  # noqa: BLE001 - its own check reports what it raises
        return False
    return not torch.equal(given, x)


@check(points=1, visible=True)
def test_minibatch_std(submission):
    """minibatch_std: the mean over features of each feature's std across the batch."""
    fn = submission.get("minibatch_std")
    points, images = _inputs()
    for x, kind in ((points, "a (16, 5) batch of points"), (images, "a (6, 3, 4, 4) batch of images")):
        given = x.clone()
        got = _as_tensor(fn(given), "minibatch_std", f"minibatch_std(x) on {kind}")
        assert torch.equal(given, x), f"on {kind} {CHANGES_INPUT}"
        expected = reference_std(x)
        if _close(got, expected):
            continue
        mistake = _std_mistake(x, got)
        if mistake:
            raise AssertionError(f"on {kind} it {mistake}")
        raise AssertionError(
            f"on {kind} it returns {got.flatten()[:3].tolist()}{'...' if got.numel() > 3 else ''}, expected "
            f"{expected.item():.6f}: for each feature, sqrt(mean over the batch of (x - its batch mean)^2 + 1e-8), "
            f"then the mean over features"
        )
    same = torch.ones(8, 3, requires_grad=True)
    value = fn(same)
    got = _as_tensor(value, "minibatch_std", "minibatch_std(x)")
    if abs(got.item() - 1e-4) > 1e-6:
        raise AssertionError(
            f"8 identical samples give {got.item():.3g}, expected 1e-4 (= sqrt(0 + 1e-8)): add 1e-8 to each variance "
            f"inside the square root, or the gradient of sqrt at 0 is infinite on a collapsed batch"
        )
    if not value.requires_grad:
        raise AssertionError("the result carries no gradient: compute it with torch operations on x (no .item(), "
                             "no numpy, no torch.no_grad()), so D can learn from it")
    value.backward()
    if same.grad is None or not torch.isfinite(same.grad).all():
        raise AssertionError("on 8 identical samples the gradient is not finite: add 1e-8 to each variance inside "
                             "the square root")


def _error_text(err: BaseException) -> str:
    """`err`'s type and first line, "RuntimeError (...)", for a kernel's exception or the grader's StudentError."""
    lines = (getattr(err, "message", None) or str(err)).strip().splitlines()
    return f"{getattr(err, 'type', type(err).__name__)} ({lines[0][:150].rstrip('.') if lines else ''})"


def _append_on_another_batch(fn) -> str | None:
    """The fault of an append right on the (16, 5) points that is wrong on a (7, 3) batch: N or F written in."""
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(9)) * 2.0
    call = "append_minibatch_std(x) on a (7, 3) batch"
    fix = ("it is right on the (16, 5) points only: take N and F from x itself (x.shape[0], len(x)), not numbers "
           "written in, so D takes batches of any size")
    try:
        out = fn(x.clone())
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - a size written in breaks here
        return f"{call} raised {_error_text(err)}: {fix}"
    got = _as_tensor(out, "append_minibatch_std", call)
    expected = torch.cat([x, reference_std(x).expand(7, 1)], dim=1)
    if got.shape != expected.shape:
        return f"{call} returns shape {tuple(got.shape)}, expected (N, F + 1) = (7, 4): {fix}"
    if not torch.allclose(got, expected, **TOL):
        return f"{call} returns other values than x beside minibatch_std(x): {fix}"
    return None


@check(points=1, visible=True)
def test_append_minibatch_std(submission):
    """append_minibatch_std: (N, F) -> (N, F + 1), the statistic as the last feature of every sample."""
    fn = submission.get("append_minibatch_std")
    points, _ = _inputs()
    n, f = points.shape
    given = points.clone()
    try:
        answer = fn(given)
    except NotImplementedError as err:  # the helper it calls is the one left to write
        helper = _innermost_student_function(err, getattr(submission, "namespace", None))
        if helper not in (None, "append_minibatch_std"):
            raise AssertionError(f"append_minibatch_std(x) calls your `{helper}`, which is not written yet (it raises "
                                 f"NotImplementedError); write it first") from None
        raise
    except Exception as err:  # noqa: BLE001 - a statistic that is no tensor breaks the append: say where it comes from
        helper = _innermost_student_function(err, getattr(submission, "namespace", None))
        own = submission.get("minibatch_std") if "minibatch_std" in submission else None
        try:
            statistic = own(points.clone()) if helper == "append_minibatch_std" and callable(own) else None
        except Exception:  # noqa: BLE001 - then the error above is the one to report
            statistic = None
        if statistic is not None and not isinstance(statistic, Tensor):
            raise AssertionError(
                f"append_minibatch_std(x) raised {type(err).__name__} ({str(err)[:100]}): your minibatch_std returns "
                f"{type(statistic).__name__}, not a tensor, so the statistic cannot be expanded and appended (and "
                f"carries no gradient): fix minibatch_std first (the check above)") from None
        raise
    got = _as_tensor(answer, "append_minibatch_std", "append_minibatch_std(x)")
    own = submission.get("minibatch_std") if "minibatch_std" in submission else None
    if not torch.equal(given, points):
        if own is not None and changes_its_input(own, points):
            raise AssertionError(f"x changed during append_minibatch_std(x): your {CHANGES_INPUT}")
        raise AssertionError("append_minibatch_std changes its input x in place: return a new tensor, "
                             "torch.cat([x, statistic], dim=1), and leave x as it was")
    if got.shape == (n + 1, f):
        raise AssertionError(f"returns shape {tuple(got.shape)}: it appends one more sample (a row); append one more "
                             f"feature (a column), so that (N, F) -> (N, F + 1)")
    if got.shape != (n, f + 1):
        raise AssertionError(f"returns shape {tuple(got.shape)} for x of shape {(n, f)}; expected {(n, f + 1)}")
    if torch.allclose(got[:, 1:], points, **TOL) and not torch.allclose(got[:, :f], points, **TOL):
        raise AssertionError("the statistic is the first column: keep x's features first and put the statistic last")
    if not torch.allclose(got[:, :f], points, **TOL):
        if own is not None and changes_its_input(own, points):
            raise AssertionError(f"the first F columns are not x's features unchanged: your {CHANGES_INPUT}")
        raise AssertionError("the first F columns are not x's features unchanged: concatenate x and the statistic")
    last = got[:, f]
    if not torch.allclose(last, last[0].expand(n), **TOL):
        raise AssertionError("the last column differs between samples: every sample gets the same number, the "
                             "batch's statistic (expand it to (N, 1) before concatenating)")
    expected = reference_std(points)
    if not torch.allclose(last[0], expected, **TOL):
        mine = None
        try:
            mine = _as_tensor(submission.get("minibatch_std")(points.clone()), "minibatch_std", "minibatch_std(x)")
        except Exception:  # noqa: BLE001 - the message below covers it
            pass
        if mine is not None and mine.numel() == 1 and torch.allclose(last[0], mine.reshape(()), **TOL):
            raise AssertionError("the last column is your minibatch_std(x), which is not right yet: fix minibatch_std "
                                 "first (the check above)")
        padded = reference_std(torch.cat([points, torch.zeros(n, 1)], dim=1))
        if torch.allclose(last[0], padded, **TOL):
            raise AssertionError("the last column is the statistic of x with a column of zeros already appended: "
                                 "compute minibatch_std on x's own F features, then append it")
        mistake = _std_mistake(points, last[0])
        raise AssertionError(f"the last column is {last[0].item():.6f}, expected minibatch_std(x) = {expected.item():.6f}"
                             + (f": it {mistake}" if mistake else ""))
    fault = _append_on_another_batch(fn)
    if fault:
        raise AssertionError(fault)
    # the statistic must stay in the graph: G learns to vary its samples through its gradient
    tracked = points.clone().requires_grad_(True)
    out = fn(tracked)
    if isinstance(out, Tensor) and out.requires_grad:
        out[:, f].sum().backward()
    if tracked.grad is None or not bool(tracked.grad.abs().sum() > 0):
        mine = None
        try:
            mine = submission.get("minibatch_std")(points.clone().requires_grad_(True))
        except Exception:  # noqa: BLE001 - the message below covers it
            pass
        if not (isinstance(mine, Tensor) and mine.requires_grad):
            raise AssertionError("the appended statistic carries no gradient back to x because your minibatch_std "
                                 "returns a value with no gradient: fix minibatch_std first (the check above)")
        raise AssertionError("the appended statistic carries no gradient back to x (.item(), .detach(), a new tensor "
                             "filled with its value, or torch.no_grad()): G learns to vary its samples through the "
                             "gradient of this statistic; append the tensor itself, minibatch_std(x).expand(N, 1)")
    fault = _features_gradient_fault(fn, points)
    if fault:
        raise AssertionError(fault)
    if answer.dtype != points.dtype:  # found by round four of the lessons' red team: float64 features passed
        own_dtype = None
        try:
            statistic = own(points.clone()) if callable(own) else None
            own_dtype = statistic.dtype if isinstance(statistic, Tensor) else None
        except Exception:  # noqa: BLE001 - then the message below names the append alone
            pass
        cause = (f"your minibatch_std returns {own_dtype} for it, and torch.cat promotes x to that; append "
                 f"minibatch_std(x).to(x.dtype)" if own_dtype not in (None, points.dtype) else "keep x's dtype")
        raise AssertionError(f"append_minibatch_std(x) returns {answer.dtype} for a {points.dtype} batch: D's next "
                             f"layer has {points.dtype} weights and refuses {answer.dtype} features; {cause} (the "
                             f"output keeps x's dtype)")


def _features_gradient_fault(fn, points: Tensor) -> str | None:
    """The fault of an append whose first F columns do not pass x's gradient through unchanged (x.detach(), x.data,
    torch.tensor(x.tolist()) concatenated): D's layers before it would learn nothing (found by round four of the
    lessons' red team, after the statistic's column alone was checked); None when d out[:, :F].sum() / dx is all ones."""
    tracked = points.clone().requires_grad_(True)
    out = fn(tracked)
    f = points.shape[1]
    grad = None
    if isinstance(out, Tensor) and out.requires_grad:
        (grad,) = torch.autograd.grad(out[:, :f].sum(), tracked, allow_unused=True)
    if grad is not None and torch.allclose(grad, torch.ones_like(grad), **TOL):
        return None
    return ("x's own F features carry no gradient back to x in the output (x.detach(), x.data, torch.tensor(x.tolist()) "
            "or a copy made under torch.no_grad() concatenated): the values are right, but D's layers before this "
            "one would get no gradient through them and stop learning; concatenate x itself, "
            "torch.cat([x, statistic], dim=1)")


# ---------------------------------------------------------------------------------------------
# Packing
# ---------------------------------------------------------------------------------------------


def _members(row: Tensor, labelled: Tensor) -> list[int]:
    """Which samples of `labelled` (N, 2) with sample i = (10 i, 10 i + 1) the values of `row` come from."""
    return sorted({int(v) // 10 for v in row.flatten().round().tolist()})


@check(points=1, visible=True)
def test_pack(submission):
    """pack: m consecutive samples per pack, points (N, 2) -> (N/m, 2m), images (N, C, H, W) -> (N/m, m*C, H, W)."""
    fn = submission.get("pack")
    n, m = 12, 3
    labelled = torch.stack([torch.arange(n) * 10.0, torch.arange(n) * 10.0 + 1], dim=1)  # sample i = (10i, 10i + 1)
    try:
        out = fn(labelled.clone(), m)
    except IndexError as err:  # sizes read at positions that points (N, 2) do not have: written for images only
        raise AssertionError(
            f"pack(x, 3) on (12, 2) points raised IndexError ({err}): pack takes points (N, 2) as well as images "
            f"(N, C, H, W), so take the sizes after the first two as x.shape[2:], which is empty for points (x.shape[2] "
            f"does not exist there)") from None
    except Exception as err:  # noqa: BLE001 - torch's words for a float size point elsewhere: name it
        hint = _float_size(err)
        if hint:
            raise AssertionError(f"pack(x, 3) on (12, 2) points raised {_error_text(err)}: {hint}") from None
        raise
    got = _as_tensor(out, "pack", "pack(x, 3)")
    expected = reference_pack(labelled, m)
    if got.shape != expected.shape:
        if got.shape == (n // m, m, 2):
            raise AssertionError("pack(x, 3) on (12, 2) points returns shape (4, 3, 2): concatenate each pack's points "
                                 "into one row, (N/m, 2m) = (4, 6)")
        raise AssertionError(f"pack(x, 3) on (12, 2) points returns shape {tuple(got.shape)}, expected (4, 6)")
    if not torch.equal(got, expected):
        members = [_members(row, labelled) for row in got]
        if members == [list(range(k * m, k * m + m)) for k in range(n // m)]:
            if torch.equal(got, labelled.view(n // m, m, 2).transpose(1, 2).reshape(n // m, 2 * m)):
                raise AssertionError("each pack holds the right samples, but their coordinates are interleaved "
                                     "(x0, x1, x2, y0, y1, y2): keep each sample's 2 coordinates together, sample km first")
            raise AssertionError(f"each pack holds the right samples in the wrong order: pack 0 is {got[0].tolist()}, "
                                 f"expected {expected[0].tolist()} (sample km first, then km + 1, ...)")
        raise AssertionError(
            f"pack 0 holds samples {members[0]} (of 0..11), pack 1 samples {members[1]}: pack k must hold the m "
            f"consecutive samples km, ..., km + m - 1 ([0, 1, 2], then [3, 4, 5]); splitting the batch into m blocks "
            f"and taking one sample from each mixes samples from across the batch"
        )
    fault = _pack_gradient_fault(fn)
    if fault:
        raise AssertionError(fault)
    same = _as_tensor(fn(labelled.clone(), 1), "pack", "pack(x, 1)")
    if not torch.equal(same, labelled):
        raise AssertionError(f"pack(x, 1) returns shape {tuple(same.shape)} and different values: packs of 1 are the "
                             f"samples themselves, (N, 2) unchanged")
    gen = torch.Generator().manual_seed(5)
    images = torch.randn(8, 3, 4, 5, generator=gen)
    try:
        out = fn(images.clone(), 2)
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - right on points: sizes written for points (2 * m columns) fail here
        raise AssertionError(
            f"pack(x, 2) on (8, 3, 4, 5) images raised {_error_text(err)}: pack takes images (N, C, H, W) as well as "
            f"points (N, 2), so take every size from x (a 2 * m or a -1 of two dimensions fits points only): an image "
            f"pack is (N/m, m*C, H, W), x.reshape(N // m, m * x.shape[1], *x.shape[2:]), which fits both") from None
    got = _as_tensor(out, "pack", "pack(x, 2)")
    expected = reference_pack(images, 2)
    if got.shape != expected.shape:
        where = {(4, 3, 8, 5): "the height", (4, 3, 4, 10): "the width"}.get(tuple(got.shape))
        if where:
            raise AssertionError(f"pack(x, 2) on (8, 3, 4, 5) images returns shape {tuple(got.shape)}: it stacks along "
                                 f"{where}; stack along the channels, (N/m, m*C, H, W) = (4, 6, 4, 5)")
        flat = {(4, 120): "flattens each pack into one vector, which fits points only",
                (4, 2, 3, 4, 5): "keeps each pack's m images as a dimension of their own"}.get(tuple(got.shape))
        if flat:
            raise AssertionError(f"pack(x, 2) on (8, 3, 4, 5) images returns shape {tuple(got.shape)}: it {flat}; images "
                                 f"keep their height and width, their channels concatenated: (N/m, m*C, H, W) = "
                                 f"(4, 6, 4, 5), x.reshape(N // m, m * C, *x.shape[2:])")
        raise AssertionError(f"pack(x, 2) on (8, 3, 4, 5) images returns shape {tuple(got.shape)}, expected (4, 6, 4, 5)")
    if not torch.equal(got, expected):
        interleaved = images.view(4, 2, 3, 4, 5).transpose(1, 2).reshape(4, 6, 4, 5)
        if torch.equal(got, interleaved):
            raise AssertionError("on images the channels of the two samples are interleaved (R0, R1, G0, G1, ...): "
                                 "put all C channels of sample km first, then those of km + 1")
        raise AssertionError("on (8, 3, 4, 5) images, pack k must hold images 2k and 2k + 1, their channels "
                             "concatenated (image 2k's first): the values differ")
    # one pack of single-channel images: every size-1 dimension of the answer must stay
    single = torch.randn(4, 1, 3, 3, generator=gen)
    try:
        out = fn(single.clone(), 4)
    except Exception as err:  # right on the shapes above: a shape written into the code fails here
        raise AssertionError(f"pack(x, 4) on 4 single-channel images (4, 1, 3, 3) raised {type(err).__name__} ({err}): "
                             f"take every size from x itself, (N/m, m*C, H, W) with C = x.shape[1], not from the "
                             f"shapes you tried") from None
    got = _as_tensor(out, "pack", "pack(x, 4)")
    expected = reference_pack(single, 4)
    if got.shape != expected.shape:
        dropped = (" (a .squeeze() removes every dimension of size 1, here the one pack's: reshape to (N/m, m*C, H, W) "
                   "and keep all four dimensions)" if got.shape == expected.squeeze().shape else "")
        raise AssertionError(f"pack(x, 4) on 4 single-channel images (4, 1, 3, 3) returns shape {tuple(got.shape)}, "
                             f"expected one pack, (N/m, m*C, H, W) = (1, 4, 3, 3){dropped}")
    if not torch.equal(got, expected):
        raise AssertionError("on 4 single-channel images (4, 1, 3, 3), pack(x, 4) must hold the 4 images as its 4 "
                             "channels, image 0 first: the values differ")


PACK_GRADIENT = ("G learns through D(pack(G(z), m)), so pack must keep x in the graph: reshape x itself, "
                 "x.reshape(N // m, m * x.shape[1], *x.shape[2:]), with no NumPy, torch.tensor(...), .detach() or "
                 "torch.no_grad() on the way")


def _pack_gradient_fault(fn) -> str | None:
    """The fault of a pack whose packs are right but cut from the graph (found by round four of the lessons' red team:
    the check's points required no gradient, so a pack through NumPy passed); None when every packed value passes
    its gradient back to its sample unchanged."""
    tracked = torch.arange(12.0).reshape(6, 2).requires_grad_(True)
    try:
        out = fn(tracked, 2)
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - right on plain points (checked before), refused when they require grad
        return (f"pack(x, 2) on (6, 2) points that require grad (G's samples do) raised {_error_text(err)}: "
                f"{PACK_GRADIENT}")
    grad = None
    if isinstance(out, Tensor) and out.requires_grad:
        (grad,) = torch.autograd.grad(out.sum(), tracked, allow_unused=True)
    if grad is not None and torch.equal(grad, torch.ones_like(grad)):
        return None
    return f"the packs are right, but they carry no gradient back to x: {PACK_GRADIENT}"


def _float_size(err: BaseException) -> str | None:
    """The fix when `err` is torch refusing a float size (x.reshape(N / m, ...)); None for another error."""
    text = getattr(err, "message", None) or str(err)
    if getattr(err, "type", type(err).__name__) != "TypeError":
        return None
    if not any(words in text for words in ("float", "positional argument", "invalid combination of arguments")):
        return None
    return ("a size given to reshape or view is not an int: N / m is a float in Python 3 (12 / 3 = 4.0) even when m "
            "divides N, and torch takes only ints as sizes; use integer division, N // m")


def _innermost_student_function(err: BaseException, namespace: dict | None) -> str | None:
    """The innermost function defined in the notebook (`namespace`) that `err` passed through."""
    name, tb = None, err.__traceback__
    while tb is not None and namespace is not None:
        if tb.tb_frame.f_globals is namespace:
            name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return name


class _Spy(nn.Module):
    """PacGAN's 2-D discriminator for packs of m points, recording every input it gets."""

    def __init__(self, m: int) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # seeded weights, and the student's RNG left as it was
            torch.manual_seed(0)
            self.inner = Discriminator(2, pack=m)
        self.inputs: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.inputs.append(x.detach().clone())
        return self.inner(x)


def _which(batch: Tensor, real: Tensor, fake: Tensor) -> set[str]:
    """'real'/'fake'/'other' for each point of a D input (packs or points)."""
    kinds = set()
    for p in batch.reshape(-1, 2):
        if (real == p).all(dim=1).any():
            kinds.add("real")
        elif (fake == p).all(dim=1).any():
            kinds.add("fake")
        else:
            kinds.add("other")
    return kinds


def _packed_gradient_fault(fn, n: int) -> str | None:
    """What is wrong with the gradient the right loss value gives D's parameters; None when it is the oracle's."""
    from reference.data.mixtures import sample_mixture

    m = 2
    real = sample_mixture("ring", n, seed=6)[0]
    fake = torch.randn(n, 2, generator=torch.Generator().manual_seed(7)) * 0.5
    call = f"packed_d_loss(D, real, fake, {m})"
    D = _Spy(m)
    value = fn(D, real.clone(), fake.clone(), m)
    if not (isinstance(value, Tensor) and value.requires_grad):
        return (f"{call} has the right value but carries no gradient (torch.no_grad(), .detach() or .item()): it is D's "
                f"loss, and D learns from its gradient; compute it from D's logits with torch operations")
    params = list(D.inner.parameters())
    got = torch.autograd.grad(value, params, allow_unused=True)
    got = [torch.zeros_like(p) if g is None else g for p, g in zip(params, got)]
    softplus = torch.nn.functional.softplus

    def grads(term) -> list[Tensor]:
        return list(torch.autograd.grad(term, params))

    real_term = lambda: softplus(-D.inner(reference_pack(real, m))).mean()  # noqa: E731
    fake_term = lambda: softplus(D.inner(reference_pack(fake, m))).mean()  # noqa: E731
    both = [a + b for a, b in zip(grads(real_term()), grads(fake_term()))]
    if all(torch.allclose(g, w, **TOL) for g, w in zip(got, both)):
        return None
    if all(torch.allclose(g, w, **TOL) for g, w in zip(got, grads(real_term()))):
        return (f"{call} has the right value, but only the real packs' term gives D a gradient: D's logits on the fake "
                f"packs are detached (or made under torch.no_grad()), so D never learns to reject fakes; detach G's "
                f"output if you like (fake.detach()), never D's logits")
    if all(torch.allclose(g, w, **TOL) for g, w in zip(got, grads(fake_term()))):
        return (f"{call} has the right value, but only the fake packs' term gives D a gradient: D's logits on the real "
                f"packs are detached (or made under torch.no_grad()); keep them in the graph")
    return (f"{call} has the right value, but its gradient for D's parameters is not that of the loss: compute the "
            f"loss from D's logits on the packs with torch operations only")


def _unpacked_input(inputs: list[Tensor], real: Tensor, fake: Tensor, n: int, m: int, call: str) -> str | None:
    """What is wrong with the first input D got that is not a batch of packs of m points; None if all are."""
    right = [x.shape == (n // m, 2 * m) for x in inputs]
    for x, ok in zip(inputs, right):
        if ok:
            continue
        kind = " and ".join(sorted(_which(x, real, fake)))
        size = x.shape[1] // 2 if x.dim() == 2 and x.shape[1] % 2 == 0 else None
        if size is not None and size not in (1, m) and x.shape[0] * size == n:
            return (f"{call}: D got the {kind} batch in packs of {size} points, shape {tuple(x.shape)}, but m = {m} "
                    f"here, ({n // m}, {2 * m}): pack with the `m` argument, pack({kind}, m), not a fixed {size}")
        other = " (as the other batch)" if any(right) else ""
        return (f"{call}: D got a {kind} batch of shape {tuple(x.shape)}, but it judges packs, ({n // m}, {2 * m}): "
                f"pack the {kind} batch with pack(..., m) before D{other}")
    return None


def _network_used_instead(fn, argument: str, namespace: dict | None) -> str | None:
    """The name of a notebook-global network (an nn.Module) that function `fn` reads in place of its own
    argument `argument`, which it never reads; None otherwise (or where its code cannot be read)."""
    import dis

    code = getattr(fn, "__code__", None)
    if code is None or namespace is None or argument not in code.co_varnames[: code.co_argcount]:
        return None
    read = {ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF")}
    if argument in read:
        return None
    globals_read = [ins.argval for ins in dis.get_instructions(code) if ins.opname == "LOAD_GLOBAL"]
    return next((name for name in globals_read if isinstance(namespace.get(name), torch.nn.Module)), None)


def _own_pack_of(submission, batch: Tensor, m: int, x: Tensor) -> bool:
    """Whether the notebook's own `pack(batch, m)` gives exactly `x` (the packs D got)."""
    own = submission.get("pack") if "pack" in submission else None
    try:
        mine = own(batch.clone(), m) if callable(own) else None
    except Exception:  # noqa: BLE001 - then the packs are not the student's pack's
        return False
    return isinstance(mine, Tensor) and mine.shape == x.shape and torch.equal(mine.detach(), x)


OTHER_LOSS = ("packed_d_loss is the non-saturating GAN's D loss, the binary cross-entropy of D(real packs) against 1 "
              "plus that of D(fake packs) against 0 (F.binary_cross_entropy_with_logits), each a mean over packs")


def _smoothed_label(wrong: list) -> str | None:
    """The fault of answers (call, m, value, expected, logits) of both rounds that are the loss with the real packs'
    label t < 1 (one-sided label smoothing, t = 0.9 in many tutorials) or the fake packs' label t > 0."""
    if len(wrong) < 2:  # one round's value always fits some label: two rounds must agree on it
        return None
    softplus = torch.nn.functional.softplus
    for side, kind, plain in ((0, "real", 1.0), (1, "fake", 0.0)):
        # label t in place of 1 (real) adds (1 - t) * mean(a); label t in place of 0 (fake) adds t * (-mean(b))
        slope = (lambda lg: lg[0].mean()) if side == 0 else (lambda lg: -lg[1].mean())
        shift = [(g - want, slope(lg)) for _, _, g, want, lg in wrong]
        if any(abs(float(s)) < 1e-3 for _, s in shift):
            continue
        c = float(shift[0][0] / shift[0][1])
        label = 1.0 - c if side == 0 else c
        if not 0.0 < label < 1.0 or any(abs(float(d) - c * float(s)) > 1e-5 + 1e-4 * abs(float(d)) for d, s in shift):
            continue
        return (f"scores the {kind} packs against label {label:.3g}, not {plain:g} (label smoothing): that is a "
                f"training trick of its own, not part of this loss; use the plain labels, "
                f"torch.{'ones' if side == 0 else 'zeros'}_like(logits) for the {kind} packs")
    return None


def _packed_other_size_fault(fn) -> str | None:
    """The fault of a loss right on 12 points that is wrong on 20 points in packs of 4: a batch size written in."""
    from reference.data.mixtures import sample_mixture

    n, m = 20, 4
    real = sample_mixture("ring", n, seed=8)[0]
    fake = torch.randn(n, 2, generator=torch.Generator().manual_seed(9)) * 0.5
    D = _Spy(m)
    call = f"packed_d_loss(D, real, fake, {m}) with {n} real and {n} fake points"
    fix = (f"it is right for 12 points only: take every size from the batches and m (N // m packs, or labels "
           f"torch.ones_like(logits)), not numbers written in")
    try:
        value = fn(D, real.clone(), fake.clone(), m)
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - a size written in breaks here
        return f"{call} raised {_error_text(err)}: {fix}"
    got = _as_tensor(value, "packed_d_loss", call)
    expected = NonSaturating().d_loss(*[D.inner(reference_pack(x, m)).detach() for x in (real, fake)])
    if got.numel() != 1 or not torch.allclose(got.reshape(()), expected, **TOL):
        return f"{call} returns {got.flatten()[0].item():.6f}, expected {expected.item():.6f}: {fix}"
    return None


def _own_pack_raises(submission, batch: Tensor, m: int) -> bool:
    """Whether the notebook's own `pack(batch, m)` raises on a right input (then its error is pack's to fix)."""
    own = submission.get("pack") if "pack" in submission else None
    try:
        own(batch.clone(), m)
    except Exception:  # noqa: BLE001 - that is the answer
        return True
    return False


@check(points=1, visible=True)
def test_packed_d_loss(submission):
    """packed_d_loss: D's non-saturating loss on packs of real points and packs of fake points."""
    fn = submission.get("packed_d_loss")
    from reference.data.mixtures import sample_mixture

    n = 12
    wrong = []  # (call, m, the answer, the expected value, D's logits on the real and fake packs) where they differ
    for m in (2, 3):
        real = sample_mixture("ring", n, seed=6)[0]
        fake = torch.randn(n, 2, generator=torch.Generator().manual_seed(7)) * 0.5
        D = _Spy(m)
        call = f"packed_d_loss(D, real, fake, {m}) with {n} real and {n} fake points"
        try:
            value = fn(D, real.clone(), fake.clone(), m)
        except Exception as err:  # a message about what reached D says more than the shape error it caused
            helper = _innermost_student_function(err, getattr(submission, "namespace", None))
            if isinstance(err, NotImplementedError) and helper not in (None, "packed_d_loss"):
                raise AssertionError(f"{call}: your `{helper}` is not written yet (it raises NotImplementedError); "
                                     f"write it first") from None
            if helper == "pack" and _own_pack_raises(submission, real, m):  # the error is pack's, not the loss's
                hint = _float_size(err)
                raise AssertionError(f"{call}: your pack raised {_error_text(err)}{f': {hint}' if hint else ''}; fix "
                                     f"pack first (the check above)") from None
            if not D.inputs and (other := _network_used_instead(fn, "D", getattr(submission, "namespace", None))):
                raise AssertionError(
                    f"{call} raised {type(err).__name__} ({str(err)[:120]}): packed_d_loss never calls the D it is given, "
                    f"it calls the notebook's `{other}`; score the packs with its argument D, so it works for any D") from None
            fault = _unpacked_input(D.inputs, real, fake, n, m, call)
            if fault:
                raise AssertionError(fault) from None
            if len(D.inputs) >= 2:
                raise AssertionError(
                    f"{call} raised {type(err).__name__} after D scored both sets of packs ({err}). D gives one logit "
                    f"per pack, shape ({n // m},) here: make each term's labels one per pack, of the logits' own shape "
                    f"(torch.ones_like(logits))"
                ) from None
            raise
        got = _as_tensor(value, "packed_d_loss", call)
        logits = [D.inner(reference_pack(x, m)).detach() for x in (real, fake)]
        expected = NonSaturating().d_loss(*logits)
        if got.numel() == 1 and torch.allclose(got.reshape(()), expected, **TOL):
            continue
        for x in D.inputs:
            if any({"real", "fake"} <= _which(pack_k, real, fake) for pack_k in x):  # one pack, not the batch
                raise AssertionError(f"{call}: a pack D got mixes real and fake points; pack real with real and "
                                     f"fake with fake, each batch on its own")
        packed = [reference_pack(real, m), reference_pack(fake, m)]
        for x in D.inputs:
            kind = "real" if _which(x, real, fake) == {"real"} else "fake"
            if x.shape == packed[0].shape and not torch.equal(x, packed[kind == "fake"]):
                if _own_pack_of(submission, real if kind == "real" else fake, m, x):
                    raise AssertionError(
                        f"{call}: D's {kind} packs are your pack({kind}, {m}), which is not right yet (pack k must be "
                        f"points km..km + m - 1 in order): fix pack first (the check above)"
                    )
                raise AssertionError(
                    f"{call}: D's {kind} packs are not pack({kind}, {m}) (pack k = points km..km + m - 1 in order): "
                    f"pack both batches the same way, with your pack (check it above)"
                )
        if got.numel() != 1:
            raise AssertionError(f"{call} returns shape {tuple(got.shape)}: return one number, each term a mean over "
                                 f"its packs, the two terms summed")
        wrong.append((call, m, got.reshape(()), expected, logits))
    if not wrong:
        fault = _packed_other_size_fault(fn) or _packed_gradient_fault(fn, n)
        if fault:
            raise AssertionError(fault)
        return
    softplus = torch.nn.functional.softplus
    known = {  # message: the value it gives, from (m, expected, logits)
        f"divides each term's sum by the number of points ({n}) instead of the number of packs ({n} / m): D gives "
        f"one logit per pack, so each term is the mean over its packs":
            lambda m, want, lg: want / m,
        "is exactly half the expected value: add the real and the fake terms, do not average them":
            lambda m, want, lg: want / 2,
        "has the labels swapped: real packs get label 1, fake packs label 0":
            lambda m, want, lg: NonSaturating().d_loss(lg[1], lg[0]),
        "sums over the packs instead of taking the mean over the packs of each kind":
            lambda m, want, lg: want * (n // m),
        "is the real packs' term only: add the fake packs' term, with label 0":
            lambda m, want, lg: softplus(-lg[0]).mean(),
        "is the fake packs' term only: add the real packs' term, with label 1":
            lambda m, want, lg: softplus(lg[1]).mean(),
        "is negated: a loss to minimise, binary cross-entropy (positive)":
            lambda m, want, lg: -want,
        "scores the fake packs against label 1 (real): they get label 0, so the fake term is "
        "binary cross-entropy against zeros":
            lambda m, want, lg: softplus(-lg[0]).mean() + softplus(-lg[1]).mean(),
        "is the generator's loss (the fake packs against label 1): D's loss scores the real packs against 1 "
        "and the fake packs against 0":
            lambda m, want, lg: softplus(-lg[1]).mean(),
        "applies a sigmoid to D's logits before a loss that applies its own (binary_cross_entropy_with_logits "
        "or softplus): pass the logits themselves":
            lambda m, want, lg: softplus(-torch.sigmoid(lg[0])).mean() + softplus(torch.sigmoid(lg[1])).mean(),
        f"is the WGAN critic's loss, mean D(fake packs) - mean D(real packs): {OTHER_LOSS}":
            lambda m, want, lg: lg[1].mean() - lg[0].mean(),
        f"is the hinge loss, mean relu(1 - D(real packs)) + mean relu(1 + D(fake packs)): {OTHER_LOSS}":
            lambda m, want, lg: torch.relu(1 - lg[0]).mean() + torch.relu(1 + lg[1]).mean(),
        f"is the least-squares (LSGAN) loss, the squared distances of D's logits to 1 and to 0: {OTHER_LOSS}":
            lambda m, want, lg: ((lg[0] - 1) ** 2).mean() + (lg[1] ** 2).mean(),
    }
    call, m, got, expected, _ = wrong[0]
    for message, value in known.items():
        if all(torch.allclose(g, value(k, want, lg), **TOL) for _, k, g, want, lg in wrong):
            raise AssertionError(f"{call} {message}")
    smoothed = _smoothed_label(wrong)
    if smoothed:
        raise AssertionError(f"{call} {smoothed}")
    raise AssertionError(f"{call} returns {got.item():.6f}, expected {expected.item():.6f}: binary cross-entropy "
                         f"of D(real packs) against 1 plus that of D(fake packs) against 0, each a mean over packs")
