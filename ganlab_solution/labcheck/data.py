"""Checks of notebook 1: the pixel mappings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .core import as_tensor, call, check, check_close, check_shape


def check_to_unit_range_example(student: Callable[..., Any], images: torch.Tensor) -> None:
    """The visible check of ``to_unit_range`` on 16 dataset images: shape, dtype and range."""
    x = call(student, "to_unit_range(images[:16])", images[:16])
    check_shape("to_unit_range(images[:16])", x, (16, 1, 28, 28))
    check(
        torch.is_tensor(x) and x.is_floating_point(),
        f"to_unit_range must return a float tensor, got {getattr(x, 'dtype', type(x).__name__)}: convert with "
        ".float() first",
    )
    low, high = x.min().item(), x.max().item()
    check(
        -1 <= low and high <= 1 and high - low > 1.5,
        f"to_unit_range's values must span [-1, 1], got [{low:.3f}, {high:.3f}]: divide by 127.5, then subtract 1",
    )


def check_to_unit_range(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``to_unit_range``: every pixel value, grey and colour images."""
    every = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    check_close(
        "to_unit_range on the 256 pixel values",
        call(student, "to_unit_range(pixels)", every),
        reference(every.clone()),
        atol=1e-5,
        hint="0 must map to -1 and 255 to 1: divide by 127.5, then subtract 1",
    )
    colour = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    check_close(
        "to_unit_range on colour images (3, 3, 32, 32)",
        call(student, "to_unit_range(colour images)", colour),
        reference(colour.clone()),
    )


def check_to_display_example(student: Callable[..., Any]) -> None:
    """The visible check of ``to_display`` on -1, 0 and 1."""
    y = call(student, "to_display(torch.tensor([-1.0, 0.0, 1.0]))", torch.tensor([-1.0, 0.0, 1.0]))
    check_close(
        "to_display([-1, 0, 1])", as_tensor(y, "to_display"), torch.tensor([0.0, 0.5, 1.0]), hint="use (x + 1) / 2"
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
