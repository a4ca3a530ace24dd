"""The reference answers of notebook 4's last exercises: two optimizers and one step for each player.

The command-line trainer (:mod:`ganlab.trainer`) trains with exactly these when the config asks
for nothing beyond the lab; its accelerated steps (mixed precision, other losses, several GPUs)
do the same three things (``zero_grad``, ``backward``, ``step``) around the same losses.
"""

from __future__ import annotations

import torch
from torch import nn

from .losses import critic_loss, generator_loss


def make_optimizers(
    gan: nn.Module, base_lr: float, wdecay: float
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(critic optimizer, generator optimizer): Adam, betas (0.5, 0.999); AdamW for the critic if wdecay > 0.

    Each optimizer holds its own network's parameters only.
    """
    ### BEGIN SOLUTION
    betas = (0.5, 0.999)  # the DCGAN paper's Adam betas, as in the lab
    if wdecay > 0:
        critic_optimizer = torch.optim.AdamW(
            gan.discriminator.parameters(), lr=base_lr, betas=betas, weight_decay=wdecay
        )
    else:
        critic_optimizer = torch.optim.Adam(gan.discriminator.parameters(), lr=base_lr, betas=betas)
    generator_optimizer = torch.optim.Adam(gan.generator.parameters(), lr=base_lr, betas=betas)
    return critic_optimizer, generator_optimizer
    ### END SOLUTION


def critic_step(gan: nn.Module, optimizer: torch.optim.Optimizer, real_images: torch.Tensor, lblsmooth: float) -> float:
    """One update of the critic on a batch of real images and as many fakes; returns the loss."""
    ### BEGIN SOLUTION
    real_logits, _ = gan(real_images, None)
    with torch.no_grad():  # the critic's step does not train the generator
        fakes = gan.generator(None, real_images.shape[0])
    fake_logits, _ = gan(fakes, None)
    loss = critic_loss(real_logits, fake_logits, lblsmooth)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


def generator_step(gan: nn.Module, optimizer: torch.optim.Optimizer, batch_size: int) -> float:
    """One update of the generator through the critic's judgement of ``batch_size`` fakes; returns the loss."""
    ### BEGIN SOLUTION
    fake_logits, _ = gan(None, batch_size)
    loss = generator_loss(fake_logits)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION
