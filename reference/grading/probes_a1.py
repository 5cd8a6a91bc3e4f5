"""Probes of a1_theory's checks: what a student's function returns, and whose code it runs.

Like every probe (see `reference.grading.probes`), these run next to the student's objects (in the
sandboxed worker when graded, in the student's kernel for the visible checks), measure, and
return plain data. They never judge: the checks in tests/autograders/test_a1_theory.py do.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

__all__ = ["modules_run", "number", "numbers"]


def modules_run(fn: Any, *args: Any) -> list[str]:
    """Call fn(*args) (its value is dropped); return the sorted `__name__`s of the modules whose
    Python functions ran during the call ("__main__" for the notebook's own, "torch.nn.functional"...)."""
    seen: set[str] = set()

    def profile(frame, event: str, _arg: Any) -> None:
        if event == "call":
            seen.add(str(frame.f_globals.get("__name__")))

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        fn(*args)
    finally:
        sys.setprofile(previous)
    return sorted(seen)


def number(fn: Any, *args: Any) -> dict:
    """Call fn(*args) and describe its value as a number.

    Returns {"type": the value's class name, "shape": [...] for a tensor, array or number ([] for a
    scalar) else None, "complex": bool, "values": its real part, flattened, float64 (n,), or None
    when the value is not numeric (a string, a bool, an object...)}.
    """
    return as_number(fn(*args))


def numbers(fn: Any, *args: Any) -> dict:
    """Call fn(*args), which should return a few numbers (a tuple or a list; a 1-D tensor or array
    of at most 4 numbers counts as a list of them, since it unpacks the same way), and describe them.

    Returns {"type": the value's class name, "items": [as_number(item) for its first 4 items] when
    the value is a tuple or a list, else None, "length": its length (None when not a tuple or list)}.
    """
    value = fn(*args)
    kind = type(value).__name__
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 1 and len(value) <= 4:
        value = list(value)  # unpacks like a tuple of numbers
    if not isinstance(value, (tuple, list)):
        return {"type": kind, "items": None, "length": None}
    return {"type": kind, "items": [as_number(item) for item in value[:4]], "length": len(value)}


def _plain(array: np.ndarray) -> np.ndarray:
    """`array` in a dtype torch reads: NumPy's extended precision (np.longdouble, np.clongdouble: float128 on x86-64),
    which torch.from_numpy refuses, as float64 (complex128); an array of Python objects that are each a real number of
    another library (fractions.Fraction, decimal.Decimal, mpmath's mpf, sympy's Float: each has __float__) as float64.
    Strings, bools and anything else stay as they are: they are not numbers."""
    if array.dtype.kind in "fc" and array.dtype.itemsize > (8 if array.dtype.kind == "f" else 16):
        return array.astype(np.float64 if array.dtype.kind == "f" else np.complex128)
    if array.dtype.kind == "O" and array.size and all(
            hasattr(type(item), "__float__") and not isinstance(item, (str, bytes, bool, np.bool_)) for item in array.flat):
        return array.astype(np.float64)
    return array


def as_number(value: Any) -> dict:
    """What `number` returns for `value`."""
    out: dict[str, Any] = {"type": type(value).__name__, "shape": None, "complex": False, "values": None}
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu()
    elif isinstance(value, (bool, np.bool_)):
        return out
    else:
        try:
            array = np.asarray(value)
            array = _plain(array)
        except Exception:  # noqa: BLE001 - anything numpy cannot read is not a number
            return out
        if array.dtype.kind not in "iufc":
            return out
        data = torch.from_numpy(np.array(array, copy=True))  # a copy keeps 0-dim (ascontiguousarray would not)
    out["shape"] = list(data.shape)
    if data.dtype == torch.bool:
        return out
    out["complex"] = bool(data.is_complex())
    out["values"] = (data.real if data.is_complex() else data).to(torch.float64).reshape(-1).clone()
    return out
