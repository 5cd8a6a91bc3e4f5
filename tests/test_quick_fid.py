"""reference.metrics.quick_fid: coloured digits, CIFAR-10 files, short seeded GAN runs, their FID."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from reference.data import Dataset
from reference.metrics.quick_fid import (
    COLOURS,
    LearningError,
    cifar10_checksums_off,
    coloured_digits,
    grading_root,
    learning_run,
    reference_set,
    sample_fid,
    train_gan,
    write_cifar10,
)
from reference.models.dcgan import build


@pytest.fixture(scope="module")
def digits_ref(tmp_path_factory):
    """The digits reference set with a 1-epoch classifier (enough structure for these tests)."""
    return reference_set("digits", tmp_path_factory.mktemp("grading"), epochs=1)


def test_coloured_digits_draw_each_class_in_its_colour():
    train, test = coloured_digits("train"), coloured_digits("test")
    assert train.data.shape == (1437, 3, 32, 32) and test.data.shape == (360, 3, 32, 32)
    assert train.data.dtype == torch.uint8 and len(train.classes) == 10
    for image, label in zip(train.data[:50], train.labels[:50]):
        brightest = image.float().sum(0).argmax()
        rgb = image.flatten(1)[:, brightest].float()
        colour = torch.tensor(COLOURS[label], dtype=torch.float32)
        assert torch.allclose(rgb / rgb.max(), colour / colour.max(), atol=0.02)  # ink * colour
        assert int(image[:, 0, 0].max()) == 0  # black background


def test_write_cifar10_is_read_by_torchvision_with_checksums_off(tmp_path):
    import torchvision

    images = torch.arange(12 * 3 * 32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).view(12, 3, 32, 32)
    train = Dataset("t", images[:10], torch.arange(10) % 10, [f"c{k}" for k in range(10)])
    test = Dataset("t", images[10:], torch.tensor([3, 4]), train.classes)
    write_cifar10(tmp_path, train, test)
    folder = tmp_path / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch", "batches.meta"]
    )
    with open(folder / "data_batch_1", "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    assert entry["data"].shape == (2, 3072) and entry["data"].dtype == np.uint8  # R, G, B planes per row
    # torchvision compares md5 sums even with download=False: made-up files are refused...
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        torchvision.datasets.CIFAR10(tmp_path, train=True, download=False)
    # ...and read unchanged inside cifar10_checksums_off (HWC, in the written order)
    with cifar10_checksums_off():
        ds = torchvision.datasets.CIFAR10(tmp_path, train=True, download=False)
        ds_test = torchvision.datasets.CIFAR10(tmp_path, train=False, download=True)  # present: no download
    assert torch.equal(torch.from_numpy(ds.data).permute(0, 3, 1, 2), images[:10])
    assert ds.targets == list(range(10)) and ds.classes == train.classes
    assert torch.equal(torch.from_numpy(ds_test.data).permute(0, 3, 1, 2), images[10:]) and ds_test.targets == [3, 4]


def test_checksums_come_back_after_the_block():
    import torchvision.datasets.cifar as cifar

    original = cifar.check_integrity
    with pytest.raises(ValueError), cifar10_checksums_off():
        assert cifar.check_integrity is not original
        raise ValueError
    assert cifar.check_integrity is original


def small_gan(seed: int = 0):
    torch.manual_seed(seed)
    return build((1, 28, 28), 16, ngf=8, ndf=8)


def test_train_gan_is_seeded_and_leaves_the_global_rng_alone(digits_ref):
    runs = []
    for _ in range(2):
        G, D = small_gan()
        torch.manual_seed(123)
        before = torch.rand(3)
        losses = train_gan(G, D, digits_ref.train, nz=16, steps=3, seed=5)
        torch.manual_seed(123)
        assert torch.equal(torch.rand(3), before)
        runs.append((losses, [p.detach().clone() for p in G.parameters()]))
    assert runs[0][0] == runs[1][0] and len(runs[0][0]) == 3
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    G, D = small_gan()
    assert train_gan(G, D, digits_ref.train, nz=16, steps=3, seed=6) != runs[0][0]


class Detached(nn.Module):
    def __init__(self, G):
        super().__init__()
        self.G = G

    def forward(self, z):
        return self.G(z).detach()


def test_train_gan_explains_what_cannot_be_trained(digits_ref):
    G, D = small_gan()
    with pytest.raises(LearningError, match="output does not depend on its parameters"):
        train_gan(Detached(G), D, digits_ref.train, nz=16, steps=1)
    with pytest.raises(LearningError, match=r"discriminator returned \(32, 2\) for real batches"):
        train_gan(G, nn.Sequential(nn.Flatten(), nn.Linear(784, 2)), digits_ref.train, nz=16, steps=1)
    with pytest.raises(LearningError, match="first conv takes 3 input channels; the images have 1"):
        train_gan(G, nn.Sequential(nn.Conv2d(3, 4, 28), nn.Flatten()), digits_ref.train, nz=16, steps=1)
    with pytest.raises(LearningError, match=r"the generator returns \(N, 1, 32, 32\); expected \(N, 1, 28, 28\)"):
        train_gan(build((1, 32, 32), 16, ngf=8)[0], D, digits_ref.train, nz=16, steps=1)


def test_train_gan_takes_a_discriminator_that_ends_in_a_sigmoid(digits_ref):
    G, D = small_gan()
    losses = train_gan(G, nn.Sequential(D, nn.Sigmoid()), digits_ref.train, nz=16, steps=2)
    # probabilities are turned back into logits: the first D loss is about 2 log 2, not softplus of values in (0, 1)
    assert abs(losses[0][0] - 2 * np.log(2)) < 0.3


class Replay(nn.Module):
    """A "generator" that returns fixed images (in [-1, 1]) whatever z is."""

    def __init__(self, images):
        super().__init__()
        self.images = images.float() / 127.5 - 1
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z):
        return self.images[: z.shape[0]] * self.scale


def test_sample_fid_ranks_real_images_above_a_single_image(digits_ref):
    real = sample_fid(Replay(digits_ref.train[:360]), digits_ref, nz=16)
    one = sample_fid(Replay(digits_ref.train[:1].expand(360, -1, -1, -1)), digits_ref, nz=16)
    assert real < 0.1 * one
    assert one >= digits_ref.single_image_fid * (1 - 1e-6)  # no single image does better than tr(S)


def test_learning_run_lowers_the_fid_of_a_dcgan(digits_ref):
    torch.manual_seed(0)
    G, D = build((1, 28, 28), 100, ngf=16, ndf=16)
    run = learning_run(G, D, digits_ref, nz=100, steps=60, seed=0)
    assert run.steps == 60 and run.seconds > 0
    assert run.fid_after < 0.9 * run.fid_before, run


def test_learning_verdict_passes_only_a_clear_fall_below_the_floor():
    from reference.metrics.quick_fid import LearningRun

    def verdict(before: float, after: float) -> tuple[str, str]:
        return LearningRun(before, after, steps=150, seconds=1.0).verdict(0.6, floor=240.0, data="the digits")

    assert verdict(300.0, 180.0) == ("pass", "")  # 0.6 x 300 = 180, under the floor
    assert verdict(500.0, 250.0)[0] == "slow", "below 0.6x but above the single-image floor is not a pass"
    outcome, told = verdict(300.0, 260.0)
    assert outcome == "slow"
    assert told == (
        "classifier-FID went from 300 (untrained) to 260 after 150 training steps on the digits; expected at most 180 "
        "(60% of the untrained FID, and below the 240 that one fixed image scores)"
    )
    assert verdict(300.0, 280.0)[0] == "fail", "a fall of less than 10% is no learning"
    assert verdict(300.0, 320.0)[0] == "fail"


def test_a_cached_classifier_of_a_few_images_is_not_taken_for_the_full_one(tmp_path):
    from reference.metrics.classifier import classifier_path, load_classifier_state, train_classifier

    cache = tmp_path / "digits"  # where reference_set("digits", tmp_path) keeps its classifier
    train_classifier("digits", cache, epochs=1, max_images=50, progress=False)  # same epochs and seed
    assert load_classifier_state("digits", cache)["train_images"] == 50
    reference_set("digits", tmp_path, epochs=1)
    state = load_classifier_state("digits", cache)
    assert state["max_images"] is None and state["train_images"] == 1437, "the quick cache must be retrained"
    assert classifier_path("digits", cache).is_file()
    assert not cache.exists(), "the digits set's data root only keys its classifier: nothing is written there"


def test_grading_root_is_under_the_cache_unless_set(tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_COURSE_GRADING_CACHE", raising=False)
    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "cache"))
    assert grading_root() == tmp_path / "cache" / "grading"
    monkeypatch.setenv("GAN_COURSE_GRADING_CACHE", str(tmp_path / "grading"))
    assert grading_root() == tmp_path / "grading"


def test_reference_sets_find_their_classifiers_by_their_own_roots(tmp_path, monkeypatch):
    """The two sets' classifiers are keyed by root/digits and root/coloured-digits; a second call trains nothing."""
    import reference.metrics.quick_fid as quick_fid
    from reference.metrics.classifier import classifier_path

    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "cache"))
    trained = []
    train = quick_fid.train_classifier
    monkeypatch.setattr(quick_fid, "train_classifier", lambda dataset, root, **k: trained.append(dataset) or train(dataset, root, **k))
    for name in ("digits", "coloured-digits"):
        reference_set(name, tmp_path / "grading", epochs=1)
        reference_set(name, tmp_path / "grading", epochs=1)
    assert trained == ["digits", "cifar10"], "each classifier is trained once, then found"
    assert classifier_path("digits", tmp_path / "grading" / "digits").is_file()
    assert classifier_path("cifar10", tmp_path / "grading" / "coloured-digits").is_file()
    assert len(list((tmp_path / "cache" / "classifiers").rglob("*.pt"))) == 2
