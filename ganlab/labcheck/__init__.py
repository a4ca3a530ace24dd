"""The visible checks of the ganlab notebooks.

Every check explains, in the lab's own terms, what is wrong: "your critic returns (64, 1);
the lab's critic has two logits: (64, 2)" rather than a bare ``AssertionError``. They
contain no answer to any exercise: expected values are stored as numbers. The hidden tests
that compare answers with the reference are in the instructor's package
(``ganlab_solution.labcheck``), which re-exports everything here.
"""

from .core import *  # noqa: F403
from .core import CheckFailed  # noqa: F401  (named for readers and type checkers)
from .visible import *  # noqa: F403
