"""SIGINT and SIGTERM as one clean stop (:class:`~.errors.Interrupted`), never in the middle of a file write.

Inside :func:`writes_protected` (every atomic write) a signal is only recorded, and raised once the file is in
place: a checkpoint is never half written, and library code that catches exceptions broadly cannot lose it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from .errors import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_state: dict[str, Any] = {"depth": 0, "pending": None}


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state["depth"] > 0:
        _state["pending"] = signum  # raised when the write in progress has finished
        return
    raise Interrupted(signum)


@contextmanager
def writes_protected() -> Iterator[None]:
    """Defer SIGINT/SIGTERM until the block (a file write) has finished."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        signum = _state["pending"]
        if _state["depth"] == 0 and signum is not None:
            _state["pending"] = None
            raise Interrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` (between writes); only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _handler) for sig in STOP_SIGNALS}
    _state["pending"] = None
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
