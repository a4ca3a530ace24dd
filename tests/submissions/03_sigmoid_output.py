"""Mistake: the generator ends with a sigmoid (pixels in [0, 1]) instead of Tanh ([-1, 1], like the real images)."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_generator": 5}
EXPECT_MESSAGE = {"test_generator": "sigmoid gives [0, 1]"}
EDITS = {
    "generator": [
        ("nn.Conv2d(widths[-1], channels, 1), nn.Tanh())", "nn.Conv2d(widths[-1], channels, 1), nn.Sigmoid())")
    ]
}
