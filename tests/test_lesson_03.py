"""Lesson 03's code-along checks (reference/checks/lesson_03.py) and its named config.

The two code-along cells of solutions/lessons/03_dcgan_fashion_mnist.ipynb (`dcgan_generator`,
`dcgan_discriminator`) are read from the notebook and run in a fresh namespace, as a kernel would
run them: the model answer as written, the student version (the solution region replaced by
nbgrader's stub), and realistic wrong answers with the region replaced. Every check must pass on
the model answer and on the correct variants, and each wrong answer must fail exactly the checks
listed for it, with a message that names the fault.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference.config import TrainConfig, read_config_file
from reference.grading.checks import run_check
from reference.grading.local import find_check, load_checks
from reference.grading.submission import LocalSubmission
from reference.models.dcgan import weights_init

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "lessons" / "03_dcgan_fashion_mnist.ipynb"
A = "lesson_03"
G_CHECKS = ("test_generator_shape", "test_generator_range", "test_generator_parameters", "test_generator_layers", "test_generator_init")
D_CHECKS = ("test_discriminator_shape", "test_discriminator_logits", "test_discriminator_parameters",
            "test_discriminator_layers", "test_discriminator_init")
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?", re.S | re.M)


def cell(defines: str) -> str:
    """The source of the notebook's code cell that defines `defines`."""
    nb = json.loads(NOTEBOOK.read_text())
    found = [
        "".join(c["source"]) for c in nb["cells"]
        if c["cell_type"] == "code" and f"def {defines}(" in "".join(c["source"])
    ]
    assert len(found) == 1, f"expected one cell defining {defines}, found {len(found)}"
    return found[0]


def replaced(source: str, body: str) -> str:
    """`source` with its solution region replaced by `body`, indented like the region."""
    match = REGION.search(source)
    assert match, "no solution region"
    indent = match.group(1)
    return source[: match.start()] + textwrap.indent(textwrap.dedent(body).strip("\n"), indent) + "\n" + source[match.end() :]


def stub(source: str) -> str:
    """What nbgrader's ClearSolutions leaves for the student."""
    return replaced(source, "# YOUR CODE HERE\nraise NotImplementedError()")


def namespace(*sources: str) -> dict:
    """A fresh notebook namespace with the lesson's imports, after running `sources` in it."""
    ns = {"__name__": "lesson_03_under_test", "torch": torch, "nn": nn, "F": F, "weights_init": weights_init}
    for source in sources:
        exec(compile(source, "<cell>", "exec"), ns)  # noqa: S102 - the course's own cells
    return ns


def results(ns: dict, names: tuple[str, ...]) -> dict[str, tuple[float, str]]:
    sub = LocalSubmission(ns)
    return {name: run_check(find_check(A, name), sub) for name in names}


G_SOURCE, D_SOURCE = cell("dcgan_generator"), cell("dcgan_discriminator")


def test_the_checks_are_the_ten_visible_one_point_checks():
    checks = load_checks(A)
    assert tuple(checks) == G_CHECKS + D_CHECKS
    assert all(fn.points == 1 and fn.visible for fn in checks.values())


def test_model_answers_pass_every_check():
    got = results(namespace(G_SOURCE, D_SOURCE), G_CHECKS + D_CHECKS)
    assert got == {name: (1.0, "") for name in G_CHECKS + D_CHECKS}


def test_model_answers_match_the_reference_models():
    """The model answer is the reference dcgan at 28x28: same parameters, same output for the same weights."""
    from reference.models import get_model

    ns = namespace(G_SOURCE, D_SOURCE)
    G_ref, D_ref = get_model("dcgan").build((1, 28, 28), 100, ngf=64, ndf=64)
    G, D = ns["dcgan_generator"](), ns["dcgan_discriminator"]()
    G.load_state_dict({k.removeprefix("main."): v for k, v in G_ref.state_dict().items()})
    D.load_state_dict({k.removeprefix("main."): v for k, v in D_ref.state_dict().items()})
    z = torch.randn(4, 100)
    G.eval(), G_ref.eval(), D.eval(), D_ref.eval()
    with torch.no_grad():
        assert torch.allclose(G(z), G_ref(z), atol=1e-5)
        x = G_ref(z)
        assert torch.allclose(D(x), D_ref(x), atol=1e-5)


def test_the_untouched_stubs_say_not_implemented():
    got = results(namespace(stub(G_SOURCE), stub(D_SOURCE)), G_CHECKS + D_CHECKS)
    for name, (points, message) in got.items():
        fn = "dcgan_generator" if "generator" in name else "dcgan_discriminator"
        assert (points, message) == (0.0, f"`{fn}` is not implemented yet: it raises NotImplementedError (replace that line with your code)")


def test_a_missing_function_is_named():
    points, message = results(namespace(G_SOURCE), ("test_discriminator_shape",))["test_discriminator_shape"]
    assert points == 0 and message.startswith("`dcgan_discriminator` is not defined")



def test_the_checks_leave_the_students_random_numbers_alone():
    """A grade cell runs in the student's kernel: a check must not advance torch's global RNG (building the
    reference models draws their default init), or the notebook's later random numbers change with every run of it."""
    ns = namespace(G_SOURCE, D_SOURCE)
    for name in G_CHECKS + D_CHECKS:
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        assert results(ns, (name,)) == {name: (1.0, "")}
        assert torch.equal(torch.rand(3), expected), f"{name} changed torch's global random state"

# ---------------------------------------------------------------------------------------------
# Right answers written other ways
# ---------------------------------------------------------------------------------------------

G_CLASS = """
    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)
            self.b1 = nn.BatchNorm2d(ngf * 4)
            self.c2 = nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False)
            self.b2 = nn.BatchNorm2d(ngf * 2)
            self.c3 = nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False)
            self.b3 = nn.BatchNorm2d(ngf)
            self.c4 = nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)
        def forward(self, z):
            x = z.view(z.shape[0], -1, 1, 1)
            for conv, norm in ((self.c1, self.b1), (self.c2, self.b2), (self.c3, self.b3)):
                x = norm(conv(x))
                x = {act}
            return {out}
    return Generator().apply(weights_init)
"""
D_CLASS = """
    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, ndf, 4, 2, 1, bias=False)
            self.c2 = nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)
            self.b2 = nn.BatchNorm2d(ndf * 2)
            self.c3 = nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False)
            self.b3 = nn.BatchNorm2d(ndf * 4)
            self.c4 = nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)
        def forward(self, x):
            for conv, norm in ((self.c1, None), (self.c2, self.b2), (self.c3, self.b3)):
                x = conv(x) if norm is None else norm(conv(x))
                x = {act}
            return self.c4(x).view(-1)
    return Discriminator().apply(weights_init)
"""
G_CORRECT = {
    "a_module_class_with_view": """
        class Generator(nn.Module):
            def __init__(self):
                super().__init__()
                def up(c_in, c_out, k, s, p):
                    return [nn.ConvTranspose2d(c_in, c_out, k, s, p, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
                self.net = nn.Sequential(*up(nz, ngf * 4, 4, 1, 0), *up(ngf * 4, ngf * 2, 3, 2, 1), *up(ngf * 2, ngf, 4, 2, 1),
                                         nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False))
            def forward(self, z):
                return torch.tanh(self.net(z.view(z.shape[0], -1, 1, 1)))
        return Generator().apply(weights_init)
    """,
    # the Linear drawn from N(0, 0.02) by hand: weights_init reaches only conv and BatchNorm layers (G_WRONG has it without)
    "a_linear_projection_of_z": """
        G = nn.Sequential(
            nn.Linear(nz, ngf * 4 * 4 * 4, bias=False), nn.Unflatten(1, (ngf * 4, 4, 4)), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh(),
        )
        G.apply(weights_init)
        nn.init.normal_(G[0].weight, 0.0, 0.02)
        return G
    """,
}

G_CORRECT["activations_written_as_functions"] = G_CLASS.format(act="F.relu(x)", out="torch.tanh(self.c4(x))")
G_CORRECT["a_loop_over_the_stages"] = """
    layers = [nn.Unflatten(1, (nz, 1, 1))]
    widths = [nz, ngf * 4, ngf * 2, ngf]
    for c_in, c_out, (k, s, p) in zip(widths, widths[1:], [(4, 1, 0), (3, 2, 1), (4, 2, 1)]):
        layers += [nn.ConvTranspose2d(c_in, c_out, k, s, p, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    layers += [nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers).apply(weights_init)
"""
G_CORRECT["its_own_init"] = """
    G = nn.Sequential(
        nn.Unflatten(1, (nz, 1, 1)), nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
        nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
    for m in G.modules():
        if isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return G
"""

D_CORRECT = {
    "activations_written_as_functions": D_CLASS.format(act="F.leaky_relu(x, 0.2)"),
    "a_module_class_with_view": """
        class Discriminator(nn.Module):
            def __init__(self):
                super().__init__()
                self.main = nn.Sequential(
                    nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))
            def forward(self, x):
                return self.main(x).view(-1)
        D = Discriminator()
        for m in D.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
        return D
    """,
    "a_final_linear_output_layer": """
        D = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(ndf * 4 * 4 * 4, 1, bias=False), nn.Flatten(0),
        )
        D.apply(weights_init)
        for m in D.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
        return D
    """,
}


@pytest.mark.parametrize("name", list(G_CORRECT))
def test_correct_generators_pass(name):
    got = results(namespace(replaced(G_SOURCE, G_CORRECT[name])), G_CHECKS)
    assert got == {check: (1.0, "") for check in G_CHECKS}


@pytest.mark.parametrize("name", list(D_CORRECT))
def test_correct_discriminators_pass(name):
    got = results(namespace(replaced(D_SOURCE, D_CORRECT[name])), D_CHECKS)
    assert got == {check: (1.0, "") for check in D_CHECKS}


# ---------------------------------------------------------------------------------------------
# Wrong answers: (the solution region, {check: words its message must hold}); every check not
# listed passes
# ---------------------------------------------------------------------------------------------


def g_body(*, project="nn.Unflatten(1, (nz, 1, 1)), nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)", c4=4,
           k7=3, bias=False, norm=True, act="nn.ReLU(True)", out_channels=1, last="nn.Tanh()", init="G.apply(weights_init)",
           out_norm=False) -> str:
    """A generator region like the model answer's, with one thing changed."""
    bn = (lambda c: f"nn.BatchNorm2d({c}), ") if norm else (lambda c: "")
    return f"""
        G = nn.Sequential(
            {project.replace("ngf * 4", f"ngf * {c4}").replace("bias=False", f"bias={bias}")}, {bn(f"ngf * {c4}")}{act},
            nn.ConvTranspose2d(ngf * {c4}, ngf * 2, {k7}, 2, 1, bias={bias}), {bn("ngf * 2")}{act},
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias={bias}), {bn("ngf")}{act},
            nn.ConvTranspose2d(ngf, {out_channels}, 4, 2, 1, bias={bias}), {"nn.BatchNorm2d(1), " if out_norm else ""}{last}
        )
        {init}
        return G
    """


def d_body(*, first="nn.Conv2d(1, ndf, 4, 2, 1, bias=False)", k4=3, bias=False, first_norm=False, act="nn.LeakyReLU(0.2, True)",
           c4=4, head="nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias={bias}), nn.Flatten(0)", init="D.apply(weights_init)") -> str:
    """A discriminator region like the model answer's, with one thing changed."""
    return f"""
        D = nn.Sequential(
            {first.replace("bias=False", f"bias={bias}")}, {"nn.BatchNorm2d(ndf), " if first_norm else ""}{act},
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias={bias}), nn.BatchNorm2d(ndf * 2), {act},
            nn.Conv2d(ndf * 2, ndf * {c4}, {k4}, 2, 1, bias={bias}), nn.BatchNorm2d(ndf * {c4}), {act},
            {head.format(c4=c4, bias=bias)}
        )
        {init}
        return D
    """


NOT_YET = "make the shape check pass first"
G_WRONG = {
    "kernel_4_from_4x4_makes_32x32": (g_body(k7=4), {
        "test_generator_shape": ["G returns (N, 1, 32, 32)", "turns (N, 64, 4, 4) into (N, 32, 8, 8)", "after 4x4 comes 7x7",
                                 "kernel 3, stride 2, padding 1"],
        "test_generator_range": [NOT_YET], "test_generator_layers": [NOT_YET],
        "test_generator_parameters": ["maps 64 -> 32 channels with a 4x4 kernel", "64 -> 32 channels with a 3x3 kernel"],
    }),
    "z_not_viewed_as_1x1": (g_body(project="nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)"), {
        "test_generator_shape": ["gets z as (N, 100)", "view z as (N, nz, 1, 1)"],
        "test_generator_range": ["gets z as (N, 100)"], "test_generator_layers": ["gets z as (N, 100)"],
    }),
    "nz_written_as_100": (g_body(project="nn.Unflatten(1, (100, 1, 1)), nn.ConvTranspose2d(100, ngf * 4, 4, 1, 0, bias=False)"), {
        "test_generator_shape": ["works for nz = 100 but not for nz = 32", "use the `nz` argument"],
    }),
    "three_output_channels": (g_body(out_channels=3), {
        "test_generator_shape": ["G returns (N, 3, 28, 28)", "MNIST is greyscale"],
        "test_generator_range": [NOT_YET], "test_generator_layers": [NOT_YET],
        "test_generator_parameters": ["maps 16 -> 3 channels", "16 -> 1 channel with a 4x4 kernel"],
    }),
    "no_tanh": (g_body(last="nn.Identity()"), {"test_generator_range": ["nothing bounds them to [-1, 1]", "end G with nn.Tanh"]}),
    # the widths written as numbers: at the checks' width (16) it passed by chance; at 64 every layer was listed
    "widths_fixed_at_16": (g_body().replace("ngf", "16"), {
        "test_generator_parameters": ["`dcgan_generator(ngf=16)` and `dcgan_generator(ngf=32)` both have", "ignore the `ngf` argument"]}),
    "widths_fixed_at_64": (g_body().replace("ngf", "64"), {
        "test_generator_parameters": ["ignore the `ngf` argument", "build every width from `ngf`"]}),
    # BatchNorm in place, but without its learnable scale and shift: not "0 BatchNorm layers"
    "batchnorm_without_affine": (g_body().replace("), nn.ReLU(True)", ", affine=False), nn.ReLU(True)"), {
        "test_generator_parameters": ["its BatchNorm layers `2`, `5`, `8` have no learnable scale and shift", "affine=True"],
    }),
    "sigmoid_output": (g_body(last="nn.Sigmoid()"), {"test_generator_range": ["all lie in [0, 1]", "a Sigmoid at the end"]}),
    # ReLU6 acts as ReLU on the small activations of a fresh G (BatchNorm's outputs stay below 6), so judged by
    # behaviour alone it passed: the module names it
    "relu6_in_the_hidden_stages": (g_body(act="nn.ReLU6(True)"), {
        "test_generator_layers": ["ReLU6", "clips values above 6", "plain nn.ReLU"]}),
    # found by session 35's red team: asked "a Sigmoid at the end?" of a G that ends with tanh
    "relu_before_the_tanh": (g_body(last="nn.ReLU(), nn.Tanh()"), {"test_generator_range": ["G ends with tanh, but a ReLU runs before it", "remove the ReLU"]}),
    # the tanh is there, but an init with mean 1 makes every conv weight positive: the range check names the weights
    "conv_init_with_mean_1": (g_body(init="""for m in G.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 1.0, 0.02)"""), {
        "test_generator_range": ["G ends with tanh", "is never negative", "N(0, 0.02)"],
        "test_generator_init": ["has mean 1.000", "N(0, 0.02), mean 0"],
    }),
    "biases": (g_body(bias=True), {"test_generator_parameters": ["129,617 parameters", "129,504", "biases of `1`, `4`",
                                                                  "Pass bias=False", "redundant"]}),
    "no_batchnorm": (g_body(norm=False), {
        "test_generator_parameters": ["0 BatchNorm layers, the reference 3", "after every hidden conv"],
        "test_generator_layers": ["G has no BatchNorm"],
    }),
    "eight_times_ngf_at_4x4": (g_body(c4=8), {"test_generator_parameters": ["layer 1 with weights", "100 -> 128 channels",
                                                                            "100 -> 64 channels"]}),
    "hidden_linear_layers": (g_body(project="nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, ngf * 4 * 16), nn.Unflatten(1, (ngf * 4, 4, 4))"), {
        "test_generator_parameters": ["biases of `0`, `2`"],
        "test_generator_layers": ["`2` (Linear(in_features=256", "hidden fully connected layer"],
        "test_generator_init": ["`0.weight` (an nn.Linear)", "reaches only conv and BatchNorm layers"],
    }),
    "upsample_and_conv": ("""
        G = nn.Sequential(
            nn.Unflatten(1, (nz, 1, 1)), nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
            nn.Upsample(size=7), nn.Conv2d(ngf * 4, ngf * 2, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(ngf * 2, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(ngf, 1, 3, 1, 1, bias=False), nn.Tanh(),
        )
        G.apply(weights_init)
        return G
    """, {
        "test_generator_parameters": ["layer 3 with weights", "32 -> 16 channels with a 3x3 kernel"],
        "test_generator_layers": ["G uses `4` (Upsample", "strided transposed convolutions"],
    }),
    "leaky_relu_in_g": (g_body(act="nn.LeakyReLU(0.2, True)"), {
        "test_generator_layers": ["After `2` (BatchNorm2d), G's hidden stage, with `3` (LeakyReLU", "slope 0.2",
                                  "transposed conv -> BatchNorm -> ReLU", "LeakyReLU is D's activation"]}),
    # activations judged by what they do, written as modules or as functions in forward
    "functional_leaky_relu_in_g": (G_CLASS.format(act="F.leaky_relu(x, 0.2)", out="torch.tanh(self.c4(x))"), {
        "test_generator_layers": ["After `b1` (BatchNorm2d), G's hidden stage lets negative values through with slope 0.2",
                                  "BatchNorm -> ReLU"]}),
    "elu_in_g": (g_body(act="nn.ELU()"), {"test_generator_layers": ["`3` (ELU", "bends negative values", "-> ReLU"]}),
    "dropout_in_g": (g_body(act="nn.ReLU(), nn.Dropout(0.5)"), {
        "test_generator_layers": ["sets random values to 0", "Dropout, p = 0.5", "DCGAN has no dropout"]}),
    "batchnorm_after_relu": ("""
        G = nn.Sequential(
            nn.Unflatten(1, (nz, 1, 1)), nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.ReLU(), nn.BatchNorm2d(ngf * 4),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.ReLU(), nn.BatchNorm2d(ngf * 2),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.ReLU(), nn.BatchNorm2d(ngf),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh(),
        )
        G.apply(weights_init)
        return G
    """, {"test_generator_layers": ["After `3` (BatchNorm2d), G's hidden stage passes its values on unchanged",
                                    "BatchNorm -> ReLU, in that order"]}),
    "clamp_instead_of_tanh": (G_CLASS.format(act="F.relu(x)", out="torch.clamp(self.c4(x), -1, 1)"), {
        "test_generator_range": ["G clips the output of `c4`", "instead of a tanh", "end G with tanh"]}),
    "hardtanh_instead_of_tanh": (g_body(last="nn.Hardtanh()"), {"test_generator_range": ["G clips the output of `10`"]}),
    "batchnorm_on_the_output": (g_body(out_norm=True), {
        "test_generator_parameters": ["4 BatchNorm layers, the reference 3", "no BatchNorm on G's output layer"],
        "test_generator_layers": ["BatchNorm after its output conv"],
    }),
    # BatchNorm2d(c, 0.8): Keras' momentum passed where PyTorch takes eps; the BatchNorm hardly normalises
    "batchnorm_eps_0_8": (g_body().replace("nn.BatchNorm2d(ngf * 4)", "nn.BatchNorm2d(ngf * 4, 0.8)"), {
        "test_generator_layers": ["G's `2` (BatchNorm2d", "has eps = 0.8", "second positional argument is eps"],
    }),
    # a BatchNorm on z itself, before the first layer: named as such, not as a stage without an activation
    "batchnorm_on_z": (g_body(project="nn.BatchNorm1d(nz), nn.Unflatten(1, (nz, 1, 1)), nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)"), {
        "test_generator_parameters": ["4 BatchNorm layers, the reference 3", "one normalises z before G's first layer"],
        "test_generator_layers": ["G normalises z with `0` (BatchNorm1d", "before its first layer"],
    }),
    # a Linear projection of z normalised by BatchNorm1d over its flat features, not per channel
    "batchnorm1d_on_the_projection": ("""
        G = nn.Sequential(
            nn.Linear(nz, ngf * 4 * 16, bias=False), nn.BatchNorm1d(ngf * 4 * 16), nn.ReLU(), nn.Unflatten(1, (ngf * 4, 4, 4)),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
        G.apply(weights_init)
        return G
    """, {"test_generator_parameters": ["`1` is a BatchNorm1d over 1,024 flat features", "(N, 64, 4, 4)", "BatchNorm2d(64)"],
          "test_generator_init": ["`0.weight` (an nn.Linear)", "PyTorch's default for its size"]}),
    # a Linear projection of z with its default bias: the message names Linear layers too, not only convs
    "linear_projection_with_bias": ("""
        G = nn.Sequential(
            nn.Linear(nz, ngf * 4 * 4 * 4), nn.Unflatten(1, (ngf * 4, 4, 4)), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
        G.apply(weights_init)
        for m in G.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
        return G
    """, {"test_generator_parameters": ["1,024 of them are the biases of `0`", "Pass bias=False to every conv and Linear layer"]}),
    # the first layer's PyTorch init has std 1/sqrt(3 * 1024) = 0.018 at width 16, near 0.02: named by its bound
    "default_init": (g_body(init=""), {"test_generator_init": ["`1.weight` has standard deviation", "PyTorch's default for its size",
                                                                "N(0, 0.02)"]}),
    # the DCGAN init written by hand, but for nn.Conv2d only: G's transposed convs keep PyTorch's init
    "init_for_conv2d_only": (g_body(init="""
        for m in G.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)"""), {"test_generator_init": ["`1.weight` has standard deviation", "not 0.02",
                                                                 "a ConvTranspose2d is not an nn.Conv2d"]}),
    "std_0_2": (g_body(init="""
        for m in G.modules():
                if isinstance(m, nn.ConvTranspose2d):
                    nn.init.normal_(m.weight, 0.0, 0.2)"""), {"test_generator_init": ["standard deviation 0.20", "not 0.02",
                                                                     "draw them with std 0.02"]}),
    "batchnorm_scales_drawn_at_0": (g_body(init="""
        for p in G.parameters():
                if p.dim() > 0:
                    nn.init.normal_(p, 0.0, 0.02)"""), {"test_generator_init": ["`2.weight` (BatchNorm's scale) has mean", "around 1"]}),
    # Found by red-teaming the checks: one channel count written as the number it is at the checks' width,
    # ngf = 16, passed every check, and fails at the default ngf = 64 (the notebook's own try_it cell)
    "a_batchnorm_width_written_for_ngf_16": (g_body().replace("nn.BatchNorm2d(ngf * 4)", "nn.BatchNorm2d(64)"), {
        "test_generator_shape": ["G works for ngf = 16 but not for ngf = 32", "`2` (BatchNorm2d(64", "ngf * 4",
                                 "not as a number"],
        "test_generator_parameters": ["matches the reference at ngf = 16 but not at ngf = 32", "normalise [64, 64, 32]"],
    }),
    "a_conv_width_written_for_ngf_16": (g_body().replace("nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1", "nn.ConvTranspose2d(ngf * 4, 32, 3, 2, 1")
                                        .replace("nn.BatchNorm2d(ngf * 2)", "nn.BatchNorm2d(32)")
                                        .replace("nn.ConvTranspose2d(ngf * 2, ngf,", "nn.ConvTranspose2d(32, ngf,"), {
        "test_generator_parameters": ["not at ngf = 32", "build every width from `ngf`", "maps 128 -> 32 channels"],
    }),
    # written for ngf = 64: the error told "must be ... (64)" without saying that the checks build G at ngf = 16
    "a_batchnorm_width_written_for_ngf_64": (g_body().replace("nn.BatchNorm2d(ngf * 4)", "nn.BatchNorm2d(256)"), {
        "test_generator_shape": ["G is built here with ngf = 16, so that is ngf * 4", "not as a number"],
        "test_generator_range": ["ngf * 4"], "test_generator_layers": ["ngf * 4"],
        "test_generator_parameters": ["normalise [256, 32, 16] channels"],
    }),
    # a bias on the output conv only: no BatchNorm follows it, so "a bias there is redundant" was the wrong reason
    "a_bias_on_the_output_conv_only": (g_body().replace("nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)", "nn.ConvTranspose2d(ngf, 1, 4, 2, 1)"), {
        "test_generator_parameters": ["biases of `10`", "no BatchNorm follows it", "not redundant", "Pass bias=False"]}),
    # an activation with parameters: the count alone was reported, with no cause
    "prelu_in_g": (g_body(act="nn.PReLU()"), {
        "test_generator_parameters": ["`3` (PReLU) is an activation with learnable parameters", "nn.ReLU"],
        "test_generator_layers": ["`3` (PReLU", "slope 0.25"]}),
    # normal_(w, 0.02): 0.02 is the mean, the std stays 1
    "init_with_0_02_as_the_mean": (g_body(init="""for m in G.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.02)"""), {
        "test_generator_init": ["standard deviation 1.0", "passes 0.02 as the mean", "nn.init.normal_(m.weight, 0.0, 0.02)"]}),
    # found by the lessons' false-positive red team: PyTorch's init of a layer of fan_in 1024 has std 0.018, inside the
    # check's range for 0.02 at width 16, so these passed: a Linear projection of z left to weights_init (which skips
    # Linear layers), and the first layer kept outside the submodule the init is applied to
    "a_linear_projection_left_to_weights_init": (g_body(project="nn.Linear(nz, ngf * 4 * 16, bias=False), nn.Unflatten(1, (ngf * 4, 4, 4))"), {
        "test_generator_init": ["`0.weight` (an nn.Linear) has standard deviation 0.058, PyTorch's default",
                                "reaches only conv and BatchNorm layers", "nn.init.normal_(m.weight, 0.0, 0.02)"]}),
    "the_first_layer_outside_the_init": ("""
        class Generator(nn.Module):
            def __init__(self):
                super().__init__()
                self.project = nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)
                self.main = nn.Sequential(
                    nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                    nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                    nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                    nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
                self.main.apply(weights_init)
            def forward(self, z):
                return self.main(self.project(z.view(z.shape[0], -1, 1, 1)))
        return Generator()
    """, {"test_generator_init": ["`project.weight` has standard deviation 0.018, PyTorch's default for its size",
                                  "G.apply(weights_init), not a part of it"]}),
    # found by round four of the lessons' red team: spectral norm (the hook API) around G's output conv passed every check
    "spectral_norm_on_the_output_conv": (g_body().replace("nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)",
                                                          "nn.utils.spectral_norm(nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False))"),
                                         {"test_generator_layers": ["G's layer `10` is spectral-normalised",
                                                                    "plain nn.ConvTranspose2d(...)"]}),
}

D_WRONG = {
    "widths_fixed_at_16": (d_body().replace("ndf", "16"), {
        "test_discriminator_parameters": ["`dcgan_discriminator(ndf=16)` and `dcgan_discriminator(ndf=32)` both have",
                                          "ignore the `ndf` argument"]}),
    # right for every batch but one of a single image, where squeeze() drops the batch dimension too
    "squeezed_output": ("""
        class Squeeze(nn.Module):
            def forward(self, x):
                return x.squeeze()
        D = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), Squeeze(),
        )
        D.apply(weights_init)
        return D
    """, {"test_discriminator_shape": ["shape () for a batch of one image", ".squeeze() removes every dimension of size 1"]}),
    "not_flattened": (d_body(head="nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias={bias})"), {
        "test_discriminator_shape": ["D returns (N, 1, 1, 1)", "not flattened", "return shape (N,)"],
        "test_discriminator_logits": [NOT_YET], "test_discriminator_layers": [NOT_YET],
    }),
    "kernel_4_from_7x7": (d_body(k4=4), {
        "test_discriminator_shape": ["turns (N, 32, 7, 7) into (N, 64, 3, 3)", "after 7x7 comes 4x4", "kernel 3, stride 2, padding 1"],
        "test_discriminator_logits": ["turns (N, 32, 7, 7) into (N, 64, 3, 3)"],
        "test_discriminator_layers": ["turns (N, 32, 7, 7) into (N, 64, 3, 3)"],
        "test_discriminator_parameters": ["layer 3 with weights", "32 -> 64 channels with a 4x4 kernel"],
    }),
    "three_input_channels": (d_body(first="nn.Conv2d(3, ndf, 4, 2, 1, bias=False)"), {
        "test_discriminator_shape": ["takes 3 input channels, but the images have 1"],
        "test_discriminator_logits": ["takes 3 input channels"], "test_discriminator_layers": ["takes 3 input channels"],
        "test_discriminator_parameters": ["maps 3 -> 16 channels"],
    }),
    "sigmoid_at_the_end": (d_body(head="nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias={bias}), nn.Flatten(0), nn.Sigmoid()"), {
        "test_discriminator_logits": ["all lie in [0, 1]", "ends in a Sigmoid", "Return the raw logit"],
    }),
    "sigmoid_in_forward": ("""
        class D(nn.Module):
            def __init__(self):
                super().__init__()
                self.main = nn.Sequential(
                    nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))
            def forward(self, x):
                return torch.sigmoid(self.main(x)).view(-1)
        return D().apply(weights_init)
    """, {"test_discriminator_logits": ["ends in a Sigmoid"]}),
    "biases": (d_body(bias=True), {"test_discriminator_parameters": ["biases of `0`, `2`", "Pass bias=False"]}),
    "batchnorm_on_the_input_layer": (d_body(first_norm=True), {
        "test_discriminator_parameters": ["3 BatchNorm layers, the reference 2", "no BatchNorm on D's input layer"],
        "test_discriminator_layers": ["BatchNorm right after its first conv"],
    }),
    # a BatchNorm on the logits: not "D's input layer"
    "batchnorm_on_the_output_layer": (d_body(head="nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias={bias}), nn.BatchNorm2d(1), nn.Flatten(0)"), {
        "test_discriminator_parameters": ["3 BatchNorm layers, the reference 2", "one comes after D's output conv",
                                          "normalises the logits over the batch"],
        "test_discriminator_layers": ["D has a BatchNorm after its output conv", "the conv alone"],
    }),
    # the same BatchNorm on the logits, registered before the convs: judged by where it runs, not where it is declared
    "batchnorm_on_the_logits_registered_first": ("""
        class Discriminator(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm_out = nn.BatchNorm2d(1)
                self.main = nn.Sequential(
                    nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
                    nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))
            def forward(self, x):
                return self.norm_out(self.main(x)).view(-1)
        return Discriminator().apply(weights_init)
    """, {
        "test_discriminator_parameters": ["3 BatchNorm layers, the reference 2", "one comes after D's output conv",
                                          "normalises the logits over the batch"],
        "test_discriminator_layers": ["D has a BatchNorm after its output conv"],
    }),
    # a BatchNorm on the input layer, registered after the output conv (the norms declared last, in a ModuleList)
    "batchnorm_on_the_input_layer_registered_last": ("""
        class Discriminator(nn.Module):
            def __init__(self):
                super().__init__()
                self.convs = nn.ModuleList([nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                                            nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False)])
                self.head = nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)
                self.norms = nn.ModuleList([nn.BatchNorm2d(ndf), nn.BatchNorm2d(ndf * 2), nn.BatchNorm2d(ndf * 4)])
            def forward(self, x):
                for conv, norm in zip(self.convs, self.norms):
                    x = F.leaky_relu(norm(conv(x)), 0.2)
                return self.head(x).view(-1)
        return Discriminator().apply(weights_init)
    """, {
        "test_discriminator_parameters": ["3 BatchNorm layers, the reference 2", "no BatchNorm on D's input layer"],
        "test_discriminator_layers": ["BatchNorm right after its first conv"],
    }),
    # a BatchNorm on the images, before the first conv: named as such, not as a stage without an activation
    "batchnorm_on_the_images": (d_body(first="nn.BatchNorm2d(1), nn.Conv2d(1, ndf, 4, 2, 1, bias=False)"), {
        "test_discriminator_parameters": ["3 BatchNorm layers, the reference 2", "one normalises the images before D's first conv",
                                          "brightness and contrast"],
        "test_discriminator_layers": ["D normalises the images with `0` (BatchNorm2d", "no BatchNorm on D's input layer"],
    }),
    # BatchNorm after every conv, the first and the output one included: both misplaced ones are named
    "batchnorm_after_every_conv": (d_body(first_norm=True, head="nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias={bias}), nn.BatchNorm2d(1), nn.Flatten(0)"), {
        "test_discriminator_parameters": ["4 BatchNorm layers, the reference 2", "one follows D's first conv",
                                          "one comes after D's output conv"],
        "test_discriminator_layers": ["D has a BatchNorm after its output conv"],
    }),
    "batchnorm_eps_0_8": (d_body().replace("nn.BatchNorm2d(ndf * 2)", "nn.BatchNorm2d(ndf * 2, 0.8)"), {
        "test_discriminator_layers": ["D's `3` (BatchNorm2d", "has eps = 0.8", "keep the default, nn.BatchNorm2d(c)"],
    }),
    # conv -> LeakyReLU -> BatchNorm: the stage after the BatchNorm has no activation, and the order is named
    "batchnorm_after_leaky_relu": ("""
        D = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True), nn.BatchNorm2d(ndf * 2),
            nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.LeakyReLU(0.2, True), nn.BatchNorm2d(ndf * 4),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Flatten(0),
        )
        D.apply(weights_init)
        return D
    """, {"test_discriminator_layers": ["After `4` (BatchNorm2d), D's hidden stage passes its values on unchanged",
                                        "the order is conv -> BatchNorm -> LeakyReLU(0.2)"]}),
    "eight_times_ndf_at_4x4": (d_body(c4=8), {"test_discriminator_parameters": ["32 -> 128 channels", "32 -> 64 channels"]}),
    "max_pooling": ("""
        D = nn.Sequential(
            nn.Conv2d(1, ndf, 3, 1, 1, bias=False), nn.MaxPool2d(2), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 3, 1, 1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, ndf * 4, 3, 1, 1, bias=False), nn.MaxPool2d(2, ceil_mode=True), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Flatten(0),
        )
        D.apply(weights_init)
        return D
    """, {
        "test_discriminator_parameters": ["layer 1 with weights", "1 -> 16 channels with a 3x3 kernel"],
        "test_discriminator_layers": ["D uses `1` (MaxPool2d", "DCGAN has no pooling", "stride 2"],
    }),
    "hidden_linear_head": (d_body(head="nn.Flatten(), nn.Linear(ndf * {c4} * 16, 128, bias=False), nn.LeakyReLU(0.2), nn.Linear(128, 1, bias=False), nn.Flatten(0)"), {
        "test_discriminator_parameters": ["5 conv/linear layers with weights, the reference 4"],
        "test_discriminator_layers": ["D uses `9` (Linear(in_features=1024, out_features=128", "hidden fully connected layer"],
        "test_discriminator_init": ["`9.weight` (an nn.Linear)", "reaches only conv and BatchNorm layers"],
    }),
    "relu_in_d": (d_body(act="nn.ReLU(True)"), {
        "test_discriminator_layers": ["After `0` (Conv2d), D's hidden stage, with `1` (ReLU", "sets negative values to 0",
                                      "LeakyReLU(0.2)", "ReLU is G's activation"]}),
    "functional_relu_in_d": (D_CLASS.format(act="F.relu(x)"), {
        "test_discriminator_layers": ["After `c1` (Conv2d), D's hidden stage sets negative values to 0 (ReLU)",
                                      "LeakyReLU(0.2)"]}),
    "leaky_relu_default_slope": (d_body(act="nn.LeakyReLU()"), {
        "test_discriminator_layers": ["slope 0.01", "pass negative_slope=0.2"]}),
    "leaky_relu_true_as_in_relu_true": (d_body(act="nn.LeakyReLU(True)"), {
        "test_discriminator_layers": ["passes its values on unchanged", "takes True as its slope",
                                      "nn.LeakyReLU(0.2, inplace=True)"]}),
    "leaky_relu_negative_slope": (d_body(act="nn.LeakyReLU(-0.2)"), {
        "test_discriminator_layers": ["multiplies negative values by -0.2", "the slope is +0.2"]}),
    "functional_leaky_relu_default_slope": (D_CLASS.format(act="F.leaky_relu(x)"), {
        "test_discriminator_layers": ["slope 0.01", "pass negative_slope=0.2"]}),
    "dropout_in_d": (d_body(act="nn.LeakyReLU(0.2), nn.Dropout(0.3)"), {
        "test_discriminator_layers": ["sets random values to 0", "DCGAN has no dropout"]}),
    "tanh_after_the_last_conv": (d_body(head="nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias={bias}), nn.Flatten(0), nn.Tanh()"), {
        "test_discriminator_logits": ["D's output is not the raw output of `8`", "squashes its values into [-1, 1] (tanh)",
                                      "the output stage is the conv alone"]}),
    "leaky_relu_after_the_last_conv": (
        d_body(head="nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias={bias}), nn.Flatten(0), nn.LeakyReLU(0.2)"), {
            "test_discriminator_logits": ["D's output is not the raw output of `8`", "slope 0.2",
                                          "the output stage is the conv alone"]}),
    "default_init": (d_body(init=""), {"test_discriminator_init": ["`0.weight` has standard deviation", "not 0.02"]}),
    "batchnorm_scales_drawn_at_0": (d_body(init="""
        for p in D.parameters():
                if p.dim() > 0:
                    nn.init.normal_(p, 0.0, 0.02)"""), {"test_discriminator_init": ["`3.weight` (BatchNorm's scale) has mean"]}),
    # Found by red-teaming the checks: channel counts written as the numbers they are at ndf = 16 passed every check
    "a_batchnorm_width_written_for_ndf_16": (d_body().replace("nn.BatchNorm2d(ndf * 2)", "nn.BatchNorm2d(32)"), {
        "test_discriminator_shape": ["D works for ndf = 16 but not for ndf = 32", "`3` (BatchNorm2d(32", "ndf * 2"],
        "test_discriminator_parameters": ["matches the reference at ndf = 16 but not at ndf = 32", "normalise [32, 128]"],
    }),
    "an_output_conv_width_written_for_ndf_16": (d_body(head="nn.Conv2d(64, 1, 4, 1, 0, bias={bias}), nn.Flatten(0)"), {
        "test_discriminator_shape": ["D works for ndf = 16 but not for ndf = 32", "takes 64 channels", "ndf * 4"],
        "test_discriminator_parameters": ["not at ndf = 32", "maps 64 -> 1 channel"],
    }),
    # a bias on D's input conv only, which no BatchNorm follows: not "redundant"
    "a_bias_on_the_input_conv_only": (d_body(first="nn.Conv2d(1, ndf, 4, 2, 1)"), {
        "test_discriminator_parameters": ["biases of `0`", "no BatchNorm follows it", "Pass bias=False"]}),
    # PReLU starting at slope 0.2 behaves as LeakyReLU(0.2), but learns its slope: the parameters name it
    "prelu_at_slope_0_2": (d_body(act="nn.PReLU(init=0.2)"), {
        "test_discriminator_parameters": ["`1` (PReLU) is an activation with learnable parameters", "nn.LeakyReLU(0.2)"]}),
    "init_with_0_02_as_the_mean": (d_body(init="""for m in D.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.data.normal_(0.02)"""), {"test_discriminator_init": ["passes 0.02 as the mean", "std=0.02"]}),
    # found by the lessons' false-positive red team: D's output layer kept PyTorch's init, std 0.018 at width 16 (fan_in
    # 1024), and passed: a Linear output layer left to weights_init, and the output conv outside the init's submodule
    "a_linear_output_layer_left_to_weights_init": (d_body(head="nn.Flatten(), nn.Linear(ndf * {c4} * 16, 1, bias=False), nn.Flatten(0)"), {
        "test_discriminator_init": ["`9.weight` (an nn.Linear) has standard deviation 0.018, PyTorch's default",
                                    "reaches only conv and BatchNorm layers"]}),
    "the_output_conv_outside_the_init": ("""
        class Discriminator(nn.Module):
            def __init__(self):
                super().__init__()
                self.main = nn.Sequential(
                    nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
                    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
                    nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True))
                self.out = nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)
                self.main.apply(weights_init)
            def forward(self, x):
                return self.out(self.main(x)).view(-1)
        return Discriminator()
    """, {"test_discriminator_init": ["`out.weight` has standard deviation 0.018, PyTorch's default for its size",
                                      "D.apply(weights_init), not a part of it"]}),
    # found by round four of the lessons' red team: SN-GAN's spectral norm around DCGAN's convs (the hook API keeps the
    # parameter count and the layers' trace) passed all five checks; through the parametrizations API, or with weight
    # norm, the wrapped output conv was not seen as a conv, and D was told of a BatchNorm after it and logits >= 0
    "spectral_norm_on_every_conv": ("""
        sn = nn.utils.spectral_norm
        D = nn.Sequential(
            sn(nn.Conv2d(1, ndf, 4, 2, 1, bias=False)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False)), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)), nn.Flatten(0))
        D.apply(weights_init)
        return D
    """, {"test_discriminator_layers": ["`0`, `2`, `5` and `8` are spectral-normalised", "SN-GAN", "plain nn.Conv2d"]}),
    "spectral_norm_parametrization_on_the_output_conv": (d_body(
        head="nn.utils.parametrizations.spectral_norm(nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias=False)), nn.Flatten(0)"), {
        "test_discriminator_logits": ["`8` is spectral-normalised"],
        "test_discriminator_layers": ["`8` is spectral-normalised", "SN-GAN"]}),
    "weight_norm_on_the_output_conv": (d_body(
        head="nn.utils.parametrizations.weight_norm(nn.Conv2d(ndf * {c4}, 1, 4, 1, 0, bias=False)), nn.Flatten(0)"), {
        "test_discriminator_parameters": ["`8` is weight-normalised", "a learned scale"],
        "test_discriminator_layers": ["`8` is weight-normalised"]}),
}


def check_wrong(source: str, body: str, expected: dict[str, list[str]], names: tuple[str, ...]) -> None:
    got = results(namespace(replaced(source, body)), names)
    for name in names:
        points, message = got[name]
        if name not in expected:
            assert (points, message) == (1.0, ""), f"{name} should pass: {message}"
            continue
        assert points == 0.0, f"{name} should fail"
        for words in expected[name]:
            assert words in message, f"{name}: {words!r} not in {message!r}"


@pytest.mark.parametrize("name", list(G_WRONG))
def test_wrong_generators_fail_with_the_fault_named(name):
    body, expected = G_WRONG[name]
    check_wrong(G_SOURCE, body, expected, G_CHECKS)


@pytest.mark.parametrize("name", list(D_WRONG))
def test_wrong_discriminators_fail_with_the_fault_named(name):
    body, expected = D_WRONG[name]
    check_wrong(D_SOURCE, body, expected, D_CHECKS)


@pytest.mark.parametrize("name", ["batchnorm_on_the_output_layer", "batchnorm_on_the_logits_registered_first"])
def test_a_batchnorm_on_the_logits_is_not_called_one_on_the_input_layer(name):
    body, _ = D_WRONG[name]
    got = results(namespace(replaced(D_SOURCE, body)), ("test_discriminator_parameters", "test_discriminator_layers"))
    assert all(points == 0.0 and "input layer" not in message for points, message in got.values()), got


def test_a_batchnorm_on_the_input_layer_is_not_called_one_on_the_logits():
    body, _ = D_WRONG["batchnorm_on_the_input_layer_registered_last"]
    got = results(namespace(replaced(D_SOURCE, body)), ("test_discriminator_parameters", "test_discriminator_layers"))
    assert all(points == 0.0 and "output conv" not in message for points, message in got.values()), got


def test_every_check_has_at_least_two_wrong_answers():
    failing: dict[str, int] = {}
    for _, expected in [*G_WRONG.values(), *D_WRONG.values()]:
        for name, words in expected.items():
            if words != [NOT_YET]:
                failing[name] = failing.get(name, 0) + 1
    assert {name: failing.get(name, 0) >= 2 for name in G_CHECKS + D_CHECKS} == {name: True for name in G_CHECKS + D_CHECKS}


# ---------------------------------------------------------------------------------------------
# The lesson's named config
# ---------------------------------------------------------------------------------------------


def test_mnist_dcgan_config_is_a_valid_dcgan_run_on_mnist():
    values = read_config_file("mnist-dcgan")
    cfg = TrainConfig.from_dict(values, "mnist-dcgan.toml")
    cfg.validate()
    assert (cfg.model, cfg.dataset) == ("dcgan", "mnist")


def test_mnist_dcgan_config_trains_one_step_on_tiny_mnist(tmp_path, tiny_mnist_root):
    """The config's settings run end to end through the trainer (a few images, one epoch)."""
    from reference.trainer import train

    values = {**read_config_file("mnist-dcgan"), "epochs": 1, "data_dir": str(tiny_mnist_root), "device": "cpu",
              "progress": False, "num_samples": 4}
    cfg = TrainConfig.from_dict(values)
    cfg.max_images = cfg.batch_size  # one step
    run = train(cfg, tmp_path / "run")
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "samples" / "epoch_001.png").is_file()


# ---------------------------------------------------------------------------------------------
# The lesson's helpers in reference/figures/lesson_03.py
# ---------------------------------------------------------------------------------------------


def test_elapsed_and_fid_at_read_the_training_seconds():
    from reference.figures import lesson_03 as figures

    rows = [{"seconds": 10.0, "fid": 300.0}, {"seconds": 12.0, "fid": 200.0}, {"seconds": 11.0, "fid": 150.0}]
    assert figures.elapsed(rows) == [10.0, 22.0, 33.0]
    assert figures.fid_at(rows, 15.0) == (200.0, 22.0)  # the first epoch that ended after 15 s
    assert figures.fid_at(rows, 22.0) == (200.0, 22.0)
    assert figures.fid_at(rows, 99.0) == (150.0, 33.0)  # never reached: the last epoch


def test_train_for_seconds_stops_once_the_budget_is_spent(tmp_path, tiny_mnist_root, monkeypatch):
    """One epoch when the budget is 0. With every epoch made to count 2 s, a budget of 5 s takes one
    epoch, then a resumed run for the missing ceil(3 / 2) = 2 epochs: 3 epochs, 6 s."""
    import csv

    from reference import trainer
    from reference.figures import lesson_03 as figures

    cfg = TrainConfig(model="mlp", dataset="mnist", data_dir=str(tiny_mnist_root), batch_size=8, max_images=16,
                      epochs=99, device="cpu", progress=False, num_samples=4)
    run = figures.train_for_seconds(cfg, tmp_path / "zero", 0.0)
    assert len(figures.metrics(run)) == 1

    real_train, calls = trainer.train, []

    def two_seconds_per_epoch(cfg, out, **kwargs):
        run = real_train(cfg, out, **kwargs)
        calls.append(cfg.epochs)
        with open(run / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        with open(run / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({**row, "seconds": "2.0"} for row in rows)
        return run

    monkeypatch.setattr(trainer, "train", two_seconds_per_epoch)
    rows = figures.metrics(figures.train_for_seconds(cfg, tmp_path / "budget", 5.0))
    assert calls == [1, 3] and len(rows) == 3 and figures.elapsed(rows) == [2.0, 4.0, 6.0]


def test_nearest_training_images_finds_copies_at_distance_0():
    from reference.figures import lesson_03 as figures

    gen = torch.Generator().manual_seed(0)
    train_images = torch.randint(0, 256, (50, 1, 28, 28), generator=gen, dtype=torch.uint8)
    samples = train_images[[7, 3]].float() / 255.0
    samples[1, 0, 0, 0] = 1 - samples[1, 0, 0, 0]  # one pixel changed
    index, distance = figures.nearest_training_images(samples, train_images, batch=1)
    assert index.tolist() == [7, 3]
    assert distance[0].item() == pytest.approx(0.0, abs=1e-3)
    assert distance[1].item() == pytest.approx(abs(1 - 2 * train_images[3, 0, 0, 0].item() / 255.0), abs=1e-3)


def test_p_all_classes_is_exact():
    import numpy as np

    from reference.figures import lesson_03 as figures

    assert figures.p_all_classes(np.array([0.5, 0.5]), 2) == pytest.approx(0.5)  # HT or TH
    assert figures.p_all_classes(np.array([1 / 3] * 3), 3) == pytest.approx(6 / 27)
    assert figures.p_all_classes(np.full(10, 0.1), 9) == pytest.approx(0.0)


def test_the_figure_functions_return_figures():
    from matplotlib.figure import Figure

    from reference.figures import lesson_03 as figures
    from reference.models import get_model

    rows = [{"epoch": 1.0, "seconds": 5.0, "fid": 300.0, "d_g_z": 0.3}, {"epoch": 2.0, "seconds": 5.0, "fid": 200.0, "d_g_z": 0.4}]
    G, _ = get_model("dcgan").build((1, 28, 28), 100, ngf=8, ndf=8)
    images = torch.rand(6, 1, 28, 28)
    figs = [
        figures.fid_over_time({"a": rows, "b": rows}),
        figures.sample_grids({"a": images, "b": images}),
        figures.interpolation_strip(G, 100, rows=2, steps=3),
        figures.nearest_figure(images[:3], images, torch.tensor([0, 1, 2]), torch.rand(6), torch.rand(10)),
        figures.port_curves({("a", 0): rows, ("b", 0): rows}, max_images=100),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    import matplotlib.pyplot as plt

    for f in figs:
        plt.close(f)
