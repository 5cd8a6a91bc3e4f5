"""Progress bars: tqdm's notebook widget where a notebook can draw it, its text bar elsewhere.

`from reference.progress import tqdm` is `tqdm.auto.tqdm` without its one complaint: in a
notebook kernel without ipywidgets, tqdm.auto warns "IProgress not found" (in red) before it falls
back to the text bar. Here the fallback is quiet; `pip install -e ".[lessons]"` brings ipywidgets
for the widget. Every long loop of the course (training, the classifier, downloads) uses it.
"""

from __future__ import annotations

import warnings

from tqdm import TqdmWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)  # "IProgress not found": the text bar will do
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
