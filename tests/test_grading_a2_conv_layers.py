"""The a2 autograder gives the right score and message to right and wrong submissions.

Each submission is the solution notebook with the `DeeperGenerator` cell replaced, executed like a
student's notebook and graded by every check of tests/autograders/test_a2_conv_layers.py. The
digits classifier of the learning check is trained once per session into a temporary cache.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import notebook_with_cells
from reference.grading.runner import grade_notebook

A = "a2_conv_layers"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = [
    "test_output_shape",
    "test_output_range",
    "test_adds_conv_layers",
    "test_parameters_get_gradients",
    "test_learns",
]
FULL = dict(zip(CHECKS, (2.0, 1.0, 2.0, 1.0, 4.0)))


REFERENCE_SET = "digits"  # what the learning check trains on; `grading_cache` trains its classifier first (~10 s)
pytestmark = pytest.mark.usefixtures("grading_cache")


def submission(tmp_path: Path, source: str) -> Path:
    """The solution notebook with the `deeper_generator` cell's source replaced by `source`."""
    return notebook_with_cells(SOLUTION, tmp_path, {"deeper_generator": textwrap.dedent(source).strip("\n") + "\n"})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    return grade_notebook(path, A, ROOT)


def test_solution_scores_full_marks():
    assert scores(SOLUTION) == {name: (points, "") for name, points in FULL.items()}


def test_unmodified_student_version_scores_zero_everywhere():
    message = "`DeeperGenerator.__init__` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    assert scores(STUDENT) == {name: (0.0, message) for name in CHECKS}


# A generator written out layer by layer; <EXTRA_7>, <EXTRA_14> and <LAST> are filled per variant.
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
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),
            <LAST>
        )
        self.apply(weights_init)

    def forward(self, z):
        return self.net(z)
'''


def explicit(extra_7: str = "", extra_14: str = "", last: str = "nn.Tanh(),") -> str:
    return EXPLICIT.replace("<EXTRA_7>", extra_7).replace("<EXTRA_14>", extra_14).replace("<LAST>", last)


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
}


# The learning check's FID depends on the CPU thread count (see GRADING_THREADS in conftest.py): this
# variant learns fast enough at 2 threads (4/4) and "slowly" at 1 (1/4: FID 335 -> 271); its full marks
# hold at 2.
THREADS = {"conv_transpose_without_batchnorm": 2}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, monkeypatch, name):
    if name in THREADS:
        monkeypatch.setenv("GAN_COURSE_THREADS", str(THREADS[name]))
    assert scores(submission(tmp_path, CORRECT[name])) == {check: (points, "") for check, points in FULL.items()}


WRONG = {
    # ConvTranspose2d(k=3, s=1) without padding grows 14x14 to 16x16: the last stage makes 32x32
    "extra_layer_changes_output_size": (
        explicit(extra_14="nn.ConvTranspose2d(ngf, ngf, 3, 1, 0, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),"),
        {
            "test_output_shape": (
                0.0,
                "generator output is (N, 1, 32, 32); expected (N, 1, 28, 28); an added stride-1 layer must keep "
                "height and width: kernel 3 with padding 1",
            ),
            "test_learns": (0.0, "the grading run could not train the generator: the generator returns (N, 1, 32, 32); "
                                 "expected (N, 1, 28, 28)"),
        },
    ),
    # the block is added, but the Tanh is dropped: the output is unbounded
    "no_tanh": (
        explicit(extra_14="nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),", last=""),
        {"test_output_range": (0.0, "RANGE")},
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
                "layers are not used in forward, or their output is detached",
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
    # the nz argument is ignored (fixed at 100): right for nz=100 only
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
                "with nz=32, N=3 its output raised RuntimeError: unflatten: Provided sizes [100, 1, 1] don't "
                "multiply up to the size of dim 1 (32) in the input tensor; expected (N, 1, 28, 28) for every "
                "batch size N and nz (use the `nz` argument, do not fix it at 100)",
            ),
        },
    ),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_partial_scores(tmp_path, name):
    source, expected = WRONG[name]
    got = scores(submission(tmp_path, source))
    want = {check: expected.get(check, (points, "")) for check, points in FULL.items()}
    if want.get("test_output_range", (None, ""))[1] == "RANGE":  # its bounds depend on the weights: check the pattern
        earned, message = got["test_output_range"]
        assert earned == 0.0
        assert message.startswith("generator output reaches [") and message.endswith(
            "once its weights are scaled up; expected [-1, 1]: end the generator with nn.Tanh(), after the last conv"
        )
        want["test_output_range"] = got["test_output_range"]
    assert got == want
