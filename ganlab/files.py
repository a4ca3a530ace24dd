"""Atomic file writes, which every file the kit writes in training or export goes through: a reader (or a
killed run) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import NoSpaceError, is_disk_full
from .interrupts import writes_protected


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``, SIGINT/SIGTERM deferred meanwhile (:mod:`.interrupts`);
    on any failure the previous ``path`` is left as it was; a full disk is a :class:`NoSpaceError`."""
    path = Path(path)
    with writes_protected():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            write(Path(tmp))
            # mkstemp makes the file private (0600); give it the usual permissions.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, Exception) and is_disk_full(exc, path.parent):
                kept = "the previous file is unchanged" if path.exists() else "nothing was written"
                raise NoSpaceError(
                    f"no space left on device while writing {path} ({kept}): free some space and run again"
                ) from exc
            raise


def onnx_in_one_file(path: str | Path) -> Path:
    """Fold the weights an ONNX export wrote beside ``path`` (``path.data``) back into ``path``, atomically, so
    that the file works when copied alone; a self-contained file is left as it is."""
    import onnx

    path = Path(path)
    beside = path.with_name(f"{path.name}.data")
    if beside.is_file():
        model = onnx.load(str(path))  # reads the external weights into the model
        atomic_write(path, lambda tmp: onnx.save_model(model, str(tmp), save_as_external_data=False))
        beside.unlink()
    return path
