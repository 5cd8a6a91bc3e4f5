"""`gan-course autograde` on setups the workflow tests do not try: hand-edited or foreign records,
a gradebook another program is writing, more shards than students, submission folders without a
gradable notebook, and a `reference` package the grading user cannot read. Each mistake ends in one
line naming the problem and the fix, status 2, and nothing half-written; a1 only, each test cheap.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import course_env, generated_course
from reference.errors import UserError
from reference.grading import bridge
from reference.grading.notebook import answered
from reference.grading.sandbox import sandbox_problem
from sandbox_support import NO_SANDBOX_FLAG

ROOT = Path(__file__).resolve().parents[1]

A = "a1_theory"


def _record(student: str = "blank", **changes) -> dict:
    """A well-formed record of one a1 submission, as `--results` writes it."""
    record = {
        "version": 1, "assignment": A, "student": student, "notebook": A, "stopped": [],
        "cells": {"1": {"digest": "x", "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}], "error": None}},
        "checks": {"test_frechet": {"earned": 1.0, "points": 2.0, "message": "off by 1", "title": "t"}},
        "tests": {"frechet": {"earned": 1.0, "points": 2.0, "lines": ["a1 t: 1/2 points - off by 1"]}},
    }
    for path, value in changes.items():
        *parents, key = path.split("/")
        target = record
        for part in parents:
            target = target[part]
        target[key] = value
    return record


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated a1 course (the gradebook knows a1) with two submissions, the solution and the blank one."""
    course = tmp_path_factory.mktemp("setups course")  # a space in the path on purpose
    release, source = generated_course(course, A)
    for student, nb in {"solution": answered(release, source), "blank": nbformat.read(release, as_version=4)}.items():
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{A}.ipynb")
    return course


def _run(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["gan-course", "autograde", *args], cwd=course, env=course_env(), capture_output=True, text=True)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"tests/frechet/earned": 1e9}, "test cell 'frechet'"),  # more than the cell's points: nbgrader stopped halfway
        ({"tests/frechet/earned": float("nan")}, "test cell 'frechet'"),  # was merged as a NaN score
        ({"tests/frechet/earned": -1.0}, "test cell 'frechet'"),
        ({"tests/frechet/lines": None}, "test cell 'frechet'"),  # nbgrader's traceback
        ({"checks/test_frechet/earned": "lots"}, "check 'test_frechet'"),
        ({"cells/x": {}}, "output of cell 'x'"),
        ({"cells/1/outputs": [{"output_type": "stream", "text": 3}]}, "output of cell '1'"),
        ({"cells/1/error": {"ename": "E"}}, "output of cell '1'"),
    ],
)
def test_hand_edited_records_are_refused_naming_the_file_and_line(tmp_path: Path, changes: dict, says: str):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(_record()) + "\n")
    assert len(bridge.read_records([good])) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_record()) + "\n" + json.dumps(_record("solution", **changes)) + "\n")
    with pytest.raises(UserError, match=rf"bad.jsonl:2: the record's {says}") as err:
        bridge.read_records([bad])
    assert "\n" not in str(err.value) and "pass files that --results wrote" in str(err.value)


def test_records_of_a_student_this_course_lacks_are_refused_before_nbgrader_runs(tmp_path: Path):
    """They used to be reported as merged (status 0) while nothing was recorded for them."""
    (tmp_path / "submitted" / "blank" / A).mkdir(parents=True)
    (tmp_path / "submitted" / "blank" / A / f"{A}.ipynb").write_text("{}")
    with pytest.raises(UserError, match=r"this course has no submitted/zed/a1_theory/a1_theory.ipynb; merge in the course folder"):
        bridge.merge([_record("blank"), _record("zed")], tmp_path)
    assert not (tmp_path / "autograded").exists()


def test_a_gradebook_locked_by_another_writer_is_named_and_nothing_is_removed(course: Path, monkeypatch):
    """nbgrader waited 5 s, then removed the student's autograded notebook and advised `nbgrader db upgrade`."""
    monkeypatch.setattr(bridge, "GRADEBOOK_WAIT_S", 0.2)
    (course / "autograded" / "blank" / A).mkdir(parents=True, exist_ok=True)
    (course / "autograded" / "blank" / A / f"{A}.ipynb").write_text("{}")
    holder = sqlite3.connect(course / "gradebook.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(UserError, match=r"gradebook.db could not be written \(database is locked\): another program is writing"):
            bridge.merge([_record("blank")], course)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (course / "autograded" / "blank" / A / f"{A}.ipynb").read_text() == "{}"
    shutil.rmtree(course / "autograded")


def test_a_shard_past_the_class_writes_an_empty_records_file(course: Path, tmp_path: Path):
    """A job array sized for a larger class: shard 3/3 of two students has nothing to do, and is no failure."""
    results = tmp_path / "shard-3.jsonl"
    done = _run(course, A, "--shard", "3/3", "--results", str(results), "--no-progress", "--no-sandbox")
    assert done.returncode == 0, done.stderr[-2000:]
    assert results.read_text() == "" and "shard 3/3 has no submissions" in done.stdout
    merged = _run(course, "--merge", str(results))
    assert merged.returncode == 0 and "merged 0 submission(s)" in merged.stdout, merged.stderr[-2000:]


def test_folders_without_a_gradable_notebook_are_named(course: Path):
    """Another name, no notebook, an empty file, a text file: each a warning naming the folder and what
    to do (they were skipped silently, or stopped nbgrader's merge with a traceback)."""
    made = {"other": {"homework.ipynb": "{}"}, "none": {"timestamp.txt": "x"}, "empty": {f"{A}.ipynb": ""}, "text": {f"{A}.ipynb": "hello\n"},
            "folder": {f"{A}.ipynb/inner.ipynb": "{}"}}
    try:
        for student, files in made.items():
            for name, text in files.items():
                (course / "submitted" / student / A / name).parent.mkdir(parents=True, exist_ok=True)
                (course / "submitted" / student / A / name).write_text(text)
        (course / "submitted" / "pipe" / A).mkdir(parents=True)  # a named pipe as the notebook (a tar or zip can hold one)
        os.mkfifo(course / "submitted" / "pipe" / A / f"{A}.ipynb")
        made["pipe"] = {}
        students = [arg for s in made for arg in ("--student", s)]
        done = _run(course, A, *students, "--results", "r.jsonl", "--no-progress", *NO_SANDBOX_FLAG)
        later = _run(course, A, *students, "--shard", "2/3", "--results", "r.jsonl", "--no-progress", *NO_SANDBOX_FLAG)
    finally:
        for student in made:
            shutil.rmtree(course / "submitted" / student)
    assert done.returncode == 2 and not (course / "r.jsonl").exists()
    lines = done.stderr.strip().splitlines()
    assert lines[:6] == [  # the students in sorted order, one line each
        f"gan-course: warning: submitted/empty/{A}/{A}.ipynb is not a notebook (empty, not JSON, or nested too deeply); not graded (ask the student for the .ipynb file)",
        f"gan-course: warning: submitted/folder/{A}/{A}.ipynb is a folder, not a notebook; not graded (ask the student for the .ipynb file)",
        f"gan-course: warning: submitted/none/{A}/ holds no notebook; not graded (ask the student for {A}.ipynb)",
        f"gan-course: warning: submitted/other/{A}/ holds homework.ipynb, not {A}.ipynb; not graded (rename the student's notebook to {A}.ipynb to grade it)",
        # it was told it held {A}.ipynb, not {A}.ipynb
        f"gan-course: warning: submitted/pipe/{A}/{A}.ipynb is not a regular file (a named pipe, a device or a broken link); not graded (put the student's .ipynb file there)",
        f"gan-course: warning: submitted/text/{A}/{A}.ipynb is not a notebook (empty, not JSON, or nested too deeply); not graded (ask the student for the .ipynb file)",
    ]
    assert lines[6].startswith("gan-course: error: no submissions to grade") and len(lines) == 7
    # a shard after the first looks at the same class: one line counts the warnings the first shard prints
    assert later.stderr.strip().splitlines()[0] == f"gan-course: warning: 6 student folder(s) of {A} not graded; the first shard's log names each"


def test_students_not_graded_beside_graded_ones_are_named_again_at_the_end(course: Path, tmp_path: Path):
    """An empty notebook beside a class graded: its warning scrolled away among the class's lines and the run ended
    "graded N submission(s)" (red-team finding). The last line names each folder not graded."""
    odd = {"empty": "", "text": "hello\n"}
    try:
        for student, text in odd.items():
            (course / "submitted" / student / A).mkdir(parents=True)
            (course / "submitted" / student / A / f"{A}.ipynb").write_text(text)
        done = _run(course, A, "--student", "blank", *[a for s in odd for a in ("--student", s)], "--results",
                    str(tmp_path / "r.jsonl"), "--no-progress", "--no-sandbox")
    finally:
        for student in odd:
            shutil.rmtree(course / "submitted" / student)
    assert done.returncode == 0 and (tmp_path / "r.jsonl").read_text().count("\n") == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last == ("gan-course: warning: 2 student folder(s) not graded and not recorded: empty, text (the warnings "
                    "above say why)"), done.stderr
    (tmp_path / "submitted" / "tab\tname" / A).mkdir(parents=True)  # a name nbgrader cannot record: shown as Python writes it
    (tmp_path / "submitted" / "tab\tname" / A / f"{A}.ipynb").write_text("{}")
    from reference.grading.command import _submissions

    skipped: list[str] = []
    assert _submissions(tmp_path, A, None, warn=False, skipped=skipped) == [] and skipped == ["'tab\\tname'"]


def test_an_unreadable_reference_package_stops_grading_instead_of_scoring_zero(monkeypatch):
    """A file of `reference` the grading user cannot read (installed by another user with umask 077)
    made every submission 0 "could not be graded"; it is the host's problem, named with its fix."""
    from reference.grading import runner
    from reference.grading.sandbox import SandboxUnavailable

    if sandbox_problem():
        pytest.skip("the package is copied only into a sandbox")

    def refuse(into, masked=()):
        raise shutil.Error([("/x/reference/checks/a6.py", str(into), "[Errno 13] Permission denied: '/x/reference/checks/a6.py'")])

    monkeypatch.setattr(runner, "stage_reference", refuse)
    root = Path(__file__).resolve().parents[1]
    with pytest.raises(SandboxUnavailable) as err:
        runner.grade_submission(root / "solutions" / A / f"{A}.ipynb", A, root)
    assert str(err.value).startswith("the grader cannot copy the reference package into the sandbox (/x/reference/checks/a6.py: Permission denied)")
    assert "chmod -R a+rX" in str(err.value)


def test_grades_that_cannot_be_recorded_are_kept_for_a_later_merge(course: Path):
    """Graded straight into a gradebook another program is writing: one line naming it, status 2, and
    the grading kept in a records file that --merge takes once the gradebook is free."""
    holder = sqlite3.connect(course / "gradebook.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        done = _run(course, A, "--student", "blank", "--no-progress", "--no-sandbox")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "gradebook.db could not be written (database is locked)" in lines[0], done.stderr
    kept = sorted(course.glob(f"autograde-{A}-*.jsonl"))
    assert len(kept) == 1 and f"merge them with gan-course autograde --merge {kept[0].name}" in lines[0]
    assert not (course / "autograded").exists()
    merged = _run(course, "--merge", kept[0].name)
    assert merged.returncode == 0 and (course / "autograded" / "blank" / A / f"{A}.ipynb").is_file(), merged.stderr[-2000:]
    # nothing but what matters: nbgrader's SQLAlchemy autoflush notes and a "checksum has changed" line for
    # each test cell with hidden tests (the student's copy lacks them) printed four to seven lines per student
    assert "not in session" not in merged.stderr and "has changed" not in merged.stderr, merged.stderr
    kept[0].unlink()
    shutil.rmtree(course / "autograded")


def test_student_ids_with_letters_of_any_script_or_a_dot_are_graded(tmp_path: Path, capsys):
    """nbgrader records josé and j.doe; josé used to be skipped as an id it could not record."""
    from reference.grading.command import _submissions

    for student in ("alice", "josé", "j.doe", "李雷", "bad name", "x\ny", "-dash", ".hidden"):
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
        (tmp_path / "submitted" / student / A / f"{A}.ipynb").write_text("{}")
    assert sorted(s for s, _ in _submissions(tmp_path, A, None)) == sorted(["alice", "josé", "j.doe", "李雷"])
    assert capsys.readouterr().err.count("is not a student id") == 4
    assert bridge._record_problem(_record("josé")) is None and bridge._record_problem(_record("a b")) is not None


def test_a_student_folder_whose_name_is_not_text_in_this_encoding_is_named_with_the_remedy(tmp_path: Path, capsys):
    """A folder named in Latin-1 (b"jos\\xe9"), or any name under a non-UTF-8 locale (LANG=C): the name reaches
    Python with undecodable bytes; the warning says so and what to do, not that the id has bad letters."""
    import os

    (tmp_path / "submitted").mkdir()
    folder = os.path.join(os.fsencode(tmp_path / "submitted"), b"jos\xe9")
    os.makedirs(os.path.join(folder, A.encode()))
    with open(os.path.join(folder, A.encode(), f"{A}.ipynb".encode()), "w") as f:
        f.write("{}")
    assert _submissions_of(tmp_path) == []
    warning = capsys.readouterr().err.strip()
    assert warning.startswith("gan-course: warning: submitted/b'jos\\xe9': the folder's name is not utf-8 text") and "PYTHONUTF8=1" in warning, warning


def _submissions_of(root: Path) -> list:
    from reference.grading.command import _submissions

    return _submissions(root, A, None)


def test_a_course_used_through_pythonpath_grades_in_the_sandbox(tmp_path):
    """A course not installed with pip but put on PYTHONPATH: the sandbox clears the environment, and
    every worker failed to import `reference`, so each student got 0 and a message about exit()."""
    import sysconfig

    from reference.grading.sandbox import sandbox_problem

    if sandbox_problem() is not None:
        pytest.skip(sandbox_problem())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # torch and the other dependencies, but not the course's editable install (a .pth line adds a folder, not its .pth files)
    Path(site, "course-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = (
        "from pathlib import Path; import reference; from reference.grading.runner import grade_notebook; "
        f"r = grade_notebook(Path({str(ROOT / 'solutions' / 'a1_theory' / 'a1_theory.ipynb')!r}), 'a1_theory', Path({str(ROOT)!r})); "
        "print(sum(p for p, _ in r.values()), [m for _, m in r.values() if m][:1])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("[")[0].strip() == "18.0", done.stdout
