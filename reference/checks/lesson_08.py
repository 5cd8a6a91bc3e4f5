"""Checks of lesson 08's code-along places: diagnosing a run from its metrics, EMA of G, label smoothing.

The student writes `diagnose`, `ema_update_` and `smoothed_d_loss` in
solutions/lessons/08_training_clinic.ipynb; each check calls them on inputs it chooses and compares
with the course library, the oracle (`reference.clinic`'s detectors, `torch.optim.swa_utils`'
EMA rule, `reference.losses.NonSaturating`). A wrong value that matches a common mistake (only the
last epoch read, `x == nan`, the decay on the wrong side, two-sided smoothing, log(sigmoid(x))...)
gets that mistake's message. Beyond one example: diagnose meets runs just past each threshold and exactly on each
(its tests are strict) and must leave its rows as they were, ema_update_ runs with two decays, and smoothed_d_loss
must give the same loss twice.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from reference import clinic
from reference.grading.checks import check
from reference.losses import NonSaturating

ASSIGNMENT = "lesson_08"
TOL = dict(rtol=1e-4, atol=1e-6)


def _row(epoch: int, loss_g: float, d_x: float, d_g_z: float, loss_d: float = 0.5) -> dict:
    return {"epoch": epoch, "loss_d": loss_d, "loss_g": loss_g, "d_x": d_x, "d_g_z": d_g_z}


def reference_diagnose(rows: list[dict]) -> str:
    """The oracle: "nan" before "d-wins" before "healthy" (reference.clinic's detectors)."""
    if clinic.not_finite(rows):
        return "nan"
    return "d-wins" if clinic.d_wins(rows) else "healthy"


LOW_LOSS = "a run with D(x) 0.97 and D(G(z)) 0.05 whose loss_G stays at 1.5"
FELL = "a run with D(x) 0.97 and D(G(z)) 0.05 whose loss_G falls from 5.0 to 3.0"
ROSE = "a run with D(x) 0.97 and D(G(z)) 0.05 whose loss_G rises from 0.5 to 1.5"
SHORT = "a run of only 2 epochs where D wins in the second"
LAST_THIRD_OF_2 = ("with 2 rows the last third is max(1, 2 // 3) = 1 row, the last one: 2 // 3 is 0, and rows[-0:] is every "
                   "row (a slice from -0 starts at the front); keep at least one row, rows[-max(1, len(rows) // 3):]")


ELEVEN = "a run of 11 epochs where D wins in the last 3"
SPIKE = "a run where D wins and D(G(z)) jumps to 0.5 in the last epoch"
PEAKED = "a run whose loss_G peaks at 8.0 mid-run and ends at 3.0 while D wins"
UNSURE_D = "a run whose D(G(z)) falls to 0.05 and loss_G climbs while D(x) stays at 0.93"
FOOLED_D = "a run with a confident D (D(x) 0.97) and a climbing loss_G whose D(G(z)) stays at 0.2"
LOSS_D_NAN = "a run whose loss_D is nan at epoch 4 while loss_G, D(x) and D(G(z)) stay finite"
LAST_ROW_WINS = "a run of 12 epochs where D wins only in the last one"
# D wins with one mean just past its threshold, the others far from theirs: a threshold written tighter than the
# docstring's (0.98, 0.05, 2.5) fails here (found by the lessons 05/08 red team: it passed, or was told of noisy epochs)
NEAR_D_X = "a run where D wins with D(x) at 0.96, just above 0.95"
NEAR_D_G_Z = "a run where D wins with D(G(z)) at 0.08, just below 0.1"
NEAR_LOSS_G = "a run where D wins with loss_G at 2.3 (first row 1.0), just above 2"
DIPPED = "a run whose loss_G starts at 3.0, dips to 1.0 and ends at 2.5 while D wins"
THRESHOLDS = "use the docstring's thresholds exactly: D(x) > 0.95, D(G(z)) < 0.1 and loss_G > max(2, the first row's loss_G)"
# D wins by every test but one mean that sits exactly on its threshold: the docstring's tests are strict, so these runs
# are healthy, and >= or <= in place of > or < passed every case above (found by the lessons' false-positive red team)
AT_D_X = "a run of 3 epochs whose last D(x) is exactly 0.95"
AT_D_G_Z = "a run of 3 epochs whose last D(G(z)) is exactly 0.1"
AT_TWO = "a run of 3 epochs whose last loss_G is exactly 2 (first row 1.0)"
AT_FIRST = "a run of 3 epochs whose last loss_G is exactly the first row's 3.0"
STRICT = ("D wins needs D(x) > 0.95, D(G(z)) < 0.1 and loss_G > max(2, the first row's loss_G), each strictly: a mean "
          "exactly on its threshold does not pass it (>= or <= where the docstring says > or <?)")
KEYS = ("loss_d", "loss_g", "d_x", "d_g_z")


def _rule(rows: list[dict], window=lambda rows: rows[-max(1, len(rows) // 3):], stat=lambda v: sum(v) / len(v),
          first=lambda rows, late: rows[0]["loss_g"], each_row: bool = False) -> str:
    """The docstring's rules, with one part replaceable: the rows judged, the statistic, the loss_G to beat,
    or every row of the window judged on its own (each_row) instead of their means."""
    if any(not math.isfinite(r[k]) for r in rows for k in KEYS):
        return "nan"
    late = window(rows)
    bar = max(2, first(rows, late))
    if each_row:
        wins = all(r["d_x"] > 0.95 and r["d_g_z"] < 0.1 and r["loss_g"] > bar for r in late)
    else:
        m = {k: stat([r[k] for r in late]) for k in KEYS}
        wins = m["d_x"] > 0.95 and m["d_g_z"] < 0.1 and m["loss_g"] > bar
    return "d-wins" if wins else "healthy"


def _median(values: list[float]) -> float:
    v, n = sorted(values), len(values)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


ROUNDED_UP = ("the last third is rounded down, rows[-max(1, len(rows) // 3):]: 11 rows give 11 // 3 = 3 rows, not 4 "
              "(math.ceil or round take one row too many, and so does rows[-len(rows) // 3:], where the minus binds "
              "first: -11 // 3 = -4, floor division rounds towards minus infinity; write -(len(rows) // 3))")

# rules that differ from the docstring's in one part, each a mistake students make, and its message; an answer
# that gives the same verdict as one of them on every case gets that message
RULE_MISTAKES = [
    (lambda rows: _rule(rows, window=lambda rows: rows[-math.ceil(len(rows) / 3):]),
     ROUNDED_UP),
    (lambda rows: _rule(rows, window=lambda rows: rows[-max(1, round(len(rows) / 3)):]),
     ROUNDED_UP),
    (lambda rows: _rule(rows, window=lambda rows: rows[:max(1, len(rows) // 3)]),
     "that is the first third of the rows, rows[:len(rows) // 3]; judge on the last third, "
     "rows[-max(1, len(rows) // 3):], the end of the run"),
    (lambda rows: _rule(rows, stat=_median),
     "judge on the means over the last third (sum / count), not the medians: one bad epoch moves the mean"),
    (lambda rows: _rule(rows, first=lambda rows, late: late[0]["loss_g"]),
     "loss_G must beat the run's first row, rows[0][\"loss_g\"] (epoch 1), not the first row of the last third"),
    (lambda rows: _rule(rows, first=lambda rows, late: sum(r["loss_g"] for r in rows) / len(rows)),
     "loss_G must beat max(2, the first row's loss_G), rows[0][\"loss_g\"], not the mean loss_G of all the rows"),
    (lambda rows: _rule(rows, window=lambda rows: rows[-1:]),
     "judge on the means over the last third of the rows, not the last row alone: one epoch is noisy"),
    (lambda rows: _rule(rows, each_row=True),
     "judge on the means over the last third, not on each of its rows: D wins when the means pass the three "
     "tests, even if one noisy epoch does not"),
]


def _rule_mistake(fn, cases: list[tuple[str, list[dict], str]]) -> str | None:
    """The message of the rule mistake that gives the answer's verdict on every case, if one does."""
    answers = []
    for _, rows, _ in cases:
        try:
            answers.append(fn([dict(r) for r in rows]))
        except Exception:  # noqa: BLE001 - only a diagnosis
            return None
    for rule, message in RULE_MISTAKES:
        verdicts = [rule(rows) for _, rows, _ in cases]
        if answers == verdicts and "d-wins" in verdicts:  # a rule that never says "d-wins" tells nothing apart
            return message
    return None


CLIMBED_EARLY = "a run where D won its first 4 of 12 epochs while loss_G climbed, and G caught up"


def diagnose_cases() -> list[tuple[str, list[dict], str]]:
    """(what the rows are, rows, the oracle's answer): runs chosen far from every threshold."""
    healthy = [_row(e, 0.7 + 0.01 * e, 0.8 - 0.01 * e, 0.5) for e in range(1, 10)]
    d_wins = [_row(1, 1.5, 0.90, 0.30)] + [_row(e, 3.0 + 0.2 * e, 0.99, 0.02) for e in range(2, 10)]
    nan_late = healthy[:6] + [_row(e, math.nan, math.nan, math.nan, math.nan) for e in range(7, 10)]
    inf_loss = healthy[:8] + [_row(9, math.inf, 0.99, 0.0, 0.3)]
    wins_then_inf = d_wins[:8] + [_row(9, math.inf, 1.0, 0.0, 0.01)]
    recovered = [_row(e, 4.0, 0.99, 0.02) for e in range(1, 5)] + [_row(e, 0.8, 0.75, 0.45) for e in range(5, 13)]
    last_bad = [_row(1, 1.5, 0.9, 0.3)] + [_row(e, 3.0 + 0.2 * e, 0.99, 0.02) for e in range(2, 9)] + [_row(9, 1.8, 0.97, 0.2)]
    strong_d = [_row(e, 0.9, 0.97, 0.4) for e in range(1, 10)]
    nan_early = [_row(1, 1.0, 0.9, 0.3), _row(2, math.nan, math.nan, math.nan, math.nan)] + \
        [_row(e, 0.8, 0.8, 0.5) for e in range(3, 10)]  # made up: a run whose later epochs read finite
    # each rule of d-wins on its own: D(x) and D(G(z)) say D wins, loss_G decides
    low_loss = [_row(1, 1.5, 0.9, 0.3)] + [_row(e, 1.5, 0.97, 0.05) for e in range(2, 10)]  # below 2 and not climbing
    fell = [_row(1, 5.0, 0.9, 0.3)] + [_row(e, 3.0, 0.97, 0.05) for e in range(2, 10)]  # above 2, below the first 5.0
    rose = [_row(1, 0.5, 0.9, 0.3)] + [_row(e, 1.5, 0.97, 0.05) for e in range(2, 10)]  # above the first 0.5, below 2
    late_win = [_row(e, 0.9, 0.8, 0.4) for e in range(1, 9)] + [_row(e, 4.0, 0.99, 0.02) for e in range(9, 13)]
    nan_d_g_z = healthy[:4] + [_row(5, 0.8, 0.8, math.nan)] + healthy[5:]  # the losses stay finite
    inf_d_x = healthy[:8] + [_row(9, 0.8, math.inf, 0.5)]
    short = [_row(1, 1.0, 0.8, 0.4), _row(2, 4.0, 0.99, 0.02)]  # the last third is 2 // 3 = 0 rows: at least one
    # 11 rows: the last third is 11 // 3 = 3 rows (epochs 9-11, D wins); 4 rows (rounded up) take in epoch 8
    eleven = [_row(e, 0.9, 0.8, 0.4) for e in range(1, 9)] + [_row(e, 4.0, 0.99, 0.02) for e in range(9, 12)]
    # one bad last epoch lifts the mean of D(G(z)) over 0.1 (0.18); its median stays at 0.02
    spike = [_row(1, 1.5, 0.9, 0.3)] + [_row(e, 4.0, 0.99, 0.02) for e in range(2, 9)] + [_row(9, 4.0, 0.99, 0.5)]
    # loss_G peaks mid-run at 8.0 and ends at 3.0: above the first row's 1.0, below the mean of all rows (5.6)
    peaked = [_row(1, 1.0, 0.9, 0.3)] + [_row(e, 8.0, 0.9, 0.3) for e in range(2, 7)] + \
        [_row(e, 3.0, 0.99, 0.02) for e in range(7, 10)]
    # D wins in the first third with loss_G climbing (3.75 > 1.5 there), then G catches up: healthy at the end
    climbed_early = [_row(1, 1.5, 0.99, 0.02), _row(2, 4.0, 0.99, 0.02), _row(3, 4.5, 0.99, 0.02), _row(4, 5.0, 0.99, 0.02)] + \
        [_row(e, 0.8, 0.75, 0.45) for e in range(5, 13)]
    # found by session 35's red team: each test of "d-wins", and loss_D among the values tested, on its own
    unsure_d = [_row(1, 1.5, 0.6, 0.3)] + [_row(e, 3.0 + 0.2 * e, 0.93, 0.05) for e in range(2, 10)]
    fooled_d = [_row(1, 1.5, 0.9, 0.3)] + [_row(e, 3.0 + 0.2 * e, 0.97, 0.2) for e in range(2, 10)]
    loss_d_nan = healthy[:3] + [_row(4, 0.8, 0.8, 0.5, math.nan)] + healthy[4:]
    last_row_wins = [_row(e, 0.9, 0.8, 0.4) for e in range(1, 12)] + [_row(12, 4.0, 0.99, 0.02)]
    # every row alike but the first one's loss_G, so that only the threshold decides (any window, mean or median)
    near_d_x = [_row(1, 1.0, 0.96, 0.02)] + [_row(e, 4.0, 0.96, 0.02) for e in range(2, 10)]
    near_d_g_z = [_row(1, 1.0, 0.99, 0.08)] + [_row(e, 4.0, 0.99, 0.08) for e in range(2, 10)]
    near_loss_g = [_row(1, 1.0, 0.99, 0.02)] + [_row(e, 2.3, 0.99, 0.02) for e in range(2, 10)]
    # loss_G ends above 2 and above its lowest value, but below the first row's: not climbing by the docstring's rule
    dipped = [_row(1, 3.0, 0.9, 0.3)] + [_row(e, 1.0, 0.97, 0.05) for e in range(2, 7)] + \
        [_row(e, 2.5, 0.99, 0.02) for e in range(7, 10)]
    # 3 rows: the last third is the last row alone, so each mean is exactly the value written here
    at_d_x = [_row(1, 1.0, 0.9, 0.3), _row(2, 4.0, 0.99, 0.02), _row(3, 4.0, 0.95, 0.02)]
    at_d_g_z = [_row(1, 1.0, 0.9, 0.3), _row(2, 4.0, 0.99, 0.02), _row(3, 4.0, 0.99, 0.1)]
    at_two = [_row(1, 1.0, 0.9, 0.3), _row(2, 4.0, 0.99, 0.02), _row(3, 2.0, 0.99, 0.02)]
    at_first = [_row(1, 3.0, 0.9, 0.3), _row(2, 4.0, 0.99, 0.02), _row(3, 3.0, 0.99, 0.02)]
    cases = [("a healthy run", healthy), ("a run where D wins", d_wins),
             (NEAR_D_X, near_d_x), (NEAR_D_G_Z, near_d_g_z), (NEAR_LOSS_G, near_loss_g),
             ("a run that turns NaN at epoch 7", nan_late),
             ("a run whose last loss_G is inf", inf_loss),
             ("a run where D wins and loss_G overflows to inf in the last epoch", wins_then_inf), ("a run where D won early and G caught up", recovered),
             ("a run where D wins for 7 epochs and the last epoch looks fine", last_bad),
             ("a run with a confident D (D(x) 0.97) whose D(G(z)) stays at 0.4", strong_d),
             ("a run with one NaN epoch (epoch 2)", nan_early),
             ("a run whose D(G(z)) is nan at epoch 5 while both losses stay finite", nan_d_g_z),
             ("a run whose D(x) is inf at epoch 9 while both losses stay finite", inf_d_x),
             ("a run where D wins only in its last 4 of 12 epochs", late_win),
             (LOW_LOSS, low_loss), (FELL, fell), (ROSE, rose), (SHORT, short), (ELEVEN, eleven),
             (SPIKE, spike), (PEAKED, peaked), (CLIMBED_EARLY, climbed_early), (UNSURE_D, unsure_d), (FOOLED_D, fooled_d),
             (LOSS_D_NAN, loss_d_nan), (LAST_ROW_WINS, last_row_wins), (DIPPED, dipped),
             (AT_D_X, at_d_x), (AT_D_G_Z, at_d_g_z), (AT_TWO, at_two), (AT_FIRST, at_first)]
    return [(what, rows, reference_diagnose(rows)) for what, rows in cases]


def _rules_on(rows: list[dict], expected: str) -> str:
    """The docstring's rules applied to `rows`, with their numbers: why the answer is `expected`."""
    if expected == "nan":
        row, key = next((r, k) for r in rows for k in ("loss_d", "loss_g", "d_x", "d_g_z") if not math.isfinite(r[k]))
        return f"{key} is {row[key]} at epoch {row['epoch']}, and any value that is not finite means \"nan\""
    late = rows[-max(1, len(rows) // 3):]
    mean = {k: sum(r[k] for r in late) / len(late) for k in ("d_x", "d_g_z", "loss_g")}
    return (f"over the last third of the rows (epochs {late[0]['epoch']}-{late[-1]['epoch']}) the means are D(x) "
            f"{mean['d_x']:.3f}, D(G(z)) {mean['d_g_z']:.3f} and loss_G {mean['loss_g']:.3g}, against the first row's "
            f"loss_G {rows[0]['loss_g']:.3g}; \"d-wins\" needs D(x) > 0.95, D(G(z)) < 0.1 and loss_G > max(2, the first "
            f"row's loss_G), all three")


@check(points=1, visible=True)
def test_diagnose(submission):
    """diagnose(rows): "nan", "d-wins" or "healthy" from a run's metrics rows."""
    fn = submission.get("diagnose")
    hints = {
        ("a run that turns NaN at epoch 7", "healthy"): "test with math.isnan(x) (or not math.isfinite(x)): x == float('nan') is "
                                                        "always False, nan is not equal to anything, itself included",
        ("a run whose last loss_G is inf", "healthy"): "an infinite loss counts too: test every value with not math.isfinite(x), "
                                                       "which is True for nan, inf and -inf",
        ("a run where D wins and loss_G overflows to inf in the last epoch", "d-wins"): "check for non-finite values first, before D wins: inf is not a number a "
                                                      "run can recover from",
        ("a run with one NaN epoch (epoch 2)", "healthy"): "look at every epoch, not only the last ones: one NaN epoch means the "
                                                           "loss can overflow",
        ("a run where D won early and G caught up", "d-wins"): "judge D wins on the last third of the epochs (their means), not on "
                                                               "any epoch: early on D often wins, and G catches up",
        (CLIMBED_EARLY, "d-wins"): "judge D wins on the last third of the epochs (their means), not on any epoch or the "
                                   "first ones: early on D often wins, and G catches up",
        ("a run where D wins for 7 epochs and the last epoch looks fine", "healthy"):
            "judge on the means over the last third of the epochs, not the last row alone: one epoch is noisy",
        ("a run with a confident D (D(x) 0.97) whose D(G(z)) stays at 0.4", "d-wins"):
            "D(x) near 1 alone is not D winning: it also needs D(G(z)) < 0.1 and loss_G > 2 (and climbing)",
        ("a run whose D(G(z)) is nan at epoch 5 while both losses stay finite", "healthy"):
            "test all four values of every row, d_x and d_g_z as well as the losses: a nan anywhere means \"nan\"",
        ("a run whose D(x) is inf at epoch 9 while both losses stay finite", "healthy"):
            "test all four values of every row with not math.isfinite(x), d_x and d_g_z as well as the losses",
        ("a run whose D(x) is inf at epoch 9 while both losses stay finite", "d-wins"):
            "test all four values of every row with not math.isfinite(x), d_x and d_g_z as well as the losses",
        ("a run where D wins only in its last 4 of 12 epochs", "healthy"):
            "judge on the means over the last third of the rows (here epochs 9-12, where D wins), not over all the "
            "rows or the first ones: the healthy early epochs hide the end of the run",
        (LOW_LOSS, "d-wins"): "D wins needs loss_G > max(2, the first row's loss_G) as well as D(x) > 0.95 and "
                              "D(G(z)) < 0.1: here the late loss_G (1.5) is below 2",
        (FELL, "d-wins"): "loss_G must be above max(2, the first row's loss_G), i.e. climbing as well as above 2: here the "
                          "late loss_G (3.0) is above 2 but below the first row's 5.0",
        (ROSE, "d-wins"): "loss_G must be above max(2, the first row's loss_G), i.e. above 2 as well as above the first "
                          "row's: here the late loss_G (1.5) is above the first row's 0.5 but below 2",
        (SHORT, "healthy"): LAST_THIRD_OF_2,
        (UNSURE_D, "d-wins"): "D wins needs D(x) > 0.95 as well: here D(x) stays at 0.93, below it",
        (FOOLED_D, "d-wins"): ("D wins needs D(G(z)) < 0.1 as well: here D(G(z)) stays at 0.2, G's samples still pass for "
                               "real one time in five"),
        (LOSS_D_NAN, "healthy"): "test all four values of every row, loss_d as well as loss_g, d_x and d_g_z: a nan anywhere means \"nan\"",
        (LAST_ROW_WINS, "d-wins"): "judge on the means over the last third of the epochs (here 9-12), not the last row alone: one epoch is noisy",
        (NEAR_D_X, "healthy"): f"the mean D(x) over the last third is 0.96, above 0.95, and the other two tests pass; {THRESHOLDS}",
        (NEAR_D_G_Z, "healthy"): f"the mean D(G(z)) over the last third is 0.08, below 0.1, and the other two tests pass; {THRESHOLDS}",
        (DIPPED, "d-wins"): ("loss_G must beat max(2, the first row's loss_G), rows[0][\"loss_g\"], not its lowest or any "
                             "other value: here the late loss_G (2.5) is above 2 but below the first row's 3.0"),
        (NEAR_LOSS_G, "healthy"): (f"the mean loss_G over the last third is 2.3, above max(2, 1.0) = 2, and the other two tests "
                                   f"pass; {THRESHOLDS}"),
        (AT_D_X, "d-wins"): f"here the mean D(x) over the last third is 0.95 itself; {STRICT}",
        (AT_D_G_Z, "d-wins"): f"here the mean D(G(z)) over the last third is 0.1 itself; {STRICT}",
        (AT_TWO, "d-wins"): f"here the mean loss_G over the last third is 2 itself, and max(2, 1.0) = 2; {STRICT}",
        (AT_FIRST, "d-wins"): f"here the mean loss_G over the last third is 3.0, the first row's loss_G itself; {STRICT}",
    }
    cases = diagnose_cases()
    for what, rows, expected in cases:
        given = [dict(r) for r in rows]
        try:
            got = fn(given)
        except ZeroDivisionError as err:
            if what != SHORT:
                raise
            raise AssertionError(f"on {what} diagnose raised ZeroDivisionError ({err}): {LAST_THIRD_OF_2}") from None
        if repr(given) != repr(rows):  # repr: nan equals nan
            raise AssertionError(f"on {what} diagnose changed the rows it was given (a row removed, added, reordered or "
                                 f"edited: pop, sort, del, an assignment): the caller's metrics must stay as they were, "
                                 f"the notebook reads them again; compute on new lists, e.g. late = rows[-n:]")
        if got == expected:
            continue
        if got not in ("nan", "d-wins", "healthy"):
            raise AssertionError(f"on {what} diagnose returned {got!r}: return one of the strings 'nan', 'd-wins', 'healthy'")
        mistake = _rule_mistake(fn, cases)
        if mistake:
            raise AssertionError(f"on {what} diagnose returned {got!r}, expected {expected!r}: {mistake}")
        raise AssertionError(f"on {what} diagnose returned {got!r}, expected {expected!r}: "
                             + hints.get((what, got), _rules_on(rows, expected)))


def _ema_inputs() -> tuple[list[Tensor], list[Tensor]]:
    gen = torch.Generator().manual_seed(8)
    return [torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)], [torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)]


@check(points=1, visible=True)
def test_ema_update(submission):
    """ema_update_(ema_params, params, decay): in place, ema <- decay * ema + (1 - decay) * param."""
    fn = submission.get("ema_update_")
    ema, params = _ema_inputs()
    tensors = list(ema)  # the caller's tensors (G_ema's parameters): the list only points to them
    ema_in, params_in = [e.clone() for e in ema], [p.clone() for p in params]
    decay = 0.9
    expected = [decay * e + (1 - decay) * p for e, p in zip(ema_in, params_in)]
    result = fn(ema, params, decay)
    if all(torch.equal(e, e0) for e, e0 in zip(tensors, ema_in)):
        if isinstance(result, (list, tuple)) and len(result) == 2 and all(
                isinstance(r, Tensor) and torch.allclose(r, x, **TOL) for r, x in zip(result, expected)):
            raise AssertionError("returns the new averages but leaves ema_params unchanged: update each tensor in place "
                                 "(e.mul_(decay).add_(p, alpha=1 - decay), or e.lerp_(p, 1 - decay))")
        if not all(torch.equal(p, p0) for p, p0 in zip(params, params_in)):
            raise AssertionError("it leaves ema_params unchanged and writes into params, G's own parameters: the "
                                 "averages are the first argument, ema_update_(ema_params, params, decay); update "
                                 "ema_params in place and only read params (zip(ema_params, params), in that order)")
        if any(e is not t for e, t in zip(ema, tensors)):
            raise AssertionError("ema_update_ puts new tensors into the list (ema_params[i] = ...), which leaves the tensors the "
                                 "list held, G_ema's parameters, unchanged: update each tensor itself in place "
                                 "(e.mul_(decay).add_(p, alpha=1 - decay), or e.lerp_(p, 1 - decay))")
        raise AssertionError("ema_params are unchanged after ema_update_: update each tensor of ema_params in place")
    if not all(torch.equal(p, p0) for p, p0 in zip(params, params_in)):
        raise AssertionError("params changed: ema_update_ must only read G's parameters, never write them")
    got = [e.detach() for e in tensors]
    stale = [i for i, (g, e0) in enumerate(zip(got, ema_in)) if torch.equal(g, e0)]
    if all(torch.allclose(g, x, **TOL) for g, x in zip(got, expected)):
        pass
    elif stale:
        i = stale[0]
        raise AssertionError(f"ema_params[{i}] (of {len(got)}) did not change: update every tensor of the list (a "
                             f"`break` or `return` inside the loop, or a list item replaced instead of changed in place?)")
    elif all(torch.allclose(g, (1 - decay) * e + decay * p, **TOL) for g, e, p in zip(got, ema_in, params_in)):
        raise AssertionError("the decay is on the wrong side: the average keeps `decay` of itself, ema <- decay * ema + "
                             "(1 - decay) * param (with decay 0.999 G's latest weights count 0.1%)")
    elif all(torch.allclose(g, decay * e + p, **TOL) for g, e, p in zip(got, ema_in, params_in)):
        raise AssertionError("it adds the whole param to decay * ema: scale param by (1 - decay), ema <- decay * ema + "
                             "(1 - decay) * param (e.mul_(decay).add_(p, alpha=1 - decay)), so the weights sum to 1")
    elif all(torch.allclose(g, decay * (e + p), **TOL) for g, e, p in zip(got, ema_in, params_in)):
        raise AssertionError("it weights param by decay too: param's weight is 1 - decay, ema <- decay * ema + "
                             "(1 - decay) * param (add_(p, alpha=1 - decay)), so the weights sum to 1")
    elif all(torch.allclose(g, p, **TOL) for g, p in zip(got, params_in)):
        raise AssertionError("ema_params were overwritten with params: keep `decay` of the old average, ema <- decay * ema "
                             "+ (1 - decay) * param")
    elif (used := _decay_used(got, ema_in, params_in)) is not None:
        raise AssertionError(f"it averages with decay {used:.6g}, not the decay it is given ({decay} here): a fixed number "
                             f"written into the code? use the argument, e.mul_(decay).add_(p, alpha=1 - decay)")
    else:
        i = next(i for i, (g, x) in enumerate(zip(got, expected)) if not torch.allclose(g, x, **TOL))
        j = int((~torch.isclose(got[i], expected[i], **TOL)).flatten().nonzero()[0])
        raise AssertionError(f"with decay {decay}, ema_params[{i}] holds {got[i].flatten()[j].item():.6f} at flat index "
                             f"{j}, expected {expected[i].flatten()[j].item():.6f} = decay * ema + (1 - decay) * param")
    _check_second_decay(fn, decay)
    # on real parameters (requires_grad): the update must not be recorded by autograd
    net_ema, net = torch.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    try:
        fn(list(net_ema.parameters()), list(net.parameters()), 0.5)
    except RuntimeError as err:
        if "leaf Variable that requires grad" in str(err):
            raise AssertionError("on nn.Parameters an in-place update fails inside autograd: wrap the loop in "
                                 "`with torch.no_grad():`") from None
        raise
    if any(p.grad_fn is not None for p in net_ema.parameters()):
        raise AssertionError("the averages carry a grad_fn: do the update inside `with torch.no_grad():`")


SECOND_DECAY = 0.99


def _check_second_decay(fn, first: float) -> None:
    """fn, right with decay `first`, must be right with another decay too: a number written into the code in place
    of decay or 1 - decay fits one decay only (found by the lessons 05/08 red team: add_(p, alpha=0.1) passed)."""
    ema, params = _ema_inputs()
    tensors, ema_in = list(ema), [e.clone() for e in ema]
    fn(ema, params, SECOND_DECAY)
    got = [t.detach() for t in tensors]
    expected = [SECOND_DECAY * e + (1 - SECOND_DECAY) * p for e, p in zip(ema_in, params)]
    if all(torch.allclose(g, x, **TOL) for g, x in zip(got, expected)):
        return
    used = _decay_used(got, ema_in, params)
    does = f"it averages with decay {used:.6g}" if used is not None else "its result is not decay * ema + (1 - decay) * param"
    raise AssertionError(f"right with decay {first} but not with decay {SECOND_DECAY}: {does}. A number written into the code "
                         f"where decay or 1 - decay belongs ({1 - first:g} for 1 - decay, {first} for decay)? compute both "
                         f"from the argument, e.mul_(decay).add_(p, alpha=1 - decay)")


def _decay_used(got: list[Tensor], ema: list[Tensor], params: list[Tensor]) -> float | None:
    """The one decay d with got = d * ema + (1 - d) * params for every tensor, when there is one; else None."""
    e, p, g = (torch.cat([t.double().flatten() for t in ts]) for ts in (ema, params, got))
    apart = (e - p).abs() > 1e-3
    if not bool(apart.any()):
        return None
    d = float(((g - p)[apart] / (e - p)[apart]).median())
    fits = torch.allclose(g, d * e + (1 - d) * p, rtol=1e-4, atol=1e-6)
    return d if fits and math.isfinite(d) else None


def _smoothing_inputs() -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(3)
    return torch.randn(16, generator=gen) * 2 + 1, torch.randn(12, generator=gen) * 2 - 1  # N = 16 real, M = 12 fake


def _smoothing_mistakes(real: Tensor, fake: Tensor, s: float) -> list[tuple[Tensor, str]]:
    """Common wrong losses with smoothing s: [(their value, what the answer does)]."""
    two_sided = ((1 - s) * F.softplus(-real) + s * F.softplus(real)).mean() + (s * F.softplus(-fake) + (1 - s) * F.softplus(fake)).mean()
    scaled = ((1 - s) * F.softplus(-real)).mean() + F.softplus(fake).mean()
    summed = (1 - s) * F.softplus(-real).sum() + s * F.softplus(real).sum() + F.softplus(fake).sum()
    together = (((1 - s) * F.softplus(-real) + s * F.softplus(real)).sum() + F.softplus(fake).sum()) / (
        len(real) + len(fake))
    return [
        (together, "averages the real and the fake terms together, over all N + M logits (one BCE over "
                   "torch.cat([real, fake])), which weights each batch by its size and gives about half the loss; "
                   "take each term's mean over its own batch and add the two"),
        (2 * together, "takes one BCE over all N + M logits (torch.cat([real, fake])) and doubles it: that "
                       "still weights each batch by its size, not equally; take each term's mean over its own "
                       "batch and add the two"),
        (((1 - s) * F.softplus(-real) + s * F.softplus(real)).mean() / 2 + F.softplus(fake).mean() / 2,
         "halves the sum of the two terms ((real + fake) / 2): the loss is their sum, the mean over the real "
         "batch plus the mean over the fakes"),
        (two_sided, "smooths the fake labels too (two-sided): keep the fakes' target at 0, only the real target "
                    "becomes 1 - s (Salimans et al. 2016: smoothing fakes rewards G for staying where it is)"),
        (scaled, "scales the real term by 1 - s and drops the s * (-log(1 - D(x))) term: the loss is the "
                 "cross-entropy with target 1 - s, (1 - s) * softplus(-x) + s * softplus(x)"),
        (summed, "sums over the batch: take the mean"),
        (((s * F.softplus(-real) + (1 - s) * F.softplus(real)).mean() + F.softplus(fake).mean()),
         "uses s as the real images' target: their target is 1 - s (1 minus the smoothing, 0.9 for s = 0.1)"),
        (((1 - s) * F.softplus(-real) + s * F.softplus(real)).mean() + F.softplus(-fake).mean(),
         "gives the fakes target 1: the fakes' target is 0, -log(1 - D(G(z))) = softplus(fake)"),
        (F.softplus(-real).mean() + ((1 - s) * F.softplus(fake) + s * F.softplus(-fake)).mean(),
         "smooths the fakes' target (to s) and leaves the real images' at 1: one-sided smoothing is the other way "
         "round, the real images' target becomes 1 - s and the fakes' stays 0"),
        (F.softplus(-real).mean() + F.softplus(fake).mean(),
         "returns the loss without smoothing (target 1 for the real images): the real images' target is "
         "1 - smoothing, taken from the argument"),
        (F.softplus(real).mean() + F.softplus(fake).mean(),
         "gives the real images target 0: softplus(x) is -log(1 - D(x)), the fakes' term; the real images' term is "
         "-log D(x) = softplus(-x), with smoothing (1 - s) * softplus(-x) + s * softplus(x)"),
        (NonSaturating(smoothing=s).d_loss(-real, -fake),
         "is the loss of the negated logits: the signs of both terms are swapped; -log D(x) = softplus(-x) for the real "
         "images (target 1 - s: (1 - s) * softplus(-x) + s * softplus(x)) and -log(1 - D(G(z))) = softplus(x) for the fakes"),
        (NonSaturating(smoothing=s).d_loss(fake, real),
         "scores the two batches the other way round: the fake logits get the real images' target 1 - s and the real "
         "logits target 0; real_logits, the first argument, get target 1 - s, fake_logits target 0"),
    ]


SMOOTHINGS = (0.0, 0.1, 0.3)


def _smoothing_mistake(fn, real: Tensor, fake: Tensor, s: float, got: Tensor) -> str | None:
    """What the answer `got` (with smoothing s) does wrong: the first mistake it matches at s that it also matches at
    the other smoothings (with s = 0 several mistakes give one value: a target s is a target 0), else the first it
    matches at s; None when it matches none (found by the lessons 05-08 red team)."""
    found = [message for value, message in _smoothing_mistakes(real, fake, s) if torch.allclose(got.float(), value, **TOL)]
    for message in found:
        confirmed = True
        for other in SMOOTHINGS:
            if other == s:
                continue
            try:
                there = fn(real.clone(), fake.clone(), other)
                there = there.detach().float() if isinstance(there, Tensor) else torch.tensor(float(there))
            except Exception:  # noqa: BLE001 - only a diagnosis
                confirmed = False
                break
            values = {m: v for v, m in _smoothing_mistakes(real, fake, other)}
            if not torch.allclose(there, values[message], **TOL):
                confirmed = False
                break
        if confirmed:
            return message
    return found[0] if found else None


@check(points=1, visible=True)
def test_smoothed_d_loss(submission):
    """smoothed_d_loss(real_logits, fake_logits, smoothing): D's loss with target 1 - s for real images, 0 for fakes."""
    fn = submission.get("smoothed_d_loss")
    real, fake = _smoothing_inputs()
    for s in SMOOTHINGS:
        try:
            got = fn(real.clone(), fake.clone(), s)
        except RuntimeError as err:
            if "must match the size" not in str(err):
                raise
            raise AssertionError(f"with {len(real)} real and {len(fake)} fake logits smoothed_d_loss raised "
                                 f"RuntimeError ({err}): it combines the two batches sample by sample, but they may "
                                 f"differ in size; average each term over its own batch (.mean()), then add the two "
                                 f"means") from None
        if not isinstance(got, Tensor) or got.dim() != 0:
            shape = f" of shape {tuple(got.shape)}" if isinstance(got, Tensor) else ""
            raise AssertionError(f"smoothed_d_loss returned {type(got).__name__}{shape}: return a 0-dim tensor, the mean "
                                 f"loss over the batch")
        expected = NonSaturating(smoothing=s).d_loss(real, fake)
        if torch.allclose(got.float(), expected, **TOL):
            continue
        again = fn(real.clone(), fake.clone(), s)
        if isinstance(again, Tensor) and not torch.equal(again.detach(), got.detach()):
            raise AssertionError(f"with smoothing {s} it returns {got.item():.6f}, then {again.item():.6f} on the same logits: "
                                 f"random targets (torch.rand, uniform_, ganhacks' labels between 0.7 and 1.2) are another "
                                 f"trick; one-sided smoothing gives every real image the fixed target 1 - smoothing")
        fixed = [t for t in (0.1, 0.2, 0.05, 0.3, 0.15, 0.25) if t != s and torch.allclose(
            got.float(), NonSaturating(smoothing=t).d_loss(real, fake), **TOL)]
        if fixed:
            raise AssertionError(f"with smoothing {s} it returns the loss for smoothing {fixed[0]}: the smoothing is "
                                 f"written into the code; take it from the argument, target 1 - smoothing")
        message = _smoothing_mistake(fn, real, fake, s, got)
        if message:
            raise AssertionError(f"with smoothing {s} it {message}")
        raise AssertionError(f"with smoothing {s} it returns {got.item():.6f}, expected {expected.item():.6f}: the mean of "
                             f"(1 - s) * softplus(-real) + s * softplus(real), plus the mean of softplus(fake)")
    wide_real, wide_fake = torch.tensor([200.0, -200.0, 30.0, -30.0]), torch.tensor([-200.0, 200.0, -30.0, 30.0])
    big = fn(wide_real.clone(), wide_fake.clone(), 0.1)
    if not torch.isfinite(big):
        raise AssertionError("logits of +-200 give a non-finite loss: compute -log(sigmoid(x)) as softplus(-x) (or "
                             "F.binary_cross_entropy_with_logits), never log(sigmoid(x)) nor log(1 + exp(x)), whose "
                             "exp overflows to inf")
    want = NonSaturating(smoothing=0.1).d_loss(wide_real, wide_fake)
    if not torch.allclose(big.detach().float(), want, **TOL):
        raise AssertionError(
            f"on logits of +-30 and +-200 it returns {big.item():.4g}, expected {want.item():.4g}: there sigmoid(x) "
            f"rounds to exactly 0 or 1, and a log of it, kept finite by an epsilon, a clamp or F.binary_cross_entropy "
            f"(which floors the log at -100), caps the loss; compute -log(sigmoid(x)) as softplus(-x) and "
            f"-log(1 - sigmoid(x)) as softplus(x) (or use F.binary_cross_entropy_with_logits), never log(sigmoid(x))")
    real_g = real.clone().requires_grad_(True)
    out = fn(real_g, fake, 0.1)
    if not (isinstance(out, Tensor) and out.requires_grad):
        raise AssertionError("no gradient reaches the real logits (real_logits.detach(), .item() or torch.no_grad()?): D "
                             "learns from the real images' term through them; keep the loss in torch operations on the logits")
    out.backward()
    if real_g.grad is None or not torch.isfinite(real_g.grad).all():
        raise AssertionError("the loss gives no finite gradient to the real logits: compute it with torch operations")
    fake_g = fake.clone().requires_grad_(True)
    out = fn(real, fake_g, 0.1)
    if isinstance(out, Tensor) and out.requires_grad:
        out.backward()
    if fake_g.grad is None or not bool(fake_g.grad.abs().sum() > 0):
        raise AssertionError("no gradient reaches the fake logits (fake_logits.detach() or torch.no_grad()?): the D step "
                             "detaches G's output, G(z).detach(), before D scores it, but D's own fake logits must stay "
                             "in the graph, or D never learns to reject the fakes")
