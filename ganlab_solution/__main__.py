"""Command line: ``python -m ganlab_solution {train,generate,interpolate,...}``.

Every user error (bad config, missing data, broken model file) is printed as one
``error: ...`` line with a non-zero exit status, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .errors import GanlabError

Handler = Callable[[argparse.Namespace], None]


def _train(args: argparse.Namespace) -> None:
    from .config import load_config
    from .trainer import resume, train

    config = load_config(args.config) if args.config else None
    if args.device and config is not None:
        config.device = args.device
    if args.resume:
        run_dir = resume(args.resume, config)
    elif config is None:
        raise GanlabError("train needs a config file (e.g. configs/fashionmnist.yaml) or --resume RUN_DIR")
    else:
        run_dir = train(config, run_dir=args.run_dir)
    print(f"done: {run_dir}")


def _generate(args: argparse.Namespace) -> None:
    from .generate import generate

    print(generate(args.model, n=args.n, out=args.output, seed=args.seed))


def _interpolate(args: argparse.Namespace) -> None:
    from .generate import interpolate

    print(interpolate(args.model, mode=args.mode, steps=args.steps, out=args.output, seed=args.seed, rows=args.rows))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="python -m ganlab_solution", description="The ganlab DCGAN reference implementation."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a GAN from a YAML config")
    p.add_argument("config", nargs="?", help="YAML config (optional with --resume: the run's own config is used)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint.pt")
    p.add_argument("--run-dir", help="write into this folder; resume from it if it holds a checkpoint (requeued jobs)")
    p.add_argument("--device", help="override the config's device (auto, cpu, cuda, cuda:1...)")
    p.set_defaults(handler=_train)

    p = sub.add_parser("generate", help="sample a grid of images from a generator ONNX file")
    p.add_argument("model", help="generator .onnx file")
    p.add_argument("-n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("-o", "--output", default="samples.png", help="output image file (default samples.png)")
    p.add_argument("--seed", type=int, default=None, help="random seed for the latents")
    p.set_defaults(handler=_generate)

    p = sub.add_parser("interpolate", help="walk the latent space between random latents")
    p.add_argument("model", help="generator .onnx file")
    p.add_argument(
        "--mode", choices=["line", "grid"], default="grid", help="1-D walks z1->z2, or the 2-D plane of 3 latents"
    )
    p.add_argument("--steps", type=int, default=10, help="images per walk / per side of the grid (default 10)")
    p.add_argument("--rows", type=int, default=8, help="number of walks in line mode (default 8)")
    p.add_argument("-o", "--output", default="interpolation.png", help="output image file")
    p.add_argument("--seed", type=int, default=None, help="random seed for the latents")
    p.set_defaults(handler=_interpolate)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Sub-commands defined by other modules (each exposes ``add_command(subparsers)``)."""
    import importlib

    found = []
    for name in ("fid", "classifier", "animate", "quantize"):
        try:
            module = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        found.append(module.add_command)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except GanlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: resume with --resume RUN_DIR", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
