"""A 1-D GAN small enough to train live in a lesson: Goodfellow et al. 2014's Figure 1.

The data are numbers drawn from N(data_mean, data_std^2). G maps noise z ~ N(0, I) of shape
(N, nz) to numbers (N, 1); D maps numbers (N, 1) to logits (N,). Each step is the one
`reference.trainer` takes: a D step on a real batch and a detached fake batch, then a G step
through the updated D on the same fake batch, with a logistic loss from `reference.losses`
("non-saturating" or "minimax"). Training runs on the CPU: the networks are so small that a GPU
would spend longer launching kernels than computing.

    from reference.toy1d import Toy1DConfig, train_toy1d
    result = train_toy1d(Toy1DConfig(steps=500), snapshot_steps=(0, 100, 500))
    result.snapshots[-1].samples   # (n_samples,) values of G(z) for a fixed z after step 500
    result.snapshots[-1].d_prob    # (grid_points,) D(x) on result.grid
    result.history["d_g_z"]        # (steps,) mean D(G(z)) of each step's fake batch

With the defaults (nz = 8, hidden = 32), G has 1,377 and D 1,153 trainable parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from reference.errors import UserError
from reference.losses import get_loss

__all__ = ["Toy1DConfig", "Snapshot", "Toy1DResult", "Generator1D", "Discriminator1D", "build_toy1d", "train_toy1d"]

LOGISTIC_LOSSES = ("minimax", "non-saturating")


@dataclass(frozen=True)
class Toy1DConfig:
    """Every setting of a 1-D GAN run; the defaults move G onto the data in about 500 steps.

    lr_g = 0 freezes G, which lets D learn to reject G's samples (the start of every GAN run,
    where the saturating loss gives G almost no gradient).
    """

    data_mean: float = 3.0
    data_std: float = 0.5
    nz: int = 8
    hidden: int = 32
    steps: int = 500
    batch_size: int = 256
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "non-saturating"
    seed: int = 0
    n_samples: int = 10_000  # size of the fixed noise batch behind each snapshot
    grid: tuple[float, float, int] = (-2.0, 6.0, 401)  # where snapshots evaluate D: (start, stop, points)


@dataclass
class Snapshot:
    """The state of the game after `step` training steps (0: before training).

    samples: G(fixed z), shape (n_samples,). d_prob: D(x) = sigmoid(logit) on the result's grid,
    shape (grid_points,). Both float32 CPU tensors.
    """

    step: int
    samples: Tensor
    d_prob: Tensor


@dataclass
class Toy1DResult:
    """What `train_toy1d` returns: the trained networks, snapshots and per-step history.

    history maps "loss_d", "loss_g", "d_x", "d_g_z" to float32 tensors of shape (steps,);
    d_x and d_g_z are the batch means of D(x) and D(G(z)) as probabilities.
    """

    config: Toy1DConfig
    G: nn.Module
    D: nn.Module
    grid: Tensor
    snapshots: list[Snapshot] = field(default_factory=list)
    history: dict[str, Tensor] = field(default_factory=dict)


class Generator1D(nn.Module):
    """z (N, nz) -> Linear(nz, h), ReLU, Linear(h, h), ReLU, Linear(h, 1) -> x (N, 1)."""

    def __init__(self, nz: int = 8, hidden: int = 32) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(nz, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, z: Tensor) -> Tensor:
        """z (N, nz) -> x (N, 1)."""
        return self.main(z)


class Discriminator1D(nn.Module):
    """x (N, 1) -> Linear(1, h), LeakyReLU(0.2), Linear(h, h), LeakyReLU(0.2), Linear(h, 1) -> logits (N,)."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(1, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (N, 1) -> logits (N,), no sigmoid."""
        return self.main(x).view(-1)


def build_toy1d(cfg: Toy1DConfig) -> tuple[Generator1D, Discriminator1D]:
    """(G, D) with PyTorch's default init drawn from `cfg.seed`; the global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return Generator1D(cfg.nz, cfg.hidden), Discriminator1D(cfg.hidden)


def train_toy1d(
    cfg: Toy1DConfig,
    snapshot_steps: Iterable[int] = (),
    G: nn.Module | None = None,
    D: nn.Module | None = None,
) -> Toy1DResult:
    """Train a 1-D GAN for cfg.steps steps on the CPU and record snapshots after `snapshot_steps`.

    Runs on one CPU thread (restored afterwards): with 32-unit layers, handing work to more
    threads costs more than the arithmetic, and on a busy machine many times more.

    snapshot_steps: step counts in [0, cfg.steps]; 0 is the state before training. G and D may
    be passed in (e.g. to continue a run); otherwise `build_toy1d(cfg)` makes them. Data and
    noise come from a generator seeded with cfg.seed, so a run is repeatable and does not touch
    the global RNG. Raises UserError for an unknown or non-logistic loss or an out-of-range step.
    """
    if cfg.loss.strip().lower().replace("_", "-") not in LOGISTIC_LOSSES:
        raise UserError(f"toy1d takes loss 'minimax' or 'non-saturating', not {cfg.loss!r}")
    wanted = sorted(set(snapshot_steps))
    if wanted and (wanted[0] < 0 or wanted[-1] > cfg.steps):
        raise UserError(f"snapshot steps must lie in [0, {cfg.steps}] (cfg.steps); got {wanted}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(cfg, wanted, G, D)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: Toy1DConfig, wanted: list[int], G: nn.Module | None, D: nn.Module | None) -> Toy1DResult:
    loss = get_loss(cfg.loss)
    if G is None or D is None:
        G, D = build_toy1d(cfg)
    rng = torch.Generator().manual_seed(cfg.seed)
    fixed_z = torch.randn(cfg.n_samples, cfg.nz, generator=rng)
    grid = torch.linspace(*cfg.grid)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    result = Toy1DResult(cfg, G, D, grid)
    history = torch.zeros(4, cfg.steps)  # loss_d, loss_g, d_x, d_g_z

    def snapshot(step: int) -> None:
        with torch.no_grad():
            samples = G(fixed_z).view(-1)
            d_prob = torch.sigmoid(D(grid.view(-1, 1)))
        result.snapshots.append(Snapshot(step, samples.clone(), d_prob.clone()))

    if 0 in wanted:
        snapshot(0)
    for step in range(cfg.steps):
        real = cfg.data_mean + cfg.data_std * torch.randn(cfg.batch_size, 1, generator=rng)
        z = torch.randn(cfg.batch_size, cfg.nz, generator=rng)

        # (1) D step: maximise log D(x) + log(1 - D(G(z))), i.e. minimise loss.d_loss
        fake = G(z)
        logits_real, logits_fake = D(real), D(fake.detach())
        loss_d = loss.d_loss(logits_real, logits_fake)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        # (2) G step through the updated D on the same fake batch; D's weights stay as they are
        loss_g = loss.g_loss(D(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        with torch.no_grad():
            history[:, step] = torch.stack(
                [loss_d, loss_g, torch.sigmoid(logits_real).mean(), torch.sigmoid(logits_fake).mean()]
            )
        if step + 1 in wanted:
            snapshot(step + 1)
    D.zero_grad(set_to_none=True)  # the G step left gradients in D that no optimizer step used
    result.history = dict(zip(("loss_d", "loss_g", "d_x", "d_g_z"), history))
    return result
