"""Shared helpers of the checks: the failure message, "did you write it yourself?", isolating one
exercise from the others, and looking inside networks without assuming how they are written.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

_RED, _GREEN, _RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[0m"
REFERENCE_PACKAGE = "ganlab_solution"


def _warning_to_stdout(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stdout)


# nbgrader gives a test cell 0 points as soon as it writes anything to stderr, so a harmless
# warning raised by correct code (e.g. PyTorch's UserWarning on float(loss)) would cost the
# student the exercise. Once a notebook imports this module, warnings still show, on stdout.
warnings.showwarning = _warning_to_stdout


class CheckFailed(Exception):
    """A failed check: the message says what is wrong and what the lab expects.

    IPython shows ``_render_traceback_`` instead of a Python traceback, so a student
    (and the nbgrader feedback) sees one readable message, not the inside of this file.
    """

    def _render_traceback_(self) -> list[str]:
        return [
            f"{_RED}Check failed{_RESET}: {line}" if i == 0 else f"    {line}"
            for i, line in enumerate(str(self).splitlines())
        ]


def fail(message: str) -> None:
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
        raise  # unreachable, keeps type checkers quiet


def check_close(what: str, got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4, hint: str = "") -> None:
    """Fail unless ``got`` and ``expected`` have the same shape and close values."""
    got_t, exp_t = as_tensor(got, what), as_tensor(expected, "the reference")
    if got_t.shape != exp_t.shape:
        fail(f"{what} has shape {tuple(got_t.shape)}; the lab expects {tuple(exp_t.shape)}. {hint}".strip())
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
    """A private copy of a check's input (tensors, arrays, tuples and lists of them; anything else as is).

    Every call of a student's function gets its own copies, so an answer that works in place
    (``x.clamp_(...)``) neither changes what the check compares with nor loses points for it.
    """
    if torch.is_tensor(value):
        return value.detach().clone()
    if type(value).__module__ == "numpy" and hasattr(value, "copy"):
        return value.copy()
    if isinstance(value, (tuple, list)):
        return type(value)(fresh(v) for v in value)
    return value


def call(function: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` on private copies of the inputs; an exception becomes a check message.

    ``what`` names the call in the student's terms (``"to_display(x)"``).
    """
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


# ---------------------------------------------------------------------------
# "Did you write it yourself?"
# ---------------------------------------------------------------------------


# The reference objects that answer an exercise of the lab (or do its whole work under another
# name): using one of them is not the student's work. Every other helper of the package (the
# parameter counter, the data loaders, the plotting helpers) may be used freely.
ANSWERS: dict[str, tuple[str, ...]] = {
    "data": ("to_unit_range",),
    "generate": ("to_display", "line_latents", "plane_latents", "interpolate"),
    "models": (
        "CBlock",
        "GBlock",
        "Discriminator",
        "Generator",
        "GAN",
        "conv_bn_lrelu",
        "conv_bn_relu",
        "critic_output_size",
        "generator_start_size",
    ),
    "losses": (
        "smooth_targets",
        "_targets",
        "critic_loss",
        "generator_loss",
        "accuracy",
        "hinge_critic_loss",
        "score_generator_loss",
    ),
    "trainer": ("build_optimizers", "Trainer"),
    "export": ("export_generator", "OnnxGenerator", "_LatentToImage"),
}


def _reference_module(value: Any) -> str | None:
    """The reference submodule ``value`` is or comes from ("models", ...), None if it is not the reference's."""
    name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    if not isinstance(name, str) or name.split(".")[0] != REFERENCE_PACKAGE:
        return None
    return name.split(".")[1] if "." in name else ""


def _is_answer(value: Any) -> bool:
    """True if ``value`` is one of the reference's answers (not a module, not a mere helper)."""
    module = _reference_module(value)
    if module is None or isinstance(value, types.ModuleType):
        return False
    name = getattr(value, "__name__", None)
    if name is None:  # an instance (e.g. an OnnxGenerator object): judge its class
        name = type(value).__name__
    return name in ANSWERS.get(module, ())


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _functions_of(obj: Any) -> list[types.FunctionType]:
    """The plain functions that make up ``obj`` (a function, or the methods of a class)."""
    obj = inspect.unwrap(obj) if callable(obj) and not isinstance(obj, type) else obj
    if isinstance(obj, types.FunctionType):
        return [obj]
    if isinstance(obj, types.MethodType):
        return [obj.__func__]
    functions = []
    if isinstance(obj, type):
        for klass in obj.__mro__:
            if klass.__module__ in ("builtins",) or klass.__module__.startswith("torch"):
                continue
            for attr in vars(klass).values():
                if isinstance(attr, (staticmethod, classmethod)):
                    attr = attr.__func__
                if isinstance(attr, property):
                    attr = attr.fget
                if isinstance(attr, types.FunctionType):
                    functions.append(attr)
    return functions


def _signature(code: types.CodeType) -> tuple[Any, ...]:
    """What a code object uses, without where or how it was compiled.

    The raw bytecode is left out on purpose: the same source compiles to different
    instructions depending on the module around it, while names, variables and constants
    do not change.
    """
    consts = tuple(_signature(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return code.co_name, code.co_argcount, code.co_names, code.co_varnames, consts


_REFERENCE_CODE: dict[tuple[Any, ...], str] = {}


def _reference_code() -> dict[tuple[Any, ...], str]:
    """Every code object of the reference's answers, by signature (built once)."""
    if not _REFERENCE_CODE:
        import importlib

        for module_name, names in ANSWERS.items():
            module = importlib.import_module(f"{REFERENCE_PACKAGE}.{module_name}")
            for name in names:
                for function in _functions_of(getattr(module, name)):
                    for code in _code_objects(function.__code__):
                        _REFERENCE_CODE.setdefault(_signature(code), f"{module_name}.{name}")
    return _REFERENCE_CODE


def _copied_reference(code: types.CodeType) -> str | None:
    """The reference answer ``code`` was compiled from, when it was read from the package's source files.

    Code typed in a notebook cell is compiled from the cell's own file; code handed to ``exec``
    or ``compile`` carries ``"<string>"`` (or the file name it was given). Only such code is
    compared, so an answer that happens to read like the reference's is never refused.
    """
    filename = code.co_filename
    package_dir = __file__.rsplit("/labcheck/", 1)[0]
    if filename.startswith(package_dir) and "/labcheck/" not in filename:
        return filename.rsplit("/", 1)[-1]
    if filename.startswith("<") and not filename.startswith("<ipython"):
        return _reference_code().get(_signature(code))
    return None


def reference_uses(obj: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    """The reference answers ``obj`` is, subclasses, calls or was copied from, except ``allowed`` names.

    Looks at the object itself, its base classes, every global name or import its code uses,
    and where its code was compiled from. Names listed in ``allowed`` (the pieces the notebook
    gives you, or your own answers to earlier exercises) are fine, and so is every package
    helper that is not itself an exercise's answer.
    """
    if obj is None:
        return []
    found: list[str] = []
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__))
    if _is_answer(obj):
        return [f"{getattr(obj, '__module__', REFERENCE_PACKAGE)}.{name}"]
    if isinstance(obj, type):
        found += [f"{base.__module__}.{base.__qualname__}" for base in obj.__mro__[1:] if _is_answer(base)]
    for function in _functions_of(obj):
        for code in _code_objects(function.__code__):
            copied = _copied_reference(code)
            if copied and f"the package's code of {copied}" not in found:
                found.append(f"the package's code of {copied}")
            for used in code.co_names:
                if used in allowed:
                    continue
                value = function.__globals__.get(used)
                if isinstance(value, types.ModuleType) and _reference_module(value) is not None:
                    # a module of the package: refused only when the code also names one of its answers
                    module = _reference_module(value) or ""
                    answers = set(ANSWERS.get(module, ())) | {a for names in ANSWERS.values() for a in names}
                    hits = [n for n in code.co_names if n in answers]
                    label = f"{used}.{hits[0]}" if hits else ""
                    if hits and label not in found:
                        found.append(label)
                elif value is not None and _is_answer(value) and used not in found:
                    found.append(used)
            # an import inside the function: `from ganlab_solution.losses import critic_loss`
            if any(n.split(".")[0] == REFERENCE_PACKAGE for n in code.co_names):
                answers = {a for names in ANSWERS.values() for a in names}
                for used in code.co_names:
                    if used in answers and used not in allowed and used not in found:
                        found.append(used)
    return found


def own_work(obj: Any, exercise: str, allowed: tuple[str, ...] = ()) -> None:
    """Fail (the exercise gets no points) if ``obj`` is, uses or copies the reference answer."""
    uses = reference_uses(obj, allowed)
    if uses:
        fail(
            f"{exercise} uses {', '.join(f'`{u}`' for u in uses)} from the reference package "
            f"`{REFERENCE_PACKAGE}` instead of your own code, so this exercise gets no points. "
            "Write it yourself in the answer cell (the notebook only lets you import what it imports for you; "
            "reading the package's source and running it with exec counts as importing it)."
        )


# ---------------------------------------------------------------------------
# Isolating one exercise from the others
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def swapped(namespace: dict[str, Any], **replacements: Any) -> Iterator[None]:
    """Temporarily replace names of the notebook (e.g. your ``CBlock`` by the reference one).

    Grading an exercise with the reference versions of the pieces it builds on means a
    mistake in one exercise costs the points of that exercise only, even when the piece
    is missing altogether (a cell that did not run). Everything is put back afterwards.
    """
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


def build(factory: Callable[[], Any], namespace: dict[str, Any], **replacements: Any) -> Any:
    """``factory()`` with ``replacements`` swapped in; falls back to your own pieces if that fails."""
    try:
        with swapped(namespace, **replacements):
            return factory()
    except Exception:  # your code may call the pieces differently: then use them as they are
        return factory()


# ---------------------------------------------------------------------------
# Looking inside networks without assuming how they are written
# ---------------------------------------------------------------------------


def execution_order(module: nn.Module, *inputs: Any, **kwargs: Any) -> list[nn.Module]:
    """The leaf modules of ``module`` in the order a forward pass calls them.

    Works the same for ``nn.Sequential`` and for explicit attributes called in ``forward``.
    """
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
    count = 0
    for current, following in zip(order, order[1:]):
        conv = isinstance(current, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
        if conv and isinstance(following, (nn.BatchNorm1d, nn.BatchNorm2d)) and current.bias is not None:
            count += 1
    return count


def _state_in_order(order: list[nn.Module]) -> list[torch.Tensor]:
    seen: set[int] = set()
    tensors: list[torch.Tensor] = []
    for module in order:
        if id(module) in seen:
            continue
        seen.add(id(module))
        tensors += list(module.parameters(recurse=False)) + [
            b for b in module.buffers(recurse=False) if b.dtype.is_floating_point
        ]
    return tensors


def copy_weights(source: nn.Module, target: nn.Module, *inputs: Any) -> bool:
    """Copy ``source``'s weights into ``target`` layer by layer, in forward order.

    Returns False (and copies nothing) when the two networks do not have the same
    layers with the same shapes in the same order: then only shapes and statistics
    can be compared, not values.
    """
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


def randomize_batchnorm(module: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial statistics, so eval-mode comparisons mean something."""
    gen = torch.Generator().manual_seed(seed)
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


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Exact equality of two tensors."""
    return a.shape == b.shape and bool(torch.equal(a, b))


def params_snapshot(module: nn.Module) -> list[torch.Tensor]:
    """A detached copy of every parameter (to see which ones a step changed)."""
    return [p.detach().clone() for p in module.parameters()]


def changed(before: list[torch.Tensor], module: nn.Module) -> bool:
    """True if any parameter of ``module`` differs from ``before``."""
    return any(not torch.equal(b, p.detach()) for b, p in zip(before, module.parameters()))


def largest_change(before: list[torch.Tensor], module: nn.Module) -> float:
    """The largest absolute change of any parameter of ``module`` since ``before``."""
    return max((p.detach() - b).abs().max().item() for b, p in zip(before, module.parameters()))


def nonzero_grads(module: nn.Module) -> bool:
    """True if a gradient reached any parameter of ``module``."""
    return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())


def approx(value: float, digits: int = 4) -> str:
    """A short rendering of a number for messages."""
    return "NaN (not a number)" if math.isnan(value) else f"{value:.{digits}g}"


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


def first_layer_input(module: nn.Module, *inputs: Any, layer: str | None = None) -> torch.Tensor | None:
    """What the first layer of ``module`` (or the one named ``layer``) receives for ``inputs``.

    The rest of the forward pass is skipped, so large inputs cost little.
    """
    layer = layer if layer is not None else first_layer_name(module, *inputs)
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


def conv_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output width of a convolution (stands in for the student's exercise 2.1 when grading 2.3)."""
    return (size + 2 * padding - kernel_size) // stride + 1


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Swallow what student code prints while a test runs it (e.g. the ONNX exporter's progress).

    nbgrader zeroes a test cell that writes to stderr, and chatter would bury the check's message.
    """
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield
