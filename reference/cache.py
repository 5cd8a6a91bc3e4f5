"""Where the course keeps what it computes and can compute again: trained classifiers, grading sets.

    cache_dir()                          # $GAN_COURSE_CACHE, else $XDG_CACHE_HOME/gan-course, else ~/.cache/gan-course
    writable_dir(cache_dir() / "classifiers")   # created; a one-line UserError if it cannot take files

Nothing here is written into a data root: a data root may be read-only or shared by a whole
class, while the cache belongs to one user and may be deleted at any time (the next run rebuilds
what it needs). The trained classifiers live in `cache_dir()/classifiers/` (see
`reference.metrics.classifier.classifier_path`), the autograders' reference sets in
`cache_dir()/grading/` (see `reference.metrics.quick_fid.grading_root`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reference.errors import UserError

__all__ = ["cache_dir", "check_cache_dir", "expand_home", "writable_dir"]

FIX = "set GAN_COURSE_CACHE to a writable folder"


def cache_dir() -> Path:
    """The cache folder: $GAN_COURSE_CACHE, else $XDG_CACHE_HOME/gan-course, else ~/.cache/gan-course.

    Empty variables count as unset, and so does a relative $XDG_CACHE_HOME (the XDG Base Directory
    specification says to ignore one); a relative $GAN_COURSE_CACHE is a one-line UserError. The folder is not created here: `writable_dir` does that
    before anything is written.
    """
    if chosen := os.environ.get("GAN_COURSE_CACHE"):
        path = expand_home(chosen, FIX)
        if not path.is_absolute():  # each process would read it from its own folder: a kernel in lessons/ another cache
            raise UserError(
                f"GAN_COURSE_CACHE is a relative path ({chosen}), which each process would read from its own working "
                f"folder; set it to an absolute one, e.g. {Path(chosen).absolute()}"
            )
        return path
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "gan-course"
    return expand_home("~/.cache/gan-course", FIX)


def expand_home(path: str | os.PathLike, fix: str) -> Path:
    """`path` with a leading ~ expanded; a one-line UserError ending in `fix` where there is no home
    folder to expand it to (HOME unset for a user the system has no entry for: a container started
    with `--user 12345`, some CI runners; on Windows USERPROFILE unset), which Python reports as a RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        if hasattr(os, "getuid"):
            why, home = f"HOME is unset and user {os.getuid()} has no entry in the system's user list", "HOME"
        else:  # Windows: Python finds the home folder in USERPROFILE (or HOMEDRIVE and HOMEPATH), never in HOME
            why, home = "USERPROFILE, HOMEDRIVE and HOMEPATH are unset", "USERPROFILE"
        raise UserError(f"{path} names your home folder, but this process has none ({why}); set {home}, or {fix}") from None


def check_cache_dir() -> None:
    """UserError when `cache_dir()` exists but is not a folder (a $GAN_COURSE_CACHE pointing at a
    file): otherwise every cached file would seem missing, and the advice to train it again wrong."""
    folder = cache_dir()
    if folder.exists() and not folder.is_dir():
        source = "GAN_COURSE_CACHE" if os.environ.get("GAN_COURSE_CACHE") else "the cache folder"
        raise UserError(f"{source} {folder} is a file, not a folder; {FIX}")


def writable_dir(folder: str | os.PathLike, fix: str = FIX) -> Path:
    """Create `folder` if needed and check that it takes a file; returns it as a Path.

    A folder that cannot be created or written is a one-line UserError naming it and `fix`.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise UserError(f"cannot write to the cache folder {folder} ({err.strerror or type(err).__name__}); {fix}") from None
    return folder
