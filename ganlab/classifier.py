"""A small Fashion-MNIST classifier, to check which classes a generator covers.

A generator collapsed onto a few modes draws some classes far more often than others: the histogram of
predicted classes (about 10% each on the test set) shows it. Trained by ``python -m ganlab_solution
classifier``, shipped as ``assets/fashionmnist_classifier.pt`` (a plain state dict).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import ASSETS
from .data import FASHION_MNIST_PACKAGE, FASHION_MNIST_ROOT, IDX_NAMES, _open_idx, read_idx
from .errors import GanlabError

SHIPPED = ASSETS / "fashionmnist_classifier.pt"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class SmallCNN(nn.Sequential):
    """Two conv-BN-ReLU-pool stages and a two-layer head; about 0.45M parameters."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__(
            nn.Conv2d(1, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, num_classes),
        )


def read_labels(rootdir: str | Path = FASHION_MNIST_ROOT, train: bool = True) -> torch.Tensor:
    """The label file of a split, from a folder holding the idx files."""
    path = _open_idx(Path(rootdir), IDX_NAMES[train][1])
    if path is None:
        raise GanlabError(f"no Fashion-MNIST labels in {rootdir}: apt-get install {FASHION_MNIST_PACKAGE}")
    return torch.from_numpy(read_idx(path).astype(np.int64))


def load_classifier(path: str | Path = SHIPPED) -> SmallCNN:
    """The shipped (or given) classifier, in eval mode."""
    if not Path(path).is_file():
        raise GanlabError(f"{path} is missing: reinstall the ganlab package, which ships the classifier")
    model = SmallCNN()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:
        raise GanlabError(
            f"{path} is not a classifier state dict ({type(exc).__name__}): pass the shipped "
            "ganlab/assets/fashionmnist_classifier.pt or reinstall the ganlab package"
        ) from None
    return model.eval()


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted classes of images in [-1, 1], shape (N, 1, 28, 28)."""
    return torch.cat([model(images[i : i + batch_size].float()).argmax(1) for i in range(0, len(images), batch_size)])


def class_histogram(images: torch.Tensor) -> np.ndarray:
    """Fraction of Fashion-MNIST-shaped images in [-1, 1] (N, 1, 28, 28) predicted in each class (sums to 1)."""
    images = torch.as_tensor(images)
    if tuple(images.shape[1:]) != (1, 28, 28):
        raise GanlabError(
            f"images of shape {tuple(images.shape[1:])}: the classifier reads Fashion-MNIST's (1, 28, 28)"
        )
    counts = torch.bincount(predict(load_classifier(), images), minlength=len(CLASSES))
    return (counts / len(images)).numpy()
