"""The training engine: one run of a YAML config, with the answers it is given (``{name: object}``).

``python -m ganlab train`` passes the student's answers, ``python -m ganlab_solution train`` the reference's
plus its :class:`Extensions`. A run writes ``config.yaml``, TensorBoard events, ``samples/epoch_NNN.png``,
``checkpoint.pt`` and ``generator.onnx`` into its folder; under ``torchrun`` only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import copy
import io
import random
import shutil
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from . import distributed
from .checkpoints import CHECKPOINT, save_checkpoint
from .config import Config, ModelConfig, dump_config, load_config, parse_config
from .cuda_graphs import GraphedStep
from .data import ImgShape, image_shape, make_loaders
from .errors import GanlabError, Interrupted, NoSpaceError
from .exercises import EXERCISES, NOTEBOOKS
from .files import atomic_write, onnx_in_one_file
from .grids import write_grid
from .harness import (
    FAKE,
    REAL,
    Harness,
    LogitRecorder,
    Metrics,
    batches,
    count_parameters,
    init_weights,
    one_score,
    training_step,
)
from .runfolder import RunFolderLocked, locked_run_folder, new_run_dir

ONNX_NAME = "generator.onnx"
ANSWERS_FILE = "answers.txt"  # the student's notebooks folder, so that --resume RUN_DIR finds the answers again
STUDENT_COMMAND = "python -m ganlab train"
# Notebook 1's pixel mapping and every answer of notebooks 2 to 5; notebook 7's for optim.loss: hinge.
LAB_ANSWERS = ("to_unit_range", *(name for e in EXERCISES if e.notebook in NOTEBOOKS[1:5] for name in e.names))
HINGE_ANSWERS = tuple(name for e in EXERCISES if e.notebook == NOTEBOOKS[6] for name in e.names)


def answer_names(config: Config) -> tuple[str, ...]:
    """The answers a run of ``config`` trains with."""
    return LAB_ANSWERS + (HINGE_ANSWERS if config.optim.loss == "hinge" else ())


# -- the losses, chosen in one place --------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """One adversarial loss: what the critic and the generator minimise, the critic's outputs per image, and a
    ``penalty(critic, real, fake, weight)`` added to the critic's loss (in float32), if any."""

    critic: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]
    outputs: int = 1
    penalty: Callable[[nn.Module, torch.Tensor, torch.Tensor, float], torch.Tensor] | None = None


def score_accuracy(logits: torch.Tensor, cls: int) -> torch.Tensor:
    """Share of images a one-score critic (hinge, Wasserstein) assigns to ``cls``: positive means real."""
    return ((one_score(logits) > 0) == (cls == REAL)).float().mean()


@dataclass(frozen=True)
class Extensions:
    """What the instructor's package adds to the answers: ResNet ``networks``, a ``prepare_critic`` (spectral
    norm...), more ``objectives`` (``wgan-gp``); see ``ganlab_solution.trainer.EXTENSIONS``."""

    networks: Callable[[Config, ImgShape, int], tuple[nn.Module, nn.Module]] | None = None
    prepare_critic: Callable[[nn.Module, Config], None] | None = None
    objectives: Mapping[str, Objective] = field(default_factory=dict)


def objective_of(config: Config, answers: Mapping[str, Any], extensions: Extensions) -> Objective:
    """The :class:`Objective` that ``config.optim.loss`` names, built from the answers (and the ``extensions``')."""
    table = {"bce": Objective(answers["critic_loss"], answers["generator_loss"], outputs=2)}
    if all(name in answers for name in HINGE_ANSWERS):
        hinge_critic, hinge_generator = (answers[name] for name in HINGE_ANSWERS)
        table["hinge"] = Objective(
            lambda real, fake, _smooth: hinge_critic(one_score(real), one_score(fake)),
            lambda fake: hinge_generator(one_score(fake)),
        )
    table.update(extensions.objectives)
    if config.optim.loss not in table:
        raise GanlabError(
            f"optim.loss: {config.optim.loss!r} belongs to the scaling track, which the instructor's package trains "
            f"(python -m ganlab_solution train): use {' or '.join(table)}"
        )
    return table[config.optim.loss]


# -- the networks -----------------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanlabError(f"device: {name!r} is not a device name: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanlabError(f"device: {name!r} asked for but no CUDA GPU is visible: use device: auto or cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise GanlabError(f"device: {name!r} but only {torch.cuda.device_count()} GPUs are visible: use cuda:0")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def generator_start_size(size: int) -> tuple[int, int]:
    """The (start size, number of doublings) that reach ``size`` from 7 or 8: 28 -> (7, 2), 64 -> (8, 3)."""
    start, doublings = size, 0
    while start > 8 and start % 2 == 0:
        start //= 2
        doublings += 1
    if start not in (7, 8):
        raise GanlabError(
            f"model: the generator cannot make {size}x{size} images: the size must be 7 or 8 times a power "
            "of two (28, 32, 56, 64, 128...)"
        )
    return start, doublings


def check_image_size(img_shape: ImgShape, model: ModelConfig) -> None:
    """Raise :class:`GanlabError` for images the lab's generator cannot make (it doubles 7 or 8 up to their size)."""
    _, height, width = img_shape
    if height != width:
        raise GanlabError(f"model: the generator makes square images, got {height}x{width}")
    _, doublings = generator_start_size(height)
    if model.generator_base_c >> doublings < 1:
        raise GanlabError(
            f"model: base_c={model.generator_base_c} is too small for {doublings} halvings of the channels"
        )


def build_gan(config: Config, img_shape: ImgShape, answers: Mapping[str, Any], extensions: Extensions) -> nn.Module:
    """The GAN that ``config.model`` describes for ``img_shape`` (and for the loss it trains with)."""
    m = config.model
    outputs = objective_of(config, answers, extensions).outputs
    if (m.architecture == "resnet" or m.spectral_norm) and extensions.networks is None:
        raise GanlabError(
            "model: architecture: resnet and spectral_norm belong to the scaling track, which the instructor's "
            "package trains (python -m ganlab_solution train): remove them for your own run"
        )
    if m.architecture == "resnet":
        critic, generator = extensions.networks(config, img_shape, outputs)  # type: ignore[misc]
    else:
        check_image_size(img_shape, m)
        critic = answers["Discriminator"](img_shape, m.dropout, m.discriminator_base_c, m.dnoise, outputs)
        generator = answers["Generator"](img_shape, m.latent_size, m.generator_base_c)
        critic.apply(init_weights)
        generator.apply(init_weights)
        if m.upsample_mode == "nearest":
            for module in generator.modules():
                if isinstance(module, nn.Upsample):
                    module.mode, module.align_corners = "nearest", None
    if extensions.prepare_critic is not None:
        extensions.prepare_critic(critic, config)
    # The lab's GAN class (its forward) around these networks, without building its own.
    gan = answers["GAN"].__new__(answers["GAN"])
    nn.Module.__init__(gan)
    gan.discriminator, gan.generator, gan.latent_size = critic, generator, generator.latent_size
    return gan


def _set_options(optimizer: torch.optim.Optimizer, **options: Any) -> None:
    """Set ``options`` (lr, fused, capturable) on every param group: Adam reads them at each step."""
    optimizer.defaults.update(options)
    for group in optimizer.param_groups:
        group.update(options)


def _channels_last_features(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    # CUDA's bilinear upsampling kernel for the default layout is many times slower.
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


class EpochStats(dict):
    """Running ``(sum, count)`` of each per-step metric, the sums kept on the device to avoid syncs."""

    def add(self, **values: Any) -> None:
        for key, value in values.items():
            total, count = self.get(key, (0.0, 0))
            self[key] = total + (value.detach().float() if torch.is_tensor(value) else float(value)), count + 1

    def means(self) -> dict[str, float]:
        return {key: float(total / count) for key, (total, count) in self.items()}


class Trainer:
    """The networks, optimizers, data and run folder (default: a new one under ``logging.logdir``) of one run of
    ``config`` with ``answers``; ``device`` overrides the config's (``--device``: a GPU run can go on on a CPU),
    ``answers_from`` is kept in the folder."""

    def __init__(
        self,
        config: Config,
        answers: Mapping[str, Any],
        *,
        extensions: Extensions | None = None,
        run_dir: Path | None = None,
        quiet: bool = False,
        answers_from: str | Path | None = None,
        device: str | None = None,
    ) -> None:
        if device is not None:
            config = parse_config({**config.model_dump(), "device": device}, "--device")
        self.config, self.answers, self.answers_from = config, answers, answers_from
        self.extensions = extensions or Extensions()
        self.dist, self.device = distributed.setup(resolve_device(config.device))
        if self.device.type == "cuda":
            # Shapes are fixed from batch to batch: let cuDNN time its algorithms once.
            torch.backends.cudnn.benchmark = True
        self.quiet = quiet or not self.dist.is_main
        self.objective = objective_of(config, answers, self.extensions)
        self.accuracy = answers["critic_accuracy"] if self.objective.outputs == 2 else score_accuracy
        # Ranks start from the same weights (DDP broadcasts rank 0's) but draw their own noise.
        seed_everything(config.seed + self.dist.rank)
        # Build the model first: an impossible image size fails before any data is read.
        self.gan = build_gan(config, image_shape(config.data), answers, self.extensions).to(self.device)
        self.loaders = make_loaders(
            config.data, config.seed, answers["to_unit_range"], self.device, self.dist.rank, self.dist.world_size
        )
        nbatches = len(self.loaders.train)
        if nbatches == 0:
            raise GanlabError(f"data.batch_size {config.data.batch_size} is larger than the training set: lower it")
        if config.optim.critic_steps > nbatches * config.optim.nepochs:
            raise GanlabError(
                f"optim.critic_steps {config.optim.critic_steps} is more than the {nbatches * config.optim.nepochs} "
                f"batches of the whole run ({config.optim.nepochs} epochs of {nbatches}): the generator would never "
                "train; lower critic_steps or raise optim.nepochs"
            )
        optim = config.optim
        self.memory_format = torch.channels_last if optim.channels_last else torch.contiguous_format
        if optim.channels_last:
            self.gan.to(memory_format=self.memory_format)
            blocks = getattr(self.gan.generator, "blocks", None)
            if isinstance(blocks, nn.Module):
                blocks.register_forward_pre_hook(_channels_last_features)
        self.critic_opt, self.gen_opt = answers["make_optimizers"](self.gan, config.critic_lr, optim.wdecay)
        _set_options(self.gen_opt, lr=config.generator_lr)  # the two time-scale rule (TTUR)
        if self.device.type == "cuda":
            # Fused updates (one kernel each); capturable keeps the step count on the GPU for CUDA graphs.
            for optimizer in (self.critic_opt, self.gen_opt):
                _set_options(optimizer, fused=True, capturable=optim.cuda_graph)
        # The lab's own steps when the config asks for nothing beyond the lab.
        self.lab_steps = config.optim.loss == "bce" and not (
            optim.amp or optim.channels_last or optim.compile or optim.cuda_graph or self.dist.enabled
        )
        self._wrap_networks()
        self.update_critic = self.lab_update_critic if self.lab_steps else self.fast_update_critic
        self.update_generator = self.lab_update_generator if self.lab_steps else self.fast_update_generator
        self._critic_update, self._generator_update = self.update_critic, self.update_generator
        if optim.cuda_graph:
            if self.device.type != "cuda":
                raise GanlabError("optim.cuda_graph needs a CUDA device: set it to false for CPU runs")
            if self.dist.enabled:
                raise GanlabError("optim.cuda_graph is not supported under torchrun: set it to false")
            self._critic_update = GraphedStep(self.fast_update_critic)
            self._generator_update = GraphedStep(self.fast_update_generator)
        self.harness = Harness(
            self.gan,
            self._critic_update,
            self._generator_update,
            self.loaders.train,
            config.model.latent_size,
            ema_decay=optim.ema,
            optimizers={"critic": self.critic_opt, "generator": self.gen_opt},
            seed=config.seed,
            device=self.device,
        )
        # Updates are counted across epochs, so critic_steps larger than an epoch still trains the generator.
        self.epoch = self.critic_updates = self.generator_updates = self.unreadable = 0
        if self.dist.is_main and run_dir is None:
            run_dir = new_run_dir(config.logging.logdir, config.data.dataset)
        self.run_dir: Path = distributed.broadcast_object(run_dir, self.dist)
        self.writer: Any = None

    def _wrap_networks(self) -> None:
        """Compiled and/or DDP views of the networks for the accelerated steps (``self.gan`` keeps the plain
        modules). Only the network being trained goes through DDP, so gradients are averaged exactly once."""
        critic, generator = self.gan.discriminator, self.gan.generator
        if self.dist.enabled:
            if self.config.model.sync_batchnorm:
                if self.device.type != "cuda":
                    raise GanlabError("model.sync_batchnorm needs CUDA GPUs: set it to false for CPU runs")
                critic = nn.SyncBatchNorm.convert_sync_batchnorm(critic)
                generator = nn.SyncBatchNorm.convert_sync_batchnorm(generator)
                self.gan.discriminator, self.gan.generator = critic, generator
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.critic_train: Callable = DistributedDataParallel(critic, device_ids=ids)
            self.generator_train: Callable = DistributedDataParallel(generator, device_ids=ids)
        if self.config.optim.compile:
            critic, generator = torch.compile(critic), torch.compile(generator)
        self.critic, self.generator = critic, generator
        if not self.dist.enabled:
            self.critic_train, self.generator_train = critic, generator

    # -- one batch --------------------------------------------------------------
    def lab_update_critic(self, real: torch.Tensor) -> Metrics:
        """The answers' ``critic_step``; the critic's accuracies read from what it output meanwhile."""
        recorder = LogitRecorder(self.gan.discriminator)
        try:
            loss = self.answers["critic_step"](self.gan, self.critic_opt, real, self.config.optim.lblsmooth)
        finally:
            recorder.remove()
        return {"critic_loss": loss, **recorder.accuracies(real, self.accuracy)}

    def lab_update_generator(self, batch: int) -> Metrics:
        """The answers' ``generator_step``, with the critic's weights frozen (they need no gradient)."""
        with self._critic_frozen():
            return {"generator_loss": self.answers["generator_step"](self.gan, self.gen_opt, batch)}

    @contextmanager
    def _critic_frozen(self) -> Iterator[None]:
        # Gradients flow through the critic to the images, but its own weights need none.
        self.gan.discriminator.requires_grad_(False)
        try:
            yield
        finally:
            self.gan.discriminator.requires_grad_(True)

    def autocast(self) -> Any:
        """bf16 autocast when ``optim.amp`` is set; no weight-cast cache under CUDA graphs (a replay would reuse it)."""
        return torch.autocast(
            self.device.type,
            dtype=torch.bfloat16,
            enabled=self.config.optim.amp,
            cache_enabled=not self.config.optim.cuda_graph,
        )

    def _accuracies(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, prefix: str) -> Metrics:
        return {
            f"{prefix}_acc_real": self.accuracy(real_logits, REAL),
            f"{prefix}_acc_fake": self.accuracy(fake_logits, FAKE),
        }

    def fast_update_critic(self, real: torch.Tensor) -> Metrics:
        """Update the critic, e.g. for BCE: minimise 1/2 [BCE(D(x), real) + BCE(D(G(z)), fake)]."""
        batch = real.shape[0]
        real = real.contiguous(memory_format=self.memory_format)
        with torch.no_grad(), self.autocast():
            # The critic step does not train G: no graph through the generator.
            fake = self.generator(None, batch).to(real.dtype).contiguous(memory_format=self.memory_format)
        # Separate batches (as in the lab): with BatchNorm, a mixed batch would normalise fakes
        # differently than the generator step, which sees fakes alone, and training collapses.
        with self.autocast():
            real_logits = self.critic_train(real).float()
            fake_logits = self.critic_train(fake).float()
        loss = self.objective.critic(real_logits, fake_logits, self.config.optim.lblsmooth)
        if self.objective.penalty is not None:
            # In fp32: the penalty differentiates a gradient, bf16 is too coarse for that.
            loss = loss + self.objective.penalty(
                self.critic_train, real.float(), fake.float(), self.config.optim.gp_weight
            )
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return {"critic_loss": loss, **self._accuracies(real_logits, fake_logits, "critic")}

    def fast_update_generator(self, batch: int) -> Metrics:
        """Update the generator, e.g. for BCE: minimise BCE(D(G(z)), real) with fresh z."""
        with self._critic_frozen():
            with self.autocast():
                fake = self.generator_train(None, batch).contiguous(memory_format=self.memory_format)
                logits = self.critic(fake).float()
            loss = self.objective.generator(logits)
            self.gen_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.gen_opt.step()
        return {"generator_loss": loss}

    def step(self, real: torch.Tensor) -> Metrics:
        """One :func:`ganlab.harness.training_step`, the generator (and EMA, outside any CUDA graph) trained at
        every ``optim.critic_steps``-th critic update of the run."""
        train_generator = (self.critic_updates + 1) % self.config.optim.critic_steps == 0
        metrics = training_step(real, self._critic_update, self._generator_update, self.harness.ema, train_generator)
        self.critic_updates += 1
        self.generator_updates += int(train_generator)
        self.harness.step += 1
        return metrics

    # -- one epoch --------------------------------------------------------------
    def batches(self) -> Any:
        """Real batches on the device; streamed loaders also report unreadable files."""
        sampler = getattr(self.loaders.train, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)  # a new shuffle per epoch under DistributedSampler

        def count(unreadable: int) -> None:
            self.unreadable += unreadable

        return batches(self.loaders.train, self.device, count)

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training set; returns the mean metrics (GanlabError if no batch could be read)."""
        self.gan.train()
        stats = EpochStats()
        bar = tqdm(
            self.batches(),
            total=len(self.loaders.train),
            desc=f"epoch {self.epoch + 1}/{self.config.optim.nepochs}",
            leave=False,
            # None: no bar when stderr is not a terminal (batch jobs' logs, error output).
            disable=True if self.quiet else None,
            dynamic_ncols=True,
        )
        for index, real in enumerate(bar):
            stats.add(**self.step(real))
            if index % 25 == 0 and not self.quiet:
                bar.set_postfix(d_loss=f"{stats.means()['critic_loss']:.3f}")
        if "critic_loss" not in stats:
            raise GanlabError(
                f"epoch {self.epoch + 1} had no readable image ({self.unreadable} unreadable files skipped) in "
                f"{self.config.data.rootdir}: check that its images open, or point data.rootdir elsewhere"
            )
        return stats.means()

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Critic accuracy on held-out real images and on as many fresh fakes (eval mode)."""
        self.gan.eval()
        stats = EpochStats()
        for real in batches(self.loaders.valid, self.device):
            with self.autocast():
                real_logits = self.critic(real.contiguous(memory_format=self.memory_format)).float()
                fake_logits = self.critic(self.generator(None, real.shape[0])).float()
            stats.add(**self._accuracies(real_logits, fake_logits, "valid"))
            if self.config.optim.loss == "bce":
                stats.add(valid_critic_loss=self.answers["critic_loss"](real_logits, fake_logits, 0.0))
        return stats.means()

    # -- files ------------------------------------------------------------------
    def export_onnx(self, path: Path) -> Path:
        """Export a CPU float32 copy of the harness's ``export_model()`` to ``path`` with the answers'
        ``export_generator``: one file, atomically, the random state put back (a resumed run reproduces)."""
        export = self.answers["export_generator"]
        model = copy.deepcopy(self.harness.export_model()).float().cpu().eval()

        def write(tmp: Path) -> None:
            # The exporter prints progress lines and warns about its own internals: keep logs clean.
            with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(io.StringIO()):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    export(model, str(tmp))
            onnx_in_one_file(tmp)

        atomic_write(path, write)
        return path

    def checkpoint(self) -> dict[str, Any]:
        """The harness's checkpoint (networks, EMA, optimizers, fixed noise, random states) and the run's place."""
        state = self.harness.checkpoint()
        loader_rng = getattr(self.loaders.train, "generator", None)
        state["rng"]["data"] = loader_rng.get_state() if loader_rng is not None else None
        state.update(
            epoch=self.epoch,
            critic_updates=self.critic_updates,
            generator_updates=self.generator_updates,
            config=self.config.model_dump(),
            img_shape=self.loaders.img_shape,
        )
        return state

    def load_checkpoint(self, path: Path) -> None:
        """Restore models, optimizers, epoch and every RNG from ``path``."""
        counters = ("epoch", "critic_updates", "generator_updates")
        state = self.harness.resume(path, needed=set(counters))
        self.epoch, self.critic_updates, self.generator_updates = (state[key] for key in counters)
        if self.dist.enabled:
            # Rank 0's generator states are not this rank's: re-seed per rank and epoch.
            seed_everything(self.config.seed + self.dist.rank + 1000 * self.epoch)
            return
        loader_rng = getattr(self.loaders.train, "generator", None)
        if state["rng"].get("data") is not None and loader_rng is not None:
            loader_rng.set_state(state["rng"]["data"].cpu())

    def save_epoch_outputs(self, metrics: dict[str, float]) -> None:
        """Scalars, sample grid (TensorBoard and PNG), checkpoint and ONNX for this epoch."""
        epoch = self.epoch
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, epoch)
        grid = self.harness.sample_grid()
        self.writer.add_image("samples", grid, epoch)
        write_grid(grid, self.run_dir / "samples" / f"epoch_{epoch:03d}.png")
        save_checkpoint(self.run_dir / CHECKPOINT, self.checkpoint())
        every = self.config.logging.onnx_every
        if epoch == self.config.optim.nepochs or (every and epoch % every == 0):
            if self.generator_updates:
                self.export_onnx(self.run_dir / ONNX_NAME)
            else:  # an untrained generator must never look like a trained one
                warnings.warn(f"epoch {epoch}: the generator has not been updated yet, no ONNX written", stacklevel=1)
        self.writer.flush()

    def log(self, message: str) -> None:
        if not self.quiet:
            tqdm.write(message)

    def fit(self) -> Path:
        """Train until ``optim.nepochs``; returns the run folder."""
        main = self.dist.is_main
        if main:
            from torch.utils.tensorboard import SummaryWriter

            atomic_write(self.run_dir / "config.yaml", lambda tmp: tmp.write_text(dump_config(self.config)))
            if self.answers_from is not None:
                atomic_write(self.run_dir / ANSWERS_FILE, lambda tmp: tmp.write_text(f"{self.answers_from}\n"))
            # purge_step drops events a killed run wrote after its last checkpoint.
            self.writer = SummaryWriter(str(self.run_dir), purge_step=self.epoch + 1 if self.epoch else None)
        processes = f", {self.dist.world_size} processes" if self.dist.enabled else ""
        steps = "the lab's steps" if self.lab_steps else "accelerated steps"
        self.log(
            f"run folder: {self.run_dir}\n"
            f"device {self.device}{processes}, {self.config.data.dataset} {self.loaders.img_shape}, "
            f"{len(self.loaders.train)} batches of {self.config.data.batch_size} per epoch, {steps}, "
            f"critic {count_parameters(self.gan.discriminator):,} + generator "
            f"{count_parameters(self.gan.generator):,} parameters"
        )
        try:
            while self.epoch < self.config.optim.nepochs:
                start = time.perf_counter()
                metrics = self.train_epoch()
                metrics["epoch_seconds"] = time.perf_counter() - start
                metrics.update(self.validate())
                self.epoch += 1
                if self.unreadable:
                    warnings.warn(f"skipped {self.unreadable} unreadable images so far", stacklevel=1)
                if main:
                    self.save_epoch_outputs(metrics)
                self.log(
                    f"epoch {self.epoch:3d}/{self.config.optim.nepochs} ({metrics['epoch_seconds']:.1f}s): "
                    f"critic {metrics['critic_loss']:.3f} generator {metrics.get('generator_loss', float('nan')):.3f} "
                    f"acc real {metrics.get('critic_acc_real', float('nan')):.2f} "
                    f"fake {metrics.get('critic_acc_fake', float('nan')):.2f}"
                )
            if self.generator_updates == 0:
                raise GanlabError(
                    f"the generator was never updated in {self.epoch} epochs (optim.critic_steps "
                    f"{self.config.optim.critic_steps}): lower critic_steps or raise optim.nepochs"
                )
            if self.dist.enabled:
                agree = distributed.parameters_agree(self.gan, self.dist)
                self.log(f"ranks hold identical weights: {agree}")
                if not agree:
                    raise GanlabError("the ranks' weights diverged: report this as a bug")
        finally:
            if self.writer is not None:
                self.writer.close()
            distributed.cleanup(self.dist)
        return self.run_dir


# -- a run folder, from start (or resume) to the end --------------------------------------------


@contextmanager
def _run_folder(run_dir: Path | None, fresh: bool, command: str) -> Iterator[None]:
    """Lock ``run_dir`` while training and turn failures into messages that say how to go on; a ``fresh``
    folder (made by this command) is removed if the run stops before its first checkpoint."""
    if run_dir is None or not distributed.is_main_process():
        yield
        return
    try:
        with locked_run_folder(run_dir) as removed:
            if removed:
                warnings.warn(
                    f"removed {removed} temporary files left by an interrupted write in {run_dir}", stacklevel=1
                )
            yield
    except BaseException as exc:
        if isinstance(exc, RunFolderLocked):
            raise
        saved = (run_dir / CHECKPOINT).is_file()
        if fresh and not saved:
            shutil.rmtree(run_dir, ignore_errors=True)
        resume_with = f"{command} --resume {run_dir}"
        if isinstance(exc, (Interrupted, KeyboardInterrupt)):
            signum = getattr(exc, "signum", signal.SIGINT)
            name = signal.Signals(signum).name
            if saved:
                raise Interrupted(
                    signum,
                    f"interrupted by {name}; {run_dir / CHECKPOINT}{_epoch_of(run_dir / CHECKPOINT)} is intact: "
                    f"resume with {resume_with}",
                ) from None
            raise Interrupted(
                signum, f"interrupted by {name} before the first epoch ended, nothing was saved: run the command again"
            ) from None
        if isinstance(exc, NoSpaceError) and saved:
            raise NoSpaceError(f"{str(exc).removesuffix('run again')}resume with {resume_with}") from exc
        raise


def _epoch_of(checkpoint: Path) -> str:
    """`` (epoch N)`` for the message of an interrupted run; empty if the file cannot say."""
    try:
        return f" (epoch {torch.load(checkpoint, map_location='cpu', weights_only=False)['epoch']})"
    except Exception:  # only decoration for a message: never hide the interruption behind another error
        return ""


def _check_run_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise GanlabError(f"{run_dir} is a file, not a run folder: pass a folder path")


def train(
    config: Config, answers: Mapping[str, Any], quiet: bool = False, run_dir: str | Path | None = None, **options: Any
) -> Path:
    """Train a new run of ``config`` with ``answers``; returns its folder. ``options``: ``command`` (how messages say
    to resume), the rest go to :class:`Trainer`. An existing ``run_dir`` with a checkpoint is resumed (how a requeued cluster job goes on)."""
    fresh = True
    if run_dir is not None:
        run_dir = Path(run_dir)
        _check_run_dir(run_dir)
        if (run_dir / CHECKPOINT).is_file():
            return resume(run_dir, answers, config, quiet, **options)
        fresh = not run_dir.exists()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GanlabError(
                f"cannot create the run folder {run_dir} ({exc.strerror}): pass another --run-dir"
            ) from None
    elif distributed.is_main_process():
        # Made here rather than by the Trainer, so that it is locked before anything runs.
        run_dir = new_run_dir(config.logging.logdir, config.data.dataset)
    with _run_folder(run_dir, fresh, options.pop("command", STUDENT_COMMAND)):
        return Trainer(config, answers, run_dir=run_dir, quiet=quiet, **options).fit()


def resume(
    run_dir: str | Path, answers: Mapping[str, Any], config: Config | None = None, quiet: bool = False, **options: Any
) -> Path:
    """Continue the run in ``run_dir`` from its checkpoint, with its own ``config.yaml`` or ``config`` (same
    model and data, e.g. more epochs); ``options`` go to :class:`Trainer`."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        raise GanlabError(f"{run_dir} holds no {CHECKPOINT}: pass the folder of a run that finished an epoch")
    saved = load_config(run_dir / "config.yaml")
    if config is None:
        config = saved
    elif config.model != saved.model or config.data != saved.data or config.optim.loss != saved.optim.loss:
        raise GanlabError(
            f"the config's model/data sections or optim.loss differ from those of {run_dir}: "
            "resume with the run's own config"
        )
    command = options.pop("command", STUDENT_COMMAND)
    with _run_folder(run_dir, False, command):
        trainer = Trainer(config, answers, run_dir=run_dir, quiet=quiet, **options)
        trainer.load_checkpoint(run_dir / CHECKPOINT)
        if trainer.epoch >= config.optim.nepochs:
            raise GanlabError(
                f"{run_dir} already finished its {trainer.epoch} epochs (optim.nepochs: {config.optim.nepochs}), "
                f"nothing to train: to train longer, resume with a config whose nepochs is larger "
                f"({command} CONFIG --resume {run_dir})"
            )
        return trainer.fit()
