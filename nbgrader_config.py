"""nbgrader configuration: the repository root is the course.

`solutions/<id>/<id>.ipynb` are the source notebooks (solutions, visible and hidden tests,
rubrics); `nbgrader generate_assignment <id>` writes the student version to `assignments/<id>/`.
Submissions, autograded copies and feedback land in `submitted/`, `autograded/`, `feedback/`
and the gradebook in `gradebook.db`, all ignored by git. See solutions/README.md for the workflow.
"""

c = get_config()  # noqa: F821 - injected by nbgrader when it reads this file

c.CourseDirectory.course_id = "gan-course"
from pathlib import Path  # noqa: E402

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
# instructors' files in a source folder that generate_assignment must not copy to students
# (nbgrader's default list, plus the graded exemplars of written answers and a7's script that
# makes its runs, whose settings are the answers)
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "exemplars.md", "make_runs.py"]
# plain `nbgrader autograde <id>` and the formgrader's Autograde button grade as `gan-course autograde`
# does: each submission's cells run in the sandbox below, never in a kernel on this machine
# (reference/grading/preprocessors.py; it needs bubblewrap, and refuses to grade without it)
from reference.grading.preprocessors import AUTOGRADE, SANITIZE  # noqa: E402

c.Autograde.sanitize_preprocessors = SANITIZE
c.Autograde.autograde_preprocessors = AUTOGRADE
# `gan-course autograde`: each submission runs in a bubblewrap sandbox with these limits
# (reference/grading/sandbox.py; the values shown are the defaults; flags such as --memory-mb win)
# c.GanCourseGrading.wall_s = 900      # seconds for a whole submission, cells and checks
# c.GanCourseGrading.check_s = 300     # seconds for one check
# c.GanCourseGrading.cell_s = 300      # seconds for one cell (then interrupted; the next cells run)
# c.GanCourseGrading.cpu_s = 1800      # CPU seconds per process
# c.GanCourseGrading.cpus = 2.0       # CPU cores all its processes use together, on average
# c.GanCourseGrading.memory_mb = 3072
# c.GanCourseGrading.processes = 64
# c.GanCourseGrading.file_mb = 100     # one file
# c.GanCourseGrading.disk_mb = 500     # all files written
# c.GanCourseGrading.output_mb = 10    # everything printed
# feedback shows each hidden check's one-line result but not its code: clear the hidden test
# regions of the graded notebook before it becomes HTML (nbgrader keeps them by default)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
