"""Figures of lesson 02 (an MLP GAN on MNIST)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import matplotlib.pyplot as plt

from reference.figures import hardware, save


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
