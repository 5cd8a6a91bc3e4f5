"""Names NumPy and SciPy removed after versions the course admits, put back while a submission is graded.

The course admits numpy>=2.0 and scipy>=1.13 (pyproject.toml). A student's kernel (Colab's NumPy 2.0,
say) may still have `np.trapz` or `scipy.integrate.simps`, which the grader's newer versions removed:
code right under an admitted version, whose visible checks passed in the student's kernel, scored 0
where it called them. While a submission is graded (in the sandbox's worker, and in `grade_in_process`)
each removed name that is missing is bound to its successor, the same rule under its new name. A
student's own kernel is left as it is: there a missing name fails at once, and the checks say what
it became (a1's `removed_integrator`).

One call changed instead: `scipy.linalg.sqrtm(A, disp=False)` (pytorch-fid's FID, copied into many
notebooks) returns (sqrt, error estimate) in the SciPy versions the course admits; SciPy 1.17 deprecated
`disp` and fails on a torch tensor with it, SciPy 1.18 removes it. Graded, `sqrtm` takes `disp` and any
array-like as the admitted versions did (CHANGED).

The worker binds them lazily (`restore_removed_names_on_import`): importing numpy and scipy.integrate
made a worker's start 0.8-1.0 s on busy cores against 0.2 s without them, paid at every worker start;
now a module not yet imported gets its names bound right after a submission imports it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["CHANGED", "REMOVED", "removed_names_restored", "restore_removed_names", "restore_removed_names_on_import"]


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


def _bind(module: Any) -> list[tuple[Any, str, Any]]:
    """Bind the removed names of REMOVED that `module` lacks to their successors, and the names of CHANGED to their
    old behaviour; [(module, name, what it was: None when missing)] of those bound."""
    bound = []
    for (module_name, old), (new, adapt) in REMOVED.items():
        if module_name == module.__name__ and not hasattr(module, old) and hasattr(module, new):
            setattr(module, old, adapt(getattr(module, new)))
            bound.append((module, old, None))
    for (module_name, name), adapt in CHANGED.items():
        current = getattr(module, name, None) if module_name == module.__name__ else None
        if current is not None and not getattr(current, "_course_compat", False):
            setattr(module, name, adapt(current))
            bound.append((module, name, current))
    return bound


def _sqrtm(new: Callable[..., Any]) -> Callable[..., Any]:
    """scipy.linalg.sqrtm(A, disp=True, blocksize=64) as SciPy 1.13-1.16 have it, in terms of the current sqrtm:
    A converted to an array first; with disp=False, (X, ||X X - A||_F^2 / ||A||_F) as those versions returned."""
    import numpy as np

    def sqrtm(A: Any, disp: bool = True, blocksize: int = 64) -> Any:
        A = np.asarray(A)
        X = new(A)
        if disp:
            return X
        try:
            error = np.linalg.norm(X @ X - A, "fro") ** 2 / np.linalg.norm(A, "fro")
        except ValueError:
            error = np.inf
        return X, error

    sqrtm._course_compat = True  # type: ignore[attr-defined]  # bound once, however often a module is bound
    return sqrtm


# (module, name): how the current function becomes the one the admitted versions had (bound whatever the module has)
CHANGED: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("scipy.linalg", "sqrtm"): _sqrtm,
}
MODULES = tuple(dict.fromkeys(name for name, _ in [*REMOVED, *CHANGED]))


def restore_removed_names() -> list[tuple[Any, str, Any]]:
    """`_bind` on every module of REMOVED and CHANGED, importing them; [(module, name, what it was)] of those bound."""
    bound = []
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # SciPy is a dependency of the course; a module that is missing has nothing to restore
            continue
        bound += _bind(module)
    return bound


class _BindAfterLoading(importlib.abc.Loader):
    """The module's own loader, then `_bind` on the module it executed; any other attribute is the loader's."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _bind(module)


class _BindOnImport(importlib.abc.MetaPathFinder):
    """Finds the modules of REMOVED through the finders after it, their loaders wrapped in `_BindAfterLoading`."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _BindAfterLoading(spec.loader)
                return spec
        return None


def restore_removed_names_on_import() -> None:
    """`restore_removed_names` for the modules already imported; each other module of REMOVED gets its names bound
    when it is first imported (an import hook), so that a process that never imports it never pays for it."""
    waiting = set()
    for module_name in MODULES:
        module = sys.modules.get(module_name)
        if module is not None:
            _bind(module)
        else:
            waiting.add(module_name)
    if waiting:
        sys.meta_path.insert(0, _BindOnImport(waiting))


@contextlib.contextmanager
def removed_names_restored() -> Iterator[None]:
    """`restore_removed_names` for the length of the block, then the modules as they were (the grader's own
    process, where a student's kernel is also emulated, must not keep them)."""
    bound = restore_removed_names()
    try:
        yield
    finally:
        for module, name, was in reversed(bound):
            if was is not None:
                setattr(module, name, was)
            else:
                with contextlib.suppress(AttributeError):
                    delattr(module, name)
