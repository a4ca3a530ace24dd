"""Mistake: the ONNX export fixes the batch size of the example input."""

NOTEBOOK = "05_training"
EXPECT_LOST = {"test_export_generator": 3}
EXPECT_MESSAGE = {"test_export_generator": "dynamic"}
EDITS = {"export_generator": [('dynamic_shapes=({0: torch.export.Dim("batch")},),', "")]}
