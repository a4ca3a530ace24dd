"""Mistake: generator(None, n) draws its latents uniformly in [0, 1) (torch.rand) instead of from N(0, I)."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_generator": 5}
EXPECT_MESSAGE = {"test_generator": "torch.rand is uniform"}
EDITS = {"generator": [("X = torch.randn(batch_size,", "X = torch.rand(batch_size,")]}
