"""The autograders as plain pytest: each check module grades one notebook.

    pytest tests/autograders/test_a3_save_every_10_epochs.py                       # the solution notebook
    pytest tests/autograders/test_a3_save_every_10_epochs.py --notebook sub.ipynb  # any notebook

A module names its assignment in `ASSIGNMENT`; its checks take the module-scoped `submission`
fixture: the notebook (solutions/<ASSIGNMENT>/<ASSIGNMENT>.ipynb unless --notebook) run once in a
sandboxed worker (reference.grading.sandbox; a plain worker process where bubblewrap is missing
or cannot make a sandbox, with a warning that says why), reached through the proxy as when
`gan-course autograde` grades. The checks run in pytest's process, the student's code never
does. A passing check earns its points; a failing one earns 0 (or a `Partial`'s points) and shows
its message. The terminal summary prints the score per module, e.g. "a3_save_every_10_epochs: 7/10
points", and each check that lost points.

Each check's score travels in its report's `user_properties`, so the summary is the same under
pytest-xdist (the reports come back to the controller).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from reference.grading.checks import outcome, printable
from reference.grading.runner import session_for
from reference.grading.sandbox import sandbox_problem

COURSE_ROOT = Path(__file__).resolve().parents[2]
SCORE_PROPERTY = "autograder score"  # key of (assignment, check, earned, points, message) in user_properties
_scores: dict[str, list[tuple[str, float, float, str]]] = {}  # assignment -> its checks' scores (pytest_configure empties it)


def pytest_configure(config: pytest.Config) -> None:
    _scores.clear()  # a new session in this process (pytester) starts without the last one's scores


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--notebook",
        default=None,
        help="grade this notebook with the check modules in tests/autograders/ (default: the assignment's solution)",
    )


def notebook_for(config: pytest.Config, assignment: str) -> Path:
    """The notebook a check module grades: --notebook, else the assignment's solution notebook."""
    chosen = config.getoption("--notebook", default=None)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise pytest.UsageError(f"--notebook {chosen}: no such file; pass the path of a .ipynb file")
        return path
    return COURSE_ROOT / "solutions" / assignment / f"{assignment}.ipynb"


@pytest.fixture(scope="module")
def submission(request: pytest.FixtureRequest):
    """The graded notebook, run once per check module in its own worker; the checks' proxy to it."""
    assignment = request.module.ASSIGNMENT
    problem = sandbox_problem()
    if problem:
        warnings.warn(f"the notebook runs in a plain worker process, not sandboxed: {problem}", stacklevel=1)
    sandbox = problem is None
    with session_for(notebook_for(request.config, assignment), assignment, COURSE_ROOT, sandbox=sandbox) as session:
        yield session.for_check()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = (yield).get_result()
    fn = getattr(item, "obj", None)
    if call.when != "call" or not hasattr(fn, "points") or "submission" not in getattr(item, "funcargs", {}):
        return
    err = call.excinfo.value if call.excinfo is not None else None
    earned, message = outcome(fn, err)
    # assertion rewriting appends "assert <left> == <right>" to the message; the student's line is before it
    message = message.split("\nassert ")[0].strip()
    module = getattr(item.module, "ASSIGNMENT", item.module.__name__)
    report.user_properties.append((SCORE_PROPERTY, (module, item.name, earned, fn.points, message)))
    if err is not None and message:
        report.sections.append(("score", f"{earned:g}/{fn.points:g} points - {message}"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the scores where the summary is printed: in this process, or in the controller of
    pytest-xdist's workers, which gets each report (with its user_properties) from a worker."""
    for key, value in getattr(report, "user_properties", ()):
        if key == SCORE_PROPERTY:
            module, name, earned, points, message = value
            _scores.setdefault(module, []).append((name, earned, points, message))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _scores:
        return
    terminalreporter.section("scores")
    for assignment, rows in _scores.items():
        earned, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
        terminalreporter.write_line(f"{assignment}: {earned:g}/{total:g} points")
        for name, got, points, message in rows:
            if got < points:
                terminalreporter.write_line(f"  {name}: {got:g}/{points:g} - {printable(message)}")  # no escape sequence reaches the terminal
