"""What tests that grade need of this machine's sandbox (reference.grading.sandbox).

CI installs bubblewrap and runs as root, so every sandbox test runs there. On a machine where bubblewrap cannot
make a sandbox (not installed, user namespaces refused, a chroot), a test of the sandbox skips with the reason,
and a test of something else that grades passes `--no-sandbox` (NO_SANDBOX_FLAG) or `sandbox=False`.
"""

from __future__ import annotations

import pytest

from reference.grading.sandbox import sandbox_problem

PROBLEM = sandbox_problem()
needs_sandbox = pytest.mark.skipif(PROBLEM is not None, reason=f"needs a sandbox: {PROBLEM}")
NO_SANDBOX_FLAG = ["--no-sandbox"] if PROBLEM else []  # for a test of the command, not of its sandbox
