"""The exceptions the command line turns into one ``error: ...`` line, and their exit codes: 0 success, 2 a
problem the user can fix, 130 interrupted (SIGINT or SIGTERM), 1 a bug (the traceback is printed, to report).
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

USER_ERROR = 2
INTERRUPTED = 130
BUG = 1


class GanlabError(Exception):
    """A problem the user can fix: the command line prints ``error: <message>`` (what is wrong and how to fix it,
    on one line) and exits with status 2."""

    exit_code = USER_ERROR


class Interrupted(GanlabError):
    """SIGINT (Ctrl-C) or SIGTERM (what SLURM sends before a kill) stopped the command."""

    exit_code = INTERRUPTED

    def __init__(self, signum: int = signal.SIGINT, message: str | None = None) -> None:
        self.signum = signum
        super().__init__(message or f"interrupted by {signal.Signals(signum).name}: run the command again")


class NoSpaceError(GanlabError):
    """A write failed because the disk (or the user's quota) is full."""


# Errors of the environment rather than of the program: each becomes one line.
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """True when ``exc`` (or its cause) says the disk is full, or ``folder``'s disk has no space left (``torch.save``
    reports a full disk as a ``RuntimeError`` without an errno)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _DISK_FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    if folder is not None:
        try:
            stats = os.statvfs(folder)
        except OSError:
            return False
        return stats.f_bavail * stats.f_frsize < 1 << 20  # under 1 MiB left
    return False


def describe_os_error(exc: OSError) -> str:
    """One line for an environment error (permissions, missing folder, full disk...)."""
    where = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL:
        return f"{where}no space left on device: free some space (or write elsewhere) and run the command again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}{reason.lower()}: choose a folder you can write to, or fix its permissions"
    fixes = {
        errno.EISDIR: "is a folder: pass a file path instead",
        errno.ENOTDIR: "a part of this path is a file, not a folder: check the path",
        errno.EEXIST: "exists and is not a folder: check the path",
        errno.ENOENT: "no such file or folder: check the path",
    }
    return f"{where}{fixes.get(exc.errno, f'{reason}: check the path, its permissions and the free disk space')}"
