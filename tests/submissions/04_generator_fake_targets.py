"""Mistake: the generator's loss uses the 'fake' targets, so it learns to look fake."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_generator_loss": 1}
EXPECT_MESSAGE = {"test_generator_loss": "targets of fakes"}
CELLS = {
    "generator_loss": """
def generator_loss(fake_logits):
    return nn.BCEWithLogitsLoss()(fake_logits, F.one_hot(torch.zeros(len(fake_logits), dtype=torch.long), 2).float())
""",
}
