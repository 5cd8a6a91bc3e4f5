"""Names NumPy and SciPy removed after versions the course admits, put back while a submission is graded.

The course admits numpy>=1.24 and scipy>=1.10 (pyproject.toml). A student's kernel (Colab's NumPy 2.0,
say) may still have `np.trapz` or `scipy.integrate.simps`, which the grader's newer versions removed:
code right under an admitted version, whose visible checks passed in the student's kernel, scored 0
where it called them. While a submission is graded (in the sandbox's worker, and in `grade_in_process`)
each removed name that is missing is bound to its successor, the same rule under its new name. A
student's own kernel is left as it is: there a missing name fails at once, and the checks say what
it became (a1's `removed_integrator`).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["REMOVED", "removed_names_restored", "restore_removed_names"]


def _simps(simpson: Callable[..., Any]) -> Callable[..., Any]:
    """scipy.integrate.simps(y, x=None, dx=1.0, axis=-1, even=None) in terms of simpson, whose x became
    keyword-only and whose `even` is gone (its rule for an even number of samples is the old default's
    refinement: the two agree far within the checks' tolerance on the grids the course uses)."""

    def simps(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1, even: Any = None) -> Any:
        return simpson(y, x=x, dx=dx, axis=axis)

    return simps


# (module, removed name): (its successor's name, how the successor becomes the old name's function)
REMOVED: dict[tuple[str, str], tuple[str, Callable[[Any], Any]]] = {
    ("numpy", "trapz"): ("trapezoid", lambda new: new),  # removed in NumPy 2.4; the same signature
    ("scipy.integrate", "trapz"): ("trapezoid", lambda new: new),  # removed in SciPy 1.14
    ("scipy.integrate", "cumtrapz"): ("cumulative_trapezoid", lambda new: new),
    ("scipy.integrate", "simps"): ("simpson", _simps),
}


def restore_removed_names() -> list[tuple[Any, str]]:
    """Bind every removed name of REMOVED that its module lacks to its successor; [(module, name)] of those bound."""
    bound = []
    for (module_name, old), (new, adapt) in REMOVED.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # SciPy is a dependency of the course; a module that is missing has nothing to restore
            continue
        if not hasattr(module, old) and hasattr(module, new):
            setattr(module, old, adapt(getattr(module, new)))
            bound.append((module, old))
    return bound


@contextlib.contextmanager
def removed_names_restored() -> Iterator[None]:
    """`restore_removed_names` for the length of the block, then the modules as they were (the grader's own
    process, where a student's kernel is also emulated, must not keep them)."""
    bound = restore_removed_names()
    try:
        yield
    finally:
        for module, old in bound:
            with contextlib.suppress(AttributeError):
                delattr(module, old)
