"""Training images/s: the package's step against a plain textbook loop, side by side.

Both train the lab's DCGAN (batch 256 by default) on the real Fashion-MNIST, on the same
device and threads, in the same process, alternating rounds so that machine noise hits
both. The textbook loop is what one writes first: a ``DataLoader`` over a dataset with
per-sample ``ToTensor``/``Normalize`` transforms, a critic pass for the real batch and
another for the fakes (generated with autograd on, then detached), and a generator step
that also computes the critic's weight gradients. The package's step keeps the data on
the device as one tensor, generates the critic's fakes under ``no_grad``, freezes the
critic's weights during the generator step, and (by default here) uses bf16 autocast and
channels_last.

    python bench/train_throughput.py [--steps 6] [--batch-size 256] [--amp/--no-amp]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch
from torch.utils.data import DataLoader, Dataset

from ganlab.config import FASHION_MNIST_ROOT, Config
from ganlab.data import load_images
from ganlab_solution.losses import critic_loss, generator_loss
from ganlab_solution.trainer import Trainer

ROOTDIR = FASHION_MNIST_ROOT


class PerSampleDataset(Dataset):
    """Fashion-MNIST served one PIL image at a time, as torchvision's datasets do."""

    def __init__(self, images: torch.Tensor) -> None:
        from torchvision import transforms

        self.images = images
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index, 0].numpy(), mode="L"))


def textbook_steps(trainer: Trainer, loader: DataLoader, steps: int) -> float:
    """Seconds for ``steps`` textbook steps on the trainer's (fp32) models."""
    gan, critic_opt, gen_opt = trainer.gan, trainer.critic_opt, trainer.gen_opt
    gan.train()
    batches = iter(loader)
    start = time.perf_counter()
    for _ in range(steps):
        real = next(batches)
        fake = gan.generator(None, real.shape[0])
        loss = critic_loss(gan.discriminator(real), gan.discriminator(fake.detach()), 0.2)
        critic_opt.zero_grad()
        loss.backward()
        critic_opt.step()
        loss = generator_loss(gan.discriminator(gan.generator(None, real.shape[0])))
        gen_opt.zero_grad()
        loss.backward()
        gen_opt.step()
    return time.perf_counter() - start


def package_steps(trainer: Trainer, steps: int) -> float:
    """Seconds for ``steps`` steps of the package's ``critic_step`` + ``generator_step``."""
    trainer.gan.train()
    batches = iter(trainer.loaders.train)
    start = time.perf_counter()
    for _ in range(steps):
        real = next(batches)
        trainer.critic_step(real)
        trainer.generator_step(real.shape[0])
    return time.perf_counter() - start


def make_trainer(args: argparse.Namespace, **optim: bool) -> Trainer:
    config = Config.model_validate(
        {
            "data": {"rootdir": args.rootdir, "batch_size": args.batch_size},
            "optim": optim,
            "logging": {"logdir": "/tmp/ganlab-bench"},
            "device": "cpu",
        }
    )
    return Trainer(config, quiet=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootdir", default=ROOTDIR)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast in the package step"
    )
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    print(f"command: python {shlex.join(sys.argv)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, CPU")
    images = load_images("FashionMNIST", args.rootdir)
    loader = DataLoader(PerSampleDataset(images), batch_size=args.batch_size, shuffle=True, drop_last=True)
    textbook = make_trainer(args)
    package = make_trainer(args, amp=args.amp, channels_last=args.channels_last)
    # Warm-up: allocator, oneDNN primitive caches.
    textbook_steps(textbook, loader, 1)
    package_steps(package, 1)
    totals = {"textbook": 0.0, "package": 0.0}
    for _ in range(args.rounds):
        totals["textbook"] += textbook_steps(textbook, loader, args.steps)
        totals["package"] += package_steps(package, args.steps)
    nimages = args.rounds * args.steps * args.batch_size
    rates = {name: nimages / seconds for name, seconds in totals.items()}
    for name, rate in rates.items():
        print(f"{name:9s} {rate:8.1f} images/s")
    print(
        f"ratio package/textbook: {rates['package'] / rates['textbook']:.2f}x "
        f"(amp={args.amp}, channels_last={args.channels_last})"
    )
    # Sanity: both really trained (losses are finite numbers).
    assert all(torch.isfinite(p).all() for p in package.gan.parameters())


if __name__ == "__main__":
    main()
