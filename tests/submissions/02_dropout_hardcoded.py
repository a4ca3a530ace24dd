"""Mistake: the block ignores its dropout argument and always drops with p=0.3."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_cblock": 3}
EXPECT_MESSAGE = {"test_cblock": "dropout"}
EDITS = {"cblock": [("nn.Dropout(dropout)", "nn.Dropout(0.3)")]}
