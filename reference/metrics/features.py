"""Feature extractors: images in, the feature and logit tensors the metrics take out.

    ext = get_extractor("classifier", "mnist", root)      # the project's small CNN (offline, fast on a CPU)
    ext = get_extractor("inception", inception_weights="pt_inception-2015-12-05-6726825d.pth")
    real, fake = ext.features(real_images), ext.features(fake_images)   # (N, D) float32
    fid(real, fake); inception_score(ext.logits(fake_images))

Both extractors take uint8 images (N, C, H, W) in [0, 255] or float images in [0, 1] (convert a
generator's output with `reference.data.from_model_range` first), with C = 1 or 3 and any size:
they resize and convert channels themselves, and work through the images in batches.

- `classifier`: `reference.metrics.classifier.Classifier`, trained per dataset with
  `gan-course train-classifier`. Features (N, 128) from the penultimate layer; logits (N, K).
  Images are resized to 28x28 (grey family) or 32x32 (colour family); grey images go into a colour
  classifier as three equal channels; colour images into a grey classifier are an error.
- `inception`: the FID Inception-v3 (TensorFlow's 2015-12-05 weights, the ones pytorch-fid,
  torch-fidelity, clean-fid and torchmetrics share) through torchmetrics' `NoTrainInceptionV3`.
  Features (N, 2048) from the pool3 layer; logits (N, 1008) are its "logits_unbiased" (the fc
  layer without bias, what torch-fidelity and torchmetrics use for the Inception Score).
  It resizes to 299x299 itself (bilinear with antialiasing, as torchmetrics' FID does) and
  repeats grey images to three channels.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor

from reference.errors import UserError
from reference.metrics.checks import MetricError
from reference.metrics.classifier import Classifier, classifier_from_state, fuse_batchnorm, load_classifier_state

__all__ = [
    "EXTRACTORS",
    "INCEPTION_FILES",
    "INCEPTION_URL",
    "ClassifierExtractor",
    "FeatureExtractor",
    "InceptionExtractor",
    "get_extractor",
    "inception_weights_path",
]

EXTRACTORS = ("classifier", "inception")
# The same weights under torch-fidelity's name (what it and torchmetrics download) and pytorch-fid's.
INCEPTION_FILES = ("weights-inception-2015-12-05-6726825d.pth", "pt_inception-2015-12-05-6726825d.pth")
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILES[0]}"


@runtime_checkable
class FeatureExtractor(Protocol):
    """What the metrics need from a network: features (N, dim) and, if it has them, logits (N, K)."""

    name: str
    dim: int  # feature size D
    num_classes: int | None  # K, or None without logits
    batch_size: int

    def features(self, images: Tensor) -> Tensor:
        """float32 (N, dim) on the CPU from uint8 (N, C, H, W) in [0, 255] or float in [0, 1]."""
        ...

    def logits(self, images: Tensor) -> Tensor | None:
        """float32 (N, num_classes) on the CPU, or None when the extractor has no classifier head."""
        ...

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """Both from one pass over the images."""
        ...


def check_images(images: Tensor) -> Tensor:
    """`images` as a tensor (N, C, H, W), C in {1, 3}, uint8 or float in [0, 1]; else a MetricError."""
    images = torch.as_tensor(images)
    if images.dim() == 3:
        raise MetricError(
            f"images must be 4-D (N, C, H, W), got shape {tuple(images.shape)}; add the channel axis with images.unsqueeze(1)"
        )
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise MetricError(f"images must be (N, C, H, W) with C = 1 or 3, got shape {tuple(images.shape)}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise MetricError(f"images must be uint8 in [0, 255] or float in [0, 1], got dtype {images.dtype}")
    if images.is_floating_point() and images.numel():
        low, high = float(images.min()), float(images.max())
        if low < -1e-3 or high > 1 + 1e-3:
            raise MetricError(
                f"float images must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
                f"convert generator output with reference.data.from_model_range(x, spec.output_range)"
            )
    return images


class _Batched:
    """Shared batching: run `_forward` on each batch of images, concatenate on the CPU."""

    name: str
    batch_size: int
    device: torch.device

    def _forward(self, batch: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """(features (N, dim), logits (N, K) or None), float32 on the CPU, computed batch by batch."""
        images = self._check(check_images(images))
        feats, logits = [], []
        with torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                f, l = self._forward(images[start : start + self.batch_size].to(self.device))
                feats.append(f.float().cpu())
                if l is not None:
                    logits.append(l.float().cpu())
        if not feats:  # no images
            return torch.empty(0, self.dim), (torch.empty(0, self.num_classes) if self.num_classes else None)
        return torch.cat(feats), (torch.cat(logits) if logits else None)

    def features(self, images: Tensor) -> Tensor:
        """float32 (N, dim) on the CPU from uint8 (N, C, H, W) in [0, 255] or float in [0, 1]."""
        return self.features_and_logits(images)[0]

    def logits(self, images: Tensor) -> Tensor | None:
        """float32 (N, num_classes) on the CPU (None without a classifier head)."""
        return self.features_and_logits(images)[1]

    def _check(self, images: Tensor) -> Tensor:
        return images

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, "
            f"num_classes={self.num_classes}, batch_size={self.batch_size})"
        )


class ClassifierExtractor(_Batched):
    """The project's classifier as a feature extractor: features (N, 128), logits (N, K).

    model: a trained `Classifier` (BatchNorm is folded into the convs here, for speed).
    classes: its class names, if known. batch_size: images per forward pass (500 was fastest on a
    2-core CPU: 10,000 MNIST images in about 1 s with 2 threads, 2.2 s with 1).
    """

    def __init__(
        self,
        model: Classifier,
        classes: list[str] | None = None,
        name: str = "classifier",
        batch_size: int = 500,
        device: str | torch.device = "cpu",
        caveat: str = "",
    ) -> None:
        self.caveat = caveat  # what sets this classifier apart, for a reader of its scores ("" when nothing does)
        self.device = torch.device(device)
        self.model = fuse_batchnorm(model).to(self.device).to(memory_format=torch.channels_last)
        self.channels, self.size = model.in_channels, model.image_size
        self.dim = model.head.in_features
        self.num_classes = model.num_classes
        self.classes = classes or [str(k) for k in range(self.num_classes)]
        self.name, self.batch_size = name, batch_size

    def _check(self, images: Tensor) -> Tensor:
        """`images` (N, C, H, W) as the classifier takes them: grey images stored as RGB (R = G = B,
        as a folder of greyscale PNGs loads) become (N, 1, H, W) for a grey classifier."""
        if images.shape[1] == 3 and self.channels == 1:
            if torch.equal(images[:, :1].expand_as(images), images):
                return images[:, :1]
            raise MetricError(
                f"colour images (N, 3, H, W; their channels differ) cannot go into the grey {self.size}x{self.size} classifier {self.name}; "
                f"use a colour dataset's classifier or the inception extractor"
            )
        return images

    def _forward(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        x = batch.float().mul_(2.0 / 255.0) if batch.dtype == torch.uint8 else batch.float().mul(2.0)
        x = x.sub_(1.0)  # [-1, 1], the classifier's input range
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        if x.shape[1] != self.channels:  # grey into a colour classifier
            x = x.expand(-1, self.channels, -1, -1)
        feats = self.model.features(x.contiguous(memory_format=torch.channels_last))
        return feats, self.model.head(feats)


# ---------------------------------------------------------------------------------------------
# Inception-v3 through torchmetrics / torch-fidelity
# ---------------------------------------------------------------------------------------------


def inception_weights_path(weights: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The FID Inception weights file: `weights` if given, else the torch hub cache, else downloaded.

    The cache is <torch hub dir>/checkpoints/ (~/.cache/torch/hub/checkpoints by default), where
    torch-fidelity and torchmetrics keep the same file; either name in INCEPTION_FILES is used.
    A missing file that cannot be downloaded is a one-line UserError saying where to put it.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(
                f"Inception weights not found at {path}; download {INCEPTION_FILES[1]} "
                f"(or {INCEPTION_URL}) once and pass --inception-weights PATH"
            )
        return path
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    for name in INCEPTION_FILES:
        if (cache / name).is_file():
            return cache / name
    expected = cache / INCEPTION_FILES[0]
    try:
        if not download:
            raise FileNotFoundError(expected)
        cache.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(INCEPTION_URL, str(expected), progress=False)
    except Exception:  # noqa: BLE001 - offline, blocked, disk full: the fix is the same
        raise UserError(
            f"Inception weights not found at {expected} and could not be downloaded; "
            f"download {INCEPTION_FILES[1]} once and pass --inception-weights PATH"
        ) from None
    return expected


def _inception_network(weights: Path | None, seed: int = 0):
    """torchmetrics' NoTrainInceptionV3 giving pool3 features and logits_unbiased.

    weights None: random weights (for tests of the plumbing; no file is read or downloaded).
    """
    from torchmetrics.image.fid import NoTrainInceptionV3
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    if not _TORCH_FIDELITY_AVAILABLE:
        raise UserError("the inception extractor needs torch-fidelity; run: pip install torch-fidelity")
    features = ["2048", "logits_unbiased"]
    if weights is None:
        # The constructor downloads when given no path and torch.load()s a path; give it an empty
        # state dict in memory and keep the random initialisation it has just made.
        class RandomInceptionV3(NoTrainInceptionV3):
            def load_state_dict(self, state_dict, strict=True, assign=False):  # type: ignore[override]
                if len(state_dict) == 0:
                    return None
                return super().load_state_dict(state_dict, strict=strict, assign=assign)

        empty = io.BytesIO()
        torch.save({}, empty)
        empty.seek(0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return RandomInceptionV3("inception-v3-compat", features, feature_extractor_weights_path=empty)
    try:
        return NoTrainInceptionV3("inception-v3-compat", features, feature_extractor_weights_path=str(weights))
    except Exception as err:  # noqa: BLE001 - unpickling and key mismatches both mean: wrong file
        raise UserError(
            f"cannot load Inception weights from {weights} ({type(err).__name__}: {str(err).splitlines()[0][:80]}); "
            f"pass the FID Inception-v3 file {INCEPTION_FILES[1]}"
        ) from None


class InceptionExtractor(_Batched):
    """The FID Inception-v3: features (N, 2048) from pool3, logits (N, 1008) ("logits_unbiased").

    weights: a weights file, or None for the torch hub cache (downloaded there once if online).
    random_weights: skip the file and use a random initialisation (seeded by `seed`); the
    numbers then mean nothing, but shapes and batching are those of the real network.
    """

    dim = 2048
    num_classes = 1008

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        *,
        batch_size: int = 64,
        device: str | torch.device = "cpu",
        random_weights: bool = False,
        seed: int = 0,
    ) -> None:
        self.device = torch.device(device)
        self.weights = None if random_weights else inception_weights_path(weights)
        self.model = _inception_network(self.weights, seed).to(self.device)
        self.name = "inception-random" if random_weights else "inception"
        self.batch_size = batch_size

    def _forward(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        if batch.is_floating_point():  # [0, 1] -> uint8, which the network's forward insists on
            batch = batch.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        feats, logits = self.model._torch_fidelity_forward(batch)
        return feats, logits


def _subset_caveat(state: dict) -> str:
    """For a classifier trained with --max-images: how many images it learnt from and its accuracy, and
    that its scores compare only with scores of the same classifier; "" for one trained on them all."""
    if state.get("max_images") is None:
        return ""
    accuracy = state.get("test_accuracy")
    accuracy = f", test accuracy {100 * accuracy:.1f}%" if isinstance(accuracy, float) else ""
    return (f"trained on the first {state.get('train_images', state['max_images']):,} training images only (--max-images){accuracy}; "
            f"its scores compare only with scores from this same classifier: train it on every image for numbers to quote")


def get_extractor(
    kind: str,
    dataset: str | None = None,
    root: str | os.PathLike | None = None,
    *,
    inception_weights: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> FeatureExtractor:
    """The feature extractor `kind` ("classifier" or "inception").

    classifier: the cached classifier of `dataset` under the data root `root` (train it first with
    `gan-course train-classifier --dataset DATASET`). inception: `dataset` is not used;
    `inception_weights` is the weights file (None: the torch hub cache, downloading if online).
    """
    if kind == "classifier":
        if not dataset:
            raise UserError("the classifier extractor needs a dataset (--dataset), whose classifier it loads")
        state = load_classifier_state(dataset, root)
        model = classifier_from_state(state)
        name = f"classifier:{dataset}"
        return ClassifierExtractor(model, state["classes"], name=name, batch_size=batch_size or 500, device=device,
                                   caveat=_subset_caveat(state))
    if kind == "inception":
        return InceptionExtractor(inception_weights, batch_size=batch_size or 64, device=device)
    raise UserError(f"unknown feature extractor '{kind}'; choose one of: {', '.join(EXTRACTORS)}")
