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
