"""labcheck's own behaviour, in process: what a check refuses, what it lets through, and what it says (the
pieces the grading round of tests/test_grading.py relies on, in seconds)."""

from __future__ import annotations

import base64
import builtins
import inspect
import io

import judge
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from ganlab.exercises import exercise_of
from ganlab.labcheck import remote
from ganlab_solution import export, labcheck, losses, steps


class Evil:
    """A pickle that runs code when loaded, as a hostile kernel could send it."""

    def __reduce__(self):  # noqa: ANN204
        return (exec, ("import builtins; builtins.PWNED = True",))


def test_the_package_reexports_every_check() -> None:
    for name in ("CheckFailed", "own_work", "call", "check_critic_step", "check_generator", "check_generate_images"):
        assert hasattr(labcheck, name), name


def test_call_gives_private_copies_and_names_the_crash() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0])
    out = labcheck.call(lambda t: t.add_(1).div_(2), "to_display(x)", x)
    assert torch.equal(x, torch.tensor([-1.0, 0.0, 1.0])) and torch.equal(out, torch.tensor([0.0, 0.5, 1.0]))
    with pytest.raises(labcheck.CheckFailed, match=r"critic\(X\) fails: RuntimeError"):
        labcheck.call(lambda t: torch.nn.Linear(3, 2)(t.reshape(2, 2)), "critic(X)", torch.zeros(4))


def test_check_close_names_nan_instead_of_a_distance() -> None:
    with pytest.raises(labcheck.CheckFailed, match="NaN") as failure:
        labcheck.check_close("to_display(x)", torch.tensor([float("nan"), 1.0]), torch.tensor([0.0, 1.0]))
    assert "up to nan" not in str(failure.value)


def test_own_work_never_compares_code_typed_in_a_cell(kernel) -> None:
    """The reference's critic_loss typed in a cell (its text in the kernel's input history) is the student's own."""
    shell, _ = kernel
    typed = inspect.getsource(losses.smooth_targets) + "\n\n" + inspect.getsource(losses.critic_loss)
    shell.run_cell("FAKE, REAL = 0, 1", store_history=True)
    shell.run_cell(f"exec({typed!r})", store_history=True)  # the text runs, but no cell holds it as code
    with pytest.raises(labcheck.CheckFailed, match="reference package"):
        labcheck.own_work(shell.user_ns["critic_loss"], "Your critic_loss")
    shell.run_cell(typed, store_history=True)
    labcheck.own_work(shell.user_ns["critic_loss"], "Your critic_loss")


def test_critic_loss_summed_over_columns_is_told_both_causes_of_a_factor_two() -> None:
    def summed(real, fake, lblsmooth):  # noqa: ANN001, ANN202
        real_t = losses.smooth_targets(torch.ones(len(real), dtype=torch.long), 2, lblsmooth)
        fake_t = losses.smooth_targets(torch.zeros(len(fake), dtype=torch.long), 2, lblsmooth)
        bce = F.binary_cross_entropy_with_logits
        return (
            bce(real, real_t, reduction="none").sum(1).mean() + bce(fake, fake_t, reduction="none").sum(1).mean()
        ) / 2

    with pytest.raises(labcheck.CheckFailed, match="summed over the two logit columns") as failure:
        labcheck.check_critic_loss_example(summed)
    assert "without dividing by 2" in str(failure.value)


@pytest.fixture
def kernel():
    """An in-process IPython shell standing in for the grading kernel: ``ask`` evaluates as the kernel's replies do."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_cell("import torch\nimport torch.nn.functional as F")
    yield shell, lambda expression: shell.user_expressions({"value": expression})["value"]
    InteractiveShell.clear_instance()


def _forged(payload: object) -> dict:
    """A kernel's reply record whose value is ``payload`` saved by torch, as a hostile kernel could send it."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return {"status": "ok", "data": {"text/plain": repr(base64.b64encode(buffer.getvalue()).decode())}}


def test_the_judge_runs_the_checks_here_on_what_the_kernel_returns(kernel) -> None:
    shell, ask = kernel
    shell.run_cell("def to_display(x):\n    return ((x + 1) / 2).clamp(0, 1)")
    assert judge.verdict(exercise_of("to_display"), ask) is None
    shell.run_cell("def to_display(x):\n    return (x + 1) / 2")
    assert "clamp" in judge.verdict(exercise_of("to_display"), ask)
    shell.run_cell("def to_display(x):\n    raise ZeroDivisionError('my own bug')")
    assert "to_display(x) fails: ZeroDivisionError: my own bug" in judge.verdict(exercise_of("to_display"), ask)
    # The answer draws from the grader's random stream, and a reseed inside it shows there (4.2's check).
    shell.run_cell("def smooth_targets(labels, num_classes, lblsmooth):\n    torch.manual_seed(0)\n"
                   "    return torch.nn.functional.one_hot(labels, num_classes).float()")  # fmt: skip
    assert "global random generator" in judge.verdict(exercise_of("smooth_targets"), ask)
    shell.run_cell(inspect.getsource(losses.smooth_targets))
    assert judge.verdict(exercise_of("smooth_targets"), ask) is None
    # A loss's gradients come back: the backward check passes for the lab's generator loss.
    shell.run_cell(inspect.getsource(losses.generator_loss).replace("REAL", "1"))
    assert judge.verdict(exercise_of("generator_loss"), ask) is None


def test_the_judge_refuses_a_pickle_an_oversized_reply_and_no_reply() -> None:
    rng = torch.get_rng_state()
    replies = {
        "pickle": _forged({"returned": ("python", 1.0), "rng": rng, "evil": Evil()}),
        "oversized": {"status": "ok", "data": {"text/plain": "'" + "A" * (remote.MAX_BYTES * 4 // 3 + 100) + "'"}},
        "a forged tag": _forged({"returned": ("pickle", b"\x80"), "rng": rng}),
        "no reply": None,
        "an error": {"status": "error", "ename": "KeyboardInterrupt", "evalue": ""},
    }
    for what, reply in replies.items():
        student = judge.Remote("to_display", lambda _expression, reply=reply: reply)
        with pytest.raises(judge.Unanswered) as refused:
            student(torch.zeros(3))
        assert "could not read" in str(refused.value) or "did not answer" in str(refused.value), what
        with pytest.raises(judge.Unanswered):  # once broken, nothing more is asked
            student(torch.zeros(3))
    assert not hasattr(builtins, "PWNED"), "a pickle from the kernel was run"
    # What the checks look at survives the trip: NumPy or torch, float32 or float, int, bool, None, the type's name.
    back = remote.unpack(remote.pack((np.float32(0.5), [np.arange(3), None], 2, True, torch.ones(2), Evil())))
    assert type(back) is tuple and type(back[0]) is np.float32 and isinstance(back[1][0], np.ndarray)
    assert back[1][1] is None and type(back[2]) is int and back[3] is True and torch.is_tensor(back[4])
    assert type(back[5]).__name__ == "Evil"


def test_the_judge_runs_trials_of_the_steps_and_the_export_in_the_kernel(kernel) -> None:
    """A step or an export is judged here on what a trial of it observed in the kernel (with stand-in losses): the
    reference passes, and a known mistake is told in the words the in-kernel checks used."""
    shell, ask = kernel
    shell.run_cell("from torch import nn")
    for answer in (steps.critic_step, steps.generator_step, export.export_generator):
        shell.run_cell(inspect.getsource(answer))
        assert judge.verdict(exercise_of(answer.__name__), ask) is None, answer.__name__
    assert "critic_loss" not in shell.user_ns, "the kernel was lent no critic loss outside the trials"
    shell.run_cell(inspect.getsource(steps.critic_step).replace("    optimizer.zero_grad()\n", ""))
    assert "zero_grad" in judge.verdict(exercise_of("critic_step"), ask)
    detached = "gan(gan.generator(None, batch_size).detach(), None)"
    shell.run_cell(inspect.getsource(steps.generator_step).replace("gan(None, batch_size)", detached))
    assert "did not change the generator" in judge.verdict(exercise_of("generator_step"), ask)


def test_the_judge_refuses_a_forged_trial_reply() -> None:
    """Observations the trial cannot have made (weights of other shapes, batch sizes that are no numbers, a file
    outside its folder): the answer cannot be checked, so it gets no point (a pickle: the test above)."""
    rng = torch.get_rng_state()
    observed = {"returned": 1.0, "generator_grads": False, "state": {"discriminator.w": torch.ones(3)}}
    for seen in ([32, 32], "32 32"):
        reply = _forged({"returned": remote.pack({**observed, "seen": seen}), "rng": rng})
        verdict = judge.verdict(exercise_of("critic_step"), lambda _expression, reply=reply: reply)
        assert "could not be checked" in verdict, verdict
    file = {"training": True, "path": "/tmp/x/g.onnx", "files": {"g.onnx": torch.zeros(4, dtype=torch.uint8)}}
    escape = {**file, "training": False, "files": {**file["files"], "../g.onnx": torch.zeros(4, dtype=torch.uint8)}}
    replies = iter(_forged({"returned": remote.pack(seen), "rng": rng}) for seen in (file, escape))
    verdict = judge.verdict(exercise_of("export_generator"), lambda _expression: next(replies))
    assert verdict.startswith("export_generator could not be checked: ValueError"), verdict
