"""The check API: how a check is declared, how it fails, and how its outcome becomes points.

A check is a function `check_fn(submission)` in `tests/autograders/test_<assignment>.py`, marked
with `@check(points, visible=...)`. It passes by returning, fails by raising AssertionError (its
message is what the student reads), or earns part of its points by raising `Partial`. It reaches
the student's objects only through `submission` (see `reference.grading.submission`), so the same
check runs in a student's own kernel and, when graded, in the trusted grader across the proxy.

Only the grader decides points: `outcome()` turns what a check raised into (earned, message). An
exception that comes from the student's code (a `StudentError` from the sandboxed worker, or a
traceback through notebook-defined code in a kernel) is reported as the student's fault, never as
credit: a `Partial` raised by the student's own code is just another error of theirs.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from reference.errors import UserError

__all__ = [
    "CheckFailure",
    "CheckNotFound",
    "Partial",
    "StudentError",
    "SubmissionLost",
    "check",
    "outcome",
    "quiet",
    "run_check",
    "title",
]


def check(points: float, visible: bool = False) -> Callable[[Callable], Callable]:
    """Mark `fn(submission)` as a check worth `points`; `visible` ones ship to students.

    Sets `fn.points` (float) and `fn.visible` (bool).
    """
    if not points > 0:
        raise ValueError(f"a check is worth more than 0 points, got {points}")

    def mark(fn: Callable) -> Callable:
        fn.points = float(points)
        fn.visible = bool(visible)
        return fn

    return mark


class Partial(Exception):
    """Raised by a check to award `points` (0 <= points <= the check's points) with a message."""

    def __init__(self, points: float, message: str) -> None:
        super().__init__(message)
        self.points = float(points)
        self.message = message


class CheckFailure(AssertionError):
    """A check failed for a reason the check states itself (e.g. a missing name)."""


class CheckNotFound(UserError):
    """A check or check module that does not exist was asked for."""


class StudentError(Exception):
    """The student's code raised while a check used it (across the proxy, or in a kernel).

    type: the exception's class name; message: its first line; where: the outermost
    notebook-defined function it passed through ("" if none); not_implemented: it was
    NotImplementedError (the unanswered template); raised_in: the module of the innermost Python
    frame ("" if unknown). All are text the grader only shows or matches against KNOWN_FIXES.
    """

    def __init__(self, type: str, message: str, where: str = "", not_implemented: bool = False, raised_in: str = "") -> None:
        super().__init__(f"{type}: {message}")
        self.type, self.message, self.where, self.not_implemented = type, message, where, not_implemented
        self.raised_in = raised_in

    @classmethod
    def from_info(cls, info: Any) -> "StudentError":
        """The StudentError an `error_info` dict stands for, its text made printable and cut short:
        the dict may come from the student's side (the worker, a probe's reply), forged."""
        info = info if isinstance(info, dict) else {}
        kind = clean_text(info.get("type"), 80)
        return cls(kind if kind.replace(".", "").isidentifier() else "an exception", clean_text(info.get("message"), 300),
                   clean_text(info.get("where"), 120), info.get("not_implemented") is True, clean_text(info.get("raised_in"), 120))

    def describe(self, fix: bool = True) -> str:
        """What the student reads: which of their functions raised what, and the fix when known (`fix`: a
        check that gives its own fix says the error alone)."""
        name = self.where.split(".<locals>.")[-1]
        if self.not_implemented and name:
            return f"`{name}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
        raised = f"calling `{name}` raised" if name else "your code raised"
        return f"{raised} {with_known_fix(self.type, self.message, self.raised_in) if fix else f'{self.type}: {self.message}'}"


END_WITH_TANH = "end with nn.Tanh() on the last conv's output (not nn.Sigmoid(), and no ReLU between them)"
"""The fix for a generator whose output is never negative while the images are scaled to [-1, 1]
(a2, a4, a6): a Sigmoid where the Tanh belongs, or a ReLU before it."""

REACH = 0.9  # how close to -1 and to 1 a generator's tanh output comes once its weights are scaled up (it saturates)


def short_of_one(low: float, high: float) -> str | None:
    """Why a generator whose outputs, its weights scaled up 25 times (the tanh saturates), stay within
    [low, high] (inside [-1, 1], reaching below -0.5) cannot draw the data's -1 and 1: something squashes
    the tanh's output again (a second tanh caps it at tanh(1) = 0.762, a factor below 1 shrinks it), in
    words with the fix; None when it comes within REACH of both (a2, a4, a6)."""
    if low <= -REACH and high >= REACH:
        return None
    return (f"stays in [{low:.3g}, {high:.3g}] even with its weights scaled up, short of the data's -1 and 1 (a tanh "
            f"saturates there): its tanh's output is squashed again (a second tanh caps it at 0.762, a factor below 1 "
            f"shrinks it), so it can never draw the images' darkest and brightest pixels; apply nn.Tanh() once, as its "
            f"last layer, and return its output as it is")


SQUASHING = ("Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Softmax", "LogSoftmax", "Clamp", "Erf", "Atan")  # D's last operations that bound its output on both sides

ONE_SIDED = {  # D's last operations (autograd's names) that leave its output bounded on one side: what each returns
    "Relu": "a ReLU", "Softplus": "a softplus", "Exp": "an exp", "Abs": "an abs", "Pow": "a square", "Elu": "an ELU",
    "Gelu": "a GELU", "Silu": "a SiLU", "Mish": "a Mish", "Clamp": "a clamp", "Hardswish": "a hardswish",
    "LogSigmoid": "a log-sigmoid (log D(x), not the logit)", "Log": "a log",
}


def one_sided_logit(last: object, low: float, high: float, what: str = "the discriminator") -> str | None:
    """Why `what`'s outputs, within [low, high] with its weights scaled up 25 times, are not logits when its
    last operation (`probes.final_operation`) bounds them on one side: never below about 0 (a ReLU, softplus,
    exp, ELU: D(x) = sigmoid(logit) never falls near 0, so D never calls an image fake) or never above 0 (a
    log-sigmoid: D(x) never rises above 0.5, so D never calls an image real); None otherwise (a4, a6)."""
    if not isinstance(last, str) or last not in ONE_SIDED:
        return None
    if low >= -1:
        side, verdict = "negative", "never falls far below 0.5: it can never call an image fake"
    elif high <= 0:
        side, verdict = "positive", "never rises above 0.5: it can never call an image real"
    else:
        return None
    return (f"{what}'s outputs are never {side} ([{low:.3g}, {high:.3g}] even with its weights scaled up 25 times): its "
            f"last operation is {ONE_SIDED[last]}, so D(x) = sigmoid(output) {verdict}; return logits, the last layer's "
            f"output with no activation after it: the course's losses take logits and apply the sigmoid themselves")


CHANGED_AFTER_TANH = (
    "nn.Tanh() is the generator's last layer, but its output is changed after it in forward (such as * 2 - 1, + 1 or a "
    "rescaling), which moves it out of [-1, 1]: return the Tanh's output as it is"
)
"""The fix for a generator whose last layer is its Tanh but whose output leaves [-1, 1] (a2, a4, a6): its forward
changes the Tanh's output with arithmetic no layer records."""

NO_GPU = (
    'the code asks for a GPU ("cuda") where it runs without one (the grader\'s machine may have none): make new '
    "tensors on the device of the tensors it is given (torch.randn(n, nz, device=real.device)), or choose the device "
    'with torch.device("cuda" if torch.cuda.is_available() else "cpu")'
)

NO_FOLDER = (
    "the folder it writes into does not exist: create it first, os.makedirs(folder, exist_ok=True) or "
    "Path(folder).mkdir(parents=True, exist_ok=True)"
)

BCE_FLOAT_TARGETS = (
    "binary cross-entropy's targets are integers (torch.ones(n, dtype=torch.long), or labels 1 and 0 kept as ints); "
    "they are probabilities, floats like the logits: torch.ones_like(logits) and torch.zeros_like(logits) (or .float())"
)

BCE_TARGET_SHAPE = (
    "the targets and the logits differ in shape (a D that returns (N, 1) against targets (N,), or the reverse, or "
    "targets made for another batch size, torch.ones(64) for a batch of 16): build the targets from the logits, "
    "torch.ones_like(logits) and torch.zeros_like(logits), or have D return (N,) with .view(-1)"
)

SIGNATURE_FIX = ("the grader calls it as the notebook's own cells do, with the arguments of the signature the notebook "
                 "gives, in that order and by those names: keep that signature (no keyword-only arguments after `*`, none "
                 "renamed, added without a default or removed)")

SQRTM_ARGS = (
    "scipy.linalg.sqrtm's `disp` and `blocksize` are deprecated since SciPy 1.16; your kernel's SciPy no longer runs them "
    "(1.17 fails with disp=False on a torch tensor, 1.18 removes both), though grading accepts them as older versions do: "
    "call linalg.sqrtm(matrix) alone on a numpy array (tensor.numpy()), which returns the square root only "
    "(`covmean = linalg.sqrtm(...)`, not `covmean, _ = ...`)"
)

KNOWN_FIXES = (
    # (exception type, words of its message, the usual cause in GAN code and its fix[, the module it
    # must be raised in, or a package of them: a generic message means this cause only there])
    # a student's function called with the arguments its given signature names, raised at the grader's call
    ("TypeError", "positional argument", SIGNATURE_FIX, "reference.grading"),
    ("TypeError", "unexpected keyword argument", SIGNATURE_FIX, "reference.grading"),
    (
        "RuntimeError",
        "backward through the graph a second time",
        "a backward() went through a graph that an earlier backward() had already freed. Usually D's step judged "
        "the fake batch without .detach(), so D's backward() freed G's part of the graph before G's step: give D "
        "`fake.detach()` in its step (or compute the fake batch anew for G's step); or one loss went backward twice "
        "(call backward() once per step, on the sum of its terms)",
    ),
    (
        "RuntimeError",
        "modified by an inplace operation",
        "a tensor that a backward() still needed was changed before it ran: an optimizer's step() between a loss's "
        "forward pass and its backward() (compute G's loss through D after `opt_d.step()`, then backward() it; and "
        "step each network with its own optimizer, opt_d.step() in D's step and opt_g.step() in G's), or an "
        "in-place operation (`+=`, `inplace=True`) on a tensor the graph uses",
    ),
    (
        "RuntimeError",
        "does not require grad and does not have a grad_fn",
        "the loss has no gradient to follow: it was computed under torch.no_grad(), from .detach()ed or .item() "
        "values, or from a network whose parameters do not require grad; compute it from the networks' outputs",
    ),
    (
        "RuntimeError",
        "grad can be implicitly created only for scalar outputs",
        "torch.autograd.grad (or backward()) was given one value per sample, not one number: pass "
        "grad_outputs=torch.ones_like(scores) (each sample's score differentiated on its own), or differentiate scores.sum()",
    ),
    (
        "RuntimeError",
        "Found no NVIDIA driver",
        NO_GPU,
    ),
    ("AssertionError", "Torch not compiled with CUDA enabled", NO_GPU),
    (
        "RuntimeError",
        "must match the size of tensor",
        "an optimizer's state does not fit the parameters it updates: it was loaded from another network's optimizer "
        "(opt_d's saved state into opt_g, or the reverse); load each optimizer's own saved state into it, "
        "gan.opt_g.load_state_dict(state[\"opt_g\"]) and gan.opt_d.load_state_dict(state[\"opt_d\"])",
        "torch.optim",
    ),
    # a write into a folder that does not exist: torchvision's save_image (PIL), matplotlib's savefig, torch.save
    *(("FileNotFoundError", "No such file or directory", "a path it names does not exist: to write a file there, "
       "create its folder first, os.makedirs(folder, exist_ok=True); to read one, check the path", module)
      # torch.serialization: torch.save into a missing folder whose path is not ASCII (a student's /home/josé)
      # opens it with Python's open, and torch.load of a missing file says the same
      for module in ("PIL", "matplotlib", "torch.serialization")),  # the same words when a file is read: both causes told
    ("RuntimeError", "Parent directory", NO_FOLDER, "torch.serialization"),
    (
        "UnpicklingError",
        "Weights only load failed",
        "torch.load (weights_only=True, its default) refused an object in the file: save only state_dicts, tensors, "
        "numbers and strings in a checkpoint (not whole modules, numpy values or other objects)",
        "torch.serialization",
    ),
    # binary cross-entropy given integer targets (torch.ones(n, dtype=torch.long), labels 1 and 0 as ints):
    # F.binary_cross_entropy_with_logits and nn.BCEWithLogitsLoss say the first, F.binary_cross_entropy the second
    *(("RuntimeError", words, BCE_FLOAT_TARGETS, "torch.nn.functional")
      for words in ("can't be cast to the desired output type Long", "Found dtype Long but expected Float")),
    # binary cross-entropy given targets of another shape than the logits: F.binary_cross_entropy_with_logits and
    # nn.BCEWithLogitsLoss say the first, F.binary_cross_entropy and nn.BCELoss the second
    *(("ValueError", words, BCE_TARGET_SHAPE, "torch.nn.functional")
      for words in ("must be the same as input size", "that is different to the input size")),
    # an integration rule SciPy 1.14 and NumPy 2 removed, imported at the top of a cell (a student's own, older
    # kernel may still have it, so the cell runs there and fails when graded)
    *(("ImportError", f"cannot import name '{old}'", f"{old} is gone from the SciPy and NumPy the grader runs (removed in "
       f"SciPy 1.14 and NumPy 2; older versions still have it): import {new}, the same rule under its new name")
      for old, new in (("simps", "simpson"), ("trapz", "trapezoid"), ("cumtrapz", "cumulative_trapezoid"))),
    # pytorch-fid's `covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)`: SciPy 1.16 deprecated sqrtm's
    # disp and blocksize, 1.17 fails with disp on a torch tensor, 1.18 removes them. Graded, sqrtm takes them as
    # older versions did (reference.grading.compat); this speaks in a student's kernel on a newer SciPy
    *(("TypeError", f"sqrtm() got an unexpected keyword argument '{arg}'", SQRTM_ARGS) for arg in ("disp", "blocksize")),
    ("TypeError", "'numpy.ndarray' and 'Tensor'", SQRTM_ARGS, "scipy.linalg"),
    # torch.cat([z, code]) without dim=1: the batches are stacked, and their feature sizes differ
    ("RuntimeError", "Sizes of tensors must match except in dimension 0",
     "torch.cat joins along dim 0, the batch, unless told otherwise, and the other sizes must agree: to put features "
     "side by side (z beside the label's code, an image beside its label planes), pass dim=1; to stack two batches "
     "(real and fake), make their images the same shape"),
    # the same call's pair, (the root, an error estimate), given to np.trace or np.real as one array
    ("ValueError", "inhomogeneous shape after 1 dimensions. The detected shape was (2,)",
     "two things of different shapes were made into one array (np.array([a, b]), or np.trace of a pair): if one came "
     "from scipy.linalg.sqrtm(A, disp=False), that returns two, the square root and an error estimate (pytorch-fid "
     "unpacks them, covmean, _ = ...); call linalg.sqrtm(A) alone, which returns the square root only", "numpy"),
    # F.binary_cross_entropy and nn.BCELoss given logits (the PyTorch DCGAN tutorial's loss with a D that has no sigmoid)
    (
        "RuntimeError",
        "all elements of input should be between 0 and 1",
        "nn.BCELoss and F.binary_cross_entropy take probabilities, but were given values outside [0, 1]: D returns "
        "logits, so use a loss made for logits, nn.BCEWithLogitsLoss or F.binary_cross_entropy_with_logits (the "
        "course's losses take logits too)",
        "torch.nn.functional",
    ),
    # torchvision's make_grid and save_image as old tutorials call them (`range` became `value_range` in 0.17)
    (
        "TypeError",
        "got an unexpected keyword argument 'range'",
        "torchvision's make_grid and save_image call that argument `value_range` now (renamed from `range`, which old "
        "tutorials use): normalize=True, value_range=(-1, 1)",
    ),
    # a package of the student's own machine or Colab (pandas, seaborn), installed there by a `!pip install` cell
    (
        "ModuleNotFoundError",
        "No module named",
        "the grader has the packages the course installs and no others, and it skips `!pip install` and `%pip` cells: "
        "use those packages (torch, torchvision, numpy, scipy, matplotlib, scikit-learn, tqdm and Python's own "
        "modules; STUDENTS.md lists them), or check the module's name",
    ),
    (
        "RuntimeError",
        "Expected all tensors to be on the same device",
        "a tensor on one device (the CPU) meets one on another (the GPU): make new tensors on the device of the "
        "tensors the function is given (torch.randn(n, nz, device=real.device)), and keep the networks there too",
    ),
)
"""Errors that PyTorch reports in words that do not say what to change in a GAN's code, with what to
change. A check that reports a student's exception adds the fix (see `with_known_fix`)."""


def with_known_fix(type: str, message: str, raised_in: str = "") -> str:
    """"RuntimeError: <message>", followed by the fix where KNOWN_FIXES knows one (then the message is cut to
    its first clause: PyTorch's own advice in it, such as retain_graph=True, is not the fix). raised_in:
    the module the exception came from (`raised_in`), for the fixes that hold only there."""
    for known_type, words, fix, *where in KNOWN_FIXES:
        if where and not (raised_in == where[0] or raised_in.startswith(where[0] + ".")):
            continue
        if type == known_type and words in message:
            clause = re.split(r" \((?!\d+\)|torch\.Size)|; |\. |: \[", message, maxsplit=1)[0].rstrip(".")  # "(100)", "(torch.Size([4]))" stay
            return f"{type}: {clause}: {fix}"
    return f"{type}: {message}"


# a2, a4: a generator or discriminator that only takes one batch size
BATCH_FIXED = "a .view or .reshape fixes the batch size at"


def parameter_count(summary: object) -> int | None:
    """How many parameter elements a network holds (trainable or not), from `probes.module_summary`'s
    reply; None when the reply is malformed (it crossed from the worker)."""
    params = summary.get("parameters") if isinstance(summary, dict) else None
    if not isinstance(params, list):
        return None
    total = 0
    for entry in params:
        shape = entry[1] if isinstance(entry, list) and len(entry) == 3 else None
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            continue
        total += math.prod(shape)
    return total


FEW_NOISE_DIRECTIONS = 2  # a generator's images that vary in this many directions of z or fewer: z was reduced first
RANK_PROJECTIONS = 8  # how many projections `probes.noise_reach` measures that rank with (its RANK_PROJECTIONS)


def ignored_noise(reach: object, nz: int, what: str = "the generator") -> str | None:
    """Why a generator's output does not depend on every dimension of the z it is given, from
    `probes.noise_reach`, else None: it draws noise of its own (torch.randn inside forward) or uses part of z.
    A fixed-noise sample grid, an interpolation between two z and a seeded run all rest on G(z) being a
    function of z."""
    if not isinstance(reach, dict):
        return None
    dims = reach.get("dims")
    if reach.get("reaches") is False:
        return (f"{what}'s output does not depend on the z it is given (no gradient reaches z): it draws noise of its own "
                f"(torch.randn inside forward), or uses z only to pick (an argmax, an index) between a few fixed images; "
                f"forward(z) must map z itself, so that a fixed z draws a fixed image and each z its own")
    if not (isinstance(dims, list) and len(dims) == nz and all(isinstance(v, float) for v in dims)):
        return None
    unused = [j for j, v in enumerate(dims) if v == 0.0]
    if unused and len(unused) < nz:
        return (f"{what}'s output depends on {nz - len(unused)} of the {nz} dimensions of z only (the gradient to the "
                f"other {len(unused)} is exactly 0): pass all of z into the first layer")
    if unused:
        return (f"{what}'s output has no gradient to the z it is given (exactly 0): it draws noise of its own, or passes z "
                f"through a step (a sign, a rounding, a comparison) that picks between a few fixed images; forward(z) must map "
                f"z itself, so that a fixed z draws a fixed image and each z its own")
    rank = reach.get("rank")
    if type(rank) is int and 1 <= rank <= FEW_NOISE_DIRECTIONS < nz:
        way = "1 number" if rank == 1 else f"{rank} numbers"
        return (f"{what}'s output depends on z through {way} per sample only (the gradients to z of "
                f"{RANK_PROJECTIONS} random projections of an image span {rank} of z's {nz} directions): it reduces z "
                f"before using it (z.mean(1), z.sum(1), a layer to {way}), so a sample's images vary in {rank} "
                f"way{'s' if rank > 1 else ''} at most; pass z itself into the first layer")
    return None


def ignores_width(counts: tuple[int | None, int | None], call: str, arg: str, width: int) -> str | None:
    """The message for a network whose parameter counts at `arg` = width and 2 * width (`counts`) are
    equal: its widths come from elsewhere (a notebook global), so the checks' small builds are not
    small. None otherwise, or when a count is unknown."""
    if None in counts or counts[0] != counts[1]:
        return None
    return (f"`{call}({arg}={width})` and `{call}({arg}={2 * width})` both have {counts[0]:,} parameters: its layers "
            f"ignore the `{arg}` argument (fixed numbers or a global such as {arg.upper()} in its place?); build every width from `{arg}`")


def batch_hint(message: str, batch: int, fixed_tensor: Callable[[int, int], str] | None = None) -> str:
    """Why a size error of forward is a batch size written into the model, and its fix; "" when it is not one.

    message: torch's error text; batch: the number of samples forward was given. Told:
    - a reshape to a fixed batch of two or more dimensions (torch: "shape '[64, 100, 1, 1]' is invalid for input
      of size 200", a z.view(64, ...)) or of one (D's logits: "shape '[64]' is invalid for input of size 2", a
      .view(64) of N logits);
    - with `fixed_tensor`: a torch.cat or an elementwise operation whose tensors disagree in their number of
      samples, one of them `batch` and the other a fixed number (a tensor of forward's own made as
      (64, 1, 28, 28), a one-hot made as torch.zeros(64, 10)): fixed_tensor(fixed, batch), the assignment's own
      words for such a tensor and its fix.
    """
    found = re.search(r"shape '\[(\d+), [^\]]*\]' is invalid for input of size", message)
    if found is not None and int(found.group(1)) != batch:
        return (f": {BATCH_FIXED} {found.group(1)}, but batches have any size N (here {batch}): "
                f"let the batch size follow the input, e.g. z.view(-1, nz, 1, 1) or x.view(x.size(0), -1)")
    found = re.search(r"shape '\[(\d+)\]' is invalid for input of size (\d+)", message)
    if found is not None and int(found.group(1)) != batch and int(found.group(2)) == batch:
        return (f": {BATCH_FIXED} {found.group(1)}, but batches have any size N (here {batch}): let the batch size follow "
                f"the input, e.g. .view(-1) for one logit per image")
    found = (re.search(r"Sizes of tensors must match except in dimension [1-9]\d*\. Expected size (\d+) but got size (\d+)", message)
             or re.search(r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at non-singleton dimension 0\b", message))
    if fixed_tensor is None or found is None or batch < 2:
        return ""
    sizes = int(found.group(1)), int(found.group(2))
    if batch not in sizes or sizes[0] == sizes[1]:
        return ""
    return fixed_tensor(sizes[1] if sizes[0] == batch else sizes[0], batch)


def call_text(name: str, kwargs: dict) -> str:
    """The call `name(k=v, ...)` as a message shows it, in backticks."""
    return f"`{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})`"


def raise_call_error(result: dict, call: str, must: str) -> None:
    """Raise what a probe's call of the student's function reported in result["error"] (its error_info), if
    anything: the StudentError of an unanswered template; an AssertionError naming the call the grader makes
    for arguments the function does not take, and `call` + `must` ("must build the network") for any other
    exception."""
    if not isinstance(result.get("error"), dict):
        return
    err = StudentError.from_info(result["error"])
    if err.not_implemented:
        raise err
    if err.type == "TypeError" and "argument" in err.message:
        raise AssertionError(f"{err.describe(fix=False)}; keep the arguments the grader calls it with: {call}")
    raise AssertionError(f"{err.describe()}; {call} {must}")


def built_network(submission: Any, make: Callable, name: str, seed: int, namespace: Any, kwargs: dict, not_module: str) -> Any:
    """The student's `name(**kwargs)` built by the probe `make` (probes_a4.make: its {"model", "summary", "error"})
    with `seed`, in the worker when graded, and put in training mode (a handle when graded).

    namespace: the marker that stands for the notebook's globals in the worker; not_module: what to write instead
    when the call makes something other than an nn.Module ("subclass nn.Module and call super().__init__()").
    Raises the StudentError of an unanswered template, and an AssertionError naming the fault when the call
    raises or makes something that is not an nn.Module.
    """
    call = call_text(name, kwargs)
    result = submission.run(make, submission.get(name), seed, namespace, kwargs)
    result = result if isinstance(result, dict) else {}
    raise_call_error(result, call, "must build the network")
    summary = result.get("summary") if isinstance(result.get("summary"), dict) else {}
    if summary.get("is_module") is not True:
        kind = clean_text(summary.get("type"), 80) or "something else"
        raise AssertionError(f"{call} returned a {kind}, not a torch nn.Module: {not_module}")
    model = result["model"]
    model.train()
    return model


class SubmissionLost(Exception):
    """The submission's worker is gone (a limit hit, a crash, an exit): the check cannot be answered."""


def first_line(err: BaseException | str, limit: int = 300) -> str:
    """The first non-empty line of an exception's text, at most `limit` characters."""
    lines = str(err).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _student_frame(err: BaseException, namespace: dict | None) -> str | None:
    """The outermost function whose globals are the notebook's `namespace` the exception passed through."""
    tb = err.__traceback__
    while tb is not None and namespace is not None:
        if tb.tb_frame.f_globals is namespace:
            code = tb.tb_frame.f_code
            return getattr(code, "co_qualname", code.co_name)
        tb = tb.tb_next
    return None


def raised_in(err: BaseException) -> str:
    """The module (its __name__) of the innermost Python frame of `err`'s traceback, "" if none."""
    tb, name = err.__traceback__, ""
    while tb is not None:
        found = tb.tb_frame.f_globals.get("__name__")
        name = found if isinstance(found, str) else ""
        tb = tb.tb_next
    return name


def as_student_error(err: BaseException, namespace: dict | None) -> StudentError | None:
    """`err` as a StudentError when it passed through notebook-defined code (a kernel's traceback)."""
    if isinstance(err, StudentError):
        return err
    where = _student_frame(err, namespace)
    if where is None:
        return None
    return StudentError(type(err).__name__, first_line(err), where, isinstance(err, NotImplementedError), raised_in(err))


def error_info(err: BaseException, namespace: dict | None = None) -> dict:
    """{"type", "message" (first line), "where" (the outermost function defined in `namespace` the
    traceback passes through, "" if none), "raised_in" (the module of the innermost Python frame,
    e.g. "torch.optim.adam"), "not_implemented"} of an exception: what the worker sends for an
    exception of the student's code, and `StudentError.from_info` turns back into one."""
    return {"type": type(err).__name__, "message": first_line(err), "where": _student_frame(err, namespace) or "",
            "raised_in": raised_in(err), "not_implemented": isinstance(err, NotImplementedError)}


def clean_text(value: Any, limit: int) -> str:
    """Untrusted text (not a str: ""), printable and at most `limit` characters."""
    text = value[: limit + 1] if isinstance(value, str) else ""  # cut first: a reply's string may be megabytes long
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str, newlines: bool = False, mark: str = " ") -> str:
    """`text` with each control character made `mark` (line breaks too, unless `newlines`): a
    student's text shown to the instructor, in a terminal too, where an escape sequence could move the
    cursor, colour or rewrite a classmate's line or the window's title, and a line break could add a
    score line of its own."""
    return "".join(ch if ch.isprintable() or (newlines and ch == "\n") else mark for ch in text)


def outcome(fn: Callable, err: BaseException | None, namespace: dict | None = None) -> tuple[float, str]:
    """(earned, message) for check `fn` that raised `err` (None: it passed).

    namespace: the notebook's globals when the check ran in the student's kernel, to tell an
    exception of the student's code (its traceback passes through their functions) from a failure
    of the check. Points are clamped to [0, fn.points]; a NaN is 0.
    """
    points = float(getattr(fn, "points", 0.0))
    if err is None:
        return points, ""
    if isinstance(err, SubmissionLost):
        return 0.0, str(err)
    student = as_student_error(err, namespace)
    if student is not None:
        return 0.0, student.describe()
    if type(err) is Partial:  # exactly the grader's class: a subclass could come from anywhere
        earned = err.points if math.isfinite(err.points) else 0.0
        return min(max(earned, 0.0), points), str(err.message)
    if isinstance(err, AssertionError):
        message = str(err).strip()
        return 0.0, message or f"{fn.__name__} failed"
    return 0.0, f"the check stopped with {type(err).__name__}: {first_line(err)}"


def run_check(fn: Callable, submission) -> tuple[float, str]:
    """Run check `fn` on `submission`: (earned points, message); (points, "") when it passes."""
    namespace = getattr(submission, "namespace", None)
    try:
        with float32_default():
            fn(submission)
    except (Exception, SystemExit, KeyboardInterrupt) as err:  # noqa: BLE001 - any failure costs this check only
        return outcome(fn, err, namespace)
    return outcome(fn, None, namespace)


@contextlib.contextmanager
def float32_default() -> Iterator[None]:
    """torch's default dtype float32 for a check, whatever the notebook set, then the notebook's again. A check
    runs in the grader and answers its requests in the submission's worker: there a notebook's
    torch.set_default_dtype(torch.float64) made the probes' own networks float64 against the grader's float32
    tensors, and a correct a5 scored 3 of 17 that passed every check in the student's kernel. The worker answers
    each request under this too, so a check sees the same in the student's kernel, in one process and sandboxed."""
    import torch

    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def title(fn: Callable) -> str:
    """A check's title: its docstring's first line, else its name without "test_"."""
    doc = (fn.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else fn.__name__.removeprefix("test_").replace("_", " ")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Capture stderr (Python and file descriptor 2), silence warnings and progress bars."""
    old_tqdm = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    saved_fd = None
    with contextlib.ExitStack() as stack:
        try:
            sys.stderr.flush()
            saved_fd = os.dup(2)
            sink = stack.enter_context(tempfile.TemporaryFile())
            os.dup2(sink.fileno(), 2)
        except (OSError, ValueError, AttributeError):
            saved_fd = None
        stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            if saved_fd is not None:
                os.dup2(saved_fd, 2)
                os.close(saved_fd)
            if old_tqdm is None:
                os.environ.pop("TQDM_DISABLE", None)
            else:
                os.environ["TQDM_DISABLE"] = old_tqdm


def is_check(obj: object) -> bool:
    """A function marked by `@check`."""
    return isinstance(obj, types.FunctionType) and isinstance(getattr(obj, "points", None), float)
