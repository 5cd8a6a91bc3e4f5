"""More red-team attacks on the grading runtime, each as cheap as possible (no whole grading run).

- Script in the feedback: the autograded notebook is shown as HTML to the instructor (nbgrader's
  formgrader, inside their logged-in Jupyter session, where a script can call Jupyter's API and
  run code as the instructor) and to the student (`nbgrader generate_feedback`). nbconvert passes
  a markdown cell's HTML through as it is, so a student's markdown cell holding a <script>, an
  onerror= handler or a javascript: link ran in the viewer's browser. `reference.grading.bridge`
  now shows such a cell as text, and leaves every other cell exactly as the student wrote it.
- A file read through a linked folder: `read_scratch_file` refused it, but only after opening it
  outside scratch (a named pipe's writer went on; a device could start). Now nothing outside
  scratch is opened.
- Escape sequences in the instructor's terminal: a worker that exits is quoted ("its last
  output: ...") in the line `gan-course autograde` prints; its control characters are now spaces.
- The host's kernel settings: bwrap 0.8 leaves /proc/sys writable, and a grader that is root maps
  the sandbox's root to its own: a submission could write kernel.core_pattern (run as root at the
  next crash). /proc/sys is now read-only in the sandbox.
- Pseudo-terminals: each counts against the host's one pty.max; the sandbox can open none.
- A sandbox that outlives its grading: ptrace lets the submission make bwrap's init clear the
  parent-death signal of --die-with-parent, and the grader's kill of bwrap left the sandbox running,
  unwatched. The grader now kills that init (so the whole PID namespace) itself.
"""

from __future__ import annotations

import re
import textwrap

import nbformat
import pytest

from reference.grading.bridge import fill

ATTACKS = {
    "script": "My answer. <script>fetch('/api/terminals', {method: 'POST'})</script>",
    "handler": 'An image: <img src="x" onerror="alert(document.cookie)">',
    "link": "[the derivation](javascript:alert(document.cookie))",
    "entity_in_scheme": '<a href="java&#x09;script:alert(1)">see here</a>',
    "upper_case": "<IMG SRC=JaVaScRiPt:alert(1)>",
    "iframe": '<iframe src="https://example.org"></iframe>',
    "svg": "<svg><script>alert(1)</script></svg>",
    "data_page": "<a href='data:text/html,<script>alert(1)</script>'>x</a>",
    "fence_in_source": "```` ``` <script>alert(1)</script>",
    "math_link": "the proof: $\\href{javascript:alert(1)}{\\text{here}}$",
}
HONEST = [
    "**D\\*(x)** is $p_{data}(x) / (p_{data}(x) + p_g(x))$, so $D^* < 1$ and `a < b`.\n\n"
    "```python\nif a < b:\n    pass\n```\n\n> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    "<b>bold</b>, <sub>x</sub>, <img src='attachment:curve.png'>, [a paper](https://arxiv.org/abs/1406.2661), "
    "<details><summary>more</summary>hidden</details>, <img src='data:image/png;base64,iVBORw0KGgo='>",
    "# Question 1: the minimax game\n\n- [ ] a task\n- [x] done",
    "see $\\href{https://arxiv.org/abs/1406.2661}{\\text{the paper}}$",
]
# a real tag (in text, nbconvert writes "<" as "&lt;") that runs code, or whose attribute does
RUNS = re.compile(r"<(script|iframe|svg)|<[^>]*\s(on\w+\s*=|(href|src)\s*=\s*[\"']?\s*(java\s*script|data:text))", re.I)


def _render(nb: nbformat.NotebookNode) -> str:
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    body, _ = HTMLExporter(config=Config({"HTMLExporter": {"template_name": "classic"}})).from_notebook_node(nb)
    return body[body.index("<body"):]  # the page's own scripts (MathJax, require.js) sit in its head


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_markdown_cell_that_would_run_script_in_the_feedback_is_shown_as_text(attack: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(ATTACKS[attack])]
    filled = fill(nb, {"cells": {}, "tests": {}})
    body = _render(filled)
    assert not RUNS.search(body), RUNS.search(body)
    source = filled.cells[0].source
    assert source.startswith("[The grader shows this cell as text: its HTML (")
    assert ATTACKS[attack] in source  # still readable for the hand grader


def test_honest_markdown_and_locked_cells_are_left_as_written():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in HONEST]
    locked = nbformat.v4.new_markdown_cell("<style>.x {}</style> the instructor's own", metadata={"nbgrader": {"locked": True}})
    nb.cells.append(locked)
    filled = fill(nb, {"cells": {}, "tests": {}})
    assert [cell.source for cell in filled.cells] == HONEST + [locked.source]


# ---------------------------------------------------------------------------------------------
# Files the grader reads from scratch: nothing outside it is ever opened
# ---------------------------------------------------------------------------------------------


def test_a_file_read_through_a_linked_folder_opens_nothing_outside_scratch(tmp_path):
    """A folder of the submission's that is a link out of scratch (planted while a check runs) must
    not lead the grader to open what is there: opening is an act of its own (a named pipe's writer
    goes on, a device starts). Here a writer waits on a named pipe outside; the read is refused,
    and the writer is still waiting, for the grader never opened the pipe."""
    import os
    import threading
    import time

    from reference.grading.checks import CheckFailure
    from reference.grading.submission import read_scratch_file

    scratch, outside = tmp_path / "scratch", tmp_path / "instructor"
    scratch.mkdir()
    outside.mkdir()
    os.mkfifo(outside / "grid.png")
    os.symlink(outside, scratch / "out")
    opened = threading.Event()

    def writer() -> None:
        with open(outside / "grid.png", "wb"):  # blocks until someone opens the pipe to read
            opened.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(0.5)  # the writer is waiting in open()
    try:
        for path in ("out/grid.png", scratch / "out" / "grid.png"):
            with pytest.raises(CheckFailure, match="grid.png"):
                read_scratch_file(scratch, path)
        assert not opened.wait(0.5), "the grader opened a named pipe outside scratch"
    finally:
        fd = os.open(outside / "grid.png", os.O_RDONLY | os.O_NONBLOCK)  # let the writer go
        thread.join(timeout=5)
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# What a submission printed, in the instructor's terminal
# ---------------------------------------------------------------------------------------------

ESCAPES = "\x1b]0;owned\x07\x1b[1A\x1b[2K\ralice: 18/18\x1b[1B"  # retitle the window, rewrite the line above


def test_a_summary_line_holds_no_control_characters():
    """`gan-course autograde` prints one line a submission; a reason it was stopped may quote what
    it printed, and an escape sequence there would drive the instructor's terminal."""
    from reference.grading.command import _summary

    record = {"student": "mallory", "checks": {"c": {"earned": 0.0, "points": 2.0}}, "stopped": [f"it printed {ESCAPES}"]}
    line = _summary(record)
    assert line.startswith("mallory: 0/2 (it printed ") and line.isprintable()
    record = {"student": "mallory", "checks": {}, "failed": f"OSError: {ESCAPES}"}
    assert _summary(record).isprintable()


def run_cell(tmp_path, monkeypatch, source: str, *, sandbox: bool | None = None, during=None):
    """Run `source` as a submission's only cell in a worker (sandboxed where bubblewrap can):
    (why its worker was stopped, the cell's printed text and error, what `during(session)` returned)."""
    from conftest import attack_course
    from reference.grading.runner import session_for
    from reference.grading.sandbox import Limits, sandbox_problem

    root = attack_course(tmp_path, monkeypatch)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, root / "attack.ipynb")
    sandbox = sandbox_problem() is None if sandbox is None else sandbox
    with session_for(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=60, check_s=30), sandbox=sandbox) as session:
        seen = during(session) if during is not None else None
        stopped, cell = list(session.stopped), session.cells_output.get("0", {})
    error = cell.get("error") or {}
    text = "".join(out.get("text", "") for out in cell.get("outputs", [])) + f"{error.get('ename', '')}: {error.get('evalue', '')}"
    return stopped, text, seen


def test_the_last_output_of_a_worker_that_exited_is_quoted_without_control_characters(tmp_path, monkeypatch):
    stopped, _, _ = run_cell(tmp_path, monkeypatch, f"import os\nos.write(2, {ESCAPES.encode()!r})\nos._exit(3)")
    assert len(stopped) == 1 and "exited (status 3)" in stopped[0] and "alice: 18/18" in stopped[0], stopped
    assert stopped[0].isprintable(), stopped


# ---------------------------------------------------------------------------------------------
# The host's kernel settings (a grader that is root maps the sandbox's root to the host's)
# ---------------------------------------------------------------------------------------------

needs_sandbox = pytest.mark.skipif(
    __import__("reference.grading.sandbox", fromlist=["x"]).sandbox_problem() is not None, reason="needs bubblewrap"
)


@needs_sandbox
def test_the_kernels_global_settings_cannot_be_written_from_the_sandbox(tmp_path, monkeypatch):
    """bwrap 0.8 leaves /proc/sys writable; graded by root, a submission could set kernel.core_pattern
    (a program the kernel then runs as the host's root at the next crash). Only opened for writing
    here, nothing written. A grader that is not root passes on the old code too."""
    source = """
        import os
        for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sys/kernel/pid_max"):
            try:
                os.close(os.open(path, os.O_WRONLY))
                print("writable", path)
            except OSError as err:
                print("refused", path, err.strerror)
    """
    _, text, _ = run_cell(tmp_path, monkeypatch, textwrap.dedent(source))
    assert text.count("refused") == 3 and "writable" not in text, text


@needs_sandbox
def test_the_sandbox_opens_no_pseudo_terminal(tmp_path, monkeypatch):
    """Every pseudo-terminal counts against the kernel's pty.max, one limit for the whole host (its
    logins, containers and the other sandboxes graded beside this one): a submission that opened
    thousands starved them all. None can be opened in the sandbox."""
    source = """
        import os
        try:
            os.openpty()
            print("opened a pty")
        except OSError as err:
            print("refused", err.strerror)
    """
    _, text, _ = run_cell(tmp_path, monkeypatch, textwrap.dedent(source))
    assert "refused" in text and "opened" not in text, text


# ---------------------------------------------------------------------------------------------
# A sandbox that outlives its grading
# ---------------------------------------------------------------------------------------------

MARKER = "4321.5"  # the sleep of the process that tries to outlive the sandbox: how it is found
OUTLIVE = """
    import ctypes, os, subprocess
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    NAMES = "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs"

    class Regs(ctypes.Structure):
        _fields_ = [(name, ctypes.c_ulonglong) for name in NAMES.split()]

    def call(pid, number, a=0, b=0):  # make the stopped tracee run one system call
        regs = Regs()
        libc.ptrace(12, pid, None, ctypes.byref(regs))  # PTRACE_GETREGS
        saved = Regs.from_buffer_copy(regs)
        regs.rip -= 2  # back onto the `syscall` instruction it waits in
        regs.rax, regs.rdi, regs.rsi, regs.orig_rax = number, a, b, 2**64 - 1
        libc.ptrace(13, pid, None, ctypes.byref(regs))  # PTRACE_SETREGS
        libc.ptrace(9, pid, None, None)  # PTRACE_SINGLESTEP
        os.waitpid(pid, 0x40000000)
        libc.ptrace(13, pid, None, ctypes.byref(saved))

    if libc.ptrace(16, 1, None, None) == 0:  # PTRACE_ATTACH to the sandbox's init (bwrap's)
        os.waitpid(1, 0x40000000)
        call(1, 157, 1, 0)  # prctl(PR_SET_PDEATHSIG, 0): --die-with-parent undone
        libc.ptrace(17, 1, None, None)  # PTRACE_DETACH
    subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
    print("started")
"""


def _marked() -> list[int]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and MARKER.encode() in open(f"/proc/{entry}/cmdline", "rb").read():
                found.append(int(entry))
        except OSError:
            continue
    return found


@needs_sandbox
@pytest.mark.skipif(__import__("platform").machine() != "x86_64", reason="the attack's system call numbers are x86-64's")
def test_a_sandbox_whose_init_forgot_its_parent_still_ends_with_its_grading(tmp_path, monkeypatch):
    """The submission ptraces bwrap's init (PID 1 of its namespace) and makes it clear the
    parent-death signal --die-with-parent gave it: the grader's kill of bwrap then left the whole
    sandbox running, unwatched and without limits, beside the classmates graded next."""
    import os
    import signal
    import time

    try:
        _, text, _ = run_cell(tmp_path, monkeypatch, textwrap.dedent(OUTLIVE.format(marker=MARKER)))
        assert "started" in text, text
        deadline = time.monotonic() + 5
        while _marked() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked() == [], "a process of the sandbox outlived its grading"
    finally:
        for pid in _marked():  # what this test started, on the old code
            for parent in (int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]), pid):
                try:
                    os.kill(parent, signal.SIGKILL)
                except OSError:
                    pass
