# ### BEGIN MARK SCHEME: instructors only (this file names each run's failure). The student bundle's leak check refuses any file holding this marker.
"""Make the runs of a7_diagnose_runs: five short seeded runs, each with one failure of lesson 08.

    python solutions/a7_diagnose_runs/make_runs.py            # rewrite solutions/a7_diagnose_runs/cases/
    python solutions/a7_diagnose_runs/make_runs.py run_b out  # one run, into out/run_b/

Each run trains with `reference.trainer.train` on scikit-learn's digits (offline, no download) on
the CPU with one thread, so it is reproducible bit for bit on one machine (all but the timing
columns). Another CPU's vector kernels round differently: runs c and e then differ by under 0.5%
(tests/test_grading_a7_diagnose_runs.py regenerates them), run_b, whose high learning rate amplifies
rounding, by a few percent; every run shows the same failure. Only what a student gets is kept:
metrics.csv, losses.png and the sample grids (samples/epoch_NNN.png); config.json (it would give
the answer away) and the checkpoints are dropped. The answer key is ANSWERS in
tests/autograders/test_a7_diagnose_runs.py; the settings here are the reason for it:

    run_a  data left in [0, 1] against G's tanh (fault unit-range-data): grey backgrounds
    run_b  a learning rate 15x too high with beta1 0.9 through transposed convolutions: checkerboards
    run_c  a 4-channel G against a 64-channel D: D wins, loss_G climbs
    run_d  the naive log(sigmoid(x)) loss with a strong D: inf, then NaN
    run_e  both learning rates 10x too low (2e-5): nothing learned in 10 epochs, slow, smooth curves

The runs live in `cases/`, not `runs/`: .gitignore and the student bundle (reference/bundle.py)
leave out every folder called runs (training outputs). This file is kept out of the student version
(nbgrader_config.py's CourseDirectory.ignore).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from reference.config import TrainConfig
from reference.trainer import saved_epochs, train

HERE = Path(__file__).resolve().parent
COMMON = dict(dataset="digits", device="cpu", threads=1, progress=False, ngf=32, ndf=32, num_samples=36)
RUNS: dict[str, dict] = {
    "run_a": dict(model="dcgan", fault="unit-range-data", max_images=1024, batch_size=32, epochs=8, save_every=4, seed=22),
    "run_b": dict(model="dcgan", lr=3e-3, beta1=0.9, max_images=512, batch_size=64, epochs=10, save_every=5, seed=18),
    "run_c": dict(model="dcgan", ngf=4, ndf=64, max_images=512, batch_size=64, epochs=10, save_every=5, seed=14),
    "run_d": dict(model="dcgan", loss="log-sigmoid", lr=1e-3, ngf=16, ndf=64, max_images=512, batch_size=32, epochs=4,
                  save_every=1, seed=23),
    "run_e": dict(model="dcgan", lr=2e-5, max_images=512, batch_size=64, epochs=10, save_every=5, seed=17),
}
KEPT = ("metrics.csv", "losses.png")  # and samples/*.png


def config(name: str) -> TrainConfig:
    """The TrainConfig of run `name`."""
    if name not in RUNS:
        raise SystemExit(f"no run {name!r}; the runs are {', '.join(RUNS)}")
    return TrainConfig(**{**COMMON, **RUNS[name]})


def make(name: str, out_root: str | Path) -> Path:
    """Train run `name` and write only what students get to out_root/name/; return that folder."""
    out = Path(out_root) / name
    with tempfile.TemporaryDirectory(prefix=f"a7_{name}_") as tmp:
        run = train(config(name), Path(tmp) / name, progress=False)
        if out.exists():
            shutil.rmtree(out)
        (out / "samples").mkdir(parents=True)
        for file in KEPT:
            shutil.copyfile(run / file, out / file)
        for grid in saved_epochs(run):
            shutil.copyfile(grid, out / "samples" / grid.name)
    return out


def main(argv: list[str]) -> int:
    names = argv[:1] or list(RUNS)
    out_root = Path(argv[1]) if len(argv) > 1 else HERE / "cases"
    for name in names:
        print(make(name, out_root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
