"""nbgrader's ``Execute`` made safe for grading a whole class (``SafeExecute``, in ``nbgrader_config.py``).

Each kernel runs in its own sandbox (``sandbox.py``), forked from a warm zygote if any (``kernel_zygote.py``); a
cell that kills its kernel costs that cell only; a test after student code rebound a check or library function
fails (``guard.py``); hidden checks declared ``outside`` run here, in the grader (``judge.py``). README.md.
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import functools
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import guard
import judge
import kernel_zygote
import sandbox as sandboxing  # the module; `sandbox` is SafeExecute's setting
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from sandbox import Limits
from traitlets import Bool, Enum, Float, Integer

from ganlab.exercises import CHECK_PACKAGES, EXERCISES, NOTEBOOKS, REFERENCE_PACKAGE, grade_id, reference_in_kernel

# Threads per grading kernel: the checks' small networks crawl on contended OpenMP threads (README.md).
KERNEL_THREADS = 1
# What every grading kernel imports: found in the sandbox, as a kernel, before anyone is graded (require_sandbox).
GRADING_IMPORTS = ("ipykernel", "torch", *dict.fromkeys(package.split(".")[0] for package in CHECK_PACKAGES))


class GradingEnvironmentError(RuntimeError):
    """The grading kernel cannot be prepared: a fault of the grading machine, never of a student."""


def environment_error(log: str) -> str | None:
    """The cause a ``GradingEnvironmentError`` gave in an nbgrader log (nbgrader only logs it), or None."""
    marker = f"{GradingEnvironmentError.__name__}:"
    causes = [line.split(marker, 1)[1].strip() for line in log.splitlines() if marker in line]
    return causes[-1] if causes else None


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output as a kernel would write it (nbgrader scores a test cell with one as failed)."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def kernel_env(sandboxed: bool, root: str, threads: int) -> dict[str, str]:
    """A kernel's environment: the sandbox's, or the grader's with every per-user folder moved into ``root``."""
    if sandboxed:
        return sandboxing.kernel_env(dict(os.environ), threads)
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONSTARTUP", "PYTHONUSERBASE")}
    env.update(sandboxing.user_env(root, threads))
    for relative in sandboxing.USER_FOLDERS.values():
        os.makedirs(os.path.join(root, relative), exist_ok=True)
    try:  # the grader's matplotlib font list (data, not code), so that each kernel skips the font scan
        import matplotlib

        for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copy(cached, os.path.join(root, sandboxing.USER_FOLDERS["MPLCONFIGDIR"], cached.name))
    except Exception:  # noqa: BLE001 (a missing cache only costs time)
        pass
    return env


def notebook_of(nb: NotebookNode, resources: dict | None) -> str | None:
    """The lab notebook being graded: its name as nbgrader gives it, else the one its test cells belong to."""
    name = (resources or {}).get("nbgrader", {}).get("notebook")
    if name:
        return name
    ids = {grade_id(cell) for cell in nb.cells}
    found = {e.notebook for e in EXERCISES if e.test_id in ids}
    return found.pop() if len(found) == 1 else None


def limits_code(memory_limit_gb: float, no_network: bool) -> str:
    """Kernel-side code that applies the optional limits before the student's first cell."""
    # pyzmq's zero-copy collector starts now, not at the first output over 64 kB (a figure): a student's processes may
    # fill the process limit by then, and a collector that cannot start corrupts that message and the notebook's grades.
    lines = ["import zmq.utils.garbage as _garbage", "if not _garbage.gc.is_alive():", "    _garbage.gc.start()"]
    lines += ["del _garbage"]
    if memory_limit_gb:
        size = int(memory_limit_gb * 2**30)
        lines += ["import resource", f"resource.setrlimit(resource.RLIMIT_AS, ({size}, {size}))"]
    if no_network:
        # CLONE_NEWNET: the kernel keeps its open sockets to the grader and loses every other route.
        lines += [
            "import ctypes, os",
            "if ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0:",
            "    raise OSError(ctypes.get_errno(), 'unshare(CLONE_NEWNET) failed: no_network needs root')",
        ]
    return "\n".join(lines)


_zygotes: dict[bool, kernel_zygote.Zygote] = {}  # this process's own zygotes (by sandbox), when the grader gave none
_zygote_failed: set[bool] = set()


@functools.cache  # once per process when it succeeds
def require_sandbox() -> None:
    """Raise GradingEnvironmentError (the cause and the fix) when this machine cannot build the sandbox, or a kernel
    in it cannot find :data:`GRADING_IMPORTS`."""
    try:
        missing = sandboxing.check_available(GRADING_IMPORTS)
    except sandboxing.SandboxUnavailable as error:
        raise GradingEnvironmentError(f"no grading sandbox, so nobody was graded: {error}") from None
    for name, met in missing.items():  # the first one stops grading
        what, fix = sandboxing.not_importable(name, met)
        raise GradingEnvironmentError(
            f"a grading kernel cannot import {name} in the sandbox ({what}), so nobody was graded: {fix}, then "
            "grade again"
        )


def zygote_path(sandboxed: bool) -> str | None:
    """The socket of the zygote to fork kernels from: the grader's (``GANLAB_KERNEL_ZYGOTE``), or our own (started on
    the first notebook); None (kernels start cold) when none can be had."""
    given = os.environ.get(kernel_zygote.ENV_VAR, "")
    if given and os.path.exists(given):
        return given
    if sandboxed in _zygote_failed:
        return None
    zygote = _zygotes.get(sandboxed)
    if zygote is None or not zygote.alive():
        try:
            _zygotes[sandboxed] = zygote = start_zygote(sandboxed)
        except (OSError, RuntimeError) as error:
            _zygote_failed.add(sandboxed)  # try once per process: a failed start costs seconds, not every notebook's
            logging.getLogger(__name__).warning("no kernel zygote (%s): kernels start cold", error)
            return None
    return zygote.path


def start_zygote(sandboxed: bool, threads: int = KERNEL_THREADS, check: str = "") -> kernel_zygote.Zygote:
    """A zygote that preloads in a clean folder of its own (inside the sandbox when ``sandboxed``), stopped at exit;
    its :attr:`~kernel_zygote.Zygote.unimportable` says whether its kernels can import ``check``."""
    zygote = kernel_zygote.Zygote.start(lambda folder: kernel_env(sandboxed, folder, threads), sandboxed, check=check)
    atexit.register(zygote.close)
    return zygote


class SafeExecute(Execute):
    """``Execute`` with a clean sandbox per kernel, recovery from kernel deaths and a check guard."""

    memory_limit_gb = Float(0.0, help="Address-space cap per kernel in GiB (0: none).").tag(config=True)
    no_network = Bool(False, help="Run each kernel in a network namespace of its own (root only).").tag(config=True)
    guard_checks = Bool(True, help="Fail tests after student code rebinds a check or torch function.").tag(config=True)
    max_deaths = Integer(3, help="Kernel deaths tolerated per notebook (each costs a replay).").tag(config=True)
    # All output is in when a notebook ends and its sandbox goes anyway: no graceful exit (nbclient polls every 0.1 s).
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)
    kernel_threads = Integer(KERNEL_THREADS, help="OMP_NUM_THREADS of each kernel (0: the grader's).").tag(config=True)
    fork_kernels = Bool(True, help="Fork each kernel from a warm process (kernel_zygote.py).").tag(config=True)
    sandbox = Bool(
        True,
        help="Run each kernel in a bubblewrap sandbox (sandbox.py): grading stops when one cannot be built. "
        "False grades without one, and says so.",
    ).tag(config=True)
    scratch_mb = Integer(Limits.scratch_mb, help="Size of a sandboxed kernel's writable tmpfs (MB).").tag(config=True)
    max_processes = Integer(Limits.processes, help="Processes and threads per sandboxed kernel.").tag(config=True)
    cpu_seconds = Integer(Limits.cpu_seconds, help="CPU seconds per sandboxed kernel process.").tag(config=True)

    def limits(self) -> Limits:
        """What one sandboxed kernel may spend (nbgrader_config.py's settings)."""
        memory = self.memory_limit_gb or Limits.memory_gb
        return Limits(self.scratch_mb, memory, self.max_processes, self.cpu_seconds)

    def create_kernel_manager(self):  # noqa: ANN201
        """nbclient's kernel manager, its ipykernel forked from the zygote if any; sandboxed, over Unix sockets
        (``ipc``): TCP cannot cross its network namespace."""
        km = super().create_kernel_manager()
        spec = km.kernel_spec
        forkable = spec is not None and "ipykernel_launcher" in spec.argv
        if self.sandbox and not forkable:
            raise GradingEnvironmentError(
                f"the grading sandbox runs ipykernel kernels only, and this notebook asks for {km.kernel_name!r}, so "
                "it was not graded: use the python3 kernel, or set c.SafeExecute.sandbox = False"
            )
        path = zygote_path(self.sandbox) if self.fork_kernels and forkable else None
        tail = spec.argv[spec.argv.index("ipykernel_launcher") + 1 :] if forkable else []
        if self.sandbox:
            kernels = os.path.join(os.path.dirname(path), "kernels") if path else ""
            # In the sandboxed zygote's folder (bound into its sandbox); a folder of its own otherwise.
            runtime = tempfile.mkdtemp(prefix="k", dir=kernels if os.path.isdir(kernels) else None)
            os.chmod(runtime, 0o700)
            self._runtimes.append(runtime)
            km.transport = "ipc"
            km.connection_file = os.path.join(runtime, "kernel.json")
            km.ip = os.path.join(runtime, "kernel-ipc")
            # parent_handle=1: no parent pid to poll in its PID namespace; bwrap's --die-with-parent ties it instead.
            command = [sys.executable, "-m", "ipykernel_launcher", *tail, "--IPKernelApp.parent_handle=1"]
            cold = sandboxing.kernel_argv(runtime, km.connection_file, self.limits(), command, self._conceal)
            cold = [part.replace("{connection_file}", km.connection_file) for part in cold]
            details = {"limits": dataclasses.asdict(self.limits()), "runtime": runtime, "cold": cold,
                       "connection_file": km.connection_file, "hide": os.path.dirname(path) if path else "",
                       "keep": sandboxing.folders_under_tmp(), "conceal": self._conceal}  # fmt: skip
            spec.env = {**(spec.env or {}), sandboxing.ENV_VAR: json.dumps(details)}
            if not path:
                spec.argv = cold
        if path:  # the shim (kernel_zygote.py) asks the zygote at ``path`` for a fork
            spec.argv = [sys.executable, "-S", os.path.abspath(kernel_zygote.__file__), "kernel", *tail]
            spec.env = {**(spec.env or {}), kernel_zygote.ENV_VAR: path}
        return km

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km=None):  # noqa: ANN001
        """Run every cell as ``Execute`` does, in a sandbox, surviving kernel deaths."""
        NotebookClient.__init__(self, nb, km)  # as ExecutePreprocessor.preprocess does
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        # A notebook running no reference answer grades in a kernel that cannot import it (README.md, "Hidden tests").
        notebook = notebook_of(nb, resources)
        hidden = notebook in NOTEBOOKS and not reference_in_kernel(notebook)
        self._conceal = sandboxing.course_folders((REFERENCE_PACKAGE,)) if hidden and self.sandbox else []
        self._check_packages = tuple(p for p in CHECK_PACKAGES if not (hidden and p.startswith(REFERENCE_PACKAGE)))
        self._outside = {e.test_id: e for e in EXERCISES if e.outside}
        if self.sandbox:
            require_sandbox()
        else:
            self.log.warning(
                "graded WITHOUT a sandbox (c.SafeExecute.sandbox = False in nbgrader_config.py): student code can "
                "read and write whatever the grader's user can"
            )
        root = tempfile.mkdtemp(prefix="ganlab_kernel_")
        self._runtimes = [root]  # folders of this notebook's kernels, removed at its end
        try:
            self._run_all(nb, kernel_env(self.sandbox, root, self.kernel_threads))
        finally:
            for folder in self._runtimes:
                shutil.rmtree(folder, ignore_errors=True)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_all(self, nb: NotebookNode, env: dict[str, str]) -> None:
        killers: set[int] = set()  # cells that killed the kernel: never run again
        done = 0  # cells before this index ran in an earlier kernel
        while True:
            index = None
            try:
                with self.setup_kernel(env=env):
                    info = self.wait_for_reply(self.kc.kernel_info())
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                    self._prepare(
                        limits_code(self.limits().memory_gb if self.sandbox else self.memory_limit_gb, self.no_network),
                        "apply its limits",
                        "no_network needs the grader to run as root; or change c.SafeExecute.no_network and "
                        "memory_limit_gb in autograder/nbgrader_config.py",
                    )
                    if self.guard_checks:
                        self._prepare(
                            guard.setup_code(self._check_packages),
                            "set up the check guard",
                            "install the course package where nbgrader's kernels run (`pip install -e .` in the "
                            "course repository)",
                        )
                    for index, cell in enumerate(nb.cells):
                        if index in killers:
                            continue
                        if index < done:  # replay after a death: same state, outputs of the first run kept
                            self.execute_cell(copy.deepcopy(cell), index, store_history=True)
                        else:
                            self._run_graded(cell, index)
                return
            except DeadKernelError:
                self.log.warning("The kernel died in cell %s; replaying the cells before it in a new kernel", index)
                if index is None:
                    raise
                if index >= done:
                    died = "this cell stopped the Python kernel (os._exit, exit(), a crash or the memory cap); "
                    died += "it is graded as an error and the rest of the notebook was run without it"
                    nb.cells[index].outputs.append(error_output("KernelDied", died))
                killers.add(index)
                done = max(done, index + 1)
                self.km = self.kc = None
                if len(killers) >= self.max_deaths:  # the rest is not run, so that no test passes without running
                    note = "not run: the kernel died too many times in this notebook"
                    for cell in nb.cells[done:]:
                        if cell.cell_type == "code":
                            cell.outputs = [error_output("KernelDied", note)]
                    return

    def _run_graded(self, cell: NotebookNode, index: int) -> None:
        """Run one cell; a graded test cell between two guard verifications, and the hidden checks of an exercise
        judged outside run here once its test cell passed in the kernel."""
        meta = cell.get("metadata", {}).get("nbgrader", {})
        graded = meta.get("grade", False) and cell.cell_type == "code"
        exercise = self._outside.get(meta.get("grade_id")) if graded else None
        if not (graded and (self.guard_checks or exercise)):
            self.execute_cell(cell, index, store_history=True)
            return
        before = self._verify() if self.guard_checks else []
        self.execute_cell(cell, index, store_history=True)
        failed = None
        if exercise and not any(output.get("output_type") == "error" for output in cell.outputs):
            self._deadline = time.monotonic() + (self.timeout or 60)
            failed = judge.verdict(exercise, self._ask)
        after = self._verify() if self.guard_checks else []  # the answer ran again for the judge: what did it rebind?
        changed = list(dict.fromkeys((before or []) + (after or [])))
        if before is None or after is None:
            changed.append("the grading guard")
        if changed:
            cell.outputs = [error_output("CheckFailed", guard.message(changed))]
        elif failed:
            cell.outputs.append(error_output("CheckFailed", failed))

    def _ask(self, expression: str) -> dict | None:
        """The kernel's record of ``expression``, evaluated outside the notebook (``judge.Ask``); None once the test
        cell's checks have run past the cell's time limit."""
        if time.monotonic() > self._deadline:
            return None
        return self._request("", {"value": expression}).get("user_expressions", {}).get("value")

    def _verify(self) -> list[str] | None:
        """What the guard found rebound, or None when it did not answer (broken); in the reply, never through stdout,
        which a student's thread may flood."""
        reply = self._request("", {"verdict": guard.VERIFY})
        return guard.parse(reply.get("user_expressions", {}).get("verdict"))

    def _prepare(self, code: str, what: str, fix: str) -> None:
        """Run set-up ``code`` before any student cell; its failure is the grading machine's, never the student's."""
        reply = self._request(code)
        if reply.get("status") == "ok":
            return
        error = f"{reply['ename']}: {reply['evalue']}" if "ename" in reply else "no reply"
        raise GradingEnvironmentError(
            f"the grading kernel could not {what} ({error}) before any student "
            f"code ran, so nobody was graded: {fix}, then grade again"
        )

    def _request(self, code: str, expressions: dict[str, str] | None = None) -> dict:
        """Run ``code`` in the kernel outside the notebook (no history, no outputs kept); the reply's content."""
        msg_id = self.kc.execute(
            code, silent=True, store_history=False, user_expressions=expressions or {}, allow_stdin=False
        )
        reply = self.wait_for_reply(msg_id)
        return reply["content"] if reply else {}
