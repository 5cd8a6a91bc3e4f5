"""Every figure the lessons show from markdown, one function per lesson in `lesson_NN.py`.

    python -m reference.figures        # every lesson, into lessons/figures/ of the course checkout
    python -m reference.figures 1      # lesson 1 only; the other lessons' captions are kept

`lesson_NN(out)` writes its PNGs into `out` and returns {file name: caption}; the captions, which
name the data, the steps and the hardware, go to `lessons/figures/README.md`. Figures are made in
full mode (GAN_COURSE_SMOKE does not apply), on the CPU, with the lesson's seeds. The plotting
functions here are the ones the notebooks call, so a figure shows what a cell draws when run.

Importing this package never changes matplotlib's backend: a notebook's inline plots keep showing.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch
from matplotlib.figure import Figure

from reference.io import atomic_path

__all__ = ["DPI", "hardware", "save"]

DPI = 120


def hardware() -> str:
    """'<CPU model>, N cores, torch X' for captions."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}"


def save(fig: Figure, path: Path) -> None:
    """Write `fig` to `path` as PNG (atomically) and close it, so that it is not shown again."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
