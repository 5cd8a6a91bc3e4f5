"""Figures of lesson 02 (an MLP GAN on MNIST): one function per figure, the same the notebook calls.

- `plot_images(images, title)`: a row of images in [-1, 1] (a real batch, G's samples).
- `plot_curves(rows)`: a run's metrics.csv per epoch, losses and D's outputs, with each epoch-to-epoch
  step shaded by who gained ground (`trends`).
- `plot_sample_grids(paths)`: the run's sample grids over epochs.
- `lesson_02(out)`: trains the lesson's full-mode run on MNIST and saves the last two figures.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from reference.figures import hardware, save

# The lesson's run (full mode): the settings of reference/configs/mnist-mlp.toml for 5 epochs.
EPOCHS = 5
SETTINGS = dict(model="mlp", batch_size=64, lr=2e-4, beta1=0.5, beta2=0.999, seed=0)

D_GAINS, G_GAINS, MIXED = "D gains", "G gains", "mixed"
COLOURS = {D_GAINS: "tab:red", G_GAINS: "tab:green", MIXED: "0.85"}


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of a run's metrics.csv as numbers (empty evaluation cells left out)."""
    with open(Path(run_dir) / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def trends(rows: Sequence[dict]) -> list[tuple[int, int, str]]:
    """Who gained ground from each epoch to the next: (epoch, next epoch, label).

    "D gains": D(G(z)) fell and loss_G rose (D rejects the fakes more surely; G's loss grows);
    "G gains": D(G(z)) rose and loss_G fell; "mixed": they moved the same way.
    """
    out = []
    for a, b in zip(rows, rows[1:]):
        fooled, loss_g = b["d_g_z"] - a["d_g_z"], b["loss_g"] - a["loss_g"]
        label = D_GAINS if fooled < 0 < loss_g else G_GAINS if loss_g < 0 < fooled else MIXED
        out.append((int(a["epoch"]), int(b["epoch"]), label))
    return out


def plot_images(images: torch.Tensor, title: str, n: int = 8) -> Figure:
    """The first `n` images of a batch (N, 1, H, W) with values in [-1, 1], in one row, grey."""
    images = images.detach().float().cpu()[:n]
    fig, axes = plt.subplots(1, len(images), figsize=(1.25 * len(images), 1.6), squeeze=False)
    for ax, img in zip(axes[0], images):
        ax.imshow(img[0], cmap="gray", vmin=-1, vmax=1)
        ax.axis("off")
    fig.suptitle(title)
    return fig


def plot_curves(rows: Sequence[dict]) -> Figure:
    """loss_D and loss_G (left), D(x) and D(G(z)) (right) per epoch from metrics.csv rows; the
    background of each step between two epochs says who gained ground (`trends`)."""
    epochs = [r["epoch"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax in (left, right):
        for start, end, label in trends(rows):
            ax.axvspan(start, end, color=COLOURS[label], alpha=0.12 if label != MIXED else 0.5, lw=0)
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs if len(epochs) <= 12 else epochs[:: math.ceil(len(epochs) / 12)])
    left.plot(epochs, [r["loss_d"] for r in rows], "o-", label="loss_D")
    left.plot(epochs, [r["loss_g"] for r in rows], "o-", label="loss_G")
    left.axhline(2 * math.log(2), color="gray", ls=":", label="loss_D at D = 1/2: 2 log 2")
    left.set_ylabel("epoch-mean loss")
    right.plot(epochs, [r["d_x"] for r in rows], "o-", label="D(x), real")
    right.plot(epochs, [r["d_g_z"] for r in rows], "o-", label="D(G(z)), fake")
    right.axhline(0.5, color="gray", ls=":")
    right.set_ylim(0, 1)
    right.set_ylabel("epoch-mean probability")
    for label in (D_GAINS, G_GAINS):  # legend entries for the shading
        right.fill_between([], [], color=COLOURS[label], alpha=0.25, label=f"{label} (shaded)")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_sample_grids(paths: Sequence[str | os.PathLike], most: int = 5, titles: Sequence[str] | None = None) -> Figure:
    """Sample grids (a run's samples/epoch_NNN.png) side by side: all of them, or `most` spread evenly,
    titled by epoch. With `titles` (one per path) every path is shown, in the order given."""
    paths = [Path(p) for p in paths]
    if titles is None:
        paths = sorted(paths)
        if len(paths) > most:
            paths = [paths[i * (len(paths) - 1) // (most - 1)] for i in range(most)]
        titles = [f"epoch {int(p.stem.split('_')[-1])}" for p in paths]
    fig, axes = plt.subplots(1, len(paths), figsize=(3.2 * len(paths), 3.5), squeeze=False)
    for ax, path, title in zip(axes[0], paths, titles):
        ax.imshow(plt.imread(path))
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    return fig


def lesson_02(out: Path) -> dict[str, str]:
    """The lesson's full-mode run: EPOCHS epochs of the MLP GAN on real MNIST; its sample grids
    and curves."""
    import tempfile

    from reference.config import TrainConfig
    from reference.data import load_dataset
    from reference.trainer import saved_epochs, train

    load_dataset("mnist")  # a DataError with the fix if MNIST is neither on disk nor downloadable
    cfg = TrainConfig(**SETTINGS, dataset="mnist", epochs=EPOCHS, save_every=1, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_dir = train(cfg, Path(tmp) / "run", progress=False)
        seconds = time.perf_counter() - start
        rows = read_metrics(run_dir)
        save(plot_sample_grids(saved_epochs(run_dir)), out / "02_samples.png")
    setup = (f"the MLP GAN of reference/models/mlp.py (G 100-256-784, D 784-256-1, non-saturating loss, "
             f"batch 64, Adam lr 2e-4, betas (0.5, 0.999), seed 0) trained by reference.trainer.train on "
             f"MNIST's 60,000 training images for {EPOCHS} epochs in {seconds:.0f} s on {hardware()}, "
             f"the lesson's full-mode run")
    captions = {"02_samples.png": f"G on the run's 64 fixed noise vectors after each epoch: {setup}."}
    save(plot_curves(rows), out / "02_curves.png")
    first, last = rows[0], rows[-1]
    steps = ", ".join(f"{a}-{b} {label}" for a, b, label in trends(rows))
    captions["02_curves.png"] = (
        f"Epoch means from metrics.csv of the same run: losses (left) and D(x), D(G(z)) (right), each step "
        f"between epochs shaded by who gained ground ({steps}): {setup}. Epoch 1 -> {EPOCHS}: loss_D "
        f"{first['loss_d']:.3f} -> {last['loss_d']:.3f}, loss_G {first['loss_g']:.3f} -> {last['loss_g']:.3f}, "
        f"D(x) {first['d_x']:.3f} -> {last['d_x']:.3f}, D(G(z)) {first['d_g_z']:.3f} -> {last['d_g_z']:.3f}; "
        f"{last['images_per_second']:,.0f} images/s in the last epoch."
    )
    return captions
