"""Checkpoints: one plain dict per run, written atomically and read back with clear errors (the trainer and the
students' harness both go through here, so a half-written or foreign file is one error line)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import GanlabError
from .files import atomic_write

CHECKPOINT = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    """The state of every random generator a run draws from (Python, NumPy, torch CPU and CUDA)."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save``, atomically: the previous checkpoint survives a kill."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, needed: set[str], device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint and check it holds the ``needed`` keys; one clear error otherwise."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:
        raise GanlabError(
            f"{path} cannot be read as a checkpoint ({type(exc).__name__}): start a new run instead"
        ) from None
    if not isinstance(state, dict) or not needed <= set(state):
        raise GanlabError(f"{path} is a torch file but not a training checkpoint: start a new run instead")
    return state


def load_state_dicts(path: Path, pairs: list[tuple[Any, Any]]) -> None:
    """``obj.load_state_dict(state)`` for each pair; a mismatch names its first line and the fix."""
    try:
        for obj, state in pairs:
            obj.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as exc:
        # torch's message starts "Error(s) in loading state_dict for GAN:", the next line says what.
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [type(exc).__name__]
        first = (lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0])[:160]
        raise GanlabError(
            f"{path} was saved by another model or loss than the config describes ({first}): "
            "resume with the run's own config.yaml"
        ) from None
