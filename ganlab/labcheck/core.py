"""Shared helpers of the checks: the failure message, isolating one exercise from the others, and
looking inside networks without assuming how they are written.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import torch
from torch import nn

_RED, _GREEN, _RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[0m"


def _warning_to_stdout(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stdout)


# nbgrader gives a test cell 0 points as soon as it writes anything to stderr, so a harmless
# warning raised by correct code (e.g. PyTorch's UserWarning on float(loss)) would cost the
# student the exercise. Once a notebook imports this module, warnings still show, on stdout.
warnings.showwarning = _warning_to_stdout


class CheckFailed(Exception):
    """A failed check: what is wrong and what the lab expects. IPython (and the nbgrader feedback) shows
    ``_render_traceback_``, one readable message, instead of a traceback into this file."""

    def _render_traceback_(self) -> list[str]:
        return [
            f"{_RED}Check failed{_RESET}: {line}" if i == 0 else f"    {line}"
            for i, line in enumerate(str(self).splitlines())
        ]


def fail(message: str) -> NoReturn:
    """Raise :class:`CheckFailed` with ``message``."""
    raise CheckFailed(message)


def check(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        fail(message)


def passed(what: str) -> None:
    """Print a green line once a group of checks passed."""
    print(f"{_GREEN}ok{_RESET}: {what}")


def shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of a tensor or array as a tuple, None for anything else."""
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else None


def check_shape(what: str, value: Any, expected: tuple[int, ...], hint: str = "") -> None:
    """Fail unless ``value`` (a tensor or array) has shape ``expected``."""
    got = shape_of(value)
    if got is None:
        fail(f"{what} should be a tensor of shape {expected}, but it is a {type(value).__name__}. {hint}".strip())
    if got != tuple(expected):
        fail(f"{what} has shape {got}; the lab expects {tuple(expected)}. {hint}".strip())


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """``value`` as a float tensor (accepts tensors, numpy arrays, lists)."""
    try:
        return torch.as_tensor(value).detach().float().cpu()
    except Exception:  # anything that cannot become a tensor
        fail(f"{what} should be a tensor (or a numpy array), got a {type(value).__name__}")


def check_close(what: str, got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4, hint: str = "") -> None:
    """Fail unless ``got`` and ``expected`` have the same shape and close values."""
    got_t, exp_t = as_tensor(got, what), as_tensor(expected, "the reference")
    check_shape(what, got_t, tuple(exp_t.shape), hint)
    if not torch.isfinite(got_t).all():
        kind = "NaN (not a number)" if torch.isnan(got_t).any() else "infinite values"
        fail(f"{what} contains {kind}: look for a division by zero or a log of 0. {hint}".strip())
    if not torch.allclose(got_t, exp_t, atol=atol, rtol=rtol):
        if got_t.numel() == 1:
            fail(f"{what} is {got_t.item():.6g}; the lab's value is {exp_t.item():.6g}. {hint}".strip())
        # Name one entry where they differ most: a value to look for beats a distance alone.
        gap = (got_t.double() - exp_t.double()).abs()
        flat = int(gap.flatten().argmax())
        index = "[" + ", ".join(str(int(i)) for i in torch.unravel_index(torch.tensor(flat), got_t.shape)) + "]"
        fail(
            f"{what} differs from the lab's values by up to {gap.max().item():.3g}: at {index} it is "
            f"{got_t.flatten()[flat].item():.6g}, the lab's value is {exp_t.flatten()[flat].item():.6g}. {hint}".strip()
        )


def fresh(value: Any) -> Any:
    """A private copy of a check's input (tensors, arrays, tuples and lists of them; anything else as is), so that
    an answer working in place (``x.clamp_(...)``) neither changes what the check compares with nor loses points."""
    if torch.is_tensor(value):
        return value.detach().clone()
    if type(value).__module__ == "numpy" and hasattr(value, "copy"):
        return value.copy()
    if isinstance(value, (tuple, list)):
        return type(value)(fresh(v) for v in value)
    return value


def call(function: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` on private copies; an exception becomes a message naming the call ``what``."""
    try:
        return function(*(fresh(a) for a in args), **{k: fresh(v) for k, v in kwargs.items()})
    except CheckFailed:
        raise
    except Exception as error:  # the student's code crashed: say which call, and how
        fail(f"{what} fails: {type(error).__name__}: {str(error)[:300]}")


def require(namespace: dict[str, Any], *names: str) -> None:
    """Fail with a helpful message if one of ``names`` was never defined in the notebook."""
    for name in names:
        if name not in namespace:
            fail(
                f"`{name}` is not defined: run the cell where you write it (and fix any error it shows) "
                "before this test"
            )


# -- isolating one exercise from the others --


@contextlib.contextmanager
def swapped(namespace: dict[str, Any], **replacements: Any) -> Iterator[None]:
    """Temporarily replace names of the notebook (e.g. your ``CBlock`` by the reference one); put back after."""
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    try:
        namespace.update(replacements)
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


@contextlib.contextmanager
def isolated(namespace: dict[str, Any], *names: str) -> Iterator[None]:
    """Grade one exercise alone: under the autograder the reference answers stand in for ``names`` (so that one
    mistake costs the points of its own exercise only); in your own session your pieces are used."""
    from ganlab.answers import grading, reference_answer

    if not grading():
        yield
        return
    with swapped(namespace, **{name: reference_answer(name) for name in names}):
        yield


def build(factory: Callable[[], Any], namespace: dict[str, Any], **replacements: Any) -> Any:
    """``factory()`` with ``replacements`` swapped in; falls back to your own pieces if that fails."""
    try:
        with swapped(namespace, **replacements):
            return factory()
    except Exception:  # your code may call the pieces differently: then use them as they are
        return factory()


# -- looking inside networks without assuming how they are written --


def execution_order(module: nn.Module, *inputs: Any, **kwargs: Any) -> list[nn.Module]:
    """The leaf modules of ``module`` in the order a forward pass calls them (``nn.Sequential`` or not)."""
    order: list[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda mod, _inp, _out: order.append(mod))
        for m in module.modules()
        if not list(m.children())
    ]
    try:
        with torch.no_grad():
            module(*inputs, **kwargs)
    finally:
        for hook in hooks:
            hook.remove()
    return order


def biased_convs_before_bn(order: list[nn.Module]) -> int:
    """How many convolutions that feed a BatchNorm directly still have a bias."""
    return sum(
        isinstance(current, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
        and isinstance(following, (nn.BatchNorm1d, nn.BatchNorm2d))
        and current.bias is not None
        for current, following in zip(order, order[1:])
    )


def _state_in_order(order: list[nn.Module]) -> list[torch.Tensor]:
    tensors: list[torch.Tensor] = []
    for module in dict.fromkeys(order):  # each module once, where it first runs
        tensors += [
            *module.parameters(recurse=False),
            *(b for b in module.buffers(recurse=False) if b.is_floating_point()),
        ]
    return tensors


def copy_weights(source: nn.Module, target: nn.Module, *inputs: Any) -> bool:
    """Copy ``source``'s weights into ``target`` layer by layer, in forward order; False (nothing copied) when
    the two do not have the same layers with the same shapes in the same order."""
    try:
        src = _state_in_order(execution_order(source, *inputs))
        dst = _state_in_order(execution_order(target, *inputs))
    except Exception:  # the target does not even run: nothing to compare
        return False
    if len(src) != len(dst) or any(s.shape != d.shape for s, d in zip(src, dst)):
        return False
    with torch.no_grad():
        for s, d in zip(src, dst):
            d.copy_(s)
    return True


def randomize_batchnorm(module: nn.Module) -> None:
    """Give every BatchNorm non-trivial (seeded) statistics, so eval-mode comparisons mean something."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(1 + 0.5 * torch.rand(m.running_var.shape, generator=gen))
                if m.weight is not None:
                    m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=gen))
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


def parameter_count_hint(got: int, expected: int, channels: list[int]) -> str:
    """A guess at the usual cause of a parameter-count difference."""
    diff = got - expected
    if diff == 0:
        return ""
    for c in channels:
        if diff % c == 0 and 0 < diff // c <= 4:
            return (
                f"The difference ({diff:+,}) is {diff // c} x {c}: typically a bias on a convolution followed by "
                "BatchNorm (BatchNorm cancels it: use bias=False), or an extra BatchNorm."
            )
        if diff % c == 0 and -4 <= diff // c < 0:
            return f"The difference ({diff:+,}) is {diff // c} x {c}: a bias or a BatchNorm seems to be missing."
    return f"The difference is {diff:+,}: compare your layers (widths, kernel sizes, the Linear's input size) with the lab's."


def changed(before: nn.Module, after: nn.Module) -> bool:
    """True if any parameter of ``after`` differs from its counterpart in ``before`` (the same network untrained)."""
    return any(not torch.equal(b.detach(), a.detach()) for b, a in zip(before.parameters(), after.parameters()))


def largest_change(before: nn.Module, after: nn.Module) -> float:
    """The largest absolute difference between a parameter of ``after`` and its counterpart in ``before``."""
    return max((a.detach() - b.detach()).abs().max().item() for b, a in zip(before.parameters(), after.parameters()))


def nonzero_grads(module: nn.Module) -> bool:
    """True if a gradient reached any parameter of ``module``."""
    return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())


def approx(value: float) -> str:
    """A short rendering of a number for messages."""
    return "NaN (not a number)" if math.isnan(value) else f"{value:.4g}"


def _construct(factory: Callable[[], Any], what: str) -> Any:
    try:
        return factory()
    except CheckFailed:
        raise
    except Exception as error:  # the student's constructor crashed: say how
        fail(f"{what} fails to build: {type(error).__name__}: {error}")


def _run(module: nn.Module, what: str, *inputs: Any) -> Any:
    try:
        return module(*inputs)
    except CheckFailed:
        raise
    except Exception as error:  # the student's forward crashed: say on what input
        shapes = ", ".join(str(shape_of(x)) if shape_of(x) is not None else repr(x) for x in inputs)
        fail(f"{what} fails on an input of shape {shapes}: {type(error).__name__}: {error}")


class _Stop(Exception):
    """Raised by a hook to stop a forward pass once it has seen what it needed."""


def first_layer_name(module: nn.Module, *inputs: Any) -> str | None:
    """The name (in ``named_modules``) of the first layer a forward pass of ``module`` on ``inputs`` calls."""
    try:
        first = execution_order(module, *inputs)[0]
    except Exception:  # the forward fails or calls no layer: the caller skips its check
        return None
    return next((name for name, m in module.named_modules() if m is first), None)


def first_layer_input(module: nn.Module, *inputs: Any, layer: str | None) -> torch.Tensor | None:
    """What ``module``'s layer named ``layer`` (:func:`first_layer_name`) receives for ``inputs`` (the rest skipped)."""
    if layer is None:
        return None
    seen: list[torch.Tensor] = []

    def grab(_module: nn.Module, args: tuple[Any, ...]) -> None:
        if args and torch.is_tensor(args[0]):
            seen.append(args[0].detach().clone())
        raise _Stop

    hook = module.get_submodule(layer).register_forward_pre_hook(grab)
    try:
        with torch.no_grad():
            module(*inputs)
    except _Stop:
        pass
    except Exception:  # the forward failed before its first layer: other checks say why
        return None
    finally:
        hook.remove()
    return seen[0] if seen else None


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Swallow what student code prints while a test runs it: nbgrader zeroes a test cell that writes to stderr."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield
