"""Checks used by the test cells of the ganlab notebooks.

Every check explains, in the lab's own terms, what is wrong: "your critic returns (64, 1);
the lab's critic has two logits: (64, 2)" rather than a bare ``AssertionError``. It
contains no answer to any exercise: the hidden tests compare a student's objects with
the rest of this package.

It lives in the installed package, not next to the notebooks, so that a submission
cannot bring its own, more lenient copy to the autograder.
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

from .models import count_parameters

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
    if not torch.allclose(got_t, exp_t, atol=atol, rtol=rtol):
        worst = (got_t - exp_t).abs().max().item()
        if got_t.numel() == 1:
            fail(f"{what} is {got_t.item():.6g}; the lab's value is {exp_t.item():.6g}. {hint}".strip())
        fail(f"{what} differs from the lab's values by up to {worst:.3g}. {hint}".strip())


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


def _from_reference(value: Any) -> bool:
    if isinstance(value, types.ModuleType):
        return value.__name__.split(".")[0] == REFERENCE_PACKAGE
    module = getattr(value, "__module__", None)
    return isinstance(module, str) and module.split(".")[0] == REFERENCE_PACKAGE


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


def reference_uses(obj: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    """Names through which ``obj`` reaches into the reference package, except ``allowed`` ones.

    Looks at the object itself, its base classes, and every global name or import its
    code uses. Names listed in ``allowed`` (imports the notebook gives you) are fine.
    """
    if obj is None:
        return []
    found: list[str] = []
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__))
    if _from_reference(obj):
        found.append(f"{getattr(obj, '__module__', REFERENCE_PACKAGE)}.{name}")
        return found
    if isinstance(obj, type):
        found += [f"{base.__module__}.{base.__qualname__}" for base in obj.__mro__[1:] if _from_reference(base)]
    for function in _functions_of(obj):
        for code in _code_objects(function.__code__):
            for used in code.co_names:
                if used.split(".")[0] == REFERENCE_PACKAGE and used not in found:
                    found.append(used)  # an import inside the function
                elif used in function.__globals__ and used not in allowed:
                    value = function.__globals__[used]
                    if _from_reference(value) and used not in found:
                        found.append(used)
    return found


def own_work(obj: Any, exercise: str, allowed: tuple[str, ...] = ()) -> None:
    """Fail (the exercise gets no points) if ``obj`` is or uses the reference answer."""
    uses = reference_uses(obj, allowed)
    if uses:
        fail(
            f"{exercise} uses {', '.join(f'`{u}`' for u in uses)} from the reference package "
            f"`{REFERENCE_PACKAGE}` instead of your own code, so this exercise gets no points. "
            "Write it yourself in the answer cell (the notebook only lets you import what it imports for you)."
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
    return "nan" if math.isnan(value) else f"{value:.{digits}g}"


# ---------------------------------------------------------------------------
# Network checks shared by the hidden tests of notebooks 2 and 3
# ---------------------------------------------------------------------------


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
) -> None:
    """With the reference's weights copied in, ``module`` must compute what the reference computes (eval mode).

    Skipped (no penalty) when the two networks are laid out too differently to copy weights.
    ``variants()`` builds (message, network) pairs of known mistakes with the same weights layout,
    only when the output differs: if the student's output matches one, its message says what is wrong.
    """
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
        got, expected = _run(module, what, *inputs), reference(*inputs)
    worst = (as_tensor(got, what) - expected).abs().max().item()
    if worst >= 1e-4:
        for message, variant in variants() if variants else []:
            if copy_weights(reference, variant, *inputs):
                with torch.no_grad():
                    if (as_tensor(got, what) - variant.eval()(*inputs)).abs().max().item() < 1e-4:
                        fail(f"{what}: {message}")
    check(
        worst < 1e-4, f"with the lab's weights copied into {what}, its output differs by up to {approx(worst)}: {hint}"
    )


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


def check_block(
    student_cls: type,
    reference_cls: type,
    name: str,
    arg_list: list[tuple[Any, ...]],
    sizes: list[int],
    hint: str,
    variants: Callable[..., list[tuple[str, nn.Module]]] | None = None,
) -> None:
    """Hidden checks of a block class (``CBlock`` or ``GBlock``) against the reference block.

    ``variants(*args)`` builds known wrong blocks, to name the mistake when the values differ.
    """
    for args in arg_list:
        cin, cout = args[0], args[1]
        for size in sizes:
            torch.manual_seed(0)
            block = _construct(lambda args=args: student_cls(*args), f"{name}{args}")
            reference = reference_cls(*args)
            x = torch.randn(4, cin, size, size)
            with torch.no_grad():
                expected = reference(x).shape
                got = _run(block, f"{name}{args}", x)
            check_shape(f"{name}{args} on a {tuple(x.shape)} batch", got, tuple(expected))
            check_structure(block, reference, f"{name}{args}", x)
            compare_with_reference(
                block,
                reference,
                f"{name}{args}",
                hint,
                x,
                variants=(lambda args=args: variants(*args)) if variants else None,
            )
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
                same_values(a, b) and bool(a.abs().sum() > 0),
                f"{name} in eval mode must not drop anything: use an nn.Dropout module (model.eval() switches it off)",
            )


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


# ---------------------------------------------------------------------------
# Notebook 4: the GAN, the losses, the optimizers and the two steps
# ---------------------------------------------------------------------------


def check_gan_forward(student_cls: type) -> None:
    """Hidden checks of ``GAN.forward``: both modes, the logits are the critic's on the returned images."""
    for img_shape in ((1, 28, 28), (3, 32, 32)):
        torch.manual_seed(0)
        gan = _construct(lambda img_shape=img_shape: student_cls(img_shape, 0.0, 8, 0.0, 2, 16, 32), f"GAN{img_shape}")
        gan.eval()
        real = torch.rand(5, *img_shape) * 2 - 1
        with torch.no_grad():
            result = _run(gan, "gan(X, None)", real, None)
            check(
                isinstance(result, (tuple, list)) and len(result) == 2,
                "gan(X, None) must return the pair (logits, images)",
            )
            logits, images = result
            check_shape("the logits of gan(X, None) for 5 real images", logits, (5, 2))
            check(
                torch.is_tensor(images) and same_values(images, real),
                "gan(X, None) must return the real images X themselves as its second output",
            )
            check_close(
                "the logits of gan(X, None)", logits, gan.discriminator(real), hint="they are the critic's logits on X"
            )
            result = _run(gan, "gan(None, 7)", None, 7)
            check(
                isinstance(result, (tuple, list)) and len(result) == 2,
                "gan(None, 7) must return the pair (logits, images)",
            )
            logits, images = result
            check_shape(
                "the images of gan(None, 7)",
                images,
                (7, *img_shape),
                hint="generate batch_size images with the generator",
            )
            check_shape("the logits of gan(None, 7)", logits, (7, 2))
            check_close(
                "the logits of gan(None, 7)",
                logits,
                gan.discriminator(images),
                hint="they must be the critic's logits on the very images you return",
            )


def check_smooth_targets(student: Callable[..., Any]) -> None:
    """Hidden checks of ``smooth_targets``: shape, one-hot without smoothing, one draw per sample."""
    labels = torch.tensor([0, 1, 1, 0, 2])
    hard = as_tensor(student(labels, 3, 0.0), "smooth_targets(labels, 3, 0.0)")
    check_close("smooth_targets([0, 1, 1, 0, 2], 3, 0.0)", hard, torch.nn.functional.one_hot(labels, 3).float())
    torch.manual_seed(0)
    n, amount = 4000, 0.3
    labels = torch.randint(0, 2, (n,))
    targets = student(labels, 2, amount)
    check(torch.is_tensor(targets) and targets.is_floating_point(), "smooth_targets must return a float tensor")
    check_shape(f"smooth_targets(labels of shape ({n},), 2, {amount})", targets, (n, 2))
    rows = torch.arange(n)
    true = targets[rows, labels]
    other = targets[rows, 1 - labels]
    check(bool((other == 0).all()), "only the true class's entry may be smoothed: the other entries stay 0")
    check(
        bool((true >= 1 - amount - 1e-6).all()) and bool((true <= 1 + 1e-6).all()),
        f"with lblsmooth={amount} the true-class entries must lie in [{1 - amount:.1f}, 1]; yours range over "
        f"[{approx(true.min().item())}, {approx(true.max().item())}]",
    )
    check(
        true.unique().numel() > n // 2,
        "every target row must get its own random draw (torch.rand of shape (B,)), not one value for the whole batch",
    )
    check(
        abs(true.mean().item() - (1 - amount / 2)) < 0.02,
        f"the true-class entries should be 1 - u with u uniform in [0, lblsmooth]: their mean is "
        f"{approx(true.mean().item())}, expected about {1 - amount / 2:.2f}",
    )


def _loss_value(student: Callable[..., Any], what: str, *args: Any) -> torch.Tensor:
    loss = student(*args)
    check(
        torch.is_tensor(loss), f"{what} must return a tensor (so that .backward() works), got a {type(loss).__name__}"
    )
    check(
        loss.dim() == 0,
        f"{what} must return one number (a 0-d tensor), got shape {tuple(loss.shape)}: average over the batch",
    )
    return loss


def loss_hint(got: float, expected: float) -> str:
    """A guess at why a loss value differs from the lab's."""
    if abs(got - 2 * expected) < 1e-3 * max(1.0, abs(expected)):
        return "it is twice the lab's value: the critic loss is the MEAN of the real and fake terms, (real + fake) / 2"
    if abs(got - expected / 2) < 1e-3 * max(1.0, abs(expected)):
        return "it is half the lab's value: check that you average the BCE over the batch, not twice"
    return (
        "use BCE with logits (F.binary_cross_entropy_with_logits or nn.BCEWithLogitsLoss) against one-hot targets: "
        "class 1 ('real') for real images, class 0 ('fake') for generated ones"
    )


def check_critic_loss(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``critic_loss`` against the reference, without and with label smoothing."""
    torch.manual_seed(1)
    for nreal, nfake in ((6, 6), (1, 1), (32, 32)):
        real, fake = 2 * torch.randn(nreal, 2), 2 * torch.randn(nfake, 2)
        got = _loss_value(student, "critic_loss", real, fake, 0.0)
        expected = reference(real, fake, 0.0)
        check(
            abs(got.item() - expected.item()) < 1e-4,
            f"critic_loss on {nreal} real and {nfake} fake logit pairs (no smoothing) is {approx(got.item())}; the lab's "
            f"is {approx(expected.item())}: {loss_hint(got.item(), expected.item())}",
        )
    real = torch.randn(4, 2, requires_grad=True)
    fake = torch.randn(4, 2, requires_grad=True)
    student(real, fake, 0.0).backward()
    check(
        real.grad is not None
        and fake.grad is not None
        and bool(real.grad.abs().sum() > 0)
        and bool(fake.grad.abs().sum() > 0),
        "no gradient flows from your critic_loss back to both logit batches: compute it with torch operations, "
        "without .item(), .detach() or numpy",
    )
    # Smoothing is random: compare the average over many draws with the expected value.
    real, fake = 2 * torch.randn(64, 2), 2 * torch.randn(64, 2)
    amount = 0.4
    mean = torch.stack([student(real, fake, amount).detach() for _ in range(300)]).mean().item()
    expected = torch.stack([reference(real, fake, amount) for _ in range(300)]).mean().item()
    check(
        abs(mean - expected) < 0.01,
        f"with lblsmooth={amount} your critic_loss averages {approx(mean)} over many calls; the lab's averages "
        f"{approx(expected)}: smooth the targets of both terms with smooth_targets(labels, 2, lblsmooth)",
    )


def check_generator_loss(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``generator_loss`` against the reference."""
    torch.manual_seed(2)
    for n in (1, 5, 64):
        fake = 2 * torch.randn(n, 2)
        got = _loss_value(student, "generator_loss", fake)
        expected = reference(fake)
        check(
            abs(got.item() - expected.item()) < 1e-4,
            f"generator_loss on {n} fake logit pairs is {approx(got.item())}; the lab's is {approx(expected.item())}: "
            "the generator wants its images classified 'real', so use hard one-hot targets of class 1, (0, 1), "
            "and no label smoothing",
        )
    fake = torch.randn(4, 2, requires_grad=True)
    student(fake).backward()
    check(
        fake.grad is not None and bool(fake.grad.abs().sum() > 0),
        "no gradient flows from your generator_loss back to the logits",
    )


def _param_ids(params: Any) -> set[int]:
    return {id(p) for p in params}


def check_optimizers(student: Callable[..., Any]) -> None:
    """Hidden checks of ``make_optimizers``: types, betas, learning rate, weight decay, who owns which parameters."""
    from ganlab_solution.models import GAN

    gan = GAN((1, 28, 28), discriminator_base_c=8, generator_base_c=32)
    critic_ids, generator_ids = _param_ids(gan.discriminator.parameters()), _param_ids(gan.generator.parameters())
    for lr, wdecay in ((2e-4, 0.0), (1e-3, 0.01)):
        result = student(gan, lr, wdecay)
        check(
            isinstance(result, (tuple, list)) and len(result) == 2,
            "make_optimizers must return (critic_optimizer, generator_optimizer)",
        )
        for optimizer, name, ids, other in (
            (result[0], "critic", critic_ids, generator_ids),
            (result[1], "generator", generator_ids, critic_ids),
        ):
            check(
                isinstance(optimizer, torch.optim.Optimizer),
                f"the {name} optimizer is a {type(optimizer).__name__}, not a torch optimizer",
            )
            owned = set().union(*(_param_ids(group["params"]) for group in optimizer.param_groups))
            check(
                not (owned & other),
                f"the {name} optimizer also holds the other network's parameters: give it gan.{'discriminator' if name == 'critic' else 'generator'}.parameters() only",
            )
            check(owned == ids, f"the {name} optimizer must hold all the {name}'s parameters and only them")
            for group in optimizer.param_groups:
                check(
                    tuple(group.get("betas", ())) == (0.5, 0.999),
                    f"the {name} optimizer uses betas {group.get('betas')}; the lab uses (0.5, 0.999)",
                )
                check(
                    abs(group["lr"] - lr) < 1e-12,
                    f"the {name} optimizer's learning rate is {group['lr']}, not base_lr={lr}",
                )
        critic_opt, generator_opt = result
        if wdecay > 0:
            check(
                isinstance(critic_opt, torch.optim.AdamW)
                and all(abs(g["weight_decay"] - wdecay) < 1e-12 for g in critic_opt.param_groups),
                f"with wdecay={wdecay} the critic's optimizer must be torch.optim.AdamW(..., weight_decay=wdecay)",
            )
        else:
            check(
                type(critic_opt) is torch.optim.Adam,
                f"with wdecay=0 the critic's optimizer must be torch.optim.Adam, got {type(critic_opt).__name__}",
            )
        check(
            type(generator_opt) is torch.optim.Adam and all(g["weight_decay"] == 0 for g in generator_opt.param_groups),
            "the generator's optimizer must be torch.optim.Adam without weight decay",
        )


def _small_gan(gan_cls: type) -> nn.Module:
    torch.manual_seed(0)
    # No dropout and no instance noise: the steps' only randomness is then the latent draw.
    return gan_cls((1, 28, 28), dropout=0.0, discriminator_base_c=8, dnoise=0.0, generator_base_c=32, latent_size=16)


def _fill_grads(module: nn.Module, value: float) -> None:
    for p in module.parameters():
        p.grad = torch.full_like(p, value)


def check_critic_step(student: Callable[..., Any], gan_cls: type, loss: Callable[..., Any]) -> None:
    """Hidden checks of ``critic_step``: zero_grad, no gradient into the generator, a step that lowers the loss."""
    gan = _small_gan(gan_cls)
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    critic_before = params_snapshot(gan.discriminator)
    generator_before = params_snapshot(gan.generator)
    # Stale gradients of 1000 left on the critic: with zero_grad they are gone before backward.
    _fill_grads(gan.discriminator, 1000.0)
    for p in gan.generator.parameters():
        p.grad = None
    optimizer = torch.optim.SGD(gan.discriminator.parameters(), lr=1.0)
    value = student(gan, optimizer, real, 0.0)
    check(
        isinstance(value, float),
        f"critic_step must return the loss as a Python float (loss.item()), got a {type(value).__name__}",
    )
    check(
        changed(critic_before, gan.discriminator),
        "critic_step did not change the critic: call loss.backward() then optimizer.step()",
    )
    moved = largest_change(critic_before, gan.discriminator)
    check(
        moved < 100,
        "critic_step kept the gradients of earlier steps: call optimizer.zero_grad() before loss.backward() "
        "(PyTorch adds new gradients to the old ones)",
    )
    check(
        not changed(generator_before, gan.generator),
        "critic_step changed the generator: step the critic's optimizer only",
    )
    check(
        not nonzero_grads(gan.generator),
        "gradients reached the generator during the critic step: generate the fakes under torch.no_grad() "
        "(or .detach() them) before the critic scores them",
    )
    # The step must go down the critic's loss: on fixed real and fake batches, the loss falls.
    gan = _small_gan(gan_cls)
    with torch.no_grad():
        fakes = gan.generator(torch.randn(32, 16)).clone()
        before = loss(gan.discriminator(real), gan.discriminator(fakes), 0.0).item()
    optimizer = torch.optim.SGD(gan.discriminator.parameters(), lr=0.05)
    for _ in range(3):
        student(gan, optimizer, real, 0.0)
    with torch.no_grad():
        after = loss(gan.discriminator(real), gan.discriminator(fakes), 0.0).item()
    check(
        after < before,
        f"three critic steps raised the critic's loss from {approx(before)} to {approx(after)}: the critic must "
        "minimise critic_loss(real logits, fake logits) (real images labelled real, fakes labelled fake)",
    )


def check_generator_step(student: Callable[..., Any], gan_cls: type, loss: Callable[..., Any]) -> None:
    """Hidden checks of ``generator_step``: zero_grad, the critic untouched, a step that fools the critic more."""
    gan = _small_gan(gan_cls)
    critic_before = params_snapshot(gan.discriminator)
    generator_before = params_snapshot(gan.generator)
    _fill_grads(gan.generator, 1000.0)
    optimizer = torch.optim.SGD(gan.generator.parameters(), lr=1.0)
    value = student(gan, optimizer, 32)
    check(
        isinstance(value, float),
        f"generator_step must return the loss as a Python float (loss.item()), got a {type(value).__name__}",
    )
    check(
        changed(generator_before, gan.generator),
        "generator_step did not change the generator: score gan(None, batch_size) without detaching the images, "
        "then loss.backward() and optimizer.step()",
    )
    moved = largest_change(generator_before, gan.generator)
    check(
        moved < 100,
        "generator_step kept the gradients of earlier steps: call optimizer.zero_grad() before loss.backward()",
    )
    check(
        not changed(critic_before, gan.discriminator),
        "generator_step changed the critic's weights: step the generator's optimizer only",
    )
    # The step must go down the generator's loss: the critic finds the same latents more real afterwards.
    gan = _small_gan(gan_cls)
    with torch.no_grad():  # a critic with an opinion: DCGAN's N(0, 0.02) start gives logits near 0 for everything
        for p in gan.discriminator.parameters():
            if p.ndim > 1:
                p.normal_(0, 0.1)
    z = torch.randn(256, 16)
    with torch.no_grad():
        before = loss(gan.discriminator(gan.generator(z))).item()
    optimizer = torch.optim.SGD(gan.generator.parameters(), lr=0.05)
    for _ in range(3):
        student(gan, optimizer, 64)
    with torch.no_grad():
        after = loss(gan.discriminator(gan.generator(z))).item()
    check(
        after < before,
        f"three generator steps raised the generator's loss from {approx(before)} to {approx(after)}: the generator "
        "must minimise generator_loss on the critic's logits of its images (targets 'real')",
    )


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


# ---------------------------------------------------------------------------
# Notebooks 5 to 7
# ---------------------------------------------------------------------------


def check_accuracy(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``critic_accuracy`` against the reference on random logits."""
    torch.manual_seed(3)
    for n in (1, 7, 100):
        logits = torch.randn(n, 2)
        for cls in (0, 1):
            got = float(as_tensor(student(logits, cls), "critic_accuracy").reshape(-1)[0])
            expected = reference(logits, cls).item()
            check(
                abs(got - expected) < 1e-6,
                f"critic_accuracy on {n} logit pairs for class {cls} is {approx(got)}; the lab's is {approx(expected)}: "
                "the fraction (between 0 and 1) of rows whose larger logit is in column cls, logits.argmax(dim=1) == cls",
            )


def check_export(student: Callable[..., Any], generator_cls: type, folder: str) -> None:
    """Hidden checks of ``export_generator``: names, dynamic batch, eval-mode values, mode restored."""
    import os

    import numpy as np
    import onnxruntime as ort

    torch.manual_seed(4)
    generator = generator_cls((1, 28, 28), 16, 32)
    randomize_batchnorm(generator)
    path = os.path.join(folder, "hidden_test_generator.onnx")
    for training in (True, False):
        generator.train(training)
        with quietly():
            try:
                student(generator, path)
            except Exception as error:  # the export itself failed: say how
                fail(f"export_generator fails: {type(error).__name__}: {str(error)[:300]}")
        check(
            generator.training == training,
            f"export_generator left the generator in {'eval' if training else 'training'} mode: put back the mode it had (generator.train(was_training))",
        )
    check(os.path.isfile(path), f"export_generator did not write {path}")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
    check(
        names == (["input"], ["output"]),
        f"the ONNX file's input and output are named {names}; the lab names them ['input'] and ['output'] (input_names=, output_names=)",
    )
    generator.eval()
    for batch in (1, 5):
        z = torch.randn(batch, 16)
        try:
            got = session.run(None, {"input": z.numpy()})[0]
        except Exception as error:  # onnxruntime refuses the batch size
            fail(
                f"the exported generator cannot take a batch of {batch} ({type(error).__name__}): make the batch axis dynamic "
                "(dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})"
            )
        with torch.no_grad():
            expected = generator(z, None).numpy()
        worst = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
        check(
            worst < 1e-4,
            f"for a batch of {batch} the ONNX generator differs from the PyTorch one in eval mode by up to {approx(worst)}: "
            "export in eval mode (generator.eval() before torch.onnx.export), so BatchNorm uses its running statistics",
        )
