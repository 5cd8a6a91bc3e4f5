"""reference/cache.py: where the course caches what it computes, and the checks before it writes.

Where the classifiers land inside the cache (keyed by data root, never in the data root) is tested
with the classifier, in tests/test_features.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reference.cache import cache_dir, writable_dir
from reference.errors import UserError


def test_the_test_session_caches_in_a_temporary_folder() -> None:
    """tests/conftest.py points the cache away from the real ~/.cache before any test runs."""
    assert os.environ.get("GAN_COURSE_CACHE"), "conftest.py should set GAN_COURSE_CACHE for the session"
    assert cache_dir() != Path("~/.cache/gan-course").expanduser()


def test_gan_course_cache_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.setenv("GAN_COURSE_CACHE", "~/elsewhere")
    assert cache_dir() == Path("~/elsewhere").expanduser(), "a ~ in the variable is expanded"
    monkeypatch.setenv("GAN_COURSE_CACHE", "cache")
    with pytest.raises(UserError, match=r"^GAN_COURSE_CACHE is a relative path \(cache\).*absolute one, e.g. /"):
        cache_dir()


def test_xdg_cache_home_when_gan_course_cache_is_unset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GAN_COURSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "gan-course"
    monkeypatch.setenv("GAN_COURSE_CACHE", "")  # empty: unset
    assert cache_dir() == tmp_path / "xdg" / "gan-course"


def test_home_cache_when_neither_is_set(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GAN_COURSE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "gan-course"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG specification: ignore a relative path
    assert cache_dir() == tmp_path / "home" / ".cache" / "gan-course"


def test_no_home_folder_is_one_user_error_line(monkeypatch) -> None:
    """A container started with `--user 12345` (no entry in /etc/passwd) and no HOME: Python cannot
    expand ~ and raises RuntimeError; the course says what to set instead, in one line."""
    import pwd

    def no_entry(uid: int):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("GAN_COURSE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    with pytest.raises(UserError) as err:
        cache_dir()
    message = str(err.value)
    assert "\n" not in message and "HOME is unset" in message, message
    assert message.endswith("set HOME, or set GAN_COURSE_CACHE to a writable folder"), message
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")  # an absolute XDG_CACHE_HOME needs no home folder
    assert cache_dir() == Path("/xdg") / "gan-course"


def test_writable_dir_creates_the_folder(tmp_path: Path) -> None:
    folder = writable_dir(tmp_path / "a" / "b")
    assert folder == tmp_path / "a" / "b" and folder.is_dir()
    assert list(folder.iterdir()) == [], "the write check leaves nothing behind"


def test_a_folder_that_cannot_be_created_is_one_user_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")  # no folder can be made below a file, even by root
    with pytest.raises(UserError) as err:
        writable_dir(blocker / "cache" / "classifiers")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"cannot write to the cache folder {blocker / 'cache' / 'classifiers'} (")
    assert message.endswith("; set GAN_COURSE_CACHE to a writable folder"), message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_user_error_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(UserError, match=r"^cannot write to the cache folder .*ro \(Permission denied\); set GAN_COURSE_CACHE"):
            writable_dir(folder)
    finally:
        folder.chmod(0o755)


def test_a_cache_that_is_a_file_is_named_before_a_missing_classifier(tmp_path: Path, monkeypatch) -> None:
    """GAN_COURSE_CACHE pointing at a file: `eval` said no classifier was trained and to train one,
    whose command then failed on the cache. The cache itself is named, with the fix."""
    from reference.metrics.classifier import load_classifier_state

    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as caught:
        load_classifier_state("mnist", tmp_path)
    assert str(caught.value) == f"GAN_COURSE_CACHE {tmp_path / 'cache'} is a file, not a folder; set GAN_COURSE_CACHE to a writable folder"
