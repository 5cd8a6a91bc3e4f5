"""Build the students' lessons from their sources, and keep every notebook's course links current.

    python -m reference.lessons            # rewrite what is stale; prints each file it wrote
    python -m reference.lessons --check    # write nothing; exit 1 naming every stale file

- A lesson's source, `solutions/lessons/NN_name.ipynb`, holds the model answers inside
  nbgrader's solution delimiters (in code-along cells and exercise answers). Its
  student version, `lessons/NN_name.ipynb`, is made from it with nbgrader's own `ClearSolutions`
  (a code region becomes `# YOUR CODE HERE` / `raise NotImplementedError()`, a markdown one
  "YOUR ANSWER HERE"; a region at the top level of a cell, an exercise's, keeps only
  `# YOUR CODE HERE`, so that "Run All" goes past it) and `ClearOutput`, and its figure links
  point at the repository (`reference.course.raw_url`), which Colab can show.
- Every source notebook, the lessons' and the assignments' (`solutions/<id>/<id>.ipynb`; run
  `nbgrader generate_assignment <id> --force --no-db` after this), gets the Colab badge of its
  student version under its title and the setup cell of `reference.course` as its first code cell.

Files are written atomically; a notebook that is already current is not touched.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from reference import course
from reference.errors import UserError

__all__ = ["SOURCE_FIGURES", "notebooks", "student_version", "with_course_links", "main"]

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FIGURES = "../../lessons/figures/"  # how a source in solutions/lessons/ links a figure
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
SETUP_MARK = "# Setup"
TOP_LEVEL_STUB = "raise NotImplementedError()"  # nbgrader's stub, unindented: outside any function


def with_course_links(nb: Any, student_path: str) -> Any:
    """`nb` with the badge of `student_path` under its title and `reference.course`'s setup cell
    first among its code cells (replaced if there, inserted after the first markdown cell if not).
    Placeholder notes about the repository are dropped. Changes and returns `nb`."""
    import nbformat

    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if title is None:
        raise UserError(f"{student_path}: the notebook has no markdown cell for its title; add one")
    lines = [line for line in title.source.splitlines() if not BADGE.search(line) and "PLACEHOLDER" not in line]
    while len(lines) > 1 and not lines[1].strip():
        del lines[1]
    title.source = "\n".join([lines[0], "", course.badge(student_path), "", *lines[1:]]).rstrip()
    code = [c for c in nb.cells if c.cell_type == "code"]
    if code and code[0].source.startswith(SETUP_MARK):
        code[0].source = course.setup_source()
    else:
        cell = nbformat.v4.new_code_cell(course.setup_source())
        cell.id = "course-setup"  # a fixed id: building twice gives the same file
        nb.cells.insert(nb.cells.index(title) + 1, cell)
    return nb


def student_version(source: Any) -> Any:
    """The student version of a lesson source (an nbformat notebook; `source` is not changed)."""
    import copy

    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb = copy.deepcopy(source)
    nb, resources = ClearSolutions(enforce_metadata=False).preprocess(nb, {})
    nb, _ = ClearOutput().preprocess(nb, resources)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":  # a stub at the top level of a cell (an exercise) must not stop "Run All"
            cell.source = "\n".join(line for line in cell.source.split("\n") if line != TOP_LEVEL_STUB)
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(SOURCE_FIGURES, course.raw_url("lessons/figures/"))
    return nb


def notebooks(root: Path = ROOT) -> dict[Path, Any]:
    """{path: notebook as it should be} for every file this command keeps: the sources with their
    course links, and the students' lessons built from them."""
    import nbformat

    wanted: dict[Path, Any] = {}
    for path in sorted((root / "solutions" / "lessons").glob("*.ipynb")):
        student = root / "lessons" / path.name
        source = with_course_links(_read(path), student.relative_to(root).as_posix())
        wanted[path] = source
        wanted[student] = student_version(source)
    for path in sorted((root / "solutions").glob("*/*.ipynb")):
        if path.parent.name != "lessons" and path.stem == path.parent.name:
            student = f"assignments/{path.stem}/{path.name}"
            wanted[path] = with_course_links(_read(path), student)
    for nb in wanted.values():
        nbformat.validate(nb)
    return wanted


def _read(path: Path) -> Any:
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise UserError(f"{path} is not a readable notebook ({type(err).__name__}: {err}); fix or restore it") from None


def _text(nb: Any) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"


def stale(root: Path = ROOT) -> dict[Path, str]:
    """{path: the text it should have} for every kept notebook that differs from it (or is missing)."""
    out = {}
    for path, nb in notebooks(root).items():
        text = _text(nb)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out[path] = text
    return out


def main(argv: list[str] | None = None) -> int:
    from reference.io import write_text_atomic

    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--check"]):
        print("usage: python -m reference.lessons [--check]", file=sys.stderr)
        return 2
    try:
        todo = stale()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    names = [str(path.relative_to(ROOT)) for path in todo]
    if args == ["--check"]:
        for name in names:
            print(f"stale: {name}")
        if todo:
            print("run: python -m reference.lessons", file=sys.stderr)
        return 1 if todo else 0
    for path, text in todo.items():
        write_text_atomic(path, text)
        print(f"wrote {path.relative_to(ROOT)}")
    if any(path.parent.parent.name == "solutions" and path.parent.name != "lessons" for path in todo):
        print("now run: nbgrader generate_assignment <id> --force --no-db for each assignment above")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
