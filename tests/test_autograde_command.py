"""`gan-course autograde` as an instructor runs it, in a temporary copy of the course.

Three submissions of a1_theory (the solution, the untouched student version, one with a wrong
Fréchet distance) are graded three ways: `--jobs 2` into the gradebook; two shards run at the same
time as separate processes (`--shard K/2 --results shard-K.jsonl`, as a Slurm array or a
Kubernetes Indexed Job would) and then `--merge`d; and the same merge again. All three give the
same grades, the second merge changes nothing in the gradebook or the autograded notebooks, and
the rest of nbgrader's workflow (export, feedback) runs on the result. Mistakes in the command
line end in one line on stderr and status 2.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from conftest import course_env, generated_course
from reference.grading.notebook import answered
from reference.grading.sandbox import sandbox_problem
from sandbox_support import NO_SANDBOX_FLAG, UNSHARE, needs_unshare

ROOT = Path(__file__).resolve().parents[1]
A = "a1_theory"


_env = course_env


def _run(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["gan-course", "autograde", *args], cwd=course, env=env or _env(), capture_output=True, text=True)


def _grades(course: Path) -> dict[str, float]:
    done = subprocess.run(["nbgrader", "export", "--to", "grades.csv"], cwd=course, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(course / "grades.csv", newline="") as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f) if row["assignment"] == A}


def _state(course: Path) -> tuple:
    """The gradebook's grades and the autograded notebooks' bytes."""
    with sqlite3.connect(course / "gradebook.db") as db:
        grades = sorted(db.execute("select auto_score, manual_score, extra_credit, notebook_id, cell_id from grade").fetchall(), key=str)
    notebooks = {p.relative_to(course).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in (course / "autograded").rglob("*.ipynb")}
    return grades, notebooks


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = tmp_path_factory.mktemp("course")
    release, source = generated_course(course, A)
    wrong = answered(release, source)
    for cell in wrong.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "frechet":
            cell.source = "def frechet_distance(mu1, sigma1, mu2, sigma2):\n    return float(((mu1 - mu2) ** 2).sum())\n"
    for student, nb in {"solution": answered(release, source), "blank": nbformat.read(release, as_version=4), "wrong": wrong}.items():
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{A}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-23 10:00:00.000000 UTC")
    return course


@pytest.fixture(scope="module")
def three_ways(course: Path) -> dict:
    """Grades after --jobs 2, after merging two parallel shards, and the state after merging twice."""
    sandbox = NO_SANDBOX_FLAG
    done = _run(course, A, "--jobs", "2", "--no-progress", *sandbox)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = _grades(course)
    for folder in ("autograded", "feedback"):
        shutil.rmtree(course / folder, ignore_errors=True)
    (course / "gradebook.db").unlink()
    generated_course(course, A)
    shards = [
        subprocess.Popen(["gan-course", "autograde", A, "--shard", f"{k}/2", "--results", f"shard-{k}.jsonl", "--no-progress", *sandbox],
                         cwd=course, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in (1, 2)
    ]
    for proc in shards:
        out, err = proc.communicate()
        assert proc.returncode == 0, err[-3000:]
    merged = _run(course, "--merge", "shard-1.jsonl", "shard-2.jsonl")
    assert merged.returncode == 0, merged.stderr[-3000:]
    first = _state(course)
    merged_grades = _grades(course)
    again = _run(course, "--merge", "shard-2.jsonl", "shard-1.jsonl")
    assert again.returncode == 0, again.stderr[-3000:]
    return {"jobs": jobs, "merged": merged_grades, "first": first, "second": _state(course), "shards": [
        (course / f"shard-{k}.jsonl").read_text().count("\n") for k in (1, 2)]}


def test_jobs_grade_every_submission_with_the_expected_scores(three_ways):
    jobs = three_ways["jobs"]
    assert jobs["solution"] == 22.0 and jobs["blank"] == 0.0  # a1's automatic points
    assert 0.0 < jobs["wrong"] < 22.0


def test_shards_split_the_class_and_merge_into_the_same_grades(three_ways):
    assert sorted(three_ways["shards"]) == [1, 2]
    assert three_ways["merged"] == three_ways["jobs"]


def test_a_merge_names_the_submissions_no_record_was_given_for(course: Path, three_ways):
    """One shard's task died: merging the other shard's records said "merged 2 submission(s)" and nothing about the
    student left out, who had no grade at all."""
    done = _run(course, "--merge", "shard-1.jsonl")
    assert done.returncode == 0, done.stderr
    recorded = {json.loads(line)["student"] for line in (course / "shard-1.jsonl").read_text().splitlines()}
    missing = sorted({"solution", "blank", "wrong"} - recorded)
    assert missing and f"have no record among the files merged ({', '.join(missing)})" in done.stderr, done.stderr
    done = _run(course, "--merge", "shard-1.jsonl", "shard-2.jsonl")
    assert done.returncode == 0 and "no record" not in done.stderr, done.stderr


def test_merging_twice_changes_nothing(three_ways):
    assert three_ways["second"] == three_ways["first"]


def test_feedback_follows_as_after_nbgrader_autograde(course: Path, three_ways):
    done = subprocess.run(["nbgrader", "generate_feedback", A, "--force"], cwd=course, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (course / "feedback" / "wrong" / A / f"{A}.html").read_text()
    assert "frechet_distance" in html and " points" in html and "BEGIN HIDDEN TESTS" not in html


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([A, "--shard", "3/2", "--results", "x.jsonl"], "--shard '3/2': give K/N"),
        ([A, "--shard", "1/2"], "--shard needs --results"),
        # --no-sandbox: on a host where bubblewrap cannot make a sandbox, that is said before these mistakes
        (["a9_nothing", "--no-sandbox"], "no checks for 'a9_nothing'"),
        (["--merge", "missing.jsonl"], "results file missing.jsonl does not exist"),
        (["--merge", "submitted"], "results file submitted is a folder; pass the files that --results wrote"),
        (["--merge", "nbgrader_config.py"], "nbgrader_config.py:"),
        ([], "give the assignment to grade"),
        ([A, "--jobs", "0"], "--jobs 0"),
        ([A, "--wall-s", "nan", "--no-sandbox"], "grading limit wall_s = nan: give a positive number"),
        ([A, "--check-s", "inf", "--no-sandbox"], "grading limit check_s = inf: give a positive number"),
        ([A, "--student", "../x"], "--student '../x' is not a student id"),
        ([A, "--student", ""], "--student '' is not a student id"),
        ([A, "--student", "Mary Jane"], "rename one named otherwise (e.g. 'Mary_Jane')"),
        # refused before anyone is graded: the grades of the whole class were lost at the end, with a traceback
        ([A, "--results", "submitted"], "--results submitted is a folder; give a file name in it"),
        ([A, "--results", "nbgrader_config.py/r.jsonl"], "nbgrader_config.py is a file, not a folder"),
    ],
)
def test_mistakes_end_in_one_line_and_status_2(course: Path, args: list[str], says: str):
    done = _run(course, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gan-course: error:") and says in lines[0], done.stderr


def test_without_bubblewrap_it_refuses_unless_told_no_sandbox(course: Path, tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gan-course", "nbgrader", "alembic"):
        os.symlink(Path(sys.executable).parent / tool, bin_dir / tool)
    env = _env()
    env["PATH"] = f"{bin_dir}{os.pathsep}/nonexistent"
    done = _run(course, A, "--student", "blank", "--results", str(tmp_path / "r.jsonl"), env=env)
    assert done.returncode == 2 and "bubblewrap (bwrap) is not installed" in done.stderr and "--no-sandbox" in done.stderr
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.skipif(__import__("reference.grading.sandbox", fromlist=["x"]).gpu_problem() is None, reason="this machine has a GPU")
def test_gpu_on_a_machine_without_one_is_refused_before_grading_anyone(course: Path, tmp_path: Path):
    """--gpu where the host shows no NVIDIA GPU: every submission's CUDA code would fail in its sandbox and
    cost its student the checks; one line naming the fix instead, nothing graded, nothing written."""
    done = _run(course, A, "--gpu", "--results", str(tmp_path / "r.jsonl"), *NO_SANDBOX_FLAG)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stdout + done.stderr
    assert lines[0] == ("gan-course: error: --gpu: this machine shows no NVIDIA GPU (no /dev/nvidia0 device file); grade "
                        "without --gpu, or on a machine with an NVIDIA GPU and its driver"), lines
    assert not (tmp_path / "r.jsonl").exists() and "grading" not in done.stdout


def test_jobs_share_the_hosts_cores_unless_cpus_is_given(course: Path, tmp_path: Path, monkeypatch):
    """--jobs 2 on a 2-core host: each sandbox may use 1 core on average, not the default 2, so that one submission
    cannot take the whole host from the classmate graded beside it (red-team finding); --cpus, or
    c.GanCourseGrading.cpus, is kept as given."""
    import reference.cpu as cpu
    import reference.grading.runner as runner
    from reference.cli import main

    seen = []
    monkeypatch.setattr(runner, "grade_many", lambda subs, assignment, root, **kwargs: seen.append(kwargs["limits"].cpus) or [])
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    monkeypatch.chdir(course)
    for k, flags in enumerate((["--jobs", "2"], ["--jobs", "1"], ["--jobs", "4"], ["--jobs", "2", "--cpus", "1.5"])):
        assert main(["autograde", A, "--student", "blank", "--no-progress", "--results", str(tmp_path / f"r{k}.jsonl"), *flags,
                     *NO_SANDBOX_FLAG]) == 0
    assert seen == [1.0, 2.0, 0.5, 1.5]


def test_gpu_reaches_every_submissions_grading(course: Path, tmp_path: Path, monkeypatch):
    """--gpu on a machine that shows a GPU: grade_many, and through it each submission's sandbox, gets gpu=True
    (tests/test_gpu.py shows on a GPU what the sandbox then sees); without --gpu, gpu=False."""
    import reference.grading.runner as runner
    import reference.grading.sandbox as sandbox
    from reference.cli import main

    seen = []

    def spy(subs, assignment, root, **kwargs):
        seen.append(kwargs["gpu"])
        return []

    monkeypatch.setattr(sandbox, "gpu_problem", lambda dev="/dev": None)
    monkeypatch.setattr(runner, "grade_many", spy)
    monkeypatch.chdir(course)
    for flags in (["--gpu"], []):
        assert main(["autograde", A, "--student", "blank", "--no-progress", "--results", str(tmp_path / "r.jsonl"), *flags,
                     *NO_SANDBOX_FLAG]) == 0
    assert seen == [True, False]


# what bubblewrap prints where the kernel, AppArmor (Ubuntu 23.10+) or a container refuses it the
# unprivileged user namespaces it needs: it is installed, and no sandbox can be made
REFUSING_BWRAP = """#!/bin/sh
echo "bwrap: setting up uid map: Permission denied" >&2
exit 1
"""


def _refusing_bwrap(tmp_path: Path) -> dict:
    """An environment whose PATH finds a bwrap that cannot make a sandbox, then the course's tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bwrap").write_text(REFUSING_BWRAP)
    (bin_dir / "bwrap").chmod(0o755)
    env = _env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


def test_a_host_that_cannot_sandbox_stops_before_grading_anyone(course: Path, tmp_path: Path):
    """bwrap installed but refused its namespaces: one line naming the host's problem and its fix,
    status 2, no records and nothing in the gradebook, never a class of zeros blamed on exit()."""
    env = _refusing_bwrap(tmp_path)
    gradebook = (course / "gradebook.db").read_bytes() if (course / "gradebook.db").exists() else None
    for results in ([], ["--results", str(tmp_path / "r.jsonl")]):  # into the gradebook, and into a shard's file
        done = _run(course, A, "--student", "blank", *results, env=env)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert "bubblewrap cannot make a sandbox on this machine (bwrap: setting up uid map: Permission denied)" in lines[0]
        assert "apparmor_restrict_unprivileged_userns" in lines[0] and "--no-sandbox" in lines[0]
        assert not (tmp_path / "r.jsonl").exists()
        assert ((course / "gradebook.db").read_bytes() if (course / "gradebook.db").exists() else None) == gradebook
    done = _run(course, A, "--student", "blank", "--results", str(tmp_path / "r.jsonl"), "--no-sandbox", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "r.jsonl").is_file()
    # the command's own mistake first: fixing the host would only lead to it
    done = _run(course, "a2_conv_layer", "--student", "blank", env=env)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "a2_conv_layer" in done.stderr and "bubblewrap" not in done.stderr, done.stderr


def test_bwraps_own_long_advice_is_quoted_whole(tmp_path: Path, monkeypatch):
    """bubblewrap's message on Debian runs past 200 characters; it was cut mid-word ("..._userns_clo")."""
    said = ("bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
            "non-privileged user namespaces. On e.g. debian this can be enabled with "
            "'sysctl kernel.unprivileged_userns_clone=1'.")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bwrap").write_text(f"#!/bin/sh\necho \"{said}\" >&2\nexit 1\n")
    (bin_dir / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert f"({said})" in sandbox_problem()


def test_grading_one_submission_on_such_a_host_raises_instead_of_scoring_zero(tmp_path: Path, monkeypatch):
    """The same from Python: `grade_submission` raises SandboxUnavailable (a UserError), where it used to
    return a record of zeros whose message told the student not to call exit()."""
    from reference.grading.runner import grade_submission
    from reference.grading.sandbox import SandboxUnavailable

    monkeypatch.setenv("PATH", _refusing_bwrap(tmp_path)["PATH"])
    assert "setting up uid map: Permission denied" in sandbox_problem()
    with pytest.raises(SandboxUnavailable, match="bubblewrap cannot make a sandbox on this machine"):
        grade_submission(ROOT / "solutions" / A / f"{A}.ipynb", A, ROOT)


def test_a_closed_stdout_does_not_stop_the_grading(course: Path, tmp_path: Path):
    """`gan-course autograde ... | head -1`: the first progress line after head quit raised BrokenPipeError, which
    stopped the grading of the whole class and lost every grade. What is left to print goes nowhere now."""
    sandbox = NO_SANDBOX_FLAG
    results = tmp_path / "records.jsonl"
    proc = subprocess.Popen(["gan-course", "autograde", A, "--no-progress", "--results", str(results), *sandbox], cwd=course,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, err[-2000:]
    assert "Traceback" not in err and "BrokenPipeError" not in err, err[-2000:]
    assert results.read_text().count("\n") == 3


def test_a_terminal_that_closes_under_a_grading_that_ignores_sighup_does_not_stop_it(course: Path, tmp_path: Path):
    """`gan-course autograde ... & disown` (or a shell that ignores SIGHUP) over SSH, and the session drops: the terminal
    is gone, and every write to it fails with EIO. The first student's line raised OSError, which stopped the grading of
    the whole class (status 1, no grade kept, the error written to the dead terminal). Now the grading goes on to the end."""
    import pty

    results = tmp_path / "records.jsonl"
    master, slave = pty.openpty()
    os.close(master)  # the terminal is gone before the first line: writes to it fail with EIO
    try:
        done = subprocess.run(["gan-course", "autograde", A, "--results", str(results), *NO_SANDBOX_FLAG], cwd=course,
                              env=_env(), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, timeout=900)
    finally:
        os.close(slave)
    assert done.returncode == 0
    assert results.read_text().count("\n") == 3


@pytest.mark.parametrize("umask", [0o077, 0o027], ids=["umask-077", "umask-027"])
def test_a_course_its_group_shares_stays_writable_by_the_group_whatever_the_umask(course: Path, tmp_path: Path, umask: int):
    """Two instructors share a course through a group (the folder 2770). One with umask 077 (or 027) graded: autograded/
    and each student's folder in it came out 0700 (0750), and the other's next autograde stopped ("the course folder
    autograded takes no new file"). In a course folder its group may write, what a run makes is the group's too."""
    shared = Path(shutil.copytree(course, tmp_path / "shared", symlinks=True))
    shutil.rmtree(shared / "autograded", ignore_errors=True)  # as before the first grading: this run makes it
    for folder in (shared, shared / "submitted", shared / "submitted" / "blank"):
        folder.chmod(0o2770)
    done = subprocess.run(["gan-course", "autograde", A, "--student", "blank", "--no-progress", *NO_SANDBOX_FLAG], cwd=shared,
                          env=_env(), capture_output=True, text=True, umask=umask)
    assert done.returncode == 0, done.stderr[-2000:]
    for made in (shared / "autograded", shared / "autograded" / "blank", shared / "autograded" / "blank" / A):
        assert made.stat().st_mode & 0o070 == 0o070, f"{made}: {oct(made.stat().st_mode)}"
        assert made.stat().st_mode & 0o007 == 0, "others' bits follow the umask"
    if umask != 0o077:
        return
    private = Path(shutil.copytree(course, tmp_path / "private", symlinks=True))
    shutil.rmtree(private / "autograded", ignore_errors=True)
    private.chmod(0o700)  # a course folder of one user: the umask as it is
    done = subprocess.run(["gan-course", "autograde", A, "--student", "blank", "--no-progress", *NO_SANDBOX_FLAG], cwd=private,
                          env=_env(), capture_output=True, text=True, umask=umask)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (private / "autograded").stat().st_mode & 0o777 == 0o777 & ~umask


def _marked(mark: str) -> list[int]:
    """The processes whose environment holds GAN_COURSE_TEST_MARK=`mark` (a command's and its children's)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"GAN_COURSE_TEST_MARK={mark}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _wait_for(condition, timeout_s: float = 900.0) -> bool:
    """Whether `condition()` came true before `timeout_s`: a bound against hanging forever, never a speed test (it
    returns as soon as the condition holds; a busy machine only makes the wait longer)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_grading_job_that_is_stopped_leaves_no_grader_running_and_no_scratch(course: Path, tmp_path: Path, how: str):
    """`kill`, `timeout` or a scheduler stopping `gan-course autograde`: its grading processes went on grading
    the queue, orphaned (with their sandboxes and scratch folders), for as long as the class took. Now SIGTERM
    stops them, each ending its sandbox and removing its scratch, and says in one line that nothing was
    recorded; a SIGKILL of the command reaches them too (the kernel's parent-death signal)."""
    sandbox = NO_SANDBOX_FLAG
    mark, tmp, results = uuid.uuid4().hex, tmp_path / "tmp", tmp_path / "records.jsonl"  # this run's processes only
    tmp.mkdir()
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:  # a file, not a pipe: what is left running must not hold the test's read
        proc = subprocess.Popen(["gan-course", "autograde", A, "--jobs", "2", "--no-progress", "--results", str(results), *sandbox],
                                cwd=course, env=_env(TMPDIR=str(tmp), GAN_COURSE_TEST_MARK=mark), stdout=subprocess.DEVNULL,
                                stderr=stderr)
        try:
            assert _wait_for(lambda: any(tmp.glob("gan-course-grading-*"))), "no submission's grading began"
            proc.send_signal(getattr(signal, how))
            proc.wait(timeout=600)  # a bound against hanging, not a speed test
        finally:
            proc.kill()
    err = log.read_text()
    assert _wait_for(lambda: not _marked(mark)), f"grading processes left running: {_marked(mark)}"
    assert not results.exists()
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("gan-course-")], list(tmp.iterdir())
    if how == "SIGTERM":
        assert proc.returncode == 2 and err.strip().splitlines() == [
            "gan-course: error: stopped by SIGTERM (a time limit, a culler or kill); no grades were recorded "
            "(the grading processes were stopped); run the same command again"], err[-2000:]


def test_a_merge_that_is_stopped_leaves_no_staging_and_can_run_again(course: Path, three_ways, tmp_path: Path):
    """SIGTERM during `--merge` killed it on the spot, leaving its staged copy of the submissions in the
    course folder; now the staging is removed and one line says to merge again."""
    copy = tmp_path / "course"
    shutil.copytree(course, copy, symlinks=True)
    proc = subprocess.Popen(["gan-course", "autograde", "--merge", "shard-1.jsonl", "shard-2.jsonl"], cwd=copy, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: any(copy.glob(".gan-course-merge-*")) or proc.poll() is not None), "the merge hangs"
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the merge ended (exit {proc.returncode}) before it could be stopped: it needs a larger class "
                        f"to be stopped, or it failed:\n{err[-2000:]}")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert not list(copy.glob(".gan-course-merge-*"))
    if proc.returncode == 0:
        pytest.fail("the merge ended before the signal reached it: it needs a larger class to be stopped")
    assert proc.returncode == 2 and "merge the same files again" in err.strip().splitlines()[-1], err[-2000:]
    again = _run(copy, "--merge", "shard-1.jsonl", "shard-2.jsonl")
    assert again.returncode == 0, again.stderr[-2000:]


def test_limits_this_host_cannot_give_stop_before_anyone_is_graded(course: Path, tmp_path: Path):
    """A temporary folder with less room than the submissions graded at once may write made a correct submission's
    own writes fail (0 points, the host's fault blamed on the student): one line names the room and the fix."""
    done = _run(course, A, "--student", "solution", "--disk-mb", "100000000", "--results", str(tmp_path / "r.jsonl"), *NO_SANDBOX_FLAG)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "MB free, less than the" in lines[0] and "point TMPDIR at a folder with more room" in lines[0], lines[0]
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("flag, value, says", [
    ("--memory-mb", "10", "it ran out of memory starting Python with torch under --memory-mb 10"),
    ("--wall-s", "0.001", "it ran past the submission's wall-time limit (0.001 s)"),
    ("--check-s", "0.001", "--check-s 0.001 s leaves no submission time to run a check: give at least 1 s"),
])
def test_limits_no_submission_can_meet_stop_before_anyone_is_graded(course: Path, tmp_path: Path, flag: str, value: str, says: str):
    """Limits that stop a notebook of one cell that imports torch (10 MB, a millisecond, a check limit of a millisecond)
    scored the whole class 0, into the gradebook, each told to mind exit() in its notebook: they are refused first."""
    sandbox = NO_SANDBOX_FLAG
    done = _run(course, A, "--student", "solution", flag, value, "--results", str(tmp_path / "r.jsonl"), *sandbox)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert says in lines[0] and "exit()" not in lines[0], lines[0]
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("stopped, error", [
    ([], {"ename": "MemoryError", "evalue": ""}),  # the worker's import ran out
    (["the submission was stopped: it used more than 10 MB of memory (the memory limit)"], None),  # the supervisor saw it first
])
def test_a_memory_limit_no_submission_can_meet_is_told_alike_whoever_noticed_it(monkeypatch, stopped, error):
    """On busy cores the supervisor's memory watch sometimes stopped the trial before the import's MemoryError: the
    line then named no flag, and differed from run to run."""
    import contextlib
    import types

    from reference.grading import runner
    from reference.grading.sandbox import Limits

    @contextlib.contextmanager
    def session_for(*args, **kwargs):
        yield types.SimpleNamespace(cells_output={"0": {"error": error}} if error else {}, stopped=stopped)

    monkeypatch.setattr(runner, "session_for", session_for)
    said = runner.limits_problem(A, ROOT, Limits(memory_mb=10))
    assert "it ran out of memory starting Python with torch under --memory-mb 10)" in said, said


@pytest.mark.parametrize("fails_at_default, blames_memory", [(False, True), (True, False)])
def test_a_memory_limit_is_told_whatever_its_symptom(monkeypatch, fails_at_default, blames_memory):
    """Under --memory-mb 10 the import sometimes died of an ImportError ("failed to map segment from shared object")
    and the line named no limit (CI failed on it): the trial is run again under the default memory limit, and memory is
    named only where that run goes through."""
    import contextlib
    import types

    from reference.grading import runner
    from reference.grading.sandbox import Limits

    error = {"ename": "ImportError", "evalue": "binascii.so: failed to map segment from shared object"}
    tried = []

    @contextlib.contextmanager
    def session_for(*args, limits, **kwargs):
        tried.append(limits.memory_mb)
        fails = limits.memory_mb < Limits().memory_mb or fails_at_default
        yield types.SimpleNamespace(cells_output={"0": {"error": error}} if fails else {}, stopped=[])

    monkeypatch.setattr(runner, "session_for", session_for)
    said = runner.limits_problem(A, ROOT, Limits(memory_mb=10))
    assert tried == [10, Limits().memory_mb]
    assert ("it ran out of memory starting Python with torch under --memory-mb 10)" in said) is blames_memory, said
    assert ("failed to map segment" in said) is not blames_memory, said


def test_the_limits_trials_own_time_cap_refuses_no_one(monkeypatch):
    """The trial runs at most PROBE_S whatever --wall-s is: a host slow to import torch (a cold network file system,
    500 shards starting at once) ran past that cap and was told to raise --wall-s, which changed nothing."""
    from reference.grading import runner
    from reference.grading.sandbox import Limits

    monkeypatch.setattr(runner, "PROBE_S", 0.001)
    assert runner.limits_problem(A, ROOT, Limits(), sandbox=sandbox_problem() is None) is None
    said = runner.limits_problem(A, ROOT, Limits(wall_s=0.001), sandbox=sandbox_problem() is None)
    assert said is not None and "wall-time limit (0.001 s)" in said, said


def test_a_hard_limit_below_the_grading_limits_is_told_with_the_flag_that_fits(monkeypatch):
    """A grader that is not root cannot raise its own hard limits (Slurm passes the submitting shell's on; `ulimit -t
    1200` on a login node): each worker failed in its preexec_fn and every submission scored 0, recorded. The command
    says which limit and the flag that fits; the worker never asks for more than the hard limit."""
    from reference.grading import sandbox
    from reference.grading.sandbox import Limits

    hard = {sandbox.resource.RLIMIT_CPU: 1200, sandbox.resource.RLIMIT_DATA: 8 * 2**30}
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sandbox.resource, "getrlimit", lambda which: (hard.get(which, -1), hard.get(which, sandbox.resource.RLIM_INFINITY)))
    said = sandbox.host_limit_problem(Limits())
    assert said == ("this shell's hard limit on CPU time (ulimit -Ht: 1,200) is below the grading limit --cpu-s 1,800; grade "
                    "with --cpu-s 1,195 (or c.GanCourseGrading.cpu_s in nbgrader_config.py), or raise the hard limit first"), said
    assert sandbox.host_limit_problem(Limits(cpu_s=1195)) is None
    set_to = []
    monkeypatch.setattr(sandbox.resource, "setrlimit", lambda which, pair: set_to.append((which, pair)))
    sandbox._lower_limit(sandbox.resource.RLIMIT_CPU, 1800, 1805)
    assert set_to == [(sandbox.resource.RLIMIT_CPU, (1200, 1200))]


def test_a_course_folder_that_takes_no_file_stops_before_anyone_is_graded(course: Path, monkeypatch):
    """Another TA's course, a read-only mount: every submission was graded, then the merge and the records kept
    beside it failed, and the grades were lost. Without --results the folder is tried first."""
    import tempfile

    from reference.grading import command

    real = tempfile.TemporaryFile

    def refused(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == course:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with pytest.raises(command.UserError) as err:
        command._check_course_writable(course)
    assert "takes no new file (Permission denied)" in str(err.value) and "--results FILE" in str(err.value)


@pytest.mark.parametrize(("setting", "says"), [
    ('c.LateSubmissionPlugin.penalty_method = "zeroo"', "c.LateSubmissionPlugin: The 'penalty_method' trait"),
    ('c.Execute.timeout = "ten"', "c.Execute: The 'timeout' trait of an Execute instance expected an int"),
])
def test_a_setting_nbgrader_would_refuse_stops_before_anyone_is_graded(course: Path, tmp_path: Path, setting: str, says: str):
    """A late-penalty method misspelt in nbgrader_config.py was found by nbgrader when it recorded the grades,
    after the whole class was graded: every submission refused, a traceback per student. Now one line names the
    setting before anything runs, for grading and for a merge alike."""
    copy = tmp_path / "course"
    shutil.copytree(course, copy, symlinks=True, ignore=shutil.ignore_patterns("autograded", "feedback"))
    with open(copy / "nbgrader_config.py", "a") as fh:
        fh.write(f"\n{setting}\n")
    for args in ([A, "--results", "r.jsonl", "--no-progress"], ["--merge", "shard-1.jsonl"]):
        done = _run(copy, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and says in lines[0] and "(fix it, then run this again)" in lines[0], done.stderr[-2000:]
        assert not (copy / "r.jsonl").exists() and not (copy / "autograded").exists()


@pytest.mark.parametrize("setting", ['c.CourseDirectory.submitted_directory = "collected"', 'c.CourseDirectory.autograded_directory = "graded"'])
def test_a_course_folder_setting_the_command_does_not_follow_is_refused(course: Path, tmp_path: Path, setting: str):
    """submitted_directory set to "collected" was told "no submissions to grade ... collect them first", about a class
    collected where the setting says; the command reads submitted/ and writes autograded/ only: the setting is named."""
    copy = tmp_path / "course"
    shutil.copytree(course, copy, symlinks=True, ignore=shutil.ignore_patterns("autograded", "feedback"))
    with open(copy / "nbgrader_config.py", "a") as fh:
        fh.write(f"\n{setting}\n")
    name = setting.split(".")[2].split(" ")[0]
    for args in ([A, "--results", "r.jsonl", "--no-progress"], ["--merge", "shard-1.jsonl"]):
        done = _run(copy, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and f"sets c.CourseDirectory.{name} = " in lines[0], done.stderr[-2000:]
        assert "reads and writes nbgrader's default folders only" in lines[0], lines[0]
        assert not (copy / "r.jsonl").exists() and not (copy / "autograded").exists()


def test_results_over_a_file_that_is_no_records_file_is_refused(course: Path):
    """`--results gradebook.db` replaced the gradebook (hand grades and all) with JSON lines."""
    before = (course / "gradebook.db").read_bytes() if (course / "gradebook.db").exists() else None
    for target in ("gradebook.db", "nbgrader_config.py"):
        if not (course / target).exists():
            continue
        done = _run(course, A, "--student", "blank", "--results", target)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "exists and is not a records file" in lines[0], done.stderr
    assert ((course / "gradebook.db").read_bytes() if (course / "gradebook.db").exists() else None) == before


def test_results_over_a_records_file_that_holds_records_is_refused(course: Path, tmp_path: Path):
    """Grading one student again with the class's --results file replaced the file: the class's records were gone,
    without a word (red-team finding). A file that holds records is refused before anyone is graded, and left as it
    was; an empty one is written."""
    records = tmp_path / "r.jsonl"
    done = _run(course, A, "--student", "blank", "--results", str(records), "--no-progress", *NO_SANDBOX_FLAG)
    assert done.returncode == 0 and records.read_text().count("\n") == 1, done.stderr[-2000:]
    before = records.read_bytes()
    done = _run(course, A, "--student", "solution", "--results", str(records), "--no-progress", *NO_SANDBOX_FLAG)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"--results {records} already holds 1 record(s) from an earlier run" in lines[0] and "--merge" in lines[0]
    assert records.read_bytes() == before
    records.write_text("")
    assert _run(course, A, "--student", "blank", "--results", str(records), "--no-progress", *NO_SANDBOX_FLAG).returncode == 0
    assert records.read_text().count("\n") == 1


def test_a_gradebook_that_does_not_know_the_assignment_stops_before_anyone_is_graded(tmp_path: Path):
    """A course set up with generate_assignment --no-db: every submission was graded, then the merge failed, and its
    advice (`nbgrader generate_assignment <id>`) skipped an assignment whose release folder exists. The command
    stops first now, with advice that works (--force)."""
    course = tmp_path / "course"
    (course / "tests").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "tests" / "autograders", course / "tests" / "autograders", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    folder = course / "submitted" / "alice" / A
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / A / f"{A}.ipynb", folder)
    sandbox = NO_SANDBOX_FLAG
    done = _run(course, A, "--no-progress", *sandbox)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"its gradebook does not know the assignment; run `nbgrader generate_assignment {A} --force`" in lines[0], lines[0]
    assert "alice" not in done.stdout and not (course / "autograded").exists()
    shutil.rmtree(course / "submitted")  # and with nothing collected yet, that is what is said (not generate_assignment)
    done = _run(course, A, "--no-progress", *sandbox)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"gan-course: error: no submissions to grade: none found at {course.resolve() / 'submitted' / '<student>' / A / f'{A}.ipynb'} "
        f"(this course has no submitted/ folder: collect them first)"], done.stderr


@pytest.mark.parametrize("stamp", ["yesterday", "10:00"])
def test_a_notebook_changed_after_grading_or_a_bad_timestamp_is_refused_for_that_student(course: Path, three_ways, tmp_path: Path,
                                                                                           stamp: str):
    """A records file merged after the student's notebook was re-collected recorded the old scores beside the new
    notebook (13/17 shown next to right answers); a hand-written timestamp.txt of "yesterday" stopped that student
    with a traceback from nbgrader. Each is refused for that student alone, in one line, the others recorded. A
    time without its date ("10:00") was refused too, but its staged folder stayed, and nbgrader stopped on it
    with a traceback of its own ("no grading record"): that student was reported twice."""
    records = tmp_path / "one.jsonl"
    sandbox = NO_SANDBOX_FLAG
    # the solution merges beside them: nbgrader then reads the whole staging folder
    done = _run(course, A, "--student", "wrong", "--student", "blank", "--student", "solution", "--results", str(records), "--no-progress",
                *sandbox)
    assert done.returncode == 0, done.stderr[-2000:]
    wrong = course / "submitted" / "wrong" / A
    saved_nb, saved_ts = (wrong / f"{A}.ipynb").read_bytes(), (course / "submitted" / "blank" / A / "timestamp.txt").read_bytes()
    try:
        (wrong / f"{A}.ipynb").write_bytes(saved_nb.replace(b"return float(((mu1 - mu2) ** 2).sum())", b"return 0.0"))
        (course / "submitted" / "blank" / A / "timestamp.txt").write_text(stamp)
        done = _run(course, "--merge", str(records))
    finally:
        (wrong / f"{A}.ipynb").write_bytes(saved_nb)
        (course / "submitted" / "blank" / A / "timestamp.txt").write_bytes(saved_ts)
    said = done.stderr
    assert f"submitted/wrong/{A}/{A}.ipynb changed after it was graded" in said and f"--student wrong" in said, said[-2000:]
    assert f"submitted/blank/{A}/timestamp.txt holds {stamp!r}, " in said, said[-2000:]
    assert "Traceback" not in said and "no grading record" not in said, said[-3000:]


@pytest.mark.parametrize(("text", "says"), [
    ("2026-11-23 10:00:00.000000 UTC", None),
    ("2026-11-23T10:00:00+14:00", None),
    ("", None),  # nbgrader's to warn about: no time, no late penalty
    ("2026-11-23 10:00:00 UTC" + " " * 250 + "junk", "not a time nbgrader reads"),  # nbgrader reads the whole file
    ("2026-11-23 10:00:00 UTC\n" * 100, "is 2,400 bytes, not a time nbgrader reads"),
    ("10", "a time without its full date"),  # nbgrader dated it the 10th of the merge's month
    ("10:00", "a time without its full date"),  # ... and this one the day of the merge
])
def test_a_timestamp_is_read_whole_and_must_hold_a_date(tmp_path: Path, text: str, says: str | None):
    """The merge read the first 200 bytes of timestamp.txt, nbgrader the whole file: a time padded with 250 spaces
    and junk passed, then stopped that student with nbgrader's traceback. "10" or "10:00" passed and were dated
    from the day of the merge, late penalties and all."""
    from reference.errors import UserError
    from reference.grading.bridge import check_timestamp

    stamp = tmp_path / "timestamp.txt"
    stamp.write_text(text)
    if says is None:
        check_timestamp(stamp, Path("submitted/x/timestamp.txt"))
        return
    with pytest.raises(UserError, match=re.escape(says)):
        check_timestamp(stamp, Path("submitted/x/timestamp.txt"))


def test_a_stop_waits_for_a_scratch_folder_to_be_named_or_removed(monkeypatch):
    """CI left a gan-course-staged-* folder behind after SIGTERM: a stop raised between a folder's mkdtemp and the
    assignment that names it, or a second stop (one every second while stopping) raised inside its removal, cut the
    clean-up short. Inside such a block a stop is held, and raised once the block is done."""
    from reference import stops
    from reference.grading import runner

    monkeypatch.setattr(runner, "_grading", True)
    monkeypatch.setattr(runner, "_stopping", [])
    done = []
    with pytest.raises(runner.GradingStopped):
        with stops.held():
            runner._stop_grading(signal.SIGTERM, None)  # held: no exception here
            done.append("named")
    assert done == ["named"] and stops._pending is None and stops._depth == 0
    runner._stop_grading(signal.SIGTERM, None)  # a repeat within STOP_REPEAT_S lets that clean-up go on
    runner._stopping.clear()
    with pytest.raises(runner.GradingStopped):  # outside a block it is raised at once
        runner._stop_grading(signal.SIGTERM, None)


# ---- one run at a time, memory the host has, a stopped run resumed -------------------------------------------------

HOLD = """import sys
from pathlib import Path
from reference.grading.command import exclusive_run
results = sys.argv[2] if len(sys.argv) > 2 else None
with exclusive_run(Path(sys.argv[1]), results, what="a1_theory"):
    print("held", flush=True)
    sys.stdin.read()  # held until the test closes stdin, or kills this process
"""


def _holder(course: Path, lock: Path, results: Path | None = None) -> subprocess.Popen:
    """A process that holds `lock` as an autograde run does (`exclusive_run`), once it has printed "held"."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), *([str(results)] if results else [])], cwd=course, env=_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_second_run_into_one_gradebook_is_refused_and_a_killed_one_blocks_none(course: Path, tmp_path: Path):
    """Two autogrades into one gradebook, or a merge beside one, both went ahead (SQLite only made their writes take
    turns) and graded or merged the same students twice. The second is refused in one line naming the first's pid;
    a run killed outright (SIGKILL) holds nothing: the kernel let go of its lock, and the next run goes ahead."""
    from reference.grading.command import COURSE_LOCK

    lock = course / COURSE_LOCK
    holder = _holder(course, lock)
    try:
        for args in (["--merge", "missing.jsonl"], [A, "--student", "blank", "--no-progress", *NO_SANDBOX_FLAG]):
            done = _run(course, *args)
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 2 and len(lines) == 1, done.stderr
            assert lines[0].startswith(f"gan-course: error: another gan-course autograde (a1_theory, pid {holder.pid}, started "), lines
            assert lines[0].endswith("holds this course's gradebook right now; wait for it to end, then run this again (two runs "
                                     "at once would grade or merge the same students twice)"), lines
        # a run into a records file of its own does not wait for the course (shards run at once): refused for its memory here
        done = _run(course, A, "--student", "blank", "--results", str(tmp_path / "r.jsonl"), "--memory-mb", "100000000", *NO_SANDBOX_FLAG)
        assert done.returncode == 2 and "--memory-mb 100000000: more than the" in done.stderr, done.stderr
    finally:
        holder.kill()
        holder.wait()
    assert lock.exists()  # what SIGKILL leaves: a file, no lock
    assert lock.stat().st_mode & 0o777 == 0o666 & ~_umask(), "another grader of the course must be able to open it"
    done = _run(course, "--merge", "missing.jsonl")
    assert done.returncode == 2 and "results file missing.jsonl does not exist" in done.stderr, done.stderr
    assert not lock.exists(), "the next run takes the lock file and removes it when it ends"


def test_a_gradebook_on_a_file_system_without_flock_is_graded_after_a_warning(tmp_path: Path, monkeypatch, capsys):
    """A course on NFS without its lock service: flock fails (ENOLCK). The run went on unlocked without a word, so two
    instructors' runs at once went unnoticed; it still goes on (nothing else can lock there), after one line saying so."""
    import errno
    import fcntl

    from reference.grading.command import exclusive_run

    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_flock)
    for results, named in ((None, "this course's gradebook"), (str(tmp_path / "r.jsonl"), f"--results {tmp_path / 'r.jsonl'}")):
        ran = []
        with exclusive_run(tmp_path / "lock", results, what=A):
            ran.append(True)
        lines = capsys.readouterr().err.splitlines()
        assert ran and len(lines) == 1, lines
        assert lines[0].startswith(f"gan-course: warning: {named} cannot be locked on its file system (No locks available"), lines
        assert lines[0].endswith("would not be refused; run one at a time"), lines


def test_a_holder_named_in_the_lock_file_that_is_gone_is_not_named(tmp_path: Path):
    """The lock file names its holder as the holder wrote it; one that could not write it (another user's file, read
    only to it) leaves the name of an earlier, killed run there, which is not named as the one holding it now."""
    import socket

    from reference.grading.command import _lock_holder_line

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    lock = tmp_path / ".gan-course-autograde.lock"
    for pid, named in ((int(gone.stdout), False), (os.getpid(), True)):
        lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "what": "--merge", "started": "2026-12-05 10:00:00"}))
        line = _lock_holder_line(lock, None)
        assert (f"pid {pid}" in line) == named and line.startswith("another gan-course autograde "), line


def test_two_runs_writing_one_records_file_are_refused(course: Path, tmp_path: Path):
    """Tasks of a Slurm array given one --results name each wrote the file at their end: the last one's records
    replaced the others', and the merge lacked most of the class. The second is refused at its start."""
    from reference.grading.command import _results_lock

    results = tmp_path / "results" / "a1.jsonl"
    holder = _holder(course, _results_lock(results), results)
    try:
        done = _run(course, A, "--shard", "2/2", "--results", str(results), "--no-progress", *NO_SANDBOX_FLAG)
    finally:
        holder.stdin.close()  # ends as a run ends: its lock file goes
        assert holder.wait() == 0
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"pid {holder.pid}" in lines[0] and f"is writing its records to --results {results} right now; give each run its own file" in lines[0]
    assert not results.exists() and not _results_lock(results).exists() and list(results.parent.iterdir()) == []


def test_a_memory_limit_above_what_the_host_has_is_refused(course: Path, tmp_path: Path, monkeypatch, capsys):
    """--memory-mb had no upper bound: a limit over the host's memory, or --jobs sandboxes each allowed one that together
    could take more than it has, limits nothing (the kernel's out-of-memory killer picks the victim, perhaps the
    grader or a classmate's sandbox). Refused in one line naming the fix, before anyone is graded."""
    import reference.grading.command as command
    import reference.grading.runner as runner
    from reference.cli import main

    seen = []
    monkeypatch.setattr(command, "host_memory_mb", lambda: 4096)
    monkeypatch.setattr(runner, "grade_many", lambda subs, assignment, root, **kwargs: seen.append(kwargs["limits"].memory_mb) or [])
    monkeypatch.setattr(runner, "limits_problem_apart", lambda *args, **kwargs: None)
    monkeypatch.chdir(course)
    (course / "nbgrader_config.py").write_text((course / "nbgrader_config.py").read_text() + "\nc.GanCourseGrading.memory_mb = 3000\n")
    try:
        for flags, says in [
            (["--memory-mb", "5000"], "--memory-mb 5000: more than the 4,096 MiB of memory this machine has; give --memory-mb 4096 or less"),
            (["--jobs", "2"], "c.GanCourseGrading.memory_mb = 3000 in nbgrader_config.py: 2 submissions graded at once (--jobs 2) may "
                              "use 6,000 MiB together, more than the 4,096 MiB of memory this machine has; give --jobs 1 or --memory-mb 2048"),
            (["--jobs", "2", "--memory-mb", "2048"], None),
        ]:
            code = main(["autograde", A, "--student", "blank", "--no-progress", "--results", str(tmp_path / "r.jsonl"), *flags, *NO_SANDBOX_FLAG])
            err = capsys.readouterr().err
            assert (code, err) == ((0, "") if says is None else (2, f"gan-course: error: {says}\n")), err
    finally:
        (course / "nbgrader_config.py").write_text((course / "nbgrader_config.py").read_text().replace("\nc.GanCourseGrading.memory_mb = 3000\n", ""))
    assert seen == [2048]
    done = _run(course, A, "--student", "blank", "--memory-mb", "100000000", "--results", str(tmp_path / "r2.jsonl"), *NO_SANDBOX_FLAG)
    lines = done.stderr.strip().splitlines()  # this host, as it is
    assert done.returncode == 2 and len(lines) == 1 and "MiB of memory this machine has; give --memory-mb" in lines[0], done.stderr
    assert not (tmp_path / "r2.jsonl").exists()


def test_the_hosts_memory_is_the_least_of_memtotal_and_the_control_groups(tmp_path: Path):
    """A container's or a Slurm job's limit (cgroup v2 memory.max, v1 memory.limit_in_bytes) anywhere above this process's
    group, where it is less than MemTotal; 'max' and v1's huge 'no limit' count as none."""
    from reference.grading.command import host_memory_mb

    (tmp_path / "meminfo").write_text("MemTotal:        8388608 kB\nMemFree:  1 kB\n")
    groups = tmp_path / "cg"
    (groups / "job" / "step").mkdir(parents=True)
    (groups / "job" / "memory.max").write_text(f"{2 * 2**30}\n")
    (groups / "job" / "step" / "memory.max").write_text("max\n")
    own = tmp_path / "cgroup"
    own.write_text("0::/job/step\n")
    assert host_memory_mb(tmp_path / "meminfo", groups, own) == 2048
    (groups / "job" / "memory.max").write_text("max\n")
    assert host_memory_mb(tmp_path / "meminfo", groups, own) == 8192
    (groups / "memory" / "slurm").mkdir(parents=True)
    (groups / "memory" / "slurm" / "memory.limit_in_bytes").write_text(f"{3 * 2**30}\n")
    (groups / "memory" / "memory.limit_in_bytes").write_text(f"{2**63 - 4096}\n")
    own.write_text("4:memory:/slurm\n1:name=systemd:/x\n")
    assert host_memory_mb(tmp_path / "meminfo", groups, own) == 3072
    assert host_memory_mb(tmp_path / "none", groups, tmp_path / "none") is None


def _record(course: Path, student: str, **changes) -> dict:
    """A grading record of `student`'s a1 notebook as it is now in `course`."""
    notebook = course / "submitted" / student / A / f"{A}.ipynb"
    return {"version": 1, "assignment": A, "student": student, "notebook": A, "cells": {}, "tests": {}, "stopped": [],
            "checks": {"test_x": {"earned": 1.0, "points": 1.0, "message": "", "title": "x"}},
            "notebook_sha256": hashlib.sha256(notebook.read_bytes()).hexdigest(), **changes}


def test_a_stopped_run_keeps_what_it_graded_and_resume_grades_only_the_rest(course: Path, tmp_path: Path, monkeypatch, capsys):
    """Ctrl-C (or SIGTERM, a closed SSH session) at the 290th of 300 students threw away 289 grades: 'no grades were
    recorded; run the same command again'. The records finished before the stop are kept, and --resume FILE grades
    the others only, then records them all together."""
    import reference.grading.runner as runner
    from reference.cli import main

    def stopped_after_one(subs, assignment, root, **kwargs):
        kwargs["progress"](_record(course, subs[0][0]))
        raise KeyboardInterrupt  # as the command line raises Ctrl-C and SIGTERM

    graded = []

    def grades(subs, assignment, root, **kwargs):
        graded.append([student for student, _ in subs])
        return [_record(course, student) for student, _ in subs]

    monkeypatch.setattr(runner, "limits_problem_apart", lambda *args, **kwargs: None)
    monkeypatch.chdir(course)
    students = ["--student", "blank", "--student", "solution", "--student", "wrong"]
    results = tmp_path / "all.jsonl"
    command = ["autograde", A, "--no-progress", "--results", str(results), *students, *NO_SANDBOX_FLAG]
    monkeypatch.setattr(runner, "grade_many", stopped_after_one)
    assert main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    [kept] = tmp_path.glob(f"autograde-{A}-*.jsonl")  # beside the records file the run was to write
    assert err == (f"gan-course: error: interrupted; the 1 of 3 submission(s) graded before the stop are kept in {kept}: grade the "
                   f"other 2 and record them all with the same command and --resume {kept}"), err
    assert not results.exists() and [json.loads(line)["student"] for line in kept.read_text().splitlines()] == ["blank"]
    monkeypatch.setattr(runner, "grade_many", grades)
    assert main([*command, "--resume", str(kept)]) == 0
    assert graded == [["solution", "wrong"]]
    assert sorted(json.loads(line)["student"] for line in results.read_text().splitlines()) == ["blank", "solution", "wrong"]
    assert f"1 submission(s) graded before, kept from {kept}; grading the other 2" in capsys.readouterr().out
    # a record whose notebook has changed since, or whose grading failed, is graded again; another assignment's is refused
    hand = tmp_path / "hand.jsonl"
    hand.write_text("".join(json.dumps(r) + "\n" for r in (
        _record(course, "blank"), _record(course, "solution", notebook_sha256="0" * 64), _record(course, "wrong", failed="boom"))))
    graded.clear()
    assert main([*command[:4], str(tmp_path / "again.jsonl"), *command[5:], "--resume", str(hand)]) == 0
    assert graded == [["solution", "wrong"]]
    hand.write_text(json.dumps(_record(course, "blank", assignment="a2_conv_layers")) + "\n")
    assert main([*command[:4], str(tmp_path / "third.jsonl"), *command[5:], "--resume", str(hand)]) == 2
    assert f"--resume {hand} holds records of a2_conv_layers, not only of {A}" in capsys.readouterr().err


LOGGED = """import json, sys
import reference.grading.runner as runner
from reference.cli import main
records = [json.loads(line) for line in sys.stdin]
def grade_many(subs, assignment, root, **kwargs):
    for record in records:
        kwargs["progress"](record)
    return records
runner.grade_many = grade_many
runner.limits_problem_apart = lambda *args, **kwargs: None
sys.exit(main(sys.argv[1:]))
"""


def test_each_students_line_starts_a_line_of_the_log(course: Path, tmp_path: Path):
    """`gan-course autograde ... > log 2>&1` (nohup, a scheduler, | tee): each student's line was printed after the bar's
    text and the carriage returns that erase it on a terminal, which a file keeps, so the log's lines read
    '\\rgrading a1_theory:  50%|... \\r    \\rblank: 1/1'. Into a file or a pipe the bar is left out: the students'
    lines are the progress there."""
    records = "".join(json.dumps(_record(course, student)) + "\n" for student in ("blank", "solution"))
    done = subprocess.run([sys.executable, "-c", LOGGED, "autograde", A, "--student", "blank", "--student", "solution",
                           "--results", str(tmp_path / "r.jsonl"), *NO_SANDBOX_FLAG], input=records, cwd=course, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.split("\n")  # newlines only: a carriage return ends no line in a log
    assert lines[:2] == ["blank: 1/1", "solution: 1/1"] and lines[2].startswith("graded 2 submission(s)"), done.stdout
    assert "\r" not in done.stdout, done.stdout


@needs_unshare
def test_a_read_only_dev_shm_stops_the_command_before_anyone_is_graded(course: Path, tmp_path: Path):
    """Its pool of grading processes makes its locks in /dev/shm: on a read-only one (some hubs and containers mount
    it so) `gan-course autograde` stopped in a traceback ending in "OSError: [Errno 30] Read-only file system". Now one
    line naming /dev/shm and the fix, status 2, nothing written; in a mount namespace of its own, so nothing else sees it."""
    results = tmp_path / "r.jsonl"
    done = subprocess.run([*UNSHARE, "sh", "-c", 'mount -t tmpfs -o ro tmpfs /dev/shm && exec "$@"', "sh", "gan-course",
                           "autograde", A, "--student", "blank", "--results", str(results), *NO_SANDBOX_FLAG],
                          cwd=course, env=_env(), capture_output=True, text=True, timeout=600)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("gan-course: error: /dev/shm is read-only on this machine") and "--shm-size" in lines[0], lines
    assert not results.exists()
