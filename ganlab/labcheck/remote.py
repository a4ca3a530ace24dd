"""The kernel's side of the hidden checks that the grader runs in its own process (``autograder/judge.py``).

The grader asks the kernel to evaluate ``call(name, request)``: the notebook's answer ``name`` runs on the grader's
arguments and what it returns (or raises) goes back as data, in the reply, never through stdout. An answer judged by
its effects (a training step, an export) runs in a trial instead (:data:`TRIALS`): on objects built here from the
grader's recipe, and what the trial observed goes back. Both directions are read with
``torch.load(weights_only=True)``: tensors and plain Python values only, the types the checks look at (NumPy or
torch, float or int) kept by tags. No answer and no check lives here.
"""

from __future__ import annotations

import base64
import functools
import importlib
import io
import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .core import nonzero_grads, quietly, swapped

MAX_BYTES = 32 << 20  # the largest packed request or reply either side reads
MAX_DEPTH = 8  # tuples and lists nested deeper are sent as an opaque value
MAX_TEXT = 300  # characters of a message or repr kept
# The NumPy scalar types a reply may name (byte order and size, as ``dtype.str`` writes them).
_SCALARS = {np.dtype(kind).str for kind in "? i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8".split()}


def expected_targets(labels: torch.Tensor, num_classes: int, lblsmooth: float) -> torch.Tensor:
    """What ``smooth_targets`` gives on average (true class 1 - lblsmooth / 2): the stand-in the kernel lends an
    answer graded apart from it (critic_loss). Not the lab's answer, which draws per sample."""
    return F.one_hot(labels.long(), num_classes).float() * (1 - lblsmooth / 2)


def wasserstein_critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, lblsmooth: float) -> torch.Tensor:
    """A critic loss that is no answer (Wasserstein's, smoothing ignored): the fakes' mean "real" logit minus the
    reals'. The stand-in for critic_loss while the grader runs critic_step, whose checks then measure it."""
    return fake_logits[:, 1].mean() - real_logits[:, 1].mean()


def wasserstein_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """A generator loss that is no answer: minus the fakes' mean "real" logit (stand-in for generator_loss)."""
    return -fake_logits[:, 1].mean()


# Earlier answers the kernel replaces while the grader calls a later one (``Exercise.stand_ins``).
STAND_INS = {
    "smooth_targets": expected_targets,
    "critic_loss": wasserstein_critic_loss,
    "generator_loss": wasserstein_generator_loss,
}


def _network(recipe: dict) -> torch.nn.Module:
    """The network the grader's ``recipe`` names ("module:class", constructor arguments), with its weights."""
    module, _, name = recipe["network"].partition(":")
    network = getattr(importlib.import_module(module), name)(*recipe["init"])
    network.load_state_dict(recipe["state"])
    return network.train(recipe.get("training", True))


def export_trial(export: Callable[..., Any], recipe: dict) -> dict:
    """Run ``export(generator, path)`` on the recipe's generator in a scratch folder: the files it wrote there
    (name: bytes) and the generator's mode after."""
    generator = _network(recipe)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        path = os.path.join(folder, "hidden_test_generator.onnx")
        export(generator, path)
        files = {}  # the model and any external data beside it
        for entry in sorted(os.scandir(folder), key=lambda e: e.name)[:8]:
            if entry.is_file() and entry.stat().st_size < MAX_BYTES:
                with open(entry.path, "rb") as file:
                    files[entry.name] = torch.from_numpy(np.frombuffer(file.read(), np.uint8).copy())
    return {"training": generator.training, "path": path, "files": files}


def step_trial(step: Callable[..., Any], recipe: dict, *args: Any) -> dict:
    """Run ``step(gan, optimizer, *args)`` ``recipe["steps"]`` times on the recipe's GAN, with SGD on the network it
    trains, after gradients ``recipe["stale"]`` left on it (None: no gradient anywhere): what the grader judges."""
    gan = _network(recipe)
    trained = getattr(gan, recipe["trains"])
    for p in gan.parameters():
        p.grad = None
    if recipe["stale"] is not None:
        for p in trained.parameters():
            p.grad = torch.full_like(p, recipe["stale"])
    optimizer = torch.optim.SGD(trained.parameters(), lr=recipe["lr"])
    seen: list[int] = []  # the batch sizes the critic scored
    gan.discriminator.register_forward_pre_hook(lambda _module, inputs: seen.append(len(inputs[0])))
    returned = [step(gan, optimizer, *args) for _ in range(recipe["steps"])]
    return {
        "returned": returned[0],
        "seen": seen,
        "state": dict(gan.state_dict()),
        "generator_grads": nonzero_grads(gan.generator),
    }


# What the kernel runs, in place of calling the answer, for an answer judged by its effects (``Exercise.trial``).
TRIALS = {"export": export_trial, "step": step_trial}


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
    if type(value) is dict and all(type(k) is str for k in value) and depth < MAX_DEPTH:
        return ("dict", {k: pack(v, depth + 1) for k, v in value.items()})
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
    if tag == "dict" and len(body) == 1 and isinstance(body[0], dict) and all(type(k) is str for k in body[0]):
        return {k: unpack(v, depth + 1) for k, v in body[0].items()}
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
    session), or run the trial it names on that answer; the reply (never raises for the student's code).

    The request carries the grader's torch random state: the answer draws from it as if it ran in the grader,
    which gets the state back after the call (a reseed inside the answer shows); the kernel's own is put back.
    """
    import IPython

    namespace = IPython.get_ipython().user_ns
    message = decode(request)
    args = [unpack(a) for a in message["args"]]
    leaves = [a for a in args if torch.is_tensor(a) and a.requires_grad]
    state = torch.get_rng_state()
    try:
        with swapped(namespace, **{n: STAND_INS[n] for n in message["stand_ins"]}):
            torch.set_rng_state(message["rng"])
            try:
                with quietly():
                    answer = namespace[name]
                    if message.get("trial"):
                        answer = functools.partial(TRIALS[message["trial"]], answer)
                    result = answer(*(namespace[n] for n in message["kernel_args"]), *args)
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
    return encode(reply)
