"""Hidden checks that the grader runs in its own process, outside the student's kernel (README.md, "Hidden tests").

Inputs are chosen and compared here, against the reference imported here, so a kernel whose guard or checks
were disabled changes no verdict: all it can do is answer for the student's code (:class:`Remote`).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from typing import Any

from ganlab.exercises import REFERENCE_PACKAGE, Exercise

# Evaluates an expression in the kernel: the kernel's record of it (``user_expressions``), or None past the time.
Ask = Callable[[str], "dict | None"]


class Unanswered(Exception):
    """The kernel gave no reply the grader can read: it was interrupted, ran past the time, or forged one."""


def _text(record: dict | None) -> str:
    """The string an expression evaluated to, from the kernel's record of it."""
    from ganlab.labcheck.remote import MAX_BYTES

    if not record or record.get("status") != "ok":
        said = f" ({record.get('ename')}: {str(record.get('evalue'))[:200]})" if record and "ename" in record else ""
        raise Unanswered(f"your kernel did not answer the grader{said}")
    shown = record.get("data", {}).get("text/plain")
    if not isinstance(shown, str) or len(shown) > MAX_BYTES * 4 // 3 + 16:
        raise ValueError("the reply is not text, or larger than the grader reads")
    return ast.literal_eval(shown)


class Remote:
    """The notebook's answer ``name`` as the checks call it here: it runs in the kernel (``ask``), after the notebook's
    objects ``kernel_args``, where the earlier answers ``stand_ins`` are replaced for the call by stand-ins; with a
    ``trial`` (``remote.TRIALS``), calling it runs that trial of the answer there and returns what it observed."""

    def __init__(
        self, name: str, ask: Ask, stand_ins: tuple[str, ...] = (), kernel_args: tuple[str, ...] = (), trial: str = ""
    ) -> None:
        self.name, self.ask, self.stand_ins, self.kernel_args, self.trial = name, ask, stand_ins, kernel_args, trial
        self.broken = ""  # after one unanswered request the checks get no further one (a loop would wait each time)

    def __call__(self, *args: Any) -> Any:
        import torch

        from ganlab.labcheck import remote

        if self.broken:
            raise Unanswered(self.broken)
        request = remote.encode(
            {"args": [remote.pack(a) for a in args], "rng": torch.get_rng_state(),
             "stand_ins": list(self.stand_ins), "kernel_args": list(self.kernel_args), "trial": self.trial}
        )  # fmt: skip
        expression = f"__import__('ganlab.labcheck.remote', fromlist=['call']).call({self.name!r}, {request!r})"
        try:
            reply = remote.decode(_text(self.ask(expression)))
            rng = reply["rng"]
            if not (torch.is_tensor(rng) and rng.dtype == torch.uint8 and rng.shape == torch.get_rng_state().shape):
                raise ValueError("no random state")
            if "raised" in reply:
                # An exception that reads as the student's did (``labcheck.call`` quotes its type's name).
                name, message = map(str, reply["raised"])
                error = type(name if name.isidentifier() else "Exception", (Exception,), {})(message)
            else:
                value, error = self._value(reply, args), None
        except Unanswered as problem:
            self.broken = str(problem)
            raise
        except Exception as problem:  # noqa: BLE001 (whatever a forged reply makes the reading raise)
            self.broken = f"the grader could not read your kernel's reply ({type(problem).__name__}: {problem})"[:400]
            raise Unanswered(self.broken) from None
        torch.set_rng_state(rng)  # as if the answer had drawn from the grader's stream
        if error is not None:
            raise error
        return value

    @staticmethod
    def _value(reply: dict, args: tuple) -> Any:
        """What the answer returned; a loss that sent gradients back gets a graph here that gives the same ones."""
        import torch

        from ganlab.labcheck.remote import unpack

        value = unpack(reply["returned"])
        leaves = [a for a in args if torch.is_tensor(a) and a.requires_grad]
        if "grads" not in reply or not torch.is_tensor(value) or value.numel() != 1 or not leaves:
            return value
        grads = [unpack(g) for g in reply["grads"]]
        if len(grads) != len(leaves) or any(g is not None and not torch.is_tensor(g) for g in grads):
            raise ValueError("gradients that fit no input")
        link = sum(
            (leaf * g.to(leaf.dtype).reshape(leaf.shape)).sum() for leaf, g in zip(leaves, grads) if g is not None
        )
        value = value.detach()
        # link - link.detach() is 0 and backward() through it gives each input the kernel's gradient.
        return value + (link - link.detach()) if torch.is_tensor(link) else value.requires_grad_(True)


def verdict(exercise: Exercise, ask: Ask) -> str | None:
    """Run the hidden checks of ``exercise`` here on its answer in the kernel: None when they pass, else what the
    student reads."""
    import torch

    from ganlab.answers import reference_answer
    from ganlab.labcheck import CheckFailed

    # Small tensors, which contended OpenMP threads only slow down (README.md, "Where a student's time goes").
    torch.set_num_threads(1)
    name = exercise.names[0]
    student = Remote(name, ask, exercise.stand_ins, exercise.kernel_args, exercise.trial)
    try:
        for check in exercise.hidden:
            module, function = check.split(":")
            getattr(importlib.import_module(f"{REFERENCE_PACKAGE}.{module}"), function)(student, reference_answer(name))
    except CheckFailed as failure:
        return str(failure)
    except Exception as failure:  # noqa: BLE001 (Unanswered, or an answer that broke a check: no points either way)
        return f"{name} could not be checked: {type(failure).__name__}: {str(failure)[:400]}"
    return None
