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

Both contestants run the same number of steps per timed repeat, after a warm-up, alternating
(reference, plain, reference, plain, ...) so that load from other processes on a shared machine
hits both alike. The reference trainer's epoch is restricted to the first steps*64 images, so a
repeat is exactly `steps` steps. Images/second uses the best repeat (interference only ever
slows a run down); the median is printed beside it.

For the dcgan step the script also counts the FLOPs of one full reference training step with
`torch.utils.flop_counter.FlopCounterMode` (D forward on real and fake, D backward, G forward
through D, G backward through the frozen D: exactly the ops `train_epoch` runs), divides by the
measured step time, and compares with a matmul peak measured in the same run (best of several
large fp32 `torch.mm`). Targets (the issue's, on a 2-core CPU): mlp ratio >= 2.0 and dcgan
step >= 80% of the matmul peak; each prints PASS or MISS.

`train()` calls `torch.set_flush_denormal(True)` on the CPU (denormals made DCGAN 5x slower);
`Run` alone does not, so this script sets it once, for both contestants.

    python benchmarks/train_throughput.py                  # CPU, a few minutes on 2 cores
    python benchmarks/train_throughput.py --quick          # smoke test, seconds
    python benchmarks/train_throughput.py --device cuda    # on a GPU (synchronised timing)

The last line of output is one JSON object with every number in the table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
# (setup, steps per timed repeat, repeats per contestant) for a full run and for --quick
PLAN = {"mlp": (300, 5), "dcgan": (40, 3)}
QUICK_PLAN = {"mlp": (30, 2), "dcgan": (4, 2)}
WARMUP_STEPS = 5
LARGE_BATCH = 256  # the extra, labelled dcgan row

Contestant = Callable[[int], float]  # steps -> seconds


def sync(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock times are complete."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def interleaved(contestants: dict[str, Contestant], steps: int, repeats: int) -> dict[str, list[float]]:
    """Warm each contestant up, then time `repeats` rounds of `steps` steps, alternating them."""
    for run in contestants.values():
        run(WARMUP_STEPS)
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(repeats):
        for name, run in contestants.items():
            times[name].append(run(steps))
    return times


# ---- FLOPs and the matmul peak -------------------------------------------------------------------


def step_flops(run: Run) -> int:
    """FLOPs FlopCounterMode counts for one reference training step (one batch of train_epoch)."""
    images = run.batches.data
    run.batches.data = images[: run.cfg.batch_size]
    with FlopCounterMode(display=False) as counter:
        run.train_epoch(0, None)
    run.batches.data = images
    return counter.get_total_flops()


def matmul_peak(device: torch.device, sizes: tuple[int, ...] = (2048, 4096), repeats: int = 3) -> float:
    """Best fp32 torch.mm rate in GFLOP/s (2 n^3 / t) over `sizes`, `repeats` timings each."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        torch.mm(a, b)  # warm-up
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            torch.mm(a, b)
            sync(device)
            best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def best_step_seconds(train: Contestant, steps: int, repeats: int) -> float:
    """Best seconds per step of one contestant over `repeats` timings of `steps` steps."""
    train(WARMUP_STEPS)
    return min(train(steps) for _ in range(repeats)) / steps


# ---- the report ----------------------------------------------------------------------------------


def throughput_rows(root: Path, device: torch.device, plan: dict) -> tuple[list[dict], dict[str, Run]]:
    """One row per setup: images/second of both contestants and their ratio; also the Runs."""
    rows, runs = [], {}
    for model, (steps, repeats) in plan.items():
        runs[model] = reference_run(model, root, device)
        contestants = {
            "reference": reference_contestant(runs[model]),
            "plain": plain_contestant(model, root, device),
        }
        times = interleaved(contestants, steps, repeats)
        best = {name: steps * BATCH / min(t) for name, t in times.items()}
        median = {name: steps * BATCH / statistics.median(t) for name, t in times.items()}
        rows.append({
            "setup": f"{model} on MNIST, batch {BATCH}", "model": model, "steps": steps, "repeats": repeats,
            "reference_img_s": round(best["reference"], 1), "plain_img_s": round(best["plain"], 1),
            "reference_img_s_median": round(median["reference"], 1), "plain_img_s_median": round(median["plain"], 1),
            "ratio": round(best["reference"] / best["plain"], 2),
            "ratio_median": round(median["reference"] / median["plain"], 2),
            "reference_step_s": min(times["reference"]) / steps,
        })  # fmt: skip
    return rows, runs


def efficiency_row(run: Run, step_s: float, peak: float, label: str) -> dict:
    """FLOPs of one step, the achieved GFLOP/s at `step_s`, and the fraction of `peak`."""
    flops = step_flops(run)
    achieved = flops / step_s / 1e9
    return {
        "setup": label, "batch": run.cfg.batch_size, "step_gflop": round(flops / 1e9, 3),
        "step_ms": round(step_s * 1e3, 2), "achieved_gflop_s": round(achieved, 1),
        "peak_gflop_s": round(peak, 1), "fraction_of_peak": round(achieved / peak, 3),
    }  # fmt: skip


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_report(device: torch.device, rows: list[dict], eff: list[dict]) -> None:
    """The plain-text tables and the PASS/MISS lines."""
    print(f"\nTraining throughput on {device.type}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("torch.set_flush_denormal(True) for both contestants (train() sets it on the CPU; Run alone does not)")
    print("images/s = best of the timed repeats (median in brackets); ratio = reference / plain\n")
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
    print("peak = best fp32 torch.mm (2048x2048 and 4096x4096) in this run; FLOPs as FlopCounterMode counts them\n")
    mlp = next(r for r in rows if r["model"] == "mlp")
    print(f"{verdict(mlp['ratio'] >= MLP_RATIO_TARGET)}  mlp ratio {mlp['ratio']:.2f} (target >= {MLP_RATIO_TARGET})")
    head = eff[0]
    print(f"{verdict(head['fraction_of_peak'] >= PEAK_FRACTION_TARGET)}  dcgan batch-{head['batch']} step at "
          f"{head['fraction_of_peak']:.1%} of the matmul peak (target >= {PEAK_FRACTION_TARGET:.0%})")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="data root holding MNIST/raw (default: $GAN_COURSE_DATA or ~/.cache/gan-course/data)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device to train on (default cpu)")
    parser.add_argument("--quick", action="store_true", help="a few steps only: a smoke test, not a measurement")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = data_root(args.data_dir)
    if mnist_missing(root):
        print(f"MNIST not found in {root / 'MNIST' / 'raw'}; pass --data-dir DIR (the folder holding MNIST/raw) or set GAN_COURSE_DATA", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda was requested but no CUDA GPU is visible; use --device cpu", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    torch.set_flush_denormal(True)  # for both contestants, as train() does on the CPU
    plan = QUICK_PLAN if args.quick else PLAN

    peak = matmul_peak(device, repeats=1 if args.quick else 3)
    rows, runs = throughput_rows(root, device, plan)
    peak = max(peak, matmul_peak(device, repeats=1 if args.quick else 3))  # best of before and after

    dcgan = next(r for r in rows if r["model"] == "dcgan")
    eff = [efficiency_row(runs["dcgan"], dcgan["reference_step_s"], peak, f"MNIST 28x28, batch {BATCH}")]
    big = reference_run("dcgan", root, device, LARGE_BATCH)
    steps, repeats = plan["dcgan"]
    big_step_s = best_step_seconds(reference_contestant(big), max(1, steps * BATCH // LARGE_BATCH), repeats)
    eff.append(efficiency_row(big, big_step_s, peak, f"MNIST 28x28, batch {LARGE_BATCH} (extra)"))

    print_report(device, rows, eff)
    print(json.dumps({"device": device.type, "threads": torch.get_num_threads(), "quick": args.quick,
                      "flush_denormal": True, "throughput": rows, "dcgan_efficiency": eff}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
