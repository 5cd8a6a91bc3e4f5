"""What the tests of the lessons' code-along checks share (tests/test_lesson_NN.py).

    LESSON = Lesson("06_wasserstein_gan", torch=torch, nn=nn)   # the source and its checks
    ns = LESSON.namespace(LESSON.code_cell("clip_weights_"))     # the model answer, run as a cell
    LESSON.grade("test_clip_weights_", ns)                       # (points, message) of one check
    LESSON.namespace(stub(source))                               # what the student gets, run

A lesson's source is `solutions/lessons/<name>.ipynb`; its checks are `reference/checks/lesson_NN.py`,
run on a `LocalSubmission` of the namespace, as in the student's kernel.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from reference.grading.checks import run_check
from reference.grading.local import load_checks
from reference.grading.submission import LocalSubmission

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?", re.S | re.M)


def stub(source: str) -> str:
    """What the student gets: each solution region replaced by the generated placeholder."""
    return SOLUTION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n", source)


class Lesson:
    """One lesson's source notebook, its checks, and the names its setup cell imports."""

    def __init__(self, name: str, **imports: Any) -> None:
        self.source = ROOT / "solutions" / "lessons" / f"{name}.ipynb"
        self.checks = load_checks(f"lesson_{name[:2]}")
        self.imports = imports

    def code_cell(self, defines: str) -> str:
        """The source of the notebook's code cell that defines function `defines`."""
        cells = json.loads(self.source.read_text())["cells"]
        found = [c for c in cells if c["cell_type"] == "code" and f"def {defines}(" in "".join(c["source"])]
        assert len(found) == 1, f"expected one code cell defining {defines}, found {len(found)}"
        return "".join(found[0]["source"])

    def namespace(self, *sources: str) -> dict:
        """A notebook namespace: the setup's imports, then `sources` run in it (as cells; an
        indented source, written inside a test, is dedented first)."""
        ns = {"__name__": "__main__", **self.imports}
        for source in sources:
            exec(compile(textwrap.dedent(source), "<cell>", "exec"), ns)
        return ns

    def grade(self, name: str, ns: dict) -> tuple[float, str]:
        """(points, message) of check `name` on namespace `ns`."""
        return run_check(self.checks[name], LocalSubmission(ns))
