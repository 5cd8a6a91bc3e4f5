"""Figures a run leaves behind: sample grids and loss curves, written atomically as PNG."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from typing import TYPE_CHECKING

import torch

from reference.io import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(figsize: tuple[float, float]) -> "Figure":
    """A matplotlib Figure for a file: no pyplot, so the backend a notebook chose stays. Imported
    here, not with the module: matplotlib takes 0.4 s, and a run that saves only grids needs none."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None) -> None:
    """Save float images (N, C, H, W) in [0, 1] as one PNG grid, about square (nrow ~ sqrt(N))."""
    import torchvision.utils as vutils  # here, not with the module: a second to import, and only grids need it
    from PIL import Image

    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = vutils.make_grid(images.detach().float().cpu(), nrow=nrow, padding=2)  # (3, H', W') in [0, 1]
    pixels = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()  # as save_image rounds
    with atomic_path(path) as tmp:
        # zlib level 1: a third of save_image's time (its level 6), for files about as small; a run saves many grids
        Image.fromarray(pixels).save(tmp, format="png", compress_level=1)


def save_points(points: torch.Tensor, path: str | os.PathLike, means: torch.Tensor | None = None, title: str = "") -> None:
    """Scatter generated 2-D points (N, 2), with the mixture's mode centres (K, 2) if given."""
    fig = _figure((4.5, 4.5))
    ax = fig.subplots()
    pts = points.detach().float().cpu()
    ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.5, label="G(z)")
    if means is not None:
        ax.scatter(means[:, 0], means[:, 1], s=40, marker="x", color="red", label="modes")
        span = float(means.abs().max()) * 1.4 + 0.1
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title)
    _save_figure(fig, path)


def save_loss_curves(history: Sequence[dict], path: str | os.PathLike) -> None:
    """Plot loss_d / loss_g and D(x) / D(G(z)) against epoch from metrics rows, and the
    evaluation scores (FID, or modes covered) when the run evaluates (--eval-every)."""
    epochs = [row["epoch"] for row in history]
    scored = [(row["epoch"], row[key]) for row in history for key in ("fid", "modes_covered") if key in row]
    fig = _figure((15 if scored else 10, 3.6))
    axes = fig.subplots(1, 3 if scored else 2)
    ax_loss, ax_d = axes[0], axes[1]
    if scored:
        key = "fid" if "fid" in history[-1] or any("fid" in row for row in history) else "modes_covered"
        axes[2].plot([e for e, _ in scored], [v for _, v in scored], marker="o", color="C2")
        axes[2].set_xlabel("epoch")
        axes[2].set_title("FID (classifier features, lower is better)" if key == "fid" else "Modes covered")
    ax_loss.plot(epochs, [row["loss_d"] for row in history], label="loss_D", marker=".")
    ax_loss.plot(epochs, [row["loss_g"] for row in history], label="loss_G", marker=".")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_title("Losses")
    ax_loss.legend()
    ax_d.plot(epochs, [row["d_x"] for row in history], label="D(x)", marker=".")
    ax_d.plot(epochs, [row["d_g_z"] for row in history], label="D(G(z))", marker=".")
    ax_d.set_xlabel("epoch")
    ax_d.set_title("Discriminator outputs (mean)")
    ax_d.legend()
    fig.tight_layout()
    _save_figure(fig, path)


def _save_figure(fig: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
