"""Lesson 08's tips with evidence: each stabilising tip against the baseline, on the same budget and seeds.

    python benchmarks/tips.py              # the lesson's table: 5 arms x 2 seeds, 1,500 G steps each (~5 min busy)
    python benchmarks/tips.py --quick      # smoke test (a few seconds a run, numbers meaningless)
    python benchmarks/tips.py --seeds 0 1 2 --steps 3000

Every run is `reference.trainer.train` of the MLP GAN (`mlp`, Linear 100-256-784) on the first
6,400 MNIST training images (batch 64, so 100 generator steps an epoch), the non-saturating loss,
Adam(2e-4, betas (0.5, 0.999)); the arms change one thing each:

    baseline          nothing
    label-smoothing   one-sided label smoothing 0.1: D's target for real images is 0.9 (Salimans et al. 2016)
    ttur              two time-scale update rule: lr 1e-4 for G, 4e-4 for D (Heusel et al. 2017, as in SAGAN)
    spectral-norm     every linear layer of D spectrally normalised (Miyato et al. 2018)
    ema               samples from an exponential moving average of G's weights, decay 0.999 (Yazici et al. 2019)
    ema-0.99          the same with decay 0.99 (not a default arm: --arms ema-0.99)

After the last step G draws 2,000 samples from seeded noise (the EMA arm: the averaged G) and the
course's MNIST classifier scores them against 2,000 test images (`--eval-every`): the classifier-FID
(lower is better). It prints one table, the FID per seed, their mean and the ratio of the mean to
the baseline's (< 1: the tip helps at this budget), and, as its last line, one JSON object with the
same numbers. One thread per run: every run is bit-reproducible on a CPU.

Needs the MNIST classifier (`gan-course train-classifier --dataset mnist`, cached once). Without
MNIST the course's datasets fall back to the offline digits, whose numbers are not the lesson's.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference.config import TrainConfig  # noqa: E402
from reference.trainer import train  # noqa: E402

ARMS: dict[str, dict] = {
    "baseline": {},
    "label-smoothing": {"label_smoothing": 0.1},
    "ttur": {"lr": 1e-4, "lr_d": 4e-4},
    "spectral-norm": {"spectral_norm": True},
    "ema": {"ema": 0.999},
    "ema-0.99": {"ema": 0.99},  # not a default arm: a decay whose horizon (~100 steps) fits a short budget
}
DEFAULT_ARMS = ["baseline", "label-smoothing", "ttur", "spectral-norm", "ema"]
IMAGES = 6400  # 100 batches of 64: 100 generator steps an epoch


def run_one(arm: str, seed: int, steps: int, images: int, eval_samples: int) -> dict:
    """Train one arm for `steps` generator steps and return its row (arm, seed, fid, seconds)."""
    batches = images // 64
    epochs = max(1, steps // batches)
    cfg = TrainConfig(model="mlp", dataset="mnist", max_images=images, epochs=epochs, batch_size=64, seed=seed,
                      save_every=epochs, eval_every=epochs, eval_samples=eval_samples, progress=False, threads=1,
                      **ARMS[arm])
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = train(cfg, Path(tmp) / "run")
        rows = list(csv.DictReader(open(out / "metrics.csv")))
    return {"arm": arm, "seed": seed, "g_steps": epochs * batches, "fid": round(float(rows[-1]["fid"]), 2),
            "seconds": round(time.perf_counter() - start, 1)}


def table(rows: list[dict]) -> tuple[str, dict]:
    """The markdown table (FID per seed, mean, ratio to the baseline) and its numbers by arm."""
    by_arm: dict[str, list[float]] = {}
    for row in rows:
        by_arm.setdefault(row["arm"], []).append(row["fid"])
    base = statistics.mean(by_arm["baseline"])
    seeds = sorted({row["seed"] for row in rows})
    lines = ["| arm | " + " | ".join(f"FID seed {s}" for s in seeds) + " | mean | ratio to baseline |",
             "|---|" + "---|" * (len(seeds) + 2)]
    summary = {}
    for arm, fids in by_arm.items():
        mean = statistics.mean(fids)
        summary[arm] = {"fid": fids, "mean": round(mean, 2), "ratio": round(mean / base, 3)}
        lines.append(f"| {arm} | " + " | ".join(f"{f:.1f}" for f in fids) + f" | {mean:.1f} | {mean / base:.2f} |")
    return "\n".join(lines), summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=DEFAULT_ARMS, choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=1500, help="generator steps per run (default 1500)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 steps on 128 images, 200 samples")
    args = parser.parse_args(argv)
    if "baseline" not in args.arms:
        args.arms = ["baseline", *args.arms]
    images, steps, eval_samples = (128, 2, 200) if args.quick else (IMAGES, args.steps, 2000)
    start = time.perf_counter()
    rows = []
    for arm in args.arms:
        for seed in args.seeds:
            rows.append(run_one(arm, seed, steps, images, eval_samples))
            print(f"{arm:16s} seed {seed}: classifier-FID {rows[-1]['fid']:.2f} ({rows[-1]['seconds']} s)", flush=True)
    text, summary = table(rows)
    print(f"\nMLP GAN on {images} MNIST images, {rows[0]['g_steps']} generator steps per run, seeds {args.seeds}\n")
    print(text)
    print(json.dumps({"g_steps": rows[0]["g_steps"], "seeds": args.seeds, "arms": summary,
                      "seconds": round(time.perf_counter() - start, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
