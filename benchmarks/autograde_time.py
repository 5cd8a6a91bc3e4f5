"""Time autograding each assignment's solution, as nbgrader does it and with plain pytest.

    python benchmarks/autograde_time.py                       # every assignment in solutions/
    python benchmarks/autograde_time.py a3_save_every_10_epochs --submissions 3

For each assignment, in a temporary copy of the course: `nbgrader generate_assignment`, N copies of
the solution submitted as students s1..sN, then `nbgrader autograde` timed (each submission's cells
run in the sandbox, as the course's nbgrader_config.py has nbgrader do, with NBGRADER_EXECUTION=autograde;
every test cell's check). Prints
seconds per submission (nbgrader's own start-up shared over N), the score, and the time of
the same grading with cells and checks in this process
(`reference.grading.local.grade_in_process`). Target: under 60 s per submission on 2 CPU cores.
`benchmarks/autograde_scale.py` times `gan-course autograde`, the sandboxed way.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from reference.grading.notebook import answered

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def nbgrader(course: Path, *args: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GAN_COURSE_ROOT", None)
    result = subprocess.run(["nbgrader", *args], cwd=course, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: nbgrader {' '.join(args)} failed: {result.stderr.strip().splitlines()[-1:]}")


def time_nbgrader(assignment: str, n: int) -> tuple[float, list[float]]:
    """(seconds of `nbgrader autograde` for n solution submissions, their scores)."""
    with tempfile.TemporaryDirectory(prefix="autograde-time-") as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "tests" / "autograders", course / "tests" / "autograders", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
        nbgrader(course, "generate_assignment", assignment, "--force")
        nb = answered(course / "assignments" / assignment / f"{assignment}.ipynb", course / "solutions" / assignment / f"{assignment}.ipynb")
        for k in range(1, n + 1):
            folder = course / "submitted" / f"s{k}" / assignment
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
            (folder / "timestamp.txt").write_text("2026-11-23 10:00:00.000000 UTC")
        start = time.perf_counter()
        nbgrader(course, "autograde", assignment, "--create", "--force")
        seconds = time.perf_counter() - start
        nbgrader(course, "export", "--to", "grades.csv")
        with open(course / "grades.csv", newline="") as f:
            scores = [float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == assignment]
    return seconds, scores


def time_in_process(assignment: str) -> tuple[float, float]:
    """(seconds, score) of grade_notebook on the solution notebook in this process."""
    from reference.grading.local import grade_in_process

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the notebook's own prints
        results = grade_in_process(ROOT / "solutions" / assignment / f"{assignment}.ipynb", assignment, ROOT)
    return time.perf_counter() - start, sum(points for points, _ in results.values())


def main() -> int:
    ids = sorted(p.parent.name for p in ROOT.glob("solutions/*/*.ipynb") if p.stem == p.parent.name)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=ids, help=f"default: all ({', '.join(ids)})")
    parser.add_argument("--submissions", type=int, default=1, help="solution copies graded per assignment (default 1)")
    args = parser.parse_args()
    unknown = sorted(set(args.assignments) - set(ids))
    if unknown:
        print(f"error: no assignment {unknown[0]!r} in solutions/; choose from: {', '.join(ids)}", file=sys.stderr)
        return 2
    print(f"{os.cpu_count()} CPUs, torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}")
    slow = False
    for assignment in args.assignments:
        seconds, scores = time_nbgrader(assignment, args.submissions)
        per = seconds / args.submissions
        local, local_score = time_in_process(assignment)
        slow |= per >= TARGET_S
        print(
            f"{assignment}: {per:.1f} s per submission with nbgrader autograde ({args.submissions} graded, "
            f"score {', '.join(f'{s:g}' for s in scores)}); {local:.1f} s in process (score {local_score:g}); "
            f"target < {TARGET_S:.0f} s: {'NOT MET' if per >= TARGET_S else 'met'}"
        )
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
