"""Sampling and latent-space interpolation with an exported generator.

Latents are drawn from N(0, 1). The 1-D walk is :math:`z_1 + \\alpha (z_2 - z_1)`,
the 2-D grid :math:`z_1 + \\alpha (z_2 - z_1) + \\beta (z_3 - z_1)` with
:math:`\\alpha, \\beta \\in [0, 1]`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ganlab.errors import GanlabError
from ganlab.grids import image_format, sample_latents, save_grid

from .export import generate_images, load_generator


def line_latents(z1: torch.Tensor, z2: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, L) latents on the segment from ``z1`` (alpha=0) to ``z2`` (alpha=1)."""
    alpha = torch.linspace(0, 1, steps).unsqueeze(1)
    return z1 + alpha * (z2 - z1)


def plane_latents(z1: torch.Tensor, z2: torch.Tensor, z3: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps*steps, L) latents z1 + alpha (z2 - z1) + beta (z3 - z1); rows vary beta."""
    grid = torch.linspace(0, 1, steps)
    beta, alpha = torch.meshgrid(grid, grid, indexing="ij")
    return z1 + alpha.reshape(-1, 1) * (z2 - z1) + beta.reshape(-1, 1) * (z3 - z1)


def to_display(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> displayable [0, 1] (``x * 0.5 + 0.5``), clamped."""
    x = torch.as_tensor(x)
    return (x * 0.5 + 0.5).clamp(0, 1)


def generate(model: str | Path, n: int = 64, out: str | Path = "samples.png", seed: int | None = None) -> Path:
    """Sample ``n`` images from a generator ONNX file into a grid image."""
    image_format(out)  # a bad extension fails before any work
    generator = load_generator(model)
    images = generate_images(generator, sample_latents(n, generator.latent_size, seed))
    return save_grid(images, out, nrow=max(1, round(math.sqrt(n))))


def interpolate(
    model: str | Path,
    mode: str = "grid",
    steps: int = 10,
    out: str | Path = "interpolation.png",
    seed: int | None = None,
    rows: int = 8,
) -> Path:
    """Write a latent interpolation grid.

    ``mode="line"``: ``rows`` independent walks z1 -> z2 of ``steps`` images each.
    ``mode="grid"``: a steps x steps plane spanned by three random latents.
    """
    image_format(out)
    generator = load_generator(model)
    if mode == "line":
        z = sample_latents(2 * rows, generator.latent_size, seed)
        latents = torch.cat([line_latents(z[2 * r], z[2 * r + 1], steps) for r in range(rows)])
    elif mode == "grid":
        z1, z2, z3 = sample_latents(3, generator.latent_size, seed)
        latents = plane_latents(z1, z2, z3, steps)
    else:
        raise GanlabError(f"--mode {mode!r}: choose line or grid")
    return save_grid(generate_images(generator, latents), out, nrow=steps)
