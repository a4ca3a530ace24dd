"""Mistake: nn.LeakyReLU() with PyTorch's default slope 0.01 instead of the lab's 0.2."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_cblock": 3}
EXPECT_MESSAGE = {"test_cblock": "slope 0.01"}
EDITS = {"cblock": [("nn.LeakyReLU(0.2)", "nn.LeakyReLU()")]}
