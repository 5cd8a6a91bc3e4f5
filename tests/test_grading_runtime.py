"""The grading runtime (reference/grading/) on a tiny course written by the tests.

The course `demo` has one check module with a visible check, a partial-credit check, hidden checks
and helpers, and a notebook whose cells cover what students do: a cell that raises before it
defines a function, a function that raises when called, a stub, a magic line and an nbgrader test
cell that must not run when the notebook is executed for grading. The same checks give the same
points and messages in this process (a student's kernel) and across the proxy to a sandboxed
worker (what `gan-course autograde` does).
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from reference.grading.checks import BATCH_FIXED, CheckNotFound, Partial, StudentError, SubmissionLost, as_student_error, batch_hint, check, first_line, outcome, run_check
from reference.grading.local import execute_notebook, grade, load_checks
from reference.grading.notebook import CellError, answered
from reference.grading.proxy import ProtocolError, decode, encode
from reference.grading.runner import grade_notebook, grade_submission, shard
from reference.grading.sandbox import Limits, sandbox_problem
from reference.grading.submission import LocalSubmission
from reference.grading.visible import visible_source, write_visible

CONFTEST = Path(__file__).parent / "autograders" / "conftest.py"

ROOT = Path(__file__).resolve().parents[1]
CHECKS = '''"""Checks of the demo assignment."""

import os
import sys
import warnings

from reference.grading import Partial, check

ASSIGNMENT = "demo"
LIMIT = 10


def fmt(values):
    return ", ".join(str(v) for v in values)


def secret_answer():
    return 42


@check(points=2, visible=True)
def test_add(submission):
    """add adds"""
    add = submission.get("add")
    got = [add(a, 1) for a in range(3)]
    assert got == [1, 2, 3], f"add(a, 1) gave {fmt(got)}; expected 1, 2, 3"


@check(points=4)
def test_partial(submission):
    submission.get("add")
    raise Partial(1.5, "half of it")


@check(points=1)
def test_scale(submission):
    assert submission.get("scale")(2) == secret_answer()


@check(points=1)
def test_mul(submission):
    assert submission.get("mul")(2, 3) == 6


@check(points=1)
def test_div(submission):
    assert submission.get("div")(6, 3) == 2


@check(points=1)
def test_stub(submission):
    submission.get("stub")()


@check(points=1)
def test_noisy(submission):
    print("to stderr", file=sys.stderr)
    os.write(2, b"to file descriptor 2\\n")
    warnings.warn("a warning", UserWarning)
    assert LIMIT == 10
'''


def _cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "solution": False, "grade": False, **nbgrader}
    return cell


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Demo"),
        _cell("%matplotlib inline\nimport os\nMODE = os.environ.get('NBGRADER_EXECUTION')\nopen('written.txt', 'w').write('x')"),
        _cell("def add(a, b):\n    return a + b", solution=True, grade_id="add"),
        _cell("def scale(x):\n    raise ValueError(f'cannot scale {x}')"),
        _cell("raise RuntimeError('boom')\ndef mul(a, b):\n    return a * b"),
        _cell("def stub():\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
        _cell("raise SystemExit('a test cell ran')", grade=True, grade_id="t_add", points=2),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course root with nbgrader_config.py, the demo check module and solutions/demo/demo.ipynb."""
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    checks = tmp_path / "tests" / "autograders"
    checks.mkdir(parents=True)
    (checks / "test_demo.py").write_text(CHECKS)
    (tmp_path / "solutions" / "demo").mkdir(parents=True)
    _notebook(tmp_path / "solutions" / "demo" / "demo.ipynb")
    return tmp_path


@pytest.fixture
def executed(course: Path):
    sub = execute_notebook(course / "solutions" / "demo" / "demo.ipynb")
    yield sub
    sub.close()


@pytest.fixture
def checks(course: Path) -> dict:
    return load_checks("demo", course)


def test_execute_notebook_runs_cells_in_a_copy_with_grading_env_and_records_errors(course: Path, executed):
    assert executed.namespace["MODE"] == "autograde"
    assert (executed.workdir / "written.txt").is_file()
    assert not (course / "solutions" / "demo" / "written.txt").exists()
    assert [(e.index, e.type, e.message) for e in executed.cell_errors] == [(4, "RuntimeError", "boom")]
    assert "add" in executed and "mul" not in executed  # the test cell (SystemExit) was skipped
    assert os.environ.get("NBGRADER_EXECUTION") != "autograde"  # restored afterwards


def test_a_notebook_with_a_byte_order_mark_is_run_as_without_it(course: Path, tmp_path: Path):
    """Saved by an editor that writes a UTF-8 byte-order mark, the notebook was 'not a readable notebook'
    (nbformat refuses the mark): the cells are the same, and they run."""
    source = course / "solutions" / "demo" / "demo.ipynb"
    marked = tmp_path / "marked" / "demo.ipynb"
    marked.parent.mkdir()
    marked.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    sub = execute_notebook(marked)
    try:
        assert sub.namespace["MODE"] == "autograde" and "add" in sub
        assert [(e.index, e.type) for e in sub.cell_errors] == [(4, "RuntimeError")]
    finally:
        sub.close()


def test_a_notebook_with_a_byte_order_mark_is_graded_as_without_it(course: Path, tmp_path: Path):
    """grade_notebook scored such a notebook 0 ('could not be graded (NotJSONError ...)'), while autograde skipped it."""
    marked = tmp_path / "marked" / "demo.ipynb"
    marked.parent.mkdir()
    marked.write_bytes(b"\xef\xbb\xbf" + (course / "solutions" / "demo" / "demo.ipynb").read_bytes())
    assert grade_notebook(marked, "demo", course, sandbox=False) == EXPECTED


def test_checks_are_loaded_in_order_with_their_points(checks: dict):
    assert [(n, f.points, f.visible) for n, f in checks.items()][:3] == [
        ("test_add", 2.0, True),
        ("test_partial", 4.0, False),
        ("test_scale", 1.0, False),
    ]


@pytest.mark.filterwarnings("ignore:a warning")
def test_pass_partial_and_failure_messages(checks: dict, executed):
    assert {name: run_check(fn, executed) for name, fn in checks.items()} == EXPECTED


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandboxed", "plain-worker"])
def test_the_same_checks_score_the_same_across_the_proxy(course: Path, sandbox: bool):
    if sandbox and sandbox_problem():
        pytest.skip(sandbox_problem())
    assert grade_notebook(course / "solutions" / "demo" / "demo.ipynb", "demo", course, sandbox=sandbox) == EXPECTED


EXPECTED = {
    "test_add": (2.0, ""),
    "test_partial": (1.5, "half of it"),
    "test_scale": (0.0, "calling `scale` raised ValueError: cannot scale 2"),
    "test_mul": (0.0, "`mul` is not defined: the cell starting `raise RuntimeError('boom')` raised RuntimeError: boom"),
    "test_div": (0.0, "`div` is not defined: was it renamed or its cell not run?"),
    "test_stub": (0.0, "`stub` is not implemented yet: it raises NotImplementedError (replace that line with your code)"),
    "test_noisy": (1.0, ""),
}


def test_a_wrong_answer_scores_zero_with_the_checks_message(checks: dict):
    sub = LocalSubmission({"add": lambda a, b: a - b})
    assert run_check(checks["test_add"], sub) == (0.0, "add(a, 1) gave -1, 0, 1; expected 1, 2, 3")


def test_grade_prints_one_line_returns_points_and_writes_nothing_to_stderr(course, monkeypatch, capfd):
    monkeypatch.chdir(course / "solutions" / "demo")
    monkeypatch.delenv("GAN_COURSE_ROOT", raising=False)
    namespace = {"add": lambda a, b: a + b}
    assert grade("demo", "test_noisy", namespace) == 1.0
    assert grade("demo", "test_partial", namespace) == 1.5
    assert grade("demo", "test_add", {}) == 0.0
    out, err = capfd.readouterr()
    assert err == ""
    assert out.splitlines() == [
        "demo noisy: 1/1 points",
        "demo partial: 1.5/4 points - half of it",
        "demo add adds: 0/2 points - `add` is not defined: was it renamed or its cell not run?",
    ]
    with pytest.raises(CheckNotFound, match="has no check 'test_nope'"):
        grade("demo", "test_nope", namespace)


def test_grade_shows_the_students_own_prints_before_its_line_cut_to_their_first_lines(course, monkeypatch, capfd):
    """A check calls the student's function once per case: a debugging print inside it is shown whole when short,
    and cut to its first 12 lines with a count of the rest when each call prints a lot (no copy per case)."""
    monkeypatch.chdir(course / "solutions" / "demo")
    monkeypatch.delenv("GAN_COURSE_ROOT", raising=False)

    def add_short(a, b):
        print("a is", a)
        return a + b

    def add_chatty(a, b):
        for i in range(10):
            print(f"a={a} step {i}")
        return a + b

    assert grade("demo", "test_add", {"add": add_short}) == 2.0
    short = capfd.readouterr().out.splitlines()
    assert short == ["a is 0", "a is 1", "a is 2", "demo add adds: 2/2 points"]
    assert grade("demo", "test_add", {"add": add_chatty}) == 2.0
    out, err = capfd.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[:12] == [f"a=0 step {i}" for i in range(10)] + ["a=1 step 0", "a=1 step 1"]
    assert lines[12:] == [
        "... (your code printed 18 more lines while the check called it, not shown here: a check calls your functions "
        "once per case)",
        "demo add adds: 2/2 points",
    ]


def test_student_prints_keep_a_bounded_head_of_an_endless_print():
    from reference.grading.local import StudentPrints

    printed = StudentPrints()
    for i in range(200_000):
        print("x" * 40, i, file=printed)
    print("y" * 10_000, end="", file=printed)
    assert len(printed.text) <= 2000 and printed.text.count("\n") == 12
    assert printed.shown().splitlines()[-1].startswith("... (your code printed 199988 more lines while the check called it")
    long_line = StudentPrints()
    print("z" * 5000, end="", file=long_line)
    assert long_line.shown() == "z" * 2000 + "\n... (your code printed more while the check called it, not shown here: " \
        "a check calls your functions once per case)"

def test_live_kernel_namespace_explains_a_missing_name_from_its_cell_history():
    sub = LocalSubmission({"In": ["", "raise RuntimeError\ndef train():\n    pass", "grade(...)"]})
    with pytest.raises(AssertionError, match="the cell that defines it raised an error"):
        sub.get("train")
    with pytest.raises(AssertionError, match="was it renamed or its cell not run"):
        sub.get("other")


def test_visible_source_keeps_visible_checks_and_their_helpers_only():
    text = visible_source(CHECKS, "tests/autograders/test_demo.py")
    assert "def test_add" in text and "def fmt" in text and 'ASSIGNMENT = "demo"' in text
    for hidden in ("test_partial", "test_scale", "secret_answer", "test_noisy", "LIMIT"):
        assert hidden not in text
    compile(text, "visible_checks.py", "exec")


def test_a_student_copy_finds_the_shipped_checks_from_any_folder(tmp_path, monkeypatch, capfd):
    """No course root (Colab runs a notebook in /content): grade() finds reference/checks/<id>.py."""
    import reference.grading.local as local

    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "demo.py").write_text(visible_source(CHECKS))
    monkeypatch.setattr(local, "PACKAGE_CHECKS", tmp_path / "checks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAN_COURSE_ROOT", raising=False)
    assert grade("demo", "test_add", {"add": lambda a, b: a + b}) == 2.0
    assert capfd.readouterr().out == "demo add adds: 2/2 points\n"
    with pytest.raises(CheckNotFound, match="has no check 'test_scale'"):
        grade("demo", "test_scale", {})
    with pytest.raises(CheckNotFound, match=r"no checks for 'nope': the course's checks are demo; reinstall"):
        grade("nope", "test_add", {})


def test_every_assignment_ships_its_visible_checks_and_the_package_holds_no_hidden_check(tmp_path):
    from reference.grading.local import PACKAGE_CHECKS, load_checks

    assignments = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
    assert assignments, "no assignments found under solutions/"
    for assignment in assignments:
        assert (PACKAGE_CHECKS / f"{assignment}.py").is_file(), f"run: python -m reference.grading.visible {assignment}"
    for module in PACKAGE_CHECKS.glob("*.py"):
        if module.stem != "__init__":
            checks = load_checks(module.stem, root=tmp_path)  # no tests/autograders/ there: the package's copy
            assert checks and all(fn.visible for fn in checks.values()), f"{module.name} ships a hidden check"


def test_write_visible_refreshes_the_shipped_copy(course: Path):
    (course / "reference" / "checks").mkdir(parents=True)
    out = write_visible("demo", course)
    assert out == course / "reference" / "checks" / "demo.py"
    assert out.read_text() == visible_source(CHECKS, "tests/autograders/test_demo.py")


def test_plain_pytest_grades_any_notebook_and_prints_the_score(course: Path):
    (course / "tests" / "autograders" / "conftest.py").write_text(CONFTEST.read_text())
    other = _notebook(course / "other.ipynb")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:nbval", "--rootdir", str(course),
         str(course / "tests" / "autograders" / "test_demo.py"), "--notebook", str(other)],
        capture_output=True, text=True, cwd=course, env=env,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "demo: 4.5/11 points" in out, out
    assert "test_scale: 0/1 - calling `scale` raised ValueError: cannot scale 2" in out
    assert "test_partial: 1.5/4 - half of it" in out


def test_answered_fills_every_solution_cell_of_the_student_version_with_the_model_answer() -> None:
    import nbformat

    root = Path(__file__).resolve().parents[1]
    release = root / "assignments" / "a3_save_every_10_epochs" / "a3_save_every_10_epochs.ipynb"
    source = root / "solutions" / "a3_save_every_10_epochs" / "a3_save_every_10_epochs.ipynb"
    nb = answered(release, source)
    student = nbformat.read(release, as_version=4)
    model = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
             if c.metadata.get("nbgrader", {}).get("solution")}
    delimiters = ("### " + "BEGIN SOLUTION", "### " + "END SOLUTION")
    filled = 0
    for cell, blank in zip(nb.cells, student.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            expected = [line for line in model[meta["grade_id"]].splitlines() if line.strip() not in delimiters]
            assert cell.source.splitlines() == expected and cell.source != blank.source
            filled += 1
        else:
            assert cell.source == blank.source, "only solution cells change"
    assert filled >= 1 and not any(d in c.source for c in nb.cells for d in delimiters)


# ---------------------------------------------------------------------------------------------
# What crosses the proxy, and who decides points
# ---------------------------------------------------------------------------------------------


class _Payload:
    """An object whose unpickling would create a marker file: what a forged reply might carry."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_replies_carry_plain_data_and_tensors_only(tmp_path: Path):
    value = {"a": [1, 2.5, None, True, "x", (1, 2)], "t": torch.arange(3.0)}
    back = decode(encode(value))
    assert back["a"] == [1, 2.5, None, True, "x", (1, 2)] and torch.equal(back["t"], torch.arange(3.0))
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    torch.save({"x": _Payload(str(marker))}, buffer)
    for forged in (buffer.getvalue(), pickle.dumps(_Payload(str(marker))), b"not a reply"):
        with pytest.raises(ProtocolError):
            decode(forged)
    assert not marker.exists(), "decoding a reply ran code"


class _Text(str):
    def __str__(self) -> str:
        return "not what it holds"


class _Scores(torch.Tensor):
    pass


def test_numpy_scalars_and_subclasses_of_plain_values_reach_the_grader_as_plain_values():
    """A student's np.float64, np.str_ (dict keys too), str or IntEnum subclass and tensor subclass
    cross the proxy as the plain value they hold: the grader loads plain types only, so sent as
    they are, the reply would be unreadable and the submission's remaining checks lost."""
    import enum

    import numpy as np

    from reference.grading.worker import Worker

    class Label(enum.IntEnum):
        SEVEN = 7

    value = {np.str_("run_a"): [np.float64(1.5), np.str_("d_wins"), _Text("lr"), Label.SEVEN,
                                torch.arange(3.0).as_subclass(_Scores), torch.nn.Parameter(torch.ones(2))]}
    back = decode(encode(Worker(-1, -1).wire(value)))
    assert back == {"run_a": [1.5, "d_wins", "lr", 7, back["run_a"][4], back["run_a"][5]]}
    assert [type(v) for v in back["run_a"]] == [float, str, str, int, torch.Tensor, torch.Tensor]
    assert type(next(iter(back))) is str
    assert torch.equal(back["run_a"][4], torch.arange(3.0)) and torch.equal(back["run_a"][5], torch.ones(2))


def _deflated(payload: bytes) -> bytes:
    """The same zip archive with its records compressed (torch.load reads it; torch.save never writes it)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_replies_that_would_blow_up_in_the_grader_are_refused_before_they_do():
    """Three replies a few kilobytes long that torch.load(weights_only=True) reads but that would
    cost the grader gigabytes or hours: compressed records (64 MB of zeros in 64 KB), one list
    referenced over and over (10^9 values in 20 KB of pickle memo) and a stride-0 view claiming
    10^12 elements of one stored float. Each is refused before it is built: decoding it holds less than 64 MB of
    the grader's Python heap at its peak (tracemalloc; built, each would take gigabytes; the honest 64 MB reply
    takes 128 MB)."""
    import tracemalloc

    zeros = encode({"value": torch.zeros(2**24)})
    bomb = _deflated(zeros)
    assert len(bomb) < len(zeros) / 100
    row = [1.0] * 1000
    table = [row] * 1000
    laughs = encode({"value": [table] * 1000})
    expanded = encode({"value": torch.zeros(1).expand(10**12)})
    assert len(laughs) < 100_000 and len(expanded) < 10_000
    for payload in (bomb, laughs, expanded):
        tracemalloc.start()
        try:
            with pytest.raises(ProtocolError):
                decode(payload)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 2**20, f"decoding a refused reply held {peak / 2**20:.0f} MB"
    assert torch.equal(decode(zeros)["value"], torch.zeros(2**24))  # the honest reply still reads


def test_a_checkpoint_holding_an_expanded_view_is_made_dense_or_refused():
    """a3 reads checkpoints the student's code saved: a small expanded view (noise repeated for a
    batch) loads as a dense tensor; one claiming 10^12 elements is refused with the reason, and so
    is a compressed archive."""
    from reference.grading.local import load_module

    checks = load_module(Path(__file__).resolve().parents[1] / "tests" / "autograders" / "test_a3_save_every_10_epochs.py")
    small = encode({"epoch": 10, "fixed_noise": torch.ones(1, 4).expand(64, 4)})
    problem, state = checks._load("small.pt", small)
    assert problem is None and state["fixed_noise"].is_contiguous() and torch.equal(state["fixed_noise"], torch.ones(64, 4))
    problem, _ = checks._load("huge.pt", encode({"epoch": 10, "fixed_noise": torch.zeros(1).expand(10**12)}))
    assert problem == "`huge.pt` holds a tensor of 1,000,000,000,000 elements, more than the grader reads; save the networks' state_dicts"
    problem, _ = checks._load("zipped.pt", _deflated(small))
    assert problem == ("`zipped.pt` is a zip archive torch.save does not write (compressed or over 100 MB); save checkpoints "
                       "with torch.save")


def test_only_the_graders_partial_gives_points_and_never_more_than_the_check():
    fn = check(points=2)(lambda submission: None)

    class Forged(Partial):
        pass

    assert outcome(fn, Partial(1.5, "half")) == (1.5, "half")
    assert outcome(fn, Partial(99, "all"))[0] == 2.0
    assert outcome(fn, Partial(-3, "neg"))[0] == 0.0
    assert outcome(fn, Partial(float("nan"), "nan"))[0] == 0.0
    assert outcome(fn, Forged(2, "mine"))[0] == 0.0
    assert outcome(fn, StudentError("Partial", "2", where="d_loss")) == (0.0, "calling `d_loss` raised Partial: 2")
    assert outcome(fn, SubmissionLost("the submission was stopped: it used more than 1 MB"))[1].startswith("the submission was stopped")


def autograd_error(fault: str) -> RuntimeError:
    """The RuntimeError PyTorch raises for `fault`, made by the faulty GAN code itself (not a copy of its text)."""
    G, D = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.1)
    fake = G(torch.randn(4, 2))
    try:
        if fault == "no detach":  # D's step backpropagates into G, then G's step goes through the freed graph
            D(fake).mean().backward()
            D(fake).mean().backward()
        elif fault == "step before backward":  # G's loss through D computed before D's step changed D's weights
            loss_g = -D(fake).mean()
            D(fake.detach()).mean().backward()
            opt_d.step()
            loss_g.backward()
        elif fault == "per-sample scores":  # a gradient penalty's autograd.grad of D's (N, 1) scores without grad_outputs
            x_hat = fake.detach().requires_grad_(True)
            torch.autograd.grad(outputs=D(x_hat), inputs=x_hat, create_graph=True)
        else:  # "no grad": the loss computed from detached outputs
            (-D(fake).detach().mean()).backward()
    except RuntimeError as err:
        return err
    raise AssertionError(f"{fault} raised nothing")


@pytest.mark.parametrize(
    "fault, fix",
    [
        ("no detach", "give D `fake.detach()` in its step"),
        ("step before backward", "compute G's loss through D after `opt_d.step()`"),
        ("no grad", "the loss has no gradient to follow"),
        ("per-sample scores", "pass grad_outputs=torch.ones_like(scores)"),
    ],
)
def test_a_students_autograd_error_is_reported_with_its_fix(fault, fix):
    """PyTorch's own advice (retain_graph=True, anomaly detection) is not the fix in a GAN step; the message
    names the student's function, the error's first clause and the fix, in a check and in a cell alike."""
    err = autograd_error(fault)
    reported = StudentError("RuntimeError", first_line(err), where="train_step").describe()
    assert reported.startswith("calling `train_step` raised RuntimeError: ") and fix in reported, reported
    assert "retain_graph" not in reported and "anomaly" not in reported, reported
    cell = CellError(index=3, first_line="for step in range(10):", type="RuntimeError", message=first_line(err))
    assert fix in cell.describe(), cell.describe()
    other = StudentError("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (4x3 and 2x2)", where="forward")
    assert other.describe() == "calling `forward` raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x3 and 2x2)"


@pytest.mark.parametrize(
    "type_, message, fix",
    [  # torch 2.14's words: a CUDA build on a machine without a GPU, a CPU-only build, and a GPU with mixed devices
        ("RuntimeError", "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a "
         "driver from http://www.nvidia.com/Download/index.aspx", "the code asks for a GPU"),
        ("AssertionError", "Torch not compiled with CUDA enabled", "the code asks for a GPU"),
        ("RuntimeError", "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
         "(when checking argument for argument mat1 in method wrapper_CUDA_addmm)", "a tensor on one device"),
    ],
)
def test_code_written_for_a_gpu_and_graded_without_one_is_told_to_follow_its_inputs_device(type_, message, fix):
    """A notebook written on Colab's GPU ("cuda" everywhere) and graded on a CPU host: the fix names the inputs' device."""
    reported = StudentError(type_, message, where="train_step").describe()
    assert reported.startswith(f"calling `train_step` raised {type_}: ") and fix in reported and "device=real.device" in reported, reported


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: asking for one raises nothing here")
def test_what_this_torch_says_when_asked_for_a_missing_gpu_gets_the_fix():
    try:
        torch.zeros(1, device="cuda")
    except (RuntimeError, AssertionError) as err:
        reported = StudentError(type(err).__name__, first_line(err), where="train_step").describe()
    else:
        raise AssertionError("torch made a CUDA tensor without a GPU")
    assert "the code asks for a GPU" in reported, reported


def test_an_optimizer_loaded_with_the_other_networks_state_is_named_only_when_the_optimizer_raised():
    """opt_d's saved state loaded into opt_g (the same number of tensors, other shapes): Adam's step raises a
    generic size mismatch; its fix is given because the error came from torch.optim, and not for the same
    words raised by a layer."""
    G, D = torch.nn.Linear(3, 5), torch.nn.Linear(5, 1)
    opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    D(G(torch.randn(4, 3))).mean().backward()
    opt_d.step()
    opt_g.load_state_dict(opt_d.state_dict())  # the swap: same group sizes, so it loads without a word
    namespace = {"opt_g": opt_g}
    exec("def resume():\n    opt_g.step()\n", namespace)
    with pytest.raises(RuntimeError) as caught:
        namespace["resume"]()
    err = as_student_error(caught.value, namespace)
    assert err.raised_in.startswith("torch.optim"), err.raised_in
    reported = err.describe()
    assert reported.startswith("calling `resume` raised RuntimeError: The size of tensor a") and "opt_g.load_state_dict(state[\"opt_g\"])" in reported, reported
    from reference.grading.probes import error_info

    assert error_info(caught.value, namespace)["raised_in"] == err.raised_in  # the worker sends the same
    layer = StudentError("RuntimeError", first_line(caught.value), where="forward", raised_in="torch.nn.modules.linear")
    assert "load_state_dict" not in layer.describe() and "opt_g" not in layer.describe()


def test_an_unknown_error_is_reported_as_it_is():
    other = StudentError("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (4x3 and 2x2)", where="forward")
    assert other.describe() == "calling `forward` raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x3 and 2x2)"


LOSING = '''"""Checks that lose the worker, then one that must still run."""

from reference.grading import check

ASSIGNMENT = "lose"


@check(points=1)
def test_exit(submission):
    submission.get("leave")()


@check(points=1)
def test_hang(submission):
    submission.get("hang")()


@check(points=2)
def test_after(submission):
    assert submission.get("add")(2, 3) == 5, "add(2, 3) is not 5"
'''


def test_a_check_that_loses_the_worker_costs_only_itself(tmp_path: Path):
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "tests" / "autograders").mkdir(parents=True)
    (tmp_path / "tests" / "autograders" / "test_lose.py").write_text(LOSING)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import os, time\ndef leave():\n    os._exit(3)\ndef hang():\n    time.sleep(10**6)\ndef add(a, b):\n    return a + b"
    )]
    nbformat.write(nb, tmp_path / "lose.ipynb")
    limits = Limits(check_s=3, wall_s=60)
    record = grade_submission(tmp_path / "lose.ipynb", "lose", tmp_path, limits=limits, sandbox=sandbox_problem() is None)
    got = {name: (r["earned"], r["message"]) for name, r in record["checks"].items()}
    assert got["test_exit"][0] == 0.0 and "exited (status 3)" in got["test_exit"][1]
    assert got["test_hang"] == (0.0, "the submission was stopped: one check ran past its time limit (3 s)")
    assert got["test_after"] == (2.0, "")


def test_limits_come_from_the_config_then_the_flags():
    limits = Limits.from_config({"memory_mb": 2048, "wall_s": 100}, wall_s=50, processes=None)
    assert (limits.memory_mb, limits.wall_s, limits.processes) == (2048, 50.0, Limits().processes)
    with pytest.raises(Exception, match="memory_mb"):
        Limits.from_config({"memory_mb": -1})


@pytest.mark.parametrize("line, named", [
    ("c.GanCourseGrading.memory_MB = 1024", "memory_MB, which is no grading limit; did you mean memory_mb?"),
    ("c.GanCourseGrading.wall = 40", "wall, which is no grading limit; did you mean wall_s?"),
    ("c.GanCourseGradng.memory_mb = 1024", "c.GanCourseGradng, which nothing reads"),
    ("c.GANCourseGrading.memory_mb = 1024", "c.GANCourseGrading, which nothing reads"),
])
def test_a_misspelt_limit_in_nbgrader_config_is_named_not_ignored(tmp_path: Path, line: str, named: str):
    """An instructor's typo left the class graded under the default limit it meant to change."""
    from reference.errors import UserError
    from reference.grading.command import config_limits

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'gan'\n" + line + "\n")
    with pytest.raises(UserError) as err:
        Limits.from_config(config_limits(tmp_path))
    assert named in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'gan'\nc.GanCourseGrading.memory_mb = 1024\n")
    assert Limits.from_config(config_limits(tmp_path)).memory_mb == 1024


def test_shards_split_every_student_once_the_same_way_everywhere():
    students = [f"s{i:02d}" for i in range(23)]
    parts = [shard(reversed(students), f"{k}/5") for k in range(1, 6)]
    assert sorted(s for part in parts for s in part) == sorted(students)
    assert parts == [shard(students, f"{k}/5") for k in range(1, 6)]
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_files_in_scratch_are_read_without_following_links_or_hanging(tmp_path: Path):
    scratch = tmp_path / "scratch"
    (scratch / "out").mkdir(parents=True)
    secret = tmp_path / "gradebook.db"
    secret.write_text("the instructor's")
    (scratch / "out" / "10.png").write_bytes(b"png")
    os.symlink(secret, scratch / "out" / "20.png")
    os.symlink(tmp_path, scratch / "out" / "up")
    os.mkfifo(scratch / "out" / "30.png")
    sub = LocalSubmission({}, scratch=scratch)
    assert sub.files("out") == [Path("10.png")]
    assert sub.read_bytes("out/10.png") == b"png"
    for planted in ("out/20.png", "out/30.png", "out/up/gradebook.db", "../gradebook.db"):
        with pytest.raises(AssertionError):
            sub.read_bytes(planted)


MASKING = '''"""A check module that masks the module holding its answer."""

from reference.grading import check

ASSIGNMENT = "masked"
MASKED = ("reference.losses",)


@check(points=1)
def test_mine(submission):
    assert submission.get("mine")() == 1, "mine() is not 1"
'''


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandboxed", "plain-worker"])
def test_masked_modules_cannot_be_imported_when_graded(tmp_path: Path, sandbox: bool):
    if sandbox and sandbox_problem():
        pytest.skip(sandbox_problem())
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "tests" / "autograders").mkdir(parents=True)
    (tmp_path / "tests" / "autograders" / "test_masked.py").write_text(MASKING)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import reference.losses\ndef mine():\n    return 1")]
    nbformat.write(nb, tmp_path / "masked.ipynb")
    (earned, message), = grade_notebook(tmp_path / "masked.ipynb", "masked", tmp_path, sandbox=sandbox).values()
    assert earned == 0.0
    assert "raised ImportError: reference.losses is not available while this assignment is graded" in message


def test_try_it_names_the_stub_that_raised_and_lets_the_cell_go_on(capsys):
    """In a notebook namespace: the innermost notebook function whose stub raised is named (not
    the cell, not the caller); other errors print their traceback; nothing is raised either way."""
    ns: dict = {}
    exec("def inner():\n    raise NotImplementedError()\n\ndef outer():\n    return inner()\n", ns)
    exec("from reference.grading import try_it\nwith try_it():\n    outer()\nafter = 1", ns)
    out = capsys.readouterr().out
    assert out.startswith("`inner` is not implemented yet: it raises NotImplementedError") and ns["after"] == 1
    assert "Traceback" not in out
    exec("def broken():\n    return 1 / 0\n\nwith try_it():\n    broken()\nafter = 2", ns)
    out = capsys.readouterr().out
    assert "Traceback" in out and "ZeroDivisionError" in out and "-> ZeroDivisionError above: fix your code" in out
    assert ns["after"] == 2
    with pytest.raises(KeyboardInterrupt):
        exec("with try_it():\n    raise KeyboardInterrupt", ns)


def _raised(call) -> BaseException:
    try:
        call()
    except Exception as err:  # noqa: BLE001 - whatever the library raises
        return err
    raise AssertionError("it raised nothing")


def test_a_write_into_a_missing_folder_and_a_refused_checkpoint_get_their_fix(tmp_path):
    """save_image, savefig and torch.save into a folder nobody made, and torch.load refusing a pickled
    module: made by the calls themselves. The fix follows; a missing file being read gets none."""
    import matplotlib.pyplot as plt
    from PIL import Image
    from torchvision.utils import save_image

    from reference.grading.checks import raised_in

    missing = tmp_path / "samples" / "epoch_010.png"
    figure = plt.figure()
    errors = [
        _raised(lambda: save_image(torch.zeros(1, 1, 4, 4), missing)),
        _raised(lambda: figure.savefig(missing)),
        _raised(lambda: torch.save({"epoch": 10}, tmp_path / "checkpoints" / "epoch_010.pt")),
    ]
    plt.close(figure)
    def told(err: BaseException) -> str:
        return StudentError(type(err).__name__, first_line(err), raised_in=raised_in(err)).describe()

    for err in errors[:2]:  # PIL and matplotlib say the same when an image is read: both causes are told
        reported = told(err)
        assert "a path it names does not exist: to write a file there, create its folder first" in reported, reported
    reported = told(errors[2])
    assert "the folder it writes into does not exist: create it first" in reported, reported
    torch.save({"G": torch.nn.Linear(2, 2)}, tmp_path / "whole.pt")
    reported = told(_raised(lambda: torch.load(tmp_path / "whole.pt")))
    assert reported.startswith("your code raised UnpicklingError: Weights only load failed: torch.load (weights_only=True"), reported
    assert "weights_only=False" not in reported and "\x1b" not in reported, reported
    read = told(_raised(lambda: Image.open(tmp_path / "nothing.png")))
    assert "to read one, check the path" in read, read
    assert told(_raised(lambda: open(tmp_path / "nothing.txt"))).endswith("nothing.txt'")  # Python's own open: no guess


def test_torch_save_into_a_missing_folder_with_a_non_ascii_path_gets_the_fix(tmp_path):
    """torch.save opens a path that is not ASCII (a student's /home/josé) with Python's open, so a
    missing folder is a FileNotFoundError, not the "Parent directory" RuntimeError: the fix follows
    too; torch.load of a missing file hears both causes."""
    from reference.grading.checks import raised_in

    def told(err: BaseException) -> str:
        return StudentError(type(err).__name__, first_line(err), raised_in=raised_in(err)).describe()

    folder = tmp_path / "josé"
    folder.mkdir()
    written = told(_raised(lambda: torch.save({"epoch": 10}, folder / "checkpoints" / "epoch_010.pt")))
    assert "create its folder first, os.makedirs(folder, exist_ok=True)" in written, written
    read = told(_raised(lambda: torch.load(folder / "nothing.pt")))
    assert "to read one, check the path" in read, read


def test_check_messages_reach_the_instructors_terminal_as_one_printable_line(tmp_path):
    """`pytest tests/autograders/test_<id>.py --notebook NB` prints each lost check's message in its
    summary: a file name quoted there with an escape sequence or a line break (the student's to choose)
    must not colour, move or add lines in the instructor's terminal."""
    import importlib.util

    from reference.grading.checks import printable

    assert printable("a\x1b[2Jb\nc\td") == "a [2Jb c d"
    assert printable("a\x1b]0;x\x07b\nc", newlines=True, mark="?") == "a?]0;x?b\nc"
    spec = importlib.util.spec_from_file_location("autograders_conftest", Path(__file__).parent / "autograders" / "conftest.py")
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)

    class Reporter:
        lines: list[str] = []

        def section(self, title):
            self.lines.append(f"== {title}")

        def write_line(self, line):
            self.lines.append(line)

    plugin._scores.clear()
    plugin._scores["a3"] = [("test_grids", 0.0, 1.0, "saved epoch_10.png\n  test_grids: 1/1 - \x1b[32mok")]
    reporter = Reporter()
    plugin.pytest_terminal_summary(reporter, 0, None)
    shown = "\n".join(reporter.lines)
    assert "\x1b" not in shown and len(reporter.lines) == 3, reporter.lines


def test_the_visible_checks_command_answers_help_and_writes_nothing(capsys, monkeypatch, tmp_path):
    """`python -m reference.grading.visible --help` prints its usage: --help was taken for an assignment id."""
    from reference.grading import visible

    written = []
    monkeypatch.setattr(visible, "write_visible", lambda a, root=None: written.append(a) or tmp_path / a)
    with pytest.raises(SystemExit) as stop:
        visible.main(["--help"])
    assert stop.value.code == 0 and "assignment" in capsys.readouterr().out and written == []
    assert visible.main(["visible", "a1_theory", "a2_conv_layers"]) == 0 and written == ["a1_theory", "a2_conv_layers"]


def test_an_integration_rule_imported_under_its_removed_name_is_told_the_new_one():
    """`from scipy.integrate import simps` at the top of a cell: the cell's error names the new name, without
    the grader's own file path that ImportError quotes."""
    from reference.grading.checks import with_known_fix

    told = with_known_fix("ImportError", "cannot import name 'simps' from 'scipy.integrate' (/venv/lib/python3.11/site-packages/scipy/integrate/__init__.py)")
    assert told.startswith("ImportError: cannot import name 'simps' from 'scipy.integrate': simps is gone") and "import simpson" in told, told
    assert "/venv/" not in told
    assert "cumulative_trapezoid" in with_known_fix("ImportError", "cannot import name 'cumtrapz' from 'scipy.integrate' (/x.py)")


def test_a_matrix_square_root_called_with_an_argument_scipy_removed_is_told_to_drop_it():
    """pytorch-fid's `linalg.sqrtm(..., disp=False)`: where SciPy no longer takes `disp` (1.18), the student's
    TypeError is told what to write instead; other unexpected keywords keep Python's own words."""
    from reference.grading.checks import StudentError, error_info

    def sqrtm(A):  # scipy.linalg.sqrtm's signature from SciPy 1.18 on
        return A

    def frechet_distance(sigma):
        covmean, _ = sqrtm(sigma, disp=False)
        return covmean

    with pytest.raises(TypeError) as err:
        frechet_distance(1.0)
    told = StudentError.from_info(error_info(err.value, {"frechet_distance": frechet_distance})).describe()
    assert "raised TypeError: " in told and "sqrtm() got an unexpected keyword argument 'disp': scipy.linalg.sqrtm's `disp`" in told, told
    assert "call linalg.sqrtm(matrix) alone" in told and "`covmean = linalg.sqrtm(...)`" in told
    with pytest.raises(TypeError) as err:
        sqrtm(1.0, dips=False)
    told = StudentError.from_info(error_info(err.value, {})).describe()
    assert told.endswith("sqrtm() got an unexpected keyword argument 'dips'") and "no longer takes" not in told, told


def test_loading_a_check_module_writes_no_bytecode_beside_it(tmp_path, monkeypatch):
    """Without PYTHONDONTWRITEBYTECODE (set on some machines, not by .ci/run), grading left
    tests/autograders/__pycache__/ in the course, which the red-team test counts as a change to the course."""
    import sys

    from reference.grading.local import load_module

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    module = tmp_path / "test_demo_checks.py"
    module.write_text("ASSIGNMENT = 'demo'\nVALUE = 3\n")
    assert load_module(module).VALUE == 3
    assert not (tmp_path / "__pycache__").exists()
    assert sys.dont_write_bytecode is False


def test_another_assignments_notebook_is_named_and_not_run(tmp_path: Path):
    """A student who submitted a1's notebook as a7's got eleven "`diagnosis` is not defined: was it renamed
    or its cell not run?" messages. Each check now says whose notebook it is and what to submit, without
    running it. A notebook of this assignment, answered or not, and one whose cells lost their nbgrader
    ids (pasted into a new notebook) are graded as before."""
    a1, a7 = ROOT / "solutions" / "a1_theory" / "a1_theory.ipynb", "a7_diagnose_runs"
    record = grade_submission(a1, a7, ROOT, sandbox=False)
    assert record["cells"] == {} and record["checks"]
    for result in record["checks"].values():
        assert result["earned"] == 0 and result["message"].startswith(
            "this is a1_theory's notebook (its graded cells are a1_theory's), not a7_diagnose_runs's"), result
        assert "submit a7_diagnose_runs.ipynb" in result["message"]
    from reference.grading.runner import other_assignment

    assert other_assignment(ROOT / "assignments" / a7 / f"{a7}.ipynb", a7, ROOT) is None
    assert other_assignment(ROOT / "solutions" / a7 / f"{a7}.ipynb", a7, ROOT) is None
    bare = nbformat.read(a1, as_version=4)
    for cell in bare.cells:
        cell.metadata.pop("nbgrader", None)
    nbformat.write(bare, tmp_path / "pasted.ipynb")
    assert other_assignment(tmp_path / "pasted.ipynb", a7, ROOT) is None


def test_a_function_called_with_its_given_signature_that_refuses_it_is_told_to_keep_the_signature():
    """A correct gradient_penalty made keyword-only (def gradient_penalty(critic, real, fake, *, lambda_gp=10)) was
    told only "takes 3 positional arguments but 4 were given": the grader calls the function by the notebook's
    signature, and now says so. The same TypeError raised inside the student's own code keeps its plain message."""
    from reference.grading.checks import SIGNATURE_FIX, with_known_fix

    for message in ("gradient_penalty() takes 3 positional arguments but 4 were given",
                    "make_generator() got an unexpected keyword argument 'ngf'",
                    "train_step() missing 1 required positional argument: 'labels'"):
        assert with_known_fix("TypeError", message, "reference.grading.probes_a5").endswith(SIGNATURE_FIX), message
        assert with_known_fix("TypeError", message, "__main__") == f"TypeError: {message}"


def test_a_package_the_grader_lacks_is_named_with_why():
    """A notebook that imports a package of the student's own machine or Colab (pandas, installed there by a
    `!pip install` cell, which grading skips) was told only "No module named 'pandas'": the answers it defined
    after the import were then "not defined", and nothing said the grader lacks the package."""
    from reference.grading.notebook import CellError, why_missing

    err = CellError(3, "import pandas as pd", "ModuleNotFoundError", "No module named 'pandas'", "import pandas as pd\ndiagnosis = {}\n")
    told = why_missing("diagnosis", [err])
    assert told.startswith("the cell starting `import pandas as pd` raised ModuleNotFoundError: No module named 'pandas': "), told
    assert "skips `!pip install` and `%pip` cells" in told and "STUDENTS.md lists them" in told, told


def test_a_tensor_changed_before_its_backward_names_the_optimizer_of_the_other_network():
    """D's step calling opt_g.step() (where opt_d.step() belongs) changes G's weights before G's loss is backpropagated:
    the fix named only the order of the steps, which such a step already had right."""
    from reference.grading.checks import with_known_fix

    told = with_known_fix("RuntimeError", "one of the variables needed for gradient computation has been modified by an "
                          "inplace operation: [torch.FloatTensor [16]] is at version 2; expected version 1 instead.")
    assert "step each network with its own optimizer, opt_d.step() in D's step and opt_g.step() in G's" in told, told


def test_an_old_tutorials_range_argument_is_told_its_new_name():
    """save_image(..., normalize=True, range=(-1, 1)), as old tutorials write it, raises a TypeError that names
    make_grid's signature only."""
    import torch
    from torchvision.utils import save_image

    from reference.grading.checks import with_known_fix

    try:
        save_image(torch.rand(2, 1, 4, 4), "unused.png", normalize=True, range=(-1, 1))
    except TypeError as err:
        told = with_known_fix("TypeError", str(err))
    assert told.endswith("call that argument `value_range` now (renamed from `range`, which old tutorials use): "
                         "normalize=True, value_range=(-1, 1)"), told


# ---------------------------------------------------------------------------------------------
# --gpu: what the sandbox is given
# ---------------------------------------------------------------------------------------------


def _fake_dev(tmp_path: Path, names: list[str]) -> str:
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in names:
        if name.endswith("/"):
            (dev / name).mkdir()
        else:
            (dev / name).write_text("")
    return str(dev)


def test_gpu_binds_pass_exactly_the_nvidia_device_files(tmp_path):
    """`--gpu` binds every NVIDIA device file (each GPU, the control and UVM devices, the capabilities folder) and
    nothing else of /dev: not the disks, not other devices whose names start alike."""
    from reference.grading.sandbox import _gpu_binds

    dev = _fake_dev(tmp_path, ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-caps/", "null", "nvme0n1", "sda", "vnvidia"])
    binds = _gpu_binds(dev)
    pairs = [(binds[i], binds[i + 1], binds[i + 2]) for i in range(0, len(binds), 3) if binds[i] == "--dev-bind"]
    assert [p[1] for p in pairs] == [f"{dev}/{n}" for n in ("nvidia-caps", "nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl")], binds
    assert all(src == dst for _, src, dst in pairs)


@pytest.mark.parametrize("names, has_gpu", [
    (["nvidia0", "nvidiactl", "nvidia-uvm"], True),
    (["nvidia3", "nvidiactl"], True),  # a container given one GPU of several
    (["nvidiactl", "nvidia-uvm", "nvidia-modeset"], False),  # the driver's files without a GPU's
    (["null", "zero"], False),
])
def test_gpu_problem_asks_for_a_gpus_own_device_file(tmp_path, names, has_gpu):
    from reference.grading.sandbox import gpu_problem

    problem = gpu_problem(_fake_dev(tmp_path, names))
    if has_gpu:
        assert problem is None
    else:
        assert problem is not None and problem.startswith("--gpu: this machine shows no NVIDIA GPU") and "grade without --gpu" in problem
        assert "\n" not in problem


def test_without_gpu_the_sandbox_binds_no_nvidia_device_and_hides_cuda(tmp_path):
    """Without --gpu: no NVIDIA device file in bwrap's command line, whatever the host has, and
    CUDA_VISIBLE_DEVICES empty; with it, the instructor's CUDA_VISIBLE_DEVICES (one GPU per job) goes in."""
    from types import SimpleNamespace

    from reference.grading.sandbox import Limits, Worker, bwrap_command

    args = bwrap_command("bwrap", tmp_path, None, False, {"PATH": "/usr/bin"})
    assert not any(str(a).startswith("/dev/nvidia") for a in args), args
    fake = SimpleNamespace(limits=Limits(), scratch=tmp_path)
    assert Worker._environment(fake, True, False)["CUDA_VISIBLE_DEVICES"] == ""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CUDA_VISIBLE_DEVICES", "3")
        assert Worker._environment(fake, True, True)["CUDA_VISIBLE_DEVICES"] == "3"
        assert Worker._environment(fake, True, False)["CUDA_VISIBLE_DEVICES"] == ""
        mp.delenv("CUDA_VISIBLE_DEVICES")
        assert "CUDA_VISIBLE_DEVICES" not in Worker._environment(fake, True, True)


def test_the_removed_integrators_are_bound_when_a_submission_imports_their_module_not_before():
    """The worker puts back np.trapz and SciPy's trapz, cumtrapz and simps (reference.grading.compat) without
    importing scipy.integrate itself (about a second of a busy core at every worker start): a module imported later
    gets its names bound as its import finishes, whichever way it is imported, and its loader stays its own. So is
    scipy.linalg.sqrtm's disp, which SciPy 1.17 deprecated (failing on a tensor with it) and 1.18 removes."""
    code = """
import sys
from reference.grading.compat import REMOVED, restore_removed_names_on_import
restore_removed_names_on_import()
assert "scipy.integrate" not in sys.modules and "numpy" not in sys.modules
import numpy as np
assert np.trapz([1.0, 2.0, 3.0]) == 4.0
from scipy.integrate import simps, cumtrapz
import scipy
assert scipy.integrate.trapz([1.0, 2.0]) == 1.5 and simps([1.0, 2.0, 3.0]) == 4.0 and len(cumtrapz([1.0, 2.0, 3.0])) == 2
assert type(scipy.integrate.__spec__.loader).__name__ == "SourceFileLoader" == type(np.__loader__).__name__
import torch
from scipy.linalg import sqrtm
root, error = sqrtm(4 * torch.eye(2, dtype=torch.float64), disp=False)  # SciPy 1.13-1.16's disp on a tensor
assert (root == 2 * np.eye(2)).all() and error == 0.0 and (sqrtm(4 * np.eye(2)) == 2 * np.eye(2)).all()
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def torch_error(operation) -> str:
    """The text of the RuntimeError torch raises for `operation` (a size mismatch)."""
    with pytest.raises(RuntimeError) as raised:
        operation()
    return str(raised.value)


def test_batch_hint_names_a_batch_size_written_into_forward_from_torchs_own_messages():
    """The three graders' shared batch_hint, on the messages this torch raises: a .view(64, ...) of z, a .view(64)
    of D's logits, and (with the assignment's words) a torch.cat or an elementwise operation with a tensor made for
    64 samples are told with the batch forward had; the same errors at the fixed size itself, other dimensions,
    and batches of one are not."""
    def words(fixed, batch):
        return f" [made for {fixed}, given {batch}]"

    z, logits = torch.zeros(2, 100), torch.zeros(2, 1, 1, 1)
    viewed = torch_error(lambda: z.view(64, 100, 1, 1))
    assert batch_hint(viewed, 2) == (f": {BATCH_FIXED} 64, but batches have any size N (here 2): let the batch size "
                                     "follow the input, e.g. z.view(-1, nz, 1, 1) or x.view(x.size(0), -1)")
    flat = torch_error(lambda: logits.view(64))
    assert batch_hint(flat, 2).startswith(f": {BATCH_FIXED} 64, but batches have any size N (here 2)")
    assert batch_hint(flat, 2).endswith(".view(-1) for one logit per image")
    assert batch_hint(flat, 3) == ""  # 2 values are not a batch of 3 logits: another fault
    joined = torch_error(lambda: torch.cat([torch.zeros(2, 100), torch.zeros(64, 10)], dim=1))
    added = torch_error(lambda: torch.zeros(2, 1, 28, 28) + torch.zeros(64, 1, 28, 28))
    for message in (joined, added):
        assert batch_hint(message, 2, words) == " [made for 64, given 2]", message
        assert batch_hint(message, 2) == ""  # no words given: not told
        assert batch_hint(message, 5, words) == ""  # neither side is the batch
    wider = torch_error(lambda: torch.zeros(2, 3, 28, 28) + torch.zeros(2, 3, 32, 32))
    assert batch_hint(wider, 2, words) == ""  # a mismatch in an image dimension, not the batch
    assert batch_hint(torch_error(lambda: torch.zeros(1, 4, 3) + torch.zeros(64, 5, 3)), 1, words) == ""
    assert batch_hint("mat1 and mat2 shapes cannot be multiplied (2x100 and 64x10)", 2, words) == ""


def test_a_check_cell_leaves_the_notebooks_random_numbers_as_they_were(course, monkeypatch, capfd):
    """A check calls the student's functions, which may draw random numbers (torch, NumPy, Python's random): after
    `grade`, every generator is where it was, so a notebook's later unseeded cells draw the same numbers with or
    without its check cells; the check itself saw the numbers the notebook would have drawn."""
    import random

    import numpy as np

    monkeypatch.chdir(course / "solutions" / "demo")
    monkeypatch.delenv("GAN_COURSE_ROOT", raising=False)
    seen = []

    def add(a, b):  # a student's function that draws from every generator
        seen.append((float(torch.rand(())), float(np.random.rand()), random.random()))
        return a + b

    def draws():
        return float(torch.rand(())), float(np.random.rand()), random.random()

    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    expected = draws()
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    assert grade("demo", "test_add", {"add": add}) == 2.0
    assert seen[0] == expected  # the check's first call drew what the notebook would have
    assert draws() == expected
    assert capfd.readouterr().out.splitlines() == ["demo add adds: 2/2 points"]


def test_a_grader_using_its_user_site_gives_the_worker_the_same_one(tmp_path, monkeypatch):
    """A venv made with --system-site-packages (or none) beside `pip install --user` packages: the grader
    imports torch from its user site. The worker was started with PYTHONNOUSERSITE=1 and HOME elsewhere, so
    the same import failed there and the whole class was refused with a message blaming the limits. Now the
    worker gets the grader's user base, whose site is bound read-only; a grader without a user site keeps
    the worker's user site off."""
    import site
    from types import SimpleNamespace

    from reference.grading.sandbox import Limits, Worker, _python_binds

    base = tmp_path / "userbase"
    user_site = base / "lib" / "python3" / "site-packages"
    user_site.mkdir(parents=True)
    fake = SimpleNamespace(limits=Limits(), scratch=tmp_path)
    monkeypatch.setattr(site, "ENABLE_USER_SITE", True)
    monkeypatch.setattr(site, "getusersitepackages", lambda: str(user_site))
    monkeypatch.setattr(site, "getuserbase", lambda: str(base))
    env = Worker._environment(fake, True, False)
    assert env.get("PYTHONNOUSERSITE") == "1" and "PYTHONUSERBASE" not in env  # not on sys.path: not used
    monkeypatch.setattr(sys, "path", [*sys.path, str(user_site)])
    env = Worker._environment(fake, True, False)
    assert "PYTHONNOUSERSITE" not in env and env["PYTHONUSERBASE"] == os.path.realpath(base)
    binds = _python_binds()
    assert any(binds[i:i + 3] == ["--ro-bind", os.path.realpath(user_site), os.path.realpath(user_site)] for i in range(len(binds)))
    monkeypatch.setattr(site, "ENABLE_USER_SITE", False)
    assert Worker._environment(fake, True, False).get("PYTHONNOUSERSITE") == "1"
