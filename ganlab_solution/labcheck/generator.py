"""Hidden checks of notebook 3: the generator block and the generator."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ganlab.labcheck.core import (
    _construct,
    _run,
    approx,
    build,
    check,
    check_shape,
    fail,
    first_layer_input,
    first_layer_name,
)
from ganlab.labcheck.visible import check_pixel_range

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


_LAYOUT = (
    "check the linear layer and the reshape to (base_c, s, s), the channels halved by each GBlock, and the final 1x1 "
    "convolution and Tanh"
)


def check_latents(generator: nn.Module, latent_size: int, what: str = "your generator") -> None:
    """generator(None, n) draws its latents from N(0, I), on the device of the generator's weights."""
    layer = first_layer_name(generator, None, 2)
    z = first_layer_input(generator, None, 512, layer=layer)
    if z is None or z.shape != (512, latent_size):
        return  # the first layer does not see the latents: the other checks judge the images
    mean, std, low = z.mean().item(), z.std().item(), z.min().item()
    normal = "draw X = torch.randn(batch_size, latent_size, device=...), normal with mean 0 and standard deviation 1"
    if low >= 0 and z.max().item() <= 1:
        fail(f"{what}(None, n) draws its latents in [0, 1) (torch.rand is uniform): {normal}")
    check(
        abs(mean) < 0.05 and abs(std - 1) < 0.05,
        f"{what}(None, n) draws latents of mean {approx(mean)} and standard deviation {approx(std)}: {normal}",
    )
    # On PyTorch's "meta" device (shapes without data, like a GPU the grader does not have) the
    # latents must follow the weights: torch.randn(...) alone would make them on the CPU.
    try:
        on_meta = copy.deepcopy(generator).to("meta")
    except Exception:  # the generator holds something that cannot move: nothing to judge
        return
    z = first_layer_input(on_meta, None, 4, layer=layer)
    check(
        z is None or z.device.type == "meta",
        f"{what}(None, n) makes its latents on the CPU even when the generator's weights are on another device "
        "(a GPU in notebook 5): create them on the weights' device, torch.randn(..., device=<a weight>.device)",
    )


def check_generator(
    student_cls: type, reference_cls: type, namespace: dict[str, Any], replacements: dict[str, Any]
) -> None:
    """Hidden checks of a ``Generator`` class against the reference generator."""

    def make(config: tuple[Any, ...], what: str) -> nn.Module:
        return _construct(lambda: build(lambda: student_cls(*config), namespace, **replacements), what)

    configs = [((1, 28, 28), 100, 256), ((3, 32, 32), 64, 64), ((3, 64, 64), 32, 64), ((1, 28, 28), 16, 32)]
    for config in configs:
        img_shape, latent_size, _base_c = config
        what = f"Generator{config}"
        torch.manual_seed(0)
        generator = make(config, what)
        reference = reference_cls(*config)
        z = torch.randn(3, latent_size)  # small batches: this test runs under a per-cell time limit
        check_shape(
            f"{what}(X, None) for X of shape {tuple(z.shape)}",
            _run(generator, what, z, None),
            (3, *img_shape),
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
        check_pixel_range(generator, latent_size, what)
        generator.eval()
        with torch.no_grad():
            a, b = generator(z, None), generator(z, None)
            c, d = generator(None, 2), generator(None, 2)
        check(torch.equal(a, b), f"in eval mode {what} gives two different images for the same latent vectors")
        check(
            not torch.equal(c, d),
            f"{what}(None, 2) returns the same images twice: draw new latents with torch.randn at each call",
        )
        compare_with_reference(generator, reference, what, _LAYOUT, z, None)
    # The latents' distribution and device do not depend on the image size: judged once, on a small
    # generator, after every shape check (a wrong size is the more basic mistake to report first).
    torch.manual_seed(0)
    check_latents(make(((1, 28, 28), 16, 32), "Generator"), 16, "Generator((1, 28, 28), 16, 32)")
