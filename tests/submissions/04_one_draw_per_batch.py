"""Mistake: one smoothing draw for the whole batch (the original lab code's bug)."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_smooth_targets": 2}
EXPECT_MESSAGE = {"test_smooth_targets": "own random draw"}
CELLS = {
    "smooth_targets": """
def smooth_targets(labels, num_classes, lblsmooth):
    targets = F.one_hot(labels, num_classes).float()
    targets[targets == 1] = 1 - lblsmooth * torch.rand(1).item()
    return targets
""",
}
