"""Where the test suite's time goes: the CPU seconds and wall time of each test file, run one at a time.

    python benchmarks/suite_cpu.py                                # every file pytest collects, one after another
    python benchmarks/suite_cpu.py tests/test_learning.py         # some files
    python benchmarks/suite_cpu.py --top 15                       # print only the 15 costliest

`pytest` runs its files on pytest-xdist workers, and much of a file's work happens in the processes it
starts (sandboxed grading workers, notebook kernels, `gan-course` and `nbgrader` commands), so the
durations pytest prints say little about what a file costs the machine. Here each file runs alone in
`pytest -n 0` (one process, the threads reference/cpu.py gives it), and its CPU time counts every
process it starts:

- cgroup: the run is put into a new control group (cgroup v1's cpuacct or cgroup v2, where this
  user may make one: root, or a delegated subtree), whose usage counts every descendant, whatever
  else the machine does;
- machine: otherwise, the busy time of the whole machine from /proc/stat, which is the file's own
  only on an otherwise idle machine (each row says which it is).

Each file also pays pytest's start (about 3 s of CPU importing torch and collecting), which a run
of the whole suite pays once per worker. The table is sorted by CPU; the last line is one JSON
object with the same numbers. The suite's own target (8 minutes on an idle 2-core machine) is
measured by `.ci/run`, which prints how long `pytest` took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
V1 = Path("/sys/fs/cgroup/cpuacct")
V2 = Path("/sys/fs/cgroup")


def test_files() -> list[str]:
    """The files `pytest` collects (pyproject.toml's testpaths), relative to the repository."""
    files = sorted(REPO.glob("tests/test_*.py")) + sorted(REPO.glob("solutions/lessons/[0-9][0-9]_*.ipynb"))
    return [p.relative_to(REPO).as_posix() for p in files]


def _busy_seconds() -> float:
    """Seconds all CPUs have spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cgroup():
    """(path of a new, empty control group, function that reads its CPU seconds), or None where this
    user may not make one; the group is removed after."""
    made = None
    try:
        if (V1 / "cpuacct.usage").is_file():
            made = V1 / f"gan-course-{uuid.uuid4().hex[:8]}"
            made.mkdir()
            yield made, lambda: int((made / "cpuacct.usage").read_text()) / 1e9
        elif (V2 / "cgroup.controllers").is_file():
            made = V2 / f"gan-course-{uuid.uuid4().hex[:8]}"
            made.mkdir()

            def usage() -> float:
                stat = dict(line.split() for line in (made / "cpu.stat").read_text().splitlines())
                return int(stat["usage_usec"]) / 1e6

            yield made, usage
        else:
            yield None
    except PermissionError:
        made = None
        yield None
    finally:
        if made is not None:
            try:
                made.rmdir()
            except OSError:
                pass


def run_file(name: str, pytest_args: list[str]) -> dict:
    """One file alone under `pytest -n 0`: {"file", "cpu_s", "wall_s", "status", "how", "summary"}."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not an xdist worker's
    command = [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider", *pytest_args, name]
    with cgroup() as group:
        if group is not None:  # the child joins the group before pytest starts, so all it starts counts
            folder, usage = group
            command = ["sh", "-c", f'echo $$ > "{folder}/cgroup.procs" && exec "$@"', "sh", *command]
            before, how = 0.0, "cgroup"
        else:
            usage, how = _busy_seconds, "machine"
            before = usage()
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        cpu = usage() - before
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {"file": name, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "status": done.returncode, "how": how,
            "summary": lines[-1].strip("= ") if lines else done.stderr.strip()[-200:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], allow_abbrev=False)
    parser.add_argument("files", nargs="*", help="test files or lesson sources (default: every one pytest collects)")
    parser.add_argument("--top", type=int, default=0, help="print only the N costliest files (default: all)")
    parser.add_argument("--pytest-args", default="", help='more arguments for each pytest run, e.g. "-k learns"')
    args = parser.parse_args(argv)
    files = args.files or test_files()
    missing = [f for f in files if not (REPO / f).is_file()]
    if missing:
        print(f"suite_cpu: error: no test file {missing[0]} in {REPO}; give paths like tests/test_cli.py", file=sys.stderr)
        return 2
    if args.top < 0:
        print("suite_cpu: error: --top must be 0 (all) or more", file=sys.stderr)
        return 2
    rows = []
    for k, name in enumerate(files, 1):
        print(f"[{k}/{len(files)}] {name} ...", file=sys.stderr, flush=True)
        rows.append(run_file(name, args.pytest_args.split()))
    rows.sort(key=lambda r: -r["cpu_s"])
    shown = rows[: args.top] if args.top else rows
    print(f"{'CPU s':>8} {'wall s':>8}  {'how':7}  file (pytest's summary)")
    for r in shown:
        flag = "" if r["status"] == 0 else f"  EXIT {r['status']}"
        print(f"{r['cpu_s']:8.1f} {r['wall_s']:8.1f}  {r['how']:7}  {r['file']} ({r['summary']}){flag}")
    total_cpu, total_wall = sum(r["cpu_s"] for r in rows), sum(r["wall_s"] for r in rows)
    print(f"{total_cpu:8.1f} {total_wall:8.1f}  in all, {len(rows)} files, each paying pytest's start")
    print(json.dumps({"files": rows, "cpu_s": round(total_cpu, 1), "wall_s": round(total_wall, 1)}))
    return 0 if all(r["status"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
