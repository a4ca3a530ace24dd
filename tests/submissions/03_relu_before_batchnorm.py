"""Mistake: conv - ReLU - BatchNorm, the original solution's order, instead of the page's conv - BN - ReLU."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_gblock": 3}
EXPECT_MESSAGE = {"test_gblock": "ReLU before BatchNorm"}
EDITS = {"gblock": [("nn.BatchNorm2d(cout),\n            nn.ReLU(),", "nn.ReLU(),\n            nn.BatchNorm2d(cout),")]}
