"""Code run inside each grading kernel (never shown to students) that keeps the checks pristine.

``SETUP`` runs before the student's first cell: it imports the modules the checks rely on
and records the identity of every function and method in them (every module of the check
packages ``CHECK_PACKAGES``, ``torch``, ``torch.nn.functional``, ``torch.Tensor``, every
``torch.nn`` layer class, ``numpy`` and the builtins). ``VERIFY`` runs before and after each
graded test cell, as an expression of a request of its own: it puts back anything the student
rebound and returns which names those were, in the kernel's reply (not on stdout), so the
grader can fail that test with a message naming them.

This is a tripwire, not a sandbox: student code runs in the same process and a student who
reads this file can find and disable the record (see the instructor guide).
"""

from __future__ import annotations

import ast
import json

# The packages of checks the test cells call: every module in them is watched (the package and
# each submodule: a student who rebinds ``labcheck.core.check`` is caught as one who rebinds
# ``labcheck.check``). The first is what the notebooks call ``labcheck``: the student package's
# visible checks; the second the hidden ones of the reference package.
CHECK_PACKAGES = ("ganlab.labcheck", "ganlab_solution.labcheck")

SETUP = r"""
def __ganlab_guard_setup(check_packages):
    import builtins, importlib, os, pkgutil, sys, types
    import numpy, torch, torch.nn, torch.nn.functional

    check_modules = {}
    for package_name in check_packages:
        package = importlib.import_module(package_name)
        check_modules[package_name] = package
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            check_modules[info.name] = importlib.import_module(info.name)
    labcheck = check_modules[check_packages[0]]
    watched = {"builtins": builtins, "torch": torch, "torch.nn.functional": torch.nn.functional,
               "numpy": numpy, "torch.Tensor": torch.Tensor, "torch.nn.Module": torch.nn.Module}
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
    bindings = {"labcheck": labcheck, "torch": torch, "nn": torch.nn}
    # Names that change on their own: IPython's last results (builtins._), the input() ipykernel
    # rebinds for each request, class bookkeeping.
    ignored = {"_", "__", "___", "input", "raw_input", "get_ipython", "__dict__", "__weakref__", "__doc__"}
    setattr_ = builtins.setattr
    delattr_ = builtins.delattr

    torch_dir = os.path.dirname(torch.__file__) + os.sep
    # The kernel's output streams: a student who closes or replaces them must not make the
    # next test's messages fail to print. Put back silently (redirecting output is no cheat).
    streams = {name: (getattr(sys, name), getattr(getattr(sys, name), "pub_thread", None))
               for name in ("stdout", "stderr")}

    def own_wrapper(new, old):
        # torch._dynamo, once imported, rebinds torch.manual_seed to a wrapper of it defined in torch.
        code = getattr(new, "__code__", None)
        return getattr(new, "__wrapped__", None) is old and code is not None and code.co_filename.startswith(torch_dir)

    def verify():
        changed = []
        for name, (stream, thread) in streams.items():
            setattr_(sys, name, stream)
            if thread is not None and getattr(stream, "pub_thread", thread) is None:
                stream.pub_thread = thread  # ipykernel's OutStream.close() only drops its thread
        for name, module in modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append("sys.modules[" + repr(name) + "]")
        for key, owner in watched.items():
            now = vars(owner)
            for name, value in attributes[key].items():
                if name in now and now[name] is value:
                    continue
                if name in ignored:
                    continue
                if name in now and own_wrapper(now[name], value):
                    attributes[key][name] = now[name]  # torch wrapped its own function (torch._dynamo does)
                    continue
                try:
                    setattr_(owner, name, value)
                except (AttributeError, TypeError):
                    continue
                changed.append(key + "." + name)
        for name, (f, code, defaults, kwdefaults) in codes.items():
            if f.__code__ is not code or f.__defaults__ is not defaults or f.__kwdefaults__ is not kwdefaults:
                f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
                changed.append("the body of " + name)
        for module_name, module in check_modules.items():
            parent, _, child = module_name.rpartition(".")
            if parent and getattr(sys.modules[parent], child, module) is not module:
                setattr_(sys.modules[parent], child, module)
                changed.append(module_name)
        user = get_ipython().user_ns
        for name, value in bindings.items():
            if name in user and user[name] is not value and isinstance(user[name], types.ModuleType):
                user[name] = value
                changed.append("the name " + name)
        return changed

    return verify

__ganlab_verify = __ganlab_guard_setup(CHECK_PACKAGES)
del __ganlab_guard_setup
import sys as __ganlab_sys
__ganlab_sys.modules["__ganlab_guard__"] = type(__ganlab_sys)("__ganlab_guard__")
__ganlab_sys.modules["__ganlab_guard__"].verify = __ganlab_verify
get_ipython().user_ns_hidden.update(dict.fromkeys(["__ganlab_verify", "__ganlab_sys"]))
del __ganlab_verify, __ganlab_sys
""".replace("(CHECK_PACKAGES)", "(" + repr(CHECK_PACKAGES) + ")")

# An expression, evaluated by the kernel after an empty request (``user_expressions``): its
# value comes back in the reply, so nothing a student prints can be mistaken for it.
VERIFY = "__import__('json').dumps(__import__('sys').modules['__ganlab_guard__'].verify())"


def parse(result: dict | None) -> list[str] | None:
    """The names VERIFY reported as rebound, or None when it did not answer (the guard itself was broken).

    ``result`` is the kernel's record of the expression (``{"status": "ok", "data": {"text/plain": ...}}``).
    """
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
