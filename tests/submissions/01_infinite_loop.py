"""Broken submission: an answer cell never finishes; the cell times out and grading goes on."""

NOTEBOOK = "01_data"
EXPECT_LOST = {"test_to_display": 1}
EXPECT_MESSAGE = {"test_to_display": "not defined"}
CELLS = {
    "to_display": """
while True:  # meant to wait for something that never comes
    pass


def to_display(x):
    return ((x + 1) / 2).clamp(0, 1)
""",
}
