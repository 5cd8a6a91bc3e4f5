"""The student's path on machines the suite cannot run: Windows and macOS laptops (Apple's MPS), by simulation.

What each platform lacks is taken away from a Linux process, and the student's path (import the course, a
lesson's folder, a short training run and its resume, a lesson's checks in the student's own kernel) must
still work:

- Windows has no fcntl, resource, pwd, grp or termios, no os.getuid, no SIGKILL or SIGALRM, no setitimer,
  no sched_getaffinity; a subprocess runs the path with those modules refused (None in sys.modules), those
  names deleted, and processes started as macOS and Windows start them ("spawn", not fork).
- Windows reads and writes text in the locale's code page (cp1252), not UTF-8, wherever `open()` is given
  no encoding: `python -X warn_default_encoding` names every such call, and none may come from the course's
  student-path modules.
- Windows' `os.fsync` needs a handle that may write, and Windows has no `dir_fd`, `O_DIRECTORY`,
  `O_NOFOLLOW` or `os.scandir(fd)`: simulated here (reference/io.py and reference/grading/submission.py handle both).
- A Mac trains on MPS with `device="auto"`: its generator draws each batch's noise, and its work is queued
  asynchronously. torch.mps is replaced by a stand-in that keeps a state, since no MPS is here.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

# Taken away from the subprocess that plays a Windows machine (before anything of the course is imported).
WINDOWS_LACKS = textwrap.dedent(
    """
    import multiprocessing, os, signal, sys
    multiprocessing.set_start_method("spawn", force=True)  # macOS' and Windows' way to start a process
    for module in ("fcntl", "resource", "pwd", "grp", "termios", "pty"):
        sys.modules[module] = None
    for name in ("getuid", "geteuid", "getgid", "getegid", "sched_getaffinity", "getpgid", "killpg", "setsid"):
        if hasattr(os, name):
            delattr(os, name)
    for name in ("SIGKILL", "SIGALRM", "SIGHUP", "setitimer", "ITIMER_REAL", "alarm"):
        if hasattr(signal, name):
            delattr(signal, name)
    """
)

STUDENT_PATH = textwrap.dedent(
    """
    import dataclasses, warnings
    from pathlib import Path

    flagged = set()  # (file, line) of each open() without an encoding in the course's own modules
    warnings.simplefilter("always", EncodingWarning)
    shown = warnings.showwarning
    def show(message, category, filename, lineno, file=None, line=None):
        if category is EncodingWarning:
            parts = Path(filename).parts
            if "reference" in parts:
                flagged.add("/".join(parts[len(parts) - 1 - parts[::-1].index("reference"):]) + f":{lineno}")
            return
        shown(message, category, filename, lineno, file, line)
    warnings.showwarning = show

    import reference  # noqa: F401
    import reference.grading
    from reference.checkpoint import load_checkpoint
    from reference.grading import grade
    from reference.trainer import TrainConfig, train
    from reference.workdir import lesson_folder

    work = lesson_folder("02")
    cfg = TrainConfig(model="mlp", dataset="digits", epochs=1, batch_size=64, max_images=256, device="cpu",
                      progress=False, seed=0, threads=1)
    run = train(cfg, work / "mlp")
    train(dataclasses.replace(cfg, epochs=2), run, state=load_checkpoint(run))
    rows = (run / "metrics.csv").read_text(encoding="utf-8").splitlines()
    print("epochs trained:", len(rows) - 1)

    import numpy as np
    def optimal_discriminator(log_p_data, log_p_g):
        return np.exp(log_p_data - np.logaddexp(log_p_data, log_p_g))
    namespace = {"optimal_discriminator": optimal_discriminator, "np": np, "__name__": "__main__"}
    grade("lesson_01", "test_optimal_discriminator", namespace)
    grade("lesson_01", "test_optimal_discriminator_in_the_tails", namespace)
    import json
    print("ENCODING", json.dumps(sorted(flagged)))
    """
)


def _run(source: str, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "GAN_COURSE_THREADS": "1"}
    env.pop("GAN_COURSE_RUNS", None)  # the lesson's temporary folder, as a student gets it (no lock without fcntl)
    return subprocess.run([sys.executable, *flags, "-c", source], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def windows_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """The student's path in a process without the POSIX-only modules and names, -X warn_default_encoding."""
    return _run(WINDOWS_LACKS + STUDENT_PATH, tmp_path_factory.mktemp("windows"), "-X", "warn_default_encoding")


def test_the_student_path_needs_no_posix_only_module(windows_run) -> None:
    """Import, a lesson's folder, a run and its resume, a lesson's checks: on Windows none of fcntl, resource,
    pwd, grp, os.getuid, SIGKILL or SIGALRM exists, and an import of one at the top of a student-path module
    ends every notebook's first cell there."""
    assert windows_run.returncode == 0, windows_run.stderr[-3000:]
    out = windows_run.stdout
    assert "epochs trained: 2" in out, out
    assert "lesson 01 optimal_discriminator gives D* = p_data / (p_data + p_g) on a grid: 1/1 points" in out, out
    assert "stays right where both densities underflow to 0: 1/1 points" in out, out


# Files of others' reading the locale's encoding, reported rather than fixed here: cpu.py reads Linux's /proc and
# /sys (ASCII, absent elsewhere); io.py's write_atomic writes config.json and metrics.csv, ASCII today.
OTHERS = ("reference/cpu.py", "reference/io.py")


def test_no_student_path_file_is_read_in_the_locale_encoding(windows_run) -> None:
    """Windows' locale encoding is cp1252: a text file opened without encoding= is read or written in it, not in
    UTF-8. The digits' CSV (sklearn's digits.csv.gz, read for every lesson's offline data) was opened so."""
    assert windows_run.returncode == 0, windows_run.stderr[-3000:]
    line = next(line for line in windows_run.stdout.splitlines() if line.startswith("ENCODING "))
    flagged = [site for site in json.loads(line.removeprefix("ENCODING ")) if not site.startswith(OTHERS)]
    assert flagged == [], f"open() without an encoding at {flagged}: pass encoding='utf-8' (or 'ascii')"


def test_no_home_folder_on_windows_is_one_user_error_line(monkeypatch) -> None:
    """On Windows Python finds ~ in USERPROFILE (HOME is not read) and there is no os.getuid: a process without
    USERPROFILE got an AttributeError from the message meant to explain the missing home folder."""
    from reference.cache import expand_home
    from reference.errors import UserError

    def no_home(self):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delattr(os, "getuid")
    monkeypatch.setattr(Path, "expanduser", no_home)
    with pytest.raises(UserError, match=r"^~/data names your home folder, but this process has none \(USERPROFILE, HOMEDRIVE "
                                        r"and HOMEPATH are unset\); set USERPROFILE, or set GAN_COURSE_DATA$"):
        expand_home("~/data", "set GAN_COURSE_DATA")


class FakeMPS:
    """torch.mps's generator for a machine without MPS: a state (a uint8 tensor) that `draw` moves on."""

    def __init__(self) -> None:
        self.state = torch.arange(8, dtype=torch.uint8)
        self.synchronized = 0

    def get_rng_state(self, device="mps") -> torch.Tensor:
        return self.state.clone()

    def set_rng_state(self, state: torch.Tensor, device="mps") -> None:
        self.state = state.clone()

    def draw(self) -> None:
        self.state = self.state + 1

    def synchronize(self) -> None:
        self.synchronized += 1


@pytest.fixture
def fake_mps(monkeypatch) -> FakeMPS:
    mps = FakeMPS()
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    for name in ("get_rng_state", "set_rng_state", "synchronize"):
        monkeypatch.setattr(torch.mps, name, getattr(mps, name))
    return mps


def test_a_checkpoint_keeps_the_mps_generator(tmp_path, fake_mps) -> None:
    """On a Mac every batch's z comes from MPS's generator: a resumed run that restored only the CPU's drew the
    noise of epoch 1 again (torch.manual_seed in Run resets MPS's), not what the uninterrupted run drew next."""
    from reference.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state

    fake_mps.draw()
    saved = fake_mps.get_rng_state()
    ckpt = {"epoch": 1, "config": {}, "shape": [1, 28, 28], "nz": 100, "generator": {}, "discriminator": {}, "rng": rng_state()}
    save_checkpoint(ckpt, tmp_path / "last.pt")
    fake_mps.set_rng_state(torch.zeros(8, dtype=torch.uint8))  # what torch.manual_seed does at the resume's start
    set_rng_state(load_checkpoint(tmp_path / "last.pt")["rng"])
    assert torch.equal(fake_mps.state, saved)


def test_a_check_leaves_the_mps_generator_as_it_was(fake_mps) -> None:
    """A check that calls the student's code on MPS (a3's calls their `train`, device="auto" on a Mac) moved MPS's
    generator: the notebook's later cells drew other numbers than without the check."""
    from reference.grading.local import kept_random_state

    before = fake_mps.get_rng_state()
    with kept_random_state():
        fake_mps.draw()
    assert torch.equal(fake_mps.state, before)


def test_waiting_for_mps_waits_for_its_queue(fake_mps) -> None:
    """MPS runs the queued work asynchronously: an epoch's seconds (and images_per_second) read without waiting
    counted what the CPU had queued, not what the GPU had done."""
    from reference.trainer import synchronize

    synchronize(torch.device("mps"))
    assert fake_mps.synchronized == 1
    synchronize(torch.device("cpu"))
    assert fake_mps.synchronized == 1


def test_an_epoch_waits_for_its_device_before_the_clock(monkeypatch, tmp_path) -> None:
    """Each epoch calls `synchronize` on its device once, before it reads the clock (on MPS: the test above)."""
    from reference import trainer
    from reference.trainer import TrainConfig, train

    waited = []
    monkeypatch.setattr(trainer, "synchronize", lambda device: waited.append(device.type))
    cfg = TrainConfig(model="mlp2d", dataset="ring", epochs=2, batch_size=256, device="cpu", progress=False, max_images=512, threads=1)
    train(cfg, tmp_path / "run")
    assert waited == ["cpu", "cpu"], "each epoch waits for its device once, before it reads the clock"


# ---------------------------------------------------------------------------------------------------------------
# Windows breakages found by simulation, now fixed
# ---------------------------------------------------------------------------------------------------------------


def test_a_run_trains_where_fsync_needs_a_writable_handle(tmp_path, monkeypatch) -> None:
    """Windows' os.fsync is _commit, FlushFileBuffers, which needs a handle with write access: through a
    read-only one it fails with EBADF. Every atomic write (config.json first) then failed: no run trained."""
    import fcntl

    from reference.trainer import TrainConfig, train

    real_fsync = os.fsync

    def windows_fsync(fd) -> None:
        fd = fd if isinstance(fd, int) else fd.fileno()
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", windows_fsync)
    cfg = TrainConfig(model="mlp2d", dataset="ring", epochs=1, batch_size=256, device="cpu", progress=False, max_images=512, threads=1)
    run = train(cfg, tmp_path / "run")
    assert json.loads((run / "config.json").read_text(encoding="utf-8"))["epochs"] == 1


def test_the_visible_checks_read_scratch_files_without_dir_fd(tmp_path, monkeypatch) -> None:
    """Windows has no os.O_DIRECTORY, O_NOFOLLOW or O_NONBLOCK, no dir_fd, and os.scandir/listdir take no file
    descriptor. a3's visible checks read the student's grids and checkpoints with read_scratch_bytes and
    scratch_files, a4's loader check writes its files with make_scratch_folder and write_scratch_files: in a
    kernel on Windows each stopped with "AttributeError: module 'os' has no attribute 'O_DIRECTORY'" and scored 0
    for a right answer."""
    from reference.grading.submission import (make_scratch_folder, read_scratch_bytes, remove_scratch_folder,
                                              scratch_files, scratch_listing, write_scratch_files)

    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "epoch_010.png").write_bytes(b"png")
    for name in ("O_DIRECTORY", "O_NOFOLLOW", "O_NONBLOCK"):
        monkeypatch.delattr(os, name, raising=False)
    real_open, real_mkdir, real_scandir = os.open, os.mkdir, os.scandir

    def no_dir_fd(fn):
        def call(*args, dir_fd=None, **kwargs):
            if dir_fd is not None:
                raise NotImplementedError(f"{fn.__name__}: dir_fd unavailable on this platform")
            return fn(*args, **kwargs)
        return call

    def scandir(path="."):
        if isinstance(path, int):
            raise TypeError("scandir: path should be string, bytes, os.PathLike or None, not int")
        return real_scandir(path)

    monkeypatch.setattr(os, "open", no_dir_fd(real_open))
    monkeypatch.setattr(os, "mkdir", no_dir_fd(real_mkdir))
    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(shutil, "_use_fd_functions", False)  # as on Windows: rmtree goes by path
    assert scratch_files(tmp_path) == [Path("samples/epoch_010.png")]
    assert read_scratch_bytes(tmp_path, "samples/epoch_010.png") == b"png"
    scratch_file_names = scratch_listing(tmp_path, "samples")
    assert scratch_file_names == ["epoch_010.png"]
    folder = make_scratch_folder(tmp_path, "check_")
    write_scratch_files(tmp_path, folder.name, {"cifar-10-batches-py/data_batch_1": b"batch"})
    assert read_scratch_bytes(tmp_path, f"{folder.name}/cifar-10-batches-py/data_batch_1") == b"batch"
    (tmp_path / "outside.txt").write_bytes(b"secret")
    os.symlink(tmp_path / "outside.txt", tmp_path / "samples" / "link.png")
    with pytest.raises(OSError):  # a link is still not followed where folders are paths
        read_scratch_bytes(tmp_path, "samples/link.png")
    remove_scratch_folder(tmp_path, folder.name)
    assert not folder.exists()
