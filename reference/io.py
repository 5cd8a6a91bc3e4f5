"""Atomic file writes: a file is either the old version or the complete new one, never half.

Each writer writes to a temporary file in the destination's folder, flushes it to disk and
renames it over the destination (`os.replace` is atomic on POSIX and Windows). The file gets the
permissions any file made by the user gets (0666 less the umask), or keeps those of the file it
replaces: the temporary file itself is private (0600), and a run folder, a class's data root or a
lesson written with it was unreadable to everyone else on a shared host.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from reference import stops


def umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (momentarily process-wide)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The permissions a new version of `path` gets: those of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~umask()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = None
    try:  # a stop (Ctrl-C, SIGTERM) between mkstemp and the assignment, or inside the removal, left the file behind
        with stops.held():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
            os.close(fd)
            tmp_path = Path(tmp)
        yield tmp_path
        with open(tmp_path, "r+b") as f:  # Windows' fsync (FlushFileBuffers) needs a handle that may write
            os.fsync(f.fileno())
        os.chmod(tmp_path, _mode_for(path))
        os.replace(tmp_path, path)
    finally:
        with stops.held():
            if tmp_path is not None:
                tmp_path.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, write: Callable[[IO], None], mode: str = "w") -> None:
    """Call `write(file)` on a temporary file opened with `mode` (text in UTF-8, whatever the locale), then
    rename it to `path`."""
    with atomic_path(path) as tmp, open(tmp, mode, encoding=None if "b" in mode else "utf-8") as f:
        write(f)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    write_atomic(path, lambda f: f.write(text))


def torch_save_atomic(obj: object, path: str | os.PathLike) -> None:
    """`torch.save(obj, path)` atomically; a write that fails (a full disk, a quota) raises its OSError.

    torch.save reports a failed write as a RuntimeError ("[enforce fail at inline_container.cc] unexpected
    pos ..."), which named neither the file nor the full disk: here it writes through a Python file whose
    OSError (errno ENOSPC, EDQUOT, ...) is kept and raised instead."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        sink = _KeepWriteError(f)
        try:
            torch.save(obj, sink)
        except RuntimeError:
            if sink.error is not None:
                raise sink.error from None
            raise


class _KeepWriteError:
    """A binary file for torch.save that remembers the OSError of a failed write."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file, self.error = file, None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.file.flush()
