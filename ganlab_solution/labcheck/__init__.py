"""The hidden checks of the ganlab notebooks, for grading: they compare answers with the reference, and re-export
the visible ones (:mod:`ganlab.labcheck`), so a hidden test calls every check through one name. One module per
notebook; ``networks`` holds what the critic's and generator's checks share, ``tripwire`` "did you write it yourself?".
"""

from ganlab.labcheck import *  # noqa: F403
from ganlab.labcheck import CheckFailed  # noqa: F401

from .critic import *  # noqa: F403
from .data import *  # noqa: F403
from .gan import *  # noqa: F403
from .generation import *  # noqa: F403
from .generator import *  # noqa: F403
from .going_further import *  # noqa: F403
from .networks import *  # noqa: F403
from .training import *  # noqa: F403
from .tripwire import *  # noqa: F403
