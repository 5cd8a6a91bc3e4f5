"""DistributedDataParallel as a property of the same `gan-course train` command.

Launched by `torchrun --nproc_per_node=N -m reference.cli train ...` (or `gan-course` under
torchrun), each process reads RANK / WORLD_SIZE / LOCAL_RANK from the environment, joins a
process group (NCCL on CUDA, gloo on CPU) and trains on its own shard; rank 0 writes all files.
Without those variables everything here is a no-op and training runs in one process.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: rank in [0, world_size), local_rank = GPU index on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group if launched by torchrun; returns this process's DistInfo."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def all_reduce_mean(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Average a tensor over all ranks (identity in a single process)."""
    if info.enabled:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= info.world_size
    return t


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op in a single process)."""
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group, once the DistributedDataParallel wrappers are dropped.

    A wrapper keeps the process group alive after destroy_process_group(); one left to the
    interpreter's exit (wrappers sit in reference cycles) tears gloo's worker threads down during
    finalization, and the rank dies with SIGABRT ("terminate called without an active
    exception") after its work is done. Collecting the wrappers first lets destroy_process_group()
    free the group while the interpreter is whole.
    """
    if info.enabled and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
