"""From grading records to nbgrader: the autograded notebooks and the gradebook.

`merge(records, root)` runs nbgrader's own `Autograde` converter for the students in `records`
with one change: where nbgrader would execute the notebook in a kernel (its `Execute`
preprocessor), `FillRecords` (reference.grading.preprocessors) writes the outputs the sandboxed
grading recorded. Everything else is
nbgrader's: the submission is copied to autograded/<student>/<assignment>/, its test cells are
restored from the source, the late penalty is applied and `SaveAutoGrades` stores each test cell's
score in gradebook.db. So `nbgrader generate_feedback`, the formgrader (for hand-graded answers)
and `nbgrader export` work as after `nbgrader autograde`, and merging the same records twice
gives the same gradebook.

Test cells get the lines of their checks ("a2 Output is (N, 1, 28, 28) ...: 2/2 points") and their
earned points as the cell's value, which nbgrader reads as partial credit. Nothing the student's
code printed can reach a test cell: their outputs go only to their own cells.

The autograded notebook is shown as HTML to the instructor (the formgrader, inside their Jupyter
session) and to the student (`nbgrader generate_feedback`), and nbconvert passes the HTML of a
markdown cell through as it is. A markdown cell of the student's whose HTML would run code there
(a <script>, an on...= handler, a javascript: link, an <iframe>, <object>, <svg>, <style>...) is
shown as text instead, in a code block under a note that says why (`unsafe_markdown`); so is one
that could cover the page or stand in for its parts (`layout_problem`: a style, id, class or name
attribute in HTML the student typed, MathJax's \\style, \\cssId or \\class, a heading whose anchor is
a graded cell's name: a fixed-position "Score: 18 / 18" covered the feedback, and an input with the
id of a grade box came before the formgrader's own). HTML is read as a browser reads it
(`browser_elements`, html5lib). A raw cell holding HTML elements is shown as text (`defuse_raw_cells`),
and of each cell's metadata only nbgrader's is kept (`drop_cell_metadata`: tags become classes of the
page); every other cell is left exactly as the student wrote it. Of the notebook's own metadata only the kernel's
is kept (`drop_notebook_metadata`): saved widget state there makes the page load script from a CDN.
A markdown cell too long to render in reasonable time (mistune is quadratic in some input) is shown
as text as well. Images in markdown cells are held to what an image output may be: one from another
server (`![](http://...)`, `<img src="//host/x">`), which would tell that server when and where the
feedback is opened, becomes a link to it; one by path (fetched from the instructor's Jupyter server
with their session in the formgrader: `<img src="/logout">` logged them out) becomes text; a data: URL or attachment over an image output's limits
(MAX_IMAGE characters, MAX_PIXELS pixels: a PNG of 2 MB can claim 50,000 x 50,000 pixels, 10 GB in
the viewer's browser) or that is no PNG or JPEG becomes a line saying why (`defuse_images`).
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import functools
import hashlib
import html
import json
import logging
import math
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import urllib.parse
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output

from reference import stops
from reference.errors import UserError
from reference.grading.notebook import source_digest

__all__ = ["fill", "merge", "read_records", "restore_metadata", "source_digest"]

STUDENT_ID = re.compile(r"^\w[\w.@+-]{0,127}$")  # letters of any script (josé, 李), digits, _.@+-; no spaces or controls


def read_records(paths: Iterable[str | os.PathLike]) -> list[dict]:
    """The records of JSON-lines files; UserError naming the file and line of a bad one.
    A later record for the same (assignment, student, notebook) replaces an earlier one."""
    found: dict[tuple, dict] = {}
    for path in paths:
        path = Path(path)
        if path.is_dir():
            raise UserError(f"results file {path} is a folder; pass the files that --results wrote (e.g. {path}/shard-*.jsonl)")
        if not path.is_file():
            raise UserError(f"results file {path} does not exist; pass the files that --results wrote")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"{path}:{number} is not a grading record (not JSON); pass files that --results wrote") from None
            problem = _record_problem(record)
            if problem:
                raise UserError(f"{path}:{number}: {problem}; pass files that --results wrote")
            found[(record["assignment"], record["student"], record["notebook"])] = record
    return list(found.values())


def _record_problem(record: object) -> str | None:
    if not isinstance(record, dict) or record.get("version") != 1:
        return "not a grading record of this version"
    for key in ("assignment", "student", "notebook"):
        if not isinstance(record.get(key), str) or not STUDENT_ID.match(record[key]):
            return f"the record's {key} {record.get(key)!r} is not a valid name"
    if not all(isinstance(record.get(key), dict) for key in ("cells", "checks", "tests")):
        return "the record has no cells, checks or tests"
    for index, cell in record["cells"].items():
        if not (index.isdigit() and isinstance(cell, dict) and _cell_ok(cell)):
            return f"the record's output of cell {index!r} is not what the grader writes"
    for name, check in record["checks"].items():
        if not (isinstance(check, dict) and _points_ok(check) and isinstance(check.get("message"), str)):
            return f"the record's check {name!r} has no message, or points that are not 0 <= earned <= points"
    for name, test in record["tests"].items():
        lines = test.get("lines") if isinstance(test, dict) else None
        if not (_points_ok(test) and isinstance(lines, list) and all(isinstance(line, str) for line in lines)):
            return f"the record's test cell {name!r} has no lines, or points that are not 0 <= earned <= points"
    return None


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _points_ok(entry: object) -> bool:
    """`entry` holds finite `earned` and `points` with 0 <= earned <= points (what nbgrader stores)."""
    return isinstance(entry, dict) and _number(entry.get("earned")) and _number(entry.get("points")) and 0 <= entry["earned"] <= entry["points"]


def _cell_ok(cell: dict) -> bool:
    """A cell's entry as `runner` records it: a digest, outputs nbformat accepts, an error or None."""
    outputs, error = cell.get("outputs", []), cell.get("error")
    if not isinstance(cell.get("digest", ""), str) or not isinstance(outputs, list):
        return False
    for out in outputs:
        if not isinstance(out, dict):
            return False
        if out.get("output_type") == "stream":
            if not isinstance(out.get("text"), str):
                return False
        elif out.get("output_type") != "display_data" or not isinstance(out.get("data"), dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in out["data"].items()
        ):
            return False
    return error is None or (
        isinstance(error, dict) and isinstance(error.get("ename"), str) and isinstance(error.get("evalue"), str)
        and isinstance(error.get("traceback"), list) and all(isinstance(line, str) for line in error["traceback"])
    )


def _utf8(value):
    """`value` with every string made writable as UTF-8: a lone surrogate (print("\\udce9") in a
    cell) would otherwise stop nbgrader writing the autograded notebook."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_utf8(v) for v in value]
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    return value


def _outputs(entry: dict) -> list[NotebookNode]:
    entry = _utf8(entry)
    outputs = []
    for out in entry.get("outputs", []):
        if out.get("output_type") == "stream":
            outputs.append(new_output("stream", name="stdout", text=out.get("text", "")))
        else:
            outputs.append(new_output("display_data", data=out.get("data", {})))
    error = entry.get("error")
    if error:
        outputs.append(new_output("error", ename=error["ename"], evalue=error["evalue"], traceback=error["traceback"]))
    return outputs


SAFE_TAGS = frozenset(
    "a abbr b bdi bdo blockquote br caption center cite code col colgroup dd del details dfn div dl dt em figcaption "
    "figure font h1 h2 h3 h4 h5 h6 hr i img input ins kbd li mark ol p pre q rp rt ruby s samp small span strike strong "
    "sub summary sup table tbody td tfoot th thead time tr tt u ul var wbr".split()
)  # what markdown makes and the formatting students write by hand; none of them runs code without an on...= handler
SAFE_SCHEMES = ("http", "https", "mailto", "attachment")  # and data:image/..., which an <img> only draws
URL_ATTRIBUTES = frozenset(
    "href src srcset action formaction xlink:href data poster background cite longdesc lowsrc dynsrc ping codebase "
    "manifest icon usemap".split()
)
URL_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
MATH_LINK = re.compile(r"\\href\s*\{([^}]*)\}")
# MathJax's commands that define commands or load extensions: with them \href or \style is written under another
# name (\newcommand{\L}{\href}\L{javascript:...}), which the checks of their literal names do not see
# MathJax builds no name from pieces (its argument substitution puts a space after a control word), so a definition
# is refused only beside one of the commands the checks guard (a renamed \mathbb{E} or \argmax is kept)
MATH_DEFINITION = re.compile(
    r"\\(newcommand|renewcommand|providecommand|def|gdef|edef|xdef|let|futurelet|newenvironment|renewenvironment"
    r"|DeclareMathOperator)(?![A-Za-z])")
MATH_GUARDED = re.compile(r"\\(href|style|cssId|class|mmlToken|bbox)(?![A-Za-z])")
MATH_REQUIRE = re.compile(r"\\require(?![A-Za-z])")
SHOWN_AS_TEXT = "[The grader shows this cell as text: its HTML ({what}) would run code where the notebook is viewed.]"


def browser_elements(text: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(tag, [(attribute, value)]) of every element a browser's HTML parser makes of `text`, in order, names
    without their namespace (an SVG <a>'s xlink:href is ("a", [("href", ...)])). It is html5lib, the HTML
    standard's parsing algorithm: Python's html.parser ends some comments and CDATA sections elsewhere than a
    browser (`<!-- --!><img onerror=...>`, `<![CDATA[><img onerror=...>]]>` hid a script from it), and raises on
    some markup (`<![ x`). A whole document is parsed, so a <body onload=...> in the text shows as the page's
    body with that attribute, as a browser adds it to the page's own; the html, head and body a parser makes
    by itself carry no attributes."""
    import html5lib

    document = html5lib.parse(text, treebuilder="etree", namespaceHTMLElements=False)
    for element in document.iter():
        if isinstance(element.tag, str):  # comments and the like are not elements
            yield element.tag.rpartition("}")[2], [(name.rpartition("}")[2], value) for name, value in element.attrib.items()]


PAGE_PARTS = frozenset({"html", "head", "body"})  # made by the parser itself: only their attributes are the student's


def _word(text: str) -> str:
    """`text` (a tag or attribute name the student wrote) with only letters, digits and dashes: safe in markdown."""
    return "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch == "-"))[:40] or "unnamed"


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def script_problem(text: str) -> str | None:
    """The first tag or attribute of HTML `text` that could run code in a browser ("a script tag"), or None."""
    for tag, attrs in browser_elements(text):
        if tag not in SAFE_TAGS and tag not in PAGE_PARTS:
            return f"{_a(_word(tag))} tag"
        for name, value in attrs:
            if name.startswith("on") or name in ("srcdoc", "formaction", "action"):
                return f"{_a(_word(name))} attribute"
            if name not in URL_ATTRIBUTES:
                continue
            url = "".join(ch for ch in (value or "") if ch > " ").lower()  # a browser skips whitespace in a scheme
            scheme = URL_SCHEME.match(url)
            if scheme and scheme[1] not in SAFE_SCHEMES and not (scheme[1] == "data" and url.startswith("data:image/")):
                return f"{_a(_word(scheme[1]))}: link"
    return None


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """`source` as nbconvert's HTML exporter renders a markdown cell with these `attachments` (each
    `![](attachment:NAME)` becomes a data: URL); raises what nbconvert raises (a missing attachment)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    return MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=attachments if attachments is not None else {})).render(source)


@functools.lru_cache(maxsize=4)
def _rendered_for_checks(source: str) -> str:
    """`render_markdown(source)` with every attachment found: what the script and layout checks of one cell
    read, rendered once for both (raises what nbconvert raises)."""
    return render_markdown(source, _AnyAttachment())


class _AnyAttachment(dict):
    """Attachments in which every name is found (an empty PNG): to check a cell's HTML for script
    whatever its attachments; an image of a missing one is `defuse_images`' to replace."""

    def __contains__(self, name: object) -> bool:
        return True

    def __getitem__(self, name: str) -> dict:
        return {"image/png": ""}


def unsafe_markdown(source: str) -> str | None:
    """What in markdown `source` would run code once nbconvert renders it as HTML ("a script tag"),
    or None when it is safe to show as it is (its images apart: `defuse_images`)."""
    try:
        rendered = _rendered_for_checks(source)
    except Exception:  # noqa: BLE001 - markdown nbconvert cannot render is shown as text
        return "markdown nbconvert cannot render"
    found = script_problem(rendered)
    if found is None and MATH_REQUIRE.search(source):
        return "a MathJax \\require in its math (it loads extensions, whose commands these checks do not read)"
    if found is None and (defined := MATH_DEFINITION.search(source)) and (named := MATH_GUARDED.search(source)):
        return (f"a MathJax \\{defined[1]} beside \\{named[1]} in its math (a command renamed there escapes the checks of "
                f"\\href and \\style)")
    if found is None:  # MathJax makes a link of \href{url}{text} in $...$ when the page is viewed
        for url in MATH_LINK.findall(source):
            scheme = URL_SCHEME.match("".join(ch for ch in url if ch > " ").lower())
            if scheme and scheme[1] not in SAFE_SCHEMES:
                return f"{_a(_word(scheme[1]))}: link in its math"
    return found


LAYOUT_ATTRIBUTES = frozenset("style id class name form".split())  # what places an element over the page, or names it as one of the page's own
LAID_OVER = ("[The grader shows this cell as text: its HTML ({what}) could cover or stand in for the page's own parts "
             "(the score, the grader's score boxes).]")
# MathJax sets CSS, an id or a class when the page is viewed: \style, \cssId, \class, \mmlToken's attributes (href, style,
# id, class), and \bbox's options when they hold CSS (a colour or a padding alone holds no ":")
MATH_LAYOUT = re.compile(r"\\(style|cssId|class|mmlToken)(?![A-Za-z])|\\(bbox)\s*\[[^\]]*:")


PAGE_IDS = ("notebook", "notebook-container", "statusmessage", "toc", "top", "{{ cell.metadata.nbgrader.grade_id }}",
            "{{ cell.metadata.nbgrader.grade_id }}-comment", "{{ cell.metadata.nbgrader.grade_id }}_extra_credit",
            "comment-{{ cell.metadata.nbgrader.grade_id }}")
GRADE_ID_EXPRESSION = re.compile(r"\{\{\s*cell\.metadata\.nbgrader\.grade_id\s*\}\}")
TEMPLATE_ID = re.compile(r'\b(?:id|name)="([^"]+)"')  # a link's #fragment finds an id, or an <a name=...>


@functools.lru_cache(maxsize=1)
def _template_ids() -> tuple[str, ...]:
    """The element ids and anchor names of nbgrader's formgrader and feedback pages, as their templates write
    them (read once from the installed nbgrader): "statusmessage", "{{ cell.metadata.nbgrader.grade_id }}-comment",
    the feedback's "top" and "comment-{{ ... }}" links' targets..."""
    import nbgrader

    folder = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    found: set[str] = set(PAGE_IDS)  # nbgrader 0.9's, should its templates move
    for page in ("formgrade", "feedback"):
        for template in sorted((folder / page).glob("*.j2")):
            found.update(TEMPLATE_ID.findall(template.read_text(encoding="utf-8", errors="replace")))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=8)
def reserved_ids(names: frozenset[str]) -> tuple[frozenset[str], tuple[re.Pattern, ...]]:
    """The ids a heading of the student's must not take, for a notebook whose graded cells are `names`: every
    element id of the formgrader's and the feedback's pages (`_template_ids`), which their scripts and styles find
    by id, taking the first element that has it. A grade box's id is its grade id, its comment box's
    "<grade id>-comment", its extra credit's "<grade id>_extra_credit", the formgrader's status banner
    "statusmessage". Returns (the ids, patterns for template ids built from another value than the grade id,
    which any value fills)."""
    fixed: set[str] = set(names)
    patterns: list[re.Pattern] = []
    for written in _template_ids():
        marked = GRADE_ID_EXPRESSION.sub("\x00", written)
        if "{{" in marked:  # built from something else too: any value there (one built from that alone refuses every heading)
            pieces = re.split(r"\{\{.*?\}\}|\x00", marked)
            patterns.append(re.compile(".+".join(re.escape(piece) for piece in pieces), re.DOTALL))
        elif "\x00" in marked:
            fixed.update(marked.replace("\x00", name) for name in names)
        else:
            fixed.add(written)
    return frozenset(fixed), tuple(patterns)


def layout_problem(source: str, names: set[str]) -> str | None:
    """What in markdown `source` could cover the page it is shown in or take the place of its parts, or None: a
    style, id, class or name attribute in HTML the student typed (a fixed-position "Score: 18 / 18" over the
    feedback; an input with the id of a grade box, which the formgrader's script finds before the real one), a
    \\style, \\cssId or \\class in math, or a heading whose anchor (the id nbconvert gives it) is an id of the
    page's own (`reserved_ids` for `names`, the notebook's graded cells: a grade box, a comment box, the status
    banner)."""
    for _, attrs in browser_elements(source):  # the whole source, as a browser reads it: <span/style=...> has a style
        for name, _ in attrs:
            if name in LAYOUT_ATTRIBUTES:
                return f"{_a(_word(name))} attribute"
    found = MATH_LAYOUT.search(source)
    if found:
        return f"a MathJax {found[1] or found[2]} command in its math"
    try:
        rendered = _rendered_for_checks(source)
    except Exception:  # noqa: BLE001 - unsafe_markdown says so
        return None
    reserved, patterns = reserved_ids(frozenset(names))
    for anchor in (html.unescape(a) for a in re.findall(r'<h[1-6] id="([^"]*)"', rendered)):
        if anchor in reserved or any(p.fullmatch(anchor) for p in patterns):
            what = "the name of a graded cell" if anchor in names else "the id of one of the grading page's own parts"
            return f"a heading whose anchor is {what}, {anchor[:40]}"
    return None


def as_text(source: str, what: str, note: str = SHOWN_AS_TEXT) -> str:
    """Markdown that shows `source` verbatim in a code block, under a note that says why."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    return f"{note.format(what=what)}\n\n{fence}text\n{source}\n{fence}\n"


MAX_MARKDOWN = 20_000  # characters of one markdown cell rendered to be checked; a longer one is shown as text
MARKDOWN_BUDGET_S = 10.0  # seconds the checks of one notebook's markdown may take; later cells are shown as text
TOO_LONG = "[The grader shows this cell as text: at {what} characters it is longer than the feedback renders.]"
TOO_SLOW = "[The grader shows this cell as text: this notebook's markdown took too long to render ({what}).]"
# Images of one notebook's markdown, as its HTML holds them: nbconvert writes an attachment's whole base64 into each image
# that shows it, and a reference link's URL into each image that names it, so a cell of 20,000 characters naming a 2 MB
# attachment 3,333 times (`![][a]`, `[a]: attachment:a`) renders into 6.7 GB (200 times: 27 MB, 11 s and 260 MB of the
# merge's time and memory), in the merge, the formgrader and the feedback. Counted per use, in characters and in pixels
# (what a browser decodes); a cell that could pass either is shown as text, before it is rendered
MARKDOWN_IMAGE_CHARS = 20 * 2**20
TOO_MANY_IMAGES = ("[The grader shows this cell as text: its images, each counted where it is shown, would take this notebook's "
                   "markdown past {what} the feedback shows.]")
DATA_IMAGE = re.compile(r"data:image/[\w.+-]+;base64,([A-Za-z0-9+/\s]*=*)", re.I)
# Characters of code blocks naming a language in one markdown cell: nbconvert highlights each with the lexer it names,
# and many of pygments' lexers take time with the square of a run of blank lines (C's: 8 KB, 15 s; IPython's: 6 KB, 17 s),
# in the merge's checks and wherever the feedback is shown. A cell with more is shown as text
MAX_HIGHLIGHTED = 3_000
HIGHLIGHTED_AS_TEXT = ("[The grader shows this cell as text: its code blocks naming a language hold {what} characters, more than "
                       "the feedback colours.]")


def _highlighted_chars(source: str) -> int:
    """Characters of the code blocks of markdown `source` that name a language (```python), which nbconvert highlights:
    read from mistune's parse, which highlights nothing; 0 for markdown it cannot parse (rendering then says so)."""
    import mistune

    try:
        tokens = mistune.create_markdown(renderer=None)(source)
    except Exception:  # noqa: BLE001 - shown as text by the checks that render it
        return 0
    total, todo = 0, list(tokens) if isinstance(tokens, list) else []
    while todo:
        token = todo.pop()
        if not isinstance(token, dict):
            continue
        if token.get("type") == "block_code" and str((token.get("attrs") or {}).get("info") or "").strip():
            total += len(token.get("raw") or "")
        todo.extend(token.get("children") or [])
    return total


def _image_bound(source: str, attachments: dict) -> int:
    """The most characters of images that rendering markdown `source` with `attachments` can write: each image of markdown
    starts with "![" and shows one attachment or one URL written in the source; an HTML image is its source's own text."""
    largest = max((len(data) for bundle in attachments.values() for data in bundle.values()), default=0)
    return source.count("![") * (max(largest, len(source)) + 40) + len(source)


def _image_cost(source: str, attachments: dict) -> tuple[int, int]:
    """(characters, pixels) of the images the HTML of markdown `source` holds, each counted where it is shown."""
    from reference.grading.runner import image_size

    try:
        rendered = render_markdown(source, attachments)
    except Exception:  # noqa: BLE001 - what nbconvert cannot render is shown as text elsewhere
        return 0, 0
    chars = pixels = 0
    for match in DATA_IMAGE.finditer(rendered):
        chars += len(match.group(0))
        data = "".join(match.group(1).split())
        try:
            size = image_size(base64.b64decode(data + "=" * (-len(data) % 4)))
        except (binascii.Error, ValueError):
            size = None
        pixels += size[0] * size[1] if size else 0
    return chars, pixels


def defuse_markdown(nb: NotebookNode) -> NotebookNode:
    """`nb` with each markdown cell of the student's (not a locked cell of the instructor's) whose
    HTML could run code in the viewer's browser shown as text instead (see `unsafe_markdown`), and
    its images made safe to show (`defuse_images`: none loaded from another server, none larger than
    an image output may be; its attachments kept only within those limits, `clean_attachments`).

    Rendering markdown is quadratic in some inputs (mistune took 13 s for 120 KB of "<!--", and a
    20 MB notebook of them would hold the merge of the whole class, and every view of the feedback,
    for days), so a cell over MAX_MARKDOWN characters, and every cell after the notebook's checks
    took MARKDOWN_BUDGET_S, is shown as text too, which renders in linear time. So is a cell whose images, each counted
    where it is shown, would take the notebook's markdown past MARKDOWN_IMAGE_CHARS characters or MAX_NOTEBOOK_PIXELS
    pixels: one attachment named thousands of times renders into gigabytes (`_image_bound`, before any rendering)."""
    from reference.grading.runner import MAX_NOTEBOOK_PIXELS

    spent = 0.0
    chars_left, pixels_left = MARKDOWN_IMAGE_CHARS, MAX_NOTEBOOK_PIXELS
    names = {str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")) for cell in nb.cells
             if isinstance(cell.get("metadata", {}).get("nbgrader"), dict) and cell.metadata["nbgrader"].get("grade_id")}
    for cell in nb.cells:
        if cell.cell_type != "markdown" or cell.get("metadata", {}).get("nbgrader", {}).get("locked"):
            continue
        source = cell.source if isinstance(cell.source, str) else ""
        attachments, dropped = clean_attachments(cell)
        if len(source) > MAX_MARKDOWN:
            cell.source = as_text(source, f"{len(source):,}", TOO_LONG)
            continue
        if spent > MARKDOWN_BUDGET_S:
            cell.source = as_text(source, f"over {MARKDOWN_BUDGET_S:g} s", TOO_SLOW)
            continue
        if _image_bound(source, attachments) > chars_left:
            cell.source = as_text(source, f"{MARKDOWN_IMAGE_CHARS:,} characters of images", TOO_MANY_IMAGES)
            continue
        if (highlighted := _highlighted_chars(source)) > MAX_HIGHLIGHTED:
            cell.source = as_text(source, f"{highlighted:,}", HIGHLIGHTED_AS_TEXT)
            continue
        began = time.monotonic()
        what = unsafe_markdown(source)
        if what is not None:
            cell.source = as_text(source, what)
        elif (laid := layout_problem(source, names)) is not None:
            cell.source = as_text(source, laid, LAID_OVER)
        else:
            cell.source = defuse_images(source, attachments, dropped)
            chars, pixels = _image_cost(cell.source, attachments)
            if chars > chars_left or pixels > pixels_left:
                cell.source = as_text(source, f"{MAX_NOTEBOOK_PIXELS:,} pixels of images" if chars <= chars_left
                                      else f"{MARKDOWN_IMAGE_CHARS:,} characters of images", TOO_MANY_IMAGES)
            else:
                chars_left, pixels_left = chars_left - chars, pixels_left - pixels
        spent += time.monotonic() - began
    return nb


# ---------------------------------------------------------------------------------------------
# Images in markdown: nothing loaded from outside the notebook, nothing larger than an output
# ---------------------------------------------------------------------------------------------

IMAGE_TYPES = ("image/png", "image/jpeg")  # what a markdown cell's image may be: sizes read from their headers
LOADING_ATTRIBUTES = frozenset("src lowsrc dynsrc background poster".split())  # a browser loads these itself (srcset apart)
STYLE_LOADS = re.compile(r"url|image|src|\\|@", re.I)  # CSS that may load a file: url(), image-set(), an escape, @import
MATH_STYLE = re.compile(r"\\(?:style|cssId|class)\s*\{([^}]*)\}")  # MathJax's \style{css}{math} when the page is viewed
REMOTE = "an image from another server"
BY_PATH = "an image by path"  # fetched from the server that shows the page: the instructor's Jupyter, with their session
NOT_LOADED = "remote image, not loaded"  # the link an image from another server becomes
LEFT_OUT = "left out: {why}"
IMAGES_AS_TEXT = "[The grader shows this cell as text: it holds {what}, which the feedback does not load.]"
INLINE_IMAGE = re.compile(  # ![alt](destination "title"), as CommonMark writes an inline image
    r"!\[(?P<alt>(?:\\.|[^\[\]\\]|\[(?:\\.|[^\[\]\\])*\])*)\]"
    r"\((?P<rest>\s{0,40}(?:<(?:\\.|[^<>\\\n])*>|(?:\\.|[^\s()\\]|\((?:\\.|[^\s()\\])*\))+)?"
    r"(?:\s{1,40}(?:\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\((?:\\.|[^()\\])*\)))?\s{0,40})\)"
)  # runs of spaces bounded: three unbounded ones in a row would take quadratic time on "![a](" and spaces
   # (an image this misses is still found in the rendered cell, which is then shown as text)
HTML_TAG = re.compile(r"<[A-Za-z][^\s/><]*(?:\s+[^\s/>\"'=<]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*\s*/?>")


def _base64_problem(data: str) -> str | None:
    """Why base64 `data` is not an image a markdown cell may show (a PNG or JPEG of at most
    MAX_IMAGE characters and MAX_PIXELS pixels, the limits of an image output), or None."""
    from reference.grading.runner import MAX_IMAGE, MAX_PIXELS, image_size

    data = "".join(data.split())
    if len(data) > MAX_IMAGE:
        return f"an image of {len(data):,} characters, over the {MAX_IMAGE:,} the feedback shows"
    try:
        image = base64.b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return "an image that is not base64"
    size = image_size(image)  # by its bytes: a browser reads a GIF sent as image/png as a GIF
    if size is None:  # a PNG without its header shows nothing; anything else might decode as something
        return None if image[:8] == b"\x89PNG\r\n\x1a\n" else "an image that is no PNG or JPEG whose size can be read"
    if size[0] * size[1] > MAX_PIXELS:
        return f"an image of {size[0]:,} x {size[1]:,} pixels, over the {MAX_PIXELS:,} the feedback shows"
    return None


def _image_problem(url: str) -> str | None:
    """Why a browser must not load image `url` of a student's rendered markdown (REMOTE, BY_PATH, or
    why it is left out), or None: a data: URL within the limits of an image output. A remote image
    tells its server when and where the feedback is opened, and the viewer's address; an image by
    path is fetched from the server that shows the page, in the formgrader the instructor's Jupyter
    server with their session (`<img src="/logout">` logged them out), and shows nothing in the
    feedback, which holds no file of the student's."""
    url = "".join(ch for ch in url if ch not in "\t\n\r").strip("".join(map(chr, range(33))))
    plain = url.replace("\\", "/").lower()  # a browser reads a backslash as "/": two of them start a host
    if plain.startswith("//"):
        return REMOTE
    scheme = URL_SCHEME.match(plain)
    if scheme is None:
        return BY_PATH if plain else None
    if scheme[1] == "attachment":  # <img src="attachment:x"> is not resolved (only ![](attachment:x) is): no request
        return None
    if scheme[1] != "data":
        return REMOTE
    head, comma, payload = urllib.parse.unquote(url).partition(",")
    mime = head[5:].split(";")[0].strip().lower()
    if not comma or mime not in IMAGE_TYPES or not head.lower().rstrip().endswith(";base64"):
        return f"an image of type {_mime_word(mime)} (only PNG and JPEG images are shown)"
    return _base64_problem(payload)


def _mime_word(mime: object) -> str:
    """A MIME type the student wrote, with only what a MIME type holds: safe in markdown."""
    return "".join(ch for ch in str(mime) if ch.isascii() and (ch.isalnum() or ch in "/+.-"))[:40] or "unknown"


def load_problems(text: str) -> list[tuple[str, str]]:
    """What HTML `text` makes a browser load by itself: [(url, problem)] of each image source with a problem
    (`_image_problem`), and ("", "a style that loads a file") for CSS that might."""
    found = []
    for _, attrs in browser_elements(text):
        for name, value in attrs:
            value = value or ""
            if name == "style" and STYLE_LOADS.search(value):
                found.append(("", "a style that loads a file"))
            urls = [value] if name in LOADING_ATTRIBUTES else _srcset_urls(value) if name == "srcset" else []
            found += [(url, problem) for url in urls if (problem := _image_problem(url))]
    return found


def _srcset_urls(srcset: str) -> list[str]:
    """The URLs of a srcset ("a.png 1x, b.png 2x"): each run of non-space characters that is not a
    descriptor, without trailing commas (a data: URL holds commas of its own)."""
    tokens = [token.rstrip(",") for token in srcset.split()]
    return [token for token in tokens if token and not re.fullmatch(r"[0-9.]+[wxh]", token)]


def image_loads(source: str, attachments: dict) -> list[tuple[str, str]]:
    """[(url, problem)] of what markdown `source` rendered (with `attachments`) would load that it may
    not; [("", why)] when it cannot be rendered (an image of a missing attachment)."""
    try:
        rendered = render_markdown(source, attachments)
    except Exception as err:  # noqa: BLE001 - nbconvert's InvalidNotebook for a missing attachment
        return [("", f"markdown nbconvert cannot render ({_word(type(err).__name__)})")]
    found = load_problems(rendered)
    for style in MATH_STYLE.findall(source):
        if STYLE_LOADS.search(style):
            found.append(("", "a style that loads a file, in its math"))
    return found


def clean_attachments(cell: NotebookNode) -> tuple[dict, dict[str, str]]:
    """The cell's attachments that a markdown cell may show ({name: {mime type: base64}}, PNG and
    JPEG within an image output's limits, set on the cell), and {name: why} of those left out (a
    20 MB image, a PNG claiming 50,000 x 50,000 pixels, an SVG nbconvert would prefer to both)."""
    given = cell.get("attachments")
    if given is None:
        return {}, {}
    kept, dropped = {}, {}
    for name, bundle in (given.items() if isinstance(given, dict) else []):
        why = "an attachment that is no image"
        if isinstance(bundle, dict):
            images = {}
            for mime in IMAGE_TYPES:
                data = bundle.get(mime)
                data = "".join(data) if isinstance(data, list) and all(isinstance(x, str) for x in data) else data
                if isinstance(data, str):
                    why = _base64_problem(data)
                    if why is None:
                        images[mime] = data
            if images:
                kept[name] = images
                continue
            if not any(mime in bundle for mime in IMAGE_TYPES):
                why = f"an image of type {_mime_word(next(iter(bundle), ''))} (only PNG and JPEG images are shown)"
        dropped[str(name)] = why
    if kept:
        cell.attachments = NotebookNode(kept)
    else:
        del cell["attachments"]
    return kept, dropped


def _left_out(why: str) -> str:
    """Text (no link, no HTML, alike in markdown and in an HTML block) saying an image was left out and why."""
    return "[" + LEFT_OUT.format(why=why) + "]"


def _safe_url(url: str) -> str:
    """`url` with every character that markdown or HTML could read as markup percent-encoded."""
    return urllib.parse.quote(url.strip(), safe=":/?#@=&%~.,;+!$-_")


def defuse_images(source: str, attachments: dict, dropped: dict[str, str]) -> str:
    """Markdown `source` (already safe of script: `unsafe_markdown`) with each image that would load
    from another server made a link to it (`![alt](url)` -> `[remote image, not loaded: alt](url)`),
    each image by path made text (`[image not loaded: figures/x.png]`),
    each image over an image output's limits (data: URLs, attachments) or of another type replaced
    by a line saying why, and the rest byte for byte. Where that does not make it safe (an image of
    a reference link, CSS or math that loads a file), the whole cell is shown as text instead."""
    found = image_loads(source, attachments)
    if not found:
        return source

    def inline(match: re.Match) -> str:
        if match.group("rest").strip().lower().startswith("attachment:"):
            name = (match.group("rest").strip()[len("attachment:"):].split() or [""])[0]
            if name not in attachments:
                return _left_out(dropped.get(name, f"an image of an attachment the notebook does not hold ({_word(name)})"))
        problems = image_loads(match.group(0), attachments)
        if not problems:
            return match.group(0)
        if all(problem == REMOTE for _, problem in problems):
            alt = match.group("alt")
            return f"[{NOT_LOADED}{': ' + alt if alt.strip() else ''}]({match.group('rest')})"
        if all(problem == BY_PATH for _, problem in problems):
            return f"[image not loaded: {_safe_url(problems[0][0])}]"
        return _left_out(next(problem for _, problem in problems if problem not in (REMOTE, BY_PATH)))

    def tag(match: re.Match) -> str:
        loads = load_problems(match.group(0))
        if not loads:
            return match.group(0)
        url, problem = next((found for found in loads if found[1] == REMOTE), loads[0])  # the server it tells, first
        if problem in (REMOTE, BY_PATH):
            return f"[{NOT_LOADED if problem == REMOTE else 'image not loaded'}: {_safe_url(url)}]"
        return _left_out(problem)

    rewritten = HTML_TAG.sub(tag, INLINE_IMAGE.sub(inline, source))
    if not image_loads(rewritten, attachments) and unsafe_markdown(rewritten) is None:
        return rewritten
    what = found[0][1] + (f" ({_safe_url(found[0][0])[:200]})" if found[0][1] == REMOTE else "")
    return as_text(source, what, IMAGES_AS_TEXT)


def _is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


NOTEBOOK_METADATA = ("kernelspec", "language_info")  # what of the submission's notebook metadata the autograded copy keeps
LANGUAGE_INFO = {  # every notebook of the course is Python: what Jupyter writes for it
    "name": "python", "pygments_lexer": "ipython3", "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py", "mimetype": "text/x-python", "nbconvert_exporter": "python",
}


def drop_notebook_metadata(nb: NotebookNode) -> NotebookNode:
    """`nb` with only the notebook metadata in NOTEBOOK_METADATA. The rest is the student's to write,
    and HTML views act on it: nbconvert's templates (the feedback's, the formgrader's) load the widget
    manager from a CDN for a notebook with saved widget state, which then loads the JavaScript of every
    widget module that state names, any npm package, into the viewer's page. `language_info` is the
    course's (LANGUAGE_INFO): nbconvert highlights every code cell with the lexer it names, and one
    that is not a dict (a string) stopped the feedback and the formgrader's page of that notebook."""
    for key in [key for key in nb.metadata if key not in NOTEBOOK_METADATA]:
        del nb.metadata[key]
    if not isinstance(nb.metadata.get("kernelspec", {}), dict):
        del nb.metadata["kernelspec"]
    nb.metadata["language_info"] = NotebookNode(json.loads(json.dumps(LANGUAGE_INFO)))
    return nb


CELL_METADATA = ("nbgrader", "raw_mimetype")  # what of a cell's metadata the autograded copy keeps


def drop_cell_metadata(nb: NotebookNode) -> NotebookNode:
    """`nb` with only CELL_METADATA in each cell's metadata. The rest is the student's to write, and the HTML
    views act on it: nbconvert writes each of a cell's tags into its class ("celltag_" + the tag, so a tag with
    a space adds any class: "x navbar-fixed-top" made the student's own "Score: 33 / 33" a fixed banner, "x
    hidden" hid every test cell with its score), and `transient.remove_source` dropped the input, score panel
    and all, of any cell it was set on."""
    for cell in nb.cells:
        metadata = cell.get("metadata")
        if isinstance(metadata, dict):
            for key in [key for key in metadata if key not in CELL_METADATA]:
                del metadata[key]
    return nb


RAW_AS_TEXT = "[The grader shows this raw cell as text: its HTML ({what}) could run code, cover the page or stand in for its parts.]"


def defuse_raw_cells(nb: NotebookNode) -> NotebookNode:
    """`nb` with each raw cell of the student's that holds HTML elements shown as text (escaped, under a note).
    nbconvert writes a raw cell without a format, or with text/html, into the page as HTML and cleans it of
    script, but keeps class and id on div, span and a: a raw cell laid a fixed "Score: 33 / 33" bar over the
    feedback, and an element with the id of a grade box came before the formgrader's own."""
    for cell in nb.cells:
        if cell.cell_type != "raw" or cell.get("metadata", {}).get("nbgrader", {}).get("locked"):
            continue
        source = cell.source if isinstance(cell.source, str) else ""
        if len(source) > MAX_MARKDOWN:  # not parsed: as long a cell of markdown is shown as text too
            what = f"{len(source):,} characters of it"
        elif tag := next((tag for tag, _ in browser_elements(source) if tag not in PAGE_PARTS), None):
            what = f"{_a(_word(tag))} tag"
        else:
            continue
        cell.source = RAW_AS_TEXT.format(what=what) + "\n" + html.escape(source)
    return nb


def fill(nb: NotebookNode, record: dict) -> NotebookNode:
    """`nb` (the sanitized submission) with every code cell's outputs taken from `record`, its
    markdown and raw cells made safe to show as HTML (`defuse_markdown`, `defuse_raw_cells`) and only
    its kernel's notebook metadata and each cell's nbgrader metadata kept (`drop_notebook_metadata`,
    `drop_cell_metadata`). A given (locked) cell that the student changed shows the course's source, as
    nbgrader restores it, with the output of the student's version, which is the one that ran, under a
    note that says so (`EDITED_GIVEN_CELL`)."""
    defuse_markdown(nb)
    defuse_raw_cells(nb)
    drop_notebook_metadata(nb)
    drop_cell_metadata(nb)
    recorded: dict[str, collections.deque] = {}  # digest: its cells' entries, in the order the cells ran
    for _, entry in sorted(record["cells"].items(), key=lambda item: int(item[0])):
        recorded.setdefault(entry.get("digest", ""), collections.deque()).append(entry)
    count = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        if _is_test_cell(cell):
            grade_id = cell.metadata["nbgrader"].get("grade_id")
            test = record["tests"].get(grade_id)
            if test is None:
                lines, earned = ["not graded: no check of this cell ran (see the grading log)"], 0.0
            else:
                lines, earned = _utf8(test["lines"]), float(test["earned"])
            cell.outputs = [
                new_output("stream", name="stdout", text="".join(line + "\n" for line in lines)),
                new_output("execute_result", data={"text/plain": repr(earned)}, execution_count=count),
            ]
            continue
        entries = recorded.get(source_digest(cell.source))  # a lookup, not a scan: 100,000 cells are one notebook's
        if entries:
            cell.outputs = _outputs(entries.popleft())
        elif cell.metadata.get("nbgrader", {}).get("locked") and isinstance(ran := record["cells"].get(str(index)), dict):
            # a given cell the student edited: nbgrader shows the course's source, and the edited one ran in its place
            cell.outputs = [new_output("stream", name="stdout", text=EDITED_GIVEN_CELL)] + _outputs(ran)
        else:
            cell.outputs = []
    return bound_highlighting(nb)


# ---------------------------------------------------------------------------------------------
# Code the feedback highlights: in time about linear in its length
# ---------------------------------------------------------------------------------------------

# What the code cells of one notebook may cost IPython's lexer (`highlight_steps`), which nbconvert highlights them with
# wherever the graded notebook is shown (`nbgrader generate_feedback`, the formgrader's pages, in the instructor's Jupyter
# server): 6 KB of lines holding one space took it 17 s, 10,000 empty lines 34 s, 10,000 dots 4 s, each growing with the
# square of the length (a 200 KB cell: hours). The course's costliest notebook costs 313,501 (a lesson), and this about 2 s
HIGHLIGHT_STEPS = 50_000_000
RESCANNED = re.compile(r"(\s+)(%{0,2})([\w.*]*)|[\w.*]+")
WHITESPACE_LINE = re.compile(r"^[^\S\n]+$", re.M)
LINEAR_LEXER = "python3"  # pygments' Python lexer: tries a rule that begins with \s* only at the start of a line that is not empty


def highlight_steps(source: str) -> int:
    """About how many characters IPython's lexer scans to highlight code `source` beyond reading it once. At each token it
    tries rules that begin with \\s* (20 of them: the cell magics) and with [\\w.*]* (help: `x.y?`), each scanning the run
    of whitespace (across lines) and of names, dots and stars ahead of it before it fails: a run is scanned again from each
    token inside it (a newline, the spaces of a line, a dot, a star)."""
    steps = 0
    for match in RESCANNED.finditer(source):
        space, word = match.group(1), match.group(3)
        if space is None:
            word = match.group(0)
        else:
            steps += 10 * (2 * space.count("\n") + 1) * len(match.group(0))
        steps += (word.count(".") + word.count("*") + 1) * len(word)
    return steps


def bound_highlighting(nb: NotebookNode) -> NotebookNode:
    """`nb`, whose code cells the views highlight in time about linear in their length: where they would cost IPython's
    lexer more than HIGHLIGHT_STEPS, the notebook names pygments' Python lexer (LINEAR_LEXER) and each line of its code
    cells that holds whitespace alone is made empty (a change no reader sees: Python's lexer scans ahead only from the start
    of a line that is not empty). The course's own cells (locked: nbgrader restored them) are left as they are, and so
    is any other notebook."""
    cells = [cell for cell in nb.cells if cell.cell_type == "code" and isinstance(cell.get("source"), str)
             and not cell.get("metadata", {}).get("nbgrader", {}).get("locked")]
    steps = 0
    for cell in cells:
        steps += highlight_steps(cell.source)
        if steps > HIGHLIGHT_STEPS:
            break
    else:
        return nb
    nb.metadata["language_info"]["pygments_lexer"] = LINEAR_LEXER
    for cell in cells:
        cell.source = WHITESPACE_LINE.sub("", cell.source)
    return nb


EDITED_GIVEN_CELL = ("[The submission changed this given cell: the grader ran the submission's version of it, not the one shown "
                     "here, and its output follows.]\n")


CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # what nbformat 4.5 allows as a cell's id
CELL_TYPES = ("code", "markdown", "raw")


CELL_KEYS = {  # what nbformat 4 allows in a cell of each type
    "code": ("id", "cell_type", "metadata", "source", "outputs", "execution_count"),
    "markdown": ("id", "cell_type", "metadata", "source", "attachments"),
    "raw": ("id", "cell_type", "metadata", "source", "attachments"),
}
REPAIR_ROUNDS = 20  # passes of the validator, each removing what it names: a notebook holds a few faulty entries


def repair_structure(nb: NotebookNode) -> NotebookNode:
    """`nb` with what nbformat reads but then refuses to validate made valid, so that nbgrader, which
    validates after every step, records the submission (a wrongly typed entry stopped it, and the
    student scored 0 for a notebook the sandbox had given full marks):
    - a cell id nbformat's pattern refuses, one an earlier cell already has, or none at all in a
      notebook of nbformat 4.5 or later gets a new one (nbformat would repair the last two itself,
      with a warning at each of nbgrader's many reads);
    - a cell of a type v4 has not (a v3 "heading") becomes markdown;
    - a code cell's outputs and an execution count that is not a number are cleared (the record's
      outputs replace them), a source that is neither text nor a list of lines becomes empty, a key a
      cell of its type may not have goes, and so do attachments that are not a mapping;
    - metadata, the notebook's or a cell's, that is not a mapping becomes empty, and an entry in it of
      the wrong type (`language_info: "python"`, a cell's `tags: "x"`) is removed, as the validator names each."""
    used = {cell.get("id") for cell in nb.cells if isinstance(cell.get("id"), str)}
    seen: set[str] = set()
    with_ids = nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) >= 5
    if not isinstance(nb.get("metadata"), dict):
        nb.metadata = NotebookNode()
    for number, cell in enumerate(nb.cells):
        valid = "id" in cell and isinstance(cell.id, str) and CELL_ID.match(cell.id)
        if ("id" in cell or with_ids) and not (valid and cell.id not in seen):
            cell.id = next(f"cell-{number}-{n}" for n in range(len(nb.cells) + 1) if f"cell-{number}-{n}" not in used)
            used.add(cell.id)
        if "id" in cell:
            seen.add(cell.id)
        if cell.get("cell_type") not in CELL_TYPES:
            level = cell.get("level", 1)
            text = cell.get("source", "") if isinstance(cell.get("source"), str) else ""
            prefix = "#" * level + " " if isinstance(level, int) and 1 <= level <= 6 else ""
            nb.cells[number] = cell = NotebookNode({"cell_type": "markdown", "metadata": cell.get("metadata", {}), "source": prefix + text,
                                                    **({"id": cell.id} if "id" in cell else {})})
        for key in [key for key in cell if key not in CELL_KEYS[cell.cell_type]]:
            del cell[key]
        if not isinstance(cell.get("metadata"), dict):
            cell.metadata = NotebookNode()
        if "attachments" in cell and not isinstance(cell.attachments, dict):
            del cell["attachments"]
        source = cell.get("source")  # a cell without one stopped nbgrader ("'source' is a required property")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            cell.source = "".join(source)
        elif not isinstance(source, str):
            cell.source = ""
        if cell.cell_type == "code":
            cell.outputs = []
            if not (cell.get("execution_count") is None or _count_ok(cell.execution_count)):
                cell.execution_count = None
    _strip_invalid_entries(nb)
    return nb


def _unreadable(path: Path) -> str | None:
    """Why nbgrader could not read the notebook at `path` (`read_problem`), or None; one it cannot open or
    parse at all is left to the staging and to nbgrader, which say so."""
    import json

    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))  # a byte-order mark is taken off when it is staged
    except (OSError, ValueError, RecursionError):
        return None
    problem = read_problem(data)
    return None if problem is None else f"not a notebook nbgrader can read: {problem}; ask the student for the .ipynb file"


def read_problem(data: object) -> str | None:
    """Why nbgrader could not read the parsed JSON `data` as a notebook, as nbformat.read does before any
    step of ours can repair it (`{}`, cells that are not a list of objects, metadata that is not an
    object, an nbformat it does not know), or None. Such a file was graded (0 points), then stopped
    nbgrader's merge for that student with a traceback, at every merge again."""
    import nbformat
    from nbformat.reader import get_version

    from reference.grading.checks import first_line

    if not isinstance(data, dict):
        return "not a JSON object"
    try:
        major, minor = get_version(data)
        if not isinstance(major, int) or major not in nbformat.versions:
            return f"nbformat {str(major)[:20]!r}, which nbformat does not read"
        if not isinstance(minor, int) or isinstance(minor, bool):  # nbformat's validator asserts it, uncaught
            return f"nbformat_minor {str(minor)[:20]!r} is not a number"
        nbformat.convert(nbformat.versions[major].to_notebook_json(data, minor=minor), 4)
    except Exception as err:  # noqa: BLE001 - nbformat's ValidationError, an AttributeError or TypeError of a bad shape
        return first_line(err, 160) or type(err).__name__
    return None


def _strip_invalid_entries(nb: NotebookNode) -> None:
    """Remove each entry of the notebook's or a cell's metadata, or of a cell's attachments, that the
    nbformat validator refuses, until it refuses none of them."""
    from nbformat.validator import iter_validate

    for _ in range(REPAIR_ROUNDS):
        removed = False
        for error in iter_validate(nb):
            path = list(error.absolute_path)
            if len(path) >= 2 and path[0] == "metadata" and path[1] in nb.metadata:
                del nb.metadata[path[1]]
            elif (len(path) >= 4 and path[0] == "cells" and path[2] in ("metadata", "attachments")
                  and isinstance(path[1], int) and path[1] < len(nb.cells) and path[3] in nb.cells[path[1]].get(path[2], {})):
                del nb.cells[path[1]][path[2]][path[3]]
            else:
                continue
            removed = True
            break  # the paths of the other errors may have moved: validate again
        if not removed:
            return


def _count_ok(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def restore_metadata(nb: NotebookNode, cells: dict[str, dict], sources: dict[str, str] | None = None) -> NotebookNode:
    """`nb` with every cell's nbgrader metadata taken from the gradebook's `cells` ({grade_id: the
    metadata generate_assignment gave that cell}), never from the submission: a cell whose grade id
    the gradebook does not know, or that repeats one an earlier cell has, keeps none. The submission
    is the student's file, and nbgrader trusts what it says about its cells: a schema version from
    the future stops nbgrader for every student after this one; a solution cell marked as graded, a
    made-up test cell, or a locked test cell whose flags changed stops it for this one.

    A test cell no cell carries any more (the student deleted it, or its metadata) is added at the end
    from `sources` ({grade_id: its source}): the grading ran every check whatever the notebook holds,
    and without the cell nbgrader would record 0 for the points the record gives it."""
    seen: set[str] = set()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str) and grade_id in cells and grade_id not in seen:
            seen.add(grade_id)
            cell.metadata["nbgrader"] = NotebookNode(dict(cells[grade_id]))
        else:
            del cell.metadata["nbgrader"]
    for grade_id, meta in cells.items():
        if grade_id not in seen and sources and grade_id in sources and meta.get("grade") and not meta.get("solution"):
            cell = new_code_cell(sources[grade_id], metadata={"nbgrader": NotebookNode(dict(meta))})
            if nb.get("nbformat_minor", 5) < 5:  # ids came with nbformat 4.5
                del cell["id"]
            nb.cells.append(cell)
    return nb


def gradebook_cells(db_url: str, notebook: str, assignment: str) -> dict[str, dict]:
    """{grade_id: nbgrader metadata} of the source notebook's cells, as the gradebook holds them."""
    return _gradebook(db_url, notebook, assignment)[0]


def _gradebook(db_url: str, notebook: str, assignment: str) -> tuple[dict[str, dict], dict[str, str]]:
    """({grade_id: nbgrader metadata}, {grade_id: source}) of the source notebook's cells, as the gradebook holds them."""
    from nbgrader.api import Gradebook
    from nbgrader.nbgraderformat import SCHEMA_VERSION

    with Gradebook(db_url) as gradebook:
        source = gradebook.find_notebook(notebook, assignment)
        grades = {cell.name: cell.max_score for cell in source.grade_cells}
        tasks = {cell.name: cell.max_score for cell in source.task_cells}
        solutions = {cell.name for cell in source.solution_cells}
        cells, sources = {}, {}
        for cell in source.source_cells:
            meta = {
                "cell_type": cell.cell_type, "checksum": cell.checksum, "grade": cell.name in grades, "grade_id": cell.name,
                "locked": bool(cell.locked), "schema_version": SCHEMA_VERSION, "solution": cell.name in solutions,
            }
            if cell.name in tasks:
                meta.update(task=True, grade=False, solution=False)
            points = grades.get(cell.name, tasks.get(cell.name))
            if points is not None:
                meta["points"] = int(points) if float(points).is_integer() else float(points)
            cells[cell.name] = meta
            sources[cell.name] = cell.source or ""
    return cells, sources


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def merge(records: list[dict], root: str | os.PathLike, *, log_level: int = logging.WARNING) -> int:
    """Write `records` into nbgrader's autograded/ folder and gradebook.db under `root`; returns the
    number of submissions written. UserError, before anything is written, when a record's submission
    is not in this course, nbgrader does not know its assignment, or another program holds the gradebook."""
    root = Path(root).resolve()
    bin_dir = os.path.dirname(sys.executable)  # nbgrader runs `alembic` from the environment
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from reference.grading.runner import notebook_problem

    refused: list[str] = []
    by_assignment: dict[str, list[dict]] = {}
    for record in records:  # a record whose submission is not in this course would be "merged" into nothing
        notebook = Path("submitted", record["student"], record["assignment"], f"{record['notebook']}.ipynb")
        if not (root / notebook).is_file():
            raise UserError(
                f"the records hold {record['assignment']} of {record['student']}, and this course has no {notebook}; "
                f"merge in the course folder whose submissions were graded"
            )
    for record in records:  # nbgrader reads each notebook: one of millions of values held the whole class's merge
        notebook = Path("submitted", record["student"], record["assignment"], f"{record['notebook']}.ipynb")
        if (problem := notebook_problem(root / notebook)) or (problem := _unreadable(root / notebook)):
            refused.append(f"{record['assignment']} of {record['student']} ({problem})")
        else:
            by_assignment.setdefault(record["assignment"], []).append(record)
    staging = None
    try:  # a stop between mkdtemp and the assignment, or inside the removal, left the folder in the course
        with stops.held():
            staging = Path(tempfile.mkdtemp(prefix=".gan-course-merge-", dir=root))
        from nbformat.warnings import MissingIDFieldWarning

        with warnings.catch_warnings():  # a notebook saved without cell ids: `repair_structure` gives them, yet each of
            # nbgrader's reads printed nbformat's advice to the instructor, once as a bare Python warning with its source line
            warnings.filterwarnings("ignore", category=MissingIDFieldWarning)
            return _merge_staged(by_assignment, refused, root, staging, log_level)
    except OSError as err:  # a full disk, a read-only course folder: a traceback, the grades in the records still
        where = f": {err.filename}" if err.filename else ""
        raise UserError(f"the merge could not write in the course folder {root} ({err.strerror or type(err).__name__}{where}); "
                        f"free space there, or merge as a user who can write it, then merge again") from None
    finally:
        with stops.held():
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)


def stage_submissions(root: Path, staging: Path, records: list[dict]) -> tuple[list[dict], list[str]]:
    """Copy each record's submission folder, submitted/<student>/<assignment>/, to
    staging/<student>/<assignment>/, the notebook first, then the student's other plain files within
    the grader's file and disk limits: nbgrader copies whatever the folder it reads holds into
    autograded/ and the feedback, following links (a link to gradebook.db or to the model answers
    came back to the student with the feedback) and reading named pipes and devices (one held the
    merge), and it would grade every other folder of submitted/ (a folder named "x,bob" took bob out
    of the exclusion list it was meant for). The staged folder holds just the students recorded. Returns (the
    records staged, why each other one was not: its notebook is no longer a plain file there)."""
    from reference.grading.runner import copy_submission_files
    from reference.grading.sandbox import Limits

    staged, refused = [], []
    for record in records:
        try:
            _stage_one(root, staging, record, copy_submission_files, Limits())
        except UserError as err:
            refused.append(f"{record['assignment']} of {record['student']} ({err})")
            # what was staged before the refusal goes: nbgrader would read it and stop on the missing record
            shutil.rmtree(staging / record["student"] / record["assignment"], ignore_errors=True)
        else:
            staged.append(record)
    return staged, refused


def _stage_one(root: Path, staging: Path, record: dict, copy_submission_files, limits) -> None:
    """`stage_submissions` for one record; UserError when its notebook cannot be staged."""
    src = root / "submitted" / record["student"] / record["assignment"]
    dst = staging / record["student"] / record["assignment"]
    dst.mkdir(parents=True, exist_ok=True)
    name = f"{record['notebook']}.ipynb"
    where = Path("submitted", record["student"], record["assignment"], name)
    if any(p.is_symlink() for p in (src.parent, src)):
        raise UserError(f"{where} is reached through a link; copy the student's files there instead, then merge again")
    try:
        fd = os.open(src / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise UserError(f"{where} could not be read ({err.strerror}); put the student's notebook itself there, then merge again") from None
    with os.fdopen(fd, "rb") as notebook:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError(f"{where} is not a regular file; put the student's notebook itself there, then merge again")
        with open(dst / name, "wb") as copy:
            shutil.copyfileobj(notebook, copy)
    graded = record.get("notebook_sha256")
    if isinstance(graded, str) and hashlib.sha256((dst / name).read_bytes()).hexdigest() != graded:
        raise UserError(f"{where} changed after it was graded (its scores are those of the notebook then); grade it again: "
                        f"gan-course autograde {record['assignment']} --student {record['student']}")
    staged = (dst / name).read_bytes()
    if staged.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark, which nbformat (so nbgrader) refuses: the grader read past it
        (dst / name).write_bytes(staged[3:])
    # the time first (late penalties); nothing named as the feedback nbgrader writes beside it (a folder so named
    # stopped generate_feedback for that student with IsADirectoryError)
    copy_submission_files(src, dst, limits, skip={name, f"{record['notebook']}.html"}, first=("timestamp.txt",))
    check_timestamp(dst / "timestamp.txt", where.parent / "timestamp.txt")


MAX_TIMESTAMP = 1000  # bytes of a timestamp.txt: nbgrader's holds one line of about 30


def check_timestamp(staged: Path, where: Path, then: str = "merge again") -> None:
    """UserError when the submission's timestamp.txt holds no time nbgrader reads: nbgrader then stopped that
    student with a traceback of its own ("'CourseDirectory' object has no attribute 'fail'"). An empty one is
    nbgrader's to warn about (no time: no late penalty, as for a submission without the file). `then`: what to
    do once it is fixed."""
    if not staged.is_file():
        return
    from nbgrader.utils import parse_utc

    import datetime as dt

    import dateutil.parser

    example = "e.g. 2026-11-23 10:00:00.000000 UTC"
    if (size := staged.stat().st_size) > MAX_TIMESTAMP:  # nbgrader reads the whole file: 200 bytes of time, then junk, stopped it
        raise UserError(f"{where} is {size:,} bytes, not a time nbgrader reads ({example}); fix it, then {then}")
    text = staged.read_bytes().decode("utf-8", "replace").strip()
    if not text:
        return
    try:
        parse_utc(text)
        # a time without its date ("10:00", "10") is read as on the day of the merge: every part must be written
        dated = {dateutil.parser.parse(text, default=dt.datetime(year, year % 12 + 1, year % 28 + 1)).date() for year in (2001, 2002)}
    except Exception:  # noqa: BLE001 - dateutil's ParserError, ValueError, OverflowError...
        raise UserError(f"{where} holds {text[:60]!r}, not a time nbgrader reads ({example}); fix it, then {then}") from None
    if len(dated) > 1:
        raise UserError(f"{where} holds {text[:60]!r}, a time without its full date, which nbgrader would date from the day of "
                        f"grading ({example}); fix it, then {then}")


def _merge_staged(by_assignment: dict[str, list[dict]], refused: list[str], root: Path, staging: Path, log_level: int) -> int:
    """`merge`'s nbgrader part, nbgrader reading the submissions from `staging` (`stage_submissions`)."""
    from nbgrader.apps.autogradeapp import AutogradeApp
    from sqlalchemy.exc import SAWarning

    from reference.grading.preprocessors import FillRecords, autograde_steps

    written = 0
    failed: list[str] = []
    apps = []
    for assignment, group in sorted(by_assignment.items()):  # every assignment checked before anything is written
        group, unstaged = stage_submissions(root, staging, group)
        refused += unstaged
        if not group:
            continue
        with _in_folder(root):
            app = AutogradeApp()
            app.log.setLevel(log_level)
            app.initialize([assignment, "--force", "--create", f"--CourseDirectory.root={root}",
                            f"--CourseDirectory.submitted_directory={staging.name}"])
        url = app.coursedir.db_url
        if url.startswith("sqlite:///") and (problem := _gradebook_problem(url[len("sqlite:///"):], assignment)):
            raise UserError(problem)
        if not _known(app, assignment):
            raise UserError(NOT_RECORDED.format(a=assignment, then="merge again"))
        apps.append((assignment, group, app))
    for url in sorted({app.coursedir.db_url for _, _, app in apps}):
        _writable_gradebook(url)
    for assignment, group, app in apps:
        with _in_folder(root):
            app.config.Autograde.sanitize_preprocessors, app.config.Autograde.autograde_preprocessors = autograde_steps(FillRecords)
            app.config.FillRecords.records = {f"{r['assignment']}/{r['student']}/{r['notebook']}": r for r in group}
            app.log.addFilter(_expected_news)
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's autoflush notes, every submission
                    app.start()
            except SystemExit as exc:
                if exc.code:
                    missing = [
                        r["student"] for r in group if not (root / "autograded" / r["student"] / assignment / f"{r['notebook']}.ipynb").is_file()
                    ]
                    failed.append(f"{assignment} of {', '.join(sorted(set(missing))) or 'some students'}")
        written += len(group)
    if failed or refused:  # the others are recorded: nbgrader goes on after a student it cannot record
        said = [f"not recorded, as nbgrader would read it: {'; '.join(refused)}"] if refused else []
        said += [f"nbgrader could not record {'; '.join(failed)} (its log above says why)"] if failed else []
        raise UserError(f"{'; '.join(said)}; every other submission was recorded")
    return written


def _expected_news(record: logging.LogRecord) -> bool:
    """False for nbgrader's "Attribute 'checksum' for cell X has changed!": every test cell with hidden
    tests differs from the student's copy, which lacks them, and OverwriteCells puts every locked
    cell's source back from the gradebook anyway; four such lines per student hid what matters."""
    return not (str(record.msg).startswith("Attribute '%s' for cell") and record.args and record.args[0] == "checksum")


GRADEBOOK_WAIT_S = 10.0  # how long a merge waits for another program's write to gradebook.db


def _writable_gradebook(db_url: str) -> None:
    """UserError when another program holds the sqlite gradebook's write lock past GRADEBOOK_WAIT_S: nbgrader
    would otherwise fail halfway, after removing a student's autograded notebook, with advice
    (`nbgrader db upgrade`) that does not apply."""
    import sqlite3

    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or db_url == prefix + ":memory:":
        return
    path = db_url[len(prefix):]
    if not os.path.isfile(path):
        return
    try:
        db = sqlite3.connect(path, timeout=GRADEBOOK_WAIT_S, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.OperationalError as err:
        raise UserError(
            f"{path} could not be written ({err}): another program is writing to it (the formgrader, or another nbgrader "
            f"or gan-course command); let it finish or close it, then run this again"
        ) from None


def _gradebook_problem(path: str | os.PathLike, assignment: str = "<id>") -> str | None:
    """Why the sqlite gradebook at `path` cannot be read (not a database, a truncated or damaged file), or None
    (also when it is missing, or locked: `_writable_gradebook` says that). nbgrader took such a file for a
    gradebook that did not know the assignment and advised `nbgrader generate_assignment`, after the whole
    class was graded."""
    import sqlite3

    if not os.path.isfile(path):
        return None
    try:
        db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=GRADEBOOK_WAIT_S)
        try:
            found = db.execute("pragma quick_check(1)").fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError as err:
        if "locked" in str(err).lower() or "busy" in str(err).lower():
            return None
        why = str(err)
    except sqlite3.DatabaseError as err:
        why = str(err)
    else:
        if not found or found[0] == "ok":
            return None
        why = f"damaged: {str(found[0])[:120]}"
    return (f"{path} is not a readable gradebook ({why}); put back a copy from a backup, or move it aside and run "
            f"`nbgrader generate_assignment {assignment} --force` for a new one (hand grades are only in the old one), then run this again")


def gradebook_problem(root: Path, assignment: str = "<id>") -> str | None:
    """`_gradebook_problem` of the course's gradebook where nbgrader keeps it by default (root/gradebook.db); None
    when the course names another database (c.CourseDirectory.db_url)."""
    if "db_url" in (root / "nbgrader_config.py").read_text(encoding="utf-8", errors="replace"):
        return None
    return _gradebook_problem(root / "gradebook.db", assignment)


def _known(app, assignment: str) -> bool:
    """Whether the gradebook knows `assignment` (generate_assignment ran)."""
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(app.coursedir.db_url) as gradebook:
            gradebook.find_assignment(assignment)
    except MissingEntry:
        return False
    except Exception as err:  # noqa: BLE001 - no gradebook at all; or one another program holds locked
        return "locked" in str(err).lower()  # then `_writable_gradebook` says so, not "run generate_assignment"
    return True


def known_assignment(root: Path, assignment: str) -> bool | None:
    """Whether the course's gradebook (root/gradebook.db, nbgrader's default) knows `assignment`; None when the
    course names another database (c.CourseDirectory.db_url) or this one cannot be read now."""
    import sqlite3

    if "db_url" in (root / "nbgrader_config.py").read_text(encoding="utf-8", errors="replace"):
        return None
    path = root / "gradebook.db"
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=GRADEBOOK_WAIT_S)
        try:
            return db.execute("select 1 from assignment where name = ?", (assignment,)).fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return None


NOT_RECORDED = ("nbgrader could not record {a}: its gradebook does not know the assignment; run `nbgrader generate_assignment "
                "{a} --force` (it records the assignment's notebooks and points; without --force it skips an assignment "
                "whose release folder exists), then {then}")


def config_problem(root: Path) -> str | None:
    """A value in the course's nbgrader_config.py that nbgrader would refuse when it records grades (a late
    penalty method it does not know, a number given as text...), found by making each configured nbgrader
    class with it, before anyone is graded: the merge found it only after the whole class was graded,
    refusing every submission with a traceback in its log. None when every value fits its setting."""
    from nbgrader.apps import NbGraderApp
    from traitlets import TraitError
    from traitlets.config.loader import PyFileConfigLoader

    from reference.grading.checks import first_line

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    course = config.get("CourseDirectory", {})
    for name, default in (("submitted_directory", "submitted"), ("autograded_directory", "autograded")):
        if name in course and course[name] != default:  # these folders are where the grading runtime reads and writes
            return (f"nbgrader_config.py sets c.CourseDirectory.{name} = {course[name]!r}; gan-course autograde reads and "
                    f"writes nbgrader's default folders only ({default}/): remove that line (and move the folder to "
                    f"{default}/), or grade with nbgrader autograde")
    classes = {cls.__name__: cls for cls in NbGraderApp().all_configurable_classes()}
    for section in sorted(name for name in config if name in classes):
        try:
            classes[section](config=config)
        except TraitError as err:
            return f"nbgrader_config.py: nbgrader refuses a value of c.{section}: {first_line(err).rstrip('.')} (fix it, then run this again)"
        except Exception:  # noqa: BLE001 - a class that cannot be made alone here; nbgrader makes it its own way
            continue
    return None
