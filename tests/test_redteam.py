"""The red team: adversarial submissions graded together with honest ones, all contained.

One run of `gan-course autograde a1_theory --jobs 2` grades, in a temporary copy of the course,
three honest submissions (the solution, the untouched student version, and a half-right one) and
one submission per kind of attack below. Each attack is a realistic notebook: the untouched student
version with the attacker's cell at the end, where a student would put it. None of them does the
assignment's work, so each must score exactly 0; the honest ones must score exactly what they
score when graded alone. Then the tests check that nothing outside the submissions' scratch
folders changed: the gradebook holds only what grading wrote, the check modules, the source
notebooks, the other submissions, nbgrader_config.py, the instructor's home, the grading cache
and the host's /tmp are as before; no byte reached a listening socket; no process an attacker
started is left; the feedback shows no hidden check code, no model answer and no gradebook content.

The attacks are bounded, so that CI stays safe even if the sandbox failed: 4 GB against a 1 GB
memory limit, 200 processes against 64, a 2 GB file against a 100 MB file limit, 100 MB of output
against 10 MB, loops that the 4 s check limit stops. Needs bubblewrap (`.ci/run` installs it).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest

from reference.grading.notebook import answered
from reference.grading.sandbox import sandbox_problem

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=f"{sandbox_problem()} (.ci/run installs bubblewrap)")

ROOT = Path(__file__).resolve().parents[1]
A = "a1_theory"
MARKER = "987.654"  # the sleep time of the flood's processes: how leftovers are found
LIMITS = """
c.GanCourseGrading.wall_s = 40
c.GanCourseGrading.check_s = 4
c.GanCourseGrading.memory_mb = 1024
c.GanCourseGrading.processes = 64
c.GanCourseGrading.file_mb = 100
c.GanCourseGrading.disk_mb = 300
c.GanCourseGrading.output_mb = 10
"""

# Each attack's code, formatted with {course} (the course folder), {home} (the instructor's home),
# {cache} (the grading cache), {port} (a listening socket) and {marker}: the worst case, an attacker
# who knows where everything is.
ATTACKS = {
    # the grading runtime, the checks and Partial
    "forged_partial": """
        from reference.grading import Partial
        def d_loss(real, fake):
            raise Partial(2, "")
        def g_loss(fake):
            raise Partial(float("nan"), "")
        def frechet_distance(mu1, s1, mu2, s2):
            raise Partial(1e9, "")
    """,
    "forged_partial_cell": """
        from reference.grading.checks import Partial
        raise Partial(10, "full marks")
    """,
    "negative_and_subclassed_partial": """
        from reference.grading import checks
        class Mine(checks.Partial):
            pass
        def d_loss(real, fake):
            raise Mine(-5, "")
        def g_loss(fake):
            raise checks.Partial(-1e9, "")
        frechet_distance = d_loss
    """,
    "monkeypatched_runtime": """
        import builtins
        import reference.grading.checks as checks
        import reference.grading.local as local
        import reference.grading.runner as runner
        checks.run_check = lambda fn, submission: (fn.points, "")
        checks.outcome = lambda fn, err, namespace=None: (fn.points, "")
        local.grade = lambda *args, **kwargs: 10.0
        runner.grade_submission = lambda *args, **kwargs: {{}}
        builtins.print = lambda *args, **kwargs: None
    """,
    "replaced_modules": """
        import sys, types
        fake = types.ModuleType("reference.grading")
        fake.grade = lambda *args, **kwargs: 10.0
        fake.check = lambda points, visible=False: (lambda fn: fn)
        sys.modules["reference.grading"] = fake
        sys.modules["reference.grading.checks"] = fake
        sys.modules["reference.grading.proxy"] = fake
    """,
    "display_hook_and_fake_lines": """
        import sys
        sys.displayhook = lambda value: print("10.0")
        try:
            get_ipython().display_formatter.formatters["text/plain"].for_type(float, lambda *a: "10.0")
        except Exception:
            pass
        for check in ("d_loss equals the discriminator's minimax loss", "g_loss equals the generator's minimax loss"):
            print(f"a1 {{check}}: 2/2 points")
        10.0
    """,
    "patched_pytest_internals": """
        import _pytest.reports, _pytest.runner
        _pytest.runner.call_and_report = lambda item, when, log=True, **kw: None
        _pytest.reports.TestReport.passed = property(lambda self: True)
        _pytest.reports.TestReport.outcome = "passed"
    """,
    "rewritten_checks_in_memory": """
        import gc
        for obj in gc.get_objects():
            try:  # objects whose attribute lookup raises (lazy modules) are skipped
                found = callable(obj) and hasattr(obj, "points") and hasattr(obj, "__code__")
            except Exception:
                found = False
            if found:
                obj.__code__ = (lambda submission: None).__code__
        import reference.grading.local as local
        local.load_checks = lambda *args, **kwargs: {{}}
    """,
    "redirected_check_lookup": """
        import os, pathlib
        fake = pathlib.Path("fake_course")
        (fake / "tests" / "autograders").mkdir(parents=True, exist_ok=True)
        (fake / "nbgrader_config.py").write_text("")
        (fake / "tests" / "autograders" / "test_a1_theory.py").write_text(
            "from reference.grading import check\\nASSIGNMENT = 'a1_theory'\\n"
            "@check(points=10)\\ndef test_d_loss_matches_minimax(submission):\\n    pass\\n"
        )
        os.environ["GAN_COURSE_ROOT"] = str(fake.resolve())
        open("visible_checks.py", "w").write("")
    """,
    # reading what a student must not see
    "read_hidden_checks_answers_and_gradebook": """
        import glob, os
        wanted = ["{course}/tests/autograders/test_a1_theory.py", "{course}/solutions/a1_theory/a1_theory.ipynb",
                  "{course}/gradebook.db", "{course}/submitted/solution/a1_theory/a1_theory.ipynb"]
        wanted += glob.glob("/**/test_a1_theory.py", recursive=True)[:5] + glob.glob("/**/gradebook.db", recursive=True)[:5]
        for path in wanted:
            try:
                print(path, open(path, "rb").read()[:4000])
            except OSError as err:
                print("no", path, err)
        from reference.losses import Minimax
        print("reference answer", Minimax)
    """,
    "copied_classmate": """
        import json
        nb = json.load(open("{course}/submitted/solution/a1_theory/a1_theory.ipynb"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                exec("".join(cell["source"]), globals())
    """,
    "network": """
        import socket
        for host in ("127.0.0.1", "localhost", "8.8.8.8", "example.org"):
            try:
                with socket.create_connection((host, {port}), timeout=2) as s:
                    s.sendall(b"x" * 4096)
            except OSError as err:
                print("no network", host, err)
    """,
    # writing or deleting outside scratch
    "tampered_gradebook": """
        import os, sqlite3
        try:
            db = sqlite3.connect("{course}/gradebook.db")
            db.execute("update grade set auto_score = 25")
            db.commit()
        except Exception as err:
            print(err)
        for path in ("{course}/gradebook.db", "{course}/grades.csv"):
            try:
                os.remove(path)
            except OSError as err:
                print(err)
    """,
    "overwrote_classmates": """
        import glob
        for path in glob.glob("{course}/submitted/*/a1_theory/a1_theory.ipynb"):
            try:
                open(path, "w").write("{{}}")
            except OSError as err:
                print(err)
    """,
    "edited_checks_on_disk": """
        for path in ("{course}/tests/autograders/test_a1_theory.py", "{course}/tests/autograders/conftest.py"):
            try:
                open(path, "a").write("\\nraise SystemExit('owned')\\n")
            except OSError as err:
                print(err)
    """,
    "planted_config": """
        try:
            open("{course}/nbgrader_config.py", "a").write("\\nimport os; os.system('touch /tmp/owned')\\n")
        except OSError as err:
            print(err)
    """,
    "home_files": """
        import os, pathlib
        for home in ("{home}", os.path.expanduser("~")):
            for rel in (".bashrc", ".ipython/profile_default/startup/00-owned.py", ".config/owned"):
                path = pathlib.Path(home) / rel
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("print('owned')\\n")
                except OSError as err:
                    print(err)
        try:
            open("/tmp/gan-course-redteam-owned", "w").write("owned")
        except OSError as err:
            print(err)
    """,
    "poisoned_caches": """
        import os, pathlib
        for cache in ("{cache}", os.environ.get("GAN_COURSE_CACHE", ""), os.path.expanduser("~/.cache/gan-course")):
            if not cache:
                continue
            path = pathlib.Path(cache) / "classifiers" / "poison" / "digits.pt"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"poison")
                (pathlib.Path(cache) / "marker.txt").write_text("poison")
            except OSError as err:
                print(err)
        import reference, pathlib
        try:
            (pathlib.Path(reference.__file__).parent / "owned.py").write_text("x = 1")
        except OSError as err:
            print(err)
    """,
    # resources and the process itself
    "loop_in_checked_function": """
        def d_loss(real, fake):
            while True:
                pass
        g_loss = lambda fake: d_loss(fake, fake)
    """,
    "sleep_ignoring_signals": """
        import signal, time
        for sig in (signal.SIGINT, signal.SIGALRM, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        def g_loss(fake):
            time.sleep(10**6)
        def frechet_distance(*args):
            time.sleep(10**6)
    """,
    "memory_bomb": """
        blocks = []
        for _ in range(4):
            blocks.append(bytearray(2**30))
    """,
    "process_flood": """
        import subprocess
        started = []
        for _ in range(200):
            try:
                started.append(subprocess.Popen(["sleep", "{marker}"], start_new_session=True))
            except OSError:
                break
        print(len(started), "started")
    """,
    "disk_fill": """
        chunk = b"x" * 2**20
        for name in ("big.bin", "more1.bin", "more2.bin", "more3.bin", "more4.bin"):
            try:
                with open(name, "wb") as f:
                    for _ in range(2048 if name == "big.bin" else 95):
                        f.write(chunk)
            except OSError as err:
                print(err)
    """,
    "os_exit": """
        import os
        os._exit(0)
    """,
    "system_exit_and_keyboard_interrupt": """
        try:
            raise SystemExit(0)
        finally:
            raise KeyboardInterrupt
    """,
    "killed_parent": """
        import os, signal
        for pid in (os.getppid(), 1, -1):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as err:
                print(err)
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
    """,
    "output_flood": """
        import os
        line = ("x" * 1023 + "\\n")
        for _ in range(100 * 1024):
            print(line, end="")
        for _ in range(100):
            os.write(1, line.encode() * 1024)
    """,
}


def _snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder` (symlinks not followed)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and not rel.startswith(skip):
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _leftover_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if MARKER in cmdline:
                found.append(f"{entry}: {cmdline}")
    return found


class Listener:
    """A TCP socket on 127.0.0.1 that counts the bytes it receives."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.received = 0
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                while data := conn.recv(65536):
                    self.received += len(data)

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=2)
        self.server.close()


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def _submit(course: Path, student: str, nb: nbformat.NotebookNode) -> None:
    folder = course / "submitted" / student / A
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{A}.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Grade the honest and the adversarial submissions in one run; what the tests look at."""
    base = tmp_path_factory.mktemp("redteam")
    course, home, cache = base / "course", base / "home", base / "cache"
    course.mkdir()
    (home / ".ssh").mkdir(parents=True)
    (home / ".bashrc").write_text("# the instructor's\n")
    (home / ".ssh" / "id_ed25519").write_text("secret key\n")
    (cache / "classifiers" / "k").mkdir(parents=True)
    (cache / "classifiers" / "k" / "digits.pt").write_bytes(b"the instructor's classifier")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(LIMITS)
    shutil.copytree(ROOT / "tests" / "autograders", course / "tests" / "autograders", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    env = {
        **os.environ,
        "HOME": str(home),
        "GAN_COURSE_CACHE": str(cache),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("GAN_COURSE_ROOT", None)
    assert _run(["nbgrader", "generate_assignment", A, "--force"], course, env).returncode == 0
    release, source = course / "assignments" / A / f"{A}.ipynb", course / "solutions" / A / f"{A}.ipynb"
    half = answered(release, source)
    for cell in half.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "frechet":
            cell.source = "def frechet_distance(mu1, sigma1, mu2, sigma2):\n    return float(((mu1 - mu2) ** 2).sum())\n"
    honest = {"solution": answered(release, source), "blank": nbformat.read(release, as_version=4), "half": half}
    for student, nb in honest.items():
        _submit(course, student, nb)
    listener = Listener()
    fill = {"course": course, "home": home, "cache": cache, "port": listener.port, "marker": MARKER}
    for name, code in ATTACKS.items():
        nb = nbformat.read(release, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(textwrap.dedent(code.format(**fill)).strip()))
        _submit(course, name, nb)
    before = {
        "course": _snapshot(course),
        "home": _snapshot(home),
        "cache": _snapshot(cache),
        "tmp": sorted(p.name for p in Path("/tmp").iterdir() if "owned" in p.name),
    }
    try:
        result = _run(["gan-course", "autograde", A, "--jobs", "2", "--no-progress"], course, env)
    finally:
        listener.close()
    assert result.returncode == 0, result.stderr[-3000:]
    alone = {}
    from reference.grading.runner import grade_submission

    alone["half"] = grade_submission(course / "submitted" / "half" / A / f"{A}.ipynb", A, course)
    exported = _run(["nbgrader", "export", "--to", "grades.csv"], course, env)
    assert exported.returncode == 0, exported.stderr[-2000:]
    feedback = _run(["nbgrader", "generate_feedback", A, "--force"], course, env)
    assert feedback.returncode == 0, feedback.stderr[-2000:]
    with open(course / "grades.csv", newline="") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    return {
        "course": course,
        "home": home,
        "cache": cache,
        "before": before,
        "scores": scores,
        "alone": alone,
        "listener": listener,
        "stdout": result.stdout,
        "honest": honest,
    }


def _points(course: Path) -> float:
    return sum(
        float(c.metadata["nbgrader"]["points"])
        for c in nbformat.read(course / "solutions" / A / f"{A}.ipynb", as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    )


def _test_lines(course: Path, student: str) -> str:
    nb = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    return "\n".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution")
        for out in cell.get("outputs", [])
    )


def test_every_submission_was_graded(graded):
    assert set(graded["scores"]) == {"solution", "blank", "half", *ATTACKS}


def test_honest_submissions_score_exactly_what_they_score_alone(graded):
    scores = graded["scores"]
    assert scores["solution"] == _points(graded["course"])
    assert scores["blank"] == 0.0
    alone = sum(c["earned"] for c in graded["alone"]["half"]["checks"].values())
    assert 0 < alone < _points(graded["course"])
    assert scores["half"] == alone


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_what_its_honest_work_deserves(graded, attack: str):
    assert graded["scores"][attack] == 0.0, _test_lines(graded["course"], attack)


def test_nothing_outside_scratch_changed(graded):
    course, before = graded["course"], graded["before"]
    after = _snapshot(course, skip=("autograded/", "feedback/", "gradebook.db", "grades.csv"))
    expected = {k: v for k, v in before["course"].items() if not k.startswith("gradebook.db")}
    assert after == expected, "files of the course changed during grading"
    assert _snapshot(graded["home"]) == before["home"], "the instructor's home changed"
    assert _snapshot(graded["cache"]) == before["cache"], "the grading cache changed"
    assert sorted(p.name for p in Path("/tmp").iterdir() if "owned" in p.name) == before["tmp"]


def test_no_byte_reached_the_network(graded):
    assert graded["listener"].received == 0


def test_no_process_is_left_behind(graded):
    assert _leftover_processes() == []


def test_feedback_shows_no_hidden_check_no_answer_and_no_gradebook(graded):
    course = graded["course"]
    checks = (course / "tests" / "autograders" / f"test_{A}.py").read_text()
    secrets = [line.strip() for line in checks.splitlines() if line.strip().startswith(("assert ", "raise Partial"))][:8]
    source = nbformat.read(course / "solutions" / A / f"{A}.ipynb", as_version=4)
    secrets += [
        line.strip()
        for cell in source.cells
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution")
        for line in cell.source.splitlines()
        if len(line.strip()) > 30
    ][:8]
    secrets += ["SQLite format 3", "secret key", "BEGIN HIDDEN TESTS"]
    assert len(secrets) > 6
    for student in ("read_hidden_checks_answers_and_gradebook", "copied_classmate", "blank"):
        html = (course / "feedback" / student / A / f"{A}.html").read_text()
        leaked = [s for s in secrets if s in html]
        assert not leaked, f"the feedback of {student} shows {leaked[:2]}"


def test_limits_are_named_in_the_feedback(graded):
    course = graded["course"]
    assert "time limit of one check" in _test_lines(course, "loop_in_checked_function") or "time limit" in _test_lines(
        course, "loop_in_checked_function"
    )
    assert "time limit" in _test_lines(course, "sleep_ignoring_signals")
    # as root the kernel does not enforce RLIMIT_NPROC: the supervisor stops the sandbox and names the limit;
    # for any other user the kernel refuses every fork past it, and the flood's own cell says how many it got
    flood = nbformat.read(course / "autograded" / "process_flood" / A / f"{A}.ipynb", as_version=4)
    started = [int(line.split()[0]) for cell in flood.cells for out in cell.get("outputs", []) if out.get("name") == "stdout"
               for line in out.get("text", "").splitlines() if line.endswith(" started")]
    assert "more than 64 processes (the process limit)" in _test_lines(course, "process_flood") or (
        os.geteuid() != 0 and started and started[0] < 64
    ), (_test_lines(course, "process_flood"), started)
    assert "file-size limit" in _test_lines(course, "disk_fill") or "disk limit" in _test_lines(course, "disk_fill")
    assert "output limit" in _test_lines(course, "output_flood")
    assert "exit" in _test_lines(course, "os_exit")
    nb = nbformat.read(course / "autograded" / "memory_bomb" / A / f"{A}.ipynb", as_version=4)
    errors = [out for out in nb.cells[-1].outputs if out.output_type == "error"]
    assert (errors and errors[0].ename == "MemoryError") or "memory limit" in _test_lines(course, "memory_bomb")


def test_graded_notebooks_stay_small(graded):
    for path in (graded["course"] / "autograded").rglob("*.ipynb"):
        assert path.stat().st_size < 2 * 2**20, f"{path} is {path.stat().st_size:,} bytes"


@pytest.mark.parametrize("attack", ["forged_partial_cell", "os_exit", "monkeypatched_runtime", "patched_pytest_internals"])
def test_plain_pytest_grading_contains_the_same_attacks(graded, attack: str, tmp_path: Path):
    """`pytest tests/autograders/test_a1_theory.py --notebook ATTACK` also gives 0 and prints its score."""
    course = graded["course"]
    notebook = course / "submitted" / attack / A / f"{A}.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:nbval",
         "--rootdir", str(course), str(course / "tests" / "autograders" / f"test_{A}.py"), "--notebook", str(notebook)],
        capture_output=True, text=True, cwd=course, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert f"{A}: 0/{_points(course):g} points" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 1
