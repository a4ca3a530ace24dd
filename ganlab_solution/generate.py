"""Sampling and latent-space interpolation with an exported generator.

Latents are drawn from N(0, 1). The 1-D walk is :math:`z_1 + \\alpha (z_2 - z_1)`,
the 2-D grid :math:`z_1 + \\alpha (z_2 - z_1) + \\beta (z_3 - z_1)` with
:math:`\\alpha, \\beta \\in [0, 1]`.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import make_grid, save_image

from .errors import GanlabError
from .export import OnnxGenerator, atomic_write

BATCH = 256  # latents per generator call: memory stays bounded whatever -n is


def sample_latents(n: int, latent_size: int, seed: int | None = None) -> torch.Tensor:
    """``n`` latents from N(0, 1), reproducible when ``seed`` is given."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.randn(n, latent_size, generator=generator)


def line_latents(z1: torch.Tensor, z2: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, L) latents on the segment from ``z1`` (alpha=0) to ``z2`` (alpha=1)."""
    alpha = torch.linspace(0, 1, steps).unsqueeze(1)
    return z1 + alpha * (z2 - z1)


def plane_latents(z1: torch.Tensor, z2: torch.Tensor, z3: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps*steps, L) latents z1 + alpha (z2 - z1) + beta (z3 - z1); rows vary beta."""
    grid = torch.linspace(0, 1, steps)
    beta, alpha = torch.meshgrid(grid, grid, indexing="ij")
    return z1 + alpha.reshape(-1, 1) * (z2 - z1) + beta.reshape(-1, 1) * (z3 - z1)


def to_display(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> displayable [0, 1] (``x * 0.5 + 0.5``)."""
    images = torch.as_tensor(images)
    return (images * 0.5 + 0.5).clamp(0, 1)


def image_grid(images: np.ndarray | torch.Tensor, nrow: int) -> torch.Tensor:
    """A (C, H, W) grid in [0, 1] of generator outputs, ``nrow`` images per row."""
    return make_grid(to_display(images), nrow=nrow, padding=2, pad_value=1.0)


def image_format(path: str | Path) -> str:
    """The Pillow format name for ``path``'s extension (``.jpg`` -> ``JPEG``); PNG without one."""
    from PIL import Image

    suffix = Path(path).suffix.lower()
    if not suffix:
        return "PNG"
    formats = Image.registered_extensions()
    if suffix not in formats or formats[suffix] not in Image.SAVE:
        raise GanlabError(f"{path}: cannot write {suffix} images: use .png (or .jpg, .webp, .bmp)")
    return formats[suffix]


def save_grid(images: np.ndarray | torch.Tensor, path: str | Path, nrow: int) -> Path:
    """Save generator outputs as one image grid, atomically (the extension decides the format)."""
    path = Path(path)
    fmt = image_format(path)
    if path.is_dir():
        raise GanlabError(f"{path} is a folder: pass an image file name such as {path / 'samples.png'}")
    grid = image_grid(images, nrow)
    atomic_write(path, lambda tmp: save_image(grid, str(tmp), format=fmt))
    return path


def load_generator(model: str | Path) -> OnnxGenerator:
    """An :class:`OnnxGenerator`, also checked for float32 latents in and 1- or 3-channel images out."""
    generator = OnnxGenerator(model)
    inp, out = generator.session.get_inputs()[0], generator.session.get_outputs()[0]
    for what, arg in (("input", inp), ("output", out)):
        if arg.type != "tensor(float)":
            raise GanlabError(
                f"{model}: its {what} is a {arg.type}, a generator maps float32 latents to float32 images: "
                "export it from a float32 model (training does)"
            )
    channels = out.shape[1]
    if isinstance(channels, int) and channels not in (1, 3):
        raise GanlabError(f"{model} makes images with {channels} channels: a generator must make 1 (gray) or 3 (RGB)")
    return generator


def run_generator(generator: OnnxGenerator, z: torch.Tensor, batch_size: int = BATCH) -> np.ndarray:
    """Images for latents ``z``, run ``batch_size`` latents at a time (memory stays bounded).

    A generator exported with a fixed batch size B is run B latents at a time, the
    last batch padded. Raises :class:`GanlabError` if the images have the wrong
    number of channels or are all NaN; warns if some pixels are not finite.
    """
    fixed = generator.session.get_inputs()[0].shape[0]
    step = fixed if isinstance(fixed, int) and fixed > 0 else batch_size
    chunks = []
    for start in range(0, z.shape[0], step):
        part = z[start : start + step]
        count = part.shape[0]
        if count < step and step != batch_size:
            part = torch.cat([part, part.new_zeros(step - count, part.shape[1])])
        try:
            chunks.append(generator(part)[:count])
        except Exception as exc:  # onnxruntime raises its own exception types
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise GanlabError(
                f"{generator.path} fails on a batch of {part.shape[0]} latents ({first}): "
                "re-export the generator with a dynamic batch size (training does)"
            ) from None
    images = np.concatenate(chunks)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GanlabError(
            f"{generator.path} makes arrays of shape {images.shape[1:]}, not images: "
            "a generator must output (B, 1 or 3, H, W)"
        )
    finite = np.isfinite(images)
    if not finite.any():
        raise GanlabError(f"{generator.path} outputs only NaN or infinite pixels: the generator is broken, retrain it")
    if not finite.all():
        bad = int((~finite).reshape(len(images), -1).any(axis=1).sum())
        warnings.warn(f"{generator.path}: {bad} of {len(images)} images have NaN or infinite pixels", stacklevel=2)
    return images


def generate(model: str | Path, n: int = 64, out: str | Path = "samples.png", seed: int | None = None) -> Path:
    """Sample ``n`` images from a generator ONNX file into a grid image."""
    image_format(out)  # a bad extension fails before any work
    generator = load_generator(model)
    images = run_generator(generator, sample_latents(n, generator.latent_size, seed))
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
    return save_grid(run_generator(generator, latents), out, nrow=steps)
