"""Valid: module-level names the test cells used to overwrite (loss, r, f, t, logits, result, optimizers), as the original lab's solution keeps its criterion."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {}
CELLS = {
    "critic_loss": """
loss = nn.BCEWithLogitsLoss()
r, f, t, logits, result, optimizers = "my", "own", "names", "tests", "must", "keep"


def critic_loss(real_logits, fake_logits, lblsmooth):
    real_labels = torch.full((len(real_logits),), REAL, dtype=torch.long)
    fake_labels = torch.full((len(fake_logits),), FAKE, dtype=torch.long)
    real_term = loss(real_logits, smooth_targets(real_labels, 2, lblsmooth))
    fake_term = loss(fake_logits, smooth_targets(fake_labels, 2, lblsmooth))
    assert (r, f, t, logits, result, optimizers) == ("my", "own", "names", "tests", "must", "keep")
    return (real_term + fake_term) / 2
""",
    "generator_loss": """
def generator_loss(fake_logits):
    targets = torch.zeros_like(fake_logits)
    targets[:, REAL] = 1.0
    assert (r, f, t, logits, result) == ("my", "own", "names", "tests", "must")
    return loss(fake_logits, targets)
""",
}
