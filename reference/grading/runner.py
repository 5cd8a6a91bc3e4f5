"""Grading submissions: one in a sandbox, many in parallel, or one shard of a class.

`grade_submission(notebook, assignment, root)` runs the notebook's cells in a sandboxed worker
(reference.grading.sandbox) and then every check of the assignment here, in the trusted process,
across the proxy. It returns a plain record (JSON): each cell's outputs, each check's points and
message, each nbgrader test cell's lines and score. The record is what `reference.grading.bridge`
turns into nbgrader's autograded notebook and gradebook entries.

A check that loses the worker (a limit hit, a crash, an exit) costs that check; the worker is then
started again, the cells run again, and the next check goes on, as long as the submission's wall
time lasts (at most `RESTARTS` times). A submission never affects another: each has its own
worker, scratch folder and (with `--jobs`) its own grading process.

`grade_many(...)` grades a list of submissions `jobs` at a time; `shard(students, "3/40")` picks
the submissions of one shard, the same ones on every machine.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import errno
import json
import multiprocessing
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reference import stops
from reference.errors import UserError
from reference.grading.checks import SubmissionLost, printable, quiet, run_check, title
from reference.grading.local import load_checks, load_module, check_module_path, score_line
from reference.grading.notebook import GradedCell, is_test_cell, graded_cells
from reference.grading.sandbox import (
    Limits, SandboxUnavailable, Worker, host_limit_problem, make_scratch, remove_scratch, sandbox_problem, stage_reference,
)

if TYPE_CHECKING:  # the proxy imports torch (a second): a command line's mistakes are refused before that
    from reference.grading.proxy import Channel, RemoteSubmission

__all__ = ["RESTARTS", "grade_many", "grade_submission", "parse_shard", "shard", "source_notebook"]

RESTARTS = 2
STOP_WAIT_S = 30.0  # how long stopped grading processes may take to clean up
CELL_GRACE_S = 5.0  # how long a cell interrupted at its time limit may take to stop before its worker is ended
RECORD_VERSION = 1
MAX_NOTEBOOK_MB = 20
# What reading a notebook builds grows with its JSON values, not its bytes: 14 MB of empty objects took
# nbformat 2.6 GB and 10 s, 18 MB of 200,000 empty cells held the grader 80 s and 1 GB, and nbgrader reads
# each submission again in the merge of the whole class. The course's longest notebook has 60 cells and
# 1,411 JSON values, 230 of them objects and arrays (1,198 and 230 with its outputs): far below these.
MAX_CELLS = 2_000
MAX_VALUES = 1_000_000  # JSON values (objects, arrays, strings, numbers...) of one notebook
MAX_CONTAINERS = 200_000  # of them objects and arrays, which cost nbformat far more
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# How deep objects and arrays nest. Python's json parser stops with RecursionError near 1,000 levels on Python 3.11
# and 3.12, but 3.13 and later parse 5,000 and more, which nbformat's validation and the grader's own walks of a cell
# then meet: a limit of the grader's own, the same on every Python. The course's notebooks nest 5 deep.
MAX_DEPTH = 100
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"{}[]")))
MAX_TEXT = 100_000
MAX_IMAGE = 2_000_000
MAX_PIXELS = 4096 * 4096  # pixels of one image output kept (a figure at the worker's 72 dpi is far smaller)
MAX_MESSAGE = 2000  # characters of one check's message kept (what it quotes of the student's answer is cut)
MESSAGE_CUT = " ... [cut: longer than the feedback keeps]"
MAX_OUTPUTS = 20 * 2**20  # characters of outputs (text, base64 images and tracebacks) kept for one notebook's cells
OUTPUTS_LEFT_OUT = "[output left out: this notebook's cells printed and drew more than the {mb} MB the graded notebook keeps]\n"
# pixels of all the image outputs of one notebook: what a browser showing the graded notebook decodes (4 bytes a pixel).
# Within MAX_OUTPUTS, 1,000 PNGs of one colour, each 4096 x 4096 in 20 KB, would unpack into 64 GB there; a figure at
# the worker's 72 dpi has 160,000 pixels, and the course's notebooks draw a few dozen at most
MAX_NOTEBOOK_PIXELS = 2 * MAX_PIXELS
IMAGE_LEFT_OUT = ("[image left out: this notebook's images add up to more than the {pixels:,} pixels the graded notebook shows; "
                  "draw fewer or smaller figures]\n")


def source_notebook(root: Path, assignment: str) -> Path:
    return root / "solutions" / assignment / f"{assignment}.ipynb"


def json_depth(bare: bytes) -> int:
    """How deep objects and arrays nest in JSON text whose strings are blanked (`_JSON_STRING`): 0 for a number,
    1 for [] or {}, 2 for [[]]... Counted in the bytes, so a file too deep for any parser is still measured."""
    import numpy as np

    brackets = np.frombuffer(bare.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    if brackets.size == 0:
        return 0
    steps = np.where((brackets == ord("{")) | (brackets == ord("[")), 1, -1)
    return int(np.cumsum(steps).max())


def notebook_problem(path: str | os.PathLike) -> str | None:
    """Why the notebook at `path` is too big to read, as one line ("the notebook has 200,000 cells,
    over the 2,000 a notebook may have"), or None (also for a file that is not JSON: the reader says
    what is wrong). Its values are counted in its bytes (outside its strings) before any is built;
    only a notebook within MAX_CONTAINERS and MAX_VALUES is parsed, to count its cells."""
    if os.stat(path).st_size > MAX_NOTEBOOK_MB * 2**20:
        return f"the notebook is larger than {MAX_NOTEBOOK_MB} MB"
    with open(path, "rb") as f:
        data = f.read()
    bare = _JSON_STRING.sub(b'""', data)  # commas and brackets in text (a printed tensor) are not values
    containers = bare.count(b"{") + bare.count(b"[")
    if containers > MAX_CONTAINERS:
        return f"the notebook is made of {containers:,} JSON objects and arrays, over the {MAX_CONTAINERS:,} a notebook may have"
    values = bare.count(b",") + containers + 1
    if values > MAX_VALUES:
        return f"the notebook is made of {values:,} JSON values, over the {MAX_VALUES:,} a notebook may have"
    if (depth := json_depth(bare)) > MAX_DEPTH:
        return f"the notebook's JSON nests {depth:,} levels deep, over the {MAX_DEPTH} a notebook may have"
    try:
        cells = json.loads(data.decode("utf-8-sig")).get("cells")
    except (ValueError, RecursionError, AttributeError):
        return None
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        return f"the notebook has {len(cells):,} cells, over the {MAX_CELLS:,} a notebook may have"
    return None


def _read_notebook(path: Path):
    import nbformat

    if not path.is_file():
        raise UserError(f"notebook {path} does not exist; pass the path of a .ipynb file")
    problem = notebook_problem(path)
    if problem is not None:
        raise ValueError(problem)
    # a UTF-8 byte-order mark (some editors write one) is no part of the notebook: nbformat refuses it, not the cells
    return nbformat.reads(path.read_bytes().decode("utf-8-sig"), as_version=4)


MAX_COPIED_FILES = 500  # a submission's own files copied (nbgrader's merge scans a folder once per file it holds)
MAX_COPY_DEPTH = 16  # folders below the submission's that are copied


def copy_submission_files(src: Path, dst: Path, limits: Limits, skip: set[str], first: tuple[str, ...] = ()) -> list[str]:
    """The submission's own files, up to the file and disk limits, `first` (names at its top, such as
    nbgrader's timestamp.txt) before the rest: links, anything but a regular file (a named pipe would hang the
    copy), a file with other names elsewhere (a hard link: to the model answers, on the same disk), huge
    files, files past MAX_COPIED_FILES, folders below MAX_COPY_DEPTH and paths the system cannot open are
    skipped, and each folder and file is charged at least one 4 KiB block, as the disk limit charges them, so
    that a submission of a million empty files is cut off at the budget instead of holding the grader before
    its limits start. Names in `skip` are left out (files at any depth, folders at its top). Returns the paths
    (relative to `src`) skipped."""
    budget, copied, skipped = limits.disk_mb * 2**20 // 2, 0, []

    def copy(path: Path) -> None:
        nonlocal budget, copied
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        except OSError:  # a path too long to open
            skipped.append(str(path.relative_to(src)))
            return
        size = max(info.st_size, 4096)
        if (not stat.S_ISREG(info.st_mode) or info.st_nlink > 1 or info.st_size > limits.file_mb * 2**20 or size > budget
                or copied >= MAX_COPIED_FILES):
            skipped.append(str(path.relative_to(src)))
            return
        budget -= size
        copied += 1
        target = dst / path.relative_to(src)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        except OSError:
            skipped.append(str(path.relative_to(src)))

    for name in first:
        copy(src / name)
    for folder, dirs, files in os.walk(src):
        depth = len(Path(folder).relative_to(src).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (depth == 0 and d in skip)) if depth < MAX_COPY_DEPTH else []
        budget -= 4096
        if budget < 0:
            break
        for name in sorted(files):
            if name not in skip and not (depth == 0 and name in first):
                copy(Path(folder) / name)
    return skipped


def _text(value: str, limit: int) -> str:
    """Untrusted text cut to `limit` and writable as UTF-8 (a lone surrogate becomes "?")."""
    return value[:limit].encode("utf-8", "replace").decode("utf-8")


def _message(message: str) -> str:
    """A check's message for the record: one line of at most MAX_MESSAGE characters. A check may quote
    what the student's code gave ("diagnosis['run_1'] = '...' is not one of ...", a file's name), and
    a 100 MB string there would otherwise be copied into every record, results file, graded notebook
    and printed line; a name holding a newline would add lines of its own to the test cell's output
    ("a3 ...: 6/6 points" under the real 0/6), an escape sequence would colour or hide them."""
    message = str(message)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - len(MESSAGE_CUT)] + MESSAGE_CUT
    return _text(printable(message), MAX_MESSAGE)


def _png_ok(data: bytes) -> bool:
    """A PNG of at most MAX_PIXELS pixels (its header's size). A PNG of 2 MB can claim 50,000 x 50,000
    pixels of one colour: the browser that shows the feedback (the instructor's formgrader) would
    unpack 10 GB for it."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    if data[12:16] != b"IHDR" or len(data) < 24:  # no size to read: a browser shows nothing of it
        return True
    width, height = image_size(data)
    return width * height <= MAX_PIXELS


JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # the SOF markers, which hold a JPEG's size (not DHT, JPG, DAC)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) a browser decodes for a PNG (its IHDR) or a JPEG (its first frame header), or
    None for any other bytes, or a header that does not say."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in JPEG_FRAMES:
            if at + 9 > len(data) or length < 7:
                return None
            height, width = int.from_bytes(data[at + 5 : at + 7], "big"), int.from_bytes(data[at + 7 : at + 9], "big")
            return (width, height) if height else None  # height 0: given later (DNL), unknown here
        if marker == 0xDA or length < 2:  # image data before any frame header: no size
            return None
        at += 2 + length
    return None


def _clean_outputs(outputs: Any) -> list[dict]:
    """The worker's outputs for one cell, kept only when they are well-formed nbformat outputs."""
    clean: list[dict] = []
    if not isinstance(outputs, list):
        return clean
    for out in outputs[:20]:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream" and isinstance(out.get("text"), str):
            clean.append({"output_type": "stream", "name": "stdout", "text": _text(out["text"], MAX_TEXT)})
        elif kind in ("execute_result", "display_data") and isinstance(out.get("data"), dict):
            data = {}
            text = out["data"].get("text/plain")
            if isinstance(text, str):
                data["text/plain"] = _text(text, MAX_TEXT)
            png = out["data"].get("image/png")
            if isinstance(png, str) and len(png) <= MAX_IMAGE:
                try:
                    if _png_ok(base64.b64decode(png, validate=True)):
                        data["image/png"] = png
                except (binascii.Error, ValueError):
                    pass
            if data:
                clean.append({"output_type": "display_data", "data": data, "metadata": {}})
    return clean


def _png_pixels(png: str) -> int:
    """Pixels a browser decodes for base64 PNG `png` (an output `_clean_outputs` kept): its header's size, 0 without one."""
    size = image_size(base64.b64decode(png[:44]))  # the signature and IHDR's size: the first 24 bytes
    return size[0] * size[1] if size else 0


def _within_pixels(outputs: list[dict], left: int) -> tuple[list[dict], int]:
    """`outputs` with each PNG past `left` pixels (what is left of the notebook's MAX_NOTEBOOK_PIXELS) replaced by a line
    saying so, and what is then left."""
    kept = []
    for out in outputs:
        png = out.get("data", {}).get("image/png")
        if png is not None:
            pixels = _png_pixels(png)
            if pixels > left:
                kept.append({"output_type": "stream", "name": "stdout", "text": IMAGE_LEFT_OUT.format(pixels=MAX_NOTEBOOK_PIXELS)})
                rest = {key: value for key, value in out["data"].items() if key != "image/png"}
                if rest:
                    kept.append({**out, "data": rest})
                continue
            left -= pixels
        kept.append(out)
    return kept, left


def _error_size(error: dict | None) -> int:
    return 0 if error is None else len(error["ename"]) + len(error["evalue"]) + sum(len(line) for line in error["traceback"])


def _clean_error(error: Any) -> dict | None:
    if not isinstance(error, dict):
        return None
    name = error.get("ename") if isinstance(error.get("ename"), str) else "Error"
    value = error.get("evalue") if isinstance(error.get("evalue"), str) else ""
    lines = error.get("traceback") if isinstance(error.get("traceback"), list) else []
    return {"output_type": "error", "ename": _text(name, 80), "evalue": _text(value, 300), "traceback": [_text(str(x), 2000) for x in lines[:8]]}


class _Session:
    """One submission's worker(s): start, run the cells, restart after a loss."""

    def __init__(
        self, cells: list[dict], scratch: Path, limits: Limits, staged: Path | None, masked: tuple[str, ...], sandbox: bool, gpu: bool
    ) -> None:
        from reference.grading.notebook import source_digest

        self.cells, self.scratch, self.limits, self.staged = cells, scratch, limits, staged
        self.digests = {cell["index"]: source_digest(cell["source"]) for cell in cells}
        self.masked, self.sandbox, self.gpu = masked, sandbox, gpu
        self.hidden: tuple[Path, ...] = ()  # the course folder, never seen in the sandbox (session_for sets it)
        self.deadline = time.monotonic() + limits.wall_s
        self.check_deadline = self.deadline
        self.worker: Worker | None = None
        self.channel: Channel | None = None
        self.starts = 0
        self.cells_output: dict[str, dict] = {}
        self.stopped: list[str] = []  # why each worker ended early

    def start(self) -> dict[int, dict]:
        """A fresh worker that has run every cell: {cell index: {"outputs", "error"}}."""
        self.close()
        self.starts += 1
        self.check_deadline = self.deadline
        self.worker = Worker(
            self.scratch, self.limits, deadline=self.deadline, staged=self.staged, masked=self.masked, sandbox=self.sandbox, gpu=self.gpu,
            hidden=self.hidden,
        )
        self.worker.time_limit = f"it ran past the submission's wall-time limit ({self.limits.wall_s:g} s)"
        # a worker started again after a check: its cells read what the earlier worker wrote into scratch as the check ran
        # (the check's inputs), so what it prints is never quoted (a restarted worker's cells printed a hidden input and
        # exited, and the next check's message quoted it)
        self.worker.quote_tail = self.starts == 1
        from reference.grading.proxy import Channel, cells_budget

        self.channel = Channel(self.worker.fd_in, self.worker.fd_out, self.worker.lost, lambda: self.check_deadline)
        self.channel.send({"op": "execute", "cells": self.cells, "cell_s": self.limits.cell_s})
        results: dict[int, dict] = {}
        kept, pixels = MAX_OUTPUTS, MAX_NOTEBOOK_PIXELS
        # the replies come one per cell, in the cells' order, within `cells_budget` bytes together (the worker sends what
        # is past it as a line saying so): a forged worker answered for a cell that does not exist with 120 MB, again and
        # again until the wall limit, and the grader spent 11 s of its own CPU (uncounted) for 2 s of the sandbox's
        expected, left = iter(cell["index"] for cell in self.cells), cells_budget(len(self.cells))
        while True:
            self._cell_deadline()
            reply = self.channel.receive(most=left)
            left -= self.channel.received
            if not isinstance(reply, dict) or reply.get("done") is True:
                if self.worker.over_disk():  # files the cells left count, even if they finished between two looks
                    self.channel.receive()  # the worker is gone: raises SubmissionLost naming the limit
                return results
            index = reply.get("cell")
            if type(index) is not int or index != next(expected, None):
                self.channel.protocol_error("a reply for a cell out of the notebook's order")
            # only the cells sent, each once: a forged worker could otherwise answer for millions of
            # cells, or send 40 MB of outputs per cell, and grow the record past the grader's memory
            if isinstance(index, int) and not isinstance(index, bool) and index in self.digests and index not in results:
                outputs, pixels_left = _within_pixels(_clean_outputs(reply.get("outputs")), pixels)
                size = sum(len(out.get("text", "")) + sum(len(v) for v in out.get("data", {}).values()) for out in outputs)
                if size > kept:
                    outputs = [{"output_type": "stream", "name": "stdout", "text": OUTPUTS_LEFT_OUT.format(mb=MAX_OUTPUTS // 2**20)}]
                else:
                    pixels = pixels_left
                kept -= min(size, kept)
                # a cell's traceback counts too (8 lines of 2,000 characters: 32 MB over 2,000 cells): past the budget, its
                # exception's name is kept and the rest left out
                error = _clean_error(reply.get("error"))
                if _error_size(error) > kept:
                    error = {"ename": error["ename"], "evalue": "", "traceback": [OUTPUTS_LEFT_OUT.format(mb=MAX_OUTPUTS // 2**20)]}
                kept -= min(_error_size(error), kept)
                results[index] = {"digest": self.digests[index], "outputs": outputs, "error": error}

    def _cell_deadline(self) -> None:
        """The next cell's reply is due within the cell limit (the worker interrupts the cell there)
        and CELL_GRACE_S more: a cell that will not stop ends its worker then, not at the wall limit."""
        self.check_deadline = min(self.deadline, time.monotonic() + self.limits.cell_s + CELL_GRACE_S)
        if self.check_deadline < self.deadline:
            self.worker.time_limit = f"a cell ran past its time limit ({self.limits.cell_s:g} s) and did not stop when interrupted"
        else:
            self.worker.time_limit = f"it ran past the submission's wall-time limit ({self.limits.wall_s:g} s)"

    def for_check(self) -> RemoteSubmission:
        from reference.grading.proxy import RemoteSubmission

        self.check_deadline = min(self.deadline, time.monotonic() + self.limits.check_s)
        self.worker.quote_tail = False  # a hidden check's inputs, printed by the student's code, must not reach the feedback
        if self.check_deadline < self.deadline:
            self.worker.time_limit = f"one check ran past its time limit ({self.limits.check_s:g} s)"
        else:
            self.worker.time_limit = f"it ran past the submission's wall-time limit ({self.limits.wall_s:g} s)"
        return RemoteSubmission(self.channel, self.scratch / "work")

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.worker = self.channel = None


def _cells_to_run(nb, test_ids: set[str]) -> list[dict]:
    """The submission's code cells, without nbgrader test cells (by the source's grade ids too)."""
    return [
        {"index": index, "source": cell.source}
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and not is_test_cell(cell) and cell.metadata.get("nbgrader", {}).get("grade_id") not in test_ids
    ]


@contextlib.contextmanager
def session_for(
    notebook: str | os.PathLike,
    assignment: str,
    root: str | os.PathLike,
    *,
    limits: Limits | None = None,
    sandbox: bool = True,
    gpu: bool = False,
) -> Iterator[_Session]:
    """A worker that has run the notebook's cells (`session.cells_output`: their outputs;
    `session.stopped`: why a worker ended early, if one did), removed with its scratch on exit."""
    root, notebook = Path(root).resolve(), Path(notebook).resolve()
    limits = limits or Limits()
    if sandbox and (problem := sandbox_problem()):
        raise SandboxUnavailable(problem)  # the host's fault: stop, rather than score every submission 0
    if (problem := host_limit_problem(limits)):
        raise SandboxUnavailable(problem)
    module = load_module(check_module_path(assignment, root))
    source = source_notebook(root, assignment)
    test_ids = {cell.grade_id for cell in graded_cells(_read_notebook(source))} if source.is_file() else set()
    nb = _read_notebook(notebook)
    scratch = staged_root = session = None
    try:  # made inside: a stop (GradingStopped) between the two left the first behind
        with stops.held():  # nor may a stop come between a folder's mkdtemp and its name's assignment
            scratch = make_scratch()
            staged_root = make_scratch("gan-course-staged-")
        copy_submission_files(notebook.parent, scratch / "work", limits, skip={notebook.name})
        masked = tuple(getattr(module, "MASKED", ()))
        try:
            staged = stage_reference(staged_root, masked) if sandbox else None
        except OSError as err:  # the host's fault (an unreadable file of the package): stop, never score the class 0
            raise SandboxUnavailable(_staging_problem(err)) from None
        session = _Session(_cells_to_run(nb, test_ids), scratch, limits, staged, masked, sandbox, gpu)
        session.hidden = (root, notebook.parent)  # the course, and the submission's own folder (copied into scratch)
        try:
            session.cells_output = {str(k): v for k, v in session.start().items()}
        except SubmissionLost as err:
            session.stopped.append(str(err))
        yield session
    finally:
        with stops.held():  # a second SIGTERM (one every second while stopping) cut the clean-up short, leaving a folder
            if session is not None:
                session.close()
            for made in (scratch, staged_root):  # whatever the student left there: any depth, any path length, any permissions
                if made is not None:
                    remove_scratch(made)


PROBE_S = 60.0  # the longest the limits' trial run may take (a CPU share of 0.0001 core would hold it for the wall time)
PROBE_CELL = "import torch\nx = torch.zeros(8) + 1\n"  # what every submission does first
MIN_CHECK_S = 1.0  # a check or a cell limit below this times out every submission's checks or cells


def limits_problem(assignment: str, root: str | os.PathLike, limits: Limits, *, sandbox: bool = True) -> str | None:
    """Why no submission could be graded under `limits` (one line naming the limit), else None. A notebook of one
    cell that imports torch, as every submission does, is run under them first (for at most PROBE_S): limits that
    stop it (--memory-mb 10, --wall-s 0.001, --cpus 0.0001) gave every student 0, recorded in the gradebook with a
    message that blamed the submission."""
    for name, flag in (("check_s", "--check-s"), ("cell_s", "--cell-s")):
        if getattr(limits, name) < MIN_CHECK_S:
            return (f"{flag} {getattr(limits, name):g} s leaves no submission time to run a {name[:-2]}: give at least "
                    f"{MIN_CHECK_S:g} s (default {getattr(Limits(), name):g}; or c.GanCourseGrading.{name} in nbgrader_config.py)")
    trial = dataclasses.replace(limits, wall_s=min(limits.wall_s, PROBE_S))
    why = _trial_failure(assignment, root, trial, sandbox)
    if why is None or (trial.wall_s < limits.wall_s and why.endswith(trial_wall_text(trial))):
        return None  # ran, or stopped by the trial's own cap, not a limit the instructor set (a slow file system)
    # a memory limit shows in many ways (a MemoryError, the supervisor's stop, an ImportError "failed to map segment",
    # a crash before the worker answers): the same trial under the default memory limit tells whether it was memory
    default_mb = Limits().memory_mb
    if ("MemoryError" in why or "MB of memory (the memory limit)" in why
            or (limits.memory_mb < default_mb
                and _trial_failure(assignment, root, dataclasses.replace(trial, memory_mb=default_mb), sandbox) is None)):
        why = f"it ran out of memory starting Python with torch under --memory-mb {limits.memory_mb:,}"
    return (f"no submission can be graded under these limits: a notebook whose one cell imports torch did not run ({why}); "
            f"raise the limit it names (its flag, or c.GanCourseGrading.<name> in nbgrader_config.py; the defaults fit the "
            f"course's assignments)")


def _trial_failure(assignment: str, root: str | os.PathLike, trial: Limits, sandbox: bool) -> str | None:
    """Why the one-cell notebook of PROBE_CELL did not run under `trial` (the supervisor's stop or the cell's
    error), else None."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="gan-course-limits-") as tmp:
        path = Path(tmp) / f"{assignment}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE_CELL)]), path)
        with session_for(path, assignment, root, limits=trial, sandbox=sandbox) as session:
            error = session.cells_output.get("0", {}).get("error")
            stopped = list(session.stopped)
    if stopped:
        return stopped[0]
    return f"{error.get('ename', '')}: {error.get('evalue', '')}" if error else None


def trial_wall_text(limits: Limits) -> str:
    """The end of the reason a worker gives when it ran past `limits.wall_s` (sandbox.Worker.time_limit)."""
    return f"ran past the submission's wall-time limit ({limits.wall_s:g} s)"


def _staging_problem(err: OSError) -> str:
    """One line for a failed copy of the `reference` package into a sandbox: the first file that
    could not be copied, why, and the fix."""
    from reference.grading.sandbox import reference_dir

    first = err.args[0][0] if isinstance(err, shutil.Error) and err.args and isinstance(err.args[0], list) and err.args[0] else None
    if isinstance(first, tuple) and len(first) == 3:
        why = re.sub(r"^\[Errno \d+\] ", "", str(first[2])).split(": ")[0]
        what = f"{first[0]}: {why}"
    else:
        what = f"{getattr(err, 'filename', None) or reference_dir()}: {err.strerror or err}"
    if "No space left on device" in what or getattr(err, "errno", None) == errno.ENOSPC:
        return (f"the grader cannot copy the reference package into the sandbox ({what}): the temporary folder "
                f"{tempfile.gettempdir()} is full; free some room there, or point TMPDIR at a folder with more, then grade again")
    return (f"the grader cannot copy the reference package into the sandbox ({what}); make it readable by the user "
            f"who grades (chmod -R a+rX {reference_dir()}), then grade again")


def _grade_ids(nb: Any) -> set[str]:
    """The grade ids of a notebook's nbgrader cells (answers, tests, written answers)."""
    ids = set()
    for cell in getattr(nb, "cells", None) or []:
        meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            ids.add(meta["grade_id"])
    return ids


def other_assignment(notebook: Path, assignment: str, root: Path) -> str | None:
    """The course's other assignment whose notebook `notebook` is (a student who submitted a2's notebook
    as a7's), told by its nbgrader cells: none of `assignment`'s, and most of its own are the other's.
    None otherwise, also for a notebook whose cells carry no nbgrader ids (pasted into a new one)."""
    try:
        ids = _grade_ids(_read_notebook(notebook))
    except Exception:  # noqa: BLE001 - unreadable: the grading says so
        return None
    mine = source_notebook(root, assignment)
    if not ids or not mine.is_file() or ids & _grade_ids(_read_notebook(mine)):
        return None
    for folder in sorted((root / "solutions").iterdir()):
        other = source_notebook(root, folder.name)
        if folder.name != assignment and other.is_file() and 2 * len(ids & _grade_ids(_read_notebook(other))) > len(ids):
            return folder.name
    return None


WRONG_NOTEBOOK = ("this is {other}'s notebook (its graded cells are {other}'s), not {assignment}'s: nothing of {assignment} "
                  "was graded; submit {assignment}.ipynb, the notebook of this assignment, with your answers in it")


def _test_cells(root: Path, assignment: str) -> list[GradedCell]:
    source = source_notebook(root, assignment)
    return graded_cells(_read_notebook(source)) if source.is_file() else []


def check_order(checks: dict[str, Callable], cells: list[GradedCell], assignment: str, only: Iterable[str] | None = None) -> list[str]:
    """The names of `checks` (or `only` these) in the order the source notebook's test `cells` call
    them, then any others in the check module's order: how a submission's checks run, graded or in
    this process (a check may use what an earlier one left in the notebook's folder)."""
    order = [call.name for cell in cells for call in cell.calls if call.assignment == assignment]
    order += [name for name in checks if name not in order]
    wanted = None if only is None else set(only)
    return [name for name in dict.fromkeys(order) if name in checks and (wanted is None or name in wanted)]


def checks_in_order(assignment: str, root: str | os.PathLike, only: Iterable[str] | None = None) -> dict[str, Callable]:
    """{name: check} of `assignment` in `check_order`."""
    checks = load_checks(assignment, root)
    return {name: checks[name] for name in check_order(checks, _test_cells(Path(root), assignment), assignment, only)}


def grade_submission(
    notebook: str | os.PathLike,
    assignment: str,
    root: str | os.PathLike,
    *,
    student: str = "",
    limits: Limits | None = None,
    sandbox: bool = True,
    gpu: bool = False,
    only: Iterable[str] | None = None,
) -> dict:
    """Grade one submitted notebook; return its record (see the module docstring). `only`: run just
    these checks (the others are left out of the record), e.g. to test one check's verdicts."""
    root, notebook = Path(root).resolve(), Path(notebook).resolve()
    checks = load_checks(assignment, root)
    cells_of_tests = _test_cells(root, assignment)
    order = check_order(checks, cells_of_tests, assignment, only)
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "assignment": assignment,
        "student": student,
        "notebook": notebook.stem,
        "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "notebook_sha256": _sha256(notebook),  # the merge refuses a notebook changed since (its scores are this one's)
        "cells": {},
        "checks": {},
        "tests": {},
        "stopped": [],
    }
    started = time.monotonic()

    def score(name: str, earned: float, message: str) -> None:
        fn = checks[name]
        record["checks"][name] = {"earned": earned, "points": fn.points, "message": _message(message), "title": title(fn)}

    if notebook.is_file() and (other := other_assignment(notebook, assignment, root)):
        for name in order:
            score(name, 0.0, WRONG_NOTEBOOK.format(other=other, assignment=assignment))
        record["seconds"] = round(time.monotonic() - started, 2)
        _score_tests(record, cells_of_tests, checks, assignment)
        return record
    try:
        with session_for(notebook, assignment, root, limits=limits, sandbox=sandbox, gpu=gpu) as session:
            record["cells"] = session.cells_output
            record["stopped"] = session.stopped
            lost = session.stopped[-1] if session.stopped else None
            with quiet():
                for name in order:
                    if lost is None and session.channel.broken:
                        if session.starts > RESTARTS or time.monotonic() >= session.deadline - 1:
                            lost = f"not graded: {session.stopped[-1]}"
                        else:
                            try:
                                session.start()
                            except SubmissionLost as err:
                                session.stopped.append(str(err))
                                lost = str(err)
                    if lost is not None:
                        score(name, 0.0, lost)
                        continue
                    score(name, *run_check(checks[name], session.for_check()))
                    if session.channel.broken and session.channel.broken not in session.stopped:
                        session.stopped.append(session.channel.broken)
    except SandboxUnavailable:
        raise
    except (UserError, ValueError, OSError) as err:
        if isinstance(err, UserError) and not notebook.is_file():
            raise
        message = f"the submitted notebook could not be graded ({type(err).__name__}: {str(err)[:200]})"
        for name in order:
            score(name, 0.0, message)
    except Exception as err:  # noqa: BLE001 - nbformat's errors for an unreadable notebook
        message = f"the submitted notebook could not be read ({type(err).__name__}: {str(err)[:200]})"
        for name in order:
            score(name, 0.0, message)
    record["seconds"] = round(time.monotonic() - started, 2)
    _score_tests(record, cells_of_tests, checks, assignment)
    return record


def _score_tests(record: dict, cells: list[GradedCell], checks: dict[str, Callable], assignment: str) -> None:
    """Each test cell's lines and earned points, from its checks' results."""
    for cell in cells:
        lines, earned = [], 0.0
        for call in cell.calls:
            result = record["checks"].get(call.name)
            if call.assignment != assignment or result is None:
                continue
            lines.append(score_line(assignment, checks[call.name], result["earned"], result["message"]))
            earned += result["earned"]
        record["tests"][cell.grade_id] = {"lines": lines, "earned": min(earned, cell.points), "points": cell.points}


def scores(record: dict) -> dict[str, tuple[float, str]]:
    """{check name: (earned, message)} of a record."""
    return {name: (r["earned"], r["message"]) for name, r in record["checks"].items()}


# ---------------------------------------------------------------------------------------------
# Many submissions
# ---------------------------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """"3/40" -> (3, 40); UserError unless 1 <= K <= N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UserError(f"--shard {text!r}: give K/N with 1 <= K <= N, e.g. --shard 3/40")
    return int(match[1]), int(match[2])


def shard(items: Iterable[str], spec: str | None) -> list[str]:
    """The items of shard K/N: every N-th of the sorted items, starting at the K-th."""
    ordered = sorted(items)
    if not spec:
        return ordered
    k, n = parse_shard(spec)
    return ordered[k - 1 :: n]


class GradingStopped(BaseException):
    """Raised in a grading process told to stop (SIGTERM: its parent stopped or died), so that the
    sandbox is ended and the scratch folder removed on the way out. Not an Exception: a check's
    failure handling lets it through."""


_grading = False  # whether this grading process is grading a submission now
_stopping: list[float] = []  # when GradingStopped was last raised
STOP_REPEAT_S = 5.0  # a SIGTERM this soon after the last one lets the clean-up of the first go on


def _stop_grading(signum, frame) -> None:
    if not _grading:
        os._exit(128 + signum)
    if stops.deferred(_grading_stopped):  # raised between mkdtemp and the assignment that names the folder, or
        return  # inside its removal, it left the folder behind: raised once that is done (reference.stops)
    if _stopping and time.monotonic() - _stopping[-1] < STOP_REPEAT_S:
        return
    raise _grading_stopped()


def _grading_stopped() -> GradingStopped:
    """The stop to raise, its time noted (a repeat within STOP_REPEAT_S lets its clean-up go on)."""
    _stopping.append(time.monotonic())
    return GradingStopped()


def _watch_parent(parent: int) -> None:
    """A grading process's watch on its parent: once the parent is gone, SIGTERM to this process every second
    (an exception raised while a garbage-collection callback runs is dropped by Python: one SIGTERM is not
    enough), and the process ended outright STOP_WAIT_S later if it has not ended by then."""
    while os.getppid() == parent:
        time.sleep(0.5)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.0)
    os._exit(128 + signal.SIGTERM)


def _grading_process_start(parent: int) -> None:
    """Initializer of `grade_many`'s grading processes. Ctrl-C reaches the whole terminal's process
    group: the grading processes ignore it and the command (their parent) stops them. SIGTERM unwinds
    the submission being graded (`GradingStopped`: its sandbox ended, its scratch removed) and ends
    the process. When the parent dies, however it dies (`kill -9` and the out-of-memory killer
    included), the kernel sends SIGTERM (PR_SET_PDEATHSIG) and `_watch_parent` sends it again until
    the process ends. Without this the grading processes went on grading, orphaned."""
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_grading)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    before = sys.unraisablehook

    def unraisable(info) -> None:  # a stop dropped in a callback: raised again, not printed
        if not isinstance(info.exc_value, GradingStopped):
            before(info)

    sys.unraisablehook = unraisable


def _pool_start() -> dict:
    """The ProcessPoolExecutor arguments of the grading processes (see `_grading_process_start`)."""
    return {"mp_context": multiprocessing.get_context("spawn"), "initializer": _grading_process_start, "initargs": (os.getpid(),)}


def limits_problem_apart(assignment: str, root: str | os.PathLike, limits: Limits, *, sandbox: bool = True) -> str | None:
    """`limits_problem`, tried in a grading process of its own: a stop of the command, or its kill -9, ends the
    trial's sandbox and removes its scratch, as it does a grading's."""
    with _stopped_on_interrupt(concurrent.futures.ProcessPoolExecutor(max_workers=1, **_pool_start())) as pool:
        try:
            return pool.submit(_try_limits, (assignment, str(root), limits, sandbox)).result()
        except concurrent.futures.process.BrokenProcessPool:  # the trial's process died (the host's OOM killer): grade
            return None  # on, each submission then tells its own


def _try_limits(args: tuple) -> str | None:
    global _grading
    assignment, root, limits, sandbox = args
    _grading = True
    try:
        return limits_problem(assignment, root, limits, sandbox=sandbox)
    except GradingStopped:  # its sandbox is ended and its scratch removed: end
        os._exit(128 + signal.SIGTERM)
    finally:
        _grading = False


def _grade_one(args: tuple) -> dict:
    global _grading
    notebook, assignment, root, student, limits, sandbox, gpu = args
    import torch

    torch.set_num_threads(1)  # the trusted side's numbers must not depend on --jobs either
    _grading = True
    try:
        return grade_submission(notebook, assignment, root, student=student, limits=limits, sandbox=sandbox, gpu=gpu)
    except GradingStopped:  # its sandbox is ended and its scratch removed: end, recording nothing
        os._exit(128 + signal.SIGTERM)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - a grader failure on one submission is reported, not fatal
        return {"version": RECORD_VERSION, "assignment": assignment, "student": student, "notebook": Path(notebook).stem,
                "failed": f"{type(err).__name__}: {err}"[:500], "cells": {}, "checks": {}, "tests": {}, "stopped": []}
    finally:
        _grading = False


def _stop_pool(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop a pool's grading processes now (each ends its sandbox and removes its scratch on the way
    out) and wait for them, at most STOP_WAIT_S."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + STOP_WAIT_S
    while (alive := [p for p in processes if p.is_alive()]) and time.monotonic() < deadline:
        for process in alive:  # again every second: one raised while a garbage-collection callback ran is dropped
            with contextlib.suppress(OSError, ValueError):
                process.terminate()
        for process in alive:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                process.join(max(0.0, min(1.0 / len(alive), deadline - time.monotonic())))
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            if process.is_alive():
                process.kill()


@contextlib.contextmanager
def _stopped_on_interrupt(pool: concurrent.futures.ProcessPoolExecutor) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """`with pool:`, except that Ctrl-C or SIGTERM (a KeyboardInterrupt here) stops the grading
    processes at once instead of waiting for the submissions they are grading."""
    with pool:
        try:
            yield pool
        except KeyboardInterrupt:
            if hasattr(signal, "setitimer"):  # the stop has arrived: the command line's redelivery of it is not needed
                signal.setitimer(signal.ITIMER_REAL, 0)
            _stop_pool(pool)
            raise


def grade_many(
    submissions: list[tuple[str, Path]],
    assignment: str,
    root: Path,
    *,
    jobs: int = 1,
    limits: Limits | None = None,
    sandbox: bool = True,
    gpu: bool = False,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Grade [(student, notebook)] `jobs` at a time, each in its own grading process; records in
    the order given. A grading process that dies costs only its submission. A check module's
    `prepare()`, if it has one, runs here first (what every grading process would otherwise
    repeat: the classifier the learning checks use, trained once into the grader's cache)."""
    limits = limits or Limits()
    start = _pool_start()
    prepare = getattr(load_module(check_module_path(assignment, root)), "prepare", None)
    if callable(prepare):  # e.g. train the grader's classifier once, not once per grading process
        prepare()
    tasks = [(str(nb), assignment, str(root), student, limits, sandbox, gpu) for student, nb in submissions]
    results: dict[int, dict] = {}
    pending = list(range(len(tasks)))
    while pending:
        with _stopped_on_interrupt(concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), **start)) as pool:
            futures = {pool.submit(_grade_one, tasks[i]): i for i in pending}
            broken = []
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    broken.append(i)
                    continue
                if progress is not None:
                    progress(results[i])
        if broken and len(broken) == len(pending):  # nothing finished: grade them one by one, each alone
            for i in broken:
                with _stopped_on_interrupt(concurrent.futures.ProcessPoolExecutor(max_workers=1, **start)) as pool:
                    try:
                        results[i] = pool.submit(_grade_one, tasks[i]).result()
                    except concurrent.futures.process.BrokenProcessPool:
                        results[i] = {"version": RECORD_VERSION, "assignment": assignment, "student": tasks[i][3],
                                      "notebook": Path(tasks[i][0]).stem, "failed": "the grading process died",
                                      "cells": {}, "checks": {}, "tests": {}, "stopped": []}
            broken = []
        pending = broken
    return [results[i] for i in range(len(tasks))]


def _sha256(path: Path) -> str | None:
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() if hasattr(hashlib, "file_digest") else hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def write_results(path: Path, records: list[dict]) -> None:
    """Records as JSON lines, written atomically."""
    from reference.io import write_text_atomic

    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def sandbox_default(sandbox: bool | None) -> bool:
    """`sandbox` as given; None: sandboxed where bubblewrap can make a sandbox (`sandbox_problem`), a
    plain worker process otherwise (tests and trusted notebooks only; `gan-course autograde` refuses
    instead)."""
    return sandbox_problem() is None if sandbox is None else sandbox


def grade_notebook(
    path: str | os.PathLike,
    assignment: str,
    root: str | os.PathLike | None = None,
    *,
    sandbox: bool | None = None,
    limits: Limits | None = None,
    only: Iterable[str] | None = None,
) -> dict[str, tuple[float, str]]:
    """Grade the notebook at `path` with every check of `assignment` (or `only` these), its cells
    in a worker, the checks here: {check name: (earned points, message)}."""
    from reference.grading.local import course_root

    base = Path(root) if root is not None else course_root()
    if base is None:
        raise UserError(f"no course root above {Path.cwd()}; pass root= or run this in the course folder")
    return scores(grade_submission(path, assignment, base, limits=limits, sandbox=sandbox_default(sandbox), only=only))
