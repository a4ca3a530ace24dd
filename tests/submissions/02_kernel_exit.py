"""Broken submission: the CBlock cell calls os._exit, which kills the kernel; the exercises before and after keep their points."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_cblock": 3}
# The cell that killed the kernel is named in the graded notebook (and the instructor's report).
EXPECT_MESSAGE = {"cblock": "stopped the Python kernel", "test_cblock": "CBlock"}
CELLS = {
    "cblock": """
import os

os._exit(0)  # "my notebook restarts too slowly, let me quit from here"
""",
}
