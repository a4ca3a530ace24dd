"""Mistake: the critic loss adds the real and fake terms instead of averaging them."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_loss": 3}
EXPECT_MESSAGE = {"test_critic_loss": "twice"}
CELLS = {
    "critic_loss": """


def critic_loss(real_logits, fake_logits, lblsmooth):
    real_t = smooth_targets(torch.full((len(real_logits),), REAL), 2, lblsmooth)
    fake_t = smooth_targets(torch.full((len(fake_logits),), FAKE), 2, lblsmooth)
    return F.binary_cross_entropy_with_logits(real_logits, real_t) + F.binary_cross_entropy_with_logits(fake_logits, fake_t)
""",
}
