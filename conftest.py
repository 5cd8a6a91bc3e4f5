"""pytest settings for the whole repository: `pytest`, `pytest tests/...` and `pytest lessons/...`.

The cache. `pytest_configure` points $GAN_COURSE_CACHE (where trained classifiers go, see
reference/cache.py) at a fresh temporary folder for the session, unless the caller set it, so that
no test, and no lesson kernel or command that a test starts, writes into the real ~/.cache; the
folder is removed when the session ends.

This file lives in the repository root, not in tests/ and lessons/, because pytest imports every
conftest.py outside a package as the module `conftest`: a second one in lessons/ replaced
tests/conftest.py in `sys.modules`, and `from conftest import ...` in the tests then failed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import pytest

_SESSION_CACHE: list[str] = []  # the temporary $GAN_COURSE_CACHE this session made, removed at its end


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("GAN_COURSE_CACHE"):  # os.environ: kernels and commands inherit it
        os.environ["GAN_COURSE_CACHE"] = tempfile.mkdtemp(prefix="gan-course-test-cache-")
        _SESSION_CACHE.append(os.environ["GAN_COURSE_CACHE"])


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _SESSION_CACHE:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("GAN_COURSE_CACHE") == folder:
            del os.environ["GAN_COURSE_CACHE"]
    _SESSION_CACHE.clear()
