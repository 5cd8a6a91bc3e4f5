"""Progress bars in a notebook kernel that lacks ipywidgets: the text bar, without tqdm's red warning."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NO_WIDGETS = 'import sys, warnings\nwarnings.simplefilter("always")\nsys.modules["ipywidgets"] = None  # as if not installed'


def run_in_kernel(source: str, tmp_path: Path) -> str:
    """Run NO_WIDGETS then `source` in a fresh kernel; everything the second cell printed to stderr."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NO_WIDGETS), nbformat.v4.new_code_cell(source)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    return "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream" and o.name == "stderr")


def test_the_course_progress_bar_falls_back_quietly(tmp_path: Path):
    err = run_in_kernel("from reference.progress import tqdm\nfor _ in tqdm(range(3), desc='steps'):\n    pass", tmp_path)
    assert "steps: 100%" in err  # the text bar drew
    assert "IProgress" not in err


def test_plain_tqdm_auto_would_warn_there(tmp_path: Path):
    """The case the course's wrapper exists for (if tqdm stops warning, the wrapper can go)."""
    err = run_in_kernel("from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass", tmp_path)
    assert "IProgress not found" in err


def test_a_bar_that_erases_itself_ends_its_line_in_a_file(tmp_path: Path):
    """Into a file or a pipe, a leave=False bar (a folder's decoding bar) erased itself with a carriage return, which a
    file keeps as a character: the next line written there (an error) was glued to the bar's line."""
    from reference.progress import tqdm

    log = tmp_path / "stderr.txt"
    with open(log, "w") as f:
        for _ in tqdm(range(3), desc="decoding", leave=False, file=f):
            pass
        f.write("gan-course: error: the next line\n")
    with open(log, newline="") as f:  # as written: a carriage return is no line's end in a file
        lines = f.read().split("\n")
    assert lines[-2] == "gan-course: error: the next line", lines
    assert "decoding: 100%" in lines[-3], lines  # the bar's last state stays in the log, on a line of its own


def test_on_a_terminal_the_bar_still_erases_itself():
    """A terminal reads the carriage return: there the bar goes as tqdm's leave=False makes it go, no line left."""
    import pty

    from reference.progress import tqdm

    master, slave = pty.openpty()
    written = b""
    try:
        with open(slave, "w", closefd=True) as f:
            for _ in tqdm(range(3), desc="decoding", leave=False, file=f):
                pass
            f.write("END")
            f.flush()
            while not written.endswith(b"END"):  # all of it, however the terminal hands it over
                written += os.read(master, 1 << 16)
    finally:
        os.close(master)
    bar = written[: -len(b"END")]
    assert bar.endswith(b"\r") and b"\n" not in bar, bar


def test_a_terminal_too_narrow_for_the_description_shows_the_whole_percentage():
    """A 20-column terminal: tqdm cut "dcgan on digits: 100%|..." at the width, and the bar read "dcgan on digits:  10"
    at 100%. There the description is left out; where it fits it stays."""
    import io

    from reference.progress import tqdm

    for ncols, line in ((20, "100%|"), (80, "dcgan on digits: 100%|")):
        bar = tqdm(total=4, initial=4, desc="dcgan on digits", ncols=ncols, file=io.StringIO(), mininterval=0)
        shown = str(bar)
        bar.close()
        assert shown.startswith(line) and len(shown) <= ncols, shown
