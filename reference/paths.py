"""Whether a path the user gave exists, is a file or a folder, told apart from "I may not look".

Python 3.14's `Path.exists()`, `is_file()` and `is_dir()` answer False where a folder on the way may not be
entered (a path inside another user's private folder on a shared host), as for a path that is missing, so the
commands said "does not exist" of a file that is there; Python 3.11's raised PermissionError, which the
`gan-course` command reports in one line naming the path (reference.cli). These answer as 3.11 did on every
Python: False for a missing path (or a file where a folder was expected on the way, a loop of links),
PermissionError where the answer cannot be known.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["exists", "is_dir", "is_file"]

_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)  # what pathlib counted as "no" before 3.14


def _mode(path: str | os.PathLike) -> int | None:
    """The st_mode of `path` (links followed), or None where it does not exist; PermissionError propagates."""
    try:
        return os.stat(path).st_mode
    except OSError as err:
        if err.errno in _MISSING:
            return None
        raise
    except ValueError:  # a NUL byte in the path: no such file can exist
        return None


def exists(path: str | os.PathLike) -> bool:
    """Whether `path` exists (links followed)."""
    return _mode(path) is not None


def is_file(path: str | os.PathLike) -> bool:
    """Whether `path` is a regular file (links followed)."""
    mode = _mode(path)
    return mode is not None and stat.S_ISREG(mode)


def is_dir(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder (links followed)."""
    mode = _mode(path)
    return mode is not None and stat.S_ISDIR(mode)
