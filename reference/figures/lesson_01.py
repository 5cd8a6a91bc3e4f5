"""Figures of lesson 01 (the minimax game and its loss)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import integrate, stats

from reference.figures import hardware, save
from reference.losses import get_loss
from reference.toy1d import Toy1DConfig, train_toy1d


def lesson_01(out: Path) -> dict[str, str]:
    """The optimal discriminator, the generator's cost C(G), the generator losses, a 1-D GAN."""
    captions = {}
    x = np.linspace(-8.0, 14.0, 22_001)
    p_data, p_g = stats.norm(3.0, 0.5), stats.norm(1.0, 1.0)

    def value(logit: np.ndarray, gen) -> float:
        integrand = p_data.pdf(x) * -np.logaddexp(0.0, -logit) + gen.pdf(x) * -np.logaddexp(0.0, logit)
        return float(integrate.trapezoid(integrand, x))

    # D* for two densities
    d_star = 1.0 / (1.0 + np.exp(-(p_data.logpdf(x) - p_g.logpdf(x))))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    top.plot(x, p_data.pdf(x), "k", label=r"$p_\mathrm{data} = \mathcal{N}(3, 0.5^2)$")
    top.plot(x, p_g.pdf(x), "g", label=r"$p_g = \mathcal{N}(1, 1)$")
    top.set_ylabel("density")
    top.legend()
    bottom.plot(x, d_star, "b--", label=r"$D^*(x) = p_\mathrm{data} / (p_\mathrm{data} + p_g)$")
    bottom.axhline(0.5, color="gray", lw=0.8)
    bottom.set_xlim(-3, 7)
    bottom.set_xlabel("x")
    bottom.set_ylabel("D*(x)")
    bottom.legend()
    save(fig, out / "01_optimal_discriminator.png")
    captions["01_optimal_discriminator.png"] = (
        "The optimal discriminator D*(x) = p_data / (p_data + p_g) for p_data = N(3, 0.5^2) and "
        "p_g = N(1, 1), from the closed-form densities (no training). Top: the densities; bottom: D*, "
        "which is 1/2 where they cross and falls back to 0 on both sides, where p_g's wider tails dominate."
    )

    # C(G) = max_D V(D, G) as p_g slides across p_data
    mus = np.linspace(-3, 9, 241)
    costs = [value(p_data.logpdf(x) - stats.norm(mu, 0.5).logpdf(x), stats.norm(mu, 0.5)) for mu in mus]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(mus, costs, label=r"$C(G) = \max_D V(D, G)$ by integration")
    ax.axhline(-math.log(4), color="r", ls="--", label=r"$-\log 4$")
    ax.axhline(0.0, color="gray", lw=0.8)
    ax.axvline(3.0, color="k", lw=0.8)
    ax.set_xlabel(r"$\mu$, the mean of $p_g = \mathcal{N}(\mu, 0.5^2)$ ($p_\mathrm{data}$ has mean 3)")
    ax.set_ylabel("C(G)")
    ax.legend()
    save(fig, out / "01_generator_cost.png")
    captions["01_generator_cost.png"] = (
        "The generator's cost against the optimal discriminator, C(G) = V(D*, G) = -log 4 + 2 JSD, for "
        "p_g = N(mu, 0.5^2) and p_data = N(3, 0.5^2), mu from -3 to 9 in 241 steps; each point is a "
        "trapezoidal integral on 22,001 grid points over [-8, 14] (no training). Minimum -log 4 at mu = 3; "
        "flat near 0 once the densities stop overlapping."
    )

    # saturating vs non-saturating generator losses and their gradients (reference.losses, autograd)
    d_fake = torch.logspace(-6, math.log10(1 - 1e-6), 400, dtype=torch.float64)
    labels = {"minimax": r"saturating: $\log(1 - D(G(z)))$", "non-saturating": r"non-saturating: $-\log D(G(z))$"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, label in labels.items():
        logits = torch.logit(d_fake).requires_grad_(True)
        per_sample = torch.stack([get_loss(name).g_loss(l.view(1)) for l in logits])
        per_sample.sum().backward()
        left.plot(d_fake, per_sample.detach(), label=label)
        right.plot(d_fake, logits.grad.abs(), label=label)
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
    save(fig, out / "01_generator_losses.png")
    captions["01_generator_losses.png"] = (
        "Generator losses from reference.losses (minimax = saturating, non-saturating) for one sample, "
        "and their derivatives with respect to D's logit by autograd in float64, at 400 values of "
        "D(G(z)) from 1e-6 to 1 - 1e-6 (no training). As D(G(z)) -> 0 the saturating gradient "
        "-D(G(z)) vanishes while the non-saturating one, -(1 - D(G(z))), tends to -1."
    )

    # a 1-D GAN, the full run of the lesson
    cfg = Toy1DConfig(steps=500)
    train_toy1d(Toy1DConfig(steps=1))  # warm-up: PyTorch's first optimizer imports torch._dynamo (~2 s)
    start = time.perf_counter()
    gan = train_toy1d(cfg, snapshot_steps=(0, 50, 100, 200, 500))
    seconds = time.perf_counter() - start
    grid = gan.grid.numpy()
    fig, axes = plt.subplots(1, len(gan.snapshots), figsize=(3.2 * len(gan.snapshots), 3), sharey=True)
    for ax, snap in zip(axes, gan.snapshots):
        ax.plot(grid, p_data.pdf(grid), "k", label=r"$p_\mathrm{data}$")
        ax.hist(snap.samples.numpy(), bins=80, range=(grid[0], grid[-1]), density=True, color="g", alpha=0.5, label="G(z)")
        ax.plot(grid, snap.d_prob.numpy(), "b--", label="D(x)")
        ax.set_ylim(0, 1.6)
        ax.set_title(f"step {snap.step}")
        ax.set_xlabel("x")
    axes[0].legend(loc="upper left", fontsize=8)
    save(fig, out / "01_toy_gan.png")
    final = gan.snapshots[-1].samples
    captions["01_toy_gan.png"] = (
        f"A 1-D GAN (reference.toy1d, defaults: G {cfg.nz}-32-32-1 ReLU, D 1-32-32-1 LeakyReLU, "
        f"non-saturating loss, Adam lr 1e-3, betas (0.5, 0.999), batch {cfg.batch_size}, seed {cfg.seed}) "
        f"trained on N(3, 0.5^2) for {cfg.steps} steps: the target density (black), a histogram of G(z) for "
        f"{cfg.n_samples:,} fixed z (green; the step-0 spike is cut off) and D(x) (blue) after 0, 50, 100, 200 "
        f"and 500 steps. Final G(z): mean {final.mean():.2f}, std {final.std():.2f}. "
        f"Trained in {seconds:.1f} s on one thread of {hardware()}."
    )
    return captions
