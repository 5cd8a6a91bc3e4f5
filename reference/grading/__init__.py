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
- `worker`: what runs inside the sandbox; `magics`: what a kernel gives graded cells (get_ipython's
  magics, display); `pristine`: the course's modules put back before each request.
- `sandbox`: bubblewrap, the limits and the supervisor; `seccomp`: the system calls refused there.
- `runner`: one submission, many in parallel, shards.
- `bridge`: results into nbgrader's autograded notebooks and gradebook; merging shards.
- `visible`: the visible checks students get.
"""

import sys

# jsonschema, which nbformat and nbgrader import, loads rfc3987-syntax where it is installed (nbgrader's
# dependencies bring it), and that builds an Earley parser of RFC 3987 at import: about 1 s of CPU in every
# process that reads a notebook (`gan-course autograde`, each of its --jobs workers, a merge), for an "iri"
# string format no notebook schema uses. Its import is refused in the processes that grade; jsonschema then
# leaves that one format out.
sys.modules.setdefault("rfc3987_syntax", None)

from reference.grading.checks import CheckFailure, CheckNotFound, Partial, StudentError, check, outcome, run_check  # noqa: E402
from reference.grading.local import grade, try_it  # noqa: E402
from reference.grading.submission import NAMESPACE  # noqa: E402

__all__ = ["CheckFailure", "CheckNotFound", "NAMESPACE", "Partial", "StudentError", "check", "grade", "outcome", "run_check", "try_it"]
