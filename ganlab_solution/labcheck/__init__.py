"""Checks used by the test cells of the ganlab notebooks.

Every check explains, in the lab's own terms, what is wrong: "your critic returns (64, 1);
the lab's critic has two logits: (64, 2)" rather than a bare ``AssertionError``. It
contains no answer to any exercise: the hidden tests compare a student's objects with
the rest of this package.

It lives in the installed package, not next to the notebooks, so that a submission
cannot bring its own, more lenient copy to the autograder.

The checks are split by notebook: ``core`` holds what every check shares, ``networks`` what the
critic's and the generator's checks share, then one module per notebook. Test cells call them
through the package (``labcheck.check_generator(...)``), which re-exports every public name.
"""

from .core import *  # noqa: F403
from .core import REFERENCE_PACKAGE, CheckFailed  # noqa: F401  (named for readers and type checkers)
from .critic import *  # noqa: F403
from .data import *  # noqa: F403
from .gan import *  # noqa: F403
from .generation import *  # noqa: F403
from .generator import *  # noqa: F403
from .networks import *  # noqa: F403
from .training import *  # noqa: F403
