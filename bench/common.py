"""What the bench scripts share: the command printed above their figures, and the lab's run they time."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ganlab.config import FASHION_MNIST_ROOT, Config
from ganlab.errors import GanlabError


def print_command(script: str, argv: list[str] | None = None) -> str:
    """Print ``command: python bench/SCRIPT ARGS`` (every figure travels with the command that made it); return it."""
    command = "python " + shlex.join([f"bench/{Path(script).name}", *(sys.argv[1:] if argv is None else argv)])
    print(f"command: {command}")
    return command


def add_run_arguments(parser: argparse.ArgumentParser, batch_size: bool = True) -> None:
    """``--rootdir`` and ``--device`` (and ``--batch-size``) of the run a bench times."""
    parser.add_argument("--rootdir", default=FASHION_MNIST_ROOT)
    parser.add_argument("--device", default="auto")
    if batch_size:
        parser.add_argument("--batch-size", type=int, default=256)


def apply_sets(raw: dict[str, Any], sets: Sequence[str]) -> dict[str, Any]:
    """``raw`` (a config's sections) with each ``--set SECTION.KEY=VALUE`` applied, VALUE read as YAML."""
    for item in sets:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot:
            raise GanlabError(f"--set {item!r}: write SECTION.KEY=VALUE, e.g. --set optim.ema=0.99")
        raw.setdefault(section, {})[name] = yaml.safe_load(value)
    return raw


def bench_config(
    rootdir: str, batch_size: int, device: str = "auto", debug: bool = False, sets: Sequence[str] = (), **optim: bool
) -> Config:
    """The lab's Fashion-MNIST run at ``batch_size`` with the ``optim`` speed options, then ``sets``."""
    raw = {
        "data": {"dataset": "FashionMNIST", "rootdir": rootdir, "batch_size": batch_size, "debug": debug},
        "optim": {"nepochs": 1000, **optim},
        "logging": {"logdir": "/tmp/ganlab-bench"},
        "device": device,
    }
    return Config.model_validate(apply_sets(raw, sets))
