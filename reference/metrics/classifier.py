"""A small CNN per dataset family, trained by the project, whose features and logits feed the metrics.

    gan-course train-classifier --dataset mnist        # 3 epochs: 99.5% test accuracy, ~2.5 min on 2 CPU cores
    model, accuracy = train_classifier("digits", root)   # cached at classifier_path("digits", root)
    model = load_classifier("mnist", root)               # the cached one, or a one-line UserError

FID, KID and precision/recall use its penultimate features (128-d); Inception Score and class
coverage use its logits. It needs no download and is fast on a CPU (features of 10,000 MNIST
images in 1-2 s on 2 cores); the Inception network needs a weights file and is far slower.

Two families share one architecture: "grey28" (1x28x28: digits, mnist, fashion-mnist) and
"colour32" (3x32x32: cifar10 and image folders). Inputs are float images in [-1, 1];
`reference.metrics.features` converts uint8 or [0, 1] images and resizes them.

Trained classifiers are cached outside the data, in `reference.cache.cache_dir()/classifiers/`
($GAN_COURSE_CACHE, else $XDG_CACHE_HOME/gan-course, else ~/.cache/gan-course), one folder per
data root they were trained from: `classifier_path("mnist", "/data")` is
`<cache>/classifiers/data-1a2b3c4d/mnist.pt`: the root's last folder names and a hash of its resolved path.
So two roots holding different images of the same dataset (a scratch root with the first 2,000
MNIST images, the full copy) never share a classifier, and a read-only data root needs no write.
The digits read no data root (scikit-learn ships them): asked for with no root (root None, no
--data-dir: whatever $GAN_COURSE_DATA says), their classifier is `<cache>/classifiers/builtin/digits.pt`,
so one trained without $GAN_COURSE_DATA is found with it, and the other way round. A root passed
explicitly (--data-dir, a run's data_dir) still keys a copy of its own: the grading reference sets
keep theirs (other epochs) apart from the user's.
Files that older versions cached in `<data root>/classifiers/` are still read (never written).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shlex
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from reference.progress import tqdm

from reference.cpu import threads_for_run
from reference.data import Dataset, data_root, load_dataset
from reference.data.mixtures import MIXTURES
from reference.cache import cache_dir, check_cache_dir, writable_dir
from reference.data.sources import native_shape
from reference.errors import UserError
from reference.io import torch_save_atomic

__all__ = [
    "FAMILIES",
    "FORMAT",
    "Classifier",
    "accuracy",
    "classifier_from_state",
    "classifier_path",
    "dataset_key",
    "default_epochs",
    "family_of",
    "find_classifier",
    "fuse_batchnorm",
    "load_classifier",
    "load_classifier_state",
    "root_key",
    "train_classifier",
]

FORMAT = "gan-course-classifier/1"
FAMILIES = {"grey28": (1, 28), "colour32": (3, 32)}  # family -> (channels, image size)
FEATURE_DIM = 128
DEFAULT_EPOCHS = {"digits": 8, "mnist": 3, "fashion-mnist": 10, "cifar10": 20}
FOLDER_EPOCHS = 30
HOLDOUT = 0.1  # share of a folder held out as its test split


class Classifier(nn.Module):
    """conv32-pool-conv64-pool-conv128-pool -> fc128 (features) -> fc K (logits).

    Each conv is 3x3, padding 1, followed by BatchNorm and ReLU; each pool halves the size
    (28 -> 14 -> 7 -> 3, or 32 -> 16 -> 8 -> 4).
    x: float (N, C, S, S) in [-1, 1], C and S those of the family.
    features(x): (N, 128) after the last ReLU; forward(x): logits (N, num_classes).
    With C=1, S=28, K=10 it has 241,770 parameters; with C=3, S=32, K=10, 357,034.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        layers: list[nn.Module] = []
        for c_in, c_out in ((in_channels, 32), (32, 64), (64, 128)):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
        side = image_size // 8
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * side * side, FEATURE_DIM), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (N, 128) of images x (N, C, S, S) in [-1, 1]."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images x (N, C, S, S) in [-1, 1]."""
        return self.head(self.dropout(self.features(x)))


def fuse_batchnorm(model: Classifier) -> Classifier:
    """A copy of `model`, in eval mode, with each BatchNorm folded into the conv before it.

    BN in eval mode is an affine map per channel, so conv-then-BN is one conv with rescaled
    weights and a bias. Same outputs (to float rounding), about 40% faster on a CPU.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = Classifier(model.in_channels, model.image_size, model.num_classes)
    fused.load_state_dict(model.state_dict())
    fused.eval()
    layers = list(fused.body)
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.BatchNorm2d):
            layers[i - 1] = fuse_conv_bn_eval(layers[i - 1], layer)
            layers[i] = nn.Identity()
    fused.body = nn.Sequential(*layers)
    return fused.requires_grad_(False)


# ---------------------------------------------------------------------------------------------
# Datasets, families and the cache
# ---------------------------------------------------------------------------------------------


def family_of(dataset: str) -> str:
    """"grey28" or "colour32" for an image dataset name; a UserError for 2-D points or unknown names."""
    if dataset in MIXTURES:
        raise UserError(
            f"dataset '{dataset}' is 2-D points, not images: compute its metrics on the points, no classifier needed"
        )
    channels = native_shape(dataset)[0]  # DataError for unknown names
    return "grey28" if channels == 1 else "colour32"


def dataset_key(dataset: str) -> str:
    """The cache file's stem: the name itself, or folder-NAME-HASH for folder:PATH."""
    if not dataset.startswith("folder:"):
        return dataset
    path = Path(dataset[len("folder:") :]).expanduser().resolve()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name) or "folder"
    return f"folder-{slug}-{hashlib.sha1(os.fsencode(path)).hexdigest()[:8]}"


def root_key(root: str | os.PathLike | None = None) -> str:
    """The cache folder of a data root: its last two names and a hash of its resolved path.

    root: a data root (None: the default, `data_root()`). "/work/shared/data" -> "shared-data-"
    followed by 8 hex digits; the hash tells apart roots whose names agree (two scratch roots).
    """
    path = data_root(root).resolve()
    names = "-".join(part for part in path.parts[-2:] if part != path.anchor)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", names) or "root"
    return f"{slug}-{hashlib.sha1(os.fsencode(path)).hexdigest()[:8]}"


# Datasets that read no data root: their classifier, asked for with root None, is the same whatever
# $GAN_COURSE_DATA says (in the cache folder BUILTIN).
ROOTLESS = ("digits",)
BUILTIN = "builtin"


def classifier_path(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Where the classifier of `dataset` trained from the data root `root` is cached (and written).

    <cache_dir()>/classifiers/<root_key(root)>/<dataset key>.pt, e.g.
    ~/.cache/gan-course/classifiers/shared-data-1a2b3c4d/mnist.pt. root None: the default data root,
    except for a dataset that reads none (digits): <cache_dir()>/classifiers/builtin/digits.pt.
    """
    root = root or None  # "" (an empty --data-dir or data_dir) means the default, as in data_root
    folder = BUILTIN if root is None and dataset in ROOTLESS else root_key(root)
    return cache_dir() / "classifiers" / folder / f"{dataset_key(dataset)}.pt"


def _legacy_path(dataset: str, root: str | os.PathLike | None) -> Path:
    """Where versions before the cache folder kept it: <data root>/classifiers/<dataset key>.pt."""
    return data_root(root) / "classifiers" / f"{dataset_key(dataset)}.pt"


def find_classifier(dataset: str, root: str | os.PathLike | None = None) -> Path | None:
    """The file `load_classifier_state` reads: `classifier_path`, else where older versions kept it
    (the digits' classifier keyed by the default data root; <data root>/classifiers/<dataset key>.pt),
    else None."""
    root = root or None
    places = [classifier_path(dataset, root)]
    try:  # the default data root may be unnameable (no HOME), which the digits' own file does not need
        if root is None and dataset in ROOTLESS:
            places.append(cache_dir() / "classifiers" / root_key(None) / f"{dataset_key(dataset)}.pt")
        places.append(_legacy_path(dataset, root))
    except UserError:
        if not (root is None and dataset in ROOTLESS):
            raise
    for path in places:
        if path.is_file():
            return path
    return None


def default_epochs(dataset: str) -> int:
    """Epochs that train `dataset`'s classifier well on a CPU (mnist: 3, reaching about 99.4%)."""
    return DEFAULT_EPOCHS.get(dataset, FOLDER_EPOCHS)


def _train_test(dataset: str, root: str | os.PathLike | None, progress: bool = True) -> tuple[Dataset, Dataset]:
    """The labelled train and test splits at the family's size; folders hold out 10% (seed 0).
    progress: the decoding bar of a folder."""
    channels, size = FAMILIES[family_of(dataset)]
    if dataset.startswith("folder:"):
        full = load_dataset(dataset, root, image_size=size, progress=progress)
        if full.labels is None:
            raise UserError(
                f"{dataset[len('folder:'):]} is a flat folder, so its images have no labels to train a classifier on; "
                f"put them in one sub-folder per class, or use the inception extractor"
            )
        if len(full.classes) < 2 or len(full) < 2:
            raise UserError(
                f"{dataset[len('folder:'):]} has {len(full.classes)} class(es) and {len(full)} image(s); "
                f"a classifier needs at least 2 classes and 2 images"
            )
        order = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))
        n_test = max(1, round(HOLDOUT * len(full)))
        test_idx, train_idx = order[:n_test], order[n_test:]
        return tuple(Dataset(full.name, full.data[i], full.labels[i], full.classes) for i in (train_idx, test_idx))
    train = load_dataset(dataset, root, split="train", image_size=size, progress=progress)
    test = load_dataset(dataset, root, split="test", image_size=size, progress=progress)
    return train, test


def _to_input(images: Tensor) -> Tensor:
    """uint8 (N, C, H, W) -> float32 in [-1, 1], channels_last (faster convolutions on a CPU)."""
    return images.float().mul_(2.0 / 255.0).sub_(1.0).contiguous(memory_format=torch.channels_last)


def _augment(x: Tensor, gen: torch.Generator, shift: int, flip: bool) -> Tensor:
    """Shift each image by up to `shift` pixels in x and y (edges repeated); mirror half if `flip`."""
    n, _, h, w = x.shape
    padded = F.pad(x, (shift,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * shift + 1, (2, n, 1, 1), generator=gen).to(x.device)
    rows = (dy + torch.arange(h, device=x.device).view(1, h, 1)).expand(n, h, w)
    cols = (dx + torch.arange(w, device=x.device).view(1, 1, w)).expand(n, h, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (N, C, H, W), channels_last
    if flip:
        mirror = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        out = torch.where(mirror.view(n, 1, 1, 1), out.flip(3), out)
    return out


@torch.inference_mode()
def accuracy(model: nn.Module, data: Dataset, batch_size: int = 1000) -> float:
    """Share of `data` (uint8 images, labels) that `model` classifies correctly."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(data), batch_size):
        x = _to_input(data.data[start : start + batch_size]).to(device)
        correct += int((model(x).argmax(1).cpu() == data.labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / len(data)


def train_classifier(
    dataset: str,
    root: str | os.PathLike | None = None,
    *,
    epochs: int | None = None,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 3e-3,
    device: str | torch.device = "cpu",
    progress: bool = True,
    max_images: int | None = None,
) -> tuple[Classifier, float]:
    """Train the classifier of `dataset` from the data root `root`; cache it at `classifier_path(dataset, root)`.

    Adam with a one-cycle schedule (peak `lr`), cross-entropy, random shifts of up to 2 pixels
    (and horizontal flips for colour images). Accuracy is measured on the dataset's whole test split
    (folders: 10% held out). epochs: None -> `default_epochs(dataset)`. max_images: train on the
    first N training images only (None: all), e.g. a quick MNIST classifier for a smoke test
    (5,000 images, 2 epochs: about 97% in seconds; all 60,000, 3 epochs: 99.5% in minutes).
    Returns (model in eval mode, test accuracy in [0, 1]). A cache folder that cannot be written is
    a one-line UserError, raised before training starts.
    """
    if epochs is not None and epochs < 1:
        raise UserError(f"--epochs must be a whole number >= 1, got {epochs}")
    if max_images is not None and max_images < 1:
        raise UserError(f"--max-images must be a whole number >= 1, got {max_images}")
    root = root or None  # "" means the default data root
    family = family_of(dataset)
    channels, size = FAMILIES[family]
    epochs = epochs or default_epochs(dataset)
    train, test = _train_test(dataset, root, progress)
    if max_images is not None and max_images < len(train):
        train = train.subset(max_images)
    if train.labels is None or test.labels is None:
        raise UserError(f"dataset '{dataset}' has no labels, so a classifier cannot be trained on it")
    path = classifier_path(dataset, root)
    writable_dir(path.parent)  # fail now, not after minutes of training
    device = torch.device(device)
    torch.manual_seed(seed)
    model = Classifier(channels, size, len(train.classes)).to(device).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, math.ceil(len(train) / batch_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr / 10)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    images, labels = train.data.to(device), train.labels.to(device)
    test_accuracy = 0.0
    bar = tqdm(total=epochs * steps_per_epoch, desc=f"classifier {dataset_key(dataset)}", disable=not progress)
    with threads_for_run() as threads:  # threads that suit the machine's load now; restored after
        start = time.perf_counter()
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(train), generator=gen).to(device)
            for i in range(steps_per_epoch):
                idx = order[i * batch_size : (i + 1) * batch_size]
                x = _augment(_to_input(images[idx]), gen, shift=2, flip=channels == 3)
                loss = F.cross_entropy(model(x), labels[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update()
                if i % 20 == 0:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}", test_acc=f"{test_accuracy:.4f}")
            test_accuracy = accuracy(model, test)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}", test_acc=f"{test_accuracy:.4f}")
    bar.close()
    model.eval()
    state = {
        "format": FORMAT,
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "family": family,
        "num_classes": len(train.classes),
        "classes": list(train.classes),
        "test_accuracy": test_accuracy,
        "dataset": dataset,
        "epochs": epochs,
        "train_images": len(train),
        "max_images": max_images,  # None: every training image
        # what root_key hashes: where the images came from (none for the digits' builtin classifier)
        "data_root": None if root is None and dataset in ROOTLESS else str(data_root(root).resolve()),
        "seed": seed,
        "threads": threads,  # a seeded run repeats bit for bit at the same CPU thread count
        "train_seconds": time.perf_counter() - start,
    }
    try:
        torch_save_atomic(state, path)
    except OSError as err:  # a full disk or quota: the minutes of training are lost, say so in one line
        raise UserError(
            f"{(err.strerror or type(err).__name__).lower()} while writing {path}; free some space in {path.parent} "
            f"(or set GAN_COURSE_CACHE to another folder), then train the classifier again"
        ) from None
    return model, test_accuracy


def _source(dataset: str, root: str | os.PathLike | None) -> str:
    """Where `dataset`'s classifier learns from, for a message: the data root, or scikit-learn for the digits."""
    if root is None and dataset in ROOTLESS:
        return "(scikit-learn's digits, whatever the data root)"
    return f"from the data root {data_root(root)}"


def _retrain_hint(dataset: str, root: str | os.PathLike | None = None) -> str:
    """The command that trains the missing classifier, quoted for a shell (a path may hold spaces)."""
    data_dir = f" --data-dir {shlex.quote(str(root))}" if root else ""
    return f"run: gan-course train-classifier --dataset {shlex.quote(dataset)}{data_dir}"


def _class_folders(dataset: str) -> int | None:
    """How many class sub-folders the folder of `dataset` (folder:PATH) holds; None for other datasets
    or a folder that cannot be listed."""
    if not dataset.startswith("folder:"):
        return None
    folder = Path(dataset[len("folder:") :]).expanduser()
    try:
        return sum(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return None


def load_classifier_state(dataset: str, root: str | os.PathLike | None = None) -> dict:
    """The cached file of `dataset`'s classifier trained from `root`, as saved by `train_classifier`
    (state_dict on CPU): the one at `classifier_path`, else a legacy one (`find_classifier`)."""
    root = root or None
    path = find_classifier(dataset, root)
    if path is None:
        check_cache_dir()
        folder = classifier_path(dataset, root).parent
        hint = _retrain_hint(dataset, root)
        classes = _class_folders(dataset)
        if classes == 0:  # train-classifier refuses these: the advice was a dead end
            hint = (f"{dataset[len('folder:'):]} is a flat folder, whose images have no labels to train one on: put them "
                    f"in one sub-folder per class, then {hint}")
        elif classes == 1:
            hint = f"{dataset[len('folder:'):]} holds one class folder, and a classifier needs two or more: add another, then {hint}"
        raise UserError(f"no classifier for '{dataset}' {_source(dataset, root)} in {folder}; {hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a truncated, foreign or corrupt file all mean: train again
        raise UserError(
            f"classifier file {path} is unreadable ({type(err).__name__}); delete it and {_retrain_hint(dataset, root)}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise UserError(f"{path} is not a {FORMAT} file (found {found!r}); delete it and {_retrain_hint(dataset, root)}")
    return state


def load_classifier(dataset: str, root: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> Classifier:
    """The cached classifier of `dataset` in eval mode, or a one-line UserError saying how to train it."""
    return classifier_from_state(load_classifier_state(dataset, root)).to(device)


def classifier_from_state(state: dict) -> Classifier:
    """The `Classifier` (eval mode, CPU) that a file from `load_classifier_state` describes."""
    channels, size = FAMILIES[state["family"]]
    model = Classifier(channels, size, state["num_classes"])
    model.load_state_dict(state["state_dict"])
    return model.eval()

