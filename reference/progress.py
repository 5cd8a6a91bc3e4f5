"""Progress bars: tqdm's notebook widget where a notebook can draw it, its text bar elsewhere.

`from reference.progress import tqdm` is `tqdm.auto.tqdm` with two changes:

- its one complaint is gone: in a notebook kernel without ipywidgets, tqdm.auto warns "IProgress
  not found" (in red) before it falls back to the text bar. Here the fallback is quiet;
  `pip install -e ".[lessons]"` brings ipywidgets for the widget.
- a text bar drawn into a file or a pipe (a log, `2> err.txt`, a scheduler's capture) ends its line
  when it closes. There a bar made with leave=False (the decoding bar of a folder of images) erased
  itself with a carriage return, which a file keeps as a character, not a new line, so the next
  line written (an error) was glued to the bar's: "decoding imgs: 0%| | 0/41\r...\rgan-course: error:
  ...". It closes as leave=True does instead: its last state, then a new line. A terminal, and a
  notebook's output area (which reads the carriage return), still erase it.
- on a terminal too narrow for its description and a whole percentage (20 columns), the description
  is left out: tqdm cut the line at the terminal's width, and "dcgan on digits:  10" read as 10% at 100%.

Every long loop of the course (training, the classifier, downloads, grading) uses it.
"""

from __future__ import annotations

import warnings

from tqdm import TqdmWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)  # "IProgress not found": the text bar will do
    from tqdm.auto import tqdm as _auto_tqdm

__all__ = ["tqdm"]


def _erases_lines(stream) -> bool:
    """Whether a carriage return written to `stream` takes the writer back to the start of the line: a terminal, or
    a Jupyter kernel's stream (its output area reads it); not a file or a pipe."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError, OSError):  # no isatty, or closed
        return False
    while (inner := getattr(stream, "_wrapped", None)) is not None:  # tqdm's wrappers, the gan-course command's guard
        stream = inner
    return type(stream).__module__.startswith("ipykernel")


class tqdm(_auto_tqdm):  # noqa: N801 - the name every caller imports
    """`tqdm.auto.tqdm`, whose text bar ends its line when it closes into a file or a pipe (see the module)."""

    @property
    def format_dict(self) -> dict:
        """tqdm's fields for the line, without the description where the width (ncols) leaves no room for it and a
        whole percentage ("DESC: 100%|" is the description and 7 characters)."""
        fields = super().format_dict
        ncols, prefix = fields.get("ncols"), fields.get("prefix")
        if ncols and prefix and len(prefix) + 7 > ncols:
            fields["prefix"] = ""
        return fields

    def close(self) -> None:
        if (not getattr(self, "disable", True) and getattr(self, "sp", None) is not None and self.leave is not True
                and not _erases_lines(self.fp)):
            self.leave = True  # its last state stays, and the next line starts on its own
        super().close()
