"""Build the student bundle: what students get, with no solution and no hidden check.

    python -m reference.bundle OUT_DIR

Copies from the course folder `lessons/`, `assignments/`, `reference/` and `pyproject.toml` (so
`pip install -e .` works in the bundle) into OUT_DIR, with `STUDENTS.md` as its README.md (how
to install, open, work, check and submit; the course's README is the instructors'), leaving out
`solutions/`, `tests/`, benchmarks and caches. Before OUT_DIR appears, every copied file is checked: none may
hold a solution region, a hidden-test region or a mark scheme (nbgrader's markers), and no Python
file may define a check that is not visible. The bundle is written into a temporary folder beside
OUT_DIR and renamed at the end, so OUT_DIR is either complete or absent. Errors are one line.
"""

from __future__ import annotations

import ast
import secrets
import shutil
import sys
from pathlib import Path

from reference import stops
from reference.errors import UserError

__all__ = ["BundleError", "CONTENTS", "build_bundle", "leaks", "main"]

CONTENTS = ("lessons", "assignments", "reference", "README.md", "pyproject.toml")  # what OUT_DIR holds
SOURCE = {"README.md": "STUDENTS.md"}  # a bundled name taken from another file of the course
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "runs", "*.egg-info", ".pytest_cache")
# nbgrader's markers, spelled in two parts so that this file does not contain them
MARKERS = tuple(" ".join(parts) for parts in (("BEGIN", "SOLUTION"), ("BEGIN", "HIDDEN TESTS"), ("BEGIN", "MARK SCHEME")))


class BundleError(UserError):
    """The bundle cannot be built: a bad OUT_DIR, a missing course folder, or a leak."""


def _hidden_checks(path: Path) -> list[str]:
    """Names of the checks a Python file defines without visible=True (reference.grading.visible)."""
    from reference.grading.visible import declared_checks

    try:
        return [name for name, visible in declared_checks(path.read_text(encoding="utf-8")).items() if not visible]
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []


def leaks(folder: Path) -> list[str]:
    """What in `folder` must not reach students: "<file>: <what>" for each problem found."""
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if rel.parts[0] in ("solutions", "tests"):
            problems.append(f"{rel}: the {rel.parts[0]}/ folder")
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images and other binary files
            continue
        problems += [f"{rel}: contains '### {marker}'" for marker in MARKERS if marker in text]
        if path.suffix == ".py":
            problems += [f"{rel}: defines the hidden check {name}" for name in _hidden_checks(path)]
    return problems


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new, empty folder PARENT/PREFIX<random> with the permissions of any folder the user makes.

    Not `tempfile.mkdtemp`: its folder is private (0700) whatever the umask, and renamed to OUT_DIR
    it kept the students (and the web server) of a shared host out of the bundle made for them.
    """
    for _ in range(100):
        folder = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            folder.mkdir()  # mode 0o777 less the umask, as mkdir(1) makes it
            return folder
        except FileExistsError:
            continue
    raise BundleError(f"cannot make a temporary folder in {parent}; remove the folders named {prefix}* there")


def _readable_as_made_here(folder: Path) -> None:
    """Give everything under `folder` the permissions of a file or folder made now (0666 / 0777 less
    the umask, which `folder`'s own mode shows), not the checkout's: `shutil.copytree` copies modes,
    and a lesson rewritten by `python -m reference.lessons` is private (0600, an atomic write), so the
    students of a shared host could not open the bundle made for them."""
    umask = ~folder.stat().st_mode & 0o777
    for path in folder.rglob("*"):
        if path.is_symlink():
            continue
        executable = path.is_dir() or path.stat().st_mode & 0o100
        path.chmod((0o777 if executable else 0o666) & ~umask)


def _why(err: BaseException) -> str:
    """One line of an OSError's or shutil.Error's cause: the first failed file's reason, not the whole list."""
    if isinstance(err, shutil.Error) and err.args and isinstance(err.args[0], list) and err.args[0]:
        first = err.args[0][0]
        more = f" (and {len(err.args[0]) - 1} more files)" if len(err.args[0]) > 1 else ""
        return (str(first[2]) if isinstance(first, tuple) and len(first) == 3 else str(first))[:300] + more
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    return str(err).splitlines()[0][:300] if str(err) else type(err).__name__


def build_bundle(out_dir: str | Path, course: str | Path | None = None) -> Path:
    """Copy the student-facing parts of `course` (default: this checkout) into `out_dir`, checked.

    Raises BundleError when out_dir exists and is not empty, a part is missing, or a leak is found
    (then out_dir is not created). Returns out_dir.
    """
    course = Path(course) if course is not None else Path(__file__).resolve().parents[1]
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"{out} already exists; remove it or choose another OUT_DIR")
    for name in CONTENTS:  # the copy of that folder would copy the bundle into itself, until its path grew too long
        part = (course / SOURCE.get(name, name)).resolve()
        if part.is_dir() and out.is_relative_to(part):
            raise BundleError(f"{out} is inside the course's {name}/, which the bundle copies; choose an OUT_DIR outside it, "
                              f"e.g. {course.resolve().parent / 'gan-course-student'}")
    missing = [SOURCE.get(name, name) for name in CONTENTS if not (course / SOURCE.get(name, name)).exists()]
    if missing:
        raise BundleError(f"{course} is not a complete course folder: no {missing[0]}; run this from a checkout of the course")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file where a folder of the path belongs said only "[Errno 17] File exists"
        in_way = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        why = f"{in_way} is a file, not a folder" if in_way else f"{_why(err)}"
        raise BundleError(f"cannot make the folder {out.parent} for the bundle ({why}); choose another OUT_DIR") from None
    tmp = None
    try:  # a stop (Ctrl-C, SIGTERM) between the mkdir and the assignment, or inside the removal, left the folder
        try:
            with stops.held():
                tmp = _new_folder(out.parent, f".{out.name}.")
            for name in CONTENTS:
                source = course / SOURCE.get(name, name)
                if source.is_dir():
                    shutil.copytree(source, tmp / name, ignore=IGNORE)
                else:
                    shutil.copy2(source, tmp / name)
            _readable_as_made_here(tmp)
        except (OSError, shutil.Error) as err:  # a full disk: copytree's error listed every file, thousands of characters
            full = "No space left" in _why(err) or "quota" in _why(err).lower()
            raise BundleError(f"cannot write the bundle in {out.parent} ({_why(err)}); "
                              + ("free space there or choose another OUT_DIR" if full else "choose an OUT_DIR in a folder you can write")
                              + ", then run this again") from None
        problems = leaks(tmp)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise BundleError(f"not bundled: {problems[0]}{more}; regenerate the student versions with nbgrader generate_assignment")
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        with stops.held():
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m reference.bundle OUT_DIR   (builds the student bundle in OUT_DIR)", file=sys.stderr)
        return 2
    from reference.cli import Terminated, _signals_as_interrupt

    try:
        with _signals_as_interrupt(exiting=argv is None):  # SIGTERM and SIGHUP unwind as Ctrl-C does
            out = build_bundle(args[0])
    except (UserError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        why = f"stopped by {err.why}" if isinstance(err, Terminated) else "interrupted"
        out = Path(args[0]).expanduser()
        made = out.is_dir() and any(out.iterdir())  # stopped after the rename: the bundle is whole
        left = f"{out} was made before the stop, complete" if made else f"{out} was not made; run the same command again"
        print(f"error: {why}; {left}", file=sys.stderr)
        return 2
    files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"student bundle: {out} ({files} files: {', '.join(CONTENTS)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
