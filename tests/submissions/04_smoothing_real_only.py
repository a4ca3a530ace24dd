"""Mistake: label smoothing on the real term only, where the notebook smooths both terms."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_loss": 3}
EXPECT_MESSAGE = {"test_critic_loss": "real term only"}
EDITS = {
    "critic_loss": [
        ("smooth_targets(fake_labels, num_classes, lblsmooth)", "smooth_targets(fake_labels, num_classes, 0.0)")
    ]
}
