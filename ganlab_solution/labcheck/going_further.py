"""Hidden checks of notebook 7: the hinge losses, against the reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ganlab.labcheck.core import call, check, check_close


def check_hinge_critic_loss(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``hinge_critic_loss`` on random scores of three batch sizes."""
    torch.manual_seed(7)
    for n in (1, 16, 100):
        real, fake = 2 * torch.randn(n), 2 * torch.randn(n)
        got = call(student, f"hinge_critic_loss on {n} scores", real, fake)
        check(
            torch.is_tensor(got) and got.dim() == 0,
            "hinge_critic_loss must return a 0-d tensor (average over the batch)",
        )
        check_close(
            f"hinge_critic_loss on {n} real and fake scores",
            got,
            reference(real, fake),
            hint="the real term is max(0, 1 - score), the fake term max(0, 1 + score), each averaged over its batch, "
            "then added",
        )


def check_hinge_generator_loss(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``hinge_generator_loss`` on 50 random scores."""
    fake = torch.randn(50)
    check_close(
        "hinge_generator_loss on 50 scores", call(student, "hinge_generator_loss on 50 scores", fake), reference(fake)
    )
