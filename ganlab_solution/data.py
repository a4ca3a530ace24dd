"""The reference answers of notebook 1: uint8 pixels to the generator's range [-1, 1], and back for display.

Everything else about data (loading, splitting, batching) is the student package's
:mod:`ganlab.data`; its loaders take this function as their ``to_unit_range``.
"""

from __future__ import annotations

import torch


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels in [0, 255] -> float pixels in [-1, 1]."""
    ### BEGIN SOLUTION
    return images.float() / 127.5 - 1.0
    ### END SOLUTION


def to_display(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [-1, 1] -> pixels in [0, 1] (clamped), for plotting."""
    ### BEGIN SOLUTION
    return ((x + 1) / 2).clamp(0, 1)
    ### END SOLUTION
