"""Grading: checks, the sandboxed worker they reach through a proxy, and the nbgrader bridge.

One module per job:

- `checks`: the check API (`check`, `Partial`, `outcome`): how a check is declared and scored.
- `submission`: what a check receives (`get`, `run`, `scratch`), the same in a kernel and graded.
- `notebook`: the one parser of test cells and hidden regions; running a cell.
- `local`: `grade()` for test cells in the student's own kernel, `try_it()` for cells that call
  the student's code; where checks are found.
- `probes`: public measurement helpers that checks run next to the student's objects.
- `learning`: the grade-time learning checks (a short seeded run, classifier-FID, copies).
- `proxy`: the wire format and the trusted side of the worker's channel.
- `worker`: what runs inside the sandbox.
- `sandbox`: bubblewrap, the limits and the supervisor.
- `runner`: one submission, many in parallel, shards.
- `bridge`: results into nbgrader's autograded notebooks and gradebook; merging shards.
- `visible`: the visible checks students get.
"""

from reference.grading.checks import CheckFailure, CheckNotFound, Partial, StudentError, check, outcome, run_check
from reference.grading.local import grade, try_it
from reference.grading.submission import NAMESPACE

__all__ = ["CheckFailure", "CheckNotFound", "NAMESPACE", "Partial", "StudentError", "check", "grade", "outcome", "run_check", "try_it"]
