"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a3_save_every_10_epochs.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import importlib
import io
import math
import os
import pickle
import re
import time
from pathlib import Path, PurePosixPath
import numpy as np
import torch
from PIL import Image
from reference.grading import NAMESPACE, Partial, StudentError, check
from reference.grading import probes_a3
from reference.grading.proxy import NOT_ZIP, TOO_MANY_VALUES, checked_load, stored_zip_problem
from reference.grading.submission import TooLarge as TooLargeFile, make_scratch_folder, read_scratch_bytes, remove_scratch_folder
from reference.grading.submission import scratch_files, write_scratch_files
ASSIGNMENT = "a3_save_every_10_epochs"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".tar", ".pkl")
FIGURE_SUFFIXES = (".pdf", ".svg", ".eps", ".ps")
NUM_SAMPLES, SIDE = 64, 28
RUNS = ".a3-grading"  # the runs' folder, in the submission's scratch folder
MAX_FILE = 100 * 2**20  # bytes read of one file (the sandbox's file-size limit)
MAX_FILES = 64  # files read of each kind in one run
MAX_PIXELS = 4096 * 4096
MAX_GRID_BYTES = 4 * 2**20  # bytes read of an image file: a PNG grid of 64 samples of 28x28 is 10-500 KB, and PIL reads a PNG's chunks one at a time
MAX_ELEMENTS = 2**26  # elements of one tensor in a checkpoint (a 64 x 64 grid of 4096 x 4096 floats would be 2**30)
HINT = "in a 0-based loop `for epoch in range(n_epochs)` save when (epoch + 1) % 10 == 0"
LOOP = "`for epoch in range(n_epochs)` (0-based) or `for epoch in range(1, n_epochs + 1)` (1-based)"
KINDS = ("grids", "images", "checkpoints", "files")  # what a save is told by, in this order (Run.saved)
NOUNS = {"grids": "sample grids", "images": "sample grids", "checkpoints": "checkpoints", "files": "files"}
MALFORMED = "the watched run of `train` returned a record the grader cannot read; do not change the grader's objects"


def fmt(values, limit: int = 8) -> str:
    """"10, 20, 30", "1, 2, ..., 30" past `limit` values, or "none" for an empty list."""
    values = list(values)
    if len(values) > limit:
        return ", ".join(str(v) for v in values[: limit - 1]) + f", ..., {values[-1]}"
    return ", ".join(str(v) for v in values) or "none"


def epochs(values) -> str:
    """"epoch 9" or "epochs 9, 19"."""
    return f"epoch{'s' if len(values) > 1 else ''} {fmt(values)}"


def relative(text) -> str | None:
    """`text` as a normal relative posix path without "..", or None."""
    if not isinstance(text, str) or not 0 < len(text) <= 300 or "\x00" in text or "\\" in text:
        return None
    path = PurePosixPath(text)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        return None
    return path.as_posix()


def grid_layout(width: int, height: int) -> bool:
    """A grid of NUM_SAMPLES SIDE x SIDE images, any padding 0-8, any row length, fits these pixels."""
    return layout(width, height) is not None


def layout(width: int, height: int) -> tuple[int, int] | None:
    """(padding, images per row) of a grid of NUM_SAMPLES SIDE x SIDE images (padding 0-8) with these
    pixels, else None."""
    for pad in range(9):
        cols, rest_w = divmod(width - pad, SIDE + pad)
        rows, rest_h = divmod(height - pad, SIDE + pad)
        if rest_w == rest_h == 0 and cols > 0 and rows * cols >= NUM_SAMPLES > (rows - 1) * cols:
            return pad, cols
    return None


def cells(pixels: np.ndarray, pad: int, cols: int) -> np.ndarray:
    """The NUM_SAMPLES images of a grid's pixels (H, W), padding left out: (NUM_SAMPLES, SIDE, SIDE)."""
    step = SIDE + pad
    return np.stack([pixels[pad + r * step : pad + r * step + SIDE, pad + c * step : pad + c * step + SIDE]
                     for r, c in (divmod(i, cols) for i in range(NUM_SAMPLES))])


def grey_levels(image: Image.Image) -> np.ndarray:
    """The image's grey levels (H, W) in 0-255, float64: a 16-bit PNG ("I;16", "I") scaled down from 0-65535
    (PIL's convert("L") clips those at 255)."""
    if image.mode.startswith("I"):
        levels = np.asarray(image, dtype=np.float64)
        return levels / 257 if image.mode.startswith("I;16") or levels.max() > 255 else levels
    return np.asarray(image.convert("L"), dtype=np.float64)


def grid_problem(name: str, data: bytes) -> str | None:
    """None if `data` is a PNG grid of 64 samples of 28x28 pixels, else what is wrong with file `name`.
    Only a PNG whose header gives a grid's size is decoded (a JPEG of a thousand scans, or a huge
    picture, would hold the grader for minutes)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            software = str(image.info.get("Software", ""))
            if kind != "PNG":
                return f"`{name}` is a {kind} file; save sample grids as PNG"
            if width * height > MAX_PIXELS:
                return f"`{name}` is {width}x{height} pixels: not a grid of {NUM_SAMPLES} samples of {SIDE}x{SIDE}"
            pixels = grey_levels(image) if grid_layout(width, height) else None
    except Exception as err:  # noqa: BLE001 - any unreadable file
        return f"`{name}` is not a readable image ({type(err).__name__}); save the grid with torchvision's save_image"
    if pixels is None:
        if "matplotlib" in software.lower():
            return (
                f"`{name}` is a matplotlib figure ({width}x{height} pixels), not the grid itself: save the tensor "
                f"(torchvision's save_image), not a figure"
            )
        return (
            f"`{name}` is {width}x{height} pixels: not a grid of {NUM_SAMPLES} samples of {SIDE}x{SIDE} "
            f"(8 x 8 with 2-pixel padding is 242x242); save all {NUM_SAMPLES} images of G(fixed_noise)"
            + (" in one PNG grid (torchvision's save_image of the whole batch), not one file per image" if (width, height) == (SIDE, SIDE) else "")
        )
    if pixels.std() == 0:
        return f"`{name}` is one flat colour; save G(fixed_noise) mapped from [-1, 1] to [0, 1]"
    return None


LEVELS = 2.0  # mean |difference| in 0-255 levels within which a grid's pixels are G's images mapped one way
SHOWS = 0.9  # median correlation of a grid's samples with G's images at or above which they are G's images, drawn some way
UNRELATED = 0.6  # ... below which, in every arrangement tried, they are other images
FLAT = 0.99  # share of the samples' pixels at one level that makes them one flat colour
MIN_PIXELS = 20  # pixels of a sample, neither black nor white, that its correlation needs


def grid_candidates(made: list[torch.Tensor]) -> list[np.ndarray]:
    """The sets of NUM_SAMPLES images (NUM_SAMPLES, SIDE, SIDE), channels averaged, that G made while a
    grid was saved and that the grid may show: each output of NUM_SAMPLES images (the last first), else
    all its outputs together if they make NUM_SAMPLES (a grid drawn 8 at a time)."""
    made = [t for t in made if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() == 4 and t.shape[-2:] == (SIDE, SIDE)]
    whole = [t for t in reversed(made) if t.shape[0] == NUM_SAMPLES]
    if not whole and made and sum(t.shape[0] for t in made) == NUM_SAMPLES:
        whole = [torch.cat(made)]
    return [t.double().mean(dim=1).numpy() for t in whole]


def correlations(shown: np.ndarray, images: np.ndarray) -> np.ndarray:
    """For each sample (N, SIDE, SIDE) of a grid, the correlation of its pixels that are neither black nor
    white with those of G's image (N, SIDE, SIDE) of the same place: 1 (or -1) whenever the grid
    shows G's images through any increasing (decreasing) straight-line mapping, clipped or not; nan
    for a sample with fewer than MIN_PIXELS such pixels."""
    mask = (shown > 0) & (shown < 255)
    n = mask.sum(axis=(1, 2))

    def centred(v: np.ndarray) -> np.ndarray:
        mean = np.where(mask, v, 0).sum(axis=(1, 2)) / np.maximum(n, 1)
        return np.where(mask, v - mean[:, None, None], 0)

    a, b = centred(shown), centred(images)
    den = np.sqrt((a * a).sum(axis=(1, 2)) * (b * b).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n >= MIN_PIXELS) & (den > 0), (a * b).sum(axis=(1, 2)) / np.where(den > 0, den, 1), np.nan)


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else 0.0


def distinct(samples: np.ndarray) -> int:
    """How many different samples (N, SIDE, SIDE) there are, at whole grey levels."""
    return len(np.unique(np.round(samples.reshape(len(samples), -1)), axis=0))


def flat_problem(name: str, shown: np.ndarray) -> str | None:
    """What is wrong with a grid whose samples (N, SIDE, SIDE), in 0-255 levels, are one flat colour
    (FLAT of their pixels at one level, whatever the padding between them), else None."""
    levels, counts = np.unique(np.round(shown), return_counts=True)
    if counts.max() < FLAT * shown.size:
        return None
    level = int(levels[counts.argmax()])
    if level >= 255:
        return (
            f"`{name}`'s {NUM_SAMPLES} samples are white: save_image expects [0, 1] and shows every value of 1 or more as white "
            f"(were G's images scaled to 0-255 first?); save G(fixed_noise) mapped from [-1, 1] to [0, 1], (x + 1) / 2"
        )
    if level <= 0:
        return (
            f"`{name}`'s {NUM_SAMPLES} samples are black: save_image expects [0, 1] and shows every value of 0 or less as black; "
            f"save G(fixed_noise) mapped from [-1, 1] to [0, 1], (x + 1) / 2"
        )
    return f"`{name}`'s {NUM_SAMPLES} samples are one flat grey (level {level} of 255); save G(fixed_noise) mapped from [-1, 1] to [0, 1]"


def mapping_problem(name: str, data: bytes, made: list[torch.Tensor]) -> str | None:
    """What is wrong with the pixels of grid `name` (a readable grid: see `grid_problem`), given the
    images G returned while it was saved (`made`), in [-1, 1]: None when they are those images mapped
    to [0, 255] by (x + 1) / 2 (value_range=(-1, 1)), by the grid's own minimum and maximum
    (normalize=True) or each image's (scale_each=True), by another unclipped increasing line at full
    contrast (`stretched_line`: plt.imsave's gray stretch), or drawn through a colour map, or in another
    arrangement (transposed, reordered), or when the grader cannot tell which images the grid shows
    (G made no NUM_SAMPLES images at the save). Samples of one flat colour, G's images mapped another
    way (clipped, wrapped, twice, inverted, any other straight line), and other images (the real batch)
    are named."""
    with Image.open(io.BytesIO(data)) as image:
        pixels = grey_levels(image)
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    found = layout(pixels.shape[1], pixels.shape[0])
    if found is None:
        return None
    shown = cells(pixels, *found)
    if problem := flat_problem(name, shown):
        return problem
    candidates = grid_candidates(made)
    if not candidates:
        return None
    repeated = distinct(shown)
    if repeated < min(NUM_SAMPLES, max(distinct(images * 127.5) for images in candidates)):
        return (f"`{name}` shows {repeated} different samples among its {NUM_SAMPLES}, where G made {NUM_SAMPLES} different "
                f"images: samples are repeated; save all {NUM_SAMPLES} images of G(fixed_noise), one per noise vector")
    if float(cells(rgb.max(-1) - rgb.min(-1), *found).mean()) > 4:
        return None  # a colour map (plt.imsave's default, coolwarm, ...) draws the values in colours no grey level reads
    fix = 'save (x + 1) / 2 (from_model_range(x, "tanh")) or save_image(x, path, normalize=True, value_range=(-1, 1))'
    best: tuple[float, np.ndarray] | None = None
    for images in candidates:
        low, high = images.min(), images.max()
        each_low, each_high = images.min(axis=(1, 2), keepdims=True), images.max(axis=(1, 2), keepdims=True)
        mapped = {
            "mapped": (images + 1) / 2 * 255,
            "stretched": (images - low) / (high - low) * 255 if high > low else None,
            "each": (images - each_low) / np.where(each_high > each_low, each_high - each_low, 1) * 255,
            "clipped": np.clip(images, 0, 1) * 255,
            "wrapped": np.remainder(np.trunc(images * 255), 256),  # x * 255 cast to uint8 by numpy
            "twice": ((images + 1) / 2 + 1) / 2 * 255,  # (x + 1) / 2, then save_image's value_range=(-1, 1) again
        }
        gaps = {how: float(np.abs(shown - np.clip(x, 0, 255)).mean()) for how, x in mapped.items() if x is not None}
        if min(gaps.get(how, math.inf) for how in ("mapped", "stretched", "each")) <= LEVELS or stretched_line(shown, images):
            return None
        if gaps["clipped"] <= LEVELS:
            return (
                f"`{name}` shows G's images with every negative value black: G's tanh gives [-1, 1] and the grid was saved "
                f"without mapping it to [0, 1], so its negative values were clipped to black; {fix}"
            )
        if gaps["wrapped"] <= LEVELS:
            return (
                f"`{name}` shows G's images scaled by 255 without mapping them from [-1, 1] to [0, 1] first, so "
                f"astype(\"uint8\") wrapped every negative value around to a bright one; map with (x + 1) / 2 before "
                f"scaling to 0-255, or save the tensor with save_image(x, path, normalize=True, value_range=(-1, 1))"
            )
        if gaps["twice"] <= LEVELS:
            return (
                f"`{name}` shows G's images mapped from [-1, 1] to [0, 1] twice (by (x + 1) / 2, then again by save_image's "
                f"value_range=(-1, 1)), so they are washed out into [0.5, 1], their black grey; map once: {fix}"
            )
        r = _median(correlations(shown, images))
        if best is None or abs(r) > abs(best[0]):
            best = (r, images)
    r, images = best
    if r <= -SHOWS:
        return f"`{name}` shows G's images inverted, light where they are dark (1 - x, or (1 - x) / 2?); {fix}"
    if r >= SHOWS:
        keep = (shown > 0) & (shown < 255)
        slope, offset = np.polyfit(images[keep], shown[keep], 1)
        saturated = float(np.mean((shown <= 0) | (shown >= 255)))
        return (
            f"`{name}` shows G's images, but at levels of about {slope:.0f} * x + {offset:.0f} (of 0-255) for G's x"
            + (f", {saturated:.0%} of their pixels pure black or white" if saturated >= 0.05 else "")
            + f", where mapping [-1, 1] to [0, 1] gives 127.5 * x + 127.5 (x = -1 black, x = 1 white); {fix}"
        )
    transposed = max(abs(_median(correlations(shown.transpose(0, 2, 1), x))) for x in candidates)
    if transposed >= SHOWS or max(abs(r), transposed) >= UNRELATED or _reordered(shown, candidates):
        return None  # G's images in another arrangement, or too alike to tell: not this check's to judge
    return (
        f"`{name}` does not show the {NUM_SAMPLES} images G returned for fixed_noise at that save (its samples match none "
        f"of them, in any order): save the output of G(fixed_noise), not the real batch or another tensor, mapped "
        f"from [-1, 1] to [0, 1]"
    )


CONTRAST = 0.8  # an increasing straight line of G's values with at least this share of (x + 1) / 2's slope ...


def stretched_line(shown: np.ndarray, images: np.ndarray) -> bool:
    """Whether the samples show G's images through an increasing straight line a * x + b, unclipped over G's values,
    at CONTRAST or more of (x + 1) / 2's contrast: a stretch by other bounds than the images' own (plt.imsave's
    cmap="gray" stretches the whole grid, padding included, to black and white), a right drawing. A line that
    clips (x * 0.5, x + 1) or washes the images out (a sigmoid, (x + 1) / 4) is none."""
    keep = (shown > 0) & (shown < 255)
    if keep.sum() < MIN_PIXELS * 4 or float(images[keep].std()) == 0:
        return False
    slope, offset = np.polyfit(images[keep], shown[keep], 1)
    low, high = slope * float(images.min()) + offset, slope * float(images.max()) + offset
    fits = float(np.abs(shown - np.clip(slope * images + offset, 0, 255)).mean()) <= LEVELS
    return fits and slope >= CONTRAST * 127.5 and low >= -LEVELS and high <= 255 + LEVELS


def _reordered(shown: np.ndarray, candidates: list[np.ndarray]) -> bool:
    """Whether most samples of the grid are, each, one of G's images in another place."""
    for images in candidates:
        best = np.nanmax(np.stack([correlations(shown, np.roll(images, k, axis=0)) for k in range(NUM_SAMPLES)]), axis=0)
        if _median(best) >= SHOWS:
            return True
    return False


def _state_dicts(obj, depth: int = 0):
    """Every state dict (a mapping of names to tensors) inside a loaded checkpoint."""
    if isinstance(obj, dict):
        if obj and all(isinstance(k, str) for k in obj) and all(isinstance(v, torch.Tensor) for v in obj.values()):
            yield obj
        elif isinstance(obj.get("state"), dict) and isinstance(obj.get("param_groups"), list):
            return  # an optimizer's state_dict: its per-parameter entries are no network's weights
        elif depth < 3:
            for value in obj.values():
                yield from _state_dicts(value, depth + 1)
    elif isinstance(obj, (list, tuple)) and depth < 3:
        for value in obj:
            yield from _state_dicts(value, depth + 1)


def _optimizers(obj, depth: int = 0):
    """Every optimizer state_dict inside a loaded checkpoint (a dict with "state" and "param_groups"),
    as [[shape of each of its state tensors that has one] for each parameter index, in order]."""
    if isinstance(obj, dict):
        state, groups = obj.get("state"), obj.get("param_groups")
        if isinstance(state, dict) and isinstance(groups, list):
            indices = [i for g in groups if isinstance(g, dict) and isinstance(g.get("params"), list) for i in g["params"]]
            entries = [state.get(i) if isinstance(i, int) else None for i in indices]
            yield [[list(v.shape) for v in e.values() if isinstance(v, torch.Tensor) and v.dim() > 0] if isinstance(e, dict) else [] for e in entries]
        elif depth < 3:
            for value in obj.values():
                yield from _optimizers(value, depth + 1)
    elif isinstance(obj, (list, tuple)) and depth < 3:
        for value in obj:
            yield from _optimizers(value, depth + 1)


def _epochs(obj, depth: int = 0, texts: bool = False, exact: bool = False):
    """Every whole number stored under a key that names an epoch ("epoch", "last_epoch", "epochs_done");
    with `texts`, every whole number written as text there instead ("010", "10"); with `exact`, under a key
    "epoch" only."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and (key.lower() == "epoch" if exact else "epoch" in key.lower()):
                if texts:
                    if isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
                        yield int(value)
                    continue
                if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
                    value = value.item()
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if isinstance(value, int) and not isinstance(value, bool):
                    yield value
            elif depth < 3 and isinstance(value, (dict, list, tuple)):
                yield from _epochs(value, depth + 1, texts, exact)
    elif isinstance(obj, (list, tuple)) and depth < 3:
        for value in obj:
            yield from _epochs(value, depth + 1, texts, exact)


WRAPPED = {  # classes the probes put in the student's GAN, as the student knows the object they stand for
    "reference.grading.probes_a3._WatchedBatches": "gan.batches (the data order, a `reference.data.batches.Batches`)",
}


def pickled_fix(qualified: str) -> str:
    """What to save instead of the pickled object of class `qualified` ("module.Class"): a network's or an
    optimizer's state_dict, else nothing but state_dicts, tensors and numbers. Only the course's and
    torch's own classes are looked up (importing them runs no student code)."""
    module, _, name = qualified.rpartition(".")
    if name == "getattr" and module in ("", "builtins"):  # how pickle writes a bound method: getattr(its object, its name)
        return ("a method was saved in place of what it returns (such as `gan.opt_d.state_dict` without its parentheses): "
                "call it, gan.opt_d.state_dict(), and save its result")
    cls = None
    if module.split(".")[0] in ("torch", "reference"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except Exception:  # noqa: BLE001 - a name that is no importable module
            cls = None
    if callable(cls) and not isinstance(cls, type):  # torch.get_rng_state without its call
        return f"a function was saved in place of what it returns: call it, {module}.{name}(), and save its result"
    if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer):
        return (
            "save the optimizers' states, gan.opt_g.state_dict() and gan.opt_d.state_dict(), not the optimizers, and load "
            "them with load_state_dict into the optimizers make_gan built"
        )
    if isinstance(cls, type) and issubclass(cls, torch.nn.Module) or cls is None and module in ("__main__", ""):
        return 'save state_dicts, torch.save({"G": G.state_dict(), "D": D.state_dict()}, path)'  # a network of the notebook's
    if module.split(".")[0] == "numpy":
        return f"store it as a tensor (torch.from_numpy) or a number instead of a numpy `{name}`, or leave it out"
    if cls is None and module.split(".")[0] not in ("torch", "reference"):  # pathlib.PosixPath, datetime, a function...
        kept = ", or store it as a string or a number (str(path))" if name[:1].isupper() else ""
        return (f"leave the `{name}` out of the checkpoint{kept}: a checkpoint holds state_dicts, tensors and numbers "
                f"(make_gan(seed) rebuilds the rest)")
    return "keep only state_dicts, tensors and numbers in a checkpoint (make_gan(seed) rebuilds the rest)"


class TooLarge(ValueError):
    """A checkpoint holding more than the grader reads."""


def dense(obj, budget: list[int] | None = None, depth: int = 0, nbytes: list[int] | None = None):
    """`obj` with every tensor in it made a plain, dense tensor (a saved expanded view loads as one
    stored element repeated); TooLarge for a tensor claiming more than MAX_ELEMENTS elements, for more
    values than a checkpoint holds, which could make the checks spin, or for tensors of more bytes in
    all than `nbytes` (their file's size, with room for shared storage): a file of 20 KB can hold
    views of one stored number that claim gigabytes once made dense."""
    budget = budget if budget is not None else [100_000]
    nbytes = nbytes if nbytes is not None else [MAX_FILE]
    budget[0] -= 1
    if budget[0] < 0 or depth > 8:
        raise TooLarge("more values than a checkpoint holds")
    if isinstance(obj, torch.Tensor):
        # a plain tensor of the same values: torch.load restores attributes saved with a tensor, and
        # one named like a method (t.numel = torch.Size) would answer for it in the checks below
        obj = torch.Tensor.detach(obj)
        if obj.numel() > MAX_ELEMENTS:
            raise TooLarge(f"a tensor of {obj.numel():,} elements")
        nbytes[0] -= obj.numel() * obj.element_size()
        if nbytes[0] < 0:
            raise TooLarge("views that repeat a stored element into more bytes than its file holds (expand(): save .clone() of them)")
        return obj if obj.is_contiguous() else obj.contiguous()
    if isinstance(obj, dict):
        return {k: dense(v, budget, depth + 1, nbytes) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [dense(v, budget, depth + 1, nbytes) for v in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    return obj


def _load(name: str, data: bytes) -> tuple[str | None, object]:
    """(None, the object) for a checkpoint torch.load(weights_only=True) reads, else (what is wrong
    with file `name`, None). Only torch.save's zip format is loaded, its records no larger in all
    than MAX_FILE."""
    if problem := stored_zip_problem(data, MAX_FILE):  # torch.save's records are stored; nothing else is unpacked
        if problem == NOT_ZIP and probes_a3.LEGACY_MAGIC in data[:32]:  # the probe rewrote those torch.load reads
            return (f"`{name}` is in torch.save's legacy format (_use_new_zipfile_serialization=False) and does not load "
                    f"with torch.load(weights_only=True); keep only state_dicts, tensors and numbers in a checkpoint, and "
                    f"save it with torch.save(obj, path)"), None
        if problem == NOT_ZIP:
            return f"`{name}` is not a file written by torch.save ({NOT_ZIP}); save checkpoints with torch.save", None
        if problem == TOO_MANY_VALUES:
            return (f"`{name}` holds {TOO_MANY_VALUES}, more than the grader reads (a long Python list of losses?); "
                    f"keep tensors, numbers and state_dicts in a checkpoint (torch.tensor(losses) for a long list)"), None
        if problem.startswith(("compressed", "over ")):
            return f"`{name}` is a zip archive torch.save does not write (compressed or over {MAX_FILE // 2**20} MB); save checkpoints with torch.save", None
        return f"`{name}` is refused: it holds {problem}; keep tensors, numbers and state_dicts in a checkpoint", None
    try:
        return None, dense(checked_load(data), nbytes=[2 * len(data) + 2**20])
    except TooLarge as err:
        return f"`{name}` holds {err}, more than the grader reads; save the networks' state_dicts", None
    except pickle.UnpicklingError as err:
        found = re.search(r"\bGLOBAL ([A-Za-z_][\w.]{0,120})", str(err))
        if found and found[1].split(".")[0] == "numpy" and found[1].endswith(".scalar"):  # np.float64(...), np.mean(losses)
            return (
                f"`{name}` holds a numpy number (pickled as `{found[1]}`; np.mean or np.float64 makes one), which "
                f"torch.load(weights_only=True) refuses: store it as a Python number, float(x) or x.item(), or keep it out"
            ), None
        if found and found[1].split(".")[0] == "numpy":
            return (
                f"`{name}` holds a numpy value (pickled as `{found[1]}`; np.random.get_state() and np.array make one), which "
                f"torch.load(weights_only=True) refuses: keep only tensors, numbers and state dicts in a checkpoint "
                f"(torch.from_numpy(array) is a tensor; for the random state, step draws its noise from torch's generator: "
                f"torch.get_rng_state() is the one to save)"
            ), None
        if found and found[1] in WRAPPED:  # the grader's stand-in for an object of the student's GAN
            return (
                f"`{name}` holds {WRAPPED[found[1]]}, pickled: only the full unpickler loads it, and that can run code, so the "
                f"grader does not; save only state_dicts, tensors and numbers (make_gan(seed) rebuilds the rest)"
            ), None
        if found:
            what = "method (`getattr` in the pickle)" if found[1] in ("getattr", "builtins.getattr") else f"`{found[1]}`"
            return f"`{name}` holds a pickled {what}: only the full unpickler loads it, and that can run code, so the grader does not; {pickled_fix(found[1])}", None
        return f"`{name}` does not load with torch.load(weights_only=True) (UnpicklingError); save it with torch.save", None
    except Exception as err:  # noqa: BLE001 - damaged bytes make torch.load raise almost any type
        return f"`{name}` does not load with torch.load(weights_only=True) ({type(err).__name__}); save it with torch.save", None


def _weights_digest(state: dict) -> str:
    """A digest of a state dict's values: equal digests, the same weights."""
    import hashlib

    digest = hashlib.sha256()
    try:
        for key in sorted(state, key=str):
            digest.update(str(key).encode("utf-8", "replace"))
            digest.update(state[key].detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    except (RuntimeError, TypeError, AttributeError, ValueError):  # a tensor no byte view reads: never one of a pair
        return f"unread-{id(state)}"
    return digest.hexdigest()[:16]


def load_checkpoint(name: str, data: bytes) -> tuple[str | None, dict]:
    """(None, contents) for a checkpoint torch.load(weights_only=True) reads, else (what is wrong with
    file `name`, contents with nothing in them). contents: {"states": [{key: shape} of each state dict
    inside], "optimizers": [see `_optimizers`], "epochs": [every epoch number inside], "epoch_texts": [every
    epoch number written as text inside]}."""
    problem, obj = _load(name, data)
    if problem is not None:
        return problem, {"states": [], "digests": [], "optimizers": [], "epochs": [], "epoch_texts": []}
    states = list(_state_dicts(obj))
    return None, {
        "states": [{k: list(v.shape) for k, v in s.items()} for s in states],
        "digests": [_weights_digest(s) for s in states],
        "optimizers": list(_optimizers(obj)),
        "epochs": list(_epochs(obj)),
        "epoch_texts": list(_epochs(obj, texts=True)),
    }


def _shape_list(value) -> list[list[int]] | None:
    if not isinstance(value, list) or not all(isinstance(s, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in s) for s in value):
        return None
    return value


def _shape_map(value) -> dict[str, list[int]] | None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return None
    if not all(isinstance(s, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in s) for s in value.values()):
        return None
    return value


class Run:
    """One watched train(n_epochs, out_dir, seed=0) (see `probes_a3.watched_train`), its files read.

    epochs: epochs it trained. periods: [(when "after"|"during", k, [paths], [tensors G received])]
    for each look at out_dir that saw writes; writes: [(path, when, k)], paths relative to out_dir;
    inside: {(path, k)} of the writes after epoch k made inside its batch loop (on its last batch,
    after its last step).
    grids: {path: problem or None}; unmapped: {path of a grid: `mapping_problem` or None}; checkpoints: {path: (problem or None, contents)} (see
    `load_checkpoint`); figures: [paths of .pdf/.svg/... files]; shapes: {"G": {key: shape}, "D":
    ...} or None; params: {"G": [shape of each parameter], "D": ...} or None.
    """

    def __init__(self, submission, n_epochs: int) -> None:
        self.n_epochs = n_epochs
        self.keep = (submission, submission.get("train"), submission.get("make_gan"))  # alive: their ids stay theirs
        folder = f"{RUNS}/{n_epochs}-epochs"
        target = folder if getattr(submission, "remote", False) else str(Path(submission.scratch) / folder)
        try:
            reply = submission.run(probes_a3.watched_train, NAMESPACE, target, n_epochs, seed=0)  # every batch of TRAIN_DATA
            self._parse(reply)
            self._read(Path(submission.scratch), folder)
        finally:
            submission.run(probes_a3.remove, target)

    def _parse(self, reply) -> None:
        if not isinstance(reply, dict) or not isinstance(reply.get("periods"), list):
            raise AssertionError(MALFORMED)
        self.epochs, self.steps, self.cut_short = reply.get("epochs_started"), reply.get("steps"), reply.get("cut_short")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (self.epochs, self.steps, self.cut_short)):
            raise AssertionError(MALFORMED)
        self.periods, self.made, self.inside = [], {}, set()
        for period in reply["periods"]:
            if not isinstance(period, dict) or period.get("when") not in ("after", "during"):
                raise AssertionError(MALFORMED)
            k, files, inputs = period.get("epoch"), period.get("files"), period.get("inputs")
            if not isinstance(k, int) or not isinstance(files, list) or not isinstance(inputs, list):
                raise AssertionError(MALFORMED)
            files = [p for p in map(relative, files) if p is not None]
            inputs = [z for z in inputs if isinstance(z, torch.Tensor)]
            self.periods.append((period["when"], k, files, inputs))
            if period["when"] == "after" and period.get("inside") is True:  # saved in the batch loop, after the epoch's last step
                self.inside.update((p, k) for p in files)
            outputs = period.get("outputs")
            for p in files:  # a file written again is read as its last write left it
                self.made[p] = [t for t in outputs if isinstance(t, torch.Tensor)] if isinstance(outputs, list) else []
        self.writes = [(p, when, k) for when, k, files, _ in self.periods for p in files]
        args = reply.get("epoch_args")
        self.epoch_args = [a if isinstance(a, int) and not isinstance(a, bool) else None for a in args] if isinstance(args, list) else []
        starts = reply.get("rng_starts", [])
        self.rng_starts = [d if isinstance(d, str) else None for d in starts] if isinstance(starts, list) else []
        shapes = reply.get("shapes")
        self.shapes = None
        if isinstance(shapes, dict) and _shape_map(shapes.get("G")) and _shape_map(shapes.get("D")):
            self.shapes = {"G": shapes["G"], "D": shapes["D"]}
        params = reply.get("params")
        self.params = None
        if isinstance(params, dict) and _shape_list(params.get("G")) and _shape_list(params.get("D")):
            self.params = {"G": params["G"], "D": params["D"]}

    def _read(self, scratch: Path, folder: str) -> None:
        files = list(dict.fromkeys(p for p, _, _ in self.writes))  # each file once, in write order
        self.figures = [p for p in files if p.lower().endswith(FIGURE_SUFFIXES)]
        self.grids, self.unmapped, self.checkpoints = {}, {}, {}
        for p in [p for p in files if p.lower().endswith(IMAGE_SUFFIXES)][:MAX_FILES]:
            name = PurePosixPath(p).name
            try:
                data = read_scratch_bytes(scratch, f"{folder}/{p}", MAX_GRID_BYTES)
            except TooLargeFile as err:
                self.grids[p] = (f"`{name}` is {err.size:,} bytes or more: not a grid of {NUM_SAMPLES} samples of {SIDE}x{SIDE} "
                                 f"(save_image writes one in about 60 KB); save the {NUM_SAMPLES} images of G(fixed_noise) as one PNG")
                continue
            except OSError as err:
                self.grids[p] = f"`{name}` could not be read ({err.strerror or err}); save the grid as a plain file"
                continue
            self.grids[p] = grid_problem(name, data)
            if self.grids[p] is None:
                self.unmapped[p] = mapping_problem(name, data, self.made.get(p, []))
        self.removed = []  # checkpoints the run wrote and later deleted itself (keeping only the newest)
        for p in [p for p in files if p.lower().endswith(CHECKPOINT_SUFFIXES)][:MAX_FILES]:
            name = PurePosixPath(p).name
            try:
                self.checkpoints[p] = load_checkpoint(name, read_scratch_bytes(scratch, f"{folder}/{p}", MAX_FILE))
            except FileNotFoundError:
                self.removed.append(p)
            except OSError as err:
                self.checkpoints[p] = (f"`{name}` could not be read ({err.strerror or err}); save it as a plain file", {"states": [], "optimizers": [], "epochs": []})

    def data_files(self) -> set[str]:
        """The readable checkpoint-suffixed files that hold neither G's nor D's weights nor an optimizer's
        state (the fixed noise, the losses), when others hold them: data saved beside the checkpoints,
        which are judged without them."""
        if self.shapes is None:
            return set()
        data = {p for p, (problem, contents) in self.checkpoints.items() if problem is None and not contents["optimizers"]
                and not any(_holds(contents["states"], self.shapes[net]) for net in ("G", "D"))}
        return data if data != set(self.checkpoints) else set()

    def of_kind(self, suffixes: tuple[str, ...]) -> list[tuple[str, str, int]]:
        return [w for w in self.writes if w[0].lower().endswith(suffixes)]

    def saved(self, kind: str) -> list[tuple[str, str, int]]:
        """The writes of the "grids" (images that are sample grids: a loss-curve figure saved beside
        them is no grid, and not part of their schedule), of all "images", of the "checkpoints",
        or of any "files"."""
        if kind == "grids":
            return [w for w in self.of_kind(IMAGE_SUFFIXES) if self.grids.get(w[0], "unread") is None]
        suffixes = {"images": IMAGE_SUFFIXES, "checkpoints": CHECKPOINT_SUFFIXES}.get(kind)
        return self.of_kind(suffixes) if suffixes else self.writes

    def saves(self) -> list[tuple[str, list[torch.Tensor]]]:
        """[(label, tensors G received)] for each look at out_dir that saw a sample grid written
        (else a checkpoint, else any file): the noise of each save."""
        for kind in KINDS:
            paths = {p for p, _, _ in self.saved(kind)}
            chosen = [(f"{when} epoch {k}", inputs) for when, k, files, inputs in self.periods if paths.intersection(files)]
            if chosen:
                return chosen
        return []


_RUNS: dict = {}


def run(submission, n_epochs: int) -> Run:
    """train(n_epochs) on the submission, watched, once per notebook's functions and n_epochs."""
    submission.get("train"), submission.get("make_gan")  # CheckFailure when missing
    if getattr(submission, "remote", False):
        key = (str(submission.scratch), repr(submission.run(probes_a3.identity, NAMESPACE))[:200])
    else:  # a kernel's functions (and the helpers they call) change between checks: runs of this check only
        key = ("local", id(submission))
    if any(k != key for k, _ in _RUNS):  # another submission: forget the last one's runs
        _RUNS.clear()
    if (key, n_epochs) not in _RUNS:
        _RUNS[(key, n_epochs)] = Run(submission, n_epochs)
    return _RUNS[(key, n_epochs)]


def trained(r: Run) -> None:
    """AssertionError when the run took no training step while it went through its epochs, or left some epoch's
    batch loop early: its checkpoints and a resume of it then tell nothing (no optimizer state, the same weights
    at every save, the same random numbers), or a resume that does the same is judged "exact"."""
    assert r.steps or not r.epochs, (
        f"train({r.n_epochs}, ...) went through {r.epochs} epochs of batches without a training step: call "
        f"step(gan, x) on every batch, as the given loop does"
    )
    assert not r.cut_short, (
        f"train({r.n_epochs}, ...) left the batch loop before the epoch's last batch in {r.cut_short} of its {r.epochs} "
        f"epochs (a break left in the loop?): train on every batch of gan.batches.epoch(k - 1), as the given loop does"
    )


def judged_by(r: Run) -> str:
    """The kind of file (see `Run.saved`) the schedule is judged by, chosen on the 30-epoch run `r`:
    its sample grids, else its images, else its checkpoints, else any file."""
    return next(kind for kind in KINDS if r.saved(kind) or kind == "files")


def hint(got: list[int], n: int) -> str:
    """Why saves at epochs `got` of an `n`-epoch run are wrong, in words: epoch 0, a save at the end
    of the run (after the loop), an off-by-one, or the 1-based rule."""
    if 0 in got:
        return " (epoch 0 is before any training: never save there)"
    if n > 30 and got == [10, 20, 30]:
        return (" (a schedule written for the notebook's 30 epochs, such as `epoch in (10, 20, 30)` or `epoch <= 30`: "
                "save after every 10th epoch of a run of any length, when epoch % 10 == 0)")
    if n > 10 and n % 10 and got[-1:] == [n] and all(k % 10 == 0 for k in got[:-1]):  # (in 9 epochs: or an off-by-one)
        return f" (epoch {n} is the run's last: save after every 10th epoch only, not also when the run ends)"
    if all(k % 10 == 1 for k in got):
        return f" (1-based: {HINT})"
    if n % 10 == 0 and got == list(range(10, n, 10)):  # every save but the one after the run's last epoch
        return (
            f" (nothing after epoch {n}, the run's last: save at the end of every 10th epoch, after its batches, the last "
            f"one included: a save placed at the start of the next epoch, or a condition such as `epoch < n_epochs`, "
            f"skips it)"
        )
    return " (1-based: after the 10th, 20th, 30th epoch)"


def repeated_shuffle(r: Run) -> str | None:
    """What is wrong when two epochs of `r` passed gan.batches.epoch the same number: they trained on the same
    shuffle of the data (`gan.batches.epoch(0)` in every epoch), else None."""
    first: dict[int, int] = {}
    for k, arg in enumerate(r.epoch_args, 1):
        if arg is None:
            continue
        if arg in first:
            same = "all" if len(set(r.epoch_args)) == 1 and len(r.epoch_args) == r.epochs else f"epochs {first[arg]} and {k}"
            return (
                f"train({r.n_epochs}, ...) passed gan.batches.epoch the same number ({arg}) in {same} of its {r.epochs} epochs, "
                f"so they trained on the same shuffle of the data: give the k-th epoch gan.batches.epoch(k - 1), its own "
                f"number, as the given loop does"
            )
        first[arg] = k
    return None


def schedule_error(r: Run, kind: str) -> str | None:
    """None when train trained n_epochs epochs and wrote its files of `kind` (see `judged_by`)
    exactly after epochs 10, 20, ... <= n_epochs."""
    n, expected = r.n_epochs, list(range(10, r.n_epochs + 1, 10))
    if r.epochs == 0:
        return (
            f"train({n}, ...) never iterated `gan.batches.epoch(epoch)` of the GAN from "
            f"`make_gan(seed)`; train that GAN, one `gan.batches.epoch(epoch)` per epoch, as the given loop does"
        )
    what, writes = NOUNS[kind], r.saved(kind)
    if not writes and expected:
        return (
            f"nothing written under out_dir in a {n}-epoch run; expected a sample grid ({', '.join(IMAGE_SUFFIXES)}) and a "
            f"checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}) after epochs {fmt(expected)} (count epochs, not steps: an epoch "
            f"has len(gan.batches) batches, 2 while grading)"
        )
    short = None
    if r.epochs < n:
        short = f"train({n}, ...) trained {r.epochs} epochs, not {n}: loop over every epoch, {LOOP}"
    elif r.epochs > n:
        short = f"train({n}, ...) trained {r.epochs} epochs, not {n}: train exactly the n_epochs epochs it is given, {LOOP}"
    if not short and (twice := repeated_shuffle(r)):
        short = twice
    during = sorted({k for _, when, k in writes if when == "during"})
    got = sorted({k for _, _, k in writes})
    inside = {k for p, when, k in writes if when == "after" and (p, k) in r.inside}
    if not inside <= set(expected):  # saves in the batch loop off the schedule (every 10 batches): told as such
        during = sorted(set(during) | inside)
    if during:
        when = f"after epochs {fmt(expected)}" if expected else "and never in a run shorter than 10 epochs"
        message = (
            f"{what} written inside the batch loop during {epochs(during[:6])}{', ...' if len(during) > 6 else ''} "
            f"of a {n}-epoch run; save once after an epoch's batches, {when}"
        )
    elif got == expected:
        message = None
    else:
        message = f"{what} saved at {epochs(got)} of a {n}-epoch run; expected {fmt(expected)}"
        message += "" if short else hint(got, n)  # a run of the wrong length explains itself
    return "; ".join(m for m in (short, message) if m) or None


@check(points=3, visible=True)
def test_saves_at_epochs_10_20_30(submission):
    """saves sample grids after epochs 10, 20, 30 of a 30-epoch run"""
    r = run(submission, 30)
    error = schedule_error(r, judged_by(r))
    assert error is None, error


@check(points=1, visible=True)
def test_sample_grids_are_png_grids_of_64(submission):
    """each sample grid is a PNG of the 64 fixed-noise samples"""
    r = run(submission, 30)
    if not r.grids and r.figures:
        raise AssertionError(
            f"`{PurePosixPath(r.figures[0]).name}` is a figure, not a PNG grid: save the tensor (torchvision's save_image), not a figure"
        )
    assert r.grids, (
        "no sample grid (.png) written under out_dir in a 30-epoch run; save the 64 images of G(fixed_noise) "
        "with torchvision's save_image (or reference.plots.save_image_grid)"
    )
    problems = list(r.grids.values())
    assert None in problems, problems[0]  # a grid is there; other images (a loss curve) may be anything
    unmapped = list(r.unmapped.values())
    assert None in unmapped, unmapped[0]  # G's [-1, 1] clipped, not mapped, in every grid
    fault = overwritten_grids(r)
    assert fault is None, fault


def overwritten_grids(r: Run) -> str | None:
    """What is wrong when a save's sample grids were all written over by a later save (one `samples.png` for the whole
    run): only the last grid is left, and grids saved every 10 epochs are there to be compared; else None. A checkpoint
    written over at every save (a `last.pt`) is fine: a resume needs the newest only."""
    grids = {p for p, _, _ in r.saved("grids")}
    saves = [(k, [p for p in files if p in grids]) for when, k, files, _ in r.periods if when == "after" and k > 0]
    saves = [(k, paths) for k, paths in saves if paths]
    last = {p: k for k, paths in saves for p in paths}
    lost = [k for k, paths in saves if all(last[p] > k for p in paths)]
    if not lost:
        return None
    names = sorted({p for k, paths in saves if k in lost for p in paths})
    kept = sorted({last[p] for p in names})
    where = " and ".join(f"`{PurePosixPath(p).name}`" for p in names[:2])
    return (f"the sample grids saved after {epochs(lost + kept)} were written to {where}, each over the one before, so only "
            f"the grid of {epochs(kept)} is left: grids saved every 10 epochs are there to show how the same 64 samples "
            f"improve, one file per save; name each after its epoch, e.g. out_dir / \"samples\" / f\"epoch_{{epoch:03d}}.png\"")


def _holds(states: list[dict[str, list[int]]], shapes: dict[str, list[int]]) -> bool:
    """Whether one of the state dicts `states` ({key: shape}) holds every entry of a network's `shapes`, under
    its own names or all behind one prefix ("generator." in one state dict of both networks, as
    Lightning saves it; "module." of DataParallel; "_orig_mod." of torch.compile). It may hold more: a
    buffer the run registered on the network after building it (the fixed noise kept as G's buffer)."""
    return any(_within(s, shapes) for s in states)


def _within(state: dict[str, list[int]], shapes: dict[str, list[int]]) -> bool:
    def covers(found: dict[str, list[int]]) -> bool:
        return all(key in found and found[key] == shape for key, shape in shapes.items())

    if covers(state):
        return True
    first = next(iter(shapes), None)
    if first is None:
        return False
    prefixes = {key[: -len(first)] for key in state if key.endswith(first) and key != first}
    return any(covers({key[len(p):]: shape for key, shape in state.items() if key.startswith(p)}) for p in prefixes)


def all_removed(r: Run) -> str:
    """Why no checkpoint can be judged when the run deleted every one it wrote. A run that deletes old checkpoints
    and keeps the newest is judged by those it kept (they were written on the schedule all the same)."""
    names = ", ".join(f"`{PurePosixPath(p).name}`" for p in r.removed[:3]) + (", ..." if len(r.removed) > 3 else "")
    return (f"the 30-epoch run wrote checkpoints ({names}) and deleted them all before it ended, so none is left to resume "
            f"from; keep at least the newest checkpoint")


def _optimizes(optimizer: list[list[list[int]]], params: list[list[int]]) -> bool:
    """Whether an optimizer state (see `_optimizers`) holds a trained state for exactly these parameters."""
    return len(optimizer) == len(params) and all(entry and all(s == shape for s in entry) for entry, shape in zip(optimizer, params))


def _saved_checkpoints(r: Run) -> list[tuple[int, list[str]]]:
    """[(k, [checkpoint paths])] of each look at out_dir after epoch k >= 1 that saw checkpoints written
    (a save before any training is the schedule checks' business). A file written again at a later
    save (one `last.pt` for the whole run) is read once, after the run, so it counts at its last save.
    Data saved beside the checkpoints (`Run.data_files`: the epoch and the fixed noise in a file of
    their own) is part of a save, but makes none."""
    saves = [(k, [p for p in files if p in r.checkpoints]) for when, k, files, _ in r.periods if when == "after" and k > 0]
    last = {p: k for k, paths in saves for p in paths}
    saves = [(k, [p for p in paths if last[p] == k]) for k, paths in saves]
    data = r.data_files()
    return [(k, paths) for k, paths in saves if set(paths) - data]


def _idle(optimizer: list[list[list[int]]], params: list[list[int]]) -> bool:
    """Whether an optimizer state (see `_optimizers`) is that of an optimizer of exactly `params` that never took a step:
    no moments for any parameter."""
    return len(optimizer) == len(params) and not any(optimizer)


def never_stepped(found: list, missing: list[str], params: dict[str, list[list[int]]]) -> str | None:
    """What is wrong when the optimizer states `found` in a save hold, for each network of `missing`, only the state of
    an optimizer of its parameters that never took a step (a new Adam built beside gan.opt_g, whose step() trains G),
    else None."""
    if not all(any(_idle(o, params[net]) for o in found) for net in missing):
        return None
    opts = " and ".join(f"gan.opt_{net.lower()}" for net in missing)
    states = " and ".join(f"gan.opt_{net.lower()}.state_dict()" for net in missing)
    whose = "'s and ".join(missing) + "'s"
    return (f"{'the state of an optimizer' if len(missing) == 1 else 'the states of optimizers'} of {whose} parameters "
            f"that never took a step (no step count, no Adam moments), not of {opts}, which step() updates; save "
            f"{states}, so that Adam's moments survive a resume")


@check(points=2, visible=True)
def test_checkpoints_hold_optimizers_and_epoch(submission):
    """checkpoints hold both optimizers' states and the number of epochs done, to resume from"""
    r = run(submission, 30)
    assert r.checkpoints or r.removed, (
        f"no checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}) written under out_dir in a 30-epoch run; save G's and D's "
        f"state_dict, both optimizers' state_dict and the epoch with torch.save after epochs 10, 20, 30"
    )
    assert r.checkpoints, all_removed(r)
    problems = [problem for problem, _ in r.checkpoints.values() if problem]
    assert not problems, problems[0]
    assert r.params is not None, "train never built its GAN with `make_gan(seed)`; train the GAN that make_gan returns"
    trained(r)
    optimizers, epoch = None, None
    for k, paths in _saved_checkpoints(r):  # the checkpoint files of one save together hold everything
        names = ", ".join(f"`{PurePosixPath(p).name}`" for p in paths)
        holds = f"{names} (saved after epoch {k}) {'holds' if len(paths) == 1 else 'hold'}"
        found = [o for p in paths for o in r.checkpoints[p][1]["optimizers"]]
        missing = [net for net in ("G", "D") if not any(_optimizes(o, r.params[net]) for o in found)]
        if missing and optimizers is None and (idle := never_stepped(found, missing, r.params)):
            optimizers = f"{holds} {idle}"
        elif missing and optimizers is None:
            if len(missing) == 2:
                optimizers = (
                    f"{holds} no optimizer state: save gan.opt_g.state_dict() and gan.opt_d.state_dict() too, so that "
                    f"Adam's moments survive a resume"
                )
            else:
                opt = f"gan.opt_{missing[0].lower()}"
                optimizers = f"{holds} no optimizer state for {missing[0]}: save {opt}.state_dict() too, so that its Adam moments survive a resume"
        values = sorted({v for p in paths for v in r.checkpoints[p][1]["epochs"]})
        written = {v for p in paths for v in r.checkpoints[p][1].get("epoch_texts", [])}
        if k not in values and epoch is None:
            if not values and k in written:
                epoch = (f"{holds} the epoch as text, not as a number: save the number of epochs done itself, "
                         f"\"epoch\": {k}, not a string such as \"{k:03d}\", so that resume can count on from it")
            elif not values:
                epoch = f"{holds} no epoch: save the number of epochs done ({k} there) under a key such as \"epoch\", so that resume knows where to continue"
            elif k - 1 in values:
                epoch = (
                    f"{holds} epoch {k - 1}, a 0-based loop's counter; save the number of epochs done, {k} "
                    f"(epoch + 1 in `for epoch in range(n_epochs)`)"
                )
            elif values == [k + 1]:
                epoch = f"{holds} epoch {k + 1}, the next epoch to train; save the number of epochs done, {k}, and resume from the one after it"
            else:
                epoch = f"{holds} epoch {fmt(values)}; save the number of epochs done, {k}"
    faults = [f for f in (optimizers, epoch) if f]
    if len(faults) == 2:
        raise AssertionError("; ".join(faults))
    if faults:
        raise Partial(1, faults[0])


LATEST_FOLDERS = {
    "copied": [("checkpoints/epoch_90.pt", "complete"), ("checkpoints/epoch_100.pt", "complete"),
               ("samples/epoch_110.png", "grid"), ("checkpoints/epoch_20.pt", "complete")],
    "crashed": [("epoch_10.pt", "complete"), ("epoch_20.pt", "complete"), ("epoch_30.pt", "cut short"),
                (".epoch_40.pt.qxzvkw.tmp.pt", "complete"), ("epoch_50.pt.tmp", "complete")],
    "empty": [],
}
LATEST = {"copied": "checkpoints/epoch_100.pt", "crashed": "epoch_20.pt", "empty": None, "never made": None}
LATEST_WHY = {  # what each wrong file returned tells, and the fix
    "checkpoints/epoch_90.pt": ("the last by name: compared as text, epoch_100.pt sorts before epoch_20.pt and "
                                "epoch_90.pt; compare the epoch numbers in the names as integers"),
    "checkpoints/epoch_20.pt": ("the file written last: modification times change when a run folder is copied or a file "
                                "is touched; choose by the epoch number in the name"),
    "samples/epoch_110.png": ("a sample grid: only files ending in .pt, .pth, .ckpt, .tar or .pkl are checkpoints"),
    "epoch_30.pt": ("a file cut short by a crash while it was written, which torch.load cannot read: try torch.load on "
                    "the candidates from the highest epoch down and skip a file it raises on"),
    ".epoch_40.pt.qxzvkw.tmp.pt": ("the hidden temporary file of an atomic save that never finished: skip names that "
                                   "start with a dot"),
    "epoch_50.pt.tmp": "a temporary file: only files ending in .pt, .pth, .ckpt, .tar or .pkl are checkpoints",
}


def _latest_bytes(epoch: int, kind: str) -> bytes:
    """A file of the grader's folders: a checkpoint of `epoch` ({"epoch", "G"}), its first half ("cut short") or a PNG."""
    buffer = io.BytesIO()
    if kind == "grid":
        Image.new("L", (8, 8), 128).save(buffer, format="PNG")
        return buffer.getvalue()
    torch.save({"epoch": epoch, "G": {"weight": torch.full((64, 32), float(epoch))}}, buffer)
    data = buffer.getvalue()
    return data[: len(data) // 2] if kind == "cut short" else data


def _latest_listing(files: list[tuple[str, str]]) -> str:
    return ", ".join(path + (" (cut short)" if kind == "cut short" else "") for path, kind in files)


def latest_fault(case: str, reply) -> str | None:
    """What is wrong with what latest_checkpoint returned for the grader's folder `case` (see `probes_a3.latest_found`)."""
    want = LATEST[case]
    files = LATEST_FOLDERS.get(case, [])
    where = f"a folder holding {_latest_listing(files)}" if files else (
        "an empty folder" if case == "empty" else "a folder that does not exist")
    reply = reply if isinstance(reply, dict) else {}
    kind = reply.get("kind")
    if kind == "none" and want is None:
        return None
    if kind == "none":
        look = ("look in out_dir's sub-folders too (Path.rglob): train may save in out_dir/checkpoints" if "/" in want else
                "skip only the files that are no complete checkpoint")
        return f"latest_checkpoint returned None for {where}; expected {want}: {look}"
    if kind != "path" or not isinstance(reply.get("path"), str):
        raise AssertionError("the grader's call of latest_checkpoint returned a record it cannot read; do not change the "
                             "grader's objects")
    got, given = reply["path"], clean(reply.get("given"))
    if want is None:
        return (f"latest_checkpoint returned `{given}` for {where}; return None when out_dir holds no checkpoint (a run "
                f"shorter than 10 epochs saves none)")
    if got == want:
        return None
    if not got:
        named = PurePosixPath(given).name in {PurePosixPath(path).name for path, _ in files}
        return (f"latest_checkpoint returned `{given}` for {where}: " + (
            "the file's name, not its path; return the path of the file (out_dir / ..., as Path.rglob gives it)"
            if named else f"that is no file in out_dir; return the path of {want}"))
    why = LATEST_WHY.get(got, f"not the complete checkpoint of the highest epoch, {PurePosixPath(want).name}")
    return f"latest_checkpoint returned `{got}` for {where}: {why}"


def clean(text, limit: int = 200) -> str:
    """A string from the student's side, one line, cut short."""
    return re.sub(r"\s+", " ", text if isinstance(text, str) else "")[:limit]


def latest_replies(submission, scratch: Path, folder: Path) -> dict:
    """{case: what latest_checkpoint returned, or the StudentError it raised} for the grader's folders, written in
    `folder` (in the scratch folder: the student's code reads them)."""
    places = {"empty": make_scratch_folder(folder, "empty-"), "never made": folder / "never-made"}
    for case, files in LATEST_FOLDERS.items():
        places.setdefault(case, folder / case)
        for path, kind in files:
            time.sleep(0.02)  # each file written after the one before it, by its modification time
            epoch = int(re.findall(r"\d+", PurePosixPath(path).name)[-1])
            write_scratch_files(scratch, folder.name, {f"{case}/{path}": _latest_bytes(epoch, kind)})
    replies = {}
    for case in LATEST:
        shown = str(places[case].relative_to(scratch)) if getattr(submission, "remote", False) else str(places[case])
        try:
            replies[case] = submission.run(probes_a3.latest_found, NAMESPACE, shown)
        except StudentError as err:
            if err.not_implemented:
                raise
            replies[case] = err
    return replies


@check(points=3, visible=True)
def test_latest_checkpoint_finds_the_newest_complete_one(submission):
    """latest_checkpoint finds the complete checkpoint of the highest epoch, by its number; None when there is none"""
    submission.get("latest_checkpoint")  # CheckFailure when missing
    scratch = Path(submission.scratch)
    folder = make_scratch_folder(scratch, "a3-check-latest-")
    try:
        replies = latest_replies(submission, scratch, folder)
    finally:
        remove_scratch_folder(scratch, folder.name)
    for case, reply in replies.items():
        if isinstance(reply, dict) and reply.get("kind") == "other":
            raise AssertionError(
                f"latest_checkpoint returned {clean(reply.get('value'), 100)} (of type {clean(reply.get('type'), 60)}), not "
                f"a path: return the Path of the checkpoint file (resume loads it), or None when there is none"
            )
    faults = []
    for group in (("copied",), ("crashed",), ("empty", "never made")):
        for case in group:
            reply = replies[case]
            if isinstance(reply, StudentError):
                where = {"empty": "an empty folder", "never made": "a folder that does not exist"}.get(case)
                fix = ("return None when out_dir holds no checkpoint (empty, or never made: a run shorter than 10 epochs "
                       "saves none)" if where else
                       "a crash can leave a checkpoint cut short: skip a file torch.load raises on (catch its error)"
                       if case == "crashed" else "")
                said = reply.describe(fix=False) + (f" on {where}" if where else "")
                fault = f"{said}; {fix}" if fix else said
            else:
                fault = latest_fault(case, reply)
            if fault:
                faults.append(fault)
                break  # one fault per point
    if len(faults) == 3:
        raise AssertionError("; ".join(faults))
    if faults:
        raise Partial(3 - len(faults), "; ".join(faults))
