"""The students' lessons are built from their sources, and every notebook carries the course's links.

`python -m reference.lessons` makes lessons/NN.ipynb from solutions/lessons/NN.ipynb and refreshes
the badge and setup cell of every source from reference/course.py. These tests fail when a file is
stale, when a student version could leak a model answer, or when a lesson's check cells and its
check module disagree.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from reference import course
from reference.grading.local import PACKAGE_CHECKS, load_checks
from reference.lessons import SOURCE_FIGURES, stale, student_version, with_course_links

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "solutions" / "lessons").glob("*.ipynb"))
GRADE_CALL = re.compile(r'grade\(\s*"(?P<id>[^"]+)"\s*,\s*"(?P<name>[^"]+)"')


def lesson_id(path: Path) -> str:
    return f"lesson_{path.name[:2]}"


def test_there_are_lessons():
    assert len(SOURCES) >= 5


def test_every_kept_notebook_is_current():
    todo = stale(ROOT)
    assert not todo, f"stale: {', '.join(str(p.relative_to(ROOT)) for p in todo)}; run: python -m reference.lessons"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_student_version_has_no_model_answer_and_no_output(source: Path):
    student = nbformat.read(ROOT / "lessons" / source.name, as_version=4)
    text = nbformat.writes(student)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


STEPS = ("lesson 1", "a1_theory", "lesson 2", "lesson 3", "a2_conv_layers", "a3_save_every_10_epochs", "lesson 4", "lesson 5",
         "a4_cifar10_port", "lesson 6", "a5_wgan_gp", "lesson 7", "a6_conditional_gan", "lesson 8", "a7_diagnose_runs")  # STUDENTS.md's order


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_lesson_ends_by_saying_what_comes_next(source: Path):
    """Lessons 03, 06 and 07 ended on an exercise's answer cell ("YOUR ANSWER HERE" in the student version), the
    three that an assignment follows; each lesson's last cell now names the next step, as STUDENTS.md orders them."""
    last = nbformat.read(ROOT / "lessons" / source.name, as_version=4).cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("**Next:**"), last.source[:200]
    number = int(source.name[:2])
    following = STEPS[STEPS.index(f"lesson {number}") + 1]  # the first step after this lesson, in STUDENTS.md's order
    named = f"`{following}`" if following.startswith("a") else f"[{following}]({sorted(ROOT.glob(f'lessons/0{number + 1}_*.ipynb'))[0].name})"
    assert named in last.source, (named, last.source)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_code_along_place_has_checks_and_every_check_a_cell(source: Path):
    nb = nbformat.read(source, as_version=4)
    answers = [c for c in before_exercises(nb) if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    calls = [m for c in nb.cells if c.cell_type == "code" for m in GRADE_CALL.finditer(c.source)]
    assert 2 <= len(answers) <= 4, f"{source.name}: {len(answers)} code-along places before the exercises; a lesson has 2-4"
    assert {m["id"] for m in calls} == {lesson_id(source)}, f"{source.name} calls checks of {sorted({m['id'] for m in calls})}"
    checks = load_checks(lesson_id(source), root=ROOT)
    assert (PACKAGE_CHECKS / f"{lesson_id(source)}.py").is_file()
    assert sorted({m["name"] for m in calls}) == sorted(checks), "every check has a cell that runs it, and no cell runs a missing one"
    assert all(fn.visible for fn in checks.values())


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_a_check_cell_follows_each_code_along_place(source: Path):
    """Between a code-along cell and the next one there is at least one check cell."""
    nb = nbformat.read(source, as_version=4)
    kinds = []
    for cell in before_exercises(nb):  # exercise answers may define helpers; they have no checks
        if cell.cell_type != "code":
            continue
        if "### BEGIN SOLUTION" in cell.source and _defines_something(cell.source):
            kinds.append("answer")
        elif GRADE_CALL.search(cell.source):
            kinds.append("check")
    for k, kind in enumerate(kinds):
        if kind == "answer":
            assert "check" in kinds[k + 1 :], f"{source.name}: code-along place #{kinds[:k + 1].count('answer')} has no check after it"


def before_exercises(nb) -> list:
    """The cells above the "## Exercises" heading (all of them if there is none)."""
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and re.search(r"^##\s*(\d+\.\s*)?Exercises", cell.source, re.M):
            return nb.cells[:k]
    return nb.cells


def _defines_something(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    return any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in tree.body)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_figure_links_name_files_that_exist(source: Path):
    for path, prefix in ((source, SOURCE_FIGURES), (ROOT / "lessons" / source.name, course.raw_url("lessons/figures/"))):
        nb = nbformat.read(path, as_version=4)
        links = [m for c in nb.cells if c.cell_type == "markdown" for m in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", c.source)]
        links = [link for link in links if link != course.BADGE_IMAGE]
        for link in links:
            assert link.startswith(prefix), f"{path.relative_to(ROOT)}: figure {link} should start with {prefix}"
            assert (ROOT / "lessons" / "figures" / link[len(prefix):]).is_file(), f"{path.relative_to(ROOT)}: {link} does not exist"


def test_the_badge_and_setup_cell_come_from_the_one_constant(monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n\ntext"), nbformat.v4.new_code_cell("x = 1")])
    repo = course.REPO
    monkeypatch.setattr(course, "REPO", "someone/their-gan-course")
    with_course_links(nb, "lessons/01_x.ipynb")
    assert nb.cells[0].source.splitlines()[:3] == [
        "# Title",
        "",
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/someone/their-gan-course/blob/main/lessons/01_x.ipynb)",
    ]
    assert nb.cells[1].source.startswith("# Setup") and "git+https://github.com/someone/their-gan-course@main" in nb.cells[1].source
    assert nb.cells[2].source == "x = 1"
    once = nbformat.writes(nb)
    assert nbformat.writes(with_course_links(nb, "lessons/01_x.ipynb")) == once, "building twice changes nothing"
    for path in [*SOURCES, *sorted((ROOT / "assignments").glob("*/*.ipynb"))]:
        assert "someone/their-gan-course" not in path.read_text()
        assert f"github.com/{repo}" in path.read_text(), f"{path.relative_to(ROOT)} has no link to {repo}"


def test_the_setup_cell_installs_the_course_on_colab_only(monkeypatch):
    import subprocess
    import sys
    import types

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(course.setup_source(), "<setup>", "exec"), {})
    assert calls == []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(compile(course.setup_source(), "<setup>", "exec"), {})
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", f"git+https://github.com/{course.REPO}@{course.BRANCH}"]]


def test_student_version_replaces_answers_with_stubs_and_links_figures_to_the_repository():
    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"![a figure]({SOURCE_FIGURES}01_x.png)"),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        nbformat.v4.new_markdown_cell("Exercise answer:\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nprint(f(2))\n### END SOLUTION"),
    ])
    source.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    student = student_version(source)
    assert student.cells[0].source == f"![a figure]({course.raw_url('lessons/figures/01_x.png')})"
    assert student.cells[1].source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert student.cells[1].outputs == []
    assert "Because" not in student.cells[2].source and "YOUR ANSWER HERE" in student.cells[2].source
    assert student.cells[3].source == "# YOUR CODE HERE", "a top-level stub does not raise: Run All goes on"
    assert "return 2 * x" in source.cells[1].source, "the source is not changed"
