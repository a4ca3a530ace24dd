"""Command line: ``python -m ganlab_solution {train,generate,interpolate,...}``; ``train`` is the student
package's engine with the reference answers (:mod:`.trainer`), failures are one line (:mod:`ganlab.cliargs`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ganlab.cliargs import SEED, OneLineParser, add_train_command, bounded, run_command, train_command


def _train(args: argparse.Namespace) -> None:
    from .trainer import OPTIONS, reference_answers

    train_command(args, lambda _run_dir: reference_answers(), **OPTIONS)


def _generate(args: argparse.Namespace) -> None:
    from .generate import generate

    print(generate(args.model, n=args.n, out=args.output, seed=args.seed))


def _interpolate(args: argparse.Namespace) -> None:
    from .generate import interpolate

    print(interpolate(args.model, mode=args.mode, steps=args.steps, out=args.output, seed=args.seed, rows=args.rows))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = OneLineParser(prog="python -m ganlab_solution", description="The ganlab DCGAN reference implementation.")
    parser.add_argument("--debug", action="store_true", help="print the traceback of errors (or set GANLAB_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train_command(sub, _train)

    p = sub.add_parser("generate", help="sample a grid of images from a generator ONNX file")
    p.add_argument("model", help="generator .onnx file")
    count = bounded(int, 1, 10_000, "a grid of more images is too large to look at; fid and classifier take more")
    p.add_argument("-n", type=count, default=64, help="number of images, 1 to 10000 (default 64)")
    p.add_argument("-o", "--output", default="samples.png", help="output image file (default samples.png)")
    p.add_argument("--seed", type=SEED, default=None, help="random seed for the latents")
    p.set_defaults(handler=_generate)

    p = sub.add_parser("interpolate", help="walk the latent space between random latents")
    p.add_argument("model", help="generator .onnx file")
    p.add_argument(
        "--mode", choices=["line", "grid"], default="grid", help="1-D walks z1->z2, or the 2-D plane of 3 latents"
    )
    steps = bounded(int, 2, 100, "a walk needs both ends; beyond 100 images per side the grid is too large")
    p.add_argument("--steps", type=steps, default=10, help="images per walk or grid side, 2 to 100 (default 10)")
    rows = bounded(int, 1, 100, "more walks make a grid too large to look at")
    p.add_argument("--rows", type=rows, default=8, help="number of walks in line mode, 1 to 100 (default 8)")
    p.add_argument("-o", "--output", default="interpolation.png", help="output image file")
    p.add_argument("--seed", type=SEED, default=None, help="random seed for the latents")
    p.set_defaults(handler=_interpolate)

    from . import animate, classifier, fid, quantize  # each defines its sub-command

    for module in (fid, classifier, animate, quantize):
        module.add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit status (see :mod:`ganlab.errors`)."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
