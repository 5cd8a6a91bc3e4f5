"""Tests for reference/metrics/classifier.py and features.py: the networks that turn images into
the feature and logit tensors the metrics take.

The digits classifier is trained once for the module (a few seconds on idle cores; its time is
printed, not asserted: a busy machine is slower, not wrong).
The Inception network runs with random weights, built without reading or downloading a file:
the tests check its plumbing (shapes, batching, inputs, the weights-file path and the offline
message); numbers from the real weights are the user's. MNIST's 99% is checked by
benchmarks/classifier_accuracy.py on the real copy, not here.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from urllib.error import URLError

import pytest
import torch

import reference.metrics.classifier as classifier_module
from reference.cache import cache_dir
from reference.cli import main
from reference.data import load_dataset
from reference.errors import UserError
from reference.metrics import MetricError, class_coverage, fid, inception_score
from reference.metrics.classifier import (
    FORMAT,
    Classifier,
    classifier_path,
    dataset_key,
    default_epochs,
    find_classifier,
    load_classifier,
    load_classifier_state,
    root_key,
    train_classifier,
)
from reference.metrics.features import (
    INCEPTION_FILES,
    ClassifierExtractor,
    FeatureExtractor,
    InceptionExtractor,
    get_extractor,
    inception_weights_path,
)
from reference.scratch import scratch_root


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Run this module on one thread: on a 2-core machine shared with other jobs, two OpenMP
    threads that wait for each other at every layer ran 4-5 times slower than one, while one
    thread alone costs at most a factor of 2 when the machine is idle."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The digits classifier trained once into a fresh data root: root, model, accuracy, seconds."""
    root = tmp_path_factory.mktemp("data")
    start = time.perf_counter()
    model, accuracy = train_classifier("digits", root, progress=False)
    seconds = time.perf_counter() - start
    print(f"\ndigits classifier: {100 * accuracy:.2f}% test accuracy in {seconds:.1f} s")
    return {"root": root, "model": model, "accuracy": accuracy, "seconds": seconds}


@pytest.fixture(scope="module")
def digits_test_images() -> torch.Tensor:
    """The 360 digits test images, uint8 (360, 1, 28, 28)."""
    return load_dataset("digits", split="test").data


@pytest.fixture(scope="module")
def digits_extractor(digits_run) -> ClassifierExtractor:
    return get_extractor("classifier", "digits", digits_run["root"])


# ---------------------------------------------------------------------------------------------
# The classifier
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels, size, params", [(1, 28, 241_770), (3, 32, 357_034)])
def test_classifier_shapes_and_parameter_count(channels: int, size: int, params: int) -> None:
    model = Classifier(channels, size, 10).eval()
    count = sum(p.numel() for p in model.parameters())
    assert count == params, f"Classifier({channels}, {size}, 10) has {count} parameters, expected {params}"
    x = torch.rand(4, channels, size, size) * 2 - 1
    assert model.features(x).shape == (4, 128), "features() should return the 128-d penultimate layer"
    assert model(x).shape == (4, 10), "forward() should return logits (N, num_classes)"


def test_digits_classifier_trains_accurately(digits_run) -> None:
    seconds, accuracy = digits_run["seconds"], digits_run["accuracy"]
    print(f"digits classifier: {100 * accuracy:.2f}% in {seconds:.1f} s")
    assert accuracy >= 0.9, f"digits classifier reached {accuracy:.3f} test accuracy, expected >= 0.9"


def test_trained_classifier_is_cached_with_its_record(digits_run, digits_test_images) -> None:
    path = classifier_path("digits", digits_run["root"])
    assert path == cache_dir() / "classifiers" / root_key(digits_run["root"]) / "digits.pt" and path.is_file()
    assert not (digits_run["root"] / "classifiers").exists(), "nothing is cached in the data root"
    state = load_classifier_state("digits", digits_run["root"])
    assert state["format"] == FORMAT
    assert state["family"] == "grey28" and state["num_classes"] == 10 and state["classes"] == [str(k) for k in range(10)]
    assert state["test_accuracy"] == digits_run["accuracy"]
    assert (state["dataset"], state["epochs"], state["seed"]) == ("digits", default_epochs("digits"), 0)
    assert state["data_root"] == str(digits_run["root"].resolve())
    assert not list(path.parent.glob(".*.tmp*")), "the atomic save left a temporary file behind"

    loaded = load_classifier("digits", digits_run["root"])
    x = digits_test_images[:50].float().mul(2 / 255).sub(1)
    with torch.inference_mode():  # the trained model is channels_last, the loaded one is not: rounding differs
        torch.testing.assert_close(loaded(x), digits_run["model"].cpu()(x), rtol=1e-4, atol=1e-4)


def test_missing_classifier_says_how_to_train_it(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        get_extractor("classifier", "mnist", tmp_path)
    expected = (
        f"no classifier for 'mnist' from the data root {tmp_path} in {classifier_path('mnist', tmp_path).parent}; "
        f"run: gan-course train-classifier --dataset mnist --data-dir {tmp_path}"
    )
    assert str(err.value) == expected


@pytest.mark.parametrize("classes, words", [
    ([], ["is a flat folder", "put them in one sub-folder per class, then run: gan-course train-classifier"]),
    (["cat"], ["holds one class folder", "add another, then run: gan-course train-classifier"]),
])
def test_missing_classifier_of_a_folder_it_cannot_train_on_says_what_to_change(tmp_path: Path, classes, words) -> None:
    """The advice was 'run: gan-course train-classifier --dataset folder:PATH', which refuses a flat or
    one-class folder: a dead end for 'gan-course eval' of a run on one, and for its --eval-every."""
    from conftest import solid, write_image

    folder = tmp_path / "photos"
    for name in ("a.png", "b.png"):
        write_image(folder.joinpath(*classes, name), solid((10, 20, 30)))
    with pytest.raises(UserError) as err:
        get_extractor("classifier", f"folder:{folder}", tmp_path)
    message = str(err.value)
    assert message.startswith(f"no classifier for 'folder:{folder}'") and "\n" not in message, message
    for word in words:
        assert word in message, message
    with pytest.raises(UserError, match="sub-folder per class" if not classes else "at least 2 classes"):
        train_classifier(f"folder:{folder}", tmp_path, epochs=1, progress=False)  # what the old advice ran


def test_unreadable_or_foreign_classifier_file_is_a_user_error(tmp_path: Path) -> None:
    path = classifier_path("digits", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="unreadable.*train-classifier --dataset digits"):
        load_classifier("digits", tmp_path)
    torch.save({"format": "something-else"}, path)
    with pytest.raises(UserError, match="not a gan-course-classifier/1 file.*train-classifier"):
        load_classifier("digits", tmp_path)


def test_unlabelled_folder_cannot_train_a_classifier(flat_image_folder, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="flat folder.*no labels.*one sub-folder per class"):
        train_classifier(f"folder:{flat_image_folder.root}", tmp_path, progress=False)


def test_points_datasets_need_no_classifier(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="'ring' is 2-D points"):
        train_classifier("ring", tmp_path, progress=False)


def test_folder_classifier_holds_out_a_test_split_and_is_keyed_by_path(image_folder, tmp_path: Path) -> None:
    dataset = f"folder:{image_folder.root}"
    model, accuracy = train_classifier(dataset, tmp_path, epochs=2, progress=False)
    key = dataset_key(dataset)
    assert key.startswith("folder-pets-") and len(key) == len("folder-pets-") + 8
    state = load_classifier_state(dataset, tmp_path)
    assert state["family"] == "colour32" and state["classes"] == ["cat", "dog"]
    assert accuracy in (0.0, 1.0), "5 images hold out 1 (10%, at least one), so accuracy is 0 or 1"
    ext = get_extractor("classifier", dataset, tmp_path)
    assert ext.features(torch.zeros(2, 3, 64, 64, dtype=torch.uint8)).shape == (2, 128)


@pytest.mark.parametrize(
    "dataset, fixture, family, n_classes",
    [("fashion-mnist", "tiny_fashion_root", "grey28", 10), ("cifar10", "tiny_cifar_root", "colour32", 10)],
)
def test_torchvision_datasets_train_their_family(
    dataset: str, fixture: str, family: str, n_classes: int, request, tmp_path: Path
) -> None:
    root = shutil.copytree(request.getfixturevalue(fixture), tmp_path / "data")  # session files stay untouched
    model, accuracy = train_classifier(dataset, root, epochs=1, progress=False)
    state = load_classifier_state(dataset, root)
    assert (state["family"], state["num_classes"], state["test_accuracy"]) == (family, n_classes, accuracy)
    channels = 1 if family == "grey28" else 3
    assert (model.in_channels, model.image_size) == (channels, 28 if family == "grey28" else 32)


def test_max_images_trains_on_the_first_n_training_images_only(tmp_path: Path, monkeypatch) -> None:
    import reference.metrics.classifier as classifier

    seen = []  # the training batches, as they enter the augmentation (test images do not)
    augment = classifier._augment
    monkeypatch.setattr(classifier, "_augment", lambda x, *a, **k: seen.append(x.clone()) or augment(x, *a, **k))
    train_classifier("digits", tmp_path, epochs=2, max_images=100, batch_size=32, progress=False)
    images = classifier._to_input(load_dataset("digits", split="train").data[:100])
    first = {image.numpy().tobytes() for image in images}
    seen = torch.cat(seen)
    assert len(seen) == 2 * 100, "two epochs over 100 images"
    assert all(image.numpy().tobytes() in first for image in seen), "only the first 100 training images"
    assert len({image.numpy().tobytes() for image in seen}) == len(first)
    state = load_classifier_state("digits", tmp_path)
    assert state["train_images"] == 100 and state["epochs"] == 2
    with pytest.raises(UserError, match="--max-images must be a whole number >= 1, got 0"):
        train_classifier("digits", tmp_path, max_images=0, progress=False)


def test_cli_train_classifier_prints_accuracy_and_path(tmp_path: Path, capfd) -> None:
    code = main(["train-classifier", "--dataset", "digits", "--epochs", "1", "--data-dir", str(tmp_path),
                 "--device", "cpu", "--no-progress", "--max-images", "300"])  # fmt: skip
    out, err = capfd.readouterr()
    path = Path(os.environ["GAN_COURSE_CACHE"]) / "classifiers" / root_key(tmp_path) / "digits.pt"
    assert code == 0, err
    first, note = out.rstrip().splitlines()
    assert first.startswith("Test accuracy: ") and first.endswith(f"% (saved to {path})"), out
    assert note.startswith("Note: `gan-course fid` and `eval` on digits from this data root now use this classifier of at most 300 "), out
    assert load_classifier_state("digits", tmp_path)["train_images"] == 300
    assert list(tmp_path.iterdir()) == [], "the data root is left as it was"


def test_scores_from_a_classifier_of_a_few_images_say_so(tmp_path: Path, capfd) -> None:
    """A classifier trained with --max-images replaces the cached one of all the images: every FID
    printed with it names how many images it learnt from; one trained on them all adds no note."""
    fid = ["fid", "digits:test", "digits:train", "--data-dir", str(tmp_path), "--device", "cpu", "--n", "200", "--no-progress"]
    notes = {}
    for max_images in ("120", None):
        extra = ["--max-images", max_images] if max_images else []
        assert main(["train-classifier", "--dataset", "digits", "--epochs", "1", "--data-dir", str(tmp_path), "--device", "cpu",
                     "--no-progress", *extra]) == 0  # fmt: skip
        capfd.readouterr()
        code = main(fid)
        out, err = capfd.readouterr()
        assert code == 0, err
        notes[max_images] = [line for line in out.splitlines() if line.startswith("Note:")]
    (note,) = notes["120"]
    assert note.startswith("Note: the classifier was trained on the first 120 training images only (--max-images), test accuracy "), note
    assert "compare only with scores from this same classifier" in note, note
    assert notes[None] == [], notes[None]


def test_cli_train_classifier_errors_are_one_line(flat_image_folder, tmp_path: Path, capfd) -> None:
    code = main(["train-classifier", "--dataset", f"folder:{flat_image_folder.root}", "--data-dir", str(tmp_path)])
    err = capfd.readouterr().err
    lines = [line for line in re.split(r"[\r\n]", err) if line.strip()]  # the loader's progress bar comes first
    assert code == 2 and "Traceback" not in err, err
    assert lines[-1].startswith("gan-course: error: ") and "flat folder" in lines[-1], err


# ---------------------------------------------------------------------------------------------
# Where the classifier is cached: the cache folder, keyed by data root; never the data root
# ---------------------------------------------------------------------------------------------


def _listing(root: Path) -> dict[str, tuple]:
    """Every path under root with its kind, size and modification time (links not followed)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            st = path.lstat()
            out[str(path.relative_to(root))] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns)
    return out


def _set_mode(root: Path, mode: int) -> None:
    """chmod root and every folder below it (read-only: 0o555; root ignores it, so tests compare listings too)."""
    for folder, _, _ in os.walk(root):
        Path(folder).chmod(mode)


def test_classifier_is_cached_under_gan_course_cache_and_the_data_root_is_not_written(
    tiny_mnist, tmp_path: Path, monkeypatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GAN_COURSE_CACHE", str(cache))
    root = shutil.copytree(tiny_mnist.root, tmp_path / "data")
    before = _listing(root)
    _set_mode(root, 0o555)
    try:
        _, accuracy = train_classifier("mnist", root, epochs=1, progress=False)
        ext = get_extractor("classifier", "mnist", root)
        code = main(["train-classifier", "--dataset", "mnist", "--epochs", "1", "--data-dir", str(root),
                     "--device", "cpu", "--no-progress"])  # fmt: skip
    finally:
        _set_mode(root, 0o755)
    assert code == 0
    assert _listing(root) == before, "training and loading a classifier must not write into the data root"
    path = classifier_path("mnist", root)
    assert path.parent.parent == cache / "classifiers" and path.name == "mnist.pt"
    assert sorted(cache.rglob("*.pt")) == [path], "one file, in the cache"
    assert load_classifier_state("mnist", root)["test_accuracy"] == accuracy
    assert ext.features(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape == (2, 128)


def test_two_data_roots_of_one_dataset_get_their_own_classifiers(tiny_mnist, tmp_path: Path) -> None:
    # the same folder names, so only the hash of the resolved root tells them apart
    small = scratch_root(tmp_path / "a" / "x" / "data", "mnist", source=tiny_mnist.root, n_train=20, n_test=8)
    full = shutil.copytree(tiny_mnist.root, tmp_path / "b" / "x" / "data")
    assert root_key(small) != root_key(full) and root_key(small).startswith("x-data-")
    assert classifier_path("mnist", small) != classifier_path("mnist", full)
    train_classifier("mnist", small, epochs=1, progress=False)
    train_classifier("mnist", full, epochs=1, progress=False)
    assert load_classifier_state("mnist", small)["train_images"] == 20
    assert load_classifier_state("mnist", full)["train_images"] == 64
    link = tmp_path / "link"
    link.symlink_to(full, target_is_directory=True)
    assert classifier_path("mnist", link) == classifier_path("mnist", full), "one folder, one key, however it is named"


def test_cache_keys_of_paths_the_locale_cannot_decode(tmp_path: Path) -> None:
    """In the C locale without UTF-8 mode a folder named in another alphabet arrives with surrogate
    escapes, which str.encode() refused: the keys hash the path's bytes as the file system has them,
    the same bytes (and keys) as before for any UTF-8 path."""
    import hashlib

    odd = tmp_path / "caf\udce9"  # the byte 0xe9 as Python decodes it in the C locale
    assert root_key(odd).endswith(hashlib.sha1(os.fsencode(odd.resolve())).hexdigest()[:8])
    assert dataset_key(f"folder:{odd}").startswith("folder-")
    plain = tmp_path / "café"
    assert root_key(plain).endswith(hashlib.sha1(str(plain.resolve()).encode()).hexdigest()[:8])


def test_xdg_cache_home_is_honoured_without_gan_course_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GAN_COURSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # if XDG were ignored, ~/.cache would still be a temporary one
    train_classifier("digits", tmp_path / "data", epochs=1, max_images=50, progress=False)
    path = tmp_path / "xdg" / "gan-course" / "classifiers" / root_key(tmp_path / "data") / "digits.pt"
    assert classifier_path("digits", tmp_path / "data") == path and path.is_file()
    assert load_classifier_state("digits", tmp_path / "data")["train_images"] == 50


def test_a_classifier_cached_in_the_data_root_by_an_older_version_is_read_not_written(
    digits_run, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    legacy = root / "classifiers" / "digits.pt"
    legacy.parent.mkdir(parents=True)
    shutil.copy(classifier_path("digits", digits_run["root"]), legacy)
    before = _listing(root)
    _set_mode(root, 0o555)
    try:
        assert find_classifier("digits", root) == legacy
        assert load_classifier_state("digits", root)["test_accuracy"] == digits_run["accuracy"]
        ext = get_extractor("classifier", "digits", root)
        assert ext.features(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape == (2, 128)
        assert not classifier_path("digits", root).exists(), "reading the old file copies nothing"
        # training again writes the new location, which is read from then on; the old file stays as it was
        train_classifier("digits", root, epochs=1, max_images=50, progress=False)
    finally:
        _set_mode(root, 0o755)
    assert _listing(root) == before
    assert find_classifier("digits", root) == classifier_path("digits", root)
    assert load_classifier_state("digits", root)["train_images"] == 50


def test_an_unwritable_cache_is_one_user_error_line_before_training(tmp_path: Path, monkeypatch, capfd) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")  # nothing can be created below a file, not even by root
    monkeypatch.setenv("GAN_COURSE_CACHE", str(blocker / "cache"))
    steps = []
    augment = classifier_module._augment
    monkeypatch.setattr(classifier_module, "_augment", lambda *a, **k: steps.append(1) or augment(*a, **k))
    folder = classifier_path("digits", tmp_path).parent
    with pytest.raises(UserError) as err:
        train_classifier("digits", tmp_path, epochs=1, progress=False)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"cannot write to the cache folder {folder} ("), message
    assert message.endswith("; set GAN_COURSE_CACHE to a writable folder"), message
    assert steps == [], "the check comes before training, not after minutes of it"
    code = main(["train-classifier", "--dataset", "digits", "--data-dir", str(tmp_path), "--no-progress"])
    err_text = capfd.readouterr().err
    assert code == 2 and err_text == f"gan-course: error: {message}\n", err_text


# ---------------------------------------------------------------------------------------------
# The classifier extractor
# ---------------------------------------------------------------------------------------------


def test_classifier_features_and_logits_shapes(digits_extractor, digits_test_images) -> None:
    assert isinstance(digits_extractor, FeatureExtractor)
    feats, logits = digits_extractor.features_and_logits(digits_test_images)
    assert feats.shape == (360, 128) and feats.dtype == torch.float32
    assert logits.shape == (360, 10) and logits.dtype == torch.float32
    assert digits_extractor.dim == 128 and digits_extractor.num_classes == 10


def test_classifier_logits_recognise_real_digits(digits_run, digits_extractor, digits_test_images) -> None:
    """The extractor (BatchNorm folded, inputs converted here) agrees with the trained model."""
    labels = load_dataset("digits", split="test").labels
    predicted = digits_extractor.logits(digits_test_images).argmax(1)
    accuracy = (predicted == labels).double().mean().item()
    assert accuracy == pytest.approx(digits_run["accuracy"], abs=1 / 360), "extractor logits disagree with the model"
    coverage = class_coverage(digits_extractor.logits(digits_test_images), 10)
    assert coverage["classes_covered"] == 10
    assert inception_score(digits_extractor.logits(digits_test_images), splits=1)[0] > 8.0


def test_classifier_features_are_deterministic(digits_extractor, digits_test_images) -> None:
    a = digits_extractor.features(digits_test_images)
    b = digits_extractor.features(digits_test_images)
    assert torch.equal(a, b), "the same images gave different features on a second call"


def test_classifier_batching_does_not_change_features(digits_run, digits_test_images) -> None:
    big = get_extractor("classifier", "digits", digits_run["root"], batch_size=1000).features(digits_test_images)
    small = get_extractor("classifier", "digits", digits_run["root"], batch_size=7).features(digits_test_images)
    torch.testing.assert_close(small, big, rtol=1e-5, atol=1e-5)


def test_classifier_accepts_uint8_float_and_other_sizes(digits_extractor, digits_test_images) -> None:
    as_uint8 = digits_extractor.features(digits_test_images)
    as_float = digits_extractor.features(digits_test_images.float() / 255)
    torch.testing.assert_close(as_float, as_uint8, rtol=1e-5, atol=1e-5)
    bigger = torch.nn.functional.interpolate(digits_test_images.float(), size=64, mode="nearest").to(torch.uint8)
    resized = digits_extractor.features(bigger)
    assert resized.shape == (360, 128)
    assert fid(as_uint8, resized) < fid(as_uint8, digits_extractor.features(digits_test_images.flip(2))), (
        "images resized from 64x64 should look more like the originals than upside-down digits do"
    )


def test_classifier_rejects_what_it_cannot_read(digits_extractor) -> None:
    colour = torch.zeros(2, 3, 28, 28, dtype=torch.uint8)
    colour[1, 2, 5, 5] = 1  # one pixel of one image not grey
    with pytest.raises(MetricError, match="colour images .* grey 28x28 classifier"):
        digits_extractor.features(colour)
    with pytest.raises(MetricError, match=r"\[0, 1\].*from_model_range"):
        digits_extractor.features(torch.full((2, 1, 28, 28), -1.0))
    with pytest.raises(MetricError, match="4-D"):
        digits_extractor.features(torch.zeros(2, 28, 28, dtype=torch.uint8))
    assert digits_extractor.features(torch.zeros(0, 1, 28, 28, dtype=torch.uint8)).shape == (0, 128)


def test_grey_images_stored_as_rgb_go_into_a_grey_classifier(digits_extractor, digits_test_images) -> None:
    """A folder of greyscale PNGs loads as RGB with equal channels: the grey classifier reads them
    as the grey images they are."""
    as_rgb = digits_test_images.expand(-1, 3, -1, -1)
    torch.testing.assert_close(digits_extractor.features(as_rgb), digits_extractor.features(digits_test_images))


def test_grey_images_go_into_a_colour_classifier_as_three_channels() -> None:
    ext = ClassifierExtractor(Classifier(3, 32, 10).eval())
    grey = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8)
    torch.testing.assert_close(ext.features(grey), ext.features(grey.expand(-1, 3, -1, -1)))


def test_unknown_extractor_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown feature extractor 'vgg'; choose one of: classifier, inception"):
        get_extractor("vgg", "digits", tmp_path)


# ---------------------------------------------------------------------------------------------
# Inception-v3 with random weights: plumbing only
# ---------------------------------------------------------------------------------------------


def _no_download(*args, **kwargs):
    raise AssertionError("the test tried to download the Inception weights")


@pytest.fixture(scope="module")
def random_inception() -> InceptionExtractor:
    mp = pytest.MonkeyPatch()
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    mp.setattr(tfi, "load_state_dict_from_url", _no_download)
    mp.setattr(torch.hub, "download_url_to_file", _no_download)
    try:
        yield InceptionExtractor(random_weights=True, batch_size=2)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def small_colour_images() -> torch.Tensor:
    return torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_inception_gives_2048_features_and_1008_logits(random_inception, small_colour_images) -> None:
    assert isinstance(random_inception, FeatureExtractor)
    feats, logits = random_inception.features_and_logits(small_colour_images)
    assert feats.shape == (3, 2048) and logits.shape == (3, 1008)
    assert random_inception.features(small_colour_images[:1]).shape == (1, 2048)
    # the same pool3 features torchmetrics' FID takes from this network
    with torch.inference_mode():
        torch.testing.assert_close(random_inception.model(small_colour_images), feats, rtol=1e-4, atol=1e-5)


def test_inception_batching_does_not_change_features(random_inception, small_colour_images) -> None:
    in_twos = random_inception.features(small_colour_images)  # batch_size 2: batches of 2 and 1
    random_inception.batch_size = 3
    try:
        at_once = random_inception.features(small_colour_images)
    finally:
        random_inception.batch_size = 2
    torch.testing.assert_close(in_twos, at_once, rtol=1e-4, atol=1e-5)


def test_inception_takes_grey_and_float_images(random_inception) -> None:
    grey = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    feats = random_inception.features(grey)
    assert feats.shape == (2, 2048)
    torch.testing.assert_close(random_inception.features(grey.float() / 255), feats)


def test_inception_loads_a_weights_file(random_inception, small_colour_images, tmp_path: Path) -> None:
    path = tmp_path / INCEPTION_FILES[1]
    torch.save(random_inception.model.state_dict(), path)
    loaded = InceptionExtractor(path, batch_size=3)
    assert loaded.weights == path
    torch.testing.assert_close(loaded.features(small_colour_images), random_inception.features(small_colour_images))


def test_missing_inception_weights_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / INCEPTION_FILES[1]
    with pytest.raises(UserError, match=re.escape(f"Inception weights not found at {missing}; ") + ".*--inception-weights PATH"):
        get_extractor("inception", inception_weights=missing)


def test_offline_without_inception_weights_says_where_to_put_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url, dst, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    expected = tmp_path / "checkpoints" / INCEPTION_FILES[0]
    message = (
        f"Inception weights not found at {expected} and could not be downloaded; "
        f"download pt_inception-2015-12-05-6726825d.pth once and pass --inception-weights PATH"
    )
    with pytest.raises(UserError) as err:
        get_extractor("inception")
    assert str(err.value) == message


@pytest.mark.parametrize("name", INCEPTION_FILES)
def test_inception_weights_in_the_torch_hub_cache_are_found(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_download)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / name).write_bytes(b"")
    assert inception_weights_path() == tmp_path / "checkpoints" / name


def test_wrong_inception_weights_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "weights.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(UserError, match=re.escape(f"cannot load Inception weights from {path}")):
        InceptionExtractor(path)


def test_the_digits_classifier_is_found_whatever_gan_course_data_says(tmp_path: Path, monkeypatch, capfd) -> None:
    """The digits read no data root, yet their classifier was keyed by it: trained without
    $GAN_COURSE_DATA, `gan-course fid` with it said to train it again (and the other way round).
    Other datasets stay keyed by their root; an explicit root still keys its own copy."""
    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GAN_COURSE_DATA", raising=False)
    assert main(["train-classifier", "--epochs", "1", "--max-images", "50", "--device", "cpu", "--no-progress"]) == 0
    trained = classifier_path("digits")
    assert trained == tmp_path / "cache" / "classifiers" / "builtin" / "digits.pt" and trained.is_file()
    assert load_classifier_state("digits")["data_root"] is None
    capfd.readouterr()

    monkeypatch.setenv("GAN_COURSE_DATA", str(tmp_path / "class-data"))
    assert find_classifier("digits") == trained
    code = main(["fid", "digits:test", "digits:train", "--n", "200", "--device", "cpu"])
    out, err = capfd.readouterr()
    assert code == 0 and "FID:" in out, err
    assert classifier_path("mnist") != classifier_path("mnist", tmp_path / "home" / ".cache" / "gan-course" / "data")
    assert classifier_path("digits", tmp_path / "class-data") != trained, "an explicit root keys its own copy"


def test_a_digits_classifier_cached_by_the_default_root_is_still_found(tmp_path: Path, monkeypatch) -> None:
    """Before the builtin key, `train_classifier("digits")` wrote <cache>/classifiers/<root_key(None)>/digits.pt."""
    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GAN_COURSE_DATA", str(tmp_path / "data"))
    old = tmp_path / "cache" / "classifiers" / root_key(None) / "digits.pt"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"")
    assert find_classifier("digits") == old
    monkeypatch.delenv("HOME")  # with no home folder to name the default root, the digits need none
    monkeypatch.delenv("GAN_COURSE_DATA")
    monkeypatch.setattr(os.path, "expanduser", lambda p: (_ for _ in ()).throw(RuntimeError("Could not determine home directory.")))
    assert find_classifier("digits") is None


def test_an_empty_data_root_is_the_default_and_the_hint_pastes(tmp_path: Path, monkeypatch) -> None:
    """A run whose config holds data_dir "" (or --data-dir "") was sent to 'train-classifier --data-dir '
    (a flag missing its value), and a root with a space was pasted as two words."""
    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "cache"))
    assert classifier_path("digits", "") == classifier_path("digits")
    with pytest.raises(UserError) as err:
        load_classifier("mnist", "")
    assert str(err.value).endswith("; run: gan-course train-classifier --dataset mnist"), str(err.value)
    with pytest.raises(UserError) as err:
        load_classifier("mnist", tmp_path / "my data")
    assert str(err.value).endswith(f"--dataset mnist --data-dir '{tmp_path / 'my data'}'"), str(err.value)


def test_a_cache_too_full_for_the_classifier_is_one_line(tmp_path: Path) -> None:
    """A write that fails inside torch.save (a full disk; here a file-size limit, EFBIG) ended
    train-classifier in torch's RuntimeError traceback ("unexpected pos ...")."""
    import resource
    import subprocess
    import sys

    limit = 100_000  # the classifier's file is about 1 MB

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "reference.cli", "train-classifier", "--epochs", "1", "--max-images", "50", "--no-progress"],
        capture_output=True, text=True, preexec_fn=small_files,
        env={**os.environ, "GAN_COURSE_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("gan-course: error: file too large while writing ") and "train the classifier again" in lines[0]
    assert not list((tmp_path / "cache").rglob(".*.tmp*")), "the partial file was left behind"
