"""The reference answers of notebook 4's last exercises: two optimizers and one step for each player.

The instructor's :class:`~ganlab_solution.trainer.Trainer` builds its optimizers with
:func:`make_optimizers`; its own steps add mixed precision, other losses and several
GPUs, around the same three lines (``zero_grad``, ``backward``, ``step``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .losses import critic_loss, generator_loss

BETAS = (0.5, 0.999)  # the DCGAN paper's Adam betas, as in the lab


def make_optimizers(
    gan: nn.Module, base_lr: float, wdecay: float, *, generator_lr: float | None = None, **adam_options: Any
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(critic optimizer, generator optimizer): Adam with betas (0.5, 0.999); AdamW for the critic if wdecay > 0.

    Each optimizer holds its own network's parameters only. ``generator_lr`` gives the generator
    its own learning rate (the two time-scale update rule); ``adam_options`` (``fused``,
    ``capturable``) go to both.
    """
    critic_params = gan.discriminator.parameters()
    if wdecay > 0:
        critic_opt: torch.optim.Optimizer = torch.optim.AdamW(
            critic_params, lr=base_lr, betas=BETAS, weight_decay=wdecay, **adam_options
        )
    else:
        critic_opt = torch.optim.Adam(critic_params, lr=base_lr, betas=BETAS, **adam_options)
    generator_opt = torch.optim.Adam(
        gan.generator.parameters(), lr=generator_lr or base_lr, betas=BETAS, **adam_options
    )
    return critic_opt, generator_opt


def critic_step(gan: nn.Module, optimizer: torch.optim.Optimizer, real_images: torch.Tensor, lblsmooth: float) -> float:
    """One update of the critic on a batch of real images and as many fresh fakes; returns the loss."""
    real_logits, _ = gan(real_images, None)
    with torch.no_grad():  # the critic's step does not train the generator
        fakes = gan.generator(None, real_images.shape[0])
    fake_logits, _ = gan(fakes, None)
    loss = critic_loss(real_logits, fake_logits, lblsmooth)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def generator_step(gan: nn.Module, optimizer: torch.optim.Optimizer, batch_size: int) -> float:
    """One update of the generator through the critic's judgement of ``batch_size`` fakes; returns the loss."""
    fake_logits, _ = gan(None, batch_size)
    loss = generator_loss(fake_logits)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
