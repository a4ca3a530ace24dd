"""Hostile submission: wrong answers, and the answer cell disables the guard and turns labcheck's failures into no-ops.

The visible checks and the guard run inside the kernel, so they are fooled; the hidden checks of 1.1 and 1.2 run in
the grader's own process (autograder/judge.py) on what the answers return, and still catch both mistakes.
"""

NOTEBOOK = "01_data"
EXPECT_LOST = {"test_to_unit_range": 2, "test_to_display": 1}
EXPECT_MESSAGE = {"test_to_unit_range": "127.5", "test_to_display": "clamp"}
CELLS = {
    "to_unit_range": """
import sys

from ganlab.labcheck import core


def to_unit_range(images):
    return images.float() / 255  # [0, 1], not [-1, 1]


sys.modules["__ganlab_guard__"].verify = lambda: []  # the guard reports nothing, puts nothing back
core.fail.__code__ = (lambda *args, **kwargs: None).__code__  # no check fails any more
""",
    "to_display": """
def to_display(x):
    return (x + 1) / 2  # not clamped
""",
}
