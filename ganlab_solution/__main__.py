"""Command line: ``python -m ganlab_solution {train,generate,interpolate,...}``.

Every failure a user can cause (bad config or arguments, missing data, broken model
file, permissions, full disk, an interrupted run) is printed as one
``error: <what is wrong>: <how to fix it>`` line on stderr with a non-zero exit
status (see :mod:`.errors` for the codes), not a traceback. ``--debug`` or
``GANLAB_DEBUG=1`` also prints the traceback; an unexpected error always does,
and says it is a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ganlab.errors import BUG, GanlabError, describe_os_error, is_disk_full

from .cliargs import SEED, OneLineParser, bounded

Handler = Callable[[argparse.Namespace], None]


def _train(args: argparse.Namespace) -> None:
    from ganlab.config import load_config, parse_config

    from .trainer import resume, train

    config = load_config(args.config) if args.config else None
    if args.device and config is not None:
        config = parse_config({**config.to_dict(), "device": args.device}, "--device")
    if args.resume and args.run_dir:
        raise GanlabError("--resume and --run-dir both name a run folder: pass only one")
    if args.resume:
        run_dir = resume(args.resume, config, device=args.device)
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
    parser = OneLineParser(prog="python -m ganlab_solution", description="The ganlab DCGAN reference implementation.")
    parser.add_argument("--debug", action="store_true", help="print the traceback of errors (or set GANLAB_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # --debug is also accepted after the command; SUPPRESS keeps the main parser's value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub.add_parser = _with_parent(sub.add_parser, common)  # type: ignore[method-assign]

    p = sub.add_parser("train", help="train a GAN from a YAML config")
    p.add_argument("config", nargs="?", help="YAML config (optional with --resume: the run's own config is used)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint.pt")
    p.add_argument("--run-dir", help="write into this folder; resume from it if it holds a checkpoint (requeued jobs)")
    p.add_argument("--device", help="override the config's (or the resumed run's) device: auto, cpu, cuda, cuda:1...")
    p.set_defaults(handler=_train)

    p = sub.add_parser("generate", help="sample a grid of images from a generator ONNX file")
    p.add_argument("model", help="generator .onnx file")
    p.add_argument(
        "-n",
        type=bounded(int, 1, 10_000, "a grid of more images is too large to look at; fid and classifier take more"),
        default=64,
        help="number of images, 1 to 10000 (default 64)",
    )
    p.add_argument("-o", "--output", default="samples.png", help="output image file (default samples.png)")
    p.add_argument("--seed", type=SEED, default=None, help="random seed for the latents")
    p.set_defaults(handler=_generate)

    p = sub.add_parser("interpolate", help="walk the latent space between random latents")
    p.add_argument("model", help="generator .onnx file")
    p.add_argument(
        "--mode", choices=["line", "grid"], default="grid", help="1-D walks z1->z2, or the 2-D plane of 3 latents"
    )
    p.add_argument(
        "--steps",
        type=bounded(int, 2, 100, "a walk needs both ends; beyond 100 images per side the grid is too large"),
        default=10,
        help="images per walk / per side of the grid, 2 to 100 (default 10)",
    )
    p.add_argument(
        "--rows",
        type=bounded(int, 1, 100, "more walks make a grid too large to look at"),
        default=8,
        help="number of walks in line mode, 1 to 100 (default 8)",
    )
    p.add_argument("-o", "--output", default="interpolation.png", help="output image file")
    p.add_argument("--seed", type=SEED, default=None, help="random seed for the latents")
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


def _with_parent(add_parser: Callable[..., Any], parent: argparse.ArgumentParser) -> Callable[..., Any]:
    def add(name: str, **kwargs: Any) -> Any:
        return add_parser(name, parents=[*kwargs.pop("parents", []), parent], **kwargs)

    return add


def _one_line_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """Warnings as ``warning: <message>`` lines (not the file, line and source of the warning call)."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit status (see :mod:`.errors`)."""
    from ganlab.interrupts import stop_on_signals

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GANLAB_DEBUG", "") not in ("", "0")
    try:
        with warnings.catch_warnings(), stop_on_signals():
            warnings.showwarning = _one_line_warning
            args = build_parser().parse_args(argv)
            args.handler(args)
    except GanlabError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # a second Ctrl-C while stopping, or one outside the handlers
        if debug:
            traceback.print_exc()
        print("error: interrupted: run the command again", file=sys.stderr)
        return 130
    except OSError as exc:  # the environment: permissions, missing folders, full disk
        if debug:
            traceback.print_exc()
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        if debug:
            traceback.print_exc()
        print("error: out of memory: use a smaller -n, batch_size or model", file=sys.stderr)
        return 2
    except Exception as exc:
        if is_disk_full(exc):
            print(f"error: no space left on device ({exc}): free some space and run again", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(
            f"error: internal error ({type(exc).__name__}: {str(exc)[:200]}): this is a bug, please report it "
            "with the traceback above",
            file=sys.stderr,
        )
        return BUG
    return 0


if __name__ == "__main__":
    sys.exit(main())
