"""Mode collapse on the 2-D mixtures: a plain GAN against three mitigations, several seeds each.

    python benchmarks/mode_collapse.py                       # the lesson's table: ring and grid, 4 arms, 3 seeds
    python benchmarks/mode_collapse.py --quick               # smoke test (a few seconds a run, CSV in a temporary folder)
    python benchmarks/mode_collapse.py --arms gan pacgan2 --datasets grid --seeds 0 1 2 3 4
    python benchmarks/mode_collapse.py --arms wgan-gp --update  # rerun one arm, keep the CSV's other rows

Every run is `reference.trainer.train` with `mlp2d` (PacGAN's 2-D generator, 4 x 400 ReLU + BN,
and an MLP discriminator 3 x 200 LeakyReLU) on `ring` (8 Gaussians, std 0.01) or `grid` (25
Gaussians, std 0.05). The arms differ only in D's options and the loss:

    gan        non-saturating loss, plain D
    mbstd      the same with D's minibatch standard deviation feature (--minibatch-std)
    pacgan2/3/4  the same with D judging packs of 2, 3 or 4 points (--pack m)
    wgan-gp    WGAN with gradient penalty 10, 5 critic steps per generator step, and its paper's
               Adam settings, lr 1e-4, betas (0, 0.9) (Gulrajani et al. 2017, Algorithm 1)
    wgan-gp-gan-adam  the same loss with the GAN arms' Adam settings (not a default arm: how much
               the optimizer settings matter)

The default arms are gan, mbstd, pacgan2 and wgan-gp. Each arm gets the same number of generator
steps (--g-steps, default 500) at the same batch size (default 100, PacGAN's; so wgan-gp sees 5x
as many real batches); the GAN arms use Adam lr 2e-4, betas (0.5, 0.999), the DCGAN settings.
PacGAN's own recipe differs (lr 1e-4, beta1 0.8, a maxout D, 400 epochs: about 400,000 generator
steps); see lesson 04 for the published numbers beside ours. After training, G (eval mode)
draws 2,500 points from seeded noise, as in VEEGAN and PacGAN, and `reference.metrics.coverage.
mode_coverage` counts modes covered (>= 1 high-quality point), the share of high-quality points
(within 3 std of the nearest mode) and the reverse KL of the mode histogram to uniform.

It prints one markdown table (mean ± std over seeds) and writes every run to a CSV
(--csv, default benchmarks/results/mode_collapse.csv) and the 2,500 evaluated points of each
dataset and arm's first seed to <csv name>_points.npz beside it (the lesson's scatter plots).
Runs go to --workers processes with one thread each, so every run is bit-reproducible; the last
line is a JSON object with the table's numbers and the wall time.

With --update the CSV and the points file keep the rows of every (dataset, arm) this run does not
train, so that one arm can be rerun alone (the rows are sorted by dataset, arm and seed).

Lesson 04's budget figure reads every benchmarks/results/mode_collapse_<steps>.csv beside the
default one; it was made with

    python benchmarks/mode_collapse.py --g-steps 2000 --csv benchmarks/results/mode_collapse_2000.csv
    python benchmarks/mode_collapse.py --g-steps 8000 --csv benchmarks/results/mode_collapse_8000.csv

when wgan-gp still used the GAN arms' Adam settings; those rows are now named wgan-gp-gan-adam, and
wgan-gp at its paper's settings was rerun at 500 and 2,000 steps (not at 8,000: about 36 idle
CPU-core minutes) with

    python benchmarks/mode_collapse.py --arms wgan-gp --update
    python benchmarks/mode_collapse.py --arms wgan-gp --update --g-steps 2000 --csv benchmarks/results/mode_collapse_2000.csv

The seconds column is wall time per run: those reruns shared a loaded machine and took 2-9 times
as long as the first version's runs on an idle one.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ARMS: dict[str, dict] = {
    "gan": {},
    "mbstd": {"minibatch_std": True},
    "pacgan2": {"pack": 2},
    "pacgan3": {"pack": 3},
    "pacgan4": {"pack": 4},
    "wgan-gp": {"loss": "wgan-gp", "lr": 1e-4, "beta1": 0.0, "beta2": 0.9},  # the WGAN-GP paper's Adam settings
    "wgan-gp-gan-adam": {"loss": "wgan-gp"},  # WGAN-GP with the GAN arms' Adam settings (this table's first version)
}
LABELS = {
    "gan": "GAN (non-saturating)",
    "mbstd": "GAN + minibatch std",
    "pacgan2": "PacGAN2",
    "pacgan3": "PacGAN3",
    "pacgan4": "PacGAN4",
    "wgan-gp": "WGAN-GP",
    "wgan-gp-gan-adam": "WGAN-GP, GAN's Adam",
}
EVAL_SAMPLES = 2500
COLUMNS = ["dataset", "arm", "seed", "g_steps", "batches", "batch_size", "modes_covered", "n_modes",
           "high_quality_pct", "reverse_kl", "seconds"]


def run_one(dataset: str, arm: str, seed: int, g_steps: int, batch_size: int) -> dict:
    """Train one arm on one dataset with one seed; return its CSV row."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(1)
    from reference.config import TrainConfig
    from reference.data.mixtures import MIXTURES, step_budget
    from reference.losses import get_loss
    from reference.metrics.coverage import mode_coverage
    from reference.metrics.evaluate import sample_images
    from reference.models import get_model
    from reference.trainer import train

    options = ARMS[arm]
    n_critic = get_loss(options.get("loss", "non-saturating")).n_critic
    batches = g_steps * n_critic
    points, epochs = step_budget(batches, batch_size)  # whole epochs over the first `points` of the 100,000
    cfg = TrainConfig(model="mlp2d", dataset=dataset, batch_size=batch_size, epochs=epochs, max_images=points,
                      save_every=epochs, seed=seed, device="cpu", **options)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_dir = train(cfg, Path(tmp) / "run", progress=False)
        seconds = time.perf_counter() - start
        state = torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    spec = get_model("mlp2d")
    G, _ = spec.build(tuple(state["shape"]), state["nz"])
    G.load_state_dict(state["generator"])
    points_xy = sample_images(G, spec, state["nz"], EVAL_SAMPLES, seed=10_000 + seed)
    mixture = MIXTURES[dataset]
    cov = mode_coverage(points_xy, mixture.means, mixture.std)
    return {
        "dataset": dataset, "arm": arm, "seed": seed, "g_steps": g_steps, "batches": batches,
        "batch_size": batch_size, "modes_covered": cov["modes_covered"], "n_modes": mixture.n_modes,
        "high_quality_pct": round(100 * cov["high_quality_fraction"], 2),
        "reverse_kl": round(cov["reverse_kl"], 4) if math.isfinite(cov["reverse_kl"]) else "inf",
        "seconds": round(seconds, 1),
        "points": points_xy.numpy(),
    }


def mean_std(values: list[float]) -> str:
    """'m ± s' (sample std over seeds; '± 0' for one seed)."""
    values = [float(v) for v in values]
    if any(math.isinf(v) for v in values):
        return "inf"
    m = statistics.fmean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.1f} ± {s:.1f}" if abs(m) >= 1 or m == 0 else f"{m:.2f} ± {s:.2f}"


def table(rows: list[dict]) -> tuple[str, list[dict]]:
    """The markdown table (one line per dataset and arm) and its numbers."""
    lines = ["| data | arm | modes covered | high-quality % | reverse KL | seeds | G steps | s/run |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    summary = []
    keys = list(dict.fromkeys((r["dataset"], r["arm"]) for r in rows))
    for dataset, arm in keys:
        group = [r for r in rows if (r["dataset"], r["arm"]) == (dataset, arm)]
        n_modes = group[0]["n_modes"]
        modes = mean_std([r["modes_covered"] for r in group])
        hq = mean_std([r["high_quality_pct"] for r in group])
        kl = mean_std([r["reverse_kl"] for r in group])
        secs = statistics.fmean(float(r["seconds"]) for r in group)
        lines.append(f"| {dataset} ({n_modes} modes) | {LABELS[arm]} | {modes} | {hq} | {kl} | {len(group)} | "
                     f"{int(group[0]['g_steps']):,} | {secs:.0f} |")
        summary.append({"dataset": dataset, "arm": arm, "modes_covered": modes, "high_quality_pct": hq,
                        "reverse_kl": kl, "seeds": len(group), "seconds_per_run": round(secs, 1)})
    return "\n".join(lines), summary


def write_csv(rows: list[dict], path: Path) -> None:
    from reference.io import write_text_atomic

    lines = [",".join(COLUMNS)] + [",".join(str(r[c]) for c in COLUMNS) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "\n".join(lines) + "\n")


def order(row: dict) -> tuple[int, int, int]:
    """Rows sort by dataset (ring, grid), arm (ARMS' order) and seed."""
    return ["ring", "grid"].index(row["dataset"]), list(ARMS).index(row["arm"]), int(row["seed"])


def kept_rows(path: Path, rerun: set[tuple[str, str]], g_steps: int) -> tuple[list[dict], dict]:
    """--update: the CSV's rows and the points of every (dataset, arm) not in `rerun`."""
    import numpy as np

    if not path.is_file():
        return [], {}
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r["dataset"], r["arm"]) not in rerun]
    other = sorted({int(r["g_steps"]) for r in rows} - {g_steps})
    if other:
        raise SystemExit(f"error: {path} holds runs of {other[0]:,} generator steps, not {g_steps:,}: "
                         f"pass the same --g-steps to --update it, or another --csv")
    points_path = path.with_name(path.stem + "_points.npz")
    points = {}
    if points_path.is_file():
        with np.load(points_path) as f:
            points = {k: f[k] for k in f.files if tuple(k.split("/")) not in rerun}
    return rows, points


def write_points(rows: list[dict], path: Path, kept: dict | None = None) -> None:
    """The evaluated points of each dataset and arm's first seed, (2500, 2) float32 under 'DATASET/ARM'."""
    import numpy as np

    from reference.io import atomic_path

    first: dict[str, object] = dict(kept or {})
    for r in rows:
        first.setdefault(f"{r['dataset']}/{r['arm']}", r["points"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **first)


DEFAULT_CSV = "benchmarks/results/mode_collapse.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--arms", nargs="+", default=["gan", "mbstd", "pacgan2", "wgan-gp"], choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--g-steps", type=int, default=500, help="generator steps per run (default 500)")
    parser.add_argument("--batch-size", type=int, default=100, help="points per batch, divisible by every pack (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel, one thread each (default 2)")
    parser.add_argument("--csv", default=None,
                        help=f"per-run CSV (default {DEFAULT_CSV}; with --quick a new temporary folder's, so that "
                             "a smoke test never replaces the committed results)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 100 generator steps, seed 0")
    parser.add_argument("--update", action="store_true",
                        help="keep the CSV's rows (and points) of the datasets and arms this run does not train")
    args = parser.parse_args(argv)
    if args.quick:
        args.g_steps, args.seeds = 100, [0]
    if args.csv is None:
        args.csv = str(Path(tempfile.mkdtemp(prefix="mode_collapse_quick-")) / "mode_collapse.csv") if args.quick else DEFAULT_CSV
    jobs = [(d, a, s, args.g_steps, args.batch_size) for s in args.seeds for a in args.arms for d in args.datasets]
    rerun = {(d, a) for d in args.datasets for a in args.arms}
    kept, kept_points = kept_rows(Path(args.csv), rerun, args.g_steps) if args.update else ([], {})
    start = time.perf_counter()
    print(f"{len(jobs)} runs ({len(args.datasets)} datasets x {len(args.arms)} arms x {len(args.seeds)} seeds), "
          f"{args.g_steps:,} generator steps at batch {args.batch_size}, {args.workers} worker(s); "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, load average {os.getloadavg()[0]:.1f}",
          file=sys.stderr)
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_one, *job) for job in jobs]
        for future in as_completed(futures):  # the CSV grows as runs finish: a stopped benchmark keeps them
            row = future.result()
            rows.append(row)
            rows.sort(key=order)
            write_csv(sorted(kept + rows, key=order), Path(args.csv))
            print(f"  {len(rows)}/{len(jobs)}: {row['dataset']} {row['arm']} seed {row['seed']}, {row['seconds']} s",
                  file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    write_csv(sorted(kept + rows, key=order), Path(args.csv))
    write_points(rows, Path(args.csv).with_name(Path(args.csv).stem + "_points.npz"), kept_points)
    text, summary = table(sorted(kept + rows, key=order))
    print(text)
    kept_note = f", {len(kept)} row{'' if len(kept) == 1 else 's'} kept from the CSV" if kept else ""
    print(f"\n{len(rows)} runs in {wall:.0f} s wall ({args.workers} workers, 1 thread each){kept_note}; per-run CSV: {args.csv}")
    print(json.dumps({"g_steps": args.g_steps, "batch_size": args.batch_size, "eval_samples": EVAL_SAMPLES,
                      "wall_seconds": round(wall, 1), "rows": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
