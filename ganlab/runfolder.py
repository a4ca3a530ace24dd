"""Run folders: a fresh one per run, one training process at a time, no leftovers from killed writes. The
``flock`` on ``RUN_DIR/.lock`` dies with its process (no stale lock); while it is held no other process writes
there, so the ``.NAME.*.tmp`` files of interrupted atomic writes can be removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import GanlabError

LOCK_NAME = ".lock"


class RunFolderLocked(GanlabError):
    """Another process holds the run folder's lock."""


@contextmanager
def locked_run_folder(run_dir: Path) -> Iterator[int]:
    """Hold ``run_dir``'s lock for the block; yields how many stale temporary files were removed."""
    lock = FileLock(run_dir / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunFolderLocked(
            f"another process is training into {run_dir} (it holds {run_dir / LOCK_NAME}): "
            "wait for it to end, or train into another folder"
        ) from None
    try:
        stale = [p for folder in (run_dir, run_dir / "samples") for p in folder.glob(".*.tmp") if p.is_file()]
        for path in stale:
            path.unlink(missing_ok=True)
        yield len(stale)
    finally:
        lock.release()


def new_run_dir(logdir: str | Path, name: str) -> Path:
    """A fresh folder ``logdir/name_YYYYmmdd-HHMMSS[_k]``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(logdir).expanduser() / f"{name}_{stamp}"
    run_dir, k = base, 1
    while run_dir.exists():
        run_dir, k = base.with_name(f"{base.name}_{k}"), k + 1
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise GanlabError(
            f"cannot create a run folder in logging.logdir {logdir} ({exc.strerror}): "
            "set logging.logdir to a folder you can write to"
        ) from None
    return run_dir
