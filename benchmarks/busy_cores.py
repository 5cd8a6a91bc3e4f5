"""Training on busy cores: the course's CPU choice against PyTorch's default, PASSIVE and one thread.

Classes run on shared cores (a JupyterHub node, a lab PC, a grading host, a CI runner). This
script runs three jobs in fresh processes under four settings, first on idle cores, then with
one busy-loop process per core beside them, and prints how fast each setting was:

- jobs: `main`, the README's main job shortened (`gan-course train`: dcgan on digits, 2 epochs
  of 22 steps, files and all); `mlp`, the MNIST MLP GAN (`gan-course train --model mlp
  --dataset mnist --max-images 19200`: 300 steps; digits where MNIST is missing); `learning`, one run of
  an assignment's grade-time learning check (`reference.grading.learning.learning_run`: the
  dcgan at ngf = ndf = 16 for 150 steps of batch 32 on the digits, scored every 50 steps; a2's
  hidden check makes two or three such runs of 300 steps).
- settings: `course`, what `import reference` chooses (reference/cpu.py: OpenMP's default wait
  on idle cores, PASSIVE where other processes keep cores busy when it starts; threads from the
  usable cores and, when a run starts, the load and the size of its steps); `default`, PyTorch's own defaults (GAN_COURSE_CPU=torch);
  `passive`, OMP_WAIT_POLICY=PASSIVE; `one-thread`, OMP_NUM_THREADS=1. Each child process gets
  a clean environment (no OMP_* or GOMP_* from this shell) plus its setting.

Every job in every setting runs once per round, the settings in a rotating order, so a change
in the machine's other load hits all of them alike; each figure is the median of the rounds,
timed inside the child: the training jobs by the epoch times gan-course writes to metrics.csv
(start-up, data loading and files excluded), the learning check around `learning_run`. Targets: on
busy cores the course's choice is at least 0.9x the best of default, PASSIVE and one thread;
on idle cores at least 0.95x PyTorch's default (the speed the README's figures were taken at).

    python benchmarks/busy_cores.py              # about 15 minutes on 2 cores
    python benchmarks/busy_cores.py --quick      # a smoke test, a minute
    python benchmarks/busy_cores.py --extra spin10k:GOMP_SPINCOUNT=10000   # try another setting too

The last line of output is one JSON object with every number in the tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOBS = ("main", "mlp", "learning")
SETTINGS = {
    "course": {},
    "default": {"GAN_COURSE_CPU": "torch"},
    "passive": {"GAN_COURSE_CPU": "torch", "OMP_WAIT_POLICY": "PASSIVE"},
    "one-thread": {"GAN_COURSE_CPU": "torch", "OMP_NUM_THREADS": "1"},
}
CLEARED = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "KMP_BLOCKTIME",
           "GAN_COURSE_CPU", "GAN_COURSE_THREADS")  # fmt: skip
BUSY_TARGET, IDLE_TARGET = 0.9, 0.95
# job -> (full size, quick size): epochs of the main job, MNIST images of the mlp, learning-check steps
SIZES = {"main": (2, 1), "mlp": (19200, 640), "learning": (150, 4)}


# ---- the child: one job, timed ---------------------------------------------------------------


def run_job(job: str, size: int, data_dir: str, quick: bool, scratch: Path) -> dict:
    """Run `job` in this process and return its seconds and the CPU settings it ran with."""
    import reference  # noqa: F401 - first, before torch, exactly as the gan-course command does

    import torch

    from reference.cli import main as cli

    out = scratch / f"run-{os.getpid()}"
    if job == "learning":
        from reference.grading.learning import learning_run, reference_and_known
        from reference.models.dcgan import build

        reference_and_known("digits")  # the classifier cached by the parent's warm-up in GAN_COURSE_GRADING_CACHE
        torch.manual_seed(0)
        G, D = build((1, 28, 28), 100, ngf=16, ndf=16)
        start = time.perf_counter()
        learning_run(G, D, "digits", nz=100, steps=size, seed=0)
    else:
        argv = ["train", "--out", str(out), "--device", "cpu", "--no-progress"]
        if job == "main":
            argv += ["--epochs", str(size)] + (["--max-images", "128"] if quick else [])
        else:
            dataset = "mnist" if mnist_present(data_dir) else "digits"
            argv += ["--model", "mlp", "--dataset", dataset, "--max-images", str(size), "--data-dir", data_dir, "--epochs", "1"]
        if cli(argv) != 0:
            raise SystemExit(f"gan-course {' '.join(argv)} failed")
        with open(out / "metrics.csv", newline="") as f:  # the epochs' own training time, as gan-course logs it
            seconds = sum(float(row["seconds"]) for row in csv.DictReader(f))
        threads = json.loads((out / "config.json").read_text())["threads"]  # what the run chose, not torch's count after it
        shutil.rmtree(out)
        return {"seconds": seconds, **cpu_settings(torch), "threads": threads}
    return {"seconds": time.perf_counter() - start, **cpu_settings(torch)}


def cpu_settings(torch) -> dict:
    """The threads and OpenMP wait settings this child ran with."""
    return {"threads": torch.get_num_threads(), "spin": os.environ.get("GOMP_SPINCOUNT"),
            "wait_policy": os.environ.get("OMP_WAIT_POLICY")}  # fmt: skip


def mnist_present(data_dir: str) -> bool:
    raw = Path(data_dir) / "MNIST" / "raw"
    return all((raw / f).is_file() or (raw / f"{f}.gz").is_file() for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"))


# ---- the parent: settings, rounds, load ------------------------------------------------------


def child_env(setting: dict[str, str], cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(setting)
    env["GAN_COURSE_CACHE"] = env["GAN_COURSE_GRADING_CACHE"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_child(job: str, setting: dict[str, str], args: argparse.Namespace, scratch: Path) -> dict:
    size = SIZES[job][1 if args.quick else 0] if job in SIZES else 0
    cmd = [sys.executable, str(Path(__file__).resolve()), "--job", job, "--size", str(size), "--data-dir", args.data_dir,
           "--scratch", str(scratch)] + (["--quick"] if args.quick else [])  # fmt: skip
    done = subprocess.run(cmd, env=child_env(setting, scratch / "grading"), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"busy_cores: the {job} job failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(phase: str, settings: dict[str, dict], args: argparse.Namespace, scratch: Path) -> dict:
    """{setting: {job: {"seconds": median, "all": [...], "threads": n}}} over args.rounds rounds."""
    names = list(settings)
    results: dict[str, dict[str, dict]] = {s: {j: {"all": []} for j in JOBS} for s in names}
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate: no setting always goes first
        for name in order:
            for job in JOBS:
                got = run_child(job, settings[name], args, scratch)
                entry = results[name][job]
                entry["all"].append(round(got["seconds"], 3))
                entry.update(threads=got["threads"], spin=got["spin"], wait_policy=got["wait_policy"])
                print(f"  {phase:5s} round {r + 1}/{args.rounds} {name:11s} {job:9s} {got['seconds']:8.2f} s", file=sys.stderr, flush=True)
    for name in names:
        for job in JOBS:
            results[name][job]["seconds"] = round(statistics.median(results[name][job]["all"]), 3)
    return results


def report(idle: dict, busy: dict, cores: int, mlp_data: str) -> dict:
    """Print both tables and the verdicts; return the ratios."""
    others = [s for s in busy if s not in ("course",) and s in SETTINGS]
    ratios: dict[str, dict] = {}
    print(f"\nSeconds per job (median of rounds); {cores} cores; busy = one busy-loop process per core beside the job")
    print(f"jobs: main = gan-course train, 2 epochs of dcgan on digits; mlp = mlp on {mlp_data}, 300 steps; "
          f"learning = a2's learning check, 150 steps")  # fmt: skip
    header = f"{'setting':<12}{'threads*':>9}" + "".join(f"{phase + ' ' + job:>16}" for phase in ("idle", "busy") for job in JOBS)
    print(header)
    for name in busy:
        cells = "".join(f"{table[name][job]['seconds']:>16.2f}" for table in (idle, busy) for job in JOBS)
        threads = f"{idle[name]['main']['threads']}/{busy[name]['main']['threads']}"
        print(f"{name:<12}{threads:>9}{cells}")
    print("* threads of the main job's run, idle/busy (the learning check chooses its own the same way)\n")
    ok = True
    for job in JOBS:
        best_name = min(others, key=lambda s: busy[s][job]["seconds"])
        busy_ratio = busy[best_name][job]["seconds"] / busy["course"][job]["seconds"]
        idle_ratio = idle["default"][job]["seconds"] / idle["course"][job]["seconds"]
        slowdown = busy["default"][job]["seconds"] / busy["course"][job]["seconds"]
        ratios[job] = {"busy_vs_best": round(busy_ratio, 3), "best_other_busy": best_name,
                       "idle_vs_default": round(idle_ratio, 3), "busy_default_vs_course": round(slowdown, 2)}  # fmt: skip
        passed = busy_ratio >= BUSY_TARGET and idle_ratio >= IDLE_TARGET
        ok &= passed
        print(f"{'PASS' if passed else 'MISS'}  {job:9s} busy: course {busy_ratio:.2f}x the best other ({best_name}; "
              f"target >= {BUSY_TARGET}), {slowdown:.1f}x PyTorch's default; idle: {idle_ratio:.2f}x PyTorch's default "
              f"(target >= {IDLE_TARGET})")  # fmt: skip
    return {"ratios": ratios, "all_pass": ok}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("GAN_COURSE_DATA") or str(Path.home() / ".cache/gan-course/data"),
                   help="data root holding MNIST/raw (default $GAN_COURSE_DATA); digits are used where MNIST is missing")
    p.add_argument("--rounds", type=int, default=3, help="rounds per phase (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="tiny jobs and one round: a smoke test, not a measurement")
    p.add_argument("--extra", action="append", default=[], metavar="NAME:VAR=VALUE[,VAR=VALUE]",
                   help="another setting to measure beside the four (e.g. spin10k:GOMP_SPINCOUNT=10000)")
    p.add_argument("--job", choices=JOBS + ("prepare",), help=argparse.SUPPRESS)  # child mode
    p.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--scratch", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick and "--rounds" not in (argv or sys.argv):
        args.rounds = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.job == "prepare":
        from reference.metrics.quick_fid import reference_set

        reference_set("digits")
        print(json.dumps({"seconds": 0.0, "threads": 0, "spin": None, "wait_policy": None}))
        return 0
    if args.job:
        print(json.dumps(run_job(args.job, args.size, args.data_dir, args.quick, Path(args.scratch))))
        return 0
    settings = dict(SETTINGS)
    for spec in args.extra:
        name, _, assignments = spec.partition(":")
        settings[name] = dict(a.split("=", 1) for a in assignments.split(",") if a)
    cores = os.cpu_count() or 1
    mlp_data = "MNIST" if mnist_present(args.data_dir) else "digits (MNIST not found)"
    with tempfile.TemporaryDirectory(prefix="busy-cores-") as tmp:
        scratch = Path(tmp)
        run_child("prepare", {}, args, scratch)  # the learning check's classifier, trained once
        print(f"idle cores: {args.rounds} round(s) of {len(JOBS)} jobs x {len(settings)} settings", file=sys.stderr)
        idle = measure("idle", settings, args, scratch)
        from reference.cpu import busy_loops  # here, not at the top: a child imports reference itself, first

        with busy_loops(cores):
            busy = measure("busy", settings, args, scratch)
    summary = report(idle, busy, cores, mlp_data)
    print(json.dumps({"cores": cores, "rounds": args.rounds, "quick": args.quick, "mlp_data": mlp_data,
                      "settings": settings, "idle": idle, "busy": busy, **summary}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
