"""Tests for reference/checks/lesson_07.py and reference/figures/lesson_07.py: lesson 07's checks and figures.

The model answers are the code-along cells of solutions/lessons/07_conditional_gan.ipynb, run in a
fresh namespace as a kernel would; the stubs are the same cells with each solution region replaced
by `raise NotImplementedError()`, as the student gets them. Every check must pass on the model
answers and on correct variants, and fail, with a message naming the fault, on each realistic
wrong answer.
"""

from __future__ import annotations

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lesson_support import Lesson, stub

LESSON = Lesson("07_conditional_gan", torch=torch, F=F, nn=nn)
code_cell, namespace, grade = LESSON.code_cell, LESSON.namespace, LESSON.grade
CHECKS = LESSON.checks

CELLS = [code_cell("one_hot_input"), code_cell("label_planes"), code_cell("projection_score")]


def with_function(source: str) -> dict:
    """The model answers with one function replaced by `source` (defined after them, as a re-run cell)."""
    return namespace(*CELLS, source)


# ---- the model answers and the stubs ---------------------------------------------------------------


def test_checks_are_the_three_visible_one_point_checks():
    assert list(CHECKS) == ["test_one_hot_input", "test_label_planes", "test_projection_score"]
    assert all(fn.visible and fn.points == 1 for fn in CHECKS.values())


@pytest.mark.parametrize("name", list(CHECKS))
def test_model_answer_passes(name):
    assert grade(name, namespace(*CELLS)) == (1.0, "")


@pytest.mark.parametrize("name, function", [("test_one_hot_input", "one_hot_input"), ("test_label_planes", "label_planes"),
                                            ("test_projection_score", "projection_score")])
def test_untouched_stub_says_not_written_yet(name, function):
    earned, message = grade(name, namespace(*map(stub, CELLS)))
    assert earned == 0
    assert f"`{function}` is not implemented yet" in message and "NotImplementedError" in message, message


def test_a_missing_function_is_named():
    earned, message = grade("test_label_planes", namespace(CELLS[0]))
    assert earned == 0 and "`label_planes` is not defined" in message, message


# ---- one_hot_input ---------------------------------------------------------------------------------

ONE_HOT_RIGHT = {
    "scatter": """
        def one_hot_input(z, y, K):
            codes = torch.zeros(len(y), K, dtype=z.dtype).scatter_(1, y.view(-1, 1), 1.0)
            return torch.cat((z, codes), 1)""",
    "eye": "def one_hot_input(z, y, K):\n    return torch.hstack([z, torch.eye(K)[y]])",
    # torch.cat promotes the int64 code to z's floating dtype
    "int64 code promoted by cat": "def one_hot_input(z, y, K):\n    return torch.cat((z, F.one_hot(y, K)), dim=1)",
    "index assignment": """
        def one_hot_input(z, y, K):
            code = torch.zeros(len(y), K)
            code[torch.arange(len(y)), y] = 1
            return torch.cat([z, code], 1)""",
}
ONE_HOT_WRONG = {
    "label first": ("return torch.cat([F.one_hot(y, K).float(), z], dim=1)", ["first", "z first"]),
    "K guessed": ("return torch.cat([z, F.one_hot(y).float()], dim=1)", ["y.max() + 1", "F.one_hot(y, K)"]),
    # the same shape on the check's labels (whose largest is 8), but K - 1 is written in, not guessed
    "K - 1 classes": ("return torch.cat([z, F.one_hot(y, K - 1).float()], dim=1)",
                      ["9 classes, one too few", "K = 10 columns"]),
    "label as a number": ("return torch.cat([z, y.float().view(-1, 1)], dim=1)", ["as one number", "one-hot"]),
    "long dtype": ("return torch.cat([z.long(), F.one_hot(y, K)], dim=1)", ["dtype", "floating point"]),
    "4-d": ("return torch.cat([z, F.one_hot(y, K).float()], dim=1).view(len(z), -1, 1, 1)", ["2-D"]),
    "signed code": ("return torch.cat([z, 2 * F.one_hot(y, K).float() - 1], dim=1)", ["{-1, 1}"]),
    "wrong column": ("return torch.cat([z, F.one_hot((y + 1) % K, K).float()], dim=1)", ["one_hot(y[i], 10)"]),
    "z changed": ("return torch.cat([torch.tanh(z), F.one_hot(y, K).float()], dim=1)", ["z itself"]),
    # found by session 35's red team: right for the lesson's 10 digits only (the check called it with K = 10 alone)
    "10 written in": ("return torch.cat([z, F.one_hot(y, 10).to(z.dtype)], dim=1)",
                      ["one_hot_input(z, y, 7) returns shape (6, 15), expected (6, 12)", "the K it is given"]),
    # the whole input cast to float32: right for the float32 z of training, wrong for a float64 z
    "cast to float32": ("return torch.cat([z, F.one_hot(y, K)], dim=1).float()",
                        ["with a float64 z returns dtype torch.float32", "F.one_hot(y, K).to(z.dtype)"]),
    # torch.cat's default dim 0 (found by session 37's red team: PyTorch's error alone)
    "joined along dim 0": ("return torch.cat([z, F.one_hot(y, K).to(z.dtype)])",
                           ["Sizes of tensors must match except in dimension 0", "torch.cat joins along dim 0", "dim=1"]),
    # a float64 code (np.eye, .double()) makes torch.cat's result float64, which G's float32 layers refuse
    "float64 code": ("import numpy as np\n    return torch.cat([z, torch.from_numpy(np.eye(K))[y]], dim=1)",
                     ["dtype torch.float64, but z is torch.float32", ".to(z.dtype)"]),
    # found by session 41's red team: the right input, but the caller's labels become (N, 1) (the check passed copies)
    "y changed in place": ("return torch.cat([z, torch.zeros(len(y), K, dtype=z.dtype).scatter_(1, y.unsqueeze_(1), 1.0)], 1)",
                           ["changes its input y in place", "(6,) became (6, 1)", "y.unsqueeze(1)"]),
}


@pytest.mark.parametrize("variant", list(ONE_HOT_RIGHT))
def test_one_hot_input_right_variants_pass(variant):
    assert grade("test_one_hot_input", with_function(ONE_HOT_RIGHT[variant])) == (1.0, "")


@pytest.mark.parametrize("mistake", list(ONE_HOT_WRONG))
def test_one_hot_input_mistakes_are_named(mistake):
    body, words = ONE_HOT_WRONG[mistake]
    earned, message = grade("test_one_hot_input", with_function(f"def one_hot_input(z, y, K):\n    {body}\n"))
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"


# ---- label_planes ----------------------------------------------------------------------------------

PLANES_RIGHT = {
    "repeat": "def label_planes(y, K, H, W):\n    return F.one_hot(y, K)[:, :, None, None].repeat(1, 1, H, W).float()",
    "loop": """
        def label_planes(y, K, H, W):
            out = torch.zeros(len(y), K, H, W)
            for i, label in enumerate(y):
                out[i, label] = 1
            return out""",
    "index assignment": """
        def label_planes(y, K, H, W):
            out = torch.zeros(len(y), K, H, W)
            out[torch.arange(len(y)), y] = 1
            return out""",
    "channels-last permuted": "def label_planes(y, K, H, W):\n"
                              "    return F.one_hot(y, K).float().view(-1, 1, 1, K).expand(-1, H, W, K).permute(0, 3, 1, 2)",
    "scatter": "def label_planes(y, K, H, W):\n"
               "    return torch.zeros(len(y), K, H, W).scatter_(1, y.view(-1, 1, 1, 1).expand(-1, 1, H, W), 1.0)",
}
PLANES_WRONG = {
    "no planes": ("return F.one_hot(y, K).float()", ["(N, K) only", "H x W plane"]),
    "1x1": ("return F.one_hot(y, K).float().view(-1, K, 1, 1)", ["expand or repeat"]),
    "channels last": ("return F.one_hot(y, K).float().view(-1, 1, 1, K).expand(-1, H, W, K)", ["channels-last"]),
    "H and W swapped": ("return F.one_hot(y, K).float().view(-1, K, 1, 1).expand(-1, K, W, H)", ["swapped"]),
    "K guessed": ("c = F.one_hot(y).float()\n    return c.view(len(y), -1, 1, 1).expand(-1, c.shape[1], H, W)",
                  ["guessed K = y.max() + 1", "pass the number of classes"]),
    "K - 1 planes": ("return F.one_hot(y, K - 1).float()[:, :, None, None].expand(-1, -1, H, W)",
                     ["9 planes, one too few", "K = 10 planes"]),
    "value plane": ("return y.float().view(-1, 1, 1, 1).expand(-1, 1, H, W)", ["one plane", "K planes"]),
    "long dtype": ("return F.one_hot(y, K).view(-1, K, 1, 1).expand(-1, K, H, W)", ["dtype", ".float()"]),
    "inverted": ("return 1 - F.one_hot(y, K).float().view(-1, K, 1, 1).expand(-1, K, H, W)", ["inverted"]),
    "signed": ("return 2 * F.one_hot(y, K).float().view(-1, K, 1, 1).expand(-1, K, H, W) - 1", ["{-1, 1}"]),
    "wrong plane": ("return F.one_hot((y + 1) % K, K).float().view(-1, K, 1, 1).expand(-1, K, H, W)", ["plane y[i]"]),
    # found by session 35's red team: right for the lesson's 10 digits only
    "10 written in": ("return F.one_hot(y, 10).float().view(-1, 10, 1, 1).expand(-1, 10, H, W)",
                      ["label_planes(y, 7, 6, 4) returns shape (5, 10, 6, 4), expected (5, 7, 6, 4)", "the K it is given"]),
    # a view/reshape that does not move the code's values into planes: each sample's H * W ones land in many planes
    "repeated code viewed": ("return F.one_hot(y, K).float().repeat(1, H * W).view(-1, K, H, W)",
                             ["scattered over several planes", ".view(N, K, 1, 1)"]),
    "channels last reshaped": ("return F.one_hot(y, K).float().view(-1, 1, 1, K).expand(-1, H, W, K).reshape(-1, K, H, W)",
                               ["scattered over several planes", ".permute(0, 3, 1, 2)"]),
    # float64 planes make torch.cat([x, planes]) float64, which D's float32 layers refuse
    "float64 planes": ("return F.one_hot(y, K).double()[:, :, None, None].repeat(1, 1, H, W)",
                       ["dtype torch.float64", "D's torch.float32 layers refuse", ".float()"]),
    # found by session 41's red team: out[:, y] = 1 sets planes y[j] of every sample, not each sample's own
    "every label's plane in every sample": ("out = torch.zeros(len(y), K, H, W)\n    out[:, y] = 1\n    return out",
                                            ["planes of all the batch's labels [1, 3, 4, 5]", "out[torch.arange(N), y] = 1"]),
    "labels reordered": ("return F.one_hot(y.flip(0), K).float().view(-1, K, 1, 1).expand(-1, K, H, W)",
                         ["sample 0 (label 4) has plane 1 set", "another sample's label"]),
    "y changed in place": ("c = torch.zeros(len(y), K).scatter_(1, y.unsqueeze_(1), 1.0)\n"
                           "    return c.view(-1, K, 1, 1).expand(-1, K, H, W)",
                           ["changes its input y in place", "(5,) became (5, 1)"]),
}


@pytest.mark.parametrize("variant", list(PLANES_RIGHT))
def test_label_planes_right_variants_pass(variant):
    assert grade("test_label_planes", with_function(PLANES_RIGHT[variant])) == (1.0, "")


@pytest.mark.parametrize("mistake", list(PLANES_WRONG))
def test_label_planes_mistakes_are_named(mistake):
    body, words = PLANES_WRONG[mistake]
    earned, message = grade("test_label_planes", with_function(f"def label_planes(y, K, H, W):\n    {body}\n"))
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"


# ---- projection_score ------------------------------------------------------------------------------

PROJ_RIGHT = {
    "squeeze and einsum": "def projection_score(phi, psi, embed, y):\n    return psi(phi).squeeze(1) + torch.einsum('nf,nf->n', embed(y), phi)",
    "weight rows": "def projection_score(phi, psi, embed, y):\n    return (psi(phi) + (embed.weight[y] * phi).sum(1, keepdim=True)).view(-1)",
    # nn.Embedding's public attributes are there: the check passes a real embedding
    "one-hot times the weight": "def projection_score(phi, psi, embed, y):\n"
                                "    e = F.one_hot(y, embed.num_embeddings).float() @ embed.weight\n"
                                "    return psi(phi).view(-1) + (e * phi).sum(1)",
    "F.embedding with its attributes": "def projection_score(phi, psi, embed, y):\n"
                                       "    assert embed.embedding_dim == phi.shape[1] and embed.padding_idx is None\n"
                                       "    e = F.embedding(y, embed.weight, max_norm=embed.max_norm)\n"
                                       "    return psi(phi).view(-1) + (e * phi).sum(1)",
    "batched matrix product": "def projection_score(phi, psi, embed, y):\n"
                              "    return psi(phi).flatten() + torch.bmm(embed(y).unsqueeze(1), phi.unsqueeze(2)).view(-1)",
    "vecdot": "def projection_score(phi, psi, embed, y):\n    return psi(phi)[:, 0] + torch.linalg.vecdot(embed(y), phi)",
    "a loop over the samples": """
        def projection_score(phi, psi, embed, y):
            return torch.stack([psi(phi[i:i + 1]).view(()) + torch.dot(embed(y[i:i + 1])[0], phi[i])
                                for i in range(len(y))])""",
    "one-hot of the embedding's own size": "def projection_score(phi, psi, embed, y):\n"
                                           "    e = F.one_hot(y, embed.weight.shape[0]).float() @ embed.weight\n"
                                           "    return psi(phi).view(-1) + (e * phi).sum(1)",
}
PROJ_WRONG = {
    "broadcast": ("return psi(phi) + (embed(y) * phi).sum(dim=1)", ["broadcast", ".view(-1)"]),
    "every class": ("return psi(phi) + phi @ embed.weight.T", ["one score per class", "embed(y)"]),
    "keepdim": ("return psi(phi) + (embed(y) * phi).sum(dim=1, keepdim=True)", ["(N,)"]),
    "batch sum": ("return psi(phi).sum() + (embed(y) * phi).sum()", ["one number", "sum(dim=1)"]),
    # the inner products summed over the batch, psi's kept per sample: the right shape, one shared projection term
    "projection summed over the batch": ("return psi(phi).view(-1) + (embed(y) * phi).sum()",
                                         ["sums the inner products over the batch too", "sum(dim=1)"]),
    # right for N = 6; at N = 1, .squeeze() drops the batch's dimension too
    "squeezed": ("return (psi(phi) + (embed(y) * phi).sum(dim=1, keepdim=True)).squeeze()", ["N = 1", "shape ()", ".view(-1)"]),
    "psi only": ("return psi(phi).view(-1)", ["psi(phi) only"]),
    "projection only": ("return (embed(y) * phi).sum(dim=1)", ["projection term only"]),
    "minus": ("return psi(phi).view(-1) - (embed(y) * phi).sum(dim=1)", ["subtracts"]),
    "mean": ("return psi(phi).view(-1) + (embed(y) * phi).mean(dim=1)", ["averages"]),
    "sigmoid": ("return torch.sigmoid(psi(phi).view(-1) + (embed(y) * phi).sum(dim=1))", ["sigmoid"]),
    "one-hot into embed": ("return psi(phi).view(-1) + (embed(F.one_hot(y, 10)) * phi).sum(dim=1)", ["embed(y)"]),
    "other label": ("return psi(phi).view(-1) + (embed((y + 1) % 10) * phi).sum(dim=1)", ["own label"]),
    "matrix product": ("return psi(phi).view(-1) + embed(y) @ phi.T",
                       ["whose diagonal is the answer", "matrix product", "(embed(y) * phi).sum(dim=1)"]),
    "matrix product, phi first": ("return psi(phi) + phi @ embed(y).T", ["whose diagonal is the answer"]),
    # the (N, N) product flattened to N * N values: PyTorch's size error, named
    "matrix product, flattened": ("return psi(phi).view(-1) + (embed(y) @ phi.T).view(-1)",
                                  ["N * N = 36 values", "matrix product", "(embed(y) * phi).sum(dim=1)"]),
    "all outer": ("return psi(phi).view(-1) + (embed(y) @ phi.T).sum(dim=1)", ["psi(phi).view(-1) + (embed(y) * phi).sum(dim=1)"]),
    # the right value, but a part of D gets no gradient from it
    "embedding detached": ("return psi(phi).view(-1) + (embed(y).detach() * phi).sum(dim=1)",
                           ["value is right", "no gradient reaches the class embedding"]),
    "psi under no_grad": ("return psi(phi).detach().view(-1) + (embed(y) * phi).sum(dim=1)",
                          ["value is right", "no gradient reaches psi's weights"]),
    "phi detached in the projection": ("return psi(phi).view(-1) + (embed(y) * phi.detach()).sum(dim=1)",
                                       ["value is right", "gradient with respect to phi"]),
    "no gradient at all": ("return (psi(phi).view(-1) + (embed(y) * phi).sum(dim=1)).detach()",
                           ["value is right but it carries no gradient"]),
    # found by session 41's red team: each got only the generic "returns ..., expected ..." or passed
    "a new embedding at each call": ("e = nn.Embedding(10, phi.shape[1])\n    return psi(phi).view(-1) + (e(y) * phi).sum(1)",
                                     ["other logits on a second call with the same inputs", "use the embed it is given"]),
    "labels reordered": ("return psi(phi).view(-1) + (embed(y.flip(0)) * phi).sum(dim=1)",
                         ["another sample's label", "sample 0 (label 5) is scored with embed(7)", "own label"]),
    "labels shuffled at random": ("return psi(phi).view(-1) + (embed(y[torch.randperm(len(y))]) * phi).sum(dim=1)",
                                  ["another sample's label"]),
    "label shifted down": ("return psi(phi).view(-1) + (embed((y - 1) % 10) * phi).sum(dim=1)",
                           ["embedding of another label", "sample 0 (label 5) is scored with embed(4)"]),
    "10 classes written in": ("return psi(phi).view(-1) + ((F.one_hot(y, 10).float() @ embed.weight) * phi).sum(1)",
                              ["nn.Embedding(7, F) of 7 classes", "embed.num_embeddings"]),
    "y changed in place": ("y.unsqueeze_(1)\n    return psi(phi).view(-1) + (embed(y).squeeze(1) * phi).sum(1)",
                           ["changes its input y in place", "(6,) became (6, 1)"]),
    "phi changed in place": ("phi.mul_(embed(y).detach().sign())\n    return psi(phi).view(-1) + (embed(y).abs() * phi).sum(1)",
                             ["changes its input phi in place"]),
    # |<e, phi>| does not change when embed is negated: the check re-draws embed's vectors instead
    "absolute inner product": ("return psi(phi).view(-1) + (embed(y) * phi).sum(dim=1).abs()",
                               ["psi(phi).view(-1) + (embed(y) * phi).sum(dim=1)"]),
}


@pytest.mark.parametrize("variant", list(PROJ_RIGHT))
def test_projection_score_right_variants_pass(variant):
    assert grade("test_projection_score", with_function(PROJ_RIGHT[variant])) == (1.0, "")


@pytest.mark.parametrize("mistake", list(PROJ_WRONG))
def test_projection_score_mistakes_are_named(mistake):
    body, words = PROJ_WRONG[mistake]
    earned, message = grade("test_projection_score", with_function(f"def projection_score(phi, psi, embed, y):\n    {body}\n"))
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"
    if mistake.startswith("matrix product"):
        assert "psi returns (N, 1)" not in message, message
    if mistake == "absolute inner product":
        assert "stays the same" not in message, message


PROJ_GLOBALS = """
    from reference.models.conditional import ProjectionDiscriminator
    torch.manual_seed(0)
    D = ProjectionDiscriminator(ndf={ndf}, channels=1, size=28, num_classes=10).eval()
    def projection_score(phi, psi, embed, y):
        return psi(phi).view(-1) + (D.embed(y) * phi).sum(dim=1)
"""


@pytest.mark.parametrize("ndf, words", [
    (64, ["never uses the embed it is given, it reads the notebook's `D`", "embed(y)"]),  # the notebook's D: F = 4096
    (8, ["stays the same when the vectors of the embed it is given change", "embed(y)"]),  # the check's sizes
])
def test_projection_score_with_a_notebook_embedding_is_told_to_use_its_argument(ndf, words):
    """Found by session 41's red team: D.embed(y) of the notebook's D (cell 15 builds one) in place of the argument
    gave PyTorch's size error, or the generic message."""
    earned, message = grade("test_projection_score", namespace(*CELLS, PROJ_GLOBALS.format(ndf=ndf)))
    assert earned == 0 and all(w in message for w in words), message


# ---- the figures' helpers ----------------------------------------------------------------------------


def test_sweeps_use_the_same_noise_down_a_column_and_the_asked_labels(monkeypatch):
    """class_sweep feeds G's inner DCGAN z_j with one_hot(y) in row y; across classes mixes two codes."""
    matplotlib.use("Agg")
    from reference.figures import lesson_07 as figures
    from reference.models.conditional import ConditionalGenerator

    torch.manual_seed(0)
    G = ConditionalGenerator(nz=6, ngf=4, channels=1, size=28, num_classes=10)
    seen, modes = [], []
    inner = G.net.forward
    monkeypatch.setattr(G.net, "forward", lambda x: seen.append(x.clone()) or modes.append(G.net.training) or inner(x))
    figures.class_sweep(G, 6, columns=3)
    x = seen.pop()
    assert x.shape == (30, 16) and modes == [False] and G.training, "G in eval mode while drawing, then as it was"
    assert torch.equal(x[:, 6:], F.one_hot(torch.arange(10).repeat_interleave(3), 10).float())
    assert torch.equal(x[0:3, :6], x[27:30, :6]) and not torch.equal(x[0, :6], x[1, :6])
    figures.interpolation_across_classes(G, 6, pairs=((1, 7),), steps=5)
    x = seen.pop()
    assert torch.equal(x[:, :6], x[:1, :6].expand(5, 6)), "z is fixed along the row"
    assert torch.allclose(x[2, 6:], 0.5 * F.one_hot(torch.tensor(1), 10) + 0.5 * F.one_hot(torch.tensor(7), 10))
    figures.interpolation_within_class(G, 6, digits=(4,), steps=5)
    x = seen.pop()
    assert torch.equal(x[:, 6:], F.one_hot(torch.full((5,), 4), 10).float())
    assert torch.allclose(x[2, :6], (x[0, :6] + x[4, :6]) / 2, atol=1e-6), "z moves on a straight line"
