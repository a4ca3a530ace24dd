"""Mistake: the convolutions before BatchNorm keep their bias (the original lab code's habit)."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_cblock": 3}
EXPECT_MESSAGE = {"test_cblock": "bias"}
# (old, new) edits of the reference answer
EDITS = {"cblock": [("padding=1, bias=False)", "padding=1)")]}
