"""The adversarial losses on the critic's logits.

The lab's critic outputs two logits per image, class 1 "real" and class 0 "fake" (:data:`ganlab.harness.REAL`,
``FAKE``); targets are one-hot rows, and ``F.binary_cross_entropy_with_logits`` averages over both columns. With
r and f the logits on real and generated images: critic L_c = 1/2 [BCE(r, 1) + BCE(f, 0)], generator
L_g = BCE(f, 1) (hard targets). The functions down to :func:`hinge_generator_loss` are answers of the lab; the
scaling track's Wasserstein loss and gradient penalty follow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganlab.harness import FAKE, REAL, one_score


def smooth_targets(labels: torch.Tensor, num_classes: int, lblsmooth: float) -> torch.Tensor:
    """One-hot rows whose true-class entry is 1 - u, u ~ U(0, lblsmooth) drawn per sample.

    Each row gets its own draw (the original lab drew one value for the whole batch);
    ``lblsmooth=0`` gives hard one-hot targets.
    """
    ### BEGIN SOLUTION
    targets = F.one_hot(labels, num_classes).float()
    drop = lblsmooth * torch.rand(labels.shape[0], device=labels.device)
    return targets - targets * drop[:, None]
    ### END SOLUTION


def critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, lblsmooth: float) -> torch.Tensor:
    """Mean of BCE(real logits, smoothed "real") and BCE(fake logits, smoothed "fake")."""
    ### BEGIN SOLUTION
    real_labels = torch.full((real_logits.shape[0],), REAL, dtype=torch.long, device=real_logits.device)
    fake_labels = torch.full((fake_logits.shape[0],), FAKE, dtype=torch.long, device=fake_logits.device)
    num_classes = real_logits.shape[1]
    real_term = F.binary_cross_entropy_with_logits(real_logits, smooth_targets(real_labels, num_classes, lblsmooth))
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, smooth_targets(fake_labels, num_classes, lblsmooth))
    return (real_term + fake_term) / 2
    ### END SOLUTION


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE of the critic's logits on generated images against hard "real" targets.

    The non-saturating loss of Goodfellow et al.: the generator maximises log D(G(z))
    rather than minimising log(1 - D(G(z))).
    """
    ### BEGIN SOLUTION
    targets = torch.zeros_like(fake_logits)
    targets[:, REAL] = 1.0
    return F.binary_cross_entropy_with_logits(fake_logits, targets)
    ### END SOLUTION


def critic_accuracy(logits: torch.Tensor, cls: int) -> torch.Tensor:
    """Share of images whose larger logit is the one of class ``cls``."""
    ### BEGIN SOLUTION
    return (logits.argmax(dim=1) == cls).float().mean()
    ### END SOLUTION


def hinge_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))) (Lim and Ye 2017; SAGAN, BigGAN)."""
    ### BEGIN SOLUTION
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    ### END SOLUTION


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """-mean(D(G(z))): the generator raises the critic's scores of its images (hinge and Wasserstein GANs)."""
    ### BEGIN SOLUTION
    return -fake_scores.mean()
    ### END SOLUTION


# -- beside the answers: the scaling track's losses ---------------------------------------


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss (Arjovsky et al. 2017): E[D(G(z))] - E[D(x)]."""
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(
    critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, weight: float = 10.0
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): weight * E[(||grad D(x_hat)||_2 - 1)^2], ``x_hat`` random points
    between real and fake images (one mixing coefficient per sample); ``create_graph`` lets it train the critic."""
    eps = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = one_score(critic(mixed)).sum()
    (grad,) = torch.autograd.grad(scores, mixed, create_graph=True)
    return weight * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
