"""The adversarial losses on the critic's two logits.

The critic outputs two logits per image; class 1 means "real", class 0 "fake".
Targets are one-hot rows, and :func:`torch.nn.functional.binary_cross_entropy_with_logits`
averages over both columns, as ``nn.BCEWithLogitsLoss()`` does.

In the book's notation, with :math:`r_i` and :math:`f_i` the critic's logits on
real and generated images,

* critic: :math:`\\mathcal{L}_c = \\tfrac12\\,[\\mathrm{BCE}(r, 1) + \\mathrm{BCE}(f, 0)]`
* generator: :math:`\\mathcal{L}_g = \\mathrm{BCE}(f, 1)` (hard targets).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

REAL = 1
FAKE = 0


def smooth_targets(
    labels: torch.Tensor, num_classes: int, lblsmooth: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One-hot targets whose true-class entry is drawn per sample in [1 - lblsmooth, 1].

    Each row gets its own draw (the original lab drew one value for the whole batch).
    ``lblsmooth=0`` gives hard one-hot targets.
    """
    targets = F.one_hot(labels, num_classes).float()
    if lblsmooth > 0:
        drop = lblsmooth * torch.rand(labels.shape[0], device=labels.device, generator=generator)
        targets[torch.arange(labels.shape[0], device=labels.device), labels] -= drop
    return targets


def _targets(logits: torch.Tensor, cls: int, lblsmooth: float) -> torch.Tensor:
    labels = torch.full((logits.shape[0],), cls, dtype=torch.long, device=logits.device)
    return smooth_targets(labels, logits.shape[1], lblsmooth)


def critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, lblsmooth: float) -> torch.Tensor:
    """Mean of BCE(real logits, "real") and BCE(fake logits, "fake"), with label smoothing.

    Equal to one BCE over the concatenated batch when both halves have the same size.
    """
    real_term = F.binary_cross_entropy_with_logits(real_logits, _targets(real_logits, REAL, lblsmooth))
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, _targets(fake_logits, FAKE, lblsmooth))
    return 0.5 * (real_term + fake_term)


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE of the critic's logits on generated images against hard "real" targets.

    This is the non-saturating loss of Goodfellow et al.: the generator maximises
    log D(G(z)) rather than minimising log(1 - D(G(z))).
    """
    return F.binary_cross_entropy_with_logits(fake_logits, _targets(fake_logits, REAL, 0.0))


def critic_score(logits: torch.Tensor) -> torch.Tensor:
    """One "realness" number per image: the logit margin (real - fake) for two logits,
    the single output for one (hinge and Wasserstein critics)."""
    return logits[:, 0] if logits.shape[1] == 1 else logits[:, REAL] - logits[:, FAKE]


def critic_accuracy(logits: torch.Tensor, cls: int) -> torch.Tensor:
    """Share of images the critic assigns to class ``cls``.

    With two logits that is the argmax; with one score, positive means real.
    """
    return ((critic_score(logits) > 0) == (cls == REAL)).float().mean()


def hinge_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss (Lim and Ye 2017; SAGAN, BigGAN) on one score per image: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss of the hinge and Wasserstein GANs: -E[D(G(z))], the scores of its images raised."""
    return -fake_scores.mean()


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss (Arjovsky et al. 2017): E[D(G(z))] - E[D(x)]."""
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(
    critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, weight: float = 10.0
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): weight * E[(||grad D(x_hat)||_2 - 1)^2].

    ``x_hat`` are random points on the segments between real and fake images, one
    mixing coefficient per sample; ``create_graph`` lets the penalty train the critic.
    """
    eps = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic_score(critic(mixed)).sum()
    (grad,) = torch.autograd.grad(scores, mixed, create_graph=True)
    return weight * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
