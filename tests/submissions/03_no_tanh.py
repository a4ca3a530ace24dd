"""Mistake: the generator ends with the 1x1 convolution and no Tanh, so pixels are unbounded."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_generator": 5}
EXPECT_MESSAGE = {"test_generator": "Tanh"}
EDITS = {"generator": [("nn.Conv2d(widths[-1], channels, 1), nn.Tanh())", "nn.Conv2d(widths[-1], channels, 1))")]}
