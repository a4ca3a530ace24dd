"""ganlab_solution: the reference implementation of the ganlab DCGAN lab.

Modules, in lab order: :mod:`.data`, :mod:`.models`, :mod:`.losses`,
:mod:`.trainer`, :mod:`.export`, :mod:`.generate`.
"""

from .errors import GanlabError
from .losses import critic_loss, generator_loss, smooth_targets
from .models import GAN, CBlock, Discriminator, GBlock, Generator

__version__ = "0.1.0"
__all__ = [
    "GAN",
    "CBlock",
    "Discriminator",
    "GBlock",
    "GanlabError",
    "Generator",
    "critic_loss",
    "generator_loss",
    "smooth_targets",
]
