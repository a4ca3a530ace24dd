"""Mistake: the logits are squeezed, so a batch of one loses its batch axis."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_discriminator": 4}
EXPECT_MESSAGE = {"test_discriminator": "flatten(1)"}
EDITS = {"discriminator": [("self.head(self.blocks(X).flatten(1))", "self.head(self.blocks(X).flatten(1)).squeeze()")]}
