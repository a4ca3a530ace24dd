"""Tampering: a wrong answer whose test was emptied, and a deleted test cell; nbgrader restores both."""

NOTEBOOK = "01_data"
# The emptied test comes back from the gradebook and still catches the wrong answer; the
# deleted test comes back too and gives the (correct) to_display its point.
EXPECT_LOST = {"test_to_unit_range": 2}
EXPECT_MESSAGE = {"test_to_unit_range": "127.5"}
CELLS = {
    "to_unit_range": """
def to_unit_range(images):
    return images.float() / 255
""",
    "test_to_unit_range": "pass  # trust me",
}
DELETE = ["test_to_display"]
