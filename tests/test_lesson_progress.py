"""The lessons' progress bars: drawn where a cell runs for minutes, and without tqdm's red warning.

- `from tqdm.auto import tqdm`, the first in a kernel without ipywidgets, prints a red "IProgress not found"
  TqdmWarning; `reference.progress.tqdm` falls back to the text bar quietly (tests/test_progress.py). Lessons 02,
  04 and 05 imported tqdm.auto before anything had imported reference.progress, and lesson 04's collapse demo
  (reference/figures/lesson_04.py) imported it too: the warning was the first thing those notebooks printed.
- Lesson 03's two longest cells trained in silence in full mode: the MLP GAN resumed until the DCGAN's seconds were
  spent (`figures.train_for_seconds`, minutes) and section 7's eight runs (`figures.train_arms`, about 6 minutes).
  Now the notebook passes progress=not SMOKE; `python -m reference.figures` stays quiet.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "solutions" / "lessons").glob("*.ipynb"))
NO_WIDGETS = 'import sys, warnings\nwarnings.simplefilter("always")\nsys.modules["ipywidgets"] = None  # as if not installed'


def run_in_kernel(source: str, tmp_path: Path) -> str:
    """Run NO_WIDGETS then `source` in a fresh kernel (smoke mode); everything the second cell printed to stderr."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NO_WIDGETS), nbformat.v4.new_code_cell(source)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(GAN_COURSE_SMOKE="1", MPLBACKEND="Agg")
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    return "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream" and o.name == "stderr")


def code_cells(source: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(source.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def import_statements(source: Path) -> str:
    """The import statements of a lesson's imports cell (the first code cell that imports reference), without the
    rest of the cell (its data and classifier set-up)."""
    cell = next(c for c in code_cells(source) if re.search(r"^import reference\b", c, re.M))
    tree = ast.parse(cell)
    return "\n".join(ast.get_source_segment(cell, node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_lesson_imports_without_the_ipywidgets_warning(source: Path, tmp_path: Path):
    imports = import_statements(source)
    bar = "\nfor _ in tqdm(range(3), desc='a bar'):\n    pass" if re.search(r"\bimport tqdm\b", imports) else ""
    err = run_in_kernel(imports + bar, tmp_path)
    assert "IProgress" not in err, f"{source.name}'s imports warn in a kernel without ipywidgets:\n{err}"
    if bar:
        assert "a bar: 100%" in err  # the text bar drew


def test_the_collapse_demo_draws_its_bar_without_the_ipywidgets_warning(tmp_path: Path):
    """Lesson 04's first training cell: `collapse_snapshots` draws a bar per run; alone in a fresh kernel it was the
    first to import tqdm.auto."""
    err = run_in_kernel("from reference.figures import lesson_04\n"
                        "snaps = lesson_04.collapse_snapshots({}, steps=4, every=2, n=8, progress=True)\n"
                        "assert [s for s, _ in snaps] == [2, 4]", tmp_path)
    assert "demo GAN" in err  # its bar drew
    assert "IProgress" not in err, err


def test_the_lesson_path_imports_the_courses_tqdm():
    """Every progress bar a lesson draws comes from reference.progress (no tqdm.auto or plain tqdm elsewhere)."""
    plain = re.compile(r"^\s*(from tqdm(\.\w+)* import|import tqdm)", re.M)
    found = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "reference").rglob("*.py"))
             if p.name != "progress.py" and plain.search(p.read_text(encoding="utf-8"))]
    found += [f"{p.relative_to(ROOT)} (a code cell)" for p in SOURCES if any(plain.search(c) for c in code_cells(p))]
    assert found == [], f"use `from reference.progress import tqdm` in: {', '.join(found)}"


# ---------------------------------------------------------------------------------------------
# Lesson 03's long cells
# ---------------------------------------------------------------------------------------------


def calls(source: Path, name: str) -> list[ast.Call]:
    """Every call of figures.NAME in the lesson's code cells."""
    found = []
    for cell in code_cells(source):
        try:
            tree = ast.parse(cell)
        except SyntaxError:  # a cell with IPython magics
            continue
        found += [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr == name and isinstance(n.func.value, ast.Name) and n.func.value.id == "figures"]
    return found


@pytest.mark.parametrize("helper", ["train_for_seconds", "train_arms"])
def test_lesson_03_shows_its_long_runs_progress_in_full_mode(helper: str):
    (call,) = calls(ROOT / "solutions" / "lessons" / "03_dcgan_fashion_mnist.ipynb", helper)
    progress = [k.value for k in call.keywords if k.arg == "progress"]
    assert progress and ast.unparse(progress[0]) == "not SMOKE", (
        f"lesson 03 calls figures.{helper} without progress=not SMOKE: minutes of full-mode training without a bar")


def test_train_arms_shows_each_runs_bar_only_when_asked(tmp_path: Path, monkeypatch):
    """The notebook asks (full mode); `python -m reference.figures 3` does not, and stays quiet."""
    from reference import trainer
    from reference.figures import lesson_03 as figures

    shown = []

    def fake_train(cfg, out, **kwargs):
        shown.append(kwargs.get("progress", cfg.progress))
        return Path(out)

    monkeypatch.setattr(trainer, "train", fake_train)
    runs = figures.train_arms(tmp_path, tmp_path / "port", seeds=(0,), max_images=10, epochs=1, progress=True)
    assert len(runs) == len(figures.ARMS) and shown == [True] * len(figures.ARMS)
    shown.clear()
    figures.train_arms(tmp_path, tmp_path / "port", seeds=(0,), max_images=10, epochs=1)
    assert shown == [False] * len(figures.ARMS)
