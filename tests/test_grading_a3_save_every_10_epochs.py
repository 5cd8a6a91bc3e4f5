"""The a3 autograder gives the right score and message to right and wrong submissions.

Each submission is the solution notebook with the `train` cell replaced, executed like a student's
notebook and graded by every check of tests/autograders/test_a3_save_every_10_epochs.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import notebook_with_cells
from reference.grading.runner import grade_notebook

A = "a3_save_every_10_epochs"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = [
    "test_saves_at_epochs_10_20_30",
    "test_saves_for_25_and_9_epochs",
    "test_sample_grids_are_png_grids_of_64",
    "test_grids_come_from_fixed_noise",
    "test_checkpoints_hold_g_and_d",
]
FULL = {name: points for name, points in zip(CHECKS, (3.0, 2.0, 1.0, 2.0, 2.0))}

# the student's function: the given head, the variant's body, the given return
HEAD = "def train(n_epochs: int, out_dir, seed: int = 0):\n    gan = make_gan(seed)\n    out_dir = Path(out_dir)\n"
SAVE = """
def save(tag):
    with torch.no_grad():
        samples = from_model_range(gan.G(fixed_noise), "tanh")
    save_image_grid(samples, out_dir / "samples" / f"epoch_{tag:03d}.png")
    torch.save({"G": gan.G.state_dict(), "D": gan.D.state_dict()}, out_dir / f"ckpt_{tag:03d}.pt")

fixed_noise = torch.randn(64, gan.nz)
"""


def submission(tmp_path: Path, body: str) -> Path:
    """The solution notebook with `train`'s body replaced by `body`."""
    body = textwrap.dedent(body).strip("\n").replace("<SAVE>", SAVE.strip("\n"))
    return notebook_with_cells(SOLUTION, tmp_path, {"train": HEAD + textwrap.indent(body, "    ") + "\n    return gan.G, gan.D\n"})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    return grade_notebook(path, A, ROOT)


def test_solution_scores_full_marks():
    assert scores(SOLUTION) == {name: (points, "") for name, points in FULL.items()}


def test_unmodified_student_version_scores_zero_everywhere():
    message = "`train` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    assert scores(STUDENT) == {name: (0.0, message) for name in CHECKS}


CORRECT = {
    # 0-based loop, files named by the 0-based epoch (009, 019, 029), torchvision's save_image with
    # 16 images per row, whole modules pickled instead of state dicts
    "zero_based_torchvision_modules": """
        from torchvision.utils import save_image
        noise = torch.randn(64, gan.nz)
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
            if (epoch + 1) % 10 == 0:
                with torch.no_grad():
                    images = gan.G(noise) * 0.5 + 0.5
                save_image(images, str(out_dir / f"grid-{epoch:03d}.png"), nrow=16)
                torch.save({"netG": gan.G, "netD": gan.D}, out_dir / f"model-{epoch}.pth")
    """,
    # a while loop, one folder per epoch, the noise re-drawn from one seed at each save (so still
    # fixed), state dicts nested one level deeper
    "folders_and_seeded_noise": """
        done = 0
        while done < n_epochs:
            for x in gan.batches.epoch(done):
                step(gan, x)
            done += 1
            if done % 10 == 0:
                z = torch.randn(64, gan.nz, generator=torch.Generator().manual_seed(1234))
                folder = out_dir / str(done)
                folder.mkdir(parents=True, exist_ok=True)
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(z), "tanh"), folder / "grid.png")
                torch.save({"models": {"g": gan.G.state_dict(), "d": gan.D.state_dict()}}, folder / "state.ckpt")
    """,
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(tmp_path, name):
    assert scores(submission(tmp_path, CORRECT[name])) == {n: (p, "") for n, p in FULL.items()}


WRONG = {
    "saves_at_epoch_0": """
        <SAVE>
        for epoch in range(n_epochs):
            if epoch % 10 == 0:
                save(epoch)
            for x in gan.batches.epoch(epoch):
                step(gan, x)
    """,
    "zero_based_epoch_mod_10": """
        <SAVE>
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
    """,
    "saves_every_10_batches": """
        <SAVE>
        steps = 0
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
                steps += 1
                if steps % 10 == 0:
                    save(steps)
    """,
    "saves_at_9_19_29": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
            if epoch % 10 == 9:
                save(epoch)
    """,
    "fresh_noise_each_time": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
            if epoch % 10 == 0:
                fixed_noise = torch.randn(64, gan.nz)
                save(epoch)
    """,
    "no_checkpoint": """
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(noise), "tanh"), out_dir / f"{epoch}.png")
    """,
}

OK = {name: (points, "") for name, points in FULL.items()}
EXPECTED = {
    "saves_at_epoch_0": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 0, 10, 20 of a 30-epoch run; expected 10, 20, 30 (epoch 0 is before any training: never save there)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 0, 10, 20 of a 25-epoch run; expected 10, 20 (epoch 0 is before any training: never save there); sample grids saved at epoch 0 of a 9-epoch run; expected none (epoch 0 is before any training: never save there)"),
        "test_checkpoints_hold_g_and_d": (1.0, "checkpoints saved at epochs 0, 10, 20 of a 30-epoch run; expected 10, 20, 30 (epoch 0 is before any training: never save there)"),
    },
    "zero_based_epoch_mod_10": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 1, 11, 21 of a 30-epoch run; expected 10, 20, 30 (1-based: in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 1, 11, 21 of a 25-epoch run; expected 10, 20 (1-based: in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0); sample grids saved at epoch 1 of a 9-epoch run; expected none (1-based: in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0)"),
        "test_checkpoints_hold_g_and_d": (1.0, "checkpoints saved at epochs 1, 11, 21 of a 30-epoch run; expected 10, 20, 30 (1-based: in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0)"),
    },
    "saves_every_10_batches": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids written inside the batch loop during epochs 5, 10, 15, 20, 25, 30 of a 30-epoch run; save once after an epoch's batches, after epochs 10, 20, 30"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids written inside the batch loop during epochs 5, 10, 15, 20, 25 of a 25-epoch run; save once after an epoch's batches, after epochs 10, 20; sample grids written inside the batch loop during epoch 5 of a 9-epoch run; save once after an epoch's batches, and never in a run shorter than 10 epochs"),
        "test_checkpoints_hold_g_and_d": (1.0, "checkpoints written inside the batch loop during epochs 5, 10, 15, 20, 25, 30 of a 30-epoch run; save once after an epoch's batches, after epochs 10, 20, 30"),
    },
    "saves_at_9_19_29": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 9, 19, 29 of a 30-epoch run; expected 10, 20, 30 (1-based: after the 10th, 20th, 30th epoch)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 9, 19 of a 25-epoch run; expected 10, 20 (1-based: after the 10th, 20th, 30th epoch); sample grids saved at epoch 9 of a 9-epoch run; expected none (1-based: after the 10th, 20th, 30th epoch)"),
        "test_checkpoints_hold_g_and_d": (1.0, "checkpoints saved at epochs 9, 19, 29 of a 30-epoch run; expected 10, 20, 30 (1-based: after the 10th, 20th, 30th epoch)"),
    },
    "fresh_noise_each_time": {
        **OK,
        "test_grids_come_from_fixed_noise": (0.0, "with training frozen (G unchanged), `epoch_010.png` and `epoch_020.png` differ: the samples come from new noise each time; draw fixed_noise once, before the loop, and reuse it"),
    },
    "no_checkpoint": {
        **OK,
        "test_checkpoints_hold_g_and_d": (0.0, "no checkpoint (.pt, .pth, .ckpt) written under out_dir in a 30-epoch run; save G's and D's state_dict after epochs 10, 20, 30"),
    },
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_scores_and_messages(tmp_path, name):
    assert scores(submission(tmp_path, WRONG[name])) == EXPECTED[name]


def test_expected_totals():
    totals = {name: sum(p for p, _ in result.values()) for name, result in EXPECTED.items()}
    assert totals == {
        "saves_at_epoch_0": 4.0,
        "zero_based_epoch_mod_10": 4.0,
        "saves_every_10_batches": 4.0,
        "saves_at_9_19_29": 4.0,
        "fresh_noise_each_time": 8.0,
        "no_checkpoint": 8.0,
    }
