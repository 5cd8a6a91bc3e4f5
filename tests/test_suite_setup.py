"""How `pytest` itself starts on a user's machine: the repository's conftest.py refuses, in one line,
a setup in which the suite could only crash or fail for reasons that are not bugs.

A folder with a non-ASCII name under an ASCII file system encoding (LC_ALL=C with PYTHONUTF8=0):
pytest-xdist stopped with a page of INTERNALERROR (execnet cannot send the folder's name to its
workers), and under `-n 0` the tests that read a command's output as text failed on the name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
