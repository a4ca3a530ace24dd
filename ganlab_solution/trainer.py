"""Training: one critic step then one generator step per batch, checkpoints every epoch.

Run it with ``python -m ganlab_solution train config.yaml``. Each run writes a new
folder under ``logging.logdir`` with the resolved ``config.yaml``, TensorBoard
events, ``samples/epoch_NNN.png`` grids of a fixed noise, ``checkpoint.pt``
(written atomically every epoch) and ``generator.onnx``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .config import Config, dump_config, load_config
from .data import image_shape, make_loaders
from .errors import GanlabError
from .export import atomic_write, export_generator
from .generate import image_grid
from .losses import FAKE, REAL, accuracy, critic_loss, generator_loss
from .models import GAN, count_parameters

CHECKPOINT = "checkpoint.pt"
ONNX_NAME = "generator.onnx"
GRID_SIZE = 64  # the fixed-noise grid is 8x8


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanlabError(f"device: {name!r} asked for but no CUDA GPU is visible: use device: auto or cpu")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_gan(config: Config, img_shape: tuple[int, int, int]) -> GAN:
    """The GAN described by ``config.model`` for images of ``img_shape``."""
    m = config.model
    try:
        return GAN(img_shape, m.dropout, m.discriminator_base_c, m.dnoise, 2, m.latent_size, m.generator_base_c)
    except ValueError as exc:
        raise GanlabError(f"model: {exc}") from None


def build_optimizers(
    gan: GAN, config: Config, device: torch.device
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for the generator; Adam, or AdamW when ``wdecay`` > 0, for the critic."""
    fused = {"fused": True} if device.type == "cuda" else {}
    betas = (0.5, 0.999)
    if config.optim.wdecay > 0:
        critic_opt: torch.optim.Optimizer = torch.optim.AdamW(
            gan.discriminator.parameters(), lr=config.critic_lr, betas=betas, weight_decay=config.optim.wdecay, **fused
        )
    else:
        critic_opt = torch.optim.Adam(gan.discriminator.parameters(), lr=config.critic_lr, betas=betas, **fused)
    gen_opt = torch.optim.Adam(gan.generator.parameters(), lr=config.generator_lr, betas=betas, **fused)
    return critic_opt, gen_opt


def new_run_dir(logdir: str | Path, name: str) -> Path:
    """A fresh folder ``logdir/name_YYYYmmdd-HHMMSS[_k]``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(logdir).expanduser() / f"{name}_{stamp}"
    run_dir, k = base, 1
    while run_dir.exists():
        run_dir, k = base.with_name(f"{base.name}_{k}"), k + 1
    run_dir.mkdir(parents=True)
    return run_dir


@dataclass
class EpochStats:
    """Running sums of the per-step metrics, kept on the device to avoid syncs."""

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    steps: int = 0

    def add(self, **values: torch.Tensor) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0) + value.detach().float()
        self.steps += 1

    def means(self) -> dict[str, float]:
        return {k: (v / max(self.steps, 1)).item() for k, v in self.sums.items()}


class Trainer:
    """Owns the models, optimizers, data and run folder of one training run."""

    def __init__(self, config: Config, run_dir: Path | None = None, quiet: bool = False) -> None:
        self.config = config
        self.quiet = quiet
        self.device = resolve_device(config.device)
        seed_everything(config.seed)
        # Build the model first: an impossible image size fails before any data is read.
        self.gan = build_gan(config, image_shape(config.data)).to(self.device)
        self.loaders = make_loaders(config.data, config.seed, self.device)
        if len(self.loaders.train) == 0:
            raise GanlabError(f"data.batch_size {config.data.batch_size} is larger than the training set: lower it")
        self.memory_format = torch.channels_last if config.optim.channels_last else torch.contiguous_format
        self.gan.to(memory_format=self.memory_format)
        self.critic_opt, self.gen_opt = build_optimizers(self.gan, config, self.device)
        self.ema = (
            torch.optim.swa_utils.AveragedModel(
                self.gan.generator,
                multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.optim.ema),
                use_buffers=True,
            )
            if config.optim.ema > 0
            else None
        )
        # The step functions are what torch.compile sees; the modules stay plain for saving.
        self.critic = torch.compile(self.gan.discriminator) if config.optim.compile else self.gan.discriminator
        self.generator = torch.compile(self.gan.generator) if config.optim.compile else self.gan.generator
        self.fixed_noise = torch.randn(
            GRID_SIZE, config.model.latent_size, generator=torch.Generator().manual_seed(config.seed)
        )
        self.epoch = 0
        self.run_dir = run_dir or new_run_dir(config.logging.logdir, config.data.dataset)
        self.writer: Any = None

    # -- one batch --------------------------------------------------------------
    def autocast(self) -> Any:
        """bf16 autocast when ``optim.amp`` is set (CUDA, or a CPU with bf16 support)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.optim.amp)

    def critic_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """Update the critic: minimise 1/2 [BCE(D(x), real) + BCE(D(G(z)), fake)]."""
        batch = real.shape[0]
        with torch.no_grad(), self.autocast():
            # The critic step does not train G: no graph through the generator.
            fake = self.generator(None, batch)
        # Real and fake go through the critic in separate batches (as in the lab): with
        # BatchNorm, a mixed batch would normalise fakes differently here than in the
        # generator step, which sees fakes alone, and training collapses.
        with self.autocast():
            real_logits = self.critic(real.contiguous(memory_format=self.memory_format)).float()
            fake_logits = self.critic(fake.contiguous(memory_format=self.memory_format)).float()
        loss = critic_loss(real_logits, fake_logits, self.config.optim.lblsmooth)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return {
            "critic_loss": loss,
            "critic_acc_real": accuracy(real_logits, REAL),
            "critic_acc_fake": accuracy(fake_logits, FAKE),
        }

    def generator_step(self, batch: int) -> dict[str, torch.Tensor]:
        """Update the generator: minimise BCE(D(G(z)), real) with fresh z."""
        # Gradients flow through the critic to the images, but the critic's own weights
        # need none: switching them off skips that work.
        self.gan.discriminator.requires_grad_(False)
        with self.autocast():
            fake = self.generator(None, batch).contiguous(memory_format=self.memory_format)
            logits = self.critic(fake).float()
        loss = generator_loss(logits)
        self.gen_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.gen_opt.step()
        self.gan.discriminator.requires_grad_(True)
        if self.ema is not None:
            self.ema.update_parameters(self.gan.generator)
        return {"generator_loss": loss}

    # -- one epoch --------------------------------------------------------------
    def train_epoch(self) -> dict[str, float]:
        """One pass over the training set; returns the mean metrics."""
        self.gan.train()
        stats = EpochStats()
        bar = tqdm(
            self.loaders.train,
            desc=f"epoch {self.epoch + 1}/{self.config.optim.nepochs}",
            leave=False,
            disable=self.quiet,
            dynamic_ncols=True,
        )
        for step, real in enumerate(bar):
            real = real.to(self.device, non_blocking=True)
            metrics = self.critic_step(real)
            metrics.update(self.generator_step(real.shape[0]))
            stats.add(**metrics)
            if step % 25 == 0:
                bar.set_postfix(
                    d_loss=f"{metrics['critic_loss'].item():.3f}", g_loss=f"{metrics['generator_loss'].item():.3f}"
                )
        return stats.means()

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Critic accuracy on held-out real images and on as many fresh fakes (eval mode)."""
        self.gan.eval()
        stats = EpochStats()
        for real in self.loaders.valid:
            real = real.to(self.device)
            with self.autocast():
                real_logits = self.critic(real.contiguous(memory_format=self.memory_format)).float()
                fake_logits = self.critic(self.generator(None, real.shape[0])).float()
            stats.add(
                valid_acc_real=accuracy(real_logits, REAL),
                valid_acc_fake=accuracy(fake_logits, FAKE),
                valid_critic_loss=critic_loss(real_logits, fake_logits),
            )
        return stats.means()

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """The 8x8 grid of the fixed noise, from the EMA generator when there is one."""
        generator = self.export_model()
        generator.eval()
        images = generator(self.fixed_noise.to(self.device), None).float().cpu()
        return image_grid(images, nrow=8)

    def export_model(self) -> nn.Module:
        """The generator to sample from and export: the EMA copy if enabled."""
        return self.ema.module if self.ema is not None else self.gan.generator

    # -- files ------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to resume, as a plain dict anyone can ``torch.load``."""
        loaders_gen = self.loaders.train.generator
        return {
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "img_shape": self.loaders.img_shape,
            "gan": self.gan.state_dict(),
            "ema_generator": self.ema.state_dict() if self.ema is not None else None,
            "critic_optimizer": self.critic_opt.state_dict(),
            "generator_optimizer": self.gen_opt.state_dict(),
            "fixed_noise": self.fixed_noise,
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "data": loaders_gen.get_state() if loaders_gen is not None else None,
            },
        }

    def load_checkpoint(self, path: Path) -> None:
        """Restore models, optimizers, epoch and every RNG from ``path``."""
        try:
            state = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as exc:
            raise GanlabError(
                f"{path} cannot be read as a checkpoint ({type(exc).__name__}): start a new run instead"
            ) from None
        self.gan.load_state_dict(state["gan"])
        if self.ema is not None and state.get("ema_generator") is not None:
            self.ema.load_state_dict(state["ema_generator"])
        self.critic_opt.load_state_dict(state["critic_optimizer"])
        self.gen_opt.load_state_dict(state["generator_optimizer"])
        self.fixed_noise = state["fixed_noise"]
        self.epoch = state["epoch"]
        rng = state["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"].cpu())
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        if rng["data"] is not None and self.loaders.train.generator is not None:
            self.loaders.train.generator.set_state(rng["data"].cpu())

    def save_epoch_outputs(self, metrics: dict[str, float]) -> None:
        """Scalars, sample grid (TensorBoard and PNG), checkpoint and ONNX for this epoch."""
        epoch = self.epoch
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, epoch)
        grid = self.sample_grid()
        self.writer.add_image("samples", grid, epoch)
        from torchvision.utils import save_image

        atomic_write(
            self.run_dir / "samples" / f"epoch_{epoch:03d}.png", lambda tmp: save_image(grid, str(tmp), format="png")
        )
        atomic_write(self.run_dir / CHECKPOINT, lambda tmp: torch.save(self.checkpoint(), tmp))
        every = self.config.logging.onnx_every
        if epoch == self.config.optim.nepochs or (every and epoch % every == 0):
            export_generator(self.export_model(), self.run_dir / ONNX_NAME)
        self.writer.flush()

    def log(self, message: str) -> None:
        if not self.quiet:
            tqdm.write(message)

    def fit(self) -> Path:
        """Train until ``optim.nepochs``; returns the run folder."""
        from torch.utils.tensorboard import SummaryWriter

        atomic_write(self.run_dir / "config.yaml", lambda tmp: tmp.write_text(dump_config(self.config)))
        # purge_step drops events a killed run wrote after its last checkpoint.
        self.writer = SummaryWriter(str(self.run_dir), purge_step=self.epoch + 1 if self.epoch else None)
        self.log(
            f"run folder: {self.run_dir}\n"
            f"device {self.device}, {self.config.data.dataset} {self.loaders.img_shape}, "
            f"{len(self.loaders.train)} batches of {self.config.data.batch_size} per epoch, "
            f"critic {count_parameters(self.gan.discriminator):,} + generator "
            f"{count_parameters(self.gan.generator):,} parameters"
        )
        try:
            while self.epoch < self.config.optim.nepochs:
                start = time.perf_counter()
                metrics = self.train_epoch()
                train_seconds = time.perf_counter() - start
                metrics.update(self.validate())
                self.epoch += 1
                metrics["epoch_seconds"] = train_seconds
                self.save_epoch_outputs(metrics)
                self.log(
                    f"epoch {self.epoch:3d}/{self.config.optim.nepochs} ({train_seconds:.1f}s): "
                    f"critic {metrics['critic_loss']:.3f} generator {metrics['generator_loss']:.3f} "
                    f"acc real {metrics['critic_acc_real']:.2f} fake {metrics['critic_acc_fake']:.2f}"
                )
        finally:
            self.writer.close()
        return self.run_dir


def train(config: Config, quiet: bool = False) -> Path:
    """Train a new run from ``config``; returns its folder."""
    return Trainer(config, quiet=quiet).fit()


def resume(run_dir: str | Path, config: Config | None = None, quiet: bool = False) -> Path:
    """Continue the run in ``run_dir`` from its checkpoint.

    ``config`` defaults to the run's own ``config.yaml``; pass one to train for more
    epochs (its model and data sections must match the run's).
    """
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        raise GanlabError(f"{run_dir} holds no {CHECKPOINT}: pass the folder of a run that finished an epoch")
    saved = load_config(run_dir / "config.yaml")
    if config is None:
        config = saved
    elif config.model != saved.model or config.data != saved.data:
        raise GanlabError(
            f"the config's model/data sections differ from those of {run_dir}: resume with the run's own config"
        )
    trainer = Trainer(config, run_dir=run_dir, quiet=quiet)
    trainer.load_checkpoint(run_dir / CHECKPOINT)
    return trainer.fit()
