"""The GPU choices of the trainer, decided on any machine: which device, which AMP dtype, which backend.

CI has no GPU, so these tests pretend one is there (monkeypatched `torch.cuda` queries) and check
the decisions `gan-course train` makes from them: `--device auto` picks CUDA, then MPS, then the CPU;
`--amp` picks bf16 where the GPU supports it, else fp16 with a GradScaler; under torchrun a CUDA
run joins with NCCL on its local GPU and a CPU run with gloo. They do not run a CUDA kernel:
`benchmarks/train_throughput.py --device cuda` and a torchrun on a GPU machine do that.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import reference.distributed as distributed
from reference.errors import UserError
from reference.trainer import _amp_dtype, resolve_device


@pytest.mark.parametrize(
    "cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda: bool, mps: bool, expected: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)


def test_an_explicit_device_that_is_missing_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UserError, match=r"--device cuda was requested but no CUDA GPU is visible; use --device auto or cpu"):
        resolve_device("cuda")
    with pytest.raises(UserError, match=r"--device mps was requested but Apple's MPS is not available"):
        resolve_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("cuda") == torch.device("cuda")


@pytest.mark.parametrize("bf16, expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_amp_on_cuda_uses_bf16_where_supported_else_fp16(monkeypatch, bf16: bool, expected: torch.dtype) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert _amp_dtype(True, torch.device("cuda")) == expected
    assert _amp_dtype(False, torch.device("cuda")) is None


def test_amp_elsewhere_is_full_precision_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _amp_dtype(True, torch.device("cpu")) is None
    assert any("--amp needs a CUDA GPU" in str(w.message) for w in caught)


@pytest.mark.parametrize("device, backend, gpu", [("cuda", "nccl", 1), ("cpu", "gloo", None)])
def test_torchrun_joins_with_nccl_on_its_gpu_or_gloo_on_the_cpu(monkeypatch, device, backend, gpu) -> None:
    joined, chosen = [], []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: joined.append(backend))
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: chosen.append(index))
    info = distributed.init_distributed(torch.device(device))
    assert (info.rank, info.world_size, info.local_rank) == (1, 2, 1)
    assert joined == [backend]
    assert chosen == ([] if gpu is None else [gpu]), "each CUDA process must take the GPU of its LOCAL_RANK"


def test_a_single_process_joins_no_group(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **kwargs: pytest.fail("joined a group"))
    info = distributed.init_distributed(torch.device("cpu"))
    assert (info.rank, info.world_size, info.enabled, info.is_main) == (0, 1, False, True)
