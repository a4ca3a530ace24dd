"""Training images/s on the CPU: the package's step against a plain textbook loop, side by side.

Both train the lab's DCGAN through ``Trainer.step`` in one process, in alternating rounds. The
textbook run is what the lab writes: a ``DataLoader`` with per-sample ``ToTensor``/``Normalize``
and the lab's own steps; the package's keeps the data as one tensor and uses the engine's
accelerated steps (bf16 autocast and channels_last by default).

    python bench/train_throughput.py [--steps 6] [--batch-size 256] [--amp/--no-amp]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterator

import torch
from common import bench_config, print_command
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from ganlab.config import FASHION_MNIST_ROOT
from ganlab.data import load_images
from ganlab_solution.trainer import Trainer


class PerSampleDataset(Dataset):
    """Fashion-MNIST served one PIL image at a time, as torchvision's datasets do."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(Image.fromarray(self.images[index, 0].numpy(), mode="L"))


def timed_steps(trainer: Trainer, batches: Iterator[torch.Tensor], steps: int) -> float:
    """Seconds for ``steps`` of the trainer's public step (critic update, generator update) on ``batches``."""
    trainer.gan.train()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step(next(batches))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootdir", default=FASHION_MNIST_ROOT)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast in the package step"
    )
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    print_command(__file__)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, CPU")
    images = load_images("FashionMNIST", args.rootdir)
    loader = DataLoader(PerSampleDataset(images), batch_size=args.batch_size, shuffle=True, drop_last=True)
    textbook = Trainer(bench_config(args.rootdir, args.batch_size, "cpu"), quiet=True)
    options = {"amp": args.amp, "channels_last": args.channels_last}
    package = Trainer(bench_config(args.rootdir, args.batch_size, "cpu", **options), quiet=True)
    # Warm-up: allocator, oneDNN primitive caches.
    textbook_batches, package_batches = itertools.cycle(loader), itertools.cycle(package.loaders.train)
    timed_steps(textbook, textbook_batches, 1)
    timed_steps(package, package_batches, 1)
    totals = {"textbook": 0.0, "package": 0.0}
    for _ in range(args.rounds):
        totals["textbook"] += timed_steps(textbook, textbook_batches, args.steps)
        totals["package"] += timed_steps(package, package_batches, args.steps)
    nimages = args.rounds * args.steps * args.batch_size
    rates = {name: nimages / seconds for name, seconds in totals.items()}
    for name, rate in rates.items():
        print(f"{name:9s} {rate:8.1f} images/s")
    print(
        f"ratio package/textbook: {rates['package'] / rates['textbook']:.2f}x "
        f"(amp={args.amp}, channels_last={args.channels_last})"
    )
    # Sanity: the package's step did not break training.
    assert all(torch.isfinite(p).all() for p in package.gan.parameters())


if __name__ == "__main__":
    main()
