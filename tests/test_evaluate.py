"""Tests for reference/metrics/evaluate.py and the commands built on it: `gan-course fid`,
`gan-course eval RUN_DIR` and `gan-course train --eval-every N`.

One digits classifier (2 epochs, a few seconds) is trained per module into a fresh data root and
one 2-epoch MLP run is trained into it; every test reads them and never modifies them.
"""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_cli import assert_one_line_error, cli, hashes

from reference.checkpoint import load_checkpoint
from reference.cli import main
from reference.config import TrainConfig
from reference.data import load_dataset
from reference.errors import UserError
from reference.metrics.classifier import train_classifier
from reference.metrics.evaluate import compare, load_images, parse_split
from reference.metrics.features import get_extractor
from reference.trainer import METRIC_COLUMNS, metrics_csv, train

EVAL_COLUMNS = ["fid", "kid", "precision", "recall"]
FID_LINE = re.compile(r"^FID: \d+\.\d{4}$")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread: on a 2-core machine shared with other jobs, two OpenMP threads ran slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """A fresh data root holding the digits classifier (2 epochs)."""
    root = tmp_path_factory.mktemp("data")
    train_classifier("digits", root, epochs=2, progress=False)
    return root


@pytest.fixture(scope="module")
def extractor(data_root):
    return get_extractor("classifier", "digits", data_root)


def mlp_config(root: Path, **overrides) -> TrainConfig:
    """The settings of `gan_run`, which `mlp_flags` repeats on the command line."""
    return TrainConfig(model="mlp", dataset="digits", epochs=2, device="cpu", data_dir=str(root), **overrides)


def mlp_flags(root: Path) -> list[str]:
    return ["train", "--model", "mlp", "--dataset", "digits", "--epochs", "2", "--device", "cpu",
            "--data-dir", str(root), "--no-progress"]  # fmt: skip


@pytest.fixture(scope="module")
def gan_run(data_root, tmp_path_factory) -> Path:
    """A finished 2-epoch MLP run on digits without evaluation (read-only: copy it)."""
    return train(mlp_config(data_root), tmp_path_factory.mktemp("gan") / "mlp", progress=False)


@pytest.fixture(scope="module")
def digits_test() -> torch.Tensor:
    return load_dataset("digits", split="test").data


def read_rows(run: Path) -> tuple[list[str], list[dict]]:
    with open(run / "metrics.csv", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def png_width(path: Path) -> int:
    with Image.open(path) as image:
        return image.size[0]


# ---- parse_split -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        ("mnist:test", ("mnist", "test")),
        ("digits:train", ("digits", "train")),
        ("folder:/x:train", ("folder:/x", "train")),
        ("runs/a.pt", None),
        ("mnist", None),
        ("mnist:val", None),
        ("nope:test", None),
    ],
)
def test_parse_split(source, expected):
    assert parse_split(source) == expected, f"parse_split({source!r}) should be {expected!r}"


# ---- load_images -------------------------------------------------------------------------------


def test_load_images_of_a_split_is_the_dataset(digits_test):
    images = load_images("digits:test")
    assert images.dtype == torch.uint8 and images.shape == (360, 1, 28, 28)
    assert torch.equal(images, digits_test), "digits:test should be load_dataset('digits', split='test').data"


def test_load_images_subsample_is_seeded_sorted_and_of_size_n(digits_test):
    a = load_images("digits:test", n=50, seed=3)
    assert a.shape == (50, 1, 28, 28)
    assert torch.equal(a, load_images("digits:test", n=50, seed=3)), "the same seed should choose the same images"
    assert not torch.equal(a, load_images("digits:test", n=50, seed=4)), "another seed should choose other images"
    # Each chosen image is a row of the full split, in increasing row order (a sorted choice).
    flat, full = a.flatten(1), digits_test.flatten(1)
    previous = -1
    for k, row in enumerate(flat):
        matches = [int(i) for i in (full == row).all(1).nonzero().flatten() if i > previous]
        assert matches, f"image {k} of the subsample is not a later row of digits:test: the choice is not sorted"
        previous = matches[0]
    assert torch.equal(load_images("digits:test", n=1000), digits_test), "n above the split's size keeps it all"


def test_load_images_of_a_folder(image_folder):
    images = load_images(str(image_folder.root))
    expected = load_dataset(f"folder:{image_folder.root}").data
    assert images.shape == (5, 3, 64, 64) and torch.equal(images, expected)


def test_load_images_of_points_is_a_user_error():
    with pytest.raises(UserError, match="points, not images"):
        load_images("ring:test")


def _npz(tmp_path: Path, *args, **arrays) -> Path:
    path = tmp_path / "images.npz"
    np.savez(path, *args, **arrays)
    return path


def test_npz_grey_uint8_nhw(tmp_path, digits_test):
    grey = digits_test[:20, 0].numpy()  # (20, 28, 28) uint8
    images = load_images(str(_npz(tmp_path, images=grey, labels=np.arange(20))))
    assert images.dtype == torch.uint8 and images.shape == (20, 1, 28, 28)
    assert torch.equal(images, digits_test[:20])


def test_npz_float_nhwc_becomes_nchw(tmp_path):
    rgb = np.random.default_rng(0).random((6, 16, 12, 3), dtype=np.float32)
    images = load_images(str(_npz(tmp_path, x=rgb, y=np.zeros(6))))
    assert images.dtype == torch.float32 and images.shape == (6, 3, 16, 12)
    assert torch.equal(images, torch.from_numpy(rgb).permute(0, 3, 1, 2))


def test_npz_nchw_single_unnamed_array(tmp_path):
    nchw = np.random.default_rng(1).integers(0, 256, (6, 3, 16, 16), dtype=np.uint8)
    images = load_images(str(_npz(tmp_path, nchw)))  # saved as arr_0
    assert images.dtype == torch.uint8 and torch.equal(images, torch.from_numpy(nchw))
    assert load_images(str(_npz(tmp_path, nchw)), n=4).shape == (4, 3, 16, 16), "n applies to .npz images too"


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"images": np.zeros((6, 5, 16, 16), np.uint8)}, ["(6, 5, 16, 16)", "(N, H, W)"]),
        ({"images": np.zeros((6, 16, 16, 4), np.uint8)}, ["(6, 16, 16, 4)"]),
        ({"images": np.zeros((6, 16), np.uint8)}, ["(6, 16)"]),
        ({"images": np.zeros((2, 6, 1, 16, 16), np.uint8)}, ["(2, 6, 1, 16, 16)"]),
        ({"arr_0": np.zeros((6, 16, 16), np.uint8), "arr_1": np.zeros(6)}, ["arr_0", "arr_1", "'images'"]),
        ({"a": np.zeros((6, 16, 16), np.uint8), "b": np.zeros((6, 16, 16), np.uint8)}, ["'images'"]),
    ],
    ids=["5-channels", "4-channels-last", "2-d", "5-d", "two-unnamed", "two-named"],
)
def test_bad_npz_is_a_one_line_user_error(tmp_path, arrays, words):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(UserError) as err:
        load_images(str(path))
    message = str(err.value)
    assert "\n" not in message, f"the error should be one line: {message!r}"
    for word in words:
        assert word in message, f"the error should name {word!r}: {message!r}"


def test_missing_or_corrupt_npz_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_images(str(tmp_path / "absent.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not an archive")
    with pytest.raises(UserError, match="cannot read"):
        load_images(str(tmp_path / "junk.npz"))


def test_checkpoint_draws_n_seeded_samples_without_touching_the_global_rng(gan_run):
    checkpoint = str(gan_run / "checkpoints" / "last.pt")
    before = torch.get_rng_state()
    a = load_images(checkpoint, n=30, seed=5)
    assert torch.equal(torch.get_rng_state(), before), "sampling a checkpoint changed the global torch RNG state"
    assert a.shape == (30, 1, 28, 28) and a.is_floating_point()
    assert 0 <= float(a.min()) and float(a.max()) <= 1, "samples should be images in [0, 1]"
    assert torch.equal(a, load_images(checkpoint, n=30, seed=5)), "the same seed should draw the same samples"
    assert not torch.equal(a, load_images(checkpoint, n=30, seed=6)), "another seed should draw other samples"
    assert torch.equal(a, load_images(str(gan_run), n=30, seed=5)), "a run folder should sample its checkpoints/last.pt"
    with pytest.raises(UserError, match="--n"):
        load_images(checkpoint)


def test_a_checkpoint_whose_generator_diverged_is_named_not_sampled(gan_run, tmp_path):
    """A run that diverged keeps writing checkpoints; sampling one would give blank images with no word why."""
    state = torch.load(gan_run / "checkpoints" / "last.pt", weights_only=False)
    key = next(k for k, t in state["generator"].items() if t.is_floating_point())
    state["generator"][key] = torch.full_like(state["generator"][key], float("nan"))
    torch.save(state, tmp_path / "diverged.pt")
    with pytest.raises(UserError) as err:
        load_images(str(tmp_path / "diverged.pt"), n=4)
    message = str(err.value)
    assert "\n" not in message and "not finite" in message and key in message and "earlier checkpoint" in message, message


def test_unknown_source_names_the_kinds(tmp_path):
    with pytest.raises(UserError) as err:
        load_images(str(tmp_path / "nothing-here"))
    message = str(err.value)
    for kind in ("dataset split", "folder", ".npz", "checkpoint"):
        assert kind in message, f"the error should name the source kind {kind!r}: {message!r}"


# ---- compare -----------------------------------------------------------------------------------


def test_compare_of_a_set_with_itself(extractor, digits_test):
    scores = compare(digits_test, digits_test, extractor)
    assert abs(scores["fid"]) < 1e-2, f"FID of a set with itself should be ~0, got {scores['fid']}"
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0, scores
    assert scores["kid"] < 1e-2, scores  # the unbiased estimate is slightly negative for one set twice
    assert 1 < scores["classifier_score"] <= 10 and 8 <= scores["classes_covered"] <= 10, scores


def test_compare_with_real_features_equals_passing_real_images(extractor, digits_test):
    fake = load_images("digits:train", n=300, seed=1)
    direct = compare(digits_test, fake, extractor)
    reused = compare(None, fake, extractor, real_features=extractor.features(digits_test))
    assert direct == pytest.approx(reused, rel=1e-6, abs=1e-9)
    assert set(direct) == {"fid", "kid", "kid_std", "precision", "recall", "classifier_score", "classes_covered"}
    assert direct["fid"] > 0.01, "train and test images are different sets: FID should not be 0"


# ---- gan-course fid ------------------------------------------------------------------------------


def test_cli_fid_of_two_splits(capfd, data_root):
    code, out, err = cli(capfd, "fid", "digits:test", "digits:train", "--data-dir", data_root, "--device", "cpu")
    assert code == 0, err
    lines = out.splitlines()
    prefixes = ["A: digits:test (360 images), the reference", "B: digits:train (1437 images), judged against A",
                "Features: classifier:digits (128-d)", "KID: ", "Precision of B: ", "Recall of B: ",
                "Classifier score (IS-style) of B: ", "Classes covered by B: ", "FID: "]  # fmt: skip
    assert len(lines) == len(prefixes), out
    for line, prefix in zip(lines, prefixes):
        assert line.startswith(prefix), f"expected a line starting {prefix!r}, got {line!r}"
    assert FID_LINE.match(lines[-1]), f"the last line should be 'FID: N.NNNN', got {lines[-1]!r}"


def fid_scores(capfd, data_root, gan_run, order: str) -> dict:
    """`gan-course fid` of the run's checkpoint (or its folder) and digits:test, in `order`, checked line by
    line; returns {name: value} of the lines after the two headers."""
    checkpoint = str(gan_run if order == "run-folder" else gan_run / "checkpoints" / "last.pt")
    a, b = (checkpoint, "digits:test") if order == "checkpoint-first" else ("digits:test", checkpoint)
    code, out, err = cli(capfd, "fid", a, b, "--data-dir", data_root, "--device", "cpu")
    assert code == 0, err
    lines = out.splitlines()
    judged = "A" if order == "checkpoint-first" else "B"
    assert lines[0] == f"A: {a} (360 images), " + ("judged against B" if judged == "A" else "the reference"), out
    assert lines[1] == f"B: {b} (360 images), " + ("the reference" if judged == "A" else "judged against A"), out
    assert FID_LINE.match(lines[-1]), out
    scores = {line.split(":")[0]: line.split(": ")[1] for line in lines[2:]}
    if order != "run-folder":  # the samples are judged whichever place the checkpoint was given in
        assert f"Classes covered by {judged}" in scores and f"Precision of {judged}" in scores, out
    return scores


@pytest.mark.parametrize("order", ["checkpoint-second", "checkpoint-first", "run-folder"])
def test_cli_fid_checkpoint_draws_as_many_as_the_other_source(capfd, data_root, gan_run, order):
    fid_scores(capfd, data_root, gan_run, order)


def test_cli_fid_judges_a_generators_samples_whichever_place_its_checkpoint_has(capfd, data_root, gan_run):
    """Precision, recall, the classifier's score and its class coverage judge one set against the other: with the
    checkpoint first they were the real images' (a 2-epoch run read as covering 10 classes with a score of 9.4)."""
    checkpoint = str(gan_run / "checkpoints" / "last.pt")
    first = fid_scores(capfd, data_root, gan_run, "checkpoint-first")
    second = fid_scores(capfd, data_root, gan_run, "checkpoint-second")
    for name in ("Precision", "Recall", "Classifier score (IS-style)"):
        assert first[f"{name} of A"] == second[f"{name} of B"], (name, first, second)
    assert first["Classes covered by A"] == second["Classes covered by B"]
    assert (first["FID"], first["KID"]) == (second["FID"], second["KID"])  # each source sampled with its role's seed
    code, out, err = cli(capfd, "fid", "digits:test", "digits:test", "--data-dir", data_root, "--device", "cpu")
    assert code == 0 and checkpoint not in out and "Classes covered by B: 10" in out, err


@pytest.mark.filterwarnings("ignore::reference.metrics.fid.SmallSampleWarning")  # 8 images: what the bar needs
def test_cli_fid_no_progress_hides_the_decoding_bar_of_a_folder(capfd, data_root, tmp_path):
    folder = tmp_path / "digits-as-files"
    folder.mkdir()
    for k, image in enumerate(load_dataset("digits", data_root, split="test").data[:8]):
        Image.fromarray(image[0].numpy()).save(folder / f"{k}.png")
    args = ["fid", folder, "digits:test", "--classifier", "digits", "--data-dir", data_root, "--device", "cpu"]
    code, out, err = cli(capfd, *args, "--no-progress")
    assert code == 0 and out.startswith(f"A: {folder} (8 images)"), err
    assert "decoding" not in err, f"--no-progress showed the decoding bar: {err!r}"
    code, _, err = cli(capfd, *args)
    assert code == 0 and "decoding" in err, "without --no-progress the decoding bar should show (else the test above proves nothing)"


def test_cli_fid_of_folder_and_npz_asks_for_classifier(capfd, image_folder, tmp_path, data_root):
    npz = _npz(tmp_path, images=np.zeros((4, 3, 32, 32), np.uint8))
    code, _, err = cli(capfd, "fid", image_folder.root, npz, "--data-dir", data_root)
    assert_one_line_error(code, err, "--classifier")


def test_cli_fid_without_a_trained_classifier_says_how_to_train_it(capfd, tmp_path):
    code, _, err = cli(capfd, "fid", "digits:test", "digits:train", "--data-dir", tmp_path)
    assert_one_line_error(code, err, "gan-course train-classifier --dataset digits")


def test_cli_fid_with_missing_inception_weights_is_one_line(capfd, tmp_path):
    weights = tmp_path / "absent.pth"
    code, _, err = cli(capfd, "fid", "digits:test", "digits:train", "--features", "inception", "--inception-weights", weights)
    assert_one_line_error(code, err, str(weights), "--inception-weights")


def test_cli_fid_with_n_1_is_refused(capfd, data_root):
    code, _, err = cli(capfd, "fid", "digits:test", "digits:train", "--n", "1", "--data-dir", data_root)
    assert_one_line_error(code, err, "--n", "1")


# ---- gan-course eval -----------------------------------------------------------------------------


def test_cli_eval_of_an_image_run(capfd, gan_run):
    # No --data-dir: the run's own data root holds the test split and the classifier.
    code, out, err = cli(capfd, "eval", gan_run, "--device", "cpu")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Run: epoch 2 of mlp on digits; 360 samples vs 360 test images", out
    assert lines[1] == "Features: classifier:digits (128-d)", out
    assert FID_LINE.match(lines[-1]), out
    code, out, err = cli(capfd, "eval", gan_run / "checkpoints" / "last.pt", "--n", "200", "--device", "cpu")
    assert code == 0 and out.startswith("Run: epoch 2 of mlp on digits; 200 samples vs 200 test images\n"), err + out


def test_ring_run_evaluates_mode_coverage(capfd, tmp_path, monkeypatch):
    # The ring's 100,000 training points take mlp2d 8 s an epoch on one CPU thread: train on 4,096.
    import reference.trainer

    def small_ring(*args, **kwargs):
        ds = load_dataset(*args, **kwargs)
        return replace(ds, data=ds.data[:4096], labels=ds.labels[:4096])

    monkeypatch.setattr(reference.trainer, "load_dataset", small_ring)
    cfg = TrainConfig(model="mlp2d", dataset="ring", epochs=1, batch_size=512, device="cpu", eval_every=1, eval_samples=500)
    run = train(cfg, tmp_path / "ring", progress=False)
    columns, rows = read_rows(run)
    assert columns == [*METRIC_COLUMNS, "modes_covered", "high_quality"], f"metrics.csv columns: {columns}"
    assert 0 <= int(rows[0]["modes_covered"]) <= 8 and 0 <= float(rows[0]["high_quality"]) <= 1, rows

    code, out, err = cli(capfd, "eval", run, "--n", "1000")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Samples: 1000 from epoch 1 of mlp2d on ring", out
    assert re.fullmatch(r"Modes covered: [0-8] of 8", lines[1]), out
    assert re.fullmatch(r"High-quality samples: \d+\.\d%", lines[2]), out
    assert re.fullmatch(r"Reverse KL: (\d+\.\d{4}|inf)", lines[3]), out
    assert len(lines) == 4, out


# ---- gan-course train --eval-every ---------------------------------------------------------------


@pytest.fixture(scope="module")
def eval_run(data_root, tmp_path_factory) -> Path:
    """`gan_run` again, evaluating after every epoch (read-only: copy it)."""
    run = tmp_path_factory.mktemp("eval") / "mlp-eval"
    code = main([*mlp_flags(data_root), "--eval-every", "1", "--eval-samples", "200", "--out", str(run)])
    assert code == 0
    return run


def test_train_eval_every_1_adds_scores_to_every_row(eval_run):
    columns, rows = read_rows(eval_run)
    assert columns == [*METRIC_COLUMNS, *EVAL_COLUMNS], f"metrics.csv columns: {columns}"
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    for row in rows:
        for key in EVAL_COLUMNS:
            assert row[key] != "", f"epoch {row['epoch']} has no {key}"
            float(row[key])
    assert 0 <= float(rows[-1]["precision"]) <= 1 and float(rows[-1]["fid"]) > 0


def test_evaluation_does_not_change_training(eval_run, gan_run):
    with_eval = load_checkpoint(eval_run)["generator"]
    without = load_checkpoint(gan_run)["generator"]
    for name, weight in without.items():
        assert torch.equal(with_eval[name], weight), f"evaluating changed the trained generator ({name} differs)"


def test_evaluating_run_plots_a_third_panel(eval_run, gan_run):
    wide, plain = png_width(eval_run / "losses.png"), png_width(gan_run / "losses.png")
    assert wide > plain, f"losses.png with evaluation is {wide} px wide, without {plain}: the FID panel is missing"


def test_metrics_csv_adds_every_extra_column_seen_in_any_row():
    base = dict.fromkeys(METRIC_COLUMNS, 1)
    text = metrics_csv([base, {**base, "fid": 2.5, "kid": 0.1}, base])
    header, *rows = text.splitlines()
    assert header.split(",") == [*METRIC_COLUMNS, "fid", "kid"]
    assert [row.split(",")[-2:] for row in rows] == [["", ""], ["2.5", "0.1"], ["", ""]]


def test_train_eval_every_2_leaves_unevaluated_rows_empty(capfd, data_root, tmp_path):
    run = tmp_path / "run"
    flags = [*mlp_flags(data_root), "--epochs", "3", "--eval-every", "2", "--eval-samples", "200"]
    code, _, err = cli(capfd, *flags, "--out", run)
    assert code == 0, err
    columns, rows = read_rows(run)
    assert columns[-4:] == EVAL_COLUMNS
    assert [row["fid"] != "" for row in rows] == [False, True, True], "epochs 2 (every 2) and 3 (the last) are scored"
    assert all(row[key] == "" for key in EVAL_COLUMNS for row in rows[:1])


def test_train_eval_without_classifier_fails_before_training(capfd, tmp_path, eval_run):
    out = tmp_path / "run"
    code, _, err = cli(capfd, *mlp_flags(tmp_path / "empty"), "--eval-every", "1", "--out", out)
    assert_one_line_error(code, err, "gan-course train-classifier --dataset digits")
    assert not out.exists(), "the run failed but left a folder behind"
    # Resuming an evaluating run where its classifier is missing fails before touching its files.
    run = Path(shutil.copytree(eval_run, tmp_path / "copy"))
    before = hashes(run)
    code, _, err = cli(capfd, "train", "--resume", run, "--epochs", "3", "--data-dir", tmp_path / "empty", "--no-progress")
    assert_one_line_error(code, err, "train-classifier")
    assert hashes(run) == before, "the failed resume changed files in the run folder"


def test_train_eval_every_negative_is_refused(capfd, tmp_path):
    code, _, err = cli(capfd, *mlp_flags(tmp_path), "--eval-every", "-1", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "--eval-every", "-1")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", ["empty", "npy", "damaged-zip"])
def test_an_empty_npy_or_damaged_npz_is_a_one_line_user_error(tmp_path, content):
    """An empty file (np.load: EOFError), a .npy array saved under an .npz name, and a zip cut short
    were tracebacks, not the one line that names the file and the fix."""
    path = tmp_path / "images.npz"
    if content == "empty":
        path.write_bytes(b"")
    elif content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros((4, 8, 8), np.uint8))
    else:
        np.savez(path, images=np.zeros((4, 8, 8), np.uint8))
        path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(UserError) as err:
        load_images(str(path))
    message = str(err.value)
    assert "\n" not in message and f"cannot read {path} as .npz" in message and "numpy.savez" in message, message


@pytest.mark.parametrize("array, words", [
    (np.random.default_rng(0).integers(0, 256, (30, 28, 28)), None),  # numpy's default int64: pixel values
    (np.full((30, 28, 28), 300), ["whole-number images must lie in [0, 255]", "[300, 300]"]),
    (np.full((30, 28, 28), 5.0), ["float images must lie in [0, 1]", "uint8"]),
    (np.full((30, 28, 28), np.nan, np.float32), ["images.npz holds NaN or infinite"]),
    (np.zeros((0, 28, 28), np.uint8), ["holds no images"]),
    (np.zeros((30, 28, 28), bool), ["true/false"]),
    (np.zeros((1, 28, 28), np.uint8), ["source A", "1 image(s)", "at least 4"]),
    (np.zeros((3, 28, 28), np.uint8), ["source A", "3 image(s)", "at least 4"]),  # was "k must be between 1 and N - 1"
])
@pytest.mark.filterwarnings("ignore::reference.metrics.fid.SmallSampleWarning")  # 30 images: the sizes the cases need
def test_cli_fid_of_odd_npz_arrays(capfd, tmp_path, data_root, array, words):
    """int64 pixels were refused as 'float images must lie in [0, 1]'; NaN, an empty or a one-image array
    ended in messages about 'features' and 'statistics', naming neither the file nor the fix."""
    npz = _npz(tmp_path, images=array)
    code, out, err = cli(capfd, "fid", npz, "digits:test", "--data-dir", data_root, "--device", "cpu")
    if words is None:
        assert code == 0 and "A: " in out and "(30 images)" in out, err
    else:
        assert_one_line_error(code, err, *words)


def test_eval_every_on_a_folder_of_three_images_is_refused_before_training(capfd, tmp_path, monkeypatch):
    """Three images (two classes: a classifier trains on them) passed every check, trained the first epoch
    and ended in 'k must be between 1 and N - 1', with config.json alone in the run folder."""
    import reference.metrics.features as features
    from conftest import solid, write_image

    folder = tmp_path / "photos"
    for name, rgb in (("cat/a.png", (200, 0, 0)), ("cat/b.png", (190, 0, 0)), ("dog/c.png", (0, 0, 200))):
        write_image(folder / name, solid(rgb))
    monkeypatch.setattr(features, "get_extractor", lambda *a, **k: object())  # the classifier (never used): cached, say
    run = tmp_path / "run"
    code, _, err = cli(capfd, "train", "--model", "mlp", "--dataset", f"folder:{folder}", "--image-size", "28",
                       "--batch-size", "1", "--epochs", "1", "--eval-every", "1", "--device", "cpu", "--no-progress",
                       "--out", run)
    assert_one_line_error(code, err, f"the train split of folder:{folder}, which holds 3 image(s)", "at least 4",
                          "drop --eval-every")
    assert not run.exists()
