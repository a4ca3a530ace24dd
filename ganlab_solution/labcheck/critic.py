"""Hidden checks of notebook 2: the critic block and the critic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganlab.labcheck.core import (
    _construct,
    _run,
    approx,
    build,
    call,
    check,
    check_shape,
    fail,
    first_layer_input,
    first_layer_name,
)

from .networks import check_structure, compare_with_reference


def check_conv_output_size(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``conv_output_size``: an int, the formula's value, on a table of sizes, kernels and strides."""
    for args in [(7, 3, 2, 1), (14, 3, 2, 1), (32, 3, 2, 1), (5, 5, 1, 0), (64, 4, 2, 1), (9, 1, 1, 0), (10, 3, 3, 2)]:
        got, want = call(student, f"conv_output_size{args}", *args), reference(*args)
        check(
            isinstance(got, int),
            f"conv_output_size{args} returns a {type(got).__name__}; return an int (use // for the division)",
        )
        check(got == want, f"conv_output_size{args} returns {got}; the formula gives {want} (mind the rounding down)")


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


_LOGITS = "the critic returns logits (any real numbers); the loss applies the sigmoid itself (BCEWithLogits)"
LOGIT_MISTAKES = [
    (f"it ends with a sigmoid after the linear layer: {_LOGITS}, so remove the nn.Sigmoid", torch.sigmoid),
    (f"it ends with a softmax after the linear layer: {_LOGITS}, so remove the softmax", lambda x: x.softmax(dim=1)),
    ("it ends with a ReLU after the linear layer: the critic returns raw logits, negative ones included", torch.relu),
    (
        "it ends with a LeakyReLU after the linear layer: the critic returns raw logits, the linear layer's output",
        lambda logits: torch.nn.functional.leaky_relu(logits, 0.2),
    ),
]


_LAYOUT = "check the order of the blocks (k, 2k, 3k channels) and that the linear layer reads the flattened features"


def check_instance_noise(critic: nn.Module, img_shape: tuple[int, int, int], dnoise: float) -> None:
    """The noise the critic adds in training mode is Gaussian, mean 0, standard deviation ``dnoise``."""
    critic.train()
    zeros = torch.zeros(32, *img_shape)
    noise = first_layer_input(critic, zeros, layer=first_layer_name(critic, zeros[:2]))
    if noise is None or noise.shape != zeros.shape:
        return  # the first layer does not see the images themselves: the value checks judge the critic
    mean, std = noise.mean().item(), noise.std().item()
    beyond = ((noise - mean).abs() > 2 * std).float().mean().item()  # 4.6% for a Gaussian
    expected = f"dnoise * torch.randn_like(X), Gaussian noise of mean 0 and standard deviation dnoise={dnoise}"
    if abs(mean - dnoise / 2) < 0.1 * dnoise and noise.min().item() >= 0:
        fail(
            f"with dnoise={dnoise} the critic's instance noise lies in [0, {dnoise}] (torch.rand is uniform in "
            f"[0, 1)): the lab adds {expected}"
        )
    check(
        abs(mean) < 0.1 * dnoise,
        f"with dnoise={dnoise} the critic's instance noise has mean {approx(mean)}: the lab adds {expected}",
    )
    if abs(std - dnoise**0.5) < 0.05 * dnoise**0.5:
        fail(
            f"with dnoise={dnoise} the critic's instance noise has standard deviation {approx(std)} = sqrt(dnoise): "
            f"dnoise is the standard deviation itself, not the variance; the lab adds {expected}"
        )
    check(
        0.03 < beyond < 0.065,
        f"with dnoise={dnoise} the critic's instance noise is not Gaussian ({100 * beyond:.1f}% of it lies beyond "
        f"twice its standard deviation, 4.6% for a Gaussian; uniform noise from torch.rand has none): "
        f"the lab adds {expected}",
    )
    check(
        abs(std - dnoise) < 0.05 * dnoise,
        f"with dnoise={dnoise} the critic's instance noise has standard deviation {approx(std)}: the lab adds {expected}",
    )


def check_discriminator(
    student_cls: type, reference_cls: type, namespace: dict[str, Any], replacements: dict[str, Any]
) -> None:
    """Hidden checks of a ``Discriminator`` class against the reference critic."""

    def make(config: tuple[Any, ...], what: str = "Discriminator") -> nn.Module:
        return _construct(lambda: build(lambda: student_cls(*config), namespace, **replacements), what)

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
        critic = make(config, what)
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
            torch.equal(a, b),
            f"in eval mode {what} gives different logits for the same images: add the instance noise only "
            "when self.training is True",
        )
        compare_with_reference(critic, reference, what, _LAYOUT, x, output_variants=LOGIT_MISTAKES)
    # Instance noise: present in training mode when dnoise > 0, absent when dnoise == 0.
    for dnoise, noisy in ((0.5, True), (0.0, False)):
        critic = make(((1, 28, 28), 0.0, 8, dnoise, 2))
        critic.train()
        x = torch.randn(8, 1, 28, 28)
        with torch.no_grad():
            a, b = critic(x), critic(x)
        if noisy:
            check(
                not torch.equal(a, b),
                "with dnoise=0.5 in training mode, two passes over the same images give the same logits: add "
                "dnoise * torch.randn_like(X) to the input images in training mode",
            )
            for scale in (0.5, 0.09):
                check_instance_noise(make(((1, 28, 28), 0.0, 8, scale, 2)), (1, 28, 28), scale)
        else:
            check(
                torch.equal(a, b),
                "with dnoise=0 and dropout=0, two training-mode passes over the same images differ: only the "
                "instance noise (scaled by dnoise) should be random",
            )
