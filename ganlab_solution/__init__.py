"""ganlab_solution: the reference implementation of the ganlab DCGAN lab (the instructor's and the grader's).

It builds on the student package ``ganlab`` and adds what students write themselves:
the answers of every exercise, the hidden checks, the CLI trainer and the metrics.

Modules, in lab order: :mod:`.data`, :mod:`.models`, :mod:`.losses`,
:mod:`.trainer`, :mod:`.export`, :mod:`.generate`. The most used names are also
reachable from the package itself (``from ganlab_solution import GAN``), imported
lazily so that ``python -m ganlab_solution.models`` runs the module only once.
"""

from __future__ import annotations

import importlib
from typing import Any

from ganlab.errors import GanlabError

__version__ = "0.1.0"
_LAZY = {
    "GAN": "models",
    "CBlock": "models",
    "Discriminator": "models",
    "GBlock": "models",
    "Generator": "models",
    "conv_output_size": "models",
    "critic_loss": "losses",
    "generator_loss": "losses",
    "smooth_targets": "losses",
}
__all__ = ["GanlabError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
