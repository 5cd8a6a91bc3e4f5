"""reference/workdir.py: a lesson's runs do not outlive its kernel, unless the student asks to keep them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from reference.errors import UserError
from reference.workdir import RUNS_ENV, lesson_folder

ROOT = Path(__file__).resolve().parents[1]

MAKE_RUNS = (
    "from reference.workdir import lesson_folder\n"
    "WORK = lesson_folder('02')\n"
    "(WORK / 'run').mkdir()\n"
    "(WORK / 'run' / 'metrics.csv').write_text('epoch\\n1\\n')\n"
    "print(WORK, flush=True)\n"  # flushed: a process killed before it exits prints nothing it buffered
)


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def test_the_runs_of_a_notebook_are_removed_when_its_kernel_shuts_down(tmp_path: Path, monkeypatch):
    """What a student's "Restart Kernel" or "Shut Down" does: the kernel exits, and its runs go."""
    monkeypatch.delenv(RUNS_ENV, raising=False)  # the kernel inherits this process's environment
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(MAKE_RUNS)])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    work = Path(nb.cells[0].outputs[0]["text"].strip())
    assert work.name.startswith("gan-course-02-")
    assert not work.exists(), f"{work} outlived the kernel that made it"


def test_a_process_that_exits_removes_its_runs_and_they_live_until_then():
    code = MAKE_RUNS + "import pathlib; assert (WORK / 'run' / 'metrics.csv').is_file()\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=_env(**{RUNS_ENV: None}), check=True).stdout
    work = Path(out.strip())
    assert work.name.startswith("gan-course-02-") and not work.exists()


def test_removing_the_runs_at_exit_warns_of_nothing_in_development_mode():
    """`python -W error -X dev` (or PYTHONWARNINGS=error): the folder was a TemporaryDirectory left for its
    finalizer, which warns "Implicitly cleaning up" (a ResourceWarning), so every script or kernel that made one
    ended in a traceback printed at exit."""
    done = subprocess.run([sys.executable, "-W", "error", "-X", "dev", "-c", MAKE_RUNS], capture_output=True, text=True,
                          cwd=ROOT, env=_env(**{RUNS_ENV: None}))
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    assert not Path(done.stdout.strip()).exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on Windows")
def test_the_runs_of_a_killed_kernel_are_removed_by_the_next_lesson_and_no_others(tmp_path: Path):
    """A kernel that never ran its exit handlers (killed for lack of memory on a JupyterHub with a memory limit,
    "The kernel appears to have died"; or killed by Jupyter when its shutdown request failed, as under
    PYTHONWARNINGS=error) left its runs in /tmp for good, one more folder for each such kernel. The next
    `lesson_folder` removes them; a live process's folder, and folders it did not make, stay."""
    env = _env(**{RUNS_ENV: None}, TMPDIR=str(tmp_path))
    killed = subprocess.run([sys.executable, "-c", MAKE_RUNS + "import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n"],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    dead = Path(killed.stdout.strip())
    assert dead.parent == tmp_path and (dead / "run" / "metrics.csv").is_file()
    other = tmp_path / "gan-course-03-notmine"  # a folder of the same name that lesson_folder did not make
    (other / "run").mkdir(parents=True)
    with subprocess.Popen([sys.executable, "-c", MAKE_RUNS + "import sys; sys.stdout.flush(); sys.stdin.read()\n"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env) as live:
        alive = Path(live.stdout.readline().strip())  # lives until its stdin closes
        assert alive.parent == tmp_path and (alive / "run" / "metrics.csv").is_file()
        subprocess.run([sys.executable, "-c", MAKE_RUNS], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
        assert not dead.exists(), "the killed process's runs outlived the next lesson"
        assert (alive / "run" / "metrics.csv").is_file(), "a live process's runs were removed"
        assert (other / "run").is_dir(), "a folder lesson_folder did not make was removed"
    assert not alive.exists()


def test_GAN_COURSE_RUNS_keeps_every_run_of_the_notebook_in_a_fresh_folder(tmp_path: Path):
    keep = tmp_path / "my runs"
    outs = [subprocess.run([sys.executable, "-c", MAKE_RUNS], capture_output=True, text=True, cwd=ROOT,
                           env=_env(**{RUNS_ENV: str(keep)}), check=True).stdout.strip() for _ in range(2)]
    first, second = map(Path, outs)
    assert first != second and first.parent == second.parent == keep
    assert first.name.startswith("02-") and second.name.startswith("02-")
    assert (first / "run" / "metrics.csv").read_text() == "epoch\n1\n"  # kept after the process ended
    assert (second / "run" / "metrics.csv").is_file()


def test_a_GAN_COURSE_RUNS_that_cannot_hold_folders_is_one_line_naming_the_variable(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(RUNS_ENV, str(blocker))
    with pytest.raises(UserError) as err:
        lesson_folder("03")
    message = str(err.value)
    assert "\n" not in message and RUNS_ENV in message and "unset it" in message


@pytest.mark.parametrize("folder", ["lessons", "solutions/lessons"])
def test_no_lesson_leaves_a_temporary_folder_behind(folder: str):
    """Every lesson trains in `lesson_folder`: a tempfile.mkdtemp of its own was never removed (each
    smoke run of the lessons left about 400 MB in /tmp)."""
    for path in sorted((ROOT / folder).glob("0*.ipynb")):
        code = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                         for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert "mkdtemp" not in code, f"{path.name} makes a temporary folder that nothing removes"
        if "WORK =" in code:
            assert "lesson_folder(" in code, path.name


def test_a_full_disk_in_a_lessons_temporary_folder_says_how_to_move_the_runs(tmp_path: Path, monkeypatch):
    """A notebook's run in the lesson's temporary folder on a full disk was told "resume with --resume
    /tmp/gan-course-02-.../run": a command-line flag, for a folder that goes with the kernel (red-team finding). It is
    told to run the cell again or set GAN_COURSE_RUNS; a kept folder keeps the --resume advice."""
    import errno

    import reference.workdir as workdir
    from reference.trainer import writing

    monkeypatch.setattr(workdir.tempfile, "tempdir", str(tmp_path))  # this test's own temporary folder
    monkeypatch.delenv(RUNS_ENV, raising=False)
    work = lesson_folder("02")
    assert workdir.in_temporary_lesson_folder(work / "run" / "last.pt")
    kept = tmp_path / "kept"
    monkeypatch.setenv(RUNS_ENV, str(kept))
    assert not workdir.in_temporary_lesson_folder(lesson_folder("02") / "run" / "last.pt")
    assert not workdir.in_temporary_lesson_folder(tmp_path / "gan-course-02-lookalike" / "run")  # no lock file: not ours

    def full(path):
        with pytest.raises(UserError) as err, writing(path, f"resume with --resume {path.parent}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return str(err.value)

    told = full(work / "run" / "last.pt")
    assert told == (f"no space left on device while writing {work / 'run' / 'last.pt'}; free some space, then run the "
                    f"cell again, or set {RUNS_ENV} to a folder on a disk with space (os.environ['{RUNS_ENV}'] = '...' "
                    f"in a cell above WORK = lesson_folder(...)) and run the notebook again")
    assert full(kept / "run" / "last.pt").endswith(f"then resume with --resume {kept / 'run'}")
