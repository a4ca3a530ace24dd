"""Ready-made training configs shipped inside the package (YAML in assets/). ``CPU_SHORT`` is the CPU short run:
the lab's architecture, narrower, one epoch, tuned to draw recognisable Fashion-MNIST garments in minutes on two CPU
cores without collapsing; ``configs/cpu_short.yaml`` links to it, so ``make all``'s demo, notebook 5 and the site's
training page train with one recipe.
"""

from __future__ import annotations

from typing import Any

import yaml

from . import ASSETS
from .config import Config, parse_config

CPU_SHORT = ASSETS / "cpu_short.yaml"


def cpu_short_config(**sections: Any) -> Config:
    """The CPU short-run recipe with some keys overridden: a section (``data``, ``optim``, ``logging``, ``model``)
    as a mapping of the keys to change, or a top-level key, e.g. ``cpu_short_config(logging={"logdir": "/tmp/run"},
    seed=1)``."""
    raw = yaml.safe_load(CPU_SHORT.read_text())
    for key, value in sections.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    return parse_config(raw, str(CPU_SHORT))
