"""Grading kernels forked from a zygote (autograder/kernel_zygote.py), as SafeExecute runs them.

A fork must behave as a cold kernel does for everything a student or a check can see
(environment, working folder, interrupts, deaths, its own random stream), keep nothing of the
zygote a student could use to reach the next kernel, and fall back to a cold start when there
is no zygote.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kernel_zygote
import nbformat
import pytest
import safe_execute

from .helpers import error_names, run_in_safe_execute, stream_text

pytestmark = [pytest.mark.slow, pytest.mark.grading]


@pytest.fixture(scope="module")
def zygote():
    """One zygote for the module, handed to SafeExecute as grade_class.py hands it to nbgrader."""
    started = safe_execute.start_zygote()
    previous = os.environ.get(kernel_zygote.ENV_VAR)
    os.environ[kernel_zygote.ENV_VAR] = started.path
    yield started
    if previous is None:
        os.environ.pop(kernel_zygote.ENV_VAR, None)
    else:
        os.environ[kernel_zygote.ENV_VAR] = previous
    started.close()


def run(tmp_path: Path, sources: list[str], **options: object) -> nbformat.NotebookNode:
    """The notebook run by SafeExecute without its check guard (these cells are no graded tests)."""
    return run_in_safe_execute(tmp_path, sources, **{"guard_checks": False, **options})


PROBE = """
import os, sys
print('torch' in sys.modules, os.getcwd(), os.environ['HOME'], os.environ.get('GANLAB_KERNEL_ZYGOTE'))
import numpy
print(numpy.random.randint(2**62))
"""


def test_a_fork_starts_warm_in_its_own_sandbox(zygote, tmp_path: Path) -> None:
    first = run(tmp_path, [PROBE])
    second = run(tmp_path, [PROBE])
    (warm, cwd, home, leaked), (draw,) = (line.split() for line in stream_text(first.cells[0]).splitlines())
    assert warm == "True", "the kernel imported torch itself: it was not forked from the zygote"
    assert Path(cwd) == tmp_path, "the kernel does not run in the notebook's folder"
    assert home != os.path.expanduser("~") and "ganlab_kernel_" in home, "the kernel has not its own sandbox HOME"
    assert leaked == "None", "the zygote's socket path reached the student's environment"
    other_home, other_draw = stream_text(second.cells[0]).split()[2], stream_text(second.cells[0]).split()[-1]
    assert other_home != home
    assert other_draw != draw, "two forks share the zygote's NumPy random stream"


def test_the_zygote_is_single_threaded(zygote) -> None:
    """Forking copies only the calling thread: a zygote with other threads could hand its forks a held lock."""
    assert len(list(Path(f"/proc/{zygote.process.pid}/task").iterdir())) == 1


def test_a_fork_runs_the_kernels_own_thread_count(zygote, tmp_path: Path) -> None:
    """The zygote loaded OpenMP with one thread; a kernel configured for two gets two (and the default, one)."""
    code = "import torch; print(torch.get_num_threads())"
    assert stream_text(run(tmp_path, [code]).cells[0]).strip() == "1"
    assert stream_text(run(tmp_path, [code], kernel_threads=2).cells[0]).strip() == "2"


def test_no_zygote_means_a_cold_kernel(tmp_path: Path, monkeypatch) -> None:
    """A socket that answers nobody: the shim becomes an ordinary kernel and the notebook runs."""
    monkeypatch.setattr(safe_execute, "zygote_path", lambda: str(tmp_path / "nobody.sock"))
    nb = run(tmp_path, [PROBE])
    assert stream_text(nb.cells[0]).split()[0] == "False"


def test_a_fork_is_interrupted_and_survives_its_death(zygote, tmp_path: Path) -> None:
    nb = run(
        tmp_path,
        ["a = 1", "import time\nwhile True: time.sleep(0.1)", "print(a + 1)", "import os; os._exit(3)", "print(a)"],
        timeout=5,
        interrupt_on_timeout=True,
    )
    # What a cold kernel shows too: the interrupt's KeyboardInterrupt, then nbclient's timeout error.
    assert error_names(nb.cells[1]) == ["KeyboardInterrupt", "CellTimeoutError"], (
        "the timeout did not interrupt the fork"
    )
    assert stream_text(nb.cells[2]) == "2\n"
    assert error_names(nb.cells[3]) == ["KernelDied"] and stream_text(nb.cells[4]) == "1\n"


def test_a_student_kernel_holds_none_of_the_zygotes_sockets(zygote, tmp_path: Path) -> None:
    code = f"""
import os, socket
found = []
for fd in map(int, os.listdir('/proc/self/fd')):
    try:
        s = socket.socket(fileno=os.dup(fd))
    except OSError:
        continue
    try:
        if s.family == socket.AF_UNIX and s.getsockname() == {zygote.path!r}:
            found.append(fd)
    finally:
        s.close()
print('zygote sockets:', found)
"""
    nb = run(tmp_path, [code])
    assert stream_text(nb.cells[0]).strip() == "zygote sockets: []"


def test_killing_the_shim_kills_its_kernel(zygote, tmp_path: Path) -> None:
    """jupyter_client's last resort is SIGKILL to the process it started: the fork must not outlive it."""
    connection = tmp_path / "kernel.json"
    env = {**os.environ, kernel_zygote.ENV_VAR: zygote.path}
    shim = subprocess.Popen(
        [sys.executable, "-S", kernel_zygote.__file__, "kernel", "-f", str(connection)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    kernels: list[int] = []
    while time.monotonic() < deadline and not kernels:
        kernels = [pid for pid in _children(zygote.process.pid)]
        time.sleep(0.1)
    assert kernels, "the zygote forked no kernel for the shim"
    shim.send_signal(signal.SIGKILL)
    shim.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _children(zygote.process.pid):
        time.sleep(0.1)
    assert not _children(zygote.process.pid), "the kernel outlived its shim"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def test_a_cell_that_kills_the_zygote_changes_nothing_but_speed(tmp_path: Path, monkeypatch) -> None:
    """A hostile cell kills its kernel's parent (the zygote): its kernel goes on, later kernels start cold."""
    own = safe_execute.start_zygote()
    try:
        monkeypatch.setenv(kernel_zygote.ENV_VAR, own.path)
        monkeypatch.setattr(safe_execute, "_zygote_failed", True)  # no new zygote of SafeExecute's own
        nb = run(
            tmp_path,
            [
                "a = 1",
                "import os, signal; os.kill(os.getppid(), signal.SIGKILL)",
                "import time; time.sleep(2)",
                "print(a)",
            ],
        )
        assert own.process.wait(10) == -9, "the cell did not kill the zygote"
        assert not any(error_names(cell) for cell in nb.cells), "a cell after the zygote's death was blamed for it"
        assert stream_text(nb.cells[3]) == "1\n"
        later = run(tmp_path, [PROBE])
        assert stream_text(later.cells[0]).split()[0] == "False", (
            "with the zygote dead the next kernel should start cold"
        )
    finally:
        own.close()
