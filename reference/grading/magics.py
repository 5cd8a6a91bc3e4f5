"""What a Jupyter kernel gives every cell, for cells run without one (the grading worker, `execute_notebook`).

A kernel gives each cell `get_ipython()`, IPython's magics and a built-in `display`. Graded
cells run as plain Python (`reference.grading.notebook.run_cell`, which turns `%time x = f()`
into `get_ipython().run_line_magic("time", "x = f()")`), so `install(namespace)` puts there:

- `get_ipython`: a `NotebookShell`, whose magics that run Python run it in the notebook's namespace
  as a kernel does (%time, %timeit, %prun, %run and the cell magics %%time, %%timeit, %%prun,
  %%capture, %%writefile), so a training cell under `%%time` trains when graded too, and an error in
  it is that cell's error. Shell commands (`!pip install ...`, %pip, %%bash, %cd) and the magics that
  only show something or set up the kernel (%matplotlib, %load_ext, %%html) do nothing. A cell magic
  of another kind raises `MagicNotRun`, which names it: its body, unknown here, is not run.
- `display`: IPython's `display` as it works without a kernel (it prints each object), whose
  `display_id=True` returns a handle that prints again on `update`.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from reference.grading.notebook import has_value, run_cell

__all__ = ["MagicNotRun", "NotebookShell", "display", "install"]

RUN_CELL_MAGICS = ("time", "timeit", "prun", "capture", "writefile", "file", "debug")
QUIET_CELL_MAGICS = frozenset({  # magics whose body is not Python run in the notebook: nothing happens when graded
    "bash", "sh", "script", "!", "system", "sx", "perl", "ruby", "python", "python2", "python3", "pypy",
    "html", "HTML", "markdown", "latex", "javascript", "js", "svg",
})
_TIMEIT_OPTIONS = re.compile(r"^\s*(?:-[nrp]\s*\S+|-[tcqo])\s*")


class MagicNotRun(Exception):
    """A cell magic that grading cannot run: the cell's code did not run."""


class _Handle:
    """What `display(obj, display_id=True)` returns: `update(obj)` shows `obj` again."""

    def __init__(self, display_id: str) -> None:
        self.display_id = display_id

    def display(self, obj: Any, **kwargs: Any) -> None:
        display(obj)

    def update(self, obj: Any, **kwargs: Any) -> None:
        display(obj)


def display(*objs: Any, display_id: Any = None, **kwargs: Any) -> _Handle | None:
    """IPython's `display` without a kernel: print each object (its repr); a handle for `display_id`."""
    if objs:
        print(*objs)
    if display_id:
        return _Handle(str(display_id))
    return None


class NotebookShell:
    """`get_ipython()` for a notebook's cells run in `namespace` without a kernel (see the module)."""

    def __init__(self, namespace: dict) -> None:
        self.user_ns = self.user_global_ns = namespace

    def __call__(self) -> NotebookShell:  # the namespace's `get_ipython` is the shell itself
        return self

    def __repr__(self) -> str:
        return "<NotebookShell: a notebook graded without a kernel>"

    # ---------------------------------------------------------------------------- line magics
    def run_line_magic(self, magic_name: str, line: str, _stack_depth: int = 1) -> Any:
        """`%name line`: %time and %timeit (run once) run `line` where the magic stands; %run runs a
        script into the namespace; %env and %pwd answer as IPython's; every other one does nothing."""
        caller = sys._getframe(_stack_depth)
        if magic_name == "time":
            return self._timed(line, caller.f_globals, caller.f_locals)
        if magic_name in ("timeit", "prun", "debug"):
            self._run(_strip_timeit_options(line) if magic_name == "timeit" else line, caller.f_globals, caller.f_locals)
            return None
        if magic_name == "run":
            return self._run_script(line)
        if magic_name == "env":
            return self._env(line)
        if magic_name == "pwd":
            return os.getcwd()
        return None

    # ---------------------------------------------------------------------------- cell magics
    def run_cell_magic(self, magic_name: str, line: str, cell: str) -> Any:
        """`%%name line` over `cell`: see the module. Returns what the cell's last expression gives."""
        if magic_name == "time":
            return self._timed(cell, self.user_ns, self.user_ns)
        if magic_name in ("timeit", "prun", "debug"):
            setup = _strip_timeit_options(line) if magic_name == "timeit" else ""
            if setup.strip():
                self._run(setup, self.user_ns, self.user_ns)
            self._run(cell, self.user_ns, self.user_ns)
            return None
        if magic_name == "capture":
            return self._capture(line, cell)
        if magic_name in ("writefile", "file"):
            return self._writefile(line, cell)
        if magic_name in QUIET_CELL_MAGICS:
            return None
        raise MagicNotRun(
            f"the cell magic %%{magic_name} does not run when graded, so this cell's code did not run "
            f"(graded cells run %%time, %%timeit, %%prun, %%capture and %%writefile); take %%{magic_name} out of the cell"
        )

    # ---------------------------------------------------------------------------- shell commands
    def system(self, cmd: str) -> None:
        """`!cmd`: not run when graded (no installs, no network)."""
        return None

    def getoutput(self, cmd: str, split: bool = True, depth: int = 0) -> list[str]:
        """`x = !cmd`: not run; an empty list."""
        return []

    # ---------------------------------------------------------------------------- helpers
    def _run(self, source: str, globals_: dict, locals_: Any) -> Any:
        if locals_ is globals_:
            return run_cell(source, globals_, "magic")
        return run_cell(source, globals_, "magic", locals_)

    def _timed(self, source: str, globals_: dict, locals_: Any) -> Any:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        value = self._run(source, globals_, locals_)
        print(f"CPU times: total: {time.process_time() - start_cpu:.3g} s\nWall time: {time.perf_counter() - start_wall:.3g} s")
        return value if has_value(value) else None

    def _capture(self, line: str, cell: str) -> None:
        from IPython.utils.capture import CapturedIO

        words = line.split()
        name = next((word for word in words if not word.startswith("-")), None)
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr
        sys.stdout = saved[0] if "--no-stdout" in words else out
        sys.stderr = saved[1] if "--no-stderr" in words else err
        try:
            self._run(cell, self.user_ns, self.user_ns)
        finally:
            sys.stdout, sys.stderr = saved
            if name is not None and name.isidentifier():
                self.user_ns[name] = CapturedIO(out, err, [])

    def _writefile(self, line: str, cell: str) -> None:
        words = shlex.split(line)
        append = "-a" in words or "--append" in words
        names = [word for word in words if word not in ("-a", "--append")]
        if not names:
            raise MagicNotRun("%%writefile needs a file name: %%writefile name.py")
        path = Path(os.path.expanduser(names[0]))
        print(f"{'Appending to' if append else 'Overwriting' if path.exists() else 'Writing'} {names[0]}")
        with open(path, "a" if append else "w", encoding="utf-8") as fh:
            fh.write(cell if cell.endswith("\n") or not cell else cell + "\n")

    def _run_script(self, line: str) -> None:
        words = shlex.split(line)
        scripts = [word for word in words if not word.startswith("-")]
        if not scripts or not scripts[0].endswith(".py"):
            return None
        path = Path(os.path.expanduser(scripts[0]))
        source = path.read_text(encoding="utf-8")
        if "-i" in words:
            self._run(source, self.user_ns, self.user_ns)
            return None
        scope = {"__name__": "__main__", "__file__": str(path), "__builtins__": self.user_ns.get("__builtins__", __builtins__)}
        saved_argv = sys.argv
        sys.argv = [str(path), *scripts[1:]]
        try:
            run_cell(source, scope, "magic")
        finally:
            sys.argv = saved_argv
        self.user_ns.update({key: value for key, value in scope.items() if key not in ("__name__", "__file__", "__builtins__")})
        return None

    def _env(self, line: str) -> Any:
        line = line.strip()
        if not line:
            return dict(os.environ)
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\s*=\s*|\s+)(.*)$", line)
        if match:
            os.environ[match.group(1)] = match.group(2)
            return None
        return os.environ.get(line)


def _strip_timeit_options(line: str) -> str:
    previous = None
    while previous != line:
        previous, line = line, _TIMEIT_OPTIONS.sub("", line)
    return line


def install(namespace: dict) -> NotebookShell:
    """Give `namespace` what a kernel gives every cell: `get_ipython` and `display`."""
    shell = NotebookShell(namespace)
    namespace.update({"get_ipython": shell, "display": display})
    return shell
