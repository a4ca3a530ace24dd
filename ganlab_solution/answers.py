"""Where each answer of the lab lives in the reference package.

:data:`ganlab.answers.EXERCISES` lists which notebook asks for which name; each name is
defined here under the same name, with the same signature and defaults
(``tests/test_names.py`` checks it against the source notebooks).
"""

from __future__ import annotations

import importlib
from typing import Any

from ganlab.answers import EXERCISES

# The module of the reference package that defines each notebook's answers.
MODULES: dict[str, tuple[str, ...]] = {
    "01_data": ("data", "generate"),
    "02_critic": ("models",),
    "03_generator": ("models",),
    "04_gan_and_losses": ("models", "losses", "steps"),
    "05_training": ("losses", "export"),
    "06_generation": ("export", "generate"),
    "07_going_further": ("losses",),
}


def reference(name: str) -> Any:
    """The reference answer called ``name`` (e.g. ``"Discriminator"``)."""
    for notebook, names in EXERCISES.items():
        if name in names:
            for module in MODULES[notebook]:
                value = getattr(importlib.import_module(f"{__package__}.{module}"), name, None)
                if value is not None:
                    return value
            raise LookupError(f"the reference package defines no {name} (notebook {notebook}): a bug of the kit")
    raise KeyError(f"{name!r} is not an answer of the lab")
