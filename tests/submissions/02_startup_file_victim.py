"""Mistake graded right after 02_startup_file_writer: this honest student still loses exactly the bias mistake's points."""

NOTEBOOK = "02_critic"
AFTER = "02_startup_file_writer"  # graded again once that student's kernels have run
EXPECT_LOST = {"test_cblock": 3}
EXPECT_MESSAGE = {"test_cblock": "bias"}
EDITS = {"cblock": [("padding=1, bias=False)", "padding=1)")]}
