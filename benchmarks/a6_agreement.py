"""The class agreement of a6's learning check, for the graded variants of its tests: the calibration
behind AGREE, AGREE_SLOW and LEARN_STEPS in tests/autograders/test_a6_conditional_gan.py.

For the solution and every correct and wrong submission of tests/test_grading_a6_conditional_gan.py that
is graded with the learning check, it builds the notebook as that test does, runs its cells in this
process, and runs the check's own `learning_run` on each seed (every seed, not only until the verdict is
decided): the best share of G(z, y) the grader's digit classifier reads as y, the best classifier-FID
against the check's target (`learning.TARGET` of the floor) and the share of samples with a twin of their label at
the run's last checkpoint (`learning.twin_share`, at most `learning.TWIN_SHARE`) and the spread of its narrowest
label against real digits' (at least the check's LABEL_SPREAD), then the check's verdict for those runs; and the
same two numbers for G untrained (step 0), which the check requires to be below AGREE_SLOW and above the target.
Runs that pass stop at the first checkpoint where they pass, as in grading.

    GAN_COURSE_THREADS=1 python benchmarks/a6_agreement.py                  # every variant, seeds 0 and 1
    GAN_COURSE_THREADS=1 python benchmarks/a6_agreement.py --seeds 0 1 2 --only solution generator_ignores_y

About 10 s a run on one idle core (up to LEARN_STEPS steps); a few minutes in all on 2 busy cores. The last
line of output is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def variants(tests) -> list[str]:
    """The solution, then the correct and wrong submissions the tests grade with the learning check."""
    return ["solution", *tests.CORRECT, *(name for name, spec in tests.WRONG.items() if spec["learning"])]


def measure(tests, name: str, seeds: list[int], folder: Path) -> dict:
    """{"runs": [{"seed", "agreement", "fid", "target"}], "verdict", "seconds"} of variant `name`."""
    from conftest import notebook_with_cells
    from reference.grading.learning import TARGET
    from reference.grading.local import grade_in_process

    checks = tests.checks
    runs: list[dict] = []
    original, decided, seeds_then = checks.learning_run, checks.decided, checks.LEARN_SEEDS

    def recorded(submission, seed):  # the check's own run, recorded
        run = original(submission, seed)
        runs.append(run)
        return run

    (folder / name).mkdir()
    path = tests.SOLUTION if name == "solution" else notebook_with_cells(tests.SOLUTION, folder / name, tests.cells_of(name))
    start = time.perf_counter()
    checks.learning_run, checks.LEARN_SEEDS = recorded, tuple(seeds)
    checks.decided = lambda made, seeds=None: False  # every seed is run
    try:
        with warnings.catch_warnings(), open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")  # the cells' own prints and warnings are not the measurement
            grade_in_process(path, tests.A, ROOT, only=[tests.LEARNS])
    finally:
        checks.learning_run, checks.decided, checks.LEARN_SEEDS = original, decided, seeds_then
    verdict = checks.learning_verdict(runs, len(seeds))[0] if runs else "not run"
    return {
        "runs": [{"seed": r["seed"], "agreement": round(r["best_agreement"], 3), "fid": round(r["best_fid"], 1),
                  "target": round(TARGET * r["floor"], 1), "untrained_agreement": round(r["agreement"][0][1], 3),
                  "untrained_fid": round(r["fids"][0][1], 1), "twins": round(r["twins"][-1][1], 3),
                  "narrowest_label": round(r["narrow"][-1][1], 3)} for r in runs],
        "verdict": verdict, "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds of the runs (default: 0 1)")
    parser.add_argument("--only", nargs="+", help="these variants only (names of the tests' CORRECT and WRONG)")
    args = parser.parse_args()
    import tempfile

    import test_grading_a6_conditional_gan as tests

    names = variants(tests)
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        print(f"error: no graded learning variant {', '.join(unknown)}; the variants: {', '.join(names)}", file=sys.stderr)
        return 2
    names = [n for n in names if not args.only or n in args.only]
    print(f"a6 learning check: {tests.checks.LEARN_STEPS} steps, AGREE {tests.checks.AGREE}, AGREE_SLOW {tests.checks.AGREE_SLOW}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            found = results[name] = measure(tests, name, args.seeds, Path(tmp))
            runs = ", ".join(f"{r['agreement']:.0%} (FID {r['fid']:.0f}/{r['target']:.0f}, twins {r['twins']:.0%}, narrowest label "
                             f"{r['narrowest_label']:.2f}; untrained {r['untrained_agreement']:.0%}, FID {r['untrained_fid']:.0f})"
                             for r in found["runs"])
            print(f"{name:60s} {found['verdict']:8s} {runs}  [{found['seconds']:.0f} s]", flush=True)
    print(json.dumps({"steps": tests.checks.LEARN_STEPS, "seeds": args.seeds, "variants": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
