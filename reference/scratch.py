"""A smaller copy of MNIST or Fashion-MNIST: a data root holding only their first images.

    root = scratch_root("/tmp/me/data", "mnist", n_train=3000, n_test=1000)            # the first images only
    root = scratch_root("/tmp/me/data", "mnist", source="/work/shared/data", n_train=5000)  # test split linked
    train_classifier("mnist", root)             # a quick classifier: seconds, not minutes
    train(TrainConfig(dataset="mnist", data_dir=str(root), eval_every=1), out)

Short demonstrations and smoke tests want a dataset that trains in seconds. `scratch_root` makes a
data root that reads the images of `source` (MNIST or Fashion-MNIST in torchvision's raw layout):
with `n_train`/`n_test` it writes the first `n_train` training and `n_test` test images and their
labels as new IDX files, a smaller dataset that torchvision reads as it reads the real one; a split
given no size is linked to the source files (no copy). A classifier trained from such a root is
cached apart from the full dataset's, because the classifier cache, which lives outside every data
root, is keyed by the root (`reference.metrics.classifier.classifier_path`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reference.data import DataError, data_root, load_dataset
from reference.io import atomic_path

__all__ = ["IDX_DATASETS", "scratch_root", "write_idx"]

IDX_DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}  # dataset -> folder under the root
_FILES = {  # (split, part) -> file name in <folder>/raw/
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (MNIST's format), atomically; returns the path.

    array: uint8 (N, H, W) images or (N,) labels. The header is 0, 0, 0x08 (unsigned byte), the
    number of dimensions, then each dimension as a big-endian int32; the bytes follow in C order.
    """
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_idx writes uint8 arrays only, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with atomic_path(path) as tmp:
        tmp.write_bytes(header + array.tobytes())
    return Path(path)


def scratch_root(
    dest: str | os.PathLike,
    dataset: str = "mnist",
    *,
    source: str | os.PathLike | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
) -> Path:
    """Make `dest` a data root holding `dataset` from the data root `source`; returns `dest`.

    dataset: "mnist" or "fashion-mnist". source: a data root with `<Folder>/raw/` (None: the
    default root, `$GAN_COURSE_DATA` or ~/.cache/gan-course/data). n_train / n_test: keep the first
    N images of that split (written as IDX files); None links to the source's files. Files already
    in `dest` are replaced, so calling it again with other sizes is safe. A missing dataset is a
    one-line DataError (from `load_dataset`); sizes < 1 are a ValueError.
    """
    if dataset not in IDX_DATASETS:
        raise DataError(f"scratch_root copies {' and '.join(IDX_DATASETS)} only, not '{dataset}'; use one of those")
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None and n < 1:
            raise ValueError(f"{name} must be >= 1 or None, got {n}")
    source = data_root(source)
    src_raw = source / IDX_DATASETS[dataset] / "raw"
    raw = Path(dest) / IDX_DATASETS[dataset] / "raw"
    if raw.resolve() == src_raw.resolve():
        raise ValueError(f"scratch_root would overwrite its source {src_raw}: choose another dest")
    raw.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        ds = load_dataset(dataset, source, split=split, download=False)  # a DataError if it is missing
        images, labels = raw / _FILES[split, "images"], raw / _FILES[split, "labels"]
        if n is None:
            for path in (images, labels):
                path.unlink(missing_ok=True)
                path.symlink_to((src_raw / path.name).resolve())
        else:
            write_idx(images, ds.data[:n, 0].numpy())
            write_idx(labels, ds.labels[:n].numpy().astype(np.uint8))
    return Path(dest)
