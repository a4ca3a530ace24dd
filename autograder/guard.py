"""Code run inside each grading kernel (never shown to students) that keeps the checks pristine.

``SETUP`` runs before the student's first cell: it imports the modules the checks rely on
and records the identity of every function and method in them (the visible checks
``ganlab.labcheck`` and the hidden ones ``ganlab_solution.labcheck``, each with all its
submodules, ``torch``, ``torch.nn.functional``, ``torch.Tensor``, every
``torch.nn`` layer class, ``numpy`` and the builtins). ``VERIFY`` runs before and after each
graded test cell: it puts back anything the student rebound and prints which names those
were, so the grader can fail that test with a message naming them.

This is a tripwire, not a sandbox: student code runs in the same process and a student who
reads this file can find and disable the record (see the instructor guide).
"""

from __future__ import annotations

import json

MARK = "GANLAB-GUARD:"  # prefix of the one line VERIFY prints

SETUP = r"""
def __ganlab_guard_setup():
    import builtins, os, sys, types
    import numpy, torch, torch.nn, torch.nn.functional
    import ganlab.answers
    from ganlab import labcheck
    from ganlab_solution import labcheck as hidden

    # Every module of the checks: rebinding a function in a submodule (labcheck.core.fail) counts too.
    check_modules = {name: module for name, module in sys.modules.items()
                     if name.split(".")[:2] in (["ganlab", "labcheck"], ["ganlab_solution", "labcheck"])
                     or name == "ganlab.answers"}
    watched = {"builtins": builtins, "torch": torch, "torch.nn.functional": torch.nn.functional,
               "numpy": numpy, "torch.Tensor": torch.Tensor, "torch.nn.Module": torch.nn.Module}
    # Named as the notebooks name them: labcheck.check, labcheck.core.fail, ganlab_solution.labcheck.gan...
    label = {name: name.removeprefix("ganlab.") for name in check_modules}
    watched.update({label[name]: module for name, module in check_modules.items()})
    for name in dir(torch.nn):
        value = getattr(torch.nn, name)
        if isinstance(value, type) and issubclass(value, torch.nn.Module):
            watched["torch.nn." + name] = value
    for module in check_modules.values():
        for name, value in list(vars(module).items()):
            if isinstance(value, type) and value.__module__ == module.__name__:
                watched[label[module.__name__] + "." + name] = value
    modules = {name: sys.modules[name] for name in
               ("builtins", "numpy", "torch", "torch.nn", "torch.nn.functional", "ganlab", "ganlab_solution",
                *check_modules)}
    attributes = {key: dict(vars(owner)) for key, owner in watched.items()}
    # A function can keep its identity and change its body: record the code objects of labcheck's functions.
    codes = {label[module.__name__] + "." + name: (f, f.__code__, f.__defaults__, f.__kwdefaults__)
             for module in check_modules.values() for name, f in vars(module).items()
             if isinstance(f, types.FunctionType)}
    bindings = {"labcheck": labcheck, "torch": torch, "nn": torch.nn}
    # Names that change on their own: IPython's last results (builtins._), the input() ipykernel
    # rebinds for each request, class bookkeeping.
    ignored = {"_", "__", "___", "input", "raw_input", "__dict__", "__weakref__", "__doc__"}
    setattr_ = builtins.setattr
    delattr_ = builtins.delattr

    torch_dir = os.path.dirname(torch.__file__) + os.sep

    def own_wrapper(new, old):
        # torch._dynamo, once imported, rebinds torch.manual_seed to a wrapper of it defined in torch.
        code = getattr(new, "__code__", None)
        return getattr(new, "__wrapped__", None) is old and code is not None and code.co_filename.startswith(torch_dir)

    def verify():
        changed = []
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
        for package, module in ((sys.modules["ganlab"], labcheck), (sys.modules["ganlab_solution"], hidden)):
            if getattr(package, "labcheck", module) is not module:
                setattr_(package, "labcheck", module)
                changed.append(package.__name__ + ".labcheck")
        user = get_ipython().user_ns
        for name, value in bindings.items():
            if name in user and user[name] is not value and isinstance(user[name], types.ModuleType):
                user[name] = value
                changed.append("the name " + name)
        return changed

    return verify

__ganlab_verify = __ganlab_guard_setup()
del __ganlab_guard_setup
import sys as __ganlab_sys
__ganlab_sys.modules["__ganlab_guard__"] = type(__ganlab_sys)("__ganlab_guard__")
__ganlab_sys.modules["__ganlab_guard__"].verify = __ganlab_verify
get_ipython().user_ns_hidden.update(dict.fromkeys(["__ganlab_verify", "__ganlab_sys"]))
del __ganlab_verify, __ganlab_sys
"""

VERIFY = (
    "import sys as __ganlab_sys, json as __ganlab_json\n"
    f"print({MARK!r} + __ganlab_json.dumps(__ganlab_sys.modules['__ganlab_guard__'].verify()))\n"
    "del __ganlab_sys, __ganlab_json\n"
)


def parse(text: str) -> list[str] | None:
    """The names VERIFY reported as rebound, or None when its line is missing (the guard itself was broken)."""
    for line in text.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    return None


def message(changed: list[str]) -> str:
    """What the student reads in the failed test."""
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    return (
        f"your code replaced {shown}, which the checks use: grading puts the originals back, "
        "and this test gets no points. Do not rebind library or check functions in your answers"
    )
