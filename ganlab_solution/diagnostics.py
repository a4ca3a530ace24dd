"""Cheap diagnostics of a GAN in training: sample diversity and mode collapse.

A collapsed generator maps many latents to (nearly) the same image. Two symptoms are
easy to measure without any extra network: the spread of its samples compared with
the spread of real images (:func:`diversity_ratio`), and the critic winning outright
(accuracy near 1 on both real and fake images, logged by the trainer).
"""

from __future__ import annotations

import torch


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean Euclidean distance between all pairs of images in a batch (pixels in [-1, 1])."""
    flat = images.detach().float().flatten(1)
    if flat.shape[0] < 2:
        raise ValueError("need at least two images to measure their spread")
    distances = torch.cdist(flat, flat)
    n = flat.shape[0]
    return (distances.sum() / (n * (n - 1))).item()


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Spread of generated images relative to real ones: about 1 when healthy, near 0 when collapsed."""
    return mean_pairwise_distance(fake) / mean_pairwise_distance(real)


def export_image_folder(images: torch.Tensor, folder, size: int | None = None) -> int:
    """Write images in [-1, 1] (N, C, H, W) as PNG files, optionally resized to ``size``.

    Used to turn an in-memory dataset into a small ImageFolder for the ResNet GAN.
    Returns the number of files written.
    """
    from pathlib import Path

    from torchvision.transforms.functional import resize
    from torchvision.utils import save_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        if size is not None:
            image = resize(image, [size, size], antialias=True)
        save_image(image * 0.5 + 0.5, folder / f"{i:05d}.png")
    return len(images)
