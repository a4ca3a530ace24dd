"""Mistake: dropout after every activation of the block, not once at its end."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_cblock": 3}
EXPECT_MESSAGE = {"test_cblock": "dropout after every activation"}
EDITS = {
    "cblock": [
        (
            "nn.BatchNorm2d(cout),\n            nn.LeakyReLU(0.2),\n",
            "nn.BatchNorm2d(cout),\n            nn.LeakyReLU(0.2),\n            nn.Dropout(dropout),\n",
        )
    ]
}
