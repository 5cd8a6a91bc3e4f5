"""Where each dataset comes from, decoded once into a single tensor.

`load_dataset(name, root)` returns a `Dataset` whose `data` is one uint8 tensor of shape
(N, C, H, W) for images, or one float32 tensor of shape (N, 2) for the 2-D mixtures. Training
then batches from that tensor on the device; no per-image PIL work happens after loading.

Names:
- ``digits``: scikit-learn's 1,797 handwritten 8x8 digits, resized to 28x28 (offline default).
- ``mnist``, ``fashion-mnist``, ``cifar10``: torchvision, downloaded on first use into the data root.
- ``folder:PATH``: your own images, as an ImageFolder (one sub-folder per class) or a flat folder.
- ``ring`` (8 Gaussians) and ``grid`` (25 Gaussians): the 2-D mixtures of VEEGAN and PacGAN.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from reference import paths
from reference.progress import tqdm

from reference.cache import expand_home
from reference.data.mixtures import MIXTURES, TEST_POINTS, TRAIN_POINTS, sample_mixture
from reference.errors import UserError

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "folder:PATH", *MIXTURES)
DEFAULT_ROOT = Path("~/.cache/gan-course/data")


class DataError(UserError):
    """A dataset that is unknown, missing or unreadable (one-line message with the fix)."""


class MissingDataError(DataError):
    """A torchvision dataset whose files are not in the data root (and were not downloaded).

    dataset: its name ("mnist"); folder: where its files were looked for (ROOT/MNIST/raw). A script
    that offers other ways out than `--dataset digits` words its own line from these two.
    """

    def __init__(self, message: str, dataset: str, folder: Path) -> None:
        super().__init__(message)
        self.dataset, self.folder = dataset, folder


@dataclass
class Dataset:
    """A whole dataset in memory.

    data: uint8 (N, C, H, W) images in [0, 255], or float32 (N, 2) points.
    labels: int64 (N,) class or mixture-mode index, or None for unlabelled folders.
    """

    name: str
    data: torch.Tensor
    labels: torch.Tensor | None
    classes: list[str]

    @property
    def kind(self) -> str:
        """"image" or "points"."""
        return "image" if self.data.dim() == 4 else "points"

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W) or (2,)."""
        return tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return self.data.shape[0]

    def subset(self, n: int) -> Dataset:
        """The first `n` samples (data and labels), same name and classes."""
        labels = None if self.labels is None else self.labels[:n]
        return Dataset(self.name, self.data[:n], labels, self.classes)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data root: `data_dir`, else $GAN_COURSE_DATA, else ~/.cache/gan-course/data."""
    chosen = data_dir or os.environ.get("GAN_COURSE_DATA") or DEFAULT_ROOT
    return expand_home(chosen, "set GAN_COURSE_DATA (or pass --data-dir) to the folder that holds or should hold the data")


def unknown_dataset(name: str) -> str:
    """The message for a dataset name the course does not know, with the closest known name when there is one."""
    from reference.config import did_you_mean

    return f"unknown dataset '{name}'{did_you_mean(name, DATASETS)}; choose one of: {', '.join(DATASETS)}"


def native_shape(name: str, image_size: int | None = None) -> tuple[int, ...]:
    """The shape of one sample of dataset `name` as loaded, without reading any file."""
    if name in MIXTURES:
        return (2,)
    if name.startswith("folder:"):
        return (3, image_size or 64, image_size or 64)
    shapes = {"digits": (1, 28, 28), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
    if name not in shapes:
        raise DataError(unknown_dataset(name))
    channels, size, _ = shapes[name]
    return (channels, image_size or size, image_size or size)


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str = "train",
    image_size: int | None = None,
    seed: int = 0,
    download: bool = True,
    progress: bool = True,
    max_images: int | None = None,
) -> Dataset:
    """Load dataset `name` ("digits", "mnist", "folder:PATH", "ring", ...) into memory.

    split: "train" or "test" (the held-out part). image_size: resize images to this square size
    once, at load time (None keeps the native size; folders default to 64). seed: only the 2-D
    mixtures use it. download: let torchvision fetch mnist, fashion-mnist and cifar10 if missing.
    progress: a progress bar while decoding a folder's images. max_images: a folder decodes only its
    first N images (those `Dataset.subset(N)` keeps), not every one; other datasets load whole.
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split '{split}'; use 'train' or 'test'")
    if name in MIXTURES:
        n, stream = (TRAIN_POINTS, seed) if split == "train" else (TEST_POINTS, seed + 1)  # test: an independent draw
        points, modes = sample_mixture(name, n, seed=stream)
        return Dataset(name, points, modes, [f"mode {i}" for i in range(MIXTURES[name].n_modes)])
    if name == "digits":
        ds = _digits(split)
    elif name in _TORCHVISION:
        ds = _torchvision(name, data_root(root), split, download)  # only these read the data root: digits work without one
    elif name.startswith("folder:"):
        folder = expand_home(name[len("folder:") :], "write the folder's full path")
        ds = _folder(name, folder, image_size or 64, progress, max_images)
    else:
        raise DataError(unknown_dataset(name))
    if image_size is not None and ds.shape[1:] != (image_size, image_size):
        ds.data = resize_uint8(ds.data, image_size)
    return ds


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to (N, C, size, size), antialiased bilinear, in chunks."""
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):
        part = images[start : start + chunk].float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + chunk] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as `load_digits()` gives them: images float64 (1797, 8, 8) with values
    0..16, and their labels int (1797,).

    Read straight from the data file scikit-learn ships (sklearn/datasets/data/digits.csv.gz, one
    row of 64 pixels and the label per image), so that a process which only needs the digits does
    not import `sklearn.datasets` (0.8 s: SciPy's statistics and I/O come with it); a grading
    worker loads them once per submission. Falls back to `load_digits()` where the file is not
    at that place.
    """
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    folder = spec.submodule_search_locations if spec is not None else None
    path = Path(list(folder)[0]) / "datasets" / "data" / "digits.csv.gz" if folder else None
    if path is not None and path.is_file():
        with gzip.open(path, "rt", encoding="ascii") as fh:  # numbers and commas; not the locale's (Windows: cp1252)
            table = np.loadtxt(fh, delimiter=",")
        return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images, bunch.target


def _digits(split: str) -> Dataset:
    """scikit-learn's digits (values 0..16 on 8x8), scaled to uint8 and resized to 28x28.

    Every fifth image (360) is the test split; the other 1,437 are the training split.
    """
    pixels, target = digits_arrays()
    images = torch.from_numpy(pixels.astype(np.float32) * (255.0 / 16.0))
    images = images.round().to(torch.uint8).unsqueeze(1)  # (1797, 1, 8, 8)
    labels = torch.from_numpy(target.astype(np.int64))
    keep = (torch.arange(len(labels)) % 5 == 0) == (split == "test")
    data = resize_uint8(images[keep], 28)
    return Dataset("digits", data, labels[keep], [str(i) for i in range(10)])


_TORCHVISION = {
    "mnist": ("MNIST", "MNIST/raw"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
}


def _unreadable(name: str, folder: Path, err: BaseException) -> DataError:
    detail = f"{type(err).__name__}: {str(err)[:80]}" if str(err).strip() else type(err).__name__  # torchvision asserts bare
    return DataError(
        f"dataset '{name}' in {folder} is unreadable ({detail}): a file there is damaged or cut short; delete the files "
        f"and download them again, or use --dataset digits"
    )


def _parts(folder: str) -> list[str]:
    """"MNIST/raw" -> ["MNIST", "MNIST/raw"]: each folder on the way, relative to the data root."""
    pieces = folder.split("/")
    return ["/".join(pieces[: k + 1]) for k in range(len(pieces))]


def _torchvision(name: str, root: Path, split: str, download: bool) -> Dataset:
    """mnist, fashion-mnist or cifar10 through torchvision, decoded into one uint8 tensor."""
    import torchvision.datasets as tvd

    cls_name, folder = _TORCHVISION[name]
    if root.exists() and not root.is_dir():
        from_env = os.environ.get("GAN_COURSE_DATA") and Path(os.environ["GAN_COURSE_DATA"]).expanduser() == root
        source = "GAN_COURSE_DATA" if from_env else "--data-dir"
        raise DataError(
            f"the data root {root} is a file, not a folder; point {source} at the folder that holds {folder}/ "
            f"(or at a new folder to download '{name}' into)"
        )
    cls = getattr(tvd, cls_name)
    train = split == "train"
    try:
        raw = cls(str(root), train=train, download=False)
    except RuntimeError as err:
        if "not found" not in str(err):  # torchvision's "Dataset not found": else the files are there, damaged
            raise _unreadable(name, root / folder, err) from None
        raw = None
    except (AssertionError, ValueError, EOFError, OSError, pickle.UnpicklingError) as err:
        raise _unreadable(name, root / folder, err) from None
    if raw is None and (closed := _closed_folder(root, folder)) is not None:  # not missing: unreadable to this user
        raise DataError(
            f"cannot read {closed} (permission denied), where dataset '{name}' is looked for; ask its owner for read "
            f"access, or point --data-dir / GAN_COURSE_DATA at a copy you can read"
        )
    if raw is None and (misplaced := _misplaced(name, root, folder)) is not None:  # here: a download would copy it again
        raise MissingDataError(misplaced, name, root / folder)
    if raw is None and download:
        made = [p for p in (root, *(root / part for part in _parts(folder))) if not p.exists()]
        try:
            raw = cls(str(root), train=train, download=True)
        except Exception:  # noqa: BLE001 - any network or disk failure means the same thing here
            raw = None
            for empty in reversed(made):  # the folders torchvision made for the download, if they stayed empty
                try:
                    empty.rmdir()
                except OSError:
                    break
    if raw is None:
        if (images := _image_folder_in(root)) is not None:  # a folder of pictures (the CIFAR-10 JPEGs) given as a data root
            raise MissingDataError(
                f"dataset '{name}' not found in {root / folder}: {root} holds image files, not torchvision's {cls_name} "
                f"files; to train on those images use --dataset folder:{images}, or point --data-dir / GAN_COURSE_DATA "
                f"at the folder that holds {folder}/",
                name,
                root / folder,
            )
        tried = "it could not be downloaded: connect to the internet once, " if download else "nothing was downloaded: "
        raise MissingDataError(
            f"dataset '{name}' not found in {root / folder} and {tried}copy the files there (or point --data-dir / "
            f"GAN_COURSE_DATA at their parent), or use --dataset digits",
            name,
            root / folder,
        )
    data = torch.as_tensor(np.asarray(raw.data))
    data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)  # (N, C, H, W)
    labels = torch.as_tensor(np.asarray(raw.targets), dtype=torch.int64)
    return Dataset(name, data.contiguous(), labels, list(raw.classes))


def _closed_folder(root: Path, folder: str) -> Path | None:
    """The first of ROOT, ROOT/MNIST, ROOT/MNIST/raw (for folder "MNIST/raw") that exists but this user may not read
    or enter (another user's private copy on a shared host), or None. torchvision saw such a folder as empty, and the
    line said the dataset was not found and to download it."""
    for where in (root, *(root / part for part in _parts(folder))):
        try:
            if not paths.is_dir(where):
                return None
        except PermissionError:  # a folder on the way to it may not be entered
            return where
        if not os.access(where, os.R_OK | os.X_OK):
            return where
    return None


# A file each torchvision dataset's folder holds (also as .gz for the IDX files), to find the files in the wrong place.
_KEY_FILE = {"mnist": "train-images-idx3-ubyte", "fashion-mnist": "train-images-idx3-ubyte", "cifar10": "data_batch_1"}


def _misplaced(name: str, root: Path, folder: str) -> str | None:
    """The line for a data root that misses ROOT/FOLDER although the dataset's files are near: ROOT is the dataset's
    own folder (MNIST/ or MNIST/raw/, whose parent is the data root), or holds the files itself (a flat copy); else None.

    Such roots were told 'not found in ROOT/MNIST/MNIST/raw ... connect to the internet once, copy the files there',
    and a download, where there was a network, made a second copy inside the first."""
    key = _KEY_FILE[name]

    def holds(where: Path) -> bool:
        try:
            return any(paths.is_file(where / file) for file in (key, key + ".gz"))
        except PermissionError:  # a folder near the root this user may not enter: not a place to name
            return False

    from_env = bool(os.environ.get("GAN_COURSE_DATA")) and Path(os.environ["GAN_COURSE_DATA"]).expanduser() == root
    for parent in root.parents[: len(folder.split("/"))]:
        if holds(parent / folder):
            point = f"set GAN_COURSE_DATA={parent}" if from_env else f"pass --data-dir {parent}"
            return (f"dataset '{name}' not found in {root / folder}, but its files are in {parent / folder}: {point} "
                    f"(the folder that holds {folder}/), not a folder inside it")
    if holds(root):
        return (f"dataset '{name}' not found in {root / folder}: its files are in {root} itself, but torchvision reads them "
                f"from {root / folder}/; move them into {root / folder} (make that folder first)")
    return None


def _image_folder_in(root: Path) -> Path | None:
    """`root` or its first sub-folder that holds images, directly or one class folder down (for --dataset folder:), or None."""
    try:
        if not root.is_dir():
            return None
        for where in [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))][:20]:
            if any(_is_image(f) for d in [where, *(p for p in where.iterdir() if p.is_dir())][:50] for f in d.iterdir()):
                return where
    except OSError:
        return None
    return None


def _folder(name: str, path: Path, size: int, progress: bool = True, limit: int | None = None) -> Dataset:
    """Images under `path`: ImageFolder layout (class sub-folders) or a flat folder of files.

    Each image is converted to RGB, centre-cropped to a square and resized to `size`; all of it
    once, here. Files that do not decode are collected and named together in one DataError.
    limit: decode only the first `limit` files (--max-images: a quick run on a folder of 100,000
    photos decoded every one of them first, for many minutes).
    """

    if paths.is_file(path):  # was "does not exist"
        raise DataError(f"image folder {path} is a file, not a folder; pass the folder that holds the images, "
                        f"e.g. --dataset folder:{path.parent}")
    if not paths.is_dir(path):  # PermissionError inside a folder the user may not enter (reference.paths)
        raise DataError(f"image folder {path} does not exist; pass --dataset folder:PATH with a folder of images")
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [f for f in sorted(path.iterdir()) if _is_image(f)] if subdirs else []
    if loose:  # read as class folders, these would be left out without a word (or the folder said to hold none)
        named = ", ".join(p.name + "/" for p in subdirs[:3]) + (", ..." if len(subdirs) > 3 else "")
        raise DataError(
            f"image folder {path} holds {len(loose)} image(s) at its top and sub-folders ({named}): with sub-folders, "
            f"images are read from them only, one per class, so those {len(loose)} would be left out; move them into a "
            f"sub-folder, or move the sub-folders out"
        )
    if subdirs:
        classes = [p.name for p in subdirs]
        files = [(f, i) for i, d in enumerate(subdirs) for f in sorted(d.rglob("*")) if _is_image(f)]
    else:
        classes = []
        files = [(f, 0) for f in sorted(path.iterdir()) if _is_image(f)]
    if not files:
        raise DataError(
            f"no images ({', '.join(_image_extensions())}) in {path}; put images there or in one sub-folder per class"
        )
    from PIL import Image

    files = files[:limit] if limit is not None else files
    data = torch.empty((len(files), 3, size, size), dtype=torch.uint8)
    bad = []
    for i, (file, _) in enumerate(tqdm(files, desc=f"decoding {path.name}", unit="img", leave=False, disable=not progress)):
        try:
            data[i] = _decode(file, size)
        except Image.DecompressionBombError as err:  # not an OSError: it ended the run in a traceback
            raise DataError(_too_large_message(file, err)) from None
        except PermissionError:
            raise DataError(f"cannot read image {file}: permission denied; make it readable (chmod a+r) or move it out "
                            f"of {path}") from None
        except OSError:  # PIL's UnidentifiedImageError and truncated files are OSErrors
            bad.append(file)
    if bad:
        raise DataError(_bad_images_message(path, bad))
    labels = torch.tensor([label for _, label in files], dtype=torch.int64) if classes else None
    return Dataset(name, data, labels, classes)


def _decode(file: Path, size: int) -> torch.Tensor:
    """uint8 (3, size, size): the image in `file` as RGB, turned upright (EXIF orientation), centre-cropped
    to a square and resized."""
    from PIL import Image, ImageOps

    with Image.open(file) as im:
        if im.mode == "F":  # convert("RGB") clips 32-bit floats at 0 and 255: an image of 0-1 values became black
            low, high = im.getextrema()
            raise DataError(
                f"image {file} holds 32-bit floating-point pixels ({low:.3g} to {high:.3g}), whose scale (0-1 or 0-255) "
                f"the folder does not say; save the images as 8- or 16-bit PNGs (e.g. x * 255 rounded to uint8 for 0-1 values)"
            )
        im = _eight_bit(ImageOps.exif_transpose(im)).convert("RGB")  # a phone's photo upright, as viewers show it
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
        return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)


# Pillow's modes of 16-bit greyscale files (PNG, TIFF): values 0-65535.
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _eight_bit(im):
    """`im` as an 8-bit greyscale image if it is a 16-bit one (0-65535 scaled to 0-255), else `im`.

    Pillow's convert("RGB") clips 16-bit values at 255 instead of scaling them: a 16-bit greyscale
    PNG (scans, depth maps, microscopy) became an almost white square, silently.
    """
    from PIL import Image

    if im.mode not in _SIXTEEN_BIT:
        return im
    values = np.asarray(im).astype(np.float64).clip(0, 65535)  # "I" is 32-bit: a 16-bit file's values, clipped
    return Image.fromarray(np.rint(values / 257).astype(np.uint8))  # 2-D uint8: mode "L"


def _too_large_message(file: Path, err: Exception) -> str:
    """One line naming an image over Pillow's pixel limit (its guard against decompression bombs) and the fix."""
    import re

    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", str(err))  # "Image size (196000000 pixels) exceeds limit of ..."
    count = f"{int(found[1]):,} pixels; " if found else ""
    return (
        f"image {file} is too large to decode ({count}Pillow refuses more than {2 * Image.MAX_IMAGE_PIXELS:,} "
        f"as a possible decompression bomb); shrink it (e.g. to 1024 px on its longer side) or delete it"
    )


def _bad_images_message(path: Path, bad: list[Path], shown: int = 10) -> str:
    """One line naming every undecodable file (the first `shown`, then how many more) and the fix."""
    if len(bad) == 1:
        return f"cannot decode image {bad[0]}; delete it or replace it with a valid image"
    names = ", ".join(str(f.relative_to(path)) for f in bad[:shown])
    more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
    return f"{len(bad)} images in {path} cannot be decoded: {names}{more}; delete them or replace them with valid images"


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in _image_extensions() and not path.name.startswith(".")


def _image_extensions() -> tuple[str, ...]:
    """The suffixes torchvision's ImageFolder reads (imported here, not with the module: torchvision
    takes a second to import, and only folder datasets need it)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return IMG_EXTENSIONS
