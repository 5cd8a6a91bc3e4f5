"""The a4 autograder gives the right score and message to right and wrong submissions.

Each submission is the solution notebook with one or more of its solution cells (`loader`,
`networks`, `colour_grid`) replaced, executed like a student's notebook (offline: its data cell
writes the coloured digits in CIFAR-10's format) and graded by every check of
tests/autograders/test_a4_cifar10_port.py. The colour classifier of the learning check is trained
once per module into a temporary cache.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest

from conftest import notebook_with_cells
from reference.grading.runner import grade_notebook

A = "a4_cifar10_port"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = [
    "test_loader_yields_colour_batches_in_minus_one_one",
    "test_generator_makes_colour_images",
    "test_discriminator_takes_colour_images",
    "test_colour_grid_png",
    "test_learns",
]
FULL = dict(zip(CHECKS, (2.0, 2.0, 1.0, 2.0, 3.0)))


REFERENCE_SET = "coloured-digits"  # what the learning check trains on; `grading_cache` trains its classifier first (~20 s)
pytestmark = pytest.mark.usefixtures("grading_cache")


def submission(tmp_path: Path, cells: dict[str, str]) -> Path:
    """The solution notebook with the cells named (by grade_id) in `cells` replaced."""
    return notebook_with_cells(SOLUTION, tmp_path, {k: textwrap.dedent(v).strip("\n") + "\n" for k, v in cells.items()})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    return grade_notebook(path, A, ROOT)


def test_solution_scores_full_marks():
    assert scores(SOLUTION) == {name: (points, "") for name, points in FULL.items()}


def test_unmodified_student_version_scores_zero_everywhere():
    def todo(name: str) -> str:
        return f"`{name}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"

    assert scores(STUDENT) == {
        "test_loader_yields_colour_batches_in_minus_one_one": (0.0, todo("make_cifar10_loader")),
        "test_generator_makes_colour_images": (0.0, todo("make_generator")),
        "test_discriminator_takes_colour_images": (0.0, todo("make_discriminator")),
        "test_colour_grid_png": (0.0, todo("save_colour_grid")),
        "test_learns": (0.0, todo("make_generator")),
    }


LOADER = '''
def make_cifar10_loader(root, batch_size=64):
    tf = transforms.Compose([transforms.ToTensor(), <NORMALISE>])
    data = torchvision.datasets.CIFAR10(root=root, train=True, download=False, transform=tf)
    return DataLoader(data, batch_size=batch_size, shuffle=True)
'''

# G and D as classes, D ending in a sigmoid (probabilities), Dropout in D, biases on
CLASS_NETWORKS = '''
class CifarGenerator(nn.Module):
    def __init__(self, nz, ngf):
        super().__init__()
        self.project = nn.Linear(nz, ngf * 4 * 4 * 4)
        self.ngf = ngf
        self.up = nn.Sequential(
            nn.BatchNorm2d(ngf * 4), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z):
        return self.up(self.project(z).view(-1, self.ngf * 4, 4, 4))


class CifarDiscriminator(nn.Module):
    def __init__(self, ndf):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2), nn.Dropout(0.1),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
        )
        self.out = nn.Linear(ndf * 4 * 4 * 4, 1)

    def forward(self, x):
        return torch.sigmoid(self.out(self.features(x).flatten(1)))


def make_generator(nz=100, ngf=64):
    G = CifarGenerator(nz, ngf)
    G.apply(weights_init)
    return G


def make_discriminator(ndf=64):
    D = CifarDiscriminator(ndf)
    D.apply(weights_init)
    return D
'''

# the library's DCGAN with the CIFAR-10 arguments
LIBRARY_NETWORKS = '''
from reference.models.dcgan import build

def make_generator(nz=100, ngf=64):
    return build((3, 32, 32), nz, ngf=ngf)[0]

def make_discriminator(ndf=64):
    return build((3, 32, 32), 100, ndf=ndf)[1]
'''

TORCHVISION_GRID = '''
from torchvision.utils import save_image

def save_colour_grid(images, path, nrow=8):
    save_image(images, str(path), nrow=nrow, normalize=True, value_range=(-1, 1))
'''

GRID_HALF_PLUS_HALF = '''
import torchvision.utils as vutils

def save_colour_grid(images, path, nrow=8):
    vutils.save_image(images * 0.5 + 0.5, path, nrow=4, padding=0)
'''

CORRECT = {
    # Normalize((0.5,), (0.5,)) broadcasts over three channels; no drop_last, no download
    "broadcast_normalise_class_networks_torchvision_grid": {
        "loader": LOADER.replace("<NORMALISE>", "transforms.Normalize((0.5,), (0.5,))"),
        "networks": CLASS_NETWORKS,
        "colour_grid": TORCHVISION_GRID,
    },
    # a lambda instead of Normalize, the library's networks, x * 0.5 + 0.5 in a 4-column grid without padding
    "lambda_normalise_library_networks": {
        "loader": LOADER.replace("<NORMALISE>", "transforms.Lambda(lambda x: x * 2 - 1)"),
        "networks": LIBRARY_NETWORKS,
        "colour_grid": GRID_HALF_PLUS_HALF,
    },
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, CORRECT[name])) == {check: (points, "") for check, points in FULL.items()}


SOLUTION_NETWORKS = nbformat.read(SOLUTION, as_version=4)
SOLUTION_NETWORKS = next(c.source for c in SOLUTION_NETWORKS.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "networks")

WRONG = {
    # the grid is made grey by averaging the channels
    "grey_grid": (
        {"colour_grid": '''
            def save_colour_grid(images, path, nrow=8):
                save_image_grid(from_model_range(images.mean(dim=1, keepdim=True), "tanh"), path, nrow=nrow)
        '''},
        {"test_colour_grid_png": (
            0.0,
            "the grid is grey: every pixel has R = G = B; keep the images' three channels (no .mean(1), "
            "Grayscale or single-channel indexing)",
        )},
    ),
    # ToTensor only: the real images stay in [0, 1] while G's tanh makes [-1, 1]
    "images_left_in_0_1": (
        {"loader": LOADER.replace(", <NORMALISE>", "")},
        {"test_loader_yields_colour_batches_in_minus_one_one": (
            0.0,
            "the loader yields images in [0.00, 1.00]; expected [-1, 1], the range of the generator's tanh output, "
            "or D tells real from fake by the range alone: add transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) "
            "after transforms.ToTensor()",
        )},
    ),
    # two faults in one submission (one learning run for both): ImageNet's normalisation leaves values
    # outside [-1, 1]; the grid is saved as it comes out of G, in [-1, 1], so save_image clamps the
    # negative half to 0
    "imagenet_normalisation_and_grid_without_mapping": (
        {
            "loader": LOADER.replace("<NORMALISE>", "transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))"),
            "colour_grid": '''
                def save_colour_grid(images, path, nrow=8):
                    save_image_grid(images, path, nrow=nrow)
            ''',
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (
                0.0,
                "the loader's images (in [-2.12, 2.64]) are not the CIFAR-10 files' pixels scaled to [-1, 1] "
                "((x / 255 - 0.5) / 0.5): use transforms.ToTensor() then transforms.Normalize((0.5, 0.5, 0.5), "
                "(0.5, 0.5, 0.5)), and nothing that changes the pixels",
            ),
            "test_colour_grid_png": (
                1.0,
                "the grid's colours are off: an image of colour (0.0, 0.5, -0.5) in [-1, 1] should appear as RGB "
                "(128, 191, 64), but the images were saved without mapping [-1, 1] to [0, 1]: save (images + 1) / 2, "
                "or reference.data.from_model_range(images, 'tanh')",
            ),
        },
    ),
    # G's last conv still makes one channel
    "generator_outputs_one_channel": (
        {"networks": SOLUTION_NETWORKS.replace("nn.ConvTranspose2d(ngf, 3, 4, 2, 1", "nn.ConvTranspose2d(ngf, 1, 4, 2, 1")},
        {
            "test_generator_makes_colour_images": (0.0, "generator output is (N, 1, 32, 32); expected (N, 3, 32, 32)"),
            "test_learns": (0.0, "the grading run could not train the GAN: the generator returns (N, 1, 32, 32); "
                                 "expected (N, 3, 32, 32)"),
        },
    ),
    # D's first conv still takes one channel
    "discriminator_built_for_one_channel": (
        {"networks": SOLUTION_NETWORKS.replace("nn.Conv2d(3, ndf, 4, 2, 1", "nn.Conv2d(1, ndf, 4, 2, 1")},
        {
            "test_discriminator_takes_colour_images": (
                0.0,
                "the discriminator's first conv takes 1 input channel; CIFAR-10 images (N, 3, 32, 32) have 3: "
                "nn.Conv2d(3, ndf, 4, 2, 1)",
            ),
            "test_learns": (0.0, "the grading run could not train the GAN: the discriminator's first conv takes 1 "
                                 "input channel; the images have 3"),
        },
    ),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_partial_scores(tmp_path, name):
    cells, expected = WRONG[name]
    want = {check: expected.get(check, (points, "")) for check, points in FULL.items()}
    assert scores(submission(tmp_path, cells)) == want
