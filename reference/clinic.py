"""Lesson 08's clinic: a catalogue of reproducible failing GAN runs, each with its signature and fix.

Every metrics-based case is a few `TrainConfig` overrides on one small seeded run (`BASE`: the
MLP GAN on the first 640 MNIST training images, 16 epochs of 10 batches, one thread, so it is
bit-reproducible on a CPU; the offline digits when MNIST is not in the data root), a `signature(rows) -> bool` that reads the run's metrics.csv rows and
fires on the failure, and the fix as overrides. Run one with

    bad, fixed = run_case_and_fix(CASES["d-wins"], "/tmp/clinic")
    CASES["d-wins"].signature(bad.rows), CASES["d-wins"].signature(fixed.rows)   # True, False

Three failures are not settings of this small run; their cases carry a `demo` instead:
`collapse_demo` (lesson 04's collapse runs on the 8-ring, modes held over time), and the measures
of two ways of building or using G, `nyquist_energy` (the checkerboard of transposed convolutions,
Odena et al. 2016, "Deconvolution and Checkerboard Artifacts") and `sample_train_mode` (BatchNorm
left in training mode while sampling in small batches). The checkerboard also has its run and the
run after the fix: `checkerboard_runs` trains the 28x28 `dcgan` and `dcgan-resize` (the same G with
resize-convolution) on BASE's images, same seed and budget, and `has_checkerboard` reads the samples;
`overlap_counts` counts how many kernel taps reach each output pixel of a transposed convolution.
Collapse has its run and the run after the fix too: `collapse_runs` (the plain GAN and PacGAN4 on
the 8-ring, lesson 04's loop), whose rows of modes held per snapshot `few_modes` reads.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from reference.config import TrainConfig

# One small run that every metrics-based case changes: ~4 s on one busy CPU core. The dataset is MNIST
# when it is in the data root, else the offline digits (`dataset()`).
BASE: dict = dict(model="mlp", max_images=640, epochs=16, batch_size=64, save_every=16,
                  num_samples=64, seed=0, progress=False, threads=1)
SAMPLES = 64  # samples per run for the sample-based signatures (seeded noise, G in eval mode)


@functools.lru_cache(maxsize=None)
def dataset() -> str:
    """The clinic's dataset: "mnist" if it is in the data root ($GAN_COURSE_DATA; never downloaded), else "digits"."""
    from reference.data import DataError, load_dataset

    try:
        load_dataset("mnist", None, split="train", download=False)
    except DataError:
        return "digits"
    return "mnist"


def _num(row: dict, key: str) -> float:
    return float(row[key])


def _late(rows: list[dict]) -> list[dict]:
    """The last third of the epochs (at least one row)."""
    return rows[-max(1, len(rows) // 3):]


def d_wins(rows: list[dict]) -> bool:
    """D wins: over the last third of the epochs D(x) > 0.95, D(G(z)) < 0.1 and loss_G > 2 and above its first value."""
    late = _late(rows)
    mean = {k: sum(_num(r, k) for r in late) / len(late) for k in ("d_x", "d_g_z", "loss_g")}
    return mean["d_x"] > 0.95 and mean["d_g_z"] < 0.1 and mean["loss_g"] > max(2.0, _num(rows[0], "loss_g"))


def not_finite(rows: list[dict]) -> bool:
    """NaN: a loss or D's mean output is NaN or infinite in some epoch."""
    return any(not math.isfinite(_num(r, k)) for r in rows for k in ("loss_d", "loss_g", "d_x", "d_g_z"))


OSCILLATION_LIMIT = 0.15  # mean epoch-to-epoch jump of D(G(z)) above which `oscillates` fires


def mean_jump(rows: list[dict]) -> float:
    """The mean |D(G(z)) of epoch e+1 - D(G(z)) of epoch e| over a run's rows (nan with fewer than two rows)."""
    d_g_z = [_num(r, "d_g_z") for r in rows]
    steps = [abs(b - a) for a, b in zip(d_g_z, d_g_z[1:])]
    return sum(steps) / len(steps) if steps else math.nan


def oscillates(rows: list[dict]) -> bool:
    """Oscillation: D(G(z)) moves by more than OSCILLATION_LIMIT (0.15) from epoch to epoch on average (a settled run: ~0.01)."""
    jump = mean_jump(rows)
    return math.isfinite(jump) and jump > OSCILLATION_LIMIT


def crawls(rows: list[dict]) -> bool:
    """Learning rates too low: after the first epoch D(x) is still below 0.6 (D has barely left 1/2), and
    from there it only creeps up: no epoch-to-epoch fall of more than 0.01, no rise of more than 0.15.

    A healthy BASE run has D(x) ~0.8 after its first epoch and then lets it fall as G catches up.
    """
    d_x = [_num(r, "d_x") for r in rows]
    steps = [b - a for a, b in zip(d_x, d_x[1:])]
    return (len(d_x) > 2 and all(map(math.isfinite, d_x)) and d_x[0] < 0.6
            and all(-0.01 <= s < 0.15 for s in steps))


def stuck_at_half(rows: list[dict]) -> bool:
    """G aims at D(G(z)) = 1/2: from epoch 2 on, D(G(z)) within 0.02 of 0.5 and loss_G within 0.05 of log 2."""
    later = rows[1:] or rows
    return all(abs(_num(r, "d_g_z") - 0.5) < 0.02 and abs(_num(r, "loss_g") - math.log(2)) < 0.05 for r in later)


def border_mean(images: Tensor) -> Tensor:
    """Mean brightness of each image's 3-pixel frame. images (N, C, H, W) in [0, 1] -> (N,)."""
    frame = torch.ones(images.shape[-2:], dtype=torch.bool)
    frame[3:-3, 3:-3] = False
    return images[..., frame].flatten(1).mean(dim=1)


def stroke_contrast(images: Tensor) -> Tensor:
    """How much brighter each image's strokes are than its frame: the 95th percentile of the pixels
    inside the 3-pixel frame minus the frame's mean. images (N, C, H, W) in [0, 1] -> (N,)."""
    inside = torch.zeros(images.shape[-2:], dtype=torch.bool)
    inside[3:-3, 3:-3] = True
    return images[..., inside].flatten(1).quantile(0.95, dim=1) - border_mean(images)


def grey_background(images: Tensor) -> bool:
    """Data left in [0, 1]: digits on a grey background (frame mean > 0.45, MNIST's is 0, black; strokes
    > 0.25 brighter than it). An untrained G is grey everywhere, without the strokes."""
    return bool(border_mean(images).mean() > 0.45 and stroke_contrast(images).mean() > 0.25)


@dataclass(frozen=True)
class Case:
    """One failure of the clinic.

    overrides: TrainConfig fields changed from BASE to make the failure (None: not a training
    setting, see `demo`); fix: the fields that repair it, applied on top of `overrides` (for a demo
    case, the trainer's setting for the same repair, where it has one, e.g. collapse's pack).
    signature(rows): fires on the failure's metrics.csv rows (collapse: its demo's rows);
    sample_signature(images): fires on its samples (N, C, H, W) in [0, 1]; demo: the function that
    shows a non-training case.
    """

    name: str
    failure: str
    overrides: dict | None
    look_for: str
    diagnosis: str
    fix: dict | None
    signature: Callable[[list[dict]], bool] | None = None
    sample_signature: Callable[[Tensor], bool] | None = None
    demo: Callable | None = field(default=None, compare=False)


def nyquist_energy(images: Tensor) -> Tensor:
    """Share of each image's spectral energy on the Nyquist row and column of its 2-D FFT.

    A stride-2 checkerboard (+a, -a, +a, ...) is pure Nyquist frequency (period 2 pixels); smooth
    digits have almost none there. images (N, C, H, W) -> (N,) in [0, 1]; each image's mean (the DC
    term) is removed first, and channels are summed.
    """
    x = images.float() - images.float().mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2)
    h, w = x.shape[-2:]
    nyquist = power[..., h // 2, :].sum(-1) + power[..., :, w // 2].sum(-1) - power[..., h // 2, w // 2]
    return (nyquist.flatten(1).sum(1) / power.flatten(1).sum(1).clamp_min(1e-12))


def untrained_samples(model: str, n: int = SAMPLES, seed: int = 0, shape: tuple[int, int, int] = (1, 28, 28)) -> Tensor:
    """n samples in [0, 1] (n, C, H, W) of a freshly initialised G of `model` (seeded weights and noise)."""
    from reference.data import from_model_range
    from reference.models import get_model

    spec = get_model(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G, _ = spec.build(shape, spec.default_nz)
    G.eval()
    z = torch.randn(n, spec.default_nz, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        return from_model_range(G(z), spec.output_range)


def overlap_counts(kernel_size: int, stride: int, padding: int, size: int) -> Tensor:
    """How many kernel taps of a transposed convolution reach each output position, along one axis.

    The layer's output with all-ones weights on an all-ones input of `size` pixels: (size_out,) counts,
    size_out = (size - 1) * stride - 2 * padding + kernel_size. A 2-D layer's count at (i, j) is
    counts[i] * counts[j]. Kernel 4, stride 2, padding 1 covers every inner pixel twice (2, 2, 2, ...:
    even overlap; only the border pixel gets 1); kernel 3, stride 2 alternates (1, 2, 1, 2, ...: uneven).
    """
    ones = torch.ones(1, 1, kernel_size)
    with torch.no_grad():
        return torch.nn.functional.conv_transpose1d(torch.ones(1, 1, size), ones, stride=stride, padding=padding)[0, 0]


def transposed_layers(model: str = "dcgan", shape: tuple[int, int, int] = (1, 28, 28)) -> list[tuple[nn.ConvTranspose2d, int]]:
    """G's stride-2 ConvTranspose2d layers of `model` at `shape`, each with its input size (pixels)."""
    from reference.models import get_model

    spec = get_model(model)
    with torch.random.fork_rng(devices=[]):  # building draws weights: leave the caller's random stream alone
        G, _ = spec.build(shape, spec.default_nz)
    layers, size = [], 1
    for m in G.modules():
        if isinstance(m, nn.ConvTranspose2d):
            if m.stride == (2, 2):
                layers.append((m, size))
            (k,), (s,), (p,) = m.kernel_size[:1], m.stride[:1], m.padding[:1]
            size = (size - 1) * s - 2 * p + k
    return layers


def checkerboard_demo(n: int = SAMPLES, seed: int = 0) -> dict[str, Tensor]:
    """Nyquist energy (n,) of fresh `dcgan` (transposed convs) and `dcgan-resize` (resize-conv) generators."""
    return {model: nyquist_energy(untrained_samples(model, n, seed)) for model in ("dcgan", "dcgan-resize")}


# The checkerboard's run and its fix: BASE's images and seed, the 28x28 DCGAN for two epochs (20 G
# steps), G's transposed convolutions against resize-convolution (same channels, same D).
CHECKERBOARD = {"model": "dcgan"}
CHECKERBOARD_FIX = {"model": "dcgan-resize"}
CHECKERBOARD_BUDGET = {"epochs": 2}
CHECKERBOARD_LIMIT = 0.02  # mean Nyquist energy: real MNIST digits ~0.003, a fresh dcgan G ~0.24


def has_checkerboard(images: Tensor) -> bool:
    """A 2-pixel checkerboard: the samples' mean Nyquist energy is above CHECKERBOARD_LIMIT (0.02, ~7x real digits').

    images (N, C, H, W) in [0, 1]. Measured on 64 seeded samples: the dcgan after 20 steps 0.15, after
    200 steps 0.010 (training wears the pattern down slowly); dcgan-resize 0.003 and 0.001.
    """
    return bool(nyquist_energy(images).mean() > CHECKERBOARD_LIMIT)


def checkerboard_runs(out_dir: str | Path, **budget) -> tuple[CaseRun, CaseRun]:
    """Train the dcgan and its fix, dcgan-resize, on BASE's images (same seed; two epochs unless `budget`
    says otherwise); returns (failure run, fixed run), each with SAMPLES samples for `has_checkerboard`."""
    budget = {**CHECKERBOARD_BUDGET, **budget}
    return run_config(CHECKERBOARD, out_dir, **budget), run_config(CHECKERBOARD_FIX, out_dir, **budget)


# The collapse run and its fix: lesson 04's loop on the 8-ring (G's lr 1e-3, D's 1e-4), the plain GAN against
# PacGAN4, 3,000 G steps with a snapshot of 1,000 points every 250 (one thread each: 33 s for both on 2 shared cores).
COLLAPSE_BUDGET = dict(steps=3000, every=250)
COLLAPSE_ARMS = {"GAN": {}, "PacGAN4": {"pack": 4}}
RING_MODES = 8


@dataclass
class CollapseRun:
    """One arm of the collapse demo on the 8-ring.

    snapshots: [(step, G's points (n, 2))], one per snapshot; held: the ring modes (indices 0-7) each
    snapshot holds (`modes_held` of lesson 04); rows: [{"step": s, "modes_held": k}] as floats, the
    run's metrics rows, which `few_modes` reads.
    """

    arm: str
    snapshots: list[tuple[int, Tensor]]
    held: list[list[int]]

    @property
    def rows(self) -> list[dict]:
        return [{"step": float(step), "modes_held": float(len(h))} for (step, _), h in zip(self.snapshots, self.held)]


def few_modes(rows: list[dict]) -> bool:
    """Collapse: over the last half of the snapshots (at least one) G holds fewer than half the ring's 8 modes on
    average. rows: [{"step", "modes_held"}] of a `CollapseRun` (the trainer's --eval-every column on a 2-D mixture,
    modes_covered, reads the same way). At COLLAPSE_BUDGET the plain GAN holds 0-2, PacGAN4 all 8."""
    late = rows[-max(1, len(rows) // 2):]
    return sum(_num(r, "modes_held") for r in late) / len(late) < RING_MODES / 2


def collapse_runs(steps: int = COLLAPSE_BUDGET["steps"], every: int = COLLAPSE_BUDGET["every"], seed: int = 0,
                  progress: bool = False) -> tuple[CollapseRun, CollapseRun]:
    """The collapse run and the run after the fix: lesson 04's loop on the 8-ring for the plain GAN and for
    PacGAN4 (D judges packs of 4 points), same seed and budget; returns (failure run, fixed run)."""
    from reference.figures import lesson_04

    runs = []
    for arm, options in COLLAPSE_ARMS.items():
        snapshots = lesson_04.collapse_snapshots(options, steps=steps, every=every, seed=seed, progress=progress)
        runs.append(CollapseRun(arm, snapshots, [lesson_04.modes_held(points) for _, points in snapshots]))
    return runs[0], runs[1]


def collapse_demo(steps: int = 5000, every: int = 500, seed: int = 0, progress: bool = False) -> dict[str, list[int]]:
    """Lesson 04's collapse demo, shown from the clinic: the number of ring modes G's points hold
    (`modes_held`) after every `every` steps, for the plain GAN and for its fix, PacGAN4.

    Returns {"GAN": [k, ...], "PacGAN4": [k, ...]}, one count (0-8) per snapshot. At lesson 04's
    budget (5,000 steps) the plain GAN holds a few modes at a time and hops between them, while
    PacGAN4 holds the ring; lesson 04 asserts it. `collapse_runs` keeps the points too.
    """
    return {run.arm: [len(h) for h in run.held] for run in collapse_runs(steps, every, seed, progress)}


@torch.no_grad()
def sample_train_mode(G: nn.Module, z: Tensor, batch_size: int, output_range: str = "tanh") -> Tensor:
    """G(z) computed with G in training mode, `batch_size` samples at a time: the BatchNorm mistake.

    In training mode each BatchNorm normalises with the statistics of the batch in front of it (here
    1 or 2 samples) instead of its running averages, and updates those averages; G is left exactly
    as it was (weights, running statistics and mode). z (N, nz) -> images (N, C, H, W) in [0, 1].
    """
    from reference.data import from_model_range

    state, was_training = copy.deepcopy(G.state_dict()), G.training
    G.train()
    try:
        x = torch.cat([G(z[i:i + batch_size]) for i in range(0, len(z), batch_size)])
    finally:
        G.load_state_dict(state)
        G.train(was_training)
    return from_model_range(x, output_range)


CASES: dict[str, Case] = {
    case.name: case
    for case in [
        Case(
            name="d-wins",
            failure="learning rates a factor 10 off: G's 10x too small (2e-5), D's 10x too large (2e-3); D wins",
            overrides={"lr": 2e-5, "lr_d": 2e-3},
            look_for="D(x) -> 1 and D(G(z)) -> 0 within two epochs, loss_G climbing to 4-5 and staying there",
            diagnosis="D learns 100x faster than G: it separates real from fake before G has learned anything, "
                      "and G gets no useful direction from a D that is sure of everything",
            fix={"lr": 2e-4, "lr_d": None},
            signature=d_wins,
        ),
        Case(
            name="lr-too-low",
            failure="both learning rates a factor 10 too small (2e-5 for G and D): nothing breaks, nothing is learned in time",
            overrides={"lr": 2e-5},
            look_for="D(x) still ~0.53 after the first epoch (BASE: ~0.8), then creeping up a little every epoch; "
                     "D(G(z)) and loss_G hardly move from 0.5 and log 2; the samples stay grey noise",
            diagnosis="every step is a tenth of the usual size: both players move, smoothly and in the right "
                      "direction, but the budget ends before G has learned to draw (no jump, no NaN, no winner)",
            fix={"lr": 2e-4},
            signature=crawls,
        ),
        Case(
            name="oscillation",
            failure="D's learning rate 100x too large (2e-2): the two players overshoot each other",
            overrides={"lr_d": 2e-2},
            look_for="D(G(z)) climbing to ~0.9, then swinging from epoch to epoch between ~0.1-0.2 and ~0.5, loss_G jumping between ~2.5 and ~5.5",
            diagnosis="each D step overshoots, G chases a target that jumps: the game circles instead of settling",
            fix={"lr_d": None},
            signature=oscillates,
        ),
        Case(
            name="nan",
            failure="the loss written by hand as BCE through log(sigmoid(x)), with a strong D (lr_d 2e-3) that makes large logits",
            overrides={"loss": "log-sigmoid", "lr_d": 2e-3},
            look_for="loss_D, loss_G, D(x), D(G(z)) all nan from some epoch on (here the 4th)",
            diagnosis="sigmoid(x) rounds to exactly 1 for x > 17 (0 for x below about -88) in float32 and log gives -inf: "
                      "BCE's label term (1 - y) log(1 - sigmoid(x)) of a confident real logit is 0 * -inf = nan "
                      "(an inf loss's gradient is inf * 0 = nan), and one nan step poisons every weight",
            fix={"loss": "non-saturating"},
            signature=not_finite,
        ),
        Case(
            name="no-detach",
            failure="a forgotten .detach(): D's loss backpropagates into G, and G's gradients are not cleared",
            overrides={"fault": "no-detach"},
            look_for="D(G(z)) pinned at 0.50 and loss_G at log 2 = 0.69 for every epoch after the first",
            diagnosis="G's step adds the gradient of D's loss (make fakes look fake) to its own (make them look "
                      "real): the two cancel where D(G(z)) = 1/2, so G learns to keep D undecided, not to fool it",
            fix={"fault": None},
            signature=stuck_at_half,
        ),
        Case(
            name="unit-range-data",
            failure="real images left in [0, 1] while G's tanh draws in [-1, 1]",
            overrides={"fault": "unit-range-data"},
            look_for="the metrics look healthy; the samples' background is grey (0 in [-1, 1]), not black",
            diagnosis="G imitates data whose background is 0, the middle of its range: shown as images, mid-grey",
            fix={"fault": None},
            sample_signature=grey_background,
        ),
        Case(
            name="collapse",
            failure="mode collapse: G covers a few modes at a time and hops between them (lesson 04)",
            overrides=None,
            look_for="healthy-looking losses, while the modes G holds stay few and change from one snapshot to the next "
                     "(`collapse_runs`: modes held per snapshot on the 8-ring; in a trainer run, modes_covered with "
                     "--eval-every on a 2-D mixture, or class coverage and recall on images)",
            diagnosis="G is rewarded for any sample D currently accepts, so it moves its mass to one mode; D then "
                      "rejects that mode and G moves on: no term of the loss asks for all of the data. The fix lets D "
                      "see several samples at once (PacGAN: packs of 4), so a batch without variety gives itself away",
            fix={"pack": 4},
            signature=few_modes,
            demo=collapse_runs,
        ),
        Case(
            name="checkerboard",
            failure="checkerboard artifacts from stride-2 transposed convolutions (dcgan's G)",
            overrides=None,
            look_for="a 2-pixel grid pattern in the samples; high energy at the Nyquist frequency of their 2-D FFT",
            diagnosis="a stride-2 transposed convolution draws neighbouring output pixels with different parts of "
                      "its kernel: with kernel 4 every inner pixel gets 2 x 2 taps (even overlap, `overlap_counts`), "
                      "but the four output phases sum four different 2 x 2 sub-kernels, so unless training makes those "
                      "sums equal the output alternates with a period of 2 pixels, even at initialisation; kernel 3 at "
                      "stride 2 (the 28-px dcgan's 4 -> 7 layer) also overlaps unevenly, 1, 2, 1, 2 taps per axis "
                      "(Odena et al. 2016 describe both). The fix is resize-convolution in G, whose every pixel uses the "
                      "whole kernel (model dcgan-resize: `checkerboard_runs` trains both)",
            fix=None,
            sample_signature=has_checkerboard,
            demo=checkerboard_demo,
        ),
        Case(
            name="batchnorm-train-mode",
            failure="sampling a trained G with BatchNorm in training mode, one or two samples at a time",
            overrides=None,
            look_for="samples that differ from the eval-mode ones for the same z, washed out or noisy",
            diagnosis="in training mode BatchNorm normalises with the statistics of the 1-2 samples in front of "
                      "it instead of the running averages G was trained to use (and overwrites those averages)",
            fix=None,
            demo=sample_train_mode,
        ),
    ]
}


@dataclass
class CaseRun:
    """A finished clinic run: its folder, metrics rows (floats) and SAMPLES samples (N, C, H, W) in [0, 1]."""

    out: Path
    rows: list[dict]
    samples: Tensor


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """The rows of a metrics.csv as floats (nan stays nan; empty cells are dropped)."""
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


_RUNS: dict[str, CaseRun] = {}  # runs made in this process, by folder: a case and a fix sharing a config train once


def run_config(overrides: dict, out_dir: str | Path, **budget) -> CaseRun:
    """Train BASE with `overrides` (and `budget`, e.g. epochs=4) into a folder under out_dir.

    The folder is named after the settings that differ from BASE ("base" for none). A run already
    there with the same config (this process or an earlier one) is read back, not trained again.
    """
    from reference.metrics.evaluate import load_generator, sample_images
    from reference.trainer import train

    cfg = TrainConfig(**{**BASE, "dataset": dataset(), **budget, **overrides})
    base = TrainConfig(**BASE, dataset=cfg.dataset).to_dict()
    changed = {k: v for k, v in cfg.to_dict().items() if v != base[k]}
    out = Path(out_dir) / ("-".join(f"{k}={v}" for k, v in sorted(changed.items())) or "base").replace("/", "_")
    key = str(out.resolve())
    if key in _RUNS:
        return _RUNS[key]
    done = out / "checkpoints" / "last.pt"
    if not (done.exists() and _same_settings(json.loads((out / "config.json").read_text(encoding="utf-8")), cfg)):
        train(cfg, out)
    G, spec, nz, _ = load_generator(done, finite=False)  # a diverged case's samples are part of its picture
    run = CaseRun(out, read_metrics(out / "metrics.csv"), sample_images(G, spec, nz, SAMPLES, seed=cfg.seed + 1))
    _RUNS[key] = run
    return run


def _same_settings(saved: dict, cfg: TrainConfig) -> bool:
    """Whether a run's config.json is `cfg` (threads and the resolved nz, which train() records, aside)."""
    skip = ("threads", "nz")
    return {k: v for k, v in saved.items() if k in cfg.to_dict() and k not in skip} == \
        {k: v for k, v in cfg.to_dict().items() if k not in skip}


def run_case_and_fix(case: Case | str, out_dir: str | Path, **budget) -> tuple[CaseRun, CaseRun]:
    """Train a metrics-based case and its fix (same seed and budget); returns (failure run, fixed run)."""
    case = CASES[case] if isinstance(case, str) else case
    if case.overrides is None or case.fix is None:
        raise ValueError(f"case {case.name!r} is not a training setting; call CASES[{case.name!r}].demo instead")
    bad = run_config(case.overrides, out_dir, **budget)
    return bad, run_config({**case.overrides, **case.fix}, out_dir, **budget)


def detect(case: Case | str, run: CaseRun) -> bool:
    """Whether `case`'s signature (metrics or samples) fires on `run`."""
    case = CASES[case] if isinstance(case, str) else case
    if case.signature is not None:
        return case.signature(run.rows)
    if case.sample_signature is not None:
        return case.sample_signature(run.samples)
    raise ValueError(f"case {case.name!r} has no detector; it is shown by its demo")
