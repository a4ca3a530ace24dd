"""Mistake: a sigmoid after the critic's linear layer (the loss applies it itself)."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_discriminator": 4}
EXPECT_MESSAGE = {"test_discriminator": "sigmoid after the linear layer"}
EDITS = {
    "discriminator": [
        ("return self.head(self.blocks(X).flatten(1))", "return torch.sigmoid(self.head(self.blocks(X).flatten(1)))")
    ]
}
