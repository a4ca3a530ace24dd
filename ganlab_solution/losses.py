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
    labels: torch.Tensor, num_classes: int = 2, lblsmooth: float = 0.0, generator: torch.Generator | None = None
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


def critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, lblsmooth: float = 0.0) -> torch.Tensor:
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


def accuracy(logits: torch.Tensor, cls: int) -> torch.Tensor:
    """Fraction of images the critic assigns to class ``cls`` (argmax over the logits)."""
    return (logits.argmax(dim=1) == cls).float().mean()
