"""The visible checks of the ganlab notebooks: each says, in the lab's terms, what is wrong ("your critic returns
(64, 1); the lab's critic has two logits: (64, 2)"), and holds no answer (expected values are stored as numbers).
The hidden tests, which compare with the reference, are in ``ganlab_solution.labcheck``, which re-exports these.
"""

from .core import *  # noqa: F403
from .core import CheckFailed  # noqa: F401  (named for readers and type checkers)
from .visible import *  # noqa: F403
