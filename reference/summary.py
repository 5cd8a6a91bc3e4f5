"""Keras-style `model.summary()` tables for PyTorch modules, so lessons can compare with tutorials.

    print(summarize(netG, (100,), "Generator"))
    print(summary_text(get_model("mlp"), (1, 28, 28), nz=100))

One row per leaf module that runs in a forward pass on a batch of 2: its qualified name and type,
its output shape with None for the batch (e.g. ``(None, 128, 7, 7)``) and its own parameter count.
Unlike Keras, BatchNorm running statistics are buffers, not parameters, so they are not counted.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference.models import ModelSpec, count_parameters

__all__ = ["summarize", "summary_text"]

HEADERS = ("Layer (type)", "Output Shape", "Param #")


def _shape(output: object) -> str:
    """Keras-style shape of a module output: (None, C, H, W) for a tensor (N, C, H, W)."""
    if isinstance(output, Tensor):
        return str((None, *output.shape[1:]))
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape(o) for o in output)
    return type(output).__name__


@torch.no_grad()
def _trace(module: nn.Module, input_shape: tuple[int, ...], num_classes: int | None = None) -> list[tuple[str, str, int]]:
    """(name (type), output shape, own parameters) of each leaf module, in call order.

    num_classes: the module is conditional and also takes labels (2,), here 0 and 1."""
    rows: list[tuple[str, str, int]] = []
    handles = []
    for name, sub in module.named_modules():
        if next(sub.children(), None) is not None:
            continue
        label = f"{name or type(sub).__name__.lower()} ({type(sub).__name__})"
        own = sum(p.numel() for p in sub.parameters(recurse=False))

        def hook(
            _m: nn.Module, _inputs: object, output: object, label: str = label, own: int = own
        ) -> None:
            rows.append((label, _shape(output), own))

        handles.append(sub.register_forward_hook(hook))

    modes = {sub: sub.training for sub in module.modules()}
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        module.eval()
        x = torch.randn(2, *input_shape, device=device)
        module(x) if num_classes is None else module(x, torch.arange(2, device=device) % num_classes)
    finally:
        for handle in handles:
            handle.remove()
        for sub, training in modes.items():
            sub.training = training
    return rows


def summarize(module: nn.Module, input_shape: tuple[int, ...], title: str, num_classes: int | None = None) -> str:
    """Keras-style table of `module` run on a random batch (2, *input_shape), in eval mode
    (with labels 0 and 1 when a conditional module's `num_classes` is given).

    input_shape excludes the batch: (nz,) for a generator, (C, H, W) or (2,) for a discriminator.
    The module's training flags are restored afterwards. Ends with Total/Trainable/Non-trainable
    params lines (with thousands separators, as Keras prints them).
    """
    rows = [(label, shape, f"{own:,}") for label, shape, own in _trace(module, input_shape, num_classes)]
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) + 2 for i in range(3)]
    rule = sum(widths)

    def line(cells: tuple[str, str, str]) -> str:
        return "".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    total = sum(p.numel() for p in module.parameters())
    trainable = count_parameters(module)
    return "\n".join(
        [
            f'Model: "{title}"',
            "_" * rule,
            line(HEADERS),
            "=" * rule,
            *[line(row) for row in rows],
            "=" * rule,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            "_" * rule,
        ]
    )


def summary_text(
    spec: ModelSpec, shape: tuple[int, ...], nz: int, ngf: int = 64, ndf: int = 64, num_classes: int = 10
) -> str:
    """Both networks' tables for `spec` at sample `shape`, ending with exactly these two lines:

        Generator parameters: N
        Discriminator parameters: N

    (trainable counts, plain integers) so scripts and graders can read them back. A conditional
    model is built for `num_classes` classes (every labelled dataset of the course has 10).
    """
    labels = num_classes if spec.conditional else None
    netG, netD = spec.build(shape, nz, ngf, ndf, num_classes=labels)
    return "\n".join(
        [
            summarize(netG, (nz,), f"{spec.name} generator", labels),
            "",
            summarize(netD, tuple(shape), f"{spec.name} discriminator", labels),
            "",
            f"Generator parameters: {count_parameters(netG)}",
            f"Discriminator parameters: {count_parameters(netD)}",
        ]
    )
