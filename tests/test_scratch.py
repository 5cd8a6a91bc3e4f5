"""reference.scratch: a data root that keeps the first images of another (or links to its files)."""

from __future__ import annotations

import numpy as np
import pytest

from reference.data import DataError, load_dataset
from reference.scratch import scratch_root, write_idx


def test_write_idx_is_read_back_by_torchvision(tmp_path, tiny_mnist):
    """Files written by write_idx load through torchvision's MNIST exactly as written."""
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "train-images-idx3-ubyte", tiny_mnist.train_images[:5])
    write_idx(raw / "train-labels-idx1-ubyte", tiny_mnist.train_labels[:5])
    write_idx(raw / "t10k-images-idx3-ubyte", tiny_mnist.test_images)
    write_idx(raw / "t10k-labels-idx1-ubyte", tiny_mnist.test_labels)
    ds = load_dataset("mnist", tmp_path, download=False)
    assert ds.data.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(ds.data[:, 0].numpy(), tiny_mnist.train_images[:5])
    np.testing.assert_array_equal(ds.labels.numpy(), tiny_mnist.train_labels[:5])
    with pytest.raises(TypeError, match="uint8"):
        write_idx(raw / "x", np.zeros(3, dtype=np.int64))


def test_subset_keeps_the_first_images(tmp_path, tiny_mnist):
    root = scratch_root(tmp_path / "small", "mnist", source=tiny_mnist.root, n_train=10, n_test=4)
    train = load_dataset("mnist", root, download=False)
    test = load_dataset("mnist", root, split="test", download=False)
    np.testing.assert_array_equal(train.data[:, 0].numpy(), tiny_mnist.train_images[:10])
    np.testing.assert_array_equal(train.labels.numpy(), tiny_mnist.train_labels[:10])
    np.testing.assert_array_equal(test.data[:, 0].numpy(), tiny_mnist.test_images[:4])
    assert not (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_symlink()


def test_a_split_without_a_size_is_linked(tmp_path, tiny_mnist):
    """n_train only: the smaller training split is written, the test split links to the source (what lessons 4 and 5 use)."""
    root = scratch_root(tmp_path / "small", "mnist", source=tiny_mnist.root, n_train=10)
    raw = root / "MNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte").is_symlink() and (raw / "t10k-images-idx3-ubyte").is_symlink()
    assert len(load_dataset("mnist", root, download=False)) == 10
    assert len(load_dataset("mnist", root, split="test", download=False)) == len(tiny_mnist.test_images)


def test_links_without_sizes_and_resizes_in_place(tmp_path, tiny_fashion):
    dest = tmp_path / "root"
    scratch_root(dest, "fashion-mnist", source=tiny_fashion.root, n_train=3, n_test=2)
    root = scratch_root(dest, "fashion-mnist", source=tiny_fashion.root)  # again, now all of it: links
    raw = root / "FashionMNIST" / "raw"
    assert all((raw / f).is_symlink() for f in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    train = load_dataset("fashion-mnist", root, download=False)
    np.testing.assert_array_equal(train.data[:, 0].numpy(), tiny_fashion.train_images)
    # and back to a subset: the links are replaced, the source files are untouched
    scratch_root(dest, "fashion-mnist", source=tiny_fashion.root, n_train=3, n_test=2)
    assert len(load_dataset("fashion-mnist", root, download=False)) == 3
    assert len(load_dataset("fashion-mnist", tiny_fashion.root, download=False)) == len(tiny_fashion.train_images)


def test_user_errors(tmp_path, tiny_mnist):
    with pytest.raises(DataError, match="not found"):
        scratch_root(tmp_path / "a", "mnist", source=tmp_path / "nothing-here")
    with pytest.raises(DataError, match="mnist and fashion-mnist only"):
        scratch_root(tmp_path / "a", "cifar10", source=tiny_mnist.root)
    with pytest.raises(ValueError, match="n_train must be >= 1"):
        scratch_root(tmp_path / "a", "mnist", source=tiny_mnist.root, n_train=0)
    with pytest.raises(ValueError, match="overwrite its source"):
        scratch_root(tiny_mnist.root, "mnist", source=tiny_mnist.root)
