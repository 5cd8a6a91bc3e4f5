"""Probes of a3_save_every_10_epochs: one watched call of the notebook's `train`.

`watched_train` runs `train(n_epochs, out_dir, seed)` with the notebook's `make_gan` wrapped, so
that the GAN it builds reports what happens during the run:

- `gan.batches.epoch(epoch)` scans `out_dir` when an epoch starts, after each of its batches, and
  once more when `train` returns; every file that is new or changed at a scan is a write, labelled
  with when it was seen: ("after", k) once k epochs were complete, ("during", k) inside epoch k.
  An epoch hands out at most `max_batches` batches (the schedule does not depend on them).
- G's forward records what it receives: the noise of each call between two scans is kept for the
  scans that saw writes, so a check can compare the noise that went into each saved grid.

It measures and returns plain data; the check module decides what is right.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import torch

__all__ = ["identity", "remove", "watched_train"]

MAX_INPUTS = 256  # G calls kept per period between two scans (a grid drawn one sample at a time)

_recording: list[torch.Tensor] | None = None  # G's inputs since the last scan, while a run is watched


def _record(module: torch.nn.Module, args: tuple) -> None:
    """Forward pre-hook on G: keep a copy of the noise it receives. Module-level, so a G that the
    student pickles whole (torch.save(G)) still pickles."""
    if _recording is not None and args and isinstance(args[0], torch.Tensor) and len(_recording) < MAX_INPUTS:
        _recording.append(args[0].detach().to("cpu", copy=True))


class _Watch:
    """The run's periods between scans of `root` that saw writes: {"when", "epoch", "files", "inputs"}."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: dict[str, tuple[int, int, int]] = {}
        self.periods: list[dict] = []
        self.epochs_started = 0

    def files(self) -> dict[str, tuple[int, int, int]]:
        """{path relative to root (posix): (mtime_ns, size, inode)} of the regular files under root."""
        found = {}
        for folder, dirs, names in os.walk(self.root):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(folder, name)
                if name.startswith("."):
                    continue  # temporary files of atomic writes
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):  # a regular file, never a link
                    found[Path(path).relative_to(self.root).as_posix()] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return found

    def scan(self, when: str) -> None:
        """Close the current period: record it if files changed since the last scan."""
        current = self.files()
        changed = [rel for rel, sig in current.items() if self.seen.get(rel) != sig]
        self.seen.update({rel: current[rel] for rel in changed})
        inputs = list(_recording or [])
        if _recording is not None:
            _recording.clear()
        if changed:
            self.periods.append({"when": when, "epoch": self.epochs_started, "files": changed, "inputs": inputs})


class _WatchedBatches:
    """`gan.batches` whose `epoch(e)` scans before the epoch and after each batch, and yields at
    most `max_batches` batches."""

    def __init__(self, batches: Any, watch: _Watch, max_batches: int) -> None:
        self._batches, self._watch, self._max = batches, watch, max_batches

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batches, name)

    def __len__(self) -> int:
        return min(len(self._batches), self._max)

    def epoch(self, epoch: int):
        watch = self._watch
        watch.scan("after")
        watch.epochs_started += 1
        for i, x in enumerate(self._batches.epoch(epoch)):
            if i == self._max:
                break
            yield x
            watch.scan("during")


def _shapes(module: Any) -> dict[str, list[int]] | None:
    """{state_dict key: shape} of a module, None for anything else."""
    if not isinstance(module, torch.nn.Module):
        return None
    return {name: list(value.shape) for name, value in module.state_dict().items()}


def watched_train(namespace: dict, out_dir: str, n_epochs: int, seed: int = 0, max_batches: int = 2) -> dict:
    """Call namespace["train"](n_epochs, out_dir, seed=seed) with `make_gan` watched (see the module).

    out_dir: the run folder, removed first if it exists and not created (train makes it).
    Returns {"epochs_started": int, "periods": [{"when": "after"|"during", "epoch": int, "files":
    [path relative to out_dir], "inputs": [G's input tensors in that period]}], "shapes": {"G": {key:
    shape}, "D": ...} of the first GAN built, or None if make_gan was never called}.
    """
    global _recording
    root = Path(out_dir)
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    watch = _Watch(root)
    make_gan, train = namespace["make_gan"], namespace["train"]
    built: list[dict] = []
    hooks = []

    def watched_make_gan(*args: Any, **kwargs: Any) -> Any:
        gan = make_gan(*args, **kwargs)
        gan.batches = _WatchedBatches(gan.batches, watch, max_batches)
        if isinstance(gan.G, torch.nn.Module):
            hooks.append(gan.G.register_forward_pre_hook(_record))
        if not built:
            built.append({"G": _shapes(gan.G), "D": _shapes(getattr(gan, "D", None))})
        return gan

    namespace["make_gan"] = watched_make_gan
    _recording = []
    try:
        train(n_epochs, str(root), seed=seed)
        watch.scan("after")
    finally:
        namespace["make_gan"] = make_gan
        _recording = None
        for hook in hooks:
            hook.remove()
    return {"epochs_started": watch.epochs_started, "periods": watch.periods, "shapes": built[0] if built else None}


def identity(namespace: dict) -> list[int]:
    """[process id, id(train), id(make_gan)]: which notebook's functions a cached run belongs to."""
    return [os.getpid(), id(namespace.get("train")), id(namespace.get("make_gan"))]


def remove(folder: str) -> None:
    """Remove `folder` (a run folder the checks have read), and its parent if that is left empty."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rmdir(Path(folder).parent)
    except OSError:  # not empty (another run's folder), or already gone
        pass
