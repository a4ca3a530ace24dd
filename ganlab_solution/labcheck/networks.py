"""Checks shared by the network exercises of notebooks 2 and 3: structure, values with the lab's weights, blocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganlab.labcheck.core import (
    _construct,
    _run,
    approx,
    as_tensor,
    biased_convs_before_bn,
    check,
    check_shape,
    copy_weights,
    execution_order,
    fail,
    parameter_count_hint,
    randomize_batchnorm,
)

from ..models import count_parameters


def check_structure(module: nn.Module, reference: nn.Module, what: str, *inputs: Any) -> None:
    """No transposed convolution, no bias before BatchNorm, the reference's parameter count."""
    check(
        not any(isinstance(m, nn.ConvTranspose2d) for m in module.modules()),
        f"{what} uses a ConvTranspose2d: the lab upsamples with nn.Upsample(scale_factor=2, mode='bilinear') "
        "followed by a 3x3 convolution, which avoids checkerboard artifacts",
    )
    order = execution_order(module, *inputs)
    biased = biased_convs_before_bn(order)
    check(
        biased == 0,
        f"{what} has {biased} convolution(s) followed by BatchNorm that keep a bias: BatchNorm cancels it, "
        "create them with bias=False",
    )
    got, expected = count_parameters(module), count_parameters(reference)
    widths = sorted({p.shape[0] for p in reference.parameters() if p.ndim >= 1})
    check(
        got == expected,
        f"{what} has {got:,} parameters; the lab's has {expected:,}. {parameter_count_hint(got, expected, widths)}",
    )


def compare_with_reference(
    module: nn.Module,
    reference: nn.Module,
    what: str,
    hint: str,
    *inputs: Any,
    variants: Callable[[], list[tuple[str, nn.Module]]] | None = None,
    output_variants: list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = (),
) -> None:
    """With the reference's weights copied in (skipped when the layouts differ too much to copy), ``module`` must
    compute what the reference computes in eval mode. When it does not, an output that matches a known mistake
    names it: a ``variants()`` network (message, network) of the same layout, or an ``output_variants`` (message,
    function) transform of the reference's output (a sigmoid after the last layer)."""
    # PyTorch's default initialisation (larger than DCGAN's N(0, 0.02)) and non-trivial BatchNorm
    # statistics: activations then reach the non-linear range of every layer (a missing Tanh shows).
    for m in reference.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.reset_parameters()
    randomize_batchnorm(reference)
    if not copy_weights(reference, module, *inputs):
        return
    module.eval()
    reference.eval()
    with torch.no_grad():
        got, expected = as_tensor(_run(module, what, *inputs), what), reference(*inputs)
    worst = (got - expected).abs().max().item()
    if worst >= 1e-4:
        for message, variant in variants() if variants else []:
            if copy_weights(reference, variant, *inputs):
                with torch.no_grad():
                    if (got - variant.eval()(*inputs)).abs().max().item() < 1e-4:
                        fail(f"{what}: {message}")
        for message, transform in output_variants:
            wrong = transform(expected)
            if wrong.shape == got.shape and (got - wrong).abs().max().item() < 1e-4:
                fail(f"{what}: {message}")
    if not torch.isfinite(got).all():
        fail(f"with the lab's weights copied into {what}, its output contains NaN or infinite values: {hint}")
    check(
        worst < 1e-4, f"with the lab's weights copied into {what}, its output differs by up to {approx(worst)}: {hint}"
    )


def check_block(
    student_cls: type,
    reference_cls: type,
    name: str,
    arg_list: list[tuple[Any, ...]],
    sizes: list[int],
    hint: str,
    variants: Callable[..., list[tuple[str, nn.Module]]] | None = None,
) -> None:
    """Hidden checks of a block class (``CBlock`` or ``GBlock``) against the reference block; ``variants(*args)``
    builds known wrong blocks, to name the mistake when the values differ."""
    for args in arg_list:
        cin, cout, what = args[0], args[1], f"{name}{args}"
        for size in sizes:
            torch.manual_seed(0)
            block = _construct(lambda args=args: student_cls(*args), what)
            reference = reference_cls(*args)
            x = torch.randn(4, cin, size, size)
            with torch.no_grad():
                expected = reference(x).shape
                got = _run(block, what, x)
            check_shape(f"{what} on a {tuple(x.shape)} batch", got, tuple(expected))
            check_structure(block, reference, what, x)
            known = (lambda args=args: variants(*args)) if variants else None
            compare_with_reference(block, reference, what, hint, x, variants=known)
        if len(args) == 3:  # critic blocks: dropout is the last layer, with the given probability
            block = _construct(lambda cin=cin, cout=cout: student_cls(cin, cout, 1.0), f"{name}({cin}, {cout}, 1.0)")
            block.train()
            out = _run(block, name, torch.randn(4, cin, 8, 8))
            check(
                bool((as_tensor(out, name) == 0).all()),
                f"{name}({cin}, {cout}, dropout=1.0) in training mode should output only zeros: "
                "end the block with nn.Dropout(dropout), using the dropout argument",
            )
            block.eval()
            with torch.no_grad():
                a, b = block(x := torch.randn(4, cin, 8, 8)), block(x)
            check(
                torch.equal(a, b) and bool(a.abs().sum() > 0),
                f"{name} in eval mode must not drop anything: use an nn.Dropout module (model.eval() switches it off)",
            )
            check_dropout_at_end(student_cls, name, cin, cout)


def check_dropout_at_end(student_cls: type, name: str, cin: int, cout: int, p: float = 0.5) -> None:
    """Dropout is applied once, to the block's output: with BatchNorm frozen (eval) and dropout active (train),
    each output is 0 or the eval-mode value divided by 1 - p; a dropout earlier in the block breaks that."""
    torch.manual_seed(0)
    block = _construct(lambda: student_cls(cin, cout, p), f"{name}({cin}, {cout}, {p})")
    randomize_batchnorm(block)
    x = torch.randn(4, cin, 8, 8)
    block.eval()
    with torch.no_grad():
        expected = as_tensor(_run(block, name, x), name) / (1 - p)
    block.train()
    for m in block.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    with torch.no_grad():
        got = as_tensor(_run(block, name, x), name)
    kept = got != 0
    dropped = 1 - kept.float().mean().item()
    check(
        abs(dropped - p) < 0.1,
        f"{name}({cin}, {cout}, dropout={p}) in training mode sets {100 * dropped:.0f}% of its outputs to 0, "
        f"not about {100 * p:.0f}%: the block's last layer is nn.Dropout(dropout)",
    )
    check(
        torch.allclose(got[kept], expected[kept], atol=1e-4, rtol=1e-3),
        f"{name} drops values inside the block, not only at its end (dropout after every activation?): the lab "
        "applies nn.Dropout(dropout) once, as the block's last layer, after the stride-2 convolution's LeakyReLU",
    )
