"""Checks of lesson 06's code-along places: the exact W1 of two samples, the critic's estimate of W
and weight clipping.

The student writes `empirical_w1`, `critic_estimate` and `clip_weights_` in
solutions/lessons/06_wasserstein_gan.ipynb; each check calls them on seeded inputs it chooses and
compares with an oracle that does not share the student's formula: the sorted 1-D samples and
`reference.figures.lesson_06.empirical_w1` for W1, `reference.losses.WGAN.d_loss` for the estimate,
`reference.losses.WGAN.after_d_step` for clipping. A wrong answer that matches a common mistake
(samples paired in their given order, samples changed in place, every pair averaged, squared distances, the 1-D W1 of
scipy.stats.wasserstein_distance, the sign reversed, a sigmoid, real and fake scores paired sample by
sample, a detached number, the critic switched to eval mode, a copy clipped instead of the weights, some
layers skipped, a bound written in that fits the check's c only, scores indexed as (N, 1) when a critic may return
(N,)...) gets that mistake's message; of the
mistakes that explain W1's wrong values, the one that explains the most of them is named.

Points: empirical_w1 1, critic_estimate 1, clip_weights_ 1 = 3.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor, nn

from reference.figures.lesson_06 import empirical_w1 as reference_w1
from reference.figures.lesson_06 import parallel_lines
from reference.grading.checks import check
from reference.losses import WGAN

ASSIGNMENT = "lesson_06"
TOL = dict(rtol=1e-4, atol=1e-6)


def _number(value: object, call: str) -> float:
    if value is None:
        raise AssertionError(f"{call} returned None: is its `return` missing?")
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise AssertionError(f"{call} returned a tensor of shape {tuple(value.shape)}; return one number")
        return float(value.detach().double())
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":  # like a tensor: one value in any shape (NumPy 2 refuses float() of a (1,) array)
        if value.size != 1:
            raise AssertionError(f"{call} returned an array of shape {value.shape}; return one number")
        return float(value.reshape(()))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AssertionError(f"{call} returned {type(value).__name__}; return one number (a float)") from None


def _near(a: float, b: float, rtol: float = TOL["rtol"], atol: float = TOL["atol"]) -> bool:
    return abs(a - b) <= atol + rtol * abs(b)


def _near_w1(a: float, b: float) -> bool:
    """Float32 distances (torch.cdist's matrix-product formula) are good to about 1e-4 here."""
    return _near(a, b, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# The exact W1 of two equal-size samples
# ---------------------------------------------------------------------------------------------


def _w1_mistakes(x: Tensor, y: Tensor, got: float) -> list[str]:
    """The messages of the known mistakes that give `got` on x, y (N, d), in the order they are tried."""
    x, y = x.double(), y.double()
    dist = torch.cdist(x, y)
    candidates = [
        ("pairs x_i with y_i, in the order the samples come: the pairing must be the cheapest one (an assignment "
         "problem: scipy.optimize.linear_sum_assignment on the (N, N) distance matrix)", (x - y).norm(dim=1).mean()),
        ("averages the distance of every x_i to every y_j (the independent coupling): match each x_i to one y_j, "
         "the cheapest one-to-one matching", dist.mean()),
        ("is the distance between the two samples' means, a lower bound on W1: transport each point, the cheapest "
         "one-to-one matching of the two samples", (x.mean(0) - y.mean(0)).norm()),
        ("matches each x_i to its nearest y_j, so several x_i may share one y_j: each y_j must be used exactly once "
         "(a permutation, linear_sum_assignment)", dist.min(dim=1).values.mean()),
    ]
    rows_cols = _assignment(dist.pow(2))
    candidates.append(("uses squared distances: W1 moves mass at cost ||x - y||, not ||x - y||^2 (that is W2^2)",
                       dist.pow(2)[rows_cols].mean()))
    candidates.append(("finds the matching on squared distances (the cheapest for W2), then averages its plain "
                       "distances: W1's matching is the one cheapest in ||x - y|| itself, so solve the assignment on "
                       "the distances, not their squares", dist[rows_cols].mean()))
    candidates.append(("sums the matched distances: W1 is their mean (each point carries mass 1/N)",
                       dist[_assignment(dist)].sum()))
    candidates.append(("is the square root of the mean squared matched distance, W2: W1 is the mean of the distances "
                       "||x_i - y_s(i)|| themselves, no squares and no square root", dist.pow(2)[rows_cols].mean().sqrt()))
    rows, cols = _assignment(dist)
    candidates.append(("indexes the matching the wrong way round, x[cols] against y[rows]: linear_sum_assignment pairs "
                       "x[rows[k]] with y[cols[k]], so take cost[rows, cols] (or x[rows] - y[cols])",
                       (x[cols] - y[rows]).norm(dim=1).mean()))
    candidates.append(("finds the most expensive matching (linear_sum_assignment(..., maximize=True)?): W1 is the "
                       "cheapest one, linear_sum_assignment's default", dist[_assignment(-dist)].mean()))
    if x.shape[1] > 1:
        manhattan = torch.cdist(x, y, p=1)
        candidates.append(("uses the Manhattan distance (torch.cdist(..., p=1)), or adds up the 1-D W1 of each coordinate "
                           f"({ONE_D}; the sum is often the Manhattan W1): W1 here moves mass at the Euclidean cost "
                           "||x - y|| (torch.cdist's default p=2), one matching of whole points",
                           manhattan[_assignment(manhattan)].mean()))
        candidates.append(("sorts each coordinate on its own and pairs the sorted values: sorting finds the cheapest "
                           "matching only in 1-D, and in 2-D it pairs coordinates of different points; solve the "
                           "assignment problem on the (N, N) distance matrix (linear_sum_assignment)",
                           (x.sort(0).values - y.sort(0).values).norm(dim=1).mean()))
        candidates.extend((f"{what} ({ONE_D}): {ONE_D_FIX}", value) for what, value in _one_d_w1s(x, y))
    return [message for message, value in candidates if _near_w1(got, float(value))]


ONE_D = "scipy.stats.wasserstein_distance takes 1-D samples only"
ONE_D_FIX = ("W1 here moves points of R^d at the cost ||x_i - y_j||; solve the assignment problem on the (N, N) "
             "distance matrix (linear_sum_assignment)")


def _sorted_w1(u: Tensor, v: Tensor) -> Tensor:
    """The 1-D W1 of two equal-size 1-D samples: the mean gap between their sorted values."""
    return (u.sort().values - v.sort().values).abs().mean()


def _one_d_w1s(x: Tensor, y: Tensor) -> list[tuple[str, Tensor]]:
    """What the 1-D W1 (scipy.stats.wasserstein_distance) gives when it is asked about samples (N, d), d > 1:
    [(the mistake in words, its value)]."""
    per_coordinate = torch.stack([_sorted_w1(x[:, k], y[:, k]) for k in range(x.shape[1])])
    return [
        ("is the 1-D W1 of the first coordinate alone", per_coordinate[0]),
        ("adds up the 1-D W1 of each coordinate, each with its own matching", per_coordinate.sum()),  # or Manhattan's
        ("averages the 1-D W1 of each coordinate, each with its own matching", per_coordinate.mean()),
        ("is the 1-D W1 of every coordinate poured into one flat sample", _sorted_w1(x.reshape(-1), y.reshape(-1))),
    ]


def _assignment(cost: Tensor) -> tuple[Tensor, Tensor]:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost.numpy())
    return torch.as_tensor(rows), torch.as_tensor(cols)


def _w1_fault(wrong: list[tuple[str, float, float, list[str]]]) -> str:
    """The message for the cases empirical_w1 got wrong: the known mistake that explains the most of them, named
    on the first it explains (1-D samples tie many matchings, so a mistake in how the matching is read may show
    only in 2-D; a mistake that fits one case by coincidence loses to one that fits more); when none explains
    any, the first wrong value."""
    named = [message for _, _, _, messages in wrong for message in messages]
    if not named:
        kind, got, expected, _ = wrong[0]
        return (f"on {kind} it returns {got:.6f}, expected {expected:.6f}: the mean of ||x_i - y_s(i)|| over the "
                f"permutation s that makes it smallest")
    best = max(dict.fromkeys(named), key=lambda m: sum(m in messages for _, _, _, messages in wrong))
    kind = next(kind for kind, _, _, messages in wrong if best in messages)
    return f"on {kind} it {best}"


@check(points=1, visible=True)
def test_empirical_w1(submission):
    """empirical_w1: the mean distance of the cheapest one-to-one matching of two (N, d) samples."""
    fn = submission.get("empirical_w1")
    gen = torch.Generator().manual_seed(6)
    a, b = torch.randn(40, 1, generator=gen), 0.5 * torch.randn(40, 1, generator=gen) + 1.0
    x2, y2 = torch.randn(30, 2, generator=gen), torch.rand(30, 2, generator=gen) * 2
    lines = parallel_lines(0.3, 25, seed=6)
    cases = [
        ("two 1-D samples (40, 1)", a, b, float((a.sort(0).values - b.sort(0).values).abs().mean())),
        ("two 2-D samples (30, 2)", x2, y2, reference_w1(x2, y2)),
        ("the parallel lines at theta = 0.3, (25, 2) each", *lines, reference_w1(*lines)),
    ]
    wrong = []  # (case, got, expected, the known mistakes that give got there) for each case it gets wrong
    for kind, x, y, expected in cases:
        given = x.clone(), y.clone()
        got = _number(fn(*given), f"empirical_w1(x, y) on {kind}")
        changed = [name for name, now, was in zip("xy", given, (x, y)) if not torch.equal(now, was)]
        if changed:  # found by round four of the lessons' red team: samples centred in place gave the right W1
            listed = " and ".join(changed)
            raise AssertionError(
                f"empirical_w1 changed its argument{'s' if len(changed) > 1 else ''} {listed} in place (-=, a slice "
                f"assignment, a method ending in _): the value may be right (W1 does not change when both samples move "
                f"alike), but the caller's samples change too, and the notebook plots and matches them again; compute "
                f"on new tensors, e.g. x = x - centre, not x -= centre")
        if not _near_w1(got, expected):
            wrong.append((kind, got, expected, _w1_mistakes(x, y, got)))
    if wrong:
        raise AssertionError(_w1_fault(wrong))
    same = _number(fn(x2.clone(), x2.flip(0).clone()), "empirical_w1(x, x in reverse order)")
    if abs(same) > 1e-3:
        raise AssertionError(f"a sample against itself in another order gives {same:.4f}, not 0: the matching must "
                             f"be free to pair each point with its copy")


# ---------------------------------------------------------------------------------------------
# The critic's estimate of W
# ---------------------------------------------------------------------------------------------


def _critic(seed: int = 0) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))


def _term_grads(critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """The gradients of mean D(x) and of mean D(G(z)) with respect to the critic's parameters (on a copy)."""
    twin = copy.deepcopy(critic)
    params = list(twin.parameters())
    of_real = torch.autograd.grad(twin(real).mean(), params)
    of_fake = torch.autograd.grad(twin(fake).mean(), params)
    return list(of_real), list(of_fake)


def _gradient_fault(critic: nn.Module, real: Tensor, fake: Tensor) -> str | None:
    """What is wrong with the gradient the student's estimate left in critic's .grad, compared with that of
    mean D(x) - mean D(G(z)); None when it is that one."""
    got = [p.grad for p in critic.parameters()]
    of_real, of_fake = _term_grads(critic, real, fake)

    def same(want: list[Tensor]) -> bool:
        return all(torch.allclose(g, w, **TOL) for g, w in zip(got, want))

    if same([r - f for r, f in zip(of_real, of_fake)]):
        return None
    if same(of_real):
        return ("its value is right, but its gradient comes from the real scores only: the fake scores are detached "
                "(critic(fake).detach(), .item() or torch.no_grad()), so the critic would never learn to lower its "
                "scores on fakes; keep both terms in the graph")
    if same([-f for f in of_fake]):
        return ("its value is right, but its gradient comes from the fake scores only: the real scores are detached, "
                "so the critic would never learn to raise its scores on real data; keep both terms in the graph")
    return ("its value is right, but its gradient with respect to the critic's parameters is not that of "
            "mean D(x) - mean D(G(z)): compute the estimate from the critic's scores with torch operations only")


def _modes(critic: nn.Module) -> list[bool]:
    """The training flag of every module of the critic, the critic's own first."""
    return [m.training for m in critic.modules()]


def _first_line(err: BaseException, limit: int = 120) -> str:
    text = getattr(err, "message", None) or str(err)
    text = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pairs_samples(fn, real: Tensor, fake: Tensor) -> bool:
    """Whether critic_estimate, which raised on batches of different sizes, gives mean D(x) - mean D(G(z)) on
    batches of one size (where the mean of the differences equals the difference of the means)."""
    critic, n = _critic(6), min(len(real), len(fake))
    try:
        got = fn(critic, real[:n].clone(), fake[:n].clone())
        got = float(got.detach().reshape(())) if isinstance(got, Tensor) else float(got)
    except Exception:  # noqa: BLE001 - only a diagnosis: an answer that fails here is not this mistake
        return False
    with torch.no_grad():
        want = (critic(real[:n]).mean() - critic(fake[:n]).mean()).item()
    return _near(got, want)


def _flat_scores_fault(fn, real: Tensor, fake: Tensor) -> str | None:
    """The fault of an estimate right for critics that return (N, 1) but not for one that returns (N,) scores, which
    the docstring allows (found by round four of the lessons' red team: critic(real)[:, 0], .sum(dim=1) and
    .mean(0)[0] passed, since every critic of the check returned (N, 1)); None when it is right there too."""
    critic = nn.Sequential(_critic(6), nn.Flatten(0))  # the same critic, its scores flattened to (N,)
    call = "critic_estimate(critic, real, fake) with a critic that returns (N,) scores"
    fix = ("the critic may return (N,) or (N, 1) scores (the docstring; the course's discriminators return (N,)), so "
           "take the mean over all of each batch's scores, critic(real).mean() - critic(fake).mean(), which fits both")
    try:
        value = fn(critic, real.clone(), fake.clone())
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - right on (N, 1) scores, refused on (N,): an index that needs a column
        kind = getattr(err, "type", type(err).__name__)
        return f"{call} raised {kind} ({_first_line(err)}), but works on (N, 1) scores: {fix}"
    got = _number(value, call)
    with torch.no_grad():
        want = (critic(real).mean() - critic(fake).mean()).item()
    if _near(got, want):
        return None
    return f"{call} is {got:.6f}, expected {want:.6f}, though it is right on (N, 1) scores: {fix}"


@check(points=1, visible=True)
def test_critic_estimate(submission):
    """critic_estimate: mean D(x) - mean D(G(z)) as a 0-dim tensor that carries gradients to the critic."""
    fn = submission.get("critic_estimate")
    critic = _critic(6)
    gen = torch.Generator().manual_seed(7)
    real, fake = torch.randn(64, 2, generator=gen) + 1.0, torch.randn(48, 2, generator=gen)
    before = [p.detach().clone() for p in critic.parameters()]
    modes = _modes(critic)
    try:
        value = fn(critic, real.clone(), fake.clone())
    except Exception as err:  # noqa: BLE001 - diagnosed when it is the paired mean, else reported as it is
        unwritten = isinstance(err, NotImplementedError) or getattr(err, "not_implemented", False)
        if unwritten or not _pairs_samples(fn, real, fake):
            raise
        kind = getattr(err, "type", type(err).__name__)
        raise AssertionError(
            f"on a real batch of {len(real)} and a fake batch of {len(fake)} it raised {kind} ({_first_line(err)}), "
            f"but works on batches of one size: it pairs the real and fake scores sample by sample (mean(D(x) - D(G(z))), "
            f"or a torch.stack of the two), which needs as many fakes as real samples; the batches may differ in size, "
            f"so take each batch's mean on its own: critic(real).mean() - critic(fake).mean()") from None
    if not all(torch.equal(p, b) for p, b in zip(critic.parameters(), before)):
        raise AssertionError("critic_estimate changed the critic's parameters (a clamp or an optimizer step inside "
                             "it?): it only scores the two batches; clipping and steps belong to the training loop")
    if _modes(critic) != modes:
        switched = "eval" if modes[0] else "train"
        raise AssertionError(f"critic_estimate switched the critic to {switched} mode (critic.{switched}()): it only scores "
                             f"the two batches, and the training loop sets the mode; a critic left in eval mode trains "
                             f"on with BatchNorm's running statistics and no dropout, a different network from the one "
                             f"the loop meant to train")
    if any(p.grad is not None for p in critic.parameters()):
        raise AssertionError("critic_estimate calls .backward() itself: it only computes the estimate and returns it; "
                             "the training loop calls backward() on the critic's loss, its negative (a second backward "
                             "through the same graph fails)")
    if not isinstance(value, Tensor):
        raise AssertionError(f"critic_estimate returned {type(value).__name__}, not a tensor: the critic is trained by "
                             f"maximising this number, so return it as a torch tensor that carries gradients (no .item())")
    if value.dim() != 0:
        raise AssertionError(f"critic_estimate returned shape {tuple(value.shape)}: return a 0-dim tensor, one number "
                             f"(critic(real).mean() - critic(fake).mean() is one; no keepdim=True, .view(1) or [None])")
    got = _number(value, "critic_estimate(critic, real, fake)")
    with torch.no_grad():
        s_real, s_fake = critic(real).view(-1), critic(fake).view(-1)
        of_means = (critic(real.mean(0, keepdim=True)) - critic(fake.mean(0, keepdim=True))).item()  # D(mean x) - ...
    expected = -WGAN().d_loss(s_real, s_fake).item()
    if not _near(got, expected):
        mistakes = [
            ("has the sign reversed: it is mean D(x) - mean D(G(z)), real minus fake (the critic's loss is its negative)",
             -expected),
            ("applies a sigmoid: a critic's scores are raw numbers, not probabilities",
             (torch.sigmoid(s_real).mean() - torch.sigmoid(s_fake).mean()).item()),
            ("sums the scores: take the means (the real and the fake batch may differ in size)",
             (s_real.sum() - s_fake.sum()).item()),
            ("is the mean of D(x) - D(G(z)) over paired samples: the batches may differ in size; take each mean apart",
             (s_real[: len(s_fake)] - s_fake).mean().item()),
            ("scores each batch's mean sample, D(mean x) - D(mean G(z)): the estimate is the mean of the scores, "
             "mean D(x) = critic(real).mean(), which differs from the score of the mean for any critic that is not linear",
             of_means),
            ("divides both sums by the real batch's size (64), but the fake batch has 48 samples: average each batch "
             "over its own size (the .mean() of each)", ((s_real.sum() - s_fake.sum()) / len(s_real)).item()),
            ("divides both sums by the fake batch's size (48), but the real batch has 64 samples: average each batch "
             "over its own size (the .mean() of each)", ((s_real.sum() - s_fake.sum()) / len(s_fake)).item()),
        ]
        if _near(got, -expected) and abs(expected) > 1e-3:
            swapped = _number(fn(critic, fake.clone(), real.clone()), "critic_estimate(critic, fake, real)")
            if _near(swapped, got):  # |e| both ways round: the sign is dropped, not reversed
                raise AssertionError(
                    "it takes the absolute value: the estimate is signed, mean D(x) - mean D(G(z)), negative while the "
                    "critic scores the fakes higher; the critic learns by raising it (its loss is its negative), and "
                    "abs() would reward it for scoring the fakes higher too")
        for message, wrong in mistakes:
            if _near(got, wrong):
                raise AssertionError(f"on a real batch of 64 and a fake batch of 48 it {message}")
        raise AssertionError(f"on a real batch of 64 and a fake batch of 48 it returns {got:.6f}, expected "
                             f"{expected:.6f} = mean D(x) - mean D(G(z))")
    if value.grad_fn is None:
        raise AssertionError("the result carries no gradient: compute it with torch operations on the critic's scores "
                             "(no .item(), no torch.no_grad(), no .detach()), so the critic can be trained on it")
    critic.zero_grad()
    value.backward()
    if any(p.grad is None for p in critic.parameters()):
        raise AssertionError("the result's gradient does not reach every parameter of the critic: score real and fake "
                             "with `critic` itself")
    fault = _gradient_fault(critic, real, fake)
    if fault:
        raise AssertionError(fault)
    fault = _flat_scores_fault(fn, real, fake)
    if fault:
        raise AssertionError(fault)
    real, fake = parallel_lines(0.5, 100, seed=7)
    line = nn.Linear(2, 1)
    with torch.no_grad():
        line.weight.copy_(torch.tensor([[-1.0, 0.0]]))
        line.bias.zero_()
    got = _number(fn(line, real, fake), "critic_estimate on the parallel lines")
    if not _near(got, 0.5):
        raise AssertionError(f"the critic f(x) = -x_1 on the parallel lines at theta = 0.5 gives {got:.4f}, expected 0.5")


# ---------------------------------------------------------------------------------------------
# Weight clipping
# ---------------------------------------------------------------------------------------------


def _clip_critic(seed: int = 8) -> nn.Module:
    """A critic with weights, biases and BatchNorm (parameters and running-statistic buffers), many beyond 0.05,
    its first block nested as the course's DCGAN critic nests its layers (critic.children() does not reach them),
    then two top-level Linear layers (so that clipping only the last layer is not clipping critic.children())."""
    critic = nn.Sequential(nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2)),
                           nn.Linear(8, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in critic.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=gen))
        _batchnorm(critic).running_mean.fill_(0.5)
        _batchnorm(critic).running_var.fill_(2.0)
        for p in critic.parameters():
            p.grad = 0.3 * torch.randn(p.shape, generator=gen)
    return critic


def _batchnorm(critic: nn.Module) -> nn.BatchNorm1d:
    return critic[0][1]


@check(points=1, visible=True)
def test_clip_weights_(submission):
    """clip_weights_: every parameter of the critic clamped to [-c, c] in place; BatchNorm's buffers untouched (what it
    does to the gradients does not matter: the next zero_grad clears them)."""
    fn = submission.get("clip_weights_")
    c = 0.05
    critic = _clip_critic()
    expected = copy.deepcopy(critic)
    WGAN(clip=c).after_d_step(expected)
    before = {name: p for name, p in critic.named_parameters()}
    grads = {name: p.grad.clone() for name, p in critic.named_parameters()}
    old = {name: p.detach().clone() for name, p in critic.named_parameters()}
    try:
        fn(critic, c)
    except RuntimeError as err:
        if "leaf Variable that requires grad" in str(err):
            raise AssertionError("clip_weights_ raised RuntimeError (a leaf Variable that requires grad is being used "
                                 "in an in-place operation): autograd refuses to change parameters in place while it "
                                 "records; clamp them inside `with torch.no_grad():`") from None
        if torch.equal(_batchnorm(critic).running_mean, torch.full((8,), 0.5)):
            raise
        raise AssertionError(f"clip_weights_ raised RuntimeError ({err}) after it had clamped BatchNorm's running "
                             f"mean: it goes over the buffers as well as the parameters (state_dict() or buffers() "
                             f"hold them), and BatchNorm's num_batches_tracked is an integer; clip only "
                             f"critic.parameters(), what the optimizer trains") from None
    after = dict(critic.named_parameters())
    if any(after[name] is not before[name] for name in before):
        raise AssertionError("the critic's parameters are new tensors: the optimizer still holds the old ones and "
                             "would go on training them; change each parameter in place (p.clamp_ inside torch.no_grad())")
    unchanged = [name for name, p in after.items() if torch.equal(p.detach(), old[name])]
    if len(unchanged) == len(after):
        if any(not torch.equal(p.grad, grads[name]) for name, p in after.items() if p.grad is not None):
            raise AssertionError("it clips the gradients, not the weights: WGAN clamps each parameter's value to "
                                 "[-c, c] after the optimizer's step")
        raise AssertionError("no parameter of the critic changed: p = p.clamp(-c, c) makes a new tensor, and clipping a "
                             "copy (copy.deepcopy(critic), parameters_to_vector, cloned state_dict values) leaves the "
                             "critic as it was; clamp the critic's own parameters in place, p.clamp_(-c, c) for p in "
                             "critic.parameters(), inside torch.no_grad()")
    clipped = [name for name, p in after.items() if torch.equal(p.detach(), expected.get_parameter(name).detach())]
    missed = [name for name in after if name not in clipped and name in unchanged]
    if any(name not in clipped and name not in unchanged for name in after):
        missed = []  # some parameters are changed wrongly: which ones it skipped says nothing yet (named below)
    nested = [name for name in after if name.count(".") > 1]
    if missed and set(missed) == set(nested) and any(name.count(".") == 1 for name in clipped):
        raise AssertionError(f"{', '.join(missed)} are not clipped: they belong to a block nested inside the critic, which "
                             f"critic.children() does not reach (only its top-level modules); iterate over "
                             f"critic.parameters(), which goes into every submodule")
    owner = {name: name.rpartition(".")[0] for name in after}
    layer = {name: type(critic.get_submodule(owner[name])).__name__ for name in after}
    left = {layer[name] for name in missed} - {layer[name] for name in clipped}
    if missed and left and all(layer[name] in left for name in missed):  # every parameter of some kinds of layer skipped
        kinds = " and ".join(sorted(left))
        raise AssertionError(f"{', '.join(missed)} ({kinds}) are not clipped: WGAN clips every parameter of the critic, "
                             f"whatever its layer, {kinds} included; iterate over critic.parameters()")
    skipped = list(dict.fromkeys(owner[name] for name in missed))
    if missed and not any(owner[name] in skipped for name in clipped) and \
            all(name in missed for name in after if owner[name] in skipped):  # whole layers of clipped kinds skipped
        done = list(dict.fromkeys(owner[name] for name in clipped))
        raise AssertionError(f"the layers {', '.join(f'`{n}`' for n in skipped)} are not clipped at all, only "
                             f"{', '.join(f'`{n}`' for n in done)}: WGAN clips every parameter of every layer, so that "
                             f"the whole critic stays Lipschitz; iterate over critic.parameters(), not over some layers")
    for name, p in after.items():
        if torch.equal(p.detach(), expected.get_parameter(name).detach()):
            continue
        value = p.detach()
        if torch.all(value == value.flatten()[0]) and abs(abs(value.flatten()[0].item()) - c) < 1e-7:
            raise AssertionError(f"{name} is {value.flatten()[0].item():.3f} everywhere: clamp's bounds are swapped "
                                 f"(clamp_(c, -c) sets every value to its max); the lower bound comes first, "
                                 f"p.clamp_(-c, c)")
        if name in unchanged:
            kinds = "biases" if name.endswith("bias") else "weights"
            raise AssertionError(f"{name} is not clipped: every parameter of the critic, {kinds} included, goes into "
                                 f"[-c, c] (iterate over critic.parameters())")
        if value.min() >= 0 and old[name].min() < 0:
            raise AssertionError(f"{name} has no negative values left: clip to [-c, c], not [0, c]")
        if value.min() < -c - 1e-7:
            raise AssertionError(f"{name} keeps values below -c ({value.min().item():.3f}): clip both sides, [-c, c]")
        if value.max() > c + 1e-7:
            raise AssertionError(f"{name} keeps values above c ({value.max().item():.3f}): clip both sides, [-c, c]")
        bound = float(value.abs().max())
        if 0 < bound < c and torch.allclose(value, old[name].clamp(-bound, bound), rtol=0, atol=1e-7):
            raise AssertionError(f"{name} is clipped to [-{bound:.3g}, {bound:.3g}], not to [-c, c] with the c it is "
                                 f"given ({c} here): a fixed bound written into the code? clamp with the argument, "
                                 f"p.clamp_(-c, c)")
        k, was, is_, want = _first_difference(old[name], value, expected.get_parameter(name).detach())
        raise AssertionError(f"{name}[{k}] was {was:.4g} and is now {is_:.4g}, expected {want:.4g}: clamp each value "
                             f"to [-c, c] and leave the ones inside unchanged")
    bn = _batchnorm(critic)
    if not (torch.equal(bn.running_mean, torch.full((8,), 0.5)) and torch.equal(bn.running_var, torch.full((8,), 2.0))):
        raise AssertionError("it changed BatchNorm's running statistics (buffers, not parameters): clip only "
                             "critic.parameters(), what the optimizer trains")
    if any(not p.requires_grad for p in critic.parameters()):
        raise AssertionError("some parameters no longer require gradients: clamp their values in place, do not "
                             "replace or detach them")
    fault = _other_c_fault(fn, c, OTHER_C)
    if fault:
        raise AssertionError(fault)


OTHER_C = 0.12  # a second clipping constant: many parameters of _clip_critic lie between c and OTHER_C


def _other_c_fault(fn, c: float, other: float) -> str | None:
    """What is wrong when clip_weights_, right for `c`, is called with `other`; None if it clips to [-other, other]."""
    critic = _clip_critic(seed=9)
    expected = copy.deepcopy(critic)
    WGAN(clip=other).after_d_step(expected)
    before = torch.cat([p.detach().flatten() for p in critic.parameters()])
    fn(critic, other)
    got = torch.cat([p.detach().flatten() for p in critic.parameters()])
    want = torch.cat([p.detach().flatten() for p in expected.parameters()])
    if torch.equal(got, want):
        return None
    bound = float(got.abs().max())
    if abs(bound - c) < 1e-7:
        return (f"with c = {other} it clips to [-{c:g}, {c:g}], the c of the first call: a bound written into the code "
                f"(or a notebook variable) fits one c only; clamp with the argument, p.clamp_(-c, c)")
    k, was, is_, should = _first_difference(before, got, want)
    return (f"right for c = {c:g}, but with c = {other} parameter value {k} (in the order of critic.parameters()) was "
            f"{was:.4g} and is now {is_:.4g}, expected {should:.4g}: clamp to [-c, c] with the c it is given")


def _first_difference(old: Tensor, got: Tensor, want: Tensor) -> tuple[int, float, float, float]:
    """(flat index, value before, value after, expected value) where `got` first differs from `want`."""
    old, got, want = old.flatten(), got.flatten(), want.flatten()
    k = int((got != want).nonzero()[0])
    return k, float(old[k]), float(got[k]), float(want[k])
