"""Probes of a3_save_every_10_epochs: watched calls of the notebook's `train` and `resume`.

`watched_train` runs `train(n_epochs, out_dir, seed)` with the notebook's `make_gan` wrapped, so
that the GAN it builds reports what happens during the run:

- `gan.batches.epoch(epoch)` scans `out_dir` when an epoch starts, after each of its batches, and
  once more when `train` returns; so does every optimizer step, just before it updates. Every file
  that is new or changed at a scan is a write, labelled with when it was seen: ("after", k) once k
  epochs were complete, ("during", k) inside epoch k, with a training step of the epoch after it.
  A write seen after a batch with no step of its epoch after it (a save inside the batch loop, on
  the epoch's last batch, after its step) is ("after", k) too, marked "inside" the batch loop.
  An epoch hands out at most `max_batches` batches (all of them when None).
- An optimizer step is credited to the innermost call of `gan.batches.epoch` still handing out
  batches (the latest call where none is: its batches were listed before the steps). A call credited
  with no step (a pass that only counts the batches, `len(list(gan.batches.epoch(0)))`, at the start
  or in the middle of an epoch; a resume that skips the data of the epochs done) is no epoch, as long
  as other calls of the run trained: the epochs are the calls that trained.
- Where each epoch starts, a digest of torch's global RNG state is kept: two epochs that start
  from the same state (torch reseeded with one seed) draw the same noise in `step`.
- G's forward records what it receives and returns: the noise and the images of each call between
  two scans are kept for the scans that saw writes, so a check can compare the noise that went into
  each saved grid, and the pixels of a grid with the images G made for it.

`resumed_train` interrupts a run and resumes it: `train(n_first)`, then `resume(checkpoint,
n_total)` from the last checkpoint that run wrote after a complete epoch k, and an uninterrupted
`train(n_total)` of the same seed. It snapshots the state each step starts from (G's and D's
weights, both optimizers' states, torch's RNG state) where the resumed run's first epoch starts
and where the uninterrupted run's epoch k + 1 starts, and both runs' weights at the end, and
returns how far apart they are.

`latest_found` calls the notebook's `latest_checkpoint(folder)` on a folder the grader wrote and
says what it returned: a path (relative to the folder), None, or something else.

It measures and returns plain data; the check module decides what is right.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

__all__ = ["identity", "latest_found", "remove", "resumed_train", "watched_train"]

MAX_INPUTS = 256  # G calls kept per period between two scans (a grid drawn one sample at a time)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".tar", ".pkl")
MAX_BESIDE = 20  # files resume wrote beside the checkpoint it was given, listed at the most

_recording: list[torch.Tensor] | None = None  # G's inputs since the last scan, while a run is watched
_outputs: list[torch.Tensor] | None = None  # G's outputs since the last scan, while a run is watched


_generators: list[tuple[type, tuple]] = []  # (class, parameter shapes) of each G make_gan built, while a run is watched


def _signature(module: torch.nn.Module) -> tuple:
    return tuple(tuple(p.shape) for p in module.parameters())


def _is_generator(module: torch.nn.Module) -> bool:
    """Is `module` one of the G's make_gan built, or a copy of one: a network of its class with parameters of
    its shapes (G rebuilt and loaded from a state_dict, copy.deepcopy(G), an average of G's weights)?"""
    return any(type(module) is kind and _signature(module) == shapes for kind, shapes in _generators)


def _record(module: torch.nn.Module, args: tuple) -> None:
    """Forward pre-hook on every module (torch's global hook, so a G that the student pickles whole, or
    rebuilds from its weights, is still seen): keep a copy of the noise each G receives."""
    if (_recording is not None and args and isinstance(args[0], torch.Tensor) and len(_recording) < MAX_INPUTS
            and _is_generator(module)):
        _recording.append(args[0].detach().to("cpu", copy=True))


def _record_output(module: torch.nn.Module, args: tuple, output: object) -> None:
    """Forward hook on every module, as `_record`: keep a copy of the images each G returns."""
    if _outputs is not None and isinstance(output, torch.Tensor) and len(_outputs) < MAX_INPUTS and _is_generator(module):
        _outputs.append(output.detach().to("cpu", torch.float32, copy=True))


class _Watch:
    """The run's periods between scans of `root` that saw writes: {"when", "epoch", "files", "inputs"};
    the epoch numbers it was asked for; snapshots of the GAN where epochs `snapshot_at` start."""

    def __init__(self, root: Path, snapshot_at: int | None = None) -> None:
        self.root = root
        self.seen: dict[str, tuple[int, int, int]] = {}
        self.periods: list[dict] = []
        self.epochs_started = 0
        self.epoch_args: list[Any] = []
        self.rng_starts: list[str] = []  # a digest of torch's RNG state where each epoch starts
        self.snapshot_at = snapshot_at
        self.snapshots: dict[int, dict] = {}  # call number of gan.batches.epoch: the state its first batch met
        self.pass_steps: list[int] = []  # optimizer steps credited to each call of gan.batches.epoch
        self.pass_whole: list[bool] = []  # whether each call handed out all of its epoch's batches
        self.live: list[int] = []  # the calls whose batches are still being handed out, innermost last
        self.pending: dict | None = None  # the period a batch's end saw, while no training step has followed it

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

    def scan(self, when: str) -> dict | None:
        """Close the current period: record it if files changed since the last scan, and return it."""
        if when == "after" and self.pending is not None:  # no step of its epoch followed: written after the epoch's batches
            self.pending.update(when="after", inside=True)
        self.pending = None
        current = self.files()
        changed = [rel for rel, sig in current.items() if self.seen.get(rel) != sig]
        self.seen.update({rel: current[rel] for rel in changed})
        inputs, outputs = list(_recording or []), list(_outputs or [])
        for kept in (_recording, _outputs):
            if kept is not None:
                kept.clear()
        if not changed:
            return None
        period = {"when": when, "epoch": self.epochs_started, "files": changed, "inputs": inputs, "outputs": outputs, "inside": when == "during"}
        self.periods.append(period)
        return period

    def batch_done(self) -> None:
        """Scan after a batch: a write seen here is "during" its epoch only if a training step follows it."""
        self.pending = self.scan("during")

    def before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        """Optimizer step pre-hook: what was written before this step was written during the epoch."""
        if self.pass_steps:  # the innermost call still handing out batches; none: the latest (its batches were listed first)
            self.pass_steps[(self.live[-1] if self.live else len(self.pass_steps)) - 1] += 1
        self.scan("during")

    def epochs(self) -> dict:
        """{"epochs_started", "steps", "cut_short", "rng_starts", "epoch_args", "snapshot"} of the calls of
        gan.batches.epoch that trained (see the module; "cut_short": how many of them stopped handing out batches
        before the last), each period's "epoch" counted in them. Every call counts where none trained."""
        trained = [steps > 0 for steps in self.pass_steps]
        if not any(trained):
            trained = [True] * len(self.pass_steps)
        done = [sum(trained[:k]) for k in range(len(trained) + 1)]  # epochs trained by the end of call k
        for period in self.periods:
            period["epoch"] = done[min(period["epoch"], len(trained))]
        calls = [k + 1 for k, t in enumerate(trained) if t]
        at = calls[self.snapshot_at - 1] if self.snapshot_at is not None and 0 < self.snapshot_at <= len(calls) else None
        return {
            "epochs_started": len(calls),
            "steps": sum(self.pass_steps),
            "cut_short": sum(1 for k in calls if not self.pass_whole[k - 1]),
            "rng_starts": [r for r, t in zip(self.rng_starts, trained) if t],
            "epoch_args": [a for a, t in zip(self.epoch_args, trained) if t],
            "snapshot": self.snapshots.get(at),
        }


class _WatchedBatches:
    """`gan.batches` whose `epoch(e)` scans before the epoch and after each batch, and yields at
    most `max_batches` batches."""

    def __init__(self, batches: Any, watch: _Watch, max_batches: int, gan: Any) -> None:
        self._batches, self._watch, self._max, self._gan = batches, watch, max_batches, gan
        self._built = {name: getattr(gan, name, None) for name in ("opt_g", "opt_d")}  # the optimizers make_gan built

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._batches, name)
        if (name in ("data", "labels") and isinstance(value, torch.Tensor) and self._max is not None
                and len(self._batches) > self._max):
            return value[: self._max * self._batches.batch_size]  # as many as it hands out: n_batches = len(data) // batch_size
        return value

    def __len__(self) -> int:
        return len(self._batches) if self._max is None else min(len(self._batches), self._max)

    def epoch(self, epoch: int):
        watch = self._watch
        watch.scan("after")
        watch.epochs_started += 1  # calls so far; `_Watch.epochs` keeps those that trained
        watch.pass_steps.append(0)
        call = watch.epochs_started
        watch.rng_starts.append(_digest(torch.get_rng_state()))
        watch.epoch_args.append(epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None)
        watch.pass_whole.append(False)
        trained_before = sum(steps > 0 for steps in watch.pass_steps[:-1])
        whole = len(self)
        watch.live.append(call)
        try:
            for i, x in enumerate(self._batches.epoch(epoch)):
                if self._max is not None and i == self._max:
                    break
                if i == 0 and watch.snapshot_at in (call, trained_before + 1) and call not in watch.snapshots:
                    for idle in [c for c in watch.snapshots if c != watch.snapshot_at and not watch.pass_steps[c - 1]]:
                        del watch.snapshots[idle]  # a call that did not train is no epoch: its state is not the one asked for
                    watch.snapshots[call] = _snapshot(self._gan, self._built)  # what the epoch's first step starts from
                watch.pass_whole[call - 1] = i + 1 >= whole
                yield x
                watch.batch_done()
            watch.pass_whole[call - 1] = True
        finally:  # used up, or closed (a break, a peek at its first batch): steps from now on are another call's
            watch.live.remove(call)


def _digest(rng_state: torch.Tensor) -> str:
    """A short digest of an RNG state: equal digests, the same random numbers to come."""
    return hashlib.sha256(rng_state.numpy().tobytes()).hexdigest()[:16]


def _shapes(module: Any) -> dict[str, list[int]] | None:
    """{state_dict key: shape} of a module, None for anything else."""
    if not isinstance(module, torch.nn.Module):
        return None
    return {name: list(value.shape) for name, value in module.state_dict().items()}


def _params(module: Any) -> list[list[int]] | None:
    """The shapes of a module's parameters, in the order an optimizer indexes them; None for anything else."""
    if not isinstance(module, torch.nn.Module):
        return None
    return [list(p.shape) for p in module.parameters()]


def _weights(module: Any) -> dict[str, torch.Tensor] | None:
    if not isinstance(module, torch.nn.Module):
        return None
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _optimizer_state(opt: Any) -> dict | None:
    """{param index: {name: tensor}} of an optimizer's state (Adam: step, exp_avg, exp_avg_sq), copied."""
    if not isinstance(opt, torch.optim.Optimizer):
        return None
    state = opt.state_dict()["state"]
    return {i: {k: v.detach().to("cpu", copy=True) for k, v in s.items() if isinstance(v, torch.Tensor)} for i, s in state.items()}


def _snapshot(gan: Any, built: dict[str, Any]) -> dict:
    """What the next training step starts from: weights, optimizer states, torch's RNG state; and
    which of the optimizers make_gan built (`built`) were replaced."""
    held = {id(param) for name in ("opt_g", "opt_d") for group in getattr(getattr(gan, name, None), "param_groups", None) or []
            if isinstance(group, dict) for param in group.get("params", [])}
    return {
        "replaced": [name for name, opt in built.items() if getattr(gan, name, None) is not opt],
        "orphans": [net for net in ("G", "D") if isinstance(getattr(gan, net, None), torch.nn.Module)
                    and not any(id(param) in held for param in getattr(gan, net).parameters())],
        "G": _weights(getattr(gan, "G", None)),
        "D": _weights(getattr(gan, "D", None)),
        "opt_g": _optimizer_state(getattr(gan, "opt_g", None)),
        "opt_d": _optimizer_state(getattr(gan, "opt_d", None)),
        "rng": torch.get_rng_state(),
    }


def _watched(namespace: dict, call: Callable[[], Any], root: Path, max_batches: int | None, snapshot_at: int | None = None) -> dict:
    """Run `call()` with the notebook's `make_gan` watched, writes looked for under `root` (files
    already there are not writes). Returns the record (see `watched_train`), plus "epoch_args" (the
    argument of each `gan.batches.epoch` call), "snapshot" (see `_snapshot`, where epoch
    `snapshot_at` started) and "final" (G's and D's weights at the end) for `resumed_train`."""
    global _recording, _outputs
    watch = _Watch(root, snapshot_at)
    watch.seen = watch.files()
    make_gan = namespace["make_gan"]
    built: list[dict] = []
    gans: list[Any] = []
    hooks = []

    # The notebook's TRAIN_DATA shows as many images as an epoch hands out, as gan.batches.data does: a save on an
    # epoch's last batch counted as len(TRAIN_DATA) // BATCH_SIZE then fires (make_gan still builds its batches from
    # the whole of it, so the batches handed out are the same either way)
    data, size = namespace.get("TRAIN_DATA"), namespace.get("BATCH_SIZE")
    shown = None
    if (max_batches is not None and isinstance(size, int) and not isinstance(size, bool) and size > 0
            and callable(getattr(data, "subset", None)) and isinstance(getattr(data, "data", None), torch.Tensor)
            and len(data.data) > max_batches * size):
        shown = data.subset(max_batches * size)

    def watched_make_gan(*args: Any, **kwargs: Any) -> Any:
        if shown is not None:
            namespace["TRAIN_DATA"] = data
        try:
            gan = make_gan(*args, **kwargs)
        finally:
            if shown is not None:
                namespace["TRAIN_DATA"] = shown
        gan.batches = _WatchedBatches(gan.batches, watch, max_batches, gan)
        if isinstance(gan.G, torch.nn.Module) and (type(gan.G), _signature(gan.G)) not in _generators:
            _generators.append((type(gan.G), _signature(gan.G)))
        if not built:
            built.append({"G": _shapes(gan.G), "D": _shapes(getattr(gan, "D", None))})
            built.append({"G": _params(gan.G), "D": _params(getattr(gan, "D", None))})
        gans.append(gan)
        return gan

    namespace["make_gan"] = watched_make_gan
    if shown is not None:
        namespace["TRAIN_DATA"] = shown
    _recording, _outputs = [], []
    _generators.clear()
    hooks.append(register_optimizer_step_pre_hook(watch.before_step))  # every optimizer's steps, for this run only
    hooks.append(torch.nn.modules.module.register_module_forward_pre_hook(_record))  # G's calls, whichever copy of G
    hooks.append(torch.nn.modules.module.register_module_forward_hook(_record_output))
    try:
        call()
        watch.scan("after")
    finally:
        namespace["make_gan"] = make_gan
        if shown is not None:
            namespace["TRAIN_DATA"] = data
        _recording = _outputs = None
        _generators.clear()
        for hook in hooks:
            hook.remove()
    last = gans[-1] if gans else None
    return {
        **watch.epochs(),
        "periods": watch.periods,
        "shapes": built[0] if built else None,
        "params": built[1] if built else None,
        "final": {"G": _weights(getattr(last, "G", None)), "D": _weights(getattr(last, "D", None))},
    }


def watched_train(namespace: dict, out_dir: str, n_epochs: int, seed: int = 0, max_batches: int | None = None) -> dict:
    """Call namespace["train"](n_epochs, out_dir, seed=seed) with `make_gan` watched (see the module).

    out_dir: the run folder, removed first if it exists and not created (train makes it).
    Returns {"epochs_started": int, "rng_starts": [a digest (str) of torch's RNG state where each
    epoch started, in order: equal digests, the same random numbers], "periods": [{"when":
    "after"|"during", "epoch": int, "inside": written inside the batch loop (bool), "files": [path relative to out_dir], "inputs": [G's input
    tensors in that period], "outputs": [G's output tensors in that period, float32]}], "shapes": {"G": {key:
    shape}, "D": ...} of the first GAN built, or None if make_gan was never called, "params": {"G":
    [shape of each parameter], "D": ...} of that GAN, or None, "steps": the optimizer steps taken after its first
    call of gan.batches.epoch, "cut_short": the epochs that stopped before their last batch, "epoch_args": the
    argument each epoch passed gan.batches.epoch (None where it was no int)}.
    """
    root = _fresh(out_dir)
    train = namespace["train"]
    record = _watched(namespace, lambda: train(n_epochs, str(root), seed=seed), root, max_batches)
    _zip_legacy_checkpoints(root)
    return {k: record[k] for k in ("epochs_started", "steps", "cut_short", "epoch_args", "rng_starts", "periods", "shapes", "params")}


LEGACY_MAGIC = torch.serialization.MAGIC_NUMBER.to_bytes(10, "little")  # opens torch.save's pre-1.6 format


def _zip_legacy_checkpoints(root: Path) -> None:
    """Rewrite in torch.save's zip format every checkpoint file under `root` that torch.save wrote in its
    legacy format (_use_new_zipfile_serialization=False) and torch.load(weights_only=True) reads: the
    grader reads only the zip format (its records can be sized before anything is loaded), and a run
    written with the other format is no less right. Runs next to the student's code, which wrote these
    files and could have written any bytes there; links and special files are left alone, and a file
    it cannot read stays as it is (the checks say what is wrong with it)."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in names:
            path = Path(folder) / name
            try:
                if not name.lower().endswith(CHECKPOINT_SUFFIXES) or not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                with open(path, "rb") as f:
                    if LEGACY_MAGIC not in f.read(32):
                        continue
                obj = torch.load(path, map_location="cpu", weights_only=True)
                torch.save(obj, path)
            except Exception:  # noqa: BLE001 - left as it is: the checks read it and name its fault
                continue


def _fresh(folder: str) -> Path:
    root = Path(folder)
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    return root


def _max_difference(a: dict | None, b: dict | None) -> float | None:
    """The largest |a - b| over the tensors of two {name: tensor} maps; None when their names or shapes differ."""
    if a is None or b is None or a.keys() != b.keys():
        return None
    worst = 0.0
    for key, x in a.items():
        y = b[key]
        if x.shape != y.shape:
            return None
        if x.numel():
            worst = max(worst, float((x.double() - y.double()).abs().max()))
    return worst


def _optimizer_difference(got: dict | None, want: dict | None) -> float | str | None:
    """How the optimizer state the resumed run starts from differs from the uninterrupted run's:
    "empty" (no state: a fresh optimizer), "different" (other parameters or entries), the largest
    |difference| of its tensors, or None when either GAN has no optimizer there."""
    if got is None or want is None:
        return None
    if want and not got:
        return "empty"
    if got.keys() != want.keys():
        return "different"
    worst = 0.0
    for i, entries in want.items():
        difference = _max_difference(got[i], entries)
        if difference is None:
            return "different"
        worst = max(worst, difference)
    return worst


def _same_inputs(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    """Whether two saves gave G the same noise: every tensor of each is among the other's, however
    often (a final save after the loop draws the last grid twice in a run that ends on a 10th epoch)."""

    def among(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> bool:
        return all(any(x.shape == y.shape and x.dtype == y.dtype and bool(torch.equal(x, y)) for y in ys) for x in xs)

    return among(a, b) and among(b, a)


def _save_at(record: dict, k: int) -> list[torch.Tensor] | None:
    """G's inputs in the period after epoch k if it saw writes (the save of epoch k), else None."""
    saves = [p for p in record["periods"] if p["when"] == "after" and p["epoch"] == k]
    return saves[-1]["inputs"] if saves else None


def _loaded(folder: Path, files: list[str]) -> Iterator[Any]:
    """What torch.load(weights_only=True) reads from each checkpoint file `files` of `folder` (a file it
    cannot read holds nothing here: the checks read the files themselves)."""
    for name in files:
        try:
            yield torch.load(folder / name, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - see above
            continue


def _nested(obj: Any, depth: int = 0, stop: Callable[[Any], bool] = lambda obj: False) -> Iterator[Any]:
    """`obj` and the values of the dicts, lists and tuples inside it, four levels deep; not inside an
    object for which `stop` is true."""
    yield obj
    if depth < 4 and not stop(obj):
        values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()
        for value in values:
            yield from _nested(value, depth + 1, stop)


def _held(folder: Path, files: list[str]) -> list[torch.Tensor]:
    """The tensors inside the checkpoint files `files` of `folder` that torch.load(weights_only=True) reads."""
    return [value for obj in _loaded(folder, files) for value in _nested(obj) if isinstance(value, torch.Tensor)]


def _is_optimizer_state(obj: Any) -> bool:
    return isinstance(obj, dict) and "state" in obj and "param_groups" in obj


def _optimizer_states(folder: Path, files: list[str]) -> int:
    """How many optimizer state_dicts (dicts with "state" and "param_groups") the checkpoint files `files` of
    `folder` hold, in those torch.load(weights_only=True) reads."""
    return sum(_is_optimizer_state(value) for obj in _loaded(folder, files) for value in _nested(obj, stop=_is_optimizer_state))


def _holds_weights(path: Path, shapes: dict | None) -> bool:
    """Whether the file at `path` loads with torch.load(weights_only=True) and holds an optimizer's
    state or tensors of every shape of G's or D's state dict (`shapes`: {"G": {key: shape}, "D": ...}),
    however they are named: a checkpoint, not the fixed noise or the losses saved beside one."""
    tensors: list[list[int]] = []

    def walk(obj: Any, depth: int) -> bool:
        if isinstance(obj, torch.Tensor):
            tensors.append(list(obj.shape))
        elif isinstance(obj, dict) and depth < 4:
            if "state" in obj and "param_groups" in obj:
                return True
            return any([walk(v, depth + 1) for v in obj.values()])
        elif isinstance(obj, (list, tuple)) and depth < 4:
            return any([walk(v, depth + 1) for v in obj])
        return False

    try:
        if walk(torch.load(path, map_location="cpu", weights_only=True), 0):
            return True
    except Exception:  # noqa: BLE001 - a file it cannot read is judged by the checks, which read it themselves
        return False
    nets = [net for net in (shapes or {}).values() if isinstance(net, dict) and net]
    return any(all(shape in tensors for shape in net.values()) for net in nets)


def _holds(held: list[torch.Tensor], wanted: list[torch.Tensor] | torch.Tensor | None) -> bool | None:
    """Whether one of the tensors `held` equals `wanted` (one of them, for a list); None when nothing is wanted."""
    wanted = [wanted] if isinstance(wanted, torch.Tensor) else wanted
    if not wanted:
        return None
    return any(x.shape == y.shape and x.dtype == y.dtype and bool(torch.equal(x, y)) for x in held for y in wanted)


def _last_save(record: dict) -> list[torch.Tensor] | None:
    """G's inputs in the last period after an epoch that saw writes (the last save), None if none."""
    saves = [p for p in record["periods"] if p["when"] == "after" and p["epoch"] > 0]
    return saves[-1]["inputs"] if saves else None


def _run_files(folder: Path) -> list[str]:
    """The files (links included, none followed) under `folder`, as sorted paths relative to it."""
    found = []
    for where, _dirs, names in os.walk(folder):
        found += [(Path(where) / name).relative_to(folder).as_posix() for name in names]
    return sorted(found)


def _given_elsewhere(first_dir: Path, checkpoint: str, shapes: dict | None, given: Path, held: Path) -> tuple[Path, list[str]]:
    """The path resume is given, and the files moved away meanwhile: the run's folder is copied whole to `given` (so
    the checkpoint keeps its place among the files saved beside it, its folders' names included), and every checkpoint
    in the run's folder (the one given, a last.pt or latest copy of it, any file that holds G's or D's weights or an
    optimizer's state) is moved into `held` until resume returns. A resume that loads a checkpoint it finds in out_dir
    instead of the one it is given finds none there; the fixed noise or losses saved beside them stay."""
    shutil.copytree(first_dir, given, symlinks=True)
    moved = [checkpoint] + [f for f in _run_files(first_dir) if f != checkpoint and f.lower().endswith(CHECKPOINT_SUFFIXES)
                            and _holds_weights(first_dir / f, shapes)]
    for name in moved:
        (held / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(first_dir / name, held / name)
    return given / checkpoint, moved


def _put_back(first_dir: Path, moved: list[str], given: Path, held: Path) -> None:
    """Undo `_given_elsewhere`: each moved file back in its place (unless resume wrote a file of that name)."""
    for name in moved:
        if os.path.lexists(held / name) and not os.path.lexists(first_dir / name):
            (first_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(held / name, first_dir / name)
    shutil.rmtree(held, ignore_errors=True)
    shutil.rmtree(given, ignore_errors=True)


def resumed_train(namespace: dict, out_dir: str, n_first: int, n_total: int, seed: int = 0, max_batches: int | None = None) -> dict:
    """Interrupt a run after `n_first` epochs, resume it to `n_total`, and compare it with a run of
    `n_total` epochs that was never interrupted (all with `seed`, watched as in `watched_train`).

    1. train(n_first, out_dir/interrupted): the checkpoint is a file with a checkpoint suffix written
       at its last save after a complete epoch k (by the scans; k = 0 is before any training): one
       that holds weights or an optimizer's state (not the fixed noise saved beside it) if there is
       one, of those one whose name holds the number k if there is one.
    2. train(n_total, out_dir/uninterrupted), its state snapshot where epoch k + 1 starts.
    3. resume(checkpoint, n_total, out_dir/interrupted, seed=seed), its snapshot where its first epoch starts. The
       checkpoint it is given (a Path, as the notebook's try_resume cell gives it) is in a copy of the run's folder,
       out_dir/given, and the run's own checkpoints are moved out of out_dir/interrupted meanwhile (`_given_elsewhere`):
       resume must load the file it is given.

    Returns {"checkpoint": path relative to out_dir/interrupted or None, "after": k or None,
    "uninterrupted": [argument of each gan.batches.epoch call], "uninterrupted_rng": [digest of torch's
    RNG state where each of its epochs started], "uninterrupted_saves": [k of each epoch after which it
    wrote files], "train_noise": G received the same noise at the saves after epoch k of both train runs
    (None: one saved nothing there), "checkpoint_holds": {"rng": the checkpoint's files hold the RNG state
    the uninterrupted run's epoch k + 1 starts from, "noise": they hold a tensor G received at that run's
    last save, "optimizers": how many optimizer state_dicts they hold, "an_rng": they hold some CPU RNG
    state (a uint8 tensor of its size), whichever} or None, "resumed": [...] (None: not run),
    "resumed_built": whether resume built a GAN with make_gan, "start": {"G", "D": largest |weight
    difference| (None: not comparable), "opt_g", "opt_d": see `_optimizer_difference`, "rng": the RNG
    states are equal, "rng_of_epoch": the epoch (1-based) of the uninterrupted run that starts from
    the resumed run's RNG state, else False, "replaced": ["opt_g", "opt_d" if resume replaced the
    optimizer make_gan built], "orphans": [the networks, "G" and "D", of none of whose parameters gan.opt_g and gan.opt_d
    hold any], "stuck": [the networks whose weights resume left as they were when its first epoch started]}
    or None when either snapshot is missing, "end": {"G", "D": largest |weight
    difference| at the end}, "again": `_resumed_when_done`, "resumed_saved": the resumed run wrote files after an epoch,
    "beside_checkpoint": [the files resume wrote in the given checkpoint's folder instead of out_dir, at most MAX_BESIDE], "resumed_drew": G was
    called at its last save (None: it saved nothing), "noise": G
    received the same noise at both runs' last saves (None: a run saved nothing after an epoch)}.
    """
    root = _fresh(out_dir)
    root.mkdir()  # the runs' parent: a train that makes its out_dir one level deep (os.mkdir) finds it, as anywhere
    train = namespace["train"]
    first_dir, full_dir = root / "interrupted", root / "uninterrupted"
    interrupted = _watched(namespace, lambda: train(n_first, str(first_dir), seed=seed), first_dir, max_batches)
    saves = [(p["epoch"], [f for f in p["files"] if f.lower().endswith(CHECKPOINT_SUFFIXES)]) for p in interrupted["periods"] if p["when"] == "after"]
    saves = [(k, files) for k, files in saves if files]
    reply: dict[str, Any] = {"checkpoint": None, "after": None, "uninterrupted": None, "uninterrupted_rng": None,
                             "uninterrupted_saves": None, "train_noise": None, "checkpoint_holds": None, "resumed": None,
                             "resumed_built": False,
                             "start": None, "end": None, "resumed_saved": False, "resumed_drew": None, "noise": None}
    if not saves:
        return reply
    k, files = saves[-1]
    numbered = [f for f in files if k in {int(n) for n in re.findall(r"\d+", Path(f).name)}]
    # a file that holds weights (not the fixed noise or the losses saved beside it), epoch_010.pt rather than a last.pt
    checkpoint = sorted(files, key=lambda f: (not _holds_weights(first_dir / f, interrupted["shapes"]), f not in numbered))[0]
    reply["checkpoint"], reply["after"] = checkpoint, k
    held = _held(first_dir, files)  # read now: resume may write the same file again
    optimizers_held = _optimizer_states(first_dir, files)
    full = _watched(namespace, lambda: train(n_total, str(full_dir), seed=seed), full_dir, max_batches, snapshot_at=k + 1)
    reply["uninterrupted"] = full["epoch_args"]
    reply["uninterrupted_rng"] = full["rng_starts"]
    reply["uninterrupted_saves"] = sorted({p["epoch"] for p in full["periods"] if p["when"] == "after" and p["epoch"] > 0})
    first_save, full_save = _save_at(interrupted, k), _save_at(full, k)
    reply["train_noise"] = None if not first_save or not full_save else _same_inputs(first_save, full_save)
    resume = namespace["resume"]
    given, moved = _given_elsewhere(first_dir, checkpoint, interrupted["shapes"], root / "given", root / "held")
    there = set(_run_files(root / "given"))
    try:
        # the checkpoint as a Path, as the notebook's try_resume cell passes it (`newest`); out_dir as a str, as that cell does
        resumed = _watched(namespace, lambda: resume(given, n_total, str(first_dir), seed=seed), first_dir, max_batches, snapshot_at=1)
        reply["beside_checkpoint"] = [f for f in _run_files(root / "given") if f not in there][:MAX_BESIDE]
    finally:
        _put_back(first_dir, moved, root / "given", root / "held")
    reply["resumed"], reply["resumed_built"] = resumed["epoch_args"], resumed["shapes"] is not None
    got, want = resumed["snapshot"], full["snapshot"]
    if got is not None and want is not None:
        reply["start"] = {
            "G": _max_difference(got["G"], want["G"]),
            "D": _max_difference(got["D"], want["D"]),
            "opt_g": _optimizer_difference(got["opt_g"], want["opt_g"]),
            "opt_d": _optimizer_difference(got["opt_d"], want["opt_d"]),
            "rng": bool(torch.equal(got["rng"], want["rng"])),
            "rng_of_epoch": _digest(got["rng"]) in full["rng_starts"] and full["rng_starts"].index(_digest(got["rng"])) + 1,
            "replaced": got["replaced"],
            "orphans": got["orphans"],
            "stuck": [net for net in ("G", "D") if _max_difference(got[net], resumed["final"][net]) == 0.0],
        }
        reply["checkpoint_holds"] = {"rng": _holds(held, want["rng"]), "noise": _holds(held, _last_save(full)),
                                     "optimizers": optimizers_held,
                                     "an_rng": any(x.dtype == want["rng"].dtype and x.shape == want["rng"].shape for x in held)}
    reply["end"] = {net: _max_difference(resumed["final"][net], full["final"][net]) for net in ("G", "D")}
    a, b = _last_save(resumed), _last_save(full)
    reply["resumed_saved"] = a is not None
    reply["resumed_drew"] = None if a is None else bool(a)
    reply["noise"] = None if a is None or b is None else _same_inputs(a, b)
    reply["again"] = _resumed_when_done(namespace, full, full_dir, n_total, root / "again", seed, max_batches)
    _zip_legacy_checkpoints(root)
    return reply


def _resumed_when_done(namespace: dict, full: dict, full_dir: Path, n_total: int, out_dir: Path, seed: int,
                       max_batches: int | None) -> dict | None:
    """resume(the uninterrupted run's checkpoint of epoch n_total, n_total, out_dir): a finished run, which has no epoch
    left to train. Returns {"after": n_total, "epochs": [argument of each gan.batches.epoch call that trained; none
    when no optimizer step was taken]}, or None when that run's last checkpoint is not of its last epoch, or resume
    raised (the main resume is judged for that). A resume that starts at a fixed epoch (11), or counts the epochs done
    from the files in out_dir, trains epochs here."""
    saves = [(p["epoch"], [f for f in p["files"] if f.lower().endswith(CHECKPOINT_SUFFIXES)]) for p in full["periods"] if p["when"] == "after"]
    saves = [(k, files) for k, files in saves if files]
    if not saves or saves[-1][0] != n_total:
        return None
    files = saves[-1][1]
    numbered = [f for f in files if n_total in {int(n) for n in re.findall(r"\d+", Path(f).name)}]
    checkpoint = sorted(files, key=lambda f: (not _holds_weights(full_dir / f, full["shapes"]), f not in numbered))[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        again = _watched(namespace, lambda: namespace["resume"](full_dir / checkpoint, n_total, str(out_dir), seed=seed), out_dir, max_batches)
    except Exception:  # noqa: BLE001 - measured, not judged: a resume that cannot finish a finished run is judged by the main one
        return None
    # a pass over the data that trains nothing (a resume that skips the epochs done, or counts an epoch's batches) is no epoch
    return {"after": n_total, "epochs": again["epoch_args"] if again["steps"] else []}


def latest_found(namespace: dict, folder: str) -> dict:
    """What namespace["latest_checkpoint"](folder) returns, as plain data (what it raises goes on to the check):
    {"kind": "none"}; {"kind": "path", "path": the file's path relative to `folder` (posix), or "" when it names no
    place inside `folder`, "given": the path as returned, cut at 200 characters}; or {"kind": "other", "type": its
    class name, "value": its repr, cut at 100 characters} (an epoch number, a dict...)."""
    found = namespace["latest_checkpoint"](folder)
    if found is None:
        return {"kind": "none"}
    if isinstance(found, (str, os.PathLike)) and isinstance(os.fspath(found), str):
        given = os.fspath(found)
        inside = os.path.relpath(os.path.abspath(given), os.path.abspath(folder)) if given else ".."
        inside = "" if inside == "." or inside.split(os.sep)[0] == ".." else Path(inside).as_posix()
        return {"kind": "path", "path": inside, "given": given[:200]}
    return {"kind": "other", "type": type(found).__name__, "value": repr(found)[:100]}


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
