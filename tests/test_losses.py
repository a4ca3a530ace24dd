"""The losses against values computed by hand."""

from __future__ import annotations

import math

import torch

from ganlab_solution.losses import FAKE, REAL, critic_accuracy, critic_loss, generator_loss, smooth_targets


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def bce_row(logits: list[float], target: list[float]) -> float:
    """BCE with logits averaged over the columns of one row, written out."""
    return sum(t * softplus(-z) + (1 - t) * softplus(z) for z, t in zip(logits, target)) / len(logits)


def test_critic_loss_is_the_mean_of_the_real_and_fake_terms():
    real = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    fake = torch.tensor([[3.0, 0.5], [-2.0, 0.0]])
    real_term = (bce_row([0.0, 2.0], [0, 1]) + bce_row([1.0, -1.0], [0, 1])) / 2
    fake_term = (bce_row([3.0, 0.5], [1, 0]) + bce_row([-2.0, 0.0], [1, 0])) / 2
    assert math.isclose(critic_loss(real, fake, 0.0).item(), (real_term + fake_term) / 2, rel_tol=1e-6)
    # The same as one BCE over the concatenated batch.
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    targets = torch.cat([torch.tensor([[0.0, 1.0]]).repeat(16, 1), torch.tensor([[1.0, 0.0]]).repeat(16, 1)])
    joint = torch.nn.BCEWithLogitsLoss()(torch.cat([real, fake]), targets)
    assert torch.allclose(critic_loss(real, fake, 0.0), joint)


def test_uninformed_critic_scores_log_2_and_the_generator_loss_uses_hard_real_targets():
    zeros = torch.zeros(8, 2)
    assert math.isclose(critic_loss(zeros, zeros, 0.0).item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(generator_loss(zeros).item(), math.log(2), rel_tol=1e-6)
    fake = torch.tensor([[1.0, 3.0]])
    assert math.isclose(generator_loss(fake).item(), bce_row([1.0, 3.0], [0, 1]), rel_tol=1e-6)


def test_label_smoothing_is_drawn_per_sample_within_the_amplitude():
    labels = torch.full((1000,), REAL)
    torch.manual_seed(0)
    targets = smooth_targets(labels, 2, lblsmooth=0.2)
    true_col = targets[:, REAL]
    assert torch.all(true_col <= 1) and torch.all(true_col >= 0.8)
    assert true_col.std() > 0.04  # one value per sample, not one per batch
    assert torch.all(targets[:, FAKE] == 0)
    targets = smooth_targets(torch.tensor([0, 1, 1]), 2, 0.0)  # no smoothing: one-hot targets
    assert torch.equal(targets, torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))


def test_smoothed_critic_loss_is_random_but_bounded():
    # Confident, right logits: 5 for the true column of every row, 0 for the other.
    real, fake = torch.zeros(64, 2), torch.zeros(64, 2)
    real[:, REAL], fake[:, FAKE] = 5.0, 5.0
    hard = critic_loss(real, fake, 0.0).item()
    torch.manual_seed(0)
    draws = [critic_loss(real, fake, lblsmooth=0.2).item() for _ in range(2)]
    assert draws[0] != draws[1], "label smoothing drew the same targets twice"
    # BCE is linear in the target: every true-column target in [0.8, 1] puts the loss between
    # the hard loss (all targets 1) and the loss with all targets at 0.8, the smoothing's bound.
    assert math.isclose(hard, bce_row([0.0, 5.0], [0, 1]), rel_tol=1e-6)
    bound = bce_row([0.0, 5.0], [0, 0.8])
    for soft in draws:
        assert hard < soft < bound, (hard, soft, bound)
    # Per-sample draws average out: the batch's loss sits well inside the interval, not at an end.
    assert abs(sum(draws) / 2 - (hard + bound) / 2) < 0.25 * (bound - hard)


def test_accuracy_counts_argmax_matches():
    logits = torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 3.0], [0.0, 0.5]])
    assert critic_accuracy(logits, REAL).item() == 0.75
    assert critic_accuracy(logits, FAKE).item() == 0.25
