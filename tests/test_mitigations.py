"""Tests for reference/models/mitigations.py and the trainer options built on it: --minibatch-std, --pack.

Shapes, the statistic against a hand computation, which samples a pack holds, exact parameter
counts, that the trainer hands D packs of real points and packs of fake points (never mixed),
seeded tiny training runs with each option, and one-line errors for bad values.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from reference import trainer
from reference.checkpoint import load_checkpoint
from reference.config import TrainConfig
from reference.errors import UserError
from reference.models import ModelError, count_parameters, get_model
from reference.models.mitigations import MinibatchStdDev, minibatch_std, pack
from reference.trainer import train


# ---- the minibatch standard deviation --------------------------------------------------------------


def test_minibatch_std_equals_a_hand_computation():
    x = torch.tensor([[0.0, 1.0, 5.0], [2.0, 1.0, 1.0]])  # 2 samples, 3 features
    # Per feature, the population std of two values a, b is |a - b| / 2: 1, 0, 2; their mean is 1.
    expected = ((1.0 + 1e-8) ** 0.5 + (0.0 + 1e-8) ** 0.5 + (4.0 + 1e-8) ** 0.5) / 3
    assert minibatch_std(x).item() == pytest.approx(expected, abs=1e-7)
    out = MinibatchStdDev()(x)
    assert out.shape == (2, 4), f"(N, F) -> (N, F + 1), got {tuple(out.shape)}"
    assert torch.equal(out[:, :3], x), "the original features must pass through unchanged"
    assert torch.allclose(out[:, 3], torch.full((2,), expected)), "every sample gets the same statistic"


def test_minibatch_std_on_images_adds_one_constant_map():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, 4, 4, generator=gen)
    hand = sum(
        math.sqrt(sum((x[n, c, h, w].item() - x[:, c, h, w].mean().item()) ** 2 for n in range(5)) / 5 + 1e-8)
        for c in range(3) for h in range(4) for w in range(4)
    ) / (3 * 4 * 4)  # fmt: skip
    out = MinibatchStdDev()(x)
    assert out.shape == (5, 4, 4, 4), f"(N, C, H, W) -> (N, C + 1, H, W), got {tuple(out.shape)}"
    assert torch.equal(out[:, :3], x)
    assert torch.allclose(out[:, 3], torch.full((5, 4, 4), hand), atol=1e-6), "the extra map must be the constant statistic"


def test_minibatch_std_sees_collapse_and_has_a_gradient():
    same = torch.ones(8, 10)
    assert minibatch_std(same).item() == pytest.approx(1e-4), "identical samples: std 0 (sqrt of the 1e-8 guard)"
    x = torch.randn(8, 10, requires_grad=True)
    minibatch_std(x).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0, "the statistic must pass gradients to every sample"


def test_minibatch_std_keeps_channels_last():
    x = torch.randn(4, 3, 5, 5).contiguous(memory_format=torch.channels_last)
    assert MinibatchStdDev()(x).is_contiguous(memory_format=torch.channels_last)


# ---- packing ---------------------------------------------------------------------------------------


def test_pack_concatenates_consecutive_samples():
    x = torch.arange(12.0).view(6, 2)  # point i is (2i, 2i + 1)
    packed = pack(x, 3)
    assert packed.shape == (2, 6)
    assert torch.equal(packed[0], torch.cat([x[0], x[1], x[2]])) and torch.equal(packed[1], torch.cat([x[3], x[4], x[5]]))
    images = torch.randn(8, 3, 4, 4)
    packed = pack(images, 2)
    assert packed.shape == (4, 6, 4, 4), "images pack along the channels: (N, C, H, W) -> (N/m, m*C, H, W)"
    assert torch.equal(packed[1, :3], images[2]) and torch.equal(packed[1, 3:], images[3])
    assert pack(x, 1) is x, "pack 1 must leave the batch alone"


def test_pack_permutation_moves_whole_packs():
    """Permuting the packs' order permutes rows; reordering inside a pack permutes its blocks only."""
    m, n_packs = 4, 5
    x = torch.randn(m * n_packs, 2)
    order = torch.randperm(n_packs, generator=torch.Generator().manual_seed(1))
    sample_order = (order.view(-1, 1) * m + torch.arange(m)).view(-1)  # whole packs moved
    assert torch.equal(pack(x[sample_order], m), pack(x, m)[order])
    within = torch.tensor([3, 0, 2, 1])  # the same reordering inside every pack
    sample_order = (torch.arange(n_packs).view(-1, 1) * m + within).view(-1)
    expected = pack(x, m).view(n_packs, m, 2)[:, within].reshape(n_packs, 2 * m)
    assert torch.equal(pack(x[sample_order], m), expected)
    # every sample lands in exactly one pack, once
    labels = torch.arange(m * n_packs, dtype=torch.float32).view(-1, 1)
    assert sorted(pack(labels, m).flatten().tolist()) == labels.flatten().tolist()


def test_pack_refuses_a_batch_it_cannot_split():
    with pytest.raises(ValueError, match="groups of 3"):
        pack(torch.zeros(10, 2), 3)


# ---- the models ------------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_mlp2d_parameter_counts(m):
    spec = get_model("mlp2d")
    G, D = spec.build((2,), 2, pack=m)
    assert count_parameters(G) == 486_402, "options must not change G"
    assert count_parameters(D) == 81_201 + 400 * (m - 1), f"PacGAN{m}: D's first layer is Linear({2 * m}, 200)"
    _, D = spec.build((2,), 2, pack=m, minibatch_std=True)
    assert count_parameters(D) == 81_201 + 400 * (m - 1) + 1, "minibatch std adds one weight to the last layer"
    assert D(pack(torch.randn(12, 2), m)).shape == (12 // m,)


def test_mlp_and_dcgan_counts_and_shapes():
    mlp = get_model("mlp")
    _, D = mlp.build((1, 28, 28), 100, pack=2, minibatch_std=True)
    assert count_parameters(D) == 201_217 + 784 * 256 + 1
    assert D(pack(torch.randn(6, 1, 28, 28), 2)).shape == (3,)
    dcgan = get_model("dcgan")
    _, plain = dcgan.build((1, 28, 28), 100, ndf=8)
    _, D = dcgan.build((1, 28, 28), 100, ndf=8, pack=3, minibatch_std=True)
    first = 8 * 1 * 4 * 4  # D's first conv at 28 px: ndf 8 filters of 4x4 per input channel (no bias)
    assert count_parameters(D) - count_parameters(plain) == 2 * first + 4 * 4, (
        "pack 3 triples the first conv's input channels; minibatch std adds one 4x4 input map to the last conv"
    )
    assert D(pack(torch.randn(6, 1, 28, 28), 3)).shape == (2,)


def test_default_options_build_the_same_networks():
    """Without options every model is built as before: same parameters, same RNG draws."""
    for name, shape in (("mlp2d", (2,)), ("mlp", (1, 28, 28))):
        spec = get_model(name)
        torch.manual_seed(0)
        _, a = spec.build(shape, spec.default_nz)
        torch.manual_seed(0)
        _, b = spec.build(shape, spec.default_nz, pack=1, minibatch_std=False)
        assert a.state_dict().keys() == b.state_dict().keys()
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


@pytest.mark.parametrize("name", ["upsample", "tf-dcgan", "dcgan-1024"])
def test_models_without_the_options_refuse_them(name):
    spec = get_model(name)
    for options, flag in ((dict(pack=2), "--pack"), (dict(minibatch_std=True), "--minibatch-std")):
        with pytest.raises(ModelError) as info:
            spec.build((1, 28, 28), spec.default_nz, **options)
        message = str(info.value)
        assert "\n" not in message and flag in message and "mlp2d" in message, message


# ---- the trainer -----------------------------------------------------------------------------------


def ring(**overrides) -> TrainConfig:
    values = dict(model="mlp2d", dataset="ring", batch_size=64, max_images=640, epochs=1, device="cpu", seed=0)
    return TrainConfig(**{**values, **overrides})


def spy_on_d(monkeypatch) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Record every batch the trainer takes and every input D gets (mlp2d's builder wrapped)."""
    inputs, batches = [], []
    spec = get_model("mlp2d")

    def builder(*args, **kwargs):
        G, D = spec.builder(*args, **kwargs)
        D.register_forward_pre_hook(lambda module, args: inputs.append(args[0].detach().clone()))
        return G, D

    monkeypatch.setattr(trainer, "get_model", lambda name: dataclasses.replace(spec, builder=builder))
    real_batches = trainer.Batches.epoch

    def epoch(self, e):
        for batch in real_batches(self, e):
            batches.append(batch.clone())
            yield batch

    monkeypatch.setattr(trainer.Batches, "epoch", epoch)
    return inputs, batches


def test_trainer_gives_d_real_packs_and_fake_packs_separately(tmp_path, monkeypatch):
    inputs, batches = spy_on_d(monkeypatch)
    run = train(ring(pack=4), tmp_path / "run", progress=False)
    assert len(batches) == 10, f"640 points at batch 64 are 10 batches, saw {len(batches)}"
    # Each step: D(real packs), D(fake packs) for D's update, then D(fake packs) for G's.
    assert len(inputs) == 3 * len(batches)
    for step, real in enumerate(batches):
        d_real, d_fake, g_fake = inputs[3 * step : 3 * step + 3]
        assert d_real.shape == d_fake.shape == (16, 8), f"64 points in packs of 4: (16, 8), got {tuple(d_real.shape)}"
        assert torch.equal(d_real, pack(real, 4)), f"step {step}: D's real input is not the real batch packed by 4"
        assert not any(torch.equal(row[:2], p) for row in d_fake for p in real), "a fake pack holds a real point"
        assert torch.equal(d_fake, g_fake), "G's step must score the same fake packs"
    assert load_checkpoint(run)["config"]["pack"] == 4


@pytest.mark.parametrize("options", [dict(pack=2), dict(minibatch_std=True), dict(pack=2, minibatch_std=True, loss="wgan-gp")])
def test_seeded_runs_with_the_options_train_and_repeat_exactly(tmp_path, options):
    a = load_checkpoint(train(ring(**options), tmp_path / "a", progress=False))
    b = load_checkpoint(train(ring(**options), tmp_path / "b", progress=False))
    plain = load_checkpoint(train(ring(loss=options.get("loss", "non-saturating")), tmp_path / "plain", progress=False))
    for name, t in a["discriminator"].items():
        assert torch.isfinite(t).all(), f"{options}: D.{name} is not finite"
        assert torch.equal(t, b["discriminator"][name]), f"{options}: two seeded CPU runs differ in D.{name}"
    assert any(not torch.equal(t, plain["generator"][k]) for k, t in a["generator"].items()), (
        f"{options} trained the same G as the plain run: the option has no effect"
    )
    row = a["history"][0]
    assert math.isfinite(row["loss_d"]) and math.isfinite(row["loss_g"])


def test_resume_with_options_is_bit_identical(tmp_path):
    cfg = ring(pack=2, minibatch_std=True, epochs=2)
    straight = load_checkpoint(train(cfg, tmp_path / "straight", progress=False))
    half = train(dataclasses.replace(cfg, epochs=1), tmp_path / "resumed", progress=False)
    resumed = load_checkpoint(train(cfg, half, state=load_checkpoint(half), progress=False))
    for part in ("generator", "discriminator"):
        for name, t in straight[part].items():
            assert torch.equal(t, resumed[part][name]), f"resumed {part}.{name} differs from the straight run"


@pytest.mark.parametrize(
    "bad, words",
    [
        (dict(pack=0), "--pack"),
        (dict(pack=-2), "--pack"),
        (dict(pack=2.0), "pack = 2.0"),
        (dict(pack=3), "--batch-size 64 is not divisible by --pack 3"),
        (dict(minibatch_std="yes"), "minibatch_std"),
        (dict(model="tf-dcgan", dataset="digits", max_images=None, pack=2), "does not support --pack"),
    ],
)
def test_bad_values_are_one_line_errors_before_the_folder(tmp_path, bad, words):
    with pytest.raises(UserError) as info:
        train(ring(**bad), tmp_path / "run", progress=False)
    assert words in str(info.value) and "\n" not in str(info.value), str(info.value)
    assert not (tmp_path / "run").exists(), f"{bad} created the run folder before failing"
