"""Mistake: smooth_targets reseeds PyTorch's global random generator at every call."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_smooth_targets": 2}
EXPECT_MESSAGE = {"test_smooth_targets": "global random generator"}
EDITS = {
    "smooth_targets": [
        (
            "targets = F.one_hot(labels, num_classes).float()",
            "torch.manual_seed(0)\n    targets = F.one_hot(labels, num_classes).float()",
        )
    ]
}
