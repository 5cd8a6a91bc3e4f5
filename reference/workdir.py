"""Where a lesson notebook puts its training runs: a folder of its own that does not outlive it.

    WORK = lesson_folder("02")   # /tmp/gan-course-02-abc123/, removed when the kernel shuts down
    run = train(cfg, WORK / "mlp")

A lesson trains a dozen short runs (tens of MB each in smoke mode, more in full mode). Left in /tmp,
every "Run All" added its runs to the last ones: on a shared JupyterHub, hundreds of students fill
the disk. So the folder is removed when the notebook's kernel exits normally (shut down or
restarted from Jupyter, or Python leaving). A kernel that never exits normally (killed for lack of
memory on a hub with a memory limit, "The kernel appears to have died"; or killed by Jupyter when its
shutdown fails) cannot remove its folder: the next `lesson_folder` call of the same user does (each
folder holds a lock its process keeps open until it ends, so a folder whose lock is free is one whose
process is gone, whatever its process id or container). To keep the runs, set GAN_COURSE_RUNS to a folder
before starting the kernel: each run of the notebook then gets a fresh folder inside it,
<GAN_COURSE_RUNS>/02-abc123/, which nothing removes. The test suite sets it to a folder of its own
that it removes when it ends (its notebook kernels are killed, not shut down).
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock, so nothing is swept there
    fcntl = None

from reference.errors import UserError

__all__ = ["RUNS_ENV", "in_temporary_lesson_folder", "lesson_folder"]

RUNS_ENV = "GAN_COURSE_RUNS"

_OPEN: list = []  # the folders and their locks, held until the interpreter exits, which removes them
_PREFIX = "gan-course-"
_LOCK = ".gan-course-lesson.lock"  # in each temporary lesson folder, locked while its process lives


def lesson_folder(lesson: str) -> Path:
    """A new, empty folder (mode 0700) for the runs of lesson `lesson` ("02"): inside $GAN_COURSE_RUNS
    and kept when that is set, otherwise a temporary one removed when this Python process exits (empty but
    for its hidden lock file; the folders that processes now gone left behind are removed first)."""
    keep = os.environ.get(RUNS_ENV, "").strip()
    if keep:
        base = Path(keep).expanduser()
        try:
            base.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=f"{lesson}-", dir=base))
        except OSError as err:
            raise UserError(
                f"{RUNS_ENV}={keep} cannot hold the lesson's runs ({err.strerror or err}); "
                f"point it at a folder you can write, or unset it to use a temporary folder"
            ) from None
    _remove_orphans()
    folder = tempfile.TemporaryDirectory(prefix=f"{_PREFIX}{lesson}-", ignore_cleanup_errors=True)
    _OPEN.append(folder)
    # removed at exit by an explicit cleanup: left to its finalizer, it warned "Implicitly cleaning up" (a
    # ResourceWarning), a traceback at exit under `python -W error -X dev` or PYTHONWARNINGS=error
    atexit.register(folder.cleanup)
    _hold_lock(Path(folder.name))
    return Path(folder.name)


def in_temporary_lesson_folder(path: str | os.PathLike) -> bool:
    """Whether `path` is inside a temporary folder `lesson_folder` made (removed with its kernel), not one the
    student keeps under GAN_COURSE_RUNS."""
    folder = Path(tempfile.gettempdir()).resolve()
    try:
        inside = Path(path).resolve().relative_to(folder)
    except (ValueError, OSError, RuntimeError):
        return False
    return bool(inside.parts) and inside.parts[0].startswith(_PREFIX) and (folder / inside.parts[0] / _LOCK).exists()


def _hold_lock(folder: Path) -> None:
    """Put the lock file in `folder`, locked by this process until it ends (the kernel releases the lock of a
    process that dies, however it dies). It is locked before it gets its name, so no sweep sees it unlocked."""
    if fcntl is None:
        return
    part = folder / f"{_LOCK}.{os.getpid()}"
    try:
        fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:  # a folder that takes no file: nothing to sweep later either
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(part, folder / _LOCK)
    except OSError:
        os.close(fd)
        return
    _OPEN.append(fd)  # never closed: the lock lasts as long as this process


def _remove_orphans() -> None:
    """Remove the temporary lesson folders of this user whose process is gone (its lock is free); never
    another user's, a live process's, or a folder without the lock file (one lesson_folder did not make)."""
    if fcntl is None:
        return
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(_PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            fd = os.open(os.path.join(entry.path, _LOCK), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:  # no lock file (not one of ours, or one being made), or a folder we may not read
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # locked: its process lives
            continue
        finally:
            os.close(fd)
        shutil.rmtree(entry.path, ignore_errors=True)
