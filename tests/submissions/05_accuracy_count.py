"""Mistake: critic_accuracy counts the images instead of returning a fraction."""

NOTEBOOK = "05_training"
EXPECT_LOST = {"test_critic_accuracy": 2}
EXPECT_MESSAGE = {"test_critic_accuracy": "not the count"}
EDITS = {"critic_accuracy": [("(logits.argmax(dim=1) == cls).float().mean()", "(logits.argmax(dim=1) == cls).sum()")]}
