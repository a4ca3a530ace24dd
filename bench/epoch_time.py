"""Seconds per Fashion-MNIST training epoch (batch 256) for each speed option of the trainer.

Each variant turns on one more option (bf16 autocast, channels_last, torch.compile);
it trains one warm-up epoch (compilation happens there), then times ``--epochs``
epochs, all in one process and on one device so the ratios compare.

    python bench/epoch_time.py --rootdir /usr/share/datasets/fashion-mnist [--epochs 2]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch

from ganlab_solution.config import Config
from ganlab_solution.trainer import Trainer

VARIANTS = {
    "eager fp32": {},
    "+ bf16 autocast": {"amp": True},
    "+ channels_last": {"amp": True, "channels_last": True},
    "+ torch.compile": {"amp": True, "channels_last": True, "compile": True},
}


def time_variant(options: dict[str, bool], args: argparse.Namespace) -> float:
    config = Config.model_validate(
        {
            "data": {"dataset": "FashionMNIST", "rootdir": args.rootdir, "batch_size": 256},
            "optim": {"nepochs": 1000, **options},
            "logging": {"logdir": "/tmp/ganlab-bench"},
            "device": args.device,
        }
    )
    trainer = Trainer(config, quiet=True)
    trainer.train_epoch()  # warm-up: compilation, cuDNN autotuning, allocator
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(args.epochs):
        trainer.train_epoch()
    sync()
    return (time.perf_counter() - start) / args.epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootdir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "CPU"
    print(f"command: python {shlex.join(sys.argv)}")
    print(f"device: {name}, torch {torch.__version__}")
    baseline = None
    for variant in args.variants:
        seconds = time_variant(VARIANTS[variant], args)
        baseline = baseline or seconds
        print(f"{variant:18s} {seconds:7.2f} s/epoch  ({baseline / seconds:4.2f}x vs eager fp32)", flush=True)


if __name__ == "__main__":
    main()
