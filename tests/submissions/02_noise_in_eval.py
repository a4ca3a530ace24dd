"""Mistake: instance noise is added in evaluation mode too (as the original lab code did)."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_discriminator": 4}
EXPECT_MESSAGE = {"test_discriminator": "self.training"}
EDITS = {"discriminator": [("if self.training and self.dnoise > 0:", "if self.dnoise > 0:")]}
