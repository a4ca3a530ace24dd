"""The reference answer of notebook 1: uint8 pixels to the generator's range [-1, 1].

Everything else about data (loading, splitting, batching) is the student package's
:mod:`ganlab.data`; its loaders take this function as their ``to_unit_range``.
"""

from __future__ import annotations

import torch


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels in [0, 255] -> float pixels in [-1, 1] (``x / 127.5 - 1``)."""
    return images.float() / 127.5 - 1.0
