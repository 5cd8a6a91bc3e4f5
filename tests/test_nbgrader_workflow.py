"""The instructor's real nbgrader workflow, end to end, in a temporary copy of the course.

generate_assignment -> three submissions per assignment (the solution, the blank student version,
a buggy one) placed where `nbgrader collect` puts them, and for a1 a fourth whose first cell writes
into the course folder -> `nbgrader autograde --create` (adds the students to the gradebook; each
submission's cells run in the sandbox, as nbgrader_config.py's `SandboxedExecute` makes them; the
checks in tests/autograders/ score them) -> `nbgrader export` to grades.csv with exactly the expected
scores -> `nbgrader generate_feedback`, whose HTML shows the checks' messages but no hidden test
code. The workflow runs once per module; the tests read its results. The formgrader's Autograde
button (nbgrader's API) grades in the sandbox too, and nothing is graded where no sandbox can be made.

It runs a1_theory and a3_save_every_10_epochs (about 10-30 s of grading per submission on a
2-core CPU). The other assignments train GANs at grade time; set GAN_COURSE_E2E_ALL=1 to run them
too, with their solution and blank submissions.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reference.grading.notebook import answered
from sandbox_support import needs_sandbox

pytestmark = needs_sandbox  # plain nbgrader autograde runs no submission without one (the last test)

ROOT = Path(__file__).resolve().parents[1]
IDS = sorted(p.parent.name for p in ROOT.glob("solutions/*/*.ipynb") if p.stem == p.parent.name)

# the buggy submission: the solution with one cell replaced, and the score it must get
BUGGY = {
    "a1_theory": (
        "losses",
        "def d_loss(real_logits, fake_logits):\n"
        "    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()\n\n"
        "def g_loss(fake_logits):\n"
        "    return torch.log(1 - torch.sigmoid(fake_logits)).mean()  # -inf at a logit of 100\n",
        21.0,
    ),
    "a3_save_every_10_epochs": (
        "train",
        "def train(n_epochs: int, out_dir, seed: int = 0):\n"
        "    gan = make_gan(seed)\n"
        "    out_dir = Path(out_dir)\n"
        "    for epoch in range(1, n_epochs + 1):\n"
        "        for x in gan.batches.epoch(epoch):\n"
        "            step(gan, x)\n"
        "        if epoch % 10 == 0:\n"
        "            noise = torch.randn(64, gan.nz)  # new noise at every save\n"
        "            with torch.no_grad():\n"
        "                save_image_grid(from_model_range(gan.G(noise), 'tanh'), out_dir / f'{epoch}.png')\n"
        "            torch.save({'G': gan.G.state_dict(), 'D': gan.D.state_dict()}, out_dir / f'{epoch}.pt')\n"
        "    return gan.G, gan.D\n",
        11.0,
    ),
}
# the intruder: the solution after a first cell that writes into the course folder, which a cell run in a kernel
# on the grading host can (nbgrader's own Execute); in the sandbox it cannot, and the solution's score stands
INTRUDED = "a1_theory"
MARKER = "written-by-a-submission"
INTRUDER_CELL = """\
from pathlib import Path
try:
    Path({root!r}, {marker!r}).write_text("a submission's code ran on the grading host")
except OSError as err:
    print("refused:", err)
"""

RUN = [a for a in IDS if a in BUGGY or os.environ.get("GAN_COURSE_E2E_ALL", "0") not in ("", "0")]
TIMESTAMP = "2026-11-23 10:00:00.000000 UTC"


def nbgrader(course: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GAN_COURSE_ROOT", None)  # the checks must be found from the kernel's folder in the course
    result = subprocess.run(["nbgrader", *args], cwd=course, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def submit(course: Path, student: str, assignment: str, nb: nbformat.NotebookNode) -> None:
    """Place a submission as `nbgrader collect` does: submitted/<student>/<id>/<id>.ipynb + timestamp.txt."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    (folder / "timestamp.txt").write_text(TIMESTAMP)


def points(source: Path, manual: bool) -> float:
    """Total points of the autograded test cells (and the hand-graded answers if `manual`)."""
    return sum(
        float(c.metadata["nbgrader"]["points"])
        for c in nbformat.read(source, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade") and (manual or not c.metadata["nbgrader"].get("solution"))
    )


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A graded course: (its root, {assignment: {student: expected automatic score}})."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "tests" / "autograders", course / "tests" / "autograders", ignore=shutil.ignore_patterns("__pycache__"))
    expected = {}
    for assignment in RUN:
        shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
        nbgrader(course, "generate_assignment", assignment, "--force")
        release = course / "assignments" / assignment / f"{assignment}.ipynb"
        source = course / "solutions" / assignment / f"{assignment}.ipynb"
        submissions = {"solution": answered(release, source), "blank": nbformat.read(release, as_version=4)}
        expected[assignment] = {"solution": points(source, manual=False), "blank": 0.0}
        if assignment in BUGGY:
            grade_id, code, score = BUGGY[assignment]
            buggy = answered(release, source)
            (cell,) = [c for c in buggy.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
            cell.source = code
            submissions["buggy"], expected[assignment]["buggy"] = buggy, score
        if assignment == INTRUDED:
            intruder = answered(release, source)
            intruder.cells.insert(0, nbformat.v4.new_code_cell(INTRUDER_CELL.format(root=str(course), marker=MARKER)))
            given = next(c for c in intruder.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
            given.source += "\nprint('the edited given cell ran')\n"  # a locked cell changed: nbgrader shows the course's
            submissions["intruder"], expected[assignment]["intruder"] = intruder, expected[assignment]["solution"]
        for student, nb in submissions.items():
            submit(course, student, assignment, nb)
        if assignment == INTRUDED:  # and links to the model answers, which nbgrader copies as their targets
            folder = course / "submitted" / "intruder" / assignment
            (folder / "answers.txt").symlink_to(source)
            (folder / "solutions").symlink_to(source.parent, target_is_directory=True)
            os.link(source, folder / "hard-linked.txt")  # the same file under a second name
            (folder / f"{assignment}.html").mkdir()  # a folder named as the feedback (it stopped generate_feedback)
            (folder / f"{assignment}.html" / "x.txt").write_text("x")
            (folder / ".hidden").mkdir()
            (folder / ".hidden" / "notes.txt").write_text("dot folders are not copied")
            # metadata of the wrong JSON types, which nbgrader refuses to validate: the sandbox's score must be recorded
            odd = answered(release, source)
            odd.metadata.update(language_info="python", kernelspec="python3", authors="me")
            next(c for c in odd.cells if c.cell_type == "code").metadata["tags"] = "not a list"
            (course / "submitted" / "odd_metadata" / assignment).mkdir(parents=True)
            (course / "submitted" / "odd_metadata" / assignment / f"{assignment}.ipynb").write_text(json.dumps(odd))
            (course / "submitted" / "odd_metadata" / assignment / "timestamp.txt").write_text(TIMESTAMP)
            expected[assignment]["odd_metadata"] = expected[assignment]["solution"]
    for assignment in RUN:  # the export lists every student of the gradebook for every assignment
        for student in ("buggy", "intruder", "odd_metadata"):
            expected[assignment].setdefault(student, 0.0)
    # --create adds each student to the gradebook (what `nbgrader db student add` does)
    for assignment in RUN:
        nbgrader(course, "autograde", assignment, "--create", "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    for assignment in RUN:
        nbgrader(course, "generate_feedback", assignment, "--force")
    return course, expected


@pytest.mark.parametrize("assignment", RUN)
def test_exported_grades_are_exactly_the_expected_scores(course, assignment: str):
    root, expected = course
    with open(root / "grades.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["assignment"] == assignment]
    # written answers (a1) are graded by hand: their points are not in the automatic score yet
    assert {r["student_id"]: float(r["score"]) for r in rows} == expected[assignment]
    max_score = points(root / "solutions" / assignment / f"{assignment}.ipynb", manual=True)
    assert {float(r["max_score"]) for r in rows} == {max_score}


@pytest.mark.parametrize("assignment", RUN)
def test_feedback_shows_results_but_no_hidden_test_code(course, assignment: str):
    root, expected = course
    source = root / "solutions" / assignment / f"{assignment}.ipynb"
    calls = [
        c.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].strip().splitlines()[-1]
        for c in nbformat.read(source, as_version=4).cells
        if "### BEGIN HIDDEN TESTS" in c.source
    ]
    assert calls
    for student in expected[assignment]:
        if not (root / "submitted" / student / assignment).is_dir():  # in the export, with no submission
            continue
        html = (root / "feedback" / student / assignment / f"{assignment}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html
        for call in calls:
            name = call.split('"')[3]  # grade("<assignment>", "<check name>", globals())
            assert f"&quot;{name}&quot;" not in html and f'"{name}"' not in html, f"feedback for {student} shows {call}"
        assert " points" in html  # each check's one-line result is there
    if assignment in FAULT:
        html = (root / "feedback" / "buggy" / assignment / f"{assignment}.html").read_text()
        assert FAULT[assignment] in html


# what the buggy submission's feedback must say
FAULT = {
    "a1_theory": "g_loss at fake logits +100 is -inf",
    "a3_save_every_10_epochs": "the samples come from new noise each time",
}


def test_a_submissions_code_graded_by_nbgrader_autograde_runs_in_the_sandbox(course):
    root, expected = course
    assert not (root / MARKER).exists(), "nbgrader autograde ran a submission's cell on the grading host"
    graded = nbformat.read(root / "autograded" / "intruder" / INTRUDED / f"{INTRUDED}.ipynb", as_version=4)
    assert "refused:" in "".join(o.get("text", "") for o in graded.cells[0].outputs)  # it ran, and could not write there
    assert expected[INTRUDED]["intruder"] == expected[INTRUDED]["solution"] > 0  # and the export test found that score


def test_what_gan_course_autograde_would_not_copy_reaches_neither_autograded_nor_the_feedback(course):
    """Links (nbgrader copies their targets, here the model answers), a hard link to them, a folder named as the
    feedback and a dot folder: the fixture's generate_feedback ran for every student, and these are left out."""
    root, _ = course
    for step in ("autograded", "feedback"):
        folder = root / step / "intruder" / INTRUDED
        left = sorted(os.listdir(folder))
        assert not {"answers.txt", "solutions", "hard-linked.txt", ".hidden"} & set(left), left
        assert (folder / f"{INTRUDED}.html").is_dir() is False, left


def test_a_time_without_its_date_is_refused_as_gan_course_autograde_refuses_it(course, tmp_path):
    root, _ = course
    folder = root / "submitted" / "undated" / INTRUDED
    shutil.copytree(root / "submitted" / "solution" / INTRUDED, folder)
    (folder / "timestamp.txt").write_text("10:00")  # nbgrader would date it from today
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        done = subprocess.run(["nbgrader", "autograde", INTRUDED, "--student", "undated", "--force", "--create"], cwd=root, env=env,
                              capture_output=True, text=True)
    finally:
        shutil.rmtree(root / "submitted" / "undated")
    assert done.returncode != 0
    assert f"submitted/undated/{INTRUDED}/timestamp.txt holds '10:00', a time without its full date" in done.stderr, done.stderr[-3000:]
    assert not (root / "autograded" / "undated" / INTRUDED / f"{INTRUDED}.ipynb").exists()


def test_a_given_cell_the_student_changed_shows_the_output_of_the_version_that_ran(course):
    from reference.grading.bridge import EDITED_GIVEN_CELL

    root, _ = course
    graded = nbformat.read(root / "autograded" / "intruder" / INTRUDED / f"{INTRUDED}.ipynb", as_version=4)
    (given,) = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "imports"]
    assert "the edited given cell ran" not in given.source  # nbgrader restored the course's source
    shown = "".join(o.get("text", "") for o in given.outputs)
    assert shown.startswith(EDITED_GIVEN_CELL) and "the edited given cell ran" in shown, given.outputs


def _gradebook_score(root: Path, student: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return gradebook.find_submission(INTRUDED, student).score


FORMGRADER_AUTOGRADE = """\
import json, sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

config = PyFileConfigLoader("nbgrader_config.py", path=".").load_config()
api = NbGraderAPI(CourseDirectory(config=config), config=config)  # what the formgrader's server holds
result = api.autograde(sys.argv[1], sys.argv[2])  # its Autograde button on a submission's page
print(json.dumps({"success": result["success"]}))
"""


def test_the_formgraders_autograde_button_grades_in_the_sandbox(course):
    root, expected = course
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-c", FORMGRADER_AUTOGRADE, INTRUDED, "intruder"], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '{"success": true}' in done.stdout, done.stdout[-3000:]
    assert not (root / MARKER).exists(), "the formgrader's Autograde ran a submission's cell on the grading host"
    assert _gradebook_score(root, "intruder") == expected[INTRUDED]["solution"]


def test_without_a_sandbox_nbgrader_autograde_runs_no_submission(course, tmp_path):
    root, _ = course
    tools = tmp_path / "bin"  # the environment's commands, without bwrap
    tools.mkdir()
    for name in ("nbgrader", "alembic", "python", "python3"):
        (tools / name).symlink_to(Path(sys.executable).parent / name)
    env = {**os.environ, "PATH": str(tools)}
    done = subprocess.run(["nbgrader", "autograde", INTRUDED, "--student", "intruder", "--force"], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "bubblewrap (bwrap) is not installed" in done.stderr and "nothing was run" in done.stderr, done.stderr[-3000:]
    assert "--no-sandbox" not in done.stderr  # a flag of gan-course autograde, not of nbgrader
    assert not (root / MARKER).exists()
