"""Hidden checks of notebook 3: the generator block and the generator."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .core import (
    _construct,
    _run,
    approx,
    build,
    check,
    check_shape,
    fail,
    same_values,
)
from .networks import check_structure, compare_with_reference


def gblock_variants(cin: int, cout: int) -> list[tuple[str, nn.Module]]:
    """Known ways to get the generator block wrong, as networks with the lab's weights layout."""

    def make(upsample: nn.Module, relu_first: bool) -> nn.Module:
        layers = [upsample]
        for a, b in ((cin, cout), (cout, cout)):
            conv, bn = nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b)
            layers += [conv, nn.ReLU(), bn] if relu_first else [conv, bn, nn.ReLU()]
        return nn.Sequential(*layers)

    bilinear = nn.Upsample(scale_factor=2, mode="bilinear")
    return [
        (
            "it upsamples like mode='nearest' (nn.Upsample's default): the lab uses mode='bilinear'",
            make(nn.Upsample(scale_factor=2), False),
        ),
        (
            "it upsamples with align_corners=True: leave align_corners at its default",
            make(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), False),
        ),
        ("it applies ReLU before BatchNorm: the lab's order is conv, BatchNorm, ReLU", make(bilinear, True)),
    ]


def check_generator(
    student_cls: type, reference_cls: type, namespace: dict[str, Any], replacements: dict[str, Any]
) -> None:
    """Hidden checks of a ``Generator`` class against the reference generator."""
    configs = [((1, 28, 28), 100, 256), ((3, 32, 32), 64, 64), ((3, 64, 64), 32, 64), ((1, 28, 28), 16, 32)]
    for config in configs:
        img_shape, latent_size, _base_c = config
        what = f"Generator{config}"
        torch.manual_seed(0)
        generator = _construct(
            lambda config=config: build(lambda: student_cls(*config), namespace, **replacements), what
        )
        reference = reference_cls(*config)
        z = torch.randn(6, latent_size)
        check_shape(
            f"{what}(X, None) for X of shape {tuple(z.shape)}",
            _run(generator, what, z, None),
            (6, *img_shape),
            hint="a 28x28 image starts at 7x7, 32x32 and 64x64 at 8x8, with one GBlock per doubling",
        )
        try:
            counted = generator(None, 3)
        except Exception as error:  # the count mode is a separate path: name it
            fail(
                f"{what}(None, 3) fails: {type(error).__name__}: {error}. With X=None, draw X = torch.randn(batch_size, latent_size)"
            )
        check_shape(f"{what}(None, 3)", counted, (3, *img_shape), hint="with X=None, make batch_size images")
        check_structure(generator, reference, what, z, None)
        generator.eval()
        with torch.no_grad():
            # Huge latents: without a final Tanh the pixels then leave [-1, 1] whatever the weights.
            out = generator(1e4 * torch.randn(6, latent_size), None)
        check(
            bool(out.min() >= -1) and bool(out.max() <= 1),
            f"{what}'s pixels range over [{approx(out.min().item())}, {approx(out.max().item())}]: end with a "
            "1x1 convolution and nn.Tanh() so that images lie in [-1, 1] like the real ones",
        )
        with torch.no_grad():
            a, b = generator(z, None), generator(z, None)
            c, d = generator(None, 4), generator(None, 4)
        check(same_values(a, b), f"in eval mode {what} gives two different images for the same latent vectors")
        check(
            not same_values(c, d),
            f"{what}(None, 4) returns the same images twice: draw new latents with torch.randn at each call",
        )
        compare_with_reference(
            generator,
            reference,
            what,
            "check the linear layer and the reshape to (base_c, s, s), the channels halved by each GBlock, and the final 1x1 convolution and Tanh",
            z,
            None,
        )
