"""Broken submission: an answer cell never finishes; the cell times out and grading goes on.

It waits asleep (a busy loop ends the same way, only burning a core until the timeout)."""

NOTEBOOK = "01_data"
EXPECT_LOST = {"test_to_display": 1}
EXPECT_MESSAGE = {"test_to_display": "not defined"}
CELLS = {
    "to_display": """
import time

while True:  # meant to wait for something that never comes
    time.sleep(1)


def to_display(x):
    return ((x + 1) / 2).clamp(0, 1)
""",
}
