"""Where one training step's time goes: the top GPU (or CPU) kernels of the package's step.

Profiles ``--steps`` steps of the trainer (Fashion-MNIST, batch 256) after a few warm-up steps.

    python bench/profile_step.py [--amp] [--channels-last] [--steps 5] [--set model.upsample=nearest ...]
"""

from __future__ import annotations

import argparse

import torch
from common import add_run_arguments, bench_config, print_command
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from ganlab_solution.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. max-autotune-no-cudagraphs")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    print_command(__file__)
    options = {"amp": args.amp, "channels_last": args.channels_last, "compile": args.compile}
    trainer = Trainer(bench_config(args.rootdir, args.batch_size, args.device, sets=args.set, **options), quiet=True)
    if args.compile_mode:
        trainer.critic = trainer.critic_train = torch.compile(trainer.gan.discriminator, mode=args.compile_mode)
        trainer.generator = trainer.generator_train = torch.compile(trainer.gan.generator, mode=args.compile_mode)
    trainer.gan.train()
    batches = iter(trainer.batches())
    cuda = trainer.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(5):
        trainer.step(next(batches))
    sync()
    with profile(activities=[ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]) as prof:
        for _ in range(args.steps):
            trainer.step(next(batches))
        sync()
    sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    events = prof.key_averages()
    if cuda:  # kernels only: operator rows repeat their kernels' time
        total = sum(e.self_device_time_total for e in events if e.device_type == DeviceType.CUDA)
    else:
        total = sum(e.self_cpu_time_total for e in events)
    print(f"{'device' if cuda else 'CPU'} time per step: {total / args.steps / 1000:.2f} ms")
    print(events.table(sort_by=sort, row_limit=args.rows, max_name_column_width=70))


if __name__ == "__main__":
    main()
