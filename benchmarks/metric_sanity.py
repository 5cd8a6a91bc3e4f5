"""Do the metrics order obviously different image sets the way a person would?

On real MNIST, in the MNIST classifier's feature space (`gan-course train-classifier --dataset
mnist`, trained here first if it is not cached), it compares 5,000 test images against:

    held-out real        the other 5,000 test images (the best a generator can do)
    copies of train      5,000 training images, replayed (a "memorizer GAN")
    blurred real         the held-out test images under a Gaussian blur (sigma 1)
    digits 0-4 only      5,000 training images of the digits 0 to 4 (half the modes dropped)
    one digit            the 4,456 training images of the digit 1 left (mode collapse)
    uniform noise        5,000 images of uniform noise

and prints FID, KID, precision, recall, classes covered and MiFID (memorization against 20,000
training images). Then FID against the number of samples (its small-sample bias), and the time to
extract classifier features for 10,000 images.

    python benchmarks/metric_sanity.py                 # needs MNIST under $GAN_COURSE_DATA
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import warnings

import torch

from reference.data import data_root, load_dataset
from reference.data.sources import MissingDataError
from reference.errors import UserError
from reference.metrics import SmallSampleWarning, class_coverage, fid, kid, mifid, precision_recall
from reference.metrics.classifier import classifier_path, find_classifier, train_classifier
from reference.metrics.corruptions import gaussian_blur, keep_classes, uniform_noise
from reference.metrics.features import get_extractor

N = 5000


def image_sets(train, test, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """(reference images, {row name: images}, training images for MiFID), uint8 (N, 1, 28, 28)."""
    gen = torch.Generator().manual_seed(seed)
    test_x = test.data[torch.randperm(len(test), generator=gen)]
    reference, held_out = test_x[:N], test_x[N : 2 * N]
    order = torch.randperm(len(train), generator=gen)
    memory, rest = order[:20_000], order[20_000:]
    rest_images, rest_labels = train.data[rest], train.labels[rest]
    rows = {
        "held-out real": held_out,
        "copies of train": train.data[memory[:N]],
        "blurred real": gaussian_blur(held_out, sigma=1.0),
        "digits 0-4 only": keep_classes(rest_images, rest_labels, range(5))[:N],
        "one digit (1)": keep_classes(rest_images, rest_labels, [1])[:N],  # 4,456 images: all the 1s left
        "uniform noise": uniform_noise(N, (1, 28, 28), rng=gen),
    }
    return reference, rows, train.data[memory]


def load_mnist(root) -> tuple:
    """MNIST's (train, test) splits from data root `root`, never downloaded; missing, a UserError with the data
    layer's own line (`missing_line`)."""
    try:
        return (load_dataset("mnist", root, split="train", download=False),
                load_dataset("mnist", root, split="test", download=False))
    except MissingDataError as err:
        raise UserError(missing_line(err, root)) from None


DIGITS_WAY_OUT = ", or use --dataset digits"  # the data layer's last way out, where it found nothing near the root


def missing_line(err: MissingDataError, root) -> str:
    """The line for MNIST missing from `root`: the data layer's, word for word (where it found the files near the root,
    or a folder of images given as the root, it says what to pass instead), so that the two cannot drift; only
    its way out '--dataset digits', a flag this script lacks (it scores MNIST only), becomes this script's: the
    command that downloads MNIST there and trains the classifier the script uses."""
    said = str(err)
    if not said.endswith(DIGITS_WAY_OUT):
        return said
    return (f"{said[: -len(DIGITS_WAY_OUT)]}; or download MNIST there (and train the classifier this script uses), "
            f"online, with: gan-course train-classifier --dataset mnist --data-dir {shlex.quote(str(root))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data root with MNIST/raw (default $GAN_COURSE_DATA)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        root = data_root(args.data_dir)
        train, test = load_mnist(root)
        if find_classifier("mnist", root) is None:
            print(f"training the MNIST classifier first (cached in {classifier_path('mnist', root)})", flush=True)
            train_classifier("mnist", root, seed=args.seed)
        extractor = get_extractor("classifier", "mnist", root)
    except UserError as err:
        sys.stderr.write(f"metric_sanity: {err}\n")
        return 2

    reference, rows, memory = image_sets(train, test, args.seed)
    ref_f = extractor.features(reference)
    mem_f = extractor.features(memory)
    print(f"MNIST, classifier features ({extractor.dim}-d); reference: {N} test images; MiFID memory: {len(memory)} training images\n")
    header = f"{'B':18s} {'FID':>9s} {'KID':>9s} {'precision':>9s} {'recall':>7s} {'classes':>7s} {'mem. dist':>9s} {'MiFID':>10s}"
    print(header)
    print("-" * len(header))
    table = {}
    for name, images in rows.items():
        feats, logits = extractor.features_and_logits(images)
        k_mean, _ = kid(ref_f, feats, subsets=50, subset_size=1000, seed=args.seed)
        precision, recall = precision_recall(ref_f, feats, k=3)
        covered = class_coverage(logits, 10)["classes_covered"]
        mi = mifid(feats, ref_f, mem_f)
        table[name] = dict(fid=mi["fid"], kid=k_mean, precision=precision, recall=recall, classes=covered,
                           distance=mi["distance"], mifid=mi["mifid"])
        print(f"{name:18s} {mi['fid']:9.3f} {k_mean:9.3f} {precision:9.3f} {recall:7.3f} {covered:7d} "
              f"{mi['distance']:9.4f} {mi['mifid']:10.3f}")

    print("\nFID of held-out real images against the reference, by sample size (same images, first n of each)")
    held_f = extractor.features(rows["held-out real"])
    bias = {}
    for n in (100, 200, 500, 1000, 2000, 5000):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallSampleWarning)
            bias[n] = fid(ref_f[:n], held_f[:n])
        note = "  (n <= feature dim: covariance rank-deficient)" if n <= extractor.dim else ""
        print(f"  n = {n:5d}   FID {bias[n]:8.3f}{note}")

    images = test.data[:10_000]
    extractor.features(images[:1000])  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        extractor.features(images)
        times.append(time.perf_counter() - start)
    print(f"\nClassifier features for 10,000 28x28 images: {min(times):.2f} s (best of 3; target < 5 s) "
          f"on {torch.get_num_threads()} threads")
    print(json.dumps({"table": table, "fid_by_n": bias, "features_10k_seconds": min(times)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
