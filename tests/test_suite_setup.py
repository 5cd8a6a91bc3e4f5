"""How `pytest` itself, CI and the grader start on a machine unlike CI's: a setup in which they could only crash
or fail for reasons that are not bugs is refused in one line that names the fix.

A folder with a non-ASCII name under an ASCII file system encoding (LC_ALL=C with PYTHONUTF8=0):
pytest-xdist stopped with a page of INTERNALERROR (execnet cannot send the folder's name to its
workers), and under `-n 0` the tests that read a command's output as text failed on the name.

/dev/shm, where every process that shares memory works (Python's multiprocessing makes its locks there, and
PyTorch passes a DataLoader's batches there, whichever sharing strategy is set): Docker gives a container 64 MB,
some hubs mount a read-only one or none. The tests that change it run in a mount namespace of their own
(`unshare`), and skip with the reason where this machine does not permit one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox_support import UNSHARE, needs_unshare

REPO = Path(__file__).resolve().parents[1]


def pytest_with_tmpdir(tmpdir: Path, *args: str, utf8: bool) -> subprocess.CompletedProcess:
    """`python -m pytest -q ARGS tests/test_lessons_sync.py` in the repository, in the C
    locale, with TMPDIR=tmpdir and Python's UTF-8 mode on or off; not as a worker of this run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LC_", "LANG", "PYTHONIOENCODING"))}
    env.update(TMPDIR=str(tmpdir), LC_ALL="C", PYTHONUTF8="1" if utf8 else "0")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, "tests/test_lessons_sync.py"],
        cwd=REPO, env=env, capture_output=True,
    )


def test_a_non_ascii_temporary_folder_under_an_ascii_encoding_is_one_line_with_the_fix(tmp_path: Path):
    tmpdir = tmp_path / "tëst"
    tmpdir.mkdir()
    done = pytest_with_tmpdir(tmpdir, utf8=False)  # -n auto, as the README runs it: pytest-xdist's workers
    out = done.stdout + done.stderr
    assert done.returncode == 4, out.decode("utf-8", "replace")[-3000:]
    assert b"INTERNALERROR" not in out and b"Traceback" not in out
    lines = [line for line in done.stderr.decode("ascii", "backslashreplace").splitlines() if line.strip()]
    assert lines == [
        "ERROR: the temporary folder (" + str(tmpdir).replace("ë", "\\xeb") + ") has a name that the file system encoding "
        "(ascii) cannot read; run pytest with PYTHONUTF8=1 (or LC_ALL=C.UTF-8)"
    ]
    fixed = pytest_with_tmpdir(tmpdir, "--collect-only", "-n", "0", utf8=True)  # what the line says to do
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr).decode("utf-8", "replace")[-3000:]
    assert b"tests/test_lessons_sync.py::" in fixed.stdout


@pytest.mark.skipif(not str(REPO).isascii(), reason="a checkout with a non-ASCII name stops pytest on its name first")
def test_a_locale_whose_encoding_is_not_utf8_is_one_line_with_the_fix(tmp_path: Path):
    """LC_ALL=C with PYTHONUTF8=0 (or a Latin-1 locale): the tests that read a notebook as text failed, each with
    a UnicodeDecodeError that did not name the locale; pytest now stops first, in one line saying what to set."""
    done = pytest_with_tmpdir(tmp_path, "-n", "0", "-k", "badge", utf8=False)
    out = done.stdout + done.stderr
    assert done.returncode == 4, out.decode("utf-8", "replace")[-3000:]
    assert b"UnicodeDecodeError" not in out and b"Traceback" not in out
    assert [line for line in done.stderr.decode("ascii").splitlines() if line.strip()] == [
        "ERROR: the locale's text encoding (ascii) cannot read the course's UTF-8 files (notebooks, checks, "
        "messages); run pytest with PYTHONUTF8=1 (or LC_ALL=C.UTF-8)"
    ]
    fixed = pytest_with_tmpdir(tmp_path, "-n", "0", "-k", "badge", utf8=True)  # what the line says to do
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr).decode("utf-8", "replace")[-3000:]


def test_ci_without_bubblewrap_and_no_way_to_install_it_says_what_to_install(tmp_path: Path):
    """.ci/run on a machine without bubblewrap, apt-get or sudo (an instructor's Fedora or macOS machine, a
    container as a user): it stopped on "apt-get: command not found" or "sudo: command not found"."""
    import shutil

    course = tmp_path / "course"
    (course / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", course / ".ci" / "run")  # a copy: nothing after the check may touch the repository
    bin_ = tmp_path / "bin"  # only what the script needs before the check: no bwrap, apt-get, sudo or python3
    bin_.mkdir()
    for tool in ("id", "dirname"):
        (bin_ / tool).symlink_to(shutil.which(tool))
    done = subprocess.run([shutil.which("bash"), str(course / ".ci" / "run")], env={"PATH": str(bin_), "GAN_COURSE_DATA": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "command not found" not in done.stderr
    assert done.stderr.startswith("error: bubblewrap (bwrap), which the sandbox tests need, is not installed"), done.stderr
    assert "sudo apt-get install bubblewrap" in done.stderr and "run pytest yourself" in done.stderr
    assert not (course / ".venv").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_a_shared_data_copy_this_user_may_not_read_skips_with_the_reason(tmp_path: Path, monkeypatch):
    """GAN_COURSE_DATA naming a copy this user may not read (another user's 0700 folder on a shared host): the
    tests that read the real MNIST copy were ERRORs with a PermissionError traceback, not skips with the fix."""
    import conftest

    data = tmp_path / "data"
    raw = data / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in conftest.SHARED_MNIST_FILES:
        (raw / name).write_bytes(b"")
    monkeypatch.setattr(conftest, "SHARED_DATA", data)
    assert conftest._shared_mnist_missing() is None
    expected = (f"real MNIST copy at {raw} cannot be read by this user (permission denied); ask its owner for read "
                f"access, or set GAN_COURSE_DATA to the folder of a copy you can read")
    data.chmod(0o000)  # a folder it may not enter
    try:
        assert conftest._shared_mnist_missing() == expected
    finally:
        data.chmod(0o755)
    (raw / conftest.SHARED_MNIST_FILES[0]).chmod(0o000)  # a file it may see but not read
    assert conftest._shared_mnist_missing() == expected
    (raw / conftest.SHARED_MNIST_FILES[0]).unlink()
    assert conftest._shared_mnist_missing().startswith(f"real MNIST copy not found at {raw}; set GAN_COURSE_DATA")


# ---------------------------------------------------------------------------------------------
# /dev/shm: small, read-only or missing
# ---------------------------------------------------------------------------------------------


SHM_SETUPS = {
    "1 MB": "mount -t tmpfs -o size=1m tmpfs /dev/shm",
    "read-only": "mount -t tmpfs -o ro tmpfs /dev/shm",
}


def with_shm(setup: str, code: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Python `code` (with `args`) run in the repository after shell `setup`, which mounts something over /dev/shm,
    in a mount namespace of its own: nothing outside it sees the change."""
    return subprocess.run([*UNSHARE, "sh", "-c", f'{setup} && exec "$@"', "sh", sys.executable, "-c", code, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


PROBLEM_HERE = """
import multiprocessing
from reference.grading.worker import shared_memory_problem
try:
    multiprocessing.get_context("spawn").Lock()
    print("lock: made")
except OSError as err:
    print("lock:", err)
print("problem:", shared_memory_problem())
"""


@needs_unshare
@pytest.mark.parametrize("shm", SHM_SETUPS)
def test_a_pool_of_grading_processes_on_a_read_only_dev_shm_is_one_line_with_the_fix(shm: str):
    """`gan-course autograde` grades in a pool of processes, and Python's multiprocessing makes each pool's locks
    in /dev/shm: on a read-only one the command stopped in a traceback ending in "OSError: [Errno 30] Read-only file
    system". `shared_memory_problem` finds that before anyone is graded, in one line; a 1 MB /dev/shm holds the locks."""
    done = with_shm(SHM_SETUPS[shm], PROBLEM_HERE, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    if shm == "read-only":
        assert "lock: [Errno 30] Read-only file system" in done.stdout, done.stdout  # what the pool met
        problem = done.stdout.split("problem: ", 1)[1].strip()
        assert problem.startswith("/dev/shm is read-only on this machine, and Python's multiprocessing makes the grading "
                                  "processes' locks there; mount a writable one"), problem
        assert "docker run --shm-size=1g" in problem and "\n" not in problem
    else:
        assert "lock: made" in done.stdout and "problem: None" in done.stdout, done.stdout


LOADER_GRADED = """
import json, sys, tempfile
from pathlib import Path
import nbformat
from reference.grading.runner import session_for
from reference.grading.sandbox import Limits, sandbox_problem

CELL = '''
import torch
from torch.utils.data import DataLoader, TensorDataset
print("total", sum(float(x.sum()) for (x,) in DataLoader(TensorDataset(torch.ones(64, 256, 256)), batch_size=32, num_workers=2)))
'''
root = Path(tempfile.mkdtemp(prefix="shm-course-")) / "course"
(root / "tests" / "autograders").mkdir(parents=True)
(root / "nbgrader_config.py").write_text("")
(root / "tests" / "autograders" / "test_attack.py").write_text("ASSIGNMENT = 'attack'\\n")
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(CELL)]
nbformat.write(nb, root / "attack.ipynb")
said = {}
for sandbox in [False] + ([True] if sys.argv[1] == "sandbox too" and sandbox_problem() is None else []):
    with session_for(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=300), sandbox=sandbox) as session:
        cell = session.cells_output.get("0", {})
        said[str(sandbox)] = {"text": "".join(o.get("text", "") for o in cell.get("outputs", [])),
                              "error": (cell.get("error") or {}).get("evalue", ""), "stopped": session.stopped}
print("SAID", json.dumps(said))
"""


@needs_unshare
@pytest.mark.parametrize("shm", SHM_SETUPS)
def test_a_data_loader_graded_on_a_small_or_read_only_dev_shm(shm: str):
    """A submission's DataLoader(num_workers=2) of 8 MB batches. In the sandbox it runs whatever the host's /dev/shm
    (the sandbox has a tmpfs of its own, as large as its memory limit). Without the sandbox the host's is all there
    is, and no sharing strategy helps (PyTorch's `file_descriptor` makes its files there too): the cell failed with
    "Caught RuntimeError in DataLoader worker process 0." on a 1 MB one and a bare "OSError: [Errno 30] Read-only
    file system" on a read-only one, which blamed the student's code; the error now says what /dev/shm holds and
    what to do."""
    import json

    done = with_shm(SHM_SETUPS[shm], LOADER_GRADED, "sandbox too" if shm == "1 MB" else "no sandbox")
    assert "SAID " in done.stdout, (done.stdout + done.stderr)[-3000:]
    said = json.loads(done.stdout.split("SAID ", 1)[1])
    plain = said["False"]
    assert "total" not in plain["text"] and not plain["stopped"], plain
    what = "is read-only here" if shm == "read-only" else "holds 1 MB, "
    assert f"(/dev/shm, where a DataLoader's worker processes pass their batches, {what}" in plain["error"], plain["error"]
    assert plain["error"].endswith(": use num_workers=0)") and len(plain["error"]) <= 300, plain["error"]
    if "True" in said:  # the sandbox's own /dev/shm
        assert said["True"]["text"].strip() == f"total {64 * 256 * 256:.1f}" and not said["True"]["error"], said["True"]


def test_only_a_shared_memory_failure_gets_the_dev_shm_note():
    """The note goes on what came of /dev/shm, not on every error of the student's code."""
    from reference.grading.worker import shared_memory_hint, with_hint

    assert shared_memory_hint(ValueError("shapes do not match")) == ""
    assert shared_memory_hint(OSError(30, "Read-only file system")) == ""  # not raised in multiprocessing
    assert shared_memory_hint(OSError(28, "No space left on device", "/dev/shm/mine")) == ""  # the student's own file
    assert with_hint(ValueError("x"), "x") == "x"
    err = RuntimeError("unable to allocate shared memory(shm) for file </torch_1_2_0>: No space left on device (28)")
    hint = shared_memory_hint(err)
    assert hint.startswith("(/dev/shm, where a DataLoader's worker processes pass their batches, ") and hint.endswith(": use num_workers=0)")
    wrapped = RuntimeError("Caught RuntimeError in DataLoader worker process 0.")
    wrapped.__cause__ = err
    assert shared_memory_hint(wrapped) == hint
    line = with_hint(wrapped, "y" * 400)
    assert line.endswith(hint) and len(line) <= 300


def test_the_readmes_pytest_does_not_need_ci_s_unbuffered_output(tmp_path: Path):
    """.ci/run exports PYTHONUNBUFFERED=1, a user's shell seldom does: without it a test that read what a killed
    process had printed (test_workdir's killed kernel) read nothing and failed, in the README's `pytest` only."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED" and not k.startswith("PYTEST_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-q", "tests/test_workdir.py",
                           "-k", "killed_kernel"], cwd=REPO, env={**env, "TMPDIR": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 0 and "1 passed" in done.stdout, (done.stdout + done.stderr)[-3000:]


# ---------------------------------------------------------------------------------------------
# .ci/run on a fresh machine: what it installs itself, and the one line when it cannot
# ---------------------------------------------------------------------------------------------

FAKE_PYTHON3 = """#!/bin/sh
# python3 as Debian's without python3-venv: `-m venv` leaves a .venv without pip, and its advice; with the venv
# package "installed" (apt-get below touched $FAKE/venv-installed), a .venv whose pip and pytest only log
case "$1" in
  -c) echo "${FAKE_VERSION:-3.11}"; exit 0 ;;
esac
mkdir -p "$3/bin"
if [ ! -e "$FAKE/venv-installed" ]; then
  printf 'The virtual environment was not created successfully because ensurepip is not\\navailable.  On Debian/Ubuntu systems, you need to install the python3-venv\\npackage using the following command.\\n\\n    apt install python3.11-venv\\n'
  exit 1
fi
printf 'PATH="%s/%s/bin:$PATH"; export PATH\\n' "$(pwd)" "$3" > "$3/bin/activate"
printf '#!/bin/sh\\necho "pip $*" >> "$FAKE/log"\\n' > "$3/bin/pip"
printf '#!/bin/sh\\necho torch 0 torchvision 0\\n' > "$3/bin/python"
printf '#!/bin/sh\\necho pytest >> "$FAKE/log"\\necho "1 passed in 0.01s"\\n' > "$3/bin/pytest"
chmod +x "$3/bin/pip" "$3/bin/python" "$3/bin/pytest"
"""
FAKE_APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$FAKE/log"
case "$*" in *install*python3-venv*) touch "$FAKE/venv-installed" ;; esac
"""


def run_ci(tmp_path: Path, fakes: dict[str, str], **env: str) -> subprocess.CompletedProcess:
    """A copy of .ci/run run in an empty course folder, with only the tools it needs on PATH and `fakes` ({name: a
    shell script}) among them; $FAKE is a folder the fakes log to (FAKE/log)."""
    import shutil

    course = tmp_path / "course"
    (course / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", course / ".ci" / "run")  # a copy: nothing it does may touch the repository
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("id", "dirname", "rm", "mkdir", "chmod", "touch", "grep", "head", "cut", "awk", "nproc", "tr", "sed"):
        (bin_ / tool).symlink_to(shutil.which(tool))
    for name, script in {"bwrap": "#!/bin/sh\necho bubblewrap 0.8.0\n", "sudo": '#!/bin/sh\nexec "$@"\n', **fakes}.items():
        (bin_ / name).write_text(script)
        (bin_ / name).chmod(0o755)
    (tmp_path / "fake").mkdir()
    return subprocess.run([shutil.which("bash"), str(course / ".ci" / "run")], capture_output=True, text=True, timeout=60,
                          env={"PATH": str(bin_), "GAN_COURSE_DATA": str(tmp_path), "FAKE": str(tmp_path / "fake"), **env})


def test_ci_installs_python3_venv_itself_and_replaces_a_broken_venv(tmp_path: Path):
    """A fresh Debian or Ubuntu machine has python3 but not python3-venv: `python3 -m venv` printed six lines of
    advice and .ci/run stopped there. It installs the package as it installs bubblewrap, then goes on; a .venv an
    earlier run left broken (here a file of that name) is replaced."""
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / ".venv").write_text("not a virtual environment")
    done = run_ci(tmp_path, {"python3": FAKE_PYTHON3, "apt-get": FAKE_APT_GET})
    assert done.returncode == 0, done.stdout + done.stderr
    log = (tmp_path / "fake" / "log").read_text().splitlines()
    assert "apt-get install -y -qq python3-venv python3.11-venv" in log, log
    assert log[-2:] == ['pip install --quiet -e .[dev]', "pytest"], log
    assert (tmp_path / "course" / ".venv" / "bin" / "pip").is_file()


@pytest.mark.parametrize("machine", ["no python3-venv", "no python3", "python 3.8"])
def test_ci_that_cannot_make_its_environment_says_why_in_one_line(tmp_path: Path, machine: str):
    """Without apt-get (or root and sudo) to install what is missing, .ci/run stops in one line naming it and the
    package, and leaves no half-made .venv (Debian's venv leaves one without pip)."""
    fakes = {"no python3-venv": {"python3": FAKE_PYTHON3}, "no python3": {}, "python 3.8": {"python3": FAKE_PYTHON3}}[machine]
    done = run_ci(tmp_path, fakes, **({"FAKE_VERSION": "3.8"} if machine == "python 3.8" else {}))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "command not found" not in done.stderr, done.stderr
    expected = {
        "no python3-venv": "error: python3 -m venv could not make a virtual environment with pip (The virtual environment "
                           "was not created successfully because ensurepip is not available); install Python's venv and ensurepip "
                           "(Debian/Ubuntu: sudo apt-get install python3-venv python3.11-venv), then run .ci/run again",
        "no python3": "error: python3 is not installed and this script could not install it (it needs apt-get and root or "
                      "sudo); install Python 3.10 or later (Debian/Ubuntu: sudo apt-get install python3 python3-venv), then "
                      "run .ci/run again",
        "python 3.8": "error: python3 is Python 3.8, and the course needs 3.10 or later; put a newer python3 first in PATH, "
                      "then run .ci/run again",
    }[machine]
    assert lines == [expected]
    assert not (tmp_path / "course" / ".venv").exists()


# ---------------------------------------------------------------------------------------------
# A home folder matplotlib cannot write (reference.paths.prepare_matplotlib)
# ---------------------------------------------------------------------------------------------

IMPORT_PYPLOT = ("import reference, matplotlib, matplotlib.pyplot, os; "
                 "print(os.environ.get('MPLCONFIGDIR')); print(matplotlib.get_cachedir()); print(matplotlib.rcParams['lines.linewidth'])")


def _python_with_home(home: Path, tmpdir: Path, *extra: str, **env_extra: str) -> subprocess.CompletedProcess:
    """`import reference` then matplotlib in a fresh Python whose HOME is `home`, with no XDG folders nor
    MPLCONFIGDIR of its own (unless given), TMPDIR=tmpdir."""
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "MATPLOTLIBRC") and not k.startswith("XDG_")}
    env.update(HOME=str(home), TMPDIR=str(tmpdir), MPLBACKEND="Agg", **env_extra)
    return subprocess.run([*extra, sys.executable, "-c", IMPORT_PYPLOT], env=env, capture_output=True, text=True, cwd=tmpdir, timeout=120)


def test_a_home_matplotlib_cannot_write_gives_it_a_lasting_folder_without_a_warning(tmp_path: Path):
    """HOME where ~/.config/matplotlib cannot be made (here a file, which even root cannot make folders in; on a
    shared host a read-only or another user's home): matplotlib warned in two lines at every import, in every command
    and kernel, and rebuilt its font cache each time in a temporary folder. Now it is quiet and its cache lasts."""
    home = tmp_path / "home"
    home.write_text("not a folder")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    first = _python_with_home(home, tmpdir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stderr == "", first.stderr  # was "... is not a writable directory", "Matplotlib created a temporary ..."
    folder = tmpdir / f"gan-course-matplotlib-{os.getuid()}"
    assert first.stdout.splitlines()[:2] == [str(folder), str(folder)]
    assert folder.stat().st_mode & 0o777 == 0o700
    assert any(folder.glob("fontlist-*.json"))  # the font cache, kept for the next process
    again = _python_with_home(home, tmpdir)
    assert again.returncode == 0 and again.stderr == "" and again.stdout == first.stdout


def test_a_users_own_matplotlib_setting_and_a_writable_home_are_left_alone(tmp_path: Path):
    """The course sets MPLCONFIGDIR only where matplotlib's own folders cannot be made: a writable home keeps
    ~/.config/matplotlib, and a user's MPLCONFIGDIR is never replaced."""
    home = tmp_path / "home"
    home.mkdir()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    done = _python_with_home(home, tmpdir)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
    assert done.stdout.splitlines()[:2] == ["None", str(home / ".cache" / "matplotlib")]
    assert not (tmpdir / f"gan-course-matplotlib-{os.getuid()}").exists()
    mine = tmp_path / "mine"
    (tmp_path / "homefile").write_text("")
    done = _python_with_home(tmp_path / "homefile", tmpdir, MPLCONFIGDIR=str(mine))
    assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
    assert done.stdout.splitlines()[:2] == [str(mine), str(mine)]


def test_a_folder_another_user_could_have_made_in_tmp_is_not_used(tmp_path: Path):
    """In a shared /tmp someone else may make gan-course-matplotlib-<uid> first (or a link of that name): a folder
    that others may write is not used; matplotlib's own warning and temporary folder follow, as before."""
    home = tmp_path / "home"
    home.write_text("not a folder")
    tmpdir = tmp_path / "tmp"
    planted = tmpdir / f"gan-course-matplotlib-{os.getuid()}"
    planted.mkdir(parents=True)
    planted.chmod(0o777)
    done = _python_with_home(home, tmpdir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert str(planted) not in done.stdout and "temporary cache directory" in done.stderr
    assert list(planted.iterdir()) == []


@needs_unshare
def test_a_read_only_home_keeps_its_matplotlibrc(tmp_path: Path):
    """A home mounted read-only (a JupyterHub's, a grading account's) whose ~/.config/matplotlib holds a matplotlibrc:
    matplotlib's cache goes to the course's folder, and the user's matplotlibrc is still read."""
    home = tmp_path / "home"
    (home / ".config" / "matplotlib").mkdir(parents=True)
    (home / ".config" / "matplotlib" / "matplotlibrc").write_text("lines.linewidth: 7.5\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    inner = f"mount --bind {home} {home} && mount -o remount,bind,ro {home} && exec \"$@\""
    done = _python_with_home(home, tmpdir, *UNSHARE, "sh", "-c", inner, "sh")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == "", done.stderr
    folder = str(tmpdir / f"gan-course-matplotlib-{os.getuid()}")
    assert done.stdout.splitlines() == [folder, folder, "7.5"]


def test_a_home_ipython_cannot_write_gives_it_a_lasting_folder_without_a_warning(tmp_path: Path):
    """The same home for IPython (every lesson's and nbval's kernel): "IPython parent '<home>' is not a writable location,
    using a temp directory", and a new temporary folder per kernel that nothing removed. Kernels inherit the setting."""
    home = tmp_path / "home"
    home.write_text("not a folder")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("IPYTHONDIR", "MPLCONFIGDIR") and not k.startswith("XDG_")}
    env.update(HOME=str(home), TMPDIR=str(tmpdir))
    code = "import reference, subprocess, sys; subprocess.run([sys.executable, '-c', 'import IPython.paths as p; print(p.get_ipython_dir())'])"
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmpdir, timeout=120)
        assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
        assert done.stdout.strip() == str(tmpdir / f"gan-course-ipython-{os.getuid()}")
    assert sorted(p.name for p in tmpdir.iterdir()) == [f"gan-course-ipython-{os.getuid()}", f"gan-course-matplotlib-{os.getuid()}"]
