"""How the course uses a CPU that other work shares: the one place that decides it.

PyTorch runs each CPU operation on a team of OpenMP threads. On a machine the course shares (a
JupyterHub node with thirty kernels, a lab PC with a video call, a grading host, a CI runner)
three settings decide whether a busy machine merely slows training down or multiplies its time.
`python benchmarks/busy_cores.py` measures the course's choice against PyTorch's default,
`OMP_WAIT_POLICY=PASSIVE` and one thread, on idle cores and beside one busy-loop per core.

1. **How a waiting thread waits.** OpenMP's default (GNU libgomp, which PyTorch's Linux wheels
   use) spins 300,000 rounds, milliseconds, before it sleeps. On idle cores the next operation
   then starts at once; on busy cores the spinning thread burns the time slice that the thread it
   waits for needs, and a GAN step of a few hundred small operations ran 4x (DCGAN) to 23x (MLP)
   slower than with `OMP_WAIT_POLICY=PASSIVE`, which sleeps at once but pays a wake-up on every
   operation (10-40% on idle cores). So the course decides by the load when the process starts:
   `import reference` looks at how many cores other processes keep busy (50 ms of /proc/stat);
   from `BUSY_AT` (half a core) on it sets PASSIVE, else it leaves OpenMP's default, the fastest
   on idle cores. The OpenMP runtime reads the setting once, when torch is imported, so
   `prepare_openmp` (called by `reference/__init__.py`) runs before anything imports torch: the
   `gan-course` command, the tests, the lessons and the assignments import `reference` first, and
   the processes they start (notebook kernels, DDP workers) inherit a PASSIVE choice. A process
   with one thread waits for no team and skips the look. Load that comes after the start meets
   3.: a run that starts on busy cores leaves them to the other jobs.
2. **How many threads a process has** (`thread_count`): the cores it may use (its CPU affinity
   and its container's CPU quota: a JupyterHub kernel limited to 2 CPUs on a 64-core node gets
   2 threads, not 64), shared among the processes that run side by side (pytest-xdist workers,
   torchrun's processes). Set once, at `import reference`, through OMP_NUM_THREADS.
3. **How many threads a run uses** (`run_threads`): when a training run, a classifier or a
   grade-time learning check starts, it looks at how many cores other processes keep busy
   (50 ms of /proc/stat) and leaves those to them: on 2 cores beside two busy jobs it trains
   with 1 thread, which never waits for another. A run whose steps are large (`large`: the
   trainer's convolutional models at ngf >= 32, such as the default DCGAN) keeps all its threads
   where they wait passively (1.): their few, long operations gain more from a second thread
   than its wake-ups cost (on 2 cores beside two busy loops the DCGAN ran 1.3x faster than on one
   thread), while an MLP's many short operations do not. The count is chosen once per run, not changed
   while it trains, because a different thread count sums some reductions in another order: a
   seeded run is bit-for-bit reproducible at a given thread count, so `train()` records the count
   it used in config.json and its checkpoints (a resumed run keeps it), and `--threads N` (or
   GAN_COURSE_THREADS=N) fixes it. A grading job sets GAN_COURSE_THREADS=1.

`train()` and the learning checks also flush denormal floats to zero on the CPU (tiny activations
of N(0, 0.02) weights made the DCGAN step 5x slower), and restore the previous setting and the
previous thread count when they return (`cpu_training`), so a notebook or a grading process keeps
its own arithmetic.

Your settings win: the course never changes `OMP_WAIT_POLICY`, `GOMP_SPINCOUNT` or
`OMP_NUM_THREADS` once set (PASSIVE, or a spin count of 0, counts as passive waiting in 3.; an OMP_NUM_THREADS that
OpenMP cannot read, which it ignores, counts as unset), `GAN_COURSE_THREADS=N` fixes every run's threads, and
`GAN_COURSE_CPU=torch` leaves every PyTorch default alone. Where torch was imported before
`reference` (a notebook that starts with `import torch`), only the wait (1.) keeps PyTorch's
default; 3. still keeps a busy machine from multiplying a run's time.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "BUSY_AT",
    "WAIT",
    "busy_loops",
    "choose_wait",
    "cpu_training",
    "flush_denormals",
    "others_busy_cores",
    "passive_wait",
    "prepare_openmp",
    "run_threads",
    "thread_count",
    "threads_for_run",
    "usable_cores",
]

BUSY_AT = 0.5  # cores other processes keep busy at import from which threads wait passively
WAIT: dict = {"choice": None, "others": None}  # what prepare_openmp chose in this process, and the load it saw
POLICY_ENV = "GAN_COURSE_CPU"  # "torch": leave PyTorch's defaults alone
THREADS_ENV = "GAN_COURSE_THREADS"  # threads per process, e.g. one per parallel grading job
_USER_WAIT_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def course_policy() -> bool:
    """False when the user asked for PyTorch's defaults (GAN_COURSE_CPU=torch)."""
    return os.environ.get(POLICY_ENV, "").strip().lower() != "torch"


def choose_wait(others: float | None) -> str:
    """"passive" when other processes keep at least BUSY_AT cores busy, else "default" (OpenMP's
    spin, the fastest on idle cores; also when the load cannot be read)."""
    return "passive" if others is not None and others >= BUSY_AT else "default"


def prepare_openmp(environ: dict[str, str] | None = None) -> bool:
    """Set the course's OpenMP settings in `environ` (default os.environ) before torch loads.

    OMP_NUM_THREADS (unless set) becomes `thread_count()` where that differs from PyTorch's own
    choice (a container's CPU quota, parallel workers). A value OpenMP cannot read (empty, 0, -1, 1.5,
    "abc": `openmp_reads`) counts as unset and is replaced: OpenMP ignores it (the team is then every
    physical core, whatever the container's quota) and GNU libgomp printed "libgomp: Invalid value for
    environment variable OMP_NUM_THREADS" in every process that loaded torch, before each command's
    one-line error, in every notebook kernel and test. Unless the user set OMP_WAIT_POLICY or
    GOMP_SPINCOUNT, a process with more than one thread looks at the load (`others_busy_cores`) and
    sets OMP_WAIT_POLICY=PASSIVE when `choose_wait` says so; `WAIT` records the choice and the load.
    Returns True when the settings can still take effect in this process (torch not imported yet),
    False otherwise.
    """
    env = os.environ if environ is None else environ
    if not course_policy() or "torch" in sys.modules:
        return False
    value = env.get("OMP_NUM_THREADS")
    if value is None or not openmp_reads(value):
        threads = thread_count(env)
        if value is not None or threads != physical_cores():
            env["OMP_NUM_THREADS"] = str(threads)
    if any(env.get(name) for name in _USER_WAIT_SETTINGS):
        WAIT.update(choice="user", others=None)
    elif (_positive_int(env.get("OMP_NUM_THREADS")) or thread_count(env)) == 1:
        WAIT.update(choice="one thread", others=None)  # no team, no waiting for one
    else:
        others = others_busy_cores()
        WAIT.update(choice=choose_wait(others), others=others)
        if WAIT["choice"] == "passive":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def passive_wait(environ: dict[str, str] | None = None) -> bool:
    """Whether this process's OpenMP threads sleep at once when they wait (PASSIVE, or no spin)."""
    env = os.environ if environ is None else environ
    return env.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE" or env.get("GOMP_SPINCOUNT", "").strip() == "0"


# ---------------------------------------------------------------------------------------------
# How many threads
# ---------------------------------------------------------------------------------------------


CGROUP_ROOT = Path("/sys/fs/cgroup")  # where cgroup v2 (or v1's controllers, one folder each) is mounted
PROC_CGROUP = Path("/proc/self/cgroup")  # this process's cgroup under each hierarchy


def _own_cgroup(hierarchy: str) -> str | None:
    """This process's cgroup path in `hierarchy` ("" for cgroup v2, "cpu" for v1's cpu controller),
    as /proc/self/cgroup lists it ("0::/system.slice/x.service"), or None when it lists none."""
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == hierarchy or (hierarchy and hierarchy in controllers.split(",")):
            return path
    return None


def _from_mount_to_own(mount: Path, own: str | None) -> list[Path]:
    """`mount` and every folder below it down to this process's cgroup `own` (where it exists: in a
    container with a cgroup namespace `own` is "/", the mount itself)."""
    folders = [mount]
    for part in Path(own or "/").parts[1:]:
        if part == ".." or not (folders[-1] / part).is_dir():
            break
        folders.append(folders[-1] / part)
    return folders


def _cgroup_cpus() -> float:
    """The CPUs the tightest CPU quota over this process allows, inf if none.

    The quota may sit on the process's own cgroup or on any above it: a container's at the mount's
    root (its cgroup namespace), a JupyterHub SystemdSpawner kernel's `cpu_limit` on its service
    (/sys/fs/cgroup/system.slice/jupyter-<user>-singleuser.service/cpu.max) with none at the root.
    cgroup v2 cpu.max ("200000 100000": 2 CPUs; "max 100000": none), else v1's cfs quota and period.
    """
    limits = []
    for folder in _from_mount_to_own(CGROUP_ROOT, _own_cgroup("")):
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            if quota != "max":
                limits.append(int(quota) / int(period))
        except (OSError, ValueError):
            pass
    if not limits:  # cgroup v1
        for folder in _from_mount_to_own(CGROUP_ROOT / "cpu", _own_cgroup("cpu")):
            try:
                quota_us = int((folder / "cpu.cfs_quota_us").read_text())
                period_us = int((folder / "cpu.cfs_period_us").read_text())
                if quota_us > 0:
                    limits.append(quota_us / period_us)
            except (OSError, ValueError):
                pass
    return min(limits, default=math.inf)


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by its container's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_cpus()
    return max(1, min(cores, math.ceil(quota) if math.isfinite(quota) else cores))


def physical_cores() -> int:
    """PyTorch's own default thread count: the physical cores it sees (no hyper-threads)."""
    count = os.cpu_count() or 1
    try:  # Linux: count distinct (package, core) pairs
        pairs = set()
        for cpu in Path("/sys/devices/system/cpu").glob("cpu[0-9]*"):
            topo = cpu / "topology"
            pairs.add(((topo / "physical_package_id").read_text(), (topo / "core_id").read_text()))
        return max(1, len(pairs)) if pairs else count
    except OSError:
        return count


def openmp_reads(value: str) -> bool:
    """Whether OpenMP (GNU libgomp) reads `value` of OMP_NUM_THREADS: whole numbers >= 1, one per
    nesting level, separated by commas ("4", " 2 ", "4,2"); not "", "0", "-1", "1.5" or "abc"."""
    parts = value.split(",")
    return all((digits := part.strip().removeprefix("+")).isascii() and digits.isdigit() and 0 < int(digits) < 2**63 for part in parts)


def _positive_int(value: str | None) -> int | None:
    """A whole number >= 1, else None: a malformed, zero or negative value is ignored, as OpenMP
    ignores one (OMP_NUM_THREADS=0 or -1 leaves torch its default team, not one thread)."""
    try:
        number = int(value) if value else 0
    except ValueError:
        return None
    return number if number >= 1 else None


def thread_count(environ: dict[str, str] | None = None) -> int:
    """Threads per operation for this process on idle cores.

    GAN_COURSE_THREADS if set; else the usable cores (affinity, container quota, at most the
    physical cores) divided among the processes that run side by side: pytest-xdist workers
    (PYTEST_XDIST_WORKER_COUNT) and torchrun's processes on this machine (LOCAL_WORLD_SIZE).
    At least 1.
    """
    env = os.environ if environ is None else environ
    if (fixed := _positive_int(env.get(THREADS_ENV))) is not None:
        return fixed
    workers = (_positive_int(env.get("PYTEST_XDIST_WORKER_COUNT")) or 1) * (_positive_int(env.get("LOCAL_WORLD_SIZE")) or 1)
    return max(1, min(usable_cores(), physical_cores()) // workers)


def _busy_ticks() -> tuple[int, int]:
    """(clock ticks all CPUs spent busy, ticks this process spent) from /proc; a ValueError elsewhere."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return user + nice + system + irq + softirq + steal, int(own[11]) + int(own[12])  # utime, stime


def others_busy_cores(window: float = 0.05) -> float | None:
    """How many cores other processes kept busy over the next `window` seconds (None off Linux)."""
    try:
        busy0, own0 = _busy_ticks()
        start = time.perf_counter()
        time.sleep(window)
        busy1, own1 = _busy_ticks()
    except (OSError, ValueError, IndexError):
        return None
    ticks = (time.perf_counter() - start) * os.sysconf("SC_CLK_TCK")
    return max(0.0, (busy1 - busy0) - (own1 - own0)) / ticks


@contextmanager
def busy_loops(n: int, settle: float = 1.0) -> Iterator[list[subprocess.Popen]]:
    """`n` processes that each keep one core busy (`while True: pass`), for the block; killed after.

    The load the benchmarks and tests put beside a run ("one busy-loop process per core"). Waits
    `settle` seconds first, so that the loops are running when the block starts.
    """
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(settle)
        yield loops
    finally:
        for loop in loops:
            loop.kill()
        for loop in loops:
            loop.wait()


def run_threads(requested: int | None = None, large: bool = False) -> int:
    """Threads for a training run, chosen once when it starts.

    `requested` (a run's --threads) or GAN_COURSE_THREADS win. Otherwise the threads torch has
    (set from `thread_count()` when `reference` was imported) less the cores other processes
    keep busy right now: on 2 cores with two other busy jobs, 1. One thread never waits for
    another, and a team of threads that shares its cores with other jobs waits for whichever of
    them was descheduled. A `large` run (few, long operations per step) whose threads wait
    passively keeps them all. Under GAN_COURSE_CPU=torch: torch's own count.
    """
    import torch

    if requested is not None:
        if requested > (cores := usable_cores()):
            import warnings

            warnings.warn(f"--threads {requested} is more than the {cores} core(s) this process may use: threads that share a "
                          f"core wait for each other, so the run will be slower than at --threads {cores}", stacklevel=2)
        return requested
    if (fixed := _run_threads_env()) is not None:
        return fixed
    threads = torch.get_num_threads()
    if threads == 1 or not course_policy():
        return threads
    others = others_busy_cores()
    if others is None or (large and passive_wait()):
        return threads
    return max(1, min(threads, round(usable_cores() - others)))


def _run_threads_env() -> int | None:
    """GAN_COURSE_THREADS for a run: None if unset, else a whole number from 1 to MAX_THREADS.

    At import (`thread_count`) a malformed value is ignored, as OpenMP ignores one; a run that
    would ignore it says so instead, in one line (UserError), before it starts; so it does of a
    GAN_COURSE_CPU other than "torch".
    """
    from reference.config import MAX_THREADS
    from reference.errors import UserError

    policy = os.environ.get(POLICY_ENV, "").strip()
    if policy and policy.lower() != "torch":  # a typo ("troch") silently kept the course's settings
        raise UserError(f"{POLICY_ENV}={policy!r} is not a setting; set {POLICY_ENV}=torch for PyTorch's own thread defaults, or unset it")
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    try:
        threads = int(value)
    except ValueError:
        threads = None
    if threads is None or not 1 <= threads <= MAX_THREADS:
        raise UserError(f"{THREADS_ENV}={value!r} is not a thread count; set it to a whole number from 1 to {MAX_THREADS}, or unset it")
    return threads


@contextmanager
def threads_for_run(requested: int | None = None, large: bool = False) -> Iterator[int]:
    """Run the block with `run_threads(requested, large)` threads (yielded); restore torch's count after."""
    import torch

    before = torch.get_num_threads()
    threads = run_threads(requested, large)
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# Denormal floats
# ---------------------------------------------------------------------------------------------


def denormals_flushed() -> bool:
    """True when this thread flushes denormal floats to zero (a denormal times 1 gives 0)."""
    import torch

    return bool((torch.tensor([1e-40], dtype=torch.float32) * 1.0).item() == 0.0)


def _cache_float_limits() -> None:
    """Have NumPy compute (and cache) the limits of its float types while denormals still work.

    NumPy < 2.3 computes `np.finfo(t)` on first use and, where denormals are flushed, warns "The value
    of the smallest subnormal for <class 'numpy.float64'> type is zero." A run that first imports
    matplotlib (numpy.ma) inside `flush_denormals` printed that twice, a false alarm; computed here
    first, the cached limits are correct and nothing warns.
    """
    import numpy as np

    for kind in (np.half, np.single, np.double, np.longdouble):
        np.finfo(kind)


@contextmanager
def flush_denormals(on: bool = True) -> Iterator[None]:
    """Flush denormal floats to zero inside the block (on the CPU), then restore the previous setting.

    Tiny activations and gradients (N(0, 0.02) weights) become denormals, which run up to 5x
    slower on x86 CPUs; flushing them changes no result that matters.
    """
    import torch

    before = denormals_flushed()
    if on and not before:
        _cache_float_limits()
    torch.set_flush_denormal(on)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


@contextmanager
def cpu_training(device_type: str, threads: int | None = None, large: bool = False) -> Iterator[int | None]:
    """What `train()` and the learning checks run inside, on the CPU: denormals flushed and
    `threads_for_run(threads, large)`; yields the thread count (None on other devices, where nothing
    changes). Both settings are restored afterwards."""
    if device_type != "cpu":
        yield None
        return
    with flush_denormals(), threads_for_run(threads, large) as chosen:
        yield chosen
