"""Figures of lesson 04 (mode collapse), run by `python -m reference.figures 4`.

One function per figure; each returns a matplotlib Figure (the notebook calls the same functions
to draw live) and `lesson_04(out)` saves them with their captions:

- `scatter_panels`: small multiples of 2-D samples with the mixture's modes (the collapse demo's
  snapshots over training, the true samples, each arm's generator);
- `divergences`: forward and reverse KL of two fits to a two-mode density (why the
  non-saturating loss is mode-seeking), numbers from `two_mode_fits`;
- `budget_lines`: the benchmark's modes covered and high-quality share against the budget;
- `class_histograms`, `precision_recall_bars`: the MNIST diagnosis of `mnist_diagnosis`.

Data helpers: `collapse_snapshots` trains the demo (a plain GAN, minibatch std and PacGAN4 on the
8-ring, snapshots every 500 generator steps) and `modes_held` reads them; `real_subset` draws the MNIST
diagnosis's real image sets; the benchmark figures read what
`python benchmarks/mode_collapse.py` wrote into benchmarks/results/ (run it first); the MNIST
figures train a short MLP GAN and need real MNIST and its classifier under the data root
(`$GAN_COURSE_DATA`; the classifier is trained there first, ~140 s, if it is not cached).
"""

from __future__ import annotations

import csv
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from reference.figures import hardware, save

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
ARM_LABELS = {"gan": "GAN", "mbstd": "GAN + minibatch std", "pacgan2": "PacGAN2", "pacgan3": "PacGAN3",
              "pacgan4": "PacGAN4", "wgan-gp": "WGAN-GP", "wgan-gp-gan-adam": "WGAN-GP, GAN's Adam"}

# The collapse demo (section 1 of the lesson; the notebook uses the same values), found by experiment
# (seeds 0-2): close to the 2-D setting of the unrolled-GAN experiments (Metz et al. 2017) and the demos
# that followed them (two small MLPs, Adam beta1 0.5, D's learning rate 10 times smaller than G's). A plain
# GAN sits on one mode at a time and hops between them; packing or minibatch std spreads it over the ring.
DEMO = dict(steps=5000, every=500, batch_size=256, nz=64, hidden=128, lr_g=1e-3, lr_d=1e-4, beta1=0.5, seed=0)
DEMO_ARMS = {"GAN (non-saturating)": {}, "GAN + minibatch std": {"minibatch_std": True}, "PacGAN4": {"pack": 4}}
DEMO_POINTS = 1000  # points drawn from each snapshot, from fixed noise
NEAR = 0.2  # a point is "near" a mode within this distance (neighbouring modes of the ring are 0.77 apart)


def _mlp(width_in: int, hidden: int, width_out: int, minibatch_std: bool = False) -> torch.nn.Sequential:
    from torch import nn

    from reference.models.mitigations import MinibatchStdDev

    layers = [nn.Linear(width_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()]
    if minibatch_std:
        layers.append(MinibatchStdDev())
    return nn.Sequential(*layers, nn.Linear(hidden + int(minibatch_std), width_out))


def collapse_snapshots(
    options: dict | None = None, *, steps: int = DEMO["steps"], every: int = DEMO["every"], seed: int = DEMO["seed"],
    progress: bool = True, n: int = DEMO_POINTS,
) -> list[tuple[int, torch.Tensor]]:
    """The collapse demo: a plain GAN loop on the 8-ring; G's n points (n, 2) every `every` steps.

    G: z (64-d N(0, I)) -> 2 x [Linear(., 128), ReLU] -> Linear(128, 2); D the same from 2 (or 2m with
    options {"pack": m}) inputs to 1 logit, with `MinibatchStdDev` before its last layer if options
    {"minibatch_std": True}. Each step: a batch of 256 ring points (drawn with replacement from
    100,000), one D step on the non-saturating GAN's d_loss (real and fake batches packed
    separately), then one G step on -log D(G(z)) through the updated D; Adam betas (0.5, 0.999), G's
    lr 1e-3, D's 1e-4 (DEMO). Snapshots: G(fixed noise) after steps every, 2 every, ... Runs on one
    CPU thread, so that a seed gives the same run in the notebook and in `lesson_04`.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same floating-point sums, so the same run, on any number of cores (and no slower)
    try:
        return _demo_run(options or {}, steps, every, seed, progress, n)
    finally:
        torch.set_num_threads(threads)


def _demo_run(options: dict, steps: int, every: int, seed: int, progress: bool, n: int) -> list[tuple[int, torch.Tensor]]:
    import torch.nn.functional as F

    from reference.data.mixtures import sample_mixture
    from reference.models.mitigations import pack
    from reference.progress import tqdm  # tqdm.auto's bar, without its "IProgress not found" warning

    m, cfg = int(options.get("pack", 1)), DEMO
    torch.manual_seed(seed)
    G = _mlp(cfg["nz"], cfg["hidden"], 2)
    D = _mlp(2 * m, cfg["hidden"], 1, minibatch_std=bool(options.get("minibatch_std", False)))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg["lr_g"], betas=(cfg["beta1"], 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg["lr_d"], betas=(cfg["beta1"], 0.999))
    data = sample_mixture("ring", 100_000, seed=seed)[0]
    draw = torch.Generator().manual_seed(seed + 1)
    fixed = torch.randn(n, cfg["nz"], generator=torch.Generator().manual_seed(10_000 + seed))
    snapshots = []
    for step in tqdm(range(1, steps + 1), desc=f"demo {options or 'GAN'}", disable=not progress, leave=False):
        real = data[torch.randint(len(data), (cfg["batch_size"],), generator=draw)]
        fake = G(torch.randn(cfg["batch_size"], cfg["nz"]))
        loss_d = F.softplus(-D(pack(real, m))).mean() + F.softplus(D(pack(fake.detach(), m))).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(pack(fake, m))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step % every == 0:
            with torch.no_grad():
                snapshots.append((step, G(fixed)))
    return snapshots


def modes_held(points: torch.Tensor, share: float = 0.25, near: float = NEAR) -> list[int]:
    """The ring's modes that hold at least `share` of their fair 1/8 of `points` within `near` of them."""
    from reference.data.mixtures import MIXTURES

    means = MIXTURES["ring"].means
    distance, nearest = torch.cdist(points.float(), means).min(dim=1)
    histogram = torch.bincount(nearest[distance < near], minlength=len(means))
    return [int(k) for k in (histogram >= share * len(points) / len(means)).nonzero().view(-1)]


def two_mode_fits(n_grid: int = 40_001) -> dict:
    """Two fits q to p = 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2), scored by both KL directions.

    Fits: "one mode" q = N(2, 0.5^2); "both modes" q = N(0, s^2) with p's variance (s^2 = 4.25).
    Returns x (grid on [-10, 10]), p, {name: q} and {name: {"reverse KL", "forward KL", "NS objective"}}
    where reverse KL = KL(q || p), forward KL = KL(p || q), and the NS objective KL(q || p) - 2 JSD(p, q),
    whose gradient the non-saturating G step follows against the optimal D (Arjovsky & Bottou 2017,
    Theorem 2.5); trapezoidal integrals on the grid.
    """
    from scipy import integrate, stats

    x = np.linspace(-10.0, 10.0, n_grid)
    p = 0.5 * stats.norm(-2, 0.5).pdf(x) + 0.5 * stats.norm(2, 0.5).pdf(x)
    fits = {"one mode: N(2, 0.5²)": stats.norm(2, 0.5).pdf(x), "both modes: N(0, 2.06²)": stats.norm(0, math.sqrt(4.25)).pdf(x)}

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        keep = a > 1e-300
        return float(integrate.trapezoid(np.where(keep, a * (np.log(np.where(keep, a, 1.0)) - np.log(np.maximum(b, 1e-300))), 0.0), x))

    scores = {}
    for name, q in fits.items():
        m = 0.5 * (p + q)
        jsd = 0.5 * kl(p, m) + 0.5 * kl(q, m)
        scores[name] = {"reverse KL": kl(q, p), "forward KL": kl(p, q), "NS objective": kl(q, p) - 2 * jsd}
    return {"x": x, "p": p, "fits": fits, "scores": scores}


def _benchmark_rows(name: str = "mode_collapse.csv") -> list[dict]:
    path = RESULTS / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python benchmarks/mode_collapse.py` first")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def benchmark_runs() -> tuple[list[dict], list[dict]]:
    """(the default budget's runs, every budget's runs: mode_collapse.csv and mode_collapse_<steps>.csv)."""
    rows = _benchmark_rows()
    everything = list(rows)
    for path in sorted(RESULTS.glob("mode_collapse_*.csv")):
        everything += _benchmark_rows(path.name)
    return rows, everything


def benchmark_points() -> dict[str, np.ndarray]:
    """The 2,500 evaluated points of each dataset and arm's first seed, {"DATASET/ARM": (2500, 2)}."""
    with np.load(RESULTS / "mode_collapse_points.npz") as f:
        return {k: f[k] for k in f.files}


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def scatter_panels(rows: dict[str, tuple[str, list[tuple[str, object]]]], size: float = 2.5) -> Figure:
    """Small multiples of 2-D samples: {row label: (mixture name, [(panel title, points (N, 2)), ...])}.

    Each panel shows the points (blue) and the mixture's modes (red crosses) on the same axes; its
    title gets the modes covered and the high-quality share (reference.metrics.coverage).
    """
    from reference.data.mixtures import MIXTURES
    from reference.metrics.coverage import mode_coverage

    n_cols = max(len(panels) for _, panels in rows.values())
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(size * n_cols, (size + 0.35) * len(rows)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, (label, (dataset, panels)) in enumerate(rows.items()):
        mixture = MIXTURES[dataset]
        span = float(mixture.means.abs().max()) * 1.45 + 0.1
        for j, (title, points) in enumerate(panels):
            xy = torch.as_tensor(np.asarray(points), dtype=torch.float32)
            cov = mode_coverage(xy, mixture.means, mixture.std)
            ax = axes[i, j]
            ax.set_axis_on()
            ax.scatter(xy[:, 0], xy[:, 1], s=1, alpha=0.35, color="C0", rasterized=True)
            ax.scatter(mixture.means[:, 0], mixture.means[:, 1], s=16, marker="x", color="red", lw=0.8)
            ax.set_xlim(-span, span)
            ax.set_ylim(-span, span)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{title}\n{cov['modes_covered']}/{mixture.n_modes} modes, "
                         f"{100 * cov['high_quality_fraction']:.0f}% HQ", fontsize=8)
        axes[i, 0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    return fig


def divergences(fits: dict) -> Figure:
    """p (two modes) and the two fits of `two_mode_fits`, each labelled with both KL directions."""
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    ax.fill_between(fits["x"], fits["p"], color="0.8", label="p_data: two modes")
    for (name, q), colour in zip(fits["fits"].items(), ("C3", "C0")):
        s = fits["scores"][name]
        ax.plot(fits["x"], q, color=colour,
                label=f"{name}: KL(q||p) = {s['reverse KL']:.2f}, KL(p||q) = {s['forward KL']:.2f}")
    ax.set_xlim(-6, 6)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def budget_lines(rows: list[dict]) -> Figure:
    """Modes covered and high-quality % against generator steps: mean over seeds (lines), each seed (dots)."""
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
    return fig


def _classes(k: int) -> str:
    return f"{k} class{'' if k == 1 else 'es'} covered"


def class_histograms(scores: dict, n: int) -> Figure:
    """Predicted classes of each image set: {name: {"histogram": (10,), "classes_covered": int}}."""
    fig, axes = plt.subplots(1, len(scores), figsize=(3.3 * len(scores), 3.0), sharey=True, squeeze=False)
    for ax, (name, s) in zip(axes[0], scores.items()):
        ax.bar(range(10), list(s["histogram"]), color="C0")
        ax.axhline(n / 10, color="gray", ls=":", lw=1)
        ax.set_xticks(range(10))
        ax.set_title(f"{name}\n{_classes(int(s['classes_covered']))}", fontsize=9)
        ax.set_xlabel("predicted digit")
    axes[0, 0].set_ylabel(f"images (of {n:,})")
    fig.tight_layout()
    return fig


def precision_recall_bars(scores: dict) -> Figure:
    """Improved precision and recall of each image set: {name: {"precision": float, "recall": float}}."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    x = np.arange(len(scores))
    ax.bar(x - 0.18, [s["precision"] for s in scores.values()], width=0.36, label="precision (samples look real)")
    ax.bar(x + 0.18, [s["recall"] for s in scores.values()], width=0.36, label="recall (real data covered)")
    ax.set_xticks(x, list(scores), fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share")
    # above the axes, so that it hides no bar
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def real_subset(images: torch.Tensor, mask: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Up to n of `images` (M, C, H, W) where `mask` (M,) is True, drawn without replacement by `generator`:
    (min(n, mask.sum()), C, H, W), in the order the draw gives (the notebook and `mnist_diagnosis` draw alike)."""
    index = mask.nonzero().view(-1)
    return images[index[torch.randperm(len(index), generator=generator)[:n]]]


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
    cfg = TrainConfig(model="mlp", dataset="mnist", epochs=epochs, batch_size=64, seed=0, device="cpu",
                      data_dir=str(root) if root else None, save_every=epochs)
    with tempfile.TemporaryDirectory() as tmp:
        gan_start = time.perf_counter()
        run_dir = train(cfg, Path(tmp) / "run", progress=False)
        gan_seconds = time.perf_counter() - gan_start
        G, spec, nz, _ = load_generator(run_dir / "checkpoints" / "last.pt")
    sets = {
        "held-out real": real_subset(trainset.data, torch.ones(len(trainset), dtype=torch.bool), n, gen),
        "real, digits 0-4 only": real_subset(trainset.data, trainset.labels < 5, n, gen),
        "real, only 1s": real_subset(trainset.data, trainset.labels == 1, n, gen),
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


# ---------------------------------------------------------------------------------------------
# The lesson's PNGs
# ---------------------------------------------------------------------------------------------


def _timed(fn: Callable, *args, **kwargs):
    start = time.perf_counter()
    return fn(*args, **kwargs), time.perf_counter() - start


def lesson_04(out: Path) -> dict[str, str]:
    """The collapse demo, the two KL directions, the benchmark's runs and the MNIST diagnosis."""
    from reference.data import data_root

    captions = {}
    demo, seconds = _timed(lambda: {label: collapse_snapshots(options, progress=False) for label, options in DEMO_ARMS.items()})
    rows = {label: ("ring", [(f"step {step:,}", xy) for step, xy in snaps]) for label, snaps in demo.items()}
    save(scatter_panels(rows, size=1.9), out / "04_collapse.png")
    held = "; ".join(f"{label}: {' '.join(str(len(modes_held(xy))) for _, xy in snaps)}" for label, snaps in demo.items())
    captions["04_collapse.png"] = (
        f"Mode collapse as it happens: {DEMO_POINTS:,} points of G (fixed noise) every {DEMO['every']} generator steps "
        f"on the 8-Gaussian ring (std 0.01), for a plain non-saturating GAN and the same GAN with minibatch std or "
        f"packing (PacGAN4), same seed ({DEMO['seed']}) and budget. `collapse_snapshots`: G and D 2 x 128 ReLU MLPs, "
        f"z 64-d, batch {DEMO['batch_size']}, Adam betas ({DEMO['beta1']}, 0.999), G's lr {DEMO['lr_g']:g}, D's "
        f"{DEMO['lr_d']:g} (close to the 2-D setting of the unrolled-GAN experiments, Metz et al. 2017). Titles: modes covered (>= 1 point within 3 std) and "
        f"the high-quality share. Modes holding >= 1/4 of their share within {NEAR} at each snapshot: {held}. "
        f"{seconds:.0f} s for the three runs on {hardware()}."
    )
    fits = two_mode_fits()
    save(divergences(fits), out / "04_divergences.png")
    captions["04_divergences.png"] = (
        "A two-mode density p = 0.5 N(-2, 0.5²) + 0.5 N(2, 0.5²) and two fits: one mode, N(2, 0.5²), and a wide "
        "Gaussian with p's mean and variance, N(0, 4.25); the legend gives both KL directions, by trapezoidal "
        "integration on 40,001 points over [-10, 10] (no training). The reverse KL(q||p), which the non-saturating "
        "loss follows, prefers the one-mode fit; the forward KL(p||q), maximum likelihood's, the wide one."
    )

    bench, every_budget = benchmark_runs()
    points = benchmark_points()
    seeds = sorted({int(r["seed"]) for r in bench})
    g_steps, batch = int(bench[0]["g_steps"]), bench[0]["batch_size"]
    model = (f"mlp2d (G 4 x 400 ReLU + BatchNorm, D 3 x 200 LeakyReLU), batch {batch}; GAN arms Adam lr 2e-4, "
             f"betas (0.5, 0.999); WGAN-GP its paper's lr 1e-4, betas (0, 0.9), 5 critic steps per generator step, "
             f"penalty weight 10 (\"WGAN-GP, GAN's Adam\": the same with the GAN arms' Adam settings); trained by "
             f"the course repository's mode-collapse benchmark (`mode_collapse.py`) on {hardware()}")
    setup = f"{g_steps:,} generator steps, {model}"
    datasets = list(dict.fromkeys(r["dataset"] for r in bench))
    arms = list(dict.fromkeys(r["arm"] for r in bench))
    scatter_rows = {d: (d, [(ARM_LABELS[a], points[f"{d}/{a}"]) for a in arms]) for d in datasets}
    save(scatter_panels(scatter_rows, size=2.8), out / "04_scatter.png")
    captions["04_scatter.png"] = (
        f"2,500 points of each trained generator (seed {seeds[0]}) on the 8-Gaussian ring (std 0.01) and the "
        f"25-Gaussian grid (std 0.05); red crosses are the modes; titles give modes covered and the share of "
        f"high-quality points (within 3 std of a mode). {setup}."
    )
    budgets = sorted({int(r["g_steps"]) for r in every_budget})
    if len(budgets) > 1:
        save(budget_lines(every_budget), out / "04_budget.png")
        captions["04_budget.png"] = (
            f"Modes covered and high-quality % against the number of generator steps ({', '.join(f'{b:,}' for b in budgets)}; "
            f"the mode-collapse benchmark's `--g-steps N`, one CSV per budget): mean over "
            f"seeds {seeds} (lines) and each seed (dots), 2,500 points per run; dotted line: all modes. The same "
            f"settings at every budget: {model}; {len(every_budget)} runs."
        )

    root = data_root()
    result = mnist_diagnosis(root)
    n, epochs = result["n"], result["epochs"]
    mnist_setup = (f"{n:,} images per set, judged by the MNIST classifier of reference.metrics.classifier "
                   f"(logits for the class histogram, 128-d features for improved precision/recall with k = 3 "
                   f"against {n:,} MNIST test images); the GAN is lesson 2's MLP GAN (batch 64, Adam 2e-4, seed 0) "
                   f"trained {epochs} epochs on MNIST in {result['gan_seconds']:.0f} s; {hardware()}")
    save(class_histograms(result["scores"], n), out / "04_classes.png")
    captions["04_classes.png"] = f"Predicted classes of four image sets: {mnist_setup}."
    save(precision_recall_bars(result["scores"]), out / "04_precision_recall.png")
    pr = "; ".join(f"{k}: {v['precision']:.2f} / {v['recall']:.2f}" for k, v in result["scores"].items())
    captions["04_precision_recall.png"] = (
        f"Improved precision and recall of the same sets (precision / recall: {pr}): {mnist_setup}."
    )
    return captions
