"""Tests for reference/distributed.py: `gan-course train` under torchrun, 2 CPU processes with gloo.

Each test launches `python -m torch.distributed.run --standalone --nproc_per_node=2` (torchrun of
this interpreter) on scikit-learn's digits: 1,437 images, 718 per rank, 11 batches of 64 per rank.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from reference.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is not available"
)

BATCHES_PER_RANK = (1437 // 2) // 64


def torchrun(target: list[str], argv: list[str], extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `torchrun --standalone --nproc_per_node=2 TARGET ARGV` with one thread per process.

    No time limit: a slow machine is no failure. A rank stuck in a collective still ends: gloo's
    collectives time out after 30 minutes, and torchrun then stops the other rank."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(extra_env or {})}
    with tempfile.TemporaryDirectory(prefix="gan-course-torchrun-") as logs:  # else torchrun leaves /tmp/torchelastic_*
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--log-dir", logs,
               *target, *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, (
        f"torchrun exited with {proc.returncode}: {' '.join(cmd)}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-6000:]}"
    )
    return proc


def read_metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def files_of(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}


def test_torchrun_trains_with_ddp_and_rank_0_writes_the_files(tmp_path):
    run = tmp_path / "run"
    proc = torchrun(["-m", "reference.cli"], ["train", "--model", "mlp", "--dataset", "digits", "--epochs", "2",
                                              "--device", "cpu", "--out", str(run), "--no-progress"])  # fmt: skip
    assert proc.stdout.count("Run saved to") == 1, f"only rank 0 should report the run: {proc.stdout!r}"
    expected = {"config.json", "metrics.csv", "losses.png", "samples/epoch_002.png",
                "checkpoints/epoch_002.pt", "checkpoints/last.pt"}  # fmt: skip
    assert files_of(run) == expected, f"run folder holds {sorted(files_of(run))}, expected {sorted(expected)}"

    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2, f"config.json says world_size {config['world_size']}, expected 2"
    rows = read_metrics(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2], "metrics.csv should have exactly one row per epoch"
    for row in rows:
        for key, value in row.items():
            assert math.isfinite(float(value)), f"epoch {row['epoch']}: {key} = {value}"
        images = BATCHES_PER_RANK * 64 * 2  # both ranks' images
        expected_ips = images / float(row["seconds"])
        assert float(row["images_per_second"]) == pytest.approx(expected_ips, rel=0.01), (
            f"images_per_second {row['images_per_second']} should count both ranks' {images} images in {row['seconds']} s"
        )

    state = load_checkpoint(run)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert not any(k.startswith("module.") for k in state["generator"]), "checkpoint holds the DDP wrapper's keys"


# Runs the CLI's main() on every rank, recording what each rank's networks hold after training and
# which checkpoint files each rank saved.
SPY = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import torch
    import reference.trainer as trainer
    from reference.cli import main

    rank, saves, runs, wrapped = int(os.environ["RANK"]), [], [], []
    save_checkpoint, train_epoch = trainer.save_checkpoint, trainer.Run.train_epoch

    def spy_save(state, path):
        saves.append(Path(path).name)
        save_checkpoint(state, path)

    def spy_epoch(self, epoch, bar):
        runs[:], wrapped[:] = [self], [type(self.D_train).__name__]
        return train_epoch(self, epoch, bar)

    trainer.save_checkpoint, trainer.Run.train_epoch = spy_save, spy_epoch
    code = main(sys.argv[1:])
    run = runs[0]
    params = {f"G.{n}": p.detach().clone() for n, p in run.G.named_parameters()}
    params.update({f"D.{n}": p.detach().clone() for n, p in run.D.named_parameters()})
    torch.save({"params": params, "saves": saves, "ddp": wrapped[0], "after": type(run.D_train).__name__},
               Path(os.environ["SPY_DIR"]) / f"rank{rank}.pt")
    sys.exit(code)
    """
)


# DDP as torch 2.6-2.11 ran it: its broadcast of rank 0's buffers before a forward counted as an in-place
# change of those buffers (pytorch/pytorch#175024; 2.12 keeps their version counters), so BatchNorm's running
# statistics, saved by autograd at D(x), were "modified" by the broadcast before D(G(z)).
OLD_BROADCAST = textwrap.dedent(
    """
    import runpy, sys
    import torch
    from torch.nn.parallel import DistributedDataParallel

    sync_buffers = DistributedDataParallel._sync_buffers

    def sync_buffers_as_before_2_12(self):
        sync_buffers(self)
        with torch.no_grad():
            for b in self.module.buffers():
                if b.is_floating_point():
                    b.add_(0)  # an in-place write: bumps the version counter as the old copy_ did

    DistributedDataParallel._sync_buffers = sync_buffers_as_before_2_12
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


@pytest.mark.parametrize("loss", ["non-saturating", "wgan-gp"])
def test_a_batchnorm_discriminator_trains_under_ddp_where_its_buffer_broadcast_counts_as_in_place(tmp_path, loss):
    """D(x), D(G(z)) (and the penalty's D(x_hat)) before one backward, with DDP syncing D's BatchNorm buffers
    before each forward in place, as torch 2.6-2.11 did: the run must still train (D's running statistics
    are not broadcast per forward), and the ranks end in step."""
    (tmp_path / "old.py").write_text(OLD_BROADCAST)
    spy = tmp_path / "spy.py"
    spy.write_text(SPY)
    run = tmp_path / "run"
    torchrun([str(tmp_path / "old.py"), str(spy)],
             ["train", "--model", "dcgan", "--ngf", "8", "--ndf", "8", "--loss", loss, "--dataset", "digits",
              "--epochs", "1", "--device", "cpu", "--out", str(run), "--no-progress"],
             extra_env={"SPY_DIR": str(tmp_path)})  # fmt: skip
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert rank0["params"]["D.main.3.weight"].dim() == 1, "D's fourth layer should be a BatchNorm here"
    for name, p in rank0["params"].items():
        assert torch.isfinite(p).all() and torch.equal(p, rank1["params"][name]), f"{name} differs between the ranks"
    assert [int(r["epoch"]) for r in read_metrics(run)] == [1]


def test_wgan_gp_under_ddp_keeps_the_ranks_in_sync(tmp_path):
    """WGAN-GP's double backward through DDP: both ranks end with identical weights; only rank 0 saves."""
    spy = tmp_path / "spy.py"
    spy.write_text(SPY)
    run = tmp_path / "run"
    torchrun([str(spy)], ["train", "--model", "dcgan", "--ngf", "8", "--ndf", "8", "--loss", "wgan-gp",
                          "--dataset", "digits", "--epochs", "2", "--device", "cpu", "--out", str(run), "--no-progress"],
             extra_env={"SPY_DIR": str(tmp_path)})  # fmt: skip
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert rank0["ddp"] == rank1["ddp"] == "DistributedDataParallel", "under torchrun the networks must be wrapped in DDP"
    # the wrappers are let go before the process group: one left to the interpreter's exit aborts the rank
    assert rank0["after"] == rank1["after"] == "Discriminator", "train() should drop the DDP wrappers when it ends"
    assert rank1["saves"] == [], f"rank 1 wrote checkpoints {rank1['saves']}: only rank 0 may write"
    assert sorted(rank0["saves"]) == ["epoch_002.pt", "last.pt", "last.pt"], f"rank 0 saved {rank0['saves']}"
    for name, p in rank0["params"].items():
        assert torch.isfinite(p).all(), f"{name} has NaN or inf after WGAN-GP under DDP"
        assert torch.equal(p, rank1["params"][name]), (
            f"parameter {name} differs between rank 0 and rank 1: DDP did not average the gradients"
        )
    state = load_checkpoint(run)
    for name, p in state["generator"].items():
        if f"G.{name}" in rank0["params"]:
            assert torch.equal(p, rank0["params"][f"G.{name}"]), f"last.pt's generator.{name} is not rank 0's"
    rows = read_metrics(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(math.isfinite(float(r["loss_d"])) and math.isfinite(float(r["loss_g"])) for r in rows)
