"""Figures of lesson 05 (FID, KID, the Inception Score, MiFID), run by `python -m reference.figures 5`.

One function per figure; each returns a matplotlib Figure (the notebook calls the same functions to
draw live) and `lesson_05(out)` saves them with their captions:

- `feature_space`: a feature set seen from its two principal axes, coloured by digit;
- `corruption_examples`: one image under each noise std and blur sigma;
- `what_moves_fid`: FID against the noise, the blur and the number of classes kept;
- `sample_size_bias`: FID and KID of real against real images by the number of images n;
- `is_blind_spots`: the Inception Score beside FID for real, repeated, one-class and blurred sets;
- `memorization`: the MiFID table and the distances to the nearest training image.

Helpers the notebook calls too: `nearest_distances` (each feature's distance 1 - |cos| to its nearest
training feature), `thresholded_mifid` (MiFID at a chosen threshold), `most_confident` (the images a
classifier is surest of, per class).

`lesson_05(out)` repeats the notebook's computations in full mode (N = 5,000 images per set, 10
seeds, the MNIST classifier's features), so a figure shows what the notebook draws when run. It
needs MNIST under the data root ($GAN_COURSE_DATA) and the MNIST classifier of that root: cached
(in ~/.cache/gan-course/classifiers/, or $GAN_COURSE_CACHE), or trained once and cached there
(about 140 s on 2 CPU cores), as the notebook does.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from reference.progress import tqdm

from reference.data import data_root, load_dataset
from reference.figures import hardware, save
from reference.metrics import MIFID_EPSILON, SmallSampleWarning, fid, inception_score, kid, mifid
from reference.metrics.classifier import find_classifier, train_classifier
from reference.metrics.corruptions import add_gaussian_noise, gaussian_blur, keep_classes
from reference.metrics.features import get_extractor

N, N_TRAIN, SEEDS = 5000, 20_000, 10  # the notebook's full mode
NOISE_STDS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
BLUR_SIGMAS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]
KEPT_CLASSES = [10, 8, 6, 4, 2, 1]
SIZES = [50, 100, 200, 500, 1000, 2000, 5000]


# ---------------------------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------------------------


def feature_space(features: torch.Tensor, labels: torch.Tensor, name: str) -> Figure:
    """Features (n, D) projected on their first two principal axes (PCA by SVD of the centred
    features, in float64), coloured by the labels (n,)."""
    centred = features.double() - features.double().mean(0)
    _, singular, directions = torch.linalg.svd(centred, full_matrices=False)
    xy = centred @ directions[:2].T
    explained = float((singular[:2] ** 2).sum() / (singular**2).sum())
    fig, ax = plt.subplots(figsize=(5, 4.5))
    points = ax.scatter(xy[:, 0].numpy(), xy[:, 1].numpy(), c=np.asarray(labels), cmap="tab10", s=3)
    fig.colorbar(points, ax=ax, label="true digit")
    ax.set_title(f"{len(features):,} test images in {name}'s feature space\n"
                 f"(first 2 principal axes, {explained:.0%} of the variance)")
    return fig


def corruption_examples(image: torch.Tensor, noise_stds: Sequence[float] = NOISE_STDS,
                        blur_sigmas: Sequence[float] = BLUR_SIGMAS) -> Figure:
    """One uint8 image (1, C, H, W) under each noise std (top row, noise seed 0) and blur sigma (bottom)."""
    fig, axes = plt.subplots(2, len(noise_stds), figsize=(1.6 * len(noise_stds), 3.6))
    for ax, s in zip(axes[0], noise_stds):
        ax.imshow(add_gaussian_noise(image, s, rng=0)[0, 0].numpy(), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"noise {s:g}", fontsize=9)
    for ax, s in zip(axes[1], blur_sigmas):
        ax.imshow(gaussian_blur(image, s)[0, 0].numpy(), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"blur {s:g}", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    return fig


def what_moves_fid(fid_noise: Sequence[float], fid_blur: Sequence[float], fid_dropped: Sequence[float],
                   fid_ref: float, n: int, name: str, noise_stds: Sequence[float] = NOISE_STDS,
                   blur_sigmas: Sequence[float] = BLUR_SIGMAS, kept_classes: Sequence[int] = KEPT_CLASSES) -> Figure:
    """Three panels: FID against the noise std, the blur sigma and the classes kept (log scale),
    with the FID of held-out real images, fid_ref, as a dotted line."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for ax, levels, values, xlabel in [
        (axes[0], noise_stds, fid_noise, "noise std (pixels in [0, 1])"),
        (axes[1], blur_sigmas, fid_blur, "blur sigma (pixels)"),
        (axes[2], kept_classes, fid_dropped, "classes kept (digits 0 .. k-1)"),
    ]:
        ax.plot(levels, values, "o-")
        ax.axhline(fid_ref, color="gray", ls=":", label=f"held-out real images: {fid_ref:.1f}")
        ax.set_xlabel(xlabel)
        ax.set_yscale("log")
        ax.legend()
    axes[2].invert_xaxis()
    axes[0].set_ylabel(f"FID against {n:,} test images")
    fig.suptitle(f"What moves FID ({name} features, {n:,} images per set)")
    return fig


def sample_size_bias(sizes: Sequence[int], fids: np.ndarray, kids: np.ndarray, dim: int, dataset: str) -> Figure:
    """FID (left, log-log) and KID (right) of real against real images: fids and kids are
    (len(sizes), seeds) arrays, drawn as mean +- std over the seeds; dim is the feature dimension."""
    seeds = fids.shape[1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    left.errorbar(sizes, fids.mean(1), yerr=fids.std(1), fmt="o-", capsize=3, label="FID, mean +- std over seeds")
    left.axvline(dim, color="gray", ls=":", label=f"n = feature dimension ({dim})")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("n images per set")
    left.set_ylabel("FID, real vs real")
    left.legend()
    right.errorbar(sizes, kids.mean(1), yerr=kids.std(1), fmt="o-", color="C1", capsize=3,
                   label="KID, mean +- std over seeds")
    right.axhline(0, color="gray", lw=0.8)
    right.set_xscale("log")
    right.set_xlabel("n images per set")
    right.set_ylabel("KID, real vs real")
    right.legend()
    fig.suptitle(f"Both sets real ({dataset} test vs train images), {seeds} seeds")
    return fig


def is_blind_spots(scores: dict[str, tuple[float, float]], n: int) -> Figure:
    """Bars of the Inception Score (left) and FID against the n reference images (right, log
    scale) of each named set: scores = {name: (IS, FID)}."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
    names = list(scores)
    bars = left.barh(names, [scores[name][0] for name in names], color="C2")
    left.bar_label(bars, fmt="%.2f", padding=2)
    left.axvline(10, color="gray", ls=":")
    left.set_xlim(0, 11.5)
    left.set_xlabel("classifier score (IS; at most 10, the classes), higher = 'better'")
    bars = right.barh(names, [scores[name][1] for name in names], color="C3")
    right.bar_label(bars, fmt="%.1f", padding=2)
    right.set_xscale("log")
    right.set_xlim(right.get_xlim()[0], right.get_xlim()[1] * 4)
    right.set_xlabel(f"FID against {n:,} test images, lower = better")
    left.invert_yaxis()
    return fig


def memorization(table: dict[str, tuple[float, float, float, float]], distances: dict[str, torch.Tensor],
                 eps_calibrated: float, n: int, n_train: int) -> Figure:
    """The MiFID table {set: (FID, d, MiFID at 0.1, MiFID at eps_calibrated)} above a histogram of
    each set's per-image distances to the nearest training image (the copies, all 0, left out)."""
    fig, (tab, hist) = plt.subplots(2, 1, figsize=(9, 7), gridspec_kw={"height_ratios": [1, 1.6]})
    tab.axis("off")
    cells = [[name, f"{f:.2f}", f"{d:.4f}", f"{m:.4g}", f"{mc:.4g}"] for name, (f, d, m, mc) in table.items()]
    shown = tab.table(cellText=cells, loc="center", cellLoc="right", colLoc="right",
                      colLabels=["", "FID", "distance d", f"MiFID, eps {MIFID_EPSILON}", f"MiFID, eps {eps_calibrated:g}"])
    shown.auto_set_font_size(False)
    shown.set_fontsize(9)
    shown.auto_set_column_width(list(range(5)))
    shown.scale(1, 1.5)
    tab.set_title(f"{n:,} images each; FID against {n:,} test images; memory: {n_train:,} training images", fontsize=10)
    bins = np.linspace(0, 0.15, 61)
    for name, d in distances.items():
        if name != "copies of training images":  # distances over 0.15 are counted in the last bin
            hist.hist(d.clamp(max=0.15).numpy(), bins=bins, alpha=0.5, label=f"{name}: mean {d.mean():.4f}")
    hist.axvline(MIFID_EPSILON, color="r", ls="--", label=f"competition threshold {MIFID_EPSILON}")
    hist.axvline(eps_calibrated, color="k", ls=":", label=f"calibrated threshold {eps_calibrated:g}")
    hist.set_xlabel("1 - |cos| to the nearest training image (copies: all exactly 0; last bin: >= 0.15)")
    hist.set_ylabel("images")
    hist.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# The computations behind them (the notebook's, in full mode)
# ---------------------------------------------------------------------------------------------


def mnist_extractor(root: Path):
    """The extractor of the MNIST classifier of `root`: cached, else trained once and cached."""
    if find_classifier("mnist", root) is None:
        train_classifier("mnist", root, progress=False)
    return get_extractor("classifier", "mnist", root)


def nearest_distances(fake: torch.Tensor, train_features: torch.Tensor) -> torch.Tensor:
    """For each row of fake (M, D): min over train_features (T, D) of 1 - |cos|, (M,), in chunks of 1,000 rows."""
    t = F.normalize(train_features, dim=1)
    out = [(1 - (F.normalize(rows, dim=1) @ t.T).abs()).min(dim=1).values for rows in fake.split(1000)]
    return torch.cat(out).clamp(min=0)


def thresholded_mifid(fid_value: float, d: float, epsilon: float) -> float:
    """MiFID from FID and the memorization distance d: only d < epsilon counts as memorization."""
    return fid_value / ((d if d < epsilon else 1.0) + 1e-14)


def most_confident(confidence: torch.Tensor, k: int, n: int) -> torch.Tensor:
    """Indices (n,) into the images behind `confidence` (N, K), each row an image's p(y | x): the k images with
    the highest p(c | x) for each class c, classes in turn (0, 1, ..., K-1, 0, 1, ...), repeated to n images."""
    best = confidence.topk(k, dim=0).indices  # (k, K): column c holds the k images most surely of class c
    return best.flatten().repeat(math.ceil(n / (confidence.shape[1] * k)))[:n]


def lesson_05(out: Path) -> dict[str, str]:
    """The feature space, what moves FID, its small-sample bias against KID, IS's blind spots, MiFID."""
    root = data_root()
    train = load_dataset("mnist", root, split="train")  # a DataError with the fix if MNIST is missing
    test = load_dataset("mnist", root, split="test")
    ext = mnist_extractor(root)
    start = time.perf_counter()

    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(test), generator=gen)
    real, real_y = test.data[order[:N]], test.labels[order[:N]]
    held, held_y = test.data[order[N : 2 * N]], test.labels[order[N : 2 * N]]
    order = torch.randperm(len(train), generator=gen)
    train_x, train_y = train.data[order], train.labels[order]
    memory = train_x[:N_TRAIN]
    f_real = ext.features(real)
    f_held, logits_held = ext.features_and_logits(held)
    fid_ref = fid(f_real, f_held)
    setup = (f"MNIST, features of the MNIST classifier (reference/metrics/classifier.py, 128-d, seed 0); "
             f"reference set: {N:,} test images")
    captions = {}

    # ---- the feature space (section 1) --------------------------------------------------------
    save(feature_space(f_real, real_y, ext.name), out / "05_feature_space.png")
    captions["05_feature_space.png"] = (
        f"The 128-d features of {N:,} MNIST test images (seed 0) from the MNIST classifier's penultimate layer, "
        f"projected on their first two principal axes (PCA by SVD of the centred features) and coloured by the true "
        f"digit."
    )

    # ---- one digit under the corruptions (section 3) ------------------------------------------
    save(corruption_examples(held[:1]), out / "05_corruptions.png")
    captions["05_corruptions.png"] = (
        "The first held-out MNIST test image (seed 0) under the noise stds (top) and blur sigmas (bottom) of "
        "05_what_moves_fid.png, made by reference.metrics.corruptions (noise seed 0)."
    )

    # ---- what moves FID (section 3) -------------------------------------------------------------
    n_drop = min(N, int((train_y == 0).sum()))
    noisy = {s: ext.features_and_logits(add_gaussian_noise(held, s, rng=0)) for s in NOISE_STDS}
    blurred = {s: ext.features_and_logits(gaussian_blur(held, s)) for s in BLUR_SIGMAS}
    dropped = {k: ext.features_and_logits(keep_classes(train_x, train_y, range(k), n=n_drop)) for k in KEPT_CLASSES}
    fid_noise = [fid(f_real, noisy[s][0]) for s in NOISE_STDS]
    fid_blur = [fid(f_real, blurred[s][0]) for s in BLUR_SIGMAS]
    fid_dropped = [fid(f_real, dropped[k][0]) for k in KEPT_CLASSES]
    save(what_moves_fid(fid_noise, fid_blur, fid_dropped, fid_ref, N, ext.name), out / "05_what_moves_fid.png")
    captions["05_what_moves_fid.png"] = (
        f"FID against {N:,} MNIST test images of {N:,} other test images under Gaussian noise (std "
        f"{', '.join(f'{s:g}' for s in NOISE_STDS)}: FID {', '.join(f'{v:.1f}' for v in fid_noise)}), under "
        f"Gaussian blur (sigma {', '.join(f'{s:g}' for s in BLUR_SIGMAS)} px: FID "
        f"{', '.join(f'{v:.1f}' for v in fid_blur)}), and of {n_drop:,} training images of the digits 0..k-1 only "
        f"(k = {', '.join(map(str, KEPT_CLASSES))}: FID {', '.join(f'{v:.1f}' for v in fid_dropped)}); "
        f"reference.metrics.corruptions, seed 0. {setup}."
    )

    # ---- small-sample bias: FID and KID of real vs real (section 4) -----------------------------
    f_memory = ext.features(memory)
    pool_test = torch.cat([f_real, f_held])
    fids, kids = np.zeros((len(SIZES), SEEDS)), np.zeros((len(SIZES), SEEDS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        for i, n in enumerate(tqdm(SIZES, desc="sample sizes", leave=False)):
            for seed in range(SEEDS):
                g = torch.Generator().manual_seed(seed)
                a = pool_test[torch.randperm(len(pool_test), generator=g)[:n]]
                b = f_memory[torch.randperm(len(f_memory), generator=g)[:n]]
                fids[i, seed] = fid(a, b)
                kids[i, seed] = kid(a, b, subsets=1 if n <= 1000 else 10, subset_size=min(n, 1000), seed=seed)[0]
    save(sample_size_bias(SIZES, fids, kids, ext.dim, "mnist"), out / "05_sample_size_bias.png")
    big = [i for i, n in enumerate(SIZES) if n >= 500]
    c, fid_inf = np.polyfit(1 / np.array(SIZES)[big], fids.mean(1)[big], 1)
    captions["05_sample_size_bias.png"] = (
        f"FID (left) and KID (right, unbiased MMD^2 with the cubic kernel; one subset of all n images for n <= 1,000, "
        f"else 10 subsets of 1,000) of n MNIST test images against n training images, both real, for n = "
        f"{', '.join(f'{n:,}' for n in SIZES)}: mean +- std over seeds 0-{SEEDS - 1} (each seed draws both sets). "
        f"FID: {', '.join(f'{m:.1f}' for m in fids.mean(1))}, so FID(n) ~ {fid_inf:.2f} + {c:.0f}/n fitted on "
        f"n >= 500; KID: {', '.join(f'{m:.2f}' for m in kids.mean(1))}, flat within its spread. Test pool: {2 * N:,} "
        f"test images; training pool: {N_TRAIN:,} training images (seed 0). Features of the MNIST classifier (128-d)."
    )

    # ---- Inception Score blind spots (section 5) ------------------------------------------------
    confidence = logits_held.softmax(dim=1)
    rows = {f"held-out real ({N:,} distinct)": (f_held, logits_held)}
    for k in (100, 10, 1):
        idx = most_confident(confidence, k, N)
        rows[f"{k} per class, repeated"] = (f_held[idx], logits_held[idx])
    n_ones = min(N, int((train_y == 1).sum()))
    rows["only the digit 1"] = ext.features_and_logits(keep_classes(train_x, train_y, [1], n=n_ones))
    rows["blurred (sigma 1)"] = blurred[1.0]
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        for name, (feats, logits) in rows.items():
            scores[name] = (inception_score(logits, splits=1)[0], fid(f_real, feats))
        low = (held_y < 5).nonzero().squeeze(1)
        real_low = f_real[real_y < 5]
        right_gen = (inception_score(logits_held[low], splits=1)[0], fid(real_low, f_held[low]))
        wrong_gen = (inception_score(logits_held[: len(low)], splits=1)[0], fid(real_low, f_held[: len(low)]))
    save(is_blind_spots(scores, N), out / "05_is_blind_spots.png")
    captions["05_is_blind_spots.png"] = (
        "Classifier score (the Inception Score from the MNIST classifier's 10 logits, one split) and FID against "
        f"{N:,} MNIST test images of: {N:,} held-out test images; the k held-out images with the highest p(c|x) for "
        f"each digit c, repeated to {N:,} (k = 100, 10, 1); {n_ones:,} training images of the digit 1; the held-out "
        "images blurred with sigma 1. " + "; ".join(f"{n}: IS {s[0]:.3f}, FID {s[1]:.1f}" for n, s in scores.items())
        + f". Not drawn: with real data of the digits 0-4 only ({len(real_low):,} test images), {len(low):,} held-out "
        f"images of 0-4 score IS {right_gen[0]:.2f}, FID {right_gen[1]:.1f}; as many held-out images of all digits "
        f"IS {wrong_gen[0]:.2f}, FID {wrong_gen[1]:.1f}."
    )

    # ---- memorization and MiFID (section 6) -----------------------------------------------------
    candidates = {
        "held-out real images (never seen)": f_held,
        "copies of training images": f_memory[:N],
        "copies + noise (std 0.05)": ext.features(add_gaussian_noise(memory[:N], 0.05, rng=1)),
        "held-out images, blurred (sigma 1)": blurred[1.0][0],
    }
    distances = {name: nearest_distances(f, f_memory) for name, f in candidates.items()}
    d_held = distances["held-out real images (never seen)"].mean().item()
    eps_calibrated = float(f"{d_held / 2:.1g}")
    table = {}
    for name, feats in candidates.items():
        result = mifid(feats, f_real, f_memory)
        fid_value, d = result["fid"], result["distance"]
        table[name] = (fid_value, d, result["mifid"], thresholded_mifid(fid_value, d, eps_calibrated))
    save(memorization(table, distances, eps_calibrated, N, N_TRAIN), out / "05_memorization.png")
    seconds = time.perf_counter() - start
    captions["05_memorization.png"] = (
        f"Top: FID against {N:,} MNIST test images, memorization distance d (mean over the set of 1 - |cos| to the "
        f"nearest of {N_TRAIN:,} training images, seed 0) and MiFID (reference.metrics.mifid) at the competition's "
        f"threshold 0.1 and at {eps_calibrated:g}, half the held-out images' d, for {N:,} held-out test images, "
        f"{N:,} of those training images copied, the same copies with Gaussian noise (std 0.05, seed 1) and the "
        f"held-out images blurred (sigma 1). "
        + "; ".join(f"{n}: FID {t[0]:.2f}, d {t[1]:.4f}, MiFID {t[2]:.4g} / {t[3]:.4g}" for n, t in table.items())
        + ". Bottom: the per-image distances behind d. Features of the MNIST classifier (128-d)."
    )
    timing = f" All lesson-5 figures computed in {seconds:.0f} s (classifier cached) on {hardware()}, shared with other jobs."
    return {name: caption + timing for name, caption in captions.items()}
