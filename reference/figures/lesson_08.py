"""Figures of lesson 08 (the training clinic), run by `python -m reference.figures 8`.

One function per figure; each returns a matplotlib Figure (the notebook calls the same functions
to draw live) and `lesson_08(out)` saves them with their captions:

- `case_curves`: D(x), D(G(z)) and loss_G per epoch of each clinic case (solid) and its fix (dashed);
- `sample_grids`: small multiples of sample grids with titles (a failure beside its fix);
- `case_grids`: one row per clinic case, its failure run's samples beside its fix's (08_grids.png);
- `collapse_curves` and `collapse_points`: the collapse run and its fix (plain GAN against PacGAN4 on
  the 8-ring): modes held per snapshot (08_collapse_curves.png) and G's points (08_collapse.png);
- `checkerboard`: samples and their mean FFT power: real digits, and transposed-conv against resize-conv
  generators, fresh (08_checkerboard.png) or after the same short run (08_checkerboard_trained.png).

The runs are `reference.clinic`'s (BASE: the MLP GAN on 640 MNIST images, or
the offline digits, 16 epochs, seed 0).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from reference import clinic
from reference.figures import hardware, save


def case_curves(runs: dict[str, tuple]) -> Figure:
    """One column per case: D(x) and D(G(z)) (top) and loss_G (bottom) per epoch; failure solid, fix dashed.

    runs: case name -> (failure CaseRun, fixed CaseRun). NaN epochs are left blank and marked.
    """
    fig, axes = plt.subplots(2, len(runs), figsize=(3.0 * len(runs), 4.6), squeeze=False, sharex="col")
    for j, (name, (bad, fixed)) in enumerate(runs.items()):
        top, bottom = axes[0, j], axes[1, j]
        for run, style, label in ((bad, "-", "failure"), (fixed, "--", "fix")):
            epochs = [r["epoch"] for r in run.rows]
            top.plot(epochs, [r["d_x"] for r in run.rows], style, color="tab:blue", label=f"D(x), {label}")
            top.plot(epochs, [r["d_g_z"] for r in run.rows], style, color="tab:red", label=f"D(G(z)), {label}")
            bottom.plot(epochs, [r["loss_g"] for r in run.rows], style, color="tab:green", label=f"loss_G, {label}")
        first_nan = next((r["epoch"] for r in bad.rows if not math.isfinite(r["loss_g"])), None)
        if first_nan is not None:
            for ax in (top, bottom):
                ax.axvspan(first_nan - 0.5, bad.rows[-1]["epoch"] + 0.5, color="0.85")
            top.text(first_nan, 0.5, " NaN from here", fontsize=8)
        top.set_title(name, fontsize=10)
        top.set_ylim(-0.02, 1.02)
        bottom.set_xlabel("epoch")
    axes[0, 0].set_ylabel("D's mean output")
    axes[1, 0].set_ylabel("loss_G")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    axes[1, 0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def _grid(images: Tensor, nrow: int = 8) -> Tensor:
    """(N, C, H, W) in [0, 1] -> one (H', W') grey image, 1-pixel white borders."""
    from torchvision.utils import make_grid

    return make_grid(images.float().clamp(0, 1).nan_to_num(0.0), nrow=nrow, padding=1, pad_value=1.0)[0]


def sample_grids(panels: dict[str, Tensor], nrow: int = 8, size: float = 2.6) -> Figure:
    """Small multiples: each title's images (N, C, H, W) in [0, 1] as a grid of nrow columns."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.4), squeeze=False)
    for ax, (title, images) in zip(axes[0], panels.items()):
        ax.imshow(_grid(images, nrow), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def case_grids(runs: dict[str, tuple], nrow: int = 8, size: float = 2.3) -> Figure:
    """One row per case: the failure run's samples (left) beside its fix's (right), titled with the case.

    runs: case name -> (failure CaseRun, fixed CaseRun), each with samples (N, C, H, W) in [0, 1]. A NaN
    G draws NaN pixels: they are drawn black (as 0), and the title says so.
    """
    fig, axes = plt.subplots(len(runs), 2, figsize=(2 * size, (size + 0.45) * len(runs)), squeeze=False)
    for (name, (bad, fixed)), row in zip(runs.items(), axes):
        fixed_name = "BASE" if fixed.out.name == "base" else fixed.out.name
        for ax, run, title in ((row[0], bad, f"{name}: failure"), (row[1], fixed, f"{name}: fix ({fixed_name})")):
            nan = run.samples.isnan().float().mean().item()
            ax.imshow(_grid(run.samples, nrow), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title + (f"\n{100 * nan:.0f}% of pixels NaN (drawn black)" if nan else ""), fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


def collapse_curves(bad, fixed) -> Figure:
    """Modes of the 8-ring held at each snapshot: the collapse run (solid) and its fix (dashed).

    bad, fixed: `clinic.CollapseRun`s (rows {"step", "modes_held"}); each point is labelled with the
    indices of the modes held, so that a G hopping from mode to mode shows.
    """
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for run, style in ((bad, "-o"), (fixed, "--s")):
        steps = [r["step"] for r in run.rows]
        line, = ax.plot(steps, [r["modes_held"] for r in run.rows], style, label=run.arm, ms=4)
        if run is bad:
            for step, held in zip(steps, run.held):
                ax.annotate(",".join(map(str, held)) or "-", (step, len(held)), textcoords="offset points",
                            xytext=(0, 6), ha="center", fontsize=7, color=line.get_color())
    ax.axhline(clinic.RING_MODES / 2, color="0.6", lw=0.8, ls=":")
    ax.set_ylim(-0.5, clinic.RING_MODES + 0.8)
    ax.set_xlabel("generator step")
    ax.set_ylabel("modes held (of 8)")
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig


def collapse_points(bad, fixed, count: int = 6, size: float = 1.9) -> Figure:
    """G's points on the 8-ring at the last `count` snapshots: the collapse run (top) and its fix (bottom).

    bad, fixed: `clinic.CollapseRun`s with snapshots [(step, points (n, 2))]; red crosses are the modes.
    Titles: the step and the modes held (indices 0-7, anticlockwise from (1, 0)).
    """
    from reference.data.mixtures import MIXTURES

    means = MIXTURES["ring"].means
    count = min(count, len(bad.snapshots))
    fig, axes = plt.subplots(2, count, figsize=(size * count, 2 * size + 0.8), squeeze=False)
    for row, run in zip(axes, (bad, fixed)):
        for ax, (step, points), held in zip(row, run.snapshots[-count:], run.held[-count:]):
            ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.35, color="C0", rasterized=True)
            ax.scatter(means[:, 0], means[:, 1], s=16, marker="x", color="red", lw=0.8)
            ax.set_xlim(-1.9, 1.9)
            ax.set_ylim(-1.9, 1.9)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"step {step}: holds {','.join(map(str, held)) or 'none'}", fontsize=7)
        row[0].set_ylabel(run.arm, fontsize=9)
    fig.tight_layout()
    return fig


def checkerboard(samples: dict[str, Tensor]) -> Figure:
    """Top: four samples per generator, each contrast-stretched to [0, 1] (a fresh G's output is nearly
    constant); bottom: their mean 2-D FFT power (log, DC centred).

    samples: label -> images (N, 1, H, W) in [0, 1]. The Nyquist row and column are the spectrum's
    edges (frequency +-1/2 cycle per pixel), where a 2-pixel checkerboard puts its energy.
    """
    fig, axes = plt.subplots(2, len(samples), figsize=(3.2 * len(samples), 6.2), squeeze=False)
    for j, (label, x) in enumerate(samples.items()):
        energy = clinic.nyquist_energy(x).mean().item()
        few = x[:4].float()
        low, high = few.amin(dim=(1, 2, 3), keepdim=True), few.amax(dim=(1, 2, 3), keepdim=True)
        axes[0, j].imshow(_grid((few - low) / (high - low).clamp_min(1e-8), 2), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[0, j].set_title(f"{label}\nNyquist energy {energy:.3f} (contrast stretched)", fontsize=9)
        axes[0, j].axis("off")
        centred = x.float() - x.float().mean(dim=(-2, -1), keepdim=True)
        power = torch.fft.fftshift(torch.fft.fft2(centred).abs().pow(2).mean(dim=(0, 1)))
        axes[1, j].imshow(torch.log10(power + 1e-6), cmap="magma")
        axes[1, j].set_title("mean FFT power (log10)", fontsize=9)
        axes[1, j].set_xticks([0, x.shape[-1] // 2], ["-1/2", "0"])
        axes[1, j].set_yticks([0, x.shape[-2] // 2], ["-1/2", "0"])
    fig.tight_layout()
    return fig


def lesson_08(out: Path) -> dict[str, str]:
    """The clinic's curves and sample grids, the collapse runs and the checkerboard figures."""
    captions = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: clinic.run_case_and_fix(name, tmp) for name, case in clinic.CASES.items() if case.overrides is not None}
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        cb_bad, cb_fixed = clinic.checkerboard_runs(tmp)
        cb_seconds = time.perf_counter() - start
        start = time.perf_counter()
        co_bad, co_fixed = clinic.collapse_runs()
        co_seconds = time.perf_counter() - start
    base = ", ".join(f"{k} {v}" for k, v in {**clinic.BASE, "dataset": clinic.dataset()}.items()
                     if k not in ("progress", "save_every", "num_samples"))
    save(case_curves(runs), out / "08_curves.png")
    captions["08_curves.png"] = (
        f"Each clinic case of reference/clinic.py (solid) and its fix (dashed): epoch means of D(x), D(G(z)) and loss_G "
        f"from metrics.csv. The MLP GAN ({base}); {len(runs)} cases, {seconds:.0f} s for their distinct runs on {hardware()}."
    )
    bad, fixed = runs["unit-range-data"]
    save(sample_grids({"data in [0, 1] (fault)": bad.samples, "data in [-1, 1] (fix)": fixed.samples}), out / "08_unit_range.png")
    captions["08_unit_range.png"] = (
        f"64 samples (seeded noise, G in eval mode) of the unit-range-data run and its fix, same budget ({base}). "
        f"Frame brightness {clinic.border_mean(bad.samples).mean():.2f} against {clinic.border_mean(fixed.samples).mean():.2f}."
    )
    grid_cases = {name: runs[name] for name in GRID_CASES}
    save(case_grids(grid_cases), out / "08_grids.png")
    captions["08_grids.png"] = (
        f"64 samples (seeded noise, G in eval mode) of each failure run (left) and of its fix (right), same budget ({base}): "
        f"{', '.join(GRID_CASES)}. The nan run's G has NaN weights, so every pixel is NaN: drawn black here (the "
        "trainer's saved grids are black too). The fixes of all but nan are BASE itself, one run."
    )
    budget = clinic.COLLAPSE_BUDGET
    arms = f"{co_bad.arm} against {co_fixed.arm}"
    held = "; ".join(f"{run.arm}: " + " ".join(str(len(h)) for h in run.held) for run in (co_bad, co_fixed))
    from reference.figures.lesson_04 import DEMO

    setting = (f"lesson 04's collapse loop (reference/figures/lesson_04.py, collapse_snapshots: G and D 2 x {DEMO['hidden']} "
               f"ReLU MLPs, G's lr {DEMO['lr_g']:g}, D's {DEMO['lr_d']:g}, batch {DEMO['batch_size']}, seed 0) on the "
               f"8-Gaussian ring, {arms}, {budget['steps']:,} G steps, "
               f"1,000 points of G from fixed noise every {budget['every']} steps")
    save(collapse_curves(co_bad, co_fixed), out / "08_collapse_curves.png")
    captions["08_collapse_curves.png"] = (
        f"The collapse run and the run after the fix (clinic.collapse_runs): {setting}. Modes held (>= 1/4 of their fair "
        f"share of the points within 0.2, lesson 04's modes_held) per snapshot, {held}; the plain GAN's points are "
        f"labelled with the modes they hold. {co_seconds:.0f} s for both on {hardware()}."
    )
    save(collapse_points(co_bad, co_fixed), out / "08_collapse.png")
    captions["08_collapse.png"] = f"G's points at the last six snapshots of the same two runs ({setting}); red crosses: the modes."
    real = _real_digits()
    samples = {"real digits": real,
               "dcgan G (transposed convs)": clinic.untrained_samples("dcgan"),
               "dcgan-resize G (resize-conv)": clinic.untrained_samples("dcgan-resize")}
    save(checkerboard(samples), out / "08_checkerboard.png")
    captions["08_checkerboard.png"] = (
        f"The first {len(real)} {clinic.dataset()} training images and freshly initialised generators (seed 0, 64 samples "
        "each, no training): the course's dcgan G (ConvTranspose2d, kernel 4, stride 2) against the same G with "
        "resize-convolution, dcgan-resize (nearest-neighbour upsampling then a 3x3 convolution, Odena et al. 2016). "
        "Top: four samples each, contrast-stretched per image (a fresh G's output is nearly constant grey); bottom: the "
        "mean FFT power of the 64, log10, zero frequency in the centre, the Nyquist row and column at the edges. Titles: "
        "the mean share of each sample's spectral energy on the Nyquist row and column (clinic.nyquist_energy)."
    )
    trained = {"real digits": real, "dcgan, trained": cb_bad.samples, "dcgan-resize, trained": cb_fixed.samples}
    save(checkerboard(trained), out / "08_checkerboard_trained.png")
    steps = clinic.CHECKERBOARD_BUDGET["epochs"] * math.ceil(clinic.BASE["max_images"] / clinic.BASE["batch_size"])
    captions["08_checkerboard_trained.png"] = (
        f"The run and the run after the fix (clinic.checkerboard_runs): the dcgan and dcgan-resize trained on the clinic's "
        f"{clinic.BASE['max_images']} {clinic.dataset()} images for {steps} G steps (batch {clinic.BASE['batch_size']}, "
        f"seed {clinic.BASE['seed']}, one thread; {cb_seconds:.0f} s for both on {hardware()}); 64 samples each from "
        "seeded noise, G in eval mode, shown as in the figure of the fresh generators."
    )
    return captions


GRID_CASES = ("d-wins", "lr-too-low", "oscillation", "nan", "no-detach")  # unit-range-data has its own figure


def _real_digits(n: int = 64) -> Tensor:
    """The first n training images of the clinic's dataset, (n, 1, 28, 28) in [0, 1]."""
    from reference.data import data_root, load_dataset

    return load_dataset(clinic.dataset(), data_root(), split="train", download=False, image_size=28).data[:n].float() / 255
