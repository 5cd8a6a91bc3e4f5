"""Tests for reference/cli.py: `gan-course train / sample / configs`, resume, configs and bad input.

Most commands run in-process through `reference.cli.main` (capfd also catches what C++ code writes
to stderr); one real subprocess of the console script proves "one line, exit 2, no traceback", and
one is killed with SIGKILL mid-epoch to prove that last.pt survives and the run resumes.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

from reference import cli as cli_module
from reference import trainer
from reference.checkpoint import load_checkpoint
from reference.cli import main
from reference.config import TrainConfig
from reference.errors import UserError
from reference.io import atomic_path

TRAIN = ["train", "--dataset", "digits", "--device", "cpu", "--no-progress"]
MLP = [*TRAIN, "--model", "mlp"]


def cli(capfd, *argv: str) -> tuple[int, str, str]:
    """Run `gan-course ARGV` in-process: (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capfd.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    """Exit status 2 and exactly one stderr line 'gan-course...: error: ...' naming each of `words`."""
    lines = err.splitlines()
    assert code == 2, f"expected exit status 2, got {code}; stderr: {err!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    assert lines[0].startswith("gan-course") and "error:" in lines[0], f"not a gan-course error line: {lines[0]!r}"
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], f"the error should name {word!r}: {lines[0]!r}"


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def metric_epochs(run: Path) -> list[int]:
    with open(run / "metrics.csv", newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def temp_files(folder: Path) -> set[str]:
    """Leftovers of atomic writes (.NAME.XXXX.tmp.SUFFIX) anywhere under `folder`."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob(".*.tmp*")}


def console_script() -> str:
    script = Path(sys.executable).with_name("gan-course")
    found = str(script) if script.exists() else shutil.which("gan-course")
    if not found:
        pytest.skip("the gan-course console script is not installed (pip install -e .)")
    return found


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory) -> Path:
    """A finished 2-epoch MLP run with samples and checkpoints after each epoch (read-only: copy it)."""
    run = tmp_path_factory.mktemp("cli") / "mlp-run"
    code = main([*MLP, "--epochs", "2", "--save-every", "1", "--out", str(run)])
    assert code == 0
    return run


@pytest.fixture
def run_copy(mlp_run, tmp_path) -> Path:
    """A private copy of `mlp_run` that a test may damage."""
    return Path(shutil.copytree(mlp_run, tmp_path / "run"))


# ---- train: bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--model", "nope"], ["'nope'", "mlp2d"]),
        (["--model", "nope", "--ngf", "8"], ["unknown model 'nope'", "mlp2d"]),
        (["--dataset", "nope"], ["'nope'", "digits"]),
        (["--loss", "nope"], ["'nope'", "wgan-gp"]),
        (["--model", "dcgan", "--dataset", "ring"], ["dcgan", "--model mlp2d"]),
        (["--epochs", "0"], ["--epochs", "0"]),
        (["--batch-size", "0"], ["--batch-size", "0"]),
        (["--batch-size", "-5"], ["--batch-size", "-5"]),
        (["--epochs", "two"], ["--epochs", "two"]),
        (["--batch-size", "5000"], ["--batch-size"]),
        (["--pack", "0"], ["--pack", "0"]),
        (["--pack", "3"], ["--batch-size 64", "--pack 3", "--batch-size 63"]),
        (["--model", "upsample", "--pack", "2"], ["'upsample'", "--pack", "mlp2d"]),
        (["--model", "tf-dcgan", "--minibatch-std"], ["'tf-dcgan'", "--minibatch-std", "dcgan"]),
    ],
    ids=["model", "model-with-ngf", "dataset", "loss", "dcgan-on-ring", "epochs-0", "batch-0", "batch-negative", "epochs-word", "batch-too-big",
         "pack-0", "pack-not-dividing", "pack-unsupported", "minibatch-std-unsupported"],
)
def test_bad_train_input_is_one_line_and_creates_nothing(capfd, tmp_path, flags, words):
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TRAIN, "--epochs", "1", *flags, "--out", out)
    assert_one_line_error(code, err, *words)
    assert not out.exists(), f"{flags} failed but left {out} behind"


def test_non_empty_out_without_resume_is_refused(capfd, run_copy):
    before = hashes(run_copy)
    code, _, err = cli(capfd, *MLP, "--epochs", "1", "--out", run_copy)
    assert_one_line_error(code, err, str(run_copy), "--resume")
    assert hashes(run_copy) == before, "a refused --out overwrote files of the existing run"


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_unwritable_out_is_refused(capfd, tmp_path, where):
    if where == "proc":
        if not Path("/proc").is_dir():
            pytest.skip("no /proc here")
        out = Path("/proc/gan-course-test/run")
    else:
        (tmp_path / "a-file").write_text("not a folder\n")
        out = tmp_path / "a-file" / "run"
    code, _, err = cli(capfd, *MLP, "--epochs", "1", "--out", out)
    assert_one_line_error(code, err, "cannot write", "--out")


def test_an_unwritable_relative_out_names_the_folder_itself(capfd, monkeypatch):
    """`cd /proc && gan-course train --out run` said "cannot write to ."; it names the folder."""
    if not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    monkeypatch.chdir("/proc")
    code, _, err = cli(capfd, *MLP, "--epochs", "1", "--out", "run")
    assert_one_line_error(code, err, "cannot write to /proc;", "--out")


# ---- train --resume: bad input -----------------------------------------------------------------


def _damage(run: Path, how: str) -> None:
    last = run / "checkpoints" / "last.pt"
    if how == "truncated":
        data = last.read_bytes()
        last.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        last.write_bytes(b"")
    elif how == "foreign":
        torch.save({"weights": torch.zeros(3)}, last)
    elif how == "module":  # a whole network saved with torch.save(model)
        torch.save(torch.nn.Linear(2, 2), last)
    elif how == "text":
        last.write_text("this is not a checkpoint\n")
    elif how == "missing":
        last.unlink()
    elif how in ("no_generator", "edited_model", "config_none"):  # gan-course's own, edited by hand
        state = torch.load(last, weights_only=False)
        if how == "no_generator":
            del state["generator"]
        elif how == "config_none":
            state["config"] = None
        else:
            state["config"]["model"] = "dcgan"  # the weights stay the MLP's
        torch.save(state, last)


@pytest.mark.parametrize(
    "how, words",
    [
        ("truncated", ["truncated or corrupt", "epoch_NNN.pt"]),
        ("empty", ["truncated or corrupt"]),
        ("foreign", ["not a gan-course checkpoint"]),
        ("text", ["not a checkpoint written by 'gan-course train'"]),
        ("missing", ["last.pt"]),
    ],
)
def test_resume_from_a_bad_checkpoint_is_refused(capfd, run_copy, how, words):
    _damage(run_copy, how)
    before = hashes(run_copy)
    code, _, err = cli(capfd, "train", "--resume", run_copy, "--epochs", "3", "--no-progress")
    assert_one_line_error(code, err, *words)
    assert hashes(run_copy) == before, f"resuming from a {how} last.pt changed the run folder"


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--model", "dcgan"], ["--model mlp", "dcgan", "drop --model"]),
        (["--nz", "50"], ["--nz 100", "50", "drop --nz"]),
        (["--loss", "hinge"], ["--loss", "hinge"]),
        ([], ["already has 2 epochs", "--epochs"]),
        (["--epochs", "2"], ["already has 2 epochs"]),
        (["--epochs", "3", "--out", "elsewhere"], ["--out"]),
        (["--epochs", "0"], ["--epochs"]),
        (["--epochs", "3", "--pack", "2"], ["--pack 1", "--pack 2"]),
        (["--epochs", "3", "--minibatch-std"], ["--minibatch-std"]),
    ],
    ids=["model", "nz", "loss", "no-more-epochs", "same-epochs", "with-out", "epochs-0", "pack", "minibatch-std"],
)
def test_resume_with_other_settings_is_refused(capfd, run_copy, flags, words):
    before = hashes(run_copy)
    code, _, err = cli(capfd, "train", "--resume", run_copy, "--no-progress", *flags)
    assert_one_line_error(code, err, *words)
    assert hashes(run_copy) == before, f"a refused --resume {flags} changed the run folder"


def test_resume_of_a_missing_run_or_a_file_is_refused(capfd, tmp_path, mlp_run):
    code, _, err = cli(capfd, "train", "--resume", tmp_path / "no-such-run", "--epochs", "3")
    assert_one_line_error(code, err, "no-such-run")
    code, _, err = cli(capfd, "train", "--resume", mlp_run / "checkpoints" / "last.pt", "--epochs", "3")
    assert_one_line_error(code, err, "run folder")


def test_console_script_error_is_one_line_without_traceback(mlp_run, tmp_path):
    """A real `gan-course` process: --resume with another architecture -> exit 2, one line, folder intact."""
    run = Path(shutil.copytree(mlp_run, tmp_path / "run"))
    before = hashes(run)
    proc = subprocess.run(
        [console_script(), "train", "--resume", str(run), "--model", "dcgan", "--epochs", "3"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert_one_line_error(proc.returncode, proc.stderr, "--model mlp", "dcgan")
    assert proc.stdout == ""
    assert hashes(run) == before, "the failed command changed the run folder"


def test_an_ascii_stdout_prints_what_it_cannot_encode_as_escapes(mlp_run, tmp_path):
    """A real `gan-course` process whose stdout is ASCII (PYTHONIOENCODING=ascii; the C locale without
    UTF-8 mode): a non-ASCII --out was written, then 'Wrote ... to <path>' ended in a UnicodeEncodeError."""
    out = tmp_path / os.fsdecode("échantillons ü.png".encode())  # its UTF-8 bytes, whatever pytest's locale
    proc = subprocess.run(
        [console_script(), "sample", str(mlp_run), "--n", "4", "--out", str(out)],
        capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    stderr = proc.stderr.decode("ascii", "replace")
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    assert out.is_file() and proc.stdout.decode("ascii").startswith("Wrote 4 samples to "), proc.stdout


def test_a_reader_that_quits_ends_the_output_quietly(tmp_path):
    """`gan-course configs | head -1`: the reader quits and the pipe breaks. The command printed a BrokenPipeError
    traceback (or "Exception ignored ... BrokenPipeError" at exit, status 120); now the rest goes nowhere, status 0."""
    proc = subprocess.Popen([console_script(), "configs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    proc.stdout.close()  # the reader is gone before the first line (the command takes a second to start)
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and err == "", err


def test_a_training_run_whose_log_reader_quits_trains_on(tmp_path):
    """`gan-course train 2>&1 | head` (or a `| tee` that died): the first progress bar drawn after the reader quit
    raised BrokenPipeError and ended the run with status 1 and no checkpoint. Now the run trains to its end."""
    run = tmp_path / "run"
    proc = subprocess.Popen([console_script(), *MLP, "--epochs", "2", "--out", str(run), "--progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    proc.stderr.close()
    proc.stdout.close()
    assert proc.wait(timeout=600) == 0
    assert metric_epochs(run) == [1, 2] and (run / "checkpoints" / "last.pt").is_file()


def test_stdout_on_a_full_disk_is_one_line_and_status_2(tmp_path):
    """`gan-course configs > log` on a full disk (/dev/full): an OSError traceback; now one line naming the cause."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([console_script(), "configs"], stdout=full, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("gan-course: error: standard output could not be written (No space left on device)")


# ---- train: resume and configs -----------------------------------------------------------------


def test_resume_continues_the_run(capfd, run_copy):
    history = (run_copy / "metrics.csv").read_text().splitlines()
    # --nz 100 is the latent size the run resolved (mlp's default), so it is no change of architecture
    code, out, err = cli(capfd, "train", "--resume", run_copy, "--epochs", "3", "--nz", "100", "--no-progress")
    assert code == 0, f"gan-course train --resume RUN --epochs 3 --nz 100 failed: {err}"
    assert str(run_copy) in out
    assert metric_epochs(run_copy) == [1, 2, 3]
    assert (run_copy / "metrics.csv").read_text().splitlines()[:3] == history, "resume rewrote the earlier rows"
    assert load_checkpoint(run_copy)["epoch"] == 3
    for n in (1, 2, 3):
        assert (run_copy / "samples" / f"epoch_{n:03d}.png").is_file()
        assert (run_copy / "checkpoints" / f"epoch_{n:03d}.pt").is_file()
    assert json.loads((run_copy / "config.json").read_text())["epochs"] == 3
    assert not temp_files(run_copy), f"temp files left behind: {temp_files(run_copy)}"


def test_named_config_with_flag_overrides(capfd, tmp_path):
    """mnist-mlp sets model, batch size, epochs and save_every; flags override dataset and epochs."""
    out = tmp_path / "run"
    code, _, err = cli(capfd, "train", "--config", "mnist-mlp", "--dataset", "digits", "--epochs", "1",
                       "--device", "cpu", "--no-progress", "--out", out)  # fmt: skip
    assert code == 0, err
    saved = json.loads((out / "config.json").read_text())
    assert (saved["model"], saved["save_every"], saved["batch_size"]) == ("mlp", 3, 64), "named config values lost"
    assert (saved["dataset"], saved["epochs"]) == ("digits", 1), "flags did not override the named config"


def test_pack_and_minibatch_std_flags_reach_the_run(capfd, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli(capfd, *MLP, "--epochs", "1", "--pack", "2", "--minibatch-std", "--out", out)
    assert code == 0, err
    saved = json.loads((out / "config.json").read_text())
    assert (saved["pack"], saved["minibatch_std"]) == (2, True), f"flags not in config.json: {saved}"
    weight = load_checkpoint(out)["discriminator"]["main.1.weight"]
    assert weight.shape == (256, 2 * 784), f"--pack 2: D's first layer should take 2 images, got {tuple(weight.shape)}"


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_config_file_with_flag_overrides(capfd, tmp_path, suffix):
    values = {"model": "mlp", "dataset": "digits", "epochs": 5, "batch_size": 128, "lr": 0.001}
    path = tmp_path / f"exp{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(values))
    else:
        path.write_text("# an experiment\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    out = tmp_path / "run"
    code, _, err = cli(capfd, "train", "--config", path, "--epochs", "1", "--device", "cpu", "--no-progress", "--out", out)
    assert code == 0, err
    saved = json.loads((out / "config.json").read_text())
    assert (saved["batch_size"], saved["lr"], saved["model"]) == (128, 0.001, "mlp"), f"{suffix} values lost: {saved}"
    assert saved["epochs"] == 1, "--epochs 1 did not override the file's epochs = 5"
    assert metric_epochs(out) == [1]


def test_a_config_file_is_read_as_utf8_on_any_machine(capfd, tmp_path):
    """TOML and JSON are UTF-8: a config with a non-ASCII comment, saved with a BOM (Windows Notepad),
    trains; and it reads the same where the locale's encoding is ASCII (LC_ALL=C without UTF-8 mode),
    where it was "cannot read config ...: 'ascii' codec can't decode byte ...; fix the file's syntax"."""
    path = tmp_path / os.fsdecode("exp β.toml".encode())  # its UTF-8 bytes, whatever pytest's locale
    path.write_bytes('# β1 = 0.5: the DCGAN paper\'s Adam, café edition\nmodel = "mlp"\nepochs = 1\n'.encode("utf-8-sig"))
    out = tmp_path / "run"
    code, _, err = cli(capfd, "train", "--config", path, "--max-images", "64", "--device", "cpu", "--no-progress", "--out", out)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["model"] == "mlp"
    ascii_locale = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
                    "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # fmt: skip
    read = "import sys; from reference.config import read_config_file; print(read_config_file(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", read, str(path)], capture_output=True, text=True, env=ascii_locale)
    assert done.returncode == 0 and "'model': 'mlp'" in done.stdout, done.stderr[-500:]


def test_config_with_an_unknown_key_is_one_line(capfd, tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('model = "mlp"\nepochz = 3\n')
    code, _, err = cli(capfd, "train", "--config", path, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "epochz", "epochs")
    code, _, err = cli(capfd, "train", "--config", "no-such-config", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "no-such-config", "mnist-mlp")
    assert not (tmp_path / "run").exists()


def test_an_unreadable_config_is_not_told_to_fix_its_syntax(capfd, tmp_path, monkeypatch):
    """A config the user may not read (another user's, mode 600) was told "fix the file's syntax"."""
    path = tmp_path / "theirs.toml"
    path.write_text('model = "mlp"\n')
    real = Path.read_text

    def refused(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(path))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refused)
    code, _, err = cli(capfd, "train", "--config", path, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "cannot read config", "Permission denied; make it readable")
    assert "syntax" not in err and not (tmp_path / "run").exists()


def test_configs_lists_the_named_configs(capfd):
    code, out, _ = cli(capfd, "configs")
    assert code == 0 and "digits-dcgan" in out and "mnist-mlp" in out


# ---- sample ------------------------------------------------------------------------------------


def test_sample_draws_an_8x8_grid(capfd, mlp_run, tmp_path):
    grid = tmp_path / "grid.png"
    code, out, err = cli(capfd, "sample", mlp_run / "checkpoints" / "last.pt", "--n", "64", "--out", grid)
    assert code == 0, err
    with Image.open(grid) as im:
        assert im.format == "PNG"
        assert im.size == (8 * (28 + 2) + 2,) * 2, f"64 samples of 28x28 with padding 2 make 242x242, got {im.size}"
    # a run folder works too, and --n sets the grid
    code, _, err = cli(capfd, "sample", mlp_run, "--n", "16", "--out", tmp_path / "small.png")
    assert code == 0, err
    with Image.open(tmp_path / "small.png") as im:
        assert im.size == (4 * 30 + 2,) * 2, f"16 samples make a 4x4 grid of 122x122, got {im.size}"


@pytest.mark.parametrize("how", ["truncated", "foreign", "text", "missing", "no_generator", "edited_model", "config_none", "module"])
def test_sample_from_a_bad_checkpoint_is_refused(capfd, run_copy, how, tmp_path):
    """A checkpoint without its generator, or whose config names another network than its weights are (edited by
    hand, or from another version), ended sample, eval and fid in a traceback (KeyError, load_state_dict's): each
    loads G with reference.metrics.evaluate.load_generator, which now says so in one line."""
    _damage(run_copy, how)
    before = hashes(run_copy)
    code, _, err = cli(capfd, "sample", run_copy / "checkpoints" / "last.pt", "--out", tmp_path / "grid.png")
    assert_one_line_error(code, err, "last.pt")
    assert not (tmp_path / "grid.png").exists()
    assert hashes(run_copy) == before
    if how in ("no_generator", "edited_model", "config_none", "module"):
        assert {"no_generator": "holds no 'generator' entry", "edited_model": "does not fit the network its config describes",
                "config_none": "holds a NoneType as its 'config' entry", "module": "holds pickled Python objects"}[how] in err


def test_sample_with_n_0_is_refused(capfd, mlp_run, tmp_path):
    code, _, err = cli(capfd, "sample", mlp_run, "--n", "0", "--out", tmp_path / "grid.png")
    assert_one_line_error(code, err, "--n", "0")


# ---- SIGKILL mid-epoch -------------------------------------------------------------------------


def test_sigkill_mid_epoch_leaves_a_loadable_last_pt_and_resumes(capfd, tmp_path):
    """Kill a real training process mid-epoch; last.pt loads and --resume finishes the run."""
    run = tmp_path / "run"
    last = run / "checkpoints" / "last.pt"
    proc = subprocess.Popen(
        [console_script(), *TRAIN, "--model", "dcgan", "--ngf", "8", "--ndf", "8", "--epochs", "100", "--out", str(run)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    try:
        while not last.exists():  # no deadline (a slow machine is no failure): a run that ends without last.pt fails here
            assert proc.poll() is None, f"training exited early: {proc.stderr.read().decode()[-2000:]}"
            time.sleep(0.02)
        time.sleep(0.4)  # an epoch of this model takes about a second: stop it part-way through the next
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    leftovers = temp_files(run)
    assert not any(Path(p).name == "last.pt" for p in leftovers)
    state = load_checkpoint(last)
    done = state["epoch"]
    assert 1 <= done < 100

    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", done + 1, "--no-progress")
    assert code == 0, f"--resume after SIGKILL failed: {err}"
    assert metric_epochs(run) == list(range(1, done + 2)), "metrics.csv should have one row per epoch 1..N"
    assert load_checkpoint(last)["epoch"] == done + 1
    assert not temp_files(run), f"the resumed run did not clear the killed run's temp files: {temp_files(run)}"


# ---- a run stopped early, a full disk, a foreign checkpoint ---------------------------------------

TINY = [*MLP, "--max-images", "64"]  # one batch per epoch


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_it_again(capfd, tmp_path):
    """A run killed during epoch 1 leaves only config.json: --resume trains it from epoch 1 with those settings."""
    run = tmp_path / "run"
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", run)
    assert code == 0, err
    shutil.rmtree(run / "checkpoints")
    (run / "metrics.csv").unlink()
    before = hashes(run)

    code, _, err = cli(capfd, "train", "--resume", run, "--model", "dcgan", "--epochs", "2")
    assert_one_line_error(code, err, "--model mlp", "dcgan")
    assert hashes(run) == before, "a refused --resume changed the stopped run's folder"

    code, out, err = cli(capfd, "train", "--resume", run, "--epochs", "2", "--no-progress")
    assert code == 0, f"--resume of a run with config.json but no checkpoint failed: {err}"
    assert len(err.splitlines()) == 1 and str(run) in err and "epoch 1" in err, f"expected one note line: {err!r}"
    assert metric_epochs(run) == [1, 2]
    assert load_checkpoint(run)["epoch"] == 2
    saved = json.loads((run / "config.json").read_text())
    assert (saved["model"], saved["max_images"], saved["epochs"]) == ("mlp", 64, 2), f"settings not kept: {saved}"


def _full_disk(path) -> None:
    """Write a few bytes of `path` atomically, then fail as a full disk does."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))


@pytest.mark.parametrize("target", ["checkpoints/last.pt", "metrics.csv", "losses.png"])
def test_a_full_disk_while_writing_a_run_file_is_one_line_and_the_run_resumes(capfd, tmp_path, monkeypatch, target):
    """The disk fills up while epoch 2 writes `target`: one line, every file whole, --resume finishes the run."""
    run = tmp_path / "run"
    real_save, real_text, real_curves = torch.save, trainer.write_text_atomic, trainer.save_loss_curves
    if target == "checkpoints/last.pt":
        class FullDisk:  # the file torch.save writes into: the disk fills up after a few bytes
            def __init__(self, file):
                self.file = file

            def write(self, data):
                self.file.write(bytes(data[:7]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            def flush(self):
                self.file.flush()

        def save(obj, f, *args, **kwargs):  # torch itself turns the OSError into a RuntimeError
            name = Path(getattr(getattr(f, "file", f), "name", f)).name
            if isinstance(obj, dict) and obj.get("epoch") == 2 and name.startswith(".last.pt."):
                f = FullDisk(f)
            real_save(obj, f, *args, **kwargs)

        monkeypatch.setattr(torch, "save", save)
    elif target == "metrics.csv":
        monkeypatch.setattr(trainer, "write_text_atomic",
                            lambda path, text: _full_disk(path) if text.count("\n") == 3 else real_text(path, text))
    else:
        monkeypatch.setattr(trainer, "save_loss_curves",
                            lambda history, path: _full_disk(path) if len(history) == 2 else real_curves(history, path))

    code, _, err = cli(capfd, *TINY, "--epochs", "3", "--out", run)
    assert_one_line_error(code, err, "no space left on device", str(run / target), f"--resume {shlex.quote(str(run))}")
    assert not temp_files(run), f"temp files left behind: {temp_files(run)}"
    saved = 1 if target == "checkpoints/last.pt" else 2
    assert load_checkpoint(run)["epoch"] == saved, "last.pt is not the last one that was written whole"
    assert metric_epochs(run) == ([1, 2] if target == "losses.png" else [1])

    monkeypatch.undo()
    code, _, err = cli(capfd, "train", "--resume", run)
    assert code == 0, f"--resume after a full disk failed: {err}"
    assert metric_epochs(run) == [1, 2, 3]


def test_resume_with_a_checkpoint_from_another_run_is_refused(capfd, mlp_run, tmp_path):
    """An mlp run's last.pt copied into a dcgan run: refused before any file of the folder changes."""
    run = tmp_path / "dcgan-run"
    code, _, err = cli(capfd, *TRAIN, "--model", "dcgan", "--ngf", "8", "--ndf", "8", "--max-images", "64",
                       "--epochs", "1", "--out", run)  # fmt: skip
    assert code == 0, err
    shutil.copy(mlp_run / "checkpoints" / "last.pt", run / "checkpoints" / "last.pt")
    before = hashes(run)
    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", "3")
    assert_one_line_error(code, err, "another run", '"mlp"', '"dcgan"', "config.json")
    assert hashes(run) == before, "resuming from a foreign last.pt changed the run folder"


# ---- config files: wrong types ------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, key, value, expected",
    [
        (".toml", "lr", "fast", "float"),
        (".json", "lr", "fast", "float"),
        (".toml", "epochs", 2.5, "int"),
        (".json", "batch_size", "64", "int"),
        (".json", "epochs", True, "int"),
        (".toml", "beta1", False, "float"),
        (".toml", "amp", 1, "bool"),
        (".json", "model", 3, "str"),
        (".toml", "nz", "big", "int"),
        (".json", "data_dir", 7, "str"),
    ],
)
def test_a_wrong_typed_config_value_is_one_line(capfd, tmp_path, suffix, key, value, expected):
    values = {"model": "mlp", "epochs": 1, "max_images": 64, "device": "cpu", key: value}
    path = tmp_path / f"exp{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(values))
    else:
        path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    out = tmp_path / "run"
    code, _, err = cli(capfd, "train", "--config", path, "--no-progress", "--out", out)
    assert_one_line_error(code, err, key, json.dumps(value), f"({expected})", str(path))
    assert not out.exists()


# ---- flags ---------------------------------------------------------------------------------------


def test_an_abbreviated_flag_is_an_error(capfd, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TINY, "--epoch", "3", "--out", out)
    assert_one_line_error(code, err, "unrecognized arguments: --epoch 3", "see 'gan-course train --help'")
    assert not out.exists(), "--epoch was taken for --epochs"


@pytest.mark.parametrize("command", ["train", "sample", "fid", "eval", "train-classifier", "summary"])
def test_an_unknown_flag_points_at_its_commands_help(capfd, command):
    """The line names the help that lists the command's flags, not the top level's list of commands."""
    code, _, err = cli(capfd, command, "--no-such-flag")
    assert code == 2 and err.count("\n") == 1, err
    assert f"see 'gan-course {command} --help'" in err, err


def test_the_helps_model_lists_are_the_models_that_take_the_flag(capfd, monkeypatch):
    """--ngf/--ndf and --pack/--minibatch-std name exactly the models that take them (reference.models)."""
    from reference.models import MODELS

    monkeypatch.setenv("COLUMNS", "400")
    code, out, _ = cli(capfd, "train", "--help")
    assert code == 0
    lines = {line.split()[0]: line for line in (" ".join(e.split()) for e in re.split(r"\n  (?=-)", out)) if line.startswith("--")}
    sized = {name for name, spec in MODELS.items() if spec.widths}
    options = {flag: {name for name, spec in MODELS.items() if key in spec.d_options}
               for flag, key in (("--pack", "pack"), ("--minibatch-std", "minibatch_std"))}
    for flag, models in (("--ngf", sized), ("--ndf", sized), *options.items()):
        listed = set(re.search(r"\(([a-z0-9, -]+)\)", lines[flag].split(" ", 2)[2]).group(1).split(", "))
        assert listed == models, f"{flag}'s help lists {sorted(listed)}; the models that take it: {sorted(models)}"
    code, _, err = cli(capfd, "sample", "run", "--se", "3")
    assert_one_line_error(code, err, "--se")


def test_out_that_is_a_file_is_refused(capfd, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", notes)
    assert_one_line_error(code, err, str(notes), "is a file, not a folder", "folder path")
    assert "--resume" not in err
    assert notes.read_text() == "my notes\n"


def test_train_help_shows_the_default_of_every_flag(capfd, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapped help texts
    code, out, _ = cli(capfd, "train", "--help")
    assert code == 0
    entries = re.split(r"\n  (?=-)", out.split("options:")[1])  # one per flag: the flag, then its help
    flags = [" ".join(entry.split()) for entry in entries if entry.strip().startswith("--")]
    assert len(flags) > 20, out
    missing = [line.split()[0] for line in flags if "(default" not in line]
    assert not missing, f"train flags whose help shows no default: {missing}"
    defaults = TrainConfig()
    for flag, value in (("--epochs", defaults.epochs), ("--batch-size", defaults.batch_size), ("--seed", defaults.seed)):
        (line,) = [line for line in flags if line.startswith(flag + " ")]
        assert f"(default: {value})" in line, f"{flag} should show TrainConfig's default {value}: {line!r}"


@pytest.mark.parametrize("command", ["fid", "eval"])
def test_metric_helps_give_the_range_of_n_the_command_takes(capfd, monkeypatch, command):
    """--n's help states both bounds that `_check_n` enforces (the fewest: precision and recall's k = 3)."""
    from reference.config import MAX_METRIC_SAMPLES, MIN_METRIC_SAMPLES

    monkeypatch.setenv("COLUMNS", "400")
    code, out, _ = cli(capfd, command, "--help")
    assert code == 0 and f"images per source, {MIN_METRIC_SAMPLES} to {MAX_METRIC_SAMPLES:,} " in " ".join(out.split()), out


def test_resume_keeps_no_progress_unless_told_otherwise(capfd, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", run)
    assert code == 0 and err == "", err
    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", "2")
    assert code == 0 and err == "", f"a run started with --no-progress showed a bar when resumed: {err!r}"
    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", "3", "--progress")
    assert code == 0 and "mlp on digits" in err, f"--progress on resume showed no bar: {err!r}"


def interrupted_at_once(capfd, monkeypatch, run: Path) -> str:
    """stderr of a `gan-course train --out run` stopped by Ctrl-C before its first epoch ended."""

    def interrupted_train(cfg, out, **kwargs):
        out.mkdir(parents=True)
        (out / "config.json").write_text(json.dumps(cfg.to_dict()))
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", interrupted_train)
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", run)
    assert code == 2
    return err


def test_ctrl_c_names_the_run_folder_to_resume(capfd, tmp_path, monkeypatch):
    run = tmp_path / "run"
    err = interrupted_at_once(capfd, monkeypatch, run)
    assert err.splitlines() == [f"gan-course: error: interrupted; resume the run with: gan-course train --resume {shlex.quote(str(run))}"], err

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("reference.config.named_configs", interrupted)
    code, _, err = cli(capfd, "configs")
    assert code == 2 and err == "gan-course: error: interrupted\n", f"other commands have no run to resume: {err!r}"


def test_main_restores_warnings_formatwarning(capfd):
    before = warnings.formatwarning
    cli(capfd, "configs")
    assert warnings.formatwarning is before, "main() left its one-line warning format installed"
    cli(capfd, "train", "--no-such-flag")
    assert warnings.formatwarning is before, "main() left its warning format installed after an argparse error"


# ---- image folders --------------------------------------------------------------------------------


def test_a_folder_with_corrupt_images_names_them_all(capfd, flat_image_folder, tmp_path):
    folder = flat_image_folder.root
    good = flat_image_folder.files[0].read_bytes()
    bad = ["broken.png", "empty.png", "truncated.png"]
    (folder / "broken.png").write_text("not a png\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TRAIN, "--model", "mlp", "--dataset", f"folder:{folder}", "--image-size", "8",
                       "--epochs", "1", "--out", out)  # fmt: skip
    assert_one_line_error(code, err, "3 images", str(folder), *bad, "delete them or replace them")
    assert not out.exists()

    for k in range(12):
        (folder / f"more-{k:02d}.png").write_text("not a png either\n")
    code, _, err = cli(capfd, *TRAIN, "--model", "mlp", "--dataset", f"folder:{folder}", "--image-size", "8",
                       "--epochs", "1", "--out", out)  # fmt: skip
    assert_one_line_error(code, err, "15 images", "and 5 more")
    assert err.count(".png") == 10, f"a long list should name the first 10 files only: {err!r}"


def test_no_progress_hides_the_decoding_bar_of_a_folder(capfd, flat_image_folder, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TRAIN, "--model", "mlp", "--dataset", f"folder:{flat_image_folder.root}", "--image-size", "8",
                       "--batch-size", "4", "--epochs", "1", "--out", out)  # fmt: skip
    assert code == 0, err
    assert "decoding" not in err, f"--no-progress showed the decoding bar: {err!r}"


def test_train_classifier_no_progress_hides_the_decoding_bar_too(capfd, image_folder):
    code, out, err = cli(capfd, "train-classifier", "--dataset", f"folder:{image_folder.root}", "--epochs", "1",
                         "--device", "cpu", "--no-progress")  # fmt: skip
    assert code == 0, err
    assert "decoding" not in err and "classifier" not in err, f"--no-progress showed a bar: {err!r}"
    code, _, err = cli(capfd, "train-classifier", "--dataset", f"folder:{image_folder.root}", "--epochs", "1", "--device", "cpu")
    assert code == 0 and "decoding" in err, "without --no-progress the decoding bar should show (else the test above proves nothing)"


# ---- sample, eval and fid: what they are given -----------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "png", "random bytes", "truncated"])
def test_a_file_that_is_no_checkpoint_says_so(capfd, mlp_run, tmp_path, kind):
    path = tmp_path / "model.pt"
    if kind == "text":
        path.write_text("epoch 3, loss 0.7\n")
    elif kind == "png":
        Image.new("RGB", (8, 8)).save(path, format="PNG")
    elif kind == "random bytes":
        path.write_bytes(bytes(range(256)) * 8)
    else:
        data = (mlp_run / "checkpoints" / "last.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    words = ["truncated or corrupt"] if kind == "truncated" else ["not a checkpoint written by 'gan-course train'"]
    for command in ("sample", "eval"):
        code, _, err = cli(capfd, command, path, "--out" if command == "sample" else "--n", tmp_path / "x.png" if command == "sample" else 10)
        assert_one_line_error(code, err, str(path), *words)
        assert "Pytorch" not in err and "zip archive" not in err, f"torch's own text leaked into the message: {err!r}"


@pytest.mark.parametrize("order", ["a-missing", "b-missing"])
def test_fid_names_a_missing_source_before_choosing_a_classifier(capfd, tmp_path, order):
    missing = tmp_path / "no-such-folder"
    sources = ["digits:test", missing] if order == "b-missing" else [missing, "digits:test"]
    code, _, err = cli(capfd, "fid", *sources, "--data-dir", tmp_path / "empty-data", "--device", "cpu")
    assert_one_line_error(code, err, str(missing), "does not exist", "mnist:test")
    assert "classifier" not in err


@pytest.mark.parametrize(
    "model, size, near", [("dcgan", 17, "28 or 32"), ("dcgan", 100, "64 or 128"), ("tf-dcgan", 30, "28 or 32")]
)
def test_a_bad_image_size_suggests_the_nearest_sizes(capfd, tmp_path, model, size, near):
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TRAIN, "--model", model, "--image-size", size, "--epochs", "1", "--out", out)
    assert_one_line_error(code, err, f"--image-size {size}", f"use --image-size {near}")
    assert not out.exists()


# ---- values out of range, config files that are no settings, sample's --n and --out (issue: CLI misuse) ----


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--lr", "inf"], ["--lr", "finite", "inf"]),
        (["--lr-d", "inf"], ["--lr-d", "finite"]),
        (["--seed", str(2**70)], ["--seed", str(2**70), "4294967295"]),
        (["--seed", "-99999999999"], ["--seed", "-2147483648"]),
        (["--ngf", "8"], ["--ngf", "--model mlp", "dcgan"]),
        (["--ndf", "8"], ["--ndf", "--model mlp", "drop --ndf"]),
    ],
    ids=["lr-inf", "lr-d-inf", "seed-huge", "seed-very-negative", "ngf-on-mlp", "ndf-on-mlp"],
)
def test_out_of_range_or_ignored_train_values_are_one_line(capfd, tmp_path, flags, words):
    """Before: --lr inf trained to NaN losses with status 0, a seed of 2**70 was a torch traceback, and
    --ngf on a fixed-width model was silently ignored."""
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TINY, "--epochs", "1", *flags, "--out", out)
    assert_one_line_error(code, err, *words)
    assert not out.exists(), f"{flags} failed but left {out} behind"


@pytest.mark.parametrize(
    "values, words",
    [
        ({"threads": 100_000}, ["--threads", "1024", "100000"]),
        ({"num_samples": 100_000}, ["--num-samples", "10000"]),
        ({"ema": float("inf")}, ["--ema"]),
        ({"weight_clip": float("inf")}, ["--weight-clip", "finite"]),
    ],
    ids=["threads-100000", "num-samples-huge", "ema-inf", "weight-clip-inf"],
)
def test_validate_refuses_huge_or_infinite_values(values, words):
    """--threads 100000 made OpenMP crash the process (SIGSEGV); these are refused before anything runs."""
    with pytest.raises(UserError) as info:
        TrainConfig(model="mlp", **values).validate()
    for word in words:
        assert word in str(info.value), f"the error should name {word!r}: {info.value}"


def test_a_misspelt_gan_course_cpu_is_one_line(capfd, tmp_path, monkeypatch):
    """GAN_COURSE_CPU=troch kept the course's thread settings without a word (only "torch" means anything)."""
    monkeypatch.setenv("GAN_COURSE_CPU", "troch")
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", out)
    assert_one_line_error(code, err, "GAN_COURSE_CPU='troch' is not a setting", "GAN_COURSE_CPU=torch", "unset it")
    assert not out.exists()
    monkeypatch.setenv("GAN_COURSE_CPU", "Torch")
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", out)
    assert code == 0, err


@pytest.mark.parametrize("value", ["abc", "100000", "0"])
def test_a_bad_gan_course_threads_is_one_line(capfd, tmp_path, monkeypatch, value):
    """GAN_COURSE_THREADS=abc was ignored without a word; 100000 crashed the run (SIGSEGV)."""
    monkeypatch.setenv("GAN_COURSE_THREADS", value)
    if value == "100000":  # on the old code this would crash the test process: prove the check comes first
        monkeypatch.setattr(torch, "set_num_threads", lambda n: pytest.fail(f"set_num_threads({n}) was called"))
    out = tmp_path / "run"
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", out)
    assert_one_line_error(code, err, f"GAN_COURSE_THREADS='{value}'", "1 to 1024", "unset it")
    assert not out.exists()


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("list.json", "[1, 2]", ["list.json", "JSON list", "object"]),
        ("section.toml", "[train]\nepochs = 1\n", ["[train]", "section", "top of the file"]),
        ("typo.toml", 'model = "mlp"\nbatchsize = 8\n', ["batchsize (did you mean batch_size?)"]),
    ],
    ids=["json-list", "toml-section", "typo-suggestion"],
)
def test_a_config_that_holds_no_flat_settings_is_one_line(capfd, tmp_path, name, text, words):
    """A JSON list was a TypeError traceback; a [train] section was only 'unknown key(s) train'."""
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "run"
    code, _, err = cli(capfd, "train", "--config", path, "--out", out)
    assert_one_line_error(code, err, *words)
    assert not out.exists()


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--n", "100000000"], ["--n", "10000", "100000000"]),
        (["--seed", str(2**70)], ["--seed", "4294967295"]),
        (["--out", "grid.jpg"], ["grid.jpg", "PNG", "grid.png"]),
        (["--out", "grid"], ["ending in .png"]),
        (["--out", "."], ["is a folder", "samples.png"]),
    ],
    ids=["n-huge", "seed-huge", "out-jpg", "out-no-suffix", "out-folder"],
)
def test_sample_refuses_huge_n_bad_seed_and_non_png_out(capfd, mlp_run, tmp_path, monkeypatch, flags, words):
    """Before: --n 10**8 drew for minutes (and then would not fit in memory), a seed of 2**70 was a
    traceback, --out grid.jpg held PNG bytes, and --out FOLDER said 'make sure . is writable'."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("reference.metrics.evaluate.sample_images", lambda *a, **k: pytest.fail("sampled before refusing"))
    code, _, err = cli(capfd, "sample", mlp_run, *flags)
    assert_one_line_error(code, err, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a refused sample wrote a file"


@pytest.mark.parametrize("command", ["fid", "eval", "train-classifier"])
def test_a_seed_out_of_range_is_one_line_in_every_command(capfd, mlp_run, monkeypatch, command):
    args = {"fid": ["fid", "digits:test", mlp_run], "eval": ["eval", mlp_run], "train-classifier": ["train-classifier"]}[command]
    monkeypatch.setitem(cli_module.COMMANDS, command, lambda _args: pytest.fail(f"{command} ran with a seed of 2**70"))
    code, _, err = cli(capfd, *args, "--seed", str(2**70))
    assert_one_line_error(code, err, "--seed", "4294967295")


def test_out_inside_the_image_folder_or_a_folder_of_other_files_is_refused(capfd, flat_image_folder, tmp_path):
    """--out inside folder:PATH would add the run's samples to the training images next time; a
    non-empty folder that is no run was told to '--resume' it."""
    folder = flat_image_folder.root
    before = hashes(folder)
    for out in (folder, folder / "run"):
        code, _, err = cli(capfd, *MLP, "--dataset", f"folder:{folder}", "--image-size", "8", "--epochs", "1", "--out", out)
        assert_one_line_error(code, err, str(out), "inside the image folder", "outside it")
        assert hashes(folder) == before and not (folder / "run").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("my notes\n")
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", other)
    assert_one_line_error(code, err, str(other), "no run folder", "new --out")
    assert "--resume" not in err
    assert [p.name for p in other.iterdir()] == ["todo.txt"]


def test_a_second_training_of_the_same_out_meanwhile_is_refused(capfd, tmp_path, monkeypatch):
    """Two `gan-course train --out SAME` at once: the second deleted the first's temp files (its own
    'no such file or directory while writing config.json') or mixed its files into the other run.
    The second call comes while the first is inside train(): no clock, no race."""
    run = tmp_path / "run"
    calls, inner = [], {}

    def fake_train(cfg, out, **kwargs):
        calls.append(cfg.seed)
        if len(calls) == 1:
            out.mkdir(parents=True)  # both runs found it empty: the first has not written a file yet
            inner["code"], _, inner["err"] = cli(capfd, *TINY, "--epochs", "1", "--seed", "1", "--out", tmp_path / "." / "run")
        return out

    monkeypatch.setattr(trainer, "train", fake_train)
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", run)
    assert code == 0, err
    assert calls == [0], f"the second run trained into the same folder: seeds {calls}"
    assert_one_line_error(inner["code"], inner["err"], "another 'gan-course train'", "choose another --out")
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", tmp_path / "other")  # the lock ends with the run
    assert code == 0 and calls == [0, 0], err


def test_a_lock_folder_others_can_write_is_never_used(capfd, tmp_path, monkeypatch):
    """On a shared /tmp another user can make gan-course-locks-<uid> first (open to all) and hold the
    lock files in it: every run of ours would then be refused. Such a folder is ignored: the run
    trains, unlocked, as it did before locks."""
    import fcntl
    import hashlib
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    run = tmp_path / "run"
    folder = tmp_path / "tmp" / f"gan-course-locks-{os.getuid()}"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    key = hashlib.sha256(str(run.resolve()).encode()).hexdigest()[:20]
    held = os.open(folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the other user's hold
    calls = []
    monkeypatch.setattr(trainer, "train", lambda cfg, out, **kwargs: calls.append(out) or out)
    try:
        code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", run)
    finally:
        os.close(held)
    assert code == 0 and calls == [run], err


# ---- unseen machines and inputs: devices, memory, bars, 2-D runs, run configs ----------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "no-such-run", "--device", "tpu"],
        ["train-classifier", "--device", "tpu"],
        ["fid", "digits:test", "digits:train", "--device", "gpu"],
        ["sample", "no-such-run", "--device", "cpu:0"],
        ["train-classifier", "--device", "cuda:x"],
    ],
)
def test_an_unknown_device_is_one_line_in_every_command(capfd, argv):
    """Only train checked --device against its list; sample, fid, eval and train-classifier ended in torch's traceback."""
    code, _, err = cli(capfd, *argv)
    assert_one_line_error(code, err, f"unknown device '{argv[-1]}'", "auto, cpu, cuda, mps")


def test_a_cuda_index_beyond_the_gpus_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert trainer.resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(UserError, match="has 1 CUDA GPU"):
        trainer.resolve_device("cuda:3")


def test_an_image_size_the_model_refuses_is_named_before_the_data_is_resized(capfd, tmp_path):
    """--image-size 100000 resized 1,437 digits to 100000 px (a 13 TB allocation and a traceback)
    before the model could say which sizes it takes."""
    code, _, err = cli(capfd, *TRAIN, "--image-size", "100000", "--epochs", "1", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "dcgan", "28, 32, 64 or 128", "--image-size 64 or 128")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["summary", "--model", "mlp", "--image-size", "100000"], ["not enough memory", "gan-course summary", "GiB", "--image-size or --nz"]),
        ([*MLP, "--nz", "100000000", "--epochs", "1"], ["not enough memory", "gan-course train", "--batch-size", "--nz"]),
    ],
)
def test_a_size_too_large_for_memory_is_one_line(capfd, tmp_path, argv, words):
    """A model or data too large for memory ended in a 'DefaultCPUAllocator: can't allocate memory' traceback."""
    code, _, err = cli(capfd, *argv, *(["--out", tmp_path / "run"] if argv[0] == "train" else []))
    assert_one_line_error(code, err, *words)
    assert not (tmp_path / "run").exists()


def test_a_gpu_out_of_memory_mid_run_is_one_line_and_names_the_kept_run(capfd, tmp_path, monkeypatch):
    run = tmp_path / "run"
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", run)
    assert code == 0, err
    before = hashes(run)

    def out_of_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 15.77 GiB total capacity)")

    monkeypatch.setattr(trainer.Run, "train_epoch", out_of_memory)
    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", "2")
    assert_one_line_error(code, err, "not enough memory", "20.00 GiB", "--batch-size", f"{run} keeps every epoch")
    kept = lambda files: {k: v for k, v in files.items() if k != "config.json"}  # noqa: E731 - the resume records --epochs 2
    assert kept(hashes(run)) == kept(before)

    def bug(self, *args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (64x100 and 128x256)")

    monkeypatch.setattr(trainer.Run, "train_epoch", bug)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):  # any other error is a bug and keeps its traceback
        main(["train", "--resume", str(run), "--epochs", "2"])


def test_an_error_mid_run_gets_its_own_last_line_after_the_progress_bar(capfd, tmp_path, monkeypatch):
    """The open bar was redrawn at exit after the error line, and the error stuck to the end of the bar's line."""
    run = tmp_path / "run"
    calls = []
    train_epoch = trainer.Run.train_epoch

    def stopped(self, epoch, bar):
        calls.append(epoch)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return train_epoch(self, epoch, bar)

    monkeypatch.setattr(trainer.Run, "train_epoch", stopped)
    code, _, err = cli(capfd, *TINY, "--progress", "--epochs", "3", "--out", run)
    assert code == 2
    expected = f"gan-course: error: interrupted; resume the run with: gan-course train --resume {shlex.quote(str(run))}"
    assert err.endswith("\n" + expected + "\n"), f"the error is not the last line of its own: {err[-300:]!r}"


@pytest.mark.parametrize("command", ["fid", "train", "train-classifier"])
def test_an_error_after_a_folders_decoding_bar_starts_its_own_line(capfd, flat_image_folder, tmp_path, monkeypatch, command):
    """stderr captured to a file (a log, a scheduler, 2> err.txt): the decoding bar erased itself with a carriage
    return, and the error after it shared the bar's line ('decoding flat: 100%|...|\\rgan-course: error: ...')."""
    (flat_image_folder.root / "zz.png").write_bytes(b"not an image")
    folder = flat_image_folder.root
    monkeypatch.setattr(cli_module, "_metric_setup", lambda args, sources: (None, "cpu"))  # no classifier needed to decode
    argv = {"fid": ["fid", folder, folder, "--device", "cpu"],
            "train": ["train", "--model", "mlp", "--dataset", f"folder:{folder}", "--image-size", "8", "--epochs", "1",
                      "--device", "cpu", "--out", tmp_path / "run"],
            "train-classifier": ["train-classifier", "--dataset", f"folder:{folder}", "--epochs", "1", "--device", "cpu"]}[command]
    code, _, err = cli(capfd, *argv)
    assert code == 2 and "decoding flat" in err, err  # the bar was drawn (else this proves nothing)
    lines = err.split("\n")  # newlines only: in a file a carriage return ends no line
    assert lines[-1] == "" and lines[-2].startswith("gan-course: error: cannot decode image"), f"the error shares a line: {err!r}"


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("cli") / "ring-run"
    code = main(["train", "--model", "mlp2d", "--dataset", "ring", "--epochs", "1", "--max-images", "256",
                 "--device", "cpu", "--no-progress", "--out", str(run)])
    assert code == 0
    return run


@pytest.mark.parametrize("flags, words", [(["--n", "-5"], ["--n", "-5"]), (["--n", "0"], ["--n", "0"]),
                                          (["--device", "tpu"], ["unknown device 'tpu'"])])
def test_eval_of_a_2d_run_checks_n_and_device(capfd, ring_run, flags, words):
    """A ring or grid run's eval skipped the checks of --n (-5: a torch.cat traceback; 0: 2,500 samples) and --device."""
    code, _, err = cli(capfd, "eval", ring_run, *flags)
    assert_one_line_error(code, err, *words)


def test_eval_of_a_2d_run_reports_mode_coverage(capfd, ring_run):
    code, out, err = cli(capfd, "eval", ring_run, "--n", "50")
    assert code == 0, err
    assert "Samples: 50 " in out and "Modes covered:" in out


@pytest.mark.parametrize("sources", [["RUN", "ring:test"], ["grid:test", "ring:train"]])
def test_fid_of_2d_points_points_to_eval(capfd, ring_run, sources):
    """fid on ring or grid sent the user to 'train-classifier --dataset ring', which refuses: a dead end."""
    code, _, err = cli(capfd, "fid", *[ring_run if s == "RUN" else s for s in sources])
    assert_one_line_error(code, err, "2-D points", "gan-course eval")
    assert "train-classifier" not in err


@pytest.mark.parametrize("name", ["last.pt", "notes.txt", "exp.yaml"])
def test_a_config_that_is_no_toml_or_json_is_refused(capfd, tmp_path, name):
    """An empty checkpoint passed as --config was read as an empty TOML: a default 30-epoch run started."""
    path = tmp_path / name
    path.write_bytes(b"")
    code, _, err = cli(capfd, "train", "--config", path, "--out", tmp_path / "run")
    assert_one_line_error(code, err, str(path), ".toml", ".json")
    assert not (tmp_path / "run").exists()


def test_an_upper_case_json_config_is_read_as_json(capfd, tmp_path):
    path = tmp_path / "EXP.JSON"
    path.write_text('{"model": "mlp", "epochs": 1, "max_images": 64}')
    code, _, err = cli(capfd, *TRAIN, "--config", path, "--out", tmp_path / "run")
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"] == "mlp"


def _conditional_config(run: Path) -> dict:
    cfg = TrainConfig(model="cdcgan", dataset="digits", epochs=1, max_images=64, batch_size=32, ngf=8, ndf=8,
                      device="cpu", progress=False, threads=1).to_dict()
    return {**cfg, "shape": [1, 28, 28], "nz": 100, "world_size": 1, "num_classes": 10}


def test_a_conditional_run_stopped_before_its_first_checkpoint_resumes(capfd, tmp_path):
    """Its config.json holds num_classes, which --resume took for an unknown setting: the run could not restart."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(_conditional_config(run)))
    code, _, err = cli(capfd, "train", "--resume", run)
    assert code == 0, err
    assert load_checkpoint(run)["epoch"] == 1


def test_a_runs_config_json_rebuilds_the_run_through_config(capfd, tmp_path):
    """README: config.json holds every setting, enough to rebuild the run; --config of it was refused
    for shape, world_size and num_classes."""
    first, second = tmp_path / "first", tmp_path / "second"
    (tmp_path / "config.json").write_text(json.dumps(_conditional_config(first)))
    assert cli(capfd, "train", "--config", tmp_path / "config.json", "--out", first)[0] == 0
    code, _, err = cli(capfd, "train", "--config", first / "config.json", "--out", second)
    assert code == 0, err
    a, b = load_checkpoint(first), load_checkpoint(second)
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"]), "the rebuilt run differs"


@pytest.fixture
def no_home(monkeypatch):
    """A process with no home folder: HOME unset for a user the system has no entry for (a container
    started with --user 12345), where Python cannot expand ~; no data root or cache chosen."""
    import pathlib

    expanduser = pathlib.Path.expanduser

    def no_home_expanduser(self):
        if str(self).startswith("~"):
            raise RuntimeError("Could not determine home directory.")
        return expanduser(self)

    monkeypatch.setattr(pathlib.Path, "expanduser", no_home_expanduser)
    for name in ("HOME", "GAN_COURSE_DATA", "GAN_COURSE_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_the_offline_default_trains_without_a_home_folder(capfd, tmp_path, no_home):
    """The digits need no data root, yet the default root (~/.cache/gan-course/data) was expanded first: a traceback."""
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", tmp_path / "run")
    assert code == 0, err
    assert load_checkpoint(tmp_path / "run")["epoch"] == 1


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--dataset", "mnist", "--epochs", "1"], ["~/.cache/gan-course/data", "set HOME", "GAN_COURSE_DATA", "--data-dir"]),
        (["train", "--dataset", "folder:~/dogs", "--epochs", "1"], ["~/dogs", "set HOME", "full path"]),
        (["train-classifier", "--epochs", "1", "--data-dir", "."], ["~/.cache/gan-course", "set HOME", "GAN_COURSE_CACHE"]),
        (["fid", "~/fake.npz", "digits:test"], ["~", "set HOME", "full path"]),
    ],
)
def test_a_path_in_a_missing_home_folder_is_one_line(capfd, tmp_path, no_home, argv, words):
    code, _, err = cli(capfd, *argv, *(["--out", tmp_path / "run"] if argv[0] == "train" else []))
    assert_one_line_error(code, err, *words)


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "RUN", "--out", "LOCKED/grid.png"],
        ["fid", "LOCKED/fake.npz", "digits:test"],
        ["train", "--model", "mlp", "--epochs", "1", "--out", "LOCKED/run"],
        ["train", "--resume", "LOCKED/run", "--epochs", "2"],
        ["eval", "LOCKED/run"],
        ["train", "--config", "LOCKED/exp.toml"],
    ],
)
def test_a_path_in_a_folder_the_user_may_not_enter_is_one_line(capfd, tmp_path, mlp_run, monkeypatch, argv):
    """As a user other than root, a path inside another user's private folder made stat() raise
    PermissionError: sample, fid, train, eval and --config ended in a traceback. On Python 3.14, where
    Path.exists() and is_file() answer False there, they said the file "does not exist" (reference.paths)."""
    locked = tmp_path / "locked"
    stat_ = os.stat

    def denied(path, *args, **kwargs):  # what a folder of mode 0700 owned by another user does (root is never denied)
        if os.fspath(path).startswith(str(locked) + os.sep):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return stat_(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", denied)  # every Python's pathlib and os.path look through os.stat
    argv = [str(mlp_run) if a == "RUN" else a.replace("LOCKED", str(locked)) for a in argv]
    code, _, err = cli(capfd, *argv)
    assert_one_line_error(code, err, "permission denied", str(locked), "ask its owner")


def test_autograde_in_the_lean_install_names_the_dev_extra(capfd, monkeypatch):
    """`pip install -e .` has no nbformat or nbgrader: `gan-course autograde` ended in a ModuleNotFoundError traceback."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the course folder
    for name in [m for m in sys.modules if m == "reference.grading.bridge" or m.split(".")[0] in ("nbformat", "nbgrader")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "nbformat", None)  # import nbformat: ModuleNotFoundError, as where it is not installed
    code, _, err = cli(capfd, "autograde", "a3_save_every_10_epochs", "--no-sandbox")
    assert_one_line_error(code, err, "autograde needs nbformat", "[dev]", 'pip install -e ".[dev]"')


@pytest.mark.parametrize("text, words", [
    ("c = \n", ["nbgrader_config.py, line 1: SyntaxError: invalid syntax"]),
    ("c = get_config()\nc.GanCourseGrading.wall_s = sixty\n", ["nbgrader_config.py, line 2: NameError", "'sixty'"]),
])
def test_autograde_with_a_broken_nbgrader_config_names_the_file(capfd, monkeypatch, tmp_path, text, words):
    """autograde reads its limits from the course's nbgrader_config.py: a syntax error or an undefined name
    there ended it in a traceback through traitlets' loader."""
    (tmp_path / "nbgrader_config.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capfd, "autograde", "a2_conv_layers", "--no-sandbox")
    assert_one_line_error(code, err, str(tmp_path / "nbgrader_config.py"), *words, "fix the file")


def test_autograde_without_a_home_folder_says_to_set_home_not_to_fix_the_config(capfd, monkeypatch, tmp_path):
    """A container started with --user 12345 (no password entry) and no HOME: an import in nbgrader_config.py asks for
    the home folder, and the message blamed the file, which is fine. (nbgrader imported first, as in a long session:
    the next test starts a fresh interpreter, where nbgrader's own import asks first.)"""
    import nbgrader.apps  # noqa: F401 - imported while the home folder exists, so the config file is what asks

    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nfrom pathlib import Path\nPath.home()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    code, _, err = cli(capfd, "autograde", "a2_conv_layers", "--no-sandbox")
    assert_one_line_error(code, err, "nbgrader_config.py, line 3", "Could not determine home directory", "set HOME")
    assert "fix the file" not in err


def test_autograde_without_a_home_folder_in_a_fresh_process_says_to_set_home(tmp_path):
    """The same container, with a plain config: Jupyter's own import (through nbgrader) asks for the home folder before
    any config is read; the line said "a path starts with ~", which the user never wrote."""
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    script = (
        "import pwd, sys\n"
        "def no_entry(uid):\n    raise KeyError(uid)\n"
        "pwd.getpwuid = no_entry\n"
        "from reference.cli import main\n"
        "sys.exit(main(['autograde', 'a2_conv_layers', '--no-sandbox']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "this process has no home folder" in done.stderr and "set HOME" in done.stderr, done.stderr
    assert "starts with ~" not in done.stderr.split(";")[0], done.stderr


def test_a_non_ascii_out_in_the_posix_locale_trains(capfd, tmp_path):
    """LC_ALL=POSIX without UTF-8 mode hands a name in another alphabet over with surrogate escapes
    ('tt \\udcc3\\udca9' for 'tt é'): the lock's key, str.encode() of the path, ended the run in a traceback."""
    out = str(tmp_path / "tt ") + "\udcc3\udca9"
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", out)
    assert code == 0, err
    assert (tmp_path / os.fsdecode("tt é".encode()) / "checkpoints" / "last.pt").is_file()


def test_stdout_in_the_posix_locale_prints_path_bytes_as_they_came_and_escapes_the_rest(monkeypatch):
    """There Python's stdout is ASCII with errors='surrogateescape': 'KID: x ± y' ended eval and fid in a
    UnicodeEncodeError after their work was done."""
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="surrogateescape", newline="\n")
    monkeypatch.setattr(sys, "stdout", stream)

    def scores(args):
        print("KID: 1 ± 2 for run tt \udcc3\udca9")
        return 0

    monkeypatch.setitem(cli_module.COMMANDS, "configs", scores)
    assert main(["configs"]) == 0
    stream.flush()
    assert raw.getvalue() == b"KID: 1 \\xb1 2 for run tt \xc3\xa9\n"
    assert stream.errors == "surrogateescape", "stdout's own error handler was not restored"


def test_stderr_in_the_posix_locale_prints_path_bytes_as_they_came(monkeypatch):
    """There Python's stderr is ASCII with errors='backslashreplace': an error line named the folder 'dé' (given as
    'd\\udcc3\\udca9') as 'd\\udcc3\\udca9', while the success lines printed it right (red-team finding)."""
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="backslashreplace", newline="\n")
    monkeypatch.setattr(sys, "stderr", stream)

    def refuses(args):
        raise UserError("no data in /tmp/d\udcc3\udca9 \u00b1")

    monkeypatch.setitem(cli_module.COMMANDS, "configs", refuses)
    assert main(["configs"]) == 2
    stream.flush()
    assert raw.getvalue() == b"gan-course: error: no data in /tmp/d\xc3\xa9 \\xb1\n"
    assert stream.errors == "backslashreplace", "stderr's own error handler was not restored"


def test_an_unknown_classifier_dataset_is_named_with_the_choices(capfd):
    """--classifier nope sent the user to 'gan-course train-classifier --dataset nope', which refuses it."""
    code, _, err = cli(capfd, "fid", "digits:test", "digits:train", "--classifier", "nope")
    assert_one_line_error(code, err, "--classifier nope", "digits, mnist, fashion-mnist, cifar10, folder:PATH")
    assert "train-classifier" not in err


@pytest.mark.parametrize("argv, words", [
    (["summary", "--dataset", "folder:no-such-folder"], ["image folder no-such-folder does not exist", "folder:PATH"]),
    (["summary", "--dataset", "mnsit"], ["unknown dataset 'mnsit' (did you mean mnist?)", "digits, mnist"]),
    (["train-classifier", "--dataset", "fashion_mnist"], ["unknown dataset 'fashion_mnist' (did you mean fashion-mnist?)"]),
])
def test_a_missing_image_folder_or_a_misspelt_dataset_is_one_line(capfd, argv, words):
    """summary printed a table for a folder that does not exist (train refuses it); a misspelt dataset got the
    choices without the one meant (red-team findings)."""
    code, out, err = cli(capfd, *argv)
    assert_one_line_error(code, err, *words)
    assert "parameters" not in out


# ---- SIGTERM, lock files, sample counts of the metrics ---------------------------------------------


STOPPED_BY = {
    "SIGTERM": "stopped by SIGTERM (a time limit, a culler or kill)",
    "SIGHUP": "stopped by SIGHUP (the terminal or SSH session closed)",
    "SIGINT": "interrupted",
}


@pytest.mark.parametrize("signals", [("SIGTERM",), ("SIGHUP",), ("SIGINT", "SIGINT"), ("SIGTERM", "SIGINT")])
def test_a_stop_mid_run_is_one_line_and_the_run_resumes(capfd, tmp_path, signals):
    """SIGTERM (Slurm's time limit, JupyterHub's culler, `kill`) ended the run at once with status 143 and
    nothing on stderr, SIGHUP (a closed terminal) with 129; a second Ctrl-C during the clean-up of the first
    printed a traceback from Python's exit and ended with the signal's status. Now each stops as one Ctrl-C
    does: the bar closed, one last line naming the folder to resume, status 2, no temporary or lock file
    left, and --resume finishes the run."""
    run = tmp_path / "run"
    last = run / "checkpoints" / "last.pt"
    locks = tmp_path / "tmp"
    locks.mkdir()
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [console_script(), *TRAIN, "--progress", "--model", "dcgan", "--ngf", "8", "--ndf", "8", "--epochs", "100",
             "--out", str(run)],
            stdout=subprocess.DEVNULL, stderr=stderr, env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(locks)},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C as a terminal's command gets it
        )  # fmt: skip
        try:
            while not last.exists():  # no deadline: a run that ends without last.pt fails here
                assert proc.poll() is None, f"training exited early: {log.read_text()[-2000:]}"
                time.sleep(0.02)
            time.sleep(0.4)  # part-way through a later epoch
            for name in signals:
                if proc.poll() is None:
                    os.kill(proc.pid, getattr(signal, name))
                    time.sleep(0.01)  # the second arrives during the clean-up of the first
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = log.read_text()
    # two signals 10 ms apart may both be pending when the main thread looks (in a long torch call): Python then
    # handles the lower-numbered first, SIGINT before SIGTERM, so either may be the stop named
    expected = [f"gan-course: error: {STOPPED_BY[name]}; resume the run with: gan-course train --resume {shlex.quote(str(run))}"
                for name in signals]
    assert proc.returncode == 2, f"status {proc.returncode}; stderr ends: {err[-500:]!r}"
    assert any(err.endswith("\n" + line + "\n") for line in expected), f"the stop is not the last line of its own: {err[-500:]!r}"
    assert "Traceback" not in err
    assert not temp_files(run), temp_files(run)
    assert not list(locks.rglob("*.lock")), "the run's lock file was left behind"
    done = load_checkpoint(last)["epoch"]
    assert 1 <= done < 100 and metric_epochs(run) == list(range(1, done + 1))
    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", done + 1)
    assert code == 0, f"--resume after {signals} failed: {err}"
    assert load_checkpoint(last)["epoch"] == done + 1


def test_sigterm_outside_train_is_one_line_too(capfd, monkeypatch):
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0)  # the handler runs between bytecodes
        raise AssertionError("SIGTERM did not stop the command")

    def ours(signum, frame):  # this test process's own handler: without main()'s, SIGTERM would end pytest
        pass

    before = signal.signal(signal.SIGTERM, ours)
    monkeypatch.setattr("reference.config.named_configs", terminated)
    try:
        code, _, err = cli(capfd, "configs")
        assert signal.getsignal(signal.SIGTERM) is ours, "main() must give SIGTERM back its handler"
    finally:
        signal.signal(signal.SIGTERM, before)
    assert code == 2 and err == "gan-course: error: stopped by SIGTERM (a time limit, a culler or kill)\n", err


def test_lock_files_are_removed_after_each_run_and_stale_ones_cleaned(capfd, tmp_path, monkeypatch):
    """/tmp/gan-course-locks-UID kept one empty lock file per run folder ever trained."""
    import fcntl
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    folder = tmp_path / "tmp" / f"gan-course-locks-{os.getuid()}"
    folder.mkdir(parents=True, mode=0o700)
    (folder / ("0" * 20 + ".lock")).touch()  # left by an older version's run
    held_path = folder / ("1" * 20 + ".lock")  # a run training right now
    held = os.open(held_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    seen = []
    monkeypatch.setattr(trainer, "train", lambda cfg, out, **kwargs: seen.append(sorted(p.name for p in folder.iterdir())) or out)
    try:
        for name in ("a", "b"):
            code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out", tmp_path / name)
            assert code == 0, err
    finally:
        os.close(held)
    assert all(len(names) == 2 and held_path.name in names for names in seen), f"no lock while training: {seen}"
    assert sorted(p.name for p in folder.iterdir()) == [held_path.name], "only the held lock may stay"


@pytest.mark.parametrize("command", ["fid", "eval"])
def test_metric_sample_counts_are_bounded_up_front(capfd, mlp_run, command, monkeypatch):
    """--n 100000000 sampled for a long time and ended in the memory error."""
    from reference.metrics import evaluate

    monkeypatch.setattr(evaluate, "sample_images", lambda *a, **k: pytest.fail("sampled before refusing --n"))
    sources = [mlp_run, "digits:test"] if command == "fid" else [mlp_run]
    code, _, err = cli(capfd, command, *sources, "--n", "100000000")
    assert_one_line_error(code, err, "--n must be at most 100,000", "50,000", "100,000,000")


def test_eval_samples_is_bounded(capfd, tmp_path):
    code, _, err = cli(capfd, *TINY, "--eval-every", "1", "--eval-samples", "100000001", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "--eval-samples", "100,000")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["train", "summary"])
def test_a_folder_dataset_without_its_path_is_named(capfd, tmp_path, monkeypatch, command):
    """--dataset folder: (the path forgotten) read the current folder: train refused it as '--out ... is inside
    the image folder CWD of --dataset folder:', whose fix (another --out) trained on whatever images the
    current folder held."""
    monkeypatch.chdir(tmp_path)
    out = ["--out", tmp_path / "elsewhere" / "run"] if command == "train" else []
    code, _, err = cli(capfd, command, *MLP[1:] if command == "train" else ["--model", "mlp"], "--dataset", "folder:", *out)
    assert_one_line_error(code, err, "--dataset folder: names no folder", "folder:PATH")
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("n", ["2", "3"])
def test_eval_samples_too_few_for_precision_and_recall_are_refused_up_front(capfd, tmp_path, n):
    """--eval-samples 2 or 3 trained the first epoch, then ended in 'k must be between 1 and N - 1' (k: a
    parameter nobody typed), leaving a run folder with config.json only."""
    code, _, err = cli(capfd, *TINY, "--eval-every", "1", "--eval-samples", n, "--out", tmp_path / "run")
    assert_one_line_error(code, err, f"--eval-samples must be a whole number from 4 to 100,000", f"got {n}")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["fid", "eval"])
def test_metric_sample_counts_too_small_for_precision_and_recall_are_refused(capfd, mlp_run, command, monkeypatch):
    """--n 3 sampled, then ended in 'k must be between 1 and N - 1 = 2 (N points), got k=3'."""
    from reference.metrics import evaluate

    monkeypatch.setattr(evaluate, "sample_images", lambda *a, **k: pytest.fail("sampled before refusing --n"))
    sources = [mlp_run, "digits:test"] if command == "fid" else [mlp_run]
    code, _, err = cli(capfd, command, *sources, "--n", "3")
    assert_one_line_error(code, err, "--n must be a whole number >= 4", "3rd nearest", "got 3")


def test_the_resume_command_of_a_stopped_run_pastes_with_a_space_in_its_folder(capfd, tmp_path, monkeypatch):
    run = tmp_path / "my run"
    err = interrupted_at_once(capfd, monkeypatch, run)
    assert err.splitlines() == [f"gan-course: error: interrupted; resume the run with: gan-course train --resume '{run}'"], err


def test_a_real_write_failure_inside_torch_save_is_one_line(capfd, tmp_path):
    """torch.save reports a write that fails (a full disk, here a file-size limit: EFBIG) as a RuntimeError
    "[enforce fail at inline_container.cc] unexpected pos ...": the run ended in that traceback."""
    import resource

    run = tmp_path / "run"
    limit = 100_000  # config.json fits, the MLP's last.pt (about 5 MB) does not

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [console_script(), *TINY, "--epochs", "3", "--save-every", "2", "--out", str(run)],
        capture_output=True, text=True, preexec_fn=small_files, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert_one_line_error(proc.returncode, proc.stderr, "file too large", str(run / "checkpoints" / "last.pt"), f"--resume {shlex.quote(str(run))}")
    assert not temp_files(run), temp_files(run)


def test_resuming_a_run_in_a_folder_that_takes_no_files_gives_advice_that_applies(capfd, run_copy, monkeypatch):
    """It said "choose an --out folder you can write to", but --resume refuses --out: a dead end."""
    import tempfile

    real = tempfile.mkdtemp

    def read_only(*args, dir=None, **kwargs):
        if Path(dir) == run_copy:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(trainer.tempfile, "mkdtemp", read_only)
    before = hashes(run_copy)
    code, _, err = cli(capfd, "train", "--resume", run_copy, "--epochs", "3")
    assert_one_line_error(code, err, f"cannot write to {run_copy}", "copy the run folder", "--resume the copy")
    assert "--out" not in err
    assert hashes(run_copy) == before


def test_relative_dataset_folder_and_data_dir_are_recorded_absolute(capfd, flat_image_folder, tmp_path, monkeypatch):
    """config.json kept folder:pets and --data-dir data as typed: resumed or evaluated from another folder,
    the run looked for other folders, and --resume refuses a changed --dataset: a dead end."""
    run = tmp_path / "run"
    monkeypatch.chdir(flat_image_folder.root.parent)
    code, _, err = cli(capfd, *TRAIN, "--model", "mlp", "--dataset", f"folder:{flat_image_folder.root.name}", "--image-size", "8",
                       "--batch-size", "4", "--epochs", "1", "--data-dir", "data", "--out", run)
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert saved["dataset"] == f"folder:{flat_image_folder.root}" and saved["data_dir"] == str(flat_image_folder.root.parent / "data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", "2")
    assert code == 0, err
    assert metric_epochs(run) == [1, 2]


def test_resume_of_a_folder_that_does_not_exist_asks_for_a_folder(capfd, tmp_path):
    """It said "checkpoint X does not exist; pass a file", but --resume refuses files."""
    code, _, err = cli(capfd, "train", "--resume", tmp_path / "nothere")
    assert_one_line_error(code, err, f"run folder {tmp_path / 'nothere'} does not exist", "the folder of a run")
    assert "pass a file" not in err


def test_a_runs_checkpoints_folder_is_taken_where_a_checkpoint_is_and_refused_by_resume(capfd, mlp_run, tmp_path):
    """`sample RUN/checkpoints` said 'expected RUN/checkpoints/checkpoints/last.pt'; fid took it for a folder of images."""
    folder = mlp_run / "checkpoints"
    code, out, err = cli(capfd, "sample", folder, "--n", "4", "--out", tmp_path / "grid.png")
    assert code == 0 and (tmp_path / "grid.png").is_file(), err
    code, _, err = cli(capfd, "train", "--resume", folder, "--epochs", "3")
    assert_one_line_error(code, err, "checkpoints folder", f"--resume {shlex.quote(str(mlp_run))}")
    assert not (folder / "config.json").exists() and not (folder / "checkpoints").exists()


def test_a_tilde_the_shell_left_in_a_path_means_home(capfd, mlp_run, tmp_path, monkeypatch):
    """`--out=~/runs/x` reaches the program with its ~ (the shell expands none after '='): train made a
    folder named '~' in the current folder, and sample wrote into one."""
    home, here = tmp_path / "home", tmp_path / "here"
    here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    code, _, err = cli(capfd, *TINY, "--epochs", "1", "--out=~/runs/x")
    assert code == 0, err
    assert (home / "runs" / "x" / "checkpoints" / "last.pt").is_file() and not (here / "~").exists()
    code, _, err = cli(capfd, "train", "--resume=~/runs/x", "--epochs", "2")
    assert code == 0 and metric_epochs(home / "runs" / "x") == [1, 2], err
    code, out, err = cli(capfd, "sample", mlp_run, "--n", "4", "--out=~/grid.png")
    assert code == 0 and (home / "grid.png").is_file() and not (here / "~").exists(), err


def test_autograde_stops_on_sigterm_in_one_line(capfd, monkeypatch):
    """autograde's checks run in grading processes, which ignore SIGTERM and are stopped by the command: the
    command's own SIGTERM is the one-line stop, and its handler is given back after."""
    def grading(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0)  # the handler runs between bytecodes
        raise AssertionError("SIGTERM did not stop autograde")

    def ours(signum, frame):  # this test process's own handler: without main()'s, SIGTERM would end pytest
        pass

    monkeypatch.setattr("reference.grading.command.run", grading)
    before = signal.signal(signal.SIGTERM, ours)
    try:
        code, _, err = cli(capfd, "autograde", "a2_conv_layers")
        assert signal.getsignal(signal.SIGTERM) is ours, "main() must give SIGTERM back its handler"
    finally:
        signal.signal(signal.SIGTERM, before)
    assert code == 2 and err == ("gan-course: error: stopped by SIGTERM (a time limit, a culler or kill); no grades were recorded "
                                 "(the grading processes were stopped); run the same command again\n"), err


def test_a_stop_python_dropped_is_raised_again(capfd, monkeypatch):
    """A stop raised while a weakref callback runs is printed as "Exception ignored" and dropped by Python: the
    run went on training with every later Ctrl-C and kill ignored. The stop is raised again until it arrives."""
    import weakref

    monkeypatch.setattr("reference.cli.REDELIVER_S", 0.2)

    class Thing:
        pass

    def configs_that_drop_the_first_stop():
        thing = Thing()
        weakref.finalize(thing, lambda: (os.kill(os.getpid(), signal.SIGTERM), sum(range(10_000))))  # the stop lands here
        del thing
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # training goes on
            time.sleep(0.01)
        raise AssertionError("the dropped stop was never raised again")

    def ours(signum, frame):
        pass

    monkeypatch.setattr("reference.config.named_configs", configs_that_drop_the_first_stop)
    before = signal.signal(signal.SIGTERM, ours)
    try:
        code, _, err = cli(capfd, "configs")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert code == 2 and err.endswith("gan-course: error: stopped by SIGTERM (a time limit, a culler or kill)\n"), err


def test_an_error_raised_while_a_stop_unwinds_is_the_stops_one_line(capfd, monkeypatch):
    """torch.save's zip writer, closing as SIGTERM unwound it, raised RuntimeError("unexpected pos ..."): 40 lines
    of traceback and status 1 where the stop promises one line and status 2."""
    def configs():
        try:
            raise Terminated()
        finally:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 33007104 vs 33006996")

    from reference.cli import Terminated

    monkeypatch.setattr("reference.config.named_configs", configs)
    code, _, err = cli(capfd, "configs")
    assert code == 2 and err == "gan-course: error: stopped by SIGTERM (a time limit, a culler or kill)\n", err



def test_a_stop_that_cut_an_extension_import_short_is_the_stops_one_line(capfd, monkeypatch):
    """SIGTERM arriving while matplotlib's Agg backend (a pybind11 module) was imported left as ImportError
    ("initialization failed") raised from it: a traceback and status 1 (seen once in CI, mid-run)."""
    def configs():
        try:
            raise Terminated()
        except Terminated as stop:
            raise ImportError("initialization failed") from stop

    from reference.cli import Terminated

    monkeypatch.setattr("reference.config.named_configs", configs)
    code, _, err = cli(capfd, "configs")
    assert code == 2 and err == "gan-course: error: stopped by SIGTERM (a time limit, a culler or kill)\n", err


def test_an_import_error_of_no_stop_keeps_its_traceback(monkeypatch):
    """A bug is not a stop: an ImportError that no stop caused still raises."""
    from reference import cli as cli_module

    def configs():
        raise ImportError("no module named nowhere")

    monkeypatch.setattr("reference.config.named_configs", configs)
    with pytest.raises(ImportError, match="nowhere"):
        cli_module.main(["configs"])

@pytest.mark.parametrize("argv", [[*TRAIN, "--epochs", "1", "--out", ""], ["sample", "RUN", "--out", ""],
                                  ["train", "--resume", "", "--epochs", "2"], [*TRAIN, "--epochs", "1", "--config", ""]])
def test_an_empty_path_is_one_line_not_the_default(capfd, mlp_run, tmp_path, monkeypatch, argv):
    """--out "" (an unset shell variable) trained into the default runs/ folder, as if no --out had been given."""
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capfd, *[str(mlp_run) if a == "RUN" else a for a in argv])
    assert_one_line_error(code, err, *(["config ''", "nor a file"] if "--config" in argv else ["empty", "folder or file name"]))
    assert not (tmp_path / "runs").exists()


def test_runs_started_in_the_same_second_without_out_get_folders_of_their_own(capfd, tmp_path, monkeypatch):
    """The default run folder is named by the time to the second: of three runs of a seed sweep started together,
    two were refused ("another 'gan-course train' is writing to runs/..." or "already exists"). Each gets its own
    folder now (-2, -3), and a run that fails leaves none behind."""
    import reference.cli as cli_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_module.time, "strftime", lambda fmt, *a: "20261204-120000")  # the same second for all
    for seed in (1, 2, 3):
        code, out, err = cli(capfd, *MLP, "--epochs", "1", "--max-images", "64", "--seed", seed)
        assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "mlp-digits-20261204-120000", "mlp-digits-20261204-120000-2", "mlp-digits-20261204-120000-3"]
    code, _, err = cli(capfd, "train", "--model", "mlp", "--dataset", "mnist", "--data-dir", tmp_path / "no-data", "--epochs", "1")
    assert code == 2 and "mnist" in err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "mlp-digits-20261204-120000", "mlp-digits-20261204-120000-2", "mlp-digits-20261204-120000-3"]


def test_a_file_size_limit_is_named_as_such(tmp_path):
    """Under `ulimit -f` (a cluster's limits), a checkpoint larger than the limit was told to "make sure the folder
    is writable", which it is."""
    import resource

    run = tmp_path / "run"
    done = subprocess.run(
        [console_script(), *MLP, "--epochs", "1", "--max-images", "64", "--out", str(run)], capture_output=True, text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024)),
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert_one_line_error(done.returncode, done.stderr, "file too large while writing", "ulimit -f")
    assert "writable" not in done.stderr


def test_a_mistyped_split_is_named_as_a_split(capfd):
    code, _, err = cli(capfd, "fid", "mnist:tset", "digits:test")
    assert_one_line_error(code, err, "mnist:tset", "'tset' is no split of mnist", "mnist:train or mnist:test")


@pytest.mark.parametrize("suffix, text", [(".json", '{"epochs": -3}'), (".toml", "epochs = -3\n")])
def test_a_value_out_of_range_in_a_config_file_names_the_files_key(capfd, tmp_path, suffix, text):
    """A config file's `epochs = -3` was told as "--epochs must be ...", a flag the user never typed; a typed flag
    still names the flag."""
    config = tmp_path / f"bad{suffix}"
    config.write_text(text)
    code, _, err = cli(capfd, *MLP, "--config", config, "--out", tmp_path / "run")
    assert_one_line_error(code, err, f"epochs in {config} must be a whole number >= 1, got -3")
    code, _, err = cli(capfd, *MLP, "--config", config, "--epochs", "0", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "--epochs must be a whole number >= 1, got 0")


# ---- red team: misspelt names get the name meant, like --dataset's -----------------------------------------------


@pytest.mark.parametrize("argv, words", [
    ([*TRAIN, "--model", "dcgn"], ["unknown model 'dcgn' (did you mean dcgan?)", "mlp2d"]),
    ([*TRAIN, "--model", "DCGAN"], ["unknown model 'DCGAN' (did you mean dcgan?)"]),
    (["summary", "--model", "tf_dcgan"], ["unknown model 'tf_dcgan' (did you mean tf-dcgan?)"]),
    ([*TRAIN, "--loss", "hinj"], ["unknown loss 'hinj' (did you mean hinge?)", "wgan-gp"]),
    ([*TRAIN, "--optimizer", "adm"], ["unknown optimizer 'adm' (did you mean adam?)", "rmsprop"]),
    (["train", "--dataset", "digits", "--no-progress", "--device", "cpus"], ["unknown device 'cpus' (did you mean cpu?)"]),
    ([*TRAIN, "--fault", "no-detatch"], ["unknown fault 'no-detatch' (did you mean no-detach?)"]),
    ([*TRAIN, "--config", "mnist-mpl"], ["config 'mnist-mpl'", "(did you mean mnist-mlp?)"]),
    (["trian"], ["invalid choice: 'trian' (did you mean train?)"]),
    (["sample", "no-such-run", "--device", "CPU"], ["unknown device 'CPU' (did you mean cpu?)"]),
    (["fid", "digits:test", "digits:train", "--classifier", "mnst"], ["--classifier mnst", "(did you mean mnist?)"]),
], ids=["model", "model-case", "model-underscore", "loss", "optimizer", "device", "fault", "config", "command", "sample-device", "classifier"])
def test_a_misspelt_name_is_one_line_with_the_name_meant(capfd, tmp_path, argv, words):
    """Only --dataset said which name was meant: --model dcgn, --loss hinj, --config mnist-mpl, a command typed
    'trian' ... listed the choices and left the user to spot the typo (red-team finding)."""
    out = tmp_path / "run"
    code, _, err = cli(capfd, *argv, *(["--out", out] if argv[0] == "train" else []))
    assert_one_line_error(code, err, *words)
    assert not out.exists()


@pytest.mark.parametrize("command", ["sample", "eval", "fid"])
def test_a_run_stopped_before_its_first_checkpoint_says_so(capfd, run_copy, tmp_path, command):
    """A run stopped in its first epoch holds config.json only: sample and eval said 'no checkpoint in RUN ...; pass a
    run folder or a .pt file' (it was one), fid 'no images in RUN; put images there' (red-team finding)."""
    for name in ("checkpoints", "samples"):
        shutil.rmtree(run_copy / name)
    for name in ("metrics.csv", "losses.png"):
        (run_copy / name).unlink()
    argv = {"sample": ["sample", run_copy, "--out", tmp_path / "s.png"], "eval": ["eval", run_copy],
            "fid": ["fid", "digits:test", run_copy, "--classifier", "digits"]}[command]
    code, _, err = cli(capfd, *argv)
    assert_one_line_error(code, err, f"run {run_copy} has saved no checkpoint yet", f"gan-course train --resume {run_copy}")
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("kept", ["epoch-checkpoints", "metrics-only"])
def test_a_run_whose_last_checkpoint_is_gone_names_what_is_left(capfd, run_copy, kept):
    """--resume of a run whose checkpoints/last.pt was deleted said 'no checkpoint in RUN ...; pass a run folder'
    (it was one); its epoch_NNN.pt went unmentioned (red-team finding)."""
    (run_copy / "checkpoints" / "last.pt").unlink()
    if kept == "metrics-only":
        shutil.rmtree(run_copy / "checkpoints")
        words = [f"run {run_copy} trained epochs", "start a new run with --out"]
    else:
        words = [f"has {run_copy / 'checkpoints' / 'epoch_002.pt'}", f"copy that file to {run_copy / 'checkpoints' / 'last.pt'}"]
    code, _, err = cli(capfd, "train", "--resume", run_copy, "--epochs", "3")
    assert_one_line_error(code, err, *words)
    assert "--resume" not in err.split(";")[-1], "it must not send the user to the --resume that failed"


@pytest.mark.parametrize("dataset, name", [
    ("folder:/home/ana/faces/", "faces"),
    ("folder:C:\\Users\\ana\\faces", "faces"),  # a Windows path: no backslash or drive colon in the folder's name
    ("folder:C:/Users/ana/faces\\", "faces"),
    ("mnist", "mnist"),
])
def test_the_default_run_folder_is_named_by_the_datasets_last_folder(tmp_path, monkeypatch, dataset, name):
    """`--dataset folder:C:\\Users\\ana\\faces` named the run folder runs/dcgan-C:\\Users\\ana\\faces-..., a name
    Windows cannot create."""
    from types import SimpleNamespace

    from reference.cli import _default_out

    monkeypatch.chdir(tmp_path)
    out = _default_out(SimpleNamespace(model="dcgan", dataset=dataset))
    assert out.parent == Path("runs") and out.name.startswith(f"dcgan-{name}-"), out
    assert not set(out.name) & set("\\:"), out
