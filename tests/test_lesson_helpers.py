"""The lessons' helpers live once, in reference/figures/lesson_0N.py, and the notebooks call them there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def code(stem: str) -> str:
    nb = json.loads((ROOT / "solutions" / "lessons" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("stem, module, names", [
    ("04_mode_collapse", "lesson_04", ["real_subset"]),
    ("05_fid_and_inception_score", "lesson_05", ["nearest_distances", "thresholded_mifid", "most_confident"]),
])
def test_the_lesson_defines_no_copy_of_its_figures_helpers(stem: str, module: str, names: list[str]):
    import importlib

    figures = importlib.import_module(f"reference.figures.{module}")
    for name in names:
        assert callable(getattr(figures, name, None)), f"reference/figures/{module}.py has no module-level {name}"
        assert f"def {name}(" not in code(stem), f"{stem} defines its own {name}: call reference.figures.{module}.{name}"


def test_real_subset_draws_what_the_notebook_drew():
    from reference.figures.lesson_04 import real_subset

    images = torch.arange(20 * 4, dtype=torch.uint8).view(20, 1, 2, 2)
    mask = torch.arange(20) % 3 == 0  # 7 images
    got = real_subset(images, mask, 5, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    index = mask.nonzero().view(-1)
    assert torch.equal(got, images[index[torch.randperm(len(index), generator=gen)[:5]]])  # the notebook's closure
    assert got.shape == (5, 1, 2, 2) and all(int(x[0, 0, 0]) // 4 % 3 == 0 for x in got)
    assert real_subset(images, mask, 100, torch.Generator().manual_seed(0)).shape[0] == 7  # no more than there are


def test_most_confident_takes_each_classes_surest_images_in_turn():
    from reference.figures.lesson_05 import most_confident

    confidence = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.6, 0.3, 0.1], [0.1, 0.25, 0.65],
                               [0.3, 0.6, 0.1]])
    assert most_confident(confidence, 1, 7).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert most_confident(confidence, 2, 6).tolist() == [0, 1, 2, 3, 5, 4]  # the best of each class, then the second best
