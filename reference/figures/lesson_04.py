"""Figures of lesson 04 (mode collapse), run by `python -m reference.figures 4`.

The 2-D figures read what `python benchmarks/mode_collapse.py` wrote (its per-run CSV and the
evaluated points of each arm's first seed, in benchmarks/results/), so the lesson shows exactly
the runs behind its table; run the benchmark first.
The MNIST figures train a short MLP GAN here and need real MNIST and its classifier under the data
root (`$GAN_COURSE_DATA`; the classifier is trained there first, ~140 s, if it is not cached).
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from reference.figures import hardware, save

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
ARM_LABELS = {"gan": "GAN", "mbstd": "GAN + minibatch std", "pacgan2": "PacGAN2", "pacgan3": "PacGAN3",
              "pacgan4": "PacGAN4", "wgan-gp": "WGAN-GP"}


def _benchmark_rows(name: str = "mode_collapse.csv") -> list[dict]:
    path = RESULTS / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python benchmarks/mode_collapse.py` first")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _budget_runs() -> list[dict]:
    """Every run of the lesson's table and of its longer budgets (mode_collapse_<steps>.csv), if written."""
    rows = _benchmark_rows()
    for path in sorted(RESULTS.glob("mode_collapse_*.csv")):
        rows += _benchmark_rows(path.name)
    return rows


def scatter_grid(points: dict[str, np.ndarray], rows: list[dict], path: Path) -> None:
    """One scatter plot per dataset (rows) and arm (columns): G's 2,500 points and the modes."""
    from reference.data.mixtures import MIXTURES
    from reference.metrics.coverage import mode_coverage

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    fig, axes = plt.subplots(len(datasets), len(arms), figsize=(2.9 * len(arms), 3.0 * len(datasets)), squeeze=False)
    for i, dataset in enumerate(datasets):
        mixture = MIXTURES[dataset]
        span = float(mixture.means.abs().max()) * 1.5 + 0.1
        for j, arm in enumerate(arms):
            ax = axes[i, j]
            xy = points[f"{dataset}/{arm}"]
            cov = mode_coverage(torch.from_numpy(xy), mixture.means, mixture.std)
            ax.scatter(xy[:, 0], xy[:, 1], s=1, alpha=0.4, color="C0")
            ax.scatter(mixture.means[:, 0], mixture.means[:, 1], s=18, marker="x", color="red", lw=0.8)
            ax.set_xlim(-span, span)
            ax.set_ylim(-span, span)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{ARM_LABELS[arm]}\n{cov['modes_covered']}/{mixture.n_modes} modes, "
                         f"{100 * cov['high_quality_fraction']:.0f}% HQ", fontsize=9)
        axes[i, 0].set_ylabel(dataset)
    fig.tight_layout()
    save(fig, path)


def coverage_bars(rows: list[dict], path: Path) -> None:
    """Modes covered and high-quality % per arm: mean over seeds, each seed a dot."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 6), squeeze=False)
    for j, dataset in enumerate(datasets):
        for i, (key, label) in enumerate((("modes_covered", "modes covered"), ("high_quality_pct", "high-quality points, %"))):
            ax = axes[i, j]
            for k, arm in enumerate(arms):
                values = [float(r[key]) for r in rows if r["dataset"] == dataset and r["arm"] == arm]
                ax.bar(k, statistics.fmean(values), color=f"C{k}", alpha=0.6)
                ax.scatter([k] * len(values), values, color="k", s=10, zorder=3)
            if key == "modes_covered":
                ax.axhline(int(rows[[r["dataset"] for r in rows].index(dataset)]["n_modes"]), color="gray", ls=":")
            ax.set_xticks(range(len(arms)), [ARM_LABELS[a] for a in arms], rotation=20, fontsize=8)
            ax.set_ylabel(label)
            ax.set_title(f"{dataset}: {label}")
    fig.tight_layout()
    save(fig, path)


def budget_lines(rows: list[dict], path: Path) -> None:
    """Modes covered and high-quality % against generator steps: mean over seeds (line), each seed (dots)."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    budgets = sorted({int(r["g_steps"]) for r in rows})
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 6), squeeze=False)
    for j, dataset in enumerate(datasets):
        for i, (key, label) in enumerate((("modes_covered", "modes covered"), ("high_quality_pct", "high-quality points, %"))):
            ax = axes[i, j]
            for k, arm in enumerate(arms):
                runs = [r for r in rows if r["dataset"] == dataset and r["arm"] == arm]
                steps = [b for b in budgets if any(int(r["g_steps"]) == b for r in runs)]
                means = [statistics.fmean(float(r[key]) for r in runs if int(r["g_steps"]) == b) for b in steps]
                ax.plot(steps, means, "o-", color=f"C{k}", label=ARM_LABELS[arm])
                ax.scatter([int(r["g_steps"]) for r in runs], [float(r[key]) for r in runs], color=f"C{k}", s=8, alpha=0.5)
            if key == "modes_covered":
                ax.axhline(int(next(r for r in rows if r["dataset"] == dataset)["n_modes"]), color="gray", ls=":")
            ax.set_xscale("log")
            ax.set_xticks(budgets, [f"{b:,}" for b in budgets])
            ax.minorticks_off()
            ax.set_xlabel("generator steps")
            ax.set_ylabel(label)
            ax.set_title(f"{dataset}: {label}")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)


def mnist_diagnosis(root: Path | None = None, epochs: int = 3, n: int = 2000) -> dict:
    """Class coverage and precision/recall of four image sets against real MNIST test images.

    Sets (n images each): held-out real (training images), real digits 0-4 only, real 1s only,
    and an MLP GAN trained here for `epochs` epochs. Returns histograms, scores and timings.
    """
    from reference.config import TrainConfig
    from reference.data import load_dataset
    from reference.metrics.classifier import find_classifier, train_classifier
    from reference.metrics.coverage import class_coverage
    from reference.metrics.evaluate import load_generator, sample_images
    from reference.metrics.features import get_extractor
    from reference.metrics.precision_recall import precision_recall
    from reference.trainer import train

    start = time.perf_counter()
    if find_classifier("mnist", root) is None:
        train_classifier("mnist", root, progress=False)
    extractor = get_extractor("classifier", "mnist", root)
    test = load_dataset("mnist", root, split="test", download=False)
    trainset = load_dataset("mnist", root, download=False)
    gen = torch.Generator().manual_seed(0)
    reference = test.data[torch.randperm(len(test), generator=gen)[:n]]

    def real_subset(mask: torch.Tensor) -> torch.Tensor:
        index = mask.nonzero().view(-1)
        return trainset.data[index[torch.randperm(len(index), generator=gen)[:n]]]

    cfg = TrainConfig(model="mlp", dataset="mnist", epochs=epochs, batch_size=64, seed=0, device="cpu",
                      data_dir=str(root) if root else None, save_every=epochs)
    with tempfile.TemporaryDirectory() as tmp:
        gan_start = time.perf_counter()
        run_dir = train(cfg, Path(tmp) / "run", progress=False)
        gan_seconds = time.perf_counter() - gan_start
        G, spec, nz, _ = load_generator(run_dir / "checkpoints" / "last.pt")
    sets = {
        "held-out real": real_subset(torch.ones(len(trainset), dtype=torch.bool)),
        "real, digits 0-4 only": real_subset(trainset.labels < 5),
        "real, only 1s": real_subset(trainset.labels == 1),
        f"MLP GAN, {epochs} epochs": sample_images(G, spec, nz, n, seed=1),
    }
    ref_features = extractor.features(reference)
    scores = {}
    for name, images in sets.items():
        features, logits = extractor.features_and_logits(images)
        coverage = class_coverage(logits, 10)
        precision, recall = precision_recall(ref_features, features)
        scores[name] = {"histogram": coverage["histogram"].tolist(), "classes_covered": coverage["classes_covered"],
                        "precision": precision, "recall": recall}
    return {"scores": scores, "n": n, "epochs": epochs, "gan_seconds": gan_seconds,
            "seconds": time.perf_counter() - start}


def class_histograms(scores: dict, path: Path, n: int) -> None:
    fig, axes = plt.subplots(1, len(scores), figsize=(3.3 * len(scores), 3.0), sharey=True)
    for ax, (name, s) in zip(axes, scores.items()):
        ax.bar(range(10), s["histogram"], color="C0")
        ax.axhline(n / 10, color="gray", ls=":", lw=1)
        ax.set_xticks(range(10))
        ax.set_title(f"{name}\n{s['classes_covered']} classes covered", fontsize=9)
        ax.set_xlabel("predicted digit")
    axes[0].set_ylabel(f"images (of {n:,})")
    fig.tight_layout()
    save(fig, path)


def precision_recall_bars(scores: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    x = np.arange(len(scores))
    ax.bar(x - 0.18, [s["precision"] for s in scores.values()], width=0.36, label="precision (samples look real)")
    ax.bar(x + 0.18, [s["recall"] for s in scores.values()], width=0.36, label="recall (real data covered)")
    ax.set_xticks(x, list(scores), fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    save(fig, path)


def lesson_04(out: Path) -> dict[str, str]:
    """Scatter plots and coverage bars of the benchmark's runs; MNIST class histograms and precision/recall."""
    from reference.data import data_root

    captions = {}
    rows = _benchmark_rows()
    with np.load(RESULTS / "mode_collapse_points.npz") as f:
        points = {k: f[k] for k in f.files}
    seeds = sorted({int(r["seed"]) for r in rows})
    g_steps, batch = rows[0]["g_steps"], rows[0]["batch_size"]
    model = (f"mlp2d (G 4 x 400 ReLU + BatchNorm, D 3 x 200 LeakyReLU), batch {batch}, Adam lr 2e-4, betas "
             f"(0.5, 0.999); WGAN-GP 5 critic steps per generator step; trained by `python "
             f"benchmarks/mode_collapse.py` on {hardware()}")
    setup = f"{int(g_steps):,} generator steps, {model}"
    scatter_grid(points, rows, out / "04_scatter.png")
    minutes = sum(float(r["seconds"]) for r in rows) / 60
    captions["04_scatter.png"] = (
        f"2,500 points of each trained generator (seed {seeds[0]}) on the 8-Gaussian ring (std 0.01) and the "
        f"25-Gaussian grid (std 0.05); red crosses are the modes; titles give modes covered and the share of "
        f"high-quality points (within 3 std of a mode). {setup}."
    )
    coverage_bars(rows, out / "04_coverage.png")
    captions["04_coverage.png"] = (
        f"Modes covered and high-quality % per arm, mean over seeds {seeds} (bars) and each seed (dots), 2,500 "
        f"points per run; dotted line: all modes. {setup}; {len(rows)} runs, {minutes:.0f} CPU-thread minutes in all."
    )
    all_runs = _budget_runs()
    budgets = sorted({int(r["g_steps"]) for r in all_runs})
    if len(budgets) > 1:
        budget_lines(all_runs, out / "04_budget.png")
        captions["04_budget.png"] = (
            f"Modes covered and high-quality % against the number of generator steps ({', '.join(f'{b:,}' for b in budgets)}; "
            f"`python benchmarks/mode_collapse.py --g-steps N`, one CSV per budget in benchmarks/results/): mean over "
            f"seeds {seeds} (lines) and each seed (dots), 2,500 points per run; dotted line: all modes. The same "
            f"settings at every budget: {model}; {len(all_runs)} runs."
        )

    root = data_root()
    result = mnist_diagnosis(root)
    n, epochs = result["n"], result["epochs"]
    mnist_setup = (f"{n:,} images per set, judged by the MNIST classifier of reference.metrics.classifier "
                   f"(logits for the class histogram, 128-d features for improved precision/recall with k = 3 "
                   f"against {n:,} MNIST test images); the GAN is lesson 2's MLP GAN (batch 64, Adam 2e-4, seed 0) "
                   f"trained {epochs} epochs on MNIST in {result['gan_seconds']:.0f} s; {hardware()}")
    class_histograms(result["scores"], out / "04_classes.png", n)
    captions["04_classes.png"] = f"Predicted classes of four image sets: {mnist_setup}."
    precision_recall_bars(result["scores"], out / "04_precision_recall.png")
    pr = "; ".join(f"{k}: {v['precision']:.2f} / {v['recall']:.2f}" for k, v in result["scores"].items())
    captions["04_precision_recall.png"] = (
        f"Improved precision and recall of the same sets (precision / recall: {pr}): {mnist_setup}."
    )
    return captions
