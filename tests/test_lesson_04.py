"""Tests for reference/checks/lesson_04.py: lesson 04's code-along checks.

The model answers are the code-along cells of solutions/lessons/04_mode_collapse.ipynb, run in a
fresh namespace as a kernel would; the stubs are the same cells with each solution region replaced
by `raise NotImplementedError()`, as the student gets them. Every check must pass on the model
answers and fail, with a message naming the fault, on each realistic wrong answer.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F

from lesson_support import Lesson, stub

LESSON = Lesson("04_mode_collapse", torch=torch, F=F)
code_cell, namespace, grade = LESSON.code_cell, LESSON.namespace, LESSON.grade
CHECKS = LESSON.checks


STD_CELL, PACK_CELL = code_cell("minibatch_std"), code_cell("pack")


def model_answers() -> dict:
    return namespace(STD_CELL, PACK_CELL)


def with_function(source: str) -> dict:
    """The model answers with one function replaced by `source` (defined after them, as a re-run cell)."""
    return namespace(STD_CELL, PACK_CELL, textwrap.dedent(source))


# ---- the model answers and the stubs ---------------------------------------------------------------


def test_checks_are_the_four_visible_one_point_checks():
    assert list(CHECKS) == ["test_minibatch_std", "test_append_minibatch_std", "test_pack", "test_packed_d_loss"]
    assert all(fn.visible and fn.points == 1 for fn in CHECKS.values())


@pytest.mark.parametrize("name", list(CHECKS))
def test_model_answer_passes(name):
    assert grade(name, model_answers()) == (1.0, "")


def test_solution_regions_are_in_the_cells():
    assert STD_CELL.count("### BEGIN SOLUTION") == 2 and PACK_CELL.count("### BEGIN SOLUTION") == 2
    assert "raise NotImplementedError()" in stub(STD_CELL) and "### BEGIN" not in stub(PACK_CELL)


@pytest.mark.parametrize(
    "name, function",
    [("test_minibatch_std", "minibatch_std"), ("test_append_minibatch_std", "append_minibatch_std"),
     ("test_pack", "pack"), ("test_packed_d_loss", "packed_d_loss")],
)
def test_untouched_stub_says_not_written_yet(name, function):
    earned, message = grade(name, namespace(stub(STD_CELL), stub(PACK_CELL)))
    assert earned == 0
    assert f"`{function}` is not implemented yet" in message and "NotImplementedError" in message, message


def test_packed_d_loss_with_an_unwritten_pack_names_pack():
    written_loss = PACK_CELL[PACK_CELL.index("def packed_d_loss"):]
    ns = namespace(STD_CELL, stub(PACK_CELL), written_loss)
    earned, message = grade("test_packed_d_loss", ns)
    assert earned == 0 and "`pack` is not written yet" in message, message


def test_append_minibatch_std_with_an_unwritten_minibatch_std_names_minibatch_std():
    written_append = STD_CELL[STD_CELL.index("def append_minibatch_std"):]
    ns = namespace(stub(STD_CELL), PACK_CELL, written_append)
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0 and "calls your `minibatch_std`, which is not written yet" in message, message


def test_a_missing_function_is_named():
    ns = namespace(PACK_CELL)
    earned, message = grade("test_minibatch_std", ns)
    assert earned == 0 and "`minibatch_std` is not defined" in message, message



def test_the_checks_leave_the_students_random_numbers_alone():
    """A grade cell runs in the student's kernel: a check must not reseed or advance torch's global RNG, or the
    notebook's later random numbers (a training run without its own seed) change with every grade cell run."""
    ns = model_answers()
    for name in CHECKS:
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        assert grade(name, ns) == (1.0, ""), name
        assert torch.equal(torch.rand(3), expected), f"{name} changed torch's global random state"

# ---- minibatch_std --------------------------------------------------------------------------------

STD_MISTAKES = {
    "unbiased": ("return torch.sqrt(x.var(dim=0) + 1e-8).mean()", ["unbiased", "divide by N"]),
    "unbiased std()": ("return x.std(dim=0).mean()", ["unbiased", "divide by N"]),
    "across features": ("return torch.sqrt(x.reshape(len(x), -1).var(dim=1, unbiased=False) + 1e-8).mean()",
                        ["dim 1", "across the batch (dim 0)"]),
    "per-sample std": ("return x.reshape(len(x), -1).std(dim=1)", ["one value per sample", "dim 0"]),
    "no mean": ("return torch.sqrt(x.var(dim=0, unbiased=False) + 1e-8)", ["one value per feature", "average"]),
    "pooled": ("return x.std()", ["pooled", "each feature's std"]),
    "variance": ("return (x.var(dim=0, unbiased=False) + 1e-8).mean()", ["without the square root"]),
    "no epsilon": ("return x.var(dim=0, unbiased=False).sqrt().mean()", ["1e-8", "square root"]),
    "detached": ("return x.var(dim=0, unbiased=False).add(1e-8).sqrt().mean().detach()", ["gradient"]),
    "per channel": ("""
        if x.dim() == 4:
            return torch.sqrt(x.var(dim=(0, 2, 3), unbiased=False) + 1e-8).mean()
        return torch.sqrt(x.var(dim=0, unbiased=False) + 1e-8).mean()""", ["pools each channel's pixels"]),
    # the std of each channel's mean over its pixels: a different statistic, named
    "channel means": ("""
        if x.dim() == 4:
            x = x.mean(dim=(2, 3))
        return torch.sqrt(x.var(dim=0, unbiased=False) + 1e-8).mean()""", ["averages each channel over its pixels first",
                                                                         "every (channel, row, column) is a feature"]),
    "numpy": ("return float(x.var(dim=0, unbiased=False).add(1e-8).sqrt().mean())", ["not a tensor"]),
    "unbiased, root of the mean": ("return torch.sqrt(x.var(0).mean() + 1e-8)",
                                   ["unbiased", "unbiased=False or correction=0", "square root after averaging"]),
    # right value, but x is centred in place: the caller's activations change
    "centres x in place": ("""
        x.sub_(x.mean(0))
        return torch.sqrt((x ** 2).mean(0) + 1e-8).mean()""", ["changes its input x in place", "x - x.mean(0)"]),
    "centres x in place with -=": ("""
        x -= x.mean(0)
        return torch.sqrt((x ** 2).mean(0) + 1e-8).mean()""", ["changes its input x in place"]),
}


@pytest.mark.parametrize("mistake", list(STD_MISTAKES))
def test_minibatch_std_mistakes_are_named(mistake):
    body, words = STD_MISTAKES[mistake]
    ns = with_function("def minibatch_std(x):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")
    earned, message = grade("test_minibatch_std", ns)
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"


STD_RIGHT = {
    "centred by hand": "return ((x - x.mean(0)) ** 2).mean(0).add(1e-8).sqrt().mean()",
    "var_mean with correction=0": "v, _ = torch.var_mean(x, dim=0, correction=0)\n    return (v + 1e-8).sqrt().mean()",
    "flattened, a loop over features": "f = x.reshape(len(x), -1)\n    return torch.stack([torch.sqrt(f[:, j].var(unbiased=False) "
                                       "+ 1e-8) for j in range(f.shape[1])]).mean()",
    "unbiased variance rescaled": "n = x.shape[0]\n    return torch.sqrt(x.var(0) * (n - 1) / n + 1e-8).mean()",
}


@pytest.mark.parametrize("variant", list(STD_RIGHT))
def test_minibatch_std_right_variants_pass(variant):
    assert grade("test_minibatch_std", with_function(f"def minibatch_std(x):\n    {STD_RIGHT[variant]}\n")) == (1.0, "")


def test_minibatch_std_in_double_precision_passes():
    ns = with_function("def minibatch_std(x):\n    return x.double().var(dim=0, correction=0).add(1e-8).sqrt().mean()\n")
    assert grade("test_minibatch_std", ns) == (1.0, "")


# ---- append_minibatch_std -------------------------------------------------------------------------

APPEND_MISTAKES = {
    "a row": ("return torch.cat([x, minibatch_std(x).expand(1, x.shape[1])], dim=0)", ["one more sample", "(N, F + 1)"]),
    "first": ("return torch.cat([minibatch_std(x).expand(x.shape[0], 1), x], dim=1)", ["first column"]),
    "per sample": ("return torch.cat([x, x.std(dim=1, keepdim=True)], dim=1)", ["differs between samples"]),
    "features changed": ("return torch.cat([x - x.mean(0), minibatch_std(x).expand(x.shape[0], 1)], dim=1)",
                         ["not x's features unchanged"]),
    "no feature": ("return x", ["shape (16, 5)", "(16, 6)"]),
    # the right values, but the statistic is cut from the graph: G gets no gradient through it
    "statistic as a number": ("return torch.cat([x, torch.full((len(x), 1), minibatch_std(x).item())], dim=1)",
                              ["carries no gradient back to x", ".item()"]),
    "statistic detached": ("return torch.cat([x, minibatch_std(x).detach().expand(len(x), 1)], dim=1)",
                           ["carries no gradient back to x", "minibatch_std(x).expand(N, 1)"]),
    # found by session 41's red team: right on the check's (16, 5) points, the only batch it tried
    "batch size written in": ("return torch.cat([x, minibatch_std(x).expand(16, 1)], dim=1)",
                              ["append_minibatch_std(x) on a (7, 3) batch raised RuntimeError", "right on the (16, 5) "
                               "points only", "x.shape[0]"]),
    # found by round four of the lessons' red team: the statistic keeps its gradient, x's own features lose theirs
    # (the check looked at the statistic's column only), so D's earlier layers would stop learning
    "features detached": ("return torch.cat([x.detach(), minibatch_std(x).expand(len(x), 1)], dim=1)",
                          ["x's own F features carry no gradient back to x", "torch.cat([x, statistic], dim=1)"]),
    "features copied as numbers": ("return torch.cat([torch.tensor(x.tolist()), minibatch_std(x).expand(len(x), 1)], 1)",
                                   ["x's own F features carry no gradient back to x"]),
    "features through .data": ("n, f = x.shape\n    out = torch.zeros(n, f + 1)\n    out[:, :f] = x.data\n"
                               "    out[:, f] = minibatch_std(x)\n    return out", ["x's own F features carry no gradient"]),
}
APPEND_RIGHT = {
    "repeat": "return torch.cat([x, minibatch_std(x).repeat(len(x), 1)], 1)",
    "written into a new tensor": "n, f = x.shape\n    out = torch.zeros(n, f + 1)\n    out[:, :f] = x\n"
                                 "    out[:, f] = minibatch_std(x)\n    return out",
    "column_stack": "return torch.column_stack([x, minibatch_std(x).expand(len(x))])",
    "written for images too": "return torch.cat([x, minibatch_std(x).expand(x.shape[0], 1, *x.shape[2:])], dim=1)",
}


@pytest.mark.parametrize("variant", list(APPEND_RIGHT))
def test_append_minibatch_std_right_variants_pass(variant):
    ns = with_function(f"def append_minibatch_std(x):\n    {APPEND_RIGHT[variant]}\n")
    assert grade("test_append_minibatch_std", ns) == (1.0, "")


@pytest.mark.parametrize("mistake", list(APPEND_MISTAKES))
def test_append_minibatch_std_mistakes_are_named(mistake):
    body, words = APPEND_MISTAKES[mistake]
    ns = with_function(f"def append_minibatch_std(x):\n    {body}\n")
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"


def test_append_in_double_precision_is_named():
    """Found by round four of the lessons' red team: float64 features for a float32 batch passed; D's next layer,
    float32, refuses them."""
    ns = with_function("def append_minibatch_std(x):\n"
                       "    return torch.cat([x.double(), minibatch_std(x).double().expand(len(x), 1)], dim=1)\n")
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0 and "returns torch.float64 for a torch.float32 batch" in message and "x's dtype" in message, message
    assert "your minibatch_std" not in message, message


def test_append_through_a_minibatch_std_in_double_precision_points_at_the_dtype():
    """A float64 statistic (right for minibatch_std's own check) promotes the model answer's torch.cat to float64."""
    ns = with_function("def minibatch_std(x):\n    return x.double().var(dim=0, correction=0).add(1e-8).sqrt().mean()\n")
    assert grade("test_minibatch_std", ns) == (1.0, "")
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0 and "your minibatch_std returns torch.float64" in message and ".to(x.dtype)" in message, message


def test_append_through_a_minibatch_std_that_changes_x_names_it():
    ns = with_function("def minibatch_std(x):\n    x.sub_(x.mean(0))\n    return torch.sqrt((x ** 2).mean(0) + 1e-8).mean()\n")
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0 and "your minibatch_std changes its input x in place" in message, message
    assert "concatenate x and the statistic" not in message, message


@pytest.mark.parametrize("body, words", [
    ("return torch.cat([x, x.std(0).mean().expand(len(x), 1)], 1)", ["unbiased", "correction=0"]),
    ("x = torch.cat([x, torch.zeros(len(x), 1)], 1)\n    x[:, -1] = minibatch_std(x)\n    return x",
     ["a column of zeros already appended"]),
])
def test_append_with_its_own_wrong_statistic_names_the_fault(body, words):
    earned, message = grade("test_append_minibatch_std", with_function(f"def append_minibatch_std(x):\n    {body}\n"))
    assert earned == 0 and all(w in message for w in words), message


def test_append_through_a_minibatch_std_without_gradient_points_at_it():
    ns = with_function("def minibatch_std(x):\n    return torch.tensor(float(torch.sqrt(x.detach().var(0, unbiased=False) + 1e-8).mean()))\n")
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0 and "your minibatch_std returns a value with no gradient" in message, message


def test_append_through_a_minibatch_std_that_returns_a_float_points_at_it():
    ns = with_function("def minibatch_std(x):\n    return torch.sqrt(x.var(0, unbiased=False) + 1e-8).mean().item()\n")
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0 and "your minibatch_std returns float, not a tensor" in message and "fix minibatch_std first" in message, message


def test_append_with_a_wrong_statistic_points_at_minibatch_std():
    ns = with_function("def minibatch_std(x):\n    return torch.sqrt(x.var(dim=0) + 1e-8).mean()\n")
    earned, message = grade("test_append_minibatch_std", ns)
    assert earned == 0 and "your minibatch_std(x)" in message and "fix minibatch_std first" in message, message


# ---- pack -----------------------------------------------------------------------------------------

PACK_MISTAKES = {
    "across the batch": ("return x.reshape(m, len(x) // m, *x.shape[1:]).transpose(0, 1).reshape(len(x) // m, -1, *x.shape[2:])",
                         ["pack 0 holds samples [0, 4, 8]", "consecutive"]),
    "interleaved coordinates": ("return x.reshape(len(x) // m, m, -1).transpose(1, 2).reshape(len(x) // m, -1)",
                                ["interleaved", "coordinates together"]),
    "not flattened": ("return x.reshape(len(x) // m, m, *x.shape[1:])", ["(4, 3, 2)", "(4, 6)"]),
    "images along height": ("""
        if x.dim() == 4:
            n, c, h, w = x.shape
            return x.reshape(n // m, m, c, h, w).permute(0, 2, 1, 3, 4).reshape(n // m, c, m * h, w)
        return x.reshape(len(x) // m, -1)""", ["the height", "channels"]),
    "images channel-interleaved": ("""
        if x.dim() == 4:
            return x.reshape(len(x) // m, m, *x.shape[1:]).transpose(1, 2).reshape(len(x) // m, -1, *x.shape[2:])
        return x.reshape(len(x) // m, -1)""", ["interleaved", "all C channels of sample km first"]),
    "pack 1 wrong": ("""
        if m == 1:
            return x.reshape(1, -1)
        return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])""", ["pack(x, 1)"]),
    # right on every input with no dimension of size 1; one pack of one-channel images loses its batch dimension
    "squeezed": ("return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:]).squeeze()",
                 ["returns shape (4, 3, 3)", "(1, 4, 3, 3)", ".squeeze()"]),
    # reshape(N / m, -1), right for points, flattens packs of images into vectors
    "images flattened": ("return x.reshape(len(x) // m, -1)", ["flattens each pack into one vector", "(4, 6, 4, 5)"]),
    # three channels written in: right on the check's RGB images only
    # written for images only: x.shape[2] does not exist for points
    "images only": ("return x.view(len(x) // m, -1, x.shape[2], x.shape[3])",
                    ["pack(x, 3) on (12, 2) points raised IndexError", "x.shape[2:]"]),
    "channels hard-coded": ("""
        if x.dim() == 4:
            return x.reshape(len(x) // m, m * 3, *x.shape[2:])
        return x.reshape(len(x) // m, -1)""", ["4 single-channel images"]),
    # found by session 41's red team: torch's "reshape() takes 1 positional argument but 2 were given" alone
    "float size": ("return x.reshape(x.shape[0] / m, m * x.shape[1], *x.shape[2:])",
                   ["pack(x, 3) on (12, 2) points raised TypeError", "N / m is a float", "N // m"]),
    "float size in a tuple": ("return x.reshape((len(x) / m, -1) + tuple(x.shape[2:]))", ["not an int", "N // m"]),
    # written for points only: torch's "shape '[4, 4]' is invalid for input of size 480" alone, no call named
    "points only": ("return x.reshape(len(x) // m, 2 * m)",
                    ["pack(x, 2) on (8, 3, 4, 5) images raised RuntimeError", "as well as points", "(N/m, m*C, H, W)"]),
    # found by round four of the lessons' red team: the right packs, cut from the graph, so G's step through
    # D(pack(G(z), m)) gives G no gradient; the check's inputs required no gradient, so these passed
    "through NumPy": ("""
        a = x.detach().numpy()
        return torch.from_numpy(a.reshape(len(a) // m, m * a.shape[1], *a.shape[2:]))""",
                      ["carry no gradient back to x", "D(pack(G(z), m))", "x.reshape(N // m"]),
    "rebuilt with torch.tensor": ("return torch.tensor(x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:]).tolist())",
                                  ["carry no gradient back to x"]),
    "under no_grad": ("""
        with torch.no_grad():
            return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])""", ["carry no gradient back to x"]),
    # x.numpy() on a batch that requires grad raises: told the same fault, not PyTorch's words alone
    "NumPy without detach": ("return torch.from_numpy(x.numpy().reshape(len(x) // m, -1, *x.shape[2:]))",
                             ["raised RuntimeError", "requires grad", "keep x in the graph"]),
}
PACK_RIGHT = {
    "every m-th sample, side by side": "return torch.cat([x[i::m] for i in range(m)], dim=1)",
    "unflatten": "return x.unflatten(0, (-1, m)).flatten(1, 2)",
    "split and stack": "return torch.stack(x.split(m)).flatten(1, 2)",
    "view with -1": "return x.view(x.shape[0] // m, -1, *x.shape[2:])",
}


@pytest.mark.parametrize("variant", list(PACK_RIGHT))
def test_pack_right_variants_pass(variant):
    assert grade("test_pack", with_function(f"def pack(x, m):\n    {PACK_RIGHT[variant]}\n")) == (1.0, "")


@pytest.mark.parametrize("mistake", list(PACK_MISTAKES))
def test_pack_mistakes_are_named(mistake):
    body, words = PACK_MISTAKES[mistake]
    ns = with_function("def pack(x, m):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")
    earned, message = grade("test_pack", ns)
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"


def test_pack_with_a_loop_passes():
    ns = with_function("""
        def pack(x, m):
            return torch.stack([torch.cat([x[k * m + i] for i in range(m)], dim=0) for k in range(len(x) // m)])
    """)
    assert grade("test_pack", ns) == (1.0, "")


# ---- packed_d_loss --------------------------------------------------------------------------------

BCE = "F.binary_cross_entropy_with_logits"
LOSS_MISTAKES = {
    "fake unpacked": (f"""
        a, b = D(pack(real, m)), D(fake)
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.zeros_like(b))""", ["fake batch of shape (12, 2)", "pack the fake"]),
    "labels per point": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.ones(len(real))) + {BCE}(b, torch.zeros(len(fake)))""", ["one logit per pack", "one per pack"]),
    "mixed packs": (f"""
        both = D(pack(torch.stack([real, fake], dim=1).reshape(-1, 2), m))
        half = len(both) // 2
        return {BCE}(both[:half], torch.ones(half)) + {BCE}(both[half:], torch.zeros(len(both) - half))""",
                    ["mixes real and fake"]),
    "fake packed differently": (f"""
        a = D(pack(real, m))
        b = D(fake.reshape(m, -1, 2).transpose(0, 1).reshape(-1, 2 * m))
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.zeros_like(b))""", ["fake packs are not pack(fake"]),
    "averaged": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return ({BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.zeros_like(b))) / 2""", ["half", "do not average"]),
    "swapped labels": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.zeros_like(a)) + {BCE}(b, torch.ones_like(b))""", ["labels swapped"]),
    "summed over packs": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.ones_like(a), reduction="sum") + {BCE}(b, torch.zeros_like(b), reduction="sum")""",
                          ["sums over the packs"]),
    "sums divided by the number of points": ("""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return (F.softplus(-a).sum() + F.softplus(b).sum()) / real.shape[0]""",
                                             ["number of points (12) instead of the number of packs"]),
    # labels one per pack but shaped (N/m, 1): not "one per point"
    "labels per pack as a column": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.ones(len(a), 1)) + {BCE}(b, torch.zeros(len(b), 1))""",
                                    ["one logit per pack", "the logits' own shape", "ones_like"]),
    "pack size written as 2": (f"""
        a, b = D(pack(real, 2)), D(pack(fake, 2))
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.zeros_like(b))""",
                               ["with 12 real and 12 fake points: D got the real batch in packs of 2 points", "m = 3",
                                "`m` argument"]),
    "fakes labelled real": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.ones_like(b))""", ["fake packs against label 1 (real)"]),
    "the generator's loss": (f"""
        b = D(pack(fake, m))
        return {BCE}(b, torch.ones_like(b))""", ["is the generator's loss"]),
    "sigmoid before BCE with logits": (f"""
        a, b = torch.sigmoid(D(pack(real, m))), torch.sigmoid(D(pack(fake, m)))
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.zeros_like(b))""", ["applies a sigmoid to D's logits"]),
    # one call of D on the real packs and the fake packs together: the batch mixes, no pack does
    "one BCE over both batches' packs": (f"""
        logits = D(torch.cat([pack(real, m), pack(fake, m)]))
        labels = torch.cat([torch.ones(len(real) // m), torch.zeros(len(fake) // m)])
        return {BCE}(logits, labels)""", ["exactly half the expected value"]),
    "real term only": (f"""
        a = D(pack(real, m))
        return {BCE}(a, torch.ones_like(a))""", ["real packs' term only"]),
    # the right value, but D gets no gradient, or none from the fakes
    "under no_grad": (f"""
        with torch.no_grad():
            a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.zeros_like(b))""", ["right value but carries no gradient"]),
    "fake logits detached": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m)).detach()
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.zeros_like(b))""",
                             ["only the real packs' term gives D a gradient", "never D's logits"]),
    # found by session 41's red team: the check tried 12 points only, so 12 written in passed
    "batch size written in": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.ones(12 // m)) + {BCE}(b, torch.zeros(12 // m))""",
                              ["with 20 real and 20 fake points raised ValueError", "right for 12 points only"]),
    # tutorials' tricks and other GANs' losses, each named (they got the generic "returns ..., expected ...")
    "one-sided label smoothing": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.full_like(a, 0.9)) + {BCE}(b, torch.zeros_like(b))""",
                                  ["real packs against label 0.9, not 1", "label smoothing", "torch.ones_like(logits)"]),
    "fake labels smoothed": (f"""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return {BCE}(a, torch.ones_like(a)) + {BCE}(b, torch.full_like(b, 0.1))""",
                             ["fake packs against label 0.1, not 0"]),
    "WGAN critic's loss": ("return D(pack(fake, m)).mean() - D(pack(real, m)).mean()", ["WGAN critic's loss"]),
    "hinge loss": ("return F.relu(1 - D(pack(real, m))).mean() + F.relu(1 + D(pack(fake, m))).mean()", ["hinge loss"]),
    "least-squares loss": ("""
        a, b = D(pack(real, m)), D(pack(fake, m))
        return F.mse_loss(a, torch.ones_like(a)) + F.mse_loss(b, torch.zeros_like(b))""", ["least-squares (LSGAN)"]),
}
LOSS_RIGHT = {
    "BCE of the sigmoid": """
        a, b = D(pack(real, m)), D(pack(fake, m))
        return F.binary_cross_entropy(torch.sigmoid(a), torch.ones_like(a)) + F.binary_cross_entropy(torch.sigmoid(b), torch.zeros_like(b))""",
    "logsigmoid": "return -(F.logsigmoid(D(pack(real, m))).mean() + F.logsigmoid(-D(pack(fake, m))).mean())",
    # packs of m never straddle the two batches when m divides N
    "one pack of both batches, split": f"""
        logits = D(pack(torch.cat([real, fake]), m))
        k = len(real) // m
        return {BCE}(logits[:k], torch.ones(k)) + {BCE}(logits[k:], torch.zeros(len(logits) - k))""",
    "BCEWithLogitsLoss on columns": """
        loss = torch.nn.BCEWithLogitsLoss()
        a, b = D(pack(real, m)).unsqueeze(1), D(pack(fake, m)).unsqueeze(1)
        return loss(a, torch.ones(len(a), 1)) + loss(b, torch.zeros(len(b), 1))""",
}


@pytest.mark.parametrize("variant", list(LOSS_RIGHT))
def test_packed_d_loss_right_variants_pass(variant):
    body = textwrap.indent(textwrap.dedent(LOSS_RIGHT[variant]).strip("\n"), "    ")
    assert grade("test_packed_d_loss", with_function(f"def packed_d_loss(D, real, fake, m):\n{body}\n")) == (1.0, "")


@pytest.mark.parametrize("mistake", list(LOSS_MISTAKES))
def test_packed_d_loss_mistakes_are_named(mistake):
    body, words = LOSS_MISTAKES[mistake]
    ns = with_function("def packed_d_loss(D, real, fake, m):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")
    earned, message = grade("test_packed_d_loss", ns)
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"
    if mistake == "sums divided by the number of points":
        assert "half" not in message, message
    if mistake == "one BCE over both batches' packs":
        assert "mixes" not in message, message
    if mistake == "labels per pack as a column":
        assert "not one per point" not in message, message
    if mistake == "pack size written as 2":
        assert "as the other one" not in message, message


def test_packed_d_loss_through_a_wrong_pack_points_at_pack():
    """A right packed_d_loss that calls the notebook's wrong pack (torch.chunk: packs of samples from across the
    batch) is told to fix pack first, not that it packs the batches differently from its pack."""
    ns = with_function("def pack(x, m):\n    return torch.cat(torch.chunk(x, m, dim=0), dim=1)\n")
    assert grade("test_pack", ns)[0] == 0
    earned, message = grade("test_packed_d_loss", ns)
    assert earned == 0 and "are your pack(real, 2), which is not right yet" in message and "fix pack first" in message, message


def test_packed_d_loss_through_a_pack_with_a_float_size_points_at_pack():
    """Found by session 41's red team: a right packed_d_loss calling a pack that reshapes to N / m read "calling
    `packed_d_loss` raised TypeError: view() received an invalid combination of arguments"."""
    ns = with_function("def pack(x, m):\n    return x.view(x.shape[0] / m, -1)\n")
    earned, message = grade("test_packed_d_loss", ns)
    assert earned == 0 and "your pack raised TypeError" in message and "N // m" in message, message
    assert "fix pack first" in message, message


def test_packed_d_loss_that_packs_with_a_size_pack_refuses_is_not_sent_to_pack():
    """pack(real, 5) of 12 points fails in a right pack: the fault is the loss's, so pack is not blamed."""
    ns = with_function("def packed_d_loss(D, real, fake, m):\n    a, b = D(pack(real, 5)), D(pack(fake, 5))\n"
                       "    return F.softplus(-a).mean() + F.softplus(b).mean()\n")
    earned, message = grade("test_packed_d_loss", ns)
    assert earned == 0 and "fix pack first" not in message, message


def test_packed_d_loss_with_the_course_loss_passes():
    ns = with_function("""
        from reference.losses import get_loss
        def packed_d_loss(D, real, fake, m):
            return get_loss("non-saturating").d_loss(D(pack(real, m)), D(pack(fake, m)))
    """)
    assert grade("test_packed_d_loss", ns) == (1.0, "")


def test_packed_d_loss_with_one_call_of_d_on_both_batches_passes():
    ns = with_function("""
        def packed_d_loss(D, real, fake, m):
            logits = D(torch.cat([pack(real, m), pack(fake, m)]))
            labels = torch.cat([torch.ones(len(real) // m), torch.zeros(len(fake) // m)])
            return 2 * F.binary_cross_entropy_with_logits(logits, labels)
    """)
    assert grade("test_packed_d_loss", ns) == (1.0, "")


def test_packed_d_loss_with_detached_fakes_passes():
    """Detaching G's output before packing is what a D step does: D's logits still carry the gradient."""
    ns = with_function("""
        def packed_d_loss(D, real, fake, m):
            a, b = D(pack(real, m)), D(pack(fake.detach(), m))
            return F.softplus(-a).mean() + F.softplus(b).mean()
    """)
    assert grade("test_packed_d_loss", ns) == (1.0, "")


def test_packed_d_loss_that_calls_a_notebook_network_instead_of_its_argument_is_told_so():
    """A packed_d_loss that scores the packs with the notebook's own D4 instead of its argument D: the check's D
    takes other packs, and the student read torch's "mat1 and mat2 shapes cannot be multiplied"."""
    ns = namespace(STD_CELL, PACK_CELL, """
        D4 = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1), torch.nn.Flatten(0))

        def packed_d_loss(D, real, fake, m):
            logits_real, logits_fake = D4(pack(real, m)), D4(pack(fake, m))
            return (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
                    + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
    """)
    earned, message = grade("test_packed_d_loss", ns)
    assert earned == 0 and "never calls the D it is given, it calls the notebook's `D4`" in message, message
