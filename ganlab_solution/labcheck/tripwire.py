"""The tripwire of the hidden tests: an answer must not be, call or copy the reference package's answer.

Students never hold ``ganlab_solution``, but the grading kernel can import it (or read and ``exec`` its source).
:func:`own_work` catches an answer that *is* a reference object, subclasses one, names one in its code (directly
or through a module of the package), or was compiled from the package's files or read from them and run with
``exec`` or ``compile`` under any file name (same names, variables and constants as a reference answer). Code typed in
a cell (compiling the text of a cell the kernel ran gives it) is never compared: two honest answers may read alike.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Iterator
from typing import Any

from ganlab.answers import reference_answer
from ganlab.exercises import EXERCISES, REFERENCE_PACKAGE
from ganlab.labcheck.core import fail

# Every answer name of the lab, and the reference helpers that do an answer's whole work under
# another name: using one of them is not the student's work. Every other helper may be used.
ANSWER_NAMES: frozenset[str] = frozenset(
    {name for exercise in EXERCISES for name in exercise.names}
    | {"OnnxGenerator", "generate", "interpolate", "generate_in_batches", "sample_model"}
)


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
    return name in ANSWER_NAMES


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
    """What a code object uses (names, variables, constants), not its bytecode: that depends on the module around
    the same source."""
    consts = tuple(_signature(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return code.co_name, code.co_argcount, code.co_names, code.co_varnames, consts


@functools.cache
def _reference_code() -> dict[tuple[Any, ...], str]:
    """Every code object of the reference's answers, by signature (built once)."""
    found: dict[tuple[Any, ...], str] = {}
    for name in sorted({n for exercise in EXERCISES for n in exercise.names}):
        for function in _functions_of(reference_answer(name)):
            for code in _code_objects(function.__code__):
                found.setdefault(_signature(code), name)
    return found


_TYPED: dict[str, set[tuple[Any, ...]]] = {}  # a cell's text -> the signatures of the code compiled from it


def _typed_in_cells() -> set[tuple[Any, ...]]:
    """The signatures of every code object that compiling the text of a cell this kernel ran gives (the kernel's
    input history; none outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return set()
    shell = get_ipython()
    if shell is None:
        return set()
    typed: set[tuple[Any, ...]] = set()
    for text in shell.history_manager.input_hist_parsed:
        if text not in _TYPED:
            try:
                _TYPED[text] = {_signature(c) for c in _code_objects(compile(text, "<cell>", "exec"))}
            except (SyntaxError, ValueError):  # top-level await, a null byte: no function of it is compared
                _TYPED[text] = set()
        typed |= _TYPED[text]
    return typed


def _copied_reference(code: types.CodeType) -> str | None:
    """The reference answer ``code`` was copied from: compiled from the package's files, or with a reference answer's
    names, variables and constants and not from the text of a cell the kernel ran (see the module's docstring)."""
    filename = code.co_filename
    package_dir = __file__.rsplit("/labcheck/", 1)[0]
    if filename.startswith(package_dir) and "/labcheck/" not in filename:
        return filename.rsplit("/", 1)[-1]
    signature = _signature(code)
    copied = _reference_code().get(signature)
    return copied if copied is not None and signature not in _typed_in_cells() else None


def reference_uses(obj: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    """The reference answers ``obj`` is, subclasses, calls (global names or imports) or was copied from, except the
    ``allowed`` names (pieces the notebook gives); package helpers that are not an answer are fine."""
    if obj is None:
        return []
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__))
    if _is_answer(obj):
        return [f"{getattr(obj, '__module__', REFERENCE_PACKAGE)}.{name}"]
    found: dict[str, None] = {}  # in order, each once
    if isinstance(obj, type):
        found.update((f"{base.__module__}.{base.__qualname__}", None) for base in obj.__mro__[1:] if _is_answer(base))
    for function in _functions_of(obj):
        for code in _code_objects(function.__code__):
            copied = _copied_reference(code)
            if copied:
                found[f"the package's code of {copied}"] = None
            for used in code.co_names:
                if used in allowed:
                    continue
                value = function.__globals__.get(used)
                if isinstance(value, types.ModuleType) and _reference_module(value) is not None:
                    # a module of the package: refused only when the code also names one of its answers
                    hits = [n for n in code.co_names if n in ANSWER_NAMES]
                    if hits:
                        found[f"{used}.{hits[0]}"] = None
                elif value is not None and _is_answer(value):
                    found[used] = None
            # an import inside the function: `from ganlab_solution.losses import critic_loss`
            if any(n.split(".")[0] == REFERENCE_PACKAGE for n in code.co_names):
                found.update((used, None) for used in code.co_names if used in ANSWER_NAMES and used not in allowed)
    return list(found)


def own_work(obj: Any, exercise: str, allowed: tuple[str, ...] = ()) -> None:
    """Fail (the exercise gets no points) if ``obj`` is, uses or copies the reference answer."""
    uses = reference_uses(obj, allowed)
    if uses:
        fail(
            f"{exercise} uses {', '.join(f'`{u}`' for u in uses)} from the reference package "
            f"`{REFERENCE_PACKAGE}` instead of your own code, so this exercise gets no points. "
            "Write it yourself in the answer cell (the notebook only lets you import what it imports for you)."
        )
