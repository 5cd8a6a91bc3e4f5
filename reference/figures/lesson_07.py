"""Figures of lesson 07 (conditional GANs), run by `python -m reference.figures 7`.

One function per figure; each returns a matplotlib Figure (the notebook calls the same functions
to draw live) and `lesson_07(out)` saves them with their captions:

- `class_sweep`: G(z, y) with one row per digit y and one column per noise vector z (the same z
  down a column);
- `interpolation_within_class`: fixed y, z along a straight line from z0 to z1;
- `interpolation_across_classes`: fixed z, the one-hot input moved from one class to another;
- `metric_curves`: classifier-FID and class agreement after each epoch of the three arms;
- `class_histograms`: the predicted classes of an unconditional and a conditional generator at
  the same budget (lesson 04's class coverage).

Data helpers: `train_arms` trains the three arms of `ARMS` with one recipe (`RECIPE`) on MNIST (or
scikit-learn's digits), evaluating every epoch; `class_report` judges one generator's samples with
the course classifier. `lesson_07(out)` needs MNIST and its classifier under the data root
(`$GAN_COURSE_DATA`; `gan-course train-classifier --dataset mnist` first, ~140 s).
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchvision.utils import make_grid

from reference.figures import hardware, save

# The three arms, one recipe: the 28x28 DCGAN at half width (lesson 3's mnist-dcgan), batch 64,
# Adam 2e-4, betas (0.5, 0.999), non-saturating loss, seed 0. Only the model changes.
ARMS = {"DCGAN (unconditional)": "dcgan", "cDCGAN (concat)": "cdcgan", "cDCGAN (projection)": "cdcgan-proj"}
RECIPE = dict(ngf=32, ndf=32, batch_size=64, lr=2e-4, beta1=0.5, beta2=0.999, seed=0)
FULL = dict(epochs=3, max_images=30_000, eval_samples=2000)  # the lesson's full mode and the figures
DIGITS = 10


def train_arms(dataset: str, data_dir: Path | str, work: Path, epochs: int, max_images: int | None,
               eval_samples: int = 2000, arms: dict[str, str] = ARMS, progress: bool = False) -> dict[str, Path]:
    """Train each arm (name -> model) with `RECIPE` for `epochs` epochs on the first `max_images` images.

    Every epoch is evaluated (classifier-FID, KID, precision, recall; class_agreement for the
    conditional ones) with `eval_samples` samples; the classifier must be cached for `data_dir`.
    Returns {name: run folder} (metrics.csv, checkpoints/last.pt, samples/).
    """
    from reference.config import TrainConfig
    from reference.trainer import train

    runs = {}
    for name, model in arms.items():
        cfg = TrainConfig(model=model, dataset=dataset, data_dir=str(data_dir), epochs=epochs, max_images=max_images,
                          eval_every=1, eval_samples=eval_samples, save_every=epochs, device="cpu", **RECIPE)
        runs[name] = train(cfg, Path(work) / model, progress=progress)
    return runs


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """metrics.csv of a run as a list of {column: float} (empty cells dropped)."""
    with open(Path(run_dir) / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


@torch.no_grad()
def class_report(G: nn.Module, spec, nz: int, extractor, n: int = 2000, seed: int = 1) -> dict:
    """Judge n samples of G with the course classifier: class histogram, coverage and agreement.

    A conditional G draws sample i with label i mod 10 (`sample_images`). Returns {"histogram":
    int64 (10,), "classes_covered": int, "kl": KL(p_gen || uniform), "agreement": float or None}.
    """
    from reference.metrics.coverage import class_agreement, class_coverage
    from reference.metrics.evaluate import sample_images

    images = sample_images(G, spec, nz, n, seed=seed)
    logits = extractor.logits(images)
    report = dict(class_coverage(logits, DIGITS))
    report["agreement"] = class_agreement(logits, torch.arange(n) % DIGITS, DIGITS) if spec.conditional else None
    return report


def _images(G: nn.Module, z: Tensor, labels: Tensor) -> Tensor:
    """G's inner DCGAN on z (N, nz) and label codes (N, K) (one-hot or mixed), as images in [0, 1]."""
    was_training = G.training
    G.eval()
    x = G.net(torch.cat([z, labels.to(z.dtype)], dim=1))
    G.train(was_training)
    return ((x.float() + 1) / 2).clamp(0, 1).cpu()


def _grid(images: Tensor, ncol: int, title: str, row_labels: list[str] | None = None, scale: float = 0.62) -> Figure:
    rows = (len(images) + ncol - 1) // ncol
    fig, ax = plt.subplots(figsize=(scale * ncol + 0.6, scale * rows + 0.5))
    ax.imshow(make_grid(images, nrow=ncol, padding=2, pad_value=1.0).permute(1, 2, 0).numpy())
    side = images.shape[-1] + 2
    if row_labels:
        ax.set_yticks([2 + side * (r + 0.5) for r in range(rows)], row_labels, fontsize=8)
        ax.set_xticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    else:
        ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


@torch.no_grad()
def class_sweep(G: nn.Module, nz: int, columns: int = 8, seed: int = 0) -> Figure:
    """G(z_j, y) in row y (0..9) and column j: one noise vector z_j per column, the same down it."""
    z = torch.randn(columns, nz, generator=torch.Generator().manual_seed(seed))
    y = torch.arange(DIGITS).repeat_interleave(columns)  # row y: label y, every column's z
    images = _images(G, z.repeat(DIGITS, 1), F.one_hot(y, DIGITS))
    return _grid(images, columns, "class sweep: row = label y, column = one z (the same down each column)",
                 [f"y = {k}" for k in range(DIGITS)])


def lerp_noise(nz: int, rows: int, steps: int, seed: int) -> Tensor:
    """(rows * steps, nz): row r goes from z0_r to z1_r (both N(0, I), seeded) in `steps` equal steps."""
    ends = torch.randn(rows, 2, nz, generator=torch.Generator().manual_seed(seed))
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    return ((1 - t) * ends[:, :1] + t * ends[:, 1:]).reshape(rows * steps, nz)


@torch.no_grad()
def interpolation_within_class(G: nn.Module, nz: int, digits: tuple[int, ...] = (2, 4, 7, 8), steps: int = 10,
                               seed: int = 0) -> Figure:
    """Row per digit y: G((1 - t) z0 + t z1, y) for t from 0 to 1 in `steps` steps; y fixed along the row."""
    z = lerp_noise(nz, len(digits), steps, seed)
    y = torch.tensor(digits).repeat_interleave(steps)
    images = _images(G, z, F.one_hot(y, DIGITS))
    return _grid(images, steps, "within a class: y fixed, z from z0 (left) to z1 (right)", [f"y = {d}" for d in digits])


@torch.no_grad()
def interpolation_across_classes(G: nn.Module, nz: int, pairs: tuple[tuple[int, int], ...] = ((1, 7), (3, 8), (4, 9), (0, 6)),
                                 steps: int = 10, seed: int = 0) -> Figure:
    """Row per pair (a, b): one z, the label input (1 - t) one_hot(a) + t one_hot(b), t from 0 to 1.

    The mixed codes are never seen in training (G only met one-hot ones): the middle columns show
    what G does between classes, a morph at a fixed style (z).
    """
    z = torch.randn(len(pairs), nz, generator=torch.Generator().manual_seed(seed)).repeat_interleave(steps, dim=0)
    t = torch.linspace(0, 1, steps).repeat(len(pairs)).view(-1, 1)
    a = F.one_hot(torch.tensor([p[0] for p in pairs]).repeat_interleave(steps), DIGITS).float()
    b = F.one_hot(torch.tensor([p[1] for p in pairs]).repeat_interleave(steps), DIGITS).float()
    images = _images(G, z, (1 - t) * a + t * b)
    return _grid(images, steps, "across classes: z fixed per row, the label code from one_hot(a) to one_hot(b)",
                 [f"{p[0]} -> {p[1]}" for p in pairs])


def metric_curves(histories: dict[str, list[dict[str, float]]]) -> Figure:
    """Classifier-FID (left) and class agreement (right) after each epoch, one line per arm."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.3))
    for k, (name, rows) in enumerate(histories.items()):
        epochs = [int(r["epoch"]) for r in rows]
        left.plot(epochs, [r["fid"] for r in rows], "o-", color=f"C{k}", label=name)
        if "class_agreement" in rows[0]:
            right.plot(epochs, [r["class_agreement"] for r in rows], "o-", color=f"C{k}", label=name)
    left.set(xlabel="epoch", ylabel="classifier-FID (lower is better)", yscale="log")
    right.axhline(0.1, color="gray", ls=":", lw=1)
    right.text(1, 0.12, "chance (1/10)", fontsize=8, color="gray")
    right.set(xlabel="epoch", ylabel="class agreement: classifier says y", ylim=(0, 1.02))
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def class_histograms(reports: dict[str, dict], n: int) -> Figure:
    """Predicted classes of each generator's n samples: {name: class_report(...)}."""
    fig, axes = plt.subplots(1, len(reports), figsize=(3.4 * len(reports), 3.0), sharey=True, squeeze=False)
    for ax, (name, r) in zip(axes[0], reports.items()):
        ax.bar(range(DIGITS), list(r["histogram"]), color="C0")
        ax.axhline(n / DIGITS, color="gray", ls=":", lw=1)
        ax.set_xticks(range(DIGITS))
        agreement = "" if r["agreement"] is None else f", agreement {r['agreement']:.2f}"
        ax.set_title(f"{name}\n{r['classes_covered']} classes, KL to uniform {r['kl']:.3f}{agreement}", fontsize=8)
        ax.set_xlabel("predicted digit")
    axes[0, 0].set_ylabel(f"samples (of {n:,})")
    fig.tight_layout()
    return fig


def lesson_07(out: Path) -> dict[str, str]:
    """The three arms on MNIST in the lesson's full-mode recipe, their sweeps, curves and class histograms."""
    from reference.data import data_root
    from reference.metrics.evaluate import load_generator
    from reference.metrics.features import get_extractor

    root = data_root()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gan-course-07-") as work:
        runs = train_arms("mnist", root, Path(work), FULL["epochs"], FULL["max_images"], FULL["eval_samples"])
        seconds = time.perf_counter() - start
        histories = {name: read_metrics(run) for name, run in runs.items()}
        models = {name: load_generator(run / "checkpoints" / "last.pt") for name, run in runs.items()}
    extractor = get_extractor("classifier", "mnist", root)
    n = FULL["eval_samples"]
    reports = {name: class_report(G, spec, nz, extractor, n) for name, (G, spec, nz, _) in models.items()}
    setup = (f"{FULL['epochs']} epochs on the first {FULL['max_images']:,} MNIST training images, the 28x28 DCGAN at "
             f"ngf = ndf = 32, batch 64, Adam 2e-4, betas (0.5, 0.999), non-saturating loss, seed 0 "
             f"(reference.trainer.train on the CPU; the three runs, with an evaluation every epoch, took "
             f"{seconds:.0f} s on {hardware()})")
    captions = {}
    G, _, nz, _ = models["cDCGAN (concat)"]
    save(class_sweep(G, nz), out / "07_class_sweep.png")
    captions["07_class_sweep.png"] = f"The one-hot cDCGAN's G(z, y) (eval mode), one row per label y, one noise vector (seed 0) per column: {setup}."
    save(interpolation_within_class(G, nz), out / "07_within_class.png")
    captions["07_within_class.png"] = f"The same G with y fixed per row and z on a straight line between two N(0, I) vectors (seed 0), 10 steps: {setup}."
    save(interpolation_across_classes(G, nz), out / "07_across_classes.png")
    captions["07_across_classes.png"] = (f"The same G with z fixed per row (seed 0) and the label input (1 - t) one_hot(a) + t "
                                         f"one_hot(b), t = 0..1 in 10 steps: {setup}.")
    save(metric_curves(histories), out / "07_curves.png")
    final = "; ".join(f"{name}: FID {rows[-1]['fid']:.1f}" + (f", agreement {rows[-1]['class_agreement']:.3f}"
                                                                if "class_agreement" in rows[-1] else "")
                      for name, rows in histories.items())
    captions["07_curves.png"] = (f"Classifier-FID and class agreement ({n:,} samples against {n:,} MNIST test images, "
                                 f"the trainer's --eval-every 1) after each epoch. Last epoch: {final}. {setup}.")
    save(class_histograms(reports, n), out / "07_classes.png")
    hist = "; ".join(f"{name}: {r['histogram'].tolist()}" for name, r in reports.items())
    captions["07_classes.png"] = (f"Predicted classes of {n:,} samples (noise seed 1; a conditional G draws label i mod 10) "
                                  f"by the MNIST classifier: {hist}. {setup}.")
    return captions


__all__ = ["ARMS", "FULL", "RECIPE", "class_histograms", "class_report", "class_sweep", "interpolation_across_classes",
           "interpolation_within_class", "lerp_noise", "lesson_07", "metric_curves", "read_metrics", "train_arms"]
