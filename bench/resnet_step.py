"""Seconds per training step of the 128x128 ResNet GAN (default widths), per loss.

One step = one critic update and one generator update on a batch of real images
(random tensors: the step's cost does not depend on the pixels).

    python bench/resnet_step.py [--batch-size 16] [--steps 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch

from ganlab.config import parse_config
from ganlab_solution.models import count_parameters
from ganlab_solution.steps import make_optimizers
from ganlab_solution.trainer import build_gan


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
    from ganlab_solution.trainer import Trainer

    for loss in args.losses:
        config = parse_config(
            {
                "data": {"dataset": "ImageFolder", "image_size": args.size, "batch_size": args.batch_size},
                "model": {
                    "architecture": "resnet",
                    "generator_base_c": 64,
                    "discriminator_base_c": 64,
                    "latent_size": 128,
                    "spectral_norm": loss == "hinge",
                },
                "optim": {"loss": loss},
                "device": args.device,
            }
        )
        # A trainer without data: the step methods only need the networks and optimizers.
        trainer = Trainer.__new__(Trainer)
        trainer.config, trainer.device = config, torch.device(args.device)
        from ganlab_solution import distributed

        trainer.dist = distributed.DistInfo()
        trainer.gan = build_gan(config, (3, args.size, args.size)).to(trainer.device)
        trainer.memory_format = torch.contiguous_format
        trainer.critic_opt, trainer.gen_opt = make_optimizers(
            trainer.gan, config.critic_lr, config.optim.wdecay, generator_lr=config.generator_lr
        )
        trainer.ema = None
        trainer._wrap_networks()
        real = torch.rand(args.batch_size, 3, args.size, args.size, device=trainer.device) * 2 - 1
        trainer.critic_step(real)
        trainer.generator_step(args.batch_size)  # warm-up
        sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer.critic_step(real)
            trainer.generator_step(args.batch_size)
        sync()
        seconds = (time.perf_counter() - start) / args.steps
        params = f"G {count_parameters(trainer.gan.generator) / 1e6:.1f}M, D {count_parameters(trainer.gan.discriminator) / 1e6:.1f}M"
        print(f"{loss:8s} {seconds:7.2f} s/step ({params})", flush=True)


if __name__ == "__main__":
    main()
