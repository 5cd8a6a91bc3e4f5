"""Where a lesson notebook puts its training runs: a folder of its own that does not outlive it.

    WORK = lesson_folder("02")   # /tmp/gan-course-02-abc123/, removed when the kernel shuts down
    run = train(cfg, WORK / "mlp")

A lesson trains a dozen short runs (tens of MB each in smoke mode, more in full mode). Left in /tmp,
every "Run All" added its runs to the last ones: on a shared JupyterHub, hundreds of students fill
the disk. So the folder is removed when the notebook's kernel exits normally (shut down or
restarted from Jupyter, or Python leaving). To keep the runs, set GAN_COURSE_RUNS to a folder
before starting the kernel: each run of the notebook then gets a fresh folder inside it,
<GAN_COURSE_RUNS>/02-abc123/, which nothing removes. The test suite sets it to a folder of its own
that it removes when it ends (its notebook kernels are killed, not shut down).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reference.errors import UserError

__all__ = ["RUNS_ENV", "lesson_folder"]

RUNS_ENV = "GAN_COURSE_RUNS"

_OPEN: list[tempfile.TemporaryDirectory] = []  # held until the interpreter exits, which removes them


def lesson_folder(lesson: str) -> Path:
    """A new, empty folder (mode 0700) for the runs of lesson `lesson` ("02"): inside $GAN_COURSE_RUNS
    and kept when that is set, otherwise a temporary one removed when this Python process exits."""
    keep = os.environ.get(RUNS_ENV, "").strip()
    if keep:
        base = Path(keep).expanduser()
        try:
            base.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=f"{lesson}-", dir=base))
        except OSError as err:
            raise UserError(
                f"{RUNS_ENV}={keep} cannot hold the lesson's runs ({err.strerror or err}); "
                f"point it at a folder you can write, or unset it to use a temporary folder"
            ) from None
    folder = tempfile.TemporaryDirectory(prefix=f"gan-course-{lesson}-", ignore_cleanup_errors=True)
    _OPEN.append(folder)  # its finalizer runs at exit (weakref.finalize is atexit-registered)
    return Path(folder.name)
