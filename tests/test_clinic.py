"""Tests for reference/clinic.py: each failure's detector fires on its run and not on its fix's.

The metrics-based cases train BASE (the MLP GAN on 640 MNIST images, or the offline digits, 16
epochs of 10 batches, one thread) once per distinct config for the whole module: seven ~4 s runs.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reference import clinic
from reference.models import get_model

METRIC_CASES = [name for name, case in clinic.CASES.items() if case.overrides is not None]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("clinic")
    return {name: clinic.run_case_and_fix(name, root) for name in METRIC_CASES}


def test_catalogue_covers_the_lesson_and_every_training_case_has_a_detector_and_a_fix():
    assert set(METRIC_CASES) == {"d-wins", "oscillation", "nan", "no-detach", "unit-range-data"}
    for name in METRIC_CASES:
        case = clinic.CASES[name]
        assert case.fix and (case.signature or case.sample_signature), name
        clinic.TrainConfig(**{**clinic.BASE, **case.overrides}).validate()
    for name in ("collapse", "checkerboard", "batchnorm-train-mode"):
        assert clinic.CASES[name].demo is not None and clinic.CASES[name].overrides is None


@pytest.mark.parametrize("name", METRIC_CASES)
def test_detector_fires_on_the_failure_and_not_on_the_fix(runs, name):
    bad, fixed = runs[name]
    assert clinic.detect(name, bad), f"{name}: detector silent on the failure run {bad.rows[-1]}"
    assert not clinic.detect(name, fixed), f"{name}: detector fires on the fixed run {fixed.rows[-1]}"


def test_detectors_fire_only_on_their_own_failure(runs):
    """A detector is a diagnosis: on another case's failure run it stays silent."""
    for name in METRIC_CASES:
        for other in METRIC_CASES:
            if other != name:
                assert not clinic.detect(name, runs[other][0]), f"{name}'s detector fires on the {other} run"


def test_nan_fix_keeps_the_strong_d_only_the_loss_changes(runs):
    bad, fixed = runs["nan"]
    assert bad.out.name == "loss=log-sigmoid-lr_d=0.002" and fixed.out.name == "lr_d=0.002"
    assert all(math.isfinite(r["loss_d"]) for r in fixed.rows)


def test_fix_runs_are_shared_and_read_back(runs, tmp_path_factory):
    assert runs["d-wins"][1] is runs["no-detach"][1]  # both fixes are BASE: trained once
    clinic._RUNS.clear()
    again = clinic.run_config({}, runs["d-wins"][1].out.parent)  # read from disk, not retrained
    assert again.rows == runs["d-wins"][1].rows and torch.equal(again.samples, runs["d-wins"][1].samples)


def test_demo_cases_are_refused_by_run_case_and_fix(tmp_path):
    with pytest.raises(ValueError, match="demo"):
        clinic.run_case_and_fix("checkerboard", tmp_path)


def test_read_metrics_keeps_nan(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss_d,fid\n1,nan,\n2,0.5,12.5\n")
    rows = clinic.read_metrics(path)
    assert math.isnan(rows[0]["loss_d"]) and "fid" not in rows[0] and rows[1] == {"epoch": 2.0, "loss_d": 0.5, "fid": 12.5}


def test_signatures_on_hand_made_rows():
    row = lambda lg, dx, dgz: {"loss_d": 0.1, "loss_g": lg, "d_x": dx, "d_g_z": dgz}  # noqa: E731
    assert clinic.d_wins([row(1.0, 0.9, 0.3)] + [row(4.0, 0.99, 0.02)] * 5)
    assert not clinic.d_wins([row(1.0, 0.9, 0.3)] + [row(0.7, 0.8, 0.5)] * 5)
    assert clinic.not_finite([row(1.0, 0.9, 0.3), row(float("nan"), 0.9, 0.3)])
    assert clinic.oscillates([row(1, 0.9, v) for v in (0.1, 0.8, 0.2, 0.9, 0.1)])
    assert not clinic.oscillates([row(1, 0.9, v) for v in (0.5, 0.52, 0.51, 0.5, 0.49)])
    assert clinic.stuck_at_half([row(0.6, 0.9, 0.4)] + [row(0.70, 0.95, 0.50)] * 4)
    assert not clinic.stuck_at_half([row(0.6, 0.9, 0.4)] + [row(0.60, 0.80, 0.58)] * 4)


def test_nyquist_energy_of_a_checkerboard_is_one_and_of_a_smooth_image_is_near_zero():
    i, j = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    board = ((i + j) % 2).float()[None, None]
    stripes = (j % 2).float()[None, None]
    smooth = torch.exp(-((i - 14.0) ** 2 + (j - 14.0) ** 2) / 40)[None, None]
    energy = clinic.nyquist_energy(torch.cat([board, stripes, smooth]))
    assert energy.shape == (3,)
    assert energy[0] == pytest.approx(1.0) and energy[1] == pytest.approx(1.0) and energy[2] < 1e-3


def test_transposed_convs_make_a_checkerboard_that_resize_conv_does_not():
    energy = clinic.checkerboard_demo(n=16)
    assert energy["dcgan"].mean() > 10 * energy["dcgan-resize"].mean()


def test_the_checkerboard_run_shows_it_and_the_run_after_the_fix_does_not(tmp_path):
    """Same images, seed and budget (a short one: 4 G steps): the detector fires on dcgan's samples only."""
    bad, fixed = clinic.checkerboard_runs(tmp_path, max_images=128, epochs=2)
    assert (bad.out.name, fixed.out.name) == ("epochs=2-max_images=128-model=dcgan", "epochs=2-max_images=128-model=dcgan-resize")
    assert len(bad.rows) == len(fixed.rows) == 2 and bad.samples.shape == fixed.samples.shape == (clinic.SAMPLES, 1, 28, 28)
    assert clinic.detect("checkerboard", bad), clinic.nyquist_energy(bad.samples).mean()
    assert not clinic.detect("checkerboard", fixed), clinic.nyquist_energy(fixed.samples).mean()
    smooth = torch.zeros(4, 1, 28, 28)
    smooth[..., 8:20, 8:20] = 1.0
    board = smooth + 0.2 * (torch.arange(28)[:, None] + torch.arange(28)).remainder(2)
    assert not clinic.has_checkerboard(smooth) and clinic.has_checkerboard(board)


def test_sample_train_mode_differs_in_small_batches_and_leaves_g_untouched():
    spec = get_model("dcgan")
    torch.manual_seed(0)
    G, _ = spec.build((1, 28, 28), 100)
    with torch.no_grad():  # running statistics far from a single batch's, as after training
        for m in G.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.add_(0.3)
                m.running_var.mul_(2.0)
    G.eval()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    z = torch.randn(8, 100, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        eval_x = (G(z) + 1) / 2
    train_x = clinic.sample_train_mode(G, z, batch_size=2)
    assert train_x.shape == eval_x.shape and (train_x - eval_x).abs().mean() > 0.02
    assert not G.training and all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    full = clinic.sample_train_mode(G, z, batch_size=8)
    assert not torch.allclose(full, train_x)  # the batch a sample sits in changes it: train mode depends on the batch


def test_tips_benchmark_table_reports_means_and_ratios_to_the_baseline():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "tips.py"
    spec = importlib.util.spec_from_file_location("tips", path)
    tips = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tips)
    rows = [{"arm": "baseline", "seed": 0, "fid": 100.0}, {"arm": "baseline", "seed": 1, "fid": 120.0},
            {"arm": "ema", "seed": 0, "fid": 55.0}, {"arm": "ema", "seed": 1, "fid": 65.0}]
    text, summary = tips.table(rows)
    assert summary["baseline"] == {"fid": [100.0, 120.0], "mean": 110.0, "ratio": 1.0}
    assert summary["ema"]["mean"] == 60.0 and summary["ema"]["ratio"] == pytest.approx(60 / 110, abs=1e-3)
    assert "| ema | 55.0 | 65.0 | 60.0 | 0.55 |" in text
    assert tips.DEFAULT_ARMS[0] == "baseline" and set(tips.DEFAULT_ARMS) <= set(tips.ARMS)


def test_collapse_demo_counts_the_modes_of_lesson_04s_runs():
    """The catalogue's collapse case runs lesson 04's demo: one count of held modes per snapshot and arm."""
    from reference.figures import lesson_04

    counts = clinic.collapse_demo(steps=200, every=100)
    assert set(counts) == {"GAN", "PacGAN4"} and all(len(v) == 2 for v in counts.values())
    assert all(0 <= k <= 8 for v in counts.values() for k in v)
    direct = [len(lesson_04.modes_held(p)) for _, p in lesson_04.collapse_snapshots({"pack": 4}, steps=200, every=100, progress=False)]
    assert counts["PacGAN4"] == direct, "the demo must be lesson 04's run, seed for seed"
