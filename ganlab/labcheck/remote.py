"""The kernel's side of the hidden checks that the grader runs in its own process (``autograder/judge.py``).

The grader asks the kernel to evaluate ``call(name, request)``: the notebook's answer ``name`` runs on the grader's
arguments and what it returns (or raises) goes back as data, in the reply, never through stdout. Both directions
are read with ``torch.load(weights_only=True)``: tensors and plain Python values only, the types the checks look at
(NumPy or torch, float or int) kept by tags. No answer and no check lives here.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .core import quietly

MAX_BYTES = 32 << 20  # the largest packed request or reply either side reads
MAX_DEPTH = 8  # tuples and lists nested deeper are sent as an opaque value
MAX_TEXT = 300  # characters of a message or repr kept
# The NumPy scalar types a reply may name (byte order and size, as ``dtype.str`` writes them).
_SCALARS = {np.dtype(kind).str for kind in "? i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8".split()}


def expected_targets(labels: torch.Tensor, num_classes: int, lblsmooth: float) -> torch.Tensor:
    """What ``smooth_targets`` gives on average (true class 1 - lblsmooth / 2): the stand-in the kernel lends an
    answer graded apart from it (critic_loss). Not the lab's answer, which draws per sample."""
    return F.one_hot(labels.long(), num_classes).float() * (1 - lblsmooth / 2)


# Earlier answers the kernel replaces while the grader calls a later one (``Exercise.stand_ins``).
STAND_INS = {"smooth_targets": expected_targets}


def pack(value: Any, depth: int = 0) -> tuple:
    """``value`` as a tagged tuple of tensors and plain Python values, its type kept (``unpack`` reverses it)."""
    if torch.is_tensor(value):
        return ("tensor", value.detach().cpu().clone(), bool(value.requires_grad))
    if isinstance(value, np.ndarray) and value.dtype != object:
        try:
            return ("ndarray", torch.from_numpy(np.ascontiguousarray(value)).clone())
        except TypeError:  # a dtype torch has no tensor for
            pass
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        return ("numpy", value.item(), value.dtype.str)
    if value is None or type(value) in (bool, int, float, str):
        return ("python", value)
    if type(value) in (tuple, list) and depth < MAX_DEPTH:
        return (type(value).__name__, [pack(v, depth + 1) for v in value])
    try:
        text = repr(value)[:MAX_TEXT]
    except Exception:  # noqa: BLE001 (a student's __repr__ may raise anything)
        text = "?"
    return ("object", str(type(value).__module__), type(value).__qualname__, text)


def unpack(packed: Any, depth: int = 0) -> Any:
    """The value :func:`pack` packed; ValueError when ``packed`` is not what it writes (a reply forged by hand)."""
    if not (isinstance(packed, tuple) and packed and isinstance(packed[0], str)) or depth > MAX_DEPTH:
        raise ValueError("not a packed value")
    tag, body = packed[0], packed[1:]
    if tag == "tensor" and len(body) == 2 and torch.is_tensor(body[0]) and isinstance(body[1], bool):
        return body[0].requires_grad_(body[1]) if body[1] and body[0].is_floating_point() else body[0]
    if tag == "ndarray" and len(body) == 1 and torch.is_tensor(body[0]):
        return body[0].numpy()
    if tag == "numpy" and len(body) == 2 and type(body[0]) in (bool, int, float) and body[1] in _SCALARS:
        return np.dtype(body[1]).type(body[0])
    if tag == "python" and len(body) == 1 and (body[0] is None or type(body[0]) in (bool, int, float, str)):
        return body[0]
    if tag in ("tuple", "list") and len(body) == 1 and isinstance(body[0], list):
        return (tuple if tag == "tuple" else list)(unpack(v, depth + 1) for v in body[0])
    if tag == "object" and len(body) == 3 and all(isinstance(part, str) for part in body):
        module, name, text = (part[:MAX_TEXT] for part in body)
        # An object of the kernel's that is no data: a stand-in with its type's name, for the checks' messages.
        kind = type(name.rpartition(".")[2] or "object", (), {"__module__": module, "__repr__": lambda _self: text})
        return kind()
    raise ValueError(f"not a packed value (tag {tag[:20]!r})")


def encode(message: dict) -> str:
    """``message`` (packed values) as the base64 text of ``torch.save``."""
    buffer = io.BytesIO()
    torch.save(message, buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode(text: str) -> dict:
    """What :func:`encode` wrote, read without unpickling anything but tensors and plain values."""
    if not isinstance(text, str) or len(text) > MAX_BYTES * 4 // 3 + 4:
        raise ValueError(f"larger than {MAX_BYTES >> 20} MB or not text")
    message = torch.load(io.BytesIO(base64.b64decode(text, validate=True)), weights_only=True)
    if not isinstance(message, dict):
        raise ValueError("not a message")
    return message


def call(name: str, request: str) -> str:
    """Call the notebook's ``name`` on the grader's ``request`` (after the notebook's objects it names, such as the
    session); the reply (never raises for the student's code).

    The request carries the grader's torch random state: the answer draws from it as if it ran in the grader,
    which gets the state back after the call (a reseed inside the answer shows); the kernel's own is put back.
    """
    import IPython

    namespace = IPython.get_ipython().user_ns
    message = decode(request)
    args = [unpack(a) for a in message["args"]]
    leaves = [a for a in args if torch.is_tensor(a) and a.requires_grad]
    missing = object()
    saved = {n: namespace.get(n, missing) for n in message["stand_ins"]}
    state = torch.get_rng_state()
    try:
        namespace.update({n: STAND_INS[n] for n in message["stand_ins"]})
        torch.set_rng_state(message["rng"])
        grads = None
        try:
            with quietly():
                result = namespace[name](*(namespace[n] for n in message["kernel_args"]), *args)
            reply = {"returned": pack(result)}
            # A loss: the gradient it sends back to each input that asked for one (the grader rebuilds .backward()).
            if leaves and torch.is_tensor(result) and result.grad_fn is not None and result.numel() == 1:
                grads = torch.autograd.grad(result.sum(), leaves, allow_unused=True)
                reply["grads"] = [pack(g) for g in grads]
        except Exception as error:  # the student's code failed: the grader says so in the check's words
            reply = {"raised": (type(error).__name__[:MAX_TEXT], str(error)[:MAX_TEXT])}
        reply["rng"] = torch.get_rng_state()
    finally:
        torch.set_rng_state(state)
        for n, value in saved.items():
            if value is missing:
                namespace.pop(n, None)
            else:
                namespace[n] = value
    return encode(reply)
