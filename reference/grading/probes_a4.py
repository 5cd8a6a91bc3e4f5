"""Probes of a4_cifar10_port: what the student's loader and networks do, measured next to them.

`tests/autograders/test_a4_cifar10_port.py` runs these with `submission.run(...)`: in the
sandboxed worker when a submission is graded, in the student's kernel for the visible checks.
Like every probe (see `reference.grading.probes`) they measure and return plain data and never
judge. An exception of the student's code is caught and returned as `error_info` (its type, first
line, the notebook function it passed through), so that the check can say which layer or call
failed; the check words the fault and the fix.

`step_run` runs the student's whole training step on lesson 02's scene (`reference.checks.lesson_02`:
a tiny seeded MLP GAN, SGD, leftover gradients in every parameter), which the grader makes and sends,
and returns what the step did; the check compares that with the trainer's own step on the same scene.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from reference.grading.probes import build as seeded_build
from reference.grading.probes import describe, error_info, module_summary, record_calls

__all__ = ["attempt", "error_info", "first_batch", "make", "step_run", "trace"]

REPR_LIMIT = 160  # characters of a layer's extra_repr kept


def attempt(fn: Any, namespace: dict | None, *args: Any, **kwargs: Any) -> dict:
    """fn(*args, **kwargs): {"value": its value or None, "error": error_info or None}."""
    try:
        return {"value": fn(*args, **kwargs), "error": None}
    except Exception as err:  # noqa: BLE001 - measured, not judged
        return {"value": None, "error": error_info(err, namespace)}


def make(factory: Any, seed: int, namespace: dict | None = None, kwargs: dict | None = None) -> dict:
    """factory(**kwargs) built with torch's CPU generator seeded with `seed`.

    Returns {"model": the object or None, "summary": module_summary(object) or None,
    "error": error_info or None}.
    """
    try:
        model = seeded_build(factory, seed, **(kwargs or {}))
    except Exception as err:  # noqa: BLE001 - the student's constructor failed: measured, not judged
        return {"model": None, "summary": None, "error": error_info(err, namespace)}
    return {"model": model, "summary": module_summary(model), "error": None}


def trace(model: Any, x: torch.Tensor, namespace: dict | None = None) -> dict:
    """model(x) under no_grad, with every module call recorded (registered in `model` or not).

    Returns {"output": the output if a tensor else None, "output_type": describe(output),
    "calls": [{"name": registered name in model ("" itself) or None, "type": class name,
    "repr": extra_repr, "leaf": no child modules, "scale": a norm layer's mean weight (`_norm_scale`) or None,
    "in": input shape, "out": output shape or None
    (did not finish), "in_channels", "out_channels", "in_features" (None if the layer has none), "weights":
    number of parameter and buffer elements}], "failed": index in calls of the leaf that raised
    or None, "error": error_info or None}.
    """
    names = {id(m): name for name, m in model.named_modules()} if isinstance(model, nn.Module) else {}

    def layer(mod: nn.Module) -> dict:
        return {
            "name": names.get(id(mod)),
            "type": type(mod).__name__,
            "repr": _extra_repr(mod),
            "leaf": next(iter(mod.children()), None) is None,
            "in_channels": _int(getattr(mod, "in_channels", None)),
            "out_channels": _int(getattr(mod, "out_channels", None)),
            "in_features": _int(getattr(mod, "in_features", None)),
            "weights": sum(t.numel() for t in (*mod.parameters(recurse=False), *mod.buffers(recurse=False))),
            "scale": _norm_scale(mod),
        }

    run = record_calls(lambda: model(x), layer, namespace)
    out = run["out"]
    return {
        "output": out.detach() if isinstance(out, torch.Tensor) else None,
        "output_type": None if run["error"] is not None else describe(out),
        "calls": run["calls"],
        "failed": run["failed"],
        "error": run["error"],
    }


def _norm_scale(mod: nn.Module) -> float | None:
    """The mean size |gamma| of a normalisation layer's learned scale (BatchNorm's weight), None for other layers
    or a norm without one (affine=False)."""
    weight = getattr(mod, "weight", None)
    if "Norm" not in type(mod).__name__ or not isinstance(weight, torch.Tensor) or not weight.numel():
        return None
    value = float(weight.detach().double().abs().mean())
    return value if math.isfinite(value) else None


def _extra_repr(mod: nn.Module) -> str:
    """The module's extra_repr ("64, 32, kernel_size=(4, 4), ..."), "" when it cannot be made."""
    try:
        return str(mod.extra_repr())[:REPR_LIMIT]
    except Exception:  # noqa: BLE001 - a custom module's own repr failing is no fault of its forward
        return ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dataset_size(loader: Any) -> int | None:
    """len(loader.dataset), or None when the loader has no dataset with a length."""
    try:
        size = len(loader.dataset)
    except Exception:  # noqa: BLE001 - no dataset, or one without __len__: nothing to measure
        return None
    return size if isinstance(size, int) else None


def first_batch(make_loader: Any, root: str, batch_size: int, namespace: dict | None = None) -> dict:
    """make_loader(root, batch_size=batch_size) and its first batch, with torchvision's CIFAR-10
    md5 checks turned into existence checks (`reference.metrics.quick_fid.cifar10_checksums_off`).

    Returns {"stage": "make" | "iterate" | "done" (where it stopped), "error": error_info or None,
    "loader": class name, "dataset_size": len(loader.dataset) when it has one, else None, "iterator": whether
    the loader is an iterator (iterating it again goes on where it is, not a new epoch: a generator,
    itertools.cycle, iter(DataLoader)), "empty":
    the loader yielded nothing, "batch": describe(batch), "length":
    len(batch) for a tuple or list, "images": the batch's first item (or the batch) if a tensor,
    "images_type": describe(that item), "second_type": describe(the batch's second item) or None, "images_again":
    the images of a second iteration's first batch (None if it has none)}.
    """
    from reference.metrics.quick_fid import cifar10_checksums_off

    result: dict[str, Any] = {"stage": "make", "error": None, "loader": None, "dataset_size": None, "iterator": None, "empty": False, "batch": None,
                              "length": None, "images": None, "images_type": None, "second_type": None, "images_again": None}
    with cifar10_checksums_off():
        try:
            loader = make_loader(root, batch_size=batch_size)
        except Exception as err:  # noqa: BLE001 - measured, not judged
            result["error"] = error_info(err, namespace)
            return result
        result["stage"], result["loader"] = "iterate", type(loader).__name__
        result["dataset_size"] = _dataset_size(loader)
        result["iterator"] = isinstance(loader, Iterator)  # a generator, itertools.cycle, iter(DataLoader): one pass
        try:
            batch = next(iter(loader))
        except StopIteration:
            result["empty"], result["stage"] = True, "done"
            return result
        except Exception as err:  # noqa: BLE001 - measured, not judged
            result["error"] = error_info(err, namespace)
            return result
    result["stage"], result["batch"] = "done", describe(batch)
    images = batch
    if isinstance(batch, (tuple, list)):
        result["length"] = len(batch)
        images = batch[0] if batch else None
        result["second_type"] = describe(batch[1]) if len(batch) > 1 else None
    result["images_type"] = describe(images)
    result["images"] = images.detach() if isinstance(images, torch.Tensor) else None
    with cifar10_checksums_off():
        try:  # a second epoch's first batch: a shuffled loader draws a new order
            again = next(iter(loader))
        except Exception:  # noqa: BLE001 - the first epoch's batch is what the check judges
            again = None
    if isinstance(again, (tuple, list)):
        again = again[0] if again else None
    result["images_again"] = again.detach() if isinstance(again, torch.Tensor) else None
    return result


def _loss_value(value: Any) -> float | str:
    """A returned loss as a float (a number or a one-element tensor), else describe(value)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach().reshape(()))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return describe(value)


def _flat(params: Any) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def _fresh(params: Any, leftover: list[torch.Tensor]) -> bool:
    """Some parameter holds a gradient other than the one left in it before the step."""
    return any(p.grad is not None and not torch.equal(p.grad, g) and bool(p.grad.abs().sum() > 0)
               for p, g in zip(params, leftover))


def step_run(step: Any, scene: dict, namespace: dict | None = None) -> dict:
    """step(G, D, opt_g, opt_d, real, z) once, on the scene the grader sends (lesson 02's, made by
    `reference.checks.lesson_02.scene()` in the grader: the visible checks stay out of the sandbox).

    scene: {"shape": image shape (C, H, W), "nz", "lr", "G0", "D0": state dicts of `reference.models.mlp`'s G and D,
    "real": (N, C, H, W) in [-1, 1], "z": (N, nz), "leftover_g", "leftover_d": the .grad each parameter holds before
    the step, as after an earlier step}. Both optimisers are SGD at lr.

    Returns {"error": error_info or None, "returned": describe(the return value), "losses": [loss_D, loss_G] as
    floats (an entry describe()s what is not a number) or None when the step did not return a pair, "D", "G": both
    networks' parameters after the step, flattened, "steps_d", "steps_g": how often opt_d and opt_g stepped,
    "steps_other": steps of any other optimiser, "fresh_d", "fresh_g": some parameter of D, of G holds a gradient
    other than its leftover, "g_backwards": backward passes that reached G's first parameter, "g_eval": G ran in
    eval mode, "g_left_eval": G is in eval mode after the step, "other_z": G ran, never on the z given, "frozen": some
    parameter is left with requires_grad=False}.
    """
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    from reference.models import mlp

    G, D = mlp.build(tuple(scene["shape"]), int(scene["nz"]))
    G.load_state_dict(scene["G0"])
    D.load_state_dict(scene["D0"])
    G.train(), D.train()
    for net, leftover in ((D, scene["leftover_d"]), (G, scene["leftover_g"])):
        for p, g in zip(net.parameters(), leftover):
            p.grad = g.clone()
    opt_g = torch.optim.SGD(G.parameters(), lr=float(scene["lr"]))
    opt_d = torch.optim.SGD(D.parameters(), lr=float(scene["lr"]))
    z = scene["z"]
    modes: list[bool] = []
    seen: list[torch.Tensor] = []

    def watch(module: nn.Module, args: tuple) -> None:
        modes.append(module.training)
        if args and isinstance(args[0], torch.Tensor):
            seen.append(args[0].detach().clone())

    stepped: list = []
    passes: list[bool] = []
    hooks = [G.register_forward_pre_hook(watch), register_optimizer_step_pre_hook(lambda opt, args, kwargs: stepped.append(opt)),
             next(G.parameters()).register_post_accumulate_grad_hook(lambda _p: passes.append(True))]
    out, error = None, None
    try:
        with torch.random.fork_rng(devices=[]):
            out = step(G, D, opt_g, opt_d, scene["real"].clone(), z.clone())
    except Exception as err:  # noqa: BLE001 - measured, not judged
        error = error_info(err, namespace)
    finally:
        for hook in hooks:
            hook.remove()
    pair = isinstance(out, (tuple, list)) and len(out) == 2
    return {
        "error": error,
        "returned": describe(out),
        "losses": [_loss_value(v) for v in out] if pair else None,
        "D": _flat(D.parameters()),
        "G": _flat(G.parameters()),
        "steps_d": sum(o is opt_d for o in stepped),
        "steps_g": sum(o is opt_g for o in stepped),
        "steps_other": sum(o is not opt_d and o is not opt_g for o in stepped),
        "fresh_d": _fresh(D.parameters(), scene["leftover_d"]),
        "fresh_g": _fresh(G.parameters(), scene["leftover_g"]),
        "g_backwards": len(passes),
        "g_eval": not all(modes),
        "g_left_eval": not G.training,
        "other_z": bool(seen) and not any(x.shape == z.shape and torch.equal(x, z) for x in seen),
        "frozen": not all(p.requires_grad for p in (*G.parameters(), *D.parameters())),
    }
