"""Mistake: the critic ends with Linear(features, 1): one logit instead of two."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_discriminator": 4}
EXPECT_MESSAGE = {"test_discriminator": "(64, 2)"}
EDITS = {"discriminator": [("height * width, num_classes)", "height * width, 1)")]}
