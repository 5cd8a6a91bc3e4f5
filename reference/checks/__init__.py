"""Visible checks that ship with the course: `lesson_NN.py` (the lessons' code-along checks) and
`<assignment>.py` (an assignment's visible checks, extracted by `python -m reference.grading.visible`).

`reference.grading.grade(id, name, globals())` finds them from any folder (Colab, JupyterHub, a
student's copy); an instructor's checkout grades with `tests/autograders/` instead.
"""
