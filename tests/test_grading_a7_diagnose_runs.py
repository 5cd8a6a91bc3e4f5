"""The a7 autograder gives the right score and message to right and wrong answers, and the runs
students diagnose are what make_runs.py makes.

Each submission is the solution notebook with its "answers" cell (the dicts `diagnosis` and `fix`)
replaced, graded by the checks of tests/autograders/test_a7_diagnose_runs.py: the solution and the
student version like a student's notebook (its cells in the sandboxed worker, the checks here,
across the proxy), the others in this process (`graded_here`; test_the_sandbox_grades_like_this_process
shows that the sandbox gives them the same results where the proxy carries values otherwise). The per-run checks are
independent, so one notebook carries several mistakes, each costing exactly its checks. (The
written "why" answers are graded by hand.) Two of the runs are regenerated on the CPU and must give
the committed metrics.csv (all but the timing columns) and grids, to within another CPU's rounding.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import graded_here, notebook_with_cells
from reference.grading.checks import CheckFailure, run_check
from reference.grading.local import load_module
from reference.grading.runner import grade_notebook

A = "a7_diagnose_runs"
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / A
SOLUTION = SOURCE / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = load_module(ROOT / "tests" / "autograders" / f"test_{A}.py")
RUNS = ("run_a", "run_b", "run_c", "run_d", "run_e")
FULL = {
    "test_answers_are_well_formed": 2.0,
    **{f"test_{run}_{what}": points for run in RUNS for what, points in (("diagnosis", 2.0), ("fix", 1.0))},
}
OK = {name: (points, "") for name, points in FULL.items()}
RIGHT_DIAGNOSIS = {"run_a": "unit_range_data", "run_b": "checkerboard", "run_c": "d_wins", "run_d": "nan_log_sigmoid", "run_e": "lr_off_by_10"}
RIGHT_FIX = {"run_a": "scale_data", "run_b": "resize_conv", "run_c": "label_smoothing", "run_d": "logits_loss", "run_e": "lr"}
TIMING = ("seconds", "images_per_second")
# the end of the message of a choice that holds a key among other words ("lr decay": the key lr and a note)
STAND_ALONE = ("; write one key alone and give your reasons in the explanation cell: a note or a second choice beside the "
               "key is not read")


def submission(tmp_path: Path, diagnosis, fix) -> Path:
    """The solution notebook with its answers cell set to these values (written as Python source)."""
    source = f"diagnosis = {diagnosis!r}\nfix = {fix!r}" if not isinstance(diagnosis, str) else textwrap.dedent(diagnosis)
    return notebook_with_cells(SOLUTION, tmp_path, {"answers": source})


def scores(path: Path) -> dict[str, tuple[float, str]]:
    """An honest submission's results, graded in this process."""
    return graded_here(path, A)


def sandboxed(path: Path) -> dict[str, tuple[float, str]]:
    """The results of `gan-course autograde`: cells in the sandboxed worker, checks across the proxy."""
    return grade_notebook(path, A, ROOT)


def total(result: dict[str, tuple[float, str]]) -> float:
    return sum(points for points, _ in result.values())


def test_the_points_add_up_to_17():
    assert sum(FULL.values()) == 17.0
    assert {name: fn.points for name, fn in vars(CHECKS).items() if name.startswith("test_") and callable(fn)} == FULL


def test_solution_scores_full_marks():
    assert sandboxed(SOLUTION) == OK


def test_unmodified_student_version_scores_zero_on_every_check():
    missing = '`{0}` is not defined: was it renamed or its cell not run?; set {0} = {{"run_a": "...", ...}} in the cell under "Your answers"'
    assert sandboxed(STUDENT) == {
        name: (0.0, missing.format("fix" if name.endswith("_fix") else "diagnosis")) for name in FULL
    }


def test_answers_filled_in_before_the_dict_exists_are_told_to_assign_it_first(tmp_path):
    """diagnosis["run_a"] = ... in a cell where no diagnosis = {} came first raises NameError there: each check
    quotes that error and says to assign the dict first, instead of "was it renamed or its cell not run?"."""
    answers = "\n".join([*(f"diagnosis[{run!r}] = {key!r}" for run, key in RIGHT_DIAGNOSIS.items()), f"fix = {RIGHT_FIX!r}"])
    raised = ("the cell starting `diagnosis['run_a'] = 'unit_range_data'` raised NameError: name 'diagnosis' is not "
              "defined")
    told = (f"`diagnosis` is not defined: {raised}: that cell uses `diagnosis` before any cell assigns it; assign it "
            f"first (diagnosis = {{}}, then diagnosis[...] = ...); set diagnosis = {{\"run_a\": \"...\", ...}} in the cell "
            f"under \"Your answers\"")
    result = scores(submission(tmp_path, answers, None))
    assert {name: result[name] for name in FULL if not name.endswith("_fix")} == {
        name: (0.0, told) for name in FULL if not name.endswith("_fix")}


def test_other_accepted_fixes_and_loose_spelling_score_full_marks(tmp_path):
    """Every fix that addresses a run's failure is right, not just the notebook's; case and spaces are forgiven."""
    diagnosis = {**RIGHT_DIAGNOSIS, "run_c": " D_Wins "}
    fix = {**RIGHT_FIX, "run_b": "lr", "run_c": "spectral_norm"}
    assert scores(submission(tmp_path, diagnosis, fix)) == OK


def test_swapped_failures_and_symptom_fixes_lose_exactly_their_checks(tmp_path):
    diagnosis = {**RIGHT_DIAGNOSIS, "run_a": "d_wins", "run_c": "unit_range_data"}  # two runs swapped
    fix = {**RIGHT_FIX, "run_d": "lr", "run_e": "ema", "run_a": "detach"}  # two symptoms treated, one unrelated
    look = "is not what {} shows; look again at its curves and grids"
    assert scores(submission(tmp_path, diagnosis, fix)) == {
        **OK,
        "test_run_a_diagnosis": (0.0, f"diagnosis['run_a'] = 'd_wins' {look.format('run_a')}"),
        "test_run_c_diagnosis": (0.0, f"diagnosis['run_c'] = 'unit_range_data' {look.format('run_c')}"),
        "test_run_a_fix": (0.0, "fix['run_a'] = 'detach' does not address what goes wrong in run_a"),
        "test_run_d_fix": (0.0, "fix['run_d'] = 'lr' treats a symptom, not the cause: a lower learning rate only delays "
                                "the step where a logit grows large enough for sigmoid to round to 0 or 1"),
        "test_run_e_fix": (0.0, "fix['run_e'] = 'ema' treats a symptom, not the cause: an average of G's weights is no "
                                "better than G when G barely moves"),
    }


def test_a_choice_outside_the_list_and_a_missing_run_fail_the_format_and_their_own_checks(tmp_path):
    diagnosis = {**RIGHT_DIAGNOSIS, "run_b": "transposed convolutions"}  # a cause, neither a key nor a description
    fix = {run: choice for run, choice in RIGHT_FIX.items() if run != "run_e"}
    outside = ("diagnosis['run_b'] = 'transposed convolutions' is not one of FAILURES' keys: d_wins, mode_collapse, "
               "oscillation, checkerboard, nan_log_sigmoid, unit_range_data, no_detach, batchnorm_train_mode, lr_off_by_10")
    result = scores(submission(tmp_path, diagnosis, fix))
    assert result == {
        **OK,
        "test_answers_are_well_formed": (0.0, outside + "; also not well formed: fix['run_e']"),  # every fault named
        "test_run_b_diagnosis": (0.0, outside),
        "test_run_e_fix": (0.0, "`fix` has no answer for run_e: add fix['run_e'] = one of FIXES' keys"),
    }
    assert total(result) == 12.0


def test_wrong_types_are_named(tmp_path):
    diagnosis = list(RIGHT_DIAGNOSIS.values())  # the answers without their runs
    fix = {**RIGHT_FIX, "run_a": 3}
    not_dict = '`diagnosis` should be a dict {run name: choice}, e.g. diagnosis = {"run_a": "...", ...}; got a list'
    result = scores(submission(tmp_path, diagnosis, fix))
    assert result == {
        **{name: (0.0, not_dict) for name in FULL if not name.endswith("_fix")},
        **{name: OK[name] for name in FULL if name.endswith("_fix")},
        "test_run_a_fix": (0.0, "fix['run_a'] should be a string, one of FIXES' keys; got 3 (int)"),
    }
    assert total(result) == 4.0


def test_extra_keys_fail_the_format_check(tmp_path):
    """Unknown run names are named; the per-run checks grade what is there."""
    result = scores(submission(tmp_path, {**RIGHT_DIAGNOSIS, "run_f": "oscillation"}, RIGHT_FIX))
    assert result == {**OK, "test_answers_are_well_formed": (0.0, "`diagnosis` has keys that are no run: run_f; the runs are "
                                                                   "run_a, run_b, run_c, run_d, run_e")}


class Handle:
    """What the proxy returns for an object it cannot carry (a dict whose keys are not strings)."""

    type_name = "builtins.dict"


class Fake:
    def __init__(self, **values):
        self.values = values

    def get(self, name):
        if name not in self.values:
            raise CheckFailure(f"`{name}` is not defined: was it renamed or its cell not run?")
        return self.values[name]


def test_a_dict_the_proxy_cannot_carry_is_named():
    with pytest.raises(AssertionError, match="`fix` has keys that are not strings: key each answer by its run's name"):
        CHECKS.answers(Fake(fix=Handle()), "fix")


NUMPY_AND_ODD_KEYS = (
    "import numpy as np\n"
    f"diagnosis = dict(enumerate(np.array({list(RIGHT_DIAGNOSIS.values())!r})))\n"
    f"fix = {{run: np.str_(value) for run, value in {RIGHT_FIX!r}.items()}}\n"
    "fix['run_c'] = {'label_smoothing'}\n"
)


def test_the_sandbox_grades_like_this_process(tmp_path):
    """Values the proxy carries otherwise than they are (numpy strings as str, a dict keyed by numbers
    and a set as handles) score the same in the sandbox as in this process, where the others are graded."""
    path = submission(tmp_path, NUMPY_AND_ODD_KEYS, None)
    assert sandboxed(path) == scores(path)


def test_numpy_strings_are_strings_and_odd_keys_and_values_are_named(tmp_path):
    """Answers held as numpy strings are right answers (np.str_ is a str); a dict keyed by numbers is
    told its keys are the fault, a set of one is read as its choice; a learning rate named for run_b (whose
    settings hold one 15x too high) earns half its diagnosis."""
    source = NUMPY_AND_ODD_KEYS
    keys = ('`diagnosis` has keys that are not strings: key each answer by its run\'s name, a string, e.g. diagnosis = '
            '{"run_a": "...", ...}')
    result = scores(submission(tmp_path, source, None))
    assert result == {
        **{name: (0.0, keys) for name in FULL if not name.endswith("_fix")},
        **{name: OK[name] for name in FULL if name.endswith("_fix")},  # the set of one is read as its choice
    }
    (tmp_path / "half").mkdir()
    half = submission(tmp_path / "half", {**RIGHT_DIAGNOSIS, "run_b": "lr_off_by_10"}, RIGHT_FIX)
    assert scores(half) == {**OK, "test_run_b_diagnosis": (
        1.0, "diagnosis['run_b'] = 'lr_off_by_10' is half right: its learning rate is indeed high, which amplifies what "
             "goes wrong, but name the failure its sample grids show")}


# ---------------------------------------------------------------------------------------------
# What students get, and what they must not
# ---------------------------------------------------------------------------------------------


def helpers() -> dict:
    """The notebook's helper cell run (it defines FAILURES, FIXES, RUNS, GRID_EPOCHS, show_run)."""
    nb = json.loads(SOLUTION.read_text())
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "helpers")
    namespace: dict = {}
    exec("".join(cell["source"]), namespace)  # noqa: S102 - the course's own cell
    return namespace


def test_the_notebooks_choices_are_the_checks():
    names = helpers()
    assert tuple(names["FAILURES"]) == CHECKS.FAILURES and tuple(names["FIXES"]) == CHECKS.FIXES
    assert names["RUNS"] == CHECKS.RUNS == tuple(CHECKS.ANSWERS) == RUNS
    for run, (failure, fixes) in CHECKS.ANSWERS.items():
        assert failure in CHECKS.FAILURES and fixes <= set(CHECKS.FIXES), run


def test_the_visible_checks_hold_no_answer():
    visible = (ROOT / "reference" / "checks" / f"{A}.py").read_text()
    assert "ANSWERS" not in visible and "SYMPTOM_ONLY" not in visible
    assert not any(f'"{run}": ("' in visible for run in RUNS)


def test_the_runs_hold_only_what_students_get_and_are_small():
    names = helpers()
    for folder in (SOURCE / "cases", ROOT / "assignments" / A / "cases"):
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        assert files == sorted(f"{run}/{file}" for run in RUNS for file in names["run_files"](run)), folder
        assert sum((folder / f).stat().st_size for f in files) < 1.5e6
    student = sorted(p.name for p in (ROOT / "assignments" / A).iterdir())
    assert student == ["a7_diagnose_runs.ipynb", "cases"], "make_runs.py and exemplars.md must not reach students"


def test_show_run_reads_a_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(SOURCE)
    rows = helpers()["show_run"]("run_d", images=False)
    assert [row["epoch"] for row in rows] == [1.0, 2.0, 3.0, 4.0] and "run_d: 4 epochs" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert helpers()["show_run"]("run_a") is None
    assert "cases/run_a/metrics.csv not found" in capsys.readouterr().out


def test_on_colab_the_notebook_downloads_every_file_of_the_runs(tmp_path, monkeypatch):
    import urllib.request

    from reference.course import raw_url

    fetched = []
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda url, path: fetched.append((url, str(path))))
    monkeypatch.chdir(tmp_path)
    helpers()["fetch_runs"]()
    committed = sorted(str(p.relative_to(SOURCE)) for p in (SOURCE / "cases").rglob("*") if p.is_file())
    assert sorted(path for _, path in fetched) == committed
    assert all(url == raw_url(f"assignments/{A}/{path}") for url, path in fetched)


def metrics(path: Path) -> list[dict[str, float]]:
    """metrics.csv rows as floats, without the timing columns."""
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("run", ["run_c", "run_e"])
def test_make_runs_reproduces_the_committed_run(tmp_path, run):
    """Two of the five runs, regenerated on the CPU: the same files, the metrics within 2% (timings
    aside), the grids within a few grey levels.

    On the machine that made them a run is reproduced bit for bit (test_trainer proves the trainer
    deterministic); another CPU's vector kernels round differently, which moved these two runs by
    at most 0.5% and 3 grey levels (measured between two x86 CPUs of different generations). A
    changed setting moves them far more (run_e at a 10% higher learning rate: 3-6%, 12 levels). run_b, whose learning rate is 15x too
    high, amplifies rounding: 6% apart by epoch 7 on another CPU (the same checkerboards)."""
    spec = importlib.util.spec_from_file_location("make_runs", SOURCE / "make_runs.py")
    make_runs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_runs)
    assert tuple(make_runs.RUNS) == RUNS
    out = make_runs.make(run, tmp_path)
    committed = SOURCE / "cases" / run
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert made == sorted(str(p.relative_to(committed)) for p in committed.rglob("*") if p.is_file())
    assert "config.json" not in made and not any("checkpoint" in f for f in made)
    got, want = metrics(out / "metrics.csv"), metrics(committed / "metrics.csv")
    assert [list(row) for row in got] == [list(row) for row in want]
    for row, expected in zip(got, want):
        assert row == pytest.approx(expected, rel=0.02), f"epoch {expected['epoch']:.0f}"
    for grid in (committed / "samples").iterdir():
        difference = np.abs(pixels(out / "samples" / grid.name) - pixels(grid))
        assert difference.max() <= 8 and difference.mean() <= 1.0, grid.name


def test_word_separators_and_copied_descriptions_are_the_choices_they_spell(tmp_path):
    """"D wins" and "lr-off-by-10" are keys written as words; a choice copied from FAILURES or FIXES as
    its description (FAILURES["checkerboard"]) is that choice: both score as the key would, right or wrong."""
    source = (
        'diagnosis = {"run_a": "Unit range data", "run_b": FAILURES["checkerboard"], "run_c": "D wins", '
        '"run_d": "nan-log-sigmoid", "run_e": "lr off by 10"}\n'
        'fix = {"run_a": "scale-data", "run_b": "Resize Conv", "run_c": FIXES["lr_d"], "run_d": "logits loss", '
        '"run_e": FIXES["ema"]}\n'
    )
    assert scores(submission(tmp_path, source, None)) == {
        **OK,
        "test_run_e_fix": (0.0, "fix['run_e'] = 'ema' treats a symptom, not the cause: an average of G's weights is no "
                                "better than G when G barely moves"),
    }


def test_fixes_that_only_hold_d_back_are_told_why_they_fall_short():
    """Label smoothing, a lower lr for D and spectral normalisation treat a D that wins; where that is a
    symptom (run_b's pattern, run_a's range, run_d's overflow) the message says why, as for the others."""
    told = {
        ("run_a", "lr_d"): "G still copies images in [0, 1]",
        ("run_b", "lr_d"): "G's transposed convolutions still draw the pattern",
        ("run_b", "label_smoothing"): "G's transposed convolutions still draw the pattern",
        ("run_b", "spectral_norm"): "G's transposed convolutions still draw the pattern",
        ("run_d", "lr_d"): "sigmoid to round to 0 or 1",
    }
    for (run, fix), why in told.items():
        with pytest.raises(AssertionError, match=rf"treats a symptom, not the cause: .*{re.escape(why)}"):
            CHECKS.judge_fix(Fake(fix={run: fix}), run)


def test_a_diagnosis_true_of_run_b_s_metrics_earns_half():
    """run_b's metrics show D far ahead (D(x) 0.998, D(G(z)) 0.004 by epoch 8): "d_wins" reads them right
    and misses the grids, half right like its learning rate; so is "mode_collapse" (every sample is the same
    checkerboard); run_c's answer stays whole, and d_wins elsewhere stays wrong."""
    with pytest.raises(CHECKS.Partial) as half:
        CHECKS.judge_diagnosis(Fake(diagnosis={"run_b": "d_wins"}), "run_b")
    assert half.value.points == 1 and half.value.message == (
        "diagnosis['run_b'] = 'd_wins' is half right: its metrics do show D far ahead (D(x) near 1, D(G(z)) near 0), but "
        "that follows from what goes wrong: name the failure its sample grids show"
    )
    with pytest.raises(CHECKS.Partial) as alike:  # every sample of its grids is one and the same checkerboard
        CHECKS.judge_diagnosis(Fake(diagnosis={"run_b": "mode_collapse"}), "run_b")
    assert alike.value.points == 1 and alike.value.message == (
        "diagnosis['run_b'] = 'mode_collapse' is half right: its samples are indeed all alike, but what they share is the "
        "failure: name the pattern its sample grids show in every image"
    )
    CHECKS.judge_diagnosis(Fake(diagnosis={"run_c": "d_wins"}), "run_c")
    with pytest.raises(AssertionError, match="is not what run_e shows"):
        CHECKS.judge_diagnosis(Fake(diagnosis={"run_e": "d_wins"}), "run_e")


def test_run_names_and_choices_are_read_as_written_by_hand(tmp_path):
    """A run's name is read whatever its case or separators ("RUN_A", "Run B", "runD"), a choice whatever
    its quotes or closing full stop; a choice in a list of one costs the format check only (it asks for a
    string), two choices for one run earn nothing there."""
    source = (
        'diagnosis = {"RUN_A": "`unit_range_data`", "Run B": "checkerboard.", "run-c": "\'d_wins\'", '
        '"runD": ["nan_log_sigmoid"], "run_e": "lr_off_by_10"}\n'
        'fix = {"run_a": "scale_data", "run_b": ("resize_conv",), "run_c": ["label_smoothing", "lr_d"], '
        '"run_d": "Logits loss.", "run_e": "lr"}\n'
    )
    result = scores(submission(tmp_path, source, None))
    assert result == {
        **OK,
        "test_answers_are_well_formed": (0.0, "diagnosis['run_d'] should be a string, one of FAILURES' keys; got a list of one, "
                                              "['nan_log_sigmoid']: write the choice itself, 'nan_log_sigmoid'; also not "
                                              "well formed: fix['run_b'], fix['run_c']"),
        "test_run_c_fix": (0.0, "fix['run_c'] gives 2 choices, 'label_smoothing', 'lr_d': choose one, a string, one of FIXES' keys"),
    }
    assert total(result) == 14.0


def test_a_choice_given_with_its_description_or_in_a_set_of_one_is_graded_as_that_choice(tmp_path):
    """A tuple of a key and its own description (an item of FAILURES.items() copied) names one choice, not two; a set
    or frozenset of one is read like a list of one (a set crosses the proxy as a handle: `probes.set_items`). Each
    costs the format check only, told to write the choice itself (red-team finding: both scored 0 for their run)."""
    described = next(iter(helpers()["FAILURES"].values()))
    source = (
        f"diagnosis = {RIGHT_DIAGNOSIS!r}\n"
        'diagnosis["run_a"] = ("unit_range_data", FAILURES["unit_range_data"])\n'
        f"fix = {RIGHT_FIX!r}\n"
        'fix["run_b"] = {"resize_conv"}\n'
        'fix["run_e"] = frozenset(["lr"])\n'
    )
    path = submission(tmp_path, source, None)
    wanted = helpers()["FAILURES"]["unit_range_data"]
    expected = {
        **OK,
        "test_answers_are_well_formed": (0.0, "diagnosis['run_a'] should be a string, one of FAILURES' keys; got a tuple "
                                              f"that names one choice 2 times, ('unit_range_data', {wanted!r}): write the "
                                              "choice itself, 'unit_range_data'; also not well formed: fix['run_b'], "
                                              "fix['run_e']"),
    }
    assert described and scores(path) == expected
    assert sandboxed(path) == expected
    two = Fake(diagnosis={"run_a": ("unit_range_data", "d_wins")}, FAILURES=helpers()["FAILURES"])
    with pytest.raises(AssertionError, match="gives 2 choices"):  # a hedge still earns nothing
        CHECKS.judge_diagnosis(two, "run_a")


def test_keys_that_name_no_run_are_named_by_each_run_s_check():
    """fix keyed by the runs' letters: each run's check says its keys name no run, not only that the run is missing."""
    letters = Fake(fix={run.removeprefix("run_"): choice for run, choice in RIGHT_FIX.items()})
    with pytest.raises(AssertionError) as missing:
        CHECKS.judge_fix(letters, "run_a")
    assert str(missing.value) == (
        "`fix` has no answer for run_a: its keys a, b, c, d, e name no run; key each answer by its run's name, "
        "fix['run_a'] = one of FIXES' keys"
    )
    assert run_check(CHECKS.test_answers_are_well_formed, Fake(diagnosis=RIGHT_DIAGNOSIS, **letters.values)) == (
        0.0, "`fix` has keys that are no run: a, b, c, d, e; the runs are run_a, run_b, run_c, run_d, run_e")
    CHECKS.judge_fix(Fake(fix={"Run A": "scale_data"}), "run_a")  # a run's name in other case and separators is that run


def test_a_run_answered_twice_under_two_spellings_earns_nothing_for_it():
    """diagnosis["run_c"] = "d_wins" beside diagnosis["Run C"] = "mode_collapse" is a hedge: the right one was
    read and the other ignored, full marks. Two answers for one run are named now, and cost that run's checks
    and the format check; the same answer under two spellings is that answer."""
    hedged = Fake(diagnosis={**RIGHT_DIAGNOSIS, "Run C": "mode_collapse"}, fix=RIGHT_FIX)
    told = ("`diagnosis` answers run_c 2 times, differently (diagnosis['run_c'] = 'd_wins', diagnosis['Run C'] = "
            "'mode_collapse'): give each run one key and one answer, diagnosis['run_c']")
    assert run_check(CHECKS.test_run_c_diagnosis, hedged) == (0.0, told)
    assert run_check(CHECKS.test_answers_are_well_formed, hedged) == (0.0, told)
    assert run_check(CHECKS.test_run_a_diagnosis, hedged) == (2.0, "")
    twice = Fake(diagnosis={**RIGHT_DIAGNOSIS, "RUN_C": RIGHT_DIAGNOSIS["run_c"]}, fix=RIGHT_FIX)
    assert run_check(CHECKS.test_run_c_diagnosis, twice) == (2.0, "")


def assert_right_but_run_e_fix(fake) -> None:
    """`fake`'s answers are well formed, its five diagnoses right and the fixes of runs a-d right (run e's fix is
    each test's own)."""
    assert run_check(CHECKS.test_answers_are_well_formed, fake) == (2.0, "")
    for run in RUNS:
        assert run_check(getattr(CHECKS, f"test_{run}_diagnosis"), fake) == (2.0, "")
    for run in ("run_a", "run_b", "run_c", "run_d"):
        assert run_check(getattr(CHECKS, f"test_{run}_fix"), fake) == (1.0, "")


def test_camel_case_run_together_words_and_typographic_quotes_are_the_choices_they_spell():
    """A choice written camelCase or with its words run together ("dWins", "labelSmoothing",
    "nan_logsigmoid"), or pasted from a word processor with typographic quotes or dashes ("“d_wins”",
    "d–wins"), is the key it spells: right or wrong as that key, never "not one of FAILURES' keys"."""
    diagnosis = {"run_a": "unitRangeData", "run_b": "\u201ccheckerboard\u201d", "run_c": "d\u2013wins",
                 "run_d": "nan_logsigmoid", "run_e": "lrOffBy10"}
    fix = {"run_a": "scaleData", "run_b": "resizeConv", "run_c": "labelSmoothing", "run_d": "LogitsLoss", "run_e": "\u2018ema\u2019"}
    fake = Fake(diagnosis=diagnosis, fix=fix)
    assert_right_but_run_e_fix(fake)
    assert run_check(CHECKS.test_run_e_fix, fake) == (
        0.0, "fix['run_e'] = 'ema' treats a symptom, not the cause: an average of G's weights is no better than G when G barely moves")
    assert run_check(CHECKS.test_run_c_fix, Fake(fix={"run_c": "lrD"})) == (1.0, "")
    assert run_check(CHECKS.test_run_c_fix, Fake(fix={"run_c": "lrDee"})) == (
        0.0, "fix['run_c'] = 'lrDee' is not one of FIXES' keys: " + ", ".join(CHECKS.FIXES))


def test_abbreviations_written_out_are_the_choices_they_spell(tmp_path):
    """A choice with its abbreviations written out ("learning rate off by 10", "spectral normalization",
    "discriminator wins", "exponential moving average") is the key it spells, right or wrong as that key; words
    that only start like an abbreviation stay outside ("lr decay" is not lr_d)."""
    source = (
        'diagnosis = {"run_a": "unit_range_data", "run_b": "checkerboard", "run_c": "Discriminator wins", '
        '"run_d": "nan_log_sigmoid", "run_e": "learning rate off by 10"}\n'
        'fix = {"run_a": "scale_data", "run_b": "resize convolution", "run_c": "spectral normalization", '
        '"run_d": "logits_loss", "run_e": "exponential moving average"}\n'
    )
    assert scores(submission(tmp_path, source, None)) == {
        **OK,
        "test_run_e_fix": (0.0, "fix['run_e'] = 'ema' treats a symptom, not the cause: an average of G's weights is no "
                                "better than G when G barely moves"),
    }
    assert run_check(CHECKS.test_run_e_fix, Fake(fix={"run_e": "Learning Rate"})) == (1.0, "")
    assert run_check(CHECKS.test_run_c_fix, Fake(fix={"run_c": "learning rate D"})) == (1.0, "")
    assert run_check(CHECKS.test_run_c_fix, Fake(fix={"run_c": "lr decay"})) == (
        0.0, "fix['run_c'] = 'lr decay' is not one of FIXES' keys: " + ", ".join(CHECKS.FIXES) + STAND_ALONE)


def test_a_fix_given_as_a_diagnosis_or_a_failure_as_a_fix_is_told_the_dicts_are_confused(tmp_path):
    """The two dicts swapped (each run's failure in `fix`, its fix in `diagnosis`), or one answer in the
    wrong dict: each check says the choice belongs to the other list, not only that it is outside its own."""
    source = f"diagnosis = {RIGHT_FIX!r}\nfix = {RIGHT_DIAGNOSIS!r}\n"
    failures, fixes = ", ".join(CHECKS.FAILURES), ", ".join(CHECKS.FIXES)
    as_diagnosis = "diagnosis[{!r}] = {!r} is a fix, one of FIXES' keys; diagnosis names the failure, one of FAILURES' keys: " + failures
    as_fix = "fix[{!r}] = {!r} is a failure, one of FAILURES' keys; fix names a fix for it, one of FIXES' keys: " + fixes
    result = scores(submission(tmp_path, source, None))
    assert result == {
        "test_answers_are_well_formed": (0.0, as_diagnosis.format("run_a", "scale_data") + "; also not well formed: " + ", ".join(
            [f"diagnosis[{run!r}]" for run in RUNS[1:]] + [f"fix[{run!r}]" for run in RUNS])),
        **{f"test_{run}_diagnosis": (0.0, as_diagnosis.format(run, RIGHT_FIX[run])) for run in RUNS},
        **{f"test_{run}_fix": (0.0, as_fix.format(run, RIGHT_DIAGNOSIS[run])) for run in RUNS},
    }
    assert run_check(CHECKS.test_run_e_diagnosis, Fake(diagnosis={"run_e": "learning rate"})) == (
        0.0, as_diagnosis.format("run_e", "learning rate"))


def test_a_description_s_opening_name_10x_and_closing_punctuation_are_the_choices_they_spell():
    """A choice copied as the name that opens its description in FAILURES or FIXES ("checkerboard artifacts",
    "NaN", "one-sided label smoothing"), or as the description without its closing parenthesis, "10x" for
    "10", or a choice ending in "!", "," or ";", is that choice: right or wrong as that key, never "not one of
    FAILURES' keys"."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    diagnosis = {"run_a": "unit_range_data", "run_b": "Checkerboard artifacts", "run_c": "D wins", "run_d": "NaN",
                 "run_e": "lr off by 10x"}
    fix = {"run_a": "scale_data", "run_b": "resize_conv", "run_c": "one-sided label smoothing", "run_d": "logits_loss",
           "run_e": "a separate, here lower, learning rate for D"}
    fake = Fake(diagnosis=diagnosis, fix=fix, **listings)
    assert_right_but_run_e_fix(fake)
    assert run_check(CHECKS.test_run_e_fix, fake) == (
        0.0, "fix['run_e'] = 'lr_d' treats a symptom, not the cause: a lower learning rate for D goes the wrong way (both rates "
             "are already 10x too low), and a separate rate for D alone, even a higher one, leaves G's 10x too low: G still barely moves")
    for spelled_out in ("a learning rate a factor 10 off", "Learning rate off by a factor of 10", "lr_off_by_x10"):
        assert run_check(CHECKS.test_run_e_diagnosis, Fake(diagnosis={"run_e": spelled_out}, **listings)) == (2.0, "")
    for punctuated in ("D wins!", "d_wins,", "'d_wins';"):  # closing punctuation, not only a full stop
        assert run_check(CHECKS.test_run_c_diagnosis, Fake(diagnosis={"run_c": punctuated}, **listings)) == (2.0, "")
    assert run_check(CHECKS.test_run_b_diagnosis, Fake(diagnosis={"run_b": "artifacts"}, **listings)) == (
        0.0, "diagnosis['run_b'] = 'artifacts' is not one of FAILURES' keys: " + ", ".join(CHECKS.FAILURES))


def test_a_choice_in_the_other_number_or_british_spelling_is_the_choice_it_spells():
    """A choice with a word in the plural for the singular or the reverse ("oscillations", "D win", "logit loss"), or
    spelt the British way ("checkerboard artefacts"), is that choice: right or wrong as that key, never "not one of
    FAILURES' keys" (each was before)."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    fake = Fake(diagnosis={**RIGHT_DIAGNOSIS, "run_b": "checkerboard artefacts", "run_c": "D win", "run_e": "Oscillations"},
                fix={**RIGHT_FIX, "run_d": "logit loss"}, **listings)
    assert run_check(CHECKS.test_answers_are_well_formed, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_b_diagnosis, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_c_diagnosis, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_d_fix, fake) == (1.0, "")
    assert run_check(CHECKS.test_run_e_diagnosis, fake) == (
        0.0, "diagnosis['run_e'] = 'oscillation' is not what run_e shows; look again at its curves and grids")
    assert run_check(CHECKS.test_run_c_fix, Fake(fix={"run_c": "lr_ds"})) == (
        0.0, "fix['run_c'] = 'lr_ds' is not one of FIXES' keys: " + ", ".join(CHECKS.FIXES))


def test_a_choice_written_as_key_colon_its_description_is_that_choice_and_a_hedge_is_not():
    """A choice copied as a "key: description" line (printing FAILURES item by item gives them) is that key, right
    or wrong; a key followed by anything but its own description after the colon is not read as a choice."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    failures, fixes = names["FAILURES"], names["FIXES"]
    fake = Fake(diagnosis={**RIGHT_DIAGNOSIS, "run_c": f"d_wins: {failures['d_wins']}", "run_b": "checkerboard: checkerboard artifacts",
                           "run_e": f"oscillation: {failures['oscillation']}"},
                fix={**RIGHT_FIX, "run_a": f"scale_data: {fixes['scale_data']}"}, **listings)
    assert run_check(CHECKS.test_answers_are_well_formed, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_c_diagnosis, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_b_diagnosis, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_a_fix, fake) == (FULL["test_run_a_fix"], "")
    assert run_check(CHECKS.test_run_e_diagnosis, fake) == (
        0.0, "diagnosis['run_e'] = 'oscillation' is not what run_e shows; look again at its curves and grids")
    for hedged in ("d_wins: or maybe mode collapse", f"d_wins: {failures['mode_collapse']}", "d_wins: mode_collapse",
                   "mode_collapse: D wins", "d_wins & mode_collapse", "d_wins vs mode_collapse", "d_wins vs. oscillation"):
        got = run_check(CHECKS.test_run_c_diagnosis, Fake(diagnosis={"run_c": hedged}, **listings))
        assert got == (0.0, f"diagnosis['run_c'] = {hedged!r} is not one of FAILURES' keys: " + ", ".join(CHECKS.FAILURES)
                       + "; write one key alone and give your reasons in the explanation cell: a note or a second choice "
                       "beside the key is not read"), got


def test_answers_keyed_by_choice_are_told_the_keys_and_values_are_swapped():
    """{choice: run}, the dict inverted (found by session 37's red team: told only that its keys name no run)."""
    fake = Fake(diagnosis={v: k for k, v in RIGHT_DIAGNOSIS.items()}, fix=RIGHT_FIX)
    points, told = run_check(CHECKS.test_run_a_diagnosis, fake)
    assert points == 0 and "its keys are choices and its values runs' names: the two are swapped" in told, told
    points, told = run_check(CHECKS.test_answers_are_well_formed, fake)
    assert points == 0 and "the two are swapped" in told, told
    assert "swapped" not in run_check(CHECKS.test_run_a_diagnosis, Fake(diagnosis={"first": "d_wins"}, fix=RIGHT_FIX))[1]


def test_a_choice_labelled_with_a_dash_or_brackets_is_that_choice_and_a_note_is_told_to_go():
    """"key - description", "key (description)", "description (key)" and "D wins (d_wins)" (the key spelled out
    again) are that key, as "key: description" is; a note beside a key ("(too low)") or a second choice is not
    read, and the message says to write one key alone."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    failures, fixes = names["FAILURES"], names["FIXES"]
    fake = Fake(diagnosis={**RIGHT_DIAGNOSIS, "run_a": f"unit_range_data - {failures['unit_range_data']}",
                           "run_b": "checkerboard (checkerboard artifacts)", "run_c": "D wins (d_wins)",
                           "run_e": "LR off by 10 (lr_off_by_10)"},
                fix={**RIGHT_FIX, "run_a": f"{fixes['scale_data']} (scale_data)"}, **listings)
    assert run_check(CHECKS.test_answers_are_well_formed, fake) == (2.0, "")
    for check in ("test_run_a_diagnosis", "test_run_b_diagnosis", "test_run_c_diagnosis", "test_run_e_diagnosis", "test_run_a_fix"):
        assert run_check(getattr(CHECKS, check), fake) == (FULL[check], ""), check
    noted = Fake(diagnosis={**RIGHT_DIAGNOSIS, "run_e": "lr_off_by_10 (too low)"}, fix=RIGHT_FIX, **listings)
    assert run_check(CHECKS.test_run_e_diagnosis, noted) == (0.0, (
        "diagnosis['run_e'] = 'lr_off_by_10 (too low)' is not one of FAILURES' keys: " + ", ".join(CHECKS.FAILURES)
        + "; write one key alone and give your reasons in the explanation cell: a note or a second choice beside the key "
        "is not read"))


def test_the_ways_of_writing_a_choice_combine():
    """Each way of writing a choice holds together with the others: words run together and in the plural
    ("checker board artifacts"), written out and in the singular ("discriminator win"), a description without
    its leading article ("learning rate a factor 10 off"), a multiplication sign ("10×"). Each of these lost
    the run's points and the format check's before."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    fake = Fake(diagnosis={**RIGHT_DIAGNOSIS, "run_b": "checker board artifacts", "run_c": "discriminator win"},
                fix=RIGHT_FIX, **listings)
    assert run_check(CHECKS.test_answers_are_well_formed, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_b_diagnosis, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_c_diagnosis, fake) == (2.0, "")
    for written in ("learning rate a factor 10 off", "lr off by 10×", "The learning rate off by a factor of 10"):
        assert run_check(CHECKS.test_run_e_diagnosis, Fake(diagnosis={"run_e": written}, **listings)) == (2.0, ""), written
    assert run_check(CHECKS.test_run_b_diagnosis, Fake(diagnosis={"run_b": "checker board noise"}, **listings)) == (
        0.0, "diagnosis['run_b'] = 'checker board noise' is not one of FAILURES' keys: " + ", ".join(CHECKS.FAILURES) + STAND_ALONE)


@pytest.mark.parametrize("value", ["label smoothing (one-sided)", "spectral norm (SN)", "Spectral normalization, or EMA",
                                   "one-sided label smoothing / lr_d"])
def test_a_key_of_several_words_with_a_note_is_told_to_stand_alone(value):
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    got = run_check(CHECKS.test_run_c_fix, Fake(fix={"run_c": value}, **listings))
    assert got == (0.0, f"fix['run_c'] = {value!r} is not one of FIXES' keys: " + ", ".join(CHECKS.FIXES)
                   + "; write one key alone and give your reasons in the explanation cell: a note or a second choice "
                   "beside the key is not read"), got


@pytest.mark.parametrize("value", ["d_wins mode_collapse", "d_wins\nmode_collapse", "probably d_wins", "D wins pattern"])
def test_a_key_beside_another_choice_or_a_note_with_no_mark_between_is_told_to_stand_alone(value):
    """Two keys or a key and a note separated by spaces or a line break only (red-team finding: a hedge "d_wins
    mode_collapse" scored nothing, rightly, but was told only that it is not a key, as if d_wins were not one)."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    got = run_check(CHECKS.test_run_c_diagnosis, Fake(diagnosis={"run_c": value}, **listings))
    assert got == (0.0, f"diagnosis['run_c'] = {value!r} is not one of FAILURES' keys: " + ", ".join(CHECKS.FAILURES)
                   + "; write one key alone and give your reasons in the explanation cell: a note or a second choice "
                   "beside the key is not read"), got


def test_a_capital_x_or_ten_in_words_is_the_choice_it_spells():
    """"lr off by 10X" (a capital X, which the camelCase reading split from its 10: "10_x") and "off by ten" are
    lr_off_by_10, as "10x", "10×" and "a factor of 10" are (red-team finding: each was "not one of FAILURES' keys",
    the format check's 2 points and run_e's 2 lost); right or wrong as that key."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    for written in ("lr off by 10X", "LR_OFF_BY_10X", "learning rate off by ten", "lr off by a factor of ten",
                    "a learning rate a factor ten off"):
        fake = Fake(diagnosis={**RIGHT_DIAGNOSIS, "run_e": written}, fix=RIGHT_FIX, **listings)
        assert run_check(CHECKS.test_answers_are_well_formed, fake) == (2.0, ""), written
        assert run_check(CHECKS.test_run_e_diagnosis, fake) == (2.0, ""), written
    assert run_check(CHECKS.test_run_c_diagnosis, Fake(diagnosis={"run_c": "LR off by 10X"}, **listings)) == (
        0.0, "diagnosis['run_c'] = 'lr_off_by_10' is not what run_c shows; look again at its curves and grids")
    assert run_check(CHECKS.test_run_e_fix, Fake(fix={"run_e": "learning rate"}, **listings)) == (1.0, "")
    assert run_check(CHECKS.test_run_e_diagnosis, Fake(diagnosis={"run_e": "lr off by tenfold"}, **listings))[0] == 0.0


class Probing(Fake):
    """A Fake that also runs probes (a set's items are read by one, next to the student's object)."""

    def run(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)


ALL_FAILURES = ", ".join(CHECKS.FAILURES)
NOT_A_KEY = "diagnosis['run_c'] = {!r} is not one of FAILURES' keys: " + ALL_FAILURES


@pytest.mark.parametrize("value, told", [
    # every choice at once, in one string or in a container: a hedge of all nine earns nothing
    (", ".join(CHECKS.FAILURES), NOT_A_KEY.format(", ".join(CHECKS.FAILURES)) + STAND_ALONE),
    ("\n".join(CHECKS.FAILURES), NOT_A_KEY.format("\n".join(CHECKS.FAILURES)) + STAND_ALONE),
    (list(CHECKS.FAILURES), f"diagnosis['run_c'] gives 9 choices, {', '.join(map(repr, CHECKS.FAILURES))}: choose one, a "
                            "string, one of FAILURES' keys"),
    (set(CHECKS.FAILURES), f"diagnosis['run_c'] gives 9 choices, {', '.join(map(repr, sorted(CHECKS.FAILURES)))}: choose "
                           "one, a string, one of FAILURES' keys"),
    ({key: 0.1 for key in CHECKS.FAILURES}, "diagnosis['run_c'] should be a string, one of FAILURES' keys; got "
                                            f"{ {key: 0.1 for key in CHECKS.FAILURES}!r} (dict)"),
    # two choices joined by a mark, the option's place in the list, a wildcard, nothing
    ("d_wins|mode_collapse", NOT_A_KEY.format("d_wins|mode_collapse") + STAND_ALONE),
    ("d_wins + oscillation", NOT_A_KEY.format("d_wins + oscillation") + STAND_ALONE),
    (0, "diagnosis['run_c'] should be a string, one of FAILURES' keys; got 0 (int)"),
    ("0", NOT_A_KEY.format("0")),
    ("*", NOT_A_KEY.format("*")),
    (".*", NOT_A_KEY.format(".*")),
    ("", NOT_A_KEY.format("")),
    ([["d_wins"]], "diagnosis['run_c'] should be a string, one of FAILURES' keys; got [['d_wins']] (list)"),
    # the right key beside another choice's description, or spelled three ways beside a fourth choice
    (("d_wins", helpers()["FAILURES"]["mode_collapse"]), "diagnosis['run_c'] gives 2 choices, 'd_wins', "
                                                         f"{helpers()['FAILURES']['mode_collapse']!r}: choose one, a string, one of FAILURES' keys"),
    (["d_wins", "D wins", "discriminator wins", "mode collapse"], "diagnosis['run_c'] gives 4 choices, 'd_wins', 'D wins', "
                                                                  "'discriminator wins', 'mode collapse': choose one, a string, one of FAILURES' keys"),
], ids=["all_in_one_string", "all_on_lines", "all_in_a_list", "all_in_a_set", "a_score_for_each", "pipe", "plus",
        "index", "index_as_text", "wildcard", "regex", "empty", "nested_list", "key_beside_another_description",
        "three_spellings_and_another_choice"])
def test_answers_that_game_the_choice_format_earn_nothing(value, told):
    """Red team (session 39), answers a student might try to game the format with: every choice at once, a score per
    choice, a choice's number, a wildcard, two choices joined by a mark. Each earns nothing for its run and costs the
    format check (which asks for one key, a string)."""
    names = helpers()
    fake = Probing(diagnosis={**RIGHT_DIAGNOSIS, "run_c": value}, fix=RIGHT_FIX, FAILURES=names["FAILURES"], FIXES=names["FIXES"])
    assert run_check(CHECKS.test_run_c_diagnosis, fake) == (0.0, told)
    assert run_check(CHECKS.test_answers_are_well_formed, fake)[0] == 0.0
    assert run_check(CHECKS.test_run_a_diagnosis, fake) == (2.0, "")


SNOOPING = '''
import glob, os, re, sys
import reference
found = {}
course = os.path.dirname(os.path.dirname(reference.__file__))
for folder in {os.getcwd(), course, os.path.dirname(course), os.path.expanduser("~"), "/tmp"}:
    for pattern in ("**/test_a7_diagnose_runs.py", "**/make_runs.py", "**/exemplars.md", "**/a7_diagnose_runs.ipynb"):
        for path in glob.glob(os.path.join(folder, pattern), recursive=True)[:20]:
            try:
                text = open(path, errors="ignore").read()
            except OSError:
                continue
            found.update(re.findall(r'"(run_[a-e])": \\("(\\w+)"', text))
            found.update(re.findall(r'"(run_[a-e])": "(\\w+)",', text))
diagnosis = {run: found.get(run, "oscillation") for run in ("run_a", "run_b", "run_c", "run_d", "run_e")}
fix = {run: "ema" for run in ("run_a", "run_b", "run_c", "run_d", "run_e")}
'''


def test_answers_read_from_the_course_s_files_are_not_there_when_graded(tmp_path):
    """A submission that looks for the answer key where the course keeps it (the checks, make_runs.py, the exemplars, the
    solution notebook) next to the notebook, the course's package, the home folder and /tmp: in the sandbox none of them
    is there, and it scores what its fallback answers earn (the format only). Run in this process, beside the course's
    files, the same cell finds every diagnosis (12 points): the search works, and the sandbox is what stops it."""
    path = submission(tmp_path, SNOOPING, None)
    result = sandboxed(path)
    assert total(result) == 2.0 and result["test_answers_are_well_formed"] == (2.0, ""), result
    assert total(scores(path)) == 12.0


@pytest.mark.parametrize("written", [
    "**d_wins**", "*d_wins*", "_d_wins_", "(d_wins)", "[d_wins]", "['d_wins']", "{'d_wins'}", "<d_wins>",
    "d_wins\u200b", "\ufeffd_wins", "d\u2212wins", "d\uff3fwins", "\uff24 wins",
], ids=["markdown_bold", "markdown_italics_star", "markdown_italics_underscore", "parentheses", "brackets",
        "a_list_printed_into_a_string", "a_set_printed_into_a_string", "angle_brackets", "zero_width_space",
        "byte_order_mark", "minus_sign", "fullwidth_underscore", "fullwidth_letter"])
def test_a_key_wrapped_in_markdown_brackets_or_pasted_with_invisible_characters_is_that_key(written):
    """Red team, round four: a key alone inside markdown emphasis or a pair of brackets (an answer typed as in a
    markdown cell, or a list's or set's repr written into the string with str()), or pasted from a web page or a PDF
    with a zero-width space, a byte-order mark, a minus sign or full-width characters, was "not one of FAILURES'
    keys": the format check's 2 points and the run's 2 lost for the right answer. It is the key it wraps, right or
    wrong as that key; a wrapper around two choices is still not read."""
    names = helpers()
    listings = {"FAILURES": names["FAILURES"], "FIXES": names["FIXES"]}
    fake = Fake(diagnosis={**RIGHT_DIAGNOSIS, "run_c": written}, fix=RIGHT_FIX, **listings)
    assert run_check(CHECKS.test_answers_are_well_formed, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_c_diagnosis, fake) == (2.0, "")
    assert run_check(CHECKS.test_run_a_diagnosis, Fake(diagnosis={"run_a": written}, **listings)) == (
        0.0, "diagnosis['run_a'] = 'd_wins' is not what run_a shows; look again at its curves and grids")


@pytest.mark.parametrize("written", ["(d_wins, mode_collapse)", "[d_wins] [mode_collapse]", "**d_wins or mode_collapse**",
                                     "~~d_wins~~", "(d_wins"])
def test_a_wrapper_around_a_hedge_a_struck_out_key_or_an_unclosed_bracket_is_not_read(written):
    names = helpers()
    fake = Fake(diagnosis={"run_c": written}, FAILURES=names["FAILURES"], FIXES=names["FIXES"])
    points, message = run_check(CHECKS.test_run_c_diagnosis, fake)
    assert points == 0.0 and message.startswith(f"diagnosis['run_c'] = {written!r} is not one of FAILURES' keys"), message


def test_a_failure_and_its_fix_given_together_are_read_as_the_one_each_dict_asks_for(tmp_path):
    """Red team, round four: one dict of (failure, fix) pairs given as both answers (`diagnosis = fix = pairs`) was
    told "gives 2 choices: choose one" by every run's checks, 0 of 17, as if it were a hedge. A pair of one failure and
    one fix is no hedge: each dict's checks read the choice of their own kind, and the format check is told that each
    dict takes its own kind alone. Two failures in a pair are still a hedge."""
    pairs = {run: (RIGHT_DIAGNOSIS[run], RIGHT_FIX[run]) for run in RUNS}
    path = submission(tmp_path, f"pairs = {pairs!r}\ndiagnosis = pairs\nfix = pairs\n", None)
    told = ("diagnosis['run_a'] should be a string, one of FAILURES' keys; got a tuple of a failure and a fix, "
            "('unit_range_data', 'scale_data'): `diagnosis` takes the failure alone, 'unit_range_data' (the fix goes in "
            "`fix`); also not well formed: " + ", ".join(f"{name}[{run!r}]" for name in ("diagnosis", "fix") for run in RUNS)[
                len("diagnosis['run_a'], "):])
    assert scores(path) == {**OK, "test_answers_are_well_formed": (0.0, told)}
    fix_told = run_check(CHECKS.test_answers_are_well_formed, Fake(diagnosis=RIGHT_DIAGNOSIS, fix={**RIGHT_FIX, "run_e": (
        "lr_off_by_10", "lr")}))
    assert fix_told == (0.0, "fix['run_e'] should be a string, one of FIXES' keys; got a tuple of a failure and a fix, "
                             "('lr_off_by_10', 'lr'): `fix` takes the fix alone, 'lr' (the failure goes in `diagnosis`)")
    with pytest.raises(AssertionError, match="gives 2 choices"):  # two failures: a hedge
        CHECKS.judge_diagnosis(Fake(diagnosis={"run_c": ("d_wins", "mode_collapse")}), "run_c")
    with pytest.raises(AssertionError, match="gives 3 choices"):  # a failure and a fix beside another failure
        CHECKS.judge_diagnosis(Fake(diagnosis={"run_c": ("d_wins", "lr_d", "mode_collapse")}), "run_c")


def test_a_run_s_answers_in_a_dict_given_to_both_dicts_are_read_by_name():
    """Red team, round four: `answers = {"run_a": {"diagnosis": ..., "fix": ...}, ...}` given as both dicts
    (`diagnosis = fix = answers`) was told "should be a string; got {...} (dict)" by every run's checks, 0 of 17.
    Each dict's checks read the entry named after it ("diagnosis" or "failure", "fix"), and the format check is told
    that each dict takes its own choice alone; an entry under no such name is not read."""
    answers = {run: {"diagnosis": RIGHT_DIAGNOSIS[run], "fix": RIGHT_FIX[run]} for run in RUNS}
    fake = Fake(diagnosis=answers, fix=answers)
    for run in RUNS:
        assert run_check(getattr(CHECKS, f"test_{run}_diagnosis"), fake) == (2.0, "")
        assert run_check(getattr(CHECKS, f"test_{run}_fix"), fake) == (1.0, "")
    assert run_check(CHECKS.test_answers_are_well_formed, fake) == (0.0, (
        "diagnosis['run_a'] should be a string, one of FAILURES' keys; got a dict of run_a's answers, {'diagnosis': "
        "'unit_range_data', 'fix': 'scale_data'}: `diagnosis` takes the failure alone, 'unit_range_data' (the fix goes in "
        "`fix`); also not well formed: " + ", ".join(f"{name}[{run!r}]" for name in ("diagnosis", "fix") for run in RUNS)[
            len("diagnosis['run_a'], "):]))
    failure = Fake(diagnosis={"run_c": {"Failure": "d_wins", "Fix": "lr_d"}})
    assert run_check(CHECKS.test_run_c_diagnosis, failure) == (2.0, "")
    unnamed = Fake(diagnosis={"run_c": {"first": "d_wins", "second": "mode_collapse"}})
    assert run_check(CHECKS.test_run_c_diagnosis, unnamed) == (
        0.0, "diagnosis['run_c'] should be a string, one of FAILURES' keys; got {'first': 'd_wins', 'second': "
             "'mode_collapse'} (dict)")


def test_answers_given_as_pairs_dicts_or_wrapped_keys_are_graded_alike_in_the_sandbox(tmp_path):
    """The readings above, across the proxy: a run's answers as a (failure, fix) pair or a dict by name, given to
    both dicts, and keys in markdown or brackets score what they score in this process, the format check's 2 points
    lost and every run's 3 kept."""
    both = {"run_a": ("unit_range_data", "scale_data"), "run_b": {"diagnosis": "checkerboard", "fix": "resize_conv"},
            "run_c": ["d_wins", "label_smoothing"], "run_d": {"Failure": "nan_log_sigmoid", "Fix": "logits_loss"},
            "run_e": {"diagnosis": "**lr_off_by_10**", "fix": "['lr']"}}
    path = submission(tmp_path, f"both = {both!r}\ndiagnosis = both\nfix = both\n", None)
    result = sandboxed(path)
    assert result == scores(path) and total(result) == 15.0 and result["test_answers_are_well_formed"][0] == 0.0, result
