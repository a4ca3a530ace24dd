"""The check guard: a tripwire inside each grading kernel that keeps the checks pristine (never shown to students).

A tripwire, not a wall: README.md, "What is not guaranteed".
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import os
import pkgutil
import sys
import types

# The check packages, each module watched (``labcheck.core.check`` as ``labcheck.check``); the first is ``labcheck``.
from ganlab.exercises import CHECK_PACKAGES

# Names that change on their own: IPython's last results (_), ipykernel's input() per request, class bookkeeping.
IGNORED = {"_", "__", "___", "input", "raw_input", "get_ipython", "__dict__", "__weakref__", "__doc__"}


def watch(check_packages: tuple[str, ...], user_ns: dict | None = None):  # noqa: ANN201 (the verify function)
    """Record what the checks rely on; return ``verify()``, which puts back what was rebound and names it. The names
    ``labcheck``, ``torch`` and ``nn`` of ``user_ns`` (the notebook's) are put back too if rebound to another module."""
    import numpy
    import torch.nn.functional

    check_modules = {}  # every module of the check packages: each package and its submodules
    for package_name in check_packages:
        package = check_modules[package_name] = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            check_modules[info.name] = importlib.import_module(info.name)
    watched = {"builtins": builtins, "torch": torch, "torch.nn.functional": torch.nn.functional,
               "numpy": numpy, "torch.Tensor": torch.Tensor, "torch.nn.Module": torch.nn.Module}  # fmt: skip
    for name in dir(torch.nn):
        value = getattr(torch.nn, name)
        if isinstance(value, type) and issubclass(value, torch.nn.Module):
            watched["torch.nn." + name] = value
    codes = {}
    for module_name, module in check_modules.items():
        short = module_name.partition(".")[2] or module_name  # labcheck, labcheck.core, ...
        key = short if short not in watched else module_name
        watched[key] = module
        for name, value in list(vars(module).items()):
            if isinstance(value, type) and value.__module__ == module_name:
                watched[key + "." + name] = value
            # A function can keep its identity and change its body: record the code objects too.
            if isinstance(value, types.FunctionType) and value.__module__ == module_name:
                codes[key + "." + name] = (value, value.__code__, value.__defaults__, value.__kwdefaults__)
    names = {"builtins", "numpy", "torch", "torch.nn", "torch.nn.functional", *check_modules}
    names |= {name.rpartition(".")[0] for name in check_modules if "." in name}
    modules = {name: sys.modules[name] for name in names}
    attributes = {key: dict(vars(owner)) for key, owner in watched.items()}
    bindings = {"labcheck": check_modules[check_packages[0]], "torch": torch, "nn": torch.nn}
    setattr_ = builtins.setattr
    torch_dir = os.path.dirname(torch.__file__) + os.sep
    # Streams a student closed or replaced are put back, silently (redirecting is no cheat): later tests must print.
    streams = {name: (getattr(sys, name), getattr(getattr(sys, name), "pub_thread", None))
               for name in ("stdout", "stderr")}  # fmt: skip

    def own_wrapper(new: object, old: object) -> bool:
        # torch._dynamo, once imported, rebinds torch.manual_seed to a wrapper of it defined in torch.
        code = getattr(new, "__code__", None)
        return getattr(new, "__wrapped__", None) is old and code is not None and code.co_filename.startswith(torch_dir)

    def verify() -> list[str]:
        changed = []
        for name, (stream, thread) in streams.items():
            setattr_(sys, name, stream)
            if thread is not None and getattr(stream, "pub_thread", thread) is None:
                stream.pub_thread = thread  # ipykernel's OutStream.close() only drops its thread
        for name, module in modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
        for key, owner in watched.items():
            now = vars(owner)
            for name, value in attributes[key].items():
                if (name in now and now[name] is value) or name in IGNORED:
                    continue
                if name in now and own_wrapper(now[name], value):
                    attributes[key][name] = now[name]  # torch wrapped its own function (torch._dynamo does)
                    continue
                try:
                    setattr_(owner, name, value)
                except (AttributeError, TypeError):
                    continue
                changed.append(f"{key}.{name}")
        for name, (f, code, defaults, kwdefaults) in codes.items():
            if f.__code__ is not code or f.__defaults__ is not defaults or f.__kwdefaults__ is not kwdefaults:
                f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
                changed.append(f"the body of {name}")
        for module_name, module in check_modules.items():
            parent, _, child = module_name.rpartition(".")
            if parent and getattr(sys.modules[parent], child, module) is not module:
                setattr_(sys.modules[parent], child, module)
                changed.append(module_name)
        for name, value in bindings.items():
            if isinstance((user_ns or {}).get(name), types.ModuleType) and user_ns[name] is not value:
                user_ns[name] = value
                changed.append(f"the name {name}")
        return changed

    return verify


def setup_code(packages: tuple[str, ...] = CHECK_PACKAGES) -> str:
    """Kernel code, run before the student's first cell: this file's source (the sandbox hides the kit) as the module
    ``__ganlab_guard__``, watching the check ``packages`` (those the kernel can import)."""
    with open(__file__, encoding="utf-8") as handle:
        source = handle.read()
    return (
        "def __ganlab_guard(source, packages):\n"
        "    import sys, types\n"
        "    module = types.ModuleType('__ganlab_guard__')\n"
        "    exec(compile(source, module.__name__, 'exec'), vars(module))\n"
        "    module.verify = module.watch(packages, get_ipython().user_ns)\n"
        "    sys.modules[module.__name__] = module\n"
        f"__ganlab_guard({source!r}, {packages!r})\n"
        "del __ganlab_guard\n"
    )


# Sent as ``user_expressions``: its value comes back in the reply, where nothing a student prints can pass for it.
VERIFY = "__import__('json').dumps(__import__('sys').modules['__ganlab_guard__'].verify())"


def parse(result: dict | None) -> list[str] | None:
    """The names VERIFY reported as rebound, from the kernel's record of the expression (``{"status": "ok", "data":
    {"text/plain": ...}}``), or None when it did not answer (the guard itself was broken)."""
    if not result or result.get("status") != "ok":
        return None
    try:
        changed = json.loads(ast.literal_eval(result["data"]["text/plain"]))
    except (KeyError, TypeError, ValueError, SyntaxError):
        return None
    if not (isinstance(changed, list) and all(isinstance(name, str) for name in changed)):
        return None
    return changed


def message(changed: list[str]) -> str:
    """What the student reads in the failed test."""
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    return (
        f"your code replaced {shown}, which the checks use: grading puts the originals back, "
        "and this test gets no points. Do not rebind library or check functions in your answers"
    )
