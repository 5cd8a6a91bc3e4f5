"""Tests for reference/trainer.py: the run folder, checkpoints, resume, determinism and every loss.

Everything trains in-process on scikit-learn's digits (1,437 training images) with the MLP or a
DCGAN of width 8, so each epoch takes well under a second on one CPU core.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reference.checkpoint import load_checkpoint
from reference.config import TrainConfig
from reference.data import from_model_range
from reference.errors import UserError
from reference.losses import LOSSES
from reference.models import get_model
from reference import trainer
from reference.plots import save_image_grid
from reference.trainer import METRIC_COLUMNS, train

DIGITS_TRAIN = 1437  # scikit-learn digits minus every fifth image (the test split)
TIMING = {"seconds", "images_per_second"}


def tiny(**overrides) -> TrainConfig:
    """An MLP on digits for one epoch on the CPU; overrides change any field."""
    values = dict(model="mlp", dataset="digits", epochs=1, batch_size=64, device="cpu", seed=0)
    return TrainConfig(**{**values, **overrides})


def read_metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def grid_side(n: int, side: int, padding: int = 2) -> int:
    """Pixel width of torchvision's square grid of n images of side x side."""
    nrow = math.ceil(math.sqrt(n))
    return nrow * (side + padding) + padding


def files_of(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}


def assert_state_dicts_equal(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), f"{what}: different keys"
    for name in a:
        assert torch.equal(a[name], b[name]), f"{what}: tensor {name} differs"


def assert_optimizers_equal(a: dict, b: dict, what: str) -> None:
    assert a["param_groups"] == b["param_groups"], f"{what}: param_groups differ"
    assert a["state"].keys() == b["state"].keys(), f"{what}: different parameters have state"
    for index, state in a["state"].items():
        for key, value in state.items():
            other = b["state"][index][key]
            same = torch.equal(value, other) if torch.is_tensor(value) else value == other
            assert same, f"{what}: state[{index}][{key!r}] differs"


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory) -> tuple[TrainConfig, Path]:
    """3 epochs with save_every=2: samples and checkpoints after epochs 2 and 3 (the last)."""
    cfg = tiny(epochs=3, save_every=2)
    run = train(cfg, tmp_path_factory.mktemp("trainer") / "run", progress=False)
    return cfg, run


# ---- the run folder -----------------------------------------------------------------------------


def test_run_folder_holds_exactly_the_scheduled_files(mlp_run):
    _, run = mlp_run
    expected = {
        "config.json", "metrics.csv", "losses.png",
        "samples/epoch_002.png", "samples/epoch_003.png",
        "checkpoints/epoch_002.pt", "checkpoints/epoch_003.pt", "checkpoints/last.pt",
    }  # fmt: skip
    found = files_of(run)
    assert found == expected, (
        f"save_every=2, epochs=3 should write samples and checkpoints after epochs 2 and 3 only, plus "
        f"last.pt, metrics.csv, losses.png and config.json (and no leftover temp files); "
        f"missing {sorted(expected - found)}, unexpected {sorted(found - expected)}"
    )


def test_metrics_csv_has_one_finite_row_per_epoch(mlp_run):
    _, run = mlp_run
    with open(run / "metrics.csv", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == METRIC_COLUMNS, f"metrics.csv header is {header}, expected {list(METRIC_COLUMNS)}"
    rows = read_metrics(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3], "metrics.csv should have rows for epochs 1, 2, 3"
    for row in rows:
        for key in METRIC_COLUMNS:
            assert math.isfinite(float(row[key])), f"epoch {row['epoch']}: {key} = {row[key]} is not finite"
        assert float(row["seconds"]) > 0 and float(row["images_per_second"]) > 0
    with Image.open(run / "losses.png") as im:
        assert im.format == "PNG"


def test_checkpoints_hold_everything_needed_to_resume(mlp_run):
    cfg, run = mlp_run
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    for key in ("generator", "discriminator", "opt_g", "opt_d", "epoch", "rng", "config", "fixed_noise", "history"):
        assert key in last, f"last.pt lacks {key!r}"
    assert last["epoch"] == 3, f"last.pt after 3 epochs says epoch {last['epoch']}"
    threads = last["config"]["threads"]
    assert isinstance(threads, int) and threads >= 1, f"last.pt should record the CPU threads the run used, got {threads!r}"
    assert last["config"] == replace(cfg, threads=threads).to_dict(), "last.pt's config is not the run's TrainConfig"
    assert last["opt_g"]["state"] and last["opt_d"]["state"], "optimizer states are empty: Adam moments were not saved"
    assert load_checkpoint(run / "checkpoints" / "epoch_002.pt")["epoch"] == 2, "epoch_002.pt should hold epoch 2"
    assert [row["epoch"] for row in last["history"]] == [1, 2, 3]


def test_samples_are_the_generator_on_the_fixed_noise(mlp_run, tmp_path):
    """samples/epoch_003.png is G (from last.pt) on the checkpoint's fixed noise, in an 8x8 grid."""
    _, run = mlp_run
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert torch.equal(state["fixed_noise"], load_checkpoint(run / "checkpoints" / "epoch_002.pt")["fixed_noise"]), (
        "the fixed noise changed between epochs 2 and 3: sample grids must use the same z"
    )
    spec = get_model("mlp")
    G, _ = spec.build(tuple(state["shape"]), state["nz"])
    G.load_state_dict(state["generator"])
    G.eval()
    with torch.no_grad():
        x = from_model_range(G(state["fixed_noise"]), spec.output_range)
    save_image_grid(x, tmp_path / "expected.png")
    saved = np.asarray(Image.open(run / "samples" / "epoch_003.png"))
    expected = np.asarray(Image.open(tmp_path / "expected.png"))
    side = grid_side(64, 28)
    assert saved.shape[:2] == (side, side), f"64 samples of 28x28 should make a {side}x{side} grid, got {saved.shape}"
    assert np.array_equal(saved, expected), "samples/epoch_003.png is not G(fixed_noise) of checkpoints/last.pt"


def test_config_json_rebuilds_the_run(mlp_run):
    cfg, run = mlp_run
    saved = json.loads((run / "config.json").read_text())
    assert saved["shape"] == [1, 28, 28] and saved["nz"] == 100 and saved["world_size"] == 1
    rebuilt = TrainConfig.from_dict({k: v for k, v in saved.items() if k not in ("shape", "nz", "world_size")})
    ran = replace(cfg, threads=saved["threads"])  # the CPU threads chosen when the run started
    assert rebuilt == ran, f"config.json rebuilds {rebuilt}, the run had {ran}"
    # with the resolved nz it is the same run too
    assert TrainConfig.from_dict({k: v for k, v in saved.items() if k not in ("shape", "world_size")}) == replace(ran, nz=100)


# ---- determinism and resume ---------------------------------------------------------------------


def test_seeded_cpu_runs_are_bit_identical(tmp_path):
    a = load_checkpoint(train(tiny(epochs=2), tmp_path / "a", progress=False))
    b = load_checkpoint(train(tiny(epochs=2), tmp_path / "b", progress=False))
    c = load_checkpoint(train(tiny(epochs=2, seed=1), tmp_path / "c", progress=False))
    for part in ("generator", "discriminator"):
        assert_state_dicts_equal(a[part], b[part], f"two runs with seed 0: {part}")
    differs = any(not torch.equal(t, c["generator"][name]) for name, t in a["generator"].items())
    assert differs, "seed 1 gave the same generator as seed 0: the seed is not used"


def test_resume_is_bit_identical_to_a_straight_run(tmp_path):
    """DCGAN (BatchNorm, Adam moments, RNG): 4 epochs straight == 2 epochs, then resume to 4."""
    # one thread count for all three calls: left to the machine's load, each call chose its own (the CLI's
    # --resume keeps the run's count; this library call gets a fresh config), and on a busy machine the
    # runs parted in the last digits. One thread: two, beside the other pytest-xdist worker on 2 cores, made
    # this test take 19 s instead of 4
    base = dict(model="dcgan", ngf=4, ndf=4, seed=3, threads=1)
    straight = train(tiny(epochs=4, **base), tmp_path / "straight", progress=False)
    resumed = train(tiny(epochs=2, **base), tmp_path / "resumed", progress=False)
    first = load_checkpoint(resumed)
    assert first["epoch"] == 2
    train(tiny(epochs=4, **base), resumed, state=first, progress=False)

    a = load_checkpoint(straight / "checkpoints" / "last.pt")
    b = load_checkpoint(resumed / "checkpoints" / "last.pt")
    assert b["epoch"] == 4, f"the resumed run's last.pt says epoch {b['epoch']}, expected 4"
    for part in ("generator", "discriminator"):
        assert_state_dicts_equal(a[part], b[part], f"resumed vs straight {part}")
    for part in ("opt_g", "opt_d"):
        assert_optimizers_equal(a[part], b[part], f"resumed vs straight {part}")
    rows_a, rows_b = read_metrics(straight), read_metrics(resumed)
    assert len(rows_a) == len(rows_b) == 4, f"metrics rows: straight {len(rows_a)}, resumed {len(rows_b)}, expected 4"
    for ra, rb in zip(rows_a, rows_b):
        for key in set(METRIC_COLUMNS) - TIMING:
            assert ra[key] == rb[key], f"epoch {ra['epoch']}: {key} straight {ra[key]} != resumed {rb[key]}"


@pytest.mark.filterwarnings("ignore:--threads 3 is more than")  # on a 2-core machine, as meant: a count no fresh choice makes
def test_a_library_resume_keeps_the_runs_thread_count(tmp_path):
    """train(cfg, out, state=last.pt) with cfg.threads unset continues at the count the run recorded (as
    the CLI's --resume does), not at a count chosen anew from the machine's load: a seeded run repeats
    bit for bit only at one count. 3 threads: a count no fresh choice on this machine would make."""
    run = train(tiny(threads=3), tmp_path / "run", progress=False)
    first = load_checkpoint(run)
    assert first["config"]["threads"] == 3
    train(tiny(epochs=2), run, state=first, progress=False)
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["epoch"] == 2
    assert last["config"]["threads"] == 3, f"the resumed epoch ran on {last['config']['threads']} threads, the run on 3"


def test_resume_refuses_a_finished_run_before_touching_it(mlp_run):
    cfg, run = mlp_run
    before = {p: (run / p).read_bytes() for p in files_of(run)}
    with pytest.raises(UserError, match="--epochs"):
        train(cfg, run, state=load_checkpoint(run), progress=False)
    assert {p: (run / p).read_bytes() for p in files_of(run)} == before, "a refused resume changed the run folder"


def test_bad_values_fail_before_creating_the_folder(tmp_path):
    for bad in (dict(epochs=0), dict(batch_size=0), dict(max_images=0), dict(model="nope"), dict(loss="nope"), dict(dataset="nope")):
        with pytest.raises(UserError):
            train(tiny(**bad), tmp_path / "run", progress=False)
        assert not (tmp_path / "run").exists(), f"{bad} created the run folder before failing"


def test_max_images_trains_on_the_first_n_images_only(tmp_path, monkeypatch):
    seen = []
    real_batches = trainer.Batches

    def spy(dataset, *args, **kwargs):
        seen.append(dataset.data.clone())
        return real_batches(dataset, *args, **kwargs)

    monkeypatch.setattr(trainer, "Batches", spy)
    train(tiny(max_images=200, batch_size=50), tmp_path / "run", progress=False)
    train(tiny(batch_size=50), tmp_path / "full", progress=False)
    subset, full = seen
    assert subset.shape[0] == 200, f"--max-images 200 trained on {subset.shape[0]} images"
    assert torch.equal(subset, full[:200]), "--max-images should keep the first N training images, in order"
    rows = read_metrics(tmp_path / "run")
    assert float(rows[0]["images_per_second"]) > 0


# ---- losses and the 2-D mixtures ----------------------------------------------------------------


@pytest.mark.parametrize("loss", ["minimax", "non-saturating", "least-squares", "wgan", "wgan-gp", "hinge"])
def test_every_loss_trains_an_epoch_without_nan(loss, tmp_path, monkeypatch):
    """One epoch per loss; G steps = batches // n_critic (5 for wgan and wgan-gp, else 1)."""
    cls = LOSSES[loss]
    calls = []
    original = cls.g_loss
    monkeypatch.setattr(cls, "g_loss", lambda self, fake: calls.append(1) or original(self, fake))
    run = train(tiny(loss=loss), tmp_path / "run", progress=False)

    (row,) = read_metrics(run)
    for key in METRIC_COLUMNS:
        assert math.isfinite(float(row[key])), f"{loss}: {key} = {row[key]} after one epoch"
    state = load_checkpoint(run)
    for part in ("generator", "discriminator"):
        for name, t in state[part].items():
            assert torch.isfinite(t).all(), f"{loss}: {part}.{name} has NaN or inf after one epoch"
    batches = DIGITS_TRAIN // 64
    n_critic = 5 if loss in ("wgan", "wgan-gp") else 1
    assert len(calls) == batches // n_critic, (
        f"{loss}: {len(calls)} generator steps in {batches} batches, expected {batches // n_critic} (n_critic {n_critic})"
    )


def test_ring_with_mlp2d_writes_a_scatter_plot(tmp_path, monkeypatch):
    """mlp2d on the 8-Gaussian ring; the first 4,096 of its 100,000 points keep the epoch short."""
    load_dataset = trainer.load_dataset

    def first_points(*args, **kwargs):
        ds = load_dataset(*args, **kwargs)
        ds.data, ds.labels = ds.data[:4096], ds.labels[:4096]
        return ds

    monkeypatch.setattr(trainer, "load_dataset", first_points)
    run = train(tiny(model="mlp2d", dataset="ring", batch_size=256, num_samples=256), tmp_path / "ring", progress=False)
    with Image.open(run / "samples" / "epoch_001.png") as im:
        assert im.format == "PNG" and im.size == (450, 450), f"scatter plot is {im.size}, expected 450x450 (4.5 in at 100 dpi)"
    state = load_checkpoint(run)
    assert state["shape"] == [2] and state["fixed_noise"].shape == (256, 2)
    (row,) = read_metrics(run)
    assert math.isfinite(float(row["loss_d"])) and math.isfinite(float(row["loss_g"]))


def test_amp_on_the_cpu_warns_and_trains_in_full_precision(tmp_path):
    import warnings as _warnings

    from reference.config import TrainConfig
    from reference.trainer import train

    cfg = TrainConfig(model="mlp", dataset="digits", epochs=1, amp=True, device="cpu")
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        train(cfg, tmp_path / "run", progress=False)
    assert any("--amp needs a CUDA GPU" in str(w.message) for w in caught)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_config_types_come_from_the_field_annotations(tmp_path):
    """An int is a fine float; a bool is no number, a float no int; the message names key, value, type and file."""
    assert TrainConfig.from_dict({"lr": 1, "beta1": 0}).lr == 1
    for key, value, expected in (("lr", "fast", "(float)"), ("epochs", 2.5, "(int)"), ("epochs", True, "(int)"),
                                 ("amp", 1, "(bool)"), ("max_images", "all", "(int)"), ("device", None, "(str)")):
        with pytest.raises(UserError) as info:
            TrainConfig.from_dict({key: value}, source="exp.toml")
        message = str(info.value)
        for word in (key, json.dumps(value), expected, "exp.toml"):
            assert word in message, f"{key} = {value!r}: the message should name {word!r}: {message}"
    with pytest.raises(UserError, match="lr"):
        train(tiny(lr="fast"), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_saved_epochs_come_in_epoch_order_past_epoch_999(tmp_path):
    # the file names pad to three digits, so a sort by name puts epoch_1000 before epoch_999
    for number in (2, 999, 1000, 10):
        (tmp_path / "samples").mkdir(exist_ok=True)
        (tmp_path / "samples" / f"epoch_{number:03d}.png").write_bytes(b"")
        (tmp_path / "checkpoints").mkdir(exist_ok=True)
        (tmp_path / "checkpoints" / f"epoch_{number:03d}.pt").write_bytes(b"")
    (tmp_path / "samples" / "epoch_final.png").write_bytes(b"")
    assert [p.name for p in trainer.saved_epochs(tmp_path)] == [
        "epoch_002.png", "epoch_010.png", "epoch_999.png", "epoch_1000.png"]
    assert [p.name for p in trainer.saved_epochs(tmp_path, "checkpoints")][-2:] == ["epoch_999.pt", "epoch_1000.pt"]
