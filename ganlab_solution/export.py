"""ONNX export of the generator (input ``input`` (B, latent_size), any B; output ``output`` (B, C, H, W) in
[-1, 1]; eval mode), and running an exported generator safely."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganlab.errors import GanlabError
from ganlab.files import atomic_write

from .generate import generate_images


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path, input_name: str, output_name: str) -> Path:
    """Export ``model`` (one tensor in, one out) to ONNX at ``path`` atomically, with a dynamic batch dimension."""

    def write(tmp: Path) -> None:
        # The exporter prints progress lines and warns about its own internals: keep logs clean.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                input_names=[input_name],
                output_names=[output_name],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                external_data=False,
            )

    atomic_write(Path(path), write)
    return Path(path)


def export_generator(generator: torch.nn.Module, path: str) -> None:
    """Write ``generator`` to ``path`` as ONNX: input "input" (B, latent), output "output", any B.

    One self-contained file (``external_data=False``: the weights inside, no ``.onnx.data``
    beside it), exported in eval mode (BatchNorm's running statistics); the generator's mode
    is put back afterwards.
    """
    ### BEGIN SOLUTION
    was_training = generator.training
    generator.eval()
    z = torch.randn(2, generator.latent_size)
    torch.onnx.export(
        generator,
        (z,),
        path,
        input_names=["input"],
        output_names=["output"],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    generator.train(was_training)
    ### END SOLUTION


# -- beside the answer: running an exported generator safely -------------------------------


class OnnxGenerator:
    """A generator ONNX file run by onnxruntime; :class:`GanlabError` if it is missing, not a valid ONNX model,
    or does not map float32 (B, latent) inputs to float32 (B, 1 or 3, H, W) images."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise GanlabError(
                f"{path}: no such file: pass a generator .onnx file (training writes RUN_DIR/generator.onnx)"
            )
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GanlabError(
                f"{path} is not a loadable ONNX model ({first[:160]}): re-export it with training or "
                "use ganlab/assets/fashionmnist_generator.onnx"
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
        for what, arg in (("input", inputs[0]), ("output", outputs[0])):
            if arg.type != "tensor(float)":
                raise GanlabError(
                    f"{path}: its {what} is a {arg.type}, a generator maps float32 latents to float32 images: "
                    "export it from a float32 model (training does)"
                )
        channels = outputs[0].shape[1]
        if isinstance(channels, int) and channels not in (1, 3):
            raise GanlabError(
                f"{path} makes images with {channels} channels: a generator must make 1 (gray) or 3 (RGB)"
            )
        self.path = path
        self.input_name = inputs[0].name
        self.latent_size: int = shape[1]

    def __call__(self, z: np.ndarray | torch.Tensor) -> np.ndarray:
        """Images in [-1, 1], shape (B, C, H, W), for latents of shape (B, latent_size)."""
        z = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else z
        return self.session.run(None, {self.input_name: np.ascontiguousarray(z, dtype=np.float32)})[0]

    def __getattr__(self, name: str) -> Any:
        """The session's ``get_inputs``, ``get_outputs``, ``run``...: an OnnxGenerator reads like an InferenceSession."""
        if name == "session":  # __init__ failed before making it
            raise AttributeError(name)
        return getattr(self.session, name)


BATCH = 256  # latents per generator call: memory stays bounded whatever the number of samples


def generate_in_batches(session: OnnxGenerator, z: np.ndarray | torch.Tensor, *, batch_size: int = BATCH) -> np.ndarray:
    """Images (B, C, H, W) in [-1, 1] for latents ``z`` (B, L), ``batch_size`` at a time (a generator exported
    with a fixed batch runs that many, the last batch padded): the kit's one path to sample an ONNX generator.

    Raises :class:`GanlabError` for images of the wrong shape or all NaN; warns if some pixels are not finite.
    """
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    fixed = session.get_inputs()[0].shape[0]
    step = fixed if isinstance(fixed, int) and fixed > 0 else batch_size
    chunks = []
    for start in range(0, z.shape[0], step):
        part = z[start : start + step]
        count = part.shape[0]
        if count < step and step != batch_size:
            part = torch.cat([part, part.new_zeros(step - count, part.shape[1])])
        try:
            chunks.append(generate_images(session, part)[:count])
        except Exception as exc:  # onnxruntime raises its own exception types
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise GanlabError(
                f"{session.path} fails on a batch of {part.shape[0]} latents ({first}): "
                "re-export the generator with a dynamic batch size (training does)"
            ) from None
    images = np.concatenate(chunks)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GanlabError(
            f"{session.path} makes arrays of shape {images.shape[1:]}, not images: "
            "a generator must output (B, 1 or 3, H, W)"
        )
    finite = np.isfinite(images)
    if not finite.any():
        raise GanlabError(f"{session.path} outputs only NaN or infinite pixels: the generator is broken, retrain it")
    if not finite.all():
        bad = int((~finite).reshape(len(images), -1).any(axis=1).sum())
        warnings.warn(f"{session.path}: {bad} of {len(images)} images have NaN or infinite pixels", stacklevel=2)
    return images


def sample_model(model: str | Path, n: int, seed: int = 0, batch_size: int = BATCH) -> np.ndarray:
    """``n`` images in [-1, 1] from a generator ONNX file, latents drawn with ``seed`` (what the metrics sample)."""
    session = OnnxGenerator(model)
    z = torch.randn(n, session.latent_size, generator=torch.Generator().manual_seed(seed))
    return generate_in_batches(session, z, batch_size=batch_size)
