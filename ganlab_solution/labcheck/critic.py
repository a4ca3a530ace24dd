"""Hidden checks of notebook 2: the critic block and the critic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .core import (
    _construct,
    _run,
    build,
    check,
    check_shape,
    same_values,
)
from .networks import check_structure, compare_with_reference


def cblock_variants(cin: int, cout: int, dropout: float) -> list[tuple[str, nn.Module]]:
    """Known ways to get the critic block wrong, as networks with the lab's weights layout."""

    def make(activation: Callable[[], nn.Module]) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            activation(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            activation(),
            nn.Conv2d(cout, cout, 3, stride=2, padding=1),
            activation(),
            nn.Dropout(dropout),
        )

    return [
        ("its LeakyReLU has the default slope 0.01: the lab uses nn.LeakyReLU(0.2)", make(nn.LeakyReLU)),
        ("it uses ReLU: the critic's activations are nn.LeakyReLU(0.2)", make(nn.ReLU)),
    ]


def check_discriminator(
    student_cls: type, reference_cls: type, namespace: dict[str, Any], replacements: dict[str, Any]
) -> None:
    """Hidden checks of a ``Discriminator`` class against the reference critic."""
    configs = [
        ((1, 28, 28), 0.5, 32, 0.1, 2),
        ((3, 32, 32), 0.3, 16, 0.2, 2),
        ((3, 64, 64), 0.5, 8, 0.0, 2),
        ((1, 28, 28), 0.5, 8, 0.1, 1),
    ]
    for config in configs:
        img_shape, _dropout, _base_c, _dnoise, num_classes = config
        what = f"Discriminator{config}"
        torch.manual_seed(0)
        critic = _construct(lambda config=config: build(lambda: student_cls(*config), namespace, **replacements), what)
        reference = reference_cls(*config)
        for batch in (5, 1):
            x = torch.randn(batch, *img_shape)
            out = _run(critic, what, x)
            check_shape(
                f"{what} on a {tuple(x.shape)} batch",
                out,
                (batch, num_classes),
                hint="flatten with X.flatten(1) (a batch of one keeps its batch axis) and end with Linear(features, num_classes)",
            )
        x = torch.randn(5, *img_shape)
        check_structure(critic, reference, what, x)
        critic.eval()
        with torch.no_grad():
            a, b = critic(x), critic(x)
        check(
            same_values(a, b),
            f"in eval mode {what} gives different logits for the same images: add the instance noise only "
            "when self.training is True",
        )
        compare_with_reference(
            critic,
            reference,
            what,
            "check the order of the blocks (k, 2k, 3k channels) and that the linear layer reads the flattened features",
            x,
        )
    # Instance noise: present in training mode when dnoise > 0, absent when dnoise == 0.
    for dnoise, noisy in ((0.5, True), (0.0, False)):
        config = ((1, 28, 28), 0.0, 8, dnoise, 2)
        critic = _construct(
            lambda config=config: build(lambda: student_cls(*config), namespace, **replacements), "Discriminator"
        )
        critic.train()
        x = torch.randn(8, 1, 28, 28)
        with torch.no_grad():
            a, b = critic(x), critic(x)
        if noisy:
            check(
                not same_values(a, b),
                "with dnoise=0.5 in training mode, two passes over the same images give the same logits: add "
                "dnoise * torch.randn_like(X) to the input images in training mode",
            )
        else:
            check(
                same_values(a, b),
                "with dnoise=0 and dropout=0, two training-mode passes over the same images differ: only the "
                "instance noise (scaled by dnoise) should be random",
            )
