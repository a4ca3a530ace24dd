"""Mistake: a class counts when its own logit is positive, whatever the other logit says."""

NOTEBOOK = "05_training"
EXPECT_LOST = {"test_critic_accuracy": 2}
EXPECT_MESSAGE = {"test_critic_accuracy": "argmax"}
EDITS = {"critic_accuracy": [("(logits.argmax(dim=1) == cls).float().mean()", "(logits[:, cls] > 0).float().mean()")]}
