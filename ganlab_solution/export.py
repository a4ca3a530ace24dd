"""ONNX export of the generator, and loading an exported generator safely.

The exported graph has one input ``input`` of shape (B, latent_size) with a
dynamic batch B and one output ``output`` of shape (B, C, H, W) in [-1, 1]; the
generator is exported in eval mode (BatchNorm uses its running statistics).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import GanlabError, NoSpaceError, is_disk_full


class _LatentToImage(nn.Module):
    """Calls ``generator(z, None)``: the export sees one tensor in, one tensor out."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, None)


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see half a file.

    SIGINT/SIGTERM wait until the file is in place (:mod:`.interrupts`); on any
    failure the temporary file is removed and the previous ``path`` is left as it
    was. A full disk is reported as :class:`NoSpaceError` whatever the writer raised.
    """
    from .interrupts import writes_protected

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


def export_generator(generator: nn.Module, path: str | Path) -> Path:
    """Export ``generator`` (any device, any mode) to ONNX at ``path``, atomically.

    A CPU float32 copy in eval mode is exported, so training is not disturbed.
    """
    model = _LatentToImage(copy.deepcopy(generator).float().cpu().eval()).eval()
    # A private generator: exporting must not move the training RNG (resume reproducibility).
    z = torch.randn(2, generator.latent_size, generator=torch.Generator().manual_seed(0))

    def write(tmp: Path) -> None:
        # The exporter prints progress lines and warns about its own internals; keep the
        # training log clean, errors still propagate.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (z,),
                str(tmp),
                input_names=["input"],
                output_names=["output"],
                dynamic_shapes={"z": {0: torch.export.Dim("batch")}},
                dynamo=True,
                external_data=False,
            )

    atomic_write(Path(path), write)
    return Path(path)


class OnnxGenerator:
    """A generator ONNX file run by onnxruntime, checked on load.

    Raises :class:`GanlabError` if the file is missing, not a valid ONNX model, or
    does not map a (B, latent) input to (B, C, H, W) images.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise GanlabError(
                f"{path}: no such file: pass a generator .onnx file (training writes RUN_DIR/generator.onnx)"
            )
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GanlabError(
                f"{path} is not a loadable ONNX model ({first[:160]}): re-export it with training or "
                "use ganlab_solution/assets/fashionmnist_generator.onnx"
            ) from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else None
        if shape is None or len(shape) != 2 or not isinstance(shape[1], int):
            got = [(i.name, i.shape) for i in inputs]
            raise GanlabError(
                f"{path}: expected one input of shape (B, latent_size), got {got}: this is not a generator"
            )
        if len(outputs) != 1 or len(outputs[0].shape) != 4:
            raise GanlabError(f"{path}: expected one output of shape (B, C, H, W), got {[o.shape for o in outputs]}")
        self.path = path
        self.input_name = inputs[0].name
        self.latent_size: int = shape[1]

    def __call__(self, z: np.ndarray | torch.Tensor) -> np.ndarray:
        """Images in [-1, 1], shape (B, C, H, W), for latents of shape (B, latent_size)."""
        z = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else z
        return self.session.run(None, {self.input_name: np.ascontiguousarray(z, dtype=np.float32)})[0]
