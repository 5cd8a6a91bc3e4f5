"""The GPU paths, run for real on a CUDA GPU: training on CUDA in full precision and under `--amp`
(bf16, and fp16 with its GradScaler), DistributedDataParallel joined with NCCL, and grading with
`--gpu` (the NVIDIA devices inside the sandbox).

CI has no GPU, so this module skips there; `tests/test_device_selection.py` checks the same
decisions against a simulated CUDA on every machine. On a GPU machine run it with
`pytest tests/test_gpu.py -n 0`; README "GPUs" records the last run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch

from reference.checkpoint import load_checkpoint

from sandbox_support import needs_sandbox

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none): run it on a GPU machine")


def gan_course(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "reference.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"gan-course {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def finite_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            assert math.isfinite(float(value)), f"epoch {row['epoch']}: {key} = {value}"
    return rows


# ---------------------------------------------------------------------------------------------
# Training on CUDA
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp"])
@pytest.mark.parametrize("model", ["mlp", "dcgan", "cdcgan"])
def test_train_on_cuda_writes_a_run_the_cpu_can_sample(tmp_path, model, amp):
    """`gan-course train --device cuda [--amp]`: finite metrics, a checkpoint that loads on the CPU with its
    weights on the CPU, and `gan-course sample` from it on the CPU draws a grid."""
    run = tmp_path / "run"
    gan_course("train", "--model", model, "--dataset", "digits", "--epochs", "2", "--device", "cuda", *(["--amp"] if amp else []),
               "--out", str(run), "--no-progress", "--seed", "0")
    assert [int(r["epoch"]) for r in finite_rows(run)] == [1, 2]
    config = json.loads((run / "config.json").read_text())
    assert config["device"] == "cuda" and config["amp"] is amp
    state = load_checkpoint(run)
    assert all(t.device.type == "cpu" for t in state["generator"].values()), "load_checkpoint should map the weights to the CPU"
    if amp and torch.cuda.is_bf16_supported():
        assert not state["scaler_d"], "bf16 autocast needs no GradScaler, but the checkpoint holds an enabled one's state"
    gan_course("sample", str(run), "--n", "16", "--out", str(tmp_path / "grid.png"), "--device", "cpu")
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_amp_on_a_gpu_without_bf16_trains_in_fp16_with_a_grad_scaler(tmp_path, monkeypatch):
    """A GPU before Ampere (a T4 on Colab's free tier) gets fp16 autocast with a GradScaler: forced here by
    answering "no bf16", then a real fp16 epoch on this GPU, with the scalers' state in the checkpoint."""
    import reference.trainer as trainer
    from reference.config import TrainConfig

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    seen = []
    autocast = torch.autocast

    def spy(device_type, dtype=None, **kwargs):
        seen.append((device_type, dtype))
        return autocast(device_type, dtype=dtype, **kwargs)

    monkeypatch.setattr(trainer.torch, "autocast", spy)
    cfg = TrainConfig(model="dcgan", dataset="digits", epochs=2, device="cuda", amp=True, progress=False, seed=0)
    run = trainer.train(cfg, tmp_path / "run")
    assert seen and set(seen) == {("cuda", torch.float16)}, f"autocast was entered as {sorted(set(map(str, seen)))}"
    finite_rows(run)
    state = load_checkpoint(run)
    for name in ("scaler_d", "scaler_g"):
        assert state[name].get("scale", 0) > 0, f"{name} holds no enabled GradScaler's state: {state[name]}"


# ---------------------------------------------------------------------------------------------
# DistributedDataParallel with NCCL
# ---------------------------------------------------------------------------------------------

SPY = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import torch
    import torch.distributed as dist
    import reference.trainer as trainer
    from reference.cli import main

    seen = {}
    train_epoch = trainer.Run.train_epoch

    def spy_epoch(self, epoch, bar):
        seen.update(backend=dist.get_backend() if dist.is_initialized() else None, ddp=type(self.D_train).__name__, device=str(next(self.G.parameters()).device),
                    world=dist.get_world_size() if dist.is_initialized() else 1)
        return train_epoch(self, epoch, bar)

    trainer.Run.train_epoch = spy_epoch
    code = main(sys.argv[1:])
    Path(os.environ["SPY_DIR"], f"rank{os.environ['RANK']}.txt").write_text(repr(seen))
    sys.exit(code)
    """
)


def test_torchrun_on_gpus_joins_with_nccl_and_each_rank_trains_on_its_own_gpu(tmp_path):
    """One process per GPU (at most 2): NCCL, each rank's networks on cuda:LOCAL_RANK, DDP-wrapped, and rank 0
    writes the run. On a single-GPU machine the group is one process: NCCL and DDP still run."""
    ranks = min(2, torch.cuda.device_count())
    spy = tmp_path / "spy.py"
    spy.write_text(SPY)
    run = tmp_path / "run"
    with tempfile.TemporaryDirectory(prefix="gan-course-torchrun-") as logs:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}", "--log-dir", logs,
               str(spy), "train", "--model", "dcgan", "--dataset", "digits", "--epochs", "2", "--device", "cuda", "--out", str(run),
               "--no-progress"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "SPY_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, f"torchrun exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-6000:]}"
    for rank in range(ranks):
        seen = eval((tmp_path / f"rank{rank}.txt").read_text())  # noqa: S307 (written by the spy above)
        if ranks == 1:
            # torchrun with one process: WORLD_SIZE=1 joins no group (the next test joins a one-GPU group)
            assert (seen["backend"], seen["device"], seen["world"]) == (None, "cuda:0", 1), seen
        else:
            assert seen == {"backend": "nccl", "ddp": "DistributedDataParallel", "device": f"cuda:{rank}", "world": ranks}, seen
    finite_rows(run)
    assert json.loads((run / "config.json").read_text())["world_size"] == ranks


ONE_GPU_GROUP = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import torch
    import torch.distributed as dist
    import reference.distributed as distributed
    import reference.trainer as trainer
    from reference.cli import main

    class OneRankGroup(distributed.DistInfo):
        @property
        def enabled(self):  # a group of one still takes every DDP path of the trainer
            return True

    def join(device):
        assert device.type == "cuda", device
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["PORT"])
        torch.cuda.set_device(0)
        dist.init_process_group(backend="nccl", rank=0, world_size=1)
        return OneRankGroup(0, 1, 0)

    seen = {}
    train_epoch = trainer.Run.train_epoch

    def spy_epoch(self, epoch, bar):
        out = train_epoch(self, epoch, bar)
        seen.update(backend=dist.get_backend(), ddp=type(self.D_train).__name__, g_ddp=type(self.G_train).__name__)
        return out

    trainer.init_distributed, trainer.Run.train_epoch = join, spy_epoch
    code = main(sys.argv[1:])
    Path(os.environ["SPY_DIR"], "seen.txt").write_text(repr(seen))
    sys.exit(code)
    """
)


def test_the_trainers_ddp_path_runs_on_nccl_in_a_one_gpu_group(tmp_path):
    """Every DDP path of `gan-course train` on CUDA (the wrappers, the gradients' all-reduce, the metrics'
    all_reduce_mean, the barriers, leaving the group) on an NCCL group, one rank per GPU. NCCL refuses two
    ranks on one GPU, so on a one-GPU machine the group has one rank (the torchrun test above runs two
    where there are two GPUs)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "one_gpu_group.py"
    script.write_text(ONE_GPU_GROUP)
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(script), "train", "--model", "dcgan", "--dataset", "digits", "--epochs", "2",
                           "--device", "cuda", "--out", str(run), "--no-progress"], capture_output=True, text=True,
                          env={**os.environ, "PORT": str(port), "SPY_DIR": str(tmp_path), "NCCL_DEBUG": "WARN"})
    assert proc.returncode == 0, f"exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    seen = eval((tmp_path / "seen.txt").read_text())  # noqa: S307 (written by the script above)
    assert seen == {"backend": "nccl", "ddp": "DistributedDataParallel", "g_ddp": "DistributedDataParallel"}, seen
    assert [int(r["epoch"]) for r in finite_rows(run)] == [1, 2]


# ---------------------------------------------------------------------------------------------
# Grading with --gpu
# ---------------------------------------------------------------------------------------------


GPU_CELL = textwrap.dedent(
    """
    import torch
    seen = {"available": torch.cuda.is_available(), "count": torch.cuda.device_count()}
    if seen["available"]:
        x = torch.arange(6.0, device="cuda").reshape(2, 3)
        seen["sum"] = float((x @ x.T).sum())
        seen["name"] = torch.cuda.get_device_name(0)

    def on_gpu(t):
        return (t.to("cuda") * 2) if torch.cuda.is_available() else t * 2
    """
)


@needs_sandbox
@pytest.mark.parametrize("gpu", [True, False], ids=["gpu", "no-gpu"])
def test_the_sandbox_sees_the_gpu_only_with_gpu(tmp_path, monkeypatch, gpu):
    """With gpu=True (`gan-course autograde --gpu`) a submission's CUDA code runs inside bubblewrap, and a CUDA
    tensor it returns reaches the grader as a CPU tensor; without it the sandbox shows no GPU."""
    from conftest import attack_course
    import nbformat
    from reference.grading.probes import forward
    from reference.grading.runner import session_for
    from reference.grading.sandbox import Limits

    root = attack_course(tmp_path, monkeypatch)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(GPU_CELL)]
    nbformat.write(nb, root / "attack.ipynb")
    with session_for(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=120, check_s=60), gpu=gpu) as session:
        assert not session.stopped, session.stopped
        cell = session.cells_output.get("0", {})
        assert not cell.get("error"), cell
        submission = session.for_check()
        seen = submission.get("seen")
        doubled = submission.run(forward, submission.get("on_gpu"), torch.arange(3.0))
    assert seen["available"] is gpu, seen
    assert isinstance(doubled, torch.Tensor) and doubled.device.type == "cpu" and doubled.tolist() == [0.0, 2.0, 4.0], doubled
    if gpu:  # x @ x.T of [[0, 1, 2], [3, 4, 5]] is [[5, 14], [14, 50]]
        assert seen == {"available": True, "count": torch.cuda.device_count(), "sum": 83.0, "name": torch.cuda.get_device_name(0)}, seen


TOUCH_CUDA = "import torch\ndevice = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\nwarm = torch.ones(1, device=device) * 2\n"


@needs_sandbox
@pytest.mark.parametrize("assignment", ["a5_wgan_gp", "a6_conditional_gan"])
def test_a_solution_that_starts_cuda_scores_full_marks_graded_with_gpu(tmp_path, assignment):
    """The model answer, with a first cell that starts CUDA as a notebook written on Colab does, graded in the
    sandbox with gpu=True: the CUDA context (its memory, threads and device files) fits the default limits,
    and every check scores what it scores without a GPU, a5's and a6's grade-time training runs included."""
    import nbformat
    from reference.grading.runner import grade_submission

    root = Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(TOUCH_CUDA))
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    record = grade_submission(path, assignment, root, gpu=True)
    assert not record["stopped"], record["stopped"]
    assert not record["cells"].get("1", {}).get("error"), record["cells"].get("1")
    lost = {name: (c["earned"], c["points"], c["message"]) for name, c in record["checks"].items() if c["earned"] != c["points"]}
    assert record["checks"] and not lost, lost
