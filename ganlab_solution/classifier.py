"""A small Fashion-MNIST classifier, to check which classes a generator covers.

A generator that has collapsed onto a few modes draws some classes far more often
than others. Classifying many samples and counting the predicted classes (the
*mode-coverage histogram*) shows it at a glance; the real test set is about 10% per
class. The classifier is trained by this module on the train split
(``python -m ganlab_solution classifier``) and shipped as
``assets/fashionmnist_classifier.pt`` (a plain state dict).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .cliargs import bounded
from .data import load_images, to_unit_range
from .errors import GanlabError
from .export import atomic_write

ASSETS = Path(__file__).parent / "assets"
SHIPPED = ASSETS / "fashionmnist_classifier.pt"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
ROOTDIR = "/usr/share/datasets/fashion-mnist"


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


def read_labels(rootdir: str | Path = ROOTDIR, train: bool = True) -> torch.Tensor:
    """The label file of a split, from a folder holding the idx files."""
    from .data import IDX_NAMES, _open_idx, read_idx

    path = _open_idx(Path(rootdir), IDX_NAMES[train][1])
    if path is None:
        raise GanlabError(f"no Fashion-MNIST labels in {rootdir}: apt-get install dataset-fashion-mnist")
    return torch.from_numpy(read_idx(path).astype(np.int64))


def train_classifier(rootdir: str | Path = ROOTDIR, epochs: int = 3, seed: int = 0) -> SmallCNN:
    """Train :class:`SmallCNN` on the train split (Adam, batch 128, light shift augmentation)."""
    torch.manual_seed(seed)
    images, labels = to_unit_range(load_images("FashionMNIST", rootdir)), read_labels(rootdir)
    model = SmallCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 4e-3, total_steps=epochs * (len(images) // 128))
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images))
        for i in tqdm(range(len(images) // 128), desc=f"classifier epoch {epoch + 1}", leave=False):
            idx = order[i * 128 : (i + 1) * 128]
            batch = torch.roll(images[idx], shifts=tuple(torch.randint(-2, 3, (2,)).tolist()), dims=(2, 3))
            loss = F.cross_entropy(model(batch), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return model.eval()


def load_classifier(path: str | Path = SHIPPED) -> SmallCNN:
    """The shipped (or given) classifier, in eval mode."""
    if not Path(path).is_file():
        raise GanlabError(f"{path} is missing: train one with python -m ganlab_solution classifier")
    model = SmallCNN()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:
        raise GanlabError(
            f"{path} is not a classifier state dict ({type(exc).__name__}): train one with "
            "python -m ganlab_solution classifier"
        ) from None
    return model.eval()


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted classes of images in [-1, 1], shape (N, 1, 28, 28)."""
    return torch.cat([model(images[i : i + batch_size].float()).argmax(1) for i in range(0, len(images), batch_size)])


def accuracy(model: nn.Module, rootdir: str | Path = ROOTDIR) -> float:
    """Accuracy on the 10,000 test images."""
    images = to_unit_range(load_images("FashionMNIST", rootdir, train=False))
    return (predict(model, images) == read_labels(rootdir, train=False)).float().mean().item()


def generated_samples(model_path: str | Path, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` samples of a Fashion-MNIST generator ONNX file (seeded latents), checked to be (1, 28, 28)."""
    from .generate import load_generator, run_generator

    generator = load_generator(model_path)
    shape = generator.session.get_outputs()[0].shape[1:]
    if list(shape) != [1, 28, 28]:
        raise GanlabError(
            f"{model_path} makes images of shape {tuple(shape)}: the classifier reads Fashion-MNIST's (1, 28, 28)"
        )
    z = torch.randn(n, generator.latent_size, generator=torch.Generator().manual_seed(seed))
    return torch.from_numpy(run_generator(generator, z))


def class_histogram(
    model_path: str | Path, n: int = 10_000, seed: int = 0, classifier: nn.Module | None = None
) -> np.ndarray:
    """Fraction of ``n`` generated samples predicted in each class (sums to 1)."""
    images = generated_samples(model_path, n, seed)
    counts = torch.bincount(predict(classifier or load_classifier(), images), minlength=len(CLASSES))
    return (counts / n).numpy()


def _run(args: argparse.Namespace) -> None:
    if args.model:
        for name, share in zip(CLASSES, class_histogram(args.model, args.n), strict=True):
            print(f"{name:12s} {share:6.1%} {'#' * round(share * 200)}")
        return
    output = Path(args.output)
    if output.is_dir() or not output.suffix:
        raise GanlabError(f"-o {output}: pass a file name for the state dict, such as classifier.pt")
    load_images("FashionMNIST", args.rootdir, train=True)  # missing data fails before training
    read_labels(args.rootdir)
    model = train_classifier(args.rootdir, args.epochs)
    atomic_write(Path(args.output), lambda tmp: torch.save(model.state_dict(), tmp))
    print(f"test accuracy {accuracy(model, args.rootdir):.2%}; saved {args.output}")


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``python -m ganlab_solution classifier``."""
    p = subparsers.add_parser(
        "classifier", help="train the Fashion-MNIST classifier, or with MODEL.onnx print its mode-coverage histogram"
    )
    p.add_argument("model", nargs="?", help="generator .onnx file: print the predicted-class histogram of its samples")
    p.add_argument(
        "-n",
        type=bounded(int, 10, 100_000, "a histogram of 10 classes needs at least 10 samples; 100000 is plenty"),
        default=10_000,
        help="samples for the histogram (default 10000)",
    )
    p.add_argument("--rootdir", default=ROOTDIR)
    p.add_argument(
        "--epochs",
        type=bounded(int, 1, 100, "3 epochs reach about 92% test accuracy; more than 100 only overfits"),
        default=3,
    )
    p.add_argument("-o", "--output", default=str(SHIPPED))
    p.set_defaults(handler=_run)
