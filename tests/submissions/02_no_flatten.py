"""Mistake: no flatten before the linear layer: the forward crashes, and the visible test says where, not a traceback."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_discriminator": 4}
EXPECT_MESSAGE = {"test_discriminator": "critic(X) for X of shape (64, 1, 28, 28) fails"}
EDITS = {"discriminator": [("return self.head(self.blocks(X).flatten(1))", "return self.head(self.blocks(X))")]}
