"""Evaluate a generator: images from anywhere, one feature pass, every metric.

    images = load_images("mnist:test", root)              # uint8 (N, 1, 28, 28)
    fake = load_images("runs/x/checkpoints/last.pt", root, n=10_000)
    print(compare(images, fake, get_extractor("classifier", "mnist", root)))

An image source is a dataset split (`mnist:test`, `digits:train`, `cifar10:test`), a folder of
images, an `.npz` file of images (uint8 in [0, 255] or float in [0, 1]; (N, H, W), (N, H, W, C) or
(N, C, H, W)), or a checkpoint written by `gan-course train` (a .pt file, or a run folder for its
checkpoints/last.pt; its generator draws `n` samples).
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from reference import paths
from reference.data import from_model_range, load_dataset
from reference.data.sources import DATASETS
from reference.errors import UserError
from reference.metrics.coverage import class_coverage
from reference.metrics.features import FeatureExtractor
from reference.metrics.fid import FrechetStats, SmallSampleWarning, fid
from reference.metrics.inception_score import inception_score
from reference.metrics.kid import kid
from reference.metrics.precision_recall import precision_recall

SPLITS = ("train", "test")


def parse_split(source: str) -> tuple[str, str] | None:
    """("mnist", "test") for "mnist:test"; None if `source` is not DATASET:SPLIT."""
    name, _, split = source.rpartition(":")
    if split in SPLITS and (name in DATASETS or name.startswith("folder:")):
        return name, split
    return None


def is_checkpoint(source: str | os.PathLike) -> bool:
    """True for a .pt file, a run folder (one holding checkpoints/last.pt) or its checkpoints/ folder: a generator to sample."""
    path = Path(source).expanduser()
    return (path.suffix == ".pt" or (path / "checkpoints" / "last.pt").is_file() or (path / "last.pt").is_file()
            or (path / "config.json").is_file())  # a run folder that saved nothing yet: load_checkpoint says so


def load_generator(checkpoint: str | os.PathLike, device: str | torch.device = "cpu", *, finite: bool = True):
    """(G in eval mode, ModelSpec, nz, config dict) from a gan-course checkpoint.

    A run trained with --ema gives its moving-average generator (the one its samples show).
    finite: refuse (UserError) a generator with nan or inf weights, whose samples would be blank with no
    word why; False to look at a run that diverged on purpose (lesson 08's clinic shows its samples).
    """
    from reference.checkpoint import load_checkpoint
    from reference.models import get_model

    state = load_checkpoint(checkpoint)
    try:
        cfg = state["config"]
        spec = get_model(cfg["model"])
        with torch.random.fork_rng(devices=[]):  # building draws initial weights: keep the caller's RNG as it was
            G, _ = spec.build(tuple(state["shape"]), state["nz"], ngf=cfg["ngf"], ndf=cfg["ndf"], num_classes=state.get("num_classes"))
        G.load_state_dict(state.get("generator_ema") or state["generator"])
    except KeyError as err:  # a checkpoint of another program, or one edited by hand: one line, not a traceback
        raise UserError(f"{checkpoint} holds no {err.args[0]!r} entry: it is not a checkpoint gan-course train wrote; "
                        f"give a run's checkpoints/last.pt (or an epoch_NNN.pt)") from None
    except (RuntimeError, TypeError, ValueError) as err:
        what = ("its weights have other names or shapes than that network's" if "state_dict" in str(err)
                else (str(err).strip().splitlines() or [type(err).__name__])[0][:200])
        raise UserError(f"the generator in {checkpoint} does not fit the network its config describes (model "
                        f"{cfg.get('model')!r}, ngf {cfg.get('ngf')!r}): {what}; give a checkpoint gan-course train wrote, "
                        f"unedited") from None
    broken = [name for name, t in G.state_dict().items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if broken and finite:  # a run that diverged keeps writing checkpoints: their samples would be blank or noise, with no word why
        raise UserError(f"the generator in {checkpoint} (epoch {state.get('epoch')}) holds weights that are not finite "
                        f"(nan or inf, in {len(broken)} of its tensors, e.g. {broken[0]}): the run diverged by then (its "
                        f"metrics.csv shows from which epoch the losses are nan); give an earlier checkpoint "
                        f"(checkpoints/epoch_NNN.pt), or train again with the fix lesson 08 gives for nan losses")
    return G.to(device).eval(), spec, state["nz"], cfg


@torch.no_grad()
def sample_images(G, spec, nz: int, n: int, seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 500) -> Tensor:
    """n samples of G as float images in [0, 1] (N, C, H, W) (or points (N, 2)) on the CPU.

    A conditional G (spec.conditional) draws sample i with label i mod K, every class in turn.
    The noise comes from its own seeded generator: sampling never touches the global RNG, so a
    training run that evaluates stays bit-identical to one that does not.
    """
    gen = torch.Generator().manual_seed(seed)
    was_training = G.training
    G.eval()
    out = []
    for start in range(0, n, batch_size):
        z = torch.randn(min(batch_size, n - start), nz, generator=gen).to(device)
        if spec.conditional:  # every class in turn: sample i has label i mod K
            y = torch.arange(start, start + z.shape[0], device=device) % G.num_classes
            out.append(from_model_range(G(z, y).float(), spec.output_range).cpu())
            continue
        out.append(from_model_range(G(z).float(), spec.output_range).cpu())
    G.train(was_training)
    return torch.cat(out)


def load_images(
    source: str,
    root: str | os.PathLike | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> Tensor:
    """Images from `source` (see the module docstring), at most `n` of them (a seeded choice).

    progress: a progress bar while decoding a folder of images.
    """
    split = parse_split(source)
    path = Path(source).expanduser()
    if split is not None:
        images = load_dataset(split[0], root, split=split[1], progress=progress).data
    elif is_checkpoint(source):
        if n is None:
            raise UserError(f"how many samples should {source} draw? pass --n N")
        G, spec, nz, _ = load_generator(path, device)
        return sample_images(G, spec, nz, n, seed=seed, device=device)
    elif path.suffix == ".npz":
        images = _npz_images(path)
    elif path.is_dir():
        images = load_dataset(f"folder:{path}", root, progress=progress).data
    else:
        raise UserError(
            f"cannot read images from '{source}': pass a dataset split (mnist:test), a folder of images, "
            f"an .npz of images or a checkpoint (.pt)"
        )
    if images.dim() != 4:
        raise UserError(f"'{source}' holds {tuple(images.shape[1:])} points, not images; use the mode-coverage metrics")
    if n is not None and n < images.shape[0]:
        keep = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
        images = images[keep.sort().values]
    return images


def _npz_images(path: Path) -> Tensor:
    """The images in an .npz: key 'images' (or 'x', or the only array), as uint8 or float in [0, 1]."""
    if not paths.is_file(path):  # PermissionError inside a folder the user may not enter (reference.paths)
        raise UserError(f"{path} does not exist; pass an .npz file of images")
    try:
        loaded = np.load(path)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy file's one array
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded as archive:
            keys = list(archive.keys())
            key = next((k for k in ("images", "x") if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise UserError(f"{path} holds arrays {keys}; name the images array 'images'")
            array = archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:  # an empty file is an EOFError
        why = str(err).splitlines()[0] if str(err) else "the file is empty"
        raise UserError(f"cannot read {path} as .npz ({why}); save images with numpy.savez(path, images=array)") from None
    x = torch.from_numpy(np.ascontiguousarray(array))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise UserError(f"{path}: images of shape {tuple(array.shape)} are not (N, H, W), (N, H, W, C) or (N, C, H, W) with 1 or 3 channels")
    return _checked_pixels(x, path)


def _checked_pixels(x: Tensor, path: Path) -> Tensor:
    """The images of an .npz as uint8 (N, C, H, W) in [0, 255] or float in [0, 1], else a UserError naming the file.

    Whole numbers of any integer type (numpy's default int64) are pixel values 0-255; floats are
    fractions of full brightness. An empty array, NaN or a value out of range is named here, in the
    file's terms, instead of later as 'features has 0 rows' or 'features contain NaN'."""
    fix = "save images as uint8 in [0, 255] or floats in [0, 1] with numpy.savez(path, images=array)"
    if x.shape[0] == 0:
        raise UserError(f"{path} holds no images (an array of shape {tuple(x.shape)}); {fix}")
    if x.dtype == torch.bool:
        raise UserError(f"{path} holds true/false values, not pixel values; {fix}")
    if x.is_floating_point():
        x = x.float()
        if not torch.isfinite(x).all():
            raise UserError(f"{path} holds NaN or infinite values; {fix}")
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1:
            raise UserError(f"{path}: float images must lie in [0, 1], these lie in [{low:.4g}, {high:.4g}]; {fix}")
        return x
    if x.dtype != torch.uint8:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise UserError(f"{path}: whole-number images must lie in [0, 255], these lie in [{low}, {high}]; {fix}")
        x = x.to(torch.uint8)
    return x


def compare(
    real: Tensor,
    fake: Tensor,
    extractor: FeatureExtractor,
    *,
    real_features: Tensor | None = None,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """FID, KID (mean and std), precision and recall of `fake` against `real` in `extractor`'s space.

    With a classifier extractor it also reports the Inception-Score-style score and class coverage
    of `fake`. `real_features` skips re-extracting the real set (training reuses them).
    """
    if real_features is None:
        real_features = extractor.features(real)
    fake_features, fake_logits = extractor.features_and_logits(fake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)  # reported once below instead
        result = {"fid": fid(FrechetStats.from_features(real_features), FrechetStats.from_features(fake_features))}
    kid_mean, kid_std = kid(real_features, fake_features, subsets=50, subset_size=kid_subset_size, seed=seed)
    precision, recall = precision_recall(real_features, fake_features, k=3)
    result.update(kid=kid_mean, kid_std=kid_std, precision=precision, recall=recall)
    if fake_logits is not None and getattr(extractor, "name", "").startswith("classifier"):
        score, _ = inception_score(fake_logits, splits=1)
        coverage = class_coverage(fake_logits, fake_logits.shape[1])
        result.update(classifier_score=score, classes_covered=float(coverage["classes_covered"]))
    n_min = min(real_features.shape[0], fake_features.shape[0])
    if n_min <= real_features.shape[1]:
        warnings.warn(
            f"{n_min} samples for {real_features.shape[1]}-dimensional features: FID is biased upward; compare KID instead",
            SmallSampleWarning,
            stacklevel=2,
        )
    return result
