"""Hidden checks of notebook 6: generating with onnxruntime, and walking in the latent space."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ganlab import SHIPPED_GENERATOR
from ganlab.labcheck.core import call, check_close
from ganlab.labcheck.visible import generated

LATENT = 100  # the latent size of the course's generator, which notebook 6 explores when graded


def check_generate_images(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``generate_images``: torch and float64 latents, compared with the reference's images. The
    grader calls the answer as ``student(z)``, the notebook's own session bound in the kernel (``kernel_args``), and
    the reference on a session of its own on the same generator, the course's (notebook 6 explores it when graded)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(SHIPPED_GENERATOR), providers=["CPUExecutionProvider"])
    latent = session.get_inputs()[0].shape[1]
    latents = {
        "a torch tensor of 5 latents": torch.randn(5, latent),
        "one float64 latent": np.random.default_rng(1).standard_normal((1, latent)),  # must be converted
    }
    for what, z in latents.items():
        images = generated(student, f"generate_images(session, {what})", z)
        check_close(
            f"generate_images on {what}",
            images,
            reference(session, z.clone() if torch.is_tensor(z) else z.copy()),
            atol=1e-5,
            hint="convert z to a float32 NumPy array first (np.asarray(z, dtype=np.float32))",
        )


def check_line_latents(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``line_latents`` against the reference."""
    torch.manual_seed(5)
    for steps in (2, 7, 10):
        a, b = torch.randn(LATENT), torch.randn(LATENT)
        check_close(
            f"line_latents(z1, z2, {steps})",
            call(student, f"line_latents(z1, z2, {steps})", a, b, steps),
            reference(a.clone(), b.clone(), steps),
            hint="alpha goes from 0 to 1 included, in steps - 1 equal intervals: torch.linspace(0, 1, steps)",
        )


def check_plane_latents(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``plane_latents`` against the reference."""
    torch.manual_seed(6)
    for steps in (2, 5):
        a, b, c = torch.randn(LATENT), torch.randn(LATENT), torch.randn(LATENT)
        check_close(
            f"plane_latents(z1, z2, z3, {steps})",
            call(student, f"plane_latents(z1, z2, z3, {steps})", a, b, c, steps),
            reference(a.clone(), b.clone(), c.clone(), steps),
            hint="point i * steps + j must be z1 + alpha_j (z2 - z1) + beta_i (z3 - z1)",
        )
