"""nbgrader's ``Execute`` preprocessor, made safe for grading a whole class.

``SafeExecute`` replaces ``Execute`` in ``nbgrader_config.py`` (``Autograde.autograde_preprocessors``)
and adds three things to it:

- **A clean kernel per notebook.** Each kernel gets its own fresh ``HOME``, ``IPYTHONDIR``,
  ``MPLCONFIGDIR``, ``JUPYTER_*`` folders, XDG folders and ``TMPDIR``, deleted after the
  notebook: an IPython startup file, a ``matplotlibrc`` or a user-site ``.pth`` written by
  one student never runs in the next student's kernel. Optional: a memory cap per kernel
  (``memory_limit_gb``, RLIMIT_AS) and no network (``no_network``, a new network namespace;
  needs root).
- **A kernel death costs one cell.** When a cell kills its kernel (``os._exit``, a segfault,
  ``exit()``), that cell gets an error output naming the cause, a new kernel replays every
  earlier cell (their outputs and grades are kept), and grading goes on after the cell. The
  notebook is graded as if the offending cell had raised an exception.
- **The checks stay pristine.** ``guard.setup_code()`` runs before the student's first cell and
  ``guard.VERIFY`` before and after each graded test cell, out of band (nothing is added to the
  notebook, so the feedback never shows it): a test run after the student's code rebound a
  check, torch or tensor function fails with a message naming what was rebound, and the
  originals are put back for the next tests.
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import guard
import kernel_zygote
import sandbox as sandboxing  # the module; `sandbox` is SafeExecute's setting
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Float, Integer

# Kernel deaths tolerated in one notebook before the rest of it is given up (each costs a replay).
MAX_DEATHS = 3
# Threads per grading kernel. The checks run many small networks: with two OpenMP threads
# on a busy 2-core machine a tiny forward pass took 280 ms instead of 2 ms, as each parallel
# region waits for a thread the scheduler has parked. A class is parallel across workers.
KERNEL_THREADS = 1


class GradingEnvironmentError(RuntimeError):
    """The grading kernel cannot be prepared: a fault of the grading machine, never of a student."""


def environment_error(log: str) -> str | None:
    """The cause a ``GradingEnvironmentError`` gave in an nbgrader log, or None when there is none.

    nbgrader catches the exception and only logs it, so a grader reads it back from the log.
    """
    marker = f"{GradingEnvironmentError.__name__}:"
    causes = [line.split(marker, 1)[1].strip() for line in log.splitlines() if marker in line]
    return causes[-1] if causes else None


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output as a kernel would write it (nbgrader scores a test cell with one as failed)."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def sandbox_env(root: Path, threads: int = 0) -> dict[str, str]:
    """The grader's environment with every per-user folder moved into ``root`` (created empty).

    ``threads`` (when positive) caps the kernel's OpenMP/MKL threads, which torch's CPU ops use.
    """
    env = dict(os.environ)
    if threads > 0:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    for variable in ("PYTHONSTARTUP", "PYTHONUSERBASE", "MPLBACKEND"):
        env.pop(variable, None)
    folders = {
        "HOME": "home",
        "IPYTHONDIR": "home/.ipython",
        "MPLCONFIGDIR": "home/.config/matplotlib",
        "JUPYTER_CONFIG_DIR": "home/.jupyter",
        "JUPYTER_DATA_DIR": "home/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": "home/.local/share/jupyter/runtime",
        "XDG_CONFIG_HOME": "home/.config",
        "XDG_CACHE_HOME": "home/.cache",
        "XDG_DATA_HOME": "home/.local/share",
        "TMPDIR": "tmp",
    }
    for variable, relative in folders.items():
        (root / relative).mkdir(parents=True, exist_ok=True)
        env[variable] = str(root / relative)
    env["MPLBACKEND"] = "agg"
    env["PYTHONNOUSERSITE"] = "1"  # no user site-packages, so no .pth from anyone's home
    _seed_matplotlib_cache(root / folders["MPLCONFIGDIR"])
    return env


def _seed_matplotlib_cache(folder: Path) -> None:
    """Copy the grader's matplotlib font list (data, not code) so each kernel skips the font scan."""
    try:
        import matplotlib

        for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copy(cached, folder / cached.name)
    except Exception:  # noqa: BLE001 (a missing cache only costs time)
        pass


def limits_code(memory_limit_gb: float, no_network: bool) -> str:
    """Kernel-side code that applies the optional limits before the student's first cell."""
    lines = []
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
_sandbox_checked = False


def require_sandbox() -> None:
    """Raise GradingEnvironmentError (the cause and the fix) when this machine cannot build the sandbox."""
    global _sandbox_checked
    if _sandbox_checked:
        return
    try:
        sandboxing.check_available()
    except sandboxing.SandboxUnavailable as error:
        raise GradingEnvironmentError(f"no grading sandbox, so nobody was graded: {error}") from None
    _sandbox_checked = True


def zygote_path(sandboxed: bool) -> str | None:
    """The socket of the zygote to fork kernels from: the grader's (``GANLAB_KERNEL_ZYGOTE``), or our own.

    ``grade_class.py`` starts one zygote per run (from the same ``nbgrader_config.py``, so in the
    sandbox exactly when ``sandboxed``) and hands it to every grading process; a plain ``nbgrader
    autograde`` starts one for itself on its first notebook (and it stops when the process exits).
    None when no zygote can be had: kernels then start cold (in a bwrap of their own when
    sandboxed). A zygote forks only kernels sandboxed as it is: any other starts cold.
    """
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


def start_zygote(sandboxed: bool, threads: int = KERNEL_THREADS) -> kernel_zygote.Zygote:
    """A zygote that preloads in a clean folder of its own (inside the sandbox when ``sandboxed``).

    It is stopped when this process exits.
    """

    def make_env(folder: str) -> dict[str, str]:
        return sandboxing.kernel_env(dict(os.environ), threads) if sandboxed else sandbox_env(Path(folder), threads)

    zygote = kernel_zygote.Zygote.start(make_env, sandboxed)
    atexit.register(zygote.close)
    return zygote


def configured(course: Path) -> SafeExecute:
    """``SafeExecute`` as nbgrader builds it from ``course``'s ``nbgrader_config.py``.

    For a grader that runs no nbgrader command of its own (``grade_class.py``): it reads the
    sandbox switch and the kernels' settings where nbgrader does, from the traitlets.
    """
    from traitlets.config.loader import PyFileConfigLoader

    return SafeExecute(config=PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())


class SafeExecute(Execute):
    """``Execute`` with a clean sandbox per kernel, recovery from kernel deaths and a check guard."""

    memory_limit_gb = Float(0.0, help="Address-space cap per kernel in GiB (0: none).").tag(config=True)
    no_network = Bool(False, help="Run each kernel in a network namespace of its own (root only).").tag(config=True)
    guard_checks = Bool(True, help="Fail a test run after student code rebound a check or library function.").tag(
        config=True
    )
    max_deaths = Integer(MAX_DEATHS, help="Kernel deaths tolerated per notebook.").tag(config=True)
    # Every output has arrived when a notebook ends: stop its kernel at once instead of waiting
    # for a graceful exit (nbclient polls every 0.1 s), since its sandbox is deleted anyway.
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)
    kernel_threads = Integer(
        KERNEL_THREADS, help="OpenMP/MKL threads of each kernel (OMP_NUM_THREADS); 0 leaves the grader's setting."
    ).tag(config=True)
    fork_kernels = Bool(
        True, help="Fork each kernel from a process that has already imported torch and the course (kernel_zygote.py)."
    ).tag(config=True)
    sandbox = Bool(
        True,
        help="Run each kernel in a bubblewrap sandbox (sandbox.py): grading stops when one cannot be built. "
        "False grades without one, and says so.",
    ).tag(config=True)
    scratch_mb = Integer(sandboxing.Limits.scratch_mb, help="Size of a sandboxed kernel's writable tmpfs (MB).").tag(
        config=True
    )
    max_processes = Integer(sandboxing.Limits.processes, help="Processes and threads per sandboxed kernel.").tag(
        config=True
    )
    cpu_seconds = Integer(sandboxing.Limits.cpu_seconds, help="CPU seconds per sandboxed kernel process.").tag(
        config=True
    )

    def limits(self) -> sandboxing.Limits:
        """What one sandboxed kernel may spend (nbgrader_config.py's settings)."""
        memory = self.memory_limit_gb or sandboxing.Limits.memory_gb
        return sandboxing.Limits(self.scratch_mb, memory, self.max_processes, self.cpu_seconds)

    def create_kernel_manager(self):  # noqa: ANN201
        """nbclient's kernel manager, with an ipykernel launched as a fork of the zygote when there is one.

        In the sandbox the kernel speaks ZMQ over Unix sockets (``ipc``) in a folder of its own,
        which is bound into its sandbox: TCP, even on loopback, cannot cross its network namespace.
        """
        km = super().create_kernel_manager()
        spec = km.kernel_spec
        forkable = spec is not None and "ipykernel_launcher" in spec.argv
        path = zygote_path(self.sandbox) if self.fork_kernels and forkable else None
        if self.sandbox and not forkable:
            raise GradingEnvironmentError(
                f"the grading sandbox runs ipykernel kernels only, and this notebook asks for {km.kernel_name!r}, so "
                "it was not graded: use the python3 kernel, or set c.SafeExecute.sandbox = False"
            )
        if self.sandbox and forkable:
            kernels = os.path.join(os.path.dirname(path), "kernels") if path else ""
            # In the sandboxed zygote's folder (bound into its sandbox); a folder of its own otherwise.
            runtime = tempfile.mkdtemp(prefix="k", dir=kernels if os.path.isdir(kernels) else None)
            os.chmod(runtime, 0o700)
            self._runtimes.append(runtime)
            km.transport = "ipc"
            km.connection_file = os.path.join(runtime, "kernel.json")
            km.ip = os.path.join(runtime, "kernel-ipc")
            tail = spec.argv[spec.argv.index("ipykernel_launcher") + 1 :]
            # parent_handle=1: no polling of a parent pid that means nothing in the kernel's PID
            # namespace; bwrap's --die-with-parent ties the kernel's life to its launcher instead.
            command = [sys.executable, "-m", "ipykernel_launcher", *tail, "--IPKernelApp.parent_handle=1"]
            cold = sandboxing.kernel_argv(runtime, km.connection_file, self.limits(), command)
            cold = [part.replace("{connection_file}", km.connection_file) for part in cold]
            details = {"limits": dataclasses.asdict(self.limits()), "runtime": runtime, "cold": cold,
                       "connection_file": km.connection_file, "hide": os.path.dirname(path) if path else "",
                       "keep": sandboxing.folders_under_tmp()}  # fmt: skip
            spec.env = {**(spec.env or {}), sandboxing.ENV_VAR: json.dumps(details)}
            if not path:
                spec.argv = cold
        if path:
            kernel_zygote.fork_spec(spec, path)
        return km

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km=None):  # noqa: ANN001
        """Run every cell as ``Execute`` does, in a sandbox, surviving kernel deaths."""
        NotebookClient.__init__(self, nb, km)  # as ExecutePreprocessor.preprocess does
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._runtimes: list[str] = []
        if self.sandbox:
            require_sandbox()
        else:
            self.log.warning(
                "graded WITHOUT a sandbox (c.SafeExecute.sandbox = False in nbgrader_config.py): student code can "
                "read and write whatever the grader's user can"
            )
        root = Path(tempfile.mkdtemp(prefix="ganlab_kernel_"))
        try:
            env = sandboxing.kernel_env(dict(os.environ), self.kernel_threads) if self.sandbox else None
            self._run_all(nb, env or sandbox_env(root, self.kernel_threads))
        finally:
            shutil.rmtree(root, ignore_errors=True)
            for runtime in self._runtimes:
                shutil.rmtree(runtime, ignore_errors=True)
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
                            guard.setup_code(),
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
                cell = nb.cells[index]
                if index >= done:
                    cell.outputs.append(
                        error_output(
                            "KernelDied",
                            "this cell stopped the Python kernel (os._exit, exit(), a crash or the memory cap); "
                            "it is graded as an error and the rest of the notebook was run without it",
                        )
                    )
                killers.add(index)
                done = max(done, index + 1)
                self.km = self.kc = None
                if len(killers) >= self.max_deaths:
                    self._give_up(nb, done)
                    return

    def _give_up(self, nb: NotebookNode, start: int) -> None:
        """Mark every cell from ``start`` on as not run, so that no test passes without running."""
        for cell in nb.cells[start:]:
            if cell.cell_type == "code":
                cell.outputs = [error_output("KernelDied", "not run: the kernel died too many times in this notebook")]

    def _run_graded(self, cell: NotebookNode, index: int) -> None:
        """Run one cell; a graded test cell is bracketed by the guard's verification."""
        graded = cell.get("metadata", {}).get("nbgrader", {}).get("grade", False) and cell.cell_type == "code"
        if not (graded and self.guard_checks):
            self.execute_cell(cell, index, store_history=True)
            return
        before = self._verify()
        self.execute_cell(cell, index, store_history=True)
        after = self._verify()
        changed = list(dict.fromkeys((before or []) + (after or [])))
        if before is None or after is None:
            changed.append("the grading guard")
        if changed:
            cell.outputs = [error_output("CheckFailed", guard.message(changed))]

    def _verify(self) -> list[str] | None:
        """What the guard found rebound, or None when it did not answer (the guard itself was broken).

        The verdict travels in the reply to a request of its own (``user_expressions``), never
        through stdout, where a student's thread may print anything at any time.
        """
        reply = self._request("", {"verdict": guard.VERIFY})
        return guard.parse(reply.get("user_expressions", {}).get("verdict"))

    def _prepare(self, code: str, what: str, fix: str) -> None:
        """Run set-up ``code`` before any student cell; its failure is the grading environment's.

        Nothing of the student's has run yet, so an error here (the course package missing
        from the kernels' environment, ``no_network`` without root) would otherwise fail every
        test of every student with a message blaming them: stop grading this notebook instead.
        """
        if not code:
            return
        reply = self._request(code)
        if reply.get("status") == "ok":
            return
        error = f"{reply['ename']}: {reply['evalue']}" if "ename" in reply else "no reply"
        raise GradingEnvironmentError(
            f"the grading kernel could not {what} ({error}) before any student "
            f"code ran, so nobody was graded: {fix}, then grade again"
        )

    def _request(self, code: str, expressions: dict[str, str] | None = None) -> dict:
        """Run ``code`` in the kernel outside the notebook (no history, no outputs kept); the reply's content.

        The kernel dying meanwhile raises DeadKernelError, as for a cell.
        """
        msg_id = self.kc.execute(
            code, silent=True, store_history=False, user_expressions=expressions or {}, allow_stdin=False
        )
        reply = self.wait_for_reply(msg_id)
        return reply["content"] if reply else {}
