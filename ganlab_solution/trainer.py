"""The instructor's run: the student package's engine (:mod:`ganlab.trainer`) with the reference answers,
plus the scaling track's :data:`EXTENSIONS` (ResNet networks, spectral norm, the WGAN-GP loss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ganlab import trainer as engine
from ganlab.answers import reference_answer
from ganlab.config import Config
from ganlab.data import ImgShape
from ganlab.errors import GanlabError
from ganlab.harness import one_score

from .losses import gradient_penalty, hinge_generator_loss, wasserstein_critic_loss
from .resnet import ResNetDiscriminator, ResNetGenerator, apply_spectral_norm, replace_batchnorm

COMMAND = "python -m ganlab_solution train"


def reference_answers() -> dict[str, Any]:
    """The reference's answers that a run trains with, by name."""
    return {name: reference_answer(name) for name in engine.LAB_ANSWERS + engine.HINGE_ANSWERS}


def _networks(config: Config, img_shape: ImgShape, outputs: int) -> tuple[nn.Module, nn.Module]:
    """The scaling track's ResNet critic and generator (``model.architecture: resnet``)."""
    m = config.model
    try:
        critic = ResNetDiscriminator(img_shape, m.discriminator_base_c, m.dnoise, outputs, m.self_attention)
        generator = ResNetGenerator(img_shape, m.latent_size, m.generator_base_c, m.upsample_mode, m.self_attention)
    except ValueError as exc:
        raise GanlabError(f"model: {exc}") from None
    return critic, generator


def _prepare_critic(critic: nn.Module, config: Config) -> None:
    """No BatchNorm under the gradient penalty (it mixes samples); spectral norm when asked."""
    if config.optim.loss == "wgan-gp":
        replace_batchnorm(critic)
    if config.model.spectral_norm:
        apply_spectral_norm(critic)


WGAN_GP = engine.Objective(
    lambda real, fake, _smooth: wasserstein_critic_loss(one_score(real), one_score(fake)),
    lambda fake: hinge_generator_loss(one_score(fake)),
    penalty=gradient_penalty,
)
EXTENSIONS = engine.Extensions(_networks, _prepare_critic, {"wgan-gp": WGAN_GP})
OPTIONS: dict[str, Any] = {"extensions": EXTENSIONS, "command": COMMAND}


class Trainer(engine.Trainer):
    """:class:`ganlab.trainer.Trainer` with the reference answers and :data:`EXTENSIONS`."""

    def __init__(self, config: Config, run_dir: Path | None = None, quiet: bool = False) -> None:
        super().__init__(config, reference_answers(), run_dir=run_dir, quiet=quiet, extensions=EXTENSIONS)


def build_gan(config: Config, img_shape: ImgShape) -> nn.Module:
    """The reference GAN that ``config`` describes."""
    return engine.build_gan(config, img_shape, reference_answers(), EXTENSIONS)


def train(config: Config, quiet: bool = False, run_dir: str | Path | None = None) -> Path:
    """:func:`ganlab.trainer.train` with the reference answers."""
    return engine.train(config, reference_answers(), quiet, run_dir, **OPTIONS)


def resume(run_dir: str | Path, config: Config | None = None, quiet: bool = False) -> Path:
    """:func:`ganlab.trainer.resume` with the reference answers."""
    return engine.resume(run_dir, reference_answers(), config, quiet, **OPTIONS)
