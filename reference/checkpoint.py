"""Training checkpoints: everything needed to resume a run bit for bit.

A checkpoint is a dict saved with `torch.save`:
    format "gan-course-checkpoint", version 1, epoch (completed, 1-based), config (TrainConfig as a
    dict), generator / discriminator / opt_g / opt_d / scaler state dicts, rng (torch and
    per-device RNG states), fixed_noise (num_samples, nz), history (the metrics.csv rows so far).
Files are written atomically, so a process killed at any moment leaves the previous one intact.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from reference import paths
from reference.errors import UserError
from reference.io import torch_save_atomic

FORMAT = "gan-course-checkpoint"
VERSION = 1


class CheckpointError(UserError):
    """A checkpoint that is missing, truncated, corrupt or not ours."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Save `state` (plus format and version tags) to `path` atomically."""
    torch_save_atomic({"format": FORMAT, "version": VERSION, **state}, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate a gan-course checkpoint; raise CheckpointError with the fix otherwise."""
    path = Path(path)
    if paths.is_dir(path):  # PermissionError inside a folder the user may not enter (reference.paths)
        candidate = path / "checkpoints" / "last.pt"
        if not paths.is_file(candidate) and paths.is_file(path / "last.pt"):  # a run's checkpoints/ folder itself
            candidate = path / "last.pt"
        if not paths.is_file(candidate) and paths.is_file(path / "config.json"):  # a run stopped in its first epoch
            raise CheckpointError(unsaved_run(path))
        if not paths.is_file(candidate):
            raise CheckpointError(f"no checkpoint in {path}: expected {candidate}; pass a run folder or a .pt file")
        path = candidate
    if not paths.is_file(path):
        raise CheckpointError(f"checkpoint {path} does not exist; pass a run folder or a .pt file written by 'gan-course train'")
    if path.stat().st_size and not _looks_like_torch_save(path):
        raise CheckpointError(
            f"{path} is not a checkpoint written by 'gan-course train' (not a PyTorch file at all); "
            f"pass a run folder or one of its checkpoints/*.pt files"
        )
    try:
        with warnings.catch_warnings():  # torch warns about some foreign pickles; the error below says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err):  # whole Python objects, which weights_only refuses: not ours
            raise CheckpointError(
                f"{path} holds pickled Python objects (a whole network saved with torch.save(model)?), not a checkpoint "
                f"written by 'gan-course train'; pass a run folder or one of its checkpoints/*.pt files"
            ) from None
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt (PyTorch cannot read it); use another checkpoint, "
            f"e.g. an earlier checkpoints/epoch_NNN.pt"
        ) from None
    except Exception:  # noqa: BLE001 - damaged bytes make torch.load raise almost any type
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt (PyTorch cannot read it); use another checkpoint, "
            f"e.g. an earlier checkpoints/epoch_NNN.pt"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a gan-course checkpoint (no '{FORMAT}' tag); pass a file written by 'gan-course train'"
        )
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {state.get('version')}, this code reads {VERSION}; "
            f"use the gan-course version that wrote it"
        )
    for key, kind in ENTRIES:  # an entry edited by hand (config = None) ended `sample` in a traceback
        if key in state and not (isinstance(state[key], kind) and not isinstance(state[key], bool)):
            raise CheckpointError(
                f"checkpoint {path} holds a {type(state[key]).__name__} as its {key!r} entry, where gan-course train "
                f"writes a {kind.__name__}: it was edited or written by another program; use a checkpoint gan-course "
                f"train wrote, e.g. an earlier checkpoints/epoch_NNN.pt"
            )
    return state


def unsaved_run(path: Path) -> str:
    """The line for run folder `path` that holds config.json but no checkpoints/last.pt.

    sample and eval said 'no checkpoint in RUN ...; pass a run folder or a .pt file' (it was one), fid 'no images in RUN'."""
    import shlex

    try:
        saved = sorted((path / "checkpoints").glob("epoch_*.pt"))
    except OSError:
        saved = []
    if saved:  # last.pt deleted, the epochs' own checkpoints kept
        return (f"run {path} has no checkpoints/last.pt (deleted?), but has {saved[-1]}; copy that file to "
                f"{path / 'checkpoints' / 'last.pt'} to resume or sample from it (sample and eval also take the file itself)")
    if (path / "metrics.csv").is_file():  # it trained epochs, whose checkpoints are gone: --resume would not help
        return (f"run {path} trained epochs (metrics.csv) but its checkpoints/last.pt is gone; put it back (from a backup), "
                f"or start a new run with --out")
    return (f"run {path} has saved no checkpoint yet (it stopped before its first epoch ended, or checkpoints/last.pt "
            f"was deleted); train it first: gan-course train --resume {shlex.quote(str(path))}")


ENTRIES = (("epoch", int), ("config", dict), ("shape", list), ("nz", int), ("generator", dict), ("discriminator", dict))


def _looks_like_torch_save(path: Path) -> bool:
    """Whether `path` starts as `torch.save` writes: a zip whose first entry is .../data.pkl, or the
    pickled magic number of the legacy format. Reads only the first bytes, so a truncated file passes."""
    with open(path, "rb") as f:
        head = f.read(_ZIP_HEADER + 256)
    if head.startswith(b"PK\x03\x04") and len(head) >= _ZIP_HEADER:
        name_length = int.from_bytes(head[26:28], "little")
        return head[_ZIP_HEADER : _ZIP_HEADER + name_length].endswith(b"/data.pkl")
    return head.startswith(_LEGACY_MAGIC)


_ZIP_HEADER = 30  # bytes of a zip local file header before the entry's name
_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."  # pickle of torch's 0x1950a86a20f9469cfc6c


def rng_state() -> dict[str, Any]:
    """The global RNG states that training consumes (torch CPU, CUDA if present, Apple's MPS if present).

    On a Mac `--device auto` trains on MPS, whose own generator draws every batch's z: without its
    state a resumed run drew the noise of epoch 1 again, not what the uninterrupted run drew."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore states saved by `rng_state` (a device this machine lacks is skipped)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
