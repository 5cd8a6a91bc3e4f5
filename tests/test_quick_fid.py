"""reference.metrics.quick_fid: coloured digits, CIFAR-10 files, reference sets and their classifier-FID."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from reference.data import Dataset
from reference.metrics.quick_fid import (
    COLOURS,
    cifar10_checksums_off,
    coloured_digits,
    grading_root,
    reference_set,
    write_cifar10,
)


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


def test_reference_set_fid_ranks_real_images_above_a_single_image(digits_ref):
    assert digits_ref.held_out.shape == (360, 1, 28, 28) and digits_ref.held_out.dtype == torch.uint8
    assert digits_ref.fid(digits_ref.held_out) < 1e-6  # the held-out images against their own features
    real = digits_ref.fid(digits_ref.train[:360])
    one = digits_ref.fid(digits_ref.train[:1].expand(360, -1, -1, -1))
    assert real < 0.1 * one
    assert one >= digits_ref.single_image_fid * (1 - 1e-6)  # no single image does better than tr(S)
    assert digits_ref.fid(digits_ref.train[:360].float() / 255) == pytest.approx(real, rel=1e-4)  # floats in [0, 1] too


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
