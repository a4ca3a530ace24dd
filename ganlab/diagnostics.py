"""Cheap diagnostics of a GAN in training: a collapsed generator draws (nearly) one image and its critic wins
outright; :func:`diagnose` turns the samples' spread and the critic's accuracies into a verdict a student can act
on, :func:`sample_quality` adds the shipped Fashion-MNIST classifier's opinion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .classifier import CLASSES, load_classifier

# Thresholds of :func:`diagnose`. Real Fashion-MNIST images have a pixel spread of about 0.55 (pixels in [-1, 1]); a
# healthy short run reaches 0.3 or more, a collapsed one draws the same image 64 times (spread below 0.1).
PINNED_ACCURACY = 0.98
LOW_SPREAD = 0.15
WINDOW = 50
CHAPTER = "book/lab/05_training.md, section 'Reading the curves'"

# What a learning run of the CPU recipe (ganlab/assets/cpu_short.yaml) reaches, for the tests, the benches and anyone
# judging a run: :meth:`SampleQuality.shortfalls`. Measured: confident share 0.25 to 0.35, 8 to 10 classes, pixel
# spread about 0.45, the critic's mean accuracies 0.6 to 0.8. A collapsed run: spread below 0.1, one class, critic
# accuracy 1.0. The shipped 80-epoch generator: 68%, 10 classes.
MIN_CONFIDENT = 0.15
MIN_CLASSES = 5
MAX_CLASS_SHARE = 0.5
MIN_SPREAD = 0.3
MAX_CRITIC_ACC = 0.95  # the mean of an epoch's (or the last 50 steps') accuracies, real or fake


def _flat(images: torch.Tensor) -> torch.Tensor:
    flat = images.detach().float().flatten(1)
    if flat.shape[0] < 2:
        raise ValueError("need at least two images to measure their spread")
    return flat


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean Euclidean distance between all pairs of images in a batch (pixels in [-1, 1])."""
    flat = _flat(images)
    distances = torch.cdist(flat, flat)
    n = flat.shape[0]
    return (distances.sum() / (n * (n - 1))).item()


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Spread of generated images relative to real ones: about 1 when healthy, near 0 when collapsed."""
    return mean_pairwise_distance(fake) / mean_pairwise_distance(real)


def export_image_folder(images: torch.Tensor, folder, size: int | None = None) -> int:
    """Write images in [-1, 1] (N, C, H, W) as PNG files (an ImageFolder), resized to ``size`` if given; returns
    the number of files written."""
    from torchvision.transforms.functional import resize
    from torchvision.utils import save_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        if size is not None:
            image = resize(image, [size, size], antialias=True)
        save_image(image, folder / f"{i:05d}.png", normalize=True, value_range=(-1, 1))
    return len(images)


def pixel_spread(images: torch.Tensor) -> float:
    """Standard deviation of each pixel across the samples, averaged: 0 for one image, about 0.55 for Fashion-MNIST."""
    return _flat(images).std(0).mean().item()


def critic_pinned(acc_real: Sequence[float], acc_fake: Sequence[float]) -> bool:
    """True when the critic's mean accuracy over the last :data:`WINDOW` steps is at least
    :data:`PINNED_ACCURACY` on both real and fake batches: it wins outright."""
    if len(acc_real) < WINDOW or len(acc_fake) < WINDOW:
        return False
    return min(float(np.mean(acc_real[-WINDOW:])), float(np.mean(acc_fake[-WINDOW:]))) >= PINNED_ACCURACY


@dataclass
class Diagnosis:
    """The verdict of :func:`diagnose`: ``healthy``, the figures behind it and a message."""

    healthy: bool
    critic_accuracy: tuple[float, float]
    spread: float
    message: str


def diagnose(history: dict[str, Sequence[float]], samples: torch.Tensor) -> Diagnosis:
    """Has a run collapsed, and what to do about it, from the per-step ``critic_acc_real`` and ``critic_acc_fake``
    of ``history`` and ``samples`` in [-1, 1] from the generator in evaluation mode (e.g. the 64 of the grid)."""
    acc_real, acc_fake = list(history["critic_acc_real"]), list(history["critic_acc_fake"])
    last = min(WINDOW, len(acc_real)) or 1
    accuracy = (float(np.mean(acc_real[-last:] or [0.0])), float(np.mean(acc_fake[-last:] or [0.0])))
    spread = pixel_spread(samples)
    pinned = critic_pinned(acc_real, acc_fake)
    flat = spread < LOW_SPREAD
    figures = (
        f"critic accuracy over the last {last} steps: {accuracy[0]:.2f} on real, {accuracy[1]:.2f} on fake; "
        f"pixel spread of the samples {spread:.2f} (real images: about 0.55)"
    )
    if not (pinned or flat):
        return Diagnosis(True, accuracy, spread, f"healthy: {figures}.")
    symptoms = []
    if pinned:
        symptoms.append(
            "the critic tells every real image from every fake one, so the generator's loss saturates "
            "and its gradients carry almost no information"
        )
    if flat:
        symptoms.append("the samples barely differ from one another: the generator draws (nearly) one image")
    message = (
        f"collapsed: {figures}.\n"
        f"What it means: {'; and '.join(symptoms)}. A run in this state rarely recovers by training longer.\n"
        "What to try: start again with a slower critic or a faster generator (optim.critic_lr below "
        "optim.generator_lr), more instance noise (model.dnoise 0.2) or label smoothing (optim.lblsmooth), "
        "and an EMA of the generator's weights (optim.ema 0.95); configs/cpu_short.yaml is a recipe that "
        "learns on a CPU. If the recipe itself collapses, check your critic and generator against notebooks 2 to 4.\n"
        f"Read more: {CHAPTER}."
    )
    return Diagnosis(False, accuracy, spread, message)


@dataclass
class SampleQuality:
    """What the shipped Fashion-MNIST classifier makes of a set of samples."""

    confident: float  # share of samples it puts in one class with probability >= threshold
    histogram: np.ndarray  # share of samples predicted in each class (sums to 1)
    spread: float  # :func:`pixel_spread` of the samples

    @property
    def classes_seen(self) -> int:
        """Number of classes that hold at least 5% of the samples (10 for real images)."""
        return int((self.histogram >= 0.05).sum())

    def shortfalls(self) -> list[str]:
        """How these samples fall short of a learning run's (the bounds above); empty when they do not."""
        largest = float(self.histogram.max())
        checks = [
            (self.spread >= MIN_SPREAD, f"pixel spread {self.spread:.2f} < {MIN_SPREAD}"),
            (self.confident >= MIN_CONFIDENT, f"{self.confident:.0%} recognised with confidence < {MIN_CONFIDENT:.0%}"),
            (self.classes_seen >= MIN_CLASSES, f"{self.classes_seen} classes < {MIN_CLASSES}"),
            (largest <= MAX_CLASS_SHARE, f"largest class {largest:.0%} > {MAX_CLASS_SHARE:.0%}"),
        ]
        return [problem for passed, problem in checks if not passed]

    def summary(self) -> str:
        """One line: confident share, classes seen, largest class, spread."""
        top = int(self.histogram.argmax())
        return (
            f"{self.confident:.0%} recognised with confidence, {self.classes_seen} classes with 5% or more, "
            f"largest class {CLASSES[top]} {self.histogram[top]:.0%}, pixel spread {self.spread:.2f}"
        )


@torch.inference_mode()
def sample_quality(images: torch.Tensor, classifier: nn.Module | None = None, threshold: float = 0.9) -> SampleQuality:
    """Classify Fashion-MNIST-shaped samples in [-1, 1] (N, 1, 28, 28) with the shipped classifier."""
    model = classifier or load_classifier()
    probs = torch.softmax(model(images.detach().float().cpu()), dim=1)
    confidence, predicted = probs.max(dim=1)
    histogram = torch.bincount(predicted, minlength=len(CLASSES)).double() / len(predicted)
    return SampleQuality(
        confident=(confidence >= threshold).float().mean().item(),
        histogram=histogram.numpy(),
        spread=pixel_spread(images),
    )
