"""Training throughput: the reference trainer against the classic tutorial loop, on real MNIST.

What is compared, on the same data, batch size (64), architecture and optimizer:

- reference: `reference.trainer.Run(...).train_epoch`, the path `gan-course train` runs. MNIST is
  one uint8 tensor on the device, each batch is one gather and one multiply-add, D returns
  logits and the losses are softplus on logits; G's step runs through a frozen D (no weight
  gradients for D).
- plain: the loop of the classic notebooks and pytorch/examples `dcgan/main.py`:
  `torchvision.datasets.MNIST(root, transform=Compose([ToTensor(), Normalize((0.5,), (0.5,))]))`,
  `DataLoader(batch_size=64, shuffle=True)` with num_workers=0, so every image goes through PIL
  and ToTensor each step; the same G and D with `nn.Sigmoid()` after D and `nn.BCELoss`; D real
  backward, D fake backward, D step, then G step; D(x), D(G(z)) read with `.item()` every step
  as the example logs them; Adam(lr=2e-4, betas=(0.5, 0.999)).

Both contestants run the same number of steps per timed round, after one warm-up round, in
turn (reference, plain, reference, plain, ...) so that load from other processes on a shared
machine hits both alike. The reference trainer's epoch is restricted to the first steps*64
images, so a round is exactly `steps` steps. Images/second uses each contestant's best round
(interference only ever slows a run down); the median round is printed beside it.

For the dcgan step the script also counts the FLOPs of one full reference training step with
`torch.utils.flop_counter.FlopCounterMode` (D forward on real and fake, D backward, G forward
through D, G backward through the frozen D: exactly the ops `train_epoch` runs), divides by the
measured step time, and compares with a matmul peak timed in the same rounds (best fp32
`torch.mm` of 2048x2048 and 4096x4096). An extra, labelled row does the same at batch 256.
Targets (the issue's, on a 2-core CPU): mlp ratio >= 2.0 and dcgan step >= 80% of the matmul
peak; each prints PASS or MISS.

Between two operations PyTorch's OpenMP threads wait for work. The script imports `reference`
first, so it runs with the course's choice (reference/cpu.py), as `gan-course train` does: on
idle cores OpenMP's default wait (a waiting thread spins, then sleeps), beside busy jobs PASSIVE. `GAN_COURSE_CPU=torch` measures
PyTorch's own default (a long spin) and `OMP_WAIT_POLICY=PASSIVE` threads that sleep at once;
`benchmarks/busy_cores.py` compares those settings on idle and on busy cores. The report prints
the load average and the settings in use.

`train()` calls `torch.set_flush_denormal(True)` on the CPU (denormals made DCGAN 5x slower);
`Run` alone does not, so this script sets it once, for both contestants.

    python benchmarks/train_throughput.py                  # CPU, a few minutes on 2 cores
    python benchmarks/train_throughput.py --quick          # smoke test, seconds
    python benchmarks/train_throughput.py --device cuda    # on a GPU (synchronised timing)
    GAN_COURSE_CPU=torch python benchmarks/train_throughput.py      # PyTorch's default OpenMP wait

The last line of output is one JSON object with every number in the table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import reference  # noqa: F401 - before torch: the course's OpenMP wait (reference/cpu.py), as gan-course runs

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from reference.config import TrainConfig
from reference.data import data_root
from reference.distributed import DistInfo
from reference.models import get_model
from reference.trainer import Run

BATCH = 64
MLP_RATIO_TARGET = 2.0
PEAK_FRACTION_TARGET = 0.80
# setup: (steps per timed round, rounds) for a full run and for --quick
PLAN = {"mlp": (100, 6), "dcgan": (8, 6)}
QUICK_PLAN = {"mlp": (10, 2), "dcgan": (1, 2)}
PEAK_SIZES = (2048, 4096)
LARGE_BATCH = 256  # the extra, labelled dcgan row

Contestant = Callable[[int], float]  # steps -> seconds


def sync(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock times are complete."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_average() -> float:
    """The 1-minute load average (NaN where the OS has none, e.g. Windows)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def mnist_missing(root: Path) -> bool:
    """True if torchvision cannot load MNIST's training split from `root` without downloading."""
    try:
        torchvision.datasets.MNIST(str(root), train=True, download=False)
    except RuntimeError:
        return True
    return False


# ---- the two contestants -----------------------------------------------------------------------


def reference_run(model: str, root: Path, device: torch.device, batch: int = BATCH) -> Run:
    """A reference `Run` for `model` on MNIST, built as `train()` builds it (no files are written)."""
    cfg = TrainConfig(model=model, dataset="mnist", batch_size=batch, data_dir=str(root), device=device.type)
    return Run(cfg, Path(tempfile.gettempdir()) / "unused-run-folder", DistInfo(), device)


def reference_contestant(run: Run) -> Contestant:
    """steps -> seconds for `steps` steps of `run.train_epoch` on the first steps*batch images."""
    images = run.batches.data
    epochs = itertools.count()

    def train(steps: int) -> float:
        run.batches.data = images[: steps * run.cfg.batch_size]
        sync(run.device)
        start = time.perf_counter()
        run.train_epoch(next(epochs), None)
        sync(run.device)
        return time.perf_counter() - start

    return train


def plain_contestant(model: str, root: Path, device: torch.device) -> Contestant:
    """steps -> seconds for `steps` steps of the tutorial loop, reading the real DataLoader."""
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = torchvision.datasets.MNIST(str(root), train=True, transform=tf, download=False)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True)
    spec = get_model(model)
    torch.manual_seed(0)
    netG, logits_D = spec.build((1, 28, 28), spec.default_nz)
    netG, netD = netG.to(device), nn.Sequential(logits_D, nn.Sigmoid()).to(device)
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    nz, real_label, fake_label = spec.default_nz, 1.0, 0.0

    def train(steps: int) -> float:
        sync(device)
        start = time.perf_counter()
        for data, _ in itertools.islice(loader, steps):
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real = data.to(device)
            label = torch.full((real.size(0),), real_label, dtype=real.dtype, device=device)
            output = netD(real)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()  # noqa: F841 - logged every step in the example
            noise = torch.randn(real.size(0), nz, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()  # noqa: F841
            optimizerD.step()
            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()  # noqa: F841
            optimizerG.step()
        sync(device)
        return time.perf_counter() - start

    return train


def interleaved(tasks: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run every task once to warm up, then `repeats` rounds of all tasks in turn; results by name.

    Alternating (A, B, A, B, ...) spreads the load of other processes on a shared machine over
    every task alike; many short rounds give each task more chances to meet a quiet moment.
    """
    for task in tasks.values():
        task()
    results: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(repeats):
        for name, task in tasks.items():
            results[name].append(task())
    return results


# ---- FLOPs and the matmul peak -------------------------------------------------------------------


def step_flops(run: Run) -> int:
    """FLOPs FlopCounterMode counts for one reference training step (one batch of train_epoch)."""
    images = run.batches.data
    run.batches.data = images[: run.cfg.batch_size]
    with FlopCounterMode(display=False) as counter:
        run.train_epoch(0, None)
    run.batches.data = images
    return counter.get_total_flops()


def matmul_rate(device: torch.device, sizes: tuple[int, ...]) -> Callable[[], float]:
    """A task: time one fp32 torch.mm per size in `sizes`, return the best GFLOP/s (2 n^3 / t)."""
    pairs = [(torch.randn(n, n, device=device), torch.randn(n, n, device=device)) for n in sizes]

    def rate() -> float:
        best = 0.0
        for a, b in pairs:
            sync(device)
            start = time.perf_counter()
            torch.mm(a, b)
            sync(device)
            best = max(best, 2 * a.shape[0] ** 3 / (time.perf_counter() - start) / 1e9)
        return best

    return rate


# ---- the measurements ----------------------------------------------------------------------------


def throughput_row(model: str, times: dict[str, list[float]], steps: int) -> dict:
    """Images/second of both contestants (best and median repeat) and their ratio."""
    best = {name: steps * BATCH / min(times[name]) for name in ("reference", "plain")}
    median = {name: steps * BATCH / statistics.median(times[name]) for name in ("reference", "plain")}
    return {
        "setup": f"{model} on MNIST, batch {BATCH}", "model": model, "steps": steps, "repeats": len(times["plain"]),
        "reference_img_s": round(best["reference"], 1), "plain_img_s": round(best["plain"], 1),
        "reference_img_s_median": round(median["reference"], 1), "plain_img_s_median": round(median["plain"], 1),
        "ratio": round(best["reference"] / best["plain"], 2),
        "ratio_median": round(median["reference"] / median["plain"], 2),
    }  # fmt: skip


def efficiency_row(run: Run, step_s: float, peak: float, label: str) -> dict:
    """FLOPs of one step, the achieved GFLOP/s at `step_s` seconds per step, the fraction of `peak`."""
    flops = step_flops(run)
    achieved = flops / step_s / 1e9
    return {
        "setup": label, "batch": run.cfg.batch_size, "step_gflop": round(flops / 1e9, 3),
        "step_ms": round(step_s * 1e3, 2), "achieved_gflop_s": round(achieved, 1),
        "peak_gflop_s": round(peak, 1), "fraction_of_peak": round(achieved / peak, 3),
    }  # fmt: skip


def measure(root: Path, device: torch.device, quick: bool) -> tuple[list[dict], list[dict]]:
    """Both throughput rows, then the dcgan efficiency rows (batch 64, and LARGE_BATCH as an extra).

    The matmul peak and the larger-batch step are timed in the same rounds as the dcgan
    contestants, so all of them see the same moments of the machine.
    """
    rows, eff = [], []
    for model, (steps, repeats) in (QUICK_PLAN if quick else PLAN).items():
        print(f"timing {model}: {repeats} rounds of {steps} steps each ...", file=sys.stderr, flush=True)
        run = reference_run(model, root, device)
        tasks = {
            "reference": partial(reference_contestant(run), steps),
            "plain": partial(plain_contestant(model, root, device), steps),
        }
        if model == "dcgan":
            big = reference_run(model, root, device, LARGE_BATCH)
            big_steps = max(1, round(steps * BATCH / LARGE_BATCH))  # about the same images per round
            tasks["large_batch"] = partial(reference_contestant(big), big_steps)
            tasks["peak"] = matmul_rate(device, PEAK_SIZES[:1] if quick else PEAK_SIZES)
        times = interleaved(tasks, repeats)
        rows.append(throughput_row(model, times, steps))
        if model == "dcgan":
            peak = max(times["peak"])
            eff.append(efficiency_row(run, min(times["reference"]) / steps, peak, f"MNIST 28x28, batch {BATCH}"))
            label = f"MNIST 28x28, batch {LARGE_BATCH} (extra)"
            eff.append(efficiency_row(big, min(times["large_batch"]) / big_steps, peak, label))
    return rows, eff


# ---- the report ----------------------------------------------------------------------------------


def verdict(ok: bool, busy: bool) -> str:
    """PASS or MISS, marked with * when other processes loaded the machine during the run."""
    return ("PASS" if ok else "MISS") + ("*" if busy else " ")


def print_report(device: torch.device, rows: list[dict], eff: list[dict], load: tuple[float, float]) -> None:
    """The plain-text tables and the PASS/MISS lines."""
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    spin = os.environ.get("GOMP_SPINCOUNT", "unset")
    print(f"\nTraining throughput on {device.type}, {torch.get_num_threads()} threads "
          f"(OMP_WAIT_POLICY {policy}, GOMP_SPINCOUNT {spin}), torch {torch.__version__}")
    print("torch.set_flush_denormal(True) for both contestants (train() sets it on the CPU; Run alone does not)")
    if device.type == "cuda":  # cuDNN convs default to TF32; the matmul peak is plain fp32 unless allowed
        print(f"{torch.cuda.get_device_name(device)}: TF32 in cuDNN convs {torch.backends.cudnn.allow_tf32}, "
              f"in matmuls {torch.backends.cuda.matmul.allow_tf32}")
    cores = os.cpu_count() or 1
    busy = load[0] > 0.5 or load[1] > torch.get_num_threads() + 0.5  # others' work, beyond our own threads
    print(f"load average (1 min) before {load[0]:.2f}, after {load[1]:.2f}, on {cores} cores", end="")
    print(": the machine was busy, so the numbers are not conclusive" if busy else "")
    print("images/s = best of the timed rounds (median in brackets); ratio = reference / plain\n")
    print(f"{'setup':<26}{'steps':>6}{'reference img/s':>24}{'plain img/s':>22}{'ratio':>13}")
    for r in rows:
        ref = f"{r['reference_img_s']:.0f} ({r['reference_img_s_median']:.0f})"
        plain = f"{r['plain_img_s']:.0f} ({r['plain_img_s_median']:.0f})"
        ratio = f"{r['ratio']:.2f} ({r['ratio_median']:.2f})"
        print(f"{r['setup']:<26}{r['steps']:>6}{ref:>24}{plain:>22}{ratio:>13}")
    print(f"\n{'dcgan step (reference)':<34}{'GFLOP/step':>11}{'ms/step':>9}{'GFLOP/s':>9}{'peak':>8}{'of peak':>9}")
    for e in eff:
        print(f"{e['setup']:<34}{e['step_gflop']:>11.2f}{e['step_ms']:>9.1f}{e['achieved_gflop_s']:>9.1f}"
              f"{e['peak_gflop_s']:>8.1f}{e['fraction_of_peak']:>9.1%}")  # fmt: skip
    sizes = " and ".join(f"{n}x{n}" for n in PEAK_SIZES)
    print(f"peak = best fp32 torch.mm ({sizes}) timed in the same rounds")
    print("FLOPs = what FlopCounterMode counts: convolutions and matmuls (BatchNorm, activations, Adam count 0)\n")
    mlp = next(r for r in rows if r["model"] == "mlp")
    mlp_ok = mlp["ratio"] >= MLP_RATIO_TARGET
    print(f"{verdict(mlp_ok, busy)}  mlp ratio {mlp['ratio']:.2f} (target >= {MLP_RATIO_TARGET})")
    head = eff[0]
    print(f"{verdict(head['fraction_of_peak'] >= PEAK_FRACTION_TARGET, busy)}  dcgan batch-{head['batch']} step at "
          f"{head['fraction_of_peak']:.1%} of the matmul peak (target >= {PEAK_FRACTION_TARGET:.0%})")  # fmt: skip
    if busy:
        print("* measured on a busy machine: run it again when idle (load hurts the matmul peak more than the step)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None,
                        help="data root holding MNIST/raw (default: $GAN_COURSE_DATA, else ~/.cache/gan-course/data)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device to train on (default cpu)")
    parser.add_argument("--quick", action="store_true", help="a few steps only: a smoke test, not a measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: PyTorch's choice)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = data_root(args.data_dir)
    if mnist_missing(root):
        print(f"MNIST not found in {root / 'MNIST' / 'raw'}; pass --data-dir DIR (the folder holding MNIST/raw) "
              f"or set GAN_COURSE_DATA", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda was requested but no CUDA GPU is visible; use --device cpu", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # for both contestants, as train() does on the CPU

    load_before = load_average()
    rows, eff = measure(root, device, args.quick)
    load = (load_before, load_average())
    print_report(device, rows, eff, load)
    print(json.dumps({
        "device": device.type, "threads": torch.get_num_threads(), "quick": args.quick,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"), "flush_denormal": True, "load_average": load,
        "throughput": rows, "dcgan_efficiency": eff,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
