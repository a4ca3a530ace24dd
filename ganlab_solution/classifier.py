"""Training the shipped Fashion-MNIST classifier (:mod:`ganlab.classifier`), and its class histogram of an ONNX
generator's samples: ``python -m ganlab_solution classifier``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ganlab.classifier import CLASSES, SHIPPED, SmallCNN, class_histogram, predict, read_labels
from ganlab.cliargs import bounded
from ganlab.data import FASHION_MNIST_ROOT, load_images
from ganlab.errors import GanlabError
from ganlab.files import atomic_write

from .data import to_unit_range
from .export import sample_model


def train_classifier(rootdir: str | Path = FASHION_MNIST_ROOT, epochs: int = 3, seed: int = 0) -> SmallCNN:
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


def accuracy(model: nn.Module, rootdir: str | Path = FASHION_MNIST_ROOT) -> float:
    """Accuracy on the 10,000 test images."""
    images = to_unit_range(load_images("FashionMNIST", rootdir, train=False))
    return (predict(model, images) == read_labels(rootdir, train=False)).float().mean().item()


def generated_samples(model_path: str | Path, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` samples of a Fashion-MNIST generator ONNX file (seeded latents), checked to be (1, 28, 28)."""
    images = torch.from_numpy(sample_model(model_path, n, seed))
    if tuple(images.shape[1:]) != (1, 28, 28):
        raise GanlabError(
            f"{model_path} makes images of shape {tuple(images.shape[1:])}: the classifier reads Fashion-MNIST's "
            "(1, 28, 28)"
        )
    return images


def model_class_histogram(model_path: str | Path, n: int = 10_000, seed: int = 0) -> np.ndarray:
    """Fraction of ``n`` samples of a generator ONNX file predicted in each class (sums to 1)."""
    return class_histogram(generated_samples(model_path, n, seed))


def _run(args: argparse.Namespace) -> None:
    if args.model:
        for name, share in zip(CLASSES, model_class_histogram(args.model, args.n), strict=True):
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
    count = bounded(int, 10, 100_000, "a histogram of 10 classes needs at least 10 samples; 100000 is plenty")
    p.add_argument("-n", type=count, default=10_000, help="samples for the histogram (default 10000)")
    p.add_argument("--rootdir", default=FASHION_MNIST_ROOT)
    epochs = bounded(int, 1, 100, "3 epochs reach about 92% test accuracy; more than 100 only overfits")
    p.add_argument("--epochs", type=epochs, default=3)
    p.add_argument("-o", "--output", default=str(SHIPPED))
    p.set_defaults(handler=_run)
