"""Atomic writes (reference/io.py) leave a whole file, with the permissions of any file the user makes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reference.io import atomic_path, umask, write_text_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_a_new_file_gets_0666_less_the_umask(tmp_path, mask):
    """The temporary file is private (0600); renamed into place it kept a run's config.json, metrics and
    checkpoints (and a class's data root, a rewritten lesson) from everyone else on a shared host."""
    before = os.umask(mask)
    try:
        assert umask() == mask
        write_text_atomic(tmp_path / "config.json", "{}")
        with atomic_path(tmp_path / "checkpoints" / "last.pt") as tmp:
            tmp.write_bytes(b"weights")
    finally:
        os.umask(before)
    assert _mode(tmp_path / "config.json") == 0o666 & ~mask
    assert _mode(tmp_path / "checkpoints" / "last.pt") == 0o666 & ~mask
    assert (tmp_path / "checkpoints" / "last.pt").read_bytes() == b"weights"


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "metrics.csv"
    target.write_text("old")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o640


def test_a_run_folder_written_by_train_is_readable_by_others_under_umask_022(tmp_path):
    """End to end: `gan-course train` under the usual umask leaves files others can read."""
    out = tmp_path / "run"
    env = dict(os.environ, MPLBACKEND="Agg")
    code = (
        "import os, sys; os.umask(0o022); from reference.cli import main; "
        f"sys.exit(main(['train', '--model', 'mlp', '--dataset', 'digits', '--epochs', '1', '--max-images', '128', "
        f"'--no-progress', '--out', {str(out)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(_mode(p) & 0o044 == 0o044 for p in files), {p.name: oct(_mode(p)) for p in files}
