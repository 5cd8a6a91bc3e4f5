"""Figures of lesson 01 (the minimax game and its loss).

One function per figure, `plot_*(...)` -> Figure: the notebook calls it with what its cells
computed, so it draws live what the saved PNG shows; `lesson_01(out)` computes the same quantities
with the lesson's full-mode settings, calls the same functions and saves their figures.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from scipy import integrate, stats

from reference.figures import hardware, save
from reference.losses import get_loss
from reference.toy1d import Toy1DConfig, Toy1DResult, train_toy1d

__all__ = [
    "lesson_01",
    "plot_generator_cost",
    "plot_generator_losses",
    "plot_optimal_discriminator",
    "plot_toy_gan",
    "plot_toy_history",
]

LOSS_LABELS = {"minimax": r"saturating: $\log(1 - D(G(z)))$", "non-saturating": r"non-saturating: $-\log D(G(z))$"}


def plot_optimal_discriminator(
    x: np.ndarray,
    p_data: np.ndarray,
    p_g: np.ndarray,
    d_star: np.ndarray,
    data_label: str = r"$p_\mathrm{data} = \mathcal{N}(3, 0.5^2)$",
    gen_label: str = r"$p_g = \mathcal{N}(1, 1)$",
    xlim: tuple[float, float] = (-3.0, 7.0),
) -> Figure:
    """Two densities on the grid x (top) and the optimal discriminator D*(x) (bottom); all arrays (N,)."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    top.plot(x, p_data, "k", label=data_label)
    top.plot(x, p_g, "g", label=gen_label)
    top.set_ylabel("density")
    top.legend()
    bottom.plot(x, d_star, "b--", label=r"$D^*(x) = p_\mathrm{data} / (p_\mathrm{data} + p_g)$")
    bottom.axhline(0.5, color="gray", lw=0.8)
    bottom.set_xlim(*xlim)
    bottom.set_xlabel("x")
    bottom.set_ylabel("D*(x)")
    bottom.legend()
    return fig


def plot_generator_cost(mus: np.ndarray, costs: np.ndarray, sigma: float = 0.5, data_mean: float = 3.0) -> Figure:
    """C(G) = max_D V(D, G) (K,) for p_g = N(mu, sigma^2) at each mu of `mus` (K,), against -log 4."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(mus, costs, label=r"$C(G) = \max_D V(D, G)$ by integration")
    ax.axhline(-math.log(4), color="r", ls="--", label=r"$-\log 4$")
    ax.axhline(0.0, color="gray", lw=0.8)
    ax.axvline(data_mean, color="k", lw=0.8)
    ax.set_xlabel(rf"$\mu$, the mean of $p_g = \mathcal{{N}}(\mu, {sigma:g}^2)$ ($p_\mathrm{{data}}$ has mean {data_mean:g})")
    ax.set_ylabel("C(G)")
    ax.legend()
    return fig


def plot_generator_losses(d_fake: torch.Tensor, curves: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> Figure:
    """Generator losses (left) and |d loss / d logit| (right) against D(G(z)) (K,).

    curves: {"minimax" or "non-saturating": (loss values (K,), derivatives (K,))}.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, (loss_values, grad) in curves.items():
        left.plot(d_fake, loss_values, label=LOSS_LABELS.get(name, name))
        right.plot(d_fake, grad.abs(), label=LOSS_LABELS.get(name, name))
    left.set_xscale("log")
    left.set_xlabel("D(G(z))")
    left.set_ylabel("generator loss (G minimises it)")
    left.legend()
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("D(G(z))")
    right.set_ylabel(r"$|\partial\, \mathrm{loss} / \partial \ell|$")
    right.set_title("D rejects the fakes on the left: only one loss still pushes G")
    right.legend()
    return fig


def plot_toy_gan(gan: Toy1DResult) -> Figure:
    """One panel per snapshot of a 1-D GAN: the data density, a histogram of G(z) and D(x)."""
    cfg = gan.config
    grid = gan.grid.numpy()
    density = stats.norm(cfg.data_mean, cfg.data_std).pdf(grid)
    fig, axes = plt.subplots(1, len(gan.snapshots), figsize=(3.2 * len(gan.snapshots), 3), sharey=True, squeeze=False)
    for ax, snap in zip(axes[0], gan.snapshots):
        ax.plot(grid, density, "k", label=r"$p_\mathrm{data}$")
        ax.hist(snap.samples.numpy(), bins=80, range=(grid[0], grid[-1]), density=True, color="g", alpha=0.5, label="G(z)")
        ax.plot(grid, snap.d_prob.numpy(), "b--", label="D(x)")
        ax.set_ylim(0, 1.6)
        ax.set_title(f"step {snap.step}")
        ax.set_xlabel("x")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    return fig


def plot_toy_history(gan: Toy1DResult) -> Figure:
    """A 1-D GAN's per-step D(x), D(G(z)) (left) and losses (right), against their equilibrium values."""
    steps = np.arange(1, len(gan.history["loss_d"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    left.plot(steps, gan.history["d_x"], label="D(x)")
    left.plot(steps, gan.history["d_g_z"], label="D(G(z))")
    left.axhline(0.5, color="gray", ls="--")
    left.set_xlabel("step")
    left.legend()
    right.plot(steps, gan.history["loss_d"], label="loss_D = -V")
    right.plot(steps, gan.history["loss_g"], label=f"loss_G ({gan.config.loss})")
    right.axhline(math.log(4), color="r", ls="--", label=r"$\log 4$")
    right.axhline(math.log(2), color="m", ls=":", label=r"$\log 2$")
    right.set_xlabel("step")
    right.legend()
    return fig


def lesson_01(out: Path) -> dict[str, str]:
    """The optimal discriminator, the generator's cost C(G), the generator losses, a 1-D GAN."""
    captions = {}
    x = np.linspace(-8.0, 14.0, 22_001)
    p_data, p_g = stats.norm(3.0, 0.5), stats.norm(1.0, 1.0)

    def cost(gen) -> float:  # V(D*, G) by the trapezoidal rule, in logs
        log_mix = np.logaddexp(p_data.logpdf(x), gen.logpdf(x))
        integrand = p_data.pdf(x) * (p_data.logpdf(x) - log_mix) + gen.pdf(x) * (gen.logpdf(x) - log_mix)
        return float(integrate.trapezoid(integrand, x))

    d_star = 1.0 / (1.0 + np.exp(-(p_data.logpdf(x) - p_g.logpdf(x))))
    save(plot_optimal_discriminator(x, p_data.pdf(x), p_g.pdf(x), d_star), out / "01_optimal_discriminator.png")
    captions["01_optimal_discriminator.png"] = (
        "The optimal discriminator D*(x) = p_data / (p_data + p_g) for p_data = N(3, 0.5^2) and "
        "p_g = N(1, 1), from the closed-form densities (no training). Top: the densities; bottom: D*, "
        "which is 1/2 where they cross and falls back to 0 on both sides, where p_g's wider tails dominate."
    )

    mus = np.linspace(-3, 9, 241)
    costs = np.array([cost(stats.norm(mu, 0.5)) for mu in mus])
    save(plot_generator_cost(mus, costs), out / "01_generator_cost.png")
    captions["01_generator_cost.png"] = (
        "The generator's cost against the optimal discriminator, C(G) = V(D*, G) = -log 4 + 2 JSD, for "
        "p_g = N(mu, 0.5^2) and p_data = N(3, 0.5^2), mu from -3 to 9 in 241 steps; each point is a "
        "trapezoidal integral on 22,001 grid points over [-8, 14] (no training). Minimum "
        f"{costs.min():.4f} (-log 4 = {-math.log(4):.4f}) at mu = {mus[costs.argmin()]:g}; "
        "flat near 0 once the densities stop overlapping."
    )

    d_fake = torch.logspace(-6, math.log10(1 - 1e-6), 400, dtype=torch.float64)
    curves = {}
    for name in LOSS_LABELS:
        logits = torch.logit(d_fake).requires_grad_(True)
        per_sample = torch.stack([get_loss(name).g_loss(l.view(1)) for l in logits])
        per_sample.sum().backward()
        curves[name] = (per_sample.detach(), logits.grad)
    save(plot_generator_losses(d_fake, curves), out / "01_generator_losses.png")
    captions["01_generator_losses.png"] = (
        "Generator losses from reference.losses (minimax = saturating, non-saturating) for one sample, "
        "and their derivatives with respect to D's logit by autograd in float64, at 400 values of "
        "D(G(z)) from 1e-6 to 1 - 1e-6 (no training). As D(G(z)) -> 0 the saturating gradient "
        "-D(G(z)) vanishes while the non-saturating one, -(1 - D(G(z))), tends to -1."
    )

    cfg = Toy1DConfig(steps=500)
    train_toy1d(Toy1DConfig(steps=1))  # warm-up: PyTorch's first optimizer imports torch._dynamo (~2 s)
    start = time.perf_counter()
    gan = train_toy1d(cfg, snapshot_steps=(0, 50, 100, 200, 500))
    seconds = time.perf_counter() - start
    setup = (
        f"A 1-D GAN (reference.toy1d, defaults: G {cfg.nz}-32-32-1 ReLU, D 1-32-32-1 LeakyReLU, "
        f"non-saturating loss, Adam lr 1e-3, betas (0.5, 0.999), batch {cfg.batch_size}, seed {cfg.seed}) "
        f"trained on N(3, 0.5^2) for {cfg.steps} steps in {seconds:.1f} s on one thread of {hardware()}"
    )
    save(plot_toy_gan(gan), out / "01_toy_gan.png")
    final = gan.snapshots[-1].samples
    captions["01_toy_gan.png"] = (
        f"{setup}: the target density (black), a histogram of G(z) for {cfg.n_samples:,} fixed z (green; the "
        f"step-0 spike is cut off) and D(x) (blue) after 0, 50, 100, 200 and 500 steps. "
        f"Final G(z): mean {final.mean():.2f}, std {final.std():.2f}."
    )
    save(plot_toy_history(gan), out / "01_toy_history.png")
    tail = slice(-50, None)
    captions["01_toy_history.png"] = (
        f"{setup}: each step's batch means of D(x) and D(G(z)) (left) and the losses (right), against the "
        f"equilibrium values 1/2, log 4 and log 2. Last 50 steps: mean D(x) {gan.history['d_x'][tail].mean():.3f}, "
        f"D(G(z)) {gan.history['d_g_z'][tail].mean():.3f}, loss_D {gan.history['loss_d'][tail].mean():.3f}, "
        f"loss_G {gan.history['loss_g'][tail].mean():.3f}."
    )
    return captions
