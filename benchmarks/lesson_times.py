"""How long each lesson takes to run, as a student runs it: the time each lesson's first cell quotes.

    python benchmarks/lesson_times.py                  # every lesson in full mode, one after another
    python benchmarks/lesson_times.py 06 08            # some lessons (by number or name)
    python benchmarks/lesson_times.py a2 a6            # assignments (by id or its start), as the student runs them
    python benchmarks/lesson_times.py --busy           # beside one busy-loop process per core
    python benchmarks/lesson_times.py --smoke          # smoke mode (GAN_COURSE_SMOKE=1), as CI runs them

Each lesson source (`solutions/lessons/NN_*.ipynb`, the model answers filled in, so every cell
runs) is executed top to bottom by nbclient in a fresh kernel started from this Python, in the
notebook's folder, nothing written back: "Restart Kernel and Run All Cells", kernel start
included. An assignment's source (`solutions/<id>/<id>.ipynb`) runs the same way without its hidden
check cells, which the student's version does not have, in a copy of its folder (it writes grids and runs
beside itself), removed after. For each lesson it prints the wall time, the CPU time the kernel and its children used,
and how many cores other processes kept busy on average meanwhile (from /proc/stat: all busy
ticks less this process's and its children's), so a figure says what load it was taken under:
about 0 on an idle machine, about one per core with `--busy`. The MNIST classifier behind FID is
trained and cached the first time a lesson needs it (about 140 s): run once to warm the cache,
or read the second run. Last line: one JSON object with the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "solutions" / "lessons"
HIDDEN = "### BEGIN HIDDEN TESTS"  # an assignment's hidden check cell: only the grader runs it


def lessons(wanted: list[str]) -> list[Path]:
    """The lesson sources named by number ("06") or name, and the assignment sources named by id or its start
    ("a2"); every lesson when none is named."""
    every = sorted(SOURCES.glob("[0-9][0-9]_*.ipynb"))
    if not wanted:
        return every
    assignments = sorted((REPO / "solutions").glob("a[0-9]*_*/a[0-9]*_*.ipynb"))
    chosen = []
    for name in wanted:
        match = [p for p in every if p.stem == name or p.stem.startswith(f"{name.zfill(2)}_")] or [
            p for p in assignments if p.stem == name or p.stem.startswith(f"{name}_")]
        if not match:
            raise SystemExit(f"error: no lesson or assignment {name!r}; the lessons are {', '.join(p.stem for p in every)}, "
                             f"the assignments {', '.join(p.stem for p in assignments)}")
        chosen += match
    return chosen


def _busy_ticks() -> int:
    """Clock ticks all CPUs have spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_lesson(path: Path, smoke: bool) -> dict:
    """Execute one lesson in a fresh kernel; its wall seconds, kernel CPU seconds and others' busy cores."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ["GAN_COURSE_SMOKE"] = "1" if smoke else "0"
    os.environ.pop("MPLBACKEND", None)  # the kernel draws its figures inline, as in Jupyter
    nb = nbformat.read(path, as_version=4)
    nb.cells = [cell for cell in nb.cells if HIDDEN not in cell.source]  # a student's notebook has none of these
    folder = path.parent
    if folder != SOURCES:  # an assignment writes its grids and runs beside itself: into a copy of its folder
        scratch = tempfile.mkdtemp(prefix="lesson-times-")
        folder = Path(shutil.copytree(path.parent, Path(scratch) / path.parent.name))
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    ticks, own, children = _busy_ticks(), _cpu_seconds(resource.RUSAGE_SELF), _cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1][:200]
    wall = time.perf_counter() - start
    if folder != path.parent:
        shutil.rmtree(folder.parent, ignore_errors=True)
    kernel = _cpu_seconds(resource.RUSAGE_CHILDREN) - children
    ours = kernel + _cpu_seconds(resource.RUSAGE_SELF) - own
    others = max(0.0, (_busy_ticks() - ticks) / os.sysconf("SC_CLK_TCK") - ours) / wall
    return {"lesson": path.stem, "smoke": smoke, "seconds": round(wall, 1), "kernel_cpu_seconds": round(kernel, 1),
            "others_busy_cores": round(others, 2), "error": error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("lessons", nargs="*", help="lesson numbers or names, assignment ids or their starts such as a2 "
                        "(default: every lesson)")
    parser.add_argument("--smoke", action="store_true", help="smoke mode (GAN_COURSE_SMOKE=1), as the tests run them")
    parser.add_argument("--busy", action="store_true", help="beside one busy-loop process per core")
    args = parser.parse_args(argv)
    if not Path("/proc/stat").exists():
        raise SystemExit("error: lesson_times.py reads the load from /proc/stat: run it on Linux")
    chosen = lessons(args.lessons)

    import reference  # noqa: F401 - before torch, as the lessons do: the course's CPU settings, inherited by the kernels
    from reference.cpu import busy_loops
    from reference.figures import hardware

    cores = os.cpu_count() or 1
    print(f"{len(chosen)} lesson(s), {'smoke' if args.smoke else 'full'} mode, on {hardware()}"
          f"{f', beside {cores} busy-loop processes' if args.busy else ''}", file=sys.stderr)
    results = []
    with busy_loops(cores if args.busy else 0, settle=1.0 if args.busy else 0.0):
        print(f"{'lesson':32s} {'wall':>8s} {'kernel CPU':>11s} {'others busy':>12s}")
        for path in chosen:
            result = run_lesson(path, args.smoke)
            results.append(result)
            note = f"   FAILED: {result['error']}" if result["error"] else ""
            print(f"{result['lesson']:32s} {result['seconds']:7.1f}s {result['kernel_cpu_seconds']:10.1f}s "
                  f"{result['others_busy_cores']:8.2f} cores{note}", flush=True)
    print(json.dumps({"hardware": hardware(), "busy_loops": cores if args.busy else 0, "lessons": results}))
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
