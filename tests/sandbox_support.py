"""What tests that grade need of this machine's sandbox (reference.grading.sandbox).

CI installs bubblewrap and runs as root, so every sandbox test runs there. On a machine where bubblewrap cannot
make a sandbox (not installed, user namespaces refused, a chroot), a test of the sandbox skips with the reason,
and a test of something else that grades passes `--no-sandbox` (NO_SANDBOX_FLAG) or `sandbox=False`.
Tests that mount something of their own over the host's (a small or read-only /dev/shm) run in a mount namespace
(UNSHARE) and skip with the reason where this machine permits none (`needs_unshare`).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from reference.grading.sandbox import sandbox_problem

PROBLEM = sandbox_problem()
needs_sandbox = pytest.mark.skipif(PROBLEM is not None, reason=f"needs a sandbox: {PROBLEM}")
NO_SANDBOX_FLAG = ["--no-sandbox"] if PROBLEM else []  # for a test of the command, not of its sandbox


def _unshare_prefix() -> list[str] | None:
    """The command that starts a process in a mount namespace of its own in which it may mount (root: unshare -m;
    others: unshare -rm, in a user namespace too), or None where this machine permits neither."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "-m"] if os.geteuid() == 0 else [unshare, "-r", "-m"]
    try:
        done = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /dev/shm"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if done.returncode == 0 else None


UNSHARE = _unshare_prefix()
needs_unshare = pytest.mark.skipif(UNSHARE is None, reason="needs a mount namespace of its own (unshare -m, or unshare -rm "
                                   "with unprivileged user namespaces), which this machine does not permit")
