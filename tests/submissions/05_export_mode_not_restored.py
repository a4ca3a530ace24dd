"""Mistake: the generator is left in eval mode after the export, which would freeze BatchNorm for the rest of training."""

NOTEBOOK = "05_training"
EXPECT_LOST = {"test_export_generator": 3}
EXPECT_MESSAGE = {"test_export_generator": "mode"}
EDITS = {"export_generator": [("generator.train(was_training)", "")]}
