"""Checks in the student's own kernel, and where checks are found.

- `grade(assignment, name, globals())`: what a test cell calls. In a student's kernel (the visible
  checks, for self-feedback) it runs the check on the notebook's own globals; nothing is protected
  there, and none needs to be. Graded submissions never run it: `gan-course autograde` and plain
  `nbgrader autograde` run the checks in the grader's process (reference.grading.preprocessors). Prints one line
  such as "a3 saves at epochs 10, 20, 30: 1/3 points - saved at epochs 0, 10, 20; expected 10, 20"
  and returns the earned points, which nbgrader reads as the cell's partial credit. What the student's own code
  prints during the check comes first, cut to its first lines (`StudentPrints`).
- `execute_notebook(path)`: run a notebook's code cells in this process (plain pytest, trusted).
- `load_checks(assignment)`: the checks, from `tests/autograders/test_<assignment>.py` under the
  course root (the nearest folder above the working directory with nbgrader_config.py, or
  $GAN_COURSE_ROOT), else from the installed package, `reference/checks/<assignment>.py` (the
  visible checks and the lessons' checks: they run from any folder, on Colab too).
- `try_it()`: a `with` block for cells that call the student's code outside a check: an error is
  printed with a hint instead of stopping "Run All".
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from reference.errors import UserError
from reference.grading.checks import CheckNotFound, is_check, quiet, run_check, title
from reference.grading.magics import install
from reference.grading.notebook import CellError, first_source_line, is_test_cell, run_cell
from reference.grading.submission import LocalSubmission

__all__ = ["course_root", "check_module_path", "execute_notebook", "find_check", "grade", "load_checks", "score_line", "try_it"]

PACKAGE_CHECKS = Path(__file__).resolve().parents[1] / "checks"  # reference/checks/
ROOT_ENV = "GAN_COURSE_ROOT"


def course_root(start: str | os.PathLike | None = None) -> Path | None:
    """$GAN_COURSE_ROOT, else the nearest folder at or above `start` (cwd) with nbgrader_config.py."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).expanduser().resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    return None


def check_module_path(assignment: str, root: str | os.PathLike | None = None) -> Path:
    """tests/autograders/test_<assignment>.py under the course root (an instructor's checkout), else
    reference/checks/<assignment>.py in the installed package (visible checks, lesson checks)."""
    base = Path(root) if root is not None else course_root()
    if base is not None and (full := base / "tests" / "autograders" / f"test_{assignment}.py").is_file():
        return full
    if assignment.replace("_", "").isalnum() and (shipped := PACKAGE_CHECKS / f"{assignment}.py").is_file():
        return shipped
    known = sorted(p.stem for p in PACKAGE_CHECKS.glob("*.py") if p.stem != "__init__")
    raise CheckNotFound(
        f"no checks for {assignment!r}: the course's checks are {', '.join(known)}; "
        f"reinstall the course (pip install -e .) if one is missing"
    )


_modules: dict[tuple[str, int], types.ModuleType] = {}


def load_module(path: Path) -> types.ModuleType:
    """The check module at `path`, imported once per version of the file, without writing its bytecode
    beside it (grading left a __pycache__ folder in the course's tests/autograders/)."""
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _modules:
        name = f"gan_course_checks_{len(_modules)}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            spec.loader.exec_module(module)
        finally:
            sys.dont_write_bytecode = saved
        _modules[key] = module
    return _modules[key]


def load_checks(assignment: str, root: str | os.PathLike | None = None) -> dict[str, Callable]:
    """The checks of `assignment`, by name, in the order the module defines them."""
    module = load_module(check_module_path(assignment, root))
    found = getattr(module, "ASSIGNMENT", assignment)
    if found != assignment:
        raise CheckNotFound(f"{module.__file__} holds the checks of {found!r}, not {assignment!r}")
    return {name: fn for name, fn in vars(module).items() if is_check(fn) and name.startswith("test_")}


def find_check(assignment: str, name: str, root: str | os.PathLike | None = None) -> Callable:
    """Check `name` of `assignment` (see `load_checks`); CheckNotFound if it does not exist."""
    checks = load_checks(assignment, root)
    if name not in checks:
        raise CheckNotFound(f"{assignment!r} has no check {name!r}; its checks: {', '.join(checks) or 'none'}")
    return checks[name]


def score_line(assignment: str, fn: Callable, earned: float, message: str) -> str:
    """"a3 <check title>: <earned>/<points> points[ - <message>]" ("lesson 01 <title>: ..." for a lesson)."""
    label = assignment.replace("_", " ") if assignment.startswith("lesson_") else assignment.split("_")[0]
    line = f"{label} {title(fn)}: {earned:g}/{fn.points:g} points"
    return line + (f" - {message}" if message else "")


def grade(assignment: str, name: str, namespace: dict[str, Any]) -> float | None:
    """Run check `name` of `assignment` on a notebook's `namespace` (pass `globals()`); print its
    line. Nothing reaches stderr. Returns the earned points, which nbgrader reads as a test cell's
    partial credit; for a lesson's check ("lesson_NN") None, so that the cell shows its line only."""
    fn = find_check(assignment, name)
    printed = StudentPrints()
    with quiet(), contextlib.redirect_stdout(printed), kept_random_state():
        earned, message = run_check(fn, LocalSubmission(namespace))
    if shown := printed.shown():
        print(shown)
    print(score_line(assignment, fn, earned, message))
    return None if assignment.startswith("lesson_") else earned


@contextlib.contextmanager
def kept_random_state() -> Iterator[None]:
    """Run the block, then put back the notebook's random generators as they were before it: torch's CPU generator
    (and CUDA's, once the notebook has started CUDA; on a Mac, Apple's MPS one), NumPy's global one and Python's
    `random`. A check builds networks and calls the student's functions, which draw numbers; without this, a check
    cell would change what every later unseeded cell of the notebook draws, and a notebook would run differently
    with its checks (on a Mac the student's code trains on MPS with `device="auto"`, drawing from MPS's generator)."""
    import random

    import numpy as np
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    python_state, numpy_state = random.getstate(), np.random.get_state()
    mps_state = torch.mps.get_rng_state() if torch.backends.mps.is_available() else None
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if mps_state is not None:
            torch.mps.set_rng_state(mps_state)


class StudentPrints(io.TextIOBase):
    """What the student's code prints while a check calls it, kept up to `lines` lines and `chars` characters.

    A check calls the student's function once per case, so a debugging print inside it would otherwise fill the
    cell with one copy per case before the check's line; the rest is counted, not kept (an endless print loop
    costs no memory), and `shown()` says how much was left out."""

    def __init__(self, lines: int = 12, chars: int = 2000) -> None:
        self.limit_lines, self.limit_chars = lines, chars
        self.text, self.lines = "", 0  # what is kept, and its newlines
        self.cut, self.more_lines = False, 0  # whether anything was left out, and the newlines left out

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        take = "" if self.cut else text
        end = -1
        for _ in range(self.limit_lines - self.lines):  # up to the last line there is room for
            if (end := take.find("\n", end + 1)) < 0:
                break
        else:
            take = take[: end + 1]
        take = take[: self.limit_chars - len(self.text)]
        self.text += take
        self.lines += take.count("\n")
        if rest := text[len(take):]:
            self.cut = True
            self.more_lines += rest.count("\n")
        return len(text)

    def shown(self) -> str:
        """The kept text without its last newline, with a line saying how much more was printed ("" if nothing)."""
        text = self.text.rstrip("\n")
        if self.cut:
            more = f"{self.more_lines} more line{'s' * (self.more_lines != 1)}" if self.more_lines else "more"
            text += (f"\n... (your code printed {more} while the check called it, not shown here: "
                     f"a check calls your functions once per case)")
        return text


class try_it:  # noqa: N801 - used as `with try_it():`, like a function
    """`with try_it(): ...` around calls to the student's code in a "try it" cell.

    An exception inside the block is printed and not raised, so that "Run All" goes on to the next
    cells and their checks: a function still raising NotImplementedError gets one line saying so;
    any other error its traceback and a line saying what to do.
    """

    def __enter__(self) -> "try_it":
        self.namespace = sys._getframe(1).f_globals  # the cell's globals: the notebook's namespace
        return self

    def __exit__(self, kind: type | None, err: BaseException | None, tb: Any) -> bool:
        if err is None or not isinstance(err, Exception):
            return False  # KeyboardInterrupt and SystemExit go through
        import traceback

        if isinstance(err, NotImplementedError) and (name := self._raised_in(tb)):
            print(f"`{name}` is not implemented yet: it raises NotImplementedError (replace that line with your code); "
                  f"the next cells still run")
            return True
        traceback.print_exception(kind, err, tb, file=sys.stdout)
        print(f"-> {type(err).__name__} above: fix your code and run this cell again (the next cells still run)")
        return True

    def _raised_in(self, tb: Any) -> str:
        """The innermost function defined in the notebook that `tb` passes through ("" if none):
        the one whose stub raised, not a function of the student's that called it."""
        name = ""
        while tb is not None:
            code = tb.tb_frame.f_code
            if tb.tb_frame.f_globals is self.namespace and code.co_name != "<module>":
                name = getattr(code, "co_qualname", code.co_name).split(".<locals>.")[-1]
            tb = tb.tb_next
        return name


# ---------------------------------------------------------------------------------------------
# Executing a notebook in this process (trusted notebooks only)
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _environment(workdir: Path, grading: bool = True) -> Iterator[None]:
    """cwd = workdir (also first on sys.path), NBGRADER_EXECUTION=autograde (unset with grading=False), Agg plots."""
    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in ("NBGRADER_EXECUTION", "MPLBACKEND")}
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    if grading:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    else:
        os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ["MPLBACKEND"] = "Agg"
    try:
        yield
    finally:
        os.chdir(old_cwd)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(workdir))
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


class ExecutedNotebook(LocalSubmission):
    """A notebook run by `execute_notebook`: a LocalSubmission whose `close()` removes its copy."""

    def __init__(self, namespace: dict[str, Any], cell_errors: list[CellError], workdir: Path, path: Path) -> None:
        super().__init__(namespace, cell_errors, workdir)
        self.workdir, self.path = workdir, path

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        name = self.namespace.get("__name__", "")
        if sys.modules.get(name) is not None and sys.modules[name].__dict__ is self.namespace:
            del sys.modules[name]


_counter = 0


def execute_notebook(path: str | os.PathLike, *, grading: bool = True) -> ExecutedNotebook:
    """Run the code cells of the notebook at `path` in this process; return its submission.

    For trusted notebooks only (the solutions, in plain pytest): the student's code would share
    this process. Cells run in a fresh module namespace, in order, with the working directory a
    temporary copy of the notebook's folder and NBGRADER_EXECUTION=autograde set (grading=False: unset,
    as in a student's kernel); nbgrader test cells are skipped; a cell that raises is recorded and the
    next cell runs. A notebook that starts with a UTF-8 byte-order mark (what some editors other than Jupyter save)
    is read without it: nbformat refuses the mark, not the notebook.
    """
    import nbformat

    global _counter
    path = Path(path).resolve()
    if not path.is_file():
        raise UserError(f"notebook {path} does not exist; pass the path of a .ipynb file")
    try:
        nb = nbformat.reads(path.read_bytes().decode("utf-8-sig"), as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise UserError(f"{path} is not a readable notebook ({type(err).__name__}); pass a .ipynb file") from None
    workdir = Path(tempfile.mkdtemp(prefix="gan-course-grade-"))
    shutil.copytree(path.parent, workdir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _counter += 1
    module = types.ModuleType(f"gan_course_submission_{_counter}")
    sys.modules[module.__name__] = module  # classes defined in cells can be pickled and inspected
    namespace = module.__dict__
    namespace["__builtins__"] = builtins
    install(namespace)  # get_ipython (its magics) and display, as a kernel gives them
    errors: list[CellError] = []
    with _environment(workdir, grading):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or is_test_cell(cell):
                continue
            try:
                run_cell(cell.source, namespace, index)
            except (Exception, SystemExit) as err:  # noqa: BLE001 - record and go on, like a kernel
                from reference.grading.checks import first_line

                errors.append(CellError(index, first_source_line(cell.source), type(err).__name__, first_line(err), cell.source))
    return ExecutedNotebook(namespace, errors, workdir, path)


def grade_in_process(
    path: str | os.PathLike, assignment: str, root: str | os.PathLike | None = None, *, only: Iterable[str] | None = None
) -> dict[str, tuple[float, str]]:
    """Every check of `assignment` (or `only` these) on the notebook at `path`, cells and checks in
    this process, as nbgrader's own kernel would: {check name: (earned, message)}. Trusted notebooks
    only (the solutions, the tests' honest submissions, timing comparisons); students' notebooks go
    to `reference.grading.runner`."""
    from reference.grading.compat import removed_names_restored
    from reference.grading.runner import checks_in_order

    base = Path(root) if root is not None else course_root()
    if base is None:
        raise UserError(f"no course root above {Path.cwd()}; pass root= or run this in the course folder")
    checks = checks_in_order(assignment, base, only)  # the order the sandboxed grading runs them in
    with removed_names_restored():  # as the worker has them (reference.grading.compat)
        sub = execute_notebook(path)
        try:
            with _environment(sub.workdir), quiet():  # as the cells ran: the checks call their functions
                return {name: run_check(fn, sub) for name, fn in checks.items()}
        finally:
            sub.close()
