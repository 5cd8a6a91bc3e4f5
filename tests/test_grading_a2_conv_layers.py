"""The a2 autograder gives the right score and message to right and wrong submissions.

Each submission is the solution notebook with the `DeeperGenerator` cell replaced (and, for the
cheats, a cell added), graded by every check of tests/autograders/test_a2_conv_layers.py. The
solution, the student version and every submission that tampers with the grading (the cheats, a
patched FID) run in the sandboxed worker like a student's notebook, graded across the proxy; the
honest ones are graded in this process (`graded_here`), and test_the_sandbox_grades_like_this_process
shows that the sandbox gives a sample of them the same results. The digits classifier of the
learning check is trained once per module into a temporary cache. How the learning verdict holds
over seeds is tested in tests/test_learning.py; here each submission is graded once.

The notebook itself is tested in a kernel too: the reflection is a hand-graded answer cell with
its rubric, the training cell prints both generators' classifier-FIDs (smoke mode, 20 steps each),
and "Run All" on the untouched student version reaches every visible check.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from torch import nn

from conftest import graded_here, notebook_with_cells
from reference.grading import probes_a2
from reference.grading.checks import END_WITH_TANH
from reference.grading.runner import grade_notebook

A = "a2_conv_layers"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = [
    "test_conv_output_size",
    "test_activation_shapes",
    "test_output_shape",
    "test_output_range",
    "test_adds_conv_layers",
    "test_parameters_get_gradients",
    "test_learns",
]
FULL = dict(zip(CHECKS, (2.0, 2.0, 2.0, 1.0, 2.0, 1.0, 4.0)))
TOOL_CHECKS = CHECKS[:2]  # the tools of the `shape_tools` cell; the other checks grade `DeeperGenerator`
OK = {name: (points, "") for name, points in FULL.items()}


REFERENCE_SET = "digits"  # what the learning check trains on; `grading_cache` trains its classifier first (~10 s)
pytestmark = pytest.mark.usefixtures("grading_cache")


def submission(tmp_path: Path, source: str, extra: str | None = None) -> Path:
    """The solution notebook with the `deeper_generator` cell's source replaced by `source`; `extra`
    is appended to that cell (code a student adds below their class)."""
    code = textwrap.dedent(source).strip("\n") + "\n"
    if extra:
        code += "\n" + textwrap.dedent(extra).strip("\n") + "\n"
    return notebook_with_cells(SOLUTION, tmp_path, {"deeper_generator": code})


def scores(path: Path, only=None) -> dict[str, tuple[float, str]]:
    """An honest submission's results, graded in this process."""
    return graded_here(path, A, only=only)


def sandboxed(path: Path, only=None) -> dict[str, tuple[float, str]]:
    """The results of `gan-course autograde`: cells in the sandboxed worker, checks across the proxy."""
    return grade_notebook(path, A, ROOT, only=only)


def test_solution_scores_full_marks():
    assert sandboxed(SOLUTION) == OK


def test_unmodified_student_version_scores_zero_everywhere():
    message = "`{}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    unwritten = {"test_conv_output_size": "conv_output_size", "test_activation_shapes": "activation_shapes"}
    assert sandboxed(STUDENT) == {name: (0.0, message.format(unwritten.get(name, "DeeperGenerator.__init__"))) for name in CHECKS}


# A generator written out layer by layer; <EXTRA_7>, <EXTRA_14>, <LAST_CONV> and <LAST> are filled per variant.
EXPLICIT = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (nz, 1, 1)),
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            <EXTRA_7>
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            <EXTRA_14>
            <LAST_CONV>,
            <LAST>
        )
        self.apply(weights_init)

    def forward(self, z):
        return self.net(z)
'''


def explicit(extra_7: str = "", extra_14: str = "", last: str = "nn.Tanh(),", last_conv: str = "nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)") -> str:
    return EXPLICIT.replace("<EXTRA_7>", extra_7).replace("<EXTRA_14>", extra_14).replace("<LAST>", last).replace("<LAST_CONV>", last_conv)


REGISTER = (
    "layers kept in a plain Python list or dict (or made in forward) are not registered, so .parameters(), the "
    "optimizer and weights_init never see them and they never learn: keep them in nn.Sequential or nn.ModuleList, "
    "assigned in __init__"
)
BLOCK_14 = "nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),"

CORRECT = {
    # one Conv2d block at 4x4, right after the first stage, written as separate attributes
    "conv2d_block_at_4x4_attributes": '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(nz, ngf, channels=1, size=28).main)
                self.head = nn.Sequential(*layers[:4])
                self.extra = nn.Conv2d(ngf * 4, ngf * 4, 3, padding=1, bias=False)
                self.extra_bn = nn.BatchNorm2d(ngf * 4)
                self.tail = nn.Sequential(*layers[4:])
                self.apply(weights_init)

            def forward(self, z):
                x = self.head(z)
                x = torch.relu(self.extra_bn(self.extra(x)))
                return self.tail(x)
    ''',
    # stride-1 ConvTranspose2d at 7x7 and 14x14, without BatchNorm, with biases
    "conv_transpose_without_batchnorm": explicit(
        extra_7="nn.ConvTranspose2d(ngf * 2, ngf * 2, 3, 1, 1), nn.ReLU(True),",
        extra_14="nn.ConvTranspose2d(ngf, ngf, 3, 1, 1), nn.ReLU(True),",
    ),
    # two 3x3 convs at 14x14 (StyleGAN-like: two per resolution), LeakyReLU, F.tanh at the end in forward
    "two_convs_at_14x14_functional_tanh": '''
        import torch.nn.functional as F

        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, 1, 28).main)
                self.body = nn.Sequential(*given[:10])
                self.refine = nn.Sequential(
                    nn.Conv2d(ngf, ngf, 3, 1, 1), nn.BatchNorm2d(ngf), nn.LeakyReLU(0.2),
                    nn.Conv2d(ngf, ngf, 3, 1, 1), nn.BatchNorm2d(ngf), nn.LeakyReLU(0.2),
                )
                self.to_image = given[10]
                self.apply(weights_init)

            def forward(self, z):
                return F.tanh(self.to_image(self.refine(self.body(z))))
    ''',
    # a block at every resolution, kept in nn.ModuleList and applied in a loop
    "module_list_one_block_per_stage": '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.stages = nn.ModuleList([nn.Sequential(*given[:4]), nn.Sequential(*given[4:7]), nn.Sequential(*given[7:10])])
                self.blocks = nn.ModuleList(
                    nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)) for c in (ngf * 4, ngf * 2, ngf)
                )
                self.out = nn.Sequential(*given[10:])
                self.apply(weights_init)

            def forward(self, z):
                x = z
                for stage, block in zip(self.stages, self.blocks):
                    x = block(stage(x))
                return self.out(x)
    ''',
    # a residual block at 14x14: x + F(x), two 3x3 convs, ReLU after the sum
    "residual_block_at_14x14": '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.body = nn.Sequential(*given[:10])
                self.residual = nn.Sequential(
                    nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                    nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf),
                )
                self.out = nn.Sequential(*given[10:])
                self.apply(weights_init)

            def forward(self, z):
                x = self.body(z)
                return self.out(torch.relu(x + self.residual(x)))
    ''',
    # resize-convolution for the last stage (Odena et al. 2016): nearest upsampling 14 -> 28, then 3x3 convs
    "resize_convolution_last_stage": explicit(
        extra_14="nn.Upsample(scale_factor=2), nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),",
        last_conv="nn.Conv2d(ngf, 1, 3, 1, 1, bias=False)",
    ),
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, CORRECT[name])) == OK


def test_visible_checks_in_the_students_kernel(tmp_path):
    """The visible checks run in the student's kernel (LocalSubmission) with the same verdicts."""
    from reference.grading.checks import run_check
    from reference.grading.local import execute_notebook, load_checks

    checks = load_checks(A, ROOT)
    wrong = submission(tmp_path, explicit(last_conv="nn.ConvTranspose2d(ngf, 1, 3, 2, 1, bias=False)", extra_14=BLOCK_14))
    for path, expected in ((SOLUTION, 2.0), (wrong, 0.0)):
        local = execute_notebook(path)
        try:
            assert run_check(checks["test_output_shape"], local)[0] == expected
        finally:
            local.close()  # removes its copy of the notebook's folder


def test_learning_hint_names_a_conv_that_shrinks_the_image_at_the_start():
    """A conv from the 1-channel image to itself before the Tanh, initialised as DCGAN's N(0, 0.02): the output starts
    about 18 times flatter than the given generator's and learns slowly. The hint said to add BatchNorm and ReLU (after
    that conv, they would make the output never negative); it names the conv and where extra layers go."""
    from reference.grading import learning
    from reference.grading.local import load_module
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    hint = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py").learning_hint

    class DeeperGenerator(nn.Module):
        def __init__(self, nz=100, ngf=64):
            super().__init__()
            layers = list(Generator(nz, ngf, channels=1, size=28).main)
            self.main = nn.Sequential(*layers[:-1], nn.Conv2d(1, 1, 3, 1, 1, bias=False), layers[-1])
            self.apply(weights_init)

        def forward(self, z):
            return self.main(z)

    slow = learning.LearningResult("fail", "", [learning.Run(seed, [(0, 330.0), (300, 260.0)], 0.0, 1.0, spread=5.0) for seed in range(3)], 238.0, 167.0, 300)
    told = hint(LocalSubmission({"DeeperGenerator": DeeperGenerator}), slow)
    assert told.startswith("its output starts ") and "times flatter than the given generator's" in told, told
    assert told.endswith("`main.11` maps the 1-channel image to itself with small N(0, 0.02) weights, which shrinks it: put "
                         "extra layers between the stages, on c channels, and keep the given last layer from ngf channels "
                         "to 1"), told

    class Between(DeeperGenerator):  # the extra block between two stages, as the solution has it: no flat start
        def __init__(self, nz=100, ngf=64):
            nn.Module.__init__(self)
            layers = list(Generator(nz, ngf, channels=1, size=28).main)
            block = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
            self.main = nn.Sequential(*layers[:10], *block, *layers[10:])
            self.apply(weights_init)

    assert hint(LocalSubmission({"DeeperGenerator": Between}), slow).startswith("compare its stages")


def test_learning_hint_names_a_fault_in_the_code_before_the_collapse_it_causes():
    """Samples that are all one image are a symptom: a sigmoid output causes it on one CPU's
    arithmetic and not on another's, so the hint names the code's fault first, and the symptom
    only when the code shows none (here a generator that ignores z)."""
    from reference.grading import learning
    from reference.grading.local import load_module
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator

    hint = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py").learning_hint

    def generator(last: nn.Module, ignores_z: bool = False) -> type:
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(nz, ngf, channels=1, size=28).main)
                self.main = nn.Sequential(*layers[:-1], last)
                self.register_buffer("z0", torch.randn(1, nz))

            def forward(self, z):
                return self.main(self.z0.expand(len(z), -1) + 0 * z if ignores_z else z)

        return DeeperGenerator

    collapsed = learning.LearningResult("fail", "", [learning.Run(seed, [(0, 300.0), (300, 280.0)], 0.0, 1.0, spread=0.0) for seed in range(3)], 250.0, 175.0, 300)
    assert hint(LocalSubmission({"DeeperGenerator": generator(nn.Sigmoid())}), collapsed).startswith("its output is never negative")
    assert hint(LocalSubmission({"DeeperGenerator": generator(nn.Tanh(), ignores_z=True)}), collapsed).startswith(
        "its samples are all the same image"
    )
    # a conv after the Tanh: positive at the initial weights (its small weights, a positive bias), not in
    # general: the hint says the output leaves [-1, 1], not that it is never negative, and names the conv after the Tanh
    torch.manual_seed(3)
    after = nn.Sequential(nn.Tanh(), nn.Conv2d(1, 1, 3, 1, 1))
    nn.init.normal_(after[1].weight, 0.0, 0.02), nn.init.constant_(after[1].bias, 0.1)
    told = hint(LocalSubmission({"DeeperGenerator": generator(after)}), collapsed)
    assert told.startswith("its output leaves [-1, 1], the digits' range (it reaches [") and told.endswith(
        "once its weights are scaled up): `main.11.1` (Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))) "
        "runs after the nn.Tanh(), which no longer bounds the output: put the added layers before the last stage, and "
        "keep nn.Tanh() the generator's last layer"
    ), told


def test_layers_made_in_forwards_first_call_and_fewer_convs_are_told_so():
    """Red-team findings: layers built in forward's first call (self.main = None in __init__) kept the gradient check's
    point (the probe lists the parameters before forward makes any); a generator with fewer convs than the given one
    was told it had "as many as" it."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_module
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator

    module = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")

    class Lazy(nn.Module):
        def __init__(self, nz=100, ngf=64):
            super().__init__()
            self.nz, self.ngf, self.main = nz, ngf, None

        def forward(self, z):
            if self.main is None:
                self.main = Generator(self.nz, self.ngf, channels=1, size=28).main
            return self.main(z)

    points, told = run_check(module.test_parameters_get_gradients, LocalSubmission({"DeeperGenerator": Lazy}))
    assert points == 0.0 and told.startswith("generator has no parameters until its forward first runs ("), told

    class Fewer(nn.Module):
        def __init__(self, nz=100, ngf=64):
            super().__init__()
            layers = list(Generator(nz, ngf, channels=1, size=28).main)
            self.main = nn.Sequential(*layers[:7], nn.Upsample(size=28), nn.Conv2d(ngf * 2, 1, 3, 1, 1), nn.Tanh())

        def forward(self, z):
            return self.main(z)

    points, told = run_check(module.test_adds_conv_layers, LocalSubmission({"DeeperGenerator": Fewer}))
    assert (points, told) == (0.0, "generator runs 3 conv layers, fewer than the given DCGAN generator (4); keep the "
                                   "given generator's layers and add to them, e.g. nn.Conv2d(c, c, 3, 1, 1) + "
                                   "nn.BatchNorm2d(c) + nn.ReLU() between two stages")


def test_a_generator_that_reduces_z_to_one_number_loses_the_gradient_point():
    """z.mean(1) expanded back to z's shape: every dimension of z gets a gradient, so the noise check passed, and
    the images vary along one line of z only (red-team finding: 8/10 with the learning run's 2). The gradients of
    several random projections span one direction of z; a plain generator's span all those measured."""
    from reference.grading import probes
    from reference.grading.checks import RANK_PROJECTIONS, run_check
    from reference.grading.local import load_module
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator

    module = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    assert probes.RANK_PROJECTIONS == RANK_PROJECTIONS

    class MeanOfZ(nn.Module):
        def __init__(self, nz=100, ngf=64):
            super().__init__()
            layers = list(Generator(nz, ngf, channels=1, size=28).main)
            block = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
            self.main = nn.Sequential(*layers[:10], *block, *layers[10:])

        def forward(self, z):
            return self.main(z.mean(dim=1, keepdim=True).expand_as(z))

    points, told = run_check(module.test_parameters_get_gradients, LocalSubmission({"DeeperGenerator": MeanOfZ}))
    assert points == 0.0 and told.startswith("the generator's output depends on z through 1 number per sample only ("), told
    assert "z.mean(1)" in told and "pass z itself into the first layer" in told
    plain = probes.noise_reach(Generator(100, 16, channels=1, size=28), torch.randn(8, 100))
    assert plain["rank"] == RANK_PROJECTIONS


def test_trace_names_the_layer_that_raised_and_unregistered_layers():
    class Listed(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Conv2d(1, 2, 3, 1, 1)]
            self.head = nn.Conv2d(2, 3, 1)

        def forward(self, x):
            return self.head(self.layers[0](x))

    traced = probes_a2.trace(Listed(), torch.zeros(2, 1, 5, 5))
    assert [(c["name"], c["type"], c["in"], c["out"]) for c in traced["calls"]] == [
        (None, "Conv2d", [2, 1, 5, 5], [2, 2, 5, 5]),
        ("head", "Conv2d", [2, 2, 5, 5], [2, 3, 5, 5]),
    ]
    broken = probes_a2.trace(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(3, 1, 3)), torch.zeros(2, 1, 9, 9))
    assert broken["failed"] == 1 and broken["error"]["type"] == "RuntimeError" and broken["calls"][1]["out"] is None
    paths = probes_a2.conv_paths(Listed(), torch.zeros(2, 1, 5, 5))
    assert paths["convs"] == [["head", "Conv2d", True, True]] and paths["unregistered"] == [["Conv2d", 20]]


NOISE_GRADIENT_ZERO = (
    "the generator's output has no gradient to the z it is given (exactly 0): it draws noise of its own, or passes z "
    "through a step (a sign, a rounding, a comparison) that picks between a few fixed images; forward(z) must map z "
    "itself, so that a fixed z draws a fixed image and each z its own"
)


WRONG = {
    # ConvTranspose2d(k=3, s=1) without padding grows 14x14 to 16x16: the last stage makes 32x32
    "extra_layer_changes_output_size": (
        explicit(extra_14="nn.ConvTranspose2d(ngf, ngf, 3, 1, 0, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),"),
        {
            "test_output_shape": (
                0.0,
                "generator output is (N, 1, 32, 32): `net.10` (ConvTranspose2d(16, 16, kernel_size=(3, 3), "
                "stride=(1, 1), bias=False)) turns (N, 16, 14, 14) into (N, 16, 16, 16): a layer between two "
                "stages must keep height and width: kernel 3, stride 1, padding 1; expected (N, 1, 28, 28)",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the generator: the generator returns (N, 1, 32, 32); expected "
                "(N, 1, 28, 28)",
            ),
        },
    ),
    # a correct extra block, but the last stage written with kernel 3: 14x14 -> 27x27 (the last layer's fault, not the block's)
    "last_stage_kernel_3": (
        explicit(extra_14=BLOCK_14, last_conv="nn.ConvTranspose2d(ngf, 1, 3, 2, 1, bias=False)"),
        {
            "test_output_shape": (
                0.0,
                "generator output is (N, 1, 27, 27): `net.13` (ConvTranspose2d(16, 1, kernel_size=(3, 3), "
                "stride=(2, 2), padding=(1, 1), bias=False)) turns (N, 16, 14, 14) into (N, 1, 27, 27); the "
                "stage from 14x14 to 28x28 takes kernel 4, stride 2, padding 1, as in the given generator; "
                "expected (N, 1, 28, 28)",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the generator: the generator returns (N, 1, 27, 27); expected "
                "(N, 1, 28, 28)",
            ),
        },
    ),
    # a block for 7x7 (ngf*2 channels) put at 14x14 (ngf channels): forward raises in that conv
    "block_with_the_wrong_channels": (
        explicit(extra_14="nn.Conv2d(ngf * 2, ngf * 2, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),"),
        {
            "test_output_shape": (
                0.0,
                "generator output fails: `net.10` (Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, "
                "1), bias=False)) takes 32 channels but gets (N, 16, 14, 14): its in_channels must be the "
                "channels at that point (the out_channels of the layer before it: ngf*4 at 4x4, ngf*2 at 7x7, "
                "ngf at 14x14); expected (N, 1, 28, 28)",
            ),
            "test_output_range": (
                0.0,
                "generator output fails: `net.10` (Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, "
                "1), bias=False)) takes 32 channels but gets (N, 16, 14, 14): its in_channels must be the "
                "channels at that point (the out_channels of the layer before it: ngf*4 at 4x4, ngf*2 at 7x7, "
                "ngf at 14x14); expected (N, 1, 28, 28)",
            ),
            "test_adds_conv_layers": (
                0.0,
                "generator output fails: `net.10` (Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, "
                "1), bias=False)) takes 32 channels but gets (N, 16, 14, 14): its in_channels must be the "
                "channels at that point (the out_channels of the layer before it: ngf*4 at 4x4, ngf*2 at 7x7, "
                "ngf at 14x14); expected (N, 1, 28, 28)",
            ),
            "test_parameters_get_gradients": (
                0.0,
                "generator output fails: `net.10` (Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, "
                "1), bias=False)) takes 32 channels but gets (N, 16, 14, 14): its in_channels must be the "
                "channels at that point (the out_channels of the layer before it: ngf*4 at 4x4, ngf*2 at 7x7, "
                "ngf at 14x14); expected (N, 1, 28, 28)",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the generator: generator output fails: `net.10` (Conv2d(32, 32, "
                "kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)) takes 32 channels but gets (N, "
                "16, 14, 14): its in_channels must be the channels at that point (the out_channels of the layer "
                "before it: ngf*4 at 4x4, ngf*2 at 7x7, ngf at 14x14); expected (N, 1, 28, 28)",
            ),
        },
    ),
    # the block is added, but the Tanh is dropped: the output is unbounded
    "no_tanh": (
        explicit(extra_14=BLOCK_14, last=""),
        {
            "test_output_range": (
                0.0,
                "generator output reaches [<n>, <n>] once its weights are scaled up; expected [-1, 1]: end the "
                "generator with nn.Tanh(), after the last conv",
            ),
        },
    ),
    # a Sigmoid instead of the Tanh: images in [0, 1]
    "sigmoid_output": (
        explicit(extra_14=BLOCK_14, last="nn.Sigmoid(),"),
        {
            "test_output_range": (
                0.0,
                "generator output stays in [0, 1], never negative even with large weights; expected [-1, 1] (the data "
                f"are scaled to [-1, 1]): {END_WITH_TANH}",
            ),
            "test_learns": (
                0.0,
                "classifier-FID went from <n> (untrained) to at best <n>, <n> and <n> in 3 seeded runs of 300 "
                "training steps on the digits; expected at most <n> (70% of the <n> that one fixed image scores) "
                "in 2 of 3: it does not learn; its output is never negative, while the digits are scaled to [-1, "
                f"1] (black is -1): {END_WITH_TANH}",
            ),
        },
    ),
    # the given generator, unchanged: nothing added
    "no_added_conv_layer": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                self.main = Generator(nz, ngf, channels=1, size=28).main
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
        ''',
        {
            "test_adds_conv_layers": (
                0.0,
                "generator runs 4 conv layers, as many as the given DCGAN generator (4); add at least one, e.g. "
                "nn.Conv2d(c, c, 3, 1, 1) + nn.BatchNorm2d(c) + nn.ReLU() between two stages",
            ),
        },
    ),
    # the layer added is a 1x1 conv on z, (N, nz, 1, 1): it mixes z's numbers as nn.Linear would, over no image
    "one_by_one_conv_on_z": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                self.mix = nn.Sequential(nn.Conv2d(nz, nz, 1, bias=False), nn.BatchNorm2d(nz), nn.ReLU(True))
                self.main = Generator(nz, ngf, channels=1, size=28).main
                self.apply(weights_init)

            def forward(self, z):
                return self.main(self.mix(z.view(len(z), -1, 1, 1)).flatten(1))
        ''',
        {
            "test_adds_conv_layers": (
                0.0,
                "`mix.0` works on a 1x1 input and gives a 1x1 output (z's numbers mixed, as nn.Linear mixes them): no "
                "convolution over an image, so the generator runs 4 conv layers that shape the image, as many as the "
                "given generator's 4; add a conv that works on a feature map, e.g. nn.Conv2d(c, c, 3, 1, 1) + "
                "nn.BatchNorm2d(c) + nn.ReLU() between two stages",
            ),
        },
    ),
    # the block is created but forward never calls it
    "layer_added_but_never_used": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                self.main = Generator(nz, ngf, channels=1, size=28).main
                self.extra = nn.Sequential(nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True))
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
        ''',
        {
            "test_adds_conv_layers": (
                0.0,
                "generator defines 5 conv layers but its forward runs only 4, as many as the given generator: "
                "`extra.0` never run; call them in forward",
            ),
            "test_parameters_get_gradients": (
                0.0,
                "3 of 13 parameters get no gradient (`extra.0.weight`, `extra.1.weight`, `extra.1.bias`): their "
                "layers are not used in forward, or their output is detached or dropped",
            ),
        },
    ),
    # the block runs, but its result is thrown away: x is passed on unchanged
    "block_runs_but_its_output_is_dropped": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(nz, ngf, channels=1, size=28).main)
                self.head = nn.Sequential(*layers[:10])
                self.extra = nn.Sequential(nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True))
                self.tail = nn.Sequential(*layers[10:])
                self.apply(weights_init)

            def forward(self, z):
                x = self.head(z)
                y = self.extra(x)
                return self.tail(x)
        ''',
        {
            "test_adds_conv_layers": (
                0.0,
                "`extra.0` runs in forward, but its output never reaches the image (no gradient gets back to its "
                "weights), so only 4 conv layers shape the output, as many as the given generator's 4: pass each "
                "block's result on, x = block(x), to the next stage",
            ),
            "test_parameters_get_gradients": (
                0.0,
                "3 of 13 parameters get no gradient (`extra.0.weight`, `extra.1.weight`, `extra.1.bias`): their "
                "layers are not used in forward, or their output is detached or dropped",
            ),
        },
    ),
    # the extra block kept in a plain Python list: it runs, but is not registered
    "block_in_a_plain_list": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(nz, ngf, channels=1, size=28).main)
                self.head = nn.Sequential(*layers[:10])
                self.extra = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
                self.tail = nn.Sequential(*layers[10:])
                self.apply(weights_init)

            def forward(self, z):
                x = self.head(z)
                for layer in self.extra:
                    x = layer(x)
                return self.tail(x)
        ''',
        {
            "test_adds_conv_layers": (
                0.0,
                "1 conv layer (Conv2d) runs in forward but is not registered: layers kept in a plain Python list "
                "or dict (or made in forward) are not registered, so .parameters(), the optimizer and "
                "weights_init never see them and they never learn: keep them in nn.Sequential or nn.ModuleList, "
                "assigned in __init__",
            ),
            "test_parameters_get_gradients": (
                0.0,
                "2 layers with weights (Conv2d, BatchNorm2d) run in forward but are not registered: layers kept "
                "in a plain Python list or dict (or made in forward) are not registered, so .parameters(), the "
                "optimizer and weights_init never see them and they never learn: keep them in nn.Sequential or "
                "nn.ModuleList, assigned in __init__",
            ),
        },
    ),
    # a conv made inside forward (new random weights at every call, never trained) and a ReLU before the Tanh:
    # the learning check's hint names the unregistered layer, the range check the ReLU
    "conv_made_in_forward_relu_before_tanh": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                self.ngf = ngf
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.to_14 = nn.Sequential(*given[:10])
                self.to_image = nn.Sequential(given[10], nn.ReLU(), nn.Tanh())
                self.apply(weights_init)

            def forward(self, z):
                x = self.to_14(z)
                x = torch.relu(nn.Conv2d(self.ngf, self.ngf, 3, 1, 1)(x))
                return self.to_image(x)
        ''',
        {
            "test_output_range": (
                0.0,
                "generator output stays in [0, 1], never negative even with large weights; expected [-1, 1] (the data "
                f"are scaled to [-1, 1]): {END_WITH_TANH}",
            ),
            "test_adds_conv_layers": (0.0, f"1 conv layer (Conv2d) runs in forward but is not registered: {REGISTER}"),
            "test_parameters_get_gradients": (0.0, f"1 layer with weights (Conv2d) run in forward but is not registered: {REGISTER}"),
            "test_learns": (
                0.0,
                "classifier-FID went from <n> (untrained) to at best <n>, <n> and <n> in 3 seeded runs of 300 "
                "training steps on the digits; expected at most <n> (70% of the <n> that one fixed image scores) "
                "in 2 of 3: it does not learn; 1 of the layers that run in forward is not registered, so the optimizer "
                f"never trains it: {REGISTER}",
            ),
        },
    ),
    # every layer in a plain Python list: the generator has no parameters at all
    "all_layers_in_a_plain_list": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.layers = given[:10] + [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)] + given[10:]
                for layer in self.layers:
                    layer.apply(weights_init)

            def forward(self, z):
                for layer in self.layers:
                    z = layer(z)
                return z
        ''',
        {
            "test_output_range": (
                0.0,
                "generator has no registered parameters, so its weights cannot be scaled up: layers kept in a "
                "plain Python list or dict (or made in forward) are not registered, so .parameters(), the "
                "optimizer and weights_init never see them and they never learn: keep them in nn.Sequential or "
                "nn.ModuleList, assigned in __init__",
            ),
            "test_adds_conv_layers": (
                0.0,
                "5 conv layers (DenseConvTranspose2d, ConvTranspose2d, ConvTranspose2d, ...) run in forward but "
                "are not registered: layers kept in a plain Python list or dict (or made in forward) are not "
                "registered, so .parameters(), the optimizer and weights_init never see them and they never "
                "learn: keep them in nn.Sequential or nn.ModuleList, assigned in __init__",
            ),
            "test_parameters_get_gradients": (
                0.0,
                "9 layers with weights (DenseConvTranspose2d, BatchNorm2d, ConvTranspose2d, ...) run in forward "
                "but are not registered: layers kept in a plain Python list or dict (or made in forward) are not "
                "registered, so .parameters(), the optimizer and weights_init never see them and they never "
                "learn: keep them in nn.Sequential or nn.ModuleList, assigned in __init__",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the generator: the generator has no trainable parameters: its "
                "layers are not registered (layers kept in a plain Python list or dict are invisible to "
                ".parameters() and the optimizer): keep them in nn.Sequential or nn.ModuleList, assigned in "
                "__init__",
            ),
        },
    ),
    # forward detaches its output: it has the right shape and range but can never learn
    "output_detached": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(nz, ngf, channels=1, size=28).main)
                block = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
                self.main = nn.Sequential(*layers[:10], *block, *layers[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z).detach()
        ''',
        {
            "test_parameters_get_gradients": (
                0.0,
                "generator output does not depend on its parameters (no gradient can flow): remove .detach(), "
                "torch.no_grad() or .data from forward",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the generator: the generator's output does not depend on its "
                "parameters (detached, or made without them), so it cannot learn",
            ),
        },
    ),
    # the nz argument is ignored (the given generator built with 100): right for nz=100 only
    "nz_fixed_at_100": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(100, ngf, channels=1, size=28).main)
                block = [nn.Conv2d(ngf * 2, ngf * 2, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True)]
                self.main = nn.Sequential(*layers[:7], *block, *layers[7:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
        ''',
        {
            "test_output_shape": (
                1.0,
                "with nz=32 the generator output fails: `main.0` (Unflatten(dim=1, unflattened_size=(100, 1, "
                "1))) raised RuntimeError on its input (N, 32): unflatten: Provided sizes [100, 1, 1] don't "
                "multiply up to the size of dim 1 (32) in the input tensor: use the `nz` argument wherever the "
                "noise size matters, do not fix it at 100; expected (N, 1, 28, 28) for every nz",
            ),
        },
    ),
    # written out, with 100 in the first layer's in_channels: z (N, 32) reaches a layer that takes 100 channels
    "nz_written_as_100_in_the_first_layer": (
        explicit(extra_14=BLOCK_14).replace("nn.ConvTranspose2d(nz, ngf * 4", "nn.ConvTranspose2d(100, ngf * 4"),
        {
            "test_output_shape": (
                1.0,
                "with nz=32 the generator output fails: `net.1` (ConvTranspose2d(100, 64, kernel_size=(4, 4), "
                "stride=(1, 1), bias=False)) takes 100 input channels but gets z as (N, 32, 1, 1): use the `nz` "
                "argument, do not fix it at 100; expected (N, 1, 28, 28) for every nz",
            ),
        },
    ),
    # every weight frozen (requires_grad=False), as in a fine-tuning tutorial: nothing can learn
    "weights_frozen": (
        '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(nz, ngf, channels=1, size=28).main)
                block = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
                self.main = nn.Sequential(*layers[:10], *block, *layers[10:])
                self.apply(weights_init)
                for p in self.parameters():
                    p.requires_grad = False

            def forward(self, z):
                return self.main(z)
        ''',
        {
            "test_parameters_get_gradients": (
                0.0,
                "13 of 13 parameters do not require grad (`main.1.weight`, `main.2.weight`, `main.2.bias`, "
                "`main.4.weight`, ...): frozen, they never learn; leave requires_grad on (no "
                "requires_grad_(False) in a generator trained from scratch)",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the generator: the generator cannot learn: none of its 13 "
                "parameter tensors requires grad (frozen, as with requires_grad_(False) for fine-tuning): leave "
                "requires_grad on",
            ),
        },
    ),
    # forward ignores z: one fixed input, so every sample is the same image; and FID patched to 0 in
    # the worker, which changes nothing: the grader computes its own
    "noise_ignored_fid_patched_in_the_worker": (
        '''
        import reference.metrics.fid as _fid
        import reference.metrics.quick_fid as _quick_fid

        _fid.fid = lambda *args, **kwargs: 0.0
        _fid.frechet_distance = lambda *args, **kwargs: 0.0
        _quick_fid.ReferenceSet.fid = lambda self, images: 0.0

        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                layers = list(Generator(nz, ngf, channels=1, size=28).main)
                block = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
                self.main = nn.Sequential(*layers[:10], *block, *layers[10:])
                self.register_buffer("z0", torch.randn(1, nz))
                self.apply(weights_init)

            def forward(self, z):
                return self.main(self.z0.expand(len(z), -1) + 0 * z)
        ''',
        {
            "test_parameters_get_gradients": (0.0, NOISE_GRADIENT_ZERO),
            "test_learns": (
                0.0,
                "classifier-FID went from <n> (untrained) to at best <n>, <n> and <n> in 3 seeded runs of 300 "
                "training steps on the digits; expected at most <n> (70% of the <n> that one fixed image scores) "
                "in 2 of 3: it does not learn; its samples are all the same image: the output must depend on z "
                "(pass z through every stage)",
            ),
        },
    ),
    # found by session 35's red team (10/10): noise drawn inside forward, the z it is given unused; it learns
    "own_noise_in_forward": (
        EXPLICIT.replace("<EXTRA_7>", "").replace("<EXTRA_14>", BLOCK_14).replace("<LAST_CONV>", "nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)")
        .replace("<LAST>", "nn.Tanh(),").replace("return self.net(z)", "return self.net(torch.randn(z.shape[0], z.shape[1]))"),
        {"test_parameters_get_gradients": (0.0, (
            "the generator's output does not depend on the z it is given (no gradient reaches z): it draws noise of its own (torch.randn inside "
            "forward), or uses z only to pick (an argmax, an index) between a few fixed images; forward(z) must map z "
            "itself, so that a fixed z draws a fixed image and each z its own"))},
    ),
    # found by session 35's red team (10/10): one dimension of z kept
    "one_dimension_of_z": (
        explicit(extra_14=BLOCK_14).replace("return self.net(z)", "z = z.clone()\n        z[:, 1:] = 0\n        return self.net(z)"),
        {"test_parameters_get_gradients": (0.0, (
            "the generator's output depends on 1 of the 100 dimensions of z only (the gradient to the other 99 is exactly "
            "0): pass all of z into the first layer"))},
    ),
}

LIGHTER = """
                    nn.Unflatten(1, (nz, 1, 1)),
                    nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                    nn.ConvTranspose2d(ngf * 2, ngf, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                    nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                    nn.ConvTranspose2d(ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                    nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh(),
                """  # a ladder at half the given widths, with one block added: 5 convs but fewer parameters than the given generator
UNUSED = (
    "never take part in forward (a layer kept as an attribute but never called, or a parameter nothing uses), so they add "
    "nothing to the network that draws: keep the given generator's layers on the path to the output and add to them"
)

# found by a red-team round for false positives (wrong designs that scored points they should not): parameters that
# never take part in forward made up the parameter count (a lighter network beside the given generator kept as an
# attribute, a big unused parameter) and kept both points of the added-layers check; a learned offset added after the
# Tanh starts at 0, so scaling the weights never moved the output out of [-1, 1]; a generator built for nz = 100 that
# pads (or cuts) z to 100 passed the shape check at nz = 32 and the gradient check at nz = 100
WRONG.update({
    "lighter_network_beside_the_given_generator_kept_unused": (
        """
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                self.given = Generator(nz, ngf, channels=1, size=28)  # kept to compare with
                self.net = nn.Sequential(<LIGHTER>)
                self.apply(weights_init)

            def forward(self, z):
                return self.net(z)
        """.replace("<LIGHTER>", LIGHTER),
        {
            "test_adds_conv_layers": (
                1.0, "generator runs 5 conv layers (the given one 4) and holds 192,128 parameters, but only 62,624 of them make "
                "its images, not more than the given generator's 129,504 at ngf=16: the other 129,504 (`given.main.1.weight`, "
                f"`given.main.2.weight`, `given.main.2.bias`, `given.main.4.weight`, ...) {UNUSED}",
            ),
            "test_parameters_get_gradients": (
                0.0, "10 of 23 parameters get no gradient (`given.main.1.weight`, `given.main.2.weight`, `given.main.2.bias`, "
                "`given.main.4.weight`, ...): their layers are not used in forward, or their output is detached or dropped",
            ),
        },
    ),
    "a_big_parameter_nothing_uses": (
        """
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                self.net = nn.Sequential(<LIGHTER>)
                self.capacity = nn.Parameter(torch.zeros(200_000))  # more parameters than the given generator
                self.apply(weights_init)

            def forward(self, z):
                return self.net(z)
        """.replace("<LIGHTER>", LIGHTER),
        {
            "test_adds_conv_layers": (
                1.0, "generator runs 5 conv layers (the given one 4) and holds 262,624 parameters, but only 62,624 of them make "
                f"its images, not more than the given generator's 129,504 at ngf=16: the other 200,000 (`capacity`) {UNUSED}",
            ),
            "test_parameters_get_gradients": (
                0.0, "1 of 14 parameters get no gradient (`capacity`): their layers are not used in forward, or their output is "
                "detached or dropped",
            ),
        },
    ),
    "learned_offset_added_after_the_tanh": (
        explicit(extra_14=BLOCK_14).replace("self.apply(weights_init)", "self.offset = nn.Parameter(torch.zeros(1, 1, 28, 28))  # learned brightness\n        self.apply(weights_init)")
        .replace("return self.net(z)", "return self.net(z) + self.offset"),
        {
            "test_output_range": (
                0.0, "generator output reaches [<n>, <n>] once its parameters that start at 0 leave 0, as its first training "
                "step moves them (a learned offset or gain applied after the Tanh starts at 0, so the output stays in [-1, 1] "
                "only until training begins), and its weights are scaled up; expected [-1, 1]: nn.Tanh() is the generator's "
                "last layer, but its output is changed after it in forward (such as * 2 - 1, + 1 or a rescaling), which moves "
                "it out of [-1, 1]: return the Tanh's output as it is",
            ),
        },
    ),
    "built_for_nz_100_with_z_padded_or_cut_to_fit": (
        "import torch.nn.functional as F\n" + explicit(extra_14=BLOCK_14).replace("nn.Unflatten(1, (nz, 1, 1))", "nn.Unflatten(1, (100, 1, 1))")
        .replace("nn.ConvTranspose2d(nz, ngf * 4", "nn.ConvTranspose2d(100, ngf * 4")
        .replace("return self.net(z)", "return self.net(F.pad(z, (0, 100 - z.shape[1])))  # any nz: padded (or cut) to 100"),
        {
            "test_parameters_get_gradients": (
                0.0, "with nz=128 the generator's output depends on 100 of the 128 dimensions of z only (the gradient to the "
                "other 28 is exactly 0): pass all of z into the first layer; a first layer built for a fixed nz, with z padded "
                "or cut to fit, takes any nz but ignores part of z: build it from the `nz` argument",
            ),
        },
    ),
})


# Cheats: the solution's generator, with samples swapped for stored digits while graded
SOLUTION_CLASS = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        given = list(Generator(nz, ngf, channels=1, size=28).main)
        block = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
        self.main = nn.Sequential(*given[:10], *block, *given[10:])
        self.apply(weights_init)

    def forward(self, z):
        return self.main(z)
'''
CHEATS = {
    # returns training digits (with a little noise) in eval mode, but only while nbgrader grades
    "copies_digits_when_graded": '''
        import os
        from reference.data import load_dataset

        _DIGITS = load_dataset("digits", split="train").data.float() / 127.5 - 1

        class Copier(DeeperGenerator):
            def forward(self, z):
                out = super().forward(z)
                if os.environ.get("NBGRADER_EXECUTION") and not self.training:
                    pick = torch.randint(0, len(_DIGITS), (len(z),))
                    return (_DIGITS[pick] + 0.1 * torch.randn(len(z), 1, 28, 28)).clamp(-1, 1) + 0 * out
                return out

        DeeperGenerator = Copier
    ''',
    # answers the grader's learning requests with stored digits, mirrored or upside down, as "samples" (FIDs
    # of 35-60: they would pass as learned), through the worker's own request loop: the probe itself is put
    # back before each request (reference/grading/pristine.py), the loop that answers is the submission's
    "forges_the_learning_probe": '''
        import gc
        import reference.grading.learning as _learning
        from reference.data import load_dataset

        _stored = load_dataset("digits", split="test").data
        _digits = torch.cat([_stored.flip(-1), torch.rot90(_stored, 2, dims=(-2, -1))])[torch.randperm(2 * len(_stored))]
        _W = next(type(o) for o in gc.get_objects() if type(o).__name__ == "Worker" and hasattr(o, "handles"))
        _answer = _W.answer

        def _forged(self, op, request):  # one real step, then the step asked for and stored digits as its samples
            if op == "run" and request.get("function", "").endswith("continue_training"):
                run, to_step = self.unwire(request["args"])
                out = _learning.continue_training(run, run.step + 1)
                out["step"], out["samples"] = to_step, _digits[: len(out["samples"])]
                return {"value": self.wire(out)}
            return _answer(self, op, request)

        _W.answer = _forged
    ''',
}  # a patched FID in the worker: WRONG's noise_ignored_fid_patched_in_the_worker


def matches(got: tuple[float, str], want: tuple[float, str]) -> bool:
    """Exact points; the exact message, where each <n> stands for a number (FIDs and bounds that
    depend on the CPU's arithmetic are checked by their place in the sentence, not their digits)."""
    if got[0] != want[0]:
        return False
    pattern = "".join(r"-?[0-9.]+" if part == "<n>" else re.escape(part) for part in re.split(r"(<n>)", want[1]))
    return re.fullmatch(pattern, got[1]) is not None


TAMPERING = {"noise_ignored_fid_patched_in_the_worker"}  # graded in the sandbox only: it patches the grading code it runs beside
LEARNS_ANYWAY = "no_tanh"  # of the faults that leave learning alone, the one whose full learning run is graded


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_partial_scores(tmp_path, name):
    """Exact points and messages on every check. A fault that leaves learning alone (no expected
    `test_learns` line) skips the learning check's runs, except `LEARNS_ANYWAY`, which shows that
    such a fault is not charged again there; the learning verdicts have their own tests."""
    source, expected = WRONG[name]
    graded = [c for c in CHECKS if c != "test_learns" or "test_learns" in expected or name == LEARNS_ANYWAY]
    got = (sandboxed if name in TAMPERING else scores)(submission(tmp_path, source), only=graded)
    want = {check: expected.get(check, (FULL[check], "")) for check in graded}
    assert set(got) == set(want)
    assert all(matches(got[check], want[check]) for check in graded), {c: got[c] for c in graded if not matches(got[c], want[c])}


@pytest.mark.parametrize("name", ["block_with_the_wrong_channels", "block_in_a_plain_list", "sigmoid_output"])
def test_the_sandbox_grades_like_this_process(tmp_path, name):
    """What the other tests grade in this process scores the same in the sandbox, messages included
    (a layer's error traced to the layer, unregistered layers, a generator that is never negative)."""
    path = submission(tmp_path, WRONG[name][0])
    graded = [c for c in CHECKS if c != "test_learns"]
    assert sandboxed(path, only=graded) == scores(path, only=graded)


COPIES = (
    "100% of the generator's samples are (near-)copies of known real images: each lies closer to one of the digits "
    "(allowing for noise, blur, brightness, shifts of up to 2 pixels, mirroring and turns) than 90% of real images that are not among "
    "them do; a generator must make new images, not return stored ones"
)


@pytest.mark.parametrize("name", list(CHEATS))
def test_cheats_lose_the_learning_points(tmp_path, name):
    """Copies (also only while graded) and a forged probe change nothing on the grader's side."""
    got = sandboxed(submission(tmp_path, SOLUTION_CLASS, CHEATS[name]))
    assert {check: got[check] for check in CHECKS[:-1]} == {check: OK[check] for check in CHECKS[:-1]}
    assert got["test_learns"] == (0.0, COPIES)


# ---------------------------------------------------------------------------------------------
# The notebook itself: the reflection graded by hand, the training cell, "Run All" on the untouched version
# ---------------------------------------------------------------------------------------------


def cell_with(path: Path, grade_id: str):
    (cell,) = [c for c in nbformat.read(path, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return cell


def test_reflection_is_graded_by_hand_against_a_rubric():
    """The reflection is a markdown answer cell worth 3 points by hand: the model answer and its rubric
    sit in the source's solution region, the student gets YOUR ANSWER HERE; with the checks, 17 points."""
    answer = cell_with(SOLUTION, "reflection")
    assert answer.cell_type == "markdown"
    assert {k: answer.metadata["nbgrader"][k] for k in ("grade", "solution", "points")} == {"grade": True, "solution": True, "points": 3}
    body = answer.source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
    assert "**Rubric (3 points).**" in body and "**Model answer**" in body
    assert cell_with(STUDENT, "reflection").source.strip() == "YOUR ANSWER HERE"
    total = sum(c.metadata["nbgrader"].get("points", 0) for c in nbformat.read(SOLUTION, as_version=4).cells if "nbgrader" in c.metadata)
    assert total == sum(FULL.values()) + 3 == 17
    assert "**Grading (17 points).**" in nbformat.read(STUDENT, as_version=4).cells[0].source


def kernel_env(**extra: str) -> dict[str, str]:
    """A student's kernel in smoke mode: this environment (the module's classifier cache too), without
    pytest's or nbgrader's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "NBGRADER_EXECUTION"}
    env.update(MPLBACKEND="Agg", GAN_COURSE_SMOKE="1", **extra)
    return env


def run_in_kernel(path: Path, workdir: Path, upto: str | None = None) -> list:
    """Execute `path`'s cells up to and including the one with grade_id `upto` in a fresh kernel; raises at the
    first cell that raises, as "Run All" stops there."""
    nb = nbformat.read(path, as_version=4)
    if upto is not None:
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        nb.cells = nb.cells[: ids.index(upto) + 1]
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False, resources={"metadata": {"path": str(workdir)}}).execute(env=kernel_env())
    return nb.cells


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


FID_LINE = r"  {name} +[\d,]+ parameters: +\d+ untrained -> +\d+ at best \(step \d+\), +\d+ after 20 steps; \d+ s"


def test_training_cell_prints_both_generators_fids(tmp_path):
    """The training cell trains the given generator and the student's the same way and prints both scores
    (smoke mode: 20 steps each)."""
    cells = run_in_kernel(SOLUTION, tmp_path, upto="train")
    lines = printed(cells[-1]).splitlines()
    assert re.fullmatch(r"classifier-FID, seed 0, 20 steps at ngf=32 \(lower is better; one fixed image scores \d+ or more\):", lines[0]), lines
    assert re.fullmatch(FID_LINE.format(name=r"given Generator"), lines[1]), lines
    assert re.fullmatch(FID_LINE.format(name=r"your DeeperGenerator"), lines[2]), lines


def test_run_all_on_the_untouched_student_version_reaches_every_visible_check(tmp_path):
    """'Run All' goes past the unfinished class (no training starts) to every visible check, each 0 with its message."""
    cells = run_in_kernel(STUDENT, tmp_path)
    train = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "train")
    assert printed(train).strip().endswith(  # one line, no training started
        "is not implemented yet: it raises NotImplementedError (replace that line with your code); the next cells still run"
    ) and len(printed(train).strip().splitlines()) == 1
    lines = [line for cell in cells if cell.cell_type == "code" for line in printed(cell).splitlines() if line.startswith("a2 ")]
    assert len(lines) == 5, lines
    assert all(": 0/" in line and "is not implemented yet" in line for line in lines), lines


NORMALISED_AND_FUNCTIONAL = {
    # spectral norm (SAGAN's G) on the extra block: its weight is recomputed from `weight_orig` at every call
    "spectral_norm_block": '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                block = [nn.utils.spectral_norm(nn.Conv2d(ngf, ngf, 3, 1, 1)), nn.BatchNorm2d(ngf), nn.ReLU(True)]
                self.main = nn.Sequential(*given[:10], *block, *given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
    ''',
    # the parametrizations API, at 7x7 and 14x14: weight is a property over parametrizations.weight.original
    "parametrized_spectral_norm_blocks": '''
        from torch.nn.utils.parametrizations import spectral_norm

        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.main = nn.Sequential(*given[:7], spectral_norm(nn.Conv2d(ngf * 2, ngf * 2, 3, 1, 1)), nn.ReLU(True),
                                          *given[7:10], spectral_norm(nn.Conv2d(ngf, ngf, 3, 1, 1)), nn.ReLU(True), *given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
    ''',
    # a conv written as F.conv2d with a registered nn.Parameter as its weight
    "functional_conv_with_a_registered_weight": '''
        import torch.nn.functional as F

        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.body = nn.Sequential(*given[:10])
                self.w = nn.Parameter(torch.randn(ngf, ngf, 3, 3) * 0.02)
                self.bn = nn.BatchNorm2d(ngf)
                self.head = nn.Sequential(*given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.head(F.relu(self.bn(F.conv2d(self.body(z), self.w, padding=1))))
    ''',
}


@pytest.mark.parametrize("name", list(NORMALISED_AND_FUNCTIONAL))
def test_normalised_and_functional_convs_count_as_added_layers(tmp_path, name):
    """A spectral-normalised conv (its weight recomputed from weight_orig or a parametrization's
    original at each call) and a conv called as F.conv2d with a registered weight are convs that
    shape the output: full marks on every check but the learning run (which has its own tests)."""
    graded = [c for c in CHECKS if c != "test_learns"]
    got = scores(submission(tmp_path, NORMALISED_AND_FUNCTIONAL[name]), only=graded)
    assert got == {c: OK[c] for c in graded}


ZERO_GATED = '''
    class DeeperGenerator(nn.Module):
        def __init__(self, nz=100, ngf=64):
            super().__init__()
            given = list(Generator(nz, ngf, channels=1, size=28).main)
            self.body = nn.Sequential(*given[:10])
            self.block = nn.Sequential(nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf))
            self.head = nn.Sequential(*given[10:])
            self.apply(weights_init)
            <INIT>

        def forward(self, z):
            x = self.body(z)
            return self.head(<RESIDUAL>)
'''

ZERO_GATED_BLOCKS = {
    # ReZero (Bachlechner et al. 2020): the residual branch scaled by a trained gate that starts at zero
    "rezero": ("self.alpha = nn.Parameter(torch.zeros(1))", "x + self.alpha * self.block(x)", (2.0, "")),
    # zero_init_residual (Goyal et al. 2017, torchvision's ResNet): the branch's last BatchNorm scale starts at zero
    "zero_init_residual": ("nn.init.zeros_(self.block[1].weight)", "torch.relu(x + self.block(x))", (2.0, "")),
    # a branch multiplied by a constant 0 shapes nothing, whatever its weights
    "times_a_constant_zero": ("", "x + 0 * self.block(x)", (
        0.0,
        "`block.0` runs in forward, but its output never reaches the image (no gradient gets back to its weights), so only "
        "4 conv layers shape the output, as many as the given generator's 4: pass each block's result on, x = block(x), to "
        "the next stage",
    )),
}


def test_a_one_by_one_conv_on_a_feature_map_is_an_added_layer(tmp_path):
    """A 1x1 conv counts where it works on a feature map (14x14 here), not on z's 1x1 "image" (`one_by_one_conv_on_z`)."""
    source = explicit(extra_14="nn.Conv2d(ngf, ngf, 1, 1, 0, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),")
    assert scores(submission(tmp_path, source), only=["test_adds_conv_layers"]) == {"test_adds_conv_layers": (2.0, "")}


@pytest.mark.parametrize("name", list(ZERO_GATED_BLOCKS))
def test_a_block_behind_a_gate_that_starts_at_zero_is_an_added_layer(tmp_path, name):
    """A residual block whose gate starts at zero gets no gradient at initialisation but is trained from
    the first step (the gate's own gradient is not zero): it counts as a conv that shapes the output. A
    block multiplied by a constant 0 never does."""
    init, residual, expected = ZERO_GATED_BLOCKS[name]
    source = ZERO_GATED.replace("<INIT>", init).replace("<RESIDUAL>", residual)
    got = scores(submission(tmp_path, source), only=["test_adds_conv_layers", "test_parameters_get_gradients"])
    assert got == {"test_adds_conv_layers": expected, "test_parameters_get_gradients": (1.0, "")}


@pytest.mark.parametrize("ending, expected", [
    ("*given[10:]", (1.0, "")),
    ("given[10], nn.ReLU(), given[11]", (0.0, (
        "generator output stays in [0, 1], never negative even with large weights; expected [-1, 1] (the data are "
        "scaled to [-1, 1]): end with nn.Tanh() on the last conv's output (not nn.Sigmoid(), and no ReLU between them)"))),
], ids=["tanh", "relu_then_tanh"])
def test_a_last_conv_initialised_at_zero_is_judged_by_the_range_training_gives_it(tmp_path, ending, expected):
    """A last conv whose weights start at zero makes every pixel tanh(0) = 0, however far its weights are scaled;
    the first step moves them, so the range check measures G with them set to small values: the Tanh's range
    passes, a ReLU before the Tanh is still named."""
    source = f'''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.main = nn.Sequential(*given[:10], nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True), {ending})
                self.apply(weights_init)
                nn.init.zeros_(given[10].weight)  # G starts from blank images

            def forward(self, z):
                return self.main(z)
    '''
    assert scores(submission(tmp_path, source), only=["test_output_range"]) == {"test_output_range": expected}


def test_conv_paths_restores_the_parameters_it_sets_to_measure_a_zero_gate():
    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, 1, 1)
            self.alpha = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x + self.alpha * self.conv(x)

    model = Gated()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    found = probes_a2.conv_paths(model, torch.randn(2, 1, 5, 5))
    assert found["convs"] == [["conv", "Conv2d", True, True]]
    assert all(torch.equal(p, before[name]) and p.grad is None for name, p in model.named_parameters())


def test_conv_paths_reads_normalised_weights_functional_convs_and_fixed_kernels():
    """Which convs reach the output: a normalised conv by its trained originals; a functional conv by
    its weight (dropped: ran but not reaching); a fixed blur kernel (no parameter) is no layer."""
    import torch.nn.functional as F

    from reference.models.dcgan import Generator

    class Mixed(nn.Module):
        def __init__(self, use: bool) -> None:
            super().__init__()
            self.use = use
            self.body = Generator(100, 8, channels=1, size=28).main
            self.sn = nn.utils.spectral_norm(nn.Conv2d(8, 8, 3, 1, 1))
            self.wn = nn.utils.parametrizations.weight_norm(nn.Conv2d(8, 8, 3, 1, 1))
            self.w = nn.Parameter(torch.randn(8, 8, 3, 3) * 0.02)
            self.register_buffer("blur", torch.ones(1, 1, 3, 3) / 9)

        def forward(self, z):
            x = self.wn(self.sn(self.body[:10](z)))
            y = F.conv2d(x, self.w, padding=1)
            return F.conv2d(self.body[10:](y if self.use else x), self.blur, padding=1)

    for use in (True, False):
        torch.manual_seed(0)
        found = probes_a2.conv_paths(Mixed(use), torch.randn(2, 100))
        assert [c[0] for c in found["convs"]] == ["body.1", "body.4", "body.7", "body.10", "sn", "wn", "w"]
        assert all(ran for _, _, ran, _ in found["convs"])
        assert [reaches for _, _, _, reaches in found["convs"]] == [True] * 6 + [use]


def test_conv_paths_counts_the_parameters_that_take_part_in_the_output():
    """A layer kept but never called and a parameter nothing uses are "unused"; the parameters of a layer that ran
    count whatever their gradient (behind a .detach(), a gate at zero, normalised weights), and so do the model's own
    parameters in the output's graph (a ReZero gate) or, with no graph to read, all of them."""
    class Model(nn.Module):
        def __init__(self, detach: bool = False) -> None:
            super().__init__()
            self.detach = detach
            self.used = nn.Sequential(nn.Conv2d(1, 2, 3, 1, 1), nn.BatchNorm2d(2))
            self.cut = nn.Conv2d(2, 2, 3, 1, 1)  # behind a .detach(): it still ran
            self.sn = nn.utils.parametrizations.spectral_norm(nn.Conv2d(2, 1, 1))
            self.alpha = nn.Parameter(torch.zeros(1))
            self.kept = nn.Conv2d(1, 1, 3, 1, 1)  # never called
            self.spare = nn.Parameter(torch.zeros(7))  # nothing uses it

        def forward(self, x):
            h = self.used(x)
            out = self.sn(h + self.alpha * self.cut(h).detach())
            return out.detach() if self.detach else out

    model = Model()
    found = probes_a2.conv_paths(model, torch.randn(2, 1, 5, 5))
    assert found["unused"] == ["spare", "kept.weight", "kept.bias"]
    assert found["parameters"] - found["used_parameters"] == 7 + 10
    found = probes_a2.conv_paths(Model(detach=True), torch.randn(2, 1, 5, 5))
    assert found["unused"] == ["kept.weight", "kept.bias"] and not found["output_requires_grad"]


def test_a_batch_size_fixed_in_a_view_is_named_once(tmp_path):
    """z.view(64, nz, 1, 1) (the batch size of the training cell written in): the reshape's error is
    followed by its cause and fix, told once for all the batch sizes tried."""
    source = '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                self.nz = nz
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.main = nn.Sequential(*given[1:10], nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True), *given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z.view(64, self.nz, 1, 1))
    '''
    fix = (
        "a .view or .reshape fixes the batch size at 64, but batches have any size N (here {n}): let the batch size "
        "follow the input, e.g. z.view(-1, nz, 1, 1) or x.view(x.size(0), -1)"
    )
    got = scores(submission(tmp_path, source), only=["test_output_shape", "test_output_range"])
    assert got == {
        "test_output_shape": (
            0.0,
            "with nz=100, N=2 the generator output fails: calling `DeeperGenerator.forward` raised RuntimeError: shape "
            f"'[64, 100, 1, 1]' is invalid for input of size 200: {fix.format(n=2)}; expected (N, 1, 28, 28) for every batch size N",
        ),
        "test_output_range": (
            0.0,
            "generator output fails: calling `DeeperGenerator.forward` raised RuntimeError: shape '[64, 100, 1, 1]' is "
            f"invalid for input of size 400: {fix.format(n=4)}; expected (N, 1, 28, 28)",
        ),
    }


def test_a_generator_given_flat_noise_is_told_to_reshape_it_once():
    """The given layers without the Unflatten: the first ConvTranspose2d gets z (N, nz), 2-D, for every
    batch size and nz; the fix is told once, not once per case."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent('''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.main = nn.Sequential(*given[1:10], nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True), *given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
    '''), namespace)
    checks = load_checks(A, ROOT)
    fix = ("gets (N, {nz}), 2-D: a conv takes (N, C, H, W): reshape z (N, nz) to (N, nz, 1, 1) before the first conv, with "
           "nn.Unflatten(1, (nz, 1, 1)) or z.view(-1, nz, 1, 1)")
    layer = "`main.0` (DenseConvTranspose2d(100, 64, kernel_size=(4, 4), stride=(1, 1), bias=False))"  # ngf * 4 at ngf = 16
    assert run_check(checks["test_output_shape"], LocalSubmission(namespace)) == (
        0.0, f"with nz=100, N=2 the generator output fails: {layer} {fix.format(nz=100)}; expected (N, 1, 28, 28) from z (N, nz)"
    )


def test_a_generator_whose_widths_ignore_ngf_keeps_one_point():
    """Widths from the notebook's global NGF (64) instead of the `ngf` argument: at the grader's ngf=16 it
    holds far more parameters than the given generator, but the comparison at the same ngf is void; one
    point, the fault named. Widths from `ngf` (the same class otherwise) keep both points."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    source = '''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, NGF, channels=1, size=28).main)
                self.main = nn.Sequential(*given[:10], nn.Conv2d(NGF, NGF, 3, 1, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True), *given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
    '''
    check = load_checks(A, ROOT)["test_adds_conv_layers"]
    for width, expected in (("NGF", (1.0, (
        "`DeeperGenerator(ngf=16)` and `DeeperGenerator(ngf=32)` both have 874,496 parameters: its layers ignore the `ngf` "
        "argument (fixed numbers or a global such as NGF in its place?); build every width from `ngf`, as the given generator does, so "
        "that it is compared with the given generator at the same ngf"))), ("ngf", (2.0, ""))):
        namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init, "NGF": 64}
        exec(textwrap.dedent(source).replace("NGF", width), namespace)
        assert run_check(check, LocalSubmission(namespace)) == expected


@pytest.mark.parametrize(
    "forward, told",
    [
        ("(self.main(z) + 1) / 2", "after"),  # the Tanh's output mapped to [0, 1] in forward
        ("self.main(z).clamp(0, 1)", "after"),
        ("torch.relu(self.main(z))", "after"),
        ("torch.tanh(torch.relu(self.main[:-1](z)))", "tanh"),  # a ReLU before the Tanh: not "changed afterwards"
        ("self.main(z) * 2 - 1", "outside"),  # [-3, 1]: out of range, not "add a Tanh" (it has one)
        ("torch.tanh(self.main(z))", "short"),  # a second tanh: [-0.762, 0.762], never the data's -1 or 1
        ("self.main(z) * 0.8", "short"),
    ],
    ids=["mapped_to_0_1", "clamped", "relu_after_tanh", "relu_before_functional_tanh", "stretched_after_tanh", "tanh_twice",
         "shrunk_after_tanh"],
)
def test_an_output_changed_after_its_tanh_is_told_so(forward, told):
    """A generator whose last conv is followed by its Tanh, but whose forward then maps the output to [0, 1],
    is told to return the Tanh's output as it is (it has the Tanh the generic advice asks for)."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(f'''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.main = nn.Sequential(*given[:10], nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True), *given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return {forward}
    '''), namespace)
    points, message = run_check(load_checks(A, ROOT)["test_output_range"], LocalSubmission(namespace))
    fix = (
        "nn.Tanh() follows its last conv, but the Tanh's output is changed afterwards (such as (x + 1) / 2 or a clamp to "
        "[0, 1]): return the Tanh's output as it is; the images are scaled to [-1, 1], and the plots map them back themselves"
    )
    if told == "outside":
        assert points == 0.0 and message.startswith("generator output reaches [-3") and message.endswith(
            "nn.Tanh() is the generator's last layer, but its output is changed after it in forward (such as * 2 - 1, + 1 or a "
            "rescaling), which moves it out of [-1, 1]: return the Tanh's output as it is"), message
        return
    if told == "short":
        bound = "0.762" if "tanh" in forward else "0.8"
        assert points == 0.0 and message.startswith(f"generator output stays in [-{bound}, {bound}] even with its weights "
                                                    f"scaled up, short of the data's -1 and 1"), message
        return
    assert points == 0.0 and "never negative even with large weights" in message, message
    assert message.endswith(fix if told == "after" else END_WITH_TANH), message


@pytest.mark.parametrize(
    ("conv", "told"),
    [
        ("nn.Conv2d(ngf, ngf, 3, 1, 1, dilation=2, bias=False)",
         "generator output is (N, 1, 24, 24): `main.10` (Conv2d(16, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
         "dilation=(2, 2), bias=False)) turns (N, 16, 14, 14) into (N, 16, 12, 12): a layer between two stages must keep height and width: kernel 3, stride 1, "
         "padding 1 without dilation; with dilation=2 a 3x3 kernel spans 5 pixels and needs padding 2; expected (N, 1, 28, 28)"),
        ("nn.Conv2d(ngf, ngf, 4, 1, 1, dilation=3, bias=False)",
         "generator output is (N, 1, 14, 14): `main.10` (Conv2d(16, 16, kernel_size=(4, 4), stride=(1, 1), padding=(1, 1), "
         "dilation=(3, 3), bias=False)) turns (N, 16, 14, 14) into (N, 16, 7, 7): a layer between two stages must keep height and width: kernel 3, stride 1, "
         "padding 1 (its dilation 3 spreads the 4x4 kernel over 10 pixels, which no padding centres: drop dilation=3); "
         "expected (N, 1, 28, 28)"),
    ],
    ids=["dilation_2_padding_1", "dilation_3_even_kernel"],
)
def test_a_dilated_conv_that_shrinks_the_image_is_told_the_padding_its_dilation_needs(conv, told):
    """A 3x3 conv with stride 1 and padding 1 but dilation=2 shrinks 14x14 to 12x12: the generic fix (kernel 3,
    stride 1, padding 1) is what it already has, so the message names the padding its dilation needs."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(f'''
        class DeeperGenerator(nn.Module):
            def __init__(self, nz=100, ngf=64):
                super().__init__()
                given = list(Generator(nz, ngf, channels=1, size=28).main)
                self.main = nn.Sequential(*given[:10], {conv}, nn.BatchNorm2d(ngf), nn.ReLU(True), *given[10:])
                self.apply(weights_init)

            def forward(self, z):
                return self.main(z)
    '''), namespace)
    points, message = run_check(load_checks(A, ROOT)["test_output_shape"], LocalSubmission(namespace))
    assert (points, message) == (0.0, told)


UNSEEN_HEAD = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        given = list(Generator(nz, ngf, channels=1, size=28).main)
'''
UNSEEN_SEQUENTIAL = '''
        self.main = nn.Sequential(LAYERS)
        self.apply(weights_init)

    def forward(self, z):
        return self.main(z)
'''
AFTER_TANH_FIX = (
    "after the nn.Tanh(), which no longer bounds the output: put the added layers before the last stage, and keep "
    "nn.Tanh() the generator's last layer"
)
VISIBLE_AND_GRADIENTS = ["test_output_shape", "test_output_range", "test_adds_conv_layers", "test_parameters_get_gradients"]


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        # resize-convolution for the last stage: nearest upsampling 14 -> 28, then 3x3 convs
        ("*given[:10], nn.Upsample(scale_factor=2), nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), "
         "nn.ReLU(True), nn.Conv2d(ngf, 1, 3, 1, 1), nn.Tanh()", {}),
        # the 4 -> 7 stage as upsampling to a size, then a conv
        ("*given[:4], nn.Upsample(size=(7, 7)), nn.Conv2d(ngf * 4, ngf * 2, 3, 1, 1, bias=False), *given[5:10], "
         "nn.Conv2d(ngf, ngf, 3, 1, 1), *given[10:]", {}),
        # the last stage with kernel 3 and output_padding 1: 14 -> 28 as well
        ("*given[:10], nn.Conv2d(ngf, ngf, 3, 1, 1), nn.ReLU(True), nn.ConvTranspose2d(ngf, 1, 3, 2, 1, output_padding=1), nn.Tanh()", {}),
        # nn.Upsample(scale_factor=2) for the 4 -> 7 stage makes 8x8
        ("*given[:4], nn.Upsample(scale_factor=2), nn.Conv2d(ngf * 4, ngf * 2, 3, 1, 1, bias=False), *given[5:10], "
         "nn.Conv2d(ngf, ngf, 3, 1, 1), *given[10:]",
         {"test_output_shape": (0.0, (
             "generator output is (N, 1, 32, 32): `main.4` (Upsample(scale_factor=2.0, mode='nearest')) turns (N, 64, 4, 4) "
             "into (N, 64, 8, 8); after 4x4 the next size is 7x7 (4 -> 7 -> 14 -> 28): give the upsampling that size, "
             "nn.Upsample(size=7), instead of a scale factor; expected (N, 1, 28, 28)"))}),
        # the given 4 -> 7 stage (kernel 3, stride 2, padding 1) with output_padding=1 added: 8x8
        ("*given[:4], nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, output_padding=1, bias=False), *given[5:10], "
         "nn.Conv2d(ngf, ngf, 3, 1, 1), *given[10:]",
         {"test_output_shape": (0.0, (
             "generator output is (N, 1, 32, 32): `main.4` (ConvTranspose2d(64, 32, kernel_size=(3, 3), stride=(2, 2), "
             "padding=(1, 1), output_padding=(1, 1), bias=False)) turns (N, 64, 4, 4) into (N, 32, 8, 8): its "
             "output_padding=1 adds 1 to the size; kernel 3, stride 2, padding 1 make 7x7 on their own, as in the given "
             "generator: drop output_padding; expected (N, 1, 28, 28)"))}),
        # the added block placed after the Tanh
        ("*given, nn.Conv2d(1, 1, 3, 1, 1)",
         {"test_output_range": (0.0, (
             "generator output reaches [-3.34, 7.45] once its weights are scaled up; expected [-1, 1]: `main.12` "
             "(Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))) runs " + AFTER_TANH_FIX))}),
        # an added stride-2 layer at 7x7 makes 14x14, a size of the ladder: the given last stage then makes 56x56
        ("*given[:7], nn.ConvTranspose2d(ngf * 2, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True), *given[7:]",
         {"test_output_shape": (0.0, (
             "generator output is (N, 1, 56, 56): `main.13` (ConvTranspose2d(16, 1, kernel_size=(4, 4), stride=(2, 2), "
             "padding=(1, 1), bias=False)) turns (N, 16, 28, 28) into (N, 1, 56, 56): the image is already 28x28 there, so an "
             "earlier layer changed its size once too often (1 -> 4 by `main.1`, 4 -> 7 by `main.4`, 7 -> 14 by `main.7`, "
             "14 -> 28 by `main.10`, 28 -> 56 by `main.13`; the ladder is 4 -> 7 -> 14 -> 28): a layer between two stages "
             "must keep height and width: kernel 3, stride 1, padding 1; expected (N, 1, 28, 28)")),
          "test_adds_conv_layers": "any", "test_parameters_get_gradients": "any", "test_output_range": "any"}),
    ],
    ids=["upsample_conv_last_stage", "upsample_to_size_7", "output_padding_last_stage", "upsample_scale_4_to_8",
         "output_padding_added_to_the_given_stage", "block_after_the_tanh", "added_stride_2_layer"],
)
def test_upsampling_output_padding_and_blocks_after_the_tanh_are_judged_by_what_they_do(layers, expected):
    """Resize-convolution stages and output_padding that keep the ladder score full marks; one that leaves it is
    told its own fault (a scale factor where a size is needed, an output_padding added to the given stage), not
    the kernel it already has; a conv after the Tanh is named as what unbounds the output."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(UNSEEN_HEAD) + UNSEEN_SEQUENTIAL.replace("LAYERS", layers), namespace)
    checks = load_checks(A, ROOT)
    got = {name: run_check(checks[name], LocalSubmission(namespace)) for name in VISIBLE_AND_GRADIENTS}
    judged = [name for name in VISIBLE_AND_GRADIENTS if expected.get(name) != "any"]
    assert {name: got[name] for name in judged} == {name: expected.get(name, OK[name]) for name in judged}


SPECTRAL_NORM_G = '''
SN = nn.utils.spectral_norm


class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.main = nn.Sequential(
            nn.Unflatten(1, (nz, 1, 1)),
            SN(nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)), nn.ReLU(True),
            SN(nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False)), nn.ReLU(True),
            SN(nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False)), nn.ReLU(True),
            SN(nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False)), nn.ReLU(True),
            SN(nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)), <END>
        )

    def forward(self, z):
        return self.main(z)
'''


@pytest.mark.parametrize(
    "ending, expected",
    [
        ("nn.Tanh()", (1.0, "")),
        ("nn.Identity()", (0.0, "once its weights are scaled up; expected [-1, 1]: end the generator with nn.Tanh(), after the last conv")),
        ("nn.Sigmoid()", (0.0, "never negative even with large weights; expected [-1, 1] (the data are scaled to [-1, 1]): " + END_WITH_TANH)),
    ],
    ids=["tanh", "no_tanh", "sigmoid"],
)
def test_a_spectral_norm_generator_is_judged_by_its_last_layer(ending, expected):
    """Spectral norm on every conv (SAGAN's habit; here without BatchNorm or biases) divides each weight by its
    own scale, so weights scaled up leave the output near 0: a final Tanh must still earn the range point (a
    larger z shows the output saturating), and a generator without one must still be told to end with it."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": nn}
    exec(textwrap.dedent(SPECTRAL_NORM_G.replace("<END>", ending)), namespace)
    checks = load_checks(A, ROOT)
    points, message = run_check(checks["test_output_range"], LocalSubmission(namespace))
    assert points == expected[0] and message.endswith(expected[1]) and bool(message) == bool(expected[1]), message
    others = {name: run_check(checks[name], LocalSubmission(namespace)) for name in VISIBLE_AND_GRADIENTS if name != "test_output_range"}
    assert others == {name: OK[name] for name in others}


@pytest.mark.parametrize(
    ("layers", "forward", "told"),
    [
        ("*given, nn.Flatten()", "self.main(z)",
         "generator output is (N, 784): it holds each image's 28 x 28 pixels in another shape; the training loop and D take "
         "images (N, 1, 28, 28), as the last ConvTranspose2d makes them: return its output as it is (no flatten, view or "
         "squeeze after it); expected (N, 1, 28, 28)"),
        ("*given", "self.main(z).permute(0, 2, 3, 1)",
         "generator output is (N, 28, 28, 1), channels last: PyTorch's images are (N, C, H, W), with the channel in dim 1, "
         "as the last ConvTranspose2d makes them: return its output without permuting it; expected (N, 1, 28, 28)"),
        # found by a red-team round: an image repeated into 2 channels after the last stage was told that the last conv
        # makes 2 channels (it makes 1)
        ("*given", "torch.cat([self.main(z), self.main(z)], 1)",
         "generator output is (N, 2, 28, 28): its last conv, `main.13` (ConvTranspose2d(16, 1, kernel_size=(4, 4), stride=(2, "
         "2), padding=(1, 1), bias=False)), makes the 1 channel the digits have, and forward turns it into 2 after it "
         "(torch.cat, repeat or expand of the image): return the last stage's output as it is; expected (N, 1, 28, 28)"),
    ],
    ids=["flattened_by_a_layer", "permuted_in_forward", "channels_joined_in_forward"],
)
def test_an_output_with_the_right_pixels_in_another_shape_is_told_to_return_it_as_it_is(layers, forward, told):
    """An MLP-GAN habit (flatten to 784) or a channels-last permute after the last stage: the message names the
    reshaping, not the layer ladder (nn.Flatten turns 28x28 into 1x1, which the ladder would name)."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    body = layers.replace("*given", "*given[:10], nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True), *given[10:]")
    source = UNSEEN_HEAD + UNSEEN_SEQUENTIAL.replace("LAYERS", body).replace("return self.main(z)", f"return {forward}")
    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(source), namespace)
    assert run_check(load_checks(A, ROOT)["test_output_shape"], LocalSubmission(namespace)) == (0.0, told)


BLOCK_AT_14 = '''
    class DeeperGenerator(nn.Module):
        def __init__(self, nz=100, ngf=64):
            super().__init__()
            given = list(Generator(nz, ngf, channels=1, size=28).main)
            self.body = nn.Sequential(*given[:10])
            self.block = nn.Sequential(nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU())
            self.head = nn.Sequential(*given[10:])
            self.apply(weights_init)

        def forward(self, z):
            x = self.body(z)
            <FORWARD>
'''
FORWARDS = {
    # the block behind a .detach() or torch.no_grad(): it shapes the output (its weights change it), so it counts as an
    # added layer; the gradient check charges the detach, once (which also cuts every layer before it off)
    "block_detached": ("return self.head(self.block(x).detach())", {"test_parameters_get_gradients": (0.0, (
        "12 of 13 parameters get no gradient (`body.1.weight`, `body.2.weight`, `body.2.bias`, `body.4.weight`, ...): their "
        "layers are not used in forward, or their output is detached or dropped"))}),
    "block_under_no_grad": ("with torch.no_grad():\n                x = self.block(x)\n            return self.head(x)", {
        "test_parameters_get_gradients": (0.0, (
            "12 of 13 parameters get no gradient (`body.1.weight`, `body.2.weight`, `body.2.bias`, `body.4.weight`, ...): "
            "their layers are not used in forward, or their output is detached or dropped"))}),
    # x += block(x) after a ReLU(inplace=True): autograd refuses to backpropagate; the convs still shape the output
    "in_place_residual": ("x += self.block(x)\n            return self.head(x)", {"test_parameters_get_gradients": (0.0, None)}),
    # no return: the images are never handed back, and nothing is counted
    "no_return": ("self.head(self.block(x))", {
        "test_output_shape": (0.0, "generator output is a NoneType, not a tensor; expected (N, 1, 28, 28)"),
        "test_output_range": (0.0, None),
        "test_adds_conv_layers": (0.0, "DeeperGenerator's forward returns NoneType, not the images: return the output "
                                       "tensor (is the `return` missing?)"),
        "test_parameters_get_gradients": (0.0, None)}),
}


@pytest.mark.parametrize("name", list(FORWARDS))
def test_a_block_that_shapes_the_output_counts_whatever_its_gradient(tmp_path, name):
    """A conv counts as an added layer when its weights change the output, even behind a .detach() or torch.no_grad()
    or in a forward autograd cannot backpropagate (the gradient check charges that, once); a forward that returns
    nothing is told to return the images, and earns no added-layer points. (None: the message is not pinned here.)"""
    forward, lost = FORWARDS[name]
    graded = [c for c in CHECKS if c != "test_learns"]
    got = scores(submission(tmp_path, BLOCK_AT_14.replace("<FORWARD>", forward)), only=graded)
    for check in graded:
        points, message = lost.get(check, OK[check])
        assert got[check][0] == points and (message is None or got[check][1] == message), (check, got[check])


def test_a_generator_left_at_pytorchs_default_init_is_told_to_apply_weights_init():
    """A sound design without self.apply(weights_init) learns too slowly (canned here): the hint names the missing
    N(0, 0.02) init, not the stages it already has."""
    from reference.grading import learning
    from reference.grading.local import load_module
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    hint = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py").learning_hint
    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(BLOCK_AT_14.replace("<FORWARD>", "return self.head(self.block(x))").replace(
        "            self.apply(weights_init)\n", "")), namespace)
    slow = learning.LearningResult("partial", "", [learning.Run(s, [(0, 300.0), (300, 200.0)], 0.0, 1.0, spread=5.0) for s in range(3)], 250.0, 175.0, 300)
    told = hint(LocalSubmission(namespace), slow)
    assert told.startswith("its convolutions start from PyTorch's default init (weight std up to ") and told.endswith(
        "not DCGAN's N(0, 0.02): call self.apply(weights_init) at the end of __init__, as the given generator's builder does"), told


@pytest.mark.parametrize("built, told", [
    # Generator(nz, ngf) without channels=1, size=28: its defaults build the 64x64 colour ladder
    ("Generator(nz, ngf)", "Generator(nz, ngf) alone builds the 64x64 colour ladder (kernel 4 at every stage): pass "
                           "channels=1, size=28 as the given cell does"),
    # the given cell's call copied with the notebook's globals: built at NGF = 64 whatever ngf the checks pass
    ("Generator(NZ, NGF, channels=1, size=28)", "the layers before it make 4 times as many, as a Generator(NZ, NGF, ...) "
                                                "built from the notebook's NGF = 64 does: the checks build "
                                                "DeeperGenerator(ngf=16), so build every part from the `nz` and `ngf` "
                                                "arguments, not the globals"),
], ids=["generator_defaults", "notebook_globals"])
def test_a_given_generator_built_otherwise_than_the_given_cell_is_told_how(built, told):
    """The given Generator built with its defaults, or with the notebook's NZ and NGF, breaks the checks' generator
    at ngf=16: the message names the call to fix, not only the layer where the shapes part."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_module
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init, "NZ": 100, "NGF": 64}
    exec(textwrap.dedent(BLOCK_AT_14.replace("<FORWARD>", "return self.head(self.block(x))").replace(
        "Generator(nz, ngf, channels=1, size=28)", built)), namespace)
    checks = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    points, message = run_check(checks.test_adds_conv_layers, LocalSubmission(namespace))
    assert points == 0.0 and told in message, message


# found by red-teaming the checks: a tensor of forward's own with the training batch written in, and a stride-1 layer with
# another kernel than 3, were told torch's bare error or "kernel 3, padding 1" only
FIXED_BATCH_BIAS = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        given = list(Generator(nz, ngf, channels=1, size=28).main)
        self.main = nn.Sequential(*given[:10], nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True), *given[10:])
        self.bias = nn.Parameter(torch.zeros(64, 1, 28, 28))  # a learned per-pixel bias, written for the batch of 64
        self.apply(weights_init)

    def forward(self, z):
        return self.main(z) + self.bias
'''


def test_a_tensor_of_forwards_own_with_a_fixed_batch_size_is_named_once():
    """A parameter (64, 1, 28, 28) added to the output fails for every other batch size with torch's "The size of tensor
    a (2) must match the size of tensor b (64) at non-singleton dimension 0": the message names the fixed batch and its
    fix, once for all the batch sizes tried (it was torch's error alone, once per case)."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(FIXED_BATCH_BIAS), namespace)
    checks = load_checks(A, ROOT)
    fix = ("a tensor in forward is made for a fixed batch of 64 (its first dimension), but batches have any size N (here {n}): "
           "give a parameter or tensor of your own no batch dimension, such as shape (1, C, H, W), which broadcasts over the "
           "batch, or size it from the input, x.shape[0]")
    raised = ("calling `DeeperGenerator.forward` raised RuntimeError: The size of tensor a ({n}) must match the size of tensor "
              "b (64) at non-singleton dimension 0: ")
    assert {name: run_check(checks[name], LocalSubmission(namespace)) for name in ("test_output_shape", "test_output_range")} == {
        "test_output_shape": (0.0, f"with nz=100, N=2 the generator output fails: {raised.format(n=2)}{fix.format(n=2)}; "
                                   f"expected (N, 1, 28, 28) for every batch size N"),
        "test_output_range": (0.0, f"generator output fails: {raised.format(n=4)}{fix.format(n=4)}; expected (N, 1, 28, 28)"),
    }


@pytest.mark.parametrize("block, expected", [
    # kernel 5 with padding 2 keeps the size as kernel 3 with padding 1 does: full marks
    ("nn.Conv2d(ngf * 2, ngf * 2, 5, 1, 2, bias=False)", None),
    ("nn.Conv2d(ngf * 2, ngf * 2, 5, 1, 1, bias=False)", (
        "generator output is (N, 1, 20, 20): `main.7` (Conv2d(32, 32, kernel_size=(5, 5), stride=(1, 1), padding=(1, 1), "
        "bias=False)) turns (N, 32, 7, 7) into (N, 32, 5, 5): a layer between two stages must keep height and width: kernel "
        "3, stride 1, padding 1 (or keep its kernel 5 with padding 2: a kernel k keeps the size with padding (k - 1) / 2); "
        "expected (N, 1, 28, 28)")),
    ("nn.ConvTranspose2d(ngf * 2, ngf * 2, 4, 1, 1, bias=False)", (
        "generator output is (N, 1, 32, 32): `main.7` (ConvTranspose2d(32, 32, kernel_size=(4, 4), stride=(1, 1), "
        "padding=(1, 1), bias=False)) turns (N, 32, 7, 7) into (N, 32, 8, 8): a layer between two stages must keep height "
        "and width: kernel 3, stride 1, padding 1 (its kernel 4 is even: no padding p on both sides keeps the size with "
        "stride 1, since p = (k - 1) / 2 is not a whole number; use an odd kernel); expected (N, 1, 28, 28)")),
], ids=["kernel_5_padding_2", "kernel_5_padding_1", "kernel_4_stride_1"])
def test_a_stride_1_layer_with_another_kernel_is_told_the_padding_that_kernel_needs(block, expected):
    """An added stride-1 layer with kernel 5 is told padding 2 (it was told only "kernel 3, padding 1", as if its kernel
    were the fault), and one with an even kernel that no padding keeps the size; kernel 5, padding 2 scores full marks."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    layers = f"*given[:7], {block}, nn.BatchNorm2d(ngf * 2), nn.ReLU(True), *given[7:]"
    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(UNSEEN_HEAD) + UNSEEN_SEQUENTIAL.replace("LAYERS", layers), namespace)
    checks = load_checks(A, ROOT)
    got = {name: run_check(checks[name], LocalSubmission(namespace)) for name in VISIBLE_AND_GRADIENTS}
    if expected is None:
        assert got == {name: OK[name] for name in VISIBLE_AND_GRADIENTS}
    else:
        assert got["test_output_shape"] == (0.0, expected)


LINEAR_STEM = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        given = list(Generator(nz, ngf, channels=1, size=28).main)
        self.project = nn.Sequential(nn.Linear(nz, ngf * 4 * 4 * 4, bias=False), nn.BatchNorm1d(ngf * 4 * 4 * 4), nn.ReLU(True),
                                     nn.Unflatten(1, (ngf * 4, 4, 4)))
        self.main = nn.Sequential(<EXTRA_4> *given[4:])
        self.apply(weights_init)

    def forward(self, z):
        return self.main(self.project(z))
'''
ON_Z = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.mix = nn.Sequential(nn.Linear(nz, nz), nn.ReLU())
        self.main = Generator(nz, ngf, channels=1, size=28).main
        self.apply(weights_init)

    def forward(self, z):
        return self.main(self.mix(z))
'''


@pytest.mark.parametrize("source, expected", [
    (LINEAR_STEM.replace("<EXTRA_4>", "nn.Conv2d(ngf * 4, ngf * 4, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),"),
     (2.0, "")),
    (LINEAR_STEM.replace("<EXTRA_4>", ""), (0.0, (
        "generator runs 4 conv layers (counting its nn.Linear on z, `project.0`, for the given generator's first "
        "ConvTranspose2d, which it replaces), as many as the given DCGAN generator (4); add at least one, e.g. "
        "nn.Conv2d(c, c, 3, 1, 1) + nn.BatchNorm2d(c) + nn.ReLU() between two stages"))),
    (ON_Z, (0.0, (
        "generator runs 4 conv layers, as many as the given DCGAN generator (4); add at least one, e.g. nn.Conv2d(c, c, 3, "
        "1, 1) + nn.BatchNorm2d(c) + nn.ReLU() between two stages"))),
], ids=["linear_stem_and_a_block", "linear_stem_alone", "linear_added_on_z"])
def test_a_first_stage_written_as_a_linear_on_z_counts_for_the_conv_it_replaces(source, expected):
    """Red-team finding: the first stage written as nn.Linear(nz, ngf*4*4*4) on z, reshaped to (N, ngf*4, 4, 4) (as many
    DCGAN ports write it; the notebook allows writing the given stages yourself), plus a 3x3 block at 4x4 scored 0 of 2:
    "runs 4 conv layers, as many as the given generator's 4; add at least one". The given first ConvTranspose2d on z's
    1x1 is that Linear: it counts for it when no conv takes a 1x1 input. Without an added block the Linear alone adds
    nothing, and a Linear added on z before the given stages (whose first conv still takes z as 1x1) counts for none."""
    from reference.grading.checks import run_check
    from reference.grading.local import load_module
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import Generator, weights_init

    module = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
    namespace = {"torch": torch, "nn": nn, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(source), namespace)
    assert run_check(module.test_adds_conv_layers, LocalSubmission(namespace)) == expected


TUTORIAL_64 = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.main = nn.Sequential(  # the PyTorch DCGAN tutorial's generator, one channel: 4 -> 8 -> 16 -> 32 -> 64
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
        self.apply(weights_init)

    def forward(self, z):
        return <CUT>
'''
CUT_TO_28 = (
    "the generator's last convolution draws 64x64 images, and a resize, pool or crop after it (an F.interpolate, "
    "F.avg_pool2d, or a slice such as x[:, :, 18:46, 18:46]) cuts them down to the 28x28 output: it never draws the "
    "digits at their own size (a 64x64 generator, as in the PyTorch DCGAN tutorial, kept?); keep the given ladder "
    "(4 -> 7 -> 14 -> 28, its last stage nn.ConvTranspose2d(ngf, 1, 4, 2, 1)) with no stage after 28x28, and add layers "
    "that keep the size between its stages"
)


@pytest.mark.parametrize("cut, expected", [
    ("F.interpolate(self.main(z.view(z.size(0), -1, 1, 1)), size=(28, 28), mode='bilinear')",
     {"test_output_shape": (1.0, CUT_TO_28), "test_output_range": (1.0, "")}),
    ("self.main(z[:, :, None, None])[:, :, 18:46, 18:46]", {"test_output_shape": (1.0, CUT_TO_28), "test_output_range": (1.0, "")}),
    ("F.adaptive_avg_pool2d(self.main(z[:, :, None, None]), 28)", {"test_output_shape": (1.0, CUT_TO_28), "test_output_range": (
        0.0, f"generator output stays in [-1, 0.883] even with its weights scaled up, short of the data's -1 and 1: {CUT_TO_28}")}),
], ids=["interpolated", "centre_crop", "pooled"])
def test_the_tutorials_64x64_generator_cut_down_to_28x28_loses_a_shape_point(cut, expected):
    """Red team, round four: the PyTorch DCGAN tutorial's 64x64 generator (5 convolutions, more parameters) with its
    output resized, cropped or pooled to 28x28 kept every point of the cheap checks, where a4 takes a point for the same
    shortcut; its pooled output was blamed on "a second tanh". The given ladder with an added block keeps both points."""
    import torch.nn.functional as F

    from reference.grading.checks import run_check
    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    checks = load_checks(A, ROOT)
    namespace = {"torch": torch, "nn": nn, "F": F, "weights_init": weights_init}
    exec(TUTORIAL_64.replace("<CUT>", cut), namespace)
    assert {name: run_check(checks[name], LocalSubmission(namespace)) for name in expected} == expected


# ---------------------------------------------------------------------------------------------
# The tools: conv_output_size and activation_shapes (the `shape_tools` cell)
# ---------------------------------------------------------------------------------------------


def tools_submission(tmp_path: Path, source: str) -> Path:
    """The solution notebook with the `shape_tools` cell's source replaced by `source`."""
    return notebook_with_cells(SOLUTION, tmp_path, {"shape_tools": textwrap.dedent(source).strip("\n") + "\n"})


# the model answer's two functions, for variants that change one of them
SIZE = '''
def conv_output_size(size, kernel, stride, padding, transposed=False):
    if transposed:
        return (size - 1) * stride - 2 * padding + kernel
    return (size + 2 * padding - kernel) // stride + 1
'''
SHAPES = '''
def activation_shapes(model, x):
    names = {id(module): name for name, module in model.named_modules()}
    shapes = []

    def record(layer, inputs, output):
        shapes.append((names[id(layer)], tuple(output.shape)))

    leaves = [module for module in model.modules() if next(module.children(), None) is None]
    handles = [leaf.register_forward_hook(record) for leaf in leaves]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes
'''

TOOLS_CORRECT = {
    # math.floor of a true division, one expression per kind; the shapes as torch.Size, labelled by class name
    "floor_division_and_class_names": '''
        import math

        def conv_output_size(size, kernel, stride, padding, transposed=False):
            return (size - 1) * stride - 2 * padding + kernel if transposed else math.floor((size + 2 * padding - kernel) / stride) + 1

        def activation_shapes(model, x):
            found = []
            handles = []
            for m in model.modules():
                if len(list(m.children())) == 0:
                    handles.append(m.register_forward_hook(lambda mod, inp, out: found.append((type(mod).__name__, out.shape))))
            with torch.no_grad():
                model(x)
            for h in handles:
                h.remove()
            return found
    ''',
    # int() of the division (the numerator is never negative where PyTorch accepts the layer); the global module hook,
    # filtered to leaves, labels by name and lists of shapes
    "global_hook_and_names": '''
        from torch.nn.modules.module import register_module_forward_hook

        def conv_output_size(size, kernel, stride, padding, transposed=False):
            if not transposed:
                return int((size - kernel + 2 * padding) / stride) + 1
            return stride * (size - 1) + kernel - 2 * padding

        def activation_shapes(model, x):
            names = {m: n for n, m in model.named_modules()}
            out = []

            def hook(module, args, output):
                if module in names and not list(module.children()):
                    out.append((names[module], list(output.shape)))

            handle = register_module_forward_hook(hook)
            try:
                with torch.no_grad():
                    model(x)
            finally:
                handle.remove()
            return out
    ''',
    # a dilation-general formula and the layers' reprs as labels, the hooks removed by a context manager
    "general_formula_and_reprs": '''
        from contextlib import ExitStack

        def conv_output_size(size, kernel, stride, padding, transposed=False, dilation=1):
            span = dilation * (kernel - 1) + 1
            if transposed:
                return (size - 1) * stride - 2 * padding + span
            return (size + 2 * padding - span) // stride + 1

        def activation_shapes(model, x):
            rows = []
            with ExitStack() as stack:
                for name, layer in model.named_modules():
                    if not any(True for _ in layer.children()):
                        handle = layer.register_forward_hook(lambda l, i, o: rows.append((repr(l), tuple(o.size()))))
                        stack.callback(handle.remove)
                with torch.inference_mode():
                    model(x)
            return rows
    ''',
}

TOOLS_WRONG = {
    # rounds the division to the nearest whole number instead of flooring it
    "rounds_instead_of_floor": SHAPES + '''
def conv_output_size(size, kernel, stride, padding, transposed=False):
    if transposed:
        return (size - 1) * stride - 2 * padding + kernel
    return round((size + 2 * padding - kernel) / stride) + 1
''',
    # the transposed formula with + 2p
    "transposed_adds_the_padding": SHAPES + '''
def conv_output_size(size, kernel, stride, padding, transposed=False):
    if transposed:
        return (size - 1) * stride + 2 * padding + kernel
    return (size + 2 * padding - kernel) // stride + 1
''',
    # transposed ignored, and the + 1 left out of the conv's formula
    "no_plus_one_and_transposed_ignored": SHAPES + '''
def conv_output_size(size, kernel, stride, padding, transposed=False):
    return (size + 2 * padding - kernel) // stride
''',
    # hooks on every module: containers and the model itself listed too
    "counts_container_modules": SIZE + '''
def activation_shapes(model, x):
    shapes = []
    handles = [m.register_forward_hook(lambda m, i, o: shapes.append((type(m).__name__, tuple(o.shape)))) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return shapes
''',
    # the hooks stay on the model: a second call lists every layer twice
    "hooks_left_registered": SIZE + '''
shapes = []

def activation_shapes(model, x):
    for name, m in model.named_modules():
        if not list(m.children()):
            m.register_forward_hook(lambda m, i, o, name=name: shapes.append((name, tuple(o.shape))))
    shapes.clear()
    with torch.no_grad():
        model(x)
    return list(shapes)
''',
    # the shape of each layer's input, not its output
    "input_shapes": SIZE + '''
def activation_shapes(model, x):
    names = {id(m): n for n, m in model.named_modules()}
    shapes = []
    handles = [m.register_forward_hook(lambda m, i, o: shapes.append((names[id(m)], tuple(i[0].shape))))
               for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return shapes
''',
    # one entry per layer, kept in a dict: a layer called twice appears once
    "dict_keyed_by_layer": SIZE + '''
def activation_shapes(model, x):
    shapes = {}
    handles = [m.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
               for n, m in model.named_modules() if not list(m.children())]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return list(shapes.items())
''',
    # the output tensors themselves where the shapes belong
    "tensors_for_shapes": SIZE + '''
def activation_shapes(model, x):
    outs = []
    handles = [m.register_forward_hook(lambda m, i, o, n=n: outs.append((n, o)))
               for n, m in model.named_modules() if not list(m.children())]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return outs
''',
}


@pytest.mark.parametrize("name", list(TOOLS_CORRECT))
def test_correct_tools_score_full_marks(tmp_path, name):
    """Floor written as //, math.floor or int(); hooks per leaf or one global hook, removed by hand, in a finally or by
    a context manager; labels as names, classes or reprs; shapes as tuples, lists or torch.Size."""
    assert scores(tools_submission(tmp_path, TOOLS_CORRECT[name]), only=TOOL_CHECKS) == {c: OK[c] for c in TOOL_CHECKS}


FLOORED = "H_out = floor((H + 2p - k) / s) + 1"
GROWN = "H_out = (H - 1) s - 2p + k"
SHAPES_OF = "activation_shapes(model, x), for "
GIVEN = "the given Generator(nz=8, ngf=4, channels=1, size=28) with z (3, 8)"
GIVEN_OUTPUTS = ("main.0 (3, 8, 1, 1), main.1 (3, 16, 4, 4), main.2 (3, 16, 4, 4), main.3 (3, 16, 4, 4), main.4 (3, 8, 7, 7), "
                 "main.5 (3, 8, 7, 7), main.6 (3, 8, 7, 7), main.7 (3, 4, 14, 14), main.8 (3, 4, 14, 14), main.9 (3, 4, 14, 14), "
                 "main.10 (3, 1, 28, 28), main.11 (3, 1, 28, 28)")
TOOLS_EXPECTED = {
    "rounds_instead_of_floor": {"test_conv_output_size": (
        1.0,
        "conv_output_size(1, 1, 3, 1, transposed=False) returned 2; nn.Conv2d(kernel_size=1, stride=3, padding=1) turns 1x1 "
        "into 1x1: it rounds (h + 2p - k) / s to the nearest whole number; PyTorch floors it (the kernel must fit inside the "
        f"padded input): {FLOORED}")},
    "transposed_adds_the_padding": {"test_conv_output_size": (
        1.0,
        "conv_output_size(1, 3, 1, 1, transposed=True) returned 5; nn.ConvTranspose2d(kernel_size=3, stride=1, padding=1) "
        f"turns 1x1 into 1x1: in a transposed conv the padding removes 2p from the output, it does not add it: {GROWN}")},
    "no_plus_one_and_transposed_ignored": {"test_conv_output_size": (
        0.0,
        "conv_output_size(1, 1, 1, 0, transposed=False) returned 0; nn.Conv2d(kernel_size=1, stride=1, padding=0) turns 1x1 "
        f"into 1x1: it leaves out the + 1 (the kernel's first position): {FLOORED}; conv_output_size(1, 1, 1, 0, "
        f"transposed=True) returned 0; nn.ConvTranspose2d(kernel_size=1, stride=1, padding=0) turns 1x1 into 1x1: {GROWN}")},
    "counts_container_modules": {"test_activation_shapes": (
        0.0,
        f"{SHAPES_OF}{GIVEN}, lists 14 entries, 12 expected: it counts container modules too (nn.Sequential blocks or the "
        "model itself, whose outputs repeat their last layer's); hook only the leaf layers, the modules with no children "
        "(next(m.children(), None) is None)")},
    "hooks_left_registered": {"test_activation_shapes": (
        1.0,
        f"activation_shapes(model, x) leaves its hooks on the model (24 after two calls, for {GIVEN}), and its second call "
        "listed 24 entries, not 12: remove each hook after the forward pass (handle.remove() on what register_forward_hook "
        "returned, in a finally block), so the model runs as before")},
    "input_shapes": {"test_activation_shapes": (
        0.0, f"{SHAPES_OF}{GIVEN}, lists each layer's input shape; expected the shape of each layer's output ({GIVEN_OUTPUTS})")},
    "dict_keyed_by_layer": {"test_activation_shapes": (
        0.0,
        f"{SHAPES_OF}a model that calls its conv and its ReLU twice each, with x (2, 3, 8, 8), lists 3 entries, 5 expected: "
        "a layer that runs twice appears twice, once per call, in the order of the calls (conv (2, 3, 8, 8), act (2, 3, 8, 8), "
        "pool (2, 3, 4, 4), conv (2, 3, 4, 4), act (2, 3, 4, 4)); append each call's shape to a list, not a dict keyed by layer")},
    "tensors_for_shapes": {"test_activation_shapes": (
        0.0, f"{SHAPES_OF}{GIVEN}, lists tensors where the shapes belong: give tuple(output.shape), not the output itself")},
}


@pytest.mark.parametrize("name", list(TOOLS_WRONG))
def test_wrong_tools_get_exact_partial_scores(tmp_path, name):
    """Each wrong tool loses its check's points, exactly, with the fault named; the other tool keeps its points."""
    got = scores(tools_submission(tmp_path, TOOLS_WRONG[name]), only=TOOL_CHECKS)
    assert got == {c: TOOLS_EXPECTED[name].get(c, OK[c]) for c in TOOL_CHECKS}


@pytest.mark.parametrize("name", ["rounds_instead_of_floor", "hooks_left_registered"])
def test_the_sandbox_grades_tools_like_this_process(tmp_path, name):
    path = tools_submission(tmp_path, TOOLS_WRONG[name])
    assert sandboxed(path, only=TOOL_CHECKS) == scores(path, only=TOOL_CHECKS) == {c: TOOLS_EXPECTED[name].get(c, OK[c]) for c in TOOL_CHECKS}


BROKEN_TOOLS = '''
def conv_output_size(size, kernel, stride, padding, transposed=False):
    return size / 0

def activation_shapes(model, x):
    model.register_forward_hook(lambda m, i, o: None)
    raise RuntimeError("not finished")
'''


def test_broken_tools_cost_only_their_own_points(tmp_path):
    """Tools that raise (and leave a hook behind) cost the tools' checks; every check of DeeperGenerator keeps its
    points, and the trace cell falls back to the course's own trace."""
    graded = [c for c in CHECKS if c != "test_learns"]
    got = scores(tools_submission(tmp_path, BROKEN_TOOLS), only=graded)
    assert {c: got[c][0] for c in graded} == {**{c: FULL[c] for c in graded}, "test_conv_output_size": 0.0, "test_activation_shapes": 0.0}
    assert got["test_conv_output_size"][1].startswith("conv_output_size(..., transposed=False) raised ZeroDivisionError"), got
    assert "RuntimeError" in got["test_activation_shapes"][1] and "not finished" in got["test_activation_shapes"][1], got


def test_the_trace_cell_uses_the_students_activation_shapes(tmp_path):
    """The trace of DeeperGenerator lists what the student's activation_shapes returns, and the course's own trace
    when it raises (one line says so), so that "Run All" goes on."""
    cells = run_in_kernel(SOLUTION, tmp_path, upto="compare")
    lines = printed(cells[-1]).splitlines()
    assert lines[2].startswith("main.0 Unflatten(") and lines[2].endswith("-> (8, 100, 1, 1)") and lines[-1].endswith("-> (8, 1, 28, 28)"), lines
    tried = printed(next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "try_tools")).splitlines()
    assert tried[0] == "the given ladder by conv_output_size: 1 -> 4 -> 7 -> 14 -> 28 (PyTorch: 1 -> 4 -> 7 -> 14 -> 28)", tried
    (tmp_path / "broken").mkdir()
    broken = run_in_kernel(tools_submission(tmp_path / "broken", BROKEN_TOOLS), tmp_path / "broken", upto="compare")
    lines = printed(broken[-1]).splitlines()
    assert lines[2] == "activation_shapes raised RuntimeError: not finished; the trace below is the course's own", lines
    assert lines[3].startswith("main.0 Unflatten(") and lines[-1].endswith("-> (8, 1, 28, 28)"), lines
