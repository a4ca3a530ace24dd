"""SafeExecute (autograder/safe_execute.py) on small notebooks: sandbox, limits, guard (kernel deaths:
tests/test_kernel_zygote.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell
from safe_execute import GradingEnvironmentError

from .helpers import error_names as errors
from .helpers import run_in_safe_execute as run
from .helpers import stream_text as text

pytestmark = [pytest.mark.slow, pytest.mark.grading]
GRADED = {"nbgrader": {"grade": True, "grade_id": "test_x", "points": 1, "solution": False, "locked": True}}


@pytest.mark.parametrize("boxed", [True, False], ids=["sandbox", "no_sandbox"])
def test_each_kernel_has_its_own_fresh_home(tmp_path: Path, boxed: bool) -> None:
    writer = [
        "import os; from pathlib import Path; print(os.environ['HOME'])",
        "startup = Path(get_ipython().profile_dir.startup_dir); startup.mkdir(parents=True, exist_ok=True)\n"
        "(startup / '00_evil.py').write_text('EVIL = True')\n"
        "(Path.home() / '.config' / 'matplotlib').mkdir(parents=True, exist_ok=True)\n"
        "(Path.home() / '.config' / 'matplotlib' / 'matplotlibrc').write_text('backend: nothing')\n",
    ]
    first = run(tmp_path, writer, guard_checks=False, sandbox=boxed)
    home = text(first.cells[0]).strip()
    assert home != os.path.expanduser("~") and not errors(first.cells[1])
    assert not Path(home).exists(), "the sandbox is left behind"
    probe = "import os, matplotlib; print('EVIL' in globals(), os.environ['HOME'])"
    second = run(tmp_path, [probe], guard_checks=False, sandbox=boxed)
    evil, other_home = text(second.cells[0]).split()
    # In the sandbox every kernel has a tmpfs of its own at the same path; without it, another folder.
    assert evil == "False" and (other_home == home == "/sandbox/home" if boxed else other_home != home)


def test_memory_cap_fails_the_cell_not_the_kernel(tmp_path: Path) -> None:
    nb = run(tmp_path, ["import numpy", "x = numpy.ones(50 * 2**30 // 8)", "print('alive')"], guard_checks=False,
             memory_limit_gb=4)  # fmt: skip
    assert errors(nb.cells[1]) == ["MemoryError"] and text(nb.cells[2]) == "alive\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace needs root")
def test_no_network(tmp_path: Path) -> None:
    """Without the sandbox (whose kernels have no network anyway) no_network leaves a kernel the loopback alone."""
    nb = run(tmp_path, ["import socket\nprint(sorted(name for _, name in socket.if_nameindex()))"], guard_checks=False,
             no_network=True, sandbox=False, fork_kernels=False)  # fmt: skip
    assert text(nb.cells[0]).strip() == "['lo']"


def test_guard_fails_a_test_run_after_a_patch(tmp_path: Path) -> None:
    cells = [
        # torch._dynamo rebinds torch.manual_seed to a wrapper of its own: not the student's doing.
        "import torch\nimport torch._dynamo\nfrom ganlab import labcheck",
        new_code_cell("labcheck.check(True, 'fine')", metadata=GRADED),
        "torch.allclose = lambda *a, **k: True",
        new_code_cell("labcheck.check(torch.allclose(torch.zeros(1), torch.ones(1)), 'differ')", metadata=GRADED),
        new_code_cell("labcheck.check(torch.allclose(torch.zeros(1), torch.zeros(1)), 'same')", metadata=GRADED),
    ]
    nb = run(tmp_path, cells)
    assert not errors(nb.cells[1]) and not errors(nb.cells[4]), (
        "an honest test failed, or the original was not restored"
    )
    assert errors(nb.cells[3]) == ["CheckFailed"] and "torch.allclose" in nb.cells[3].outputs[0].evalue


def test_a_kernel_without_the_course_stops_grading_and_blames_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, course_package_missing: Path
) -> None:
    """Before any student cell runs, a guard that cannot be set up is the machine's fault: an error, no grades."""
    monkeypatch.setenv("PYTHONPATH", str(course_package_missing))
    cells = [new_code_cell("print('student code ran')"), new_code_cell("assert True", metadata=GRADED)]
    with pytest.raises(GradingEnvironmentError) as caught:
        run(tmp_path, cells, fork_kernels=False)
    message = str(caught.value)
    assert "could not set up the check guard" in message and "simulated: the course package" in message
    assert "pip install -e ." in message and "nobody was graded" in message
    assert not cells[0].outputs, "a student cell ran on a machine that could not grade it"


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "cold"])
def test_outside_checks_judge_a_kernel_that_disabled_its_guard_and_cannot_import_the_reference(
    tmp_path: Path, fork: bool
) -> None:
    """Notebook 1's hidden checks run in the grader: a wrong answer loses its points, a right one passes."""

    def test_cell(grade_id: str) -> object:
        return new_code_cell("pass", metadata={"nbgrader": {**GRADED["nbgrader"], "grade_id": grade_id}})

    cells = [
        new_code_cell("import sys\nimport torch\nfrom ganlab import labcheck\nfrom ganlab.labcheck import core"),
        new_code_cell(
            "def to_unit_range(images):\n    return images.float() / 255\n\n\n"
            "sys.modules['__ganlab_guard__'].verify = lambda: []\n"
            "core.fail.__code__ = (lambda *args, **kwargs: None).__code__"
        ),
        test_cell("test_to_unit_range"),
        new_code_cell("import ganlab_solution.data"),
        new_code_cell("def to_display(x):\n    return ((x + 1) / 2).clamp(0, 1)"),
        test_cell("test_to_display"),
    ]
    nb = run(tmp_path, cells, graded_as="01_data", fork_kernels=fork)
    assert errors(nb.cells[2]) == ["CheckFailed"] and "127.5" in nb.cells[2].outputs[-1].evalue
    assert errors(nb.cells[3]) == ["ModuleNotFoundError"], "the reference package is importable in notebook 1"
    assert not errors(nb.cells[5])
