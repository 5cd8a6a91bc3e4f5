"""One trainer for every model and loss: `train(TrainConfig(...), out_dir)`.

Each step follows pytorch/examples' DCGAN: update D on a real batch and a detached fake batch,
then (every n_critic D steps) update G through D on the same fake batch. With --pack m, D sees
real packs and fake packs of m samples each (PacGAN); --minibatch-std is built into D. The run
folder gets:

    config.json                   the TrainConfig, plus the resolved shape and nz
    metrics.csv, losses.png       one row per epoch: epoch, loss_d, loss_g, d_x, d_g_z, seconds, images_per_second
    samples/epoch_NNN.png         G(fixed noise) after epoch NNN, every save_every epochs and after the last
    checkpoints/epoch_NNN.pt      on the same schedule; checkpoints/last.pt after every epoch

Conditional models (cdcgan, cdcgan-proj) train on the dataset's labels: D sees real images with
their labels and fakes G(z, y) with labels y drawn uniformly; the sample grids' columns are the
classes. --label-smoothing, --spectral-norm, --ema and --lr-d (TTUR) are the stabilising tips of
lesson 08; --fault reproduces one of its classic bugs on purpose (reference/config.py FAULTS).

Single GPU:   gan-course train --model dcgan --dataset mnist --device cuda --amp
Several GPUs: torchrun --nproc_per_node=4 -m reference.cli train --model dcgan --dataset mnist
(each process trains on its own shard with its own batch of --batch-size; rank 0 writes files).
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import inspect
import io
import json
import os
import tempfile
import time
import warnings
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.nn.utils.parametrizations import spectral_norm
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from reference import paths
from reference.progress import tqdm

from reference.cache import expand_home
from reference.checkpoint import CheckpointError, rng_state, save_checkpoint, set_rng_state
from reference.config import DEVICES, MIN_METRIC_SAMPLES, TrainConfig, did_you_mean
from reference.cpu import cpu_training
from reference.data import Batches, from_model_range, load_dataset, to_model_range
from reference.data.mixtures import MIXTURES
from reference.data.sources import native_shape, resize_uint8
from reference.distributed import DistInfo, all_reduce_mean, barrier, init_distributed, shutdown
from reference.errors import UserError
from reference.io import write_text_atomic
from reference.losses import GANLoss, get_loss
from reference.models import get_model
from reference.models.mitigations import pack
from reference.plots import save_image_grid, save_loss_curves, save_points
from reference.workdir import RUNS_ENV, in_temporary_lesson_folder

METRIC_COLUMNS = ("epoch", "loss_d", "loss_g", "d_x", "d_g_z", "seconds", "images_per_second")


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda, else mps, else cpu; an explicit device that is missing is a UserError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = name.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise UserError(f"unknown device '{name}'{did_you_mean(name, DEVICES)}; choose one of: {', '.join(DEVICES)} (or cuda:N for GPU N)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} was requested but no CUDA GPU is visible; use --device auto or cpu")
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0; "
                        f"use --device cuda or cuda:0")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps was requested but Apple's MPS is not available; use --device auto or cpu")
    return torch.device(name)


def check_out_dir(out: Path, resume: bool, dataset: str | None = None) -> None:
    """Refuse a run folder that is a file, would lose files (non-empty without --resume), lies in the
    image folder of `dataset` (its samples would become training images) or cannot be written."""
    if paths.exists(out) and not paths.is_dir(out):  # PermissionError in a folder the user may not enter (reference.paths)
        raise UserError(f"--out {out} is a file, not a folder; choose a folder path (new or empty) for --out")
    if dataset is not None and dataset.startswith("folder:"):
        images = expand_home(dataset[len("folder:") :], "write the folder's full path").resolve()
        if out.resolve() == images or images in out.resolve().parents:
            raise UserError(
                f"--out {out} is inside the image folder {images} of --dataset {dataset}: the run's samples would "
                f"become training images; choose an --out outside it"
            )
    if not resume and paths.exists(out) and any(out.iterdir()):
        if not (out / "config.json").is_file():
            raise UserError(f"output folder {out} already holds files and is no run folder; choose a new --out (a new or empty folder)")
        raise UserError(f"output folder {out} already exists and is not empty; pass --resume {out} or choose a new --out")
    existing = out
    while not paths.exists(existing):
        existing = existing.parent
    try:  # os.access says yes to root even on read-only mounts such as /proc and /sys: try it
        if not existing.is_dir():
            raise NotADirectoryError(existing)
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".gan-course-probe-"))
    except OSError:
        if resume:  # --resume takes no --out: the run's folder itself must take files
            raise UserError(
                f"cannot write to {existing.absolute()}, so run {out} cannot train further there; make it writable, "
                f"or copy the run folder somewhere you can write to and --resume the copy"
            ) from None
        raise UserError(f"cannot write to {existing.absolute()}; choose an --out folder you can write to") from None


@contextmanager
def writing(path: Path, then: str):
    """Around writing run file `path`: an OSError (disk full, quota, permissions) becomes a one-line
    UserError naming the file and the fix, ending with `then` ("resume with --resume RUN")."""
    try:
        yield
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            problem, fix = ("no space left on device" if err.errno == errno.ENOSPC else "disk quota exceeded"), "free some space"
        elif err.errno == errno.EFBIG:  # past this shell's file-size limit (ulimit -f), not a folder's permissions
            problem, fix = "file too large", "raise this shell's file-size limit (ulimit -f unlimited, or ask for one on a cluster)"
        else:
            problem, fix = (err.strerror or str(err) or type(err).__name__).lower(), f"make sure {path.parent} is writable"
        if err.errno in (errno.ENOSPC, errno.EDQUOT) and in_temporary_lesson_folder(path):
            # a notebook's run in the lesson's temporary folder: no --resume to give, and the folder goes with the kernel
            then = (f"run the cell again, or set {RUNS_ENV} to a folder on a disk with space (os.environ['{RUNS_ENV}'] = "
                    f"'...' in a cell above WORK = lesson_folder(...)) and run the notebook again")
        raise UserError(f"{problem} while writing {path}; {fix}, then {then}") from None


class Run:
    """The state of one training run: models, optimizers, data and where files go."""

    def __init__(self, cfg: TrainConfig, out: Path, dist: DistInfo, device: torch.device, progress: bool = True) -> None:
        self.cfg, self.out, self.dist, self.device = cfg, out, dist, device
        self.spec = get_model(cfg.model)
        self.spec.check_options(cfg.pack, cfg.minibatch_std)  # before loading data
        self.loss = build_loss(cfg)
        self.nz = cfg.nz or self.spec.default_nz

        # a size the model cannot take is named before any image is read or resized to it
        self.spec.resolve_shape(native_shape(cfg.dataset, cfg.image_size), cfg.image_size)
        dataset = load_dataset(cfg.dataset, cfg.data_dir, image_size=cfg.image_size, seed=cfg.seed, progress=progress,
                               max_images=cfg.max_images)
        if cfg.max_images is not None and cfg.max_images < len(dataset):
            dataset = dataset.subset(cfg.max_images)
        self.shape = self.spec.resolve_shape(dataset.shape, cfg.image_size)
        if dataset.kind == "image" and dataset.shape != self.shape:
            dataset.data = resize_uint8(dataset.data, self.shape[-1])
        self.dataset_name = dataset.name
        self.num_classes: int | None = None
        if self.spec.conditional:
            if dataset.labels is None or not dataset.classes:
                raise UserError(f"model '{cfg.model}' is conditional and needs labels; dataset '{cfg.dataset}' has none: "
                                f"use a labelled dataset (digits, mnist, fashion-mnist, cifar10) or --model dcgan")
            self.num_classes = len(dataset.classes)
        # A conditional critic with a gradient penalty (wgan-gp) judges interpolates between real i and
        # fake i: they get one label when fake i is drawn for real i's label (the labels' distribution is
        # the data's either way). Other losses draw the fakes' labels uniformly.
        self.has_penalty = type(self.loss).penalty is not GANLoss.penalty
        # data in [0, 1] against a tanh G is the `unit-range-data` fault; otherwise the data matches G's range
        self.data_range = "sigmoid" if cfg.fault == "unit-range-data" else self.spec.output_range
        self.batches = Batches(dataset, cfg.batch_size, device, seed=cfg.seed, rank=dist.rank, world_size=dist.world_size,
                               labels=self.spec.conditional)

        torch.manual_seed(cfg.seed)
        G, D = self.spec.build(self.shape, self.nz, ngf=cfg.ngf, ndf=cfg.ndf, pack=cfg.pack, minibatch_std=cfg.minibatch_std,
                               num_classes=self.num_classes)
        if cfg.spectral_norm:
            D = with_spectral_norm(D)
        if self.has_penalty and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()):
            warnings.warn(
                f"--loss {cfg.loss} penalises the gradient of each sample's score, but D of --model {cfg.model} has "
                f"BatchNorm, which makes each score depend on the whole batch: the penalty no longer keeps the critic "
                f"1-Lipschitz and its estimate of W loses its meaning (lesson 06, exercise 4); use a critic without "
                f"BatchNorm such as --model mlp",
                stacklevel=2,
            )
        self.G, self.D = G.to(device), D.to(device)
        self.opt_g = make_optimizer(cfg, self.G, cfg.lr, device)
        self.opt_d = make_optimizer(cfg, self.D, cfg.lr_d or cfg.lr, device)
        # --ema: samples and evaluation come from a moving average of G's weights (and BatchNorm statistics)
        self.G_ema = AveragedModel(self.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True) if cfg.ema else None
        self.fixed_noise = torch.randn(cfg.num_samples, self.nz, generator=torch.Generator().manual_seed(cfg.seed))
        # a conditional grid has one column per class: sample i has label i mod K
        self.fixed_labels = torch.arange(cfg.num_samples) % self.num_classes if self.num_classes else None
        torch.manual_seed(cfg.seed + 7919 * dist.rank)  # ranks draw different z and dropout masks

        self.amp_dtype = _amp_dtype(cfg.amp, device)
        fp16 = self.amp_dtype == torch.float16
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=fp16)
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=fp16)
        self.history: list[dict] = []
        self.start_epoch = 0
        self.evaluator = Evaluator(cfg, dataset, progress) if cfg.eval_every and dist.is_main else None

        # DDP wraps the networks that step; checkpoints and sampling use the bare modules.
        self.G_train: nn.Module = self.G
        self.D_train: nn.Module = self.D
        if dist.enabled:
            ids = [device.index] if device.type == "cuda" else None
            self.G_train = DistributedDataParallel(self.G, device_ids=ids)
            self.D_train = DistributedDataParallel(self.D, device_ids=ids, **_buffers_not_synced_per_forward())

    # ----------------------------------------------------------------------------------------
    def restore(self, state: dict) -> None:
        """Load a checkpoint's weights, optimizers, RNG states and history."""
        try:
            self.G.load_state_dict(state["generator"])
            self.D.load_state_dict(state["discriminator"])
        except RuntimeError:
            raise CheckpointError(
                f"checkpoint in {self.out} does not match --model {self.cfg.model} at shape {self.shape}; "
                f"resume with the run's own settings or start a new run"
            ) from None
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.G_ema is not None:
            self.G_ema.module.load_state_dict(state["generator_ema"])
            self.G_ema.n_averaged.fill_(state["ema_updates"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        self.fixed_noise = state["fixed_noise"]
        self.history = list(state["history"])
        self.start_epoch = int(state["epoch"])
        set_rng_state(state["rng"])
        if self.dist.enabled:  # each rank continues its own noise stream
            torch.manual_seed(self.cfg.seed + 7919 * self.dist.rank + 104729 * self.start_epoch)

    def state(self, epoch: int) -> dict:
        return {
            "epoch": epoch,
            "config": self.cfg.to_dict(),
            "shape": list(self.shape),
            "nz": self.nz,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            **({"num_classes": self.num_classes} if self.num_classes else {}),
            **({"generator_ema": self.G_ema.module.state_dict(), "ema_updates": int(self.G_ema.n_averaged)} if self.G_ema else {}),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "rng": rng_state(),
            "fixed_noise": self.fixed_noise,
            "history": self.history,
        }

    # ----------------------------------------------------------------------------------------
    def train_epoch(self, epoch: int, bar: tqdm | None) -> dict:
        """Train one epoch (0-based index); returns its metrics row (epoch is 1-based)."""
        G, D, loss, cfg = self.G_train, self.D_train, self.loss, self.cfg
        m = cfg.pack  # D judges packs of m real or m fake samples (1: single samples)
        G.train()
        D.train()
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        sums = torch.zeros(4, device=self.device)  # loss_d, loss_g, d_x, d_g_z
        g_steps = 0
        n_batches = len(self.batches)
        start = time.perf_counter()
        no_detach = cfg.fault == "no-detach"
        for i, batch in enumerate(self.batches.epoch(epoch)):
            real_u8, y_real = batch if self.num_classes else (batch, None)
            real = to_model_range(real_u8, self.data_range)
            z = torch.randn(real.shape[0], self.nz, device=self.device)
            if self.num_classes:  # D sees real images with their labels, fakes with labels drawn here
                if self.has_penalty:  # fake i gets real i's label: the penalty's interpolate i has one label
                    y_fake = y_real
                else:
                    y_fake = torch.randint(self.num_classes, (real.shape[0],), device=self.device)
                G_, D_ = partial(G, y=y_fake), _Labelled(D, y_real, y_fake)
            else:
                G_, D_ = G, _Labelled(D)

            # (1) D step: maximise log D(x) + log(1 - D(G(z))) (or the chosen loss's equivalent)
            with autocast:
                fake = G_(z)
                fake_d = fake if no_detach else fake.detach()  # the fault: D's loss reaches G
                logits_real = D_.real(pack(real, m)).float()
                logits_fake = D_.fake(pack(fake_d, m)).float()
            loss_d = loss.d_loss(logits_real, logits_fake)
            penalty = loss.penalty(D_.fake, pack(real, m), pack(fake.detach(), m))
            if penalty is not None:
                loss_d = loss_d + penalty
            self.opt_d.zero_grad(set_to_none=True)
            if no_detach:  # G's gradients from D's loss stay for G's step (G's zero_grad forgotten too)
                self.opt_g.zero_grad(set_to_none=True)
            self.scaler_d.scale(loss_d).backward(retain_graph=no_detach)
            self.scaler_d.step(self.opt_d)
            self.scaler_d.update()
            loss.after_d_step(self.D)
            with torch.no_grad():
                sums[0] += loss_d.detach()
                sums[2] += loss.d_prob(logits_real).mean()
                sums[3] += loss.d_prob(logits_fake).mean()

            # (2) G step every n_critic D steps, through the updated D on the same fake batch
            if (epoch * n_batches + i + 1) % loss.n_critic == 0:
                with _frozen(D), autocast:
                    loss_g = loss.g_loss(D_.fake(pack(fake, m)).float())
                if not no_detach:
                    self.opt_g.zero_grad(set_to_none=True)
                self.scaler_g.scale(loss_g).backward()
                self.scaler_g.step(self.opt_g)
                self.scaler_g.update()
                if self.G_ema is not None:
                    self.G_ema.update_parameters(self.G)
                sums[1] += loss_g.detach()
                g_steps += 1
            if bar is not None:
                bar.update(1)
                if i % 10 == 0:
                    bar.set_postfix(epoch=epoch + 1, loss_D=f"{loss_d.item():.3f}", loss_G=f"{sums[1].item() / max(g_steps, 1):.3f}")
        synchronize(self.device)  # the epoch's queued GPU work is done: the seconds count all of it
        seconds = time.perf_counter() - start
        means = all_reduce_mean(sums, self.dist).tolist()
        return {
            "epoch": epoch + 1,
            "loss_d": means[0] / n_batches,
            "loss_g": means[1] / max(g_steps, 1),
            "d_x": means[2] / n_batches,
            "d_g_z": means[3] / n_batches,
            "seconds": round(seconds, 4),
            "images_per_second": round(n_batches * cfg.batch_size * self.dist.world_size / seconds, 2),
        }

    @property
    def G_sample(self) -> nn.Module:
        """The generator whose samples the run shows and scores: G, or its moving average (--ema)."""
        return self.G_ema.module if self.G_ema is not None else self.G

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """G(fixed noise) (and the fixed labels) in eval mode, on the CPU: images in [0, 1] or raw points."""
        G = self.G_sample
        G.eval()
        z = self.fixed_noise.to(self.device)
        with torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext():
            x = G(z) if self.fixed_labels is None else G(z, self.fixed_labels.to(self.device))
        G.train()
        return from_model_range(x.float(), self.spec.output_range).cpu()

    def write_epoch(self, epoch: int) -> None:
        """Rank 0: samples and checkpoint on schedule, last.pt, metrics.csv and losses.png.

        Each file is written atomically: a write that fails (disk full) leaves the previous version
        whole and raises a one-line UserError that says to resume the run.
        """
        number = epoch + 1
        then = f"resume with --resume {self.out}"
        if number % self.cfg.save_every == 0 or number == self.cfg.epochs:
            x = self.samples()
            path = self.out / "samples" / f"epoch_{number:03d}.png"
            with writing(path, then):
                if x.dim() == 4:
                    save_image_grid(x, path, nrow=self.num_classes)
                else:
                    means = MIXTURES[self.dataset_name].means if self.dataset_name in MIXTURES else None
                    save_points(x, path, means, title=f"{self.cfg.model} on {self.dataset_name}, epoch {number}")
            path = self.out / "checkpoints" / f"epoch_{number:03d}.pt"
            with writing(path, then):
                save_checkpoint(self.state(number), path)
        with writing(self.out / "checkpoints" / "last.pt", then):
            save_checkpoint(self.state(number), self.out / "checkpoints" / "last.pt")
        with writing(self.out / "metrics.csv", then):
            write_text_atomic(self.out / "metrics.csv", metrics_csv(self.history))
        with writing(self.out / "losses.png", then):
            save_loss_curves(self.history, self.out / "losses.png")


class Evaluator:
    """Scores G during training against held-out data (rank 0 only; --eval-every N).

    Images: FID, KID, precision and recall in the dataset's classifier's feature space, and for a
    conditional G how often the classifier labels G(z, y) as y (class_agreement) (train it
    once with `gan-course train-classifier --dataset D`), `eval_samples` generated images against
    at most as many test images, whose features are computed once here. Points (ring, grid): mode
    coverage of `eval_samples` points. The noise is seeded and separate from training's RNG.
    """

    def __init__(self, cfg: TrainConfig, dataset, progress: bool = True) -> None:
        from reference.metrics.evaluate import load_images
        from reference.metrics.features import get_extractor

        self.cfg = cfg
        self.mixture = MIXTURES.get(dataset.name) if dataset.kind == "points" else None
        if self.mixture is None:
            with torch.random.fork_rng(devices=[]):  # building the classifier draws weights: leave training's RNG alone
                self.extractor = get_extractor("classifier", cfg.dataset, cfg.data_dir)
            split = "train" if cfg.dataset.startswith("folder:") else "test"  # folders have no held-out split
            real = load_images(f"{cfg.dataset}:{split}", cfg.data_dir, n=cfg.eval_samples, seed=cfg.seed, progress=progress)
            if real.shape[0] < MIN_METRIC_SAMPLES:  # found after the first epoch, as "k must be between 1 and N - 1"
                raise UserError(
                    f"--eval-every scores samples against the {split} split of {cfg.dataset}, which holds {real.shape[0]} "
                    f"image(s); the metrics need at least {MIN_METRIC_SAMPLES}: add images, or drop --eval-every"
                )
            self.real_features = self.extractor.features(real)

    def __call__(self, G: nn.Module, spec, nz: int, device: torch.device) -> dict:
        from reference.metrics.coverage import mode_coverage
        from reference.metrics.evaluate import compare, sample_images

        fake = sample_images(G, spec, nz, self.cfg.eval_samples, seed=self.cfg.seed + 1, device=device)
        if self.mixture is not None:
            cov = mode_coverage(fake, self.mixture.means, self.mixture.std)
            return {"modes_covered": cov["modes_covered"], "high_quality": round(cov["high_quality_fraction"], 4)}
        scores = compare(None, fake, self.extractor, real_features=self.real_features, seed=self.cfg.seed)
        row = {k: round(scores[k], 6) for k in ("fid", "kid", "precision", "recall")}
        if spec.conditional:  # how often the classifier labels G(z, y) as y (sample i has label i mod K)
            from reference.metrics.coverage import class_agreement

            logits = self.extractor.logits(fake)
            y = torch.arange(len(fake)) % logits.shape[1]
            row["class_agreement"] = round(class_agreement(logits, y, logits.shape[1]), 6)
        return row


def saved_epochs(run_dir: str | Path, kind: str = "samples") -> list[Path]:
    """A run's samples/epoch_NNN.png (kind="samples") or checkpoints/epoch_NNN.pt (kind="checkpoints"),
    in epoch order: epoch_1000 comes after epoch_999, which a sort by name would not do."""
    def number(path: Path) -> int:
        digits = path.stem.removeprefix("epoch_")
        return int(digits) if digits.isdigit() else -1
    files = Path(run_dir, kind).glob("epoch_*.png" if kind == "samples" else "epoch_*.pt")
    return sorted((f for f in files if number(f) >= 0), key=number)


def metrics_csv(history: list[dict]) -> str:
    """The metrics rows as CSV text with a header: the fixed columns, then evaluation columns."""
    extra = [k for row in history for k in row if k not in METRIC_COLUMNS]
    columns = list(METRIC_COLUMNS) + list(dict.fromkeys(extra))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def train(
    cfg: TrainConfig, out: str | os.PathLike, *, state: dict | None = None, progress: bool | None = None, restart: bool = False
) -> Path:
    """Train `cfg` into run folder `out` and return it.

    state: a checkpoint from `load_checkpoint` (the run's last.pt) to resume from; the run
    continues at state["epoch"] + 1 and ends after cfg.epochs. restart: `out` is a run that
    stopped before its first checkpoint (config.json, no last.pt): train it again from epoch 1 in
    place. progress: show progress bars (None: cfg.progress).
    """
    cfg.validate()
    out = Path(out)
    progress = cfg.progress if progress is None else progress
    check_out_dir(out, resume=state is not None or restart, dataset=cfg.dataset)
    if state is not None and state["epoch"] >= cfg.epochs:
        raise UserError(
            f"run {out} already has {state['epoch']} epochs; pass --epochs N with N > {state['epoch']} to train further"
        )
    device = resolve_device(cfg.device)
    if state is not None and cfg.threads is None and isinstance(state.get("config"), dict) and state["config"].get("threads"):
        cfg = dataclasses.replace(cfg, threads=int(state["config"]["threads"]))  # a resumed run keeps its count
    # On the CPU: denormals flushed to zero (5x faster DCGAN steps) and a thread count that suits
    # the machine's load when the run starts, both restored on return (reference/cpu.py)
    with cpu_training(device.type, cfg.threads, large=large_steps(cfg)) as threads:
        if threads is not None:  # recorded in config.json and the checkpoints: a resumed run keeps it
            cfg = dataclasses.replace(cfg, threads=threads)
        return _train(cfg, out, device, state, progress, restart)


def large_steps(cfg: TrainConfig) -> bool:
    """Whether a run's steps are few long operations (reference/cpu.py, 3.): a convolutional image
    model at ngf >= 32, such as the default DCGAN; not the MLPs, nor a DCGAN a quarter wide."""
    return cfg.model not in ("mlp", "mlp2d") and cfg.ngf >= 32


def _train(cfg: TrainConfig, out: Path, device: torch.device, state: dict | None, progress: bool, restart: bool) -> Path:
    """The body of `train()` once its arguments are checked."""
    dist = init_distributed(device)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    run = None
    try:
        run = Run(cfg, out, dist, device, progress=progress and dist.is_main)
        if state is not None:
            run.restore(state)
        if dist.is_main:
            out.mkdir(parents=True, exist_ok=True)
            for stale in out.glob("**/.*.tmp*"):  # left by a run killed while writing a file
                stale.unlink()
            config = {**cfg.to_dict(), "shape": list(run.shape), "nz": run.nz, "world_size": dist.world_size,
                      **({"num_classes": run.num_classes} if run.num_classes else {})}
            then = f"resume with --resume {out}" if state is not None or restart else "run the same command again"
            with writing(out / "config.json", then):
                write_text_atomic(out / "config.json", json.dumps(config, indent=2) + "\n")
        total = cfg.epochs * len(run.batches)
        bar = tqdm(total=total, initial=run.start_epoch * len(run.batches), unit="batch", desc=f"{cfg.model} on {run.dataset_name}",
                   disable=not (progress and dist.is_main), dynamic_ncols=True)
        for epoch in range(run.start_epoch, cfg.epochs):
            row = run.train_epoch(epoch, None if bar.disable else bar)  # a hidden bar costs no GPU syncs
            if run.evaluator is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
                row.update(run.evaluator(run.G_sample, run.spec, run.nz, run.device))
            run.history.append(row)
            if dist.is_main:
                run.write_epoch(epoch)
            barrier(dist)
        bar.close()
    finally:
        if run is not None:  # DDP's wrappers hold the process group: let it go with them (shutdown)
            run.G_train, run.D_train = run.G, run.D
        shutdown(dist)
    return out


def build_loss(cfg: TrainConfig):
    """The run's GANLoss: --loss with --n-critic, --label-smoothing and --weight-clip where given.

    A tip that the loss cannot take is a one-line UserError naming the losses that can.
    """
    options: dict[str, float] = {}
    if cfg.n_critic:
        options["n_critic"] = cfg.n_critic
    key = cfg.loss.strip().lower().replace("_", "-")
    if cfg.label_smoothing:
        if key not in ("minimax", "non-saturating", "log-sigmoid"):
            raise UserError(f"--label-smoothing applies to the logistic losses (minimax, non-saturating), not --loss {cfg.loss}; "
                            f"drop it or change --loss")
        options["smoothing"] = cfg.label_smoothing
    if cfg.weight_clip is not None:
        if key != "wgan":
            raise UserError(f"--weight-clip applies to --loss wgan only, not --loss {cfg.loss}; drop it or use --loss wgan")
        options["clip"] = cfg.weight_clip
    return get_loss(cfg.loss, **options)


def make_optimizer(cfg: TrainConfig, net: nn.Module, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam(lr, betas=(beta1, beta2)) or RMSprop(lr) (--optimizer) over net's parameters."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(net.parameters(), lr=lr)
    # One fused kernel per step instead of a loop over parameters (a third of an MLP step on a CPU).
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(cfg.beta1, cfg.beta2), fused=fused)


def with_spectral_norm(D: nn.Module) -> nn.Module:
    """D with every Conv2d and Linear layer spectrally normalised (Miyato et al. 2018), in place.

    Each such weight W is used as W / sigma(W), sigma its largest singular value estimated by one
    power iteration per training forward pass (torch.nn.utils.parametrizations.spectral_norm).
    """
    for module in list(D.modules()):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            spectral_norm(module)
    return D


class _Labelled:
    """D as the losses call it: `real(x)` and `fake(x)` add the batch's labels for a conditional D."""

    def __init__(self, D: nn.Module, y_real: torch.Tensor | None = None, y_fake: torch.Tensor | None = None) -> None:
        self.D, self.y_real, self.y_fake = D, y_real, y_fake

    def real(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(x) if self.y_real is None else self.D(x, self.y_real)

    def fake(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(x) if self.y_fake is None else self.D(x, self.y_fake)


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on `device`: CUDA and Apple's MPS run it asynchronously, so a clock read
    without waiting counts only the work the CPU has queued, not the work done. Nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _amp_dtype(amp: bool, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on GPUs that support it, else fp16 (with GradScaler); None = full precision.

    On other devices --amp is ignored, with a warning (bf16 matmuls on most CPUs are slower than fp32).
    """
    if amp and device.type != "cuda":
        warnings.warn(f"--amp needs a CUDA GPU; training in full precision on {device.type}", stacklevel=2)
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _buffers_not_synced_per_forward() -> dict:
    """DDP's keyword that stops it broadcasting rank 0's buffers before every forward of D.

    D runs forward two or three times before one backward (D(x), D(G(z)), and WGAN-GP's interpolates).
    In torch 2.6-2.11 that broadcast copies into BatchNorm's running statistics in place, which autograd
    saved at the earlier forward, so the backward fails ("modified by an inplace operation",
    pytorch/pytorch#175024). D trains in train mode, where BatchNorm uses the batch's own statistics and
    never reads the running ones, so each rank may keep its own; they start equal (BatchNorm's zeros and
    ones, or the checkpoint every rank resumes from) and rank 0's are the ones saved. torch 2.13 renamed
    the keyword."""
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


@contextmanager
def _frozen(D: nn.Module):
    """D's parameters need no gradient during G's step: skip computing them.

    Under DDP the parameters stay live (the reducer expects them) and no_sync() skips the
    gradient all-reduce instead; D's gradients are cleared before its next step either way.
    """
    if isinstance(D, DistributedDataParallel):
        with D.no_sync():
            yield
        return
    params = [p for p in D.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
