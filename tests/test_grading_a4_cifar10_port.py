"""The a4 autograder gives the right score and message to right and wrong submissions.

Each submission is the solution notebook with some of its solution cells (`loader`, `networks`,
`colour_grid`) replaced (offline: its data cell writes the coloured digits in CIFAR-10's format)
and graded by every check of tests/autograders/test_a4_cifar10_port.py: the solution, the student
version and the attacks run in the sandboxed worker like a student's notebook, graded across the
proxy; the honest ones in this process (`graded_here`), and test_the_sandbox_grades_like_this_process
shows that the sandbox gives a sample of them the same results. Faults that do not interfere share a
notebook (a loader fault, a generator fault, a discriminator fault and a grid fault), so that one
grading, and at most one learning run, tests four checks. The probes of
reference/grading/probes_a4.py are also tested on their own, and the visible checks in a kernel.
The colour classifier of the learning check is trained once per module into a temporary cache.

The notebook's data cell is run in a kernel: with torchvision's download refused it trains on the
coloured digits and says so in one line; with CIFAR-10's files in the data folder it uses them.
"Run All" on the untouched student version reaches every visible check.
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
from reference.grading import probes_a4
from reference.grading.checks import END_WITH_TANH, run_check
from reference.grading.local import execute_notebook, load_checks
from reference.grading.runner import grade_notebook
from reference.grading.submission import LocalSubmission

A = "a4_cifar10_port"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = [
    "test_loader_yields_colour_batches_in_minus_one_one",
    "test_generator_makes_colour_images",
    "test_discriminator_takes_colour_images",
    "test_train_step",
    "test_colour_grid_png",
    "test_learns",
]
FULL = dict(zip(CHECKS, (2.0, 2.0, 1.0, 2.0, 2.0, 3.0)))
OK = {name: (points, "") for name, points in FULL.items()}
VISIBLE = [name for name in CHECKS[:4]]


REFERENCE_SET = "coloured-digits"  # what the learning check trains on; `grading_cache` trains its classifier first (~20 s)
pytestmark = pytest.mark.usefixtures("grading_cache")


def submission(tmp_path: Path, cells: dict[str, str]) -> Path:
    """The solution notebook with the cells named (by grade_id) in `cells` replaced."""
    return notebook_with_cells(SOLUTION, tmp_path, {k: textwrap.dedent(v).strip("\n") + "\n" for k, v in cells.items()})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    """An honest submission's results, graded in this process."""
    return graded_here(path, A)


def sandboxed(path: Path) -> dict[str, tuple[float, str]]:
    """The results of `gan-course autograde`: cells in the sandboxed worker, checks across the proxy."""
    return grade_notebook(path, A, ROOT)


def test_solution_scores_full_marks():
    assert sandboxed(SOLUTION) == OK


def test_unmodified_student_version_scores_zero_everywhere():
    def todo(name: str) -> str:
        return f"`{name}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"

    assert sandboxed(STUDENT) == {
        "test_loader_yields_colour_batches_in_minus_one_one": (0.0, todo("make_cifar10_loader")),
        "test_generator_makes_colour_images": (0.0, todo("make_generator")),
        "test_discriminator_takes_colour_images": (0.0, todo("make_discriminator")),
        "test_train_step": (0.0, todo("train_step")),
        "test_colour_grid_png": (0.0, todo("save_colour_grid")),
        "test_learns": (0.0, todo("make_generator")),
    }


# ---------------------------------------------------------------------------------------------
# Submissions
# ---------------------------------------------------------------------------------------------

NORMALISE = "transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"


def loader(transform: str, *, root: str = "root", train: str = "True", batch: str = "batch_size", order: str = "shuffle=True",
           dataset: str = "data") -> str:
    return f'''
def make_cifar10_loader(root, batch_size=64):
    tf = transforms.Compose([{transform}])
    data = torchvision.datasets.CIFAR10(root={root}, train={train}, download=False, transform=tf)
    return DataLoader({dataset}, batch_size={batch}, {order})
'''


def solution_cell(grade_id: str) -> str:
    """The source of the solution's cell `grade_id`."""
    return next(cell.source for cell in nbformat.read(SOLUTION, as_version=4).cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def edited(source: str, edits: tuple[tuple[str, str], ...]) -> str:
    """`source` with each (old, new) replaced (each old must occur)."""
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return source


SOLUTION_NETWORKS = solution_cell("networks")


def networks(*edits: tuple[str, str]) -> str:
    """The solution's networks cell with each (old, new) replaced (each old must occur)."""
    return edited(SOLUTION_NETWORKS, edits)


FIXED_NZ = ("nn.Unflatten(1, (nz, 1, 1))", "nn.Unflatten(1, (100, 1, 1))")
D_SIGMOID = ("nn.Flatten(0),  # (N,)", "nn.Flatten(0), nn.Sigmoid(),  # (N,) probabilities")
MNIST_KERNEL = ("nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1", "nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1")
D_ONE_CHANNEL = ("nn.Conv2d(3, ndf, 4, 2, 1", "nn.Conv2d(1, ndf, 4, 2, 1")
G_CHANNELS = ("nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1", "nn.ConvTranspose2d(ngf * 4, ngf, 4, 2, 1")
G_NO_TANH = ("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),", "nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False),")
D_SKIPS_A_STAGE = (
    "nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),  # 4x4",
    "nn.Conv2d(ndf * 2, ndf * 4, 3, 1, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),  # still 8x8",
)

# G and D as classes: G projects z with a Linear layer, D ends in a Linear layer (logits), Dropout in D
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
        return self.out(self.features(x).flatten(1))


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

# the layers in plain Python lists: they run, but the modules do not own them
LIST_NETWORKS = '''
class ListGenerator(nn.Module):
    def __init__(self, nz, ngf):
        super().__init__()
        self.nz = nz
        self.layers = [
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
        ]

    def forward(self, z):
        x = z.view(-1, self.nz, 1, 1)
        for layer in self.layers:
            x = layer(x)
        return x


class ListDiscriminator(nn.Module):
    def __init__(self, ndf):
        super().__init__()
        self.first = nn.Conv2d(3, ndf, 4, 2, 1, bias=False)
        self.rest = [
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
        ]

    def forward(self, x):
        x = nn.functional.leaky_relu(self.first(x), 0.2)
        for layer in self.rest:
            x = layer(x)
        return x.view(-1)


def make_generator(nz=100, ngf=64):
    return ListGenerator(nz, ngf)


def make_discriminator(ndf=64):
    return ListDiscriminator(ndf)
'''

# D ends in a Linear layer whose input size was counted for MNIST's 7x7 maps
D_LINEAR_FOR_MNIST = CLASS_NETWORKS.replace("nn.Linear(ndf * 4 * 4 * 4, 1)", "nn.Linear(ndf * 4 * 7 * 7, 1)")
# D squashes its logits with a tanh
D_TANH = CLASS_NETWORKS.replace("return self.out(self.features(x).flatten(1))", "return torch.tanh(self.out(self.features(x).flatten(1)))")

TORCHVISION_GRID = '''
from torchvision.utils import save_image

def save_colour_grid(images, path, nrow=8):
    save_image(images, str(path), nrow=nrow, normalize=True, value_range=(-1, 1))
'''

GRID_HALF_PLUS_HALF = '''
import torchvision.utils as vutils

def save_colour_grid(images, path, nrow=8):
    vutils.save_image(images * 0.5 + 0.5, path, nrow=nrow, padding=0)
'''

GRID_UNMAPPED = '''
def save_colour_grid(images, path, nrow=8):
    save_image_grid(images, path, nrow=nrow)
'''

GRID_GREY = '''
def save_colour_grid(images, path, nrow=8):
    save_image_grid(from_model_range(images.mean(dim=1, keepdim=True), "tanh"), path, nrow=nrow)
'''

GRID_OWN_NAME = '''
def save_colour_grid(images, path, nrow=8):
    save_image_grid(from_model_range(images, "tanh"), "samples.png", nrow=nrow)
'''

GRID_PLOTTED = '''
import matplotlib.pyplot as plt
import torchvision.utils as vutils

def save_colour_grid(images, path, nrow=8):
    grid = vutils.make_grid(from_model_range(images, "tanh"), nrow=nrow)
    plt.figure(figsize=(8, 8))
    plt.axis("off")
    plt.imshow(grid.permute(1, 2, 0).numpy())
    plt.savefig(path)
    plt.close()
'''

GRID_PATH_METHOD = '''
def save_colour_grid(images, path, nrow=8):
    save_image_grid(from_model_range(images, "tanh"), path.with_suffix(".png"), nrow=nrow)
'''

CORRECT = {
    # flip augmentation, Normalize((0.5,), (0.5,)) broadcast over three channels; G and D as classes
    # (a Linear projection in G, a Linear head and Dropout in D); torchvision's save_image with value_range
    "flip_broadcast_normalise_class_networks_torchvision_grid": {
        "loader": loader("transforms.RandomHorizontalFlip(), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))"),
        "networks": CLASS_NETWORKS,
        "colour_grid": TORCHVISION_GRID,
    },
    # a lambda instead of Normalize and a RandomSampler instead of shuffle=True, the library's networks,
    # x * 0.5 + 0.5 in a grid without padding
    "lambda_normalise_library_networks": {
        "loader": loader("transforms.ToTensor(), transforms.Lambda(lambda x: x * 2 - 1)",
                         order="sampler=torch.utils.data.RandomSampler(data)"),
        "networks": LIBRARY_NETWORKS,
        "colour_grid": GRID_HALF_PLUS_HALF,
    },
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, CORRECT[name])) == OK


LADDER_FIX = "a stride-2 nn.ConvTranspose2d with kernel 4 and padding 1 doubles the size (kernel 3 makes 2h - 1)"
REGISTER = (
    "layers kept in a plain Python list or dict (or made in forward) are not registered, so .parameters(), the "
    "optimizer and weights_init never see them: keep them in nn.Sequential or nn.ModuleList, assigned in __init__"
)
NOT_PIXELS = (
    "are not the CIFAR-10 files' pixels scaled to [-1, 1] ((x / 255 - 0.5) / 0.5): use transforms.ToTensor() then "
    "transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)); a horizontal flip is fine, but crops, resizes and colour "
    "changes alter the pixels"
)
TURNED = (
    "some of the loader's images are upside down or turned (a vertical flip or a rotation, such as RandomVerticalFlip or "
    "RandomRotation): a turned photo is not one the camera took, so G would learn to draw scenes upside down too; only a "
    "horizontal flip keeps an image one of the data's own: drop the others"
)
CHANNEL_STATISTICS = (
    "the loader's images are in [{}], normalised with mean ({}) and std ({}) per channel: dataset statistics "
    "standardise images for a classifier, but a GAN's real images must span [-1, 1], the range of the generator's "
    "tanh output, or D tells real from fake by the range alone; only mean 0.5 and std 0.5 map ToTensor's [0, 1] "
    "there: transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"
)

FIXED_NZ_MESSAGE = (
    "with nz=32, N=3 the generator fails: layer `0` (Unflatten(dim=1, unflattened_size=(100, 1, 1))) raised "
    "RuntimeError on its input (N, 32): unflatten: Provided sizes [100, 1, 1] don't multiply up to the size "
    "of dim 1 (32) in the input tensor; expected (N, 3, 32, 32) for every nz (use the `nz` argument, do not "
    "fix it at 100)"
)
RENAMED_ARGUMENT = (
    "your code raised TypeError: make_generator() got an unexpected keyword argument 'nz'; keep the arguments the "
    "grader calls it with: `make_generator(nz=100, ngf=16)`"
)
SIGMOID_MESSAGE = (
    "the discriminator's outputs stay in [0, 1] even with its weights scaled up 25 times: it returns "
    "probabilities (a final sigmoid); return logits, the last layer's output without nn.Sigmoid(): the "
    "course's losses (reference.losses) take logits and apply the sigmoid themselves"
)

# ---------------------------------------------------------------------------------------------
# train_step: the solution's cell edited, and steps written differently
# ---------------------------------------------------------------------------------------------

SOLUTION_STEP = solution_cell("train_step")


def train_step(*edits: tuple[str, str]) -> str:
    """The solution's train_step cell with each (old, new) replaced (each old must occur)."""
    return edited(SOLUTION_STEP, edits)


# the library's loss object on one fake batch; fakes under no_grad and made again for G's step, BCE as a function,
# D's zero_grad through the module; -log sigmoid written as softplus, D frozen during G's step and thawed, a list
STEP_CORRECT = {
    "library_loss": '''
def train_step(G, D, opt_g, opt_d, real, z):
    loss = get_loss("non-saturating")
    fake = G(z)
    loss_d = loss.d_loss(D(real).view(-1), D(fake.detach()).view(-1))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = loss.g_loss(D(fake).view(-1))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()
''',
    "no_grad_fakes_made_again": '''
def train_step(G, D, opt_g, opt_d, real, z):
    with torch.no_grad():
        fake = G(z)
    D.zero_grad()
    out_real, out_fake = D(real).flatten(), D(fake).flatten()
    err_d = (F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real))
             + F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake)))
    err_d.backward()
    opt_d.step()
    G.zero_grad()
    out = D(G(z)).flatten()
    err_g = F.binary_cross_entropy_with_logits(out, torch.ones(len(out)))
    err_g.backward()
    opt_g.step()
    return float(err_d.detach()), float(err_g.detach())
''',
    "softplus_frozen_d": '''
def train_step(G, D, opt_g, opt_d, real, z):
    fake = G(z)
    opt_d.zero_grad(set_to_none=False)
    loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()  # -log sigmoid(x) = softplus(-x)
    loss_d.backward()
    opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    opt_g.zero_grad(set_to_none=False)
    loss_g = F.softplus(-D(fake)).mean()
    loss_g.backward()
    opt_g.step()
    for p in D.parameters():
        p.requires_grad_(True)
    return [loss_d.item(), loss_g.item()]
''',
}

SATURATING_MESSAGE = (
    "this is the saturating loss log(1 - D(G(z))) of the minimax game: its gradient vanishes when D rejects the fakes; "
    "minimise the non-saturating -log D(G(z)) instead (lesson 1)"
)
ZERO_GRADS_FIRST = ("    opt_d.zero_grad()\n", "    opt_d.zero_grad()\n    opt_g.zero_grad()\n")
STEP_WRONG = {
    # the fake batch reused in G's step after D's backward() freed its graph
    "fake_not_detached": (train_step(("D(fake.detach())", "D(fake)")), 0.0, [
        "calling `train_step` raised RuntimeError: Trying to backward through the graph a second time",
        "Usually D's step judged the fake batch without .detach()"]),
    # both zero_grads at the top, D's step not detached, G's step on fakes made again: loss_d's gradients stay in G's .grad
    "fake_not_detached_made_again": (
        train_step(ZERO_GRADS_FIRST, ("    opt_g.zero_grad()\n    gen_logits = D(fake)", "    gen_logits = D(G(z))"),
                   ("D(fake.detach())", "D(fake)")), 0.0,
        ["gradients reached G's parameters in 2 backward passes, so loss_d's reached G too: in D's step score fake.detach()"]),
    "labels_swapped": (
        train_step(("bce(real_logits, torch.ones_like", "bce(real_logits, torch.zeros_like"),
                   ("bce(fake_logits, torch.zeros_like", "bce(fake_logits, torch.ones_like")), 0.0,
        ["the real/fake labels are swapped: D must output 1 (real) on the real batch and 0 (fake) on G(z)"]),
    "saturating_g_loss": (
        train_step(("loss_g = bce(gen_logits, torch.ones_like(gen_logits))", "loss_g = -bce(gen_logits, torch.zeros_like(gen_logits))")),
        0.0, [SATURATING_MESSAGE]),
    "d_terms_averaged": (train_step(("loss_d = loss_real + loss_fake", "loss_d = (loss_real + loss_fake) / 2")), 0.0,
                         ["loss_d is exactly half the trainer's (", "sum the real term and the fake term, do not average them"]),
    # no zero_grad for D: the previous step's gradients move D again
    "no_zero_grad": (train_step(("    opt_d.zero_grad()\n", "")), 0.0, [
        "D's update used the gradients left in .grad from before this step plus this step's: call opt_d.zero_grad() before "
        "loss_d.backward() (backward adds to .grad, so gradients accumulate across calls)"]),
    "g_step_also_steps_d": (train_step(("    opt_g.step()\n", "    opt_g.step()\n    opt_d.step()\n")), 0.0, [
        "opt_d.step() ran 2 times in one call of train_step(G, D, opt_g, opt_d, real, z) (G's step steps D too?"]),
    "fakes_from_g_in_eval_mode": (train_step(("    fake = G(z)  # (N, 3, 32, 32)\n", "    G.eval()\n    fake = G(z)\n    G.train()\n")),
                                  0.0, ["train_step ran G in eval mode (G.eval())", "leave G in training mode"]),
    "losses_as_tensors_of_the_batch": (
        train_step(("gen_logits = D(fake).view(-1)  # (N,)\n    loss_g = bce(gen_logits, torch.ones_like(gen_logits))",
                    "gen_logits = D(fake).view(-1)  # (N,)\n    loss_g = F.binary_cross_entropy_with_logits(gen_logits, "
                    "torch.ones_like(gen_logits), reduction='none')"),
                   ("    loss_g.backward()\n", "    loss_g.mean().backward()\n"),
                   ("return loss_d.item(), loss_g.item()", "return loss_d.item(), loss_g.detach()")), 0.0,
        ["returned a tensor of shape (16,) as loss_g; return (loss_d, loss_g), the losses this step descended, as floats"]),
}

WRONG = {
    # nz fixed at 100 in G's first layer; D's first conv still takes one channel; ToTensor only, so
    # real images stay in [0, 1]; the grid saved as G makes it, in [-1, 1]
    "fixed_nz_one_channel_d_unnormalised_loader_unmapped_grid": (
        {
            "loader": loader("transforms.ToTensor()"),
            "networks": networks(FIXED_NZ, D_ONE_CHANNEL),
            "colour_grid": GRID_UNMAPPED,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (
                0.0,
                "the loader yields images in [0.00, 1.00]; expected [-1, 1], the range of the generator's tanh output, "
                "or D tells real from fake by the range alone: add transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) "
                "after transforms.ToTensor()",
            ),
            "test_generator_makes_colour_images": (1.0, FIXED_NZ_MESSAGE),
            "test_discriminator_takes_colour_images": (
                0.0,
                "the discriminator's first conv takes 1 input channel; CIFAR-10 images (N, 3, 32, 32) have 3: "
                "nn.Conv2d(3, ndf, 4, 2, 1)",
            ),
            "test_colour_grid_png": (
                1.0,
                "the grid's colours are off: an image of colour (0.0, 0.5, -0.5) in [-1, 1] should appear as RGB "
                "(128, 191, 64), but the images were saved without mapping [-1, 1] to [0, 1]: save (images + 1) / 2, "
                "or reference.data.from_model_range(images, 'tanh')",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the GAN: the discriminator's first conv takes 1 input channel; "
                "CIFAR-10 images (N, 3, 32, 32) have 3: nn.Conv2d(3, ndf, 4, 2, 1)",
            ),
        },
    ),
    # MNIST's kernel-3 step kept (4 -> 7 -> 14 -> 28); D ends in nn.Sigmoid() (the PyTorch DCGAN
    # tutorial's habit); ImageNet's normalisation; the grid made grey by averaging the channels
    "mnist_ladder_sigmoid_d_imagenet_normalisation_grey_grid": (
        {
            "loader": loader("transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))"),
            "networks": networks(MNIST_KERNEL, D_SIGMOID),
            "colour_grid": GRID_GREY,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (0.0, CHANNEL_STATISTICS.format(
                "-2.12, 2.64", "0.485, 0.456, 0.406", "0.229, 0.224, 0.225")),
            "test_generator_makes_colour_images": (
                0.0,
                "the generator returns (N, 3, 28, 28): layer `4` (ConvTranspose2d(64, 32, kernel_size=(3, 3), "
                "stride=(2, 2), padding=(1, 1), bias=False)) turns 4x4 into 7x7, off the ladder 4x4 -> 8x8 -> 16x16 -> "
                f"32x32 (expected 4x4 or 8x8): {LADDER_FIX}",
            ),
            "test_discriminator_takes_colour_images": (0.0, SIGMOID_MESSAGE),
            "test_colour_grid_png": (
                0.0,
                "the grid is grey: every pixel has R = G = B; keep the images' three channels (no .mean(1), "
                "Grayscale or single-channel indexing)",
            ),
            "test_learns": (0.0, "the grading run could not train the GAN: the generator returns (N, 3, 28, 28); expected (N, 3, 32, 32)"),
        },
    ),
    # G and D keep their layers in plain lists; a Grayscale loader; the grid saved under its own name
    "layers_in_lists_grayscale_loader_grid_elsewhere": (
        {
            "loader": loader("transforms.Grayscale(), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))"),
            "networks": LIST_NETWORKS,
            "colour_grid": GRID_OWN_NAME,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (
                0.0,
                "the loader yields images of shape (8, 1, 32, 32) for batch_size=8; expected (8, 3, 32, 32): keep "
                "CIFAR-10's three colour channels (no Grayscale)",
            ),
            "test_generator_makes_colour_images": (
                1.0,
                f"the generator runs 7 layers with weights that are not registered in it (ConvTranspose2d, BatchNorm2d): {REGISTER}",
            ),
            "test_discriminator_takes_colour_images": (
                0.0,
                f"the discriminator runs 3 layers with weights that are not registered in it (Conv2d): {REGISTER}",
            ),
            "test_colour_grid_png": (
                0.0,
                "save_colour_grid(images, path) wrote no file at `path` (it wrote samples.png): save the grid to "
                "exactly the path it is given",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the GAN: the generator has no trainable parameters: its layers are not "
                "registered (layers kept in a plain Python list or dict are invisible to .parameters() and the "
                "optimizer): keep them in nn.Sequential or nn.ModuleList, assigned in __init__",
            ),
        },
    ),
    # G's channels do not chain (a layer takes ngf * 4 after one that makes ngf * 2); D's Linear
    # head counted for 7x7 maps; the test split; a matplotlib figure of the grid
    "g_channels_d_linear_test_split_plotted_grid": (
        {
            "loader": loader(f"transforms.ToTensor(), {NORMALISE}", train="False"),
            "networks": D_LINEAR_FOR_MNIST.replace(
                "nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1)", "nn.ConvTranspose2d(ngf * 4, ngf, 4, 2, 1)"
            ),
            "colour_grid": GRID_PLOTTED,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (
                0.0,
                "the loader reads the test split; train on the training batches: CIFAR10(root, train=True, ...)",
            ),
            "test_generator_makes_colour_images": (
                0.0,
                "the generator fails: layer `up.5` (ConvTranspose2d(64, 16, kernel_size=(4, 4), stride=(2, 2), "
                "padding=(1, 1))) takes 64 channels but gets (N, 32, 8, 8): its in_channels must be the channels of "
                "its input (the out_channels of the layer before it; nz for G's first layer)",
            ),
            "test_discriminator_takes_colour_images": (
                0.0,
                "the discriminator cannot take (N, 3, 32, 32) images: layer `out` (Linear(in_features=3136, "
                "out_features=1, bias=True)) takes 3136 features but gets (N, 1024): its in_features must be the "
                "number of values of one flattened input",
            ),
            "test_colour_grid_png": (
                1.0,
                "the grid is 800x800 pixels, more than 16 images of 32x32 need (torchvision's save_image with 8 per "
                "row makes 274x70): save the tensors directly, without upscaling",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the GAN: the generator fails: layer `up.5` (ConvTranspose2d(64, 16, "
                "kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))) takes 64 channels but gets (N, 32, 8, 8): its "
                "in_channels must be the channels of its input (the out_channels of the layer before it; nz for G's "
                "first layer)",
            ),
        },
    ),
    # no tanh at the end of G; D skips a stride-2 stage (8x8 into the last conv); a fixed batch size
    # of 64; the grid's path used as a pathlib.Path (it is a str)
    "g_without_tanh_d_short_ladder_fixed_batch_size_path_method": (
        {
            "loader": loader(f"transforms.ToTensor(), {NORMALISE}", batch="64"),
            "networks": networks(G_NO_TANH, D_SKIPS_A_STAGE),
            "colour_grid": GRID_PATH_METHOD,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (
                0.0,
                "the loader yields images of shape (40, 3, 32, 32) for batch_size=8; expected (8, 3, 32, 32): pass "
                "batch_size to the DataLoader",
            ),
            "test_generator_makes_colour_images": (
                1.0,
                "generator output reaches [-367, 486] once its weights are scaled up; expected [-1, 1]: end it with nn.Tanh()",
            ),
            "test_discriminator_takes_colour_images": (
                0.0,
                "the discriminator returns (50,) for (N, 3, 32, 32) images; expected one logit per image, (N,) "
                "or (N, 1): layer `8` (Conv2d(64, 1, kernel_size=(4, 4), stride=(1, 1), bias=False)) turns 8x8 into "
                "5x5, off the ladder 32x32 -> 16x16 -> 8x8 -> 4x4 (expected 8x8 or 4x4): a stride-2 nn.Conv2d with "
                "kernel 4 and padding 1 halves the size",
            ),
            "test_colour_grid_png": (
                0.0,
                "calling `save_colour_grid` raised AttributeError: 'str' object has no attribute 'with_suffix'; "
                "save_colour_grid(images, path) saves images (N, 3, H, W) in [-1, 1] as one PNG at `path`",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the GAN: the discriminator returns (800) for a batch of real images; "
                "expected one value per image, (N,) or (N, 1)",
            ),
        },
    ),
    # D squashes its logits with tanh (and G's output has one channel); the loader is not shuffled;
    # the grid is saved with save_image's min-max normalisation (the PyTorch DCGAN tutorial's habit)
    "d_tanh_g_one_channel_unshuffled_loader_stretched_grid": (
        {
            "networks": D_TANH.replace("nn.ConvTranspose2d(ngf, 3, 4, 2, 1)", "nn.ConvTranspose2d(ngf, 1, 4, 2, 1)"),
            "loader": loader(f"transforms.ToTensor(), {NORMALISE}", order="drop_last=True"),
            "colour_grid": """
                from torchvision.utils import save_image

                def save_colour_grid(images, path, nrow=8):
                    save_image(images, path, nrow=nrow, normalize=True)
            """,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (
                1.0,
                "every pass over the loader starts with the same images in the same order: G and D would see the "
                "batches in one fixed order every epoch; pass shuffle=True to the DataLoader",
            ),
            "test_colour_grid_png": (
                1.0,
                "a batch in [-0.5, 0.5] (G early in training) is saved at full contrast: the grid stretches each "
                "batch's own minimum and maximum to [0, 1] (save_image's normalize=True without value_range), so "
                "samples look better than G makes them; map the fixed range: save_image(images, path, "
                "normalize=True, value_range=(-1, 1)) or save (images + 1) / 2",
            ),
            "test_generator_makes_colour_images": (
                0.0,
                "the generator returns (N, 1, 32, 32): its last conv, layer `up.8` (ConvTranspose2d(16, 1, "
                "kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))), makes 1 channel; CIFAR-10 images have 3: "
                "nn.ConvTranspose2d(ngf, 3, 4, 2, 1)",
            ),
            "test_discriminator_takes_colour_images": (
                0.0,
                "the discriminator's outputs stay in [-1, 1] even with its weights scaled up 25 times: its last layer "
                "squashes them; return logits, the last layer's output with no activation after it",
            ),
            "test_learns": (0.0, "the grading run could not train the GAN: the generator returns (N, 1, 32, 32); expected (N, 3, 32, 32)"),
        },
    ),
    # G detaches its output (no gradient reaches its layers: only the learning run can tell); a random
    # crop augmentation; only the first image saved
    "detached_g_random_crop_one_image_saved": (
        {
            "loader": loader(f"transforms.RandomCrop(32, padding=4), transforms.ToTensor(), {NORMALISE}"),
            "networks": CLASS_NETWORKS.replace(
                "return self.up(self.project(z).view(-1, self.ngf * 4, 4, 4))",
                "return self.up(self.project(z).view(-1, self.ngf * 4, 4, 4)).detach()  # no graph: saves memory",
            ),
            "colour_grid": """
                from torchvision.utils import save_image

                def save_colour_grid(images, path, nrow=8):
                    save_image((images[0] + 1) / 2, path)
            """,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (0.0, f"the loader's images (in [-1.00, 1.00]) {NOT_PIXELS}"),
            "test_colour_grid_png": (
                0.0,
                "the grid is 32x32 pixels, too small for the 16 images of 32x32 it was given: save the whole batch in "
                "one grid, e.g. torchvision.utils.save_image((images + 1) / 2, path, nrow=nrow)",
            ),
            "test_learns": (
                0.0,
                "the grading run could not train the GAN: the generator's output does not depend on its parameters "
                "(detached, or made without them), so it cannot learn",
            ),
        },
    ),
    # G's argument renamed (the grader calls make_generator(nz=..., ngf=...)); D built but not
    # returned; the dataset returned instead of a DataLoader; the grid saved as JPEG
    "renamed_argument_d_not_returned_dataset_jpeg": (
        {
            "loader": """
                def make_cifar10_loader(root, batch_size=64):
                    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
                    return torchvision.datasets.CIFAR10(root, train=True, download=False, transform=tf)
            """,
            "networks": networks(
                ("def make_generator(nz: int = 100, ngf: int = 64)", "def make_generator(latent_dim: int = 100, ngf: int = 64)"),
                ("nn.Unflatten(1, (nz, 1, 1))", "nn.Unflatten(1, (latent_dim, 1, 1))"),
                ("nn.ConvTranspose2d(nz, ngf * 4", "nn.ConvTranspose2d(latent_dim, ngf * 4"),
                ("    D.apply(weights_init)\n    return D", "    D.apply(weights_init)"),
            ),
            "colour_grid": """
                from torchvision.utils import save_image

                def save_colour_grid(images, path, nrow=8):
                    save_image((images + 1) / 2, path, nrow=nrow, format="jpeg")
            """,
        },
        {
            "test_loader_yields_colour_batches_in_minus_one_one": (
                0.0,
                "the loader yields images of shape (3, 32, 32) for batch_size=8; expected (8, 3, 32, 32): return a "
                "DataLoader (it stacks images into batches), not the dataset",
            ),
            "test_generator_makes_colour_images": (0.0, RENAMED_ARGUMENT),
            "test_discriminator_takes_colour_images": (
                0.0,
                "`make_discriminator(ndf=16)` returned a NoneType, not a torch nn.Module: return the network (an "
                "nn.Sequential, or your nn.Module)",
            ),
            "test_colour_grid_png": (
                0.0,
                "the grid file is JPEG, not PNG: save it with torchvision.utils.save_image or reference.plots.save_image_grid",
            ),
            "test_learns": (0.0, RENAMED_ARGUMENT),
        },
    ),
    # the saturating G loss in train_step, which the notebook's training cell calls: only the step's check
    # loses its points (the learning check trains G and D with the grader's own loop)
    "saturating_train_step": (
        {"train_step": STEP_WRONG["saturating_g_loss"][0]},
        {"test_train_step": (0.0, SATURATING_MESSAGE)},
    ),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_partial_scores(tmp_path, name):
    cells, expected = WRONG[name]
    want = {check: expected.get(check, (points, "")) for check, points in FULL.items()}
    assert scores(submission(tmp_path, cells)) == want


@pytest.mark.parametrize("name", ["g_channels_d_linear_test_split_plotted_grid", "layers_in_lists_grayscale_loader_grid_elsewhere",
                                  "saturating_train_step"])
def test_the_sandbox_grades_like_this_process(tmp_path, name):
    """What the other tests grade in this process scores the same in the sandbox, messages included
    (a layer's error traced to the layer inside the learning run, unregistered layers, files read from scratch)."""
    path = submission(tmp_path, WRONG[name][0])
    result = sandboxed(path)
    assert result == scores(path) == {check: WRONG[name][1].get(check, (points, "")) for check, points in FULL.items()}


# ---------------------------------------------------------------------------------------------
# The visible checks in the student's own kernel, and the probes on their own
# ---------------------------------------------------------------------------------------------


def test_visible_checks_in_the_students_kernel(tmp_path):
    """The visible checks on a LocalSubmission: full marks for the solution, the same messages as
    graded for a fixed nz and a sigmoid D, and no folder of theirs left in the notebook's folder."""
    sub = execute_notebook(SOLUTION)
    try:
        checks = load_checks(A, ROOT)
        assert {name: run_check(checks[name], sub) for name in VISIBLE} == {name: OK[name] for name in VISIBLE}
        assert not list(sub.workdir.glob("a4-check-*"))
    finally:
        sub.close()
    sub = execute_notebook(submission(tmp_path, {"networks": networks(FIXED_NZ, D_SIGMOID)}))
    try:
        checks = load_checks(A, ROOT)
        got = {name: run_check(checks[name], sub) for name in VISIBLE[1:3]}
    finally:
        sub.close()
    assert got == {VISIBLE[1]: (1.0, FIXED_NZ_MESSAGE), VISIBLE[2]: (0.0, SIGMOID_MESSAGE)}


SETUP = next(
    cell.source for cell in nbformat.read(SOLUTION, as_version=4).cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup"
)


def graded_step(source: str) -> tuple[float, str]:
    """test_train_step on a kernel's namespace holding the notebook's setup and `source` (a train_step cell)."""
    namespace: dict = {}
    exec(SETUP, namespace)
    exec(textwrap.dedent(source), namespace)
    return run_check(load_checks(A, ROOT)["test_train_step"], LocalSubmission(namespace))


@pytest.mark.parametrize("name", ["solution", *STEP_CORRECT])
def test_training_steps_written_differently_score_full_marks(name):
    assert graded_step(SOLUTION_STEP if name == "solution" else STEP_CORRECT[name]) == OK["test_train_step"]


@pytest.mark.parametrize("name", list(STEP_WRONG))
def test_wrong_training_steps_are_told_their_fault(name):
    source, points, fragments = STEP_WRONG[name]
    got, message = graded_step(source)
    assert got == points, message
    assert all(fragment in message for fragment in fragments), message


class _Wrapped(nn.Module):
    """A network whose forward is `inner`'s with `before` applied to its input and `after` to its output."""

    def __init__(self, inner, before=lambda x: x, after=lambda y: y):
        super().__init__()
        self.inner, self.before, self.after = inner, before, after

    def forward(self, x):
        return self.after(self.inner(self.before(x)))


@pytest.mark.parametrize(
    "which, edit, wrap, check, expected",
    [
        ("make_generator", ("nn.ConvTranspose2d(ngf, 3, 4, 2, 1", "nn.ConvTranspose2d(ngf, 1, 4, 2, 1"),
         {"after": lambda y: y.repeat(1, 3, 1, 1)}, "test_generator_makes_colour_images",
         (1.0, "the generator's three channels are equal in every image: it draws one grey channel and copies it into three "
               "(repeat, expand or cat), so it can never draw a colour; let its last conv make the 3 channels, "
               "nn.ConvTranspose2d(ngf, 3, 4, 2, 1)")),
        ("make_discriminator", D_ONE_CHANNEL, {"before": lambda x: x.mean(1, keepdim=True)}, "test_discriminator_takes_colour_images",
         (0.0, "the discriminator's logits stay the same when the colour channels of its images are swapped: it sees their "
               "average (a grey image: x.mean(1) or a grey conversion), so it cannot tell a red digit from a green one; let "
               "its first conv take the 3 channels as they are, nn.Conv2d(3, ndf, 4, 2, 1)")),
        ("make_discriminator", D_ONE_CHANNEL, {"before": lambda x: x[:, 1:2]}, "test_discriminator_takes_colour_images",
         (0.0, "the discriminator's logits do not change when the red and blue channels of its images change: it reads only "
               "some of the 3 colour channels; let its first conv take all 3, nn.Conv2d(3, ndf, 4, 2, 1)")),
        ("make_generator", ("nn.ConvTranspose2d(ngf, 3, 4, 2, 1", "nn.ConvTranspose2d(ngf, 1, 4, 2, 1"),
         {"after": lambda y: torch.tanh(2 * y * torch.tensor([1.0, 0.8, 0.5]).view(1, 3, 1, 1) + torch.tensor([0.0, 0.1, -0.1]).view(1, 3, 1, 1))},
         "test_generator_makes_colour_images",
         (1.0, "every pixel the generator draws has its colour on one curve through colour space, fixed by one number: it draws "
               "one grey channel and turns it into three by fixed weights or functions (a 1x1 conv, a tint or a bias per "
               "channel), so it cannot draw a red digit and a green one; let its last conv make the 3 channels, "
               "nn.ConvTranspose2d(ngf, 3, 4, 2, 1)")),
        ("make_discriminator", D_ONE_CHANNEL, {"before": lambda x: (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)},
         "test_discriminator_takes_colour_images",
         (0.0, "the discriminator sees one fixed mix of the colour channels (its logits change with the images only through "
               "w_R R + w_G G + w_B B, a grey conversion such as Grayscale's 0.299 R + 0.587 G + 0.114 B), so it cannot tell a "
               "red digit from a green one of the same brightness; let its first conv take the 3 channels as they are, "
               "nn.Conv2d(3, ndf, 4, 2, 1)")),
    ],
    ids=["g_grey_repeated", "d_channel_mean", "d_green_only", "g_grey_tinted", "d_luma"],
)
def test_networks_that_cannot_handle_colour_lose_their_points(which, edit, wrap, check, expected):
    """A G whose last conv makes one channel, repeated three times, and a D that averages the channels (or reads one)
    ran on (N, 3, 32, 32) and kept their points; neither can draw or judge a colour, which is what the port is for."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks(edit), namespace)
    made = namespace[which]
    namespace[which] = lambda *args, **kwargs: _Wrapped(made(*args, **kwargs), **wrap)
    assert run_check(load_checks(A, ROOT)[check], LocalSubmission(namespace)) == expected


SN_IN_D = """
def make_discriminator(ndf=64):
    sn = nn.utils.parametrizations.spectral_norm
    return nn.Sequential(
        sn(nn.Conv2d(3, ndf, 4, 2, 1, bias=False)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)), nn.InstanceNorm2d(ndf * 2), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False)), nn.InstanceNorm2d(ndf * 4), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)), nn.Flatten(0)<END>)
"""


@pytest.mark.parametrize("end, expected", [("", 1.0), (", nn.Sigmoid()", 0.0)], ids=["logits", "sigmoid"])
def test_a_discriminator_whose_norms_cancel_the_scaling_is_judged_by_its_last_operation(end, expected):
    """Spectral norm cancels a scaling of the weights and InstanceNorm one of the images, so a sound D's small logits
    at init looked "squashed" (0 of 1); the last operation of D's output (a Sigmoid or Tanh, or a layer) now decides."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks(("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),", "nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),")), namespace)
    exec(SN_IN_D.replace("<END>", end), namespace)
    points, message = run_check(load_checks(A, ROOT)["test_discriminator_takes_colour_images"], LocalSubmission(namespace))
    assert points == expected and (expected == 1.0 or "probabilities" in message), message


def test_a_discriminator_that_averages_over_the_batch_is_told_so():
    """The original WGAN code's output.mean(0).view(1): (1,) for N images, told as a reduction over the batch (its
    last conv already makes 1x1)."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks(("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),", "nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),")), namespace)
    D = namespace["make_discriminator"]

    def make_discriminator(ndf=64):
        inner = D(ndf)

        class Critic(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner(x).mean(0).view(1)

        return Critic()

    namespace["make_discriminator"] = make_discriminator
    points, message = run_check(load_checks(A, ROOT)["test_discriminator_takes_colour_images"], LocalSubmission(namespace))
    assert points == 0.0 and message.endswith(
        "its last conv gives one value per image, (N, 1, 1, 1), which forward then reduces over the batch (a mean or sum "
        "over dim 0, as the original WGAN code does): D scores each image, so return them all, .view(-1)"), message


def test_a_generator_whose_tanh_output_is_stretched_after_it_is_told_so():
    """torch.tanh(...) * 2 - 1 reaches [-3, 1]: told that the output is changed after its Tanh, not to add one."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks(("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),", "nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),")), namespace)
    G = namespace["make_generator"]

    def make_generator(nz=100, ngf=64):
        inner = G(nz, ngf)

        class Stretched(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, z):
                return self.inner(z) * 2 - 1

        return Stretched()

    namespace["make_generator"] = make_generator
    points, message = run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace))
    assert points == 1.0 and message.startswith("generator output reaches [-3") and message.endswith(
        "nn.Tanh() is the generator's last layer, but its output is changed after it in forward (such as * 2 - 1, + 1 or a "
        "rescaling), which moves it out of [-1, 1]: return the Tanh's output as it is"), message


@pytest.mark.parametrize("ending", ["nn.Sigmoid(),", "nn.ReLU(), nn.Tanh(),"])
def test_a_generator_that_is_never_negative_is_told_to_end_with_the_tanh(ending):
    """A Sigmoid for the Tanh, or a ReLU before it: the colour-images check (in a kernel here) names both."""
    from reference.grading.submission import LocalSubmission

    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks((G_NO_TANH[0], G_NO_TANH[1] + " " + ending)), namespace)
    check_fn = load_checks(A, ROOT)["test_generator_makes_colour_images"]
    points, message = run_check(check_fn, LocalSubmission(namespace))
    assert points == 1.0 and message.startswith("generator output stays in [0, ") and message.endswith(END_WITH_TANH), message


@pytest.mark.parametrize(
    "order, dataset, points",
    [
        ("shuffle=True", "data", 2.0),
        ("sampler=torch.utils.data.RandomSampler(data, generator=torch.Generator().manual_seed(0))", "data", 2.0),
        ("shuffle=False", "data", 1.0),  # file order every epoch
        ("shuffle=False", "torch.utils.data.Subset(data, torch.randperm(len(data)))", 1.0),  # shuffled once only
    ],
)
def test_the_loader_must_draw_a_new_order_every_epoch(tmp_path, order, dataset, points):
    """The loader check (in a kernel here) takes a second epoch's first batch: a fixed order, even a
    random one drawn once, keeps one point and says so; a sampler that reshuffles is as good as shuffle=True."""
    from reference.grading.submission import LocalSubmission

    import torchvision

    namespace = {"torch": torch, "torchvision": torchvision, "transforms": torchvision.transforms, "DataLoader": torch.utils.data.DataLoader}
    exec(textwrap.dedent(loader(f"transforms.ToTensor(), {NORMALISE}", order=order, dataset=dataset)), namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    got = run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path))
    assert got[0] == points, got
    assert (got[1] == "") == (points == 2.0) and (points == 2.0 or "pass shuffle=True" in got[1]), got


SLOW_NETWORKS = networks(
    ("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),",
     "nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.BatchNorm2d(3), nn.Tanh(),"),
    ("nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),  # 8x8", "nn.ReLU(True),  # 8x8"),
    ("nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),  # 4x4", "nn.ReLU(True),  # 4x4"),
    ("nn.LeakyReLU(0.2, True),  # 16x16", "nn.ReLU(True),  # 16x16"),
)


DLAI_INIT = """
def dlai_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    if isinstance(m, nn.BatchNorm2d):
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
        torch.nn.init.constant_(m.bias, 0)
"""


@pytest.mark.parametrize(
    "cells, breaks",
    [
        (SOLUTION_NETWORKS, []),
        (CLASS_NETWORKS, []),  # a Linear projection in G and a Linear head in D break no rule
        (SLOW_NETWORKS, ["G normalises its output layer", "D uses ReLU", "D has no BatchNorm"]),
        (CLASS_NETWORKS.replace("nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1)", "nn.Conv2d(ndf * 2, ndf * 4, 3, 1, 1), nn.MaxPool2d(2)")
         .replace("nn.ConvTranspose2d(ngf, 3, 4, 2, 1)", "nn.Upsample(scale_factor=2), nn.Conv2d(ngf, 3, 3, 1, 1)"),
         ["G upsamples", "D pools"]),
        (CLASS_NETWORKS.replace("nn.ConvTranspose2d(ngf, 3, 4, 2, 1)", "nn.UpsamplingNearest2d(scale_factor=2), nn.Conv2d(ngf, 3, 3, 1, 1)"),
         ["G upsamples"]),
        # BatchNorm after every conv of D but the input's, the logit's too (the task's "BatchNorm except on D's input layer")
        (SOLUTION_NETWORKS.replace("nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),", "nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.BatchNorm2d(1),"),
         ["D normalises its output"]),
        # spectral norm on D's last conv is a parametrization (its leaf is _SpectralNorm), not a normalisation of the batch
        (SOLUTION_NETWORKS.replace("nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),",
                                   "torch.nn.utils.parametrizations.spectral_norm(nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)),"),
         []),
        # found by session 35's red team: InstanceNorm in BatchNorm's place was told the layers "follow the requirements"
        (CLASS_NETWORKS.replace("nn.BatchNorm2d(ndf * 2)", "nn.InstanceNorm2d(ndf * 2, affine=True)")
         .replace("nn.BatchNorm2d(ndf * 4)", "nn.InstanceNorm2d(ndf * 4, affine=True)"),
         ["D normalises with InstanceNorm2d, not BatchNorm"]),
        # found by session 37's red team: DeepLearning.AI's weights_init draws BatchNorm weights from N(0, 0.02), as the
        # convs'; with BatchNorm on D's input layer too, the port did not learn, and the advice named only the latter
        (DLAI_INIT + SOLUTION_NETWORKS.replace("G.apply(weights_init)", "G.apply(dlai_init)").replace("D.apply(weights_init)", "D.apply(dlai_init)"),
         ["G's BatchNorm layers start with their scales near 0", "D's BatchNorm layers start with their scales near 0"]),
    ],
    ids=["solution", "class_networks", "bn_on_output_relu_d_without_bn", "upsample_and_pool", "upsampling_nearest", "bn_on_d_logit",
         "spectral_norm_on_d_logit", "instance_norm_in_d", "batchnorm_weights_drawn_around_0"],
)
def test_rule_breaks_name_what_the_traces_show(cells, breaks):
    """The learning check's advice for a slow or failing GAN names only the DCGAN rules the layer traces show broken."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(cells, namespace)
    found = load_checks(A, ROOT)["test_learns"].__globals__["rule_breaks"](LocalSubmission(namespace))
    assert [text.split(":")[0] for text in found] == breaks, found


UNINITIALISED = SOLUTION_NETWORKS.replace("G.apply(weights_init)", "").replace("D.apply(weights_init)", "")


@pytest.mark.parametrize("cells", [SOLUTION_NETWORKS, SLOW_NETWORKS, UNINITIALISED], ids=["rules_kept", "rules_broken", "no_weights_init"])
def test_a_slow_learner_is_told_the_rules_it_breaks_not_the_ladder_it_keeps(monkeypatch, cells):
    """A partial verdict (canned here; the runs are tested in tests/test_learning.py) gives advice that applies: the
    rules the traces show broken, else weights_init when the conv weights are not N(0, 0.02) (it was only suggested,
    also to students who had applied it), else that the design itself is slow."""
    from reference.grading import learning
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    canned = learning.LearningResult("partial", "classifier-FID went from 1300 (untrained) to at best 560 and 620", [], 716.0, 501.0, 400)
    monkeypatch.setattr(learning, "learning_check", lambda *args, **kwargs: canned)
    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(cells, namespace)
    points, message = run_check(load_checks(A, ROOT)["test_learns"], LocalSubmission(namespace))
    assert points == 1.0 and message.startswith(canned.message + ": it learns, but slowly or not on every seed; ")
    assert "ladder" not in message
    if cells is SLOW_NETWORKS:
        assert "D uses ReLU: use nn.LeakyReLU(0.2)" in message and "no BatchNorm between the last ConvTranspose2d and the Tanh" in message
    elif cells is UNINITIALISED:
        assert message.endswith("its layers follow the DCGAN rules as far as the grader sees, but G and D's conv weights are "
                                "not N(0, 0.02): apply weights_init to both networks (network.apply(weights_init))"), message
    else:
        assert message.endswith("its layers, weights_init (N(0, 0.02)) and widths follow the requirements as far as the "
                                "grader sees, so its design itself learns more slowly than the grading run asks: kernels other "
                                "than 4 at stride 2 (3 with output_padding, 5), other widths or extra layers slow a DCGAN down"), message


def test_trace_names_the_layer_that_raised_and_unregistered_layers():
    hidden = [nn.Linear(4, 4)]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
            self.head = nn.Linear(5, 2)

        def forward(self, x):
            return self.head(hidden[0](self.body(x)))

    run = probes_a4.trace(Net(), torch.zeros(2, 3))
    calls = run["calls"]
    assert [(c["name"], c["type"], c["leaf"]) for c in calls] == [
        ("", "Net", False), ("body", "Sequential", False), ("body.0", "Linear", True), ("body.1", "ReLU", True),
        (None, "Linear", True), ("head", "Linear", True),
    ]
    assert (calls[4]["weights"], calls[4]["out"], calls[1]["out"]) == (20, [2, 4], [2, 4])
    failed = calls[run["failed"]]
    assert (failed["name"], failed["in"], failed["in_features"], failed["out"]) == ("head", [2, 4], 5, None)
    assert run["error"]["type"] == "RuntimeError" and run["output"] is None


def test_first_batch_reports_what_the_loader_did(tmp_path):
    from reference.data import Dataset
    from reference.metrics.quick_fid import CIFAR10_CLASSES, write_cifar10

    data = torch.arange(4 * 3 * 32 * 32).remainder(256).to(torch.uint8).view(4, 3, 32, 32)
    tiny = Dataset("t", data, torch.arange(4), list(CIFAR10_CLASSES))
    write_cifar10(tmp_path, tiny, tiny)

    def make(root, batch_size):
        import torchvision
        from torch.utils.data import DataLoader

        data = torchvision.datasets.CIFAR10(root, train=True, transform=torchvision.transforms.ToTensor())
        return DataLoader(data, batch_size=batch_size)

    got = probes_a4.first_batch(make, str(tmp_path), 3)
    assert (got["stage"], got["error"], got["length"], got["images_type"]["shape"]) == ("done", None, 2, [3, 3, 32, 32])
    assert torch.equal((got["images"] * 255).round().to(torch.uint8), data[:3])
    empty = probes_a4.first_batch(lambda root, batch_size: [], str(tmp_path), 3)
    assert (empty["stage"], empty["empty"]) == ("done", True)
    broken = probes_a4.first_batch(lambda root, batch_size: 1 / 0, str(tmp_path), 3)
    assert (broken["stage"], broken["error"]["type"]) == ("make", "ZeroDivisionError")


# ---------------------------------------------------------------------------------------------
# The notebook in a student's kernel: the data it trains on, and "Run All" on the untouched version
# ---------------------------------------------------------------------------------------------

REFUSED_URL = "http://127.0.0.1:9/cifar-10-python.tar.gz"  # nothing listens on port 9: the download fails at once
LOADER_LINE = r"your loader: 1,437 images; a batch: \(64, 3, 32, 32\) in \[-?[01]\.\d\d, -?[01]\.\d\d\]"  # a shuffled batch


def kernel_env(**extra: str) -> dict[str, str]:
    """The environment of a student's kernel: this one, without pytest's or nbgrader's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "NBGRADER_EXECUTION"}
    env.pop("GAN_COURSE_SMOKE", None)
    env.update(MPLBACKEND="Agg", **extra)
    return env


def run_in_kernel(path: Path, workdir: Path, env: dict[str, str], *, upto: str | None = None, first: str | None = None) -> list:
    """Execute `path`'s cells (up to and including the cell with grade_id `upto`) in a fresh kernel in
    `workdir`, after `first` if given; raises at the first cell that raises, as "Run All" stops there."""
    nb = nbformat.read(path, as_version=4)
    if upto is not None:
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        nb.cells = nb.cells[: ids.index(upto) + 1]
    if first is not None:
        nb.cells.insert(0, nbformat.v4.new_code_cell(first))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False, resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env)
    return nb.cells


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def data_cell(cells: list):
    (cell,) = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "data"]
    return cell


def test_data_cell_trains_on_the_stand_in_when_cifar10_cannot_be_downloaded(tmp_path):
    """Without smoke mode the data cell makes torchvision's real download call; when it fails (here:
    a refused connection) the cell says so in one line and goes on with the coloured digits, no traceback."""
    data = tmp_path / "data"
    first = f"import torchvision\ntorchvision.datasets.CIFAR10.url = {REFUSED_URL!r}"
    cells = run_in_kernel(SOLUTION, tmp_path, kernel_env(GAN_COURSE_DATA=str(data)), upto="data", first=first)
    lines = [line for line in printed(data_cell(cells)).splitlines() if line.startswith(("data:", "your loader:"))]
    assert lines[0].startswith(
        "data: the coloured digits, CIFAR-10's offline stand-in (1,437 training images in coloured_digits/), because "
        "CIFAR-10 could not be downloaded (URLError: <urlopen error [Errno 111] Connection refused>)"
    ), lines
    assert len(lines) == 2 and re.fullmatch(LOADER_LINE, lines[1]), lines
    assert not any(o.output_type == "error" for c in cells for o in c.get("outputs", []))
    assert (tmp_path / "coloured_digits" / "cifar-10-batches-py" / "data_batch_1").is_file()


def test_data_cell_uses_cifar10_when_its_files_are_in_the_data_folder(tmp_path):
    """CIFAR-10's files already in the data folder (here: the coloured digits written there, with
    torchvision's md5 check turned off) are used as CIFAR-10, without a download and without the stand-in."""
    data = tmp_path / "data"
    first = (
        f"import torchvision\nfrom reference.metrics.quick_fid import cifar10_checksums_off, write_cifar10\n"
        f"torchvision.datasets.CIFAR10.url = {REFUSED_URL!r}\nCHECKSUMS_OFF = cifar10_checksums_off()  # kept: closing it turns them on again\n"
        f"CHECKSUMS_OFF.__enter__()\n"
        f"write_cifar10({str(data)!r})"
    )
    cells = run_in_kernel(SOLUTION, tmp_path, kernel_env(GAN_COURSE_DATA=str(data)), upto="data", first=first)
    lines = [line for line in printed(data_cell(cells)).splitlines() if line.startswith(("data:", "your loader:"))]
    assert len(lines) == 2 and lines[0] == f"data: CIFAR-10 (1,437 training images in {data}/cifar-10-batches-py/)", lines
    assert re.fullmatch(LOADER_LINE, lines[1]), lines
    assert not (tmp_path / "coloured_digits").exists()


def test_run_all_on_the_untouched_student_version_reaches_every_visible_check(tmp_path):
    """'Run All' (smoke mode) goes past the unfinished functions to every visible check, each 0 with its message."""
    cells = run_in_kernel(STUDENT, tmp_path, kernel_env(GAN_COURSE_SMOKE="1", GAN_COURSE_DATA=str(tmp_path / "data")))
    assert "smoke runs never download" in printed(data_cell(cells))
    lines = [line for cell in cells if cell.cell_type == "code" for line in printed(cell).splitlines() if line.startswith("a4 ")]
    assert len(lines) == len(VISIBLE), lines
    assert all(": 0/" in line and "is not implemented yet" in line for line in lines), lines


# ---------------------------------------------------------------------------------------------
# The files the loader check writes cannot be led out of the submission's folder
# ---------------------------------------------------------------------------------------------

SWAP_WORK = '''
import os

WORK = os.getcwd()
try:  # the folder the grader reads and writes below, swapped for a link to a folder of the grading host
    os.rename(WORK, WORK + ".moved")
    os.symlink({target!r}, WORK)
    os.chdir({target!r})
except OSError as err:
    print("the working folder stays:", err)
'''
PLANT = '''
import ctypes, os, struct, threading

libc = ctypes.CDLL(None, use_errno=True)
TARGET, WORK = {target!r}, os.getcwd()

def plant():  # a link where the grader is about to write the loader's CIFAR-10 files
    fd = libc.inotify_init()
    libc.inotify_add_watch(fd, WORK.encode(), 0x100)  # IN_CREATE
    while True:
        data, i = os.read(fd, 65536), 0
        while i < len(data):
            _, mask, _, n = struct.unpack_from("iIII", data, i)
            name = data[i + 16:i + 16 + n].rstrip(b"\\0").decode()
            i += 16 + n
            if name.startswith("a4-check-cifar-"):
                inner = os.path.join(WORK, name, "cifar-10-batches-py")
                for _ in range(2):
                    try:
                        os.symlink(TARGET, inner)
                        break
                    except FileExistsError:
                        os.rename(inner, inner + ".moved")

threading.Thread(target=plant, daemon=True).start()
'''


@pytest.mark.parametrize("attack", ["swap_work", "plant"])
def test_links_planted_where_the_grader_writes_never_lead_out_of_the_submissions_folder(tmp_path, attack):
    """A submission that swaps its working folder for a link to a folder of the grading host, or
    plants a link where the loader check is about to write CIFAR-10's files, does not make the
    grader write there: the folder is a mount of its own in the sandbox (it cannot be renamed), and
    the check's files are written without following links. The honest loader keeps its points
    where the attack cannot even be tried."""
    from reference.grading.sandbox import sandbox_problem

    if sandbox_problem():
        pytest.skip(sandbox_problem())
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "sub").mkdir()
    cell = (SWAP_WORK if attack == "swap_work" else PLANT).format(target=str(victim))
    nb = notebook_with_cells(SOLUTION, tmp_path / "sub", {"network_shapes": cell})
    check = "test_loader_yields_colour_batches_in_minus_one_one"
    points, message = grade_notebook(nb, A, ROOT, only=[check])[check]
    assert sorted(p.name for p in victim.iterdir()) == []
    if attack == "swap_work":
        assert (points, message) == (2.0, "")
    else:
        assert (points, message) == (2.0, "") or (points == 0.0 and "something in the submission's folder was in its way" in message)


SPECTRAL_NORM_D = '''
from torch.nn.utils import spectral_norm

def make_discriminator(ndf=64):
    D = nn.Sequential(
        spectral_norm(nn.Conv2d(3, ndf, 4, 2, 1)), nn.LeakyReLU(0.2, True),
        spectral_norm(nn.Conv2d(ndf, ndf * 2, 4, 2, 1)), nn.LeakyReLU(0.2, True),
        spectral_norm(nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1)), nn.LeakyReLU(0.2, True),
        spectral_norm(nn.Conv2d(ndf * 4, 1, 4, 1, 0)),
        nn.Flatten(),
    )
    D.apply(weights_init)
    return D
'''


@pytest.mark.parametrize("ending, points", [("", 1.0), ("nn.Sigmoid(),", 0.0), ("nn.Tanh(),", 0.0)])
def test_a_spectral_norm_discriminator_returns_logits(ending, points):
    """SNGAN's D (spectral norm on every conv, no BatchNorm) divides its weights by their own scale, so
    scaling its weights up leaves its small logits as they are: logits are told from a squashed
    output by scaling the weights and the input together, which only a last sigmoid or tanh survives."""
    from reference.grading.submission import LocalSubmission

    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(textwrap.dedent(SPECTRAL_NORM_D.replace("nn.Flatten(),", f"nn.Flatten(), {ending}")), namespace)
    check_fn = load_checks(A, ROOT)["test_discriminator_takes_colour_images"]
    points_got, message = run_check(check_fn, LocalSubmission(namespace))
    assert points_got == points, message
    assert points or message.startswith("the discriminator's outputs stay in ["), message


def test_normalize_before_to_tensor_and_a_channels_last_generator_are_named(tmp_path):
    """Normalize put before ToTensor gets PIL images: the fix is the order, not "add ToTensor"; a G
    that permutes its output to (N, 32, 32, 3) is told about channels last, not about an extra stage."""
    from reference.grading.submission import LocalSubmission

    import torchvision

    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "torchvision": torchvision, "transforms": torchvision.transforms,
                 "DataLoader": torch.utils.data.DataLoader, "weights_init": weights_init}
    exec(textwrap.dedent(loader(f"{NORMALISE}, transforms.ToTensor()")), namespace)
    exec(textwrap.dedent(networks(("    G.apply(weights_init)\n    return G", "    G.apply(weights_init)\n    return nn.Sequential(G, ChannelsLast())"))), namespace)
    exec("class ChannelsLast(nn.Module):\n    def forward(self, x):\n        return x.permute(0, 2, 3, 1)\n", namespace)
    checks = load_checks(A, ROOT)
    loaded = run_check(checks["test_loader_yields_colour_batches_in_minus_one_one"], LocalSubmission(namespace, scratch=tmp_path))
    assert loaded[0] == 0.0 and loaded[1].endswith(
        "a transform that works on tensors, such as transforms.Normalize, gets PIL images; put transforms.ToTensor() "
        "first in the Compose, before it"
    ), loaded
    made = run_check(checks["test_generator_makes_colour_images"], LocalSubmission(namespace))
    assert made == (
        0.0,
        "the generator returns (N, 32, 32, 3), channels last: PyTorch's images are (N, C, H, W), with the colour "
        "channels in dim 1, as the last ConvTranspose2d makes them; return its output without permuting it",
    ), made


def test_a_batch_size_fixed_in_a_view_is_named_once():
    """G reshaping z with z.view(64, nz, 1, 1): the error is followed by its cause and fix, told once."""
    from reference.grading.submission import LocalSubmission

    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    source = networks(("nn.Unflatten(1, (nz, 1, 1)),  # (N, nz) -> (N, nz, 1, 1)", "View64(nz),"))
    exec("class View64(nn.Module):\n    def __init__(self, nz):\n        super().__init__()\n        self.nz = nz\n\n"
         "    def forward(self, z):\n        return z.view(64, self.nz, 1, 1)\n", namespace)
    exec(textwrap.dedent(source), namespace)
    got = run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace))
    assert got == (
        0.0,
        "with nz=100, N=2 the generator fails: layer `0` (View64()) raised RuntimeError on its input (N, 100): shape "
        "'[64, 100, 1, 1]' is invalid for input of size 200: a .view or .reshape fixes the batch size at 64, but batches "
        "have any size N (here 2): let the batch size follow the input, e.g. z.view(-1, nz, 1, 1) or x.view(x.size(0), -1); "
        "expected (N, 3, 32, 32) for every batch size N",
    ), got


# A loader that builds its tensors from CIFAR10's .data (N, 32, 32, 3) uint8 by hand; <IMAGES> and <DATASET> per case
DATA_LOADER = '''
def make_cifar10_loader(root, batch_size=64):
    ds = torchvision.datasets.CIFAR10(root, train=True, download=True)
    x = <IMAGES>
    return DataLoader(<DATASET>, batch_size=batch_size, <ORDER>)
'''
PAIRS = "torch.utils.data.TensorDataset(x, torch.tensor(ds.targets))"
NO_LABELS = (
    "the loader yields bare image tensors, not (images, labels) pairs: the training loop unpacks `for real, _ in loader`; "
    "keep CIFAR10's (image, label) pairs, which the DataLoader collates into (images, labels)"
)
FIXED_ORDER = (
    "every pass over the loader starts with the same images in the same order: G and D would see the batches in one "
    "fixed order every epoch; pass shuffle=True to the DataLoader"
)
WRONG_PLACES = "the loader's images hold the CIFAR-10 files' pixels in the wrong places: "


@pytest.mark.parametrize(
    "images, dataset, order, expected",
    [
        ("torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.5)", PAIRS, "shuffle=True", (2.0, "")),
        ("torch.tensor(ds.data, dtype=torch.float32) / 127.5 - 1", PAIRS, "shuffle=True", (
            0.0, "the loader yields images of shape (8, 32, 32, 3) for batch_size=8; expected (8, 3, 32, 32): the images "
                 "are channels last (B, 32, 32, 3), as CIFAR10's .data stores them; PyTorch's images are (B, C, H, W): "
                 "transforms.ToTensor() makes them so, or .permute(0, 3, 1, 2) a tensor made from .data")),
        ("torch.tensor(ds.data).reshape(-1, 3, 32, 32).float() / 127.5 - 1", PAIRS, "shuffle=True", (
            0.0, WRONG_PLACES + "CIFAR10's .data is (N, 32, 32, 3), height, width, channels, and .view or .reshape to "
                 "(N, 3, 32, 32) scrambles its pixels; move the channels with .permute(0, 3, 1, 2) (or use transforms.ToTensor())")),
        ("torch.tensor(ds.data).permute(0, 3, 2, 1).float() / 255", PAIRS, "shuffle=True", (
            0.0, WRONG_PLACES + "their height and width are swapped (each image is transposed): from CIFAR10's .data "
                 "(N, H, W, C) take .permute(0, 3, 1, 2), not .permute(0, 3, 2, 1); and scale them to [-1, 1]: "
                 "(x / 255 - 0.5) / 0.5")),
        ("torch.tensor(ds.data).permute(0, 3, 1, 2).float() / 127.5 - 1", "x", "shuffle=True", (1.0, NO_LABELS)),
        ("torch.tensor(ds.data).permute(0, 3, 1, 2).float() / 127.5 - 1", "torch.utils.data.TensorDataset(x)", "shuffle=True",
         (1.0, NO_LABELS.replace("bare image tensors", "batches of 1 item"))),
        ("torch.tensor(ds.data).permute(0, 3, 1, 2).float() / 127.5 - 1", "x", "shuffle=False", (0.0, f"{FIXED_ORDER}; {NO_LABELS}")),
        # the channels reversed (BGR), as OpenCV keeps images
        ("torch.tensor(ds.data[..., ::-1].copy()).permute(0, 3, 1, 2).float() / 127.5 - 1", PAIRS, "shuffle=True", (
            0.0, WRONG_PLACES + "their colour channels are in reverse order (BGR, as OpenCV keeps them): keep CIFAR-10's "
                 "RGB order (no .flip or [::-1] over the channels, no cv2.cvtColor)")),
        # scaled to [-1, 1] twice, x * 2 - 1 after the (x / 255 - 0.5) / 0.5 of ToTensor and Normalize
        ("(torch.tensor(ds.data).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5 * 2 - 1", PAIRS, "shuffle=True", (
            0.0, "the loader's images are in [-3.00, 1.00]: they were scaled to [-1, 1] twice (x * 2 - 1 after Normalize((0.5, "
                 "0.5, 0.5), (0.5, 0.5, 0.5)), which already maps ToTensor's [0, 1] to [-1, 1]); scale them once")),
    ],
    ids=["permuted_by_hand", "channels_last", "reshaped_not_permuted", "transposed_unscaled", "images_only",
         "tensor_dataset_without_labels", "images_only_unshuffled", "channels_reversed", "scaled_twice"],
)
def test_a_loader_built_from_the_raw_array_is_told_its_layout_and_labels(tmp_path, images, dataset, order, expected):
    """Tensors made from CIFAR10's .data by hand: right when permuted to (N, C, H, W) and paired with the
    labels; channels last, a reshape for a permute and swapped axes are named as such (not as a resize or a
    colour change), and batches without labels, which the training loop cannot unpack, keep 1 point."""
    from reference.grading.submission import LocalSubmission

    import torchvision

    namespace = {"torch": torch, "torchvision": torchvision, "DataLoader": torch.utils.data.DataLoader}
    exec(textwrap.dedent(DATA_LOADER.replace("<IMAGES>", images).replace("<DATASET>", dataset).replace("<ORDER>", order)), namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == expected


DICT_DATASET = '''
class Cifar(torch.utils.data.Dataset):
    def __init__(self, root):
        self.base = torchvision.datasets.CIFAR10(root, train=True, download=True)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        image, label = self.base[i]
        return <ITEM>


def make_cifar10_loader(root, batch_size=64):
    return DataLoader(Cifar(root), batch_size=batch_size, shuffle=True, drop_last=True)
'''
V2_LOADER = '''
from torchvision.transforms import v2


def make_cifar10_loader(root, batch_size=64):
    tf = v2.Compose([v2.ToImage(), <TO_DTYPE>, v2.Normalize([0.5] * 3, [0.5] * 3)])
    return DataLoader(torchvision.datasets.CIFAR10(root, train=True, download=True, transform=tf), batch_size=batch_size, shuffle=True)
'''
PICKLE_LOADER = '''
import pickle


def unpickle(file):  # the recipe on CIFAR-10's web page
    with open(file, "rb") as fo:
        return pickle.load(fo, encoding="bytes")


def make_cifar10_loader(root, batch_size=64):
    batches = [unpickle(f"{root}/cifar-10-batches-py/data_batch_{k}") for k in range(1, 6)]
    images = torch.from_numpy(np.concatenate([b[b"data"] for b in batches])).view(-1, 3, 32, 32).float() / 127.5 - 1
    labels = torch.tensor([y for b in batches for y in b[b"labels"]])
    return DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size, shuffle=True, drop_last=True)
'''
UNSCALED = (
    "the loader's images are in [{}]: the pixels 0..255 were never divided by 255 (a cast to float, such as "
    "v2.ToDtype(torch.float32) without scale=True, keeps them); use transforms.ToTensor() (or v2.ToDtype(torch.float32, "
    "scale=True)) before transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"
)


@pytest.mark.parametrize(
    "source, expected",
    [
        (DICT_DATASET.replace("<ITEM>", "(transforms.functional.to_tensor(image) * 2 - 1, label)"), (2.0, "")),
        (DICT_DATASET.replace("<ITEM>", '{"image": transforms.functional.to_tensor(image) * 2 - 1, "label": label}'), (
            0.0, "the loader yields dicts, not (images, labels) pairs: the training loop unpacks `for real, _ in loader`; "
                 "have the dataset's __getitem__ return a tuple (image, label), which the DataLoader collates into (images, labels)")),
        (V2_LOADER.replace("<TO_DTYPE>", "v2.ToDtype(torch.float32, scale=True)"), (2.0, "")),
        (V2_LOADER.replace("<TO_DTYPE>", "v2.ToDtype(torch.float32)"), (0.0, UNSCALED.format("-1.00, 509.00"))),
        (V2_LOADER.replace("<TO_DTYPE>", "v2.ToDtype(torch.float32)").replace(", v2.Normalize([0.5] * 3, [0.5] * 3)", ""),
         (0.0, UNSCALED.format("0.00, 255.00"))),
        # v2.ToImage() straight into v2.Normalize: uint8 tensors, which Normalize refuses
        (V2_LOADER.replace("<TO_DTYPE>, ", ""), (
            0.0, "the loader's batches cannot be made (TypeError: Input tensor should be a float tensor. Got torch.uint8.): "
                 "Normalize gets the images as 0..255 integers (v2.ToImage() and PILToTensor() keep them so); put "
                 "v2.ToDtype(torch.float32, scale=True) before it, or use transforms.ToTensor()")),
        (DICT_DATASET.replace("<ITEM>", "(label, transforms.functional.to_tensor(image) * 2 - 1)"), (
            0.0, "the loader yields (labels, images), the pair in the other order: its batches' first item is int64 (8,) and "
                 "its second (8, 3, 32, 32); have the dataset's __getitem__ return (image, label), as the training loop "
                 "unpacks `for real, _ in loader`")),
        # CIFAR-10's files hold Python 2 strings: the web page's reader finds b"data" (the grader's files had "data")
        (PICKLE_LOADER, (2.0, "")),
        (PICKLE_LOADER.replace('encoding="bytes"', 'encoding="latin1"').replace('b"data"', '"data"').replace('b"labels"', '"labels"'), (2.0, "")),
        (V2_LOADER.replace("v2.Compose([v2.ToImage(), <TO_DTYPE>,", "transforms.Compose([transforms.ToTensor(), transforms.ToTensor(),").replace(
            "v2.Normalize", "transforms.Normalize"), (
            0.0, "the loader's batches cannot be made (TypeError: pic should be PIL Image or ndarray. Got <class 'torch.Tensor'>): "
                 "a transform of PIL images (transforms.ToTensor, ToPILImage's inverse) got a tensor: the images are tensors "
                 "already there (ToTensor twice, or after v2.ToImage / PILToTensor); convert them to a tensor once")),
        # found by session 35's red team: told only "taking a batch from the loader raised IndexError: index 9521 ..."
        (V2_LOADER.replace("<TO_DTYPE>", "v2.ToDtype(torch.float32, scale=True)").replace(
            "DataLoader(torchvision.datasets.CIFAR10(root, train=True, download=True, transform=tf),",
            "DataLoader(torch.utils.data.Subset(torchvision.datasets.CIFAR10(root, train=True, download=True, transform=tf), range(10000)),"), (
            0.0, "taking a batch from the loader raised IndexError (index <I> is out of bounds for axis 0 with size 40): its "
                 "dataset claims 10,000 images, but the grader's CIFAR-10 files hold 40 training images (a Subset of fixed "
                 "indices, range(10000)?); train on all of CIFAR-10's training images, "
                 "torchvision.datasets.CIFAR10(root, train=True, ...) as it is")),
    ],
    ids=["tuple_dataset", "dict_dataset", "v2_scaled", "v2_unscaled", "v2_unscaled_unnormalised", "v2_no_dtype", "pickles_as_bytes",
         "pickles_as_latin1", "to_tensor_twice", "label_first", "fixed_subset"],
)
def test_a_custom_dataset_or_v2_transforms_loader_is_told_its_fault(tmp_path, source, expected):
    """A Dataset whose __getitem__ returns a dict is told the training loop needs (image, label) tuples (not
    ToTensor, which it already uses); v2.ToDtype(torch.float32) without scale=True is told the pixels were
    never divided by 255 (not a generic "not the files' pixels")."""
    from reference.grading.submission import LocalSubmission

    import torchvision
    from torchvision import transforms

    namespace = {"torch": torch, "torchvision": torchvision, "transforms": transforms, "DataLoader": torch.utils.data.DataLoader,
                 "np": __import__("numpy")}
    exec(textwrap.dedent(source), namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    points, message = run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path))
    assert (points, re.sub(r"index \d+ is", "index <I> is", message)) == expected


RESIZED_D = """
def make_discriminator(ndf=64):
    return nn.Sequential(
        nn.Upsample(size=(28, 28), mode="bilinear"),  # the MNIST ladder kept: 28 -> 14 -> 7 -> 4
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Flatten(0),
    )
"""


def test_a_discriminator_that_resizes_its_input_for_the_mnist_ladder_loses_half_a_point():
    """Found by session 35's red team: D resizing the 32x32 images to 28x28 and keeping the MNIST ladder scored 10/10
    (the same shortcut after G's convolutions costs G's check a point)."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": nn}
    exec(RESIZED_D, namespace)
    assert run_check(load_checks(A, ROOT)["test_discriminator_takes_colour_images"], LocalSubmission(namespace)) == (0.5, (
        "the discriminator's first convolution reads a 28x28 input: the 32x32 images are resized before its convolutions, "
        "so it never judges them at their own size; port the ladder itself, stride-2 convolutions from 32x32 down to 4x4 "
        "(32x32 -> 16x16 -> 8x8 -> 4x4), as the DCGAN rules ask"))


@pytest.mark.parametrize("forward, expected", [
    ("return self.up(self.project(z).view(-1, self.ngf * 4, 4, 4))", (2.0, "")),
    # found by session 35's red team (10/10): noise drawn inside forward, the z it is given unused
    ("return self.up(self.project(torch.randn(len(z), z.shape[1])).view(-1, self.ngf * 4, 4, 4))", (1.0, (
        "the generator's output does not depend on the z it is given (no gradient reaches z): it draws noise of its own (torch.randn inside "
        "forward), or uses z only to pick (an argmax, an index) between a few fixed images; forward(z) must map z "
        "itself, so that a fixed z draws a fixed image and each z its own"))),
    ("return self.up(self.project(torch.cat([z[:, :10], torch.zeros_like(z[:, 10:])], 1)).view(-1, self.ngf * 4, 4, 4))", (1.0, (
        "the generator's output depends on 10 of the 100 dimensions of z only (the gradient to the other 90 is exactly 0): "
        "pass all of z into the first layer"))),
], ids=["z", "own_noise", "ten_dimensions"])
def test_a_generator_that_ignores_its_noise_keeps_one_point(forward, expected):
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(CLASS_NETWORKS.replace("return self.up(self.project(z).view(-1, self.ngf * 4, 4, 4))", forward), namespace)
    assert run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace)) == expected


def test_a_generator_given_flat_noise_is_told_to_reshape_it_once():
    """G without the Unflatten: its first ConvTranspose2d gets z (N, nz), 2-D; the fix is told once, not per case."""
    from reference.grading.submission import LocalSubmission

    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(textwrap.dedent(networks(("nn.Unflatten(1, (nz, 1, 1)),  # (N, nz) -> (N, nz, 1, 1)", ""))), namespace)
    got = run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace))
    assert got == (
        0.0,
        "with nz=100, N=2 the generator fails: layer `0` (ConvTranspose2d(100, 64, kernel_size=(4, 4), stride=(1, 1), "
        "bias=False)) gets (N, 100), 2-D: a conv takes (N, C, H, W): reshape z (N, nz) to (N, nz, 1, 1) before the first "
        "conv, with nn.Unflatten(1, (nz, 1, 1)) or z.view(-1, nz, 1, 1); expected (N, 3, 32, 32) from z (N, nz)",
    ), got


D_HEAD = ("nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),  # (N, 1, 1, 1)\n        nn.Flatten(0),  # (N,)",)
MANY = "the discriminator returns (N, {k}) for (N, 3, 32, 32) images; expected one logit per image, (N,) or (N, 1): "


@pytest.mark.parametrize(
    "head, expected",
    [
        ("nn.Conv2d(ndf * 4, ndf, 4, 1, 0, bias=False), nn.Flatten(1),", MANY.format(k=16) + (
            "its last conv, layer `8` (Conv2d(64, 16, kernel_size=(4, 4), stride=(1, 1), bias=False)), makes 16 channels; "
            "one logit per image needs 1: nn.Conv2d(ndf * 4, 1, 4, 1, 0)")),
        ("nn.Flatten(), nn.Linear(ndf * 4 * 4 * 4, 2),", MANY.format(k=2) + (
            "its last layer, layer `9` (Linear(in_features=1024, out_features=2, bias=True)), gives 2 values per image; "
            "one logit per image needs out_features=1")),
        ("nn.Flatten(),", MANY.format(k=1024) + (
            "its layers stop at 4x4 feature maps (64 channels) and flatten them; end with a conv that turns them into "
            "one logit: nn.Conv2d(ndf * 4, 1, 4, 1, 0)")),
        ("nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),", None),  # (N, 1, 1, 1): one value per image
    ],
    ids=["last_conv_keeps_ndf_channels", "linear_with_two_outputs", "no_last_conv", "one_value_as_n111"],
)
def test_a_discriminator_with_many_values_per_image_is_told_which_layer_makes_them(head, expected):
    """D's output (N, k): the layer that makes k values (a conv with k out_channels, a Linear with k
    outputs) is named with its fix, and feature maps flattened without a last conv are told so; no
    ladder advice for a ladder that is kept."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(textwrap.dedent(networks((D_HEAD[0], head))), namespace)
    got = run_check(load_checks(A, ROOT)["test_discriminator_takes_colour_images"], LocalSubmission(namespace))
    assert got == ((0.0, expected) if expected else (1.0, "")), got


@pytest.mark.parametrize("after", ["nn.Hardtanh(0, 1),", "nn.ReLU(),"])
def test_a_generator_whose_tanh_output_is_changed_after_it_is_told_so(after):
    """G's last conv is followed by its Tanh, then a layer that keeps the output in [0, 1]: the advice is to
    return the Tanh's output as it is, not to add the Tanh it has (a ReLU before the Tanh keeps END_WITH_TANH:
    test_a_generator_that_is_never_negative_is_told_to_end_with_the_tanh)."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks(("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),", f"nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(), {after}")), namespace)
    points, message = run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace))
    assert points == 1.0 and message.startswith("generator output stays in [0, ") and message.endswith(
        "nn.Tanh() follows its last conv, but the Tanh's output is changed afterwards (such as (x + 1) / 2 or a clamp to "
        "[0, 1]): return the Tanh's output as it is; the images are scaled to [-1, 1], and the plots map them back themselves"
    ), message


def test_a_generator_whose_widths_ignore_ngf_keeps_one_point():
    """Widths from a notebook global (NGF = 64) instead of the `ngf` argument: the checks' and the
    learning check's G at ngf = 16 is the full-width one (far more parameters, and a learning run
    that may not fit its time on a busy grader); one point, the fault named. The solution keeps both."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    check = load_checks(A, ROOT)["test_generator_makes_colour_images"]
    ignoring = networks(("    ### BEGIN SOLUTION\n    G = nn.Sequential(", "    ### BEGIN SOLUTION\n    ngf = NGF  # the notebook's width\n    G = nn.Sequential("))
    for source, expected in ((ignoring, (1.0, (
        "`make_generator(ngf=16)` and `make_generator(ngf=32)` both have 1,068,928 parameters: its layers ignore the "
        "`ngf` argument (fixed numbers or a global such as NGF in its place?); build every width from `ngf`: the checks build it at "
        "ngf = 16, and the learning check trains it there"))), (SOLUTION_NETWORKS, (2.0, ""))):
        namespace = {"torch": torch, "nn": nn, "weights_init": weights_init, "NGF": 64}
        exec(source, namespace)
        assert run_check(check, LocalSubmission(namespace)) == expected


def test_a_discriminator_whose_widths_ignore_ndf_loses_half_a_point():
    """Widths from a notebook global (NDF = 64) instead of the `ndf` argument: the learning check's D at
    ndf = 16 is the full-width one; half of the discriminator check's point, the fault named, as the
    generator's check does for ngf. The solution keeps the point."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    check = load_checks(A, ROOT)["test_discriminator_takes_colour_images"]
    ignoring = networks(("    ### BEGIN SOLUTION\n    D = nn.Sequential(", "    ### BEGIN SOLUTION\n    ndf = NDF  # the notebook's width\n    D = nn.Sequential("))
    for source, expected in ((ignoring, (0.5, (
        "`make_discriminator(ndf=16)` and `make_discriminator(ndf=32)` both have 663,296 parameters: its layers ignore the "
        "`ndf` argument (fixed numbers or a global such as NDF in its place?); build every width from `ndf`: the checks build it at "
        "ndf = 16, and the learning check trains it there"))), (SOLUTION_NETWORKS, (1.0, ""))):
        namespace = {"torch": torch, "nn": nn, "weights_init": weights_init, "NDF": 64}
        exec(source, namespace)
        assert run_check(check, LocalSubmission(namespace)) == expected


ZERO_LAST = "    D.apply(weights_init)\n    return D"
ZERO_G_LAST = "    G.apply(weights_init)\n    return G"


@pytest.mark.parametrize(
    "edits, expected",
    [
        # D's last conv initialised at zero: every logit 0 at first, logits once trained
        ([(ZERO_LAST, "    D.apply(weights_init)\n    nn.init.zeros_(D[-2].weight)  # D starts undecided\n    return D")],
         {"test_generator_makes_colour_images": (2.0, ""), "test_discriminator_takes_colour_images": (1.0, "")}),
        # G's last conv initialised at zero: every pixel tanh(0) = 0 at first, the Tanh's range once trained
        ([(ZERO_G_LAST, "    G.apply(weights_init)\n    nn.init.zeros_(G[-2].weight)  # G starts from grey images\n    return G")],
         {"test_generator_makes_colour_images": (2.0, ""), "test_discriminator_takes_colour_images": (1.0, "")}),
        # the same D ending in a sigmoid: still probabilities, whatever its first weights
        ([(ZERO_LAST, "    D.apply(weights_init)\n    nn.init.zeros_(D[-3].weight)\n    return D"),
          ("nn.Flatten(0),  # (N,)", "nn.Flatten(0), nn.Sigmoid(),")],
         {"test_generator_makes_colour_images": (2.0, ""), "test_discriminator_takes_colour_images": (0.0, (
             "the discriminator's outputs stay in [6.08e-28, 1] even with its weights scaled up 25 times: it returns "
             "probabilities (a final sigmoid); return logits, the last layer's output without nn.Sigmoid(): the course's "
             "losses (reference.losses) take logits and apply the sigmoid themselves"))}),
    ],
    ids=["d_last_conv_zero", "g_last_conv_zero", "d_last_conv_zero_then_sigmoid"],
)
def test_a_last_layer_initialised_at_zero_is_judged_by_what_training_makes_of_it(edits, expected):
    """A last layer whose weights start at zero makes one constant output (every logit 0, every pixel 0) that no
    scaling of the weights moves; training moves those weights at the first step, so the range checks measure
    the network with them set to small values: logits and a Tanh's range pass, a final sigmoid is still named."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    checks = load_checks(A, ROOT)
    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks(*edits), namespace)
    assert {name: run_check(checks[name], LocalSubmission(namespace)) for name in expected} == expected


TRANSPOSED = (
    "each image in the grid lies on its side (its rows saved as columns: transposed, or turned by 90 degrees): an "
    "image (3, H, W) becomes an array (H, W, 3) by .permute(1, 2, 0) (numpy: .transpose(1, 2, 0)), not .permute(2, 1, 0), "
    ".transpose(2, 3), .T or a rot90; torchvision.utils.save_image(images, path) needs no reordering"
)
UPSIDE_DOWN = (
    "each image in the grid is upside down (its top row saved at the bottom): save the rows in their order, with no "
    "flip of the height axis ([::-1] on the rows, torch.flip(x, [2]) or np.flipud)"
)

GRID_BY_HAND = """
def save_colour_grid(images, path, nrow=8):
    from PIL import Image
    grid = torchvision.utils.make_grid(IMAGES, nrow=nrow)
    Image.fromarray(PIXELS).save(path)
"""


@pytest.mark.parametrize(
    "images, pixels, expected",
    [
        ("(images + 1) / 2", '(grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8")', (2.0, "")),
        # x * 255 without (x + 1) / 2: the uint8 cast wraps each negative value around to a bright one
        ("images", '(grid.permute(1, 2, 0).numpy() * 255).astype("uint8")', (1.0, (
            "the grid's colours are off: an image of colour (0.0, 0.5, -0.5) in [-1, 1] should appear as RGB (128, 191, 64), "
            "but the images were scaled by 255 without mapping [-1, 1] to [0, 1] first, so astype('uint8') wrapped every "
            "negative value around to a bright one: scale (images + 1) / 2 by 255, or save it with torchvision.utils.save_image"))),
        # the channels reversed on the way to the file, as for OpenCV's imwrite
        ("(images + 1) / 2", '(grid.permute(1, 2, 0).numpy()[..., ::-1] * 255).round().astype("uint8")', (1.0, (
            "the grid's colours are off: an image of colour (0.0, 0.5, -0.5) in [-1, 1] should appear as RGB (128, 191, 64), "
            "but its colour channels are in reverse order (BGR, as OpenCV writes them): save the channels in RGB order (no "
            "[..., ::-1] or cv2.cvtColor); torchvision.utils.save_image keeps them"))),
        # numpy's CHW -> HWC done with transpose(2, 1, 0): the whole grid, so each image too, has H and W swapped
        ("(images + 1) / 2", '(grid.numpy().transpose(2, 1, 0) * 255).round().astype("uint8")', (1.0, TRANSPOSED)),
        # each image transposed before the grid is made (square images keep their shape, so nothing raises)
        ("(images.transpose(2, 3) + 1) / 2", '(grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8")', (1.0, TRANSPOSED)),
        # rows reversed on the way to the file
        ("(images + 1) / 2", '(grid.permute(1, 2, 0).numpy()[::-1] * 255).round().astype("uint8")', (1.0, UPSIDE_DOWN)),
        # the grid turned by 90 degrees (np.rot90's direction, then the other): each image lies on its side
        ("(images + 1) / 2", '(grid.permute(1, 2, 0).rot90(1, (0, 1)).numpy() * 255).round().astype("uint8")', (1.0, TRANSPOSED)),
        ("(images + 1) / 2", '(grid.permute(1, 2, 0).rot90(-1, (0, 1)).numpy() * 255).round().astype("uint8")', (1.0, TRANSPOSED)),
        # make_grid's own mapping of the fixed range
        ("images, normalize=True, value_range=(-1, 1)", '(grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8")', (2.0, "")),
        # Image.fromarray given the grid as make_grid returns it, (3, H, W), or as floats
        ("(images + 1) / 2", '(grid.numpy() * 255).round().astype("uint8")', (0.0, (
            "calling `save_colour_grid` raised TypeError: Cannot handle this data type: (1, 1, 274), |u1; PIL's "
            "Image.fromarray reads an array (H, W, 3), but was given one with 274 values along its last axis: the grid is "
            "still (3, H, W); reorder it with .permute(1, 2, 0) (numpy: .transpose(1, 2, 0)) first"))),
        ("(images + 1) / 2", "grid.permute(1, 2, 0).numpy()", (0.0, (
            "calling `save_colour_grid` raised TypeError: Cannot handle this data type: (1, 1, 3), <f4; PIL's "
            "Image.fromarray reads 0-255 levels as uint8, but was given floats: make levels of the grid in [0, 1] with "
            "(grid * 255).round().astype('uint8') first, or save it with torchvision.utils.save_image"))),
    ],
    ids=["mapped", "wrapped_by_the_uint8_cast", "channels_reversed", "grid_transposed", "images_transposed", "upside_down", "turned_left", "turned_right",
         "make_grid_value_range", "chw_array", "float_array"],
)
def test_a_grid_written_with_pil_is_told_its_mapping_and_channel_order(tmp_path, images, pixels, expected):
    """A grid made with make_grid and written with PIL: right when mapped by (x + 1) / 2; scaled by 255 without
    the mapping (numpy's uint8 cast wraps negatives around), with its channels reversed, or with each image
    transposed (numpy's CHW/HWC confusion) or upside down keeps 1 point with the fault named (not "without
    resizing or plotting them", which does not apply); an array PIL cannot read is told its layout or dtype."""
    from reference.grading.submission import LocalSubmission

    import torchvision

    namespace = {"torch": torch, "torchvision": torchvision}
    exec(GRID_BY_HAND.replace("IMAGES", images).replace("PIXELS", pixels), namespace)
    check_fn = load_checks(A, ROOT)["test_colour_grid_png"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == expected


NROW = ("the grid lays out {} images per row when save_colour_grid is called without nrow and {} with nrow=4; expected 8 "
        "and 4: pass the `nrow` argument on, e.g. torchvision.utils.save_image(..., nrow=nrow)")


@pytest.mark.parametrize(
    "body, expected",
    [
        # right: white padding 4 wide, or none, through make_grid and PIL
        ("save_image((images + 1) / 2, path, nrow=nrow, padding=4, pad_value=1)", (2.0, "")),
        ("Image.fromarray((make_grid((images + 1) / 2, nrow=nrow, padding=0).permute(1, 2, 0).numpy() * 255)"
         ".round().astype('uint8')).save(path)", (2.0, "")),
        # right, mapped in place (found by session 35's red team: in one process it changed the check's own batch, and
        # the next call's saved pixels were told "not saved as (x + 1) / 2")
        ("images.add_(1).div_(2); save_image(images, path, nrow=nrow)", (2.0, "")),
        # nrow taken but not passed on (save_image's default of 8), fixed at 4, or the whole batch in one row
        ("save_image((images + 1) / 2, path)", (1.0, NROW.format(8, 8))),
        ("save_image((images + 1) / 2, path, nrow=4, padding=0)", (1.0, NROW.format(4, 4))),
        ("save_image((images + 1) / 2, path, nrow=len(images))", (1.0, NROW.format(16, 16))),
    ],
    ids=["white_padding", "pil_no_padding", "mapped_in_place", "nrow_not_passed_on", "nrow_fixed_at_4", "one_row"],
)
def test_a_grid_that_ignores_nrow_keeps_one_point(tmp_path, body, expected):
    """The grid lays out `nrow` images per row, as the function's docstring says: 8 without the argument, 4 with
    nrow=4 (told by where each coloured image lands, whatever the padding); a grid that ignores it keeps 1 point
    with the layouts it made named, and a function without the `nrow` argument is told to keep the signature."""
    from PIL import Image
    from torchvision.utils import make_grid, save_image

    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "Image": Image, "make_grid": make_grid, "save_image": save_image}
    exec(f"def save_colour_grid(images, path, nrow=8):\n    {body}\n", namespace)
    check_fn = load_checks(A, ROOT)["test_colour_grid_png"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == expected
    exec(f"def save_colour_grid(images, path):\n    {body.replace('nrow=nrow', 'nrow=8')}\n", namespace)
    (tmp_path / "no_argument").mkdir()
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path / "no_argument")) == (1.0, (
        "called as save_colour_grid(images, path, nrow=4), your code raised TypeError: save_colour_grid() got an unexpected "
        "keyword argument 'nrow': keep the given signature save_colour_grid(images, path, nrow=8) and lay out nrow images "
        "per row"))


@pytest.mark.parametrize(
    "transform, expected",
    [
        # CIFAR-10's own channel statistics (the classifier tutorials' normalisation)
        ("transforms.ToTensor(), transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))",
         (0.0, CHANNEL_STATISTICS.format("-1.99, 2.13", "0.491, 0.482, 0.446", "0.247, 0.243, 0.262"))),
        # the channel means with the right std: close to [-1, 1], still shifted per channel
        ("transforms.RandomHorizontalFlip(), transforms.ToTensor(), transforms.Normalize((0.4914, 0.4822, 0.4465), (0.5, 0.5, 0.5))",
         (0.0, CHANNEL_STATISTICS.format("-0.98, 1.11", "0.491, 0.482, 0.446", "0.500, 0.500, 0.500"))),
        # right, written with transforms.v2 and a flip on the tensors
        ("v2.ToImage(), v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=[0.5] * 3, std=[0.5] * 3)",
         (2.0, "")),
        # a colour change is no normalisation: the generic message
        ("transforms.Grayscale(3), transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))",
         (0.0, f"the loader's images (in [-0.52, 0.65]) {NOT_PIXELS}")),
        # flips other than the horizontal one turn the photos: named as such
        ("transforms.RandomVerticalFlip(), transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))",
         (0.0, TURNED)),
        ("transforms.RandomChoice([transforms.RandomRotation((90, 90)), transforms.RandomRotation((180, 180))]), "
         "transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))", (0.0, TURNED)),
    ],
    ids=["cifar_statistics", "cifar_means_half_std", "v2_flip", "grayscale_three_channels", "vertical_flip", "right_angle_turns"],
)
def test_a_loader_normalised_with_dataset_statistics_is_told_the_mean_and_std_it_used(tmp_path, transform, expected):
    """Normalize with a dataset's channel means and stds (CIFAR-10's, ImageNet's: what classifiers use) is
    named with the mean and std read back from the batch, and the fix (mean 0.5, std 0.5); a loader whose
    pixels are not a per-channel rescaling of the files' gets the generic message."""
    from reference.grading.submission import LocalSubmission

    import torchvision
    from torchvision import transforms
    from torchvision.transforms import v2

    namespace = {"torch": torch, "torchvision": torchvision, "transforms": transforms, "v2": v2, "DataLoader": torch.utils.data.DataLoader}
    exec(textwrap.dedent(loader(transform).replace("transforms.Compose", "v2.Compose" if "v2." in transform else "transforms.Compose")), namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == expected


SPECTRAL_NORM_G = '''
from reference.models.dcgan import Discriminator

SN = nn.utils.spectral_norm


def make_generator(nz=100, ngf=64):
    return nn.Sequential(
        nn.Unflatten(1, (nz, 1, 1)),
        SN(nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)), nn.ReLU(True),
        SN(nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False)), nn.ReLU(True),
        SN(nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False)), nn.ReLU(True),
        SN(nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False)), <END>
    )


def make_discriminator(ndf=64):
    return Discriminator(ndf, channels=3, size=32)
'''


@pytest.mark.parametrize(
    "ending, expected",
    [
        ("nn.Tanh()", (2.0, "")),
        ("nn.Identity()", (1.0, "once its weights are scaled up; expected [-1, 1]: end it with nn.Tanh()")),
        ("nn.Sigmoid()", (1.0, "; expected [-1, 1]: " + END_WITH_TANH)),
    ],
    ids=["tanh", "no_tanh", "sigmoid"],
)
def test_a_spectral_norm_generator_is_judged_by_its_last_layer(ending, expected):
    """Spectral norm on every conv of G (no BatchNorm, no biases) divides each weight by its own scale, so
    scaling the weights up leaves G's output where it was, near 0: a final Tanh must still score full marks
    (a larger z shows the output saturating), and a G without one must still be told to end with it."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": nn}
    exec(textwrap.dedent(SPECTRAL_NORM_G.replace("<END>", ending)), namespace)
    points, message = run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace))
    assert points == expected[0] and message.endswith(expected[1]) and bool(message) == bool(expected[1]), message


def test_a_flattened_generator_output_is_told_to_return_the_images_as_they_are():
    """G's images flattened at the end (an MLP GAN's habit, (N, 3072)): the message names the reshaping."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(networks(("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),", "nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(), nn.Flatten(),")), namespace)
    assert run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace)) == (
        0.0,
        "the generator returns (N, 3072): it holds each image's 3 x 32 x 32 values in another shape; the training loop and "
        "D take images (N, 3, 32, 32), as the last ConvTranspose2d makes them: return its output as it is (no flatten, "
        "view or squeeze after it)",
    )


ONE_CLASS = '''
def make_cifar10_loader(root, batch_size=64):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    data = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=tf)
    frogs = [i for i, label in enumerate(data.targets) if label == 6]
    return DataLoader(torch.utils.data.Subset(data, frogs), batch_size=batch_size, shuffle=True<DROP_LAST>)
'''


@pytest.mark.parametrize("drop_last", ["", ", drop_last=True"], ids=["short_batch", "no_batch"])
def test_a_loader_of_one_class_is_told_it_holds_too_few_images_not_to_pass_batch_size(tmp_path, drop_last):
    """One class of CIFAR-10 (the Keras CIFAR-10 GAN's frogs): the grader's 40 files hold 4 frogs, fewer than a batch
    of 8, so the first batch is short or (drop_last) missing; the message names the subset, not batch_size, which it passes."""
    from reference.grading.submission import LocalSubmission

    import torchvision
    from torchvision import transforms

    namespace = {"torch": torch, "torchvision": torchvision, "transforms": transforms, "DataLoader": torch.utils.data.DataLoader}
    exec(textwrap.dedent(ONE_CLASS.replace("<DROP_LAST>", drop_last)), namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == (0.0, (
        "the loader's dataset holds 4 of the 40 training images in the grader's CIFAR-10 files, fewer than one batch of "
        "8 (a Subset, a class filter or a slice?): train on all of CIFAR-10's training images, "
        "torchvision.datasets.CIFAR10(root, train=True, ...) as it is"))


def test_a_generator_that_cannot_draw_the_real_range_is_told_so_by_the_learning_check(monkeypatch):
    """A G ending in a sigmoid (a [0, 1] output, an MNIST habit) fails to learn against real images in [-1, 1]
    (canned here): the learning check names G's range as the cause, not the generic advice."""
    from reference.grading import learning
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    canned = learning.LearningResult("fail", "classifier-FID went from 5487 (untrained) to at best 1340", [], 714.0, 500.0, 400)
    monkeypatch.setattr(learning, "learning_check", lambda *args, **kwargs: canned)
    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(SOLUTION_NETWORKS.replace("nn.Tanh()", "nn.Sigmoid()"), namespace)
    assert run_check(load_checks(A, ROOT)["test_learns"], LocalSubmission(namespace)) == (0.0, (
        f"{canned.message}: generator output stays in [0, 1]; expected [-1, 1]: end with nn.Tanh() on the last conv's "
        "output (not nn.Sigmoid(), and no ReLU between them); the real images span [-1, 1], and D tells G's images from "
        "them by their range alone"))


SUBSET = """
def make_cifar10_loader(root, batch_size=64):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    data = torchvision.datasets.CIFAR10(root=root, train=True, download=False, transform=tf)
    return DataLoader(<DATA>, batch_size=batch_size, shuffle=True)
"""
NUMPY_DATASET = """
class Images(torch.utils.data.Dataset):
    def __init__(self, root):
        self.x = torchvision.datasets.CIFAR10(root=root, train=True, download=False).data.transpose(0, 3, 1, 2) / 127.5 - 1

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), 0


def make_cifar10_loader(root, batch_size=64):
    return DataLoader(Images(root), batch_size=batch_size, shuffle=True)
"""


@pytest.mark.parametrize(
    "source, expected",
    [
        # a fifth of the training images, to train faster
        (SUBSET.replace("<DATA>", "torch.utils.data.Subset(data, range(len(data) // 5))"), (1.0, (
            "the loader's dataset holds 8 images where the grader's CIFAR-10 files hold 40 training images: train on all of "
            "them (a Subset or a slice trains on a part): CIFAR10(root, train=True, ...) as it is"))),
        # the test split joined to the training one ("a GAN needs no test split")
        (SUBSET.replace("<DATA>", "torch.utils.data.ConcatDataset([data, torchvision.datasets.CIFAR10(root=root, "
                                  "train=False, download=False, transform=tf)])"), (1.0, (
            "the loader mixes the test split into the training images (ConcatDataset, or train=False added); train on the "
            "training batches alone: CIFAR10(root, train=True, ...)"))),
        # NumPy's float64 from .data / 127.5 - 1: right pixels, but D's float32 weights refuse them
        (NUMPY_DATASET, (1.0, (
            "the loader yields float64 images, but the networks' weights are float32, so D(real) raises (\"expected ... "
            "Double but found Float\"): make them float32 (a NumPy array divided by 127.5 is float64: .astype('float32'), "
            "or .float() on the tensor)"))),
    ],
    ids=["a_fifth_of_the_images", "test_split_mixed_in", "numpy_float64"],
)
def test_a_loader_of_part_of_the_images_more_of_them_or_float64_keeps_one_point(tmp_path, source, expected):
    """A loader of the right pixels over a part of the training images, with the test images mixed in, or in float64
    (which D's float32 weights refuse) keeps 1 point, the fault named (each costs 1, as shuffling and pairs do)."""
    from reference.grading.submission import LocalSubmission

    import torchvision

    namespace = {"torch": torch, "torchvision": torchvision, "transforms": __import__("torchvision.transforms").transforms,
                 "DataLoader": torch.utils.data.DataLoader}
    exec(source, namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    result = run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path))
    if "test split" in expected[1] and result != expected:  # a first batch drawn from the training images only
        assert result[0] == 1.0 and "the test split is mixed in" in result[1], result
        return
    assert result == expected


@pytest.mark.parametrize(
    "body, expected",
    [
        # (x + 1) / 2 and then save_image's value_range=(-1, 1) again: washed out into [0.5, 1]
        ("save_image((images + 1) / 2, path, nrow=nrow, normalize=True, value_range=(-1, 1))", (1.0, (
            "the grid's colours are off: an image of colour (1.0, -1.0, -1.0) in [-1, 1] should appear as RGB (255, 0, 0), "
            "but the images were mapped from [-1, 1] to [0, 1] twice ((images + 1) / 2, then save_image's normalize=True "
            "with value_range=(-1, 1) again), so every colour is washed out into [0.5, 1]: map once"))),
        # nrow read as the number of rows
        ("save_image((images + 1) / 2, path, nrow=math.ceil(len(images) / nrow))", (1.0, (
            "the grid puts 8 rows of 2 images when save_colour_grid is called without nrow, 4 rows of 4 with nrow=4: nrow is "
            "the number of images in each row (as in torchvision's make_grid and save_image), not the number of rows"))),
        # two faults after the colours: each batch stretched and nrow ignored: 0 points, both named
        ("save_image(images, path, normalize=True)", (0.0, (
            "a batch in [-0.5, 0.5] (G early in training) is saved at full contrast: the grid stretches each batch's own "
            "minimum and maximum to [0, 1] (save_image's normalize=True without value_range), so samples look better than G "
            "makes them; map the fixed range: save_image(images, path, normalize=True, value_range=(-1, 1)) or save "
            f"(images + 1) / 2; {NROW.format(8, 8)}"))),
        # each image stretched by its own minimum and maximum: its colours change
        ("save_image(images, path, nrow=nrow, normalize=True, scale_each=True)", (1.0, (
            "the grid's colours are off: an image of colour (1.0, 1.0, 1.0) in [-1, 1] should appear as RGB (255, 255, 255), "
            "but each image was stretched by its own minimum and maximum (save_image's normalize=True with scale_each=True), "
            "which changes its colours and hides how G's images compare; map the fixed range for every image: save "
            "(images + 1) / 2"))),
    ],
    ids=["mapped_twice", "nrow_as_rows", "stretched_and_nrow_ignored", "each_image_stretched"],
)
def test_grid_faults_are_named_and_each_later_one_costs_a_point(tmp_path, body, expected):
    """A grid mapped twice keeps 1 point, named; nrow read as a number of rows is told what nrow means; the faults
    found once the colours are right (stretching, orientation, upscaling, layout) cost 1 point each."""
    import math

    from torchvision.utils import save_image

    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "math": math, "save_image": save_image}
    exec(f"def save_colour_grid(images, path, nrow=8):\n    {body}\n", namespace)
    check_fn = load_checks(A, ROOT)["test_colour_grid_png"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == expected


MNIST_LADDER_G = '''
def make_generator(nz=100, ngf=64):
    G = nn.Sequential(
        nn.Unflatten(1, (nz, 1, 1)),
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # 4x4
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 7x7
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),  # 14x14
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False),  # 28x28
        <TO32>
    )
    G.apply(weights_init)
    return G
'''
CROPPED_D = '''
class CropTo28(nn.Module):
    def forward(self, x):
        return x[:, :, 2:30, 2:30]


def make_discriminator(ndf=64):
    D = nn.Sequential(
        CropTo28(),
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),  # 14x14
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),  # 7x7
        nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),  # 4x4
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Flatten(0),
    )
    D.apply(weights_init)
    return D
'''
PADDED = '''
class PadTo32(nn.Module):
    def forward(self, x):
        return nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)
'''


@pytest.mark.parametrize(("source", "check", "expected", "says"), [
    (networks((G_NO_TANH[0], G_NO_TANH[1] + " nn.Tanh(), nn.Tanh(),")), "test_generator_makes_colour_images", 1.0,
     "generator output stays in [-0.762, 0.762] even with its weights scaled up, short of the data's -1 and 1"),
    (networks(("nn.Flatten(0),  # (N,)", "nn.Flatten(0), nn.LogSigmoid(),")), "test_discriminator_takes_colour_images", 0.0,
     "the discriminator's outputs are never positive ([-"),
    (networks(("nn.Flatten(0),  # (N,)", "nn.Flatten(0), nn.ReLU(),")), "test_discriminator_takes_colour_images", 0.0,
     "the discriminator's outputs are never negative ([0, "),
    (networks(("nn.Flatten(0),  # (N,)", "nn.Flatten(0), nn.Softplus(),")), "test_discriminator_takes_colour_images", 0.0,
     "the discriminator's outputs are never negative (["),
    (networks() + MNIST_LADDER_G.replace("<TO32>", "nn.Upsample(size=(32, 32), mode='bilinear'), nn.Tanh(),"),
     "test_generator_makes_colour_images", 1.0, "the generator's convolutions stop at 28x28, and an nn.Upsample after them"),
    (networks() + PADDED + MNIST_LADDER_G.replace("<TO32>", "nn.Tanh(), PadTo32(),"),
     "test_generator_makes_colour_images", 1.0, "the generator's convolutions stop at 28x28, and a resize or pad after them"),
    (networks() + CROPPED_D, "test_discriminator_takes_colour_images", 0.0,
     "the discriminator's logits do not change when the outer 2 pixels of its images change (23% of each image)"),
], ids=["tanh_twice", "d_log_sigmoid", "d_relu", "d_softplus", "g_mnist_ladder_upsampled", "g_mnist_ladder_padded", "d_on_a_crop"])
def test_outputs_that_cannot_reach_the_data_or_be_logits_and_ported_shapes_that_are_not_lose_points(source, check, expected, says):
    """A second tanh (G's output capped at 0.762: it never draws -1 or 1), a D ending in a log-sigmoid (D(x) never
    above 0.5), a ReLU or a softplus (never below 0.5) scored full marks, and so did the MNIST 28x28 ladder kept and
    resized or padded to 32x32 in G, or run on a centre crop in D (23% of every image unseen)."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(source, namespace)
    points, message = run_check(load_checks(A, ROOT)[check], LocalSubmission(namespace))
    assert points == expected and message.startswith(says), message


WIDTH_AS_NUMBER = (
    "; it works at {a} = 16 only, where the checks build it: a width is written as a number that fits that {a} (the "
    "notebook builds it at {a} = 64); build every width from `{a}` ({a} * 4, {a} * 2, {a})"
)


@pytest.mark.parametrize(
    "edit, check, expected",
    [
        (("nn.BatchNorm2d(ngf * 4)", "nn.BatchNorm2d(64)"), "test_generator_makes_colour_images", (1.0, (
            "with ngf=32 the generator fails: layer `2` (BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, "
            "track_running_stats=True)) raised RuntimeError on its input (N, 128, 4, 4): running_mean should contain 128 "
            "elements not 64" + WIDTH_AS_NUMBER.format(a="ngf")))),
        (("nn.BatchNorm2d(ndf * 4)", "nn.BatchNorm2d(64)"), "test_discriminator_takes_colour_images", (0.5, (
            "with ndf=32 the discriminator cannot take (N, 3, 32, 32) images: layer `6` (BatchNorm2d(64, eps=1e-05, "
            "momentum=0.1, affine=True, track_running_stats=True)) raised RuntimeError on its input (N, 128, 4, 4): "
            "running_mean should contain 128 elements not 64" + WIDTH_AS_NUMBER.format(a="ndf")))),
        (("nn.Conv2d(ndf * 4, 1, 4, 1, 0", "nn.Conv2d(64, 1, 4, 1, 0"), "test_discriminator_takes_colour_images", (0.5, (
            "with ndf=32 the discriminator cannot take (N, 3, 32, 32) images: layer `8` (Conv2d(64, 1, kernel_size=(4, 4), "
            "stride=(1, 1), bias=False)) takes 64 channels but gets (N, 128, 4, 4): its in_channels must be the channels of "
            "its input (the out_channels of the layer before it; nz for G's first layer)" + WIDTH_AS_NUMBER.format(a="ndf")))),
    ],
    ids=["g_batchnorm_64", "d_batchnorm_64", "d_last_conv_64"],
)
def test_widths_written_as_numbers_that_fit_only_the_checks_width_lose_the_width_points(edit, check, expected):
    """A width written as a number (nn.BatchNorm2d(64) for ngf * 4) that fits the checks' ngf = ndf = 16 only: its
    parameter count still grows with the width, so it kept full marks although the notebook's G or D at 64 raises;
    it is now built at 32 too and loses the width's point (half a point in D), the layer named. The solution keeps them."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    for source, want in ((networks(edit), expected), (SOLUTION_NETWORKS, (FULL[check], ""))):
        namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
        exec(source, namespace)
        got = run_check(load_checks(A, ROOT)[check], LocalSubmission(namespace))
        assert (got[0], re.sub(r"bias=True, ", "", got[1])) == want, got


def test_a_discriminator_whose_logits_are_viewed_to_a_fixed_batch_size_is_told_so():
    """D's (N, 1, 1, 1) reshaped with .view(64), the training batch size: the error is followed by its cause and fix,
    as G's z.view(64, nz, 1, 1) is (a 1-D shape was not recognised)."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec("class View64(nn.Module):\n    def forward(self, x):\n        return x.view(64)\n", namespace)
    exec(networks(("nn.Flatten(0),  # (N,)", "View64(),")), namespace)
    got = run_check(load_checks(A, ROOT)["test_discriminator_takes_colour_images"], LocalSubmission(namespace))
    assert got == (
        0.0,
        "the discriminator cannot take (N, 3, 32, 32) images: layer `9` (View64()) raised RuntimeError on its input "
        "(N, 1, 1, 1): shape '[64]' is invalid for input of size 2: a .view or .reshape fixes the batch size at 64, but "
        "batches have any size N (here 2): let the batch size follow the input, e.g. .view(-1) for one logit per image",
    ), got


@pytest.mark.parametrize("mean_std, expected", [
    ("(0.5, 0.5, 0.5), (0.5, 0.5, 0.5)", (2.0, "")),
    ("(0.5,) * 3, (0.5,) * 3", (2.0, "")),
    ("(0.5, 0.5), (0.5, 0.5)", (0.0, (
        "the loader's batches cannot be made (RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at "
        "non-singleton dimension 0): a per-channel mean or std (transforms.Normalize's) has 2 values for the images' 3 "
        "colour channels; give one per channel: transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"))),
    ("(0.485, 0.456, 0.406), (0.229, 0.224, 0.225)", (0.0, CHANNEL_STATISTICS.format(
        "-2.12, 2.64", "0.485, 0.456, 0.406", "0.229, 0.224, 0.225"))),
], ids=["three_values", "tuple_times_three", "two_values", "imagenet_statistics"])
def test_a_normalize_with_a_value_missing_for_a_channel_is_told_so(tmp_path, mean_std, expected):
    """Normalize((0.5, 0.5), (0.5, 0.5)), the third channel forgotten, raised a bare broadcasting error; it is now told
    as one value per colour channel. (0.5,) * 3 keeps full marks, ImageNet's statistics are named."""
    from reference.grading.submission import LocalSubmission

    import torchvision
    from torchvision import transforms

    namespace = {"torch": torch, "torchvision": torchvision, "transforms": transforms, "DataLoader": torch.utils.data.DataLoader}
    exec(textwrap.dedent(loader(f"transforms.ToTensor(), transforms.Normalize({mean_std})")), namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == expected


@pytest.mark.parametrize("second", ["RandomHorizontalFlip(p=1.0), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))",
                                    "ToTensor(), transforms.Normalize((0.5,), (0.5,))"], ids=["mirrored", "repeated"])
def test_a_loader_of_the_training_set_doubled_with_its_mirror_images_scores_full_marks(tmp_path, second):
    """Red-team finding: the training set joined to its own mirror images (StyleGAN's --mirror, a fixed flip augmentation)
    kept 1 of 2 points and was told "the test split is mixed in": its dataset holds twice the training images. Every image
    is a training image or its mirror, so a dataset of a multiple of the training set's size is the training set."""
    from reference.grading.submission import LocalSubmission

    import torchvision

    source = f"""
def make_cifar10_loader(root, batch_size=64):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    data = torchvision.datasets.CIFAR10(root, train=True, download=False, transform=tf)
    other = torchvision.datasets.CIFAR10(root, train=True, download=False, transform=transforms.Compose([transforms.{second}]))
    return DataLoader(torch.utils.data.ConcatDataset([data, other]), batch_size=batch_size, shuffle=True)
"""
    namespace = {"torch": torch, "torchvision": torchvision, "transforms": __import__("torchvision.transforms").transforms,
                 "DataLoader": torch.utils.data.DataLoader}
    exec(source, namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == (2.0, "")


# ---------------------------------------------------------------------------------------------
# Red team, false positives: wrong answers that scored points on a check whose property they break
# ---------------------------------------------------------------------------------------------

SOLUTION_G = SOLUTION_NETWORKS[: SOLUTION_NETWORKS.index("def make_discriminator")]
SOLUTION_D = SOLUTION_NETWORKS[SOLUTION_NETWORKS.index("def make_discriminator"):]
# the PyTorch DCGAN tutorial's 64x64 generator kept, its images cut down to 32x32 at the end (<DOWN>)
TUTORIAL_G = '''
class G64(nn.Module):
    def __init__(self, nz, ngf):
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),<POOL>
        )

    def forward(self, z):
        x = self.main(z.view(-1, self.nz, 1, 1))
        return <DOWN>


def make_generator(nz=100, ngf=64):
    G = G64(nz, ngf)
    G.apply(weights_init)
    return G
'''
# ... and its 64x64 discriminator, the 32x32 images upsampled for it
TUTORIAL_D = '''
def make_discriminator(ndf=64):
    D = nn.Sequential(
        <UP>,
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Flatten(0),
    )
    D.apply(weights_init)
    return D
'''
CUT_DOWN = (
    "the generator's last convolution draws 64x64 images, and {} cuts them down to the 32x32 output: it never draws at "
    "the data's own size (a 64x64 generator, as in the PyTorch DCGAN tutorial, kept?); port the ladder itself, stride-2 "
    "transposed convolutions from 4x4 to 32x32 (4x4 -> 8x8 -> 16x16 -> 32x32) and no stage after 32x32, as the DCGAN "
    "rules ask"
)
RESIZE_POOL_OR_CROP = "a resize, pool or crop after it (an F.interpolate, F.avg_pool2d, or a slice such as x[:, :, 16:48, 16:48])"
UPSAMPLED = (
    "the discriminator's first convolution reads a 64x64 input: the 32x32 images are upsampled before its convolutions, "
    "so it judges an interpolation of them at another size (a 64x64 discriminator, as in the PyTorch DCGAN tutorial, "
    "kept behind an nn.Upsample?); port the ladder itself, stride-2 convolutions from 32x32 down to 4x4 (32x32 -> 16x16 "
    "-> 8x8 -> 4x4), as the DCGAN rules ask"
)


@pytest.mark.parametrize(
    "source, check, expected",
    [
        (TUTORIAL_G.replace("<POOL>", "").replace("<DOWN>", 'F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)'),
         "test_generator_makes_colour_images", (1.0, CUT_DOWN.format(RESIZE_POOL_OR_CROP))),
        (TUTORIAL_G.replace("<POOL>", "").replace("<DOWN>", "F.avg_pool2d(x, 2)"),
         "test_generator_makes_colour_images", (1.0, CUT_DOWN.format(RESIZE_POOL_OR_CROP))),
        (TUTORIAL_G.replace("<POOL>", "").replace("<DOWN>", "x[:, :, 16:48, 16:48]"),
         "test_generator_makes_colour_images", (1.0, CUT_DOWN.format(RESIZE_POOL_OR_CROP))),
        (TUTORIAL_G.replace("<POOL>", "").replace("<DOWN>", "x[:, :, ::2, ::2]"),
         "test_generator_makes_colour_images", (1.0, CUT_DOWN.format(RESIZE_POOL_OR_CROP))),
        (TUTORIAL_G.replace("<POOL>", " nn.AdaptiveAvgPool2d(32),").replace("<DOWN>", "x"),
         "test_generator_makes_colour_images", (1.0, CUT_DOWN.format("a pool after it"))),
        (TUTORIAL_D.replace("<UP>", 'nn.Upsample(scale_factor=2, mode="nearest")'), "test_discriminator_takes_colour_images", (0.5, UPSAMPLED)),
        (TUTORIAL_D.replace("<UP>", 'nn.Upsample(size=(64, 64), mode="bilinear")'), "test_discriminator_takes_colour_images", (0.5, UPSAMPLED)),
        # right: a pad of a pixel before a conv without padding is no resize; a stride-1 conv after the 32x32 stage
        (SOLUTION_D.replace("nn.Conv2d(3, ndf, 4, 2, 1, bias=False)", "nn.ReflectionPad2d(1), nn.Conv2d(3, ndf, 4, 2, 0, bias=False)"),
         "test_discriminator_takes_colour_images", (1.0, "")),
        (SOLUTION_G.replace("nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),",
                            "nn.ConvTranspose2d(ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True), "
                            "nn.Conv2d(ngf, 3, 3, 1, 1, bias=False), nn.Tanh(),"),
         "test_generator_makes_colour_images", (2.0, "")),
    ],
    ids=["g_interpolated", "g_avg_pooled", "g_centre_crop", "g_every_other_pixel", "g_adaptive_pool", "d_upsampled",
         "d_upsampled_bilinear", "d_reflection_pad", "g_stride_1_conv_at_32"],
)
def test_a_larger_ladder_cut_down_to_32_or_fed_upsampled_images_loses_the_port_points(source, check, expected):
    """Red team (false positives): the PyTorch DCGAN tutorial's 64x64 G with its images resized, pooled or cropped to
    32x32 scored 2/2, and its 64x64 D behind an nn.Upsample 1/1; the 28x28 ladder resized to 32x32 already cost those
    points (G never draws, D never judges, at the data's own size)."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "F": nn.functional, "weights_init": weights_init}
    exec(SOLUTION_NETWORKS, namespace)
    exec(source, namespace)
    assert run_check(load_checks(A, ROOT)[check], LocalSubmission(namespace)) == expected


# a conditional G's habit: class labels drawn inside forward when none are given
RANDOM_LABELS_G = '''
class CondG(nn.Module):
    def __init__(self, nz, ngf):
        super().__init__()
        self.nz = nz
        self.embed = nn.Embedding(10, 10)
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz + 10, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, z, labels=None):
        if labels is None:  # the training loop gives no labels: draw some
            labels = torch.randint(0, 10, (z.shape[0],))
        return self.main(torch.cat([z, self.embed(labels)], 1).view(-1, self.nz + 10, 1, 1))


def make_generator(nz=100, ngf=64):
    G = CondG(nz, ngf)
    G.apply(weights_init)
    return G
'''
OWN_RANDOMNESS = (
    "the generator draws different images for the same z (called twice on one z, in eval mode): its forward draws random "
    "numbers of its own besides z (torch.randint for random class labels, torch.randn added to z, or dropout kept on in "
    "eval mode); forward(z) must map z itself, so that a fixed z draws a fixed image and each z its own"
)


@pytest.mark.parametrize("source, expected", [
    (RANDOM_LABELS_G, (1.0, OWN_RANDOMNESS)),
    (SOLUTION_G.replace("nn.Unflatten(1, (nz, 1, 1)),", "Jitter(), nn.Unflatten(1, (nz, 1, 1)),") +
     "\nclass Jitter(nn.Module):\n    def forward(self, z):\n        return z + 0.1 * torch.randn_like(z)\n", (1.0, OWN_RANDOMNESS)),
    # right: dropout between G's stages, off in eval mode
    (SOLUTION_G.replace("nn.BatchNorm2d(ngf * 2), nn.ReLU(True),", "nn.BatchNorm2d(ngf * 2), nn.ReLU(True), nn.Dropout(0.5),"), (2.0, "")),
], ids=["random_labels", "noise_added_to_z", "dropout"])
def test_a_generator_that_draws_random_numbers_of_its_own_keeps_one_point(source, expected):
    """Red team (false positive): a G drawing random class labels inside forward (its output depends on z, so the noise
    probe saw nothing wrong) scored 2/2; a fixed z must draw a fixed image, as a fixed-noise sample grid needs."""
    from reference.grading.submission import LocalSubmission
    from reference.models.dcgan import weights_init

    namespace = {"torch": torch, "nn": nn, "weights_init": weights_init}
    exec(SOLUTION_NETWORKS, namespace)
    exec(source, namespace)
    assert run_check(load_checks(A, ROOT)["test_generator_makes_colour_images"], LocalSubmission(namespace)) == expected


ITERATOR = (
    "the loader is an iterator (a generator, itertools.cycle or iter(DataLoader)), not a DataLoader: iterating it again "
    "does not start a new epoch but goes on with the one it is in (or, cycled, replays its first epoch in the same order "
    "for ever), so the training loop's next `for real, _ in loader` gets no new epoch; return the DataLoader itself, "
    "which starts a reshuffled pass each time it is iterated"
)
HALF = (
    "the loader yields {} images, but the networks' weights are float32, so D(real) raises (its input and weights must "
    "have one type): keep the images float32, as transforms.ToTensor() makes them (no .half() or .to(torch.bfloat16) in "
    "the loader)"
)
SHUFFLED = "DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True)"


@pytest.mark.parametrize(
    "ret, transform, expected",
    [
        (f"return iter({SHUFFLED})", NORMALISE, (1.0, ITERATOR)),
        (f"yield from {SHUFFLED}", NORMALISE, (1.0, ITERATOR)),
        (f"return __import__('itertools').cycle({SHUFFLED})", NORMALISE, (1.0, ITERATOR)),
        (f"return list({SHUFFLED})", NORMALISE, (1.0, FIXED_ORDER)),  # a list starts each pass alike: told as such
        (f"return {SHUFFLED}", NORMALISE + ", transforms.Lambda(lambda x: x.half())", (1.0, HALF.format("float16"))),
        (f"return {SHUFFLED}", NORMALISE + ", transforms.Lambda(lambda x: x.to(torch.bfloat16))", (1.0, HALF.format("bfloat16"))),
    ],
    ids=["iter_of_a_dataloader", "generator", "itertools_cycle", "list_of_batches", "float16", "bfloat16"],
)
def test_a_loader_that_is_an_iterator_or_of_half_floats_keeps_one_point(tmp_path, ret, transform, expected):
    """Red team: a loader returned as an iterator (iter(DataLoader), a generator, itertools.cycle) scored 2/2, its next
    batch taken for a reshuffled second epoch; it has no second epoch (or, cycled, replays the first in one order). A
    float16 loader was told it was "normalised with mean 0.5 and std 0.5" and to use mean 0.5 and std 0.5 (0/2): its
    pixels are the right ones, in a type D's weights refuse, as float64's (1 point)."""
    from reference.grading.submission import LocalSubmission

    import torchvision

    source = f'''
def make_cifar10_loader(root, batch_size=64):
    tf = transforms.Compose([transforms.ToTensor(), {transform}])
    data = torchvision.datasets.CIFAR10(root, train=True, download=False, transform=tf)
    {ret}
'''
    namespace = {"torch": torch, "torchvision": torchvision, "transforms": torchvision.transforms, "DataLoader": torch.utils.data.DataLoader}
    exec(source, namespace)
    check_fn = load_checks(A, ROOT)["test_loader_yields_colour_batches_in_minus_one_one"]
    assert run_check(check_fn, LocalSubmission(namespace, scratch=tmp_path)) == expected


PART = ("given 40 images, the grid shows only the {} 16 of them: it saves a part of the batch (a slice such as {}?); save "
        "every image it is given in one grid, e.g. torchvision.utils.save_image((images + 1) / 2, path, nrow=nrow) (the "
        "notebook saves 64)")


@pytest.mark.parametrize("body, expected", [
    ("save_image((images[:16] + 1) / 2, path, nrow=nrow)", (1.0, PART.format("first", "images[:16]"))),
    ("save_image((images[:2 * nrow] + 1) / 2, path, nrow=nrow)", (1.0, PART.format("first", "images[:16]"))),
    ("save_image((images[-16:] + 1) / 2, path, nrow=nrow)", (1.0, PART.format("last", "images[-16:]"))),
    # right: every image, whatever the batch size
    ("save_image((images + 1) / 2, path, nrow=nrow, padding=2, pad_value=0.5)", (2.0, "")),
], ids=["first_16", "two_rows", "last_16", "whole_batch"])
def test_a_grid_of_part_of_the_batch_keeps_one_point(tmp_path, body, expected):
    """Red team (false positive): a grid of the batch's first 16 images scored 2/2, the check's batches being 16 images;
    a batch of 40 plain colours must now show each of them (the notebook saves 64 samples)."""
    from torchvision.utils import save_image

    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "save_image": save_image}
    exec(f"def save_colour_grid(images, path, nrow=8):\n    {body}\n", namespace)
    assert run_check(load_checks(A, ROOT)["test_colour_grid_png"], LocalSubmission(namespace, scratch=tmp_path)) == expected


def test_the_red_team_faults_are_told_alike_in_the_sandbox(tmp_path):
    """The faults above, graded across the proxy in the sandboxed worker (the learning check left out): the loader's
    iterator, G's own random numbers, D's upsampled input and a grid of part of the batch cost the same points."""
    cells = {
        "loader": f'''
            def make_cifar10_loader(root, batch_size=64):
                tf = transforms.Compose([transforms.ToTensor(), {NORMALISE}])
                data = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=tf)
                return iter({SHUFFLED})
        ''',
        "networks": RANDOM_LABELS_G + TUTORIAL_D.replace("<UP>", 'nn.Upsample(scale_factor=2, mode="nearest")'),
        "colour_grid": '''
            from torchvision.utils import save_image

            def save_colour_grid(images, path, nrow=8):
                save_image((images[:16] + 1) / 2, path, nrow=nrow)
        ''',
    }
    only = [name for name in CHECKS if name not in ("test_train_step", "test_learns")]
    assert grade_notebook(submission(tmp_path, cells), A, ROOT, only=only) == {
        "test_loader_yields_colour_batches_in_minus_one_one": (1.0, ITERATOR),
        "test_generator_makes_colour_images": (1.0, OWN_RANDOMNESS),
        "test_discriminator_takes_colour_images": (0.5, UPSAMPLED),
        "test_colour_grid_png": (1.0, PART.format("first", "images[:16]")),
    }
