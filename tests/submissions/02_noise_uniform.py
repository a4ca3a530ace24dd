"""Mistake: the instance noise is uniform (torch.rand_like) instead of Gaussian."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_discriminator": 4}
EXPECT_MESSAGE = {"test_discriminator": "uniform"}
EDITS = {"discriminator": [("self.dnoise * torch.randn_like(X)", "self.dnoise * torch.rand_like(X)")]}
