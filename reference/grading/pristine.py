"""The course's code in a worker as it was before the submission's cells ran, put back before each request.

The grader's probes (reference.grading.probes*, the learning runs of reference.grading.learning) run
in the worker, beside the student's code, which could rewrite them: a submission replaced
`learning.start_training` to train the course's own generator in place of its frozen one (4 of 4
learning points), and another renamed the module of the course's conditional generator, or emptied
`probes_a6.module_origins`, so that networks taken from the library passed as its own (9 of 9).

`Pristine.take()`, before any cell runs, records every module of the `reference` package then
loaded (the probes and what they use, imported first by `Pristine.take`), the bindings of each, and
of each class and function defined there (a class's attributes, a function's code, defaults and
closure cells' contents are not recorded: its code object, defaults and keyword defaults are);
`restore()` puts back whatever the cells changed, removes what they added, and puts the modules
back in sys.modules. Lists and dicts the course's code keeps as state are left as they are (their
identity is kept, their contents are its own).

This raises the bar; it is no boundary. The worker is the submission's process: code that rewrites
the worker itself can answer anything, so a check never trusts a report it can check itself (a3
reads the runs' checkpoint files) and the grader decides every score.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["PROBE_MODULES", "Pristine"]

PROBE_MODULES = (  # imported before the snapshot: every module a request may name, and what they import
    "reference.grading.probes", "reference.grading.probes_a1", "reference.grading.probes_a2", "reference.grading.probes_a3",
    "reference.grading.probes_a4", "reference.grading.probes_a5", "reference.grading.probes_a6", "reference.grading.learning",
    "reference.grading.submission", "reference.grading.checks", "reference.models", "reference.models.conditional",
    "reference.models.dcgan", "reference.models.mlp", "reference.data", "reference.metrics", "reference.losses",
)
_FUNCTION_PARTS = ("__code__", "__defaults__", "__kwdefaults__")


class Pristine:
    """A record of the `reference` package's modules in this process (see the module)."""

    def __init__(self) -> None:
        self.modules: dict[str, types.ModuleType] = {}
        self.bindings: dict[str, dict[str, Any]] = {}
        self.classes: list[tuple[type, dict[str, Any]]] = []
        self.functions: list[tuple[types.FunctionType, tuple]] = []

    @classmethod
    def take(cls) -> Pristine:
        for name in PROBE_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # a module the assignment masks (its stub refuses to import), or one it lacks
                pass
        record = cls()
        for name, module in list(sys.modules.items()):
            if not isinstance(module, types.ModuleType) or not (name == "reference" or name.startswith("reference.")):
                continue
            record.modules[name] = module
            record.bindings[name] = dict(vars(module))
            for value in vars(module).values():
                if isinstance(value, type) and getattr(value, "__module__", None) == name:
                    record.classes.append((value, dict(vars(value))))
                    for member in vars(value).values():
                        function = getattr(member, "__func__", member)  # staticmethod, classmethod
                        if isinstance(function, types.FunctionType):
                            record.functions.append((function, tuple(getattr(function, part) for part in _FUNCTION_PARTS)))
                elif isinstance(value, types.FunctionType) and value.__module__ == name:
                    record.functions.append((value, tuple(getattr(value, part) for part in _FUNCTION_PARTS)))
        return record

    def restore(self) -> None:
        """Put back every module, binding, class attribute and function body recorded."""
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
            _put_back(module.__dict__, self.bindings[name], lambda key, value, m=module: setattr(m, key, value),
                      lambda key, m=module: delattr(m, key))
        for kind, saved in self.classes:
            _put_back(kind.__dict__, saved, lambda key, value, k=kind: setattr(k, key, value), lambda key, k=kind: delattr(k, key))
        for function, parts in self.functions:
            for part, value in zip(_FUNCTION_PARTS, parts):
                if getattr(function, part) is not value:
                    try:
                        setattr(function, part, value)
                    except (TypeError, ValueError):  # a code object of another closure size: leave it (rare)
                        pass


def _put_back(now: Any, saved: dict[str, Any], put, remove) -> None:
    # added since: removed, but a submodule that an import bound on its package since is kept (the import
    # system binds it once, when it first loads it: `import reference.x.y` then `reference.x.y` would fail)
    for key in [key for key in now if key not in saved and not isinstance(now[key], types.ModuleType)]:
        try:
            remove(key)
        except (AttributeError, TypeError):
            pass
    for key, value in saved.items():
        if now.get(key, _MISSING) is not value:
            try:
                put(key, value)
            except (AttributeError, TypeError):  # read-only attributes of a type (__dict__, __weakref__)
                pass


_MISSING = object()
