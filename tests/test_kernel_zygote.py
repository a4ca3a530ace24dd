"""Grading kernels forked from a zygote (autograder/kernel_zygote.py), as SafeExecute runs them: a fork looks
like a cold kernel, passes nothing on to the next one, and gives way to a cold start when there is no zygote."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import kernel_zygote
import nbformat
import pytest
import safe_execute
import sandbox

from ganlab import exercises as lab

from .helpers import ROOT, error_names, run_in_safe_execute, stream_text, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.grading]


@pytest.fixture(scope="module")
def zygote():
    """One zygote for the module (in the sandbox), handed to SafeExecute as grade_class.py hands it to nbgrader."""
    started = safe_execute.start_zygote(sandboxed=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(kernel_zygote.ENV_VAR, started.path)
        yield started
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
    """Each fork holds none of the zygote's sockets and runs the kernel's own thread count (the zygote loaded OpenMP
    with one thread; a kernel configured for two gets two). A fresh scratch folder per fork: test_safe_execute.py's
    test_each_kernel_has_its_own_fresh_home[sandbox]."""
    sockets = f"""
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
    threads = "import torch; print(torch.get_num_threads())"
    first = run(tmp_path, [PROBE, sockets, threads])
    second = run(tmp_path, [PROBE, threads], kernel_threads=2)
    (warm, cwd, home, leaked), (draw,) = (line.split() for line in stream_text(first.cells[0]).splitlines())
    assert warm == "True", "the kernel imported torch itself: it was not forked from the zygote"
    assert cwd == "/sandbox/work", "the kernel does not run in its sandbox's working folder"
    assert home == "/sandbox/home", "the kernel has not its own sandbox HOME"
    assert leaked == "None", "the zygote's socket path reached the student's environment"
    other_draw = stream_text(second.cells[0]).split()[-1]
    assert other_draw != draw, "two forks share the zygote's NumPy random stream"
    assert stream_text(first.cells[1]).strip() == "zygote sockets: []"
    assert [stream_text(nb.cells[-1]).strip() for nb in (first, second)] == ["1", "2"], "not the kernel's threads"
    # Forking copies only the calling thread: a zygote with other threads could hand its forks a held lock.
    assert len(list(Path(f"/proc/{_zygote_pid(zygote)}/task").iterdir())) == 1, "the zygote is not single-threaded"


def test_the_zygote_preloads_what_the_declaration_and_the_notebooks_name() -> None:
    """The preload list is derived (ganlab/exercises.py, the notebooks' imports), never onnxruntime (a thread) nor the
    reference package (every fork would hold it, where the sandbox hides it)."""
    names = kernel_zygote.preload_list()
    wanted = {lab.STUDENT_PACKAGE, lab.CHECK_PACKAGES[0], "ganlab.answers", "torch", "numpy", "ipykernel.kernelapp"}
    assert wanted <= set(names)
    assert not [name for name in names if name.split(".")[0] in ("onnxruntime", lab.REFERENCE_PACKAGE)]


def test_no_zygote_means_a_cold_kernel(tmp_path: Path, monkeypatch) -> None:
    """A socket that answers nobody: the shim becomes an ordinary kernel and the notebook runs."""
    monkeypatch.setattr(safe_execute, "zygote_path", lambda *_: str(tmp_path / "nobody.sock"))
    nb = run(tmp_path, [PROBE])
    assert stream_text(nb.cells[0]).split()[0] == "False"


def test_a_fork_is_interrupted_and_a_death_costs_its_cell_only(zygote, tmp_path: Path) -> None:
    cells = ["a = 41", "import time\nwhile True: time.sleep(0.1)", "print(a + 1)", "import os; os._exit(3)", "print(a)"]
    nb = run(tmp_path, [*cells, "import sys; sys.exit(1)", "print('after')"], timeout=5, interrupt_on_timeout=True)
    # What a cold kernel shows too: the interrupt's KeyboardInterrupt, then nbclient's timeout error.
    timed_out = error_names(nb.cells[1])
    assert timed_out == ["KeyboardInterrupt", "CellTimeoutError"], "the timeout did not interrupt the fork"
    assert stream_text(nb.cells[2]) == "42\n", "an output of the first run is lost"
    assert error_names(nb.cells[3]) == ["KernelDied"]
    assert stream_text(nb.cells[4]) == "41\n", "the cells before the death were not replayed"
    assert error_names(nb.cells[5]) == ["SystemExit"] and stream_text(nb.cells[6]) == "after\n"


def test_killing_the_shim_kills_its_kernel(zygote, tmp_path: Path) -> None:
    """jupyter_client's last resort is SIGKILL to the process it started: the fork must not outlive it."""
    # A folder the zygote's sandbox sees (its own), for the kernel's connection file.
    folder = Path(zygote.folder) / "kernels" / "shim_test"
    folder.mkdir()
    connection = folder / "kernel.json"
    ports = {f"{name}_port": port for port, name in enumerate(("shell", "iopub", "stdin", "control", "hb"), 1)}
    connection.write_text(json.dumps({"transport": "ipc", "ip": str(folder / "kernel-ipc"), "key": "", **ports,
                                      "signature_scheme": "hmac-sha256"}))  # fmt: skip
    spec = {"limits": dataclasses.asdict(sandbox.Limits()), "runtime": str(folder), "connection_file": str(connection),
            "hide": zygote.folder, "cold": ["false"]}  # fmt: skip
    env = {**os.environ, kernel_zygote.ENV_VAR: zygote.path, sandbox.ENV_VAR: json.dumps(spec)}
    parent = _zygote_pid(zygote)  # before the fork: a fork's command line is the zygote's
    command = [sys.executable, "-S", kernel_zygote.__file__, "kernel", "-f", str(connection)]
    quiet = subprocess.DEVNULL
    shim = subprocess.Popen(command, env=env, cwd="/", stdin=quiet, stdout=quiet, stderr=quiet)
    assert wait_for(lambda: _children(parent), 60, every=0.1), "the zygote forked no kernel for the shim"
    shim.send_signal(signal.SIGKILL)
    shim.wait()
    assert wait_for(lambda: not _children(parent), 10, every=0.1), "the kernel outlived its shim"


def _zygote_pid(zygote) -> int:  # noqa: ANN001
    """The zygote's own process: a descendant of the bwrap process that started it."""
    todo = [zygote.process.pid]
    while todo:
        pid = todo.pop()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if argv[0] == sys.executable.encode() and b"serve" in argv:  # not bwrap, whose arguments name it too
            return pid
        todo += _children(pid)
    raise AssertionError("no zygote process under its sandbox")


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


def test_in_the_sandbox_a_cell_cannot_signal_the_zygote(zygote, tmp_path: Path) -> None:
    """A kernel is PID 1 of its own namespace and session: its 'parent' is pid 0, which means its own processes."""
    nb = run(tmp_path, ["a = 1", "import os, signal; print(os.getppid()); os.kill(os.getppid(), signal.SIGKILL)",
                        "import subprocess; subprocess.run(['kill', '-9', '-1'])", "print(a)"])  # fmt: skip
    assert zygote.alive(), "a student's cell killed the zygote"
    assert not any(error_names(cell) for cell in nb.cells) and stream_text(nb.cells[3]) == "1\n"
    assert stream_text(run(tmp_path, [PROBE]).cells[0]).split()[0] == "True", "the next kernel was not forked"


def test_a_cell_that_kills_the_zygote_changes_nothing_but_speed(tmp_path: Path, monkeypatch) -> None:
    """Without the sandbox a hostile cell can kill its kernel's parent (the zygote): its kernel goes on, later
    kernels start cold."""
    own = safe_execute.start_zygote(False)
    nb = None
    try:
        monkeypatch.setenv(kernel_zygote.ENV_VAR, own.path)
        monkeypatch.setattr(safe_execute, "_zygote_failed", {False})  # no new zygote of SafeExecute's own
        cells = ["import os\na = 1\nprint(os.getpid())", "import os, signal; os.kill(os.getppid(), signal.SIGKILL)"]
        nb = run(tmp_path, [*cells, "import time; time.sleep(2)", "print(a)"], sandbox=False)
        assert own.process.wait(10) == -9, "the cell did not kill the zygote"
        assert not any(error_names(cell) for cell in nb.cells), "a cell after the zygote's death was blamed for it"
        assert stream_text(nb.cells[3]) == "1\n"
        later = run(tmp_path, [PROBE], sandbox=False)
        assert stream_text(later.cells[0]).split()[0] == "False", "with the zygote dead the next kernel starts cold"
    finally:
        own.close()
        if nb is not None:  # that kernel outlived its zygote, and its stand-in (the shim) was killed at the end
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(stream_text(nb.cells[0])), signal.SIGKILL)


def test_a_kit_checked_out_under_tmp_stays_readable_in_a_fork(tmp_path: Path, monkeypatch) -> None:
    """Each fork gets a fresh /tmp; the course packages of a checkout below /tmp must still show, read-only (the
    zygote has imported them already, so a check reads their files, a source and an asset, to see them)."""
    kit = Path(tempfile.mkdtemp(prefix="ganlab_kit_", dir="/tmp"))
    kit.chmod(0o755)  # not mkdtemp's 0700: a kernel graded as root runs as nobody, who must read the kit
    try:
        for package in ("ganlab", "ganlab_solution"):
            shutil.copytree(ROOT / package, kit / package, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.setenv("PYTHONPATH", str(kit))
        assert sandbox.folders_under_tmp() == [str(kit)]  # a PYTHONPATH folder shows whole
        started = safe_execute.start_zygote(sandboxed=True)
        monkeypatch.setenv(kernel_zygote.ENV_VAR, started.path)
        try:
            probe = (
                "import inspect, os, ganlab, ganlab_solution.losses\n"
                "assets = os.path.join(os.path.dirname(ganlab.__file__), 'assets')\n"
                "source = inspect.getsource(ganlab_solution.losses.critic_loss)\n"
                "print(ganlab.__file__, os.access(ganlab.__file__, os.W_OK), len(os.listdir(assets)) > 0,\n"
                "      source.startswith('def critic_loss'), sorted(os.listdir('/tmp')))"
            )
            nb = run(tmp_path, [probe])
        finally:
            started.close()
        assert not error_names(nb.cells[0]), stream_text(nb.cells[0])
        path, writable, assets, source, listed = stream_text(nb.cells[0]).split(" ", 4)
        assert path == str(kit / "ganlab" / "__init__.py") and writable == "False"
        assert assets == "True" and source == "True"
        # The kit's folder shows in the fork's /tmp; the machine's other files there do not.
        assert repr(kit.name) in listed and "pytest-of" not in listed, listed
    finally:
        shutil.rmtree(kit)
