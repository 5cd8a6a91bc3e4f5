"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a2_conv_layers.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import copy
import torch
from torch import nn
from reference.grading import Partial, check
ASSIGNMENT = "a2_conv_layers"
NGF = 16  # the width the checks build the generator at: fast, and the same code as ngf = 64
NZ = 100
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def build_generator(submission, nz: int = NZ, ngf: int = NGF) -> nn.Module:
    """The student's `DeeperGenerator(nz=nz, ngf=ngf)`, built with seed 0, in training mode."""
    cls = submission.get("DeeperGenerator")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = cls(nz=nz, ngf=ngf)
    assert isinstance(G, nn.Module), (
        f"`DeeperGenerator(nz={nz}, ngf={ngf})` made a {type(G).__name__}, not a torch nn.Module: "
        f"subclass nn.Module and call super().__init__()"
    )
    return G.train()


def given_generator(nz: int = NZ, ngf: int = NGF) -> nn.Module:
    """The DCGAN generator the assignment starts from."""
    from reference.models.dcgan import Generator

    return Generator(nz, ngf, channels=1, size=28)


def shape_text(shape, batch: int) -> str:
    """"(N, 1, 32, 32)" for a batch of `batch` images, the exact shape otherwise."""
    dims = list(shape)
    if dims and dims[0] == batch:
        dims[0] = "N"
    return "(" + ", ".join(str(d) for d in dims) + ")"


def first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}"


def conv_layers(G: nn.Module, z: torch.Tensor) -> tuple[list[str], list[str]]:
    """(names of all conv modules of G, names of those that ran in G(z)), in registration order."""
    names = {id(m): name for name, m in G.named_modules() if isinstance(m, CONVS)}
    ran: list[str] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: ran.append(names[id(mod)]) if names[id(mod)] not in ran else None)
        for m in G.modules()
        if isinstance(m, CONVS)
    ]
    try:
        with torch.no_grad():
            G(z)
    finally:
        for h in hooks:
            h.remove()
    return list(names.values()), ran


def count(params) -> int:
    return sum(p.numel() for p in params if p.requires_grad)


@check(points=2, visible=True)
def test_output_shape(submission):
    """Output is (N, 1, 28, 28) for any batch size and nz."""
    cases = [(100, 2), (100, 5), (32, 3)]
    wrong = []
    for nz, batch in cases:
        G = build_generator(submission, nz=nz)
        try:
            with torch.no_grad():
                out = G(torch.randn(batch, nz))
        except Exception as err:  # noqa: BLE001 - the student's forward failing is what we report
            wrong.append((nz, batch, f"raised {first_line(err)}"))
            continue
        if not isinstance(out, torch.Tensor):
            wrong.append((nz, batch, f"returned a {type(out).__name__}, not a tensor"))
        elif tuple(out.shape) != (batch, 1, 28, 28):
            wrong.append((nz, batch, f"is {shape_text(out.shape, batch)}"))
    if not wrong:
        return
    if len(wrong) == len(cases) and len({w[2] for w in wrong}) == 1:
        what = wrong[0][2]
        hint = "; an added stride-1 layer must keep height and width: kernel 3 with padding 1" if what.startswith("is") else ""
        raise AssertionError(f"generator output {what}; expected (N, 1, 28, 28){hint}")
    failed = "; ".join(f"with nz={nz}, N={batch} its output {what}" for nz, batch, what in wrong)
    if len(wrong) < len(cases):
        raise Partial(1, f"{failed}; expected (N, 1, 28, 28) for every batch size N and nz (use the `nz` argument, do not fix it at 100)")
    raise AssertionError(f"{failed}; expected (N, 1, 28, 28)")


@check(points=1, visible=True)
def test_output_range(submission):
    """Output lies in [-1, 1] (a final tanh), even with large weights."""
    G = build_generator(submission)
    z = torch.randn(16, NZ, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = G(z)
        big = copy.deepcopy(G)
        for p in big.parameters():
            p.mul_(25.0)  # pre-activations grow; only a squashing last layer keeps the output bounded
        scaled = big(z)
    low, high = min(float(plain.min()), float(scaled.min())), max(float(plain.max()), float(scaled.max()))
    if low < -1 - 1e-5 or high > 1 + 1e-5:
        raise AssertionError(
            f"generator output reaches [{low:.3g}, {high:.3g}] once its weights are scaled up; expected [-1, 1]: "
            f"end the generator with nn.Tanh(), after the last conv"
        )
    if low > -0.5:
        raise AssertionError(
            f"generator output stays in [{low:.3g}, {high:.3g}], never negative even with large weights; expected "
            f"[-1, 1]: end with nn.Tanh(), not nn.Sigmoid() (the data are scaled to [-1, 1])"
        )


@check(points=2, visible=True)
def test_adds_conv_layers(submission):
    """Runs more conv layers than the given generator, with more parameters."""
    G, base = build_generator(submission), given_generator()
    z = torch.randn(4, NZ)
    all_convs, ran = conv_layers(G, z)
    _, base_ran = conv_layers(base, z)
    unused = [name for name in all_convs if name not in ran]
    n_params, n_base = count(G.parameters()), count(base.parameters())
    if len(ran) <= len(base_ran):
        if unused:
            listed = ", ".join(f"`{name}`" for name in unused)
            raise AssertionError(
                f"generator defines {len(all_convs)} conv layers but its forward runs only {len(ran)}, as many as the "
                f"given generator: {listed} never run; call them in forward"
            )
        raise AssertionError(
            f"generator runs {len(ran)} conv layers, as many as the given DCGAN generator ({len(base_ran)}); add at "
            f"least one, e.g. nn.Conv2d(c, c, 3, 1, 1) + nn.BatchNorm2d(c) + nn.ReLU() between two stages"
        )
    if n_params <= n_base:
        raise Partial(
            1,
            f"generator runs {len(ran)} conv layers (the given one {len(base_ran)}) but has {n_params:,} parameters, "
            f"not more than the given generator's {n_base:,} at ngf={NGF}: keep its layers and add to them",
        )
