"""Figures of lesson 03: the 64x64 FashionMNIST DC-GAN's changes, each one measured.

    python -m reference.figures 3

`lesson_03(out)` writes `03_*.png` into `out` and returns {file name: caption}. It repeats the
lesson's cells in full mode on the CPU: the 64x64 `dcgan-1024` with 1 and 3 image channels
(parameters, FLOPs, seconds per training step at batch 50), the 28x28 `dcgan` trained on real MNIST
in four arms (batch 100 or 50 x Adam beta1 0.5 or 0.9, two seeds each, the same number of images
seen), and what a grid of 16 or 32 samples can show. MNIST stands in for FashionMNIST, which has
no offline copy here; the FashionMNIST runs of the 64x64 model need a GPU and are not measured yet.
"""

from __future__ import annotations

import csv
import itertools
import math
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchvision.utils import make_grid

from reference.figures import hardware, save
from reference.checkpoint import load_checkpoint
from reference.config import TrainConfig, read_config_file
from reference.data import data_root, from_model_range, load_dataset
from reference.metrics.classifier import find_classifier, train_classifier
from reference.metrics.evaluate import load_generator, sample_images
from reference.metrics.features import get_extractor
from reference.metrics.fid import SmallSampleWarning, fid
from reference.metrics.kid import mmd2_unbiased
from reference.models import count_parameters, get_model
from reference.plots import save_image_grid
from reference.trainer import train

# The lesson's full-mode settings (the notebook uses the same values).
ARMS = {  # label -> (batch_size, beta1); every other setting is the original's
    "batch 100, beta1 0.5 (original)": (100, 0.5),
    "batch 50, beta1 0.5": (50, 0.5),
    "batch 100, beta1 0.9": (100, 0.9),
    "batch 50, beta1 0.9 (the port)": (50, 0.9),
}
SEEDS = (0, 1)
WIDTH = 32  # ngf = ndf = 32 instead of 64: about a quarter of the FLOPs, so 8 runs fit a CPU budget
MAX_IMAGES, EPOCHS = 6000, 5  # each run sees 30,000 images: the first 6,000 MNIST training images 5 times
EVAL_SAMPLES = 1000  # FID of 1,000 samples against 1,000 held-out test images after every epoch
TIMING = dict(batch=50, images=50, epochs=2, reps=3)  # 64x64: 1 step per epoch, epoch 1 is warm-up
DRAWS = 200  # random grids per grid size in the 16-vs-32 measurements
COLOURS = ("C0", "C1", "C2", "C3")


def _metrics(run_dir: Path) -> list[dict[str, float]]:
    with open(run_dir / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def _grid_image(run_dir: Path, nrow: int = 8) -> np.ndarray:
    """The run's last fixed-noise samples as one grey image, `nrow` per row (the trainer's PNG is ~square)."""
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    G, spec, _, _ = load_generator(run_dir / "checkpoints" / "last.pt")
    with torch.no_grad():
        x = from_model_range(G(state["fixed_noise"]), spec.output_range)
    return make_grid(x, nrow=nrow, padding=2, pad_value=1.0)[0].numpy()


def _flops_per_image(net: torch.nn.Module, x: torch.Tensor) -> int:
    """Forward FLOPs of `net` on one input (batch 1), counted by torch.utils.flop_counter."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net.eval()(x)
    return counter.get_total_flops()


def channels_facts() -> dict[int, dict[str, int]]:
    """Parameters and forward FLOPs of dcgan-1024 at 64x64 with C = 1 and 3 channels (no training)."""
    spec = get_model("dcgan-1024")
    facts = {}
    for c in (1, 3):
        torch.manual_seed(0)
        G, D = spec.build((c, 64, 64), spec.default_nz)
        facts[c] = {
            "g_params": count_parameters(G), "d_params": count_parameters(D),
            "g_last": count_parameters(G.main[-2]), "d_first": count_parameters(D.main[0]),
            "g_flops": _flops_per_image(G, torch.randn(1, spec.default_nz)),
            "d_flops": _flops_per_image(D, torch.randn(1, c, 64, 64)),
        }  # fmt: skip
    return facts


def time_channels(root: Path, work: Path, dataset: str = "mnist") -> dict[int, list[float]]:
    """Seconds per training step of dcgan-1024 at batch 50, C = 1 vs 3, runs interleaved 1,3,3,1,...

    The 1-channel runs train on `dataset` (resized to 64x64 by the trainer); the 3-channel runs on
    the same first images saved as RGB PNGs (three equal channels: greyscale fed to the colour model).
    Each run is TIMING["epochs"] epochs of one batch; epoch 1 (oneDNN's first-call set-up) is dropped.
    """
    images = load_dataset(dataset, root, download=False).data[: TIMING["images"], 0]
    folder = work / "rgb"
    folder.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    for i, img in enumerate(images.numpy()):
        Image.fromarray(img).convert("RGB").save(folder / f"{i:04d}.png")
    seconds: dict[int, list[float]] = {1: [], 3: []}
    order = [c for r in range(TIMING["reps"]) for c in ((1, 3) if r % 2 == 0 else (3, 1))]
    for k, c in enumerate(order):
        cfg = TrainConfig(model="dcgan-1024", dataset=dataset if c == 1 else f"folder:{folder}",
                          batch_size=TIMING["batch"], lr=2e-4, beta1=0.9, beta2=0.999, epochs=TIMING["epochs"],
                          max_images=TIMING["images"], num_samples=32, save_every=TIMING["epochs"], seed=0,
                          device="cpu", data_dir=str(root))  # fmt: skip
        run_dir = train(cfg, work / f"time-{k}-c{c}", progress=False)
        rows = _metrics(run_dir)
        steps = math.ceil(TIMING["images"] / TIMING["batch"])
        seconds[c].append(sum(r["seconds"] for r in rows[1:]) / (steps * (len(rows) - 1)))
        for ckpt in (run_dir / "checkpoints").glob("*.pt"):  # 280 MB each: free the disk now
            ckpt.unlink()
    return seconds


def train_arms(root: Path, work: Path, dataset: str = "mnist") -> dict[tuple[str, int], Path]:
    """Every arm x seed, the same budget: MAX_IMAGES images x EPOCHS epochs, FID after each epoch."""
    runs = {}
    for (label, (batch, beta1)), seed in itertools.product(ARMS.items(), SEEDS):
        cfg = TrainConfig(model="dcgan", dataset=dataset, batch_size=batch, lr=2e-4, beta1=beta1, beta2=0.999,
                          ngf=WIDTH, ndf=WIDTH, epochs=EPOCHS, max_images=MAX_IMAGES, num_samples=32,
                          save_every=EPOCHS, seed=seed, device="cpu", data_dir=str(root), eval_every=1,
                          eval_samples=EVAL_SAMPLES)  # fmt: skip
        runs[label, seed] = train(cfg, work / f"b{batch}-beta{beta1}-seed{seed}", progress=False)
    return runs


def p_all_classes(p: np.ndarray, n: int) -> float:
    """P(all K classes appear among n independent draws with class probabilities p (K,)).

    Inclusion-exclusion over the sets S of missing classes: sum_S (-1)^|S| (1 - p(S))^n.
    """
    total = 0.0
    for size in range(len(p) + 1):
        for missing in itertools.combinations(range(len(p)), size):
            total += (-1) ** size * max(0.0, 1.0 - p[list(missing)].sum()) ** n
    return total


def grid_measurements(root: Path, runs: dict, dataset: str = "mnist") -> dict:
    """What a grid of 16 or 32 samples shows: classes present, and the spread of FID/KID from it.

    Real: the test split's first half is the reference set, grids are drawn from the second half.
    Generated: the final G of each arm (seed 0). KID of one grid = the unbiased MMD^2 of its n
    features against n random reference features; FID of one grid against the whole reference.
    """
    test = load_dataset(dataset, root, split="test", download=False)
    half = len(test) // 2
    extractor = get_extractor("classifier", dataset, root)
    ref = extractor.features(test.data[:half])
    pool_feats, pool_logits = extractor.features_and_logits(test.data[half:])
    p = torch.bincount(test.labels, minlength=10).double().numpy() / len(test)
    sources = {"real held-out images": (pool_feats, test.labels[half:])}
    for label in ARMS:
        G, spec, nz, _ = load_generator(runs[label, 0] / "checkpoints" / "last.pt")
        feats, logits = extractor.features_and_logits(sample_images(G, spec, nz, EVAL_SAMPLES, seed=12345))
        sources[f"G: {label}"] = (feats, logits.argmax(1))
    gen = torch.Generator().manual_seed(0)
    result = {"p": p, "sizes": {}, "full": {}}
    for name, (feats, labels) in sources.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallSampleWarning)
            result["full"][name] = {"fid": fid(ref, feats), "classes": int(labels.unique().numel()), "n": len(feats)}
        for n in (16, 32):
            fids, kids, classes = [], [], []
            for _ in range(DRAWS):
                rows = torch.randperm(len(feats), generator=gen)[:n]
                ref_rows = torch.randperm(len(ref), generator=gen)[:n]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SmallSampleWarning)
                    fids.append(fid(ref, feats[rows]))
                kids.append(float(mmd2_unbiased(feats[rows].double(), ref[ref_rows].double())))
                classes.append(int(labels[rows].unique().numel()))
            result["sizes"][name, n] = {"fid": np.array(fids), "kid": np.array(kids), "classes": np.array(classes)}
    # cost of the grid: G on the fixed noise and the PNG, as the trainer makes it after an epoch
    G, spec, nz, _ = load_generator(runs[next(iter(ARMS)), 0] / "checkpoints" / "last.pt")
    result["cost"] = {}
    for n in (16, 32):
        z = torch.randn(n, nz, generator=torch.Generator().manual_seed(0))
        path = Path(tempfile.mkdtemp()) / f"grid{n}.png"
        start = time.perf_counter()
        for _ in range(20):
            with torch.no_grad():
                save_image_grid(from_model_range(G(z), spec.output_range), path)
        result["cost"][n] = ((time.perf_counter() - start) / 20, path.stat().st_size)
    return result


def lesson_03(out: Path) -> dict[str, str]:
    """The measured table, FID and loss curves per arm, sample grids, and the 16-vs-32 measurements."""
    start_all = time.perf_counter()
    torch.set_flush_denormal(True)
    root = data_root()
    load_dataset("mnist", root)  # a DataError with the fix if MNIST is neither on disk nor downloadable
    captions: dict[str, str] = {}
    hw = hardware()
    with tempfile.TemporaryDirectory(prefix="gan-course-03-") as tmp:
        work = Path(tmp)
        if find_classifier("mnist", root) is None:  # cached per data root, outside it: a read-only root is fine
            train_classifier("mnist", root, progress=False)
        port = read_config_file("fashion-dcgan64")

        # ---- 3 -> 1 channel: parameters, FLOPs, seconds per step ----
        facts = channels_facts()
        t0 = time.perf_counter()
        seconds = time_channels(root, work)
        timing_s = time.perf_counter() - t0
        per_step = {c: float(np.median(v)) for c, v in seconds.items()}
        ratios = [a / b for a, b in zip(seconds[1], seconds[3])]
        flops = {c: facts[c]["g_flops"] + facts[c]["d_flops"] for c in (1, 3)}
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        for x, c in enumerate((3, 1)):
            ax.scatter([x] * len(seconds[c]), seconds[c], color="k", zorder=3)
            ax.bar(x, per_step[c], color="C0" if c == 1 else "C3", alpha=0.6,
                   label=f"C = {c}: median {per_step[c]:.2f} s/step, forward {flops[c] / 1e9:.3f} GFLOP/image")
        ax.set_xticks([0, 1], ["3 channels (colour model)", "1 channel (the port)"])
        ax.set_ylabel(f"seconds per training step, batch {TIMING['batch']}")
        ax.set_ylim(0, max(max(v) for v in seconds.values()) * 1.35)
        ax.legend(loc="upper center", fontsize=8)
        save(fig, out / "03_channels.png")
        epoch_h = {c: per_step[c] * 60_000 / TIMING["batch"] / 3600 for c in (1, 3)}
        captions["03_channels.png"] = (
            f"dcgan-1024 (the 64x64 DC-GAN of reference/configs/fashion-dcgan64.toml), seconds per training step at "
            f"batch {TIMING['batch']} from the trainer's metrics.csv: {TIMING['reps']} runs per channel count, "
            f"interleaved (1, 3, 3, 1, 1, 3), each {TIMING['epochs']} epochs of one batch with the first epoch "
            f"dropped (dots: runs; bars: medians). 1 channel: MNIST digits resized to 64x64; 3 channels: the same "
            f"images saved as RGB. Per-run ratios 1-channel/3-channel: {', '.join(f'{r:.3f}' for r in ratios)}; "
            f"forward FLOPs per image (torch.utils.flop_counter) {flops[1]:,} vs {flops[3]:,} "
            f"({flops[1] / flops[3]:.4f}). Measured in {timing_s:.0f} s on {hw}, shared with other jobs."
        )

        # ---- batch and beta1: four arms, two seeds, same images seen ----
        t0 = time.perf_counter()
        runs = train_arms(root, work)
        arms_s = time.perf_counter() - t0
        rows = {key: _metrics(run) for key, run in runs.items()}
        setup = (
            f"the 28x28 dcgan of reference/models/dcgan.py (pytorch/examples, nz 100, ngf = ndf = {WIDTH}, non-saturating "
            f"loss, Adam lr 2e-4, beta2 0.999) trained by reference.trainer.train on the first {MAX_IMAGES:,} MNIST "
            f"training images for {EPOCHS} epochs ({MAX_IMAGES * EPOCHS:,} images seen by every run, the budget "
            f"fixed in images, not seconds), seeds {', '.join(map(str, SEEDS))}; {len(runs)} runs in {arms_s:.0f} s "
            f"on {hw}, shared with other jobs"
        )
        fig, ax = plt.subplots(figsize=(7.5, 4))
        for colour, label in zip(COLOURS, ARMS):
            for seed, style in zip(SEEDS, ("-", "--")):
                r = rows[label, seed]
                ax.plot([x["epoch"] * MAX_IMAGES / 1000 for x in r], [x["fid"] for x in r], style, marker="o",
                        color=colour, label=f"{label}, seed {seed}")
        ax.set_yscale("log")
        ax.set_xlabel("thousands of images seen")
        ax.set_ylabel(f"FID, {EVAL_SAMPLES:,} samples (classifier features)")
        ax.legend(fontsize=7)
        save(fig, out / "03_fid.png")
        final = {key: r[-1]["fid"] for key, r in rows.items()}
        captions["03_fid.png"] = (
            f"Classifier FID ({EVAL_SAMPLES:,} samples of G against {EVAL_SAMPLES:,} MNIST test images, the trainer's "
            f"--eval-every 1) after each epoch, lower is better: {setup}. Final FID per arm (seed "
            + "/".join(map(str, SEEDS)) + "): "
            + "; ".join(f"{label} {' / '.join(f'{final[label, s]:.1f}' for s in SEEDS)}" for label in ARMS)
            + "."
        )

        fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
        for colour, label in zip(COLOURS, ARMS):
            for seed, style in zip(SEEDS, ("-", "--")):
                r = rows[label, seed]
                x = [v["epoch"] * MAX_IMAGES / 1000 for v in r]
                for ax, key in zip(axes, ("loss_d", "loss_g", "d_x", "d_g_z")):
                    ax.plot(x, [v[key] for v in r], style, marker=".", color=colour,
                            label=f"{label}, seed {seed}" if key == "loss_d" else None)
        for ax, title in zip(axes, ("loss_D", "loss_G", "D(x)", "D(G(z))")):
            ax.set_title(f"{title} (epoch mean)")
            ax.set_xlabel("thousands of images seen")
        axes[0].legend(fontsize=6)
        save(fig, out / "03_losses.png")
        speed = {label: np.mean([r["images_per_second"] for s in SEEDS for r in rows[label, s]]) for label in ARMS}
        captions["03_losses.png"] = (
            f"Epoch means from metrics.csv of the same runs: loss_D, loss_G, D(x), D(G(z)): {setup}. Training speed, "
            f"mean over epochs and seeds: "
            + "; ".join(f"{label} {speed[label]:,.0f} images/s" for label in ARMS)
            + "."
        )

        fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
        for ax, label in zip(axes, ARMS):
            ax.imshow(_grid_image(runs[label, 0]), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{label}\nFID {final[label, 0]:.1f}", fontsize=9)
            ax.axis("off")
        save(fig, out / "03_samples.png")
        captions["03_samples.png"] = (
            f"G (eval mode) on the run's 32 fixed noise vectors (num_samples 32, the port's setting) after the last epoch, 8 per row, "
            f"seed 0 of each arm: {setup}."
        )

        # ---- 16 -> 32 samples ----
        t0 = time.perf_counter()
        grid = grid_measurements(root, runs)
        grid_s = time.perf_counter() - t0
        p = grid["p"]
        ns = np.arange(10, 81)
        p_all = [p_all_classes(p, int(n)) for n in ns]
        n95 = int(ns[np.argmax(np.array(p_all) >= 0.95)])
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
        left.plot(ns, p_all, color="k", label="P(all 10 digits appear), exact")
        left.plot(ns, [sum((1 - p) ** n) / 10 for n in ns], color="gray", ls="--",
                  label="expected share of digits missing")
        for n in (16, 32):
            left.axvline(n, color="C3", lw=0.8)
            left.annotate(f"n = {n}: {p_all_classes(p, n):.2f}", (n + 1, p_all_classes(p, n)), fontsize=8)
        left.set_xlabel("samples in the grid (n), drawn from MNIST's test class frequencies")
        left.set_ylim(0, 1)
        left.legend(fontsize=8)
        names = list(grid["full"])
        data = [grid["sizes"][name, n]["kid"] for name in names for n in (16, 32)]
        positions = [i * 3 + j for i in range(len(names)) for j in (0, 1)]
        box = right.boxplot(data, positions=positions, widths=0.8, patch_artist=True, showfliers=False)
        for patch, j in zip(box["boxes"], itertools.cycle((0, 1))):
            patch.set_facecolor(("C0", "C1")[j])
        right.set_xticks([i * 3 + 0.5 for i in range(len(names))],
                         [n.replace("G: ", "G: ").replace(", beta1", ",\nbeta1") for n in names], fontsize=7)
        right.axhline(0, color="gray", lw=0.8)
        right.set_yscale("symlog", linthresh=10)  # KIDs from about 0 (real images) to thousands; linear within +-10
        right.set_ylabel("KID of one grid (symlog: linear within +-10)")
        right.set_title("blue: n = 16, orange: n = 32", fontsize=9)
        save(fig, out / "03_grid_size.png")

        def spread(name: str, n: int, key: str) -> str:
            v = grid["sizes"][name, n][key]
            return f"{v.mean():.1f} +- {v.std():.1f}"

        captions["03_grid_size.png"] = (
            f"What a grid of n = 16 or 32 samples can show. Left: the probability that all 10 digits appear among n "
            f"images drawn with MNIST's test class frequencies (inclusion-exclusion, exact; no model): "
            f"{p_all_classes(p, 16):.2f} at n = 16, {p_all_classes(p, 32):.2f} at n = 32, 0.95 first at n = {n95}. "
            f"Right: KID of one grid against as many reference test images, over {DRAWS} random grids, for "
            f"real held-out MNIST test images and for 2,000 samples of each arm's final G (seed 0), in the MNIST "
            f"classifier's features (the units of the README's metric table); boxes: quartiles, whiskers 1.5 IQR. KID mean +- std, n = 16 / 32: "
            + "; ".join(f"{name} {spread(name, 16, 'kid')} / {spread(name, 32, 'kid')}" for name in names)
            + f". Measured in {grid_s:.0f} s on {hw}."
        )

        # ---- the measured table ----
        c1, c3 = facts[1], facts[3]
        table = [
            ["3 -> 1 channel", "first D conv + last G conv parameters",
             f"{c3['d_first'] + c3['g_last']:,} -> {c1['d_first'] + c1['g_last']:,}",
             f"{(c3['g_params'] + c3['d_params']) - (c1['g_params'] + c1['d_params']):,} of "
             f"{c3['g_params'] + c3['d_params']:,} parameters ({((c3['g_params'] + c3['d_params']) - (c1['g_params'] + c1['d_params'])) / (c3['g_params'] + c3['d_params']):.3%})"],
            ["", "forward FLOPs per image (G + D)", f"{flops[3] / 1e9:.3f} G -> {flops[1] / 1e9:.3f} G",
             f"{1 - flops[1] / flops[3]:.2%} fewer"],
            ["", f"seconds per step, batch {TIMING['batch']} (median of {TIMING['reps']})",
             f"{per_step[3]:.2f} -> {per_step[1]:.2f}",
             f"ratio 1/3: {min(ratios):.2f}-{max(ratios):.2f} per pair"],
            ["", "one 60,000-image epoch on this CPU", f"{epoch_h[3]:.1f} h -> {epoch_h[1]:.1f} h",
             f"{port['epochs']} epochs: {port['epochs'] * epoch_h[1]:.0f} h: a GPU job"],
            ["batch 100 -> 50", "final FID, seed " + "/".join(map(str, SEEDS)) + ", beta1 0.5",
             f"{' / '.join(f'{final[list(ARMS)[0], s]:.0f}' for s in SEEDS)} -> "
             f"{' / '.join(f'{final[list(ARMS)[1], s]:.0f}' for s in SEEDS)}",
             f"same {MAX_IMAGES * EPOCHS:,} images; {speed[list(ARMS)[0]]:,.0f} vs {speed[list(ARMS)[1]]:,.0f} images/s"],
            ["beta1 0.5 -> 0.9", "final FID, seed " + "/".join(map(str, SEEDS)) + ", batch 100",
             f"{' / '.join(f'{final[list(ARMS)[0], s]:.0f}' for s in SEEDS)} -> "
             f"{' / '.join(f'{final[list(ARMS)[2], s]:.0f}' for s in SEEDS)}", "same images seen"],
            ["both (the port)", "final FID, seed " + "/".join(map(str, SEEDS)),
             f"{' / '.join(f'{final[list(ARMS)[0], s]:.0f}' for s in SEEDS)} -> "
             f"{' / '.join(f'{final[list(ARMS)[3], s]:.0f}' for s in SEEDS)}", "same images seen"],
            ["16 -> 32 samples", "P(all 10 digits in the grid), real data",
             f"{p_all_classes(p, 16):.2f} -> {p_all_classes(p, 32):.2f}", f"0.95 needs n = {n95}"],
            ["", "KID of one grid of real images (mean +- std)",
             f"{spread(names[0], 16, 'kid')} -> {spread(names[0], 32, 'kid')}", "truth: 0"],
            ["", "FID of one grid of real images (mean +- std)",
             f"{spread(names[0], 16, 'fid')} -> {spread(names[0], 32, 'fid')}",
             f"all {grid['full'][names[0]]['n']:,} held-out images: {grid['full'][names[0]]['fid']:.1f}"],
            ["", "cost of drawing and saving the grid",
             f"{grid['cost'][16][0] * 1000:.0f} ms -> {grid['cost'][32][0] * 1000:.0f} ms",
             "no effect on training (separate noise generator)"],
        ]
        fig, ax = plt.subplots(figsize=(15, 0.42 * len(table) + 0.6))
        ax.axis("off")
        tab = ax.table(cellText=table, colLabels=["change", "measured", "before -> after", "note"],
                       loc="center", cellLoc="left", colWidths=[0.12, 0.33, 0.2, 0.35])
        tab.auto_set_font_size(False)
        tab.set_fontsize(9)
        tab.scale(1, 1.5)
        save(fig, out / "03_table.png")
        captions["03_table.png"] = (
            f"Every change of the FashionMNIST port, measured: the 64x64 dcgan-1024's parameters and FLOPs (exact, no "
            f"training) and seconds per step (see 03_channels.png); batch and beta1 from the four-arm MNIST runs (see "
            f"03_fid.png); the 16-vs-32 rows from 03_grid_size.png. Whole figure run {time.perf_counter() - start_all:.0f} s "
            f"on {hw}."
        )
    return captions
