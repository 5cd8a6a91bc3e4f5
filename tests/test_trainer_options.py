"""Tests for the trainer's later units: conditional models (lesson 07), the WGAN critic with weight
clipping and RMSprop (lesson 06), the stabilising tips and the reproducible faults (lesson 08).

Everything trains in-process on scikit-learn's digits with DCGANs of width 8: under a second per
epoch on one CPU core.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from reference import trainer
from reference.checkpoint import load_checkpoint
from reference.config import TrainConfig
from reference.errors import UserError
from reference.metrics.coverage import class_agreement
from reference.metrics.evaluate import load_generator, sample_images
from reference.models import get_model
from reference.trainer import train


def tiny(**overrides) -> TrainConfig:
    """A width-8 DCGAN on digits for one epoch on the CPU; overrides change any field."""
    values = dict(model="dcgan", dataset="digits", ngf=8, ndf=8, epochs=1, batch_size=64, device="cpu", seed=0)
    return TrainConfig(**{**values, **overrides})


def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---- conditional GANs ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["cdcgan", "cdcgan-proj"])
def test_conditional_models_take_labels_and_use_them(model):
    G, D = get_model(model).build((1, 28, 28), 100, 8, 8, num_classes=10)
    z = torch.randn(4, 100)
    same_z = z[:1].expand(3, 100)
    x = G(same_z, torch.tensor([0, 1, 2]))
    assert x.shape == (3, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert not torch.allclose(x[0], x[1]), f"{model}: G(z, 0) == G(z, 1): G ignores y"
    d = D(x[:1].expand(2, 1, 28, 28), torch.tensor([3, 7]))
    assert d.shape == (2,) and d[0] != d[1], f"{model}: D(x, 3) == D(x, 7): D ignores y"
    with pytest.raises(UserError, match="labelled dataset"):
        get_model(model).build((1, 28, 28), 100, 8, 8)


def test_a_conditional_run_feeds_d_each_real_image_with_its_own_label(tmp_path, monkeypatch):
    """Spy on D: every real batch arrives with the labels of exactly those images."""
    from reference.data.sources import load_dataset

    data = load_dataset("digits")
    lookup = {bytes(img.numpy()): int(label) for img, label in zip(data.data, data.labels)}
    seen: list[tuple[int, int]] = []
    build = get_model("cdcgan").builder

    def spying_build(*args, **kwargs):
        G, D = build(*args, **kwargs)
        forward = D.forward

        def spy(x, y):
            if not x.requires_grad and x.shape[0] == 64:  # a real batch: map back to uint8 and look up
                u8 = ((x.detach() + 1) * 127.5).round().to(torch.uint8).contiguous()
                seen.extend((lookup.get(bytes(img.numpy()), -1), int(label)) for img, label in zip(u8, y))
            return forward(x, y)

        D.forward = spy
        return G, D

    spec = dataclasses.replace(get_model("cdcgan"), builder=spying_build)
    monkeypatch.setattr(trainer, "get_model", lambda name: spec)
    run = train(tiny(model="cdcgan", max_images=640), tmp_path / "run", progress=False)
    known = [(a, b) for a, b in seen if a >= 0]
    assert len(known) >= 640 * 0.9, f"only {len(known)} real images were recognised"
    wrong = sum(a != b for a, b in known)
    assert wrong == 0, f"{wrong} of {len(known)} real images reached D with another image's label"
    state = load_checkpoint(run)
    assert state["num_classes"] == 10
    # the grid: one column per class (10 columns of 28 px + padding)
    width = Image.open(run / "samples" / "epoch_001.png").size[0]
    assert width == 10 * (28 + 2) + 2, f"conditional grid is {width} px wide, expected 10 columns"


def test_a_conditional_critic_with_a_penalty_sees_each_fake_with_its_real_partners_label(tmp_path, monkeypatch):
    """wgan-gp: fake i is drawn for real i's label, so the interpolate of the pair has one label."""
    pairs = []
    original = trainer._Labelled.__init__

    def spy(self, D, y_real=None, y_fake=None):
        pairs.append((y_real.clone(), y_fake.clone()))
        original(self, D, y_real, y_fake)

    monkeypatch.setattr(trainer._Labelled, "__init__", spy)
    with pytest.warns(UserWarning, match="D of --model cdcgan has BatchNorm"):  # the critic's caveat, said once
        train(tiny(model="cdcgan", loss="wgan-gp", max_images=256), tmp_path / "gp", progress=False)
    assert pairs and all(torch.equal(a, b) for a, b in pairs), "wgan-gp: fakes should carry their real partners' labels"
    pairs.clear()
    train(tiny(model="cdcgan", max_images=256), tmp_path / "ns", progress=False)
    assert pairs and not all(torch.equal(a, b) for a, b in pairs), "non-saturating: fake labels should be drawn, not copied"


def test_a_conditional_generator_is_sampled_class_by_class(tmp_path):
    run = train(tiny(model="cdcgan-proj", epochs=1), tmp_path / "run", progress=False)
    G, spec, nz, _ = load_generator(run)
    x = sample_images(G, spec, nz, 30, seed=1)
    z = torch.randn(30, nz, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        direct = (G(z, torch.arange(30) % 10) + 1) / 2
    torch.testing.assert_close(x, direct.clamp(0, 1))


def test_summary_counts_the_conditional_models_parameters():
    from reference.summary import summary_text

    counts = {}
    for name in ("dcgan", "cdcgan", "cdcgan-proj"):
        text = summary_text(get_model(name), (1, 28, 28), 100)
        counts[name] = [int(line.split(": ")[1]) for line in text.splitlines()[-2:]]
    assert counts["dcgan"] == [837_504, 431_872]
    assert counts["cdcgan"] == [837_504 + 10 * 256 * 16, 431_872 + 10 * 64 * 16], "one-hot inputs of G, label planes of D"
    assert counts["cdcgan-proj"] == [837_504 + 10 * 256 * 16, 431_872 + 10 * 256 * 16], "D's embedding: 10 x (256 x 4 x 4)"


def test_class_agreement_counts_predictions_equal_to_the_labels():
    logits = torch.eye(10)[[0, 1, 2, 2]]  # predicts 0, 1, 2, 2
    assert class_agreement(logits, torch.tensor([0, 1, 2, 3]), 10) == 0.75
    assert class_agreement(torch.tensor([5, 5]), torch.tensor([5, 4]), 10) == 0.5


def test_an_unlabelled_dataset_is_refused_for_a_conditional_model(tmp_path):
    folder = tmp_path / "faces"  # a flat folder of images: no classes, no labels
    folder.mkdir()
    for i in range(8):
        Image.new("L", (28, 28), color=i * 30).save(folder / f"{i}.png")
    with pytest.raises(UserError, match="conditional and needs labels"):
        train(tiny(model="cdcgan", dataset=f"folder:{folder}", batch_size=4), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


# ---- WGAN with weight clipping ------------------------------------------------------------------


def test_wgan_trains_with_rmsprop_and_keeps_every_critic_weight_clipped(tmp_path):
    run = train(tiny(loss="wgan", optimizer="rmsprop", lr=5e-5, weight_clip=0.02), tmp_path / "run", progress=False)
    state = load_checkpoint(run)
    assert "square_avg" in next(iter(state["opt_d"]["state"].values())), "--optimizer rmsprop did not use RMSprop"
    for name, w in state["discriminator"].items():
        if w.is_floating_point() and "running" not in name:
            assert (w.abs() <= torch.tensor(0.02)).all(), f"critic weight {name} outside [-0.02, 0.02]"
    (row,) = rows(run)
    assert all(math.isfinite(float(row[k])) for k in ("loss_d", "loss_g", "d_x", "d_g_z"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(loss="wgan-gp", label_smoothing=0.1), "--label-smoothing applies to the logistic losses"),
        (dict(loss="non-saturating", weight_clip=0.01), "--weight-clip applies to --loss wgan only"),
        (dict(optimizer="sgd"), "unknown optimizer 'sgd'"),
        (dict(ema=1.0), "--ema must be a decay in [0, 1)"),
        (dict(fault="typo"), "unknown fault 'typo'"),
    ],
)
def test_options_that_cannot_apply_are_one_line_errors(tmp_path, overrides, message):
    with pytest.raises(UserError, match=re.escape(message)) as err:
        train(tiny(**overrides), tmp_path / "run", progress=False)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists(), f"{overrides} created the run folder before failing"


def test_wgan_gp_with_a_batchnorm_critic_warns_and_without_one_does_not(tmp_path):
    with pytest.warns(UserWarning, match="BatchNorm"):
        train(tiny(loss="wgan-gp", max_images=128), tmp_path / "dcgan", progress=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(tiny(model="mlp", loss="wgan-gp", max_images=128), tmp_path / "mlp", progress=False)


# ---- tips ---------------------------------------------------------------------------------------


def test_spectral_norm_keeps_each_d_layer_near_unit_spectral_norm(tmp_path):
    run = train(tiny(spectral_norm=True, epochs=2), tmp_path / "run", progress=False)
    state = load_checkpoint(run)
    originals = [k for k in state["discriminator"] if k.endswith("parametrizations.weight.original")]
    assert len(originals) == 4, f"expected D's 4 convs spectrally normalised, found {originals}"
    _, D = get_model("dcgan").build((1, 28, 28), 100, 8, 8)
    D = trainer.with_spectral_norm(D)
    D.load_state_dict(state["discriminator"])
    D.eval()
    for module in D.modules():
        if isinstance(module, torch.nn.Conv2d):
            sigma = torch.linalg.matrix_norm(module.weight.flatten(1), ord=2).item()
            assert 0.8 < sigma < 1.2, f"a spectrally normalised weight has largest singular value {sigma:.2f}"


def test_ema_generator_is_the_moving_average_and_resumes_bit_identically(tmp_path):
    cfg = tiny(ema=0.9, epochs=2)
    straight = train(cfg, tmp_path / "straight", progress=False)
    half = train(tiny(ema=0.9, epochs=1), tmp_path / "resumed", progress=False)
    train(cfg, half, state=load_checkpoint(half), progress=False)
    a, b = load_checkpoint(straight), load_checkpoint(half)
    assert a["ema_updates"] == b["ema_updates"] == 2 * (1437 // 64)
    for name, t in a["generator_ema"].items():
        assert torch.equal(t, b["generator_ema"][name]), f"resumed EMA differs in {name}"
    moved = [n for n, t in a["generator_ema"].items() if t.is_floating_point() and not torch.equal(t, a["generator"][n])]
    assert moved, "the EMA generator equals G: it is not an average"
    G, _, _, _ = load_generator(straight)
    assert torch.equal(G.state_dict()[moved[0]], a["generator_ema"][moved[0]]), "load_generator should give the EMA weights"


# ---- faults -------------------------------------------------------------------------------------


def test_no_detach_fault_lets_d_loss_reach_g(tmp_path, monkeypatch):
    """With the fault, G's step applies the gradient of D's loss too: G ends elsewhere than the clean run."""
    grads: dict[str, list[float]] = {"clean": [], "fault": []}
    step = torch.optim.Adam.step

    for label, fault in (("clean", None), ("fault", "no-detach")):
        def spy(self, *args, _label=label, **kwargs):
            if self.param_groups[0]["params"][0].shape[0] == 100:  # G's first layer: (nz, ngf*4, 4, 4)
                grads[_label].append(float(self.param_groups[0]["params"][0].grad.norm()))
            return step(self, *args, **kwargs)

        monkeypatch.setattr(torch.optim.Adam, "step", spy)
        train(tiny(fault=fault, max_images=256), tmp_path / label, progress=False)
    assert len(grads["clean"]) == len(grads["fault"]) == 4
    assert grads["clean"][0] != grads["fault"][0], "the no-detach fault changed nothing in G's first gradient"


def test_unit_range_data_fault_feeds_d_real_images_in_0_1(tmp_path, monkeypatch):
    seen = []
    to_range = trainer.to_model_range
    monkeypatch.setattr(trainer, "to_model_range", lambda x, r: seen.append(r) or to_range(x, r))
    train(tiny(fault="unit-range-data", max_images=128), tmp_path / "run", progress=False)
    assert seen and set(seen) == {"sigmoid"}, f"real images were scaled for {set(seen)}, expected [0, 1] (sigmoid)"


def test_max_images_on_an_image_folder_decodes_only_those_images(tmp_path, image_folder, monkeypatch):
    """A quick run (--max-images 2) on a folder decoded every image of it before keeping the first two."""
    import reference.data.sources as sources

    decoded = []
    decode = sources._decode
    monkeypatch.setattr(sources, "_decode", lambda file, size: decoded.append(file) or decode(file, size))
    cfg = TrainConfig(model="mlp", dataset=f"folder:{image_folder.root}", image_size=28, epochs=1, batch_size=1,
                      max_images=2, device="cpu", progress=False)
    train(cfg, tmp_path / "run")
    assert decoded == image_folder.files[:2], decoded
