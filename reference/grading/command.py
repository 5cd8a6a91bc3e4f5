"""`gan-course autograde`: grade a class's submissions in sandboxes, in parallel or in shards.

    gan-course autograde a2_conv_layers --jobs 2                 # every submitted/<student>/a2_conv_layers/
    gan-course autograde a2_conv_layers --shard 3/40 --results shard-03.jsonl
    gan-course autograde --merge shard-*.jsonl                   # into gradebook.db; twice changes nothing
    gan-course autograde a2_conv_layers --jobs 2 --resume autograde-a2_conv_layers-<time>.jsonl   # after a stop: the rest

Run it in the course folder (the one with nbgrader_config.py). Without --results the records go
straight into nbgrader's autograded/ folder and gradebook.db (reference.grading.bridge); with
--results they are written to that file (JSON lines, atomically) for a later --merge. One run at a time writes
into a course's gradebook (an autograde without --results, or a merge) or into one --results file (`exclusive_run`).
A stopped run (Ctrl-C, SIGTERM, SIGHUP) keeps the records it finished in autograde-<id>-<time>.jsonl; --resume
with that file grades only the others. In a course folder its group may write (instructors who share it), what a run
writes stays writable by the group, whatever the user's umask (`shared_with_group`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import shlex
import socket
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path

from reference.errors import UserError

LIMIT_HELP = {
    "wall_s": "seconds for one submission, cells and checks",
    "check_s": "seconds for one check",
    "cell_s": "seconds for one notebook cell (then interrupted)",
    "cpu_s": "CPU seconds per process",
    "cpus": "CPU cores its processes use together, on average (unset: the default, or the host's cores shared "
            "among --jobs where that is less)",
    "memory_mb": "MiB of memory",
    "processes": "processes in the sandbox",
    "file_mb": "MiB in one file",
    "disk_mb": "MiB written in scratch",
    "output_mb": "MiB printed",
}


def add_parser(sub) -> None:
    from reference.grading.sandbox import Limits

    p = sub.add_parser(
        "autograde",
        help="grade submitted notebooks, each in a sandbox (bubblewrap), into nbgrader's gradebook",
        description="Grade every submitted/<student>/ASSIGNMENT/ notebook: its cells run in a sandboxed worker, the "
        "checks in this process. Limits default to nbgrader_config.py's c.GanCourseGrading.<name>, else: "
        + Limits().describe(),
    )
    p.add_argument("assignment", nargs="?", help="the assignment id, e.g. a2_conv_layers")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1; each runs on one thread, and its processes may use up to --cpus cores together, by default the host's cores shared among the jobs)")
    p.add_argument("--shard", metavar="K/N", help="grade only shard K of N (sorted students, every N-th)")
    p.add_argument("--results", metavar="FILE", help="write the records to FILE (JSON lines) instead of the gradebook")
    p.add_argument("--merge", nargs="+", metavar="FILE", help="merge records files into autograded/ and gradebook.db")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    p.add_argument("--resume", metavar="FILE", help="grade only the students FILE holds no record of (the file a stopped run "
                   "kept its finished grades in), then record FILE's records with the new ones")
    p.add_argument("--no-sandbox", action="store_true", help="run submissions without bubblewrap (trusted code only)")
    p.add_argument("--gpu", action="store_true", help="let the sandbox see the NVIDIA GPUs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    for f in fields(Limits):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=None, help=LIMIT_HELP[f.name])


def config_limits(root: Path) -> dict:
    """c.GanCourseGrading.<limit> values of nbgrader_config.py. A section whose name is a near miss
    of GanCourseGrading (c.GanCourseGradng, c.GANCourseGrading) is refused: its limits would be unread."""
    import difflib

    from traitlets.config.loader import PyFileConfigLoader

    from reference.grading.checks import printable

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    for section in config:
        if section != "GanCourseGrading" and difflib.get_close_matches(section.lower(), ["gancoursegrading"], cutoff=0.8):
            raise UserError(f"nbgrader_config.py sets c.{printable(section, mark='?')}, which nothing reads; "
                            "the grading limits are set as c.GanCourseGrading.<name>")
    return dict(config.get("GanCourseGrading", {}))


def _submissions(root: Path, assignment: str, students: list[str] | None, warn: bool = True,
                 skipped: list[str] | None = None) -> list[tuple[str, Path]]:
    """[(student, notebook)] of submitted/<student>/ASSIGNMENT/ASSIGNMENT.ipynb. A link anywhere on
    that path is skipped with a warning: it could make one student's submission another's, or the
    model answers (submitted/eve -> ../solutions), which the grader would then grade as eve's.
    warn=False: one line with the warnings' count instead of each (the shards after the first: every shard
    looks at the whole class, and a 500-task array printed each warning 500 times). `skipped`, when given, gets
    the name of each student folder not graded."""
    from reference.grading.bridge import STUDENT_ID

    folder = root / "submitted"
    found = []
    warnings: list[str] = []

    def skip(student: str, text: str) -> None:
        warnings.append(text)
        if skipped is not None:  # a name nbgrader cannot record may hold anything: shown as Python writes it
            skipped.append(repr(os.fsencode(student)) if _undecodable(student) else
                           student if STUDENT_ID.match(student) else repr(student))

    if folder.is_dir():
        for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            notebook = student_dir / assignment / f"{assignment}.ipynb"
            if students and student_dir.name not in students:
                continue
            if not notebook.is_file():
                if notebook.is_dir():
                    skip(student_dir.name, f"{notebook.relative_to(root)} is a folder, not a notebook; not graded (ask the student for "
                                    f"the .ipynb file)")
                elif notebook.exists() or notebook.is_symlink():  # a named pipe (it would hold the reader), a device, a broken link
                    skip(student_dir.name, f"{notebook.relative_to(root)} is not a regular file (a named pipe, a device or a broken link); "
                                    f"not graded (put the student's .ipynb file there)")
                elif (student_dir / assignment).is_dir():  # the student submitted, under another name or not at all
                    others = sorted(p.name for p in (student_dir / assignment).glob("*.ipynb"))
                    where = f"submitted/{student_dir.name}/{assignment}/"
                    if others:
                        skip(student_dir.name, f"{where} holds {', '.join(others[:3])}{' ...' if len(others) > 3 else ''}, not {assignment}.ipynb; "
                              f"not graded (rename the student's notebook to {assignment}.ipynb to grade it)")
                    else:
                        skip(student_dir.name, f"{where} holds no notebook; not graded (ask the student for {assignment}.ipynb)")
                continue
            if _undecodable(student_dir.name):  # bytes the filesystem encoding cannot read (os.fsdecode's surrogates)
                skip(student_dir.name, f"submitted/{os.fsencode(student_dir.name)!r}: the folder's name is not {sys.getfilesystemencoding()} text (made "
                                f"on a system with another encoding, or gan-course runs under a non-UTF-8 locale such as LANG=C: "
                                f"then run it with PYTHONUTF8=1); not graded (rename the folder to the student's id)")
                continue
            if not STUDENT_ID.match(student_dir.name):  # --merge would refuse the whole records file for it
                renamed = suggested_id(student_dir.name)
                if unicodedata.normalize("NFC", student_dir.name) == renamed:  # looks the same: say what differs, and how to rename
                    move = f"mv {shlex.quote(_shown(student_dir))} {shlex.quote(_shown(student_dir.with_name(renamed)))}"
                    skip(student_dir.name, f"submitted/{student_dir.name!r} spells its accented letters decomposed (a letter, then "
                                    f"a combining mark, as a zip made on macOS does), which nbgrader cannot record; not graded "
                                    f"(rename the folder to the same letters composed: {move}; then grade it with --student "
                                    f"{shlex.quote(renamed)})")
                else:
                    skip(student_dir.name, f"submitted/{student_dir.name!r} is not a student id nbgrader can record "
                                    f"(letters, digits and _.@+- only); not graded (rename the folder to the student's id, e.g. "
                                    f"{renamed!r}, then grade it with --student {shlex.quote(renamed)})")
                continue
            if any(p.is_symlink() for p in (student_dir, notebook.parent, notebook)):
                skip(student_dir.name, f"{notebook.relative_to(root)} is reached through a link; not graded (copy the files there instead)")
                continue
            if problem := _too_big(notebook):  # nbgrader would read it again in the merge: gigabytes, for the whole class
                skip(student_dir.name, f"{notebook.relative_to(root)}: {problem}; not graded (ask the student for the notebook with its outputs "
                      f"cleared and without extra cells)")
                continue
            if (problem := _notebook_problem(notebook)) is not None:  # nbgrader would stop on it with a traceback
                what = "(empty, not JSON, or nested too deeply)" if not problem else f"nbgrader can read ({problem})"
                skip(student_dir.name, f"{notebook.relative_to(root)} is not a notebook {what}; not graded (ask the student for the .ipynb file)")
                continue
            found.append((student_dir.name, notebook))
    if warn:
        for line in warnings:
            _warn(line)
    elif warnings:
        _warn(f"{len(warnings)} student folder(s) of {assignment} not graded; the first shard's log names each")
    return found


def shared_cpus(default: float, jobs: int, cores: int | None = None) -> float:
    """The cores each of `jobs` sandboxes may use on average when the instructor set none: the default, or the
    grading host's usable cores shared among the jobs where that is less. With 2 sandboxes of 2 cores each on
    a 2-core host one submission could take the whole machine (many busy processes, each in a session of its
    own: the kernel's autogroup gives each session an equal share) and run a classmate's timed check past its
    limit (red-team finding: an honest a4 scored 7/10 instead of 10/10 beside such a submission)."""
    from reference.cpu import usable_cores

    cores = usable_cores() if cores is None else cores
    return min(default, max(cores / max(1, jobs), 0.1))


def suggested_id(name: str) -> str:
    """A student id nbgrader can record for the folder or flag `name`: the same letters composed where a Mac wrote
    them decomposed ('jose' and a combining accent, from a zip made on macOS: the mark is no letter), else with
    each run of other characters made one '_' ('Mary Jane' -> 'Mary_Jane')."""
    from reference.grading.bridge import STUDENT_ID

    composed = unicodedata.normalize("NFC", name)
    if STUDENT_ID.match(composed):
        return composed
    return re.sub(r"[^\w.@+-]+", "_", composed).strip("_.-")[:128] or "student"


def _undecodable(name: str) -> bool:
    """Whether a name os.listdir gave holds bytes the filesystem encoding could not decode (as surrogates)."""
    return any("\udc80" <= ch <= "\udcff" for ch in name)


def _warn(line: str) -> None:
    from reference.grading.checks import printable

    print("gan-course: warning: " + printable(line, mark="?"), file=sys.stderr)


def _too_big(notebook: Path) -> str | None:
    """Why the grader will not read the notebook (over its size, cells, JSON values or nesting), or None."""
    from reference.grading.runner import notebook_problem

    try:
        return notebook_problem(notebook)
    except OSError:
        return None  # the grader says why it cannot read it, in the record


def _notebook_problem(notebook: Path) -> str | None:
    """None when the file is JSON that nbgrader reads as a notebook; "" when it is empty, text, truncated or
    nested too deeply; otherwise why nbgrader could not read it (`{}`, cells that are not objects: graded, it
    stopped nbgrader's merge for that student with a traceback, at every merge again). A file over the
    grader's notebook size is only looked at in its first bytes (`_too_big` refuses it)."""
    from reference.grading.bridge import read_problem
    from reference.grading.runner import MAX_NOTEBOOK_MB

    try:
        if notebook.stat().st_size > MAX_NOTEBOOK_MB * 2**20:
            with open(notebook, "rb") as f:
                return None if f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else ""
        text = notebook.read_bytes()
        data = json.loads(text.decode("utf-8-sig"))  # a byte-order mark: the grader reads past it, the merge stages it without
    except OSError:
        return None  # the grader says why it cannot read it, in the record
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than Python's parser goes
        return ""
    if not isinstance(data, dict):
        return ""
    if problem := read_problem(data):
        return problem
    cells = data.get("cells") if data.get("nbformat") == 4 else None
    lacking = next((n for n, cell in enumerate(cells) if "cell_type" not in cell), None) if isinstance(cells, list) else None
    if lacking is not None:  # the grader stops on it (AttributeError: cell_type) and scores the notebook 0
        return f"cell {lacking + 1} has no cell_type"
    return None


def _summary(record: dict) -> str:
    earned = sum(c["earned"] for c in record["checks"].values())
    total = sum(c["points"] for c in record["checks"].values())
    line = f"{record['student']}: {earned:g}/{total:g}"
    if record.get("failed"):
        line += f" (grader failed: {record['failed']})"
    elif record.get("stopped"):
        line += f" ({record['stopped'][0]})"
    from reference.grading.checks import printable

    return printable(line)  # a student's text in it must not drive the terminal


def _check_arguments(args: argparse.Namespace) -> None:
    """The command line's own mistakes, refused before anything heavy is imported (nbgrader and
    torch take seconds): a typo is answered at once."""
    from reference.grading.runner import parse_shard

    if args.merge:
        if args.assignment or args.results or args.shard or args.resume:
            raise UserError("--merge takes only records files; run it without an assignment, --shard, --results or --resume")
        return
    if not args.assignment:
        raise UserError("give the assignment to grade (e.g. gan-course autograde a2_conv_layers) or --merge FILE...")
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: give 1 or more")
    if args.shard and not args.results:
        raise UserError("--shard needs --results FILE: each shard writes its own records, then --merge them")
    if args.shard:
        parse_shard(args.shard)
    if args.resume and args.results and Path(args.resume).resolve() == Path(args.results).resolve():
        raise UserError(f"--resume {args.resume} is also --results: give the run a new --results file (it then holds "
                        f"{args.resume}'s records and the new ones together)")
    from reference.grading.bridge import STUDENT_ID

    for student in args.student or []:  # "../x" named a folder outside submitted/ in the "none found" line
        if not STUDENT_ID.match(student):
            renamed = suggested_id(student)
            raise UserError(f"--student {student!r} is not a student id nbgrader can record (letters, digits, _.@+- only): "
                            f"give the name of a folder in submitted/, and rename one named otherwise (e.g. {renamed!r})")


def _check_results_path(path: Path) -> None:
    """UserError, before anyone is graded, when --results FILE could not be written: a folder there, a
    file where a folder of its path belongs, or a folder that takes no new file (the grades of a
    whole class were lost at the end otherwise); or when FILE already holds records, which the new
    run would replace (one student graded again over the file of the class)."""
    import tempfile

    if path.is_dir():
        raise UserError(f"--results {path} is a folder; give a file name in it, e.g. --results {path / 'records.jsonl'}")
    if path.exists() and not path.is_file():  # /dev/null: the atomic write replaced the device with a file (as root)
        raise UserError(f"--results {path} is not a regular file (a device, a named pipe or a socket), and the records "
                        f"would be lost or put in its place; give a file name, e.g. --results records-{time.strftime('%Y%m%d')}.jsonl")
    if path.exists() and not _records_file(path):  # --results gradebook.db replaced the gradebook, hand grades and all
        raise UserError(f"--results {path} exists and is not a records file of gan-course autograde; give a new file "
                        f"name (it is overwritten), e.g. --results records-{time.strftime('%Y%m%d')}.jsonl")
    if path.exists() and (held := _records_held(path)):  # a second run over one file dropped the first run's grades
        raise UserError(f"--results {path} already holds {held} record(s) from an earlier run, which writing it again "
                        f"would drop before they are merged: merge it first (gan-course autograde --merge {path}), then "
                        f"give this run a new file name, e.g. --results records-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"--results {path}: {folder} is a file, not a folder; give a path whose folders are folders")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise UserError(f"--results {path}: {folder} takes no new file ({err.strerror or type(err).__name__}); "
                        f"give a path in a folder you can write to") from None


def _warn_unrecorded(root: Path, records: list[dict]) -> None:
    """A warning naming the students with a submission in submitted/ but no record among those merged (a shard's
    task that died, two tasks that wrote the same --results file): a merge of what was there said nothing."""
    for assignment in sorted({r.get("assignment") for r in records if isinstance(r.get("assignment"), str)}):
        recorded = {r.get("student") for r in records if r.get("assignment") == assignment}
        submitted = root / "submitted"
        missing = sorted(folder.name for folder in submitted.iterdir() if (folder / assignment).is_dir() and folder.name not in recorded) \
            if submitted.is_dir() else []
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            print(f"gan-course: warning: {len(missing)} submission(s) of {assignment} in submitted/ have no record among "
                  f"the files merged ({shown}): a shard's task that did not finish? grade them with --student", file=sys.stderr)


def _records_held(path: Path) -> int:
    """How many records (non-empty lines) the records file `path` holds."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _records_file(path: Path) -> bool:
    """Whether the existing file `path` is empty or a records file (JSON lines, each a dict with "student")."""
    try:
        with open(path, "rb") as fh:
            line = fh.readline(64 * 2**20).strip()  # a record holds the cells' outputs: its line may be long
            if not line:
                return not fh.read(1)
    except OSError:
        return False
    try:
        first = json.loads(line)
    except ValueError:
        return False
    return isinstance(first, dict) and "student" in first


def _check_course_writable(root: Path) -> None:
    """UserError, before anyone is graded, when the merge at the end could not write the course folder (another
    TA's folder, a read-only mount): every submission was graded, then the merge and the records kept beside it
    failed, and the grades were lost."""
    import tempfile

    for folder in (root, root / "autograded"):
        if not folder.is_dir():
            continue
        try:
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as err:
            raise UserError(f"the course folder {folder} takes no new file ({err.strerror or type(err).__name__}), so the "
                            f"grades could not be merged into it; grade as its owner, or write them elsewhere with "
                            f"--results FILE and merge them later") from None
    gradebook = root / "gradebook.db"
    if gradebook.exists() and not os.access(gradebook, os.W_OK):
        raise UserError(f"{gradebook} cannot be written, so the grades could not be merged into it; grade as its owner, "
                        f"or write them elsewhere with --results FILE and merge them later")


COURSE_LOCK = ".gan-course-autograde.lock"  # in the course folder, while an autograde into its gradebook or a merge runs


def _results_lock(results: Path) -> Path:
    """The lock file of a run writing --results `results`: beside it, named after it."""
    return results.parent / f".{results.name}.lock"


_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)  # flock on a file system that takes none


@contextlib.contextmanager
def exclusive_run(lock: Path, results: str | None = None, what: str = "") -> Iterator[None]:
    """Hold an exclusive flock on `lock` while the block runs: a second run meanwhile is a one-line UserError
    naming the first run's pid. Two autogrades into one gradebook, or a merge beside one, each graded or merged the
    same students (SQLite only made their writes take turns), and two runs writing one --results file (a Slurm
    array given the same name) kept only the last one's records. The kernel lets go of an flock when its holder
    dies, however it dies (SIGKILL, the out-of-memory killer), so a killed run blocks no later one; the file, left
    behind then, is taken and removed by the next run. Where no lock file can be made (a read-only folder, no
    fcntl), the run goes on unlocked: the checks after this name what it cannot write. Where the file system takes
    no flock (ENOLCK: NFS without its lock service), the run goes on unlocked too, after a warning that says so
    (it went on silently, and two runs at once went unnoticed). `what` describes the run
    for the message of a second one; `results`: the --results file it writes, if any."""
    from reference.cli import _take_lock

    try:
        import fcntl
    except ImportError:  # Windows
        fcntl = None
    held = None
    if fcntl is not None:
        try:
            if results is not None:
                lock.parent.mkdir(parents=True, exist_ok=True)  # write_results makes it at the end anyway
            held = _take_lock(lock, fcntl, mode=0o666)  # less the umask: another grader of a shared course locks it too
        except OSError as err:
            held = None
            if err.errno in _NO_FLOCK:  # the file system takes no flock (NFS without its lock service): unlocked, said so
                guarded = f"--results {results}" if results is not None else "this course's gradebook"
                _warn(f"{guarded} cannot be locked on its file system ({err.strerror}: an NFS mount without its lock "
                      f"service?), so a second autograde or merge into it meanwhile would not be refused; run one at a time")
        if held is False:
            raise UserError(_lock_holder_line(lock, results))
    if held:
        with contextlib.suppress(OSError):  # who holds it, for the line of a second run
            os.ftruncate(held[1], 0)
            os.pwrite(held[1], json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                           "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0)
    try:
        yield
    finally:
        if held:
            with contextlib.suppress(OSError):
                held[0].unlink()  # while still held: a run that opened this file meanwhile sees it gone and retries
            os.close(held[1])


def _lock_holder_line(lock: Path, results: str | None) -> str:
    """The one line for a run that found `lock` held: who holds it (as the holder wrote it) and what to do."""
    from reference.grading.checks import printable

    try:
        holder = json.loads(lock.read_bytes()[:4096])
        pid, host, what, started = int(holder["pid"]), str(holder["host"]), str(holder["what"]), str(holder["started"])
    except (OSError, ValueError, TypeError, KeyError):  # not written yet, or by hand
        who = "another gan-course autograde"
    else:
        if host == socket.gethostname() and not _alive(pid):  # a killed run's, left in a file the holder could not write
            return _lock_holder_line(Path(os.devnull), results)
        where = "" if host == socket.gethostname() else f" on {printable(host, mark='?')}"
        who = f"another gan-course autograde ({printable(what, mark='?')}, pid {pid}{where}, started {printable(started, mark='?')})"
    if results is not None:
        return (f"{who} is writing its records to --results {results} right now; give each run its own file "
                f"(e.g. --results shard-$K.jsonl for shard K), or wait for it to end")
    return (f"{who} holds this course's gradebook right now; wait for it to end, then run this again (two runs at once "
            f"would grade or merge the same students twice)")


def _alive(pid: int) -> bool:
    """Whether process `pid` of this host exists (signal 0 is sent to no one; 0 and below name groups: no)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError):
        return False
    return True


def host_memory_mb(meminfo: Path = Path("/proc/meminfo"), cgroups: Path = Path("/sys/fs/cgroup"),
                   own: Path = Path("/proc/self/cgroup")) -> int | None:
    """MiB of memory this machine has for the grading: MemTotal, or less where this process's control group (a
    container's limit, a Slurm job's --mem) allows less; None where neither can be read (not Linux). `own`: the
    file naming this process's control groups."""
    found = []
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                found.append(int(line.split()[1]) // 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        groups = own.read_text().splitlines()
    except OSError:
        groups = []
    for line in groups:  # "0::/user.slice/..." (cgroup v2), "4:memory:/slurm/uid_1/job_2" (v1)
        number, controllers, where = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and not controllers:
            folder, name = cgroups / where.lstrip("/"), "memory.max"
        elif "memory" in controllers.split(","):
            folder, name = cgroups / "memory" / where.lstrip("/"), "memory.limit_in_bytes"
        else:
            continue
        for level in (folder, *folder.parents):  # a limit anywhere above also holds
            if not level.is_relative_to(cgroups):
                break
            try:
                text = (level / name).read_text().strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
                found.append(int(text) // 2**20)
    return min(found) if found else None


def _memory_source(args: argparse.Namespace, configured: dict) -> str:
    """Where the memory limit came from: "flag", "config" (nbgrader_config.py) or "default"."""
    return "flag" if args.memory_mb is not None else "config" if configured.get("memory_mb") is not None else "default"


def memory_problem(limits, jobs: int, source: str = "flag", host_mb: int | None = None) -> str | None:
    """Why the memory limit cannot hold on this machine (one line naming the fix), or None: a limit above the
    machine's memory (--memory-mb 100000 on a 24 GB host), or `jobs` submissions each allowed it that together
    could take more than the machine has. Such a limit limits nothing: a submission that allocates up to it is
    stopped by the kernel's out-of-memory killer instead, which may pick the grader or a classmate's sandbox.
    `source`: where the limit came from ("flag", "config" or "default"), to name it as it was set."""
    host_mb = host_memory_mb() if host_mb is None else host_mb
    jobs = max(1, jobs or 1)
    asked = limits.memory_mb
    if host_mb is None or asked * jobs <= host_mb:
        return None
    said = {"flag": f"--memory-mb {asked}", "config": f"c.GanCourseGrading.memory_mb = {asked} in nbgrader_config.py",
            "default": f"the default memory limit of {asked} MiB"}[source]
    if asked > host_mb:
        return f"{said}: more than the {host_mb:,} MiB of memory this machine has; give --memory-mb {host_mb} or less"
    return (f"{said}: {jobs} submissions graded at once (--jobs {jobs}) may use {asked * jobs:,} MiB together, more than "
            f"the {host_mb:,} MiB of memory this machine has; give --jobs {max(1, host_mb // asked)} or --memory-mb {host_mb // jobs}")


def _keep(records: list[dict], assignment: str, folder: Path, shard: str | None = None) -> str:
    """Write the records that could not go where they were meant to (a merge that failed, a stopped run's finished
    ones) into `folder` as autograde-<id>[-shard-K-of-N]-<time>.jsonl, else (a full disk) into the temporary folder;
    returns the path to give --merge or --resume, as seen from the working folder (the command may run in a folder
    below the course's). A failed write here had ended the run in a traceback, the class's grades lost."""
    import tempfile

    from reference.grading.runner import parse_shard, write_results

    part = "-shard-{}-of-{}".format(*parse_shard(shard)) if shard else ""
    name = f"autograde-{assignment}{part}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    first = None
    for where in (folder, Path(tempfile.gettempdir())):
        path = where / name
        if path.exists():  # another run stopped in the same second (the tasks of one array): never replace its grades
            path = path.with_name(f"{path.stem}-{os.getpid()}.jsonl")
        try:
            write_results(path, records)
            return _shown(path)
        except OSError as err:
            first = first or err
    raise UserError(f"the grades could not be kept in {folder} ({first.strerror or type(first).__name__}) nor in "
                    f"{tempfile.gettempdir()}: free space there, then grade again") from None


def _shown(path: Path) -> str:
    """`path` relative to the working folder when it lies in it, else whole: a path a command typed here finds."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _and_kept(resumed: list[dict], resume: str | None) -> str:
    return f" (and {len(resumed)} kept from {resume})" if resumed else ""


def _resumed(resume: str, assignment: str, subs: list[tuple[str, Path]]) -> list[dict]:
    """The records of --resume FILE to keep: those of `assignment` for the students in `subs` whose notebook has not
    changed since it was graded (the merge would refuse it) and whose grading did not fail (a resume tries again)."""
    import hashlib

    from reference.grading.bridge import read_records

    records = read_records([resume])
    others = sorted({str(r["assignment"]) for r in records} - {assignment})
    if others:
        raise UserError(f"--resume {resume} holds records of {', '.join(others)}, not only of {assignment}; give the file "
                        f"kept by a stopped run of gan-course autograde {assignment}")
    notebooks = dict(subs)
    kept = []
    for record in records:
        notebook = notebooks.get(record["student"])
        if notebook is None or record.get("failed") or notebook.stem != record["notebook"]:
            continue
        try:
            digest = hashlib.sha256(notebook.read_bytes()).hexdigest()
        except OSError:
            continue
        if record.get("notebook_sha256") == digest:
            kept.append(record)
    return kept


def _quiet_when_closed() -> None:
    """Once stdout is closed (`| head`, a `less` quit, a dead `| tee`, the SSH session's terminal gone), what is left to
    print goes nowhere and grading goes on: a BrokenPipeError (or EIO) from a progress line stopped the class's grading
    and lost every grade. (`gan-course` itself guards both streams the same way: reference.cli._GuardedStream.)"""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


def run(args: argparse.Namespace) -> int:
    from reference.grading.local import course_root

    root = course_root()
    if root is None:
        raise UserError(f"no course folder (with nbgrader_config.py) at or above {Path.cwd()}; cd into the course first, or "
                        f"set GAN_COURSE_ROOT to it (its nbgrader_config.py must be in the course folder: one in ~/.jupyter is not read)")
    if not (root / "nbgrader_config.py").is_file():  # GAN_COURSE_ROOT, taken as given: traitlets' traceback named no fix
        raise UserError(f"GAN_COURSE_ROOT is {root}, which holds no nbgrader_config.py; set it to the course folder (the one "
                        f"with nbgrader_config.py), or unset it and run the command in the course folder")
    _check_arguments(args)
    if args.results:
        _check_results_path(Path(args.results))
    what = "--merge" if args.merge else " ".join([args.assignment, *(["--shard", args.shard] if args.shard else []),
                                                  *(["--results", args.results] if args.results else [])])
    # a run into the gradebook, or a merge, holds the course; a run into a records file holds that file (shards run at once)
    lock = (root / COURSE_LOCK, None) if not args.results else (_results_lock(Path(args.results)), args.results)
    with shared_with_group(root), exclusive_run(*lock, what=what):
        return _run(args, root)


@contextlib.contextmanager
def shared_with_group(root: Path) -> Iterator[None]:
    """While the block runs, files and folders made get the group's permissions too, where the course folder `root`
    lets its group write (mode g+w, e.g. 2770: instructors who share a course through a group).

    An instructor with umask 077 (or 027) made autograded/ and each student's folder in it 0700 (or 0750): the other
    instructor's next autograde stopped ("the course folder .../autograded takes no new file"). The group's bits of the umask are cleared for
    the run (077 -> 007, 027 -> 007), as git's core.sharedRepository=group does; others' bits are kept. A course
    folder the group may not write keeps the user's umask."""
    import stat

    try:
        shared = bool(root.stat().st_mode & stat.S_IWGRP)
    except OSError:
        shared = False
    mask = os.umask(0o077)
    os.umask(mask)
    if not shared or not mask & 0o070:
        yield
        return
    os.umask(mask & ~0o070)
    try:
        yield
    finally:
        os.umask(mask)


def _run(args: argparse.Namespace, root: Path) -> int:
    """`run` once the course is found, the command line checked and the run's lock held."""
    from reference.grading.bridge import merge, read_records
    from reference.grading.runner import grade_many, load_checks, parse_shard, shard, write_results
    from reference.grading.sandbox import Limits

    from reference.grading.bridge import config_problem

    if problem := config_problem(root):  # what nbgrader would refuse when it records the grades, after grading everyone
        raise UserError(problem)
    from reference.grading.bridge import gradebook_problem

    if not args.results and (problem := gradebook_problem(root, args.assignment or "<id>")):  # found after grading everyone
        raise UserError(problem)
    if args.merge:
        records = read_records(args.merge)
        written = merge(records, root)
        print(f"merged {written} submission(s) into {root / 'gradebook.db'} and {root / 'autograded'}")
        _warn_unrecorded(root, records)
        return 0
    load_checks(args.assignment, root)  # a missing check module is refused before anything runs
    from reference.grading.sandbox import gpu_problem, sandbox_problem

    if not args.no_sandbox and (problem := sandbox_problem()):  # after the command's own mistakes, before anyone is graded
        raise UserError(problem)
    if args.gpu and (problem := gpu_problem()):  # CUDA code would fail in every sandbox: each student's fault, it seemed
        raise UserError(problem)
    overrides = {f.name: getattr(args, f.name) for f in fields(Limits)}
    configured = config_limits(root)
    limits = Limits.from_config(configured, **overrides)
    if overrides.get("cpus") is None and configured.get("cpus") is None:
        limits = replace(limits, cpus=shared_cpus(limits.cpus, args.jobs))
    from reference.grading.sandbox import free_space_problem, host_limit_problem
    from reference.grading.worker import shared_memory_problem

    if (problem := host_limit_problem(limits) or free_space_problem(limits, max(1, args.jobs or 1))
            or memory_problem(limits, args.jobs, _memory_source(args, configured)) or shared_memory_problem()):
        raise UserError(problem)
    skipped: list[str] = []
    everyone = _submissions(root, args.assignment, args.student, warn=not args.shard or parse_shard(args.shard)[0] == 1,
                            skipped=skipped)
    chosen = set(shard([s for s, _ in everyone], args.shard))
    subs = [(s, nb) for s, nb in everyone if s in chosen]
    resumed = _resumed(args.resume, args.assignment, subs) if args.resume and subs else []
    if resumed:
        done_before = {r["student"] for r in resumed}
        subs = [(s, nb) for s, nb in subs if s not in done_before]
        print(f"{len(resumed)} submission(s) graded before, kept from {args.resume}; grading the other {len(subs)}", flush=True)
    if not everyone:  # said first: a course without submitted/ was told only to run generate_assignment
        who = "<student>" if not args.student else args.student[0] if len(args.student) == 1 else "{" + ",".join(args.student) + "}"
        where = root / "submitted" / who / args.assignment / f"{args.assignment}.ipynb"
        raise UserError(f"no submissions to grade: none found at {where}"
                        + ("" if (root / "submitted").is_dir() else " (this course has no submitted/ folder: collect them first)"))
    if not args.results:
        _check_course_writable(root)
        from reference.grading.bridge import NOT_RECORDED, known_assignment

        if known_assignment(root, args.assignment) is False:  # found out after grading the class, before
            raise UserError(NOT_RECORDED.format(a=args.assignment, then="grade again"))
    if not subs and not resumed:  # more shards than students (an array sized for a larger class): nothing to do is no error
        write_results(Path(args.results), [])
        print(f"shard {args.shard} has no submissions ({len(everyone)} in all, fewer than the shards); wrote an empty {args.results}")
        return 0
    from reference.grading.runner import limits_problem_apart

    if subs and (problem := limits_problem_apart(args.assignment, root, limits, sandbox=not args.no_sandbox)):  # before anyone is graded
        raise UserError(problem)
    started = time.monotonic()
    bar = None
    if not args.no_progress and subs:
        from reference.progress import tqdm

        # on a terminal only: into a log (nohup, a scheduler, 2>&1 | tee) each student's line was glued to the bar's text,
        # which the line's printing erased with carriage returns a file keeps; there the students' lines are the progress
        bar = tqdm(total=len(subs), desc=f"grading {args.assignment}", unit="submission", disable=None)
    finished: list[dict] = []

    def progress(record: dict) -> None:
        finished.append(record)
        try:
            if bar is not None:
                bar.update(1)
                bar.write(_summary(record))
            else:
                print(_summary(record), flush=True)
        except OSError:  # a reader that quit (EPIPE), a terminal that closed (EIO), a full disk under a log (ENOSPC)
            _quiet_when_closed()

    try:
        records = grade_many(subs, args.assignment, root, jobs=args.jobs, limits=limits, sandbox=not args.no_sandbox,
                             gpu=args.gpu, progress=progress) if subs else []
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, a closed terminal: what was graded is kept, for --resume (cli._interrupted)
        if finished or resumed:
            if bar is not None:
                bar.close()
            where = Path(args.results).parent if args.results else root
            args.kept = (_keep(resumed + finished, args.assignment, where, args.shard), len(resumed) + len(finished),
                         len(resumed) + len(subs))
        raise
    records = resumed + records
    if bar is not None:
        bar.close()
    took = time.monotonic() - started
    if args.results:
        try:
            write_results(Path(args.results), records)
        except OSError as err:  # the path was writable when grading began: keep the grading all the same
            kept = _keep(records, args.assignment, root, args.shard)
            raise UserError(f"--results {args.results} could not be written ({err.strerror or type(err).__name__}); the grades "
                            f"are kept in {kept}: merge them with gan-course autograde --merge {shlex.quote(kept)}") from None
        print(f"graded {len(records) - len(resumed)} submission(s) in {took:.0f} s{_and_kept(resumed, args.resume)}; records in "
              f"{args.results} (merge with --merge)")
    else:
        try:
            merge(records, root)
        except (Exception, KeyboardInterrupt) as err:  # keep the grading, whatever stopped the merge: it can be merged once the cause is fixed
            kept = _keep(records, args.assignment, root)
            said = str(err) if isinstance(err, UserError) else f"the merge into nbgrader stopped ({type(err).__name__}: {str(err)[:200]})"
            raise UserError(f"{said} (the grades are kept in {kept}: merge them with gan-course autograde --merge {shlex.quote(kept)})") from None
        print(f"graded {len(records) - len(resumed)} submission(s) in {took:.0f} s{_and_kept(resumed, args.resume)} into "
              f"{root / 'gradebook.db'}")
    failed = [r for r in records if r.get("failed")]
    if failed:
        print(f"gan-course: warning: the grader failed on {len(failed)} submission(s): {', '.join(r['student'] for r in failed)}", file=sys.stderr)
    if skipped and (not args.shard or parse_shard(args.shard)[0] == 1):  # said last too: the warnings may have scrolled away
        shown = ", ".join(skipped[:20]) + (f" and {len(skipped) - 20} more" if len(skipped) > 20 else "")
        _warn(f"{len(skipped)} student folder(s) not graded and not recorded: {shown} (the warnings above say why)")
    return 0
