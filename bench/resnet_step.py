"""Seconds per training step of the 128x128 ResNet GAN (default widths), per loss.

One step = one critic update and one generator update on a batch of real images
(random tensors: the step's cost does not depend on the pixels).

    python bench/resnet_step.py [--batch-size 16] [--steps 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganlab.config import parse_config
from ganlab.harness import count_parameters
from ganlab_solution.trainer import Trainer


def image_folder(folder: Path, size: int, count: int) -> Path:
    """``count`` random RGB images of ``size`` pixels: the data the trainer's loader needs to exist."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--losses", nargs="*", default=["bce", "hinge", "wgan-gp"])
    args = parser.parse_args()
    print(f"command: python {shlex.join(sys.argv)}")
    print(
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, batch {args.batch_size}"
    )
    scratch = tempfile.TemporaryDirectory(prefix="ganlab_resnet_step_")
    images = image_folder(Path(scratch.name), args.size, args.batch_size)
    for loss in args.losses:
        config = parse_config(
            {
                "data": {
                    "dataset": "ImageFolder",
                    "rootdir": str(images),
                    "image_size": args.size,
                    "batch_size": args.batch_size,
                    "valid_ratio": 0.0,
                    "num_workers": 0,
                },
                "model": {
                    "architecture": "resnet",
                    "generator_base_c": 64,
                    "discriminator_base_c": 64,
                    "latent_size": 128,
                    "spectral_norm": loss == "hinge",
                },
                "optim": {"loss": loss},
                "logging": {"logdir": str(Path(scratch.name) / "logs")},
                "device": args.device,
            }
        )
        # The trainer's public step, on random batches (the step's cost does not depend on the pixels).
        trainer = Trainer(config, quiet=True)
        real = torch.rand(args.batch_size, 3, args.size, args.size, device=trainer.device) * 2 - 1
        trainer.step(real)  # warm-up
        sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer.step(real)
        sync()
        seconds = (time.perf_counter() - start) / args.steps
        params = f"G {count_parameters(trainer.gan.generator) / 1e6:.1f}M, D {count_parameters(trainer.gan.discriminator) / 1e6:.1f}M"
        print(f"{loss:8s} {seconds:7.2f} s/step ({params})", flush=True)


if __name__ == "__main__":
    main()
