"""pytest settings for the whole repository: `pytest`, `pytest tests/...` and `pytest solutions/lessons/...`.

The cache and the runs. `pytest_configure` points $GAN_COURSE_CACHE (where trained classifiers go,
see reference/cache.py) at a fresh temporary folder for the session, unless the caller set it, so
that no test, and no lesson kernel or command that a test starts, writes into the real ~/.cache;
and $GAN_COURSE_RUNS (where the lessons train, reference/workdir.py) too: nbval kills its kernels,
so a lesson's own temporary folder would outlive it. Both are removed when the session ends. Under pytest-xdist the controller makes it before it
starts its workers, which inherit it: the workers share one cache.

Threads. `pytest` runs on pytest-xdist workers (`-n auto` in pyproject.toml): one per core
(`pytest_xdist_auto_num_workers`: the usable cores, i.e. CPU affinity and container quota, at most
the physical cores, as reference/cpu.py counts them; not psutil's count of the whole machine).
Each worker gets its share of the threads: xdist sets PYTEST_XDIST_WORKER_COUNT in a worker before
it loads any conftest, and `pytest_configure` imports `reference` there before any test module
imports torch, so `reference.cpu.prepare_openmp` sets OMP_NUM_THREADS to `thread_count()`, the
cores divided by the workers. The notebook kernels and commands a worker starts inherit it. The
controller does not import `reference`: it would set the count for all the cores in the
environment that every worker inherits, and a count already set wins.

Order. The files that take longest run first (`LONGEST_FIRST`, with `--no-loadscope-reorder` in
pyproject.toml so that xdist keeps this order): xdist hands a worker its next file while the
current one still has two tests to run, so a long file near the end of the queue went to a busy
worker while the other one ran out of work (30 s idle in a 3.7-minute run).

This file lives in the repository root, not in tests/ and solutions/lessons/, because pytest imports every
conftest.py outside a package as the module `conftest`: a second one there replaced
tests/conftest.py in `sys.modules`, and `from conftest import ...` in the tests then failed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

SESSION_FOLDERS = {  # variable -> prefix: a temporary folder for the session unless the caller set it
    "GAN_COURSE_CACHE": "gan-course-test-cache-",  # trained classifiers (reference/cache.py)
    "GAN_COURSE_RUNS": "gan-course-test-runs-",  # the lessons' runs (reference/workdir.py): nbval kills its kernels
}
_SESSION_MADE: dict[str, str] = {}  # the folders this session made, removed at its end

LONGEST_FIRST = (  # the longest first (seconds on one of 2 busy xdist workers); other files follow in their own order
    "tests/test_grading_a3_save_every_10_epochs.py",  # about 110 submissions graded in this process, each training its runs
    "tests/test_grading_a2_conv_layers.py",  # learning runs for the right and the learning-related wrong submissions
    "tests/test_redteam.py",  # 33 submissions graded in sandboxes, then the plain pytest path
    "tests/test_grading_a6_conditional_gan.py",  # a short conditional run per learning-related submission
    "tests/test_learning.py",  # seeded learning runs of the solution and of generators that cannot learn
    "tests/test_grading_a4_cifar10_port.py",
    "tests/test_grading_a5_wgan_gp.py",
    "tests/test_sandbox_supervision.py",  # limits reached on purpose, in sandboxes
    "tests/test_lessons_student.py",  # each lesson's student version in a fresh kernel
    "tests/test_autograde_command.py",  # gan-course autograde three ways
    "tests/test_nbgrader_workflow.py",  # nbgrader generates, autogrades six submissions, exports
    "tests/test_benchmarks.py",
    "tests/test_autograde_setups.py",
    "tests/test_clinic.py",  # every failure run of the clinic and its fix
    "tests/test_cpu.py",
    "tests/test_cli.py",
    "solutions/lessons/06_wasserstein_gan.ipynb",
    "tests/test_redteam_extra.py",
    "tests/test_grading_a7_diagnose_runs.py",  # two of its runs reproduced
    "tests/test_features.py",
    "tests/test_trainer.py",
    "tests/test_redteam_nbgrader.py",
    "tests/test_distributed.py",
    "tests/test_grading_runtime.py",
    "solutions/lessons/07_conditional_gan.ipynb",
    "solutions/lessons/05_fid_and_inception_score.ipynb",
    "solutions/lessons/08_training_clinic.ipynb",
    "solutions/lessons/04_mode_collapse.ipynb",
    "solutions/lessons/03_dcgan_fashion_mnist.ipynb",
    "tests/test_grading_a1_theory.py",
)


def unreadable_path(paths: dict[str, str]) -> str | None:
    """The first of `paths` ({what: path}) that is not valid UTF-8, as "what (path)", or None.

    A non-ASCII folder name read under an ASCII file system encoding (LC_ALL=C with PYTHONUTF8=0)
    becomes surrogate escapes: pytest-xdist then stops with a page of INTERNALERROR (execnet sends
    the controller's folders to its workers as UTF-8), and tests that read a command's output as
    text fail on the folder's name in it."""
    for what, path in paths.items():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            return f"{what} ({os.fsencode(path).decode('utf-8', 'replace')})"
    return None


def pytest_configure(config: pytest.Config) -> None:
    # the commands and kernels the tests start write what they print at once, as under CI (.ci/run sets it): a test
    # that read what a process printed before it was killed read nothing where the user's shell had not set it
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if not hasattr(config, "workerinput"):  # the controller, or pytest without workers
        bad = unreadable_path({"the temporary folder": tempfile.gettempdir(), "the repository": str(config.rootpath),
                               "the current folder": os.getcwd()})
        if bad:
            raise pytest.UsageError(
                f"{bad} has a name that the file system encoding ({sys.getfilesystemencoding()}) cannot read; "
                f"run pytest with PYTHONUTF8=1 (or LC_ALL=C.UTF-8)"
            )
    for variable, prefix in SESSION_FOLDERS.items():
        if not os.environ.get(variable):  # os.environ: workers, kernels and commands inherit it
            os.environ[variable] = _SESSION_MADE[variable] = tempfile.mkdtemp(prefix=prefix)
    if hasattr(config, "workerinput") or getattr(config.option, "dist", "no") == "no":
        # a process that runs tests (an xdist worker, or pytest without workers): `reference` sets
        # the threads before the first test module imports torch. Not in the controller of workers.
        import reference  # noqa: F401


def pytest_unconfigure(config: pytest.Config) -> None:
    for variable, folder in _SESSION_MADE.items():
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get(variable) == folder:
            del os.environ[variable]
    _SESSION_MADE.clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the files of `LONGEST_FIRST` first, in that order; a stable sort keeps every other file in
    its place and every file's tests (a notebook's cells) in theirs."""
    rank = {path: k for k, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def _cores() -> int:
    """min(usable_cores(), physical_cores()) of reference/cpu.py, which is loaded by its path so
    that the package `reference` is not imported here (see the module docstring)."""
    spec = importlib.util.spec_from_file_location("_gan_course_cpu", Path(__file__).parent / "reference" / "cpu.py")
    cpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cpu)
    return min(cpu.usable_cores(), cpu.physical_cores())


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, unknown where it is not installed
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker per core ($PYTEST_XDIST_AUTO_NUM_WORKERS still wins)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return _cores()
