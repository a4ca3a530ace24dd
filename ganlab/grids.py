"""Image grids of generated or real images, and latent vectors to draw them from.

Images are in [-1, 1] (what the generator's tanh makes and what the critic sees);
torchvision's ``make_grid`` maps them to [0, 1] for the screen and for image files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .errors import GanlabError
from .files import atomic_write


def sample_latents(n: int, latent_size: int, seed: int | None = None) -> torch.Tensor:
    """``n`` latents from N(0, 1), reproducible when ``seed`` is given."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.randn(n, latent_size, generator=generator)


def image_grid(images: np.ndarray | torch.Tensor, nrow: int) -> torch.Tensor:
    """A (C, H, W) grid in [0, 1] of images in [-1, 1], ``nrow`` images per row."""
    # torchvision is imported where a grid is drawn, not with the package: its import pulls in torch._dynamo
    # (about 1.2 s), which graders and command lines that never draw a grid need not pay.
    from torchvision.utils import make_grid

    images = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images).detach().float().cpu()
    return make_grid(images, nrow=nrow, padding=2, pad_value=1.0, normalize=True, value_range=(-1, 1))


def image_format(path: str | Path) -> str:
    """The Pillow format name for ``path``'s extension (``.jpg`` -> ``JPEG``); PNG without one."""
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "PNG"
    formats = Image.registered_extensions()
    if suffix not in formats or formats[suffix] not in Image.SAVE:
        raise GanlabError(f"{path}: cannot write {suffix} images: use .png (or .jpg, .webp, .bmp)")
    return formats[suffix]


def save_grid(images: np.ndarray | torch.Tensor, path: str | Path, nrow: int) -> Path:
    """Save generator outputs as one image grid, atomically (the extension decides the format)."""
    return write_grid(image_grid(images, nrow), path)


def write_grid(grid: torch.Tensor, path: str | Path) -> Path:
    """Write a (C, H, W) grid in [0, 1] (:func:`image_grid`) to ``path``, atomically (the extension decides the
    format)."""
    path = Path(path)
    fmt = image_format(path)
    if path.is_dir():
        raise GanlabError(f"{path} is a folder: pass an image file name such as {path / 'samples.png'}")
    from torchvision.utils import save_image  # not at import time: see image_grid

    atomic_write(path, lambda tmp: save_image(grid, str(tmp), format=fmt))
    return path
