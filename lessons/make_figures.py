"""Regenerate every figure that the lessons show from markdown cells.

    python lessons/make_figures.py        # every lesson
    python lessons/make_figures.py 1      # lesson 1 only; the other lessons' captions are kept

Each lesson has one function, `lesson_01(out)`, `lesson_02(out)`, ..., that writes its PNGs into
`lessons/figures/` and returns {file name: caption}; the captions, which name the data, the
steps and the hardware, are written to `lessons/figures/README.md`. Figures are always made in
full mode (GAN_COURSE_SMOKE does not apply), on the CPU, with the lesson's seeds. Each function
repeats the plotting code of its lesson's cells, so a figure shows what the notebook draws when
run. Lessons 03 onwards keep their function in `lessons/figures_NN.py` (this file stays short);
to add lesson N, write `lesson_NN` there and add it to LESSONS at the bottom.
"""

from __future__ import annotations

import importlib
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import integrate, stats  # noqa: E402

from reference.losses import get_loss  # noqa: E402
from reference.toy1d import Toy1DConfig, train_toy1d  # noqa: E402

FIGURES = Path(__file__).resolve().parent / "figures"
DPI = 120


def hardware() -> str:
    """'<CPU model>, N cores, torch X' for captions."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}"


def save(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


# ---- lesson 1: the minimax game and its loss ---------------------------------------------------


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


# ---- lesson 2: an MLP GAN on MNIST -------------------------------------------------------------


def lesson_02(out: Path) -> dict[str, str]:
    """Sample grids over epochs and the per-epoch curves of the classic MLP GAN on real MNIST."""
    import csv
    import tempfile

    from reference.config import TrainConfig
    from reference.data import load_dataset
    from reference.trainer import train

    load_dataset("mnist")  # a DataError with the fix if MNIST is neither on disk nor downloadable
    epochs = 3
    cfg = TrainConfig(model="mlp", dataset="mnist", batch_size=64, lr=2e-4, beta1=0.5, beta2=0.999,
                      epochs=epochs, save_every=1, seed=0, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_dir = train(cfg, Path(tmp) / "run", progress=False)
        seconds = time.perf_counter() - start
        with open(run_dir / "metrics.csv") as f:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        grids = [plt.imread(run_dir / "samples" / f"epoch_{e:03d}.png") for e in range(1, epochs + 1)]
    setup = (f"the MLP GAN of reference/models/mlp.py (G 100-256-784, D 784-256-1, non-saturating loss, "
             f"batch 64, Adam lr 2e-4, betas (0.5, 0.999), seed 0) trained by reference.trainer.train on "
             f"MNIST's 60,000 training images for {epochs} epochs in {seconds:.0f} s on {hardware()}")

    fig, axes = plt.subplots(1, epochs, figsize=(3.4 * epochs, 3.6))
    for ax, grid, e in zip(axes, grids, range(1, epochs + 1)):
        ax.imshow(grid)
        ax.set_title(f"MNIST, epoch {e}")
        ax.axis("off")
    save(fig, out / "02_samples.png")
    captions = {"02_samples.png": f"G on the run's 64 fixed noise vectors after each epoch: {setup}."}

    epoch = [r["epoch"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    left.plot(epoch, [r["loss_d"] for r in rows], "o-", label="loss_D")
    left.plot(epoch, [r["loss_g"] for r in rows], "o-", label="loss_G")
    left.axhline(2 * math.log(2), color="gray", ls=":", label="loss_D at D = 1/2: 2 log 2")
    left.set_xlabel("epoch")
    left.set_ylabel("epoch-mean loss")
    left.legend()
    right.plot(epoch, [r["d_x"] for r in rows], "o-", label="D(x), real")
    right.plot(epoch, [r["d_g_z"] for r in rows], "o-", label="D(G(z)), fake")
    right.axhline(0.5, color="gray", ls=":")
    right.set_ylim(0, 1)
    right.set_xlabel("epoch")
    right.set_ylabel("epoch-mean probability")
    right.legend()
    save(fig, out / "02_curves.png")
    last = rows[-1]
    captions["02_curves.png"] = (
        f"Epoch means from metrics.csv of the same run: losses (left) and D(x), D(G(z)) (right): {setup}. "
        f"Epoch {epochs}: loss_D {last['loss_d']:.3f}, loss_G {last['loss_g']:.3f}, D(x) {last['d_x']:.3f}, "
        f"D(G(z)) {last['d_g_z']:.3f}; {last['images_per_second']:,.0f} images/s."
    )
    return captions


# ---- the README of captions --------------------------------------------------------------------

README_HEAD = """# Lesson figures

Made by `python lessons/make_figures.py` (this file too: edit the captions there). Each lesson's
markdown cells show these with `![caption](figures/NAME.png)`, so a reader sees them without
running anything; running the lesson redraws them live.
"""


def write_captions(readme: Path, updated: dict[int, dict[str, str]]) -> None:
    """Rewrite README.md with the captions of `updated` lessons, keeping other lessons' sections."""
    sections: dict[int, str] = {}
    if readme.exists():
        number, lines = None, []
        for line in readme.read_text().splitlines():
            if line.startswith("## Lesson "):
                if number is not None:
                    sections[number] = "\n".join(lines).strip()
                number, lines = int(line.split()[2]), [line]
            elif number is not None:
                lines.append(line)
        if number is not None:
            sections[number] = "\n".join(lines).strip()
    for number, captions in updated.items():
        body = "\n".join(f"- `{name}`: {caption}" for name, caption in captions.items())
        sections[number] = f"## Lesson {number:02d}\n\n{body}"
    readme.write_text(README_HEAD + "".join(f"\n{sections[n]}\n" for n in sorted(sections)))


def _from_module(module: str, function: str) -> Callable[[Path], dict[str, str]]:
    """Lessons 03 onwards keep their figure code in lessons/figures_NN.py, imported when run."""

    def run(out: Path) -> dict[str, str]:
        return getattr(importlib.import_module(module), function)(out)

    return run


LESSONS: dict[int, Callable[[Path], dict[str, str]]] = {
    1: lesson_01,
    2: lesson_02,
    3: _from_module("figures_03", "lesson_03"),
    4: _from_module("figures_04", "lesson_04"),
    5: _from_module("figures_05", "lesson_05"),
}


def main(argv: list[str]) -> int:
    try:
        chosen = [int(a) for a in argv] or sorted(LESSONS)
    except ValueError:
        print(f"usage: python lessons/make_figures.py [LESSON ...], lessons: {sorted(LESSONS)}", file=sys.stderr)
        return 2
    missing = [n for n in chosen if n not in LESSONS]
    if missing:
        print(f"no figures for lesson {missing[0]}; lessons with figures: {sorted(LESSONS)}", file=sys.stderr)
        return 2
    FIGURES.mkdir(exist_ok=True)
    updated = {}
    for number in chosen:
        start = time.perf_counter()
        updated[number] = LESSONS[number](FIGURES)
        print(f"lesson {number:02d}: {', '.join(updated[number])} ({time.perf_counter() - start:.1f} s)")
    write_captions(FIGURES / "README.md", updated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
