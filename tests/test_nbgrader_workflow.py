"""The instructor's real nbgrader workflow, end to end, in a temporary copy of the course.

generate_assignment -> three submissions per assignment (the solution, the blank student version,
a buggy one) placed where `nbgrader collect` puts them -> `nbgrader autograde --create` (adds the
students to the gradebook; a real kernel per submission; the hidden test cells call the checks in
tests/autograders/) -> `nbgrader export` to grades.csv with exactly the expected scores ->
`nbgrader generate_feedback`, whose HTML shows the checks' messages but no hidden test code. The
workflow runs once per module; the tests read its results.

It runs a1_theory and a3_save_every_10_epochs (about 10-30 s of grading per submission on a
2-core CPU). The other assignments train GANs at grade time; set GAN_COURSE_E2E_ALL=1 to run them
too, with their solution and blank submissions.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reference.grading.notebook import answered

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
        17.0,
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
        8.0,
    ),
}
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
        for student, nb in submissions.items():
            submit(course, student, assignment, nb)
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
