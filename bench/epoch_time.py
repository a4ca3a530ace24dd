"""Seconds per Fashion-MNIST training epoch (batch 256) for each speed option of the trainer.

Each row turns on one more option, after a warm-up epoch (compilation, graph capture), from
the same seed, all in one process; its final losses show a speed-up that broke training. The
FLOPs of one step (``FlopCounterMode``) turn each row's time into the rate it sustained.
"compile, ATen upsampling" keeps the bilinear upsampling out of Inductor, whose backward of
it is slower than ATen's (``bench/upsample_kernels.py``).

    python bench/epoch_time.py --rootdir /usr/share/datasets/fashion-mnist [--epochs 2] [--variants NAME ...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from common import add_run_arguments, bench_config, print_command
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ganlab_solution.trainer import Trainer

_FAST = {"amp": True, "channels_last": True}
VARIANTS: dict[str, dict[str, bool]] = {
    "eager fp32, foreach Adam": {"fused": False},  # PyTorch's default Adam instead of the trainer's fused one
    "+ fused Adam": {},
    "+ bf16 autocast": {"amp": True},
    "+ channels_last": _FAST,
    "+ CUDA graphs": {**_FAST, "cuda_graph": True},
    "+ torch.compile": {**_FAST, "cuda_graph": True, "compile": True},
    "compile, ATen upsampling": {**_FAST, "cuda_graph": True, "compile": True, "aten_upsample": True},
    "compile, no graphs": {**_FAST, "compile": True},
}


@contextmanager
def upsampling_outside_compile(enabled: bool) -> Iterator[None]:
    """While active, torch.compile leaves each nn.Upsample to ATen (a graph break, free under CUDA graphs)."""
    original = nn.Upsample.forward
    if enabled:
        nn.Upsample.forward = torch.compiler.disable(original)
    try:
        yield
    finally:
        nn.Upsample.forward = original


def step_flops(trainer: Trainer) -> int:
    """FLOPs of one training step (matrix products and convolutions, forward and backward), which it runs:
    use a trainer built for counting only."""
    real = next(iter(trainer.batches()))
    with FlopCounterMode(display=False) as counter:
        trainer.step(real)
    return counter.get_total_flops()


def time_variant(variant: dict[str, bool], args: argparse.Namespace) -> tuple[float, dict[str, float]]:
    options = dict(variant)
    fused = options.pop("fused", True)
    aten_upsample = options.pop("aten_upsample", False)
    config = bench_config(args.rootdir, args.batch_size, args.device, args.debug, **options)
    trainer = Trainer(config, quiet=True)
    if not fused:
        betas = (0.5, 0.999)
        trainer.critic_opt = torch.optim.Adam(trainer.gan.discriminator.parameters(), config.critic_lr, betas)
        trainer.gen_opt = torch.optim.Adam(trainer.gan.generator.parameters(), config.generator_lr, betas)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    with upsampling_outside_compile(aten_upsample):
        trainer.train_epoch()  # warm-up: compilation, graph capture, cuDNN autotuning, allocator
        sync()
        start = time.perf_counter()
        for _ in range(args.epochs):
            metrics = trainer.train_epoch()  # its means are read once per epoch, as in fit()
        sync()
    return (time.perf_counter() - start) / args.epochs, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--debug", action="store_true", help="a few batches per epoch (smoke runs, not timings)")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "CPU"
    print_command(__file__)
    print(f"device: {name}, torch {torch.__version__}")
    counting = Trainer(bench_config(args.rootdir, args.batch_size, args.device, args.debug), quiet=True)
    flops, steps = step_flops(counting), len(counting.loaders.train)
    del counting
    epoch_tflop = flops * steps / 1e12
    print(
        f"one step at batch {args.batch_size}: {flops / 1e9:.1f} GFLOP; an epoch of {steps} steps: "
        f"{epoch_tflop:.1f} TFLOP (so 1 s per epoch needs {epoch_tflop:.1f} TFLOP/s)"
    )
    baseline = None
    for variant in args.variants:
        seconds, metrics = time_variant(VARIANTS[variant], args)
        baseline = baseline or seconds
        print(
            f"{variant:26s} {seconds:7.3f} s/epoch  ({baseline / seconds:5.2f}x vs the first, "
            f"{epoch_tflop / seconds:6.1f} TFLOP/s)  "
            f"last epoch: critic loss {metrics['critic_loss']:.3f}, generator loss {metrics['generator_loss']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
