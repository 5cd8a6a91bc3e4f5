"""Classifier-FID on small images, offline and in seconds on a CPU: reference sets and their scores.

    ref = reference_set("digits")           # classifier (trained once, cached) + held-out features
    ref.fid(images)                         # classifier-FID of uint8 images (N, 1, 28, 28) against the held-out split
    ref.single_image_fid                    # what the best single fixed image scores

The grade-time learning checks (`reference.grading.learning`) score a student's generator with it:
the data are scikit-learn's handwritten digits (shipped with scikit-learn) and the feature network
is the project's `Classifier` trained on them for a few epochs into a cache folder.

Reference sets (`REFERENCE_SETS`):
- ``digits``: `reference.data`'s digits, 1x28x28 (1,437 train, 360 held out), grey classifier.
- ``coloured-digits``: the same digits at 32x32, each class drawn in its own colour on black
  (`COLOURS`): 3x32x32, structured so that a colour classifier tells the classes apart by shape
  and colour. `write_cifar10` writes them in CIFAR-10's python pickle layout, which
  `torchvision.datasets.CIFAR10` reads inside `cifar10_checksums_off()` (torchvision compares
  every file's md5 with the original archive's, with ``download=False`` too).

The cache folder is `grading_root()`: $GAN_COURSE_GRADING_CACHE, else `reference.cache.cache_dir()`/grading
(~/.cache/gan-course/grading by default). It holds each reference set's data root, root/<name>/ (the
coloured digits' CIFAR-10 files); their classifiers are cached like any other, at
`classifier_path(dataset, root/<name>)` under `cache_dir()`/classifiers/, keyed by that root.
"""

from __future__ import annotations

import os
import pickle
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from reference.cache import cache_dir, writable_dir
from reference.data import Dataset, load_dataset
from reference.data.sources import resize_uint8
from reference.io import atomic_path
from reference.metrics.classifier import FORMAT, classifier_from_state, classifier_path, find_classifier, train_classifier
from reference.metrics.features import ClassifierExtractor
from reference.metrics.fid import FrechetStats, SmallSampleWarning, fid

__all__ = [
    "COLOURS",
    "CIFAR10_CLASSES",
    "CLASSIFIER_EPOCHS",
    "ReferenceSet",
    "REFERENCE_SETS",
    "cifar10_checksums_off",
    "coloured_digits",
    "grading_root",
    "reference_set",
    "write_cifar10",
]

# One colour per digit class (RGB, uint8): far apart, none of them grey.
COLOURS = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190),
)  # fmt: skip
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
REFERENCE_SETS = ("digits", "coloured-digits")
CLASSIFIER_EPOCHS = 3  # 97% held-out accuracy on the digits; the features need structure, not the last percent


def grading_root() -> Path:
    """The cache folder: $GAN_COURSE_GRADING_CACHE, else `cache_dir()`/grading (~/.cache/gan-course/grading)."""
    if chosen := os.environ.get("GAN_COURSE_GRADING_CACHE"):
        return Path(chosen).expanduser()
    return cache_dir() / "grading"


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def coloured_digits(split: str = "train") -> Dataset:
    """scikit-learn's digits at 32x32, class k drawn in COLOURS[k] on black: uint8 (N, 3, 32, 32).

    split: "train" (1,437 images) or "test" (360), the split of `load_dataset("digits")`.
    Pixel = ink * colour, ink in [0, 1] the digit's grey level.
    """
    grey = load_dataset("digits", split=split)
    ink = resize_uint8(grey.data, 32).float() / 255.0  # (N, 1, 32, 32)
    colour = torch.tensor(COLOURS, dtype=torch.float32)[grey.labels].view(-1, 3, 1, 1)
    data = (ink * colour).round_().clamp_(0, 255).to(torch.uint8)
    return Dataset("coloured-digits", data, grey.labels.clone(), list(CIFAR10_CLASSES))


class _Python2Pickler(pickle._Pickler):
    """A pickler that writes text and bytes (numpy's array data) as Python 2's `str` (SHORT_BINSTRING /
    BINSTRING opcodes), as CIFAR-10's own files hold them: `pickle.load(f, encoding="latin1")`
    (torchvision) reads those as text, and `encoding="bytes"` (the dataset's web page's `unpickle`) as
    bytes, b"data" included."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_text(self, obj: str | bytes) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + len(data).to_bytes(4, "little") + data)
        self.memoize(obj)

    dispatch[str] = dispatch[bytes] = save_text


def _dump_python2(obj: object, f) -> None:
    _Python2Pickler(f, protocol=2).dump(obj)


def write_cifar10(root: str | os.PathLike, train: Dataset | None = None, test: Dataset | None = None) -> Path:
    """Write `train` and `test` (default: the coloured digits) as root/cifar-10-batches-py/.

    CIFAR-10's python layout: data_batch_1..5 (the training images split into five), test_batch
    and batches.meta; each batch a pickled dict with "data" uint8 (N, 3072) (the R, G, B planes of
    each 32x32 image, row-major), "labels" (list of int), "batch_label" and "filenames", its text
    pickled as Python 2's, as in the real files (`_Python2Pickler`). Each file is written
    atomically. Returns `root`.
    """
    train = train if train is not None else coloured_digits("train")
    test = test if test is not None else coloured_digits("test")
    folder = Path(root) / "cifar-10-batches-py"
    chunks = np.array_split(np.arange(len(train)), 5)
    named = [(f"data_batch_{k + 1}", train.data[idx], train.labels[idx]) for k, idx in enumerate(chunks)]
    named.append(("test_batch", test.data, test.labels))
    for name, images, labels in named:
        entry = {
            "batch_label": name,
            "labels": [int(v) for v in labels],
            "data": np.ascontiguousarray(images.numpy(), dtype=np.uint8).reshape(len(images), 3 * 32 * 32),
            "filenames": [f"{name}_{k:05d}.png" for k in range(len(images))],
        }
        with atomic_path(folder / name) as tmp, open(tmp, "wb") as f:
            _dump_python2(entry, f)
    with atomic_path(folder / "batches.meta") as tmp, open(tmp, "wb") as f:
        _dump_python2({"label_names": list(train.classes), "num_cases_per_batch": len(chunks[0])}, f)
    return Path(root)


@contextmanager
def cifar10_checksums_off() -> Iterator[None]:
    """Let torchvision's CIFAR10 read files that are not the original archive's (tiny or made-up ones).

    `CIFAR10.__init__` checks every batch file's md5 against the originals' (download or not), and
    `_load_meta` that of batches.meta; inside this block only their existence is checked.
    Everything else (unpickling, the HWC reshape, transforms) runs unchanged.
    """
    import torchvision.datasets.cifar as cifar

    original = cifar.check_integrity
    cifar.check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)
    try:
        yield
    finally:
        cifar.check_integrity = original


# ---------------------------------------------------------------------------------------------
# Reference sets: a classifier and the held-out features
# ---------------------------------------------------------------------------------------------


@dataclass
class ReferenceSet:
    """Training images, a feature extractor and the held-out split's images and features.

    train: uint8 (N, C, S, S) images to train on. extractor: the classifier's features (128-d).
    real_features: float32 (M, 128) of the held-out split. accuracy: the classifier's on that split.
    held_out: uint8 (M, C, S, S), the held-out images themselves.
    """

    name: str
    train: Tensor
    extractor: ClassifierExtractor
    real_features: Tensor
    accuracy: float
    held_out: Tensor

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, S, S) of one image."""
        return tuple(self.train.shape[1:])

    @property
    def single_image_fid(self) -> float:
        """The lowest FID a generator of one fixed image can reach: tr of the held-out features' covariance.

        Its features have zero covariance, so FID = ||mu_real - f||^2 + tr(S_real) >= tr(S_real).
        """
        return float(FrechetStats.from_features(self.real_features).covariance.trace())

    def fid(self, images: Tensor) -> float:
        """Classifier-FID of images (n, C, S, S), uint8 in [0, 255] or float in [0, 1], against the held-out features.

        n: at least the 128 feature dimensions for a full-rank estimate (360, as many as the
        held-out digits, is what the learning checks use); fewer only warn (SmallSampleWarning).
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallSampleWarning)
            return fid(self.real_features, self.extractor.features(images))


def _cached_classifier(dataset: str, root: Path, epochs: int, seed: int) -> tuple[ClassifierExtractor, float]:
    """The classifier of `dataset` trained from the data root `root`: cached, else trained first (also when
    the cached one was trained with other epochs, another seed or on a few images only)."""
    path = find_classifier(dataset, root)
    state = None
    if path is not None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a truncated or foreign cache file: train again
            state = None
    usable = isinstance(state, dict) and state.get("format") == FORMAT and state.get("max_images") is None
    if not (usable and state.get("epochs") == epochs and state.get("seed") == seed):
        with torch.random.fork_rng(devices=[]):
            train_classifier(dataset, root, epochs=epochs, seed=seed, progress=False)
        state = torch.load(classifier_path(dataset, root), map_location="cpu", weights_only=True)
    return ClassifierExtractor(classifier_from_state(state), state["classes"], name=f"classifier:{dataset}"), state["test_accuracy"]


def reference_set(name: str = "digits", root: str | os.PathLike | None = None, *, epochs: int = CLASSIFIER_EPOCHS, seed: int = 0) -> ReferenceSet:
    """The reference set `name` ("digits" or "coloured-digits"), with root/<name> as its data root.

    root: default `grading_root()`. The classifier (the project's `Classifier`, `epochs` epochs of
    `train_classifier` from the data root root/<name>) is trained on the first call, in about 10 s on
    2 CPU cores, and read from `classifier_path(dataset, root / name)` afterwards. A folder that
    cannot be written is a one-line UserError.
    """
    if name not in REFERENCE_SETS:
        raise ValueError(f"unknown reference set {name!r}; choose one of: {', '.join(REFERENCE_SETS)}")
    fix = "set GAN_COURSE_GRADING_CACHE to a writable folder" if root is None else "pass a writable root"
    root = Path(root) if root is not None else grading_root()
    if name == "digits":
        extractor, acc = _cached_classifier("digits", root / name, epochs, seed)
        train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    else:
        train, test = coloured_digits("train"), coloured_digits("test")
        data_root = root / name
        if not (data_root / "cifar-10-batches-py" / "batches.meta").is_file():
            writable_dir(data_root, fix=fix)
            write_cifar10(data_root, train, test)
        with cifar10_checksums_off():
            extractor, acc = _cached_classifier("cifar10", data_root, epochs, seed)
    return ReferenceSet(name, train.data, extractor, extractor.features(test.data), acc, test.data)
