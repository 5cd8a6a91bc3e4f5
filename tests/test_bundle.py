"""`python -m reference.bundle OUT_DIR`: the student bundle holds what students need and nothing
that reveals a solution or a hidden check; it is written completely or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reference.bundle import BundleError, build_bundle, leaks, main

ROOT = Path(__file__).resolve().parents[1]


def test_bundle_of_this_course_has_the_student_parts_only(tmp_path: Path):
    out = build_bundle(tmp_path / "bundle")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "assignments", "lessons", "pyproject.toml", "reference"]
    for assignment in ("a1_theory", "a3_save_every_10_epochs"):
        assert (out / "assignments" / assignment / f"{assignment}.ipynb").is_file()
        assert (out / "reference" / "checks" / f"{assignment}.py").is_file()
    assert (out / "reference" / "grading" / "local.py").is_file() and (out / "assignments" / "README.md").is_file()
    # the students' README: how to install, open, work, check and submit; nothing for instructors
    readme = (out / "README.md").read_text()
    assert readme == (ROOT / "STUDENTS.md").read_text()
    for heading in ("## Install", "## Work", "## Check", "## Submit"):
        assert heading in readme
    for instructor_only in ("pytest", "benchmark", "autograde", "nbgrader generate", "[dev]"):
        assert instructor_only not in readme, f"the students' README mentions {instructor_only}"
    for lesson in (ROOT / "lessons").glob("*.ipynb"):
        assert lesson.stem in readme, f"STUDENTS.md does not list {lesson.name}"
    assert not list(out.rglob("__pycache__"))
    assert leaks(out) == []
    # the hidden checks' names appear nowhere
    text = "\n".join(p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())
    for hidden in ("test_grids_come_from_fixed_noise", "test_g_loss_finite_at_logits_of_100"):
        assert hidden not in text


# What only instructors work with: the test runner, the notebook tests, and the folders the bundle leaves out.
INSTRUCTOR_ONLY = {
    "pytest": r"\bpytest\b",
    "nbval": r"\bnbval\b",
    "solutions/": r"(?<![\w.-])solutions/",
    "tests/": r"(?<![\w.-])tests/",
    "benchmarks": r"\bbenchmarks\b",
}


def instructor_material(folder: Path) -> list[str]:
    """"<file>:<line>: mentions <what>" for each line of a .md file under `folder` that speaks of INSTRUCTOR_ONLY."""
    import re

    found = []
    for path in sorted(folder.rglob("*.md")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.relative_to(folder)}:{number}: mentions {what}" for what, pattern in INSTRUCTOR_ONLY.items()
                      if re.search(pattern, line, re.IGNORECASE)]
    return found


def test_the_bundled_documents_hold_no_instructor_material(tmp_path: Path):
    """lessons/README.md shipped "Writing a lesson" and "Testing" (solutions/, nbval, tests/, pytest) and the benchmark
    commands behind its run times to students, who have none of them: that text is the instructors'
    (solutions/lessons/README.md). Every .md a student gets (the README, lessons/, lessons/figures/, assignments/)
    speaks of what the bundle holds."""
    out = build_bundle(tmp_path / "bundle")
    documents = {str(p.relative_to(out)) for p in out.rglob("*.md")}
    assert documents >= {"README.md", "assignments/README.md", "lessons/README.md", "lessons/figures/README.md"}, documents
    assert instructor_material(out) == []


@pytest.mark.parametrize("line, what", [
    ("run `pytest` in the repository root", "pytest"),
    ("every source runs under nbval", "nbval"),
    ("edit `solutions/lessons/01_minimax_loss.ipynb`", "solutions/"),
    ("see tests/test_lesson_01.py", "tests/"),
    ("timed by the course's benchmarks", "benchmarks"),
    ("python benchmarks/lesson_times.py", "benchmarks"),
])
def test_instructor_material_is_found_in_any_bundled_document(tmp_path: Path, line: str, what: str):
    (tmp_path / "lessons" / "figures").mkdir(parents=True)
    (tmp_path / "lessons" / "figures" / "README.md").write_text(f"# Figures\n\nmade once; {line}.\n")
    (tmp_path / "README.md").write_text("# Lessons\n\nthe grading tests pass; a benchmark of one lesson; reference/\n")
    assert instructor_material(tmp_path) == [f"lessons/figures/README.md:3: mentions {what}"]


def test_cli_prints_one_line_and_refuses_an_existing_folder(tmp_path: Path):
    out = tmp_path / "bundle"
    run = lambda: subprocess.run([sys.executable, "-m", "reference.bundle", str(out)], capture_output=True, text=True, cwd=tmp_path)  # noqa: E731
    first = run()
    assert first.returncode == 0 and first.stdout.startswith(f"student bundle: {out} (")
    second = run()
    assert second.returncode == 2
    assert second.stderr == f"error: {out} already exists; remove it or choose another OUT_DIR\n"
    assert main([]) == 2


def fake_course(root: Path, notebook_text: str = "a student notebook", extra: dict | None = None) -> Path:
    for folder in ("lessons", "reference", "assignments/a9", "solutions/a9", "tests/autograders"):
        (root / folder).mkdir(parents=True)
    (root / "README.md").write_text("# course\n")
    (root / "STUDENTS.md").write_text("# how to work\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "reference" / "__init__.py").write_text("")
    (root / "assignments" / "a9" / "a9.ipynb").write_text(notebook_text)
    (root / "solutions" / "a9" / "a9.ipynb").write_text("### BEGIN " + "SOLUTION\n")
    (root / "tests" / "autograders" / "test_a9.py").write_text("@check(points=1)\ndef test_x(s): pass\n")
    for name, text in (extra or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_solutions_and_tests_of_a_course_stay_out(tmp_path: Path):
    out = build_bundle(tmp_path / "out", fake_course(tmp_path / "course"))
    assert not (out / "solutions").exists() and not (out / "tests").exists()
    assert (out / "assignments" / "a9" / "a9.ipynb").read_text() == "a student notebook"


@pytest.mark.parametrize(
    "notebook, extra, problem",
    [
        ("x = 1\n### BEGIN " + "SOLUTION\nx = 2", {}, "assignments/a9/a9.ipynb: contains '### BEGIN SOLUTION'"),
        ("### BEGIN " + "HIDDEN TESTS\nassert x", {}, "assignments/a9/a9.ipynb: contains '### BEGIN HIDDEN TESTS'"),
        (
            "ok",
            {"reference/checks/a9.py": "@check(points=1, visible=True)\ndef test_a(s): pass\n\n@check(points=2)\ndef test_b(s): pass\n"},
            "reference/checks/a9.py: defines the hidden check test_b",
        ),
    ],
)
def test_a_leak_stops_the_bundle_before_it_appears(tmp_path: Path, notebook, extra, problem):
    course = fake_course(tmp_path / "course", notebook, extra)
    out = tmp_path / "out"
    with pytest.raises(BundleError) as err:
        build_bundle(out, course)
    assert str(err.value) == f"not bundled: {problem}; regenerate the student versions with nbgrader generate_assignment"
    assert "\n" not in str(err.value)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course"]  # no temporary folder left behind


def test_visible_checks_are_allowed(tmp_path: Path):
    extra = {"reference/checks/a9.py": "@check(points=1, visible=True)\ndef test_a(s): pass\n"}
    out = build_bundle(tmp_path / "out", fake_course(tmp_path / "course", extra=extra))
    assert (out / "reference" / "checks" / "a9.py").is_file()


def test_an_incomplete_course_is_a_one_line_error(tmp_path: Path):
    course = fake_course(tmp_path / "course")
    (course / "pyproject.toml").unlink()
    with pytest.raises(BundleError, match=r"is not a complete course folder: no pyproject.toml; run this from a checkout"):
        build_bundle(tmp_path / "out", course)


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_the_bundle_can_be_read_by_the_students_it_is_for(tmp_path: Path, umask: int):
    """OUT_DIR gets the permissions of any folder the instructor makes (0777 less the umask), not the
    private 0700 of a temporary folder, which kept other users of a shared host out of the bundle."""
    import os
    import stat

    course = tmp_path / "course"
    for folder in ("lessons", "assignments", "reference"):
        (course / folder / "sub").mkdir(parents=True)
        (course / folder / "sub").chmod(0o700)
        (course / folder / "note.txt").write_text("x\n")
        (course / folder / "note.txt").chmod(0o600)  # as an atomic write (python -m reference.lessons) leaves a file
    (course / "STUDENTS.md").write_text("# students\n")
    (course / "pyproject.toml").write_text("[project]\n")
    before = os.umask(umask)
    try:
        out = build_bundle(tmp_path / "bundle", course)
    finally:
        os.umask(before)
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode == 0o777 & ~umask, f"the bundle folder has mode {oct(mode)}, expected {oct(0o777 & ~umask)} under umask {oct(umask)}"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle.")], "a temporary folder was left"
    for path in out.rglob("*"):
        want = (0o777 if path.is_dir() else 0o666) & ~umask
        got = stat.S_IMODE(path.stat().st_mode)
        assert got == want, f"{path.relative_to(out)} has mode {oct(got)}, expected {oct(want)}: other users cannot read it"


def test_an_out_dir_below_a_file_or_on_a_full_disk_is_a_one_line_error_and_leaves_nothing(tmp_path: Path, monkeypatch):
    """Red-team findings: OUT_DIR under a file said only "[Errno 17] File exists: ..."; a full disk printed copytree's
    list of every failed file (thousands of characters on one line, the folder's name in each)."""
    import errno
    import shutil

    course = fake_course(tmp_path / "course")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BundleError, match=r"afile is a file, not a folder\); choose another OUT_DIR$"):
        build_bundle(tmp_path / "afile" / "bundle", course)

    def full(src, dst, **kw):
        raise shutil.Error([(str(src) + f"/{n}", str(dst) + f"/{n}", f"[Errno {errno.ENOSPC}] No space left on device") for n in range(500)])

    monkeypatch.setattr(shutil, "copytree", full)
    with pytest.raises(BundleError) as err:
        build_bundle(tmp_path / "out" / "bundle", course)
    said = str(err.value)
    assert "\n" not in said and len(said) < 600 and "No space left on device" in said and "(and 499 more files)" in said, said
    assert said.endswith("free space there or choose another OUT_DIR, then run this again")
    assert not (tmp_path / "out" / "bundle").exists() and list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("inside", ["lessons", "assignments/a9", "reference"])
def test_an_out_dir_inside_a_folder_the_bundle_copies_is_refused(tmp_path: Path, inside: str):
    """OUT_DIR under lessons/ (python -m reference.bundle lessons/for-students): the copy of lessons/ copied the bundle
    being made into itself, folder in folder, until the path was too long, then blamed the folder's permissions."""
    course = fake_course(tmp_path / "course")
    out = course / inside / "bundle"
    with pytest.raises(BundleError) as err:
        build_bundle(out, course)
    assert str(err.value) == (f"{out} is inside the course's {inside.split('/')[0]}/, which the bundle copies; choose an "
                              f"OUT_DIR outside it, e.g. {tmp_path / 'gan-course-student'}")
    assert [p.name for p in (course / inside).iterdir() if p.name.startswith((".bundle", "bundle"))] == []
    assert build_bundle(course / "dist" / "bundle", course).is_dir()  # in the course, outside what is copied: fine
