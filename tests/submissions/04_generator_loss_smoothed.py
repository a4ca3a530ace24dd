"""Mistake: the generator's targets are smoothed too; the visible check names it (not just two numbers)."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_generator_loss": 1}
EXPECT_MESSAGE = {"test_generator_loss": "without label smoothing"}
CELLS = {
    "generator_loss": """
def generator_loss(fake_logits):
    labels = torch.full((len(fake_logits),), REAL, dtype=torch.long)
    return F.binary_cross_entropy_with_logits(fake_logits, smooth_targets(labels, 2, 0.2))
""",
}
