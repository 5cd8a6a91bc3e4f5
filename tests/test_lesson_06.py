"""Tests for reference/checks/lesson_06.py (lesson 06's code-along checks) and the lesson's experiments.

The model answers are the code-along cells of solutions/lessons/06_wasserstein_gan.ipynb, run in a
fresh namespace as a kernel would; the stubs are the same cells with each solution region replaced
by `raise NotImplementedError()`, as the student gets them. Every check must pass on the model
answers and on correct variants, and fail, with a message naming the fault, on realistic wrong
answers. The experiments of reference/figures/lesson_06.py are tested on the facts the lesson states.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from reference.figures import lesson_06 as figures

from lesson_support import Lesson, stub

LESSON = Lesson("06_wasserstein_gan", torch=torch, nn=nn, np=np)
code_cell, namespace, grade = LESSON.code_cell, LESSON.namespace, LESSON.grade
CHECKS = LESSON.checks

FUNCTIONS = {"test_empirical_w1": "empirical_w1", "test_critic_estimate": "critic_estimate",
             "test_clip_weights_": "clip_weights_"}

CELLS = [code_cell(name) for name in FUNCTIONS.values()]


def with_function(source: str) -> dict:
    """The model answers with one function replaced by `source` (defined after them, as a re-run cell)."""
    return namespace(*CELLS, textwrap.dedent(source))


def function(name: str, args: str, body: str) -> str:
    return f"def {name}({args}):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


# ---- the model answers and the stubs ---------------------------------------------------------------


def test_checks_are_the_three_visible_one_point_checks():
    assert list(CHECKS) == list(FUNCTIONS)
    assert all(fn.visible and fn.points == 1 for fn in CHECKS.values())


@pytest.mark.parametrize("name", list(CHECKS))
def test_model_answer_passes(name):
    assert grade(name, namespace(*CELLS)) == (1.0, "")


@pytest.mark.parametrize("name", list(CHECKS))
def test_untouched_stub_says_not_written_yet(name):
    earned, message = grade(name, namespace(*(stub(cell) for cell in CELLS)))
    assert earned == 0
    assert f"`{FUNCTIONS[name]}` is not implemented yet" in message and "NotImplementedError" in message, message


def test_a_missing_function_is_named():
    earned, message = grade("test_clip_weights_", namespace(CELLS[0]))
    assert earned == 0 and "`clip_weights_` is not defined" in message, message


# ---- empirical_w1 ------------------------------------------------------------------------------------

W1_MISTAKES = {
    "given order": ("return (x - y).norm(dim=1).mean().item()", ["in the order", "linear_sum_assignment"]),
    "all pairs": ("return torch.cdist(x, y).mean().item()", ["every x_i to every y_j"]),
    "means": ("return (x.mean(0) - y.mean(0)).norm().item()", ["means", "lower bound"]),
    "nearest": ("return torch.cdist(x, y).min(dim=1).values.mean().item()", ["nearest", "exactly once"]),
    "squared": ("""
        cost = torch.cdist(x.double(), y.double()).pow(2).numpy()
        r, c = linear_sum_assignment(cost)
        return float(cost[r, c].mean())""", ["squared", "W2"]),
    # found by session 35's red team: the W2 matching, its plain distances averaged (told only the definition)
    "matched on squares": ("""
        r, c = linear_sum_assignment((torch.cdist(x, y) ** 2).numpy())
        return (x[r] - y[c]).norm(dim=1).mean().item()""", ["matching on squared distances", "not their squares"]),
    "sum": ("""
        cost = torch.cdist(x.double(), y.double()).numpy()
        r, c = linear_sum_assignment(cost)
        return float(cost[r, c].sum())""", ["sums", "mean"]),
    "no return": ("torch.cdist(x, y)", ["returned None"]),
    "a vector": ("return torch.cdist(x, y).min(dim=1).values", ["shape", "one number"]),
    # right in 1-D, where sorting is the optimal matching; in 2-D it pairs coordinates of different points
    "each coordinate sorted": ("return (x.sort(0).values - y.sort(0).values).norm(dim=1).mean().item()",
                               ["sorts each coordinate on its own", "only in 1-D", "linear_sum_assignment"]),
    "W2": ("""
        cost = torch.cdist(x.double(), y.double()).pow(2).numpy()
        r, c = linear_sum_assignment(cost)
        return float(np.sqrt(cost[r, c].mean()))""", ["square root of the mean squared", "W2"]),
    "most expensive matching": ("""
        cost = torch.cdist(x, y).numpy()
        r, c = linear_sum_assignment(cost, maximize=True)
        return float(cost[r, c].mean())""", ["most expensive matching", "maximize=True"]),
    "Manhattan": ("""
        cost = torch.cdist(x, y, p=1).numpy()
        r, c = linear_sum_assignment(cost)
        return float(cost[r, c].mean())""", ["Manhattan", "Euclidean"]),
    # the matching read the wrong way round; 1-D samples tie many matchings, so it is named on the 2-D samples
    "matching indexed the wrong way round": ("""
        r, c = linear_sum_assignment(torch.cdist(x, y).numpy())
        return float((x[c] - y[r]).norm(dim=1).mean())""", ["on two 2-D samples", "x[cols] against y[rows]"]),
    # scipy.stats.wasserstein_distance is 1-D: right on the 1-D samples, wrong in 2-D. Found by red-teaming the
    # checks: the first coordinate alone was told it "is the distance between the two samples' means" (on the
    # parallel lines, by coincidence), and the per-coordinate sum only that it "uses the Manhattan distance"
    "1-D W1 of the first coordinate": ("""
        from scipy.stats import wasserstein_distance
        return wasserstein_distance(x[:, 0].numpy(), y[:, 0].numpy())""",
                                       ["on two 2-D samples", "first coordinate alone", "takes 1-D samples only"]),
    "1-D W1 of the flattened samples": ("""
        from scipy.stats import wasserstein_distance
        return wasserstein_distance(x.flatten().numpy(), y.flatten().numpy())""",
                                        ["every coordinate poured into one flat sample", "takes 1-D samples only"]),
    "1-D W1 of each coordinate, summed": ("""
        from scipy.stats import wasserstein_distance
        return sum(wasserstein_distance(x[:, k].numpy(), y[:, k].numpy()) for k in range(x.shape[1]))""",
                                          ["adds up the 1-D W1 of each coordinate", "Euclidean"]),
    # found by round four of the lessons' red team: W1 is unchanged by moving both samples alike, so samples centred
    # in place gave the right number, and the caller's samples (plotted and matched again) changed: it passed
    "samples centred in place": ("""
        centre = y.mean(0)
        x -= centre
        y -= centre
        cost = torch.cdist(x.double(), y.double()).numpy()
        r, c = linear_sum_assignment(cost)
        return float(cost[r, c].mean())""", ["changed its arguments x and y in place", "x = x - centre"]),
    "rows reordered in place": ("""
        x[:] = x[x[:, 0].argsort()]
        cost = torch.cdist(x.double(), y.double()).numpy()
        r, c = linear_sum_assignment(cost)
        return float(cost[r, c].mean())""", ["changed its argument x in place"]),
}


@pytest.mark.parametrize("mistake", list(W1_MISTAKES))
def test_empirical_w1_mistakes_are_named(mistake):
    body, words = W1_MISTAKES[mistake]
    earned, message = grade("test_empirical_w1", with_function(function("empirical_w1", "x, y", body)))
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"


def test_empirical_w1_variants_pass():
    tensor_result = function("empirical_w1", "x, y", """
        cost = torch.cdist(x, y)
        r, c = linear_sum_assignment(cost.numpy())
        return cost[torch.as_tensor(r), torch.as_tensor(c)].mean()""")
    with_numpy = function("empirical_w1", "x, y", """
        a, b = x.numpy(), y.numpy()
        cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
        r, c = linear_sum_assignment(cost)
        return cost[r, c].mean()""")
    with_scipy_nd = function("empirical_w1", "x, y", """
        from scipy.stats import wasserstein_distance_nd
        return wasserstein_distance_nd(x.numpy(), y.numpy())""")
    for source in (tensor_result, with_numpy, with_scipy_nd):
        assert grade("test_empirical_w1", with_function(source)) == (1.0, "")


def test_empirical_w1_as_a_one_value_array_passes_like_a_one_value_tensor():
    """Found by the lessons 05-08 red team: a (1,) tensor was taken as its number, a (1,) NumPy array was told it
    "returned ndarray" (NumPy 2 refuses float() of an array with a dimension); a longer array is told its shape."""
    one_value = function("empirical_w1", "x, y", """
        cost = torch.cdist(x.double(), y.double()).numpy()
        r, c = linear_sum_assignment(cost)
        return np.linalg.norm(x[r].numpy() - y[c].numpy(), axis=1, keepdims=True).mean(axis=0)""")
    assert grade("test_empirical_w1", with_function(one_value)) == (1.0, "")
    earned, message = grade("test_empirical_w1", with_function(function("empirical_w1", "x, y", """
        return torch.cdist(x, y).min(dim=1).values.numpy()""")))
    assert earned == 0 and "returned an array of shape (40,)" in message and "one number" in message, message


def test_a_mistake_that_fits_one_case_by_coincidence_is_not_named():
    """The 1-D W1 of the first coordinate equals the samples' mean gap on the parallel lines, but not on the 2-D
    samples: the mistake named is the one that fits both cases it gets wrong."""
    earned, message = grade("test_empirical_w1", with_function(function("empirical_w1", "x, y", W1_MISTAKES[
        "1-D W1 of the first coordinate"][0])))
    assert earned == 0 and "means" not in message and "first coordinate" in message, message


# ---- critic_estimate ----------------------------------------------------------------------------------

ESTIMATE_MISTAKES = {
    "reversed": ("return critic(fake).mean() - critic(real).mean()", ["sign reversed"]),
    "sigmoid": ("return torch.sigmoid(critic(real)).mean() - torch.sigmoid(critic(fake)).mean()", ["sigmoid"]),
    "sum": ("return critic(real).sum() - critic(fake).sum()", ["sums", "means"]),
    "paired": ("return (critic(real)[: len(fake)] - critic(fake)).mean()", ["paired", "differ in size"]),
    # the WGAN idiom mean(D(x) - D(G(z))) raises on batches of different sizes: named, not PyTorch's size error alone
    "mean of the differences": ("return torch.mean(critic(real) - critic(fake))",
                                ["works on batches of one size", "sample by sample", "critic(real).mean() - critic(fake).mean()"]),
    "item": ("return (critic(real).mean() - critic(fake).mean()).item()", ["not a tensor", "no .item()"]),
    "detached": ("return (critic(real).mean() - critic(fake).mean()).detach()", ["no gradient"]),
    "no_grad": ("""
        with torch.no_grad():
            return critic(real).mean() - critic(fake).mean()""", ["no gradient"]),
    # the value of |estimate| equals the reversed sign here; the fault is abs(), not the order
    "absolute value": ("return (critic(real).mean() - critic(fake).mean()).abs()", ["takes the absolute value"]),
    # the right value, but only one term's gradient reaches the critic
    "fake scores detached": ("return critic(real).mean() - critic(fake).detach().mean()",
                             ["value is right", "from the real scores only", "fake scores are detached"]),
    "real scores detached": ("return critic(real).detach().mean() - critic(fake).mean()",
                             ["value is right", "from the fake scores only"]),
    # right only when the two batches have the same size
    "one batch's size": ("return (critic(real).sum() - critic(fake).sum()) / len(real)",
                         ["divides both sums by the real batch's size (64)", "its own size"]),
    "the other batch's size": ("return (critic(real).sum() - critic(fake).sum()) / fake.shape[0]",
                               ["divides both sums by the fake batch's size (48)"]),
    # the training loop backpropagates the loss; a backward() here makes the loop's second one fail
    # a step changes the parameters: that is named, not the backward() that came with it
    "optimizer step inside": ("""
        est = critic(real).mean() - critic(fake).mean()
        opt = torch.optim.SGD(critic.parameters(), lr=0.1)
        opt.zero_grad()
        (-est).backward(retain_graph=True)
        opt.step()
        return est""", ["changed the critic's parameters", "optimizer step"]),
    "backward inside": ("""
        estimate = critic(real).mean() - critic(fake).mean()
        (-estimate).backward()
        return estimate""", ["calls .backward()", "training loop"]),
    "shape (1,)": ("""
        return (critic(real).mean() - critic(fake).mean()).view(1)""", ["returned shape (1,)", "0-dim"]),
    "clips inside": ("""
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-0.01, 0.01)
        return critic(real).mean() - critic(fake).mean()""", ["changed the critic's parameters"]),
    # found by red-teaming the checks: a critic left in eval mode passed (its BatchNorm and dropout would then
    # train in eval mode)
    "eval mode inside": ("""
        critic.eval()
        return critic(real).mean() - critic(fake).mean()""", ["switched the critic to eval mode", "training loop"]),
    "the score of each batch's mean": ("""
        return (critic(real.mean(0, keepdim=True)) - critic(fake.mean(0, keepdim=True))).squeeze()""",
                                       ["mean sample", "D(mean x)", "critic(real).mean()"]),
    # found by round four of the lessons' red team: right for the (N, 1) critics the check used, broken for a critic
    # that returns (N,) scores, which the docstring allows (the course's own discriminators do)
    "column 0 of the scores": ("return critic(real)[:, 0].mean() - critic(fake)[:, 0].mean()",
                               ["returns (N,) scores", "raised IndexError", "critic(real).mean()"]),
    "sum over dim 1": ("return critic(real).sum(dim=1).mean() - critic(fake).sum(dim=1).mean()",
                       ["returns (N,) scores", "(N,) or (N, 1)"]),
    "first entry of the mean over dim 0": ("return critic(real).mean(0)[0] - critic(fake).mean(0)[0]",
                                           ["returns (N,) scores"]),
}


@pytest.mark.parametrize("mistake", list(ESTIMATE_MISTAKES))
def test_critic_estimate_mistakes_are_named(mistake):
    body, words = ESTIMATE_MISTAKES[mistake]
    earned, message = grade("test_critic_estimate", with_function(function("critic_estimate", "critic, real, fake", body)))
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"
    if mistake == "absolute value":
        assert "sign reversed" not in message, message


def test_critic_estimate_with_the_course_loss_passes():
    source = function("critic_estimate", "critic, real, fake", """
        from reference.losses import WGAN
        return -WGAN().d_loss(critic(real).view(-1), critic(fake).view(-1))""")
    assert grade("test_critic_estimate", with_function(source)) == (1.0, "")


# ---- clip_weights_ --------------------------------------------------------------------------------------

CLIP_MISTAKES = {
    "not in place": ("""
        for p in critic.parameters():
            p = p.clamp(-c, c)""", ["no parameter of the critic changed", "clamp_"]),
    # found by session 35's red team: told "p = p.clamp(-c, c) makes a new tensor", which the answer does not do
    "a copy clipped": ("""
        import copy
        critic = copy.deepcopy(critic)
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-c, c)
        return critic""", ["no parameter of the critic changed", "a copy", "copy.deepcopy"]),
    # found by session 35's red team: told that the BatchNorm's parameters sit in a nested block critic.children() does
    # not reach, though modules() reached the nested Linear
    "linear layers only": ("""
        with torch.no_grad():
            for m in critic.modules():
                if isinstance(m, nn.Linear):
                    m.weight.clamp_(-c, c)
                    m.bias.clamp_(-c, c)""", ["0.1.weight, 0.1.bias (BatchNorm1d) are not clipped", "critic.parameters()"]),
    "weights only": ("""
        with torch.no_grad():
            for name, p in critic.named_parameters():
                if name.endswith("weight"):
                    p.clamp_(-c, c)""", ["bias", "not clipped", "biases included"]),
    "one side": ("""
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(max=c)""", ["below -c", "both sides"]),
    "zero to c": ("""
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(0, c)""", ["[0, c]"]),
    "gradients": ("""
        for p in critic.parameters():
            p.grad.clamp_(-c, c)""", ["gradients, not the weights"]),
    "new parameters": ("""
        for module in critic.modules():
            for name, p in list(module.named_parameters(recurse=False)):
                setattr(module, name, nn.Parameter(p.detach().clamp(-c, c)))""", ["new tensors", "optimizer"]),
    "buffers too": ("""
        with torch.no_grad():
            for t in list(critic.parameters()) + list(critic.buffers()):
                if t.is_floating_point():
                    t.clamp_(-c, c)""", ["running statistics", "buffers"]),
    "state_dict": ("""
        with torch.no_grad():
            for t in critic.state_dict().values():
                if t.is_floating_point():
                    t.clamp_(-c, c)""", ["running statistics"]),
    "detached": ("""
        for p in critic.parameters():
            p.requires_grad_(False)
            p.clamp_(-c, c)""", ["no longer require gradients"]),
    # the integer buffer num_batches_tracked cannot be clamped to a float range: it raises part way
    "state_dict, integers too": ("""
        with torch.no_grad():
            for t in critic.state_dict().values():
                t.clamp_(-c, c)""", ["raised RuntimeError", "buffers", "num_batches_tracked", "critic.parameters()"]),
    "no no_grad": ("""
        for p in critic.parameters():
            p.clamp_(-c, c)""", ["leaf Variable", "torch.no_grad()"]),
    "top-level modules only": ("""
        with torch.no_grad():
            for module in critic.children():
                for name in ("weight", "bias"):
                    if getattr(module, name, None) is not None:
                        getattr(module, name).clamp_(-c, c)""", ["nested", "critic.children()", "critic.parameters()"]),
    "bounds swapped": ("""
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(c, -c)""", ["bounds are swapped", "clamp_(-c, c)"]),
    # the WGAN paper's c written in (found by session 37's red team: told only the values)
    "a fixed bound": ("""
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-0.01, 0.01)""", ["clipped to [-0.01, 0.01], not to [-c, c]", "p.clamp_(-c, c)"]),
    # found by red-teaming the checks: the check's own c written in passed, as the check called it with one c only
    "the check's c written in": ("""
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-0.05, 0.05)""", ["with c = 0.12 it clips to [-0.05, 0.05]", "fits one c only", "p.clamp_(-c, c)"]),
    # found by red-teaming the checks: told "critic.children() does not reach" a nested block, not that it
    # clipped one layer only
    "last layer only": ("""
        with torch.no_grad():
            for p in critic[-1].parameters():
                p.clamp_(-c, c)""", ["the layers `0.0`, `0.1`, `1` are not clipped at all", "critic.parameters()"]),
    "first block only": ("""
        with torch.no_grad():
            for p in critic[0].parameters():
                p.clamp_(-c, c)""", ["the layers `1`, `3` are not clipped at all"]),
    # every value moved to +-c: the message shows a value it changed, not three values that happen to be right
    "every value set to +-c": ("""
        with torch.no_grad():
            for p in critic.parameters():
                p.copy_(torch.sign(p) * c)""", ["was 0.02634 and is now 0.05, expected 0.02634", "leave the ones inside"]),
}


@pytest.mark.parametrize("mistake", list(CLIP_MISTAKES))
def test_clip_weights_mistakes_are_named(mistake):
    body, words = CLIP_MISTAKES[mistake]
    earned, message = grade("test_clip_weights_", with_function(function("clip_weights_", "critic, c", body)))
    assert earned == 0, f"{mistake} passed"
    assert all(w in message for w in words), f"{mistake}: {message}"
    if mistake == "last layer only":
        assert "children()" not in message, message


def test_clip_weights_variants_pass():
    with_data = function("clip_weights_", "critic, c", """
        for p in critic.parameters():
            p.data.clamp_(-c, c)
        return critic""")
    with_course = function("clip_weights_", "critic, c", """
        from reference.losses import WGAN
        WGAN(clip=c).after_d_step(critic)""")
    data_replaced = function("clip_weights_", "critic, c", """
        for p in critic.parameters():
            p.data = p.data.clamp(-c, c)""")
    each_module = function("clip_weights_", "critic, c", """
        with torch.no_grad():
            for m in critic.modules():
                for p in m.parameters(recurse=False):
                    p.copy_(torch.clamp(p, min=-c, max=c))""")
    for source in (with_data, with_course, data_replaced, each_module):
        assert grade("test_clip_weights_", with_function(source)) == (1.0, "")


# ---- the lesson's experiments ---------------------------------------------------------------------------


def test_strip_jsd_is_log_2_once_the_strips_part_and_matches_scipy():
    from scipy.spatial.distance import jensenshannon

    assert figures.strip_jsd(0.0, 0.05) == 0.0
    for theta in (0.052, 0.3, -0.9):  # apart by more than one grid cell (0.0015)
        assert figures.strip_jsd(theta, 0.05) == pytest.approx(math.log(2), abs=1e-12)
    edges = np.linspace(-1.5, 1.5, 2001)
    mass = lambda c: np.clip(np.minimum(edges[1:], c + 0.025) - np.maximum(edges[:-1], c - 0.025), 0, None) / 0.05
    assert figures.strip_jsd(0.02, 0.05) == pytest.approx(jensenshannon(mass(0.0), mass(0.02)) ** 2, abs=1e-9)
    assert 0 < figures.strip_jsd(0.02, 0.05) < math.log(2)


def test_empirical_w1_of_parallel_lines_and_translations():
    real, fake = figures.parallel_lines(0.5, 300)
    assert figures.empirical_w1(real, fake) == pytest.approx(0.5, abs=0.01)
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    assert figures.empirical_w1(x, x + torch.tensor([0.3, 0.4])) == pytest.approx(0.5, abs=1e-6)  # a shift costs its length
    with pytest.raises(ValueError, match="same shape"):
        figures.empirical_w1(x, x[:10])


def test_generator_gradients_vanish_for_the_logistic_d_and_not_for_the_critic():
    grads = figures.generator_gradients(theta=0.5, steps=250, every=125)
    assert list(grads["steps"]) == [0, 125, 250]
    assert grads["minimax"][-1] < 0.1 * grads["minimax"].max()
    assert grads["critic"][-1] > 0.5
    again = figures.generator_gradients(theta=0.5, steps=250, every=125)
    assert np.array_equal(grads["critic"], again["critic"]) and grads["estimate"] == again["estimate"]  # seeded


def test_train_critic_clipping_pins_weights_and_the_penalty_pins_gradient_norms():
    real, fake = figures.ring_vs_centre(256)
    clip = figures.train_critic(real, fake, "clip", steps=100)
    assert clip["weights"].abs().max() <= figures.CRITIC["clip"] + 1e-9
    assert (clip["weights"].abs() > 0.99 * figures.CRITIC["clip"]).float().mean() > 0.5
    gp = figures.train_critic(real, fake, "gp", steps=100)
    assert gp["grad_norms"].mean() > 10 * clip["grad_norms"].mean()
    assert gp["estimate"] > 10 * clip["estimate"] > 0
    with pytest.raises(ValueError, match="'clip' or 'gp'"):
        figures.train_critic(real, fake, "spectral", steps=1)


def test_read_metrics_skips_empty_cells(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,loss_d,fid\n1,0.5,\n2,0.25,100.5\n")
    assert figures.read_metrics(tmp_path / "metrics.csv") == [{"epoch": 1.0, "loss_d": 0.5},
                                                              {"epoch": 2.0, "loss_d": 0.25, "fid": 100.5}]
