"""Hidden checks of notebook 1: the pixel mappings, against the reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ganlab.labcheck.core import call, check_close


def check_to_unit_range(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``to_unit_range``: every pixel value, grey and colour images."""
    every = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    check_close(
        "to_unit_range on the 256 pixel values",
        call(student, "to_unit_range(pixels)", every),
        reference(every.clone()),
        hint="0 must map to -1 and 255 to 1: divide by 127.5, then subtract 1",
    )
    colour = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    check_close(
        "to_unit_range on colour images (3, 3, 32, 32)",
        call(student, "to_unit_range(colour images)", colour),
        reference(colour.clone()),
    )


def check_to_display(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``to_display``: the mapping and the clamping (answers working in place are fine)."""
    x = torch.linspace(-1.2, 1.2, 97).reshape(1, 1, 97)
    check_close(
        "to_display on values from -1.2 to 1.2",
        call(student, "to_display(x)", x),
        reference(x.clone()),
        hint="values outside [-1, 1] must be clamped to 0 and 1",
    )
