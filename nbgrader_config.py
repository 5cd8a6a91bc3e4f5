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
# the checks import the student notebook's objects in the same kernel; one cell (a short training
# run at grade time, or a check that trains) may take this long before nbgrader stops it
c.Execute.timeout = 300
# feedback shows each hidden check's one-line result but not its code: clear the hidden test
# regions of the graded notebook before it becomes HTML (nbgrader keeps them by default)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
