"""Does a generator learn? A short seeded GAN run scored by classifier-FID, in seconds on a CPU.

    ref = reference_set("digits")                        # classifier (trained once, cached) + held-out features
    run = learning_run(G, D, ref, nz=100, steps=150)     # FID of G before and after 150 seeded steps
    run.fid_before, run.fid_after, run.ratio             # lower after: the generator learns

    python -m reference.metrics.quick_fid                # the reference DCGAN's runs, as the assignments' checks do them

The assignments' autograders use it to check that a student's generator really learns, offline and
fast: the data are scikit-learn's handwritten digits (shipped with scikit-learn), the feature
network is the project's `Classifier` trained on them for a few epochs into a cache folder, and the
GAN trains for a fixed number of seeded steps with the non-saturating loss.

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
Runs are bit-reproducible on a CPU for a given seed; the global RNG is left as it was.
"""

from __future__ import annotations

import math
import os
import pickle
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference.cache import cache_dir, writable_dir
from reference.cpu import cpu_training, flush_denormals
from reference.data import Dataset, from_model_range, load_dataset, to_model_range
from reference.data.sources import resize_uint8
from reference.io import atomic_path
from reference.metrics.classifier import FORMAT, classifier_from_state, classifier_path, find_classifier, train_classifier
from reference.metrics.features import ClassifierExtractor
from reference.metrics.fid import FrechetStats, SmallSampleWarning, fid

__all__ = [
    "COLOURS",
    "CIFAR10_CLASSES",
    "CLASSIFIER_EPOCHS",
    "LearningError",
    "LearningRun",
    "ReferenceSet",
    "REFERENCE_SETS",
    "cifar10_checksums_off",
    "coloured_digits",
    "grading_root",
    "learning_run",
    "reference_set",
    "sample_fid",
    "train_gan",
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


class LearningError(Exception):
    """A generator or discriminator that a learning run cannot train; the message says why."""


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


def write_cifar10(root: str | os.PathLike, train: Dataset | None = None, test: Dataset | None = None) -> Path:
    """Write `train` and `test` (default: the coloured digits) as root/cifar-10-batches-py/.

    CIFAR-10's python layout: data_batch_1..5 (the training images split into five), test_batch
    and batches.meta; each batch a pickled dict with "data" uint8 (N, 3072) (the R, G, B planes of
    each 32x32 image, row-major), "labels" (list of int), "batch_label" and "filenames". Each file
    is written atomically. Returns `root`.
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
            pickle.dump(entry, f, protocol=2)
    with atomic_path(folder / "batches.meta") as tmp, open(tmp, "wb") as f:
        pickle.dump({"label_names": list(train.classes), "num_cases_per_batch": len(chunks[0])}, f, protocol=2)
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
    """What a learning run needs: training images, a feature extractor and held-out features.

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


# ---------------------------------------------------------------------------------------------
# Training and scoring
# ---------------------------------------------------------------------------------------------


def _shape_error(out: object, image_shape: tuple[int, ...]) -> str:
    """"the generator returns (N, 1, 32, 32); expected (N, 1, 28, 28)"."""
    got = "(N, " + ", ".join(map(str, out.shape[1:])) + ")" if isinstance(out, Tensor) else f"a {type(out).__name__}"
    return f"the generator returns {got}; expected (N, {', '.join(map(str, image_shape))})"


def _check_input_channels(D: nn.Module, channels: int) -> None:
    """A LearningError when D's first conv takes another number of channels than the images have."""
    first = next((m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)
    if isinstance(first, nn.Conv2d) and first.in_channels != channels:
        raise LearningError(
            f"the discriminator's first conv takes {first.in_channels} input channel{'s' if first.in_channels != 1 else ''}; "
            f"the images have {channels}"
        )


def _one_per_image(out: Tensor, n: int, what: str) -> Tensor:
    """D's output as (n,): accepts (n,), (n, 1) or (n, 1, 1, 1); a LearningError otherwise."""
    if not isinstance(out, Tensor) or out.shape[:1] != (n,) or out.numel() != n:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise LearningError(f"the discriminator returned {shape} for {what} of {n} images; expected one value per image ({n},)")
    return out.reshape(n).float()


def train_gan(
    G: nn.Module,
    D: nn.Module,
    images: Tensor,
    *,
    nz: int,
    steps: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
) -> list[tuple[float, float]]:
    """Train G and D in place for `steps` seeded steps on uint8 `images` (N, C, H, W); returns (loss_D, loss_G) per step.

    Each step: a random batch x scaled to [-1, 1]; D's step on x and G(z).detach(); then G's step
    through D on the same G(z), with the non-saturating loss (-log D(G(z))). D may return logits,
    or probabilities in [0, 1] (a final sigmoid; detected from its first outputs), (N,) or (N, 1).
    Adam(lr, betas) for both; the high default lr suits short runs. Raises LearningError when G's
    output does not depend on its parameters, D's output is not one value per image, or a loss is
    not finite. The global RNG is left as it was.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    data = images.to(torch.uint8)
    losses: list[tuple[float, float]] = []
    G.train()
    D.train()
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    with cpu_training("cpu"), torch.random.fork_rng(devices=[]):  # denormals flushed, threads for the load
        torch.manual_seed(seed)
        probabilities: bool | None = None
        for step in range(steps):
            x = to_model_range(data[torch.randint(0, len(data), (batch_size,))], "tanh")
            fake = G(torch.randn(batch_size, nz))
            if not isinstance(fake, Tensor) or fake.shape != x.shape:
                raise LearningError(_shape_error(fake, x.shape[1:]))
            if not fake.requires_grad:
                raise LearningError("the generator's output does not depend on its parameters (detached, or made without them), so it cannot learn")
            if step == 0:
                _check_input_channels(D, x.shape[1])
            d_real = _one_per_image(D(x), batch_size, "real batches")
            d_fake = _one_per_image(D(fake.detach()), batch_size, "fake batches")
            if probabilities is None:
                probabilities = bool(((d_real >= 0) & (d_real <= 1)).all() and ((d_fake >= 0) & (d_fake <= 1)).all())
            if probabilities:  # -log p and -log(1 - p), with p kept away from 0 and 1
                d_real, d_fake = (torch.logit(p.clamp(1e-6, 1 - 1e-6)) for p in (d_real, d_fake))
            loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            d_g = _one_per_image(D(fake), batch_size, "fake batches")
            if probabilities:
                d_g = torch.logit(d_g.clamp(1e-6, 1 - 1e-6))
            loss_g = F.softplus(-d_g).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            pair = (loss_d.item(), loss_g.item())
            if not all(math.isfinite(v) for v in pair):
                raise LearningError(f"the losses became {pair[0]:.3g} (D) and {pair[1]:.3g} (G) at step {step + 1}; they must stay finite")
            losses.append(pair)
    return losses


@torch.no_grad()
def sample_fid(G: nn.Module, ref: ReferenceSet, *, nz: int, n: int | None = None, seed: int = 1, batch_size: int = 500) -> float:
    """Classifier-FID of `n` samples of G (eval mode, seeded noise) against `ref`'s held-out features.

    n: default as many as the held-out images (360 for the digits), above the 128 feature
    dimensions. G must map (n, nz) to images in [-1, 1] of `ref`'s shape.
    """
    n = n or ref.real_features.shape[0]
    gen = torch.Generator().manual_seed(seed)
    was_training = G.training
    G.eval()
    try:
        out = []
        with flush_denormals():
            for start in range(0, n, batch_size):
                x = G(torch.randn(min(batch_size, n - start), nz, generator=gen)).float()
                if tuple(x.shape[1:]) != ref.shape:
                    raise LearningError(_shape_error(x, ref.shape))
                out.append(from_model_range(x, "tanh"))
        images = torch.cat(out)
    finally:
        G.train(was_training)
    if not torch.isfinite(images).all():
        raise LearningError("the generator's samples contain NaN or infinite values")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        return fid(ref.real_features, ref.extractor.features(images))


@dataclass
class LearningRun:
    """FID of G before and after a short run; ratio = fid_after / fid_before (lower: learned more)."""

    fid_before: float
    fid_after: float
    steps: int
    seconds: float

    @property
    def ratio(self) -> float:
        return self.fid_after / self.fid_before if self.fid_before > 0 else math.inf

    def verdict(self, ratio: float, floor: float, data: str) -> tuple[str, str]:
        """("pass" | "slow" | "fail", what happened in one sentence) for a learning check.

        pass: FID fell to at most `ratio` x the untrained FID and below `floor` (what one fixed
        image scores); slow: it fell below 0.9 x the untrained FID only; fail: otherwise.
        """
        limit = min(ratio * self.fid_before, floor)
        if self.fid_after <= limit:
            return "pass", ""
        told = (
            f"classifier-FID went from {self.fid_before:.0f} (untrained) to {self.fid_after:.0f} after {self.steps} "
            f"training steps on {data}; expected at most {limit:.0f} ({ratio:.0%} of the untrained FID, "
            f"and below the {floor:.0f} that one fixed image scores)"
        )
        return ("slow" if self.fid_after < 0.9 * self.fid_before else "fail"), told


def learning_run(
    G: nn.Module,
    D: nn.Module,
    ref: ReferenceSet,
    *,
    nz: int,
    steps: int,
    seed: int = 0,
    **train_options,
) -> LearningRun:
    """Score G, train G and D for `steps` seeded steps on `ref.train` (`train_gan`), score G again.

    Both scores are `sample_fid` with the same noise. Extra keyword arguments go to `train_gan`.
    """
    start = time.perf_counter()
    before = sample_fid(G, ref, nz=nz, seed=seed + 1)
    train_gan(G, D, ref.train, nz=nz, steps=steps, seed=seed, **train_options)
    after = sample_fid(G, ref, nz=nz, seed=seed + 1)
    return LearningRun(before, after, steps, time.perf_counter() - start)


def main() -> None:
    """Print the learning runs of `reference.models.dcgan` (ngf = ndf = 16) as the assignments check them."""
    from reference.models.dcgan import build

    torch.set_num_threads(min(2, torch.get_num_threads()))
    for name, steps in (("digits", 150), ("coloured-digits", 250)):
        ref = reference_set(name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            G, D = build(ref.shape, 100, ngf=16, ndf=16)
        run = learning_run(G, D, ref, nz=100, steps=steps, seed=0)
        print(
            f"{name}: classifier accuracy {ref.accuracy:.3f}; FID {run.fid_before:.1f} untrained -> {run.fid_after:.1f} "
            f"after {steps} steps (ratio {run.ratio:.2f}; one fixed image scores >= {ref.single_image_fid:.1f}); {run.seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
