"""Notebooks as the grader reads them: cells, test cells and the checks they name, cell execution.

The one parser of the course's test cells lives here: `graded_cells(nb)` says, for each nbgrader
test cell of a source notebook, which checks it runs (`grade("<assignment>", "<check>", globals())`
calls) and which of those sit in a hidden region (between nbgrader's hidden-tests delimiters). The runner grades by it, the visible-check extraction and the student bundle's leak check
ask it what is visible.

`run_cell(source, namespace)` runs one cell's code the way a kernel would (IPython syntax turned
into Python, the value of a last expression returned) and is used by both the sandboxed worker and
the in-process executor.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from reference.grading.checks import with_known_fix

__all__ = [
    "CellError",
    "CheckCall",
    "GradedCell",
    "answered",
    "assigned_names",
    "defines",
    "is_test_cell",
    "python_source",
    "run_cell",
    "graded_cells",
]

# nbgrader's delimiters, spelled in parts so that the student bundle's leak check (reference.bundle)
# does not take this file for one that holds a solution or a hidden test
_BEGIN, _END = "### " + "BEGIN", "### " + "END"
SOLUTION_DELIMITERS = (f"{_BEGIN} SOLUTION", f"{_END} SOLUTION")
HIDDEN_DELIMITERS = (f"{_BEGIN} HIDDEN TESTS", f"{_END} HIDDEN TESTS")


@dataclass
class CellError:
    """An exception a notebook cell raised while it ran.

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
        return f"the cell starting `{self.first_line}` raised {with_known_fix(self.type, self.message)}"


@dataclass(frozen=True)
class CheckCall:
    """One `grade("<assignment>", "<name>", globals())` in a test cell; `hidden` inside a hidden region."""

    assignment: str
    name: str
    hidden: bool


@dataclass
class GradedCell:
    """An nbgrader test cell: its grade_id, points, position and the checks it runs."""

    grade_id: str
    points: float
    index: int
    calls: list[CheckCall] = field(default_factory=list)


def is_test_cell(cell: Any) -> bool:
    """An nbgrader autograder test cell: graded, and not a solution cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def check_calls(source: str) -> list[CheckCall]:
    """The `grade(assignment, name, ...)` calls of a test cell's source, in order.

    Both arguments must be string literals; a call inside a hidden-tests region is hidden.
    """
    hidden_lines: set[int] = set()
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == HIDDEN_DELIMITERS[0]:
            inside = True
        elif stripped == HIDDEN_DELIMITERS[1]:
            inside = False
        elif inside:
            hidden_lines.add(number)
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        args = node.args[:2]
        if name == "grade" and len(args) == 2 and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            calls.append(((node.lineno, node.col_offset), CheckCall(args[0].value, args[1].value, node.lineno in hidden_lines)))
    return [call for _, call in sorted(calls, key=lambda item: item[0])]  # ast.walk is breadth-first


def graded_cells(nb: Any) -> list[GradedCell]:
    """Every nbgrader test cell of notebook `nb` (an nbformat node) with the checks it runs."""
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and is_test_cell(cell):
            meta = cell.metadata["nbgrader"]
            calls = check_calls(cell.source)
            cells.append(GradedCell(str(meta.get("grade_id", f"cell-{index}")), float(meta.get("points", 0) or 0), index, calls))
    return cells


def assigned_names(tree: ast.AST) -> set[str]:
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
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for attr in ("body", "orelse", "finalbody"):
                    visit(getattr(node, attr, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                visit(handler.body)

    visit(getattr(tree, "body", []))
    return names


def defines(source: str, name: str) -> bool:
    """Does this cell source bind `name` at its top level (in its body, under a cell magic such as
    %%time)? (A regex guess if it does not parse.)"""
    if source.lstrip().startswith("%%"):
        source = source.lstrip().partition("\n")[2]
    try:
        return name in assigned_names(ast.parse(python_source(source)))
    except SyntaxError:
        pattern = rf"^(def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*(:[^=]*)?=[^=]"
        return re.search(pattern, source, flags=re.MULTILINE) is not None


def why_missing(name: str, cell_errors: list[CellError], namespace: dict | None = None) -> str:
    """Why the notebook defines no `name`: the error of the cell that should have, when known."""
    for err in cell_errors:
        if defines(err.source, name):
            return err.describe()
    for err in cell_errors:  # a cell that fills `name` (name[key] = ..., name.append) before any cell binds it
        if err.type == "NameError" and f"name '{name}' is not defined" in err.message:
            filled = re.search(rf"\b{re.escape(name)}\s*\[[^\]]*\]\s*=[^=]", err.source) is not None
            return (f"{err.describe()}: that cell uses `{name}` before any cell assigns it; assign it first"
                    + (f" ({name} = {{}}, then {name}[...] = ...)" if filled else ""))
    sources = (namespace or {}).get("In")  # a live IPython kernel keeps every executed cell here
    if isinstance(sources, list) and any(isinstance(s, str) and defines(s, name) for s in sources):
        return "the cell that defines it raised an error before defining it; fix that cell and run it again"
    return "was it renamed or its cell not run?"


def python_source(source: str) -> str:
    """Cell source with IPython syntax (%magics, !shell) turned into Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython: drop magic and shell lines
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    return TransformerManager().transform_cell(source)


_NO_VALUE = object()


def run_cell(source: str, namespace: dict, index: int | str, local_ns: Any = None) -> Any:
    """Run one cell's code in `namespace` as a kernel would; return its last expression's value
    (or a private sentinel when the cell ends in a statement or the value is None). `local_ns`: the
    locals, when they are not the namespace (a line magic inside a function)."""
    filename = f"<cell {index}>"
    tree = ast.parse(python_source(source), filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), namespace, local_ns)  # noqa: S102 - running the notebook is the point
    if last is None:
        return _NO_VALUE
    value = eval(compile(last, filename, "eval"), namespace, local_ns)  # noqa: S307
    return _NO_VALUE if value is None else value


def has_value(value: Any) -> bool:
    """False for `run_cell`'s "no value" sentinel."""
    return value is not _NO_VALUE


def source_digest(source: str) -> str:
    """A short digest of a cell's source, to match recorded outputs to cells."""
    return hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()[:16]


def first_source_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")[:60]


def answered(release: Any, source: Any) -> Any:
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
            cell.source = "\n".join(line for line in lines if line.strip() not in SOLUTION_DELIMITERS)
    return nb
