"""Training: critic steps then a generator step, checkpoints every epoch.

Run it with ``python -m ganlab_solution train config.yaml``. Each run writes a new
folder under ``logging.logdir`` with the resolved ``config.yaml``, TensorBoard
events, ``samples/epoch_NNN.png`` grids of a fixed noise, ``checkpoint.pt``
(written atomically every epoch) and ``generator.onnx``. Under ``torchrun`` the
networks are wrapped in DistributedDataParallel and rank 0 alone writes files.
"""

from __future__ import annotations

import random
import shutil
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from ganlab.checkpoints import CHECKPOINT, load_checkpoint, load_state_dicts, rng_state, save_checkpoint, set_rng_state
from ganlab.config import Config, dump_config, load_config, parse_config
from ganlab.data import image_shape, make_loaders
from ganlab.errors import GanlabError, Interrupted, NoSpaceError
from ganlab.files import atomic_write
from ganlab.grids import image_grid
from ganlab.harness import EMA, GRID_SIZE, batches, training_step
from ganlab.runfolder import RunFolderLocked, locked_run_folder, new_run_dir

from . import distributed
from .cuda_graphs import GraphedStep
from .data import to_unit_range
from .export import export_generator
from .losses import (
    FAKE,
    REAL,
    critic_accuracy,
    critic_loss,
    critic_score,
    generator_loss,
    gradient_penalty,
    hinge_critic_loss,
    hinge_generator_loss,
    wasserstein_critic_loss,
)
from .models import GAN, Discriminator, Generator, count_parameters
from .steps import make_optimizers

ONNX_NAME = "generator.onnx"


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU."""
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


def build_gan(config: Config, img_shape: tuple[int, int, int]) -> GAN:
    """The GAN described by ``config.model`` (and the loss it trains with) for ``img_shape``."""
    m = config.model
    # BCE needs the lab's two logits; hinge and Wasserstein critics output one score.
    num_classes = 2 if config.optim.loss == "bce" else 1
    try:
        if m.architecture == "resnet":
            from .resnet import ResNetDiscriminator, ResNetGenerator

            critic: nn.Module = ResNetDiscriminator(
                img_shape, m.discriminator_base_c, m.dnoise, num_classes, m.self_attention
            )
            generator: nn.Module = ResNetGenerator(
                img_shape, m.latent_size, m.generator_base_c, m.upsample_mode, m.self_attention
            )
        else:
            critic = Discriminator(img_shape, m.dropout, m.discriminator_base_c, m.dnoise, num_classes)
            generator = Generator(img_shape, m.latent_size, m.generator_base_c, upsample=m.upsample_mode)
    except ValueError as exc:
        raise GanlabError(f"model: {exc}") from None
    if config.optim.loss == "wgan-gp":
        from .resnet import replace_batchnorm

        replace_batchnorm(critic)
    if m.spectral_norm:
        from .resnet import apply_spectral_norm

        apply_spectral_norm(critic)
    return GAN.from_networks(critic, generator)


class EpochStats:
    """Running sums of the per-step metrics, kept on the device to avoid syncs."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, **values: torch.Tensor) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0) + value.detach().float()
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: (v / self.counts[k]).item() for k, v in self.sums.items()}


class Trainer:
    """Owns the models, optimizers, data and run folder of one training run."""

    def __init__(self, config: Config, run_dir: Path | None = None, quiet: bool = False) -> None:
        self.config = config
        self.dist, self.device = distributed.setup(resolve_device(config.device))
        if self.device.type == "cuda":
            # Shapes are fixed from batch to batch: let cuDNN time its algorithms once.
            torch.backends.cudnn.benchmark = True
        self.quiet = quiet or not self.dist.is_main
        # Ranks start from the same weights (DDP broadcasts rank 0's) but draw their own noise.
        seed_everything(config.seed + self.dist.rank)
        # Build the model first: an impossible image size fails before any data is read.
        self.gan = build_gan(config, image_shape(config.data)).to(self.device)
        self.loaders = make_loaders(
            config.data, config.seed, to_unit_range, self.device, self.dist.rank, self.dist.world_size
        )
        batches = len(self.loaders.train)
        if batches == 0:
            raise GanlabError(f"data.batch_size {config.data.batch_size} is larger than the training set: lower it")
        if config.optim.critic_steps > batches * config.optim.nepochs:
            raise GanlabError(
                f"optim.critic_steps {config.optim.critic_steps} is more than the {batches * config.optim.nepochs} "
                f"batches of the whole run ({config.optim.nepochs} epochs of {batches}): the generator would never "
                "train; lower critic_steps or raise optim.nepochs"
            )
        self.memory_format = torch.channels_last if config.optim.channels_last else torch.contiguous_format
        self.gan.to(memory_format=self.memory_format)
        # On CUDA the optimizers are fused (one kernel per update); with optim.cuda_graph also
        # capturable (the step count stays on the GPU, so a graph can replay the update).
        fused = {"fused": True, "capturable": config.optim.cuda_graph} if self.device.type == "cuda" else {}
        self.critic_opt, self.gen_opt = make_optimizers(
            self.gan, config.critic_lr, config.optim.wdecay, generator_lr=config.generator_lr, **fused
        )
        self.ema = EMA(self.gan.generator, config.optim.ema) if config.optim.ema > 0 else None
        self._wrap_networks()
        self._critic_update: Callable[[torch.Tensor], dict[str, torch.Tensor]] = self.critic_step
        self._generator_update: Callable[[int], dict[str, torch.Tensor]] = self.generator_step
        if config.optim.cuda_graph:
            if self.device.type != "cuda":
                raise GanlabError("optim.cuda_graph needs a CUDA device: set it to false for CPU runs")
            if self.dist.enabled:
                raise GanlabError("optim.cuda_graph is not supported under torchrun: set it to false")
            self._critic_update = GraphedStep(self._critic_update)
            self._generator_update = GraphedStep(self._generator_update)
        self.fixed_noise = torch.randn(
            GRID_SIZE, config.model.latent_size, generator=torch.Generator().manual_seed(config.seed)
        )
        self.epoch = 0
        # Counted across epochs, so critic_steps larger than an epoch still trains the generator.
        self.critic_updates = 0
        self.generator_updates = 0
        self.unreadable = 0
        if self.dist.is_main and run_dir is None:
            run_dir = new_run_dir(config.logging.logdir, config.data.dataset)
        self.run_dir: Path = distributed.broadcast_object(run_dir, self.dist)
        self.writer: Any = None

    def _wrap_networks(self) -> None:
        """The callables the steps use: compiled and/or DDP-wrapped views of the networks.

        ``self.gan`` keeps the plain modules (what checkpoints and ONNX export see).
        The critic step trains ``critic_train`` and samples fakes with ``generator``; the
        generator step trains ``generator_train`` through ``critic``. Only the network
        being trained goes through DDP, so gradients are averaged exactly once.
        """
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
    def autocast(self) -> Any:
        """bf16 autocast when ``optim.amp`` is set (CUDA, or a CPU with bf16 support).

        Its cache of casted weights is off under CUDA graphs: a replay would reuse
        casts of the weights as they were at capture.
        """
        return torch.autocast(
            self.device.type,
            dtype=torch.bfloat16,
            enabled=self.config.optim.amp,
            cache_enabled=not self.config.optim.cuda_graph,
        )

    def critic_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """Update the critic, e.g. for BCE: minimise 1/2 [BCE(D(x), real) + BCE(D(G(z)), fake)]."""
        batch = real.shape[0]
        real = real.contiguous(memory_format=self.memory_format)
        with torch.no_grad(), self.autocast():
            # The critic step does not train G: no graph through the generator.
            fake = self.generator(None, batch).to(real.dtype).contiguous(memory_format=self.memory_format)
        # Real and fake go through the critic in separate batches (as in the lab): with
        # BatchNorm, a mixed batch would normalise fakes differently here than in the
        # generator step, which sees fakes alone, and training collapses.
        with self.autocast():
            real_logits = self.critic_train(real).float()
            fake_logits = self.critic_train(fake).float()
        loss_name = self.config.optim.loss
        if loss_name == "bce":
            loss = critic_loss(real_logits, fake_logits, self.config.optim.lblsmooth)
        elif loss_name == "hinge":
            loss = hinge_critic_loss(critic_score(real_logits), critic_score(fake_logits))
        else:
            loss = wasserstein_critic_loss(critic_score(real_logits), critic_score(fake_logits))
            # In fp32: the penalty differentiates a gradient, bf16 is too coarse for that.
            loss = loss + gradient_penalty(self.critic_train, real.float(), fake.float(), self.config.optim.gp_weight)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return {
            "critic_loss": loss,
            "critic_acc_real": critic_accuracy(real_logits, REAL),
            "critic_acc_fake": critic_accuracy(fake_logits, FAKE),
        }

    def generator_step(self, batch: int) -> dict[str, torch.Tensor]:
        """Update the generator, e.g. for BCE: minimise BCE(D(G(z)), real) with fresh z."""
        # Gradients flow through the critic to the images, but the critic's own weights
        # need none: switching them off skips that work.
        self.gan.discriminator.requires_grad_(False)
        with self.autocast():
            fake = self.generator_train(None, batch).contiguous(memory_format=self.memory_format)
            logits = self.critic(fake).float()
        loss = generator_loss(logits) if self.config.optim.loss == "bce" else hinge_generator_loss(critic_score(logits))
        self.gen_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.gen_opt.step()
        self.gan.discriminator.requires_grad_(True)
        return {"generator_loss": loss}

    def step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One training iteration (:func:`ganlab.harness.training_step`) on a batch of real images.

        Every batch trains the critic; every ``optim.critic_steps``-th critic update (counted over
        the whole run, not per epoch) also trains the generator and steps the EMA. The EMA steps
        outside the generator step: AveragedModel branches on a GPU counter, which a CUDA graph
        cannot capture.
        """
        train_generator = (self.critic_updates + 1) % self.config.optim.critic_steps == 0
        metrics = training_step(real, self._critic_update, self._generator_update, self.ema, train_generator)
        self.critic_updates += 1
        self.generator_updates += int(train_generator)
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
        """One pass over the training set; returns the mean metrics.

        Every batch trains the critic; every ``optim.critic_steps``-th critic update
        (counted over the whole run, not per epoch) also trains the generator.
        Raises :class:`GanlabError` if no batch could be read (nothing is saved then).
        """
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
        for step, real in enumerate(bar):
            stats.add(**self.step(real))
            if step % 25 == 0 and not self.quiet:
                bar.set_postfix(d_loss=f"{stats.sums['critic_loss'].item() / stats.counts['critic_loss']:.3f}")
        if "critic_loss" not in stats.sums:
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
        for batch in self.loaders.valid:
            real = (batch[0] if isinstance(batch, tuple) else batch).to(self.device)
            if real.shape[0] == 0:
                continue
            with self.autocast():
                real_logits = self.critic(real.contiguous(memory_format=self.memory_format)).float()
                fake_logits = self.critic(self.generator(None, real.shape[0])).float()
            stats.add(
                valid_acc_real=critic_accuracy(real_logits, REAL), valid_acc_fake=critic_accuracy(fake_logits, FAKE)
            )
            if self.config.optim.loss == "bce":
                stats.add(valid_critic_loss=critic_loss(real_logits, fake_logits, 0.0))
        return stats.means()

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """The 8x8 grid of the fixed noise, from the EMA generator when there is one."""
        generator = self.export_model()
        # Sample in evaluation mode (BatchNorm's running statistics), then put the mode back:
        # without EMA this is the generator being trained, and a loop that draws grids
        # between steps must not go on training it with frozen BatchNorm statistics.
        was_training = generator.training
        generator.eval()
        images = generator(self.fixed_noise.to(self.device), None).float().cpu()
        generator.train(was_training)
        return image_grid(images, nrow=8)

    def export_model(self) -> nn.Module:
        """The generator to sample from and export: the EMA copy if enabled."""
        return self.ema.module if self.ema is not None else self.gan.generator

    # -- files ------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to resume, as a plain dict anyone can ``torch.load``."""
        loader_rng = getattr(self.loaders.train, "generator", None)
        rng = rng_state()
        rng["data"] = loader_rng.get_state() if loader_rng is not None else None
        return {
            "epoch": self.epoch,
            "critic_updates": self.critic_updates,
            "generator_updates": self.generator_updates,
            "config": self.config.to_dict(),
            "img_shape": self.loaders.img_shape,
            "gan": self.gan.state_dict(),
            "ema_generator": self.ema.state_dict() if self.ema is not None else None,
            "critic_optimizer": self.critic_opt.state_dict(),
            "generator_optimizer": self.gen_opt.state_dict(),
            "fixed_noise": self.fixed_noise,
            "rng": rng,
        }

    def load_checkpoint(self, path: Path) -> None:
        """Restore models, optimizers, epoch and every RNG from ``path``."""
        state = load_checkpoint(
            path, {"epoch", "gan", "critic_optimizer", "generator_optimizer", "fixed_noise", "rng"}, self.device
        )
        pairs: list[tuple[Any, Any]] = [
            (self.gan, state["gan"]),
            (self.critic_opt, state["critic_optimizer"]),
            (self.gen_opt, state["generator_optimizer"]),
        ]
        if self.ema is not None and state.get("ema_generator") is not None:
            pairs.append((self.ema, state["ema_generator"]))
        load_state_dicts(path, pairs)
        self.fixed_noise = state["fixed_noise"]
        self.epoch = state["epoch"]
        # Checkpoints written before the counters existed: one critic update per batch.
        self.critic_updates = state.get("critic_updates", self.epoch * len(self.loaders.train))
        self.generator_updates = state.get("generator_updates", self.critic_updates // self.config.optim.critic_steps)
        rng = state["rng"]
        if self.dist.enabled:
            # Rank 0's generator states are not this rank's: re-seed per rank and epoch.
            seed_everything(self.config.seed + self.dist.rank + 1000 * self.epoch)
            return
        set_rng_state(rng)
        loader_rng = getattr(self.loaders.train, "generator", None)
        if rng["data"] is not None and loader_rng is not None:
            loader_rng.set_state(rng["data"].cpu())

    def save_epoch_outputs(self, metrics: dict[str, float]) -> None:
        """Scalars, sample grid (TensorBoard and PNG), checkpoint and ONNX for this epoch."""
        from torchvision.utils import save_image

        epoch = self.epoch
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, epoch)
        grid = self.sample_grid()
        self.writer.add_image("samples", grid, epoch)
        png = self.run_dir / "samples" / f"epoch_{epoch:03d}.png"
        atomic_write(png, lambda tmp: save_image(grid, str(tmp), format="png"))
        save_checkpoint(self.run_dir / CHECKPOINT, self.checkpoint())
        every = self.config.logging.onnx_every
        if epoch == self.config.optim.nepochs or (every and epoch % every == 0):
            if self.generator_updates:
                export_generator(self.export_model(), self.run_dir / ONNX_NAME)
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
            # purge_step drops events a killed run wrote after its last checkpoint.
            self.writer = SummaryWriter(str(self.run_dir), purge_step=self.epoch + 1 if self.epoch else None)
        processes = f", {self.dist.world_size} processes" if self.dist.enabled else ""
        self.log(
            f"run folder: {self.run_dir}\n"
            f"device {self.device}{processes}, {self.config.data.dataset} {self.loaders.img_shape}, "
            f"{len(self.loaders.train)} batches of {self.config.data.batch_size} per epoch, "
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
                    f"acc real {metrics['critic_acc_real']:.2f} fake {metrics['critic_acc_fake']:.2f}"
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


def _resume_hint(run_dir: Path) -> str:
    return f"python -m ganlab_solution train --resume {run_dir}"


@contextmanager
def _run_folder(run_dir: Path | None, fresh: bool) -> Iterator[None]:
    """Lock ``run_dir`` while training, and turn failures into messages that say how to go on.

    A ``fresh`` folder (made by this command) is removed if the run stops before its
    first checkpoint: it would hold nothing to resume from.
    """
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
        if isinstance(exc, (Interrupted, KeyboardInterrupt)):
            signum = getattr(exc, "signum", signal.SIGINT)
            name = signal.Signals(signum).name
            if saved:
                raise Interrupted(
                    signum,
                    f"interrupted by {name}; {run_dir / CHECKPOINT}{_epoch_of(run_dir / CHECKPOINT)} is intact: "
                    f"resume with {_resume_hint(run_dir)}",
                ) from None
            raise Interrupted(
                signum, f"interrupted by {name} before the first epoch ended, nothing was saved: run the command again"
            ) from None
        if isinstance(exc, NoSpaceError) and saved:
            raise NoSpaceError(f"{str(exc).removesuffix('run again')}resume with {_resume_hint(run_dir)}") from exc
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


def train(config: Config, quiet: bool = False, run_dir: str | Path | None = None) -> Path:
    """Train a new run from ``config``; returns its folder.

    With ``run_dir``, use that folder, and resume from it if it already holds a
    checkpoint (how a requeued cluster job picks up where it stopped).
    """
    fresh = True
    if run_dir is not None:
        run_dir = Path(run_dir)
        _check_run_dir(run_dir)
        if (run_dir / CHECKPOINT).is_file():
            return resume(run_dir, config, quiet)
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
    with _run_folder(run_dir, fresh):
        return Trainer(config, run_dir=run_dir, quiet=quiet).fit()


def resume(run_dir: str | Path, config: Config | None = None, quiet: bool = False, device: str | None = None) -> Path:
    """Continue the run in ``run_dir`` from its checkpoint.

    ``config`` defaults to the run's own ``config.yaml``; pass one to train for more
    epochs (its model and data sections must match the run's). ``device`` overrides
    the config's device (a run trained on a GPU can continue on a CPU).
    """
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
    if device is not None:
        config = parse_config({**config.to_dict(), "device": device}, "--device")
    with _run_folder(run_dir, fresh=False):
        trainer = Trainer(config, run_dir=run_dir, quiet=quiet)
        trainer.load_checkpoint(run_dir / CHECKPOINT)
        if trainer.epoch >= config.optim.nepochs:
            raise GanlabError(
                f"{run_dir} already finished its {trainer.epoch} epochs (optim.nepochs: {config.optim.nepochs}), "
                f"nothing to train: to train longer, resume with a config whose nepochs is larger "
                f"(python -m ganlab_solution train CONFIG --resume {run_dir})"
            )
        return trainer.fit()
