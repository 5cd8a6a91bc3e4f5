"""The visible checks students get, and the one parser that says which checks are visible.

`declared_checks(source)` reads a check module's source: every `@check(...)`-decorated function
and whether it is `visible=True`. The extraction below, the student bundle's leak check
(`reference.bundle`) and the assignments' sync test all ask it. (Which checks a test cell runs,
and whether that call sits in a hidden region, is `reference.grading.notebook.graded_cells`.)

`python -m reference.grading.visible <assignment>` writes reference/checks/<assignment>.py: the
module's imports, ASSIGNMENT, the visible checks and the helpers they use, nothing hidden. It
ships inside the installed package, so a student's `grade(...)` finds it from any folder (Colab
runs a notebook in /content) where there is no tests/ folder.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from reference.errors import UserError
from reference.grading.local import ROOT_ENV, course_root
from reference.grading.notebook import assigned_names

__all__ = ["declared_checks", "visible_source", "write_visible"]


def declared_checks(source: str) -> dict[str, bool]:
    """{name: visible} of the `@check`-decorated functions at the top level of a module's source."""
    found = {}
    for node in ast.parse(source).body:
        is_check, visible = _is_check(node)
        if is_check:
            found[node.name] = visible
    return found


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
        return assigned_names(ast.Module(body=[node], type_ignores=[]))
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
        f"Generated from {origin} by `python -m reference.grading.visible`; do not edit.\n"
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
    """Write reference/checks/<assignment>.py from tests/autograders/test_<assignment>.py."""
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
    out = base / "reference" / "checks" / f"{assignment}.py"
    write_text_atomic(out, visible_source(module.read_text(encoding="utf-8"), f"tests/autograders/{module.name}"))
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m reference.grading.visible <assignment>...`: refresh reference/checks/<assignment>.py."""
    import argparse

    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["visible"]:  # the old spelling, `... visible <assignment>`
        args = args[1:]
    parser = argparse.ArgumentParser(
        prog="python -m reference.grading.visible",
        description="Write reference/checks/<assignment>.py, the visible checks students get, from "
        "tests/autograders/test_<assignment>.py (run in the course folder after editing the checks).",
    )
    parser.add_argument("assignment", nargs="+", help="assignment id, e.g. a2_conv_layers")
    try:
        for assignment in parser.parse_args(args).assignment:
            print(write_visible(assignment))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
