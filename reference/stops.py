"""Short blocks that a stop (Ctrl-C, SIGTERM, SIGHUP) does not cut in two.

A temporary file or folder is made, then named by an assignment, then removed in a `finally`. A stop
raised between the making and the naming, or inside the removal, left it behind: a
`.gan-course-merge-*` folder in the course after a stopped `autograde --merge`, a `gan-course-staged-*`
folder after a stopped grading process, a `.<name>.*.tmp` file beside a checkpoint. The signal handlers
of the `gan-course` command (`reference.cli`) and of the grading processes (`reference.grading.runner`)
call `deferred` first: inside `held()` the stop is kept, and raised when the outermost held block ends,
unless a stop is already on its way out (then that one goes on, and the clean-up it runs is not cut
short by a second).

Held blocks must be short (a mkdtemp and an assignment, a removal): nothing else ends them early but
SIGKILL.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

__all__ = ["deferred", "held"]

_depth = 0  # how many held blocks are open
_pending: Callable[[], BaseException] | None = None  # what makes the stop that came while held


def deferred(stop: Callable[[], BaseException]) -> bool:
    """For a signal handler: inside a held block, keep `stop` (it makes the exception to raise) for the
    block's end and return True; outside one, False: the handler raises as it would have."""
    global _pending
    if _depth == 0:
        return False
    if _pending is None:
        _pending = stop
    return True


def _a_stop(err: BaseException | None) -> bool:
    """Whether `err` is a stop on its way out (KeyboardInterrupt, the command's Terminated, a grading
    process's GradingStopped, SystemExit): a BaseException that is not an Exception."""
    return err is not None and not isinstance(err, Exception)


class held:  # noqa: N801 - used as `with held():`, like a function
    """`with held(): ...`: a stop that comes inside is raised when the outermost held block ends.

    Not raised when a stop is already on its way out, from the block or around it (the block is the
    clean-up in a `finally` that the first stop runs); raised in place of an ordinary error."""

    def __enter__(self) -> "held":
        global _depth
        # only the main thread's blocks count: signal handlers run there, and their stop is raised there; a block
        # of another thread cannot be cut by it, and counting it would raise the main thread's stop in that thread
        self.counted = threading.current_thread() is threading.main_thread()
        _depth += self.counted
        return self

    def __exit__(self, kind: type | None, err: BaseException | None, tb: object) -> bool:
        global _depth, _pending
        if not self.counted:
            return False
        _depth -= 1
        if _depth or _pending is None:
            return False
        stop, _pending = _pending, None
        if not (_a_stop(err) or _a_stop(sys.exc_info()[1])):
            raise stop()
        return False
