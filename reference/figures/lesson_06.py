"""Figures and small experiments of lesson 06 (Wasserstein GANs).

The experiments are cheap and seeded, and run on the CPU (one thread is enough):

- `parallel_lines(theta, n)`: Arjovsky et al.'s example, p_0 = (0, U[0,1]) against p_theta = (theta, U[0,1]).
- `strip_jsd(theta, width)`: the JSD of the two lines thickened into strips of `width`, on a 2-D grid of
  cells, in lesson 01's way (log space, 0 log 0 = 0): log 2 as soon as the strips stop overlapping.
- `generator_gradients(theta, steps)`: |d loss_G / d theta| while a logistic D (minimax loss) and a
  WGAN-GP critic learn to separate the lines; the saturated D's gradient vanishes, the critic's stays near 1.
- `empirical_w1(x, y)`: the exact W1 between two equal-size samples (an assignment problem).
- `train_critic(real, fake, lipschitz)`: a critic alone on two fixed 2-D samples, Lipschitz by weight
  clipping or by the gradient penalty, with its weights and its gradient norms at interpolates.
- `score_runs(...)`: the critic's estimate and loss_D against classifier-FID from metrics.csv files.

One function per figure (`plot_*`) draws what the notebook computed; `lesson_06(out)` computes
the same with the full-mode settings and saves the PNGs.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from scipy.optimize import linear_sum_assignment
from scipy.special import xlogy
from torch import Tensor, nn

from reference.figures import hardware, save
from reference.losses import WGAN, WGANGP, get_loss

__all__ = [
    "CRITIC",
    "critic_mlp",
    "distance_curve",
    "mnist_runs",
    "empirical_w1",
    "generator_gradients",
    "lesson_06",
    "parallel_lines",
    "plot_clip_vs_gp",
    "plot_loss_vs_fid",
    "plot_parallel_lines",
    "read_metrics",
    "strip_jsd",
    "train_critic",
]

# Section 3's setting: a critic alone on 8-ring points (real) against a wide Gaussian at the centre (fake)
# The WGAN-GP paper's settings (lambda = 10 is the loss's default)
WGAN_GP = dict(loss="wgan-gp", lr=1e-4, beta1=0.0, beta2=0.9, n_critic=5)
CRITIC = dict(hidden=128, steps=1000, batch=256, lr=1e-4, betas=(0.5, 0.9), clip=0.01, lambda_gp=10.0)


def parallel_lines(theta: float, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(real, fake), each (n, 2) float32: real = (0, u), fake = (theta, u'), u, u' ~ U[0, 1] seeded."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(2, n, generator=gen)
    real = torch.stack([torch.zeros(n), u[0]], dim=1)
    fake = torch.stack([torch.full((n,), float(theta)), u[1]], dim=1)
    return real, fake


def strip_jsd(theta: float, width: float, cells: int = 2000, span: tuple[float, float] = (-1.5, 1.5)) -> float:
    """JSD (natural log) between uniform strips [-w/2, w/2] x [0, 1] and [theta - w/2, theta + w/2] x [0, 1].

    Both are discretised on a grid of `cells` columns over `span` by 50 rows over [0, 1]: each cell gets the
    share of its strip's mass it holds (exactly, from the overlap of intervals), and the JSD is
    0.5 KL(p || m) + 0.5 KL(q || m) with 0 log 0 = 0. For lines (width -> 0) it is log 2 for every theta != 0.
    """
    edges = np.linspace(*span, cells + 1)

    def column_mass(centre: float) -> np.ndarray:
        lo, hi = centre - width / 2, centre + width / 2
        overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None)
        return overlap / width

    rows = np.full(50, 1 / 50)  # both strips are uniform in y, the same in every row
    p = np.outer(column_mass(0.0), rows).ravel()
    q = np.outer(column_mass(theta), rows).ravel()
    m = 0.5 * (p + q)
    return float(0.5 * (xlogy(p, p) - xlogy(p, m)).sum() + 0.5 * (xlogy(q, q) - xlogy(q, m)).sum())


def critic_mlp(hidden: int = 64, seed: int = 0) -> nn.Sequential:
    """x (N, 2) -> Linear(2, h), ReLU, Linear(h, h), ReLU, Linear(h, 1) -> scores (N, 1); no normalisation layers."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def _scores(D: nn.Module, x: Tensor) -> Tensor:
    return D(x).view(-1)


def generator_gradients(theta: float = 0.5, steps: int = 500, every: int = 25, n: int = 256, seed: int = 0) -> dict:
    """Train a logistic D and a WGAN-GP critic to tell (0, U) from (theta, U); G is the shift theta.

    After every `every` steps, the gradient G receives: d/dtheta of the minimax g_loss, log(1 - D(G(z))),
    for D, and of -mean D(G(z)) for the critic, on a fixed batch of n fakes. Returns {"steps": (K,),
    "minimax": (K,), "critic": (K,)} absolute gradients, and "estimate": the critic's final
    mean D(x) - mean D(G(z)) on that batch (about theta, the W1 distance, once trained).
    """
    losses = {"minimax": get_loss("minimax"), "critic": WGANGP()}
    out: dict[str, list] = {"steps": [], "minimax": [], "critic": []}
    real_eval, _ = parallel_lines(theta, n, seed=seed + 1)
    u_eval = parallel_lines(theta, n, seed=seed + 2)[1][:, 1]
    nets = {name: critic_mlp(64, seed) for name in losses}
    opts = {name: torch.optim.Adam(nets[name].parameters(), lr=1e-3, betas=(0.5, 0.9)) for name in losses}
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for step in range(steps + 1):
            if step % every == 0:
                out["steps"].append(step)
                for name, loss in losses.items():
                    t = torch.tensor(float(theta), requires_grad=True)
                    fake = torch.stack([t.expand(n), u_eval], dim=1)
                    (grad,) = torch.autograd.grad(loss.g_loss(_scores(nets[name], fake)), t)
                    out[name].append(abs(grad.item()))
            if step == steps:
                break
            real, fake = parallel_lines(theta, n, seed=int(torch.randint(2**31, (1,), generator=gen)))
            for name, loss in losses.items():
                D = nets[name]
                d_loss = loss.d_loss(_scores(D, real), _scores(D, fake))
                penalty = loss.penalty(lambda x, D=D: _scores(D, x), real, fake)
                if penalty is not None:
                    d_loss = d_loss + penalty
                opts[name].zero_grad()
                d_loss.backward()
                opts[name].step()
    fake_eval = torch.stack([torch.full((n,), float(theta)), u_eval], dim=1)
    with torch.no_grad():
        estimate = (_scores(nets["critic"], real_eval).mean() - _scores(nets["critic"], fake_eval).mean()).item()
    return {**{k: np.asarray(v) for k, v in out.items()}, "estimate": estimate}


def empirical_w1(x: Tensor, y: Tensor) -> float:
    """Exact W1 between the empirical distributions of x (N, d) and y (N, d): the cheapest one-to-one matching.

    The optimal coupling of two equal-size samples is a permutation (Birkhoff), so W1 = min over
    permutations s of mean_i ||x_i - y_s(i)||, solved by the Hungarian method (SciPy). O(N^3): N <= 2,000.
    """
    if x.shape != y.shape:
        raise ValueError(f"empirical_w1 needs two samples of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    cost = torch.cdist(x.double().reshape(len(x), -1), y.double().reshape(len(y), -1)).numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def ring_vs_centre(n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Section 3's fixed pair: (real, fake), each (n, 2): 8-ring points, and N(0, 0.3^2 I) points."""
    from reference.data.mixtures import sample_mixture

    real, _ = sample_mixture("ring", n, seed=seed)
    fake = 0.3 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed + 1))
    return real, fake


def gradient_norms(D: nn.Module, real: Tensor, fake: Tensor, seed: int = 0) -> Tensor:
    """||grad_x D(x)|| (N,) at the interpolates eps x + (1 - eps) G(z) of real, fake (N, 2), eps ~ U(0, 1) seeded."""
    eps = torch.rand(len(real), 1, generator=torch.Generator().manual_seed(seed))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(_scores(D, x_hat).sum(), x_hat)
    return grad.norm(dim=1)


def train_critic(real: Tensor, fake: Tensor, lipschitz: str, steps: int = CRITIC["steps"], clip: float = CRITIC["clip"],
                 lambda_gp: float = CRITIC["lambda_gp"], seed: int = 0) -> dict:
    """Train a critic alone (G fixed) on fixed samples real, fake (N, 2), Lipschitz by "clip" or "gp".

    Each step draws a batch of CRITIC["batch"] points from each sample, takes the WGAN critic loss
    mean D(G(z)) - mean D(x) (plus the gradient penalty for "gp", then clipping every parameter to
    [-clip, clip] for "clip"), with Adam (CRITIC["lr"], CRITIC["betas"]) for both. Returns {"critic": the
    network, "estimate": mean D(x) - mean D(G(z)) on all of real and fake, "weights": every parameter
    flattened (P,), "grad_norms": ||grad D|| at N interpolates (N,), "history": the estimate every 50 steps}.
    """
    if lipschitz not in ("clip", "gp"):
        raise ValueError(f"lipschitz must be 'clip' or 'gp', got {lipschitz!r}")
    D = critic_mlp(CRITIC["hidden"], seed)
    loss = WGAN(clip=clip) if lipschitz == "clip" else WGANGP(lambda_gp=lambda_gp)
    opt = torch.optim.Adam(D.parameters(), lr=CRITIC["lr"], betas=CRITIC["betas"])
    gen = torch.Generator().manual_seed(seed)
    history = []
    loss.after_d_step(D)  # a clipped critic starts inside the box
    for step in range(steps):
        i = torch.randint(len(real), (CRITIC["batch"],), generator=gen)
        j = torch.randint(len(fake), (CRITIC["batch"],), generator=gen)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 100_003 + step)  # the penalty's eps
            d_loss = loss.d_loss(_scores(D, real[i]), _scores(D, fake[j]))
            penalty = loss.penalty(lambda x: _scores(D, x), real[i], fake[j])
        if penalty is not None:
            d_loss = d_loss + penalty
        opt.zero_grad()
        d_loss.backward()
        opt.step()
        loss.after_d_step(D)
        if step % 50 == 49:
            with torch.no_grad():
                history.append((step + 1, (_scores(D, real).mean() - _scores(D, fake).mean()).item()))
    with torch.no_grad():
        estimate = (_scores(D, real).mean() - _scores(D, fake).mean()).item()
    weights = torch.cat([p.detach().view(-1) for p in D.parameters()])
    return {"critic": D, "estimate": estimate, "weights": weights, "grad_norms": gradient_norms(D, real, fake, seed),
            "history": history}


def read_metrics(path: Path) -> list[dict]:
    """The rows of a run's metrics.csv as dicts of floats (empty cells left out)."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def plot_parallel_lines(theta: float, thetas: np.ndarray, jsd: dict[float, np.ndarray], grads: dict) -> Figure:
    """(a) the two lines at `theta`; (b) JSD of strips of each width (dict width -> (K,)) and W = |theta| against
    thetas (K,); (c) |d loss_G / d theta| while D / the critic train (`generator_gradients`' dict)."""
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 3.8), gridspec_kw=dict(width_ratios=[0.6, 1, 1]))
    real, fake = parallel_lines(theta, 200)
    a.scatter(real[:, 0], real[:, 1], s=4, c="k", label=r"$p_0$: data")
    a.scatter(fake[:, 0], fake[:, 1], s=4, c="g", label=rf"$p_\theta$, $\theta = {theta:g}$")
    a.set_xlim(-0.5, 1.0)
    a.set_xlabel("$x_1$")
    a.set_ylabel("$x_2$")
    a.legend(loc="lower right", fontsize=8)
    a.set_title("two parallel lines")
    for width, values in jsd.items():
        b.plot(thetas, values, label=f"JSD, strips of width {width:g}")
    b.plot(thetas, np.abs(thetas), "k--", label=r"$W_1 = |\theta|$")
    b.axhline(math.log(2), color="r", ls=":", label=r"$\log 2$")
    b.set_xlabel(r"$\theta$")
    b.set_title("JSD saturates at log 2; W grows with the distance")
    b.legend(fontsize=8)
    c.semilogy(grads["steps"], grads["minimax"], label=r"logistic D: $\log(1 - D(G(z)))$")
    c.semilogy(grads["steps"], grads["critic"], label=r"WGAN-GP critic: $-D(G(z))$")
    c.axhline(1.0, color="k", ls="--", lw=0.8, label=r"$dW_1/d\theta = 1$")
    c.set_xlabel("D (critic) training steps")
    c.set_ylabel(r"$|\partial\, \mathrm{loss}_G / \partial\theta|$")
    c.set_title(rf"the gradient G gets at $\theta = {theta:g}$")
    c.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_clip_vs_gp(real: Tensor, fake: Tensor, runs: dict[str, dict], clip: float = CRITIC["clip"]) -> Figure:
    """Top: each critic's scores on a grid with the two samples; bottom: its weights and its gradient norms.

    runs: {"clip" or "gp": `train_critic`'s dict}.
    """
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    g = torch.linspace(-1.6, 1.6, 161)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    grid = torch.stack([xx.ravel(), yy.ravel()], dim=1)
    titles = {"clip": f"weight clipping, c = {clip:g}", "gp": r"gradient penalty, $\lambda$ = 10"}
    for ax, (name, run) in zip(axes[0], runs.items()):
        with torch.no_grad():
            z = _scores(run["critic"], grid).view(161, 161).numpy()
        im = ax.contourf(xx.numpy(), yy.numpy(), z, levels=20, cmap="coolwarm")
        fig.colorbar(im, ax=ax, shrink=0.85)
        ax.scatter(real[:300, 0], real[:300, 1], s=3, c="k")
        ax.scatter(fake[:300, 0], fake[:300, 1], s=3, c="g")
        ax.set_title(f"{titles[name]}: critic D(x)\nestimate of W: {run['estimate']:.3f}")
        ax.set_aspect("equal")
    ax = axes[0, 2]
    for name, run in runs.items():
        steps, values = zip(*run["history"])
        ax.plot(steps, values, label=titles[name])
    ax.set_xlabel("critic steps")
    ax.set_ylabel("mean D(x) - mean D(G(z))")
    ax.legend(fontsize=8)
    ax.set_title("the critics' estimates while training")
    for ax, (name, run) in zip(axes[1], runs.items()):
        w = run["weights"].numpy()
        ax.hist(w, bins=60, color="C0" if name == "clip" else "C1")
        ax.set_yscale("log")
        ax.set_title(f"{titles[name]}: all {len(w):,} weights")
        ax.set_xlabel("weight value")
    ax = axes[1, 2]
    top = max(float(run["grad_norms"].max()) for run in runs.values())
    for name, run in runs.items():
        ax.hist(run["grad_norms"].numpy(), bins=np.linspace(0, max(1.5, top), 60), alpha=0.6, label=titles[name])
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.set_xlabel(r"$\|\nabla_x D(\hat x)\|$ at interpolates")
    ax.legend(fontsize=8)
    ax.set_title("gradient norms")
    fig.tight_layout()
    return fig


def plot_loss_vs_fid(runs: dict[str, list[dict]]) -> Figure:
    """Per run (name -> metrics rows with fid): its loss curve against FID by epoch, and the two against each other.

    The curve is what D estimates (`distance_curve`): the critic's W estimate, or log 4 - loss_D.
    """
    fig, axes = plt.subplots(2, len(runs), figsize=(5.5 * len(runs), 7), squeeze=False)
    for col, (name, rows) in enumerate(runs.items()):
        rows = [r for r in rows if "fid" in r]
        epochs = [r["epoch"] for r in rows]
        fid = [r["fid"] for r in rows]
        curve, label = distance_curve(name, rows)
        top = axes[0, col]
        top.plot(epochs, curve, "C0o-", label=label)
        top.set_xlabel("epoch")
        top.set_ylabel(label, color="C0", fontsize=8)
        right = top.twinx()
        right.plot(epochs, fid, "C3s--", label="classifier-FID")
        right.set_ylabel("classifier-FID", color="C3")
        top.set_title(name)
        bottom = axes[1, col]
        bottom.scatter(curve, fid, c=epochs, cmap="viridis")
        rho = _spearman(np.asarray(curve), np.asarray(fid))
        bottom.set_xlabel(label, fontsize=8)
        bottom.set_ylabel("classifier-FID")
        bottom.set_title(f"Spearman rank correlation {rho:+.2f} (colour: epoch)")
    fig.tight_layout()
    return fig


def distance_curve(name: str, rows: list[dict]) -> tuple[list[float], str]:
    """The distance a run's D estimates, per metrics row, and its label.

    WGAN runs (name contains "wgan"): the critic's estimate of W1, d_x - d_g_z (raw scores; loss_d also holds
    the penalty). Logistic runs: log 4 - loss_D = V(D, G) + log 4, which is 2 JSD at the optimal D (lesson 1).
    """
    if "wgan" in name.lower():
        return [r["d_x"] - r["d_g_z"] for r in rows], "critic's W estimate, mean D(x) - mean D(G(z))"
    return [math.log(4) - r["loss_d"] for r in rows], "log 4 - loss_D (2 JSD at the optimal D)"


def mnist_runs(dataset: str, data_dir: str, work: Path, epochs: int = 10, max_images: int | None = 20_000,
               eval_samples: int = 1000, progress: bool = True) -> tuple[dict[str, list[dict]], dict[str, float]]:
    """Section 4: WGAN-GP (its paper's settings) and the non-saturating GAN, lesson 2's MLP, FID every epoch.

    Returns ({arm name: metrics rows}, {arm name: seconds}); runs go to work / "wgan-gp" and work / "gan".
    """
    from reference.config import TrainConfig
    from reference.trainer import train

    base = dict(model="mlp", dataset=dataset, epochs=epochs, batch_size=64, seed=0, device="cpu", data_dir=data_dir,
                max_images=max_images, eval_every=1, eval_samples=eval_samples, save_every=epochs)
    arms = {"WGAN-GP (paper's settings)": ("wgan-gp", WGAN_GP), "non-saturating GAN": ("gan", {})}
    metrics, seconds = {}, {}
    for name, (folder, options) in arms.items():
        start = time.perf_counter()
        run = train(TrainConfig(**base, **options), work / folder, progress=progress)
        seconds[name] = time.perf_counter() - start
        metrics[name] = read_metrics(run / "metrics.csv")
    return metrics, seconds


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def lesson_06(out: Path) -> dict[str, str]:
    """The parallel lines, clipping against the gradient penalty, and (if given) the MNIST curves against FID."""
    captions = {}
    torch.set_num_threads(1)
    start = time.perf_counter()
    thetas = np.linspace(-1, 1, 401)
    jsd = {w: np.array([strip_jsd(t, w) for t in thetas]) for w in (0.2, 0.05)}
    grads = generator_gradients(0.5)
    save(plot_parallel_lines(0.5, thetas, jsd, grads), out / "06_parallel_lines.png")
    captions["06_parallel_lines.png"] = (
        "Arjovsky et al.'s parallel lines, p_0 = (0, U[0,1]) and p_theta = (theta, U[0,1]). Middle: the JSD of the "
        "lines thickened into strips of width 0.2 and 0.05 (exact cell masses on a 2,000 x 50 grid) and W1 = |theta|. "
        "Right: |d loss_G / d theta| at theta = 0.5 on 256 fixed fakes, every 25 steps while a logistic D (minimax "
        "loss) and a WGAN-GP critic (lambda 10), both 2-64-64-1 ReLU MLPs, Adam 1e-3, betas (0.5, 0.9), batch 256, "
        f"seed 0, train for 500 steps; the critic's final estimate of W1 is {grads['estimate']:.3f}. "
        f"{time.perf_counter() - start:.0f} s on one thread of {hardware()}."
    )
    start = time.perf_counter()
    real, fake = ring_vs_centre(1024)
    runs = {name: train_critic(real, fake, name) for name in ("clip", "gp")}
    w = empirical_w1(real, fake)
    save(plot_clip_vs_gp(real, fake, runs), out / "06_clip_vs_gp.png")
    captions["06_clip_vs_gp.png"] = (
        f"A critic alone (2-128-128-1 ReLU MLP, Adam 1e-4, betas (0.5, 0.9), batch 256, {CRITIC['steps']} steps, seed 0) "
        "on 1,024 fixed 8-ring points (black, real) against 1,024 points of N(0, 0.3^2 I) (green, fake), Lipschitz "
        f"by weight clipping (c = 0.01) or by the gradient penalty (lambda 10). The exact W1 of the two samples is "
        f"{w:.3f}; the estimates: clipping {runs['clip']['estimate']:.4f}, gradient penalty {runs['gp']['estimate']:.3f}. "
        f"Bottom: every parameter of each critic, and ||grad D|| at 1,024 interpolates. "
        f"{time.perf_counter() - start:.0f} s on one thread of {hardware()}."
    )
    import tempfile

    from reference.data import data_root

    with tempfile.TemporaryDirectory(prefix="gan-course-06-") as work:
        metrics, seconds = mnist_runs("mnist", str(data_root()), Path(work), progress=False)
    save(plot_loss_vs_fid(metrics), out / "06_loss_vs_fid.png")
    rho = {name: _spearman(np.asarray(distance_curve(name, rows)[0]), np.asarray([r["fid"] for r in rows]))
           for name, rows in metrics.items()}
    captions["06_loss_vs_fid.png"] = (
        "Lesson 2's MLP GAN on the first 20,000 MNIST training images, 10 epochs, batch 64, seed 0: WGAN-GP at its "
        "paper's settings (Adam 1e-4, betas (0, 0.9), 5 critic steps, lambda 10) and the non-saturating GAN (Adam "
        "2e-4, beta1 0.5). Top: what D estimates (the critic's d_x - d_g_z; log 4 - loss_D) and classifier-FID "
        "(1,000 samples against 1,000 test images) after each epoch; bottom: one against the other. Spearman "
        + ", ".join(f"{k} {v:+.2f}" for k, v in rho.items()) + "; "
        + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()) + f" on {hardware()} shared with other jobs."
    )
    return captions
