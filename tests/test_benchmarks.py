"""The benchmark scripts run end to end in their --quick mode and write what the lessons and README read.

Their numbers are not checked here (speed has no place in a unit test); their plumbing is: the
mode-collapse CSV and points that lesson 04's figures read, and the throughput report's JSON.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, needs_shared_mnist

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=None if env is None else {**os.environ, **env})


def test_mode_collapse_quick_writes_the_csv_and_points_lesson_04_reads(tmp_path: Path) -> None:
    committed = ROOT / "benchmarks" / "results" / "mode_collapse.csv"
    before = committed.read_bytes()
    done = run_script("benchmarks/mode_collapse.py", "--quick", "--datasets", "ring", "--arms", "gan", "pacgan2",
                      "--workers", "1", env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert committed.read_bytes() == before, "a smoke test must not replace the committed results"
    [out] = tmp_path.glob("mode_collapse_quick-*/mode_collapse.csv")
    assert f"per-run CSV: {out}" in done.stdout
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["dataset"], r["arm"], r["g_steps"]) for r in rows] == [("ring", "gan", "100"), ("ring", "pacgan2", "100")]
    assert all(0 <= int(r["modes_covered"]) <= 8 and r["n_modes"] == "8" for r in rows)
    with np.load(out.with_name("mode_collapse_points.npz")) as points:
        assert sorted(points.files) == ["ring/gan", "ring/pacgan2"]
        assert points["ring/gan"].shape == (2500, 2)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["g_steps"] == 100 and len(report["rows"]) == 2


def test_mode_collapse_update_reruns_one_arm_and_keeps_the_others(tmp_path: Path) -> None:
    out = tmp_path / "mc.csv"
    columns = "dataset,arm,seed,g_steps,batches,batch_size,modes_covered,n_modes,high_quality_pct,reverse_kl,seconds"
    # the old gan row's seconds, 12345.0, is one no quick run takes: a new row cannot be mistaken for it
    out.write_text(f"{columns}\nring,mbstd,0,100,100,100,5,8,1.0,0.5,1.0\nring,gan,0,100,100,100,1,8,0.0,inf,12345.0\n")
    kept_points = np.full((2500, 2), 7.0, dtype=np.float32)
    np.savez(tmp_path / "mc_points.npz", **{"ring/mbstd": kept_points, "ring/gan": kept_points})
    done = run_script("benchmarks/mode_collapse.py", "--quick", "--update", "--datasets", "ring", "--arms", "gan",
                      "--workers", "1", "--csv", str(out))
    assert done.returncode == 0, done.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["arm"], r["modes_covered"]) for r in rows][1] == ("mbstd", "5"), "the mbstd row must be kept as it was"
    assert rows[0]["arm"] == "gan" and rows[0]["seconds"] != "12345.0", "the gan row must be the new run, sorted first"
    with np.load(tmp_path / "mc_points.npz") as points:
        assert np.array_equal(points["ring/mbstd"], kept_points) and not np.array_equal(points["ring/gan"], kept_points)
    assert "1 row kept" in done.stdout
    out.write_text(f"{columns}\nring,mbstd,0,500,500,100,5,8,1.0,0.5,1.0\n")
    done = run_script("benchmarks/mode_collapse.py", "--quick", "--update", "--arms", "gan", "--csv", str(out))
    assert done.returncode != 0 and "500 generator steps, not 100" in done.stderr, done.stderr


@needs_shared_mnist
def test_train_throughput_quick_reports_both_targets() -> None:
    done = run_script("benchmarks/train_throughput.py", "--quick", "--data-dir", str(SHARED_DATA))
    assert done.returncode == 0, done.stderr
    assert "mlp ratio" in done.stdout and "of the matmul peak" in done.stdout
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["model"] for r in report["throughput"]] == ["mlp", "dcgan"]
    assert all(r["reference_img_s"] > 0 and r["plain_img_s"] > 0 for r in report["throughput"])
    assert 0 < report["dcgan_efficiency"][0]["fraction_of_peak"]


def test_train_throughput_without_mnist_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_script("benchmarks/train_throughput.py", "--quick", "--data-dir", str(tmp_path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "MNIST" in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_metric_sanity_without_mnist_gives_advice_the_script_can_follow(tmp_path: Path) -> None:
    """It said '... or use --dataset digits': the library's advice, a flag this script lacks (it scores MNIST only)."""
    root = tmp_path / "no mnist here"
    done = run_script("benchmarks/metric_sanity.py", "--data-dir", str(root))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    line = lines[0]
    assert str(root / "MNIST" / "raw") in line, line
    assert "--dataset digits" not in line and "could not be downloaded" not in line, line
    assert line.endswith(f"gan-course train-classifier --dataset mnist --data-dir '{root}'"), line


def _data_layer_line(root: Path) -> str:
    """What the data layer (and so `gan-course train` and `fid`) says of MNIST missing from data root `root`."""
    from reference.data import load_dataset
    from reference.data.sources import MissingDataError

    with pytest.raises(MissingDataError) as caught:
        load_dataset("mnist", root, split="train", download=False)
    return str(caught.value)


def test_metric_sanity_says_what_the_data_layer_says_of_missing_mnist(tmp_path: Path) -> None:
    """It worded a line of its own: where the data layer had found MNIST's files one folder up (--data-dir given the
    MNIST folder itself) and said which --data-dir to pass, the script said MNIST was missing and to download it
    there, a second copy inside the first. Now its line is the data layer's, but for the way out it has no flag for."""
    data = tmp_path / "data"
    (data / "MNIST" / "raw").mkdir(parents=True)
    (data / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"")  # what the data layer looks for, one folder up
    done = run_script("benchmarks/metric_sanity.py", "--data-dir", str(data / "MNIST"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, (done.stdout, done.stderr)
    assert done.stderr == f"metric_sanity: {_data_layer_line(data / 'MNIST')}\n", done.stderr
    assert f"pass --data-dir {data} " in done.stderr and "download" not in done.stderr, done.stderr
    empty = tmp_path / "empty"  # nothing near: the data layer's line up to its '--dataset digits', then the script's way out
    done = run_script("benchmarks/metric_sanity.py", "--data-dir", str(empty))
    said = _data_layer_line(empty)
    assert said.endswith(", or use --dataset digits"), said  # the one clause the script replaces (if it changes, so must the script)
    assert done.stderr.startswith(f"metric_sanity: {said.removesuffix(', or use --dataset digits')}; or download MNIST there"), done.stderr


def load_script(name: str):
    """A benchmark script imported as a module (its functions, without running it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_busy_cores():
    return load_script("busy_cores")


def test_lesson_times_picks_lessons_by_number_or_name_and_refuses_unknown_ones() -> None:
    lt = load_script("lesson_times")
    every = lt.lessons([])
    assert [p.stem[:2] for p in every] == [f"{k:02d}" for k in range(1, len(every) + 1)] and len(every) >= 8
    assert [p.stem for p in lt.lessons(["6", "08_training_clinic"])] == ["06_wasserstein_gan", "08_training_clinic"]
    assert [p.stem for p in lt.lessons(["a2", "a6_conditional_gan"])] == ["a2_conv_layers", "a6_conditional_gan"]
    done = run_script("benchmarks/lesson_times.py", "99")
    assert done.returncode != 0 and "no lesson or assignment '99'" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_lesson_times_runs_a_notebook_in_a_fresh_kernel_and_counts_its_cpu(tmp_path: Path) -> None:
    """A notebook that burns about a second of CPU: its kernel's CPU time is counted, its cell failure reported."""
    import nbformat

    lt = load_script("lesson_times")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, time\nassert os.environ['GAN_COURSE_SMOKE'] == '1'\n"
                                  "end = time.process_time() + 1.0\nwhile time.process_time() < end:\n    pass\n"
                                  "open('made.txt', 'w').write('a grid')"),
    ])
    path = tmp_path / "01_burn.ipynb"
    nbformat.write(nb, path)
    result = lt.run_lesson(path, smoke=True)
    assert result["error"] is None and result["lesson"] == "01_burn", result
    assert result["kernel_cpu_seconds"] >= 1.0 and result["seconds"] >= 1.0 and result["others_busy_cores"] >= 0, result
    assert not (tmp_path / "made.txt").exists(), "a notebook outside the lessons wrote into its own folder"
    hidden = nbformat.v4.new_code_cell(f"{lt.HIDDEN}\nraise ValueError('a hidden check ran')\n### END HIDDEN TESTS")
    nb.cells.append(hidden)  # an assignment's hidden check: the student's notebook has none, so it is not run
    nbformat.write(nb, path)
    assert lt.run_lesson(path, smoke=True)["error"] is None
    nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('a failing cell')"))
    nbformat.write(nb, path)
    assert "a failing cell" in lt.run_lesson(path, smoke=True)["error"]


def test_busy_cores_children_run_each_setting_as_asked(tmp_path: Path) -> None:
    """A job in a child process runs under its setting's environment and reports what it ran with."""
    bc = load_busy_cores()
    args = bc.parse_args(["--quick", "--data-dir", str(tmp_path / "no-data")])
    course = bc.run_child("main", bc.SETTINGS["course"], args, tmp_path)
    one = bc.run_child("main", bc.SETTINGS["one-thread"], args, tmp_path)
    default = bc.run_child("main", bc.SETTINGS["default"], args, tmp_path)
    assert course["spin"] is None and course["wait_policy"] in (None, "PASSIVE") and course["seconds"] > 0, course
    assert one["threads"] == 1, one
    assert default["spin"] is None and default["wait_policy"] is None, f"PyTorch's default got the course's spin: {default}"
    passive = bc.run_child("mlp", bc.SETTINGS["passive"], args, tmp_path)
    assert passive["wait_policy"] == "PASSIVE" and passive["seconds"] > 0, passive


def test_busy_cores_verdict_uses_the_best_other_setting_and_the_idle_default(capsys) -> None:
    bc = load_busy_cores()

    def table(**seconds):
        return {name: {job: {"seconds": s, "threads": 2} for job in bc.JOBS} for name, s in seconds.items()}

    idle = table(course=1.0, default=1.0, passive=1.2, **{"one-thread": 1.5})
    ok = bc.report(idle, table(course=2.1, default=8.0, passive=2.5, **{"one-thread": 2.0}), 2, "MNIST")
    assert ok["all_pass"] and ok["ratios"]["main"]["best_other_busy"] == "one-thread", ok
    assert ok["ratios"]["main"]["busy_vs_best"] == round(2.0 / 2.1, 3)
    slow_busy = bc.report(idle, table(course=2.5, default=8.0, passive=2.5, **{"one-thread": 2.0}), 2, "MNIST")
    assert not slow_busy["all_pass"], "0.8x the best other setting on busy cores must MISS"
    slow_idle = bc.report(table(course=1.1, default=1.0, passive=1.2, **{"one-thread": 1.5}),
                          table(course=2.0, default=8.0, passive=2.5, **{"one-thread": 2.0}), 2, "MNIST")  # fmt: skip
    assert not slow_idle["all_pass"], "0.91x PyTorch's default on idle cores must MISS"
    assert "MISS" in capsys.readouterr().out


def test_suite_cpu_counts_what_a_file_starts_and_refuses_unknown_files(tmp_path: Path, capsys) -> None:
    """A file whose test starts a process that burns 1.5 s of CPU is charged for it (in its control
    group, or on the machine where none can be made); a file that is not there is one line and status 2."""
    sc = load_script("suite_cpu")
    burner = tmp_path / "test_burn.py"
    burner.write_text(
        "import subprocess, sys\n\n\n"
        "def test_burns():\n"
        "    code = 'import time\\nend = time.process_time() + 1.5\\nwhile time.process_time() < end: pass'\n"
        "    subprocess.run([sys.executable, '-c', code], check=True)\n"
    )
    row = sc.run_file(str(burner), [])
    assert row["status"] == 0 and row["summary"].startswith("1 passed") and row["how"] in ("cgroup", "machine"), row
    assert row["cpu_s"] >= 1.4, f"the child's 1.5 s of CPU were not counted: {row}"
    assert sc.main(["tests/test_nothing_here.py"]) == 2
    assert sc.main(["--top", "-1", "tests/test_modes.py"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["suite_cpu: error: no test file tests/test_nothing_here.py in " + str(sc.REPO) + "; give paths like tests/test_cli.py",
                   "suite_cpu: error: --top must be 0 (all) or more"]
