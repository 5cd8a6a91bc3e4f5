"""The committed student versions are what nbgrader makes from the sources, and the test cells,
the check modules and the visible checks agree.

For every `solutions/<id>/<id>.ipynb`: `nbgrader generate_assignment <id>` in a temporary copy of
the course gives exactly the committed `assignments/<id>/` files (notebooks compared as JSON without
volatile metadata); `reference/checks/<id>.py` is what `python -m reference.grading.visible
<id>` extracts from `tests/autograders/test_<id>.py`; every nbgrader test cell calls a
check of that module with the check's points, and every check has a cell.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reference.grading.local import load_checks
from reference.grading.notebook import graded_cells
from reference.grading.visible import declared_checks, visible_source

ROOT = Path(__file__).resolve().parents[1]
IDS = sorted(p.parent.name for p in ROOT.glob("solutions/*/*.ipynb") if p.stem == p.parent.name)


def nbgrader_env() -> dict[str, str]:
    """nbgrader runs `alembic`: the venv's bin/ goes first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GAN_COURSE_ROOT", None)
    return env


def normalized(path: Path) -> dict:
    """A notebook as JSON, without what changes between runs (execution metadata, outputs)."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def test_there_are_assignments():
    assert {"a1_theory", "a3_save_every_10_epochs"} <= set(IDS)


@pytest.mark.parametrize("assignment", IDS)
def test_committed_student_version_is_what_nbgrader_generates(tmp_path: Path, assignment: str):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions" / assignment, tmp_path / "solutions" / assignment)
    result = subprocess.run(
        ["nbgrader", "generate_assignment", assignment, "--no-db", "--force"],
        cwd=tmp_path, env=nbgrader_env(), capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    made, committed = tmp_path / "assignments" / assignment, ROOT / "assignments" / assignment
    files = lambda folder: sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)  # noqa: E731
    assert files(committed) == files(made), f"regenerate: nbgrader generate_assignment {assignment} --no-db --force"
    for name in files(made):
        if name.endswith(".ipynb"):
            same = normalized(made / name) == normalized(committed / name)
        else:
            same = (made / name).read_bytes() == (committed / name).read_bytes()
        assert same, f"assignments/{assignment}/{name} is stale; run: nbgrader generate_assignment {assignment} --no-db --force"


@pytest.mark.parametrize("assignment", IDS)
def test_visible_checks_file_is_extracted_from_the_check_module(assignment: str):
    module = ROOT / "tests" / "autograders" / f"test_{assignment}.py"
    committed = ROOT / "reference" / "checks" / f"{assignment}.py"
    assert committed.is_file(), f"run: python -m reference.grading.visible {assignment}"
    assert committed.read_text() == visible_source(module.read_text(), f"tests/autograders/{module.name}"), (
        f"reference/checks/{assignment}.py is stale; run: python -m reference.grading.visible {assignment}"
    )


@pytest.mark.parametrize("assignment", IDS)
def test_every_check_has_a_test_cell_with_its_points(assignment: str):
    checks = load_checks(assignment, ROOT)
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    cells = {}
    for cell in graded_cells(nb):
        assert len(cell.calls) == 1, f"test cell {cell.grade_id} must call grade(...) once, found {len(cell.calls)}"
        (call,) = cell.calls
        assert call.assignment == assignment
        assert checks[call.name].visible != call.hidden, (
            f"{call.name}: visible={checks[call.name].visible} but its cell is {'hidden' if call.hidden else 'visible'}"
        )
        cells[call.name] = cell.points
    assert cells == {name: fn.points for name, fn in checks.items()}
    assert set(declared_checks((ROOT / "reference" / "checks" / f"{assignment}.py").read_text())) == {n for n, fn in checks.items() if fn.visible}


@pytest.mark.parametrize("assignment", IDS)
def test_student_version_reveals_no_solution_and_no_hidden_check(assignment: str):
    folder = ROOT / "assignments" / assignment
    hidden = [name for name, fn in load_checks(assignment, ROOT).items() if not fn.visible]
    for path in folder.rglob("*"):
        if path.is_file():
            try:
                text = path.read_text()
            except UnicodeDecodeError:  # images and other binary files (a7's sample grids)
                continue
            for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME", *hidden):
                assert marker not in text, f"{path.relative_to(ROOT)} contains {marker!r}"
