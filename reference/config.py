"""TrainConfig: every value a run needs, its defaults, and the named experiment configs.

A run's config is built in three layers: the defaults below, then a named config
(`reference/configs/NAME.toml`) or a TOML/JSON file given with --config, then the flags typed on
the command line. `config.json` in the run folder is the result, and rebuilds the run.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import sys
import typing
from dataclasses import Field, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from reference import paths
from reference.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_DIR = Path(__file__).parent / "configs"
DEVICES = ("auto", "cpu", "cuda", "mps")
OPTIMIZERS = ("adam", "rmsprop")
# Seeds every generator of the course takes (torch's take more, but the trainer adds offsets to them).
SEED_MIN, SEED_MAX = -(2**31), 2**32 - 1
# More threads than this is a typo (OpenMP crashes at 100,000); a recorded count stays valid on any machine.
MAX_THREADS = 1024
# The most samples one image holds (a 100x100 grid): `gan-course sample --n`, a run's --num-samples.
MAX_SAMPLES = 10_000
# The most samples per source of a metric (`gan-course fid/eval --n`, a run's --eval-samples): twice FID's
# customary 50,000 (Heusel et al. 2017). More only costs: precision and recall compare every pair of samples.
MAX_METRIC_SAMPLES = 100_000
# The fewest samples per source of a metric: improved precision and recall (k = 3) measure each sample's
# distance to its 3rd nearest other sample. Fewer ended in "k must be between 1 and N - 1", after training.
MIN_METRIC_SAMPLES = 4
METRIC_LIMIT = ("twice FID's customary 50,000; beyond it the scores barely move while precision and recall's time "
                "grows with the square")
# Classic bugs a run can reproduce on purpose, for lesson 08's clinic (reference/trainer.py):
FAULTS = {
    "no-detach": "D's loss is backpropagated into G too (fake not detached, G's gradients not cleared before its step)",
    "unit-range-data": "real images are fed in [0, 1] while G's tanh draws in [-1, 1]",
}


@dataclass
class TrainConfig:
    """Hyper-parameters of one run; the names are the DCGAN paper's and pytorch/examples'."""

    model: str = "dcgan"
    dataset: str = "digits"
    loss: str = "non-saturating"
    epochs: int = 30  # ~2 minutes for the default dcgan on digits on a 2-core CPU
    batch_size: int = 64
    lr: float = 2e-4
    lr_d: float | None = None  # discriminator learning rate; None = lr (a larger lr_d: TTUR, Heusel et al. 2017)
    optimizer: str = "adam"  # adam (with beta1, beta2) or rmsprop (the original WGAN's)
    beta1: float = 0.5
    beta2: float = 0.999
    nz: int | None = None  # None = the model's default
    ngf: int = 64
    ndf: int = 64
    image_size: int | None = None  # None = the model's choice for the dataset
    n_critic: int | None = None  # None = the loss's default (5 for wgan-gp, else 1)
    pack: int = 1  # PacGAN: D judges this many samples at once, concatenated (1 = plain D)
    minibatch_std: bool = False  # D appends the minibatch standard deviation before its last layer
    label_smoothing: float = 0.0  # one-sided: D's target for real images is 1 - s (logistic losses only)
    spectral_norm: bool = False  # every conv and linear layer of D spectrally normalised (Miyato et al. 2018)
    ema: float = 0.0  # samples and evaluation from an exponential moving average of G's weights with this decay (0 = off)
    weight_clip: float | None = None  # wgan only: clip D's weights to [-c, c]; None = the loss's 0.01
    fault: str | None = None  # reproduce a classic bug (lesson 08): no-detach or unit-range-data
    save_every: int = 10
    num_samples: int = 64
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    data_dir: str | None = None
    max_images: int | None = None  # train on the first N training images (None = all)
    eval_every: int = 0  # evaluate every N epochs (0 = never): classifier FID/KID/precision/recall, or mode coverage
    eval_samples: int = 2000  # generated (and at most as many real held-out) samples per evaluation
    progress: bool = True  # progress bars (--no-progress); a resumed run keeps the choice unless told otherwise
    threads: int | None = None  # CPU threads; None = chosen when the run starts (reference/cpu.py), then recorded

    def check_types(self, source: str = "TrainConfig") -> None:
        """Raise UserError naming the first value whose type is not its field's, and `source`.

        The types come from the field annotations: bool is not a number, an int is a fine float.
        """
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            types = typing.get_args(hints[f.name]) or (hints[f.name],)
            if not _fits(value, types):
                raise UserError(_type_message(f, value, types, source))

    def validate(self) -> None:
        """Raise UserError naming the first value of the wrong type or out of range."""
        self.check_types()
        for name in ("epochs", "batch_size", "save_every", "num_samples", "ngf", "ndf"):
            value = getattr(self, name)
            if value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {value!r}")
        if self.eval_every < 0:
            raise UserError(f"--eval-every must be a whole number >= 0 (0 = never), got {self.eval_every!r}")
        for name in ("nz", "image_size", "n_critic", "max_images", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {value!r}")
        if self.num_samples > MAX_SAMPLES:
            raise UserError(f"--num-samples must be a whole number from 1 to {MAX_SAMPLES} (the samples of one grid), got {self.num_samples!r}")
        if self.eval_samples < MIN_METRIC_SAMPLES:
            raise UserError(
                f"--eval-samples must be a whole number from {MIN_METRIC_SAMPLES} to {MAX_METRIC_SAMPLES:,} (precision and "
                f"recall measure each sample's distance to its 3rd nearest; thousands give steady scores), got {self.eval_samples!r}"
            )
        if self.eval_samples > MAX_METRIC_SAMPLES:
            raise UserError(
                f"--eval-samples must be a whole number from {MIN_METRIC_SAMPLES} to {MAX_METRIC_SAMPLES:,}: {METRIC_LIMIT}, "
                f"got {self.eval_samples!r}"
            )
        if self.threads is not None and self.threads > MAX_THREADS:
            raise UserError(f"--threads must be a whole number from 1 to {MAX_THREADS}, got {self.threads!r}")
        check_seed(self.seed)
        for name in ("lr", "lr_d", "beta1", "beta2", "label_smoothing", "ema", "weight_clip"):
            value = getattr(self, name)
            if value is not None and math.isinf(value):
                raise UserError(f"--{name.replace('_', '-')} must be a finite number, got {value!r}")
        for name in ("lr", "lr_d"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"--{name.replace('_', '-')} must be > 0, got {value!r}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"--{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.pack < 1:
            raise UserError(f"--pack must be a whole number >= 1 (1 = no packing), got {self.pack!r}")
        if self.batch_size % self.pack:
            lower = self.batch_size // self.pack * self.pack or self.pack
            raise UserError(
                f"--batch-size {self.batch_size} is not divisible by --pack {self.pack}; "
                f"use --batch-size {lower} or {lower + self.pack if lower < self.batch_size else 2 * lower}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"unknown optimizer {self.optimizer!r}{did_you_mean(self.optimizer, OPTIMIZERS)}; choose one of: {', '.join(OPTIMIZERS)}")
        if not 0 <= self.label_smoothing < 1:
            raise UserError(f"--label-smoothing must be in [0, 1) (e.g. 0.1), got {self.label_smoothing!r}")
        if not 0 <= self.ema < 1:
            raise UserError(f"--ema must be a decay in [0, 1) (e.g. 0.999; 0 = off), got {self.ema!r}")
        if self.weight_clip is not None and not self.weight_clip > 0:
            raise UserError(f"--weight-clip must be > 0 (e.g. 0.01), got {self.weight_clip!r}")
        from reference.losses import LOSSES  # get_loss's own error, raised later, names no close match

        if self.loss.strip().lower().replace("_", "-") not in LOSSES:
            raise UserError(f"unknown loss {self.loss!r}{did_you_mean(self.loss, LOSSES)}; choose one of: {', '.join(LOSSES)}")
        if self.fault is not None and self.fault not in FAULTS:
            raise UserError(f"unknown fault {self.fault!r}{did_you_mean(self.fault, FAULTS)}; choose one of: {', '.join(FAULTS)} (or leave it out)")
        if self.device not in DEVICES:
            raise UserError(f"unknown device '{self.device}'{did_you_mean(self.device, DEVICES)}; choose one of: {', '.join(DEVICES)}")
        if self.dataset == "folder:":
            # an empty path is the current folder: the refusal was "--out is inside the image folder" of it
            raise UserError("--dataset folder: names no folder; write --dataset folder:PATH, e.g. folder:~/dogs "
                            "(folder:. for the current folder)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a dict, rejecting unknown keys with the list of known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        tables = [k for k in unknown if isinstance(values[k], dict)]
        if tables:
            raise UserError(
                f"[{tables[0]}] in {source} is a section, but a config has none: "
                f"write its keys (e.g. epochs = 5) at the top of the file, without [{tables[0]}]"
            )
        if unknown:
            hints = [f"{k}{did_you_mean(k, known)}" for k in unknown]
            raise UserError(f"unknown key(s) {', '.join(hints)} in {source}; known keys: {', '.join(sorted(known))}")
        cfg = cls(**values)
        cfg.check_types(source)
        return cfg


_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def _fits(value: Any, types: tuple[type, ...]) -> bool:
    """Whether `value` may fill a field of `types` (e.g. (int, NoneType)); bools are no numbers."""
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, numbers.Integral) and (int in types or float in types):
        return True
    if isinstance(value, numbers.Real) and float in types:
        return True
    return any(isinstance(value, t) for t in types if t not in (bool, int, float))


def _type_message(f: Field, value: Any, types: tuple[type, ...], source: str) -> str:
    """'lr = "fast" in exp.toml should be a number (float); write e.g. lr = 0.0002 (the default)'."""
    wanted = next(t for t in types if t is not type(None))

    def assignment(v: Any) -> str:
        try:
            shown = json.dumps(v)
        except (TypeError, ValueError):
            shown = repr(v)
        return f'"{f.name}": {shown}' if source.endswith(".json") else f"{f.name} = {shown}"

    if wanted is bool:
        fix = f"write {assignment(True)} or {assignment(False)}"
    elif f.default is None:
        fix = f"write {_TYPE_NAMES[wanted]} or leave {f.name} out"
    else:
        fix = f"write e.g. {assignment(f.default)} (the default)"
    return f"{assignment(value)} in {source} should be {_TYPE_NAMES[wanted]} ({wanted.__name__}); {fix}"


def named_configs() -> dict[str, Path]:
    """The experiment configs shipped with the course, by name."""
    return {p.stem: p for p in sorted(CONFIG_DIR.glob("*.toml"))}


def read_config_file(name_or_path: str) -> dict[str, Any]:
    """Values from a named config ("mnist-mlp") or a .toml / .json file path."""
    path = named_configs().get(name_or_path) or Path(name_or_path).expanduser()
    if not paths.is_file(path):  # PermissionError inside a folder the user may not enter (reference.paths)
        raise UserError(
            f"config '{name_or_path}'{did_you_mean(name_or_path, named_configs())} is neither a named config "
            f"({', '.join(named_configs())}) nor a file; "
            f"pick a name or pass a .toml/.json path"
        )
    if path.suffix.lower() not in (".toml", ".json"):  # a checkpoint or an image passed by mistake, read as TOML, ran a default run
        raise UserError(
            f"config {path} is neither a .toml nor a .json file; pass a config file ending in .toml or .json, "
            f"or a named config ({', '.join(named_configs())})"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # TOML and JSON are UTF-8 on every machine; a Notepad BOM is skipped
        values = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as err:  # unreadable (permissions, a folder's race): its syntax is not the fault
        raise UserError(f"cannot read config {path}: {err.strerror or type(err).__name__}; make it readable, or pass "
                        f"another config") from None
    except ValueError as err:  # JSONDecodeError, TOMLDecodeError and a file that is not UTF-8 are ValueErrors
        raise UserError(f"cannot read config {path}: {str(err).splitlines()[0]}; fix the file's syntax") from None
    if not isinstance(values, dict):
        raise UserError(
            f"config {path} holds a JSON {type(values).__name__}, not an object of settings; "
            f'write e.g. {{"model": "mlp", "epochs": 5}}'
        )
    values.pop("description", None)
    return values


def did_you_mean(name: object, choices) -> str:
    """' (did you mean X?)' naming the choice closest to `name`, or '' when none is close (or `name` is one).

    Case and '_' for '-' are forgiven: the names of models, losses, datasets, devices, configs and config keys."""
    if not isinstance(name, str):
        return ""
    choices = [str(c) for c in choices]
    folded = {c.lower().replace("_", "-"): c for c in choices}
    key = name.strip().lower().replace("_", "-")
    close = [folded[key]] if key in folded else [folded[c] for c in difflib.get_close_matches(key, list(folded), 1)]
    return f" (did you mean {close[0]}?)" if close and close[0] != name else ""


def check_seed(seed: int, flag: str = "--seed") -> None:
    """UserError unless `seed` is a whole number the course's generators take."""
    if not SEED_MIN <= seed <= SEED_MAX:
        raise UserError(f"{flag} must be a whole number from {SEED_MIN} to {SEED_MAX}, got {seed}")
