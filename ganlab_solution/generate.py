"""Sampling and latent-space interpolation with an exported generator.

Latents are drawn from N(0, 1). The 1-D walk is :math:`z_1 + \\alpha (z_2 - z_1)`,
the 2-D grid :math:`z_1 + \\alpha (z_2 - z_1) + \\beta (z_3 - z_1)` with
:math:`\\alpha, \\beta \\in [0, 1]`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ganlab.errors import GanlabError
from ganlab.grids import image_format, sample_latents, save_grid

if TYPE_CHECKING:  # onnxruntime starts a thread on import: the grading zygote must fork before any
    import onnxruntime as ort


def generate_images(session: ort.InferenceSession, z) -> np.ndarray:
    """Images (B, C, H, W) in [-1, 1] for latents z of shape (B, L)."""
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float32)
    return session.run(None, {session.get_inputs()[0].name: z})[0]
    ### END SOLUTION


def line_latents(z1: torch.Tensor, z2: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, L) points from z1 (first row) to z2 (last row), evenly spaced."""
    ### BEGIN SOLUTION
    alpha = torch.linspace(0, 1, steps).unsqueeze(1)
    return z1 + alpha * (z2 - z1)
    ### END SOLUTION


def plane_latents(z1: torch.Tensor, z2: torch.Tensor, z3: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps * steps, L) points z1 + alpha (z2 - z1) + beta (z3 - z1), row i = beta_i, column j = alpha_j."""
    ### BEGIN SOLUTION
    values = torch.linspace(0, 1, steps)
    points = [z1 + alpha * (z2 - z1) + beta * (z3 - z1) for beta in values for alpha in values]
    return torch.stack(points)
    ### END SOLUTION


# -- beside the answers: the command line's sampling and interpolation grids ---------------


def generate(model: str | Path, n: int = 64, out: str | Path = "samples.png", seed: int | None = None) -> Path:
    """Sample ``n`` images from a generator ONNX file into a grid image."""
    image_format(out)  # a bad extension fails before any work
    from .export import OnnxGenerator, generate_in_batches

    generator = OnnxGenerator(model)
    images = generate_in_batches(generator, sample_latents(n, generator.latent_size, seed))
    return save_grid(images, out, nrow=max(1, round(math.sqrt(n))))


def interpolate(
    model: str | Path,
    mode: str = "grid",
    steps: int = 10,
    out: str | Path = "interpolation.png",
    seed: int | None = None,
    rows: int = 8,
) -> Path:
    """Write a latent interpolation grid: ``rows`` walks z1 -> z2 of ``steps`` images each (``mode="line"``), or a
    steps x steps plane spanned by three random latents (``mode="grid"``)."""
    image_format(out)
    from .export import OnnxGenerator, generate_in_batches

    generator = OnnxGenerator(model)
    if mode == "line":
        z = sample_latents(2 * rows, generator.latent_size, seed)
        latents = torch.cat([line_latents(z[2 * r], z[2 * r + 1], steps) for r in range(rows)])
    elif mode == "grid":
        z1, z2, z3 = sample_latents(3, generator.latent_size, seed)
        latents = plane_latents(z1, z2, z3, steps)
    else:
        raise GanlabError(f"--mode {mode!r}: choose line or grid")
    return save_grid(generate_in_batches(generator, latents), out, nrow=steps)
