"""The `gan-course` command: train, resume, sample and summarise GANs.

    gan-course train                                   # DCGAN on scikit-learn's digits, about 2 min on a CPU
    gan-course train --config mnist-mlp                # a named experiment (gan-course configs lists them)
    gan-course train --resume runs/dcgan-digits-...    # continue a run from checkpoints/last.pt (or restart one
                                                       # stopped before it: config.json, no checkpoint yet)
    gan-course sample runs/.../checkpoints/last.pt --n 64 --out grid.png
    gan-course summary --model dcgan-1024 --dataset fashion-mnist
    gan-course train-classifier --dataset mnist        # the CNN behind the metrics, >= 99% in a few CPU minutes

Mistakes in the input print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import stat
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from reference import paths, stops
from reference.config import MAX_METRIC_SAMPLES, MAX_SAMPLES, METRIC_LIMIT, MIN_METRIC_SAMPLES, SEED_MAX, SEED_MIN, TrainConfig
from reference.errors import UserError

# Settings a resumed run may change; every other setting must match the checkpoint's.
RESUME_OVERRIDES = {"epochs", "device", "amp", "save_every", "data_dir", "eval_every", "eval_samples", "progress", "threads"}
# Keys that a run's config.json holds besides TrainConfig's: the resolved sample shape, the process count,
# a conditional model's class count. --resume and --config (a run's config.json rebuilds the run) skip them.
RUN_KEYS = ("shape", "world_size", "num_classes")

_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
# What a default of None means, for the help of its flag (other defaults are shown as they are).
_NONE_MEANS = {
    "lr_d": "--lr",
    "nz": "the model's",
    "image_size": "the model's choice",
    "n_critic": "5 for wgan and wgan-gp, else 1",
    "data_dir": "$GAN_COURSE_DATA or ~/.cache/gan-course/data",
    "max_images": "all",
    "weight_clip": "0.01 (wgan only)",
    "fault": "none",
    "threads": "the usable cores less those other jobs keep busy when the run starts; a resumed run keeps its count",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line instead of usage + error, and takes no
    abbreviations (--epoch is an error, not --epochs)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        if choice := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message):  # 'trian': say 'train' was meant
            from reference.config import did_you_mean

            hint = did_you_mean(choice.group(1), re.findall(r"[\w-]+", choice.group(2)))
            message = message[: choice.end(1) + 1] + hint + message[choice.end(1) + 1 :]
        sys.stderr.write(f"{self.prog}: error: {message}; see '{self.prog} --help'\n")
        sys.exit(2)


class _CommandParser(_Parser):
    """A subcommand's parser: a flag it does not know is its error, so the line points at the help that
    lists its flags ('gan-course train --help'), not at the top level's list of commands."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def _seed(text: str) -> int:
    """argparse type of --seed: a whole number in the range the course's generators take."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not SEED_MIN <= seed <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be a whole number from {SEED_MIN} to {SEED_MAX}, got {seed}")
    return seed


def _setting(p: argparse.ArgumentParser, name: str, help: str, **kwargs) -> None:
    """Flag --NAME for TrainConfig field `name`: absent unless typed (so configs and resume can tell),
    its help ending with the field's default."""
    default = _DEFAULTS[name]
    if default is None:
        shown = _NONE_MEANS[name]
    else:
        shown = ("on" if default else "off") if isinstance(default, bool) else default
    p.add_argument("--" + name.replace("_", "-"), default=argparse.SUPPRESS, help=f"{help} (default: {shown})", **kwargs)


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    _setting(p, "model", "mlp, dcgan, dcgan-resize, cdcgan, cdcgan-proj, dcgan-1024, upsample, tf-dcgan, mlp2d")
    _setting(p, "dataset", "digits, mnist, fashion-mnist, cifar10, folder:PATH, ring, grid")
    _setting(p, "image_size", "train at this size", type=int)
    _setting(p, "nz", "latent size", type=int)
    _setting(p, "ngf", "generator width (dcgan, dcgan-resize, cdcgan, cdcgan-proj)", type=int)
    _setting(p, "ndf", "discriminator width (dcgan, dcgan-resize, cdcgan, cdcgan-proj)", type=int)


def _add_metric_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", default="classifier", help="classifier (offline, the dataset's CNN) or inception")
    p.add_argument("--classifier", metavar="DATASET", help="whose classifier gives the features (default: from the sources)")
    p.add_argument("--n", type=int, help=f"images per source, {MIN_METRIC_SAMPLES} to {MAX_METRIC_SAMPLES:,} (default: all; a checkpoint draws "
                   f"as many as the other source)")
    p.add_argument("--inception-weights", help="the FID Inception weights file (pt_inception-2015-12-05-6726825d.pth)")
    p.add_argument("--data-dir", help="data root (default $GAN_COURSE_DATA or ~/.cache/gan-course/data)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar while a folder of images is decoded")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gan-course", description="Train, sample and inspect the course's GANs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)

    t = sub.add_parser("train", help="train a GAN (default: dcgan on digits)", description="Train a GAN.")
    _add_model_flags(t)
    _setting(t, "loss", "minimax, non-saturating, least-squares, wgan, wgan-gp, hinge, log-sigmoid (lesson 08's bug)")
    _setting(t, "epochs", "passes over the training set", type=int)
    _setting(t, "batch_size", "images per batch (per process under torchrun)", type=int)
    _setting(t, "lr", "learning rate", type=float)
    _setting(t, "lr_d", "discriminator learning rate (larger than --lr: two time-scale updates, TTUR)", type=float)
    _setting(t, "optimizer", "adam or rmsprop (the original WGAN's)")
    _setting(t, "beta1", "Adam beta1", type=float)
    _setting(t, "beta2", "Adam beta2", type=float)
    _setting(t, "n_critic", "D steps per G step", type=int)
    _setting(t, "pack", "PacGAN: D judges N samples at once, concatenated (mlp2d, mlp, dcgan, dcgan-resize)", type=int)
    _setting(t, "minibatch_std", "D appends the minibatch standard deviation before its last layer (mlp2d, mlp, dcgan, dcgan-resize)",
             action="store_true")
    _setting(t, "label_smoothing", "one-sided label smoothing: D's target for real images is 1 - S (logistic losses)", type=float)
    _setting(t, "spectral_norm", "spectral normalisation of every conv and linear layer of D", action="store_true")
    _setting(t, "ema", "sample and evaluate an exponential moving average of G's weights with this decay, e.g. 0.999 (0 = off)",
             type=float)
    _setting(t, "weight_clip", "wgan: clip D's weights to [-C, C]", type=float)
    _setting(t, "fault", "reproduce a classic bug for lesson 08: no-detach, unit-range-data")
    _setting(t, "save_every", "samples and checkpoint every N epochs", type=int)
    _setting(t, "num_samples", "images in each sample grid", type=int)
    _setting(t, "seed", "seed of the weights, the noise and the batch order", type=_seed)
    _setting(t, "device", "auto, cpu, cuda or mps")
    _setting(t, "amp", "mixed precision (bf16/fp16) on CUDA", action="store_true")
    _setting(t, "data_dir", "data root")
    _setting(t, "max_images", "train on the first N training images", type=int)
    _setting(t, "eval_every", "evaluate every N epochs: classifier FID/KID/precision/recall, or mode coverage (0 = never)", type=int)
    _setting(t, "eval_samples", "samples per evaluation", type=int)
    _setting(t, "threads", "CPU threads (a seeded CPU run repeats bit for bit at the same count)", type=int)
    _setting(t, "progress", "progress bars; --resume keeps the run's choice unless one of these is given",
             action=argparse.BooleanOptionalAction)
    t.add_argument("--config", help="a named config (see 'gan-course configs') or a .toml/.json file (default: none)")
    t.add_argument("--out", help="run folder (default: runs/MODEL-DATASET-TIME)")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its checkpoints/last.pt (default: none, a new run)")

    sm = sub.add_parser("summary", help="print both networks' layers and parameter counts")
    _add_model_flags(sm)

    sa = sub.add_parser("sample", help="draw samples from a checkpoint into one image")
    sa.add_argument("checkpoint", help="a .pt file or a run folder (uses its checkpoints/last.pt)")
    sa.add_argument("--n", type=int, default=64, help=f"number of samples, at most {MAX_SAMPLES:,} (default 64)")
    sa.add_argument("--out", default="samples.png", help="output PNG (default samples.png)")
    sa.add_argument("--seed", type=_seed, default=0)
    sa.add_argument("--device", default="cpu")

    fi = sub.add_parser("fid", help="FID, KID, precision and recall between two image sources")
    fi.add_argument("a", help="the reference images, real ones usually: a dataset split (mnist:test), a folder of "
                    "images, an .npz of images or a checkpoint")
    fi.add_argument("b", help="the images judged against A, generated ones usually: the same kinds as A (when only one "
                    "of the two is a checkpoint, its samples are the ones judged, whichever comes first)")
    _add_metric_flags(fi)

    ev = sub.add_parser("eval", help="evaluate a run's last checkpoint against its dataset's held-out split")
    ev.add_argument("run", help="a run folder (or a checkpoint .pt)")
    _add_metric_flags(ev)

    sub.add_parser("configs", help="list the named experiment configs")

    tc = sub.add_parser(
        "train-classifier",
        help="train the small CNN whose features and logits the metrics use",
        description="Train the classifier of a dataset and cache it, keyed by dataset and data root, in CACHE/classifiers/ "
        "(CACHE: $GAN_COURSE_CACHE, else $XDG_CACHE_HOME/gan-course, else ~/.cache/gan-course), not in the data root. "
        "The digits read no data root: without --data-dir their classifier is one for every $GAN_COURSE_DATA.",
    )
    tc.add_argument("--dataset", default="digits", help="digits, mnist, fashion-mnist, cifar10, folder:PATH (default digits)")
    tc.add_argument("--data-dir", help="data root (default $GAN_COURSE_DATA or ~/.cache/gan-course/data)")
    tc.add_argument("--epochs", type=int, help="passes over the training set (default: per dataset, mnist 3)")
    tc.add_argument("--max-images", type=int, help="train on the first N training images (default: all)")
    tc.add_argument("--seed", type=_seed, default=0)
    tc.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    tc.add_argument("--no-progress", action="store_true", help="no progress bar")

    from reference.grading.command import add_parser as add_autograde

    add_autograde(sub)
    return parser


def _explicit(args: argparse.Namespace) -> dict:
    """TrainConfig values the user typed (flags left out are absent)."""
    return {k: v for k, v in vars(args).items() if k in _DEFAULTS}


def cmd_train(args: argparse.Namespace) -> int:
    from reference.config import named_configs, read_config_file
    from reference.trainer import train

    explicit = _explicit(args)
    if args.resume is not None:
        cfg, out, state = _resume(args, explicit)
        cfg = _absolute_paths(cfg, dataset=False)  # the run's dataset stays as its checkpoints have it
    else:
        values = {k: v for k, v in (read_config_file(args.config) if args.config is not None else {}).items() if k not in RUN_KEYS}
        source = str(named_configs().get(args.config, args.config)) if args.config is not None else "flags"
        try:
            cfg = _absolute_paths(TrainConfig.from_dict({**values, **explicit}, source=source))
            cfg.validate()  # here, where it is known which values the file gave (train validates again)
        except UserError as err:  # a value out of range: name the file's key where the file gave it, not the flag
            flag = re.match(r"--([a-z][a-z0-9-]*)\b", str(err))
            key = flag.group(1).replace("-", "_") if flag else None
            if key is None or key not in values or key in explicit:
                raise
            raise UserError(f"{key} in {source}{str(err)[flag.end():]}") from None
        _check_widths(cfg.model, explicit)
        out, state = (_path(args.out) if args.out is not None else _default_out(cfg)), None
    args.run_dir = out  # for the message of an interrupt (main)
    try:
        with _only_writer(out):
            run_dir = train(cfg, out, state=state, restart=args.resume is not None and state is None)
    except BaseException:
        if args.out is None and args.resume is None:  # the default folder, made empty to claim it: not left empty
            for folder in (out, out.parent):  # and runs/, if nothing else is in it
                try:
                    folder.rmdir()
                except OSError:  # the run wrote into it (or it is gone)
                    break
        raise
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 writes, and says so
        print(f"Run saved to {run_dir} (samples/, checkpoints/, metrics.csv, losses.png)")
    return 0


def _absolute_paths(cfg: TrainConfig, dataset: bool = True) -> TrainConfig:
    """`cfg` with the folder of --dataset folder:PATH (if `dataset`) and --data-dir made absolute, as
    config.json records them: relative ones named other folders (or none) when the run was resumed or
    evaluated from another folder, and --resume may not change --dataset, a dead end."""
    from reference.cache import expand_home

    changes = {}
    if dataset and cfg.dataset.startswith("folder:") and cfg.dataset != "folder:":
        folder = expand_home(cfg.dataset[len("folder:") :], "write the folder's full path")
        changes["dataset"] = f"folder:{os.path.abspath(folder)}"
    if cfg.data_dir:
        changes["data_dir"] = os.path.abspath(expand_home(cfg.data_dir, "pass --data-dir as a full path"))
    return dataclasses.replace(cfg, **changes) if changes else cfg


@contextmanager
def _only_writer(out: Path) -> Iterator[None]:
    """Hold a lock on run folder `out` while it trains: a second `gan-course train` (or --resume)
    of the same folder meanwhile is a one-line UserError, not two runs deleting each other's files.

    The lock is an flock on a file named by the folder's absolute path in the user's own folder of
    the temp folder (nothing is written into the run's parent); where it cannot be taken (no fcntl,
    no temp folder, that folder is not the user's alone) the run trains unlocked, as before. Under torchrun only rank 0 writes, so only it locks.
    The lock file is deleted when the run ends (and those that runs before this version left behind,
    when the next run starts), so the folder does not keep one file per run folder ever trained.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        fcntl = None
    lock = None
    if fcntl is not None and os.environ.get("RANK", "0") == "0":
        import hashlib
        import tempfile

        # the path's bytes as the file system has them: in the C locale without UTF-8 mode a name in another
        # alphabet arrives with surrogate escapes, which str.encode() refuses
        key = hashlib.sha256(os.fsencode(out.expanduser().resolve())).hexdigest()[:20]
        folder = Path(tempfile.gettempdir()) / f"gan-course-locks-{os.getuid()}"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            seen = folder.lstat()  # a folder another user made (shared /tmp) could hold our locks: ignore it
            if stat.S_ISDIR(seen.st_mode) and seen.st_uid == os.getuid() and not seen.st_mode & 0o077:
                _remove_stale_locks(folder, fcntl)
                lock = _take_lock(folder / f"{key}.lock", fcntl)
        except OSError:
            lock = None
        if lock is False:
            raise UserError(
                f"another 'gan-course train' is writing to {out} right now; wait for it to end "
                f"(then --resume {out} to train further), or choose another --out"
            )
    try:
        yield
    finally:
        if lock:
            path, fd = lock
            try:
                path.unlink()  # while still held: a run that opened this file meanwhile sees it gone and retries
            except OSError:
                pass
            os.close(fd)


def _take_lock(path: Path, fcntl, mode: int = 0o600) -> tuple[Path, int] | bool:
    """(path, fd) holding an exclusive flock on lock file `path`, or False if another process holds it.

    A lock file is deleted by its holder before it lets go: a lock taken on a file that is no longer
    the one at `path` (deleted, perhaps made anew by a third run) protects nothing, so take it again.
    `mode`: the new file's (less the umask). A file this user may only read (another user's, in a folder they
    share) is locked all the same, through a read-only descriptor: flock needs no write access."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, mode)
        except PermissionError:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        try:
            now = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        held = os.fstat(fd)
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            return path, fd
        os.close(fd)


def _remove_stale_locks(folder: Path, fcntl) -> None:
    """Delete the lock files in `folder` that no running run holds (left by versions that kept them)."""
    for path in folder.glob("*.lock"):
        try:
            taken = _take_lock(path, fcntl)
        except OSError:
            continue
        if taken:
            try:
                path.unlink()
            except OSError:
                pass
            os.close(taken[1])


def _check_widths(model: str, explicit: dict) -> None:
    """UserError if --ngf or --ndf was typed for a model whose widths are fixed (it would be ignored)."""
    from reference.models import MODELS

    spec = MODELS.get(model)  # an unknown model is named by the config's own check
    for key in ("ngf", "ndf"):
        if key in explicit and spec is not None and not spec.widths:
            sized = ", ".join(name for name, spec in MODELS.items() if spec.widths)
            raise UserError(
                f"--{key} sets the width of {sized} only; --model {model} has fixed widths: "
                f"drop --{key}, or use one of those models"
            )


def _resume(args: argparse.Namespace, explicit: dict) -> tuple[TrainConfig, Path, dict | None]:
    """(config, folder, checkpoint) of `--resume RUN`, with the typed flags checked against the run.

    A run stopped before its first epoch ended holds config.json but no checkpoints/last.pt: it
    starts again from epoch 1 with the settings of its config.json (checkpoint None).
    """
    from reference.checkpoint import load_checkpoint

    if args.config is not None or args.out is not None:
        raise UserError("--resume takes its settings and folder from the run; drop --config and --out")
    out = _path(args.resume)
    if not paths.exists(out):  # load_checkpoint's "pass a file" would not do: --resume takes a folder
        raise UserError(f"run folder {out} does not exist; pass --resume the folder of a run, e.g. runs/dcgan-digits-<time>")
    if out.is_file():
        raise UserError(f"--resume takes a run folder, not the file {out}; pass the folder that holds checkpoints/last.pt")
    if (out / "last.pt").is_file() and not (out / "checkpoints").is_dir():  # the run's checkpoints/ folder: it would train in there
        raise UserError(f"{out} is a run's checkpoints folder; pass the run folder itself: --resume {shlex.quote(str(out.parent))}")
    folder = _read_run_config(out)
    # metrics.csv is written after last.pt: without both, no epoch was saved
    if folder is not None and not (out / "checkpoints" / "last.pt").exists() and not (out / "metrics.csv").exists():
        _check_flags(out, folder, explicit)
        settings = {k: v for k, v in folder.items() if k not in RUN_KEYS}
        cfg = TrainConfig.from_dict({**settings, **explicit}, source=str(out / "config.json"))
        sys.stderr.write(f"gan-course: note: {out} stopped before its first checkpoint; training it again from epoch 1 with its config.json\n")
        return cfg, out, None
    state = load_checkpoint(out)
    if folder is not None:
        _check_same_run(out, state, folder)
    _check_flags(out, {**state["config"], "nz": state["nz"]}, explicit)  # nz: the latent size the run resolved
    cfg = TrainConfig.from_dict({**state["config"], **explicit}, source=str(out / "checkpoints" / "last.pt"))
    return cfg, out, state


def _read_run_config(out: Path) -> dict | None:
    """The values in RUN/config.json, or None if it has none."""
    path = out / "config.json"
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise UserError(f"cannot read {path} ({str(err).splitlines()[0]}); fix the file, or start a new run with --out") from None
    if not isinstance(values, dict):
        raise UserError(f"{path} holds no settings (a JSON object); fix the file, or start a new run with --out")
    return values


def _check_flags(out: Path, trained: dict, explicit: dict) -> None:
    """UserError if a typed flag changes a setting of run `out` that a resume must keep."""
    for key, value in explicit.items():
        if key not in RESUME_OVERRIDES and value != trained.get(key):
            flag = "--" + key.replace("_", "-")
            was = f"{flag} {trained.get(key)}" if trained.get(key) is not None else f"no {flag}"
            raise UserError(
                f"run {out} was trained with {was}, not {flag} {value}; "
                f"drop {flag} to resume it, or start a new run with --out"
            )


def _check_same_run(out: Path, state: dict, folder: dict) -> None:
    """UserError if RUN/checkpoints/last.pt was trained with other settings than RUN/config.json's
    (beyond those a resume may change): a checkpoint copied in from another run."""
    trained = {**state["config"], "nz": state["nz"], "shape": state["shape"]}
    for key in [*_DEFAULTS, "shape"]:
        if key in RESUME_OVERRIDES or key not in trained or key not in folder or trained[key] == folder[key]:
            continue
        raise UserError(
            f"{out / 'checkpoints' / 'last.pt'} comes from another run: it has {key} = {json.dumps(trained[key])}, "
            f"{out / 'config.json'} has {key} = {json.dumps(folder[key])}; put this run's own checkpoint back "
            f"as checkpoints/last.pt, or resume the run it came from"
        )


def _path(typed: str) -> Path:
    """A folder or file path as typed, a leading ~ expanded: `--out=~/runs/x` (which the shell leaves as it
    is after '=') made a folder named '~' in the current folder, a trap for whoever deletes it later."""
    from reference.cache import expand_home

    if not typed.strip():  # --out "" (an unset shell variable): not the current folder, nor the default
        raise UserError("a path given on the command line is empty (an unset shell variable?); give the folder or file name")
    return expand_home(typed, "write the full path")


def _default_out(cfg) -> Path:
    """runs/MODEL-DATASET-TIME, claimed by making it (an empty folder, which train takes): runs started in the
    same second (a seed sweep in the background) get -2, -3, ... instead of one folder, where all but one were
    refused. Under torchrun only rank 0 claims it. Where runs/ cannot be made, the name as it is (train says why)."""
    folder = cfg.dataset.removeprefix("folder:").rstrip("/\\")  # a Windows path too: C:\Users\ana\faces
    dataset = re.split(r"[/\\:]", folder)[-1] or "folder"
    base = Path("runs") / f"{cfg.model}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    if os.environ.get("RANK", "0") != "0":
        return base
    for n in range(1, 1000):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.parent.mkdir(parents=True, exist_ok=True)
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError:
            return base
    return base


def cmd_summary(args: argparse.Namespace) -> int:
    from reference.config import TrainConfig
    from reference.cache import expand_home
    from reference.data.sources import native_shape
    from reference.models import get_model
    from reference.summary import summary_text

    cfg = TrainConfig.from_dict(_explicit(args))
    cfg.validate()
    _check_widths(cfg.model, _explicit(args))
    spec = get_model(cfg.model)
    if cfg.dataset.startswith("folder:") and not paths.is_dir(folder := expand_home(cfg.dataset[len("folder:"):], "write the folder's full path")):
        raise UserError(f"image folder {folder} does not exist; give --dataset folder:PATH a folder of images (its images are "
                        f"not read: the summary assumes {native_shape(cfg.dataset, cfg.image_size)[1]} px colour images)")
    shape = spec.resolve_shape(native_shape(cfg.dataset, cfg.image_size), cfg.image_size)
    print(summary_text(spec, shape, cfg.nz or spec.default_nz, cfg.ngf, cfg.ndf))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from reference.metrics.evaluate import load_generator, sample_images
    from reference.plots import save_image_grid, save_points
    from reference.trainer import resolve_device, writing

    if not 1 <= args.n <= MAX_SAMPLES:
        raise UserError(f"--n must be a whole number from 1 to {MAX_SAMPLES} (the samples of one image), got {args.n}")
    out = _path(args.out)
    if paths.is_dir(out):
        raise UserError(f"--out {out} is a folder; give the path of a .png file, e.g. --out {out / 'samples.png'}")
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: sample writes a PNG image; give a path ending in .png, e.g. --out {out.with_suffix('.png')}")
    device = resolve_device(args.device)
    G, spec, nz, _ = load_generator(args.checkpoint, device)
    with torch.no_grad():
        x = sample_images(G, spec, nz, args.n, seed=args.seed, device=device)
    with writing(out, "run the command again (or choose another --out)"):
        if x.dim() == 4:  # a conditional G's columns are its classes
            save_image_grid(x, out, nrow=G.num_classes if spec.conditional else None)
        else:
            save_points(x, out, title=f"{args.n} samples")
    print(f"Wrote {args.n} samples to {out}")
    return 0


def _source_dataset(source: str) -> str | None:
    """The dataset a source comes from, to choose its classifier: a split's name, a checkpoint's."""
    from reference.checkpoint import load_checkpoint
    from reference.metrics.evaluate import is_checkpoint, parse_split

    split = parse_split(source)
    if split is not None:
        return split[0]
    if is_checkpoint(source):
        return load_checkpoint(source)["config"]["dataset"]
    return None


def _print_scores(scores: dict, extractor, judged: str = "") -> None:
    """The scores of `compare`; `judged` names the source whose samples were judged (precision, recall, the
    classifier's score and the classes covered are theirs), when there are two to tell apart."""
    of = f" of {judged}" if judged else ""
    print(f"Features: {extractor.name} ({extractor.dim}-d)")
    if getattr(extractor, "caveat", ""):
        print(f"Note: the classifier was {extractor.caveat}")
    print(f"KID: {scores['kid']:.6f} ± {scores['kid_std']:.6f}")
    print(f"Precision{of}: {scores['precision']:.4f}")
    print(f"Recall{of}: {scores['recall']:.4f}")
    if "classifier_score" in scores:
        print(f"Classifier score (IS-style){of}: {scores['classifier_score']:.4f}")
        print(f"Classes covered{' by ' + judged if judged else ''}: {int(scores['classes_covered'])}")
    print(f"FID: {scores['fid']:.4f}")


def _metric_setup(args: argparse.Namespace, sources: list[str]):
    from reference.data.mixtures import MIXTURES
    from reference.data.sources import DATASETS
    from reference.metrics.features import get_extractor
    from reference.trainer import resolve_device

    _check_n(args)
    device = resolve_device(args.device)
    dataset = args.classifier
    if args.features == "classifier" and dataset is None:
        dataset = next((d for d in map(_source_dataset, sources) if d), None)
        if dataset is None:
            raise UserError("neither source names a dataset; pass --classifier DATASET (e.g. mnist) to choose the feature network")
    if dataset in MIXTURES:  # the classifier's own message would send the user to train one, which it refuses
        raise UserError(
            f"'{dataset}' is 2-D points, not images: FID and its classifier features do not apply; "
            f"evaluate a run on it with 'gan-course eval RUN' (mode coverage and reverse KL)"
        )
    images = [d for d in DATASETS if d not in MIXTURES and d != "folder:PATH"]
    if args.features == "classifier" and dataset not in images and not dataset.startswith("folder:"):
        from reference.config import did_you_mean

        raise UserError(f"--classifier {dataset}: no such dataset{did_you_mean(dataset, images)}; choose one of: {', '.join(images)}, folder:PATH")
    return get_extractor(args.features, dataset, args.data_dir, inception_weights=args.inception_weights, device=device), device


_TOO_FEW = "precision and recall measure each image's distance to its 3rd nearest"


def _check_count(name: str, images) -> None:
    """UserError if image source `name` (its images (N, ...)) holds too few for the metrics."""
    if images.shape[0] < MIN_METRIC_SAMPLES:  # said 'these statistics hold 1 samples', naming neither source nor fix
        raise UserError(f"{name} holds {images.shape[0]} image(s); the metrics need at least {MIN_METRIC_SAMPLES} ({_TOO_FEW}), "
                        f"far more (thousands) to mean much")


def _check_n(args: argparse.Namespace) -> None:
    """UserError unless --n of fid/eval is left out or from MIN_METRIC_SAMPLES to MAX_METRIC_SAMPLES (a larger one
    sampled for hours and ended in the memory error; 2 or 3 in "k must be between 1 and N - 1")."""
    if args.n is not None and args.n < MIN_METRIC_SAMPLES:
        raise UserError(f"--n must be a whole number >= {MIN_METRIC_SAMPLES} (or left out): {_TOO_FEW}, got {args.n}")
    if args.n is not None and args.n > MAX_METRIC_SAMPLES:
        raise UserError(f"--n must be at most {MAX_METRIC_SAMPLES:,} ({METRIC_LIMIT}), got {args.n:,}")


def _check_source(name: str, source: str) -> None:
    """UserError naming `source` if it is neither a dataset split (mnist:test) nor a path that exists."""
    from reference.metrics.evaluate import parse_split

    split = parse_split(source)
    if split is None:
        path = source
    elif split[0].startswith("folder:"):  # folder:PATH:train
        path = split[0][len("folder:") :]
    else:
        return
    if not paths.exists(Path(path).expanduser()):
        from reference.metrics.evaluate import DATASETS, SPLITS

        dataset, colon, split = source.rpartition(":")
        if colon and (dataset in DATASETS or dataset.startswith("folder:")):  # mnist:tset, a split mistyped
            raise UserError(f"source {name} {source}: {split!r} is no split of {dataset}; use {' or '.join(f'{dataset}:{s}' for s in SPLITS)}")
        raise UserError(
            f"source {name} {path} does not exist; pass a folder of images, an .npz, a checkpoint or run folder, "
            f"or a dataset split such as mnist:test"
        )
    folder = Path(path).expanduser()
    if split is None and paths.is_file(folder / "config.json") and not paths.is_file(folder / "checkpoints" / "last.pt"):
        from reference.checkpoint import CheckpointError, unsaved_run

        raise CheckpointError(unsaved_run(folder))  # before the classifier is looked for: it was 'no images in RUN'


def cmd_fid(args: argparse.Namespace) -> int:
    from reference.metrics.evaluate import compare, is_checkpoint, load_images

    _check_source("A", args.a)
    _check_source("B", args.b)
    extractor, device = _metric_setup(args, [args.a, args.b])
    loaded: dict[str, object] = {}
    # precision, recall and the classifier's score are not symmetric: they judge one set against a reference. A
    # generator's samples are the ones judged, whichever place its checkpoint was given in.
    judged = "a" if is_checkpoint(args.a) and not is_checkpoint(args.b) else "b"
    reference = "b" if judged == "a" else "a"
    # Image sources first: a checkpoint then draws as many samples as the other source holds. The reference and the
    # judged source use different seeds (so comparing a source with itself measures sampling noise), each its own
    # whatever its place.
    seeds = {reference: args.seed, judged: args.seed + 1}
    for key, source, seed in sorted([("a", args.a, seeds["a"]), ("b", args.b, seeds["b"])], key=lambda t: is_checkpoint(t[1])):
        n = args.n
        if n is None and is_checkpoint(source):
            n = min(next((x.shape[0] for x in loaded.values()), 10_000), MAX_METRIC_SAMPLES)
        loaded[key] = load_images(source, args.data_dir, n=n, seed=seed, device=device, progress=not args.no_progress)
    a, b = loaded["a"], loaded["b"]
    for name, source, images in (("A", args.a, a), ("B", args.b, b)):
        _check_count(f"source {name} {source}", images)
    for key, source, images in (("a", args.a, a), ("b", args.b, b)):
        role = "the reference" if key == reference else f"judged against {reference.upper()}"
        print(f"{key.upper()}: {source} ({images.shape[0]} images), {role}")
    _print_scores(compare(loaded[reference], loaded[judged], extractor, seed=args.seed), extractor, judged.upper())
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from reference.checkpoint import load_checkpoint
    from reference.data.mixtures import MIXTURES
    from reference.metrics.coverage import mode_coverage
    from reference.metrics.evaluate import compare, load_generator, load_images, sample_images

    from reference.trainer import resolve_device

    _check_n(args)
    state = load_checkpoint(args.run)
    cfg = state["config"]
    if cfg["dataset"] in MIXTURES:
        mixture = MIXTURES[cfg["dataset"]]
        device = resolve_device(args.device)
        G, spec, nz, _ = load_generator(args.run, device)
        points = sample_images(G, spec, nz, args.n or 2500, seed=args.seed, device=device).cpu()
        cov = mode_coverage(points, mixture.means, mixture.std)
        print(f"Samples: {points.shape[0]} from epoch {state['epoch']} of {cfg['model']} on {cfg['dataset']}")
        print(f"Modes covered: {cov['modes_covered']} of {mixture.n_modes}")
        print(f"High-quality samples: {100 * cov['high_quality_fraction']:.1f}%")
        print(f"Reverse KL: {cov['reverse_kl']:.4f}")
        return 0
    args.classifier = args.classifier or cfg["dataset"]
    args.data_dir = args.data_dir or cfg.get("data_dir")  # the run's data root holds its test split and classifier
    extractor, device = _metric_setup(args, [])
    split = "train" if cfg["dataset"].startswith("folder:") else "test"
    real = load_images(f"{cfg['dataset']}:{split}", args.data_dir, n=args.n, seed=args.seed, progress=not args.no_progress)
    _check_count(f"the {split} split of {cfg['dataset']}", real)
    G, spec, nz, _ = load_generator(args.run, device)
    fake = sample_images(G, spec, nz, real.shape[0], seed=args.seed, device=device)
    print(f"Run: epoch {state['epoch']} of {cfg['model']} on {cfg['dataset']}; {fake.shape[0]} samples vs {real.shape[0]} {split} images")
    _print_scores(compare(real, fake, extractor, seed=args.seed), extractor)
    return 0


def cmd_configs(args: argparse.Namespace) -> int:
    from reference.config import named_configs, read_config_file

    for name, path in named_configs().items():
        description = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        values = read_config_file(name)
        print(f"{name:22s} {description}\n{'':22s} {json.dumps(values)}")
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from reference.metrics.classifier import classifier_path, train_classifier
    from reference.trainer import resolve_device

    device = resolve_device(args.device)
    _, accuracy = train_classifier(
        args.dataset,
        args.data_dir,
        epochs=args.epochs,
        seed=args.seed,
        device=device,
        progress=not args.no_progress,
        max_images=args.max_images,
    )
    print(f"Test accuracy: {100 * accuracy:.2f}% (saved to {classifier_path(args.dataset, args.data_dir)})")
    if args.max_images is not None:  # it replaced any classifier of all the images: say what the next FIDs rest on
        print(f"Note: `gan-course fid` and `eval` on {args.dataset} from this data root now use this classifier of at most "
              f"{args.max_images:,} images and say so; run train-classifier without --max-images for FIDs to quote")
    return 0


def cmd_autograde(args: argparse.Namespace) -> int:
    from reference.grading.command import run

    try:
        return run(args)
    except ModuleNotFoundError as err:  # the lean install (pip install -e .) has no nbgrader, nbformat, ...
        if (line := _config_file_error(err)) is not None:
            raise UserError(line) from None
        if err.name is None or err.name.split(".")[0] in ("reference", "torch"):
            raise
        raise UserError(
            f"gan-course autograde needs {err.name}, one of the grading tools of the [dev] extra; "
            f"install them with: pip install -e \".[dev]\" (in the course's folder)"
        ) from None
    except Exception as err:
        if (line := _config_file_error(err)) is None:  # a bug: keep its traceback
            raise
        raise UserError(line) from None


_COURSE_CONFIG = "nbgrader_config.py"


def _config_file_error(err: BaseException) -> str | None:
    """The line for an error raised by the code of the course's nbgrader_config.py (a syntax error, an
    undefined name), which autograde runs to read its limits; None for any other error (a traceback).

    Such a file ended autograde in a traceback through traitlets' loader, naming no fix."""
    where = None
    if isinstance(err, SyntaxError) and Path(err.filename or "").name == _COURSE_CONFIG:
        where = (err.filename, err.lineno)
    tb = err.__traceback__
    while where is None and tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).name == _COURSE_CONFIG:
            where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    if where is None:
        return None
    detail = err.msg if isinstance(err, SyntaxError) else str(err).splitlines()[0] if str(err) else ""
    if detail == "Could not determine home directory.":  # the file is fine: an import in it looks for the home folder
        return (f"{where[0]}, line {where[1]}: {type(err).__name__}: {detail} (HOME is unset and this user has no entry "
                f"in the password file); set HOME, e.g. HOME=$PWD, then run the command again")
    return (f"{where[0]}, line {where[1]}: {type(err).__name__}{': ' + detail if detail else ''}; fix the file "
            f"(nbgrader reads it too), then run the command again")


COMMANDS = {
    "train": cmd_train,
    "summary": cmd_summary,
    "sample": cmd_sample,
    "fid": cmd_fid,
    "eval": cmd_eval,
    "configs": cmd_configs,
    "train-classifier": cmd_train_classifier,
    "autograde": cmd_autograde,
}


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived (Slurm's time limit, JupyterHub's culler, `kill PID`, a closed terminal or
    SSH session): stop as Ctrl-C stops. `why`: the signal and what usually sends it."""

    def __init__(self, why: str = "SIGTERM (a time limit, a culler or kill)") -> None:
        super().__init__(why)
        self.why = why


STOPS = {"SIGTERM": "SIGTERM (a time limit, a culler or kill)", "SIGHUP": "SIGHUP (the terminal or SSH session closed)"}


REDELIVER_S = 5.0  # a stop not yet delivered (Python drops an exception raised in a garbage-collection callback) is raised again after this long


@contextmanager
def _signals_as_interrupt(exiting: bool) -> Iterator[None]:
    """While the command runs, SIGTERM and SIGHUP raise `Terminated` (a KeyboardInterrupt) in the main
    thread, so that they unwind like Ctrl-C: atomic writes finish or are removed, locks and bars are
    released, and one line says how to resume; without it the process died at once, silently, with status
    143 (129 for a closed terminal). A stop is raised again every REDELIVER_S until it has reached this
    function (one raised while a weakref callback ran was dropped by Python, and the run went on training),
    except while it is being handled (a `finally` or `except` it runs: a second one cut that clean-up short) or
    a block of `reference.stops.held()` runs (a temporary folder made and not yet named, or being removed);
    a repeat of it sooner is ignored, and once it has arrived every later one is (a second Ctrl-C during
    the clean-up printed a traceback from Python's exit and ended with the signal's status; a scheduler's
    SIGKILL still ends it). Elsewhere than the main thread (signal handlers cannot be set there) nothing
    changes. autograde's checks run in grading processes, which ignore these and are stopped by this one
    (reference.grading.runner.grade_many), so a stopped grading job records no grades rather than wrong
    ones. `exiting`: the process ends with the command (the `gan-course` command itself), so once stopped
    it ignores them to its end, Python's own exit included; otherwise (a caller that passes argv, such as
    the tests) the handlers are given back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = [signal.SIGINT] + [getattr(signal, name) for name in STOPS if hasattr(signal, name)]
    stopped: list[tuple[int, float]] = []  # (the signal, when it was last raised)
    arrived = []

    def interrupt(signum: int) -> KeyboardInterrupt:
        return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(STOPS[signal.Signals(signum).name])

    def stop(signum, frame):
        if arrived or (stopped and time.monotonic() - stopped[-1][1] < REDELIVER_S):
            return  # the first is unwinding, or has arrived: its clean-up goes on
        stopped.append((stopped[0][0] if stopped else signum, time.monotonic()))
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)
        if not stops.deferred(lambda: interrupt(stopped[0][0])):  # in a held block (reference.stops): at its end
            raise interrupt(stopped[0][0])

    def again(signum, frame):  # the stop has not arrived: raise it again, unless it is on its way (being handled)
        if not arrived and stopped:
            stopped.append((stopped[0][0], time.monotonic()))
            signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)
            if isinstance(sys.exc_info()[1], KeyboardInterrupt) or stops.deferred(lambda: interrupt(stopped[0][0])):
                return  # a clean-up the stop runs (a `finally`, a removal held by reference.stops) goes on uncut
            raise interrupt(stopped[0][0])

    timer = [signal.SIGALRM] if hasattr(signal, "SIGALRM") else []
    before = {number: signal.getsignal(number) for number in numbers + timer}
    for number in numbers:
        if before[number] is not signal.SIG_IGN:  # a command started with `nohup` keeps ignoring SIGHUP
            signal.signal(number, stop)
    for number in timer:
        signal.signal(number, again)
    unraisable = sys.unraisablehook

    def quiet_stops(info) -> None:  # a stop dropped in a callback is raised again (`again`), not printed as "Exception ignored"
        if not isinstance(info.exc_value, KeyboardInterrupt):
            unraisable(info)

    sys.unraisablehook = quiet_stops
    try:
        yield
    except BaseException as err:
        if not isinstance(err, KeyboardInterrupt) and _interrupted_within(err) is None:
            raise
        arrived.append(True)  # the stop, or an error it caused (an import it cut short): it has arrived
        if exiting:
            for number in numbers:
                signal.signal(number, signal.SIG_IGN)
        raise
    finally:
        sys.unraisablehook = unraisable
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if not (arrived and exiting):
            for number, handler in before.items():
                signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def _interrupted_within(err: BaseException) -> KeyboardInterrupt | None:
    """The stop an error was raised while handling (a zip writer's clean-up failing as Ctrl-C or SIGTERM
    unwound torch.save), or None: the error is the stop's, not a bug."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, KeyboardInterrupt):
            return err
        err = err.__context__ or err.__cause__
    return None


def main(argv: list[str] | None = None) -> int:
    with _one_line_warnings(), _printable_stdout(), _guarded_streams() as out:
        code = _main(argv)
        out.flush()  # what is still buffered goes out here, where a failure is caught, not at exit
        if code == 0 and out.lost is not None:  # stdout on a full disk: the work is done, but its output is not all there
            sys.stderr.write(f"gan-course: error: {out.lost}\n")
            return 2
        return code


def _main(argv: list[str] | None) -> int:
    """`main` inside its stream settings: the command, and one line for each mistake a user can make."""
    args = build_parser().parse_args(argv)
    try:
        with _signals_as_interrupt(exiting=argv is None):
            return COMMANDS[args.command](args)
    except UserError as err:
        _close_bars()
        sys.stderr.write(f"gan-course: error: {err}\n")
        return 2
    except KeyboardInterrupt as err:  # one line and status 2, like every other stop a user causes
        _close_bars()
        sys.stderr.write(f"gan-course: error: {_interrupted(args, err)}\n")
        return 2
    except PermissionError as err:  # a path given in a folder the user may not enter (sample --out, fid's sources)
        _close_bars()
        where = f" {err.filename}" if err.filename else ""
        sys.stderr.write(f"gan-course: error: permission denied:{where}; choose a path you may read and write, or ask its owner for access\n")
        return 2
    except (MemoryError, RuntimeError) as err:
        if (stop := _interrupted_within(err)) is not None:  # the stop is what failed: one line, as for the stop itself
            _close_bars()
            sys.stderr.write(f"gan-course: error: {_interrupted(args, stop)}\n")
            return 2
        line = _out_of_memory(args, err)
        if line is None and str(err) == "Could not determine home directory.":  # a ~ in a path, HOME unset, no user entry
            line = ("this process has no home folder (HOME is unset and this user has no entry in the password "
                    "file), which a path starting with ~ and Jupyter's tools (nbgrader) need; set HOME, e.g. HOME=$PWD, "
                    "or write full paths")
        if line is None:  # a bug: keep its traceback
            raise
        _close_bars()
        sys.stderr.write(f"gan-course: error: {line}\n")
        return 2
    except Exception as err:  # noqa: BLE001 - re-raised unless a stop is what failed
        # a stop that came while an extension module was being imported (matplotlib's Agg backend, a pybind11
        # module) left as ImportError("initialization failed") from it: the stop's one line, not 40 of traceback
        if (stop := _interrupted_within(err)) is None:
            raise
        _close_bars()
        sys.stderr.write(f"gan-course: error: {_interrupted(args, stop)}\n")
        return 2


def _close_bars() -> None:
    """Close the progress bars an error left open, so that the error gets a line of its own and is the
    last one: a bar still open at the error was redrawn after it at exit, the error stuck to its end."""
    std = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(std, "tqdm", None), "_instances", ())):
        try:
            bar.close()
        except Exception:  # noqa: BLE001 - a bar that cannot close must not hide the error
            pass


# What makes a command's work smaller, for the line of a run out of memory.
_SMALLER = {
    "train": "--batch-size, --image-size, --nz, --ngf/--ndf or --max-images",
    "summary": "--image-size or --nz",
    "sample": "--n",
    "fid": "--n",
    "eval": "--n",
    "train-classifier": "--max-images",
}


def _out_of_memory(args: argparse.Namespace, err: BaseException) -> str | None:
    """The one line for a command that ran out of memory (a size typed too large: --image-size 100000,
    --nz 10**8, a batch that does not fit the GPU), or None if `err` is something else.

    PyTorch reports it as torch.OutOfMemoryError (a RuntimeError) on GPUs and as a RuntimeError
    "DefaultCPUAllocator: can't allocate memory" on the CPU; Python as MemoryError."""
    import re

    text = str(err)
    if not (isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError"
            or "can't allocate memory" in text or "out of memory" in text.lower()):
        return None
    asked = ""
    if match := re.search(r"allocate (\d+) bytes", text):
        asked = f" (it asked for {int(match.group(1)) / 2**30:,.1f} GiB at once)"
    elif match := re.search(r"[Tt]ried to allocate ([\d.]+ [KMGT]i?B)", text):
        asked = f" (it asked for {match.group(1)} at once)"
    fix = f"use smaller values of {_SMALLER[args.command]}" if args.command in _SMALLER else "use smaller sizes"
    run = getattr(args, "run_dir", None)
    kept = f"; {run} keeps every epoch it finished" if run is not None and (Path(run) / "checkpoints" / "last.pt").is_file() else ""
    return f"not enough memory for 'gan-course {args.command}'{asked}; {fix}, or run it on a machine with more memory{kept}"


class _GuardedStream:
    """sys.stdout or sys.stderr while a command runs: a write or flush that fails (OSError) is noted, not raised,
    and what the command prints after it goes to os.devnull, so that the command's work (a training run, a class's
    grading) goes on and no traceback follows it.

    `gan-course configs | head -1` (a reader that quits: BrokenPipeError) printed a traceback, or at exit "Exception
    ignored ... BrokenPipeError" with status 120; `gan-course train 2>&1 | head` ended the run at the first progress
    bar drawn after the reader quit (status 1, no checkpoint); a terminal that closed under a command that ignores SIGHUP
    (`... & disown` over SSH: EIO) ended a class's grading at its first line. Now the rest of the output goes nowhere,
    quietly, as a reader that quits asks. Into a file on a full disk (`> log`, `>/dev/full`: ENOSPC) stdout's output is lost:
    `lost` holds the one line that says so, which `main` prints and ends with status 2."""

    def __init__(self, stream) -> None:
        self._wrapped = stream  # the name tqdm's wrappers use, which reference.progress looks through
        self.lost: str | None = None

    def write(self, text: str) -> int:
        try:
            return self._wrapped.write(text)
        except OSError as err:
            self._gone(err)
            return len(text)

    def flush(self) -> None:
        if self._wrapped is None:
            return
        try:
            self._wrapped.flush()
        except OSError as err:
            self._gone(err)
        except ValueError:  # closed
            pass

    def _gone(self, err: OSError) -> None:
        import errno

        if self.lost is None and err.errno not in (errno.EPIPE, errno.EIO):  # the reader quit, or its terminal closed
            self.lost = (f"standard output could not be written ({err.strerror or type(err).__name__}): part of what this "
                         f"command printed is lost; send its output where it can be written (a disk with room), or to a terminal")
        try:  # the stream's buffer, flushed again at exit, goes nowhere instead of failing again
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._wrapped.fileno())
            os.close(null)
        except (OSError, ValueError):  # no file descriptor (a test's capture)
            pass

    def __getattr__(self, name: str):
        return getattr(self._wrapped, name)


@contextmanager
def _guarded_streams() -> Iterator[_GuardedStream]:
    """sys.stdout and sys.stderr as `_GuardedStream`s for the block (flushed when it ends), restored after; yields
    stdout's. A stream that is None (the command started with it closed, `>&-`: print writes nothing) stays None."""
    guards = {}
    for name in ("stdout", "stderr"):
        if (stream := getattr(sys, name)) is not None:
            guards[name] = _GuardedStream(stream)
            setattr(sys, name, guards[name])
    try:
        yield guards.get("stdout") or _GuardedStream(None)
    finally:
        for name, guard in guards.items():
            guard.flush()
            if getattr(sys, name) is guard:
                setattr(sys, name, guard._wrapped)


@contextmanager
def _printable_stdout() -> Iterator[None]:
    """Characters the encoding of stdout or stderr lacks print as escapes (\\xb1), not as a UnicodeEncodeError,
    and a path's undecodable bytes print as they came, on both streams.

    Where stdout is ASCII (PYTHONIOENCODING=ascii, or the C locale with PYTHONUTF8=0), 'KID: x ± y' or a
    run folder named in another alphabet ended the command in a traceback after its work was done. In the C or
    POSIX locale Python's stdout is ASCII with errors="surrogateescape", which writes a path's undecodable bytes
    back as they came but still fails on '±'; its stderr escapes everything (errors="backslashreplace"), so an
    error line named the folder 'dé' as 'd\\udcc3\\udca9'. On both, those bytes now go out as they came and other
    characters as escapes."""
    import codecs

    try:
        codecs.lookup_error(_ESCAPE)
    except LookupError:
        codecs.register_error(_ESCAPE, _escape_unencodable)
    changed = []
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        before = getattr(stream, "errors", None)
        if before not in ("strict", "surrogateescape", "backslashreplace") or not hasattr(stream, "reconfigure"):
            continue
        try:
            stream.reconfigure(errors="backslashreplace" if before == "strict" else _ESCAPE)
        except (ValueError, OSError):  # a closed or unusual stream: leave it as it is
            continue
        changed.append((name, stream, before))
    try:
        yield
    finally:
        for name, stream, before in changed:
            if getattr(sys, name) is stream:
                try:
                    stream.reconfigure(errors=before)
                except (ValueError, OSError):
                    pass


_ESCAPE = "gan-course.escape"


def _escape_unencodable(err: UnicodeError) -> tuple[bytes, int]:
    """Codec error handler: surrogate escapes (bytes a path held that the locale could not decode) as
    their bytes, like "surrogateescape"; every other character as a backslash escape."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = bytearray()
    for char in err.object[err.start : err.end]:
        code = ord(char)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else char.encode("ascii", "backslashreplace")
    return bytes(out), err.end


@contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Warnings print as 'gan-course: warning: MESSAGE' while the command runs, then as before."""
    before = warnings.formatwarning
    warnings.formatwarning = lambda message, *_args, **_kw: f"gan-course: warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = before


def _interrupted(args: argparse.Namespace, err: KeyboardInterrupt | None = None) -> str:
    """The line for Ctrl-C or SIGTERM: what stopped it, how to resume a training run, which folder it left."""
    what = f"stopped by {err.why}" if isinstance(err, Terminated) else "interrupted"
    if args.command == "autograde":
        if args.merge:
            return f"{what} during the merge; merge the same files again (a merge may run twice: it changes nothing the second time)"
        if kept := getattr(args, "kept", None):  # the records finished before the stop (reference.grading.command)
            path, done, total = kept
            return (f"{what}; the {done} of {total} submission(s) graded before the stop are kept in {path}: grade the other "
                    f"{total - done} and record them all with the same command and --resume {shlex.quote(path)}")
        return f"{what}; no grades were recorded (the grading processes were stopped); run the same command again"
    run = getattr(args, "run_dir", None)
    if run is None:
        return what
    if (Path(run) / "config.json").is_file():
        return f"{what}; resume the run with: gan-course train --resume {shlex.quote(str(run))}"
    return f"{what} before anything was saved in {run}; run the same command again"


if __name__ == "__main__":
    sys.exit(main())
