"""Argument parsing that fails in one line: bounded counts and a one-line usage error.

Every count option has a range and a reason, so ``-n 0`` or ``--fps 0`` stops with
one line that says what is allowed and why, before any work starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from ganlab.errors import GanlabError


class UsageError(GanlabError):
    """A command-line argument argparse rejected (unknown option, bad value...)."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), raised as :class:`UsageError`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}: see {self.prog} --help")


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
