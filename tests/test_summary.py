"""Tests for reference/summary.py: Keras-style tables and the parameter lines scripts read back."""

from __future__ import annotations

import torch
from torch import nn

from reference.models import get_model
from reference.summary import summarize, summary_text


def test_summary_text_ends_with_counts():
    text = summary_text(get_model("mlp"), (1, 28, 28), nz=100)
    assert text.splitlines()[-2:] == [
        "Generator parameters: 227344",
        "Discriminator parameters: 201217",
    ], f"last two lines should be the plain counts, got {text.splitlines()[-2:]}"


def test_table_rows_and_totals():
    spec = get_model("mlp")
    netG, _ = spec.build((1, 28, 28), nz=100)
    table = summarize(netG, (100,), "mlp generator")
    lines = table.splitlines()
    assert lines[0] == 'Model: "mlp generator"'
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert (
        "(None, 1, 28, 28)" in table
    ), "G's last row should show its image output with None for the batch"
    assert any("(Linear)" in line and "(None, 256)" in line and "25,856" in line for line in lines)
    rows = [line for line in lines if line.startswith("main.")]
    assert (
        len(rows) == 5
    ), f"one row per leaf module (Linear, LeakyReLU, Linear, Tanh, Unflatten): {rows}"
    assert "Total params: 227,344" in lines and "Trainable params: 227,344" in lines


def test_summary_of_points_discriminator():
    spec = get_model("mlp2d")
    _, netD = spec.build((2,), nz=2)
    table = summarize(netD, (2,), "mlp2d discriminator")
    assert "(None, 200)" in table and "(None, 1)" in table


def test_training_mode_restored_and_running_stats_untouched():
    spec = get_model("dcgan")
    netG, netD = spec.build((1, 28, 28), nz=100, ngf=8, ndf=8)
    netD.main[1].eval()  # a mixed state must come back as it was
    before = {m: m.training for m in netD.modules()}
    summarize(netD, (1, 28, 28), "D")
    assert {
        m: m.training for m in netD.modules()
    } == before, "summarize must restore each module's mode"

    netG.train()
    norm = next(m for m in netG.modules() if isinstance(m, nn.BatchNorm2d))
    mean = norm.running_mean.clone()
    summarize(netG, (100,), "G")
    assert netG.training and all(
        m.training for m in netG.modules()
    ), "summarize must leave G in train mode"
    assert torch.equal(
        norm.running_mean, mean
    ), "summarize must run in eval mode (BatchNorm stats changed)"
