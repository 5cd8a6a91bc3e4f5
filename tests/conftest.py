"""Fixtures that make tiny datasets on disk, in the exact formats torchvision and PIL read.

This is the one place for dataset fixtures; every test file may use them. No fixture here
downloads anything: the tiny files are written into pytest's tmp folders, and the real MNIST copy
(`SHARED_DATA`, see /work/shared/data/README.md) is only read, and only where it exists.

Fixtures (function-scoped unless marked otherwise):
- `tiny_mnist` / `tiny_fashion` (session): `TinyDataset` in torchvision's raw IDX layout,
  `tiny_mnist_root` / `tiny_fashion_root`: just its root (what `load_dataset(name, root)` takes).
- `tiny_cifar` / `tiny_cifar_root`: CIFAR-10's python pickle layout; both switch torchvision's
  md5 check to existence-only for the test (see `_existence_only`).
- `image_folder`: an ImageFolder layout (class sub-folders, PNG and JPEG), `flat_image_folder`:
  a flat folder of PNGs; both `ImageFolderData`.
- `shared_data` (session): `SHARED_DATA`; `shared_mnist_root`: the same, skipping when the real
  MNIST copy is absent. Or mark a test `@pytest.mark.needs_shared_mnist`.

Helpers (import with `from conftest import ...`): `write_idx`, `write_mnist_raw`, `mnist_pattern`,
`write_cifar_batches`, `cifar_pattern`, `write_image`.

The cache: the repository's conftest.py points $GAN_COURSE_CACHE (where trained classifiers go,
see reference/cache.py) at a fresh temporary folder for the whole session, unless the caller set
it, so no test writes into the real ~/.cache; the lesson kernels that nbval starts inherit it.

Session-scoped files are shared by all tests: read them, never modify them (copy them first).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# tests/autograders/ holds the assignments' checks, which grade notebooks: `pytest` does not collect
# them as tests (`pytest tests/autograders/test_<id>.py [--notebook NB]` still grades with them).
# Collected, they graded each solution notebook a second time: test_grading_<id>.py's
# test_solution_scores_full_marks already runs every check on it and asserts full points, no message.
collect_ignore = ["autograders"]


# ---------------------------------------------------------------------------------------------
# The real offline data copies
# ---------------------------------------------------------------------------------------------

SHARED_DATA: Path = (
    Path(os.environ["GAN_COURSE_DATA"]).expanduser()
    if os.environ.get("GAN_COURSE_DATA")
    else Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
"""Parent of the real `MNIST/raw/` copy: $GAN_COURSE_DATA if set, else <repo>/../shared/data."""

SHARED_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _shared_mnist_missing() -> str | None:
    """The skip reason when the real MNIST copy is absent, or there but not readable by this user, else None.

    A copy this user may not read (on a shared host, an instructor's folder left 0700, or a GAN_COURSE_DATA that
    names another user's) made every test marked `needs_shared_mnist` an ERROR with a PermissionError traceback
    (Python 3.11's Path.is_file raises it) instead of a skip that says why."""
    raw = SHARED_DATA / "MNIST" / "raw"
    unreadable = (f"real MNIST copy at {raw} cannot be read by this user (permission denied); ask its owner for read "
                  f"access, or set GAN_COURSE_DATA to the folder of a copy you can read")
    try:
        found = all(stat.S_ISREG(os.stat(raw / name).st_mode) for name in SHARED_MNIST_FILES)
    except PermissionError:
        return unreadable
    except (OSError, ValueError):  # missing, or a file where a folder was expected
        found = False
    if not found:
        return f"real MNIST copy not found at {raw}; set GAN_COURSE_DATA to the folder that holds MNIST/raw/"
    if not all(os.access(raw / name, os.R_OK) for name in SHARED_MNIST_FILES):
        return unreadable
    return None


needs_shared_mnist = pytest.mark.needs_shared_mnist
"""Mark a test that reads the real MNIST copy under SHARED_DATA; it skips when that is absent."""


@pytest.hookimpl(trylast=True)  # after the repository's conftest.py, whose line names a folder the encoding cannot read
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs_shared_mnist: reads the real MNIST copy under SHARED_DATA; skipped when it is absent"
    )
    if not hasattr(config, "workerinput") and (encoding := _text_encoding_problem()):
        raise pytest.UsageError(
            f"the locale's text encoding ({encoding}) cannot read the course's UTF-8 files (notebooks, checks, "
            f"messages); run pytest with PYTHONUTF8=1 (or LC_ALL=C.UTF-8)"
        )


def _text_encoding_problem() -> str | None:
    """The locale's text encoding when it is not UTF-8, else None.

    Under an ASCII or Latin-1 locale (LC_ALL=C with PYTHONUTF8=0, LANG=en_US.ISO-8859-1 on an older host; a
    Windows code page), every test that reads a notebook or a source with `read_text()` failed on its first
    non-ASCII character, dozens of UnicodeDecodeErrors that said nothing of the locale."""
    import codecs
    import locale

    encoding = locale.getpreferredencoding(False)
    try:
        name = codecs.lookup(encoding).name  # "ascii" for ANSI_X3.4-1968, "iso8859-1", "cp1252"
    except LookupError:
        return encoding
    return None if name == "utf-8" else name


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_shared_mnist") and (reason := _shared_mnist_missing()):
        pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """SHARED_DATA (it may not exist; use `shared_mnist_root` to skip when MNIST is absent)."""
    return SHARED_DATA


@pytest.fixture
def shared_mnist_root() -> Path:
    """The root to pass as `load_dataset("mnist", root)` for the real copy; skips when absent."""
    if reason := _shared_mnist_missing():
        pytest.skip(reason)
    return SHARED_DATA


# ---------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST: IDX files in torchvision's raw layout
# ---------------------------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array in the IDX format of MNIST: magic 0x0803 for (N, 28, 28) images,
    0x0801 for (N,) labels (0x08 = unsigned byte, then the number of dimensions), then each
    dimension as a big-endian int32, then the bytes in C order. Returns `path`."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_idx writes uint8 only, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.tobytes())
    return path


def mnist_pattern(n: int, offset: int = 0, vertical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n recognisable 28x28 uint8 images and their labels (N,) uint8.

    Image i has label (3 i + offset) % 10 (so labels are not sorted) and shows a bar of 255, two
    pixels thick, at row (or column, if `vertical`) 4 + 2 * label; pixel (0, 0) holds i % 256 and
    pixel (27, 27) holds 255 - i % 256, so every image is distinct and the orientation is visible.
    """
    labels = ((np.arange(n) * 3 + offset) % 10).astype(np.uint8)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        at = 4 + 2 * int(label)
        if vertical:
            images[i, :, at : at + 2] = 255
        else:
            images[i, at : at + 2, :] = 255
        images[i, 0, 0] = i % 256
        images[i, 27, 27] = 255 - i % 256
    return images, labels


def write_mnist_raw(
    root: Path,
    folder: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> Path:
    """Write torchvision's uncompressed raw layout `root/folder/raw/{train,t10k}-{images-idx3,
    labels-idx1}-ubyte` (folder "MNIST" or "FashionMNIST"); train and test are (images, labels)."""
    raw = root / folder / "raw"
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@dataclass
class TinyDataset:
    """Tiny files on disk and the arrays written into them.

    root: what to pass to `load_dataset(name, root)`.
    train_images / test_images: uint8, (N, 28, 28) for IDX files, (N, 3, 32, 32) (CHW) for CIFAR.
    train_labels / test_labels: (N,) integer labels in file order. classes: the class names.
    """

    root: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> TinyDataset:
    """Tiny MNIST: 64 train and 16 test images (`mnist_pattern`, horizontal bars) in MNIST/raw/."""
    root = tmp_path_factory.mktemp("tiny_mnist")
    train, test = mnist_pattern(64, offset=0), mnist_pattern(16, offset=1)
    write_mnist_raw(root, "MNIST", train, test)
    return TinyDataset(root, *train, *test, classes=[str(i) for i in range(10)])


@pytest.fixture
def tiny_mnist_root(tiny_mnist: TinyDataset) -> Path:
    """Root of tiny MNIST: `load_dataset("mnist", tiny_mnist_root, download=False)`."""
    return tiny_mnist.root


@pytest.fixture(scope="session")
def tiny_fashion(tmp_path_factory: pytest.TempPathFactory) -> TinyDataset:
    """Tiny Fashion-MNIST: 48 train and 12 test images (vertical bars) in FashionMNIST/raw/.

    Sizes and pattern differ from tiny MNIST so a loader that mixed the two would be caught.
    """
    root = tmp_path_factory.mktemp("tiny_fashion")
    train, test = mnist_pattern(48, offset=2, vertical=True), mnist_pattern(12, offset=5, vertical=True)
    write_mnist_raw(root, "FashionMNIST", train, test)
    return TinyDataset(root, *train, *test)


@pytest.fixture
def tiny_fashion_root(tiny_fashion: TinyDataset) -> Path:
    """Root of tiny Fashion-MNIST: `load_dataset("fashion-mnist", tiny_fashion_root, download=False)`."""
    return tiny_fashion.root


# ---------------------------------------------------------------------------------------------
# CIFAR-10: python pickles in cifar-10-batches-py/
# ---------------------------------------------------------------------------------------------

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_pattern(n: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n uint8 CHW images (N, 3, 32, 32) and labels (N,) int64.

    Pixel (c, y, x) of image i is (11 i + 85 c + 3 y + 7 x + label) % 256: the three channels
    always differ and rows differ from columns, so a wrong HWC/CHW or H/W order changes values.
    """
    labels = (np.arange(n) * 7 + offset) % 10
    i, c, y, x = np.ogrid[:n, :3, :32, :32]
    images = (11 * i + 85 * c + 3 * y + 7 * x + labels[:, None, None, None]) % 256
    return images.astype(np.uint8), labels.astype(np.int64)


def write_cifar_batches(
    root: Path,
    train_batches: list[tuple[np.ndarray, np.ndarray]],
    test: tuple[np.ndarray, np.ndarray],
    classes: list[str] = CIFAR_CLASSES,
) -> Path:
    """Write CIFAR-10's python layout under root/cifar-10-batches-py/: data_batch_1..5 (one per
    entry of `train_batches`, which must have 5), test_batch and batches.meta.

    Each batch is a pickled dict like the original's: "data" uint8 (N, 3072), each row the R, G
    then B plane of a 32x32 image in row-major order; "labels" a list of ints.
    """
    if len(train_batches) != 5:
        raise ValueError("CIFAR-10 has exactly 5 training batches")
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    named = [(f"data_batch_{k + 1}", batch) for k, batch in enumerate(train_batches)] + [("test_batch", test)]
    for name, (images, labels) in named:
        entry = {
            "batch_label": name,
            "labels": [int(label) for label in labels],
            "data": np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), 3 * 32 * 32),
            "filenames": [f"{name}_{k}.png" for k in range(len(images))],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(classes), "num_cases_per_batch": len(train_batches[0][0])}, f, protocol=2)
    return root


@pytest.fixture(scope="session")
def _tiny_cifar_files(tmp_path_factory: pytest.TempPathFactory) -> TinyDataset:
    root = tmp_path_factory.mktemp("tiny_cifar")
    images, labels = cifar_pattern(40)  # 5 training batches of 8
    batches = [(images[k : k + 8], labels[k : k + 8]) for k in range(0, 40, 8)]
    test = cifar_pattern(10, offset=3)
    write_cifar_batches(root, batches, test)
    return TinyDataset(root, images, labels, *test, classes=list(CIFAR_CLASSES))


def _existence_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # torchvision's CIFAR10 accepts its files only if their md5 sums equal the original archive's
    # (CIFAR10._check_integrity and _load_meta both call torchvision.datasets.cifar.check_integrity
    # with the md5). Tiny files can never match, so for the test we keep the existence check and
    # drop the checksum; everything after it (unpickling, reshaping, HWC order) runs unchanged.
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


@pytest.fixture
def tiny_cifar(_tiny_cifar_files: TinyDataset, monkeypatch: pytest.MonkeyPatch) -> TinyDataset:
    """Tiny CIFAR-10: 40 train images (5 batches of 8) and 10 test images (`cifar_pattern`),
    with torchvision's md5 check made existence-only for this test."""
    _existence_only(monkeypatch)
    return _tiny_cifar_files


@pytest.fixture
def tiny_cifar_root(tiny_cifar: TinyDataset) -> Path:
    """Root of tiny CIFAR-10: `load_dataset("cifar10", tiny_cifar_root, download=False)`."""
    return tiny_cifar.root


# ---------------------------------------------------------------------------------------------
# Image folders
# ---------------------------------------------------------------------------------------------


def write_image(path: Path, array: np.ndarray) -> Path:
    """Save uint8 HWC (RGB) or HW (grey) `array` as an image; the suffix picks the format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def solid(rgb: tuple[int, int, int], height: int = 24, width: int = 24) -> np.ndarray:
    """A uint8 (height, width, 3) image of one colour."""
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (height, width, 3)).copy()


@dataclass
class ImageFolderData:
    """An image folder on disk: `load_dataset(f"folder:{root}")`.

    classes: sub-folder names in sorted order ([] for a flat folder). files: the image files in
    the order the loader reads them (sorted by class, then by path). labels: one per file (None
    for a flat folder). colours: the solid RGB colour of each file (approximate for JPEG).
    """

    root: Path
    classes: list[str]
    files: list[Path]
    labels: list[int] | None
    colours: list[tuple[int, int, int]]


IMAGE_FOLDER_COLOURS = {"cat": (220, 40, 30), "dog": (30, 60, 210)}


@pytest.fixture
def image_folder(tmp_path: Path) -> ImageFolderData:
    """ImageFolder layout: cat/ with 3 PNGs (one 40x24, one 30x30), dog/ with 2 JPEGs (one
    20x32), plus cat/notes.txt and a hidden dog/.thumb.png, which the loader must ignore. Each
    class is one solid colour (IMAGE_FOLDER_COLOURS)."""
    root = tmp_path / "pets"
    cat, dog = IMAGE_FOLDER_COLOURS["cat"], IMAGE_FOLDER_COLOURS["dog"]
    files = [
        write_image(root / "cat" / "a.png", solid(cat)),
        write_image(root / "cat" / "b.png", solid(cat, 24, 40)),
        write_image(root / "cat" / "c.png", solid(cat, 30, 30)),
        write_image(root / "dog" / "x.jpg", solid(dog)),
        write_image(root / "dog" / "y.jpeg", solid(dog, 32, 20)),
    ]
    (root / "cat" / "notes.txt").write_text("not an image\n")
    write_image(root / "dog" / ".thumb.png", solid((0, 255, 0)))
    return ImageFolderData(root, ["cat", "dog"], files, [0, 0, 0, 1, 1], [cat] * 3 + [dog] * 2)


@pytest.fixture
def flat_image_folder(tmp_path: Path) -> ImageFolderData:
    """A flat folder of 4 solid-colour PNGs (no sub-folders): unlabelled, classes []."""
    root = tmp_path / "flat"
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    files = [write_image(root / f"{k:02d}.png", solid(rgb)) for k, rgb in enumerate(colours)]
    return ImageFolderData(root, [], files, None, colours)


# ---- assignments: wrong and right submissions ----------------------------------------------------


def notebook_with_cells(source: Path, out_dir: Path, cells: dict[str, str]) -> Path:
    """Copy nbgrader notebook `source` into `out_dir` (same file name) with the cells whose
    nbgrader grade_id is a key of `cells` given that source instead: a submission for the graders."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    left = dict(cells)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in left:
            cell.source = left.pop(grade_id)
    assert not left, f"{source.name} has no cells with grade_id {sorted(left)}"
    path = out_dir / source.name
    nbformat.write(nb, path)
    return path


def course_env(**extra: str) -> dict:
    """This environment for a course's commands (nbgrader, gan-course): the venv's bin/ first on PATH
    (nbgrader runs `alembic` from it), without $GAN_COURSE_ROOT (the course is the working folder)."""
    import sys

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra}
    env.pop("GAN_COURSE_ROOT", None)
    return env


def generated_course(course: Path, assignment: str) -> tuple[Path, Path]:
    """`course` made a course of this one's grading files for `assignment` (nbgrader_config.py, the
    check modules, the source notebook) and `nbgrader generate_assignment` run in it: returns (the
    student version, the source notebook). Run again, it makes the gradebook anew."""
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (course / "nbgrader_config.py").exists():
        shutil.copy(root / "nbgrader_config.py", course)
        shutil.copytree(root / "tests" / "autograders", course / "tests" / "autograders", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(root / "solutions" / assignment, course / "solutions" / assignment)
    done = subprocess.run(["nbgrader", "generate_assignment", assignment, "--force"], cwd=course, env=course_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return course / "assignments" / assignment / f"{assignment}.ipynb", course / "solutions" / assignment / f"{assignment}.ipynb"


GRADING_THREADS = 1
"""CPU threads of the learning checks in the grading tests, so that their expected scores hold anywhere.

A learning check's FID after its seeded steps depends on the thread count (the order in which a
multi-threaded sum adds its floats), and a submission near the threshold passes at one count and
not at another. `learning.train_and_sample` and `train_classifier` would take their threads from the machine
(cores, pytest-xdist workers, load); the grading tests fix them ($GAN_COURSE_THREADS) instead."""


@pytest.fixture(scope="session")
def _grading_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's one classifier cache: pytest-xdist's workers share the parent of their base folders, so
    each reference set's classifier is trained once per run, not once per worker."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "grading"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def grading_cache(request: pytest.FixtureRequest, _grading_folder: Path):
    """The classifier cache ($GAN_COURSE_GRADING_CACHE) of the learning checks, one per
    run (shared by the pytest-xdist workers), for the modules that use it; they run on `GRADING_THREADS`
    threads ($GAN_COURSE_THREADS). The module's `REFERENCE_SET` (a name, or a tuple of names) is built
    first, on those threads, so its classifier is the same whichever test, module or worker runs first (a
    test may change the threads)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_COURSE_GRADING_CACHE", str(_grading_folder))
        mp.setenv("GAN_COURSE_THREADS", str(GRADING_THREADS))
        names = getattr(request.module, "REFERENCE_SET", ())
        if names:
            from filelock import FileLock

            from reference.metrics.quick_fid import reference_set

            with FileLock(_grading_folder.with_name("grading.lock")):  # one worker trains, the other then reads it
                for name in [names] if isinstance(names, str) else names:
                    reference_set(name)  # trains the classifier into the cache the first time (about 10 s)
        yield


def attack_course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course folder tmp_path/course with the assignment `attack` (no checks), for running one
    notebook in a worker; scratch folders are made in tmp_path/tmp (`tempfile.tempdir`), where a
    test can see what grading left behind."""
    import tempfile

    root = tmp_path / "course"
    (root / "tests" / "autograders").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("")
    (root / "tests" / "autograders" / "test_attack.py").write_text('"""No checks."""\n\nASSIGNMENT = "attack"\n')
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return root


def visible_results(assignment: str, notebook: Path, names) -> dict:
    """{check name: (points, message)} of the visible checks students get for `assignment`
    (reference/checks/<assignment>.py) among `names`, run on `notebook` executed in this process,
    as in the student's kernel."""
    from reference.grading.checks import run_check
    from reference.grading.local import execute_notebook, load_module

    visible = load_module(Path(__file__).resolve().parents[1] / "reference" / "checks" / f"{assignment}.py")
    executed = execute_notebook(notebook)
    try:
        return {name: run_check(getattr(visible, name), executed) for name in names if hasattr(visible, name)}
    finally:
        executed.close()



@contextlib.contextmanager
def process_state_kept():
    """Put back what a notebook run in this process may change for the tests after it: the RNGs
    (torch, NumPy, random), grad mode, default dtype, torch's threads, the environment, warning
    filters, the working directory and sys.path."""
    import random
    import sys
    import warnings

    import torch

    saved = (torch.get_rng_state(), np.random.get_state(), random.getstate(), torch.is_grad_enabled(),
             torch.get_default_dtype(), torch.get_num_threads(), dict(os.environ), list(warnings.filters), os.getcwd(),
             list(sys.path))
    try:
        yield
    finally:
        rng, np_rng, py_rng, grad, dtype, threads, env, filters, cwd, path = saved
        torch.set_rng_state(rng)
        np.random.set_state(np_rng)
        random.setstate(py_rng)
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(env)
        warnings.filters[:] = filters
        os.chdir(cwd)
        sys.path[:] = path


def graded_here(path: Path, assignment: str, only=None) -> dict[str, tuple[float, str]]:
    """{check: (points, message)} of the notebook at `path`, its cells and the checks in this process
    (`reference.grading.local.grade_in_process`, what plain `nbgrader autograde` does), for the honest
    submissions of the grading tests: a worker's start (a Python with torch, about 2 s of CPU) saved
    per submission. Each test_grading_<id>.py grades a sample of them in the sandbox too and asserts
    the same result (test_the_sandbox_grades_like_this_process), and grades there the solution, the
    untouched student version and every attack or answer taken from the masked library."""
    import warnings

    from reference.grading.local import grade_in_process

    with process_state_kept(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the submission's own (a sandboxed worker's never reach pytest either)
        return grade_in_process(path, assignment, Path(__file__).resolve().parents[1], only=only)
