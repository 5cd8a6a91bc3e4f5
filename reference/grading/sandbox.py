"""The sandbox a submission runs in, and the supervisor that enforces its limits.

`Worker` starts `python -m reference.grading.worker` for one submission:

- inside bubblewrap (`bwrap`): new user, PID, IPC, UTS, cgroup and network namespaces (no network
  at all), `--die-with-parent`, `--new-session`, every capability dropped; a read-only view of the
  operating system's `/usr`, of the Python environment and of the course's public `reference`
  package (a copy in which the modules that answer the assignment are replaced by a stub that
  refuses to import), the course data read-only when `GAN_COURSE_DATA` is set, and one private
  writable scratch folder (`/grading`: the submission's files, its home, its temporary files and
  caches); the configuration folders those views bring (each environment's `etc/`, where Jupyter reads an
  instructor's nbgrader_config.py, and /usr/local/etc) empty; the kernel's settings (`/proc/sys`) read-only,
  for a grader that is root maps the sandbox's root to its own; what /proc shows of the whole host hidden (its timers, with every
  process's name and PID, and its keyrings) and its pressure triggers read-only; no pseudo-terminals (`/dev/ptmx`, `/dev/pts/ptmx`). Nothing else exists there: no `tests/`, no `solutions/`, no gradebook,
  no other submission, no instructor home (the course folder is an empty folder even where a bound
  Python environment holds it, as `python -m venv .` in the course folder would). `--gpu` adds the NVIDIA device files. Ending the sandbox
  kills its PID namespace's init, and so every process in it, whatever the sandbox did to the
  parent-death signal bwrap gave that init.
- with a seccomp filter (`reference.grading.seccomp`) that refuses the system calls whose kernel
  memory or per-user counts the supervisor cannot watch: System V semaphores and message queues,
  inotify and fanotify (and every call of a second ABI, such as 32-bit calls on x86-64).
- with `sandbox=False` (`gan-course autograde --no-sandbox`, for a machine without bubblewrap) as
  a plain process in its own session: the same limits, none of the isolation.

`sandbox_problem()` says whether this machine can make that sandbox at all (bwrap installed, and
allowed the user namespaces it needs): the grader asks before the first worker, and a host that
cannot is a `SandboxUnavailable` error for the instructor, never a 0 for every student.

Limits (`Limits`; defaults fit a2's and a4's grade-time training on 2 cores; settable in
nbgrader_config.py as `c.GanCourseGrading.<name> = ...` or by flag): wall time for the whole
submission, per check and per cell (a cell past it is interrupted as a kernel's interrupt would, and
the worker ended if it goes on `CELL_GRACE_S` later), CPU time and memory per process (the kernel's RLIMIT_CPU and
RLIMIT_DATA), processes in the sandbox, size of one file (RLIMIT_FSIZE, memfds included), disk used
in scratch, bytes printed. Besides: OPEN_FILES descriptors per process (RLIMIT_NOFILE), no real-time
or raised priority (RLIMIT_RTPRIO, RLIMIT_NICE), PENDING_SIGNALS queued signals (RLIMIT_SIGPENDING, a
count of the grader's user on the whole host), no POSIX message queues, at most INOTIFY_INSTANCES inotify instances and
PIPES pipes (per-user counts of the whole host's). Supervisor threads watch the sandbox and kill the whole of it at the
first limit they see exceeded, keeping the reason for the grader's message:

- processes and memory, ten times a second. Processes count with their threads, as the kernel's
  RLIMIT_NPROC counts them for a normal user (for root it counts none). Memory is everything
  the sandbox holds together: its processes' page tables (VmPTE: a read-only mapping, which neither
  RLIMIT_DATA nor a resident size counts, read once every 2 MB, makes 2 KB of them per MB), its
  processes' resident sizes (proportional ones above the limit, so pages shared after a fork count
  once), plus, looked at every half second, memory no process has resident: memfd files (found
  through each process's open descriptors and its mappings; pages of one that is also mapped may
  count twice; in the sandbox none can be made), the sandbox's own /dev/shm (a tmpfs of at most
  `memory_mb`, counted in full: its pages and a KB for each file, folder or link in it, which holds
  no page) and, for a root grader, the System V segments of the sandbox's own IPC namespace
  (entering it needs CAP_SYS_ADMIN; where the grader lacks it, the sandbox may make none). No other
  tmpfs can hold files: `/` and `/dev` are read-only, and the sandbox may not make user namespaces
  (in one it could mount a tmpfs of its own). Socket buffers of the sandbox's own network namespace
  count too: each unix socket (held or in flight) as much as its send buffer can hold (past the
  first 8), TCP and UDP ones 4 KB each (past the first 8) and twice what is queued in them, each
  open pipe what a pipe holds by default. Not counted: pipes in flight and what a pipe made larger holds beyond that
  (the kernel keeps those of one user within 16,384 pages, past which each pipe gets two), and, for
  a grader that is not root, a memfd mapped only in part after its descriptor was closed (its
  mapping's length counts). Each mapping counts MAPPING_BYTES, and the sandbox's processes may hold
  MAPPINGS of them together: one of a file opened for it and closed keeps a file of the host open.
- disk, every half second: everything below scratch, and the files there that were removed while a
  process keeps them open (found through the processes' descriptors by the memory look; O_TMPFILE
  files among them), each entry (folder, file, link, fifo) charged at least one 4 KiB block, so a hundred thousand empty folders weigh what they cost the
  host. The walk never follows a link, is a loop rather than a recursion (any depth), and stops as
  soon as the total passes the limit, so one walk looks at no more than `disk_mb` / 4 KiB entries.
  A folder it cannot measure (paths past the kernel's 4,096 bytes, permissions the student keeps
  taking away) stops the submission.
- the supervisor's own cost: after each look it rests at least nine times as long as the look took
  (a tenth of a core), so a huge tree or process table slows its looks down instead of making it
  spin. Only while the scratch filesystem loses more free space than the room the last walk left
  under the disk limit does the disk walk come sooner (at most half a core), so that a tree built
  to slow the walks down cannot hide fast writes.
- fail closed: a look that raises, for any reason, stops the sandbox with a reason the student
  reads, never a traceback and never a sandbox left running unwatched.

`remove_tree` removes scratch and staged folders whatever the student left there (trees deeper than
Python's recursion limit, paths past 4,096 bytes, folders chmod-ed to 000), without following links.
Each worker runs one thread and waits passively, so a worker never spins against its neighbours and
a grade does not depend on how many run at once.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import math
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from reference.errors import UserError
from reference.grading.checks import printable

__all__ = [
    "Limits", "SandboxUnavailable", "Unmeasurable", "Worker", "bwrap_available", "disk_usage", "free_space_problem",
    "host_limit_problem", "make_scratch", "remove_scratch", "remove_tree", "sandbox_problem", "stage_reference",
]

log = logging.getLogger(__name__)

MB = 2**20
PAGE = os.sysconf("SC_PAGE_SIZE")
BLOCK = 4096  # the least any entry in scratch is charged: one block (a folder's own size on ext4, xfs, tmpfs)
PROC = "/proc"  # a name, so that a test can show the supervisor an odd process table
LOOK_S = 0.1  # processes and memory
SLOW_LOOK_S = 0.5  # disk, memfds and /dev/shm
REST = 9  # after each look the supervisor rests REST times as long as it took: at most a tenth of a core
MAPS_BYTES = 64 * MB  # /proc/PID/maps one look at held memory reads, all processes together (a worker that
# imported torch: 0.2 MB; 64 processes mapping 65,000 files of 4 KB paths each made 15 GB, 40 s a look)
CPU_BURST_S = 2.0  # seconds of `cpus` cores a sandbox may use ahead of its average (a burst, then the pace)
TICK = os.sysconf("SC_CLK_TCK")  # /proc/PID/stat counts CPU time in these
CLONE_NEWIPC = 0x08000000
CAP_SYS_ADMIN = 21  # its bit in /proc/self/status's CapEff
INOTIFY_INSTANCES = 8  # inotify instances the sandbox may hold: the kernel allows each user 128 in all
# (fs.inotify.max_user_instances), counted for the grader's user (root, for a grader that is root) across the
# whole host, so a submission holding them stopped every other program of that user from watching files
PIPES = 128  # pipes the sandbox may hold: the kernel gives each user 16,384 pages of pipe buffers across the whole host
# (fs.pipe-user-pages-soft), past which every new pipe of that user holds two pages instead of 16; a sandbox holding 1,100
# empty pipes made each classmate's new pipes hold 8 KB instead of 64 KB (and, where fs.pipe-user-pages-hard is set, no
# pipe at all). A DataLoader with 8 workers holds about 30
PENDING_SIGNALS = 1024  # signals queued in the sandbox (RLIMIT_SIGPENDING)
OPEN_FILES = 4096  # descriptors per process (RLIMIT_NOFILE, soft and hard): each holds kernel memory no process
# has resident (an eventfd, an epoll, a timerfd: about half a KB), and a host's hard limit may be 1,048,576
# the worker, started with the folder it runs in (the submission's files) off sys.path until the course's own
# `reference` is imported: `python -m` put that folder first, so a submission that brought a folder named
# reference/ ran its own copy of the worker and imported the modules the assignment masks from it
WORKER_START = "import sys; del sys.path[0]; import runpy; runpy.run_module('reference.grading.worker', run_name='__main__', alter_sys=True)"
SHM_INODE_BYTES = 1024  # what tmpfs charges each inode (BOGO_INODE_SIZE), a file's extended attributes since 6.6 too
SHARED_MEMORY = ("/memfd:",)  # what an open descriptor or a mapping of held memory is named; /dev/shm is
# counted as a whole inside the sandbox (its own tmpfs), file by file without it


def _unix_socket_bytes() -> int:
    """The most one unix socket's send buffer can hold: twice net.core.wmem_max (setsockopt doubles
    what it is given), what a filled socket pair keeps in the kernel."""
    try:
        with open("/proc/sys/net/core/wmem_max") as fh:
            return 2 * int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 8 * MB


UNIX_SOCKET_BYTES = _unix_socket_bytes()
UNIX_SOCKETS_FREE = 8  # honest code holds a few (a DataLoader's workers, multiprocessing): on a host whose
# wmem_max is large (256 MB a socket where it is tuned for fast networks) counting them would stop it
IP_SOCKET_BYTES = 4096  # what an idle TCP or UDP socket holds in the kernel (a connection waiting in a listener's
# queue, its client's side closed: 188,416 of them took 751 MB in 41 s, nothing queued in any, no descriptor held)
PIPE_BYTES = 16 * PAGE  # what a pipe holds by default (16 buffers of a page)
MAPPING_BYTES = 512  # kernel memory of one mapping of a file opened for it alone (measured: about 450 bytes of slab)
MAPPINGS = 131_072  # mappings the sandbox's processes may hold together (a worker that imported torch has about 930, so 64
# such processes 60,000): a mapping of a file opened for it and closed keeps an open file of the host's table with no
# descriptor, and below the 64 MB of /proc/PID/maps a look reads (MAPS_BYTES) one sandbox could hold 745,000 of a 24 GB host's
# 2.47 million (fs.file-max), where its descriptors (OPEN_FILES a process) reach 262,144
VENV_PARTS = ("bin", "lib", "lib64", "include", "share", "pyvenv.cfg")  # what Python needs of a virtual environment
HOST_PROC_FILES = ("/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/keys", "/proc/key-users", "/proc/latency_stats",
                   "/proc/kcore", "/proc/slabinfo", "/proc/vmallocinfo")
HOST_PROC_FOLDERS = ("/proc/pressure", "/proc/fs", "/proc/acpi", "/proc/scsi")  # not /proc/driver: --gpu binds its nvidia entries
SIGNALS = {
    signal.SIGXCPU: "it used up its CPU-time limit",
    signal.SIGXFSZ: "it wrote a file over the file-size limit",
    signal.SIGKILL: "it was killed",
    signal.SIGSEGV: "it crashed (segmentation fault)",
    signal.SIGABRT: "it aborted",
}


@dataclass
class Limits:
    """What one submission may use. Sizes in MiB, times in seconds."""

    wall_s: float = 900.0  # the whole submission: its cells and every check
    check_s: float = 300.0  # one check (the worker is restarted for the next one if it runs over)
    cell_s: float = 300.0  # one notebook cell: interrupted past it, as a kernel's interrupt; the next cells still run
    cpu_s: int = 1800  # CPU time of each process
    cpus: float = 2.0  # CPU cores all its processes use together, on average (paused past that)
    memory_mb: int = 3072  # each process's data (RLIMIT_DATA), and all its processes' resident memory together
    processes: int = 64
    file_mb: int = 100  # one file
    disk_mb: int = 500  # everything written in scratch
    output_mb: int = 10  # everything printed

    def describe(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))

    @classmethod
    def from_config(cls, config: dict, **overrides) -> "Limits":
        """Limits from `c.GanCourseGrading.<name>` values of nbgrader_config.py, then `overrides`.
        A name that is no limit (c.GanCourseGrading.memory_MB) is refused: left unread, it would
        grade the class under the default it was written to change."""
        cls.refuse_unknown(config)
        values = {}
        for f in fields(cls):
            for source in (config, overrides):
                if source.get(f.name) is not None:
                    value = source[f.name]
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < math.inf:
                        raise UserError(f"grading limit {f.name} = {value!r}: give a positive number")  # nan, inf: no limit
                    values[f.name] = type(f.default)(value)
        return cls(**values)


    @classmethod
    def refuse_unknown(cls, config: dict) -> None:
        """UserError naming the first key of `config` that is no limit, and the limit it may mean."""
        import difflib

        names = [f.name for f in fields(cls)]
        for key in config:
            if key not in names:
                near = difflib.get_close_matches(str(key).lower(), names, n=1, cutoff=0.6)
                hint = f"did you mean {near[0]}? " if near else ""
                raise UserError(f"nbgrader_config.py sets c.GanCourseGrading.{printable(str(key), mark='?')}, which is no grading limit; "
                                f"{hint}the limits are {', '.join(names)}")


def bwrap_available() -> str | None:
    """The bwrap executable, or None."""
    return shutil.which("bwrap")


BWRAP_MISSING = (
    "bubblewrap (bwrap) is not installed, so submissions cannot be sandboxed; install it "
    "(Debian/Ubuntu: sudo apt-get install bubblewrap) or pass --no-sandbox only for submissions you trust"
)
BWRAP_REFUSED = (
    "bubblewrap cannot make a sandbox on this machine ({said}), so no submission can be graded in one; "
    "allow unprivileged user namespaces (Ubuntu 23.10+: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0; "
    "elsewhere: sudo sysctl user.max_user_namespaces=15000; in a container: start it with user namespaces allowed) "
    "or grade as root, or pass --no-sandbox only for submissions you trust"
)


class SandboxUnavailable(UserError):
    """This machine cannot sandbox any submission: a fault of the grading host, never of a student.
    Grading stops with this one-line message instead of scoring every submission 0."""


def sandbox_problem() -> str | None:
    """None when bubblewrap can start Python in the sandbox a worker gets (the same namespaces and
    mounts), else why not, as one line naming the fix. Tried once per bwrap executable and process
    (about 0.1 s): bwrap may be installed on a host whose kernel, AppArmor or container refuses the
    unprivileged user namespaces it needs, and then every worker would die before its first cell."""
    bwrap = bwrap_available()
    return BWRAP_MISSING if bwrap is None else _sandbox_problem(bwrap)


# (resource, the limit asked for it from Limits, what it is, its flag, its field, ulimit's letter, ulimit's unit in bytes)
HOST_LIMITS = (
    (resource.RLIMIT_CPU, lambda limits: limits.cpu_s + 5, "CPU time", "--cpu-s", "cpu_s", "t", None),
    (resource.RLIMIT_DATA, lambda limits: limits.memory_mb * MB, "memory", "--memory-mb", "memory_mb", "d", 1024),
    (resource.RLIMIT_FSIZE, lambda limits: limits.file_mb * MB, "file size", "--file-mb", "file_mb", "f", 1024),
    (resource.RLIMIT_NPROC, lambda limits: limits.processes, "processes", "--processes", "processes", "u", None),
)


def host_limit_problem(limits: "Limits") -> str | None:
    """Why this grader cannot give a submission `limits` (one line naming the fix), or None: a hard limit
    of the grader's own below one of them (Slurm passes the submitting shell's on; login nodes cap CPU
    time) cannot be raised by a grader that is not root, and each worker then failed to start, so every
    submission scored 0, recorded in the gradebook."""
    if os.geteuid() == 0:  # root raises hard limits
        return None
    for which, asked, what, flag, name, letter, unit in HOST_LIMITS:
        hard = resource.getrlimit(which)[1]
        need = asked(limits)
        if hard != resource.RLIM_INFINITY and hard < need:
            fits = {"cpu_s": max(1, hard - 5), "memory_mb": hard // MB, "file_mb": hard // MB, "processes": hard}[name]
            shown = f"{hard // unit:,}" if unit else f"{hard:,}"
            return (f"this shell's hard limit on {what} (ulimit -H{letter}: {shown}) is below the grading limit {flag} "
                    f"{getattr(limits, name):,}; grade with {flag} {fits:,} (or c.GanCourseGrading.{name} in nbgrader_config.py), "
                    f"or raise the hard limit first")
    return None


def free_space_problem(limits: "Limits", jobs: int) -> str | None:
    """Why the temporary folder cannot hold what `jobs` submissions graded at once may write (each up to
    `disk_mb`, and a copy of the course's package), one line naming the fix; or None. A full /tmp made a
    correct submission's own writes fail, and it scored 0 for the host's lack of room."""
    folder = tempfile.gettempdir()
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    need = jobs * (limits.disk_mb + STAGING_MB) * MB
    if free >= need:
        return None
    return (f"the temporary folder {folder} has {free // MB:,} MB free, less than the {need // MB:,} MB that {jobs} "
            f"submission(s) graded at once may write there (--disk-mb {limits.disk_mb:,} each, and a copy of the course's "
            f"package); point TMPDIR at a folder with more room, or lower --disk-mb or --jobs")


STAGING_MB = 64  # room for one submission's copy of the reference package and its scratch folders


@functools.lru_cache(maxsize=None)
def _sandbox_problem(bwrap: str) -> str | None:
    with tempfile.TemporaryDirectory(prefix="gan-course-sandbox-probe-") as folder:
        scratch = Path(folder)
        for sub in ("work", "tmp"):
            (scratch / sub).mkdir()
        command = bwrap_command(bwrap, scratch, None, False, {}) + [sys.executable, "-S", "-c", "pass"]
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return BWRAP_REFUSED.format(said=_said(f"{type(err).__name__}: {err}"))
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return BWRAP_REFUSED.format(said=_said(lines[-1] if lines else f"it exited with status {done.returncode}"))


def _said(text: str) -> str:
    """What bwrap said, on one line and cut at a word (its own advice, such as Debian's
    'sysctl kernel.unprivileged_userns_clone=1', runs past 200 characters)."""
    return textwrap.shorten(text, width=300, placeholder=" ...")

STUB = '''raise ImportError(
    "{module} is not available while this assignment is graded: it holds what the assignment asks you "
    "to write; write it yourself in the notebook"
)
'''


def reference_dir() -> Path:
    import reference

    return Path(reference.__file__).resolve().parent


def stage_reference(into: Path, masked: tuple[str, ...] = ()) -> Path:
    """A copy of the `reference` package in `into`/reference, without caches and without the check modules
    (reference/checks/, an empty package there), with each module in `masked` ("reference.losses") replaced by
    a stub whose import fails with a message."""
    target = into / "reference"
    shutil.copytree(reference_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # the visible checks stay with the grader, which runs them: their code computes the answers they compare with
    # (a1's D*, C(G) and JSD), and a submission that stubs a masked module in sys.modules could import them
    shutil.rmtree(target / "checks", ignore_errors=True)
    (target / "checks").mkdir()
    (target / "checks" / "__init__.py").write_text('"""Not in a graded submission\'s copy of the course: the grader runs the checks."""\n')
    for module in masked:
        parts = module.split(".")
        if parts[0] != "reference":
            raise ValueError(f"only modules of the reference package can be masked, not {module}")
        path = into.joinpath(*parts)
        stub = STUB.format(module=module)
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir()
            (path / "__init__.py").write_text(stub)
        else:
            path.with_suffix(".py").write_text(stub)
    for folder, dirs, files in os.walk(into):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return target


def _system_binds() -> list[str]:
    args: list[str] = []
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def active_user_base() -> str | None:
    """The grader's user base (its real path) where Python's user site is on the grader's sys.path: a venv made
    with --system-site-packages, or no venv, beside packages of `pip install --user` (torch among them, maybe).
    `_python_binds` binds that site read-only, and the worker is given the same base, or its imports would
    fail where the grader's succeed. None where the grader uses no user site."""
    import site

    if not site.ENABLE_USER_SITE:
        return None
    user_site = os.path.realpath(site.getusersitepackages())
    if not os.path.isdir(user_site) or user_site not in {os.path.realpath(p) for p in sys.path if p}:
        return None
    return os.path.realpath(site.getuserbase())


def _python_binds() -> list[str]:
    """The Python installation and the virtual environment, read-only, at their own paths."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    exe = Path(sys.executable)
    paths.add(str(exe.parent))
    paths.add(str(exe.resolve().parent.parent))
    prefixes = [os.path.realpath(p) for p in paths]
    for entry in sys.path:  # site folders outside the prefixes (a user site), never the course itself
        real = os.path.realpath(entry) if entry else ""
        if real and os.path.isdir(real) and "site-packages" in real and not any(real.startswith(p + os.sep) for p in prefixes):
            paths.add(real)
    args: list[str] = []
    for path in sorted(paths):
        if path.startswith("/usr/") or path == "/usr":
            continue
        args += ["--ro-bind", path, path]
        real = os.path.realpath(path)
        if real != path:
            args += ["--ro-bind", real, real]
    return args


def gpu_devices(dev: str = "/dev") -> list[str]:
    """The NVIDIA device files `--gpu` binds into the sandbox: /dev/nvidia0 (one per GPU), /dev/nvidiactl,
    /dev/nvidia-uvm, /dev/nvidia-caps/, ... (sorted); none on a machine without the NVIDIA driver."""
    try:
        names = sorted(os.listdir(dev))
    except OSError:
        return []
    return [os.path.join(dev, name) for name in names if name.startswith("nvidia")]


def gpu_problem(dev: str = "/dev") -> str | None:
    """Why `--gpu` could give a submission no GPU on this machine (one line), else None: no GPU's device
    file (/dev/nvidia0, /dev/nvidia1, ...), so the sandbox would show none and CUDA code would fail there."""
    if any(os.path.basename(path).removeprefix("nvidia").isdigit() for path in gpu_devices(dev)):
        return None
    return (f"--gpu: this machine shows no NVIDIA GPU (no {dev.rstrip('/')}/nvidia0 device file); grade without --gpu, "
            "or on a machine with an NVIDIA GPU and its driver")


def _gpu_binds(dev: str = "/dev") -> list[str]:
    args = []
    for path in gpu_devices(dev):
        args += ["--dev-bind", path, path]
    for path in ("/proc/driver/nvidia", "/sys/module/nvidia", "/sys/bus/pci", "/sys/devices"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


@functools.lru_cache(maxsize=None)
def _bwrap_options(bwrap: str) -> frozenset[str]:
    """The options this bwrap knows (--size came in 0.5, --disable-userns in 0.8)."""
    try:
        done = subprocess.run([bwrap, "--help"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    return frozenset(word for word in text.split() if word.startswith("--"))


@functools.lru_cache(maxsize=None)
def _no_userns(bwrap: str) -> tuple[str, ...]:
    """The options that forbid the sandbox user namespaces of its own, where this bwrap has them and
    this host lets it use them (a setuid bwrap on a host without unprivileged user namespaces may
    not), else none: a sandbox without them beats none at all."""
    if "--disable-userns" not in _bwrap_options(bwrap):
        return ()
    options = ("--unshare-user", "--disable-userns")
    try:
        done = subprocess.run(
            [bwrap, "--unshare-all", *options, "--ro-bind", "/", "/", "true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return options if done.returncode == 0 else ()


def _hidden_below(binds: list[str], hidden: tuple[str | os.PathLike, ...]) -> list[str]:
    """The paths of `hidden` (the course folder) that a folder bound by `binds` holds: a virtual
    environment made in the course folder itself (`python -m venv .`) binds the whole course, hidden
    checks, model answers, gradebook and classmates' submissions, into the sandbox."""
    sources = [binds[i + 1] for i, arg in enumerate(binds[:-1]) if arg in ("--ro-bind", "--bind", "--dev-bind")]
    found = []
    for path in hidden:
        real = os.path.realpath(path)
        if real != "/" and any(real == os.path.realpath(src) or real.startswith(os.path.realpath(src).rstrip("/") + "/") for src in sources):
            found.append(real)
    return found


def _config_folders(binds: list[str]) -> list[str]:
    """The configuration folders below what `binds` binds that a sandbox shows empty: `etc` of each bound Python
    environment (sys.prefix/etc, where Jupyter and nbgrader read their configuration) and /usr/local/etc."""
    sources = [binds[i + 1] for i, arg in enumerate(binds[:-1]) if arg in ("--ro-bind", "--bind")]
    found = []
    for prefix in sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}) + ["/usr/local"]:
        for folder in dict.fromkeys((os.path.join(prefix, "etc"), os.path.join(os.path.realpath(prefix), "etc"))):
            bound = any(folder == src or folder.startswith(src.rstrip("/") + "/") for src in sources)
            if bound and os.path.isdir(folder) and not os.path.islink(folder) and folder not in found:
                found.append(folder)
    return found


SCRATCH_FOLDERS = ("work", "home", "tmp", "cache")  # made in each submission's scratch folder before its worker starts


def own_folder(path: Path) -> None:
    """Make `path` a real folder of its parent, whatever the last worker left there: a link (to anywhere on the
    host: a bind would follow it) or a file is removed first. Nothing below a link is ever followed."""
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise OSError(f"{path} is not a folder of the scratch folder")


def bwrap_command(
    bwrap: str, scratch: Path, staged: Path | None, gpu: bool, env: dict[str, str], *, shm_mb: int = 64,
    hidden: tuple[str | os.PathLike, ...] = (), seccomp_fd: int | None = None,
) -> list[str]:
    """The bwrap command line (up to and including "--") of the sandbox around one worker: `scratch`
    (with `work/` and `tmp/`) as /grading, `staged` in place of the real `reference`, `env` the
    whole environment inside, a /dev/shm of `shm_mb` (where this bwrap can size a tmpfs; the
    supervisor counts its use as memory either way), `/` and `/dev` read-only, and no further user
    namespaces where this bwrap can forbid them (one would let the sandbox mount a tmpfs of its own);
    `seccomp_fd`, a descriptor holding `reference.grading.seccomp.program()`, the system calls refused there."""
    options = _bwrap_options(bwrap)
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "grading"]
    args += _no_userns(bwrap)
    if seccomp_fd is not None and "--seccomp" in options:
        args += ["--seccomp", str(seccomp_fd)]
    # scratch and /tmp first: the environment may live below /tmp, and a later mount would hide it
    # work/ is a mount point of its own, so the worker cannot rename it or put a link in its place: the
    # grader reads and writes below scratch/work, and must never be led out of it
    # tmp/ too: bound at /tmp and at /grading/tmp, so that it cannot be renamed and a link put in its place, which a
    # restarted worker's bind would follow out of scratch (the folders are checked on the host too: `own_folder`)
    args += ["--bind", str(scratch), "/grading", "--bind", str(scratch / "work"), "/grading/work",
             "--bind", str(scratch / "tmp"), "/grading/tmp", "--bind", str(scratch / "tmp"), "/tmp"]
    binds = _system_binds() + _python_binds()
    if "GAN_COURSE_DATA" in env:  # among the binds the course is hidden below: a data root that holds the course folder
        # (GAN_COURSE_DATA=/srv/gan with the course in /srv/gan/course) showed the sandbox its hidden checks and answers
        binds += ["--ro-bind", env["GAN_COURSE_DATA"], env["GAN_COURSE_DATA"]]
    args += binds
    covered = _hidden_below(binds, hidden)
    sources = [binds[i + 1] for i, arg in enumerate(binds[:-1]) if arg == "--ro-bind"]
    for path in covered:  # an empty, read-only folder in its place, with what Python needs of it bound again
        args += ["--tmpfs", path]
        for src in sources:
            real = os.path.realpath(src)
            if real.startswith(path + "/"):  # e.g. the virtual environment's bin/ (bound on its own)
                args += ["--ro-bind", src, src]
            elif real == path:  # the environment is the course folder itself: only its own parts
                args += [arg for part in VENV_PARTS if os.path.lexists(os.path.join(src, part))
                         for arg in ("--ro-bind", os.path.join(src, part), os.path.join(src, part))]
    # configuration folders that /usr and the Python environments bring with them, empty (their programs run without
    # them): Jupyter reads {sys.prefix}/etc/jupyter and /usr/local/etc/jupyter, where an instructor's nbgrader_config.py
    # may name the gradebook's database with its password, and a cell could print it into its feedback (a cell listed
    # the environment's etc/jupyter)
    hidden_config = _config_folders(binds)
    for path in hidden_config:
        args += ["--tmpfs", path]
    if staged is not None:
        args += ["--ro-bind", str(staged), str(reference_dir())]
    # the kernel's global settings read-only: bwrap 0.8 leaves /proc/sys writable, and a grader that is root
    # maps the sandbox's root to the host's, which may then write kernel.core_pattern (a program the kernel runs
    # as root at the next crash), vm.drop_caches, kernel.pid_max...: the whole host, not a sandbox
    args += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger"]
    # what /proc shows of the whole host, as container runtimes hide it: every timer of the host (other processes'
    # names and PIDs, the classmates' graded beside it among them), its keyrings, the kernel's allocations as
    # the gradings beside it make them (slabinfo, vmallocinfo); and pressure triggers, which
    # a grader that is root would let the sandbox create on the host's account
    for path in HOST_PROC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    for path in HOST_PROC_FOLDERS:
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    # no pseudo-terminals: each one counts against the kernel's global pty.max, shared with every other sandbox,
    # container and login of the host (nothing graded needs a terminal). /dev/ptmx is a link to pts/ptmx there,
    # and bubblewrap 0.11 and later refuse to mount onto a link ("Can't mount on symlink destination"): every
    # sandbox failed to start, so its target is covered
    args += ["--dev", "/dev", "--ro-bind", "/dev/null", "/dev/pts/ptmx"]
    args += (["--size", str(shm_mb * MB)] if "--size" in options else []) + ["--tmpfs", "/dev/shm"]
    if gpu:
        args += _gpu_binds()
    # last: the mounts above need their mount points made in / and /dev
    for path in covered + hidden_config:
        args += ["--remount-ro", path]
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/grading/work", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--"]


class Worker:
    """One running worker for one submission: its process, its pipes and its supervisor.

    scratch: the submission's private folder (files in `work/`, home in `home/`). staged: the
    staged `reference` copy (`stage_reference`) to show in place of the real package. masked: the
    modules that copy leaves out; without the sandbox an import hook in the worker refuses them.
    """

    def __init__(
        self,
        scratch: Path,
        limits: Limits,
        *,
        deadline: float,
        staged: Path | None = None,
        masked: tuple[str, ...] = (),
        sandbox: bool = True,
        gpu: bool = False,
        hidden: tuple[str | os.PathLike, ...] = (),
    ) -> None:
        self.scratch, self.limits, self.deadline, self.sandboxed = scratch, limits, deadline, sandbox
        self.hidden = hidden  # folders the sandbox must not see even inside a bound one (the course folder)
        self.reason: str | None = None  # the limit that ended the worker, once one did
        self.time_limit = f"it ran past the submission's wall-time limit ({limits.wall_s:g} s)"  # set by the runner
        self.output_bytes = 0
        self.tail = b""  # the last bytes printed, to say why a worker that could not start ended
        self.quote_tail = True  # off once checks run: what the student's code prints then may be a hidden check's inputs
        self._cpu_seen: dict[int, tuple[float, float]] = {}  # pid: (its own CPU seconds, its waited-for children's)
        self._cpu_credit = limits.cpus * CPU_BURST_S  # CPU seconds it may still use now
        self._started: dict[int, bytes] = {}  # pid: its start time when last seen (`_signal` checks who it is)
        self._cpu_at = time.monotonic()
        self._paused_until: float | None = None
        self._pause_s = 0.0
        self._init: tuple[int, bytes] | None = None  # the sandbox's PID-namespace init: (pid, its start time)
        self.paused_s = 0.0  # wall time the sandbox spent paused for using more than its cores
        self.tasks = self.watchers = self.pipes = 0  # its threads, inotify instances and pipes at the last look (`_tree`, `_held_bytes`)
        self.unlinked_bytes = 0  # files in scratch removed while still open, at the last look (`_held_bytes`): disk used
        self.held_bytes = 0  # memory no process has resident, at the last look (`_watch_held`)
        self._pids: list[int] = []  # the sandbox's processes at the last look (`_watch`), for `_watch_held`
        self.scratch_dev = os.stat(scratch).st_dev
        for sub in SCRATCH_FOLDERS:
            own_folder(scratch / sub)
        env = self._environment(sandbox, gpu)
        if not sandbox and masked:
            env["GAN_COURSE_GRADING_MASKED"] = ",".join(masked)
        command = [sys.executable, "-c", WORKER_START]
        seccomp_fd = _seccomp_descriptor(sysv_shm=gpu or can_count_sysv_shm()) if sandbox else None
        try:
            if sandbox:
                command = self._bwrap(staged, gpu, env, seccomp_fd) + command
                env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=scratch / "work",
                env=env,
                preexec_fn=self._limit_process,
                start_new_session=True,
                pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
            )
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        self.fd_out, self.fd_in = self.process.stdin.fileno(), self.process.stdout.fileno()
        self._stop = threading.Event()
        self._in_ipc = False  # whether the held-memory look's thread has entered the sandbox's IPC namespace
        self._threads = [
            threading.Thread(target=self._supervise(self._watch), daemon=True),
            threading.Thread(target=self._supervise(self._watch_held), daemon=True),  # enters the IPC namespace (_sysv_bytes)
            threading.Thread(target=self._supervise(self._watch_disk), daemon=True),
            threading.Thread(target=self._drain, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------------------ setup
    def _environment(self, sandbox: bool, gpu: bool) -> dict[str, str]:
        base = "/grading" if sandbox else str(self.scratch)
        env = {
            "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": f"{base}/home",
            "TMPDIR": f"{base}/tmp",
            "XDG_CACHE_HOME": f"{base}/cache",
            "GAN_COURSE_CACHE": f"{base}/cache/gan-course",
            "MPLCONFIGDIR": f"{base}/cache/matplotlib",
            "LANG": "C.UTF-8",
            "USER": "student",
            "NBGRADER_EXECUTION": "autograde",
            "MPLBACKEND": "Agg",
            "TQDM_DISABLE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PYTHONNOUSERSITE": "1",
            "GAN_COURSE_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "OMP_WAIT_POLICY": "PASSIVE",
            "GAN_COURSE_GRADING_NPROC": str(self.limits.processes),
        }
        if sandbox:  # the staged package is bound at reference_dir(): found there even where the course is
            env["PYTHONPATH"] = str(reference_dir().parent)  # used through PYTHONPATH, not installed with pip
        user_base = active_user_base()
        if user_base is not None:  # the grader imports packages from its user site: so does the worker (bound read-only)
            del env["PYTHONNOUSERSITE"]
            env["PYTHONUSERBASE"] = user_base
        data = os.environ.get("GAN_COURSE_DATA")
        if data and os.path.isdir(data):
            env["GAN_COURSE_DATA"] = os.path.realpath(data)
        if not gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""
        elif os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        return env

    def _bwrap(self, staged: Path | None, gpu: bool, env: dict[str, str], seccomp_fd: int | None = None) -> list[str]:
        bwrap = bwrap_available()
        if bwrap is None:
            raise SandboxUnavailable(BWRAP_MISSING)
        return bwrap_command(bwrap, self.scratch, staged, gpu, env, shm_mb=self.limits.memory_mb, hidden=self.hidden,
                             seccomp_fd=seccomp_fd)

    def _limit_process(self) -> None:  # runs in the child before exec
        limits = self.limits
        _lower_limit(resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 5)
        _lower_limit(resource.RLIMIT_DATA, limits.memory_mb * MB, limits.memory_mb * MB)
        _lower_limit(resource.RLIMIT_FSIZE, limits.file_mb * MB, limits.file_mb * MB)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # no real-time scheduling, no priority above the grader's: a host that grants a real-time priority
        # (limits.conf's rtprio, for audio) would let a SCHED_FIFO loop starve everything on its core, the
        # supervisor that would pause it among them
        resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
        resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
        # signals queued and POSIX message queues count against the grader's user on the whole host: a cell
        # that queued 96,360 blocked real-time signals left the host's root none to queue while it ran
        _lower_limit(resource.RLIMIT_SIGPENDING, PENDING_SIGNALS, PENDING_SIGNALS)
        _lower_limit(resource.RLIMIT_MSGQUEUE, 0, 0)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        hard = OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES)
        soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    # ------------------------------------------------------------------------------ supervision
    def _tree(self, most: int) -> list[int]:
        """The worker's processes: bwrap and every descendant, or the first `most` + 1 of them found
        (enough to know the process limit is passed). Odd or vanishing /proc entries are skipped.
        `self.tasks` is then the threads of those found (each process's own thread among them): the
        kernel's RLIMIT_NPROC counts threads as processes, but not for a grader that is root, where one
        process of small stacks could start tens of thousands and take every PID of the host."""
        found, todo = [], [self.process.pid]
        self.tasks = 0
        while todo and len(found) <= most:
            pid = todo.pop()
            found.append(pid)
            try:
                tasks = os.listdir(f"{PROC}/{pid}/task")
                self.tasks += len(tasks)
                for task in tasks:
                    with open(f"{PROC}/{pid}/task/{task}/children") as fh:
                        todo.extend(int(child) for child in fh.read().split() if child.isdigit())
            except (OSError, ValueError):
                continue
        return found

    def _resident_bytes(self, pids: list[int], room: int) -> int:
        """Memory of these processes together: proportional set sizes, so that pages shared after a
        fork (DataLoader workers, subprocesses) count once, not once per process.

        The resident sizes (/proc/PID/statm, a few microseconds) come first: they are never below
        the proportional ones, so while their sum is within `room` that is the answer. Only above it
        are the proportional sizes read (/proc/PID/smaps_rollup walks the process's page tables:
        about 13 ms for a process that imported torch, 13% of a core at ten looks a second).
        """
        resident = 0
        for pid in pids:
            try:
                with open(f"{PROC}/{pid}/statm") as fh:
                    resident += int(fh.read().split()[1]) * PAGE
            except (OSError, IndexError, ValueError):
                continue
        if resident <= room:
            return resident
        total = 0
        for pid in pids:
            try:
                with open(f"{PROC}/{pid}/smaps_rollup") as fh:
                    for line in fh:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except (OSError, IndexError, ValueError):
                continue
        return total

    def _page_table_bytes(self, pids: list[int]) -> int:
        """The kernel's page tables of these processes (VmPTE), which no resident size counts: a read-only
        mapping (not counted by RLIMIT_DATA either) of 64 GB read once every 2 MB made 128 MB of them in
        a tenth of a second, and the 128 TB of a process's address space would make 256 GB."""
        total = 0
        for pid in pids:
            try:
                with open(f"{PROC}/{pid}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"VmPTE:"):
                            total += int(line.split()[1]) * 1024
                            break
            except (OSError, IndexError, ValueError):
                continue
        return total

    def _held_bytes(self, pids: list[int]) -> int:
        """Memory the sandbox holds that no process has resident: memfd files, whether a process
        keeps a descriptor (/proc/PID/fd) or only a mapping (/proc/PID/maps) of one, each file once;
        and the sandbox's /dev/shm as a whole (files there are memory too, open or not). Without the
        sandbox, /dev/shm is the host's: its files count one by one, like memfds. Each open pipe counts
        as much as a pipe holds by default (PIPE_BYTES): a process may keep 20,000 descriptors, and
        pipes filled and never read held gigabytes in the kernel (a pipe made larger counts only as
        that; the kernel keeps all pipes of a user beyond 16,384 pages at two pages each). Each mapping counts
        MAPPING_BYTES (its kernel structures, and for a file opened for it and closed an open file of the host)."""
        names = SHARED_MEMORY if self.sandboxed else SHARED_MEMORY + ("/dev/shm/",)
        marks = tuple(name.encode() for name in names)
        seen: set[tuple[int, int]] = set()
        pipes: set[str] = set()
        total = unlinked = mappings = 0
        budget = MAPS_BYTES
        self.watchers = 0
        for pid in pids:
            base = f"{PROC}/{pid}"
            try:
                descriptors = os.listdir(f"{base}/fd")
            except OSError:
                descriptors = []
            for fd in descriptors:
                link = f"{base}/fd/{fd}"
                try:
                    target = os.readlink(link)
                    if target == "anon_inode:inotify":  # one of the user's INOTIFY_INSTANCES (each descriptor counted)
                        self.watchers += 1
                        continue
                    if target.startswith("pipe:["):  # its buffer, each pipe once (both ends show one inode)
                        if target not in pipes:
                            pipes.add(target)
                            total += PIPE_BYTES
                        continue
                    if target.endswith(" (deleted)") and not target.startswith(names):  # removed, still open
                        info = os.stat(link)
                        if (stat.S_ISREG(info.st_mode) and info.st_nlink == 0 and info.st_dev == self.scratch_dev
                                and (info.st_dev, info.st_ino) not in seen):
                            seen.add((info.st_dev, info.st_ino))
                            unlinked += info.st_blocks * 512
                        continue
                    if not target.startswith(names):
                        continue
                    info = os.stat(link)
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
            try:
                with open(f"{base}/maps", "rb") as fh:
                    maps = fh.read(budget + 1)
            except OSError:
                continue
            budget -= len(maps)
            if budget < 0:
                self.kill(f"its processes mapped more files into memory than the grader can check (over {MAPS_BYTES // MB} MB "
                          f"of /proc/PID/maps, the list of mappings): map fewer files")
                return total
            # each mapping is kernel memory no process has resident (its vm_area_struct and, for a file opened anew for it
            # and closed, an open file of the host's table): 720,000 mappings of one page of a file, each from its own
            # open(), held 320 MB of unreclaimable kernel memory past every count, and 720,000 of a 24 GB host's 2.47
            # million open files (fs.file-max), with no descriptor open
            mappings += maps.count(b"\n")
            total += maps.count(b"\n") * MAPPING_BYTES
            if mappings > MAPPINGS:
                self.kill(f"its processes held more than {MAPPINGS:,} memory mappings together (mmap), each of which can keep a "
                          f"file open on the grading host: map fewer files, and close each mmap once it is read")
                return total
            if not any(mark in maps for mark in marks):
                continue
            for line in maps.splitlines():
                fields = line.split(None, 5)
                if len(fields) < 6 or not fields[5].startswith(marks):
                    continue
                try:
                    major, minor = (int(part, 16) for part in fields[3].split(b":"))
                    key = (os.makedev(major, minor), int(fields[4]))
                    start, end = (int(part, 16) for part in fields[0].split(b"-"))
                except ValueError:
                    continue
                if key in seen:
                    continue
                seen.add(key)
                try:  # the file's size, where this user may follow map_files (root); else the mapping's
                    total += os.stat(f"{base}/map_files/{fields[0].decode()}").st_blocks * 512
                except OSError:
                    total += end - start
        self.unlinked_bytes = unlinked  # disk, not memory: the disk look adds it
        self.pipes = len(pipes)  # each one of the user's pipe buffers across the host (PIPES)
        if self.sandboxed:
            total += self._shm_bytes(pids) + self._sysv_bytes(pids) + self._socket_bytes(pids, self.limits.memory_mb * MB - total)
        return total

    def _inside(self, pids: list[int], namespace: str) -> int | None:
        """A process in the sandbox's own `namespace` ("mnt", "ipc"): not bwrap itself, nor one not
        yet in the sandbox, whose namespace is still the grader's."""
        try:
            ours = os.readlink(f"{PROC}/self/ns/{namespace}")
        except OSError:
            return None
        for pid in pids[1:]:
            try:
                if os.readlink(f"{PROC}/{pid}/ns/{namespace}") != ours:
                    return pid
            except OSError:
                continue
        return None

    def _shm_bytes(self, pids: list[int]) -> int:
        """What the sandbox's own /dev/shm holds, seen through a process inside it (never the host's): its
        files' pages, and SHM_INODE_BYTES for each inode it has (what tmpfs itself charges an inode, in the
        count it reports as free inodes; since Linux 6.6 a file's extended attributes take from that count
        too). An empty file, a folder or a link holds no page but about a KB of kernel memory: a million
        of them took a GB past a 768 MB limit in 4 s, and extended attributes 3 GB."""
        pid = self._inside(pids, "mnt")
        try:
            info = os.statvfs(f"{PROC}/{pid}/root/dev/shm") if pid is not None else None
        except OSError:
            return 0
        if info is None:
            return 0
        inodes = info.f_files - info.f_ffree if info.f_files else 0  # f_files 0: a tmpfs with no inode count
        return (info.f_blocks - info.f_bfree) * info.f_frsize + inodes * SHM_INODE_BYTES

    def _socket_bytes(self, pids: list[int], room: int) -> int:
        """Memory in the socket buffers of the sandbox's own network namespace, which no process has
        resident: a socket pair whose send buffer (up to twice net.core.wmem_max, 8 MB on many hosts)
        is filled and never read holds it in the kernel, and a submission with thousands held the
        host's memory far past its limit. Every unix socket of the namespace is listed, including one
        in flight (sent over another socket and closed), which no descriptor shows; none tells how much
        it holds, so each counts as much as it could hold, past the first UNIX_SOCKETS_FREE (honest code
        has a few at most). TCP and UDP sockets (on loopback) count IP_SOCKET_BYTES each, past the first
        UNIX_SOCKETS_FREE, and twice the bytes queued in them: a connection that waits in a listener's
        queue holds 4 KB with no descriptor and nothing queued. Stops counting past `room`."""
        pid = self._inside(pids, "net")
        if pid is None:
            return 0
        total = 0
        try:
            with open(f"{PROC}/{pid}/net/unix", "rb") as fh:
                next(fh, None)  # the header
                for count, _ in enumerate(fh, 1):
                    if count <= UNIX_SOCKETS_FREE:
                        continue
                    total += UNIX_SOCKET_BYTES
                    if total > room:
                        return total
        except OSError:
            pass
        sockets = 0
        for name in ("tcp", "tcp6", "udp", "udp6"):
            try:
                with open(f"{PROC}/{pid}/net/{name}", "rb") as fh:
                    next(fh, None)
                    for line in fh:
                        try:
                            tx, rx = (int(part, 16) for part in line.split()[4].split(b":"))
                        except (IndexError, ValueError):
                            continue
                        sockets += 1
                        total += 2 * (tx + rx) + (IP_SOCKET_BYTES if sockets > UNIX_SOCKETS_FREE else 0)
                        if total > room:
                            return total
            except OSError:
                continue
        return total

    def _sysv_bytes(self, pids: list[int]) -> int:
        """System V shared memory of the sandbox's own IPC namespace (a segment outlives every process
        that attached it): this thread enters that namespace once, where /proc/sysvipc/shm lists it.
        Only the held-memory look's own thread enters; 0 where it cannot."""
        if threading.current_thread() is not self._threads[1]:
            return 0
        if not self._in_ipc:
            pid = self._inside(pids, "ipc")
            if pid is None or not _enter_ipc(f"{PROC}/{pid}/ns/ipc"):
                return 0
            self._in_ipc = True
        try:
            with open(f"{PROC}/sysvipc/shm") as fh:
                header, *rows = fh.read().splitlines()
        except (OSError, ValueError):
            return 0
        names = header.split()
        columns = [names.index(name) for name in ("rss", "swap") if name in names]  # what the segments hold
        if not columns and "size" in names:
            columns = [names.index("size")]
        total = 0
        for row in rows:
            try:
                total += sum(int(row.split()[column]) for column in columns)
            except (IndexError, ValueError):
                continue
        return total

    def over_disk(self) -> bool:
        """Check the disk limit now (the supervisor looks only every half second): True, and the
        sandbox killed with the reason, when scratch holds more than the limit."""
        return self._look_at_disk() is None

    def _look_at_disk(self) -> int | None:
        """Bytes used in scratch; None, and the sandbox killed with the reason, when over the limit
        or not measurable."""
        limit = self.limits.disk_mb * MB
        try:
            used = disk_usage(self.scratch, limit) + self.unlinked_bytes
        except Unmeasurable as err:
            self.kill(str(err))
            return None
        if used > limit:
            self.kill(f"it wrote more than {self.limits.disk_mb:,} MB to disk (the disk limit)")
            return None
        return used

    def _supervise(self, watch: Callable[[], None]) -> Callable[[], None]:
        """`watch`, failing closed: whatever it raises kills the sandbox with a reason the student
        reads (and no traceback), for a sandbox left running unwatched would have no limits at all."""

        def run() -> None:
            try:
                watch()
            except BaseException as err:  # noqa: BLE001 - any failure: stop the sandbox
                said = f"{type(err).__name__}: {err}"[:200]
                self.kill(f"the grader could not check its limits ({said}); files or processes it made may be why")

        return run

    def _watch(self) -> None:
        """Processes, threads, resident memory and page tables, every LOOK_S (or REST times a look's cost
        later), with the memory no process has resident as `_watch_held` last measured it."""
        limits, pause = self.limits, LOOK_S
        while not self._stop.wait(pause):
            if self.process.poll() is not None:
                return
            began = time.thread_time()
            self._namespace_init()
            pids = self._pids = self._tree(limits.processes + 2)
            if len(pids) - 2 > limits.processes:  # bwrap and its pid-1 reaper are not the student's
                self.kill(f"it started more than {limits.processes} processes (the process limit)")
            elif self.tasks - 2 > limits.processes:
                self.kill(f"it started more than {limits.processes} processes and threads together (the process limit, "
                          f"which counts threads as the kernel does): start fewer threads")
            else:
                held_now, limit = self.held_bytes + self._page_table_bytes(pids), limits.memory_mb * MB
                # past the limit by what no process has resident alone (page tables, memfds, pipes): stopped without
                # reading the proportional sizes, which walks the page tables (0.3 CPU-s for a 400 GB mapping read
                # every 2 MB, then REST times that of rest before the next look)
                if held_now > limit or held_now + self._resident_bytes(pids, limit - held_now) > limit:
                    self.kill(f"it used more than {limits.memory_mb:,} MB of memory (the memory limit)")
                self._share_cpu(pids)
            pause = max(LOOK_S, REST * (time.thread_time() - began))

    def _watch_held(self) -> None:
        """Memory no process has resident (`_held_bytes`: memfds, /dev/shm, pipes, sockets, System V segments)
        and inotify instances, every SLOW_LOOK_S or REST times a look's cost later, in a thread of its own: a
        look made slow (processes mapping thousands of files by long paths) held up the looks at processes and
        resident memory, and three processes held 3 GB against a 1 GB limit for the 45 s it took."""
        pause = SLOW_LOOK_S
        while not self._stop.wait(pause):
            if self.process.poll() is not None:
                return
            pids = self._pids
            if not pids:
                continue
            began = time.thread_time()
            self.held_bytes = self._held_bytes(pids)
            if self.watchers > INOTIFY_INSTANCES:
                self.kill(f"it opened more than {INOTIFY_INSTANCES} inotify instances, which the grading host's user "
                          f"shares with every other program (128 in all): grading needs none")
            elif self.pipes > PIPES:
                self.kill(f"it held more than {PIPES} pipes open, whose buffers the grading host's user shares with every "
                          f"other program: close each pipe once its processes are done")
            elif self.held_bytes > self.limits.memory_mb * MB:
                self.kill(f"it used more than {self.limits.memory_mb:,} MB of memory (the memory limit)")
            pause = max(SLOW_LOOK_S, REST * (time.thread_time() - began))

    def _cpu_times(self, pids: list[int]) -> dict[int, tuple[float, float]]:
        """{pid: (its own CPU seconds, those of its children it has waited for)} from /proc/PID/stat; each one's start
        time kept in `_started` (of these processes only)."""
        times = {}
        self._started = {}
        for pid in pids:
            try:
                with open(f"{PROC}/{pid}/stat", "rb") as fh:
                    after = fh.read().rsplit(b")", 1)[1].split()  # the name before ")" may hold spaces
                utime, stime, cutime, cstime = (int(x) for x in after[11:15])
                self._started[pid] = after[19]
            except (OSError, ValueError, IndexError):
                continue
            times[pid] = ((utime + stime) / TICK, (cutime + cstime) / TICK)
        return times

    def _share_cpu(self, pids: list[int]) -> None:
        """Hold the sandbox to `limits.cpus` cores on average: past its credit (CPU_BURST_S of them
        ahead), every process in it is stopped (SIGSTOP) until the average is back, then continued.
        A submission that runs many busy processes, or sets torch to many threads, then slows only
        itself, not the classmates graded beside it (`gan-course autograde --jobs N`).

        What it used since the last look: each process's own CPU time gained, plus what its waited-
        for children gained beyond the time already counted of the processes that ended meanwhile
        (a child that lived less than a look is counted when its parent waits for it; one that was
        counted alive is not counted twice)."""
        now = time.monotonic()
        times = self._cpu_times(pids)
        own = children = 0.0
        for pid, (mine, theirs) in times.items():
            seen_mine, seen_theirs = self._cpu_seen.get(pid, (0.0, 0.0))  # a new process: all it and its children used
            own += max(0.0, mine - seen_mine)
            children += max(0.0, theirs - seen_theirs)
        alive = set(pids)  # a process whose stat could not be read this time keeps what was seen of it
        ended = sum(mine + theirs for pid, (mine, theirs) in self._cpu_seen.items() if pid not in alive)
        self._cpu_seen = {**{pid: seen for pid, seen in self._cpu_seen.items() if pid in alive}, **times}
        cpus = self.limits.cpus
        self._cpu_credit = min(cpus * CPU_BURST_S, self._cpu_credit + cpus * (now - self._cpu_at)) - own - max(0.0, children - ended)
        self._cpu_at = now
        if self._paused_until is not None:
            if now < self._paused_until:
                self._signal(pids, signal.SIGSTOP)  # any process that started as the others stopped
                return
            self._signal(pids, signal.SIGCONT)
            self.paused_s += now - self._paused_until + self._pause_s
            self._paused_until = None
        if self._cpu_credit < 0:
            self._pause_s = -self._cpu_credit / cpus
            self._paused_until = now + self._pause_s
            self._signal(pids, signal.SIGSTOP)

    def _signal(self, pids: list[int], sig: int) -> None:
        """Send `sig` to each of the sandbox's processes seen at the last look that is still the process seen: its
        pid held open (a pidfd) and its start time the one recorded, so that a pid the kernel has given to another
        process since (a neighbour's worker, the grader) is never stopped."""
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except (OSError, AttributeError):  # ended meanwhile; or no pidfds (Linux < 5.3): the start time alone
                if _start_time(pid) == self._started.get(pid):
                    with contextlib.suppress(OSError):
                        os.kill(pid, sig)
                continue
            try:
                if _start_time(pid) == self._started.get(pid):  # the pidfd pins the process checked
                    signal.pidfd_send_signal(fd, sig)
            except OSError:
                pass
            finally:
                os.close(fd)

    def _watch_disk(self) -> None:
        """Scratch, every SLOW_LOOK_S, or REST times a costly walk's time later; but after one walk's
        time (at most half a core) once the scratch filesystem has lost more free space since the
        last walk than the room that walk left under the limit: a big tree cannot hide fast writes."""
        due = soonest = 0.0
        free_then, room = None, 0
        while not self._stop.wait(SLOW_LOOK_S):
            if self.process.poll() is not None:
                return
            free, now = _free_bytes(self.scratch), time.monotonic()
            filling = free is not None and free_then is not None and free_then - free > room
            if now < due and not (filling and now >= soonest):
                continue
            began = time.thread_time()
            used = self._look_at_disk()
            if used is None:
                continue
            cost, now = time.thread_time() - began, time.monotonic()
            due, soonest, free_then, room = now + REST * cost, now + cost, free, self.limits.disk_mb * MB - used

    def _drain(self) -> None:
        fd = self.process.stderr.fileno()
        limit = self.limits.output_mb * MB
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.output_bytes += len(chunk)
            self.tail = (self.tail + chunk)[-2000:]
            if self.output_bytes > limit:
                self.kill(f"it printed more than {self.limits.output_mb:,} MB (the output limit)")

    def _namespace_init(self) -> tuple[int, bytes] | None:
        """The sandbox's PID-namespace init (bwrap's child: killing it ends every process of the
        sandbox), remembered with its start time the first time it is seen, so that it is still found,
        and never mistaken for another process, once bwrap has gone."""
        if self._init is None and self.sandboxed and self.process.poll() is None:
            try:
                with open(f"{PROC}/{self.process.pid}/task/{self.process.pid}/children") as fh:
                    children = [int(child) for child in fh.read().split()]
                started = _start_time(children[0]) if children else b""
                if started:
                    self._init = (children[0], started)
            except (OSError, ValueError):
                pass
        return self._init

    def _kill_init(self) -> None:
        """SIGKILL the sandbox's PID-namespace init, if it is still the one seen: bwrap's
        --die-with-parent kills it only through its parent-death signal, which the sandbox can clear
        (ptrace lets it make its init call prctl), and the process group of the grader's kill does
        not hold it (bwrap's --new-session)."""
        init = self._namespace_init()
        if init is not None and _start_time(init[0]) == init[1]:
            try:
                os.kill(init[0], signal.SIGKILL)
            except OSError:
                pass

    def kill(self, reason: str) -> None:
        """End the sandbox and everything in it, remembering `reason` (the first one given)."""
        if self.reason is None:
            self.reason = reason
        self._kill_init()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.process.kill()
        except OSError:
            pass

    def lost(self, timeout: bool = False) -> str:
        """Why the worker cannot answer, as the student reads it; kills it first on a timeout."""
        if timeout:
            self.kill(self.time_limit)
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill("it did not exit when asked")
            code = None
        if self.reason is not None:
            paused = self.paused_s + (time.monotonic() - self._paused_until + self._pause_s if self._paused_until is not None else 0.0)
            if self.reason == self.time_limit and paused >= 1:
                return (f"the submission was stopped: {self.reason}; it was paused {paused:.0f} s of that time for using "
                        f"more than {self.limits.cpus:g} CPU cores at once (the CPU limit): use fewer threads or processes")
            return f"the submission was stopped: {self.reason}"
        if code is not None and code < 0:
            return f"the submission's process ended: {SIGNALS.get(-code, f'signal {-code}')}"
        last = [line for line in printable(self.tail.decode("utf-8", "replace"), newlines=True).splitlines() if line.strip()][-1:]
        said = f" (its last output: {last[0].strip()[:200]})" if last and code and self.quote_tail else ""
        return f"the submission's process exited (status {code}) before it answered{said}; do not call exit() or os._exit() in a notebook"

    def close(self) -> None:
        self._stop.set()
        if self.process.poll() is None:
            self.kill("closed")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._kill_init()  # bwrap gone, its init may not be: whatever the sandbox did to it
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2)


def _start_time(pid: int) -> bytes:
    """When process `pid` started (/proc/PID/stat's starttime), b"" if it is gone: with the pid, who it is."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19]
    except (OSError, IndexError):
        return b""


def _lower_limit(which: int, soft: int, hard: int) -> None:
    """setrlimit(which, (soft, hard)), each no higher than the hard limit already set: a grader that is not
    root cannot raise it (`host_limit_problem` says so before grading), and a failed setrlimit here ended
    the worker before it started."""
    current = resource.getrlimit(which)[1]
    if current != resource.RLIM_INFINITY and os.geteuid() != 0:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def can_count_sysv_shm() -> bool:
    """Whether this process may enter the sandbox's IPC namespace to count its System V segments
    (`_sysv_bytes`): setns(2) wants CAP_SYS_ADMIN, which a grader that is root has, unless a container
    took it away. Where it may not, the sandbox refuses `shmget` (reference.grading.seccomp)."""
    try:
        with open("/proc/self/status") as fh:
            caps = next(line for line in fh if line.startswith("CapEff:"))
        return bool(int(caps.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    except (OSError, StopIteration, IndexError, ValueError):
        return False


def _seccomp_descriptor(sysv_shm: bool = True) -> int | None:
    """A descriptor to read this machine's seccomp filter from (`reference.grading.seccomp`), for bwrap's
    --seccomp, or None where there is none. The caller closes it once the sandbox has started.
    `sysv_shm` False: the filter refuses System V shared memory too."""
    from reference.grading.seccomp import program

    filter_ = program(sysv_shm=sysv_shm)
    if filter_ is None:
        return None
    read, write = os.pipe()  # a few hundred bytes: the pipe holds them all
    try:
        os.write(write, filter_)
    finally:
        os.close(write)
    return read


def make_scratch(prefix: str = "gan-course-grading-") -> Path:
    """A private scratch folder for one submission: `box`, inside a folder of mode 0700 (remove both with
    `remove_scratch`). The sandbox sees `box` as /grading and owns it, so it may open up its mode, but
    never its parent's, which it cannot see: a file it leaves there with the set-user-ID bit (a copy of
    bash, chmod 4755, owned by the grader's user, the host's root for a grader that is root) is out of
    reach of every other user of the host while it exists."""
    box = Path(tempfile.mkdtemp(prefix=prefix)) / "box"
    box.mkdir(mode=0o700)
    return box


def remove_scratch(box: Path) -> bool:
    """Remove a folder of `make_scratch` and the private folder around it (`remove_tree`)."""
    return remove_tree(box.parent)


def remove_tree(path: str | os.PathLike) -> bool:
    """Remove the folder `path` and everything in it, whatever the student left there: trees deeper
    than Python's recursion limit, paths past the kernel's 4,096 bytes, folders chmod-ed to 000.
    Links are removed, never followed. True when it is gone; otherwise a warning is logged."""
    path = os.fspath(path)
    if os.path.islink(path):
        os.unlink(path)
        return True
    try:
        shutil.rmtree(path)
        return True
    except FileNotFoundError:
        if not os.path.lexists(path):
            return True
    except Exception:  # noqa: BLE001 - RecursionError, PermissionError, a path too long: the tools below cope
        pass
    # chmod -R and rm -rf walk with file descriptors (any depth, any path length) and never follow a
    # link met on the way; chmod gives the owner back the rights rm needs where it is not root
    for command in (["chmod", "-R", "u+rwx", "--", path], ["rm", "-rf", "--one-file-system", "--", path]):
        try:
            subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        except (OSError, subprocess.SubprocessError):
            continue
    if os.path.lexists(path):
        log.warning("could not remove %s: remove it by hand", path)
        return False
    return True


class Unmeasurable(Exception):
    """Scratch holds a folder the disk walk cannot measure; the message says why, for the student."""


FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
TOO_DEEP = (
    "it made folders nested so deep that their paths pass the system's 4,096-byte limit, "
    "which the grader cannot measure against the disk limit"
)
UNREADABLE = (
    "it made a folder the grader cannot read to measure against the disk limit ({said}); do not change folders' permissions"
)


def disk_usage(root: str | os.PathLike, limit: int) -> int:
    """Bytes the tree below `root` uses on disk, each entry (folder, file, link, fifo) charged at
    least one BLOCK; links are never followed and the walk is a loop, not a recursion, so any depth
    is fine. It stops as soon as the total passes `limit` (and returns that total), so one walk
    looks at no more than `limit` / BLOCK entries. Raises Unmeasurable for a folder it cannot list."""
    total = 0
    todo: list[tuple[str, str]] = [(os.fspath(root), "")]  # (folder, name): siblings share their folder's string
    while todo:
        parent, name = todo.pop()
        folder = f"{parent}/{name}" if name else parent
        fd = _open_folder(folder)
        if fd is None:
            continue
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        total += max(entry.stat(follow_symlinks=False).st_blocks * 512, BLOCK)
                    except OSError:  # removed meanwhile, or not readable: one block
                        total += BLOCK
                    if total > limit:
                        return total
                    if entry.is_dir(follow_symlinks=False):
                        todo.append((folder, entry.name))
        finally:
            os.close(fd)
    return total


def _open_folder(folder: str) -> int | None:
    """A descriptor of `folder` (never through a link in its place), or None when it is gone."""
    for attempt in range(2):
        try:
            fd = os.open(folder, FOLDER)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:  # a link put in its place meanwhile: not followed
                return None
            if err.errno == errno.ENAMETOOLONG:
                raise Unmeasurable(TOO_DEEP) from None
            if err.errno == errno.EACCES and attempt == 0 and _give_owner_rights(folder):
                continue
            raise Unmeasurable(UNREADABLE.format(said=err.strerror)) from None
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o500 != 0o500 and os.geteuid() != 0:
            try:  # readable but not searchable: its entries could not be measured
                os.fchmod(fd, mode | 0o700)
            except OSError:
                pass
        return fd
    return None


def _give_owner_rights(folder: str) -> bool:
    """chmod u+rwx `folder` (scratch is the grader's: a student who took its rights away cannot hide
    what it holds), reached without following a link. True when done."""
    try:
        fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(os.fstat(fd).st_mode) | 0o700)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _enter_ipc(path: str) -> bool:
    """Move the calling thread (only it) into the IPC namespace at `path` (/proc/PID/ns/ipc)."""
    import ctypes

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWIPC) == 0
    except (OSError, AttributeError):
        return False
    finally:
        os.close(fd)


def _free_bytes(folder: Path) -> int | None:
    try:
        info = os.statvfs(folder)
    except OSError:
        return None
    return info.f_bavail * info.f_frsize
