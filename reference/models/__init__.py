"""Registry of GAN architectures: pick one by name, fit it to a dataset, build (G, D).

    from reference.models import get_model, count_parameters
    spec = get_model("dcgan")
    shape = spec.resolve_shape((3, 32, 32), image_size=64)   # -> (3, 64, 64)
    netG, netD = spec.build(shape, nz=spec.default_nz)       # G: (N, nz) -> (N, 3, 64, 64)
                                                             # D: (N, 3, 64, 64) -> logits (N,)

Every D returns raw logits of shape (N,), with no sigmoid: the losses work on logits.
`resolve_shape` holds each model's size policy and turns a dataset it cannot take into a
one-line `ModelError`; each architecture lives in its own module (mlp, dcgan, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from reference.errors import UserError
from reference.models import conditional, dcgan, dcgan1024, mlp, mlp2d, tf_dcgan, upsample

__all__ = ["ModelSpec", "ModelError", "MODELS", "get_model", "count_parameters"]

Shape = tuple[int, ...]


class ModelError(UserError, ValueError):
    """A model name, or a model/dataset/size combination, that the user chose and cannot work."""


@dataclass(frozen=True)
class ModelSpec:
    """One architecture: its name, what its samples look like, and how to fit and build it.

    output_range: "tanh" (samples in [-1, 1]), "sigmoid" ([0, 1]) or "none" (unbounded points).
    kind: "image" (data (C, H, W)) or "points" (data (2,), the 2-D mixtures).
    d_options: the anti-mode-collapse options of D (reference/models/mitigations.py) it supports.
    """

    name: str
    description: str
    output_range: str
    kind: str
    default_nz: int
    resolver: Callable[[str, Shape, int | None], Shape] = field(repr=False, compare=False)
    builder: Callable[..., tuple[nn.Module, nn.Module]] = field(repr=False, compare=False)
    d_options: tuple[str, ...] = ()  # discriminator options the builder takes: "pack", "minibatch_std"
    conditional: bool = False  # G(z, y) and D(x, y) take class labels y (N,) int64; build needs num_classes
    widths: bool = False  # ngf/ndf (--ngf/--ndf) set its widths; every other model's are fixed and ignore them

    def resolve_shape(self, data_shape: Shape, image_size: int | None) -> Shape:
        """Sample shape the model trains on, from the dataset's (C, H, W) or (2,) and --image-size.

        image_size None lets the model choose. Raises ModelError (one line: the model, the shape,
        the fix) when the model cannot take this data or size.
        """
        return self.resolver(self.name, tuple(data_shape), image_size)

    def build(
        self,
        shape: Shape,
        nz: int,
        ngf: int = 64,
        ndf: int = 64,
        *,
        pack: int = 1,
        minibatch_std: bool = False,
        num_classes: int | None = None,
    ) -> tuple[nn.Module, nn.Module]:
        """(G, D) with init applied. G: z (N, nz) -> x (N, *shape); D: x (N, *shape) -> logits (N,).

        `shape` comes from `resolve_shape`. `ngf`/`ndf` set the widths of a model with `widths`
        (the DCGANs); the others' widths are fixed.
        pack = m > 1: D takes m samples concatenated, (N/m, m*C, ...) -> logits (N/m,) (pack them
        with `reference.models.mitigations.pack`); minibatch_std: D appends the batch's standard
        deviation statistic before its last layer. A model without them raises ModelError.
        A conditional model needs `num_classes` (K): then G: (z (N, nz), y (N,)) -> x and
        D: (x, y) -> logits (N,).
        """
        self.check_options(pack, minibatch_std)
        options: dict[str, object] = {}  # only what is asked for: builders without options take none
        if self.conditional:
            if not num_classes:
                raise ModelError(f"model '{self.name}' is conditional and needs a labelled dataset (digits, mnist, fashion-mnist, cifar10)")
            options["num_classes"] = num_classes
        if pack != 1:
            options["pack"] = pack
        if minibatch_std:
            options["minibatch_std"] = True
        return self.builder(tuple(shape), nz, ngf, ndf, **options)

    def check_options(self, pack: int = 1, minibatch_std: bool = False) -> None:
        """ModelError (one line, naming the models that do) if D cannot take these options."""
        supported = [spec.name for spec in MODELS.values() if {"pack", "minibatch_std"} <= set(spec.d_options)]
        for flag, option, wanted in (("--pack", "pack", pack != 1), ("--minibatch-std", "minibatch_std", minibatch_std)):
            if wanted and option not in self.d_options:
                raise ModelError(
                    f"model '{self.name}' does not support {flag}; use --model {', '.join(supported)}, or drop {flag}"
                )


# ---- size policies -------------------------------------------------------------------------------


def _image(name: str, data_shape: Shape) -> Shape:
    """(C, H, W) of image data, or ModelError naming the model and the fix."""
    if data_shape == (2,):
        raise ModelError(
            f"model '{name}' needs image data; dataset shape (2,) is 2-D points: use --model mlp2d"
        )
    if len(data_shape) != 3:
        raise ModelError(
            f"model '{name}' needs image data (C, H, W); dataset shape {data_shape} is not an image"
        )
    return data_shape


def _side(name: str, data_shape: Shape, image_size: int | None) -> int:
    """Square side to train at: --image-size, else the data's native side (which must be square)."""
    if image_size is not None:
        if image_size <= 0:
            raise ModelError(f"model '{name}': --image-size must be positive, got {image_size}")
        return image_size
    _, height, width = data_shape
    if height != width:
        raise ModelError(
            f"model '{name}' needs square images; dataset shape {data_shape} is {height}x{width}: "
            f"set --image-size"
        )
    return height


def _resolve_mlp(name: str, data_shape: Shape, image_size: int | None) -> Shape:
    """Any image, flattened: native size unless --image-size is given."""
    channels, height, width = _image(name, data_shape)
    if image_size is None:
        return (channels, height, width)
    side = _side(name, data_shape, image_size)
    return (channels, side, side)


def _resolve_dcgan(name: str, data_shape: Shape, image_size: int | None) -> Shape:
    """Native size or --image-size, one of dcgan.SIZES."""
    channels = _image(name, data_shape)[0]
    side = _side(name, data_shape, image_size)
    if side not in dcgan.SIZES:
        sizes = ", ".join(map(str, dcgan.SIZES[:-1])) + f" or {dcgan.SIZES[-1]}"
        got = (
            f"--image-size {image_size}"
            if image_size is not None
            else f"{side}x{side} (dataset shape {data_shape})"
        )
        near = _nearest(dcgan.SIZES, side)
        native = data_shape[1] if data_shape[1] == data_shape[2] else None
        drop = ""
        if image_size is not None and native in dcgan.SIZES and native not in near:
            drop = f", or drop --image-size to train at the data's {native} px"
        raise ModelError(f"model '{name}' trains at {sizes} px, not {got}: use --image-size {' or '.join(map(str, near))}{drop}")
    return (channels, side, side)


def _nearest(sizes: tuple[int, ...], side: int, k: int = 2) -> list[int]:
    """The `k` sizes nearest to `side` (the smaller on a tie), in increasing order: 17 -> [28, 32]."""
    return sorted(sorted(sizes, key=lambda s: (abs(s - side), s))[:k])


def _fixed(side: int, alternative: str) -> Callable[[str, Shape, int | None], Shape]:
    """Policy of a model that always trains at side x side (inputs are resized)."""

    def resolve(name: str, data_shape: Shape, image_size: int | None) -> Shape:
        channels = _image(name, data_shape)[0]
        if image_size not in (None, side):
            raise ModelError(
                f"model '{name}' always trains at {side}x{side}, not --image-size {image_size} "
                f"(dataset shape {data_shape}): drop --image-size or use --model {alternative}"
            )
        return (channels, side, side)

    return resolve


def _resolve_tf_dcgan(name: str, data_shape: Shape, image_size: int | None) -> Shape:
    """Native size or --image-size, divisible by 4 (G starts at side/4)."""
    channels = _image(name, data_shape)[0]
    side = _side(name, data_shape, image_size)
    if side % 4:
        got = (
            f"--image-size {image_size}"
            if image_size is not None
            else f"dataset shape {data_shape}"
        )
        near = " or ".join(map(str, _nearest(tuple(range(4, side + 5, 4)), side)))
        raise ModelError(f"model '{name}' needs an image side divisible by 4, not {got}: use --image-size {near}")
    return (channels, side, side)


def _resolve_points(name: str, data_shape: Shape, image_size: int | None) -> Shape:
    """2-D points only; --image-size does not apply."""
    if data_shape != (2,):
        hint = ": use --model mlp or dcgan" if len(data_shape) == 3 else ""
        what = "an image" if len(data_shape) == 3 else "not 2-D points"
        raise ModelError(
            f"model '{name}' needs 2-D points; dataset shape {data_shape} is {what}{hint}"
        )
    if image_size is not None:
        raise ModelError(
            f"model '{name}' trains on 2-D points; "
            f"drop --image-size {image_size} (dataset shape (2,))"
        )
    return data_shape


# ---- registry ------------------------------------------------------------------------------------

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="mlp",
            description="one-hidden-layer MLP GAN of the classic MNIST notebooks (any image size)",
            output_range="tanh", kind="image", default_nz=100,
            resolver=_resolve_mlp, builder=mlp.build, d_options=("pack", "minibatch_std"),
        ),
        ModelSpec(
            name="dcgan",
            description="DCGAN of pytorch/examples, 28/32/64/128 px, widths set by --ngf/--ndf",
            output_range="tanh", kind="image", default_nz=100,
            resolver=_resolve_dcgan, builder=dcgan.build, d_options=("pack", "minibatch_std"), widths=True,
        ),
        ModelSpec(
            name="dcgan-resize",
            description="dcgan with resize-convolution in G (nearest upsampling + 3x3 conv): no checkerboard",
            output_range="tanh", kind="image", default_nz=100,
            resolver=_resolve_dcgan, builder=dcgan.build_resize, d_options=("pack", "minibatch_std"), widths=True,
        ),
        ModelSpec(
            name="cdcgan",
            description="conditional DCGAN: G(z, y) on z + one-hot y, D(x, y) on x + one-hot label planes",
            output_range="tanh", kind="image", default_nz=100,
            resolver=_resolve_dcgan, builder=conditional.build_concat, conditional=True, widths=True,
        ),
        ModelSpec(
            name="cdcgan-proj",
            description="conditional DCGAN with the projection discriminator (Miyato & Koyama 2018)",
            output_range="tanh", kind="image", default_nz=100,
            resolver=_resolve_dcgan, builder=conditional.build_projection, conditional=True, widths=True,
        ),
        ModelSpec(
            name="dcgan-1024",
            description="64x64 DCGAN of the paper's figure 1 (1024-channel bottleneck, dense ends)",
            output_range="tanh", kind="image", default_nz=100,
            resolver=_fixed(dcgan1024.SIZE, "dcgan"), builder=dcgan1024.build,
        ),
        ModelSpec(
            name="upsample",
            description="Keras FashionGAN tutorial: upsample+conv G, sigmoid output, 28x28",
            output_range="sigmoid", kind="image", default_nz=128,
            resolver=_fixed(upsample.SIZE, "dcgan"), builder=upsample.build,
        ),
        ModelSpec(
            name="tf-dcgan",
            description="DCGAN of the TensorFlow tutorial (5x5 kernels), side divisible by 4",
            output_range="tanh", kind="image", default_nz=100,
            resolver=_resolve_tf_dcgan, builder=tf_dcgan.build,
        ),
        ModelSpec(
            name="mlp2d",
            description="PacGAN MLP for the 2-D mixtures ring and grid (points data only)",
            output_range="none", kind="points", default_nz=2,
            resolver=_resolve_points, builder=mlp2d.build, d_options=("pack", "minibatch_std"),
        ),
    ]
}  # fmt: skip


def get_model(name: str) -> ModelSpec:
    """The ModelSpec called `name`; ModelError listing the choices if there is none."""
    try:
        return MODELS[name]
    except KeyError:
        from reference.config import did_you_mean

        raise ModelError(f"unknown model {name!r}{did_you_mean(name, MODELS)}; choose one of: {', '.join(MODELS)}") from None


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (requires_grad), Keras's "Trainable params"."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
