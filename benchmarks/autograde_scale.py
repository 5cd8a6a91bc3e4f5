"""How sandboxed grading scales: its overhead, --jobs on 2 cores, and a class of 40 on busy cores.

    python benchmarks/autograde_scale.py            # everything (about 40 minutes on 2 idle cores)
    python benchmarks/autograde_scale.py --quick    # smaller numbers, to see that it runs
    python benchmarks/autograde_scale.py --only throughput   # one part: overhead, throughput or class

In one run, in temporary copies of the course:

1. Overhead: the a1 and a2 solutions graded in process (cells and checks in one fresh Python
   process, what `nbgrader autograde` does with its fresh kernel) and by `grade_submission` in the
   sandbox, each 3 times (median).
   Target: the sandbox adds under 2 s or under 10%.
2. Throughput: the same correct a2 submissions graded with --jobs 1 and --jobs 2.
   Target: --jobs 2 at least 1.7x as many submissions per minute on 2 cores.
3. A class: 40 mixed a2 submissions (correct ones written two ways, the untouched student version,
   a generator without its tanh) by `gan-course autograde --jobs 2`, on idle cores and again with
   one busy-loop process per core beside it. Target: every correct submission full marks both times.

Both sides of grading run one thread per submission (reference/grading/sandbox.py), so the
figures do not depend on the thread count.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import reference  # noqa: F401 - before torch: the course's CPU settings
import nbformat
import torch

from reference.cpu import busy_loops
from reference.grading.notebook import answered
from reference.grading.runner import grade_many, grade_submission
from reference.grading.sandbox import sandbox_problem

ROOT = Path(__file__).resolve().parents[1]
A2 = "a2_conv_layers"
VARIANTS = {  # a2's deeper_generator cell, written other ways
    "correct_elsewhere": '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        given = list(Generator(nz, ngf, channels=1, size=28).main)
        block = lambda c: [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        self.main = nn.Sequential(*given[:4], *block(ngf * 4), *given[4:10], *block(ngf), *given[10:])

    def forward(self, z):
        return self.main(z)
''',
    "no_tanh": '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        given = list(Generator(nz, ngf, channels=1, size=28).main)
        block = lambda c: [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        self.main = nn.Sequential(*given[:7], *block(ngf * 2), *given[7:11])

    def forward(self, z):
        return self.main(z)
''',
}
CORRECT = ("solution", "correct_elsewhere")


def _env(**extra: str) -> dict:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra}
    env.pop("GAN_COURSE_ROOT", None)
    return env


def _course(tmp: Path, assignment: str, label: str = "") -> Path:
    course = tmp / f"course-{assignment}{label}"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "tests" / "autograders", course / "tests" / "autograders", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    done = subprocess.run(["nbgrader", "generate_assignment", assignment, "--force"], cwd=course, env=_env(), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"error: nbgrader generate_assignment {assignment} failed: {done.stderr[-500:]}")
    return course


def _notebook(course: Path, assignment: str, kind: str) -> nbformat.NotebookNode:
    release = course / "assignments" / assignment / f"{assignment}.ipynb"
    if kind == "blank":
        return nbformat.read(release, as_version=4)
    nb = answered(release, course / "solutions" / assignment / f"{assignment}.ipynb")
    if kind in VARIANTS:
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "deeper_generator":
                cell.source = VARIANTS[kind].strip() + "\n"
    return nb


def _submit(course: Path, assignment: str, students: dict[str, str]) -> list[tuple[str, Path]]:
    subs = []
    for student, kind in students.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(_notebook(course, assignment, kind), folder / f"{assignment}.ipynb")
        subs.append((student, folder / f"{assignment}.ipynb"))
    return subs


IN_PROCESS = """
import json, sys, torch
torch.set_num_threads(1)
from reference.grading.local import grade_in_process
results = grade_in_process(sys.argv[1], sys.argv[2], sys.argv[3])
print(json.dumps(sum(points for points, _ in results.values())))
"""


def in_process(course: Path, assignment: str, notebook: Path) -> tuple[float, float]:
    """(seconds, score): the cells and the checks in one fresh Python process, as `nbgrader
    autograde` runs them in a fresh kernel per submission (so both sides pay one interpreter
    start and one `import torch`)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", IN_PROCESS, str(notebook), assignment, str(course)],
                          env=_env(OMP_NUM_THREADS="1"), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"error: grading {notebook} in process failed: {done.stderr.strip().splitlines()[-1:]}")
    return seconds, float(done.stdout.strip().splitlines()[-1])


def sandboxed(course: Path, assignment: str, notebook: Path) -> tuple[float, float]:
    start = time.perf_counter()
    record = grade_submission(notebook, assignment, course)
    return time.perf_counter() - start, sum(c["earned"] for c in record["checks"].values())


def overhead(tmp: Path, reps: int) -> bool:
    torch.set_num_threads(1)
    met = True
    for assignment in ("a1_theory", A2):
        course = _course(tmp, assignment)
        ((_, notebook),) = _submit(course, assignment, {"solution": "solution"})
        local, box = [], []
        for _ in range(reps):  # alternate, so that a change in load hits both
            local.append(in_process(course, assignment, notebook))
            box.append(sandboxed(course, assignment, notebook))
        t_local, t_box = statistics.median(t for t, _ in local), statistics.median(t for t, _ in box)
        extra = t_box - t_local
        ok = extra < 2.0 or extra < 0.1 * t_local
        met &= ok
        print(
            f"overhead {assignment}: in process {t_local:.1f} s (score {local[0][1]:g}), sandboxed {t_box:.1f} s "
            f"(score {box[0][1]:g}): +{extra:.1f} s ({100 * extra / t_local:+.0f}%), target < 2 s or 10%: {'PASS' if ok else 'MISS'}"
        )
    return met


def throughput(tmp: Path, n: int) -> bool:
    course = _course(tmp, A2, "-jobs")
    subs = _submit(course, A2, {f"s{k:02d}": CORRECT[k % 2] for k in range(n)})
    seconds = {}
    for jobs in (1, 2):
        start = time.perf_counter()
        records = grade_many(subs, A2, course, jobs=jobs)
        seconds[jobs] = time.perf_counter() - start
        scores = sorted({sum(c["earned"] for c in r["checks"].values()) for r in records})
        print(f"--jobs {jobs}: {n} correct a2 submissions in {seconds[jobs]:.0f} s ({60 * n / seconds[jobs]:.1f} per minute), scores {scores}")
    ratio = seconds[1] / seconds[2]
    print(f"throughput --jobs 2 / --jobs 1: {ratio:.2f}x, target >= 1.7x: {'PASS' if ratio >= 1.7 else 'MISS'}")
    return ratio >= 1.7


def a_class(tmp: Path, n: int, busy: bool) -> bool:
    kinds = ["solution", "correct_elsewhere", "blank", "no_tanh"]
    course = _course(tmp, A2, f"-class-{'busy' if busy else 'idle'}")
    students = {f"s{k:02d}": kinds[k % len(kinds)] for k in range(n)}
    _submit(course, A2, students)
    with busy_loops((os.cpu_count() or 2) if busy else 0, settle=1.0 if busy else 0.0):
        start = time.perf_counter()
        done = subprocess.run(["gan-course", "autograde", A2, "--jobs", "2", "--no-progress"], cwd=course, env=_env(), capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"error: gan-course autograde failed: {done.stderr[-800:]}")
    subprocess.run(["nbgrader", "export", "--to", "grades.csv"], cwd=course, env=_env(), capture_output=True, check=True)
    with open(course / "grades.csv", newline="") as f:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    full = max(scores.values())
    wrong = [s for s, kind in students.items() if kind in CORRECT and scores[s] != full]
    by_kind = {kind: sorted({scores[s] for s, k in students.items() if k == kind}) for kind in kinds}
    where = f"beside {os.cpu_count()} busy loops" if busy else "on idle cores"
    print(f"{n} mixed a2 submissions {where}: {seconds / 60:.1f} min ({seconds / n:.1f} s each); scores by kind {by_kind}")
    print(f"  every correct submission full marks ({full:g}): {'PASS' if not wrong else 'MISS: ' + ', '.join(wrong)}")
    return not wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 reps -> 1, 6 throughput submissions -> 2, a class of 40 -> 4")
    parser.add_argument("--only", choices=["overhead", "throughput", "class"], help="run one part (the class: idle and busy)")
    args = parser.parse_args()
    if problem := sandbox_problem():
        print(f"error: {problem}", file=sys.stderr)
        return 2
    print(f"{os.cpu_count()} CPUs; torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="autograde-scale-") as tmp:
        tmp = Path(tmp)
        parts = {
            "overhead": lambda: [overhead(tmp, 1 if args.quick else 3)],
            "throughput": lambda: [throughput(tmp, 2 if args.quick else 6)],
            "class": lambda: [a_class(tmp, 4 if args.quick else 40, busy=False), a_class(tmp, 4 if args.quick else 40, busy=True)],
        }
        results = [ok for name, part in parts.items() if args.only in (None, name) for ok in part()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
