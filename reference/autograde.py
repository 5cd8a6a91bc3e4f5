"""The grading runtime: run a notebook's code, run point-carrying checks on it, explain the score.

The checks themselves live in the course's `tests/autograders/test_<assignment>.py` (one pytest
module per assignment, the single source of truth); this module holds no check and no answer. It
gives them what they need:

- `check(points, visible=False)`: the decorator that marks a function as a check worth `points`.
  `visible=True` checks are the ones students may run before submitting.
- `Partial(points, message)`: raise it from a check to award part of the points.
- `Submission`: what a check receives. `submission.get("train")` is the student's object, or a
  failure that says why it is missing ("`train` is not defined: ...").
- `execute_notebook(path)`: run a notebook's code cells in this process, skipping nbgrader's test
  cells, recording (not raising) each cell's exception; returns its `Submission`.
- `run_check(fn, submission)`: (earned points, message); "" when the check passes.
- `grade(assignment, name, namespace)`: what an nbgrader test cell calls. It runs one check on the
  notebook's own globals with stderr and warnings captured (nbgrader gives 0 to a test cell that
  writes to stderr), prints one line such as
  "a3 saves at epochs 10, 20, 30: 1/3 points - saved at epochs 0, 10, 20; expected 10, 20"
  and returns the earned points, which nbgrader reads as the cell's partial credit.

A test cell in a source notebook::

    from reference.autograde import grade
    grade("a3_save_every_10_epochs", "test_saves_at_epochs_10_20_30", globals())

Checks are found under the course root (the nearest folder above the working directory that holds
`nbgrader_config.py`, or `$GAN_COURSE_ROOT`); where the course has no `tests/` (a student's copy),
the visible checks come from `visible_checks.py` beside the notebook, which
`python -m reference.autograde visible <assignment>` extracts from the check module.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.util
import io
import os
import re
import shutil
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference.errors import UserError

__all__ = [
    "CellError",
    "answered",
    "CheckFailure",
    "CheckNotFound",
    "Partial",
    "Submission",
    "check",
    "course_root",
    "execute_notebook",
    "find_check",
    "grade",
    "grade_notebook",
    "load_checks",
    "outcome",
    "run_check",
    "visible_source",
]

VISIBLE_FILE = "visible_checks.py"
ROOT_ENV = "GAN_COURSE_ROOT"


# ---------------------------------------------------------------------------------------------
# Declaring checks
# ---------------------------------------------------------------------------------------------


def check(points: float, visible: bool = False) -> Callable[[Callable], Callable]:
    """Mark `fn(submission)` as a check worth `points`; `visible` ones ship to students.

    Sets `fn.points` (float) and `fn.visible` (bool). A check passes by returning, fails by raising
    AssertionError (its message is what the student reads), or earns part by raising `Partial`.
    """
    if points <= 0:
        raise ValueError(f"a check is worth more than 0 points, got {points}")

    def mark(fn: Callable) -> Callable:
        fn.points = float(points)
        fn.visible = bool(visible)
        return fn

    return mark


class Partial(Exception):
    """Raised by a check to award `points` (0 <= points <= the check's points) with a message."""

    def __init__(self, points: float, message: str) -> None:
        super().__init__(message)
        self.points = float(points)
        self.message = message


class CheckFailure(AssertionError):
    """A check failed for a reason the check states itself (e.g. a missing name)."""


class CheckNotFound(UserError):
    """grade() was asked for a check that no check module defines."""


# ---------------------------------------------------------------------------------------------
# The student's notebook, executed
# ---------------------------------------------------------------------------------------------


@dataclass
class CellError:
    """An exception raised by a notebook cell while `execute_notebook` ran it.

    index: the cell's position in the notebook (0-based, all cell types counted). first_line: the
    first non-empty line of its source, to find it by. type, message: the exception's.
    """

    index: int
    first_line: str
    type: str
    message: str
    source: str = ""

    def describe(self) -> str:
        """"the cell starting `def train(...` raised ValueError: bad"."""
        return f"the cell starting `{self.first_line}` raised {self.type}: {self.message}"


@dataclass
class Submission:
    """The objects a notebook defined, as the checks see them.

    namespace: the notebook's globals. cell_errors: exceptions recorded by `execute_notebook`
    ([] when the namespace comes from a live kernel). workdir: the folder the notebook ran in.
    """

    namespace: dict[str, Any]
    cell_errors: list[CellError] = field(default_factory=list)
    workdir: Path | None = None
    path: Path | None = None

    def get(self, name: str) -> Any:
        """The student's object called `name`; a CheckFailure saying why if it does not exist."""
        if name in self.namespace:
            return self.namespace[name]
        raise CheckFailure(f"`{name}` is not defined: {self.why_missing(name)}")

    def __contains__(self, name: object) -> bool:
        return name in self.namespace

    def why_missing(self, name: str) -> str:
        """The exception of the cell that should have defined `name`, when known."""
        for err in self.cell_errors:
            if _defines(err.source, name):
                return err.describe()
        sources = self.namespace.get("In")  # a live IPython kernel keeps every executed cell here
        if isinstance(sources, list) and any(isinstance(s, str) and _defines(s, name) for s in sources):
            return "the cell that defines it raised an error before defining it; fix that cell and run it again"
        return "was it renamed or its cell not run?"

    def is_student_frame(self, frame: types.FrameType) -> bool:
        """True when `frame` runs code the notebook defined (its globals are the notebook's)."""
        return frame.f_globals is self.namespace

    def close(self) -> None:
        """Remove `workdir` and the notebook's module if `execute_notebook` made them."""
        if self.workdir is not None and self.workdir.name.startswith("gan-course-grade-"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        name = self.namespace.get("__name__", "")
        if name.startswith("gan_course_submission_") and sys.modules.get(name) is not None:
            if sys.modules[name].__dict__ is self.namespace:
                del sys.modules[name]


def _assigned_names(tree: ast.AST) -> set[str]:
    """Names bound at the top level of a cell (not inside functions or classes)."""
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    targets(t)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
            for attr in ("body", "orelse", "finalbody"):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(getattr(node, attr, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                visit(handler.body)

    visit(getattr(tree, "body", []))
    return names


def _defines(source: str, name: str) -> bool:
    """Does this cell source bind `name` at its top level? (A regex guess if it does not parse.)"""
    try:
        return name in _assigned_names(ast.parse(_python_source(source)))
    except SyntaxError:
        pattern = rf"^(def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*(:[^=]*)?=[^=]"
        return re.search(pattern, source, flags=re.MULTILINE) is not None


def _python_source(source: str) -> str:
    """Cell source with IPython syntax (%magics, !shell) turned into Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython: drop magic and shell lines
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    return TransformerManager().transform_cell(source)


class _NoIPython:
    """`get_ipython()` for cells run outside a kernel: magics and shell commands do nothing."""

    def run_line_magic(self, *args: Any, **kwargs: Any) -> None:
        return None

    def run_cell_magic(self, *args: Any, **kwargs: Any) -> None:
        return None

    def system(self, *args: Any, **kwargs: Any) -> None:
        return None

    def getoutput(self, *args: Any, **kwargs: Any) -> list[str]:
        return []


def _is_test_cell(cell: Any) -> bool:
    """An nbgrader autograder test cell: graded, and not a solution cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


@contextlib.contextmanager
def _environment(workdir: Path) -> Iterator[None]:
    """cwd = workdir (also first on sys.path), NBGRADER_EXECUTION=autograde, Agg plots."""
    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in ("NBGRADER_EXECUTION", "MPLBACKEND")}
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    os.environ["NBGRADER_EXECUTION"] = "autograde"
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


_counter = 0


def execute_notebook(path: str | os.PathLike) -> Submission:
    """Run the code cells of the notebook at `path` in this process; return its `Submission`.

    The cells run in a fresh module namespace, in order, with the working directory a temporary
    copy of the notebook's folder (`Submission.workdir`; `close()` removes it) and
    NBGRADER_EXECUTION=autograde set, as under `nbgrader autograde`. nbgrader test cells are
    skipped (the checks run separately). A cell that raises is recorded in `cell_errors` and the
    next cell runs, as in a kernel with errors allowed.
    """
    import nbformat

    global _counter
    path = Path(path).resolve()
    if not path.is_file():
        raise UserError(f"notebook {path} does not exist; pass the path of a .ipynb file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise UserError(f"{path} is not a readable notebook ({type(err).__name__}); pass a .ipynb file") from None
    workdir = Path(tempfile.mkdtemp(prefix="gan-course-grade-"))
    shutil.copytree(path.parent, workdir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _counter += 1
    module = types.ModuleType(f"gan_course_submission_{_counter}")
    sys.modules[module.__name__] = module  # classes defined in cells can be pickled and inspected
    namespace = module.__dict__
    namespace.update({"__builtins__": builtins, "get_ipython": _NoIPython})
    errors: list[CellError] = []
    with _environment(workdir):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or _is_test_cell(cell):
                continue
            source = cell.source
            first = next((line.strip() for line in source.splitlines() if line.strip()), "")
            try:
                code = compile(_python_source(source), f"<cell {index}>", "exec")
                exec(code, namespace)  # noqa: S102 - running the student's notebook is the point
            except (Exception, SystemExit) as err:  # noqa: BLE001 - record and go on, like a kernel
                errors.append(CellError(index, first[:60], type(err).__name__, _first_line(err), source))
    return Submission(namespace, errors, workdir, path)


# nbgrader's solution delimiters, spelled in two parts so that the student bundle's leak check
# (reference.bundle) does not take this file for one that holds a solution
_DELIMITERS = tuple("### " + " ".join(parts) for parts in (("BEGIN", "SOLUTION"), ("END", "SOLUTION")))


def answered(release: str | os.PathLike, source: str | os.PathLike) -> Any:
    """The student version at `release` with every solution cell answered as in `source`.

    release: a notebook made by `nbgrader generate_assignment`; source: its source notebook (in
    solutions/). Each cell with nbgrader's `solution` flag gets the source cell of the same
    grade_id, without the solution delimiters: the submission of a student who wrote the model
    answers, for timing and testing the grading. Returns an nbformat notebook (not written).
    """
    import nbformat

    answers = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nbformat.read(source, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = answers[meta["grade_id"]].splitlines()
            cell.source = "\n".join(line for line in lines if line.strip() not in _DELIMITERS)
    return nb


# ---------------------------------------------------------------------------------------------
# Running checks
# ---------------------------------------------------------------------------------------------


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _student_frame_name(err: BaseException, submission: Submission) -> str | None:
    """The outermost notebook-defined function the exception passed through, if any."""
    tb = err.__traceback__
    while tb is not None:
        if submission.is_student_frame(tb.tb_frame):
            code = tb.tb_frame.f_code
            return getattr(code, "co_qualname", code.co_name)
        tb = tb.tb_next
    return None


def outcome(fn: Callable, err: BaseException | None, submission: Submission) -> tuple[float, str]:
    """(earned, message) for check `fn` that raised `err` (None: it passed) on `submission`."""
    points = float(getattr(fn, "points", 0.0))
    if err is None:
        return points, ""
    if isinstance(err, Partial):
        return min(max(err.points, 0.0), points), err.message
    student = _student_frame_name(err, submission)
    if student is not None:
        name = student.split(".<locals>.")[-1]
        if isinstance(err, NotImplementedError):
            return 0.0, f"`{name}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"
        return 0.0, f"calling `{name}` raised {type(err).__name__}: {_first_line(err)}"
    if isinstance(err, AssertionError):
        message = str(err).strip()
        return 0.0, message or f"{fn.__name__} failed"
    return 0.0, f"the check stopped with {type(err).__name__}: {_first_line(err)}"


def run_check(fn: Callable, submission: Submission) -> tuple[float, str]:
    """Run check `fn` on `submission`: (earned points, message); (points, "") when it passes."""
    try:
        fn(submission)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any failure costs this check only
        return outcome(fn, err, submission)
    return outcome(fn, None, submission)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Capture stderr (Python and file descriptor 2), silence warnings and progress bars."""
    old_tqdm = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    saved_fd = None
    with contextlib.ExitStack() as stack:
        try:
            sys.stderr.flush()
            saved_fd = os.dup(2)
            sink = stack.enter_context(tempfile.TemporaryFile())
            os.dup2(sink.fileno(), 2)
        except (OSError, ValueError, AttributeError):
            saved_fd = None
        stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            if saved_fd is not None:
                os.dup2(saved_fd, 2)
                os.close(saved_fd)
            if old_tqdm is None:
                os.environ.pop("TQDM_DISABLE", None)
            else:
                os.environ["TQDM_DISABLE"] = old_tqdm


# ---------------------------------------------------------------------------------------------
# Finding checks
# ---------------------------------------------------------------------------------------------


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
    """The check module of `assignment`: tests/autograders/test_<assignment>.py under the course
    root, else `visible_checks.py` in the working directory (the student's copy)."""
    base = Path(root) if root is not None else course_root()
    if base is not None and (full := base / "tests" / "autograders" / f"test_{assignment}.py").is_file():
        return full
    visible = Path.cwd() / VISIBLE_FILE
    if visible.is_file():
        return visible
    where = f"{base / 'tests' / 'autograders'} or " if base is not None else ""
    raise CheckNotFound(
        f"no checks for {assignment!r} in {where}{visible}; run the notebook from its own folder "
        f"(assignments/{assignment}/) or set {ROOT_ENV} to the course folder"
    )


_modules: dict[tuple[str, int], types.ModuleType] = {}


def _load_module(path: Path) -> types.ModuleType:
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _modules:
        name = f"gan_course_checks_{len(_modules)}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[key] = module
    return _modules[key]


def load_checks(assignment: str, root: str | os.PathLike | None = None) -> dict[str, Callable]:
    """The checks of `assignment`, by name, in the order the module defines them."""
    module = _load_module(check_module_path(assignment, root))
    found = getattr(module, "ASSIGNMENT", assignment)
    if found != assignment:
        raise CheckNotFound(f"{module.__file__} holds the checks of {found!r}, not {assignment!r}")
    return {name: fn for name, fn in vars(module).items() if callable(fn) and hasattr(fn, "points") and name.startswith("test_")}


def find_check(assignment: str, name: str, root: str | os.PathLike | None = None) -> Callable:
    """Check `name` of `assignment` (see `load_checks`); CheckNotFound if it does not exist."""
    checks = load_checks(assignment, root)
    if name not in checks:
        raise CheckNotFound(f"{assignment!r} has no check {name!r}; its checks: {', '.join(checks) or 'none'}")
    return checks[name]


def grade_notebook(
    path: str | os.PathLike, assignment: str, root: str | os.PathLike | None = None
) -> dict[str, tuple[float, str]]:
    """Execute the notebook at `path` and run every check of `assignment` on it, quietly, with the
    working directory the notebook's temporary copy: {check name: (earned points, message)}."""
    checks = load_checks(assignment, root)
    submission = execute_notebook(path)
    old = os.getcwd()
    os.chdir(submission.workdir)
    try:
        with _quiet():
            return {name: run_check(fn, submission) for name, fn in checks.items()}
    finally:
        os.chdir(old)
        submission.close()


def title(fn: Callable) -> str:
    """A check's title: its docstring's first line, else its name without "test_"."""
    doc = (fn.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else fn.__name__.removeprefix("test_").replace("_", " ")


def grade(assignment: str, name: str, namespace: dict[str, Any]) -> float:
    """Run check `name` of `assignment` on a notebook's `namespace` (pass `globals()`).

    Prints "<a3> <check title>: <earned>/<points> points[ - <message>]" and returns the earned
    points, so the value of an nbgrader test cell is its partial credit. Nothing reaches stderr.
    """
    fn = find_check(assignment, name)
    submission = Submission(namespace)
    with _quiet():
        earned, message = run_check(fn, submission)
    short = assignment.split("_")[0]
    line = f"{short} {title(fn)}: {earned:g}/{fn.points:g} points"
    print(line + (f" - {message}" if message else ""))
    return earned


# ---------------------------------------------------------------------------------------------
# The visible checks students get
# ---------------------------------------------------------------------------------------------


def _is_check(node: ast.stmt) -> tuple[bool, bool]:
    """(is a @check-decorated function, is visible)."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False, False
    for dec in node.decorator_list:
        call = dec if isinstance(dec, ast.Call) else None
        func = call.func if call else dec
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if fname == "check":
            visible = any(
                kw.arg == "visible" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                for kw in (call.keywords if call else [])
            )
            return True, visible
    return False, False


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return _assigned_names(ast.Module(body=[node], type_ignores=[]))
    return set()


def visible_source(source: str, origin: str = "the check module") -> str:
    """The visible part of a check module: its imports, ASSIGNMENT, the `visible=True` checks and
    the module-level helpers they use (transitively). Hidden checks and unused helpers are left out.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the module docstring describes every check; write our own
    keep: list[ast.stmt] = []
    helpers: dict[str, ast.stmt] = {}
    for node in body:
        is_check, visible = _is_check(node)
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (is_check and visible):
            keep.append(node)
        elif "ASSIGNMENT" in _bound_names(node):
            keep.append(node)
        elif not is_check:
            for name in _bound_names(node):
                helpers[name] = node
    wanted: list[ast.stmt] = list(keep)
    todo = list(keep)
    while todo:
        node = todo.pop()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in helpers and helpers[sub.id] not in wanted:
                wanted.append(helpers[sub.id])
                todo.append(helpers[sub.id])
    chosen = [node for node in body if node in wanted]

    def segment(node: ast.stmt) -> str:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "\n".join(lines[start - 1 : node.end_lineno])

    header = (
        f'"""The visible checks of this assignment: run them from the notebook\'s test cells.\n\n'
        f"Generated from {origin} by `python -m reference.autograde visible`; do not edit.\n"
        f'The hidden checks that also grade your submission are not included."""\n'
    )
    parts, previous = [], None
    for node in chosen:
        is_block = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        if previous is not None:
            parts.append("\n\n\n" if is_block or previous else "\n")
        parts.append(segment(node))
        previous = is_block
    return header + "\n" + "".join(parts) + "\n"


def write_visible(assignment: str, root: str | os.PathLike | None = None) -> Path:
    """Write solutions/<assignment>/visible_checks.py from tests/autograders/test_<assignment>.py."""
    from reference.io import write_text_atomic

    base = Path(root) if root is not None else course_root()
    if base is None:
        raise UserError(f"no course root above {Path.cwd()}; run this in the course folder or set {ROOT_ENV}")
    module = base / "tests" / "autograders" / f"test_{assignment}.py"
    folder = base / "solutions" / assignment
    if not module.is_file():
        raise UserError(f"no check module {module}; write it first (one per assignment)")
    if not folder.is_dir():
        raise UserError(f"no source folder {folder}; the assignment id must match solutions/<id>/")
    out = folder / VISIBLE_FILE
    write_text_atomic(out, visible_source(module.read_text(), f"tests/autograders/{module.name}"))
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m reference.autograde visible <assignment>...`: refresh visible_checks.py files."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] != "visible":
        print("usage: python -m reference.autograde visible <assignment> [<assignment> ...]", file=sys.stderr)
        return 2
    try:
        for assignment in args[1:]:
            print(write_visible(assignment))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
