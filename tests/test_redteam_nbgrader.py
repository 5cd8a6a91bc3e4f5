"""The red team on the nbgrader path: a submission is the student's file, metadata included.

nbgrader's autograde trusts what a submitted notebook says about its cells (schema version, which
cell is graded or a solution, grade ids), and `merge` runs nbgrader once for the whole class. One
student's forged metadata must not stop the others being recorded, nor cost them their scores, and
nothing a cell printed may stop nbgrader writing a notebook. The records are made once, by grading
the model answer (sandboxed where bubblewrap can), and given to every student: what is tested is the
merge into the gradebook, not the checks.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from conftest import course_env, generated_course
from reference.grading.notebook import answered
from reference.grading.runner import MAX_CELLS, _clean_error, _clean_outputs, grade_submission, sandbox_default

ROOT = Path(__file__).resolve().parents[1]
A = "a1_theory"


_env = course_env


def _set(nb, grade_id: str, **meta) -> None:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.metadata["nbgrader"].update(meta)
            return
    raise AssertionError(f"no cell {grade_id}")


def _test_ids(nb) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]


def _forged(release: Path, source: Path) -> dict[str, nbformat.NotebookNode]:
    """Submissions whose nbgrader metadata the student changed (named to sort before the honest ones)."""
    sol = answered(release, source)
    tests = _test_ids(sol)
    out = {}
    nb = copy.deepcopy(sol)
    _set(nb, "losses", schema_version=99)  # nbgrader stops for every student after this one
    out["a0_schema_from_the_future"] = nb
    nb = copy.deepcopy(sol)
    _set(nb, "losses", schema_version=1)
    out["a1_schema_from_the_past"] = nb
    nb = copy.deepcopy(sol)
    _set(nb, "losses", grade=True, points=50)  # a solution cell claims to be graded
    out["a2_solution_cell_marked_graded"] = nb
    nb = copy.deepcopy(sol)
    _set(nb, tests[0], solution=True)  # a locked test cell's flags changed: "Inconsistent checksums"
    out["a3_test_cell_marked_solution"] = nb
    nb = copy.deepcopy(sol)
    fake = nbformat.v4.new_code_cell("print('all good')")
    fake.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "bonus", "points": 100, "schema_version": 3}
    nb.cells.append(fake)  # a test cell the assignment does not have
    out["a4_made_up_test_cell"] = nb
    nb = copy.deepcopy(sol)
    twice = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == tests[0])
    nb.cells.insert(0, copy.deepcopy(twice))  # the same test cell twice
    out["a5_test_cell_twice"] = nb
    nb = copy.deepcopy(sol)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "losses":
            cell.metadata["nbgrader"] = "not a dict"
    out["a6_metadata_not_a_dict"] = nb
    nb = copy.deepcopy(sol)
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"my cell #{number}!"  # nbformat reads it, then refuses it: nbgrader validates after every step
    out["a7_cell_ids_nbformat_refuses"] = nb
    nb = copy.deepcopy(sol)
    nb.cells.insert(0, nbformat.NotebookNode({"cell_type": "heading", "level": 2, "metadata": {}, "source": "My answers"}))  # a v3 cell
    next(c for c in nb.cells if c.cell_type == "code").execution_count = "seven"
    out["a8_heading_cell_and_a_count_that_is_text"] = nb
    nb = copy.deepcopy(sol)
    for cell in nb.cells:  # every cell claims one made-up id: no test cell is left to hold the recorded points
        cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": True, "grade_id": "x", "points": 10**9, "schema_version": 3}
    out["a9_every_cells_metadata_forged"] = nb
    return out


TOO_BIG = "f_too_many_cells"  # its record says what every other student's says: only the merge refuses it


BOMB = "iVBORw0KGgoAAAANSUhEUgAAw1AAAMNQAQAAAABj1ABnAAAAC0lEQVR42mNgAAIAAAUAAen63NgAAAAASUVORK5CYII="  # 50,000 x 50,000 pixels


def _with_images(nb):
    """The model answer whose first answer cell also shows a remote image and a pasted PNG claiming
    50,000 x 50,000 pixels (10 GB in the browser of whoever opens the feedback or the formgrader)."""
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution"))
    cell.source += "\n\n![my plot](http://evil.example/track.png?student=e) ![pasted](attachment:bomb.png)"
    cell.attachments = {"bomb.png": {"image/png": BOMB}}
    return nb


def _deep_folders(top: Path, depth: int) -> None:
    """Folders d/d/d/... `depth` deep under `top`, made one below the other (the whole path is longer than the
    system takes at once)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)


def _remove_deep_folders(top: Path) -> None:
    """Remove what `_deep_folders` made under `top`, from the bottom up (pytest's own clean-up of old temporary
    folders recurses, and a tree 1,000 deep left behind made it raise RecursionError in later runs)."""
    fds = [os.open(top, os.O_RDONLY | os.O_DIRECTORY)]
    while True:
        try:
            fds.append(os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        except FileNotFoundError:
            break
    for k in range(len(fds) - 1, 0, -1):
        os.close(fds[k])
        os.rmdir("d", dir_fd=fds[k - 1])
    os.close(fds[0])


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    course = tmp_path_factory.mktemp("course")
    release, source = generated_course(course, A)
    submissions = {**_forged(release, source), "b_honest": answered(release, source), "c_printed_a_lone_surrogate": answered(release, source),
                   "d_honest": answered(release, source), "e_markdown_images": _with_images(answered(release, source)),
                   "g_links_to_the_gradebook": answered(release, source), "h_a_named_pipe": answered(release, source),
                   "i_a_folder_named_as_the_feedback": answered(release, source)}
    too_big = answered(release, source)
    too_big.cells += [nbformat.v4.new_code_cell("") for _ in range(MAX_CELLS)]  # nbgrader would read it (200,000 cells: 1 GB)
    for student, nb in {**submissions, TOO_BIG: too_big}.items():
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text(json.dumps(nb))  # as the student's file holds it: nbformat.write would mend some
        (folder / "timestamp.txt").write_text("2026-11-23 10:00:00.000000 UTC")
    linked = course / "submitted" / "g_links_to_the_gradebook" / A
    (linked / "notes.txt").symlink_to(course / "gradebook.db")  # made by nbgrader: the link is followed when it is copied
    (linked / "answers.txt").symlink_to(source / A / f"{A}.ipynb")  # the model answers, hidden checks and all
    (linked / "classmate.ipynb").symlink_to(course / "submitted" / "b_honest" / A / f"{A}.ipynb")
    (course / "submitted" / "i_a_folder_named_as_the_feedback" / A / f"{A}.html").mkdir()  # generate_feedback: IsADirectoryError
    (course / "submitted" / "i_a_folder_named_as_the_feedback" / A / f"{A}.html" / "x.txt").write_text("x")
    os.mkfifo(course / "submitted" / "h_a_named_pipe" / A / "pipe.txt")  # shutil's SpecialFileError: h was not recorded
    (course / "submitted" / "zz,d_honest").mkdir()  # nbgrader splits its exclusion list at commas: d_honest was left out
    _deep_folders(course / "submitted" / "h_a_named_pipe" / A, 1000)  # os.walk's recursion in the copy stopped the whole merge
    record = grade_submission(course / "submitted" / "b_honest" / A / f"{A}.ipynb", A, course, sandbox=sandbox_default(None))
    full = sum(c["earned"] for c in record["checks"].values())
    assert full > 0 and not record["stopped"]
    lines = []
    for student in [*submissions, TOO_BIG]:
        mine = copy.deepcopy(record)
        mine["student"] = student
        del mine["notebook_sha256"]  # b_honest's record stands for each student's: no digest of another notebook
        if student == "c_printed_a_lone_surrogate":  # as a record written before runner cleaned its text
            first = next(iter(mine["cells"].values()))
            first["outputs"].append({"output_type": "stream", "name": "stdout", "text": "caf\udce9\n"})
        lines.append(json.dumps(mine) + "\n")
    (course / "records.jsonl").write_text("".join(lines))
    done = subprocess.run(["gan-course", "autograde", "--merge", "records.jsonl"], cwd=course, env=_env(), capture_output=True, text=True)
    exported = subprocess.run(["nbgrader", "export", "--to", "grades.csv"], cwd=course, env=_env(), capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr[-2000:]
    with open(course / "grades.csv", newline="") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f) if row["assignment"] == A}
    yield {"course": course, "merge": done, "scores": scores, "full": full, "students": list(submissions), "too_big_cells": len(too_big.cells)}
    _remove_deep_folders(course / "submitted" / "h_a_named_pipe" / A)


def test_forged_metadata_stops_no_one_and_every_student_is_recorded(merged):
    said = merged["merge"].stderr
    assert merged["merge"].returncode == 2, said[-3000:]  # for TOO_BIG only, named with the reason
    assert f"not recorded, as nbgrader would read it: {A} of {TOO_BIG} (the notebook has {merged['too_big_cells']:,} cells, over the" in said, said[-3000:]
    assert "every other submission was recorded" in said and "nbgrader could not record" not in said, said[-3000:]
    for student in merged["students"]:
        assert (merged["course"] / "autograded" / student / A / f"{A}.ipynb").is_file(), student


def test_a_notebook_of_more_values_than_the_grader_reads_is_never_given_to_nbgrader(merged):
    """nbgrader reads each submission again in the merge, a notebook of 200,000 empty cells (18 MB)
    in 80 s and 1 GB, one of 5 million empty objects (14 MB) in 2.6 GB: the grader refused such a
    notebook, the merge of the whole class read it."""
    assert not (merged["course"] / "autograded" / TOO_BIG).exists()
    assert TOO_BIG not in merged["scores"]


def test_every_student_gets_exactly_the_score_the_grading_recorded(merged):
    assert merged["scores"] == {student: merged["full"] for student in merged["students"]}


def test_nbgrader_copies_no_link_and_no_special_file_of_a_submission_into_the_feedback(merged):
    """nbgrader copies a submission's folder into autograded/ (and `generate_feedback` on to the
    student), following links: eve's links to gradebook.db, the model answers and a classmate's
    notebook came back as copies of them; a named pipe stopped her being recorded (shutil's
    SpecialFileError). The merge hands nbgrader a copy of each recorded folder with only its plain
    files, so both are recorded, with their own files only; a folder named "zz,d_honest" no longer
    takes d_honest out of the merge (the scores above hold d_honest's)."""
    graded = merged["course"] / "autograded"
    assert sorted(p.name for p in (graded / "g_links_to_the_gradebook" / A).iterdir()) == [f"{A}.ipynb", "timestamp.txt"]
    assert sorted(p.name for p in (graded / "h_a_named_pipe" / A).iterdir()) == [f"{A}.ipynb", "timestamp.txt"]
    assert not list(merged["course"].glob(".gan-course-merge-*"))  # the staged copies are gone


def test_a_folder_named_as_the_feedback_is_not_copied_and_feedback_is_written(merged):
    """A folder a1_theory.html beside the notebook was copied into autograded/, and `nbgrader generate_feedback`
    then stopped for that student (IsADirectoryError, status 1) where it writes a1_theory.html."""
    student = "i_a_folder_named_as_the_feedback"
    assert not (merged["course"] / "autograded" / student / A / f"{A}.html").exists()
    done = subprocess.run(["nbgrader", "generate_feedback", A, "--student", student, "--force"], cwd=merged["course"], env=_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0 and (merged["course"] / "feedback" / student / A / f"{A}.html").is_file(), done.stderr[-2000:]


def test_printed_text_that_is_not_utf8_reaches_the_graded_notebook_as_text(merged):
    nb = nbformat.read(merged["course"] / "autograded" / "c_printed_a_lone_surrogate" / A / f"{A}.ipynb", as_version=4)
    texts = [out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])]
    assert any("caf?" in text for text in texts)


def test_the_record_keeps_only_text_that_can_be_written_as_utf8():
    outputs = _clean_outputs([{"output_type": "stream", "text": "caf\udce9"}, {"output_type": "execute_result", "data": {"text/plain": "\ud800"}}])
    error = _clean_error({"ename": "E\udc80", "evalue": "bad \udce9", "traceback": ["line \ud800"]})
    for text in (outputs[0]["text"], outputs[1]["data"]["text/plain"], error["ename"], error["evalue"], error["traceback"][0]):
        text.encode("utf-8")
    assert outputs[0]["text"] == "caf?"


FORGED_CELLS = r"""
import gc, base64, sys
from reference.grading.proxy import write_frame
def is_worker(o):
    try:
        return type(o).__name__ == "Worker" and hasattr(o, "fd_out") and hasattr(o, "handles") and hasattr(o, "unwire")
    except Exception:  # objects whose attribute lookup raises (lazy modules): not the worker
        return False
worker = next(o for o in gc.get_objects() if is_worker(o))
pngs = [base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes([i]) * 1_400_000).decode() for i in range({copies})]  # each its own: pickled once
outputs = [{"output_type": "display_data", "data": {"image/png": png}} for png in pngs]
frame = sys._getframe()
while not {"cells", "count"} <= frame.f_locals.keys():  # the worker's loop over the cells
    frame = frame.f_back
mine = [cell["index"] for cell in frame.f_locals["cells"][frame.f_locals["count"] - 1:]]  # this cell and the ones after it
for index in {cells}:  # 1.9 MB of "outputs" for each copy
    worker.send({"cell": index, "count": 1, "outputs": outputs, "error": None})
"""


def forged_record(tmp_path: Path, cells: str, copies: int = 20) -> dict:
    """The record of a1's model answer whose try_frechet cell sends the grader forged replies of `copies` PNGs of 1.9 MB
    for `cells` (an expression; `mine`: the indices of this cell and the later ones, in the order the grader expects)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import notebook_with_cells

    nb = notebook_with_cells(ROOT / "solutions" / A / f"{A}.ipynb", tmp_path, {"try_frechet": FORGED_CELLS.replace("{cells}", cells).replace("{copies}", str(copies))})
    record = grade_submission(nb, A, ROOT, sandbox=sandbox_default(None), only=["test_d_star_is_the_optimal_discriminator"])
    code_cells = [i for i, c in enumerate(nbformat.read(nb, as_version=4).cells) if c.cell_type == "code"]
    assert set(map(int, record["cells"])) <= set(code_cells)
    assert len(json.dumps(record)) < 21 * 2**20  # MAX_OUTPUTS, and the rest of the record
    return record


def test_a_worker_answering_for_cells_that_do_not_exist_cannot_grow_the_record(tmp_path: Path):
    """The worker sends one reply per cell it was given, in their order; a forged reply for another index stays out
    of the record (it was 450 MB here, and grew without bound with the number of forged replies, in the grader's
    memory and then in the gradebook's notebook) and, since the grader decoded each one (120 MB replies: 11 s of
    the grader's own CPU, which no limit counts, for 2 s of the sandbox's, until the wall limit), ends the worker
    at the first."""
    record = forged_record(tmp_path, "range(10**6, 10**6 + 12)")  # 12 x 37 MB
    assert len(record["stopped"]) == 1 and "a reply for a cell out of the notebook's order" in record["stopped"][0], record["stopped"]
    assert record["checks"]["test_d_star_is_the_optimal_discriminator"]["earned"] == 0


def test_replies_for_the_notebooks_own_cells_are_read_only_within_their_budget(tmp_path: Path):
    """A forged reply for the notebook's own cell, in its order, of 112 MB (the record kept 20 of its 60 outputs, but the
    grader decoded all of them, and each reply sent again after it: a GB for these 10): past `cells_budget` the worker
    is ended, the frame unread."""
    record = forged_record(tmp_path, "mine * 10", copies=60)
    assert len(record["stopped"]) == 1 and "its cells' replies had left" in record["stopped"][0], record["stopped"]
    assert record["checks"]["test_d_star_is_the_optimal_discriminator"]["earned"] == 0
    from reference.grading.proxy import CELLS_BUDGET

    assert 60 * 1.8 * 2**20 > CELLS_BUDGET  # the first reply is refused unread


def test_an_honest_notebook_printing_past_the_budget_is_graded_with_its_outputs_left_out(tmp_path: Path, monkeypatch):
    """The honest worker sends a cell's outputs past `cells_budget` as one line, so a notebook that prints more than
    the graded notebook keeps (300 cells of 100,000 four-byte characters: 120 MB of replies) is graded, its first
    cells' outputs kept whole and its last ones left out, as the grader's own MAX_OUTPUTS leaves them."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import attack_course

    root = attack_course(tmp_path, monkeypatch)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('print("\\U0001F600" * 100_000)') for _ in range(300)]
    nbformat.write(nb, root / "attack.ipynb")
    record = grade_submission(root / "attack.ipynb", "attack", root, sandbox=sandbox_default(None))
    assert record["stopped"] == [], record["stopped"]
    texts = [record["cells"][str(i)]["outputs"][0]["text"] for i in range(300)]
    assert texts[0].startswith("\U0001F600" * 99_999) and "left out" not in texts[0]
    assert "output left out" in texts[-1]


def test_the_submissions_own_files_are_copied_without_pipes_and_within_the_disk_budget(tmp_path: Path):
    """A named pipe in the submission's folder hung or failed the copy (shutil's SpecialFileError,
    with the grader's paths in the student's message); empty files cost nothing, so a folder of a
    million of them was copied in full before any limit of the sandbox applied."""
    from reference.grading.runner import Limits, copy_submission_files

    src, dst = tmp_path / "sub", tmp_path / "scratch"
    (src / "many").mkdir(parents=True)
    dst.mkdir()
    os.mkfifo(src / "pipe")
    (src / "data.csv").write_text("1,2\n")
    for i in range(600):
        (src / "many" / f"{i:04d}").touch()
    copy_submission_files(src, dst, Limits(disk_mb=2), skip=set())  # a budget of 1 MiB: 256 blocks
    assert (dst / "data.csv").read_text() == "1,2\n"
    assert not (dst / "pipe").exists()
    assert 100 < len(list((dst / "many").iterdir())) < 256


def test_the_copy_of_a_submission_survives_deep_trees_long_paths_hard_links_and_keeps_the_timestamp(tmp_path: Path):
    """A folder 1,000 deep (os.walk's recursion) or a path longer than the system's limit raised out of the copy the
    merge makes and lost the whole class's grades; big files sorted before timestamp.txt spent the budget and left
    the submission's time out (no late penalty); a hard link to the model answers was copied into the feedback; and
    thousands of files held nbgrader's merge (it scans the folder once per file)."""
    from reference.grading.runner import MAX_COPIED_FILES, MAX_COPY_DEPTH, Limits, copy_submission_files

    src, dst = tmp_path / "sub", tmp_path / "staged"
    src.mkdir()
    _deep_folders(src, 1000)
    long = src / ("x" * 200)
    os.makedirs(long / ("y" * 200) / ("z" * 200), exist_ok=True)
    for k in range(3):
        with open(src / f"a{k}.bin", "wb") as f:  # sparse: 1 MiB each, within file_mb, over the budget together
            f.truncate(2**20)
    (src / "timestamp.txt").write_text("2026-11-23 10:00:00.000000 UTC")
    secret = tmp_path / "model_answer.ipynb"
    secret.write_text("hidden tests")
    os.link(secret, src / "answers.txt")
    (src / "many").mkdir()
    for k in range(MAX_COPIED_FILES + 50):
        (src / "many" / f"{k:05d}").touch()
    try:
        skipped = copy_submission_files(src, dst, Limits(disk_mb=4), skip=set(), first=("timestamp.txt",))
    finally:
        _remove_deep_folders(src)
    assert (dst / "timestamp.txt").read_text().startswith("2026-11-23")
    assert not (dst / "answers.txt").exists() and "answers.txt" in skipped
    assert sum(1 for p in dst.rglob("*") if p.is_file()) <= MAX_COPIED_FILES
    assert max(len(p.relative_to(dst).parts) for p in dst.rglob("*")) <= MAX_COPY_DEPTH + 1


def test_a_submission_reached_through_a_link_is_not_graded(tmp_path: Path, capsys):
    """submitted/eve -> ../solutions (or to a classmate's folder) would be graded as eve's work."""
    from reference.grading.command import _submissions

    root = tmp_path
    (root / "solutions" / A).mkdir(parents=True)
    (root / "solutions" / A / f"{A}.ipynb").write_text("{}")
    (root / "submitted" / "alice" / A).mkdir(parents=True)
    (root / "submitted" / "alice" / A / f"{A}.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (root / "submitted" / "eve").symlink_to(root / "solutions", target_is_directory=True)
    (root / "solutions" / A / A).mkdir()
    (root / "solutions" / A / A / f"{A}.ipynb").write_text("{}")
    (root / "submitted" / "mallory").symlink_to(root / "solutions", target_is_directory=True)
    (root / "submitted" / "oscar").mkdir()
    (root / "submitted" / "oscar" / A).symlink_to(root / "submitted" / "alice" / A, target_is_directory=True)
    (root / "submitted" / "trudy" / A).mkdir(parents=True)
    (root / "submitted" / "trudy" / A / f"{A}.ipynb").symlink_to(root / "solutions" / A / f"{A}.ipynb")
    assert [s for s, _ in _submissions(root, A, None)] == ["alice"]
    assert "through a link" in capsys.readouterr().err


def _zip_of_empty_records(n: int) -> bytes:
    """A stored zip (zip64 end records) of `n` empty one-letter records: 75 bytes a record."""
    import struct

    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + b"a"
    body = local * n
    cd = b"".join(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, i * len(local)) + b"a"
                  for i in range(n))
    z64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(cd), len(body))
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(body) + len(cd), 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + cd + z64 + locator + end


def test_a_reply_whose_zip_directory_is_huge_is_refused_before_it_is_parsed():
    """zipfile makes an object for every directory entry before the record count was checked: a
    128 MB reply of empty records held the trusted grader for about a minute and 700 MB."""
    import tracemalloc

    from reference.grading.proxy import MAX_RECORDS, ProtocolError, decode, stored_zip_problem

    bomb = _zip_of_empty_records(2 * MAX_RECORDS)
    tracemalloc.start()
    try:
        problem = stored_zip_problem(bomb, 128 * 2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problem == "compressed, or too many records"
    assert peak < 5 * 2**20, f"{peak:,} bytes to refuse it"
    with pytest.raises(ProtocolError):
        decode(bomb)


def test_a_reply_of_more_opcodes_than_values_allowed_is_refused_before_torch_load(monkeypatch):
    """torch.load's weights_only unpickler spends about 3 microseconds an opcode: a 128 MB reply of
    one-byte opcodes ([None] * 134 million) held the trusted grader for about 8 minutes and a GB."""
    import io
    import zipfile

    import torch

    import reference.grading.proxy as proxy

    pickled = b"\x80\x02]q\x00(" + b"N" * (getattr(proxy, "MAX_OPS", 6_001_000) + 10) + b"e."
    buffer = io.BytesIO()
    torch.save({}, buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, pickled if info.filename.endswith("data.pkl") else source.read(info.filename))
    loads = []
    monkeypatch.setattr(proxy.torch, "load", lambda *args, **kwargs: loads.append(1))
    with pytest.raises(proxy.ProtocolError, match="more than"):
        proxy.decode(out.getvalue())
    assert loads == []
    monkeypatch.undo()
    assert proxy.decode(proxy.encode({"values": [0.5] * 1000, "t": torch.zeros(3)}))["values"] == [0.5] * 1000


def test_a_folder_name_merge_would_refuse_is_not_graded(tmp_path: Path, capsys):
    """--merge refuses a whole records file for one record whose student is not an id it can
    record: one odd folder in submitted/ blocked the merge of its whole shard."""
    from reference.grading.command import _submissions

    for student in ("alice", "bad name", "x\ny", "-dash"):
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
        (tmp_path / "submitted" / student / A / f"{A}.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    assert [s for s, _ in _submissions(tmp_path, A, None)] == ["alice"]
    assert "not a student id" in capsys.readouterr().err


def test_images_in_markdown_reach_the_graded_notebook_only_within_an_outputs_limits(merged):
    """What the feedback and the formgrader render is the autograded notebook: the remote image is a
    link there, the pasted bomb is left out with the reason, the student's answer is kept."""
    nb = nbformat.read(merged["course"] / "autograded" / "e_markdown_images" / A / f"{A}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "evil.example" in c.source)
    assert "[remote image, not loaded: my plot](http://evil.example/track.png?student=e)" in cell.source
    assert "[left out: an image of 50,000 x 50,000 pixels" in cell.source and "attachments" not in cell
    assert BOMB not in json.dumps(nb)


def test_a_notebook_nested_deeper_than_the_json_parser_goes_is_not_graded_and_the_class_is(tmp_path: Path, capsys):
    """A notebook of 5,000 nested lists in a cell's metadata stopped `gan-course autograde` for the
    whole class with json's RecursionError, before any submission was graded."""
    from reference.grading.command import _submissions

    for student in ("alice", "deep"):
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
    (tmp_path / "submitted" / "alice" / A / f"{A}.ipynb").write_text('{"cells": []}')
    (tmp_path / "submitted" / "deep" / A / f"{A}.ipynb").write_text('{"cells": [{"metadata": ' + "[" * 5000 + "]" * 5000 + "}]}")
    assert [s for s, _ in _submissions(tmp_path, A, None)] == ["alice"]
    assert (f"submitted/deep/{A}/{A}.ipynb: the notebook's JSON nests 5,003 levels deep, over the 100 a notebook may have; "
            f"not graded") in capsys.readouterr().err  # refused by the grader's own limit, on every Python


def test_nesting_is_limited_by_the_grader_on_every_python(tmp_path: Path):
    """Python 3.13's json parser takes 5,000 nested lists that 3.11 and 3.12 refuse with RecursionError, and the
    grader's next readers (nbformat's validation, its walks of a cell) recurse too: the grader's own limit
    (runner.MAX_DEPTH) refuses a notebook nested deeper, whatever the Python; brackets inside strings (a cell's source,
    a printed nested list) are text, not nesting."""
    from reference.grading.runner import MAX_DEPTH, notebook_problem

    deep = '{"cells": [{"metadata": ' + "[" * (MAX_DEPTH + 50) + "]" * (MAX_DEPTH + 50) + "}]}"
    json.loads(deep)  # within every Python's parser: only the grader's limit refuses it
    (tmp_path / "deep.ipynb").write_text(deep)
    assert notebook_problem(tmp_path / "deep.ipynb") == (
        f"the notebook's JSON nests {MAX_DEPTH + 53} levels deep, over the {MAX_DEPTH} a notebook may have")
    printed = {"cells": [{"cell_type": "code", "source": "x = " + "[" * 5000 + "]" * 5000, "metadata": {},
                          "outputs": [{"output_type": "stream", "name": "stdout", "text": "[[[[" * 1000 + '\\"{'}]}]}
    (tmp_path / "printed.ipynb").write_text(json.dumps(printed))
    assert notebook_problem(tmp_path / "printed.ipynb") is None


class _Digest(str):
    """A recorded cell's digest that counts how often it is compared."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _Digest.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_outputs_are_matched_to_cells_by_lookup_not_by_a_scan_of_the_record():
    """Each code cell scanned every recorded cell left for its digest: a notebook of 100,000 cells,
    half of them without a recorded output (the worker answered only for the others), held the merge
    for every student for about an hour (n**2 / 4 comparisons)."""
    from nbformat.v4 import new_code_cell, new_notebook

    from reference.grading.bridge import fill
    from reference.grading.notebook import source_digest

    n = 2000
    nb = new_notebook(cells=[new_code_cell(f"x = {i}") for i in range(n)])
    record = {"tests": {}, "cells": {str(i): {"digest": _Digest(source_digest(f"x = {i}")), "outputs": [{"output_type": "stream", "text": f"{i}"}],
                                              "error": None} for i in range(0, n, 2)}}
    _Digest.compared = 0
    fill(nb, record)
    assert _Digest.compared < 4 * n
    assert [c.outputs[0].text if c.outputs else None for c in nb.cells[:4]] == ["0", None, "2", None]


def test_a_test_cell_added_back_from_the_gradebook_shows_no_hidden_check_in_the_feedback(merged):
    """A submission whose every cell lost its nbgrader metadata gets its test cells back from the gradebook
    (so its points are recorded): the feedback page shows them as any student's, never the hidden checks'
    code (the gradebook keeps it between BEGIN/END HIDDEN TESTS)."""
    student = "a9_every_cells_metadata_forged"
    done = subprocess.run(["nbgrader", "generate_feedback", A, "--student", student, "--force"], cwd=merged["course"], env=_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    page = (merged["course"] / "feedback" / student / A / f"{A}.html").read_text()
    assert "Hidden check" in page and "Visible check" in page, "the test cells are not on the feedback page"
    assert "HIDDEN TESTS" not in page, "the feedback shows a hidden check's code"


def _notebook_json(cells: list, metadata: dict | None = None) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {}, "cells": cells}, separators=(",", ":"))


def test_a_notebook_of_more_json_values_than_a_notebook_needs_is_not_graded_and_the_class_is(tmp_path: Path, capsys):
    """What reading a notebook costs grows with its JSON values, not its bytes: 14 MB of empty objects
    took nbformat 2.6 GB and 10 s, and 18 MB of 200,000 empty cells held the grader 80 s and 1 GB,
    each under the 20 MB the grader reads (and `--jobs` grades several at once). Such notebooks are
    refused in a few bytes each here (the limits scaled the same way), before anything is built."""
    from reference.grading.command import _submissions
    from reference.grading.runner import MAX_CONTAINERS, MAX_VALUES, _read_notebook

    empty = {"cell_type": "code", "execution_count": None, "id": "x", "metadata": {}, "outputs": [], "source": ""}
    attacks = {
        "b_cells": _notebook_json([dict(empty, id=f"c{i}") for i in range(MAX_CELLS + 1)]),
        "c_objects": _notebook_json([], {"x": [{}] * (MAX_CONTAINERS + 1)}),
        "d_arrays": _notebook_json([], {"x": [[]] * (MAX_CONTAINERS + 1)}),
        "e_numbers": _notebook_json([], {"x": [0] * MAX_VALUES}),
    }
    for student, text in {"a_honest": _notebook_json([empty]), **attacks}.items():
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
        (tmp_path / "submitted" / student / A / f"{A}.ipynb").write_text(text)
    assert [s for s, _ in _submissions(tmp_path, A, None)] == ["a_honest"]
    said = capsys.readouterr().err
    for student in attacks:
        path = tmp_path / "submitted" / student / A / f"{A}.ipynb"
        assert f"submitted/{student}/{A}/{A}.ipynb: the notebook " in said, said
        with pytest.raises(ValueError, match="a notebook may have"):
            _read_notebook(path)  # what grade_submission records as the reason, for every check


def test_honest_notebooks_are_within_the_graders_reading_limits(tmp_path: Path):
    """Every notebook of the course (lessons with their outputs, sources, student versions), and one
    whose outputs print a large tensor (its brackets and commas are text, not JSON values)."""
    from reference.grading.runner import MAX_VALUES, notebook_problem

    notebooks = sorted({*ROOT.glob("solutions/*/*.ipynb"), *ROOT.glob("assignments/*/*.ipynb"), *ROOT.glob("lessons/*.ipynb")})
    assert len(notebooks) > 15
    for path in notebooks:
        assert notebook_problem(path) is None, path
    printed = nbformat.v4.new_code_cell("print(torch.zeros(300, 3000))")
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout", text=["tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n"] * 5000)]
    printed.outputs[0].text = "".join(printed.outputs[0].text) + "[" * MAX_VALUES + "," * MAX_VALUES
    nb = nbformat.v4.new_notebook(cells=[printed] + [nbformat.v4.new_code_cell(f"x = {i}") for i in range(MAX_CELLS - 1)])
    nbformat.write(nb, tmp_path / "honest.ipynb")
    assert notebook_problem(tmp_path / "honest.ipynb") is None


def test_repeated_or_missing_cell_ids_are_made_unique_before_nbgrader_validates():
    # nbformat repairs these itself, but warns at each of nbgrader's many validations of the notebook
    import warnings

    from reference.grading.bridge import repair_structure

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("a"), nbformat.v4.new_code_cell("1"),
                                         nbformat.v4.new_code_cell("2"), nbformat.v4.new_code_cell("3")])
    nb.cells[1].id = nb.cells[2].id = nb.cells[0].id  # cells pasted from another notebook's JSON
    del nb.cells[3]["id"]
    kept = nb.cells[0].id
    repair_structure(nb)
    ids = [cell.id for cell in nb.cells]
    assert ids[0] == kept and len(set(ids)) == len(ids), ids
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nbformat.validate(nb)
