"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a3_save_every_10_epochs.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import shutil
import tempfile
from pathlib import Path
import numpy as np
import torch
from PIL import Image
from reference.grading import Partial, check
ASSIGNMENT = "a3_save_every_10_epochs"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".tar", ".pkl")
NUM_SAMPLES, SIDE = 64, 28
MAX_BATCHES = 2
HINT = "in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0"


def fmt(values) -> str:
    """"10, 20, 30", or "none" for an empty list."""
    return ", ".join(str(v) for v in values) or "none"


def epochs(values) -> str:
    """"epoch 9" or "epochs 9, 19"."""
    return f"epoch{'s' if len(values) > 1 else ''} {fmt(values)}"


class Watch:
    """Remembers every write (new file, or a changed size, inode or mtime) under `root`, labelled
    with when it was seen: ("after", k) once k epochs were complete, ("during", k) in epoch k."""

    def __init__(self, root: Path) -> None:
        self.root, self.seen, self.writes, self.epochs_started = root, {}, [], 0

    def scan(self, label: tuple[str, int]) -> None:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                st = path.stat()
                signature = (st.st_mtime_ns, st.st_size, st.st_ino)
                if self.seen.get(path) != signature:
                    self.seen[path] = signature
                    self.writes.append((path, label))


class WatchedBatches:
    """`gan.batches`, scanning the output folder at each epoch's start, after each batch and at its
    end; an epoch yields at most `MAX_BATCHES` batches."""

    def __init__(self, batches, watch: Watch) -> None:
        self._batches, self._watch = batches, watch

    def __getattr__(self, name):
        return getattr(self._batches, name)

    def __len__(self) -> int:
        return len(self._batches)

    def epoch(self, epoch: int):
        watch = self._watch
        watch.scan(("after", watch.epochs_started))
        watch.epochs_started += 1
        for i, x in enumerate(self._batches.epoch(epoch)):
            if i == MAX_BATCHES:
                break
            yield x
            watch.scan(("during", watch.epochs_started))


class Run:
    """One call train(n_epochs, out_dir, seed=0), watched, its files read and then removed.

    writes: [(path relative to out_dir, ("after"|"during", k))]. grids: {path: (problem or None,
    pixels as last written)} for images. checkpoints: {path: problem or None}.
    """

    def __init__(self, submission, n_epochs: int, frozen: bool = False) -> None:
        train = submission.get("train")
        make_gan = submission.get("make_gan")
        self.n_epochs = n_epochs
        out_dir = Path(tempfile.mkdtemp(prefix=f"a3-run-{n_epochs}-"))
        watch = Watch(out_dir)

        def watched_make_gan(*args, **kwargs):
            gan = make_gan(*args, **kwargs)
            gan.batches = WatchedBatches(gan.batches, watch)
            if frozen:
                for opt in (gan.opt_g, gan.opt_d):
                    for group in opt.param_groups:
                        group["lr"] = 0.0
            return gan

        namespace = submission.namespace
        namespace["make_gan"] = watched_make_gan
        try:
            train(n_epochs, out_dir, seed=0)
            watch.scan(("after", watch.epochs_started))
            self.epochs_started = watch.epochs_started
            self.writes = [(p.relative_to(out_dir), label) for p, label in watch.writes]
            files = list(dict.fromkeys(p for p, _ in self.writes))  # each file once, in write order
            self.grids = {p: read_grid(out_dir / p) for p in files if p.suffix.lower() in IMAGE_SUFFIXES}
            saved = [p for p in files if p.suffix.lower() in CHECKPOINT_SUFFIXES]
            gan = make_gan(0) if saved else None
            self.checkpoints = {p: checkpoint_problem(out_dir / p, gan.G, gan.D) for p in saved}
        finally:
            namespace["make_gan"] = make_gan
            shutil.rmtree(out_dir, ignore_errors=True)

    def of_kind(self, suffixes: tuple[str, ...]) -> list[tuple[Path, tuple[str, int]]]:
        return [(p, label) for p, label in self.writes if p.suffix.lower() in suffixes]

    def schedule_error(self, what: str, suffixes: tuple[str, ...]) -> str | None:
        """None when files of this kind were written exactly after epochs 10, 20, ... <= n_epochs."""
        expected = list(range(10, self.n_epochs + 1, 10))
        writes = self.of_kind(suffixes)
        if self.epochs_started == 0:
            return (
                f"train({self.n_epochs}, ...) never iterated `gan.batches.epoch(epoch)` of the GAN from "
                f"`make_gan(seed)`; train that GAN, one `gan.batches.epoch(epoch)` per epoch, as the given loop does"
            )
        during = sorted({k for _, (when, k) in writes if when == "during"})
        if during:
            when = f"after epochs {fmt(expected)}" if expected else "and never in a run shorter than 10 epochs"
            return (
                f"{what} written inside the batch loop during {epochs(during[:6])}{', ...' if len(during) > 6 else ''} "
                f"of a {self.n_epochs}-epoch run; save once after an epoch's batches, {when}"
            )
        got = sorted({k for _, (_, k) in writes})
        if got == expected:
            return None
        if not writes:
            return (
                f"no {what} written under out_dir in a {self.n_epochs}-epoch run; expected after epochs "
                f"{fmt(expected)} (file types: {', '.join(suffixes)})"
            )
        message = f"{what} saved at {epochs(got)} of a {self.n_epochs}-epoch run; expected {fmt(expected)}"
        if 0 in got:
            message += " (epoch 0 is before any training: never save there)"
        elif all(k % 10 == 1 for k in got):
            message += f" (1-based: {HINT})"
        else:
            message += " (1-based: after the 10th, 20th, 30th epoch)"
        return message


_RUNS: dict = {}


def run(submission, n_epochs: int, frozen: bool = False) -> Run:
    """train(n_epochs) on the submission, once per (train function, n_epochs, frozen)."""
    functions = (submission.get("train"), submission.get("make_gan"))
    if any(k[:2] != functions for k in _RUNS):  # another submission: forget the last one's runs
        _RUNS.clear()
    key = (*functions, n_epochs, frozen)
    if key not in _RUNS:
        _RUNS[key] = Run(submission, n_epochs, frozen)
    return _RUNS[key]


@check(points=3, visible=True)
def test_saves_at_epochs_10_20_30(submission):
    """saves sample grids after epochs 10, 20, 30 of a 30-epoch run"""
    error = run(submission, 30).schedule_error("sample grids", IMAGE_SUFFIXES)
    assert error is None, error


def read_grid(path: Path) -> tuple[str | None, np.ndarray | None]:
    """(None, pixels) if `path` is a PNG grid of 64 samples of 28x28 pixels (any padding 0-8, any
    row length), else (what is wrong, pixels or None)."""
    try:
        with Image.open(path) as image:
            kind, (width, height) = image.format, image.size
            pixels = np.asarray(image.convert("L"), dtype=np.float32)
    except Exception as err:  # noqa: BLE001 - any unreadable file
        return f"`{path.name}` is not a readable image ({type(err).__name__}); save the grid with save_image", None
    if kind != "PNG":
        return f"`{path.name}` is a {kind} file; save sample grids as PNG", pixels
    for pad in range(9):
        cols, rest_w = divmod(width - pad, SIDE + pad)
        rows, rest_h = divmod(height - pad, SIDE + pad)
        if rest_w == rest_h == 0 and cols > 0 and rows * cols >= NUM_SAMPLES > (rows - 1) * cols:
            break
    else:
        return (
            f"`{path.name}` is {width}x{height} pixels: not a grid of {NUM_SAMPLES} samples of {SIDE}x{SIDE} "
            f"(8 x 8 with 2-pixel padding is 242x242); save all {NUM_SAMPLES} images of G(fixed_noise)"
        ), pixels
    if pixels.std() == 0:
        return f"`{path.name}` is one flat colour; save G(fixed_noise) mapped from [-1, 1] to [0, 1]", pixels
    return None, pixels


@check(points=1, visible=True)
def test_sample_grids_are_png_grids_of_64(submission):
    """each sample grid is a PNG of the 64 fixed-noise samples"""
    grids = run(submission, 30).grids
    assert grids, "no sample grid (.png) written under out_dir in a 30-epoch run"
    errors = [error for error, _ in grids.values() if error]
    assert not errors, errors[0]


def _load(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - whole pickled modules need the full unpickler
        return torch.load(path, map_location="cpu", weights_only=False)


def _state_dicts(obj, depth: int = 0):
    """Every state dict (name -> tensor mapping) or module inside a loaded checkpoint."""
    if isinstance(obj, torch.nn.Module):
        yield obj.state_dict()
    elif isinstance(obj, dict):
        if obj and all(isinstance(k, str) for k in obj) and all(isinstance(v, torch.Tensor) for v in obj.values()):
            yield obj
        elif depth < 3:
            for value in obj.values():
                yield from _state_dicts(value, depth + 1)
    elif isinstance(obj, (list, tuple)) and depth < 3:
        for value in obj:
            yield from _state_dicts(value, depth + 1)


def _holds(states: list[dict], module: torch.nn.Module) -> bool:
    want = {k: v.shape for k, v in module.state_dict().items()}
    return any({k: v.shape for k, v in s.items()} == want for s in states)


def checkpoint_problem(path: Path, G: torch.nn.Module, D: torch.nn.Module) -> str | None:
    """None if the checkpoint at `path` loads and holds state dicts shaped like G's and D's."""
    try:
        states = list(_state_dicts(_load(path)))
    except Exception as err:  # noqa: BLE001 - unreadable file
        return f"`{path.name}` does not load with torch.load ({type(err).__name__})"
    missing = [name for name, net in (("G", G), ("D", D)) if not _holds(states, net)]
    return f"`{path.name}` holds no state_dict of {' or '.join(missing)}" if missing else None
