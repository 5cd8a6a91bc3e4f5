"""pytest settings for the lesson notebooks: a temporary cache when they run without tests/.

tests/conftest.py points $GAN_COURSE_CACHE (where trained classifiers go, see reference/cache.py)
at a fresh temporary folder for the session, so that no test, and no lesson kernel that nbval
starts, writes into the real ~/.cache. pytest loads that file only when it collects tests/, not for
`pytest lessons/04_mode_collapse.ipynb`; this hook does the same for such runs. Whichever runs
first sets the variable, and a value the caller set is kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SESSION_CACHE: list[str] = []  # the temporary $GAN_COURSE_CACHE this session made, removed at its end


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("GAN_COURSE_CACHE"):  # os.environ: the notebook kernels inherit it
        os.environ["GAN_COURSE_CACHE"] = tempfile.mkdtemp(prefix="gan-course-test-cache-")
        _SESSION_CACHE.append(os.environ["GAN_COURSE_CACHE"])


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _SESSION_CACHE:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("GAN_COURSE_CACHE") == folder:
            del os.environ["GAN_COURSE_CACHE"]
    _SESSION_CACHE.clear()
