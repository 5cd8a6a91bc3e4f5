"""What a check receives: the student's notebook, in this process or behind the proxy.

A check reaches the student's work only through these calls, so that it runs unchanged in the
student's own kernel (`LocalSubmission`) and in the trusted grader, where the notebook runs in a
sandboxed worker (`reference.grading.proxy.RemoteSubmission`):

- `submission.get(name)`: the student's object `name` (in the worker: a handle that can be
  called and whose attributes can be read; calls return plain data or further handles), or a
  CheckFailure saying why it is missing.
- `submission.run(fn, *args, **kwargs)`: call `fn`, a module-level function of the public
  `reference` package (a probe such as `reference.grading.probes.value_and_grad`), next to the
  student's objects: handles among the arguments become the objects again, and `NAMESPACE` stands
  for the notebook's globals. Only plain data come back across the proxy (numbers, strings, lists,
  dicts, tensors); anything else comes back as a handle.
- `submission.scratch`: the folder the notebook ran in. Read what the student's code wrote there
  with `submission.files()` and `submission.read_bytes(path)` (or `scratch_files` /
  `read_scratch_file`): they refuse links out of the folder, named pipes and oversized files,
  which a submission can plant to make the grader read the instructor's files or hang. Parse the
  bytes with loaders that cannot run code (PIL, json, `torch.load(..., weights_only=True)`).
  Files a check gives the student's code go into a folder of `make_scratch_folder`, written with
  `write_scratch_files` and removed with `remove_scratch_folder`, which never follow a link: the
  student's code runs meanwhile and may plant one where the grader is about to write.
"""

from __future__ import annotations

import importlib
import io
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

from reference.grading.checks import CheckFailure, StudentError, error_info
from reference.grading.notebook import CellError, why_missing

__all__ = [
    "NAMESPACE", "LocalSubmission", "NotARegularFile", "TooLarge", "make_scratch_folder", "probe_name", "read_scratch_bytes",
    "read_scratch_file", "remove_scratch_folder",
    "resolve_probe", "scratch_files", "scratch_listing", "write_scratch_files",
]

MAX_READ = 100 * 2**20  # bytes of one file a check reads from scratch


class _Namespace:
    """Stands for the notebook's globals in `submission.run(...)` arguments."""

    def __repr__(self) -> str:
        return "NAMESPACE"


NAMESPACE = _Namespace()


def probe_name(fn: Callable) -> str:
    """"reference.grading.probes.value_and_grad" for a public module-level function of `reference`."""
    module, qualname = getattr(fn, "__module__", ""), getattr(fn, "__qualname__", "")
    if not module.startswith("reference.") or "." in qualname or "<" in qualname:
        raise TypeError(f"submission.run() takes a module-level function of the reference package, not {fn!r}")
    return f"{module}.{qualname}"


def resolve_probe(name: str) -> Callable:
    """The function `probe_name` named; ValueError for anything outside the `reference` package."""
    module, _, attr = name.rpartition(".")
    if not module.startswith("reference.") or not attr.isidentifier() or attr.startswith("_"):
        raise ValueError(f"{name!r} is not a public function of the reference package")
    fn = getattr(importlib.import_module(module), attr)
    if not callable(fn):
        raise ValueError(f"{name!r} is not callable")
    return fn


MAX_LISTED_FOLDERS = 10_000  # folders `scratch_files` looks into at the most


def _folder_fds() -> bool:
    """Whether this platform opens folders as file descriptors (O_DIRECTORY, O_NOFOLLOW, dir_fd): Linux
    and macOS do, where the grader runs. Windows does not: there the visible checks run in the student's
    own kernel, on the student's own files, and the functions below go by path (`_portable_folder`)."""
    return all(hasattr(os, flag) for flag in ("O_DIRECTORY", "O_NOFOLLOW", "O_NONBLOCK")) and os.open in os.supports_dir_fd


def _portable_folder(scratch: Path, relative: str | os.PathLike) -> Path:
    """scratch/`relative` checked part by part, by path (no descriptors): OSError for a "..", a link or a
    non-folder on the way, as `_open_folder` refuses them."""
    folder = Path(scratch)
    for part in (part for part in Path(relative).parts if part not in ("", ".")):
        if part == ".." or os.sep in part:
            raise OSError(f"{relative} leaves the scratch folder")
        folder = folder / part
        if os.path.islink(folder) or not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
    return folder


def scratch_files(scratch: Path, under: str | os.PathLike = ".", max_depth: int | None = None) -> list[Path]:
    """Regular files below `scratch`/`under` (links and special files skipped), relative to
    `under`, sorted; with `max_depth`, only those at most that many folders below it (at most
    MAX_LISTED_FOLDERS folders in all). Every folder is opened from scratch down, each step without
    following a link and only as a folder (`_open_folder`), so a link the student's code puts in a
    folder's place, even while this runs, is neither followed nor opened (os.fwalk opened what such a
    race put there)."""
    found: list[Path] = []
    pending, visited = [Path()], 0
    while pending and visited < MAX_LISTED_FOLDERS:
        relative = pending.pop()
        visited += 1
        try:
            fd = _open_folder(Path(scratch), Path(under) / relative) if _folder_fds() else None
            where = fd if fd is not None else _portable_folder(Path(scratch), Path(under) / relative)
        except OSError:  # a link or a file in the folder's place, or gone
            continue
        try:
            with os.scandir(where) as entries:
                listed = [(entry.name, entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False)) for entry in entries]
        except OSError:
            listed = []
        finally:
            if fd is not None:
                os.close(fd)
        for name, is_dir, is_file in listed:
            if is_file:
                found.append(relative / name)
            elif is_dir and (max_depth is None or len(relative.parts) < max_depth):
                pending.append(relative / name)
    return sorted(found)


def scratch_listing(scratch: Path, folder: str | os.PathLike) -> list[str] | None:
    """The names in scratch/`folder`, sorted, the folder opened without following a link; None when it
    is not a folder of scratch (gone, a file, or a link the student's code put in its place)."""
    if not _folder_fds():
        try:
            return sorted(os.listdir(_portable_folder(Path(scratch), folder)))
        except OSError:
            return None
    try:
        fd = _open_folder(Path(scratch), folder)
    except OSError:
        return None
    try:
        return sorted(os.listdir(fd))
    finally:
        os.close(fd)


def _open_folder(scratch: Path, relative: str | os.PathLike) -> int:
    """A file descriptor of the folder scratch/`relative`, each folder below scratch opened without
    following links (OSError for a link, a non-folder or a ".." on the way)."""
    parts = [part for part in Path(relative).parts if part not in ("", ".")]
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            if part == ".." or os.sep in part:
                raise OSError(f"{relative} leaves the scratch folder")
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_scratch_folder(scratch: Path, prefix: str) -> Path:
    """A new, empty folder scratch/<prefix><random> made by the grader (its path). The student's code
    can write into it, so the grader writes there only with `write_scratch_files`."""
    if not _folder_fds():
        for _ in range(100):
            name = f"{prefix}{secrets.token_hex(6)}"
            try:
                os.mkdir(Path(scratch) / name, 0o755)
                return Path(scratch) / name
            except FileExistsError:
                continue
        raise OSError(f"no free folder name {prefix}... in {scratch}")
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(100):
            name = f"{prefix}{secrets.token_hex(6)}"
            try:
                os.mkdir(name, 0o755, dir_fd=fd)
                return Path(scratch) / name
            except FileExistsError:
                continue
        raise OSError(f"no free folder name {prefix}... in {scratch}")
    finally:
        os.close(fd)


def write_scratch_files(scratch: Path, folder: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Write {path relative to scratch/`folder`: bytes} as new files, making their folders; every
    folder is opened and every file created without following links, and no existing file is
    overwritten (O_EXCL), so that a link the student's code plants in a folder the grader writes to
    cannot lead the grader's writes out of scratch (CheckFailure when something is in the way)."""
    for relative, data in files.items():
        *dirs, name = Path(relative).parts
        try:
            if not _folder_fds():
                target = _portable_folder(scratch, folder)
                for part in dirs:
                    (target / part).mkdir(0o755, exist_ok=True)
                    target = _portable_folder(target, part)
                with open(target / name, "xb") as fh:
                    fh.write(data)
                continue
            fd = _open_folder(scratch, folder)
            try:
                for part in dirs:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                    os.close(fd)
                    fd = inner
                out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
                with io.FileIO(out, "wb") as fh:
                    fh.write(data)
            finally:
                os.close(fd)
        except OSError as err:
            raise CheckFailure(
                f"the grader could not write its test file {relative} ({err.strerror or err}): something in the "
                f"submission's folder was in its way; do not create files in folders your code did not make"
            ) from None


def remove_scratch_folder(scratch: Path, folder: str | os.PathLike) -> None:
    """Remove scratch/`folder` and everything in it, never following a link out of it (best effort)."""
    *parents, name = Path(folder).parts
    if not _folder_fds():
        try:
            shutil.rmtree(_portable_folder(scratch, folder), ignore_errors=True)
        except OSError:
            pass
        return
    try:
        fd = _open_folder(scratch, Path(*parents) if parents else ".")
    except OSError:
        return
    try:
        shutil.rmtree(name, dir_fd=fd, ignore_errors=True)
    except RecursionError:  # a tree deeper than Python's recursion: the scratch folder goes with the worker
        pass
    finally:
        os.close(fd)


class NotARegularFile(OSError):
    """What `read_scratch_bytes` found is a folder, a named pipe, a device..., or lies outside scratch."""

    def __init__(self) -> None:
        super().__init__("not a regular file")


class TooLarge(OSError):
    """The file `read_scratch_bytes` was asked for holds more than its limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"larger than {limit // 2**20} MB")
        self.size, self.limit = size, limit


def read_scratch_bytes(scratch: Path, path: str | os.PathLike, limit: int = MAX_READ) -> bytes:
    """The bytes of the regular file `path` (relative to `scratch`, or inside it). Each folder on
    the way and the file are opened without following a link, so nothing outside `scratch` is ever
    opened (opening a device or a named pipe there can have effects of its own).

    Raises NotARegularFile (anything but a regular file, or a path outside scratch), TooLarge (over
    `limit` bytes, when opened or while read: the student's code may still be writing it), or the
    OSError of an open (a link, a missing file or folder)."""
    base = os.path.realpath(scratch)
    relative = Path(path)
    if relative.is_absolute():  # inside scratch, as given or resolved
        for root in (os.path.abspath(scratch), base):
            if os.path.abspath(relative).startswith(root + os.sep):
                relative = Path(os.path.abspath(relative)).relative_to(root)
                break
        else:
            raise NotARegularFile()
    if _folder_fds():
        folder = _open_folder(Path(base), relative.parent)
        try:
            fd = os.open(relative.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        finally:
            os.close(folder)
    else:
        path = _portable_folder(Path(base), relative.parent) / relative.name
        if os.path.islink(path):
            raise NotARegularFile()
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile()
        if info.st_size > limit:
            raise TooLarge(info.st_size, limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        raise TooLarge(size, limit)
    finally:
        os.close(fd)


def read_scratch_file(scratch: Path, path: str | os.PathLike, limit: int = MAX_READ) -> bytes:
    """`read_scratch_bytes`, with each refusal a CheckFailure that tells the student what to write."""
    name = Path(path).name
    try:
        return read_scratch_bytes(scratch, path, limit)
    except NotARegularFile:
        raise CheckFailure(f"`{name}` is not a regular file in the output folder; save the file itself there") from None
    except TooLarge as err:
        raise CheckFailure(f"`{name}` is {err.size:,} bytes, more than the {limit:,} the grader reads") from None
    except OSError as err:
        raise CheckFailure(f"`{name}` could not be opened ({err.strerror or 'a link or a file on its way'}): write a regular file, not a link") from None


_KERNEL_SCRATCH: list[tempfile.TemporaryDirectory] = []  # removed when the kernel exits


def _kernel_scratch() -> Path:
    if not _KERNEL_SCRATCH:
        _KERNEL_SCRATCH.append(tempfile.TemporaryDirectory(prefix="gan-course-checks-", ignore_cleanup_errors=True))
    return Path(_KERNEL_SCRATCH[0].name)


class LocalSubmission:
    """The notebook's objects in this process (the student's kernel, or `execute_notebook`).

    namespace: the notebook's globals. cell_errors: exceptions its cells raised ([] in a live
    kernel). scratch: the folder it ran in (the working directory if None).
    """

    remote = False

    def __init__(self, namespace: dict[str, Any], cell_errors: list[CellError] | None = None, scratch: Path | None = None) -> None:
        self.namespace = namespace
        self.cell_errors = list(cell_errors or [])
        self._scratch = scratch

    @property
    def scratch(self) -> Path:
        """The folder the checks give the notebook's code to write in: the notebook's own (the working
        directory), or, where that takes no files (a read-only course folder, a shared one the student
        opened without copying), a private temporary one for this kernel (the checks' runs there were
        the check's PermissionError, blamed on the student's code)."""
        if self._scratch is not None:
            return self._scratch
        here = Path.cwd()
        return here if os.access(here, os.W_OK) else _kernel_scratch()

    def files(self, under: str | os.PathLike = ".") -> list[Path]:
        """Regular files the notebook wrote below scratch/`under` (see `scratch_files`)."""
        return scratch_files(self.scratch, under)

    def read_bytes(self, path: str | os.PathLike) -> bytes:
        """A file the notebook wrote, relative to scratch (see `read_scratch_file`)."""
        return read_scratch_file(self.scratch, path)

    def get(self, name: str) -> Any:
        """The student's object called `name`; a CheckFailure saying why if it does not exist."""
        if name in self.namespace:
            return self.namespace[name]
        raise CheckFailure(f"`{name}` is not defined: {why_missing(name, self.cell_errors, self.namespace)}")

    def __contains__(self, name: object) -> bool:
        return name in self.namespace

    def run(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` with NAMESPACE replaced by the notebook's globals. What it raises
        comes as the StudentError the proxy would bring (`error_info` of it), so that a check that
        names the fault of a StudentError says the same here as when the submission is graded."""
        probe_name(fn)  # the same rule as across the proxy: only the reference package's functions
        args = tuple(self.namespace if a is NAMESPACE else a for a in args)
        kwargs = {k: self.namespace if v is NAMESPACE else v for k, v in kwargs.items()}
        try:
            return fn(*args, **kwargs)
        except (Exception, SystemExit) as err:  # noqa: BLE001 - as the worker answers it (a real Ctrl-C still stops)
            raise StudentError.from_info(error_info(err, self.namespace)) from err
