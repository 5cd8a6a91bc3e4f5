"""The nbgrader preprocessors the course grades with, and where they go in nbgrader's Autograde.

nbgrader grades a notebook by running it in a Jupyter kernel on the grading host (its `Execute`
preprocessor): a student's cell could then read the hidden checks and classmates' work, rewrite the
gradebook or its own score, and reach the network. The course replaces that one step:

- `FillRecords`, for `gan-course autograde` (`reference.grading.bridge.merge`): the outputs and
  scores a sandboxed grading recorded earlier.
- `SandboxedExecute`, which the course's nbgrader_config.py names, so plain `nbgrader autograde <id>`
  and the formgrader's *Autograde* button grade each submission as `gan-course autograde` does: its
  cells run in a bubblewrap sandbox under the limits of `c.GanCourseGrading`
  (`reference.grading.runner.grade_submission`), the checks here. Where no sandbox can be made, the
  submission is not graded and nbgrader's log says why: no student's code runs outside it.

Both sanitize with `RestoreMetadata` first: each cell's nbgrader metadata comes from the gradebook,
not from the student's file. The rest is nbgrader's own (`autograde_steps`).

What nbgrader does before any preprocessor is unchanged on the `SandboxedExecute` path: it reads the
submitted notebook and copies the submission's folder (following links) in the grading process.
`SandboxedExecute` then removes what `gan-course autograde` would not have copied (`drop_unstaged_copies`:
links, hard links, special files), but the reading and copying have happened: a link to a device such
as /dev/zero fills the disk first, and a named pipe in place of the notebook holds nbgrader. `gan-course
autograde` reads and copies them within the grader's limits first: use it for whole classes and for
folders you did not collect yourself. It also grades several submissions at once
(`--jobs`) and on a GPU (`--gpu`); the button grades one at a time, on the CPU.

nbgrader is a [dev] dependency: this module is imported only by nbgrader's configuration and merge.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from nbgrader.preprocessors.base import NbGraderPreprocessor
from traitlets import Dict

from reference.grading.bridge import _gradebook, check_timestamp, fill, repair_structure, restore_metadata

__all__ = ["AUTOGRADE", "SANITIZE", "FillRecords", "RestoreMetadata", "SandboxedExecute", "autograde_steps", "drop_unstaged_copies"]


class RestoreMetadata(NbGraderPreprocessor):
    """Before nbgrader's own sanitizing: each cell's nbgrader metadata from the gradebook."""

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        cells, sources = _gradebook(meta["db_url"], meta["notebook"], meta["assignment"])
        return restore_metadata(repair_structure(nb), cells, sources), resources


class FillRecords(NbGraderPreprocessor):
    """In place of nbgrader's Execute: the outputs and scores the sandboxed grading recorded."""

    records = Dict({}, help="{assignment/student/notebook: record}").tag(config=True)

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        key = f"{meta['assignment']}/{meta['student']}/{meta['notebook']}"
        if key not in self.records:
            raise ValueError(f"no grading record for {key}")
        return fill(nb, self.records[key]), resources


class SandboxedExecute(NbGraderPreprocessor):
    """In place of nbgrader's Execute: the submission graded now, in the sandbox, and its record filled in."""

    def preprocess(self, nb, resources):
        from reference.grading.command import config_limits
        from reference.grading.runner import grade_submission
        from reference.grading.sandbox import Limits, SandboxUnavailable, host_limit_problem, sandbox_problem

        meta = resources["nbgrader"]
        coursedir = getattr(getattr(self.parent, "parent", None), "coursedir", None)  # the exporter's parent: nbgrader's Autograde
        if coursedir is None:
            raise ValueError("SandboxedExecute grades within nbgrader's Autograde (nbgrader autograde, or the formgrader)")
        root = Path(coursedir.root).resolve()
        if problem := sandbox_problem():  # gan-course autograde's way round it, --no-sandbox, is no flag of nbgrader's
            problem = re.sub(r",? or pass --no-sandbox only for submissions you trust$", "", problem)
            raise SandboxUnavailable(f"{problem}; this course's nbgrader_config.py grades only in the sandbox, and nothing was run")
        limits = Limits.from_config(config_limits(root))
        if problem := host_limit_problem(limits):
            raise SandboxUnavailable(problem)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, meta["student"], meta["assignment"]))
        notebook = folder / f"{meta['notebook']}.ipynb"
        if any(p.is_symlink() for p in (folder.parent, folder, notebook)) or not notebook.is_file():
            raise ValueError(f"{notebook} is not a plain file in the student's own folder: put the student's notebook itself there")
        where = Path("submitted", meta["student"], meta["assignment"], "timestamp.txt")
        check_timestamp(folder / "timestamp.txt", where, then="grade again")  # as gan-course autograde reads it
        record = grade_submission(notebook, meta["assignment"], root, student=meta["student"], limits=limits)
        for why in record.get("stopped", []):
            self.log.warning("%s of %s: %s", meta["assignment"], meta["student"], why)
        autograded = Path(coursedir.format_path(coursedir.autograded_directory, meta["student"], meta["assignment"]))
        source = Path(coursedir.format_path(coursedir.source_directory, ".", meta["assignment"]))
        for dropped in drop_unstaged_copies(folder, autograded, source, meta["notebook"], limits.file_mb):
            self.log.warning("%s of %s: %s, which gan-course autograde would not copy (a link, a hard link, no regular file, "
                             "over the file limit, a dot folder or the feedback's name), is left out of autograded/ and the feedback",
                             meta["assignment"], meta["student"], dropped)
        return fill(nb, record), resources


def drop_unstaged_copies(submitted: Path, autograded: Path, source: Path, notebook: str, file_mb: int) -> list[str]:
    """Remove from `autograded` what nbgrader copied there from the student's folder `submitted` that
    `gan-course autograde` would not have staged (`reference.grading.runner.copy_submission_files`), so
    that both ways leave the same files for the feedback: a link (nbgrader copies its target: the model
    answers, the gradebook), a file with other names elsewhere (a hard link to them), anything else that is
    not a regular file, a file over `file_mb`, a dot folder, and at the top anything named as the feedback
    of `notebook` (a folder so named stopped generate_feedback). What the instructor's source folder `source`
    holds at the same path is the instructor's copy and stays. Returns the paths removed, relative to
    `autograded`."""
    feedback, dropped = f"{notebook}.html", []

    def drop(path: Path) -> None:
        relative = path.relative_to(submitted)
        copy = autograded / relative
        if (source / relative).exists() or relative == Path(f"{notebook}.ipynb"):
            return
        if copy.is_dir() and not copy.is_symlink():
            shutil.rmtree(copy)
        elif copy.exists() or copy.is_symlink():
            copy.unlink()
        else:
            return
        dropped.append(str(relative))

    for folder, names, files in os.walk(submitted):  # links to folders are listed, never entered
        top = Path(folder) == submitted
        for name in list(names):
            path = Path(folder, name)
            if path.is_symlink() or name.startswith(".") or (top and name == feedback):
                drop(path)
                names.remove(name)
        for name in files:
            path = Path(folder, name)
            try:
                info = path.lstat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1 or info.st_size > file_mb * 2**20 or (top and name == feedback):
                drop(path)
    return dropped


def autograde_steps(execute: type) -> tuple[list, list]:
    """(sanitize, autograde): nbgrader's Autograde preprocessors, with `RestoreMetadata` before its
    sanitizing and `execute` in place of its `Execute`."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec,
        SaveAutoGrades,
    )

    sanitize = [RestoreMetadata, ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
    autograde = [execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    return sanitize, autograde


SANITIZE, AUTOGRADE = autograde_steps(SandboxedExecute)  # what nbgrader_config.py gives nbgrader's Autograde
