"""Checks of a4_cifar10_port: port the MNIST DCGAN to CIFAR-10 (3x32x32 colour images).

The student writes `make_cifar10_loader(root, batch_size)` (torchvision's CIFAR10 with transforms),
`make_generator(nz, ngf)`, `make_discriminator(ndf)` and `save_colour_grid(images, path)`.
Nothing is downloaded: the loader check writes tiny files in CIFAR-10's real pickle layout
(`reference.metrics.quick_fid.write_cifar10`) into a temporary folder and reads them through the
student's loader, with torchvision's md5 comparison turned into an existence check
(`cifar10_checksums_off`: torchvision checks the files' md5 sums even with download=False).

Behaviour, not spelling: the loader's batches must be the files' images scaled to [-1, 1], however
the normalisation is written (`Normalize((0.5,), (0.5,))` broadcasts over the three channels and is
right); G must output (N, 3, 32, 32) in [-1, 1] (a final tanh, checked with its weights scaled up);
D must take (N, 3, 32, 32) and give one value per image (a logit or a probability, shaped (N,) or
(N, 1)); the saved grid must show each image's colours, mapped from [-1, 1] to [0, 255], at 32x32.
The learning check trains the student's G and D for a few seeded steps on the digits drawn in
class colours at 32x32 and needs their classifier-FID to fall clearly below the untrained G's.

Points: 2 + 2 + 1 + 2 + 3 = 10.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reference.grading import Partial, check

ASSIGNMENT = "a4_cifar10_port"
NZ, WIDTH = 100, 16  # the checks build G and D at ngf = ndf = 16: fast, and the same code as 64
BATCH = 8
NORMALISE_HINT = "add transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) after transforms.ToTensor()"
LEARN_STEPS = 250  # seeded training steps of the learning check (batch 32)
LEARN_RATIO = 0.6  # FID after must be at most this share of the untrained generator's


def first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}"


def shape_text(shape, batch: int) -> str:
    """"(N, 1, 32, 32)" for a batch of `batch`, the exact shape otherwise."""
    dims = list(shape)
    if dims and dims[0] == batch:
        dims[0] = "N"
    return "(" + ", ".join(str(d) for d in dims) + ")"


def built(submission, name: str, **kwargs) -> nn.Module:
    """The student's `name(**kwargs)`, built with seed 0, in training mode."""
    make = submission.get(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = make(**kwargs)
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    assert isinstance(net, nn.Module), f"`{name}({args})` returned a {type(net).__name__}, not a torch nn.Module"
    return net.train()


def tiny_cifar(root: Path):
    """Write 40 training and 10 test images in CIFAR-10's pickle layout; return their uint8 arrays.

    Pixel (c, y, x) of image i is (37 i + 85 c + 3 y + 7 x) % 256 (test images: offset 128): every
    image holds 0 and 255, and its three channels differ.
    """
    from reference.data import Dataset
    from reference.metrics.quick_fid import CIFAR10_CLASSES, write_cifar10

    def pattern(n: int, offset: int) -> Dataset:
        i, c, y, x = np.ogrid[:n, :3, :32, :32]
        data = torch.from_numpy(((37 * i + 85 * c + 3 * y + 7 * x + offset) % 256).astype(np.uint8))
        return Dataset("tiny", data, torch.arange(n) % 10, list(CIFAR10_CLASSES))

    train, test = pattern(40, 0), pattern(10, 128)
    write_cifar10(root, train, test)
    return train.data, test.data


def matches(batch: torch.Tensor, images: torch.Tensor) -> bool:
    """Is every image of `batch` (B, C, H, W) equal (1e-4) to one of `images` (M, C, H, W)?"""
    flat, ref = batch.reshape(len(batch), -1).double(), images.reshape(len(images), -1).double()
    return bool((torch.cdist(flat, ref).min(dim=1).values / flat.shape[1] ** 0.5 < 1e-4).all())


@check(points=2, visible=True)
def test_loader_yields_colour_batches_in_minus_one_one(submission):
    """The CIFAR-10 loader yields (B, 3, 32, 32) float images in [-1, 1]."""
    from reference.metrics.quick_fid import cifar10_checksums_off

    make_loader = submission.get("make_cifar10_loader")
    with tempfile.TemporaryDirectory(prefix="a4-cifar-") as tmp:
        train, test = tiny_cifar(Path(tmp))
        with cifar10_checksums_off():
            loader = make_loader(tmp, batch_size=BATCH)
            batch = next(iter(loader))
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    assert isinstance(x, torch.Tensor), f"the loader's batches hold {type(x).__name__} images, not tensors: use transforms.ToTensor()"
    assert x.is_floating_point(), f"the loader yields {x.dtype} images; expected floats: use transforms.ToTensor()"
    if tuple(x.shape) != (BATCH, 3, 32, 32):
        hint = ": keep CIFAR-10's three colour channels (no Grayscale)" if x.dim() == 4 and x.shape[1] == 1 else ""
        raise AssertionError(f"the loader yields images of shape {tuple(x.shape)} for batch_size={BATCH}; expected ({BATCH}, 3, 32, 32){hint}")
    low, high = float(x.min()), float(x.max())
    expected = train.float() / 127.5 - 1.0  # (x / 255 - 0.5) / 0.5
    if matches(x, expected):
        return
    if matches(x, train.float() / 255.0):
        raise AssertionError(
            f"the loader yields images in [{low:.2f}, {high:.2f}]; expected [-1, 1], the range of the generator's "
            f"tanh output, or D tells real from fake by the range alone: {NORMALISE_HINT}"
        )
    if matches(x, test.float() / 127.5 - 1.0):
        raise AssertionError("the loader reads the test split; train on the training batches: CIFAR10(root, train=True, ...)")
    raise AssertionError(
        f"the loader's images (in [{low:.2f}, {high:.2f}]) are not the CIFAR-10 files' pixels scaled to [-1, 1] "
        f"((x / 255 - 0.5) / 0.5): use transforms.ToTensor() then "
        f"transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), and nothing that changes the pixels"
    )


@check(points=2, visible=True)
def test_generator_makes_colour_images(submission):
    """The generator outputs (N, 3, 32, 32) in [-1, 1] for any batch size and nz."""
    shapes = {}
    for nz, n in ((100, 2), (100, 5), (32, 3)):
        G = built(submission, "make_generator", nz=nz, ngf=WIDTH)
        with torch.no_grad():
            out = G(torch.randn(n, nz))
        shapes[(nz, n)] = shape_text(out.shape, n)
    wrong = {key: got for key, got in shapes.items() if got != "(N, 3, 32, 32)"}
    if wrong and len(set(shapes.values())) == 1:
        raise AssertionError(f"generator output is {shapes[(100, 2)]}; expected (N, 3, 32, 32)")
    if wrong:
        told = "; ".join(f"with nz={nz}, N={n} it is {got}" for (nz, n), got in wrong.items())
        raise AssertionError(f"generator output {told}; expected (N, 3, 32, 32) for every batch size N and nz (use the nz argument)")
    G = built(submission, "make_generator", nz=NZ, ngf=WIDTH)
    z = torch.randn(16, NZ, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        big = copy.deepcopy(G)
        for p in big.parameters():
            p.mul_(25.0)  # only a squashing last layer keeps the output bounded now
        outs = (G(z), big(z))
    low, high = min(float(o.min()) for o in outs), max(float(o.max()) for o in outs)
    if low < -1 - 1e-5 or high > 1 + 1e-5:
        raise Partial(1, f"generator output reaches [{low:.3g}, {high:.3g}] once its weights are scaled up; expected [-1, 1]: end it with nn.Tanh()")
    if low > -0.5:
        raise Partial(1, f"generator output stays in [{low:.3g}, {high:.3g}]; expected [-1, 1]: end it with nn.Tanh(), not nn.Sigmoid()")


@check(points=1, visible=True)
def test_discriminator_takes_colour_images(submission):
    """The discriminator takes (N, 3, 32, 32) images and returns one value per image."""
    D = built(submission, "make_discriminator", ndf=WIDTH)
    for n in (2, 5):
        x = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(n)) * 2 - 1
        try:
            with torch.no_grad():
                out = D(x)
        except Exception as err:  # noqa: BLE001 - a D built for other images fails here
            convs = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
            first = convs[0] if convs else None
            if isinstance(first, nn.Conv2d) and first.in_channels != 3:
                raise AssertionError(
                    f"the discriminator's first conv takes {first.in_channels} input channel{'s' if first.in_channels != 1 else ''}; "
                    f"CIFAR-10 images (N, 3, 32, 32) have 3: nn.Conv2d(3, ndf, 4, 2, 1)"
                ) from None
            raise AssertionError(f"the discriminator cannot take (N, 3, 32, 32) images: {first_line(err)}") from None
        if not isinstance(out, torch.Tensor) or out.shape[:1] != (n,) or out.numel() != n:
            got = shape_text(out.shape, n) if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
            raise AssertionError(
                f"the discriminator returns {got} for (N, 3, 32, 32) images; expected one logit per image, (N,) or (N, 1): "
                f"its last conv must reduce 4x4 to 1x1"
            )


# 16 colours in [-1, 1], one per image; their [0, 1] mapping (x + 1) / 2 differs from clamping x to [0, 1]
PALETTE = [
    (-1.0, -1.0, -1.0), (1.0, 1.0, 1.0), (1.0, -1.0, -1.0), (-1.0, 1.0, -1.0),
    (-1.0, -1.0, 1.0), (0.0, 0.5, -0.5), (-0.5, 0.0, 0.5), (0.5, -0.5, 0.0),
    (0.8, 0.2, -0.6), (-0.6, 0.8, 0.2), (0.2, -0.6, 0.8), (0.4, 0.4, -1.0),
    (-1.0, 0.4, 0.4), (0.4, -1.0, 0.4), (-0.2, -0.7, -0.9), (0.9, 0.6, 0.3),
]  # fmt: skip


def colour_pixels(pixels: np.ndarray, rgb: np.ndarray) -> int:
    """Pixels of `pixels` (H, W, 3) within 2 levels of `rgb` in every channel."""
    return int((np.abs(pixels.astype(int) - rgb.astype(int)) <= 2).all(axis=-1).sum())


@check(points=2)
def test_colour_grid_png(submission):
    """save_colour_grid writes a colour PNG grid of the images at 32x32, mapped from [-1, 1]."""
    from PIL import Image

    save = submission.get("save_colour_grid")
    colours = torch.tensor(PALETTE)
    images = colours.view(16, 3, 1, 1).expand(16, 3, 32, 32).contiguous()
    want = np.round((colours.numpy() + 1) / 2 * 255).astype(np.uint8)
    clamped = np.round(colours.clamp(0, 1).numpy() * 255).astype(np.uint8)
    with tempfile.TemporaryDirectory(prefix="a4-grid-") as tmp:
        path = Path(tmp) / "grid.png"
        save(images.clone(), path)
        files = [p for p in Path(tmp).rglob("*") if p.is_file()]
        assert path.is_file(), (
            f"save_colour_grid(images, path) wrote no file at `path`"
            + (f" (it wrote {', '.join(p.name for p in files)})" if files else "")
            + ": save the grid to exactly the path it is given"
        )
        with Image.open(path) as im:
            fmt, mode, size = im.format, im.mode, im.size
            pixels = np.asarray(im.convert("RGB"))
    assert fmt == "PNG", f"the grid file is {fmt}, not PNG: save it with torchvision.utils.save_image or reference.plots.save_image_grid"
    if mode in ("L", "LA", "1", "I", "F") or (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all():
        raise AssertionError(
            "the grid is grey: every pixel has R = G = B; keep the images' three channels (no .mean(1), "
            "Grayscale or single-channel indexing)"
        )
    shown = [colour_pixels(pixels, rgb) >= 0.9 * 32 * 32 for rgb in want]
    if not all(shown):
        k = shown.index(False)
        raw = sum(colour_pixels(pixels, rgb) >= 0.9 * 32 * 32 for rgb in clamped)
        told = f"an image of colour {PALETTE[k]} in [-1, 1] should appear as RGB {tuple(int(v) for v in want[k])}"
        if raw >= 12:
            raise Partial(1, f"the grid's colours are off: {told}, but the images were saved without mapping [-1, 1] "
                             f"to [0, 1]: save (images + 1) / 2, or reference.data.from_model_range(images, 'tanh')")
        raise AssertionError(f"the grid does not show the images' colours at 32x32: {told}; save the tensors "
                             f"themselves, mapped with (images + 1) / 2, without resizing or plotting them")
    width, height = size
    if width * height > 16 * 48 * 48:
        raise Partial(1, f"the grid is {width}x{height} pixels, more than 16 images of 32x32 need (torchvision's "
                         f"save_image with 8 per row makes 274x70): save the tensors directly, without upscaling")


@check(points=3)
def test_learns(submission):
    """A short seeded run on colour digits makes G's classifier-FID fall clearly below the untrained one's."""
    from reference.metrics.quick_fid import LearningError, learning_run, reference_set

    ref = reference_set("coloured-digits")
    G = built(submission, "make_generator", nz=NZ, ngf=WIDTH)
    D = built(submission, "make_discriminator", ndf=WIDTH)
    try:
        run = learning_run(G, D, ref, nz=NZ, steps=LEARN_STEPS, seed=0)
    except LearningError as err:
        raise AssertionError(f"the grading run could not train the GAN: {err}") from None
    outcome, told = run.verdict(LEARN_RATIO, ref.single_image_fid, "coloured digits")
    if outcome == "pass":
        return
    if outcome == "slow":
        raise Partial(1, f"{told}: it learns, but slowly; compare your layers with the DCGAN ladder 4-8-16-32")
    raise AssertionError(f"{told}: check that G and D use every layer and that nothing is detached")
