"""Mistake: alpha = i / steps, so the walk stops one step short of z2."""

NOTEBOOK = "06_generation"
EXPECT_LOST = {"test_line_latents": 2}
EXPECT_MESSAGE = {"test_line_latents": "the last row"}
EDITS = {"line_latents": [("torch.linspace(0, 1, steps).unsqueeze(1)", "(torch.arange(steps) / steps).unsqueeze(1)")]}
