"""The a3 autograder gives the right score and message to right and wrong submissions.

Each submission is the solution notebook with its `train` and `resume` cells replaced, graded by
every check of tests/autograders/test_a3_save_every_10_epochs.py. The honest ones are graded in this
process (`graded_here`; test_the_sandbox_grades_like_this_process shows the sandbox gives a sample
of them the same results); the solution, the student version and the forgeries are run in the
sandboxed worker and graded across the proxy. The probes that watch a run and resume one (reference/grading/probes_a3.py) and
the trusted side's file readers are also tested on their own, in this process.
"""

from __future__ import annotations

import io
import os
import textwrap
import types
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import graded_here, notebook_with_cells
from reference.grading import probes_a3
from reference.grading.checks import run_check
from reference.grading.local import check_module_path, execute_notebook, load_checks, load_module
from reference.grading.runner import grade_notebook
from reference.grading.submission import LocalSubmission

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
    "test_checkpoints_hold_optimizers_and_epoch",
    "test_resume_continues_the_run",
    "test_latest_checkpoint_finds_the_newest_complete_one",
]
LATEST = "test_latest_checkpoint_finds_the_newest_complete_one"  # the one check that does not run train or resume
FULL = {name: points for name, points in zip(CHECKS, (3.0, 2.0, 1.0, 2.0, 2.0, 2.0, 4.0, 3.0))}
OK = {name: (points, "") for name, points in FULL.items()}

# the student's functions: `train` is the given head, a variant's body and the given return; `resume`
# is RESUME (which reads what SAVE writes) unless a variant brings its own
HEAD = "def train(n_epochs: int, out_dir, seed: int = 0):\n    gan = make_gan(seed)\n    out_dir = Path(out_dir)\n"
SAVE = """
def save(tag):
    with torch.no_grad():
        samples = from_model_range(gan.G(fixed_noise), "tanh")
    save_image_grid(samples, out_dir / "samples" / f"epoch_{tag:03d}.png")
    state = {
        "epoch": tag,
        "G": gan.G.state_dict(),
        "D": gan.D.state_dict(),
        "opt_g": gan.opt_g.state_dict(),
        "opt_d": gan.opt_d.state_dict(),
        "fixed_noise": fixed_noise,
        "rng": torch.get_rng_state(),
    }
    torch.save(state, out_dir / f"ckpt_{tag:03d}.pt")

fixed_noise = torch.randn(64, gan.nz)
"""
RESUME = """
def resume(checkpoint, n_epochs, out_dir, seed=0):
    gan = make_gan(seed)
    out_dir = Path(out_dir)
    <SAVE>
    state = torch.load(checkpoint, weights_only=True)
    for key, target in (("G", gan.G), ("D", gan.D), ("opt_g", gan.opt_g), ("opt_d", gan.opt_d)):
        target.load_state_dict(state[key])
    fixed_noise = state["fixed_noise"]
    torch.set_rng_state(state["rng"])
    for epoch in range(state["epoch"] + 1, n_epochs + 1):
        for x in gan.batches.epoch(epoch - 1):
            step(gan, x)
        if epoch % 10 == 0:
            save(epoch)
    return gan.G, gan.D
"""


def without(*keys: str) -> str:
    """SAVE with the checkpoint's entries `keys` left out."""
    return "".join(line for line in SAVE.splitlines(keepends=True) if not any(line.strip().startswith(f'"{k}":') for k in keys))


def with_save(source: str, save: str = SAVE) -> str:
    """`source` (dedented) with <SAVE> replaced by the helper `save` at the placeholder's indentation."""
    lines = []
    for line in textwrap.dedent(source).strip("\n").splitlines():
        if line.strip() == "<SAVE>":
            lines.append(textwrap.indent(save.strip("\n"), line[: len(line) - len(line.lstrip())]))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def submission(tmp_path: Path, body: str, before: str = "", resume: str = RESUME, save: str = SAVE) -> Path:
    """The solution notebook with its `train` cell replaced by `before` (module-level code) and
    `train` with the body `body`, and its `resume` cell by `resume` (<SAVE> stands for the helper
    `save` in all three)."""
    source = with_save(before, save) + "\n\n" if before.strip() else ""
    source += HEAD + textwrap.indent(with_save(body, save), "    ") + "    return gan.G, gan.D\n"
    return cells(tmp_path, source, resume, save)


def cells(tmp_path: Path, train: str, resume: str = RESUME, save: str = SAVE) -> Path:
    """The solution notebook with the sources `train` and `resume` in its `train` and `resume` cells."""
    return notebook_with_cells(SOLUTION, tmp_path, {"train": with_save(train, save), "resume": with_save(resume, save)})


def scores(path: Path, only=None) -> dict[str, tuple[float, str]]:
    """An honest submission's results, graded in this process (by the checks `only`, or all)."""
    return graded_here(path, A, only=only)


def sandboxed(path: Path, only=None) -> dict[str, tuple[float, str]]:
    """The results of `gan-course autograde`: cells in the sandboxed worker, checks across the proxy."""
    return grade_notebook(path, A, ROOT, only=only)


def checks_module():
    return load_module(check_module_path(A, ROOT))


def test_solution_scores_full_marks():
    assert sandboxed(SOLUTION) == OK


def test_unmodified_student_version_scores_zero_everywhere():
    message = "`{}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
    assert sandboxed(STUDENT) == {name: (0.0, message.format("latest_checkpoint" if name == LATEST else "train")) for name in CHECKS}


def cell_sources(path: Path) -> dict[str, str]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "nbgrader" in c.metadata}


def test_an_unanswered_resume_costs_the_resume_check_only(tmp_path):
    path = cells(tmp_path, cell_sources(SOLUTION)["train"], cell_sources(STUDENT)["resume"])
    assert scores(path) == {
        **OK,
        "test_resume_continues_the_run": (0.0, "`resume` is not implemented yet: it raises NotImplementedError (replace that line with your code)"),
    }


def test_checks_run_in_the_students_own_kernel_too():
    """The same checks on a LocalSubmission (the visible checks in a kernel): full marks, the runs'
    folder inside the notebook's folder and removed once read."""
    sub = execute_notebook(SOLUTION)
    try:
        results = {name: run_check(fn, sub) for name, fn in load_checks(A, ROOT).items()}
        assert not (sub.workdir / ".a3-grading").exists()
        assert not list(sub.workdir.glob("a3-check-latest-*"))  # latest_checkpoint's folders, removed too
    finally:
        sub.close()
    assert results == OK


CORRECT = {
    # 1-based loop, a helper that saves both, pathlib and f-strings (the helper the wrong ones share)
    "one_based_helper_pathlib": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
    """,
    # a loss-curve figure saved beside the grids, every epoch: not a grid, and not their schedule
    "loss_curve_every_epoch": """
        import matplotlib.pyplot as plt
        <SAVE>
        losses = []
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                losses.append(step(gan, x))
            if epoch % 10 == 0:
                save(epoch)
            fig, ax = plt.subplots()
            ax.plot([d for d, g in losses], label="loss_d")
            ax.plot([g for d, g in losses], label="loss_g")
            ax.legend()
            out_dir.mkdir(parents=True, exist_ok=True)
            fig.savefig(out_dir / "losses.png")
            plt.close(fig)
    """,
}
CORRECT["normalize_true_stretches_the_grid"] = """
    from torchvision.utils import save_image
    <SAVE>
    for epoch in range(1, n_epochs + 1):
        for x in gan.batches.epoch(epoch - 1):
            step(gan, x)
        if epoch % 10 == 0:
            save(epoch)
            with torch.no_grad():  # the grid stretched by its own minimum and maximum: G's range mapped too
                save_image(gan.G(fixed_noise), out_dir / "samples" / f"epoch_{epoch:03d}.png", nrow=8, normalize=True)
"""
CORRECT_CELLS = {
    # 0-based loops, files named by the 0-based epoch (009, 019, 029), os.path, torchvision's
    # save_image with 16 images per row, the DCGAN example's key names; resume counts from 0 too
    "zero_based_torchvision_os_path": (
        """
        import os
        from torchvision.utils import save_image


        def save_all(gan, noise, epoch, out_dir):
            os.makedirs(os.path.join(out_dir, "grids"), exist_ok=True)
            with torch.no_grad():
                images = gan.G(noise) * 0.5 + 0.5
            save_image(images, os.path.join(out_dir, "grids", "grid-%03d.png" % epoch), nrow=16)
            state = {"epoch": epoch + 1, "netG": gan.G.state_dict(), "netD": gan.D.state_dict(),
                     "optG": gan.opt_g.state_dict(), "optD": gan.opt_d.state_dict(), "noise": noise,
                     "rng_state": torch.get_rng_state()}
            torch.save(state, os.path.join(out_dir, f"model-{epoch}.pth"))


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            noise = torch.randn(64, gan.nz)
            for epoch in range(n_epochs):
                for x in gan.batches.epoch(epoch):
                    step(gan, x)
                if (epoch + 1) % 10 == 0:
                    save_all(gan, noise, epoch, out_dir)
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            state = torch.load(checkpoint, weights_only=True)
            gan.G.load_state_dict(state["netG"])
            gan.D.load_state_dict(state["netD"])
            gan.opt_g.load_state_dict(state["optG"])
            gan.opt_d.load_state_dict(state["optD"])
            torch.set_rng_state(state["rng_state"])
            for epoch in range(state["epoch"], n_epochs):  # 0-based: the index after the saved epochs
                for x in gan.batches.epoch(epoch):
                    step(gan, x)
                if (epoch + 1) % 10 == 0:
                    save_all(gan, state["noise"], epoch, out_dir)
            return gan.G, gan.D
        """,
    ),
    # a while loop, one folder per epoch, the noise re-drawn from one seed at each save (so still
    # fixed, and never saved), everything nested one level deeper
    "folders_and_seeded_noise": (
        """
        def epochs(gan, done, n_epochs, out_dir):
            while done < n_epochs:
                for x in gan.batches.epoch(done):
                    step(gan, x)
                done += 1
                if done % 10 == 0:
                    z = torch.randn(64, gan.nz, generator=torch.Generator().manual_seed(1234))
                    folder = Path(out_dir) / str(done)
                    folder.mkdir(parents=True, exist_ok=True)
                    with torch.no_grad():
                        save_image_grid(from_model_range(gan.G(z), "tanh"), folder / "grid.png")
                    torch.save({
                        "models": {"g": gan.G.state_dict(), "d": gan.D.state_dict()},
                        "optimizers": {"g": gan.opt_g.state_dict(), "d": gan.opt_d.state_dict()},
                        "progress": {"epochs_done": done, "rng": torch.get_rng_state()},
                    }, folder / "state.ckpt")


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            epochs(gan, 0, n_epochs, out_dir)
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            state = torch.load(checkpoint, weights_only=True)
            for net, opt, key in ((gan.G, gan.opt_g, "g"), (gan.D, gan.opt_d, "d")):
                net.load_state_dict(state["models"][key])
                opt.load_state_dict(state["optimizers"][key])
            torch.set_rng_state(state["progress"]["rng"])
            epochs(gan, state["progress"]["epochs_done"], n_epochs, out_dir)
            return gan.G, gan.D
        """,
    ),
    # no RNG state saved: every epoch reseeds torch from the seed and the epoch number, in train and
    # resume alike; torchvision's make_grid drawn with PIL in eval mode; string paths
    "reseeds_every_epoch_make_grid_pil": (
        """
        from PIL import Image
        from torchvision.utils import make_grid


        def run(gan, z, first, n_epochs, out, seed):
            for epoch in range(first, n_epochs + 1):
                torch.manual_seed(seed * 100_003 + epoch)
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % 10:
                    continue
                gan.G.eval()
                with torch.no_grad():
                    grid = make_grid(gan.G(z), nrow=8, normalize=True, value_range=(-1, 1))
                gan.G.train()
                os.makedirs(out, exist_ok=True)
                pixels = (grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8")
                Image.fromarray(pixels).save(out + "/samples_" + str(epoch) + ".png")
                torch.save({"G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_G": gan.opt_g.state_dict(),
                            "opt_D": gan.opt_d.state_dict(), "last_epoch": epoch, "z": z}, out + "/state_" + str(epoch) + ".pt")


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            run(gan, torch.randn(64, gan.nz), 1, n_epochs, str(out_dir), seed)
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            state = torch.load(str(checkpoint), weights_only=True)
            gan.G.load_state_dict(state["G"])
            gan.D.load_state_dict(state["D"])
            gan.opt_g.load_state_dict(state["opt_G"])
            gan.opt_d.load_state_dict(state["opt_D"])
            run(gan, state["z"], state["last_epoch"] + 1, n_epochs, str(out_dir), seed)
            return gan.G, gan.D
        """,
    ),
    # one function saves grid and checkpoint; the grid is a make_grid written by plt.imsave (a PNG
    # of exactly the grid's pixels, tagged by matplotlib); the course's save_checkpoint and
    # load_checkpoint; the fixed noise is not saved: resume draws it as train does, right after
    # make_gan, before it restores the RNG
    "one_function_imsave_course_checkpoints": (
        """
        import matplotlib.pyplot as plt
        from torchvision.utils import make_grid
        from reference.checkpoint import load_checkpoint


        def save_progress(epoch, gan, noise, folder):
            folder.mkdir(parents=True, exist_ok=True)
            with torch.no_grad():
                grid = make_grid(from_model_range(gan.G(noise), "tanh"), nrow=8)
            plt.imsave(folder / f"{epoch:02d}.png", grid.permute(1, 2, 0).clamp(0, 1).numpy())
            save_checkpoint({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
                             "opt_d": gan.opt_d.state_dict(), "rng": torch.get_rng_state()}, folder / f"{epoch:02d}.ckpt")


        def loop(gan, noise, start, n_epochs, out_dir):
            for epoch in range(start, n_epochs):
                for x in gan.batches.epoch(epoch):
                    step(gan, x)
                if epoch % 10 == 9:
                    save_progress(epoch + 1, gan, noise, Path(out_dir) / "progress")


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            loop(gan, torch.randn(64, NZ), 0, n_epochs, out_dir)
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            noise = torch.randn(64, NZ)  # the same draw as train's: make_gan seeded the generator
            state = load_checkpoint(checkpoint)
            gan.G.load_state_dict(state["G"])
            gan.D.load_state_dict(state["D"])
            gan.opt_g.load_state_dict(state["opt_g"])
            gan.opt_d.load_state_dict(state["opt_d"])
            torch.set_rng_state(state["rng"])
            loop(gan, noise, state["epoch"], n_epochs, out_dir)
            return gan.G, gan.D
        """,
    ),
    # fixed noise drawn once at module level from its own generator, G called on 8 rows at a time;
    # train takes an optional checkpoint to resume from, and resume is train with one
    "train_with_a_resume_option": (
        """
        FIXED_NOISE = torch.randn(NUM_SAMPLES, NZ, generator=torch.Generator().manual_seed(7))


        def train(n_epochs, out_dir, seed=0, resume_from=None):
            gan = make_gan(seed)
            out_dir = Path(out_dir)
            done = 0
            if resume_from is not None:
                state = torch.load(resume_from, weights_only=True)
                for name in ("G", "D", "opt_g", "opt_d"):
                    getattr(gan, name).load_state_dict(state[name])
                torch.set_rng_state(state["rng"])
                done = state["epoch"]
            for epoch in range(done + 1, n_epochs + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % SAVE_EVERY == 0:
                    with torch.no_grad():
                        images = torch.cat([gan.G(z) for z in FIXED_NOISE.split(8)])
                    save_image_grid(from_model_range(images, "tanh"), out_dir / "samples" / f"{epoch}.png")
                    state = {name: getattr(gan, name).state_dict() for name in ("G", "D", "opt_g", "opt_d")}
                    save_checkpoint({**state, "epoch": epoch, "rng": torch.get_rng_state()}, out_dir / "checkpoints" / f"{epoch}.pt")
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            return train(n_epochs, out_dir, seed, resume_from=checkpoint)
        """,
    ),
}
# Submissions the grader had not seen, shaped like the tutorials and libraries students copy from
CORRECT["saves_on_the_epochs_last_batch"] = """
    <SAVE>
    for epoch in range(n_epochs):
        for i, x in enumerate(gan.batches.epoch(epoch)):
            step(gan, x)
            if (epoch + 1) % 10 == 0 and i == len(gan.batches) - 1:  # after the epoch's last step
                save(epoch + 1)
"""
CORRECT["saves_on_the_last_batch_counted_from_the_data"] = """
    <SAVE>
    n_batches = gan.batches.data.shape[0] // gan.batches.batch_size  # batches per epoch (found by session 32's red team)
    for epoch in range(n_epochs):
        for i, x in enumerate(gan.batches.epoch(epoch)):
            step(gan, x)
            if (epoch + 1) % 10 == 0 and i == n_batches - 1:
                save(epoch + 1)
"""
# the count of batches taken once, when the cell runs: right, since every run hands out all of TRAIN_DATA, graded or in
# the student's kernel (it scored 4/16 while the runs of 25 and 9 epochs handed out 3 batches and the others 2 of
# TRAIN_DATA's 3, and 0 in the kernel's visible checks, whose runs handed out 2 of the whole set's 22)
STEPS_PER_EPOCH = "N_BATCHES = len(TRAIN_DATA) // BATCH_SIZE  # batches per epoch\nSAVE_EVERY_STEPS = 10 * N_BATCHES\n"
ON_THE_LAST_BATCH = """
    <SAVE>
    for epoch in range(n_epochs):
        for i, x in enumerate(gan.batches.epoch(epoch)):
            step(gan, x)
            if (epoch + 1) % 10 == 0 and i == N_BATCHES - 1:
                save(epoch + 1)
"""
EVERY_SO_MANY_STEPS = """
    <SAVE>
    steps = 0
    for epoch in range(n_epochs):
        for x in gan.batches.epoch(epoch):
            step(gan, x)
            steps += 1
        if steps % SAVE_EVERY_STEPS == 0:
            save(epoch + 1)
"""


@pytest.mark.parametrize("body", [ON_THE_LAST_BATCH, EVERY_SO_MANY_STEPS], ids=["on_the_last_batch", "every_so_many_steps"])
def test_batches_per_epoch_counted_from_train_data_when_the_cell_runs_score_full_marks(tmp_path, body):
    assert scores(submission(tmp_path, body, before=STEPS_PER_EPOCH)) == OK


def test_batches_per_epoch_counted_when_the_cell_runs_pass_the_visible_checks_in_the_students_kernel(tmp_path, monkeypatch):
    """In the student's kernel TRAIN_DATA is the whole set (22 batches of 64): the visible checks' runs hand out all of
    them, so the constant the cell computed fits there too (the runs handed out 2 and told the student to fix it)."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    path = submission(tmp_path, EVERY_SO_MANY_STEPS, before=STEPS_PER_EPOCH)
    sub = execute_notebook(path, grading=False)
    try:
        assert sub.namespace["N_BATCHES"] == 22
        visible = [name for name, fn in load_checks(A, ROOT).items() if getattr(fn, "visible", False)]
        results = {name: run_check(load_checks(A, ROOT)[name], sub) for name in visible}
    finally:
        sub.close()
    assert visible and results == {name: OK[name] for name in visible}


# found by session 34's red team (6/16): a pass over epoch 0's batches that only counts them is no epoch
CORRECT["batches_counted_by_a_pass_over_an_epoch"] = """
    <SAVE>
    steps_per_epoch = len(list(gan.batches.epoch(0)))  # no step: the data of an epoch depends only on its number
    global_step = 0
    for epoch in range(n_epochs):
        for x in gan.batches.epoch(epoch):
            step(gan, x)
            global_step += 1
        if global_step % (10 * steps_per_epoch) == 0:
            save(global_step // steps_per_epoch)
"""
CORRECT["a_first_batch_peeked_at"] = """
    <SAVE>
    x0 = next(iter(gan.batches.epoch(0)))  # the batches' shape, looked at before training
    assert x0.shape[1:] == (1, 28, 28)
    for epoch in range(1, n_epochs + 1):
        for x in gan.batches.epoch(epoch - 1):
            step(gan, x)
        if epoch % 10 == 0:
            save(epoch)
"""
# found by session 34's second red team (6/16 each: a pass over the data that starts inside an epoch was credited with
# the rest of that epoch's steps, and counted as an epoch): steps are credited to the call still handing out batches
CORRECT["batches_counted_by_a_pass_after_the_first_step"] = """
    <SAVE>
    for epoch in range(1, n_epochs + 1):
        for i, x in enumerate(gan.batches.epoch(epoch - 1)):
            loss_d, loss_g = step(gan, x)
            if epoch == 1 and i == 0:
                print(f"first step: loss_d {loss_d:.3f}; {len(list(gan.batches.epoch(0)))} batches per epoch")
        if epoch % 10 == 0:
            save(epoch)
"""
CORRECT["last_batch_found_by_a_pass_in_the_condition"] = """
    <SAVE>
    for epoch in range(n_epochs):
        for i, x in enumerate(gan.batches.epoch(epoch)):
            step(gan, x)
            if i == len(list(gan.batches.epoch(epoch))) - 1 and (epoch + 1) % 10 == 0:
                save(epoch + 1)
"""
CORRECT["d_accuracy_over_the_data_inside_the_batch_loop"] = """
    <SAVE>
    for epoch in range(1, n_epochs + 1):
        for i, x in enumerate(gan.batches.epoch(epoch - 1)):
            step(gan, x)
            if i % 50 == 0:
                with torch.no_grad():
                    accuracy = sum((gan.D(to_model_range(xb, "tanh")) > 0).float().mean().item()
                                   for xb in gan.batches.epoch(epoch - 1)) / len(gan.batches)
        if epoch % 10 == 0:
            save(epoch)
"""
CORRECT["saves_on_the_last_batch_counted_from_train_data"] = """
    <SAVE>
    n_batches = len(TRAIN_DATA) // BATCH_SIZE  # batches per epoch, from the notebook's data
    for epoch in range(n_epochs):
        for i, x in enumerate(gan.batches.epoch(epoch)):
            step(gan, x)
            if (epoch + 1) % 10 == 0 and i == n_batches - 1:
                save(epoch + 1)
"""
# found by session 33's red team (12/16 when resume was given its checkpoint alone in another folder): checkpoints in
# out_dir/checkpoints/, the fixed noise saved once in the run's folder and read by resume relative to the checkpoint
CORRECT_CELLS["fixed_noise_in_the_run_folder_found_from_the_checkpoint"] = (
    """
    def train_epochs(gan, fixed_noise, first, last, out_dir):
        out_dir = Path(out_dir)
        for epoch in range(first, last + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % SAVE_EVERY == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / "samples" / f"epoch_{epoch:03d}.png")
                (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
                torch.save({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
                            "opt_d": gan.opt_d.state_dict(), "rng": torch.get_rng_state()}, out_dir / "checkpoints" / f"epoch_{epoch:03d}.pt")


    def train(n_epochs, out_dir, seed=0):
        gan = make_gan(seed)
        out_dir = Path(out_dir)
        fixed_noise = torch.randn(NUM_SAMPLES, gan.nz)
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(fixed_noise, out_dir / "fixed_noise.pt")  # once per run, beside checkpoints/ and samples/
        train_epochs(gan, fixed_noise, 1, n_epochs, out_dir)
        return gan.G, gan.D
    """,
    """
    def resume(checkpoint, n_epochs, out_dir, seed=0):
        gan = make_gan(seed)
        checkpoint = Path(checkpoint)
        state = torch.load(checkpoint, weights_only=True)
        fixed_noise = torch.load(checkpoint.parent.parent / "fixed_noise.pt", weights_only=True)  # <run>/checkpoints/x.pt
        for key, target in (("G", gan.G), ("D", gan.D), ("opt_g", gan.opt_g), ("opt_d", gan.opt_d)):
            target.load_state_dict(state[key])
        torch.set_rng_state(state["rng"])
        train_epochs(gan, fixed_noise, state["epoch"] + 1, n_epochs, out_dir)
        return gan.G, gan.D
    """,
)
CORRECT_CELLS.update({
    # the fixed noise kept as a buffer of G (so G's state_dict carries it), the grid written with plt.imsave in gray:
    # G's saved state_dict holds one entry more than a fresh G's, which resume registers again before loading
    "fixed_noise_as_a_buffer_of_g": (
        """
        import matplotlib.pyplot as plt
        from torchvision.utils import make_grid

        def train_epochs(gan, fixed_noise, first, last, out_dir):
            if not hasattr(gan.G, "fixed_noise"):
                gan.G.register_buffer("fixed_noise", fixed_noise.clone())  # the fixed noise travels in G's state_dict
            for epoch in range(first, last + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % SAVE_EVERY:
                    continue
                with torch.no_grad():
                    grid = make_grid(from_model_range(gan.G(gan.G.fixed_noise), "tanh"), nrow=8)
                out_dir.mkdir(parents=True, exist_ok=True)
                plt.imsave(out_dir / f"grid_{epoch}.png", grid[0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
                save_checkpoint({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(),
                                 "opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict(),
                                 "rng": torch.get_rng_state()}, out_dir / f"state_{epoch}.ckpt")


        def train(n_epochs: int, out_dir, seed: int = 0):
            gan = make_gan(seed)
            out_dir = Path(out_dir)
            fixed_noise = torch.randn(NUM_SAMPLES, gan.nz)
            train_epochs(gan, fixed_noise, 1, n_epochs, out_dir)
            return gan.G, gan.D
        """,
        """
        from reference.checkpoint import load_checkpoint

        def resume(checkpoint, n_epochs: int, out_dir, seed: int = 0):
            gan = make_gan(seed)
            out_dir = Path(out_dir)
            s = load_checkpoint(checkpoint)
            gan.G.register_buffer("fixed_noise", s["G"]["fixed_noise"].clone())
            gan.G.load_state_dict(s["G"]); gan.D.load_state_dict(s["D"])
            gan.opt_g.load_state_dict(s["opt_g"]); gan.opt_d.load_state_dict(s["opt_d"])
            torch.set_rng_state(s["rng"])
            train_epochs(gan, gan.G.fixed_noise, s["epoch"] + 1, n_epochs, out_dir)
            return gan.G, gan.D
        """,
    ),
    # the PyTorch DCGAN tutorial's loop: netG/optimizerG names, `iters`, losses kept in lists, the grid and
    # the checkpoint saved inside the batch loop on the epoch's last batch (after its step), vutils with
    # normalize=True, os.path under a string out_dir
    "dcgan_tutorial_saves_on_the_last_batch": (
        """
        import torchvision.utils as vutils


        def fit(gan, fixed_noise, start_epoch, num_epochs, out_dir):
            netG, netD, optimizerG, optimizerD = gan.G, gan.D, gan.opt_g, gan.opt_d
            G_losses, D_losses, iters = [], [], 0
            for epoch in range(start_epoch, num_epochs):
                for i, data in enumerate(gan.batches.epoch(epoch), 0):
                    errD, errG = step(gan, data)
                    G_losses.append(errG)
                    D_losses.append(errD)
                    if (epoch + 1) % 10 == 0 and i == len(gan.batches) - 1:
                        with torch.no_grad():
                            fake = netG(fixed_noise).detach().cpu()
                        os.makedirs(out_dir, exist_ok=True)
                        vutils.save_image(fake, os.path.join(out_dir, "fake_samples_epoch_%03d.png" % (epoch + 1)), normalize=True)
                        torch.save({"epoch": epoch + 1, "netG": netG.state_dict(), "netD": netD.state_dict(),
                                    "optimizerG": optimizerG.state_dict(), "optimizerD": optimizerD.state_dict(),
                                    "fixed_noise": fixed_noise, "rng_state": torch.get_rng_state()},
                                   os.path.join(out_dir, "netG_epoch_%d.pth" % (epoch + 1)))
                    iters += 1


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            fit(gan, torch.randn(64, gan.nz), 0, n_epochs, str(out_dir))
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            ckpt = torch.load(checkpoint)
            gan.G.load_state_dict(ckpt["netG"])
            gan.D.load_state_dict(ckpt["netD"])
            gan.opt_g.load_state_dict(ckpt["optimizerG"])
            gan.opt_d.load_state_dict(ckpt["optimizerD"])
            torch.set_rng_state(ckpt["rng_state"])
            fit(gan, ckpt["fixed_noise"], ckpt["epoch"], n_epochs, str(out_dir))
            return gan.G, gan.D
        """,
    ),
    # a Lightning-style checkpoint: one "state_dict" of both networks, keys prefixed "generator." and
    # "discriminator.", the optimizers in "optimizer_states", hyperparameters with a tuple; .ckpt files
    # named epoch=10-step=20.ckpt
    "lightning_style_checkpoint": (
        """
        def lightning_checkpoint(gan, epoch, fixed_noise):
            return {
                "epoch": epoch,
                "global_step": epoch * len(gan.batches),
                "pytorch-lightning_version": "2.4.0",
                "state_dict": {**{f"generator.{k}": v for k, v in gan.G.state_dict().items()},
                               **{f"discriminator.{k}": v for k, v in gan.D.state_dict().items()}},
                "optimizer_states": [gan.opt_g.state_dict(), gan.opt_d.state_dict()],
                "lr_schedulers": [],
                "hyper_parameters": {"nz": gan.nz, "lr": LR, "betas": (0.5, 0.999)},
                "callbacks": {"SampleGrid": {"fixed_noise": fixed_noise}, "RNG": {"torch": torch.get_rng_state()}},
            }


        def fit(gan, fixed_noise, first, n_epochs, out_dir):
            for epoch in range(first, n_epochs + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % 10 == 0:
                    with torch.no_grad():
                        save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / "samples" / f"epoch={epoch}.png")
                    steps = epoch * len(gan.batches)
                    save_checkpoint(lightning_checkpoint(gan, epoch, fixed_noise), out_dir / "checkpoints" / f"epoch={epoch}-step={steps}.ckpt")


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            fit(gan, torch.randn(64, gan.nz), 1, n_epochs, Path(out_dir))
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            ckpt = torch.load(checkpoint, weights_only=True)
            for net, prefix in ((gan.G, "generator."), (gan.D, "discriminator.")):
                net.load_state_dict({k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)})
            gan.opt_g.load_state_dict(ckpt["optimizer_states"][0])
            gan.opt_d.load_state_dict(ckpt["optimizer_states"][1])
            torch.set_rng_state(ckpt["callbacks"]["RNG"]["torch"])
            fit(gan, ckpt["callbacks"]["SampleGrid"]["fixed_noise"], ckpt["epoch"] + 1, n_epochs, Path(out_dir))
            return gan.G, gan.D
        """,
    ),
    # the fixed noise saved once, before training, in a file of its own that resume reloads; the
    # checkpoints hold the rest
    "fixed_noise_in_a_file_of_its_own": (
        """
        def fit(gan, fixed_noise, first, n_epochs, out_dir):
            for epoch in range(first, n_epochs + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % 10 == 0:
                    with torch.no_grad():
                        save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / f"grid_{epoch:03d}.png")
                    state = {name: getattr(gan, name).state_dict() for name in ("G", "D", "opt_g", "opt_d")}
                    torch.save({**state, "epoch": epoch, "rng": torch.get_rng_state()}, out_dir / f"ckpt_{epoch:03d}.pt")


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            fixed_noise = torch.randn(64, gan.nz)
            torch.save(fixed_noise, out_dir / "fixed_noise.pt")
            fit(gan, fixed_noise, 1, n_epochs, out_dir)
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            state = torch.load(checkpoint, weights_only=True)
            fixed_noise = torch.load(Path(checkpoint).with_name("fixed_noise.pt"), weights_only=True)
            for name in ("G", "D", "opt_g", "opt_d"):
                getattr(gan, name).load_state_dict(state[name])
            torch.set_rng_state(state["rng"])
            fit(gan, fixed_noise, state["epoch"] + 1, n_epochs, Path(out_dir))
            return gan.G, gan.D
        """,
    ),
    # the fixed noise saved beside each checkpoint, in a file whose name sorts before the checkpoint's
    "noise_file_beside_each_checkpoint": (
        """
        def fit(gan, fixed_noise, first, n_epochs, out_dir):
            for epoch in range(first, n_epochs + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % 10 == 0:
                    out_dir.mkdir(parents=True, exist_ok=True)
                    with torch.no_grad():
                        save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / f"samples_{epoch:03d}.png")
                    torch.save(fixed_noise, out_dir / f"fixed_noise_{epoch:03d}.pt")
                    state = {name: getattr(gan, name).state_dict() for name in ("G", "D", "opt_g", "opt_d")}
                    torch.save({**state, "epoch": epoch, "rng": torch.get_rng_state()}, out_dir / f"model_{epoch:03d}.pt")


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            fit(gan, torch.randn(64, gan.nz), 1, n_epochs, Path(out_dir))
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            state = torch.load(checkpoint, weights_only=True)
            fixed_noise = torch.load(Path(checkpoint).with_name(f"fixed_noise_{state['epoch']:03d}.pt"), weights_only=True)
            for name in ("G", "D", "opt_g", "opt_d"):
                getattr(gan, name).load_state_dict(state[name])
            torch.set_rng_state(state["rng"])
            fit(gan, fixed_noise, state["epoch"] + 1, n_epochs, Path(out_dir))
            return gan.G, gan.D
        """,
    ),
    # one folder per save holding a file per network, one of both optimizers and one of the epoch, the fixed
    # noise and the RNG state (no weights: data beside the checkpoints, yet part of the save); resume reads
    # the folder of the file it is given; the grid written with torchvision.io.write_png from a uint8 make_grid
    "a_file_per_network_in_a_folder_per_save": (
        """
        from torchvision.io import write_png
        from torchvision.utils import make_grid


        def fit(gan, fixed_noise, first, n_epochs, out_dir):
            for epoch in range(first, n_epochs + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % 10 == 0:
                    folder = out_dir / f"epoch_{epoch}"
                    folder.mkdir(parents=True, exist_ok=True)
                    with torch.no_grad():
                        grid = make_grid(gan.G(fixed_noise), nrow=8, normalize=True, value_range=(-1, 1))
                    write_png((grid * 255).round().to(torch.uint8), str(folder / "samples.png"))
                    torch.save(gan.G.state_dict(), folder / "G.pt")
                    torch.save(gan.D.state_dict(), folder / "D.pt")
                    torch.save({"opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict()}, folder / "optimizers.pt")
                    torch.save({"epoch": epoch, "fixed_noise": fixed_noise, "rng": torch.get_rng_state()}, folder / "progress.pt")


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            fit(gan, torch.randn(64, gan.nz), 1, n_epochs, Path(out_dir))
            return gan.G, gan.D
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            folder = Path(checkpoint).parent
            gan.G.load_state_dict(torch.load(folder / "G.pt", weights_only=True))
            gan.D.load_state_dict(torch.load(folder / "D.pt", weights_only=True))
            optimizers = torch.load(folder / "optimizers.pt", weights_only=True)
            gan.opt_g.load_state_dict(optimizers["opt_g"])
            gan.opt_d.load_state_dict(optimizers["opt_d"])
            state = torch.load(folder / "progress.pt", weights_only=True)
            torch.set_rng_state(state["rng"])
            fit(gan, state["fixed_noise"], state["epoch"] + 1, n_epochs, Path(out_dir))
            return gan.G, gan.D
        """,
    ),
})
# found by a red team (12/16: "calling `resume` raised AttributeError: 'str' object has no attribute 'parent'"): resume
# uses Path methods on its checkpoint argument, a Path in the notebook's own try_resume cell (`newest`), which the grader
# gave as a str; it gives a Path now, as that cell does
CORRECT_CELLS["resume_takes_its_checkpoint_as_the_notebook_passes_it"] = (
    """
    def fit(gan, fixed_noise, first, n_epochs, out_dir):
        for epoch in range(first, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / "samples" / f"epoch_{epoch:03d}.png")
                (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
                torch.save({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
                            "opt_d": gan.opt_d.state_dict(), "rng": torch.get_rng_state()}, out_dir / "checkpoints" / f"epoch_{epoch:03d}.pt")


    def train(n_epochs, out_dir, seed=0):
        gan = make_gan(seed)
        out_dir = Path(out_dir)
        fixed_noise = torch.randn(64, gan.nz)
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(fixed_noise, out_dir / "fixed_noise.pt")
        fit(gan, fixed_noise, 1, n_epochs, out_dir)
        return gan.G, gan.D
    """,
    """
    def resume(checkpoint, n_epochs, out_dir, seed=0):
        gan = make_gan(seed)
        out_dir = Path(out_dir)
        state = torch.load(checkpoint, weights_only=True)
        fixed_noise = torch.load(checkpoint.parent.parent / "fixed_noise.pt", weights_only=True)  # <run>/checkpoints/x.pt
        for name in ("G", "D", "opt_g", "opt_d"):
            getattr(gan, name).load_state_dict(state[name])
        torch.set_rng_state(state["rng"])
        fit(gan, fixed_noise, state["epoch"] + 1, n_epochs, out_dir)
        return gan.G, gan.D
    """,
)
# found by a red team (12/16: "calling `train` raised FileNotFoundError ...; the grader gives resume a copy of
# train's checkpoint in another folder"): train makes its out_dir one level deep, as os.mkdir(out_dir) does, whose parent
# exists wherever a student calls it; the resume check's runs had no parent folder
CORRECT["run_folder_made_without_parents"] = """
    out_dir.mkdir(exist_ok=True)
    <SAVE>
    for epoch in range(1, n_epochs + 1):
        for x in gan.batches.epoch(epoch - 1):
            step(gan, x)
        if epoch % 10 == 0:
            save(epoch)
"""
# the losses written to losses.pt after every epoch: a file of numbers, no checkpoint, whatever its suffix
CORRECT["losses_file_every_epoch"] = """
    <SAVE>
    losses = []
    for epoch in range(1, n_epochs + 1):
        for x in gan.batches.epoch(epoch - 1):
            losses.append(step(gan, x))
        if epoch % 10 == 0:
            save(epoch)
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save({"loss_d": torch.tensor([d for d, _ in losses]), "loss_g": torch.tensor([g for _, g in losses])}, out_dir / "losses.pt")
"""


@pytest.mark.parametrize(
    "resumed, told",
    [
        (list(range(10, 20)), None),  # epochs 11..20 (0-based batches 10..19): exact
        (list(range(10, 30)), "resume(checkpoint, 20, ...) trained epochs 11, 12, 13, 14, 15, 16, 17, ..., 30, more than the 20 "
                              "of the whole run: n_epochs is the length of the whole run, not the epochs to add; train epochs 11 to n_epochs"),
        (list(range(10, 15)), "resume(checkpoint, 20, ...) trained epochs 11, 12, 13, 14, 15, fewer than the 20 of the whole run: "
                              "n_epochs is the length of the whole run, not the epochs to add; train epochs 11 to n_epochs"),
        (list(range(9, 20)), "resume trained epochs 10, 11, 12, 13, 14, 15, 16, ..., 20: it repeated epoch 10, which the checkpoint "
                             "saved after epoch 10 already holds; continue with epoch 11, the one after the saved epoch"),
        # range(first, n_epochs) in a 1-based loop: every epoch but the last
        (list(range(10, 19)), "resume(checkpoint, 20, ...) trained epochs 11, 12, 13, 14, 15, 16, 17, ..., 19 and stopped before epoch 20, "
                              "the last: train epochs 11 to n_epochs, n_epochs included (`range(first, n_epochs + 1)` when counting from 1)"),
        # a 1-based loop from the saved epoch, range(saved, n_epochs): each epoch one early
        (list(range(9, 19)), "resume trained epochs 10, 11, 12, 13, 14, 15, 16, ..., 19: it repeated epoch 10, which the checkpoint "
                             "saved after epoch 10 already holds, and never trained epoch 20; continue with epoch 11, the one after "
                             "the saved epoch, up to n_epochs"),
        # a 1-based loop passing gan.batches.epoch(epoch), not epoch - 1: each epoch one late
        (list(range(11, 21)), "resume trained epochs 12, 13, 14, 15, 16, 17, 18, ..., 21 (by the batches it drew): each one epoch later "
                              "than an uninterrupted run; train gives the k-th epoch (counted from 1) the batches of "
                              "gan.batches.epoch(k - 1): pass the numbers train passes"),
        # a 0-based loop from the epochs done plus one, range(saved + 1, n_epochs): epoch 11 skipped
        (list(range(11, 20)), "resume trained epochs 12, 13, 14, 15, 16, 17, 18, ..., 20: it skipped epoch 11, the one after the "
                              "saved epoch 10; the checkpoint holds the 10 epochs done, so continue with epoch 11 (`range(10, "
                              "n_epochs)` when counting from 0)"),
        # the epochs left counted anew, range(1, n_epochs - done + 1): the batches of epochs 1 to 10 again
        (list(range(0, 10)), "resume trained epochs 1, 2, 3, 4, 5, 6, 7, ..., 10 again (by the batches it drew) after the "
                             "checkpoint saved after epoch 10: it counted the 10 epochs left from 1 instead of going on from "
                             "the checkpoint's epoch; train epochs 11 to n_epochs, numbered as train numbers them (the "
                             "checkpoint's epoch + 1 first)"),
    ],
    ids=["exact", "n_epochs_more", "stops_early", "repeats_the_saved_epoch", "stops_one_short", "one_early", "one_late", "skips_the_next",
         "counts_anew_from_1"],
)
def test_resumed_epochs_are_told_by_what_went_wrong(resumed, told):
    """resume given n_epochs = 20 after a checkpoint of epoch 10: a resume that adds n_epochs to the saved
    epoch (or stops early) is told that n_epochs is the whole run's length."""
    assert checks_module().resumed_epochs_error(list(range(20)), resumed, 10) == told


def test_one_checkpoint_file_rewritten_at_every_save_scores_full_marks(tmp_path):
    """`last.pt`, written after epochs 10, 20 and 30 and read after the run, is judged at its last save
    (epoch 30), not at its first."""
    last = SAVE.replace('f"ckpt_{tag:03d}.pt"', '"last.pt"')
    assert last != SAVE
    assert scores(submission(tmp_path, ONE_BASED, save=last)) == OK


PRUNED = SAVE.replace(
    '    torch.save(state, out_dir / f"ckpt_{tag:03d}.pt")\n',
    '    torch.save(state, out_dir / f"ckpt_{tag:03d}.pt")\n'
    '    for old in sorted(out_dir.glob("ckpt_*.pt"))[:-2]:  # keep the two newest checkpoints\n'
    '        old.unlink()\n',
)


def test_a_run_that_deletes_its_older_checkpoints_is_judged_by_those_it_keeps(tmp_path):
    """ckpt_010.pt, written after epoch 10 and deleted after epoch 30 by the run itself (only the two newest kept),
    counts for the schedule and is not read: it was once reported as a file that "could not be read (No such file or
    directory); save it as a plain file", 4 points lost."""
    assert PRUNED != SAVE
    assert scores(submission(tmp_path, ONE_BASED, save=PRUNED)) == OK


def test_a_run_that_deletes_all_its_checkpoints_is_told_so(tmp_path):
    gone = ONE_BASED + '    for old in out_dir.glob("ckpt_*.pt"):  # after the run\n        old.unlink()\n'
    deleted = ("the 30-epoch run wrote checkpoints (`ckpt_010.pt`, `ckpt_020.pt`) and deleted them all before it ended, so "
               "none is left to resume from; keep at least the newest checkpoint")
    result = scores(submission(tmp_path, gone))
    assert {name: result[name] for name in ("test_checkpoints_hold_g_and_d", "test_checkpoints_hold_optimizers_and_epoch")} == {
        "test_checkpoints_hold_g_and_d": (0.0, deleted), "test_checkpoints_hold_optimizers_and_epoch": (0.0, deleted)}


@pytest.mark.parametrize("name", list(CORRECT) + list(CORRECT_CELLS))
def test_correct_variants_score_full_marks(tmp_path, name):
    path = submission(tmp_path, CORRECT[name]) if name in CORRECT else cells(tmp_path, *CORRECT_CELLS[name])
    assert scores(path) == OK


FIGURE = """
import matplotlib.pyplot as plt
from torchvision.utils import make_grid
fixed_noise = torch.randn(64, gan.nz)
for epoch in range(1, n_epochs + 1):
    for x in gan.batches.epoch(epoch - 1):
        step(gan, x)
    if epoch % 10 == 0:
        with torch.no_grad():
            grid = make_grid(gan.G(fixed_noise), nrow=8, normalize=True)
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.imshow(grid.permute(1, 2, 0))
        ax.set_title(f"epoch {epoch}")
        ax.axis("off")
        out_dir.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_dir / f"epoch_{epoch}.SUFFIX")
        plt.close(fig)
        state = {"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
                 "opt_d": gan.opt_d.state_dict(), "fixed_noise": fixed_noise, "rng": torch.get_rng_state()}
        torch.save(state, out_dir / f"epoch_{epoch}.pt")
"""

UNMAPPED = """
        from PIL import Image
        from torchvision.utils import make_grid, save_image
        fixed_noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                (out_dir / "samples").mkdir(parents=True, exist_ok=True)
                with torch.no_grad():
                    SAVE_GRID
                state = {name: getattr(gan, name).state_dict() for name in ("G", "D", "opt_g", "opt_d")}
                torch.save({**state, "epoch": epoch, "fixed_noise": fixed_noise, "rng": torch.get_rng_state()}, out_dir / f"{epoch}.pt")
"""
CLIPPED = (
    "`10.png` shows G's images with every negative value black: G's tanh gives [-1, 1] and the grid was saved without "
    "mapping it to [0, 1], so its negative values were clipped to black; save (x + 1) / 2 (from_model_range(x, \"tanh\")) "
    "or save_image(x, path, normalize=True, value_range=(-1, 1))"
)

SAME_SHUFFLE = """
    <SAVE>
    for epoch in range(1, n_epochs + 1):
        for x in gan.batches.epoch(0):
            step(gan, x)
        if epoch % 10 == 0:
            save(epoch)
"""


def same_shuffle(n: int) -> str:
    return (f"train({n}, ...) passed gan.batches.epoch the same number (0) in all of its {n} epochs, so they trained on the "
            f"same shuffle of the data: give the k-th epoch gan.batches.epoch(k - 1), its own number, as the given loop does")


SAME_SHUFFLE_SCHEDULE = {
    "test_saves_at_epochs_10_20_30": (0.0, same_shuffle(30)),
    "test_saves_for_25_and_9_epochs": (0.0, f"{same_shuffle(25)}; {same_shuffle(9)}"),
}
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
    # a break left in the batch loop: one batch an epoch, in train and resume alike, so the resumed run matches
    # (found by session 34's second red team: 16/16)
    "break_after_the_first_batch": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
                break
            if epoch % 10 == 0:
                save(epoch)
    """,
    # every epoch on the first epoch's shuffle (gan.batches.epoch(0)): resume, written as the given loop, draws others
    "same_shuffle_every_epoch": SAME_SHUFFLE,
    # the loop forgets step(gan, x): it saves on schedule, but trains nothing
    "never_steps": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                pass
            if epoch % 10 == 0:
                save(epoch)
    """,
    # found by session 34's red team (16/16 while the grading data was whole batches): batches per epoch counted with the
    # last partial batch, which gan.batches drops (23 for the whole set's 22): its saves land inside epochs, or nowhere
    "steps_per_epoch_rounded_up": """
        import math
        <SAVE>
        steps_per_epoch = math.ceil(len(TRAIN_DATA) / BATCH_SIZE)
        global_step = 0
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
                global_step += 1
                if global_step % (10 * steps_per_epoch) == 0:
                    save(global_step // steps_per_epoch)
    """,
    "steps_per_epoch_as_a_float": """
        <SAVE>
        steps_per_epoch = len(TRAIN_DATA) / BATCH_SIZE
        global_step = 0
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
                global_step += 1
            if global_step % (10 * steps_per_epoch) == 0:
                save(epoch + 1)
    """,
    "images_seen_against_ten_times_the_data": """
        <SAVE>
        seen = 0
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
                seen += x.shape[0]
            if seen % (10 * len(TRAIN_DATA)) == 0:
                save(epoch + 1)
    """,
    # a save every 220 steps, the count of 10 epochs of the whole digits set (22 batches of 64) written as a number:
    # right in the student's own run, never at grade time (its data is the notebook's 2 grading batches)
    "saves_every_220_steps_counted_for_the_full_data": """
        <SAVE>
        steps = 0
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
                steps += 1
                if steps % 220 == 0:
                    save(epoch + 1)
    """,
    # the save on the epoch's last batch, before that batch's step: G and D change after the files are written
    "saves_on_the_last_batch_before_its_step": """
        <SAVE>
        for epoch in range(n_epochs):
            for i, x in enumerate(gan.batches.epoch(epoch)):
                if (epoch + 1) % 10 == 0 and i == len(gan.batches) - 1:
                    save(epoch + 1)
                step(gan, x)
    """,
    "saves_at_9_19_29": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 9:
                save(epoch)
    """,
    "one_epoch_short": """
        <SAVE>
        for epoch in range(1, n_epochs):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
    """,
    "saves_only_at_the_end": """
        <SAVE>
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
        save(n_epochs)
    """,
    "final_save_after_the_loop": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
        save(n_epochs)  # the final model
    """,
    "checkpoint_every_epoch": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
            out_dir.mkdir(parents=True, exist_ok=True)
            torch.save({"G": gan.G.state_dict(), "D": gan.D.state_dict()}, out_dir / "last.pt")
    """,
    "fresh_noise_each_time": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                fixed_noise = torch.randn(64, gan.nz)
                save(epoch)
    """,
    "figure_with_title": FIGURE.replace("SUFFIX", "png"),
    "figure_as_pdf": FIGURE.replace("SUFFIX", "pdf"),
    "grid_of_16_samples": """
        <SAVE>
        fixed_noise = torch.randn(16, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
    """,
    "no_checkpoint": """
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(noise), "tanh"), out_dir / f"{epoch}.png")
    """,
    "whole_modules_pickled": """
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(noise), "tanh"), out_dir / f"{epoch}.png")
                torch.save({"netG": gan.G, "netD": gan.D}, out_dir / f"model-{epoch}.pth")
    """,
    "checkpoint_of_g_only": """
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(noise), "tanh"), out_dir / f"{epoch}.png")
                torch.save({"epoch": epoch, "G": gan.G.state_dict()}, out_dir / f"{epoch}.pt")
    """,
    "batches_pickled": """
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(noise), "tanh"), out_dir / f"{epoch}.png")
                state = {name: getattr(gan, name).state_dict() for name in ("G", "D", "opt_g", "opt_d")}
                torch.save({**state, "epoch": epoch, "fixed_noise": noise, "rng": torch.get_rng_state(), "batches": gan.batches}, out_dir / f"{epoch}.pt")
    """,
    "pickle_dump_checkpoint": """
        import pickle
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(noise), "tanh"), out_dir / f"{epoch}.png")
                with open(out_dir / f"{epoch}.pkl", "wb") as f:
                    pickle.dump({"G": gan.G.state_dict(), "D": gan.D.state_dict()}, f)
    """,
    # the fixed noise drawn at each save by reseeding torch's global generator: the grids match, but
    # epochs 11-20 replay the random numbers of epochs 21-30
    "reseeds_torch_at_each_save": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                torch.manual_seed(1234)
                fixed_noise = torch.randn(64, gan.nz)
                save(epoch)
    """,
    # the optimizers themselves in the checkpoint, not their state_dicts
    "optimizers_pickled": """
        <SAVE>
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
                torch.save({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g, "opt_d": gan.opt_d},
                           out_dir / f"ckpt_{epoch:03d}.pt")
    """,
    # saves at the top of the loop, before the epoch's batches, once 10 epochs are done: never after the last
    "saves_at_the_start_of_the_next_epoch": """
        <SAVE>
        for epoch in range(n_epochs):
            if epoch > 0 and epoch % 10 == 0:
                save(epoch)
            for x in gan.batches.epoch(epoch):
                step(gan, x)
    """,
    # the epochs hard-coded: every run trains 30 epochs, whatever n_epochs is
    "hard_coded_30_epochs": """
        <SAVE>
        for epoch in range(1, 31):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save(epoch)
    """,
    # G's tanh range saved as it is: save_image clips every negative value to black
    "grid_not_mapped": UNMAPPED.replace("SAVE_GRID", 'save_image(gan.G(fixed_noise), out_dir / "samples" / f"{epoch}.png")'),
    # value_range without normalize=True does nothing: the same clipped grid
    "value_range_without_normalize": UNMAPPED.replace(
        "SAVE_GRID", 'save_image(gan.G(fixed_noise), out_dir / "samples" / f"{epoch}.png", value_range=(-1, 1))'),
    # make_grid, then PIL from x * 255 without (x + 1) / 2: astype("uint8") wraps the negative values around
    "pil_without_mapping": UNMAPPED.replace("SAVE_GRID", """grid = make_grid(gan.G(fixed_noise), nrow=8)
                pixels = (grid.permute(1, 2, 0).numpy() * 255).astype("uint8")
                Image.fromarray(pixels).save(out_dir / "samples" / f"{epoch}.png")"""),
    "save_image_to_the_folder": """
        from torchvision.utils import save_image
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                save_image(gan.G(noise) * 0.5 + 0.5, out_dir)
    """,
}

ONE_BASED = """
    <SAVE>
    for epoch in range(1, n_epochs + 1):
        for x in gan.batches.epoch(epoch - 1):
            step(gan, x)
        if epoch % 10 == 0:
            save(epoch)
"""
LOAD_ALL = """    for key, target in (("G", gan.G), ("D", gan.D), ("opt_g", gan.opt_g), ("opt_d", gan.opt_d)):
        target.load_state_dict(state[key])
"""
LOOP = "for epoch in range(state[\"epoch\"] + 1, n_epochs + 1):"
RESTORE = '    fixed_noise = state["fixed_noise"]\n    torch.set_rng_state(state["rng"])\n'
SAVES = "        if epoch % 10 == 0:\n            save(epoch)\n"
for part in (LOAD_ALL, LOOP, RESTORE, SAVES):
    assert RESUME.count(part) == 1, part
# realistic faults of the checkpoint and of resume: {name: (train's body, resume, the save helper)}
WRONG_RESUMES = {
    # the same shuffle every epoch in train and resume alike: the resumed run matches, the schedule checks tell it (16/16
    # before: found by session 34's red team)
    "same_shuffle_every_epoch_in_resume_too": (SAME_SHUFFLE, RESUME.replace("gan.batches.epoch(epoch - 1)", "gan.batches.epoch(0)"), SAVE),
    "optimizer_states_not_saved": (ONE_BASED, RESUME.replace(LOAD_ALL, LOAD_ALL.replace(', ("opt_g", gan.opt_g), ("opt_d", gan.opt_d)', "")), without("opt_g", "opt_d")),
    "epoch_not_saved": (ONE_BASED, RESUME.replace(LOOP, LOOP.replace('state["epoch"]', 'state.get("epoch", 0)')), without("epoch")),
    "resumes_at_the_saved_epoch": (ONE_BASED, RESUME.replace(LOOP, LOOP.replace(' + 1, n_epochs', ", n_epochs")), SAVE),
    "recreates_the_optimizers": (ONE_BASED, RESUME.replace(LOAD_ALL, """    gan.G.load_state_dict(state["G"])
    gan.D.load_state_dict(state["D"])
    gan.opt_g = torch.optim.Adam(gan.G.parameters(), lr=LR, betas=(0.5, 0.999))
    gan.opt_d = torch.optim.Adam(gan.D.parameters(), lr=LR, betas=(0.5, 0.999))
"""), SAVE),
    # the epoch saved as text ("010"), read back with int() by resume
    "epoch_saved_as_text": (ONE_BASED, RESUME.replace(LOOP, LOOP.replace('state["epoch"]', 'int(state["epoch"])')),
                            SAVE.replace('"epoch": tag,', '"epoch": f"{tag:03d}",')),
    # new networks loaded from the checkpoint in place of make_gan's, whose optimizers go on stepping the old ones
    "new_networks_under_the_old_optimizers": (ONE_BASED, RESUME.replace(LOAD_ALL, """    G, D = copy.deepcopy(gan.G), copy.deepcopy(gan.D)
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    gan.G, gan.D = G, D
    gan.opt_g.load_state_dict(state["opt_g"])
    gan.opt_d.load_state_dict(state["opt_d"])
""").replace("def resume(", "import copy\n\ndef resume("), SAVE),
    # a 0-based loop that saves its counter (9 after the 10th epoch), read consistently by resume
    "saves_the_zero_based_epoch": (
        """
        <SAVE>
        for epoch in range(n_epochs):
            for x in gan.batches.epoch(epoch):
                step(gan, x)
            if (epoch + 1) % 10 == 0:
                save(epoch)
        """,
        RESUME.replace(LOOP + "\n        for x in gan.batches.epoch(epoch - 1):", 'for epoch in range(state["epoch"] + 1, n_epochs):\n        for x in gan.batches.epoch(epoch):')
        .replace(SAVES, "        if (epoch + 1) % 10 == 0:\n            save(epoch)\n"),
        SAVE,
    ),
    "rng_not_restored": (ONE_BASED, RESUME.replace(RESTORE, '    fixed_noise = state["fixed_noise"]\n'), SAVE),
    "noise_drawn_after_restoring_the_rng": (ONE_BASED, RESUME.replace(RESTORE, '    torch.set_rng_state(state["rng"])\n    fixed_noise = torch.randn(64, gan.nz)\n'), SAVE),
    "resume_saves_nothing": (ONE_BASED, RESUME.replace(SAVES, ""), SAVE),
    # found by session 32's red team: resume's own saves hold only the weights and the epoch (no run could be resumed
    # from them), and a "next_epoch" beside "epoch" with a resume that saves nothing (its epoch_010 counted as epoch 11)
    "resume_saves_weights_only": (ONE_BASED, RESUME.replace(SAVES, SAVES + (
        '            torch.save({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict()}, out_dir / f"ckpt_{epoch:03d}.pt")\n')),
        SAVE),
    "next_epoch_beside_the_epoch_and_resume_saves_nothing": (
        ONE_BASED, RESUME.replace(SAVES, ""), SAVE.replace('"epoch": tag,', '"epoch": tag,\n        "next_epoch": tag + 1,')),
    # each optimizer given the other's saved state: G and D have 4 tensors each, so it loads silently
    "loads_the_optimizers_crossed": (
        ONE_BASED,
        RESUME.replace(LOAD_ALL, LOAD_ALL.replace('("opt_g", gan.opt_g), ("opt_d", gan.opt_d)', '("opt_d", gan.opt_g), ("opt_g", gan.opt_d)')),
        SAVE,
    ),
    # found by session 32's red team (16/16 then): resume ignores its checkpoint argument and loads the newest
    # checkpoint in out_dir; the grader gives resume a copy of the checkpoint in another folder
    "loads_the_newest_checkpoint_in_out_dir": (
        ONE_BASED, RESUME.replace("    state = torch.load(checkpoint, weights_only=True)\n",
                                  '    state = torch.load(sorted(out_dir.glob("ckpt_*.pt"))[-1], weights_only=True)\n'), SAVE),
    # every random state "to be safe": numpy's is a tuple holding an array, which weights_only refuses
    # the next epoch's number stored (11 after epoch 10) under "start_epoch", read consistently by resume
    "saves_the_next_epoch": (
        ONE_BASED,
        RESUME.replace(LOOP, 'for epoch in range(state["start_epoch"], n_epochs + 1):'),
        SAVE.replace('"epoch": tag,', '"start_epoch": tag + 1,'),
    ),
    # the RNG state taken where each epoch starts, so the checkpoint of epoch 10 holds that of its start
    "rng_taken_before_the_epoch": tuple(
        part.replace("        for x in gan.batches.epoch(epoch - 1):", "        rng = torch.get_rng_state()\n        for x in gan.batches.epoch(epoch - 1):")
        for part in (ONE_BASED, RESUME)
    ) + (SAVE.replace('"rng": torch.get_rng_state(),', '"rng": rng,'),),
    # torch reseeded with the run's seed at the start of every epoch, in train and resume alike: resume
    # matches an uninterrupted run, and every epoch draws the same noise for its fakes
    "reseeds_one_seed_every_epoch": tuple(
        part.replace("        for x in gan.batches.epoch(epoch - 1):", "        torch.manual_seed(seed)\n        for x in gan.batches.epoch(epoch - 1):")
        for part in (ONE_BASED, RESUME)
    ) + (SAVE,),
    # the checkpoint a list, read back by position: no epoch under a key (the epoch check's point), yet resume is
    # exact, and the grader compares the resumed run's `20.pt` with the uninterrupted run's file of that name
    "checkpoint_as_a_list": (
        """
        fixed_noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                out_dir.mkdir(parents=True, exist_ok=True)
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / f"{epoch}.png", nrow=10)
                torch.save([gan.G.state_dict(), gan.D.state_dict(), gan.opt_g.state_dict(), gan.opt_d.state_dict(), epoch,
                            fixed_noise, torch.get_rng_state()], out_dir / f"{epoch}.pt")
        """,
        """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            out_dir = Path(out_dir)
            g, d, opt_g, opt_d, done, fixed_noise, rng = torch.load(checkpoint, weights_only=True)
            gan.G.load_state_dict(g)
            gan.D.load_state_dict(d)
            gan.opt_g.load_state_dict(opt_g)
            gan.opt_d.load_state_dict(opt_d)
            torch.set_rng_state(rng)
            for epoch in range(done + 1, n_epochs + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % 10 == 0:
                    with torch.no_grad():
                        save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / f"{epoch}.png", nrow=10)
                    torch.save([gan.G.state_dict(), gan.D.state_dict(), gan.opt_g.state_dict(), gan.opt_d.state_dict(), epoch,
                                fixed_noise, torch.get_rng_state()], out_dir / f"{epoch}.pt")
            return gan.G, gan.D
        """,
        SAVE,
    ),
    # the losses saved beside each checkpoint, with the epoch: two files of epoch 20 in each run, each compared
    # with its own counterpart
    "losses_file_beside_the_checkpoint": (
        """
        <SAVE>
        losses = []
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                losses.append(step(gan, x))
            if epoch % 10 == 0:
                save(epoch)
                torch.save({"epoch": epoch, "losses": torch.tensor(losses)}, out_dir / f"losses_{epoch:03d}.pt")
        """,
        RESUME,
        SAVE,
    ),
    # the RNG state restored before make_gan(seed), which reseeds torch
    "rng_restored_before_make_gan": (ONE_BASED, RESUME.replace(RESTORE, '    fixed_noise = state["fixed_noise"]\n').replace(
        "    gan = make_gan(seed)\n", '    torch.set_rng_state(torch.load(checkpoint, weights_only=True)["rng"])\n    gan = make_gan(seed)\n'), SAVE),
    # the optimizers' states saved, but resume loads only the networks: the fix is the loading, not the saving
    "optimizer_states_saved_not_loaded": (ONE_BASED, RESUME.replace(LOAD_ALL, LOAD_ALL.replace(', ("opt_g", gan.opt_g), ("opt_d", gan.opt_d)', "")), SAVE),
    # one network's state saved under the other's key, then loaded right by resume: the load fails, and the saved
    # file shows the fault is train's (found by the red team's round 4: told as a crossed load, or cut short)
    "opt_g_saved_under_opt_d": (ONE_BASED, RESUME, SAVE.replace('"opt_d": gan.opt_d.state_dict(),', '"opt_d": gan.opt_g.state_dict(),')),
    "g_saved_under_d": (ONE_BASED, RESUME, SAVE.replace('"D": gan.D.state_dict(),', '"D": gan.G.state_dict(),')),
    # found by session 38's red team (16/16 before): resume's own loop saves off train's schedule, after epoch 19 (an
    # off-by-one copied into it), after every epoch (the `if` left out), or after epoch 20 labelled 19 (a 0-based tag)
    "resume_saves_after_epoch_19": (ONE_BASED, RESUME.replace(SAVES, "        if (epoch + 1) % 10 == 0:\n            save(epoch)\n"), SAVE),
    "resume_saves_after_every_epoch": (ONE_BASED, RESUME.replace(SAVES, "        save(epoch)\n"), SAVE),
    "resume_tags_its_save_zero_based": (ONE_BASED, RESUME.replace(SAVES, "        if epoch % 10 == 0:\n            save(epoch - 1)\n"), SAVE),
    # ... resume loads D's saved weights into G (and G's into D): torch's first line alone named no fix
    "loads_d_into_g": (ONE_BASED, RESUME.replace(LOAD_ALL, '    gan.G.load_state_dict(state["D"])\n    gan.D.load_state_dict(state["G"])\n'
                                                           '    gan.opt_g.load_state_dict(state["opt_g"])\n    gan.opt_d.load_state_dict(state["opt_d"])\n'), SAVE),
    # ... train saves the states of new Adam optimizers it built beside gan.opt_g and gan.opt_d (never stepped): told it
    # held "no optimizer state", and resume, which loads them, to load them
    "saves_new_optimizers_that_never_step": (ONE_BASED, RESUME, SAVE.replace('"opt_g": gan.opt_g.state_dict(),', '"opt_g": opt_g.state_dict(),')
                                             .replace('"opt_d": gan.opt_d.state_dict(),', '"opt_d": opt_d.state_dict(),')
                                             + "opt_g = torch.optim.Adam(gan.G.parameters(), lr=LR, betas=(0.5, 0.999))\n"
                                               "opt_d = torch.optim.Adam(gan.D.parameters(), lr=LR, betas=(0.5, 0.999))\n"),
    "numpy_rng_in_the_checkpoint": (
        ONE_BASED,
        RESUME.replace("weights_only=True", "weights_only=False"),
        SAVE.replace('        "rng": torch.get_rng_state(),\n', '        "rng": torch.get_rng_state(),\n        "np_rng": __import__("numpy").random.get_state(),\n'),
    ),
    # found by a red team (16/16): resume saves with its own copy of the saving code, which leaves out the RNG state and
    # the fixed noise: its checkpoints hold the right weights, optimizers and epoch, but no run resumes exactly from them
    "resume_saves_without_the_rng_and_the_noise": (
        ONE_BASED, RESUME.replace("    <SAVE>\n", textwrap.indent(without("rng", "fixed_noise").strip("\n"), "    ") + "\n"), SAVE),
}

RESUME_LOAD = "    state = torch.load(checkpoint, weights_only=True)\n"
assert RESUME.count(RESUME_LOAD) == 1
# right checkpoints and resumes the tests did not hold: {name: (train's body, resume, the save helper)}
CORRECT_RESUMES = {
    # resume moves the networks to the run's device and loads the checkpoint onto it with map_location
    "resume_with_map_location": (ONE_BASED, RESUME.replace(RESUME_LOAD, (
        '    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
        "    gan.G.to(device)\n    gan.D.to(device)\n"
        "    state = torch.load(checkpoint, map_location=device)\n")), SAVE),
    # every random state a run could need: Python's, torch's, CUDA's (none on a CPU); numpy's left out
    "every_rng_state_but_numpys": (
        ONE_BASED,
        RESUME.replace(RESTORE, RESTORE + '    random.setstate(state["py_rng"])\n    torch.cuda.set_rng_state_all(state["cuda_rng"])\n'),
        SAVE.replace('"rng": torch.get_rng_state(),', '"rng": torch.get_rng_state(), "py_rng": random.getstate(), "cuda_rng": torch.cuda.get_rng_state_all(),')
        .replace("def save(tag):", "import random\n\ndef save(tag):"),
    ),
    # new Adam optimizers built in resume, as the tutorials build them, and the saved states loaded into them
    "optimizers_rebuilt_then_loaded": (ONE_BASED, RESUME.replace(LOAD_ALL, """    gan.G.load_state_dict(state["G"])
    gan.D.load_state_dict(state["D"])
    gan.opt_g = torch.optim.Adam(gan.G.parameters(), lr=LR, betas=(0.5, 0.999))
    gan.opt_d = torch.optim.Adam(gan.D.parameters(), lr=LR, betas=(0.5, 0.999))
    gan.opt_g.load_state_dict(state["opt_g"])
    gan.opt_d.load_state_dict(state["opt_d"])
"""), SAVE),
    # torch.save's legacy format (_use_new_zipfile_serialization=False, for PyTorch before 1.6): torch.load reads it,
    # and the probe rewrites it in the zip format the grader reads
    "saved_in_the_legacy_format": (ONE_BASED, RESUME, SAVE.replace(
        'torch.save(state, out_dir / f"ckpt_{tag:03d}.pt")',
        'torch.save(state, out_dir / f"ckpt_{tag:03d}.pt", _use_new_zipfile_serialization=False)')),
    # new networks (built as make_gan builds them) loaded from the checkpoint, with new optimizers over them loaded
    # too; and every grid drawn by a G rebuilt from gan.G's weights: the grader sees G's noise whichever copy of G gets it
    "networks_rebuilt_and_grids_drawn_by_a_copy": (ONE_BASED, RESUME.replace(LOAD_ALL, """    G, D = get_model("mlp").build(DIGITS.shape, nz=NZ)
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    gan.G, gan.D = G, D
    gan.opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=(0.5, 0.999))
    gan.opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=(0.5, 0.999))
    gan.opt_g.load_state_dict(state["opt_g"])
    gan.opt_d.load_state_dict(state["opt_d"])
"""), SAVE.replace("""    with torch.no_grad():
        samples = from_model_range(gan.G(fixed_noise), "tanh")""", """    with torch.no_grad(), torch.random.fork_rng():
        G_copy = get_model("mlp").build(DIGITS.shape, nz=NZ)[0]
        G_copy.load_state_dict(gan.G.state_dict())
        samples = from_model_range(G_copy(fixed_noise), "tanh")""")),
    # found by session 34's red team (12/16, "it started again at epoch 1"): resume goes through the data of the epochs
    # done without training, as a DataLoader is skipped forward, then trains the rest
    "resume_skips_the_data_of_the_epochs_done": (ONE_BASED, RESUME.replace(
        "    for epoch in range(state[\"epoch\"] + 1, n_epochs + 1):\n",
        "    for done in range(state[\"epoch\"]):\n        for _ in gan.batches.epoch(done):\n            pass\n"
        "    for epoch in range(state[\"epoch\"] + 1, n_epochs + 1):\n"), SAVE),
    # ... and one that counts an epoch's batches by going through them first
    "resume_counts_the_batches_by_a_pass": (ONE_BASED, RESUME.replace(
        "    for epoch in range(state[\"epoch\"] + 1, n_epochs + 1):\n",
        "    assert len(list(gan.batches.epoch(0))) == len(gan.batches)\n"
        "    for epoch in range(state[\"epoch\"] + 1, n_epochs + 1):\n"), SAVE),
    # epochs counted from 1 everywhere, gan.batches.epoch given 1, 2, ... in train and resume alike
    "epochs_counted_from_1_everywhere": tuple(
        part.replace("gan.batches.epoch(epoch - 1)", "gan.batches.epoch(epoch)") for part in (ONE_BASED, RESUME)) + (SAVE,),
}


@pytest.mark.parametrize("name", list(CORRECT_RESUMES))
def test_correct_checkpoints_and_resumes_score_full_marks(tmp_path, name):
    body, resume, save = CORRECT_RESUMES[name]
    assert scores(submission(tmp_path, body, resume=resume, save=save)) == OK


class Starts(str):
    """An expected message of which only the start is fixed (the rest is torch's own error text)."""


def same(result: dict[str, tuple[float, str]], expected: dict[str, tuple[float, str]]) -> bool:
    """`result` has exactly the expected points and messages (a `Starts` message: its start)."""
    return result.keys() == expected.keys() and all(
        result[name][0] == points and (result[name][1].startswith(message) if isinstance(message, Starts) else result[name][1] == message)
        for name, (points, message) in expected.items()
    )


BATCHES_PICKLED = (
    "`10.pt` holds gan.batches (the data order, a `reference.data.batches.Batches`), pickled: only the full unpickler "
    "loads it, and that can run code, so the grader does not; save only state_dicts, tensors and numbers (make_gan(seed) "
    "rebuilds the rest)"
)
OPTIMIZERS_PICKLED = (
    "`ckpt_010.pt` holds a pickled `torch.optim.adam.Adam`: only the full unpickler loads it, and that can run code, so the "
    "grader does not; save the optimizers' states, gan.opt_g.state_dict() and gan.opt_d.state_dict(), not the optimizers, "
    "and load them with load_state_dict into the optimizers make_gan built"
)
SHORT = (
    "train(30, ...) trained 29 epochs, not 30: loop over every epoch, `for epoch in range(n_epochs)` (0-based) "
    "or `for epoch in range(1, n_epochs + 1)` (1-based)"
)
# a schedule that fires once, after epoch 25 (2.5 steps or 128 of 10 x 160 images an epoch)
SAVED_AFTER_EPOCH_25 = {
    **OK,
    "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epoch 25 of a 30-epoch run; expected 10, 20, 30 (1-based: after the 10th, 20th, 30th epoch)"),
    "test_saves_for_25_and_9_epochs": (1.0, "sample grids saved at epoch 25 of a 25-epoch run; expected 10, 20 (epoch 25 is the run's last: save after every 10th epoch only, not also when the run ends)"),
    "test_resume_continues_the_run": (0.0, "train(10, ...) wrote no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after an epoch, so there is nothing to resume from; save a checkpoint after epochs 10, 20, ..."),
}
# a run that does not train (every batch or the whole epoch left out): the checks that read what it saved say so once
UNTRAINED_CHECKS = ("test_checkpoints_hold_optimizers_and_epoch", "test_checkpoints_hold_g_and_d", "test_resume_continues_the_run")
NO_STEP = "train(30, ...) went through 30 epochs of batches without a training step: call step(gan, x) on every batch, as the given loop does"
CUT_SHORT = "train(30, ...) left the batch loop before the epoch's last batch in 30 of its 30 epochs (a break left in the loop?): train on every batch of gan.batches.epoch(k - 1), as the given loop does"
EXPECTED = {
    "saves_at_epoch_0": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 0, 10, 20 of a 30-epoch run; expected 10, 20, 30 (epoch 0 is before any training: never save there)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 0, 10, 20 of a 25-epoch run; expected 10, 20 (epoch 0 is before any training: never save there); sample grids saved at epoch 0 of a 9-epoch run; expected none (epoch 0 is before any training: never save there)"),
    },
    "zero_based_epoch_mod_10": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 1, 11, 21 of a 30-epoch run; expected 10, 20, 30 (1-based: in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 1, 11, 21 of a 25-epoch run; expected 10, 20 (1-based: in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0); sample grids saved at epoch 1 of a 9-epoch run; expected none (1-based: in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0)"),
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, "`ckpt_000.pt` (saved after epoch 1) holds epoch 0, a 0-based loop's counter; save the number of epochs done, 1 (epoch + 1 in `for epoch in range(n_epochs)`)"),
        "test_resume_continues_the_run": (0.0, "resume trained epochs 1, 2, 3, 4, 5, 6, 7, ..., 20: it repeated epoch 1, which the checkpoint saved after epoch 1 already holds; continue with epoch 2, the one after the saved epoch"),
    },
    # with 2 batches an epoch, every 10th step is an epoch's last: saves inside the batch loop after epochs 5, 10,
    # ..., each checkpoint storing the step count (10 after epoch 5) as its epoch
    "saves_every_10_batches": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids written inside the batch loop during epochs 5, 10, 15, 20, 25, 30 of a 30-epoch run; save once after an epoch's batches, after epochs 10, 20, 30"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids written inside the batch loop during epochs 5, 10, 15, 20, 25 of a 25-epoch run; save once after an epoch's batches, after epochs 10, 20; sample grids written inside the batch loop during epoch 5 of a 9-epoch run; save once after an epoch's batches, and never in a run shorter than 10 epochs"),
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, "`ckpt_010.pt` (saved after epoch 5) holds epoch 10; save the number of epochs done, 5"),
        "test_resume_continues_the_run": (0.0, "resume(checkpoint, 20, ...) trained no epoch after the checkpoint saved after epoch 10; train epochs 11, 12, 13, 14, 15, 16, 17, ..., 20"),
    },
    "break_after_the_first_batch": {
        **OK,
        **{name: (0.0, CUT_SHORT) for name in UNTRAINED_CHECKS},
    },
    "same_shuffle_every_epoch": {
        **OK,
        **SAME_SHUFFLE_SCHEDULE,
        "test_resume_continues_the_run": (0.0, (
            "resume trained 10 epochs after the checkpoint saved after epoch 10, not on the batches an uninterrupted "
            "train(20, ...) drew for epochs 11, 12, 13, 14, 15, 16, 17, ..., 20; but train itself passed gan.batches.epoch "
            "the same number in several epochs (the same shuffle twice): give the k-th epoch gan.batches.epoch(k - 1) in "
            "train and resume alike")),
    },
    # no training step at all: the schedule is still judged by the calls of gan.batches.epoch (none trained, so every
    # call is an epoch); what the checkpoints hold and a resume are told the one fault (they were told of missing
    # optimizer states, the same weights at every save and a reseeded random generator)
    "never_steps": {
        **OK,
        **{name: (0.0, NO_STEP) for name in UNTRAINED_CHECKS},
    },
    # 3 steps per epoch counted for the grading data's 2: the 30th step is inside epoch 15, the 60th inside epoch 30
    "steps_per_epoch_rounded_up": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids written inside the batch loop during epochs 15, 30 of a 30-epoch run; save once after an epoch's batches, after epochs 10, 20, 30"),
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, "`ckpt_010.pt` (saved after epoch 15) holds epoch 10; save the number of epochs done, 15"),
        "test_saves_for_25_and_9_epochs": (1.0, "sample grids written inside the batch loop during epoch 15 of a 25-epoch run; save once after an epoch's batches, after epochs 10, 20"),
        "test_resume_continues_the_run": (0.0, "train(10, ...) wrote no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after an epoch, so there is nothing to resume from; save a checkpoint after epochs 10, 20, ..."),
    },
    # 2.5 steps per epoch: ten times that is a whole number of steps only after epoch 25
    "steps_per_epoch_as_a_float": SAVED_AFTER_EPOCH_25,
    # 128 images an epoch against 10 x 160: equal after epoch 25 only
    "images_seen_against_ten_times_the_data": SAVED_AFTER_EPOCH_25,
    # the full data's 10 epochs of steps, never reached at grade time: nothing saved, and the message says what to count
    "saves_every_220_steps_counted_for_the_full_data": {
        "test_saves_at_epochs_10_20_30": (0.0, "nothing written under out_dir in a 30-epoch run; expected a sample grid (.png, .jpg, .jpeg) and a checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after epochs 10, 20, 30 (count epochs, not steps: an epoch has len(gan.batches) batches, 2 while grading)"),
        "test_sample_grids_are_png_grids_of_64": (0.0, "no sample grid (.png) written under out_dir in a 30-epoch run; save the 64 images of G(fixed_noise) with torchvision's save_image (or reference.plots.save_image_grid)"),
        "test_checkpoints_hold_optimizers_and_epoch": (0.0, "no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) written under out_dir in a 30-epoch run; save G's and D's state_dict, both optimizers' state_dict and the epoch with torch.save after epochs 10, 20, 30"),
        "test_saves_for_25_and_9_epochs": (1.0, "nothing written under out_dir in a 25-epoch run; expected a sample grid (.png, .jpg, .jpeg) and a checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after epochs 10, 20 (count epochs, not steps: an epoch has len(gan.batches) batches, 2 while grading)"),
        "test_grids_come_from_fixed_noise": (0.0, "train saved 0 time(s) in runs of 30, 25 and 9 epochs: too few to compare the noise G receives at each save; save after epochs 10, 20, 30"),
        "test_checkpoints_hold_g_and_d": (0.0, "no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) written under out_dir in a 30-epoch run; save G's and D's state_dict with torch.save after epochs 10, 20, 30"),
        "test_resume_continues_the_run": (0.0, "train(10, ...) wrote no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after an epoch, so there is nothing to resume from; save a checkpoint after epochs 10, 20, ..."),
        LATEST: OK[LATEST],
    },
    # G and D change after the files of epochs 10, 20, 30 appear: no save after an epoch, so nothing to resume from
    "saves_on_the_last_batch_before_its_step": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids written inside the batch loop during epochs 10, 20, 30 of a 30-epoch run; save once after an epoch's batches, after epochs 10, 20, 30"),
        "test_saves_for_25_and_9_epochs": (1.0, "sample grids written inside the batch loop during epochs 10, 20 of a 25-epoch run; save once after an epoch's batches, after epochs 10, 20"),
        "test_resume_continues_the_run": (0.0, "train(10, ...) wrote no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after an epoch, so there is nothing to resume from; save a checkpoint after epochs 10, 20, ..."),
    },
    "saves_at_9_19_29": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 9, 19, 29 of a 30-epoch run; expected 10, 20, 30 (1-based: after the 10th, 20th, 30th epoch)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 9, 19 of a 25-epoch run; expected 10, 20 (1-based: after the 10th, 20th, 30th epoch); sample grids saved at epoch 9 of a 9-epoch run; expected none (1-based: after the 10th, 20th, 30th epoch)"),
    },
    "one_epoch_short": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, f"{SHORT}; sample grids saved at epochs 10, 20 of a 30-epoch run; expected 10, 20, 30"),
        "test_saves_for_25_and_9_epochs": (0.0, SHORT.replace("30", "25").replace("29", "24") + "; " + SHORT.replace("30", "9").replace("29", "8")),
        "test_resume_continues_the_run": (0.0, "train(10, ...) wrote no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after an epoch, so there is nothing to resume from; save a checkpoint after epochs 10, 20, ..."),
    },
    "saves_only_at_the_end": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epoch 30 of a 30-epoch run; expected 10, 20, 30 (1-based: after the 10th, 20th, 30th epoch)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epoch 25 of a 25-epoch run; expected 10, 20 (epoch 25 is the run's last: save after every 10th epoch only, not also when the run ends); sample grids saved at epoch 9 of a 9-epoch run; expected none (1-based: after the 10th, 20th, 30th epoch)"),
    },
    # the scheduled saves, and one more after the loop: in a 30-epoch run it repeats epoch 30's save,
    # in runs of 25 and 9 epochs it is a save off the schedule; G gets the fixed noise twice at epoch
    # 30 of the uninterrupted run, once in the resumed one (which saves no final model): the same noise
    "final_save_after_the_loop": {
        **OK,
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 10, 20, 25 of a 25-epoch run; expected 10, 20 (epoch 25 is the run's last: save after every 10th epoch only, not also when the run ends); sample grids saved at epoch 9 of a 9-epoch run; expected none (1-based: after the 10th, 20th, 30th epoch)"),
    },
    "checkpoint_every_epoch": {
        **OK,
        "test_checkpoints_hold_g_and_d": (1.0, "checkpoints saved at epochs 1, 2, 3, 4, 5, 6, 7, ..., 30 of a 30-epoch run, the sample grids at 10, 20, 30; save a checkpoint with each sample grid, and only then"),
        # last.pt, rewritten after every epoch, is read as its last write left it: beside ckpt_030.pt, which
        # holds the optimizers and the epoch (the extra saves cost the schedule point above, once)
    },
    "fresh_noise_each_time": {
        **OK,
        "test_grids_come_from_fixed_noise": (0.0, "G received different noise at the saves after epoch 10 and after epoch 20: the samples come from new noise each time; draw fixed_noise once, before the loop, and reuse it"),
        "test_resume_continues_the_run": (3.0, "the resumed run's sample grid after epoch 20 comes from other noise than an uninterrupted run's: save fixed_noise in the checkpoint and draw the resumed grids from it"),
    },
    "figure_with_title": {
        **OK,
        "test_sample_grids_are_png_grids_of_64": (0.0, "`epoch_10.png` is a matplotlib figure (500x500 pixels), not the grid itself: save the tensor (torchvision's save_image), not a figure"),
    },
    "figure_as_pdf": {
        **OK,
        "test_sample_grids_are_png_grids_of_64": (0.0, "`epoch_10.pdf` is a figure, not a PNG grid: save the tensor (torchvision's save_image), not a figure"),
    },
    "grid_of_16_samples": {
        **OK,
        "test_sample_grids_are_png_grids_of_64": (0.0, "`epoch_010.png` is 122x122 pixels: not a grid of 64 samples of 28x28 (8 x 8 with 2-pixel padding is 242x242); save all 64 images of G(fixed_noise)"),
    },
    "no_checkpoint": {
        **OK,
        "test_checkpoints_hold_g_and_d": (0.0, "no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) written under out_dir in a 30-epoch run; save G's and D's state_dict with torch.save after epochs 10, 20, 30"),
        "test_checkpoints_hold_optimizers_and_epoch": (0.0, "no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) written under out_dir in a 30-epoch run; save G's and D's state_dict, both optimizers' state_dict and the epoch with torch.save after epochs 10, 20, 30"),
        "test_resume_continues_the_run": (0.0, "train(10, ...) wrote no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after an epoch, so there is nothing to resume from; save a checkpoint after epochs 10, 20, ..."),
    },
    "whole_modules_pickled": {
        **OK,
        "test_checkpoints_hold_g_and_d": (0.0, "`model-10.pth` holds a pickled `reference.models.mlp.Generator`: only the full unpickler loads it, and that can run code, so the grader does not; save state_dicts, torch.save({\"G\": G.state_dict(), \"D\": D.state_dict()}, path)"),
        "test_checkpoints_hold_optimizers_and_epoch": (0.0, "`model-10.pth` holds a pickled `reference.models.mlp.Generator`: only the full unpickler loads it, and that can run code, so the grader does not; save state_dicts, torch.save({\"G\": G.state_dict(), \"D\": D.state_dict()}, path)"),
        "test_resume_continues_the_run": (0.0, "`resume` could not load the checkpoint that train(10, ...) saved: `model-10.pth` holds a pickled `reference.models.mlp.Generator`: only the full unpickler loads it, and that can run code, so the grader does not; save state_dicts, torch.save({\"G\": G.state_dict(), \"D\": D.state_dict()}, path)"),
    },
    # the data order saved too: in the grader gan.batches is its watched stand-in, named as what it stands for
    "batches_pickled": {
        **OK,
        **{name: (0.0, BATCHES_PICKLED) for name in ("test_checkpoints_hold_g_and_d", "test_checkpoints_hold_optimizers_and_epoch")},
        "test_resume_continues_the_run": (0.0, "`resume` could not load the checkpoint that train(10, ...) saved: " + BATCHES_PICKLED),
    },
    "checkpoint_of_g_only": {
        **OK,
        "test_checkpoints_hold_g_and_d": (1.0, "`10.pt` (saved after epoch 10) holds no state_dict of D; save D.state_dict() too"),
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, "`10.pt` (saved after epoch 10) holds no optimizer state: save gan.opt_g.state_dict() and gan.opt_d.state_dict() too, so that Adam's moments survive a resume"),
        "test_resume_continues_the_run": (0.0, "calling `resume` raised KeyError: 'D'"),
    },
    "pickle_dump_checkpoint": {
        **OK,
        "test_checkpoints_hold_g_and_d": (0.0, "`10.pkl` is not a file written by torch.save (not its zip format); save checkpoints with torch.save"),
        "test_checkpoints_hold_optimizers_and_epoch": (0.0, "`10.pkl` is not a file written by torch.save (not its zip format); save checkpoints with torch.save"),
        "test_resume_continues_the_run": (0.0, "`resume` could not load the checkpoint that train(10, ...) saved: `10.pkl` is not a file written by torch.save (not its zip format); save checkpoints with torch.save"),
    },
    "reseeds_torch_at_each_save": {
        **OK,
        "test_grids_come_from_fixed_noise": (1.0, "G received the same noise at every save, but the saves reseed torch's global generator: epochs 11, 21 start from the same random state, so step draws the same fakes' noise again from each of them on; draw fixed_noise once, before the loop, or from a generator of its own, torch.randn(64, nz, generator=torch.Generator().manual_seed(s)), and never call torch.manual_seed at a save"),
    },
    "optimizers_pickled": {
        **OK,
        **{name: (0.0, OPTIMIZERS_PICKLED) for name in ("test_checkpoints_hold_g_and_d", "test_checkpoints_hold_optimizers_and_epoch")},
        "test_resume_continues_the_run": (0.0, "`resume` could not load the checkpoint that train(10, ...) saved: " + OPTIMIZERS_PICKLED),
    },
    # the saves come after 10 and 20 epochs, so the runs of 25 and 9 epochs are right; train(10) saves
    # nothing, so the resume check has nothing to resume from
    "saves_at_the_start_of_the_next_epoch": {
        **OK,
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 10, 20 of a 30-epoch run; expected 10, 20, 30 (nothing after epoch 30, the run's last: save at the end of every 10th epoch, after its batches, the last one included: a save placed at the start of the next epoch, or a condition such as `epoch < n_epochs`, skips it)"),
        "test_resume_continues_the_run": (0.0, "train(10, ...) wrote no checkpoint (.pt, .pth, .ckpt, .tar, .pkl) after an epoch, so there is nothing to resume from; save a checkpoint after epochs 10, 20, ..."),
    },
    "hard_coded_30_epochs": {
        **OK,
        "test_saves_for_25_and_9_epochs": (0.0, "; ".join(
            f"train({n}, ...) trained 30 epochs, not {n}: train exactly the n_epochs epochs it is given, `for epoch in range(n_epochs)` "
            f"(0-based) or `for epoch in range(1, n_epochs + 1)` (1-based); sample grids saved at epochs 10, 20, 30 of a {n}-epoch run; "
            f"expected {expected}" for n, expected in ((25, "10, 20"), (9, "none")))),
        "test_resume_continues_the_run": (0.0, "train(10, ...) trained past epoch 10 (its last checkpoint was saved after epoch 30), so no run stopped after epoch 10 to resume; train exactly the n_epochs epochs train is given"),
    },
    "grid_not_mapped": {**OK, "test_sample_grids_are_png_grids_of_64": (0.0, CLIPPED)},
    "value_range_without_normalize": {**OK, "test_sample_grids_are_png_grids_of_64": (0.0, CLIPPED)},
    "pil_without_mapping": {**OK, "test_sample_grids_are_png_grids_of_64": (0.0, (
        "`10.png` shows G's images scaled by 255 without mapping them from [-1, 1] to [0, 1] first, so astype(\"uint8\") "
        "wrapped every negative value around to a bright one; map with (x + 1) / 2 before scaling to 0-255, or save the "
        "tensor with save_image(x, path, normalize=True, value_range=(-1, 1))"))},
    "save_image_to_the_folder": {
        **{name: (0.0, "calling `train` raised ValueError: unknown file extension:") for name in CHECKS}, LATEST: OK[LATEST],
    },
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_scores_and_messages(tmp_path, name):
    result = scores(submission(tmp_path, WRONG[name]))
    assert same(result, EXPECTED[name]), result


@pytest.mark.parametrize("name", ["figure_with_title", "optimizers_pickled", "saves_every_10_batches"])
def test_the_sandbox_grades_like_this_process(tmp_path, name):
    """What the other tests grade in this process scores the same in the sandbox, messages included
    (the run's files read from the worker's scratch folder, the checkpoint's pickled objects refused)."""
    path = submission(tmp_path, WRONG[name])
    result = sandboxed(path)
    assert result == scores(path) and same(result, EXPECTED[name]), result


def test_expected_totals():
    """A schedule fault loses the schedule checks' 5 points, and the resume check's 4 only when
    train(10) then writes no checkpoint after an epoch to resume from, or one whose epoch is the
    0-based counter (then the epoch point too). Checkpoints without the new state lose the new checks.
    (Totals of train's and resume's checks: these submissions keep the solution's latest_checkpoint, at full marks.)"""
    totals = {name: sum(p for check, (p, _) in result.items() if check != LATEST) for name, result in EXPECTED.items()}
    assert totals == {
        "saves_at_epoch_0": 11.0,
        "zero_based_epoch_mod_10": 6.0,
        "saves_every_10_batches": 6.0,
        "saves_every_220_steps_counted_for_the_full_data": 1.0,
        "break_after_the_first_batch": 8.0,
        "never_steps": 8.0,
        "same_shuffle_every_epoch": 7.0,
        "steps_per_epoch_rounded_up": 7.0,
        "steps_per_epoch_as_a_float": 8.0,
        "images_seen_against_ten_times_the_data": 8.0,
        "saves_on_the_last_batch_before_its_step": 8.0,
        "saves_at_9_19_29": 11.0,
        "one_epoch_short": 7.0,
        "saves_only_at_the_end": 11.0,
        "final_save_after_the_loop": 14.0,
        "checkpoint_every_epoch": 15.0,
        "fresh_noise_each_time": 13.0,
        "figure_with_title": 15.0,
        "figure_as_pdf": 15.0,
        "grid_of_16_samples": 15.0,
        "no_checkpoint": 8.0,
        "whole_modules_pickled": 8.0,
        "checkpoint_of_g_only": 10.0,
        "pickle_dump_checkpoint": 8.0,
        "batches_pickled": 8.0,
        "reseeds_torch_at_each_save": 15.0,
        "optimizers_pickled": 8.0,
        "saves_at_the_start_of_the_next_epoch": 9.0,
        "hard_coded_30_epochs": 10.0,
        "grid_not_mapped": 15.0,
        "value_range_without_normalize": 15.0,
        "pil_without_mapping": 15.0,
        "save_image_to_the_folder": 0.0,
    }


MOMENTS_LOST = (
    "when resume's first step ran, gan.opt_g and gan.opt_d had no state: Adam's moments (exp_avg, "
    'exp_avg_sq) and step count were lost, so the run does not go on as it would have; save '
    'gan.opt_g.state_dict() and gan.opt_d.state_dict() in the checkpoint and load them with '
    'load_state_dict into the optimizers make_gan built'
)
OTHER_RANDOM_NUMBERS = (
    "the resumed run's random numbers differ from an uninterrupted run's from epoch 11 on (step draws its"
    ' noise with torch.randn): save torch.get_rng_state() in the checkpoint and restore it with '
    'torch.set_rng_state in resume, after make_gan(seed), which reseeds torch'
)
NOTHING_RESUMED = (
    "the grader found no checkpoint of a later epoch than 10 in the run's folder after resume(checkpoint, 20, ...): "
    "resume must save on train's schedule, with the number of epochs done in each checkpoint, and the grader compares "
    "those files with an uninterrupted run's"
)
NUMPY_IN_CHECKPOINT = (
    "`ckpt_010.pt` holds a numpy value (pickled as `numpy._core.multiarray._reconstruct`; np.random.get_state() and "
    "np.array make one), which torch.load(weights_only=True) refuses: keep only tensors, numbers and state dicts in a "
    "checkpoint (torch.from_numpy(array) is a tensor; for the random state, step draws its noise from torch's generator: "
    "torch.get_rng_state() is the one to save)"
)
MOMENTS_NOT_LOADED = (
    "when resume's first step ran, gan.opt_g and gan.opt_d had no state, though the checkpoint saved after epoch 10 holds "
    "the optimizers' states: Adam's moments (exp_avg, exp_avg_sq) and step count were lost, so the run does not go on as "
    "it would have; load the saved states with gan.opt_g.load_state_dict(...) and gan.opt_d.load_state_dict(...) into the "
    "optimizers make_gan built"
)
# the checkpoint holds the RNG state and the fixed noise; resume did not start from them
RNG_NOT_FROM_CHECKPOINT = (
    "the checkpoint holds the RNG state of the end of epoch 10, but the resumed run's random numbers differ from an "
    "uninterrupted run's from epoch 11 on: resume drew random numbers after torch.set_rng_state (a new torch.randn, such "
    "as fixed noise drawn again), or never restored the state; call torch.set_rng_state after make_gan(seed), which "
    "reseeds torch, and draw nothing between it and the first step"
)
NOISE_NOT_FROM_CHECKPOINT = (
    "the checkpoint holds the fixed noise, but the resumed run's sample grid after epoch 20 comes from other noise than an "
    "uninterrupted run's: draw the resumed grids from the fixed_noise loaded from the checkpoint, not from a new torch.randn"
)
REPLAYED = (
    "train reseeds torch's global generator with one seed at the start of every epoch: every epoch starts from the same "
    "random state, so step draws the same noise for the fakes again and again (a resumed run repeats it too); reseed from "
    "the seed and the epoch number, torch.manual_seed(seed * 1000 + epoch), in train and resume alike, or seed once and "
    "save torch.get_rng_state() in the checkpoint, restored in resume"
)
RESUMED_WEIGHTS_ONLY = (
    "`ckpt_020.pt` written after resume(checkpoint, 20, ...) holds 0 optimizer state(s), where an uninterrupted run's "
    "checkpoint of the same epoch holds 2: resume must save what train saves, so that a run interrupted again can be "
    "resumed from its checkpoints"
)
EXPECTED_RESUMES = {
    "epoch_saved_as_text": {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, (
            '`ckpt_010.pt` (saved after epoch 10) holds the epoch as text, not as a number: save the number of epochs '
            'done itself, "epoch": 10, not a string such as "010", so that resume can count on from it')),
    },
    "new_networks_under_the_old_optimizers": {
        **OK,
        "test_resume_continues_the_run": (2.0, (
            "resume started from the state of the checkpoint saved after epoch 10, yet gan.G and gan.D were not trained "
            "after it: gan.opt_g and gan.opt_d step the parameters of the networks make_gan built, not of the gan.G and "
            "gan.D resume put in their place; load the checkpoint's weights into the networks make_gan built "
            "(gan.G.load_state_dict(...), gan.D.load_state_dict(...)), which its optimizers hold")),
    },
    "same_shuffle_every_epoch_in_resume_too": {**OK, **SAME_SHUFFLE_SCHEDULE},
    "optimizer_states_not_saved": {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, "`ckpt_010.pt` (saved after epoch 10) holds no optimizer state: save gan.opt_g.state_dict() and gan.opt_d.state_dict() too, so that Adam's moments survive a resume"),
        "test_resume_continues_the_run": (0.0, MOMENTS_LOST),
    },
    "epoch_not_saved": {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, '`ckpt_010.pt` (saved after epoch 10) holds no epoch: save the number of epochs done (10 there) under a key such as "epoch", so that resume knows where to continue'),
        "test_resume_continues_the_run": (0.0, "resume trained epochs 1, 2, 3, 4, 5, 6, 7, ..., 20: it started again at epoch 1 instead of after epoch 10, where the checkpoint was saved; read the epoch from the checkpoint and continue with the next one"),
    },
    "resumes_at_the_saved_epoch": {
        **OK,
        "test_resume_continues_the_run": (0.0, "resume trained epochs 10, 11, 12, 13, 14, 15, 16, ..., 20: it repeated epoch 10, which the checkpoint saved after epoch 10 already holds; continue with epoch 11, the one after the saved epoch"),
    },
    "recreates_the_optimizers": {
        **OK,
        "test_resume_continues_the_run": (0.0, "resume replaced gan.opt_g and gan.opt_d with new optimizers, which start with no state: Adam's moments (exp_avg, exp_avg_sq) and step counts were lost, so the run does not go on as it would have; load the saved states with load_state_dict into the optimizers make_gan built, and keep them"),
    },
    "saves_the_zero_based_epoch": {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, "`ckpt_009.pt` (saved after epoch 10) holds epoch 9, a 0-based loop's counter; save the number of epochs done, 10 (epoch + 1 in `for epoch in range(n_epochs)`)"),
    },
    "rng_not_restored": {**OK, "test_resume_continues_the_run": (2.0, RNG_NOT_FROM_CHECKPOINT)},
    "noise_drawn_after_restoring_the_rng": {
        **OK,
        "test_resume_continues_the_run": (1.0, RNG_NOT_FROM_CHECKPOINT + "; " + NOISE_NOT_FROM_CHECKPOINT),
    },
    # nothing written, nothing the grader can check: the probe's report alone is not enough
    "resume_saves_nothing": {**OK, "test_resume_continues_the_run": (0.0, NOTHING_RESUMED)},
    "resume_saves_weights_only": {**OK, "test_resume_continues_the_run": (0.0, RESUMED_WEIGHTS_ONLY)},
    "next_epoch_beside_the_epoch_and_resume_saves_nothing": {**OK, "test_resume_continues_the_run": (0.0, NOTHING_RESUMED)},
    "loads_the_newest_checkpoint_in_out_dir": {
        **OK,
        "test_resume_continues_the_run": (0.0, "calling `resume` raised IndexError: list index out of range; the grader gives "
                                               "resume a copy of train's checkpoint in another folder: load the file that its "
                                               "checkpoint argument names, not one found in out_dir"),
    },
    "loads_the_optimizers_crossed": {
        **OK,
        "test_resume_continues_the_run": (
            0.0,
            "calling `resume` raised RuntimeError: The size of tensor a (100) must match the size of tensor b (784) at "
            "non-singleton dimension 1: an optimizer's state does not fit the parameters it updates: it was loaded from "
            "another network's optimizer (opt_d's saved state into opt_g, or the reverse); load each optimizer's own saved "
            "state into it, gan.opt_g.load_state_dict(state[\"opt_g\"]) and gan.opt_d.load_state_dict(state[\"opt_d\"])",
        ),
    },
    "saves_the_next_epoch": {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, "`ckpt_010.pt` (saved after epoch 10) holds epoch 11, the next epoch to train; save the number of epochs done, 10, and resume from the one after it"),
    },
    "rng_taken_before_the_epoch": {
        **OK,
        "test_resume_continues_the_run": (2.0, "the resumed run's random numbers are those an uninterrupted run had at the start of epoch 10, not at its end: the checkpoint's RNG state was taken before epoch 10's batches; call torch.get_rng_state() when you save, after the epoch's batches"),
    },
    "reseeds_one_seed_every_epoch": {**OK, "test_resume_continues_the_run": (2.0, REPLAYED)},
    "checkpoint_as_a_list": {**OK, "test_checkpoints_hold_optimizers_and_epoch": (1.0, (
        '`10.pt` (saved after epoch 10) holds no epoch: save the number of epochs done (10 there) under a key such as "epoch", '
        "so that resume knows where to continue"))},
    "losses_file_beside_the_checkpoint": OK,
    "rng_restored_before_make_gan": {**OK, "test_resume_continues_the_run": (2.0, RNG_NOT_FROM_CHECKPOINT)},
    "optimizer_states_saved_not_loaded": {**OK, "test_resume_continues_the_run": (0.0, MOMENTS_NOT_LOADED)},
    "opt_g_saved_under_opt_d": {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, (
            "`ckpt_010.pt` (saved after epoch 10) holds no optimizer state for D: save gan.opt_d.state_dict() too, so that "
            "its Adam moments survive a resume")),
        "test_resume_continues_the_run": (0.0, (
            "calling `resume` raised RuntimeError: The size of tensor a (100) must match the size of tensor b (784) at "
            "non-singleton dimension 1: `ckpt_010.pt`, the checkpoint train(10, ...) saved, holds G's optimizer state under "
            '"opt_d", not D\'s (gan.opt_g.state_dict() saved in its place): the fault is in what train saves, not in how '
            'resume loads it; save gan.opt_d.state_dict() under "opt_d"')),
    },
    "g_saved_under_d": {
        **OK,
        "test_checkpoints_hold_g_and_d": (1.0, "`ckpt_010.pt` (saved after epoch 10) holds no state_dict of D; save D.state_dict() too"),
        "test_resume_continues_the_run": (0.0, (
            "calling `resume` raised RuntimeError: Error(s) in loading state_dict for Discriminator: `ckpt_010.pt`, the "
            'checkpoint train(10, ...) saved, holds G\'s weights under "D", not D\'s (G.state_dict() saved in its place): the '
            'fault is in what train saves; save gan.D.state_dict() under "D"')),
    },
    **{name: {**OK, "test_resume_continues_the_run": (3.0, (
        f"the checkpoints resume(checkpoint, 20, ...) wrote after the one of epoch 10 hold {held}, where an uninterrupted "
        "train(20, ...)'s hold epoch 20: resume must save as train does, after every 10th epoch (counted from 1, the run's "
        "own numbers), each checkpoint holding the number of epochs done"))}
       for name, held in (("resume_saves_after_epoch_19", "epoch 19"), ("resume_tags_its_save_zero_based", "epoch 19"),
                          ("resume_saves_after_every_epoch", "epochs 11, 12, 13, 14, 15, 16, 17, ..., 20"))},
    "loads_d_into_g": {**OK, "test_resume_continues_the_run": (0.0, (
        "calling `resume` raised RuntimeError: Error(s) in loading state_dict for Generator: `ckpt_010.pt`, the checkpoint "
        'train(10, ...) saved, holds G\'s weights under "G" and D\'s under "D": resume gave a network an entry that is not '
        "its own weights (D's to gan.G, G's to gan.D, or an optimizer's state); load each network's own, "
        'gan.G.load_state_dict(state["G"]) and gan.D.load_state_dict(state["D"])'))},
    "saves_new_optimizers_that_never_step": {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, (
            "`ckpt_010.pt` (saved after epoch 10) holds the states of optimizers of G's and D's parameters that never took "
            "a step (no step count, no Adam moments), not of gan.opt_g and gan.opt_d, which step() updates; save "
            "gan.opt_g.state_dict() and gan.opt_d.state_dict(), so that Adam's moments survive a resume")),
        "test_resume_continues_the_run": (0.0, (
            "when resume's first step ran, gan.opt_g and gan.opt_d had no state: the checkpoint saved after epoch 10 holds "
            "the states of optimizers that never took a step, not of the ones step() updates, so Adam's moments (exp_avg, "
            "exp_avg_sq) and step count were lost; save gan.opt_g.state_dict() and gan.opt_d.state_dict() in the "
            "checkpoint and load them with load_state_dict into the optimizers make_gan built")),
    },
    "numpy_rng_in_the_checkpoint": {
        **OK,
        **{name: (0.0, NUMPY_IN_CHECKPOINT + tail) for name, tail in (
            ("test_checkpoints_hold_g_and_d", ""),
            ("test_checkpoints_hold_optimizers_and_epoch", ""),
            ("test_resume_continues_the_run", "; the grader reads the checkpoints of a resumed and an uninterrupted run to compare them"),
        )},
    },
    "resume_saves_without_the_rng_and_the_noise": {**OK, "test_resume_continues_the_run": (3.0, (
        "`ckpt_020.pt` written after resume(checkpoint, 20, ...) lacks the entries `fixed_noise` and `rng`, which an "
        "uninterrupted run's checkpoint of the same epoch holds: resume must save what train saves (call train's saving "
        "code), so that a run interrupted again can be resumed exactly from its checkpoints"))},
}


@pytest.mark.parametrize("name", list(WRONG_RESUMES))
def test_wrong_checkpoints_and_resumes_get_exact_scores_and_messages(tmp_path, name):
    body, resume, save = WRONG_RESUMES[name]
    assert scores(submission(tmp_path, body, resume=resume, save=save)) == EXPECTED_RESUMES[name]


SAVE_LAST = SAVE.replace('    torch.save(state, out_dir / f"ckpt_{tag:03d}.pt")\n',
                         '    torch.save(state, out_dir / f"ckpt_{tag:03d}.pt")\n    torch.save(state, out_dir / "last.pt")\n')
SAVE_COURSE = SAVE.replace('    torch.save(state, out_dir / f"ckpt_{tag:03d}.pt")\n',
                           '    save_checkpoint(state, out_dir / "checkpoints" / f"epoch_{tag:03d}.pt")\n'
                           '    save_checkpoint(state, out_dir / "checkpoints" / "last.pt")\n')


@pytest.mark.parametrize("save, load, says", [
    (SAVE_LAST, '    state = torch.load(out_dir / "last.pt", weights_only=True)\n', "FileNotFoundError"),
    (SAVE_COURSE, "    from reference.checkpoint import load_checkpoint\n    state = load_checkpoint(out_dir)\n", "CheckpointError"),
], ids=["last_pt", "course_load_checkpoint_of_the_run_folder"])
def test_a_resume_that_loads_a_copy_left_in_out_dir_instead_of_its_argument_loses_the_resume_check(tmp_path, save, load, says):
    """train saves each checkpoint twice, the second time as last.pt (by hand, or with the course's save_checkpoint),
    and resume loads that from out_dir, never the checkpoint it is given: every checkpoint of the run's folder is out
    of reach while resume runs (found by session 33's red team: 16/16)."""
    resume = RESUME.replace("    state = torch.load(checkpoint, weights_only=True)\n", load)
    got = scores(submission(tmp_path, ONE_BASED, resume=resume, save=save))
    points, message = got.pop("test_resume_continues_the_run")
    assert points == 0.0 and message.startswith(f"calling `resume` raised {says}: ") and message.endswith(
        "; the grader gives resume a copy of train's checkpoint in another folder: load the file that its checkpoint "
        "argument names, not one found in out_dir"), message
    assert got == {name: result for name, result in OK.items() if name != "test_resume_continues_the_run"}


def test_expected_totals_of_wrong_checkpoints_and_resumes():
    """A checkpoint without optimizer states costs both the file's check and the resume's; the
    0-based epoch read consistently by resume costs the epoch point only; a resume that saves off train's
    schedule, or fewer entries than train's, the point of resume's saves. (Totals of train's and resume's checks, as
    in test_expected_totals.)"""
    totals = {name: sum(p for check, (p, _) in result.items() if check != LATEST) for name, result in EXPECTED_RESUMES.items()}
    assert totals == {
        "same_shuffle_every_epoch_in_resume_too": 11.0,
        "epoch_saved_as_text": 15.0,
        "new_networks_under_the_old_optimizers": 14.0,
        "optimizer_states_not_saved": 11.0,
        "epoch_not_saved": 11.0,
        "resumes_at_the_saved_epoch": 12.0,
        "recreates_the_optimizers": 12.0,
        "saves_the_zero_based_epoch": 15.0,
        "rng_not_restored": 14.0,
        "noise_drawn_after_restoring_the_rng": 13.0,
        "resume_saves_nothing": 12.0,
        "resume_saves_weights_only": 12.0,
        "next_epoch_beside_the_epoch_and_resume_saves_nothing": 12.0,
        "loads_the_optimizers_crossed": 12.0,
        "loads_the_newest_checkpoint_in_out_dir": 12.0,
        "saves_the_next_epoch": 15.0,
        "rng_taken_before_the_epoch": 14.0,
        "reseeds_one_seed_every_epoch": 14.0,
        "checkpoint_as_a_list": 15.0,
        "losses_file_beside_the_checkpoint": 16.0,
        "rng_restored_before_make_gan": 14.0,
        "optimizer_states_saved_not_loaded": 12.0,
        "opt_g_saved_under_opt_d": 11.0,
        "g_saved_under_d": 11.0,
        "resume_saves_after_epoch_19": 15.0,
        "resume_saves_after_every_epoch": 15.0,
        "resume_tags_its_save_zero_based": 15.0,
        "loads_d_into_g": 12.0,
        "saves_new_optimizers_that_never_step": 11.0,
        "numpy_rng_in_the_checkpoint": 8.0,
        "resume_saves_without_the_rng_and_the_noise": 15.0,
    }


def test_a_misfiled_checkpoint_is_told_alike_in_the_sandbox(tmp_path):
    """The grader reads the files train saved after resume raised: across the proxy too."""
    body, resume, save = WRONG_RESUMES["g_saved_under_d"]
    path = submission(tmp_path, body, resume=resume, save=save)
    name = "test_resume_continues_the_run"
    assert grade_notebook(path, A, ROOT, only=[name]) == {name: EXPECTED_RESUMES["g_saved_under_d"][name]}


def test_a_state_under_the_other_networks_key_is_found_by_its_shapes():
    """G's and D's states are told apart by the shapes make_gan's networks have, under any key that names one of
    them by a word ("D", "netD", "optimizerD", "discriminator"), nested or not; keys that name neither are left alone."""
    module = checks_module()
    G, D = torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)
    shapes = {name: {k: list(v.shape) for k, v in net.state_dict().items()} for name, net in (("G", G), ("D", D))}
    params = {name: [list(p.shape) for p in net.parameters()] for name, net in (("G", G), ("D", D))}
    opt_g = torch.optim.Adam(G.parameters())
    G(torch.ones(1, 2)).sum().backward()
    opt_g.step()
    assert module.misfiled({"G": G.state_dict(), "D": D.state_dict()}, shapes, params) is None
    assert module.misfiled({"nets": {"netG": G.state_dict(), "netD": G.state_dict()}}, shapes, params).startswith(
        'holds G\'s weights under ["nets"]["netD"], not D\'s')
    assert module.misfiled({"optimizerD": opt_g.state_dict()}, shapes, params).startswith(
        'holds G\'s optimizer state under "optimizerD", not D\'s (gan.opt_g.state_dict() saved in its place)')
    assert module.misfiled({"generator_and_discriminator": G.state_dict(), "ema": G.state_dict()}, shapes, params) is None


SOLUTION_CELLS = cell_sources(SOLUTION)


def solution_cells(*edits: tuple[str, str, str]) -> tuple[str, str]:
    """The solution's `train` and `resume` cells with each (cell, old, new) replaced (old must occur)."""
    sources = {"train": SOLUTION_CELLS["train"], "resume": SOLUTION_CELLS["resume"]}
    for cell, old, new in edits:
        assert old in sources[cell], old
        sources[cell] = sources[cell].replace(old, new)
    return sources["train"], sources["resume"]


FIXED_NOISE = "    fixed_noise = torch.randn(NUM_SAMPLES, gan.nz)  # drawn once: every grid shows the same 64 z\n"
FIRST_EPOCH = "    for epoch in range(first, last + 1):  # 1-based: the epoch being trained\n"
# faults of the solution's own structure, train_epochs shared by train and resume: {name: (train, resume)}
WRONG_CELLS = {
    # fixed noise drawn before make_gan(seed) seeds torch: each run of train draws other noise
    "noise_drawn_before_make_gan": solution_cells(
        ("train", FIXED_NOISE, ""),
        ("train", "    gan = make_gan(seed)\n    out_dir = Path(out_dir)\n",
         "    fixed_noise = torch.randn(NUM_SAMPLES, NZ)\n    gan = make_gan(seed)\n    out_dir = Path(out_dir)\n"),
    ),
    # fixed noise drawn at the top of the loop both share: resume draws new noise after restoring the RNG
    "noise_drawn_in_the_shared_loop": solution_cells(("train", FIRST_EPOCH, FIXED_NOISE + FIRST_EPOCH)),
    # the checkpoints' state_dict()s kept in a list and written after training: state_dict() holds G's live tensors,
    # so epoch_010.pt and epoch_020.pt hold epoch 30's weights
    "state_dicts_written_after_training": (textwrap.dedent("""
        def train_epochs(gan: SimpleNamespace, fixed_noise: torch.Tensor, first: int, last: int, out_dir: Path) -> None:
            pending = []  # written after training, so that disk writes do not slow the epochs
            for epoch in range(first, last + 1):
                for x in gan.batches.epoch(epoch - 1):
                    step(gan, x)
                if epoch % SAVE_EVERY == 0:
                    with torch.no_grad():
                        samples = from_model_range(gan.G(fixed_noise), "tanh")
                    save_image_grid(samples, out_dir / "samples" / f"epoch_{epoch:03d}.png")
                    state = {"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(),
                             "opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict(),
                             "fixed_noise": fixed_noise, "rng": torch.get_rng_state()}
                    pending.append((state, out_dir / "checkpoints" / f"epoch_{epoch:03d}.pt"))
            for state, path in pending:
                save_checkpoint(state, path)


        def train(n_epochs: int, out_dir, seed: int = 0):
            gan = make_gan(seed)
            out_dir = Path(out_dir)
            fixed_noise = torch.randn(NUM_SAMPLES, gan.nz)
            train_epochs(gan, fixed_noise, 1, n_epochs, out_dir)
            return gan.G, gan.D
    """), SOLUTION_CELLS["resume"]),
}
EXPECTED_CELLS = {
    "noise_drawn_before_make_gan": {**OK, "test_resume_continues_the_run": (3.0, (
        "train(10, ...) and train(20, ...) of the same seed gave G different noise at their saves after epoch 10, so a "
        "resumed run's grids cannot match an uninterrupted run's: draw fixed_noise after make_gan(seed), which seeds torch, "
        "or from a generator of its own seeded with a fixed number"))},
    "noise_drawn_in_the_shared_loop": {**OK, "test_resume_continues_the_run": (1.0, RNG_NOT_FROM_CHECKPOINT + "; " + NOISE_NOT_FROM_CHECKPOINT)},
    "state_dicts_written_after_training": {**OK, "test_checkpoints_hold_g_and_d": (0.0, (
        "`epoch_010.pt` and `epoch_020.pt` and `epoch_030.pt` hold the very same weights of G, though saved for different "
        "epochs: G.state_dict() holds G's live tensors, so a state_dict kept and written later saves the weights G has then; "
        "torch.save each checkpoint when its epoch ends (or keep copy.deepcopy(G.state_dict())); checkpoints saved at epoch "
        "30 of a 30-epoch run, the sample grids at 10, 20, 30; save a checkpoint with each sample grid, and only then"))},
}


@pytest.mark.parametrize("name", list(WRONG_CELLS))
def test_wrong_cells_get_exact_scores_and_messages(tmp_path, name):
    assert scores(cells(tmp_path, *WRONG_CELLS[name])) == EXPECTED_CELLS[name]


# A cell that replaces the resume probe with one that reports a perfect resume; `resume` itself is
# left unwritten. FILES: what the forged probe leaves in the run's folder first.
FORGED_REPORT = """
def resume(checkpoint, n_epochs, out_dir, seed=0):
    raise NotImplementedError()

import reference.grading.probes_a3 as probes

def perfect(namespace, out_dir, n_first, n_total, seed=0, max_batches=2):
    FILES
    return {"checkpoint": f"ckpt_{n_first:03d}.pt", "after": n_first, "uninterrupted": list(range(n_total)),
            "resumed": list(range(n_first, n_total)), "resumed_built": True,
            "start": {"G": 0.0, "D": 0.0, "opt_g": 0.0, "opt_d": 0.0, "rng": True, "replaced": []},
            "end": {"G": 0.0, "D": 0.0}, "resumed_saved": True, "noise": True}

probes.resumed_train = perfect
"""
FORGERIES = {
    # a report and no files at all
    "report_only": "pass",
    # the real train run into both folders, as the real probe does, and no resume
    "real_runs_no_resume": 'namespace["train"](n_first, f"{out_dir}/interrupted"); namespace["train"](n_total, f"{out_dir}/uninterrupted")',
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_forged_resume_report_scores_nothing(tmp_path, name):
    """A cell that makes the probe report a perfect resume, with no resume written, gets none of its points: the worker
    puts the probe back before the check's request (reference/grading/pristine.py), so the real probe runs the
    unwritten resume; and were the forgery to stay, the check reads the runs' checkpoint files itself
    (test_resumed_files_error_holds_the_report_to_the_files)."""
    files = FORGERIES[name]
    assert sandboxed(submission(tmp_path, ONE_BASED, resume=FORGED_REPORT.replace("FILES", files))) == {
        **OK, "test_resume_continues_the_run": (0.0, "`resume` is not implemented yet: it raises NotImplementedError "
                                                     "(replace that line with your code)")}


def test_resumed_files_error_holds_the_report_to_the_files(tmp_path):
    module = checks_module()
    net = torch.nn.Linear(2, 1)
    read = lambda obj: module.checkpoint_values("x.pt", saved(obj))  # noqa: E731
    ten, twenty = read({"G": net.state_dict(), "epoch": 10}), read({"G": net.state_dict(), "epoch": 20})
    with torch.no_grad():
        net.weight.add_(1.0)
    moved = read({"G": net.state_dict(), "epoch": 20})
    bare = read({"G": net.state_dict()})
    uninterrupted = {"ckpt_010.pt": ten, "ckpt_020.pt": twenty}
    error = lambda resumed, theirs=uninterrupted, compare=True: module.resumed_files_error(resumed, theirs, "ckpt_010.pt", 10, compare)  # noqa: E731
    assert error({"ckpt_010.pt": ten, "ckpt_020.pt": twenty}) is None
    assert error({"ckpt_010.pt": ten, "elsewhere/e20.pt": twenty}) is None, "the path is not what is judged"
    assert "no checkpoint of a later epoch than 10" in error({"ckpt_010.pt": ten})
    assert "no checkpoint of a later epoch than 10" in error({"ckpt_010.pt": ten, "last.pt": bare}), "no epoch stored"
    assert "weights differ" in error({"ckpt_010.pt": ten, "ckpt_020.pt": moved})
    assert error({"ckpt_010.pt": ten, "ckpt_020.pt": moved}, compare=False) is None  # a later checkpoint is there
    assert error({"ckpt_010.pt": ten, "ckpt_020.pt": moved}, {"ckpt_010.pt": ten}) is None, "nothing of epoch 20 to compare with"
    assert "found no `ckpt_010.pt`" in error({"ckpt_020.pt": twenty})
    # no epoch stored: the file of a later number in its path, compared with the uninterrupted run's of that path
    bare_twenty, bare_moved = read([net.state_dict(), 20]), read([{"w": net.weight.detach() + 1}, 20])
    assert error({"ckpt_010.pt": ten, "20.pt": bare_twenty}, {"ckpt_010.pt": ten, "20.pt": bare_twenty}) is None
    assert "uninterrupted run's `20.pt` holds" in error({"ckpt_010.pt": ten, "20.pt": bare_moved}, {"20.pt": bare_twenty})
    # two files of epoch 20 (a losses file beside the checkpoint): each compared with the file of its own path
    losses = read({"epoch": 20, "losses": torch.zeros(3)})
    both = {"ckpt_010.pt": ten, "ckpt_020.pt": twenty, "losses_020.pt": losses}
    assert error(both, {"ckpt_010.pt": ten, "ckpt_020.pt": twenty, "losses_020.pt": losses}) is None
    pickled = module.checkpoint_values("x.pt", saved(net))
    assert pickled[0] is not None and "pickled" in error({"ckpt_010.pt": ten, "ckpt_020.pt": pickled})


def test_checkpoint_files_lists_only_regular_checkpoint_files_and_never_follows_a_link(tmp_path):
    module = checks_module()
    run = tmp_path / "runs" / "uninterrupted"
    (run / "sub").mkdir(parents=True)
    torch.save({"G": torch.nn.Linear(2, 1).state_dict(), "epoch": 10}, run / "sub" / "ckpt_010.pt")
    (run / "notes.txt").write_text("not a checkpoint")
    secret = tmp_path / "secret.pt"
    torch.save({"w": torch.zeros(1)}, secret)
    (run / "link.pt").symlink_to(secret)
    files = module.checkpoint_files(tmp_path, "runs/uninterrupted")
    assert list(files) == ["sub/ckpt_010.pt"] and files["sub/ckpt_010.pt"][0] is None
    assert files["sub/ckpt_010.pt"][1]["epochs"] == [10]
    assert module.checkpoint_files(tmp_path, "runs/missing") == {}


def test_a_checkpoint_crafted_to_run_code_never_runs_in_the_grader(tmp_path):
    """A checkpoint whose unpickling would create a folder on the grader's side: it is refused
    with a message, and the folder never appears."""
    marker = tmp_path / "the-grader-unpickled-it"
    before = f"""
        class Payload:
            def __reduce__(self):
                return (os.mkdir, ({str(marker)!r},))
    """
    body = """
        noise = torch.randn(64, gan.nz)
        for epoch in range(1, n_epochs + 1):
            for x in gan.batches.epoch(epoch - 1):
                step(gan, x)
            if epoch % 10 == 0:
                with torch.no_grad():
                    save_image_grid(from_model_range(gan.G(noise), "tanh"), out_dir / f"{epoch}.png")
                state = {"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
                         "opt_d": gan.opt_d.state_dict(), "fixed_noise": noise, "rng": torch.get_rng_state()}
                torch.save({**state, "extra": Payload()}, out_dir / f"{epoch}.pt")
    """
    (tmp_path / "nb").mkdir()
    result = sandboxed(submission(tmp_path / "nb", body, before))
    refused = "`10.pt` holds a pickled `posix.mkdir`: only the full unpickler loads it, and that can run code, so the grader does not; leave the `mkdir` out of the checkpoint: a checkpoint holds state_dicts, tensors and numbers (make_gan(seed) rebuilds the rest)"
    earned, message = result.pop("test_resume_continues_the_run")  # its own torch.load(weights_only=True) refuses the file too
    assert (earned, message) == (0.0, f"`resume` could not load the checkpoint that train(10, ...) saved: {refused}")
    assert result == {
        **{name: ok for name, ok in OK.items() if name != "test_resume_continues_the_run"},
        "test_checkpoints_hold_g_and_d": (0.0, refused),
        "test_checkpoints_hold_optimizers_and_epoch": (0.0, refused),
    }
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# The probe and the trusted side's readers, in this process
# ---------------------------------------------------------------------------------------------


class TinyBatches:
    """Three batches of 2 per epoch."""

    def __len__(self) -> int:
        return 3

    def epoch(self, epoch: int):
        for _ in range(3):
            yield torch.zeros(2, 4)


def make_tiny_gan(seed: int = 0) -> types.SimpleNamespace:
    torch.manual_seed(seed)
    return types.SimpleNamespace(G=torch.nn.Linear(3, 4), D=torch.nn.Linear(4, 1), nz=3, batches=TinyBatches())


def tiny_notebook(source: str) -> dict:
    """A notebook's globals: torch, Path, a tiny `make_gan`, and what `source` defines."""
    namespace = {"torch": torch, "Path": Path, "make_gan": make_tiny_gan}
    exec(textwrap.dedent(source), namespace)
    return namespace


SAVES_AFTER_EPOCHS_2_4 = """
def train(n_epochs, out_dir, seed=0):
    # saves after epochs 2, 4: G(noise) as a text "grid", the whole G pickled; one G call per batch
    gan = make_gan(seed)
    noise = torch.randn(5, gan.nz)
    out = Path(out_dir)
    for epoch in range(n_epochs):
        for x in gan.batches.epoch(epoch):
            gan.G(torch.randn(2, gan.nz))
        if (epoch + 1) % 2 == 0:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{epoch + 1}.txt").write_text(str(gan.G(noise).sum().item()))
            torch.save(gan.G, out / "G.pt")  # the recording hook must not stop a whole module from pickling
            (out / ".partial").write_text("hidden files are temporary files")
    return gan.G, gan.D
"""


def test_watched_train_reports_writes_noise_and_shapes_and_restores_make_gan(tmp_path):
    namespace = tiny_notebook(SAVES_AFTER_EPOCHS_2_4)
    out = tmp_path / "runs" / "run"
    (out / "old").mkdir(parents=True)
    (out / "old" / "from-an-earlier-run.png").write_text("stale")
    record = probes_a3.watched_train(namespace, str(out), 5, max_batches=2)
    assert namespace["make_gan"] is make_tiny_gan
    assert record["epochs_started"] == 5
    assert record["shapes"] == {"G": {"weight": [4, 3], "bias": [4]}, "D": {"weight": [1, 4], "bias": [1]}}
    periods = [(p["when"], p["epoch"], p["files"]) for p in record["periods"]]
    assert periods == [("after", 2, ["2.txt", "G.pt"]), ("after", 4, ["4.txt", "G.pt"])]
    z2, z4 = (p["inputs"] for p in record["periods"])
    assert len(z2) == len(z4) == 1 and torch.equal(z2[0], z4[0]) and z2[0].shape == (5, 3)
    assert not (out / "old").exists()  # an earlier run's files are gone before the run starts
    (tmp_path / "runs" / "another-run").mkdir()
    probes_a3.remove(str(out))
    assert not out.exists() and (tmp_path / "runs").exists()  # a parent with another run stays
    probes_a3.remove(str(tmp_path / "runs" / "another-run"))
    assert not (tmp_path / "runs").exists()


def test_watched_train_labels_writes_inside_the_batch_loop(tmp_path):
    """A write after an epoch's first batch, with another batch of the epoch to come, is "during" it."""
    namespace = tiny_notebook("""
        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            for epoch in range(n_epochs):
                for i, x in enumerate(gan.batches.epoch(epoch)):
                    if i == 0:
                        Path(out_dir).mkdir(exist_ok=True)
                        (Path(out_dir) / f"{epoch}.png").write_bytes(b"")
    """)
    record = probes_a3.watched_train(namespace, str(tmp_path / "run"), 2, max_batches=2)
    assert [(p["when"], p["epoch"], p["files"]) for p in record["periods"]] == [("during", 1, ["0.png"]), ("during", 2, ["1.png"])]


def test_the_run_folder_is_inside_the_scratch_folder_and_removed(tmp_path):
    namespace = tiny_notebook("""
        SEEN = []
        def train(n_epochs, out_dir, seed=0):
            SEEN.append(out_dir)
            raise NotImplementedError
    """)
    sub = LocalSubmission(namespace, scratch=tmp_path)
    earned, message = run_check(load_checks(A, ROOT)["test_saves_at_epochs_10_20_30"], sub)
    assert (earned, message) == (0.0, "`train` is not implemented yet: it raises NotImplementedError (replace that line with your code)")
    assert Path(namespace["SEEN"][0]).resolve().is_relative_to(tmp_path.resolve())
    assert not (tmp_path / ".a3-grading").exists()


def test_the_checks_read_files_without_following_a_link_or_reading_a_special_file(tmp_path):
    """The checks read the runs' files with `read_scratch_bytes` (reference.grading.submission)."""
    from reference.grading.submission import NotARegularFile, TooLarge, read_scratch_bytes

    assert checks_module().read_scratch_bytes is read_scratch_bytes
    secret = tmp_path / "secret.txt"
    secret.write_text("the grader's file")
    run = tmp_path / "scratch" / "run"
    run.mkdir(parents=True)
    (run / "grid.png").write_bytes(b"png")
    (run / "link.png").symlink_to(secret)
    (tmp_path / "scratch" / "linked-folder").symlink_to(tmp_path)
    os.mkfifo(run / "fifo.png")
    root = tmp_path / "scratch"
    assert read_scratch_bytes(root, "run/grid.png") == b"png"
    for path in ("run/link.png", "linked-folder/secret.txt", "../secret.txt", str(secret)):
        with pytest.raises(OSError):
            read_scratch_bytes(root, path)
    with pytest.raises(NotARegularFile):
        read_scratch_bytes(root, "run/fifo.png")
    with pytest.raises(TooLarge, match="larger than"):
        read_scratch_bytes(root, "run/grid.png", limit=2)


def test_relative_accepts_only_plain_relative_paths():
    relative = checks_module().relative
    assert relative("samples/epoch_010.png") == "samples/epoch_010.png"
    for bad in ("../x.png", "/etc/passwd", "a/../../x", "", "a\x00b", 3, None):
        assert relative(bad) is None


def test_a_forged_record_is_a_failed_check_not_a_crash():
    class Forged:
        remote, scratch = True, Path("/nonexistent")

        def get(self, name):
            return name

        def run(self, fn, *args, **kwargs):
            return {"epochs_started": "thirty", "periods": []} if fn is probes_a3.watched_train else None

    module = checks_module()
    module._RUNS.clear()
    assert run_check(module.test_saves_at_epochs_10_20_30, Forged()) == (0.0, module.MALFORMED)


class TinyAdamGan:
    """make_gan of a tiny GAN with Adam optimizers (the batches of TinyBatches)."""

    def __call__(self, seed: int = 0) -> types.SimpleNamespace:
        torch.manual_seed(seed)
        G, D = torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)
        return types.SimpleNamespace(G=G, D=D, nz=3, batches=TinyBatches(),
                                     opt_g=torch.optim.Adam(G.parameters()), opt_d=torch.optim.Adam(D.parameters()))


TINY_RUN = """
def step(gan, x):
    loss = gan.D(gan.G(torch.randn(2, gan.nz))).square().mean() + gan.D(x).mean()
    gan.opt_g.zero_grad()
    gan.opt_d.zero_grad()
    loss.backward()
    gan.opt_g.step()
    gan.opt_d.step()


def epochs(gan, noise, first, last, out):
    for epoch in range(first, last + 1):
        for x in gan.batches.epoch(epoch - 1):
            step(gan, x)
        if epoch % 2 == 0:  # saves after epochs 2, 4, ...
            out.mkdir(parents=True, exist_ok=True)
            gan.G(noise)
            state = {name: getattr(gan, name).state_dict() for name in ("G", "D", "opt_g", "opt_d")}
            torch.save({**state, "epoch": epoch, "noise": noise, "rng": torch.get_rng_state()}, out / f"{epoch}.pt")


def train(n_epochs, out_dir, seed=0):
    gan = make_gan(seed)
    epochs(gan, torch.randn(5, gan.nz), 1, n_epochs, Path(out_dir))
    return gan.G, gan.D


def resume(checkpoint, n_epochs, out_dir, seed=0):
    gan = make_gan(seed)
    state = torch.load(checkpoint, weights_only=True)
    for name in LOADED:
        getattr(gan, name).load_state_dict(state[name])
    if RESTORE_RNG:
        torch.set_rng_state(state["rng"])
    if NEW_OPT_G:
        gan.opt_g = torch.optim.Adam(gan.G.parameters())
    epochs(gan, state["noise"], state["epoch"] + START, n_epochs, Path(out_dir))
    return gan.G, gan.D
"""


def resumed(tmp_path, loaded=("G", "D", "opt_g", "opt_d"), restore_rng=True, start=1, new_opt_g=False, epochs=(5, 7)) -> dict:
    namespace = tiny_notebook(TINY_RUN)
    namespace.update(make_gan=TinyAdamGan(), LOADED=loaded, RESTORE_RNG=restore_rng, START=start, NEW_OPT_G=new_opt_g)
    record = probes_a3.resumed_train(namespace, str(tmp_path / "runs" / "resumed"), *epochs, max_batches=2)
    assert isinstance(namespace["make_gan"], TinyAdamGan)
    return record


ON_THE_LAST_BATCH = """
def step(gan, x):
    loss = gan.D(gan.G(torch.randn(2, gan.nz))).square().mean() + gan.D(x).mean()
    gan.opt_g.zero_grad()
    gan.opt_d.zero_grad()
    loss.backward()
    gan.opt_g.step()
    gan.opt_d.step()


def train(n_epochs, out_dir, seed=0):
    # saves after epochs 2, 4, inside the batch loop on the epoch's last batch, before or after its step
    gan = make_gan(seed)
    out = Path(out_dir)
    out.mkdir(parents=True)
    for epoch in range(n_epochs):
        for i, x in enumerate(gan.batches.epoch(epoch)):
            last = (epoch + 1) % 2 == 0 and i == len(gan.batches) - 1
            if last and BEFORE_THE_STEP:
                torch.save(gan.G.state_dict(), out / f"{epoch + 1}.pt")
            step(gan, x)
            if last and not BEFORE_THE_STEP:
                torch.save(gan.G.state_dict(), out / f"{epoch + 1}.pt")
    return gan.G, gan.D
"""


@pytest.mark.parametrize("before_the_step", [False, True])
def test_a_save_on_the_epochs_last_batch_is_after_the_epoch_unless_a_step_follows(tmp_path, before_the_step):
    """A save inside the batch loop on the epoch's last batch, after its step, writes what a save after the
    loop writes: it is "after" the epoch (marked inside the loop); before the step, G and D change after the
    files appear, and it is "during" the epoch."""
    namespace = tiny_notebook(ON_THE_LAST_BATCH)
    namespace.update(make_gan=TinyAdamGan(), BEFORE_THE_STEP=before_the_step)
    record = probes_a3.watched_train(namespace, str(tmp_path / "run"), 5, max_batches=2)
    when = "during" if before_the_step else "after"
    assert [(p["when"], p["epoch"], p["files"], p["inside"]) for p in record["periods"]] == [
        (when, 2, ["2.pt"], True), (when, 4, ["4.pt"], True)]
    from torch.optim.optimizer import _global_optimizer_pre_hooks

    assert not _global_optimizer_pre_hooks, "the probe's step hook is removed after the run"


def test_the_noise_of_a_save_is_compared_whatever_the_number_of_calls():
    """G given the fixed noise twice at one save (a final save after the loop beside the scheduled
    one) received the same noise as G given it once; other noise, or noise missing, is not the same."""
    z, w = torch.randn(64, 100), torch.randn(64, 100)
    assert probes_a3._same_inputs([z], [z.clone(), z.clone()]) and probes_a3._same_inputs([z, z], [z])
    assert probes_a3._same_inputs([z, w], [w, z]) and probes_a3._same_inputs([], [])
    assert not probes_a3._same_inputs([z], [z, w]) and not probes_a3._same_inputs([w], [z]) and not probes_a3._same_inputs([], [z])


def test_resumed_train_measures_an_exact_resume(tmp_path):
    record = resumed(tmp_path)
    assert len(record["uninterrupted_rng"]) == 7 and len(set(record["uninterrupted_rng"])) == 7  # every epoch its own state
    assert record == {
        "checkpoint": "4.pt", "after": 4, "uninterrupted": [0, 1, 2, 3, 4, 5, 6], "resumed": [4, 5, 6], "resumed_built": True,
        "uninterrupted_rng": record["uninterrupted_rng"], "uninterrupted_saves": [2, 4, 6], "train_noise": True,
        "checkpoint_holds": {"rng": True, "noise": True, "optimizers": 2, "an_rng": True},
        "start": {"G": 0.0, "D": 0.0, "opt_g": 0.0, "opt_d": 0.0, "rng": True, "rng_of_epoch": 5, "replaced": [], "orphans": [], "stuck": []}, "end": {"G": 0.0, "D": 0.0},
        "resumed_saved": True, "resumed_drew": True, "noise": True, "beside_checkpoint": [],
        "again": None,  # the uninterrupted run of 7 epochs saved last after epoch 6: no checkpoint of a finished run
    }


def test_resumed_train_resumes_a_finished_run_from_its_last_checkpoint(tmp_path):
    """resume given the checkpoint an uninterrupted run saved after its last epoch trains nothing; one that starts an
    epoch early (START = 0) trains that epoch again."""
    assert resumed(tmp_path / "exact", epochs=(4, 6))["again"] == {"after": 6, "epochs": []}
    assert resumed(tmp_path / "early", start=0, epochs=(4, 6))["again"] == {"after": 6, "epochs": [5]}


def test_resumed_train_measures_what_a_resume_lost(tmp_path):
    record = resumed(tmp_path / "rng", restore_rng=False)
    assert record["start"] == {"G": 0.0, "D": 0.0, "opt_g": 0.0, "opt_d": 0.0, "rng": False, "rng_of_epoch": False, "replaced": [], "orphans": [], "stuck": []} and record["end"]["G"] > 1e-4
    record = resumed(tmp_path / "moments", loaded=("G", "D"))
    assert record["start"] == {"G": 0.0, "D": 0.0, "opt_g": "empty", "opt_d": "empty", "rng": True, "rng_of_epoch": 5, "replaced": [], "orphans": [], "stuck": []}
    record = resumed(tmp_path / "new", new_opt_g=True)
    assert record["start"] == {"G": 0.0, "D": 0.0, "opt_g": "empty", "opt_d": 0.0, "rng": True, "rng_of_epoch": 5, "replaced": ["opt_g"], "orphans": [], "stuck": []}
    record = resumed(tmp_path / "weights", loaded=("D", "opt_g", "opt_d"))
    assert record["start"]["G"] > 1e-4 and record["start"]["D"] == 0.0
    record = resumed(tmp_path / "repeats", start=0)
    assert record["resumed"] == [3, 4, 5, 6] and record["start"]["G"] == 0.0  # the state it starts from is right


def saved(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def test_load_checkpoint_reads_state_dicts_and_refuses_what_could_run_code(tmp_path):
    load, digest = checks_module().load_checkpoint, checks_module()._weights_digest
    G = torch.nn.Linear(3, 4)
    nothing = {"states": [], "digests": [], "optimizers": [], "epochs": [], "epoch_texts": []}
    assert load("a.pt", saved({"epoch": 10, "G": G.state_dict()})) == (
        None, {**nothing, "states": [{"weight": [4, 3], "bias": [4]}], "digests": [digest(G.state_dict())], "epochs": [10]})
    opt = torch.optim.Adam(G.parameters())
    G(torch.ones(2, 3)).sum().backward()
    opt.step()
    contents = {"nets": {"G": G.state_dict()}, "optimizers": [opt.state_dict()], "progress": {"last_epoch": 20.0, "lr": 2e-4}}
    assert load("o.pt", saved(contents)) == (
        None, {"states": [{"weight": [4, 3], "bias": [4]}], "digests": [digest(G.state_dict())], "optimizers": [[[[4, 3], [4, 3]], [[4], [4]]]],
               "epochs": [20], "epoch_texts": []}
    )
    marker = tmp_path / "the-grader-unpickled-it"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    problem, states = load("b.pt", saved({"G": G.state_dict(), "x": Payload()}))
    assert problem.startswith("`b.pt` holds a pickled `posix.mkdir`: only the full unpickler loads it") and states == nothing
    assert not marker.exists()
    assert load("c.pt", saved(G))[0].startswith("`c.pt` holds a pickled `torch.nn.modules.linear.Linear`")
    legacy = saved(G, _use_new_zipfile_serialization=False)  # one weights_only reads is rewritten by the probe first
    assert load("d.pt", legacy)[0] == (
        "`d.pt` is in torch.save's legacy format (_use_new_zipfile_serialization=False) and does not load with "
        "torch.load(weights_only=True); keep only state_dicts, tensors and numbers in a checkpoint, and save it with "
        "torch.save(obj, path)"
    )
    assert load("d.pt", b"not a checkpoint")[0] == (
        "`d.pt` is not a file written by torch.save (not its zip format); save checkpoints with torch.save")
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * 10_000)
    assert load("e.pt", packed.getvalue())[0] == (
        "`e.pt` is a zip archive torch.save does not write (compressed or over 100 MB); save checkpoints with torch.save"
    )
    shadowed = G.state_dict()
    shadowed["weight"].numel = torch.Size  # saved with the tensor: torch.load sets it again, and numel() answered Size([])
    shadowed["weight"].is_contiguous = torch.Size
    assert load("g.pt", saved({"G": shadowed, "epoch": 20})) == (
        None, {"states": [{"weight": [4, 3], "bias": [4]}], "digests": [digest(G.state_dict())], "optimizers": [], "epochs": [20],
               "epoch_texts": []}
    )
    colliding = {(2**61 - 1) * k: k for k in range(1, 4)}  # keys sharing one hash: a few thousand of them hold the grader
    assert load("f.pt", saved({"G": G.state_dict(), "losses": colliding})) == (
        "`f.pt` is refused: it holds a dict or set whose keys would cost the grader more than their size (large ints or "
        "tuples as keys); keep tensors, numbers and state_dicts in a checkpoint",
        nothing,
    )


def test_a_checkpoint_of_expanded_views_is_refused_before_they_are_made_dense():
    """A file of a few KB whose tensors are views of one stored number claiming 2**26 elements each
    (under the limit of one tensor) made the grader allocate 512 MB for each when it made them dense;
    the tensors of a file may now claim no more bytes, in all, than about twice the file. A right
    checkpoint with a small expanded view among its tensors still loads."""
    load = checks_module().load_checkpoint
    views = {f"w{i}": torch.zeros(1, dtype=torch.float64).expand(2**26) for i in range(2)}  # 1 GB dense
    data = saved({"G": views, "epoch": 10})
    assert len(data) < 20_000
    problem, contents = load("x.pt", data)
    assert problem == ("`x.pt` holds views that repeat a stored element into more bytes than its file holds (expand(): save "
                       ".clone() of them), more than the grader reads; save the networks' state_dicts")
    assert contents["states"] == []
    G = torch.nn.Linear(3, 4)
    assert load("y.pt", saved({"G": G.state_dict(), "mask": torch.ones(1).expand(10), "epoch": 10}))[0] is None


def test_a_numpy_number_in_a_checkpoint_is_told_apart_from_a_numpy_array():
    """np.mean(losses) saved beside the state is a numpy number: the message says how to store a number,
    not that a random state is in the file; an array is told how to become a tensor."""
    import numpy as np

    load = checks_module().load_checkpoint
    problem, _ = load("n.pt", saved({"epoch": 10, "loss_d": np.mean([0.5, 0.25])}))
    assert problem == (
        "`n.pt` holds a numpy number (pickled as `numpy._core.multiarray.scalar`; np.mean or np.float64 makes one), which "
        "torch.load(weights_only=True) refuses: store it as a Python number, float(x) or x.item(), or keep it out"
    )
    problem, _ = load("a.pt", saved({"epoch": 10, "losses": np.array([0.5, 0.25])}))
    assert problem.startswith("`a.pt` holds a numpy value (pickled as `numpy._core.multiarray._reconstruct`") and "torch.from_numpy" in problem


def test_a_networks_state_dict_is_found_behind_a_prefix():
    """G's weights in one state dict of both networks ("generator." keys, as Lightning saves them), behind
    DataParallel's "module." or torch.compile's "_orig_mod.": G's; part of G, or a map of losses, is not."""
    holds = checks_module()._holds
    G = {"net.0.weight": [256, 100], "net.0.bias": [256], "net.2.weight": [784, 256]}
    both = {**{f"generator.{k}": v for k, v in G.items()}, "discriminator.net.0.weight": [1, 784]}
    assert holds([both], G) and holds([G], G)
    assert holds([{f"module.{k}": v for k, v in G.items()}], G) and holds([{f"_orig_mod.{k}": v for k, v in G.items()}], G)
    assert not holds([{"generator.net.0.weight": [256, 100], "generator.net.0.bias": [256]}], G)
    assert not holds([{"loss_d": [3], "loss_g": [3]}], G) and not holds([], G)


def test_a_pickled_object_is_told_what_to_save_instead():
    """An optimizer pickled whole is told to save its state_dict; a network, the networks' state_dicts; any
    other object of the course or torch (the loss, a scheduler), to keep only state_dicts, tensors and numbers; a
    method or a function saved without its call, to call it."""
    load = checks_module().load_checkpoint
    G = torch.nn.Linear(2, 1)
    refused = "only the full unpickler loads it, and that can run code, so the grader does not; "
    cases = {
        "opt.pt": ({"epoch": 10, "opt_g": torch.optim.Adam(G.parameters())}, "`torch.optim.adam.Adam`: ",
                   "save the optimizers' states, gan.opt_g.state_dict() and gan.opt_d.state_dict(), not the optimizers, and "
                   "load them with load_state_dict into the optimizers make_gan built"),
        "net.pt": ({"G": G}, "`torch.nn.modules.linear.Linear`: ", 'save state_dicts, torch.save({"G": G.state_dict(), "D": D.state_dict()}, path)'),
        "loss.pt": ({"loss": __import__("reference.losses", fromlist=["get_loss"]).get_loss("non-saturating")},
                    "`reference.losses.NonSaturating`: ", "keep only state_dicts, tensors and numbers in a checkpoint (make_gan(seed) rebuilds the rest)"),
        # a method or a function saved without its call (red-team finding: told to "save state_dicts", which it meant to)
        "method.pt": ({"opt_d": torch.optim.Adam(G.parameters()).state_dict}, "method (`getattr` in the pickle): ",
                      "a method was saved in place of what it returns (such as `gan.opt_d.state_dict` without its parentheses): "
                      "call it, gan.opt_d.state_dict(), and save its result"),
        "function.pt": ({"rng": torch.get_rng_state}, "`torch.random.get_rng_state`: ",
                        "a function was saved in place of what it returns: call it, torch.random.get_rng_state(), and save its result"),
    }
    for name, (state, what, fix) in cases.items():
        problem, _ = load(name, saved(state))
        assert problem == f"`{name}` holds a pickled {what}{refused}{fix}", problem


def reseed_run(starts: list[str], saves: list[int]):
    """A Run-like record: epochs starting from RNG states `starts` (digests), saves after epochs `saves`."""
    return types.SimpleNamespace(rng_starts=starts, periods=[("after", k, [f"{k}.png"], []) for k in saves])


def test_only_a_reseed_at_the_saves_is_charged_to_the_noise_check():
    """Epochs 11-20 starting from the states of 21-30 (a save reseeds torch) are told by where the repeats
    begin, epoch 1 too when train reseeds before its own draw; a run that reseeds every epoch with one
    seed, a run whose states never repeat, and a record without digests are not charged here."""
    reseeded = checks_module().reseeded_at_saves
    block = [f"s{i}" for i in range(10)]
    assert reseeded(reseed_run([f"a{i}" for i in range(10)] + block + block, [10, 20, 30])) == [11, 21]
    assert reseeded(reseed_run(block * 3, [10, 20, 30])) == [1, 11, 21]
    assert reseeded(reseed_run(["same"] * 30, [10, 20, 30])) == []
    assert reseeded(reseed_run([f"a{i}" for i in range(30)], [10, 20, 30])) == []
    assert reseeded(reseed_run([], [10, 20, 30])) == []
    assert reseeded(reseed_run([None] * 30, [10, 20, 30])) == []


def test_a_run_that_replays_random_states_is_charged_to_the_resume_check():
    """The uninterrupted run of the resume check replaying random states (one seed at every epoch, or
    at some other point) costs the resume check's random-number share; a reseed at the saves is the
    noise check's (reseeded_at_saves), and a run whose states never repeat is right."""
    fault = checks_module().replay_fault
    block = [f"s{i}" for i in range(10)]
    assert fault({"uninterrupted_rng": ["same"] * 20, "uninterrupted_saves": [10, 20]}).startswith(
        "train reseeds torch's global generator with one seed at the start of every epoch: every epoch starts from the same random state")
    assert "during the run: epochs 6, 7, 8, 9, 10, 16, 17, ..., 20 start from the random state of an earlier epoch" in fault(
        {"uninterrupted_rng": block[:5] * 2 + block[5:] + block[5:], "uninterrupted_saves": [10, 20]})
    assert fault({"uninterrupted_rng": block * 2, "uninterrupted_saves": [10, 20]}) is None  # reseeded at the save after epoch 10
    assert fault({"uninterrupted_rng": [f"a{i}" for i in range(20)], "uninterrupted_saves": [10, 20]}) is None
    assert fault({"uninterrupted_rng": None, "uninterrupted_saves": None}) is None


def test_grid_pixels_are_judged_against_the_images_g_made():
    """A grid of G's images mapped by (x + 1) / 2 or stretched by normalize=True is right; the same images
    clipped to [0, 1], or scaled by 255 and cast to uint8 (negatives wrapped), are named; images the grid
    cannot be matched with (no 64 of them) are not judged."""
    from PIL import Image
    from torchvision.utils import make_grid, save_image

    problem = checks_module().mapping_problem
    made = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    right = [lambda f: save_image((made + 1) / 2, f, format="png"), lambda f: save_image(made, f, format="png", normalize=True),
             lambda f: save_image(made, f, format="png", normalize=True, value_range=(-1, 1))]
    for write in right:
        assert problem("a.png", png(write), [made]) is None
    assert problem("a.png", png(lambda f: save_image(made, f, format="png")), [made]).startswith(
        "`a.png` shows G's images with every negative value black")
    wrapped = (make_grid(made).permute(1, 2, 0).numpy() * 255).astype("uint8")
    assert problem("b.png", png(lambda f: Image.fromarray(wrapped).save(f, format="png")), [made]).startswith(
        "`b.png` shows G's images scaled by 255 without mapping them")
    assert problem("c.png", png(lambda f: save_image(made, f, format="png")), [made[:32]]) is None
    assert problem("c.png", png(lambda f: save_image(made, f, format="png")), [made[:32], made[32:]]) is not None  # 8 rows at a time


def test_grid_pixels_that_are_not_g_images_mapped_from_minus_one_to_one_are_named():
    """Any drawing of G's images that maps them to [0, 1] is right (per image too, through a colour map, or
    in another order or orientation); G's images drawn through any other straight line (halved, shifted,
    inverted, squashed by a sigmoid), samples of one flat colour, and other images than those G made at
    the save (the real batch) are named."""
    import matplotlib.pyplot as plt
    from PIL import Image
    from torchvision.utils import make_grid, save_image

    problem = checks_module().mapping_problem
    made = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    other = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    right = {
        "each": lambda f: save_image(made, f, format="png", normalize=True, scale_each=True),
        "viridis": lambda f: plt.imsave(f, make_grid(made, normalize=True)[0].numpy(), format="png"),
        "reordered": lambda f: save_image((made.flip(0) + 1) / 2, f, format="png"),
        "transposed": lambda f: save_image((made.transpose(2, 3) + 1) / 2, f, format="png"),
        "also_made_other": lambda f: save_image((made + 1) / 2, f, format="png"),
        # plt.imsave's gray colour map stretches the whole grid, padding included: an unclipped line at full contrast
        "imsave_gray": lambda f: plt.imsave(f, make_grid((0.8 * made + 1) / 2, pad_value=1)[0].numpy(), cmap="gray", format="png"),
        "coolwarm": lambda f: plt.imsave(f, make_grid((made + 1) / 2)[0].numpy(), cmap="coolwarm", vmin=0, vmax=1, format="png"),
        "sixteen_bit": lambda f: Image.fromarray((make_grid((made + 1) / 2)[0].numpy() * 65535).round().astype("uint16")).save(f, format="png"),
    }
    for how, write in right.items():
        made_there = {"also_made_other": [made, other], "imsave_gray": [0.8 * made]}.get(how, [made])
        assert problem("a.png", png(write), made_there) is None, how
    wrong = {
        "halved": (lambda f: save_image(made * 0.5, f, format="png"), "shows G's images, but at levels of about 127 * x + 0"),
        "plus_one": (lambda f: save_image(made + 1, f, format="png"), "shows G's images, but at levels of about 255 * x + 255"),
        "sigmoid": (lambda f: save_image(torch.sigmoid(made), f, format="png"), "shows G's images, but at levels of about 61 * x + 128"),
        "inverted": (lambda f: save_image((1 - made) / 2, f, format="png"), "shows G's images inverted"),
        "levels_into_save_image": (lambda f: save_image((made + 1) * 127.5 + 1, f, format="png"), "`a.png`'s 64 samples are white"),
        "real_batch": (lambda f: save_image((other + 1) / 2, f, format="png"), "`a.png` does not show the 64 images G returned"),
        "one_sample_64_times": (lambda f: save_image((made[:1].expand(64, -1, -1, -1) + 1) / 2, f, format="png"),
                                "`a.png` shows 1 different samples among its 64"),
        "half_the_samples_twice": (lambda f: save_image((made[:32].repeat(2, 1, 1, 1) + 1) / 2, f, format="png"),
                                   "`a.png` shows 32 different samples among its 64"),
    }
    for how, (write, start) in wrong.items():
        told = problem("a.png", png(write), [made])
        assert told is not None and told.startswith(f"`a.png` {start}" if not start.startswith("`") else start), (how, told)


def png(write) -> bytes:
    buffer = io.BytesIO()
    write(buffer)
    return buffer.getvalue()


def test_grid_problem_tells_a_figure_from_a_grid():
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid, save_image

    problem = checks_module().grid_problem
    images = torch.rand(64, 1, 28, 28)
    grid = make_grid(images, nrow=8).permute(1, 2, 0).numpy()  # (242, 242, 3)
    assert problem("a.png", png(lambda f: save_image(images, f, format="png"))) is None
    assert problem("b.png", png(lambda f: plt.imsave(f, grid, format="png"))) is None  # the grid's own pixels

    def figure(f):
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.imshow(grid)
        ax.set_title("epoch 10")
        fig.savefig(f, format="png")
        plt.close(fig)

    assert problem("c.png", png(figure)) == (
        "`c.png` is a matplotlib figure (400x400 pixels), not the grid itself: save the tensor (torchvision's save_image), not a figure"
    )
    assert problem("d.jpg", png(lambda f: save_image(images, f, format="jpeg"))) == "`d.jpg` is a JPEG file; save sample grids as PNG"
    assert problem("e.png", png(lambda f: save_image(torch.zeros(64, 1, 28, 28), f, format="png"))) == (
        "`e.png` is one flat colour; save G(fixed_noise) mapped from [-1, 1] to [0, 1]"
    )
    assert problem("f.png", b"not an image") == "`f.png` is not a readable image (UnidentifiedImageError); save the grid with torchvision's save_image"



def test_the_pytorch_tutorials_checkpoint_is_graded_by_what_it_holds(tmp_path):
    """The PyTorch tutorial's checkpoint ("Saving and loading a general checkpoint"): a .tar file of
    'generator_state_dict', 'optimizerG_state_dict'... keys, os.path paths under a Path out_dir, a 0-based loop
    that saves its counter as 'epoch' and resumes from checkpoint['epoch'] + 1 (consistent, so the resume is
    exact in its epochs), and no RNG state. Only the 0-based epoch (the spec asks for the epochs done) and the
    random numbers cost points, each told by its fault."""
    train = """
        import os
        from torchvision.utils import save_image


        def train_loop(gan, fixed_noise, start_epoch, n_epochs, out_dir):
            os.makedirs(os.path.join(out_dir, "checkpoints"), exist_ok=True)
            for epoch in range(start_epoch, n_epochs):  # counted from 0
                for i, x in enumerate(gan.batches.epoch(epoch)):
                    loss_d, loss_g = step(gan, x)
                if (epoch + 1) % 10 == 0:
                    with torch.no_grad():
                        fake = gan.G(fixed_noise).detach().cpu()
                    save_image(fake, os.path.join(out_dir, f"fake_samples_epoch_{epoch + 1}.png"), normalize=True)
                    torch.save({
                        'epoch': epoch,
                        'generator_state_dict': gan.G.state_dict(),
                        'discriminator_state_dict': gan.D.state_dict(),
                        'optimizerG_state_dict': gan.opt_g.state_dict(),
                        'optimizerD_state_dict': gan.opt_d.state_dict(),
                        'loss_d': loss_d, 'loss_g': loss_g,
                        'fixed_noise': fixed_noise,
                    }, os.path.join(out_dir, "checkpoints", f"checkpoint_{epoch + 1}.tar"))


        def train(n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            fixed_noise = torch.randn(64, gan.nz)
            train_loop(gan, fixed_noise, 0, n_epochs, out_dir)
            return gan.G, gan.D
    """
    resume = """
        def resume(checkpoint, n_epochs, out_dir, seed=0):
            gan = make_gan(seed)
            checkpoint = torch.load(checkpoint)
            gan.G.load_state_dict(checkpoint['generator_state_dict'])
            gan.D.load_state_dict(checkpoint['discriminator_state_dict'])
            gan.opt_g.load_state_dict(checkpoint['optimizerG_state_dict'])
            gan.opt_d.load_state_dict(checkpoint['optimizerD_state_dict'])
            start_epoch = checkpoint['epoch'] + 1
            gan.G.train(); gan.D.train()
            train_loop(gan, checkpoint['fixed_noise'], start_epoch, n_epochs, out_dir)
            return gan.G, gan.D
    """
    assert "rng" not in train and "'epoch': epoch," in train and "checkpoint['epoch'] + 1" in resume
    assert scores(cells(tmp_path, textwrap.dedent(train), textwrap.dedent(resume))) == {
        **OK,
        "test_checkpoints_hold_optimizers_and_epoch": (
            1.0, "`checkpoint_10.tar` (saved after epoch 10) holds epoch 9, a 0-based loop's counter; save the number of "
                 "epochs done, 10 (epoch + 1 in `for epoch in range(n_epochs)`)"),
        "test_resume_continues_the_run": (
            2.0, "the resumed run's random numbers differ from an uninterrupted run's from epoch 11 on (step draws its "
                 "noise with torch.randn): save torch.get_rng_state() in the checkpoint and restore it with "
                 "torch.set_rng_state in resume, after make_gan(seed), which reseeds torch"),
    }


# A fresh set of notebooks showed these misjudged: {name: (train's body, resume, the save helper, the checks that
# lose points with their messages)}. A checkpoint that also records a loss history of tensors (shorter after a
# resume, which starts it anew) or notes the epoch a run resumed from holds the same weights as an uninterrupted
# run's: full marks. A grid after every epoch with checkpoints after epochs 10, 20, 30 is charged by the schedule
# checks only (the checkpoints are on schedule); a grid mapped to [0, 1] twice, an RNG state taken once before
# training and a pickled pathlib.Path are named.
HISTORY_SAVE = SAVE.replace('"rng": torch.get_rng_state(),', '"rng": torch.get_rng_state(),\n        "losses": {"D": torch.tensor(history), "G": torch.tensor(history) * 2},') + "history = []\n"
HISTORY_BODY = ONE_BASED.replace("            step(gan, x)\n", "            step(gan, x)\n            history.append(float(x.float().mean()))\n")
RESUMED_FROM_SAVE = SAVE.replace('"epoch": tag,', '"epoch": tag,\n        **({"resumed_from_epoch": resumed_from} if resumed_from else {}),') + "resumed_from = 0\n"
GRID_EVERY_EPOCH = """
    <SAVE>
    for epoch in range(1, n_epochs + 1):
        for x in gan.batches.epoch(epoch - 1):
            step(gan, x)
        with torch.no_grad():
            save_image_grid(from_model_range(gan.G(fixed_noise), "tanh"), out_dir / f"progress_{epoch:03d}.png")
        if epoch % 10 == 0:
            torch.save({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
                        "opt_d": gan.opt_d.state_dict(), "fixed_noise": fixed_noise, "rng": torch.get_rng_state()},
                       out_dir / f"ckpt_{epoch:03d}.pt")
"""
FRESH_CASES = {
    "loss_history_of_tensors_in_the_checkpoint": (
        HISTORY_BODY, RESUME.replace(RESTORE, RESTORE + "    history = []\n").replace(
            "            step(gan, x)\n", "            step(gan, x)\n            history.append(float(x.float().mean()))\n"), HISTORY_SAVE, {}),
    "resumed_checkpoints_note_the_epoch_resumed_from": (
        ONE_BASED, RESUME.replace(RESTORE, RESTORE + '    resumed_from = state["epoch"]\n'), RESUMED_FROM_SAVE, {}),
    "a_grid_every_epoch_checkpoints_every_10": (GRID_EVERY_EPOCH, RESUME, SAVE, {
        "test_saves_at_epochs_10_20_30": (0.0, "sample grids saved at epochs 1, 2, 3, 4, 5, 6, 7, ..., 30 of a 30-epoch run; "
                                               "expected 10, 20, 30 (1-based: after the 10th, 20th, 30th epoch)"),
        "test_saves_for_25_and_9_epochs": (0.0, "sample grids saved at epochs 1, 2, 3, 4, 5, 6, 7, ..., 25 of a 25-epoch run; "
                                                "expected 10, 20 (1-based: after the 10th, 20th, 30th epoch); sample grids saved "
                                                "at epochs 1, 2, 3, 4, 5, 6, 7, ..., 9 of a 9-epoch run; expected none (1-based: "
                                                "after the 10th, 20th, 30th epoch)"),
    }),
    "grid_mapped_twice": (ONE_BASED, RESUME, SAVE.replace(
        'save_image_grid(samples, out_dir / "samples" / f"epoch_{tag:03d}.png")',
        'out_dir.mkdir(parents=True, exist_ok=True)\n    save_image(samples, out_dir / f"epoch_{tag:03d}.png", normalize=True, value_range=(-1, 1))'
    ).replace("def save(tag):", "from torchvision.utils import save_image\n\ndef save(tag):"), {
        "test_sample_grids_are_png_grids_of_64": (0.0, (
            "`epoch_010.png` shows G's images mapped from [-1, 1] to [0, 1] twice (by (x + 1) / 2, then again by save_image's "
            "value_range=(-1, 1)), so they are washed out into [0.5, 1], their black grey; map once: save (x + 1) / 2 "
            "(from_model_range(x, \"tanh\")) or save_image(x, path, normalize=True, value_range=(-1, 1))")),
    }),
    "rng_state_taken_once_before_training": (ONE_BASED, RESUME, SAVE.replace(
        '"rng": torch.get_rng_state(),', '"rng": start_rng,') + "start_rng = torch.get_rng_state()\n", {
        "test_resume_continues_the_run": (2.0, (
            "the resumed run's random numbers are those an uninterrupted run had at the start of epoch 1, not after epoch 10: "
            "the checkpoint's RNG state was taken before training, once, not when the checkpoint was saved; call "
            "torch.get_rng_state() at each save, after the epoch's batches")),
    }),
}


@pytest.mark.parametrize("name", list(FRESH_CASES))
def test_a_fresh_class_of_submissions_is_judged_right(tmp_path, name):
    body, resume, save, lost = FRESH_CASES[name]
    result = scores(submission(tmp_path, body, resume=resume, save=save))
    assert same(result, {**OK, **lost}), result


def test_a_pickled_object_of_no_network_is_told_to_leave_it_out():
    """A pathlib.Path (or any object neither torch's nor the course's nor the notebook's) in a checkpoint is
    told to be left out or stored as a string, not to save state_dicts (which the checkpoint already holds);
    a numpy array to become a tensor; a class of the notebook's own, to save state_dicts."""
    fix = checks_module().pickled_fix
    assert fix("pathlib.PosixPath") == (
        "leave the `PosixPath` out of the checkpoint, or store it as a string or a number (str(path)): a checkpoint holds "
        "state_dicts, tensors and numbers (make_gan(seed) rebuilds the rest)")
    assert fix("numpy.ndarray") == "store it as a tensor (torch.from_numpy) or a number instead of a numpy `ndarray`, or leave it out"
    assert fix("__main__.Generator") == 'save state_dicts, torch.save({"G": G.state_dict(), "D": D.state_dict()}, path)'


@pytest.mark.skipif(os.access("/proc/sys", os.W_OK), reason="/proc/sys takes files on this machine: no read-only folder to run in")
def test_visible_checks_in_a_notebook_folder_that_takes_no_files(monkeypatch):
    """A course folder on a read-only mount, or a shared one a student opened without copying: the visible checks'
    runs went into the notebook's folder and failed there, 0 points and "your code raised PermissionError" for the
    model answer. They run in a temporary folder of the kernel's instead (here the kernel's folder is /proc/sys)."""
    sub = execute_notebook(SOLUTION)
    try:
        kernel = LocalSubmission(sub.namespace)  # as in the student's kernel: no scratch given, the working folder
        monkeypatch.chdir("/proc/sys")
        checks = load_module(ROOT / "reference" / "checks" / f"{A}.py")
        got = {name: run_check(getattr(checks, name), kernel)
               for name in ("test_saves_at_epochs_10_20_30", "test_sample_grids_are_png_grids_of_64", "test_checkpoints_hold_optimizers_and_epoch")}
    finally:
        sub.close()
    assert got == {name: OK[name] for name in got}


# Red team, false positives: wrong submissions that kept points on a check whose property they break, and the right ones
# beside them. {name: (train's body, resume, the save helper, the checks that lose points with their messages)}
ONE_GRID = SAVE.replace('out_dir / "samples" / f"epoch_{tag:03d}.png"', 'out_dir / "samples.png"')
OVERWRITTEN = (
    "the sample grids saved after epochs 10, 20, 30 were written to `samples.png`, each over the one before, so only the "
    "grid of epoch 30 is left: grids saved every 10 epochs are there to show how the same 64 samples improve, one file per "
    "save; name each after its epoch, e.g. out_dir / \"samples\" / f\"epoch_{epoch:03d}.png\""
)
GRIDS_ONLY_SAVES = """        if epoch % 10 == 0:
            torch.save({"epoch": epoch, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "opt_g": gan.opt_g.state_dict(),
                        "opt_d": gan.opt_d.state_dict(), "fixed_noise": fixed_noise, "rng": torch.get_rng_state()},
                       out_dir / f"ckpt_{epoch:03d}.pt")
"""
RESUMED_WHEN_DONE = (
    "resume(checkpoint, 20, ...) given the checkpoint an uninterrupted run saved after epoch 20, its last, trained epochs "
    "{}, where a finished run has none left: its first epoch does not come from the "
    "checkpoint (a number written in the code, or counted from the files in out_dir?); read the epoch from the checkpoint "
    "it is given and continue with the one after it"
)
FALSE_POSITIVES = {
    # one grid file written over at every save (16/16: a file written again was read at its last write, and fine)
    "one_grid_file_written_over": (ONE_BASED, RESUME, ONE_GRID, {"test_sample_grids_are_png_grids_of_64": (0.0, OVERWRITTEN)}),
    # ... and one checkpoint file too: a last.pt is fine, a last grid is not
    "one_grid_and_one_checkpoint_file": (ONE_BASED, RESUME, ONE_GRID.replace('f"ckpt_{tag:03d}.pt"', '"last.pt"'),
                                         {"test_sample_grids_are_png_grids_of_64": (0.0, OVERWRITTEN)}),
    # resume saves its checkpoints and no grid: it lost the point of its saves as "other noise ... not from a new torch.randn"
    "resume_saves_checkpoints_without_grids": (ONE_BASED, RESUME.replace(SAVES, GRIDS_ONLY_SAVES), SAVE, {
        "test_resume_continues_the_run": (3.0, (
            "resume(checkpoint, 20, ...) drew no sample grid when it saved after epoch 20 (G was not called: checkpoints "
            "only); save the grid of G(fixed_noise) with each checkpoint, as train does (call train's saving code), so "
            "that the resumed run's grids go on from the interrupted run's"))}),
    # only gan.opt_g's state saved: resume was told the checkpoint "holds the optimizers' states" and to load gan.opt_d's
    "only_opt_g_saved": (ONE_BASED, RESUME.replace(LOAD_ALL, LOAD_ALL.replace(', ("opt_d", gan.opt_d)', "")), without("opt_d"), {
        "test_checkpoints_hold_optimizers_and_epoch": (1.0, (
            "`ckpt_010.pt` (saved after epoch 10) holds no optimizer state for D: save gan.opt_d.state_dict() too, so that "
            "its Adam moments survive a resume")),
        "test_resume_continues_the_run": (0.0, (
            "when resume's first step ran, gan.opt_d had no state: Adam's moments (exp_avg, exp_avg_sq) and step count were "
            "lost, so the run does not go on as it would have; save gan.opt_d.state_dict() in the checkpoint and load it "
            "with load_state_dict into the optimizers make_gan built"))}),
    # the epochs to save written out for the notebook's 30 (16/16: the runs of 30, 25 and 9 epochs cannot tell)
    "schedule_written_for_30_epochs": (ONE_BASED.replace("if epoch % 10 == 0:", "if epoch in (10, 20, 30):"),
                                       RESUME.replace("if epoch % 10 == 0:", "if epoch in (10, 20, 30):"), SAVE, {
        "test_saves_for_25_and_9_epochs": (1.0, (
            "sample grids saved at epochs 10, 20, 30 of a 40-epoch run; expected 10, 20, 30, 40 (a schedule written for "
            "the notebook's 30 epochs, such as `epoch in (10, 20, 30)` or `epoch <= 30`: save after every 10th epoch of a "
            "run of any length, when epoch % 10 == 0)"))}),
    # resume's first epoch not read from the checkpoint: a number, or counted from the grids in out_dir (16/16: the check
    # resumed only after epoch 10, into the run's own folder)
    "resume_starts_at_epoch_11": (ONE_BASED, RESUME.replace(LOOP, "for epoch in range(11, n_epochs + 1):"), SAVE, {
        "test_resume_continues_the_run": (0.0, RESUMED_WHEN_DONE.format("11, 12, 13, 14, 15, 16, 17, ..., 20"))}),
    "resume_counts_the_epochs_done_from_the_grids": (ONE_BASED, RESUME.replace(
        LOOP, 'for epoch in range(10 * len(list(out_dir.rglob("*.png"))) + 1, n_epochs + 1):'), SAVE, {
        "test_resume_continues_the_run": (0.0, RESUMED_WHEN_DONE.format("1, 2, 3, 4, 5, 6, 7, ..., 20"))}),
    # right: a grid per save, and a latest.png written over beside them
    "latest_grid_beside_the_grids_of_each_save": (ONE_BASED, RESUME, SAVE.replace(
        '    save_image_grid(samples, out_dir / "samples" / f"epoch_{tag:03d}.png")\n',
        '    save_image_grid(samples, out_dir / "samples" / f"epoch_{tag:03d}.png")\n    save_image_grid(samples, out_dir / "latest.png")\n'), {}),
}


@pytest.mark.parametrize("name", list(FALSE_POSITIVES))
def test_red_team_false_positives_lose_the_points_of_what_they_break(tmp_path, name):
    body, resume, save, lost = FALSE_POSITIVES[name]
    assert resume != RESUME or save != SAVE
    assert scores(submission(tmp_path, body, resume=resume, save=save)) == {**OK, **lost}


BESIDE_THE_CHECKPOINT = (
    "resume(checkpoint, 20, out_dir) wrote its checkpoints (`ckpt_020.pt`) into the folder of the checkpoint it was given, not "
    "under out_dir (out_dir taken from the checkpoint's path?); the grader gives resume a copy of the checkpoint in another "
    "folder: save under the out_dir argument, as train does"
)


@pytest.mark.parametrize("out_dir, lost", [
    ("Path(checkpoint).parent", {"test_resume_continues_the_run": (0.0, BESIDE_THE_CHECKPOINT)}),
    ("Path(out_dir)", {}),
], ids=["beside_the_checkpoint", "out_dir"])
def test_a_resume_that_saves_beside_its_checkpoint_is_told_where_it_saved(tmp_path, out_dir, lost):
    """Red team, round four: resume with out_dir taken from the checkpoint's path (`Path(checkpoint).parent`, where a
    notebook's own run keeps both) trained right and saved into the grader's copy of the checkpoint's folder: 0 of 4 was
    right, but the message said only that no checkpoint of a later epoch than 10 was found in the run's folder. It now
    names the files and where they went. The same resume saving under out_dir keeps the points."""
    resume = RESUME.replace("    out_dir = Path(out_dir)\n", f"    out_dir = {out_dir}\n", 1)
    assert resume != RESUME or out_dir == "Path(out_dir)"
    assert scores(submission(tmp_path, ONE_BASED, resume=resume)) == {**OK, **lost}


# latest_checkpoint (its own cell): the variants replace the solution's `latest_checkpoint` cell only, and are graded
# by its check (train's and resume's checks do not call it: test_a_broken_latest_checkpoint_costs_its_own_check_only)
LATEST_HEAD = "def latest_checkpoint(out_dir):\n"
LATEST_SUFFIXES = '(".pt", ".pth", ".ckpt", ".tar", ".pkl")'
CORRECT_LATEST = {
    # os.walk and str paths, the number before the suffix by a regex, loaded with a file object
    "os_walk_str_paths": LATEST_HEAD + f"""    import os, re
    found = []
    for folder, _, names in os.walk(out_dir):
        for name in names:
            match = re.search(r"(\\d+)\\D*$", name)
            if name.endswith({LATEST_SUFFIXES}) and not name.startswith(".") and match:
                found.append((int(match.group(1)), os.path.join(folder, name)))
    found.sort(reverse=True)
    for epoch, path in found:
        try:
            with open(path, "rb") as f:
                torch.load(f, weights_only=True)
            return path
        except Exception:
            pass
    return None
""",
    # a glob per suffix, the candidates tried in a while loop from the highest epoch down
    "glob_per_suffix_while_loop": LATEST_HEAD + f"""    import re
    root = Path(out_dir)
    if not root.exists():
        return None
    candidates = [p for suffix in {LATEST_SUFFIXES} for p in root.glob("**/*" + suffix) if not p.name.startswith(".")]
    candidates = [p for p in candidates if re.findall("[0-9]+", p.name)]
    candidates.sort(key=lambda p: int(re.findall("[0-9]+", p.name)[-1]))
    while candidates:
        newest = candidates.pop()
        try:
            torch.load(newest, map_location="cpu", weights_only=True)
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError):
            continue
        return newest
""".replace("    import re\n", "    import pickle\n    import re\n"),
    # every complete checkpoint loaded first, the highest epoch it holds chosen (the names hold the same number)
    "by_the_epoch_each_holds": LATEST_HEAD + f"""    complete = {{}}
    for path in sorted(Path(out_dir).rglob("*")):
        if path.suffix not in {LATEST_SUFFIXES} or path.name.startswith("."):
            continue
        try:
            complete[path] = torch.load(path, weights_only=True)["epoch"]
        except Exception:
            continue
    return max(complete, key=complete.get) if complete else None
""",
}
WRONG_LATEST = {
    # names compared as text: epoch_90.pt after epoch_100.pt
    "sorted_by_name": LATEST_HEAD + f"""    files = sorted(p for p in Path(out_dir).rglob("*") if p.suffix in {LATEST_SUFFIXES} and not p.name.startswith("."))
    for path in reversed(files):
        try:
            torch.load(path, weights_only=True)
            return path
        except Exception:
            continue
    return None
""",
    # the file written last
    "newest_by_mtime": LATEST_HEAD + f"""    files = [p for p in Path(out_dir).rglob("*") if p.suffix in {LATEST_SUFFIXES}]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None
""",
    # the highest number, never loaded: a file cut short is returned
    "never_loaded": LATEST_HEAD + f"""    import re
    files = [p for p in Path(out_dir).rglob("*") if p.suffix in {LATEST_SUFFIXES} and not p.name.startswith(".")]
    return max(files, key=lambda p: int(re.findall(r"\\d+", p.name)[-1]), default=None)
""",
    # every file with a number in its name that loads: a finished temporary file counts
    "any_file_that_loads": LATEST_HEAD + """    import re
    numbered = sorted(((int(re.findall(r"\\d+", p.name)[-1]), p) for p in Path(out_dir).rglob("*")
                       if p.is_file() and re.findall(r"\\d+", p.name)), reverse=True)
    for _, path in numbered:
        try:
            torch.load(path, weights_only=True)
            return path
        except Exception:
            continue
    return None
""",
    # right, but max() of an empty folder's list raises
    "max_of_nothing": LATEST_HEAD + f"""    import re
    complete = []
    for path in Path(out_dir).rglob("*"):
        if path.suffix in {LATEST_SUFFIXES} and not path.name.startswith("."):
            try:
                torch.load(path, weights_only=True)
            except Exception:
                continue
            complete.append((int(re.findall(r"\\d+", path.name)[-1]), path))
    return max(complete)[1]
""",
    # the epoch number, not the file
    "returns_the_epoch": LATEST_HEAD + f"""    import re
    epochs = []
    for path in Path(out_dir).rglob("*"):
        if path.suffix in {LATEST_SUFFIXES} and not path.name.startswith("."):
            try:
                torch.load(path, weights_only=True)
            except Exception:
                continue
            epochs.append(int(re.findall(r"\\d+", path.name)[-1]))
    return max(epochs) if epochs else None
""",
    # the file's name from os.listdir, not its path
    "returns_the_name": LATEST_HEAD + f"""    import os, re
    names = []
    for folder, _, files in os.walk(out_dir):
        for name in files:
            if name.endswith({LATEST_SUFFIXES}) and not name.startswith("."):
                try:
                    torch.load(os.path.join(folder, name), weights_only=True)
                except Exception:
                    continue
                names.append(name)
    return max(names, key=lambda n: int(re.findall(r"\\d+", n)[-1])) if names else None
""",
}
COPIED = ("a folder holding checkpoints/epoch_90.pt, checkpoints/epoch_100.pt, samples/epoch_110.png, "
          "checkpoints/epoch_20.pt")
CRASHED = "a folder holding epoch_10.pt, epoch_20.pt, epoch_30.pt (cut short), .epoch_40.pt.qxzvkw.tmp.pt, epoch_50.pt.tmp"
AS_A_NAME = "the file's name, not its path; return the path of the file (out_dir / ..., as Path.rglob gives it)"
EXPECTED_LATEST = {
    "sorted_by_name": (2.0, (
        f"latest_checkpoint returned `checkpoints/epoch_90.pt` for {COPIED}: the last by name: compared as text, "
        f"epoch_100.pt sorts before epoch_20.pt and epoch_90.pt; compare the epoch numbers in the names as integers")),
    "newest_by_mtime": (1.0, (
        f"latest_checkpoint returned `checkpoints/epoch_20.pt` for {COPIED}: the file written last: modification times "
        f"change when a run folder is copied or a file is touched; choose by the epoch number in the name; "
        f"latest_checkpoint returned `.epoch_40.pt.qxzvkw.tmp.pt` for {CRASHED}: the hidden temporary file of an atomic "
        f"save that never finished: skip names that start with a dot")),
    "never_loaded": (2.0, (
        f"latest_checkpoint returned `epoch_30.pt` for {CRASHED}: a file cut short by a crash while it was written, which "
        f"torch.load cannot read: try torch.load on the candidates from the highest epoch down and skip a file it "
        f"raises on")),
    "any_file_that_loads": (2.0, (
        f"latest_checkpoint returned `epoch_50.pt.tmp` for {CRASHED}: a temporary file: only files ending in .pt, .pth, "
        f".ckpt, .tar or .pkl are checkpoints")),
    "max_of_nothing": (2.0, (
        "calling `latest_checkpoint` raised ValueError: max() arg is an empty sequence on an empty folder; return None "
        "when out_dir holds no checkpoint (empty, or never made: a run shorter than 10 epochs saves none)")),
    "returns_the_epoch": (0.0, (
        "latest_checkpoint returned 100 (of type int), not a path: return the Path of the checkpoint file (resume loads "
        "it), or None when there is none")),
    "returns_the_name": (1.0, (
        f"latest_checkpoint returned `epoch_100.pt` for {COPIED}: {AS_A_NAME}; "
        f"latest_checkpoint returned `epoch_20.pt` for {CRASHED}: {AS_A_NAME}")),
}


def latest_submission(tmp_path: Path, source: str) -> Path:
    """The solution notebook with `source` in its `latest_checkpoint` cell."""
    return notebook_with_cells(SOLUTION, tmp_path, {"latest_checkpoint": source})


@pytest.mark.parametrize("name", list(CORRECT_LATEST))
def test_correct_latest_checkpoints_score_full_marks(tmp_path, name):
    assert scores(latest_submission(tmp_path, CORRECT_LATEST[name]), only=[LATEST]) == {LATEST: OK[LATEST]}


@pytest.mark.parametrize("name", list(WRONG_LATEST))
def test_wrong_latest_checkpoints_get_exact_scores_and_messages(tmp_path, name):
    assert scores(latest_submission(tmp_path, WRONG_LATEST[name]), only=[LATEST]) == {LATEST: EXPECTED_LATEST[name]}


@pytest.mark.parametrize("name", ["sorted_by_name", "max_of_nothing", "returns_the_name"])
def test_the_sandbox_grades_latest_checkpoint_like_this_process(tmp_path, name):
    """The grader's folders written in the worker's scratch folder and the paths latest_checkpoint returns there (relative
    to the worker's working folder) are read as in this process, and a raised error is told alike."""
    path = latest_submission(tmp_path, WRONG_LATEST[name])
    assert sandboxed(path, only=[LATEST]) == {LATEST: EXPECTED_LATEST[name]}


def test_a_broken_latest_checkpoint_costs_its_own_check_only(tmp_path):
    """The untouched template of latest_checkpoint beside the solution's train and resume: every other check full."""
    path = latest_submission(tmp_path, cell_sources(STUDENT)["latest_checkpoint"])
    assert scores(path) == {
        **OK, LATEST: (0.0, "`latest_checkpoint` is not implemented yet: it raises NotImplementedError (replace that line with your code)"),
    }
