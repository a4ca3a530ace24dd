"""Mistake: the BCE is summed over the two logit columns (then averaged over the batch): twice the lab's value.

The message must name both ways to get that factor, not only "take the mean of the two terms" (the student did).
"""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_loss": 3}
EXPECT_MESSAGE = {"test_critic_loss": "summed over the two logit columns"}
CELLS = {
    "critic_loss": """
def critic_loss(real_logits, fake_logits, lblsmooth):
    real_labels = torch.full((len(real_logits),), REAL, dtype=torch.long)
    fake_labels = torch.full((len(fake_logits),), FAKE, dtype=torch.long)
    real_bce = F.binary_cross_entropy_with_logits(real_logits, smooth_targets(real_labels, 2, lblsmooth), reduction="none")
    fake_bce = F.binary_cross_entropy_with_logits(fake_logits, smooth_targets(fake_labels, 2, lblsmooth), reduction="none")
    return (real_bce.sum(dim=1).mean() + fake_bce.sum(dim=1).mean()) / 2
""",
}
