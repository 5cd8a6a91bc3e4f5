"""Names NumPy and SciPy removed after versions the course admits, put back while a submission is graded.

The course admits numpy>=1.24 and scipy>=1.10 (pyproject.toml). A student's kernel (Colab's NumPy 2.0,
say) may still have `np.trapz` or `scipy.integrate.simps`, which the grader's newer versions removed:
code right under an admitted version, whose visible checks passed in the student's kernel, scored 0
where it called them. While a submission is graded (in the sandbox's worker, and in `grade_in_process`)
each removed name that is missing is bound to its successor, the same rule under its new name. A
student's own kernel is left as it is: there a missing name fails at once, and the checks say what
it became (a1's `removed_integrator`).

The worker binds them lazily (`restore_removed_names_on_import`): importing scipy.integrate costs about a
second of a busy core, paid at every worker start before; now a module not yet imported gets its names
bound right after a submission imports it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["REMOVED", "removed_names_restored", "restore_removed_names", "restore_removed_names_on_import"]


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


def _bind(module: Any) -> list[tuple[Any, str]]:
    """Bind the removed names of REMOVED that `module` lacks to their successors; [(module, name)] of those bound."""
    bound = []
    for (module_name, old), (new, adapt) in REMOVED.items():
        if module_name == module.__name__ and not hasattr(module, old) and hasattr(module, new):
            setattr(module, old, adapt(getattr(module, new)))
            bound.append((module, old))
    return bound


def restore_removed_names() -> list[tuple[Any, str]]:
    """Bind every removed name of REMOVED that its module lacks to its successor, importing the modules;
    [(module, name)] of those bound."""
    bound = []
    for module_name in dict.fromkeys(name for name, _ in REMOVED):
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
    for module_name in dict.fromkeys(name for name, _ in REMOVED):
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
        for module, old in bound:
            with contextlib.suppress(AttributeError):
                delattr(module, old)
