"""Minibatches drawn on the training device from one in-memory tensor.

The whole dataset moves to the device once; each epoch is a seeded permutation of indices.
Images stay uint8 until a batch is taken and are scaled to the model's output range there,
so data costs one gather and one multiply-add per batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from reference.data.sources import DataError, Dataset


def to_model_range(x: torch.Tensor, output_range: str) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in the generator's range.

    output_range "tanh" -> [-1, 1], "sigmoid" -> [0, 1]; "none" (points) returns x unchanged.
    """
    if output_range == "none":
        return x
    if output_range == "tanh":
        return x.float().mul(2.0 / 255.0).sub_(1.0)  # mul makes a new tensor: the input is never changed
    if output_range == "sigmoid":
        return x.float().div(255.0)
    raise ValueError(f"unknown output range {output_range!r}")


def from_model_range(x: torch.Tensor, output_range: str) -> torch.Tensor:
    """Generator output in its range -> float in [0, 1] for saving or plotting (points unchanged)."""
    if output_range == "tanh":
        return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)
    if output_range == "sigmoid":
        return x.float().clamp(0.0, 1.0)
    return x


class Batches:
    """Seeded minibatches of a `Dataset`, held on `device`.

    Each epoch visits a fresh permutation and drops the last partial batch. Under DDP every rank
    takes the same permutation and keeps every `world_size`-th index from `rank`, so ranks see
    disjoint shards. With labels=True each batch comes with its labels (conditional GANs). The permutation of epoch e depends only on (seed, e), so a resumed run
    sees exactly the batches the uninterrupted run would have.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        device: torch.device | str = "cpu",
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        labels: bool = False,
    ) -> None:
        self.data = dataset.data.to(device)
        self.labels = dataset.labels.to(device) if labels else None
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        per_rank = len(dataset) // world_size
        if batch_size > per_rank:
            raise DataError(
                f"batch size {batch_size} is larger than the {per_rank} samples of '{dataset.name}' per process; "
                f"use --batch-size {max(1, per_rank)} or less"
            )

    def __len__(self) -> int:
        """Batches per epoch."""
        return (self.data.shape[0] // self.world_size) // self.batch_size

    def epoch(self, epoch: int) -> Iterator[torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """Yield the batches of `epoch` (0-based): tensors (batch_size, *sample_shape) on the device,
        or with labels=True pairs (x, y), y int64 (batch_size,)."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.data.shape[0], generator=gen)[self.rank :: self.world_size]
        order = order.to(self.data.device)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.data[index] if self.labels is None else (self.data[index], self.labels[index])
