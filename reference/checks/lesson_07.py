"""Checks of lesson 07's code-along places: a conditional GAN's label inputs and the projection score.

The student writes `one_hot_input` (G's input: z with one_hot(y) appended), `label_planes` (D's
K extra channels, plane y all ones) and `projection_score` (the projection discriminator's logit
psi(phi) + <embed(y), phi>) in solutions/lessons/07_conditional_gan.ipynb. Each check calls them
on seeded inputs it chooses and compares with the course library, the oracle: the student's input
fed to the inner DCGAN of `reference.models.conditional.ConditionalGenerator` /
`ConcatDiscriminator` must give exactly G(z, y) / D(x, y), and the student's score on a
`ProjectionDiscriminator`'s own phi, psi and embed must give D(x, y). A wrong value that matches a
common mistake (the label first, one_hot without K, the input cast to float32 whatever z's dtype, a
(N, 1) psi broadcast against (N,), the scores of every class...) gets that mistake's message.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference.grading.checks import check
from reference.models.conditional import ConcatDiscriminator, ConditionalGenerator, ProjectionDiscriminator

ASSIGNMENT = "lesson_07"
TOL = dict(rtol=1e-4, atol=1e-5)


def _as_tensor(value: object, name: str, call: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise AssertionError(f"{call} returned {type(value).__name__}, not a tensor: return a torch.Tensor from {name}")
    return value


def _labels(n: int, k: int, seed: int, skip_last: bool = False) -> Tensor:
    """n seeded labels in [0, k) (int64); with skip_last, none is k - 1 (so y.max() + 1 < k)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(k - 1 if skip_last else k, (n,), generator=gen)


IN_PLACE_USE = {  # why a changed input breaks the caller, and the new tensor to make instead
    "y": ("the training loop passes the same labels y to G and to D, so the next call gets labels of another shape "
          "or value", "y.unsqueeze(1) or y.view(-1, 1), which return new tensors"),
    "z": ("the caller uses z again (the same noise down a figure's column, G's next call)",
          "torch.cat([z, code], dim=1), which returns a new tensor"),
    "phi": ("phi is D's features, which both terms of the logit read", "phi * embed(y), not phi.mul_(...)"),
}


def _changed_input(call: str, given: dict[str, Tensor], originals: dict[str, Tensor]) -> None:
    """AssertionError naming the first argument the call changed in place: `given` are the tensors it
    was called with (copies), `originals` their values before the call."""
    for name, tensor in given.items():
        before = originals[name]
        if tensor.shape != before.shape or not torch.equal(tensor, before):
            why, instead = IN_PLACE_USE[name]
            change = (f"its shape {tuple(before.shape)} became {tuple(tensor.shape)}, as {name}.unsqueeze_(1) does"
                      if tensor.shape != before.shape else
                      f"its values changed, as {name}.mul_(...), {name} -= ... or an assignment into {name}[...] do")
            raise AssertionError(f"{call} changes its input {name} in place ({change}): {why}; leave {name} as it "
                                 f"was and make a new tensor, {instead}")


# ---------------------------------------------------------------------------------------------
# G's input: z ++ one_hot(y)
# ---------------------------------------------------------------------------------------------


def _too_few_columns(fn, args: tuple, y: Tensor, k: int, y_at: int) -> str:
    """Why an answer gives one-hot codes of y.max() + 1 = K - 1 classes: one_hot guessing K from the batch (the
    count follows the labels of another batch), or K - 1 written in (it does not)."""
    fewer = y % 4  # labels 0..3 only
    try:
        again = fn(*[fewer.clone() if i == y_at else (a.clone() if isinstance(a, Tensor) else a)
                     for i, a in enumerate(args)])
        offset = args[0].shape[1] if y_at == 1 else 0  # one_hot_input's code comes after z's nz columns
        follows = isinstance(again, Tensor) and again.shape[1] - offset == int(fewer.max()) + 1
    except Exception:  # noqa: BLE001 - only a diagnosis
        follows = False
    if follows:
        return (f"one_hot guessed K = y.max() + 1 = {int(y.max()) + 1} from this batch; pass the number of classes, "
                f"F.one_hot(y, K)")
    return (f"the code has {k - 1} classes, one too few: labels run 0..K-1, so the code has K = {k} columns, "
            f"F.one_hot(y, K)")


OTHER_K = 7  # a second number of classes: an answer with 10 written in for K is right only for the lesson's digits


def _other_k(call, expected, text: str, unit: str) -> None:
    """AssertionError when the answer `call(K)` is not `expected(K)` for K = OTHER_K (labels taken modulo K): K
    written in as 10, or not passed on to one_hot."""
    k = OTHER_K
    what = text.format(k=k)
    got = call(k)
    if not isinstance(got, Tensor):
        raise AssertionError(f"{what} returned {type(got).__name__}, not a tensor")
    want = expected(k)
    if got.shape != want.shape:
        raise AssertionError(f"{what} returns shape {tuple(got.shape)}, expected {tuple(want.shape)}: the code has K "
                             f"{unit}, the K it is given (10 for the digits, {k} here), not a number written in")
    if not torch.allclose(got.detach().float(), want):
        raise AssertionError(f"{what} returns other values than for K = 10: use the K it is given, F.one_hot(y, K)")


@check(points=1, visible=True)
def test_one_hot_input(submission):
    """one_hot_input: z (N, nz) and y (N,) -> (N, nz + K), z first, then one_hot(y, K) as floats."""
    fn = submission.get("one_hot_input")
    n, nz, k = 6, 5, 10
    z = torch.randn(n, nz, generator=torch.Generator().manual_seed(1))
    y = _labels(n, k, seed=2, skip_last=True)  # no 9: one_hot without num_classes gives 9 columns
    call = f"one_hot_input(z, y, {k}) with z ({n}, {nz}), y = {y.tolist()}"
    given = {"z": z.clone(), "y": y.clone()}
    got = _as_tensor(fn(given["z"], given["y"], k), "one_hot_input", call)
    _changed_input(call, given, {"z": z, "y": y})
    expected = torch.cat([z, F.one_hot(y, k).float()], dim=1)
    if got.shape != expected.shape:
        if got.shape == (n, nz + int(y.max()) + 1):
            raise AssertionError(f"{call} returns shape {tuple(got.shape)}: {_too_few_columns(fn, (z, y, k), y, k, 1)}")
        if got.shape == (n, nz + 1):
            raise AssertionError(f"{call} returns shape {tuple(got.shape)}: it appends the label as one number; "
                                 f"append its one-hot code, K = {k} columns")
        if got.shape == (n, 1, nz + k) or got.shape == (n, nz + k, 1, 1):
            raise AssertionError(f"{call} returns shape {tuple(got.shape)}: return a 2-D (N, nz + K) = {tuple(expected.shape)} "
                                 f"tensor (G's first layer reshapes it itself)")
        raise AssertionError(f"{call} returns shape {tuple(got.shape)}, expected (N, nz + K) = {tuple(expected.shape)}")
    if not got.is_floating_point():
        raise AssertionError(f"{call} returns dtype {got.dtype}: G's input must be floating point, like z "
                             f"(convert the one-hot code with .to(z.dtype) or .float())")
    if got.dtype != z.dtype:
        raise AssertionError(f"{call} returns dtype {got.dtype}, but z is {z.dtype}: G's {z.dtype} layers refuse a "
                             f"{got.dtype} input (torch.cat makes the whole result {got.dtype} when one part is); make "
                             f"the code z's dtype, F.one_hot(y, K).to(z.dtype)")
    got64 = _as_tensor(fn(z.double(), y.clone(), k), "one_hot_input", call)
    if got64.dtype != torch.float64:
        raise AssertionError(f"one_hot_input(z, y, {k}) with a float64 z returns dtype {got64.dtype}: the result keeps "
                             f"z's dtype (a float64 G refuses a {got64.dtype} input); leave z as it is and convert only "
                             f"the code, F.one_hot(y, K).to(z.dtype), not .float()")
    got = got.detach().float()
    if torch.allclose(got, torch.cat([F.one_hot(y, k).float(), z], dim=1)):
        raise AssertionError(f"{call} puts the one-hot code first: put z first, then one_hot(y, K) (the course's "
                             f"G reads its input in that order)")
    if torch.allclose(got[:, :nz], z) and not torch.allclose(got[:, nz:], expected[:, nz:]):
        tail = got[:, nz:]
        if torch.allclose(tail, F.one_hot(y, k).float() * 2 - 1):
            raise AssertionError(f"{call}: the label part is in {{-1, 1}}; use the plain one-hot code, 1 for the "
                                 f"class and 0 elsewhere")
        raise AssertionError(f"{call}: the last {k} columns of row i must be one_hot(y[i], {k}) (a 1 in column "
                             f"nz + y[i], 0 elsewhere); got row 0 = {tail[0].tolist()} for y[0] = {int(y[0])}")
    if not torch.allclose(got[:, :nz], z):
        raise AssertionError(f"{call}: the first nz = {nz} columns must be z itself, unchanged")
    _other_k(lambda kk: fn(z.clone(), y.clone() % kk, kk), lambda kk: torch.cat([z, F.one_hot(y % kk, kk).float()], dim=1),
             "one_hot_input(z, y, {k})", "columns")
    # the oracle: the course's G, fed this input through its inner DCGAN, gives G(z, y) exactly
    torch.manual_seed(0)
    G = ConditionalGenerator(nz, 8, 1, 28, k).eval()
    with torch.no_grad():
        if not torch.allclose(G.net(got), G(z, y), **TOL):
            raise AssertionError(f"{call}: the course's G(z, y) differs when fed your input (compare with "
                                 f"torch.cat([z, F.one_hot(y, K).float()], dim=1))")


# ---------------------------------------------------------------------------------------------
# D's input: K label planes
# ---------------------------------------------------------------------------------------------


def _planes_of_other_labels(got: Tensor, y: Tensor, k: int) -> str | None:
    """What a 0/1 answer `got` (N, K, H, W), not label_planes(y), did instead: the planes of every label of the
    batch in every sample (out[:, y] = 1), or one plane per sample, of another sample's label or another label."""
    n = len(y)
    full = got.flatten(2).eq(1).all(dim=2)  # (N, K): which planes are all ones
    empty = got.flatten(2).eq(0).all(dim=2)
    if not bool((full | empty).all()):
        return None  # some plane is neither all ones nor all zeros: no label pattern to name
    batch = F.one_hot(y, k).sum(dim=0) > 0  # (K,): the planes of the batch's labels
    if len(set(y.tolist())) > 1 and bool((full == batch).all()):
        return (f"every sample has the planes of all the batch's labels {sorted(set(y.tolist()))} set, as out[:, y] = 1 "
                f"does (it picks planes y of every sample); pair each sample with its own label, "
                f"out[torch.arange(N), y] = 1, or F.one_hot(y, K).float().view(N, K, 1, 1).expand(N, K, H, W)")
    if not bool((full.sum(dim=1) == 1).all()):
        return None
    planes = full.float().argmax(dim=1)  # (N,): the one plane each sample has
    i = int((planes != y).nonzero()[0])
    reordered = sorted(planes.tolist()) == sorted(y.tolist())
    return (f"sample {i} (label {int(y[i])}) has plane {int(planes[i])} set"
            + (": the planes follow the batch's labels in another order (y shuffled, flipped or sorted), so sample i "
               "gets another sample's label; keep y in the batch's order" if reordered else
               f": each sample's plane must be its own label's, plane y[i]") + f" (the plane set in each of the {n} "
            f"samples: {planes.tolist()}; their labels: {y.tolist()})")


@check(points=1, visible=True)
def test_label_planes(submission):
    """label_planes: y (N,) -> (N, K, H, W) floats, plane y[i] of sample i all ones, the others zero."""
    fn = submission.get("label_planes")
    n, k, h, w = 5, 10, 6, 4
    y = _labels(n, k, seed=3, skip_last=True)
    call = f"label_planes(y, {k}, {h}, {w}) with y = {y.tolist()}"
    given = {"y": y.clone()}
    got = _as_tensor(fn(given["y"], k, h, w), "label_planes", call)
    _changed_input(call, given, {"y": y})
    expected = F.one_hot(y, k).float().view(n, k, 1, 1).expand(n, k, h, w)
    if got.shape != expected.shape:
        hints = {
            (n, k - 1, h, w): f"{k - 1} planes, one too few: labels run 0..K-1, so there are K = {k} planes, one per "
                              f"class (F.one_hot(y, K))",
            (n, k): "it is the one-hot code (N, K) only: spread each of its K values over an H x W plane",
            (n, k, 1, 1): "spread each value over a whole H x W plane (expand or repeat to (N, K, H, W))",
            (n, h, w, k): "the planes are last (channels-last order): D's channels are dim 1, (N, K, H, W)",
            (n, k, w, h): "H and W are swapped: the planes are H rows by W columns",
            (n, int(y.max()) + 1, h, w): _too_few_columns(fn, (y, k, h, w), y, k, 0),
            (n, 1, h, w): "it is one plane holding the label's value: make K planes, plane y all ones, the others zero",
        }
        hint = hints.get(tuple(got.shape))
        raise AssertionError(f"{call} returns shape {tuple(got.shape)}, expected (N, K, H, W) = {tuple(expected.shape)}"
                             + (f": {hint}" if hint else ""))
    if not got.is_floating_point():
        raise AssertionError(f"{call} returns dtype {got.dtype}: the planes are concatenated with float images, "
                             f"make them floating point (.float())")
    if got.dtype != torch.get_default_dtype():
        raise AssertionError(f"{call} returns dtype {got.dtype}: D concatenates the planes with {torch.get_default_dtype()} "
                             f"images, and torch.cat would make the whole input {got.dtype}, which D's "
                             f"{torch.get_default_dtype()} layers refuse; make them .float()")
    got = got.detach().float()
    if not torch.equal(got, expected):
        if torch.equal(got, 1 - expected):
            raise AssertionError(f"{call}: the planes are inverted; plane y[i] must be all ones, the others all zeros")
        if torch.equal(got, 2 * expected - 1):
            raise AssertionError(f"{call}: the planes are in {{-1, 1}}; use 1 for plane y[i] and 0 for the others")
        binary = bool(((got == 0) | (got == 1)).all())
        planes_used = (got.flatten(2).sum(dim=2) > 0).sum(dim=1)  # (N,): how many planes hold a one, per sample
        if binary and torch.equal(got.sum(dim=(1, 2, 3)), torch.full((n,), float(h * w))) and bool((planes_used > 1).any()):
            raise AssertionError(
                f"{call}: each sample holds the H x W = {h * w} ones of one plane, but scattered over several planes: "
                f"a .view or .reshape of the code repeated (or laid out channels-last) does not move its values into "
                f"planes; give the code its plane dimensions first, F.one_hot(y, K).float().view(N, K, 1, 1), then "
                f".expand(N, K, H, W) (or, from an (N, H, W, K) tensor, .permute(0, 3, 1, 2))")
        fault = _planes_of_other_labels(got, y, k) if binary else None
        raise AssertionError(f"{call}: sample i must have plane y[i] all ones and the other {k - 1} planes all zeros"
                             + (f": {fault}" if fault else ""))
    _other_k(lambda kk: fn(y.clone() % kk, kk, h, w), lambda kk: F.one_hot(y % kk, kk).float().view(n, kk, 1, 1).expand(n, kk, h, w),
             f"label_planes(y, {{k}}, {h}, {w})", "planes")
    torch.manual_seed(0)
    D = ConcatDiscriminator(8, 1, 28, k).eval()
    x = torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        mine = D.net(torch.cat([x, fn(y.clone(), k, 28, 28).float()], dim=1))
        if not torch.allclose(mine, D(x, y), **TOL):
            raise AssertionError("on 28x28 images the course's D(x, y) differs when fed your planes: check them at "
                                 "H = W = 28")


# ---------------------------------------------------------------------------------------------
# The projection discriminator's score
# ---------------------------------------------------------------------------------------------


def _projection_parts(D: ProjectionDiscriminator, x: Tensor):
    """D's features phi(x) flattened (N, F) and psi as a function of them: (N, F) -> (N, 1)."""
    h = D.phi(x)  # (N, F_c, 4, 4)
    n, c = h.shape[:2]
    flat = h.permute(0, 2, 3, 1).reshape(n, -1)  # the order D's embedding uses

    def psi(features: Tensor) -> Tensor:
        """(N, F) features -> (N, 1) unconditional scores (D's last layer)."""
        return D.psi(features.reshape(features.shape[0], 4, 4, c).permute(0, 3, 1, 2)).view(-1, 1)

    return flat, psi


def _projection_gradient_fault(fn, D: ProjectionDiscriminator, phi: Tensor, psi, y: Tensor) -> str | None:
    """What part of D the right logit gives no (or the wrong) gradient to; None when all get theirs."""
    embed = copy.deepcopy(D.embed)
    D.psi.zero_grad(set_to_none=True)
    features = phi.clone().requires_grad_(True)
    out = fn(features, psi, embed, y.clone())
    if not (isinstance(out, Tensor) and out.requires_grad):
        return ("its value is right but it carries no gradient (torch.no_grad(), .detach() or .item()): D is trained "
                "through this logit; compute it with torch operations on phi, psi and embed")
    out.sum().backward()
    if embed.weight.grad is None or not bool(embed.weight.grad[y].abs().sum() > 0):
        return ("its value is right but no gradient reaches the class embedding (embed(y) detached or made under "
                "torch.no_grad()): D learns each class's vector from this term; keep embed(y) in the graph")
    if any(p.grad is None or not bool(p.grad.abs().sum() > 0) for p in D.psi.parameters()):
        return ("its value is right but no gradient reaches psi's weights (psi(phi) detached or made under "
                "torch.no_grad()): the unconditional score is trained too; keep psi(phi) in the graph")
    twin = phi.clone().requires_grad_(True)
    (psi(twin).view(-1) + (D.embed(y) * twin).sum(dim=1)).sum().backward()
    if features.grad is None or not torch.allclose(features.grad, twin.grad, **TOL):
        return ("its value is right but its gradient with respect to phi is not that of psi(phi) + <embed(y), phi> "
                "(phi detached in one of the terms?): D's feature layers learn through both terms")
    return None


def _network_read_instead(fn, argument: str, namespace: dict | None) -> str | None:
    """The name of a notebook-global network (an nn.Module) that function `fn` reads while it never reads its own
    argument `argument`; None otherwise (or where its code cannot be read)."""
    import dis

    code = getattr(fn, "__code__", None)
    if code is None or namespace is None or argument not in code.co_varnames[: code.co_argcount]:
        return None
    instructions = list(dis.get_instructions(code))
    if any(ins.argval == argument for ins in instructions if ins.opname.startswith(("LOAD_FAST", "LOAD_DEREF"))):
        return None
    read = [ins.argval for ins in instructions if ins.opname == "LOAD_GLOBAL"]
    return next((name for name in read if isinstance(namespace.get(name), nn.Module)), None)


def _again(fn, phi: Tensor, psi, embed: nn.Embedding, y: Tensor) -> Tensor | None:
    """fn's answer on copies of the inputs (a copy of `embed`), detached; None when it raises or is no tensor."""
    try:
        out = fn(phi.clone(), psi, copy.deepcopy(embed), y.clone())
    except Exception:  # noqa: BLE001 - only a diagnosis of an answer already wrong
        return None
    return out.detach().float() if isinstance(out, Tensor) else None


def _new_weights_each_call(fn, phi: Tensor, psi, embed: nn.Embedding, y: Tensor, got: Tensor) -> str | None:
    """The fault of an answer `got` that a second call with the same inputs does not repeat: a layer made inside."""
    again = _again(fn, phi, psi, embed, y)
    if again is None or again.shape != got.shape or torch.allclose(again, got, **TOL):
        return None
    return ("gives other logits on a second call with the same inputs: it makes a new layer inside the function (an "
            "nn.Embedding(K, F) there has new random vectors at every call, and D's optimizer never sees them); use "
            "the embed it is given, embed(y)")


def _ignored_heads(fn, phi: Tensor, psi, embed: nn.Embedding, y: Tensor, got: Tensor) -> str | None:
    """The fault of an answer `got` that stays the same when the embed (or psi) it is given changes: it reads
    another one, a notebook global such as D.embed."""
    other = copy.deepcopy(embed)
    with torch.no_grad():
        other.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(9))
    again = _again(fn, phi, psi, other, y)
    if again is not None and again.shape == got.shape and torch.allclose(again, got, **TOL):
        return ("stays the same when the vectors of the embed it is given change: it scores with another embedding "
                "(a notebook global such as D.embed, or one of its own); use its argument, embed(y)")
    again = _again(fn, phi, lambda features: psi(features) + 1.0, embed, y)
    if again is not None and again.shape == got.shape and torch.allclose(again, got, **TOL):
        return ("stays the same when the psi it is given changes: it scores with another head (a notebook global?); "
                "use its argument, psi(phi).view(-1)")
    return None


def _other_labels(projection: Tensor, phi: Tensor, weight: Tensor, y: Tensor) -> str | None:
    """The fault of a projection term (N,) (the answer minus psi(phi)) that is, for every sample i, <embed(c_i),
    phi_i> for a class c_i other than y_i somewhere: labels reordered against phi, or shifted. `weight` (K, F)."""
    with torch.no_grad():
        scores = phi @ weight.T  # (N, K): sample i's projection term under each class
    match = torch.isclose(scores, projection.view(-1, 1).expand_as(scores), **TOL)
    if not bool((match.sum(dim=1) == 1).all()):
        return None
    used = match.float().argmax(dim=1)
    if torch.equal(used, y):
        return None
    i = int((used != y).nonzero()[0])
    if sorted(used.tolist()) == sorted(y.tolist()):
        return (f"pairs the features of a sample with another sample's label: sample {i} (label {int(y[i])}) is scored "
                f"with embed({int(used[i])}), labels {used.tolist()} for y = {y.tolist()} (y shuffled, flipped or "
                f"sorted against phi); take embed(y) of each sample's own label, y in the batch's order")
    return (f"uses the embedding of another label: sample {i} (label {int(y[i])}) is scored with embed({int(used[i])}); "
            f"take embed(y) of each sample's own label")


def _other_class_count_fault(fn, phi: Tensor, psi, y: Tensor) -> str | None:
    """The fault of an answer right for the lesson's 10 classes that is wrong with an embedding of OTHER_K classes:
    10 (or the notebook's K) written in, e.g. F.one_hot(y, 10) @ embed.weight."""
    k = OTHER_K
    embed = nn.Embedding(k, phi.shape[1])
    with torch.no_grad():
        embed.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(8))
        labels = y % k
        want = psi(phi).view(-1) + (embed(labels) * phi).sum(dim=1)
    call = f"projection_score(phi, psi, embed, y) with an nn.Embedding({k}, F) of {k} classes, y = {labels.tolist()}"
    fix = (f"take the number of classes from the embed it is given (embed.num_embeddings), not 10 or the notebook's K, "
           f"or call embed(y), which needs none")
    try:
        out = fn(phi.clone(), psi, embed, labels.clone())
    except Exception as err:  # noqa: BLE001 - right with 10 classes: a 10 written in breaks here
        text = (getattr(err, "message", None) or str(err)).strip().splitlines()
        return f"{call} raised {getattr(err, 'type', type(err).__name__)} ({text[0][:120] if text else ''}): {fix}"
    if not isinstance(out, Tensor) or out.shape != want.shape or not torch.allclose(out.detach().float(), want, **TOL):
        return f"{call} returns other logits than psi(phi) + <embed(y), phi>: {fix}"
    return None


@check(points=1, visible=True)
def test_projection_score(submission):
    """projection_score: psi(phi) + <embed(y), phi>, one logit per sample (N,), equal to the course's projection D."""
    fn = submission.get("projection_score")
    n, k = 6, 10
    torch.manual_seed(0)
    D = ProjectionDiscriminator(8, 1, 28, k).eval()
    with torch.no_grad():
        D.embed.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(5))  # a trained-looking embedding
    x = torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(6))
    y = _labels(n, k, seed=7)
    with torch.no_grad():
        phi, psi = _projection_parts(D, x)
        expected = D(x, y)
        unconditional, inner = psi(phi).view(-1), (D.embed(y) * phi).sum(dim=1)
    call = f"projection_score(phi, psi, embed, y) with phi ({n}, {phi.shape[1]}), y = {y.tolist()}"
    embed = copy.deepcopy(D.embed)  # a real nn.Embedding (its attributes, F.embedding, embed.weight[y] all work)
    inputs: list[Tensor] = []  # what embed(...) was called on
    hook = embed.register_forward_pre_hook(lambda _module, args: inputs.append(args[0].detach().clone()))
    try:
        given = {"phi": phi.clone(), "y": y.clone()}
        got = _as_tensor(fn(given["phi"], psi, embed, given["y"]), "projection_score", call)
    except NotImplementedError:
        raise
    except Exception as err:  # what reached embed says more than the shape error it caused
        for inp in inputs:
            if inp.shape != y.shape:
                raise AssertionError(f"{call}: embed got shape {tuple(inp.shape)}; it takes the integer labels y "
                                     f"(N,) = ({n},) and returns their vectors (N, F): embed(y)") from None
        text = getattr(err, "message", None) or str(err)
        other = _network_read_instead(fn, "embed", getattr(submission, "namespace", None))
        if not inputs and other:
            raise AssertionError(
                f"{call} raised {getattr(err, 'type', type(err).__name__)} ({text.strip().splitlines()[0][:120]}): "
                f"projection_score never uses the embed it is given, it reads the notebook's `{other}` (its "
                f"embedding has other sizes than this D's); score with its argument, embed(y), so it works for any "
                f"D") from None
        if getattr(err, "type", type(err).__name__) == "RuntimeError" and f"({n * n})" in text:
            raise AssertionError(
                f"{call} raised RuntimeError ({text.strip().splitlines()[0][:120]}): a tensor of N * N = {n * n} values "
                f"met one of N = {n}; the projection term is then a matrix product (embed(y) @ phi.T, flattened), which "
                f"scores every sample's label against every sample's features; take each sample's own inner product, "
                f"row by row: (embed(y) * phi).sum(dim=1), shape (N,)") from None
        raise
    finally:
        hook.remove()
    _changed_input(call, given, {"phi": phi, "y": y})
    got = got.detach().float()
    if got.shape != expected.shape:
        if got.shape == (n, n):
            broadcast = (psi(phi) + inner.view(1, -1), inner.view(-1, 1) + unconditional.view(1, -1))
            if any(torch.allclose(got, b, **TOL) for b in broadcast):
                raise AssertionError(f"{call} returns shape ({n}, {n}): a (N, 1) term was added to an (N,) one and "
                                     f"broadcast; psi returns (N, 1), flatten it with .view(-1) (or .squeeze(1)) first")
            if torch.allclose(got.diagonal(), expected, **TOL):
                raise AssertionError(
                    f"{call} returns shape ({n}, {n}), whose diagonal is the answer: the projection term is a matrix "
                    f"product (embed(y) @ phi.T), which scores every sample's label against every sample's features; "
                    f"take each sample's own inner product, row by row: (embed(y) * phi).sum(dim=1), shape (N,)")
            raise AssertionError(f"{call} returns shape ({n}, {n}), expected (N,) = ({n},): one logit per sample, "
                                 f"psi(phi).view(-1) + (embed(y) * phi).sum(dim=1)")
        if got.shape == (n, k):
            raise AssertionError(f"{call} returns shape ({n}, {k}): one score per class; take only the embedding "
                                 f"of each sample's own label, embed(y) (N, F)")
        if got.shape == (n, 1):
            raise AssertionError(f"{call} returns shape ({n}, 1): return one logit per sample, shape (N,) "
                                 f"(.view(-1) on psi's (N, 1))")
        if got.numel() == 1:
            raise AssertionError(f"{call} returns one number: the inner product is per sample, "
                                 f"(embed(y) * phi).sum(dim=1), (N,); do not sum over the batch")
        raise AssertionError(f"{call} returns shape {tuple(got.shape)}, expected (N,) = ({n},)")
    if torch.allclose(got, expected, **TOL):
        fault = _projection_gradient_fault(fn, D, phi, psi, y)
        if fault:
            raise AssertionError(f"{call}: {fault}")
        single = fn(phi[:1].clone(), psi, embed, y[:1].clone())
        if isinstance(single, Tensor) and single.shape != (1,):
            raise AssertionError(f"projection_score with one sample (N = 1) returns shape {tuple(single.shape)}, expected (1,): "
                                 f".squeeze() drops the batch's dimension too when N = 1; flatten psi's (N, 1) with "
                                 f".view(-1) (or .squeeze(1))")
        fault = _other_class_count_fault(fn, phi, psi, y)
        if fault:
            raise AssertionError(fault)
        return
    known = {
        "is psi(phi) only: add the projection term <embed(y), phi>, (embed(y) * phi).sum(dim=1)": unconditional,
        "is the projection term only: add the unconditional score psi(phi) (the plain D's logit)": inner,
        "subtracts the projection term: the logit is psi(phi) + <embed(y), phi>": unconditional - inner,
        "averages the inner product over the features: it is a sum, (embed(y) * phi).sum(dim=1)":
            unconditional + inner / phi.shape[1],
        "sums the inner products over the batch too: take one per sample, (embed(y) * phi).sum(dim=1), shape (N,)":
            unconditional + inner.sum(),
        "passes the logit through a sigmoid: return the raw logit (the loss applies the sigmoid)":
            torch.sigmoid(expected),
    }
    for message, wrong in known.items():
        if torch.allclose(got, wrong, **TOL):
            raise AssertionError(f"{call} {message}")
    fault = (_other_labels(got - unconditional, phi, D.embed.weight.detach(), y)
             or _new_weights_each_call(fn, phi, psi, D.embed, y, got) or _ignored_heads(fn, phi, psi, D.embed, y, got))
    if fault:
        raise AssertionError(f"{call} {fault}")
    raise AssertionError(f"{call} returns {[round(v, 4) for v in got[:3].tolist()]}..., expected "
                         f"{[round(v, 4) for v in expected[:3].tolist()]}...: psi(phi).view(-1) + "
                         f"(embed(y) * phi).sum(dim=1)")
