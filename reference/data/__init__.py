"""Datasets as one in-memory tensor, and batches drawn from it on the training device.

    ds = load_dataset("digits", root)          # Dataset(data uint8 (N, 1, 28, 28), labels (N,))
    for x in Batches(ds, 64, device, seed=0).epoch(0): ...   # uint8 (64, 1, 28, 28) on device
"""

from reference.data.batches import Batches, from_model_range, to_model_range
from reference.data.sources import DATASETS, DataError, Dataset, data_root, load_dataset

__all__ = [
    "DATASETS",
    "Batches",
    "DataError",
    "Dataset",
    "data_root",
    "from_model_range",
    "load_dataset",
    "to_model_range",
]
