"""Mistake: dnoise is read as a variance: the noise's standard deviation is sqrt(dnoise)."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_discriminator": 4}
EXPECT_MESSAGE = {"test_discriminator": "sqrt(dnoise)"}
EDITS = {"discriminator": [("self.dnoise * torch.randn_like(X)", "self.dnoise**0.5 * torch.randn_like(X)")]}
