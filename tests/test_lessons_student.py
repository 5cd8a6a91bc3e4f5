"""What a student sees: the untouched student version of each lesson under "Run All", and live plots.

The lesson sources run with their model answers under nbval (`pytest solutions/lessons/`). Here
each student version (lessons/NN.ipynb, nothing written) runs in a fresh kernel, in smoke mode, the
way Jupyter's "Run All" does: it stops at the first cell that raises. It must reach and run every
check cell, and each check must fail with its message (the function is not written yet) rather
than pass or crash. The run stops after the last cell that calls a check or uses a name the
student writes: later cells use only `reference` (the answer key), and nbval runs them already.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
STUDENT_LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
GRADE_CALL = re.compile(r'grade\(\s*"(?P<id>[^"]+)"\s*,\s*"(?P<name>[^"]+)"')
SCORE_LINE = re.compile(r"^lesson \d\d (?P<title>.+): (?P<earned>[\d.]+)/(?P<points>[\d.]+) points(?: - (?P<message>.+))?$")


def student_names(nb) -> set[str]:
    """Names bound by the cells that hold a stub (`# YOUR CODE HERE`)."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "# YOUR CODE HERE" in cell.source:
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def touches_student_code(source: str, names: set[str]) -> bool:
    return bool(GRADE_CALL.search(source)) or any(re.search(rf"\b{re.escape(n)}\b", source) for n in names)


def kernel_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(GAN_COURSE_SMOKE="1", **extra)
    return env


@pytest.mark.parametrize("path", STUDENT_LESSONS, ids=lambda p: p.stem)
def test_run_all_on_the_untouched_student_version_reaches_every_check(path: Path, tmp_path: Path):
    nb = nbformat.read(path, as_version=4)
    names = student_names(nb)
    assert names, f"{path.name} has no place for the student to write code"
    last = max(k for k, c in enumerate(nb.cells) if c.cell_type == "code" and touches_student_code(c.source, names))
    nb.cells = nb.cells[: last + 1]
    client = NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=False, resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=kernel_env(MPLBACKEND="Agg"))  # CellExecutionError at the first cell that raises, as "Run All" stops
    lesson = f"lesson_{path.name[:2]}"
    for cell in nb.cells:
        calls = [m for m in GRADE_CALL.finditer(cell.source)] if cell.cell_type == "code" else []
        if not calls:
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        lines = [SCORE_LINE.match(line) for line in text.splitlines() if line.startswith("lesson ")]
        assert len(lines) == len(calls) and all(lines), f"{lesson} {calls[0]['name']}: expected a score line, got {text!r}"
        for match in lines:
            assert float(match["earned"]) == 0, f"{lesson}: the untouched stub passes {match['title']!r}"
            assert match["message"] and "not implemented yet" in match["message"], (
                f"{lesson} {match['title']!r}: the message does not say the function is not written yet: {match['message']!r}"
            )


def test_a_live_plot_is_displayed_after_importing_the_course_library(tmp_path: Path):
    """Importing reference (its trainer, plots and figure modules) must not switch a notebook's
    matplotlib backend away from inline: plt.show() then displays a PNG in the cell's output."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(
            "import reference.trainer, reference.plots, reference.figures.lesson_01\n"
            "import matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots()\n"
            "ax.plot([0, 1], [1, 0])\n"
            "plt.show()"
        ),
    ])
    env = {k: v for k, v in kernel_env().items() if k != "MPLBACKEND"}  # as in a student's Jupyter: the kernel picks inline
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    shown = [o for o in nb.cells[0].outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(shown) == 1, f"no figure displayed; outputs: {[o.output_type for o in nb.cells[0].outputs]}"
