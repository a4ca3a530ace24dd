"""Mistake: nn.Upsample's default mode (nearest) instead of the lab's bilinear upsampling."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_gblock": 3}
EXPECT_MESSAGE = {"test_gblock": "mode='nearest'"}
EDITS = {"gblock": [('nn.Upsample(scale_factor=2, mode="bilinear")', "nn.Upsample(scale_factor=2)")]}
