"""A stop (SIGTERM, Ctrl-C) never cuts a temporary file or folder between its making and its naming, nor
inside its removal (reference.stops), in the `gan-course` command's own signal handling (reference.cli)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from reference import stops
from reference.cli import Terminated, _signals_as_interrupt


def test_a_stop_inside_a_held_block_is_raised_at_its_end():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with stops.held():
            assert stops.deferred(KeyboardInterrupt)
            done.append("named")
    assert done == ["named"] and stops._pending is None and stops._depth == 0
    assert not stops.deferred(KeyboardInterrupt)  # outside a block the handler raises as usual


def test_a_held_stop_replaces_an_ordinary_error_and_gives_way_to_a_stop_on_its_way_out():
    with pytest.raises(KeyboardInterrupt):  # a stop matters more than the block's own error
        with stops.held():
            stops.deferred(KeyboardInterrupt)
            raise ValueError("the block's error")
    with pytest.raises(Terminated):  # the clean-up of a stop: the second is dropped, the first goes on
        try:
            raise Terminated()
        finally:
            with stops.held():
                stops.deferred(KeyboardInterrupt)
    assert stops._pending is None and stops._depth == 0


def test_a_block_held_in_another_thread_does_not_hold_the_main_thread_s_stop():
    """Signal handlers and their stops belong to the main thread: a block of another thread (a progress bar's, a
    supervisor's) must neither defer the main thread's stop nor have it raised in that thread."""
    import threading

    inside, release, seen = threading.Event(), threading.Event(), []

    def other():
        with stops.held():
            inside.set()
            release.wait(10)
        seen.append("left")

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(10)
    try:
        assert not stops.deferred(KeyboardInterrupt)  # the main thread's handler raises at once
    finally:
        release.set()
        thread.join(10)
    assert seen == ["left"] and stops._pending is None and stops._depth == 0


def _make_then_signal(make, signum: int):
    """`make` (mkdtemp, mkstemp) followed at once by signal `signum` to this process, before its caller can name
    what it made: the window a SIGTERM sent the moment the folder appears falls into."""

    def made(*args, **kwargs):
        result = make(*args, **kwargs)
        os.kill(os.getpid(), signum)
        return result

    return made


def _remove_then_signal(remove, signum: int):
    """`remove` that receives signal `signum` before it starts: a second stop (the command's redelivery timer,
    SIGALRM) arriving while a stop's clean-up runs."""

    def removing(*args, **kwargs):
        os.kill(os.getpid(), signum)
        return remove(*args, **kwargs)

    return removing


@pytest.fixture
def course(tmp_path: Path) -> Path:
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    return tmp_path


def test_a_merge_stopped_the_moment_its_staging_is_made_removes_it(course: Path, monkeypatch):
    """A stop right after mkdtemp, before the assignment naming the folder, left `.gan-course-merge-*` in the
    course (the merge-stop test of test_autograde_command failed once, on busy cores, with no other clue)."""
    from reference.grading import bridge

    monkeypatch.setattr(bridge.tempfile, "mkdtemp", _make_then_signal(tempfile.mkdtemp, signal.SIGTERM))
    with pytest.raises(Terminated), _signals_as_interrupt(exiting=False):
        bridge.merge([], course)
    assert not list(course.glob(".gan-course-merge-*"))


def test_a_second_stop_during_a_merge_s_clean_up_does_not_cut_it_short(course: Path, monkeypatch):
    """The command raises a stop again every REDELIVER_S until it arrives (SIGALRM): one that came while the
    staging was being removed stopped the removal, leaving the folder."""
    from reference.grading import bridge

    def merging(*args):
        os.kill(os.getpid(), signal.SIGTERM)  # stopped while nbgrader merges

    monkeypatch.setattr(bridge, "_merge_staged", merging)
    monkeypatch.setattr(bridge.shutil, "rmtree", _remove_then_signal(shutil.rmtree, signal.SIGALRM))
    with pytest.raises(Terminated), _signals_as_interrupt(exiting=False):
        bridge.merge([], course)
    assert not list(course.glob(".gan-course-merge-*"))


def test_a_redelivered_stop_waits_while_the_first_one_is_being_handled():
    """The redelivery is for a stop Python dropped; while the first is being handled (a `finally` it runs), a
    second would cut that clean-up short."""
    ran = []
    with pytest.raises(Terminated), _signals_as_interrupt(exiting=False):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            ran.append("after the stop")  # never: the stop is raised here
        finally:
            os.kill(os.getpid(), signal.SIGALRM)  # the redelivery timer, early
            ran.append("clean-up")
    assert ran == ["clean-up"]


def test_an_atomic_write_stopped_the_moment_its_temporary_file_is_made_leaves_nothing(tmp_path: Path, monkeypatch):
    from reference import io

    monkeypatch.setattr(io.tempfile, "mkstemp", _make_then_signal(tempfile.mkstemp, signal.SIGTERM))
    with pytest.raises(Terminated), _signals_as_interrupt(exiting=False):
        io.write_text_atomic(tmp_path / "metrics.csv", "step,loss_D\n")
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_stopped_the_moment_its_temporary_folder_is_made_leaves_nothing(tmp_path: Path, monkeypatch):
    from reference import bundle

    monkeypatch.setattr(bundle, "_new_folder", _make_then_signal(bundle._new_folder, signal.SIGTERM))
    with pytest.raises(Terminated), _signals_as_interrupt(exiting=False):
        bundle.build_bundle(tmp_path / "student")
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_stopped_while_it_copies_says_so_in_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch, capsys):
    """`python -m reference.bundle` unwinds SIGTERM as Ctrl-C (it had died at once, leaving `.student.*` beside
    OUT_DIR) and says the bundle was not made."""
    from reference import bundle

    copies = []

    def copying(*args, **kwargs):
        copies.append(args)
        if len(copies) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return shutil.copytree(*args, **kwargs)

    monkeypatch.setattr(bundle.shutil, "copytree", copying)
    assert bundle.main([str(tmp_path / "student")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stopped by SIGTERM" in err and "was not made; run the same command again" in err
    assert list(tmp_path.iterdir()) == []
