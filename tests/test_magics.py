"""reference/grading/magics.py: graded cells get what a kernel gives them (get_ipython's magics, display).

A training cell under `%%time` or answers under `%%capture` were skipped when graded (the magic
did nothing), so work that ran in the student's kernel scored 0 with "was it renamed or its cell
not run?"; a `display(...)` without an import (a kernel's built-in) raised NameError.
"""

from __future__ import annotations

import textwrap
import types
from pathlib import Path

import pytest

from conftest import notebook_with_cells
from reference.grading.local import grade_in_process
from reference.grading.magics import MagicNotRun, install
from reference.grading.notebook import has_value, run_cell
from reference.grading.runner import grade_notebook

ROOT = Path(__file__).resolve().parents[1]
A1 = "a1_theory"
A1_SOLUTION = ROOT / "solutions" / A1 / f"{A1}.ipynb"


@pytest.fixture
def namespace(tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    ns = types.ModuleType("__main__").__dict__
    ns["__builtins__"] = __builtins__
    install(ns)
    return ns


def value(source: str, ns: dict):
    got = run_cell(textwrap.dedent(source).strip("\n"), ns, 0)
    return got if has_value(got) else None


def test_time_runs_its_cell_in_the_namespace_and_gives_its_value(namespace, capsys):
    assert value("%%time\nx = 3\nx * 2", namespace) == 6 and namespace["x"] == 3
    assert "Wall time" in capsys.readouterr().out
    assert value("y = %time x + 1\ny", namespace) == 4
    assert value("def f(a):\n    %time b = a + 1\n    return a * 10\nf(2)", namespace) == 20  # where the magic stands


def test_timeit_prun_and_debug_run_the_code_once(namespace):
    value("%%timeit -n 2 -r 1 calls = []\ncalls.append(1)\nran = len(calls)", namespace)
    value("%timeit -n 5 w = 9", namespace)
    value("%%prun\np = 1", namespace)
    assert namespace["ran"] == 1 and namespace["w"] == 9 and namespace["p"] == 1


def test_capture_keeps_the_output_and_the_names(namespace, capsys):
    value("%%capture cap\nprint('hidden')\nz = 5", namespace)
    assert namespace["z"] == 5 and capsys.readouterr().out == ""
    assert namespace["cap"].stdout == "hidden\n"


def test_writefile_and_run_as_in_a_kernel(namespace, tmp_path, capsys):
    value("%%writefile helpers.py\nA = 41\ndef inc(v):\n    return v + 1", namespace)
    assert (tmp_path / "helpers.py").read_text() == "A = 41\ndef inc(v):\n    return v + 1\n"
    value("%run helpers.py", namespace)
    assert value("inc(A)", namespace) == 42


def test_an_error_under_a_cell_magic_is_the_cells_error(namespace):
    with pytest.raises(ValueError, match="inside"):
        value("%%time\nraise ValueError('inside')", namespace)


def test_shell_commands_and_kernel_settings_do_nothing(namespace):
    assert value("!pip install torch", namespace) is None
    assert value("listing = !ls\nlisting", namespace) == []
    for line in ("%matplotlib inline", "%load_ext autoreload", "%autoreload 2", "%pip install x", "%cd /content/drive"):
        assert value(line, namespace) is None
    assert value("%%bash\necho hi", namespace) is None and value("%%html\n<b>hi</b>", namespace) is None


def test_an_unknown_cell_magic_names_itself(namespace):
    with pytest.raises(MagicNotRun) as err:
        value("%%sql\nselect 1", namespace)
    assert "%%sql does not run when graded" in str(err.value) and "take %%sql out of the cell" in str(err.value)


def test_display_is_a_builtin_of_the_cells_and_its_handle_updates(namespace, capsys):
    value("h = display('first', display_id=True)\nh.update('second')", namespace)
    assert capsys.readouterr().out == "first\nsecond\n"


LOSSES_TIMED = '''
%%time
import torch.nn.functional as F

def d_loss(real_logits, fake_logits):
    display("the D loss is written")  # a kernel's built-in
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

def g_loss(fake_logits):
    return -F.softplus(fake_logits).mean()
'''
FRECHET_CAPTURED = '''
%%capture log
import torch

def frechet_distance(mu1, sigma1, mu2, sigma2):
    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum())
print("written")
'''
CHECKS = ["test_d_loss_matches_minimax", "test_g_loss_matches_minimax", "test_frechet_distance_matches_reference"]


def test_answers_under_time_and_capture_score_full_marks_in_the_sandbox(tmp_path):
    path = notebook_with_cells(A1_SOLUTION, tmp_path, {"losses": LOSSES_TIMED.strip("\n"), "frechet": FRECHET_CAPTURED.strip("\n")})
    expected = {"test_d_loss_matches_minimax": (2.0, ""), "test_g_loss_matches_minimax": (2.0, ""),
                "test_frechet_distance_matches_reference": (2.0, "")}
    assert grade_notebook(path, A1, ROOT, only=CHECKS) == expected
    assert grade_in_process(path, A1, ROOT, only=CHECKS) == expected


def test_a_cell_magic_that_cannot_run_is_named_in_the_checks_message(tmp_path):
    path = notebook_with_cells(A1_SOLUTION, tmp_path, {"frechet": "%%sql\n" + FRECHET_CAPTURED.strip("\n").split("\n", 1)[1]})
    points, message = grade_in_process(path, A1, ROOT, only=CHECKS[2:])[CHECKS[2]]
    assert points == 0.0
    assert message.startswith("`frechet_distance` is not defined: the cell starting `%%sql` raised MagicNotRun: "
                              "the cell magic %%sql does not run when graded"), message
