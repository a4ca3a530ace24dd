"""The command lines' shared parts. Every failure a user can cause is one ``error: <what is wrong>: <how to fix
it>`` line on stderr with a non-zero exit status (:mod:`ganlab.errors`); ``--debug`` or ``GANLAB_DEBUG=1`` adds the
traceback, which an unexpected error always prints, saying it is a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .errors import BUG, GanlabError, describe_os_error, is_disk_full
from .interrupts import stop_on_signals


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), raised as :class:`GanlabError`."""

    def error(self, message: str) -> NoReturn:
        raise GanlabError(f"{self.prog}: {message}: see {self.prog} --help")


def bounded(kind: type, low: float, high: float, why: str) -> Callable[[str], int | float]:
    """An argparse ``type`` accepting ``kind`` values in [low, high]; ``why`` explains the range."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not low <= value <= high:  # also rejects NaN
            bounds = f"{low} to {high}" if kind is int else f"{low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: choose {bounds} ({why})")
        return value

    parse.__name__ = "integer" if kind is int else "number"
    return parse


SEED = bounded(int, 0, 2**32 - 1, "seeds are unsigned 32-bit integers")


def add_train_command(sub: argparse._SubParsersAction, handler: Callable[[argparse.Namespace], None]) -> Any:
    """The ``train`` sub-command's parser (config, --resume, --run-dir, --device), run by ``handler``."""
    p = sub.add_parser("train", help="train a GAN from a YAML config")
    p.add_argument("config", nargs="?", help="YAML config (optional with --resume: the run's own config is used)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint.pt")
    p.add_argument("--run-dir", help="write into this folder; resume from it if it holds a checkpoint (requeued jobs)")
    p.add_argument("--device", help="override the config's (or the resumed run's) device: auto, cpu, cuda, cuda:1...")
    p.set_defaults(handler=handler)
    return p


def train_command(args: argparse.Namespace, answers: Callable[[Path | None], dict[str, Any]], **options: Any) -> None:
    """Run ``train`` as ``args`` say, with ``answers(run folder to resume or None)``; ``options`` go to the Trainer."""
    from .config import load_config
    from .trainer import resume, train

    config = load_config(args.config) if args.config else None
    if args.resume and args.run_dir:
        raise GanlabError("--resume and --run-dir both name a run folder: pass only one")
    options["device"] = args.device
    if args.resume:
        run_dir = resume(args.resume, answers(Path(args.resume)), config, **options)
    elif config is None:
        raise GanlabError("train needs a config file (e.g. configs/fashionmnist.yaml) or --resume RUN_DIR")
    else:
        run_dir = train(config, answers(Path(args.run_dir) if args.run_dir else None), run_dir=args.run_dir, **options)
    print(f"done: {run_dir}")


def _one_line_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """Warnings as ``warning: <message>`` lines (not the file, line and source of the warning call)."""
    print(f"warning: {message}", file=sys.stderr)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``parser`` and run the sub-command's ``handler``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GANLAB_DEBUG", "") not in ("", "0")
    try:
        with warnings.catch_warnings(), stop_on_signals():
            warnings.showwarning = _one_line_warning
            # --debug, read above, may come after the sub-command too.
            args = parser.parse_args([word for word in argv if word != "--debug"])
            args.handler(args)
    except (GanlabError, KeyboardInterrupt, OSError, MemoryError) as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, GanlabError):
            status, message = exc.exit_code, str(exc)
        elif isinstance(exc, KeyboardInterrupt):  # a second Ctrl-C while stopping, or one outside the handlers
            status, message = 130, "interrupted: run the command again"
        elif isinstance(exc, OSError):  # the environment: permissions, missing folders, full disk
            status, message = 2, describe_os_error(exc)
        else:
            status, message = 2, "out of memory: use a smaller -n, batch_size or model"
        print(f"error: {message}", file=sys.stderr)
        return status
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
