"""The sandbox a submission runs in, and the supervisor that enforces its limits.

`Worker` starts `python -m reference.grading.worker` for one submission:

- inside bubblewrap (`bwrap`): new user, PID, IPC, UTS, cgroup and network namespaces (no network
  at all), `--die-with-parent`, `--new-session`, every capability dropped; a read-only view of the
  operating system's `/usr`, of the Python environment and of the course's public `reference`
  package (a copy in which the modules that answer the assignment are replaced by a stub that
  refuses to import), the course data read-only when `GAN_COURSE_DATA` is set, and one private
  writable scratch folder (`/grading`: the submission's files, its home, its temporary files and
  caches). Nothing else exists there: no `tests/`, no `solutions/`, no gradebook, no other
  submission, no instructor home. `--gpu` adds the NVIDIA device files.
- with `sandbox=False` (`gan-course autograde --no-sandbox`, for a machine without bubblewrap) as
  a plain process in its own session: the same limits, none of the isolation.

`sandbox_problem()` says whether this machine can make that sandbox at all (bwrap installed, and
allowed the user namespaces it needs): the grader asks before the first worker, and a host that
cannot is a `SandboxUnavailable` error for the instructor, never a 0 for every student.

Limits (`Limits`; defaults fit a2's and a4's grade-time training on 2 cores; settable in
nbgrader_config.py as `c.GanCourseGrading.<name> = ...` or by flag): wall time for the whole
submission and per check, CPU time and memory per process (the kernel's RLIMIT_CPU and
RLIMIT_DATA), processes in the sandbox, size of one file (RLIMIT_FSIZE), disk used in scratch,
bytes printed. The supervisor thread watches the sandbox's process tree, memory, scratch and
output ten times a second and kills the whole sandbox at the first limit it sees exceeded, keeping
the reason for the grader's message. Each worker runs one thread and waits passively, so a worker
never spins against its neighbours and a grade does not depend on how many run at once.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

from reference.errors import UserError

__all__ = ["Limits", "SandboxUnavailable", "Worker", "bwrap_available", "sandbox_problem", "stage_reference"]

MB = 2**20
PAGE = os.sysconf("SC_PAGE_SIZE")
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
    cpu_s: int = 1800  # CPU time of each process
    memory_mb: int = 3072  # each process's data (RLIMIT_DATA), and all its processes' resident memory together
    processes: int = 64
    file_mb: int = 100  # one file
    disk_mb: int = 500  # everything written in scratch
    output_mb: int = 10  # everything printed

    def describe(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))

    @classmethod
    def from_config(cls, config: dict, **overrides) -> "Limits":
        """Limits from `c.GanCourseGrading.<name>` values of nbgrader_config.py, then `overrides`."""
        values = {}
        for f in fields(cls):
            for source in (config, overrides):
                if source.get(f.name) is not None:
                    value = source[f.name]
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                        raise UserError(f"grading limit {f.name} = {value!r}: give a positive number")
                    values[f.name] = type(f.default)(value)
        return cls(**values)


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
            return BWRAP_REFUSED.format(said=f"{type(err).__name__}: {err}"[:200])
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return BWRAP_REFUSED.format(said=(lines[-1] if lines else f"it exited with status {done.returncode}")[:200])

STUB = '''raise ImportError(
    "{module} is not available while this assignment is graded: it holds what the assignment asks you "
    "to write; write it yourself in the notebook"
)
'''


def reference_dir() -> Path:
    import reference

    return Path(reference.__file__).resolve().parent


def stage_reference(into: Path, masked: tuple[str, ...] = ()) -> Path:
    """A copy of the `reference` package in `into`/reference, without caches, with each module in
    `masked` ("reference.losses") replaced by a stub whose import fails with a message."""
    target = into / "reference"
    shutil.copytree(reference_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
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


def _gpu_binds() -> list[str]:
    args = []
    for name in sorted(os.listdir("/dev")):
        if name.startswith("nvidia"):
            args += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    for path in ("/proc/driver/nvidia", "/sys/module/nvidia", "/sys/bus/pci", "/sys/devices"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(bwrap: str, scratch: Path, staged: Path | None, gpu: bool, env: dict[str, str]) -> list[str]:
    """The bwrap command line (up to and including "--") of the sandbox around one worker: `scratch`
    (with `work/` and `tmp/`) as /grading, `staged` in place of the real `reference`, `env` the
    whole environment inside."""
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "grading"]
    # scratch and /tmp first: the environment may live below /tmp, and a later mount would hide it
    # work/ is a mount point of its own, so the worker cannot rename it or put a link in its place: the
    # grader reads and writes below scratch/work, and must never be led out of it
    args += ["--bind", str(scratch), "/grading", "--bind", str(scratch / "work"), "/grading/work", "--bind", str(scratch / "tmp"), "/tmp"]
    args += _system_binds() + _python_binds()
    if staged is not None:
        args += ["--ro-bind", str(staged), str(reference_dir())]
    if "GAN_COURSE_DATA" in env:
        args += ["--ro-bind", env["GAN_COURSE_DATA"], env["GAN_COURSE_DATA"]]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if gpu:
        args += _gpu_binds()
    args += ["--chdir", "/grading/work", "--clearenv"]
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
    ) -> None:
        self.scratch, self.limits, self.deadline = scratch, limits, deadline
        self.reason: str | None = None  # the limit that ended the worker, once one did
        self.time_limit = f"it ran past the submission's wall-time limit ({limits.wall_s:g} s)"  # set by the runner
        self.output_bytes = 0
        self.tail = b""  # the last bytes printed, to say why a worker that could not start ended
        for sub in ("work", "home", "tmp", "cache"):
            (scratch / sub).mkdir(parents=True, exist_ok=True)
        env = self._environment(sandbox, gpu)
        if not sandbox and masked:
            env["GAN_COURSE_GRADING_MASKED"] = ",".join(masked)
        command = [sys.executable, "-m", "reference.grading.worker"]
        if sandbox:
            command = self._bwrap(staged, gpu, env) + command
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
        )
        self.fd_out, self.fd_in = self.process.stdin.fileno(), self.process.stdout.fileno()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, daemon=True), threading.Thread(target=self._drain, daemon=True)]
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
        data = os.environ.get("GAN_COURSE_DATA")
        if data and os.path.isdir(data):
            env["GAN_COURSE_DATA"] = os.path.realpath(data)
        if not gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""
        elif os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        return env

    def _bwrap(self, staged: Path | None, gpu: bool, env: dict[str, str]) -> list[str]:
        bwrap = bwrap_available()
        if bwrap is None:
            raise SandboxUnavailable(BWRAP_MISSING)
        return bwrap_command(bwrap, self.scratch, staged, gpu, env)

    def _limit_process(self) -> None:  # runs in the child before exec
        limits = self.limits
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_mb * MB, limits.memory_mb * MB))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * MB, limits.file_mb * MB))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    # ------------------------------------------------------------------------------ supervision
    def _tree(self) -> list[int]:
        """The worker's processes: bwrap and every descendant."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as fh:
                        todo.extend(int(child) for child in fh.read().split())
            except OSError:
                continue
        return found

    def _resident_mb(self, pids: list[int]) -> float:
        """Memory of these processes together: proportional set sizes, so that pages shared after a
        fork (DataLoader workers, subprocesses) count once, not once per process.

        The resident sizes (/proc/PID/statm, a few microseconds) come first: they are never below
        the proportional ones, so while their sum is within the limit that is the answer. Only
        above it are the proportional sizes read (/proc/PID/smaps_rollup walks the process's page
        tables: about 13 ms for a process that imported torch, 13% of a core at ten looks a second).
        """
        resident = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/statm") as fh:
                    resident += int(fh.read().split()[1]) * PAGE
            except (OSError, IndexError, ValueError):
                continue
        if resident <= self.limits.memory_mb * MB:
            return resident / MB
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as fh:
                    for line in fh:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except (OSError, IndexError, ValueError):
                continue
        return total / MB

    def _disk_mb(self) -> float:
        total = 0
        for folder, _, files in os.walk(self.scratch):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_blocks * 512
                except OSError:
                    continue
        return total / MB

    def over_disk(self) -> bool:
        """Check the disk limit now (the supervisor looks only every half second): True, and the
        sandbox killed with the reason, when scratch holds more than the limit."""
        if self._disk_mb() > self.limits.disk_mb:
            self.kill(f"it wrote more than {self.limits.disk_mb:,} MB to disk (the disk limit)")
            return True
        return False

    def _watch(self) -> None:
        tick = 0
        while not self._stop.wait(0.1):
            if self.process.poll() is not None:
                return
            tick += 1
            limits = self.limits
            pids = self._tree()
            if len(pids) - 2 > limits.processes:  # bwrap and its pid-1 reaper are not the student's
                self.kill(f"it started more than {limits.processes} processes (the process limit)")
            elif self._resident_mb(pids) > limits.memory_mb:
                self.kill(f"it used more than {limits.memory_mb:,} MB of memory (the memory limit)")
            elif tick % 5 == 0 and self._disk_mb() > limits.disk_mb:
                self.kill(f"it wrote more than {limits.disk_mb:,} MB to disk (the disk limit)")

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

    def kill(self, reason: str) -> None:
        """End the sandbox and everything in it, remembering `reason` (the first one given)."""
        if self.reason is None:
            self.reason = reason
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
        except ProcessLookupError:
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
            return f"the submission was stopped: {self.reason}"
        if code is not None and code < 0:
            return f"the submission's process ended: {SIGNALS.get(-code, f'signal {-code}')}"
        last = [line for line in self.tail.decode("utf-8", "replace").splitlines() if line.strip()][-1:]
        said = f" (its last output: {last[0].strip()[:200]})" if last and code else ""
        return f"the submission's process exited (status {code}) before it answered{said}; do not call exit() or os._exit() in a notebook"

    def close(self) -> None:
        self._stop.set()
        if self.process.poll() is None:
            self.kill("closed")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2)


def make_scratch(prefix: str = "gan-course-grading-") -> Path:
    """A private scratch folder for one submission (mode 0700)."""
    return Path(tempfile.mkdtemp(prefix=prefix))
