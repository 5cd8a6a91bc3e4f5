"""Figures of lesson 08 (the training clinic), run by `python -m reference.figures 8`.

One function per figure; each returns a matplotlib Figure (the notebook calls the same functions
to draw live) and `lesson_08(out)` saves them with their captions:

- `case_curves`: D(x), D(G(z)) and loss_G per epoch of each clinic case (solid) and its fix (dashed);
- `sample_grids`: small multiples of sample grids with titles (a failure beside its fix);
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
    """The clinic's curves, the unit-range samples and the checkerboard figure."""
    captions = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: clinic.run_case_and_fix(name, tmp) for name, case in clinic.CASES.items() if case.overrides is not None}
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        cb_bad, cb_fixed = clinic.checkerboard_runs(tmp)
        cb_seconds = time.perf_counter() - start
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


def _real_digits(n: int = 64) -> Tensor:
    """The first n training images of the clinic's dataset, (n, 1, 28, 28) in [0, 1]."""
    from reference.data import data_root, load_dataset

    return load_dataset(clinic.dataset(), data_root(), split="train", download=False, image_size=28).data[:n].float() / 255
