"""Figures of lesson 03: a DCGAN on MNIST against lesson 2's MLP GAN at equal wall time, what its
generator learned, and the FashionMNIST port's four changes, measured.

    python -m reference.figures 3

`lesson_03(out)` repeats the lesson's full-mode runs on the CPU and writes `03_*.png` into `out`,
returning {file name: caption}. The notebook calls the same functions: the drawing functions
(`fid_over_time`, `sample_grids`, `interpolation_strip`, `nearest_figure`, `port_curves`) return a
matplotlib Figure, and the helpers (`train_for_seconds`, `fid_at`, `nearest_training_images`,
`p_all_classes`) compute what they draw.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchvision.utils import make_grid

from reference.checkpoint import load_checkpoint
from reference.config import TrainConfig, read_config_file
from reference.figures import hardware, save

# ---- the lesson's full-mode settings (the notebook uses the same values) ----
DCGAN_CONFIG = "mnist-dcgan"  # the DCGAN of sections 4-6: reference/configs/mnist-dcgan.toml
MLP_CONFIG = "mnist-mlp"  # lesson 2's MLP GAN: reference/configs/mnist-mlp.toml
EVAL_SAMPLES = 2000  # FID of 2,000 samples against 2,000 MNIST test images after every epoch
NEAREST = 8  # samples shown beside their nearest training image
# Section 7, the FashionMNIST port at CPU scale: the 28x28 dcgan on MNIST in four arms
ARMS = {  # label -> (batch_size, beta1); every other setting is the original's
    "batch 100, beta1 0.5 (original)": (100, 0.5),
    "batch 50, beta1 0.5": (50, 0.5),
    "batch 100, beta1 0.9": (100, 0.9),
    "batch 50, beta1 0.9 (the port)": (50, 0.9),
}
SEEDS = (0, 1)
WIDTH = 32  # ngf = ndf of the port's CPU-scale runs
MAX_IMAGES, EPOCHS = 6000, 5  # every arm sees the first 6,000 MNIST training images 5 times
PORT_EVAL_SAMPLES = 1000
COLOURS = ("C0", "C1", "C2", "C3")


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------


def metrics(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's metrics.csv as floats (empty cells left out)."""
    with open(Path(run_dir) / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def elapsed(rows: list[dict[str, float]]) -> list[float]:
    """Training seconds after each epoch: the metrics' `seconds` column summed (evaluation not counted)."""
    return list(itertools.accumulate(r["seconds"] for r in rows))


def train_for_seconds(cfg: TrainConfig, out: Path, seconds: float, progress: bool = False) -> Path:
    """Train `cfg` until its training seconds reach `seconds`; returns the run folder.

    cfg.epochs is ignored. The run trains one epoch, then resumes from its last.pt for as many more
    epochs as its seconds per epoch so far say are missing, and again until the metrics' `seconds`
    column sums to at least `seconds`. It trains at least that long; when the machine speeds up
    between calls it trains longer than needed, so read its score at the budget with `fid_at`.
    progress: the trainer's progress bar, one per resumed run (the notebook's full mode shows them; the
    figure script stays quiet).
    """
    from reference.trainer import train

    epochs, state = 1, None
    while True:
        run = train(dataclasses.replace(cfg, epochs=epochs), out, state=state, progress=progress)
        rows = metrics(run)
        done = elapsed(rows)[-1]
        if done >= seconds:
            return run
        epochs = len(rows) + max(1, math.ceil((seconds - done) / (done / len(rows))))
        state = load_checkpoint(run / "checkpoints" / "last.pt")


def fid_at(rows: list[dict[str, float]], seconds: float) -> tuple[float, float]:
    """(FID, training seconds) of the first epoch that ended after `seconds` of training (else the last)."""
    times = elapsed(rows)
    k = next((i for i, t in enumerate(times) if t >= seconds), len(rows) - 1)
    return rows[k]["fid"], times[k]


def nearest_training_images(samples: Tensor, train: Tensor, batch: int = 256) -> tuple[Tensor, Tensor]:
    """For each image of `samples` (n, C, H, W), the index of its nearest image in `train` (M, C, H, W)
    and the Euclidean distance between them, both in [0, 1] pixels (uint8 images are divided by 255).

    Returns (index (n,) int64, distance (n,) float32). The distance is over all C*H*W pixels: 0 for a
    copy, sqrt(C*H*W) for an all-black image against an all-white one.
    """

    def flat(x: Tensor) -> Tensor:
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        return x.flatten(1)

    pool = flat(train)
    index, distance = [], []
    for start in range(0, len(samples), batch):
        d = torch.cdist(flat(samples[start : start + batch]), pool)
        best = d.min(dim=1)
        index.append(best.indices)
        distance.append(best.values)
    return torch.cat(index), torch.cat(distance)


def p_all_classes(p: np.ndarray, n: int) -> float:
    """P(all K classes appear among n independent draws with class probabilities p (K,)).

    Inclusion-exclusion over the sets S of missing classes: sum_S (-1)^|S| (1 - p(S))^n.
    """
    total = 0.0
    for size in range(len(p) + 1):
        for missing in itertools.combinations(range(len(p)), size):
            total += (-1) ** size * max(0.0, 1.0 - p[list(missing)].sum()) ** n
    return total


# ---------------------------------------------------------------------------------------------
# Figures: each returns a Figure (plt.subplots, so a notebook cell shows it inline)
# ---------------------------------------------------------------------------------------------


def fid_over_time(curves: dict[str, list[dict[str, float]]]) -> Figure:
    """FID after each epoch against the training seconds so far, one line per run ({label: metrics rows})."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for (label, rows), colour in zip(curves.items(), COLOURS):
        ax.plot(elapsed(rows), [r["fid"] for r in rows], "o-", color=colour, label=label, ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("training seconds (evaluation not counted)")
    ax.set_ylabel("classifier-FID (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def sample_grids(grids: dict[str, Tensor], nrow: int = 8) -> Figure:
    """Image grids side by side: {title: images (n, C, H, W) in [0, 1]}."""
    fig, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 4.6), squeeze=False)
    for ax, (title, images) in zip(axes[0], grids.items()):
        ax.imshow(make_grid(images.float(), nrow=nrow, padding=2, pad_value=1.0).permute(1, 2, 0).numpy())
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return fig


@torch.no_grad()
def interpolation_strip(G: torch.nn.Module, nz: int, rows: int = 4, steps: int = 10, seed: int = 0,
                        output_range: str = "tanh") -> Figure:
    """G (eval mode) along straight lines in z-space: each row goes from z_a to z_b in `steps` equal steps.

    z_a and z_b are drawn from N(0, I) with a generator seeded with `seed`; column t shows
    G((1 - t) z_a + t z_b), t = 0, 1/(steps - 1), ..., 1.
    """
    from reference.data import from_model_range

    gen = torch.Generator().manual_seed(seed)
    ends = torch.randn(rows, 2, nz, generator=gen)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    z = (1 - t) * ends[:, :1] + t * ends[:, 1:]  # (rows, steps, nz)
    was_training = G.training
    G.eval()
    images = from_model_range(G(z.reshape(rows * steps, nz)).float(), output_range).cpu()
    G.train(was_training)
    fig, ax = plt.subplots(figsize=(1.0 * steps, 1.05 * rows + 0.4))
    ax.imshow(make_grid(images, nrow=steps, padding=2, pad_value=1.0).permute(1, 2, 0).numpy())
    ax.set_title(f"G along straight lines from z_a (left) to z_b (right), {steps} steps", fontsize=9)
    ax.axis("off")
    return fig


def nearest_figure(samples: Tensor, train: Tensor, index: Tensor, distance: Tensor, held_out_distance: Tensor) -> Figure:
    """Each of the k `samples` (top row) above its nearest training image (second row) and their distance,
    and the histogram of all the samples' distances beside the held-out images' distances.

    index, distance: `nearest_training_images` of all the samples (n >= k), of which `samples` are the
    first k; held_out_distance: the same distances for held-out real images, the baseline.
    """
    k = len(samples)
    fig = plt.figure(figsize=(max(8.0, 1.1 * k), 5.2))
    grid = fig.add_gridspec(3, k, height_ratios=[1, 1, 1.5], hspace=0.35)
    for j in range(k):
        for row, (image, title) in enumerate(((samples[j], f"sample {j}"), (train[index[j]], f"d = {distance[j]:.2f}"))):
            ax = fig.add_subplot(grid[row, j])
            x = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
            ax.imshow(x[0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    ax = fig.add_subplot(grid[2, :])
    bins = np.linspace(0, float(max(distance.max(), held_out_distance.max())) * 1.05, 40)
    ax.hist(held_out_distance.numpy(), bins=bins, alpha=0.6, density=True, color="C0",
            label=f"held-out test images ({len(held_out_distance):,}), median {held_out_distance.median():.2f}")
    ax.hist(distance.numpy(), bins=bins, alpha=0.6, density=True, color="C3",
            label=f"G's samples ({len(distance):,}), median {distance.median():.2f}")
    ax.set_xlabel("Euclidean distance to the nearest of the 60,000 training images ([0, 1] pixels)")
    ax.legend(fontsize=8)
    return fig


def port_curves(rows: dict[tuple[str, int], list[dict[str, float]]], max_images: int = MAX_IMAGES) -> Figure:
    """FID and D(G(z)) after each epoch for the port's arms: {(arm label, seed): metrics rows}."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
    labels = list(dict.fromkeys(label for label, _ in rows))
    seeds = sorted({seed for _, seed in rows})
    for colour, label in zip(COLOURS, labels):
        for seed, style in zip(seeds, ("-", "--", ":", "-.")):
            r = rows[label, seed]
            x = [v["epoch"] * max_images / 1000 for v in r]
            left.plot(x, [v["fid"] for v in r], style, marker="o", ms=3, color=colour, label=f"{label}, seed {seed}")
            right.plot(x, [v["d_g_z"] for v in r], style, marker="o", ms=3, color=colour)
    left.set_yscale("log")
    left.set_ylabel("classifier-FID")
    right.set_ylabel("D(G(z)), epoch mean")
    right.set_ylim(0, 1)
    for ax in (left, right):
        ax.set_xlabel("thousands of images seen")
        ax.grid(alpha=0.3)
    left.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------------
# The lesson's full-mode runs, for `python -m reference.figures 3`
# ---------------------------------------------------------------------------------------------


def dcgan_config(root: Path, **changes) -> TrainConfig:
    """The named DCGAN config with FID after every epoch, on the CPU, data from `root`."""
    values = {**read_config_file(DCGAN_CONFIG), "eval_every": 1, "eval_samples": EVAL_SAMPLES, "device": "cpu",
              "data_dir": str(root), "progress": False, **changes}
    return TrainConfig.from_dict(values)


def mlp_config(root: Path, **changes) -> TrainConfig:
    """Lesson 2's MLP GAN config with FID after every epoch, on the CPU, data from `root`."""
    values = {**read_config_file(MLP_CONFIG), "eval_every": 1, "eval_samples": EVAL_SAMPLES, "device": "cpu",
              "data_dir": str(root), "progress": False, "save_every": 1000, **changes}
    return TrainConfig.from_dict(values)


def train_arms(root: Path, work: Path, dataset: str = "mnist", seeds=SEEDS, max_images: int = MAX_IMAGES,
               epochs: int = EPOCHS, eval_samples: int = PORT_EVAL_SAMPLES, device: str = "cpu",
               progress: bool = False) -> dict[tuple[str, int], Path]:
    """Every arm x seed of the port's comparison, the same images seen, FID after each epoch.

    Returns {(arm label, seed): run folder}. progress: each run's progress bar (the notebook's full mode
    shows them: its eight runs took 348 s together in the lesson's timed run; the figure script stays quiet).
    """
    from reference.trainer import train

    runs = {}
    for (label, (batch, beta1)), seed in itertools.product(ARMS.items(), seeds):
        cfg = TrainConfig(model="dcgan", dataset=dataset, batch_size=batch, lr=2e-4, beta1=beta1, beta2=0.999,
                          ngf=WIDTH, ndf=WIDTH, epochs=epochs, max_images=max_images, num_samples=32,
                          save_every=epochs, seed=seed, device=device, data_dir=str(root), eval_every=1,
                          eval_samples=eval_samples, progress=progress)  # fmt: skip
        runs[label, seed] = train(cfg, work / f"b{batch}-beta{beta1}-seed{seed}")
    return runs


def lesson_03(out: Path) -> dict[str, str]:
    """DCGAN against the MLP GAN at equal wall time, samples, interpolation, nearest training images, the port's arms."""
    from reference.data import data_root, load_dataset
    from reference.metrics.classifier import find_classifier, train_classifier
    from reference.metrics.evaluate import load_generator, sample_images
    from reference.trainer import train

    torch.set_flush_denormal(True)
    root = data_root()
    train_set = load_dataset("mnist", root)  # a DataError with the fix if MNIST is neither on disk nor downloadable
    test_set = load_dataset("mnist", root, split="test")
    if find_classifier("mnist", root) is None:
        train_classifier("mnist", root, progress=False)
    hw = hardware()
    captions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="gan-course-03-") as tmp:
        work = Path(tmp)
        load = os.getloadavg()[0]
        dcgan_run = train(dcgan_config(root), work / "dcgan")
        budget = elapsed(metrics(dcgan_run))[-1]
        mlp_run = train_for_seconds(mlp_config(root), work / "mlp", budget)
        rows = {"DCGAN": metrics(dcgan_run), "MLP GAN (lesson 2)": metrics(mlp_run)}
        d_cfg, m_cfg = dcgan_config(root), mlp_config(root)
        fid_d, t_d = fid_at(rows["DCGAN"], budget)
        fid_m, t_m = fid_at(rows["MLP GAN (lesson 2)"], budget)
        threads = {name: load_checkpoint(run / "checkpoints" / "last.pt")["config"]["threads"] for name, run in
                   (("DCGAN", dcgan_run), ("MLP", mlp_run))}
        setup = (
            f"DCGAN: reference/configs/{DCGAN_CONFIG}.toml (the 28x28 dcgan, ngf = ndf = {d_cfg.ngf}, batch {d_cfg.batch_size}, "
            f"Adam lr {d_cfg.lr:g}, betas ({d_cfg.beta1}, {d_cfg.beta2}), {d_cfg.epochs} epochs of MNIST's 60,000 training images); "
            f"MLP GAN: lesson 2's reference/configs/{MLP_CONFIG}.toml (batch {m_cfg.batch_size}, lr {m_cfg.lr:g}) resumed until "
            f"its training seconds reached the DCGAN's ({len(rows['MLP GAN (lesson 2)'])} epochs); seed 0, "
            f"reference.trainer.train on the CPU ({threads['DCGAN']} / {threads['MLP']} threads), {hw}, load average "
            f"{load:.1f} at the start"
        )
        save(fid_over_time(rows), out / "03_dcgan_vs_mlp.png")
        captions["03_dcgan_vs_mlp.png"] = (
            f"Classifier-FID ({EVAL_SAMPLES:,} samples against {EVAL_SAMPLES:,} MNIST test images, the trainer's --eval-every 1) "
            f"after each epoch against the training seconds so far. {setup}. After {t_d:.0f} s the DCGAN scored {fid_d:.1f}; "
            f"the MLP GAN after {t_m:.0f} s {fid_m:.1f}."
        )
        G_d, spec_d, nz_d, _ = load_generator(dcgan_run / "checkpoints" / "last.pt")
        G_m, spec_m, nz_m, _ = load_generator(mlp_run / "checkpoints" / "last.pt")
        grids = {f"DCGAN after {t_d:.0f} s, FID {fid_d:.1f}": sample_images(G_d, spec_d, nz_d, 64, seed=0),
                 f"MLP GAN after {t_m:.0f} s, FID {fid_m:.1f}": sample_images(G_m, spec_m, nz_m, 64, seed=0)}
        save(sample_grids(grids), out / "03_samples.png")
        captions["03_samples.png"] = f"64 samples (seed 0) of each generator at the end of its run: {setup}."
        save(interpolation_strip(G_d, nz_d), out / "03_interpolation.png")
        captions["03_interpolation.png"] = (
            f"The DCGAN's G (eval mode) along 4 straight lines between pairs of N(0, I) noise vectors (seed 0), 10 steps each: {setup}."
        )
        samples = sample_images(G_d, spec_d, nz_d, EVAL_SAMPLES, seed=1)
        index, distance = nearest_training_images(samples, train_set.data)
        _, held_out = nearest_training_images(test_set.data[:EVAL_SAMPLES], train_set.data)
        save(nearest_figure(samples[:NEAREST], train_set.data, index, distance, held_out), out / "03_nearest.png")
        captions["03_nearest.png"] = (
            f"Top: the first {NEAREST} of {EVAL_SAMPLES:,} DCGAN samples (seed 1); below each, its nearest MNIST training image "
            f"(Euclidean distance over the 784 pixels in [0, 1]) and the distance. Bottom: the distances of all {EVAL_SAMPLES:,} "
            f"samples (median {distance.median():.2f}, smallest {distance.min():.2f}) beside those of the first {EVAL_SAMPLES:,} "
            f"MNIST test images to their nearest training image (median {held_out.median():.2f}, smallest {held_out.min():.2f}). {setup}."
        )

        start = time.perf_counter()
        arms = train_arms(root, work / "port")
        arm_rows = {key: metrics(run) for key, run in arms.items()}
        seconds = time.perf_counter() - start
        save(port_curves(arm_rows), out / "03_port.png")
        final = {key: r[-1]["fid"] for key, r in arm_rows.items()}
        captions["03_port.png"] = (
            f"The FashionMNIST port's batch and beta1 at CPU scale: the 28x28 dcgan (ngf = ndf = {WIDTH}, Adam lr 2e-4, beta2 0.999) "
            f"on the first {MAX_IMAGES:,} MNIST training images for {EPOCHS} epochs ({MAX_IMAGES * EPOCHS:,} images seen by every "
            f"run), seeds {', '.join(map(str, SEEDS))}; classifier-FID of {PORT_EVAL_SAMPLES:,} samples (left) and D(G(z)) (right) "
            f"after each epoch. Final FID per arm (seed " + " / ".join(map(str, SEEDS)) + "): "
            + "; ".join(f"{label} {' / '.join(f'{final[label, s]:.0f}' for s in SEEDS)}" for label in ARMS)
            + f". {len(arms)} runs in {seconds:.0f} s on {hw}."
        )
    return captions
