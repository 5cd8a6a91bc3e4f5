"""`gan-course autograde` on setups the workflow tests do not try: hand-edited or foreign records,
a gradebook another program is writing, more shards than students, submission folders without a
gradable notebook, and a `reference` package the grading user cannot read. Each mistake ends in one
line naming the problem and the fix, status 2, and nothing half-written; a1 only, each test cheap.
"""

from __future__ import annotations

import json
import os
import shlex
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
EMPTY_NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})  # the least nbgrader reads


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



def automatic_points(assignment: str) -> float:
    """The autograded points of an assignment: its source notebook's test cells (nbgrader grade, not solution)."""
    nb = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in nb["cells"]]
    return sum(float(m["points"]) for m in meta if m.get("grade") and not m.get("solution"))

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
        (tmp_path / "submitted" / student / A / f"{A}.ipynb").write_text(EMPTY_NOTEBOOK)
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


def test_a_student_folder_nbgrader_cannot_record_is_named_with_the_rename_that_grades_it(tmp_path: Path, capsys, monkeypatch):
    """'Mary Jane' was skipped without the fix; 'josé' unzipped from a Mac (NFD: 'jose' then a combining accent, which
    is no letter) was called no student id although it looks exactly like one. Each warning names a valid id, and for
    the second what differs and the command that renames it, which makes the folder graded."""
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "josé")
    for student in ("Mary Jane", decomposed):
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
        (tmp_path / "submitted" / student / A / f"{A}.ipynb").write_text(EMPTY_NOTEBOOK)
    monkeypatch.chdir(tmp_path)
    assert _submissions_of(tmp_path) == []
    spaced, accented = capsys.readouterr().err.strip().splitlines()
    assert spaced.endswith("not graded (rename the folder to the student's id, e.g. 'Mary_Jane', then grade it with --student Mary_Jane)")
    assert "spells its accented letters decomposed (a letter, then a combining mark, as a zip made on macOS does)" in accented
    move = accented[accented.index("mv "):accented.index("; then grade it")]
    assert move == f"mv 'submitted/{decomposed}' 'submitted/josé'" and accented.endswith("--student 'josé')"), accented
    subprocess.run(move, shell=True, check=True, cwd=tmp_path)
    assert [s for s, _ in _submissions_of(tmp_path)] == ["josé"]


def test_kept_records_are_named_as_found_from_the_folder_the_command_runs_in(course: Path, monkeypatch, capsys):
    """Run in a folder below the course's (course_root looks upward), a merge that failed said 'the grades are kept in
    autograde-<id>-<time>.jsonl: merge them with --merge autograde-...', a path of the course folder, not found from there."""
    import reference.grading.bridge as bridge_module
    import reference.grading.runner as runner
    from reference.cli import main

    def broken(records, root, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "grade_many", lambda subs, assignment, root, **kwargs: [_record(s) for s, _ in subs])
    monkeypatch.setattr(runner, "limits_problem_apart", lambda *args, **kwargs: None)
    monkeypatch.setattr(bridge_module, "merge", broken)
    monkeypatch.chdir(course / "submitted")
    try:
        assert main(["autograde", A, "--student", "blank", "--no-progress", *NO_SANDBOX_FLAG]) == 2
        err = capsys.readouterr().err.strip()
        [kept] = course.glob(f"autograde-{A}-*.jsonl")
        [said] = shlex.split(err[err.index("--merge ") + len("--merge "):-1])  # quoted: the course's path holds a space
        assert Path(said).resolve() == kept.resolve(), err  # found from where the command ran
        assert "the merge into nbgrader stopped (RuntimeError: boom)" in err
    finally:
        for path in course.glob(f"autograde-{A}-*.jsonl"):
            path.unlink()


def test_a_course_root_without_nbgrader_config_is_one_line(tmp_path: Path, monkeypatch, capsys):
    """GAN_COURSE_ROOT set to the wrong folder (a typo, the folder above the course): traitlets' ConfigFileNotFound
    traceback, naming no fix. Without it, from outside any course, the line now names GAN_COURSE_ROOT too."""
    from reference.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_COURSE_ROOT", str(tmp_path / "courses"))
    assert main(["autograde", "--merge", "x.jsonl"]) == 2
    assert capsys.readouterr().err == (f"gan-course: error: GAN_COURSE_ROOT is {tmp_path / 'courses'}, which holds no "
                                       f"nbgrader_config.py; set it to the course folder (the one with nbgrader_config.py), "
                                       f"or unset it and run the command in the course folder\n")
    monkeypatch.delenv("GAN_COURSE_ROOT")
    assert main(["autograde", A]) == 2
    assert "cd into the course first, or set GAN_COURSE_ROOT to it" in capsys.readouterr().err


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
    assert float(done.stdout.split("[")[0]) == automatic_points(A), done.stdout


NOT_NOTEBOOKS = {  # JSON objects nbgrader cannot read as notebooks: each was graded (0 points), then stopped the merge
    "emptyobj": "{}",
    "cellstext": json.dumps({"cells": "x", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
    "celltext": json.dumps({"cells": ["x"], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
    "metalist": json.dumps({"cells": [], "metadata": [], "nbformat": 4, "nbformat_minor": 5}),
    "minortext": json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": "x"}),
    "nocelltype": json.dumps({"cells": [{"metadata": {}, "source": ""}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
}


def test_json_that_nbgrader_cannot_read_as_a_notebook_is_named_and_not_graded(tmp_path: Path, capsys):
    """Red-team finding: `{}`, cells or metadata of the wrong shape, a text nbformat_minor or a byte-order mark passed
    as JSON, were graded 0 (or full marks), then nbgrader stopped on each at the merge with a traceback, at every
    merge of the kept records again. Each is now a warning naming the file and the fix, and the class is graded."""
    from reference.grading.command import _submissions

    for student, text in {"alice": EMPTY_NOTEBOOK, **NOT_NOTEBOOKS}.items():
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
        (tmp_path / "submitted" / student / A / f"{A}.ipynb").write_text(text, encoding="utf-8")
    assert [s for s, _ in _submissions(tmp_path, A, None)] == ["alice"]
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(NOT_NOTEBOOKS), lines
    for student, line in zip(sorted(NOT_NOTEBOOKS), lines):
        assert line.startswith(f"gan-course: warning: submitted/{student}/{A}/{A}.ipynb is not a notebook nbgrader can read (")
        assert line.endswith("; not graded (ask the student for the .ipynb file)")
    assert "no cell_type" in lines[-1]


def test_a_notebook_with_a_byte_order_mark_is_graded_and_merged_as_without_it(course: Path, tmp_path: Path):
    """Saved by an editor that writes a UTF-8 byte-order mark: autograde skipped it ('save it again from Jupyter', which
    cannot open it either) and grade_notebook scored it 0. The mark is no part of the notebook: it is graded as the
    same notebook without it, and merged (nbgrader reads the staged copy, without the mark)."""
    plain = (course / "submitted" / "solution" / A / f"{A}.ipynb").read_bytes()
    (course / "submitted" / "marked" / A).mkdir(parents=True)
    (course / "submitted" / "marked" / A / f"{A}.ipynb").write_bytes(b"\xef\xbb\xbf" + plain)
    try:
        done = _run(course, A, "--student", "marked", "--student", "solution", "--no-progress", "--no-sandbox")
        assert done.returncode == 0 and "warning" not in done.stderr, done.stderr[-2000:]
        total = f"{automatic_points(A):g}"  # a1's automatic points, as its source notebook gives them
        assert f"marked: {total}/{total}" in done.stdout and f"solution: {total}/{total}" in done.stdout, done.stdout
        graded = (course / "autograded" / "marked" / A / f"{A}.ipynb").read_bytes()
        assert not graded.startswith(b"\xef\xbb\xbf") and nbformat.reads(graded.decode(), as_version=4).cells
    finally:
        shutil.rmtree(course / "submitted" / "marked")
        shutil.rmtree(course / "autograded", ignore_errors=True)


def test_records_of_a_notebook_nbgrader_cannot_read_are_refused_in_one_line_and_the_rest_recorded(course: Path, capsys):
    """Records kept from before (or hand-made) for such a notebook: the merge named the student after nbgrader's
    traceback; a cell without a source, which nbgrader's validator refused after our first step, is recorded."""
    odd = {"emptyobj": "{}", "metalist": NOT_NOTEBOOKS["metalist"]}
    nosource = nbformat.read(course / "submitted" / "blank" / A / f"{A}.ipynb", as_version=4)
    del nosource.cells[0]["source"]
    try:
        for student, text in odd.items():
            (course / "submitted" / student / A).mkdir(parents=True)
            (course / "submitted" / student / A / f"{A}.ipynb").write_text(text)
        (course / "submitted" / "nosource" / A).mkdir(parents=True)
        (course / "submitted" / "nosource" / A / f"{A}.ipynb").write_text(json.dumps(nosource))
        with pytest.raises(UserError) as err:
            bridge.merge([_record("emptyobj"), _record("metalist"), _record("nosource")], course)
        said = str(err.value)
        assert "\n" not in said and said.startswith("not recorded, as nbgrader would read it: a1_theory of emptyobj (not a notebook nbgrader can read: "), said
        assert "a1_theory of metalist (not a notebook nbgrader can read: " in said and "nosource" not in said, said
        assert said.endswith("every other submission was recorded")
        assert "Traceback" not in capsys.readouterr().err
        assert (course / "autograded" / "nosource" / A / f"{A}.ipynb").is_file()
    finally:
        for student in (*odd, "nosource"):
            shutil.rmtree(course / "submitted" / student, ignore_errors=True)
        shutil.rmtree(course / "autograded", ignore_errors=True)


def test_a_results_path_that_is_a_device_is_refused_before_anyone_is_graded(course: Path, tmp_path: Path):
    """Red-team finding: `--results /dev/null` graded the class, then (as root) the atomic write put a regular file in
    place of /dev/null; status 0, "records in /dev/null", the grades gone."""
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | __import__("stat").S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    done = _run(course, A, "--student", "blank", "--results", str(device), "--no-progress", "--no-sandbox")
    assert done.returncode == 2 and "blank:" not in done.stdout, done.stdout + done.stderr[-2000:]
    assert done.stderr.startswith(f"gan-course: error: --results {device} is not a regular file") and done.stderr.count("\n") == 1, done.stderr
    assert __import__("stat").S_ISCHR(device.stat().st_mode)


def test_a_gradebook_that_is_not_a_database_stops_before_anyone_is_graded(course: Path, tmp_path: Path):
    """Red-team finding: a gradebook.db of garbage (or truncated) was found only after the class was graded, and
    named as "its gradebook does not know the assignment; run nbgrader generate_assignment", not as damaged."""
    copy = tmp_path / "course"
    shutil.copytree(course, copy, ignore=shutil.ignore_patterns("autograded", "autograde-*.jsonl"))
    good = (copy / "gradebook.db").read_bytes()
    for name, data in {"garbage": b"not a database at all " * 1000, "truncated": good[: len(good) // 2]}.items():
        (copy / "gradebook.db").write_bytes(data)
        done = _run(copy, A, "--student", "blank", "--no-progress", "--no-sandbox")
        assert done.returncode == 2 and "blank:" not in done.stdout, (name, done.stdout, done.stderr[-2000:])
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "gradebook.db is not a readable gradebook (" in lines[0] and "from a backup" in lines[0], (name, lines)
        assert not list(copy.glob("autograde-*.jsonl")) and (copy / "gradebook.db").read_bytes() == data
        with pytest.raises(UserError, match=r"gradebook.db is not a readable gradebook \("):
            bridge.merge([_record("blank")], copy)
        assert not (copy / "autograded").exists()


def test_a_merge_that_cannot_write_the_course_folder_is_one_line(course: Path, monkeypatch):
    """Red-team finding: `--merge` in a read-only course folder or on a full disk ended in a traceback (OSError from
    the staging folder or from copying a notebook into it)."""
    import errno
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(course / ".gan-course-merge-x"))

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    with pytest.raises(UserError) as err:
        bridge.merge([_record("blank")], course)
    said = str(err.value)
    assert said.startswith(f"the merge could not write in the course folder {course} (No space left on device: ") and "\n" not in said
    assert said.endswith("free space there, or merge as a user who can write it, then merge again")


def test_records_that_cannot_be_kept_in_the_course_folder_go_to_the_temporary_folder(tmp_path: Path, monkeypatch):
    """A full course disk at the end: writing the kept records raised OSError, a traceback, and the grades were lost."""
    from reference.grading import command

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "course").write_text("a file where the course folder was: nothing can be written in it")
    kept = command._keep([_record("blank")], A, tmp_path / "course")
    assert Path(kept).parent == tmp_path / "tmp" and json.loads(Path(kept).read_text())["student"] == "blank"


def test_a_notebook_without_cell_ids_merges_without_nbformats_advice(course: Path, tmp_path: Path):
    """Red-team finding: a notebook saved without cell ids (an older Jupyter) was recorded, but the merge printed
    nbformat's MissingIDFieldWarning twice, once as a bare Python warning with its source line, advising the instructor
    to `normalize()` notebooks: the ids are given before nbgrader validates (`repair_structure`)."""
    nb = json.loads((course / "submitted" / "blank" / A / f"{A}.ipynb").read_text())
    for cell in nb["cells"]:
        cell.pop("id", None)
    (course / "submitted" / "noids" / A).mkdir(parents=True)
    (course / "submitted" / "noids" / A / f"{A}.ipynb").write_text(json.dumps(nb))
    try:
        graded = _run(course, A, "--student", "noids", "--results", str(tmp_path / "r.jsonl"), "--no-progress", "--no-sandbox")
        assert graded.returncode == 0, graded.stderr[-2000:]
        merged = _run(course, "--merge", str(tmp_path / "r.jsonl"))
        assert merged.returncode == 0 and (course / "autograded" / "noids" / A / f"{A}.ipynb").is_file(), merged.stderr[-2000:]
        assert "missing an id" not in merged.stderr and "validator.py" not in merged.stderr, merged.stderr
    finally:
        shutil.rmtree(course / "submitted" / "noids")
        shutil.rmtree(course / "autograded", ignore_errors=True)
