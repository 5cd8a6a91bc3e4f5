"""Whether a path the user gave exists, is a file or a folder, told apart from "I may not look".

Python 3.14's `Path.exists()`, `is_file()` and `is_dir()` answer False where a folder on the way may not be
entered (a path inside another user's private folder on a shared host), as for a path that is missing, so the
commands said "does not exist" of a file that is there; Python 3.11's raised PermissionError, which the
`gan-course` command reports in one line naming the path (reference.cli). These answer as 3.11 did on every
Python: False for a missing path (or a file where a folder was expected on the way, a loop of links),
PermissionError where the answer cannot be known.

`prepare_matplotlib` and `prepare_ipython` (called by `import reference`) give matplotlib and IPython a lasting folder
of their own where the user's home cannot hold one (see their docstrings).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile

__all__ = ["exists", "is_dir", "is_file", "prepare_ipython", "prepare_matplotlib"]

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


# ---------------------------------------------------------------------------------------------
# matplotlib's and IPython's folders where the home folder cannot hold them
# ---------------------------------------------------------------------------------------------


def _writable_or_creatable(folder: str) -> bool:
    """Whether `folder` is a folder this user may write, or could be made as one (its nearest existing
    ancestor is a folder this user may write and enter; on a read-only file system it is not)."""
    path = os.path.abspath(folder)
    while True:
        try:
            mode = os.stat(path).st_mode
        except OSError as err:
            if err.errno not in (errno.ENOENT,) or os.path.dirname(path) == path:
                return False
            path = os.path.dirname(path)
            continue
        except ValueError:
            return False
        return stat.S_ISDIR(mode) and os.access(path, os.W_OK | os.X_OK)


def _matplotlib_default_dirs(env) -> tuple[str, str] | None:
    """matplotlib's own config and cache folders when MPLCONFIGDIR is unset: $XDG_CONFIG_HOME/matplotlib
    (else ~/.config/matplotlib) and $XDG_CACHE_HOME/matplotlib (else ~/.cache/matplotlib) on Linux, ~/.matplotlib
    for both elsewhere; None on Windows (its own rules) or where no home folder can be found."""
    if sys.platform == "win32":
        return None
    home = env.get("HOME")  # an empty HOME counts as given, as for os.path.expanduser
    if home is None:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):
            return None
    if not sys.platform.startswith(("linux", "freebsd")):
        return (os.path.join(home, ".matplotlib"),) * 2
    config = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    cache = env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(config, "matplotlib"), os.path.join(cache, "matplotlib")


def _own_private_folder(path: str) -> bool:
    """Make `path` (mode 0700) unless it exists; True when it is a real folder (not a link) this user owns that
    no one else may write (in a shared /tmp another user could have made it first, or a link in its place)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022
            and os.access(path, os.W_OK | os.X_OK))


def _user_temp_folder(name: str) -> str | None:
    """<temporary folder>/gan-course-<name>-<uid>, made (0700) if missing, where this user owns it alone; else None."""
    try:
        folder = os.path.join(tempfile.gettempdir(), f"gan-course-{name}-{os.getuid()}")
    except OSError:  # no usable temporary folder at all: the library says so itself
        return None
    return folder if _own_private_folder(folder) else None


def prepare_matplotlib(environ: dict[str, str] | None = None) -> str | None:
    """Point MPLCONFIGDIR at a lasting folder of this user's where matplotlib's own cannot be made or written.

    Where the home folder cannot hold ~/.config/matplotlib or ~/.cache/matplotlib (an account whose home is
    read-only, missing or another's: a grading account, a JupyterHub home mounted read-only, `nobody`), matplotlib
    printed two lines of warning ("... is not a writable directory", "Matplotlib created a temporary cache directory
    ...") at every import, in every command, notebook kernel and test, and rebuilt its font cache (seconds) in every
    process in a temporary folder it then removed. There it gets <temporary folder>/gan-course-matplotlib-<uid>
    (made with mode 0700 and used only if this user owns it and no one else may write it), which keeps the font
    cache from one process to the next. A matplotlibrc in the unwritable config folder is still read (MATPLOTLIBRC
    names it, unless set). A user's MPLCONFIGDIR, working or not, is never changed, and nothing changes where
    matplotlib's folders can be made. Returns the folder set, else None.
    """
    env = os.environ if environ is None else environ
    if env.get("MPLCONFIGDIR"):
        return None
    dirs = _matplotlib_default_dirs(env)
    if dirs is None or all(_writable_or_creatable(folder) for folder in dirs):
        return None
    if (folder := _user_temp_folder("matplotlib")) is None:
        return None
    rc = os.path.join(dirs[0], "matplotlibrc")
    if "MATPLOTLIBRC" not in env and os.path.isfile(rc) and os.access(rc, os.R_OK):
        env["MATPLOTLIBRC"] = rc
    env["MPLCONFIGDIR"] = folder
    return folder


def prepare_ipython(environ: dict[str, str] | None = None) -> str | None:
    """Point IPYTHONDIR at a lasting folder of this user's where ~/.ipython cannot be made or written.

    There every IPython kernel (a lesson's, a test's under nbval) warned "IPython parent '<home>' is not a writable
    location, using a temp directory" and left a new folder in the temporary folder that nothing removed, one per
    kernel. It gets <temporary folder>/gan-course-ipython-<uid> instead (as `prepare_matplotlib`'s folder); kernels
    that the process starts inherit it. A user's IPYTHONDIR is never changed. Returns the folder set, else None."""
    env = os.environ if environ is None else environ
    if env.get("IPYTHONDIR") or sys.platform == "win32":
        return None
    home = env.get("HOME")
    if home is None:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):
            return None
    ipdir = os.path.join(home, ".ipython")
    usable = os.access(ipdir, os.W_OK | os.X_OK) if os.path.isdir(ipdir) else (
        not os.path.exists(ipdir) and os.path.isdir(home) and os.access(home, os.W_OK | os.X_OK))  # IPython makes only the last folder
    if usable or (folder := _user_temp_folder("ipython")) is None:
        return None
    env["IPYTHONDIR"] = folder
    return folder
